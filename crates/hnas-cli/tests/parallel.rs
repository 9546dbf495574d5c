//! Several trials at once in one process (`--jobs`, `--devices`): trials overlap, a run
//! killed with trials in flight resumes without losing or doubling one, and each trial
//! gets a device of its own.
mod common;
use common::{example, hnas, tempdir, Succeeds};

use hnas_store::{SqliteStore, Store, TrialRecord, TrialState};
use predicates::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn search(study: &Path, evaluator: &str, budget: u32, jobs: &str) -> Vec<String> {
    [
        "search",
        "--space",
        &example("nb201"),
        "--evaluator",
        evaluator,
        "--budget",
        &budget.to_string(),
        "--jobs",
        jobs,
        "--seed",
        "3",
        "--study",
        &study.display().to_string(),
        "--quiet",
    ]
    .map(String::from)
    .to_vec()
}

fn stored(study: &Path) -> Vec<TrialRecord> {
    SqliteStore::open_read_only(study)
        .unwrap()
        .trials()
        .unwrap()
}

/// Pairs of trials whose evaluations overlapped in time.
fn overlaps(trials: &[TrialRecord]) -> usize {
    let mut n = 0;
    for (i, a) in trials.iter().enumerate() {
        for b in &trials[i + 1..] {
            let (a1, b1) = (a.finished_at.unwrap(), b.finished_at.unwrap());
            if a.started_at < b1 && b.started_at < a1 {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn jobs_run_trials_at_once_and_one_job_runs_them_in_turn() {
    let dir = tempdir("parallel", "overlap");
    let four = dir.join("four.db");
    hnas()
        .args(search(&four, "sleep:150", 12, "4"))
        .assert()
        .success()
        .stdout(predicate::str::contains("12 counted of budget 12"));
    let trials = stored(&four);
    assert_eq!(trials.len(), 12);
    assert!(trials.iter().all(|t| t.state == TrialState::Complete));
    // Four at a time over twelve trials: most neighbours overlap.
    assert!(
        overlaps(&trials) >= 12,
        "{} overlapping pairs",
        overlaps(&trials)
    );

    let one = dir.join("one.db");
    hnas()
        .args(search(&one, "sleep:30", 6, "1"))
        .assert()
        .success();
    assert_eq!(overlaps(&stored(&one)), 0);
}

#[test]
fn jobs_1_and_auto_on_a_table_lookup_propose_what_a_plain_loop_proposes() {
    let dir = tempdir("parallel", "same");
    let study = |name: &str| dir.join(format!("{name}.db"));
    hnas()
        .args(search(&study("one"), "nb201:cifar10", 40, "1"))
        .assert()
        .success();
    hnas()
        .args(search(&study("auto"), "nb201:cifar10", 40, "auto"))
        .assert()
        .success();
    let lines = |p: &Path| -> Vec<String> { stored(p).into_iter().map(|t| t.candidate).collect() };
    assert_eq!(lines(&study("one")), lines(&study("auto")));
}

#[test]
fn a_search_killed_with_trials_in_flight_loses_and_doubles_nothing() {
    let dir = tempdir("parallel", "kill");
    let study = dir.join("s.db");
    let args = search(&study, "sleep:250", 14, "3");
    let bin = assert_cmd::cargo::cargo_bin("hnas");
    let mut child = std::process::Command::new(&bin)
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once some trials are done and three are running.
    let t0 = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(40));
        let done = SqliteStore::open_read_only(&study)
            .and_then(|s| s.trials())
            .map_or(0, |t| t.iter().filter(|t| t.state.is_finished()).count());
        if done >= 4 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no trials finished");
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = stored(&study);
    let running: Vec<u64> = at_kill
        .iter()
        .filter(|t| t.state == TrialState::Running)
        .map(|t| t.number)
        .collect();
    assert!(!running.is_empty(), "the kill should find trials running");
    assert!(at_kill.len() < 14);

    hnas()
        .args(&args)
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "({} unfinished)",
            running.len()
        )));
    let trials = stored(&study);
    assert_eq!(trials.len(), 14);
    for (i, t) in trials.iter().enumerate() {
        assert_eq!(t.number, i as u64);
        assert_eq!(t.state, TrialState::Complete, "trial {i}");
    }
    // Trials finished before the kill kept their result; each tell happened once.
    for before in at_kill.iter().filter(|t| t.state.is_finished()) {
        assert_eq!(trials[before.number as usize].tell_seq, before.tell_seq);
    }
    let mut tells: Vec<u64> = trials.iter().map(|t| t.tell_seq.unwrap()).collect();
    tells.sort();
    tells.dedup();
    assert_eq!(tells.len(), 14);
    // A resume replays every stored ask exactly, whatever --jobs it is given.
    let mut more = search(&study, "sleep:250", 16, "1");
    more.retain(|a| a != "--quiet");
    hnas().args(&more).succeeds();
    assert_eq!(stored(&study).len(), 16);
}

