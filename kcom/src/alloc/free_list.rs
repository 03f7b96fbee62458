//! [`FreeList`]: a general-purpose first-fit allocator with coalescing.

use core::alloc::Layout;
use core::cell::Cell;
use core::fmt;
use core::mem::size_of;
use core::ptr;

use super::region::{AllocError, Region, move_block};
use super::{Allocator, GlobalAllocator};

const WORD: usize = size_of::<usize>();
/// Granularity of block starts and sizes (two words).
const UNIT: usize = 2 * WORD;
/// Smallest block: header, two free-list links, footer.
const MIN_BLOCK: usize = 4 * WORD;
/// Header/footer flag: the block is allocated.
const ALLOC: usize = 1;
/// "No block" in the free list.
const NIL: usize = usize::MAX;

/// A general-purpose allocator over one region: first fit over an explicit
/// free list, splitting big blocks and coalescing neighbours on free.
///
/// # Layout
///
/// The region is cut into blocks whose starts and sizes are multiples of
/// two words (16 bytes on 64-bit). Every block carries *boundary tags*: a
/// header word and a footer word holding its size and an "allocated" flag,
/// so `dealloc` finds and merges both neighbours in O(1). A free block
/// keeps the free-list links in its body; an allocated block keeps, in the
/// word just before the pointer it handed out, the distance back to its
/// header, which is how any power-of-two alignment is served: by padding.
/// The overhead is three words per block plus padding, with a minimum block
/// of four words.
///
/// * `alloc`: O(free blocks), first fit in free-list order (most recently
///   freed first); the remainder of a big block becomes a new free block
///   if it is at least the minimum block.
/// * `dealloc`: O(1), merging with free neighbours.
/// * `grow`: in place if the block already has room or the next block is
///   free and big enough, otherwise allocate-copy-free. `shrink`: in place,
///   giving a large enough tail back.
///
/// # Misuse
///
/// `dealloc`, `grow` and `shrink` always check that the pointer lies in the
/// region and that its boundary tags are consistent and marked allocated;
/// a pointer failing that (foreign pointer, double free) is ignored
/// (null for grow/shrink) and, in debug builds, trips a `debug_assert!`.
/// Debug builds also walk the heap to prove the header is a real block.
///
/// # IRQL (driver builds)
///
/// The methods only touch the region: call them at any IRQL at which the
/// region may be accessed (`<= DISPATCH_LEVEL` for non-paged memory, below
/// `DISPATCH_LEVEL` for paged pool). Construction and drop call the backing
/// allocator and follow its IRQL rules.
///
/// `FreeList` is `!Sync`; wrap it in [`Locked`](super::Locked) to share it.
pub struct FreeList<A: Allocator = GlobalAllocator> {
    region: Region<A>,
    /// Offset of the first free block, or `NIL`.
    head: Cell<usize>,
    /// Sum of the live requests' sizes.
    allocated: Cell<usize>,
    /// Sum of the free blocks' sizes.
    free_bytes: Cell<usize>,
}

// SAFETY: the allocator exclusively owns its region and all its state points
// into it; sending it sends the region and the (`Send`) backing allocator.
unsafe impl<A: Allocator + Send> Send for FreeList<A> {}

impl<A: Allocator> FreeList<A> {
    /// Creates a free-list allocator over `capacity` bytes (rounded down to
    /// a multiple of two words) allocated from `backing`.
    ///
    /// # Errors
    ///
    /// [`AllocError::InvalidParameter`] if the rounded capacity is smaller
    /// than one minimum block (four words) or too large for a `Layout`;
    /// [`AllocError::InsufficientResources`] if `backing` returns null.
    pub fn with_capacity_in(capacity: usize, backing: A) -> Result<Self, AllocError> {
        let len = capacity & !(UNIT - 1);
        if len < MIN_BLOCK {
            return Err(AllocError::InvalidParameter);
        }
        let region = Region::new_in(len, UNIT, backing)?;
        let fl = FreeList {
            region,
            head: Cell::new(NIL),
            allocated: Cell::new(0),
            free_bytes: Cell::new(0),
        };
        fl.init();
        Ok(fl)
    }

