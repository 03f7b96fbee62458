//! The workloads behind kcom's benchmarks, shared by both ways of measuring
//! them:
//!
//! * `cargo bench -p kcom-bench` runs every workload under criterion
//!   (nanoseconds, `benches/alloc.rs` and `benches/com.rs`);
//! * `cargo run -p kcom-bench --release --bin instructions` runs every
//!   workload under `valgrind --tool=callgrind` (instructions per step, see
//!   `src/bin/instructions.rs`) and prints both figures side by side.
//!
//! A workload is a setup closure returning a *step* closure; one step is
//! one criterion iteration and one counted iteration. The setup is never
//! measured: criterion times only the step loop, and the instruction
//! harness counts two runs that differ only in their number of steps and
//! takes the difference.
//!
//! [`targets`] lists the goals (kcom ÷ anchor) the numbers are judged by.

pub mod alloc;
pub mod com;

use std::time::Duration;

/// A group of workloads measured together (one criterion group).
#[derive(Clone, Copy, Debug)]
pub struct Group {
    /// The group name (criterion's group id).
    pub name: &'static str,
    /// What one step does, for the tables.
    pub step: &'static str,
    /// Steps the instruction harness runs in both of its runs before the
    /// counted ones (they cancel out; they bring the workload to its steady
    /// state).
    pub warmup: u64,
    /// Steps counted by the instruction harness: the second run does this
    /// many more than the first. A multiple of every cyclic sequence's
    /// length, so the average covers whole cycles.
    pub steps: u64,
    /// Criterion warm-up time.
    pub warm_up_time: Duration,
    /// Criterion measurement time.
    pub measurement_time: Duration,
    /// Criterion sample count.
    pub sample_size: usize,
}

/// Something that is shown each workload in turn: criterion registers it,
/// the instruction harness runs it or lists it.
pub trait Visit {
    /// One workload: `setup` builds its state and returns the step closure.
    /// `setup` may be called several times (criterion calls it per sample).
    fn visit<S, F>(&mut self, group: &Group, name: &'static str, setup: F)
    where
        S: FnMut(),
        F: FnMut() -> S;
}

/// Shows every workload to `v`, allocation groups first.
pub fn visit_all(v: &mut impl Visit) {
    alloc::visit(v);
    com::visit(v);
}

/// A goal: `kcom` (a workload of `group`) divided by `anchor` must be at most `max`.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// The group both workloads belong to.
    pub group: &'static str,
    /// kcom's workload.
    pub kcom: &'static str,
    /// The anchor's workload.
    pub anchor: &'static str,
    /// The largest acceptable ratio.
    pub max: f64,
}

const fn target(group: &'static str, kcom: &'static str, anchor: &'static str, max: f64) -> Target {
    Target {
        group,
        kcom,
        anchor,
        max,
    }
}

/// Every goal kcom's workloads are held to.
pub const TARGETS: &[Target] = &[
    target("bump16", "kcom_Bump", "bumpalo", 1.0),
    target("bump64", "kcom_Bump", "bumpalo", 1.0),
    target("bump256", "kcom_Bump", "bumpalo", 1.0),
    target("freelist_churn", "kcom_FreeList", "talc", 1.0),
    target(
        "freelist_churn",
        "kcom_FreeList",
        "linked_list_allocator",
        0.25,
    ),
    target("freelist_batch256", "kcom_FreeList", "talc", 1.0),
    target(
        "freelist_batch256",
        "kcom_FreeList",
        "linked_list_allocator",
        1.0,
    ),
    target("pool64_pair", "kcom_Pool", "slab", 0.5),
    target("pool64_churn", "kcom_Pool", "slab", 0.5),
    target("pool64_pair", "kcom_Locked_Pool", "heapless_pool", 0.6),
    target("stack64", "kcom_Stack_scope", "bumpalo_reset", 1.0),
    target("call", "add_comrc", "add_dyn_anchor", 1.05),
    target("call", "add_raw_vtable", "add_dyn_anchor", 1.05),
    target("call", "accumulate_comrc", "accumulate_dyn_anchor", 1.05),
    target(
        "call",
        "accumulate_raw_vtable",
        "accumulate_dyn_anchor",
        1.05,
    ),
    target("create_release", "try_create", "arc_anchor", 1.0),
    target("create_release", "seed_new_com", "arc_anchor", 1.0),
    target("create_release", "classrc_try_new", "arc_anchor", 1.0),
    target("addref_release", "classrc_clone", "arc_anchor", 1.0),
    target("addref_release", "comrc_clone", "arc_anchor", 1.0),
    target("addref_release", "raw_vtable", "arc_anchor", 1.0),
];

