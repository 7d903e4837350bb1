//! The [`Network`] implementation: the main loop over engine commands, the
//! server connection, downloads, the listener and periodic reports.

use super::download::{self, DlHandle, DlMsg, MainMsg};
use super::env::Env;
use super::peer_conn;
use super::publish::Publisher;
use super::searches::Searches;
use super::serve::ShareIndex;
use super::server_conn::{run_server_conn, LoginInfo, ServerEvent};
use crate::proto::frame::Frame;
use crate::proto::link::{parse_link, Ed2kLink};
use crate::proto::offer::offer_frame;
use crate::proto::search::tree_from_request;
use crate::proto::server_msg::{ip_to_u32, is_low_id, u32_to_ip, ClientToServer, ServerToClient};
use crate::proto::servermet::parse_server_met;
use crate::proto::tag::{find_tag, ids, TagValue};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use swarmux_net::dial::host_port;
use swarmux_net::gate::{AcceptErrors, ConnectionGate, ACCEPT_RETRY};
use swarmux_net::message::LogLevel;
use swarmux_net::network::NetworkTask;
use swarmux_net::{
    ContentHash, DownloadId, NetCommand, NetEvent, Network, NetworkContext, ServerInfo, Servers,
    UploadInfo,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Settings of the ed2k network.
#[derive(Clone, Debug)]
pub struct Ed2kConfig {
    /// TCP listen address (port 0 = any free port).
    pub listen: SocketAddr,
    /// Servers as `HOST:PORT`, tried in turn.
    pub servers: Vec<String>,
    pub nickname: String,
    /// Our persistent user hash (eMule markers: byte 5 = 14, byte 14 = 111).
    pub user_hash: [u8; 16],
    pub max_sources_per_download: usize,
    /// Most simultaneous incoming peer connections.
    pub max_connections: usize,
    /// Most incoming peer connections from one address (an IPv6 /64), so
    /// one host cannot take the slots everyone else needs; see
    /// [`DEFAULT_CONNECTIONS_PER_ADDRESS`].
    pub max_connections_per_address: usize,
    /// How long a connected peer may take to say hello before it is dropped
    /// (see [`DEFAULT_HELLO_TIMEOUT`]).
    pub hello_timeout: Duration,
}

/// Incoming connections one address may hold: a peer needs one or two (its
/// downloads and uploads share a connection, a callback or re-ask may
/// overlap), a few peers may share an address behind NAT.
pub const DEFAULT_CONNECTIONS_PER_ADDRESS: usize = 8;
/// The hello deadline: eMule drops a connection that has not finished its
/// handshake after about half a minute as well.
pub const DEFAULT_HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// The eDonkey2000 network backend.
pub struct Ed2kNetwork {
    config: Ed2kConfig,
}

impl Ed2kNetwork {
    /// A network that will run with `config`.
    pub fn new(config: Ed2kConfig) -> Self {
        Ed2kNetwork { config }
    }
}

impl Network for Ed2kNetwork {
    fn name(&self) -> &'static str {
        "ed2k"
    }

    /// Every `ed2k://` link is ours; a malformed one then gets `parse_link`'s
    /// precise error instead of "no network understands it".
    fn handles_link(&self, link: &str) -> bool {
        link.trim()
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("ed2k://"))
    }

    fn parse_link(&self, link: &str) -> Result<(String, u64, ContentHash), String> {
        match parse_link(link).map_err(|e| e.to_string())? {
            Ed2kLink::File(f) => Ok((f.name, f.size, ContentHash::Ed2k(f.hash))),
            Ed2kLink::Server { host, port } => Err(format!(
                "ed2k://|server| link: add {host}:{port} as a server instead"
            )),
        }
    }

    fn servers(&self) -> Option<&dyn Servers> {
        Some(self)
    }

    fn run(
        &self,
        ctx: NetworkContext,
        commands: mpsc::UnboundedReceiver<NetCommand>,
    ) -> NetworkTask {
        Box::pin(run(self.config.clone(), ctx, commands))
    }
}

impl Servers for Ed2kNetwork {
    /// `HOST:PORT`, or an `ed2k://|server|HOST|PORT|/` link.
    fn parse_server(&self, input: &str) -> Result<String, String> {
        let input = input.trim();
        if !self.handles_link(input) {
            return host_port(input);
        }
        match parse_link(input).map_err(|e| e.to_string())? {
            Ed2kLink::Server { host, port } => Ok(format!("{host}:{port}")),
            Ed2kLink::File(_) => {
                Err("that is a file link; servers add takes a server link or HOST:PORT".into())
            }
        }
    }