    /// The size of the region in bytes.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.region.len()
    }

    /// The sum of the sizes of the live allocations (as requested).
    #[inline]
    pub fn total_allocated(&self) -> usize {
        self.allocated.get()
    }

    /// Bytes in free blocks, including their boundary tags: an upper bound
    /// on what can still be allocated (a single request can get at most
    /// `remaining() - 3 * size_of::<usize>()` bytes, in one free block).
    /// Equals [`capacity`](Self::capacity) when nothing is allocated.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.free_bytes.get()
    }

    /// Frees every block at once.
    pub fn reset(&mut self) {
        self.init();
    }

    /// The backing allocator.
    pub fn backing(&self) -> Option<&A> {
        self.region.backing()
    }

    /// See [`Heap`].
    #[inline(always)]
    fn heap(&self) -> Heap<'_> {
        Heap {
            base: self.region.base(),
            head: &self.head,
        }
    }

    fn init(&self) {
        let hp = self.heap();
        let len = self.region.len();
        self.head.set(NIL);
        // SAFETY: `[0, len)` is the whole region, `len >= MIN_BLOCK`.
        unsafe {
            hp.set_block(0, len, 0);
            hp.push(0);
        }
        self.allocated.set(0);
        self.free_bytes.set(len);
    }

    /// The block size needed to hold `size` bytes at payload offset
    /// `p_off` of a block starting at `b`.
    #[inline(always)]
    fn need(b: usize, p_off: usize, size: usize) -> Option<usize> {
        let n = (p_off - b)
            .checked_add(size)?
            .checked_add(WORD)?
            .checked_next_multiple_of(UNIT)?;
        Some(n.max(MIN_BLOCK))
    }

    /// Validates that `ptr` is a live block's payload of at least `size`
    /// bytes; returns `(block, block size, payload offset)`.
    #[inline]
    fn locate(&self, ptr: *mut u8, size: usize) -> Option<(usize, usize, usize)> {
        let hp = self.heap();
        let len = self.region.len();
        let off = ptr.addr().wrapping_sub(self.region.addr());
        if off < UNIT || off > len - WORD || !off.is_multiple_of(UNIT) {
            return None;
        }
        // SAFETY: `WORD <= off - WORD < len - WORD`, word-aligned.
        let back = unsafe { hp.word(off - WORD) };
        if back < UNIT || back > off || !back.is_multiple_of(UNIT) {
            return None;
        }
        let b = off - back;
        // SAFETY: `b` is a multiple of UNIT below `off < len`.
        let h = unsafe { hp.word(b) };
        let bsize = h & !ALLOC;
        if h & ALLOC == 0 || bsize < MIN_BLOCK || !bsize.is_multiple_of(UNIT) || bsize > len - b {
            return None;
        }
        // SAFETY: `b + bsize <= len`, so the footer is in the region.
        if unsafe { hp.word(b + bsize - WORD) } != h {
            return None;
        }
        if bsize
            .checked_sub(back + WORD)
            .is_none_or(|room| size > room)
        {
            return None;
        }
        debug_assert!(
            self.is_block_start(b),
            "FreeList: corrupted block header at offset {b}"
        );
        Some((b, bsize, off))
    }

    /// Debug check: walks the heap from the start to see whether a block
    /// starts at `b`.
    #[cfg(debug_assertions)]
    fn is_block_start(&self, b: usize) -> bool {
        let hp = self.heap();
        let mut x = 0;
        while x < b {
            // SAFETY: `x < b < len` is a block start (induction from 0).
            let s = unsafe { hp.word(x) } & !ALLOC;
            if s == 0 {
                return false;
            }
            x += s;
        }
        x == b
    }

    #[cfg(not(debug_assertions))]
    #[inline(always)]
    fn is_block_start(&self, _b: usize) -> bool {
        true
    }

    /// `alloc` for alignments above two words: the payload is padded up to
    /// the alignment inside the block, and the word before it records the
    /// distance back to the header.
    fn alloc_aligned(&self, layout: Layout) -> *mut u8 {
        let hp = self.heap();
        let (size, align) = (layout.size(), layout.align());
        let mut cur = hp.head.get();
        while cur != NIL {
            // SAFETY: `cur` is a free block in the list.
            let (bsize, next) = unsafe { (hp.word(cur), hp.word(cur + WORD)) };
            if let Some(p_off) = self.region.align_offset_up(cur + UNIT, align)
                && let Some(need) = Self::need(cur, p_off, size)
                && need <= bsize
            {
                // SAFETY: `[cur, cur + bsize)` is a free block in the list;
                // `need` is a multiple of UNIT >= MIN_BLOCK that fits in it;
                // the word `p_off - WORD` is in the block after the header.
                unsafe {
                    hp.unlink(cur);
                    let used = if bsize - need >= MIN_BLOCK {
                        hp.set_block(cur + need, bsize - need, 0);
                        hp.push(cur + need);
                        need
                    } else {
                        bsize
                    };
                    hp.set_block(cur, used, ALLOC);
                    hp.set_word(p_off - WORD, p_off - cur);
                    self.allocated.set(self.allocated.get() + size);
                    self.free_bytes.set(self.free_bytes.get() - used);
                    return self.region.base().add(p_off);
                }
            }
            cur = next;
        }
        ptr::null_mut()
    }

    /// Frees block `[b, b + size)`, merging it with free neighbours.
    ///
    /// # Safety
    ///
    /// The range is a whole block that is not free and not in the list.
    #[inline]
    unsafe fn release(&self, b: usize, size: usize) {
        let hp = self.heap();
        let len = self.region.len();
        let mut size = size;
        // SAFETY: neighbours are found through valid boundary tags: the next
        // block starts at `b + size` (if `< len`), the previous block's
        // footer is the word before `b` (if `b > 0`).
        unsafe {
            let nx = b + size;
            if nx < len {
                let h = hp.word(nx);
                if h & ALLOC == 0 {
                    hp.unlink(nx);
                    hp.set_word(nx, 0);
                    size += h;
                }
            }
            if b > 0 {
                let f = hp.word(b - WORD);
                if f & ALLOC == 0 {
                    // The previous block is free and already in the list.
                    let pb = b - f;
                    hp.set_word(b, 0);
                    hp.set_block(pb, f + size, 0);
                    return;
                }
            }
            hp.set_block(b, size, 0);
            hp.push(b);
        }
    }
}

