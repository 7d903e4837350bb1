//! State shared by the network loop, the downloads and every peer connection.

use super::download::DlLink;
use super::remote_queue::RemoteQueues;
use super::serve::ShareIndex;
use super::uploader::Uploads;
use crate::proto::peer_msg::{Hello, PeerCaps};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use swarmux_net::{EventSink, Limits, NetEvent};
use tokio::sync::mpsc;

/// Who we are and what we share, plus the engine's event channel.
pub struct Env {
    pub user_hash: [u8; 16],
    /// The address outgoing connections leave from (`None`: any).
    pub bind_ip: Option<std::net::IpAddr>,
    pub nickname: String,
    /// Our listening TCP port (set once bound).
    pub port: AtomicU16,
    /// Our id on the current server (0 when not logged in).
    pub client_id: AtomicU32,
    /// The current server in ed2k layout (ip, port), for hellos.
    pub server: Mutex<(u32, u16)>,
    /// True while logged in to a server.
    pub server_up: AtomicBool,
    pub shares: RwLock<Arc<ShareIndex>>,
    pub uploads: Uploads,
    pub limits: Arc<Limits>,
    /// The engine's event channel.
    pub events: EventSink,
    next_id: AtomicU64,
    /// How long a peer may take to say hello.
    pub hello_timeout: Duration,
    /// The engine's data dir (the downloads' written logs live there).
    pub data_dir: PathBuf,
    /// Low-id sources we asked the server to make call us back, by their id.
    pub callbacks: Mutex<HashMap<u32, DlLink>>,
    /// Sources whose upload queue we wait in, for the uploaders' connections
    /// back to us.
    pub remote_queues: Mutex<RemoteQueues<DlLink>>,
}

impl Env {
    /// Fresh state for one network run.
    pub fn new(
        user_hash: [u8; 16],
        bind_ip: Option<std::net::IpAddr>,
        nickname: String,
        hello_timeout: Duration,
        data_dir: PathBuf,
        limits: Arc<Limits>,
        events: mpsc::UnboundedSender<NetEvent>,
    ) -> Self {
        Env {
            user_hash,
            bind_ip,
            nickname,
            port: AtomicU16::new(0),
            client_id: AtomicU32::new(0),
            server: Mutex::new((0, 0)),
            server_up: AtomicBool::new(false),
            shares: RwLock::new(Arc::new(ShareIndex::default())),
            uploads: Uploads::new(limits.clone()),
            limits,
            events: events.into(),
            next_id: AtomicU64::new(1),
            callbacks: Mutex::new(HashMap::new()),
            remote_queues: Mutex::new(RemoteQueues::new()),
            hello_timeout,
            data_dir,
        }
    }

    /// A new id for a connection or source.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The current shared-file index.
    pub fn shares(&self) -> Arc<ShareIndex> {
        self.shares
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The record of uploader queues we wait in (a poisoned lock is still usable).
    pub fn queues(&self) -> std::sync::MutexGuard<'_, RemoteQueues<DlLink>> {
        self.remote_queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Our hello (or hello answer) body.
    pub fn hello(&self) -> Hello {
        let server = *self.server.lock().unwrap_or_else(|e| e.into_inner());
        Hello::new(
            self.user_hash,
            self.client_id.load(Ordering::Relaxed),
            self.port.load(Ordering::Relaxed),
            &self.nickname,
            PeerCaps::swarmux(),
            server,
        )
    }
}
