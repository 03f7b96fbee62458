//! Pool accounting behind `POOL_STATS`.
//!
//! Every exercise object keeps one [`PoolCounters`] for the pool and tag it
//! allocates from (each strategy has its own tag, see [`crate::tags`]).
//! The counters are atomics, so requests running in parallel on several
//! processors share them without a lock.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::protocol::PoolStatsEntry;

/// Lock-free counters for one (pool type, tag) pair.
#[derive(Debug, Default)]
pub struct PoolCounters {
    allocations: AtomicU64,
    frees: AtomicU64,
    outstanding_allocations: AtomicU64,
    outstanding_bytes: AtomicU64,
    peak_bytes: AtomicU64,
}

impl PoolCounters {
    /// New, all-zero counters.
    pub const fn new() -> Self {
        PoolCounters {
            allocations: AtomicU64::new(0),
            frees: AtomicU64::new(0),
            outstanding_allocations: AtomicU64::new(0),
            outstanding_bytes: AtomicU64::new(0),
            peak_bytes: AtomicU64::new(0),
        }
    }

    /// Records a successful allocation of `bytes`.
    pub fn on_alloc(&self, bytes: u64) {
        self.allocations.fetch_add(1, Ordering::Relaxed);
        self.outstanding_allocations.fetch_add(1, Ordering::Relaxed);
        let now = self
            .outstanding_bytes
            .fetch_add(bytes, Ordering::Relaxed)
            .wrapping_add(bytes);
        self.peak_bytes.fetch_max(now, Ordering::Relaxed);
    }

    /// Records the free of a block of `bytes`.
    pub fn on_free(&self, bytes: u64) {
        self.frees.fetch_add(1, Ordering::Relaxed);
        self.outstanding_allocations.fetch_sub(1, Ordering::Relaxed);
        self.outstanding_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Records a block resized in place or moved from `old` to `new` bytes.
    pub fn on_resize(&self, old: u64, new: u64) {
        if new >= old {
            let now = self
                .outstanding_bytes
                .fetch_add(new - old, Ordering::Relaxed)
                .wrapping_add(new - old);
            self.peak_bytes.fetch_max(now, Ordering::Relaxed);
        } else {
            self.outstanding_bytes
                .fetch_sub(old - new, Ordering::Relaxed);
        }
    }

    /// A snapshot labelled with `pool_type` and `tag`. Each counter is read
    /// atomically; under concurrent updates they may be from slightly
    /// different instants.
    pub fn snapshot(&self, pool_type: u32, tag: u32) -> PoolStatsEntry {
        PoolStatsEntry {
            pool_type: pool_type.into(),
            tag: tag.into(),
            allocations: self.allocations.load(Ordering::Relaxed).into(),
            frees: self.frees.load(Ordering::Relaxed).into(),
            outstanding_allocations: self.outstanding_allocations.load(Ordering::Relaxed).into(),
            outstanding_bytes: self.outstanding_bytes.load(Ordering::Relaxed).into(),
            peak_bytes: self.peak_bytes.load(Ordering::Relaxed).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_track_outstanding_and_peak() {
        let c = PoolCounters::new();
        c.on_alloc(100);
        c.on_alloc(50);
        c.on_resize(50, 80);
        c.on_free(100);
        c.on_resize(80, 10);
        let s = c.snapshot(1, 2);
        assert_eq!((s.pool_type.get(), s.tag.get()), (1, 2));
        assert_eq!(
            (
                s.allocations.get(),
                s.frees.get(),
                s.outstanding_allocations.get()
            ),
            (2, 1, 1)
        );
        assert_eq!(s.outstanding_bytes, 10);
        assert_eq!(s.peak_bytes, 180);
    }
}
