//! Allocators for kernel code: the [`Allocator`] trait, [`GlobalAllocator`],
//! the kernel pool allocator `WdkAllocator`, allocation strategies and boxes.
//!
//! # The contract in one paragraph
//!
//! An [`Allocator`] hands out raw blocks described by a [`Layout`] and takes
//! them back with the *same* layout. Failure is a null pointer, never a panic.
//! Zero-sized layouts are valid requests: an implementation returns either
//! null or a pointer that must later be given back to `dealloc` with that
//! same zero-sized layout. Allocators are stored inside the allocations they
//! made (`ComObject`, `KBox`) and moved out with `ptr::read` before the free,
//! so they must be bitwise-movable and must not borrow from the block being
//! freed: prefer small `Copy` handles such as [`GlobalAllocator`] or a shared
//! reference `&A`. Where a block may outlive every borrow (a COM object,
//! released by whoever holds the last reference; a pinned box, which may be
//! leaked) the allocator must be `'static` (and, for COM objects, `Send`).

use core::alloc::Layout;
use core::ptr;

mod api2;
mod bump;
mod free_list;
mod locked;
mod pool;
mod region;
mod stack;

pub use api2::Api2;
pub use bump::Bump;
pub use free_list::FreeList;
#[cfg(feature = "driver")]
#[cfg_attr(docsrs, doc(cfg(feature = "driver")))]
pub use locked::KSpinLock;
pub use locked::{DefaultLock, Locked, LockedGuard, RawLock, SpinLock};
pub use pool::{POOL_MAX_AUTO_ALIGN, Pool};
pub use region::AllocError;
pub use stack::Stack;
pub mod init;
pub mod kbox;
pub mod wdk;
/// The simulated kernel pool (host builds; also at `wdk::sim`).
#[cfg(not(feature = "driver"))]
#[cfg_attr(docsrs, doc(cfg(not(feature = "driver"))))]
pub use wdk::sim;

#[doc(hidden)]
pub use init::__FieldGuard;
pub use init::{FnInit, FromAllocError, InitBox, PinInit, pin_init_from_closure, try_init};
pub use kbox::KBox;
pub use wdk::{MEMORY_ALLOCATION_ALIGNMENT, PoolType, WdkAllocator, init_ex_allocate_pool2};

/// A minimal, object-safe allocator interface for kernel code.
///
/// It mirrors [`core::alloc::GlobalAlloc`] but is not tied to the global
/// allocator, can be used as `&dyn Allocator`, and is implemented for `&A`.
///
/// # Safety
///
/// Implementing this trait is `unsafe` because safe abstractions (`KBox`,
/// `ComObject`, the `allocator-api2` bridge) trust what it returns:
///
/// * a non-null pointer returned by `alloc`, `alloc_zeroed`, `grow` or
///   `shrink` points to a block of at least `layout.size()` bytes aligned to
///   `layout.align()`, that does not overlap any other live block of this
///   allocator, and stays valid until it is passed to `dealloc` (or to a
///   successful `grow`/`shrink`), the allocator is dropped, or a method
///   that releases blocks in bulk runs (`reset`, `pop`, the end of a
///   `Stack::scope`). Such methods take `&mut self` (or `self`), never
///   `&self`: a holder of blocks holds the allocator, or a shared
///   reference to it, which keeps them out. A wrapper that promises more
///   (the allocator-api2 bridge [`Api2`]: valid until the instance is
///   dropped) must not give `&mut` access to the allocator it wraps;
/// * `alloc_zeroed` returns zeroed memory;
/// * moving the allocator (bitwise) does not invalidate live blocks;
/// * [`pageable`](Self::pageable) returns `true` if any block it hands out
///   may lie in pageable memory (paged pool): kcom relies on it to keep COM
///   objects, whose reference count any holder may touch at
///   `DISPATCH_LEVEL`, out of paged pool. Wrappers and strategies report
///   their backing allocator's answer;
/// * if the type is `Clone`, every clone behaves as the same allocator: a
///   block allocated through one may be freed, grown or shrunk through any
///   other, and stays valid until it is freed or the last of them is dropped.
///   (The allocator-api2 bridge [`Api2`] relies on it: allocator-api2
///   requires it of clones.) Stateless handles such as [`GlobalAllocator`],
///   `WdkAllocator` and `&A` are such clones; an allocator that owns its
///   memory, like the strategies, must not implement `Clone` as a copy of
///   its state.
pub unsafe trait Allocator {
    /// Allocates a block for `layout`; returns null on failure.
    ///
    /// # Safety
    ///
    /// `layout` must be a valid layout (guaranteed by the `Layout` type); the
    /// caller must eventually free the block with `dealloc` on this allocator
    /// with the same layout, and must not access it past `layout.size()`.
    unsafe fn alloc(&self, layout: Layout) -> *mut u8;

