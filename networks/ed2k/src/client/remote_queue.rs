//! Sans-IO record of the uploaders whose queue we wait in: the downloader side
//! of eMule-style upload queueing.
//!
//! A source that answers StartUploadReq with a queue rank is registered here
//! (by its [`SourceId`], with the peer's IP and user hash and the download it
//! works for). The connection may then close, and the source stays "queued"
//! ("parked"): its row in the Downloads pane and its part availability are
//! kept. When a slot frees, the uploader connects to our listening port; the
//! incoming connection's hello is matched here to the parked source, which
//! resumes on that connection and waits for OP_ACCEPTUPLOADREQ. To keep our
//! place, a parked source is re-asked over TCP (file request + StartUploadReq)
//! every [`FILE_REASK`]; a source whose connection is still open is re-asked on
//! it.
//!
//! What eMule / aMule 2.3.3 do, which this follows (read in their sources):
//! - Both sides drop an idle client connection after CONNECTION_TIMEOUT (40 s),
//!   so a queued downloader is normally disconnected soon after getting its
//!   rank. When a slot frees, the uploader (upload state US_CONNECTING)
//!   connects to the port the downloader gave in its hello, exchanges hellos,
//!   and sends OP_ACCEPTUPLOADREQ from ConnectionEstablished.
//! - The downloader recognises the incoming client by its hello: the client
//!   list finds the known client object by user hash (CUpDownClient::Compare
//!   uses the user hash when both sides have one, else IP/ID and port), so its
//!   requested file and DS_ONQUEUE state survive the reconnect. A client that
//!   is DS_ONQUEUE sends no file request on such a connection; it just waits.
//! - OP_ACCEPTUPLOADREQ for a client with no requested file (or a stopped
//!   one) is answered once with OP_CANCELTRANSFER; the connection is left to
//!   the idle timeout. With a requested file but not DS_ONQUEUE it is ignored.
//! - A queued client re-asks every FILEREASKTIME (29 min). The uploader purges
//!   waiting clients not heard from for MAX_PURGEQUEUETIME (1 h), and scores a
//!   StartUploadReq that comes within MIN_REQUESTTIME (590 s) of the previous
//!   one as aggressive (+3; banned from the queue at 10: CheckForAggressive).
//!   So a queued source must never be re-asked faster than that.

use super::part_file::SourceId;
use super::uploader::ConnId;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;
use tokio::time::Instant;

/// eMule's FILEREASKTIME: how often a queued source is asked again.
pub const FILE_REASK: Duration = Duration::from_secs(29 * 60);
/// eMule's MIN_REQUESTTIME: never ask the same uploader again sooner.
pub const MIN_REASK: Duration = Duration::from_secs(590);

/// Who the uploader is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerKey {
    pub ip: IpAddr,
    /// Its listening port (from its hello).
    pub port: u16,
    pub user_hash: [u8; 16],
}

/// One source waiting in an uploader's queue.
#[derive(Clone, Debug)]
pub struct Waiting<L> {
    pub link: L,
    pub peer: PeerKey,
    pub rank: u32,
    /// When we last sent it StartUploadReq.
    pub asked: Instant,
    /// The connection working for this source; `None` while parked.
    owner: Option<ConnId>,
}

impl<L> Waiting<L> {
    /// When the source must be asked again.
    pub fn reask_at(&self) -> Instant {
        self.asked + FILE_REASK
    }
}

/// What a closing connection must do with its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// It stays queued without a connection; ask again at `reask_at`.
    Parked { rank: u32, reask_at: Instant },
    /// A newer connection took the source over: leave it alone.
    Replaced,
    /// Not waiting in a queue: end the source as usual.
    NotWaiting,
}

/// A new outgoing connection for a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The source was parked at this rank: this connection re-asks.
    Reask(u32),
    /// Another connection already works for it: this one is redundant.
    Busy,
    /// Not waiting in a queue: a first contact.
    Fresh,
}

/// Every waiting source of the network, by source id.
#[derive(Debug)]
pub struct RemoteQueues<L> {
    by_sid: HashMap<SourceId, Waiting<L>>,
}

impl<L> Default for RemoteQueues<L> {
    fn default() -> Self {
        RemoteQueues {
            by_sid: HashMap::new(),
        }
    }
}

