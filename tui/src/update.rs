//! The pure update: an event and the state in, the new state and effects out.
//! No I/O happens here; the event loop performs the effects.

use crate::action::Action;
use crate::app::{App, Confirm, Cursor, FileFocus, Mode, Pane, Pending};
use crate::fetch;
use crate::file_priority;
use crate::lists::Filter;
use crate::search_query::parse_search;
use crate::ui;
use crate::TuiExit;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use swarmux_api::{DownloadState, LogLine, Request, Response, Snapshot};

/// Something that happened.
#[derive(Clone, Debug)]
pub enum Event {
    Key(KeyEvent),
    /// The terminal's new size (columns, rows).
    Resize(u16, u16),
    /// A line from the daemon: a pushed snapshot or the answer to a request.
    Daemon(Response),
    /// About once a second.
    Tick,
}

/// What the event loop must do after an update.
#[derive(Debug, Default, PartialEq)]
pub struct Effects {
    /// Requests to send, in order.
    pub requests: Vec<Request>,
    pub exit: Option<TuiExit>,
    /// Whether the screen changed.
    pub redraw: bool,
}

impl Effects {
    /// Adds the effects of a later update.
    pub fn merge(&mut self, later: Effects) {
        self.requests.extend(later.requests);
        self.exit = self.exit.or(later.exit);
        self.redraw |= later.redraw;
    }
}

/// Applies `event` to `app`.
pub fn update(app: &mut App, event: Event) -> Effects {
    let mut fx = Effects::default();
    match event {
        Event::Key(key) => {
            if key.kind != KeyEventKind::Release {
                let before = app.ui.clone();
                on_key(app, key, &mut fx);
                fx.redraw = app.ui != before;
                fetch::ask(app, &mut fx, false);
            }
        }
        Event::Resize(cols, rows) => {
            app.ui.size = (cols, rows);
            sync_lists(app);
            fx.redraw = true;
            fetch::ask(app, &mut fx, false);
        }
        Event::Daemon(Response::Snapshot(snapshot)) => {
            if app.seq != Some(snapshot.seq) {
                apply_snapshot(app, *snapshot);
                fx.redraw = true;
                fetch::ask(app, &mut fx, false);
            }
        }
        Event::Daemon(answer) if app.pending.front() == Some(&Pending::Fetch) => {
            app.pending.pop_front();
            if fetch::answered(app, answer) {
                sync_lists(app);
                fx.redraw = true;
            }
        }
        Event::Daemon(answer) => {
            let before = app.ui.message.clone();
            on_answer(app, answer);
            fx.redraw = app.ui.message != before;
        }
        Event::Tick => {
            fetch::ask(app, &mut fx, true);
            if let Some(message) = &mut app.ui.message {
                message.ticks_left = message.ticks_left.saturating_sub(1);
                if message.ticks_left == 0 {
                    app.ui.message = None;
                    fx.redraw = true;
                }
            }
        }
    }
    fx
}

fn on_key(app: &mut App, key: KeyEvent, fx: &mut Effects) {
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        fx.exit = Some(TuiExit::Detach);
        return;
    }
    match std::mem::take(&mut app.ui.mode) {
        Mode::Normal => {
            if let Some(action) = app.keymap.action(&key) {
                apply(app, action, fx);
            }
        }
        Mode::Help => {}
        Mode::Confirm(question) => {
            if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                confirmed(app, question, fx);
            }
        }
        Mode::SearchInput(mut text) => match key.code {
            KeyCode::Esc => {}
            KeyCode::Enter => match parse_search(&text) {
                Ok(params) => {
                    app.pending.push_back(Pending::Search(params.text.clone()));
                    app.info(format!("searching for '{}'…", params.text));
                    fx.requests.push(Request::Search(params));
                    app.ui.pane = Pane::Search;
                }
                Err(e) => {
                    app.error(e);
                    app.ui.mode = Mode::SearchInput(text);
                }
            },
            _ => {
                if edit(&mut text, &key) {
                    app.ui.message = None;
                }
                app.ui.mode = Mode::SearchInput(text);
            }
        },
        Mode::FilterInput => {
            let pane = app.ui.pane;
            match key.code {
                KeyCode::Enter => {}
                KeyCode::Esc => app.ui.filters[pane.index()].clear(),
                _ => {
                    edit(&mut app.ui.filters[pane.index()], &key);
                    app.ui.mode = Mode::FilterInput;
                }
            }
            if pane == Pane::Log {
                app.ui.log_back = 0;
            }
            sync_lists(app);
        }
    }
    if app.ui.pane != Pane::Downloads {
        app.ui.files = None;
    }
}

/// Line editing for the input modes; returns whether the text changed.
fn edit(text: &mut String, key: &KeyEvent) -> bool {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('u') if ctrl => text.clear(),
        KeyCode::Char('w') if ctrl => {
            let kept = text.trim_end().rfind(' ').map_or(0, |i| i + 1);
            text.truncate(kept);
        }
        KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => text.push(c),
        KeyCode::Backspace => {
            text.pop();
        }
        _ => return false,
    }
    true
}

