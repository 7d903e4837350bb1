//! Pane 3: shared folders, hashing progress, shared files and running uploads.

use super::table_rows;
use super::widgets::{dim, file_name, header, human_rate, human_size, selected};
use crate::app::{App, Pane};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};
use ratatui::Frame;

/// Draws the pane.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let [dirs_area, files_area, uploads_area] = split(app, area);
    render_dirs(app, frame, dirs_area);
    render_files(app, frame, files_area);
    render_uploads(app, frame, uploads_area);
}

/// How many shared-file rows fit in `area`.
pub fn list_rows(app: &App, area: Rect) -> u16 {
    table_rows(split(app, area)[1])
}

/// Folders on top, files in the middle, uploads below.
fn split(app: &App, area: Rect) -> [Rect; 3] {
    let dirs = (app.snapshot.shares.dirs.len().max(1) + 3).min(6) as u16;
    let uploads = (app.snapshot.uploads.len() + 3).clamp(4, 10) as u16;
    Layout::vertical([
        Constraint::Length(dirs),
        Constraint::Min(4),
        Constraint::Length(uploads),
    ])
    .areas(area)
}

fn render_dirs(app: &App, frame: &mut Frame, area: Rect) {
    let shares = &app.snapshot.shares;
    let mut lines: Vec<Line> = shares.dirs.iter().map(|d| Line::from(d.as_str())).collect();
    if lines.is_empty() {
        lines.push(Line::styled(
            "nothing shared yet (swarmux share add DIR)",
            dim(),
        ));
    }
    lines.insert(
        0,
        match &shares.hashing {
            Some(h) => Line::styled(
                format!(
                    "hashing: {} files, {} left · {}",
                    h.files_left,
                    human_size(h.bytes_left),
                    h.current
                ),
                Style::new().fg(Color::Yellow),
            ),
            None => Line::styled("all shared files are hashed", dim()),
        },
    );
    let block = Block::bordered().title(format!(" Shared folders ({}) ", shares.dirs.len()));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn render_files(app: &App, frame: &mut Frame, area: Rect) {
    let files = app.shared_files();
    let filter = app.ui.filters[Pane::Shares.index()].as_str();
    let mut block = Block::bordered().title(format!(
        " Shared files ({}) ",
        app.snapshot.shares.files.len()
    ));
    if !filter.is_empty() {
        block = block.title_bottom(Line::from(format!(" filter: {filter} ")).right_aligned());
    }
    if files.is_empty() {
        let text = if filter.is_empty() {
            "no shared files"
        } else {
            "no files match the filter (Esc clears it)"
        };
        frame.render_widget(Paragraph::new(Line::styled(text, dim())).block(block), area);
        return;
    }
    let wide = area.width >= 100;
    let rows = files.iter().map(|f| {
        let mut cells = vec![file_name(&f.path).to_string(), human_size(f.size)];
        if wide {
            cells.push(f.path.clone());
        }
        Row::new(cells)
    });
    let mut widths = vec![Constraint::Fill(1), Constraint::Length(9)];
    let mut head = vec!["name", "size"];
    if wide {
        widths.push(Constraint::Fill(1));
        head.push("path");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(header()))
        .row_highlight_style(selected())
        .block(block);
    let mut state = TableState::new()
        .with_offset(app.ui.shares.offset)
        .with_selected(app.ui.shares.index);
    frame.render_stateful_widget(table, area, &mut state);
}

fn render_uploads(app: &App, frame: &mut Frame, area: Rect) {
    let uploads = &app.snapshot.uploads;
    let block = Block::bordered().title(format!(" Uploads ({}) ", uploads.len()));
    if uploads.is_empty() {
        let text = Line::styled("nobody is downloading from us", dim());
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let wide = area.width >= 100;
    let rows = uploads.iter().map(|u| {
        let mut cells = vec![
            u.info.peer.clone(),
            u.info.client.clone(),
            u.info.file.clone(),
            human_size(u.info.sent),
            human_rate(u.info.rate),
        ];
        if wide {
            cells.insert(0, u.network.clone());
        }
        Row::new(cells)
    });
    let mut widths = vec![
        Constraint::Length(21),
        Constraint::Length(14),
        Constraint::Fill(1),
        Constraint::Length(9),
        Constraint::Length(10),
    ];
    let mut head = vec!["peer", "client", "file", "sent", "rate"];
    if wide {
        widths.insert(0, Constraint::Length(8));
        head.insert(0, "network");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(header()))
        .block(block);
    frame.render_widget(table, area);
}
