//! [`KBox`]: a box whose allocator lives inside the allocation.

use core::alloc::Layout;
use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::ptr::{self, NonNull};

use super::{AllocError, Allocator, GlobalAllocator};

/// The block a [`KBox`] owns: the value first, then its allocator.
#[repr(C)]
pub(crate) struct KBoxInner<T, A> {
    pub(crate) value: T,
    pub(crate) alloc: A,
}

/// A heap box for kernel code: one allocation from `A` holds the value and
/// the allocator that frees it.
///
/// * Dropping the box drops the value, then moves the allocator out of the
///   block (`ptr::read`) and frees the block with it, with the layout it
///   was allocated with.
/// * When both `T` and `A` are zero-sized nothing is allocated.
/// * Allocation failure is an error ([`try_new_in`](Self::try_new_in)) or,
///   for the infallible constructors, `handle_alloc_error` (fail fast).
///
/// `KBox` holds sized values only.
pub struct KBox<T, A: Allocator = GlobalAllocator> {
    inner: NonNull<KBoxInner<T, A>>,
    _owns: PhantomData<KBoxInner<T, A>>,
}

// SAFETY: a `KBox` owns its value and allocator like a `Box<(T, A)>` does;
// sending it sends both.
unsafe impl<T: Send, A: Allocator + Send> Send for KBox<T, A> {}
// SAFETY: `&KBox` only gives `&T` and `&A`.
unsafe impl<T: Sync, A: Allocator + Sync> Sync for KBox<T, A> {}
// Pinning a `KBox` pins its heap value, never the box itself.
impl<T, A: Allocator> Unpin for KBox<T, A> {}

impl<T, A: Allocator> KBox<T, A> {
    const LAYOUT: Layout = Layout::new::<KBoxInner<T, A>>();

    /// Allocates the block for `value` and `alloc` from `alloc`; returns
    /// the value back with the error when the allocator fails.
    pub fn try_new_in(value: T, alloc: A) -> Result<Self, (T, AllocError)> {
        match Self::allocate_inner(alloc) {
            Ok(inner) => {
                // SAFETY: `allocate_inner` returned a block for
                // `KBoxInner<T, A>` whose `alloc` field is initialised.
                unsafe { ptr::addr_of_mut!((*inner.as_ptr()).value).write(value) };
                Ok(Self {
                    inner,
                    _owns: PhantomData,
                })
            }
            Err(e) => Err((value, e)),
        }
    }

    /// Like [`try_new_in`](Self::try_new_in), but an allocation failure
    /// calls `handle_alloc_error` (fail fast).
    pub fn new_in(value: T, alloc: A) -> Self {
        match Self::try_new_in(value, alloc) {
            Ok(b) => b,
            Err(_) => std_alloc::alloc::handle_alloc_error(Self::LAYOUT),
        }
    }

    /// Allocates a pinned box (fail fast on allocation failure).
    ///
    /// `A: 'static`: see [`into_pin`](Self::into_pin).
    pub fn pin_in(value: T, alloc: A) -> Pin<Self>
    where
        A: 'static,
    {
        Self::into_pin(Self::new_in(value, alloc))
    }

    /// Allocates a pinned box; returns the value back on failure.
    ///
    /// `A: 'static`: see [`into_pin`](Self::into_pin).
    pub fn try_pin_in(value: T, alloc: A) -> Result<Pin<Self>, (T, AllocError)>
    where
        A: 'static,
    {
        Self::try_new_in(value, alloc).map(Self::into_pin)
    }

