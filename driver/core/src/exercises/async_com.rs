//! The `async-com` exercise: an async COM method on a registered object,
//! awaiting work that another thread completes.
//!
//! The registered object ([`AsyncComObject`]) implements
//! `IAllocatorExercise`, `IPoolAccounting` and [`IAsyncRunner`] (the
//! interfaces are in [`crate::interfaces`]); the device
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
//! [`DeviceConfig::defer`]: crate::config::DeviceConfig::defer

use core::alloc::Layout;
use core::ffi::c_void;
use core::future::poll_fn;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Poll, Waker};

use kcom::alloc::{KBox, WdkAllocator};
use kcom::{
    Allocator, NTSTATUS, STATUS_DATA_ERROR, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER, implement_com,
};

use super::{ExerciseInfo, non_paged};
use crate::config::{Defer, DeferredJob};
use crate::counters::Counters;
use crate::interfaces::{IAllocatorExercise, IAsyncRunner, IPoolAccounting};
use crate::protocol::{
    ExerciseParams, ExerciseReport, PoolStatsEntry, RunRequest, StrategyId, StrategyInfo, pool_type,
};
use crate::tags;
use crate::tracked::Tracked;
use crate::workload::{FOLD_BASIS, XorShift64, fold_block, verify_block, write_block};

/// The registered object of the `async-com` strategy.
pub struct AsyncComObject {
    counters: Counters,
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
            counters: Counters::new(),
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
        let tracked = Tracked::new(non_paged(StrategyId::AsyncCom), Some(&self.counters));
        let start = (self.clock)();
        let checksum = run_jobs(&params, &tracked, self.defer).await?;
        let nanos = (self.clock)().saturating_sub(start);
        Ok(tracked.counts().report(params.strategy, nanos, checksum))
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
        Ok(self.counters.counts().pool_entry(info.pool_type, info.tag))
    }
}

#[kcom::async_impl]
impl IAsyncRunner for AsyncComObject {
    async fn run_async(&self, request: RunRequest) -> Result<ExerciseReport, NTSTATUS> {
        self.run_future(request).await
    }
}

implement_com!(
    AsyncComObject: crate::interfaces::IAllocatorExercise,
    crate::interfaces::IPoolAccounting,
    crate::interfaces::IAsyncRunner
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
    alloc: &'a Tracked<'a, WdkAllocator>,
}

// SAFETY: the block is written only by the worker, before it sets `done`
// (Release), and read only by the owner after it sees `done` (Acquire);
// every other field is read-only or atomic, `alloc` is a shared reference
// to a `Sync` allocator (its counters are atomics), and `Waker` is
// Send + Sync.
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
    tracked: &Tracked<'_, WdkAllocator>,
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
