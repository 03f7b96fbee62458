//! The device: what one driver device holds (its [`Registry`] of exercise
//! objects and its [`DeviceConfig`]) and how it answers each request once
//! the dispatcher has decoded it: `GET_INFO` ([`DeviceState::encode_info`]),
//! `RUN_EXERCISE` ([`DeviceState::run`]) and `POOL_STATS`
//! ([`DeviceState::pool_stats`]). The driver keeps one [`DeviceState`] in
//! its device context; the host tests and the loopback client keep one on
//! the stack.
//!
//! A request reaches an exercise by `QueryInterface` for
//! [`IAllocatorExercise`](crate::interfaces::IAllocatorExercise) (or
//! [`IAsyncRunner`](crate::interfaces::IAsyncRunner)) on the registered
//! object and a call through its vtable; `POOL_STATS` by `QueryInterface`
//! for [`IPoolAccounting`](crate::interfaces::IPoolAccounting).
//!
//! # Adding exercises
//!
//! Implement [`Exercise`] in a file of [`crate::exercises`] (typically with
//! [`run_tracked`](crate::workload::run_tracked) or
//! [`run_batched`](crate::workload::run_batched) over the strategy's
//! allocator) and register it in `register_builtin` below, or at run time
//! with [`DeviceState::register_in`].

use core::mem::MaybeUninit;
use core::ptr;

use kcom::{Allocator, ComClass, NTSTATUS, STATUS_NOT_SUPPORTED};

use crate::config::DeviceConfig;
use crate::exercises::{
    AsyncComObject, ComObjectExercise, Exercise, GlobalExercise, InitBoxExercise, KBoxExercise,
    RegionExercise, WdkExercise,
};
use crate::interfaces::IAsyncRunnerInterface;
use crate::protocol::{
    ExerciseParams, ExerciseReport, InfoResponse, MAX_POOL_ENTRIES, PoolStatsResponse, StrategyId,
};
use crate::registry::{DEVICE_ALLOCATOR, Registry};

/// Everything one device needs to serve requests. `Sync`: the dispatcher
/// takes `&DeviceState` from any number of threads at once.
///
/// Dropping it releases every registered object.
#[derive(Debug)]
pub struct DeviceState {
    registry: Registry,
    config: DeviceConfig,
}

impl DeviceState {
    /// Builds a device with an object for every strategy this core
    /// implements (see [`StrategyId::ALL`]), each in [`DEVICE_ALLOCATOR`].
    ///
    /// Errors: `STATUS_INSUFFICIENT_RESOURCES` if an object cannot be
    /// allocated; whatever was created is released again.
    pub fn new(config: DeviceConfig) -> Result<Self, NTSTATUS> {
        let mut state = Self::empty(config);
        state.register_builtin()?;
        Ok(state)
    }

    /// Like [`new`](Self::new), but builds the state directly in `slot` (for
    /// example a WDF object context), so it never sits on a kernel stack.
    ///
    /// On error `slot` is left uninitialised (everything created was
    /// released).
    pub fn init_in(
        slot: &mut MaybeUninit<DeviceState>,
        config: DeviceConfig,
    ) -> Result<&mut DeviceState, NTSTATUS> {
        let p = slot.as_mut_ptr();
        // SAFETY: `p` is valid for writes of a `DeviceState`; each field is
        // written once, in place, so no whole-state temporary is needed.
        unsafe {
            (&raw mut (*p).registry).write(Registry::new());
            (&raw mut (*p).config).write(config);
        }
        // SAFETY: every field was initialised above.
        let state = unsafe { slot.assume_init_mut() };
        if let Err(status) = state.register_builtin() {
            // SAFETY: `state` is initialised and not used again; the caller
            // sees an error and treats `slot` as uninitialised.
            unsafe { ptr::drop_in_place(state) };
            return Err(status);
        }
        Ok(state)
    }