#[test]
fn each_running_trial_has_a_device_of_its_own() {
    let dir = tempdir("parallel", "devices");
    let log = dir.join("log");
    // The program notes its GPU while it holds it, then reports a score.
    let script = dir.join("eval.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"start $CUDA_VISIBLE_DEVICES $HNAS_DEVICE\" >> {log}\nsleep 0.3\necho \"end $CUDA_VISIBLE_DEVICES\" >> {log}\necho '{{\"score\": 0.5}}' > \"$HNAS_RESULT\"\n",
            log = log.display()
        ),
    )
    .unwrap();
    let evaluator = format!("command:[\"sh\", \"{}\"]", script.display());
    let study = dir.join("s.db");
    let mut args = search(&study, &evaluator, 6, "auto");
    args.extend(["--objective".into(), "max:score".into()]);
    args.extend(["--devices".into(), "cuda:0,cuda:1".into()]);
    hnas()
        .env("CUDA_VISIBLE_DEVICES", "5,7")
        .args(&args)
        .succeeds();
    let text = std::fs::read_to_string(&log).unwrap();
    let mut held = std::collections::HashSet::new();
    let mut most = 0;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[0] {
            "start" => {
                assert!(["5", "7"].contains(&words[1]), "{line}");
                assert_eq!(words[2], "cuda:0");
                assert!(
                    held.insert(words[1].to_string()),
                    "two trials on GPU {}",
                    words[1]
                );
                most = most.max(held.len());
            }
            _ => assert!(held.remove(words[1])),
        }
    }
    assert_eq!(most, 2, "--jobs auto runs one trial per device:\n{text}");
}

#[test]
fn jobs_and_devices_say_what_is_wrong() {
    let dir = tempdir("parallel", "bad");
    let study = dir.join("s.db");
    hnas()
        .args(search(&study, "hash", 5, "0"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "'0' is no number of jobs; expected a whole number of trials at once, at least 1, or auto",
        ));
    let mut args = search(&study, "hash", 5, "2");
    args.extend(["--devices".into(), "gpu0".into()]);
    hnas()
        .args(&args)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "--devices: 'gpu0' is no device; expected cpu, auto, or a list such as cuda:0,cuda:1",
        ));
    assert!(!study.exists());
    std::fs::write(
        dir.join("s.toml"),
        "evaluator = \"hash\"\njobs = \"many\"\n",
    )
    .unwrap();
    hnas()
        .args(["search", &dir.join("s.toml").display().to_string()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "'jobs' must be a whole number, at least 1, or \"auto\"",
        ));
}

#[test]
fn a_cpu_build_asked_for_a_gpu_stops_with_the_reason() {
    if cfg!(feature = "tch") {
        return;
    }
    let dir = tempdir("parallel", "gpu");
    let study = dir.join("s.db");
    hnas()
        .args([
            "search",
            "--evaluator",
            "train:mnist1d,epochs=1",
            "--space",
            &example("mnist1d-mlp"),
            "--budget",
            "2",
            "--devices",
            "cuda:0",
            "--study",
            &study.display().to_string(),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "cuda:0 was asked for, but this hnas trains on the CPU only",
        ));
}

#[test]
fn the_slurm_array_script_runs_workers_that_share_one_study() {
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
        "{base}?study=slurm-{}-{}",
        std::process::id(),
        hnas_store::now()
    );
    let root = common::root();
    let bin = assert_cmd::cargo::cargo_bin("hnas");
    // Two array tasks at once, as SLURM starts them: plain bash, no scheduler.
    let tasks: Vec<_> = (0..2)
        .map(|task| {
            std::process::Command::new("bash")
                .arg(root.join("examples/slurm/hnas-array.sbatch"))
                .args(["--evaluator", "sleep:100", "--space"])
                .arg(example("nb201"))
                .args(["--strategy", "random", "--dedup", "off", "--budget", "16"])
                .env("HNAS", &bin)
                .env("HNAS_STUDY_URL", &url)
                .env("SLURM_SUBMIT_DIR", &root)
                .env("SLURM_ARRAY_JOB_ID", "77")
                .env("SLURM_ARRAY_TASK_ID", task.to_string())
                .env("SLURM_CPUS_PER_TASK", "1")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = tasks
        .into_iter()
        .map(|t| t.wait_with_output().unwrap())
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for out in &outputs {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = common::trials_in(&url, "json").succeeds();
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 16);
    for r in &rows {
        assert_eq!(r["state"], "complete", "{r}");
        let worker = r["worker"]
            .as_str()
            .unwrap_or_else(|| panic!("no worker: {r}"));
        assert!(worker.starts_with("slurm-77-"), "{worker}");
        ids.insert(worker.split('@').next().unwrap().to_string());
    }
    // Both tasks took trials.
    assert_eq!(ids.len(), 2, "{ids:?}");
}
