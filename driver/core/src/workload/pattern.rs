//! The pattern workload: blocks on any allocator, oldest freed first.
//!
//! [`pattern_workload`] allocates `iterations` blocks whose sizes come from
//! the seeded generator, fills each with its pattern, keeps at most
//! [`MAX_LIVE_BLOCKS`] blocks / [`MAX_LIVE_BYTES`] bytes alive (oldest
//! verified and freed first), and verifies every block before freeing it.
//! Blocks are freed in index order, so the checksum is
//! [`expected_checksum`](super::expected_checksum). On allocation failure
//! every live block is freed and the run fails with
//! `STATUS_INSUFFICIENT_RESOURCES`.

use core::alloc::Layout;
use core::ptr::NonNull;

use kcom::{
    Allocator, NTSTATUS, STATUS_DATA_ERROR, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER,
};

use super::{FOLD_BASIS, XorShift64, fold_block, verify, write_block};
use crate::counters::Counters;
use crate::protocol::{
    ExerciseParams, ExerciseReport, MAX_LIVE_BLOCKS, MAX_LIVE_BYTES, StrategyId,
};
use crate::tracked::Tracked;

/// One live block: where, its layout, and the iteration that made it.
#[derive(Clone, Copy)]
pub(super) struct Live {
    pub(super) ptr: NonNull<u8>,
    pub(super) layout: Layout,
    pub(super) index: u32,
}

/// The blocks a workload holds, oldest first; frees whatever is left when
/// dropped, so no exit path (error or panic) leaks.
struct LiveSet<'a, A: Allocator> {
    alloc: &'a A,
    ring: [Option<Live>; MAX_LIVE_BLOCKS as usize],
    head: usize,
    len: usize,
    bytes: u64,
}

impl<'a, A: Allocator> LiveSet<'a, A> {
    fn new(alloc: &'a A) -> Self {
        LiveSet {
            alloc,
            ring: [None; MAX_LIVE_BLOCKS as usize],
            head: 0,
            len: 0,
            bytes: 0,
        }
    }

    fn is_full_for(&self, size: usize) -> bool {
        self.len == self.ring.len() || (self.len > 0 && self.bytes + size as u64 > MAX_LIVE_BYTES)
    }

    fn push(&mut self, live: Live) {
        debug_assert!(self.len < self.ring.len());
        let slot = (self.head + self.len) % self.ring.len();
        self.ring[slot] = Some(live);
        self.len += 1;
        self.bytes += live.layout.size() as u64;
    }

    fn pop(&mut self) -> Option<Live> {
        if self.len == 0 {
            return None;
        }
        let live = self.ring[self.head].take();
        self.head = (self.head + 1) % self.ring.len();
        self.len -= 1;
        if let Some(l) = live {
            self.bytes -= l.layout.size() as u64;
        }
        live
    }

    /// Frees `live` (which was popped from this set).
    fn free(&self, live: Live) {
        // SAFETY: every `Live` in the set came from `self.alloc.alloc` with
        // `live.layout` and is freed exactly once: it was removed from the
        // ring by `pop` before this call.
        unsafe { self.alloc.dealloc(live.ptr.as_ptr(), live.layout) };
    }

    /// Verifies and frees the oldest block; folds it into `checksum`.
    fn retire_oldest(&mut self, seed: u64, checksum: &mut u64) -> Result<(), NTSTATUS> {
        let Some(live) = self.pop() else {
            return Ok(());
        };
        // SAFETY: the block holds `layout.size()` bytes that `write_block`
        // initialised; nothing else references it while this shared view
        // lives (it is dropped before the free below).
        let block = unsafe { core::slice::from_raw_parts(live.ptr.as_ptr(), live.layout.size()) };
        let digest = verify(block, seed, live.index);
        self.free(live);
        let digest = digest.ok_or(STATUS_DATA_ERROR)?;
        *checksum = fold_block(*checksum, live.index, live.layout.size(), digest);
        Ok(())
    }
}

impl<A: Allocator> Drop for LiveSet<'_, A> {
    fn drop(&mut self) {
        while let Some(live) = self.pop() {
            self.free(live);
        }
    }
}