    /// Registers an object for every strategy, in wire order (the order
    /// `GET_INFO` and `POOL_STATS` list them). `async-com` needs
    /// [`DeviceConfig::defer`] and is left out without it.
    fn register_builtin(&mut self) -> Result<(), NTSTATUS> {
        self.register(GlobalExercise {
            pool_type: self.config.global_pool_type,
            tag: self.config.global_tag,
        })?;
        for wdk in [
            WdkExercise::NonPaged,
            WdkExercise::Paged,
            WdkExercise::Aligned,
        ] {
            self.register(wdk)?;
        }
        for region in [
            RegionExercise::Bump,
            RegionExercise::Pool,
            RegionExercise::FreeList,
            RegionExercise::Stack,
        ] {
            self.register(region)?;
        }
        self.register(KBoxExercise)?;
        self.register(InitBoxExercise)?;
        self.register(ComObjectExercise)?;
        if let Some(defer) = self.config.defer {
            let object = AsyncComObject::try_create_in(
                AsyncComObject::new(self.config.clock, defer),
                DEVICE_ALLOCATOR,
            )?;
            self.registry
                .register_object(StrategyId::AsyncCom, object.query_interface()?)?;
        }
        Ok(())
    }

    /// A device with no exercise registered.
    pub const fn empty(config: DeviceConfig) -> Self {
        DeviceState {
            registry: Registry::new(),
            config,
        }
    }

    /// Registers `exercise` as a COM object in memory from `alloc` (see
    /// [`Registry::register_in`]).
    pub fn register_in<E, A>(&mut self, exercise: E, alloc: A) -> Result<(), NTSTATUS>
    where
        E: Exercise + 'static,
        A: Allocator + Send + 'static,
    {
        let (clock, is_passive) = (self.config.clock, self.config.is_passive);
        self.registry
            .register_in(exercise, alloc, clock, is_passive)
    }

    /// Registers `exercise` as a COM object in [`DEVICE_ALLOCATOR`].
    pub fn register<E: Exercise + 'static>(&mut self, exercise: E) -> Result<(), NTSTATUS> {
        self.register_in(exercise, DEVICE_ALLOCATOR)
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Mutable access to the registry (to unregister objects).
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// The configuration the device was built with.
    pub fn config(&self) -> &DeviceConfig {
        &self.config
    }

    /// Encodes the `GET_INFO` answer into `out`; returns the byte count.
    pub fn encode_info(&self, out: &mut [u8]) -> Result<usize, NTSTATUS> {
        InfoResponse::encode(self.registry.iter().filter_map(|x| x.describe().ok()), out)
    }

    /// The `POOL_STATS` answer: each object's entry (through
    /// `IPoolAccounting`), then the external ones.
    pub fn pool_stats(&self) -> PoolStatsResponse {
        let mut stats = PoolStatsResponse::empty();
        let mut n = 0;
        for strategy in self.registry.strategies() {
            if n == stats.entries.len() {
                break;
            }
            if let Some(entry) = self
                .registry
                .accounting(strategy)
                .and_then(|a| a.pool_stats().ok())
            {
                stats.entries[n] = entry;
                n += 1;
            }
        }
        if let Some(external) = self.config.external_pool_stats {
            let rest = &mut stats.entries[n..];
            let room = rest.len();
            n += external(rest).min(room);
        }
        stats.entry_count = (n.min(MAX_POOL_ENTRIES) as u32).into();
        stats
    }

    /// Allocations the exercises hold right now, summed over every object
    /// (0 between requests unless an exercise leaks).
    pub fn outstanding_allocations(&self) -> u64 {
        self.registry
            .strategies()
            .filter_map(|s| self.registry.accounting(s))
            .filter_map(|a| a.pool_stats().ok())
            .map(|e| e.outstanding_allocations.get())
            .sum()
    }