    /// Pins the box. The value never moves while the box lives (moving the
    /// box moves only the pointer), so this does not allocate.
    ///
    /// The allocator must be `'static`. Pinning promises that the value's
    /// memory is not reused before its destructor runs, even when the box
    /// is leaked (`mem::forget`). A borrowed allocator (`&Bump`, the
    /// `&Stack` of a [`Stack::scope`](super::Stack::scope), a
    /// [`Bump::from_buffer`](super::Bump::from_buffer) over a local buffer)
    /// can be reset, closed or dropped once the borrow ends, and would hand
    /// the leaked value's memory out again. A `'static` allocator either
    /// lives for ever or sits inside the block itself, leaked with it.
    /// For `T: Unpin` no pin is needed over a borrowed allocator:
    /// `Pin::new(KBox::new_in(value, &alloc))` works with any allocator.
    ///
    /// ```compile_fail,E0597
    /// use kcom::alloc::{Bump, KBox};
    /// let bump = Bump::with_capacity_in(256, kcom::GlobalAllocator).unwrap();
    /// let pinned = KBox::pin_in(core::marker::PhantomPinned, &bump);
    /// # drop(pinned);
    /// ```
    pub fn into_pin(b: Self) -> Pin<Self>
    where
        A: 'static,
    {
        // SAFETY: the value lives in its own allocation that is only freed
        // by `Drop` after dropping the value in place; `Pin<KBox>` gives no
        // way to move it out. `A: 'static`: if the box is leaked, the
        // allocator (and whatever memory it manages) can never be dropped,
        // reset or scoped away while it exists, so the value's memory is
        // never reused without its destructor having run.
        unsafe { Pin::new_unchecked(b) }
    }

    /// The allocator inside the box.
    pub fn allocator(b: &Self) -> &A {
        // SAFETY: the block is live and its `alloc` field initialised.
        unsafe { &(*b.inner.as_ptr()).alloc }
    }

    /// Gives up ownership: returns a pointer to the value. The allocator
    /// stays inside the block; rebuild the box with
    /// [`from_raw`](Self::from_raw) to free it.
    pub fn into_raw(b: Self) -> *mut T {
        let b = ManuallyDrop::new(b);
        // `value` is the first field of a `repr(C)` struct.
        b.inner.as_ptr().cast()
    }

    /// Rebuilds a box from [`into_raw`](Self::into_raw).
    ///
    /// # Safety
    ///
    /// `raw` must come from `KBox::<T, A>::into_raw` (same `T` and `A`)
    /// and not have been passed to `from_raw` since; the value must still
    /// be initialised.
    pub unsafe fn from_raw(raw: *mut T) -> Self {
        // SAFETY: `into_raw` returned the (non-null) block pointer, whose
        // first field is the value.
        let inner = unsafe { NonNull::new_unchecked(raw.cast::<KBoxInner<T, A>>()) };
        Self {
            inner,
            _owns: PhantomData,
        }
    }

    /// Leaks the box: the value (and allocator) are never dropped nor
    /// freed. The reference covers only the value, so it cannot be turned
    /// back into a box: use [`into_raw`](Self::into_raw) for that.
    pub fn leak<'a>(b: Self) -> &'a mut T
    where
        T: 'a,
        A: 'a,
    {
        // SAFETY: `into_raw` returns a valid, initialised, uniquely owned
        // value that is never freed from now on.
        unsafe { &mut *Self::into_raw(b) }
    }

    /// Moves the value out and frees the block.
    pub fn into_inner(b: Self) -> T {
        let b = ManuallyDrop::new(b);
        let inner = b.inner.as_ptr();
        // SAFETY: the value is initialised and, the box being forgotten,
        // read exactly once.
        let value = unsafe { ptr::addr_of!((*inner).value).read() };
        // SAFETY: the block is live, allocated with LAYOUT from the
        // allocator stored in it; the value has been moved out.
        unsafe { Self::free_block(inner) };
        value
    }

