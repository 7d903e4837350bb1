//! Names of files a user or a peer gives us: magnet links with `urn:sha1:`
//! (and their sources), HUGE URNs as text and as GGEP `H`, servent GUIDs in
//! hex. Nothing panics, and each encodes to text or bytes that parse the
//! same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_gnutella::magnet::{parse_guid, Magnet};
use swarmux_gnutella::proto::huge::Sha1Urn;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(m) = Magnet::parse(&text) {
        assert_eq!(Magnet::parse(&m.to_link()).as_ref(), Ok(&m));
    }
    if let Some(urn) = Sha1Urn::parse(&text) {
        assert_eq!(Sha1Urn::parse(&urn.to_string()), Some(urn));
        assert_eq!(Sha1Urn::from_base32(&urn.base32()), Some(urn));
    }
    if let Some(urn) = Sha1Urn::from_ggep_h(data) {
        assert_eq!(Sha1Urn::from_ggep_h(&urn.to_ggep_h()), Some(urn));
    }
    if let Some(guid) = parse_guid(&text) {
        assert_eq!(parse_guid(&guid.to_hex()), Some(guid));
    }
});
