//! The frame around the panes: tab bar, message/prompt line, status bar.

use super::widgets::{dim, human_rate, tail};
use crate::action::Action;
use crate::app::{App, Mode, Pane};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Tabs};
use ratatui::Frame;
use swarmux_api::DownloadState;

/// The pane tabs, with counts where they help.
pub fn render_tabs(app: &App, frame: &mut Frame, area: Rect) {
    let titles = Pane::ALL.iter().map(|&pane| {
        let count = match pane {
            Pane::Downloads => app.snapshot.downloads.len(),
            Pane::Shares => app.snapshot.uploads.len(),
            _ => 0,
        };
        let title = if count > 0 {
            format!("{} {} ({count})", pane.index() + 1, pane.title())
        } else {
            format!("{} {}", pane.index() + 1, pane.title())
        };
        Line::from(title)
    });
    let tabs = Tabs::new(titles)
        .select(app.ui.pane.index())
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD))
        .divider("│");
    frame.render_widget(tabs, area);
}

/// The search or filter input, a y/n question, the last message, or a hint.
pub fn render_message(app: &App, frame: &mut Frame, area: Rect) {
    let message = app.ui.message.as_ref().map(|m| {
        let style = if m.error {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        Span::styled(m.text.clone(), style)
    });
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let (line, cursor) = match &app.ui.mode {
        Mode::SearchInput(text) => (prompt("/", text, message), Some(1 + text.chars().count())),
        Mode::FilterInput => {
            let text = app.ui.filter();
            (
                prompt("filter: ", text, None),
                Some(8 + text.chars().count()),
            )
        }
        Mode::Confirm(question) => (
            Line::from(Span::styled(
                question.prompt(),
                bold.fg(Color::Yellow).add_modifier(Modifier::REVERSED),
            )),
            None,
        ),
        _ => match message {
            Some(span) => (Line::from(span), None),
            None => {
                let k = |a| app.keymap.keys_label(a);
                let hint = format!(
                    "{} keys  {} search  {} filter  {} detach  {} stop engine",
                    k(Action::Help),
                    k(Action::Search),
                    k(Action::Filter),
                    k(Action::Detach),
                    k(Action::StopEngine),
                );
                (Line::styled(hint, dim()), None)
            }
        },
    };
    frame.render_widget(Paragraph::new(line), area);
    if let Some(x) = cursor {
        let x = u16::try_from(x).unwrap_or(u16::MAX);
        let x = area.x + x.min(area.width.saturating_sub(1));
        frame.set_cursor_position((x, area.y));
    }
}

fn prompt<'a>(label: &'a str, text: &str, error: Option<Span<'a>>) -> Line<'a> {
    let mut spans = vec![
        Span::styled(label, Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(text.to_string()),
    ];
    if let Some(error) = error {
        spans.push(Span::raw("   "));
        spans.push(error);
    }
    Line::from(spans)
}

/// Rates and limits, servers, active downloads, and which daemon this is.
pub fn render_status(app: &App, frame: &mut Frame, area: Rect) {
    let bar = Style::new().add_modifier(Modifier::REVERSED);
    if app.seq.is_none() {
        let line = Line::styled(" waiting for the daemon's first snapshot…", bar);
        frame.render_widget(Paragraph::new(line).style(bar), area);
        return;
    }
    let t = &app.snapshot.totals;
    let rate = |r: u64| {
        let s = human_rate(r);
        if s.is_empty() {
            "0 B/s".to_string()
        } else {
            s
        }
    };
    // Narrow terminals get shorter labels so the daemon's data dir still fits.
    let wide = area.width >= 100;
    let limit = |l: u64| match (l, wide) {
        (0, _) => String::new(),
        (_, true) => format!(" (max {})", rate(l)),
        (_, false) => format!(" max {}", rate(l)),
    };
    let active = app
        .snapshot
        .downloads
        .iter()
        .filter(|d| d.state == DownloadState::Downloading)
        .count();
    let active = if t.max_active_downloads > 0 {
        format!("{active}/{}", t.max_active_downloads)
    } else {
        active.to_string()
    };
    let (arrow_gap, gap, servers, downloading) = if wide {
        (" ", "  ", "servers", "active")
    } else {
        ("", " ", "srv", "act")
    };
    let left = format!(
        " ↓{arrow_gap}{}{}{gap}↑{arrow_gap}{}{}{gap}{servers} {}{gap}{downloading} {} ",
        rate(t.down_rate),
        limit(t.down_limit),
        rate(t.up_rate),
        limit(t.up_limit),
        t.connected_servers,
        active
    );
    let daemon = &app.snapshot.daemon;
    let pid = format!("│ pid {} ", daemon.pid);
    let room = usize::from(area.width).saturating_sub(left.chars().count() + pid.chars().count());
    // A few characters of a path tell nothing; show it only when most of it fits.
    let dir = if room >= 12.min(daemon.data_dir.chars().count()) {
        tail(&daemon.data_dir, room)
    } else {
        String::new()
    };
    let line = Line::from(vec![Span::raw(left), Span::raw(pid), Span::raw(dir)]);
    frame.render_widget(Paragraph::new(line).style(bar), area);
}
