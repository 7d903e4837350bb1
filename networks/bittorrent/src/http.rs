//! One blocking HTTP(S) GET with a time limit and a size cap, for trackers,
//! Torznab indexers and .torrent URLs (call it off the async threads).

use std::io::Read;
use std::time::Duration;

/// GETs `url`; a non-2xx status, a timeout or a body over `max_bytes` is an
/// error (a sentence for the log).
pub fn get(url: &str, timeout: Duration, max_bytes: u64) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .build()
        .into();
    let mut resp = agent.get(url).call().map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    resp.body_mut()
        .as_reader()
        .take(max_bytes + 1)
        .read_to_end(&mut body)
        .map_err(|e| e.to_string())?;
    if body.len() as u64 > max_bytes {
        return Err(format!("answer larger than {max_bytes} bytes"));
    }
    Ok(body)
}
