//! Model-based property tests of the allocation strategies.
//!
//! Random sequences of alloc / alloc_zeroed / dealloc / grow / grow_zeroed /
//! shrink / reset / pop and scopes (a run of those operations inside
//! `Stack::scope`; inline for strategies without scopes) run against each
//! strategy and a model of it. After
//! every step: blocks are aligned, inside the region, disjoint from every
//! live block (each block carries a fill pattern that is verified when it is
//! freed, resized or at the end, which catches overlap), zeroed when asked,
//! and the statistics match the model. After the strategy is dropped the
//! counting backing allocator has nothing outstanding.

use core::alloc::Layout;
use core::mem::size_of;

use kcom::Allocator;
use kcom::alloc::{AllocError, Bump, FreeList, Pool, Stack};
use proptest::prelude::*;
use tests_host::CountingAlloc;

const WORD: usize = size_of::<usize>();

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: if cfg!(miri) { 8 } else { 256 },
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn max_ops() -> usize {
    if cfg!(miri) { 24 } else { 80 }
}

#[derive(Clone, Debug)]
enum Op {
    Alloc {
        size: usize,
        align_shift: u32,
        zeroed: bool,
    },
    /// A request no strategy can serve (size or alignment too big).
    AllocHuge {
        zero_sized: bool,
    },
    Dealloc(usize),
    Grow {
        pick: usize,
        extra: usize,
        zeroed: bool,
    },
    Shrink {
        pick: usize,
        keep: usize,
    },
    Reset,
    Pop,
    /// These operations inside a scope (`Stack::scope`; run inline by the
    /// other strategies). Reset, pop and nested scopes need `&mut` and are
    /// skipped inside one.
    Scope(Vec<Op>),
}

fn ops(max_size: usize) -> impl Strategy<Value = Vec<Op>> {
    let scope = prop::collection::vec(op(max_size), 0..max_ops() / 2).prop_map(Op::Scope);
    prop::collection::vec(prop_oneof![12 => op(max_size), 1 => scope], 1..max_ops())
}

fn op(max_size: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..=max_size, 0u32..=7, any::<bool>())
            .prop_map(|(size, align_shift, zeroed)| Op::Alloc { size, align_shift, zeroed }),
        1 => any::<bool>().prop_map(|zero_sized| Op::AllocHuge { zero_sized }),
        5 => any::<usize>().prop_map(Op::Dealloc),
        3 => (any::<usize>(), 0..=max_size, any::<bool>())
            .prop_map(|(pick, extra, zeroed)| Op::Grow { pick, extra, zeroed }),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(pick, keep)| Op::Shrink { pick, keep }),
        1 => Just(Op::Reset),
        2 => Just(Op::Pop),
    ]
}

/// A live block handed out by the strategy under test.
#[derive(Clone, Copy, Debug)]
struct Live {
    id: u64,
    ptr: *mut u8,
    layout: Layout,
}

fn pattern(id: u64, i: usize) -> u8 {
    (id as u8).wrapping_mul(31).wrapping_add(i as u8) | 1
}

/// Fills `[from, size)` of a block with its pattern.
fn fill(l: &Live, from: usize) {
    for i in from..l.layout.size() {
        // SAFETY: the block is live with at least `size` bytes.
        unsafe { l.ptr.add(i).write(pattern(l.id, i)) };
    }
}

/// Verifies the first `n` bytes of a block hold its pattern.
fn verify(l: &Live, n: usize) {
    for i in 0..n {
        // SAFETY: the block is live with at least `n` bytes.
        let b = unsafe { l.ptr.add(i).read() };
        assert_eq!(
            b,
            pattern(l.id, i),
            "block {} corrupted at byte {i} of {}",
            l.id,
            l.layout.size()
        );
    }
}

fn verify_zero(p: *mut u8, from: usize, to: usize) {
    for i in from..to {
        // SAFETY: the block is live with at least `to` bytes.
        assert_eq!(unsafe { p.add(i).read() }, 0, "byte {i} not zeroed");
    }
}

