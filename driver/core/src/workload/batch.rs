//! The batch workload: the pattern workload's blocks, sizes, patterns and
//! checksum, in batches on a strategy with a fixed region (bump, pool, free
//! list, stack).

use core::alloc::Layout;
use core::ptr::NonNull;

use kcom::{
    Allocator, NTSTATUS, STATUS_DATA_ERROR, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER,
};

use super::pattern::Live;
use super::{FOLD_BASIS, XorShift64, fold_block, verify, write_block};
use crate::counters::{Counters, Counts};
use crate::protocol::{
    ExerciseParams, ExerciseReport, MAX_LIVE_BLOCKS, MAX_LIVE_BYTES, StrategyId,
};
use crate::tracked::Tracked;

/// The workload for strategies with a fixed region (bump, pool, free list,
/// stack): the same blocks, sizes, patterns and checksum as
/// [`pattern_workload`](super::pattern_workload), in batches.
///
/// A batch allocates blocks until the strategy is full (it returns null),
/// or [`MAX_LIVE_BLOCKS`] / [`MAX_LIVE_BYTES`] are live, or the run is done;
/// then it verifies every block oldest first and frees them newest first
/// (the order a stack needs; any order suits the others), and calls
/// `between_batches` (a bump allocator resets there). Each batch is counted
/// by a [`Tracked`] view of `strategy`, mirrored into `device`.
///
/// Errors: `STATUS_INSUFFICIENT_RESOURCES` if the strategy cannot hold even
/// one block of the requested size, `STATUS_DATA_ERROR` if a block does not
/// read back as written. Every block is freed in every case.
pub fn batch_workload<S: Allocator>(
    strategy: &mut S,
    params: &ExerciseParams,
    device: Option<&Counters>,
    mut between_batches: impl FnMut(&mut S),
) -> Result<(u64, Counts), NTSTATUS> {
    let mut rng = XorShift64::new(params.seed);
    let mut checksum = FOLD_BASIS;
    let mut totals = Counts::default();
    let mut index: u32 = 0;
    // A size drawn for `index` that did not fit in the previous batch.
    let mut carried: Option<usize> = None;
    while index < params.iterations {
        let tracked = Tracked::new(&*strategy, device);
        let mut batch: [Option<Live>; MAX_LIVE_BLOCKS as usize] = [None; MAX_LIVE_BLOCKS as usize];
        let mut len = 0;
        let mut bytes: u64 = 0;
        let mut outcome: Result<(), NTSTATUS> = Ok(());
        while index < params.iterations && len < batch.len() {
            let size = carried
                .take()
                .unwrap_or_else(|| rng.range_u32(params.min_size, params.max_size) as usize);
            if len > 0 && bytes + size as u64 > MAX_LIVE_BYTES {
                carried = Some(size);
                break;
            }
            let Ok(layout) = Layout::from_size_align(size, params.align as usize) else {
                outcome = Err(STATUS_INVALID_PARAMETER);
                break;
            };
            // SAFETY: `layout` is valid and non-zero-sized (`min_size >= 1`);
            // the block is freed below with the same layout.
            let p = unsafe { tracked.alloc(layout) };
            let Some(ptr) = NonNull::new(p) else {
                if len == 0 {
                    outcome = Err(STATUS_INSUFFICIENT_RESOURCES);
                } else {
                    carried = Some(size);
                }
                break;
            };
            // SAFETY: the strategy returned a block of at least `size` bytes.
            unsafe { write_block(ptr.as_ptr(), size, params.seed, index) };
            batch[len] = Some(Live { ptr, layout, index });
            len += 1;
            bytes += size as u64;
            index += 1;
        }
        for live in batch[..len].iter().flatten() {
            // SAFETY: the block holds `layout.size()` bytes written by `write_block`
            // and is not freed until the loop below.
            let block =
                unsafe { core::slice::from_raw_parts(live.ptr.as_ptr(), live.layout.size()) };
            match verify(block, params.seed, live.index) {
                Some(digest) => {
                    checksum = fold_block(checksum, live.index, live.layout.size(), digest);
                }
                None => outcome = outcome.and(Err(STATUS_DATA_ERROR)),
            }
        }
        for live in batch[..len].iter().rev().flatten() {
            // SAFETY: allocated above from `tracked` with this layout, freed
            // once, newest first.
            unsafe { tracked.dealloc(live.ptr.as_ptr(), live.layout) };
        }
        totals.merge(tracked.counts());
        outcome?;
        between_batches(strategy);
    }
    Ok((checksum, totals))
}

/// Runs [`batch_workload`] timed with `clock` and builds the report.
pub fn run_batched<S: Allocator>(
    strategy_id: StrategyId,
    strategy: &mut S,
    params: &ExerciseParams,
    clock: fn() -> u64,
    device: Option<&Counters>,
    between_batches: impl FnMut(&mut S),
) -> Result<ExerciseReport, NTSTATUS> {
    let start = clock();
    let (checksum, stats) = batch_workload(strategy, params, device, between_batches)?;
    let nanos = clock().saturating_sub(start);
    Ok(stats.report(strategy_id, nanos, checksum))
}
