//! Command-line verbs: each is one or a few requests to the daemon.

use super::args::{Command, SearchArgs, ServersCommand, ShareCommand};
use super::format;
use super::out::{out, outln};
use std::path::Path;
use std::time::{Duration, Instant};
use swarmux_api::{Client, DownloadState, Priority, Request, Response, SearchParams, Snapshot};
use swarmux_net::{FileKind, FilePriority};

/// Runs a client verb against the daemon of `data_dir`; returns the exit code.
pub async fn run(data_dir: &Path, json: bool, command: Command) -> anyhow::Result<i32> {
    let mut client = Client::connect(&data_dir.join(swarmux_api::SOCKET_NAME)).await?;
    let req = match command {
        Command::Search(args) => return search(&mut client, json, args).await,
        Command::Get { target, wait } => {
            // A .torrent file is read by the daemon: send its absolute path.
            let target = if Path::new(&target).is_file() {
                absolute(&target)
            } else {
                target
            };
            return get(&mut client, json, target, wait).await;
        }
        Command::List => {
            let s = client.snapshot().await?;
            if json {
                print_json(&serde_json::json!({"downloads": s.downloads, "uploads": s.uploads}));
            } else {
                out!("{}", format::downloads(&s.downloads));
            }
            return Ok(0);
        }
        Command::Status => {
            let s = client.snapshot().await?;
            if json {
                print_json(&s);
            } else {
                out!("{}", format::status(&s));
            }
            return Ok(0);
        }
        Command::Share(ShareCommand::List) => {
            let s = client.snapshot().await?;
            let Response::SharedFiles { files, .. } = client.call(&Request::SharedFiles).await?
            else {
                anyhow::bail!("the daemon answered something else than the shared files");
            };
            if json {
                print_json(&serde_json::json!({
                    "dirs": s.shares.dirs,
                    "files": files,
                    "hashing": s.shares.hashing,
                }));
            } else {
                for d in &s.shares.dirs {
                    outln!("folder {d}");
                }
                for f in &files {
                    outln!("{:>10}  {}  {}", format::size(f.size), f.ed2k, f.path);
                }
            }
            return Ok(0);
        }
        Command::Servers(ServersCommand::List) => {
            let s = client.snapshot().await?;
            let servers: Vec<_> = s.networks.iter().flat_map(|n| n.servers.clone()).collect();
            if json {
                print_json(&servers);
            } else {
                for srv in servers {
                    outln!(
                        "{}  [{}]  {}  {}",
                        srv.addr,
                        srv.state,
                        srv.name,
                        srv.identity
                    );
                }
            }
            return Ok(0);
        }
        Command::Files {
            id,
            file: Some(file),
            level: Some(level),
        } => Request::FilePriority {
            id,
            file,
            priority: match level.as_str() {
                "skip" => FilePriority::Skip,
                "high" => FilePriority::High,
                _ => FilePriority::Normal,
            },
        },
        Command::Files { id, .. } => return files(&mut client, json, id).await,
        Command::Pause { id } => Request::Pause { id },
        Command::Resume { id } => Request::Resume { id },
        Command::Cancel { id } => Request::Cancel { id },
        Command::Priority { id, level } => Request::Priority {
            id,
            priority: Priority::parse(&level).unwrap_or_default(),
        },
        Command::Share(ShareCommand::Add { dir }) => Request::ShareAdd {
            dir: absolute(&dir),
        },
        Command::Share(ShareCommand::Remove { dir }) => Request::ShareRemove {
            dir: absolute(&dir),
        },
        Command::Servers(ServersCommand::Add { addr }) => Request::ServersAdd { addr },
        Command::Connect { network, addr } => Request::Connect { network, addr },
        Command::Servers(ServersCommand::Remove { addr }) => Request::ServersRemove { addr },
        Command::Servers(ServersCommand::Import { file }) => Request::ServersImport {
            path: absolute(&file.display().to_string()),
        },
        Command::Limits { down, up, slots } => Request::SetLimits {
            download: down.map(|k| k * 1024),
            upload: up.map(|k| k * 1024),
            slots,
        },
        Command::Stop => Request::Stop,
        Command::Daemon(_) | Command::IndexServer(_) => unreachable!("handled by main"),
    };
    let resp = client.call(&req).await?;
    if json {
        print_json(&resp);
    } else if let Response::Imported { count } = resp {
        outln!("imported {count} servers");
    }
    Ok(0)
}

