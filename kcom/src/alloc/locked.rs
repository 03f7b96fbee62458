//! [`Locked`]: makes a single-owner strategy shareable between threads.

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::fmt;
use core::ops::Deref;
#[cfg(not(loom))]
use core::sync::atomic::{AtomicBool, Ordering};
// Model checking (`RUSTFLAGS="--cfg loom"`, kcom/tests/loom.rs): the spin
// lock on loom's atomics.
#[cfg(loom)]
use loom::sync::atomic::{AtomicBool, Ordering};

use super::{AllocError, Allocator, require_non_paged};

/// A mutual-exclusion primitive for [`Locked`].
///
/// This is the seam for kernel locks: [`SpinLock`] is the portable default;
/// a driver can plug in a `KSPIN_LOCK`-based lock whose `State` is the
/// previous IRQL returned by `KeAcquireSpinLock` and given back to
/// `KeReleaseSpinLock` by `unlock`.
///
/// # Safety
///
/// Between a `lock` returning and the matching `unlock`, no other `lock` may
/// return (mutual exclusion). `lock` must synchronise-with the previous
/// `unlock` (acquire/release semantics), so writes made while holding the
/// lock are visible to the next holder. A lock whose holder runs at
/// `DISPATCH_LEVEL` or above must set [`RAISES_IRQL`](Self::RAISES_IRQL).
pub unsafe trait RawLock {
    /// What `lock` hands to `unlock` (e.g. the previous IRQL); `()` for a
    /// plain spin lock.
    type State;

    /// Whether the holder runs at `DISPATCH_LEVEL` (`lock` raises the IRQL,
    /// as the driver builds' `KSpinLock` does). The memory a [`Locked`]
    /// with such a lock touches must then be non-paged, so it refuses a
    /// pageable inner allocator. The default is `false`; a lock that raises
    /// the IRQL must say `true` (see the trait's safety contract).
    const RAISES_IRQL: bool = false;

    /// A new, unlocked lock.
    fn new() -> Self;

    /// Blocks until the lock is held.
    fn lock(&self) -> Self::State;

    /// Releases the lock.
    ///
    /// # Safety
    ///
    /// The caller holds the lock, taken by the `lock` call that returned
    /// `state`.
    unsafe fn unlock(&self, state: Self::State);
}

/// A test-and-test-and-set spin lock on an `AtomicBool`.
///
/// `lock` spins on a relaxed load (so waiters share the cache line
/// read-only, with [`core::hint::spin_loop`]) and takes the lock with a
/// `compare_exchange_weak(false, true, Acquire, Relaxed)`: the `Acquire`
/// pairs with the `Release` store of `unlock`, which makes every write of
/// the previous holder visible to the next one.
///
/// It does not raise the IRQL and never sleeps: in driver builds take it at
/// `IRQL <= DISPATCH_LEVEL`, and do not share it with code that runs at a
/// higher IRQL or could preempt the holder on the same processor and spin
/// forever (use a `KSPIN_LOCK`-based [`RawLock`] there).
#[derive(Debug, Default)]
pub struct SpinLock {
    locked: AtomicBool,
}

// SAFETY: the compare-exchange from `false` to `true` succeeds for one
// thread at a time until the `Release` store of `false` in `unlock`; Acquire
// on success synchronises with that store.
unsafe impl RawLock for SpinLock {
    type State = ();

    #[inline]
    fn new() -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
        }
    }

    #[inline]
    fn lock(&self) {
        loop {
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
            while self.locked.load(Ordering::Relaxed) {
                #[cfg(not(loom))]
                core::hint::spin_loop();
                // Lets loom schedule the holder instead of exploring an
                // endless spin.
                #[cfg(loom)]
                loom::hint::spin_loop();
            }
        }
    }

    #[inline]
    unsafe fn unlock(&self, _state: ()) {
        self.locked.store(false, Ordering::Release);
    }
}

/// A kernel spin lock (`KSPIN_LOCK`): `lock` raises the IRQL to
/// `DISPATCH_LEVEL` (`KeAcquireSpinLockRaiseToDpc`) and `unlock` restores
/// it (`KeReleaseSpinLock`). The default lock of [`Locked`] in driver builds.
///
/// Correct at `IRQL <= DISPATCH_LEVEL`: the holder cannot be preempted on
/// its processor, so a DPC can never spin on a lock held by the code it
/// interrupted. Because the holder runs at `DISPATCH_LEVEL`, the memory the
/// locked allocator touches must be non-paged (`PoolType::NonPagedNx`).
#[cfg(feature = "driver")]
#[cfg_attr(docsrs, doc(cfg(feature = "driver")))]
pub struct KSpinLock {
    lock: UnsafeCell<wdk_sys::KSPIN_LOCK>,
}

