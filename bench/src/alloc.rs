//! Allocation-strategy workloads: kcom's `Bump`, `FreeList`, `Pool`,
//! `Locked<Pool>` and `Stack` against well-known crates doing the same work.
//!
//! Every contestant of a group runs the same pre-generated operation
//! sequence, writes one byte into every block it hands out and passes sizes
//! and pointers through `black_box`, so no contestant's work is optimised
//! away and none does more user-side work than another.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};
use std::rc::Rc;
use std::time::Duration;

use heapless::pool::boxed::{Box as HBox, BoxBlock};
use kcom::alloc::{Bump, FreeList, Locked, Pool, RawLock, SpinLock, Stack};
use kcom::{Allocator, GlobalAllocator};

use crate::{Group, Visit};

/// Region size of every bump, stack and free-list contestant.
pub const REGION: usize = 1 << 20;
/// Alignment of every variable-size request.
const ALIGN: usize = 8;
/// Smallest and largest variable request size.
const MIN_SIZE: usize = 16;
const MAX_SIZE: usize = 1024;
/// Live objects in the churn workloads.
const LIVE: usize = 512;
/// Length of the pre-generated churn sequences (a power of two).
const OPS: usize = 4096;
/// Objects per batch in the free-list batch workload.
const BATCH: usize = 256;
/// Blocks pushed per round of the stack workload.
const STACK_DEPTH: usize = 64;
/// Blocks in every 64-byte pool contestant.
const POOL_BLOCKS: usize = 1024;
/// The pooled object.
type Obj = [u8; 64];

const fn group(name: &'static str, step: &'static str, warmup: u64, steps: u64) -> Group {
    Group {
        name,
        step,
        warmup,
        steps,
        warm_up_time: Duration::from_millis(500),
        measurement_time: Duration::from_secs(2),
        sample_size: 30,
    }
}

/// One bump allocation per step; a full 1 MiB region is reset and the
/// request retried. 131072 steps are whole reset cycles for all three sizes.
pub const BUMP16: Group = group("bump16", "one 16-byte allocation", 4096, 131_072);
/// As [`BUMP16`] with 64-byte requests.
pub const BUMP64: Group = group("bump64", "one 64-byte allocation", 4096, 131_072);
/// As [`BUMP16`] with 256-byte requests.
pub const BUMP256: Group = group("bump256", "one 256-byte allocation", 4096, 131_072);
/// Churn over a general-purpose heap: 512 blocks live, one freed and one
/// allocated per step.
pub const FREELIST_CHURN: Group = group(
    "freelist_churn",
    "free a random one of 512 live blocks, allocate 16..=1024 B in its place",
    OPS as u64 * 4,
    OPS as u64 * 8,
);
/// Batches over a general-purpose heap: 256 blocks allocated, then freed
/// in random order, per step.
pub const FREELIST_BATCH: Group = group(
    "freelist_batch256",
    "allocate 256 blocks of 16..=1024 B, free them in random order",
    16,
    256,
);
/// A 64-byte alloc + free pair per step.
pub const POOL64_PAIR: Group = group(
    "pool64_pair",
    "alloc + free one 64-byte block",
    4096,
    65_536,
);
/// 64-byte churn: 512 blocks live, one given back and one taken per step.
pub const POOL64_CHURN: Group = group(
    "pool64_churn",
    "free a random one of 512 live 64-byte blocks, take a new one",
    OPS as u64,
    OPS as u64 * 16,
);
/// 64 pushes and their release per step.
pub const STACK64: Group = group(
    "stack64",
    "push 64 blocks of 16..=1024 B, release them all",
    256,
    4096,
);

/// A small deterministic generator (SplitMix64), so every contestant and
/// every run sees the same sequence.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A request size, uniform in `16..=1024`.
    pub fn size(&mut self) -> usize {
        MIN_SIZE + self.below(MAX_SIZE - MIN_SIZE + 1)
    }

    /// A random permutation of `0..n` (Fisher-Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            v.swap(i, self.below(i + 1));
        }
        v
    }
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, ALIGN).expect("valid benchmark layout")
}

/// Writes one byte into a fresh block and hides the pointer from the
/// optimiser; panics on a null block (a benchmark that ran out of memory
/// would measure the failure path, not the allocator).
#[inline(always)]
fn touch(p: *mut u8) -> *mut u8 {
    assert!(
        !p.is_null(),
        "allocator ran out of memory during the benchmark"
    );
    // SAFETY: `p` is a live, non-null block of at least one byte.
    unsafe { p.write(1) };
    black_box(p)
}

/// Shows every allocation workload to `v`.
pub fn visit(v: &mut impl Visit) {
    bump(v);
    free_list(v);
    matrix(v);
    pool(v);
    stack(v);
}

// ---------------------------------------------------------------------------
// Bump: one allocation per step, reset when the 1 MiB region is full.

