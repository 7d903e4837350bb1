//! Rendering: a pure function of [`App`] onto a frame.

mod chrome;
mod downloads;
mod help;
mod log;
mod networks;
mod search;
mod shares;
pub mod widgets;

use crate::app::{App, Mode, Pane};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::Frame;

/// Draws the whole screen.
pub fn render(app: &App, frame: &mut Frame) {
    let [tabs, body, message, status] = screen(frame.area());
    chrome::render_tabs(app, frame, tabs);
    match app.ui.pane {
        Pane::Search => search::render(app, frame, body),
        Pane::Downloads => downloads::render(app, frame, body),
        Pane::Shares => shares::render(app, frame, body),
        Pane::Networks => networks::render(app, frame, body),
        Pane::Log => log::render(app, frame, body),
    }
    chrome::render_message(app, frame, message);
    chrome::render_status(app, frame, status);
    if app.ui.mode == Mode::Help {
        help::render(app, frame, body);
    }
}

/// How many rows of `pane`'s list fit at the current terminal size (for
/// paging and keeping the selection in view).
pub fn list_rows(app: &App, pane: Pane) -> usize {
    let (cols, rows) = app.ui.size;
    let [_, body, _, _] = screen(Rect::new(0, 0, cols, rows));
    let rows = match pane {
        Pane::Search => search::list_rows(body),
        Pane::Downloads => downloads::list_rows(app, body),
        Pane::Shares => shares::list_rows(app, body),
        Pane::Networks => networks::list_rows(app, body),
        Pane::Log => log::list_rows(body),
    };
    usize::from(rows).max(1)
}

/// How many file rows of the selected download fit in its detail box; 0
/// when the box is not shown (for paging and keeping the file cursor in view).
pub fn file_rows(app: &App) -> usize {
    let (cols, rows) = app.ui.size;
    let [_, body, _, _] = screen(Rect::new(0, 0, cols, rows));
    usize::from(downloads::file_rows(app, body))
}

/// Tab bar, pane, message line, status bar.
fn screen(area: Rect) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// The rows of a bordered table with a header line inside `area`.
fn table_rows(area: Rect) -> u16 {
    area.height.saturating_sub(3)
}