#[cfg(feature = "driver")]
impl fmt::Debug for KSpinLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KSpinLock")
    }
}

// SAFETY: a KSPIN_LOCK is built to be shared between processors; every
// access goes through the kernel's spin-lock routines.
#[cfg(feature = "driver")]
unsafe impl Sync for KSpinLock {}
// SAFETY: an unheld KSPIN_LOCK is a plain integer, movable between threads.
#[cfg(feature = "driver")]
unsafe impl Send for KSpinLock {}

// SAFETY: KeAcquireSpinLockRaiseToDpc gives exclusive ownership until
// KeReleaseSpinLock, with full acquire/release barriers.
#[cfg(feature = "driver")]
unsafe impl RawLock for KSpinLock {
    /// The IRQL before the lock was taken.
    type State = wdk_sys::KIRQL;

    /// The holder runs at `DISPATCH_LEVEL`.
    const RAISES_IRQL: bool = true;

    fn new() -> Self {
        let mut lock: wdk_sys::KSPIN_LOCK = 0;
        // SAFETY: initialises a local, unshared KSPIN_LOCK (a plain integer,
        // so moving it into the struct afterwards is fine).
        unsafe { wdk_sys::ntddk::KeInitializeSpinLock(&raw mut lock) };
        KSpinLock {
            lock: UnsafeCell::new(lock),
        }
    }

    #[inline]
    fn lock(&self) -> wdk_sys::KIRQL {
        // SAFETY: the lock was initialised by `new`; callers run at
        // IRQL <= DISPATCH_LEVEL (documented requirement of `Locked`).
        unsafe { wdk_sys::ntddk::KeAcquireSpinLockRaiseToDpc(self.lock.get()) }
    }

    #[inline]
    unsafe fn unlock(&self, irql: wdk_sys::KIRQL) {
        // SAFETY: the caller holds the lock taken by the `lock` call that
        // returned `irql`.
        unsafe { wdk_sys::ntddk::KeReleaseSpinLock(self.lock.get(), irql) }
    }
}

/// The lock [`Locked`] uses unless told otherwise: [`KSpinLock`] in driver
/// builds, [`SpinLock`] on the host.
#[cfg(feature = "driver")]
#[cfg_attr(docsrs, doc(cfg(feature = "driver")))]
pub type DefaultLock = KSpinLock;
/// The lock [`Locked`] uses unless told otherwise: `KSpinLock` in driver
/// builds, [`SpinLock`] on the host.
#[cfg(not(feature = "driver"))]
#[cfg_attr(docsrs, doc(cfg(not(feature = "driver"))))]
pub type DefaultLock = SpinLock;

/// Wraps an allocator (typically a strategy such as `Pool` or `FreeList`,
/// which are `!Sync`) behind a lock, making it `Sync`: every allocator call
/// takes the lock for its duration.
///
/// The lock is a [`RawLock`], [`DefaultLock`] unless chosen: `KSpinLock`
/// in driver builds, [`SpinLock`] on the host. Use [`lock`](Self::lock) to
/// call the inner strategy's `&self` methods (statistics) under the lock,
/// and [`get_mut`](Self::get_mut) for `&mut` methods such as `reset`: those
/// need exclusive access to the `Locked` itself, which proves no other
/// borrower holds blocks.
///
/// # Pageable memory
///
/// A lock that raises the IRQL ([`RawLock::RAISES_IRQL`]: `KSpinLock`, the
/// driver default) is held at `DISPATCH_LEVEL`, where touching paged memory
/// is a bug check. With such a lock, [`try_new`](Self::try_new) and
/// [`try_with_lock`](Self::try_with_lock) refuse an inner allocator whose
/// blocks may be paged ([`Allocator::pageable`], e.g. a strategy over
/// `WdkAllocator::paged`) with [`AllocError::InvalidParameter`], the same
/// check COM objects make, and the infallible [`new`](Self::new) and
/// [`with_lock`](Self::with_lock) do not compile:
///
/// ```compile_fail,E0080
/// use kcom::alloc::{Locked, RawLock, SpinLock};
/// /// A lock held at DISPATCH_LEVEL.
/// struct Raising(SpinLock);
/// // SAFETY: forwards to `SpinLock`.
/// unsafe impl RawLock for Raising {
///     type State = ();
///     const RAISES_IRQL: bool = true;
///     fn new() -> Self { Raising(SpinLock::new()) }
///     fn lock(&self) { self.0.lock() }
///     unsafe fn unlock(&self, s: ()) { unsafe { self.0.unlock(s) } }
/// }
/// let l = Locked::<_, Raising>::with_lock(kcom::GlobalAllocator);
/// ```
pub struct Locked<A, L: RawLock = DefaultLock> {
    lock: L,
    inner: UnsafeCell<A>,
}

