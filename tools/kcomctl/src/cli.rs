//! The command line: arguments, their validation, the commands and their
//! output (tables for people, JSON for programs).

use std::io::IsTerminal;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kcom::STATUS_SUCCESS;
use kcom_sample_core::expected_strategy_checksum;
use kcom_sample_core::protocol::{
    DEFAULT_ALIGN, ExerciseReport, MAX_ALIGN, MAX_ALLOC_SIZE, MAX_ITERATIONS, MAX_TOTAL_BYTES,
    PoolStatsEntry, RunRequest, StrategyId, pool_type,
};
use serde::Serialize;

use crate::client::{Client, ClientError, DeviceInfo, ErrorKind, OfferedStrategy};
use crate::loopback::{Loopback, SIM_POOL};
use crate::transport::{Status, Transport};

/// Exit code: everything succeeded.
pub const EXIT_OK: i32 = 0;
/// Exit code: an exercise failed or leaked, or the device could not be used.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad command line input (nothing was sent to the device).
pub const EXIT_USAGE: i32 = 2;

/// Default `--iterations`.
pub const DEFAULT_ITERATIONS: u64 = 10_000;
/// Default `--min-size`.
pub const DEFAULT_MIN_SIZE: u64 = 16;
/// Default `--max-size`.
pub const DEFAULT_MAX_SIZE: u64 = 4096;
/// Default `--seed`.
pub const DEFAULT_SEED: u64 = 1;

/// Environment variable with the loopback's fault plan (same syntax as
/// `--inject-fault`, comma separated).
pub const INJECT_FAULT_ENV: &str = "KCOMCTL_INJECT_FAULT";

/// How long a run may take before the progress indicator appears.
const PROGRESS_DELAY: Duration = Duration::from_millis(300);

/// User-mode client of the kcom sample driver.
///
/// Talks to the installed driver (Windows) or, with --loopback, to the same
/// driver logic running in this process over a simulated kernel pool.
#[derive(Parser, Debug)]
#[command(name = "kcomctl", version)]
pub struct Cli {
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true, help_heading = "Output and backend")]
    pub json: bool,

    /// Use the in-process loopback device (the default where there is no
    /// device backend, i.e. everywhere but Windows).
    #[arg(
        long,
        global = true,
        conflicts_with = "device",
        help_heading = "Output and backend"
    )]
    pub loopback: bool,

    /// Use the installed driver (Windows only; the default there).
    #[arg(long, global = true, help_heading = "Output and backend")]
    pub device: bool,

    /// Loopback only: make the Nth simulated pool allocation of STRATEGY's
    /// exercise fail (testing aid).
    #[arg(
        long,
        global = true,
        hide = true,
        env = INJECT_FAULT_ENV,
        value_name = "STRATEGY:N",
        value_delimiter = ','
    )]
    pub inject_fault: Vec<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the strategies the driver offers (GET_INFO).
    List,
    /// Run exercises and print what each did (RUN_EXERCISE).
    Run(RunArgs),
    /// Show the pool accounting (POOL_STATS).
    Stats,
}

/// Arguments of `run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Strategies to run, or `all` for every one the driver offers.
    #[arg(required = true, value_name = "STRATEGY")]
    pub strategies: Vec<String>,

    /// Blocks each exercise allocates (1..=1000000).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_ITERATIONS)]
    pub iterations: u64,

    /// Smallest block size in bytes (1..=1048576).
    #[arg(long, value_name = "B", default_value_t = DEFAULT_MIN_SIZE)]
    pub min_size: u64,

    /// Largest block size in bytes (min-size..=1048576).
    #[arg(long, value_name = "B", default_value_t = DEFAULT_MAX_SIZE)]
    pub max_size: u64,

    /// Block alignment: 0 for the default (8) or a power of two up to 4096.
    #[arg(long, value_name = "A", default_value_t = 0)]
    pub align: u64,

    /// Seed of the block sizes and of the patterns written into them.
    #[arg(long, value_name = "S", default_value_t = DEFAULT_SEED)]
    pub seed: u64,
}

/// Which strategies `run` was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every strategy the driver offers.
    All,
    /// These, in this order, without repeats.
    Named(Vec<StrategyId>),
}