/// The parts of a model that differ between strategies.
trait Model<S: Allocator> {
    /// Region `[start, end)` addresses.
    fn region(&self) -> (usize, usize);
    /// Predicts whether `alloc(layout)` succeeds (None: cannot tell), and
    /// records the block on success.
    fn alloc(&mut self, s: &S, layout: Layout, id: u64, got: *mut u8) -> Option<bool>;
    /// Which live block a `Dealloc(pick)` frees (Stack: only the top).
    fn pick_dealloc(&self, lives: &[Live], pick: usize) -> Option<usize> {
        (!lives.is_empty()).then(|| pick % lives.len())
    }
    fn dealloc(&mut self, l: &Live);
    /// Called with the result of `grow`; asserts the prediction, updates.
    fn grow(&mut self, l: &Live, new: Layout, got: *mut u8);
    fn shrink(&mut self, l: &Live, new: Layout, got: *mut u8);
    /// Frees everything; returns false if the strategy has no reset.
    fn reset(&mut self, s: &mut S) -> bool;
    /// Pops; returns the ids of live blocks freed, or None if no pop.
    fn pop(&mut self, s: &mut S) -> Option<Vec<u64>>;
    fn check_stats(&self, s: &S, lives: &[Live]);
    /// Runs `f` in the strategy's scope (inline if it has none).
    fn scope(s: &mut S, f: impl FnOnce(&S)) {
        f(s)
    }
    /// A scope begins.
    fn scope_enter(&mut self) {}
    /// The scope ended; returns the ids of live blocks it freed.
    fn scope_exit(&mut self) -> Vec<u64> {
        Vec::new()
    }
}

fn in_region<S: Allocator>(m: &impl Model<S>, p: *mut u8, size: usize) -> bool {
    let (start, end) = m.region();
    p.addr() >= start && p.addr() + size <= end
}

fn check_new_block<S: Allocator>(m: &impl Model<S>, lives: &[Live], p: *mut u8, layout: Layout) {
    assert_eq!(
        p.addr() % layout.align(),
        0,
        "misaligned block {p:p} for {layout:?}"
    );
    assert!(
        in_region(m, p, layout.size()),
        "block {p:p} ({layout:?}) outside the region"
    );
    if layout.size() == 0 {
        return;
    }
    for l in lives.iter().filter(|l| l.layout.size() != 0) {
        let disjoint =
            p.addr() + layout.size() <= l.ptr.addr() || l.ptr.addr() + l.layout.size() <= p.addr();
        assert!(
            disjoint,
            "block {p:p} ({layout:?}) overlaps live block {} at {:p}",
            l.id, l.ptr
        );
    }
}

/// The live blocks of a run.
struct Blocks {
    lives: Vec<Live>,
    next_id: u64,
}

fn run<S: Allocator, M: Model<S>>(mut s: S, mut m: M, ops: Vec<Op>) {
    let mut b = Blocks {
        lives: Vec::new(),
        next_id: 1,
    };
    m.check_stats(&s, &b.lives);
    for op in ops {
        match op {
            Op::Reset => {
                for l in &b.lives {
                    verify(l, l.layout.size());
                }
                if m.reset(&mut s) {
                    b.lives.clear();
                }
            }
            Op::Pop => {
                if let Some(ids) = m.pop(&mut s) {
                    for id in ids {
                        let l = take(&mut b.lives, id);
                        verify(&l, l.layout.size());
                    }
                }
            }
            Op::Scope(inner) => {
                m.scope_enter();
                M::scope(&mut s, |s| {
                    for op in &inner {
                        step(s, &mut m, &mut b, op);
                        m.check_stats(s, &b.lives);
                    }
                    for l in &b.lives {
                        verify(l, l.layout.size());
                    }
                });
                for id in m.scope_exit() {
                    take(&mut b.lives, id);
                }
                // What the scope kept (blocks from before it, at their
                // current sizes) is intact.
                for l in &b.lives {
                    verify(l, l.layout.size());
                }
            }
            op => step(&s, &mut m, &mut b, &op),
        }
        m.check_stats(&s, &b.lives);
    }
    let lives = &mut b.lives;
    for l in lives.iter() {
        verify(l, l.layout.size());
    }
    // Free what is left in an order every strategy accepts (LIFO).
    while let Some(i) = m.pick_dealloc(lives, usize::MAX) {
        let l = lives.remove(i);
        m.dealloc(&l);
        // SAFETY: `l` is live with this layout.
        unsafe { s.dealloc(l.ptr, l.layout) };
        m.check_stats(&s, lives);
    }
    assert!(lives.is_empty(), "blocks left that the model cannot free");
    drop(s);
}

