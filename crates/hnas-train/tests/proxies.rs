//! Zero-cost proxies: what each measures, determinism, and undefined proxies reported as
//! missing rather than as a crash.

use hnas_eval::Evaluator;
use hnas_space::Space;
use hnas_train::proxy::{log_abs_det, symmetric_eigenvalues, ProxyEvaluator};
use hnas_train::{compile, Shape, Skeleton};

fn nb201() -> Space {
    let path = format!(
        "{}/../../examples/spaces/nb201.hnas",
        env!("CARGO_MANIFEST_DIR")
    );
    Space::parse("nb201.hnas", &std::fs::read_to_string(path).unwrap()).unwrap()
}

const CELL: &str = "dag(0>1:nor_conv_3x3,0>2:nor_conv_1x1,1>2:skip_connect,0>3:avg_pool_3x3,1>3:nor_conv_3x3,2>3:nor_conv_3x3)";

#[test]
fn data_free_proxies_read_the_compiled_network_and_repeat_exactly() {
    let space = nb201();
    let c = space.parse_candidate(CELL).unwrap();
    let ev = ProxyEvaluator::parse("shape=3x32x32,channels=8").unwrap();
    assert_eq!(ev.metrics(), ["params", "flops", "synflow", "aggregate"]);
    let m = ev.evaluate(&space, &c, None).unwrap();
    let net = compile(
        &space.to_json(&c),
        Shape::Image { c: 3, h: 32, w: 32 },
        10,
        Skeleton {
            channels: 8,
            cells: 1,
        },
    )
    .unwrap()
    .net;
    assert_eq!(m["params"], net.params() as f64);
    assert_eq!(m["flops"], net.flops() as f64);
    assert!(m["synflow"] > 0.0);
    assert_eq!(ev.evaluate(&space, &c, None).unwrap(), m);
    // More channels: more paths of positive weights, a larger SynFlow.
    let wide = ProxyEvaluator::parse("shape=3x32x32,channels=16").unwrap();
    assert!(wide.evaluate(&space, &c, None).unwrap()["synflow"] > m["synflow"]);
}

#[test]
fn a_cell_that_passes_nothing_has_no_synflow_and_says_why() {
    let space = nb201();
    let dead = space
        .parse_candidate(
            "dag(0>1:nor_conv_3x3,0>2:nor_conv_1x1,1>2:nor_conv_3x3,0>3:none,1>3:none,2>3:none)",
        )
        .unwrap();
    let ev = ProxyEvaluator::parse("shape=3x32x32,channels=8").unwrap();
    // Parameter and FLOP counts exist; SynFlow is left out.
    let m = ev.evaluate(&space, &dead, None).unwrap();
    assert!(m.contains_key("params") && m.contains_key("flops"));
    assert!(!m.contains_key("synflow"), "{m:?}");
    let only = ProxyEvaluator::parse("shape=3x32x32,channels=8,proxies=synflow").unwrap();
    let err = only.evaluate(&space, &dead, None).unwrap_err().to_string();
    assert!(
        err.contains("synflow: no signal reaches the output"),
        "{err}"
    );
}

#[test]
fn data_proxies_are_defined_on_the_default_space_and_follow_the_seed() {
    let space = Space::parse("mnist1d.hnas", hnas_train::DEFAULT_SPACE).unwrap();
    let c = space
        .parse_candidate("net(body=cnn(stem=conv(channels=16,kernel=3,norm=batch,act=relu),stages=[stack(blocks=[conv(kernel=3,norm=batch,act=relu)],down=max_pool(size=2))],pool=global_avg_pool),lr=0.005)")
        .unwrap();
    let ev = ProxyEvaluator::parse("mnist1d,batch=16").unwrap();
    let m = ev.evaluate(&space, &c, None).unwrap();
    for p in [
        "params",
        "flops",
        "synflow",
        "grad_norm",
        "snip",
        "naswot",
        "jacov",
    ] {
        assert!(m.get(p).is_some_and(|v| v.is_finite()), "{p}: {m:?}");
    }
    assert_eq!(ev.evaluate(&space, &c, None).unwrap(), m);
    // NASWOT's kernel is 16 x 16 of agreement counts: its log-determinant is at most that
    // of 16 units all agreeing on the diagonal only, 16 ln(units).
    assert!(m["naswot"] > 0.0);
    let other = ProxyEvaluator::parse("mnist1d,batch=16,seed=5").unwrap();
    let m5 = other.evaluate(&space, &c, None).unwrap();
    assert_ne!(m5["grad_norm"], m["grad_norm"]);
    assert_eq!(m5["params"], m["params"]);
}