fn bump(v: &mut impl Visit) {
    for (g, size) in [(&BUMP16, 16usize), (&BUMP64, 64), (&BUMP256, 256)] {
        let l = layout(size);
        v.visit(g, "kcom_Bump", || {
            let mut bump = Bump::with_capacity_in(REGION, GlobalAllocator).expect("region");
            move || {
                let l = black_box(l);
                // SAFETY: a valid layout; blocks are never freed individually
                // and are dead once the region is reset.
                let mut p = unsafe { bump.alloc(l) };
                if p.is_null() {
                    bump.reset();
                    // SAFETY: as above, on the emptied region.
                    p = unsafe { bump.alloc(l) };
                }
                touch(p);
            }
        });
        v.visit(g, "bumpalo", || {
            let mut bump = bumpalo::Bump::with_capacity(REGION);
            // No second chunk: a full region fails the request, like kcom's.
            // (A limit above the current size would let bumpalo add a small
            // chunk, and `reset` would then keep that one and free the big
            // region, so every round would fault fresh pages in.)
            let chunk = bump.allocated_bytes();
            bump.set_allocation_limit(Some(chunk));
            move || {
                let l = black_box(l);
                let p = match bump.try_alloc_layout(l) {
                    Ok(p) => p,
                    Err(_) => {
                        bump.reset();
                        bump.try_alloc_layout(l).expect("emptied region")
                    }
                };
                touch(p.as_ptr());
            }
        });
    }
}

// ---------------------------------------------------------------------------
// General-purpose heaps: free-list churn and batch.

/// The operations the heap workloads need, implemented for each contestant
/// with its own native calls.
pub trait Heap {
    /// Allocates; null on failure.
    ///
    /// # Safety
    ///
    /// `l.size() > 0`.
    unsafe fn alloc(&mut self, l: Layout) -> *mut u8;

    /// Frees a block.
    ///
    /// # Safety
    ///
    /// `p` is a live block of `self` allocated with `l`.
    unsafe fn free(&mut self, p: *mut u8, l: Layout);
}

impl Heap for FreeList {
    #[inline(always)]
    unsafe fn alloc(&mut self, l: Layout) -> *mut u8 {
        // SAFETY: a valid layout; freed through `free` with the same layout.
        unsafe { Allocator::alloc(self, l) }
    }
    #[inline(always)]
    unsafe fn free(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded caller contract.
        unsafe { Allocator::dealloc(self, p, l) }
    }
}

/// A 16-byte aligned heap region from the system allocator, freed on drop.
struct RawRegion(NonNull<u8>, Layout);

impl RawRegion {
    /// A region of [`REGION`] bytes.
    fn new() -> Self {
        Self::with_len(REGION)
    }

    /// A region of `len` bytes (`len > 0`).
    fn with_len(len: usize) -> Self {
        let layout = Layout::from_size_align(len, 16).expect("region layout");
        // SAFETY: a non-zero layout; freed in `Drop` with the same layout.
        let p = unsafe { System.alloc(layout) };
        RawRegion(NonNull::new(p).expect("region"), layout)
    }

    fn len(&self) -> usize {
        self.1.size()
    }
}

impl Drop for RawRegion {
    fn drop(&mut self) {
        // SAFETY: allocated in `with_len` from `System` with this layout.
        unsafe { System.dealloc(self.0.as_ptr(), self.1) }
    }
}

/// `linked_list_allocator::Heap` over its own region. Field order: the heap
/// is dropped before the region it points into.
struct Lla {
    heap: linked_list_allocator::Heap,
    _region: RawRegion,
}

impl Lla {
    fn new() -> Self {
        Self::over(RawRegion::new())
    }

    fn over(region: RawRegion) -> Self {
        // SAFETY: the region is valid, unused and outlives the heap (same
        // struct, dropped after it).
        let heap = unsafe { linked_list_allocator::Heap::new(region.0.as_ptr(), region.len()) };
        Lla {
            heap,
            _region: region,
        }
    }
}

impl Heap for Lla {
    #[inline(always)]
    unsafe fn alloc(&mut self, l: Layout) -> *mut u8 {
        self.heap
            .allocate_first_fit(l)
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }
    #[inline(always)]
    unsafe fn free(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: `p` is a live block of this heap with layout `l`.
        unsafe { self.heap.deallocate(NonNull::new_unchecked(p), l) }
    }
}

/// `talc::base::Talc` over a claimed region (called through `&mut`, no
/// lock or cell).
struct TalcHeap {
    talc: talc::base::Talc<talc::source::Manual, talc::DefaultBinning>,
    _region: RawRegion,
}

impl TalcHeap {
    fn new() -> Self {
        Self::over(RawRegion::new())
    }

    fn over(region: RawRegion) -> Self {
        let mut talc = talc::base::Talc::new(talc::source::Manual);
        // SAFETY: the region is valid, not used by anything else, and
        // outlives the allocator (same struct, dropped after it).
        unsafe { talc.claim(region.0.as_ptr(), region.len()) }.expect("claim");
        TalcHeap {
            talc,
            _region: region,
        }
    }
}

impl Heap for TalcHeap {
    #[inline(always)]
    unsafe fn alloc(&mut self, l: Layout) -> *mut u8 {
        // SAFETY: `l.size() > 0` (caller contract).
        unsafe { self.talc.allocate(l) }.map_or(ptr::null_mut(), NonNull::as_ptr)
    }
    #[inline(always)]
    unsafe fn free(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: `p` is a live block of this heap with layout `l`.
        unsafe { self.talc.deallocate(p, l) }
    }
}

