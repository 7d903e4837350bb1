//! One task per peer connection, serving both directions: the uploader side
//! ([`Serve`]) for whatever the peer asks of us, and, when the connection works
//! for one of our downloads, the downloader side ([`Source`]).
//!
//! Writes go through a writer task with a bounded queue; a peer that stops
//! reading (a write making no progress for [`WRITE_STALL`]) ends the connection.

use super::download::DlLink;
use super::env::Env;
use super::part_file::SourceId;
use super::serve::{Serve, ServeAction};
use super::source::{Phase, Source, SrcAction};
use super::storage::DiskFile;
use super::upload_queue::Admission;
use super::uploader::{ConnId, UploadNotice};
use crate::dial::dial;
use crate::proto::frame::{Frame, FrameDecoder, DEFAULT_MAX_FRAME};
use crate::proto::peer_msg::PeerMessage;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use swarmux_net::message::LogLevel;
use swarmux_net::SharedFile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A write that makes no progress for this long drops the peer.
pub const WRITE_STALL: Duration = Duration::from_secs(30);
/// Upload data is sent in packets of this many bytes.
pub const UPLOAD_CHUNK: usize = 10_240;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
const TRANSFER_STALL: Duration = Duration::from_secs(60);
/// How long a queued downloader may wait on one connection.
const QUEUE_WAIT: Duration = Duration::from_secs(3600);

/// Connects to a peer and runs the connection; with `dl`, as a source of that download.
pub async fn connect(env: Arc<Env>, addr: SocketAddr, dl: Option<(DlLink, SourceId)>) {
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, dial(env.bind_ip, addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return ended(&dl, format!("connect failed: {e}"), false),
        Err(_) => return ended(&dl, "connect timed out".into(), false),
    };
    run(env, stream, addr, true, dl).await;
}

fn ended(dl: &Option<(DlLink, SourceId)>, reason: String, no_file: bool) {
    if let Some((link, sid)) = dl {
        let _ = link.tx.send(super::download::DlMsg::PeerEnded {
            sid: *sid,
            reason,
            no_file,
        });
    }
}

/// Runs an accepted or connected socket until either side ends it.
pub async fn run(
    env: Arc<Env>,
    stream: TcpStream,
    addr: SocketAddr,
    outgoing: bool,
    dl: Option<(DlLink, SourceId)>,
) {
    let _guard = super::env::ConnGuard::new(env.clone());
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let (wtx, wrx) = mpsc::channel::<Vec<u8>>(8);
    let writer = tokio::spawn(writer(wr, wrx));
    let (ntx, nrx) = mpsc::unbounded_channel();
    let conn_id = env.next_id();
    let mut c = Conn {
        env: env.clone(),
        addr,
        conn_id,
        wtx,
        ntx,
        client: String::new(),
        hello_done: false,
        serve: Serve::new(),
        dl: dl.map(|(link, sid)| (link, Source::new(sid))),
        pump: None,
        inflight: Inflight::default(),
        slot: false,
        last_rx: Instant::now(),
        last_data: Instant::now(),
        last_req: Instant::now(),
        no_file: false,
    };
    let reason = c.main(rd, writer, nrx, outgoing).await;
    c.cleanup(&reason);
}

async fn writer(mut wr: OwnedWriteHalf, mut rx: mpsc::Receiver<Vec<u8>>) -> String {
    while let Some(buf) = rx.recv().await {
        match tokio::time::timeout(WRITE_STALL, wr.write_all(&buf)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return format!("write failed: {e}"),
            Err(_) => return format!("peer stopped reading for {} s", WRITE_STALL.as_secs()),
        }
    }
    let _ = wr.shutdown().await;
    "closed".into()
}

type Inflight = Arc<std::sync::Mutex<Vec<(u64, u64)>>>;

fn lock(q: &Inflight) -> std::sync::MutexGuard<'_, Vec<(u64, u64)>> {
    q.lock().unwrap_or_else(|e| e.into_inner())
}

type Pump = (
    mpsc::UnboundedSender<(Arc<SharedFile>, u64, u64)>,
    JoinHandle<()>,
);

struct Conn {
    env: Arc<Env>,
    addr: SocketAddr,
    conn_id: ConnId,
    wtx: mpsc::Sender<Vec<u8>>,
    ntx: mpsc::UnboundedSender<UploadNotice>,
    client: String,
    hello_done: bool,
    serve: Serve,
    dl: Option<(DlLink, Source)>,
    pump: Option<Pump>,
    /// Upload ranges queued or being sent, to skip re-requests of the same block.
    inflight: Inflight,
    slot: bool,
    last_rx: Instant,
    last_data: Instant,
    last_req: Instant,
    no_file: bool,
}