    /// Allocates a zeroed block for `layout`; returns null on failure.
    ///
    /// The default calls [`alloc`](Self::alloc) and zeroes the block.
    ///
    /// # Safety
    ///
    /// As for [`alloc`](Self::alloc).
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which is ours.
        let p = unsafe { self.alloc(layout) };
        if !p.is_null() {
            // SAFETY: `alloc` returned a non-null block of at least
            // `layout.size()` writable bytes.
            unsafe { ptr::write_bytes(p, 0, layout.size()) };
        }
        p
    }

    /// Frees a block.
    ///
    /// # Safety
    ///
    /// `ptr` must be a block currently allocated by this allocator (returned
    /// by `alloc`, `alloc_zeroed`, `grow` or `shrink` and not freed since),
    /// and `layout` must be the layout it was allocated with (for a block
    /// that was grown or shrunk: the latest layout).
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout);

    /// Grows a block to `new_layout`, preserving its first
    /// `old_layout.size()` bytes; returns null on failure, in which case the
    /// old block is untouched and still allocated.
    ///
    /// The default allocates a new block, copies and frees the old one.
    ///
    /// # Safety
    ///
    /// `ptr` must be currently allocated by this allocator with `old_layout`,
    /// `new_layout.size() >= old_layout.size()`, and
    /// `new_layout.align() == old_layout.align()`. On success the old pointer
    /// must no longer be used.
    unsafe fn grow(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        debug_assert!(new_layout.size() >= old_layout.size());
        debug_assert_eq!(new_layout.align(), old_layout.align());
        // SAFETY: forwarded contract; see `realloc_by_copy`.
        unsafe { realloc_by_copy(self, ptr, old_layout, new_layout) }
    }

    /// Like [`grow`](Self::grow), and the bytes past `old_layout.size()` are
    /// zeroed.
    ///
    /// # Safety
    ///
    /// As for [`grow`](Self::grow).
    unsafe fn grow_zeroed(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        // SAFETY: same contract as `grow`, forwarded.
        let p = unsafe { self.grow(ptr, old_layout, new_layout) };
        if !p.is_null() {
            // SAFETY: the grown block holds `new_layout.size()` bytes, of
            // which the tail past the old size is ours to initialise.
            unsafe {
                ptr::write_bytes(
                    p.add(old_layout.size()),
                    0,
                    new_layout.size() - old_layout.size(),
                )
            };
        }
        p
    }

    /// Shrinks a block to `new_layout`, preserving its first
    /// `new_layout.size()` bytes; returns null on failure, in which case the
    /// old block is untouched and still allocated.
    ///
    /// # Safety
    ///
    /// `ptr` must be currently allocated by this allocator with `old_layout`,
    /// `new_layout.size() <= old_layout.size()`, and
    /// `new_layout.align() == old_layout.align()`. On success the old pointer
    /// must no longer be used.
    unsafe fn shrink(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        debug_assert!(new_layout.size() <= old_layout.size());
        debug_assert_eq!(new_layout.align(), old_layout.align());
        // SAFETY: forwarded contract; see `realloc_by_copy`.
        unsafe { realloc_by_copy(self, ptr, old_layout, new_layout) }
    }

    /// The largest alignment this allocator can ever serve: a request with
    /// a larger alignment always gets null. The strategies built over an
    /// allocator read it to report a region it could never provide as
    /// [`AllocError::InvalidParameter`] rather than
    /// [`AllocError::InsufficientResources`].
    ///
    /// The default is `usize::MAX` (no limit known). Only the error reported
    /// depends on it, not soundness.
    #[inline]
    fn max_align(&self) -> usize {
        usize::MAX
    }

    /// Whether blocks from this allocator may lie in pageable memory (paged
    /// pool), which code running at `DISPATCH_LEVEL` or above must not touch.
    ///
    /// COM objects refuse such allocators (`STATUS_INVALID_PARAMETER` from
    /// their constructors): any holder of a reference may AddRef or Release
    /// it from a DPC or under a spin lock. The default is `false`; an
    /// allocator whose blocks may be paged must return `true` (see the
    /// trait's safety contract).
    #[inline]
    fn pageable(&self) -> bool {
        false
    }
}

