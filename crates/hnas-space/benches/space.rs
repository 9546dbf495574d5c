//! Throughput of the space operations: `cargo bench -p hnas-space`.
//!
//! Targets (issue 2): >= 1,000,000 NB201 samples/s on one core; parsing any example < 1 ms.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hnas_space::{SampleMode, Space};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

fn text(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../examples/spaces/{name}.hnas"));
    std::fs::read_to_string(p).unwrap()
}

/// einspace is sampled by its written probabilities (uniform draws are dominated by the
/// deepest, largest trees), the others uniformly.
fn mode(name: &str) -> SampleMode {
    if name == "einspace" {
        SampleMode::Weighted
    } else {
        SampleMode::Uniform
    }
}

fn bench(c: &mut Criterion) {
    let names = ["nb201", "mnasnet", "einspace"];
    let mut g = c.benchmark_group("sample");
    g.throughput(Throughput::Elements(1));
    for name in names {
        let s = Space::parse(name, &text(name)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| black_box(s.sample(&mut rng, mode(name))))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("mutate");
    g.throughput(Throughput::Elements(1));
    for name in names {
        let s = Space::parse(name, &text(name)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let pool: Vec<_> = (0..256).map(|_| s.sample(&mut rng, mode(name))).collect();
        let mut i = 0;
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                i = (i + 1) % pool.len();
                black_box(s.mutate(&pool[i], &mut rng))
            })
        });
    }
    g.finish();

    for (group, canonical) in [("fingerprint", false), ("canonical_hash", true)] {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(1));
        for name in names {
            let s = Space::parse(name, &text(name)).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let pool: Vec<_> = (0..256).map(|_| s.sample(&mut rng, mode(name))).collect();
            let mut i = 0;
            g.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| {
                    i = (i + 1) % pool.len();
                    if canonical {
                        black_box(s.canonical_hash(&pool[i]))
                    } else {
                        black_box(s.fingerprint(&pool[i]))
                    }
                })
            });
        }
        g.finish();
    }

    let mut g = c.benchmark_group("parse");
    for name in ["nb201", "mnasnet", "darts", "einspace", "mlp", "agent"] {
        let t = text(name);
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| black_box(Space::parse(name, &t).unwrap()))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