/// rlsf's TLSF in the configuration its own `GlobalTlsf` uses (`usize`
/// bitmaps, 64 × 64 lists), over its own region.
type TlsfCore =
    rlsf::Tlsf<'static, usize, usize, { usize::BITS as usize }, { usize::BITS as usize }>;

/// `rlsf::Tlsf` over its own region. Field order: the allocator is dropped
/// before the region it points into.
struct RlsfHeap {
    tlsf: TlsfCore,
    _region: RawRegion,
}

impl RlsfHeap {
    fn new() -> Self {
        Self::over(RawRegion::new())
    }

    fn over(region: RawRegion) -> Self {
        let mut tlsf = TlsfCore::new();
        let block = NonNull::slice_from_raw_parts(region.0, region.len());
        // SAFETY: the region is valid for `REGION` bytes, used by nothing
        // else, and outlives the allocator (same struct, dropped after it;
        // the `'static` in the type is never relied on past that).
        unsafe { tlsf.insert_free_block_ptr(block) }.expect("region too small for rlsf");
        RlsfHeap {
            tlsf,
            _region: region,
        }
    }
}

impl Heap for RlsfHeap {
    #[inline(always)]
    unsafe fn alloc(&mut self, l: Layout) -> *mut u8 {
        self.tlsf
            .allocate(l)
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }
    #[inline(always)]
    unsafe fn free(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: `p` is a live block of this heap allocated with alignment
        // `l.align()`.
        unsafe { self.tlsf.deallocate(NonNull::new_unchecked(p), l.align()) }
    }
}

/// The process heap (`std::alloc::System`, glibc malloc here).
struct Sys;

impl Heap for Sys {
    #[inline(always)]
    unsafe fn alloc(&mut self, l: Layout) -> *mut u8 {
        // SAFETY: `l.size() > 0` (caller contract).
        unsafe { System.alloc(l) }
    }
    #[inline(always)]
    unsafe fn free(&mut self, p: *mut u8, l: Layout) {
        // SAFETY: `p` is a live block of `System` with layout `l`.
        unsafe { System.dealloc(p, l) }
    }
}

/// Pre-generated churn: `LIVE` initial sizes, then `OPS` pairs of (slot to
/// free, size to allocate in its place).
#[derive(Debug)]
pub struct ChurnPlan {
    initial: Vec<usize>,
    ops: Vec<(usize, usize)>,
}

impl ChurnPlan {
    /// The one churn sequence every contestant runs.
    pub fn new() -> Self {
        let mut r = Rng(0x6b63_6f6d_0001);
        let initial = (0..LIVE).map(|_| r.size()).collect();
        let ops = (0..OPS).map(|_| (r.below(LIVE), r.size())).collect();
        ChurnPlan { initial, ops }
    }
}

impl Default for ChurnPlan {
    fn default() -> Self {
        Self::new()
    }
}

/// `LIVE` blocks held in `heap`; each step frees a random one and allocates
/// a new random-size block in its slot. Frees what is left on drop.
///
/// `A` is the alignment of every request (a constant, as it is at most call
/// sites).
struct Churn<H: Heap, const A: usize = ALIGN> {
    heap: H,
    plan: Rc<ChurnPlan>,
    live: Vec<(*mut u8, Layout)>,
    i: usize,
}

impl<H: Heap, const A: usize> Churn<H, A> {
    /// Fills the heap with the plan's initial blocks.
    fn new(mut heap: H, plan: Rc<ChurnPlan>) -> Self {
        let live = plan
            .initial
            .iter()
            .map(|&s| {
                let l = Layout::from_size_align(s, A).expect("valid benchmark layout");
                // SAFETY: a non-zero layout; freed in `step` or on drop.
                (touch(unsafe { heap.alloc(l) }), l)
            })
            .collect();
        Churn {
            heap,
            plan,
            live,
            i: 0,
        }
    }

    /// One free + alloc.
    #[inline(always)]
    fn step(&mut self) {
        let (slot, size) = self.plan.ops[self.i];
        self.i = (self.i + 1) & (OPS - 1);
        let (p, l) = self.live[slot];
        // SAFETY: `p` is live in `heap` with layout `l` (slot bookkeeping).
        unsafe { self.heap.free(black_box(p), l) };
        let l = Layout::from_size_align(black_box(size), A).expect("valid benchmark layout");
        // SAFETY: a non-zero layout; the block is recorded in its slot.
        let q = touch(unsafe { self.heap.alloc(l) });
        self.live[slot] = (q, l);
    }
}

impl<H: Heap, const A: usize> Drop for Churn<H, A> {
    fn drop(&mut self) {
        for &(p, l) in &self.live {
            // SAFETY: every slot holds a live block with its layout.
            unsafe { self.heap.free(p, l) };
        }
    }
}

/// The batch sequence: `BATCH` sizes and the order to free them in.
#[derive(Debug)]
pub struct BatchPlan {
    sizes: Vec<usize>,
    order: Vec<usize>,
}

