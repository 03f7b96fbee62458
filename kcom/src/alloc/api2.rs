//! [`Api2`]: use any [`kcom::Allocator`](Allocator) with `allocator-api2`
//! collections on stable Rust.

use core::alloc::Layout;
use core::ptr::{self, NonNull};

use allocator_api2::alloc::{AllocError as Api2AllocError, Allocator as Api2Allocator};

use super::Allocator;

/// Adapts a [`kcom::Allocator`](Allocator) to
/// [`allocator_api2::alloc::Allocator`], so it can back
/// `allocator_api2::vec::Vec`, `allocator_api2::boxed::Box` and
/// `hashbrown::HashMap` (with its `allocator-api2` feature).
///
/// ```
/// use allocator_api2::vec::Vec;
/// use kcom::alloc::{Api2, Pool};
/// use kcom::GlobalAllocator;
///
/// let pool = Pool::with_blocks_in(64, 8, GlobalAllocator).unwrap();
/// let mut v: Vec<u32, _> = Vec::new_in(Api2::new(&pool));
/// v.extend([1, 2, 3]);
/// assert_eq!(pool.num_allocated(), 1);
/// // Asking for more than a block is an error, not an abort.
/// assert!(v.try_reserve(100).is_err());
/// ```
///
/// Semantics:
///
/// * A null from the inner allocator becomes `Err(AllocError)` (so
///   `try_reserve` fails cleanly); nothing panics or aborts here.
/// * Zero-sized requests never reach the inner allocator: they get a
///   dangling pointer aligned to the layout, and freeing a zero-sized block
///   does nothing. Growing from zero size allocates, shrinking to zero
///   frees.
/// * `grow`, `grow_zeroed` and `shrink` forward to the inner allocator
///   (so in-place resizing of strategies is used) when the alignment is
///   unchanged; a change of alignment (allowed by `allocator-api2`, not by
///   `kcom::Allocator`) is done by allocate-copy-free.
/// * The returned slice is exactly the requested size.
///
/// Moving or cloning an `Api2` moves or clones the inner allocator. The
/// [`Allocator`] contract makes that safe: moving never invalidates blocks,
/// and a clone is the same allocator (blocks of one may be freed by the
/// other), as allocator-api2 requires. Wrap a reference
/// (`Api2::new(&pool)`) to share one strategy between collections.
///
/// allocator-api2 also requires that a block stays valid until it is freed
/// or the allocator instance (and every clone) is dropped. The strategies'
/// bulk releases (`Bump::reset`, `Stack::pop`, the end of a
/// `Stack::scope`) take `&mut`, so `Api2` gives no `&mut` access to the
/// allocator it wraps: only [`inner`](Self::inner) (shared) and
/// [`into_inner`](Self::into_inner), which ends the instance as dropping
/// it would. A reset through an `Api2` does not compile:
///
/// ```compile_fail,E0616
/// use kcom::alloc::{Api2, Bump};
/// let mut a = Api2::new(Bump::with_capacity_in(64, kcom::GlobalAllocator).unwrap());
/// a.0.reset();
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Api2<A>(A);

impl<A> Api2<A> {
    /// Wraps `inner`.
    #[inline]
    pub const fn new(inner: A) -> Self {
        Api2(inner)
    }

    /// The inner allocator.
    #[inline]
    pub const fn inner(&self) -> &A {
        &self.0
    }

    /// Unwraps the inner allocator. This ends the `Api2` instance: blocks
    /// it handed out are the inner allocator's from now on, valid as its
    /// own contract says (a `reset` frees them all).
    #[inline]
    pub fn into_inner(self) -> A {
        self.0
    }
}

/// A well-aligned dangling pointer for a zero-sized block.
#[inline(always)]
fn dangling(layout: Layout) -> NonNull<[u8]> {
    // SAFETY: an alignment is never zero.
    let p = unsafe { NonNull::new_unchecked(ptr::without_provenance_mut::<u8>(layout.align())) };
    NonNull::slice_from_raw_parts(p, 0)
}

#[inline(always)]
fn block(p: *mut u8, size: usize) -> Result<NonNull<[u8]>, Api2AllocError> {
    NonNull::new(p)
        .map(|p| NonNull::slice_from_raw_parts(p, size))
        .ok_or(Api2AllocError)
}

