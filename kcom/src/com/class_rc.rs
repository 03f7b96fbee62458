//! `ClassRc<T>`: a reference to a kcom object whose class the holder knows.

use core::ffi::c_void;
use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;

use super::failfast::{FailFastReason, fail_fast};
use super::interface::ComInterface;
use super::object::{self, ComClass};
use super::rc::ComRc;
use crate::alloc::{Allocator, GlobalAllocator};
use crate::{NTSTATUS, STATUS_INSUFFICIENT_RESOURCES};

/// An owned reference to an object of class `T`, made by kcom.
///
/// A [`ComRc<I>`] knows only the interface, so AddRef and Release go
/// through the object's vtable: the object may be foreign. A `ClassRc<T>`
/// is only ever made by kcom's constructors for class `T`, so it knows the
/// object's layout and updates the reference count in place: `clone` is
/// one locked increment and a compare, `drop` one locked decrement and a
/// branch, the same as `Arc`. Only the last release calls out of line (to
/// destroy the object, through the allocator that made it).
///
/// The object is an ordinary COM object for everybody else: the count is
/// the one its `AddRef`/`Release` shims use, with the same orderings
/// (Relaxed increment, Release decrement, Acquire before destruction), so
/// a `ClassRc`, [`ComRc`]s from [`to_interface`](Self::to_interface) and
/// raw pointers handed to other code can be mixed freely and released in
/// any order.
///
/// It dereferences to `T`, so methods are direct Rust calls, with no
/// vtable either.
///
/// ```
/// use kcom::{ClassRc, GUID, IUnknown, NTSTATUS};
/// use kcom::{declare_com_interface, implement_com};
///
/// declare_com_interface! {
///     pub trait ICounter: IUnknown + Send + Sync {
///         const IID: GUID = kcom::guid!("5d2b8a1e-3c4f-4e6a-9b7d-1f0e2c3a4b5d");
///         fn get(&self) -> Result<u32, NTSTATUS>;
///     }
/// }
/// struct Counter(u32);
/// impl ICounter for Counter {
///     fn get(&self) -> Result<u32, NTSTATUS> {
///         Ok(self.0)
///     }
/// }
/// implement_com!(Counter: ICounter);
///
/// let obj = ClassRc::try_new(Counter(7)).unwrap();
/// let again = obj.clone(); // no vtable call
/// assert_eq!(again.0, 7); // `Deref` to the class
/// let iface = obj.to_interface(); // a ComRc<ICounterInterface>
/// assert_eq!(iface.get(), Ok(7)); // through the vtable
/// ```
pub struct ClassRc<T: ComClass> {
    /// The object's base (its primary interface pointer).
    base: NonNull<c_void>,
    _marker: PhantomData<T>,
}

// SAFETY: a `ClassRc` shares `&T` with other threads (`Sync` needed) and
// may drop the last reference, which drops `T` there (`Send` needed); the
// safe constructors require a `Send + 'static` allocator, and the unsafe
// one makes the caller promise the same for where the object is released.
unsafe impl<T: ComClass + Send + Sync> Send for ClassRc<T> {}
// SAFETY: as above: `&ClassRc` gives `&T` and lets any thread clone.
unsafe impl<T: ComClass + Send + Sync> Sync for ClassRc<T> {}

impl<T: ComClass> ClassRc<T> {
    /// Creates an object of class `T` with [`GlobalAllocator`].
    ///
    /// # Errors
    ///
    /// As [`ComClass::try_create`].
    pub fn try_new(value: T) -> Result<Self, NTSTATUS> {
        Self::try_new_in(value, GlobalAllocator)
    }

