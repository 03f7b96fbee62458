//! The exercises of every strategy beyond `global`, each a real workload
//! that allocates, writes and verifies a pattern, frees, and reports counts.
//!
//! | strategy | allocator | workload |
//! | --- | --- | --- |
//! | `wdk-nonpaged` | `WdkAllocator` NonPagedNx | the pattern workload (FIFO) |
//! | `wdk-paged` | `WdkAllocator` Paged, PASSIVE_LEVEL only | the pattern workload |
//! | `wdk-aligned` | `WdkAllocator` NonPagedNx, alignment ≥ 64 (`wdk-alloc-align`) | the pattern workload |
//! | `bump` | `Bump` over NonPagedNx | batches, `reset` between them |
//! | `pool` | `Pool` of `max_size` blocks | batches |
//! | `free-list` | `FreeList` | batches |
//! | `stack` | `Stack` | batches, freed LIFO |
//! | `kbox` | `KBox<Record>` | 64-byte records, FIFO |
//! | `init-box` | `InitBox`/`pin_init!` | records, plus a failing `PinInit` every 8th |
//! | `com-object` | kcom objects with two interfaces | create, QI, identity, AddRef/Release |
//!
//! Every exercise allocates from the kernel pool with its own tag
//! ([`tags::for_strategy`]); on the host that is kcom's simulated pool,
//! whose fault injection makes any of these allocations fail.
//!
//! The pattern and batch workloads produce the checksum
//! [`expected_checksum`](crate::exercise::expected_checksum) predicts; the
//! record workloads (`kbox`, `init-box`, `com-object`) ignore the size range
//! and produce [`expected_record_checksum`].

use core::alloc::Layout;
use core::cell::Cell;

use kcom::alloc::{Bump, FreeList, InitBox, KBox, Pool, PoolType, Stack, WdkAllocator};
use kcom::{
    ComClass, ComRc, GUID, IUnknown, IUnknownInterface, NTSTATUS, STATUS_DATA_ERROR,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_INTERNAL_ERROR, STATUS_INVALID_DEVICE_STATE,
    STATUS_UNSUCCESSFUL, declare_com_interface, implement_com,
};

use crate::exercise::{
    Env, Exercise, ExerciseInfo, FOLD_BASIS, Tracked, fold, fold_block, pattern_word, run_batched,
    run_tracked,
};
use crate::protocol::{
    ExerciseParams, ExerciseReport, MAX_LIVE_BLOCKS, MAX_LIVE_BYTES, STRATEGY_FLAG_PASSIVE_ONLY,
    StrategyId, pool_type,
};
use crate::state::DeviceState;
use crate::tags;

/// Registers an object for every strategy of this module.
pub fn register_all(state: &mut DeviceState) -> Result<(), NTSTATUS> {
    state.register(WdkExercise(StrategyId::WdkNonPaged))?;
    state.register(WdkExercise(StrategyId::WdkPaged))?;
    state.register(WdkExercise(StrategyId::WdkAligned))?;
    state.register(RegionExercise(StrategyId::Bump))?;
    state.register(RegionExercise(StrategyId::Pool))?;
    state.register(RegionExercise(StrategyId::FreeList))?;
    state.register(RegionExercise(StrategyId::Stack))?;
    state.register(KBoxExercise)?;
    state.register(InitBoxExercise)?;
    state.register(ComObjectExercise)
}

/// The non-paged pool allocator with `strategy`'s tag.
fn non_paged(strategy: StrategyId) -> WdkAllocator {
    WdkAllocator::non_paged(tags::for_strategy(strategy))
}

