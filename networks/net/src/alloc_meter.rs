//! Counts the heap bytes a piece of code allocates and keeps (feature
//! `test-support`, for tests and fuzz targets only), so that a test can
//! assert that decoding hostile input holds at most a stated multiple of the
//! input. Install [`CountingAlloc`] as the global allocator of the test or
//! fuzz binary, then call [`measure`]:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: swarmux_net::alloc_meter::CountingAlloc = swarmux_net::alloc_meter::CountingAlloc;
//! let (decoded, held) = swarmux_net::alloc_meter::measure(|| decode(&input));
//! assert!(held.kept <= 4 * input.len());
//! ```
//!
//! Counts are per thread, so tests running in parallel do not disturb each
//! other; memory freed by another thread than the one that allocated it is
//! miscounted, so measure single-threaded code only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting what each thread holds.
pub struct CountingAlloc;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grow(n: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().wrapping_add(n);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrink(n: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().wrapping_sub(n)));
}

// SAFETY: every call is passed on to the system allocator unchanged; only
// thread-local counters (const-initialised, without destructors) are touched
// besides.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            shrink(layout.size());
            grow(new_size);
        }
        p
    }
}

/// What a measured closure allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    /// Bytes still allocated when it returned (what its result holds).
    pub kept: usize,
    /// The most bytes it had allocated at once.
    pub peak: usize,
}

/// Runs `f` and says how many heap bytes it left allocated and held at most
/// (both 0 unless [`CountingAlloc`] is the global allocator).
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, Held) {
    let before = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(before));
    let out = f();
    let after = LIVE.with(Cell::get);
    let peak = PEAK.with(Cell::get);
    let held = Held {
        kept: after.saturating_sub(before),
        peak: peak.saturating_sub(before),
    };
    (out, held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static ALLOC: CountingAlloc = CountingAlloc;

    #[test]
    fn kept_and_peak_bytes_are_counted() {
        let (v, held) = measure(|| {
            let scratch = vec![1u8; 10_000];
            drop(scratch);
            vec![2u8; 1000]
        });
        assert_eq!(held.kept, 1000);
        assert!(held.peak >= 10_000, "{held:?}");
        drop(v);
    }
}
