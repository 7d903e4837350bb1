//! Numbers as every client shows them to people, so the TUI and the command
//! line say the same thing.

const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/// A byte count for humans: `512 B`, `1.5 KiB`, `1.2 GiB`, `700 MiB` (no
/// decimal from 100 up).
pub fn human_size(bytes: u64) -> String {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(50 << 20), "50.0 MiB");
        assert_eq!(human_size(1_288_490_189), "1.2 GiB");
        assert_eq!(human_size(700 << 20), "700 MiB");
        assert_eq!(human_size(u64::MAX), "16384 PiB");
    }
}
