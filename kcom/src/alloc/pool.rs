//! [`Pool`]: fixed-size blocks with O(1) allocation and free.

use core::alloc::Layout;
use core::cell::Cell;
use core::fmt;
use core::mem::size_of;
use core::ptr;

use super::region::{AllocError, Region};
use super::{Allocator, GlobalAllocator, MEMORY_ALLOCATION_ALIGNMENT};

/// Largest alignment [`Pool::with_blocks_in`] derives from a block size:
/// what the kernel pool guarantees for every block
/// ([`MEMORY_ALLOCATION_ALIGNMENT`], 16 bytes on 64-bit Windows), so a pool
/// over `WdkAllocator` works for every block size. Ask for more with
/// [`Pool::with_layout_in`].
pub const POOL_MAX_AUTO_ALIGN: usize = MEMORY_ALLOCATION_ALIGNMENT;

/// A pool of equally sized blocks with O(1) `alloc` and `dealloc`.
///
/// Free blocks form an intrusive singly linked list (the link lives in the
/// free block itself); blocks never used yet are handed out from a moving
/// index, so construction is O(1) too.
///
/// # Block size and alignment
///
/// With [`with_blocks_in`](Self::with_blocks_in)`(block_size, n, backing)`:
/// the block size is rounded up to at least, and a multiple of, the pointer
/// size; the block alignment is the largest power of two dividing that
/// size, capped at [`POOL_MAX_AUTO_ALIGN`] (what the kernel pool
/// guarantees) and at what the backing allocator can serve (so, on 64-bit,
/// 24 → align 8, 48 → 16, 256 → 16).
/// [`with_layout_in`](Self::with_layout_in) takes an explicit alignment
/// instead; one the backing allocator can never serve (above 16 bytes from
/// `WdkAllocator` without `wdk-alloc-align`, say) is
/// [`AllocError::InvalidParameter`].
///
/// A request is served only if `layout.size() <= block_size()` and
/// `layout.align() <= block_align()`; anything larger or more aligned gets
/// null, never a block. Zero-sized requests take a block. Growing within the
/// block size and every shrink happen in place.
///
/// # Misuse
///
/// `dealloc` always checks that the pointer is a block of this pool (range
/// and stride) and ignores it otherwise; it also ignores an immediate
/// double free of the most recently freed block. Debug builds keep one bit
/// per block (in the region, after the blocks) and `debug_assert!` on any
/// foreign pointer or double free.
///
/// # IRQL (driver builds)
///
/// The methods only touch the region: call them at any IRQL at which the
/// region may be accessed (`<= DISPATCH_LEVEL` for non-paged memory, below
/// `DISPATCH_LEVEL` for paged pool). Construction and drop call the backing
/// allocator and follow its IRQL rules.
///
/// `Pool` is `!Sync`; wrap it in [`Locked`](super::Locked) to share it.
pub struct Pool<A: Allocator = GlobalAllocator> {
    region: Region<A>,
    /// Distance between blocks (the usable block size).
    block_size: usize,
    block_align: usize,
    num_blocks: usize,
    /// `block_size * num_blocks`: the end of the blocks (the debug bitmap follows).
    blocks_len: usize,
    /// `block_size - 1` if it is a power of two, else 0 (then `%` is used).
    stride_mask: usize,
    /// Head of the intrusive free list, null if empty.
    free_head: Cell<*mut u8>,
    /// Index of the first block never handed out.
    untouched: Cell<usize>,
    allocated: Cell<usize>,
}

// SAFETY: the pool exclusively owns its region; its `Cell`s and raw pointers
// point only into that region, so sending the pool (and its `Send` backing
// allocator) to another thread sends all of it.
unsafe impl<A: Allocator + Send> Send for Pool<A> {}

const WORD: usize = size_of::<usize>();

