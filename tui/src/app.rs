//! The TUI's whole state: the engine's last snapshot plus what the user is doing.

use crate::file_priority;
use crate::keymap::KeyMap;
use std::collections::VecDeque;
use swarmux_api::{Priority, SharedFileView, Snapshot};
use swarmux_net::{FileInfo, FilePriority};

/// The five panes, in tab order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Pane {
    #[default]
    Search,
    Downloads,
    Shares,
    Networks,
    Log,
}

impl Pane {
    /// All panes in tab order.
    pub const ALL: [Pane; 5] = [
        Pane::Search,
        Pane::Downloads,
        Pane::Shares,
        Pane::Networks,
        Pane::Log,
    ];

    /// Position in the tab bar, from 0.
    pub fn index(self) -> usize {
        match self {
            Pane::Search => 0,
            Pane::Downloads => 1,
            Pane::Shares => 2,
            Pane::Networks => 3,
            Pane::Log => 4,
        }
    }

    /// The tab title.
    pub fn title(self) -> &'static str {
        match self {
            Pane::Search => "Search",
            Pane::Downloads => "Downloads",
            Pane::Shares => "Shares/Uploads",
            Pane::Networks => "Networks",
            Pane::Log => "Log",
        }
    }

    /// The next pane, wrapping around.
    pub fn next(self) -> Pane {
        Pane::ALL[(self.index() + 1) % Pane::ALL.len()]
    }

    /// The previous pane, wrapping around.
    pub fn prev(self) -> Pane {
        Pane::ALL[(self.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

/// Order of the search results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SearchSort {
    #[default]
    Sources,
    Size,
    Name,
}

impl SearchSort {
    /// The next order `s` switches to.
    pub fn next(self) -> SearchSort {
        match self {
            SearchSort::Sources => SearchSort::Size,
            SearchSort::Size => SearchSort::Name,
            SearchSort::Name => SearchSort::Sources,
        }
    }

    /// Shown in the pane title.
    pub fn label(self) -> &'static str {
        match self {
            SearchSort::Sources => "sources",
            SearchSort::Size => "size",
            SearchSort::Name => "name",
        }
    }
}

/// Order of the download list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DownloadSort {
    /// The engine's queue order.
    #[default]
    Queue,
    Name,
    Progress,
    Rate,
}

impl DownloadSort {
    /// The next order `s` switches to.
    pub fn next(self) -> DownloadSort {
        match self {
            DownloadSort::Queue => DownloadSort::Name,
            DownloadSort::Name => DownloadSort::Progress,
            DownloadSort::Progress => DownloadSort::Rate,
            DownloadSort::Rate => DownloadSort::Queue,
        }
    }

    /// Shown in the pane title.
    pub fn label(self) -> &'static str {
        match self {
            DownloadSort::Queue => "queue",
            DownloadSort::Name => "name",
            DownloadSort::Progress => "progress",
            DownloadSort::Rate => "rate",
        }
    }
}

/// A question waiting for y/n.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirm {
    Cancel { id: u64, name: String },
    StopEngine,
}

impl Confirm {
    /// The prompt shown in the message line.
    pub fn prompt(&self) -> String {
        match self {
            Confirm::Cancel { name, .. } => format!("Cancel download '{name}'? y/n"),
            Confirm::StopEngine => "Stop the engine and quit? y/n".to_string(),
        }
    }
}

/// What keys currently do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Normal,
    /// The key overlay; any key closes it.
    Help,
    /// Typing a search; the text so far.
    SearchInput(String),
    /// Typing the filter of the current pane (kept in [`UiState::filters`]).
    FilterInput,
    Confirm(Confirm),
}

/// The one-line message area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
    /// Ticks (seconds) until it disappears.
    pub ticks_left: u8,
}

/// Selection and scroll position of a list, anchored on a row key (a download
/// or result id) so the selection stays on the same row while rows arrive or move.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The selected row's key, kept while the list is empty so it comes back.
    pub id: Option<u64>,
    pub index: usize,
    /// The first visible row.
    pub offset: usize,
}

impl Cursor {
    /// Re-finds the selected row in `keys` (the list as shown) after a change.
    pub fn sync(&mut self, keys: &[u64], page: usize) {
        let Some(last) = keys.len().checked_sub(1) else {
            self.index = 0;
            self.offset = 0;
            return;
        };
        let found = self.id.and_then(|id| keys.iter().position(|&k| k == id));
        self.select(keys, found.unwrap_or(self.index.min(last)), page);
    }

    /// Selects row `index` (clamped) and scrolls it into a view of `page` rows.
    pub fn select(&mut self, keys: &[u64], index: usize, page: usize) {
        let Some(last) = keys.len().checked_sub(1) else {
            return;
        };
        self.index = index.min(last);
        self.id = Some(keys[self.index]);
        let page = page.max(1);
        if self.index < self.offset {
            self.offset = self.index;
        } else if self.index >= self.offset + page {
            self.offset = self.index + 1 - page;
        }
    }
}

/// The file list of a multi-file download while it has the keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileFocus {
    /// The download whose files these are; the focus ends when it is no longer selected.
    pub download: u64,
    /// Keys are file positions in the download.
    pub cursor: Cursor,
}

