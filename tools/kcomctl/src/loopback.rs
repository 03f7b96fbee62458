//! The loopback backend: the driver's logic (`kcom-sample-core`) in this
//! process, over kcom's simulated kernel pool.
//!
//! Requests take the same path as on a real device: the client encodes
//! them, [`Loopback::ioctl`] copies them into one buffer the way the I/O
//! manager does for `METHOD_BUFFERED` and hands it to
//! [`kcom_sample_core::dispatch_in_place`], the entry point the KMDF glue
//! calls, and the client decodes what comes back.
//!
//! `POOL_STATS` lists the device's own ledger first (as the driver does),
//! then the simulated pool's accounting per tag, marked with
//! [`pool_type::HOST`] OR-ed into the pool type (see [`SIM_POOL`]); that
//! view also covers memory the exercises do not count themselves, such as
//! the exercise objects and allocator backing chunks.

use std::sync::OnceLock;
use std::time::Instant;

use kcom::NTSTATUS;
use kcom::alloc::sim;
use kcom::alloc::wdk::PoolType;
use kcom_sample_core::protocol::{PoolStatsEntry, StrategyId, pool_type};
use kcom_sample_core::{DeviceConfig, DeviceState, dispatch_in_place, tags};

use crate::transport::{Transport, TransportError};

/// Bit OR-ed into the pool type of `POOL_STATS` entries that come from the
/// simulated pool's own accounting rather than from the device's ledger.
pub const SIM_POOL: u32 = pool_type::HOST;

/// Monotonic nanoseconds since the first call.
fn clock() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let nanos = START.get_or_init(Instant::now).elapsed().as_nanos();
    u64::try_from(nanos).unwrap_or(u64::MAX)
}

/// The wire pool type of a simulated pool.
fn wire_pool_type(pool: PoolType) -> u32 {
    SIM_POOL
        | match pool {
            PoolType::NonPagedNx => pool_type::NON_PAGED_NX,
            PoolType::Paged => pool_type::PAGED,
        }
}

/// `DeviceConfig::external_pool_stats` of the loopback: the simulated
/// pool's accounting, ordered by tag then pool type so that a truncated
/// list is always the same one.
fn sim_pool_stats(out: &mut [PoolStatsEntry]) -> usize {
    let snapshot = sim::snapshot();
    let mut entries: Vec<PoolStatsEntry> = snapshot
        .iter()
        .map(|e| PoolStatsEntry {
            pool_type: wire_pool_type(e.pool).into(),
            tag: e.tag.into(),
            allocations: e.stats.total_allocations.into(),
            frees: e.stats.total_frees.into(),
            outstanding_allocations: e.stats.outstanding_allocations.into(),
            outstanding_bytes: e.stats.outstanding_bytes.into(),
            peak_bytes: e.stats.peak_bytes.into(),
        })
        .collect();
    entries.sort_by_key(|e| (e.tag.get().swap_bytes(), e.pool_type.get()));
    let n = entries.len().min(out.len());
    out[..n].copy_from_slice(&entries[..n]);
    n
}

/// The loopback's stand-in for the driver's work items: runs a deferred job
/// on a new thread.
fn thread_defer(_context: usize, job: kcom_sample_core::DeferredJob) -> Result<(), NTSTATUS> {
    std::thread::Builder::new()
        .name("kcomctl-worker".into())
        .spawn(move || job.run())
        .map(|_| ())
        .map_err(|_| kcom::STATUS_INSUFFICIENT_RESOURCES)
}

/// A sample device in this process.
#[derive(Debug)]
pub struct Loopback {
    state: DeviceState,
}

impl Loopback {
    /// Builds the device with every exercise `kcom-sample-core` registers.
    ///
    /// Errors: the status `DeviceState::new` failed with.
    pub fn new() -> Result<Self, NTSTATUS> {
        let state = DeviceState::new(DeviceConfig {
            defer: Some(kcom_sample_core::Defer {
                queue: thread_defer,
                context: 0,
            }),
            external_pool_stats: Some(sim_pool_stats),
            ..DeviceConfig::new(clock)
        })?;
        Ok(Loopback { state })
    }