    /// Runs the exercise for `params.strategy` through its object's
    /// `IAllocatorExercise::run`.
    ///
    /// `STATUS_NOT_SUPPORTED` if no object is registered for it; otherwise
    /// the exercise's result.
    ///
    /// An object that also implements `IAsyncRunner` (found by
    /// `QueryInterface`) is run through its async method instead; its shim
    /// blocks this thread until the method's future completes.
    pub fn run(&self, params: &ExerciseParams) -> Result<ExerciseReport, NTSTATUS> {
        let exercise = self
            .registry
            .get(params.strategy)
            .ok_or(STATUS_NOT_SUPPORTED)?;
        match exercise.query_interface::<IAsyncRunnerInterface>() {
            Ok(runner) => runner.run_async(params.to_request()),
            Err(_) => exercise.run(params.to_request()),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use core::alloc::Layout;
    use core::cell::Cell;
    use core::sync::atomic::{AtomicUsize, Ordering};

    use kcom::{GlobalAllocator, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER};

    use super::*;
    use crate::exercises::{Env, ExerciseInfo};
    use crate::protocol::{PoolStatsEntry, pool_type};
    use crate::tags;

    fn clock() -> u64 {
        0
    }

    const CONFIG: DeviceConfig = DeviceConfig::new(clock);

    /// An exercise that counts its drops in the given counter.
    struct Counted(StrategyId, &'static AtomicUsize);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Exercise for Counted {
        fn info(&self) -> ExerciseInfo {
            ExerciseInfo {
                strategy: self.0,
                flags: 0,
                pool_type: pool_type::PAGED,
                tag: 5,
                description: "t",
            }
        }
        fn run(&self, _: &ExerciseParams, _: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
            Err(STATUS_NOT_SUPPORTED)
        }
    }

    /// Fails every allocation.
    #[derive(Clone, Copy)]
    struct NoMemory;
    // SAFETY: never hands out memory.
    unsafe impl Allocator for NoMemory {
        unsafe fn alloc(&self, _: Layout) -> *mut u8 {
            ptr::null_mut()
        }
        unsafe fn dealloc(&self, _: *mut u8, _: Layout) {
            unreachable!("nothing was allocated")
        }
    }

    /// Counts live blocks (thread-local counts are enough for one test).
    struct Counting<'a>(&'a AtomicUsize);
    // SAFETY: forwards to `GlobalAllocator`.
    unsafe impl Allocator for Counting<'_> {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            self.0.fetch_add(1, Ordering::SeqCst);
            // SAFETY: forwarded contract.
            unsafe { GlobalAllocator.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            self.0.fetch_sub(1, Ordering::SeqCst);
            // SAFETY: forwarded contract.
            unsafe { GlobalAllocator.dealloc(ptr, layout) }
        }
    }

