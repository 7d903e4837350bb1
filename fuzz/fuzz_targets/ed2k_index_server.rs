//! The index server's handling of one client's byte stream (its sans-IO
//! part): frames, the login-first rule, and the server core answering each
//! message, with another client's files indexed. Nothing panics, every
//! answer encodes, and search answers stay within the result limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{Ipv4Addr, SocketAddrV4};
use swarmux_ed2k::proto::server_msg::{ClientToServer, FileEntry, LoginRequest, ServerToClient};
use swarmux_ed2k::server::core::{ServerCore, ServerIdentity};
use swarmux_ed2k::server::stream::{ClientStream, Inbound};

const MAX_RESULTS: usize = 50;
/// The server's frame bound here (also after inflating).
const MAX_PACKET: usize = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    let mut core = ServerCore::new(
        ServerIdentity {
            hash: [9; 16],
            name: "fuzz".into(),
            description: "d".into(),
            message: "hi".into(),
        },
        100,
        MAX_RESULTS,
    );
    let srv = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 4661);
    let other = LoginRequest::standard([2; 16], 4662, "other", 0x119);
    core.login(
        2,
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5002),
        srv,
        &other,
        true,
    );
    let files = (0..20u8)
        .map(|i| {
            FileEntry::offer(
                [i; 16],
                &format!("file {i} video.mkv"),
                1000 * u64::from(i) + 1,
                i % 2 == 0,
            )
        })
        .collect();
    core.handle(2, srv, ClientToServer::OfferFiles(files));

    let Some((&k, data)) = data.split_first() else {
        return;
    };
    let mut inbound = ClientStream::new(MAX_PACKET);
    for piece in data.chunks(usize::from(k % 64) + 1) {
        inbound.push(piece);
        loop {
            let out = match inbound.next_message() {
                Ok(Some(Inbound::Login(l))) => {
                    let me = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5001);
                    core.login(1, me, srv, &l, k & 0x80 != 0)
                        .into_iter()
                        .map(|m| m.encode())
                        .collect::<Vec<_>>()
                }
                Ok(Some(Inbound::Message(m))) => core
                    .handle(1, srv, m)
                    .into_iter()
                    .map(|o| {
                        if let ServerToClient::SearchResult { files, .. } = &o.msg {
                            assert!(files.len() <= MAX_RESULTS);
                        }
                        o.msg.encode()
                    })
                    .collect(),
                Ok(Some(Inbound::SearchRefused(_))) => core
                    .refuse_search(1)
                    .into_iter()
                    .map(|o| o.msg.encode())
                    .collect(),
                Ok(None) => break,
                Err(_) => {
                    core.disconnect(1);
                    return;
                }
            };
            drop(out);
        }
    }
    core.disconnect(1);
    assert_eq!(core.user_count(), 1);
});
