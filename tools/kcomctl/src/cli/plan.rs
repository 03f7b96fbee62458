//! The plan: `run`'s arguments validated against the protocol's limits, the
//! strategies resolved against what the driver offers, the loopback's fault
//! plan. Nothing is sent before these checks pass.

use kcom_sample_core::protocol::{
    DEFAULT_ALIGN, MAX_ALIGN, MAX_ALLOC_SIZE, MAX_ITERATIONS, MAX_TOTAL_BYTES, RunRequest,
    StrategyId,
};

use super::Failure;
use super::args::RunArgs;
use crate::client::{DeviceInfo, OfferedStrategy};

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

/// Parses the fault plan (`STRATEGY:N` items). Whether the backend can
/// fail the strategy's allocations is [`super::backend`]'s to say.
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
        let n: u64 = n.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(bad());
        }
        faults.push((strategy, n));
    }
    Ok(faults)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::EXIT_USAGE;
    use crate::cli::args::{DEFAULT_ITERATIONS, DEFAULT_MAX_SIZE, DEFAULT_MIN_SIZE, DEFAULT_SEED};
    use kcom_sample_core::protocol::pool_type;

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
        for bad in ["bump", "bump:", "bump:0", "bump:-1", "nope:1"] {
            assert!(parse_faults(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
