//! Criterion run of the allocation workloads (`kcom_bench::alloc`).
//!
//! `cargo bench -p kcom-bench --bench alloc [-- <regex>]`; the workloads,
//! their anchors and the targets are described in BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use kcom_bench::CriterionVisit;

fn alloc(c: &mut Criterion) {
    kcom_bench::alloc::visit(&mut CriterionVisit(c));
}

criterion_group!(benches, alloc);
criterion_main!(benches);
