//! The per-device state: the registry of exercise objects and the
//! configuration. The driver keeps one [`DeviceState`] in its device
//! context; the host tests and the loopback client keep one on the stack.
//!
//! # The registry is COM
//!
//! Every exercise is a kcom object ([`ExerciseObject`]) implementing
//! [`IAllocatorExercise`](crate::com::IAllocatorExercise) and
//! [`IPoolAccounting`](crate::com::IPoolAccounting), made with
//! `implement_com!` and allocated from a kcom allocator (by default
//! `WdkAllocator`, non-paged, tag [`tags::DEVICE`]). The registry keeps one
//! reference per strategy; a request reaches the exercise by
//! `QueryInterface` for `IAllocatorExercise` and a call through its
//! vtable, and `POOL_STATS` by `QueryInterface` for `IPoolAccounting`.
//! Dropping the state releases every object, which frees it through the
//! allocator that made it.
//!
//! # Adding exercises
//!
//! Implement [`Exercise`] (typically with
//! [`run_tracked`](crate::exercise::run_tracked) or
//! [`run_batched`](crate::exercise::run_batched) over the strategy's
//! allocator) and register it with [`DeviceState::register_in`].

use core::mem::MaybeUninit;
use core::ptr;

use kcom::alloc::{PoolType, WdkAllocator};
use kcom::{
    Allocator, ComClass, ComRc, GlobalAllocator, NTSTATUS, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER, STATUS_NOT_SUPPORTED,
};

use crate::async_exercise::{AsyncComObject, IAsyncRunnerInterface};
use crate::com::{ExerciseObject, IAllocatorExerciseInterface, IPoolAccountingInterface};
use crate::exercise::{Exercise, GlobalExercise};
use crate::exercises;
use crate::protocol::{
    ExerciseParams, ExerciseReport, InfoResponse, MAX_POOL_ENTRIES, MAX_STRATEGIES, PoolStatsEntry,
    PoolStatsResponse, StrategyId,
};
use crate::tags;

/// How the embedding (driver, host, loopback client) configures a device.
#[derive(Clone, Copy, Debug)]
pub struct DeviceConfig {
    /// Monotonic clock in nanoseconds (driver: `KeQueryPerformanceCounter`
    /// scaled; host: `std::time::Instant`).
    pub clock: fn() -> u64,
    /// True when the caller runs at `PASSIVE_LEVEL` (driver:
    /// `KeGetCurrentIrql() == PASSIVE_LEVEL`; host: always). Exercises that
    /// touch paged pool refuse to run otherwise.
    pub is_passive: fn() -> bool,
    /// Pool type reported for memory from `kcom::GlobalAllocator`.
    pub global_pool_type: u32,
    /// Pool tag reported for memory from `kcom::GlobalAllocator`.
    pub global_tag: u32,
    /// Runs work on another thread (host: a new thread; driver: a WDF work
    /// item parented to this device). Without it the `async-com` exercise
    /// is not registered.
    pub defer: Option<Defer>,
    /// Extra `POOL_STATS` entries from outside the core (for example the
    /// allocator's own per-tag accounting): fills the front of the slice and
    /// returns how many it wrote. Called after the registry's entries, with
    /// the space that is left.
    pub external_pool_stats: Option<fn(&mut [PoolStatsEntry]) -> usize>,
}

fn always_passive() -> bool {
    true
}

impl DeviceConfig {
    /// A configuration with `clock`, always at `PASSIVE_LEVEL`, reporting
    /// `kcom::GlobalAllocator`'s memory as host memory with its tag, and no
    /// external pool statistics: what host tests, fuzzers and the loopback
    /// client start from.
    pub const fn new(clock: fn() -> u64) -> Self {
        DeviceConfig {
            clock,
            is_passive: always_passive,
            global_pool_type: crate::protocol::pool_type::HOST,
            global_tag: GlobalAllocator::TAG,
            defer: None,
            external_pool_stats: None,
        }
    }
}

/// How one device runs work on another thread: `queue(context, job)` must
/// call `job.run()` there exactly once, or return an error without running
/// it.
///
/// `context` is the embedding's own value for this device, handed back on
/// every call (the driver passes its `WDFDEVICE`, so each device parents its
/// work items to itself); host embeddings that need none use 0.
#[derive(Clone, Copy, Debug)]
pub struct Defer {
    /// Queues `job`; returns whether it was queued.
    pub queue: fn(context: usize, job: DeferredJob) -> Result<(), NTSTATUS>,
    /// Passed to `queue` unchanged.
    pub context: usize,
}

impl Defer {
    /// Queues `job` with this device's context.
    ///
    /// Errors: the status `queue` failed with (the job was not run).
    pub fn run(&self, job: DeferredJob) -> Result<(), NTSTATUS> {
        (self.queue)(self.context, job)
    }
}

/// Work handed to [`DeviceConfig::defer`]: call `run(context)` exactly once,
/// on any thread, at `IRQL <= DISPATCH_LEVEL`.
#[derive(Debug)]
pub struct DeferredJob {
    /// What to call.
    pub run: unsafe fn(*mut core::ffi::c_void),
    /// Its argument (owned by the job until `run` takes it).
    pub context: *mut core::ffi::c_void,
}

// SAFETY: a deferred job is made to be run on another thread: the core only
// creates jobs whose `context` is a reference to a thread-safe COM object
// that `run` takes over (see `async_exercise`).
unsafe impl Send for DeferredJob {}

impl DeferredJob {
    /// Runs the job (consumes it).
    pub fn run(self) {
        // SAFETY: the core built `run` and `context` together, for exactly
        // one call, from any thread.
        unsafe { (self.run)(self.context) }
    }
}

