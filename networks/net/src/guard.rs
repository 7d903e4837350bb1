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
}

impl Drop for CountGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
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
}
