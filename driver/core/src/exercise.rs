//! Exercises: the [`Exercise`] interface the dispatcher calls, the allocation
//! counting wrapper [`Tracked`], the pattern workload every strategy runs,
//! and the `global` exercise.
//!
//! # The workload
//!
//! [`pattern_workload`] allocates `iterations` blocks whose sizes come from a
//! xorshift generator seeded with the request's seed, fills each block with a
//! pattern derived from (seed, block index), keeps at most
//! [`MAX_LIVE_BLOCKS`] blocks / [`MAX_LIVE_BYTES`] bytes alive (oldest freed
//! first), verifies every block's pattern before freeing it and folds what it
//! read into a checksum. Blocks are freed in index order, so the checksum is
//! a pure function of the parameters ([`expected_checksum`]); a different
//! checksum means memory did not read back as written. On allocation failure
//! every live block is freed and the run fails with
//! `STATUS_INSUFFICIENT_RESOURCES`.

use core::alloc::Layout;
use core::cell::Cell;
use core::ptr::{self, NonNull};

use kcom::{
    Allocator, GlobalAllocator, NTSTATUS, STATUS_DATA_ERROR, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};

use crate::ledger::PoolCounters;
use crate::protocol::{
    ExerciseParams, ExerciseReport, MAX_LIVE_BLOCKS, MAX_LIVE_BYTES, StrategyId, StrategyInfo,
};

/// Static description of an exercise, as `GET_INFO` lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExerciseInfo {
    /// The strategy this exercise runs.
    pub strategy: StrategyId,
    /// `STRATEGY_FLAG_*` bits.
    pub flags: u32,
    /// Pool type its memory comes from (`protocol::pool_type`).
    pub pool_type: u32,
    /// Pool tag of its memory.
    pub tag: u32,
    /// One line for humans (truncated to `DESCRIPTION_LEN - 1` bytes on the wire).
    pub description: &'static str,
}

impl ExerciseInfo {
    /// The wire form.
    pub fn to_wire(&self) -> StrategyInfo {
        StrategyInfo::new(
            self.strategy,
            self.flags,
            self.pool_type,
            self.tag,
            self.description,
        )
    }
}

/// What the device lends an exercise for one run.
#[derive(Clone, Copy, Debug)]
pub struct Env<'a> {
    /// Monotonic clock in nanoseconds.
    pub clock: fn() -> u64,
    /// The counters of the exercise's pool and tag (`POOL_STATS`).
    pub counters: Option<&'a PoolCounters>,
    /// True when running at `PASSIVE_LEVEL` (always on the host).
    pub is_passive: fn() -> bool,
}

impl<'a> Env<'a> {
    /// The counters of the exercise's pool and tag.
    pub fn counters(&self) -> Option<&'a PoolCounters> {
        self.counters
    }
}

/// One allocator strategy's exercise, as the dispatcher sees it.
///
/// The device keeps one object per registered strategy and calls it from
/// any number of requests at once (a parallel queue), hence `Send + Sync`.
/// `run` must free everything it allocated before returning, on success and
/// on failure alike, and must not panic on any validated parameters.
pub trait Exercise: Send + Sync {
    /// What the exercise is; must return the same value on every call.
    fn info(&self) -> ExerciseInfo;

    /// Runs the workload with validated parameters (`params.strategy` is
    /// this exercise's strategy).
    fn run(&self, params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS>;
}

/// Counts of one [`Tracked`] allocator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackedStats {
    /// Successful allocations.
    pub allocations: u64,
    /// Frees.
    pub frees: u64,
    /// Allocations that returned null.
    pub failures: u64,
    /// Bytes allocated in total (growth counts its extra bytes).
    pub bytes: u64,
    /// Bytes live now.
    pub live_bytes: u64,
    /// Most bytes live at once.
    pub peak_bytes: u64,
    /// Allocations live now.
    pub outstanding: u64,
}

