//! Hostile user mode against the sample device: arbitrary sequences of
//! `(IOCTL code, input bytes, output length)` through
//! `kcom_sample_core::dispatch` / `dispatch_in_place`, on a device whose
//! exercises allocate from the simulated kernel pool, with pool failures
//! injected where the input says.
//!
//! After every request the target asserts:
//!
//! * the status is `STATUS_SUCCESS` or one of `protocol::STATUSES`, and it
//!   is exactly the one an independent reading of the documented order of
//!   checks predicts (codes, sizes and limits are spelled out here, not
//!   taken from the core);
//! * a successful answer decodes, has the documented size, and says what
//!   the device is (registered strategies, a report whose checksum matches
//!   `expected_strategy_checksum`, nothing outstanding, an empty ledger);
//! * bytes past the answer, and the whole output on a rejected request,
//!   are untouched;
//! * nothing leaked: every simulated pool tag except the registry's own
//!   (`tags::DEVICE`) has no outstanding allocation, the DEVICE tag's count
//!   is what it was after construction, and the host heap holds as many
//!   blocks as before the request.
//!
//! `STATUS_DATA_ERROR` (a pattern that did not read back) is documented but
//! means an allocator handed out overlapping or corrupted memory: it fails
//! the target.
//!
//! # Input format
//!
//! ```text
//! u8   ctor fault: 1..=24 makes that allocation with tag DEVICE during
//!      DeviceState::new fail (construction must then fail cleanly)
//! then up to 24 requests:
//!   u8   code selector: 0-1 GET_INFO, 2-4 RUN_EXERCISE, 5 POOL_STATS,
//!        6 a raw u32 code follows, 7 a real code with the method/access
//!        bits xor-ed with the next byte
//!   u8   input mode: even = a well-formed request built from fields that
//!        follow, then (bit 1) one byte patched; odd = raw bytes
//!        (u8 length % 64, then the bytes)
//!   ...  request fields (RUN: u8 strategy, u16 iterations, u8 size class,
//!        u16 min, u16 max, u8 align class, u64 seed, u8 flags)
//!   u8   output length class (exact, one short, zero, raw u16, larger)
//!   u8   transfer: bit 0 = dispatch_in_place; bit 1 = lie about a length
//!   u8   fault: 0 none, else u8 tag selector and u8 n follow:
//!        the n-th allocation with that tag fails
//! ```
#![no_main]

use kcom::alloc::sim;
use kcom::{
    NTSTATUS, PoolType, STATUS_BUFFER_TOO_SMALL, STATUS_DATA_ERROR, STATUS_INFO_LENGTH_MISMATCH,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_PARAMETER,
    STATUS_NOT_SUPPORTED, STATUS_REVISION_MISMATCH, STATUS_SUCCESS,
};
use kcom_fuzz::{CountingGlobal, FILL, Input, live_blocks};
use kcom_sample_core::protocol::{
    InfoResponse, PoolStatsResponse, RunRequest, RunResponse, STATUSES, StrategyId,
};
use kcom_sample_core::{
    DeviceConfig, DeviceState, ExerciseParams, dispatch, dispatch_in_place,
    expected_strategy_checksum, tags,
};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static GLOBAL: CountingGlobal = CountingGlobal;

/// The wire values the protocol pins (see `protocol/` and its tests).
const GET_INFO: u32 = 0x8C0E_6000;
const RUN_EXERCISE: u32 = 0x8C0E_E004;
const POOL_STATS: u32 = 0x8C0E_6008;
const VERSION: u32 = 1;

/// Requests asking for more work than this (iterations × largest block) are
/// decoded and checked but not run, to keep executions fast; the limits
/// themselves are tested in tests-host.
const WORK_BUDGET: u64 = 2 << 20;

fn clock() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NOW: AtomicU64 = AtomicU64::new(0);
    NOW.fetch_add(1_000, Ordering::Relaxed)
}

