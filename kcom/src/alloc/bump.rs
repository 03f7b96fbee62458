//! [`Bump`]: a linear (arena) allocator.

use core::alloc::Layout;
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};

use super::region::{AllocError, Region, move_block};
use super::{Allocator, GlobalAllocator};

/// A bump (arena) allocator: hands out memory linearly from one region and
/// frees it all at once with [`reset`](Self::reset) or on drop.
///
/// * `alloc` is O(1): align the top, check the end, move the top.
/// * `dealloc` is a no-op, except that freeing the most recent allocation
///   gives its bytes back (the alignment padding before it is not).
/// * `grow`/`shrink` of the most recent allocation happen in place; growing
///   an older block moves it to the top (its old bytes stay used until reset).
/// * Zero-sized requests succeed (they only consume alignment padding).
///
/// The region comes from a backing allocator
/// ([`with_capacity_in`](Self::with_capacity_in), freed on drop) or from a
/// caller's buffer ([`from_buffer`](Bump::from_buffer), borrowed for `'buf`).
/// The region is held by raw pointer, so a `Bump` may be moved freely while
/// blocks are live.
///
/// # IRQL (driver builds)
///
/// The methods only touch the region: call them at any IRQL at which the
/// region may be accessed (`<= DISPATCH_LEVEL` for non-paged memory, below
/// `DISPATCH_LEVEL` for paged pool). Construction and drop call the backing
/// allocator and follow its IRQL rules.
///
/// `Bump` is `!Sync` (its state is in `Cell`s); wrap it in
/// [`Locked`](super::Locked) to share it between threads.
pub struct Bump<'buf, A: Allocator = GlobalAllocator> {
    region: Region<A>,
    /// Address of the first free byte.
    top: Cell<usize>,
    /// Address one past the region.
    end: usize,
    _buf: PhantomData<&'buf mut [MaybeUninit<u8>]>,
}

// SAFETY: the region is exclusively owned (or exclusively borrowed for
// 'buf); sending the `Bump` sends that ownership along with the backing
// allocator, which must itself be `Send`. `Cell` state is not shared.
unsafe impl<A: Allocator + Send> Send for Bump<'_, A> {}

/// Alignment of regions allocated from a backing allocator.
const REGION_ALIGN: usize = 16;

impl<A: Allocator> Bump<'static, A> {
    /// Creates a bump allocator over `capacity` bytes (16-byte aligned)
    /// allocated from `backing`; the region is given back on drop.
    ///
    /// # Errors
    ///
    /// [`AllocError::InvalidParameter`] if `capacity` is zero or too large
    /// for a `Layout`; [`AllocError::InsufficientResources`] if `backing`
    /// returns null.
    pub fn with_capacity_in(capacity: usize, backing: A) -> Result<Self, AllocError> {
        Ok(Bump::over(Region::new_in(capacity, REGION_ALIGN, backing)?))
    }
}

impl<'buf> Bump<'buf> {
    /// Creates a bump allocator over a caller's buffer, borrowed for `'buf`.
    ///
    /// Nothing is freed on drop (the buffer belongs to the caller). The type
    /// parameter `A` is the default [`GlobalAllocator`] and is never used.
    /// An empty buffer is allowed; then only zero-sized requests with an
    /// alignment the buffer's address satisfies succeed.
    pub fn from_buffer(buf: &'buf mut [MaybeUninit<u8>]) -> Self {
        let len = buf.len();
        let base = NonNull::new(buf.as_mut_ptr().cast::<u8>()).unwrap_or(NonNull::dangling());
        Bump::over(Region::borrowed(base, len))
    }
}

impl<A: Allocator> Bump<'_, A> {
    fn over(region: Region<A>) -> Self {
        let base = region.addr();
        // A region never wraps the address space, so this cannot overflow.
        let end = base + region.len();
        Bump {
            region,
            top: Cell::new(base),
            end,
            _buf: PhantomData,
        }
    }

    /// The size of the region in bytes.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.region.len()
    }

    /// Bytes still available at the top (before any alignment padding).
    #[inline]
    pub fn remaining(&self) -> usize {
        self.end - self.top.get()
    }

    /// Bytes consumed since the last reset: the requested sizes plus the
    /// alignment padding between blocks. Always
    /// `total_allocated() + remaining() == capacity()`.
    #[inline]
    pub fn total_allocated(&self) -> usize {
        self.top.get() - self.region.addr()
    }

    /// Frees every block at once. Taking `&mut self` guarantees no borrow of
    /// the allocator (e.g. a collection using it) is alive.
    #[inline]
    pub fn reset(&mut self) {
        self.top.set(self.region.addr());
    }

    /// The backing allocator, or `None` for a borrowed buffer.
    pub fn backing(&self) -> Option<&A> {
        self.region.backing()
    }

    /// Whether `[ptr, ptr + size)` ends exactly at the top (so it is the
    /// most recent block).
    #[inline(always)]
    fn is_top_block(&self, ptr: *mut u8, size: usize) -> bool {
        ptr.addr().checked_add(size) == Some(self.top.get()) && ptr.addr() >= self.region.addr()
    }
}

