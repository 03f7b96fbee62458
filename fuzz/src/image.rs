//! The program of the `fuzz_image` target: sequences of IOCTL requests,
//! decoded from the fuzzer's input, sent through kmdf-host to the compiled
//! driver image (`kcom_sample.sys`), with pool failures injected where the
//! input says and special pool on. The same code replays saved inputs in
//! kmdf-host's `fuzz_image_inputs` test, so a finding is a fixture there.
//!
//! The image is loaded once and kept: each input adds a device, sends its
//! requests and removes the device; every [`UNLOAD_EVERY`] inputs the
//! driver is unloaded (and loaded again for the next input).
//!
//! # What must hold
//!
//! After every request:
//!
//! * the host completed it (a request never completed is a finding);
//! * its status is the one the driver's own decoding predicts
//!   ([`kcom_sample_core::decode_request`], the core of the image's
//!   dispatch): `STATUS_ACCESS_DENIED` when the handle lacks the access
//!   the code demands (the I/O manager's check); the decoding's error;
//!   for a valid `RUN_EXERCISE`, success or `STATUS_NOT_SUPPORTED` for a
//!   strategy the device does not offer; success otherwise. With a pool
//!   failure armed, `STATUS_INSUFFICIENT_RESOURCES` may stand in for
//!   any of these. Every status is `STATUS_SUCCESS` or in
//!   [`protocol::STATUSES`], except the I/O manager's access denial;
//! * `Information` never exceeds the output length, is the response size
//!   on success and 0 on failure, and the output is what `Information`
//!   says;
//! * a success decodes with the protocol's `decode` and checks: `GET_INFO`
//!   lists the strategies the first device listed, with unused slots
//!   zero; `POOL_STATS` shows nothing outstanding; `RUN_EXERCISE` reports
//!   the strategy asked for, success, nothing outstanding, as many frees
//!   as allocations and the checksum [`expected_strategy_checksum`]
//!   computes for the parameters;
//! * the pool holds as many blocks of the driver and its framework
//!   objects as before the request (a deferred request's work item may
//!   delete itself just after completing it: the check waits up to
//!   [`SETTLE`] for it);
//! * the host recorded no violation.
//!
//! At the end of each input the device is removed and the pool is back at
//! its level after `DriverEntry`; at each unload the host's report is clean
//! and no block is left in any pool (nonpaged or paged, the driver's or the
//! framework's).
//!
//! A stop (a bug check, a fault in driver code, a WDF violation) ends the
//! process in kmdf-host; the fuzz target turns that exit into an abort so
//! that libFuzzer saves the input (see `fuzz_targets/fuzz_image.rs`).
//!
//! # Input format
//!
//! Integers are little-endian; a finished input reads as zeros.
//!
//! ```text
//! u8   AddDevice fault: 0 none; n in 1..=63 (bits 0-5): the n-th pool
//!      allocation of AddDevice fails (the device must then not start, and
//!      leave nothing behind)
//! then up to 16 requests:
//!   u8   code: % 8: 0-1 GET_INFO, 2-4 RUN_EXERCISE, 5 POOL_STATS,
//!        6 a raw u32 code follows, 7 u8 (% 3: which protocol code) and
//!        u8 follow, the code's method bits xor-ed with bits 0-1 and its
//!        access bits with bits 2-3
//!   u8   access of the handle: % 8: 0-4 read and write, 5 read only,
//!        6 write only, 7 none
//!   u8   input: even: a well-formed request for the code, built from
//!        fields that follow, then (bit 1) u8 offset and u8 value patch
//!        one byte; odd: u8 length (% 64) and that many raw bytes
//!          RUN_EXERCISE fields: u8 strategy (% 16: 0-11 that wire value,
//!          12 and 13 unknown ones, 14-15 a strategy below 11), u8
//!          iterations (0, else % 128 + 1), u8 size class (% 4:
//!          0 u8 min % 64 and u8 max % 65; 1 u16 min % 4096 and u16 max
//!          % 4097; 2 near MAX_ALLOC_SIZE: u8 delta; 3 raw u32 min and
//!          max), u8 align class (% 16: 0 default, 1-13 1 << (n - 1),
//!          14 3, 15 raw u32), u64 seed, u8 flags (250 and above: set)
//!          other codes: no fields (the 8-byte header)
//!   u8   output length: % 6: 0-1 the response size, 2 one byte short,
//!        3 zero, 4 u16 % 8192, 5 the response size plus u8
//!   u8   pool failure for this request: 0 none; 1..=0xEF the n-th
//!        allocation for the driver or its objects fails; 0xF0..=0xF7
//!        u8 tag (% the tags: the driver's framework tag, its global
//!        allocator's, each strategy's) and u8 n (% 64 + 1): the n-th
//!        allocation with that tag fails; 0xF8..: u16 per-mille-of-a-
//!        thousandth rate (x 16 per million) and u8 seed: allocations fail
//!        at random
//! ```
//!
//! Exercises that ask for more work than [`WORK_BUDGET`] are decoded but
//! not sent, to keep executions fast (the limits themselves are tested by
//! the host tests and `fuzz_dispatch`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kcom_sample_core::protocol::{
    self, ALL_IOCTLS, FILE_READ_DATA, FILE_WRITE_DATA, IOCTL_KCOM_GET_INFO, IOCTL_KCOM_POOL_STATS,
    IOCTL_KCOM_RUN_EXERCISE, InfoResponse, Ioctl, METHOD_BUFFERED, PoolStatsResponse, RunRequest,
    RunResponse, StrategyId, ioctl_access, ioctl_method,
};
use kcom_sample_core::{Request, decode_request, expected_strategy_checksum, tags};
use kmdf_host::{
    Access, Completion, Device, Error, FaultInjection, FrameworkVersion, Host, NtStatus, Options,
    TagFilter,
};
use ntdef::status::{STATUS_ACCESS_DENIED, STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};