impl Conn {
    async fn main(
        &mut self,
        mut rd: tokio::net::tcp::OwnedReadHalf,
        mut writer: JoinHandle<String>,
        mut nrx: mpsc::UnboundedReceiver<UploadNotice>,
        outgoing: bool,
    ) -> String {
        let mut dec = FrameDecoder::for_peer_link(DEFAULT_MAX_FRAME);
        let mut buf = vec![0u8; 64 * 1024];
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let started = Instant::now();
        if outgoing
            && self
                .send(PeerMessage::Hello(self.env.hello()))
                .await
                .is_err()
        {
            return "write failed".into();
        }
        loop {
            tokio::select! {
                n = rd.read(&mut buf) => {
                    let n = match n {
                        Ok(0) => return "peer closed the connection".into(),
                        Ok(n) => n,
                        Err(e) => return format!("read failed: {e}"),
                    };
                    self.last_rx = Instant::now();
                    dec.push(&buf[..n]);
                    loop {
                        let frame = match dec.next_frame() {
                            Ok(Some(f)) => f,
                            Ok(None) => break,
                            Err(e) => return format!("bad frame: {e}"),
                        };
                        if let Err(reason) = self.on_frame(frame, outgoing).await {
                            return reason;
                        }
                    }
                }
                n = nrx.recv() => {
                    if n == Some(UploadNotice::Accepted) {
                        self.slot = true;
                        self.last_req = Instant::now();
                        if let Err(r) = self.send(PeerMessage::AcceptUploadReq).await {
                            return r;
                        }
                    }
                }
                r = &mut writer => {
                    return r.unwrap_or_else(|_| "writer ended".into());
                }
                _ = tick.tick() => {
                    if let Err(r) = self.on_tick(started).await {
                        return r;
                    }
                }
            }
        }
    }

    async fn send(&self, msg: PeerMessage) -> Result<(), String> {
        self.send_frame(msg.encode()).await
    }

    async fn send_frame(&self, f: Frame) -> Result<(), String> {
        self.wtx
            .send(f.encode())
            .await
            .map_err(|_| "connection closed".to_string())
    }

    async fn on_tick(&mut self, started: Instant) -> Result<(), String> {
        let now = Instant::now();
        if !self.hello_done && now - started > HELLO_TIMEOUT {
            return Err("no hello".into());
        }
        if self.slot && now - self.last_req > Duration::from_secs(90) {
            self.release();
        }
        let mut busy = self.slot || self.env.uploads.rank(self.conn_id).is_some();
        let mut acts = Vec::new();
        if let Some((link, src)) = &mut self.dl {
            match src.phase() {
                Phase::Downloading => {
                    busy = true;
                    let mut g = link.lock();
                    if src.idle(&g.core) {
                        acts.push(SrcAction::Close("no needed parts".into()));
                    } else {
                        acts = src.request_more(&mut g.core);
                    }
                    if src.has_pending() && now - self.last_data > TRANSFER_STALL {
                        return Err("transfer stalled".into());
                    }
                }
                Phase::Queued(_) => {
                    busy = true;
                    if now - started > QUEUE_WAIT {
                        return Err("waited too long in the queue".into());
                    }
                }
                _ => {}
            }
        }
        self.src_actions(acts).await?;
        if !busy && now - self.last_rx > IDLE_TIMEOUT {
            return Err("idle".into());
        }
        Ok(())
    }

