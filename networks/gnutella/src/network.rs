//! The [`Network`] implementation: binds the port, then runs the node loop
//! over engine commands, connection messages, accepted sockets and a
//! one-second tick.

use crate::config::GnutellaConfig;
use crate::magnet::{is_gnutella_magnet, Magnet};
use crate::node::core::Node;
use crate::node::env::Env;
use crate::node::gates::Gates;
use crate::node::servent_id;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use swarmux_net::gate::{AcceptErrors, ACCEPT_RETRY};
use swarmux_net::message::LogLevel;
use swarmux_net::network::NetworkTask;
use swarmux_net::{ContentHash, NetCommand, NetEvent, Network, NetworkContext};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Messages from connections and downloads queued for the node loop.
const MAIN_QUEUE: usize = 1024;

/// The Gnutella network backend.
pub struct GnutellaNetwork {
    cfg: GnutellaConfig,
}

impl GnutellaNetwork {
    /// A network that will run with `cfg`.
    pub fn new(cfg: GnutellaConfig) -> Self {
        GnutellaNetwork { cfg }
    }
}

impl Network for GnutellaNetwork {
    fn name(&self) -> &'static str {
        "gnutella"
    }

    /// `magnet:?xt=urn:sha1:...` links (not those naming a BitTorrent info-hash).
    fn handles_link(&self, link: &str) -> bool {
        is_gnutella_magnet(link)
    }

    fn parse_link(&self, link: &str) -> Result<(String, u64, ContentHash), String> {
        let m = Magnet::parse(link)?;
        let name = if m.name.is_empty() {
            m.urn.base32()
        } else {
            m.name
        };
        Ok((name, m.size, ContentHash::Sha1(m.urn.0)))
    }

    fn run(
        &self,
        ctx: NetworkContext,
        commands: mpsc::UnboundedReceiver<NetCommand>,
    ) -> NetworkTask {
        Box::pin(run(self.cfg.clone(), ctx, commands))
    }
}

/// The next connection on `l`, not before `resume` (a pause after a failed
/// accept, so that running out of descriptors does not spin).
async fn accept(
    l: &Option<TcpListener>,
    resume: Instant,
) -> std::io::Result<(TcpStream, SocketAddr)> {
    tokio::time::sleep_until(resume).await;
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

async fn run(
    cfg: GnutellaConfig,
    ctx: NetworkContext,
    mut commands: mpsc::UnboundedReceiver<NetCommand>,
) {
    let (main_tx, mut main_rx) = mpsc::channel(MAIN_QUEUE);
    let id = servent_id::load_or_create(&ctx.data_dir.join(servent_id::FILE_NAME));
    let env = Arc::new(Env::new(
        id.guid,
        cfg.firewalled,
        cfg.listen.ip(),
        ctx.limits.clone(),
        ctx.events.clone(),
        main_tx,
        Gates::new(&cfg),
    ));
    let listener = match TcpListener::bind(cfg.listen).await {
        Ok(l) => {
            if let Ok(a) = l.local_addr() {
                env.port.store(a.port(), Ordering::Relaxed);
                env.events.emit(NetEvent::Listening {
                    name: "gnutella_tcp".into(),
                    addr: a,
                });
            }
            Some(l)
        }
        Err(e) => {
            env.events.log(
                LogLevel::Error,
                format!("gnutella: cannot listen on {}: {e}", cfg.listen),
            );
            None
        }
    };
    if let Some(w) = &id.warning {
        env.events.log(LogLevel::Warn, format!("gnutella: {w}"));
    }
    let mut node = Node::new(cfg, env, ctx.data_dir.clone());
    node.start();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut accept_errors = AcceptErrors::default();
    let mut resume = Instant::now();
    loop {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                None => break,
                Some(c) => if !node.on_command(c) { break },
            },
            Some(m) = main_rx.recv() => node.on_msg(m),
            acc = accept(&listener, resume) => match acc {
                Ok((stream, addr)) => node.on_accept(stream, addr),
                Err(e) => {
                    if let Some(line) = accept_errors.failed(&e, std::time::Instant::now()) {
                        ctx.log(LogLevel::Warn, format!("gnutella: {line}"));
                    }
                    resume = Instant::now() + ACCEPT_RETRY;
                }
            },
            _ = tick.tick() => node.tick(),
        }
    }
    node.shutdown();
}
