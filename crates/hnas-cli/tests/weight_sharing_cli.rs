//! `hnas darts` and the `oneshot:` evaluator from the command line.
mod common;
use common::{example, hnas, root, tempdir, Succeeds};

#[test]
fn darts_writes_a_cell_of_the_space_per_seed() {
    let dir = tempdir("darts", "cells");
    let out_file = dir.join("cells.jsonl");
    let out = hnas()
        .args(["darts", "--space", &example("nb201")])
        .args(["--dataset", "mnist1d,channels=2,train_size=128"])
        .args([
            "--method", "gdas", "--epochs", "1", "--seeds", "2", "--batch", "32",
        ])
        .arg("--out")
        .arg(&out_file)
        .succeeds();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("seed 0: dag(0>1:"), "{text}");
    assert!(
        text.contains("over 2 seeds: parameter-free edges"),
        "{text}"
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out_file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let space = hnas_space::Space::from_file(std::path::Path::new(&example("nb201"))).unwrap();
    for l in &lines {
        let cell = l["cell"].as_str().unwrap();
        space
            .parse_candidate(cell)
            .expect("the found cell is in the space");
        assert_eq!(
            l["weights"].as_array().unwrap().len(),
            6,
            "one row per edge"
        );
    }
}

#[test]
fn darts_refuses_a_space_that_is_not_one_cell() {
    let out = hnas()
        .args(["darts", "--space"])
        .arg(root().join("crates/hnas-train/spaces/mnist1d.hnas"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("must be a dag(...)") || err.contains("must be one dag(...)"),
        "{err}"
    );
}

#[test]
fn a_search_on_the_oneshot_evaluator_reuses_its_supernet() {
    let dir = tempdir("oneshot", "search");
    let sn = dir.join("supernet");
    let ev = format!(
        "oneshot:mnist1d,channels=2,train_size=128,epochs=1,calibrate=64,file={}",
        sn.display()
    );
    let run = |study: &str| {
        hnas()
            .args(["search", "--space", &example("nb201"), "--evaluator", &ev])
            .args([
                "--strategy",
                "random",
                "--budget",
                "3",
                "--quiet",
                "--study",
            ])
            .arg(dir.join(study))
            .succeeds()
    };
    let first = run("a.db");
    assert!(
        String::from_utf8_lossy(&first.stderr).contains("training the supernet"),
        "the first study trains it"
    );
    assert!(sn.join("meta.json").exists());
    let second = run("b.db");
    assert!(
        !String::from_utf8_lossy(&second.stderr).contains("training the supernet"),
        "a second study with the same space, data and settings reuses it"
    );
}
