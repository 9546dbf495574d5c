//! Training end to end on MNIST-1D: loss goes down, runs repeat exactly, failures are
//! reasons, the evaluator reports what it promises.

use burn::module::Module;
use hnas_eval::{EvalError, Evaluator, TrialInfo};
use hnas_space::{SampleMode, Space};
use hnas_train::data::mnist1d;
use hnas_train::train::{train, TrainConfig, TrainError};
use hnas_train::{compile, Model, Optim, Shape, Skeleton, TrainEvaluator, DEFAULT_SPACE, METRICS};
use rand::SeedableRng;
use serde_json::json;

/// Two convolutions and a pooling, compiled for MNIST-1D.
fn small_cnn() -> hnas_train::Compiled {
    let j = json!({"root": {"op": "net", "args": {"body": [
        {"op": "conv", "args": {"channels": 16, "kernel": 5, "norm": "batch", "act": "relu"}},
        {"op": "max_pool", "args": {"size": 2}},
        {"op": "conv", "args": {"channels": 16, "kernel": 3, "norm": "batch", "act": "relu"}},
        "global_avg_pool"
    ]}}});
    compile(&j, Shape::Seq { c: 1, l: 40 }, 10, Skeleton::default()).unwrap()
}

fn subset(n: usize) -> hnas_train::Dataset {
    let mut d = mnist1d();
    d.train = d.train.truncated(n, 40);
    d
}

