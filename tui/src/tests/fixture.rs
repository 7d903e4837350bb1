//! A realistic engine state to render and update against.

use crate::app::{App, Pending};
use crate::keymap::KeyMap;
use crate::update::{update, Event};
use swarmux_api::*;
use swarmux_net::message::{LogLevel, PeerInfo, SeedInfo, ServerInfo, UploadInfo};
use swarmux_net::{FileInfo, FileKind, FilePriority};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// An app that has received [`snapshot`] on a `cols`×`rows` terminal.
pub fn app(cols: u16, rows: u16) -> App {
    let mut app = App::new(KeyMap::load(None).expect("default key map"));
    update(&mut app, Event::Resize(cols, rows));
    update(
        &mut app,
        Event::Daemon(Response::Snapshot(Box::new(snapshot()))),
    );
    // The daemon answers the lists the views ask for.
    for answer in [
        Response::Files {
            id: torrent().id,
            files: torrent_files(),
        },
        Response::SharedFiles {
            revision: snapshot().shares.revision,
            files: shared_files(),
        },
    ] {
        app.pending.push_back(Pending::Fetch);
        update(&mut app, Event::Daemon(answer));
    }
    app
}

/// The shared files of [`snapshot`].
pub fn shared_files() -> Vec<SharedFileView> {
    vec![
        SharedFileView {
            path: "/home/ana/Public/ubuntu-24.04-desktop-amd64.iso".into(),
            size: 6 * GIB,
            ed2k: "ed2k:00112233445566778899aabbccddeeff".into(),
        },
        SharedFileView {
            path: "/home/ana/Public/notes.txt".into(),
            size: 2048,
            ed2k: "ed2k:ffeeddccbbaa99887766554433221100".into(),
        },
    ]
}

fn row(id: u64, name: &str, size: u64, sources: u32, complete: u32, nets: &[&str]) -> ResultRow {
    ResultRow {
        id,
        name: name.into(),
        size,
        kind: FileKind::from_name(name),
        sources,
        complete_sources: complete,
        networks: nets.iter().map(|n| n.to_string()).collect(),
        hashes: vec![format!("ed2k:{id:032x}")],
    }
}

fn download(id: u64, name: &str, size: u64, state: DownloadState) -> DownloadView {
    DownloadView {
        id,
        name: name.into(),
        size,
        network: "ed2k".into(),
        hash: format!("ed2k:{id:032X}"),
        state,
        priority: Priority::Normal,
        verified: 0,
        parts_total: (size / (9_728_000)) as usize + 1,
        parts_verified: 0,
        received: 0,
        rate: 0,
        eta_secs: None,
        sources: 0,
        active_sources: 0,
        note: String::new(),
        peers: Vec::new(),
        path: None,
        file_count: 0,
    }
}

/// The search results of "ubuntu iso" while Kad is still answering.
pub fn search() -> SearchView {
    SearchView {
        id: 7,
        text: "ubuntu iso".into(),
        rows: vec![
            row(
                101,
                "ubuntu-22.04.4-live-server-amd64.iso",
                2 * GIB,
                17,
                12,
                &["ed2k"],
            ),
            row(
                102,
                "ubuntu-24.04-desktop-amd64.iso",
                6 * GIB,
                42,
                30,
                &["ed2k", "kad"],
            ),
            row(103, "Ubuntu Linux Unleashed.pdf", 12 * MIB, 3, 3, &["ed2k"]),
        ],
        pending: vec!["kad".into()],
    }
}

fn file(path: &str, size: u64, done: u64, priority: FilePriority) -> FileInfo {
    FileInfo {
        path: path.into(),
        size,
        done,
        priority,
    }
}

/// The files of [`torrent`].
pub fn torrent_files() -> Vec<FileInfo> {
    vec![
        file(
            "Sintel/sintel-1080p.mkv",
            700 * MIB,
            350 * MIB,
            FilePriority::High,
        ),
        file(
            "Big Buck Bunny/big_buck_bunny_1080p.mov",
            900 * MIB,
            0,
            FilePriority::Skip,
        ),
        file(
            "Tears of Steel/tears_of_steel_720p.mkv",
            365 * MIB,
            100 * MIB,
            FilePriority::Normal,
        ),
    ]
}

/// A torrent of three files, the second one skipped.
pub fn torrent() -> DownloadView {
    let files = torrent_files();
    let size = files.iter().map(|f| f.size).sum();
    let mut t = download(6, "blender-open-movies", size, DownloadState::Downloading);
    t.network = "bittorrent".into();
    t.hash = "btih:c9e15763f722f23e98a29decdfae341b98d53056".into();
    t.verified = 450 * MIB;
    t.parts_total = 492;
    t.parts_verified = 112;
    t.received = 450 * MIB;
    t.rate = 409_600;
    t.eta_secs = Some(2400);
    t.sources = 9;
    t.active_sources = 2;
    t.peers = vec![
        PeerInfo {
            addr: "203.0.113.9:51413".into(),
            client: "Transmission 4.0.5".into(),
            state: "downloading".into(),
            received: 300 * MIB,
            rate: 307_200,
        },
        PeerInfo {
            addr: "198.51.100.23:6881".into(),
            client: "qBittorrent 4.6.4".into(),
            state: "choked".into(),
            received: 150 * MIB,
            rate: 0,
        },
    ];
    t.file_count = files.len();
    t
}