/// Runs the pattern workload (see the module docs) on `alloc` and returns
/// the checksum of the verified blocks.
///
/// Errors: `STATUS_INSUFFICIENT_RESOURCES` when `alloc` returns null,
/// `STATUS_DATA_ERROR` when a block does not read back as written,
/// `STATUS_INVALID_PARAMETER` for a size/alignment that is not a valid
/// `Layout` (cannot happen for validated parameters). In every case all
/// blocks are freed before returning.
pub fn pattern_workload<A: Allocator>(alloc: &A, params: &ExerciseParams) -> Result<u64, NTSTATUS> {
    let mut rng = XorShift64::new(params.seed);
    let mut live = LiveSet::new(alloc);
    let mut checksum = FOLD_BASIS;
    for index in 0..params.iterations {
        let size = rng.range_u32(params.min_size, params.max_size) as usize;
        let layout = Layout::from_size_align(size, params.align as usize)
            .map_err(|_| STATUS_INVALID_PARAMETER)?;
        while live.is_full_for(size) {
            live.retire_oldest(params.seed, &mut checksum)?;
        }
        // SAFETY: `layout` is valid and non-zero-sized (`min_size >= 1`); the
        // block is freed by `LiveSet` with the same layout.
        let p = unsafe { alloc.alloc(layout) };
        let Some(ptr) = NonNull::new(p) else {
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        };
        // SAFETY: the allocator returned a block of at least `size` bytes.
        unsafe { write_block(ptr.as_ptr(), size, params.seed, index) };
        live.push(Live { ptr, layout, index });
    }
    while live.len > 0 {
        live.retire_oldest(params.seed, &mut checksum)?;
    }
    Ok(checksum)
}

/// Runs [`pattern_workload`] on `alloc` wrapped in [`Tracked`] (mirrored into
/// `device`), timed with `clock`, and builds the report.
///
/// This is the body of every allocator exercise: a strategy's exercise
/// builds its allocator and calls this. A run that leaves allocations
/// outstanding (a bug in the allocator under test) is reported as such in
/// `outstanding`, not hidden.
pub fn run_tracked<A: Allocator>(
    strategy: StrategyId,
    alloc: A,
    params: &ExerciseParams,
    clock: fn() -> u64,
    device: Option<&Counters>,
) -> Result<ExerciseReport, NTSTATUS> {
    let tracked = Tracked::new(alloc, device);
    let start = clock();
    let checksum = pattern_workload(&tracked, params)?;
    let nanos = clock().saturating_sub(start);
    Ok(tracked.counts().report(strategy, nanos, checksum))
}

#[cfg(test)]
mod tests {
    use core::cell::Cell;
    use core::ptr;

    use kcom::GlobalAllocator;

    use super::*;
    use crate::protocol::RunRequest;
    use crate::workload::expected_checksum;

    fn params(iterations: u32, min: u32, max: u32, align: u32, seed: u64) -> ExerciseParams {
        RunRequest::new(StrategyId::Global, iterations, min, max, seed)
            .with_align(align)
            .validate()
            .unwrap()
    }

    #[test]
    fn workload_checksum_matches_the_reference_and_depends_on_the_seed() {
        let n = if cfg!(miri) { 40 } else { 500 };
        let p = params(n, 1, 300, 0, 11);
        let tracked = Tracked::new(GlobalAllocator, None);
        let sum = pattern_workload(&tracked, &p).unwrap();
        assert_eq!(sum, expected_checksum(&p));
        let s = tracked.counts();
        assert_eq!(s.allocations, u64::from(n));
        assert_eq!(s.frees, u64::from(n));
        assert_eq!(s.outstanding, 0);
        assert_eq!(s.live_bytes, 0);
        assert!(s.peak_bytes <= MAX_LIVE_BYTES);
        assert!(s.peak_bytes >= 300.min(s.bytes));
        assert_ne!(expected_checksum(&params(n, 1, 300, 0, 12)), sum);
    }

    #[test]
    fn live_window_bounds_blocks_and_bytes() {
        // 1 MiB blocks: at most 4 live at once (MAX_LIVE_BYTES = 4 MiB).
        // Too slow under Miri, which checks the small-block half below.
        if !cfg!(miri) {
            let p = params(20, 1 << 20, 1 << 20, 0, 3);
            let tracked = Tracked::new(GlobalAllocator, None);
            pattern_workload(&tracked, &p).unwrap();
            assert_eq!(tracked.counts().peak_bytes, MAX_LIVE_BYTES);
        }
        // Tiny blocks: at most MAX_LIVE_BLOCKS live.
        let p = params(100, 8, 8, 0, 3);
        let tracked = Tracked::new(GlobalAllocator, None);
        pattern_workload(&tracked, &p).unwrap();
        assert_eq!(tracked.counts().peak_bytes, u64::from(MAX_LIVE_BLOCKS) * 8);
    }

