//! A full disk in the middle of a download: the download stops with a clear
//! error, keeps its verified parts, and completes after space is freed and
//! the user resumes it. The temp folder is a small tmpfs (needs root, as CI has).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const SIZE: usize = 50_000_000;

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .ok()?
            .success();
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    fn grow(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remounting the tmpfs failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn full_disk_stops_the_download_with_a_clear_error_and_resume_completes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(small) = Tmpfs::mount(&tmp.path().join("small-temp"), "20m") else {
        assert!(
            std::env::var_os("SWARMUX_REQUIRE_PEERS").is_none(),
            "mounting a tmpfs needs root, which CI has"
        );
        eprintln!(
            "\n!!! SKIPPED: cannot mount a tmpfs (not root); the full-disk test did not run !!!\n"
        );
        return;
    };
    let server = IndexServer::start(&tmp.path().join("server"));
    let content = data(SIZE, 11);
    let share = tmp.path().join("a").join("share");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join("big.bin"), &content).unwrap();
    let a = Node::start(
        &tmp.path().join("a"),
        &[
            "--server",
            &server.addr(),
            "--share",
            share.to_str().unwrap(),
        ],
    );
    a.wait_ready(1);
    let cdir = tmp.path().join("c");
    std::fs::create_dir_all(&cdir).unwrap();
    std::fs::write(
        cdir.join("config.toml"),
        format!("temp_dir = {:?}\n", small.0.display().to_string()),
    )
    .unwrap();
    let mut c = Node::start(&cdir, &["--server", &server.addr()]);
    c.wait_ready(0);
    let id = wait_for(30, "the search row", || {
        let v = c.json(&["search", "--wait", "3", "big"]);
        v["rows"].get(0)?["id"].as_u64()
    });
    assert!(c.cli(&["get", &id.to_string()]).status.success());

    let d = wait_for(60, "the download to stop with an error", || {
        let d = first_download(&c);
        (d["state"]["state"] == "error").then_some(d)
    });
    let reason = d["state"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    println!("error shown: {reason}");
    assert!(
        reason.contains("No space left on device") && reason.contains("resume"),
        "the error says what happened and what to do: {reason}"
    );
    assert!(c.proc.alive(), "the daemon survives a full disk");
    let verified = d["parts_verified"].as_u64().unwrap();
    assert!(
        verified >= 1,
        "parts verified before the disk filled are kept"
    );

    small.grow("200m");
    let did = d["id"].as_u64().unwrap().to_string();
    assert!(c.cli(&["resume", &did]).status.success());
    wait_for(120, "the resumed download to complete", || {
        (first_download(&c)["state"]["state"] == "complete").then_some(())
    });
    let got = std::fs::read(cdir.join("downloads").join("big.bin")).unwrap();
    assert!(
        got == content,
        "the file is byte-identical after the resume"
    );
    let received = first_download(&c)["received"].as_u64().unwrap();
    let missing = SIZE as u64 - verified * PART;
    println!("after resume: received {received} bytes, {missing} were missing");
    assert!(
        received <= missing + 3 * 184_320,
        "verified parts were fetched again: {received} > {missing}"
    );
}
