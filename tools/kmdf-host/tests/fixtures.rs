//! One test per fixture driver of `tools/kmdf-host/fixtures` (its README
//! has the table): the host reports exactly the rule the fixture breaks,
//! with the details the table promises, and nothing else; `clean` runs
//! clean. Runs that stop (a bug check, a fault, an unsupported WDF
//! function) end the process, as the bug check would end the machine, so
//! those fixtures run under the `kmdf-host` binary and the test reads its
//! report and exit status.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

#[path = "support/fixtures.rs"]
mod fixtures;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use fixtures::expect::*;
use kmdf_host::{
    Access, Completion, Device, Error, FaultInjection, Host, Options, Origin, PoolKind, Report,
    Rule, STOP_EXIT_CODE, TagFilter, tag_text,
};

fn image(name: &str) -> PathBuf {
    fixtures::build_all()
        .expect("the fixture drivers build (see tools/kmdf-host/fixtures/README.md)")
        .path(name)
}

/// Short time-outs: the fixtures that leave a request uncompleted would
/// otherwise make a test wait the default 20 s.
fn options() -> Options {
    Options {
        request_timeout: Duration::from_millis(300),
        hang_timeout: Duration::from_secs(10),
        ..Options::default()
    }
}

fn load(name: &str, options: Options) -> Host {
    // SAFETY: the fixtures break KMDF and pool rules the host checks, but
    // none writes outside memory it owns or the host's guard bytes and
    // special-pool pages (see the fixtures' README), and every callback has
    // its documented signature.
    unsafe { Host::load(image(name), options) }.expect("the fixture loads")
}

fn start(name: &str) -> (Host, Device) {
    let mut host = load(name, options());
    host.driver_entry().expect("DriverEntry succeeds");
    let device = host.add_device().expect("AddDevice succeeds");
    (host, device)
}

/// Asserts that `report` holds `count` violations, all of `rule`, and
/// returns their messages with their locations.
fn only(report: &Report, rule: Rule, count: usize) -> Vec<String> {
    assert!(
        report.violations.iter().all(|v| v.rule == rule) && report.violations.len() == count,
        "expected {count} violation(s) of [{rule}] and nothing else:\n{report}"
    );
    report
        .violations
        .iter()
        .map(|v| {
            format!(
                "{} (at {})",
                v.message,
                v.location.as_deref().unwrap_or("-")
            )
        })
        .collect()
}

fn contains_all(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} is not in:\n{text}");
    }
}

/// Starts fixture `name`, sends it one `IOCTL_REVERSE` (input `x`, an
/// output of `output_len` bytes), checks that it completed with success,
/// and unloads.
fn one_request(name: &str, output_len: usize) -> (Completion, Report) {
    let (host, device) = start(name);
    let c = host
        .device_io_control(device, IOCTL_REVERSE, b"x", output_len)
        .unwrap();
    assert_eq!(c.status, STATUS_SUCCESS);
    (c, host.unload())
}

/// Asserts that `report` holds one violation, of `rule`, whose text (with
/// its location) holds `parts`, and that no pool block was left.
fn single(report: &Report, rule: Rule, parts: &[&str]) {
    let messages = only(report, rule, 1);
    contains_all(&messages[0], parts);
    assert!(report.outstanding.is_empty(), "{report}");
}

