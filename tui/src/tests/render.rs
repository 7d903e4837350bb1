//! What the screen shows, read back from ratatui's `TestBackend`.

use super::fixture;
use crate::app::App;
use crate::ui;
use crate::update::{update, Event};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

const SMALL: (u16, u16) = (80, 24);
const LARGE: (u16, u16) = (120, 35);

fn draw(app: &App) -> Buffer {
    let (cols, rows) = app.ui.size;
    let mut terminal = Terminal::new(TestBackend::new(cols, rows)).expect("test terminal");
    terminal.draw(|frame| ui::render(app, frame)).expect("draw");
    terminal.backend().buffer().clone()
}

fn lines(buffer: &Buffer) -> Vec<String> {
    let width = usize::from(buffer.area.width);
    buffer
        .content()
        .chunks(width)
        .map(|row| row.iter().map(|c| c.symbol()).collect())
        .collect()
}

/// The screen as text, one line per terminal row.
fn screen(app: &App) -> String {
    lines(&draw(app)).join("\n")
}

/// An app of `size` showing pane `digit` after `keys`.
fn app_at(size: (u16, u16), digit: char, keys: &str) -> App {
    let mut app = fixture::app(size.0, size.1);
    for c in std::iter::once(digit).chain(keys.chars()) {
        update(
            &mut app,
            Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
        );
    }
    app
}

