//! One peer connection: handshake, the message loop, requests and uploads.
//!
//! One task per connection reads into a single `BytesMut` and decodes it in
//! place ([`Message::decode_buf`]): block data is handed to the disk thread
//! as a slice of that buffer, without a copy. Requests are pipelined: the
//! queue depth follows the peer's rate (64 to 250 blocks, never above its
//! `reqq`). Uploads are read from storage on the blocking pool in batches of
//! up to 256 KiB, after taking tokens from the global upload limiter;
//! received bytes take tokens from the download limiter, and reading pauses
//! while in debt (TCP then slows the peer down).
//!
//! With a peer that also speaks the Fast Extension (BEP 6), pieces are
//! announced with Have All / Have None when they apply, every request we
//! drop is answered with a Reject Request, and a Choke leaves our requests
//! pending until each is answered by its block or a Reject Request.

use super::disk::{self, DiskJob};
use super::env::Env;
use super::shared::{PeerCmd, PeerEvent, PeerShared, Ready};
use super::torrent::TorrentMsg;
use crate::core::Bitfield;
use crate::core::{BlockOutcome, BlockRequest, RateMeter, BLOCK_LEN};
use crate::proto::extension::{OUR_UT_METADATA_ID, OUR_UT_PEX_ID, UT_METADATA, UT_PEX};
use crate::proto::handshake::HANDSHAKE_LEN;
use crate::proto::pex::MAX_PEX_RECEIVED;
use crate::proto::wire::piece_header;
use crate::proto::{metadata_piece, ExtHandshake, Handshake, Message, MetadataMsg, PexMessage};
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use swarmux_net::gate::Admission;
use swarmux_net::CountGuard;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, timeout, Instant};

/// Time allowed to connect and to exchange handshakes.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection silent this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(180);
/// We send a keep-alive after this long without sending.
const KEEPALIVE: Duration = Duration::from_secs(90);
/// Request queue depth bounds, in blocks.
const MIN_DEPTH: usize = 64;
const MAX_DEPTH: usize = 250;
/// Requests from a peer we queue; more are ignored.
const MAX_UPLOAD_QUEUE: usize = 256;
/// Bytes read from storage per upload batch.
const UPLOAD_BATCH: usize = 256 << 10;
/// Uploads stop being read while this much is waiting to be sent.
const OUT_HIGH: usize = 256 << 10;
/// Receive buffer growth step, and the free room that triggers it.
const READ_CHUNK: usize = 256 << 10;
const READ_MIN: usize = 32 << 10;
/// `have`s remembered before the info dictionary is known.
const MAX_PENDING_HAVES: usize = 1 << 16;

/// The pieces a peer announced before the info dictionary was known.
enum Announced {
    /// A bitfield, checked once the piece count is known.
    Bits(Bytes),
    /// Have All (BEP 6).
    All,
    /// Have None (BEP 6).
    None,
}

/// How the connection starts.
pub(crate) enum Dial {
    /// We connect out.
    Out,
    /// The peer connected; the listener read its handshake.
    In(TcpStream, Handshake),
}

/// Everything a peer task needs.
pub(crate) struct PeerSetup {
    pub env: Arc<Env>,
    pub key: u64,
    pub addr: SocketAddr,
    pub info_hash: [u8; 20],
    pub ready: Option<Arc<Ready>>,
    /// Private torrent: no PEX, no metadata for strangers.
    pub private: bool,
    pub shared: Arc<PeerShared>,
    pub events: mpsc::UnboundedSender<TorrentMsg>,
    pub slot: CountGuard,
    /// An incoming connection's slot in the listener's gate.
    pub admission: Option<Admission>,
}

