//! [`Stack`]: a LIFO allocator.

use core::alloc::Layout;
use core::cell::Cell;
use core::fmt;
use core::mem::size_of;
use core::ptr;

use super::region::{AllocError, Region, move_block};
use super::{Allocator, GlobalAllocator};

const WORD: usize = size_of::<usize>();
/// Size of the record written before every block.
const HEADER: usize = 2 * WORD;
/// Flag in a record's second word: the block was moved away by `grow` and
/// is popped automatically once it is the top.
const DEAD: usize = 1;

/// A stack (LIFO) allocator: blocks are carved linearly from one region and
/// freed in reverse order.
///
/// Every block is preceded by a two-word record holding the previous top and
/// the previous block, so [`pop`](Self::pop) (and `dealloc` of the most
/// recent block, which is the same thing) restores the state exactly,
/// including the alignment padding.
///
/// * `alloc`, `dealloc` of the top, `pop`: O(1).
/// * `grow`/`shrink` of the top happen in place. Shrinking any other block
///   is in place too; growing another block moves it to the top and marks
///   the old record dead, so it is popped together with the block above it
///   (inside a [`scope`](Self::scope), blocks from before the scope are not
///   moved: that grow fails).
/// * [`scope`](Self::scope) frees every block made while it ran at once.
/// * Zero-sized requests succeed and take a record like any other block.
///
/// # Misuse
///
/// Freeing a block that is not the top violates the LIFO contract: debug
/// builds `debug_assert!`; release builds ignore the call, so the block stays
/// used (leaked) until a `pop`/`dealloc` below it or [`reset`](Self::reset)
/// reclaims it. The stack is never corrupted by such a call.
///
/// Collections that reallocate by allocating the new buffer before freeing
/// the old one (e.g. a `hashbrown` rehash) break LIFO order; give them their
/// final capacity up front. `Vec` growth is fine: it uses `grow`.
///
/// # IRQL (driver builds)
///
/// The methods only touch the region: call them at any IRQL at which the
/// region may be accessed (`<= DISPATCH_LEVEL` for non-paged memory, below
/// `DISPATCH_LEVEL` for paged pool). Construction and drop call the backing
/// allocator and follow its IRQL rules.
///
/// `Stack` is `!Sync`; wrap it in [`Locked`](super::Locked) to share it.
pub struct Stack<A: Allocator = GlobalAllocator> {
    region: Region<A>,
    /// Offset of the first free byte.
    top: Cell<usize>,
    /// Offset of the most recent block, 0 if none (a block is never at 0:
    /// its record comes first).
    last: Cell<usize>,
    /// Inside a [`scope`](Self::scope): `last` when it began (the floor
    /// block: the newest block from before the scope, 0 if none).
    /// `NO_SCOPE` outside scopes.
    floor: Cell<usize>,
    /// Inside a scope: the end of the floor block, i.e. the top to return
    /// to while blocks of the scope remain above it. Set when the scope
    /// begins and whenever the floor block, being the top, is resized in
    /// place (the only way its end can move while blocks are pushed above
    /// it later). Outside scopes: not read.
    floor_top: Cell<usize>,
    /// Inside a scope: the lowest `last` a pop has left since it began.
    /// Outside scopes: not read (pops still lower it; a scope resets it).
    min_last: Cell<usize>,
}

/// `Stack::floor` outside scopes (no block offset is this large).
const NO_SCOPE: usize = usize::MAX;

// SAFETY: the stack exclusively owns its region and all its state points
// into it; sending it sends the region and the (`Send`) backing allocator.
unsafe impl<A: Allocator + Send> Send for Stack<A> {}

