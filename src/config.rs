//! The user's configuration: `config.toml` in the data directory, created with
//! every key and its default on first run (see `assets/config.toml`).

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The default configuration file, written on first run.
const DEFAULT_CONFIG: &str = include_str!("../assets/config.toml");

/// The configuration file's name inside the data directory.
pub const CONFIG_FILE: &str = "config.toml";

/// The whole configuration. Missing keys take their defaults; unknown keys are
/// an error, so typos do not go unnoticed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where finished downloads go; absolute after [`Config::load_or_create`].
    pub download_dir: PathBuf,
    /// Where unfinished downloads are kept; absolute after [`Config::load_or_create`].
    pub temp_dir: PathBuf,
    /// How many downloads transfer at once.
    pub max_active_downloads: usize,
    /// Folders shared with other peers.
    pub shared_dirs: Vec<PathBuf>,
    pub limits: Limits,
    pub ed2k: Ed2kSettings,
    pub bittorrent: BtSettings,
    pub gnutella: GnutellaSettings,
    pub index_server: IndexServerSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            download_dir: PathBuf::new(),
            temp_dir: PathBuf::new(),
            max_active_downloads: 5,
            shared_dirs: Vec::new(),
            limits: Limits::default(),
            ed2k: Ed2kSettings::default(),
            bittorrent: BtSettings::default(),
            gnutella: GnutellaSettings::default(),
            index_server: IndexServerSettings::default(),
        }
    }
}

/// Rate limits and upload slots over all networks (`[limits]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// KiB/s, 0 = unlimited.
    pub download_kib: u64,
    /// KiB/s, 0 = unlimited.
    pub upload_kib: u64,
    pub upload_slots: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            download_kib: 0,
            upload_kib: 0,
            upload_slots: 4,
        }
    }
}

/// The eDonkey2000 network (`[ed2k]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ed2kSettings {
    pub enabled: bool,
    /// TCP listening port, 0 = any free port.
    pub port: u16,
    /// Address to listen on and connect from (0.0.0.0 = every address).
    pub bind: std::net::IpAddr,
    /// Servers as `HOST:PORT`.
    pub servers: Vec<String>,
    pub nickname: String,
    pub max_sources_per_download: usize,
    pub max_connections: usize,
}

impl Default for Ed2kSettings {
    fn default() -> Self {
        Ed2kSettings {
            enabled: true,
            port: 4662,
            bind: std::net::IpAddr::from([0, 0, 0, 0]),
            servers: Vec::new(),
            nickname: "swarmux user".into(),
            max_sources_per_download: 50,
            max_connections: 200,
        }
    }
}

/// The BitTorrent network (`[bittorrent]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BtSettings {
    pub enabled: bool,
    /// TCP listening port for peers, 0 = any free port.
    pub port: u16,
    /// Address to listen on and connect from (0.0.0.0 = every address).
    pub bind: std::net::IpAddr,
    /// Use the DHT to find peers without a tracker.
    pub dht: bool,
    /// UDP port of the DHT, 0 = any free port.
    pub dht_port: u16,
    /// DHT nodes to bootstrap from, as `HOST:PORT`.
    pub dht_bootstrap: Vec<String>,
    /// Exchange peers with peers (PEX).
    pub pex: bool,
    pub max_peers_per_torrent: usize,
    pub max_peers: usize,
    /// Most incoming peer connections from one address (an IPv6 /64).
    pub max_peers_per_address: usize,
    /// A folder watched for .torrent files, which are added to the queue
    /// (empty = none).
    pub watch_dir: PathBuf,
    /// Torznab indexers (Jackett, Prowlarr) that answer searches.
    pub torznab: Vec<TorznabIndexer>,
}

impl Default for BtSettings {
    fn default() -> Self {
        BtSettings {
            enabled: true,
            port: 6881,
            bind: std::net::IpAddr::from([0, 0, 0, 0]),
            dht: true,
            dht_port: 6881,
            dht_bootstrap: Vec::new(),
            pex: true,
            max_peers_per_torrent: 50,
            max_peers: 300,
            max_peers_per_address: 4,
            watch_dir: PathBuf::new(),
            torznab: Vec::new(),
        }
    }
}

