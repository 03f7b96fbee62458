//! Random operation sequences on every allocation strategy of `kcom::alloc`
//! (`Bump`, `Pool`, `FreeList`, `Stack`, each bare or behind `Locked`),
//! over a region from the simulated kernel pool, and on `WdkAllocator`
//! (the simulated pool itself), checked against a model.
//!
//! The model keeps every live block with its layout and the pattern written
//! into it. After every operation the target asserts that
//!
//! * every live block still holds its pattern (no overlap, no allocator
//!   metadata written into a live block), is aligned as asked and lies in
//!   no other live block;
//! * `alloc_zeroed` / `grow_zeroed` memory is zero, `grow` / `shrink` keep
//!   the block's prefix, and a failed `grow` leaves the block untouched;
//! * the strategy's counters agree with the model (`Pool::num_allocated`,
//!   `FreeList::total_allocated`, `capacity == used + remaining`, …), and
//!   requests the strategy must serve succeed (a block that fits a `Pool`
//!   with free blocks, anything that fits an empty `FreeList`, an aligned
//!   fit on a `Bump` or `Stack`), while requests it cannot serve get null;
//! * once every block is freed, `FreeList` has coalesced back into one block
//!   and `Stack` is empty again;
//! * dropping the strategy gives its region back: the strategy's pool tag
//!   ends with nothing outstanding. A region allocation that fails (fault
//!   injected by the input) is reported as `InsufficientResources`.
//!
//! Operations respect each strategy's contract (layouts as allocated, LIFO
//! order for `Stack`); misuse detection is covered by the unit tests.
//!
//! # Input format
//!
//! ```text
//! u8   strategy (bits 0-1: bump, pool, free list, stack; bit 4 instead:
//!      `WdkAllocator` itself); bit 2: behind Locked; bit 3: fail the region
//!      allocation
//! u16, u16  construction parameters (capacity; block size and count)
//! then up to 200 operations: u8 opcode and its operands (see `step`)
//! ```
#![no_main]

use core::alloc::Layout;
use kcom::alloc::{AllocError, Bump, FreeList, Locked, Pool, Stack, sim};
use kcom::{Allocator, PoolType, WdkAllocator};
use kcom_fuzz::Input;
use libfuzzer_sys::fuzz_target;

const WORD: usize = size_of::<usize>();
/// Pool tag of the regions (one tag: the target is single-threaded).
const TAG: u32 = u32::from_le_bytes(*b"FzSt");

/// A live block in the model.
#[derive(Clone, Copy, Debug)]
struct Block {
    ptr: *mut u8,
    layout: Layout,
    /// Seed of the block's byte pattern.
    id: u32,
}

fn pattern(id: u32, i: usize) -> u8 {
    (id.wrapping_mul(0x9E37_79B9) as usize).wrapping_add(i.wrapping_mul(31)) as u8
}

/// Writes the pattern of `id` into `[from, to)` of `ptr`.
///
/// # Safety
///
/// `ptr` must be valid for writes of `to` bytes.
unsafe fn fill(ptr: *mut u8, id: u32, from: usize, to: usize) {
    for i in from..to {
        // SAFETY: `i < to`, in the block (caller contract).
        unsafe { ptr.add(i).write(pattern(id, i)) };
    }
}

/// Checks the first `len` bytes of `b` against its pattern.
fn check_pattern(b: &Block, len: usize, what: &str) {
    // SAFETY: `b` is live in the model, so its block holds at least
    // `layout.size() >= len` initialised bytes.
    let bytes = unsafe { std::slice::from_raw_parts(b.ptr, len) };
    if let Some(i) = (0..len).find(|&i| bytes[i] != pattern(b.id, i)) {
        panic!("{what}: block {b:?} byte {i} was overwritten");
    }
}

/// What a strategy promises beyond the `Allocator` contract.
trait Strategy: Allocator {
    /// Whether `layout` must succeed (`Some(true)`), must fail
    /// (`Some(false)`), or may do either, given the live blocks.
    fn expect_alloc(&self, live: &[Block], layout: Layout) -> Option<bool>;
    /// As `expect_alloc` for growing `b` to `new`.
    fn expect_grow(&self, live: &[Block], b: &Block, new: Layout) -> Option<bool>;
    /// Asserts the strategy's counters against the live blocks.
    fn check(&self, live: &[Block]);
    /// Whether blocks must be freed in LIFO order.
    fn lifo(&self) -> bool {
        false
    }
    /// Frees everything (`&mut`, as the real API); false if the strategy
    /// has no such operation.
    fn reset_all(&mut self) -> bool;
    /// Pops the most recent block, if the strategy has such an operation.
    fn pop_top(&mut self) -> Option<bool> {
        None
    }
}

