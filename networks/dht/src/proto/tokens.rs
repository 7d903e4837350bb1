//! Write tokens (BEP 5): SHA-1 of the querier's IP and a secret that rotates every
//! five minutes; a token from the current or the previous secret is accepted.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

/// How often the secret changes.
const ROTATE_EVERY: Duration = Duration::from_secs(5 * 60);
/// Bytes of the SHA-1 kept as the token.
const TOKEN_LEN: usize = 8;

/// Issues and checks write tokens.
#[derive(Debug)]
pub struct Tokens {
    current: [u8; 16],
    previous: [u8; 16],
    rotated_at: Instant,
}

impl Tokens {
    /// Fresh random secrets.
    pub fn new(now: Instant) -> Tokens {
        Tokens {
            current: rand::random(),
            previous: rand::random(),
            rotated_at: now,
        }
    }

    /// Rotates the secret when it is old enough.
    pub fn tick(&mut self, now: Instant) {
        if now.saturating_duration_since(self.rotated_at) >= ROTATE_EVERY {
            self.previous = self.current;
            self.current = rand::random();
            self.rotated_at = now;
        }
    }

    /// The token to hand to `ip`.
    pub fn issue(&self, ip: Ipv4Addr) -> Vec<u8> {
        token(&self.current, ip)
    }

    /// Whether `token` was issued to `ip` under the current or the previous secret.
    pub fn verify(&self, ip: Ipv4Addr, token: &[u8]) -> bool {
        token == token_of(&self.current, ip) || token == token_of(&self.previous, ip)
    }
}

fn token(secret: &[u8; 16], ip: Ipv4Addr) -> Vec<u8> {
    token_of(secret, ip).to_vec()
}

fn token_of(secret: &[u8; 16], ip: Ipv4Addr) -> [u8; TOKEN_LEN] {
    let mut h = Sha1::new();
    h.update(ip.octets());
    h.update(secret);
    let digest = h.finalize();
    let mut t = [0u8; TOKEN_LEN];
    t.copy_from_slice(&digest[..TOKEN_LEN]);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_survive_one_rotation_only() {
        let now = Instant::now();
        let ip = Ipv4Addr::LOCALHOST;
        let mut t = Tokens::new(now);
        let tok = t.issue(ip);
        assert!(t.verify(ip, &tok));
        assert!(!t.verify(Ipv4Addr::new(127, 0, 0, 2), &tok));
        t.tick(now + ROTATE_EVERY);
        assert!(t.verify(ip, &tok));
        t.tick(now + ROTATE_EVERY * 2);
        assert!(!t.verify(ip, &tok));
    }
}
