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

    /// Mounts one, or says loudly why the test cannot run (and fails in CI,
    /// which runs as root).
    fn mount_or_skip(dir: &Path, size: &str) -> Option<Tmpfs> {
        let mounted = Tmpfs::mount(dir, size);
        if mounted.is_none() {
            assert!(
                std::env::var_os("SWARMUX_REQUIRE_PEERS").is_none(),
                "mounting a tmpfs needs root, which CI has"
            );
            eprintln!(
                "\n!!! SKIPPED: cannot mount a tmpfs (not root); this disk test did not run !!!\n"
            );
        }
        mounted
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

/// A client of `swarm` whose config puts `key` (`temp_dir` or `download_dir`)
/// on `small`, fetching the shared file until the download stops with an
/// error; returns the client and its download, after checking the error
/// says the disk is full and what to do.
fn get_until_disk_full(
    root: &Path,
    swarm: &OneSharer,
    key: &str,
    small: &Tmpfs,
) -> (Node, serde_json::Value) {
    let cdir = root.join("c");
    std::fs::create_dir_all(&cdir).unwrap();
    std::fs::write(
        cdir.join("config.toml"),
        format!("{key} = {:?}\n", small.0.display().to_string()),
    )
    .unwrap();
    let c = swarm.client(&cdir);
    let id = swarm.find(&c, "big");
    assert!(c.cli(&["get", &id.to_string()]).status.success());
    let d = wait_for(120, "the download to stop with an error", || {
        let d = first_download(&c);
        (d["state"]["state"] == "error").then_some(d)
    });
    let reason = d["state"]["reason"].as_str().unwrap_or_default();
    println!("error shown: {reason}");
    assert!(
        reason.contains("No space left on device") && reason.contains("resume"),
        "the error says what happened and what to do: {reason}"
    );
    (c, d)
}

#[test]
fn full_disk_stops_the_download_with_a_clear_error_and_resume_completes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(small) = Tmpfs::mount_or_skip(&tmp.path().join("small-temp"), "20m") else {
        return;
    };
    let content = data(SIZE, 11);
    let swarm = OneSharer::start(tmp.path(), "big.bin", &content);
    let (mut c, d) = get_until_disk_full(tmp.path(), &swarm, "temp_dir", &small);
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
    let got = std::fs::read(c.proc.dir.join("downloads").join("big.bin")).unwrap();
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

/// The download folder on a full file system (the temp folder elsewhere): the
/// finished file cannot be copied there. Nothing is left under its final name
/// (nothing half-copied gets shared), the verified data stays in temp, and
/// after space is freed `resume` lands it under its own name, not `name (1)`.
#[test]
fn a_failed_move_leaves_no_partial_file_and_resume_lands_it_under_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(small) = Tmpfs::mount_or_skip(&tmp.path().join("small-downloads"), "8m") else {
        return;
    };
    let content = data(20_000_000, 12);
    let swarm = OneSharer::start(tmp.path(), "big.bin", &content);
    let (mut c, d) = get_until_disk_full(tmp.path(), &swarm, "download_dir", &small);
    let left: Vec<_> = std::fs::read_dir(&small.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "the download folder holds {left:?} after a failed move"
    );
    assert_eq!(
        c.status()["shares"]["file_count"],
        0,
        "nothing partial is shared"
    );

    small.grow("64m");
    let did = d["id"].as_u64().unwrap().to_string();
    assert!(c.cli(&["resume", &did]).status.success());
    wait_for(60, "the resumed download to complete", || {
        (first_download(&c)["state"]["state"] == "complete").then_some(())
    });
    let names: Vec<_> = std::fs::read_dir(&small.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["big.bin"], "it lands under its own name");
    assert!(std::fs::read(small.0.join("big.bin")).unwrap() == content);
    assert!(c.proc.alive());
}