use crate::input::Input;

/// Inputs between two full unloads of the driver.
pub const UNLOAD_EVERY: u64 = 64;

/// Requests one input may send.
pub const MAX_REQUESTS: usize = 16;

/// Exercises asking for more than this many bytes (iterations × largest
/// block) are not sent.
pub const WORK_BUDGET: u64 = 1 << 20;

/// How long the pool may take to return to its level after a request.
pub const SETTLE: Duration = Duration::from_secs(5);

/// The environment variable naming the driver image.
pub const IMAGE_VAR: &str = "KCOM_SAMPLE_IMAGE";

/// The environment variable choosing the framework the image runs on.
pub const FRAMEWORK_VAR: &str = "KCOM_FUZZ_FRAMEWORK";

/// The environment variable choosing the KMDF version presented.
pub const KMDF_VAR: &str = "KCOM_FUZZ_KMDF";

/// The driver's framework pool tag (`WDF_DRIVER_CONFIG.DriverPoolTag`).
const FRAMEWORK_TAG: u32 = u32::from_le_bytes(*b"KcFx");
/// The tag of the driver's global allocator (the service name).
const GLOBAL_TAG: u32 = u32::from_le_bytes(*b"kcom");

/// The framework a driver image runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framework {
    /// kmdf-host's model of KMDF (the only one there is).
    Model,
}

impl Framework {
    /// Parses a [`FRAMEWORK_VAR`] value.
    pub fn parse(text: &str) -> Option<Framework> {
        match text {
            "model" => Some(Framework::Model),
            _ => None,
        }
    }
}

/// What the image is run with.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The driver image.
    pub image: PathBuf,
    /// The framework it runs on.
    pub framework: Framework,
    /// The KMDF version presented.
    pub kmdf: FrameworkVersion,
}

