//! [`FreeList`]: a general-purpose allocator with segregated free lists,
//! first fit within each list, block splitting and coalescing.

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
/// "No block" in a free list.
const NIL: usize = usize::MAX;

/// The number of exact classes, one per `UNIT` from `MIN_BLOCK` up: one
/// bitmap word, so the word after it holds only the larger classes.
const EXACT: usize = 64;
/// The largest size of an exact class (1040 bytes on 64-bit targets).
const EXACT_MAX: usize = MIN_BLOCK + (EXACT - 1) * UNIT;
/// `log2(EXACT_MAX)`, rounded down.
const EXACT_MAX_LOG2: usize = EXACT_MAX.ilog2() as usize;
/// Size classes: the exact ones, then one per power of two above
/// `EXACT_MAX`, up to the largest `usize`.
const CLASSES: usize = EXACT + usize::BITS as usize - EXACT_MAX_LOG2;
/// Words in the bitmap of non-empty classes: the exact classes, then the
/// larger ones.
const BITMAP_WORDS: usize = 2;
/// Length of the list-head array: every index a bitmap word can produce,
/// so indexing it with one needs no bounds check.
const HEADS: usize = BITMAP_WORDS * 64;
const _: () = assert!(CLASSES <= HEADS && EXACT == 64);

/// The size class of a free block of `size` bytes (a multiple of `UNIT`, at
/// least `MIN_BLOCK`): `size / UNIT - 2` up to `EXACT_MAX`, then one class
/// per power of two (`[1056, 2048)`, `[2048, 4096)`, … on 64-bit targets).
/// Always below `CLASSES`, whatever `size` is (the mask and `ilog2`'s range
/// make that visible to the compiler, so indexing the class arrays needs no
/// check).
#[cfg_attr(debug_assertions, inline)]
#[cfg_attr(not(debug_assertions), inline(always))]
fn class_of(size: usize) -> usize {
    debug_assert!(size >= MIN_BLOCK && size.is_multiple_of(UNIT));
    if size <= EXACT_MAX {
        (size / UNIT).wrapping_sub(MIN_BLOCK / UNIT) & (EXACT - 1)
    } else {
        EXACT + size.ilog2() as usize - EXACT_MAX_LOG2
    }
}

