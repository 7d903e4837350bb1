//! File descriptors: every connection, open file and the database take one.
//! At start the soft limit is raised to the hard limit (the common soft
//! default of 1024 is less than the networks' caps add up to), and the
//! networks' connection caps are shrunk, in proportion, to what is left after
//! a reserve for files, the database and control clients.

use std::io;

/// Descriptors kept back for files being written, read and hashed, the
/// database, logs, and the control socket's clients.
pub const RESERVED: u64 = 128 + crate::control::MAX_CLIENTS as u64;

/// Raises the soft open-file limit to the hard limit; returns the new soft limit.
pub fn raise_open_file_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    Ok(lim.rlim_cur)
}

/// The caps in `wanted`, shrunk in proportion (each at least 8) so that they
/// add up to no more than `limit` minus [`RESERVED`]; unchanged when they fit.
pub fn fit_caps(limit: u64, wanted: &[usize]) -> Vec<usize> {
    let available = limit.saturating_sub(RESERVED) as f64;
    let total: usize = wanted.iter().sum();
    if total as f64 <= available {
        return wanted.to_vec();
    }
    let scale = available / total as f64;
    wanted
        .iter()
        .map(|&w| ((w as f64 * scale) as usize).clamp(8.min(w), w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_fit_what_is_left_after_the_reserve() {
        assert_eq!(fit_caps(1 << 20, &[200, 300, 512]), [200, 300, 512]);
        let shrunk = fit_caps(1024, &[200, 300, 512]);
        let sum: usize = shrunk.iter().sum();
        assert!(sum as u64 <= 1024 - RESERVED, "{shrunk:?}");
        assert!(shrunk[2] > shrunk[1] && shrunk[1] > shrunk[0], "{shrunk:?}");
        // Each keeps a few even with almost nothing left.
        assert_eq!(fit_caps(100, &[200, 4]), [8, 4]);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let soft = raise_open_file_limit().unwrap();
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!((soft, lim.rlim_cur), (lim.rlim_max, lim.rlim_max));
    }
}