/// Removes the live block `id`.
fn take(lives: &mut Vec<Live>, id: u64) -> Live {
    let i = lives
        .iter()
        .position(|l| l.id == id)
        .expect("a freed block was live");
    lives.remove(i)
}

/// One operation that needs only `&S` (reset, pop and scopes are skipped).
fn step<S: Allocator, M: Model<S>>(s: &S, m: &mut M, b: &mut Blocks, op: &Op) {
    let lives = &mut b.lives;
    match *op {
        Op::Alloc {
            size,
            align_shift,
            zeroed,
        } => {
            let layout = Layout::from_size_align(size, 1 << align_shift).unwrap();
            // SAFETY: valid layout; freed below with the same layout.
            let p = unsafe {
                if zeroed {
                    s.alloc_zeroed(layout)
                } else {
                    s.alloc(layout)
                }
            };
            let id = b.next_id;
            b.next_id += 1;
            if let Some(expect) = m.alloc(s, layout, id, p) {
                assert_eq!(!p.is_null(), expect, "alloc {layout:?} success mismatch");
            }
            if !p.is_null() {
                check_new_block::<S>(m, lives, p, layout);
                if zeroed {
                    verify_zero(p, 0, size);
                }
                let l = Live { id, ptr: p, layout };
                fill(&l, 0);
                lives.push(l);
            }
        }
        Op::AllocHuge { zero_sized } => {
            let layout = if zero_sized {
                Layout::from_size_align(0, 1 << 40).unwrap()
            } else {
                Layout::from_size_align(isize::MAX as usize / 2 + 1, 8).unwrap()
            };
            let (start, _) = m.region();
            if !zero_sized || !start.is_multiple_of(1 << 40) {
                // SAFETY: valid layout; null expected (nothing to free).
                let p = unsafe { s.alloc(layout) };
                assert!(p.is_null(), "{layout:?} must be refused");
            }
        }
        Op::Dealloc(pick) => {
            if let Some(i) = m.pick_dealloc(lives, pick) {
                let l = lives.remove(i);
                verify(&l, l.layout.size());
                m.dealloc(&l);
                // SAFETY: `l` is live with this layout.
                unsafe { s.dealloc(l.ptr, l.layout) };
            }
        }
        Op::Grow {
            pick,
            extra,
            zeroed,
        } => {
            if lives.is_empty() {
                return;
            }
            let i = pick % lives.len();
            let l = lives[i];
            let new = Layout::from_size_align(l.layout.size() + extra, l.layout.align()).unwrap();
            // SAFETY: `l` is live with its layout; same alignment, larger size.
            let p = unsafe {
                if zeroed {
                    s.grow_zeroed(l.ptr, l.layout, new)
                } else {
                    s.grow(l.ptr, l.layout, new)
                }
            };
            m.grow(&l, new, p);
            if p.is_null() {
                verify(&l, l.layout.size());
            } else {
                let others: Vec<Live> = lives.iter().copied().filter(|o| o.id != l.id).collect();
                check_new_block::<S>(m, &others, p, new);
                let moved = Live {
                    id: l.id,
                    ptr: p,
                    layout: new,
                };
                verify(&moved, l.layout.size());
                if zeroed {
                    verify_zero(p, l.layout.size(), new.size());
                }
                fill(&moved, l.layout.size());
                lives[i] = moved;
            }
        }
        Op::Shrink { pick, keep } => {
            if lives.is_empty() {
                return;
            }
            let i = pick % lives.len();
            let l = lives[i];
            let new =
                Layout::from_size_align(keep % (l.layout.size() + 1), l.layout.align()).unwrap();
            // SAFETY: `l` is live with its layout; same alignment, smaller size.
            let p = unsafe { s.shrink(l.ptr, l.layout, new) };
            m.shrink(&l, new, p);
            assert!(!p.is_null(), "shrink failed");
            let others: Vec<Live> = lives.iter().copied().filter(|o| o.id != l.id).collect();
            check_new_block::<S>(m, &others, p, new);
            let moved = Live {
                id: l.id,
                ptr: p,
                layout: new,
            };
            verify(&moved, new.size());
            lives[i] = moved;
        }
        Op::Reset | Op::Pop | Op::Scope(_) => {}
    }
}

