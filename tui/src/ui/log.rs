//! Pane 5: the engine's log, newest at the bottom, following the tail.

use super::widgets::{clock, dim};
use crate::app::{App, Pane};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;
use swarmux_net::message::LogLevel;

/// Draws the pane.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let lines = app.log_lines();
    let height = usize::from(list_rows(area));
    let back = app.ui.log_back.min(lines.len().saturating_sub(height));
    let end = lines.len() - back;
    let start = end.saturating_sub(height);
    let title = if back == 0 {
        " Log · following ".to_string()
    } else {
        format!(" Log · {back} lines up (G follows) ")
    };
    let mut block = Block::bordered().title(title);
    let filter = app.ui.filters[Pane::Log.index()].as_str();
    if !filter.is_empty() {
        block = block.title_bottom(Line::from(format!(" filter: {filter} ")).right_aligned());
    }
    let text: Vec<Line> = lines[start..end]
        .iter()
        .map(|l| {
            let (label, style) = match l.level {
                LogLevel::Info => ("INFO ", Style::new().fg(Color::Green)),
                LogLevel::Warn => ("WARN ", Style::new().fg(Color::Yellow)),
                LogLevel::Error => (
                    "ERROR",
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                ),
            };
            let message_style = if l.level == LogLevel::Error {
                style
            } else {
                Style::new()
            };
            Line::from(vec![
                Span::styled(clock(l.time), dim()),
                Span::raw(" "),
                Span::styled(label, style),
                Span::raw(" "),
                Span::styled(format!("{:<6} ", l.source), dim()),
                Span::styled(l.message.clone(), message_style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(text).block(block), area);
}

/// How many log lines fit in `area`.
pub fn list_rows(area: Rect) -> u16 {
    area.height.saturating_sub(2)
}