    async fn on_frame(&mut self, frame: Frame, outgoing: bool) -> Result<(), String> {
        let msg = PeerMessage::decode(&frame).map_err(|e| {
            format!(
                "bad message 0x{:02X}/0x{:02X}: {e}",
                frame.proto, frame.opcode
            )
        })?;
        match msg {
            PeerMessage::Hello(h) => {
                self.client = h.name().unwrap_or("").to_string();
                self.send(PeerMessage::HelloAnswer(self.env.hello()))
                    .await?;
                if !self.hello_done {
                    self.hello_done = true;
                    self.attach_callback(h.client_id);
                    self.begin_download().await?;
                }
                return Ok(());
            }
            PeerMessage::HelloAnswer(h) => {
                self.client = h.name().unwrap_or("").to_string();
                if outgoing && !self.hello_done {
                    self.hello_done = true;
                    self.begin_download().await?;
                }
                return Ok(());
            }
            PeerMessage::EmuleInfo(_) => {
                let info = crate::proto::peer_msg::EmuleInfo::minimal(
                    crate::proto::peer_msg::PeerCaps::swarmux(),
                );
                return self.send(PeerMessage::EmuleInfoAnswer(info)).await;
            }
            _ => {}
        }
        if !self.hello_done {
            return Err("message before hello".into());
        }
        if matches!(msg, PeerMessage::AcceptUploadReq) {
            self.last_data = Instant::now();
        }
        let shares = self.env.shares();
        if let Some(acts) = self.serve.on_message(&msg, &shares) {
            return self.serve_actions(acts).await;
        }
        if let Some((link, src)) = &mut self.dl {
            let acts = {
                let mut g = link.lock();
                src.on_message(msg, &mut g.core)
            };
            if let Some(acts) = acts {
                return self.src_actions(acts).await;
            }
        }
        Ok(())
    }

    /// An incoming connection from a low-id source we asked to call us back.
    fn attach_callback(&mut self, client_id: u32) {
        if self.dl.is_some() {
            return;
        }
        let link = self
            .env
            .callbacks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&client_id);
        if let Some(link) = link {
            let sid = self.env.next_id();
            let _ = link.tx.send(super::download::DlMsg::Attached {
                sid,
                addr: self.addr,
            });
            link.lock().peers.insert(
                sid,
                super::download::PeerStat {
                    addr: self.addr.to_string(),
                    ..Default::default()
                },
            );
            self.dl = Some((link, Source::new(sid)));
        }
    }

    async fn begin_download(&mut self) -> Result<(), String> {
        let Some((link, src)) = &mut self.dl else {
            return Ok(());
        };
        let acts = src.begin(&link.lock().core);
        self.src_actions(acts).await
    }

    fn update_peer_stat(&mut self) {
        if let Some((link, src)) = &self.dl {
            let mut g = link.lock();
            if let Some(p) = g.peers.get_mut(&src.sid) {
                p.client.clone_from(&self.client);
                p.state = src.state_text();
                p.downloading = src.phase() == Phase::Downloading;
                p.queue_rank = match src.phase() {
                    Phase::Queued(r) => Some(r),
                    _ => None,
                };
            }
        }
    }

    async fn src_actions(&mut self, acts: Vec<SrcAction>) -> Result<(), String> {
        let mut queue: VecDeque<SrcAction> = acts.into();
        while let Some(a) = queue.pop_front() {
            match a {
                SrcAction::Send(m) => self.send(m).await?,
                SrcAction::Write { start, data } => {
                    let Some((link, _)) = &self.dl else { continue };
                    let len = data.len() as u64;
                    self.env.limits.download.acquire(data.len()).await;
                    if let Err(e) = link.file.write_at(start, data).await {
                        self.env.log(
                            LogLevel::Error,
                            format!("writing the temp file failed: {e}"),
                        );
                        return Err(format!("disk write failed: {e}"));
                    }
                    self.last_data = Instant::now();
                    let Some((link, src)) = &mut self.dl else {
                        continue;
                    };
                    let more = {
                        let mut g = link.lock();
                        g.meter.add(len);
                        if let Some(p) = g.peers.get_mut(&src.sid) {
                            p.meter.add(len);
                        }
                        src.after_write(start, len, &mut g.core)
                    };
                    queue.extend(more);
                }
                SrcAction::Hashset(h) => {
                    if let Some((link, _)) = &self.dl {
                        let _ = link.tx.send(super::download::DlMsg::Hashset(h));
                    }
                }
                SrcAction::Verify(parts) => {
                    if let Some((link, _)) = &self.dl {
                        let _ = link.tx.send(super::download::DlMsg::Verify(parts));
                    }
                }
                SrcAction::NoFile => self.no_file = true,
                SrcAction::Close(reason) => {
                    self.detach(&reason);
                    if !self.slot && self.env.uploads.rank(self.conn_id).is_none() {
                        return Err(reason);
                    }
                }
            }
        }
        self.update_peer_stat();
        Ok(())
    }

    /// Ends the download role of this connection (it may go on uploading).
    fn detach(&mut self, reason: &str) {
        if let Some((link, src)) = self.dl.take() {
            {
                let mut g = link.lock();
                g.core.parts.remove_source(src.sid);
                g.peers.remove(&src.sid);
            }
            let _ = link.tx.send(super::download::DlMsg::PeerEnded {
                sid: src.sid,
                reason: reason.to_string(),
                no_file: self.no_file,
            });
        }
    }

    async fn serve_actions(&mut self, acts: Vec<ServeAction>) -> Result<(), String> {
        for a in acts {
            match a {
                ServeAction::Send(m) => self.send(m).await?,
                ServeAction::RequestSlot(f) => {
                    let addr = self.addr.to_string();
                    match self.env.uploads.request(
                        self.conn_id,
                        &addr,
                        &self.client,
                        &f.name,
                        self.ntx.clone(),
                    ) {
                        Admission::Accepted => {
                            self.slot = true;
                            self.last_req = Instant::now();
                            self.send(PeerMessage::AcceptUploadReq).await?;
                        }
                        Admission::Queued(r) => self.send(PeerMessage::QueueRanking(r)).await?,
                    }
                }
                ServeAction::Upload(f, ranges) => {
                    if !self.slot {
                        continue;
                    }
                    self.last_req = Instant::now();
                    for r in ranges {
                        {
                            let mut q = lock(&self.inflight);
                            if q.contains(&r) || q.len() >= 32 {
                                continue;
                            }
                            q.push(r);
                        }
                        self.pump_range(f.clone(), r);
                    }
                }
                ServeAction::Release => self.release(),
            }
        }
        Ok(())
    }

    fn pump_range(&mut self, f: Arc<SharedFile>, (s, e): (u64, u64)) {
        if self.pump.is_none() {
            let (tx, rx) = mpsc::unbounded_channel();
            let h = tokio::spawn(pump(
                self.env.clone(),
                self.conn_id,
                rx,
                self.wtx.clone(),
                self.inflight.clone(),
            ));
            self.pump = Some((tx, h));
        }
        if let Some((tx, _)) = &self.pump {
            let _ = tx.send((f, s, e));
        }
    }

    fn release(&mut self) {
        self.slot = false;
        lock(&self.inflight).clear();
        if let Some((_, h)) = self.pump.take() {
            h.abort();
        }
        self.env.uploads.remove(self.conn_id);
    }

    fn cleanup(&mut self, reason: &str) {
        self.release();
        if reason != "peer closed the connection" && reason != "idle" {
            self.env.log(
                LogLevel::Info,
                format!("dropped peer {}: {reason}", self.addr),
            );
        }
        self.detach(reason);
    }
}

