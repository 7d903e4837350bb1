//! What a key can mean in normal mode, independent of which key it is.

use crate::app::Pane;

/// A user intent; the key map turns keys into these and `update` applies them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Detach,
    StopEngine,
    Help,
    NextPane,
    PrevPane,
    ShowPane(Pane),
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    Search,
    Filter,
    Clear,
    Sort,
    Activate,
    PauseResume,
    PriorityUp,
    PriorityDown,
    Cancel,
    /// Cycles the priority of the selected file of a multi-file download.
    FilePriority,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 26] = [
        Action::Up,
        Action::Down,
        Action::Top,
        Action::Bottom,
        Action::PageUp,
        Action::PageDown,
        Action::Activate,
        Action::PauseResume,
        Action::PriorityUp,
        Action::PriorityDown,
        Action::Cancel,
        Action::FilePriority,
        Action::Sort,
        Action::Filter,
        Action::Clear,
        Action::Search,
        Action::NextPane,
        Action::PrevPane,
        Action::ShowPane(Pane::Search),
        Action::ShowPane(Pane::Downloads),
        Action::ShowPane(Pane::Shares),
        Action::ShowPane(Pane::Networks),
        Action::ShowPane(Pane::Log),
        Action::Help,
        Action::Detach,
        Action::StopEngine,
    ];

    /// The name used in `keymap.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Detach => "detach",
            Action::StopEngine => "stop_engine",
            Action::Help => "help",
            Action::NextPane => "next_pane",
            Action::PrevPane => "prev_pane",
            Action::ShowPane(Pane::Search) => "pane_search",
            Action::ShowPane(Pane::Downloads) => "pane_downloads",
            Action::ShowPane(Pane::Shares) => "pane_shares",
            Action::ShowPane(Pane::Networks) => "pane_networks",
            Action::ShowPane(Pane::Log) => "pane_log",
            Action::Up => "up",
            Action::Down => "down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::Search => "search",
            Action::Filter => "filter",
            Action::Clear => "clear",
            Action::Sort => "sort",
            Action::Activate => "activate",
            Action::PauseResume => "pause_resume",
            Action::PriorityUp => "priority_up",
            Action::PriorityDown => "priority_down",
            Action::Cancel => "cancel",
            Action::FilePriority => "file_priority",
        }
    }

    /// The action named `name` in `keymap.toml`.
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}
