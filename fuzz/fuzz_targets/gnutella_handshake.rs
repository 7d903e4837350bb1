//! The 0.6 handshake as either side reads it: the bytes (first input byte:
//! our role, which side, piece size) are fed to an acceptor or a connector
//! piece by piece until it is done or refuses. Nothing panics, and a
//! handshake block that parses encodes to one that parses the same, as do
//! the `X-Try-Ultrapeers` lists in it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::Ipv4Addr;
use swarmux_gnutella::proto::handshake::{Acceptor, Connector, HandshakeConfig, Role, Step};
use swarmux_gnutella::proto::headers::{format_try_hosts, parse_try_hosts, Block};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let role = if mode & 1 == 0 {
        Role::Ultrapeer
    } else {
        Role::Leaf
    };
    let piece = usize::from(mode >> 2).max(1);
    let ip = Ipv4Addr::new(127, 0, 0, 2);
    let cfg = HandshakeConfig::new(role);
    if mode & 2 == 0 {
        let mut a = Acceptor::new(cfg, ip);
        for p in bytes.chunks(piece) {
            match a.feed(p) {
                Ok(Step::NeedMore | Step::Send(_)) => {}
                _ => break,
            }
        }
    } else {
        let (mut c, _) = Connector::new(cfg, ip);
        for p in bytes.chunks(piece) {
            match c.feed(p) {
                Ok(Step::NeedMore | Step::Send(_)) => {}
                _ => break,
            }
        }
    }

    if let Ok(Some((block, used))) = Block::parse(bytes) {
        assert!(used <= bytes.len());
        let (again, _) = Block::parse(&block.encode())
            .expect("what we encode parses")
            .expect("and is complete");
        assert_eq!(again, block);
        for (_, v) in &block.headers.0 {
            let hosts = parse_try_hosts(v);
            assert_eq!(parse_try_hosts(&format_try_hosts(&hosts)), hosts);
        }
    }
});