/// A validated `run`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunPlan {
    /// The strategies.
    pub selection: Selection,
    /// Blocks per exercise.
    pub iterations: u32,
    /// Smallest block size.
    pub min_size: u32,
    /// Largest block size.
    pub max_size: u32,
    /// Alignment as sent (0 = default).
    pub align: u32,
    /// Seed.
    pub seed: u64,
}

impl RunPlan {
    /// The request for the strategy with wire value `id`.
    pub fn request(&self, id: u32) -> RunRequest {
        RunRequest {
            strategy: id,
            align: self.align,
            ..RunRequest::new(
                StrategyId::Global,
                self.iterations,
                self.min_size,
                self.max_size,
                self.seed,
            )
        }
    }
}

/// A command failure: its exit code and a one-line message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Exit code.
    pub code: i32,
    /// One line, without the `kcomctl:` prefix.
    pub message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_FAILED,
            message: message.into(),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::failed(e.to_string())
    }
}

/// Every strategy name this client knows, comma separated.
fn known_names() -> String {
    let names: Vec<&str> = StrategyId::ALL.iter().map(|s| s.name()).collect();
    names.join(", ")
}

/// Checks a value against an inclusive range, naming the option.
fn in_range(option: &str, value: u64, lo: u64, hi: u64) -> Result<u32, Failure> {
    if value < lo || value > hi {
        return Err(Failure::usage(format!(
            "{option} must be in {lo}..={hi}, got {value}"
        )));
    }
    u32::try_from(value).map_err(|_| Failure::usage(format!("{option} is too large: {value}")))
}

/// Validates `run`'s arguments against the protocol's limits. Nothing is
/// sent to the device before this succeeds.
pub fn validate_run(args: &RunArgs) -> Result<RunPlan, Failure> {
    let mut named = Vec::new();
    let mut all = false;
    for name in &args.strategies {
        if name == "all" {
            all = true;
            continue;
        }
        let Some(id) = StrategyId::from_name(name) else {
            return Err(Failure::usage(format!(
                "unknown strategy '{name}'; valid: {}, all",
                known_names()
            )));
        };
        if !named.contains(&id) {
            named.push(id);
        }
    }
    if all && !named.is_empty() {
        return Err(Failure::usage(
            "'all' runs every offered strategy; give it alone or name strategies instead",
        ));
    }
    let iterations = in_range(
        "--iterations",
        args.iterations,
        1,
        u64::from(MAX_ITERATIONS),
    )?;
    let min_size = in_range("--min-size", args.min_size, 1, u64::from(MAX_ALLOC_SIZE))?;
    let max_size = in_range("--max-size", args.max_size, 1, u64::from(MAX_ALLOC_SIZE))?;
    if min_size > max_size {
        return Err(Failure::usage(format!(
            "--min-size ({min_size}) must not be larger than --max-size ({max_size})"
        )));
    }
    let align = u32::try_from(args.align).unwrap_or(u32::MAX);
    if align != 0 && (!align.is_power_of_two() || align > MAX_ALIGN) {
        return Err(Failure::usage(format!(
            "--align must be 0 (default, {DEFAULT_ALIGN}) or a power of two up to {MAX_ALIGN}, got {}",
            args.align
        )));
    }
    let total = u64::from(iterations) * u64::from(max_size);
    if total > MAX_TOTAL_BYTES {
        return Err(Failure::usage(format!(
            "--iterations × --max-size must be at most {MAX_TOTAL_BYTES} bytes (256 MiB), got {total}; lower one of them"
        )));
    }
    Ok(RunPlan {
        selection: if all {
            Selection::All
        } else {
            Selection::Named(named)
        },
        iterations,
        min_size,
        max_size,
        align,
        seed: args.seed,
    })
}

/// The offered strategies `plan` runs, in order: every offered one for
/// `all`, else the named ones, each of which must be offered.
pub fn resolve<'a>(
    plan: &RunPlan,
    info: &'a DeviceInfo,
) -> Result<Vec<&'a OfferedStrategy>, Failure> {
    check_device_limits(plan, info)?;
    match &plan.selection {
        Selection::All => {
            if info.strategies.is_empty() {
                return Err(Failure::failed("the driver offers no strategy"));
            }
            Ok(info.strategies.iter().collect())
        }
        Selection::Named(ids) => ids
            .iter()
            .map(|id| {
                info.strategies
                    .iter()
                    .find(|s| s.id == id.as_u32())
                    .ok_or_else(|| {
                        Failure::usage(format!(
                            "strategy '{}' is not offered by this driver; offered: {}",
                            id.name(),
                            info.names()
                        ))
                    })
            })
            .collect(),
    }
}