/// Everything about the screen that is not the engine's state; a key press
/// needs a redraw exactly when it changes this.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UiState {
    pub pane: Pane,
    pub mode: Mode,
    pub message: Option<Message>,
    /// The filter of each pane, by [`Pane::index`].
    pub filters: [String; 5],
    pub search_sort: SearchSort,
    pub download_sort: DownloadSort,
    pub search: Cursor,
    pub downloads: Cursor,
    pub shares: Cursor,
    pub networks: Cursor,
    /// Set while the keys move in the selected download's file list.
    pub files: Option<FileFocus>,
    /// Log lines scrolled back from the end; 0 follows the tail.
    pub log_back: usize,
    /// The search the Search pane shows; a new one resets its cursor.
    pub search_id: Option<u64>,
    /// The terminal size (columns, rows).
    pub size: (u16, u16),
}

impl UiState {
    /// The filter of the current pane.
    pub fn filter(&self) -> &str {
        &self.filters[self.pane.index()]
    }

    /// The cursor of a list pane (the Log pane scrolls instead).
    pub fn cursor_mut(&mut self, pane: Pane) -> Option<&mut Cursor> {
        match pane {
            Pane::Search => Some(&mut self.search),
            Pane::Downloads => Some(&mut self.downloads),
            Pane::Shares => Some(&mut self.shares),
            Pane::Networks => Some(&mut self.networks),
            Pane::Log => None,
        }
    }
}

/// A request sent and not answered yet: answers come back in order, and this
/// turns each into a message the user understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pending {
    Search(String),
    Get(String),
    Pause(String),
    Resume(String),
    Cancel(String),
    Priority(String, Priority),
    /// A file's path and its new priority.
    FilePriority(String, FilePriority),
    Stop,
    /// A list a view shows, fetched without a message (see [`Fetched`]).
    Fetch,
}

impl Pending {
    /// What was asked, for an error message ("pause 'x': ...").
    pub fn asked(&self) -> String {
        match self {
            Pending::Search(text) => format!("search '{text}'"),
            Pending::Get(name) => format!("download '{name}'"),
            Pending::Pause(name) => format!("pause '{name}'"),
            Pending::Resume(name) => format!("resume '{name}'"),
            Pending::Cancel(name) => format!("cancel '{name}'"),
            Pending::Priority(name, _) => format!("priority of '{name}'"),
            Pending::FilePriority(path, _) => format!("priority of file '{path}'"),
            Pending::Stop => "stop the engine".to_string(),
            Pending::Fetch => "fetch a list".to_string(),
        }
    }

    /// What happened, once the engine said Ok.
    pub fn done(&self) -> String {
        match self {
            Pending::Search(text) => format!("searching for '{text}'"),
            Pending::Get(name) => format!("added '{name}' to the downloads"),
            Pending::Pause(name) => format!("paused '{name}'"),
            Pending::Resume(name) => format!("resumed '{name}'"),
            Pending::Cancel(name) => format!("cancelled '{name}'"),
            Pending::Priority(name, p) => format!("priority of '{name}' is now {}", p.name()),
            Pending::FilePriority(path, p) => {
                format!(
                    "priority of file '{path}' is now {}",
                    file_priority::name(*p)
                )
            }
            Pending::Stop => "the engine is stopping".to_string(),
            Pending::Fetch => String::new(),
        }
    }
}

/// Lists that snapshots do not carry, asked for while a view shows them.
#[derive(Clone, Debug, Default)]
pub struct Fetched {
    /// The files of one download, by its id.
    pub files: Option<(u64, Vec<FileInfo>)>,
    /// The shared files, with the shares revision they belong to.
    pub shared: Option<(u64, Vec<SharedFileView>)>,
    /// A request for `files` is on its way.
    pub files_asked: bool,
    /// A request for `shared` is on its way.
    pub shared_asked: bool,
}

/// The TUI's state.
#[derive(Clone, Debug)]
pub struct App {
    /// The engine's state as last pushed.
    pub snapshot: Snapshot,
    /// `seq` of `snapshot`; `None` until the first one arrives.
    pub seq: Option<u64>,
    pub ui: UiState,
    pub keymap: KeyMap,
    pub pending: VecDeque<Pending>,
    pub fetched: Fetched,
}

impl App {
    /// A fresh state, waiting for the first snapshot.
    pub fn new(keymap: KeyMap) -> App {
        App {
            snapshot: Snapshot::default(),
            seq: None,
            ui: UiState {
                size: (80, 24),
                ..UiState::default()
            },
            keymap,
            pending: VecDeque::new(),
            fetched: Fetched::default(),
        }
    }

    /// Shows `text` in the message line for a few seconds.
    pub fn info(&mut self, text: impl Into<String>) {
        self.ui.message = Some(Message {
            text: text.into(),
            error: false,
            ticks_left: 6,
        });
    }

    /// Shows an error in the message line, a bit longer than [`App::info`].
    pub fn error(&mut self, text: impl Into<String>) {
        self.ui.message = Some(Message {
            text: text.into(),
            error: true,
            ticks_left: 15,
        });
    }
}