/// Rounds `n` up to a multiple of the power of two `a`.
fn up(n: usize, a: usize) -> usize {
    (n + a - 1) & !(a - 1)
}

impl Strategy for Bump<'static, WdkAllocator> {
    fn expect_alloc(&self, _: &[Block], l: Layout) -> Option<bool> {
        // The region is 16-aligned, so for alignments up to 16 the next
        // block starts at the used size rounded up.
        (l.align() <= 16)
            .then(|| up(self.total_allocated(), l.align()) + l.size() <= self.capacity())
    }
    fn expect_grow(&self, _: &[Block], _: &Block, _: Layout) -> Option<bool> {
        None
    }
    fn check(&self, _: &[Block]) {
        assert_eq!(self.total_allocated() + self.remaining(), self.capacity());
    }
    fn reset_all(&mut self) -> bool {
        self.reset();
        assert_eq!(self.remaining(), self.capacity());
        true
    }
}

impl Strategy for Pool<WdkAllocator> {
    fn expect_alloc(&self, live: &[Block], l: Layout) -> Option<bool> {
        Some(
            l.size() <= self.block_size()
                && l.align() <= self.block_align()
                && live.len() < self.num_blocks(),
        )
    }
    fn expect_grow(&self, _: &[Block], _: &Block, new: Layout) -> Option<bool> {
        Some(new.size() <= self.block_size())
    }
    fn check(&self, live: &[Block]) {
        assert_eq!(self.num_allocated(), live.len());
        assert_eq!(
            self.num_free_blocks() + self.num_allocated(),
            self.num_blocks()
        );
        for b in live {
            assert_eq!(b.ptr.addr() % self.block_align(), 0);
        }
    }
    fn reset_all(&mut self) -> bool {
        self.reset();
        assert_eq!(self.num_free_blocks(), self.num_blocks());
        true
    }
}

impl Strategy for FreeList<WdkAllocator> {
    fn expect_alloc(&self, live: &[Block], l: Layout) -> Option<bool> {
        if l.size() > self.capacity() - 3 * WORD {
            return Some(false);
        }
        (live.is_empty() && l.align() <= 2 * WORD).then_some(true)
    }
    fn expect_grow(&self, _: &[Block], _: &Block, new: Layout) -> Option<bool> {
        (new.size() > self.capacity() - 3 * WORD).then_some(false)
    }
    fn check(&self, live: &[Block]) {
        let sum: usize = live.iter().map(|b| b.layout.size()).sum();
        assert_eq!(self.total_allocated(), sum);
        assert!(self.remaining() <= self.capacity());
        // Each live block costs at least its size plus three words of tags.
        assert!(self.remaining() + sum + live.len() * 3 * WORD <= self.capacity());
        if live.is_empty() {
            assert_eq!(
                self.remaining(),
                self.capacity(),
                "free blocks did not coalesce"
            );
        }
    }
    fn reset_all(&mut self) -> bool {
        self.reset();
        assert_eq!(self.remaining(), self.capacity());
        true
    }
}

impl Strategy for Stack<WdkAllocator> {
    fn expect_alloc(&self, _: &[Block], l: Layout) -> Option<bool> {
        let align = l.align().max(WORD);
        (align <= 16)
            .then(|| up(self.total_allocated() + 2 * WORD, align) + l.size() <= self.capacity())
    }
    fn expect_grow(&self, live: &[Block], b: &Block, new: Layout) -> Option<bool> {
        // The top block grows in place or not at all.
        let top = live.last().is_some_and(|t| t.ptr == b.ptr);
        (top && new.size() > self.capacity()).then_some(false)
    }
    fn check(&self, live: &[Block]) {
        assert_eq!(self.total_allocated() + self.remaining(), self.capacity());
        if live.is_empty() {
            assert_eq!(
                self.total_allocated(),
                0,
                "stack not empty after every free"
            );
        }
    }
    fn lifo(&self) -> bool {
        true
    }
    fn reset_all(&mut self) -> bool {
        self.reset();
        assert_eq!(self.total_allocated(), 0);
        true
    }
    fn pop_top(&mut self) -> Option<bool> {
        Some(self.pop())
    }
}