// SAFETY: blocks are carved from disjoint ranges `[start, start + size)` of
// the region below `top`, aligned as requested; `top` only moves down when the
// most recent block (the one ending at `top`) is freed or shrunk, so live
// blocks never overlap. The region is held by raw pointer and outlives all
// blocks (it is freed only on drop), so moving the `Bump` is fine.
unsafe impl<A: Allocator> Allocator for Bump<'_, A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let align_mask = layout.align() - 1;
        let Some(start) = self.top.get().checked_add(align_mask) else {
            return ptr::null_mut();
        };
        let start = start & !align_mask;
        match start.checked_add(layout.size()) {
            Some(end) if end <= self.end => {
                self.top.set(end);
                // `base <= top <= start <= end <= self.end`: the address lies
                // in the region (or one past it for a zero-sized block at the
                // end) and keeps the region's provenance.
                self.region.base().with_addr(start)
            }
            _ => ptr::null_mut(),
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        debug_assert!(
            self.region.offset_of(ptr).is_some(),
            "Bump::dealloc: pointer {ptr:p} does not belong to this allocator"
        );
        if self.is_top_block(ptr, layout.size()) {
            self.top.set(ptr.addr());
        }
    }

    #[inline]
    unsafe fn grow(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        if self.is_top_block(ptr, old_layout.size()) {
            // The most recent block: grow in place or not at all (a new block
            // would start at or after `top` and need even more room).
            return match ptr.addr().checked_add(new_layout.size()) {
                Some(end) if end <= self.end => {
                    self.top.set(end);
                    ptr
                }
                _ => ptr::null_mut(),
            };
        }
        // SAFETY: `ptr` is live with `old_layout` (caller contract); freeing a
        // block that is not the top is a no-op, so nothing needs releasing.
        unsafe { move_block(self, ptr, old_layout, new_layout, |_| {}) }
    }

    #[inline]
    unsafe fn shrink(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        if self.is_top_block(ptr, old_layout.size()) {
            self.top.set(ptr.addr() + new_layout.size());
        }
        // Any block still holds its first `new_layout.size()` bytes in place.
        ptr
    }

    /// The backing allocator's answer; `true` over a borrowed buffer, whose
    /// memory kcom cannot see.
    #[inline]
    fn pageable(&self) -> bool {
        self.region.pageable()
    }
}

impl<A: Allocator + fmt::Debug> fmt::Debug for Bump<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bump")
            .field("capacity", &self.capacity())
            .field("used", &self.total_allocated())
            .field("backing", &self.region.backing())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn allocates_linearly_and_aligned() {
        let b = Bump::with_capacity_in(256, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = b.alloc(l(3, 1));
            let c = b.alloc(l(8, 8));
            assert!(!a.is_null() && !c.is_null());
            assert_eq!(c.addr() % 8, 0);
            assert!(c.addr() >= a.addr() + 3);
            assert_eq!(b.total_allocated(), 16);
            assert_eq!(b.remaining(), 240);
        }
    }

    #[test]
    fn exhaustion_and_huge_requests_return_null() {
        let b = Bump::with_capacity_in(64, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            assert!(b.alloc(l(65, 1)).is_null());
            assert!(b.alloc(l(isize::MAX as usize - 64, 1)).is_null());
            if !b.region.addr().is_multiple_of(1 << 40) {
                // No address in the region is 2^40-aligned.
                assert!(b.alloc(l(0, 1 << 40)).is_null());
            }
            assert!(!b.alloc(l(64, 1)).is_null());
            assert!(b.alloc(l(1, 1)).is_null());
            assert_eq!(b.remaining(), 0);
        }
    }

    #[test]
    fn top_block_is_reclaimed_grown_and_shrunk_in_place() {
        let b = Bump::with_capacity_in(128, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let x = b.alloc(l(16, 8));
            let y = b.alloc(l(16, 8));
            b.dealloc(x, l(16, 8)); // not the top: no-op
            assert_eq!(b.total_allocated(), 32);
            let y2 = b.grow(y, l(16, 8), l(64, 8));
            assert_eq!(y2, y);
            assert_eq!(b.total_allocated(), 80);
            assert!(b.grow(y, l(64, 8), l(200, 8)).is_null());
            let y3 = b.shrink(y, l(64, 8), l(8, 8));
            assert_eq!(y3, y);
            assert_eq!(b.total_allocated(), 24);
            b.dealloc(y, l(8, 8));
            assert_eq!(b.total_allocated(), 16);
        }
    }

    #[test]
    fn growing_an_older_block_moves_it_and_keeps_data() {
        let b = Bump::with_capacity_in(128, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let x = b.alloc(l(4, 1));
            x.copy_from_nonoverlapping([1u8, 2, 3, 4].as_ptr(), 4);
            let _y = b.alloc(l(4, 1));
            let x2 = b.grow(x, l(4, 1), l(8, 1));
            assert_ne!(x2, x);
            assert_eq!(core::slice::from_raw_parts(x2, 4), &[1, 2, 3, 4]);
        }
    }

    #[test]
    fn reset_and_buffer() {
        let mut buf = [MaybeUninit::<u8>::uninit(); 32];
        let mut b = Bump::from_buffer(&mut buf);
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            assert!(!b.alloc(l(32, 1)).is_null());
            assert!(b.alloc(l(1, 1)).is_null());
        }
        b.reset();
        assert_eq!(b.remaining(), 32);
        assert!(b.backing().is_none());
        let mut empty: [MaybeUninit<u8>; 0] = [];
        let e = Bump::from_buffer(&mut empty);
        // SAFETY: a valid layout; nothing is allocated.
        unsafe { assert!(e.alloc(l(1, 1)).is_null()) };
    }

    #[test]
    fn zero_sized_and_bad_capacity() {
        assert_eq!(
            Bump::with_capacity_in(0, GlobalAllocator).err(),
            Some(AllocError::InvalidParameter)
        );
        assert_eq!(
            Bump::with_capacity_in(usize::MAX, GlobalAllocator).err(),
            Some(AllocError::InvalidParameter)
        );
        let b = Bump::with_capacity_in(8, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let z = b.alloc(l(0, 1));
            assert!(!z.is_null());
            b.dealloc(z, l(0, 1));
            assert_eq!(b.total_allocated(), 0);
        }
    }
}
