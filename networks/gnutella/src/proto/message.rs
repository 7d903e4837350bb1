//! One enum over every descriptor payload we understand, decoded from a
//! [`Descriptor`] and encoded back into one.

use super::bye::Bye;
use super::descriptor::{self as d, Descriptor, Guid, Header};
use super::ping::Ping;
use super::pong::Pong;
use super::push::Push;
use super::qrp_msg::RouteTableUpdate;
use super::query::Query;
use super::query_hit::QueryHit;
use super::reader::DecodeError;

/// A decoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Ping(Ping),
    Pong(Pong),
    Bye(Bye),
    RouteTable(RouteTableUpdate),
    Push(Push),
    Query(Query),
    QueryHit(QueryHit),
    /// A type we do not implement (vendor messages and anything else): drop it.
    Unknown(u8),
}

impl Message {
    /// Decodes the payload of `header`'s type.
    pub fn decode(header: &Header, payload: &[u8]) -> Result<Message, DecodeError> {
        Ok(match header.payload_type {
            d::TYPE_PING => Message::Ping(Ping::decode(payload)?),
            d::TYPE_PONG => Message::Pong(Pong::decode(payload)?),
            d::TYPE_BYE => Message::Bye(Bye::decode(payload)?),
            d::TYPE_ROUTE_TABLE => Message::RouteTable(RouteTableUpdate::decode(payload)?),
            d::TYPE_PUSH => Message::Push(Push::decode(payload)?),
            d::TYPE_QUERY => Message::Query(Query::decode(payload)?),
            d::TYPE_QUERY_HIT => Message::QueryHit(QueryHit::decode(payload)?),
            other => Message::Unknown(other),
        })
    }

    /// The payload type byte.
    pub fn payload_type(&self) -> u8 {
        match self {
            Message::Ping(_) => d::TYPE_PING,
            Message::Pong(_) => d::TYPE_PONG,
            Message::Bye(_) => d::TYPE_BYE,
            Message::RouteTable(_) => d::TYPE_ROUTE_TABLE,
            Message::Push(_) => d::TYPE_PUSH,
            Message::Query(_) => d::TYPE_QUERY,
            Message::QueryHit(_) => d::TYPE_QUERY_HIT,
            Message::Unknown(t) => *t,
        }
    }

    /// The payload bytes (empty for [`Message::Unknown`]).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Message::Ping(m) => m.encode(),
            Message::Pong(m) => m.encode(),
            Message::Bye(m) => m.encode(),
            Message::RouteTable(m) => m.encode(),
            Message::Push(m) => m.encode(),
            Message::Query(m) => m.encode(),
            Message::QueryHit(m) => m.encode(),
            Message::Unknown(_) => Vec::new(),
        }
    }

    /// A whole descriptor carrying this message.
    pub fn to_descriptor(&self, guid: Guid, ttl: u8, hops: u8) -> Descriptor {
        Descriptor::new(guid, self.payload_type(), ttl, hops, self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn descriptor_round_trip() {
        let q = Message::Query(Query::keywords("sintel"));
        let desc = q.to_descriptor(Guid([1; 16]), 4, 0);
        assert_eq!(desc.header.payload_type, d::TYPE_QUERY);
        assert_eq!(Message::decode(&desc.header, &desc.payload).unwrap(), q);
        let mut h = desc.header;
        h.payload_type = d::TYPE_VENDOR;
        assert_eq!(
            Message::decode(&h, &[1, 2]).unwrap(),
            Message::Unknown(d::TYPE_VENDOR)
        );
    }

    proptest! {
        #[test]
        fn decode_never_panics(t in any::<u8>(), b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut h = Header::parse(&[0; d::HEADER_LEN]);
            h.payload_type = t;
            let _ = Message::decode(&h, &b);
        }
    }
}