    /// An eMule `server.met`.
    fn parse_server_list(&self, bytes: &[u8]) -> Result<Vec<String>, String> {
        let servers =
            parse_server_met(bytes).map_err(|e| format!("not a valid server.met: {e}"))?;
        Ok(servers
            .iter()
            .map(|s| format!("{}:{}", s.ip, s.port))
            .collect())
    }

    fn configured_servers(&self) -> Vec<String> {
        self.config.servers.clone()
    }
}

/// Retry delays between server connection attempts.
const BACKOFF_MIN: Duration = Duration::from_secs(2);
const BACKOFF_MAX: Duration = Duration::from_secs(120);

struct Main {
    cfg: Ed2kConfig,
    env: Arc<Env>,
    servers: Vec<ServerInfo>,
    next_server: usize,
    current: Option<String>,
    gen: u64,
    conn_tx: Option<mpsc::UnboundedSender<Frame>>,
    logged_in: bool,
    server_tcp_flags: u32,
    reconnect_at: Option<Instant>,
    backoff: Duration,
    srv_tx: mpsc::UnboundedSender<(u64, ServerEvent)>,
    main_tx: mpsc::UnboundedSender<MainMsg>,
    downloads: HashMap<DownloadId, DlHandle>,
    searches: Searches,
    /// What this server connection was offered.
    publisher: Publisher,
    last_uploads: Vec<UploadInfo>,
    last_total: u64,
}

/// Accepts peer connections, each through `gate`, until the task is aborted.
async fn accept_peers(listener: TcpListener, env: Arc<Env>, gate: ConnectionGate) {
    let mut errors = AcceptErrors::default();
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                if let Some(line) = errors.failed(&e, std::time::Instant::now()) {
                    env.events.log(LogLevel::Warn, format!("ed2k: {line}"));
                }
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        match gate.admit(addr.ip()) {
            Ok(admission) => {
                tokio::spawn(peer_conn::run(
                    env.clone(),
                    stream,
                    addr,
                    false,
                    None,
                    Some(admission),
                ));
            }
            Err(refusal) => tracing::debug!("ed2k: refused {addr}: {refusal}"),
        }
    }
}

async fn run(
    cfg: Ed2kConfig,
    ctx: NetworkContext,
    mut commands: mpsc::UnboundedReceiver<NetCommand>,
) {
    let env = Arc::new(Env::new(
        cfg.user_hash,
        Some(cfg.listen.ip()).filter(|ip| !ip.is_unspecified()),
        cfg.nickname.clone(),
        cfg.hello_timeout,
        ctx.data_dir.clone(),
        ctx.limits.clone(),
        ctx.events.clone(),
    ));
    let listener = match TcpListener::bind(cfg.listen).await {
        Ok(l) => {
            if let Ok(a) = l.local_addr() {
                env.port.store(a.port(), Ordering::Relaxed);
                env.events.emit(NetEvent::Listening {
                    name: "ed2k_tcp".into(),
                    addr: a,
                });
            }
            Some(l)
        }
        Err(e) => {
            env.events.log(
                LogLevel::Error,
                format!("cannot listen on {}: {e} (no uploads, low ID)", cfg.listen),
            );
            None
        }
    };
    let gate = ConnectionGate::new(cfg.max_connections, cfg.max_connections_per_address);
    let acceptor = listener.map(|l| tokio::spawn(accept_peers(l, env.clone(), gate)));
    let (srv_tx, mut srv_rx) = mpsc::unbounded_channel();
    let (main_tx, mut main_rx) = mpsc::unbounded_channel();
    let mut m = Main {
        servers: cfg
            .servers
            .iter()
            .map(|s| ServerInfo {
                addr: s.clone(),
                state: "disconnected".into(),
                ..Default::default()
            })
            .collect(),
        cfg,
        env: env.clone(),
        next_server: 0,
        current: None,
        gen: 0,
        conn_tx: None,
        logged_in: false,
        server_tcp_flags: 0,
        reconnect_at: Some(Instant::now()),
        backoff: BACKOFF_MIN,
        srv_tx,
        main_tx,
        downloads: HashMap::new(),
        searches: Searches::new(),
        publisher: Publisher::default(),
        last_uploads: Vec::new(),
        last_total: 0,
    };
    m.emit_servers();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                None | Some(NetCommand::Shutdown) => break,
                Some(c) => m.on_command(c),
            },
            Some((gen, ev)) = srv_rx.recv() => {
                if gen == m.gen {
                    m.on_server_event(ev);
                }
            }
            Some(msg) = main_rx.recv() => m.on_main(msg),
            _ = sleep_opt(m.reconnect_at) => {
                m.reconnect_at = None;
                m.connect_next();
            }
            _ = tick.tick() => m.on_tick(),
        }
    }
    if let Some(a) = acceptor {
        a.abort();
    }
    for (_, d) in m.downloads.drain() {
        let _ = d.tx.send(DlMsg::Stop);
    }
    m.conn_tx = None;
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

