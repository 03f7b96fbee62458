//! The per-device state: the exercise registry, the pool ledger and the
//! clock. The driver keeps one [`DeviceState`] in its device context; the
//! host tests and the loopback client keep one on the stack.
//!
//! # Adding exercises
//!
//! The dispatcher reaches an exercise only through [`Registry::get`] and the
//! [`Exercise`] trait, so new strategies (or COM objects standing for them)
//! plug in without touching the protocol or the dispatcher: implement
//! [`Exercise`] — typically with [`run_tracked`](crate::exercise::run_tracked)
//! over the strategy's allocator — and register it with
//! [`DeviceState::register_in`], passing the allocator the object itself
//! should live in. A COM-backed exercise is a small `Exercise` whose `run`
//! calls the interface method through its vtable.

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};

use kcom::{
    Allocator, GlobalAllocator, NTSTATUS, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER,
    STATUS_NOT_SUPPORTED,
};

use crate::exercise::{Env, Exercise, ExerciseInfo, GlobalExercise};
use crate::ledger::PoolLedger;
use crate::protocol::{
    ExerciseParams, ExerciseReport, InfoResponse, MAX_POOL_ENTRIES, MAX_STRATEGIES, PoolStatsEntry,
    PoolStatsResponse, StrategyId,
};

/// How the embedding (driver, host, loopback client) configures a device.
#[derive(Clone, Copy, Debug)]
pub struct DeviceConfig {
    /// Monotonic clock in nanoseconds (driver: `KeQueryPerformanceCounter`
    /// scaled; host: `std::time::Instant`).
    pub clock: fn() -> u64,
    /// Pool type reported for memory from `kcom::GlobalAllocator`.
    pub global_pool_type: u32,
    /// Pool tag reported for memory from `kcom::GlobalAllocator`.
    pub global_tag: u32,
    /// Extra `POOL_STATS` entries from outside the core (for example the
    /// allocator's own per-tag accounting): fills the front of the slice and
    /// returns how many it wrote. Called after the ledger's entries, with the
    /// space that is left.
    pub external_pool_stats: Option<fn(&mut [PoolStatsEntry]) -> usize>,
}

impl DeviceConfig {
    /// A configuration with `clock`, reporting `kcom::GlobalAllocator`'s
    /// memory as host memory with its tag, and no external pool statistics:
    /// what host tests, fuzzers and the loopback client start from.
    pub const fn new(clock: fn() -> u64) -> Self {
        DeviceConfig {
            clock,
            global_pool_type: crate::protocol::pool_type::HOST,
            global_tag: GlobalAllocator::TAG,
            external_pool_stats: None,
        }
    }
}

/// One registered exercise: an object in memory from a kcom allocator, plus
/// the function that drops it and gives the memory back.
struct Entry {
    strategy: StrategyId,
    object: NonNull<dyn Exercise>,
    /// The block holding the `Holder<E, A>`.
    block: NonNull<u8>,
    /// Drops the holder in `block` and frees `block` with its allocator.
    release: unsafe fn(NonNull<u8>),
}

// SAFETY: the object is `Exercise: Send + Sync` and the allocator stored
// with it is `Send + Sync` (see `register_in`); the entry owns both, so
// moving it to or sharing it with another thread is as safe as doing so with
// those values.
unsafe impl Send for Entry {}
// SAFETY: as above.
unsafe impl Sync for Entry {}

/// An exercise object together with the allocator that made its block.
struct Holder<E, A> {
    exercise: E,
    alloc: A,
}

/// Drops a `Holder<E, A>` and frees its block.
///
/// # Safety
///
/// `block` must come from `register_in::<E, A>`: a live block allocated with
/// `Layout::new::<Holder<E, A>>()` by the `A` stored in it, holding an
/// initialised holder, released at most once.
unsafe fn release_holder<E, A: Allocator>(block: NonNull<u8>) {
    let holder = block.cast::<Holder<E, A>>().as_ptr();
    // SAFETY: the caller guarantees an initialised holder that is never used
    // again; reading it moves the exercise and allocator out of the block.
    let Holder { exercise, alloc } = unsafe { ptr::read(holder) };
    drop(exercise);
    // SAFETY: the block came from `alloc` with this layout and is freed once.
    unsafe { alloc.dealloc(block.as_ptr(), Layout::new::<Holder<E, A>>()) };
}

impl Drop for Entry {
    fn drop(&mut self) {
        // SAFETY: `block` and `release` were made together by `register_in`
        // and an entry is dropped once.
        unsafe { (self.release)(self.block) };
    }
}