/// What the documented order of checks says about a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Info,
    Stats,
    Run(RunFields),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RunFields {
    strategy: u32,
    iterations: u32,
    min_size: u32,
    max_size: u32,
    align: u32,
    seed: u64,
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The status table and order of checks of `protocol/` / `dispatch.rs`,
/// re-read from the documentation: steps 1–4, then what step 5 may answer.
fn oracle(code: u32, input: &[u8], output_len: usize) -> Result<Expect, NTSTATUS> {
    let (request_size, response_size) = match code {
        GET_INFO => (8, 2344),
        RUN_EXERCISE => (40, 72),
        POOL_STATS => (8, 784),
        _ => return Err(STATUS_INVALID_DEVICE_REQUEST),
    };
    if input.len() != request_size || le32(input, 4) as usize != request_size {
        return Err(STATUS_INFO_LENGTH_MISMATCH);
    }
    if le32(input, 0) != VERSION {
        return Err(STATUS_REVISION_MISMATCH);
    }
    if output_len < response_size {
        return Err(STATUS_BUFFER_TOO_SMALL);
    }
    match code {
        GET_INFO => Ok(Expect::Info),
        POOL_STATS => Ok(Expect::Stats),
        _ => {
            let f = RunFields {
                strategy: le32(input, 8),
                iterations: le32(input, 16),
                min_size: le32(input, 20),
                max_size: le32(input, 24),
                align: match le32(input, 28) {
                    0 => 8,
                    a => a,
                },
                seed: u64::from_le_bytes(input[32..40].try_into().unwrap()),
            };
            let flags = le32(input, 12);
            let ok = f.strategy <= 11
                && flags == 0
                && (1..=1_000_000).contains(&f.iterations)
                && f.min_size >= 1
                && f.min_size <= f.max_size
                && f.max_size <= 1 << 20
                && f.align.is_power_of_two()
                && f.align <= 4096
                && u64::from(f.iterations) * u64::from(f.max_size) <= 256 << 20;
            if ok {
                Ok(Expect::Run(f))
            } else {
                Err(STATUS_INVALID_PARAMETER)
            }
        }
    }
}

/// Every tag the device may allocate with: the registry's and each
/// strategy's.
fn all_tags() -> impl Iterator<Item = u32> {
    std::iter::once(tags::DEVICE).chain(StrategyId::ALL.into_iter().map(tags::for_strategy))
}

fn outstanding(tag: u32) -> u64 {
    PoolType::ALL
        .into_iter()
        .map(|p| sim::stats(p, tag).outstanding_allocations)
        .sum()
}

/// Asserts that no simulated pool tag other than DEVICE holds a block and
/// that DEVICE holds exactly `device_blocks`.
fn assert_pool_clean(device_blocks: u64, context: &str) {
    for entry in sim::snapshot().iter() {
        let expected = if entry.tag == tags::DEVICE {
            None
        } else {
            Some(0)
        };
        if let Some(expected) = expected {
            assert_eq!(
                entry.stats.outstanding_allocations,
                expected,
                "{context}: tag {} ({:?}) leaked",
                sim::TagName(entry.tag),
                entry.pool
            );
        }
    }
    assert_eq!(
        outstanding(tags::DEVICE),
        device_blocks,
        "{context}: the registry's own allocations changed"
    );
}

fn clear_all_faults() {
    for tag in all_tags() {
        sim::clear_faults(tag);
    }
}

/// Builds a well-formed request for `code` from fields in the input.
fn build_request(code: u32, inp: &mut Input<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 40];
    match code {
        RUN_EXERCISE => {
            let strategy = match inp.u8() % 16 {
                s @ 0..=11 => u32::from(s),
                12 => 12,
                13 => u32::MAX,
                // Favour registered, allocating strategies.
                s => u32::from(s % 11),
            };
            let iterations = match inp.u16() {
                0 => 0,
                n => u32::from(n % 300) + 1,
            };
            let class = inp.u8();
            let (min, max) = match class % 5 {
                0 => (u32::from(inp.u16() % 64), u32::from(inp.u16() % 65)),
                1 => (u32::from(inp.u16() % 4096), u32::from(inp.u16() % 4097)),
                2 => (u32::from(inp.u16()), u32::from(inp.u16()) << 4),
                3 => {
                    // Around MAX_ALLOC_SIZE.
                    let hi = (1u32 << 20) + u32::from(inp.u16() % 3) - 1;
                    (hi - u32::from(inp.u16()), hi)
                }
                _ => (inp.u32(), inp.u32()),
            };
            let align = match inp.u8() % 20 {
                0 => 0,
                a @ 1..=14 => 1 << (a - 1), // 1 ..= 8192
                15 => 3,
                16 => 4096,
                17 => 16,
                _ => inp.u32(),
            };
            let seed = inp.u64();
            let flags = match inp.u8() {
                0..=250 => 0,
                f => u32::from(f),
            };
            let req = RunRequest {
                flags: flags.into(),
                strategy: strategy.into(),
                ..RunRequest::new(StrategyId::Global, iterations, min, max, seed).with_align(align)
            };
            let n = req.encode(&mut buf).expect("40-byte buffer");
            buf.truncate(n);
        }
        _ => {
            buf.truncate(8);
            buf[..4].copy_from_slice(&VERSION.to_le_bytes());
            buf[4..].copy_from_slice(&8u32.to_le_bytes());
        }
    }
    buf
}

