//! Drives the real binary in tmux and reads the screen, as a user over SSH would.

mod common;

use common::*;
use std::process::Command;

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn screen(session: &str) -> String {
    tmux(&["capture-pane", "-p", "-t", session])
}

fn wait_screen(session: &str, what: &str) -> String {
    wait_for(20, &format!("{what:?} on the screen"), || {
        let s = screen(session);
        s.contains(what).then_some(s)
    })
}

#[test]
fn tui_attaches_switches_panes_and_detaches_leaving_the_engine_running() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("SWARMUX_REQUIRE_PEERS").is_none(),
            "tmux is required in CI"
        );
        eprintln!("\n!!! SKIPPED: tmux is not installed; the TUI was not driven for real !!!\n");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    std::fs::create_dir_all(&dir).unwrap();
    // A config that binds the ed2k port anywhere free, as the daemon will be
    // started by the TUI itself.
    std::fs::write(
        dir.join("config.toml"),
        "[ed2k]\nport = 0\n[bittorrent]\nport = 0\ndht_port = 0\n[gnutella]\nport = 0\n",
    )
    .unwrap();
    let session = format!("swarmux-test-{}", std::process::id());
    let cmd = format!("{} --data-dir {}", bin(), dir.display());
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "100",
        "-y",
        "30",
        &cmd,
    ]);
    let first = wait_screen(&session, "Press / to search");
    println!("{first}");
    // Search input line.
    tmux(&["send-keys", "-t", &session, "/"]);
    tmux(&["send-keys", "-t", &session, "-l", "ubuntu iso"]);
    tmux(&["send-keys", "-t", &session, "Enter"]);
    wait_screen(&session, "ubuntu iso");
    // A second TUI attaches to the same engine at the same time and sees the
    // same state; it detaches without disturbing the first.
    let second = format!("{session}-2");
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &second,
        "-x",
        "80",
        "-y",
        "24",
        &cmd,
    ]);
    let other = wait_screen(&second, "ubuntu iso");
    println!("{other}");
    tmux(&["send-keys", "-t", &second, "q"]);
    wait_for(20, "the second TUI to exit", || {
        (!tmux(&["list-sessions"]).contains(&second)).then_some(())
    });
    assert!(
        screen(&session).contains("ubuntu iso"),
        "the first TUI lives on"
    );
    tmux(&["send-keys", "-t", &session, "2"]);
    wait_screen(&session, "Downloads");
    tmux(&["send-keys", "-t", &session, "?"]);
    let help = wait_screen(&session, "pause");
    println!("{help}");
    tmux(&["send-keys", "-t", &session, "Escape"]);
    tmux(&["send-keys", "-t", &session, "q"]);
    wait_for(20, "the TUI to exit", || {
        let s = tmux(&["list-sessions"]);
        (!s.contains(&session)).then_some(())
    });
    // The engine still runs: the command line reaches it.
    let out = Command::new(bin())
        .args(["--data-dir", dir.to_str().unwrap(), "--json", "status"])
        .output()
        .unwrap();
    assert!(out.status.success(), "the engine stopped with the TUI");
    let stop = Command::new(bin())
        .args(["--data-dir", dir.to_str().unwrap(), "stop"])
        .output()
        .unwrap();
    assert!(stop.status.success());
}