impl Setup {
    /// The setup the environment names: [`IMAGE_VAR`] (required),
    /// [`FRAMEWORK_VAR`] (`model`, the default) and [`KMDF_VAR`] (`1.33`,
    /// the default, or `1.31`). The error is one line.
    pub fn from_env() -> Result<Setup, String> {
        let image = std::env::var_os(IMAGE_VAR).map(PathBuf::from).ok_or_else(|| {
            format!(
                "{IMAGE_VAR} must name the driver image: {IMAGE_VAR}=$(bash ci/driver-image.sh | tail -n 1)"
            )
        })?;
        if !image.is_file() {
            return Err(format!(
                "{IMAGE_VAR}={} is not a file (bash ci/driver-image.sh builds it)",
                image.display()
            ));
        }
        let framework = match std::env::var(FRAMEWORK_VAR) {
            Err(_) => Framework::Model,
            Ok(v) => Framework::parse(&v).ok_or_else(|| {
                format!("{FRAMEWORK_VAR}={v}: unknown framework (the one there is: model)")
            })?,
        };
        let kmdf = match std::env::var(KMDF_VAR) {
            Err(_) => FrameworkVersion::V1_33,
            Ok(v) => FrameworkVersion::parse(&v)
                .ok_or_else(|| format!("{KMDF_VAR}={v}: unknown KMDF version (1.31 or 1.33)"))?,
        };
        Ok(Setup {
            image,
            framework,
            kmdf,
        })
    }

    fn options(&self) -> Options {
        match self.framework {
            Framework::Model => Options {
                framework: self.kmdf,
                special_pool: true,
                // Shorter than libFuzzer's -timeout, so the host reports a
                // request that never completes before the fuzzer kills it.
                request_timeout: Duration::from_secs(4),
                hang_timeout: Duration::from_secs(8),
                ..Options::default()
            },
        }
    }
}

/// The image, loaded, between inputs.
struct Loaded {
    host: Host,
    /// Pool blocks after `DriverEntry` (the driver's, no device).
    driver_blocks: usize,
}

/// The driver image under test, loaded on first use and kept between
/// inputs.
pub struct Driver {
    setup: Setup,
    loaded: Option<Loaded>,
    /// The strategies the first device listed.
    offered: Option<Vec<StrategyId>>,
    inputs: u64,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("setup", &self.setup)
            .field("inputs", &self.inputs)
            .finish_non_exhaustive()
    }
}

/// One request as the input describes it.
struct Call {
    code: u32,
    access: Access,
    input: Vec<u8>,
    output_len: usize,
    fault: Option<FaultInjection>,
}

impl Driver {
    /// A driver run with `setup`; nothing is loaded yet.
    pub fn new(setup: Setup) -> Driver {
        Driver {
            setup,
            loaded: None,
            offered: None,
            inputs: 0,
        }
    }

    fn load(&mut self) -> Result<&Loaded, String> {
        if self.loaded.is_none() {
            // SAFETY: the project's own driver image (built from this
            // repository by ci/driver-image.sh), which keeps the contracts
            // of the routines it calls; what it breaks of the rules the
            // host checks is reported.
            let mut host = unsafe { Host::load(&self.setup.image, self.setup.options()) }
                .map_err(|e| format!("{}: {e}", self.setup.image.display()))?;
            if let Err(e) = host.driver_entry() {
                return Err(format!("DriverEntry: {e}\n{}", host.unload()));
            }
            let violations = host.violations();
            if !violations.is_empty() {
                return Err(format!("DriverEntry: {violations:#?}\n{}", host.unload()));
            }
            let driver_blocks = host.outstanding_blocks();
            self.loaded = Some(Loaded {
                host,
                driver_blocks,
            });
        }
        Ok(self.loaded.as_ref().expect("loaded above"))
    }

    /// Unloads the driver (if loaded); the report must be clean with no
    /// block left in any pool.
    pub fn unload(&mut self) -> Result<(), String> {
        if let Some(loaded) = self.loaded.take() {
            let report = loaded.host.unload();
            if !report.is_clean() || !report.outstanding.is_empty() {
                return Err(format!("the unload was not clean:\n{report}"));
            }
        }
        Ok(())
    }

