//! `hnas search` / `hnas trials` as a user runs them, including being killed mid-search.
mod common;
use common::{trials_in, Succeeds};

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(name: &str) -> String {
    root()
        .join("examples/spaces")
        .join(format!("{name}.hnas"))
        .display()
        .to_string()
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hnas-search-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn hnas() -> Command {
    Command::cargo_bin("hnas").unwrap()
}

/// `hnas trials --format csv` as rows of (number, state, value, candidate).
fn trials(study: &Path) -> Vec<(String, String, String, String)> {
    trials_at(&study.display().to_string())
}

/// The same for a study file or a PostgreSQL URL.
fn trials_at(study: &str) -> Vec<(String, String, String, String)> {
    let out = trials_in(study, "csv").succeeds();
    trial_rows(&out.stdout)
}

/// The trials of a study file that may hold no study yet: a search killed after creating
/// the file and before recording its study leaves one, and the next search starts it.
fn trials_if_started(study: &Path) -> Vec<(String, String, String, String)> {
    let out = trials_in(&study.display().to_string(), "csv")
        .output()
        .unwrap();
    if out.status.success() {
        return trial_rows(&out.stdout);
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds no study"), "{err}");
    Vec::new()
}

fn trial_rows(csv_text: &[u8]) -> Vec<(String, String, String, String)> {
    let mut r = csv::Reader::from_reader(csv_text);
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (n, st, v, c) = (col("number"), col("state"), col("value"), col("candidate"));
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[n].to_string(),
                rec[st].to_string(),
                rec[v].to_string(),
                rec[c].to_string(),
            )
        })
        .collect()
}

#[test]
fn search_on_nb201_prints_a_leaderboard_and_resumes_or_extends() {
    let dir = tempdir("nb201");
    let study = dir.join("nb201.db");
    let args = |budget: &str| {
        vec![
            "search".to_string(),
            "--space".into(),
            example("nb201"),
            "--evaluator".into(),
            "nb201:cifar10".into(),
            "--strategy".into(),
            "rea".into(),
            "--budget".into(),
            budget.into(),
            "--seed".into(),
            "0".into(),
            "--study".into(),
            study.display().to_string(),
        ]
    };
    hnas()
        .args(args("60"))
        .assert()
        .success()
        .stdout(predicate::str::contains("60 counted of budget 60"))
        .stdout(predicate::str::contains("max:valid_12"))
        .stdout(predicate::str::contains("test_200"));
    assert_eq!(trials(&study).len(), 60);
    // The same command again: nothing to do.
    hnas()
        .args(args("60"))
        .assert()
        .success()
        .stderr(predicate::str::contains("resuming"));
    assert_eq!(trials(&study).len(), 60);
    // A larger budget extends the study to what an uninterrupted run would have.
    hnas().args(args("90")).assert().success();
    let extended = trials(&study);
    let fresh = dir.join("fresh.db");
    let mut a = args("90");
    *a.last_mut().unwrap() = fresh.display().to_string();
    hnas().args(a).assert().success();
    assert_eq!(extended, trials(&fresh));
    // Other settings on the same file are refused, and the file is left as it was.
    let mut a = args("90");
    a[8] = "9".into();
    a[6] = "random".into();
    hnas()
        .args(a)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
        "already holds a study with other settings:\n  strategy: 'rea' (stored) → 'random' (given)",
    ));
    assert_eq!(trials(&study), extended);
}

#[test]
fn a_search_killed_at_random_moments_resumes_to_the_uninterrupted_result() {
    let dir = tempdir("kill");
    let budget = "1500";
    let base = |study: &Path| {
        vec![
            "search".to_string(),
            "--space".into(),
            example("mnasnet"),
            "--evaluator".into(),
            "hash".into(),
            "--strategy".into(),
            "rea:population=20,sample=5".into(),
            "--budget".into(),
            budget.into(),
            "--seed".into(),
            "11".into(),
            "--study".into(),
            study.display().to_string(),
            "--quiet".into(),
        ]
    };
    let straight = dir.join("straight.db");
    hnas().args(base(&straight)).assert().success();
    let expected = trials(&straight);
    assert_eq!(expected.len(), 1500);

    let killed = dir.join("killed.db");
    let bin = assert_cmd::cargo::cargo_bin("hnas");
    let mut interrupted_mid_run = 0;
    for attempt in 0..40u64 {
        let mut child = std::process::Command::new(&bin)
            .args(base(&killed))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(20 + 37 * (attempt % 9)));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        if killed.exists() {
            let n = trials_if_started(&killed).len();
            if !finished && n > 0 && n < 1500 {
                interrupted_mid_run += 1;
            }
            if n == 1500 || interrupted_mid_run >= 3 {
                break;
            }
        }
    }
    assert!(
        interrupted_mid_run >= 2,
        "the kills should land mid-search ({interrupted_mid_run} did)"
    );
    hnas().args(base(&killed)).assert().success();
    assert_eq!(trials(&killed), expected);
}

