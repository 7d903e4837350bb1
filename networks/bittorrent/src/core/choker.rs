//! Sans-IO choker (BEP 3 style): every 10 s the interested peers with the
//! best rate get the regular upload slots (download rate from them while
//! leeching, upload rate to them while seeding), and one more slot goes to an
//! optimistic unchoke rotated every 30 s, so new peers get a chance to show
//! their rate. While leeching, snubbed peers (those that stopped sending us
//! data) get no regular slot.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// A snapshot of one connected peer for a choking round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerStats<P> {
    /// The peer.
    pub peer: P,
    /// It wants data from us.
    pub interested: bool,
    /// Bytes per second it sends us.
    pub download_rate: u64,
    /// Bytes per second we send it.
    pub upload_rate: u64,
    /// It has unchoked us but sent nothing for a long while (anti-snubbing).
    pub snubbed: bool,
}

/// Choker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChokerConfig {
    /// Upload slots given by rate.
    pub regular_slots: usize,
    /// Extra slots given at random.
    pub optimistic_slots: usize,
    /// How often the regular slots are recomputed.
    pub recompute_every: Duration,
    /// How often the optimistic slots rotate.
    pub optimistic_every: Duration,
}

impl Default for ChokerConfig {
    fn default() -> Self {
        ChokerConfig {
            regular_slots: 4,
            optimistic_slots: 1,
            recompute_every: Duration::from_secs(10),
            optimistic_every: Duration::from_secs(30),
        }
    }
}

/// Messages to send after a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChokeChanges<P> {
    /// Send `unchoke` to these.
    pub unchoke: Vec<P>,
    /// Send `choke` to these.
    pub choke: Vec<P>,
}

/// Chooses whom we upload to, for one torrent.
pub struct Choker<P> {
    config: ChokerConfig,
    unchoked: Vec<P>,
    optimistic: Vec<P>,
    next_round: Option<Instant>,
    next_rotation: Option<Instant>,
    rng: StdRng,
}

impl<P: Copy + Eq + Hash> Choker<P> {
    /// A choker with these settings; every peer starts choked.
    pub fn new(config: ChokerConfig) -> Self {
        Self::with_rng(config, StdRng::from_entropy())
    }

    /// Like [`Self::new`] with a fixed random seed (reproducible choices).
    pub fn with_seed(config: ChokerConfig, seed: u64) -> Self {
        Self::with_rng(config, StdRng::seed_from_u64(seed))
    }

    fn with_rng(config: ChokerConfig, rng: StdRng) -> Self {
        Choker {
            config,
            unchoked: Vec::new(),
            optimistic: Vec::new(),
            next_round: None,
            next_rotation: None,
            rng,
        }
    }

    /// Whether we currently unchoke `peer`.
    pub fn is_unchoked(&self, peer: P) -> bool {
        self.unchoked.contains(&peer)
    }

    /// The peers we currently unchoke.
    pub fn unchoked(&self) -> &[P] {
        &self.unchoked
    }

    /// Runs a round if one is due (call about once a second); `None` otherwise.
    pub fn tick(
        &mut self,
        now: Instant,
        peers: &[PeerStats<P>],
        seeding: bool,
    ) -> Option<ChokeChanges<P>> {
        if self.next_round.is_some_and(|t| now < t) {
            return None;
        }
        Some(self.recompute(now, peers, seeding))
    }