impl<L: Clone> RemoteQueues<L> {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Connection `conn` got queue rank `rank` for source `sid`; it last sent
    /// StartUploadReq at `asked`.
    pub fn queued(
        &mut self,
        sid: SourceId,
        link: &L,
        peer: PeerKey,
        rank: u32,
        conn: ConnId,
        asked: Instant,
    ) {
        let w = self.by_sid.entry(sid).or_insert_with(|| Waiting {
            link: link.clone(),
            peer,
            rank,
            asked,
            owner: Some(conn),
        });
        w.peer = peer;
        w.rank = rank;
        w.owner = Some(conn);
        w.asked = asked;
    }

    /// The source got its slot (or stopped waiting): forget it.
    pub fn forget(&mut self, sid: SourceId) {
        self.by_sid.remove(&sid);
    }

    /// Forgets the source unless another connection took it over.
    pub fn forget_if_owner(&mut self, sid: SourceId, conn: ConnId) {
        if self.owns(sid, conn) {
            self.by_sid.remove(&sid);
        }
    }

    /// Forgets every source whose link matches (a stopped download).
    pub fn forget_where(&mut self, f: impl Fn(&L) -> bool) {
        self.by_sid.retain(|_, w| !f(&w.link));
    }

    /// True unless the source is waiting and owned by another connection.
    pub fn owns(&self, sid: SourceId, conn: ConnId) -> bool {
        self.by_sid
            .get(&sid)
            .is_none_or(|w| w.owner.is_none_or(|o| o == conn))
    }

    /// The connection of a waiting source closed.
    pub fn closed(&mut self, sid: SourceId, conn: ConnId) -> Closed {
        match self.by_sid.get_mut(&sid) {
            None => Closed::NotWaiting,
            Some(w) if w.owner.is_some_and(|o| o != conn) => Closed::Replaced,
            Some(w) => {
                w.owner = None;
                Closed::Parked {
                    rank: w.rank,
                    reask_at: w.reask_at(),
                }
            }
        }
    }

    /// A new outgoing connection `conn` starts working for `sid`.
    pub fn claim(&mut self, sid: SourceId, conn: ConnId) -> Claim {
        match self.by_sid.get_mut(&sid) {
            None => Claim::Fresh,
            Some(w) if w.owner.is_some_and(|o| o != conn) => Claim::Busy,
            Some(w) => {
                w.owner = Some(conn);
                Claim::Reask(w.rank)
            }
        }
    }

    /// An incoming connection said hello from `ip` with `user_hash`: the
    /// source it is for, if we wait in that peer's queue. The connection
    /// becomes the source's owner (a previous one, maybe a dead socket, is
    /// replaced, as eMule attaches the new socket to the known client).
    ///
    /// Matching is by user hash, as eMule's client list does (the port a peer
    /// connects from is ephemeral, and a host with several addresses may
    /// connect from another one than we reached it at); a source at the same
    /// IP is preferred. A stranger reusing a hash gains little: every part is
    /// checked against the file's hashes. When we wait for several downloads
    /// from that peer, the one asked last wins: an eMule uploader keeps one
    /// requested file per client, the last.
    pub fn attach(
        &mut self,
        ip: IpAddr,
        user_hash: [u8; 16],
        conn: ConnId,
    ) -> Option<(L, SourceId, u32)> {
        if user_hash == [0; 16] {
            return None;
        }
        let (&sid, w) = self
            .by_sid
            .iter_mut()
            .filter(|(_, w)| w.peer.user_hash == user_hash)
            .max_by_key(|(sid, w)| (w.peer.ip == ip, w.asked, **sid))?;
        w.owner = Some(conn);
        Some((w.link.clone(), sid, w.rank))
    }

    /// The waiting source, if any.
    pub fn get(&self, sid: SourceId) -> Option<&Waiting<L>> {
        self.by_sid.get(&sid)
    }

    /// True when the source waits in a queue.
    pub fn contains(&self, sid: SourceId) -> bool {
        self.by_sid.contains_key(&sid)
    }

    /// Number of waiting sources.
    pub fn len(&self) -> usize {
        self.by_sid.len()
    }

    /// True when no source waits.
    pub fn is_empty(&self) -> bool {
        self.by_sid.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: [u8; 4], hash: u8) -> PeerKey {
        PeerKey {
            ip: IpAddr::from(ip),
            port: 4662,
            user_hash: [hash; 16],
        }
    }

