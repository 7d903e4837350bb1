//! The DHT node driven by a script of datagrams, time and lookups: it never
//! panics, keeps its tables bounded, and never answers a query with more
//! than `MAX_AMPLIFICATION` times its size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};
use swarmux_dht::proto::id::NodeId;
use swarmux_dht::proto::krpc::{Body, KrpcError, Message};
use swarmux_dht::proto::node::{Node, MAX_AMPLIFICATION};

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut now = start;
    let boot = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 9), 6881);
    let mut node = Node::new(NodeId([7; 20]), vec![boot], vec![], now);
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op % 4 {
            // a datagram: source (2 bytes), length (1 byte), bytes
            0 | 1 => {
                if rest.len() < 3 {
                    return;
                }
                let from = SocketAddrV4::new(
                    Ipv4Addr::new(127, 0, 0, rest[0] % 8),
                    6000 + u16::from(rest[1] % 4),
                );
                let len = usize::from(rest[2]) * 8;
                let body = &rest[3..(3 + len).min(rest.len())];
                rest = &rest[3 + body.len()..];
                let query = matches!(
                    Message::decode(body),
                    Ok(Message {
                        body: Body::Query(_),
                        ..
                    }) | Err(KrpcError::BadQuery { .. })
                );
                node.handle_datagram(from, body, now);
                while let Some((to, out)) = node.poll_transmit() {
                    let answer = matches!(
                        Message::decode(&out),
                        Ok(Message {
                            body: Body::Response(_) | Body::Error(..),
                            ..
                        })
                    );
                    if to == from && answer && query {
                        assert!(out.len() <= MAX_AMPLIFICATION * body.len());
                    }
                }
            }
            // time passes
            2 => {
                let step = rest.first().copied().unwrap_or(1);
                rest = rest.get(1..).unwrap_or_default();
                now += Duration::from_millis(u64::from(step) * 50);
                node.handle_timeout(now);
                while node.poll_transmit().is_some() {}
            }
            // a lookup or an announce of our own
            _ => {
                let Some(&b) = rest.first() else { return };
                rest = &rest[1..];
                let target = NodeId([b; 20]);
                if b % 2 == 0 {
                    let _ = node.get_peers(target, now);
                } else {
                    let _ = node.announce(target, 6881, now);
                }
                while node.poll_transmit().is_some() {}
            }
        }
        while node.poll_event().is_some() {}
        let s = node.stats(now);
        assert!(s.in_flight <= 512);
        assert!(s.lookups <= 65);
        assert!(s.stored_peers <= 2048 * 256);
    }
});
