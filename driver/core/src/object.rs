//! [`ExerciseObject`]: any [`Exercise`] as a kcom object implementing
//! [`IAllocatorExercise`] and [`IPoolAccounting`], with its own pool
//! counters. The registry makes one per registered exercise.

use kcom::{NTSTATUS, STATUS_INVALID_PARAMETER};

use crate::counters::Counters;
use crate::exercises::{Env, Exercise, ExerciseInfo};
use crate::interfaces::{IAllocatorExercise, IPoolAccounting};
use crate::protocol::{ExerciseReport, PoolStatsEntry, RunRequest, StrategyInfo};

/// The COM object behind one registered exercise: the exercise, its own
/// pool counters, and the device's clock and IRQL probe.
pub struct ExerciseObject<E> {
    exercise: E,
    info: ExerciseInfo,
    counters: Counters,
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
            counters: Counters::new(),
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
        Ok(self
            .counters
            .counts()
            .pool_entry(self.info.pool_type, self.info.tag))
    }
}

kcom::implement_com!(
    impl<E: Exercise + 'static> ExerciseObject<E>: crate::interfaces::IAllocatorExercise,
    crate::interfaces::IPoolAccounting
);
