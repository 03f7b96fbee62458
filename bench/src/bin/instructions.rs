//! Instructions per step of every benchmark workload, counted by
//! `valgrind --tool=callgrind`, beside criterion's nanoseconds.
//!
//! ```text
//! cargo run -p kcom-bench --release --bin instructions -- [OPTIONS] [FILTER...]
//!
//!   FILTER        only workloads whose `group/name` contains one of these
//!   -j N          run N callgrind processes at once (default 1)
//!   --cache       also simulate the caches and report L1 data misses per step
//!   --list        print the workload ids and exit
//!   --run ID N    (internal) set workload ID up and run N steps
//! ```
//!
//! Every workload is run twice under callgrind, with `warmup` and with
//! `warmup + steps` steps (the counts of [`kcom_bench::Group`]); everything
//! else in the two runs (process start, setup, teardown) is the same code
//! on the same input, so the difference of the two instruction totals
//! divided by `steps` is the cost of one step. Callgrind counts are
//! deterministic for a given binary and input; the harness checks that by
//! running the short run twice and reporting the difference as `noise`.
//!
//! Besides the per-workload and target tables it prints, when every
//! contestant of a heap-matrix cell ran (`matrix` as a filter selects all
//! of them), one table of the matrix: kcom's `FreeList` divided by each
//! anchor, per cell.
//!
//! Anchors and kcom run the same workload code (the `kcom_bench` library,
//! which `cargo bench -p kcom-bench` times with criterion), with the same
//! region sizes and sequences.
//!
//! The nanosecond columns come from the last criterion run
//! (`target/criterion/<group>/<name>/new/`), if there is one; run
//! `cargo bench -p kcom-bench` first to fill them.
//!
//! An external program that speaks the same `--list` / `--run` protocol
//! (lines `group name warmup steps` on `--list`) can add contestants: set
//! `KCOM_BENCH_EXTERNAL` to its path (`ci/kcom-rs-bench.sh` builds the
//! kcom-rs one).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use kcom_bench::COMPARISONS;
use kcom_bench::alloc::{MATRIX, MATRIX_CONTESTANTS};

/// Relative distance from a target within which a nanosecond ratio that
/// disagrees with the instruction verdict is treated as noise.
const NS_NOISE: f64 = 0.20;

/// A workload to count: where it comes from and its step counts.
#[derive(Clone, Debug)]
struct Job {
    group: String,
    name: String,
    warmup: u64,
    steps: u64,
    /// The program that runs it (this one or an external runner).
    program: PathBuf,
}

impl Job {
    fn id(&self) -> String {
        format!("{}/{}", self.group, self.name)
    }
}

/// What callgrind counted for one workload.
#[derive(Clone, Copy, Debug)]
struct Count {
    /// Instructions per step.
    ir: f64,
    /// L1 data misses (reads + writes) per step, with `--cache`.
    d1: Option<f64>,
    /// Instructions by which two identical short runs differed.
    noise: i64,
}

/// Criterion's figures for one workload, in ns per step.
#[derive(Clone, Copy, Debug)]
struct Ns {
    median: f64,
    best: f64,
}

struct Options {
    filters: Vec<String>,
    jobs: usize,
    cache: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = kcom_bench::serve(&kcom_bench::AllWorkloads, &args) {
        return code;
    }
    let mut opts = Options {
        filters: Vec::new(),
        jobs: 1,
        cache: false,
    };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-j" => match it.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => opts.jobs = n,
                _ => {
                    eprintln!("-j needs a positive number");
                    return ExitCode::from(2);
                }
            },
            "--cache" => opts.cache = true,
            "-h" | "--help" => {
                println!(
                    "usage: instructions [-j N] [--cache] [FILTER...]   (see the source's docs)"
                );
                return ExitCode::SUCCESS;
            }
            _ => opts.filters.push(a),
        }
    }
    match report(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("instructions: {e}");
            ExitCode::FAILURE
        }
    }
}

