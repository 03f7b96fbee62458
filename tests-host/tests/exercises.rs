//! Every exercise of the sample driver, through the dispatcher, against
//! kcom's simulated kernel pool: what each reports, that nothing stays
//! allocated after a request or after teardown, and that allocation failure
//! at any point is an error status with everything freed (the way Driver
//! Verifier's pool tracking and low-resources simulation would check it).
//!
//! The simulated pool's counters and fault plans are per process, so this
//! file holds a single test that runs its parts in order.

use std::sync::OnceLock;
use std::time::Instant;

use kcom::alloc::PoolType;
use kcom::alloc::sim;
use kcom::{NTSTATUS, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_DEVICE_STATE, status_name};
use kcom_sample_core::interfaces::IAsyncRunnerInterface;
use kcom_sample_core::protocol::{
    IOCTL_KCOM_POOL_STATS, IOCTL_KCOM_RUN_EXERCISE, PoolStatsRequest, PoolStatsResponse,
    RunRequest, RunResponse,
};
use kcom_sample_core::{
    DeviceConfig, DeviceState, ExerciseReport, StrategyId, dispatch, expected_checksum,
    expected_record_checksum, tags,
};

fn config() -> DeviceConfig {
    DeviceConfig {
        defer: Some(tests_host::THREAD_DEFER),
        ..DeviceConfig::new(host_clock)
    }
}

fn host_clock() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

const fn scaled(full: u32, miri: u32) -> u32 {
    if cfg!(miri) { miri } else { full }
}

fn run(state: &DeviceState, req: &RunRequest) -> Result<ExerciseReport, NTSTATUS> {
    let mut input = [0u8; RunRequest::SIZE];
    req.encode(&mut input).unwrap();
    let mut out = [0u8; RunResponse::SIZE];
    let n = dispatch(state, IOCTL_KCOM_RUN_EXERCISE, &input, &mut out)?;
    Ok(RunResponse::decode(&out[..n]).unwrap().report)
}

fn pool_stats(state: &DeviceState) -> PoolStatsResponse {
    let mut input = [0u8; PoolStatsRequest::SIZE];
    PoolStatsRequest::new().encode(&mut input).unwrap();
    let mut out = vec![0u8; PoolStatsResponse::SIZE];
    let n = dispatch(state, IOCTL_KCOM_POOL_STATS, &input, &mut out).unwrap();
    PoolStatsResponse::decode(&out[..n]).unwrap()
}

/// Pool type of `strategy`'s own allocations in the simulated pool.
fn pool_of(strategy: StrategyId) -> PoolType {
    if strategy == StrategyId::WdkPaged {
        PoolType::Paged
    } else {
        PoolType::NonPagedNx
    }
}

fn sim_outstanding(strategy: StrategyId) -> u64 {
    sim::stats(pool_of(strategy), tags::for_strategy(strategy)).outstanding_allocations
}

const RECORDS: [StrategyId; 3] = [StrategyId::KBox, StrategyId::InitBox, StrategyId::ComObject];

fn check_report(req: &RunRequest, r: &ExerciseReport) {
    let s = StrategyId::from_u32(req.strategy.get()).unwrap();
    let params = req.validate().unwrap();
    assert_eq!(r.strategy, req.strategy, "{s:?}");
    assert_eq!(r.ntstatus, 0, "{s:?}");
    assert_eq!(r.outstanding, 0, "{s:?}: outstanding after the run");
    assert_eq!(r.allocations, r.frees, "{s:?}: every block freed");
    let iterations = u64::from(req.iterations);
    if s == StrategyId::InitBox {
        // One extra, failing initialiser every 8th iteration.
        assert_eq!(r.allocations, iterations + iterations / 8, "{s:?}");
    } else if s == StrategyId::AsyncCom {
        // A block and the job that hands it to the worker.
        assert_eq!(r.allocations, 2 * iterations, "{s:?}");
    } else {
        assert_eq!(r.allocations, iterations, "{s:?}");
    }
    let expected = if RECORDS.contains(&s) {
        expected_record_checksum(&params)
    } else {
        expected_checksum(&params)
    };
    assert_eq!(r.checksum, expected, "{s:?}: checksum of the verified data");
    assert!(r.peak_bytes > 0 && r.bytes >= r.peak_bytes, "{s:?}");
}