impl<A: Allocator> Pool<A> {
    /// Creates a pool of `num_blocks` blocks of `block_size` bytes (rounded
    /// as described in the type docs) from `backing`.
    ///
    /// # Errors
    ///
    /// [`AllocError::InvalidParameter`] if `num_blocks` is zero or the total
    /// size overflows; [`AllocError::InsufficientResources`] if `backing`
    /// returns null.
    pub fn with_blocks_in(
        block_size: usize,
        num_blocks: usize,
        backing: A,
    ) -> Result<Self, AllocError> {
        let size = block_size
            .max(WORD)
            .checked_next_multiple_of(WORD)
            .ok_or(AllocError::InvalidParameter)?;
        let align = (1usize << size.trailing_zeros())
            .min(POOL_MAX_AUTO_ALIGN)
            .min(backing.max_align())
            .max(WORD);
        Self::build(size, align, num_blocks, backing)
    }

    /// Creates a pool of `num_blocks` blocks, each fitting `block`: the block
    /// alignment is `max(block.align(), pointer size)` and the block size is
    /// `block.size()` rounded up to at least a pointer and to a multiple of
    /// that alignment.
    ///
    /// # Errors
    ///
    /// As for [`with_blocks_in`](Self::with_blocks_in), and
    /// [`AllocError::InvalidParameter`] for an alignment `backing` can never
    /// serve ([`Allocator::max_align`]).
    pub fn with_layout_in(
        block: Layout,
        num_blocks: usize,
        backing: A,
    ) -> Result<Self, AllocError> {
        let align = block.align().max(WORD);
        let size = block
            .size()
            .max(WORD)
            .checked_next_multiple_of(align)
            .ok_or(AllocError::InvalidParameter)?;
        Self::build(size, align, num_blocks, backing)
    }

    fn build(size: usize, align: usize, num_blocks: usize, backing: A) -> Result<Self, AllocError> {
        if num_blocks == 0 {
            return Err(AllocError::InvalidParameter);
        }
        let blocks = size
            .checked_mul(num_blocks)
            .ok_or(AllocError::InvalidParameter)?;
        // Debug builds keep one "live" bit per block after the blocks.
        let len = if cfg!(debug_assertions) {
            blocks
                .checked_add(num_blocks.div_ceil(8))
                .ok_or(AllocError::InvalidParameter)?
        } else {
            blocks
        };
        let region = Region::new_in(len, align, backing)?;
        #[cfg(debug_assertions)]
        // SAFETY: the bitmap bytes `[blocks, len)` lie inside the region.
        unsafe {
            ptr::write_bytes(region.base().add(blocks), 0, len - blocks)
        };
        Ok(Pool {
            region,
            block_size: size,
            block_align: align,
            num_blocks,
            blocks_len: blocks,
            stride_mask: if size.is_power_of_two() { size - 1 } else { 0 },
            free_head: Cell::new(ptr::null_mut()),
            untouched: Cell::new(0),
            allocated: Cell::new(0),
        })
    }

    /// The usable size of every block.
    #[inline]
    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// The alignment of every block.
    #[inline]
    pub fn block_align(&self) -> usize {
        self.block_align
    }

    /// The number of blocks in the pool.
    #[inline]
    pub fn num_blocks(&self) -> usize {
        self.num_blocks
    }

    /// The number of blocks available.
    #[inline]
    pub fn num_free_blocks(&self) -> usize {
        self.num_blocks - self.allocated.get()
    }

    /// The number of blocks currently allocated.
    #[inline]
    pub fn num_allocated(&self) -> usize {
        self.allocated.get()
    }

    /// Frees every block at once.
    pub fn reset(&mut self) {
        self.free_head.set(ptr::null_mut());
        self.untouched.set(0);
        self.allocated.set(0);
        #[cfg(debug_assertions)]
        {
            let blocks = self.blocks_len;
            // SAFETY: the bitmap bytes `[blocks, len)` lie inside the region.
            unsafe {
                ptr::write_bytes(
                    self.region.base().add(blocks),
                    0,
                    self.region.len() - blocks,
                )
            };
        }
    }

