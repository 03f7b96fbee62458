//! The sample's COM objects: every registered exercise is a kcom object
//! implementing [`IAllocatorExercise`] and [`IPoolAccounting`], allocated
//! from a kcom allocator (in the driver: `WdkAllocator`, non-paged, tag
//! [`tags::DEVICE`](crate::tags::DEVICE)). The dispatcher reaches an
//! exercise only through `QueryInterface` and these vtables.

use kcom::{GUID, IUnknown, NTSTATUS, STATUS_INVALID_PARAMETER, declare_com_interface};

use crate::exercise::{Env, Exercise, ExerciseInfo};
use crate::ledger::PoolCounters;
use crate::protocol::{ExerciseReport, PoolStatsEntry, RunRequest, StrategyInfo};

declare_com_interface! {
    /// One allocator strategy's exercise, as the device's registry holds it.
    pub trait IAllocatorExercise: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("c0a1e5e7-4d1b-4c8e-9f4a-2b6d8e0f1a31");

        /// The exercise's `GET_INFO` entry.
        fn describe(&self) -> Result<StrategyInfo, NTSTATUS>;

        /// Validates `request` (the object trusts nothing across the ABI)
        /// and runs the workload; `STATUS_INVALID_PARAMETER` for a request
        /// meant for another strategy.
        fn run(&self, request: RunRequest) -> Result<ExerciseReport, NTSTATUS>;
    }
}

declare_com_interface! {
    /// The pool accounting of one exercise object, as `POOL_STATS` shows it.
    pub trait IPoolAccounting: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("c0a1e5e7-4d1b-4c8e-9f4a-2b6d8e0f1a32");

        /// Counters of the pool and tag the exercise allocates from.
        fn pool_stats(&self) -> Result<PoolStatsEntry, NTSTATUS>;
    }
}

/// The COM object behind one registered exercise: the exercise, its own
/// pool counters, and the device's clock and IRQL probe.
pub struct ExerciseObject<E> {
    exercise: E,
    info: ExerciseInfo,
    counters: PoolCounters,
    clock: fn() -> u64,
    is_passive: fn() -> bool,
}

impl<E: Exercise> ExerciseObject<E> {
    /// Wraps `exercise` (its `info` is read once, here).
    pub fn new(exercise: E, clock: fn() -> u64, is_passive: fn() -> bool) -> Self {
        let info = exercise.info();
        ExerciseObject {
            exercise,
            info,
            counters: PoolCounters::new(),
            clock,
            is_passive,
        }
    }
}

impl<E> core::fmt::Debug for ExerciseObject<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ExerciseObject")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl<E: Exercise> IAllocatorExercise for ExerciseObject<E> {
    fn describe(&self) -> Result<StrategyInfo, NTSTATUS> {
        Ok(self.info.to_wire())
    }

    fn run(&self, request: RunRequest) -> Result<ExerciseReport, NTSTATUS> {
        let params = request.validate()?;
        if params.strategy != self.info.strategy {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let env = Env {
            clock: self.clock,
            counters: Some(&self.counters),
            is_passive: self.is_passive,
        };
        self.exercise.run(&params, &env)
    }
}

impl<E: Exercise> IPoolAccounting for ExerciseObject<E> {
    fn pool_stats(&self) -> Result<PoolStatsEntry, NTSTATUS> {
        Ok(self.counters.snapshot(self.info.pool_type, self.info.tag))
    }
}

kcom::implement_com!(impl<E: Exercise + 'static> ExerciseObject<E>: IAllocatorExercise, IPoolAccounting);
