//! Keys and daemon lines in, requests, exits and redraw flags out.

use super::fixture::{self, snapshot};
use crate::app::{App, Mode, Pane};
use crate::update::{update, Effects, Event};
use crate::TuiExit;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use swarmux_api::{Priority, Request, Response, SearchParams, Snapshot};
use swarmux_net::FilePriority;

fn key(app: &mut App, code: KeyCode) -> Effects {
    update(app, Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(app: &mut App, c: char) -> Effects {
    key(app, KeyCode::Char(c))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        ch(app, c);
    }
}

fn push(app: &mut App, snapshot: Snapshot) -> Effects {
    update(app, Event::Daemon(Response::Snapshot(Box::new(snapshot))))
}

fn downloads_app() -> App {
    let mut app = fixture::app(80, 24);
    ch(&mut app, '2');
    app
}

#[test]
fn q_detaches_and_ctrl_c_too_even_while_typing() {
    let mut app = fixture::app(80, 24);
    assert_eq!(ch(&mut app, 'q').exit, Some(TuiExit::Detach));
    ch(&mut app, '/');
    let fx = update(
        &mut app,
        Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert_eq!(fx.exit, Some(TuiExit::Detach));
    assert!(fx.requests.is_empty());
}

#[test]
fn shift_q_then_y_stops_the_engine() {
    let mut app = fixture::app(80, 24);
    let fx = update(
        &mut app,
        Event::Key(KeyEvent::new(KeyCode::Char('Q'), KeyModifiers::SHIFT)),
    );
    assert_eq!(fx.exit, None);
    assert!(fx.redraw, "the prompt appears");
    let fx = ch(&mut app, 'y');
    assert_eq!(fx.exit, Some(TuiExit::StopEngine));
    assert_eq!(fx.requests, vec![Request::Stop]);
}

#[test]
fn shift_q_then_n_keeps_going() {
    let mut app = fixture::app(80, 24);
    ch(&mut app, 'Q');
    let fx = ch(&mut app, 'n');
    assert_eq!(fx.exit, None);
    assert!(fx.requests.is_empty());
    assert_eq!(app.ui.mode, Mode::Normal);
}

#[test]
fn typed_search_with_inline_filters() {
    let mut app = downloads_app();
    ch(&mut app, '/');
    typed(&mut app, "ubuntu iso size>1M");
    let fx = key(&mut app, KeyCode::Enter);
    assert_eq!(
        fx.requests,
        vec![Request::Search(SearchParams {
            text: "ubuntu iso".into(),
            min_size: Some(1 << 20),
            ..SearchParams::default()
        })]
    );
    assert_eq!(app.ui.pane, Pane::Search, "the results pane comes up");
    assert_eq!(app.ui.mode, Mode::Normal);
}

#[test]
fn bad_search_stays_open_with_the_reason_and_esc_cancels() {
    let mut app = fixture::app(80, 24);
    ch(&mut app, '/');
    typed(&mut app, "x size>lots");
    let fx = key(&mut app, KeyCode::Enter);
    assert!(fx.requests.is_empty());
    assert_eq!(app.ui.mode, Mode::SearchInput("x size>lots".into()));
    assert!(app.ui.message.as_ref().is_some_and(|m| m.error));
    key(&mut app, KeyCode::Backspace);
    assert_eq!(app.ui.message, None, "editing clears the error");
    let fx = key(&mut app, KeyCode::Esc);
    assert!(fx.requests.is_empty());
    assert_eq!(app.ui.mode, Mode::Normal);
}

#[test]
fn enter_on_a_result_gets_it_and_the_answer_shows() {
    let mut app = fixture::app(80, 24);
    // Sorted by sources: 102 (42), 101 (17), 103 (3).
    let fx = key(&mut app, KeyCode::Enter);
    assert_eq!(
        fx.requests,
        vec![Request::Get {
            target: "102".into()
        }]
    );
    ch(&mut app, 'j');
    let fx = key(&mut app, KeyCode::Enter);
    assert_eq!(
        fx.requests,
        vec![Request::Get {
            target: "101".into()
        }]
    );

    let mut added = fixture::downloads().remove(0);
    added.name = "ubuntu-24.04-desktop-amd64.iso".into();
    let fx = update(
        &mut app,
        Event::Daemon(Response::Added {
            download: Box::new(added),
        }),
    );
    assert!(fx.redraw);
    let text = app
        .ui
        .message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default();
    assert!(
        text.contains("added 'ubuntu-24.04-desktop-amd64.iso'"),
        "{text}"
    );
    update(
        &mut app,
        Event::Daemon(Response::Error {
            message: "already downloading".into(),
        }),
    );
    let message = app.ui.message.clone().expect("error shown");
    assert!(message.error);
    assert_eq!(
        message.text,
        "download 'ubuntu-22.04.4-live-server-amd64.iso': already downloading"
    );
}

#[test]
fn pause_resume_and_priority_follow_the_state() {
    let mut app = downloads_app();
    // debian: downloading, high priority.
    assert_eq!(ch(&mut app, 'p').requests, vec![Request::Pause { id: 1 }]);
    assert!(ch(&mut app, '+').requests.is_empty(), "already high");
    assert_eq!(
        ch(&mut app, '-').requests,
        vec![Request::Priority {
            id: 1,
            priority: Priority::Normal
        }]
    );
    ch(&mut app, 'j');
    ch(&mut app, 'j');
    // archlinux: paused, normal priority.
    assert_eq!(ch(&mut app, 'p').requests, vec![Request::Resume { id: 3 }]);
    assert_eq!(
        ch(&mut app, '+').requests,
        vec![Request::Priority {
            id: 3,
            priority: Priority::High
        }]
    );
    ch(&mut app, 'G');
    // sintel: complete, nothing to pause.
    assert!(ch(&mut app, 'p').requests.is_empty());
}

/// Pane 2 with the multi-file torrent (id 6, the fifth row) selected.
fn torrent_app(cols: u16, rows: u16) -> App {
    let mut app = fixture::app(cols, rows);
    typed(&mut app, "2jjjj");
    assert_eq!(app.selected_download().map(|d| d.id), Some(6));
    app
}

fn file_priority(id: u64, file: usize, priority: FilePriority) -> Vec<Request> {
    vec![Request::FilePriority { id, file, priority }]
}

#[test]
fn enter_opens_the_file_list_and_space_cycles_the_file_priority() {
    let mut app = torrent_app(80, 24);
    assert!(ch(&mut app, ' ').requests.is_empty(), "no file list yet");
    assert!(key(&mut app, KeyCode::Enter).redraw);
    let focus = app.ui.files.expect("file list focused");
    assert_eq!((focus.download, focus.cursor.index), (6, 0));

    // File 0 is high: space wraps it to skip.
    assert_eq!(
        ch(&mut app, ' ').requests,
        file_priority(6, 0, FilePriority::Skip)
    );
    // File 1 is skipped: space makes it normal.
    assert!(ch(&mut app, 'j').redraw);
    assert_eq!(app.selected_file().map(|(_, i, _)| i), Some(1));
    assert_eq!(
        ch(&mut app, ' ').requests,
        file_priority(6, 1, FilePriority::Normal)
    );
    // The moves stay in the file list: the download stays selected.
    ch(&mut app, 'G');
    ch(&mut app, 'j');
    assert_eq!(app.selected_file().map(|(_, i, _)| i), Some(2));
    assert_eq!(app.selected_download().map(|d| d.id), Some(6));
    assert_eq!(
        ch(&mut app, ' ').requests,
        file_priority(6, 2, FilePriority::High)
    );

    // The answers come back in order and name the file.
    update(&mut app, Event::Daemon(Response::Ok));
    let text = app.ui.message.clone().map(|m| m.text);
    assert_eq!(
        text.as_deref(),
        Some("priority of file 'Sintel/sintel-1080p.mkv' is now skip")
    );
}

#[test]
fn plus_and_minus_change_the_file_priority_in_the_file_list() {
    let mut app = torrent_app(120, 35);
    key(&mut app, KeyCode::Enter);
    assert!(
        ch(&mut app, '+').requests.is_empty(),
        "file 0 is already high"
    );
    assert_eq!(
        ch(&mut app, '-').requests,
        file_priority(6, 0, FilePriority::Normal)
    );
    ch(&mut app, 'j');
    assert!(
        ch(&mut app, '-').requests.is_empty(),
        "file 1 is already skipped"
    );
    assert_eq!(
        ch(&mut app, '=').requests,
        file_priority(6, 1, FilePriority::Normal)
    );
    // Back in the list, + is the download's priority again.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.ui.files, None);
    assert_eq!(
        ch(&mut app, '+').requests,
        vec![Request::Priority {
            id: 6,
            priority: Priority::High
        }]
    );
}

#[test]
fn esc_enter_and_tab_leave_the_file_list_and_stay_in_the_pane() {
    for leave in [KeyCode::Esc, KeyCode::Enter, KeyCode::Tab] {
        let mut app = torrent_app(80, 24);
        key(&mut app, KeyCode::Enter);
        assert!(app.ui.files.is_some());
        assert!(key(&mut app, leave).redraw);
        assert_eq!(app.ui.files, None, "{leave:?}");
        assert_eq!(app.ui.pane, Pane::Downloads, "{leave:?}");
        ch(&mut app, 'j');
        assert_eq!(app.selected_download().map(|d| d.id), Some(5), "{leave:?}");
    }
    // A pane key leaves both.
    let mut app = torrent_app(80, 24);
    key(&mut app, KeyCode::Enter);
    ch(&mut app, '3');
    assert_eq!((app.ui.pane, app.ui.files), (Pane::Shares, None));
    ch(&mut app, '2');
    assert!(ch(&mut app, ' ').requests.is_empty());
}

#[test]
fn other_download_keys_still_work_in_the_file_list() {
    let mut app = torrent_app(80, 24);
    key(&mut app, KeyCode::Enter);
    assert_eq!(ch(&mut app, 'p').requests, vec![Request::Pause { id: 6 }]);
    ch(&mut app, 'd');
    assert_eq!(ch(&mut app, 'y').requests, vec![Request::Cancel { id: 6 }]);
}

#[test]
fn single_file_downloads_have_no_file_list() {
    let mut app = downloads_app();
    let fx = key(&mut app, KeyCode::Enter);
    assert!(fx.requests.is_empty());
    assert_eq!(app.ui.files, None);
    let text = app.ui.message.clone().map(|m| m.text);
    assert_eq!(
        text.as_deref(),
        Some("'debian-12.5.0-amd64-netinst.iso' is a single file")
    );
}

#[test]
fn the_file_list_closes_when_its_download_goes_away() {
    let mut app = torrent_app(80, 24);
    key(&mut app, KeyCode::Enter);
    ch(&mut app, 'j');
    // A new snapshot with the same files keeps the cursor.
    let mut next = snapshot();
    next.seq += 1;
    push(&mut app, next.clone());
    assert_eq!(app.selected_file().map(|(id, i, _)| (id, i)), Some((6, 1)));
    // The torrent is cancelled elsewhere: the focus ends.
    next.seq += 1;
    next.downloads.retain(|d| d.id != 6);
    push(&mut app, next);
    assert_eq!(app.ui.files, None);
    assert!(ch(&mut app, ' ').requests.is_empty());
}

#[test]
fn the_file_list_needs_the_detail_box() {
    let mut app = torrent_app(80, 15);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.ui.files, None);
    let text = app.ui.message.clone().map(|m| m.text);
    assert_eq!(
        text.as_deref(),
        Some("the terminal is too small to show the files")
    );
    // Shrinking the terminal under an open file list closes it.
    let mut app = torrent_app(80, 24);
    key(&mut app, KeyCode::Enter);
    update(&mut app, Event::Resize(80, 15));
    assert_eq!(app.ui.files, None);
}

#[test]
fn download_keys_do_nothing_outside_the_downloads_pane() {
    let mut app = fixture::app(80, 24);
    for c in ['p', '+', '-', 'd', ' '] {
        assert!(ch(&mut app, c).requests.is_empty());
    }
    assert_eq!(app.ui.mode, Mode::Normal);
}

#[test]
fn cancel_asks_first() {
    let mut app = downloads_app();
    ch(&mut app, 'j');
    let fx = ch(&mut app, 'd');
    assert!(fx.requests.is_empty());
    assert!(matches!(app.ui.mode, Mode::Confirm(_)));
    assert_eq!(ch(&mut app, 'y').requests, vec![Request::Cancel { id: 2 }]);

    ch(&mut app, 'd');
    let fx = ch(&mut app, 'n');
    assert!(fx.requests.is_empty());
    assert_eq!(fx.exit, None);
    assert_eq!(app.ui.mode, Mode::Normal);
}

#[test]
fn snapshot_with_the_same_seq_needs_no_redraw() {
    let mut app = fixture::app(80, 24);
    assert!(!push(&mut app, snapshot()).redraw);
    let mut next = snapshot();
    next.seq += 1;
    assert!(push(&mut app, next).redraw);
}

#[test]
fn the_first_snapshot_is_drawn_even_with_seq_zero() {
    let mut app = App::new(crate::keymap::KeyMap::load(None).expect("keys"));
    assert!(push(&mut app, Snapshot::default()).redraw);
    assert!(!push(&mut app, Snapshot::default()).redraw);
}

#[test]
fn keys_that_change_nothing_need_no_redraw() {
    let mut app = fixture::app(80, 24);
    assert!(!ch(&mut app, 'k').redraw, "already at the top");
    assert!(!ch(&mut app, 'x').redraw, "unbound");
    assert!(
        !update(
            &mut app,
            Event::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL))
        )
        .redraw,
        "ctrl-s is not bound"
    );
    assert!(ch(&mut app, 'j').redraw);
    assert!(ch(&mut app, '2').redraw);
}