    /// The backing allocator.
    pub fn backing(&self) -> Option<&A> {
        self.region.backing()
    }

    /// The offset of the block starting at `ptr`, if it is one.
    #[inline(always)]
    fn block_offset(&self, ptr: *mut u8) -> Option<usize> {
        let off = ptr.addr().wrapping_sub(self.region.addr());
        if off >= self.blocks_len {
            return None;
        }
        let misaligned = if self.stride_mask != 0 {
            off & self.stride_mask
        } else {
            off % self.block_size
        };
        (misaligned == 0).then_some(off)
    }

    /// Flips the debug "live" bit of block `i`; returns its previous value.
    #[cfg(debug_assertions)]
    fn toggle_live(&self, i: usize) -> bool {
        let blocks = self.blocks_len;
        // SAFETY: `i < num_blocks`, so byte `blocks + i / 8` is in the bitmap
        // inside the region; only this pool accesses the bitmap.
        unsafe {
            let byte = self.region.base().add(blocks + i / 8);
            let old = *byte;
            *byte = old ^ (1 << (i % 8));
            old & (1 << (i % 8)) != 0
        }
    }
}

// SAFETY: a block is handed out only if the layout fits it (size and
// alignment); each block is either in the free list, never touched, or
// allocated, and moves between those states only in alloc/dealloc, so live
// blocks are distinct and never overlap. The region is held by raw pointer.
unsafe impl<A: Allocator> Allocator for Pool<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > self.block_size || layout.align() > self.block_align {
            return ptr::null_mut();
        }
        let head = self.free_head.get();
        let p = if !head.is_null() {
            // SAFETY: a free block starts with the link to the next free
            // block, written (aligned: blocks are pointer-aligned) in dealloc.
            self.free_head.set(unsafe { head.cast::<*mut u8>().read() });
            head
        } else {
            let i = self.untouched.get();
            if i == self.num_blocks {
                return ptr::null_mut();
            }
            self.untouched.set(i + 1);
            // SAFETY: `i < num_blocks`, so block `i` is inside the region.
            unsafe { self.region.base().add(i * self.block_size) }
        };
        self.allocated.set(self.allocated.get() + 1);
        #[cfg(debug_assertions)]
        if let Some(off) = self.block_offset(p) {
            let i = off / self.block_size;
            let was_live = self.toggle_live(i);
            debug_assert!(
                !was_live,
                "Pool: internal error, block {i} handed out twice"
            );
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(_off) = self.block_offset(ptr) else {
            debug_assert!(
                false,
                "Pool::dealloc: pointer {ptr:p} is not a block of this pool"
            );
            return;
        };
        debug_assert!(
            layout.size() <= self.block_size && layout.align() <= self.block_align,
            "Pool::dealloc: layout {layout:?} cannot belong to this pool"
        );
        let head = self.free_head.get();
        if ptr == head {
            debug_assert!(false, "Pool::dealloc: double free of block {ptr:p}");
            return;
        }
        #[cfg(debug_assertions)]
        if !self.toggle_live(_off / self.block_size) {
            self.toggle_live(_off / self.block_size);
            debug_assert!(false, "Pool::dealloc: double free of block {ptr:p}");
            return;
        }
        // SAFETY: `ptr` is the start of a block of this pool (checked above),
        // pointer-aligned and at least a pointer long; it is now free, so its
        // first word holds the free-list link.
        unsafe { ptr.cast::<*mut u8>().write(head) };
        self.free_head.set(ptr);
        self.allocated.set(self.allocated.get() - 1);
    }

    #[inline]
    unsafe fn grow(&self, ptr: *mut u8, _old_layout: Layout, new_layout: Layout) -> *mut u8 {
        // Every block is `block_size` long: grow in place or not at all.
        if new_layout.size() <= self.block_size {
            ptr
        } else {
            ptr::null_mut()
        }
    }

    #[inline]
    unsafe fn shrink(&self, ptr: *mut u8, _old_layout: Layout, _new_layout: Layout) -> *mut u8 {
        ptr
    }

    /// The block alignment: nothing more aligned is ever served.
    #[inline]
    fn max_align(&self) -> usize {
        self.block_align
    }
    #[inline]
    fn pageable(&self) -> bool {
        self.region.pageable()
    }
}