/// Runs a connection to its end and reports why it ended.
pub(crate) async fn run(setup: PeerSetup, dial: Dial, cmds: mpsc::UnboundedReceiver<PeerCmd>) {
    let events = setup.events.clone();
    let key = setup.key;
    let ready = setup.ready.clone();
    let reason = match open(&setup, dial).await {
        Ok((stream, hs)) => {
            let _ = events.send(TorrentMsg::Peer(
                key,
                PeerEvent::Handshaked {
                    peer_id: hs.peer_id,
                },
            ));
            let mut c = Conn::new(setup, hs);
            let reason = c.drive(stream, cmds).await;
            if let Some(r) = &c.ready {
                r.picker().remove_peer(key);
            }
            reason
        }
        Err(e) => {
            if let Some(r) = &ready {
                r.picker().remove_peer(key);
            }
            e
        }
    };
    let _ = events.send(TorrentMsg::Peer(key, PeerEvent::Closed(reason)));
}

/// Connects (when dialing out) and exchanges handshakes.
async fn open(s: &PeerSetup, dial: Dial) -> Result<(TcpStream, Handshake), String> {
    let ours = Handshake::new(s.info_hash, s.env.peer_id).encode();
    let (stream, theirs) = match dial {
        Dial::In(mut stream, hs) => {
            timeout(CONNECT_TIMEOUT, stream.write_all(&ours))
                .await
                .map_err(|_| "handshake timed out".to_string())?
                .map_err(|e| e.to_string())?;
            (stream, hs)
        }
        Dial::Out => {
            let dial = swarmux_net::dial::dial(s.env.cfg.local_ip(), s.addr);
            let mut stream = timeout(CONNECT_TIMEOUT, dial)
                .await
                .map_err(|_| "connect timed out".to_string())?
                .map_err(|e| format!("connect: {e}"))?;
            let hs = timeout(CONNECT_TIMEOUT, async {
                stream.write_all(&ours).await?;
                let mut buf = [0u8; HANDSHAKE_LEN];
                stream.read_exact(&mut buf).await?;
                Ok::<_, std::io::Error>(buf)
            })
            .await
            .map_err(|_| "handshake timed out".to_string())?
            .map_err(|e| format!("handshake: {e}"))?;
            let hs = Handshake::decode(&hs)
                .map_err(|e| e.to_string())?
                .ok_or("short handshake")?;
            if hs.info_hash != s.info_hash {
                return Err("peer answered for another torrent".into());
            }
            (stream, hs)
        }
    };
    if theirs.peer_id == s.env.peer_id {
        return Err("connected to ourselves".into());
    }
    let _ = stream.set_nodelay(true);
    Ok((stream, theirs))
}

struct Conn {
    env: Arc<Env>,
    key: u64,
    addr: SocketAddr,
    shared: Arc<PeerShared>,
    events: mpsc::UnboundedSender<TorrentMsg>,
    ready: Option<Arc<Ready>>,
    private: bool,
    _slot: CountGuard,
    _admission: Option<Admission>,
    their_dht: bool,
    their_ext: bool,
    /// Both sides speak the Fast Extension (BEP 6).
    fast: bool,
    /// Rejects received while unchoked since the last block.
    rejects_in_a_row: usize,
    /// Bytes to send.
    out: BytesMut,
    ut_metadata: Option<u8>,
    ut_pex: Option<u8>,
    reqq: usize,
    pending_bitfield: Option<Announced>,
    pending_haves: Vec<u32>,
    peer_choking: bool,
    am_interested: bool,
    am_choking: bool,
    outstanding: VecDeque<BlockRequest>,
    rate: RateMeter,
    scratch: Vec<BlockRequest>,
    uploads: VecDeque<BlockRequest>,
    upload_job: Option<JoinHandle<std::io::Result<(BytesMut, u64)>>>,
    /// A batch paid for, waiting for the limiter's deadline.
    upload_wait: Option<(Instant, Vec<BlockRequest>)>,
    read_pause: Option<Instant>,
    /// On probation: no new requests (see the torrent's ban rules).
    suspended: bool,
    last_recv: Instant,
    last_send: Instant,
}