fn run_one(
    state: &DeviceState,
    registered: &[StrategyId],
    device_blocks: u64,
    inp: &mut Input<'_>,
) {
    let code = match inp.u8() % 8 {
        0 | 1 => GET_INFO,
        2..=4 => RUN_EXERCISE,
        5 => POOL_STATS,
        6 => inp.u32(),
        _ => {
            [GET_INFO, RUN_EXERCISE, POOL_STATS][usize::from(inp.u8() % 3)]
                ^ u32::from(inp.u8() & 0x3)
                ^ (u32::from(inp.u8() & 0x3) << 14)
        }
    };
    let mode = inp.u8();
    let input = if mode & 1 == 0 {
        let mut b = build_request(code, inp);
        if mode & 2 != 0 && !b.is_empty() {
            let at = usize::from(inp.u8()) % b.len();
            b[at] = inp.u8();
        }
        b
    } else {
        let n = usize::from(inp.u8() % 64);
        inp.bytes(n).to_vec()
    };
    let response_size = match code {
        GET_INFO => InfoResponse::SIZE,
        RUN_EXERCISE => RunResponse::SIZE,
        POOL_STATS => PoolStatsResponse::SIZE,
        _ => 64,
    };
    let output_len = match inp.u8() % 6 {
        0 | 1 => response_size,
        2 => response_size - 1,
        3 => 0,
        4 => usize::from(inp.u16() % 4096),
        _ => response_size + usize::from(inp.u8()),
    };
    let transfer = inp.u8();
    let fault = match inp.u8() {
        0 => None,
        _ => {
            let tags: Vec<u32> = all_tags().collect();
            let tag = tags[usize::from(inp.u8()) % tags.len()];
            let n = u64::from(inp.u8() % 64) + 1;
            Some((tag, n))
        }
    };

    let expected = oracle(code, &input, output_len);
    if let Ok(Expect::Run(f)) = expected
        && u64::from(f.iterations) * u64::from(f.max_size) > WORK_BUDGET
    {
        return;
    }

    if let Some((tag, n)) = fault {
        sim::fail_nth(tag, None, n);
    }
    let heap_before = live_blocks();
    let (result, out, whole_before) = if transfer & 1 == 0 {
        let mut out = vec![FILL; output_len];
        let r = dispatch(state, code, &input, &mut out);
        let before = vec![FILL; output_len];
        (r, out, before)
    } else {
        // METHOD_BUFFERED: one buffer of max(in, out) bytes holding the input.
        let len = input.len().max(output_len);
        let mut buf = vec![FILL; len];
        buf[..input.len()].copy_from_slice(&input);
        let before = buf.clone();
        let (in_len, out_len) = if transfer & 2 != 0 {
            // A glue bug passing a length larger than the buffer.
            (input.len(), len + 1 + usize::from(transfer >> 2))
        } else {
            (input.len(), output_len)
        };
        let r = dispatch_in_place(state, code, &mut buf, in_len, out_len);
        if out_len > len {
            assert_eq!(r, Err(STATUS_INVALID_PARAMETER), "length beyond the buffer");
            assert_eq!(buf, before, "rejected in-place request wrote output");
            clear_all_faults();
            drop((buf, before));
            assert_eq!(live_blocks(), heap_before, "host heap leak");
            assert_pool_clean(device_blocks, "in-place length check");
            return;
        }
        (r, buf, before)
    };
    clear_all_faults();
    // The buffers above were allocated after `heap_before`; the heap is
    // compared once they are dropped, at the end.
    let status = match result {
        Ok(_) => STATUS_SUCCESS,
        Err(s) => s,
    };
    assert!(
        status == STATUS_SUCCESS || STATUSES.contains(&status),
        "undocumented status {status:#x} for code {code:#x}"
    );
    assert_ne!(
        status, STATUS_DATA_ERROR,
        "memory did not read back as written"
    );

    match expected {
        Err(e) => {
            assert_eq!(
                result,
                Err(e),
                "code {code:#x}, input {input:02x?}, out {output_len}"
            );
            assert_eq!(out, whole_before, "a rejected request wrote output");
        }
        Ok(Expect::Info) => {
            assert_eq!(result, Ok(InfoResponse::SIZE));
            let view = InfoResponse::decode(&out[..InfoResponse::SIZE]).expect("GET_INFO decodes");
            assert!(view.unused_slots_are_zero());
            let listed: Vec<StrategyId> = view
                .strategies()
                .map(|s| s.strategy().expect("a known strategy"))
                .collect();
            assert_eq!(listed, registered);
            assert_eq!(
                &out[InfoResponse::SIZE..],
                &whole_before[InfoResponse::SIZE..]
            );
        }
        Ok(Expect::Stats) => {
            assert_eq!(result, Ok(PoolStatsResponse::SIZE));
            let stats = PoolStatsResponse::decode(&out[..PoolStatsResponse::SIZE])
                .expect("POOL_STATS decodes");
            for e in stats.entries() {
                assert_eq!(
                    (e.outstanding_allocations.get(), e.outstanding_bytes.get()),
                    (0, 0),
                    "the ledger shows memory outstanding between requests: {e:?}"
                );
                assert_eq!(e.allocations, e.frees);
            }
            assert_eq!(
                &out[PoolStatsResponse::SIZE..],
                &whole_before[PoolStatsResponse::SIZE..]
            );
        }
        Ok(Expect::Run(f)) => {
            let strategy = StrategyId::from_u32(f.strategy).expect("validated");
            if !registered.contains(&strategy) {
                assert_eq!(result, Err(STATUS_NOT_SUPPORTED));
                assert_eq!(out, whole_before);
            } else {
                match result {
                    Ok(n) => {
                        assert_eq!(n, RunResponse::SIZE);
                        let r = RunResponse::decode(&out[..n]).expect("RUN decodes").report;
                        let params = ExerciseParams {
                            strategy,
                            iterations: f.iterations,
                            min_size: f.min_size,
                            max_size: f.max_size,
                            align: f.align,
                            seed: f.seed,
                        };
                        assert_eq!(r.strategy, f.strategy);
                        assert_eq!(r.ntstatus, STATUS_SUCCESS);
                        assert_eq!(r.checksum, expected_strategy_checksum(&params));
                        assert_eq!(r.outstanding, 0, "{r:?}");
                        assert_eq!(r.allocations, r.frees, "{r:?}");
                        assert_eq!(&out[n..], &whole_before[n..]);
                    }
                    Err(e) => {
                        assert_eq!(e, STATUS_INSUFFICIENT_RESOURCES, "{strategy:?}");
                        if strategy == StrategyId::Global {
                            // The host heap does not fail requests this small
                            // and no pool fault reaches it.
                            panic!("global exercise failed without a cause");
                        }
                        assert_eq!(out, whole_before);
                    }
                }
            }
        }
    }
    drop(out);
    drop(whole_before);
    assert_eq!(live_blocks(), heap_before, "host heap leak");
    assert_pool_clean(device_blocks, "after a request");
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    clear_all_faults();
    assert_pool_clean(0, "before the device exists");
    let heap_start = live_blocks();

    let ctor_fault = inp.u8();
    if (1..=24).contains(&ctor_fault) {
        sim::fail_nth(tags::DEVICE, None, u64::from(ctor_fault));
    }
    let built = DeviceState::new(DeviceConfig {
        external_pool_stats: None,
        ..DeviceConfig::new(clock)
    });
    clear_all_faults();
    let state = match built {
        Ok(state) => state,
        Err(status) => {
            assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES);
            assert_pool_clean(0, "failed construction");
            assert_eq!(live_blocks(), heap_start, "failed construction leaked");
            return;
        }
    };
    let device_blocks = outstanding(tags::DEVICE);
    let registered: Vec<StrategyId> = state.registry().strategies().collect();

    for _ in 0..24 {
        if inp.is_empty() {
            break;
        }
        run_one(&state, &registered, device_blocks, &mut inp);
    }
    drop(registered);
    drop(state);
    assert_pool_clean(0, "after the device was dropped");
    assert_eq!(live_blocks(), heap_start, "the device leaked host memory");
});
