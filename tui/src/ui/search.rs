//! Pane 1: the latest search and its results as they stream in.

use super::table_rows;
use super::widgets::{dim, header, human_size, selected};
use crate::action::Action;
use crate::app::{App, Pane};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};
use ratatui::Frame;

/// Draws the pane.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let Some(search) = app.latest_search() else {
        let text = vec![
            Line::from(""),
            Line::from(format!(
                "Press {} to search",
                app.keymap.keys_label(Action::Search)
            ))
            .centered(),
            Line::styled(
                "filters: size>100M size<2G type:video ext:mkv net:ed2k",
                dim(),
            )
            .centered(),
        ];
        frame.render_widget(
            Paragraph::new(text).block(Block::bordered().title(" Search ")),
            area,
        );
        return;
    };
    let rows = app.search_rows();
    let filter = app.ui.filters[Pane::Search.index()].as_str();
    let mut footer = format!(" sort: {} ", app.ui.search_sort.label());
    if !filter.is_empty() {
        footer = format!(" filter: {filter} ·{footer}");
    }
    let block = Block::bordered()
        .title(format!(" Search: {} ", search.text))
        .title_bottom(Line::from(footer).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [status_area, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);

    let mut status = vec![Span::raw(format!("{} results", search.rows.len()))];
    if rows.len() != search.rows.len() {
        status.push(Span::raw(format!(", {} shown", rows.len())));
    }
    if search.pending.is_empty() {
        status.push(Span::styled(" · all networks answered", dim()));
    } else {
        status.push(Span::styled(
            format!(" · waiting for {}", search.pending.join(", ")),
            Style::new().fg(Color::Yellow),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(status)), status_area);

    if rows.is_empty() {
        let text = if search.rows.is_empty() {
            if search.pending.is_empty() {
                "no results"
            } else {
                "waiting for results…"
            }
        } else {
            "no results match the filter (Esc clears it)"
        };
        frame.render_widget(
            Paragraph::new(Line::styled(text, dim()).centered()),
            table_area,
        );
        return;
    }

    let wide = inner.width >= 100;
    let medium = inner.width >= 64;
    let mut widths = vec![Constraint::Fill(1), Constraint::Length(9)];
    let mut head = vec!["name", "size"];
    if medium {
        widths.push(Constraint::Length(8));
        head.push("type");
    }
    if wide {
        widths.push(Constraint::Length(18));
        head.push("sources (complete)");
    } else {
        widths.push(Constraint::Length(10));
        head.push("sources");
    }
    if wide {
        widths.push(Constraint::Length(16));
        head.push("networks");
    }
    let lines = rows.iter().map(|r| {
        let mut cells = vec![r.name.clone(), human_size(r.size)];
        if medium {
            cells.push(r.kind.name().to_string());
        }
        cells.push(format!("{} ({})", r.sources, r.complete_sources));
        if wide {
            cells.push(r.networks.join(","));
        }
        Row::new(cells)
    });
    let table = Table::new(lines, widths)
        .header(Row::new(head).style(header()))
        .row_highlight_style(selected());
    let mut state = TableState::new()
        .with_offset(app.ui.search.offset)
        .with_selected(app.ui.search.index);
    frame.render_stateful_widget(table, table_area, &mut state);
}

/// How many result rows fit in `area`.
pub fn list_rows(area: Rect) -> u16 {
    // The status line above the table.
    table_rows(area).saturating_sub(1)
}