// SAFETY: all access to `inner` through `&Locked` happens while holding the
// lock, so at most one thread uses the `A` at a time; that requires moving
// access between threads, hence `A: Send`. The lock itself must be shareable.
unsafe impl<A: Send, L: RawLock + Sync> Sync for Locked<A, L> {}

impl<A> Locked<A> {
    /// Wraps `inner` with the [`DefaultLock`].
    ///
    /// Does not compile when the default lock raises the IRQL (driver
    /// builds): use [`try_new`](Self::try_new), which checks that `inner`
    /// is non-paged.
    #[inline]
    pub fn new(inner: A) -> Self {
        Self::with_lock(inner)
    }
}

impl<A: Allocator> Locked<A> {
    /// Wraps `inner` with the [`DefaultLock`]; returns it back with
    /// [`AllocError::InvalidParameter`] if that lock raises the IRQL and
    /// `inner` may hand out pageable memory (see [`Locked`]).
    #[inline]
    pub fn try_new(inner: A) -> Result<Self, (A, AllocError)> {
        Self::try_with_lock(inner)
    }
}

impl<A: Allocator, L: RawLock> Locked<A, L> {
    /// Wraps `inner` with a lock of type `L`; returns it back with
    /// [`AllocError::InvalidParameter`] if `L` raises the IRQL and `inner`
    /// may hand out pageable memory (see [`Locked`]).
    pub fn try_with_lock(inner: A) -> Result<Self, (A, AllocError)> {
        if L::RAISES_IRQL
            && let Err(e) = require_non_paged(&inner)
        {
            return Err((inner, e));
        }
        Ok(Locked {
            lock: L::new(),
            inner: UnsafeCell::new(inner),
        })
    }
}

impl<A, L: RawLock> Locked<A, L> {
    /// Wraps `inner` with a lock of type `L`.
    ///
    /// Does not compile for a lock that raises the IRQL
    /// ([`RawLock::RAISES_IRQL`]): use [`try_with_lock`](Self::try_with_lock),
    /// which checks that `inner` is non-paged.
    #[inline]
    pub fn with_lock(inner: A) -> Self {
        const {
            assert!(
                !L::RAISES_IRQL,
                "this lock is held at DISPATCH_LEVEL: use Locked::try_new / try_with_lock, \
                 which refuse a pageable inner allocator"
            )
        };
        Locked {
            lock: L::new(),
            inner: UnsafeCell::new(inner),
        }
    }

    /// Takes the lock; the guard gives access to the inner allocator and
    /// releases the lock when dropped.
    #[inline]
    pub fn lock(&self) -> LockedGuard<'_, A, L> {
        let state = self.lock.lock();
        LockedGuard {
            locked: self,
            state: core::mem::ManuallyDrop::new(state),
            _not_send: core::marker::PhantomData,
        }
    }

    /// The inner allocator, without locking (`&mut self` proves exclusivity).
    #[inline]
    pub fn get_mut(&mut self) -> &mut A {
        self.inner.get_mut()
    }

    /// Unwraps the inner allocator.
    #[inline]
    pub fn into_inner(self) -> A {
        self.inner.into_inner()
    }
}

/// Holds the lock of a [`Locked`]; dereferences to the inner allocator.
///
/// Only shared access is given: `&mut` methods such as `reset` or `pop`
/// would free blocks that other holders of `&Locked` (e.g. collections)
/// still use. Use [`Locked::get_mut`] for those.
pub struct LockedGuard<'a, A, L: RawLock = DefaultLock> {
    locked: &'a Locked<A, L>,
    state: core::mem::ManuallyDrop<L::State>,
    /// `!Send`: a lock is released on the processor/thread that took it
    /// (a kernel spin lock restores that processor's IRQL).
    _not_send: core::marker::PhantomData<*const ()>,
}

impl<A, L: RawLock> Deref for LockedGuard<'_, A, L> {
    type Target = A;
    #[inline]
    fn deref(&self) -> &A {
        // SAFETY: the guard holds the lock, so no other thread accesses
        // `inner`; this thread only gets shared references through the guard.
        unsafe { &*self.locked.inner.get() }
    }
}

impl<A, L: RawLock> Drop for LockedGuard<'_, A, L> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: taken once, here, and never used again.
        let state = unsafe { core::mem::ManuallyDrop::take(&mut self.state) };
        // SAFETY: the guard holds the lock taken by the call that returned `state`.
        unsafe { self.locked.lock.unlock(state) };
    }
}

impl<A: fmt::Debug, L: RawLock> fmt::Debug for LockedGuard<'_, A, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LockedGuard").field(&**self).finish()
    }
}

impl<A, L: RawLock> fmt::Debug for Locked<A, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Locked").finish_non_exhaustive()
    }
}