impl<A: Allocator> Stack<A> {
    /// Creates a stack allocator over `capacity` bytes (16-byte aligned)
    /// allocated from `backing`.
    ///
    /// # Errors
    ///
    /// [`AllocError::InvalidParameter`] if `capacity` is zero or too large
    /// for a `Layout`; [`AllocError::InsufficientResources`] if `backing`
    /// returns null.
    pub fn with_capacity_in(capacity: usize, backing: A) -> Result<Self, AllocError> {
        Ok(Stack {
            region: Region::new_in(capacity, 16, backing)?,
            top: Cell::new(0),
            last: Cell::new(0),
            floor: Cell::new(NO_SCOPE),
            floor_top: Cell::new(0),
            min_last: Cell::new(NO_SCOPE),
        })
    }

    /// The size of the region in bytes.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.region.len()
    }

    /// Bytes still available above the top (records and padding included in
    /// what a request consumes).
    #[inline]
    pub fn remaining(&self) -> usize {
        self.region.len() - self.top.get()
    }

    /// Bytes in use: blocks, their records and alignment padding.
    /// Always `total_allocated() + remaining() == capacity()`.
    #[inline]
    pub fn total_allocated(&self) -> usize {
        self.top.get()
    }

    /// Frees the most recent block (and any dead records below it); returns
    /// `false` if the stack was empty. Taking `&mut self` guarantees no
    /// borrow of the allocator (e.g. a collection using it) is alive.
    pub fn pop(&mut self) -> bool {
        if self.last.get() == 0 {
            return false;
        }
        self.pop_record();
        true
    }

    /// Frees every block at once.
    pub fn reset(&mut self) {
        // `&mut self`: never inside a scope (its closure only gets `&Self`).
        debug_assert_eq!(self.floor.get(), NO_SCOPE);
        self.top.set(0);
        self.last.set(0);
        self.min_last.set(NO_SCOPE);
    }

    /// Runs `f` with the stack, then frees every block allocated while it
    /// ran, at once: O(1), like a bump allocator's reset, instead of one
    /// [`pop`](Self::pop) per block.
    ///
    /// Blocks from before the scope stay allocated, at their current size:
    ///
    /// * the newest of them may be grown or shrunk in place by `f` while it
    ///   is the top, and keeps its new size after the scope;
    /// * `grow` of any other of them fails (null, the block unchanged):
    ///   moving it would put it among the blocks the scope releases;
    /// * if `f` frees some of them (breaking the LIFO order of the scope
    ///   itself), those stay freed and the release falls back to popping the
    ///   scope's records one by one, which is always consistent.
    ///
    /// `f` gets only `&Self`, for a lifetime its result cannot capture, so
    /// nothing that borrows the stack (a collection using it, say) outlives
    /// the scope, and scopes cannot nest. If `f` panics, its blocks are
    /// released as the panic passes.
    ///
    /// ```
    /// use core::alloc::Layout;
    /// use kcom::alloc::Stack;
    /// use kcom::Allocator;
    ///
    /// let mut stack = Stack::with_capacity_in(4096, kcom::GlobalAllocator).unwrap();
    /// let used = stack.scope(|s| {
    ///     for _ in 0..10 {
    ///         // SAFETY: a valid layout; the scope frees the blocks.
    ///         assert!(!unsafe { s.alloc(Layout::new::<[u8; 100]>()) }.is_null());
    ///     }
    ///     s.total_allocated()
    /// });
    /// assert!(used >= 1000);
    /// assert_eq!(stack.total_allocated(), 0);
    /// ```
    pub fn scope<R>(&mut self, f: impl FnOnce(&Self) -> R) -> R {
        /// Releases the scope's blocks when `f` returns or unwinds.
        struct Release<'a, A: Allocator>(&'a Stack<A>);
        impl<A: Allocator> Drop for Release<'_, A> {
            fn drop(&mut self) {
                self.0.end_scope();
            }
        }
        let (top, last) = (self.top.get(), self.last.get());
        debug_assert_eq!(self.floor.get(), NO_SCOPE, "scopes cannot nest");
        self.floor.set(last);
        self.floor_top.set(top);
        self.min_last.set(last);
        let release = Release(self);
        let result = f(release.0);
        drop(release);
        result
    }

    /// Frees the blocks of the current scope and leaves it.
    fn end_scope(&self) {
        let floor = self.floor.get();
        if self.min_last.get() >= floor {
            // Every record at or below the floor is intact, so the floor
            // block is the newest block from before the scope.
            if self.last.get() != floor {
                // Blocks of the scope lie above it, starting where it ended
                // when the lowest of them was allocated; it cannot have been
                // resized since (it was not the top).
                self.top.set(self.floor_top.get());
                self.last.set(floor);
            }
            // Otherwise the floor block is the top already, possibly grown
            // or shrunk in place: `top` is right as it is.
        } else {
            // `f` popped records from before the scope. Every record above
            // the lowest point it reached was made in the scope: pop those,
            // through the (always consistent) records.
            let low = self.min_last.get();
            while self.last.get() > low {
                self.pop_record();
            }
        }
        self.floor.set(NO_SCOPE);
    }

    /// The backing allocator.
    pub fn backing(&self) -> Option<&A> {
        self.region.backing()
    }

    /// Pops the most recent record, then every dead record that becomes the
    /// top. Requires `last != 0`.
    #[inline]
    fn pop_record(&self) {
        let mut last = self.last.get();
        loop {
            // SAFETY: `last` is the offset of a live record's block, whose two
            // record words (written in `alloc`) sit right before it.
            let (prev_top, prev_last) = unsafe { self.record(last) };
            self.top.set(prev_top);
            last = prev_last & !DEAD;
            // SAFETY: as above, for the previous record.
            if last == 0 || unsafe { self.record(last) }.1 & DEAD == 0 {
                break;
            }
        }
        self.last.set(last);
        self.min_last.set(self.min_last.get().min(last));
    }

    /// Writes the record of a new block `[p, end)` (the top was `top`) and
    /// makes it the top; returns its address.
    ///
    /// # Safety
    ///
    /// `top + HEADER <= p <= end <= len`, `p` word-aligned.
    #[inline(always)]
    unsafe fn push(&self, top: usize, p: usize, end: usize) -> *mut u8 {
        // SAFETY: the record `[p - HEADER, p)` lies in the free part of the
        // region (contract), word-aligned.
        unsafe {
            let r = self.region.base().add(p - HEADER).cast::<usize>();
            r.write(top);
            r.add(1).write(self.last.get());
        }
        self.top.set(end);
        self.last.set(p);
        // SAFETY: `p <= len`.
        unsafe { self.region.base().add(p) }
    }

    /// `alloc` for alignments above 16 (the region's own): aligned by
    /// address.
    #[cold]
    #[inline(never)]
    fn alloc_over_aligned(&self, layout: Layout) -> *mut u8 {
        let top = self.top.get();
        let Some(p) = top
            .checked_add(HEADER)
            .and_then(|h| self.region.align_offset_up(h, layout.align()))
        else {
            return ptr::null_mut();
        };
        match p.checked_add(layout.size()) {
            // SAFETY: `top + HEADER <= p <= end <= len`, `p` aligned to more
            // than a word.
            Some(end) if end <= self.region.len() => unsafe { self.push(top, p, end) },
            _ => ptr::null_mut(),
        }
    }

    /// Records that the top block at `off` now ends at `end` (an in-place
    /// resize).
    #[inline]
    fn resize_top(&self, off: usize, end: usize) {
        self.top.set(end);
        if off == self.floor.get() {
            // The floor block of the current scope: the scope's blocks,
            // pushed above it later, return the top to its new end.
            self.floor_top.set(end);
        }
    }

    /// Reads the record of the block at offset `p`.
    ///
    /// # Safety
    ///
    /// `p` is the offset of a block handed out by `alloc` and not popped.
    #[inline(always)]
    unsafe fn record(&self, p: usize) -> (usize, usize) {
        // SAFETY: the record lies at `[p - HEADER, p)`, word-aligned, inside
        // the region.
        unsafe {
            let r = self.region.base().add(p - HEADER).cast::<usize>();
            (r.read(), r.add(1).read())
        }
    }
}

