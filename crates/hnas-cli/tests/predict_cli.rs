//! `hnas predict`: predictors measured on drawn networks, and fitted on a study's trials.
mod common;
use common::{example, hnas, tempdir, Succeeds};

use hnas_store::{SqliteStore, Store};
use std::collections::HashSet;

#[test]
fn predictors_rank_held_out_nb201_cells() {
    let dir = tempdir("predict", "bench");
    let csv = dir.join("seeds.csv");
    let out = hnas()
        .args([
            "predict",
            "--space",
            &example("nb201"),
            "--evaluator",
            "nb201:cifar10",
        ])
        .args([
            "--train", "20,120", "--test", "300", "--seeds", "2", "--model", "gbt,gp",
        ])
        .arg("--out")
        .arg(&csv)
        .succeeds();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Kendall τ (test_200)"), "{text}");
    let rows: Vec<Vec<String>> = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), 2 * 2 * 2, "models x sizes x seeds");
    let tau = |model: &str, n: &str| -> f64 {
        let v: Vec<f64> = rows
            .iter()
            .filter(|r| r[0] == model && r[1] == n)
            .map(|r| r[3].parse().unwrap())
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    for m in ["gbt", "gp"] {
        // Far above chance, and better with more data.
        assert!(tau(m, "120") > 0.5, "{m}: {}", tau(m, "120"));
        assert!(tau(m, "120") > tau(m, "20"), "{m}");
    }
}