/// An allocator wrapper that counts what passes through it and mirrors it
/// into the device-wide [`PoolCounters`] (if given).
///
/// It is meant for one run on one thread (the counts live in a `Cell`), and
/// it adds no allocation of its own, so it behaves the same in the driver
/// and on the host.
#[derive(Debug)]
pub struct Tracked<'a, A> {
    inner: A,
    stats: Cell<TrackedStats>,
    device: Option<&'a PoolCounters>,
}

impl<'a, A: Allocator> Tracked<'a, A> {
    /// Wraps `inner`; `device` receives the same events.
    pub fn new(inner: A, device: Option<&'a PoolCounters>) -> Self {
        Tracked {
            inner,
            stats: Cell::new(TrackedStats::default()),
            device,
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> TrackedStats {
        self.stats.get()
    }

    /// The wrapped allocator.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    fn on_alloc(&self, p: *mut u8, size: usize) {
        let mut s = self.stats.get();
        if p.is_null() {
            s.failures += 1;
        } else {
            s.allocations += 1;
            s.outstanding += 1;
            s.bytes += size as u64;
            s.live_bytes += size as u64;
            s.peak_bytes = s.peak_bytes.max(s.live_bytes);
            if let Some(d) = self.device {
                d.on_alloc(size as u64);
            }
        }
        self.stats.set(s);
    }

    fn on_resize(&self, p: *mut u8, old: usize, new: usize) {
        let mut s = self.stats.get();
        if p.is_null() {
            s.failures += 1;
        } else {
            let (old, new) = (old as u64, new as u64);
            // Wrapping: a caller that breaks the layout contract corrupts the
            // counts, but never panics kernel code.
            s.live_bytes = s.live_bytes.wrapping_sub(old).wrapping_add(new);
            s.bytes += new.saturating_sub(old);
            s.peak_bytes = s.peak_bytes.max(s.live_bytes);
            if let Some(d) = self.device {
                d.on_resize(old, new);
            }
        }
        self.stats.set(s);
    }
}

// SAFETY: every method forwards to `inner` with the caller's arguments and
// returns its result unchanged; the bookkeeping only reads sizes and
// pointers' nullness, so `inner`'s guarantees are `Tracked`'s.
unsafe impl<A: Allocator> Allocator for Tracked<'_, A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { self.inner.alloc(layout) };
        self.on_alloc(p, layout.size());
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        self.on_alloc(p, layout.size());
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let mut s = self.stats.get();
        s.frees += 1;
        s.outstanding = s.outstanding.wrapping_sub(1);
        s.live_bytes = s.live_bytes.wrapping_sub(layout.size() as u64);
        self.stats.set(s);
        if let Some(d) = self.device {
            d.on_free(layout.size() as u64);
        }
        // SAFETY: forwarded contract: `ptr` came from `inner` with `layout`.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    unsafe fn grow(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { self.inner.grow(ptr, old_layout, new_layout) };
        self.on_resize(p, old_layout.size(), new_layout.size());
        p
    }

    unsafe fn grow_zeroed(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { self.inner.grow_zeroed(ptr, old_layout, new_layout) };
        self.on_resize(p, old_layout.size(), new_layout.size());
        p
    }

    unsafe fn shrink(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { self.inner.shrink(ptr, old_layout, new_layout) };
        self.on_resize(p, old_layout.size(), new_layout.size());
        p
    }

    fn max_align(&self) -> usize {
        self.inner.max_align()
    }

    fn pageable(&self) -> bool {
        self.inner.pageable()
    }
}

