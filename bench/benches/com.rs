//! Criterion run of the COM runtime workloads (`kcom_bench::com`).
//!
//! `cargo bench -p kcom-bench --bench com [-- <regex>]`; the workloads,
//! their anchors and the targets are described in BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use kcom_bench::CriterionVisit;

fn com(c: &mut Criterion) {
    kcom_bench::com::visit(&mut CriterionVisit(c));
}

criterion_group!(benches, com);
criterion_main!(benches);