    #[test]
    fn parked_source_is_matched_by_user_hash() {
        let now = Instant::now();
        let mut q = RemoteQueues::new();
        q.queued(1, &"dl-a", key([127, 0, 0, 1], 7), 3, 100, now);
        assert!(q.owns(1, 100));
        assert_eq!(
            q.closed(1, 100),
            Closed::Parked {
                rank: 3,
                reask_at: now + FILE_REASK
            }
        );
        // The same address with another hash is someone else.
        assert_eq!(q.attach(IpAddr::from([127, 0, 0, 1]), [8; 16], 200), None);
        assert_eq!(q.attach(IpAddr::from([127, 0, 0, 1]), [0; 16], 200), None);
        assert_eq!(
            q.attach(IpAddr::from([127, 0, 0, 1]), [7; 16], 200),
            Some(("dl-a", 1, 3))
        );
        assert!(q.owns(1, 200));
        assert!(!q.owns(1, 100));
        // Unknown sources are owned by whoever works on them.
        assert!(q.owns(9, 100));
        // The same hash from another of the peer's addresses; with two
        // candidates the one at the connecting address wins.
        assert_eq!(
            q.closed(1, 200),
            Closed::Parked {
                rank: 3,
                reask_at: now + FILE_REASK
            }
        );
        let later = now + Duration::from_secs(5);
        q.queued(2, &"dl-b", key([127, 0, 0, 9], 7), 4, 101, later);
        assert_eq!(
            q.attach(IpAddr::from([127, 0, 0, 1]), [7; 16], 300),
            Some(("dl-a", 1, 3))
        );
        assert_eq!(
            q.attach(IpAddr::from([127, 0, 0, 5]), [7; 16], 301),
            Some(("dl-b", 2, 4))
        );
    }

    #[test]
    fn a_newer_connection_replaces_the_old_one() {
        let now = Instant::now();
        let mut q = RemoteQueues::new();
        q.queued(1, &"dl", key([127, 0, 0, 1], 7), 5, 100, now);
        // The uploader connects while our old connection still looks open.
        assert!(q
            .attach(IpAddr::from([127, 0, 0, 1]), [7; 16], 200)
            .is_some());
        assert_eq!(q.closed(1, 100), Closed::Replaced);
        // A re-ask started meanwhile is redundant.
        assert_eq!(q.claim(1, 300), Claim::Busy);
        assert_eq!(
            q.closed(1, 200),
            Closed::Parked {
                rank: 5,
                reask_at: now + FILE_REASK
            }
        );
        assert_eq!(q.claim(1, 300), Claim::Reask(5));
        assert_eq!(q.claim(2, 300), Claim::Fresh);
        // The accepted source leaves the record; its close is an ordinary one.
        q.forget_if_owner(1, 200);
        assert!(q.contains(1));
        q.forget_if_owner(1, 300);
        assert!(q.is_empty());
        assert_eq!(q.closed(1, 300), Closed::NotWaiting);
    }

    #[test]
    fn rank_updates_and_the_last_asked_wins() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(60);
        let mut q = RemoteQueues::new();
        q.queued(1, &"a", key([127, 0, 0, 1], 7), 9, 100, t0);
        // A rank update on the same connection, without a new ask.
        q.queued(1, &"a", key([127, 0, 0, 1], 7), 4, 100, t0);
        let w = q.get(1).unwrap();
        assert_eq!((w.rank, w.asked, w.reask_at()), (4, t0, t0 + FILE_REASK));
        q.queued(2, &"b", key([127, 0, 0, 1], 7), 2, 101, t1);
        assert_eq!(
            q.closed(1, 100),
            Closed::Parked {
                rank: 4,
                reask_at: t0 + FILE_REASK
            }
        );
        assert_eq!(
            q.closed(2, 101),
            Closed::Parked {
                rank: 2,
                reask_at: t1 + FILE_REASK
            }
        );
        let (l, sid, _) = q.attach(IpAddr::from([127, 0, 0, 1]), [7; 16], 5).unwrap();
        assert_eq!((l, sid), ("b", 2));
        q.forget_where(|l| *l == "b");
        assert_eq!(q.len(), 1);
        assert!(q.get(1).is_some());
        assert!(FILE_REASK > MIN_REASK);
    }
}