/// Checks the plan against the limits the device reports (a driver built
/// with tighter limits than this client).
fn check_device_limits(plan: &RunPlan, info: &DeviceInfo) -> Result<(), Failure> {
    let checks = [
        (
            "--iterations",
            u64::from(plan.iterations),
            u64::from(info.max_iterations),
        ),
        (
            "--max-size",
            u64::from(plan.max_size),
            u64::from(info.max_alloc_size),
        ),
        ("--align", u64::from(plan.align), u64::from(info.max_align)),
        (
            "--iterations × --max-size",
            u64::from(plan.iterations) * u64::from(plan.max_size),
            info.max_total_bytes,
        ),
    ];
    for (option, value, limit) in checks {
        if value > limit {
            return Err(Failure::usage(format!(
                "{option} ({value}) exceeds this driver's limit ({limit})"
            )));
        }
    }
    Ok(())
}

/// Parses the fault plan (`STRATEGY:N` items).
pub fn parse_faults(items: &[String]) -> Result<Vec<(StrategyId, u64)>, Failure> {
    let mut faults = Vec::new();
    for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let bad = || {
            Failure::usage(format!(
                "--inject-fault expects STRATEGY:N with N >= 1 (e.g. wdk-nonpaged:1), got '{item}'"
            ))
        };
        let (name, n) = item.split_once(':').ok_or_else(bad)?;
        let Some(strategy) = StrategyId::from_name(name) else {
            return Err(Failure::usage(format!(
                "unknown strategy '{name}' in --inject-fault; valid: {}",
                known_names()
            )));
        };
        if strategy == StrategyId::Global {
            return Err(Failure::usage(
                "--inject-fault cannot target 'global': it allocates from the host heap, \
                 not the simulated pool",
            ));
        }
        let n: u64 = n.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(bad());
        }
        faults.push((strategy, n));
    }
    Ok(faults)
}

/// The backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `kcom-sample-core` in this process.
    Loopback,
    /// The installed driver (Windows).
    Device,
}

/// Whether this build has the device backend.
pub const HAS_DEVICE_BACKEND: bool = cfg!(windows);

/// The backend the flags ask for.
pub fn choose_backend(cli: &Cli, faults: bool) -> Result<Backend, Failure> {
    let backend = if cli.loopback {
        Backend::Loopback
    } else if cli.device || HAS_DEVICE_BACKEND {
        Backend::Device
    } else {
        Backend::Loopback
    };
    if backend == Backend::Device && !HAS_DEVICE_BACKEND {
        return Err(Failure::usage(
            "the device backend exists only on Windows; use --loopback",
        ));
    }
    if backend == Backend::Device && faults {
        return Err(Failure::usage(format!(
            "--inject-fault ({INJECT_FAULT_ENV}) works only with --loopback"
        )));
    }
    Ok(backend)
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

/// A pool type for people.
pub fn pool_name(pt: u32) -> String {
    let base = |pt: u32| match pt {
        pool_type::NON_PAGED => Some("NonPaged"),
        pool_type::PAGED => Some("Paged"),
        pool_type::NON_PAGED_NX => Some("NonPagedNx"),
        _ => None,
    };
    if pt == pool_type::HOST {
        return "host heap".into();
    }
    if pt & SIM_POOL != 0
        && let Some(name) = base(pt & !SIM_POOL)
    {
        return format!("{name} (simulated)");
    }
    match base(pt) {
        Some(name) => name.into(),
        None => format!("0x{pt:08X}"),
    }
}

/// A pool tag as `!poolused` prints it (four characters), or hex when it
/// is not printable ASCII.
pub fn tag_text(tag: u32) -> String {
    let bytes = tag.to_le_bytes();
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        bytes.iter().map(|&b| b as char).collect()
    } else {
        format!("0x{tag:08X}")
    }
}

/// `n` and a noun, in the plural unless `n == 1` (`"3 strategies"`).
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else if let Some(stem) = noun.strip_suffix('y') {
        format!("{n} {stem}ies")
    } else {
        format!("{n} {noun}s")
    }
}