/// Deterministic xorshift64* generator (not for cryptography).
#[derive(Clone, Debug)]
pub struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    /// A generator for `seed` (a zero seed is replaced by a fixed non-zero
    /// constant, since xorshift would stay at zero).
    pub const fn new(seed: u64) -> Self {
        XorShift64 {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `lo..=hi` (`lo <= hi`).
    pub fn range_u32(&mut self, lo: u32, hi: u32) -> u32 {
        let span = u64::from(hi - lo) + 1;
        lo + (self.next_u64() % span) as u32
    }
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
const FOLD_PRIME: u64 = 0x0000_0100_0000_01B3;
pub(crate) const FOLD_BASIS: u64 = 0xCBF2_9CE4_8422_2325;

/// SplitMix64 finaliser: a bijective 64-bit mix.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The pattern word at 8-byte chunk `chunk` of block `index`.
pub(crate) fn pattern_word(seed: u64, index: u32, chunk: usize) -> u64 {
    let base = mix(seed ^ u64::from(index).wrapping_mul(GOLDEN));
    mix(base.wrapping_add((chunk as u64).wrapping_mul(GOLDEN)))
}

/// Folds one chunk (as a little-endian word, zero-padded) into a digest.
pub(crate) fn fold(h: u64, word: u64) -> u64 {
    (h ^ word).wrapping_mul(FOLD_PRIME)
}

/// Folds one verified block's digest into the run checksum.
pub(crate) fn fold_block(checksum: u64, index: u32, size: usize, digest: u64) -> u64 {
    fold(fold(fold(checksum, u64::from(index)), size as u64), digest)
}

/// Writes block `index`'s pattern into `size` bytes at `p`.
///
/// # Safety
///
/// `p` must be valid for writes of `size` bytes.
unsafe fn fill(p: *mut u8, size: usize, seed: u64, index: u32) {
    let mut off = 0;
    let mut chunk = 0;
    while off < size {
        let n = (size - off).min(8);
        let bytes = pattern_word(seed, index, chunk).to_le_bytes();
        // SAFETY: `off + n <= size` and the caller guarantees `size` writable
        // bytes at `p`; `bytes` is a local array, so they do not overlap.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), p.add(off), n) };
        off += n;
        chunk += 1;
    }
}

/// Reads block `index` back, compares it with its pattern, and returns the
/// digest of what was read, or `None` on a mismatch.
fn verify(block: &[u8], seed: u64, index: u32) -> Option<u64> {
    let mut h = FOLD_BASIS;
    for (chunk, bytes) in block.chunks(8).enumerate() {
        let expected = pattern_word(seed, index, chunk).to_le_bytes();
        if bytes != &expected[..bytes.len()] {
            return None;
        }
        let mut word = [0u8; 8];
        word[..bytes.len()].copy_from_slice(bytes);
        h = fold(h, u64::from_le_bytes(word));
    }
    Some(h)
}

/// The checksum a correct run of `params` reports, computed without
/// allocating anything. Clients and tests use it to check a report.
pub fn expected_checksum(params: &ExerciseParams) -> u64 {
    let mut rng = XorShift64::new(params.seed);
    let mut checksum = FOLD_BASIS;
    for index in 0..params.iterations {
        let size = rng.range_u32(params.min_size, params.max_size) as usize;
        let mut h = FOLD_BASIS;
        let mut off = 0;
        let mut chunk = 0;
        while off < size {
            let n = (size - off).min(8);
            let mut word = pattern_word(params.seed, index, chunk).to_le_bytes();
            word[n..].fill(0);
            h = fold(h, u64::from_le_bytes(word));
            off += n;
            chunk += 1;
        }
        checksum = fold_block(checksum, index, size, h);
    }
    checksum
}

/// Writes iteration `index`'s pattern into `size` bytes at `p`.
///
/// # Safety
///
/// `p` must be valid for writes of `size` bytes.
pub(crate) unsafe fn write_block(p: *mut u8, size: usize, seed: u64, index: u32) {
    // SAFETY: forwarded contract.
    unsafe { fill(p, size, seed, index) }
}

/// The digest of `size` bytes at `p` if they hold iteration `index`'s
/// pattern.
///
/// # Safety
///
/// `p` must be valid for reads of `size` initialised bytes that nobody
/// writes meanwhile.
pub(crate) unsafe fn verify_block(p: *const u8, size: usize, seed: u64, index: u32) -> Option<u64> {
    // SAFETY: forwarded contract.
    verify(unsafe { core::slice::from_raw_parts(p, size) }, seed, index)
}

#[derive(Clone, Copy)]
struct Live {
    ptr: NonNull<u8>,
    layout: Layout,
    index: u32,
}

/// The blocks a workload holds, oldest first; frees whatever is left when
/// dropped, so no exit path (error or panic) leaks.
struct LiveSet<'a, A: Allocator> {
    alloc: &'a A,
    ring: [Option<Live>; MAX_LIVE_BLOCKS as usize],
    head: usize,
    len: usize,
    bytes: u64,
}

impl<'a, A: Allocator> LiveSet<'a, A> {
    fn new(alloc: &'a A) -> Self {
        LiveSet {
            alloc,
            ring: [None; MAX_LIVE_BLOCKS as usize],
            head: 0,
            len: 0,
            bytes: 0,
        }
    }

    fn is_full_for(&self, size: usize) -> bool {
        self.len == self.ring.len() || (self.len > 0 && self.bytes + size as u64 > MAX_LIVE_BYTES)
    }

    fn push(&mut self, live: Live) {
        debug_assert!(self.len < self.ring.len());
        let slot = (self.head + self.len) % self.ring.len();
        self.ring[slot] = Some(live);
        self.len += 1;
        self.bytes += live.layout.size() as u64;
    }

    fn pop(&mut self) -> Option<Live> {
        if self.len == 0 {
            return None;
        }
        let live = self.ring[self.head].take();
        self.head = (self.head + 1) % self.ring.len();
        self.len -= 1;
        if let Some(l) = live {
            self.bytes -= l.layout.size() as u64;
        }
        live
    }

    /// Frees `live` (which was popped from this set).
    fn free(&self, live: Live) {
        // SAFETY: every `Live` in the set came from `self.alloc.alloc` with
        // `live.layout` and is freed exactly once: it was removed from the
        // ring by `pop` before this call.
        unsafe { self.alloc.dealloc(live.ptr.as_ptr(), live.layout) };
    }

    /// Verifies and frees the oldest block; folds it into `checksum`.
    fn retire_oldest(&mut self, seed: u64, checksum: &mut u64) -> Result<(), NTSTATUS> {
        let Some(live) = self.pop() else {
            return Ok(());
        };
        // SAFETY: the block holds `layout.size()` bytes that `fill`
        // initialised; nothing else references it while this shared view
        // lives (it is dropped before the free below).
        let block = unsafe { core::slice::from_raw_parts(live.ptr.as_ptr(), live.layout.size()) };
        let digest = verify(block, seed, live.index);
        self.free(live);
        let digest = digest.ok_or(STATUS_DATA_ERROR)?;
        *checksum = fold_block(*checksum, live.index, live.layout.size(), digest);
        Ok(())
    }
}

impl<A: Allocator> Drop for LiveSet<'_, A> {
    fn drop(&mut self) {
        while let Some(live) = self.pop() {
            self.free(live);
        }
    }
}