    /// Creates an object of class `T` in `alloc`, which frees it when the
    /// last reference (a `ClassRc`, a [`ComRc`] or a raw one) is released.
    ///
    /// # Errors
    ///
    /// As [`ComClass::try_create_in`].
    pub fn try_new_in<A: Allocator + Send + 'static>(value: T, alloc: A) -> Result<Self, NTSTATUS> {
        // SAFETY: `A: 'static` outlives every reference; `A: Send` lets the
        // last release run on any thread.
        unsafe { Self::try_new_in_unchecked(value, alloc) }
    }

    /// Creates an object of class `T` in an allocator that may be borrowed
    /// or `!Send`.
    ///
    /// # Errors
    ///
    /// As [`ComClass::try_create_in_unchecked`].
    ///
    /// # Safety
    ///
    /// Every reference to the object must be released while `alloc` (and
    /// anything it borrows) is alive, and on a thread where using `alloc` is
    /// sound.
    pub unsafe fn try_new_in_unchecked<A: Allocator>(value: T, alloc: A) -> Result<Self, NTSTATUS> {
        // SAFETY: forwarded contract.
        let rc = unsafe { T::try_create_in_unchecked(value, alloc) }?;
        // A `ComRc` is never null; the error arm cannot be taken.
        let base = NonNull::new(rc.into_raw()).ok_or(STATUS_INSUFFICIENT_RESOURCES)?;
        // The reference `rc` owned is ours now; `base` is the primary slot
        // of a fresh object of class `T`.
        Ok(ClassRc {
            base,
            _marker: PhantomData,
        })
    }

    /// The object's primary interface pointer (its `IUnknown` identity),
    /// still owned by `self`.
    #[inline]
    pub fn as_raw(&self) -> *mut c_void {
        self.base.as_ptr()
    }

    /// A new reference to the object's primary interface, for code that
    /// only knows the interface.
    #[inline]
    pub fn to_interface(&self) -> ComRc<T::Primary> {
        self.clone().into_interface()
    }

    /// Turns this reference into one to the primary interface (no count
    /// change).
    #[inline]
    pub fn into_interface(self) -> ComRc<T::Primary> {
        let base = self.base;
        core::mem::forget(self);
        // SAFETY: the primary slot (the base) implements `T::Primary`
        // (`ComClass` contract); the reference we held is handed over. Its
        // threading is the class's, as for `ComClass::try_create`.
        unsafe { ComRc::from_raw_nonnull(base) }
    }

    /// The object's interface `J`, asked by its Rust type as
    /// [`ComRc::query_interface`] does: a new reference, or
    /// `STATUS_NOINTERFACE`.
    #[inline]
    pub fn query_interface<J: ComInterface>(&self) -> Result<ComRc<J>, NTSTATUS> {
        // Borrow our reference as a `ComRc` without touching the count.
        let this = core::mem::ManuallyDrop::new(
            // SAFETY: the base is a live primary interface pointer; the
            // `ManuallyDrop` never releases the borrowed reference.
            unsafe { ComRc::<T::Primary>::from_raw_nonnull(self.base) },
        );
        this.query_interface::<J>()
    }

    /// The object's header (reference count).
    #[inline(always)]
    fn header(&self) -> &object::Header {
        // SAFETY: `self` holds a reference, so the object is alive; `base`
        // is a kcom object's base (only kcom's constructors make a
        // `ClassRc`).
        unsafe { object::header(self.base.as_ptr()) }
    }
}

impl<T: ComClass> Clone for ClassRc<T> {
    /// AddRef in place: one locked increment; fails fast (reason
    /// `RefcountOverflow`) if the count was above
    /// [`MAX_REFCOUNT`](super::MAX_REFCOUNT). That is
    /// one reference later than the AddRef shim (which refuses to go past
    /// `MAX_REFCOUNT`): the slack lets the check be the sign of the
    /// increment's own result, as in `Arc`, and is far from the `u32`
    /// wrap-around; the shims fail fast on such a count at their next
    /// AddRef. The count cannot be 0: `self` holds a reference.
    #[inline]
    fn clone(&self) -> Self {
        // Relaxed, as in the AddRef shim: a new reference is made from an
        // existing one, which already orders it after the creation.
        let old = self
            .header()
            .refcount
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        // `old > MAX_REFCOUNT` (`i32::MAX`), written as the sign test the
        // compiler folds into the locked increment's flags (with no other
        // use of `old`, the increment needs no result register).
        if (old as i32) < 0 {
            overflow();
        }
        ClassRc {
            base: self.base,
            _marker: PhantomData,
        }
    }
}

/// The cold end of `ClassRc::clone`. `extern "C"`: `nounwind`, so the
/// callers need no landing pad.
#[cold]
#[inline(never)]
extern "C" fn overflow() -> ! {
    fail_fast(FailFastReason::RefcountOverflow)
}

impl<T: ComClass> Drop for ClassRc<T> {
    /// Release in place: one locked decrement; the last one destroys the
    /// object out of line, exactly as the Release shim does.
    #[inline]
    fn drop(&mut self) {
        // Release, as in the Release shim: our uses of the object
        // happen-before its destruction on whichever thread ends last.
        let old = self
            .header()
            .refcount
            .fetch_sub(1, core::sync::atomic::Ordering::Release);
        // `old == 0` cannot happen while we held a reference; `old == 1`
        // was the last one.
        if old == 1 {
            // SAFETY: our decrement took the count from 1 to 0.
            unsafe { object::release_slow(self.base.as_ptr(), old) };
        }
    }
}

impl<T: ComClass> Deref for ClassRc<T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: the base is slot 0 of a live object of class `T`, alive
        // while `self` holds its reference; the value is only ever shared.
        unsafe { object::value_ref::<T, 0>(self.base.as_ptr()) }
    }
}

impl<T: ComClass + fmt::Debug> fmt::Debug for ClassRc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClassRc").field(&**self).finish()
    }
}

#[cfg(test)]
mod tests {
    use core::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::alloc::Pool;
    use crate::{GUID, IUnknown, IUnknownVtbl, STATUS_NOINTERFACE};
    use crate::{declare_com_interface, implement_com};

    declare_com_interface! {
        pub trait IProbe: IUnknown + Send + Sync {
            const IID: GUID = crate::guid!("7c1e5a92-4b3d-4f8e-a6c1-0d2e9f8b7a61");
            fn value(&self) -> Result<u32, NTSTATUS>;
        }
    }