/// A duration per operation for people.
fn per_op(nanos: u64, ops: u64) -> String {
    if ops == 0 {
        return "-".into();
    }
    let ns = nanos as f64 / ops as f64;
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} us", ns / 1_000.0)
    } else {
        format!("{:.2} ms", ns / 1_000_000.0)
    }
}

/// Renders rows as aligned columns; `right` marks right-aligned columns.
fn table(headers: &[&str], right: &[bool], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            let last = i + 1 == cells.len();
            if i > 0 {
                out.push_str("  ");
            }
            if right.get(i).copied().unwrap_or(false) {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if !last {
                    out.push_str(&" ".repeat(pad));
                }
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::failed(format!("cannot encode JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// `list --json` item.
#[derive(Serialize, Debug)]
struct StrategyRecord<'a> {
    strategy: &'a str,
    id: u32,
    description: &'a str,
    pool_type: u32,
    pool: String,
    tag: u32,
    tag_text: String,
    passive_only: bool,
}

/// `run --json` item: one per strategy.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// Strategy name.
    pub strategy: String,
    /// Succeeded, verified, nothing outstanding.
    pub ok: bool,
    /// The run's `NTSTATUS` (signed, as on the wire).
    pub ntstatus: i32,
    /// Its name (`STATUS_SUCCESS`), or hex.
    pub status: String,
    /// Successful allocations (`null` when the run failed).
    pub allocations: Option<u64>,
    /// Frees.
    pub frees: Option<u64>,
    /// Bytes allocated in total.
    pub bytes: Option<u64>,
    /// Most bytes live at once.
    pub peak_bytes: Option<u64>,
    /// Allocations not freed after the run.
    pub outstanding: Option<u64>,
    /// Elapsed nanoseconds (device clock).
    pub nanos: Option<u64>,
    /// Checksum of the verified patterns.
    pub checksum: Option<u64>,
    /// Why `ok` is false; `null` when it is true.
    pub error: Option<String>,
}

impl RunRecord {
    /// The record of one run: its report, or the status it failed with.
    pub fn new(name: &str, expected: u64, result: Result<ExerciseReport, i32>) -> Self {
        match result {
            Ok(r) => {
                let error = if r.ntstatus != STATUS_SUCCESS {
                    Some(format!("the report carries {}", Status(r.ntstatus)))
                } else if r.outstanding != 0 {
                    Some(format!(
                        "{} allocation(s) still outstanding after the run",
                        r.outstanding
                    ))
                } else if r.checksum != expected {
                    Some(format!(
                        "checksum 0x{:016X} differs from the expected 0x{expected:016X}",
                        r.checksum
                    ))
                } else {
                    None
                };
                RunRecord {
                    strategy: name.to_owned(),
                    ok: error.is_none(),
                    ntstatus: r.ntstatus,
                    status: Status(r.ntstatus).label(),
                    allocations: Some(r.allocations),
                    frees: Some(r.frees),
                    bytes: Some(r.bytes),
                    peak_bytes: Some(r.peak_bytes),
                    outstanding: Some(r.outstanding),
                    nanos: Some(r.nanos),
                    checksum: Some(r.checksum),
                    error,
                }
            }
            Err(status) => RunRecord {
                strategy: name.to_owned(),
                ok: false,
                ntstatus: status,
                status: Status(status).label(),
                allocations: None,
                frees: None,
                bytes: None,
                peak_bytes: None,
                outstanding: None,
                nanos: None,
                checksum: None,
                error: Some(format!("the driver failed the run with {}", Status(status))),
            },
        }
    }

    /// The table row.
    fn row(&self) -> Vec<String> {
        let num = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let result = if self.ok {
            "ok".to_owned()
        } else if self.ntstatus != STATUS_SUCCESS {
            Status(self.ntstatus).to_string()
        } else if self.outstanding.unwrap_or(0) != 0 {
            "LEAKED".to_owned()
        } else {
            "CHECKSUM MISMATCH".to_owned()
        };
        vec![
            self.strategy.clone(),
            result,
            num(self.allocations),
            num(self.frees),
            num(self.bytes),
            num(self.peak_bytes),
            num(self.outstanding),
            match (self.nanos, self.allocations) {
                (Some(n), Some(a)) => per_op(n, a),
                _ => "-".into(),
            },
        ]
    }
}

/// `stats --json` item.
#[derive(Serialize, Debug)]
struct PoolRecord {
    pool_type: u32,
    pool: String,
    tag: u32,
    tag_text: String,
    allocations: u64,
    frees: u64,
    outstanding_allocations: u64,
    outstanding_bytes: u64,
    peak_bytes: u64,
}

impl From<&PoolStatsEntry> for PoolRecord {
    fn from(e: &PoolStatsEntry) -> Self {
        PoolRecord {
            pool_type: e.pool_type,
            pool: pool_name(e.pool_type),
            tag: e.tag,
            tag_text: tag_text(e.tag),
            allocations: e.allocations,
            frees: e.frees,
            outstanding_allocations: e.outstanding_allocations,
            outstanding_bytes: e.outstanding_bytes,
            peak_bytes: e.peak_bytes,
        }
    }
}

// ---------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------

/// A progress line on stderr that appears only when stderr is a terminal
/// and the run takes longer than [`PROGRESS_DELAY`].
struct Progress {
    bar: ProgressBar,
    stop: Option<mpsc::Sender<()>>,
    watcher: Option<thread::JoinHandle<()>>,
}

impl Progress {
    fn start(total: usize) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg} ({elapsed})")
        {
            bar.set_style(style);
        }
        let (stop, watcher) = if std::io::stderr().is_terminal() {
            let (tx, rx) = mpsc::channel::<()>();
            let shown = bar.clone();
            let watcher = thread::spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(PROGRESS_DELAY) {
                    shown.set_draw_target(ProgressDrawTarget::stderr());
                    shown.enable_steady_tick(Duration::from_millis(100));
                }
            });
            (Some(tx), Some(watcher))
        } else {
            (None, None)
        };
        Progress { bar, stop, watcher }
    }

    fn running(&self, name: &str) {
        self.bar.set_message(name.to_owned());
    }

    fn done_one(&self) {
        self.bar.inc(1);
    }

    fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            // The watcher may already have shown the bar and ended; then
            // nobody receives this, which is fine.
            let _ = stop.send(());
        }
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
        self.bar.finish_and_clear();
    }
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