/// The pool allocator itself: any size, alignments up to
/// `MEMORY_ALLOCATION_ALIGNMENT` (larger ones need `wdk-alloc-align`),
/// every block accounted under its tag.
impl Strategy for WdkAllocator {
    fn expect_alloc(&self, _: &[Block], l: Layout) -> Option<bool> {
        // Over-aligned requests are served exactly when kcom was built with
        // `wdk-alloc-align` (the driver core enables it).
        Some(
            l.align() <= kcom::alloc::MEMORY_ALLOCATION_ALIGNMENT
                || WdkAllocator::SUPPORTS_OVER_ALIGNMENT,
        )
    }
    fn expect_grow(&self, _: &[Block], _: &Block, _: Layout) -> Option<bool> {
        Some(true)
    }
    fn check(&self, live: &[Block]) {
        let st = sim::stats(self.pool, self.tag);
        assert_eq!(st.outstanding_allocations, live.len() as u64);
        // The pool is asked for what `pool_request_size` says (the alignment
        // header included, where there is one).
        let bytes: usize = live
            .iter()
            .map(|b| WdkAllocator::pool_request_size(b.layout).expect("a served layout"))
            .sum();
        assert_eq!(st.outstanding_bytes, bytes as u64);
    }
    fn reset_all(&mut self) -> bool {
        false
    }
}

impl<S: Strategy> Strategy for Locked<S> {
    fn expect_alloc(&self, live: &[Block], l: Layout) -> Option<bool> {
        self.lock().expect_alloc(live, l)
    }
    fn expect_grow(&self, live: &[Block], b: &Block, new: Layout) -> Option<bool> {
        self.lock().expect_grow(live, b, new)
    }
    fn check(&self, live: &[Block]) {
        self.lock().check(live)
    }
    fn lifo(&self) -> bool {
        self.lock().lifo()
    }
    fn reset_all(&mut self) -> bool {
        self.get_mut().reset_all()
    }
    fn pop_top(&mut self) -> Option<bool> {
        self.get_mut().pop_top()
    }
}

/// A layout from the input: mostly small, sometimes up to (or past) the
/// region's size; alignments 1 ..= 4096.
fn layout(inp: &mut Input<'_>, capacity: usize) -> Layout {
    let size = match inp.u8() % 8 {
        0 => 0,
        1..=4 => usize::from(inp.u8()),
        5 => usize::from(inp.u16()) % (capacity + 64),
        6 => capacity.saturating_sub(usize::from(inp.u8() % 64)),
        _ => usize::from(inp.u16()),
    };
    let align = match inp.u8() % 16 {
        a @ 0..=12 => 1usize << (a % 5),
        a => 1usize << (usize::from(a) - 8 + usize::from(inp.u8() % 5)), // up to 4096
    };
    Layout::from_size_align(size, align).expect("small power-of-two layout")
}

/// Asserts a fresh block against the model and records it.
fn admit(live: &mut Vec<Block>, p: *mut u8, l: Layout, id: u32, zeroed: bool) {
    assert_eq!(p.addr() % l.align(), 0, "misaligned block {p:p} for {l:?}");
    if l.size() > 0 {
        for b in live.iter().filter(|b| b.layout.size() > 0) {
            let disjoint =
                p.addr() + l.size() <= b.ptr.addr() || b.ptr.addr() + b.layout.size() <= p.addr();
            assert!(disjoint, "block {p:p}+{} overlaps {b:?}", l.size());
        }
    }
    if zeroed {
        // SAFETY: a fresh block of `l.size()` bytes.
        let bytes = unsafe { std::slice::from_raw_parts(p, l.size()) };
        assert!(
            bytes.iter().all(|&x| x == 0),
            "alloc_zeroed returned dirty memory"
        );
    }
    // SAFETY: as above, writable.
    unsafe { fill(p, id, 0, l.size()) };
    live.push(Block {
        ptr: p,
        layout: l,
        id,
    });
}

fn check_all<S: Strategy>(s: &S, live: &[Block]) {
    for b in live {
        check_pattern(b, b.layout.size(), "after an operation");
    }
    s.check(live);
}

