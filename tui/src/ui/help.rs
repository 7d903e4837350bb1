//! The `?` overlay: the keys of the current pane, as the key map binds them.

use crate::action::Action;
use crate::app::{App, Pane};
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

/// Draws the overlay over `area` (the pane).
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let pane = app.ui.pane;
    let entries = entries(app, pane);
    let key_width = entries
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let lines: Vec<Line> = entries
        .into_iter()
        .map(|(keys, what)| {
            Line::from(vec![
                Span::styled(
                    format!(" {keys:>key_width$}  "),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(what),
            ])
        })
        .collect();
    let height = (lines.len() as u16 + 2).min(area.height);
    let width = 76.min(area.width);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(popup);
    let block = Block::bordered().title(format!(" Keys: {} (any key closes) ", pane.title()));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

/// (keys, what they do) for `pane`.
fn entries(app: &App, pane: Pane) -> Vec<(String, &'static str)> {
    let k = |a| app.keymap.keys_label(a);
    let pair = |a, b| format!("{} / {}", k(a), k(b));
    let log = pane == Pane::Log;
    let mut out = vec![
        (
            pair(Action::Up, Action::Down),
            if log {
                "scroll up / down"
            } else {
                "move up / down"
            },
        ),
        (
            pair(Action::Top, Action::Bottom),
            if log {
                "oldest / newest (follows the tail)"
            } else {
                "top / bottom"
            },
        ),
        (pair(Action::PageUp, Action::PageDown), "page up / down"),
    ];
    match pane {
        Pane::Search => {
            out.push((k(Action::Activate), "download the selected result"));
            out.push((k(Action::Sort), "sort by sources / size / name"));
        }
        Pane::Downloads => {
            out.push((k(Action::PauseResume), "pause or resume"));
            out.push((
                pair(Action::PriorityUp, Action::PriorityDown),
                "raise / lower priority (of the file in the file list)",
            ));
            out.push((k(Action::Cancel), "cancel the download (asks y/n)"));
            out.push((k(Action::Sort), "sort by queue / name / progress / rate"));
            out.push((
                k(Action::Activate),
                "open / close the file list of a torrent",
            ));
            out.push((
                k(Action::FilePriority),
                "in the file list: file priority skip → normal → high",
            ));
        }
        _ => {}
    }
    let panes: Vec<String> = Pane::ALL
        .iter()
        .filter_map(|&p| k(Action::ShowPane(p)).split(' ').next().map(str::to_string))
        .collect();
    out.extend([
        (
            k(Action::Filter),
            "filter this list as you type (Enter keeps, Esc clears)",
        ),
        (k(Action::Clear), "clear the filter and the message"),
        (
            k(Action::Search),
            "search; add size>100M size<2G type:video ext:mkv",
        ),
        (
            pair(Action::NextPane, Action::PrevPane),
            "next / previous pane",
        ),
        (panes.join(" "), "Search, Downloads, Shares, Networks, Log"),
        (k(Action::Help), "show these keys"),
        (
            format!("{} Ctrl-C", k(Action::Detach)),
            "detach: the engine keeps running",
        ),
        (k(Action::StopEngine), "stop the engine and quit (asks y/n)"),
    ]);
    out
}
