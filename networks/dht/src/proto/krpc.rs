//! KRPC messages of BEP 5 (ping, find_node, get_peers, announce_peer) over bencode.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use thiserror::Error;

use super::bencode::{self, BencodeError, Item, Value};
use super::id::{NodeId, ID_LEN};

/// Largest datagram decoded; anything longer is refused unread.
pub const MAX_DATAGRAM: usize = 2048;
/// Longest transaction id accepted (we echo it back in replies).
pub const MAX_TID: usize = 16;
/// Longest write token accepted.
pub const MAX_TOKEN: usize = 64;
/// Most compact nodes decoded from one `nodes` field.
pub const MAX_NODES: usize = 64;
/// Most peers decoded from one `values` field.
pub const MAX_PEERS: usize = 256;
/// Longest error message kept.
const MAX_ERROR_TEXT: usize = 256;
/// Length of a compact IPv4 node: id, address, port.
const COMPACT_NODE: usize = ID_LEN + 6;

/// KRPC error code: generic error.
pub const ERR_GENERIC: i64 = 201;
/// KRPC error code: protocol error (malformed packet, bad token...).
pub const ERR_PROTOCOL: i64 = 203;
/// KRPC error code: method unknown.
pub const ERR_METHOD_UNKNOWN: i64 = 204;

/// One KRPC datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Transaction id chosen by the querier and echoed in the reply.
    pub tid: Vec<u8>,
    /// What the datagram carries.
    pub body: Body,
}

/// The three KRPC message types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `y = q`
    Query(Query),
    /// `y = r`
    Response(Response),
    /// `y = e`: a code and a message.
    Error(i64, String),
}

/// A query and its arguments; every query carries the sender's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// `ping`
    Ping {
        /// Sender's id.
        id: NodeId,
    },
    /// `find_node`
    FindNode {
        /// Sender's id.
        id: NodeId,
        /// Id whose closest nodes are wanted.
        target: NodeId,
    },
    /// `get_peers`
    GetPeers {
        /// Sender's id.
        id: NodeId,
        /// Torrent whose peers are wanted.
        info_hash: NodeId,
    },
    /// `announce_peer`
    AnnouncePeer {
        /// Sender's id.
        id: NodeId,
        /// Torrent announced.
        info_hash: NodeId,
        /// Port the peer listens on (ignored when `implied_port`).
        port: u16,
        /// Token from an earlier `get_peers` reply.
        token: Vec<u8>,
        /// Use the datagram's source port instead of `port`.
        implied_port: bool,
    },
}

impl Query {
    /// The sender's id.
    pub fn sender(&self) -> NodeId {
        match self {
            Query::Ping { id }
            | Query::FindNode { id, .. }
            | Query::GetPeers { id, .. }
            | Query::AnnouncePeer { id, .. } => *id,
        }
    }
}

/// A response; which fields are set depends on the query it answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// Responder's id (all zero only in `Default`).
    pub id: NodeId,
    /// Compact IPv4 nodes (`find_node`, `get_peers`).
    pub nodes: Vec<(NodeId, SocketAddrV4)>,
    /// Peers for the info-hash (`get_peers`).
    pub values: Vec<SocketAddrV4>,
    /// Write token for a later `announce_peer` (`get_peers`).
    pub token: Option<Vec<u8>>,
}

impl Default for NodeId {
    fn default() -> Self {
        NodeId([0; ID_LEN])
    }
}

