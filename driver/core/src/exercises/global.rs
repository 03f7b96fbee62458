//! `global`: the pattern workload on the global allocator.

use kcom::{GlobalAllocator, NTSTATUS};

use super::{Env, Exercise, ExerciseInfo};
use crate::protocol::{ExerciseParams, ExerciseReport, StrategyId};
use crate::workload::run_tracked;

/// The `global` exercise: the pattern workload on [`kcom::GlobalAllocator`].
///
/// Where that memory comes from depends on the build (in the driver: the
/// kernel pool behind `#[global_allocator]`; on the host: the process heap),
/// so the device tells it which pool type and tag to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalExercise {
    /// Pool type `GET_INFO` and `POOL_STATS` show for this memory.
    pub pool_type: u32,
    /// Pool tag `GET_INFO` and `POOL_STATS` show for this memory.
    pub tag: u32,
}

impl Exercise for GlobalExercise {
    fn info(&self) -> ExerciseInfo {
        ExerciseInfo {
            strategy: StrategyId::Global,
            flags: 0,
            pool_type: self.pool_type,
            tag: self.tag,
            description: "kcom::GlobalAllocator: the global allocator (kernel pool in the driver)",
        }
    }

    fn run(&self, params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
        run_tracked(
            StrategyId::Global,
            GlobalAllocator,
            params,
            env.clock,
            env.counters(),
        )
    }
}

#[cfg(test)]
mod tests {
    use kcom::STATUS_SUCCESS;

    use super::*;
    use crate::counters::Counters;
    use crate::protocol::{RunRequest, pool_type};
    use crate::workload::expected_checksum;

    fn fake_clock() -> u64 {
        42
    }

    #[test]
    fn global_exercise_reports_counts_and_feeds_its_counters() {
        let counters = Counters::new();
        let ex = GlobalExercise {
            pool_type: pool_type::HOST,
            tag: 0x1234,
        };
        let env = Env {
            clock: fake_clock,
            counters: Some(&counters),
            is_passive: || true,
        };
        let p = RunRequest::new(StrategyId::Global, 64, 1, 128, 77)
            .validate()
            .unwrap();
        let r = ex.run(&p, &env).unwrap();
        assert_eq!(r.strategy, StrategyId::Global.as_u32());
        assert_eq!(r.ntstatus, STATUS_SUCCESS);
        assert_eq!(
            (r.allocations.get(), r.frees.get(), r.outstanding.get()),
            (64, 64, 0)
        );
        assert_eq!(r.nanos, 0);
        assert_eq!(r.checksum, expected_checksum(&p));
        assert!((64..=64 * 128).contains(&r.bytes.get()));
        let d = counters.counts();
        assert_eq!(
            (d.allocations, d.frees, d.outstanding, d.live_bytes),
            (64, 64, 0, 0)
        );
        assert_eq!(r.peak_bytes, d.peak_bytes);
        assert_eq!(ex.info().to_wire().name_str(), Some("global"));
    }
}