fn info(strategy: StrategyId, pool: u32, description: &'static str) -> ExerciseInfo {
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

// ---------------------------------------------------------------------------
// WdkAllocator: non-paged, paged, over-aligned
// ---------------------------------------------------------------------------

/// `wdk-nonpaged`, `wdk-paged` or `wdk-aligned`: the pattern workload
/// straight on the kernel pool.
#[derive(Clone, Copy, Debug)]
pub struct WdkExercise(pub StrategyId);

/// Alignment of the `wdk-aligned` exercise's blocks (at least; a larger
/// requested alignment is kept).
pub const WDK_ALIGNED_MIN_ALIGN: u32 = 64;

impl Exercise for WdkExercise {
    fn info(&self) -> ExerciseInfo {
        match self.0 {
            StrategyId::WdkPaged => info(self.0, pool_type::PAGED, "WdkAllocator, PagedPool"),
            StrategyId::WdkAligned => info(
                self.0,
                pool_type::NON_PAGED_NX,
                "WdkAllocator, NonPagedPoolNx, alignment >= 64 (wdk-alloc-align header)",
            ),
            _ => info(
                StrategyId::WdkNonPaged,
                pool_type::NON_PAGED_NX,
                "WdkAllocator, NonPagedPoolNx (ExAllocatePool2, or the fallback)",
            ),
        }
    }

    fn run(&self, params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
        let strategy = self.info().strategy;
        let (pool, params) = match strategy {
            StrategyId::WdkPaged => {
                if !(env.is_passive)() {
                    return Err(STATUS_INVALID_DEVICE_STATE);
                }
                (PoolType::Paged, *params)
            }
            StrategyId::WdkAligned => (
                PoolType::NonPagedNx,
                ExerciseParams {
                    align: params.align.max(WDK_ALIGNED_MIN_ALIGN),
                    ..*params
                },
            ),
            _ => (PoolType::NonPagedNx, *params),
        };
        let alloc = WdkAllocator::new(pool, tags::for_strategy(strategy));
        run_tracked(strategy, alloc, &params, env.clock, env.counters())
    }
}

// ---------------------------------------------------------------------------
// Region strategies: bump, pool, free list, stack
// ---------------------------------------------------------------------------

/// `bump`, `pool`, `free-list` or `stack`: the batch workload on a strategy
/// whose region comes from the non-paged pool and is returned when the run
/// ends.
#[derive(Clone, Copy, Debug)]
pub struct RegionExercise(pub StrategyId);

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
        let description = match self.0 {
            StrategyId::Bump => "Bump over NonPagedPoolNx: linear allocation, reset per batch",
            StrategyId::Pool => "Pool: fixed blocks of max_size, O(1) intrusive free list",
            StrategyId::Stack => "Stack: LIFO allocation, each block freed by pop",
            _ => "FreeList: first fit, splitting, coalescing with boundary tags",
        };
        info(self.0, pool_type::NON_PAGED_NX, description)
    }

    fn run(&self, params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
        let backing = non_paged(self.0);
        let (clock, counters) = (env.clock, env.counters());
        match self.0 {
            StrategyId::Bump => {
                let mut bump = Bump::with_capacity_in(region_capacity(params, 0), backing)?;
                run_batched(self.0, &mut bump, params, clock, counters, |b| b.reset())
            }
            StrategyId::Pool => {
                let block =
                    Layout::from_size_align(params.max_size as usize, params.align as usize)
                        .map_err(|_| STATUS_DATA_ERROR)?;
                let blocks =
                    (MAX_LIVE_BYTES as usize / block.size()).clamp(1, MAX_LIVE_BLOCKS as usize);
                let mut pool = Pool::with_layout_in(block, blocks, backing)?;
                run_batched(self.0, &mut pool, params, clock, counters, |_| {})
            }
            StrategyId::Stack => {
                let mut stack = Stack::with_capacity_in(region_capacity(params, 32), backing)?;
                run_batched(self.0, &mut stack, params, clock, counters, |_| {})
            }
            _ => {
                let mut list = FreeList::with_capacity_in(region_capacity(params, 64), backing)?;
                run_batched(
                    StrategyId::FreeList,
                    &mut list,
                    params,
                    clock,
                    counters,
                    |_| {},
                )
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Records: kbox, init-box, com-object
// ---------------------------------------------------------------------------

const RECORD_WORDS: usize = 7;

/// The value the record workloads box, initialise in place or wrap in COM
/// objects: 64 bytes derived from the seed and the index.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The iteration that made it.
    pub index: u32,
    /// Pattern words.
    pub words: [u64; RECORD_WORDS],
}

impl Record {
    /// The record of iteration `index`.
    pub fn new(seed: u64, index: u32) -> Self {
        let mut words = [0; RECORD_WORDS];
        for (chunk, w) in words.iter_mut().enumerate() {
            *w = pattern_word(seed, index, chunk);
        }
        Record { index, words }
    }

    fn digest(&self) -> u64 {
        self.words.iter().fold(FOLD_BASIS, |h, &w| fold(h, w))
    }

    /// Checks the record against the one iteration `index` makes and folds
    /// it into `checksum`.
    fn verify_into(&self, seed: u64, index: u32, checksum: &mut u64) -> Result<(), NTSTATUS> {
        if *self != Record::new(seed, index) {
            return Err(STATUS_DATA_ERROR);
        }
        *checksum = fold_block(*checksum, index, size_of::<Record>(), self.digest());
        Ok(())
    }
}

/// The checksum the record workloads report for `params`.
pub fn expected_record_checksum(params: &ExerciseParams) -> u64 {
    (0..params.iterations).fold(FOLD_BASIS, |c, i| {
        fold_block(
            c,
            i,
            size_of::<Record>(),
            Record::new(params.seed, i).digest(),
        )
    })
}

/// The checksum a correct run of `params.strategy`'s exercise reports, for
/// any strategy (what clients check a report against).
pub fn expected_strategy_checksum(params: &ExerciseParams) -> u64 {
    match params.strategy {
        StrategyId::KBox | StrategyId::InitBox | StrategyId::ComObject => {
            expected_record_checksum(params)
        }
        _ => crate::exercise::expected_checksum(params),
    }
}

/// Keeps up to [`MAX_LIVE_BLOCKS`] objects alive, oldest retired first
/// (verified, folded, dropped); returns the checksum. Objects still alive
/// on an error are dropped with the ring.
fn record_workload<T>(
    params: &ExerciseParams,
    mut make: impl FnMut(u32) -> Result<T, NTSTATUS>,
    mut retire: impl FnMut(T, &mut u64) -> Result<(), NTSTATUS>,
) -> Result<u64, NTSTATUS> {
    let mut ring: [Option<T>; MAX_LIVE_BLOCKS as usize] =
        [const { None }; MAX_LIVE_BLOCKS as usize];
    let mut checksum = FOLD_BASIS;
    for index in 0..params.iterations {
        let slot = index as usize % ring.len();
        if let Some(old) = ring[slot].take() {
            retire(old, &mut checksum)?;
        }
        ring[slot] = Some(make(index)?);
    }
    // The oldest live object sits right after the last one written.
    let start = params.iterations as usize % ring.len();
    for i in 0..ring.len() {
        if let Some(old) = ring[(start + i) % ring.len()].take() {
            retire(old, &mut checksum)?;
        }
    }
    Ok(checksum)
}

fn report(
    strategy: StrategyId,
    tracked: &Tracked<'_, WdkAllocator>,
    start: u64,
    env: &Env<'_>,
    checksum: u64,
) -> ExerciseReport {
    let nanos = (env.clock)().saturating_sub(start);
    tracked.stats().report(strategy, nanos, checksum)
}

/// `kbox`: records in `KBox`es whose allocator lives inside the box.
#[derive(Clone, Copy, Debug)]
pub struct KBoxExercise;

impl Exercise for KBoxExercise {
    fn info(&self) -> ExerciseInfo {
        info(
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
        Ok(report(StrategyId::KBox, &tracked, start, env, checksum))
    }
}

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
        info(
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
                    let live = tracked.stats().outstanding;
                    let drops = &drops;
                    let failing = kcom::pin_init!(HalfBuilt {
                        record: Record::new(seed, i),
                        drops: drops,
                        never: Err(STATUS_UNSUCCESSFUL)?,
                    }? NTSTATUS);
                    let r = InitBox::<HalfBuilt<'_>>::try_pin_init_in(failing, &tracked);
                    // The memory must be back and `Drop` must not have run,
                    // whether the initialiser failed or its allocation did.
                    let clean = drops.get() == 0 && tracked.stats().outstanding == live;
                    match r {
                        Err(STATUS_UNSUCCESSFUL) if clean => {}
                        Err(STATUS_INSUFFICIENT_RESOURCES) if clean => {
                            return Err(STATUS_INSUFFICIENT_RESOURCES);
                        }
                        _ => return Err(STATUS_INTERNAL_ERROR),
                    }
                }
                let words = Record::new(seed, i).words;
                InitBox::<Record>::try_pin_init_in(
                    kcom::pin_init!(Record { index: i, words: words }? NTSTATUS),
                    &tracked,
                )
            },
            |b, c| b.verify_into(seed, b.index, c),
        )?;
        Ok(report(StrategyId::InitBox, &tracked, start, env, checksum))
    }
}

