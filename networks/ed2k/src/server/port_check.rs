//! The connect-back check deciding between a high and a low id: connect to
//! the client's advertised port, send OP_HELLO, expect OP_HELLOANSWER with
//! the user hash given at login.

use crate::proto::frame::FrameDecoder;
use crate::proto::peer_msg::{Hello, PeerMessage};
use crate::proto::server_msg::{ip_to_u32, LOGIN_VERSION};
use crate::proto::tag::{ids, Tag};
use std::net::SocketAddrV4;
use std::time::Duration;
use swarmux_net::dial::dial;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest frame read from the client during the check.
const MAX_CHECK_FRAME: usize = 64 * 1024;

/// What the server puts in its hello.
#[derive(Clone, Debug)]
pub struct CheckIdentity {
    pub hash: [u8; 16],
    pub name: String,
    pub server_addr: SocketAddrV4,
}

/// True when `target` answers our hello with `expected` as its user hash
/// within `timeout`.
pub async fn port_check(
    target: SocketAddrV4,
    expected: [u8; 16],
    me: &CheckIdentity,
    timeout: Duration,
) -> bool {
    if target.port() == 0 {
        return false;
    }
    let check = async {
        // From the address the client reached us on, so the check comes from the server.
        let from = std::net::IpAddr::V4(*me.server_addr.ip());
        let mut s = dial(Some(from), target.into()).await.ok()?;
        let ip = ip_to_u32(*me.server_addr.ip());
        let port = me.server_addr.port();
        let hello = Hello {
            user_hash: me.hash,
            client_id: ip,
            port,
            tags: vec![
                Tag::str(ids::NAME, me.name.clone()),
                Tag::u32(ids::VERSION, LOGIN_VERSION),
            ],
            server_ip: ip,
            server_port: port,
        };
        s.write_all(&PeerMessage::Hello(hello).encode().encode())
            .await
            .ok()?;
        let mut dec = FrameDecoder::for_peer_link(MAX_CHECK_FRAME);
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            dec.push(&buf[..n]);
            while let Some(f) = dec.next_frame().ok()? {
                if let Ok(PeerMessage::HelloAnswer(h)) = PeerMessage::decode(&f) {
                    return Some(h.user_hash == expected);
                }
            }
        }
    };
    matches!(tokio::time::timeout(timeout, check).await, Ok(Some(true)))
}