/// The region's base pointer and the list head, copied out of the
/// allocator once per operation so the base stays in a register while the
/// region is written.
#[derive(Clone, Copy)]
struct Heap<'a> {
    base: *mut u8,
    head: &'a Cell<usize>,
}

impl Heap<'_> {
    /// Reads the word at offset `off`.
    ///
    /// # Safety
    ///
    /// `off` is word-aligned and `off + WORD <= len`.
    #[inline(always)]
    unsafe fn word(self, off: usize) -> usize {
        // SAFETY: in bounds and aligned (the region is UNIT-aligned).
        unsafe { self.base.add(off).cast::<usize>().read() }
    }

    /// Writes the word at offset `off`.
    ///
    /// # Safety
    ///
    /// As for [`word`](Self::word), and the word is not part of a live block's body.
    #[inline(always)]
    unsafe fn set_word(self, off: usize, v: usize) {
        // SAFETY: in bounds and aligned (the region is UNIT-aligned).
        unsafe { self.base.add(off).cast::<usize>().write(v) }
    }

    /// Writes the header and footer of block `[b, b + size)`.
    ///
    /// # Safety
    ///
    /// `b` and `size` are multiples of UNIT, `size >= MIN_BLOCK`, `b + size <= len`.
    #[inline(always)]
    unsafe fn set_block(self, b: usize, size: usize, flag: usize) {
        // SAFETY: both words lie in the block, inside the region.
        unsafe {
            self.set_word(b, size | flag);
            self.set_word(b + size - WORD, size | flag);
        }
    }

    /// Pushes free block `b` on the free list.
    ///
    /// # Safety
    ///
    /// `b` is a free block not in the list.
    #[inline(always)]
    unsafe fn push(self, b: usize) {
        let n = self.head.get();
        // SAFETY: the links live in words 1 and 2 of free blocks (>= 4 words).
        unsafe {
            self.set_word(b + WORD, n);
            self.set_word(b + 2 * WORD, NIL);
            if n != NIL {
                self.set_word(n + 2 * WORD, b);
            }
        }
        self.head.set(b);
    }

    /// Removes free block `b` from the free list.
    ///
    /// # Safety
    ///
    /// `b` is a free block in the list.
    #[inline(always)]
    unsafe fn unlink(self, b: usize) {
        // SAFETY: `b` and its list neighbours are free blocks whose link
        // words are valid.
        unsafe {
            let n = self.word(b + WORD);
            let p = self.word(b + 2 * WORD);
            if p != NIL {
                self.set_word(p + WORD, n);
            } else {
                self.head.set(n);
            }
            if n != NIL {
                self.set_word(n + 2 * WORD, p);
            }
        }
    }

    /// Puts free block `new` in the list position of free block `old`.
    ///
    /// # Safety
    ///
    /// `old` is in the list, `new` is a free block (at least MIN_BLOCK) not
    /// in it; `old`'s links are read before `new`'s are written, so the two
    /// may share memory only if `new`'s link words lie past `old`'s.
    #[inline(always)]
    unsafe fn replace(self, old: usize, new: usize) {
        // SAFETY: link words of free blocks; see the contract.
        unsafe {
            let n = self.word(old + WORD);
            let p = self.word(old + 2 * WORD);
            self.set_word(new + WORD, n);
            self.set_word(new + 2 * WORD, p);
            if p != NIL {
                self.set_word(p + WORD, new);
            } else {
                self.head.set(new);
            }
            if n != NIL {
                self.set_word(n + 2 * WORD, new);
            }
        }
    }
}