#[test]
fn a_toml_study_file_holds_the_settings() {
    let dir = tempdir("toml");
    std::fs::copy(example("mnasnet"), dir.join("space.hnas")).unwrap();
    std::fs::write(
        dir.join("study.toml"),
        "space = \"space.hnas\"\nevaluator = \"hash\"\nbudget = 25\nseed = 4\nstudy = \"out/s.db\"\n[strategy]\nname = \"rea\"\npopulation = 10\nsample = 3\n",
    )
    .unwrap();
    hnas()
        .args([
            "search",
            &dir.join("study.toml").display().to_string(),
            "--quiet",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("25 counted of budget 25"));
    assert_eq!(trials(&dir.join("out/s.db")).len(), 25);
    std::fs::write(
        dir.join("bad.toml"),
        "space = \"space.hnas\"\nevalutor = \"hash\"\n",
    )
    .unwrap();
    hnas()
        .args(["search", &dir.join("bad.toml").display().to_string()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "unknown key 'evalutor'; expected one of: space, evaluator",
        ));
}

#[test]
fn bad_input_gets_one_clear_line_and_writes_nothing() {
    let dir = tempdir("bad");
    let study = dir.join("s.db");
    let run = |extra: &[&str]| {
        let mut a = vec![
            "search",
            "--space",
            &*Box::leak(example("nb201").into_boxed_str()),
            "--budget",
            "5",
            "--quiet",
        ];
        let s = Box::leak(study.display().to_string().into_boxed_str());
        a.extend(["--study", s]);
        a.extend_from_slice(extra);
        hnas().args(a).assert().code(1)
    };
    run(&["--evaluator", "hash", "--strategy", "bogus"]).stderr(predicate::str::contains(
        "unknown strategy 'bogus'; expected one of: random, rea, ls, grid",
    ));
    run(&["--evaluator", "nope"]).stderr(predicate::str::contains(
        "unknown evaluator 'nope'; expected one of:",
    ));
    run(&["--evaluator", "hash", "--objective", "max:accuracy"]).stderr(predicate::str::contains(
        "unknown metric 'accuracy' for evaluator 'hash'; expected one of: score",
    ));
    run(&[
        "--evaluator",
        "table:/no/such.csv",
        "--objective",
        "max:acc",
    ])
    .stderr(predicate::str::contains("cannot read table /no/such.csv"));
    run(&["--evaluator", "hash", "--dedup", "maybe"])
        .stderr(predicate::str::contains("unknown dedup policy 'maybe'"));
    assert!(
        !study.exists(),
        "no study file is left behind by a refused search"
    );

    // A table that lacks some candidates of the space: the search stops at the first one.
    let table = dir.join("partial.csv");
    std::fs::write(&table, "arch,acc\n\"mlp(width=8)\",50\n").unwrap();
    let space = dir.join("mlp.hnas");
    std::fs::write(&space, "net = mlp(width = {8, 16, 32, 64})\n").unwrap();
    hnas()
        .args([
            "search",
            "--space",
            &space.display().to_string(),
            "--evaluator",
            &format!("table:{}", table.display()),
        ])
        .args([
            "--objective",
            "max:acc",
            "--strategy",
            "grid",
            "--budget",
            "4",
            "--quiet",
            "--study",
            &study.display().to_string(),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "candidate 'mlp(width=16)' is not in table",
        ));
    let rows = trials(&study);
    assert_eq!(
        rows.len(),
        1,
        "the completed trial stays, the failed lookup leaves no trial"
    );
    assert_eq!(rows[0].1, "complete");

    hnas()
        .args(["trials", "--study", "/no/such/study.db"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no study at /no/such/study.db"));
    hnas()
        .args(["search", "--evaluator", "hash"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no space given"));
}

#[test]
fn trials_come_as_table_csv_and_json() {
    let dir = tempdir("formats");
    let study = dir.join("s.db");
    hnas()
        .args([
            "search",
            "--space",
            &example("mnasnet"),
            "--evaluator",
            "hash",
            "--budget",
            "12",
            "--quiet",
        ])
        .args(["--study", &study.display().to_string()])
        .assert()
        .success();
    let s = study.display().to_string();
    let json = hnas()
        .args(["trials", "--study", &s, "--format", "json"])
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(json.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 12);
    assert_eq!(lines[3]["number"], 3);
    assert!(lines[3]["metrics"]["score"].is_number());
    hnas()
        .args(["trials", "--study", &s])
        .assert()
        .success()
        .stdout(predicate::str::contains("max:score"))
        .stdout(predicate::str::contains("mnasnet(stem=32"));
}

#[test]
fn bench_writes_curves_and_does_not_depend_on_threads() {
    let dir = tempdir("bench");
    let run = |threads: &str, out: &Path| {
        let o = hnas()
            .args([
                "bench",
                "--space",
                &example("mnasnet"),
                "--evaluator",
                "hash",
                "--strategies",
                "rea,tpe",
                "--seeds",
                "6",
                "--budget",
                "40",
            ])
            .args([
                "--regret-metric",
                "score",
                "--at",
                "10,40",
                "--threads",
                threads,
                "--out",
                &out.display().to_string(),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out.join("curves.csv")).unwrap()
    };
    let one = run("1", &dir.join("one"));
    let two = run("2", &dir.join("two"));
    assert_eq!(one, two, "the curves must not depend on the thread count");
    assert_eq!(
        one.lines().count(),
        1 + 3 * 40,
        "random, rea, tpe at every budget"
    );
    let svg = std::fs::read_to_string(dir.join("one/curves.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<polyline") && svg.contains("\ntpe\n</text>"));
}

#[test]
fn bench_first_seed_shifts_the_seeds() {
    // The mean over seeds 0..4 is the mean of the means over 0..2 and 2..4.
    let dir = tempdir("bench-seeds");
    let run = |first: &str, seeds: &str, name: &str| -> (String, Vec<(String, f64)>) {
        let out = dir.join(name);
        let o = hnas()
            .args([
                "bench",
                "--space",
                &example("mnasnet"),
                "--evaluator",
                "hash",
            ])
            .args([
                "--strategies",
                "rea",
                "--budget",
                "20",
                "--regret-metric",
                "score",
            ])
            .args(["--seeds", seeds, "--first-seed", first, "--at", "10,20"])
            .args(["--out", &out.display().to_string()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let csv = std::fs::read_to_string(out.join("curves.csv")).unwrap();
        let rows = csv
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (format!("{},{}", f[0], f[1]), f[2].parse::<f64>().unwrap())
            })
            .collect();
        (String::from_utf8(o.stdout).unwrap(), rows)
    };
    let seeds = |name: &str| std::fs::read_to_string(dir.join(name).join("seeds.csv")).unwrap();
    let (_, all) = run("0", "4", "all");
    let (_, low) = run("0", "2", "low");
    let (text, high) = run("2", "2", "high");
    // Each seed's row is the same whichever seeds run beside it.
    let all_seeds = seeds("all");
    for part in ["all", "low", "high"] {
        let text = seeds(part);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("strategy,seed,at_10,at_20"), "{part}");
        for line in lines {
            assert!(all_seeds.lines().any(|l| l == line), "{part}: {line}");
        }
    }
    assert!(seeds("high")
        .lines()
        .skip(1)
        .all(|l| l.contains(",2,") || l.contains(",3,")));
    assert_eq!(
        all_seeds.lines().count(),
        1 + 2 * 4,
        "random and rea, four seeds each"
    );
    assert!(text.contains("2 seeds (from seed 2)"), "{text}");
    assert_eq!(all.len(), low.len());
    assert_ne!(low, high, "other seeds, other runs");
    for ((k, a), ((_, l), (_, h))) in all.iter().zip(low.iter().zip(&high)) {
        assert!((a - (l + h) / 2.0).abs() < 1e-9, "{k}: {a} vs {l} and {h}");
    }
}

#[test]
fn illuminate_maps_a_map_elites_study() {
    let dir = tempdir("illuminate");
    let study = dir.join("me.db");
    hnas()
        .args([
            "search",
            "--space",
            &example("mnasnet"),
            "--evaluator",
            "hash",
            "--budget",
            "120",
            "--quiet",
        ])
        .args([
            "--strategy",
            "mapelites:x=count.mbconv:0:7:8,y=score:0:1:5,init=20",
            "--study",
            &study.display().to_string(),
        ])
        .assert()
        .success();
    let out = dir.join("map");
    hnas()
        .args([
            "illuminate",
            "--study",
            &study.display().to_string(),
            "--out",
            &out.display().to_string(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("of 40 (coverage"))
        .stdout(predicate::str::contains("QD-score:"));
    let csv = std::fs::read_to_string(out.join("map.csv")).unwrap();
    let rows = csv.lines().count() - 1;
    assert!(rows >= 10, "several cells filled: {rows}");
    assert!(
        std::fs::read_to_string(out.join("map.svg"))
            .unwrap()
            .matches("<rect")
            .count()
            >= 40
    );
    // A study run with another strategy needs descriptors on the command line.
    let rea = dir.join("rea.db");
    hnas()
        .args([
            "search",
            "--space",
            &example("mnasnet"),
            "--evaluator",
            "hash",
            "--budget",
            "10",
            "--quiet",
            "--study",
            &rea.display().to_string(),
        ])
        .assert()
        .success();
    hnas()
        .args(["illuminate", "--study", &rea.display().to_string()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("give --x SOURCE:lo:hi:bins"));
    hnas()
        .args([
            "illuminate",
            "--study",
            &rea.display().to_string(),
            "--x",
            "score:0:1:4",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("of 4"));
}

/// `hnas search --space nb201 --evaluator nb201:cifar10`, to which a test adds the rest.
fn nb201_search() -> assert_cmd::Command {
    let mut c = hnas();
    c.args([
        "search",
        "--space",
        &example("nb201"),
        "--evaluator",
        "nb201:cifar10",
    ]);
    c
}

#[test]
fn a_two_objective_search_prints_and_plots_its_front() {
    let dir = tempdir("front");
    let study = dir.join("front.db");
    let study_s = study.display().to_string();
    let out = nb201_search()
        .args([
            "--strategy",
            "nsga2",
            "--objective",
            "max:test_200",
            "--objective",
            "min:latency_ms_pi5_onnx",
            "--constraint",
            "latency_ms_pi5_onnx <= 8",
            "--reference",
            "85,10",
            "--budget",
            "120",
            "--study",
            &study_s,
            "-q",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Pareto front: "), "{text}");
    assert!(text.contains("hypervolume "), "{text}");
    assert!(text.contains("reference point 85, 10"), "{text}");

    // The front from `trials --pareto` as CSV: feasible, mutually non-dominated.
    let out = hnas()
        .args(["trials", "--study", &study_s, "--pareto", "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut r = csv::Reader::from_reader(out.stdout.as_slice());
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (acc, lat, feas) = (col("test_200"), col("latency_ms_pi5_onnx"), col("feasible"));
    let front: Vec<(f64, f64)> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            assert_eq!(&rec[feas], "true");
            (rec[acc].parse().unwrap(), rec[lat].parse().unwrap())
        })
        .collect();
    assert!(front.len() >= 3, "{front:?}");
    for a in &front {
        assert!(a.1 <= 8.0);
        for b in &front {
            assert!(
                !(a.0 >= b.0 && a.1 <= b.1 && (a.0 > b.0 || a.1 < b.1)),
                "{a:?} dominates {b:?}"
            );
        }
    }
    // Every trial: infeasible ones are marked, and none is on the front.
    let all = trials(&study);
    assert_eq!(all.len(), 120);

    let plot = dir.join("plots/front.svg");
    hnas()
        .args([
            "trials",
            "--study",
            &study_s,
            "--pareto",
            "--plot",
            &plot.display().to_string(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("hypervolume"));
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains(&format!("Pareto front ({})", front.len())));

    // A single-objective strategy refuses the study, and a bad constraint is named.
    nb201_search()
        .args([
            "--strategy",
            "rea",
            "--objective",
            "max:test_200",
            "--objective",
            "min:latency_ms_pi5_onnx",
            "--study",
            &dir.join("x.db").display().to_string(),
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("'rea' optimizes one objective"));
    nb201_search()
        .args([
            "--constraint",
            "latency < 5",
            "--study",
            &dir.join("y.db").display().to_string(),
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "constraint 'latency < 5': expected METRIC <= NUMBER",
        ));
    // The table's own column names point to this evaluator's metric, or say that they
    // name another dataset.
    for (asked, hint) in [
        ("cifar10_test_200", "did you mean 'test_200'? expected"),
        (
            "cifar100_test_200",
            "did you mean 'test_200'? (evaluator 'nb201:cifar10' reports its own; 'cifar100' needs one that reads it)",
        ),
    ] {
        nb201_search()
            .args([
                "--strategy",
                "nsga2",
                "--objective",
                &format!("max:{asked}"),
                "--objective",
                "min:latency_ms_pi5_onnx",
                "--study",
                &dir.join("z.db").display().to_string(),
            ])
            .assert()
            .failure()
            .stderr(predicate::str::contains(format!(
                "unknown metric '{asked}' for evaluator 'nb201:cifar10'; {hint}"
            )));
    }
    for refused in ["x.db", "y.db", "z.db"] {
        assert!(!dir.join(refused).exists(), "{refused} was created");
    }
}

#[test]
fn asha_spends_a_cost_budget_across_two_fidelities() {
    let dir = tempdir("asha");
    let study = dir.join("asha.db");
    let study_s = study.display().to_string();
    let out = nb201_search()
        .args([
            "--strategy",
            "asha:sampler=rea,eta=4",
            "--objective",
            "max:accuracy",
            "--report",
            "test_200",
            "--budget-cost",
            "3000",
            "--study",
            &study_s,
            "-q",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("of 3000 epochs"), "{text}");
    let out = hnas()
        .args(["trials", "--study", &study_s, "--format", "csv"])
        .output()
        .unwrap();
    let mut r = csv::Reader::from_reader(out.stdout.as_slice());
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (fid, cost, cand) = (col("fidelity"), col("cost"), col("candidate"));
    let rows: Vec<(f64, f64, String)> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[fid].parse().unwrap(),
                rec[cost].parse().unwrap(),
                rec[cand].to_string(),
            )
        })
        .collect();
    let spent: f64 = rows.iter().map(|r| r.1).sum();
    // It stops once the budget is reached: the last trial may cross it, by at most 200.
    assert!((3000.0..3200.0).contains(&spent), "spent {spent}");
    let promoted: Vec<&(f64, f64, String)> = rows.iter().filter(|r| r.0 == 200.0).collect();
    assert!(!promoted.is_empty());
    // Every 200-epoch candidate was first evaluated at 12 epochs, earlier.
    for p in &promoted {
        assert!(
            rows.iter().any(|r| r.0 == 12.0 && r.2 == p.2),
            "{} never ran at 12",
            p.2
        );
    }
    // The leaderboard ranks by the highest fidelity: its first row is a 200-epoch trial.
    assert!(text.contains("test_200"), "{text}");
}

#[test]
fn the_mnasnet_reward_is_the_stored_value() {
    let dir = tempdir("mnas");
    let study = dir.join("mnas.db");
    nb201_search()
        .args([
            "--strategy",
            "rea:population=10,sample=3",
            "--objective",
            "mnas:test_200,latency_ms_pi5_onnx,5",
            "--budget",
            "40",
            "--study",
            &study.display().to_string(),
            "-q",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "mnas:test_200,latency_ms_pi5_onnx,5,-0.07",
        ));
    let out = trials_in(&study.display().to_string(), "csv")
        .output()
        .unwrap();
    let mut r = csv::Reader::from_reader(out.stdout.as_slice());
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (v, acc, lat) = (col("value"), col("test_200"), col("latency_ms_pi5_onnx"));
    let mut n = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        let (value, a, l): (f64, f64, f64) = (
            rec[v].parse().unwrap(),
            rec[acc].parse().unwrap(),
            rec[lat].parse().unwrap(),
        );
        let want = a * (l / 5.0).powf(-0.07);
        assert!((value - want).abs() < 1e-9, "{value} vs {want}");
        n += 1;
    }
    assert_eq!(n, 40);
}

fn python_ok() -> bool {
    match std::process::Command::new("python3")
        .arg("--version")
        .output()
    {
        Ok(o) if o.status.success() => true,
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!("CI=true: python3 is missing"),
        _ => {
            eprintln!("notice: skipping: python3 is not installed");
            false
        }
    }
}

#[test]
fn an_agent_pipeline_is_searched_through_an_external_scorer() {
    if !python_ok() {
        return;
    }
    let dir = tempdir("agent");
    let scorer = root().join("examples/agent/score.py").display().to_string();
    let study = dir.join("agent.db");
    // The evaluator in a TOML study file, as a table with an argv list.
    let toml = dir.join("agent.toml");
    std::fs::write(
        &toml,
        format!(
            "space = {:?}\nstudy = \"agent.db\"\nstrategy = \"nsga2\"\nobjective = [\"max:quality\", \"min:cost\"]\nbudget = 30\n\n[evaluator]\ncommand = [\"python3\", {:?}]\ntimeout = 60\nmetrics = [\"quality\", \"cost\"]\n",
            example("agent"),
            scorer
        ),
    )
    .unwrap();
    let out = hnas()
        .args(["search", &toml.display().to_string(), "-q"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("30 complete, 0 failed"), "{text}");
    assert!(text.contains("Pareto front: "), "{text}");
    // The scorer is deterministic: every stored quality is what it says for that candidate.
    let out = trials_in(&study.display().to_string(), "json")
        .output()
        .unwrap();
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    let job = dir.join("job.json");
    std::fs::write(
        &job,
        serde_json::json!({"trial": 0, "candidate": first["candidate"], "tree": serde_json::from_str::<serde_json::Value>(first["candidate_json"].as_str().unwrap()).unwrap()}).to_string(),
    )
    .unwrap();
    let again = std::process::Command::new("python3")
        .arg(&scorer)
        .env("HNAS_CANDIDATE", &job)
        .output()
        .unwrap();
    let again: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&again.stdout).trim()).unwrap();
    assert_eq!(again["quality"], first["metrics"]["quality"]);

    // A program that crashes on some candidates: failed trials with reasons, the search goes on.
    let flaky = dir.join("flaky.py");
    std::fs::write(
        &flaky,
        "import json, os, sys\njob = json.load(open(os.environ['HNAS_CANDIDATE']))\nif len(job['candidate']) % 3 == 0:\n    sys.exit('out of budget for large models')\nprint(json.dumps({'quality': len(job['candidate']) % 17}))\n",
    )
    .unwrap();
    let spec = serde_json::json!(["python3", flaky.display().to_string()]).to_string();
    let out = hnas()
        .args([
            "search",
            "--space",
            &example("agent"),
            "--evaluator",
            &format!("command:{spec}"),
            "--strategy",
            "rea:population=5,sample=2",
            "--objective",
            "max:quality",
            "--budget",
            "25",
            "--study",
            &dir.join("flaky.db").display().to_string(),
            "-q",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("25 trials"), "{text}");
    let rows = trials(&dir.join("flaky.db"));
    let failed: Vec<_> = rows.iter().filter(|r| r.1 == "failed").collect();
    assert!(
        !failed.is_empty() && failed.len() < 25,
        "{} failed",
        failed.len()
    );
    let out = trials_in(&dir.join("flaky.db").display().to_string(), "csv")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("out of budget for large models"));
}

#[test]
fn a_study_in_postgresql_resumes_like_a_file() {
    let base = match std::env::var("HNAS_TEST_POSTGRES") {
        Ok(u) => u,
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true: HNAS_TEST_POSTGRES is not set (.ci/start-postgres sets it)")
        }
        Err(_) => {
            eprintln!("notice: skipping: HNAS_TEST_POSTGRES is not set");
            return;
        }
    };
    let dir = tempdir("pg");
    let name = format!("cli-{}-{}", std::process::id(), hnas_store::now());
    let url = format!("{base}?study={name}");
    let search = |study: &str, budget: &str| {
        hnas()
            .args([
                "search",
                "--space",
                &example("mlp"),
                "--evaluator",
                "hash",
                "--strategy",
                "rea:population=8,sample=3",
                "--budget",
                budget,
                "--seed",
                "4",
                "--study",
                study,
                "-q",
            ])
            .assert()
            .success();
    };
    search(&url, "30");
    search(&url, "70");
    let file = dir.join("same.db");
    search(&file.display().to_string(), "70");
    let pg_rows = trials_at(&url);
    assert_eq!(pg_rows.len(), 70);
    assert_eq!(pg_rows, trials(&file));
    hnas()
        .args([
            "trials",
            "--study",
            "postgres://nobody@127.0.0.1:1/x?study=y&connect_timeout=2",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("cannot connect"));
}

#[test]
fn workers_killed_at_random_lose_nothing_and_record_nothing_twice() {
    use hnas_eval::Evaluator;
    let base = match std::env::var("HNAS_TEST_POSTGRES") {
        Ok(u) => u,
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true: HNAS_TEST_POSTGRES is not set (.ci/start-postgres sets it)")
        }
        Err(_) => {
            eprintln!("notice: skipping: HNAS_TEST_POSTGRES is not set");
            return;
        }
    };
    let url = format!(
        "{base}?study=faults-{}-{}",
        std::process::id(),
        hnas_store::now()
    );
    let bin = assert_cmd::cargo::cargo_bin("hnas");
    let space = example("nb201");
    let spawn = || {
        std::process::Command::new(&bin)
            .args([
                "worker",
                "--space",
                &space,
                "--evaluator",
                "sleep:20",
                "--objective",
                "max:score",
                "--strategy",
                "random",
                "--budget",
                "500",
                "--study",
                &url,
                "--lease",
                "1",
                "-q",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut workers: Vec<std::process::Child> = (0..4).map(|_| spawn()).collect();
    // SIGKILL a random worker every 150-400 ms for a while, restarting it at once.
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for _ in 0..12 {
        std::thread::sleep(Duration::from_millis(150 + next() % 250));
        let k = (next() % 4) as usize;
        workers[k].kill().unwrap();
        workers[k].wait().unwrap();
        workers[k] = spawn();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    for w in &mut workers {
        loop {
            if w.try_wait().unwrap().is_some() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "a worker never finished"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let out = hnas()
        .args(["trials", "--study", &url, "--format", "json"])
        .succeeds();
    let trials: Vec<hnas_store::TrialRecord> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Every trial exactly once, finished, numbered densely; the budget exactly spent.
    assert_eq!(trials.iter().filter(|t| t.counted).count(), 500);
    for (i, t) in trials.iter().enumerate() {
        assert_eq!(t.number, i as u64);
        assert_eq!(t.state, hnas_store::TrialState::Complete, "trial {i}");
    }
    // One sequence of asks and tells, no number used twice.
    let mut seqs: Vec<u64> = trials
        .iter()
        .flat_map(|t| [Some(t.ask_seq), t.tell_seq])
        .flatten()
        .collect();
    let n = seqs.len();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), n, "a sequence number was used twice");
    // Results are the evaluator's for each candidate.
    let s = hnas_space::Space::from_file(std::path::Path::new(&space)).unwrap();
    for t in &trials {
        // A duplicate (an isomorphic cell) carries its original's result.
        let source = &trials[t.duplicate_of.unwrap_or(t.number) as usize];
        let c = s.parse_candidate(&source.candidate).unwrap();
        let want = hnas_eval::HashScore.evaluate(&s, &c, None).unwrap()["score"];
        assert_eq!(t.metrics["score"], want, "trial {}", t.number);
    }
    // Some trials were taken over from killed workers.
    assert!(
        trials.iter().any(|t| t.attempt > 1),
        "no kill hit a running trial"
    );
    // The study replays in one process: nothing diverges, nothing is left to do.
    hnas()
        .args([
            "search",
            "--space",
            &space,
            "--evaluator",
            "sleep:20",
            "--objective",
            "max:score",
            "--strategy",
            "random",
            "--budget",
            "500",
            "--study",
            &url,
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "500 trials (500 counted of budget 500",
        ));
}
