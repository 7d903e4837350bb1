//! The node loop's handling of received descriptors: the TTL policy, bad
//! descriptor accounting, pings and pongs, queries (throttle, seen table,
//! answers from our shares, flooding), query hits along the reverse path,
//! and pushes along the servent route.

use super::{lock, Node};
use crate::node::neighbour::MAX_BAD;
use crate::node::searches::found;
use crate::node::upload;
use crate::proto::descriptor::{
    check_ttl, Descriptor, Guid, Header, TtlCheck, DEFAULT_MAX_TTL, HARD_TTL_LIMIT, TYPE_QUERY,
};
use crate::proto::ggep::{self, Extension};
use crate::proto::handshake::Role;
use crate::proto::message::Message;
use crate::proto::pong::{marked_kbytes, Pong, UP_VERSION};
use crate::proto::push::Push;
use crate::proto::query::Query;
use crate::proto::query_hit::{split_results, HitResult, QueryHit, Trailer, VENDOR_SWARMUX};
use crate::proto::reader::DecodeError;
use crate::proto::routing::{flood_targets, ConnId, Neighbour as FloodView, Route, Seen};
use crate::proto::throttle::Verdict;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use swarmux_net::message::LogLevel;
use swarmux_net::NetEvent;

impl Node {
    /// Counts a bad descriptor; logs the first and drops the link at [`MAX_BAD`].
    pub(super) fn bad(&mut self, id: ConnId, reason: &str) {
        let Some(n) = self.neighbours.get_mut(&id) else {
            return;
        };
        n.bad += 1;
        let (bad, who) = (n.bad, n.info().addr);
        if bad >= MAX_BAD {
            n.bye(400, "Too many bad descriptors");
        }
        if bad == 1 {
            self.log(
                LogLevel::Warn,
                format!(
                    "neighbour {who}: dropped a descriptor ({reason}); further ones are counted"
                ),
            );
        }
        if bad >= MAX_BAD {
            self.log(
                LogLevel::Warn,
                format!("dropping neighbour {who}: {MAX_BAD} bad descriptors (last: {reason})"),
            );
            self.forget(id);
        }
    }