// SAFETY: each block `[p, p + size)` is carved above the current top, after
// its record, aligned as requested. `top` moves down only when blocks above
// it are freed: popping the most recent record restores the top from before
// it; shrinking the top block in place lowers it to that block's new end;
// the end of a scope lowers it to the end of the newest block from before
// the scope (its current end: its in-place resizes while it was the top are
// kept, and it cannot be resized while blocks lie above it), freeing only
// blocks made in the scope, since `grow` never moves an older block during
// one. So live blocks never overlap each other or the records. The region is
// held by raw pointer.
unsafe impl<A: Allocator> Allocator for Stack<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let align = layout.align();
        if align > 16 {
            return self.alloc_over_aligned(layout);
        }
        let top = self.top.get();
        // The region is 16-byte aligned, so aligning the offset aligns the
        // address. No overflow: `top <= len <= isize::MAX`, and a
        // `Layout`'s size is at most `isize::MAX`.
        let align = align.max(WORD);
        let p = (top + HEADER + align - 1) & !(align - 1);
        let end = p + layout.size();
        if end > self.region.len() {
            return ptr::null_mut();
        }
        // SAFETY: `top + HEADER <= p <= end <= len`: the record and the
        // block lie in the free part of the region; `p` is word-aligned.
        unsafe { self.push(top, p, end) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        let last = self.last.get();
        if last != 0 && ptr.addr().wrapping_sub(self.region.addr()) == last {
            self.pop_record();
        } else {
            debug_assert!(
                false,
                "Stack::dealloc: {ptr:p} is not the most recent block (LIFO order violated)"
            );
        }
    }

    #[inline]
    unsafe fn grow(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        let off = ptr.addr().wrapping_sub(self.region.addr());
        if off == self.last.get() && off != 0 {
            // The top block: in place or not at all (a new block would start
            // above it and need even more room).
            return match off.checked_add(new_layout.size()) {
                Some(end) if end <= self.region.len() => {
                    self.resize_top(off, end);
                    ptr
                }
                _ => ptr::null_mut(),
            };
        }
        if off < HEADER || off > self.region.len() {
            debug_assert!(
                false,
                "Stack::grow: {ptr:p} does not belong to this allocator"
            );
            return ptr::null_mut();
        }
        if self.floor.get() != NO_SCOPE && off <= self.min_last.get() {
            // A block from before the current scope (every block at or
            // below the lowest point the scope reached is one): moved, it
            // would be released with the scope's blocks. Refuse.
            return ptr::null_mut();
        }
        // SAFETY: `ptr` is a live non-top block with `old_layout`; once moved,
        // its record is marked dead (the record's second word, which only
        // this allocator writes) so it is popped with the block above it.
        unsafe {
            move_block(self, ptr, old_layout, new_layout, |_| {
                let w = self.region.base().add(off - WORD).cast::<usize>();
                w.write(w.read() | DEAD);
            })
        }
    }

    #[inline]
    unsafe fn shrink(&self, ptr: *mut u8, _old_layout: Layout, new_layout: Layout) -> *mut u8 {
        let off = ptr.addr().wrapping_sub(self.region.addr());
        if off == self.last.get() && off != 0 {
            self.resize_top(off, off + new_layout.size());
        }
        // Any block still holds its first `new_layout.size()` bytes in place.
        ptr
    }

    #[inline]
    fn pageable(&self) -> bool {
        self.region.pageable()
    }
}