fn cmd_list<T: Transport>(client: &Client<T>, json: bool) -> Result<i32, Failure> {
    let info = client.info()?;
    if json {
        let records: Vec<StrategyRecord<'_>> = info
            .strategies
            .iter()
            .map(|s| StrategyRecord {
                strategy: &s.name,
                id: s.id,
                description: &s.description,
                pool_type: s.pool_type,
                pool: pool_name(s.pool_type),
                tag: s.tag,
                tag_text: tag_text(s.tag),
                passive_only: s.passive_only(),
            })
            .collect();
        print_json(&records)?;
        return Ok(EXIT_OK);
    }
    println!(
        "{}: {} offered, protocol {}",
        client.transport().describe(),
        plural(info.strategies.len(), "strategy"),
        info.version
    );
    println!(
        "limits: iterations <= {}, block <= {} B, align <= {}, live blocks <= {}, iterations x max-size <= {} B",
        info.max_iterations,
        info.max_alloc_size,
        info.max_align,
        info.max_live_blocks,
        info.max_total_bytes
    );
    println!();
    let rows: Vec<Vec<String>> = info
        .strategies
        .iter()
        .map(|s| {
            let mut description = s.description.clone();
            if s.passive_only() {
                description.push_str(" [PASSIVE_LEVEL only]");
            }
            vec![
                s.name.clone(),
                pool_name(s.pool_type),
                tag_text(s.tag),
                description,
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["strategy", "pool", "tag", "description"],
            &[false; 4],
            &rows
        )
    );
    Ok(EXIT_OK)
}

fn cmd_run<T: Transport>(client: &Client<T>, plan: &RunPlan, json: bool) -> Result<i32, Failure> {
    let info = client.info()?;
    let strategies = resolve(plan, &info)?;
    let progress = Progress::start(strategies.len());
    let mut records = Vec::with_capacity(strategies.len());
    let mut fatal = None;
    for s in &strategies {
        progress.running(&s.name);
        let request = plan.request(s.id);
        let expected = request
            .validate()
            .map(|p| expected_strategy_checksum(&p))
            .unwrap_or(0);
        match client.run(&request) {
            Ok(report) => records.push(RunRecord::new(&s.name, expected, Ok(report))),
            Err(ClientError {
                kind: ErrorKind::Status(status),
                ..
            }) => records.push(RunRecord::new(&s.name, expected, Err(status))),
            Err(other) => {
                fatal = Some(other);
                break;
            }
        }
        progress.done_one();
    }
    progress.finish();
    if let Some(e) = fatal {
        return Err(Failure::from(e));
    }
    let failed = records.iter().filter(|r| !r.ok).count();
    if json {
        print_json(&records)?;
    } else {
        println!("{}", client.transport().describe());
        println!(
            "{} iterations per exercise, blocks of {}..={} B, align {}, seed {}; \
             time/op: one allocation with its pattern write, check and free",
            plan.iterations,
            plan.min_size,
            plan.max_size,
            if plan.align == 0 {
                DEFAULT_ALIGN
            } else {
                plan.align
            },
            plan.seed
        );
        println!();
        let rows: Vec<Vec<String>> = records.iter().map(RunRecord::row).collect();
        print!(
            "{}",
            table(
                &[
                    "strategy",
                    "result",
                    "allocations",
                    "frees",
                    "bytes",
                    "peak",
                    "outstanding",
                    "time/op",
                ],
                &[false, false, true, true, true, true, true, true],
                &rows
            )
        );
        println!();
        if failed == 0 {
            println!(
                "{} succeeded, nothing outstanding",
                plural(records.len(), "exercise")
            );
        } else {
            for r in records.iter().filter(|r| !r.ok) {
                if let Some(e) = &r.error {
                    println!("{}: {e}", r.strategy);
                }
            }
            println!("{failed} of {} failed", plural(records.len(), "exercise"));
        }
    }
    Ok(if failed == 0 { EXIT_OK } else { EXIT_FAILED })
}

fn cmd_stats<T: Transport>(client: &Client<T>, json: bool) -> Result<i32, Failure> {
    let entries = client.pool_stats()?;
    if json {
        let records: Vec<PoolRecord> = entries.iter().map(PoolRecord::from).collect();
        print_json(&records)?;
        return Ok(EXIT_OK);
    }
    println!(
        "{}: {}",
        client.transport().describe(),
        plural(entries.len(), "pool entry")
    );
    println!();
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                pool_name(e.pool_type),
                tag_text(e.tag),
                e.allocations.to_string(),
                e.frees.to_string(),
                e.outstanding_allocations.to_string(),
                e.outstanding_bytes.to_string(),
                e.peak_bytes.to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "pool",
                "tag",
                "allocations",
                "frees",
                "outstanding",
                "outstanding bytes",
                "peak bytes",
            ],
            &[false, false, true, true, true, true, true],
            &rows
        )
    );
    if entries
        .iter()
        .any(|e| e.pool_type & SIM_POOL != 0 && e.pool_type != pool_type::HOST)
    {
        println!();
        println!(
            "(simulated) rows: the simulated pool's own accounting, including memory the exercises do not count themselves"
        );
    }
    Ok(EXIT_OK)
}

