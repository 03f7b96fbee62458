//! The driver image itself (`kcom_sample.sys`, built on Linux by
//! `bash ci/driver-image.sh`) under kmdf-host: DriverEntry, AddDevice,
//! every exercise through `EvtIoDeviceControl` in the image's machine code,
//! low-resources sweeps over every pool allocation, concurrent requests,
//! both framework versions, a relocated image, two devices, a device power
//! transition, removal and unload with nothing left in the pool.
//!
//! The image comes from a script, not from cargo: set `KCOM_SAMPLE_IMAGE` to
//! its path. A plain `cargo test` lists these tests as ignored (with the
//! reason); `ci/kmdf-host.sh` builds the image and runs them with
//! `--include-ignored`, and without a usable image every one of them fails.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kcom_sample_core::expected_strategy_checksum;
use kcom_sample_core::protocol::{
    ExerciseReport, FILE_DEVICE_KCOM_SAMPLE, GUID_DEVINTERFACE_KCOM_SAMPLE, IOCTL_KCOM_GET_INFO,
    IOCTL_KCOM_POOL_STATS, IOCTL_KCOM_RUN_EXERCISE, InfoRequest, InfoResponse, PoolStatsRequest,
    PoolStatsResponse, RunRequest, RunResponse, StrategyId,
};
use kmdf_host::{
    Device, DevicePower, Error, FaultInjection, FrameworkVersion, Host, NtStatus, Options, Report,
    TagFilter,
};

const STATUS_SUCCESS: NtStatus = 0;
const STATUS_INSUFFICIENT_RESOURCES: NtStatus = 0xC000_009A_u32 as NtStatus;
/// `WDF_IO_QUEUE_DISPATCH_TYPE::WdfIoQueueDispatchParallel`.
const DISPATCH_PARALLEL: i32 = 2;
/// `WDF_DEVICE_IO_TYPE::WdfDeviceIoBuffered`.
const DEVICE_IO_BUFFERED: i32 = 2;
/// `FILE_DEVICE_SECURE_OPEN` (wdm.h).
const FILE_DEVICE_SECURE_OPEN: u32 = 0x100;

/// The image under test, from `KCOM_SAMPLE_IMAGE`. Panics (the test fails)
/// when it is not set or names no file.
fn image() -> PathBuf {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let path = std::env::var_os("KCOM_SAMPLE_IMAGE").map(PathBuf::from).expect(
                "KCOM_SAMPLE_IMAGE must name the driver image: \
                 KCOM_SAMPLE_IMAGE=$(bash ci/driver-image.sh | tail -1), or run bash ci/kmdf-host.sh",
            );
            assert!(
                path.is_file(),
                "KCOM_SAMPLE_IMAGE={} is not a file (bash ci/driver-image.sh builds it)",
                path.display()
            );
            path
        })
        .clone()
}

/// The minimum KMDF minor version the driver declares
/// (`minimum-kmdf-version-minor` in driver/Cargo.toml's wdk metadata, else
/// its `target-kmdf-version-minor`): what the image must bind with.
fn declared_minimum_minor() -> u32 {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../driver/Cargo.toml");
    let text = std::fs::read_to_string(manifest).expect("driver/Cargo.toml");
    let value = |key: &str| {
        text.lines().find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| v.trim().parse::<u32>().expect("a number"))
        })
    };
    value("minimum-kmdf-version-minor")
        .or_else(|| value("target-kmdf-version-minor"))
        .expect("driver/Cargo.toml names its KMDF version")
}

/// Loads the image (only [`load`] does).
fn load(options: Options) -> Result<Host, Error> {
    // SAFETY: the project's own driver image, built from this repository
    // by ci/driver-image.sh: it keeps the contracts of the routines it
    // calls (what it breaks of the rules the host checks is reported).
    unsafe { Host::load(image(), options) }
}

