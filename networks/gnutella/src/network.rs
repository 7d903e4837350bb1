//! The [`Network`] implementation: binds the port, then runs the node loop
//! over engine commands, connection messages, accepted sockets and a
//! one-second tick.

use crate::config::GnutellaConfig;
use crate::magnet::{is_gnutella_magnet, Magnet};
use crate::node::core::Node;
use crate::node::env::Env;
use crate::node::servent_id;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use swarmux_net::message::LogLevel;
use swarmux_net::network::NetworkTask;
use swarmux_net::{ContentHash, NetCommand, NetEvent, Network, NetworkContext};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

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

async fn accept(l: &Option<TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
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
    let listen_ip = match cfg.listen.ip() {
        IpAddr::V4(ip) if !ip.is_unspecified() => Some(ip),
        _ => None,
    };
    let id = servent_id::load_or_create(&ctx.data_dir.join(servent_id::FILE_NAME));
    let env = Arc::new(Env::new(
        id.guid,
        cfg.firewalled,
        listen_ip,
        ctx.limits.clone(),
        ctx.events.clone(),
        main_tx,
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
    let mut node = Node::new(cfg, env, ctx.data_dir.join("gnutella_hosts"));
    node.start();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                None => break,
                Some(c) => if !node.on_command(c) { break },
            },
            Some(m) = main_rx.recv() => node.on_msg(m),
            acc = accept(&listener) => {
                if let Ok((stream, addr)) = acc {
                    node.on_accept(stream, addr);
                }
            }
            _ = tick.tick() => node.tick(),
        }
    }
    node.shutdown();
}