impl Main {
    fn emit_servers(&self) {
        self.env
            .events
            .emit(NetEvent::Servers(self.servers.clone()));
    }

    fn server_mut(&mut self, addr: &str) -> Option<&mut ServerInfo> {
        self.servers.iter_mut().find(|s| s.addr == addr)
    }

    fn current_info(&mut self) -> Option<&mut ServerInfo> {
        let cur = self.current.clone()?;
        self.server_mut(&cur)
    }

    fn connect_next(&mut self) {
        if self.current.is_some() || self.servers.is_empty() {
            return;
        }
        let idx = self.next_server % self.servers.len();
        self.next_server = idx + 1;
        let addr = self.servers[idx].addr.clone();
        self.gen += 1;
        let (tx, rx) = mpsc::unbounded_channel();
        self.conn_tx = Some(tx);
        self.current = Some(addr.clone());
        self.logged_in = false;
        let login = LoginInfo {
            user_hash: self.cfg.user_hash,
            nickname: self.cfg.nickname.clone(),
            port: self.env.port.load(Ordering::Relaxed),
            bind_ip: self.env.bind_ip,
        };
        tokio::spawn(run_server_conn(
            addr,
            self.gen,
            login,
            self.srv_tx.clone(),
            rx,
        ));
        self.servers[idx].state = "connecting".into();
        self.servers[idx].identity.clear();
        self.emit_servers();
    }

    /// Sends a request, plain and with old-style tags (what every server
    /// takes; eMule packs nothing but its offers either).
    fn send_server(&self, msg: ClientToServer) {
        self.send_frame(msg.encode());
    }

    fn send_frame(&self, frame: Frame) {
        if let Some(tx) = &self.conn_tx {
            let _ = tx.send(frame);
        }
    }

    fn disconnect(&mut self, reason: &str) {
        self.conn_tx = None;
        self.logged_in = false;
        self.env.server_up.store(false, Ordering::Relaxed);
        self.env.client_id.store(0, Ordering::Relaxed);
        *self.env.server.lock().unwrap_or_else(|e| e.into_inner()) = (0, 0);
        if let Some(info) = self.current_info() {
            info.state = reason.to_string();
            info.identity.clear();
        }
        self.current = None;
        for id in self.searches.drain_all() {
            self.env.events.emit(NetEvent::SearchDone { search: id });
        }
        self.emit_servers();
    }