/// Refuses an allocator whose blocks may be paged
/// ([`Allocator::pageable`]) with [`AllocError::InvalidParameter`], where
/// the blocks will be touched at `DISPATCH_LEVEL`: a COM object (its count
/// is touched by any holder at any IRQL) and a [`Locked`] whose lock is
/// held at `DISPATCH_LEVEL` ([`RawLock::RAISES_IRQL`]).
#[inline]
pub(crate) fn require_non_paged<A: Allocator + ?Sized>(alloc: &A) -> Result<(), AllocError> {
    if alloc.pageable() {
        Err(AllocError::InvalidParameter)
    } else {
        Ok(())
    }
}

/// An [`Allocator`] whose blocks always lie in non-paged memory, which code
/// running at `DISPATCH_LEVEL` (a DPC, a spin lock holder) may touch.
///
/// kcom requires it where the kernel touches a block at `DISPATCH_LEVEL`
/// behind the caller's back: the async executor's waker state, whose
/// `KEVENT` is set by wakers on any thread at up to `DISPATCH_LEVEL`
/// (`async_com::block_on_in`, with the `async-com` feature).
///
/// Implemented for [`GlobalAllocator`] (non-paged pool in driver builds)
/// and for `&A` when `A` is. `WdkAllocator` does not implement it: its pool
/// is a run-time value and may be paged.
///
/// # Safety
///
/// Every block the allocator returns must lie in non-paged memory for as
/// long as it is allocated (on the host, where nothing is paged, the marker
/// states that the allocator would use non-paged memory in a driver build),
/// and [`pageable`](Allocator::pageable) must return `false`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not known to allocate non-paged memory",
    label = "this allocator may hand out pageable memory",
    note = "the memory is touched at DISPATCH_LEVEL: use GlobalAllocator (non-paged pool in driver builds), or implement the unsafe trait NonPagedAllocator for an allocator whose blocks are always non-paged"
)]
pub unsafe trait NonPagedAllocator: Allocator {}

// SAFETY: driver builds allocate from NonPagedNx pool (`wdk/`); the host
// heap is never paged out from under a running thread.
unsafe impl NonPagedAllocator for GlobalAllocator {}
// SAFETY: the blocks are `A`'s, which are non-paged.
unsafe impl<A: NonPagedAllocator + ?Sized> NonPagedAllocator for &A {}

/// Allocate `new_layout`, copy the common prefix, free the old block.
///
/// # Safety
///
/// `ptr` must be currently allocated by `a` with `old_layout`.
unsafe fn realloc_by_copy<A: Allocator + ?Sized>(
    a: &A,
    ptr: *mut u8,
    old_layout: Layout,
    new_layout: Layout,
) -> *mut u8 {
    // SAFETY: `new_layout` is a valid layout; the new block is freed by the
    // caller with `new_layout` (that is the contract of grow/shrink).
    let new = unsafe { a.alloc(new_layout) };
    if !new.is_null() {
        let n = old_layout.size().min(new_layout.size());
        // SAFETY: both blocks are live, hold at least `n` bytes, and do not
        // overlap (the old one is still allocated while the new one is made).
        unsafe { ptr::copy_nonoverlapping(ptr, new, n) };
        // SAFETY: `ptr` is currently allocated by `a` with `old_layout`.
        unsafe { a.dealloc(ptr, old_layout) };
    }
    new
}

// SAFETY: every method forwards to `A`, which upholds the contract; a shared
// reference is `Copy`, so moving it never moves the allocator's state.
unsafe impl<A: Allocator + ?Sized> Allocator for &A {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { (**self).alloc(layout) }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { (**self).alloc_zeroed(layout) }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { (**self).dealloc(ptr, layout) }
    }
    #[inline]
    unsafe fn grow(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { (**self).grow(ptr, old_layout, new_layout) }
    }
    #[inline]
    unsafe fn grow_zeroed(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { (**self).grow_zeroed(ptr, old_layout, new_layout) }
    }
    #[inline]
    unsafe fn shrink(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { (**self).shrink(ptr, old_layout, new_layout) }
    }
    #[inline]
    fn max_align(&self) -> usize {
        (**self).max_align()
    }
    #[inline]
    fn pageable(&self) -> bool {
        (**self).pageable()
    }
}