// SAFETY: blocks partition the region; a block is handed out only when
// marked allocated and removed from the free list, and the payload
// `[p, p + size)` lies between its header and footer, aligned as requested.
// Blocks change state only in these methods, which keep the partition
// (split/merge along block boundaries), so live blocks never overlap. The
// region is held by raw pointer and freed only on drop.
unsafe impl<A: Allocator> Allocator for FreeList<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let hp = self.heap();
        let size = layout.size();
        if size > self.region.len() {
            return ptr::null_mut();
        }
        if layout.align() > UNIT {
            return self.alloc_aligned(layout);
        }
        // The payload sits right after the header and the back-offset word.
        // No overflow: `size <= len <= isize::MAX`.
        let need = (UNIT + size + WORD).next_multiple_of(UNIT).max(MIN_BLOCK);
        let mut cur = hp.head.get();
        while cur != NIL {
            // SAFETY: `cur` is a free block in the list.
            let bsize = unsafe { hp.word(cur) };
            if bsize >= need {
                // SAFETY: `[cur, cur + bsize)` is a free block in the list and
                // `need` (a multiple of UNIT >= MIN_BLOCK) fits in it. A large
                // enough remainder becomes a free block that takes `cur`'s
                // place in the list; otherwise the whole block is unlinked.
                unsafe {
                    let rest = bsize - need;
                    let used = if rest >= MIN_BLOCK {
                        hp.replace(cur, cur + need);
                        hp.set_block(cur + need, rest, 0);
                        need
                    } else {
                        hp.unlink(cur);
                        bsize
                    };
                    hp.set_block(cur, used, ALLOC);
                    hp.set_word(cur + WORD, UNIT);
                    self.allocated.set(self.allocated.get() + size);
                    self.free_bytes.set(self.free_bytes.get() - used);
                    return self.region.base().add(cur + UNIT);
                }
            }
            // SAFETY: the link word of a free block in the list.
            cur = unsafe { hp.word(cur + WORD) };
        }
        ptr::null_mut()
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some((b, bsize, _)) = self.locate(ptr, layout.size()) else {
            debug_assert!(
                false,
                "FreeList::dealloc: {ptr:p} is not a live block of this allocator (double free or foreign pointer)"
            );
            return;
        };
        self.allocated.set(self.allocated.get() - layout.size());
        self.free_bytes.set(self.free_bytes.get() + bsize);
        // SAFETY: `locate` proved `[b, b + bsize)` is an allocated block.
        unsafe { self.release(b, bsize) };
    }

    #[inline]
    unsafe fn grow(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        let hp = self.heap();
        let Some((b, bsize, off)) = self.locate(ptr, old_layout.size()) else {
            debug_assert!(
                false,
                "FreeList::grow: {ptr:p} is not a live block of this allocator"
            );
            return ptr::null_mut();
        };
        let new_size = new_layout.size();
        let fits = |bs: usize| {
            bs.checked_sub(off - b + WORD)
                .is_some_and(|room| new_size <= room)
        };
        if fits(bsize) {
            self.allocated
                .set(self.allocated.get() - old_layout.size() + new_size);
            return ptr;
        }
        let nx = b + bsize;
        if nx < self.region.len() {
            // SAFETY: `nx` is the next block's start; its header is valid.
            let h = unsafe { hp.word(nx) };
            if h & ALLOC == 0 && fits(bsize + h) {
                let combined = bsize + h;
                // `fits` bounds this by `combined`, a multiple of UNIT.
                let need = ((off - b + new_size + WORD).next_multiple_of(UNIT)).max(MIN_BLOCK);
                // SAFETY: `[b, b + combined)` is our block plus the free next
                // block, which is unlinked before being reused.
                unsafe {
                    hp.unlink(nx);
                    let used = if combined - need >= MIN_BLOCK {
                        hp.set_block(b + need, combined - need, 0);
                        hp.push(b + need);
                        need
                    } else {
                        combined
                    };
                    hp.set_block(b, used, ALLOC);
                    self.free_bytes.set(self.free_bytes.get() - (used - bsize));
                }
                self.allocated
                    .set(self.allocated.get() - old_layout.size() + new_size);
                return ptr;
            }
        }
        // SAFETY: `ptr` is live with `old_layout`; it is freed with it.
        unsafe {
            move_block(self, ptr, old_layout, new_layout, |p| {
                self.dealloc(p, old_layout)
            })
        }
    }

    #[inline]
    unsafe fn shrink(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        let hp = self.heap();
        let Some((b, bsize, off)) = self.locate(ptr, old_layout.size()) else {
            debug_assert!(
                false,
                "FreeList::shrink: {ptr:p} is not a live block of this allocator"
            );
            return ptr::null_mut();
        };
        // Bounded by the current block, which holds the larger old size.
        let need = ((off - b + new_layout.size() + WORD).next_multiple_of(UNIT)).max(MIN_BLOCK);
        self.allocated
            .set(self.allocated.get() - old_layout.size() + new_layout.size());
        let tail = bsize - need;
        if tail >= MIN_BLOCK {
            // SAFETY: the tail `[b + need, b + bsize)` is past the shrunk
            // payload and its footer; it becomes a block of its own.
            unsafe {
                hp.set_block(b, need, ALLOC);
                self.free_bytes.set(self.free_bytes.get() + tail);
                self.release(b + need, tail);
            }
        }
        ptr
    }

    #[inline]
    fn pageable(&self) -> bool {
        self.region.pageable()
    }
}

