//! Pane 2: the download queue, and the selected download in detail.

use super::table_rows;
use super::widgets::{
    dim, header, human_eta, human_rate, human_size, selected, state_style, text_bar,
};
use crate::app::{App, Pane};
use crate::lists::progress;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, LineGauge, Paragraph, Row, Table, TableState};
use ratatui::Frame;
use swarmux_api::{DownloadState, DownloadView};

/// Draws the pane.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let (list_area, detail_area) = split(app, area);
    render_list(app, frame, list_area);
    if let (Some(area), Some(d)) = (detail_area, app.selected_download()) {
        render_detail(d, frame, area);
    }
}

/// How many download rows fit in `area`.
pub fn list_rows(app: &App, area: Rect) -> u16 {
    table_rows(split(app, area).0)
}

/// The list, and below it the detail box when there is room and a selection.
fn split(app: &App, area: Rect) -> (Rect, Option<Rect>) {
    if area.height < 16 || app.selected_download().is_none() {
        return (area, None);
    }
    let detail = (area.height * 2 / 5).clamp(8, 14);
    let [list, detail] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(detail)]).areas(area);
    (list, Some(detail))
}

fn render_list(app: &App, frame: &mut Frame, area: Rect) {
    let filter = app.ui.filters[Pane::Downloads.index()].as_str();
    let mut footer = format!(" sort: {} ", app.ui.download_sort.label());
    if !filter.is_empty() {
        footer = format!(" filter: {filter} ·{footer}");
    }
    let block = Block::bordered()
        .title(format!(" Downloads ({}) ", app.snapshot.downloads.len()))
        .title_bottom(Line::from(footer).right_aligned());
    let rows = app.download_rows();
    if rows.is_empty() {
        let text = if app.snapshot.downloads.is_empty() {
            "No downloads yet: search with /, then Enter on a result."
        } else {
            "No downloads match the filter (Esc clears it)."
        };
        let text = vec![Line::from(""), Line::styled(text, dim()).centered()];
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let wide = area.width >= 100;
    let bar = if wide { 10 } else { 5 };
    let mut widths = vec![
        Constraint::Length(bar + if wide { 7 } else { 5 }),
        Constraint::Fill(1),
        Constraint::Length(9),
        Constraint::Length(10),
        Constraint::Length(6),
        Constraint::Length(if wide { 7 } else { 5 }),
    ];
    let mut head = vec!["progress", "name", "size", "rate", "eta", "src"];
    if wide {
        widths.push(Constraint::Length(6));
        head.push("prio");
    }
    widths.push(Constraint::Length(11));
    head.push("state");
    let lines = rows.iter().map(|d| {
        let p = progress(d);
        // Rounded down, so only a finished download shows 100%.
        let percent = if wide {
            format!("{:>5.1}%", (p * 1000.0).floor() / 10.0)
        } else {
            format!("{:>3.0}%", (p * 100.0).floor())
        };
        let style = state_style(&d.state);
        let eta = match (&d.state, d.eta_secs) {
            (DownloadState::Complete, _) => "done".to_string(),
            (_, Some(secs)) => human_eta(secs),
            _ => "-".to_string(),
        };
        let mut cells = vec![
            Line::from(vec![
                Span::styled(text_bar(p, usize::from(bar)), style),
                Span::raw(format!(" {percent}")),
            ]),
            Line::from(d.name.clone()),
            Line::from(human_size(d.size)),
            Line::from(human_rate(d.rate)),
            Line::from(eta),
            Line::from(format!("{}/{}", d.active_sources, d.sources)),
        ];
        if wide {
            cells.push(Line::from(d.priority.name()));
        }
        cells.push(Line::styled(d.state.label().to_string(), style));
        Row::new(cells)
    });
    let table = Table::new(lines, widths)
        .header(Row::new(head).style(header()))
        .row_highlight_style(selected())
        .block(block);
    let mut state = TableState::new()
        .with_offset(app.ui.downloads.offset)
        .with_selected(app.ui.downloads.index);
    frame.render_stateful_widget(table, area, &mut state);
}

fn render_detail(d: &DownloadView, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(format!(" {} ", d.name));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [info_area, gauge_area, peers_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);

    let style = state_style(&d.state);
    let mut state = vec![Span::styled(d.state.label().to_string(), style)];
    if let DownloadState::Error(reason) = &d.state {
        state.push(Span::styled(format!(": {reason}"), style));
    }
    state.push(Span::raw(format!(
        " · {} priority · {} · {} · received {} this run",
        d.priority.name(),
        d.network,
        human_size(d.size),
        human_size(d.received)
    )));
    let second = if !d.note.is_empty() {
        Line::styled(format!("why: {}", d.note), Style::new().fg(Color::Yellow))
    } else if let Some(path) = &d.path {
        Line::from(format!("saved to {path}"))
    } else {
        Line::styled(d.hash.clone(), dim())
    };
    frame.render_widget(Paragraph::new(vec![Line::from(state), second]), info_area);

    let (ratio, label) = if d.parts_total > 0 {
        (
            d.parts_verified as f64 / d.parts_total as f64,
            format!("verified parts {}/{}", d.parts_verified, d.parts_total),
        )
    } else {
        (
            0.0,
            "verified parts ?/? (part count not known yet)".to_string(),
        )
    };
    let gauge = LineGauge::default()
        .ratio(ratio.clamp(0.0, 1.0))
        .label(label)
        .filled_style(Style::new().fg(Color::Green).add_modifier(Modifier::BOLD));
    frame.render_widget(gauge, gauge_area);

    if d.peers.is_empty() {
        let text = Line::styled("no peers connected", dim());
        frame.render_widget(Paragraph::new(text), peers_area);
        return;
    }
    let rows = d.peers.iter().map(|p| {
        Row::new(vec![
            p.addr.clone(),
            p.client.clone(),
            p.state.clone(),
            human_size(p.received),
            human_rate(p.rate),
        ])
    });
    let widths = [
        Constraint::Length(21),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Length(9),
        Constraint::Length(10),
    ];
    let table = Table::new(rows, widths)
        .header(Row::new(["peer", "client", "state", "received", "rate"]).style(header()));
    frame.render_widget(table, peers_area);
}