/// Frees a single `T` allocated from `alloc` with `Layout::new::<T>()`.
///
/// Does **not** run `T`'s destructor.
///
/// # Safety
///
/// `ptr` must have been allocated by `alloc` with `Layout::new::<T>()` and
/// not freed since.
pub unsafe fn dealloc_value_in<T, A: Allocator + ?Sized>(alloc: &A, ptr: *mut T) {
    // SAFETY: the caller guarantees `ptr` came from `alloc` with this layout.
    unsafe { alloc.dealloc(ptr.cast(), Layout::new::<T>()) }
}

/// Frees an array of `len` `T`s allocated from `alloc` with
/// `Layout::array::<T>(len)`.
///
/// Does **not** run the elements' destructors.
///
/// # Safety
///
/// `ptr` must have been allocated by `alloc` with `Layout::array::<T>(len)`
/// (so that layout is valid) and not freed since.
pub unsafe fn dealloc_slice_in<T, A: Allocator + ?Sized>(alloc: &A, ptr: *mut T, len: usize) {
    // The layout was valid when the block was allocated, so this cannot fail
    // for a caller that upholds the contract; refuse to free otherwise.
    let Ok(layout) = Layout::array::<T>(len) else {
        debug_assert!(false, "dealloc_slice_in: invalid length {len}");
        return;
    };
    // SAFETY: the caller guarantees `ptr` came from `alloc` with this layout.
    unsafe { alloc.dealloc(ptr.cast(), layout) }
}

/// The default allocator of `ComObject`, `KBox` and `InitBox`.
///
/// * Driver builds (feature `driver`): `WdkAllocator` with
///   `PoolType::NonPagedNx` and the tag [`GlobalAllocator::TAG`].
/// * Host and Miri builds: the Rust global allocator (`alloc::alloc`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GlobalAllocator;

impl GlobalAllocator {
    /// Pool tag used by the driver-build `GlobalAllocator` (`'kcom'`, shown
    /// as `kcom` by `!poolused`).
    pub const TAG: u32 = u32::from_le_bytes(*b"kcom");
}

#[cfg(not(feature = "driver"))]
// SAFETY: forwards to the Rust global allocator, which upholds the
// `GlobalAlloc` contract for non-zero sizes; zero-sized requests are served
// as 1-byte requests with the same alignment, so they are real, unique
// blocks, or refused (null) when that 1-byte layout does not exist.
unsafe impl Allocator for GlobalAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match host_layout(layout) {
            // SAFETY: `host_layout` returns a valid layout of non-zero size.
            Some(l) => unsafe { ::std_alloc::alloc::alloc(l) },
            None => ptr::null_mut(),
        }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match host_layout(layout) {
            // SAFETY: `host_layout` returns a valid layout of non-zero size.
            Some(l) => unsafe { ::std_alloc::alloc::alloc_zeroed(l) },
            None => ptr::null_mut(),
        }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // A layout `host_layout` refuses was never served, so no live block
        // has it (the caller's contract): nothing to free.
        if let Some(l) = host_layout(layout) {
            // SAFETY: `ptr` was allocated above with this same layout.
            unsafe { ::std_alloc::alloc::dealloc(ptr, l) }
        }
    }
    #[inline]
    unsafe fn grow(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        // SAFETY: as for `shrink`.
        unsafe { host_realloc(ptr, old_layout, new_layout) }
    }
    #[inline]
    unsafe fn shrink(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract: `ptr` is live with `old_layout`.
        unsafe { host_realloc(ptr, old_layout, new_layout) }
    }
}

/// The host global allocator forbids zero-sized requests: serve them as one
/// byte with the same alignment, or not at all when no such layout exists
/// (an alignment of `2^(usize::BITS - 1)`: one byte rounded up to it
/// exceeds `isize::MAX`).
#[cfg(not(feature = "driver"))]
#[inline]
pub(crate) const fn host_layout(layout: Layout) -> Option<Layout> {
    if layout.size() != 0 {
        return Some(layout);
    }
    match Layout::from_size_align(1, layout.align()) {
        Ok(l) => Some(l),
        Err(_) => None,
    }
}