/// Runs the pattern workload (see the module docs) on `alloc` and returns
/// the checksum of the verified blocks.
///
/// Errors: `STATUS_INSUFFICIENT_RESOURCES` when `alloc` returns null,
/// `STATUS_DATA_ERROR` when a block does not read back as written,
/// `STATUS_INVALID_PARAMETER` for a size/alignment that is not a valid
/// `Layout` (cannot happen for validated parameters). In every case all
/// blocks are freed before returning.
pub fn pattern_workload<A: Allocator>(alloc: &A, params: &ExerciseParams) -> Result<u64, NTSTATUS> {
    let mut rng = XorShift64::new(params.seed);
    let mut live = LiveSet::new(alloc);
    let mut checksum = FOLD_BASIS;
    for index in 0..params.iterations {
        let size = rng.range_u32(params.min_size, params.max_size) as usize;
        let layout = Layout::from_size_align(size, params.align as usize)
            .map_err(|_| STATUS_INVALID_PARAMETER)?;
        while live.is_full_for(size) {
            live.retire_oldest(params.seed, &mut checksum)?;
        }
        // SAFETY: `layout` is valid and non-zero-sized (`min_size >= 1`); the
        // block is freed by `LiveSet` with the same layout.
        let p = unsafe { alloc.alloc(layout) };
        let Some(ptr) = NonNull::new(p) else {
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        };
        // SAFETY: the allocator returned a block of at least `size` bytes.
        unsafe { fill(ptr.as_ptr(), size, params.seed, index) };
        live.push(Live { ptr, layout, index });
    }
    while live.len > 0 {
        live.retire_oldest(params.seed, &mut checksum)?;
    }
    Ok(checksum)
}