/// A general-purpose allocator over one region: segregated free lists
/// searched first fit, splitting big blocks and coalescing neighbours on
/// free.
///
/// # Layout
///
/// The region is cut into blocks whose starts and sizes are multiples of
/// two words (16 bytes on 64-bit). Every block carries *boundary tags*: a
/// header word and a footer word holding its size and an "allocated" flag,
/// so `dealloc` finds and merges both neighbours in O(1). A free block
/// keeps its free-list links in its body; an allocated block keeps, in the
/// word just before the pointer it handed out, the distance back to its
/// header, which is how any power-of-two alignment is served: by padding.
/// A block spends three words on tags (header, back offset, footer: 24
/// bytes on 64-bit), rounded up to the two-word granularity, and is at
/// least four words.
///
/// # Size classes
///
/// Free blocks are kept in one doubly linked list per size class (newest
/// first), searched first fit: one class per 16 bytes up to 1040 bytes
/// (every block in it has the same size), then one per power of two
/// (`[1056, 2048)`, `[2048, 4096)`, …; sizes for 64-bit targets). A bitmap records which
/// lists are non-empty. The list heads live in the allocator itself (128
/// words, so a `FreeList` is about 1 KiB), not in the region.
///
/// * `alloc` of a block of at most 1040 bytes (a request of up to 1016
///   bytes at alignment ≤ 16) is O(1): it takes the first block of the
///   request's own class (an exact fit), else the first block of the
///   smallest non-empty class above 1040 bytes, else the first block of the
///   smallest non-empty exact class above its own; every block in those fits. Preferring a large
///   block to a slightly bigger small one keeps small blocks for exact fits,
///   and the rest of a large block usually stays in its class.
/// * `alloc` of a bigger block takes the first block of its own
///   power-of-two class if it is big enough (often the block of that size
///   freed last), else the first block of the next non-empty class (all of
///   which fit): O(1). Only when no larger class has a block does it walk
///   the rest of its own class, first fit.
/// * A block bigger than needed is split: the request is carved from its
///   end, so the free rest keeps its place (and its list, unless its size
///   class changes).
/// * `dealloc`: O(1), merging with free neighbours (a merged block moves to
///   the list of its new size).
/// * Over-aligned requests (alignment > 16) are carved from the end of a
///   free block too, at the highest aligned payload that leaves room for
///   the request: the header sits two words before the payload, and up to
///   `align - 16` bytes after the request stay in the block. Any block of
///   `align - 16` bytes more than the unaligned need fits, so while that is
///   at most 1040 bytes (64-byte alignment: requests up to 968 bytes) the
///   search is O(1): the heads of the exact classes between the two sizes
///   (a block freed by such a request fits it again, where it lies), then a
///   block that surely fits, in the order above. Larger ones follow the
///   order of a bigger block (its class's first block if the request fits
///   there, then a class whose blocks all fit). When nothing there fits,
///   the lists are walked first fit.
/// * `grow`: in place if the block already has room or the next block is
///   free and big enough, otherwise allocate-copy-free. `shrink`: in place,
///   giving a large enough tail back.
///
/// In the form of the other strategies' tables:
///
/// | Allocator | Alloc Time | Dealloc Time | Fragmentation | Best Use Case |
/// | --- | --- | --- | --- | --- |
/// | `FreeList` | O(1) while a class that surely fits has a block (always for blocks ≤ 1040 bytes); else O(free blocks in the request's power-of-two class), O(free blocks) for alignment > 16 | O(1) | Low-Medium | Variable sizes |
///
/// `alloc` and `dealloc` are inlined into their callers, with the O(1)
/// search of a large request and of an over-aligned one up to 1040 bytes;
/// the rest (over-aligned requests above, the walks, padded blocks) is out
/// of line.
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
/// The methods only touch the region and the allocator: call them at any
/// IRQL at which the region may be accessed (`<= DISPATCH_LEVEL` for
/// non-paged memory, below `DISPATCH_LEVEL` for paged pool). Construction
/// and drop call the backing allocator and follow its IRQL rules.
///
/// `FreeList` is `!Sync`; wrap it in [`Locked`](super::Locked) to share it.
pub struct FreeList<A: Allocator = GlobalAllocator> {
    region: Region<A>,
    /// Bit `c` is set iff class `c`'s list is non-empty.
    bitmap: [Cell<u64>; BITMAP_WORDS],
    /// Offset of the first free block of each class, or `NIL`.
    heads: [Cell<usize>; HEADS],
    /// Sum of the live requests' sizes.
    allocated: Cell<usize>,
    /// Sum of the free blocks' sizes.
    free_bytes: Cell<usize>,
    /// `(capacity - 2 * UNIT) / UNIT`: the index of the last UNIT a
    /// payload can start at, counting from the second (`locate`'s bound).
    last_unit: usize,
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
            bitmap: [const { Cell::new(0) }; BITMAP_WORDS],
            heads: [const { Cell::new(NIL) }; HEADS],
            allocated: Cell::new(0),
            free_bytes: Cell::new(0),
            last_unit: (len - 2 * UNIT) / UNIT,
        };
        fl.init();
        Ok(fl)
    }

    /// The size of the region in bytes.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn capacity(&self) -> usize {
        self.region.len()
    }

    /// The sum of the sizes of the live allocations (as requested).
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn total_allocated(&self) -> usize {
        self.allocated.get()
    }

    /// Bytes in free blocks, including their boundary tags: an upper bound
    /// on what can still be allocated (a single request can get at most
    /// `remaining() - 3 * size_of::<usize>()` bytes, in one free block).
    /// Equals [`capacity`](Self::capacity) when nothing is allocated.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
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
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn heap(&self) -> Heap<'_> {
        Heap {
            base: self.region.base(),
            bitmap: &self.bitmap,
            heads: &self.heads,
        }
    }

    fn init(&self) {
        let hp = self.heap();
        let len = self.region.len();
        for h in &self.heads {
            h.set(NIL);
        }
        for w in &self.bitmap {
            w.set(0);
        }
        // SAFETY: `[0, len)` is the whole region, `len` is a multiple of
        // UNIT and at least MIN_BLOCK.
        unsafe {
            hp.set_block(0, len, 0);
            hp.push(0, class_of(len));
        }
        self.allocated.set(0);
        self.free_bytes.set(len);
    }

    /// Validates that `ptr` is a live block's payload of at least `size`
    /// bytes; returns `(block, block size, payload offset)`.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn locate(&self, ptr: *mut u8, size: usize) -> Option<(usize, usize, usize)> {
        let hp = self.heap();
        let off = ptr.addr().wrapping_sub(self.region.addr());
        // One compare for `UNIT <= off <= len - UNIT` and `off % UNIT == 0`:
        // the rotation moves any low bits of `off - UNIT` to the top, and an
        // `off` below UNIT wraps around; both exceed the bound.
        if off.wrapping_sub(UNIT).rotate_right(UNIT.trailing_zeros()) > self.last_unit {
            return None;
        }
        // SAFETY: `UNIT <= off <= len - UNIT`: the word before `off` is in
        // the region, word-aligned.
        let back = unsafe { hp.word(off - WORD) };
        if back != UNIT {
            return self.locate_padded(off, back, size);
        }
        // No alignment padding (the common case): the header is two words
        // before the payload.
        self.check_block(off - UNIT, off, size)
    }

    /// [`locate`](Self::locate) for a payload whose back-offset word is
    /// not `UNIT`: an over-aligned block (or no block at all).
    #[cold]
    #[inline(never)]
    fn locate_padded(&self, off: usize, back: usize, size: usize) -> Option<(usize, usize, usize)> {
        if back < UNIT || back > off || !back.is_multiple_of(UNIT) {
            return None;
        }
        self.check_block(off - back, off, size)
    }

    /// Checks that the header at `b` is a live block's, consistent with its
    /// footer, holding `size` bytes at payload offset `off`; returns
    /// `(block, block size, payload offset)`.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn check_block(&self, b: usize, off: usize, size: usize) -> Option<(usize, usize, usize)> {
        let hp = self.heap();
        let len = self.region.len();
        // SAFETY: `b` is a multiple of UNIT, at most `off - UNIT <= len - 2 * UNIT`.
        let h = unsafe { hp.word(b) };
        // With the flag set, `bsize` is the size, a multiple of UNIT;
        // without it, `bsize` is odd. The size must be at least MIN_BLOCK
        // and end in the region (`len - b >= 2 * UNIT = MIN_BLOCK`).
        let bsize = h ^ ALLOC;
        if !bsize.is_multiple_of(UNIT) || bsize.wrapping_sub(MIN_BLOCK) > len - b - MIN_BLOCK {
            return None;
        }
        // SAFETY: `b + bsize <= len`, so the footer is in the region.
        if unsafe { hp.word(b + bsize - WORD) } != h {
            return None;
        }
        // The request, the padding and the footer fit in the block (no
        // overflow: `size <= isize::MAX`, `off - b <= len <= isize::MAX`).
        if size + (off - b) + WORD > bsize {
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
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn is_block_start(&self, _b: usize) -> bool {
        true
    }

    /// Marks `[b, b + used)` allocated for a request of `size` bytes whose
    /// payload starts two words into the block, and returns the payload.
    ///
    /// # Safety
    ///
    /// `[b, b + used)` is a block (`used` a multiple of UNIT, at least
    /// MIN_BLOCK) that is in no free list and overlaps no live block, and
    /// `used >= size + 3 * WORD`.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    unsafe fn hand_out(&self, b: usize, used: usize, size: usize) -> *mut u8 {
        let hp = self.heap();
        // SAFETY: the block is ours (contract); the back-offset word is the
        // block's second word.
        unsafe {
            hp.set_block(b, used, ALLOC);
            hp.set_word(b + WORD, UNIT);
        }
        self.allocated.set(self.allocated.get() + size);
        self.free_bytes.set(self.free_bytes.get() - used);
        // SAFETY: `b + UNIT < b + used <= len`.
        unsafe { self.region.base().add(b + UNIT) }
    }

    /// Serves `need` bytes (a multiple of UNIT, at least MIN_BLOCK) from
    /// free block `cur` of class `cls`, carving them from its end so that
    /// the rest keeps its place; returns the payload of a `size`-byte request.
    ///
    /// # Safety
    ///
    /// `cur` is a free block in class `cls`'s list (its head if `HEAD`), at
    /// least `need` bytes, and `need >= size + 3 * WORD`.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    unsafe fn take<const HEAD: bool>(
        &self,
        cur: usize,
        cls: usize,
        need: usize,
        size: usize,
    ) -> *mut u8 {
        let hp = self.heap();
        // SAFETY: `cur` is a free block in `cls` (contract); its header is valid.
        let bsize = unsafe { hp.word(cur) };
        let rest = bsize - need;
        // SAFETY: `[cur, cur + bsize)` is a free block in `cls`. A rest of at
        // least MIN_BLOCK stays a free block at `cur` (moved to the list of
        // its new class if that changed) and `[cur + rest, cur + bsize)` is
        // handed out; otherwise the whole block leaves its list and is
        // handed out.
        unsafe {
            if rest >= MIN_BLOCK {
                let rc = class_of(rest);
                if rc != cls {
                    hp.unlink::<HEAD>(cur, cls);
                    hp.push(cur, rc);
                }
                hp.set_block(cur, rest, 0);
                self.hand_out(cur + rest, need, size)
            } else {
                hp.unlink::<HEAD>(cur, cls);
                self.hand_out(cur, bsize, size)
            }
        }
    }

    /// `alloc` of a block larger than `EXACT_MAX`: the first block of its
    /// class's list if it is big enough (often the block of that size freed
    /// last), then the first block of the next non-empty class (all of
    /// which fit), then first fit in the rest of its class's list.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn alloc_large(&self, need: usize, size: usize) -> *mut u8 {
        let hp = self.heap();
        let c = class_of(need);
        let head = hp.heads[c].get();
        // SAFETY: a non-NIL head is a free block in class `c`'s list.
        if head != NIL && unsafe { hp.word(head) } >= need {
            // SAFETY: the head of class `c`, big enough.
            return unsafe { self.take::<true>(head, c, need, size) };
        }
        if let Some(k) = hp.find_from(c + 1) {
            // SAFETY: the head of class `k > c`, whose blocks are all larger
            // than any block of class `c`, so than `need`.
            return unsafe { self.take::<true>(hp.heads[k].get(), k, need, size) };
        }
        if head == NIL {
            return ptr::null_mut();
        }
        // SAFETY: the link word of the head, a free block in the list.
        let mut cur = unsafe { hp.word(head + WORD) };
        while cur != NIL {
            // SAFETY: `cur` is a free block in class `c`'s list.
            if unsafe { hp.word(cur) } >= need {
                // SAFETY: `cur` is in class `c`'s list and big enough.
                return unsafe { self.take::<false>(cur, c, need, size) };
            }
            // SAFETY: the link word of a free block in the list.
            cur = unsafe { hp.word(cur + WORD) };
        }
        ptr::null_mut()
    }

    /// Serves a `size`-byte request at alignment `align` (above UNIT) from
    /// free block `cur` of class `cls`, if it fits there: the payload is the
    /// highest aligned address that leaves room for the request and the
    /// footer before the block's end. The block handed out starts two words
    /// before the payload (no padding in front, so `locate` takes its fast
    /// path) and runs to the end of `cur`; at most `align - UNIT` bytes of
    /// slack after the request stay in it. The front of `cur` stays a free
    /// block in place if it can be one; otherwise the whole block is handed
    /// out, the payload padded inside it. Returns `None` (changing nothing)
    /// if the request does not fit in `cur`.
    ///
    /// # Safety
    ///
    /// `cur` is a free block in class `cls`'s list (its head if `HEAD`);
    /// `align` is a power of two above UNIT.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    unsafe fn take_aligned<const HEAD: bool>(
        &self,
        cur: usize,
        cls: usize,
        size: usize,
        align: usize,
    ) -> Option<*mut u8> {
        let hp = self.heap();
        let base = self.region.addr();
        // SAFETY: `cur` is a free block in `cls` (contract); its header is valid.
        let bsize = unsafe { hp.word(cur) };
        // Room for the header, the back offset, the request and the footer
        // at all (no overflow: `size <= isize::MAX`, `bsize <= len`).
        if size + UNIT + WORD > bsize {
            return None;
        }
        let end = cur + bsize;
        // No overflow: the region's addresses fit in `usize`, and
        // `end - WORD - size >= cur + UNIT`.
        let p_addr = (base + end - WORD - size) & !(align - 1);
        if p_addr < base + cur + UNIT {
            return None;
        }
        // `p` is aligned to at least 2 * UNIT and in the block, so a
        // multiple of UNIT at least `cur + UNIT`; the request and the
        // footer end by `end`.
        let p = p_addr - base;
        let b = p - UNIT;
        let front = b - cur;
        // SAFETY: `[cur, end)` is a free block in `cls`. A front of at least
        // MIN_BLOCK stays a free block at `cur` (moved to the list of its
        // new class if that changed) and `[b, end)` (a multiple of UNIT, at
        // least `UNIT + size + WORD`, so at least MIN_BLOCK once rounded) is
        // handed out with the payload two words in. Otherwise the whole block
        // leaves its list and is handed out with the payload at `p`, whose
        // back-offset word `p - WORD` lies in it after the header.
        unsafe {
            if front >= MIN_BLOCK {
                let rc = class_of(front);
                if rc != cls {
                    hp.unlink::<HEAD>(cur, cls);
                    hp.push(cur, rc);
                }
                hp.set_block(cur, front, 0);
                Some(self.hand_out(b, end - b, size))
            } else {
                hp.unlink::<HEAD>(cur, cls);
                hp.set_block(cur, bsize, ALLOC);
                hp.set_word(p - WORD, p - cur);
                self.allocated.set(self.allocated.get() + size);
                self.free_bytes.set(self.free_bytes.get() - bsize);
                Some(self.region.base().add(p))
            }
        }
    }

    /// `alloc` for alignments above two words. Any block of `need + align -
    /// UNIT` bytes holds the request (see [`take_aligned`](Self::take_aligned));
    /// when that is at most `EXACT_MAX`, this is O(1): the heads of the
    /// exact classes below that size are tried (a block freed by a request
    /// like this one fits it again, where it lies), then a block that surely
    /// fits is taken in `alloc`'s order (its exact class, the smallest large
    /// class, the exact classes above). Larger requests, and the rare case
    /// that nothing there fits, walk the lists first fit.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn alloc_aligned(&self, layout: Layout) -> *mut u8 {
        let hp = self.heap();
        let (size, align) = (layout.size(), layout.align());
        // As in `alloc`; no overflow, a `Layout`'s size is at most `isize::MAX`.
        let need = (size + UNIT + WORD + UNIT - 1) & !(UNIT - 1);
        // No overflow: a `Layout`'s size rounded up to its alignment is at
        // most `isize::MAX`.
        let sure = need + (align - UNIT);
        if sure > EXACT_MAX {
            return self.alloc_aligned_large(need, sure, size, align);
        }
        let c = need / UNIT - MIN_BLOCK / UNIT;
        let s = sure / UNIT - MIN_BLOCK / UNIT;
        let exact = hp.bitmap[0].get();
        // Classes `c..s`: their blocks fit or not depending on where they lie.
        let mut maybe = exact & (u64::MAX << c) & !(u64::MAX << s);
        while maybe != 0 {
            let k = maybe.trailing_zeros() as usize;
            // SAFETY: the head of the non-empty class `k`; `align > UNIT`.
            if let Some(p) = unsafe { self.take_aligned::<true>(hp.heads[k].get(), k, size, align) }
            {
                return p;
            }
            maybe &= maybe - 1;
        }
        let k = if exact & 1 << s != 0 {
            Some(s)
        } else {
            let large = hp.bitmap[1].get();
            if large != 0 {
                Some(EXACT + large.trailing_zeros() as usize)
            } else {
                let above = exact & u64::MAX << s;
                (above != 0).then(|| above.trailing_zeros() as usize)
            }
        };
        if let Some(k) = k
            // SAFETY: the head of the non-empty class `k`; `align > UNIT`.
            && let Some(p) = unsafe { self.take_aligned::<true>(hp.heads[k].get(), k, size, align) }
        {
            return p;
        }
        self.alloc_aligned_walk(need, size, align)
    }

    /// `alloc` for alignments above two words when a block of `sure` bytes
    /// (which surely fits) is larger than `EXACT_MAX`: as
    /// [`alloc_large`](Self::alloc_large), the first block of `need`'s
    /// class if the request fits there, else the first block of the next
    /// non-empty class above `sure`'s (all of whose blocks are larger than
    /// `sure`), else the walk.
    #[inline(never)]
    fn alloc_aligned_large(&self, need: usize, sure: usize, size: usize, align: usize) -> *mut u8 {
        let hp = self.heap();
        if need > self.region.len() {
            return ptr::null_mut();
        }
        let c = class_of(need);
        let head = hp.heads[c].get();
        if head != NIL
            // SAFETY: the head of class `c`; `align > UNIT`.
            && let Some(p) = unsafe { self.take_aligned::<true>(head, c, size, align) }
        {
            return p;
        }
        if let Some(k) = hp.find_from(class_of(sure) + 1)
            // SAFETY: the head of the non-empty class `k`; `align > UNIT`.
            && let Some(p) = unsafe { self.take_aligned::<true>(hp.heads[k].get(), k, size, align) }
        {
            return p;
        }
        self.alloc_aligned_walk(need, size, align)
    }

    /// `alloc` for alignments above two words, the general case: walks the
    /// lists of every class from `need`'s up, first fit.
    #[cold]
    #[inline(never)]
    fn alloc_aligned_walk(&self, need: usize, size: usize, align: usize) -> *mut u8 {
        let hp = self.heap();
        if need > self.region.len() {
            return ptr::null_mut();
        }
        let mut cls = hp.find_from(class_of(need));
        while let Some(c) = cls {
            let mut cur = hp.heads[c].get();
            while cur != NIL {
                // SAFETY: `cur` is a free block in class `c`'s list; its link
                // is read before it can be taken.
                let next = unsafe { hp.word(cur + WORD) };
                // SAFETY: as above; `align > UNIT`.
                if let Some(p) = unsafe { self.take_aligned::<false>(cur, c, size, align) } {
                    return p;
                }
                cur = next;
            }
            cls = hp.find_from(c + 1);
        }
        ptr::null_mut()
    }

    /// Frees block `[b, b + size)`, merging it with free neighbours.
    ///
    /// # Safety
    ///
    /// The range is a whole block that is not free and not in a list.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    unsafe fn release(&self, b: usize, size: usize) {
        let hp = self.heap();
        let len = self.region.len();
        let mut size = size;
        // SAFETY: neighbours are found through valid boundary tags: the next
        // block starts at `b + size` (if `< len`), the previous block's
        // footer is the word before `b` (if `b > 0`). A free neighbour is in
        // the list of its size's class. The allocated header swallowed by a
        // merge with the previous block is zeroed, so a stale pointer to it
        // fails `locate`.
        unsafe {
            let nx = b + size;
            if nx < len {
                let h = hp.word(nx);
                if h & ALLOC == 0 {
                    // Its header stays behind, marked free, which `locate`
                    // rejects.
                    hp.unlink::<false>(nx, class_of(h));
                    size += h;
                }
            }
            if b > 0 {
                let f = hp.word(b - WORD);
                if f & ALLOC == 0 {
                    // The previous block is free and in its class's list.
                    let pb = b - f;
                    let merged = f + size;
                    let (pc, mc) = (class_of(f), class_of(merged));
                    if pc != mc {
                        hp.unlink::<false>(pb, pc);
                        hp.push(pb, mc);
                    }
                    hp.set_word(b, 0);
                    hp.set_block(pb, merged, 0);
                    return;
                }
            }
            hp.set_block(b, size, 0);
            hp.push(b, class_of(size));
        }
    }
}