/// Loads the image and runs DriverEntry; panics with the report on failure.
fn entered(options: Options) -> Host {
    let mut host = load(options).expect("the image loads");
    if let Err(e) = host.driver_entry() {
        panic!("DriverEntry: {e}\n{}", host.unload());
    }
    host
}

/// Loads the image, runs DriverEntry and adds one device.
fn started(options: Options) -> (Host, Device) {
    let host = entered(options);
    match host.add_device() {
        Ok(device) => (host, device),
        Err(e) => panic!("AddDevice: {e}\n{}", host.unload()),
    }
}

/// Unloads and checks that nothing was broken or left in the pool.
fn unload_clean(host: Host) -> Report {
    let report = host.unload();
    assert!(report.is_clean(), "the run was not clean:\n{report}");
    assert!(report.outstanding.is_empty());
    report
}

/// `GET_INFO`: the strategies the device offers.
fn offered(host: &Host, device: Device) -> Vec<StrategyId> {
    let mut input = [0u8; InfoRequest::SIZE];
    InfoRequest::new().encode(&mut input).unwrap();
    let c = host
        .device_io_control(device, IOCTL_KCOM_GET_INFO, &input, InfoResponse::SIZE)
        .expect("GET_INFO completes");
    assert_eq!(c.status, STATUS_SUCCESS, "GET_INFO status");
    assert_eq!(c.information, InfoResponse::SIZE);
    let view = InfoResponse::decode(&c.output).expect("a valid GET_INFO reply");
    view.strategies()
        .map(|s| s.strategy().expect("a known strategy"))
        .collect()
}

/// `RUN_EXERCISE`: the report, or the status the request failed with.
fn run(host: &Host, device: Device, request: &RunRequest) -> Result<ExerciseReport, NtStatus> {
    let mut input = [0u8; RunRequest::SIZE];
    request.encode(&mut input).unwrap();
    let c = host
        .device_io_control(device, IOCTL_KCOM_RUN_EXERCISE, &input, RunResponse::SIZE)
        .expect("RUN_EXERCISE completes");
    if c.status != STATUS_SUCCESS {
        assert_eq!(c.information, 0, "a failed request carries no data");
        return Err(c.status);
    }
    assert_eq!(c.information, RunResponse::SIZE);
    Ok(RunResponse::decode(&c.output)
        .expect("a valid RUN_EXERCISE reply")
        .report)
}

/// Checks a successful run against what the request asked for.
fn check(request: &RunRequest, report: &ExerciseReport) {
    let params = request.validate().expect("a valid request");
    assert_eq!(report.strategy, request.strategy);
    assert_eq!(report.ntstatus, STATUS_SUCCESS);
    assert_eq!(report.outstanding, 0, "{:?} left blocks", params.strategy);
    assert_eq!(
        report.checksum,
        expected_strategy_checksum(&params),
        "{:?}: the patterns read back differ from the model",
        params.strategy
    );
}

/// `POOL_STATS`: the driver's own ledger; every exercise entry must show
/// nothing outstanding.
fn assert_ledger_empty(host: &Host, device: Device) {
    let mut input = [0u8; PoolStatsRequest::SIZE];
    PoolStatsRequest::new().encode(&mut input).unwrap();
    let c = host
        .device_io_control(
            device,
            IOCTL_KCOM_POOL_STATS,
            &input,
            PoolStatsResponse::SIZE,
        )
        .expect("POOL_STATS completes");
    assert_eq!(c.status, STATUS_SUCCESS);
    let stats = PoolStatsResponse::decode(&c.output).expect("a valid POOL_STATS reply");
    for e in stats.entries() {
        assert_eq!(e.outstanding_allocations, 0, "{e:?}");
        assert_eq!(e.allocations, e.frees, "{e:?}");
    }
}