impl BatchPlan {
    /// The one batch sequence every contestant runs.
    pub fn new() -> Self {
        let mut r = Rng(0x6b63_6f6d_0002);
        let sizes = (0..BATCH).map(|_| r.size()).collect();
        let order = r.permutation(BATCH);
        BatchPlan { sizes, order }
    }
}

impl Default for BatchPlan {
    fn default() -> Self {
        Self::new()
    }
}

/// Each step allocates `BATCH` random sizes in `heap` and frees them all in
/// a random order.
#[inline(always)]
fn batch_step<H: Heap>(heap: &mut H, plan: &BatchPlan, live: &mut [(*mut u8, Layout)]) {
    for (slot, &s) in live.iter_mut().zip(&plan.sizes) {
        let l = layout(black_box(s));
        // SAFETY: a non-zero layout; freed in the loop below.
        *slot = (touch(unsafe { heap.alloc(l) }), l);
    }
    for &k in &plan.order {
        let (p, l) = live[k];
        // SAFETY: every slot was filled above and is freed once, here.
        unsafe { heap.free(black_box(p), l) };
    }
}

/// Registers the churn and batch workloads of one heap contestant.
fn heap_contestant<H: Heap + 'static>(
    v: &mut impl Visit,
    name: &'static str,
    new: impl Fn() -> H + Copy,
    churn_plan: &Rc<ChurnPlan>,
    batch_plan: &Rc<BatchPlan>,
) {
    v.visit(&FREELIST_CHURN, name, || {
        let mut c = Churn::<H>::new(new(), churn_plan.clone());
        move || c.step()
    });
    v.visit(&FREELIST_BATCH, name, || {
        let mut heap = new();
        let plan = batch_plan.clone();
        let mut live = vec![(ptr::null_mut(), layout(MIN_SIZE)); BATCH];
        move || batch_step(&mut heap, &plan, &mut live)
    });
}

fn free_list(v: &mut impl Visit) {
    let churn_plan = Rc::new(ChurnPlan::new());
    let batch_plan = Rc::new(BatchPlan::new());
    let (c, b) = (&churn_plan, &batch_plan);
    heap_contestant(
        v,
        "kcom_FreeList",
        || FreeList::with_capacity_in(REGION, GlobalAllocator).expect("region"),
        c,
        b,
    );
    heap_contestant(v, "linked_list_allocator", Lla::new, c, b);
    heap_contestant(v, "talc", TalcHeap::new, c, b);
    heap_contestant(v, "rlsf", RlsfHeap::new, c, b);
    heap_contestant(v, "System", || Sys, c, b);
}

// ---------------------------------------------------------------------------
// The heap matrix: the churn step over live counts, size distributions and
// alignments.

/// How a matrix cell draws its request sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sizes {
    /// Every request is 16 bytes.
    Fixed16,
    /// Every request is 4096 bytes.
    Fixed4k,
    /// Uniform in `16..=4096`.
    Uniform,
    /// Log-uniform in `16..=4096`: a power of two from 16 to 2048 drawn
    /// uniformly, then a size uniform from it up to twice it (4096 at
    /// most), so there are as many requests of 16 to 32 bytes as of 2048
    /// to 4096, and about half are 256 bytes or less.
    LogUniform,
}

impl Sizes {
    /// One request size.
    pub fn draw(self, r: &mut Rng) -> usize {
        match self {
            Sizes::Fixed16 => 16,
            Sizes::Fixed4k => 4096,
            Sizes::Uniform => 16 + r.below(4096 - 16 + 1),
            Sizes::LogUniform => {
                let lo = 16 << r.below(8);
                (lo + r.below(lo + 1)).min(4096)
            }
        }
    }

    /// The largest size it draws.
    pub fn max(self) -> usize {
        match self {
            Sizes::Fixed16 => 16,
            _ => 4096,
        }
    }
}

/// One cell of the heap matrix: a churn of `live` blocks, sizes drawn from
/// `sizes`, every request aligned to `align`.
#[derive(Clone, Copy, Debug)]
pub struct MatrixCell {
    /// The cell's group (`matrix_l<live>_<sizes>_a<align>`).
    pub group: Group,
    /// Blocks live at every step.
    pub live: usize,
    /// The size distribution.
    pub sizes: Sizes,
    /// The alignment of every request.
    pub align: usize,
}

impl MatrixCell {
    /// A region every contestant of the cell gets: twice the largest live
    /// set with room for tags and alignment padding, rounded up to a power
    /// of two, at least [`REGION`].
    pub fn region(&self) -> usize {
        (self.live * (self.sizes.max() + self.align + 64) * 2)
            .next_power_of_two()
            .max(REGION)
    }
}

macro_rules! cell {
    ($live:literal, $sizes:ident, $tag:literal, $align:literal) => {
        MatrixCell {
            group: group(
                concat!("matrix_l", $live, "_", $tag, "_a", $align),
                concat!(
                    "free a random one of ",
                    $live,
                    " live blocks, allocate a ",
                    $tag,
                    " size at alignment ",
                    $align,
                    " in its place"
                ),
                OPS as u64 * 2,
                OPS as u64 * 2,
            ),
            live: $live,
            sizes: Sizes::$sizes,
            align: $align,
        }
    };
}

