//! `hnas search` training candidates for real: the default search with no space or evaluator,
//! and failures of networks that cannot exist.

mod common;
use common::{hnas, tempdir, trials_in, Succeeds};

fn csv_rows(study: &std::path::Path) -> Vec<csv::StringRecord> {
    let out = trials_in(&study.display().to_string(), "csv").succeeds();
    csv::Reader::from_reader(out.stdout.as_slice())
        .records()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn search_with_no_space_trains_the_embedded_default() {
    let d = tempdir("train-cli", "default");
    let study = d.join("default.db");
    // The main job, shortened: three candidates, one epoch each.
    let out = hnas()
        .current_dir(&d)
        .args([
            "search",
            "--quiet",
            "--budget",
            "3",
            "--fidelity",
            "1",
            "--study",
        ])
        .arg(&study)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 complete, 0 failed"), "{stdout}");
    for column in [
        "max:accuracy",
        "test_accuracy",
        "params",
        "flops",
        "latency_ms",
    ] {
        assert!(
            stdout.contains(column),
            "leaderboard lacks {column}: {stdout}"
        );
    }
    assert!(
        stdout.contains(&format!("study file: {}", study.display())),
        "{stdout}"
    );
    let rows = csv_rows(&study);
    assert_eq!(rows.len(), 3);
    let out = trials_in(&study.display().to_string(), "json")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let acc = first["metrics"]["accuracy"].as_f64().unwrap();
    assert!(
        acc > 20.0 && acc <= 100.0,
        "one epoch on MNIST-1D beats chance: {acc}"
    );
    assert_eq!(first["metrics"]["epochs"].as_f64(), Some(1.0));
}

#[test]
fn a_network_that_cannot_exist_is_a_failed_trial_and_the_search_goes_on() {
    let d = tempdir("train-cli", "invalid");
    let space = d.join("pools.hnas");
    // Two or three 4-wide poolings: 40 → 10 → 2 fits, a third cannot.
    std::fs::write(
        &space,
        "net = net(body = body)\nbody = stack(layers = repeat(pool, 2, 3))\npool = max_pool(size = 4)\n",
    )
    .unwrap();
    let study = d.join("s.db");
    let out = hnas()
        .args([
            "search",
            "--quiet",
            "--evaluator",
            "train:mnist1d,epochs=1,train_size=200",
            "--strategy",
            "grid",
            "--budget",
            "2",
        ])
        .arg("--space")
        .arg(&space)
        .arg("--study")
        .arg(&study)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 complete, 1 failed"), "{stdout}");
    let out = trials_in(&study.display().to_string(), "json")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("does not fit an input of length 2"), "{text}");
}