/// The region's base pointer and the class lists, copied out of the
/// allocator once per operation so the base stays in a register while the
/// region is written.
#[derive(Clone, Copy)]
struct Heap<'a> {
    base: *mut u8,
    bitmap: &'a [Cell<u64>; BITMAP_WORDS],
    heads: &'a [Cell<usize>; HEADS],
}

impl Heap<'_> {
    /// Reads the word at offset `off`.
    ///
    /// # Safety
    ///
    /// `off` is word-aligned and `off + WORD <= len`.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    unsafe fn word(self, off: usize) -> usize {
        // SAFETY: in bounds and aligned (the region is UNIT-aligned).
        unsafe { self.base.add(off).cast::<usize>().read() }
    }

    /// Writes the word at offset `off`.
    ///
    /// # Safety
    ///
    /// As for [`word`](Self::word), and the word is not part of a live block's body.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    unsafe fn set_word(self, off: usize, v: usize) {
        // SAFETY: in bounds and aligned (the region is UNIT-aligned).
        unsafe { self.base.add(off).cast::<usize>().write(v) }
    }

    /// Writes the header and footer of block `[b, b + size)`.
    ///
    /// # Safety
    ///
    /// `b` and `size` are multiples of UNIT, `size >= MIN_BLOCK`, `b + size <= len`.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    unsafe fn set_block(self, b: usize, size: usize, flag: usize) {
        // SAFETY: both words lie in the block, inside the region.
        unsafe {
            self.set_word(b, size | flag);
            self.set_word(b + size - WORD, size | flag);
        }
    }

    /// Keeps the first `need` bytes of the `size`-byte range at `b` (in no
    /// list) and, if the rest can be a block, makes it a free block in its
    /// class's list; returns the size `b`'s block keeps (`need` or `size`).
    ///
    /// # Safety
    ///
    /// `[b, b + size)` lies in the region, is free or ours, and is in no
    /// list; `need <= size`, both multiples of UNIT, `need >= MIN_BLOCK`.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    unsafe fn keep_front(self, b: usize, size: usize, need: usize) -> usize {
        let rest = size - need;
        if rest < MIN_BLOCK {
            return size;
        }
        // SAFETY: `[b + need, b + size)` is a whole UNIT-multiple range of
        // at least MIN_BLOCK in the region, in no list (contract).
        unsafe {
            self.set_block(b + need, rest, 0);
            self.push(b + need, class_of(rest));
        }
        need
    }

    /// The first non-empty class at or above `c`, if any.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn find_from(self, c: usize) -> Option<usize> {
        let mut w = c / 64;
        if w >= BITMAP_WORDS {
            return None;
        }
        let mut m = self.bitmap[w].get() & (u64::MAX << (c % 64));
        loop {
            if m != 0 {
                return Some(w * 64 + m.trailing_zeros() as usize);
            }
            w += 1;
            if w == BITMAP_WORDS {
                return None;
            }
            m = self.bitmap[w].get();
        }
    }

    /// Pushes free block `b` on the list of class `c`.
    ///
    /// # Safety
    ///
    /// `b` is a free block of class `c` (at least MIN_BLOCK) in no list.
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    unsafe fn push(self, b: usize, c: usize) {
        let n = self.heads[c].get();
        // SAFETY: the links live in words 1 and 2 of free blocks (>= 4 words).
        unsafe {
            self.set_word(b + WORD, n);
            self.set_word(b + 2 * WORD, NIL);
            if n != NIL {
                self.set_word(n + 2 * WORD, b);
            } else {
                let w = &self.bitmap[c / 64];
                w.set(w.get() | 1 << (c % 64));
            }
        }
        self.heads[c].set(b);
    }

    /// Removes free block `b` from the list of class `c`. `HEAD` says that
    /// `b` is known to be the list's first block.
    ///
    /// # Safety
    ///
    /// `b` is a free block in class `c`'s list (its first one if `HEAD`).
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    unsafe fn unlink<const HEAD: bool>(self, b: usize, c: usize) {
        // SAFETY: `b` and its list neighbours are free blocks whose link
        // words are valid.
        unsafe {
            let n = self.word(b + WORD);
            let p = if HEAD { NIL } else { self.word(b + 2 * WORD) };
            if p != NIL {
                self.set_word(p + WORD, n);
            } else {
                self.heads[c].set(n);
                if n == NIL {
                    let w = &self.bitmap[c / 64];
                    w.set(w.get() & !(1 << (c % 64)));
                }
            }
            if n != NIL {
                self.set_word(n + 2 * WORD, p);
            }
        }
    }
}