/// Runs [`pattern_workload`] on `alloc` wrapped in [`Tracked`] (mirrored into
/// `device`), timed with `clock`, and builds the report.
///
/// This is the body of every allocator exercise: a strategy's exercise
/// builds its allocator and calls this. A run that leaves allocations
/// outstanding (a bug in the allocator under test) is reported as such in
/// `outstanding`, not hidden.
pub fn run_tracked<A: Allocator>(
    strategy: StrategyId,
    alloc: A,
    params: &ExerciseParams,
    clock: fn() -> u64,
    device: Option<&PoolCounters>,
) -> Result<ExerciseReport, NTSTATUS> {
    let tracked = Tracked::new(alloc, device);
    let start = clock();
    let checksum = pattern_workload(&tracked, params)?;
    let nanos = clock().saturating_sub(start);
    Ok(tracked.stats().report(strategy, nanos, checksum))
}

impl TrackedStats {
    /// The report of a successful run of `strategy` with these counts.
    pub fn report(&self, strategy: StrategyId, nanos: u64, checksum: u64) -> ExerciseReport {
        ExerciseReport {
            strategy: strategy.as_u32(),
            ntstatus: STATUS_SUCCESS,
            allocations: self.allocations,
            frees: self.frees,
            bytes: self.bytes,
            peak_bytes: self.peak_bytes,
            outstanding: self.outstanding,
            nanos,
            checksum,
        }
    }

    /// Adds the counts of a later stretch of the same run.
    pub fn merge(&mut self, later: TrackedStats) {
        self.allocations += later.allocations;
        self.frees += later.frees;
        self.failures += later.failures;
        self.bytes += later.bytes;
        self.live_bytes = self.live_bytes.wrapping_add(later.live_bytes);
        self.peak_bytes = self.peak_bytes.max(later.peak_bytes);
        self.outstanding = self.outstanding.wrapping_add(later.outstanding);
    }
}

/// The workload for strategies with a fixed region (bump, pool, free list,
/// stack): the same blocks, sizes, patterns and checksum as
/// [`pattern_workload`], in batches.
///
/// A batch allocates blocks until the strategy is full (it returns null),
/// or [`MAX_LIVE_BLOCKS`] / [`MAX_LIVE_BYTES`] are live, or the run is done;
/// then it verifies every block oldest first and frees them newest first
/// (the order a stack needs; any order suits the others), and calls
/// `between_batches` (a bump allocator resets there). Each batch is counted
/// by a [`Tracked`] view of `strategy`, mirrored into `device`.
///
/// Errors: `STATUS_INSUFFICIENT_RESOURCES` if the strategy cannot hold even
/// one block of the requested size, `STATUS_DATA_ERROR` if a block does not
/// read back as written. Every block is freed in every case.
pub fn batch_workload<S: Allocator>(
    strategy: &mut S,
    params: &ExerciseParams,
    device: Option<&PoolCounters>,
    mut between_batches: impl FnMut(&mut S),
) -> Result<(u64, TrackedStats), NTSTATUS> {
    let mut rng = XorShift64::new(params.seed);
    let mut checksum = FOLD_BASIS;
    let mut totals = TrackedStats::default();
    let mut index: u32 = 0;
    // A size drawn for `index` that did not fit in the previous batch.
    let mut carried: Option<usize> = None;
    while index < params.iterations {
        let tracked = Tracked::new(&*strategy, device);
        let mut batch: [Option<Live>; MAX_LIVE_BLOCKS as usize] = [None; MAX_LIVE_BLOCKS as usize];
        let mut len = 0;
        let mut bytes: u64 = 0;
        let mut outcome: Result<(), NTSTATUS> = Ok(());
        while index < params.iterations && len < batch.len() {
            let size = carried
                .take()
                .unwrap_or_else(|| rng.range_u32(params.min_size, params.max_size) as usize);
            if len > 0 && bytes + size as u64 > MAX_LIVE_BYTES {
                carried = Some(size);
                break;
            }
            let Ok(layout) = Layout::from_size_align(size, params.align as usize) else {
                outcome = Err(STATUS_INVALID_PARAMETER);
                break;
            };
            // SAFETY: `layout` is valid and non-zero-sized (`min_size >= 1`);
            // the block is freed below with the same layout.
            let p = unsafe { tracked.alloc(layout) };
            let Some(ptr) = NonNull::new(p) else {
                if len == 0 {
                    outcome = Err(STATUS_INSUFFICIENT_RESOURCES);
                } else {
                    carried = Some(size);
                }
                break;
            };
            // SAFETY: the strategy returned a block of at least `size` bytes.
            unsafe { fill(ptr.as_ptr(), size, params.seed, index) };
            batch[len] = Some(Live { ptr, layout, index });
            len += 1;
            bytes += size as u64;
            index += 1;
        }
        for live in batch[..len].iter().flatten() {
            // SAFETY: the block holds `layout.size()` bytes written by `fill`
            // and is not freed until the loop below.
            let block =
                unsafe { core::slice::from_raw_parts(live.ptr.as_ptr(), live.layout.size()) };
            match verify(block, params.seed, live.index) {
                Some(digest) => {
                    checksum = fold_block(checksum, live.index, live.layout.size(), digest);
                }
                None => outcome = outcome.and(Err(STATUS_DATA_ERROR)),
            }
        }
        for live in batch[..len].iter().rev().flatten() {
            // SAFETY: allocated above from `tracked` with this layout, freed
            // once, newest first.
            unsafe { tracked.dealloc(live.ptr.as_ptr(), live.layout) };
        }
        totals.merge(tracked.stats());
        outcome?;
        between_batches(strategy);
    }
    Ok((checksum, totals))
}