impl<A: Allocator + fmt::Debug> fmt::Debug for Pool<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("block_size", &self.block_size)
            .field("block_align", &self.block_align)
            .field("num_blocks", &self.num_blocks)
            .field("num_allocated", &self.num_allocated())
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
    fn block_geometry() {
        let p = Pool::with_blocks_in(24, 4, GlobalAllocator).unwrap();
        assert_eq!((p.block_size(), p.block_align()), (24, 8));
        let p = Pool::with_blocks_in(48, 4, GlobalAllocator).unwrap();
        assert_eq!((p.block_size(), p.block_align()), (48, 16));
        let p = Pool::with_blocks_in(256, 4, GlobalAllocator).unwrap();
        assert_eq!(
            (p.block_size(), p.block_align()),
            (256, MEMORY_ALLOCATION_ALIGNMENT)
        );
        let p = Pool::with_blocks_in(1, 4, GlobalAllocator).unwrap();
        assert_eq!((p.block_size(), p.block_align()), (WORD, WORD));
        let p = Pool::with_layout_in(l(40, 128), 2, GlobalAllocator).unwrap();
        assert_eq!((p.block_size(), p.block_align()), (128, 128));
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = p.alloc(l(40, 128));
            let b = p.alloc(l(128, 128));
            assert_eq!((a.addr() % 128, b.addr() % 128), (0, 0));
            p.dealloc(a, l(40, 128));
            p.dealloc(b, l(128, 128));
        }
    }

    #[test]
    fn bad_parameters() {
        assert_eq!(
            Pool::with_blocks_in(8, 0, GlobalAllocator).err(),
            Some(AllocError::InvalidParameter)
        );
        assert_eq!(
            Pool::with_blocks_in(usize::MAX / 2, 4, GlobalAllocator).err(),
            Some(AllocError::InvalidParameter)
        );
        assert_eq!(
            Pool::with_blocks_in(usize::MAX, 1, GlobalAllocator).err(),
            Some(AllocError::InvalidParameter)
        );
    }

    #[test]
    fn alloc_free_reuse_and_counts() {
        let p = Pool::with_blocks_in(32, 3, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = p.alloc(l(32, 8));
            let b = p.alloc(l(1, 1));
            let c = p.alloc(l(0, 1));
            assert!(!a.is_null() && !b.is_null() && !c.is_null());
            assert!(p.alloc(l(8, 8)).is_null());
            assert_eq!((p.num_allocated(), p.num_free_blocks()), (3, 0));
            p.dealloc(b, l(1, 1));
            assert_eq!(p.num_free_blocks(), 1);
            assert_eq!(p.alloc(l(16, 4)), b);
            p.dealloc(a, l(32, 8));
            p.dealloc(b, l(16, 4));
            p.dealloc(c, l(0, 1));
            assert_eq!(p.num_allocated(), 0);
        }
    }

    #[test]
    fn refuses_layouts_larger_or_more_aligned_than_a_block() {
        let p = Pool::with_blocks_in(24, 2, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            assert!(p.alloc(l(25, 1)).is_null());
            assert!(p.alloc(l(8, 16)).is_null());
            assert!(p.alloc(l(usize::MAX / 4, 8)).is_null());
            let a = p.alloc(l(8, 8));
            assert_eq!(p.grow(a, l(8, 8), l(24, 8)), a);
            assert!(p.grow(a, l(24, 8), l(25, 8)).is_null());
            assert_eq!(p.shrink(a, l(24, 8), l(1, 8)), a);
            p.dealloc(a, l(1, 8));
        }
    }

    #[test]
    fn reset_frees_everything() {
        let mut p = Pool::with_blocks_in(16, 2, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            p.alloc(l(16, 8));
            p.alloc(l(16, 8));
        }
        p.reset();
        assert_eq!(p.num_free_blocks(), 2);
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            assert!(!p.alloc(l(16, 8)).is_null());
            assert!(!p.alloc(l(16, 8)).is_null());
        }
    }

    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "double free"))]
    fn immediate_double_free_is_detected_and_ignored() {
        let p = Pool::with_blocks_in(16, 4, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = p.alloc(l(16, 8));
            p.dealloc(a, l(16, 8));
            p.dealloc(a, l(16, 8));
            // Release builds: ignored, the free list is intact.
            assert_eq!(p.num_allocated(), 0);
            assert_eq!(p.alloc(l(16, 8)), a);
            assert_ne!(p.alloc(l(16, 8)), a);
        }
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "double free")]
    fn older_double_free_is_detected_in_debug_builds() {
        let p = Pool::with_blocks_in(16, 4, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = p.alloc(l(16, 8));
            let b = p.alloc(l(16, 8));
            p.dealloc(a, l(16, 8));
            p.dealloc(b, l(16, 8));
            p.dealloc(a, l(16, 8));
        }
    }

    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "not a block of this pool"))]
    fn foreign_pointer_is_detected_and_ignored() {
        let p = Pool::with_blocks_in(16, 4, GlobalAllocator).unwrap();
        let mut x = 0u64;
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = p.alloc(l(16, 8));
            p.dealloc((&raw mut x).cast(), l(8, 8));
            p.dealloc(a.add(8), l(8, 8)); // inside the pool, not a block start
            assert_eq!(p.num_allocated(), 1);
            p.dealloc(a, l(16, 8));
        }
    }
    #[test]
    #[cfg(not(feature = "driver"))]
    fn every_block_size_works_over_the_kernel_pool() {
        use crate::alloc::{PoolType, WdkAllocator, sim};
        const TAG: u32 = WdkAllocator::tag(*b"tPoA");
        let backing = WdkAllocator::non_paged(TAG);
        for size in [8, 24, 32, 48, 64, 96, 128, 256, 4096, 4104] {
            let p = Pool::with_blocks_in(size, 3, backing).unwrap();
            assert!(p.block_align() <= MEMORY_ALLOCATION_ALIGNMENT, "{size}");
            assert_eq!(p.block_size() % p.block_align(), 0);
            // SAFETY: a layout the pool serves; freed right away.
            unsafe {
                let layout = l(size, p.block_align());
                let a = p.alloc(layout);
                assert!(!a.is_null() && a.addr() % p.block_align() == 0);
                p.dealloc(a, layout);
            }
        }
        // An explicit alignment the pool can never serve is a parameter
        // error, found without asking the pool.
        let r = Pool::with_layout_in(l(64, 64), 3, backing);
        if WdkAllocator::SUPPORTS_OVER_ALIGNMENT {
            assert_eq!(r.unwrap().block_align(), 64);
        } else {
            assert_eq!(r.err(), Some(AllocError::InvalidParameter));
        }
        let st = sim::stats(PoolType::NonPagedNx, TAG);
        assert_eq!((st.outstanding_allocations, st.failed_allocations), (0, 0));
        assert!(sim::forget_tag(TAG));
    }

    #[test]
    fn a_pool_over_a_pool_respects_its_block_alignment() {
        let outer = Pool::with_layout_in(l(256, 8), 4, GlobalAllocator).unwrap();
        assert_eq!(outer.max_align(), 8);
        assert_eq!(
            Pool::with_layout_in(l(8, 64), 4, &outer).err(),
            Some(AllocError::InvalidParameter)
        );
        let inner = Pool::with_blocks_in(32, 4, &outer).unwrap();
        assert_eq!(inner.block_align(), 8, "capped at what the backing serves");
        assert_eq!(outer.num_allocated(), 1);
    }
}
