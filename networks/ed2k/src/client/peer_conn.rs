//! One task per peer connection, serving both directions: the uploader side
//! ([`Serve`]) for whatever the peer asks of us, and, when the connection works
//! for one of our downloads, the downloader side ([`Source`]).
//!
//! Writes go through a writer task with a bounded queue; a peer that stops
//! reading (a write making no progress for [`WRITE_STALL`]) ends the connection.

use super::download::DlLink;
use super::env::Env;
use super::part_file::SourceId;
use super::remote_queue::{Claim, Closed, PeerKey, FILE_REASK};
use super::serve::{Serve, ServeAction};
use super::source::{Phase, Source, SrcAction};
use super::storage::DiskFile;
use super::upload_queue::Admission;
use super::uploader::{ConnId, UploadNotice};
use crate::proto::frame::{Frame, FrameDecoder, DEFAULT_MAX_FRAME};
use crate::proto::peer_msg::PeerMessage;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use swarmux_net::dial::dial;
use swarmux_net::gate::Admission as GateAdmission;
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
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
const TRANSFER_STALL: Duration = Duration::from_secs(60);
/// Why a connection whose peer never sent its hello ended.
pub const NO_HELLO: &str = "no hello";
/// How long an accepted downloader may stay silent before the accept is
/// sent again (then twice that, three times at most).
const ACCEPT_RESEND: Duration = Duration::from_secs(10);
/// How long a queued downloader may wait on one connection.
const QUEUE_WAIT: Duration = Duration::from_secs(3600);

