//! The `async-com` exercise: an async COM method on a registered object,
//! awaiting work that another thread completes.
//!
//! The registered object ([`AsyncComObject`]) implements
//! `IAllocatorExercise`, `IPoolAccounting` and [`IAsyncRunner`]; the device
//! finds the async method with `QueryInterface` and calls it through the
//! vtable, whose shim drives the future on kcom's blocking executor (in the
//! driver: a `KEVENT` wait at `PASSIVE_LEVEL`).
//!
//! Each iteration allocates a block and a job (both from the non-paged
//! pool, tag `KcAs`), hands the job to [`DeviceConfig::defer`] (host: a
//! thread; driver: a WDF work item), and awaits its completion: the worker
//! writes the pattern and wakes the future, which verifies the block and
//! frees both. Checksums are those of the pattern workload.
//!
//! [`DeviceConfig::defer`]: crate::state::DeviceConfig::defer

use core::alloc::Layout;
use core::ffi::c_void;
use core::future::poll_fn;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::task::{Poll, Waker};

use kcom::alloc::{KBox, WdkAllocator};
use kcom::{
    Allocator, GUID, IUnknown, NTSTATUS, STATUS_DATA_ERROR, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER, declare_com_interface, implement_com,
};

use crate::com::{IAllocatorExercise, IPoolAccounting};
use crate::exercise::{
    ExerciseInfo, FOLD_BASIS, TrackedStats, XorShift64, fold_block, verify_block, write_block,
};
use crate::ledger::PoolCounters;
use crate::protocol::{
    ExerciseParams, ExerciseReport, PoolStatsEntry, RunRequest, StrategyId, StrategyInfo, pool_type,
};
use crate::state::{Defer, DeferredJob};
use crate::tags;

declare_com_interface! {
    /// Objects whose exercise is an async method.
    pub trait IAsyncRunner: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("c0a1e5e7-4d1b-4c8e-9f4a-2b6d8e0f1a51");

        /// Validates `request` and runs the exercise, awaiting each block's
        /// pattern from another thread.
        async fn run_async(&self, request: RunRequest) -> Result<ExerciseReport, NTSTATUS>;
    }
}

/// The registered object of the `async-com` strategy.
pub struct AsyncComObject {
    counters: PoolCounters,
    clock: fn() -> u64,
    defer: Defer,
}

impl core::fmt::Debug for AsyncComObject {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AsyncComObject").finish_non_exhaustive()
    }
}

impl AsyncComObject {
    /// The object for a device with `clock` and `defer`.
    pub fn new(clock: fn() -> u64, defer: Defer) -> Self {
        AsyncComObject {
            counters: PoolCounters::new(),
            clock,
            defer,
        }
    }

    /// What `GET_INFO` lists for it.
    pub fn info() -> ExerciseInfo {
        ExerciseInfo {
            strategy: StrategyId::AsyncCom,
            flags: 0,
            pool_type: pool_type::NON_PAGED_NX,
            tag: tags::for_strategy(StrategyId::AsyncCom),
            description: "async COM method: each block's pattern is written on a worker and awaited",
        }
    }

    async fn run_future(&self, request: RunRequest) -> Result<ExerciseReport, NTSTATUS> {
        let params = request.validate()?;
        if params.strategy != StrategyId::AsyncCom {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let tracked = AtomicTracked::new(
            WdkAllocator::non_paged(tags::for_strategy(StrategyId::AsyncCom)),
            &self.counters,
        );
        let start = (self.clock)();
        let checksum = run_jobs(&params, &tracked, self.defer).await?;
        Ok(tracked.report(&params, (self.clock)().saturating_sub(start), checksum))
    }
}

impl IAllocatorExercise for AsyncComObject {
    fn describe(&self) -> Result<StrategyInfo, NTSTATUS> {
        Ok(Self::info().to_wire())
    }

    /// The same exercise for callers that do not know `IAsyncRunner`: it
    /// blocks on the future here.
    fn run(&self, request: RunRequest) -> Result<ExerciseReport, NTSTATUS> {
        kcom::async_com::block_on(self.run_future(request))?
    }
}

impl IPoolAccounting for AsyncComObject {
    fn pool_stats(&self) -> Result<PoolStatsEntry, NTSTATUS> {
        let info = Self::info();
        Ok(self.counters.snapshot(info.pool_type, info.tag))
    }
}

#[kcom::async_impl]
impl IAsyncRunner for AsyncComObject {
    async fn run_async(&self, request: RunRequest) -> Result<ExerciseReport, NTSTATUS> {
        self.run_future(request).await
    }
}

implement_com!(
    AsyncComObject: crate::com::IAllocatorExercise, crate::com::IPoolAccounting, IAsyncRunner
);

/// One block's work, shared by the awaiting future (which owns it) and the
/// worker (which gets a raw pointer and stops touching it once `done` is
/// set).
struct Job<'a> {
    block: NonNull<u8>,
    layout: Layout,
    seed: u64,
    index: u32,
    waker: Waker,
    done: AtomicBool,
    alloc: &'a AtomicTracked<'a>,
}

// SAFETY: the block is written only by the worker, before it sets `done`
// (Release), and read only by the owner after it sees `done` (Acquire);
// every other field is read-only or atomic, and `Waker` is Send + Sync.
unsafe impl Send for Job<'_> {}
// SAFETY: as above.
unsafe impl Sync for Job<'_> {}

