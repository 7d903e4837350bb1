//! End-to-end tests on 127.0.0.1 with fake clients built from `proto`.

use super::{bind, IndexServerConfig};
use crate::proto::frame::{pack_frame, Frame, FrameDecoder};
use crate::proto::peer_msg::{Hello, PeerMessage};
use crate::proto::search::tree_from_request;
use crate::proto::server_msg::{
    is_low_id, login_flags, ClientToServer, FileEntry, LoginRequest, ServerToClient,
};
use std::net::SocketAddr;
use std::time::Duration;
use swarmux_net::testing::search_request;
use swarmux_net::{FileKind, SearchRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(10);

struct FakeClient {
    stream: TcpStream,
    dec: FrameDecoder,
    id: u32,
    port: u16,
    _answerer: Option<tokio::task::JoinHandle<()>>,
}

/// Answers the server's port check with a HelloAnswer carrying `hash`.
async fn answer_port_checks(hash: [u8; 16]) -> (u16, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut dec = FrameDecoder::for_peer_link(1 << 16);
            let mut buf = [0u8; 1024];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                dec.push(&buf[..n]);
                if let Ok(Some(f)) = dec.next_frame() {
                    assert!(matches!(PeerMessage::decode(&f), Ok(PeerMessage::Hello(_))));
                    let h = Hello {
                        user_hash: hash,
                        client_id: 0,
                        port,
                        tags: vec![],
                        server_ip: 0,
                        server_port: 0,
                    };
                    let _ = s
                        .write_all(&PeerMessage::HelloAnswer(h).encode().encode())
                        .await;
                    break;
                }
            }
        }
    });
    (port, task)
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

impl FakeClient {
    async fn login(
        server: SocketAddr,
        hash: [u8; 16],
        reachable: bool,
    ) -> (Self, Vec<ServerToClient>) {
        let (port, answerer) = if reachable {
            let (p, t) = answer_port_checks(hash).await;
            (p, Some(t))
        } else {
            (closed_port().await, None)
        };
        let stream = TcpStream::connect(server).await.unwrap();
        let mut c = FakeClient {
            stream,
            dec: FrameDecoder::for_server_link(1 << 20),
            id: 0,
            port,
            _answerer: answerer,
        };
        let flags = login_flags::ZLIB | login_flags::LARGEFILES;
        c.send(ClientToServer::Login(LoginRequest::standard(hash, port, "fake", flags)).encode())
            .await;
        let mut welcome = vec![];
        loop {
            let m = c.recv().await;
            welcome.push(m.clone());
            if let ServerToClient::IdChange { id, .. } = m {
                c.id = id;
            }
            if matches!(m, ServerToClient::ServerIdent { .. }) {
                break;
            }
        }
        (c, welcome)
    }

    async fn send(&mut self, f: Frame) {
        self.stream.write_all(&f.encode()).await.unwrap();
    }

    async fn recv(&mut self) -> ServerToClient {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(f) = self.dec.next_frame().unwrap() {
                return ServerToClient::decode(&f).unwrap();
            }
            let n = tokio::time::timeout(WAIT, self.stream.read(&mut buf))
                .await
                .expect("server answered in time")
                .unwrap();
            assert!(n > 0, "server closed the connection");
            self.dec.push(&buf[..n]);
        }
    }

    async fn ask(&mut self, m: ClientToServer) -> ServerToClient {
        self.send(m.encode()).await;
        self.recv().await
    }

    async fn sources(&mut self, hash: [u8; 16]) -> Vec<(u32, u16)> {
        match self
            .ask(ClientToServer::GetSources { hash, size: None })
            .await
        {
            ServerToClient::FoundSources { sources, .. } => sources,
            other => panic!("expected sources, got {other:?}"),
        }
    }

    async fn search(&mut self, req: SearchRequest) -> Vec<FileEntry> {
        match self
            .ask(ClientToServer::Search(tree_from_request(&req)))
            .await
        {
            ServerToClient::SearchResult { files, .. } => files,
            other => panic!("expected results, got {other:?}"),
        }
    }
}

fn config() -> IndexServerConfig {
    IndexServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        message: "line one\nline two".into(),
        port_check_timeout: Duration::from_secs(3),
        max_packet: 64 * 1024,
        ..Default::default()
    }
}

async fn start() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    start_with(config()).await
}

async fn start_with(cfg: IndexServerConfig) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let server = bind(cfg).await.unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