/// The Gnutella 0.6 network (`[gnutella]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GnutellaSettings {
    pub enabled: bool,
    /// TCP port for Gnutella links and HTTP transfers, 0 = any free port.
    pub port: u16,
    /// Address to listen on and connect from (0.0.0.0 = every address).
    pub bind: std::net::IpAddr,
    /// `ultrapeer`, `leaf` or `auto`.
    pub mode: String,
    /// Neighbours to connect to at start, as `HOST:PORT`.
    pub peers: Vec<String>,
    /// As an ultrapeer: most leaves.
    pub max_leaves: usize,
    /// As a leaf: ultrapeers to keep. An ultrapeer dials some itself and
    /// accepts up to 32 (the `X-Degree` it announces).
    pub max_ultrapeers: usize,
}

impl Default for GnutellaSettings {
    fn default() -> Self {
        GnutellaSettings {
            enabled: true,
            port: 6346,
            bind: std::net::IpAddr::from([0, 0, 0, 0]),
            mode: "auto".into(),
            peers: Vec::new(),
            max_leaves: 32,
            max_ultrapeers: 4,
        }
    }
}

/// One Torznab indexer (`[[bittorrent.torznab]]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TorznabIndexer {
    pub name: String,
    /// The indexer's Torznab API URL, e.g. `http://127.0.0.1:9117/api/v2.0/indexers/all/results/torznab/`.
    pub url: String,
    #[serde(default)]
    pub api_key: String,
}

/// The built-in ed2k index server (`[index_server]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexServerSettings {
    pub listen: SocketAddr,
    pub name: String,
    pub description: String,
    /// Welcome text sent to each client that logs in.
    pub message: String,
    pub max_files_per_client: usize,
    pub max_results: usize,
    pub idle_timeout_secs: u64,
}

impl Default for IndexServerSettings {
    fn default() -> Self {
        IndexServerSettings {
            listen: SocketAddr::from(([0, 0, 0, 0], 4661)),
            name: "swarmux index".into(),
            description: "a swarmux eDonkey2000 index server".into(),
            message: "Welcome to this swarmux index server.".into(),
            max_files_per_client: 10_000,
            max_results: 300,
            idle_timeout_secs: 900,
        }
    }
}

impl Config {
    /// Reads `<data_dir>/config.toml`, first creating the data directory and a
    /// default file if missing. `download_dir`, `temp_dir` and `shared_dirs`
    /// come back absolute: empty directories take their defaults under the data
    /// directory, relative ones are taken from the data directory, and `~/` is
    /// the home directory.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Config> {
        crate::private::secure_data_dir(data_dir).with_context(|| {
            format!(
                "cannot create the data directory {} (choose another one, or fix its permissions)",
                data_dir.display()
            )
        })?;
        let data_dir = std::path::absolute(data_dir)
            .with_context(|| format!("cannot resolve the data directory {}", data_dir.display()))?;
        let path = data_dir.join(CONFIG_FILE);
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        match created {
            Ok(mut f) => f
                .write_all(DEFAULT_CONFIG.as_bytes())
                .with_context(|| format!("cannot write the default config {}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot create the default config {}", path.display())
                })
            }
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the config {}", path.display()))?;
        let mut config: Config = toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "invalid config {}: {e}\nfix or delete that line (deleting a key restores its default)",
                path.display()
            )
        })?;
        config
            .validate()
            .with_context(|| format!("invalid config {}", path.display()))?;
        config.download_dir = resolve_dir(&data_dir, &config.download_dir, "downloads");
        config.temp_dir = resolve_dir(&data_dir, &config.temp_dir, "temp");
        for dir in &mut config.shared_dirs {
            *dir = resolve_dir(&data_dir, dir, "");
        }
        if !config.bittorrent.watch_dir.as_os_str().is_empty() {
            config.bittorrent.watch_dir = resolve_dir(&data_dir, &config.bittorrent.watch_dir, "");
        }
        Ok(config)
    }

    /// Checks what the types alone cannot.
    fn validate(&self) -> anyhow::Result<()> {
        if !["ultrapeer", "leaf", "auto"].contains(&self.gnutella.mode.as_str()) {
            bail!(
                "gnutella.mode is {:?}; it must be \"ultrapeer\", \"leaf\" or \"auto\"",
                self.gnutella.mode
            );
        }
        if self.max_active_downloads == 0 {
            bail!("max_active_downloads must be at least 1");
        }
        if self.limits.upload_slots == 0 {
            bail!("limits.upload_slots must be at least 1");
        }
        for server in &self.ed2k.servers {
            let ok = server
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !ok {
                bail!("ed2k.servers: {server:?} is not \"HOST:PORT\" (e.g. \"example.org:4661\")");
            }
        }
        Ok(())
    }
}

