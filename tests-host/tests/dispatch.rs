//! The sample driver's dispatcher, driven exactly as the KMDF glue and the
//! loopback client drive it: IOCTL code plus raw byte buffers.

use std::alloc::Layout;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use kcom::{
    Allocator, GlobalAllocator, NTSTATUS, STATUS_BUFFER_TOO_SMALL, STATUS_INFO_LENGTH_MISMATCH,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_PARAMETER,
    STATUS_NOT_SUPPORTED, STATUS_REVISION_MISMATCH, STATUS_SUCCESS,
};
use kcom_sample_core::protocol::{
    self, IOCTL_KCOM_GET_INFO, IOCTL_KCOM_POOL_STATS, IOCTL_KCOM_RUN_EXERCISE, InfoRequest,
    InfoResponse, MAX_ALIGN, MAX_ALLOC_SIZE, MAX_ITERATIONS, MAX_TOTAL_BYTES, PROTOCOL_VERSION,
    PoolStatsRequest, PoolStatsResponse, RunRequest, RunResponse, StrategyInfo, pool_type,
};
use kcom_sample_core::{
    DeviceConfig, DeviceState, Env, Exercise, ExerciseInfo, ExerciseParams, ExerciseReport,
    StrategyId, dispatch, dispatch_in_place, expected_checksum, run_tracked,
};

/// `full` normally, `miri` under Miri (which is orders of magnitude slower).
const fn scaled(full: u32, miri: u32) -> u32 {
    if cfg!(miri) { miri } else { full }
}

fn host_clock() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

const CONFIG: DeviceConfig = DeviceConfig::new(host_clock);

fn device() -> DeviceState {
    DeviceState::new(CONFIG).expect("device state")
}