/// Runs [`batch_workload`] timed with `clock` and builds the report.
pub fn run_batched<S: Allocator>(
    strategy_id: StrategyId,
    strategy: &mut S,
    params: &ExerciseParams,
    clock: fn() -> u64,
    device: Option<&PoolCounters>,
    between_batches: impl FnMut(&mut S),
) -> Result<ExerciseReport, NTSTATUS> {
    let start = clock();
    let (checksum, stats) = batch_workload(strategy, params, device, between_batches)?;
    let nanos = clock().saturating_sub(start);
    Ok(stats.report(strategy_id, nanos, checksum))
}

/// The `global` exercise: the workload on [`kcom::GlobalAllocator`].
///
/// Where that memory comes from depends on the build (in the driver: the
/// kernel pool behind `#[global_allocator]`; on the host: the process heap),
/// so the device tells it which pool type and tag to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalExercise {
    /// Pool type `GET_INFO` and `POOL_STATS` show for this memory.
    pub pool_type: u32,
    /// Pool tag `GET_INFO` and `POOL_STATS` show for this memory.
    pub tag: u32,
}

impl Exercise for GlobalExercise {
    fn info(&self) -> ExerciseInfo {
        ExerciseInfo {
            strategy: StrategyId::Global,
            flags: 0,
            pool_type: self.pool_type,
            tag: self.tag,
            description: "kcom::GlobalAllocator: the global allocator (kernel pool in the driver)",
        }
    }

