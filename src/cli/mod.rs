//! The `swarmux` command line: the daemon, the index server, client verbs,
//! and attaching the TUI.

pub mod args;
mod commands;
mod format;
mod out;

use crate::config::{default_data_dir, Config};
use args::{Cli, Command, IndexServerArgs};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Runs what the command line asks for; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let data_dir = cli.data_dir.clone().unwrap_or_else(default_data_dir);
    match cli.command {
        Some(Command::Daemon(overrides)) => {
            crate::daemon::run(data_dir, overrides).await?;
            Ok(0)
        }
        Some(Command::IndexServer(args)) => {
            index_server(&data_dir, args).await?;
            Ok(0)
        }
        Some(command) => commands::run(&data_dir, cli.json, command).await,
        None => attach(&data_dir).await,
    }
}

/// Starts a daemon for `data_dir` unless one runs, then attaches the TUI.
async fn attach(data_dir: &Path) -> anyhow::Result<i32> {
    let socket = data_dir.join(swarmux_api::SOCKET_NAME);
    let client = match swarmux_api::Client::connect(&socket).await {
        Ok(c) => c,
        Err(_) => {
            spawn_daemon(data_dir)?;
            wait_for_socket(&socket).await?
        }
    };
    let exit = swarmux_tui::run(client, swarmux_tui::TuiOptions::default()).await?;
    if exit == swarmux_tui::TuiExit::Detach {
        out::outln!("detached; the engine keeps running (`swarmux` attaches again, `swarmux stop` stops it)");
    }
    Ok(0)
}

/// Starts `swarmux daemon` in the background, in its own session, logging to
/// `daemon.log` in the data dir.
fn spawn_daemon(data_dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    crate::private::secure_data_dir(data_dir)?;
    let log = crate::private::create_private(&data_dir.join("daemon.log"), true)?;
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg("--data-dir")
        .arg(data_dir)
        .arg("daemon")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe; it detaches the daemon from the
    // terminal so it survives the SSH session.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn()?;
    Ok(())
}

async fn wait_for_socket(socket: &Path) -> anyhow::Result<swarmux_api::Client> {
    for _ in 0..100 {
        if let Ok(c) = swarmux_api::Client::connect(socket).await {
            return Ok(c);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!(
        "the daemon did not start; see {}",
        socket.with_file_name("daemon.log").display()
    )
}

/// The index server's user hash, kept in `index-server.hash` so that it stays
/// the same across restarts (clients such as aMule remember it).
fn server_hash(data_dir: &Path) -> anyhow::Result<[u8; 16]> {
    let path = data_dir.join("index-server.hash");
    let stored = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| hex::decode(t.trim()).ok())
        .and_then(|v| <[u8; 16]>::try_from(v).ok());
    if let Some(h) = stored {
        return Ok(h);
    }
    let h: [u8; 16] = rand::random();
    crate::private::write_private(&path, hex::encode(h).as_bytes())?;
    Ok(h)
}

/// Runs the ed2k index server until SIGINT or SIGTERM.
async fn index_server(data_dir: &Path, args: IndexServerArgs) -> anyhow::Result<()> {
    let config = Config::load_or_create(data_dir)?;
    let s = &config.index_server;
    let mut cfg = swarmux_ed2k::server::IndexServerConfig {
        listen: s.listen,
        name: s.name.clone(),
        description: s.description.clone(),
        message: s.message.clone(),
        max_files_per_client: s.max_files_per_client,
        max_results: s.max_results,
        idle_timeout: Duration::from_secs(s.idle_timeout_secs),
        ..Default::default()
    };
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if let Some(n) = args.name {
        cfg.name = n;
    }
    if let Some(m) = args.message {
        cfg.message = m;
    }
    cfg.hash = Some(server_hash(data_dir)?);
    let server = swarmux_ed2k::server::bind(cfg).await?;
    let addr = server.local_addr()?;
    let ports = serde_json::json!({ "index_server": addr.port() }).to_string();
    std::fs::write(data_dir.join("ports.json"), ports)?;
    // A closed stdout must not stop the server.
    let _ = writeln!(
        std::io::stdout(),
        "swarmux index-server listening on {addr}"
    );
    server.run(crate::daemon::shutdown_signal()).await;
    Ok(())
}
