//! The one counter type: what an allocator did, counted lock-free.
//!
//! The same [`Counters`] count one run of an exercise (inside its
//! [`Tracked`](crate::tracked::Tracked) allocator, which the async exercise
//! shares with worker threads) and everything an exercise object allocated
//! since the device started (what `POOL_STATS` shows). The counters are
//! relaxed atomics: requests on several processors share the device's
//! counters without a lock, and a snapshot may mix instants under
//! concurrent updates. Counts wrap instead of panicking, so a caller that
//! breaks an allocator's contract corrupts numbers, never kernel code.

use core::sync::atomic::{AtomicU64, Ordering};

use kcom::STATUS_SUCCESS;

use crate::protocol::{ExerciseReport, PoolStatsEntry, StrategyId};

/// Lock-free counts of one allocator's traffic.
#[derive(Debug, Default)]
pub struct Counters {
    allocations: AtomicU64,
    frees: AtomicU64,
    failures: AtomicU64,
    bytes: AtomicU64,
    outstanding: AtomicU64,
    live_bytes: AtomicU64,
    peak_bytes: AtomicU64,
}

impl Counters {
    /// All zero.
    pub const fn new() -> Self {
        Counters {
            allocations: AtomicU64::new(0),
            frees: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            outstanding: AtomicU64::new(0),
            live_bytes: AtomicU64::new(0),
            peak_bytes: AtomicU64::new(0),
        }
    }

    /// Raises the peak to `live` if it is higher.
    fn reached(&self, live: u64) {
        self.peak_bytes.fetch_max(live, Ordering::Relaxed);
    }

    /// Records a successful allocation of `bytes`.
    pub fn on_alloc(&self, bytes: u64) {
        self.allocations.fetch_add(1, Ordering::Relaxed);
        self.outstanding.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let live = self
            .live_bytes
            .fetch_add(bytes, Ordering::Relaxed)
            .wrapping_add(bytes);
        self.reached(live);
    }

    /// Records an allocation or resize that returned null.
    pub fn on_failure(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the free of a block of `bytes`.
    pub fn on_free(&self, bytes: u64) {
        self.frees.fetch_add(1, Ordering::Relaxed);
        self.outstanding.fetch_sub(1, Ordering::Relaxed);
        self.live_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Records a block resized (in place or moved) from `old` to `new`
    /// bytes; growth counts its extra bytes as allocated.
    pub fn on_resize(&self, old: u64, new: u64) {
        if new >= old {
            let more = new - old;
            self.bytes.fetch_add(more, Ordering::Relaxed);
            let live = self
                .live_bytes
                .fetch_add(more, Ordering::Relaxed)
                .wrapping_add(more);
            self.reached(live);
        } else {
            self.live_bytes.fetch_sub(old - new, Ordering::Relaxed);
        }
    }

    /// The counts now (each read atomically on its own).
    pub fn counts(&self) -> Counts {
        Counts {
            allocations: self.allocations.load(Ordering::Relaxed),
            frees: self.frees.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            outstanding: self.outstanding.load(Ordering::Relaxed),
            live_bytes: self.live_bytes.load(Ordering::Relaxed),
            peak_bytes: self.peak_bytes.load(Ordering::Relaxed),
        }
    }
}

/// A snapshot of [`Counters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Successful allocations.
    pub allocations: u64,
    /// Frees.
    pub frees: u64,
    /// Allocations and resizes that returned null.
    pub failures: u64,
    /// Bytes allocated in total (growth counts its extra bytes).
    pub bytes: u64,
    /// Allocations live now.
    pub outstanding: u64,
    /// Bytes live now.
    pub live_bytes: u64,
    /// Most bytes live at once.
    pub peak_bytes: u64,
}

impl Counts {
    /// Adds the counts of a later stretch of the same run (the peak is the
    /// higher of the two).
    pub fn merge(&mut self, later: Counts) {
        self.allocations = self.allocations.wrapping_add(later.allocations);
        self.frees = self.frees.wrapping_add(later.frees);
        self.failures = self.failures.wrapping_add(later.failures);
        self.bytes = self.bytes.wrapping_add(later.bytes);
        self.outstanding = self.outstanding.wrapping_add(later.outstanding);
        self.live_bytes = self.live_bytes.wrapping_add(later.live_bytes);
        self.peak_bytes = self.peak_bytes.max(later.peak_bytes);
    }

    /// The report of a successful run of `strategy` with these counts.
    pub fn report(&self, strategy: StrategyId, nanos: u64, checksum: u64) -> ExerciseReport {
        ExerciseReport {
            strategy: strategy.as_u32().into(),
            ntstatus: STATUS_SUCCESS.into(),
            allocations: self.allocations.into(),
            frees: self.frees.into(),
            bytes: self.bytes.into(),
            peak_bytes: self.peak_bytes.into(),
            outstanding: self.outstanding.into(),
            nanos: nanos.into(),
            checksum: checksum.into(),
        }
    }

    /// The `POOL_STATS` entry of these counts, labelled with `pool_type`
    /// and `tag`.
    pub fn pool_entry(&self, pool_type: u32, tag: u32) -> PoolStatsEntry {
        PoolStatsEntry {
            pool_type: pool_type.into(),
            tag: tag.into(),
            allocations: self.allocations.into(),
            frees: self.frees.into(),
            outstanding_allocations: self.outstanding.into(),
            outstanding_bytes: self.live_bytes.into(),
            peak_bytes: self.peak_bytes.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_track_outstanding_and_peak() {
        let c = Counters::new();
        c.on_alloc(100);
        c.on_alloc(50);
        c.on_resize(50, 80);
        c.on_failure();
        c.on_free(100);
        c.on_resize(80, 10);
        let n = c.counts();
        assert_eq!(
            n,
            Counts {
                allocations: 2,
                frees: 1,
                failures: 1,
                bytes: 180,
                outstanding: 1,
                live_bytes: 10,
                peak_bytes: 180,
            }
        );
        let e = n.pool_entry(1, 2);
        assert_eq!((e.pool_type.get(), e.tag.get()), (1, 2));
        assert_eq!(
            (
                e.allocations.get(),
                e.frees.get(),
                e.outstanding_allocations.get(),
                e.outstanding_bytes.get(),
                e.peak_bytes.get()
            ),
            (2, 1, 1, 10, 180)
        );
        let r = n.report(StrategyId::Bump, 7, 9);
        assert_eq!(r.strategy, StrategyId::Bump.as_u32());
        assert_eq!(r.ntstatus, STATUS_SUCCESS);
        assert_eq!((r.outstanding.get(), r.nanos.get()), (1, 7));
        assert_eq!((r.bytes.get(), r.checksum.get()), (180, 9));
    }

    #[test]
    fn merged_counts_add_and_keep_the_higher_peak() {
        let mut a = Counts {
            allocations: 3,
            frees: 3,
            bytes: 30,
            peak_bytes: 20,
            ..Counts::default()
        };
        a.merge(Counts {
            allocations: 2,
            frees: 1,
            failures: 1,
            bytes: 8,
            outstanding: 1,
            live_bytes: 4,
            peak_bytes: 8,
        });
        assert_eq!(
            a,
            Counts {
                allocations: 5,
                frees: 4,
                failures: 1,
                bytes: 38,
                outstanding: 1,
                live_bytes: 4,
                peak_bytes: 20,
            }
        );
    }
}