fn align_up(addr: usize, align: usize) -> Option<usize> {
    Some(addr.checked_add(align - 1)? & !(align - 1))
}

// ----- Bump -------------------------------------------------------------

struct BumpModel {
    start: usize,
    len: usize,
    top: usize,
}

impl BumpModel {
    fn place(&self, layout: Layout) -> Option<usize> {
        let p = align_up(self.start + self.top, layout.align())?;
        let end = p.checked_add(layout.size())?;
        (end <= self.start + self.len).then_some(p)
    }
    fn is_top(&self, l: &Live) -> bool {
        l.ptr.addr() + l.layout.size() == self.start + self.top
    }
}

impl<B: Allocator> Model<Bump<'static, B>> for BumpModel {
    fn region(&self) -> (usize, usize) {
        (self.start, self.start + self.len)
    }
    fn alloc(
        &mut self,
        _: &Bump<'static, B>,
        layout: Layout,
        _: u64,
        got: *mut u8,
    ) -> Option<bool> {
        let place = self.place(layout);
        if let Some(p) = place {
            assert_eq!(
                got.addr(),
                p,
                "bump must place the block at the aligned top"
            );
            self.top = p + layout.size() - self.start;
        }
        Some(place.is_some())
    }
    fn dealloc(&mut self, l: &Live) {
        if self.is_top(l) {
            self.top = l.ptr.addr() - self.start;
        }
    }
    fn grow(&mut self, l: &Live, new: Layout, got: *mut u8) {
        if self.is_top(l) {
            let fits = l.ptr.addr() + new.size() <= self.start + self.len;
            assert_eq!(!got.is_null(), fits);
            if fits {
                assert_eq!(got, l.ptr, "top block must grow in place");
                self.top = l.ptr.addr() + new.size() - self.start;
            }
        } else {
            let place = self.place(new);
            assert_eq!(got.addr(), place.unwrap_or(0));
            if let Some(p) = place {
                self.top = p + new.size() - self.start;
            }
        }
    }
    fn shrink(&mut self, l: &Live, new: Layout, got: *mut u8) {
        assert_eq!(got, l.ptr, "bump shrinks in place");
        if self.is_top(l) {
            self.top = l.ptr.addr() + new.size() - self.start;
        }
    }
    fn reset(&mut self, s: &mut Bump<'static, B>) -> bool {
        s.reset();
        self.top = 0;
        true
    }
    fn pop(&mut self, _: &mut Bump<'static, B>) -> Option<Vec<u64>> {
        None
    }
    fn check_stats(&self, s: &Bump<'static, B>, _: &[Live]) {
        assert_eq!(s.total_allocated(), self.top);
        assert_eq!(s.remaining(), self.len - self.top);
        assert_eq!(s.capacity(), self.len);
    }
}

// ----- Pool -------------------------------------------------------------

struct PoolModel {
    start: usize,
    block_size: usize,
    block_align: usize,
    num_blocks: usize,
    live: usize,
}

impl<B: Allocator> Model<Pool<B>> for PoolModel {
    fn region(&self) -> (usize, usize) {
        (self.start, self.start + self.block_size * self.num_blocks)
    }
    fn alloc(&mut self, _: &Pool<B>, layout: Layout, _: u64, got: *mut u8) -> Option<bool> {
        let ok = layout.size() <= self.block_size
            && layout.align() <= self.block_align
            && self.live < self.num_blocks;
        if !got.is_null() {
            assert_eq!(
                (got.addr() - self.start) % self.block_size,
                0,
                "not a block start"
            );
            self.live += 1;
        }
        Some(ok)
    }
    fn dealloc(&mut self, _: &Live) {
        self.live -= 1;
    }
    fn grow(&mut self, l: &Live, new: Layout, got: *mut u8) {
        if new.size() <= self.block_size {
            assert_eq!(got, l.ptr, "pool grows within the block");
        } else {
            assert!(got.is_null(), "pool cannot grow past a block");
        }
    }
    fn shrink(&mut self, l: &Live, _: Layout, got: *mut u8) {
        assert_eq!(got, l.ptr);
    }
    fn reset(&mut self, s: &mut Pool<B>) -> bool {
        s.reset();
        self.live = 0;
        true
    }
    fn pop(&mut self, _: &mut Pool<B>) -> Option<Vec<u64>> {
        None
    }
    fn check_stats(&self, s: &Pool<B>, lives: &[Live]) {
        assert_eq!(s.num_allocated(), self.live);
        assert_eq!(s.num_allocated(), lives.len());
        assert_eq!(s.num_free_blocks(), self.num_blocks - self.live);
    }
}