fn apply(app: &mut App, action: Action, fx: &mut Effects) {
    if app.ui.files.is_some() && file_action(app, action, fx) {
        return;
    }
    let pane = app.ui.pane;
    let page = ui::list_rows(app, pane);
    match action {
        Action::Detach => fx.exit = Some(TuiExit::Detach),
        Action::StopEngine => app.ui.mode = Mode::Confirm(Confirm::StopEngine),
        Action::Help => app.ui.mode = Mode::Help,
        Action::NextPane => app.ui.pane = pane.next(),
        Action::PrevPane => app.ui.pane = pane.prev(),
        Action::ShowPane(p) => app.ui.pane = p,
        Action::Up => step(app, -1),
        Action::Down => step(app, 1),
        Action::PageUp => step(app, -(page as isize)),
        Action::PageDown => step(app, page as isize),
        Action::Top => step(app, isize::MIN),
        Action::Bottom => step(app, isize::MAX),
        Action::Search => app.ui.mode = Mode::SearchInput(String::new()),
        Action::Filter => app.ui.mode = Mode::FilterInput,
        Action::Clear => {
            app.ui.filters[pane.index()].clear();
            app.ui.message = None;
            sync_lists(app);
        }
        Action::Sort => {
            match pane {
                Pane::Search => app.ui.search_sort = app.ui.search_sort.next(),
                Pane::Downloads => app.ui.download_sort = app.ui.download_sort.next(),
                _ => app.info("this list has a fixed order"),
            }
            sync_lists(app);
        }
        Action::Activate => match pane {
            Pane::Search => download_selected_result(app, fx),
            Pane::Downloads => focus_files(app),
            _ => {}
        },
        Action::FilePriority => app.info(format!(
            "{} on a multi-file download in the Downloads pane (2) opens its files first",
            app.keymap.keys_label(Action::Activate)
        )),
        Action::PauseResume | Action::PriorityUp | Action::PriorityDown | Action::Cancel => {
            if pane == Pane::Downloads {
                download_action(app, action, fx);
            } else {
                app.info("that key works in the Downloads pane (2)");
            }
        }
    }
}

/// Moves the selection (or the log's scroll) by `delta` rows, clamped.
fn step(app: &mut App, delta: isize) {
    let pane = app.ui.pane;
    let keys = app.list_keys(pane);
    let page = ui::list_rows(app, pane);
    match app.ui.cursor_mut(pane) {
        Some(cursor) => {
            let index = cursor.index.saturating_add_signed(delta);
            cursor.select(&keys, index, page);
        }
        None => {
            // The log scrolls back from its end: moving up means further back.
            let max_back = keys.len().saturating_sub(page);
            app.ui.log_back = app.ui.log_back.saturating_add_signed(-delta).min(max_back);
        }
    }
    // The download detail box grows for a multi-file download, so the page may have changed.
    sync_lists(app);
}

/// The keys of the file list while it has the focus; `false` for the actions
/// that keep their usual meaning there (pause, cancel, panes, help...).
fn file_action(app: &mut App, action: Action, fx: &mut Effects) -> bool {
    let page = ui::file_rows(app).max(1) as isize;
    match action {
        Action::Up => step_file(app, -1),
        Action::Down => step_file(app, 1),
        Action::PageUp => step_file(app, -page),
        Action::PageDown => step_file(app, page),
        Action::Top => step_file(app, isize::MIN),
        Action::Bottom => step_file(app, isize::MAX),
        Action::Clear | Action::Activate | Action::NextPane | Action::PrevPane => {
            app.ui.files = None
        }
        Action::PriorityUp | Action::PriorityDown | Action::FilePriority => {
            change_file_priority(app, action, fx)
        }
        _ => return false,
    }
    true
}

/// Gives the keys to the selected download's file list.
fn focus_files(app: &mut App) {
    let Some(d) = app.selected_download() else {
        app.info("no download selected");
        return;
    };
    if d.file_count == 0 {
        let text = format!("'{}' is a single file", d.name);
        app.info(text);
        return;
    }
    let (id, keys) = (d.id, app.file_keys());
    let page = ui::file_rows(app);
    if page == 0 {
        app.info("the terminal is too small to show the files");
        return;
    }
    let mut cursor = Cursor::default();
    cursor.select(&keys, 0, page);
    app.ui.files = Some(FileFocus {
        download: id,
        cursor,
    });
}

/// Moves the file cursor by `delta` rows, clamped.
fn step_file(app: &mut App, delta: isize) {
    let keys = app.file_keys();
    let page = ui::file_rows(app);
    if let Some(focus) = &mut app.ui.files {
        let index = focus.cursor.index.saturating_add_signed(delta);
        focus.cursor.select(&keys, index, page);
    }
}

/// Raises, lowers or cycles the selected file's priority.
fn change_file_priority(app: &mut App, action: Action, fx: &mut Effects) {
    let Some((id, file, info)) = app.selected_file() else {
        return;
    };
    let (path, current) = (info.path.clone(), info.priority);
    let wanted = match action {
        Action::PriorityUp => file_priority::raised(current),
        Action::PriorityDown => file_priority::lowered(current),
        _ => file_priority::cycled(current),
    };
    if wanted == current {
        app.info(format!(
            "file '{path}' already has {} priority",
            file_priority::name(current)
        ));
        return;
    }
    fx.requests.push(Request::FilePriority {
        id,
        file,
        priority: wanted,
    });
    app.pending.push_back(Pending::FilePriority(path, wanted));
}