fn req(text: &str) -> SearchRequest {
    search_request(1, text)
}

#[tokio::test]
async fn login_offer_search_sources_callback() {
    let (addr, _stop) = start().await;
    let (mut a, welcome) = FakeClient::login(addr, [0xA; 16], true).await;
    assert_eq!(a.id, 0x0100_007F);
    assert_eq!(
        welcome[0],
        ServerToClient::ServerMessage("line one\nline two".into())
    );
    assert!(matches!(
        welcome[1],
        ServerToClient::IdChange { tcp_flags: Some(f), .. } if f & 0x101 == 0x101
    ));
    assert!(matches!(welcome[2], ServerToClient::ServerStatus { .. }));
    let (mut b, _) = FakeClient::login(addr, [0xB; 16], false).await;
    assert!(is_low_id(b.id) && b.id != 0);

    let ubuntu = [1; 16];
    let offer_a = ClientToServer::OfferFiles(vec![
        FileEntry::offer(ubuntu, "Ubuntu 24.04 Desktop.iso", 3_000_000_000, true),
        FileEntry::offer([2; 16], "ubuntu-beta.iso", 2_000_000_000, true),
        FileEntry::offer([3; 16], "Holiday Video.mkv", 700_000_000, true),
        FileEntry::offer([4; 16], "Big Movie.mkv", 5 << 30, true),
    ]);
    // Packed, as aMule sends it.
    a.send(pack_frame(&offer_a.encode())).await;
    b.send(
        ClientToServer::OfferFiles(vec![FileEntry::offer(
            ubuntu,
            "ubuntu.iso",
            3_000_000_000,
            false,
        )])
        .encode(),
    )
    .await;
    // Each offer is answered with fresh counts: 2 users, 5 distinct files.
    for c in [&mut a, &mut b] {
        assert!(matches!(
            c.recv().await,
            ServerToClient::ServerStatus { users: 2, .. }
        ));
    }
    // A keep-alive (empty offer) must not remove anything.
    b.send(ClientToServer::OfferFiles(vec![]).encode()).await;
    assert!(matches!(
        b.recv().await,
        ServerToClient::ServerStatus { users: 2, files: 4 }
    ));
    assert_eq!(a.sources(ubuntu).await, vec![(b.id, b.port)]);
    assert_eq!(b.sources(ubuntu).await, vec![(a.id, a.port)]);

    let mut r = req("ubuntu -beta");
    r.kind = Some(FileKind::Iso);
    r.min_size = Some(1_000_000_000);
    let hits = b.search(r).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].hash, ubuntu);
    assert_eq!(hits[0].name(), Some("Ubuntu 24.04 Desktop.iso"));
    assert_eq!(hits[0].sources(), Some(2));
    assert_eq!(hits[0].complete_sources(), Some(1));
    assert_eq!(hits[0].client_id, a.id);

    let mut r = req("ubuntu");
    r.max_size = Some(2_500_000_000);
    let hits = b.search(r).await;
    assert_eq!(
        hits.iter().map(|h| h.hash).collect::<Vec<_>>(),
        vec![[2; 16]]
    );

    let mut r = req("video OR movie");
    r.kind = Some(FileKind::Video);
    let hits = a.search(r).await;
    assert_eq!(hits.len(), 2);
    let big = hits.iter().find(|h| h.hash == [4; 16]).unwrap();
    assert_eq!(big.size(), Some(5 << 30));

    let mut r = req("holiday");
    r.extension = Some("avi".into());
    assert!(a.search(r).await.is_empty());

    // Callbacks: A (high) asks for B (low).
    a.send(ClientToServer::CallbackRequest { client_id: b.id }.encode())
        .await;
    let got = b.recv().await;
    assert_eq!(
        got,
        ServerToClient::CallbackRequested {
            ip: 0x0100_007F,
            port: a.port
        }
    );
    assert_eq!(
        a.ask(ClientToServer::CallbackRequest { client_id: 4242 })
            .await,
        ServerToClient::CallbackFailed
    );
    let list = a.ask(ClientToServer::GetServerList).await;
    assert_eq!(
        list,
        ServerToClient::ServerList(vec![(0x0100_007F, addr.port())])
    );
    assert!(matches!(a.recv().await, ServerToClient::ServerIdent { .. }));

    // B leaves: its source disappears.
    drop(b);
    let mut gone = false;
    for _ in 0..50 {
        if a.sources(ubuntu).await.is_empty() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "source of a disconnected client was not removed");
}