/// The exercise objects of one device, at most one per strategy.
///
/// Each object lives in memory from the kcom allocator it was registered
/// with and is dropped, and its memory freed, when the registry is dropped.
pub struct Registry {
    entries: [Option<Entry>; MAX_STRATEGIES],
}

impl core::fmt::Debug for Registry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().flatten().map(|e| e.strategy))
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub const fn new() -> Self {
        Registry {
            entries: [const { None }; MAX_STRATEGIES],
        }
    }

    /// Moves `exercise` into a block from `alloc` and registers it for its
    /// strategy.
    ///
    /// Errors: `STATUS_INVALID_PARAMETER` if the strategy already has an
    /// exercise, `STATUS_INSUFFICIENT_RESOURCES` if the table is full or the
    /// allocation fails. On error `exercise` is dropped and nothing leaks.
    pub fn register_in<E, A>(&mut self, exercise: E, alloc: A) -> Result<(), NTSTATUS>
    where
        E: Exercise + 'static,
        A: Allocator + Send + Sync + 'static,
    {
        let strategy = exercise.info().strategy;
        if self.get(strategy).is_some() {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let slot = self
            .entries
            .iter_mut()
            .find(|e| e.is_none())
            .ok_or(STATUS_INSUFFICIENT_RESOURCES)?;
        let layout = Layout::new::<Holder<E, A>>();
        // SAFETY: `layout` is valid; the block is freed by `release_holder`
        // with the same layout and allocator.
        let raw = unsafe { alloc.alloc(layout) };
        let Some(block) = NonNull::new(raw) else {
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        };
        let holder = block.cast::<Holder<E, A>>();
        // SAFETY: the block is fresh, large and aligned enough for a holder.
        unsafe { holder.as_ptr().write(Holder { exercise, alloc }) };
        // SAFETY: `holder` points to the initialised holder written above.
        let object: *mut dyn Exercise = unsafe { &raw mut (*holder.as_ptr()).exercise };
        *slot = Some(Entry {
            strategy,
            // SAFETY: derived from a non-null block pointer.
            object: unsafe { NonNull::new_unchecked(object) },
            block,
            release: release_holder::<E, A>,
        });
        Ok(())
    }

    /// Registers `exercise` in memory from [`kcom::GlobalAllocator`].
    pub fn register<E: Exercise + 'static>(&mut self, exercise: E) -> Result<(), NTSTATUS> {
        self.register_in(exercise, GlobalAllocator)
    }

    /// Drops the exercise registered for `strategy` and frees its memory;
    /// `false` if there was none.
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

    /// The exercise registered for `strategy`.
    pub fn get(&self, strategy: StrategyId) -> Option<&dyn Exercise> {
        self.entries
            .iter()
            .flatten()
            .find(|e| e.strategy == strategy)
            .map(|e| {
                // SAFETY: the object lives in the entry's block until the entry
                // is dropped, which needs `&mut self`; only shared references
                // are ever made to it.
                unsafe { e.object.as_ref() }
            })
    }

    /// The registered exercises, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Exercise> {
        self.entries.iter().flatten().map(|e| {
            // SAFETY: as in `get`.
            unsafe { e.object.as_ref() }
        })
    }

    /// Number of registered exercises.
    pub fn len(&self) -> usize {
        self.entries.iter().flatten().count()
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
/// Dropping it drops every registered exercise and frees its memory.
#[derive(Debug)]
pub struct DeviceState {
    registry: Registry,
    ledger: PoolLedger,
    config: DeviceConfig,
}

impl DeviceState {
    /// Builds a device with every exercise this core implements (today:
    /// `global`). The caller may add more with [`register_in`](Self::register_in)
    /// before sharing the state.
    ///
    /// Errors: `STATUS_INSUFFICIENT_RESOURCES` if an exercise object cannot
    /// be allocated; whatever was created is released again.
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
            (&raw mut (*p).ledger).write(PoolLedger::new());
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
        let global = GlobalExercise {
            pool_type: self.config.global_pool_type,
            tag: self.config.global_tag,
        };
        self.register(global)
    }

    /// A device with no exercise registered.
    pub const fn empty(config: DeviceConfig) -> Self {
        DeviceState {
            registry: Registry::new(),
            ledger: PoolLedger::new(),
            config,
        }
    }

    /// Registers an exercise in memory from `alloc` and claims a ledger slot
    /// for its pool and tag (see [`Registry::register_in`]).
    pub fn register_in<E, A>(&mut self, exercise: E, alloc: A) -> Result<(), NTSTATUS>
    where
        E: Exercise + 'static,
        A: Allocator + Send + Sync + 'static,
    {
        let info: ExerciseInfo = exercise.info();
        self.registry.register_in(exercise, alloc)?;
        if let Err(status) = self.ledger.register(info.pool_type, info.tag) {
            self.registry.unregister(info.strategy);
            return Err(status);
        }
        Ok(())
    }

    /// Registers an exercise in memory from [`kcom::GlobalAllocator`].
    pub fn register<E: Exercise + 'static>(&mut self, exercise: E) -> Result<(), NTSTATUS> {
        self.register_in(exercise, GlobalAllocator)
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The device-wide pool accounting.
    pub fn ledger(&self) -> &PoolLedger {
        &self.ledger
    }

    /// The configuration the device was built with.
    pub fn config(&self) -> &DeviceConfig {
        &self.config
    }

    /// Encodes the `GET_INFO` answer into `out`; returns the byte count.
    pub fn encode_info(&self, out: &mut [u8]) -> Result<usize, NTSTATUS> {
        InfoResponse::encode(self.registry.iter().map(|ex| ex.info().to_wire()), out)
    }

    /// The `POOL_STATS` answer: the ledger's entries, then the external ones.
    pub fn pool_stats(&self) -> PoolStatsResponse {
        let mut stats = PoolStatsResponse::empty();
        let mut n = self.ledger.snapshot_into(&mut stats.entries);
        if let Some(external) = self.config.external_pool_stats {
            let rest = &mut stats.entries[n..];
            let room = rest.len();
            n += external(rest).min(room);
        }
        stats.entry_count = n.min(MAX_POOL_ENTRIES) as u32;
        stats
    }

    /// Runs the exercise for `params.strategy`.
    ///
    /// `STATUS_NOT_SUPPORTED` if no exercise is registered for it; otherwise
    /// the exercise's result.
    pub fn run(&self, params: &ExerciseParams) -> Result<ExerciseReport, NTSTATUS> {
        let ex = self
            .registry
            .get(params.strategy)
            .ok_or(STATUS_NOT_SUPPORTED)?;
        let env = Env {
            clock: self.config.clock,
            ledger: &self.ledger,
        };
        ex.run(params, &env)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::protocol::pool_type;
    use core::cell::Cell;
    use core::sync::atomic::{AtomicUsize, Ordering};

    fn clock() -> u64 {
        0
    }

    const CONFIG: DeviceConfig = DeviceConfig {
        clock,
        global_pool_type: pool_type::HOST,
        global_tag: GlobalAllocator::TAG,
        external_pool_stats: None,
    };

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
            let mut state = DeviceState::new(CONFIG).unwrap();
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
                    .info()
                    .strategy,
                StrategyId::Pool
            );
            assert_eq!(DROPS.load(Ordering::SeqCst), 2);
        }
        assert_eq!(LIVE.load(Ordering::SeqCst), 0);
        assert_eq!(DROPS.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn registry_holds_each_strategy_once_and_unregisters() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let mut reg = Registry::new();
        for s in StrategyId::ALL {
            reg.register(Counted(s, &DROPS)).unwrap();
        }
        assert_eq!(reg.len(), StrategyId::ALL.len());
        assert_eq!(
            reg.register(Counted(StrategyId::Global, &DROPS)),
            Err(STATUS_INVALID_PARAMETER)
        );
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
        assert!(reg.unregister(StrategyId::Stack));
        assert!(!reg.unregister(StrategyId::Stack));
        assert_eq!(DROPS.load(Ordering::SeqCst), 2);
        assert!(reg.get(StrategyId::Stack).is_none());
        reg.register(Counted(StrategyId::Stack, &DROPS)).unwrap();
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
        let state = DeviceState::new(CONFIG).unwrap();
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
                e.pool_type = pool_type::NON_PAGED_NX;
                e.tag = i as u32;
            }
            usize::MAX // claims more than it may: clamped
        }
        let state = DeviceState::new(DeviceConfig {
            external_pool_stats: Some(external),
            ..CONFIG
        })
        .unwrap();
        let stats = state.pool_stats();
        assert_eq!(CALLED.with(|c| c.get()), MAX_POOL_ENTRIES - 1);
        assert_eq!(stats.entry_count as usize, MAX_POOL_ENTRIES);
        assert_eq!(stats.entries[0].tag, GlobalAllocator::TAG);
        assert_eq!(stats.entries[1].pool_type, pool_type::NON_PAGED_NX);
    }
}