// ----- FreeList ---------------------------------------------------------

struct FreeListModel {
    start: usize,
    len: usize,
}

/// The least a live block of `size` bytes occupies (header, back offset,
/// payload, footer; two-word granularity; four-word minimum).
fn free_list_min_block(size: usize) -> usize {
    (3 * WORD + size).next_multiple_of(2 * WORD).max(4 * WORD)
}

impl<B: Allocator> Model<FreeList<B>> for FreeListModel {
    fn region(&self) -> (usize, usize) {
        (self.start, self.start + self.len)
    }
    fn alloc(&mut self, _: &FreeList<B>, layout: Layout, _: u64, _: *mut u8) -> Option<bool> {
        // Success depends on fragmentation; only the impossible is
        // predicted (every block spends three words on tags). `check_stats`
        // proves that an empty free list serves the largest request.
        (layout.size() + 3 * WORD > self.len).then_some(false)
    }
    fn dealloc(&mut self, _: &Live) {}
    fn grow(&mut self, _: &Live, new: Layout, got: *mut u8) {
        if new.size() + 3 * WORD > self.len {
            assert!(got.is_null());
        }
    }
    fn shrink(&mut self, l: &Live, _: Layout, got: *mut u8) {
        assert_eq!(got, l.ptr, "free list shrinks in place");
    }
    fn reset(&mut self, s: &mut FreeList<B>) -> bool {
        s.reset();
        true
    }
    fn pop(&mut self, _: &mut FreeList<B>) -> Option<Vec<u64>> {
        None
    }
    fn check_stats(&self, s: &FreeList<B>, lives: &[Live]) {
        let requested: usize = lives.iter().map(|l| l.layout.size()).sum();
        assert_eq!(s.total_allocated(), requested);
        let used: usize = lives
            .iter()
            .map(|l| free_list_min_block(l.layout.size()))
            .sum();
        assert!(
            s.remaining() + used <= self.len,
            "remaining {} + used {used} > {}",
            s.remaining(),
            self.len
        );
        if lives.is_empty() {
            // Everything coalesced back into one block: the largest request fits.
            assert_eq!(s.remaining(), self.len);
            let all = Layout::from_size_align(self.len - 3 * WORD, 2 * WORD).unwrap();
            // SAFETY: valid layout, freed right away with it.
            unsafe {
                let p = s.alloc(all);
                assert!(!p.is_null(), "free list did not coalesce");
                s.dealloc(p, all);
            }
            assert_eq!(s.remaining(), self.len);
        }
    }
}

// ----- Stack ------------------------------------------------------------

struct Rec {
    /// Top before the record.
    prev_top: usize,
    /// Live block id, `None` once moved away by grow (dead record).
    id: Option<u64>,
}

struct StackModel {
    start: usize,
    len: usize,
    top: usize,
    recs: Vec<Rec>,
    /// Inside a scope: the fewest records there were since it began (the
    /// records below that index are from before the scope, untouched).
    scope_low: Option<usize>,
}

impl StackModel {
    fn place(&self, layout: Layout) -> Option<usize> {
        let h = (self.start + self.top).checked_add(2 * WORD)?;
        let p = align_up(h, layout.align().max(WORD))?;
        (p.checked_add(layout.size())? <= self.start + self.len).then_some(p)
    }
    fn push(&mut self, p: usize, size: usize, id: u64) {
        self.recs.push(Rec {
            prev_top: self.top,
            id: Some(id),
        });
        self.top = p + size - self.start;
    }
    fn is_top(&self, l: &Live) -> bool {
        self.recs.last().is_some_and(|r| r.id == Some(l.id))
    }
    /// Pops the top record and the dead ones below; returns the live id.
    fn pop_rec(&mut self) -> Option<u64> {
        let r = self.recs.pop()?;
        self.top = r.prev_top;
        while self.recs.last().is_some_and(|r| r.id.is_none()) {
            self.top = self.recs.pop().unwrap().prev_top;
        }
        if let Some(low) = &mut self.scope_low {
            *low = (*low).min(self.recs.len());
        }
        r.id
    }
    /// Whether `l` is a block from before the current scope.
    fn older_than_scope(&self, l: &Live) -> bool {
        self.scope_low
            .is_some_and(|low| self.recs[..low].iter().any(|r| r.id == Some(l.id)))
    }
}