/// This program's own workloads.
fn own_jobs() -> Vec<Job> {
    let exe = std::env::current_exe().expect("the path of this program");
    kcom_bench::list_workloads(&kcom_bench::AllWorkloads)
        .into_iter()
        .map(|(group, name, warmup, steps)| Job {
            group: group.into(),
            name: name.into(),
            warmup,
            steps,
            program: exe.clone(),
        })
        .collect()
}

/// The workloads of an external runner (`--list` protocol).
fn external_jobs(program: &Path) -> Result<Vec<Job>, String> {
    let out = Command::new(program)
        .arg("--list")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if !out.status.success() {
        return Err(format!("{} --list failed", program.display()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[..] {
                [group, name, warmup, steps] => Ok(Job {
                    group: group.into(),
                    name: name.into(),
                    warmup: warmup.parse().map_err(|_| format!("bad line {l:?}"))?,
                    steps: steps.parse().map_err(|_| format!("bad line {l:?}"))?,
                    program: program.into(),
                }),
                _ => Err(format!("bad --list line {l:?}")),
            }
        })
        .collect()
}

/// Total events of one callgrind run of `job` with `steps` steps:
/// (instructions, L1 data misses).
fn callgrind(job: &Job, steps: u64, cache: bool, scratch: &Path) -> Result<(u64, u64), String> {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let out = scratch.join(format!("cg.{}", SEQ.fetch_add(1, Ordering::Relaxed)));
    // The step count has a fixed width, so both runs parse arguments of
    // the same length.
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(format!("--cache-sim={}", if cache { "yes" } else { "no" }))
        .arg("--quiet")
        .arg(&job.program)
        .arg("--run")
        .arg(job.id())
        .arg(format!("{steps:012}"))
        .status()
        .map_err(|e| format!("cannot run valgrind (is it installed?): {e}"))?;
    if !status.success() {
        return Err(format!("{} failed under callgrind ({status})", job.id()));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let _ = std::fs::remove_file(&out);
    let events: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("events:"))
        .ok_or("no events line in callgrind output")?
        .split_whitespace()
        .collect();
    let totals: Vec<u64> = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .ok_or("no totals line in callgrind output")?
        .split_whitespace()
        .map(|v| v.parse().map_err(|_| format!("bad total {v:?}")))
        .collect::<Result<_, _>>()?;
    let get = |name: &str| {
        events
            .iter()
            .position(|e| *e == name)
            .and_then(|i| totals.get(i).copied())
            .unwrap_or(0)
    };
    Ok((get("Ir"), get("D1mr") + get("D1mw")))
}

fn count(job: &Job, cache: bool, scratch: &Path) -> Result<Count, String> {
    let short = job.warmup;
    let long = job.warmup + job.steps;
    let (a, da) = callgrind(job, short, cache, scratch)?;
    let (b, db) = callgrind(job, long, cache, scratch)?;
    let (a2, _) = callgrind(job, short, cache, scratch)?;
    let n = job.steps as f64;
    Ok(Count {
        ir: (b as f64 - a as f64) / n,
        d1: cache.then(|| (db as f64 - da as f64) / n),
        noise: a2 as i64 - a as i64,
    })
}

/// Where criterion keeps its results.
fn criterion_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(d).join("criterion");
    }
    // target/release/instructions -> target/criterion
    let exe = std::env::current_exe().expect("the path of this program");
    exe.parent()
        .and_then(Path::parent)
        .map(|t| t.join("criterion"))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

fn criterion_ns(dir: &Path, group: &str, name: &str) -> Option<Ns> {
    let base = dir.join(group).join(name).join("new");
    let est: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("estimates.json")).ok()?).ok()?;
    let median = est["median"]["point_estimate"].as_f64()?;
    let sample: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("sample.json")).ok()?).ok()?;
    let times = sample["times"].as_array()?;
    let iters = sample["iters"].as_array()?;
    let best = times
        .iter()
        .zip(iters)
        .filter_map(|(t, n)| Some(t.as_f64()? / n.as_f64()?))
        .fold(f64::INFINITY, f64::min);
    Some(Ns { median, best })
}

fn fmt_ns(ns: Option<Ns>) -> (String, String) {
    match ns {
        Some(n) => (format!("{:.2}", n.median), format!("{:.2}", n.best)),
        None => ("–".into(), "–".into()),
    }
}