    declare_com_interface! {
        pub trait ITwice: IUnknown + Send + Sync {
            const IID: GUID = crate::guid!("7c1e5a92-4b3d-4f8e-a6c1-0d2e9f8b7a62");
            fn twice(&self) -> Result<u32, NTSTATUS>;
        }
    }

    declare_com_interface! {
        pub trait IMissing: IUnknown + Send + Sync {
            const IID: GUID = crate::guid!("7c1e5a92-4b3d-4f8e-a6c1-0d2e9f8b7a63");
            fn nothing(&self) -> NTSTATUS;
        }
    }

    /// Counts its drops in a counter of the test's own.
    struct Probe {
        value: u32,
        drops: &'static AtomicUsize,
    }

    impl IProbe for Probe {
        fn value(&self) -> Result<u32, NTSTATUS> {
            Ok(self.value)
        }
    }

    impl ITwice for Probe {
        fn twice(&self) -> Result<u32, NTSTATUS> {
            Ok(2 * self.value)
        }
    }

    impl Drop for Probe {
        fn drop(&mut self) {
            self.drops.fetch_add(1, Ordering::SeqCst);
        }
    }

    implement_com!(Probe: IProbe, ITwice);

    /// The count as the object's own AddRef/Release shims report it.
    fn count(p: *mut c_void) -> u32 {
        // SAFETY: `p` is a live object's primary pointer (the caller holds
        // a reference); the AddRef is undone at once.
        unsafe {
            let unk = &**(p as *const *const IUnknownVtbl);
            (unk.AddRef)(p);
            (unk.Release)(p)
        }
    }

    #[test]
    fn clone_and_drop_count_in_place_and_destroy_once() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let obj = ClassRc::try_new(Probe {
            value: 7,
            drops: &DROPS,
        })
        .unwrap();
        assert_eq!(count(obj.as_raw()), 1);
        let copy = obj.clone();
        assert_eq!(copy.as_raw(), obj.as_raw());
        assert_eq!(count(obj.as_raw()), 2);
        assert_eq!(copy.value, 7, "Deref reaches the value");
        drop(copy);
        assert_eq!(count(obj.as_raw()), 1);
        assert_eq!(DROPS.load(Ordering::SeqCst), 0);
        drop(obj);
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn mixes_with_interface_references_in_any_order() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let obj = ClassRc::try_new(Probe {
            value: 5,
            drops: &DROPS,
        })
        .unwrap();
        let iface = obj.to_interface();
        assert_eq!(iface.value(), Ok(5), "a call through the vtable");
        let twice = obj.query_interface::<ITwiceInterface>().unwrap();
        assert_eq!(twice.twice(), Ok(10));
        assert!(twice.same_object(&iface));
        assert_eq!(
            obj.query_interface::<IMissingInterface>().err(),
            Some(STATUS_NOINTERFACE)
        );
        assert_eq!(count(obj.as_raw()), 3);
        // The class reference goes first; the interface ones keep the
        // object alive, and the last of them destroys it.
        drop(obj);
        assert_eq!(DROPS.load(Ordering::SeqCst), 0);
        drop(iface);
        assert_eq!(DROPS.load(Ordering::SeqCst), 0);
        drop(twice);
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn into_interface_hands_the_reference_over() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let obj = ClassRc::try_new(Probe {
            value: 3,
            drops: &DROPS,
        })
        .unwrap();
        let keep = obj.clone();
        let iface = obj.into_interface();
        assert_eq!(count(iface.as_raw()), 2);
        drop(keep);
        assert_eq!(iface.value(), Ok(3));
        drop(iface);
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn made_in_a_pool_and_freed_by_it_and_failure_is_a_status() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let pool = Pool::with_blocks_in(256, 1, GlobalAllocator).unwrap();
        let probe = || Probe {
            value: 1,
            drops: &DROPS,
        };
        // SAFETY: every reference is released below, on this thread,
        // while `pool` is alive.
        let obj = unsafe { ClassRc::try_new_in_unchecked(probe(), &pool) }.unwrap();
        assert_eq!(pool.num_allocated(), 1);
        // The pool is full: a clear status, and the value is dropped.
        // SAFETY: as above (nothing is created).
        let full = unsafe { ClassRc::try_new_in_unchecked(probe(), &pool) };
        assert_eq!(full.err(), Some(STATUS_INSUFFICIENT_RESOURCES));
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
        let iface = obj.to_interface();
        drop(obj);
        assert_eq!(pool.num_allocated(), 1);
        drop(iface);
        assert_eq!(pool.num_allocated(), 0);
        assert_eq!(DROPS.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn threads_clone_and_release_and_the_object_dies_once() {
        extern crate std;
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let obj = ClassRc::try_new(Probe {
            value: 9,
            drops: &DROPS,
        })
        .unwrap();
        let rounds = if cfg!(miri) { 20 } else { 2000 };
        let threads: std_alloc::vec::Vec<_> = (0..4)
            .map(|_| {
                let mine = obj.clone();
                std::thread::spawn(move || {
                    for _ in 0..rounds {
                        let c = mine.clone();
                        assert_eq!(c.value, 9);
                        drop(c);
                    }
                    // Each thread ends holding nothing.
                })
            })
            .collect();
        drop(obj);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    }
}