#[test]
fn ticks_redraw_only_when_the_message_expires() {
    let mut app = fixture::app(80, 24);
    app.info("hello");
    let mut redraws = 0;
    for _ in 0..20 {
        redraws += usize::from(update(&mut app, Event::Tick).redraw);
    }
    assert_eq!(redraws, 1);
    assert_eq!(app.ui.message, None);
}

#[test]
fn selection_stays_on_the_same_row_while_results_arrive() {
    let mut app = fixture::app(80, 24);
    ch(&mut app, 'j');
    assert_eq!(app.selected_result().map(|r| r.id), Some(101));
    let mut next = snapshot();
    next.seq += 1;
    let mut more = next.searches[0].rows[0].clone();
    more.id = 104;
    more.sources = 99;
    next.searches[0].rows.push(more);
    next.searches[0].rows[0].sources = 50; // 101 moves up too
    push(&mut app, next);
    assert_eq!(app.selected_result().map(|r| r.id), Some(101));
    assert_eq!(
        app.ui.search.index, 1,
        "104 (99) sorts first, 101 (50) second"
    );
}

#[test]
fn a_new_search_starts_at_the_top() {
    let mut app = fixture::app(80, 24);
    ch(&mut app, 'G');
    let mut next = snapshot();
    next.seq += 1;
    let mut other = fixture::search();
    other.id = 8;
    next.searches.push(other);
    push(&mut app, next);
    assert_eq!(app.ui.search.index, 0);
}