fn report(opts: &Options) -> Result<(), String> {
    let mut jobs = own_jobs();
    if let Some(ext) = std::env::var_os("KCOM_BENCH_EXTERNAL") {
        jobs.extend(external_jobs(Path::new(&ext))?);
    }
    if !opts.filters.is_empty() {
        jobs.retain(|j| opts.filters.iter().any(|f| j.id().contains(f.as_str())));
    }
    if jobs.is_empty() {
        return Err("no workload matches".into());
    }
    // Group by group, in the order the groups first appear.
    let mut order: Vec<String> = Vec::new();
    for j in &jobs {
        if !order.contains(&j.group) {
            order.push(j.group.clone());
        }
    }
    jobs.sort_by_key(|j| order.iter().position(|g| *g == j.group));
    let scratch = std::env::temp_dir().join(format!("kcom-instructions.{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;

    let results: Mutex<BTreeMap<String, Result<Count, String>>> = Mutex::new(BTreeMap::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.min(jobs.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let r = count(job, opts.cache, &scratch);
                    if let Ok(c) = &r {
                        eprintln!("{:<50} {:>12.1} instructions/step", job.id(), c.ir);
                    }
                    results.lock().expect("results").insert(job.id(), r);
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    let results = results.into_inner().expect("results");
    let mut counts = BTreeMap::new();
    for (id, r) in &results {
        counts.insert(id.clone(), r.clone().map_err(|e| format!("{id}: {e}"))?);
    }

    let crit = criterion_dir();
    let ns = |id: &str| {
        let (g, n) = id.split_once('/')?;
        criterion_ns(&crit, g, n)
    };

    let mut out = String::new();
    writeln!(
        out,
        "## Instructions per step (callgrind) and ns per step (criterion)\n"
    )
    .unwrap();
    let cache_col = if opts.cache { " L1d misses/step |" } else { "" };
    writeln!(
        out,
        "| workload | instructions/step |{cache_col} ns median | ns best sample | noise (instr., whole run) |"
    )
    .unwrap();
    writeln!(
        out,
        "| --- | ---: |{} ---: | ---: | ---: |",
        if opts.cache { " ---: |" } else { "" }
    )
    .unwrap();
    for job in &jobs {
        let id = job.id();
        let c = counts[&id];
        let (med, best) = fmt_ns(ns(&id));
        let d1 = match c.d1 {
            Some(d) => format!(" {d:.2} |"),
            None => String::new(),
        };
        writeln!(
            out,
            "| `{id}` | {:.1} |{d1} {med} | {best} | {} |",
            c.ir, c.noise
        )
        .unwrap();
    }

    writeln!(out, "\n## Targets (kcom ÷ anchor)\n").unwrap();
    writeln!(
        out,
        "| group | kcom | anchor | instr. ratio | ns ratio (median) | target | verdict | basis |"
    )
    .unwrap();
    writeln!(out, "| --- | --- | --- | ---: | ---: | ---: | --- | --- |").unwrap();
    for t in kcom_bench::targets() {
        let (k, a) = (
            format!("{}/{}", t.group, t.kcom),
            format!("{}/{}", t.group, t.anchor),
        );
        let (Some(kc), Some(ac)) = (counts.get(&k), counts.get(&a)) else {
            continue;
        };
        let ir = kc.ir / ac.ir;
        let ns_ratio = ns(&k).zip(ns(&a)).map(|(x, y)| x.median / y.median);
        let (verdict, basis) = verdict(ir, ns_ratio, t.max);
        writeln!(
            out,
            "| {} | `{}` | `{}` | {ir:.3} | {} | ≤ {} | {verdict} | {basis} |",
            t.group,
            t.kcom,
            t.anchor,
            ns_ratio.map_or("–".into(), |r| format!("{r:.3}")),
            t.max
        )
        .unwrap();
    }

    matrix_table(&mut out, &counts);

    let pairs: Vec<_> = COMPARISONS
        .iter()
        .filter(|c| {
            counts.contains_key(&format!("{}/{}", c.group, c.kcom))
                && counts.contains_key(&format!("{}/{}", c.group, c.other))
        })
        .collect();
    if !pairs.is_empty() {
        writeln!(out, "\n## Comparisons (kcom ÷ other, instructions)\n").unwrap();
        writeln!(
            out,
            "| group | kcom | other | kcom instr. | other instr. | ratio |"
        )
        .unwrap();
        writeln!(out, "| --- | --- | --- | ---: | ---: | ---: |").unwrap();
        for c in pairs {
            let k = counts[&format!("{}/{}", c.group, c.kcom)].ir;
            let o = counts[&format!("{}/{}", c.group, c.other)].ir;
            writeln!(
                out,
                "| {} | `{}` | `{}` | {k:.1} | {o:.1} | {:.3} |",
                c.group,
                c.kcom,
                c.other,
                k / o
            )
            .unwrap();
        }
    }
    print!("{out}");
    Ok(())
}

/// The heap matrix: one row per cell counted, kcom's `FreeList` and talc in
/// instructions per step, then `FreeList` divided by each contestant
/// (every figure from this run).
fn matrix_table(out: &mut String, counts: &BTreeMap<String, Count>) {
    let rows: Vec<_> = MATRIX
        .iter()
        .filter(|c| {
            MATRIX_CONTESTANTS
                .iter()
                .all(|n| counts.contains_key(&format!("{}/{n}", c.group.name)))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let [kcom, others @ ..] = MATRIX_CONTESTANTS else {
        return;
    };
    writeln!(out, "\n## Heap matrix (`{kcom}` ÷ each, instructions)\n").unwrap();
    write!(out, "| cell | live | sizes | align | `{kcom}` | `talc` |").unwrap();
    for o in others {
        write!(out, " ÷ `{o}` |").unwrap();
    }
    writeln!(out).unwrap();
    writeln!(
        out,
        "| --- | ---: | --- | ---: | ---: | ---: |{}",
        " ---: |".repeat(others.len())
    )
    .unwrap();
    for c in rows {
        let ir = |n: &str| counts[&format!("{}/{n}", c.group.name)].ir;
        let k = ir(kcom);
        write!(
            out,
            "| `{}` | {} | {:?} | {} | {k:.1} | {:.1} |",
            c.group.name,
            c.live,
            c.sizes,
            c.align,
            ir("talc")
        )
        .unwrap();
        for o in others {
            let r = k / ir(o);
            if *o == "talc" {
                write!(out, " **{r:.3}** |").unwrap();
            } else {
                write!(out, " {r:.3} |").unwrap();
            }
        }
        writeln!(out).unwrap();
    }
}

/// The verdict on a target and what it rests on. Instructions decide when
/// the nanoseconds agree, are missing, or disagree by no more than
/// [`NS_NOISE`] of the target; a larger disagreement is reported as such.
fn verdict(ir: f64, ns: Option<f64>, max: f64) -> (String, &'static str) {
    let met = |r: f64| r <= max;
    let word = |m: bool| if m { "met" } else { "**missed**" };
    match ns {
        None => (word(met(ir)).into(), "instructions (no ns)"),
        Some(n) if met(n) == met(ir) => (word(met(ir)).into(), "both"),
        Some(n) if (n - max).abs() <= NS_NOISE * max => {
            (word(met(ir)).into(), "instructions (ns within noise)")
        }
        Some(_) => (
            format!(
                "{} in instructions, {} in ns",
                word(met(ir)),
                word(!met(ir))
            ),
            "disagree",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::verdict;

    #[test]
    fn verdicts() {
        assert_eq!(verdict(0.9, Some(0.95), 1.0), ("met".into(), "both"));
        assert_eq!(
            verdict(1.1, None, 1.0),
            ("**missed**".into(), "instructions (no ns)")
        );
        // ns misses by 10%: within the noise band, instructions decide.
        assert_eq!(
            verdict(0.9, Some(1.1), 1.0),
            ("met".into(), "instructions (ns within noise)")
        );
        // ns misses by 50%: reported as a disagreement.
        assert_eq!(verdict(0.9, Some(1.5), 1.0).1, "disagree");
    }
}