async fn join_opt<T>(h: &mut Option<JoinHandle<T>>) -> Result<T, tokio::task::JoinError> {
    match h {
        Some(h) => h.await,
        None => std::future::pending().await,
    }
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Conn {
    fn new(s: PeerSetup, hs: Handshake) -> Self {
        let now = Instant::now();
        Conn {
            env: s.env,
            key: s.key,
            addr: s.addr,
            shared: s.shared,
            events: s.events,
            ready: s.ready,
            private: s.private,
            _slot: s.slot,
            _admission: s.admission,
            their_dht: hs.supports_dht(),
            their_ext: hs.supports_extensions(),
            fast: hs.supports_fast(),
            rejects_in_a_row: 0,
            out: BytesMut::with_capacity(64 << 10),
            ut_metadata: None,
            ut_pex: None,
            reqq: MAX_DEPTH,
            pending_bitfield: None,
            pending_haves: Vec::new(),
            peer_choking: true,
            am_interested: false,
            am_choking: true,
            outstanding: VecDeque::new(),
            rate: RateMeter::new(Duration::from_secs(3)),
            scratch: Vec::new(),
            uploads: VecDeque::new(),
            upload_job: None,
            upload_wait: None,
            read_pause: None,
            suspended: false,
            last_recv: now,
            last_send: now,
        }
    }

    fn send(&mut self, m: Message) {
        m.encode(&mut self.out);
    }

    fn report(&self, ev: PeerEvent) {
        let _ = self.events.send(TorrentMsg::Peer(self.key, ev));
    }

    fn pex_enabled(&self) -> bool {
        self.env.cfg.pex && !self.private
    }

    /// Tells a fast peer we will not serve its request (BEP 6); nothing for
    /// other peers, which expect silence.
    fn reject(&mut self, r: BlockRequest) {
        if self.fast {
            self.send(Message::RejectRequest {
                index: r.piece,
                begin: r.offset,
                length: r.len,
            });
        }
    }

    /// Our opening messages: extension handshake, bitfield (or, with a fast
    /// peer, Have All / Have None when they say the same), DHT port.
    fn greet(&mut self) {
        if self.their_ext {
            let size = self.ready.as_ref().map(|r| r.info.info_bytes.len() as u64);
            let mut h = ExtHandshake::ours(size, self.env.port(), self.pex_enabled());
            h.yourip = Some(self.addr.ip());
            self.send(Message::Extended {
                id: 0,
                payload: h.encode().into(),
            });
        }
        let have = self.ready.as_ref().map(|r| r.picker().have().clone());
        match have {
            Some(have) if self.fast && have.is_complete() => self.send(Message::HaveAll),
            Some(have) if have.count_ones() > 0 => {
                self.send(Message::Bitfield(Bytes::copy_from_slice(have.as_bytes())));
            }
            _ if self.fast => self.send(Message::HaveNone),
            _ => {}
        }
        if self.their_dht && !self.private {
            if let Some(d) = self.env.dht.get() {
                self.send(Message::Port(d.local_addr().port()));
            }
        }
    }

    async fn drive(
        &mut self,
        stream: TcpStream,
        mut cmds: mpsc::UnboundedReceiver<PeerCmd>,
    ) -> String {
        let (mut rd, mut wr) = stream.into_split();
        let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        self.greet();
        loop {
            loop {
                match Message::decode_buf(&mut rbuf) {
                    Ok(Some(m)) => {
                        if let Err(e) = self.on_message(m).await {
                            return e;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return e.to_string(),
                }
            }
            self.refill();
            self.start_upload();
            if rbuf.capacity() - rbuf.len() < READ_MIN {
                rbuf.reserve(READ_CHUNK);
            }
            let read_paused = self.read_pause.is_some_and(|t| t > Instant::now());
            tokio::select! {
                r = rd.read_buf(&mut rbuf), if !read_paused => match r {
                    Ok(0) => return "closed by the peer".into(),
                    Ok(_) => self.last_recv = Instant::now(),
                    Err(e) => return e.to_string(),
                },
                r = wr.write_buf(&mut self.out), if !self.out.is_empty() => match r {
                    Ok(_) => self.last_send = Instant::now(),
                    Err(e) => return e.to_string(),
                },
                cmd = cmds.recv() => match cmd {
                    None | Some(PeerCmd::Close) => {
                        let _ = timeout(Duration::from_secs(1), wr.write_all(&self.out)).await;
                        return "closed".into();
                    }
                    Some(cmd) => {
                        if let Err(e) = self.on_cmd(cmd) {
                            return e;
                        }
                    }
                },
                res = join_opt(&mut self.upload_job) => {
                    self.upload_job = None;
                    match res {
                        Ok(Ok((buf, payload))) => {
                            self.out.unsplit(buf);
                            self.shared.uploaded.fetch_add(payload, Ordering::Relaxed);
                            self.env.uploaded.fetch_add(payload, Ordering::Relaxed);
                        }
                        Ok(Err(e)) => return format!("cannot read data to upload: {e}"),
                        Err(_) => return "upload task failed".into(),
                    }
                }
                _ = sleep_opt(self.read_pause), if read_paused => self.read_pause = None,
                _ = sleep_opt(self.upload_wait.as_ref().map(|w| w.0)) => {
                    if let Some((_, batch)) = self.upload_wait.take() {
                        self.spawn_upload(batch);
                    }
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    if now - self.last_recv > IDLE_TIMEOUT {
                        return "idle".into();
                    }
                    if now - self.last_send > KEEPALIVE && self.out.is_empty() {
                        self.send(Message::KeepAlive);
                    }
                }
            }
        }
    }

    fn on_cmd(&mut self, cmd: PeerCmd) -> Result<(), String> {
        match cmd {
            PeerCmd::Have(piece) => {
                self.send(Message::Have(piece));
                self.update_interest();
            }
            PeerCmd::Choke => {
                if !self.am_choking {
                    self.am_choking = true;
                    self.send(Message::Choke);
                    for r in std::mem::take(&mut self.uploads) {
                        self.reject(r);
                    }
                }
            }
            PeerCmd::Unchoke => {
                if self.am_choking {
                    self.am_choking = false;
                    self.send(Message::Unchoke);
                }
            }
            PeerCmd::Cancel(r) => {
                if let Some(i) = self.outstanding.iter().position(|o| *o == r) {
                    self.outstanding.remove(i);
                    self.send(Message::Cancel {
                        index: r.piece,
                        begin: r.offset,
                        length: r.len,
                    });
                }
            }
            PeerCmd::Pex(payload) => {
                if let Some(id) = self.ut_pex {
                    self.send(Message::Extended {
                        id,
                        payload: payload.into(),
                    });
                }
            }
            PeerCmd::RequestMetadata(piece) => {
                if let Some(id) = self.ut_metadata {
                    let payload = MetadataMsg::Request { piece }.encode();
                    self.send(Message::Extended {
                        id,
                        payload: payload.into(),
                    });
                }
            }
            PeerCmd::Ready(r) => {
                let have = r.picker().have().clone();
                self.ready = Some(r);
                for piece in have.iter_ones() {
                    self.send(Message::Have(piece));
                }
                self.apply_pending()?;
                self.update_interest();
            }
            PeerCmd::Refill => self.update_interest(),
            PeerCmd::Suspend(on) => {
                if on && !self.suspended {
                    if let Some(r) = &self.ready {
                        r.picker().peer_choked(self.key);
                    }
                    for r in std::mem::take(&mut self.outstanding) {
                        self.send(Message::Cancel {
                            index: r.piece,
                            begin: r.offset,
                            length: r.len,
                        });
                    }
                }
                self.suspended = on;
            }
            PeerCmd::Close => {}
        }
        Ok(())
    }

    /// Feeds a bitfield and haves received before the info dictionary.
    fn apply_pending(&mut self) -> Result<(), String> {
        let Some(r) = self.ready.clone() else {
            return Ok(());
        };
        let count = r.info.num_pieces() as u32;
        if let Some(announced) = self.pending_bitfield.take() {
            let bf = match announced {
                Announced::Bits(b) => Bitfield::from_bytes(&b, count).map_err(|e| e.to_string())?,
                Announced::All => Bitfield::full(count),
                Announced::None => Bitfield::new(count),
            };
            self.shared.seed.store(bf.is_complete(), Ordering::Relaxed);
            r.picker()
                .peer_bitfield(self.key, bf)
                .map_err(|e| e.to_string())?;
        }
        let mut picker = r.picker();
        for h in self.pending_haves.drain(..) {
            picker.peer_have(self.key, h).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn on_message(&mut self, m: Message) -> Result<(), String> {
        match m {
            Message::KeepAlive | Message::Unknown { .. } => {}
            Message::Choke => {
                self.peer_choking = true;
                PeerShared::set(&self.shared.peer_choking, true);
                // A fast peer answers each request with its block or a Reject.
                if !self.fast {
                    if let Some(r) = &self.ready {
                        r.picker().peer_choked(self.key);
                    }
                    self.outstanding.clear();
                }
            }
            Message::Unchoke => {
                self.peer_choking = false;
                PeerShared::set(&self.shared.peer_choking, false);
            }
            Message::Interested => {
                if !PeerShared::get(&self.shared.peer_interested) {
                    PeerShared::set(&self.shared.peer_interested, true);
                    self.report(PeerEvent::Interested);
                }
            }
            Message::NotInterested => PeerShared::set(&self.shared.peer_interested, false),
            Message::Have(piece) => match self.ready.clone() {
                Some(r) => {
                    let wanted = r
                        .picker()
                        .peer_have(self.key, piece)
                        .map_err(|e| e.to_string())?;
                    if wanted && !self.am_interested {
                        self.update_interest();
                    }
                }
                None => {
                    if self.pending_haves.len() < MAX_PENDING_HAVES {
                        self.pending_haves.push(piece);
                    }
                }
            },
            Message::Bitfield(bits) => self.on_announced(Announced::Bits(bits))?,
            Message::HaveAll => self.on_announced(Announced::All)?,
            Message::HaveNone => self.on_announced(Announced::None)?,
            Message::RejectRequest {
                index,
                begin,
                length,
            } => self.on_reject(BlockRequest {
                piece: index,
                offset: begin,
                len: length,
            })?,
            // Never requested while choked, and no suggestion is followed.
            Message::SuggestPiece(_) | Message::AllowedFast(_) => {}
            Message::Request {
                index,
                begin,
                length,
            } => self.on_request(BlockRequest {
                piece: index,
                offset: begin,
                len: length,
            }),
            Message::Piece { index, begin, data } => self.on_block(index, begin, data).await?,
            Message::Cancel {
                index,
                begin,
                length,
            } => {
                let r = BlockRequest {
                    piece: index,
                    offset: begin,
                    len: length,
                };
                let queued = self.uploads.len();
                self.uploads.retain(|u| *u != r);
                // BEP 6: a cancelled request still gets exactly one answer.
                if self.uploads.len() < queued {
                    self.reject(r);
                }
            }
            Message::Port(port) => {
                if port != 0 {
                    self.report(PeerEvent::DhtNode(SocketAddr::new(self.addr.ip(), port)));
                }
            }
            Message::Extended { id, payload } => self.on_extended(id, payload),
        }
        Ok(())
    }

    /// A bitfield, Have All or Have None: the peer's pieces, kept until the
    /// info dictionary is known. Have All / Have None need the Fast
    /// Extension. A later one replaces the earlier (aria2 sends Have None,
    /// then a bitfield, which BEP 6 forbids but real peers do).
    fn on_announced(&mut self, announced: Announced) -> Result<(), String> {
        if !self.fast && !matches!(announced, Announced::Bits(_)) {
            return Err("Have All / Have None without the Fast Extension".into());
        }
        self.pending_bitfield = Some(announced);
        self.apply_pending()?;
        self.update_interest();
        Ok(())
    }

    /// A fast peer will not send a block we asked for: it goes back to the
    /// picker as after a timeout. Rejects of blocks we did not ask for (or
    /// from a peer without the Fast Extension) are ignored.
    ///
    /// A peer that keeps us unchoked but rejects request after request
    /// (more than two full pipelines without a block) is dropped, so that
    /// the same blocks are not asked again at network speed.
    fn on_reject(&mut self, r: BlockRequest) -> Result<(), String> {
        if !self.fast {
            return Ok(());
        }
        let Some(i) = self.outstanding.iter().position(|o| *o == r) else {
            return Ok(());
        };
        self.outstanding.remove(i);
        if let Some(ready) = &self.ready {
            ready.picker().request_rejected(self.key, r);
        }
        if !self.peer_choking {
            self.rejects_in_a_row += 1;
            if self.rejects_in_a_row > 2 * MAX_DEPTH {
                return Err("rejects every request while unchoking us".into());
            }
        }
        Ok(())
    }

    fn on_extended(&mut self, id: u8, payload: Bytes) {
        match id {
            0 => {
                let Ok(h) = ExtHandshake::decode(&payload) else {
                    return;
                };
                self.ut_metadata = h.extension_id(UT_METADATA);
                self.ut_pex = h.extension_id(UT_PEX).filter(|_| self.pex_enabled());
                if let Some(q) = h.reqq {
                    self.reqq = (q as usize).clamp(1, MAX_DEPTH);
                }
                self.report(PeerEvent::Ext {
                    client: h.client.clone(),
                    listen_port: h.listen_port,
                    pex: self.ut_pex.is_some(),
                    metadata_size: h.metadata_size.filter(|_| self.ut_metadata.is_some()),
                });
            }
            OUR_UT_METADATA_ID => match MetadataMsg::decode(&payload) {
                Ok(MetadataMsg::Request { piece }) => self.serve_metadata(piece),
                Ok(MetadataMsg::Data {
                    piece,
                    total_size,
                    data,
                }) => self.report(PeerEvent::Metadata {
                    piece,
                    total: total_size,
                    data,
                }),
                Ok(MetadataMsg::Reject { .. }) => self.report(PeerEvent::MetadataReject),
                Err(_) => {}
            },
            OUR_UT_PEX_ID if self.pex_enabled() => {
                if let Ok(p) = PexMessage::decode(&payload) {
                    let peers: Vec<SocketAddr> = p
                        .added
                        .into_iter()
                        .take(MAX_PEX_RECEIVED)
                        .map(|(a, _)| SocketAddr::V4(a))
                        .collect();
                    if !peers.is_empty() {
                        self.report(PeerEvent::Pex(peers));
                    }
                }
            }
            _ => {}
        }
    }

    fn serve_metadata(&mut self, piece: u32) {
        let Some(id) = self.ut_metadata else {
            return;
        };
        let msg = match &self.ready {
            Some(r) => match metadata_piece(&r.info.info_bytes, piece) {
                Some(data) => MetadataMsg::Data {
                    piece,
                    total_size: r.info.info_bytes.len() as u64,
                    data: Bytes::copy_from_slice(data),
                },
                None => MetadataMsg::Reject { piece },
            },
            None => MetadataMsg::Reject { piece },
        };
        self.send(Message::Extended {
            id,
            payload: msg.encode().into(),
        });
    }

    /// Queues a request we can serve; a fast peer gets a Reject for any other.
    fn on_request(&mut self, r: BlockRequest) {
        if self.can_serve(r) {
            self.uploads.push_back(r);
        } else {
            self.reject(r);
        }
    }

    /// Unchoked, room in the queue, a block inside a piece we have.
    fn can_serve(&self, r: BlockRequest) -> bool {
        if self.am_choking || self.uploads.len() >= MAX_UPLOAD_QUEUE {
            return false;
        }
        let Some(ready) = &self.ready else {
            return false;
        };
        let size = (ready.info.piece_size(r.piece as usize)) as u32;
        if r.offset.checked_add(r.len).is_none_or(|end| end > size) {
            return false;
        }
        ready.picker().have().get(r.piece)
    }

    async fn on_block(&mut self, piece: u32, offset: u32, data: Bytes) -> Result<(), String> {
        self.rejects_in_a_row = 0;
        let now = Instant::now();
        let len = data.len() as u32;
        if let Some(i) = self
            .outstanding
            .iter()
            .position(|o| o.piece == piece && o.offset == offset)
        {
            self.outstanding.remove(i);
        }
        self.shared
            .downloaded
            .fetch_add(u64::from(len), Ordering::Relaxed);
        self.shared.block_arrived(now.into_std());
        self.rate.record(u64::from(len), now.into_std());
        let wait = self.env.limits.download.reserve(len as usize);
        if !wait.is_zero() {
            self.read_pause = Some(now + wait);
        }
        let Some(ready) = self.ready.clone().filter(|_| !self.suspended) else {
            return Ok(());
        };
        let outcome = ready.picker().block_received(self.key, piece, offset, len);
        let cancel = match outcome {
            BlockOutcome::Stored { cancel } | BlockOutcome::PieceComplete { cancel } => cancel,
            BlockOutcome::Duplicate | BlockOutcome::Unrequested => return Ok(()),
        };
        if !cancel.is_empty() {
            self.report(PeerEvent::Cancel {
                peers: cancel,
                req: BlockRequest { piece, offset, len },
            });
        }
        ready
            .disk
            .send(DiskJob::Write {
                piece,
                offset,
                data,
                from: self.key,
            })
            .await
            .map_err(|_| "torrent stopped".to_string())
    }

    fn update_interest(&mut self) {
        let want = self
            .ready
            .as_ref()
            .is_some_and(|r| r.picker().is_interesting(self.key));
        if want != self.am_interested {
            self.am_interested = want;
            PeerShared::set(&self.shared.am_interested, want);
            self.send(if want {
                Message::Interested
            } else {
                Message::NotInterested
            });
        }
    }

    /// Tops the request pipeline up.
    fn refill(&mut self) {
        if self.peer_choking || !self.am_interested || self.suspended {
            return;
        }
        let Some(ready) = self.ready.clone() else {
            return;
        };
        let now = Instant::now().into_std();
        let per_sec = (self.rate.rate(now) / u64::from(BLOCK_LEN)) as usize;
        let depth = (per_sec / 2).clamp(MIN_DEPTH, MAX_DEPTH).min(self.reqq);
        let room = depth.saturating_sub(self.outstanding.len());
        if room < (depth / 4).max(1) {
            return;
        }
        self.scratch.clear();
        ready
            .picker()
            .fill_requests(self.key, room, now, &mut self.scratch);
        if self.scratch.is_empty() && self.outstanding.is_empty() {
            self.update_interest();
            return;
        }
        for i in 0..self.scratch.len() {
            let r = self.scratch[i];
            self.send(Message::Request {
                index: r.piece,
                begin: r.offset,
                length: r.len,
            });
            self.outstanding.push_back(r);
        }
    }

    /// Starts reading the next upload batch if there is room to send it.
    fn start_upload(&mut self) {
        if self.upload_job.is_some()
            || self.upload_wait.is_some()
            || self.uploads.is_empty()
            || self.out.len() >= OUT_HIGH
        {
            return;
        }
        let mut batch = Vec::new();
        let mut total = 0usize;
        while total < UPLOAD_BATCH {
            let Some(r) = self.uploads.pop_front() else {
                break;
            };
            total += r.len as usize;
            batch.push(r);
        }
        let wait = self.env.limits.upload.reserve(total);
        if wait.is_zero() {
            self.spawn_upload(batch);
        } else {
            self.upload_wait = Some((Instant::now() + wait, batch));
        }
    }

    fn spawn_upload(&mut self, batch: Vec<BlockRequest>) {
        let Some(ready) = &self.ready else {
            return;
        };
        let storage = disk::current(&ready.storage);
        self.upload_job = Some(tokio::task::spawn_blocking(move || {
            let total: usize = batch.iter().map(|r| r.len as usize + 13).sum();
            let mut buf = BytesMut::with_capacity(total);
            let mut payload = 0u64;
            for r in batch {
                buf.put_slice(&piece_header(r.piece, r.offset, r.len));
                let start = buf.len();
                buf.resize(start + r.len as usize, 0);
                storage.read_block(r.piece, r.offset, &mut buf[start..])?;
                payload += u64::from(r.len);
            }
            Ok((buf, payload))
        }));
    }
}