    /// Allocates a block for `KBoxInner<T, A>` and moves `alloc` into it;
    /// the value field is left uninitialised.
    pub(crate) fn allocate_inner(alloc: A) -> Result<NonNull<KBoxInner<T, A>>, AllocError> {
        let inner = if Self::LAYOUT.size() == 0 {
            NonNull::<KBoxInner<T, A>>::dangling()
        } else {
            // SAFETY: a valid non-zero layout; the block is freed with the
            // same allocator (moved into it) and layout in `free_block`.
            let p = unsafe { alloc.alloc(Self::LAYOUT) };
            NonNull::new(p.cast::<KBoxInner<T, A>>()).ok_or(AllocError::InsufficientResources)?
        };
        // SAFETY: the block is valid for a `KBoxInner<T, A>` (or the type
        // is zero-sized and the pointer dangling but aligned).
        unsafe { ptr::addr_of_mut!((*inner.as_ptr()).alloc).write(alloc) };
        Ok(inner)
    }

    /// Moves the allocator out of the block and frees the block with it.
    ///
    /// # Safety
    ///
    /// `inner` must come from `allocate_inner` (its allocator initialised,
    /// the block not freed yet); the value must already be dropped, moved
    /// out or never initialised.
    pub(crate) unsafe fn free_block(inner: *mut KBoxInner<T, A>) {
        // SAFETY: the caller guarantees the allocator is initialised; it is
        // read exactly once, here.
        let alloc = unsafe { ptr::addr_of!((*inner).alloc).read() };
        if Self::LAYOUT.size() != 0 {
            // SAFETY: allocated by `alloc` with LAYOUT in `allocate_inner`.
            unsafe { alloc.dealloc(inner.cast(), Self::LAYOUT) };
        }
        drop(alloc);
    }

    /// Wraps a block whose value and allocator are initialised.
    ///
    /// # Safety
    ///
    /// `inner` must come from `allocate_inner` with the value initialised.
    pub(crate) unsafe fn from_inner(inner: NonNull<KBoxInner<T, A>>) -> Self {
        Self {
            inner,
            _owns: PhantomData,
        }
    }
}

impl<T> KBox<T> {
    /// [`try_new_in`](Self::try_new_in) with [`GlobalAllocator`].
    pub fn try_new(value: T) -> Result<Self, (T, AllocError)> {
        Self::try_new_in(value, GlobalAllocator)
    }

    /// [`new_in`](Self::new_in) with [`GlobalAllocator`].
    pub fn new(value: T) -> Self {
        Self::new_in(value, GlobalAllocator)
    }

    /// [`pin_in`](Self::pin_in) with [`GlobalAllocator`].
    pub fn pin(value: T) -> Pin<Self> {
        Self::pin_in(value, GlobalAllocator)
    }
}

impl<T, A: Allocator> Drop for KBox<T, A> {
    fn drop(&mut self) {
        /// Frees the block even if the value's destructor panics.
        struct Free<T, A: Allocator>(*mut KBoxInner<T, A>);
        impl<T, A: Allocator> Drop for Free<T, A> {
            fn drop(&mut self) {
                // SAFETY: the block is live and its value already dropped
                // (or being unwound out of `drop_in_place`).
                unsafe { KBox::<T, A>::free_block(self.0) }
            }
        }
        let inner = self.inner.as_ptr();
        let _free = Free(inner);
        // SAFETY: the value is initialised and dropped exactly once.
        unsafe { ptr::drop_in_place(ptr::addr_of_mut!((*inner).value)) };
    }
}

impl<T, A: Allocator> Deref for KBox<T, A> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the value is initialised while the box lives.
        unsafe { &(*self.inner.as_ptr()).value }
    }
}

impl<T, A: Allocator> DerefMut for KBox<T, A> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the value is initialised and `&mut self` is unique.
        unsafe { &mut (*self.inner.as_ptr()).value }
    }
}

impl<T, A: Allocator> AsRef<T> for KBox<T, A> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T, A: Allocator> AsMut<T> for KBox<T, A> {
    fn as_mut(&mut self) -> &mut T {
        self
    }
}

impl<T: fmt::Debug, A: Allocator> fmt::Debug for KBox<T, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display, A: Allocator> fmt::Display for KBox<T, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: PartialEq, A: Allocator> PartialEq for KBox<T, A> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Eq, A: Allocator> Eq for KBox<T, A> {}