    /// Runs one input; the error is the finding, with the host's report.
    pub fn run(&mut self, data: &[u8]) -> Result<(), String> {
        let result = self.run_input(data);
        self.inputs += 1;
        match result {
            Ok(()) if self.inputs.is_multiple_of(UNLOAD_EVERY) => self.unload(),
            Ok(()) => Ok(()),
            Err(e) => {
                let report = match self.loaded.take() {
                    Some(l) => l.host.unload().to_string(),
                    None => String::new(),
                };
                Err(format!("{e}\n{report}"))
            }
        }
    }

    fn run_input(&mut self, data: &[u8]) -> Result<(), String> {
        let mut inp = Input::new(data);
        let add_fault = inp.u8() & 0x3F;
        let driver_blocks = self.load()?.driver_blocks;
        let host = &self.loaded.as_ref().expect("loaded").host;
        if add_fault != 0 {
            host.inject(FaultInjection::Nth {
                filter: TagFilter::Any,
                n: u64::from(add_fault),
            });
        }
        let added = host.add_device();
        host.clear_injection();
        let device = match added {
            Ok(device) => device,
            Err(Error::AddDeviceFailed(status)) if add_fault != 0 => {
                if status != STATUS_INSUFFICIENT_RESOURCES {
                    return Err(format!(
                        "AddDevice with allocation {add_fault} failing: status 0x{:08X}",
                        status as u32
                    ));
                }
                check_clean(host, driver_blocks, "the failed AddDevice")?;
                return Ok(());
            }
            Err(e) => return Err(format!("AddDevice: {e}")),
        };
        if self.offered.is_none() {
            self.offered = Some(offered(host, device)?);
        }
        let offered = self.offered.as_deref().expect("set above");
        let mut done = Ok(());
        for _ in 0..MAX_REQUESTS {
            if inp.is_empty() {
                break;
            }
            let call = decode_call(&mut inp);
            if let Err(e) = send(host, device, offered, &call) {
                done = Err(format!(
                    "IOCTL 0x{:08X}, access {:?}, input {:02x?}, output {} bytes, fault {:?}: {e}",
                    call.code, call.access, call.input, call.output_len, call.fault
                ));
                break;
            }
        }
        done?;
        host.remove_device(device)
            .map_err(|e| format!("removal: {e}"))?;
        check_clean(host, driver_blocks, "the device's removal")
    }
}

/// No violation so far, and `blocks` pool blocks of the driver and its
/// objects (waiting up to [`SETTLE`] for a work item to delete itself).
fn check_clean(host: &Host, blocks: usize, after: &str) -> Result<(), String> {
    let violations = host.violations();
    if !violations.is_empty() {
        return Err(format!("after {after}: {violations:#?}"));
    }
    let now = settle(host, blocks);
    if now != blocks {
        return Err(format!(
            "after {after}: {now} pool blocks, {blocks} before\n{}",
            host.report_now()
        ));
    }
    Ok(())
}

/// Waits up to [`SETTLE`] for the pool to hold `blocks` blocks; returns
/// how many it holds.
fn settle(host: &Host, blocks: usize) -> usize {
    let mut now = host.outstanding_blocks();
    if now == blocks {
        return now;
    }
    let deadline = Instant::now() + SETTLE;
    let mut spins = 0u32;
    while now != blocks && Instant::now() < deadline {
        if spins < 1000 {
            std::thread::yield_now();
            spins += 1;
        } else {
            std::thread::sleep(Duration::from_micros(50));
        }
        now = host.outstanding_blocks();
    }
    now
}