#[test]
fn sort_cycles_and_keeps_the_selection() {
    let mut app = fixture::app(80, 24);
    let before = app.selected_result().map(|r| r.id);
    ch(&mut app, 's');
    assert_eq!(app.ui.search_sort.label(), "size");
    assert_eq!(app.selected_result().map(|r| r.id), before);
    ch(&mut app, 's');
    ch(&mut app, 'g');
    // "Ubuntu Linux" sorts before "ubuntu-…": a space is before a dash.
    assert_eq!(app.selected_result().map(|r| r.id), Some(103), "name order");

    let mut app = downloads_app();
    let labels: Vec<&str> = (0..4)
        .map(|_| {
            ch(&mut app, 's');
            app.ui.download_sort.label()
        })
        .collect();
    assert_eq!(labels, ["name", "progress", "rate", "queue"]);
}

#[test]
fn filter_narrows_as_you_type_and_esc_clears() {
    let mut app = downloads_app();
    ch(&mut app, 'f');
    typed(&mut app, "MKV");
    let names: Vec<&str> = app
        .download_rows()
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(names, ["big-buck-bunny-1080p.mkv", "sintel.mkv"]);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.ui.mode, Mode::Normal);
    assert_eq!(app.download_rows().len(), 2, "Enter keeps the filter");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.download_rows().len(), 6, "Esc in the list clears it");

    ch(&mut app, 'f');
    typed(&mut app, "sintel");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.download_rows().len(), 6);
}