impl<B: Allocator> Model<Stack<B>> for StackModel {
    fn region(&self) -> (usize, usize) {
        (self.start, self.start + self.len)
    }
    fn alloc(&mut self, _: &Stack<B>, layout: Layout, id: u64, got: *mut u8) -> Option<bool> {
        let place = self.place(layout);
        if let Some(p) = place {
            assert_eq!(
                got.addr(),
                p,
                "stack must place the block after its record at the top"
            );
            self.push(p, layout.size(), id);
        }
        Some(place.is_some())
    }
    fn pick_dealloc(&self, lives: &[Live], _: usize) -> Option<usize> {
        let top = self.recs.last()?.id?;
        lives.iter().position(|l| l.id == top)
    }
    fn dealloc(&mut self, l: &Live) {
        assert!(self.is_top(l));
        self.pop_rec();
    }
    fn grow(&mut self, l: &Live, new: Layout, got: *mut u8) {
        if self.is_top(l) {
            let fits = l.ptr.addr() + new.size() <= self.start + self.len;
            assert_eq!(!got.is_null(), fits);
            if fits {
                assert_eq!(got, l.ptr, "top block must grow in place");
                self.top = l.ptr.addr() + new.size() - self.start;
            }
        } else if self.older_than_scope(l) {
            assert!(got.is_null(), "a scope does not move older blocks");
        } else {
            let place = self.place(new);
            assert_eq!(got.addr(), place.unwrap_or(0));
            if let Some(p) = place {
                let old = self.recs.iter_mut().find(|r| r.id == Some(l.id)).unwrap();
                old.id = None;
                self.push(p, new.size(), l.id);
            }
        }
    }
    fn shrink(&mut self, l: &Live, new: Layout, got: *mut u8) {
        assert_eq!(got, l.ptr, "stack shrinks in place");
        if self.is_top(l) {
            self.top = l.ptr.addr() + new.size() - self.start;
        }
    }
    fn reset(&mut self, s: &mut Stack<B>) -> bool {
        s.reset();
        self.top = 0;
        self.recs.clear();
        true
    }
    fn pop(&mut self, s: &mut Stack<B>) -> Option<Vec<u64>> {
        let expect = !self.recs.is_empty();
        assert_eq!(s.pop(), expect);
        Some(self.pop_rec().into_iter().collect())
    }
    fn check_stats(&self, s: &Stack<B>, lives: &[Live]) {
        assert_eq!(s.total_allocated(), self.top);
        assert_eq!(s.remaining(), self.len - self.top);
        assert_eq!(
            self.recs.iter().filter(|r| r.id.is_some()).count(),
            lives.len()
        );
    }
    fn scope(s: &mut Stack<B>, f: impl FnOnce(&Stack<B>)) {
        s.scope(f)
    }
    fn scope_enter(&mut self) {
        self.scope_low = Some(self.recs.len());
    }
    fn scope_exit(&mut self) -> Vec<u64> {
        // Every record above the low-water mark was made in the scope; the
        // top returns to where the lowest of them began (or stays, when
        // none is left: the newest older block may have been resized).
        let low = self.scope_low.take().expect("in a scope");
        let mut freed = Vec::new();
        while self.recs.len() > low {
            let r = self.recs.pop().unwrap();
            self.top = r.prev_top;
            freed.extend(r.id);
        }
        freed
    }
}

