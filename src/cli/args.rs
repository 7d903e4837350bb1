//! The command line, as clap parses it.

use crate::daemon::DaemonOverrides;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// swarmux: multi-network peer-to-peer file sharing for the terminal.
///
/// Without a command, starts the engine in the background if none runs for
/// the data dir and attaches the full-screen interface.
#[derive(Debug, Parser)]
#[command(name = "swarmux", version, propagate_version = true)]
pub struct Cli {
    /// The instance's data dir (config, database, control socket, downloads).
    #[arg(long, global = true, env = "SWARMUX_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the engine headless (the TUI and the command line attach to it).
    Daemon(DaemonOverrides),
    /// Run an ed2k-compatible index server: it stores no files, it only answers
    /// logins, searches and source requests.
    IndexServer(IndexServerArgs),
    /// Search every network; prints the merged results.
    Search(SearchArgs),
    /// Download a search result by its number, a link (ed2k://, magnet:?),
    /// a .torrent file or the http(s) URL of one.
    Get {
        target: String,
        /// Wait until the file is complete and verified (exit 0) or failed (exit 1).
        #[arg(long)]
        wait: bool,
    },
    /// The download queue (and, with --json, the running uploads).
    List,
    /// Pause a download.
    Pause { id: u64 },
    /// Resume a paused or failed download.
    Resume { id: u64 },
    /// Cancel a download and delete its partial data.
    Cancel { id: u64 },
    /// Set a download's priority.
    Priority {
        id: u64,
        #[arg(value_parser = ["high", "normal", "low"])]
        level: String,
    },
    /// The files inside a multi-file download; with FILE and LEVEL, set how
    /// much one matters (skip = do not download it).
    Files {
        id: u64,
        file: Option<usize>,
        #[arg(value_parser = ["skip", "normal", "high"], requires = "file")]
        level: Option<String>,
    },
    /// Shared folders.
    #[command(subcommand)]
    Share(ShareCommand),
    /// ed2k servers.
    #[command(subcommand)]
    Servers(ServersCommand),
    /// Connect a network to a neighbour, e.g. `swarmux connect gnutella 127.0.0.1:6346`.
    Connect {
        #[arg(value_parser = ["gnutella"])]
        network: String,
        /// HOST:PORT
        addr: String,
    },
    /// The daemon's state: networks, servers, totals, recent log.
    Status,
    /// Change the global rate limits (KiB/s, 0 = unlimited) and upload slots.
    Limits {
        #[arg(long, value_name = "KIB")]
        down: Option<u64>,
        #[arg(long, value_name = "KIB")]
        up: Option<u64>,
        #[arg(long, value_name = "N")]
        slots: Option<usize>,
    },
    /// Stop the daemon.
    Stop,
}

/// `swarmux search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Words to look for: `a b` (both), `a OR b`, `-c` or `NOT c` (without).
    /// Options go before the words, since `-word` excludes a word.
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
    pub words: Vec<String>,
    /// Seconds to wait for results (0 = just start the search).
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub wait: f64,
    /// Minimum size, e.g. 700M.
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub min_size: Option<u64>,
    /// Maximum size, e.g. 4.5G.
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub max_size: Option<u64>,
    /// File type: audio, video, image, program, document, archive, iso.
    #[arg(long = "type", value_name = "KIND")]
    pub kind: Option<String>,
    /// File extension, e.g. mkv.
    #[arg(long, value_name = "EXT")]
    pub ext: Option<String>,
    /// Only this network (repeatable).
    #[arg(long = "network", value_name = "NAME")]
    pub networks: Vec<String>,
}

/// `swarmux share ...`.
#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Share a folder (hashed in the background).
    Add { dir: String },
    /// Stop sharing a folder.
    Remove { dir: String },
    /// Shared folders and files.
    List,
}

/// `swarmux servers ...`.
#[derive(Debug, Subcommand)]
pub enum ServersCommand {
    /// Add a server: HOST:PORT or an ed2k://|server|IP|PORT|/ link.
    Add { addr: String },
    /// Forget a server.
    Remove { addr: String },
    /// Known servers and their state.
    List,
    /// Import an eMule server.met file.
    Import { file: PathBuf },
}

/// `swarmux index-server`.
#[derive(Debug, clap::Args)]
pub struct IndexServerArgs {
    /// Address to listen on (port 0 = any free port; see ports.json).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// The server's name, shown to clients.
    #[arg(long)]
    pub name: Option<String>,
    /// The welcome message sent at login.
    #[arg(long)]
    pub message: Option<String>,
}

/// Parses `700M`, `4.5G`, `100k`, `12345` (binary units) into bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let mult: u64 = match s[i..]
                .to_ascii_lowercase()
                .trim_end_matches("ib")
                .trim_end_matches('b')
            {
                "" => 1,
                "k" => 1 << 10,
                "m" => 1 << 20,
                "g" => 1 << 30,
                "t" => 1 << 40,
                u => return Err(format!("unknown size unit {u:?} (use k, M, G or T)")),
            };
            (&s[..i], mult)
        }
        None => (s, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a size (try 700M or 4.5G)"))?;
    if n.is_nan() || n < 0.0 {
        return Err(format!("{s:?} is not a size"));
    }
    Ok((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("700M"), Ok(700 << 20));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("10kb"), Ok(10 << 10));
        assert_eq!(parse_size("42"), Ok(42));
        assert!(parse_size("x").is_err());
        assert!(parse_size("5Q").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn excluded_words_are_words_and_flags_still_parse() {
        let cli =
            Cli::try_parse_from(["swarmux", "search", "--wait", "3", "ubuntu", "-beta"]).unwrap();
        let Some(Command::Search(s)) = cli.command else {
            panic!("not a search")
        };
        assert_eq!(s.words, vec!["ubuntu", "-beta"]);
        assert_eq!(s.wait, 3.0);
    }
}