impl Drop for Job<'_> {
    fn drop(&mut self) {
        // SAFETY: the block was allocated from `alloc` with `layout` when the
        // job was made, and the worker no longer uses it (`JobGuard`).
        unsafe { self.alloc.dealloc(self.block.as_ptr(), self.layout) };
    }
}

/// The worker's side of a job (what `DeferredJob::run` calls).
///
/// # Safety
///
/// `context` must point to a live `Job` whose owner waits for `done`
/// before freeing it; it is used only until `done` is set.
unsafe fn perform_job(context: *mut c_void) {
    // SAFETY: per the contract the job is alive until we set `done`.
    let job = unsafe { &*(context as *const Job<'_>) };
    // SAFETY: the block holds `layout.size()` bytes that nobody else touches
    // until `done` is set.
    unsafe { write_block(job.block.as_ptr(), job.layout.size(), job.seed, job.index) };
    let waker = job.waker.clone();
    // Release: the pattern is visible to whoever sees `done`. After this
    // store the job may be freed at once: use only our waker clone.
    job.done.store(true, Ordering::Release);
    waker.wake();
}

/// Waits (spinning) for a queued job's worker before the job can be freed,
/// if the future is dropped before the job completed.
struct JobGuard<'j, 'a> {
    job: &'j Job<'a>,
}

impl Drop for JobGuard<'_, '_> {
    fn drop(&mut self) {
        while !self.job.done.load(Ordering::Acquire) {
            core::hint::spin_loop();
        }
    }
}

async fn run_jobs(
    params: &ExerciseParams,
    tracked: &AtomicTracked<'_>,
    defer: Defer,
) -> Result<u64, NTSTATUS> {
    let waker = poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
    let mut rng = XorShift64::new(params.seed);
    let mut checksum = FOLD_BASIS;
    for index in 0..params.iterations {
        let size = rng.range_u32(params.min_size, params.max_size) as usize;
        let layout = Layout::from_size_align(size, params.align as usize)
            .map_err(|_| STATUS_INVALID_PARAMETER)?;
        // SAFETY: a valid non-zero-sized layout; the job frees the block with
        // it.
        let block =
            NonNull::new(unsafe { tracked.alloc(layout) }).ok_or(STATUS_INSUFFICIENT_RESOURCES)?;
        let job = Job {
            block,
            layout,
            seed: params.seed,
            index,
            waker: waker.clone(),
            done: AtomicBool::new(false),
            alloc: tracked,
        };
        let job = KBox::try_new_in(job, tracked).map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        let context = (&*job as *const Job<'_>).cast_mut().cast::<c_void>();
        defer.run(DeferredJob {
            run: perform_job,
            context,
        })?;
        let guard = JobGuard { job: &job };
        poll_fn(|_| {
            if job.done.load(Ordering::Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        drop(guard);
        // SAFETY: `done` was seen (Acquire), so the worker wrote the whole
        // block and no longer touches it.
        let digest = unsafe { verify_block(job.block.as_ptr(), size, params.seed, index) }
            .ok_or(STATUS_DATA_ERROR)?;
        checksum = fold_block(checksum, index, size, digest);
    }
    Ok(checksum)
}

/// A thread-safe counting allocator for one run (the future and the
/// workers share it), mirrored into the object's counters.
struct AtomicTracked<'a> {
    inner: WdkAllocator,
    device: &'a PoolCounters,
    allocations: AtomicU64,
    frees: AtomicU64,
    bytes: AtomicU64,
    live: AtomicU64,
    peak: AtomicU64,
}

impl<'a> AtomicTracked<'a> {
    fn new(inner: WdkAllocator, device: &'a PoolCounters) -> Self {
        AtomicTracked {
            inner,
            device,
            allocations: AtomicU64::new(0),
            frees: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            live: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        }
    }

    fn report(&self, params: &ExerciseParams, nanos: u64, checksum: u64) -> ExerciseReport {
        let allocations = self.allocations.load(Ordering::Relaxed);
        let frees = self.frees.load(Ordering::Relaxed);
        let live_bytes = self.live.load(Ordering::Relaxed);
        TrackedStats {
            allocations,
            frees,
            failures: 0,
            bytes: self.bytes.load(Ordering::Relaxed),
            live_bytes,
            peak_bytes: self.peak.load(Ordering::Relaxed),
            outstanding: allocations.wrapping_sub(frees),
        }
        .report(params.strategy, nanos, checksum)
    }
}

// SAFETY: forwards every call to the kernel pool allocator unchanged; the
// counters are atomics that never affect the blocks.
unsafe impl Allocator for AtomicTracked<'_> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            let size = layout.size() as u64;
            self.allocations.fetch_add(1, Ordering::Relaxed);
            self.bytes.fetch_add(size, Ordering::Relaxed);
            let live = self.live.fetch_add(size, Ordering::Relaxed) + size;
            self.peak.fetch_max(live, Ordering::Relaxed);
            self.device.on_alloc(size);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let size = layout.size() as u64;
        self.frees.fetch_add(1, Ordering::Relaxed);
        self.live.fetch_sub(size, Ordering::Relaxed);
        self.device.on_free(size);
        // SAFETY: forwarded contract.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    fn max_align(&self) -> usize {
        self.inner.max_align()
    }

    fn pageable(&self) -> bool {
        self.inner.pageable()
    }
}