impl<A: Allocator + fmt::Debug> fmt::Debug for Stack<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("capacity", &self.capacity())
            .field("used", &self.total_allocated())
            .field("backing", &self.region.backing())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    fn l(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn lifo_pop_restores_exactly() {
        let mut s = Stack::with_capacity_in(256, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = s.alloc(l(3, 1));
            let t1 = s.total_allocated();
            let b = s.alloc(l(8, 64));
            assert_eq!(b.addr() % 64, 0);
            assert!(b.addr() >= a.addr() + 3 + HEADER);
            let _c = s.alloc(l(0, 1));
            assert!(s.pop());
            assert!(s.pop());
            assert_eq!(s.total_allocated(), t1);
            assert!(s.pop());
            assert_eq!(s.total_allocated(), 0);
            assert!(!s.pop());
        }
    }

    #[test]
    fn dealloc_of_top_pops_and_grow_shrink_in_place() {
        let s = Stack::with_capacity_in(256, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = s.alloc(l(8, 8));
            let used = s.total_allocated();
            let b = s.alloc(l(8, 8));
            assert_eq!(s.grow(b, l(8, 8), l(100, 8)), b);
            assert!(s.grow(b, l(100, 8), l(1000, 8)).is_null());
            assert_eq!(s.shrink(b, l(100, 8), l(4, 8)), b);
            assert_eq!(s.total_allocated(), b.addr() - s.region.addr() + 4);
            s.dealloc(b, l(4, 8));
            assert_eq!(s.total_allocated(), used);
            s.dealloc(a, l(8, 8));
            assert_eq!(s.remaining(), 256);
        }
    }

    #[test]
    fn growing_a_lower_block_moves_it_and_reclaims_later() {
        let s = Stack::with_capacity_in(512, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = s.alloc(l(8, 8));
            a.write_bytes(9, 8);
            let b = s.alloc(l(8, 8));
            let a2 = s.grow(a, l(8, 8), l(16, 8));
            assert!(a2 > b);
            assert!(core::slice::from_raw_parts(a2, 8).iter().all(|&x| x == 9));
            s.dealloc(a2, l(16, 8));
            s.dealloc(b, l(8, 8));
            // `a`'s record was dead: popped together with `b`.
            assert_eq!(s.total_allocated(), 0);
        }
    }

    #[test]
    fn exhaustion_and_bad_parameters() {
        assert_eq!(
            Stack::with_capacity_in(0, GlobalAllocator).err(),
            Some(AllocError::InvalidParameter)
        );
        let s = Stack::with_capacity_in(64, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            assert!(s.alloc(l(64, 1)).is_null());
            assert!(s.alloc(l(usize::MAX / 2, 1)).is_null());
            assert!(!s.alloc(l(64 - HEADER, 1)).is_null());
            assert!(s.alloc(l(0, 1)).is_null());
        }
    }

    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "LIFO order violated"))]
    fn freeing_below_the_top_is_detected_and_ignored() {
        let s = Stack::with_capacity_in(128, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; every pointer given back is a live block of this allocator with its current layout.
        unsafe {
            let a = s.alloc(l(8, 8));
            let b = s.alloc(l(8, 8));
            let used = s.total_allocated();
            s.dealloc(a, l(8, 8));
            assert_eq!(s.total_allocated(), used);
            s.dealloc(b, l(8, 8));
            s.dealloc(a, l(8, 8));
            assert_eq!(s.total_allocated(), 0);
        }
    }

    fn fill(p: *mut u8, n: usize, v: u8) {
        // SAFETY: callers pass blocks of at least `n` bytes.
        unsafe { ptr::write_bytes(p, v, n) };
    }

    fn check(p: *mut u8, n: usize, v: u8) -> bool {
        // SAFETY: callers pass live blocks of at least `n` initialised bytes.
        unsafe { core::slice::from_raw_parts(p, n) }
            .iter()
            .all(|&b| b == v)
    }

    #[test]
    fn scope_releases_its_blocks_at_once_and_keeps_older_ones() {
        let mut s = Stack::with_capacity_in(2048, GlobalAllocator).unwrap();
        let l = Layout::from_size_align(24, 8).unwrap();
        // SAFETY: valid layouts; blocks are freed by the scope or popped.
        let old = unsafe { s.alloc(l) };
        fill(old, 24, 0xAA);
        let before = s.total_allocated();
        let inner_used = s.scope(|s| {
            for i in 0..20u8 {
                // SAFETY: as above.
                let p = unsafe { s.alloc(Layout::from_size_align(8 + i as usize, 16).unwrap()) };
                assert!(!p.is_null());
                fill(p, 8 + i as usize, i);
            }
            s.total_allocated()
        });
        assert!(inner_used > before);
        assert_eq!(s.total_allocated(), before);
        assert!(check(old, 24, 0xAA), "older blocks are untouched");
        assert!(s.pop(), "the older block is still the top");
        assert_eq!(s.total_allocated(), 0);
        assert!(!s.pop());
    }

    #[test]
    fn lifo_frees_inside_a_scope_and_repeated_scopes() {
        let mut s = Stack::with_capacity_in(4096, GlobalAllocator).unwrap();
        let l = Layout::from_size_align(32, 8).unwrap();
        for round in 0..3u8 {
            let peak = s.scope(|s| {
                // SAFETY: valid layouts; `b` is freed while it is the top,
                // `a` by the scope.
                let a = unsafe { s.alloc(l) };
                // SAFETY: as above.
                let b = unsafe { s.alloc(l) };
                fill(a, 32, round);
                let peak = s.total_allocated();
                // SAFETY: `b` is the top block with layout `l`.
                unsafe { s.dealloc(b, l) };
                assert!(check(a, 32, round));
                peak
            });
            assert!(peak >= 64);
            assert_eq!(s.total_allocated(), 0, "round {round}");
        }
        assert!(!s.pop());
    }

    #[test]
    fn freeing_older_blocks_inside_a_scope_falls_back_to_popping() {
        let mut s = Stack::with_capacity_in(2048, GlobalAllocator).unwrap();
        let l = Layout::from_size_align(40, 8).unwrap();
        // SAFETY: valid layouts; every block is freed below.
        let a = unsafe { s.alloc(l) };
        // SAFETY: as above.
        let b = unsafe { s.alloc(l) };
        fill(a, 40, 7);
        let with_a = {
            // SAFETY: `b` is the top block with layout `l`.
            unsafe { s.dealloc(b, l) };
            s.total_allocated()
        };
        // SAFETY: as above.
        let b = unsafe { s.alloc(l) };
        let before = s.total_allocated();
        s.scope(|s| {
            // Frees `b`, which is older than the scope, then reuses its room.
            // SAFETY: `b` is the top block with layout `l`.
            unsafe { s.dealloc(b, l) };
            for _ in 0..3 {
                // SAFETY: valid layout; released by the scope.
                let p = unsafe { s.alloc(l) };
                fill(p, 40, 0xEE);
            }
        });
        assert_eq!(
            s.total_allocated(),
            with_a,
            "b stays freed, the scope's blocks are gone"
        );
        assert!(before > with_a);
        assert!(check(a, 40, 7));
        assert!(s.pop());
        assert_eq!(s.total_allocated(), 0);
    }
    #[test]
    fn scope_keeps_an_in_place_grow_of_an_older_block() {
        let mut s = Stack::with_capacity_in(1024, GlobalAllocator).unwrap();
        let (l16, l64) = (l(16, 8), l(64, 8));
        // SAFETY: a valid layout; the block is freed below.
        let x = unsafe { s.alloc(l16) };
        fill(x, 16, 0x11);
        let grown = s.scope(|s| {
            // SAFETY: `x` is the top block with layout `l16`.
            let p = unsafe { s.grow(x, l16, l64) };
            assert_eq!(p, x, "the top block grows in place");
            fill(x, 64, 0x22);
            s.total_allocated()
        });
        assert_eq!(s.total_allocated(), grown, "x keeps its new size");
        // SAFETY: a valid layout; the next block must not overlap `x`.
        let y = unsafe { s.alloc(l16) };
        assert!(y.addr() >= x.addr() + 64, "{y:p} overlaps x at {x:p}");
        fill(y, 16, 0x33);
        assert!(check(x, 64, 0x22));
        // A scope that allocates above the grown block releases only that.
        s.scope(|s| {
            // SAFETY: `y` is the top block with layout `l16`.
            assert_eq!(unsafe { s.grow(y, l16, l64) }, y);
            // SAFETY: a valid layout; released by the scope.
            assert!(!unsafe { s.alloc(l16) }.is_null());
        });
        // SAFETY: a valid layout; the next block must not overlap `y`.
        let z = unsafe { s.alloc(l16) };
        assert!(z.addr() >= y.addr() + 64, "{z:p} overlaps y at {y:p}");
        assert!(s.pop() && s.pop() && s.pop() && !s.pop());
        assert_eq!(s.total_allocated(), 0);
    }

    #[test]
    fn scope_keeps_an_in_place_shrink_of_an_older_block() {
        let mut s = Stack::with_capacity_in(1024, GlobalAllocator).unwrap();
        // SAFETY: a valid layout; the block is popped below.
        let x = unsafe { s.alloc(l(64, 8)) };
        let shrunk = s.scope(|s| {
            // SAFETY: `x` is the top block with layout 64/8.
            assert_eq!(unsafe { s.shrink(x, l(64, 8), l(8, 8)) }, x);
            // SAFETY: a valid layout; released by the scope.
            assert!(!unsafe { s.alloc(l(8, 8)) }.is_null());
            x.addr() - s.region.addr() + 8
        });
        assert_eq!(s.total_allocated(), shrunk, "the room x gave up is free");
        assert!(s.pop());
        assert_eq!(s.total_allocated(), 0);
    }

    #[test]
    fn a_scope_does_not_move_older_blocks() {
        let mut s = Stack::with_capacity_in(1024, GlobalAllocator).unwrap();
        // SAFETY: valid layouts; popped below.
        let (a, b) = unsafe { (s.alloc(l(16, 8)), s.alloc(l(16, 8))) };
        fill(a, 16, 0x44);
        let used = s.total_allocated();
        s.scope(|s| {
            // `a` is not the top: moving it would put it among the blocks
            // the scope releases, so the grow fails and `a` stays.
            // SAFETY: `a` is live with layout 16/8.
            assert!(unsafe { s.grow(a, l(16, 8), l(32, 8)) }.is_null());
            // SAFETY: a block made in the scope may move (and is released).
            let c = unsafe { s.alloc(l(8, 8)) };
            // SAFETY: as above.
            let _d = unsafe { s.alloc(l(8, 8)) };
            // SAFETY: `c` is live with layout 8/8, not the top.
            assert!(!unsafe { s.grow(c, l(8, 8), l(24, 8)) }.is_null());
        });
        assert_eq!(s.total_allocated(), used);
        assert!(check(a, 16, 0x44));
        // Outside a scope a lower block moves as before.
        // SAFETY: `a` is live with layout 16/8, below `b`.
        let a2 = unsafe { s.grow(a, l(16, 8), l(32, 8)) };
        assert!(a2 > b && check(a2, 16, 0x44));
        // SAFETY: `a2` is the top block.
        unsafe { s.dealloc(a2, l(32, 8)) };
        assert!(s.pop(), "b, then a's dead record");
        assert_eq!(s.total_allocated(), 0);
    }

    #[test]
    fn a_panicking_scope_still_releases_its_blocks() {
        let mut s = Stack::with_capacity_in(1024, GlobalAllocator).unwrap();
        // SAFETY: a valid layout; popped below.
        let a = unsafe { s.alloc(l(16, 8)) };
        let used = s.total_allocated();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            s.scope(|s| {
                // SAFETY: a valid layout; released by the scope.
                assert!(!unsafe { s.alloc(l(100, 8)) }.is_null());
                panic!("inside the scope");
            })
        }));
        assert!(r.is_err());
        assert_eq!(s.total_allocated(), used);
        // Outside any scope again: a lower block may move.
        // SAFETY: valid layout; `a` is live and not the top after this.
        let b = unsafe { s.alloc(l(8, 8)) };
        // SAFETY: `a` is live with layout 16/8.
        let a2 = unsafe { s.grow(a, l(16, 8), l(32, 8)) };
        assert!(!a2.is_null() && a2 > b);
        s.reset();
        assert_eq!(s.total_allocated(), 0);
    }
}
