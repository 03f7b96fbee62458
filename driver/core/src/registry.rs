//! The registry: the COM objects of one device, at most one per strategy.
//!
//! Every exercise is a kcom object ([`ExerciseObject`], or any class that
//! implements [`IAllocatorExercise`](crate::interfaces::IAllocatorExercise)) allocated from a kcom allocator (by
//! default [`DEVICE_ALLOCATOR`]: non-paged, tag [`tags::DEVICE`]). The
//! registry keeps one reference per strategy; callers reach an object by
//! `QueryInterface` ([`Registry::get`], [`Registry::accounting`]).
//! Dropping the registry releases every object, which frees it through the
//! allocator that made it.

use kcom::alloc::{PoolType, WdkAllocator};
use kcom::{
    Allocator, ComClass, ComRc, NTSTATUS, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER,
};

use crate::exercises::Exercise;
use crate::interfaces::{IAllocatorExerciseInterface, IPoolAccountingInterface};
use crate::object::ExerciseObject;
use crate::protocol::{MAX_STRATEGIES, StrategyId};
use crate::tags;

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

    /// `strategy`'s object as [`IPoolAccounting`](crate::interfaces::IPoolAccounting)
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