/// The heap matrix: live counts 64, 512 and 4096 × sizes fixed 16 B
/// (`s16`), fixed 4 KiB (`s4k`), uniform 16 B..=4 KiB (`uni`) and
/// log-uniform 16 B..=4 KiB (`log`) × alignments 8 and 64. Every cell runs
/// the churn step of `freelist_churn` on its own sequence.
pub const MATRIX: &[MatrixCell] = &[
    cell!(64, Fixed16, "s16", 8),
    cell!(64, Fixed4k, "s4k", 8),
    cell!(64, Uniform, "uni", 8),
    cell!(64, LogUniform, "log", 8),
    cell!(512, Fixed16, "s16", 8),
    cell!(512, Fixed4k, "s4k", 8),
    cell!(512, Uniform, "uni", 8),
    cell!(512, LogUniform, "log", 8),
    cell!(4096, Fixed16, "s16", 8),
    cell!(4096, Fixed4k, "s4k", 8),
    cell!(4096, Uniform, "uni", 8),
    cell!(4096, LogUniform, "log", 8),
    cell!(64, Fixed16, "s16", 64),
    cell!(64, Fixed4k, "s4k", 64),
    cell!(64, Uniform, "uni", 64),
    cell!(64, LogUniform, "log", 64),
    cell!(512, Fixed16, "s16", 64),
    cell!(512, Fixed4k, "s4k", 64),
    cell!(512, Uniform, "uni", 64),
    cell!(512, LogUniform, "log", 64),
    cell!(4096, Fixed16, "s16", 64),
    cell!(4096, Fixed4k, "s4k", 64),
    cell!(4096, Uniform, "uni", 64),
    cell!(4096, LogUniform, "log", 64),
];

/// The heap contestants of every matrix cell; the first is kcom's.
pub const MATRIX_CONTESTANTS: &[&str] = &[
    "kcom_FreeList",
    "talc",
    "rlsf",
    "linked_list_allocator",
    "System",
];

impl ChurnPlan {
    /// The sequence of matrix cell `cell` (seeded by its position in
    /// [`MATRIX`], so every contestant of a cell runs the same one).
    pub fn matrix(index: usize, cell: &MatrixCell) -> Self {
        let mut r = Rng(0x6b63_6f6d_0100 + index as u64);
        let initial = (0..cell.live).map(|_| cell.sizes.draw(&mut r)).collect();
        let ops = (0..OPS)
            .map(|_| (r.below(cell.live), cell.sizes.draw(&mut r)))
            .collect();
        ChurnPlan { initial, ops }
    }
}

/// Registers one matrix cell's churn for one contestant at alignment `A`.
fn matrix_contestant<H: Heap + 'static, const A: usize>(
    v: &mut impl Visit,
    cell: &'static MatrixCell,
    name: &'static str,
    new: impl Fn(usize) -> H + Copy,
    plan: &Rc<ChurnPlan>,
) {
    v.visit(&cell.group, name, || {
        let mut c = Churn::<H, A>::new(new(cell.region()), plan.clone());
        move || c.step()
    });
}

/// Registers every contestant of one matrix cell at alignment `A`.
fn matrix_cell<const A: usize>(v: &mut impl Visit, index: usize, cell: &'static MatrixCell) {
    let plan = Rc::new(ChurnPlan::matrix(index, cell));
    let p = &plan;
    let [kcom, talc, rlsf, lla, sys] = MATRIX_CONTESTANTS else {
        unreachable!("five matrix contestants")
    };
    matrix_contestant::<_, A>(
        v,
        cell,
        kcom,
        |len| FreeList::with_capacity_in(len, GlobalAllocator).expect("region"),
        p,
    );
    matrix_contestant::<_, A>(
        v,
        cell,
        talc,
        |len| TalcHeap::over(RawRegion::with_len(len)),
        p,
    );
    matrix_contestant::<_, A>(
        v,
        cell,
        rlsf,
        |len| RlsfHeap::over(RawRegion::with_len(len)),
        p,
    );
    matrix_contestant::<_, A>(v, cell, lla, |len| Lla::over(RawRegion::with_len(len)), p);
    matrix_contestant::<_, A>(v, cell, sys, |_| Sys, p);
}

fn matrix(v: &mut impl Visit) {
    for (i, cell) in MATRIX.iter().enumerate() {
        match cell.align {
            8 => matrix_cell::<8>(v, i, cell),
            64 => matrix_cell::<64>(v, i, cell),
            a => unreachable!("matrix alignment {a} has no instantiation"),
        }
    }
}

// ---------------------------------------------------------------------------
// Fixed-size 64-byte blocks.

/// A source of 64-byte blocks, each contestant through its native API.
trait Blocks {
    type Handle: Copy;
    /// Takes a block and writes one byte into it.
    fn take(&mut self) -> Self::Handle;
    /// Gives a block back.
    ///
    /// # Safety
    ///
    /// `h` came from `take` on `self` and is given back once.
    unsafe fn give(&mut self, h: Self::Handle);
}

const OBJ: Layout = Layout::new::<Obj>();

