//! Allocation-strategy benchmarks: kcom's `Bump`, `FreeList`, `Pool`,
//! `Locked<Pool>` and `Stack` against well-known crates doing the same work.
//!
//! Every contestant of a group runs the same pre-generated operation
//! sequence, writes one byte into every block it hands out and passes sizes
//! and pointers through `black_box`, so no contestant's work is optimised
//! away and none does more user-side work than another.
//!
//! Run: `cargo bench -p kcom --bench alloc` (about two minutes). Results
//! and their reading are in `docs/bench-alloc.md`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use heapless::pool::boxed::{Box as HBox, BoxBlock};
use kcom::alloc::{Bump, FreeList, Locked, Pool, RawLock, SpinLock, Stack};
use kcom::{Allocator, GlobalAllocator};

/// Region size of every bump, stack and free-list contestant.
const REGION: usize = 1 << 20;
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

/// A small deterministic generator (SplitMix64), so every contestant and
/// every run sees the same sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (the modulo bias is irrelevant here).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn size(&mut self) -> usize {
        MIN_SIZE + self.below(MAX_SIZE - MIN_SIZE + 1)
    }

    /// A random permutation of `0..n` (Fisher-Yates).
    fn permutation(&mut self, n: usize) -> Vec<usize> {
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

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

// ---------------------------------------------------------------------------
// Bump: one allocation per iteration, reset when the 1 MiB region is full.

fn bump(c: &mut Criterion) {
    let mut g = c.benchmark_group("bump");
    for size in [16usize, 64, 256] {
        let l = layout(size);
        g.bench_with_input(BenchmarkId::new("kcom_Bump", size), &l, |b, &l| {
            let mut bump = Bump::with_capacity_in(REGION, GlobalAllocator).expect("region");
            b.iter(|| {
                let l = black_box(l);
                // SAFETY: a valid layout; blocks are never freed individually
                // and are dead once the region is reset.
                let mut p = unsafe { bump.alloc(l) };
                if p.is_null() {
                    bump.reset();
                    // SAFETY: as above, on the emptied region.
                    p = unsafe { bump.alloc(l) };
                }
                touch(p)
            });
        });
        g.bench_with_input(BenchmarkId::new("bumpalo", size), &l, |b, &l| {
            let mut bump = bumpalo::Bump::with_capacity(REGION);
            // No second chunk: a full region fails the request, like kcom's.
            // (A limit above the current size would let bumpalo add a small
            // chunk, and `reset` would then keep that one and free the big
            // region, so every round would fault fresh pages in.)
            let chunk = bump.allocated_bytes();
            bump.set_allocation_limit(Some(chunk));
            b.iter(|| {
                let l = black_box(l);
                let p = match bump.try_alloc_layout(l) {
                    Ok(p) => p,
                    Err(_) => {
                        bump.reset();
                        bump.try_alloc_layout(l).expect("emptied region")
                    }
                };
                touch(p.as_ptr())
            });
            assert_eq!(bump.allocated_bytes(), chunk, "bumpalo grew a chunk");
        });
    }
    g.finish();
}

// ---------------------------------------------------------------------------
// General-purpose heaps: free-list churn and batch.

/// The operations the heap workloads need, implemented for each contestant
/// with its own native calls.
trait Heap {
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
struct RawRegion(NonNull<u8>);

impl RawRegion {
    const LAYOUT: Layout = match Layout::from_size_align(REGION, 16) {
        Ok(l) => l,
        Err(_) => panic!("bad region layout"),
    };

    fn new() -> Self {
        // SAFETY: a non-zero layout; freed in `Drop` with the same layout.
        let p = unsafe { System.alloc(Self::LAYOUT) };
        RawRegion(NonNull::new(p).expect("region"))
    }
}

impl Drop for RawRegion {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` from `System` with this layout.
        unsafe { System.dealloc(self.0.as_ptr(), Self::LAYOUT) }
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
        let region = RawRegion::new();
        // SAFETY: the region is valid, unused and outlives the heap (same
        // struct, dropped after it).
        let heap = unsafe { linked_list_allocator::Heap::new(region.0.as_ptr(), REGION) };
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
        let region = RawRegion::new();
        let mut talc = talc::base::Talc::new(talc::source::Manual);
        // SAFETY: the region is valid, not used by anything else, and
        // outlives the allocator (same struct, dropped after it).
        unsafe { talc.claim(region.0.as_ptr(), REGION) }.expect("claim");
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
struct ChurnPlan {
    initial: Vec<usize>,
    ops: Vec<(usize, usize)>,
}

impl ChurnPlan {
    fn new() -> Self {
        let mut r = Rng(0x6b63_6f6d_0001);
        let initial = (0..LIVE).map(|_| r.size()).collect();
        let ops = (0..OPS).map(|_| (r.below(LIVE), r.size())).collect();
        ChurnPlan { initial, ops }
    }
}

/// One churn step per iteration: free a random live block, allocate a new
/// random-size block in its slot.
fn churn<H: Heap>(b: &mut criterion::Bencher<'_>, heap: &mut H, plan: &ChurnPlan) {
    let mut live: Vec<(*mut u8, Layout)> = plan
        .initial
        .iter()
        .map(|&s| {
            let l = layout(s);
            // SAFETY: a non-zero layout; freed below or in the loop.
            (touch(unsafe { heap.alloc(l) }), l)
        })
        .collect();
    let mut i = 0;
    b.iter(|| {
        let (slot, size) = plan.ops[i];
        i = (i + 1) & (OPS - 1);
        let (p, l) = live[slot];
        // SAFETY: `p` is live in `heap` with layout `l` (slot bookkeeping).
        unsafe { heap.free(black_box(p), l) };
        let l = layout(black_box(size));
        // SAFETY: a non-zero layout; the block is recorded in its slot.
        let q = touch(unsafe { heap.alloc(l) });
        live[slot] = (q, l);
    });
    for (p, l) in live {
        // SAFETY: every slot holds a live block with its layout.
        unsafe { heap.free(p, l) };
    }
}

/// One batch per iteration: allocate `BATCH` random sizes, free them all in
/// a random order.
fn batch<H: Heap>(b: &mut criterion::Bencher<'_>, heap: &mut H, sizes: &[usize], order: &[usize]) {
    let mut live: Vec<(*mut u8, Layout)> = vec![(ptr::null_mut(), layout(MIN_SIZE)); BATCH];
    b.iter(|| {
        for (slot, &s) in live.iter_mut().zip(sizes) {
            let l = layout(black_box(s));
            // SAFETY: a non-zero layout; freed in the loop below.
            *slot = (touch(unsafe { heap.alloc(l) }), l);
        }
        for &k in order {
            let (p, l) = live[k];
            // SAFETY: every slot was filled above and is freed once, here.
            unsafe { heap.free(black_box(p), l) };
        }
    });
}

fn free_list(c: &mut Criterion) {
    let plan = ChurnPlan::new();
    let mut g = c.benchmark_group("freelist_churn");
    g.bench_function("kcom_FreeList", |b| {
        let mut h = FreeList::with_capacity_in(REGION, GlobalAllocator).expect("region");
        churn(b, &mut h, &plan);
    });
    g.bench_function("linked_list_allocator", |b| {
        churn(b, &mut Lla::new(), &plan)
    });
    g.bench_function("talc", |b| churn(b, &mut TalcHeap::new(), &plan));
    g.bench_function("System", |b| churn(b, &mut Sys, &plan));
    g.finish();

    let mut r = Rng(0x6b63_6f6d_0002);
    let sizes: Vec<usize> = (0..BATCH).map(|_| r.size()).collect();
    let order = r.permutation(BATCH);
    let mut g = c.benchmark_group("freelist_batch256");
    g.bench_function("kcom_FreeList", |b| {
        let mut h = FreeList::with_capacity_in(REGION, GlobalAllocator).expect("region");
        batch(b, &mut h, &sizes, &order);
    });
    g.bench_function("linked_list_allocator", |b| {
        batch(b, &mut Lla::new(), &sizes, &order)
    });
    g.bench_function("talc", |b| batch(b, &mut TalcHeap::new(), &sizes, &order));
    g.bench_function("System", |b| batch(b, &mut Sys, &sizes, &order));
    g.finish();
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
impl Blocks for &Locked<Pool> {
    type Handle = *mut u8;
    #[inline(always)]
    fn take(&mut self) -> *mut u8 {
        // SAFETY: a valid layout; given back through `give`.
        touch(unsafe { Allocator::alloc(*self, black_box(OBJ)) })
    }
    #[inline(always)]
    unsafe fn give(&mut self, p: *mut u8) {
        // SAFETY: `p` is a live block of this pool (caller contract).
        unsafe { Allocator::dealloc(*self, black_box(p), OBJ) }
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

/// One take+give pair per iteration.
fn pair<B: Blocks>(b: &mut criterion::Bencher<'_>, mut pool: B) {
    b.iter(|| {
        let h = pool.take();
        // SAFETY: `h` was just taken and is given back once.
        unsafe { pool.give(h) };
    });
}

/// `LIVE` blocks held; one step per iteration frees a random one and takes
/// a new one in its slot.
fn pool_churn<B: Blocks>(b: &mut criterion::Bencher<'_>, mut pool: B, slots: &[usize]) {
    let mut live: Vec<B::Handle> = (0..LIVE).map(|_| pool.take()).collect();
    let mut i = 0;
    b.iter(|| {
        let slot = slots[i];
        i = (i + 1) & (OPS - 1);
        // SAFETY: each slot holds a live handle, given back once and
        // replaced at once.
        unsafe { pool.give(live[slot]) };
        live[slot] = pool.take();
    });
    for h in live {
        // SAFETY: every slot holds a live handle.
        unsafe { pool.give(h) };
    }
}

fn pool(c: &mut Criterion) {
    let new_pool = || Pool::with_blocks_in(64, POOL_BLOCKS, GlobalAllocator).expect("pool");
    let new_slab = || slab::Slab::<MaybeUninit<Obj>>::with_capacity(POOL_BLOCKS);
    let heapless = Heapless::new();

    let mut g = c.benchmark_group("pool64_pair");
    g.bench_function("kcom_Pool", |b| pair(b, new_pool()));
    g.bench_function("kcom_Locked_Pool", |b| {
        let locked = Locked::new(new_pool());
        pair(b, &locked);
    });
    g.bench_function("slab", |b| pair(b, new_slab()));
    g.bench_function("heapless_pool", |b| pair(b, heapless));
    g.bench_function("floor_no_allocator", |b| pair(b, Baseline::new()));
    g.bench_function("floor_spinlock_only", |b| {
        pair(b, LockOnly(SpinLock::new()));
    });
    g.finish();

    let mut r = Rng(0x6b63_6f6d_0003);
    let slots: Vec<usize> = (0..OPS).map(|_| r.below(LIVE)).collect();
    let mut g = c.benchmark_group("pool64_churn");
    g.bench_function("kcom_Pool", |b| pool_churn(b, new_pool(), &slots));
    g.bench_function("kcom_Locked_Pool", |b| {
        let locked = Locked::new(new_pool());
        pool_churn(b, &locked, &slots);
    });
    g.bench_function("slab", |b| pool_churn(b, new_slab(), &slots));
    g.bench_function("heapless_pool", |b| pool_churn(b, heapless, &slots));
    g.bench_function("floor_no_allocator", |b| {
        pool_churn(b, Baseline::new(), &slots)
    });
    g.finish();
}

// ---------------------------------------------------------------------------
// Stack: push 64 random sizes, then release them all.

fn stack(c: &mut Criterion) {
    let mut r = Rng(0x6b63_6f6d_0004);
    let layouts: Vec<Layout> = (0..STACK_DEPTH).map(|_| layout(r.size())).collect();
    let mut g = c.benchmark_group("stack64");
    g.bench_function("kcom_Stack_pop", |b| {
        let mut st = Stack::with_capacity_in(REGION, GlobalAllocator).expect("region");
        b.iter(|| {
            for &l in &layouts {
                // SAFETY: a valid layout; released by the pops below.
                touch(unsafe { st.alloc(black_box(l)) });
            }
            while st.pop() {}
        });
    });
    g.bench_function("kcom_Stack_dealloc", |b| {
        let st = Stack::with_capacity_in(REGION, GlobalAllocator).expect("region");
        let mut live = [ptr::null_mut::<u8>(); STACK_DEPTH];
        b.iter(|| {
            for (slot, &l) in live.iter_mut().zip(&layouts) {
                // SAFETY: a valid layout; freed in reverse order below.
                *slot = touch(unsafe { st.alloc(black_box(l)) });
            }
            for (&p, &l) in live.iter().zip(&layouts).rev() {
                // SAFETY: `p` is the most recent live block, with layout `l`.
                unsafe { st.dealloc(black_box(p), l) };
            }
        });
    });
    g.bench_function("kcom_Stack_reset", |b| {
        let mut st = Stack::with_capacity_in(REGION, GlobalAllocator).expect("region");
        b.iter(|| {
            for &l in &layouts {
                // SAFETY: a valid layout; released by the reset below.
                touch(unsafe { st.alloc(black_box(l)) });
            }
            st.reset();
        });
    });
    g.bench_function("kcom_Stack_scope", |b| {
        let mut st = Stack::with_capacity_in(REGION, GlobalAllocator).expect("region");
        b.iter(|| {
            st.scope(|st| {
                for &l in &layouts {
                    // SAFETY: a valid layout; released when the scope ends.
                    touch(unsafe { st.alloc(black_box(l)) });
                }
            });
        });
    });
    g.bench_function("bumpalo_reset", |b| {
        let mut bump = bumpalo::Bump::with_capacity(REGION);
        b.iter(|| {
            for &l in &layouts {
                touch(bump.alloc_layout(black_box(l)).as_ptr());
            }
            bump.reset();
        });
    });
    g.bench_function("bumpalo_lifo_dealloc", |b| {
        use allocator_api2::alloc::Allocator as _;
        let mut bump = bumpalo::Bump::with_capacity(REGION);
        let mut live = [NonNull::<u8>::dangling(); STACK_DEPTH];
        b.iter(|| {
            for (slot, &l) in live.iter_mut().zip(&layouts) {
                let p = (&bump).allocate(black_box(l)).expect("region");
                *slot = NonNull::new(touch(p.cast::<u8>().as_ptr())).expect("non-null");
            }
            for (&p, &l) in live.iter().zip(&layouts).rev() {
                // SAFETY: `p` was allocated by this bump with layout `l` and
                // is freed once (bumpalo reclaims it only if it is the most
                // recent block).
                unsafe { (&bump).deallocate(black_box(p), l) };
            }
            // Bytes lost to alignment padding are reclaimed only by a reset.
            bump.reset();
        });
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = bump, free_list, pool, stack
}
criterion_main!(benches);