/// Waits (up to 10 s) until the pool holds `blocks` blocks of the driver
/// and its objects: an `async-com` work item is deleted by its own
/// callback, just after the request it served was completed.
fn settle(host: &Host, blocks: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = host.outstanding_blocks();
        if now == blocks || Instant::now() >= deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Small runs: every allocation site of an exercise, few allocations.
fn small(strategy: StrategyId, seed: u64) -> RunRequest {
    RunRequest::new(strategy, 16, 1, 512, seed)
}

/// Runs every offered strategy once with `request(strategy)`, then checks
/// the driver's ledger.
fn run_all(host: &Host, device: Device, request: impl Fn(StrategyId) -> RunRequest) {
    run_each(host, device, request);
    assert_ledger_empty(host, device);
}

/// Runs every offered strategy once with `request(strategy)`.
fn run_each(host: &Host, device: Device, request: impl Fn(StrategyId) -> RunRequest) {
    let strategies = offered(host, device);
    assert_eq!(
        strategies,
        StrategyId::ALL,
        "the device offers every strategy"
    );
    for s in strategies {
        let req = request(s);
        match run(host, device, &req) {
            Ok(report) => check(&req, &report),
            Err(status) => panic!("{s:?} failed with 0x{:08X}", status as u32),
        }
    }
}

/// The GUID as kmdf-host prints interface classes.
fn interface_guid() -> String {
    let g = GUID_DEVINTERFACE_KCOM_SAMPLE;
    format!(
        "{{{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}}}",
        g.data1,
        g.data2,
        g.data3,
        g.data4[0],
        g.data4[1],
        g.data4[2],
        g.data4[3],
        g.data4[4],
        g.data4[5],
        g.data4[6],
        g.data4[7]
    )
}

// ---------------------------------------------------------------------------
// The device starts and serves every exercise
// ---------------------------------------------------------------------------

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn the_device_starts_and_runs_every_strategy_with_nothing_left() {
    let host = entered(Options::default());
    let driver_only = host.outstanding_blocks();
    let device = host.add_device().expect("AddDevice succeeds");
    // AddDevice succeeds (no SDDL refused on the unnamed
    // FDO), the interface is registered, and the default queue is parallel
    // and (item 7) not power-managed.
    assert_eq!(host.interfaces(device), vec![interface_guid()]);
    let settings = host.device_settings(device).unwrap();
    assert_eq!(settings.sddl, None, "the access rules come from the INF");
    assert_eq!(settings.name, None, "the FDO is unnamed");
    assert_eq!(settings.device_type, FILE_DEVICE_KCOM_SAMPLE);
    assert_ne!(settings.characteristics & FILE_DEVICE_SECURE_OPEN, 0);
    assert_eq!(settings.io_type, DEVICE_IO_BUFFERED);
    let queues = host.queues(device).unwrap();
    assert_eq!(queues.len(), 1, "{queues:?}");
    assert!(queues[0].default && !queues[0].power_managed, "{queues:?}");
    assert_eq!(queues[0].dispatch_type, DISPATCH_PARALLEL);
    let baseline = host.outstanding_blocks();
    assert!(baseline > 0, "the device's state lives in the pool");

    // kcomctl's defaults: 10000 blocks of 16..=4096 bytes.
    run_all(&host, device, |s| RunRequest::new(s, 10_000, 16, 4096, 1));
    assert_eq!(settle(&host, baseline), baseline, "{}", host.report_now());
    // Every exercise's memory came from the pool under its own tag.
    let report = host.report_now();
    for s in StrategyId::ALL {
        let tag = kcom_sample_core::tags::for_strategy(s);
        if s == StrategyId::Global {
            continue; // the driver's global allocator tags its memory 'kcom'
        }
        let stats = report.tags.iter().find(|t| t.tag == tag);
        let stats = stats.unwrap_or_else(|| panic!("no pool use under {s:?}'s tag"));
        assert!(stats.allocations > 0 && stats.outstanding == 0, "{stats:?}");
    }
    // KMDF's own objects (requests, work items) carry the driver's pool tag
    // from WDF_DRIVER_CONFIG, not the service-name tag 'kcom' that the
    // driver's global allocator uses.
    let framework = report
        .tags
        .iter()
        .find(|t| t.tag == u32::from_le_bytes(*b"KcFx"));
    let framework =
        framework.unwrap_or_else(|| panic!("no framework pool use under 'KcFx'\n{report}"));
    assert!(framework.allocations >= 12, "{framework:?}");

    host.remove_device(device).expect("removal");
    assert_eq!(
        host.outstanding_blocks(),
        driver_only,
        "the removal freed everything the device had\n{}",
        host.report_now()
    );
    let report = unload_clean(host);
    assert!(report.allocations > 100_000, "{report}");
}

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn without_ex_allocate_pool2_the_fallback_serves_every_strategy() {
    let (host, device) = started(Options {
        hide_ex_allocate_pool2: true,
        ..Options::default()
    });
    run_all(&host, device, |s| RunRequest::new(s, 500, 1, 4096, 3));
    unload_clean(host);
}

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn the_passive_execution_level_keeps_every_request_at_passive_level() {
    // The device asks for WdfExecutionLevelPassive, so even a host that
    // presents requests at DISPATCH_LEVEL wherever KMDF may must present
    // this driver's at PASSIVE_LEVEL: wdk-paged (paged pool) and async-com
    // (a wait) would fail or break a rule otherwise.
    let (host, device) = started(Options {
        dispatch_level_callbacks: true,
        ..Options::default()
    });
    run_all(&host, device, |s| RunRequest::new(s, 200, 1, 4096, 4));
    unload_clean(host);
}

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn special_pool_finds_no_overrun_in_any_exercise() {
    let (host, device) = started(Options {
        special_pool: true,
        ..Options::default()
    });
    run_all(&host, device, |s| RunRequest::new(s, 64, 1, 4096, 5));
    run_all(&host, device, |s| small(s, 6));
    unload_clean(host);
}

// ---------------------------------------------------------------------------
// Framework versions and the image's placement
// ---------------------------------------------------------------------------

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn the_image_binds_to_framework_1_33_and_1_31_as_its_minimum_allows() {
    let minimum = declared_minimum_minor();
    let (host, device) = started(Options::default());
    let bind = host.bind_summary().expect("bound");
    assert_eq!(bind.framework, FrameworkVersion::V1_33);
    assert_eq!(bind.client_minor, 33);
    assert_eq!(
        bind.minimum_minor.unwrap_or(bind.client_minor),
        minimum,
        "the image binds with the minimum driver/Cargo.toml declares"
    );
    assert!(!bind.client_newer);
    run_all(&host, device, |s| small(s, 7));
    unload_clean(host);

    // KMDF 1.31 (Windows 10 2004): a client built for 1.33 binds only if
    // its minimum allows 1.31; it is then newer than its framework and
    // gets the framework's structure sizes.
    let mut host = load(Options {
        framework: FrameworkVersion::V1_31,
        ..Options::default()
    })
    .expect("the image loads");
    let entry = host.driver_entry();
    if minimum <= 31 {
        entry.expect("DriverEntry binds to KMDF 1.31");
        let bind = host.bind_summary().expect("bound");
        assert!(bind.client_newer, "{bind:?}");
        let device = host.add_device().expect("the device starts on KMDF 1.31");
        run_all(&host, device, |s| small(s, 8));
        unload_clean(host);
    } else {
        let Err(Error::DriverEntryFailed(_)) = entry else {
            panic!("a client requiring KMDF 1.{minimum} bound to KMDF 1.31: {entry:?}");
        };
        let report = host.unload();
        assert!(report.outstanding.is_empty(), "{report}");
        assert!(
            report.violations.iter().any(|v| v
                .message
                .contains(&format!("the client needs KMDF 1.{minimum}"))),
            "the refusal names the version:\n{report}"
        );
    }
}

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn the_image_does_not_load_before_windows_10_2004() {
    // Wdk-alloc imports ExAllocatePool2, which ntoskrnl
    // exports from build 19041 on.
    let before = load(Options {
        kernel_build: 18362,
        ..Options::default()
    });
    let Err(Error::UnresolvedImports(imports)) = before else {
        panic!("the image loaded on build 18362: {before:?}");
    };
    assert_eq!(imports, vec!["ntoskrnl.exe!ExAllocatePool2".to_owned()]);
    let (host, device) = started(Options {
        kernel_build: 19041,
        ..Options::default()
    });
    assert_eq!(offered(&host, device), StrategyId::ALL);
    unload_clean(host);
}

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn the_image_relocated_away_from_its_preferred_base_runs_clean() {
    let (host, device) = started(Options {
        relocate: true,
        ..Options::default()
    });
    let layout = host.image_layout();
    assert_ne!(layout.base, layout.preferred_base, "{layout:?}");
    assert!(layout.relocations > 0, "{layout:?}");
    run_all(&host, device, |s| RunRequest::new(s, 200, 1, 4096, 9));
    unload_clean(host);
}

// ---------------------------------------------------------------------------
// Low-resources sweeps: every pool allocation fails once
// ---------------------------------------------------------------------------

/// Fails each allocation of DriverEntry and AddDevice in turn, each in a
/// fresh session: the driver fails cleanly (or, where it may, carries on)
/// and leaves nothing in the pool at unload.
fn sweep_start(hide_ex_allocate_pool2: bool) {
    let options = Options {
        hide_ex_allocate_pool2,
        ..Options::default()
    };
    let (host, _) = started(options.clone());
    let total = host.pool_allocations();
    unload_clean(host);
    assert!(total > 2, "DriverEntry and AddDevice allocate");
    let mut failed = 0;
    for n in 1..=total {
        let mut host = load(Options {
            faults: vec![FaultInjection::Nth {
                filter: TagFilter::Any,
                n,
            }],
            ..options.clone()
        })
        .expect("the image loads");
        let result = host.driver_entry().and_then(|()| host.add_device());
        match result {
            Ok(device) => {
                // The failure was absorbed: the device must work.
                assert_eq!(offered(&host, device), StrategyId::ALL, "allocation #{n}");
            }
            Err(Error::DriverEntryFailed(s) | Error::AddDeviceFailed(s)) => {
                assert_eq!(s, STATUS_INSUFFICIENT_RESOURCES, "allocation #{n}");
                failed += 1;
            }
            Err(e) => panic!("allocation #{n}: {e}\n{}", host.unload()),
        }
        let report = host.unload();
        assert_eq!(report.injected_failures, 1, "allocation #{n}\n{report}");
        assert!(report.is_clean(), "allocation #{n}:\n{report}");
    }
    assert!(
        failed > 0,
        "no failure of DriverEntry or AddDevice was reported"
    );
}

/// Fails each allocation made while one small run of each exercise is in
/// progress (the driver's own, and the framework's for the request and
/// work items), one per request: each ends with a failure status or a
/// correct report, with the pool back where it was, and the device keeps
/// working; at unload nothing is left.
fn sweep_exercises(hide_ex_allocate_pool2: bool) {
    let (host, device) = started(Options {
        hide_ex_allocate_pool2,
        ..Options::default()
    });
    let baseline = host.outstanding_blocks();
    for s in StrategyId::ALL {
        let req = small(s, 11);
        let before = host.pool_allocations();
        check(&req, &run(&host, device, &req).expect("an uninjected run"));
        assert_eq!(settle(&host, baseline), baseline);
        let count = host.pool_allocations() - before;
        let mut failures = 0;
        for n in 1..=count {
            host.inject(FaultInjection::Nth {
                filter: TagFilter::Any,
                n,
            });
            let result = run(&host, device, &req);
            host.clear_injection();
            match result {
                Ok(report) => check(&req, &report),
                Err(status) => {
                    assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES, "{s:?} #{n}");
                    failures += 1;
                }
            }
            assert_eq!(
                settle(&host, baseline),
                baseline,
                "{s:?}: blocks left after failing allocation #{n} of {count}\n{}",
                host.report_now()
            );
        }
        assert!(failures > 0, "{s:?}: no injected failure was reported");
        check(
            &req,
            &run(&host, device, &req).expect("the device still works"),
        );
    }
    assert_ledger_empty(&host, device);
    let report = unload_clean(host);
    assert!(report.injected_failures > 0);
    assert!(report.violations.is_empty());
}

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn every_allocation_of_driver_entry_and_add_device_may_fail() {
    sweep_start(false);
}

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn every_allocation_of_driver_entry_and_add_device_may_fail_without_ex_allocate_pool2() {
    sweep_start(true);
}

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn every_allocation_of_every_exercise_may_fail() {
    sweep_exercises(false);
}

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn every_allocation_of_every_exercise_may_fail_without_ex_allocate_pool2() {
    sweep_exercises(true);
}