/// One operation on `s`, mirrored in `live`.
fn step<S: Strategy>(
    s: &mut S,
    live: &mut Vec<Block>,
    next_id: &mut u32,
    capacity: usize,
    inp: &mut Input<'_>,
) {
    let op = inp.u8();
    match op % 10 {
        0..=3 => {
            let l = layout(inp, capacity);
            let zeroed = op & 0x10 != 0;
            let expect = s.expect_alloc(live, l);
            // SAFETY: a valid layout; the block is freed with it (or the
            // region is reset/dropped, which ends every block).
            let p = unsafe {
                if zeroed {
                    s.alloc_zeroed(l)
                } else {
                    s.alloc(l)
                }
            };
            if let Some(e) = expect {
                assert_eq!(
                    !p.is_null(),
                    e,
                    "alloc {l:?} with {} live blocks",
                    live.len()
                );
            }
            if !p.is_null() {
                *next_id += 1;
                admit(live, p, l, *next_id, zeroed);
            }
        }
        4 | 5 => {
            if live.is_empty() {
                return;
            }
            let i = if s.lifo() {
                live.len() - 1
            } else {
                usize::from(inp.u16()) % live.len()
            };
            let b = live.remove(i);
            check_pattern(&b, b.layout.size(), "before dealloc");
            // SAFETY: a live block of `s` with its current layout.
            unsafe { s.dealloc(b.ptr, b.layout) };
        }
        6 | 7 => {
            if live.is_empty() {
                return;
            }
            let i = usize::from(inp.u16()) % live.len();
            let b = live[i];
            let extra = match inp.u8() % 4 {
                0 => 0,
                1 | 2 => usize::from(inp.u8()),
                _ => usize::from(inp.u16()),
            };
            let new = Layout::from_size_align(b.layout.size() + extra, b.layout.align()).unwrap();
            let zeroed = op & 0x10 != 0;
            let expect = s.expect_grow(live, &b, new);
            // SAFETY: a live block with its layout; same alignment, larger
            // or equal size.
            let p = unsafe {
                if zeroed {
                    s.grow_zeroed(b.ptr, b.layout, new)
                } else {
                    s.grow(b.ptr, b.layout, new)
                }
            };
            if let Some(e) = expect {
                assert_eq!(!p.is_null(), e, "grow {b:?} to {new:?}");
            }
            if p.is_null() {
                check_pattern(&b, b.layout.size(), "after a failed grow");
                return;
            }
            live.remove(i);
            let nb = Block {
                ptr: p,
                layout: new,
                id: b.id,
            };
            check_pattern(&nb, b.layout.size(), "grow lost the prefix");
            if zeroed {
                // SAFETY: the grown block holds `new.size()` bytes.
                let tail = unsafe { std::slice::from_raw_parts(p.add(b.layout.size()), extra) };
                assert!(tail.iter().all(|&x| x == 0), "grow_zeroed tail not zero");
            }
            assert_eq!(p.addr() % new.align(), 0);
            // SAFETY: the grown block holds `new.size()` bytes.
            unsafe { fill(p, b.id, b.layout.size(), new.size()) };
            // A moved block of a stack becomes its top.
            if s.lifo() && p != b.ptr {
                live.push(nb);
            } else {
                live.insert(i.min(live.len()), nb);
            }
            let mut others = live.clone();
            let me = others
                .iter()
                .position(|x| x.ptr == p && x.id == b.id)
                .unwrap();
            others.remove(me);
            admit(&mut others, p, new, b.id, false);
        }
        8 => {
            if live.is_empty() {
                return;
            }
            let i = usize::from(inp.u16()) % live.len();
            let b = live[i];
            let new_size = usize::from(inp.u16()) % (b.layout.size() + 1);
            let new = Layout::from_size_align(new_size, b.layout.align()).unwrap();
            // SAFETY: a live block with its layout; same alignment, smaller
            // or equal size.
            let p = unsafe { s.shrink(b.ptr, b.layout, new) };
            assert!(!p.is_null(), "shrink of {b:?} to {new:?} failed");
            let nb = Block {
                ptr: p,
                layout: new,
                id: b.id,
            };
            check_pattern(&nb, new_size, "shrink lost the prefix");
            live[i] = nb;
        }
        _ => {
            if op & 0x20 != 0 {
                if s.reset_all() {
                    live.clear();
                }
            } else if let Some(popped) = s.pop_top() {
                assert_eq!(popped, !live.is_empty());
                live.pop();
            }
        }
    }
    check_all(s, live);
}