declare_com_interface! {
    /// The record a probe object carries.
    pub trait IProbe: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("c0a1e5e7-4d1b-4c8e-9f4a-2b6d8e0f1a41");
        /// The record's digest.
        fn digest(&self) -> Result<u64, NTSTATUS>;
        /// The whole record.
        fn record(&self) -> Result<Record, NTSTATUS>;
    }
}

declare_com_interface! {
    /// A second interface of probe objects.
    pub trait IProbeIndex: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("c0a1e5e7-4d1b-4c8e-9f4a-2b6d8e0f1a42");
        /// The iteration that made the probe.
        fn index(&self) -> Result<u32, NTSTATUS>;
    }
}

/// The objects the `com-object` exercise makes.
struct Probe(Record);

impl IProbe for Probe {
    fn digest(&self) -> Result<u64, NTSTATUS> {
        Ok(self.0.digest())
    }
    fn record(&self) -> Result<Record, NTSTATUS> {
        Ok(self.0)
    }
}

impl IProbeIndex for Probe {
    fn index(&self) -> Result<u32, NTSTATUS> {
        Ok(self.0.index)
    }
}

implement_com!(Probe: IProbe, IProbeIndex);

/// Checks one probe the way a COM client would: both interfaces answer,
/// `IUnknown` is the same pointer from either (identity), and a clone
/// (`AddRef`) and its drop (`Release`) leave it alive.
fn check_probe(probe: &ComRc<IProbeInterface>, index: u32) -> Result<(), NTSTATUS> {
    let second = probe.query_interface::<IProbeIndexInterface>()?;
    if second.as_raw() == probe.as_raw() || second.index()? != index {
        return Err(STATUS_DATA_ERROR);
    }
    let u1: ComRc<IUnknownInterface> = probe.query_interface()?;
    let u2: ComRc<IUnknownInterface> = second.query_interface()?;
    let back: ComRc<IProbeInterface> = second.query_interface()?;
    if u1.as_raw() != u2.as_raw() || back.as_raw() != probe.as_raw() {
        return Err(STATUS_DATA_ERROR);
    }
    let extra = probe.clone();
    if extra.as_raw() != probe.as_raw() {
        return Err(STATUS_DATA_ERROR);
    }
    Ok(())
}