    #[test]
    fn registry_owns_drops_and_frees_its_objects() {
        static LIVE: AtomicUsize = AtomicUsize::new(0);
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        {
            let mut state = DeviceState::empty(CONFIG);
            state
                .register(GlobalExercise {
                    pool_type: pool_type::HOST,
                    tag: GlobalAllocator::TAG,
                })
                .unwrap();
            state
                .register_in(Counted(StrategyId::Bump, &DROPS), Counting(&LIVE))
                .unwrap();
            state
                .register_in(Counted(StrategyId::Pool, &DROPS), Counting(&LIVE))
                .unwrap();
            assert_eq!(LIVE.load(Ordering::SeqCst), 2);
            assert_eq!(state.registry().len(), 3);
            let mut buf = [0u8; InfoResponse::SIZE];
            state.encode_info(&mut buf).unwrap();
            assert_eq!(InfoResponse::decode(&buf).unwrap().header.strategy_count, 3);
            // Duplicate strategy: refused, value dropped, nothing allocated.
            assert_eq!(
                state.register_in(Counted(StrategyId::Bump, &DROPS), Counting(&LIVE)),
                Err(STATUS_INVALID_PARAMETER)
            );
            assert_eq!(LIVE.load(Ordering::SeqCst), 2);
            // Allocation failure: refused, value dropped.
            assert_eq!(
                state.register_in(Counted(StrategyId::Stack, &DROPS), NoMemory),
                Err(STATUS_INSUFFICIENT_RESOURCES)
            );
            assert!(state.registry().get(StrategyId::Stack).is_none());
            assert_eq!(
                state
                    .registry()
                    .get(StrategyId::Pool)
                    .unwrap()
                    .describe()
                    .unwrap()
                    .strategy(),
                Some(StrategyId::Pool)
            );
            assert_eq!(DROPS.load(Ordering::SeqCst), 2);
        }
        assert_eq!(LIVE.load(Ordering::SeqCst), 0);
        assert_eq!(DROPS.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn registry_holds_each_strategy_once_and_unregisters() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let passive = || true;
        let mut reg = Registry::new();
        for s in StrategyId::ALL {
            reg.register_in(Counted(s, &DROPS), GlobalAllocator, clock, passive)
                .unwrap();
        }
        assert_eq!(reg.len(), StrategyId::ALL.len());
        assert_eq!(
            reg.register_in(
                Counted(StrategyId::Global, &DROPS),
                GlobalAllocator,
                clock,
                passive
            ),
            Err(STATUS_INVALID_PARAMETER)
        );
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
        assert!(reg.unregister(StrategyId::Stack));
        assert!(!reg.unregister(StrategyId::Stack));
        assert_eq!(DROPS.load(Ordering::SeqCst), 2);
        assert!(reg.get(StrategyId::Stack).is_none());
        reg.register_in(
            Counted(StrategyId::Stack, &DROPS),
            GlobalAllocator,
            clock,
            passive,
        )
        .unwrap();
        drop(reg);
        assert_eq!(DROPS.load(Ordering::SeqCst), 2 + StrategyId::ALL.len());
    }

    #[test]
    fn init_in_builds_in_place_and_drops_cleanly() {
        let mut slot = MaybeUninit::<DeviceState>::uninit();
        let state = DeviceState::init_in(&mut slot, CONFIG).unwrap();
        assert!(state.registry().get(StrategyId::Global).is_some());
        // SAFETY: initialised by `init_in` above and dropped once.
        unsafe { slot.assume_init_drop() };
    }

    #[test]
    fn unregistered_strategy_is_not_supported() {
        let mut state = DeviceState::new(CONFIG).unwrap();
        assert!(state.registry_mut().unregister(StrategyId::FreeList));
        let p = crate::protocol::RunRequest::new(StrategyId::FreeList, 1, 1, 1, 0)
            .validate()
            .unwrap();
        assert_eq!(state.run(&p), Err(STATUS_NOT_SUPPORTED));
    }

    #[test]
    fn pool_stats_appends_external_entries_within_capacity() {
        std::thread_local! { static CALLED: Cell<usize> = const { Cell::new(0) }; }
        fn external(out: &mut [PoolStatsEntry]) -> usize {
            CALLED.with(|c| c.set(out.len()));
            for (i, e) in out.iter_mut().enumerate() {
                e.pool_type = pool_type::NON_PAGED_NX.into();
                e.tag = (i as u32).into();
            }
            usize::MAX // claims more than it may: clamped
        }
        let state = DeviceState::new(DeviceConfig {
            external_pool_stats: Some(external),
            ..CONFIG
        })
        .unwrap();
        let stats = state.pool_stats();
        let objects = state.registry().len();
        assert_eq!(
            objects,
            StrategyId::ALL.len() - 1,
            "async-com needs `defer`"
        );
        assert_eq!(CALLED.with(|c| c.get()), MAX_POOL_ENTRIES - objects);
        assert_eq!(stats.entry_count.get() as usize, MAX_POOL_ENTRIES);
        assert_eq!(stats.entries[0].tag, GlobalAllocator::TAG);
        assert_eq!(
            stats.entries[1].tag,
            tags::for_strategy(StrategyId::WdkNonPaged)
        );
        assert_eq!(stats.entries[objects].pool_type, pool_type::NON_PAGED_NX);
    }
}
