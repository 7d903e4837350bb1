//! Steps and names of [`FilePriority`], the priority of one file inside a
//! multi-file download (skip < normal < high).

use swarmux_net::FilePriority;

/// The lowercase name shown in the file list.
pub fn name(p: FilePriority) -> &'static str {
    match p {
        FilePriority::Skip => "skip",
        FilePriority::Normal => "normal",
        FilePriority::High => "high",
    }
}

/// One step up (saturating).
pub fn raised(p: FilePriority) -> FilePriority {
    match p {
        FilePriority::Skip => FilePriority::Normal,
        _ => FilePriority::High,
    }
}

/// One step down (saturating).
pub fn lowered(p: FilePriority) -> FilePriority {
    match p {
        FilePriority::High => FilePriority::Normal,
        _ => FilePriority::Skip,
    }
}

/// The next one in the cycle skip → normal → high → skip.
pub fn cycled(p: FilePriority) -> FilePriority {
    match p {
        FilePriority::Skip => FilePriority::Normal,
        FilePriority::Normal => FilePriority::High,
        FilePriority::High => FilePriority::Skip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_saturate_and_the_cycle_visits_all() {
        assert_eq!(raised(FilePriority::High), FilePriority::High);
        assert_eq!(lowered(FilePriority::Skip), FilePriority::Skip);
        assert_eq!(raised(FilePriority::Skip), FilePriority::Normal);
        assert_eq!(lowered(FilePriority::High), FilePriority::Normal);
        let mut p = FilePriority::Skip;
        let mut seen = Vec::new();
        for _ in 0..3 {
            p = cycled(p);
            seen.push(name(p));
        }
        assert_eq!(seen, ["normal", "high", "skip"]);
    }
}