/// Why a datagram is not a valid KRPC message.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KrpcError {
    /// Longer than [`MAX_DATAGRAM`].
    #[error("krpc: datagram of {0} bytes is too large")]
    TooLarge(usize),
    /// Not bencode at all.
    #[error(transparent)]
    Bencode(#[from] BencodeError),
    /// Not a message we can attribute to a transaction.
    #[error("krpc: {0}")]
    Invalid(&'static str),
    /// A query with a usable transaction id that we refuse: reply with this error.
    #[error("krpc: bad query ({code}): {reason}")]
    BadQuery {
        /// Transaction id to answer.
        tid: Vec<u8>,
        /// KRPC error code to answer with.
        code: i64,
        /// What was wrong.
        reason: &'static str,
    },
}

impl Message {
    /// Decodes one datagram.
    pub fn decode(data: &[u8]) -> Result<Message, KrpcError> {
        if data.len() > MAX_DATAGRAM {
            return Err(KrpcError::TooLarge(data.len()));
        }
        let doc = bencode::decode(data)?;
        let dict = doc.root();
        dict.as_dict()
            .ok_or(KrpcError::Invalid("not a dictionary"))?;
        let tid = field_bytes(&dict, "t").ok_or(KrpcError::Invalid("missing t"))?;
        if tid.len() > MAX_TID {
            return Err(KrpcError::Invalid("transaction id too long"));
        }
        let tid = tid.to_vec();
        let body =
            match field_bytes(&dict, "y") {
                Some(b"q") => Body::Query(decode_query(&dict).map_err(|(code, reason)| {
                    KrpcError::BadQuery {
                        tid: tid.clone(),
                        code,
                        reason,
                    }
                })?),
                Some(b"r") => Body::Response(decode_response(&dict)?),
                Some(b"e") => decode_error(&dict)?,
                _ => return Err(KrpcError::Invalid("unknown message type")),
            };
        Ok(Message { tid, body })
    }

    /// Encodes this message as a datagram.
    pub fn encode(&self) -> Vec<u8> {
        let mut top = BTreeMap::new();
        top.insert(b"t".to_vec(), Value::bytes(self.tid.as_slice()));
        match &self.body {
            Body::Query(q) => {
                top.insert(b"y".to_vec(), Value::bytes(b"q"));
                let (name, args) = encode_query(q);
                top.insert(b"q".to_vec(), Value::bytes(name));
                top.insert(b"a".to_vec(), Value::Dict(args));
            }
            Body::Response(r) => {
                top.insert(b"y".to_vec(), Value::bytes(b"r"));
                top.insert(b"r".to_vec(), Value::Dict(encode_response(r)));
            }
            Body::Error(code, text) => {
                top.insert(b"y".to_vec(), Value::bytes(b"e"));
                top.insert(
                    b"e".to_vec(),
                    Value::List(vec![Value::Int(*code), Value::bytes(text.as_bytes())]),
                );
            }
        }
        Value::Dict(top).to_bytes()
    }
}

type Dict = BTreeMap<Vec<u8>, Value>;

fn field_bytes<'d>(d: &Item<'d>, key: &str) -> Option<&'d [u8]> {
    d.get(key).and_then(|v| v.as_bytes())
}

fn field_id(d: &Item<'_>, key: &str) -> Option<NodeId> {
    field_bytes(d, key).and_then(NodeId::from_slice)
}

fn decode_query(dict: &Item<'_>) -> Result<Query, (i64, &'static str)> {
    let method = field_bytes(dict, "q").ok_or((ERR_PROTOCOL, "missing q"))?;
    let args = &dict
        .get("a")
        .filter(|a| a.as_dict().is_some())
        .ok_or((ERR_PROTOCOL, "missing a"))?;
    let id = field_id(args, "id").ok_or((ERR_PROTOCOL, "missing or bad id"))?;
    let id_arg = |key| field_id(args, key).ok_or((ERR_PROTOCOL, "missing or bad target"));
    Ok(match method {
        b"ping" => Query::Ping { id },
        b"find_node" => Query::FindNode {
            id,
            target: id_arg("target")?,
        },
        b"get_peers" => Query::GetPeers {
            id,
            info_hash: id_arg("info_hash")?,
        },
        b"announce_peer" => {
            let port = args
                .get("port")
                .and_then(|p| p.as_int())
                .and_then(|p| u16::try_from(p).ok());
            let implied_port = args.get("implied_port").and_then(|p| p.as_int()) == Some(1);
            let token = field_bytes(args, "token")
                .filter(|t| t.len() <= MAX_TOKEN)
                .ok_or((ERR_PROTOCOL, "missing or bad token"))?;
            Query::AnnouncePeer {
                id,
                info_hash: id_arg("info_hash")?,
                port: match (port, implied_port) {
                    (Some(p), _) => p,
                    (None, true) => 0,
                    (None, false) => return Err((ERR_PROTOCOL, "missing or bad port")),
                },
                token: token.to_vec(),
                implied_port,
            }
        }
        _ => return Err((ERR_METHOD_UNKNOWN, "method unknown")),
    })
}