async fn expect_closed(mut s: TcpStream) {
    let mut buf = [0u8; 1024];
    let end = tokio::time::timeout(WAIT, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "server kept a hostile connection open");
}

#[tokio::test]
async fn hostile_clients_are_dropped_others_keep_working() {
    let (addr, _stop) = start().await;
    let (mut good, _) = FakeClient::login(addr, [0xC; 16], false).await;

    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut huge = TcpStream::connect(addr).await.unwrap();
    let mut hdr = vec![0xE3];
    hdr.extend(50_000_000u32.to_le_bytes());
    huge.write_all(&hdr).await.unwrap();
    let mut early = TcpStream::connect(addr).await.unwrap();
    early
        .write_all(&ClientToServer::GetServerList.encode().encode())
        .await
        .unwrap();
    // A zlib bomb: inflates far past max_packet.
    let mut bomb = TcpStream::connect(addr).await.unwrap();
    let big = Frame::new(0xE3, 0x15, vec![0; 1 << 20]);
    bomb.write_all(&pack_frame(&big).encode()).await.unwrap();

    // A logged-in client sending a malformed known message.
    let (mut broken, _) = FakeClient::login(addr, [0xD; 16], false).await;
    broken
        .send(Frame::new(0xE3, 0x15, vec![0xFF, 0xFF, 0xFF, 0x7F]))
        .await;

    for s in [garbage, huge, early, bomb, broken.stream] {
        expect_closed(s).await;
    }

    let list = good.ask(ClientToServer::GetServerList).await;
    assert!(matches!(list, ServerToClient::ServerList(_)));
    assert!(matches!(
        good.recv().await,
        ServerToClient::ServerIdent { .. }
    ));
    good.send(
        ClientToServer::OfferFiles(vec![FileEntry::offer([5; 16], "still works.txt", 5, true)])
            .encode(),
    )
    .await;
    assert!(matches!(
        good.recv().await,
        ServerToClient::ServerStatus { files: 1, .. }
    ));
    let hits = good.search(req("still works")).await;
    assert_eq!(hits.len(), 1);
}

fn login_bytes(hash: [u8; 16], port: u16) -> Vec<u8> {
    ClientToServer::Login(LoginRequest::standard(hash, port, "x", 0))
        .encode()
        .encode()
}

#[tokio::test]
async fn frames_in_the_login_read_are_handled_at_once() {
    // The port check would take a minute: the client's port takes the
    // connection and never answers.
    let (addr, _stop) = start_with(IndexServerConfig {
        port_check_timeout: Duration::from_secs(60),
        ..config()
    })
    .await;
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let mut bytes = login_bytes([0xE; 16], silent_port);
    bytes.push(0xE3);
    bytes.extend(50_000_000u32.to_le_bytes());
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&bytes).await.unwrap();
    // Closed well before the port check ends.
    expect_closed(s).await;

    // A request in the login's write is answered right after the welcome.
    let mut bytes = login_bytes([0xF; 16], closed_port().await);
    bytes.extend(ClientToServer::GetServerList.encode().encode());
    let mut c = FakeClient {
        stream: TcpStream::connect(addr).await.unwrap(),
        dec: FrameDecoder::for_server_link(1 << 20),
        id: 0,
        port: 0,
        _answerer: None,
    };
    c.stream.write_all(&bytes).await.unwrap();
    loop {
        if matches!(c.recv().await, ServerToClient::ServerList(_)) {
            break;
        }
    }
}