#[test]
fn exercises_end_to_end() {
    let device_before = sim::stats(PoolType::NonPagedNx, tags::DEVICE).outstanding_allocations;
    let state = DeviceState::new(config()).expect("device");
    assert!(
        state.registry().strategies().eq(StrategyId::ALL),
        "the device registers every strategy, in wire order"
    );
    assert_eq!(
        sim::stats(PoolType::NonPagedNx, tags::DEVICE).outstanding_allocations,
        device_before + StrategyId::ALL.len() as u64,
        "one COM object per strategy, in the device's pool tag"
    );

    // 1. Every strategy, a few shapes of request: verified, all freed.
    // (iterations, min size, max size, align); smaller under Miri, where
    // every byte written and verified is interpreted.
    let shapes = if cfg!(miri) {
        [
            (10, 1, 64, 0),
            (6, 1, 300, 16),
            (3, 1000, 1200, 8),
            (6, 24, 24, 128),
        ]
    } else {
        [
            (200, 1, 64, 0),
            (100, 1, 4096, 16),
            (20, 60_000, 70_000, 8),
            (64, 24, 24, 128),
        ]
    };
    for s in StrategyId::ALL {
        for (i, &(iterations, min, max, align)) in shapes.iter().enumerate() {
            let req = RunRequest::new(s, iterations, min, max, 0x5EED + i as u64).with_align(align);
            let r = run(&state, &req).unwrap_or_else(|e| {
                panic!("{s:?} {req:?}: {} ({e:#x})", status_name(e).unwrap_or("?"))
            });
            check_report(&req, &r);
            if s != StrategyId::Global {
                assert_eq!(
                    sim_outstanding(s),
                    0,
                    "{s:?}: pool blocks left after the run"
                );
            }
        }
    }
    // async-com: the registered object has the async method (found by
    // QueryInterface, as the dispatcher finds it), and its synchronous
    // IAllocatorExercise::run blocks on the same future with the same result.
    let object = state.registry().get(StrategyId::AsyncCom).unwrap();
    assert!(object.query_interface::<IAsyncRunnerInterface>().is_ok());
    let req = RunRequest::new(StrategyId::AsyncCom, scaled(40, 5), 1, 2048, 9);
    let via_dispatch = run(&state, &req).unwrap();
    let via_sync = object.run(req).unwrap();
    assert_eq!(via_dispatch.checksum, via_sync.checksum);
    check_report(&req, &via_sync);
    drop(object);

    // POOL_STATS: one entry per object, nothing outstanding, peaks seen.
    let stats = pool_stats(&state);
    assert_eq!(stats.entry_count.get() as usize, StrategyId::ALL.len());
    for e in &stats.entries[..StrategyId::ALL.len()] {
        assert_eq!(e.outstanding_allocations, 0);
        assert_eq!(e.outstanding_bytes, 0);
        assert_eq!(e.allocations, e.frees);
        assert!(e.peak_bytes > 0);
    }
    assert_eq!(state.outstanding_allocations(), 0);

    // 2. Fault injection: fail allocation #1, #2, … of each exercise until
    // it succeeds. Each run is either an error status or a full success,
    // and leaves nothing allocated.
    for s in StrategyId::ALL {
        if s == StrategyId::Global {
            continue; // the host heap, not the simulated pool
        }
        let tag = tags::for_strategy(s);
        let req = RunRequest::new(s, scaled(24, 9), 1, scaled(512, 64), 77);
        let mut failures = 0;
        for n in 1..=200u64 {
            sim::fail_nth(tag, None, n);
            let result = run(&state, &req);
            sim::clear_faults(tag);
            assert_eq!(
                sim_outstanding(s),
                0,
                "{s:?}: leak after failing allocation #{n}"
            );
            match result {
                Ok(r) => {
                    check_report(&req, &r);
                    break;
                }
                Err(e) => {
                    assert_eq!(e, STATUS_INSUFFICIENT_RESOURCES, "{s:?} #{n}");
                    failures += 1;
                }
            }
            assert!(n < 200, "{s:?} never succeeded");
        }
        assert!(
            failures >= 1,
            "{s:?}: the first allocation's failure was not reported"
        );
    }
    assert_eq!(state.outstanding_allocations(), 0);

    // 3. Paged pool only at PASSIVE_LEVEL.
    let mut at_dispatch = config();
    at_dispatch.is_passive = || false;
    let dispatch_level = DeviceState::new(at_dispatch).unwrap();
    let paged = RunRequest::new(StrategyId::WdkPaged, 4, 1, 64, 1);
    assert_eq!(
        run(&dispatch_level, &paged),
        Err(STATUS_INVALID_DEVICE_STATE)
    );
    assert!(run(&state, &paged).is_ok());
    drop(dispatch_level);

    // 4. Device creation fails cleanly when its objects cannot be allocated.
    for n in 1..=StrategyId::ALL.len() as u64 {
        sim::fail_nth(tags::DEVICE, None, n);
        let r = DeviceState::new(config());
        sim::clear_faults(tags::DEVICE);
        assert_eq!(r.err(), Some(STATUS_INSUFFICIENT_RESOURCES), "object #{n}");
        assert_eq!(
            sim::stats(PoolType::NonPagedNx, tags::DEVICE).outstanding_allocations,
            device_before + StrategyId::ALL.len() as u64,
            "objects made before the failure were released"
        );
    }

    // 5. Teardown releases every object.
    drop(state);
    assert_eq!(
        sim::stats(PoolType::NonPagedNx, tags::DEVICE).outstanding_allocations,
        device_before
    );
}