/// Reads requested ranges of shared files and sends them as SendingPart
/// packets, paced by the upload limiter.
async fn pump(
    env: Arc<Env>,
    conn: ConnId,
    mut rx: mpsc::UnboundedReceiver<(Arc<SharedFile>, u64, u64)>,
    wtx: mpsc::Sender<Vec<u8>>,
    inflight: Inflight,
) {
    let mut open: Option<(std::path::PathBuf, DiskFile)> = None;
    while let Some((f, s, e)) = rx.recv().await {
        if open.as_ref().is_none_or(|(p, _)| *p != f.path) {
            match DiskFile::open_read(&f.path).await {
                Ok(d) => open = Some((f.path.clone(), d)),
                Err(e) => {
                    env.log(
                        LogLevel::Warn,
                        format!("cannot read shared file {}: {e}", f.path.display()),
                    );
                    return;
                }
            }
        }
        let Some((_, disk)) = &open else { return };
        let mut pos = s;
        while pos < e {
            let n = (e - pos).min(super::part_file::BLOCK_SIZE) as usize;
            let data = match disk.read_at(pos, n).await {
                Ok(d) => d,
                Err(err) => {
                    env.log(
                        LogLevel::Warn,
                        format!("reading {} failed: {err}", f.path.display()),
                    );
                    return;
                }
            };
            for (i, chunk) in data.chunks(UPLOAD_CHUNK).enumerate() {
                env.limits.upload.acquire(chunk.len()).await;
                let msg = PeerMessage::SendingPart {
                    hash: f.ed2k,
                    start: pos + (i * UPLOAD_CHUNK) as u64,
                    data: chunk.to_vec(),
                };
                if wtx.send(msg.encode().encode()).await.is_err() {
                    return;
                }
                env.uploads.sent(conn, chunk.len() as u64);
            }
            pos += n as u64;
        }
        lock(&inflight).retain(|&r| r != (s, e));
    }
}
