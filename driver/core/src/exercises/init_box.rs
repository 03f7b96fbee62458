//! `init-box`: records initialised in place by `pin_init!`, and a failing
//! initialiser every 8th iteration whose memory must come back without its
//! value's `Drop` running.

use core::cell::Cell;

use kcom::alloc::InitBox;
use kcom::{NTSTATUS, STATUS_INSUFFICIENT_RESOURCES, STATUS_INTERNAL_ERROR, STATUS_UNSUCCESSFUL};

use super::{Env, Exercise, ExerciseInfo, non_paged, pool_info, record_report};
use crate::protocol::{ExerciseParams, ExerciseReport, StrategyId, pool_type};
use crate::tracked::Tracked;
use crate::workload::{Record, record_workload};

/// A value whose initialisation fails halfway; its `Drop` must never run.
struct HalfBuilt<'a> {
    // Written by the initialiser and never read: the value never completes.
    #[allow(dead_code)]
    record: Record,
    drops: &'a Cell<u32>,
    #[allow(dead_code)]
    never: u32,
}

impl Drop for HalfBuilt<'_> {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

/// `init-box`: records initialised in place by `pin_init!`; every 8th
/// iteration also runs an initialiser that fails after writing a field, and
/// checks that its memory was returned and the value's `Drop` never ran.
#[derive(Clone, Copy, Debug)]
pub struct InitBoxExercise;

impl Exercise for InitBoxExercise {
    fn info(&self) -> ExerciseInfo {
        pool_info(
            StrategyId::InitBox,
            pool_type::NON_PAGED_NX,
            "InitBox + pin_init!: in-place init; a failing PinInit frees without Drop",
        )
    }

    fn run(&self, params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
        let tracked = Tracked::new(non_paged(StrategyId::InitBox), env.counters());
        let start = (env.clock)();
        let seed = params.seed;
        let drops = Cell::new(0u32);
        let checksum = record_workload(
            params,
            |i| {
                if i % 8 == 7 {
                    let live = tracked.counts().outstanding;
                    let drops = &drops;
                    let failing = kcom::pin_init!(HalfBuilt {
                        record: Record::new(seed, i),
                        drops: drops,
                        never: Err(STATUS_UNSUCCESSFUL)?,
                    }? NTSTATUS);
                    let r = InitBox::<HalfBuilt<'_>>::try_init_in(failing, &tracked);
                    // The memory must be back and `Drop` must not have run,
                    // whether the initialiser failed or its allocation did.
                    let clean = drops.get() == 0 && tracked.counts().outstanding == live;
                    match r {
                        Err(STATUS_UNSUCCESSFUL) if clean => {}
                        Err(STATUS_INSUFFICIENT_RESOURCES) if clean => {
                            return Err(STATUS_INSUFFICIENT_RESOURCES);
                        }
                        _ => return Err(STATUS_INTERNAL_ERROR),
                    }
                }
                let words = Record::new(seed, i).words;
                InitBox::<Record>::try_init_in(
                    kcom::pin_init!(Record { index: i, words: words }? NTSTATUS),
                    &tracked,
                )
            },
            |b, c| b.verify_into(seed, b.index, c),
        )?;
        Ok(record_report(
            StrategyId::InitBox,
            &tracked,
            start,
            env,
            checksum,
        ))
    }
}