    fn on_command(&mut self, cmd: NetCommand) {
        match cmd {
            NetCommand::Search(req) => {
                if !self.logged_in {
                    self.env.events.log(
                        LogLevel::Info,
                        format!("no server connected, search \"{}\" skipped", req.text),
                    );
                    self.env
                        .events
                        .emit(NetEvent::SearchDone { search: req.id });
                    return;
                }
                self.searches.push(req);
                self.send_next_search();
            }
            NetCommand::CancelSearch(id) => {
                self.searches.cancel(id);
            }
            NetCommand::StartDownload(spec) => {
                if self.downloads.contains_key(&spec.id) {
                    return;
                }
                let id = spec.id;
                match download::spawn(
                    spec,
                    self.env.clone(),
                    self.main_tx.clone(),
                    self.cfg.max_sources_per_download,
                ) {
                    Ok(h) => {
                        self.downloads.insert(id, h);
                    }
                    Err(reason) => self.env.events.emit(NetEvent::Failed { id, reason }),
                }
            }
            NetCommand::PauseDownload(id) | NetCommand::CancelDownload(id) => {
                if let Some(d) = self.downloads.remove(&id) {
                    let _ = d.tx.send(DlMsg::Stop);
                }
                self.env
                    .callbacks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|_, l| l.id != id);
            }
            NetCommand::SharesChanged(files) => {
                *self.env.shares.write().unwrap_or_else(|e| e.into_inner()) =
                    Arc::new(ShareIndex::new(&files));
                // New files go out now, or with the next batch when the
                // last one was less than a minute ago (each tick asks).
                if self.logged_in {
                    self.offer_files();
                }
            }
            NetCommand::AddServer(addr) => {
                if self.servers.iter().all(|s| s.addr != addr) {
                    self.servers.push(ServerInfo {
                        addr: addr.clone(),
                        state: "disconnected".into(),
                        ..Default::default()
                    });
                    if self.current.is_none() {
                        self.next_server = self.servers.len() - 1;
                        self.reconnect_at = Some(Instant::now());
                    }
                    self.emit_servers();
                }
            }
            NetCommand::RemoveServer(addr) => {
                if self.current.as_deref() == Some(addr.as_str()) {
                    self.gen += 1;
                    self.disconnect("removed");
                    self.reconnect_at = Some(Instant::now());
                }
                self.servers.retain(|s| s.addr != addr);
                self.emit_servers();
            }
            // Finished files are shared by the engine's folder scan; ed2k
            // downloads are single files.
            NetCommand::Seed(_) | NetCommand::SetFilePriority { .. } | NetCommand::Shutdown => {}
        }
    }

    fn send_next_search(&mut self) {
        if let Some(req) = self.searches.next_to_send(std::time::Instant::now()) {
            self.send_server(ClientToServer::Search(tree_from_request(&req)));
        }
    }

    /// Offers the next batch of shared files when one is due, shaped by
    /// what the server announced.
    fn offer_files(&mut self) {
        let shares = self.env.shares();
        let now = std::time::Instant::now();
        let Some(files) = self.publisher.next_batch(shares.files().map(|f| &**f), now) else {
            return;
        };
        self.send_frame(offer_frame(
            &files,
            self.server_tcp_flags,
            self.env.client_id.load(Ordering::Relaxed),
            self.env.port.load(Ordering::Relaxed),
        ));
    }

    fn on_server_event(&mut self, ev: ServerEvent) {
        match ev {
            ServerEvent::Connected(addr) => {
                if let SocketAddr::V4(a) = addr {
                    *self.env.server.lock().unwrap_or_else(|e| e.into_inner()) =
                        (ip_to_u32(*a.ip()), a.port());
                }
                if let Some(i) = self.current_info() {
                    i.state = "logging in".into();
                }
                self.emit_servers();
            }
            ServerEvent::Closed(reason) => {
                let was = self.logged_in;
                let addr = self.current.clone().unwrap_or_default();
                self.env
                    .events
                    .log(LogLevel::Warn, format!("server {addr}: {reason}"));
                self.disconnect(&if was {
                    "disconnected".to_string()
                } else {
                    reason
                });
                self.backoff = if was {
                    BACKOFF_MIN
                } else {
                    (self.backoff * 2).min(BACKOFF_MAX)
                };
                self.reconnect_at = Some(Instant::now() + self.backoff);
            }
            ServerEvent::Message(msg) => self.on_server_msg(msg),
        }
    }

    fn on_server_msg(&mut self, msg: ServerToClient) {
        let addr = self.current.clone().unwrap_or_default();
        match msg {
            ServerToClient::IdChange { id, tcp_flags } => {
                let first = !self.logged_in;
                self.logged_in = true;
                self.backoff = BACKOFF_MIN;
                self.server_tcp_flags = tcp_flags.unwrap_or(0);
                self.env.client_id.store(id, Ordering::Relaxed);
                self.env.server_up.store(true, Ordering::Relaxed);
                let kind = if is_low_id(id) { "low" } else { "high" };
                if let Some(i) = self.current_info() {
                    i.state = "connected".into();
                    i.identity = format!("{kind} ID {id}");
                }
                self.emit_servers();
                if first {
                    self.env.events.log(
                        LogLevel::Info,
                        format!("connected to {addr} with {kind} ID {id}"),
                    );
                    self.publisher.reset();
                    self.offer_files();
                    self.send_next_search();
                    let want: Vec<[u8; 16]> = self.downloads.values().map(|d| d.hash).collect();
                    for hash in want {
                        self.send_server(ClientToServer::GetSources { hash, size: None });
                    }
                }
            }
            ServerToClient::ServerStatus { users, files } => {
                if let Some(i) = self.current_info() {
                    i.users = users;
                    i.files = files;
                }
                self.emit_servers();
            }
            ServerToClient::ServerIdent { tags, .. } => {
                if let Some(name) = find_tag(&tags, ids::NAME).and_then(TagValue::as_str) {
                    let name = name.to_string();
                    if let Some(i) = self.current_info() {
                        i.name = name;
                    }
                    self.emit_servers();
                }
            }
            ServerToClient::ServerMessage(text) => {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    self.env
                        .events
                        .log(LogLevel::Info, format!("server {addr}: {line}"));
                }
                if let Some(i) = self.current_info() {
                    i.message = text.trim().to_string();
                }
                self.emit_servers();
            }
            ServerToClient::SearchResult { files, .. } => {
                if let Some((id, hits)) = self.searches.on_result(&files) {
                    for h in hits {
                        self.env.events.emit(NetEvent::Hit(h));
                    }
                    self.env.events.emit(NetEvent::SearchDone { search: id });
                }
                self.send_next_search();
            }
            ServerToClient::FoundSources { hash, sources } => self.found_sources(hash, sources),
            ServerToClient::FoundSourcesObfu { hash, sources } => {
                let s = sources.iter().map(|s| (s.client_id, s.port)).collect();
                self.found_sources(hash, s);
            }
            ServerToClient::CallbackRequested { ip, port } => {
                let a = SocketAddr::V4(SocketAddrV4::new(u32_to_ip(ip), port));
                tokio::spawn(peer_conn::connect(self.env.clone(), a, None));
            }
            ServerToClient::Reject => {
                self.env
                    .events
                    .log(LogLevel::Warn, format!("server {addr} rejected a request"));
            }
            _ => {}
        }
    }

    fn found_sources(&mut self, hash: [u8; 16], sources: Vec<(u32, u16)>) {
        let Some(d) = self.downloads.values().find(|d| d.hash == hash) else {
            return;
        };
        let we_low = is_low_id(self.env.client_id.load(Ordering::Relaxed));
        let mut direct = Vec::new();
        for (id, port) in sources {
            if !is_low_id(id) {
                direct.push(SocketAddr::new(IpAddr::V4(u32_to_ip(id)), port));
            } else if !we_low {
                let link = d.link.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if let Some(link) = link {
                    self.env
                        .callbacks
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id, link);
                    self.send_server(ClientToServer::CallbackRequest { client_id: id });
                }
            }
        }
        let _ = d.tx.send(DlMsg::Sources(direct));
    }

    fn on_main(&mut self, msg: MainMsg) {
        match msg {
            MainMsg::GetSources { hash, .. } => {
                if self.logged_in {
                    self.send_server(ClientToServer::GetSources { hash, size: None });
                }
            }
            MainMsg::Finished(id) => {
                self.downloads.remove(&id);
            }
        }
    }

    fn on_tick(&mut self) {
        if self.logged_in {
            self.offer_files();
        }
        if let Some(id) = self.searches.timed_out(std::time::Instant::now()) {
            self.env.events.emit(NetEvent::SearchDone { search: id });
            self.send_next_search();
        }
        self.env.uploads.refill();
        let snap = self.env.uploads.snapshot();
        if snap != self.last_uploads {
            self.env.events.emit(NetEvent::Uploads(snap.clone()));
            self.last_uploads = snap;
        }
        let total = self.env.uploads.total();
        if total != self.last_total {
            self.last_total = total;
            self.env.events.emit(NetEvent::Uploaded(total));
        }
    }
}