/// Makes a configured directory absolute: empty means `<data_dir>/<default>`.
fn resolve_dir(data_dir: &Path, dir: &Path, default: &str) -> PathBuf {
    if dir.as_os_str().is_empty() {
        return data_dir.join(default);
    }
    if let Ok(rest) = dir.strip_prefix("~") {
        if let Some(home) = directories::BaseDirs::new() {
            return home.home_dir().join(rest);
        }
    }
    data_dir.join(dir)
}

/// The platform's data directory for swarmux (e.g. `~/.local/share/swarmux`),
/// or `./swarmux-data` if there is no home directory.
pub fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "swarmux")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from("swarmux-data"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults_in(data: &Path) -> Config {
        Config {
            download_dir: data.join("downloads"),
            temp_dir: data.join("temp"),
            ..Config::default()
        }
    }

    #[test]
    fn first_run_writes_the_defaults() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("nested").join("data");
        let config = Config::load_or_create(&data).unwrap();
        assert!(data.join(CONFIG_FILE).is_file());
        assert_eq!(config, defaults_in(&data));
        // A second run reads the file it wrote.
        assert_eq!(Config::load_or_create(&data).unwrap(), config);
    }

    #[test]
    fn asset_lists_every_key_with_its_default() {
        let asset: toml::Value = toml::from_str(DEFAULT_CONFIG).unwrap();
        let defaults = toml::Value::try_from(Config::default()).unwrap();
        assert_eq!(asset, defaults);
    }

    #[test]
    fn partial_file_keeps_other_defaults() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join(CONFIG_FILE),
            "max_active_downloads = 2\n[ed2k]\nport = 4700\nservers = [\"example.org:4661\"]\n",
        )
        .unwrap();
        let config = Config::load_or_create(tmp.path()).unwrap();
        let mut expected = defaults_in(tmp.path());
        expected.max_active_downloads = 2;
        expected.ed2k.port = 4700;
        expected.ed2k.servers = vec!["example.org:4661".into()];
        assert_eq!(config, expected);
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join(CONFIG_FILE),
            "[limits]\nupload_kib = 10\nuplaod_slots = 3\n",
        )
        .unwrap();
        let err = format!("{:#}", Config::load_or_create(tmp.path()).unwrap_err());
        assert!(err.contains("uplaod_slots"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains(CONFIG_FILE), "{err}");
    }

    #[test]
    fn bad_values_are_explained() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join(CONFIG_FILE);
        std::fs::write(&file, "[ed2k]\nservers = [\"example.org\"]\n").unwrap();
        let err = format!("{:#}", Config::load_or_create(tmp.path()).unwrap_err());
        assert!(err.contains("HOST:PORT"), "{err}");
        std::fs::write(&file, "[index_server]\nlisten = \"nowhere\"\n").unwrap();
        let err = format!("{:#}", Config::load_or_create(tmp.path()).unwrap_err());
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn relative_dirs_resolve_against_the_data_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::write(
            tmp.path().join(CONFIG_FILE),
            format!(
                "download_dir = \"done\"\ntemp_dir = {:?}\nshared_dirs = [\"music\"]\n",
                elsewhere.to_str().unwrap()
            ),
        )
        .unwrap();
        let config = Config::load_or_create(tmp.path()).unwrap();
        assert_eq!(config.download_dir, tmp.path().join("done"));
        assert_eq!(config.temp_dir, elsewhere);
        assert_eq!(config.shared_dirs, vec![tmp.path().join("music")]);
    }

    #[test]
    fn default_data_dir_is_named_for_swarmux() {
        assert!(
            default_data_dir().ends_with("swarmux") || default_data_dir().ends_with("swarmux-data")
        );
    }
}