impl<A: Allocator + fmt::Debug> fmt::Debug for FreeList<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreeList")
            .field("capacity", &self.capacity())
            .field("total_allocated", &self.total_allocated())
            .field("remaining", &self.remaining())
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
    fn bad_capacity() {
        assert_eq!(
            FreeList::with_capacity_in(0, GlobalAllocator).err(),
            Some(AllocError::InvalidParameter)
        );
        assert_eq!(
            FreeList::with_capacity_in(MIN_BLOCK - 1, GlobalAllocator).err(),
            Some(AllocError::InvalidParameter)
        );
        assert_eq!(
            FreeList::with_capacity_in(usize::MAX, GlobalAllocator).err(),
            Some(AllocError::InvalidParameter)
        );
        let f = FreeList::with_capacity_in(MIN_BLOCK + 5, GlobalAllocator).unwrap();
        assert_eq!(f.capacity(), MIN_BLOCK);
    }

    #[test]
    fn first_fit_split_and_coalesce() {
        let f = FreeList::with_capacity_in(1024, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = f.alloc(l(100, 8));
            let b = f.alloc(l(500, 8));
            let c = f.alloc(l(200, 8));
            assert!(!a.is_null() && !b.is_null() && !c.is_null());
            assert_eq!(f.total_allocated(), 800);
            f.dealloc(b, l(500, 8));
            f.dealloc(a, l(100, 8));
            // a and b merged: 600 bytes fit where they were.
            let d = f.alloc(l(560, 8));
            assert_eq!(d, a);
            f.dealloc(d, l(560, 8));
            f.dealloc(c, l(200, 8));
            assert_eq!(f.remaining(), f.capacity());
            assert_eq!(f.total_allocated(), 0);
            // Fully coalesced: the largest possible request succeeds.
            let all = f.alloc(l(1024 - 3 * WORD, 8));
            assert!(!all.is_null());
            assert!(f.alloc(l(0, 1)).is_null());
            f.dealloc(all, l(1024 - 3 * WORD, 8));
        }
    }

    #[test]
    fn over_aligned_and_zero_sized() {
        let f = FreeList::with_capacity_in(4096, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let z = f.alloc(l(0, 1));
            assert!(!z.is_null());
            let a = f.alloc(l(10, 256));
            assert_eq!(a.addr() % 256, 0);
            let b = f.alloc(l(10, 1024));
            assert_eq!(b.addr() % 1024, 0);
            assert!(f.alloc(l(1, 1 << 20)).is_null() || f.region.addr().is_multiple_of(1 << 20));
            f.dealloc(a, l(10, 256));
            f.dealloc(z, l(0, 1));
            f.dealloc(b, l(10, 1024));
            assert_eq!(f.remaining(), 4096);
        }
    }

    #[test]
    fn huge_requests_fail_cleanly() {
        let f = FreeList::with_capacity_in(256, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            assert!(f.alloc(l(257, 1)).is_null());
            assert!(f.alloc(l(isize::MAX as usize - 4096, 1)).is_null());
            assert!(f.alloc(l(256 - 3 * WORD + 1, 1)).is_null());
            assert_eq!(f.remaining(), 256);
        }
    }

    #[test]
    fn grow_and_shrink_in_place_and_by_moving() {
        let f = FreeList::with_capacity_in(1024, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = f.alloc(l(16, 8));
            a.write_bytes(7, 16);
            // Next block is the big free remainder: in place.
            let a2 = f.grow(a, l(16, 8), l(200, 8));
            assert_eq!(a2, a);
            assert_eq!(f.total_allocated(), 200);
            let b = f.alloc(l(16, 8));
            // Next block is allocated: moves, data kept.
            let a3 = f.grow(a, l(200, 8), l(400, 8));
            assert_ne!(a3, a);
            assert!(core::slice::from_raw_parts(a3, 16).iter().all(|&x| x == 7));
            let a4 = f.shrink(a3, l(400, 8), l(8, 8));
            assert_eq!(a4, a3);
            assert_eq!(f.total_allocated(), 24);
            f.dealloc(a4, l(8, 8));
            f.dealloc(b, l(16, 8));
            assert_eq!(f.remaining(), 1024);
            assert!(!f.alloc(l(1024 - 3 * WORD, 8)).is_null());
        }
    }

    #[test]
    fn reset_restores_the_whole_region() {
        let mut f = FreeList::with_capacity_in(512, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            f.alloc(l(100, 8));
            f.alloc(l(100, 8));
        }
        f.reset();
        assert_eq!((f.remaining(), f.total_allocated()), (512, 0));
    }

    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "double free"))]
    fn double_free_is_detected_and_ignored() {
        let f = FreeList::with_capacity_in(512, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = f.alloc(l(32, 8));
            let _b = f.alloc(l(32, 8));
            f.dealloc(a, l(32, 8));
            let before = f.remaining();
            f.dealloc(a, l(32, 8));
            assert_eq!(f.remaining(), before);
        }
    }

    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "foreign pointer"))]
    fn foreign_pointer_is_detected_and_ignored() {
        let f = FreeList::with_capacity_in(512, GlobalAllocator).unwrap();
        let mut x = [0u64; 4];
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            f.dealloc(x.as_mut_ptr().cast::<u8>().add(16), l(8, 8));
            assert_eq!(f.remaining(), 512);
        }
    }
}