// ---------------------------------------------------------------------------
// Concurrency, devices, power
// ---------------------------------------------------------------------------

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn eight_threads_of_concurrent_ioctls() {
    let (host, device) = started(Options::default());
    let baseline = host.outstanding_blocks();
    std::thread::scope(|scope| {
        for t in 0..8u64 {
            let host = &host;
            scope.spawn(move || {
                for round in 0..3 {
                    for (i, s) in StrategyId::ALL
                        .iter()
                        .cycle()
                        .skip(t as usize)
                        .take(12)
                        .enumerate()
                    {
                        let req =
                            RunRequest::new(*s, 300, 1, 2048, t * 100 + round * 12 + i as u64);
                        match run(host, device, &req) {
                            Ok(report) => check(&req, &report),
                            Err(status) => {
                                panic!("thread {t}: {s:?} failed with 0x{:08X}", status as u32)
                            }
                        }
                    }
                    assert_eq!(offered(host, device).len(), StrategyId::ALL.len());
                }
            });
        }
    });
    assert_eq!(settle(&host, baseline), baseline);
    assert_ledger_empty(&host, device);
    unload_clean(host);
}

/// `async-com` on `device` (its work items are children of that device).
fn async_com_works(host: &Host, device: Device) {
    for seed in 0..3 {
        let req = RunRequest::new(StrategyId::AsyncCom, 40, 1, 1024, seed);
        match run(host, device, &req) {
            Ok(report) => check(&req, &report),
            Err(status) => panic!(
                "async-com on device {} failed with 0x{:08X}",
                device.index, status as u32
            ),
        }
    }
}

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn two_devices_each_keep_async_com_when_the_other_is_removed() {
    // Each device parents its own work items.
    let host = entered(Options::default());
    let driver_only = host.outstanding_blocks();
    let first = host.add_device().expect("first device");
    let one_device = host.outstanding_blocks();
    let second = host.add_device().expect("second device");
    async_com_works(&host, first);
    async_com_works(&host, second);
    // Removing the device added last must not break the first one.
    host.remove_device(second)
        .expect("removal of the second device");
    assert_eq!(settle(&host, one_device), one_device);
    async_com_works(&host, first);
    assert_eq!(host.devices(), vec![first]);
    // And the other way round.
    let third = host.add_device().expect("third device");
    async_com_works(&host, third);
    host.remove_device(first)
        .expect("removal of the first device");
    async_com_works(&host, third);
    host.remove_device(third)
        .expect("removal of the third device");
    assert_eq!(host.outstanding_blocks(), driver_only);
    unload_clean(host);
}

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn requests_keep_being_served_across_a_device_power_transition() {
    // The default queue is not power-managed, so a
    // request in progress does not hold up D3 and new requests are served
    // while the device is in D3.
    let (host, device) = started(Options::default());
    // A request that runs for about three seconds on this machine (the
    // image may be a debug or a release build): what the device does in D3
    // takes a small fraction of that.
    let probe = RunRequest::new(StrategyId::WdkNonPaged, 2_000, 16, 256, 12);
    let start = Instant::now();
    check(&probe, &run(&host, device, &probe).expect("the probe run"));
    let per_block = start.elapsed().as_secs_f64() / 2_000.0;
    let iterations = ((3.0 / per_block) as u32).clamp(2_000, 1_000_000);
    let long = RunRequest::new(StrategyId::WdkNonPaged, iterations, 16, 256, 12);
    std::thread::scope(|scope| {
        let before = host.pool_allocations();
        let in_flight = scope.spawn(|| run(&host, device, &long));
        // Its exercise is allocating: the request is in EvtIoDeviceControl.
        let deadline = Instant::now() + Duration::from_secs(20);
        while host.pool_allocations() < before + 100 {
            assert!(Instant::now() < deadline, "the long request did not start");
            std::thread::yield_now();
        }
        let transition = host.set_power(device, DevicePower::D3).expect("D3");
        assert_eq!(transition.power_managed_queues, 0, "{transition:?}");
        assert_eq!(transition.waited_for, 0, "{transition:?}");
        // In D3, with the long request still running, new requests are served.
        assert!(
            !in_flight.is_finished(),
            "the long request ended too soon to tell"
        );
        // (Not the ledger: the long request's blocks are still live.)
        run_each(&host, device, |s| small(s, 13));
        assert!(
            !in_flight.is_finished(),
            "the long request ended too soon to tell"
        );
        let report = in_flight
            .join()
            .unwrap()
            .expect("the long request succeeded");
        check(&long, &report);
        host.set_power(device, DevicePower::D0).expect("D0");
    });
    assert_ledger_empty(&host, device);
    assert!(host.violations().is_empty(), "{:?}", host.violations());
    unload_clean(host);
}

