//! A shared count of open things (connections, sockets) that cannot leak.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Holds one unit of a shared count and gives it back when dropped, also
/// when the task holding it is aborted.
#[derive(Debug)]
pub struct CountGuard(Arc<AtomicUsize>);

impl CountGuard {
    /// Counts one more in `count`.
    pub fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        CountGuard(count.clone())
    }

    /// Counts one more in `count` if it is below `max`; `None` when full.
    pub fn try_new(count: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        Some(CountGuard(count.clone()))
    }
}

impl Drop for CountGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_while_held() {
        let count = Arc::new(AtomicUsize::new(0));
        let a = CountGuard::new(&count);
        let b = CountGuard::new(&count);
        assert_eq!(count.load(Ordering::Relaxed), 2);
        drop(a);
        assert_eq!(count.load(Ordering::Relaxed), 1);
        drop(b);
        assert_eq!(count.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_full_count_takes_no_more() {
        let count = Arc::new(AtomicUsize::new(0));
        let a = CountGuard::try_new(&count, 2).unwrap();
        let _b = CountGuard::try_new(&count, 2).unwrap();
        assert!(CountGuard::try_new(&count, 2).is_none());
        assert_eq!(count.load(Ordering::Relaxed), 2);
        drop(a);
        assert!(CountGuard::try_new(&count, 2).is_some());
    }
}