/// `GET_INFO` on a new device: the strategies it offers.
fn offered(host: &Host, device: Device) -> Result<Vec<StrategyId>, String> {
    let mut input = [0u8; 8];
    kcom_sample_core::protocol::InfoRequest::new()
        .encode(&mut input)
        .map_err(|s| format!("InfoRequest::encode: 0x{:08X}", s as u32))?;
    let c = host
        .device_io_control(device, IOCTL_KCOM_GET_INFO, &input, InfoResponse::SIZE)
        .map_err(|e| format!("GET_INFO: {e}"))?;
    if c.status != STATUS_SUCCESS {
        return Err(format!("GET_INFO: status 0x{:08X}", c.status as u32));
    }
    let view = InfoResponse::decode(&c.output).map_err(|s| format!("GET_INFO decode: {s:#x}"))?;
    view.strategies()
        .map(|s| {
            s.strategy()
                .ok_or_else(|| format!("unknown strategy {s:?}"))
        })
        .collect()
}

/// The tags a fault may name.
fn fault_tags() -> Vec<u32> {
    [FRAMEWORK_TAG, GLOBAL_TAG]
        .into_iter()
        .chain(StrategyId::ALL.into_iter().map(tags::for_strategy))
        .collect()
}

fn decode_call(inp: &mut Input<'_>) -> Call {
    let code = match inp.u8() % 8 {
        0 | 1 => IOCTL_KCOM_GET_INFO,
        2..=4 => IOCTL_KCOM_RUN_EXERCISE,
        5 => IOCTL_KCOM_POOL_STATS,
        6 => inp.u32(),
        _ => {
            let base = ALL_IOCTLS[usize::from(inp.u8() % 3)];
            let bits = u32::from(inp.u8());
            base ^ (bits & 0x3) ^ (((bits >> 2) & 0x3) << 14)
        }
    };
    let access = match inp.u8() % 8 {
        0..=4 => Access::READ_WRITE,
        5 => Access {
            read: true,
            write: false,
        },
        6 => Access {
            read: false,
            write: true,
        },
        _ => Access {
            read: false,
            write: false,
        },
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
    let response = Ioctl::from_code(code).map_or(64, Ioctl::response_size);
    let output_len = match inp.u8() % 6 {
        0 | 1 => response,
        2 => response - 1,
        3 => 0,
        4 => usize::from(inp.u16() % 8192),
        _ => response + usize::from(inp.u8()),
    };
    let fault = match inp.u8() {
        0 => None,
        n @ 1..=0xEF => Some(FaultInjection::Nth {
            filter: TagFilter::Any,
            n: u64::from(n),
        }),
        0xF0..=0xF7 => {
            let tags = fault_tags();
            let tag = tags[usize::from(inp.u8()) % tags.len()];
            Some(FaultInjection::Nth {
                filter: TagFilter::Tag(tag),
                n: u64::from(inp.u8() % 64) + 1,
            })
        }
        _ => Some(FaultInjection::Fraction {
            filter: TagFilter::Any,
            per_million: u32::from(inp.u16()) * 16,
            seed: u64::from(inp.u8()),
        }),
    };
    Call {
        code,
        access,
        input,
        output_len,
        fault,
    }
}

/// A well-formed request for `code` (the header alone for codes other than
/// `RUN_EXERCISE`), from fields in the input.
fn build_request(code: u32, inp: &mut Input<'_>) -> Vec<u8> {
    if code != IOCTL_KCOM_RUN_EXERCISE {
        let mut b = vec![0u8; 8];
        protocol::InfoRequest::new()
            .encode(&mut b)
            .expect("an 8-byte buffer");
        return b;
    }
    let strategy = match inp.u8() % 16 {
        s @ 0..=11 => u32::from(s),
        12 => 12,
        13 => u32::MAX,
        s => u32::from(s % 11),
    };
    let iterations = match inp.u8() {
        0 => 0,
        n => u32::from(n % 128) + 1,
    };
    let (min, max) = match inp.u8() % 4 {
        0 => (u32::from(inp.u8() % 64), u32::from(inp.u8() % 65)),
        1 => (u32::from(inp.u16() % 4096), u32::from(inp.u16() % 4097)),
        2 => {
            let hi = protocol::MAX_ALLOC_SIZE + 1;
            (hi - 1 - u32::from(inp.u8()), hi - u32::from(inp.u8() % 2))
        }
        _ => (inp.u32(), inp.u32()),
    };
    let align = match inp.u8() % 16 {
        0 => 0,
        a @ 1..=13 => 1 << (a - 1),
        14 => 3,
        _ => inp.u32(),
    };
    let seed = inp.u64();
    let flags = match inp.u8() {
        0..=249 => 0,
        f => u32::from(f),
    };
    let req = RunRequest {
        flags: flags.into(),
        strategy: strategy.into(),
        ..RunRequest::new(StrategyId::Global, iterations, min, max, seed).with_align(align)
    };
    let mut b = vec![0u8; RunRequest::SIZE];
    let n = req.encode(&mut b).expect("a buffer of RunRequest::SIZE");
    b.truncate(n);
    b
}

/// What the driver's decoding says the request must complete with.
enum Expect {
    /// This error status.
    Status(NtStatus),
    /// Success, with this decoded request.
    Success(Request),
}

fn expect(call: &Call, offered: &[StrategyId]) -> Expect {
    let need = ioctl_access(call.code);
    if (need & FILE_READ_DATA != 0 && !call.access.read)
        || (need & FILE_WRITE_DATA != 0 && !call.access.write)
    {
        return Expect::Status(STATUS_ACCESS_DENIED);
    }
    match decode_request(call.code, &call.input, call.output_len) {
        Err(status) => Expect::Status(status),
        Ok(Request::RunExercise(params)) if !offered.contains(&params.strategy) => {
            Expect::Status(protocol::STATUS_NOT_SUPPORTED)
        }
        Ok(request) => Expect::Success(request),
    }
}

/// Sends `call` and checks everything the module lists.
fn send(host: &Host, device: Device, offered: &[StrategyId], call: &Call) -> Result<(), String> {
    let expected = expect(call, offered);
    if let Expect::Success(Request::RunExercise(p)) = &expected
        && u64::from(p.iterations) * u64::from(p.max_size) > WORK_BUDGET
    {
        return Ok(());
    }
    let before = host.outstanding_blocks();
    if let Some(rule) = call.fault {
        host.inject(rule);
    }
    let result = host.device_io_control_with_access(
        device,
        call.access,
        call.code,
        &call.input,
        call.output_len,
    );
    host.clear_injection();
    let completion = match result {
        Ok(c) => c,
        Err(Error::Request(why)) if ioctl_method(call.code) != METHOD_BUFFERED => {
            // kmdf-host models METHOD_BUFFERED only: refused before the
            // driver saw it.
            let _ = why;
            return check_clean(host, before, "a refused request");
        }
        Err(e) => return Err(format!("the host: {e}")),
    };
    check_completion(call, &expected, offered, &completion)?;
    check_clean(host, before, "the request")
}

fn check_completion(
    call: &Call,
    expected: &Expect,
    offered: &[StrategyId],
    c: &Completion,
) -> Result<(), String> {
    let status = c.status;
    let hex = |s: NtStatus| format!("0x{:08X}", s as u32);
    if status != STATUS_SUCCESS
        && status != STATUS_ACCESS_DENIED
        && !protocol::STATUSES.contains(&status)
    {
        return Err(format!("undocumented status {}", hex(status)));
    }
    if c.information > call.output_len {
        return Err(format!(
            "Information {} exceeds the output length {}",
            c.information, call.output_len
        ));
    }
    if c.output.len() != c.information.min(call.output_len) && status == STATUS_SUCCESS {
        return Err(format!(
            "{} bytes copied back for Information {}",
            c.output.len(),
            c.information
        ));
    }
    let may_fail = call.fault.is_some() && status == STATUS_INSUFFICIENT_RESOURCES;
    if status != STATUS_SUCCESS {
        if c.information != 0 {
            return Err(format!(
                "status {} with Information {}",
                hex(status),
                c.information
            ));
        }
        return match expected {
            Expect::Status(s) if *s == status => Ok(()),
            _ if may_fail => Ok(()),
            Expect::Status(s) => Err(format!("status {}, expected {}", hex(status), hex(*s))),
            Expect::Success(r) => Err(format!("status {}, expected success ({r:?})", hex(status))),
        };
    }
    let Expect::Success(request) = expected else {
        let Expect::Status(s) = expected else {
            unreachable!()
        };
        return Err(format!("success, expected {}", hex(*s)));
    };
    let size = request.ioctl().response_size();
    if c.information != size {
        return Err(format!(
            "success with Information {}, expected {size}",
            c.information
        ));
    }
    match request {
        Request::GetInfo => {
            let view =
                InfoResponse::decode(&c.output).map_err(|s| format!("decode: {}", hex(s)))?;
            if !view.unused_slots_are_zero() {
                return Err("GET_INFO: unused strategy slots are not zero".into());
            }
            let listed: Result<Vec<StrategyId>, String> = view
                .strategies()
                .map(|s| {
                    s.strategy()
                        .ok_or_else(|| format!("unknown strategy {s:?}"))
                })
                .collect();
            let listed = listed?;
            if listed != offered {
                return Err(format!("GET_INFO lists {listed:?}"));
            }
        }
        Request::PoolStats => {
            let stats =
                PoolStatsResponse::decode(&c.output).map_err(|s| format!("decode: {}", hex(s)))?;
            for e in stats.entries() {
                if e.outstanding_allocations.get() != 0
                    || e.outstanding_bytes.get() != 0
                    || e.allocations != e.frees
                {
                    return Err(format!("POOL_STATS shows memory outstanding: {e:?}"));
                }
            }
        }
        Request::RunExercise(params) => {
            let r = RunResponse::decode(&c.output)
                .map_err(|s| format!("decode: {}", hex(s)))?
                .report;
            if r.strategy.get() != params.strategy as u32
                || r.ntstatus.get() != STATUS_SUCCESS
                || r.outstanding.get() != 0
                || r.allocations != r.frees
                || r.checksum.get() != expected_strategy_checksum(params)
            {
                return Err(format!(
                    "RUN_EXERCISE report {r:?} does not check (expected checksum {:#x})",
                    expected_strategy_checksum(params)
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcom_sample_core::protocol::{STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_DEVICE_REQUEST};

    fn call(code: u32, input: Vec<u8>, output_len: usize) -> Call {
        Call {
            code,
            access: Access::READ_WRITE,
            input,
            output_len,
            fault: None,
        }
    }

    fn header() -> Vec<u8> {
        build_request(IOCTL_KCOM_GET_INFO, &mut Input::new(&[]))
    }

    fn failed(status: NtStatus, information: usize) -> Completion {
        Completion {
            status,
            information,
            output: Vec::new(),
        }
    }

    #[test]
    fn the_oracle_follows_the_drivers_decoding_and_the_handles_access() {
        let short = call(IOCTL_KCOM_GET_INFO, header(), 4);
        assert!(matches!(
            expect(&short, &[]),
            Expect::Status(STATUS_BUFFER_TOO_SMALL)
        ));
        let unknown = call(0x8C0E_6010, header(), 64);
        assert!(matches!(
            expect(&unknown, &[]),
            Expect::Status(STATUS_INVALID_DEVICE_REQUEST)
        ));
        let mut no_access = call(IOCTL_KCOM_GET_INFO, header(), InfoResponse::SIZE);
        no_access.access = Access {
            read: false,
            write: true,
        };
        assert!(matches!(
            expect(&no_access, &[]),
            Expect::Status(STATUS_ACCESS_DENIED)
        ));
        let run = RunRequest::new(StrategyId::FreeList, 4, 8, 64, 1);
        let mut input = vec![0u8; RunRequest::SIZE];
        run.encode(&mut input).unwrap();
        let run = call(IOCTL_KCOM_RUN_EXERCISE, input, RunResponse::SIZE);
        assert!(matches!(
            expect(&run, &[StrategyId::Global]),
            Expect::Status(protocol::STATUS_NOT_SUPPORTED)
        ));
        assert!(matches!(
            expect(&run, &[StrategyId::FreeList]),
            Expect::Success(Request::RunExercise(_))
        ));
    }

    #[test]
    fn completions_that_break_a_rule_are_findings() {
        let c = call(IOCTL_KCOM_GET_INFO, header(), 4);
        let e = expect(&c, &[]);
        assert!(check_completion(&c, &e, &[], &failed(STATUS_BUFFER_TOO_SMALL, 0)).is_ok());
        // Undocumented status, Information on a failure, the wrong status,
        // Information beyond the output buffer, a success where the
        // decoding predicts a failure.
        for bad in [
            failed(0xC000_0001_u32 as NtStatus, 0),
            failed(STATUS_BUFFER_TOO_SMALL, 2),
            failed(STATUS_INVALID_DEVICE_REQUEST, 0),
            failed(STATUS_INSUFFICIENT_RESOURCES, 0),
            failed(STATUS_SUCCESS, 5),
            Completion {
                status: STATUS_SUCCESS,
                information: 4,
                output: vec![0; 4],
            },
        ] {
            assert!(check_completion(&c, &e, &[], &bad).is_err(), "{bad:?}");
        }
        // With a pool failure armed, STATUS_INSUFFICIENT_RESOURCES may
        // stand in for the predicted status.
        let mut armed = call(IOCTL_KCOM_GET_INFO, header(), 4);
        armed.fault = Some(FaultInjection::Nth {
            filter: TagFilter::Any,
            n: 1,
        });
        let e = expect(&armed, &[]);
        let out_of_pool = failed(STATUS_INSUFFICIENT_RESOURCES, 0);
        assert!(check_completion(&armed, &e, &[], &out_of_pool).is_ok());
    }

    #[test]
    fn a_success_must_decode_and_check() {
        let run = RunRequest::new(StrategyId::Global, 4, 8, 64, 9);
        let mut input = vec![0u8; RunRequest::SIZE];
        run.encode(&mut input).unwrap();
        let c = call(IOCTL_KCOM_RUN_EXERCISE, input, RunResponse::SIZE);
        let offered = [StrategyId::Global];
        let e = expect(&c, &offered);
        let Expect::Success(Request::RunExercise(params)) = e else {
            panic!("a valid run");
        };
        // A zeroed buffer does not decode (its header is wrong).
        let zeros = Completion {
            status: STATUS_SUCCESS,
            information: RunResponse::SIZE,
            output: vec![0; RunResponse::SIZE],
        };
        assert!(check_completion(&c, &e, &offered, &zeros).is_err());
        // A report with the right checksum checks; one bit off does not.
        let good = report_bytes(&params, expected_strategy_checksum(&params));
        let ok = Completion {
            status: STATUS_SUCCESS,
            information: RunResponse::SIZE,
            output: good,
        };
        assert!(check_completion(&c, &e, &offered, &ok).is_ok());
        let wrong = report_bytes(&params, expected_strategy_checksum(&params) ^ 1);
        let bad = Completion {
            output: wrong,
            ..ok
        };
        assert!(check_completion(&c, &e, &offered, &bad).is_err());
    }

    /// A `RUN_EXERCISE` response for `params` carrying `checksum`.
    fn report_bytes(params: &kcom_sample_core::ExerciseParams, checksum: u64) -> Vec<u8> {
        let response = RunResponse {
            header: protocol::Header::new(RunResponse::SIZE),
            report: protocol::ExerciseReport {
                strategy: (params.strategy as u32).into(),
                ntstatus: STATUS_SUCCESS.into(),
                allocations: 4u64.into(),
                frees: 4u64.into(),
                bytes: 0u64.into(),
                peak_bytes: 0u64.into(),
                outstanding: 0u64.into(),
                nanos: 0u64.into(),
                checksum: checksum.into(),
            },
        };
        let mut out = vec![0u8; RunResponse::SIZE];
        response.encode(&mut out).unwrap();
        out
    }
}