#[test]
fn a_few_epochs_reduce_the_loss_and_beat_chance() {
    let c = small_cnn();
    let data = subset(1000);
    let cfg = TrainConfig {
        epochs: 4,
        lr: 0.01,
        ..TrainConfig::default()
    };
    let r = train(&c.net, &data, &cfg, &mut |_| {}).unwrap();
    let n = r.losses.len();
    let first: f64 = r.losses[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = r.losses[n - 5..].iter().sum::<f64>() / 5.0;
    assert!(last < 0.8 * first, "loss {first:.3} -> {last:.3}");
    assert!(
        r.valid_accuracy > 25.0,
        "validation accuracy {}",
        r.valid_accuracy
    );
    assert!(r.test_accuracy > 25.0, "test accuracy {}", r.test_accuracy);
}

#[test]
fn the_same_seed_trains_the_same_network() {
    let c = small_cnn();
    let data = subset(300);
    let cfg = TrainConfig {
        epochs: 1,
        seed: 7,
        ..TrainConfig::default()
    };
    let a = train(&c.net, &data, &cfg, &mut |_| {}).unwrap();
    let b = train(&c.net, &data, &cfg, &mut |_| {}).unwrap();
    assert_eq!(a.losses, b.losses);
    assert_eq!(a.valid_accuracy, b.valid_accuracy);
    let other = train(&c.net, &data, &TrainConfig { seed: 8, ..cfg }, &mut |_| {}).unwrap();
    assert_ne!(
        a.losses, other.losses,
        "another seed draws other weights and batches"
    );
}

#[test]
fn a_diverging_run_is_a_failure_with_its_reason() {
    let c = small_cnn();
    let cfg = TrainConfig {
        epochs: 3,
        lr: 1e9,
        optimizer: Optim::Sgd,
        ..TrainConfig::default()
    };
    match train(&c.net, &subset(300), &cfg, &mut |_| {}) {
        Err(TrainError::Diverged { epoch, .. }) => assert!(epoch >= 1),
        other => panic!("expected divergence, got {other:?}"),
    }
}

#[test]
fn parameter_counts_match_burns_own_on_sampled_networks() {
    let space = Space::parse("mnist1d.hnas", DEFAULT_SPACE).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let device = hnas_train::train::device();
    let mut compiled = 0;
    for _ in 0..40 {
        let c = space.sample(&mut rng, SampleMode::Uniform);
        let Ok(k) = compile(
            &space.to_json(&c),
            Shape::Seq { c: 1, l: 40 },
            10,
            Skeleton::default(),
        ) else {
            continue;
        };
        let model = Model::init(&k.net, &device, 0);
        // burn's count includes batch norm's running mean and variance, which are statistics,
        // not trained parameters (PyTorch's count leaves them out, and so does hnas).
        let running: usize = k
            .net
            .units
            .iter()
            .map(|u| match u {
                hnas_train::net::Unit::BatchNorm { c } => 2 * c,
                _ => 0,
            })
            .sum();
        assert_eq!(
            k.net.params() as usize,
            model.num_params() - running,
            "{}",
            k.net.summary()
        );
        compiled += 1;
    }
    assert!(compiled >= 30, "only {compiled} of 40 samples compiled");
}

#[test]
fn the_evaluator_reports_every_metric() {
    let ev = TrainEvaluator::parse("mnist1d,epochs=1,train_size=400,latency_runs=3").unwrap();
    let space = Space::parse("mnist1d.hnas", DEFAULT_SPACE).unwrap();
    ev.check_space(&space).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let c = space.sample(&mut rng, SampleMode::Uniform);
    let m = ev
        .evaluate_trial(
            &space,
            &c,
            None,
            &TrialInfo {
                trial: 0,
                seed: 5,
                ..Default::default()
            },
        )
        .unwrap();
    for k in METRICS {
        assert!(m.contains_key(k), "missing {k}: {m:?}");
    }
    assert!((0.0..=100.0).contains(&m["accuracy"]));
    assert!(m["params"] > 0.0 && m["flops"] > 0.0 && m["latency_ms"] > 0.0);
    assert_eq!(m["epochs"], 1.0);
    assert_eq!(ev.cost(Some(3.0)), 3.0);
}

#[test]
fn a_space_that_is_not_networks_is_refused_before_the_search() {
    let ev = TrainEvaluator::parse("mnist1d").unwrap();
    let space = Space::parse("agent.hnas", "flow = pipeline(steps = {2, 3})\n").unwrap();
    match ev.check_space(&space) {
        Err(EvalError::Fatal(m)) => assert!(m.contains("not a network space"), "{m}"),
        other => panic!("expected a fatal error, got {other:?}"),
    }
}

#[test]
fn an_invalid_network_fails_without_training() {
    let ev = TrainEvaluator::parse("mnist1d,epochs=50").unwrap();
    let space = Space::parse(
        "deep.hnas",
        "net = net(body = body)\nbody = stack(a = p, b = p, c = p, d = p)\np = max_pool(size = 4)\n",
    )
    .unwrap();
    let c = space.sample(
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(0),
        SampleMode::Uniform,
    );
    let t = std::time::Instant::now();
    match ev.evaluate(&space, &c, None) {
        Err(EvalError::Failed(m)) => {
            assert!(m.contains("invalid network"), "{m}");
            assert!(m.contains("does not fit an input of length 2"), "{m}");
        }
        other => panic!("expected a failed trial, got {other:?}"),
    }
    assert!(t.elapsed().as_secs() < 5, "no training should have run");
}

#[test]
fn bad_evaluator_options_are_named() {
    for (spec, needle) in [
        ("mnist2d", "unknown dataset"),
        ("mnist1d,epochs=0", "positive integer"),
        ("mnist1d,speed=3", "unknown option `speed`"),
        ("mnist1d,optimizer=lbfgs", "optimizer `lbfgs`"),
    ] {
        match TrainEvaluator::parse(spec) {
            Err(EvalError::Fatal(m)) => assert!(m.contains(needle), "{spec}: {m}"),
            Err(e) => panic!("{spec}: {e}"),
            Ok(_) => panic!("{spec} was accepted"),
        }
    }
}

#[test]
fn an_nb201_cell_learns_fashion_mnist_images() {
    if !std::path::Path::new(hnas_train::data::FASHION_MNIST_DIR).is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Fashion-MNIST missing: .ci/run installs dataset-fashion-mnist"
        );
        eprintln!("skipped: Fashion-MNIST absent (apt-get install dataset-fashion-mnist)");
        return;
    }
    let path = format!(
        "{}/../../examples/spaces/nb201.hnas",
        env!("CARGO_MANIFEST_DIR")
    );
    let space = Space::from_file(std::path::Path::new(&path)).unwrap();
    let ev =
        TrainEvaluator::parse("fashion-mnist,epochs=1,train_size=2000,channels=8,latency_runs=2")
            .unwrap();
    ev.check_space(&space).unwrap();
    let c = space.sample(
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(4),
        SampleMode::Uniform,
    );
    let m = ev.evaluate(&space, &c, None).unwrap();
    assert!(
        m["accuracy"] > 30.0,
        "one epoch on 2,000 images beats chance (10 %): {m:?}"
    );
    assert!(m["test_accuracy"] > 30.0, "{m:?}");
}