fn decode_response(dict: &Item<'_>) -> Result<Response, KrpcError> {
    let r = &dict
        .get("r")
        .filter(|r| r.as_dict().is_some())
        .ok_or(KrpcError::Invalid("missing r"))?;
    let id = field_id(r, "id").ok_or(KrpcError::Invalid("missing or bad id"))?;
    let nodes = match field_bytes(r, "nodes") {
        Some(b) => decode_compact_nodes(b)?,
        None => Vec::new(),
    };
    let values = match r.get("values") {
        Some(v) => {
            let list = v.as_list().ok_or(KrpcError::Invalid("values not a list"))?;
            if list.clone().count() > MAX_PEERS {
                return Err(KrpcError::Invalid("too many values"));
            }
            // 18-byte IPv6 peers (BEP 32) and port 0 are skipped.
            list.filter_map(|p| p.as_bytes())
                .filter_map(decode_compact_peer)
                .collect()
        }
        None => Vec::new(),
    };
    let token = match field_bytes(r, "token") {
        Some(t) if t.len() > MAX_TOKEN => return Err(KrpcError::Invalid("token too long")),
        t => t.map(<[u8]>::to_vec),
    };
    Ok(Response {
        id,
        nodes,
        values,
        token,
    })
}

fn decode_error(dict: &Item<'_>) -> Result<Body, KrpcError> {
    let mut list = dict
        .get("e")
        .and_then(|e| e.as_list())
        .ok_or(KrpcError::Invalid("missing e"))?;
    let code = list.next().and_then(|c| c.as_int()).unwrap_or(ERR_GENERIC);
    let text = list.next().and_then(|t| t.as_bytes()).unwrap_or_default();
    let text = &text[..text.len().min(MAX_ERROR_TEXT)];
    Ok(Body::Error(
        code,
        String::from_utf8_lossy(text).into_owned(),
    ))
}

fn decode_compact_nodes(b: &[u8]) -> Result<Vec<(NodeId, SocketAddrV4)>, KrpcError> {
    if !b.len().is_multiple_of(COMPACT_NODE) || b.len() / COMPACT_NODE > MAX_NODES {
        return Err(KrpcError::Invalid("bad compact nodes"));
    }
    Ok(b.chunks_exact(COMPACT_NODE)
        .filter_map(|c| {
            let id = NodeId::from_slice(&c[..ID_LEN])?;
            decode_compact_peer(&c[ID_LEN..]).map(|a| (id, a))
        })
        .collect())
}

/// A compact IPv4 address (4 bytes address, 2 bytes port); `None` for another length or port 0.
pub fn decode_compact_peer(b: &[u8]) -> Option<SocketAddrV4> {
    let b: &[u8; 6] = b.try_into().ok()?;
    let port = u16::from_be_bytes([b[4], b[5]]);
    (port != 0).then(|| SocketAddrV4::new(Ipv4Addr::new(b[0], b[1], b[2], b[3]), port))
}

/// The compact form of an IPv4 address.
pub fn encode_compact_peer(a: &SocketAddrV4) -> [u8; 6] {
    let [a0, a1, a2, a3] = a.ip().octets();
    let [p0, p1] = a.port().to_be_bytes();
    [a0, a1, a2, a3, p0, p1]
}

fn encode_query(q: &Query) -> (&'static [u8], Dict) {
    let mut a = Dict::new();
    a.insert(b"id".to_vec(), Value::bytes(q.sender().0));
    let name: &[u8] = match q {
        Query::Ping { .. } => b"ping",
        Query::FindNode { target, .. } => {
            a.insert(b"target".to_vec(), Value::bytes(target.0));
            b"find_node"
        }
        Query::GetPeers { info_hash, .. } => {
            a.insert(b"info_hash".to_vec(), Value::bytes(info_hash.0));
            b"get_peers"
        }
        Query::AnnouncePeer {
            info_hash,
            port,
            token,
            implied_port,
            ..
        } => {
            a.insert(b"info_hash".to_vec(), Value::bytes(info_hash.0));
            a.insert(b"port".to_vec(), Value::Int(i64::from(*port)));
            a.insert(b"token".to_vec(), Value::bytes(token.as_slice()));
            a.insert(
                b"implied_port".to_vec(),
                Value::Int(i64::from(*implied_port)),
            );
            b"announce_peer"
        }
    };
    (name, a)
}