/// Two seeded torrents: one past ratio 1, one idle with a tracker error.
pub fn seeding() -> Vec<SeedView> {
    vec![
        SeedView {
            network: "bittorrent".into(),
            info: SeedInfo {
                id: 10,
                name: "ubuntu-24.04-desktop-amd64.iso".into(),
                size: 6 * GIB,
                uploaded: 9 * GIB,
                downloaded: 6 * GIB,
                rate: 204_800,
                peers: 3,
                note: "tracker: 120 seeds, 4 leeches".into(),
            },
        },
        SeedView {
            network: "bittorrent".into(),
            info: SeedInfo {
                id: 11,
                name: "photos-2023".into(),
                size: 2 * GIB,
                uploaded: 512 * MIB,
                downloaded: 0,
                rate: 0,
                peers: 0,
                note: "tracker: announce timed out".into(),
            },
        },
    ]
}

/// Six downloads in every interesting state, one of them a multi-file torrent.
pub fn downloads() -> Vec<DownloadView> {
    let mut debian = download(
        1,
        "debian-12.5.0-amd64-netinst.iso",
        640 * MIB,
        DownloadState::Downloading,
    );
    debian.verified = debian.size * 45 / 100;
    debian.parts_verified = 31;
    debian.parts_total = 70;
    debian.received = 300 * MIB;
    debian.rate = 1_258_291;
    debian.eta_secs = Some(300);
    debian.sources = 12;
    debian.active_sources = 3;
    debian.priority = Priority::High;
    debian.peers = vec![
        PeerInfo {
            addr: "82.64.12.7:4662".into(),
            client: "eMule 0.50a".into(),
            state: "downloading".into(),
            received: 120 * MIB,
            rate: 800_000,
        },
        PeerInfo {
            addr: "91.121.3.44:5000".into(),
            client: "aMule 2.3.3".into(),
            state: "queued #12".into(),
            received: 0,
            rate: 0,
        },
    ];
    let mut bunny = download(
        2,
        "big-buck-bunny-1080p.mkv",
        885 * MIB,
        DownloadState::Queued,
    );
    bunny.note = "queued at rank 4 on 2 sources".into();
    bunny.sources = 2;
    let mut arch = download(
        3,
        "archlinux-2024.05.01-x86_64.iso",
        1100 * MIB,
        DownloadState::Paused,
    );
    arch.verified = 100 * MIB;
    let broken = download(
        4,
        "backup.zip",
        40 * MIB,
        DownloadState::Error("disk full".into()),
    );
    let mut sintel = download(5, "sintel.mkv", 720 * MIB, DownloadState::Complete);
    sintel.verified = sintel.size;
    sintel.path = Some("/home/ana/Downloads/sintel.mkv".into());
    vec![debian, bunny, arch, broken, torrent(), sintel]
}

/// The whole engine state.
pub fn snapshot() -> Snapshot {
    Snapshot {
        seq: 42,
        daemon: DaemonInfo {
            pid: 4242,
            version: "0.1.0".into(),
            data_dir: "/home/ana/.local/share/swarmux".into(),
            download_dir: "/home/ana/Downloads".into(),
            started: 1_717_000_000,
        },
        totals: Totals {
            down_rate: 1_258_291,
            up_rate: 51_200,
            received: 300 * MIB,
            uploaded: 12 * MIB,
            down_limit: 2 * MIB,
            up_limit: 0,
            upload_slots: 4,
            max_active_downloads: 3,
            connected_servers: 1,
        },
        searches: vec![search()],
        downloads: downloads(),
        shares: SharesView {
            dirs: vec!["/home/ana/Public".into()],
            file_count: 2,
            revision: 1,
            hashing: Some(HashingView {
                files_left: 2,
                bytes_left: 3 * GIB / 2,
                current: "/home/ana/Public/film.mkv".into(),
            }),
        },
        uploads: vec![UploadView {
            network: "ed2k".into(),
            info: UploadInfo {
                peer: "77.12.9.1:4662".into(),
                client: "eMule 0.50a".into(),
                file: "ubuntu-24.04-desktop-amd64.iso".into(),
                sent: 12 * MIB,
                rate: 51_200,
            },
        }],
        seeding: seeding(),
        networks: vec![NetworkView {
            name: "ed2k".into(),
            servers: vec![
                ServerInfo {
                    addr: "45.82.80.155:5687".into(),
                    name: "eMule Security".into(),
                    state: "connected".into(),
                    identity: "high ID 16777343".into(),
                    users: 212_000,
                    files: 31_000_000,
                    message: "Welcome to eMule Security".into(),
                },
                ServerInfo {
                    addr: "176.123.5.89:4725".into(),
                    name: "Razorback 3.0".into(),
                    state: "connecting".into(),
                    identity: String::new(),
                    users: 0,
                    files: 0,
                    message: String::new(),
                },
            ],
            listening: vec![
                ("tcp".into(), "0.0.0.0:4662".into()),
                ("udp".into(), "0.0.0.0:4672".into()),
            ],
            uploaded: 12 * MIB,
        }],
        log: log(40),
    }
}

/// `n` log lines ending with a warning and an error.
pub fn log(n: u64) -> Vec<LogLine> {
    let mut lines: Vec<LogLine> = (0..n)
        .map(|i| LogLine {
            time: 1_717_000_000 + i,
            source: "ed2k".into(),
            level: LogLevel::Info,
            message: format!("event number {i}"),
        })
        .collect();
    lines.push(LogLine {
        time: 1_717_000_100,
        source: "ed2k".into(),
        level: LogLevel::Warn,
        message: "server 176.123.5.89:4725 is slow to answer".into(),
    });
    lines.push(LogLine {
        time: 1_717_000_101,
        source: "engine".into(),
        level: LogLevel::Error,
        message: "backup.zip: disk full".into(),
    });
    lines
}
