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
        let strategy = self.strategy();
        let backing = non_paged(strategy);
        let (clock, counters) = (env.clock, env.counters());
        match self {
            RegionExercise::Bump => {
                let mut bump = Bump::with_capacity_in(region_capacity(params, 0), backing)?;
                run_batched(strategy, &mut bump, params, clock, counters, |b| b.reset())
            }
            RegionExercise::Pool => {
                let block =
                    Layout::from_size_align(params.max_size as usize, params.align as usize)
                        .map_err(|_| STATUS_DATA_ERROR)?;
                let blocks =
                    (MAX_LIVE_BYTES as usize / block.size()).clamp(1, MAX_LIVE_BLOCKS as usize);
                let mut pool = Pool::with_layout_in(block, blocks, backing)?;
                run_batched(strategy, &mut pool, params, clock, counters, |_| {})
            }
            RegionExercise::FreeList => {
                let mut list = FreeList::with_capacity_in(region_capacity(params, 64), backing)?;
                run_batched(strategy, &mut list, params, clock, counters, |_| {})
            }
            RegionExercise::Stack => {
                let mut stack = Stack::with_capacity_in(region_capacity(params, 32), backing)?;
                run_batched(strategy, &mut stack, params, clock, counters, |_| {})
            }
        }
    }
}