/// The allocator of the registry's objects: non-paged, tag [`tags::DEVICE`].
pub const DEVICE_ALLOCATOR: WdkAllocator = WdkAllocator::new(PoolType::NonPagedNx, tags::DEVICE);

/// One registered exercise object. The reference is kept as the (declared
/// thread-safe) `IAllocatorExercise`, so the registry may be shared between
/// processors; requests still reach each interface by `QueryInterface`.
struct Entry {
    strategy: StrategyId,
    object: ComRc<IAllocatorExerciseInterface>,
}

/// The exercise objects of one device, at most one per strategy.
pub struct Registry {
    entries: [Option<Entry>; MAX_STRATEGIES],
}

impl core::fmt::Debug for Registry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.strategies()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub const fn new() -> Self {
        Registry {
            entries: [const { None }; MAX_STRATEGIES],
        }
    }

    /// Creates the COM object for `exercise` in memory from `alloc` (which
    /// frees it when the last reference goes) and registers it.
    ///
    /// Errors: `STATUS_INVALID_PARAMETER` if the strategy already has an
    /// object, `STATUS_INSUFFICIENT_RESOURCES` if the table is full or the
    /// allocation fails. On error nothing leaks.
    pub fn register_in<E, A>(
        &mut self,
        exercise: E,
        alloc: A,
        clock: fn() -> u64,
        is_passive: fn() -> bool,
    ) -> Result<(), NTSTATUS>
    where
        E: Exercise + 'static,
        A: Allocator + Send + 'static,
    {
        let strategy = exercise.info().strategy;
        // Check first, so no object is made for a strategy that cannot be
        // registered.
        self.free_slot(strategy)?;
        let object =
            ExerciseObject::try_create_in(ExerciseObject::new(exercise, clock, is_passive), alloc)?;
        self.register_object(strategy, object)
    }

    /// The empty slot for `strategy`: `STATUS_INVALID_PARAMETER` if it is
    /// registered already, `STATUS_INSUFFICIENT_RESOURCES` if the table is
    /// full.
    fn free_slot(&mut self, strategy: StrategyId) -> Result<&mut Option<Entry>, NTSTATUS> {
        if self.contains(strategy) {
            return Err(STATUS_INVALID_PARAMETER);
        }
        self.entries
            .iter_mut()
            .find(|e| e.is_none())
            .ok_or(STATUS_INSUFFICIENT_RESOURCES)
    }

    /// Registers an existing COM object for `strategy` (any class that
    /// implements `IAllocatorExercise`; `IPoolAccounting` and `IAsyncRunner`
    /// are found by `QueryInterface` if it has them).
    ///
    /// Errors: `STATUS_INVALID_PARAMETER` if the strategy already has an
    /// object, `STATUS_INSUFFICIENT_RESOURCES` if the table is full.
    pub fn register_object(
        &mut self,
        strategy: StrategyId,
        object: ComRc<IAllocatorExerciseInterface>,
    ) -> Result<(), NTSTATUS> {
        *self.free_slot(strategy)? = Some(Entry { strategy, object });
        Ok(())
    }

    /// Releases the object registered for `strategy`; `false` if there was
    /// none.
    pub fn unregister(&mut self, strategy: StrategyId) -> bool {
        match self
            .entries
            .iter_mut()
            .find(|e| e.as_ref().is_some_and(|e| e.strategy == strategy))
        {
            Some(slot) => {
                *slot = None;
                true
            }
            None => false,
        }
    }

    /// True if an object is registered for `strategy`.
    pub fn contains(&self, strategy: StrategyId) -> bool {
        self.strategies().any(|s| s == strategy)
    }

    /// The registered strategies, in registration order.
    pub fn strategies(&self) -> impl Iterator<Item = StrategyId> + '_ {
        self.entries.iter().flatten().map(|e| e.strategy)
    }

    fn object(&self, strategy: StrategyId) -> Option<&ComRc<IAllocatorExerciseInterface>> {
        self.entries
            .iter()
            .flatten()
            .find(|e| e.strategy == strategy)
            .map(|e| &e.object)
    }

    /// `strategy`'s object as `IAllocatorExercise` (a `QueryInterface`).
    pub fn get(&self, strategy: StrategyId) -> Option<ComRc<IAllocatorExerciseInterface>> {
        self.object(strategy)?.query_interface().ok()
    }

    /// `strategy`'s object as [`IPoolAccounting`](crate::com::IPoolAccounting)
    /// (a `QueryInterface`).
    pub fn accounting(&self, strategy: StrategyId) -> Option<ComRc<IPoolAccountingInterface>> {
        self.object(strategy)?.query_interface().ok()
    }

    /// Every registered object as `IAllocatorExercise`, in registration
    /// order.
    pub fn iter(&self) -> impl Iterator<Item = ComRc<IAllocatorExerciseInterface>> + '_ {
        self.entries
            .iter()
            .flatten()
            .filter_map(|e| e.object.query_interface().ok())
    }

    /// Number of registered objects.
    pub fn len(&self) -> usize {
        self.strategies().count()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

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

    fn register_builtin(&mut self) -> Result<(), NTSTATUS> {
        self.register(GlobalExercise {
            pool_type: self.config.global_pool_type,
            tag: self.config.global_tag,
        })?;
        exercises::register_all(self)?;
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

    use super::*;
    use crate::exercise::{Env, ExerciseInfo};
    use crate::protocol::pool_type;
    use core::alloc::Layout;
    use core::cell::Cell;
    use core::sync::atomic::{AtomicUsize, Ordering};

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