fn drive<S: Strategy>(mut s: S, capacity: usize, inp: &mut Input<'_>) {
    let mut live = Vec::new();
    let mut next_id = 0u32;
    for _ in 0..200 {
        if inp.is_empty() {
            break;
        }
        step(&mut s, &mut live, &mut next_id, capacity, inp);
    }
    // Free what is left (newest first, which every strategy accepts).
    while let Some(b) = live.pop() {
        check_pattern(&b, b.layout.size(), "final free");
        // SAFETY: a live block of `s` with its current layout.
        unsafe { s.dealloc(b.ptr, b.layout) };
        s.check(&live);
    }
    drop(s);
}

fn outstanding() -> u64 {
    PoolType::ALL
        .into_iter()
        .map(|p| sim::stats(p, TAG).outstanding_allocations)
        .sum()
}

/// Checks a constructor's result: an injected region fault must surface as
/// `InsufficientResources`, and nothing else may fail that way unless the
/// region needs more alignment than the pool gives (`beyond_pool`).
fn built<S>(r: Result<S, AllocError>, injected: bool, beyond_pool: bool) -> Option<S> {
    match r {
        Ok(s) => {
            assert!(!injected, "region allocation fault was ignored");
            Some(s)
        }
        Err(AllocError::InsufficientResources) => {
            assert!(
                injected || beyond_pool,
                "region allocation failed without a fault"
            );
            None
        }
        Err(AllocError::InvalidParameter) => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let kind = inp.u8();
    let a = inp.u16();
    let b = inp.u16();
    let backing = WdkAllocator::non_paged(TAG);
    let locked = kind & 4 != 0;
    let inject = kind & 8 != 0;
    if inject {
        sim::fail_nth(TAG, None, 1);
    }
    assert_eq!(outstanding(), 0);
    if kind & 0x10 != 0 {
        // No region: the operations go to the pool directly.
        sim::clear_faults(TAG);
        if locked {
            drive(Locked::new(backing), 1 << 16, &mut inp)
        } else {
            drive(backing, 1 << 16, &mut inp)
        }
        assert_eq!(outstanding(), 0, "blocks left in the pool");
        return;
    }
    match kind % 4 {
        0 => {
            let cap = usize::from(a) % 16384;
            let r = Bump::with_capacity_in(cap, backing);
            let injected = inject && cap != 0;
            if let Some(s) = built(r, injected, false) {
                if locked {
                    drive(Locked::new(s), cap, &mut inp)
                } else {
                    drive(s, cap, &mut inp)
                }
            }
        }
        1 => {
            let (size, n) = (usize::from(a % 1024), usize::from(b % 128));
            // The block alignment the pool will ask its region for.
            let (r, region_align) = if a & 0x8000 != 0 {
                let align = 1usize << (b >> 12);
                let r =
                    Pool::with_layout_in(Layout::from_size_align(size, align).unwrap(), n, backing);
                (r, align.max(WORD))
            } else {
                let rounded = size.max(WORD).next_multiple_of(WORD);
                let align =
                    (1usize << rounded.trailing_zeros()).min(kcom::alloc::POOL_MAX_AUTO_ALIGN);
                (Pool::with_blocks_in(size, n, backing), align)
            };
            let injected = inject && n != 0;
            // A region the pool cannot align (only without `wdk-alloc-align`).
            let beyond_pool = region_align > kcom::alloc::MEMORY_ALLOCATION_ALIGNMENT
                && !WdkAllocator::SUPPORTS_OVER_ALIGNMENT;
            if let Some(s) = built(r, injected && !beyond_pool, beyond_pool) {
                let cap = s.block_size() * s.num_blocks();
                if locked {
                    drive(Locked::new(s), cap, &mut inp)
                } else {
                    drive(s, cap, &mut inp)
                }
            }
        }
        2 => {
            let cap = usize::from(a) % 16384;
            let r = FreeList::with_capacity_in(cap, backing);
            let injected = inject && cap & !(2 * WORD - 1) >= 4 * WORD;
            if let Some(s) = built(r, injected, false) {
                let cap = s.capacity();
                if locked {
                    drive(Locked::new(s), cap, &mut inp)
                } else {
                    drive(s, cap, &mut inp)
                }
            }
        }
        _ => {
            let cap = usize::from(a) % 16384;
            let r = Stack::with_capacity_in(cap, backing);
            let injected = inject && cap != 0;
            if let Some(s) = built(r, injected, false) {
                if locked {
                    drive(Locked::new(s), cap, &mut inp)
                } else {
                    drive(s, cap, &mut inp)
                }
            }
        }
    }
    sim::clear_faults(TAG);
    assert_eq!(outstanding(), 0, "a strategy did not give its region back");
});