// SAFETY: every call forwards to `A` while holding the lock, so the inner
// allocator sees one caller at a time, exactly as its single-owner contract
// expects; the blocks are `A`'s and keep its guarantees.
unsafe impl<A: Allocator, L: RawLock> Allocator for Locked<A, L> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let g = self.lock();
        // SAFETY: forwarded contract.
        unsafe { g.alloc(layout) }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let g = self.lock();
        // SAFETY: forwarded contract.
        unsafe { g.alloc_zeroed(layout) }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let g = self.lock();
        // SAFETY: forwarded contract.
        unsafe { g.dealloc(ptr, layout) }
    }
    #[inline]
    unsafe fn grow(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        let g = self.lock();
        // SAFETY: forwarded contract.
        unsafe { g.grow(ptr, old_layout, new_layout) }
    }
    #[inline]
    unsafe fn grow_zeroed(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        let g = self.lock();
        // SAFETY: forwarded contract.
        unsafe { g.grow_zeroed(ptr, old_layout, new_layout) }
    }
    #[inline]
    unsafe fn shrink(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        let g = self.lock();
        // SAFETY: forwarded contract.
        unsafe { g.shrink(ptr, old_layout, new_layout) }
    }
    #[inline]
    fn max_align(&self) -> usize {
        self.lock().max_align()
    }
    #[inline]
    fn pageable(&self) -> bool {
        self.lock().pageable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc::{GlobalAllocator, Pool};

    #[test]
    fn lock_guard_and_forwarding() {
        let mut p = Locked::new(Pool::with_blocks_in(16, 2, GlobalAllocator).unwrap());
        let l = Layout::new::<u64>();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = p.alloc(l);
            assert!(!a.is_null());
            assert_eq!(p.lock().num_allocated(), 1);
            p.dealloc(a, l);
        }
        assert_eq!(p.get_mut().num_free_blocks(), 2);
        p.get_mut().reset();
        assert_eq!(p.into_inner().num_allocated(), 0);
    }

    /// A lock held at `DISPATCH_LEVEL` (as `KSpinLock` is), for the host.
    struct Raising(SpinLock);
    // SAFETY: forwards to `SpinLock`, which excludes.
    unsafe impl RawLock for Raising {
        type State = ();
        const RAISES_IRQL: bool = true;
        fn new() -> Self {
            Raising(SpinLock::new())
        }
        fn lock(&self) {
            self.0.lock()
        }
        unsafe fn unlock(&self, state: ()) {
            // SAFETY: forwarded contract.
            unsafe { self.0.unlock(state) }
        }
    }

    #[test]
    #[cfg(not(feature = "driver"))]
    fn a_lock_held_at_dispatch_level_refuses_pageable_memory() {
        use crate::alloc::{AllocError, Bump, FreeList, WdkAllocator, sim};
        use core::mem::MaybeUninit;
        const TAG: u32 = WdkAllocator::tag(*b"tLkP");
        let paged = WdkAllocator::paged(TAG);
        let non_paged = WdkAllocator::non_paged(TAG);

        let Err((back, AllocError::InvalidParameter)) =
            Locked::<_, Raising>::try_with_lock(FreeList::with_capacity_in(256, paged).unwrap())
        else {
            panic!("a paged backing under a raising lock must be refused");
        };
        assert_eq!(back.remaining(), 256, "the strategy comes back untouched");
        drop(back);
        let mut buf = [MaybeUninit::<u8>::uninit(); 64];
        assert!(Locked::<_, Raising>::try_with_lock(Bump::from_buffer(&mut buf)).is_err());

        // Non-paged backings are accepted and work.
        let l =
            Locked::<_, Raising>::try_with_lock(Bump::with_capacity_in(256, non_paged).unwrap())
                .unwrap();
        let layout = Layout::new::<u64>();
        // SAFETY: a valid layout; freed once with it.
        unsafe {
            let p = l.alloc(layout);
            assert!(!p.is_null());
            l.dealloc(p, layout);
        }
        drop(l);
        // A lock that does not raise the IRQL takes any backing.
        let spin = Locked::<_, SpinLock>::try_with_lock(Bump::with_capacity_in(64, paged).unwrap());
        assert!(spin.is_ok_and(|l| l.pageable()));
        let st = sim::stats(crate::alloc::PoolType::Paged, TAG);
        assert_eq!(st.outstanding_allocations, 0);
        assert!(sim::forget_tag(TAG));
    }

    #[test]
    fn spin_lock_excludes() {
        let lock = SpinLock::new();
        lock.lock();
        assert!(lock.locked.load(Ordering::Relaxed));
        assert!(
            lock.locked
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        );
        // SAFETY: held by this thread.
        unsafe { lock.unlock(()) };
        assert!(!lock.locked.load(Ordering::Relaxed));
    }
}