impl FakeClient {
    /// Messages already received, without waiting for more.
    fn ready_messages(&mut self) -> usize {
        let mut buf = [0u8; 64 * 1024];
        while let Ok(n) = self.stream.try_read(&mut buf) {
            if n == 0 {
                break;
            }
            self.dec.push(&buf[..n]);
        }
        let mut count = 0;
        while let Ok(Some(_)) = self.dec.next_frame() {
            count += 1;
        }
        count
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heavy_search_stalls_nobody() {
    use crate::proto::search::tests::balanced_or;
    use crate::server::index::cost_tests::{heaviest_tree, many_files};
    let (addr, _stop) = start_with(IndexServerConfig {
        max_packet: 2 << 20,
        ..config()
    })
    .await;
    let (mut a, _) = FakeClient::login(addr, [0x1A; 16], false).await;
    let (mut b, _) = FakeClient::login(addr, [0x1B; 16], false).await;
    a.send(pack_frame(
        &ClientToServer::OfferFiles(many_files(10_000)).encode(),
    ))
    .await;
    assert!(matches!(
        a.recv().await,
        ServerToClient::ServerStatus { files: 10_000, .. }
    ));

    // The search: a balanced OR tree of 262,144 keywords (1.5 MB,
    // under the packet limit). Refused at once with no results; the
    // connection stays.
    let letter = |i: usize| ["a", "b", "c"][i % 3].to_string();
    let huge = ClientToServer::Search(balanced_or(262_144, &letter)).encode();
    assert!(huge.payload.len() > 1_500_000);
    let t = std::time::Instant::now();
    a.send(huge).await;
    assert_eq!(
        a.recv().await,
        ServerToClient::SearchResult {
            files: vec![],
            more: None
        }
    );
    eprintln!("1.5 MB search refused in {:?}", t.elapsed());

    // The heaviest search accepted, 200 times in one write: about three
    // seconds of work. Another client's search is answered meanwhile.
    const HEAVY: usize = 200;
    let one = ClientToServer::Search(heaviest_tree()).encode().encode();
    a.stream.write_all(&one.repeat(HEAVY)).await.unwrap();
    let t = std::time::Instant::now();
    let hits = b.search(req("alpha 1234")).await;
    let waited = t.elapsed();
    assert_eq!(hits.len(), 1);
    let done = a.ready_messages();
    eprintln!("a light search answered in {waited:?} while {done} of {HEAVY} heavy ones were done");
    assert!(done < HEAVY, "the light search waited for every heavy one");
    let mut answered = done;
    while answered < HEAVY {
        assert!(matches!(
            a.recv().await,
            ServerToClient::SearchResult { .. }
        ));
        answered += 1;
    }
}

#[tokio::test]
async fn idle_sockets_from_one_address_leave_room_for_others() {
    use swarmux_net::dial::dial;
    // Four slots, three per address, a one-second login deadline.
    let (addr, _stop) = start_with(IndexServerConfig {
        max_connections: 4,
        max_connections_per_address: 3,
        login_timeout: Duration::from_secs(1),
        ..config()
    })
    .await;
    let hostile = "127.0.0.2".parse().ok();
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(dial(hostile, addr).await.unwrap());
    }
    // A client on 127.0.0.3 logs in and is served meanwhile.
    let mut c = FakeClient {
        stream: dial("127.0.0.3".parse().ok(), addr).await.unwrap(),
        dec: FrameDecoder::for_server_link(1 << 20),
        id: 0,
        port: 0,
        _answerer: None,
    };
    let mut bytes = login_bytes([0x3C; 16], closed_port().await);
    bytes.extend(ClientToServer::GetServerList.encode().encode());
    c.stream.write_all(&bytes).await.unwrap();
    while !matches!(c.recv().await, ServerToClient::ServerList(_)) {}
    // Every idle socket is closed: at once when over the address's share,
    // after the login deadline otherwise.
    for s in idle {
        expect_closed(s).await;
    }
}

#[tokio::test]
async fn udp_status_answers_are_small_and_rate_limited() {
    use crate::server::udp::MAX_AMPLIFICATION;
    use swarmux_net::dial::udp_socket;
    let (addr, _stop) = start().await;
    let mut udp = addr;
    udp.set_port(addr.port() + 4);
    let ping = [0xE3, 0x96, 1, 2, 3, 4];
    let a = udp_socket("127.0.0.2".parse().ok(), 0).await.unwrap();
    for _ in 0..20 {
        a.send_to(&ping, udp).await.unwrap();
    }
    // Datagrams are handled in order: once another source's answer is in,
    // every answer to the first one has been sent.
    let b = udp_socket("127.0.0.3".parse().ok(), 0).await.unwrap();
    b.send_to(&ping, udp).await.unwrap();
    let mut buf = [0u8; 512];
    let (n, _) = tokio::time::timeout(WAIT, b.recv_from(&mut buf))
        .await
        .expect("another source is answered")
        .unwrap();
    assert_eq!(&buf[..6], &[0xE3, 0x97, 1, 2, 3, 4]);
    assert!(n <= MAX_AMPLIFICATION * ping.len(), "{n} bytes");
    let mut answers = 0;
    while let Ok((n, _)) = a.try_recv_from(&mut buf) {
        assert!(n <= MAX_AMPLIFICATION * ping.len(), "{n} bytes");
        answers += 1;
    }
    assert!((1..=4).contains(&answers), "{answers} answers to 20 pings");
}