impl Blocks for Pool {
    type Handle = *mut u8;
    #[inline(always)]
    fn take(&mut self) -> *mut u8 {
        // SAFETY: a valid layout; given back through `give`.
        touch(unsafe { Allocator::alloc(self, black_box(OBJ)) })
    }
    #[inline(always)]
    unsafe fn give(&mut self, p: *mut u8) {
        // SAFETY: `p` is a live block of this pool (caller contract).
        unsafe { Allocator::dealloc(self, black_box(p), OBJ) }
    }
}

/// `Locked<Pool>` used through `&self`, as shared code would.
impl Blocks for Rc<Locked<Pool>> {
    type Handle = *mut u8;
    #[inline(always)]
    fn take(&mut self) -> *mut u8 {
        // SAFETY: a valid layout; given back through `give`.
        touch(unsafe { Allocator::alloc(&**self, black_box(OBJ)) })
    }
    #[inline(always)]
    unsafe fn give(&mut self, p: *mut u8) {
        // SAFETY: `p` is a live block of this pool (caller contract).
        unsafe { Allocator::dealloc(&**self, black_box(p), OBJ) }
    }
}

/// `slab::Slab` of uninitialised 64-byte entries: a slab hands out keys,
/// not pointers, and `MaybeUninit` keeps it from copying 64 bytes in and
/// out on every insert/remove, which the pools do not do either.
impl Blocks for slab::Slab<MaybeUninit<Obj>> {
    type Handle = usize;
    #[inline(always)]
    fn take(&mut self) -> usize {
        let e = self.vacant_entry();
        let key = e.key();
        let v = e.insert(MaybeUninit::uninit());
        touch(v.as_mut_ptr().cast());
        black_box(key)
    }
    #[inline(always)]
    unsafe fn give(&mut self, key: usize) {
        black_box(self.remove(black_box(key)));
    }
}

mod hl {
    heapless::box_pool!(HeaplessPool: core::mem::MaybeUninit<super::Obj>);
}
use hl::HeaplessPool;

/// heapless' lock-free box pool (a Treiber stack with a 128-bit CAS, from
/// `portable-atomic` on x86_64); a handle is the raw box pointer.
#[derive(Clone, Copy)]
struct Heapless;

impl Heapless {
    /// Gives the pool its blocks once per process.
    fn new() -> Self {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let blocks: &'static mut [BoxBlock<MaybeUninit<Obj>>] = (0..POOL_BLOCKS)
                .map(|_| BoxBlock::new())
                .collect::<Vec<_>>()
                .leak();
            for block in blocks {
                HeaplessPool.manage(block);
            }
        });
        Heapless
    }
}

impl Blocks for Heapless {
    type Handle = *mut MaybeUninit<Obj>;
    #[inline(always)]
    fn take(&mut self) -> Self::Handle {
        let bx = HeaplessPool
            .alloc(MaybeUninit::uninit())
            .unwrap_or_else(|_| panic!("heapless pool exhausted"));
        let p = HBox::into_raw(bx);
        touch(p.cast());
        black_box(p)
    }
    #[inline(always)]
    unsafe fn give(&mut self, p: Self::Handle) {
        // SAFETY: `p` came from `Box::into_raw` on this pool and is
        // reclaimed once; dropping the box returns the block.
        drop(unsafe { HBox::<HeaplessPool>::from_raw(black_box(p)) });
    }
}

/// No allocator at all: `give` remembers the block and `take` hands it
/// straight back. Every pool contestant reuses the block it was just given
/// (LIFO), so this reproduces their memory traffic and the harness work
/// exactly; subtract it to get an allocator's own cost.
struct Baseline {
    blocks: Vec<Obj>,
    next: usize,
    last: *mut u8,
}

impl Baseline {
    fn new() -> Self {
        Baseline {
            blocks: vec![[0; 64]; POOL_BLOCKS],
            next: 0,
            last: ptr::null_mut(),
        }
    }
}

impl Blocks for Baseline {
    type Handle = *mut u8;
    #[inline(always)]
    fn take(&mut self) -> *mut u8 {
        let p = if self.last.is_null() {
            // Initial fill: hand out fresh blocks in order.
            let p = self.blocks[self.next].as_mut_ptr();
            self.next += 1;
            p
        } else {
            self.last
        };
        touch(p)
    }
    #[inline(always)]
    unsafe fn give(&mut self, p: *mut u8) {
        self.last = black_box(p);
    }
}

/// The least a free-list pool can do: an intrusive LIFO list of 64-byte
/// blocks with no checks and no counter (take: load the head, test it,
/// load its link, store the new head; give: store the link, store the
/// head). The minimum sequence any pool of this kind pays on top of
/// [`Baseline`].
struct BareList {
    /// The blocks' memory (only reached through `head` and the links).
    _blocks: Vec<Obj>,
    head: *mut u8,
}

impl BareList {
    fn new() -> Self {
        let mut blocks = vec![[0u8; 64]; POOL_BLOCKS];
        let mut head = ptr::null_mut::<u8>();
        for b in blocks.iter_mut().rev() {
            let p = b.as_mut_ptr();
            // SAFETY: `p` is a 64-byte block of `blocks`; the link is
            // written unaligned (a byte array has alignment 1).
            unsafe { p.cast::<*mut u8>().write_unaligned(head) };
            head = p;
        }
        BareList {
            _blocks: blocks,
            head,
        }
    }
}