#[cfg(test)]
mod servers_tests {
    use super::*;

    fn net(servers: &[&str]) -> Ed2kNetwork {
        Ed2kNetwork::new(Ed2kConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            servers: servers.iter().map(|s| s.to_string()).collect(),
            nickname: String::new(),
            user_hash: [0; 16],
            max_sources_per_download: 1,
            max_connections: 1,
            max_connections_per_address: 1,
            hello_timeout: DEFAULT_HELLO_TIMEOUT,
        })
    }

    #[test]
    fn servers_are_host_port_or_server_links() {
        let n = net(&["127.0.0.1:4661"]);
        let s = n.servers().unwrap();
        assert_eq!(
            s.parse_server(" 127.0.0.1:4661 ").as_deref(),
            Ok("127.0.0.1:4661")
        );
        assert_eq!(
            s.parse_server("ed2k://|server|127.0.0.2|4242|/").as_deref(),
            Ok("127.0.0.2:4242")
        );
        let file = "ed2k://|file|a.bin|3|0123456789ABCDEF0123456789ABCDEF|/";
        assert!(s.parse_server(file).unwrap_err().contains("file link"));
        assert!(s.parse_server("ed2k://|server|x|/").is_err());
        assert!(s.parse_server("nohost").unwrap_err().contains("HOST:PORT"));
        assert_eq!(s.configured_servers(), ["127.0.0.1:4661"]);
    }

    #[test]
    fn a_server_met_lists_its_servers() {
        let s = net(&[]);
        let s = s.servers().unwrap();
        // Version 0x0E, one server 127.0.0.1:4242 without tags.
        let met = [0x0E, 1, 0, 0, 0, 127, 0, 0, 1, 0x92, 0x10, 0, 0, 0, 0];
        assert_eq!(
            s.parse_server_list(&met),
            Ok(vec!["127.0.0.1:4242".to_string()])
        );
        assert!(s
            .parse_server_list(b"\x0e\xff\xff")
            .unwrap_err()
            .contains("not a valid server.met"));
    }
}