#[test]
fn linear_algebra_of_the_proxies() {
    let mut a = vec![2.0, 1.0, 1.0, 2.0];
    assert!((log_abs_det(&mut a.clone(), 2).unwrap() - 3f64.ln()).abs() < 1e-12);
    let mut ev = symmetric_eigenvalues(&mut a, 2);
    ev.sort_by(f64::total_cmp);
    assert!(
        (ev[0] - 1.0).abs() < 1e-9 && (ev[1] - 3.0).abs() < 1e-9,
        "{ev:?}"
    );
    // Two identical codes make NASWOT's kernel singular.
    assert!(log_abs_det(&mut [4.0, 4.0, 4.0, 4.0], 2).is_none());
}

#[test]
fn bad_specs_say_what_was_expected() {
    let err = |s: &str| ProxyEvaluator::parse(s).err().unwrap().to_string();
    assert!(err("shape=3x32x32,proxies=snip").contains("proxy `snip` reads examples"));
    assert!(err("mnist1d,proxies=synflow+zen").contains("unknown proxy `zen`"));
    assert!(err("shape=3x").contains("expected CxHxW"));
    assert!(err("cifar10").contains("unknown dataset"));
    assert!(err("mnist1d,batch=1,proxies=naswot").contains("batch must be at least 2"));
}

#[test]
fn the_aggregate_ranks_a_network_among_reference_networks_of_its_space() {
    let space = nb201();
    let ev = ProxyEvaluator::parse("shape=3x32x32,channels=8,proxies=flops,reference=30").unwrap();
    let big = space
        .parse_candidate("dag(0>1:nor_conv_3x3,0>2:nor_conv_3x3,1>2:nor_conv_3x3,0>3:nor_conv_3x3,1>3:nor_conv_3x3,2>3:nor_conv_3x3)")
        .unwrap();
    let small = space
        .parse_candidate(
            "dag(0>1:skip_connect,0>2:none,1>2:none,0>3:skip_connect,1>3:none,2>3:none)",
        )
        .unwrap();
    // The most FLOPs of the space ranks above every reference network; the fewest at the
    // bottom (ties with reference networks count half).
    assert_eq!(ev.evaluate(&space, &big, None).unwrap()["aggregate"], 1.0);
    assert!(ev.evaluate(&space, &small, None).unwrap()["aggregate"] < 0.05);
    let mid = ev
        .evaluate(&space, &space.parse_candidate(CELL).unwrap(), None)
        .unwrap();
    assert!((0.0..=1.0).contains(&mid["aggregate"]));
    // Off with reference=0; a proxy outside the computed ones is refused.
    let off = ProxyEvaluator::parse("shape=3x32x32,channels=8,reference=0").unwrap();
    assert!(!off.metrics().contains(&"aggregate".to_string()));
    let err = ProxyEvaluator::parse("shape=3x32x32,proxies=flops,aggregate=synflow")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not among the proxies computed"), "{err}");
}

#[test]
fn a_ladder_scores_by_proxies_at_fidelity_zero_and_trains_above() {
    let space = nb201();
    let ev = ProxyEvaluator::parse(
        "mnist1d,channels=2,train_size=256,train_epochs=3,proxies=flops+params,reference=20",
    )
    .unwrap();
    assert_eq!(ev.fidelities(), vec![0.0, 1.0, 3.0]);
    assert_eq!(ev.cost_unit(), "epochs");
    assert!(ev.cost(Some(0.0)) < 0.1 && ev.cost(Some(3.0)) == 3.0);
    let c = space.parse_candidate(CELL).unwrap();
    let bottom = ev.evaluate(&space, &c, Some(0.0)).unwrap();
    // The objective's stand-in at the bottom rung is the aggregate, and nothing was trained.
    assert_eq!(bottom["accuracy"], bottom["aggregate"]);
    assert_eq!(bottom["epochs"], 0.0);
    assert!(!bottom.contains_key("test_accuracy"));
    let trained = ev.evaluate(&space, &c, Some(1.0)).unwrap();
    assert_eq!(trained["epochs"], 1.0);
    assert!(
        trained["accuracy"] > 1.0,
        "a trained accuracy in percent: {trained:?}"
    );
    assert!(trained.contains_key("test_accuracy"));
    // Without the measurement, latency is left out rather than NaN (a NaN fails a trial).
    assert!(trained.values().all(|v| v.is_finite()), "{trained:?}");
    // Without a ladder, one fidelity and the proxies only; training options need one.
    let flat = ProxyEvaluator::parse("mnist1d,proxies=flops,reference=20").unwrap();
    assert!(flat.fidelities().is_empty());
    let err = |s: &str| ProxyEvaluator::parse(s).err().unwrap().to_string();
    assert!(err("mnist1d,lr=0.1").contains("need train_epochs=N"));
    assert!(err("shape=3x32x32,train_epochs=3").contains("needs a dataset"));
    assert!(err("mnist1d,train_epochs=3,reference=0").contains("reference=0"));
}