/// `com-object`: kcom objects with two interfaces, made in a custom
/// allocator (the tracked non-paged pool), queried, checked and released.
#[derive(Clone, Copy, Debug)]
pub struct ComObjectExercise;

impl Exercise for ComObjectExercise {
    fn info(&self) -> ExerciseInfo {
        info(
            StrategyId::ComObject,
            pool_type::NON_PAGED_NX,
            "kcom objects: 2 interfaces, QueryInterface, identity, AddRef/Release, own allocator",
        )
    }

    fn run(&self, params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
        let tracked = Tracked::new(non_paged(StrategyId::ComObject), env.counters());
        let start = (env.clock)();
        let seed = params.seed;
        let checksum = record_workload(
            params,
            |i| {
                // SAFETY: every reference to the object lives in the ring of
                // `record_workload` or in locals of this closure or of
                // `retire`, all dropped before `tracked` (declared earlier in
                // this function), on this thread.
                let probe = unsafe {
                    Probe::try_create_in_unchecked(Probe(Record::new(seed, i)), &tracked)
                }?;
                check_probe(&probe, i)?;
                Ok(probe)
            },
            |probe, c| {
                let record = probe.record()?;
                if probe.digest()? != record.digest() {
                    return Err(STATUS_DATA_ERROR);
                }
                record.verify_into(seed, record.index, c)
            },
        )?;
        Ok(report(
            StrategyId::ComObject,
            &tracked,
            start,
            env,
            checksum,
        ))
    }
}
