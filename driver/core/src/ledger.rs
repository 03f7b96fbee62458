//! Device-wide pool accounting behind `POOL_STATS`.
//!
//! The ledger has one slot per (pool type, tag) pair that a registered
//! exercise allocates from. Slots are claimed while the device is built
//! (`&mut` access) and updated with atomics afterwards, so requests running
//! in parallel on several processors can share it without a lock.

use core::sync::atomic::{AtomicU64, Ordering};

use kcom::{NTSTATUS, STATUS_INSUFFICIENT_RESOURCES};

use crate::protocol::{MAX_POOL_ENTRIES, PoolStatsEntry};

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
            pool_type,
            tag,
            allocations: self.allocations.load(Ordering::Relaxed),
            frees: self.frees.load(Ordering::Relaxed),
            outstanding_allocations: self.outstanding_allocations.load(Ordering::Relaxed),
            outstanding_bytes: self.outstanding_bytes.load(Ordering::Relaxed),
            peak_bytes: self.peak_bytes.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug)]
struct Slot {
    pool_type: u32,
    tag: u32,
    counters: PoolCounters,
}

/// Fixed table of [`PoolCounters`], one per (pool type, tag); no allocation.
#[derive(Debug)]
pub struct PoolLedger {
    slots: [Option<Slot>; MAX_POOL_ENTRIES],
}

impl PoolLedger {
    /// An empty ledger.
    pub const fn new() -> Self {
        PoolLedger {
            slots: [const { None }; MAX_POOL_ENTRIES],
        }
    }

    /// Claims the slot for `(pool_type, tag)`, or finds it if already
    /// claimed; `STATUS_INSUFFICIENT_RESOURCES` when the table is full.
    pub fn register(&mut self, pool_type: u32, tag: u32) -> Result<(), NTSTATUS> {
        if self.counters(pool_type, tag).is_some() {
            return Ok(());
        }
        let free = self
            .slots
            .iter_mut()
            .find(|s| s.is_none())
            .ok_or(STATUS_INSUFFICIENT_RESOURCES)?;
        *free = Some(Slot {
            pool_type,
            tag,
            counters: PoolCounters::new(),
        });
        Ok(())
    }

    /// The counters for `(pool_type, tag)`, if registered.
    pub fn counters(&self, pool_type: u32, tag: u32) -> Option<&PoolCounters> {
        self.slots
            .iter()
            .flatten()
            .find(|s| s.pool_type == pool_type && s.tag == tag)
            .map(|s| &s.counters)
    }

    /// Writes a snapshot of every registered slot to the front of `out`;
    /// returns how many were written.
    pub fn snapshot_into(&self, out: &mut [PoolStatsEntry]) -> usize {
        let mut n = 0;
        for (slot, dst) in self.slots.iter().flatten().zip(out.iter_mut()) {
            *dst = slot.counters.snapshot(slot.pool_type, slot.tag);
            n += 1;
        }
        n
    }

    /// Total allocations outstanding over all slots.
    pub fn outstanding_allocations(&self) -> u64 {
        self.slots
            .iter()
            .flatten()
            .map(|s| s.counters.outstanding_allocations.load(Ordering::Relaxed))
            .sum()
    }
}

impl Default for PoolLedger {
    fn default() -> Self {
        Self::new()
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
        assert_eq!((s.pool_type, s.tag), (1, 2));
        assert_eq!(
            (s.allocations, s.frees, s.outstanding_allocations),
            (2, 1, 1)
        );
        assert_eq!(s.outstanding_bytes, 10);
        assert_eq!(s.peak_bytes, 180);
    }

    #[test]
    fn ledger_dedupes_and_fills_up() {
        let mut l = PoolLedger::new();
        l.register(1, 7).unwrap();
        l.register(1, 7).unwrap();
        assert!(l.counters(1, 7).is_some());
        assert!(l.counters(1, 8).is_none());
        for tag in 0..MAX_POOL_ENTRIES as u32 - 1 {
            l.register(2, tag).unwrap();
        }
        assert_eq!(l.register(3, 0), Err(STATUS_INSUFFICIENT_RESOURCES));
        l.counters(2, 3).unwrap().on_alloc(5);
        assert_eq!(l.outstanding_allocations(), 1);
        let mut out = [PoolStatsEntry::default(); MAX_POOL_ENTRIES];
        assert_eq!(l.snapshot_into(&mut out), MAX_POOL_ENTRIES);
        assert_eq!(l.snapshot_into(&mut out[..3]), 3);
        assert_eq!(out[0].tag, 7);
    }
}