/// `app` after pressing Enter (a `\n` in `keys` of [`app_at`] is a character, not Enter).
fn enter(mut app: App) -> App {
    update(
        &mut app,
        Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    app
}

/// Pane 2 with the multi-file torrent (the fifth download) selected.
const TORRENT: &str = "jjjj";

fn assert_shows(screen: &str, expected: &[&str]) {
    for text in expected {
        assert!(screen.contains(text), "missing {text:?} in\n{screen}");
    }
}

fn assert_hides(screen: &str, unexpected: &[&str]) {
    for text in unexpected {
        assert!(!screen.contains(text), "unexpected {text:?} in\n{screen}");
    }
}

#[test]
fn search_pane_at_both_sizes() {
    for size in [SMALL, LARGE] {
        let s = screen(&app_at(size, '1', ""));
        assert_shows(
            &s,
            &[
                "Search: ubuntu iso",
                "3 results",
                "waiting for kad",
                "ubuntu-24.04-desktop-amd64.iso",
                "6.0 GiB",
                "42 (30)",
                "12.0 MiB",
                "sort: sources",
            ],
        );
        // The most sources come first.
        let first = s.find("ubuntu-24.04").expect("row");
        let second = s.find("ubuntu-22.04").expect("row");
        assert!(first < second);
    }
    let wide = screen(&app_at(LARGE, '1', ""));
    assert_shows(
        &wide,
        &["networks", "ed2k,kad", "sources (complete)", "iso"],
    );
    let narrow = screen(&app_at(SMALL, '1', ""));
    assert_hides(&narrow, &["ed2k,kad"]);
}

#[test]
fn search_pane_before_any_search() {
    let mut app = fixture::app(SMALL.0, SMALL.1);
    let mut snapshot = fixture::snapshot();
    snapshot.seq += 1;
    snapshot.searches.clear();
    update(
        &mut app,
        Event::Daemon(swarmux_api::Response::Snapshot(Box::new(snapshot))),
    );
    assert_shows(&screen(&app), &["Press / to search"]);
}

#[test]
fn downloads_pane_at_both_sizes() {
    let small = screen(&app_at(SMALL, '2', ""));
    assert_shows(
        &small,
        &[
            "Downloads (6)",
            "debian-12.5.0",
            " 45%",
            "640 MiB",
            "1.2 MiB/s",
            "5m00s",
            "3/12",
            "downloading",
            "paused",
            // The detail box of the selected download.
            "verified parts 31/70",
            "82.64.12.7:4662",
            "eMule 0.50a",
        ],
    );
    let large = screen(&app_at(LARGE, '2', ""));
    assert_shows(
        &large,
        &[
            "debian-12.5.0-amd64-netinst.iso",
            "45.0%",
            "high",
            "prio",
            "complete",
            "error",
            "verified parts 31/70",
            "received 300 MiB this run",
            "91.121.3.44:5000",
            "queued #12",
        ],
    );
}

#[test]
fn downloads_detail_explains_a_stall_and_an_error() {
    let s = screen(&app_at(LARGE, '2', "j"));
    assert_shows(
        &s,
        &["why: queued at rank 4 on 2 sources", "no peers connected"],
    );
    let s = screen(&app_at(LARGE, '2', "jjj"));
    assert_shows(&s, &["error: disk full"]);
    let s = screen(&app_at(LARGE, '2', "G"));
    assert_shows(&s, &["saved to /home/ana/Downloads/sintel.mkv", "done"]);
}

#[test]
fn shares_pane_at_both_sizes() {
    for size in [SMALL, LARGE] {
        let s = screen(&app_at(size, '3', ""));
        assert_shows(
            &s,
            &[
                "Shared folders (1)",
                "/home/ana/Public",
                "hashing: 2 files, 1.5 GiB left",
                "Shared files (2)",
                "notes.txt",
                "2.0 KiB",
                "Seeding (2)",
                "ubuntu-24.04-desktop",
                "photos-2023",
                "ratio",
                "1.50",
                "0.25",
                "200 KiB/s",
                "9.0 GiB",
                "tracker: ",
                "Uploads (1)",
                "77.12.9.1:4662",
                "eMule 0.50a",
                "12.0 MiB",
                "50.0 KiB/s",
            ],
        );
    }
}

#[test]
fn seeding_sits_between_the_shared_files_and_the_uploads() {
    for size in [SMALL, LARGE] {
        let s = screen(&app_at(size, '3', ""));
        let files = s.find("Shared files (2)").expect("files");
        let seeding = s.find("Seeding (2)").expect("seeding");
        let uploads = s.find("┌ Uploads (1)").expect("uploads");
        assert!(files < seeding && seeding < uploads, "{s}");
        // Every seeded torrent has its row, and the shared files keep theirs.
        assert_shows(&s, &["notes.txt", "photos-2023", "512 MiB"]);
    }
    let wide = screen(&app_at(LARGE, '3', ""));
    assert_shows(
        &wide,
        &[
            "bittorrent",
            "ubuntu-24.04-desktop-amd64.iso",
            "tracker: 120 seeds, 4 leeches",
            "tracker: announce timed out",
        ],
    );

    let mut app = fixture::app(SMALL.0, SMALL.1);
    let mut snapshot = fixture::snapshot();
    snapshot.seq += 1;
    snapshot.seeding.clear();
    update(
        &mut app,
        Event::Daemon(swarmux_api::Response::Snapshot(Box::new(snapshot))),
    );
    update(
        &mut app,
        Event::Key(KeyEvent::new(KeyCode::Char('3'), KeyModifiers::NONE)),
    );
    let s = screen(&app);
    assert_hides(&s, &["Seeding"]);
    assert_shows(&s, &["Shared files (2)", "Uploads (1)"]);
}

#[test]
fn torrent_detail_lists_its_files_at_both_sizes() {
    for size in [SMALL, LARGE] {
        let s = screen(&app_at(size, '2', TORRENT));
        assert_shows(
            &s,
            &[
                "blender-open-movies",
                "verified parts 112/492",
                "203.0.113.9:51413",
                "files (3, 1 skipped)",
                "high   700 MiB",
                " 50.0% Sintel/sintel-1080p.mkv",
                "skip   900 MiB",
                "  0.0% Big Buck Bunny/big_buck_bunny_1080p.mov",
                "Enter: files",
            ],
        );
    }
    // Wide: both peers, every file, and progress bars.
    let s = screen(&app_at(LARGE, '2', TORRENT));
    assert_shows(
        &s,
        &[
            "198.51.100.23:6881",
            "normal 365 MiB",
            "███░░░░░░░  27.3% Tears of Steel/tears_of_steel_720p.mkv",
        ],
    );
    // Small: the third file scrolls into view once the cursor gets there.
    let s = screen(&app_at(SMALL, '2', TORRENT));
    assert_hides(&s, &["tears_of_steel"]);
    let s = screen(&enter(app_at(SMALL, '2', TORRENT)));
    assert_shows(&s, &["↑/↓ file · space/+/- priority · Esc back"]);
    let mut app = enter(app_at(SMALL, '2', TORRENT));
    update(
        &mut app,
        Event::Key(KeyEvent::new(KeyCode::Char('G'), KeyModifiers::NONE)),
    );
    assert_shows(
        &screen(&app),
        &["27.3% Tears of Steel/tears_of_steel_720p.mkv"],
    );
    // A single-file download has no file list and no hint.
    let s = screen(&app_at(LARGE, '2', ""));
    assert_hides(&s, &["files (", "Enter: files"]);
}

#[test]
fn the_file_under_the_cursor_is_reversed() {
    for size in [SMALL, LARGE] {
        let mut app = enter(app_at(size, '2', TORRENT));
        update(
            &mut app,
            Event::Key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE)),
        );
        let buffer = draw(&app);
        let rows = lines(&buffer);
        let y = rows
            .iter()
            .position(|r| r.contains("big_buck_bunny_1080p.mov"))
            .expect("file row");
        let x = rows[y]
            .find("Big Buck")
            .map(|b| rows[y][..b].chars().count())
            .unwrap_or(0);
        assert!(buffer[(x as u16, y as u16)]
            .modifier
            .contains(Modifier::REVERSED));
        let y = rows
            .iter()
            .position(|r| r.contains("sintel-1080p.mkv"))
            .expect("file row");
        let x = rows[y]
            .find("Sintel/")
            .map(|b| rows[y][..b].chars().count())
            .unwrap_or(0);
        assert!(!buffer[(x as u16, y as u16)]
            .modifier
            .contains(Modifier::REVERSED));
    }
}