/// Every goal: [`TARGETS`], then one per cell of the heap matrix
/// ([`alloc::MATRIX`]): kcom's `FreeList` at most talc's instructions.
pub fn targets() -> Vec<Target> {
    let matrix = alloc::MATRIX
        .iter()
        .map(|c| target(c.group.name, "kcom_FreeList", "talc", 1.0));
    TARGETS.iter().copied().chain(matrix).collect()
}

/// A pairing without a target: kcom's workload against another
/// implementation's workload of the same group (for the kcom-rs
/// comparison, whose workloads come from an external runner).
#[derive(Clone, Copy, Debug)]
pub struct Comparison {
    /// The group both workloads belong to.
    pub group: &'static str,
    /// kcom's workload.
    pub kcom: &'static str,
    /// The other implementation's workload.
    pub other: &'static str,
}

const fn compare(group: &'static str, kcom: &'static str, other: &'static str) -> Comparison {
    Comparison { group, kcom, other }
}

/// kcom against kcom-rs v0.5 (workloads `kcom_rs_*`, run by the external
/// runner that `ci/kcom-rs-bench.sh` builds).
pub const COMPARISONS: &[Comparison] = &[
    compare("create_release", "try_create", "kcom_rs_new_rc"),
    compare("create_release", "seed_new_com", "kcom_rs_new"),
    compare(
        "create_release",
        "try_create_in_pool",
        "kcom_rs_new_rc_in_pool",
    ),
    compare("create_release", "seed_new_in_pool", "kcom_rs_new_in_pool"),
    compare("call", "add_comrc", "kcom_rs_add_comrc"),
    compare("call", "add_raw_vtable", "kcom_rs_add_raw_vtable"),
    compare("call", "accumulate_comrc", "kcom_rs_accumulate_comrc"),
    compare(
        "call",
        "accumulate_raw_vtable",
        "kcom_rs_accumulate_raw_vtable",
    ),
    compare("addref_release", "comrc_clone", "kcom_rs_comrc_clone"),
    compare("addref_release", "classrc_clone", "kcom_rs_comrc_clone"),
    compare("create_release", "classrc_try_new", "kcom_rs_new_rc"),
    compare("addref_release", "raw_vtable", "kcom_rs_raw_vtable"),
    compare(
        "query_release",
        "comrc_query_interface",
        "kcom_rs_comrc_query_interface",
    ),
    compare("query_release", "raw_vtable", "kcom_rs_raw_vtable"),
];

/// Registers every workload it is shown with criterion, each group with
/// the group's own timing settings.
#[allow(missing_debug_implementations)] // `Criterion` is not `Debug`
pub struct CriterionVisit<'a>(pub &'a mut criterion::Criterion);

impl Visit for CriterionVisit<'_> {
    fn visit<S, F>(&mut self, group: &Group, name: &'static str, mut setup: F)
    where
        S: FnMut(),
        F: FnMut() -> S,
    {
        let mut g = self.0.benchmark_group(group.name);
        g.warm_up_time(group.warm_up_time)
            .measurement_time(group.measurement_time)
            .sample_size(group.sample_size);
        g.bench_function(name, |b| {
            let mut step = setup();
            b.iter(&mut step);
        });
        g.finish();
    }
}

/// A set of workloads a program can run (`--run`) and list (`--list`).
pub trait Workloads {
    /// Shows every workload of the set to `v`.
    fn visit_all<V: Visit>(&self, v: &mut V);
}

/// This crate's workloads: [`visit_all`].
#[derive(Clone, Copy, Debug)]
pub struct AllWorkloads;