impl Blocks for BareList {
    type Handle = *mut u8;
    #[inline(always)]
    fn take(&mut self) -> *mut u8 {
        let p = self.head;
        assert!(!p.is_null(), "bare list exhausted");
        // SAFETY: a free block of `blocks` starts with its link.
        self.head = unsafe { p.cast::<*mut u8>().read_unaligned() };
        touch(p)
    }
    #[inline(always)]
    unsafe fn give(&mut self, p: *mut u8) {
        let p = black_box(p);
        // SAFETY: `p` is a block of `blocks` handed out by `take`.
        unsafe { p.cast::<*mut u8>().write_unaligned(self.head) };
        self.head = p;
    }
}

/// Only the lock: two `SpinLock` acquire/release pairs, as one
/// `Locked<_>` alloc+free pair takes, with no allocator inside.
struct LockOnly(SpinLock);

impl Blocks for LockOnly {
    type Handle = ();
    #[inline(always)]
    fn take(&mut self) {
        self.0.lock();
        // SAFETY: the lock was taken just above.
        unsafe { self.0.unlock(()) };
    }
    #[inline(always)]
    unsafe fn give(&mut self, _: ()) {
        self.0.lock();
        // SAFETY: the lock was taken just above.
        unsafe { self.0.unlock(()) };
    }
}

/// `LIVE` blocks held; each step frees a random one and takes a new one in
/// its slot. Gives everything back on drop.
struct PoolChurn<B: Blocks> {
    pool: B,
    slots: Rc<Vec<usize>>,
    live: Vec<B::Handle>,
    i: usize,
}

impl<B: Blocks> PoolChurn<B> {
    fn new(mut pool: B, slots: Rc<Vec<usize>>) -> Self {
        let live = (0..LIVE).map(|_| pool.take()).collect();
        PoolChurn {
            pool,
            slots,
            live,
            i: 0,
        }
    }

    #[inline(always)]
    fn step(&mut self) {
        let slot = self.slots[self.i];
        self.i = (self.i + 1) & (OPS - 1);
        // SAFETY: each slot holds a live handle, given back once and
        // replaced at once.
        unsafe { self.pool.give(self.live[slot]) };
        self.live[slot] = self.pool.take();
    }
}

impl<B: Blocks> Drop for PoolChurn<B> {
    fn drop(&mut self) {
        for &h in &self.live {
            // SAFETY: every slot holds a live handle.
            unsafe { self.pool.give(h) };
        }
    }
}

/// Registers the pair and churn workloads of one block-pool contestant.
fn pool_contestant<B: Blocks + 'static>(
    v: &mut impl Visit,
    name: &'static str,
    new: impl Fn() -> B + Copy,
    slots: &Rc<Vec<usize>>,
    churn: bool,
) {
    v.visit(&POOL64_PAIR, name, || {
        let mut pool = new();
        move || {
            let h = pool.take();
            // SAFETY: `h` was just taken and is given back once.
            unsafe { pool.give(h) };
        }
    });
    if churn {
        v.visit(&POOL64_CHURN, name, || {
            let mut c = PoolChurn::new(new(), slots.clone());
            move || c.step()
        });
    }
}

fn pool(v: &mut impl Visit) {
    let new_pool = || Pool::with_blocks_in(64, POOL_BLOCKS, GlobalAllocator).expect("pool");
    let mut r = Rng(0x6b63_6f6d_0003);
    let slots: Rc<Vec<usize>> = Rc::new((0..OPS).map(|_| r.below(LIVE)).collect());
    let s = &slots;
    pool_contestant(v, "kcom_Pool", new_pool, s, true);
    pool_contestant(
        v,
        "kcom_Locked_Pool",
        move || Rc::new(Locked::new(new_pool())),
        s,
        true,
    );
    pool_contestant(
        v,
        "slab",
        || slab::Slab::<MaybeUninit<Obj>>::with_capacity(POOL_BLOCKS),
        s,
        true,
    );
    pool_contestant(v, "heapless_pool", Heapless::new, s, true);
    pool_contestant(v, "floor_no_allocator", Baseline::new, s, true);
    pool_contestant(v, "floor_bare_free_list", BareList::new, s, true);
    pool_contestant(
        v,
        "floor_spinlock_only",
        || LockOnly(SpinLock::new()),
        s,
        false,
    );
}

// ---------------------------------------------------------------------------
// Stack: push 64 random sizes, then release them all.