#[test]
fn networks_pane_at_both_sizes() {
    for size in [SMALL, LARGE] {
        let s = screen(&app_at(size, '4', ""));
        assert_shows(
            &s,
            &[
                "tcp 0.0.0.0:4662",
                "udp 0.0.0.0:4672",
                "1/2 connected",
                "45.82.80.155:5687",
                "eMule Security",
                "connected",
                "high ID 16777343",
                "Razorback 3.0",
                "connecting",
            ],
        );
    }
    let wide = screen(&app_at(LARGE, '4', ""));
    assert_shows(&wide, &["Welcome to eMule", "31000000"]);
}

#[test]
fn log_pane_follows_the_tail_at_both_sizes() {
    for size in [SMALL, LARGE] {
        let s = screen(&app_at(size, '5', ""));
        assert_shows(
            &s,
            &[
                "Log · following",
                "WARN",
                "ERROR",
                "backup.zip: disk full",
                "event number 39",
            ],
        );
        assert_hides(&s, &["event number 0 "]);
    }
    let s = screen(&app_at(SMALL, '5', "kkk"));
    assert_shows(&s, &["3 lines up", "event number 36"]);
    assert_hides(&s, &["disk full"]);
}

#[test]
fn status_bar_and_tabs() {
    for size in [SMALL, LARGE] {
        let s = screen(&app_at(size, '2', ""));
        let rows: Vec<&str> = s.lines().collect();
        assert_shows(
            rows[0],
            &["1 Search", "2 Downloads (6)", "3 Shares", "5 Log"],
        );
        let status = rows[rows.len() - 1];
        assert_shows(
            status,
            &["1.2 MiB/s", "max 2.0 MiB/s", "↑", "50.0 KiB/s", "pid 4242"],
        );
    }
    let s = screen(&app_at(LARGE, '2', ""));
    let status = s.lines().last().unwrap_or_default();
    assert_shows(
        status,
        &[
            "(max 2.0 MiB/s)",
            "servers 1",
            "active 2/3",
            "/home/ana/.local/share/swarmux",
        ],
    );
    let s = screen(&app_at(SMALL, '2', ""));
    let status = s.lines().last().unwrap_or_default();
    assert_shows(status, &["srv 1", "act 2/3", "share/swarmux"]);
}

#[test]
fn help_overlay_lists_the_keys_of_the_pane() {
    let s = screen(&app_at(SMALL, '2', "?"));
    assert_shows(
        &s,
        &[
            "Keys: Downloads",
            "pause or resume",
            "+ = / -",
            "raise / lower priority",
            "open / close the file list",
            "space",
            "skip → normal → high",
            "q Ctrl-C",
        ],
    );
    let s = screen(&app_at(LARGE, '1', "?"));
    assert_shows(&s, &["Keys: Search", "download the selected result"]);
    assert_hides(&s, &["pause or resume"]);
}

#[test]
fn prompts_in_the_message_line() {
    let s = screen(&app_at(SMALL, '2', "d"));
    let last_but_one = s.lines().rev().nth(1).unwrap_or_default().to_string();
    assert_shows(
        &last_but_one,
        &["Cancel download 'debian-12.5.0-amd64-netinst.iso'? y/n"],
    );

    let s = screen(&app_at(SMALL, '2', "Q"));
    assert_shows(&s, &["Stop the engine and quit? y/n"]);

    let s = screen(&app_at(SMALL, '2', "/ubuntu size>1M"));
    assert_shows(&s, &["/ubuntu size>1M"]);

    let s = screen(&app_at(SMALL, '2', "fdeb"));
    assert_shows(&s, &["filter: deb", "debian-12.5.0"]);
    assert_hides(&s, &["sintel"]);
}