/// Runs the parsed command line on `client`.
fn execute<T: Transport>(
    client: &Client<T>,
    cli: &Cli,
    plan: Option<&RunPlan>,
) -> Result<i32, Failure> {
    match (&cli.command, plan) {
        (Command::List, _) => cmd_list(client, cli.json),
        (Command::Stats, _) => cmd_stats(client, cli.json),
        (Command::Run(_), Some(plan)) => cmd_run(client, plan, cli.json),
        (Command::Run(_), None) => Err(Failure::failed("internal error: run without a plan")),
    }
}

#[cfg(windows)]
fn with_device(cli: &Cli, plan: Option<&RunPlan>) -> Result<i32, Failure> {
    let device = crate::device::Device::open().map_err(|e| Failure::failed(e.to_string()))?;
    execute(&Client::new(device), cli, plan)
}

#[cfg(not(windows))]
fn with_device(_: &Cli, _: Option<&RunPlan>) -> Result<i32, Failure> {
    Err(Failure::usage(
        "the device backend exists only on Windows; use --loopback",
    ))
}

/// Validates and runs a parsed command line; returns the exit code.
pub fn run(cli: &Cli) -> Result<i32, Failure> {
    // Everything the user typed is checked before a request is sent.
    let plan = match &cli.command {
        Command::Run(args) => Some(validate_run(args)?),
        _ => None,
    };
    let faults = parse_faults(&cli.inject_fault)?;
    match choose_backend(cli, !faults.is_empty())? {
        Backend::Loopback => {
            let loopback = Loopback::new().map_err(|s| {
                Failure::failed(format!("cannot build the loopback device: {}", Status(s)))
            })?;
            for (strategy, n) in faults {
                loopback.inject_fault(strategy, n).map_err(Failure::usage)?;
            }
            execute(&Client::new(loopback), cli, plan.as_ref())
        }
        Backend::Device => with_device(cli, plan.as_ref()),
    }
}