#[test]
fn panes_switch_with_tab_and_digits() {
    let mut app = fixture::app(80, 24);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.ui.pane, Pane::Downloads);
    update(
        &mut app,
        Event::Key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)),
    );
    update(
        &mut app,
        Event::Key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)),
    );
    assert_eq!(app.ui.pane, Pane::Log);
    ch(&mut app, '4');
    assert_eq!(app.ui.pane, Pane::Networks);
}

#[test]
fn help_opens_and_any_key_closes_it() {
    let mut app = fixture::app(80, 24);
    ch(&mut app, '?');
    assert_eq!(app.ui.mode, Mode::Help);
    let fx = ch(&mut app, 'q');
    assert_eq!(fx.exit, None, "q closes the overlay, it does not detach");
    assert_eq!(app.ui.mode, Mode::Normal);
}

#[test]
fn log_follows_the_tail_until_scrolled_up() {
    let mut app = fixture::app(80, 24);
    ch(&mut app, '5');
    assert_eq!(app.ui.log_back, 0);
    let mut next = snapshot();
    next.seq += 1;
    next.log = fixture::log(45);
    push(&mut app, next.clone());
    assert_eq!(app.ui.log_back, 0, "still following");

    ch(&mut app, 'k');
    ch(&mut app, 'k');
    assert_eq!(app.ui.log_back, 2);
    // Two more lines arrive: the view stays on the same lines.
    next.seq += 1;
    let extra = next.log[5].clone();
    next.log.push(extra.clone());
    next.log.push(extra);
    push(&mut app, next);
    assert_eq!(app.ui.log_back, 4);
    ch(&mut app, 'G');
    assert_eq!(app.ui.log_back, 0);
}