    pub(super) fn on_descriptor(
        &mut self,
        id: ConnId,
        header: Header,
        payload: Vec<u8>,
        msg: Result<Message, DecodeError>,
    ) {
        let Some(n) = self.neighbours.get_mut(&id) else {
            return;
        };
        n.counts.msgs_in += 1;
        self.dirty = true;
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                let reason = format!("malformed 0x{:02X}: {e}", header.payload_type);
                return self.bad(id, &reason);
            }
        };
        let header = match check_ttl(&header, DEFAULT_MAX_TTL) {
            TtlCheck::Accept(h) => h,
            TtlCheck::Drop(reason) => {
                let reason = format!("{reason} (TTL {}, hops {})", header.ttl, header.hops);
                return self.bad(id, &reason);
            }
        };
        let now = Instant::now();
        match msg {
            Message::Ping(_) => self.on_ping(id, &header, now),
            Message::Pong(p) => {
                // Only ultrapeers (GGEP `UP`) are worth dialing or passing on.
                let ours = Some(self.env.our_addr());
                let up = ggep::find(&p.ggep, "UP").is_some();
                if up && p.addr.port() != 0 && !p.addr.ip().is_unspecified() && Some(p.addr) != ours
                {
                    self.hosts.add(p.addr, ours);
                    self.pongs.insert(p, now);
                }
            }
            Message::Query(q) => self.on_query(id, &header, payload, &q, now),
            Message::QueryHit(hit) => self.on_hit(id, &header, payload, &hit, now),
            Message::Push(p) => self.on_push(id, &header, payload, &p, now),
            Message::Bye(b) => {
                if let Some(n) = self.neighbours.get(&id) {
                    let who = n.info().addr;
                    self.log(
                        LogLevel::Info,
                        format!("neighbour {who} said Bye {} {}", b.code, b.message),
                    );
                }
                self.forget(id);
            }
            Message::RouteTable(upd) => {
                let up_qrp = self.cfg.ultrapeer_qrp;
                let Some(n) = self.neighbours.get_mut(&id) else {
                    return;
                };
                // From our leaves, and from ultrapeers we exchange tables with.
                let leaf = n.peer_role() == Role::Leaf;
                let wanted =
                    self.role == Role::Ultrapeer && (leaf || (up_qrp && n.is_qrp_ultrapeer()));
                if !wanted {
                    return;
                }
                match n.qrp_in.apply(&upd) {
                    Ok(()) => self.up_table_dirty |= leaf,
                    Err(e) => {
                        let who = n.info().addr;
                        n.bye(413, "Bad QRP update");
                        self.log(LogLevel::Warn, format!("dropping neighbour {who}: {e}"));
                        self.forget(id);
                    }
                }
            }
            Message::Unknown(_) => {}
        }
    }

    pub(super) fn on_ping(&mut self, id: ConnId, header: &Header, now: Instant) {
        if let Seen::Duplicate { .. } = self.router.on_broadcast(header, id, now) {
            if let Some(n) = self.neighbours.get_mut(&id) {
                n.counts.duplicates += 1;
            }
            return;
        }
        let exclude = self.neighbours.get(&id).and_then(|n| n.listen);
        // Every ping gets our own pong (a keep-alive without one marks the
        // link dead); an ultrapeer that takes connections marks it `UP`.
        let shares = self.env.shares();
        let a = self.env.our_addr();
        let up = self.role == Role::Ultrapeer;
        let kbytes = marked_kbytes(shares.kbytes(), up);
        let mut own = Pong::new(*a.ip(), a.port(), shares.len() as u32, kbytes);
        if up && !self.env.firewalled {
            let (leaves, ups) = self.role_counts();
            let free = |max: usize, used: usize| max.saturating_sub(used).min(255) as u8;
            let data = [
                UP_VERSION,
                free(self.cfg.max_leaves, leaves),
                free(self.cfg.ultrapeer_degree, ups),
            ];
            own.ggep.push(Extension::new("UP", data));
        }
        let ttl = header.hops.saturating_add(1);
        let d = Message::Pong(own).to_descriptor(header.guid, ttl, 0);
        self.send_to(id, &d);
        // Cached pongs of other servents, from an ultrapeer only (a leaf
        // answers for itself, as gtk-gnutella's leaves), relayed with hops 1:
        // a pong with hops 0 is taken for the neighbour's own.
        if header.ttl > 1 && up {
            for p in self.pongs.answer(now, 5, exclude) {
                let d = Message::Pong(p).to_descriptor(header.guid, ttl, 1);
                self.send_to(id, &d);
            }
        }
    }

    pub(super) fn on_query(
        &mut self,
        id: ConnId,
        header: &Header,
        payload: Vec<u8>,
        q: &Query,
        now: Instant,
    ) {
        let Some(n) = self.neighbours.get_mut(&id) else {
            return;
        };
        n.counts.queries_in += 1;
        match n.throttle.check(now) {
            Verdict::Accept => {}
            Verdict::Drop(reason) => {
                let log = n
                    .throttle_logged
                    .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(60));
                if log {
                    n.throttle_logged = Some(now);
                    let who = n.info().addr;
                    self.log(
                        LogLevel::Warn,
                        format!("throttling neighbour {who}: {reason}"),
                    );
                }
                return;
            }
            Verdict::Disconnect(reason) => {
                let who = n.info().addr;
                n.bye(400, "Query flood");
                self.log(
                    LogLevel::Warn,
                    format!("dropping neighbour {who}: {reason}"),
                );
                return self.forget(id);
            }
        }
        if q.is_ancient() {
            return;
        }
        if let Seen::Duplicate { .. } = self.router.on_broadcast(header, id, now) {
            n.counts.duplicates += 1;
            return;
        }
        let shares = self.env.shares();
        let results = shares.matches(q);
        let both_firewalled = self.env.firewalled && q.is_firewalled();
        if !results.is_empty() && !both_firewalled {
            let ttl = header.hops.saturating_add(2).min(HARD_TTL_LIMIT - 1);
            for group in split_results(results) {
                let hit = self.our_hit(group);
                let d = Message::QueryHit(hit).to_descriptor(header.guid, ttl, 0);
                if let Some(n) = self.neighbours.get_mut(&id) {
                    if n.send(&d) {
                        n.counts.hits_out += 1;
                    }
                }
            }
        }
        let qrps: Vec<(ConnId, Role)> = self
            .neighbours
            .iter()
            .map(|(cid, n)| (*cid, n.peer_role()))
            .collect();
        let views: Vec<FloodView<'_>> = qrps
            .iter()
            .map(|(cid, role)| FloodView {
                id: *cid,
                role: *role,
                qrp: self.neighbours.get(cid).and_then(|n| n.qrp_in.table()),
            })
            .collect();
        let targets = flood_targets(self.role, header, q, Route::Conn(id), &views);
        // A leaf's query goes to our other leaves now and to the
        // ultrapeers dynamically (while there is room for it).
        let from_leaf = qrps.contains(&(id, Role::Leaf));
        let dynamic = (from_leaf && self.dq_room())
            .then(|| header.forwarded())
            .flatten();
        for (cid, h) in targets {
            if dynamic.is_some() && !qrps.contains(&(cid, Role::Leaf)) {
                continue;
            }
            let d = Descriptor {
                header: h,
                payload: payload.clone(),
            };
            if let Some(n) = self.neighbours.get_mut(&cid) {
                if n.send(&d) {
                    n.counts.queries_out += 1;
                }
            }
        }
        if let Some(h) = dynamic {
            self.start_dq(h, payload, q, Some(id), false, now);
        }
    }

    pub(super) fn our_hit(&self, results: Vec<HitResult>) -> QueryHit {
        let busy =
            self.env.upload_slots_used.load(Ordering::Relaxed) >= self.env.limits.upload_slots();
        QueryHit {
            addr: self.env.our_addr(),
            speed: 1000,
            results,
            trailer: Some(Trailer {
                vendor: VENDOR_SWARMUX,
                push: Some(self.env.firewalled),
                busy: Some(busy),
                stable: None,
                speed_measured: None,
                ggep: Vec::new(),
            }),
            servent: self.env.guid,
        }
    }

    pub(super) fn on_hit(
        &mut self,
        id: ConnId,
        header: &Header,
        payload: Vec<u8>,
        hit: &QueryHit,
        now: Instant,
    ) {
        if let Some(n) = self.neighbours.get_mut(&id) {
            n.counts.hits_in += 1;
        }
        self.dq_results(&header.guid, hit.results.len());
        self.router.on_query_hit(hit.servent, Route::Conn(id), now);
        match self.router.reply_route(header.guid, TYPE_QUERY, now) {
            Some(Route::Local) => self.our_hit_arrived(header.guid, hit),
            Some(Route::Conn(to)) if to != id => {
                if let Some(h) = header.forwarded() {
                    let d = Descriptor { header: h, payload };
                    if let Some(n) = self.neighbours.get_mut(&to) {
                        if n.send(&d) {
                            n.counts.hits_out += 1;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    pub(super) fn our_hit_arrived(&mut self, guid: Guid, hit: &QueryHit) {
        let found = found(hit);
        {
            let mut mem = lock(&self.env.sources);
            for f in &found {
                mem.add(f.urn, f.source);
            }
        }
        for f in &found {
            for d in self.downloads.values().filter(|d| d.urn == f.urn) {
                let _ = d.tx.send(vec![f.source]);
            }
        }
        let env = self.env.clone();
        let hits = self
            .searches
            .on_hit(&guid, &found, |u| lock(&env.sources).get(u));
        for h in hits {
            self.env.events.emit(NetEvent::Hit(h));
        }
    }

    pub(super) fn on_push(
        &mut self,
        id: ConnId,
        header: &Header,
        payload: Vec<u8>,
        p: &Push,
        now: Instant,
    ) {
        if p.servent == self.env.guid {
            if self.env.shares().by_index(p.file_index).is_none() {
                return;
            }
            // Pushes naming one address (perhaps a victim's) open at most
            // its share of connections.
            let Ok(slot) = self.env.gates.push_out.admit((*p.addr.ip()).into()) else {
                return;
            };
            tokio::spawn(upload::giv(self.env.clone(), p.addr, p.file_index, slot));
            return;
        }
        if let Some(Route::Conn(to)) = self.router.push_route(p.servent, now) {
            if to != id {
                if let Some(h) = header.forwarded() {
                    let d = Descriptor { header: h, payload };
                    self.send_to(to, &d);
                }
            }
        }
    }
}
