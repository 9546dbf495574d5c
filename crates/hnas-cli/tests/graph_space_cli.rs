//! A user's own space and table: the graph-network space of examples/spaces/graph.hnas,
//! with constraints and declared symmetries, searched through a table with one row per
//! network (tests/data/graph-small.csv, made by bench/graph_table.py).

mod common;
use common::{example, hnas, root, tempdir, trials_in, Succeeds};
use predicates::prelude::*;
use std::collections::HashSet;

fn small() -> (String, String) {
    let d = root().join("crates/hnas-cli/tests/data");
    (
        d.join("graph-small.hnas").display().to_string(),
        d.join("graph-small.csv").display().to_string(),
    )
}

fn stdout(args: &[&str]) -> String {
    String::from_utf8(hnas().args(args).succeeds().stdout).unwrap()
}

/// `hnas search` of the small space on its table (max:accuracy) into `study`, not yet run.
fn search_table(strategy: &str, budget: &str, study: &str) -> assert_cmd::Command {
    let (space, table) = small();
    let mut c = hnas();
    c.args(["search", "--space", &space, "--evaluator"])
        .arg(format!("table:{table},form=network"))
        .args(["--strategy", strategy, "--budget", budget])
        .args(["--objective", "max:accuracy", "--study", study]);
    c
}

/// Every trial of a study, as the JSON lines `hnas trials` writes.
fn trials(study: &str) -> Vec<serde_json::Value> {
    String::from_utf8(trials_in(study, "json").succeeds().stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn count_gives_forms_and_distinct_networks() {
    assert_eq!(stdout(&["space", "count", &example("graph")]), "138960\n");
    let (space, table) = small();
    assert_eq!(stdout(&["space", "count", &space]), "282\n");
    // The table has one row per network, written by an independent implementation of the
    // isomorphism rule (bench/graph_table.py).
    let rows = std::fs::read_to_string(&table).unwrap().lines().count() - 1;
    assert_eq!(
        stdout(&["space", "count", "--networks", &space]),
        format!("{rows}\n")
    );
    hnas()
        .args(["space", "count", "--networks", &example("mlp")])
        .assert()
        .failure()
        .stderr(predicate::str::contains("continuous parameters"));
}

#[test]
fn a_table_with_one_row_per_network_serves_every_form() {
    let dir = tempdir("graph", "every-form");
    let study = dir.join("s.db");
    let study = study.display().to_string();
    // Every form of the space, asked in rank order: each finds its network's row.
    search_table("grid", "282", &study)
        .assert()
        .success()
        .stdout(predicate::str::contains("282 counted"));
    let mut networks = HashSet::new();
    for t in trials(&study) {
        assert_eq!(t["state"], "complete", "{t}");
        assert!(t["metrics"]["accuracy"].as_f64().unwrap() > 50.0, "{t}");
        networks.insert(t["canonical_hash"].as_str().unwrap().to_string());
    }
    assert_eq!(networks.len(), 109);

    // Under --dedup skip every counted trial is a new network.
    let study2 = dir.join("s2.db").display().to_string();
    search_table("rea:population=10,sample=3", "60", &study2)
        .args(["--dedup", "skip", "--seed", "4"])
        .assert()
        .success();
    let mut seen = HashSet::new();
    for t in trials(&study2) {
        if t["counted"] == true {
            assert!(
                seen.insert(t["canonical_hash"].as_str().unwrap().to_string()),
                "counted twice: {t}"
            );
        }
    }
    assert_eq!(seen.len(), 60);
}

#[test]
fn a_table_with_two_rows_of_one_network_is_refused_naming_both() {
    let (space, _) = small();
    let dir = tempdir("graph", "twice");
    let table = dir.join("t.csv");
    std::fs::write(
        &table,
        "arch,accuracy\n\"dag(0>1:gcn,1>2:gat,0>3:fc)\",1\n\"dag(0>1:fc,0>2:gcn,2>3:gat)\",2\n",
    )
    .unwrap();
    hnas()
        .args([
            "search",
            "--space",
            &space,
            "--evaluator",
            &format!("table:{},form=network", table.display()),
            "--budget",
            "3",
            "--objective",
            "max:accuracy",
            "--study",
            &dir.join("s.db").display().to_string(),
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("are the same network"))
        .stderr(predicate::str::contains("dag(0>1:gcn,1>2:gat,0>3:fc)"));
}

#[test]
fn random_search_over_networks_draws_each_network_equally() {
    let (space, table) = small();
    let out = stdout(&[
        "bench",
        "--space",
        &space,
        "--evaluator",
        &format!("table:{table},form=network"),
        "--objective",
        "max:accuracy",
        "--regret-metric",
        "accuracy",
        "--strategies",
        "random:over=networks",
        "--seeds",
        "4",
        "--budget",
        "30",
        "--at",
        "30",
        "--dedup",
        "skip",
    ]);
    assert!(out.contains("distinct/100"), "{out}");
    let row = out
        .lines()
        .find(|l| l.contains("random:over=networks"))
        .unwrap();
    assert!(row.contains("100.0"), "{row}");
    hnas()
        .args([
            "search",
            "--space",
            &example("mlp"),
            "--evaluator",
            "hash",
            "--strategy",
            "random:over=networks",
            "--budget",
            "2",
            "--study",
            &tempdir("graph", "over").join("s.db").display().to_string(),
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "over=networks enumerates the space",
        ));
}