impl Workloads for AllWorkloads {
    fn visit_all<V: Visit>(&self, v: &mut V) {
        visit_all(v);
    }
}

/// Runs the workload `id` (`group/name`) for `steps` steps, in the loop
/// criterion's `Bencher::iter` runs; false if there is no such workload.
pub fn run_workload(w: &impl Workloads, id: &str, steps: u64) -> bool {
    struct RunOne<'a> {
        id: &'a str,
        steps: u64,
        found: bool,
    }
    impl Visit for RunOne<'_> {
        fn visit<S, F>(&mut self, group: &Group, name: &'static str, mut setup: F)
        where
            S: FnMut(),
            F: FnMut() -> S,
        {
            if self.found || format!("{}/{name}", group.name) != self.id {
                return;
            }
            self.found = true;
            let mut step = setup();
            // Criterion passes the step's `()` result through `black_box` too.
            #[allow(clippy::unit_arg)]
            for _ in 0..self.steps {
                std::hint::black_box(step());
            }
        }
    }
    let mut run = RunOne {
        id,
        steps,
        found: false,
    };
    w.visit_all(&mut run);
    run.found
}

/// `(group, name, warmup, steps)` of every workload of `w`.
pub fn list_workloads(w: &impl Workloads) -> Vec<(&'static str, &'static str, u64, u64)> {
    struct List(Vec<(&'static str, &'static str, u64, u64)>);
    impl Visit for List {
        fn visit<S, F>(&mut self, g: &Group, name: &'static str, _: F)
        where
            S: FnMut(),
            F: FnMut() -> S,
        {
            self.0.push((g.name, name, g.warmup, g.steps));
        }
    }
    let mut list = List(Vec::new());
    w.visit_all(&mut list);
    list.0
}

/// The runner protocol of the instruction harness: `--list` prints one
/// line `group name warmup steps` per workload; `--run GROUP/NAME STEPS`
/// sets that workload up and runs it. Returns `None` if `args` (without
/// the program name) is neither, so the program can do something else.
pub fn serve(w: &impl Workloads, args: &[String]) -> Option<std::process::ExitCode> {
    use std::process::ExitCode;
    match args.first().map(String::as_str) {
        Some("--list") => {
            for (group, name, warmup, steps) in list_workloads(w) {
                println!("{group} {name} {warmup} {steps}");
            }
            Some(ExitCode::SUCCESS)
        }
        Some("--run") => {
            let (Some(id), Some(n)) = (args.get(1), args.get(2)) else {
                eprintln!("usage: --run GROUP/NAME STEPS");
                return Some(ExitCode::from(2));
            };
            let Ok(steps) = n.parse() else {
                eprintln!("bad step count {n:?}");
                return Some(ExitCode::from(2));
            };
            if run_workload(w, id, steps) {
                Some(ExitCode::SUCCESS)
            } else {
                eprintln!("no workload {id:?}");
                Some(ExitCode::from(2))
            }
        }
        _ => None,
    }
}

/// The `group/name` of every workload, in the order they are visited.
pub fn workload_ids() -> Vec<String> {
    list_workloads(&AllWorkloads)
        .into_iter()
        .map(|(g, n, _, _)| format!("{g}/{n}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_names_existing_workloads() {
        let ids = workload_ids();
        for t in targets() {
            for w in [t.kcom, t.anchor] {
                let id = format!("{}/{w}", t.group);
                assert!(ids.contains(&id), "target names unknown workload {id}");
            }
        }
    }

    #[test]
    fn run_workload_finds_only_existing_ids() {
        assert!(run_workload(&AllWorkloads, "pool64_pair/kcom_Pool", 3));
        assert!(!run_workload(&AllWorkloads, "pool64_pair/no_such", 3));
        assert!(
            serve(
                &AllWorkloads,
                &["--run".into(), "call/add_comrc".into(), "x".into()]
            )
            .is_some()
        );
        assert!(serve(&AllWorkloads, &["freelist".into()]).is_none());
    }

    #[test]
    fn workload_ids_are_unique_and_file_name_safe() {
        let ids = workload_ids();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        for id in &ids {
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/'),
                "{id}"
            );
        }
    }
}