fn stack(v: &mut impl Visit) {
    let mut r = Rng(0x6b63_6f6d_0004);
    let layouts: Rc<Vec<Layout>> = Rc::new((0..STACK_DEPTH).map(|_| layout(r.size())).collect());
    let g = &STACK64;
    v.visit(g, "kcom_Stack_pop", || {
        let mut st = Stack::with_capacity_in(REGION, GlobalAllocator).expect("region");
        let layouts = layouts.clone();
        move || {
            for &l in layouts.iter() {
                // SAFETY: a valid layout; released by the pops below.
                touch(unsafe { st.alloc(black_box(l)) });
            }
            while st.pop() {}
        }
    });
    v.visit(g, "kcom_Stack_dealloc", || {
        let st = Stack::with_capacity_in(REGION, GlobalAllocator).expect("region");
        let layouts = layouts.clone();
        let mut live = [ptr::null_mut::<u8>(); STACK_DEPTH];
        move || {
            for (slot, &l) in live.iter_mut().zip(layouts.iter()) {
                // SAFETY: a valid layout; freed in reverse order below.
                *slot = touch(unsafe { st.alloc(black_box(l)) });
            }
            for (&p, &l) in live.iter().zip(layouts.iter()).rev() {
                // SAFETY: `p` is the most recent live block, with layout `l`.
                unsafe { st.dealloc(black_box(p), l) };
            }
        }
    });
    v.visit(g, "kcom_Stack_reset", || {
        let mut st = Stack::with_capacity_in(REGION, GlobalAllocator).expect("region");
        let layouts = layouts.clone();
        move || {
            for &l in layouts.iter() {
                // SAFETY: a valid layout; released by the reset below.
                touch(unsafe { st.alloc(black_box(l)) });
            }
            st.reset();
        }
    });
    v.visit(g, "kcom_Stack_scope", || {
        let mut st = Stack::with_capacity_in(REGION, GlobalAllocator).expect("region");
        let layouts = layouts.clone();
        move || {
            st.scope(|st| {
                for &l in layouts.iter() {
                    // SAFETY: a valid layout; released when the scope ends.
                    touch(unsafe { st.alloc(black_box(l)) });
                }
            });
        }
    });
    v.visit(g, "bumpalo_reset", || {
        let mut bump = bumpalo::Bump::with_capacity(REGION);
        let layouts = layouts.clone();
        move || {
            for &l in layouts.iter() {
                touch(bump.alloc_layout(black_box(l)).as_ptr());
            }
            bump.reset();
        }
    });
    v.visit(g, "bumpalo_lifo_dealloc", || {
        use allocator_api2::alloc::Allocator as _;
        let mut bump = bumpalo::Bump::with_capacity(REGION);
        let layouts = layouts.clone();
        let mut live = [NonNull::<u8>::dangling(); STACK_DEPTH];
        move || {
            for (slot, &l) in live.iter_mut().zip(layouts.iter()) {
                let p = (&bump).allocate(black_box(l)).expect("region");
                *slot = NonNull::new(touch(p.cast::<u8>().as_ptr())).expect("non-null");
            }
            for (&p, &l) in live.iter().zip(layouts.iter()).rev() {
                // SAFETY: `p` was allocated by this bump with layout `l` and
                // is freed once (bumpalo reclaims it only if it is the most
                // recent block).
                unsafe { (&bump).deallocate(black_box(p), l) };
            }
            // Bytes lost to alignment padding are reclaimed only by a reset.
            bump.reset();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every workload runs a few steps (enough for the bump contestants to
    /// stay in their region and the churns to cycle slots) without failing.
    #[test]
    fn workloads_run() {
        struct Run(Vec<String>);
        impl Visit for Run {
            fn visit<S, F>(&mut self, g: &Group, name: &'static str, mut setup: F)
            where
                S: FnMut(),
                F: FnMut() -> S,
            {
                let mut step = setup();
                for _ in 0..5 {
                    step();
                }
                self.0.push(format!("{}/{name}", g.name));
            }
        }
        let mut run = Run(Vec::new());
        visit(&mut run);
        assert!(run.0.iter().any(|n| n == "freelist_churn/rlsf"));
        assert!(run.0.iter().any(|n| n == "stack64/kcom_Stack_scope"));
    }

    #[test]
    fn plans_are_deterministic_and_in_range() {
        let (a, b) = (ChurnPlan::new(), ChurnPlan::new());
        assert_eq!(a.ops, b.ops);
        assert!(
            a.ops
                .iter()
                .all(|&(slot, size)| slot < LIVE && (MIN_SIZE..=MAX_SIZE).contains(&size))
        );
        for (i, cell) in MATRIX.iter().enumerate() {
            let (a, b) = (ChurnPlan::matrix(i, cell), ChurnPlan::matrix(i, cell));
            assert_eq!((&a.initial, &a.ops), (&b.initial, &b.ops));
            assert_eq!(a.initial.len(), cell.live);
            let sizes = a.initial.iter().chain(a.ops.iter().map(|(_, s)| s));
            for &s in sizes {
                assert!(
                    (16..=cell.sizes.max()).contains(&s),
                    "{}: {s}",
                    cell.group.name
                );
            }
            assert!(a.ops.iter().all(|&(slot, _)| slot < cell.live));
        }
        // Log-uniform: about half of the sizes are at most 256 bytes.
        let plan = ChurnPlan::matrix(3, &MATRIX[3]);
        assert_eq!(MATRIX[3].sizes, Sizes::LogUniform);
        let small = plan.ops.iter().filter(|&&(_, s)| s <= 256).count();
        assert!(
            (plan.ops.len() * 2 / 5..=plan.ops.len() * 3 / 5).contains(&small),
            "{small}"
        );
        let p = BatchPlan::new();
        let mut order = p.order.clone();
        order.sort_unstable();
        assert_eq!(order, (0..BATCH).collect::<Vec<_>>());
    }
}