    /// Runs a round now (e.g. when an unchoked peer left or a peer became
    /// interested while a slot is free). The optimistic slot rotates only when due.
    pub fn recompute(
        &mut self,
        now: Instant,
        peers: &[PeerStats<P>],
        seeding: bool,
    ) -> ChokeChanges<P> {
        self.next_round = Some(now + self.config.recompute_every);
        if self.next_rotation.is_none_or(|t| now >= t) {
            self.optimistic.clear();
            self.next_rotation = Some(now + self.config.optimistic_every);
        }
        let rate = |s: &PeerStats<P>| {
            if seeding {
                s.upload_rate
            } else {
                s.download_rate
            }
        };

        let mut candidates: Vec<&PeerStats<P>> = peers
            .iter()
            .filter(|s| s.interested && (seeding || !s.snubbed))
            .collect();
        // Random order first, so equal rates are broken at random by the stable sort.
        candidates.shuffle(&mut self.rng);
        candidates.sort_by_key(|s| std::cmp::Reverse(rate(s)));
        let mut chosen: Vec<P> = candidates
            .iter()
            .take(self.config.regular_slots)
            .map(|s| s.peer)
            .collect();

        // Keep optimistic peers that are still interested and not now regular.
        self.optimistic
            .retain(|p| !chosen.contains(p) && peers.iter().any(|s| s.peer == *p && s.interested));
        let mut pool: Vec<P> = peers
            .iter()
            .filter(|s| {
                s.interested && !chosen.contains(&s.peer) && !self.optimistic.contains(&s.peer)
            })
            .map(|s| s.peer)
            .collect();
        pool.shuffle(&mut self.rng);
        let room = self
            .config
            .optimistic_slots
            .saturating_sub(self.optimistic.len());
        self.optimistic.extend(pool.into_iter().take(room));
        chosen.extend_from_slice(&self.optimistic);

        let present = |p: &P| peers.iter().any(|s| s.peer == *p);
        let choke = self
            .unchoked
            .iter()
            .filter(|p| !chosen.contains(p) && present(p))
            .copied()
            .collect();
        let unchoke = chosen
            .iter()
            .filter(|p| !self.unchoked.contains(p))
            .copied()
            .collect();
        self.unchoked = chosen;
        ChokeChanges { unchoke, choke }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(peer: u64, interested: bool, down: u64, up: u64) -> PeerStats<u64> {
        PeerStats {
            peer,
            interested,
            download_rate: down,
            upload_rate: up,
            snubbed: false,
        }
    }

    #[test]
    fn leeching_unchokes_best_downloaders_plus_one_optimistic() {
        let mut c = Choker::with_seed(ChokerConfig::default(), 1);
        let t0 = Instant::now();
        let peers: Vec<_> = (0..10).map(|i| stats(i, true, i * 100, 0)).collect();
        let ch = c.recompute(t0, &peers, false);
        assert_eq!(ch.unchoke.len(), 5);
        for best in 6..10 {
            assert!(c.is_unchoked(best));
        }
        assert!(ch.choke.is_empty());
        // Not due yet.
        assert!(c.tick(t0 + Duration::from_secs(5), &peers, false).is_none());
    }

    #[test]
    fn seeding_uses_upload_rate_and_ignores_uninterested() {
        let mut c = Choker::with_seed(
            ChokerConfig {
                optimistic_slots: 0,
                ..ChokerConfig::default()
            },
            2,
        );
        let t0 = Instant::now();
        let mut peers: Vec<_> = (0..6).map(|i| stats(i, true, 1000 - i, i * 10)).collect();
        peers[5].interested = false;
        c.recompute(t0, &peers, true);
        let mut u = c.unchoked().to_vec();
        u.sort();
        assert_eq!(u, vec![1, 2, 3, 4]);
    }

    #[test]
    fn rates_change_and_optimistic_rotates() {
        let mut c = Choker::with_seed(ChokerConfig::default(), 3);
        let t0 = Instant::now();
        let mut peers: Vec<_> = (0..20).map(|i| stats(i, true, i, 0)).collect();
        c.recompute(t0, &peers, false);
        assert!(c.is_unchoked(19));
        peers[19].download_rate = 0;
        peers[0].download_rate = 1_000;
        let t1 = t0 + Duration::from_secs(10);
        let ch = c.tick(t1, &peers, false).expect("round due");
        assert!(ch.unchoke.contains(&0) || c.is_unchoked(0));
        assert!(c.is_unchoked(0));
        // Optimistic picks over many rotations cover more than one peer.
        let mut seen = std::collections::HashSet::new();
        for k in 1..40 {
            let t = t0 + Duration::from_secs(30 * k);
            c.recompute(t, &peers, false);
            for p in c.unchoked() {
                if ![0, 18, 17, 16].contains(p) {
                    seen.insert(*p);
                }
            }
            assert_eq!(c.unchoked().len(), 5);
        }
        assert!(seen.len() > 3, "{seen:?}");
    }

    #[test]
    fn snubbed_peers_lose_regular_slots_and_gone_peers_need_no_choke() {
        let mut c = Choker::with_seed(
            ChokerConfig {
                optimistic_slots: 0,
                regular_slots: 2,
                ..ChokerConfig::default()
            },
            4,
        );
        let t0 = Instant::now();
        let mut peers = vec![
            stats(1, true, 900, 0),
            stats(2, true, 800, 0),
            stats(3, true, 10, 0),
        ];
        c.recompute(t0, &peers, false);
        assert!(c.is_unchoked(1) && c.is_unchoked(2));
        peers[0].snubbed = true;
        peers.remove(1);
        let ch = c.recompute(t0, &peers, false);
        assert_eq!(ch.choke, vec![1]);
        assert_eq!(ch.unchoke, vec![3]);
    }
}
