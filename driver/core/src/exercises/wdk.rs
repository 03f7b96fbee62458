//! `wdk-nonpaged`, `wdk-paged` and `wdk-aligned`: the pattern workload
//! straight on the kernel pool through `WdkAllocator`.

use kcom::alloc::{PoolType, WdkAllocator};
use kcom::{NTSTATUS, STATUS_INVALID_DEVICE_STATE};

use super::{Env, Exercise, ExerciseInfo, pool_info};
use crate::protocol::{ExerciseParams, ExerciseReport, StrategyId, pool_type};
use crate::tags;
use crate::workload::run_tracked;

/// The three ways the sample uses the kernel pool directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WdkExercise {
    /// `wdk-nonpaged`: non-paged, no-execute pool.
    NonPaged,
    /// `wdk-paged`: paged pool, so only at `PASSIVE_LEVEL`.
    Paged,
    /// `wdk-aligned`: non-paged, alignment of at least
    /// [`WDK_ALIGNED_MIN_ALIGN`] (kcom's `wdk-alloc-align` header).
    Aligned,
}

/// Alignment of the `wdk-aligned` exercise's blocks (at least; a larger
/// requested alignment is kept).
pub const WDK_ALIGNED_MIN_ALIGN: u32 = 64;

impl WdkExercise {
    /// The strategy this exercise runs.
    pub const fn strategy(self) -> StrategyId {
        match self {
            WdkExercise::NonPaged => StrategyId::WdkNonPaged,
            WdkExercise::Paged => StrategyId::WdkPaged,
            WdkExercise::Aligned => StrategyId::WdkAligned,
        }
    }

    /// The pool its blocks come from.
    const fn pool(self) -> PoolType {
        match self {
            WdkExercise::NonPaged | WdkExercise::Aligned => PoolType::NonPagedNx,
            WdkExercise::Paged => PoolType::Paged,
        }
    }
}

impl Exercise for WdkExercise {
    fn info(&self) -> ExerciseInfo {
        let (pool, description) = match self {
            WdkExercise::NonPaged => (
                pool_type::NON_PAGED_NX,
                "WdkAllocator, NonPagedPoolNx (ExAllocatePool2, or the fallback)",
            ),
            WdkExercise::Paged => (pool_type::PAGED, "WdkAllocator, PagedPool"),
            WdkExercise::Aligned => (
                pool_type::NON_PAGED_NX,
                "WdkAllocator, NonPagedPoolNx, alignment >= 64 (wdk-alloc-align header)",
            ),
        };
        pool_info(self.strategy(), pool, description)
    }

    fn run(&self, params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
        let params = match self {
            WdkExercise::Paged if !(env.is_passive)() => {
                return Err(STATUS_INVALID_DEVICE_STATE);
            }
            WdkExercise::Aligned => ExerciseParams {
                align: params.align.max(WDK_ALIGNED_MIN_ALIGN),
                ..*params
            },
            WdkExercise::NonPaged | WdkExercise::Paged => *params,
        };
        let strategy = self.strategy();
        let alloc = WdkAllocator::new(self.pool(), tags::for_strategy(strategy));
        run_tracked(strategy, alloc, &params, env.clock, env.counters())
    }
}