    #[test]
    fn alignment_is_honoured() {
        struct CheckAlign;
        // SAFETY: forwards to `GlobalAllocator` after checking the layout.
        unsafe impl Allocator for CheckAlign {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                assert_eq!(layout.align(), 256);
                // SAFETY: forwarded contract.
                let p = unsafe { GlobalAllocator.alloc(layout) };
                assert_eq!(p as usize % 256, 0);
                p
            }
            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                // SAFETY: forwarded contract.
                unsafe { GlobalAllocator.dealloc(ptr, layout) }
            }
        }
        let p = params(10, 1, 100, 256, 5);
        assert_eq!(pattern_workload(&CheckAlign, &p), Ok(expected_checksum(&p)));
    }

    /// Fails the `fail_at`-th allocation (0-based) and counts live blocks.
    struct FailAt {
        fail_at: u64,
        calls: Cell<u64>,
        live: Cell<i64>,
    }

    // SAFETY: forwards to `GlobalAllocator` or returns null.
    unsafe impl Allocator for FailAt {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let n = self.calls.get();
            self.calls.set(n + 1);
            if n == self.fail_at {
                return ptr::null_mut();
            }
            self.live.set(self.live.get() + 1);
            // SAFETY: forwarded contract.
            unsafe { GlobalAllocator.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            self.live.set(self.live.get() - 1);
            // SAFETY: forwarded contract.
            unsafe { GlobalAllocator.dealloc(ptr, layout) }
        }
    }

    #[test]
    fn allocation_failure_frees_everything() {
        let n = if cfg!(miri) { 40 } else { 100 };
        let p = params(n, 1, 64, 0, 1);
        for fail_at in [0, 1, 31, 32, 33, u64::from(n) - 1] {
            let a = FailAt {
                fail_at,
                calls: Cell::new(0),
                live: Cell::new(0),
            };
            let counters = Counters::new();
            let tracked = Tracked::new(&a, Some(&counters));
            assert_eq!(
                pattern_workload(&tracked, &p),
                Err(STATUS_INSUFFICIENT_RESOURCES)
            );
            assert_eq!(a.live.get(), 0, "fail_at {fail_at}");
            let s = tracked.counts();
            assert_eq!(
                (s.allocations, s.frees, s.failures, s.outstanding),
                (fail_at, fail_at, 1, 0)
            );
            let d = counters.counts();
            assert_eq!(
                (d.allocations, d.outstanding, d.live_bytes),
                (fail_at, 0, 0)
            );
        }
    }

    /// Hands out blocks but corrupts the `n`-th one right after the write.
    struct Corrupting {
        target: u32,
        calls: Cell<u32>,
        last: Cell<*mut u8>,
    }

    // SAFETY: forwards to `GlobalAllocator`.
    unsafe impl Allocator for Corrupting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            self.calls.set(self.calls.get() + 1);
            // SAFETY: forwarded contract.
            let p = unsafe { GlobalAllocator.alloc(layout) };
            if self.calls.get() == self.target + 2 {
                // The previous block (index `target`) was filled by now.
                // SAFETY: that block is live (window > 1) and at least 1 byte.
                unsafe { *self.last.get() ^= 0xFF };
            }
            self.last.set(p);
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded contract.
            unsafe { GlobalAllocator.dealloc(ptr, layout) }
        }
    }

    #[test]
    fn corrupted_memory_is_detected_and_still_freed() {
        let p = params(10, 4, 16, 0, 9);
        let a = Corrupting {
            target: 3,
            calls: Cell::new(0),
            last: Cell::new(ptr::null_mut()),
        };
        let tracked = Tracked::new(&a, None);
        assert_eq!(pattern_workload(&tracked, &p), Err(STATUS_DATA_ERROR));
        assert_eq!(tracked.counts().outstanding, 0);
    }
}