impl<A: Allocator> Api2<A> {
    /// Allocate-copy-free, for resizes that change the alignment.
    ///
    /// # Safety
    ///
    /// `ptr` is a live non-zero-sized block of the inner allocator with `old`.
    unsafe fn realign(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
        zeroed: bool,
    ) -> Result<NonNull<[u8]>, Api2AllocError> {
        let new_block = if zeroed {
            self.allocate_zeroed(new)?
        } else {
            self.allocate(new)?
        };
        // SAFETY: both blocks are live and distinct; each holds at least the
        // smaller of the two sizes.
        unsafe {
            ptr::copy_nonoverlapping(
                ptr.as_ptr(),
                new_block.cast::<u8>().as_ptr(),
                old.size().min(new.size()),
            );
            self.0.dealloc(ptr.as_ptr(), old);
        }
        Ok(new_block)
    }
}

// SAFETY: non-zero-sized blocks come from the inner `kcom::Allocator`, whose
// contract gives at least `layout.size()` bytes aligned to `layout.align()`
// that stay valid until freed or the allocator is dropped, and are unaffected
// by moving it; a clone of `Api2` clones the inner allocator, which that
// contract makes the same allocator (as allocator-api2 requires of clones);
// zero-sized blocks are dangling, well-aligned and never dereferenced or
// freed. Layouts passed back to the inner allocator are
// exactly those it allocated with (the slice we return has the requested
// size, so a layout that "fits" has that exact size).
unsafe impl<A: Allocator> Api2Allocator for Api2<A> {
    #[inline]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, Api2AllocError> {
        if layout.size() == 0 {
            return Ok(dangling(layout));
        }
        // SAFETY: a valid non-zero layout; freed with the same layout.
        block(unsafe { self.0.alloc(layout) }, layout.size())
    }

    #[inline]
    fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, Api2AllocError> {
        if layout.size() == 0 {
            return Ok(dangling(layout));
        }
        // SAFETY: as for `allocate`.
        block(unsafe { self.0.alloc_zeroed(layout) }, layout.size())
    }

    #[inline]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY: a non-zero-sized block came from the inner allocator
            // with this layout (caller contract).
            unsafe { self.0.dealloc(ptr.as_ptr(), layout) }
        }
    }

    #[inline]
    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, Api2AllocError> {
        if old_layout.size() == 0 {
            return self.allocate(new_layout);
        }
        if old_layout.align() != new_layout.align() {
            // SAFETY: `ptr` is a live non-zero-sized block with `old_layout`.
            return unsafe { self.realign(ptr, old_layout, new_layout, false) };
        }
        // SAFETY: same alignment, larger size, live block (caller contract).
        block(
            unsafe { self.0.grow(ptr.as_ptr(), old_layout, new_layout) },
            new_layout.size(),
        )
    }

    #[inline]
    unsafe fn grow_zeroed(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, Api2AllocError> {
        if old_layout.size() == 0 {
            return self.allocate_zeroed(new_layout);
        }
        if old_layout.align() != new_layout.align() {
            // SAFETY: `ptr` is a live non-zero-sized block with `old_layout`;
            // the copy covers the old bytes and the rest is zeroed.
            return unsafe { self.realign(ptr, old_layout, new_layout, true) };
        }
        // SAFETY: same alignment, larger size, live block (caller contract).
        block(
            unsafe { self.0.grow_zeroed(ptr.as_ptr(), old_layout, new_layout) },
            new_layout.size(),
        )
    }

    #[inline]
    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, Api2AllocError> {
        if new_layout.size() == 0 {
            // SAFETY: the old block is live with `old_layout`.
            unsafe { self.deallocate(ptr, old_layout) };
            return Ok(dangling(new_layout));
        }
        if old_layout.align() != new_layout.align() {
            // SAFETY: `ptr` is live and non-zero-sized (old size >= new > 0).
            return unsafe { self.realign(ptr, old_layout, new_layout, false) };
        }
        // SAFETY: same alignment, smaller size, live block (caller contract).
        block(
            unsafe { self.0.shrink(ptr.as_ptr(), old_layout, new_layout) },
            new_layout.size(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc::{Bump, FreeList, GlobalAllocator, Pool, Stack};
    use allocator_api2::vec::Vec;

    fn exercise<A: Allocator>(a: &A, bounded: bool) {
        let mut v: Vec<u64, _> = Vec::new_in(Api2::new(a));
        for i in 0..40 {
            v.push(i);
        }
        v.truncate(3);
        v.shrink_to_fit();
        assert_eq!(&v[..], &[0, 1, 2]);
        let mut z: Vec<(), _> = Vec::new_in(Api2::new(a));
        for _ in 0..1000 {
            z.push(());
        }
        assert_eq!(z.len(), 1000);
        if bounded {
            // A strategy refuses at once; the host heap is not asked for 8 TiB.
            assert!(v.try_reserve(1 << 40).is_err());
            assert_eq!(&v[..], &[0, 1, 2]);
        }
    }

    #[test]
    fn works_with_every_strategy() {
        exercise(&GlobalAllocator, false);
        exercise(
            &Bump::with_capacity_in(4096, GlobalAllocator).unwrap(),
            true,
        );
        exercise(
            &FreeList::with_capacity_in(4096, GlobalAllocator).unwrap(),
            true,
        );
        exercise(
            &Pool::with_blocks_in(512, 4, GlobalAllocator).unwrap(),
            true,
        );
        let s = Stack::with_capacity_in(4096, GlobalAllocator).unwrap();
        exercise(&s, true);
        assert_eq!(s.total_allocated(), 0);
    }

    #[test]
    fn an_owned_strategy_lives_and_ends_with_its_instance() {
        // The collection owns the `Api2`, and so the strategy: nothing can
        // reset it while the collection's blocks are alive.
        let a = Api2::new(Bump::with_capacity_in(1024, GlobalAllocator).unwrap());
        let mut v: Vec<u64, _> = Vec::new_in(a);
        v.extend(0..16);
        assert!(v.allocator().inner().total_allocated() >= 16 * 8);
        assert_eq!(v.iter().sum::<u64>(), 120);
        let (ptr, len, cap, a) = v.into_raw_parts_with_alloc();
        assert_eq!((len, cap >= 16), (16, true));
        // SAFETY: the block is still live: the instance is alive, moved out
        // of the vector; it is freed through it here, with its layout.
        unsafe {
            a.deallocate(
                NonNull::new(ptr.cast::<u8>()).unwrap(),
                Layout::array::<u64>(cap).unwrap(),
            )
        };
        // Ending the instance hands the strategy back, to reset at will.
        let mut bump = a.into_inner();
        bump.reset();
        assert_eq!(bump.total_allocated(), 0);
    }

    #[test]
    fn zero_sized_and_realigning() {
        let f = FreeList::with_capacity_in(1024, GlobalAllocator).unwrap();
        let a = Api2::new(&f);
        let z = a.allocate(Layout::from_size_align(0, 64).unwrap()).unwrap();
        assert_eq!(z.cast::<u8>().as_ptr().addr() % 64, 0);
        assert_eq!(f.total_allocated(), 0);
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let l8 = Layout::from_size_align(8, 8).unwrap();
            let l64 = Layout::from_size_align(32, 64).unwrap();
            let p = a.allocate(l8).unwrap().cast::<u8>();
            p.as_ptr().write_bytes(5, 8);
            let q = a.grow_zeroed(p, l8, l64).unwrap().cast::<u8>();
            assert_eq!(q.as_ptr().addr() % 64, 0);
            let bytes = core::slice::from_raw_parts(q.as_ptr(), 32);
            assert!(bytes[..8].iter().all(|&b| b == 5) && bytes[8..].iter().all(|&b| b == 0));
            let r = a
                .shrink(q, l64, Layout::from_size_align(0, 1).unwrap())
                .unwrap();
            assert_eq!(r.len(), 0);
        }
        assert_eq!(f.total_allocated(), 0);
        assert_eq!(f.remaining(), 1024);
    }
    #[test]
    #[cfg(not(feature = "driver"))]
    fn a_clone_is_the_same_allocator() {
        use crate::alloc::WdkAllocator;
        use crate::alloc::sim;
        const TAG: u32 = WdkAllocator::tag(*b"tA2c");
        let a = Api2::new(WdkAllocator::non_paged(TAG));
        #[allow(clippy::clone_on_copy)] // the point is the clone
        let b = a.clone();
        let layout = Layout::from_size_align(40, 8).unwrap();
        let p = a.allocate(layout).unwrap().cast::<u8>();
        // SAFETY: `p` is live with `layout`; the clone grows and frees it.
        unsafe {
            let q = b.grow(p, layout, Layout::from_size_align(80, 8).unwrap());
            let q = q.unwrap().cast::<u8>();
            a.deallocate(q, Layout::from_size_align(80, 8).unwrap());
        }
        let st = sim::stats(crate::alloc::PoolType::NonPagedNx, TAG);
        assert_eq!((st.outstanding_allocations, st.total_frees), (0, 2));
        assert!(sim::forget_tag(TAG));
    }
}