/// The program: parses `std::env::args`, runs, prints errors as one line
/// on stderr, and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with code 0; errors to stderr.
            let _ = e.print();
            return e.exit_code();
        }
    };
    match run(&cli) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("kcomctl: {}", failure.message);
            failure.code
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(strategies: &[&str]) -> RunArgs {
        RunArgs {
            strategies: strategies.iter().map(|s| s.to_string()).collect(),
            iterations: DEFAULT_ITERATIONS,
            min_size: DEFAULT_MIN_SIZE,
            max_size: DEFAULT_MAX_SIZE,
            align: 0,
            seed: DEFAULT_SEED,
        }
    }

    fn info(names: &[StrategyId]) -> DeviceInfo {
        DeviceInfo {
            version: 1,
            max_iterations: MAX_ITERATIONS,
            max_alloc_size: MAX_ALLOC_SIZE,
            max_align: MAX_ALIGN,
            max_live_blocks: 32,
            max_total_bytes: MAX_TOTAL_BYTES,
            strategies: names
                .iter()
                .map(|s| OfferedStrategy {
                    id: s.as_u32(),
                    name: s.name().into(),
                    description: String::new(),
                    flags: 0,
                    pool_type: pool_type::NON_PAGED_NX,
                    tag: 1,
                })
                .collect(),
        }
    }

    #[test]
    fn selections_are_validated_and_deduplicated() {
        let plan = validate_run(&args(&["bump", "pool", "bump"])).unwrap();
        assert_eq!(
            plan.selection,
            Selection::Named(vec![StrategyId::Bump, StrategyId::Pool])
        );
        assert_eq!(
            validate_run(&args(&["all"])).unwrap().selection,
            Selection::All
        );
        let e = validate_run(&args(&["bogus"])).unwrap_err();
        assert_eq!(e.code, EXIT_USAGE);
        assert!(e.message.contains("'bogus'") && e.message.contains("free-list, stack"));
        assert!(validate_run(&args(&["all", "bump"])).is_err());
    }

    #[test]
    fn every_limit_is_checked() {
        let with = |f: fn(&mut RunArgs)| {
            let mut a = args(&["global"]);
            f(&mut a);
            validate_run(&a)
        };
        assert!(with(|a| a.iterations = 0).is_err());
        assert!(with(|a| a.iterations = u64::from(MAX_ITERATIONS) + 1).is_err());
        assert!(with(|a| a.iterations = u64::MAX).is_err());
        assert!(with(|a| a.min_size = 0).is_err());
        assert!(with(|a| a.max_size = u64::from(MAX_ALLOC_SIZE) + 1).is_err());
        assert!(with(|a| a.min_size = 4097).is_err());
        assert!(with(|a| a.align = 3).is_err());
        assert!(with(|a| a.align = 8192).is_err());
        assert!(with(|a| a.align = u64::from(u32::MAX) + 8).is_err());
        let total = with(|a| {
            a.iterations = 257;
            a.min_size = 1;
            a.max_size = u64::from(MAX_ALLOC_SIZE);
        })
        .unwrap_err();
        assert!(total.message.contains("256 MiB"), "{}", total.message);
        // The edges themselves are fine, and the request passes the
        // driver's own validation.
        let edge = with(|a| {
            a.iterations = 256;
            a.min_size = 1;
            a.max_size = u64::from(MAX_ALLOC_SIZE);
            a.align = u64::from(MAX_ALIGN);
        })
        .unwrap();
        assert!(edge.request(StrategyId::Stack.as_u32()).validate().is_ok());
        let e = with(|a| a.iterations = 0).unwrap_err();
        assert_eq!(e.message, "--iterations must be in 1..=1000000, got 0");
    }

    #[test]
    fn named_strategies_must_be_offered() {
        let offered = info(&[StrategyId::Global, StrategyId::Bump]);
        let plan = validate_run(&args(&["bump"])).unwrap();
        let got = resolve(&plan, &offered).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "bump");
        let plan = validate_run(&args(&["all"])).unwrap();
        assert_eq!(resolve(&plan, &offered).unwrap().len(), 2);
        let plan = validate_run(&args(&["global", "stack"])).unwrap();
        let e = resolve(&plan, &offered).unwrap_err();
        assert_eq!(e.code, EXIT_USAGE);
        assert_eq!(
            e.message,
            "strategy 'stack' is not offered by this driver; offered: global, bump"
        );
        // Limits tighter on the device than in this client.
        let mut tight = offered.clone();
        tight.max_iterations = 100;
        let plan = validate_run(&args(&["all"])).unwrap();
        assert!(
            resolve(&plan, &tight)
                .unwrap_err()
                .message
                .contains("limit (100)")
        );
        assert!(resolve(&plan, &info(&[])).is_err());
    }

    #[test]
    fn fault_specs_are_parsed_strictly() {
        let ok = parse_faults(&["wdk-nonpaged:1".into(), " bump:3 ".into(), "".into()]).unwrap();
        assert_eq!(
            ok,
            vec![(StrategyId::WdkNonPaged, 1), (StrategyId::Bump, 3)]
        );
        for bad in ["bump", "bump:", "bump:0", "bump:-1", "nope:1", "global:1"] {
            assert!(parse_faults(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn records_flag_failures_leaks_and_bad_checksums() {
        let good = ExerciseReport {
            strategy: 0,
            ntstatus: STATUS_SUCCESS,
            allocations: 4,
            frees: 4,
            bytes: 100,
            peak_bytes: 50,
            outstanding: 0,
            nanos: 2000,
            checksum: 9,
        };
        let r = RunRecord::new("global", 9, Ok(good));
        assert!(r.ok && r.error.is_none());
        assert_eq!(r.row()[7], "500 ns");
        let r = RunRecord::new("global", 8, Ok(good));
        assert!(!r.ok);
        assert_eq!(r.row()[1], "CHECKSUM MISMATCH");
        let leak = ExerciseReport {
            outstanding: 1,
            frees: 3,
            ..good
        };
        let r = RunRecord::new("global", 9, Ok(leak));
        assert!(!r.ok);
        assert_eq!(r.row()[1], "LEAKED");
        let r = RunRecord::new("bump", 0, Err(kcom::STATUS_INSUFFICIENT_RESOURCES));
        assert!(!r.ok);
        assert_eq!(r.status, "STATUS_INSUFFICIENT_RESOURCES");
        assert_eq!(r.row()[1], "STATUS_INSUFFICIENT_RESOURCES (0xC000009A)");
        assert_eq!(r.allocations, None);
    }

    #[test]
    fn pools_and_tags_print_readably() {
        assert_eq!(pool_name(pool_type::HOST), "host heap");
        assert_eq!(pool_name(pool_type::NON_PAGED_NX), "NonPagedNx");
        assert_eq!(pool_name(SIM_POOL | pool_type::PAGED), "Paged (simulated)");
        assert_eq!(pool_name(77), "0x0000004D");
        assert_eq!(tag_text(u32::from_le_bytes(*b"KcNp")), "KcNp");
        assert_eq!(tag_text(1), "0x00000001");
        assert_eq!(per_op(5, 0), "-");
        assert_eq!(plural(1, "strategy"), "1 strategy");
        assert_eq!(plural(11, "strategy"), "11 strategies");
        assert_eq!(plural(2, "exercise"), "2 exercises");
        assert_eq!(per_op(3_000_000, 2), "1.50 ms");
        assert_eq!(per_op(3_000, 2), "1.5 us");
    }

    #[test]
    fn tables_align_columns() {
        let t = table(
            &["a", "n"],
            &[false, true],
            &[
                vec!["long".into(), "1".into()],
                vec!["x".into(), "100".into()],
            ],
        );
        assert_eq!(t, "a       n\nlong    1\nx     100\n");
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
