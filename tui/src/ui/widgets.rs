//! Small formatting helpers and styles shared by the panes.

use ratatui::style::{Color, Modifier, Style};
use swarmux_api::DownloadState;

pub use swarmux_api::human_size;

/// A rate for humans: `1.2 MiB/s`; empty for zero so idle rows stay quiet.
pub fn human_rate(bytes_per_sec: u64) -> String {
    if bytes_per_sec == 0 {
        String::new()
    } else {
        format!("{}/s", human_size(bytes_per_sec))
    }
}

/// A duration for humans, two units at most: `45s`, `12m05s`, `3h12m`, `2d04h`.
pub fn human_eta(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// `HH:MM:SS` (UTC) of a Unix time.
pub fn clock(unix_secs: u64) -> String {
    let s = unix_secs % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// A progress bar of `width` cells drawn with text, so it works in any terminal.
pub fn text_bar(ratio: f64, width: usize) -> String {
    let filled = ((ratio.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    "█".repeat(filled) + &"░".repeat(width - filled)
}

/// Keeps the end of `text` (paths), with `…` in front when it had to cut.
pub fn tail(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let skip = count - (width - 1);
    std::iter::once('…')
        .chain(text.chars().skip(skip))
        .collect()
}

/// The last path component (the file name).
pub fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// The style of the selected row: reversed, so it shows without colour.
pub fn selected() -> Style {
    Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
}

/// The style of table headers.
pub fn header() -> Style {
    Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
}

/// Text that matters less.
pub fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// The colour of a download's state (the state is always written out too).
pub fn state_style(state: &DownloadState) -> Style {
    match state {
        DownloadState::Downloading => Style::new().fg(Color::Green),
        DownloadState::Queued => Style::new(),
        DownloadState::Paused => Style::new().fg(Color::DarkGray),
        DownloadState::Verifying => Style::new().fg(Color::Blue),
        DownloadState::Complete => Style::new().fg(Color::Cyan),
        DownloadState::Error(_) => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
    }
}

/// The colour of a server or neighbour state such as `connected`.
pub fn link_style(state: &str) -> Style {
    match state {
        "connected" => Style::new().fg(Color::Green),
        "connecting" => Style::new().fg(Color::Yellow),
        "disconnected" => Style::new().fg(Color::DarkGray),
        _ => Style::new().fg(Color::Red),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(human_rate(0), "");
        assert_eq!(human_rate(51_200), "50.0 KiB/s");
    }

    #[test]
    fn etas_and_clock() {
        assert_eq!(human_eta(45), "45s");
        assert_eq!(human_eta(725), "12m05s");
        assert_eq!(human_eta(3 * 3600 + 12 * 60), "3h12m");
        assert_eq!(human_eta(2 * 86_400 + 4 * 3600), "2d04h");
        assert_eq!(clock(86_400 + 3661), "01:01:01");
    }

    #[test]
    fn bars_and_tails() {
        assert_eq!(text_bar(0.5, 4), "██░░");
        assert_eq!(text_bar(2.0, 3), "███");
        assert_eq!(tail("/home/user/data", 8), "…er/data");
        assert_eq!(tail("short", 8), "short");
        assert_eq!(file_name("/a/b/c.iso"), "c.iso");
    }
}
