//! Criterion: every workload on nursery and tokio, 2 workers each, one group per workload so
//! the two lines print side by side. The workloads are the library's, shared with `compare`.
//!
//! `cargo bench -p nursery-bench --bench runtimes [-- FILTER]`

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use nursery_bench::{runtimes, WORKLOADS};

/// The worker count of the brief's targets.
const WORKERS: usize = 2;

fn runtimes_side_by_side(c: &mut Criterion) {
    let nursery_rt = runtimes::nursery(WORKERS);
    let tokio_rt = runtimes::tokio(WORKERS);
    for workload in WORKLOADS {
        let mut group = c.benchmark_group(workload.name);
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        group.bench_function("nursery", |b| b.iter(|| (workload.nursery)(&nursery_rt)));
        group.bench_function("tokio", |b| b.iter(|| (workload.tokio)(&tokio_rt)));
        group.finish();
    }
}

criterion_group!(benches, runtimes_side_by_side);
criterion_main!(benches);