    /// Makes the `n`th pool allocation (from now, `n >= 1`) of `strategy`'s
    /// exercise fail, through the simulated pool's fault injection.
    ///
    /// Errors: `n == 0`, or `global`, whose memory comes from the host heap
    /// rather than the simulated pool.
    pub fn inject_fault(&self, strategy: StrategyId, n: u64) -> Result<(), String> {
        if strategy == StrategyId::Global {
            return Err(
                "cannot inject a fault into 'global': it allocates from the host heap, \
                 not the simulated pool"
                    .into(),
            );
        }
        if n == 0 {
            return Err("fault position must be at least 1 (1 = the next allocation)".into());
        }
        sim::fail_nth(tags::for_strategy(strategy), None, n);
        Ok(())
    }
}

impl Transport for Loopback {
    fn ioctl(&self, code: u32, input: &[u8], output: &mut [u8]) -> Result<usize, TransportError> {
        // METHOD_BUFFERED: one system buffer of max(input, output) bytes,
        // holding the request on the way in and the reply on the way out.
        let mut system_buffer = vec![0u8; input.len().max(output.len())];
        system_buffer[..input.len()].copy_from_slice(input);
        let written = dispatch_in_place(
            &self.state,
            code,
            &mut system_buffer,
            input.len(),
            output.len(),
        )
        .map_err(TransportError::Status)?;
        // The dispatcher writes only into the first `output.len()` bytes;
        // clamp anyway so a wrong count cannot panic here.
        let written = written.min(output.len());
        output[..written].copy_from_slice(&system_buffer[..written]);
        Ok(written)
    }

    fn describe(&self) -> String {
        "loopback (kcom-sample-core in this process, simulated kernel pool)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcom::{STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_DEVICE_REQUEST};
    use kcom_sample_core::protocol::{IOCTL_KCOM_GET_INFO, InfoRequest, InfoResponse};

    #[test]
    fn loopback_answers_like_the_dispatcher() {
        let lb = Loopback::new().unwrap();
        let mut req = [0u8; InfoRequest::SIZE];
        InfoRequest::new().encode(&mut req).unwrap();
        let mut out = vec![0xAAu8; InfoResponse::SIZE + 7];
        let n = lb.ioctl(IOCTL_KCOM_GET_INFO, &req, &mut out).unwrap();
        assert_eq!(n, InfoResponse::SIZE);
        let view = InfoResponse::decode(&out[..n]).unwrap();
        assert!(view.find(StrategyId::Global).is_some());
        // Bytes past the reply are not touched.
        assert!(out[n..].iter().all(|&b| b == 0xAA));

        let mut short = vec![0u8; InfoResponse::SIZE - 1];
        assert_eq!(
            lb.ioctl(IOCTL_KCOM_GET_INFO, &req, &mut short),
            Err(TransportError::Status(STATUS_BUFFER_TOO_SMALL))
        );
        assert_eq!(
            lb.ioctl(0x1234, &req, &mut out),
            Err(TransportError::Status(STATUS_INVALID_DEVICE_REQUEST))
        );
    }

    #[test]
    fn fault_injection_refuses_global_and_zero() {
        let lb = Loopback::new().unwrap();
        assert!(lb.inject_fault(StrategyId::Global, 1).is_err());
        assert!(lb.inject_fault(StrategyId::Bump, 0).is_err());
    }

    #[test]
    fn simulated_pool_entries_are_marked_and_ordered() {
        let tag = kcom_sample_core::protocol::pool_tag(*b"KtLb");
        // One live block from the simulated pool with a tag of this test.
        let alloc = kcom::alloc::WdkAllocator::new(PoolType::Paged, tag);
        let layout = std::alloc::Layout::from_size_align(24, 8).unwrap();
        // SAFETY: a valid, non-zero layout; the block is freed below with
        // the same allocator and layout.
        let p = unsafe { kcom::Allocator::alloc(&alloc, layout) };
        assert!(!p.is_null());
        let mut out = [PoolStatsEntry::default(); 64];
        let n = sim_pool_stats(&mut out);
        let e = out[..n]
            .iter()
            .find(|e| e.tag == tag)
            .expect("entry of the test tag");
        assert_eq!(e.pool_type, SIM_POOL | pool_type::PAGED);
        assert_eq!(e.outstanding_allocations, 1);
        assert!(
            out[..n]
                .windows(2)
                .all(|w| (w[0].tag.get().swap_bytes(), w[0].pool_type.get())
                    <= (w[1].tag.get().swap_bytes(), w[1].pool_type.get()))
        );
        // SAFETY: `p` came from `alloc` with `layout` and is freed once.
        unsafe { kcom::Allocator::dealloc(&alloc, p, layout) };
        // No room: nothing written.
        assert_eq!(sim_pool_stats(&mut []), 0);
    }
}
