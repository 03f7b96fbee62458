//! The exercises: one file per allocator strategy, each a real workload
//! that allocates, writes and verifies a pattern, frees, and reports counts.
//!
//! | strategy | file | allocator | workload |
//! | --- | --- | --- | --- |
//! | `global` | [`global`] | `kcom::GlobalAllocator` | pattern |
//! | `wdk-nonpaged` | [`wdk`] | `WdkAllocator` NonPagedNx | pattern |
//! | `wdk-paged` | [`wdk`] | `WdkAllocator` Paged, PASSIVE_LEVEL only | pattern |
//! | `wdk-aligned` | [`wdk`] | `WdkAllocator` NonPagedNx, alignment ≥ 64 (`wdk-alloc-align`) | pattern |
//! | `bump` | [`region`] | `Bump` over NonPagedNx | batches, `reset` between them |
//! | `pool` | [`region`] | `Pool` of `max_size` blocks | batches |
//! | `free-list` | [`region`] | `FreeList` | batches |
//! | `stack` | [`region`] | `Stack` | batches, freed LIFO |
//! | `kbox` | [`kbox`] | `KBox<Record>` | records |
//! | `init-box` | [`init_box`] | `InitBox`/`pin_init!` | records, plus a failing `PinInit` every 8th |
//! | `com-object` | [`com_object`] | kcom objects with two interfaces | records: create, QI, identity, AddRef/Release |
//! | `async-com` | [`async_com`] | an async COM method, blocks written on a worker | pattern, awaited |
//!
//! Every exercise but `global` allocates from the kernel pool with its own
//! tag ([`tags::for_strategy`]); on the host that is kcom's simulated pool,
//! whose fault injection makes any of these allocations fail. The workloads
//! themselves are in [`crate::workload`]; which checksum each strategy's
//! report carries is [`expected_strategy_checksum`].
//!
//! This module defines what an exercise is ([`Exercise`]) and what the
//! device lends it ([`Env`]); the device registers one object per strategy
//! ([`DeviceState::new`](crate::device::DeviceState::new)).

use kcom::NTSTATUS;
use kcom::alloc::WdkAllocator;

use crate::counters::Counters;
use crate::protocol::{
    ExerciseParams, ExerciseReport, STRATEGY_FLAG_PASSIVE_ONLY, StrategyId, StrategyInfo, pool_type,
};
use crate::tags;
use crate::tracked::Tracked;
use crate::workload::{expected_checksum, expected_record_checksum};

pub mod async_com;
pub mod com_object;
pub mod global;
pub mod init_box;
pub mod kbox;
pub mod region;
pub mod wdk;

pub use self::async_com::AsyncComObject;
pub use self::com_object::ComObjectExercise;
pub use self::global::GlobalExercise;
pub use self::init_box::InitBoxExercise;
pub use self::kbox::KBoxExercise;
pub use self::region::RegionExercise;
pub use self::wdk::WdkExercise;

/// Static description of an exercise, as `GET_INFO` lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExerciseInfo {
    /// The strategy this exercise runs.
    pub strategy: StrategyId,
    /// `STRATEGY_FLAG_*` bits.
    pub flags: u32,
    /// Pool type its memory comes from (`protocol::pool_type`).
    pub pool_type: u32,
    /// Pool tag of its memory.
    pub tag: u32,
    /// One line for humans (truncated to `DESCRIPTION_LEN - 1` bytes on the wire).
    pub description: &'static str,
}

impl ExerciseInfo {
    /// The wire form.
    pub fn to_wire(&self) -> StrategyInfo {
        StrategyInfo::new(
            self.strategy,
            self.flags,
            self.pool_type,
            self.tag,
            self.description,
        )
    }
}

/// What the device lends an exercise for one run.
#[derive(Clone, Copy, Debug)]
pub struct Env<'a> {
    /// Monotonic clock in nanoseconds.
    pub clock: fn() -> u64,
    /// The counters of the exercise's pool and tag (`POOL_STATS`).
    pub counters: Option<&'a Counters>,
    /// True when running at `PASSIVE_LEVEL` (always on the host).
    pub is_passive: fn() -> bool,
}

impl<'a> Env<'a> {
    /// The counters of the exercise's pool and tag.
    pub fn counters(&self) -> Option<&'a Counters> {
        self.counters
    }
}

/// One allocator strategy's exercise, as the dispatcher sees it.
///
/// The device keeps one object per registered strategy and calls it from
/// any number of requests at once (a parallel queue), hence `Send + Sync`.
/// `run` must free everything it allocated before returning, on success and
/// on failure alike, and must not panic on any validated parameters.
pub trait Exercise: Send + Sync {
    /// What the exercise is; must return the same value on every call.
    fn info(&self) -> ExerciseInfo;

    /// Runs the workload with validated parameters (`params.strategy` is
    /// this exercise's strategy).
    fn run(&self, params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS>;
}

/// The checksum a correct run of `params.strategy`'s exercise reports, for
/// any strategy (what clients check a report against).
pub fn expected_strategy_checksum(params: &ExerciseParams) -> u64 {
    match params.strategy {
        StrategyId::KBox | StrategyId::InitBox | StrategyId::ComObject => {
            expected_record_checksum(params)
        }
        StrategyId::Global
        | StrategyId::WdkNonPaged
        | StrategyId::WdkPaged
        | StrategyId::WdkAligned
        | StrategyId::Bump
        | StrategyId::Pool
        | StrategyId::FreeList
        | StrategyId::Stack
        | StrategyId::AsyncCom => expected_checksum(params),
    }
}

/// The description of `strategy`'s exercise on the kernel pool `pool` with
/// the strategy's own tag (`wdk-paged`'s flag says PASSIVE_LEVEL only).
fn pool_info(strategy: StrategyId, pool: u32, description: &'static str) -> ExerciseInfo {
    ExerciseInfo {
        strategy,
        flags: if pool == pool_type::PAGED {
            STRATEGY_FLAG_PASSIVE_ONLY
        } else {
            0
        },
        pool_type: pool,
        tag: tags::for_strategy(strategy),
        description,
    }
}

/// The non-paged pool allocator with `strategy`'s tag.
fn non_paged(strategy: StrategyId) -> WdkAllocator {
    WdkAllocator::non_paged(tags::for_strategy(strategy))
}

/// The report of a record exercise that started at `start` (device clock).
fn record_report(
    strategy: StrategyId,
    tracked: &Tracked<'_, WdkAllocator>,
    start: u64,
    env: &Env<'_>,
    checksum: u64,
) -> ExerciseReport {
    let nanos = (env.clock)().saturating_sub(start);
    tracked.counts().report(strategy, nanos, checksum)
}

#[cfg(test)]
mod tests {
    use super::StrategyId;

    /// The module docs' table (written by hand: it names files and
    /// workloads) lists every strategy once, in wire order.
    #[test]
    fn the_docs_table_lists_every_strategy_in_wire_order() {
        let mut rows = include_str!("mod.rs")
            .lines()
            .filter_map(|line| line.strip_prefix("//! | `"))
            .filter_map(|row| row.split_once('`').map(|(name, _)| name));
        for s in StrategyId::ALL {
            assert_eq!(rows.next(), Some(s.name()), "the table's row for {s:?}");
        }
        assert_eq!(
            rows.next(),
            None,
            "a row for a strategy StrategyId does not have"
        );
    }
}