/// `realloc` of a block of the host global allocator.
///
/// # Safety
///
/// `ptr` must be a live block of [`GlobalAllocator`] with `old_layout`, and
/// `new_layout` must have the same alignment.
#[cfg(not(feature = "driver"))]
#[inline]
unsafe fn host_realloc(ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
    let (Some(old), Some(new)) = (host_layout(old_layout), host_layout(new_layout)) else {
        // `old_layout` was served, so it has a host layout; a new layout
        // with the same alignment and a size of at least one does too.
        return ptr::null_mut();
    };
    // SAFETY: `ptr` was allocated with `old` (the caller's contract); the new
    // size is non-zero and, rounded up to the alignment, is a valid layout
    // (`new` exists).
    unsafe { ::std_alloc::alloc::realloc(ptr, old, new.size()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc::Bump;

    /// Uses any allocator through `&dyn Allocator` (the trait is object-safe).
    fn round_trip(a: &dyn Allocator, layout: Layout) -> bool {
        // SAFETY: a valid layout; the block is freed below with it.
        let p = unsafe { a.alloc_zeroed(layout) };
        if p.is_null() {
            return false;
        }
        // SAFETY: `p` holds `layout.size()` zeroed bytes; grown, the first
        // ones are kept; freed once with the latest layout.
        unsafe {
            let zeroed = (0..layout.size()).all(|i| *p.add(i) == 0);
            p.write_bytes(0x5A, layout.size());
            let bigger = Layout::from_size_align(layout.size() * 2, layout.align()).unwrap();
            let q = a.grow(p, layout, bigger);
            assert!(!q.is_null());
            let kept = (0..layout.size()).all(|i| *q.add(i) == 0x5A);
            a.dealloc(q, bigger);
            zeroed && kept
        }
    }

    #[test]
    fn allocators_work_as_trait_objects() {
        let layout = Layout::from_size_align(48, 16).unwrap();
        assert!(round_trip(&GlobalAllocator, layout));
        let bump = Bump::with_capacity_in(1024, GlobalAllocator).unwrap();
        let by_ref: &dyn Allocator = &&bump;
        assert!(round_trip(by_ref, layout));
        assert!(round_trip(&bump, layout));
    }

    #[test]
    fn typed_dealloc_helpers_free_with_the_type_layout() {
        let a = GlobalAllocator;
        // SAFETY: allocated with the layouts the helpers use, freed once.
        unsafe {
            let one = a.alloc(Layout::new::<u64>()).cast::<u64>();
            assert!(!one.is_null());
            one.write(7);
            dealloc_value_in(&a, one);
            let many = a.alloc(Layout::array::<u32>(10).unwrap()).cast::<u32>();
            assert!(!many.is_null());
            dealloc_slice_in(&a, many, 10);
        }
    }
    #[test]
    fn zero_sized_request_with_the_largest_alignment_is_refused() {
        // Valid as a zero-sized layout; one byte at this alignment is not a
        // valid layout, so the host global allocator cannot serve it.
        let huge = Layout::from_size_align(0, 1 << (usize::BITS - 1)).unwrap();
        let a = GlobalAllocator;
        // SAFETY: a valid layout; nothing is returned to free.
        unsafe {
            assert!(a.alloc(huge).is_null());
            assert!(a.alloc_zeroed(huge).is_null());
        }
        // A zero-sized request with an ordinary alignment is a real block.
        let small = Layout::from_size_align(0, 64).unwrap();
        // SAFETY: a valid layout; freed right away with it.
        unsafe {
            let p = a.alloc(small);
            assert!(!p.is_null() && p.addr().is_multiple_of(64));
            a.dealloc(p, small);
        }
    }
    #[test]
    #[cfg(not(feature = "driver"))]
    fn strategies_and_wrappers_report_their_backing_pageability() {
        use crate::alloc::{FreeList, Locked, Pool, Stack};
        use core::mem::MaybeUninit;
        let paged = WdkAllocator::paged(WdkAllocator::tag(*b"tPgb"));
        let non_paged = WdkAllocator::non_paged(WdkAllocator::tag(*b"tPgb"));
        assert!(paged.pageable() && !non_paged.pageable());
        assert!(!GlobalAllocator.pageable() && (&&paged).pageable());
        for (backing, expect) in [(paged, true), (non_paged, false)] {
            let b = Bump::with_capacity_in(64, backing).unwrap();
            let p = Pool::with_blocks_in(16, 4, backing).unwrap();
            let f = FreeList::with_capacity_in(256, backing).unwrap();
            let s = Stack::with_capacity_in(64, backing).unwrap();
            assert_eq!(
                [b.pageable(), p.pageable(), f.pageable(), s.pageable()],
                [expect; 4]
            );
            assert_eq!(Locked::new(p).pageable(), expect);
        }
        let mut buf = [MaybeUninit::<u8>::uninit(); 64];
        assert!(
            Bump::from_buffer(&mut buf).pageable(),
            "a borrowed buffer may be anywhere"
        );
    }
}
