//! The node loop's QRP tables: the one a leaf sends its ultrapeers, and the
//! one an ultrapeer sends the ultrapeers it exchanges tables with (its own
//! merged with its leaves', refreshed at most once per `qrp_refresh`).

use super::Node;
use crate::node::neighbour::Neighbour;
use crate::proto::descriptor::{Descriptor, Guid, TYPE_ROUTE_TABLE};
use crate::proto::handshake::Role;
use crate::proto::qrp::{QrpTable, ULTRAPEER_TABLE_BITS};
use crate::proto::qrp_msg::table_update;
use crate::proto::routing::ConnId;
use std::time::Instant;

impl Node {
    /// True when we send `n` a QRP table: we are its leaf, or both are
    /// ultrapeers exchanging tables for the last hop.
    fn sends_qrp_to(&self, n: &Neighbour) -> bool {
        match self.role {
            Role::Leaf => n.peer_role() == Role::Ultrapeer,
            Role::Ultrapeer => self.cfg.ultrapeer_qrp && n.is_qrp_ultrapeer(),
        }
    }

    /// The table we send: a leaf's own, an ultrapeer's own merged with its
    /// leaves' tables (what a query reaching it with TTL 1 can find).
    fn our_table(&self) -> QrpTable {
        let shares = self.env.shares();
        if self.role == Role::Leaf {
            return shares.qrp().clone();
        }
        let mut t = QrpTable::new(ULTRAPEER_TABLE_BITS);
        t.merge(shares.qrp());
        for n in self.neighbours.values() {
            if n.peer_role() == Role::Leaf {
                if let Some(leaf) = n.qrp_in.table() {
                    t.merge(leaf);
                }
            }
        }
        t
    }

    /// Sends `table` to `id` when it gets our tables (only the changes since
    /// the last table sent).
    fn send_table(&mut self, id: ConnId, table: &QrpTable) {
        let Some(n) = self.neighbours.get(&id) else {
            return;
        };
        if !self.sends_qrp_to(n) {
            return;
        }
        let Some(n) = self.neighbours.get_mut(&id) else {
            return;
        };
        for upd in table_update(table, n.qrp_sent.as_ref()) {
            let d = Descriptor::new(Guid::random(), TYPE_ROUTE_TABLE, 1, 0, upd.encode());
            n.send(&d);
        }
        n.qrp_sent = Some(table.clone());
    }

    /// Sends our current table to `id`.
    pub(super) fn send_qrp(&mut self, id: ConnId) {
        let table = self.our_table();
        self.send_table(id, &table);
    }

    /// As an ultrapeer, sends the changed table to the ultrapeers that get
    /// it, at most once per `qrp_refresh`.
    pub(super) fn refresh_up_tables(&mut self, now: Instant) {
        if !self.up_table_dirty || now < self.next_up_table || self.role != Role::Ultrapeer {
            return;
        }
        self.up_table_dirty = false;
        self.next_up_table = now + self.cfg.qrp_refresh;
        let table = self.our_table();
        let ids: Vec<ConnId> = self.neighbours.keys().copied().collect();
        for id in ids {
            self.send_table(id, &table);
        }
    }
}