// ---------------------------------------------------------------------------
// The kernel stack
// ---------------------------------------------------------------------------

/// The image's kernel stack peaks, each exercise in a session of its own
/// (kcomctl's default run), printed per exercise; any entry point past the
/// default budget is a `kernel-stack-overrun` violation and fails the run.
#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn every_exercise_fits_the_default_kernel_stack_budget() {
    let budget = Options::default().stack_budget;
    assert_eq!(budget, kmdf_host::DEFAULT_STACK_BUDGET);
    let mut lines = Vec::new();
    let mut deepest = 0;
    for s in StrategyId::ALL {
        let (host, device) = started(Options::default());
        let request = RunRequest::new(s, 10_000, 16, 4096, 1);
        match run(&host, device, &request) {
            Ok(report) => check(&request, &report),
            Err(status) => panic!("{s:?} failed with 0x{:08X}", status as u32),
        }
        let report = host.unload();
        assert!(report.is_clean(), "{}:\n{report}", s.name());
        let request_path = report
            .stack_peak("EvtIoDeviceControl")
            .expect("EvtIoDeviceControl measured");
        let peaks: Vec<String> = report
            .stack
            .iter()
            .map(|p| {
                assert!(p.peak <= budget, "{}: {p}", s.name());
                deepest = deepest.max(p.peak);
                format!("{} {}", p.entry, p.peak)
            })
            .collect();
        assert!(request_path > 0);
        lines.push(format!("{:<12} {}", s.name(), peaks.join(", ")));
    }
    println!(
        "kernel stack peaks of {} (bytes; budget {budget}):\n{}",
        image().display(),
        lines.join("\n")
    );
    // Room to spare: no entry point uses more than three quarters of it.
    assert!(
        deepest <= budget / 4 * 3,
        "deepest {deepest} bytes of a {budget}-byte budget:\n{}",
        lines.join("\n")
    );
}