/// Connects to a peer and runs the connection; with `dl`, as a source of that download.
pub async fn connect(env: Arc<Env>, addr: SocketAddr, dl: Option<(DlLink, SourceId)>) {
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, dial(env.bind_ip, addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return ended(&dl, format!("connect failed: {e}"), false),
        Err(_) => return ended(&dl, "connect timed out".into(), false),
    };
    run(env, stream, addr, true, dl, None).await;
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

/// Runs an accepted or connected socket until either side ends it; an
/// accepted one holds its `admission` (its slot of the incoming budget)
/// until then.
pub async fn run(
    env: Arc<Env>,
    stream: TcpStream,
    addr: SocketAddr,
    outgoing: bool,
    dl: Option<(DlLink, SourceId)>,
    admission: Option<GateAdmission>,
) {
    let _admission = admission;
    let conn_id = env.next_id();
    let mut asked_at = Instant::now();
    let dl = match dl {
        None => None,
        Some((link, sid)) => {
            let mut q = env.queues();
            match q.claim(sid, conn_id) {
                // The uploader connected to us meanwhile: nothing to do here.
                Claim::Busy => return,
                Claim::Reask(rank) => {
                    if let Some(w) = q.get(sid) {
                        asked_at = w.asked;
                    }
                    Some((link, Source::reasking(sid, rank)))
                }
                Claim::Fresh => Some((link, Source::new(sid))),
            }
        }
    };
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let (wtx, wrx) = mpsc::channel::<Vec<u8>>(8);
    let writer = tokio::spawn(writer(wr, wrx));
    let (ntx, nrx) = mpsc::unbounded_channel();
    let mut c = Conn {
        env: env.clone(),
        addr,
        conn_id,
        wtx,
        ntx,
        client: String::new(),
        hello_done: false,
        serve: Serve::new(),
        dl,
        peer_hash: None,
        peer_port: addr.port(),
        asked_at,
        last_phase: None,
        sent_cancel: false,
        pump: None,
        inflight: Inflight::default(),
        slot: false,
        unanswered_accept: None,
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
    /// The peer's user hash and listening port, from its hello.
    peer_hash: Option<[u8; 16]>,
    peer_port: u16,
    /// When the downloader side last sent StartUploadReq.
    asked_at: Instant,
    /// The downloader phase last seen, to notice changes.
    last_phase: Option<Phase>,
    /// OP_CANCELTRANSFER sent for an AcceptUploadReq we cannot use.
    sent_cancel: bool,
    pump: Option<Pump>,
    /// Upload ranges queued or being sent, to skip re-requests of the same block.
    inflight: Inflight,
    slot: bool,
    /// Since when we wait for the peer's next block request (after our
    /// AcceptUploadReq, or after sending every block it asked for), and how
    /// often the accept was sent again to wake it.
    unanswered_accept: Option<(Instant, u8)>,
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
                        if let Err(r) = self.accept_upload().await {
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

    /// Gives the peer an upload slot and tells it so.
    async fn accept_upload(&mut self) -> Result<(), String> {
        self.slot = true;
        self.last_req = Instant::now();
        self.unanswered_accept = Some((self.last_req, 0));
        self.send(PeerMessage::AcceptUploadReq).await
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
        if !self.hello_done && now - started > self.env.hello_timeout {
            return Err(NO_HELLO.into());
        }
        if self.slot && now - self.last_req > Duration::from_secs(90) {
            self.release();
        }
        // aMule 2.3.3 can leave what arrives on a socket unread for good (its
        // read handler misses data that lands while it runs, and the edge-
        // triggered poller does not fire again until more comes): an accept
        // it never answers is sent again, which wakes its reader. eMule does
        // not do this; a peer that did read it just asks for the same blocks
        // again, which the pump skips.
        // The same when every block it asked for went out and its next
        // request does not come: the last blocks may sit unread in its socket.
        if self.slot && self.unanswered_accept.is_none() && lock(&self.inflight).is_empty() {
            self.unanswered_accept = Some((now, 0));
        }
        if let Some((at, resent)) = self.unanswered_accept {
            if self.slot && resent < 3 && now - at > ACCEPT_RESEND * (u32::from(resent) + 1) {
                self.unanswered_accept = Some((at, resent + 1));
                self.send(PeerMessage::AcceptUploadReq).await?;
            }
        }
        let mut busy = self.slot || self.env.uploads.rank(self.conn_id).is_some();
        if self.dl.as_ref().is_some_and(|(l, _)| l.tx.is_closed()) {
            // The download stopped or completed.
            self.dl = None;
            if !busy {
                return Err("download ended".into());
            }
        }
        if self.replaced() && !busy {
            return Err("replaced by a newer connection".into());
        }
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
                    // Keep our place: eMule re-asks every FILEREASKTIME, on
                    // the open connection when there is one.
                    if now >= self.asked_at + FILE_REASK {
                        acts = src.reask(&link.lock().core);
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
                self.peer_hash = Some(h.user_hash);
                self.peer_port = h.port;
                self.send(PeerMessage::HelloAnswer(self.env.hello()))
                    .await?;
                if !self.hello_done {
                    self.hello_done = true;
                    self.attach_callback(h.client_id);
                    if !outgoing {
                        self.attach_queued(h.user_hash);
                    }
                    self.begin_download().await?;
                }
                return Ok(());
            }
            PeerMessage::HelloAnswer(h) => {
                self.client = h.name().unwrap_or("").to_string();
                self.peer_hash = Some(h.user_hash);
                self.peer_port = h.port;
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
        if self.replaced() && !self.slot && self.env.uploads.rank(self.conn_id).is_none() {
            return Err("replaced by a newer connection".into());
        }
        if let Some((link, src)) = &mut self.dl {
            let acts = {
                let mut g = link.lock();
                src.on_message(msg, &mut g.core)
            };
            if let Some(acts) = acts {
                return self.src_actions(acts).await;
            }
        } else if msg == PeerMessage::AcceptUploadReq && !self.sent_cancel {
            // A slot for nothing we want from this peer (an unknown peer, a
            // download that ended, a queue we were dropped from): answer as
            // aMule does, once, so the uploader frees the slot; the
            // connection stays up until the idle timeout.
            self.sent_cancel = true;
            return self.send(PeerMessage::CancelTransfer).await;
        }
        Ok(())
    }

    /// True (and the downloader role dropped) when an uploader's newer
    /// connection took over this connection's queued source.
    fn replaced(&mut self) -> bool {
        let Some((_, src)) = &self.dl else {
            return false;
        };
        if self.env.queues().owns(src.sid, self.conn_id) {
            return false;
        }
        self.dl = None;
        true
    }

    /// An incoming connection: the uploader of a source waiting in its queue
    /// calling us back to give it a slot.
    fn attach_queued(&mut self, user_hash: [u8; 16]) {
        if self.dl.is_some() {
            return;
        }
        let found = self
            .env
            .queues()
            .attach(self.addr.ip(), user_hash, self.conn_id);
        let Some((link, sid, rank)) = found else {
            return;
        };
        if let Some(w) = self.env.queues().get(sid) {
            self.asked_at = w.asked;
        }
        let _ = link.tx.send(super::download::DlMsg::Reconnected { sid });
        self.dl = Some((link, Source::resumed(sid, rank)));
        self.last_phase = Some(Phase::Queued(rank));
    }

    /// Records a change of the downloader phase in the queue record.
    fn sync_queue(&mut self) {
        let Some((link, src)) = &self.dl else { return };
        let phase = src.phase();
        if self.last_phase == Some(phase) {
            return;
        }
        self.last_phase = Some(phase);
        match phase {
            Phase::Queued(rank) => {
                let Some(user_hash) = self.peer_hash else {
                    return;
                };
                let peer = PeerKey {
                    ip: self.addr.ip(),
                    port: self.peer_port,
                    user_hash,
                };
                self.env
                    .queues()
                    .queued(src.sid, link, peer, rank, self.conn_id, self.asked_at);
            }
            Phase::Downloading => self.env.queues().forget_if_owner(src.sid, self.conn_id),
            _ => {}
        }
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
                p.queue_rank = src.queue_rank();
            }
        }
    }

    async fn src_actions(&mut self, acts: Vec<SrcAction>) -> Result<(), String> {
        let mut queue: VecDeque<SrcAction> = acts.into();
        while let Some(a) = queue.pop_front() {
            match a {
                SrcAction::Send(m) => {
                    if matches!(m, PeerMessage::StartUploadReq(_)) {
                        self.asked_at = Instant::now();
                    }
                    self.send(m).await?
                }
                SrcAction::Write { start, data } => {
                    let Some((link, _)) = &self.dl else { continue };
                    let len = data.len() as u64;
                    self.env.limits.download.acquire(data.len()).await;
                    let log = link.written.clone();
                    if let Err(e) = link.file.write_recorded(start, data, log).await {
                        let _ = link
                            .tx
                            .send(super::download::DlMsg::WriteFailed(e.to_string()));
                        return Err(format!("disk write failed: {e}"));
                    }
                    self.last_data = Instant::now();
                    let Some((link, src)) = &mut self.dl else {
                        continue;
                    };
                    let more = {
                        let mut g = link.lock();
                        g.meter.record(len, std::time::Instant::now());
                        if let Some(p) = g.peers.get_mut(&src.sid) {
                            p.meter.record(len, std::time::Instant::now());
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
        self.sync_queue();
        self.update_peer_stat();
        Ok(())
    }

    /// Ends the download role of this connection (it may go on uploading).
    fn detach(&mut self, reason: &str) {
        if let Some((link, src)) = self.dl.take() {
            self.env.queues().forget_if_owner(src.sid, self.conn_id);
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
                        Admission::Accepted => self.accept_upload().await?,
                        Admission::Queued(r) => self.send(PeerMessage::QueueRanking(r)).await?,
                    }
                }
                ServeAction::Upload(f, ranges) => {
                    if !self.slot {
                        continue;
                    }
                    self.last_req = Instant::now();
                    self.unanswered_accept = None;
                    // The whole request goes into `inflight` before the pump
                    // sees any of it (the pump skips resent ranges by it).
                    let mut accepted = Vec::new();
                    {
                        let mut q = lock(&self.inflight);
                        for r in ranges {
                            if q.contains(&r) || q.len() >= 32 {
                                continue;
                            }
                            q.push(r);
                            accepted.push(r);
                        }
                    }
                    for r in accepted {
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
            self.env.events.log(
                LogLevel::Info,
                format!("dropped peer {}: {reason}", self.addr),
            );
        }
        if self.park() {
            return;
        }
        self.detach(reason);
    }

    /// The connection of a queued source closes: it stays in the uploader's
    /// queue (shown at its rank) until the uploader connects back or we ask
    /// again. True when the source needs nothing more from this connection.
    fn park(&mut self) -> bool {
        let Some((link, src)) = &self.dl else {
            return false;
        };
        let sid = src.sid;
        let closed = self.env.queues().closed(sid, self.conn_id);
        match closed {
            Closed::NotWaiting => return false,
            Closed::Replaced => {}
            Closed::Parked { rank, reask_at } => {
                if let Some(p) = link.lock().peers.get_mut(&sid) {
                    p.state = format!("queued at rank {rank}");
                    p.downloading = false;
                    p.queue_rank = Some(rank);
                }
                let _ = link
                    .tx
                    .send(super::download::DlMsg::Parked { sid, reask_at });
            }
        }
        self.dl = None;
        true
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
    // aMule 2.3.3 repeats in each OP_REQUESTPARTS the blocks it has not fully
    // received yet, also blocks we already wrote that still sit in the send
    // buffers, next to the new block it wants; serving those again sent ~40%
    // extra (55 duplicate blocks for a 24 MB file, seen in
    // tests/amule_interop.rs). Like eMule's done-blocks list, a range this
    // connection just sent is skipped — but only while the same request also
    // brought a range not sent yet: a request of nothing but sent ranges (a
    // part fetched again after failing its hash) is served.
    let mut done: VecDeque<([u8; 16], u64, u64)> = VecDeque::new();
    while let Some((f, s, e)) = rx.recv().await {
        let sent =
            |d: &VecDeque<([u8; 16], u64, u64)>, (s, e): (u64, u64)| d.contains(&(f.ed2k, s, e));
        if sent(&done, (s, e)) && lock(&inflight).iter().any(|&r| !sent(&done, r)) {
            lock(&inflight).retain(|&r| r != (s, e));
            continue;
        }
        if open.as_ref().is_none_or(|(p, _)| *p != f.path) {
            match DiskFile::open_shared(f.clone()).await {
                Ok(d) => open = Some((f.path.clone(), d)),
                Err(e) => {
                    env.events
                        .log(LogLevel::Warn, format!("not serving {}: {e}", f.name));
                    // The downloader drops us as a source at once.
                    let _ = wtx.send(PeerMessage::OutOfPartReqs.encode().encode()).await;
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
                    env.events.log(
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
        done.push_back((f.ed2k, s, e));
        if done.len() > 32 {
            done.pop_front();
        }
    }
}
