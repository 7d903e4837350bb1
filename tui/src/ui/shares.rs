//! Pane 3: shared folders, hashing progress, shared files, seeded torrents
//! and running uploads.

use super::table_rows;
use super::widgets::{dim, file_name, header, human_rate, human_size, selected};
use crate::app::{App, Pane};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};
use ratatui::Frame;
use swarmux_net::SeedInfo;

/// Draws the pane.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let [dirs_area, files_area, seeding_area, uploads_area] = split(app, area);
    render_dirs(app, frame, dirs_area);
    render_files(app, frame, files_area);
    if !app.snapshot.seeding.is_empty() {
        render_seeding(app, frame, seeding_area);
    }
    render_uploads(app, frame, uploads_area);
}

/// How many shared-file rows fit in `area`.
pub fn list_rows(app: &App, area: Rect) -> u16 {
    table_rows(split(app, area)[1])
}

/// Folders on top, files in the middle, then the seeded torrents (only when
/// there are some), uploads below.
fn split(app: &App, area: Rect) -> [Rect; 4] {
    let dirs = (app.snapshot.shares.dirs.len().max(1) + 3).min(6) as u16;
    let seeding = match app.snapshot.seeding.len() {
        0 => 0,
        n => (n + 3).min(8) as u16,
    };
    let uploads = (app.snapshot.uploads.len() + 3).clamp(4, 10) as u16;
    Layout::vertical([
        Constraint::Length(dirs),
        Constraint::Min(4),
        Constraint::Length(seeding),
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
        app.snapshot.shares.file_count
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

/// `uploaded / max(downloaded, size)` with two decimals; `-` when both are 0.
fn ratio(seed: &SeedInfo) -> String {
    match seed.downloaded.max(seed.size) {
        0 => "-".to_string(),
        base => format!("{:.2}", seed.uploaded as f64 / base as f64),
    }
}

fn render_seeding(app: &App, frame: &mut Frame, area: Rect) {
    let seeding = &app.snapshot.seeding;
    let block = Block::bordered().title(format!(" Seeding ({}) ", seeding.len()));
    let wide = area.width >= 100;
    let rows = seeding.iter().map(|s| {
        let mut cells = vec![
            s.info.name.clone(),
            s.info.peers.to_string(),
            human_rate(s.info.rate),
            human_size(s.info.uploaded),
            ratio(&s.info),
            s.info.note.clone(),
        ];
        if wide {
            cells.insert(0, s.network.clone());
        }
        Row::new(cells)
    });
    let mut widths = vec![
        Constraint::Fill(3),
        Constraint::Length(5),
        Constraint::Length(10),
        Constraint::Length(9),
        Constraint::Length(6),
        Constraint::Fill(2),
    ];
    let mut head = vec!["name", "peers", "up", "uploaded", "ratio", "note"];
    if wide {
        widths.insert(0, Constraint::Length(10));
        head.insert(0, "network");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(header()))
        .block(block);
    frame.render_widget(table, area);
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
        widths.insert(0, Constraint::Length(10));
        head.insert(0, "network");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(header()))
        .block(block);
    frame.render_widget(table, area);
}
