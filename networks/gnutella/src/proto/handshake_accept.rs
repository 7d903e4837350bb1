//! The accepting side of the handshake (a child of [`super`], sharing its
//! private helpers).

use super::{
    bool_value, expect_status, status_block, HandshakeConfig, HandshakeError, PeerInfo, Role, Step,
    VERSION,
};
use crate::proto::headers::{format_try_hosts, Block, Headers, StartLine};
use std::net::Ipv4Addr;

enum AcceptState {
    AwaitConnect,
    AwaitFinal {
        peer: PeerInfo,
        peer_role: Role,
        compress_out: bool,
    },
    Finished,
}

/// The accepting side: the peer connected to us.
pub struct Acceptor {
    cfg: HandshakeConfig,
    remote_ip: Ipv4Addr,
    buf: Vec<u8>,
    /// How much of `buf` was searched for the block's end.
    scanned: usize,
    state: AcceptState,
}

impl Acceptor {
    /// Starts a handshake for a connection from `remote_ip`.
    pub fn new(cfg: HandshakeConfig, remote_ip: Ipv4Addr) -> Acceptor {
        Acceptor {
            cfg,
            remote_ip,
            buf: Vec::new(),
            scanned: 0,
            state: AcceptState::AwaitConnect,
        }
    }

    /// Feeds bytes from the peer (its step 1, later its step 3).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Step, HandshakeError> {
        if matches!(self.state, AcceptState::Finished) {
            return Err(HandshakeError::Finished);
        }
        self.buf.extend_from_slice(bytes);
        let Some((block, used)) = Block::parse_more(&self.buf, &mut self.scanned)? else {
            return Ok(Step::NeedMore);
        };
        self.buf.drain(..used);
        self.scanned = 0;
        match std::mem::replace(&mut self.state, AcceptState::Finished) {
            AcceptState::AwaitConnect => Ok(self.on_connect(block)),
            AcceptState::AwaitFinal {
                peer,
                peer_role,
                compress_out,
            } => {
                let (code, reason) = expect_status(&block)?;
                if code != 200 {
                    return Ok(Step::Refused {
                        send: Vec::new(),
                        refusal: peer.refusal(code, &reason, true),
                    });
                }
                let final_info = PeerInfo::from(&block.headers);
                let compress_in = self.cfg.accept_deflate && final_info.sends_deflate;
                Ok(Step::Done {
                    send: Vec::new(),
                    outcome: peer.negotiated(Role::Ultrapeer, peer_role, compress_out, compress_in),
                    leftover: std::mem::take(&mut self.buf),
                })
            }
            AcceptState::Finished => Err(HandshakeError::Finished),
        }
    }

    fn on_connect(&mut self, block: Block) -> Step {
        let StartLine::Connect { version } = &block.start else {
            return self.refuse(
                PeerInfo::from(&block.headers),
                400,
                "Expected GNUTELLA CONNECT",
            );
        };
        let peer = PeerInfo::from(&block.headers);
        if version.trim() != VERSION {
            return self.refuse(peer, 505, "Gnutella 0.6 only");
        }
        let peer_role = match (self.cfg.role, peer.role) {
            (_, None) => return self.refuse(peer, 403, "Normal nodes refused"),
            // 204, as gtk-gnutella: a shielded leaf, not a busy host to retry.
            (Role::Leaf, _) => return self.refuse(peer, 204, "Shielded leaf node"),
            (Role::Ultrapeer, Some(Role::Ultrapeer)) if !self.cfg.ultrapeer_slots_free => {
                return self.refuse(peer, 503, "Too many ultrapeer connections")
            }
            (Role::Ultrapeer, Some(Role::Leaf)) if !self.cfg.leaf_slots_free => {
                return self.refuse(peer, 503, "Too many leaves")
            }
            (Role::Ultrapeer, Some(r)) => r,
        };
        let compress_out = self.cfg.send_deflate && peer.accepts_deflate;
        let mut h = self.cfg.headers(Role::Ultrapeer, Some(self.remote_ip));
        if compress_out {
            h.push("Content-Encoding", "deflate");
        }
        self.state = AcceptState::AwaitFinal {
            peer,
            peer_role,
            compress_out,
        };
        Step::Send(status_block(200, "OK", h))
    }

    fn refuse(&mut self, peer: PeerInfo, code: u16, reason: &str) -> Step {
        let mut h = Headers::default();
        h.push("User-Agent", self.cfg.user_agent.clone());
        h.push("X-Ultrapeer", bool_value(self.cfg.role == Role::Ultrapeer));
        if !self.cfg.try_ultrapeers.is_empty() {
            h.push(
                "X-Try-Ultrapeers",
                format_try_hosts(&self.cfg.try_ultrapeers),
            );
        }
        self.state = AcceptState::Finished;
        Step::Refused {
            send: status_block(code, reason, h),
            refusal: peer.refusal(code, reason, false),
        }
    }
}
