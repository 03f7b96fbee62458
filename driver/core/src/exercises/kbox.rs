//! `kbox`: records in `KBox`es whose allocator lives inside the box.

use kcom::alloc::KBox;
use kcom::{NTSTATUS, STATUS_INSUFFICIENT_RESOURCES};

use super::{Env, Exercise, ExerciseInfo, non_paged, pool_info, record_report};
use crate::protocol::{ExerciseParams, ExerciseReport, StrategyId, pool_type};
use crate::tracked::Tracked;
use crate::workload::{Record, record_workload};

/// `kbox`: records in `KBox`es whose allocator lives inside the box.
#[derive(Clone, Copy, Debug)]
pub struct KBoxExercise;

impl Exercise for KBoxExercise {
    fn info(&self) -> ExerciseInfo {
        pool_info(
            StrategyId::KBox,
            pool_type::NON_PAGED_NX,
            "KBox<Record>: the allocator travels inside the box (64-byte records)",
        )
    }

    fn run(&self, params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
        let tracked = Tracked::new(non_paged(StrategyId::KBox), env.counters());
        let start = (env.clock)();
        let seed = params.seed;
        let checksum = record_workload(
            params,
            |i| {
                KBox::try_new_in(Record::new(seed, i), &tracked)
                    .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)
            },
            |b, c| b.verify_into(seed, b.index, c),
        )?;
        Ok(record_report(
            StrategyId::KBox,
            &tracked,
            start,
            env,
            checksum,
        ))
    }
}