fn encode_response(r: &Response) -> Dict {
    let mut d = Dict::new();
    d.insert(b"id".to_vec(), Value::bytes(r.id.0));
    if !r.nodes.is_empty() {
        let mut b = Vec::with_capacity(r.nodes.len() * COMPACT_NODE);
        for (id, addr) in &r.nodes {
            b.extend_from_slice(&id.0);
            b.extend_from_slice(&encode_compact_peer(addr));
        }
        d.insert(b"nodes".to_vec(), Value::Bytes(b));
    }
    if !r.values.is_empty() {
        let list = r
            .values
            .iter()
            .map(|a| Value::bytes(encode_compact_peer(a)))
            .collect();
        d.insert(b"values".to_vec(), Value::List(list));
    }
    if let Some(t) = &r.token {
        d.insert(b"token".to_vec(), Value::bytes(t.as_slice()));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_bep5_examples() {
        let m =
            Message::decode(b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe").unwrap();
        assert_eq!(m.tid, b"aa");
        assert_eq!(
            m.body,
            Body::Query(Query::Ping {
                id: NodeId(*b"abcdefghij0123456789")
            })
        );
        let m = Message::decode(
            b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
        )
        .unwrap();
        let Body::Response(r) = m.body else {
            panic!("not a response")
        };
        assert_eq!(r.token.as_deref(), Some(&b"aoeusnth"[..]));
        assert_eq!(r.values.len(), 2);
        let m = Message::decode(b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee").unwrap();
        assert_eq!(m.body, Body::Error(201, "A Generic Error Ocurred".into()));
    }

    #[test]
    fn unknown_method_is_answerable() {
        let err = Message::decode(b"d1:ad2:id20:abcdefghij0123456789e1:q3:foo1:t2:aa1:y1:qe")
            .unwrap_err();
        assert!(
            matches!(err, KrpcError::BadQuery { code: ERR_METHOD_UNKNOWN, ref tid, .. } if tid == b"aa")
        );
        assert!(Message::decode(&vec![b'0'; MAX_DATAGRAM + 1]).is_err());
    }

    fn id() -> impl Strategy<Value = NodeId> {
        any::<[u8; 20]>().prop_map(NodeId)
    }

    fn addr() -> impl Strategy<Value = SocketAddrV4> {
        (any::<[u8; 4]>(), 1..=u16::MAX).prop_map(|(ip, port)| SocketAddrV4::new(ip.into(), port))
    }

    fn query() -> impl Strategy<Value = Query> {
        prop_oneof![
            id().prop_map(|id| Query::Ping { id }),
            (id(), id()).prop_map(|(id, target)| Query::FindNode { id, target }),
            (id(), id()).prop_map(|(id, info_hash)| Query::GetPeers { id, info_hash }),
            (
                id(),
                id(),
                any::<u16>(),
                proptest::collection::vec(any::<u8>(), 0..=MAX_TOKEN),
                any::<bool>()
            )
                .prop_map(|(id, info_hash, port, token, implied_port)| {
                    Query::AnnouncePeer {
                        id,
                        info_hash,
                        port,
                        token,
                        implied_port,
                    }
                }),
        ]
    }

    fn body() -> impl Strategy<Value = Body> {
        prop_oneof![
            query().prop_map(Body::Query),
            (
                id(),
                proptest::collection::vec((id(), addr()), 0..10),
                proptest::collection::vec(addr(), 0..20),
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=MAX_TOKEN)),
            )
                .prop_map(|(id, nodes, values, token)| Body::Response(Response {
                    id,
                    nodes,
                    values,
                    token
                })),
            (any::<i64>(), "[a-z ]{0,40}").prop_map(|(c, t)| Body::Error(c, t)),
        ]
    }

    proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Message::decode(&data);
        }

        #[test]
        fn mutated_messages_never_panic(b in body(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
            let mut data = Message { tid: b"ab".to_vec(), body: b }.encode();
            for (i, v) in flips {
                let n = data.len();
                data[i % n] = v;
            }
            let _ = Message::decode(&data);
        }

        #[test]
        fn roundtrips(tid in proptest::collection::vec(any::<u8>(), 0..=MAX_TID), body in body()) {
            let m = Message { tid, body };
            prop_assert_eq!(Message::decode(&m.encode()), Ok(m));
        }
    }
}