#[test]
fn selection_is_reversed_and_only_basic_colours_are_used() {
    for pane in ['1', '2', '3', '4', '5'] {
        for size in [SMALL, LARGE] {
            let buffer = draw(&app_at(size, pane, ""));
            let focused = draw(&enter(app_at(size, pane, TORRENT)));
            for cell in focused.content() {
                for colour in [cell.fg, cell.bg] {
                    assert!(
                        !matches!(colour, Color::Rgb(..) | Color::Indexed(_)),
                        "pane {pane} with the file list: {colour:?}"
                    );
                }
            }
            for cell in buffer.content() {
                for colour in [cell.fg, cell.bg] {
                    assert!(
                        !matches!(colour, Color::Rgb(..) | Color::Indexed(_)),
                        "pane {pane}: {colour:?}"
                    );
                }
            }
        }
    }
    let app = app_at(SMALL, '2', "");
    let buffer = draw(&app);
    let rows = lines(&buffer);
    let y = rows
        .iter()
        .position(|r| r.contains("debian-12.5.0") && r.contains("downloading"))
        .expect("selected row");
    let x = rows[y]
        .find("debian")
        .map(|b| rows[y][..b].chars().count())
        .unwrap_or(0);
    let cell = &buffer[(x as u16, y as u16)];
    assert!(cell.modifier.contains(Modifier::REVERSED));
}

#[test]
fn waiting_for_the_first_snapshot() {
    let app = App::new(crate::keymap::KeyMap::load(None).expect("keys"));
    assert_shows(
        &screen(&app),
        &["waiting for the daemon", "Press / to search"],
    );
}

#[test]
fn tiny_terminals_do_not_panic() {
    for (cols, rows) in [(1, 1), (12, 4), (40, 10), (60, 15), (30, 19), (50, 20)] {
        for pane in ['1', '2', '3', '4', '5'] {
            for keys in ["", "?", "d", "/abc", TORRENT] {
                draw(&app_at((cols, rows), pane, keys));
                draw(&enter(app_at((cols, rows), pane, keys)));
            }
        }
    }
}

#[test]
fn long_network_names_keep_their_own_column() {
    let mut app = app_at(LARGE, '4', "");
    let snap = &mut app.snapshot;
    for name in ["bittorrent", "gnutella"] {
        let mut net = snap.networks[0].clone();
        net.name = name.into();
        net.listening = vec![("bt_tcp".into(), "127.0.0.1:6881".into())];
        snap.networks.push(net);
    }
    let s = screen(&app);
    assert_shows(
        &s,
        &[
            "bittorrent bt_tcp 127.0.0.1:6881",
            "bittorrent  45.82.80.155:5687",
        ],
    );
}

#[test]
fn a_magnet_without_metadata_shows_an_unknown_size() {
    let mut app = app_at(LARGE, '2', "");
    let d = &mut app.snapshot.downloads[0];
    d.name = "magnet-without-metadata".into();
    d.size = 0;
    d.verified = 0;
    let s = screen(&app);
    let row = s
        .lines()
        .find(|l| l.contains("magnet-without-metadata"))
        .expect("the download row");
    assert!(row.contains(" ? "), "{row}");
    assert!(!row.contains("0 B"), "{row}");
    assert_shows(&s, &["· ? · received"]);
}

#[test]
fn a_tracker_row_shows_its_url_and_counts() {
    let mut app = app_at(LARGE, '4', "");
    let snap = &mut app.snapshot;
    let mut bt = snap.networks[0].clone();
    bt.name = "bittorrent".into();
    bt.servers = vec![swarmux_net::ServerInfo {
        addr: "http://127.0.0.1:36969/announce".into(),
        name: "tracker".into(),
        state: "ok".into(),
        users: 3,
        message: "2 seeds, 1 leecher, 12 downloads, next announce in 30 min".into(),
        ..Default::default()
    }];
    snap.networks.push(bt);
    let s = screen(&app);
    assert_shows(&s, &["http://127.0.0.1:36969 ", "2 seeds, 1 leecher"]);
}