fn encode<const N: usize>(f: impl FnOnce(&mut [u8]) -> Result<usize, NTSTATUS>) -> Vec<u8> {
    let mut buf = vec![0u8; N];
    let n = f(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn info_request() -> Vec<u8> {
    encode::<{ InfoRequest::SIZE }>(|b| InfoRequest::new().encode(b))
}

fn stats_request() -> Vec<u8> {
    encode::<{ PoolStatsRequest::SIZE }>(|b| PoolStatsRequest::new().encode(b))
}

fn run_request(req: &RunRequest) -> Vec<u8> {
    encode::<{ RunRequest::SIZE }>(|b| req.encode(b))
}

/// GET_INFO: the header and the listed strategies.
fn get_info(state: &DeviceState) -> (InfoResponse, Vec<StrategyInfo>) {
    let mut out = vec![0u8; InfoResponse::SIZE];
    let n = dispatch(state, IOCTL_KCOM_GET_INFO, &info_request(), &mut out).unwrap();
    assert_eq!(n, InfoResponse::SIZE);
    let view = InfoResponse::decode(&out[..n]).unwrap();
    assert!(view.unused_slots_are_zero());
    (view.header, view.strategies().collect())
}

fn pool_stats(state: &DeviceState) -> PoolStatsResponse {
    let mut out = vec![0u8; PoolStatsResponse::SIZE];
    let n = dispatch(state, IOCTL_KCOM_POOL_STATS, &stats_request(), &mut out).unwrap();
    assert_eq!(n, PoolStatsResponse::SIZE);
    PoolStatsResponse::decode(&out[..n]).unwrap()
}

fn run(state: &DeviceState, req: &RunRequest) -> Result<ExerciseReport, NTSTATUS> {
    let mut out = vec![0u8; RunResponse::SIZE];
    let n = dispatch(state, IOCTL_KCOM_RUN_EXERCISE, &run_request(req), &mut out)?;
    assert_eq!(n, RunResponse::SIZE);
    Ok(RunResponse::decode(&out[..n]).unwrap().report)
}

fn global_stats(state: &DeviceState) -> protocol::PoolStatsEntry {
    *pool_stats(state)
        .find(pool_type::HOST, GlobalAllocator::TAG)
        .expect("global pool entry")
}

#[test]
fn get_info_lists_the_registered_strategies_and_limits() {
    let state = device();
    let (info, strategies) = get_info(&state);
    assert_eq!(info.header.version, PROTOCOL_VERSION);
    assert_eq!(info.header.size.get() as usize, InfoResponse::SIZE);
    assert_eq!(info.max_iterations, MAX_ITERATIONS);
    assert_eq!(info.max_alloc_size, MAX_ALLOC_SIZE);
    assert_eq!(info.max_total_bytes, MAX_TOTAL_BYTES);
    assert_eq!(info.strategy_count.get() as usize, state.registry().len());
    assert_eq!(strategies.len(), state.registry().len());
    let global = strategies
        .iter()
        .find(|s| s.strategy() == Some(StrategyId::Global))
        .unwrap();
    assert_eq!(global.name_str(), Some("global"));
    assert!(!global.description_str().unwrap().is_empty());
    assert_eq!(
        (global.pool_type.get(), global.tag.get()),
        (pool_type::HOST, GlobalAllocator::TAG)
    );
    // Every listed strategy is a known, registered one, listed once.
    for s in &strategies {
        let id = s.strategy().expect("known strategy");
        assert!(state.registry().get(id).is_some());
        assert_eq!(strategies.iter().filter(|t| t.id == s.id).count(), 1);
    }
}

#[test]
fn run_global_reports_a_verified_leak_free_run() {
    let state = device();
    let n = scaled(300, 12);
    let req = RunRequest::new(StrategyId::Global, n, 1, 4096, 0xDEAD_BEEF);
    let report = run(&state, &req).unwrap();
    let params = req.validate().unwrap();
    assert_eq!(report.strategy, StrategyId::Global.as_u32());
    assert_eq!(report.ntstatus, STATUS_SUCCESS);
    let n64 = u64::from(n);
    assert_eq!(report.allocations, n64);
    assert_eq!(report.frees, n64);
    assert_eq!(report.outstanding, 0);
    assert!(report.bytes >= n64 && report.bytes <= n64 * 4096);
    assert!(report.peak_bytes > 0 && report.peak_bytes <= report.bytes);
    assert_eq!(report.checksum, expected_checksum(&params));

    // Same parameters, same checksum; another seed, another checksum.
    assert_eq!(run(&state, &req).unwrap().checksum, report.checksum);
    let other = RunRequest {
        seed: 1.into(),
        ..req
    };
    assert_ne!(run(&state, &other).unwrap().checksum, report.checksum);

    // The device-wide ledger saw all three runs and nothing is outstanding.
    let g = global_stats(&state);
    assert_eq!(g.allocations, 3 * n64);
    assert_eq!(g.frees, 3 * n64);
    assert_eq!(g.outstanding_allocations, 0);
    assert_eq!(g.outstanding_bytes, 0);
    assert!(g.peak_bytes >= report.peak_bytes);
}

#[test]
fn run_honours_alignment_and_the_largest_blocks() {
    let state = device();
    let req = RunRequest {
        align: MAX_ALIGN.into(),
        ..RunRequest::new(
            StrategyId::Global,
            scaled(8, 1),
            MAX_ALLOC_SIZE,
            MAX_ALLOC_SIZE,
            5,
        )
    };
    let report = run(&state, &req).unwrap();
    assert_eq!(
        report.bytes,
        u64::from(req.iterations) * u64::from(MAX_ALLOC_SIZE)
    );
    assert_eq!(report.outstanding, 0);
    assert_eq!(report.checksum, expected_checksum(&req.validate().unwrap()));
}

#[test]
fn unknown_codes_are_invalid_device_requests() {
    let state = device();
    let mut out = vec![0u8; 4096];
    let foreign = [
        0,
        u32::MAX,
        protocol::ctl_code(
            protocol::FILE_DEVICE_KCOM_SAMPLE,
            0x803,
            protocol::METHOD_BUFFERED,
            1,
        ),
        protocol::ctl_code(
            protocol::FILE_DEVICE_KCOM_SAMPLE,
            0x800,
            protocol::METHOD_NEITHER,
            1,
        ),
        protocol::ctl_code(
            protocol::FILE_DEVICE_KCOM_SAMPLE,
            0x800,
            protocol::METHOD_BUFFERED,
            0,
        ),
        protocol::ctl_code(0x22, 0x800, protocol::METHOD_BUFFERED, 1),
    ];
    for code in foreign {
        assert_eq!(
            dispatch(&state, code, &info_request(), &mut out),
            Err(STATUS_INVALID_DEVICE_REQUEST),
            "{code:#x}"
        );
    }
}

#[test]
fn wrong_input_sizes_and_versions_are_refused() {
    let state = device();
    let mut out = vec![0u8; 4096];
    for (code, good) in [
        (IOCTL_KCOM_GET_INFO, info_request()),
        (IOCTL_KCOM_POOL_STATS, stats_request()),
        (
            IOCTL_KCOM_RUN_EXERCISE,
            run_request(&RunRequest::new(StrategyId::Global, 1, 1, 1, 0)),
        ),
    ] {
        // Empty, one short, one long.
        assert_eq!(
            dispatch(&state, code, &[], &mut out),
            Err(STATUS_INFO_LENGTH_MISMATCH)
        );
        assert_eq!(
            dispatch(&state, code, &good[..good.len() - 1], &mut out),
            Err(STATUS_INFO_LENGTH_MISMATCH)
        );
        let mut long = good.clone();
        long.push(0);
        assert_eq!(
            dispatch(&state, code, &long, &mut out),
            Err(STATUS_INFO_LENGTH_MISMATCH)
        );
        // `size` field lies.
        let mut bad = good.clone();
        bad[4..8].copy_from_slice(&(good.len() as u32 + 8).to_le_bytes());
        assert_eq!(
            dispatch(&state, code, &bad, &mut out),
            Err(STATUS_INFO_LENGTH_MISMATCH)
        );
        // Other protocol version.
        let mut bad = good.clone();
        bad[..4].copy_from_slice(&(PROTOCOL_VERSION + 1).to_le_bytes());
        assert_eq!(
            dispatch(&state, code, &bad, &mut out),
            Err(STATUS_REVISION_MISMATCH)
        );
        // And the good one passes.
        assert!(dispatch(&state, code, &good, &mut out).is_ok());
    }
}

#[test]
fn short_output_buffers_are_too_small_and_cause_no_work() {
    let state = device();
    let run_req = run_request(&RunRequest::new(StrategyId::Global, 10, 1, 64, 0));
    for (code, input, size) in [
        (IOCTL_KCOM_GET_INFO, info_request(), InfoResponse::SIZE),
        (
            IOCTL_KCOM_POOL_STATS,
            stats_request(),
            PoolStatsResponse::SIZE,
        ),
        (IOCTL_KCOM_RUN_EXERCISE, run_req.clone(), RunResponse::SIZE),
    ] {
        for len in [0, 1, size - 1] {
            let mut out = vec![0xA5u8; len];
            assert_eq!(
                dispatch(&state, code, &input, &mut out),
                Err(STATUS_BUFFER_TOO_SMALL)
            );
            assert!(out.iter().all(|&b| b == 0xA5), "nothing written on failure");
        }
        // Larger than needed is fine; only the response size is reported.
        let mut out = vec![0u8; size + 100];
        assert_eq!(dispatch(&state, code, &input, &mut out), Ok(size));
    }
    // The refused RUN_EXERCISE calls did not allocate.
    assert_eq!(global_stats(&state).allocations, 10);
}

#[test]
fn out_of_range_values_are_invalid_parameters() {
    let state = device();
    let ok = RunRequest::new(StrategyId::Global, 10, 1, 64, 0);
    let bad = [
        RunRequest {
            strategy: (StrategyId::ALL.len() as u32).into(),
            ..ok
        },
        RunRequest {
            strategy: u32::MAX.into(),
            ..ok
        },
        RunRequest {
            flags: 0x8000_0000.into(),
            ..ok
        },
        RunRequest {
            iterations: 0.into(),
            ..ok
        },
        RunRequest {
            iterations: (MAX_ITERATIONS + 1).into(),
            ..ok
        },
        RunRequest {
            min_size: 0.into(),
            ..ok
        },
        RunRequest {
            min_size: 65.into(),
            max_size: 64.into(),
            ..ok
        },
        RunRequest {
            max_size: (MAX_ALLOC_SIZE + 1).into(),
            ..ok
        },
        RunRequest {
            align: 24.into(),
            ..ok
        },
        RunRequest {
            align: (MAX_ALIGN * 2).into(),
            ..ok
        },
        // Each value within limits, the product over the total cap.
        RunRequest {
            iterations: MAX_ITERATIONS.into(),
            min_size: 1.into(),
            max_size: 1024.into(),
            ..ok
        },
    ];
    for req in bad {
        assert_eq!(run(&state, &req), Err(STATUS_INVALID_PARAMETER), "{req:?}");
    }
    let g = global_stats(&state);
    assert_eq!(
        (g.allocations.get(), g.outstanding_allocations.get()),
        (0, 0)
    );
}

#[test]
fn known_but_unregistered_strategies_are_not_supported() {
    let state = device();
    for s in StrategyId::ALL {
        let req = RunRequest::new(s, 4, 1, 32, 9);
        match state.registry().get(s) {
            Some(_) => assert!(run(&state, &req).is_ok(), "{s:?}"),
            None => assert_eq!(run(&state, &req), Err(STATUS_NOT_SUPPORTED), "{s:?}"),
        }
    }
}

#[test]
fn one_buffer_serves_as_input_and_output() {
    let state = device();
    let req = RunRequest::new(StrategyId::Global, 50, 1, 256, 42);
    // METHOD_BUFFERED: one buffer of max(input, output) bytes with the
    // request at the front; stale bytes after it.
    let mut buf = vec![0xEEu8; RunResponse::SIZE];
    req.encode(&mut buf).unwrap();
    let n = dispatch_in_place(
        &state,
        IOCTL_KCOM_RUN_EXERCISE,
        &mut buf,
        RunRequest::SIZE,
        RunResponse::SIZE,
    )
    .unwrap();
    let in_place = RunResponse::decode(&buf[..n]).unwrap().report;
    let separate = run(&state, &req).unwrap();
    assert_eq!(in_place.checksum, separate.checksum);
    assert_eq!(
        in_place.checksum,
        expected_checksum(&req.validate().unwrap())
    );
    assert_eq!(
        (
            in_place.allocations.get(),
            in_place.frees.get(),
            in_place.outstanding.get()
        ),
        (50, 50, 0)
    );

    // GET_INFO in place: output larger than input.
    let mut buf = vec![0xEEu8; InfoResponse::SIZE];
    InfoRequest::new().encode(&mut buf).unwrap();
    let n = dispatch_in_place(
        &state,
        IOCTL_KCOM_GET_INFO,
        &mut buf,
        InfoRequest::SIZE,
        InfoResponse::SIZE,
    )
    .unwrap();
    let view = InfoResponse::decode(&buf[..n]).unwrap();
    assert!(
        view.unused_slots_are_zero(),
        "no stale request bytes in the reply"
    );
    assert_eq!(
        (view.header, view.strategies().collect::<Vec<_>>()),
        get_info(&state)
    );

    // Lengths beyond the buffer are refused; a short output is too small.
    let mut buf = vec![0u8; 16];
    InfoRequest::new().encode(&mut buf).unwrap();
    assert_eq!(
        dispatch_in_place(&state, IOCTL_KCOM_GET_INFO, &mut buf, 17, 0),
        Err(STATUS_INVALID_PARAMETER)
    );
    assert_eq!(
        dispatch_in_place(&state, IOCTL_KCOM_GET_INFO, &mut buf, 8, 17),
        Err(STATUS_INVALID_PARAMETER)
    );
    assert_eq!(
        dispatch_in_place(&state, IOCTL_KCOM_GET_INFO, &mut buf, 8, 16),
        Err(STATUS_BUFFER_TOO_SMALL)
    );
}

/// Fails allocation number `fail_at` (0-based) of each run and counts the
/// blocks it has handed out and not taken back.
struct FailNth {
    fail_at: u64,
    calls: AtomicU64,
    live: &'static AtomicI64,
}

// SAFETY: forwards to `GlobalAllocator` or returns null.
unsafe impl Allocator for FailNth {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if self.calls.fetch_add(1, Ordering::SeqCst) == self.fail_at {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded contract.
        let p = unsafe { GlobalAllocator.alloc(layout) };
        if !p.is_null() {
            self.live.fetch_add(1, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.live.fetch_sub(1, Ordering::SeqCst);
        // SAFETY: forwarded contract.
        unsafe { GlobalAllocator.dealloc(ptr, layout) }
    }
}

/// A test exercise (not a strategy implementation) that runs the common
/// workload on an allocator failing at a configurable allocation.
struct FaultInjected {
    fail_at: &'static AtomicU64,
    live: &'static AtomicI64,
}

const FAULT_TAG: u32 = protocol::pool_tag(*b"tFlt");

impl Exercise for FaultInjected {
    fn info(&self) -> ExerciseInfo {
        ExerciseInfo {
            strategy: StrategyId::WdkNonPaged,
            flags: 0,
            pool_type: pool_type::HOST,
            tag: FAULT_TAG,
            description: "test: fail the Nth allocation",
        }
    }

    fn run(&self, params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
        let alloc = FailNth {
            fail_at: self.fail_at.load(Ordering::SeqCst),
            calls: AtomicU64::new(0),
            live: self.live,
        };
        run_tracked(params.strategy, alloc, params, env.clock, env.counters())
    }
}

#[test]
fn fault_injection_sweep_frees_everything_on_every_failure() {
    static FAIL_AT: AtomicU64 = AtomicU64::new(0);
    static LIVE: AtomicI64 = AtomicI64::new(0);
    let mut state = device();
    // Stands in for the built-in `wdk-nonpaged` object.
    assert!(state.registry_mut().unregister(StrategyId::WdkNonPaged));
    state
        .register(FaultInjected {
            fail_at: &FAIL_AT,
            live: &LIVE,
        })
        .unwrap();
    let iterations = scaled(80, 10);
    let req = RunRequest::new(StrategyId::WdkNonPaged, iterations, 1, 512, 3);
    for fail_at in 0..u64::from(iterations) {
        FAIL_AT.store(fail_at, Ordering::SeqCst);
        assert_eq!(
            run(&state, &req),
            Err(STATUS_INSUFFICIENT_RESOURCES),
            "fail_at {fail_at}"
        );
        assert_eq!(LIVE.load(Ordering::SeqCst), 0, "fail_at {fail_at}");
        let e = *pool_stats(&state).find(pool_type::HOST, FAULT_TAG).unwrap();
        assert_eq!(e.outstanding_allocations, 0);
        assert_eq!(e.outstanding_bytes, 0);
        assert_eq!(e.allocations, e.frees);
    }
    // Past the last allocation nothing fails.
    FAIL_AT.store(u64::from(iterations), Ordering::SeqCst);
    let report = run(&state, &req).unwrap();
    assert_eq!(report.checksum, expected_checksum(&req.validate().unwrap()));
    assert_eq!(LIVE.load(Ordering::SeqCst), 0);
}

#[test]
fn four_threads_dispatch_concurrently() {
    let state = device();
    let per_thread = u64::from(scaled(25, 2));
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let state = &state;
            s.spawn(move || {
                for i in 0..per_thread {
                    let req =
                        RunRequest::new(StrategyId::Global, 40, 1, scaled(2048, 64), t * 1000 + i);
                    // Alternate between separate buffers and one shared buffer.
                    let report = if i % 2 == 0 {
                        run(state, &req).unwrap()
                    } else {
                        let mut buf = vec![0u8; RunResponse::SIZE];
                        req.encode(&mut buf).unwrap();
                        let n = dispatch_in_place(
                            state,
                            IOCTL_KCOM_RUN_EXERCISE,
                            &mut buf,
                            RunRequest::SIZE,
                            RunResponse::SIZE,
                        )
                        .unwrap();
                        RunResponse::decode(&buf[..n]).unwrap().report
                    };
                    assert_eq!(report.checksum, expected_checksum(&req.validate().unwrap()));
                    assert_eq!(report.outstanding, 0);
                    assert_eq!(get_info(state).1.len(), state.registry().len());
                    let _ = pool_stats(state);
                }
            });
        }
    });
    let g = global_stats(&state);
    assert_eq!(g.allocations, 4 * per_thread * 40);
    assert_eq!(g.frees, g.allocations);
    assert_eq!(g.outstanding_allocations, 0);
    assert_eq!(g.outstanding_bytes, 0);
    assert_eq!(state.outstanding_allocations(), 0);
}

#[test]
fn teardown_releases_every_exercise_object() {
    static LIVE: AtomicI64 = AtomicI64::new(0);
    struct Counting;
    // SAFETY: forwards to `GlobalAllocator`.
    unsafe impl Allocator for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            LIVE.fetch_add(1, Ordering::SeqCst);
            // SAFETY: forwarded contract.
            unsafe { GlobalAllocator.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            LIVE.fetch_sub(1, Ordering::SeqCst);
            // SAFETY: forwarded contract.
            unsafe { GlobalAllocator.dealloc(ptr, layout) }
        }
    }
    static FAIL_AT: AtomicU64 = AtomicU64::new(u64::MAX);
    static BLOCKS: AtomicI64 = AtomicI64::new(0);
    {
        let mut state = DeviceState::empty(CONFIG);
        state
            .register_in(
                FaultInjected {
                    fail_at: &FAIL_AT,
                    live: &BLOCKS,
                },
                Counting,
            )
            .unwrap();
        assert_eq!(LIVE.load(Ordering::SeqCst), 1);
        run(
            &state,
            &RunRequest::new(StrategyId::WdkNonPaged, 10, 1, 8, 0),
        )
        .unwrap();
        assert_eq!(BLOCKS.load(Ordering::SeqCst), 0);
    }
    assert_eq!(LIVE.load(Ordering::SeqCst), 0);
}

/// The statuses named in the second column of the Markdown table whose
/// header row starts with `| condition`, in order (`prefix` is what each
/// line starts with before the table: `//! ` in a Rust module's docs).
fn documented_statuses(text: &str, prefix: &str) -> Vec<String> {
    let rows: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .skip_while(|l| !l.starts_with("| condition"))
        .skip(2) // the header and its separator
        .take_while(|l| l.starts_with('|'))
        .collect();
    rows.iter()
        .map(|row| {
            let status = row.split('|').nth(2).expect("a second column").trim();
            status.trim_matches('`').to_owned()
        })
        .collect()
}

#[test]
fn the_protocol_docs_status_table_lists_exactly_the_protocol_statuses() {
    let statuses: Vec<String> = protocol::STATUSES
        .iter()
        .map(|&s| kcom::status_name(s).expect("a named status").to_owned())
        .collect();
    assert_eq!(statuses.len(), 10);
    let module = include_str!("../../driver/core/src/protocol/mod.rs");
    assert_eq!(
        documented_statuses(module, "//! "),
        statuses,
        "the protocol module's docs"
    );
}