/// A run of the `kmdf-host` binary: its exit status, standard output and
/// standard error.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(name: &str, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_kmdf-host"))
        .arg(image(name))
        .args(args)
        .output()
        .expect("kmdf-host runs");
    Run {
        code: output.status.code().expect("an exit status, not a signal"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The report of a stopped run: the `STOP` line's rule and message, the
/// `at` line, the other detail lines, and any earlier violations.
struct Stop {
    rule: String,
    message: String,
    at: String,
    details: Vec<String>,
    earlier: Vec<String>,
}

fn stop_report(run: &Run) -> Stop {
    assert_eq!(
        run.code, STOP_EXIT_CODE,
        "the run stops\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let mut lines = run.stderr.lines();
    let first = lines
        .find_map(|l| l.strip_prefix("kmdf-host: STOP ["))
        .unwrap_or_else(|| panic!("no STOP line in:\n{}", run.stderr));
    let (rule, message) = first.split_once("] ").expect("[rule] message");
    let mut stop = Stop {
        rule: rule.into(),
        message: message.into(),
        at: String::new(),
        details: Vec::new(),
        earlier: Vec::new(),
    };
    for line in lines {
        if let Some(at) = line.strip_prefix("kmdf-host:   at ") {
            stop.at = at.into();
        } else if let Some(detail) = line.strip_prefix("kmdf-host:   ") {
            stop.details.push(detail.trim().into());
        } else if let Some(v) = line.strip_prefix("kmdf-host: earlier violation ") {
            stop.earlier.push(v.into());
        }
    }
    stop
}

/// The frames (`#n ...` lines) of a stop report's driver call stack.
fn frames(stop: &Stop) -> Vec<&str> {
    stop.details
        .iter()
        .filter(|l| l.starts_with('#'))
        .map(String::as_str)
        .collect()
}

#[test]
fn clean_answers_deterministically_and_leaves_nothing() {
    let (host, device) = start("clean");
    let c = host
        .device_io_control(device, IOCTL_REVERSE, b"kmdf", 16)
        .unwrap();
    assert_eq!(
        (c.status, c.information, c.output.as_slice()),
        (STATUS_SUCCESS, 4, &[0x3c, 0x3e, 0x37, 0x31][..])
    );
    // The longest input, answered in an output exactly as long, with the
    // code that needs read and write access.
    let long: Vec<u8> = (0..REVERSE_MAX_INPUT).map(|i| (i * 7 + 3) as u8).collect();
    let c = host
        .device_io_control(device, IOCTL_REVERSE_RW, &long, long.len())
        .unwrap();
    let expected: Vec<u8> = (0..long.len())
        .map(|i| reverse_reply_byte(&long, i))
        .collect();
    assert_eq!((c.status, c.information), (STATUS_SUCCESS, long.len()));
    assert_eq!(c.output, expected);
    // The I/O manager refuses the read-write code on a read-only handle;
    // the any-access code goes through.
    let read_only = Access {
        read: true,
        write: false,
    };
    let denied = host
        .device_io_control_with_access(device, read_only, IOCTL_REVERSE_RW, b"ab", 2)
        .unwrap();
    assert_eq!(
        denied.status, 0xC000_0022_u32 as i32,
        "STATUS_ACCESS_DENIED"
    );
    let allowed = host
        .device_io_control_with_access(device, read_only, IOCTL_REVERSE, b"ab", 2)
        .unwrap();
    assert_eq!(allowed.output, [b'b' ^ REVERSE_XOR, b'a' ^ REVERSE_XOR]);
    // The driver's refusals, all with Information 0.
    let unknown = ctl_code(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS);
    let too_long = vec![1u8; REVERSE_MAX_INPUT + 1];
    for (code, input, out, status) in [
        (unknown, &b"x"[..], 1, STATUS_INVALID_DEVICE_REQUEST),
        (IOCTL_REVERSE, &b""[..], 8, STATUS_INVALID_PARAMETER),
        (
            IOCTL_REVERSE,
            &too_long[..],
            too_long.len(),
            STATUS_INVALID_PARAMETER,
        ),
        (IOCTL_REVERSE, &b"kmdf"[..], 3, STATUS_BUFFER_TOO_SMALL),
    ] {
        let c = host.device_io_control(device, code, input, out).unwrap();
        assert_eq!((c.status, c.information), (status, 0), "IOCTL {code:#x}");
        assert!(c.output.is_empty());
    }
    // Low resources: the copy's allocation fails once, the driver says so
    // and frees nothing it did not get.
    host.inject(FaultInjection::Nth {
        filter: TagFilter::Tag(CLEAN_COPY_TAG),
        n: 1,
    });
    let c = host
        .device_io_control(device, IOCTL_REVERSE, b"kmdf", 4)
        .unwrap();
    assert_eq!(
        (c.status, c.information),
        (STATUS_INSUFFICIENT_RESOURCES, 0)
    );
    let c = host
        .device_io_control(device, IOCTL_REVERSE, b"kmdf", 4)
        .unwrap();
    assert_eq!(c.output, [0x3c, 0x3e, 0x37, 0x31]);
    // KMDF refused nothing: every failure above was the driver's answer.
    assert_eq!(host.framework_log(), Vec::<String>::new());
    let report = host.unload();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.injected_failures, 1);
    // The device cleanup and EvtDriverUnload ran: their blocks were freed.
    for (tag, allocations) in [
        (CLEAN_DRIVER_TAG, 1),
        (CLEAN_DEVICE_TAG, 1),
        // Every successful IOCTL above but the refused ones: kmdf, the
        // long one, the any-access one, the one after the failure.
        (CLEAN_COPY_TAG, 4),
    ] {
        let stats = report
            .tags
            .iter()
            .find(|t| t.tag == tag)
            .unwrap_or_else(|| panic!("no allocation tagged '{}'", tag_text(tag)));
        assert_eq!(
            (stats.allocations, stats.frees, stats.outstanding),
            (allocations, allocations, 0),
            "'{}'",
            tag_text(tag)
        );
    }
}

#[test]
fn clean_runs_clean_relocated_with_special_pool_and_two_devices() {
    let mut host = load(
        "clean",
        Options {
            relocate: true,
            special_pool: true,
            ..options()
        },
    );
    host.driver_entry().unwrap();
    assert!(host.image_summary().contains("relocations"));
    let first = host.add_device().unwrap();
    let second = host.add_device().unwrap();
    for device in [first, second] {
        let c = host
            .device_io_control(device, IOCTL_REVERSE, b"kmdf", 4)
            .unwrap();
        assert_eq!(c.output, [0x3c, 0x3e, 0x37, 0x31]);
    }
    // Removing one device runs its cleanup (its block is freed) and
    // leaves the other working.
    host.remove_device(first).unwrap();
    let now = host.report_now();
    let device_blocks = now.tags.iter().find(|t| t.tag == CLEAN_DEVICE_TAG).unwrap();
    assert_eq!(
        (device_blocks.allocations, device_blocks.outstanding),
        (2, 1)
    );
    let c = host
        .device_io_control(second, IOCTL_REVERSE, b"ab", 2)
        .unwrap();
    assert_eq!(c.status, STATUS_SUCCESS);
    let report = host.unload();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn double_complete_reports_the_second_completion() {
    // The first completion counts: the request succeeded.
    let (_, report) = one_request("double-complete", 1);
    single(
        &report,
        Rule::DoubleCompletion,
        &[
            "WdfRequestComplete(0x00000000)",
            "was already completed with 0x00000000",
            "double_complete::evt_io_device_control",
        ],
    );
}

#[test]
fn never_complete_reports_the_request_once() {
    let (host, device) = start("never-complete");
    let e = host
        .device_io_control(device, IOCTL_REVERSE, b"x", 1)
        .unwrap_err();
    assert!(matches!(e, Error::Request(_)), "{e}");
    // The removal does not wait for ever, nor report the request again;
    // the request and its buffer are released with the device.
    let report = host.unload();
    let messages = only(&report, Rule::RequestNeverCompleted, 1);
    contains_all(&messages[0], &["IOCTL 0x00222000", "not completed"]);
    assert!(report.outstanding.is_empty(), "{report}");
}

#[test]
fn leak_reports_each_block_left_at_unload() {
    let (host, device) = start("leak");
    for _ in 0..3 {
        let c = host
            .device_io_control(device, IOCTL_REVERSE, b"x", 1)
            .unwrap();
        assert_eq!(c.status, STATUS_SUCCESS);
    }
    assert_eq!(host.report_now().violations, [], "not a leak before unload");
    let report = host.unload();
    let messages = only(&report, Rule::PoolLeak, 3);
    assert_eq!(report.outstanding.len(), 3);
    for (block, message) in report.outstanding.iter().zip(&messages) {
        assert_eq!(
            (block.tag, block.size, block.pool, block.origin),
            (LEAK_TAG, LEAK_SIZE, PoolKind::NonPagedNx, Origin::Driver)
        );
        assert!(
            block.allocated_at.contains("leak::evt_io_device_control"),
            "{block}"
        );
        contains_all(
            message,
            &["'FxLk' NonPagedNx 64 bytes", "still allocated at unload"],
        );
    }
}

#[test]
fn wrong_tag_free_names_both_tags() {
    // The block was freed all the same: nothing is left.
    let (_, report) = one_request("wrong-tag-free", 1);
    single(
        &report,
        Rule::WrongTagFree,
        &[
            "ExFreePoolWithTag(",
            ", 'FxWb')",
            "the 32-byte block was allocated with tag 'FxWa'",
            "wrong_tag_free::",
        ],
    );
}

#[test]
fn paged_at_dispatch_reports_the_allocation() {
    let (_, report) = one_request("paged-at-dispatch", 1);
    single(
        &report,
        Rule::PagedPoolAtDispatch,
        &[
            "ExAllocatePool2: paged pool (32 bytes, tag 'FxPg') at DISPATCH_LEVEL (2)",
            "paged_at_dispatch::",
        ],
    );
    // Presented at DISPATCH_LEVEL (the most KMDF may use for the queue),
    // the free at the callback's IRQL is at DISPATCH_LEVEL too.
    let mut host = load(
        "paged-at-dispatch",
        Options {
            dispatch_level_callbacks: true,
            ..options()
        },
    );
    host.driver_entry().unwrap();
    let device = host.add_device().unwrap();
    host.device_io_control(device, IOCTL_REVERSE, b"x", 1)
        .unwrap();
    let messages = only(&host.unload(), Rule::PagedPoolAtDispatch, 2);
    contains_all(
        &messages[1],
        &[
            "ExFreePoolWithTag: paged block",
            "freed at DISPATCH_LEVEL (2)",
        ],
    );
}

#[test]
fn wrong_size_fails_driver_entry_with_info_length_mismatch() {
    let mut host = load("wrong-size", options());
    match host.driver_entry() {
        Err(Error::DriverEntryFailed(status)) => assert_eq!(status, STATUS_INFO_LENGTH_MISMATCH),
        other => panic!("DriverEntry: {other:?}"),
    }
    assert!(
        matches!(host.add_device(), Err(Error::NotAPnpDriver(_))),
        "no device without a WDFDRIVER"
    );
    assert_eq!(
        host.framework_log(),
        [
            "WdfDriverCreate: WDF_DRIVER_CONFIG.Size is 24, KMDF 1.33 accepts 32: \
          STATUS_INFO_LENGTH_MISMATCH (0xC0000004)"
        ]
    );
    let report = host.unload();
    let messages = only(&report, Rule::WrongStructureSize, 1);
    contains_all(
        &messages[0],
        &[
            "WdfDriverCreate: WDF_DRIVER_CONFIG.Size is 24",
            "accepts 32",
            "STATUS_INFO_LENGTH_MISMATCH",
        ],
    );
    assert!(report.outstanding.is_empty(), "{report}");
}

#[test]
fn bugcheck_stops_with_the_code_and_all_four_parameters() {
    let stop = stop_report(&run("bugcheck", &["--ioctl", "0x222000:00:1"]));
    assert_eq!(stop.rule, "bug-check");
    contains_all(&stop.message, &["code 0x0BADF1C5"]);
    let [p1, p2, p3, p4] = BUGCHECK_PARAMETERS;
    let call = format!("KeBugCheckEx(0x{BUGCHECK_CODE:08X}, {p1:#x}, {p2:#x}, {p3:#x}, {p4:#x})");
    assert!(stop.details.contains(&call), "{call} in {:?}", stop.details);
    contains_all(&stop.at, &["bugcheck::evt_io_device_control"]);
    assert!(frames(&stop)[0].contains("bugcheck::evt_io_device_control"));
    assert_eq!(stop.earlier, Vec::<String>::new());
}

#[test]
fn unsupported_stops_naming_the_function_and_the_caller() {
    let stop = stop_report(&run("unsupported", &[]));
    assert_eq!(stop.rule, "unsupported-wdf-function");
    assert_eq!(
        stop.message,
        format!(
            "WDF function {UNSUPPORTED_FUNCTION} (table index {UNSUPPORTED_INDEX}) is not supported by kmdf-host"
        )
    );
    contains_all(&stop.at, &["image+", ".text"]);
    let frames = frames(&stop);
    assert!(
        frames
            .iter()
            .any(|f| f.contains("unsupported::evt_driver_device_add")),
        "{frames:?}"
    );
    assert_eq!(stop.earlier, Vec::<String>::new());
}

#[test]
fn unresolved_refuses_the_image_naming_both_imports() {
    let expected: Vec<String> = UNRESOLVED_IMPORTS
        .iter()
        .map(|(module, name)| format!("{module}!{name}"))
        .collect();
    // SAFETY: the image is refused before any of its code could run.
    match unsafe { Host::load(image("unresolved"), options()) } {
        Err(Error::UnresolvedImports(list)) => assert_eq!(list, expected),
        other => panic!("{other:?}"),
    }
    // The binary: a load error, and no sign of FxDriverEntry (it would
    // have bound the framework).
    let run = run("unresolved", &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    contains_all(
        &run.stderr,
        &[
            "2 unresolved import(s), the image would not load",
            &expected.join(", "),
        ],
    );
    assert!(!run.stdout.contains("bound"), "{}", run.stdout);
}

#[test]
fn sddl_unnamed_fails_device_creation() {
    let mut host = load("sddl-unnamed", options());
    host.driver_entry().unwrap();
    match host.add_device() {
        Err(Error::AddDeviceFailed(status)) => assert_eq!(status, STATUS_INVALID_SECURITY_DESCR),
        other => panic!("AddDevice: {other:?}"),
    }
    assert!(host.devices().is_empty());
    // The SDDL call succeeded (KMDF logged nothing for it), WdfDeviceCreate
    // refused the device.
    assert_eq!(
        host.framework_log(),
        [
            "WdfDeviceCreate: an SDDL string or device class on a device without a name: \
          STATUS_INVALID_SECURITY_DESCR (0xC0000079)"
        ]
    );
    let report = host.unload();
    assert!(
        report.is_clean(),
        "KMDF returns an error, it breaks no rule: {report}"
    );
    // The binary says the device did not start.
    let run = run("sddl-unnamed", &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    contains_all(
        &run.stdout,
        &[
            "EvtDriverDeviceAdd failed with 0xC0000079",
            "violations: none",
        ],
    );
}

#[test]
fn overrun_faults_past_the_block_with_special_pool() {
    let stop = stop_report(&run(
        "overrun",
        &["--special-pool", "--ioctl", "0x222000:00:1"],
    ));
    assert_eq!(stop.rule, "special-pool-overrun");
    contains_all(
        &stop.message,
        &[
            "writing address",
            "offset 48 of a 48-byte special-pool block (past its end), tag 'FxOv'",
        ],
    );
    contains_all(&stop.at, &[".text overrun::"]);
    assert_eq!(stop.earlier, Vec::<String>::new());
}

#[test]
fn overrun_is_found_at_the_free_without_special_pool() {
    let (_, report) = one_request("overrun", 1);
    single(
        &report,
        Rule::PoolCorruption,
        &[
            "ExFreePoolWithTag(",
            "'FxOv')",
            "the bytes after the 48-byte block (tag 'FxOv'",
            "first at offset 48",
        ],
    );
}

#[test]
fn fault_reports_the_address_the_function_and_its_caller() {
    let stop = stop_report(&run("fault", &["--ioctl", "0x222000:00:1"]));
    assert_eq!(stop.rule, "fault");
    contains_all(
        &stop.message,
        &[&format!(
            "access violation reading address {FAULT_ADDRESS:#x}"
        )],
    );
    contains_all(&stop.at, &[".text fault::", FAULT_FUNCTION]);
    let frames = frames(&stop);
    assert!(frames.len() >= 2, "{frames:?}");
    // The faulting instruction itself, then its caller's return address.
    assert!(
        frames[0].starts_with("#0 ") && frames[0].contains(FAULT_FUNCTION),
        "{frames:?}"
    );
    assert_eq!(frames[0].trim_start_matches("#0 "), stop.at);
    assert!(
        frames[1].contains("fault::evt_io_device_control"),
        "{frames:?}"
    );
    assert_eq!(stop.earlier, Vec::<String>::new());
}

#[test]
fn wait_at_dispatch_reports_the_wait() {
    let (_, report) = one_request("wait-at-dispatch", 1);
    single(
        &report,
        Rule::WaitAtDispatch,
        &[
            "KeWaitForSingleObject at DISPATCH_LEVEL (2) with a 1ms time-out",
            "wait_at_dispatch::",
        ],
    );
}

#[test]
fn info_too_long_reports_and_copies_no_more_than_the_output() {
    let (c, report) = one_request("info-too-long", 8);
    assert_eq!(c.information, 8 + INFO_EXCESS);
    assert_eq!(c.output, [INFO_FILL; 8]);
    single(
        &report,
        Rule::InformationTooLong,
        &["Information 9 is greater than the output buffer length 8"],
    );
    // Without an output buffer KMDF does not check Information (a driver
    // may report how much input it used), and nothing is copied back.
    let (c, report) = one_request("info-too-long", 0);
    assert_eq!((c.information, c.output.len()), (INFO_EXCESS, 0));
    assert!(report.is_clean(), "{report}");
}

#[test]
fn double_free_reports_the_second_free() {
    let (_, report) = one_request("double-free", 1);
    single(
        &report,
        Rule::BadFree,
        &[
            "ExFreePoolWithTag(",
            "'FxDf'): double free: the 32-byte 'FxDf' block allocated at",
            "was freed at",
            "double_free::",
        ],
    );
}

#[test]
fn unknown_free_names_the_address_in_the_image() {
    let (_, report) = one_request("unknown-free", 1);
    single(
        &report,
        Rule::BadFree,
        &[
            "'FxUf'",
            ".data fixture_not_pool_memory+0x0)",
            "is not an address a pool allocation returned",
        ],
    );
}

#[test]
fn a_violation_makes_the_report_unclean_and_the_exit_status_one() {
    let leak = run("leak", &["--ioctl", "0x222000:00:1"]);
    assert_eq!(leak.code, 1, "{}{}", leak.stdout, leak.stderr);
    contains_all(
        &leak.stdout,
        &[
            "1 blocks outstanding",
            "[pool-leak] 'FxLk' NonPagedNx 64 bytes",
        ],
    );
    let clean = run("clean", &["--ioctl", "0x222000:6b6d6466:4"]);
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    contains_all(
        &clean.stdout,
        &[
            "IOCTL 0x00222000: status 0x00000000, information 4",
            "0 blocks outstanding",
            "violations: none",
        ],
    );
}

#[test]
fn deep_stack_goes_past_the_budget_with_its_deepest_call_stack() {
    let (_, report) = one_request("deep-stack", 1);
    let messages = only(&report, Rule::KernelStackOverrun, 1);
    let message = &messages[0];
    contains_all(
        message,
        &[
            "EvtIoDeviceControl used",
            &format!(
                "over the budget of {} bytes",
                kmdf_host::DEFAULT_STACK_BUDGET
            ),
            "its deepest call into the kernel",
            "evt_io_device_control",
        ],
    );
    // The allocation at the deepest level, called from every level of the
    // recursion.
    assert!(
        message.matches(DEEP_STACK_FUNCTION).count() >= DEEP_STACK_LEVELS,
        "{message}"
    );
    let peak = report.stack_peak("EvtIoDeviceControl").unwrap();
    assert!(peak >= DEEP_STACK_LEVELS * DEEP_STACK_FRAME, "{report}");
    assert!(
        report.to_string().contains(&format!(
            "kernel stack: EvtIoDeviceControl peak {peak} bytes"
        )),
        "{report}"
    );
    // Within a larger budget the same run is clean.
    let mut host = load(
        "deep-stack",
        Options {
            stack_budget: 2 * peak,
            ..options()
        },
    );
    host.driver_entry().unwrap();
    let device = host.add_device().unwrap();
    host.device_io_control(device, IOCTL_REVERSE, b"x", 1)
        .unwrap();
    let report = host.unload();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.stack_peak("EvtIoDeviceControl"), Some(peak));
}

#[test]
fn every_entry_point_of_clean_is_measured_within_the_budget() {
    let (host, device) = start("clean");
    host.device_io_control(device, IOCTL_REVERSE, b"kmdf", 16)
        .unwrap();
    let report = host.unload();
    assert!(report.is_clean(), "{report}");
    for entry in [
        "DriverEntry",
        "EvtDriverDeviceAdd",
        "EvtIoDeviceControl",
        "EvtCleanupCallback",
        "EvtDriverUnload",
    ] {
        let peak = report
            .stack_peak(entry)
            .unwrap_or_else(|| panic!("{entry} measured:\n{report}"));
        // A return address at least, and far from the budget.
        assert!(
            (8..kmdf_host::DEFAULT_STACK_BUDGET / 4).contains(&peak),
            "{entry}: {peak}\n{report}"
        );
    }
    // The framework's own entry points (AddDevice, DriverUnload) are the
    // host's code, not the driver's.
    assert_eq!(report.stack_peak("AddDevice"), None);
    assert_eq!(report.stack_peak("DriverUnload"), None);
}

#[test]
fn the_command_line_prints_the_peaks_and_takes_a_stack_budget() {
    let over = run("deep-stack", &["--ioctl", "0x222000:00:1"]);
    assert_eq!(over.code, 1, "{}{}", over.stdout, over.stderr);
    contains_all(
        &over.stdout,
        &[
            "kernel stack: DriverEntry peak ",
            "kernel stack: EvtIoDeviceControl peak ",
            "[kernel-stack-overrun] EvtIoDeviceControl used ",
        ],
    );
    let within = run(
        "deep-stack",
        &["--ioctl", "0x222000:00:1", "--stack-budget", "65536"],
    );
    assert_eq!(within.code, 0, "{}{}", within.stdout, within.stderr);
    contains_all(
        &within.stdout,
        &["kernel stack: EvtIoDeviceControl peak ", "violations: none"],
    );
}

#[test]
fn deep_stack_overflowing_its_stack_stops_at_the_guard_page() {
    let ioctl = format!("{IOCTL_DEEP_STACK_OVERFLOW:#x}:00:1");
    let stop = stop_report(&run("deep-stack", &["--ioctl", &ioctl]));
    assert_eq!(stop.rule, "fault");
    contains_all(
        &stop.message,
        &["kernel stack overflow: writing address", "0x7F"],
    );
    contains_all(&stop.at, &[DEEP_STACK_FUNCTION]);
    // Unwound from the fault on the driver's stack: the recursion.
    let frames = frames(&stop);
    assert!(
        frames
            .iter()
            .filter(|f| f.contains(DEEP_STACK_FUNCTION))
            .count()
            >= 16,
        "{frames:?}"
    );
}