fn download_selected_result(app: &mut App, fx: &mut Effects) {
    let Some(row) = app.selected_result() else {
        app.info("no result selected");
        return;
    };
    let (id, name) = (row.id, row.name.clone());
    fx.requests.push(Request::Get {
        target: id.to_string(),
    });
    app.info(format!("adding '{name}'…"));
    app.pending.push_back(Pending::Get(name));
}

fn download_action(app: &mut App, action: Action, fx: &mut Effects) {
    let Some(d) = app.selected_download() else {
        app.info("no download selected");
        return;
    };
    let (id, name, priority, state) = (d.id, d.name.clone(), d.priority, d.state.clone());
    match action {
        Action::PauseResume => match state {
            DownloadState::Paused | DownloadState::Error(_) => {
                fx.requests.push(Request::Resume { id });
                app.pending.push_back(Pending::Resume(name));
            }
            DownloadState::Queued | DownloadState::Downloading => {
                fx.requests.push(Request::Pause { id });
                app.pending.push_back(Pending::Pause(name));
            }
            DownloadState::Verifying | DownloadState::Complete => {
                app.info(format!("'{name}' is already {}", state.label()));
            }
        },
        Action::PriorityUp | Action::PriorityDown => {
            let wanted = if action == Action::PriorityUp {
                priority.raised()
            } else {
                priority.lowered()
            };
            if wanted == priority {
                app.info(format!("'{name}' already has {} priority", priority.name()));
            } else {
                fx.requests.push(Request::Priority {
                    id,
                    priority: wanted,
                });
                app.pending.push_back(Pending::Priority(name, wanted));
            }
        }
        _ => app.ui.mode = Mode::Confirm(Confirm::Cancel { id, name }),
    }
}

fn confirmed(app: &mut App, question: Confirm, fx: &mut Effects) {
    match question {
        Confirm::Cancel { id, name } => {
            fx.requests.push(Request::Cancel { id });
            app.pending.push_back(Pending::Cancel(name));
        }
        Confirm::StopEngine => {
            fx.requests.push(Request::Stop);
            app.pending.push_back(Pending::Stop);
            fx.exit = Some(TuiExit::StopEngine);
        }
    }
}

fn on_answer(app: &mut App, answer: Response) {
    let pending = app.pending.pop_front();
    match answer {
        Response::Error { message } => app.error(match pending {
            Some(p) => format!("{}: {message}", p.asked()),
            None => message,
        }),
        Response::Added { download } => {
            app.info(format!("added '{}' to the downloads", download.name))
        }
        _ => {
            if let Some(p) = pending {
                app.info(p.done());
            }
        }
    }
}

fn apply_snapshot(app: &mut App, snapshot: Snapshot) {
    if app.ui.log_back > 0 {
        // Keep the lines the user scrolled to in place while new ones arrive.
        let filter = Filter::of(app, Pane::Log);
        let added = appended(&app.snapshot.log, &snapshot.log)
            .iter()
            .filter(|l| filter.matches(&[&l.message, &l.source]))
            .count();
        app.ui.log_back += added;
    }
    let latest = snapshot.searches.last().map(|s| s.id);
    if latest != app.ui.search_id {
        app.ui.search = Cursor::default();
        app.ui.search_id = latest;
    }
    app.seq = Some(snapshot.seq);
    app.snapshot = snapshot;
    sync_lists(app);
}

/// The lines of `new` after the last line of `old`.
fn appended<'a>(old: &[LogLine], new: &'a [LogLine]) -> &'a [LogLine] {
    match old.last() {
        None => new,
        Some(last) => new
            .iter()
            .rposition(|l| l == last)
            .map_or(&[], |i| &new[i + 1..]),
    }
}

/// Re-anchors every cursor after the lists changed (snapshot, filter, sort, resize).
fn sync_lists(app: &mut App) {
    for pane in Pane::ALL {
        let keys = app.list_keys(pane);
        let page = ui::list_rows(app, pane);
        match app.ui.cursor_mut(pane) {
            Some(cursor) => cursor.sync(&keys, page),
            None => app.ui.log_back = app.ui.log_back.min(keys.len().saturating_sub(page)),
        }
    }
    sync_files(app);
}

/// Keeps the file focus on the same file, or ends it when its download is no
/// longer selected, has no files any more or its box is not shown.
fn sync_files(app: &mut App) {
    let Some(mut focus) = app.ui.files else {
        return;
    };
    let keys = app.file_keys();
    let page = ui::file_rows(app);
    let same = app.selected_download().map(|d| d.id) == Some(focus.download);
    // Files that were not fetched yet keep the focus until they arrive.
    let has_files = app.selected_download().is_some_and(|d| d.file_count > 0);
    app.ui.files = if same && has_files && page > 0 {
        focus.cursor.sync(&keys, page);
        Some(focus)
    } else {
        None
    };
}
