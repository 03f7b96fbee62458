//! Host-side integration tests for kcom and the sample driver's logic.
//!
//! The tests live in `tests/`; this library holds shared test helpers.

pub mod counting;

pub use counting::{CountingAlloc, DropCounter, Tracked};

/// A `DeviceConfig::defer` for host tests: runs the job on a new thread.
pub fn thread_defer(job: kcom_sample_core::DeferredJob) -> Result<(), kcom::NTSTATUS> {
    std::thread::Builder::new()
        .spawn(move || job.run())
        .map(|_| ())
        .map_err(|_| kcom::STATUS_INSUFFICIENT_RESOURCES)
}
