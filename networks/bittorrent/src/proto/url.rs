//! Splitting tracker URLs (percent-encoding is `swarmux_net::percent`:
//! byte-wise, since info-hashes and peer ids are raw bytes).

/// The transport of a tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackerScheme {
    /// `http://`
    Http,
    /// `https://`
    Https,
    /// `udp://` (BEP 15)
    Udp,
}

/// A tracker URL split into what a socket needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerUrl {
    /// The transport.
    pub scheme: TrackerScheme,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port (80 and 443 by default for HTTP(S); UDP needs one).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

/// Why a tracker URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tracker URL {url:?}: {reason}")]
pub struct TrackerUrlError {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl TrackerUrl {
    /// Splits `http://host[:port]/path?query`, `https://...` or `udp://host:port[/...]`.
    pub fn parse(url: &str) -> Result<TrackerUrl, TrackerUrlError> {
        let err = |reason| TrackerUrlError {
            url: url.to_string(),
            reason,
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| err("no scheme"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => TrackerScheme::Http,
            "https" => TrackerScheme::Https,
            "udp" => TrackerScheme::Udp,
            _ => return Err(err("scheme is not http, https or udp")),
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| err("unclosed ["))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(err("no host"));
        }
        let port = match (port, scheme) {
            (Some(p), _) => p.parse().map_err(|_| err("bad port"))?,
            (None, TrackerScheme::Http) => 80,
            (None, TrackerScheme::Https) => 443,
            (None, TrackerScheme::Udp) => return Err(err("udp tracker needs a port")),
        };
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        Ok(TrackerUrl {
            scheme,
            host: host.to_string(),
            port,
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_tracker_urls() {
        let u = TrackerUrl::parse("http://127.0.0.1:6969/announce?x=1").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port, u.path.as_str()),
            (TrackerScheme::Http, "127.0.0.1", 6969, "/announce?x=1")
        );
        let u = TrackerUrl::parse("https://t.example").unwrap();
        assert_eq!((u.port, u.path.as_str()), (443, "/"));
        let u = TrackerUrl::parse("udp://[::1]:80/announce").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 80));
        assert!(TrackerUrl::parse("udp://host/announce").is_err());
        assert!(TrackerUrl::parse("ftp://host/").is_err());
        assert!(TrackerUrl::parse("http://:80/").is_err());
        assert!(TrackerUrl::parse("http://h:99999/").is_err());
        assert!(TrackerUrl::parse("nonsense").is_err());
    }
}
