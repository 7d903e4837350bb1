//! The server's UDP status answer (OP_GLOBSERVSTATREQ → OP_GLOBSERVSTATRES)
//! on the TCP port + 4, as eMule/aMule expect of a server.
//!
//! aMule 2.3.3 pings every server in its list this way soon after logging in
//! and then every few hours, counting a failure *before* each ping and
//! clearing it on the answer. A server that never answers shows as "Failed"
//! with no users or files in its statistics (seen in tests/amule_interop.rs),
//! and after `DeadServerRetry` (default 3) unanswered pings aMule removes it
//! from its server list.
//!
//! UDP datagrams carry no length field: `protocol(1) opcode(1) payload`.

use crate::proto::frame::PROTO_EDONKEY;

/// OP_GLOBSERVSTATREQ: a u32 challenge.
pub const OP_GLOBSERVSTATREQ: u8 = 0x96;
/// OP_GLOBSERVSTATRES: the challenge echoed, then the counts.
pub const OP_GLOBSERVSTATRES: u8 = 0x97;

/// What the status answer reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpStatus {
    pub users: u32,
    pub files: u32,
    pub max_users: u32,
    /// Files a client should offer at most (eMule/aMule limit their offers to it).
    pub soft_files: u32,
    pub hard_files: u32,
}

/// The answer to one datagram, if it is a status request. UDP flags are 0:
/// no UDP search or source requests are served.
pub fn answer(datagram: &[u8], status: UdpStatus) -> Option<Vec<u8>> {
    let [PROTO_EDONKEY, OP_GLOBSERVSTATREQ, c0, c1, c2, c3, ..] = *datagram else {
        return None;
    };
    let mut out = vec![PROTO_EDONKEY, OP_GLOBSERVSTATRES, c0, c1, c2, c3];
    for v in [
        status.users,
        status.files,
        status.max_users,
        status.soft_files,
        status.hard_files,
        0, // UDP flags
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_status_requests_only() {
        let st = UdpStatus {
            users: 2,
            files: 5,
            max_users: 10,
            soft_files: 100,
            hard_files: 100,
        };
        let req = [0xE3, 0x96, 0x34, 0x12, 0xAA, 0x55];
        let a = answer(&req, st).unwrap();
        assert_eq!(&a[..6], &[0xE3, 0x97, 0x34, 0x12, 0xAA, 0x55]);
        assert_eq!(&a[6..10], &2u32.to_le_bytes());
        assert_eq!(&a[10..14], &5u32.to_le_bytes());
        assert_eq!(a.len(), 6 + 6 * 4);
        assert_eq!(answer(&req[..5], st), None);
        assert_eq!(answer(&[0xE3, 0x98, 0, 0, 0, 0], st), None);
        assert_eq!(answer(&[0xC5, 0x96, 0, 0, 0, 0], st), None);
    }
}