// SAFETY: blocks partition the region; a block is handed out only when
// marked allocated and removed from its free list, and the payload
// `[p, p + size)` lies between its header and footer, aligned as requested.
// Blocks change state only in these methods, which keep the partition
// (split/merge along block boundaries), so live blocks never overlap. The
// region is held by raw pointer and freed only on drop.
unsafe impl<A: Allocator> Allocator for FreeList<A> {
    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > UNIT {
            return self.alloc_aligned(layout);
        }
        let hp = self.heap();
        // The payload sits right after the header and the back-offset word.
        // No overflow: a `Layout`'s size is at most `isize::MAX`.
        let size = layout.size();
        // Header, back offset, payload and footer, rounded up to UNIT: at
        // least MIN_BLOCK even for a zero-sized request. No overflow: a
        // `Layout`'s size is at most `isize::MAX`. A `need` above the
        // capacity finds no block: every free block is smaller.
        let need = (size + UNIT + WORD + UNIT - 1) & !(UNIT - 1);
        if need > EXACT_MAX {
            return self.alloc_large(need, size);
        }
        let c = need / UNIT - MIN_BLOCK / UNIT;
        // Every block of class `c` or above fits. Search order: the exact
        // class (no split), then the smallest large class (the rest of a
        // split usually stays in its class, and in its place), then the
        // exact classes above `c`. Word 0 of the bitmap holds the exact
        // classes, word 1 the large ones.
        let exact = hp.bitmap[0].get();
        let k = if exact & 1 << c != 0 {
            Some(c)
        } else {
            let large = hp.bitmap[1].get();
            if large != 0 {
                Some(EXACT + large.trailing_zeros() as usize)
            } else {
                // Bit `c` is clear: the lowest set bit is above it.
                let above = exact & u64::MAX << c;
                (above != 0).then(|| above.trailing_zeros() as usize)
            }
        };
        match k {
            // SAFETY: the head of class `k >= c`: a block of `need` bytes or
            // more (an exact class's blocks all have its size; a higher
            // class's are larger).
            Some(k) => unsafe { self.take::<true>(hp.heads[k].get(), k, need, size) },
            None => ptr::null_mut(),
        }
    }

    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
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

    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
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
                // block, which is unlinked (from its class) before being
                // reused; its header is zeroed as it stops being a block
                // start (the rest, if any, gets a header of its own).
                unsafe {
                    hp.unlink::<false>(nx, class_of(h));
                    hp.set_word(nx, 0);
                    let used = hp.keep_front(b, combined, need);
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

    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
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

    #[cfg_attr(debug_assertions, inline)]
    #[cfg_attr(not(debug_assertions), inline(always))]
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
    use std_alloc::vec::Vec;

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

    /// Offset of a payload pointer from the region's start.
    fn off<A: Allocator>(f: &FreeList<A>, p: *mut u8) -> usize {
        p.addr() - f.region.addr()
    }

    #[test]
    fn split_carves_from_the_end_and_coalesces() {
        let f = FreeList::with_capacity_in(1024, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = f.alloc(l(100, 8));
            let b = f.alloc(l(500, 8));
            let c = f.alloc(l(200, 8));
            assert!(!a.is_null() && !b.is_null() && !c.is_null());
            // Each request is carved from the end of the free block:
            // blocks of 128, 528 and 224 bytes, top down.
            assert_eq!(off(&f, a), 1024 - 128 + UNIT);
            assert_eq!(off(&f, b), 1024 - 128 - 528 + UNIT);
            assert_eq!(off(&f, c), 1024 - 128 - 528 - 224 + UNIT);
            assert_eq!(f.total_allocated(), 800);
            assert_eq!(f.remaining(), 1024 - 128 - 528 - 224);
            f.dealloc(b, l(500, 8));
            f.dealloc(a, l(100, 8));
            // a and b merged into one 656-byte block: 600 bytes fit there
            // (and nowhere else), carved from its end.
            let d = f.alloc(l(600, 8));
            assert_eq!(off(&f, d), 1024 - 624 + UNIT);
            f.dealloc(d, l(600, 8));
            f.dealloc(c, l(200, 8));
            assert_eq!(f.remaining(), f.capacity());
            assert_eq!(f.total_allocated(), 0);
            // Fully coalesced: the largest possible request succeeds.
            let all = f.alloc(l(1024 - 3 * WORD, 8));
            assert_eq!(off(&f, all), UNIT);
            assert!(f.alloc(l(0, 1)).is_null());
            f.dealloc(all, l(1024 - 3 * WORD, 8));
        }
    }

    #[test]
    fn size_classes() {
        assert_eq!(class_of(MIN_BLOCK), 0);
        assert_eq!(class_of(48), 1);
        assert_eq!(class_of(EXACT_MAX), EXACT - 1);
        assert_eq!(class_of(EXACT_MAX + UNIT), EXACT);
        assert_eq!(class_of(2048 - UNIT), EXACT);
        assert_eq!(class_of(2048), EXACT + 1);
        assert_eq!(class_of(usize::MAX & !(UNIT - 1)), CLASSES - 1);
        // Classes grow with the size and never skip one.
        let mut prev = 0;
        let mut s = MIN_BLOCK;
        while s <= 1 << 20 {
            let c = class_of(s);
            assert!(c == prev || c == prev + 1, "{s}");
            prev = c;
            s += UNIT;
        }
    }

    /// The search order of a request of at most 1040 bytes: its exact
    /// class, then the smallest class above 1040 bytes, then the exact classes above
    /// its own.
    #[test]
    fn search_order_exact_then_large_then_bigger_exact() {
        let f = FreeList::with_capacity_in(4096, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let top = f.alloc(l(40, 8));
            let small = f.alloc(l(40, 8)); // a 64-byte block
            let sep = f.alloc(l(8, 8));
            let big = f.alloc(l(400, 8)); // a 432-byte block
            let sep2 = f.alloc(l(8, 8));
            f.dealloc(small, l(40, 8));
            f.dealloc(big, l(400, 8)); // freed last
            // 40 bytes need a 64-byte block: the exact one is reused.
            let again = f.alloc(l(40, 8));
            assert_eq!(again, small);
            // Its class is empty now: the end of the large block at the
            // bottom of the region serves the next one, not `big`.
            let low = f.alloc(l(40, 8));
            assert!(low < sep2);
            // Take the whole large block: only `big` is left free.
            let rest = f.remaining() - 432;
            let filler = f.alloc(l(rest - 3 * WORD, 8));
            assert_eq!(off(&f, filler), UNIT);
            assert_eq!(f.remaining(), 432);
            // Now the next exact class with a block (432 bytes) is split.
            let from_big = f.alloc(l(40, 8));
            assert_eq!(from_big, big.add(432 - 64));
            for (p, size) in [
                (top, 40),
                (again, 40),
                (low, 40),
                (from_big, 40),
                (sep, 8),
                (sep2, 8),
                (filler, rest - 3 * WORD),
            ] {
                f.dealloc(p, l(size, 8));
            }
            assert_eq!(f.remaining(), f.capacity());
            check_lists(&f);
        }
    }

    /// Above 1040 bytes a request takes the first block of its class if it
    /// fits, else the first block of a larger class, else it walks the rest
    /// of its own class first fit.
    #[test]
    fn large_requests_head_then_larger_class_then_walk() {
        let f = FreeList::with_capacity_in(16384, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = f.alloc(l(1600, 8)); // a 1632-byte block
            let s1 = f.alloc(l(8, 8));
            let b = f.alloc(l(1520, 8)); // a 1552-byte block, the same class
            let s2 = f.alloc(l(8, 8));
            assert_eq!(class_of(1632), class_of(1552));
            f.dealloc(b, l(1520, 8));
            // The head of its class fits: taken, though the big free block
            // below would hold it too.
            assert_eq!(f.alloc(l(1520, 8)), b);
            f.dealloc(a, l(1600, 8));
            f.dealloc(b, l(1520, 8)); // the list: b, a
            // 1590 bytes need 1616: `b` is too small; the big free block is
            // in a larger class, so its end serves the request, not `a`
            // further down the list. The same at alignment 64.
            let e = f.alloc(l(1590, 8));
            assert!(e < s2, "{e:p} {a:p}");
            f.dealloc(e, l(1590, 8));
            let e = f.alloc(l(1590, 64));
            assert!(e < s2 && e.addr().is_multiple_of(64), "{e:p} {a:p}");
            f.dealloc(e, l(1590, 64));
            // Take the big block; then only `a` and `b` are free.
            let rest = f.remaining() - 1632 - 1552;
            let filler = f.alloc(l(rest - 3 * WORD, 8));
            assert_eq!(off(&f, filler), UNIT);
            assert_eq!(f.remaining(), 1632 + 1552);
            // No class above has a block now: the walk finds `a`.
            let c = f.alloc(l(1590, 8));
            assert_eq!(c, a);
            // 1500 bytes need 1536: the head, `b`.
            let d = f.alloc(l(1500, 8));
            assert_eq!(d, b);
            assert!(f.alloc(l(1000, 8)).is_null());
            for (p, size) in [
                (c, 1590),
                (d, 1500),
                (s1, 8),
                (s2, 8),
                (filler, rest - 3 * WORD),
            ] {
                f.dealloc(p, l(size, 8));
            }
            assert_eq!(f.remaining(), f.capacity());
            check_lists(&f);
        }
    }

    /// Every free block is in exactly the list of its size's class, the
    /// bitmap matches the lists, and the free blocks add up to `remaining`.
    fn check_lists<A: Allocator>(f: &FreeList<A>) {
        let hp = f.heap();
        let mut free_sum = 0;
        for c in 0..CLASSES {
            let head = f.heads[c].get();
            let bit = f.bitmap[c / 64].get() >> (c % 64) & 1 == 1;
            assert_eq!(bit, head != NIL, "bitmap of class {c}");
            let (mut cur, mut prev) = (head, NIL);
            while cur != NIL {
                // SAFETY: a free block in the list (what is being checked).
                let (h, next, back) =
                    unsafe { (hp.word(cur), hp.word(cur + WORD), hp.word(cur + 2 * WORD)) };
                assert_eq!(h & ALLOC, 0);
                assert_eq!(class_of(h), c, "block at {cur} in the wrong class");
                assert_eq!(back, prev, "broken back link at {cur}");
                free_sum += h;
                prev = cur;
                cur = next;
            }
        }
        assert_eq!(free_sum, f.remaining());
    }

    #[test]
    fn class_lists_stay_consistent_under_random_use() {
        let f = FreeList::with_capacity_in(1 << 16, GlobalAllocator).unwrap();
        let mut live: Vec<(*mut u8, Layout)> = Vec::new();
        let mut x = 0x1234_5678_9abc_def0_u64;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let steps = if cfg!(miri) { 200 } else { 5000 };
        for _ in 0..steps {
            if live.len() > 40 || (!live.is_empty() && rnd(2) == 0) {
                let (p, lay) = live.swap_remove(rnd(live.len() as u64) as usize);
                // SAFETY: a live block with its layout.
                unsafe { f.dealloc(p, lay) };
            } else {
                let size = match rnd(3) {
                    0 => rnd(64),
                    1 => rnd(1024),
                    _ => rnd(4096),
                } as usize;
                let lay = l(size, 1 << rnd(8));
                // SAFETY: a valid layout; freed later with it.
                let p = unsafe { f.alloc(lay) };
                if !p.is_null() {
                    assert!(p.addr().is_multiple_of(lay.align()));
                    live.push((p, lay));
                }
            }
            check_lists(&f);
        }
        for (p, lay) in live {
            // SAFETY: a live block with its layout.
            unsafe { f.dealloc(p, lay) };
        }
        check_lists(&f);
        assert_eq!(f.remaining(), f.capacity());
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

    /// An over-aligned request is carved from the end of the free block
    /// (the highest aligned payload with room for it), its header two words
    /// before the payload; the block it frees serves the same request again
    /// in place.
    #[test]
    fn over_aligned_requests_carve_from_the_end() {
        let f = FreeList::with_capacity_in(4096, GlobalAllocator).unwrap();
        let end = f.region.addr() + 4096;
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = f.alloc(l(16, 64));
            assert_eq!(a.addr() % 64, 0);
            assert!(end - (a.addr() + 16 + WORD) < 64);
            assert_eq!(f.heap().word(off(&f, a) - WORD), UNIT);
            let b = f.alloc(l(100, 64));
            assert_eq!(b.addr() % 64, 0);
            assert!(b.addr() + 100 + 3 * WORD <= a.addr());
            f.dealloc(a, l(16, 64));
            let a2 = f.alloc(l(16, 64));
            assert_eq!(a2, a);
            // 32-aligned requests in the room left: every payload aligned,
            // nothing overlapping.
            let mut live = Vec::new();
            loop {
                let p = f.alloc(l(40, 32));
                if p.is_null() {
                    break;
                }
                assert_eq!(p.addr() % 32, 0);
                live.push(p);
            }
            assert!(live.len() > 30, "{}", live.len());
            live.sort();
            assert!(live.windows(2).all(|w| w[0].addr() + 40 <= w[1].addr()));
            check_lists(&f);
            for p in live {
                f.dealloc(p, l(40, 32));
            }
            f.dealloc(a2, l(16, 64));
            f.dealloc(b, l(100, 64));
            assert_eq!(f.remaining(), f.capacity());
            check_lists(&f);
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
            let top = f.alloc(l(200, 8)); // the last 224 bytes
            let a = f.alloc(l(16, 8)); // the 48 bytes below `top`
            a.write_bytes(7, 16);
            f.dealloc(top, l(200, 8));
            // The next block is free and big enough: in place.
            let a2 = f.grow(a, l(16, 8), l(200, 8));
            assert_eq!(a2, a);
            assert_eq!(f.total_allocated(), 200);
            let b = f.alloc(l(16, 8));
            // `b` took the 48 bytes above `a`: moves, data kept.
            let a3 = f.grow(a, l(200, 8), l(400, 8));
            assert_ne!(a3, a);
            assert!(core::slice::from_raw_parts(a3, 16).iter().all(|&x| x == 7));
            let a4 = f.shrink(a3, l(400, 8), l(8, 8));
            assert_eq!(a4, a3);
            assert_eq!(f.total_allocated(), 24);
            f.dealloc(a4, l(8, 8));
            f.dealloc(b, l(16, 8));
            assert_eq!(f.remaining(), 1024);
            check_lists(&f);
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
