//! The lists as the panes show them: filtered by the pane's filter and sorted.
//! `update` and the renderers both read these, so "the selected row" means
//! the same thing to both.

use crate::app::{App, DownloadSort, Pane, SearchSort};
use std::cmp::Reverse;
use swarmux_api::{DownloadState, DownloadView, LogLine, ResultRow, SearchView, SharedFileView};
use swarmux_net::{FileInfo, ServerInfo};

/// A case-insensitive substring test; an empty filter matches everything.
pub struct Filter(String);

impl Filter {
    /// The filter of `pane`.
    pub fn of(app: &App, pane: Pane) -> Filter {
        Filter(app.ui.filters[pane.index()].to_lowercase())
    }

    /// Whether any of `texts` contains the filter.
    pub fn matches(&self, texts: &[&str]) -> bool {
        self.0.is_empty() || texts.iter().any(|t| t.to_lowercase().contains(&self.0))
    }
}

/// How far a download is, from 0 to 1 (verified bytes over size).
pub fn progress(d: &DownloadView) -> f64 {
    if d.state == DownloadState::Complete {
        1.0
    } else if d.size == 0 {
        0.0
    } else {
        (d.verified as f64 / d.size as f64).clamp(0.0, 1.0)
    }
}

impl App {
    /// The search the Search pane shows: the newest.
    pub fn latest_search(&self) -> Option<&SearchView> {
        self.snapshot.searches.last()
    }

    /// The rows of the latest search as shown.
    pub fn search_rows(&self) -> Vec<&ResultRow> {
        let filter = Filter::of(self, Pane::Search);
        let mut rows: Vec<&ResultRow> = self
            .latest_search()
            .map(|s| {
                s.rows
                    .iter()
                    .filter(|r| filter.matches(&[&r.name]))
                    .collect()
            })
            .unwrap_or_default();
        match self.ui.search_sort {
            SearchSort::Sources => rows.sort_by_key(|r| Reverse(r.sources)),
            SearchSort::Size => rows.sort_by_key(|r| Reverse(r.size)),
            SearchSort::Name => rows.sort_by_cached_key(|r| r.name.to_lowercase()),
        }
        rows
    }

    /// The downloads as shown.
    pub fn download_rows(&self) -> Vec<&DownloadView> {
        let filter = Filter::of(self, Pane::Downloads);
        let mut rows: Vec<&DownloadView> = self
            .snapshot
            .downloads
            .iter()
            .filter(|d| filter.matches(&[&d.name]))
            .collect();
        match self.ui.download_sort {
            DownloadSort::Queue => {}
            DownloadSort::Name => rows.sort_by_cached_key(|d| d.name.to_lowercase()),
            DownloadSort::Progress => rows.sort_by(|a, b| progress(b).total_cmp(&progress(a))),
            DownloadSort::Rate => rows.sort_by_key(|d| Reverse(d.rate)),
        }
        rows
    }

    /// The shared files as shown.
    pub fn shared_files(&self) -> Vec<&SharedFileView> {
        let filter = Filter::of(self, Pane::Shares);
        self.fetched
            .shared
            .iter()
            .flat_map(|(_, files)| files)
            .filter(|f| filter.matches(&[&f.path]))
            .collect()
    }

    /// The files of download `id` as last fetched (empty until they arrive).
    pub fn files_of(&self, id: u64) -> &[FileInfo] {
        match &self.fetched.files {
            Some((of, files)) if *of == id => files,
            _ => &[],
        }
    }

    /// Every network's servers or neighbours as shown, with the network's name.
    pub fn server_rows(&self) -> Vec<(&str, &ServerInfo)> {
        let filter = Filter::of(self, Pane::Networks);
        self.snapshot
            .networks
            .iter()
            .flat_map(|n| n.servers.iter().map(move |s| (n.name.as_str(), s)))
            .filter(|(_, s)| filter.matches(&[&s.name, &s.addr]))
            .collect()
    }

    /// The log lines as shown, oldest first.
    pub fn log_lines(&self) -> Vec<&LogLine> {
        let filter = Filter::of(self, Pane::Log);
        self.snapshot
            .log
            .iter()
            .filter(|l| filter.matches(&[&l.message, &l.source]))
            .collect()
    }

    /// The row keys of a list pane as shown: ids for results and downloads,
    /// positions for the others.
    pub fn list_keys(&self, pane: Pane) -> Vec<u64> {
        match pane {
            Pane::Search => self.search_rows().iter().map(|r| r.id).collect(),
            Pane::Downloads => self.download_rows().iter().map(|d| d.id).collect(),
            Pane::Shares => (0..self.shared_files().len() as u64).collect(),
            Pane::Networks => (0..self.server_rows().len() as u64).collect(),
            Pane::Log => (0..self.log_lines().len() as u64).collect(),
        }
    }

    /// The selected search result.
    pub fn selected_result(&self) -> Option<&ResultRow> {
        self.search_rows().get(self.ui.search.index).copied()
    }

    /// The selected download.
    pub fn selected_download(&self) -> Option<&DownloadView> {
        self.download_rows().get(self.ui.downloads.index).copied()
    }

    /// The keys (positions) of the selected download's files.
    pub fn file_keys(&self) -> Vec<u64> {
        let count = self
            .selected_download()
            .map_or(0, |d| self.files_of(d.id).len());
        (0..count as u64).collect()
    }

    /// The download id, position and file under the file cursor, while the file list has the focus.
    pub fn selected_file(&self) -> Option<(u64, usize, &FileInfo)> {
        let focus = self.ui.files?;
        let d = self
            .selected_download()
            .filter(|d| d.id == focus.download)?;
        let index = focus.cursor.index;
        self.files_of(d.id).get(index).map(|f| (d.id, index, f))
    }
}