/// Prints the files of a multi-file download.
async fn files(client: &mut Client, json: bool, id: u64) -> anyhow::Result<i32> {
    let Response::Files { files, .. } = client.call(&Request::Files { id }).await? else {
        anyhow::bail!("the daemon answered something else than the files of #{id}");
    };
    if json {
        print_json(&files);
    } else if files.is_empty() {
        outln!("#{id} is a single file");
    } else {
        for (i, f) in files.iter().enumerate() {
            let pct = (f.done * 100).checked_div(f.size).unwrap_or(100);
            outln!(
                "{i:>4}  {:<6}  {:>10}  {pct:>3}%  {}",
                format!("{:?}", f.priority).to_lowercase(),
                format::size(f.size),
                f.path
            );
        }
    }
    Ok(0)
}

/// Paths are sent absolute: the daemon's working directory is not the client's.
fn absolute(p: &str) -> String {
    std::path::absolute(p)
        .map(|a| a.display().to_string())
        .unwrap_or_else(|_| p.to_string())
}

fn print_json<T: serde::Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => outln!("{s}"),
        Err(e) => eprintln!("cannot encode the answer: {e}"),
    }
}

async fn search(client: &mut Client, json: bool, args: SearchArgs) -> anyhow::Result<i32> {
    if let Some(flag) = args.words.iter().find(|w| w.starts_with("--")) {
        anyhow::bail!(
            "{flag} comes after the search words; put options first, e.g. `swarmux search --wait 3 ubuntu -beta`"
        );
    }
    let kind = match &args.kind {
        Some(k) => Some(FileKind::parse(k).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown type {k:?}: use audio, video, image, program, document, archive or iso"
            )
        })?),
        None => None,
    };
    let params = SearchParams {
        text: args.words.join(" "),
        min_size: args.min_size,
        max_size: args.max_size,
        kind,
        extension: args.ext,
        networks: args.networks,
    };
    let Response::SearchStarted { id } = client.call(&Request::Search(params)).await? else {
        anyhow::bail!("the daemon did not start the search");
    };
    let deadline = Instant::now() + Duration::from_secs_f64(args.wait.max(0.0));
    let rows = loop {
        let snap = client.snapshot().await?;
        let view = snap.searches.into_iter().find(|s| s.id == id);
        let done = view.as_ref().is_none_or(|v| v.pending.is_empty());
        if done || Instant::now() >= deadline {
            break view.map(|v| v.rows).unwrap_or_default();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    if json {
        print_json(&serde_json::json!({"search": id, "rows": rows}));
    } else if rows.is_empty() {
        outln!("search #{id}: nothing found yet (results keep arriving in the TUI)");
    } else {
        out!("{}", format::results(&rows));
    }
    Ok(0)
}

async fn get(client: &mut Client, json: bool, target: String, wait: bool) -> anyhow::Result<i32> {
    let Response::Added { download } = client.call(&Request::Get { target }).await? else {
        anyhow::bail!("the daemon did not queue the download");
    };
    let id = download.id;
    if !wait {
        if json {
            print_json(&download);
        } else {
            outln!("queued #{id}: {}", download.name);
        }
        return Ok(0);
    }
    let mut last_report = Instant::now();
    loop {
        let snap: Snapshot = client.snapshot().await?;
        let Some(d) = snap.downloads.into_iter().find(|d| d.id == id) else {
            eprintln!("download #{id} was cancelled");
            return Ok(1);
        };
        match &d.state {
            DownloadState::Complete => {
                if json {
                    print_json(&d);
                } else {
                    outln!("{}", d.path.unwrap_or_default());
                }
                return Ok(0);
            }
            DownloadState::Error(reason) => {
                eprintln!("download #{id} failed: {reason}");
                return Ok(1);
            }
            _ => {}
        }
        if !json && last_report.elapsed() > Duration::from_secs(5) {
            last_report = Instant::now();
            eprintln!("{}", format::download(&d));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
