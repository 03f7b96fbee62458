//! What the embedding (the KMDF glue, the host tests, the loopback client)
//! gives a device: its clock, its IRQL probe, how it reports the global
//! allocator's memory, how it runs work on another thread, and any extra
//! `POOL_STATS` entries. A leaf: nothing else in the crate is needed to
//! build one.

use kcom::{GlobalAllocator, NTSTATUS};

use crate::protocol::{PoolStatsEntry, pool_type};

/// How the embedding (driver, host, loopback client) configures a device.
#[derive(Clone, Copy, Debug)]
pub struct DeviceConfig {
    /// Monotonic clock in nanoseconds (driver: `KeQueryPerformanceCounter`
    /// scaled; host: `std::time::Instant`).
    pub clock: fn() -> u64,
    /// True when the caller runs at `PASSIVE_LEVEL` (driver:
    /// `KeGetCurrentIrql() == PASSIVE_LEVEL`; host: always). Exercises that
    /// touch paged pool refuse to run otherwise.
    pub is_passive: fn() -> bool,
    /// Pool type reported for memory from `kcom::GlobalAllocator`.
    pub global_pool_type: u32,
    /// Pool tag reported for memory from `kcom::GlobalAllocator`.
    pub global_tag: u32,
    /// Runs work on another thread (host: a new thread; driver: a WDF work
    /// item parented to this device). Without it the `async-com` exercise
    /// is not registered.
    pub defer: Option<Defer>,
    /// Extra `POOL_STATS` entries from outside the core (for example the
    /// allocator's own per-tag accounting): fills the front of the slice and
    /// returns how many it wrote. Called after the registry's entries, with
    /// the space that is left.
    pub external_pool_stats: Option<fn(&mut [PoolStatsEntry]) -> usize>,
}

fn always_passive() -> bool {
    true
}

impl DeviceConfig {
    /// A configuration with `clock`, always at `PASSIVE_LEVEL`, reporting
    /// `kcom::GlobalAllocator`'s memory as host memory with its tag, and no
    /// external pool statistics: what host tests, fuzzers and the loopback
    /// client start from.
    pub const fn new(clock: fn() -> u64) -> Self {
        DeviceConfig {
            clock,
            is_passive: always_passive,
            global_pool_type: pool_type::HOST,
            global_tag: GlobalAllocator::TAG,
            defer: None,
            external_pool_stats: None,
        }
    }
}

/// How one device runs work on another thread: `queue(context, job)` must
/// call `job.run()` there exactly once, or return an error without running
/// it.
///
/// `context` is the embedding's own value for this device, handed back on
/// every call (the driver passes its `WDFDEVICE`, so each device parents its
/// work items to itself); host embeddings that need none use 0.
#[derive(Clone, Copy, Debug)]
pub struct Defer {
    /// Queues `job`; returns whether it was queued.
    pub queue: fn(context: usize, job: DeferredJob) -> Result<(), NTSTATUS>,
    /// Passed to `queue` unchanged.
    pub context: usize,
}

impl Defer {
    /// Queues `job` with this device's context.
    ///
    /// Errors: the status `queue` failed with (the job was not run).
    pub fn run(&self, job: DeferredJob) -> Result<(), NTSTATUS> {
        (self.queue)(self.context, job)
    }
}

/// Work handed to [`DeviceConfig::defer`]: call `run(context)` exactly once,
/// on any thread, at `IRQL <= DISPATCH_LEVEL`.
#[derive(Debug)]
pub struct DeferredJob {
    /// What to call.
    pub run: unsafe fn(*mut core::ffi::c_void),
    /// Its argument (owned by the job until `run` takes it).
    pub context: *mut core::ffi::c_void,
}

// SAFETY: a deferred job is made to be run on another thread: the core only
// creates jobs whose `context` is a reference to a thread-safe COM object
// that `run` takes over (see `exercises::async_com`).
unsafe impl Send for DeferredJob {}

impl DeferredJob {
    /// Runs the job (consumes it).
    pub fn run(self) {
        // SAFETY: the core built `run` and `context` together, for exactly
        // one call, from any thread.
        unsafe { (self.run)(self.context) }
    }
}
