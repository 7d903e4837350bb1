//! Pane 2: the download queue, and the selected download in detail.

use super::table_rows;
use super::widgets::{
    dim, header, human_eta, human_rate, human_size, selected, state_style, tail, text_bar,
};
use crate::action::Action;
use crate::app::{App, Pane};
use crate::file_priority;
use crate::lists::progress;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, LineGauge, Paragraph, Row, Table, TableState};
use ratatui::Frame;
use swarmux_api::{DownloadState, DownloadView};
use swarmux_net::{FileInfo, FilePriority};

/// Draws the pane.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let (list_area, detail_area) = split(app, area);
    render_list(app, frame, list_area);
    if let (Some(area), Some(d)) = (detail_area, app.selected_download()) {
        render_detail(app, d, frame, area);
    }
}

/// How many download rows fit in `area`.
pub fn list_rows(app: &App, area: Rect) -> u16 {
    table_rows(split(app, area).0)
}

/// How many file rows of the selected download fit in its detail box within `area`.
pub fn file_rows(app: &App, area: Rect) -> u16 {
    match (split(app, area).1, app.selected_download()) {
        (Some(detail), Some(d)) => {
            let [_, _, lists] = detail_areas(detail);
            peers_and_files(d, lists).1.height.saturating_sub(1)
        }
        _ => 0,
    }
}

/// The list, and below it the detail box when there is room and a selection;
/// the box is taller for a multi-file download, to list its files.
fn split(app: &App, area: Rect) -> (Rect, Option<Rect>) {
    let Some(d) = app.selected_download().filter(|_| area.height >= 16) else {
        return (area, None);
    };
    let detail = if d.file_count == 0 {
        (area.height * 2 / 5).clamp(8, 14)
    } else {
        (area.height / 2).clamp(8, 18)
    };
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
            Line::from(size_or_unknown(d)),
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

/// Info lines, parts gauge, and the room for peers and files inside the box at `area`.
fn detail_areas(area: Rect) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(Block::bordered().inner(area))
}

/// Splits `area` between the peers and, right under them, the files: the
/// files get at least half of it, more when the peers need less.
fn peers_and_files(d: &DownloadView, area: Rect) -> (Rect, Rect) {
    if d.file_count == 0 {
        return (area, Rect { height: 0, ..area });
    }
    let rows = |n: usize| u16::try_from(n).unwrap_or(u16::MAX).saturating_add(1);
    let peers_wanted = rows(d.peers.len());
    let files = rows(d.file_count).min(
        area.height
            .saturating_sub(peers_wanted)
            .max(area.height.div_ceil(2)),
    );
    let peers = peers_wanted.min(area.height.saturating_sub(files));
    let [peers, files, _] = Layout::vertical([
        Constraint::Length(peers),
        Constraint::Length(files),
        Constraint::Min(0),
    ])
    .areas(area);
    (peers, files)
}

/// The first key bound to `action`, for hints.
fn first_key(app: &App, action: Action) -> String {
    let keys = app.keymap.keys_label(action);
    keys.split(' ').next().unwrap_or_default().to_string()
}

/// The hint at the bottom of the box of a multi-file download.
fn files_hint(app: &App, focused: bool) -> String {
    let k = |a| first_key(app, a);
    if focused {
        format!(
            " {}/{} file · {}/{}/{} priority · {} back ",
            k(Action::Up),
            k(Action::Down),
            k(Action::FilePriority),
            k(Action::PriorityUp),
            k(Action::PriorityDown),
            k(Action::Clear)
        )
    } else {
        format!(" {}: files ", k(Action::Activate))
    }
}

fn render_detail(app: &App, d: &DownloadView, frame: &mut Frame, area: Rect) {
    let focus = app.ui.files.filter(|f| f.download == d.id);
    let mut block = Block::bordered().title(format!(" {} ", d.name));
    if d.file_count > 0 {
        block = block.title_bottom(Line::from(files_hint(app, focus.is_some())).right_aligned());
    }
    frame.render_widget(block, area);
    let [info_area, gauge_area, lists_area] = detail_areas(area);
    let (peers_area, files_area) = peers_and_files(d, lists_area);

    let style = state_style(&d.state);
    let mut state = vec![Span::styled(d.state.label().to_string(), style)];
    if let DownloadState::Error(reason) = &d.state {
        state.push(Span::styled(format!(": {reason}"), style));
    }
    state.push(Span::raw(format!(
        " · {} priority · {} · {} · received {} this run",
        d.priority.name(),
        d.network,
        size_or_unknown(d),
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

    render_peers(d, frame, peers_area);
    if files_area.height > 0 {
        let cursor = focus.map(|f| f.cursor);
        let mut state = TableState::new()
            .with_offset(cursor.map_or(0, |c| c.offset))
            .with_selected(cursor.map(|c| c.index));
        frame.render_stateful_widget(
            files_table(app.files_of(d.id), d.file_count, files_area.width),
            files_area,
            &mut state,
        );
    }
}

fn render_peers(d: &DownloadView, frame: &mut Frame, area: Rect) {
    if d.peers.is_empty() || area.height == 1 {
        // One line: not enough for a table header and a row.
        let text = match d.peers.len() {
            0 => Line::styled("no peers connected", dim()),
            n => {
                let addrs: Vec<&str> = d.peers.iter().map(|p| p.addr.as_str()).collect();
                Line::from(format!("{n} peers: {}", addrs.join(", ")))
            }
        };
        frame.render_widget(Paragraph::new(text), area);
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
    frame.render_widget(table, area);
}

/// The files of a multi-file download (priority, size, done, path) for a
/// table `width` wide; `count` files in all (the rows arrive after the count).
fn files_table(files: &[FileInfo], count: usize, width: u16) -> Table<'static> {
    let wide = width >= 100;
    let done_width: u16 = if wide { 17 } else { 6 };
    let widths = [
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(done_width),
        Constraint::Fill(1),
    ];
    // Three one-column gaps between four columns.
    let path_width = usize::from(width.saturating_sub(6 + 9 + done_width + 3));
    let rows = files.iter().map(|f| {
        let ratio = if f.size == 0 {
            1.0
        } else {
            (f.done as f64 / f.size as f64).clamp(0.0, 1.0)
        };
        // Rounded down, so only a finished file shows 100%.
        let percent = format!("{:>5.1}%", (ratio * 1000.0).floor() / 10.0);
        let done = if wide {
            format!("{} {percent}", text_bar(ratio, 10))
        } else {
            percent
        };
        let style = match f.priority {
            FilePriority::Skip => dim(),
            FilePriority::Normal => Style::new(),
            FilePriority::High => Style::new().add_modifier(Modifier::BOLD),
        };
        Row::new(vec![
            file_priority::name(f.priority).to_string(),
            human_size(f.size),
            done,
            tail(&f.path, path_width),
        ])
        .style(style)
    });
    let skipped = files
        .iter()
        .filter(|f| f.priority == FilePriority::Skip)
        .count();
    let title = match skipped {
        _ if files.is_empty() => format!("files ({count}) …"),
        0 => format!("files ({count})"),
        n => format!("files ({count}, {n} skipped)"),
    };
    Table::new(rows, widths)
        .header(
            Row::new(vec![
                "prio".to_string(),
                "size".into(),
                "done".into(),
                title,
            ])
            .style(header()),
        )
        .row_highlight_style(selected())
}

/// The size, or `?` while a magnet's metadata is missing.
fn size_or_unknown(d: &DownloadView) -> String {
    if d.size_known() {
        human_size(d.size)
    } else {
        "?".into()
    }
}