#[test]
fn paging_moves_by_a_screen() {
    let mut app = fixture::app(80, 24);
    let mut next = snapshot();
    next.seq += 1;
    next.searches[0].rows = (0..100)
        .map(|i| {
            let mut r = fixture::search().rows[0].clone();
            r.id = 1000 + i;
            r.sources = 1000 - i as u32;
            r
        })
        .collect();
    push(&mut app, next);
    key(&mut app, KeyCode::PageDown);
    let page = crate::ui::list_rows(&app, Pane::Search);
    assert!(page > 5, "{page}");
    assert_eq!(app.ui.search.index, page);
    assert!(app.ui.search.offset > 0, "scrolled to keep it in view");
    ch(&mut app, 'G');
    assert_eq!(app.ui.search.index, 99);
    ch(&mut app, 'g');
    assert_eq!((app.ui.search.index, app.ui.search.offset), (0, 0));
}

#[test]
fn a_downloads_files_are_asked_for_only_while_its_detail_shows() {
    let mut app = App::new(crate::keymap::KeyMap::load(None).expect("keys"));
    update(&mut app, Event::Resize(80, 24));
    // The Search pane shows no files: nothing is asked.
    assert!(push(&mut app, snapshot()).requests.is_empty());
    assert!(update(&mut app, Event::Tick).requests.is_empty());
    ch(&mut app, '2');
    // Moving onto the torrent asks for its files, once until answered.
    let asked: Vec<Request> = "jjjj"
        .chars()
        .flat_map(|c| ch(&mut app, c).requests)
        .collect();
    assert_eq!(asked, vec![Request::Files { id: 6 }]);
    assert!(update(&mut app, Event::Tick).requests.is_empty());
    let fx = update(
        &mut app,
        Event::Daemon(Response::Files {
            id: 6,
            files: fixture::torrent_files(),
        }),
    );
    assert!(fx.redraw);
    assert_eq!(app.ui.message, None, "a fetch says nothing");
    assert_eq!(app.files_of(6).len(), 3);
    // While it shows, each tick refreshes its progress.
    assert_eq!(
        update(&mut app, Event::Tick).requests,
        vec![Request::Files { id: 6 }]
    );
}

#[test]
fn shared_files_are_asked_for_in_the_shares_pane_when_they_change() {
    let mut app = fixture::app(80, 24);
    assert!(ch(&mut app, '3').requests.is_empty(), "revision 1 is there");
    let mut next = snapshot();
    next.seq += 1;
    next.shares.revision = 2;
    assert_eq!(push(&mut app, next).requests, vec![Request::SharedFiles]);
    // Another pane asks for nothing.
    ch(&mut app, '1');
    let mut later = snapshot();
    later.seq += 2;
    later.shares.revision = 3;
    assert!(push(&mut app, later).requests.is_empty());
}