#[test]
fn a_bad_request_says_what_was_expected() {
    let out = hnas()
        .args([
            "predict",
            "--space",
            &example("nb201"),
            "--evaluator",
            "nb201:cifar10",
        ])
        .args(["--model", "xgb"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown model 'xgb'; expected one of: mlp, gbt, gp"),
        "{err}"
    );
    let out = hnas()
        .args([
            "predict",
            "--space",
            &example("nb201"),
            "--evaluator",
            "nb201:cifar10",
        ])
        .args([
            "--metric", "nope", "--train", "5", "--test", "5", "--seeds", "1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("metric 'nope'"), "{err}");
}

#[test]
fn a_predictor_fitted_on_a_study_ranks_networks_it_has_not_seen() {
    let dir = tempdir("predict", "study");
    let study = dir.join("s.db");
    hnas()
        .args([
            "search",
            "--space",
            &example("nb201"),
            "--evaluator",
            "nb201:cifar10",
        ])
        .args([
            "--strategy",
            "random",
            "--budget",
            "80",
            "--seed",
            "1",
            "--quiet",
        ])
        .arg("--study")
        .arg(&study)
        .succeeds();
    let out = hnas()
        .args([
            "predict",
            "--model",
            "gp",
            "--holdout",
            "20",
            "--rank",
            "5",
            "--pool",
            "500",
        ])
        .arg("--study")
        .arg(&study)
        .succeeds();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // One fit per distinct network: isomorphic cells of the 80 trials count once.
    let fitted: usize = text
        .split("fitted on ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!((70..=80).contains(&fitted), "{text}");
    let tau: f64 = text
        .split("Kendall τ ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no held-out τ in {text}"));
    assert!(tau > 0.2, "held-out τ {tau}");
    // The five ranked candidates are networks the study never evaluated.
    let evaluated: HashSet<String> = SqliteStore::open_read_only(&study)
        .unwrap()
        .trials()
        .unwrap()
        .into_iter()
        .map(|t| t.candidate)
        .collect();
    let ranked: Vec<&str> = text.lines().filter(|l| l.contains("dag(")).collect();
    assert_eq!(ranked.len(), 5, "{text}");
    for l in ranked {
        let cand = l
            .split('┆')
            .nth(3)
            .unwrap()
            .trim()
            .trim_end_matches('│')
            .trim();
        assert!(!evaluated.contains(cand), "{cand} was evaluated");
    }
}

#[test]
fn a_prior_chooses_the_start_of_a_bananas_search_and_stays_with_the_study() {
    use hnas_eval::Evaluator;
    let dir = tempdir("predict", "prior");
    let study = dir.join("s.db");
    let prior = "proxy:shape=3x32x32,channels=8,proxies=flops";
    let search = |extra: &[&str]| {
        let mut c = hnas();
        c.args([
            "search",
            "--space",
            &example("nb201"),
            "--evaluator",
            "nb201:cifar10",
        ])
        .args([
            "--strategy",
            "bananas",
            "--budget",
            "6",
            "--seed",
            "2",
            "--quiet",
        ])
        .arg("--study")
        .arg(&study)
        .args(extra);
        c
    };
    search(&["--prior", prior]).succeeds();
    let space = hnas_space::Space::parse(
        "nb201.hnas",
        &std::fs::read_to_string(example("nb201")).unwrap(),
    )
    .unwrap();
    let flops = hnas_train::proxy::ProxyEvaluator::parse(&prior["proxy:".len()..]).unwrap();
    let f = |c: &hnas_space::Candidate| flops.evaluate(&space, c, None).unwrap()["flops"];
    // The space's FLOPs at its 80th percentile, from 200 uniform samples.
    let mut rng = hnas_search::trial_rng(9, 0);
    let mut sample: Vec<f64> = (0..200)
        .map(|_| f(&space.sample(&mut rng, hnas_space::SampleMode::Uniform)))
        .collect();
    sample.sort_by(f64::total_cmp);
    let p80 = sample[160];
    // Each start-up trial is the best of 100 samples by FLOPs.
    for t in SqliteStore::open_read_only(&study)
        .unwrap()
        .trials()
        .unwrap()
    {
        let c = space.parse_candidate(&t.candidate).unwrap();
        assert!(f(&c) >= p80, "trial {}: {} FLOPs < {p80}", t.number, f(&c));
    }
    // Resuming with another prior is refused; a strategy that reads none refuses one.
    let out = search(&["--prior", "proxy:shape=3x32x32,channels=8,proxies=params"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("prior: 'proxy:shape=3x32x32,channels=8,proxies=flops' (stored)"),
        "{err}"
    );
    let out = hnas()
        .args([
            "search",
            "--space",
            &example("nb201"),
            "--evaluator",
            "nb201:cifar10",
        ])
        .args(["--strategy", "rea", "--budget", "3", "--prior", prior])
        .arg("--study")
        .arg(dir.join("rea.db"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a prior is used by bananas only"), "{err}");
}

#[test]
fn predictors_rank_the_committed_mnist1d_table() {
    let root = common::root();
    let table = root.join("data/mnist1d-150.csv");
    let space = root.join("crates/hnas-train/spaces/mnist1d.hnas");
    let dir = tempdir("predict", "mnist1d");
    let csv = dir.join("seeds.csv");
    hnas()
        .args(["predict", "--metric", "accuracy", "--model", "gbt"])
        .args(["--train", "100", "--test", "50", "--seeds", "3"])
        .arg("--space")
        .arg(&space)
        .arg("--evaluator")
        .arg(format!("table:{}", table.display()))
        .arg("--candidates")
        .arg(&table)
        .arg("--out")
        .arg(&csv)
        .succeeds();
    let taus: Vec<f64> = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).unwrap().parse().unwrap())
        .collect();
    assert_eq!(taus.len(), 3);
    // 150 real networks: far above chance, below the two seeds' agreement (0.66).
    let mean = taus.iter().sum::<f64>() / 3.0;
    assert!((0.35..0.8).contains(&mean), "{taus:?}");
}

#[test]
fn successive_halving_screens_with_proxies_then_trains_the_survivors() {
    let dir = tempdir("predict", "ladder");
    let study = dir.join("s.db");
    hnas()
        .args(["search", "--space", &example("nb201"), "--evaluator"])
        .arg("proxy:mnist1d,channels=2,train_size=256,train_epochs=3,proxies=flops+params+synflow,reference=20")
        .args(["--strategy", "sh", "--budget", "13", "--seed", "1", "--quiet", "--study"])
        .arg(&study)
        .succeeds();
    let store = SqliteStore::open(&study).unwrap();
    let trials = store.trials().unwrap();
    let at = |f: f64| trials.iter().filter(|t| t.fidelity == Some(f)).count();
    // Rungs 0/1/3 promote by three (the ratio of the trained rungs): 9 screened by the
    // proxies, 3 trained for one epoch, 1 for three.
    assert_eq!((at(0.0), at(1.0), at(3.0)), (9, 3, 1));
    assert!(trials.iter().all(|t| t.error.is_none()), "a trial failed");
    // The survivors of the screen are the networks with the best aggregate.
    let promoted: HashSet<&str> = trials
        .iter()
        .filter(|t| t.fidelity == Some(1.0))
        .map(|t| t.canonical_hash.as_str())
        .collect();
    let (kept, dropped): (Vec<_>, Vec<_>) = trials
        .iter()
        .filter(|t| t.fidelity == Some(0.0))
        .partition(|t| promoted.contains(t.canonical_hash.as_str()));
    assert_eq!(kept.len(), 3);
    let worst_kept = kept
        .iter()
        .map(|t| t.metrics["aggregate"])
        .fold(f64::INFINITY, f64::min);
    let best_dropped = dropped
        .iter()
        .map(|t| t.metrics["aggregate"])
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(worst_kept >= best_dropped, "{worst_kept} < {best_dropped}");
}
