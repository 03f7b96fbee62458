//! Host-side integration tests for kcom and the sample driver's logic.
//!
//! The tests live in `tests/`; this library holds shared test helpers.

pub mod counting;

pub use counting::{CountingAlloc, DropCounter, Tracked};

/// A `DeviceConfig::defer` for host tests: runs each job on a new thread.
pub const THREAD_DEFER: kcom_sample_core::Defer = kcom_sample_core::Defer {
    queue: thread_defer,
    context: 0,
};

fn thread_defer(_context: usize, job: kcom_sample_core::DeferredJob) -> Result<(), kcom::NTSTATUS> {
    std::thread::Builder::new()
        .spawn(move || job.run())
        .map(|_| ())
        .map_err(|_| kcom::STATUS_INSUFFICIENT_RESOURCES)
}
