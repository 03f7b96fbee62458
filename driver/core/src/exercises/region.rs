//! `bump`, `pool`, `free-list` and `stack`: the batch workload on a kcom
//! strategy whose region comes from the non-paged pool and goes back to it
//! when the run ends.

use core::alloc::Layout;

use kcom::alloc::{Bump, FreeList, Pool, Stack};
use kcom::{NTSTATUS, STATUS_DATA_ERROR};

use super::{Env, Exercise, ExerciseInfo, non_paged, pool_info};
use crate::protocol::{
    ExerciseParams, ExerciseReport, MAX_LIVE_BLOCKS, MAX_LIVE_BYTES, StrategyId, pool_type,
};
use crate::workload::run_batched;

/// The four strategies with a fixed region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionExercise {
    /// `bump`: linear allocation, reset between batches.
    Bump,
    /// `pool`: fixed blocks of `max_size`.
    Pool,
    /// `free-list`: first fit with coalescing.
    FreeList,
    /// `stack`: LIFO.
    Stack,
}

impl RegionExercise {
    /// The strategy this exercise runs.
    pub const fn strategy(self) -> StrategyId {
        match self {
            RegionExercise::Bump => StrategyId::Bump,
            RegionExercise::Pool => StrategyId::Pool,
            RegionExercise::FreeList => StrategyId::FreeList,
            RegionExercise::Stack => StrategyId::Stack,
        }
    }
}

/// Bytes a region needs for one batch of `params`' blocks: the live limits,
/// each block's alignment padding, and a per-block header allowance.
fn region_capacity(params: &ExerciseParams, header: usize) -> usize {
    let blocks = MAX_LIVE_BLOCKS as usize;
    let live = (MAX_LIVE_BYTES as usize).min(blocks * params.max_size as usize);
    let per_block = params.align as usize + header;
    (live + blocks * per_block).max(params.max_size as usize + per_block)
}

impl Exercise for RegionExercise {
    fn info(&self) -> ExerciseInfo {
        let description = match self {
            RegionExercise::Bump => "Bump over NonPagedPoolNx: linear allocation, reset per batch",
            RegionExercise::Pool => "Pool: fixed blocks of max_size, O(1) intrusive free list",
            RegionExercise::FreeList => {
                "FreeList: first fit, splitting, coalescing with boundary tags"
            }
            RegionExercise::Stack => "Stack: LIFO allocation, each block freed by pop",
        };
        pool_info(self.strategy(), pool_type::NON_PAGED_NX, description)
    }

    fn run(&self, params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
        // One function per strategy, never inlined: each keeps its
        // allocator (a `FreeList` carries about 1 KiB of list heads) in its
        // own frame, so the kernel stack holds one of them at a time, and no
        // frame needs a stack probe (`__chkstk`) even in a debug build.
        match self {
            RegionExercise::Bump => run_bump(params, env),
            RegionExercise::Pool => run_pool(params, env),
            RegionExercise::FreeList => run_free_list(params, env),
            RegionExercise::Stack => run_stack(params, env),
        }
    }
}

#[inline(never)]
fn run_bump(params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
    let strategy = StrategyId::Bump;
    let backing = non_paged(strategy);
    let mut bump = Bump::with_capacity_in(region_capacity(params, 0), backing)?;
    run_batched(
        strategy,
        &mut bump,
        params,
        env.clock,
        env.counters(),
        |b| b.reset(),
    )
}

#[inline(never)]
fn run_pool(params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
    let strategy = StrategyId::Pool;
    let block = Layout::from_size_align(params.max_size as usize, params.align as usize)
        .map_err(|_| STATUS_DATA_ERROR)?;
    let blocks = (MAX_LIVE_BYTES as usize / block.size()).clamp(1, MAX_LIVE_BLOCKS as usize);
    let mut pool = Pool::with_layout_in(block, blocks, non_paged(strategy))?;
    run_batched(
        strategy,
        &mut pool,
        params,
        env.clock,
        env.counters(),
        |_| {},
    )
}

#[inline(never)]
fn run_free_list(params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
    let strategy = StrategyId::FreeList;
    // A `match`, not `?`: in a debug build each step of `?` keeps its own
    // copy of the allocator in the frame, which then needs a stack probe.
    #[allow(clippy::question_mark)]
    let mut list =
        match FreeList::with_capacity_in(region_capacity(params, 64), non_paged(strategy)) {
            Ok(list) => list,
            Err(error) => return Err(error.into()),
        };
    run_batched(
        strategy,
        &mut list,
        params,
        env.clock,
        env.counters(),
        |_| {},
    )
}

#[inline(never)]
fn run_stack(params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
    let strategy = StrategyId::Stack;
    let mut stack = Stack::with_capacity_in(region_capacity(params, 32), non_paged(strategy))?;
    run_batched(
        strategy,
        &mut stack,
        params,
        env.clock,
        env.counters(),
        |_| {},
    )
}
