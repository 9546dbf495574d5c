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

/// The large and deep inputs of issue 29, each parsed, checked and counted (or refused)
/// whole. Before the fix: stack overflows, more than 20 s, or 4.9 s (docs/fuzzing.md).
fn hostile(c: &mut Criterion) {
    let chain = |n: usize| {
        let mut s: String = (0..n).map(|i| format!("r{i} = r{}\n", i + 1)).collect();
        s.push_str(&format!("r{n} = a | b\n"));
        s
    };
    let nested = |n: usize| {
        format!(
            "net = seq(l = {}x{})",
            "repeat(".repeat(n),
            ", 1, 2)".repeat(n)
        )
    };
    let set = |n: usize| {
        let v: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        format!("net = conv(k = {{{}}})", v.join(", "))
    };
    let alts = |n: usize| {
        let v: Vec<String> = (0..n).map(|i| format!("op{i}")).collect();
        format!("net = {}", v.join(" | "))
    };
    let inputs = [
        ("alias_chain_30000", chain(30_000)),
        ("alias_chain_8000", chain(8_000)),
        ("repeat_nested_100000", nested(100_000)),
        ("set_200000", set(200_000)),
        ("alternatives_40000", alts(40_000)),
        (
            "int_full_i64",
            "net = lin(width = int(-9223372036854775808, 9223372036854775807))".to_string(),
        ),
        (
            "dag_1000_nodes",
            "cell = dag(nodes = 1000, edge = op)\nop = a | b".to_string(),
        ),
    ];
    let mut g = c.benchmark_group("hostile");
    g.sample_size(10);
    for (name, text) in &inputs {
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| black_box(Space::parse("gen.hnas", text).map(|s| s.size())))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = bench, hostile
}
criterion_main!(benches);
