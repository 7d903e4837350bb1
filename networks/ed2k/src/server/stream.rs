//! Sans-IO reading of one client's byte stream: frames, the login-first
//! rule, and decoded messages. The tokio layer pushes what the socket gave
//! and takes every complete message before it reads again, so frames that
//! arrive in the same read as the login are seen at once.

use crate::proto::frame::{FrameDecoder, FrameError, PROTO_EDONKEY};
use crate::proto::reader::ReadError;
use crate::proto::server_msg::{op, ClientToServer, LoginRequest};

/// What a client sent, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Inbound {
    /// The first message: the login.
    Login(LoginRequest),
    /// Any later message.
    Message(ClientToServer),
    /// A search request over the bounds of
    /// [`crate::proto::search::SearchTree::decode`]: answered with no
    /// results, and the connection is kept (the request was well-formed;
    /// refusing it costs nothing, and dropping the client would lose its
    /// shared files).
    SearchRefused(String),
}

/// Why the connection must be dropped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("opcode 0x{0:02X} before login")]
    BeforeLogin(u8),
    #[error("bad opcode 0x{opcode:02X}: {error}")]
    BadMessage { opcode: u8, error: ReadError },
}

/// One client's inbound stream.
#[derive(Debug)]
pub struct ClientStream {
    dec: FrameDecoder,
    logged_in: bool,
}

impl ClientStream {
    /// A stream accepting frames of at most `max_packet` bytes (also after inflating).
    pub fn new(max_packet: usize) -> Self {
        ClientStream {
            dec: FrameDecoder::for_server_link(max_packet),
            logged_in: false,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.dec.push(data);
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    /// eMule-extended frames are not for servers and are skipped.
    pub fn next_message(&mut self) -> Result<Option<Inbound>, StreamError> {
        loop {
            let Some(f) = self.dec.next_frame()? else {
                return Ok(None);
            };
            if f.proto != PROTO_EDONKEY {
                continue;
            }
            let msg = match ClientToServer::decode(&f) {
                Ok(m) => m,
                Err(ReadError::TooLarge(why))
                    if f.opcode == op::SEARCH_REQUEST && self.logged_in =>
                {
                    return Ok(Some(Inbound::SearchRefused(why)))
                }
                Err(error) => {
                    return Err(StreamError::BadMessage {
                        opcode: f.opcode,
                        error,
                    })
                }
            };
            if self.logged_in {
                return Ok(Some(Inbound::Message(msg)));
            }
            return match msg {
                ClientToServer::Login(l) => {
                    self.logged_in = true;
                    Ok(Some(Inbound::Login(l)))
                }
                _ => Err(StreamError::BeforeLogin(f.opcode)),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::frame::Frame;

    fn login() -> Vec<u8> {
        ClientToServer::Login(LoginRequest::standard([1; 16], 4662, "a", 0))
            .encode()
            .encode()
    }

    #[test]
    fn frames_in_the_login_read_are_seen_at_once() {
        let mut s = ClientStream::new(1024);
        let mut bytes = login();
        bytes.extend(ClientToServer::GetServerList.encode().encode());
        // An oversized header right behind.
        bytes.push(0xE3);
        bytes.extend(50_000_000u32.to_le_bytes());
        s.push(&bytes);
        assert!(matches!(s.next_message(), Ok(Some(Inbound::Login(_)))));
        assert_eq!(
            s.next_message(),
            Ok(Some(Inbound::Message(ClientToServer::GetServerList)))
        );
        assert!(matches!(
            s.next_message(),
            Err(StreamError::Frame(FrameError::Oversize { .. }))
        ));
    }

    #[test]
    fn an_oversized_search_is_refused_and_the_stream_goes_on() {
        let mut s = ClientStream::new(4 << 20);
        s.push(&login());
        let mut huge = vec![];
        for _ in 0..200_000 {
            huge.extend([0, 1]);
        }
        s.push(&Frame::new(0xE3, op::SEARCH_REQUEST, huge).encode());
        s.push(&ClientToServer::GetServerList.encode().encode());
        assert!(matches!(s.next_message(), Ok(Some(Inbound::Login(_)))));
        assert_eq!(
            s.next_message(),
            Ok(Some(Inbound::SearchRefused(
                "search request of 400000 bytes (at most 4096)".into()
            )))
        );
        assert_eq!(
            s.next_message(),
            Ok(Some(Inbound::Message(ClientToServer::GetServerList)))
        );
        // A truncated search is malformed, not too large.
        s.push(&Frame::new(0xE3, op::SEARCH_REQUEST, vec![0, 1]).encode());
        assert!(matches!(
            s.next_message(),
            Err(StreamError::BadMessage { opcode: 0x16, .. })
        ));
    }

    #[test]
    fn only_a_login_comes_first() {
        let mut s = ClientStream::new(1024);
        s.push(&ClientToServer::GetServerList.encode().encode());
        assert_eq!(s.next_message(), Err(StreamError::BeforeLogin(0x14)));
        // eMule-extended frames are skipped, also before the login.
        let mut s = ClientStream::new(1024);
        s.push(&Frame::new(0xC5, 0x01, vec![]).encode());
        s.push(&login());
        assert!(matches!(s.next_message(), Ok(Some(Inbound::Login(_)))));
        assert_eq!(s.next_message(), Ok(None));
    }
}