// ----- The properties ---------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn bump_matches_model(cap in 1usize..=1024, ops in ops(96)) {
        let b = &CountingAlloc::new();
        let s = Bump::with_capacity_in(cap, b).unwrap();
        let (start, len) = b.last_block();
        prop_assert_eq!(len, cap);
        run(s, BumpModel { start, len, top: 0 }, ops);
        prop_assert_eq!(b.outstanding(), 0);
    }

    #[test]
    fn pool_matches_model(block in 1usize..=160, n in 1usize..=24, ops in ops(96)) {
        let b = &CountingAlloc::new();
        let s = Pool::with_blocks_in(block, n, b).unwrap();
        let (start, _) = b.last_block();
        let m = PoolModel {
            start,
            block_size: s.block_size(),
            block_align: s.block_align(),
            num_blocks: n,
            live: 0,
        };
        prop_assert!(m.block_size >= block && m.block_size.is_multiple_of(m.block_align));
        prop_assert_eq!(start % m.block_align, 0);
        run(s, m, ops);
        prop_assert_eq!(b.outstanding(), 0);
    }

    #[test]
    fn free_list_matches_model(cap in 32usize..=2048, ops in ops(160)) {
        let b = &CountingAlloc::new();
        let s = FreeList::with_capacity_in(cap, b).unwrap();
        let (start, len) = b.last_block();
        prop_assert_eq!(len, s.capacity());
        run(s, FreeListModel { start, len }, ops);
        prop_assert_eq!(b.outstanding(), 0);
    }

    #[test]
    fn stack_matches_model(cap in 1usize..=1024, ops in ops(96)) {
        let b = &CountingAlloc::new();
        let s = Stack::with_capacity_in(cap, b).unwrap();
        let (start, len) = b.last_block();
        run(s, StackModel { start, len, top: 0, recs: Vec::new(), scope_low: None }, ops);
        prop_assert_eq!(b.outstanding(), 0);
    }
}

#[test]
fn constructors_report_backing_failure_and_leak_nothing() {
    let b = CountingAlloc::new();
    b.fail_after(0);
    assert_eq!(
        Bump::with_capacity_in(64, &b).err(),
        Some(AllocError::InsufficientResources)
    );
    assert_eq!(
        Pool::with_blocks_in(64, 4, &b).err(),
        Some(AllocError::InsufficientResources)
    );
    assert_eq!(
        FreeList::with_capacity_in(64, &b).err(),
        Some(AllocError::InsufficientResources)
    );
    assert_eq!(
        Stack::with_capacity_in(64, &b).err(),
        Some(AllocError::InsufficientResources)
    );
    assert_eq!(
        AllocError::InsufficientResources.to_ntstatus(),
        kcom::STATUS_INSUFFICIENT_RESOURCES
    );
    assert_eq!(
        kcom::NTSTATUS::from(AllocError::InvalidParameter),
        kcom::STATUS_INVALID_PARAMETER
    );
    b.never_fail();
    assert_eq!(
        Pool::with_blocks_in(64, 0, &b).err(),
        Some(AllocError::InvalidParameter)
    );
    assert_eq!(
        FreeList::with_capacity_in(8, &b).err(),
        Some(AllocError::InvalidParameter)
    );
    assert_eq!(b.outstanding(), 0);
    assert_eq!(b.allocations(), 0);
}

/// Strategies are moved by bitcopy (e.g. into the allocation of a `KBox`
/// or `ComObject`) while their blocks are live: blocks stay valid and are
/// freed through the moved strategy.
#[test]
fn strategies_can_be_moved_while_blocks_are_live() {
    fn check<S: Allocator>(s: S) {
        let l = Layout::from_size_align(48, 8).unwrap();
        // SAFETY: valid layout; freed below with it.
        let p = unsafe { s.alloc(l) };
        assert!(!p.is_null());
        // SAFETY: a live 48-byte block.
        unsafe { p.write_bytes(0x5A, 48) };
        let moved = Box::new(s);
        // SAFETY: the block is still live after the move.
        let bytes = unsafe { core::slice::from_raw_parts(p, 48) };
        assert!(bytes.iter().all(|&b| b == 0x5A));
        // SAFETY: `p` was allocated with `l` by the same strategy.
        unsafe { moved.dealloc(p, l) };
    }
    let b = CountingAlloc::new();
    check(Bump::with_capacity_in(256, &b).unwrap());
    check(Pool::with_blocks_in(64, 4, &b).unwrap());
    check(FreeList::with_capacity_in(256, &b).unwrap());
    check(Stack::with_capacity_in(256, &b).unwrap());
    check(kcom::alloc::Locked::new(
        FreeList::with_capacity_in(256, &b).unwrap(),
    ));
    assert_eq!(b.outstanding(), 0);
}