    fn run(&self, params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
        run_tracked(
            StrategyId::Global,
            GlobalAllocator,
            params,
            env.clock,
            env.counters(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{RunRequest, pool_type};

    fn params(iterations: u32, min: u32, max: u32, align: u32, seed: u64) -> ExerciseParams {
        RunRequest {
            align,
            ..RunRequest::new(StrategyId::Global, iterations, min, max, seed)
        }
        .validate()
        .unwrap()
    }

    fn fake_clock() -> u64 {
        42
    }

    #[test]
    fn xorshift_is_deterministic_and_in_range() {
        let mut a = XorShift64::new(7);
        let mut b = XorShift64::new(7);
        for _ in 0..100 {
            let v = a.range_u32(3, 9);
            assert_eq!(v, b.range_u32(3, 9));
            assert!((3..=9).contains(&v));
        }
        assert_ne!(XorShift64::new(0).next_u64(), 0);
        assert_eq!(XorShift64::new(1).range_u32(5, 5), 5);
        let mut full = XorShift64::new(9);
        let _ = full.range_u32(0, u32::MAX);
    }

    #[test]
    fn workload_checksum_matches_the_reference_and_depends_on_the_seed() {
        let n = if cfg!(miri) { 40 } else { 500 };
        let p = params(n, 1, 300, 0, 11);
        let tracked = Tracked::new(GlobalAllocator, None);
        let sum = pattern_workload(&tracked, &p).unwrap();
        assert_eq!(sum, expected_checksum(&p));
        let s = tracked.stats();
        assert_eq!(s.allocations, u64::from(n));
        assert_eq!(s.frees, u64::from(n));
        assert_eq!(s.outstanding, 0);
        assert_eq!(s.live_bytes, 0);
        assert!(s.peak_bytes <= MAX_LIVE_BYTES);
        assert!(s.peak_bytes >= 300.min(s.bytes));
        assert_ne!(expected_checksum(&params(n, 1, 300, 0, 12)), sum);
    }

    #[test]
    fn live_window_bounds_blocks_and_bytes() {
        // 1 MiB blocks: at most 4 live at once (MAX_LIVE_BYTES = 4 MiB).
        // Too slow under Miri, which checks the small-block half below.
        if !cfg!(miri) {
            let p = params(20, 1 << 20, 1 << 20, 0, 3);
            let tracked = Tracked::new(GlobalAllocator, None);
            pattern_workload(&tracked, &p).unwrap();
            assert_eq!(tracked.stats().peak_bytes, MAX_LIVE_BYTES);
        }
        // Tiny blocks: at most MAX_LIVE_BLOCKS live.
        let p = params(100, 8, 8, 0, 3);
        let tracked = Tracked::new(GlobalAllocator, None);
        pattern_workload(&tracked, &p).unwrap();
        assert_eq!(tracked.stats().peak_bytes, u64::from(MAX_LIVE_BLOCKS) * 8);
    }

    #[test]
    fn alignment_is_honoured() {
        struct CheckAlign;
        // SAFETY: forwards to `GlobalAllocator` after checking the layout.
        unsafe impl Allocator for CheckAlign {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                assert_eq!(layout.align(), 256);
                // SAFETY: forwarded contract.
                let p = unsafe { GlobalAllocator.alloc(layout) };
                assert_eq!(p as usize % 256, 0);
                p
            }
            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                // SAFETY: forwarded contract.
                unsafe { GlobalAllocator.dealloc(ptr, layout) }
            }
        }
        let p = params(10, 1, 100, 256, 5);
        assert_eq!(pattern_workload(&CheckAlign, &p), Ok(expected_checksum(&p)));
    }

    /// Fails the `fail_at`-th allocation (0-based) and counts live blocks.
    struct FailAt {
        fail_at: u64,
        calls: Cell<u64>,
        live: Cell<i64>,
    }

    // SAFETY: forwards to `GlobalAllocator` or returns null.
    unsafe impl Allocator for FailAt {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let n = self.calls.get();
            self.calls.set(n + 1);
            if n == self.fail_at {
                return ptr::null_mut();
            }
            self.live.set(self.live.get() + 1);
            // SAFETY: forwarded contract.
            unsafe { GlobalAllocator.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            self.live.set(self.live.get() - 1);
            // SAFETY: forwarded contract.
            unsafe { GlobalAllocator.dealloc(ptr, layout) }
        }
    }

    #[test]
    fn allocation_failure_frees_everything() {
        let n = if cfg!(miri) { 40 } else { 100 };
        let p = params(n, 1, 64, 0, 1);
        for fail_at in [0, 1, 31, 32, 33, u64::from(n) - 1] {
            let a = FailAt {
                fail_at,
                calls: Cell::new(0),
                live: Cell::new(0),
            };
            let counters = PoolCounters::new();
            let tracked = Tracked::new(&a, Some(&counters));
            assert_eq!(
                pattern_workload(&tracked, &p),
                Err(STATUS_INSUFFICIENT_RESOURCES)
            );
            assert_eq!(a.live.get(), 0, "fail_at {fail_at}");
            let s = tracked.stats();
            assert_eq!(
                (s.allocations, s.frees, s.failures, s.outstanding),
                (fail_at, fail_at, 1, 0)
            );
            let d = counters.snapshot(0, 0);
            assert_eq!(
                (
                    d.allocations,
                    d.outstanding_allocations,
                    d.outstanding_bytes
                ),
                (fail_at, 0, 0)
            );
        }
    }

    /// Hands out blocks but corrupts the `n`-th one right after the write.
    struct Corrupting {
        target: u32,
        calls: Cell<u32>,
        last: Cell<*mut u8>,
    }

    // SAFETY: forwards to `GlobalAllocator`.
    unsafe impl Allocator for Corrupting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            self.calls.set(self.calls.get() + 1);
            // SAFETY: forwarded contract.
            let p = unsafe { GlobalAllocator.alloc(layout) };
            if self.calls.get() == self.target + 2 {
                // The previous block (index `target`) was filled by now.
                // SAFETY: that block is live (window > 1) and at least 1 byte.
                unsafe { *self.last.get() ^= 0xFF };
            }
            self.last.set(p);
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded contract.
            unsafe { GlobalAllocator.dealloc(ptr, layout) }
        }
    }

    #[test]
    fn corrupted_memory_is_detected_and_still_freed() {
        let p = params(10, 4, 16, 0, 9);
        let a = Corrupting {
            target: 3,
            calls: Cell::new(0),
            last: Cell::new(ptr::null_mut()),
        };
        let tracked = Tracked::new(&a, None);
        assert_eq!(pattern_workload(&tracked, &p), Err(STATUS_DATA_ERROR));
        assert_eq!(tracked.stats().outstanding, 0);
    }

    #[test]
    fn global_exercise_reports_counts_and_feeds_its_counters() {
        let counters = PoolCounters::new();
        let ex = GlobalExercise {
            pool_type: pool_type::HOST,
            tag: 0x1234,
        };
        let env = Env {
            clock: fake_clock,
            counters: Some(&counters),
            is_passive: || true,
        };
        let p = params(64, 1, 128, 0, 77);
        let r = ex.run(&p, &env).unwrap();
        assert_eq!(r.strategy, StrategyId::Global.as_u32());
        assert_eq!(r.ntstatus, STATUS_SUCCESS);
        assert_eq!((r.allocations, r.frees, r.outstanding), (64, 64, 0));
        assert_eq!(r.nanos, 0);
        assert_eq!(r.checksum, expected_checksum(&p));
        assert!(r.bytes >= 64 && r.bytes <= 64 * 128);
        let d = counters.snapshot(0, 0);
        assert_eq!(
            (
                d.allocations,
                d.frees,
                d.outstanding_allocations,
                d.outstanding_bytes
            ),
            (64, 64, 0, 0)
        );
        assert_eq!(d.peak_bytes, r.peak_bytes);
        assert_eq!(ex.info().to_wire().name_str(), Some("global"));
    }

    #[test]
    fn tracked_counts_resizes() {
        let t = Tracked::new(GlobalAllocator, None);
        let l8 = Layout::from_size_align(8, 8).unwrap();
        let l32 = Layout::from_size_align(32, 8).unwrap();
        // SAFETY: blocks are used within their layouts and freed once with
        // their latest layout.
        unsafe {
            let p = t.alloc_zeroed(l8);
            assert!(!p.is_null());
            let p = t.grow(p, l8, l32);
            assert!(!p.is_null());
            let p = t.shrink(p, l32, l8);
            assert!(!p.is_null());
            t.dealloc(p, l8);
        }
        let s = t.stats();
        assert_eq!(
            (s.allocations, s.frees, s.outstanding, s.live_bytes),
            (1, 1, 0, 0)
        );
        assert_eq!((s.bytes, s.peak_bytes), (32, 32));
    }
}
