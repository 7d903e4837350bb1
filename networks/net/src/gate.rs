//! Admission for accept loops: a total budget per kind of connection and a
//! cap per remote address, so one hostile address can hold only a few
//! sockets and one kind of connection (say, slow HTTP requests) can never
//! take the sockets another kind (neighbour links) needs.
//!
//! An IPv6 address counts by its /64 prefix: one host is usually given a
//! whole /64, so counting single addresses would let it open billions.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a connection was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The budget of this kind of connection is used up.
    #[error("all {0} connection slots are in use")]
    Full(usize),
    /// The remote address already holds its share.
    #[error("this address already holds {0} connections")]
    TooManyFromAddress(usize),
}

/// The key an address is counted under (also for per-address rate limits
/// elsewhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressKey {
    /// An IPv4 address.
    V4(u32),
    /// The first 64 bits of an IPv6 address.
    V6(u64),
}

impl AddressKey {
    /// The key of `ip`: an IPv4 address (also IPv4-mapped IPv6) as itself,
    /// an IPv6 address by its /64.
    pub fn of(ip: IpAddr) -> AddressKey {
        match ip {
            IpAddr::V4(v4) => AddressKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey::V4(u32::from(v4)),
                None => AddressKey::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    open: usize,
    by_address: HashMap<AddressKey, usize>,
}

#[derive(Debug)]
struct Shared {
    total: usize,
    per_address: usize,
    counts: Mutex<Counts>,
}

/// A budget of connections of one kind. Cloning shares the budget.
#[derive(Clone, Debug)]
pub struct ConnectionGate(Arc<Shared>);

impl ConnectionGate {
    /// At most `total` connections in all and `per_address` from one address
    /// (both at least 1).
    pub fn new(total: usize, per_address: usize) -> Self {
        ConnectionGate(Arc::new(Shared {
            total: total.max(1),
            per_address: per_address.max(1),
            counts: Mutex::new(Counts::default()),
        }))
    }

    /// Takes a slot for a connection from `ip`, held until the returned
    /// [`Admission`] is dropped.
    pub fn admit(&self, ip: IpAddr) -> Result<Admission, Refusal> {
        let key = AddressKey::of(ip);
        let mut c = self.lock();
        if c.open >= self.0.total {
            return Err(Refusal::Full(self.0.total));
        }
        let from = c.by_address.entry(key).or_insert(0);
        if *from >= self.0.per_address {
            return Err(Refusal::TooManyFromAddress(*from));
        }
        *from += 1;
        c.open += 1;
        Ok(Admission {
            gate: self.clone(),
            key,
        })
    }

    /// Connections admitted and not yet released.
    pub fn open(&self) -> usize {
        self.lock().open
    }

    /// The total budget.
    pub fn total(&self) -> usize {
        self.0.total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked.
        self.0.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One admitted connection's slot; dropping it gives the slot back, also
/// when the task holding it is aborted.
#[derive(Debug)]
pub struct Admission {
    gate: ConnectionGate,
    key: AddressKey,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut c = self.gate.lock();
        c.open = c.open.saturating_sub(1);
        if let Some(n) = c.by_address.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                c.by_address.remove(&self.key);
            }
        }
    }
}

/// How often a failing accept loop says so again.
const ACCEPT_ERROR_EVERY: Duration = Duration::from_secs(60);
/// How long an accept loop waits after a failed accept (out of file
/// descriptors, mostly) before it tries again.
pub const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Keeps a failing accept loop's log to one line a minute: the first failure
/// is reported at once, later ones as a count.
#[derive(Debug, Default)]
pub struct AcceptErrors {
    last_report: Option<Instant>,
    unreported: u64,
}

impl AcceptErrors {
    /// Notes a failed accept at `now`; returns the line to log, if one is due.
    pub fn failed(&mut self, error: &std::io::Error, now: Instant) -> Option<String> {
        let due = self
            .last_report
            .is_none_or(|t| now.duration_since(t) >= ACCEPT_ERROR_EVERY);
        if !due {
            self.unreported += 1;
            return None;
        }
        self.last_report = Some(now);
        let more = std::mem::take(&mut self.unreported);
        Some(if more == 0 {
            format!("accepting a connection failed: {error}")
        } else {
            format!("accepting a connection failed: {error} ({more} more failures since the last report)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_address_holds_at_most_its_share() {
        let gate = ConnectionGate::new(10, 2);
        let a = gate.admit(ip("127.0.0.2")).unwrap();
        let _b = gate.admit(ip("127.0.0.2")).unwrap();
        assert_eq!(
            gate.admit(ip("127.0.0.2")).unwrap_err(),
            Refusal::TooManyFromAddress(2)
        );
        // Another address is still welcome.
        let _c = gate.admit(ip("127.0.0.3")).unwrap();
        drop(a);
        let _d = gate.admit(ip("127.0.0.2")).unwrap();
        assert_eq!(gate.open(), 3);
    }

    #[test]
    fn the_total_is_shared_by_every_address() {
        let gate = ConnectionGate::new(2, 5);
        let _a = gate.admit(ip("127.0.0.2")).unwrap();
        let _b = gate.admit(ip("127.0.0.3")).unwrap();
        assert_eq!(gate.admit(ip("127.0.0.4")).unwrap_err(), Refusal::Full(2));
    }

    #[test]
    fn ipv6_counts_by_prefix_and_mapped_ipv4_as_ipv4() {
        let gate = ConnectionGate::new(10, 1);
        let _a = gate.admit(ip("2001:db8::1")).unwrap();
        assert!(gate.admit(ip("2001:db8::ffff:2")).is_err());
        assert!(gate.admit(ip("2001:db8:0:1::1")).is_ok());
        let _v4 = gate.admit(ip("127.0.0.5")).unwrap();
        assert!(gate.admit(ip("::ffff:127.0.0.5")).is_err());
    }

    #[test]
    fn slots_come_back_when_admissions_drop() {
        let gate = ConnectionGate::new(1, 1);
        let held: Vec<_> = (0..3).map(|_| gate.admit(ip("127.0.0.2")).ok()).collect();
        assert_eq!(held.iter().flatten().count(), 1);
        drop(held);
        assert_eq!(gate.open(), 0);
        assert!(gate.admit(ip("127.0.0.2")).is_ok());
    }

    #[test]
    fn accept_failures_are_reported_once_a_minute() {
        let mut errs = AcceptErrors::default();
        let e = std::io::Error::from_raw_os_error(24);
        let t0 = Instant::now();
        assert!(errs.failed(&e, t0).is_some());
        for i in 1..100 {
            assert!(errs
                .failed(&e, t0 + Duration::from_millis(i * 100))
                .is_none());
        }
        let line = errs.failed(&e, t0 + Duration::from_secs(61)).unwrap();
        assert!(line.contains("99 more failures"), "{line}");
    }
}
