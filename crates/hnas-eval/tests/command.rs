//! The external-command evaluator against real programs: results, crashes, time-outs,
//! garbage, NaN, retries, stdin, and candidate strings full of shell metacharacters.

use hnas_eval::{from_name, EvalError, Evaluator, TrialInfo};
use hnas_space::Space;
use std::path::PathBuf;
use std::time::Instant;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hnas-command-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A Python program in a file; python3 is required (CI installs it).
fn script(d: &std::path::Path, name: &str, body: &str) -> String {
    let p = d.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
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

fn space() -> Space {
    Space::parse(
        "s.hnas",
        "net = net(width = int(1, 64), act = {relu, gelu})",
    )
    .unwrap()
}

fn evaluator(spec: serde_json::Value) -> Box<dyn Evaluator> {
    from_name(&format!("command:{spec}")).unwrap()
}

fn run(e: &dyn Evaluator, trial: u64) -> Result<hnas_eval::Metrics, EvalError> {
    let s = space();
    let c = s.parse_candidate("net(width=12,act=gelu)").unwrap();
    e.evaluate_trial(
        &s,
        &c,
        Some(3.0),
        &TrialInfo {
            trial,
            seed: 7,
            ..Default::default()
        },
    )
}

const READ_JOB: &str =
    "import json, os, sys\njob = json.load(open(os.environ['HNAS_CANDIDATE']))\n";

#[test]
fn a_program_reads_its_candidate_and_reports_metrics() {
    if !python_ok() {
        return;
    }
    let d = dir("ok");
    let prog = script(
        &d,
        "ok.py",
        &format!(
            "{READ_JOB}w = job['tree']['root']['args']['width']\n\
             assert job['trial'] == 4 and job['seed'] == 7 and job['fidelity'] == 3.0\n\
             assert os.environ['HNAS_TRIAL'] == '4' and os.environ['HNAS_FIDELITY'] == '3'\n\
             assert job['candidate'] == 'net(width=12,act=gelu)'\n\
             for epoch in range(3):\n    print(json.dumps({{'epoch': epoch, 'loss': 1.0 / (epoch + 1)}}))\n\
             print('not json')\n\
             print(json.dumps({{'acc': w * 2.5, 'params': 1000, 'note': 'text is ignored'}}))\n"
        ),
    );
    let e = evaluator(serde_json::json!({"argv": ["python3", prog], "metrics": ["acc", "params"]}));
    assert_eq!(e.metrics(), vec!["acc".to_string(), "params".to_string()]);
    let m = run(&*e, 4).unwrap();
    assert_eq!(m["acc"], 30.0);
    assert_eq!(m["params"], 1000.0);
    assert!(!m.contains_key("epoch"), "the last JSON line is the result");
    // The result file wins over stdout.
    let prog = script(
        &d,
        "file.py",
        "import json, os\njson.dump({'acc': 1.5}, open(os.environ['HNAS_RESULT'], 'w'))\nprint('{\"acc\": 9}')\n",
    );
    let e = evaluator(serde_json::json!(["python3", prog]));
    assert_eq!(run(&*e, 0).unwrap()["acc"], 1.5);
    // Stdin, on request.
    let prog = script(&d, "stdin.py", "import json, sys\njob = json.load(sys.stdin)\nprint(json.dumps({'trial': job['trial']}))\n");
    let e = evaluator(serde_json::json!({"argv": ["python3", prog], "stdin": true}));
    assert_eq!(run(&*e, 11).unwrap()["trial"], 11.0);
}

#[test]
fn crashes_garbage_and_nan_are_failures_with_reasons() {
    if !python_ok() {
        return;
    }
    let d = dir("fail");
    let crash = script(
        &d,
        "crash.py",
        "import sys\nprint('working')\nraise RuntimeError('CUDA out of memory')\n",
    );
    let err = run(&*evaluator(serde_json::json!(["python3", crash])), 0).unwrap_err();
    let EvalError::Failed(why) = err else {
        panic!("{err:?}")
    };
    assert!(why.contains("exited with status 1"), "{why}");
    assert!(
        why.contains("RuntimeError: CUDA out of memory"),
        "the stderr tail is kept: {why}"
    );

    let garbage = script(&d, "garbage.py", "print('accuracy: 93%')\n");
    let err = run(&*evaluator(serde_json::json!(["python3", garbage])), 0).unwrap_err();
    assert!(err.to_string().contains("wrote no result"), "{err}");

    let bad_json = script(
        &d,
        "bad.py",
        "import os\nopen(os.environ['HNAS_RESULT'], 'w').write('{acc: 1')\n",
    );
    let err = run(&*evaluator(serde_json::json!(["python3", bad_json])), 0).unwrap_err();
    assert!(err.to_string().contains("not a JSON object"), "{err}");

    // Python writes NaN as a bare token; it comes back as NaN, which the study fails.
    let nan = script(
        &d,
        "nan.py",
        "import json\nprint(json.dumps({'acc': float('nan'), 'loss': 2.0}))\n",
    );
    let m = run(&*evaluator(serde_json::json!(["python3", nan])), 0).unwrap();
    assert!(m["acc"].is_nan() && m["loss"] == 2.0);

    let err = run(&*evaluator(serde_json::json!(["no-such-program-hnas"])), 0).unwrap_err();
    assert!(
        matches!(err, EvalError::Fatal(ref w) if w.contains("cannot run 'no-such-program-hnas'")),
        "{err:?}"
    );
}

#[test]
fn a_time_out_kills_the_whole_process_group() {
    if !python_ok() {
        return;
    }
    let d = dir("timeout");
    let pidfile = d.join("grandchild.pid");
    // The program starts a grandchild that would outlive it, then hangs.
    let prog = script(
        &d,
        "hang.py",
        &format!(
            "import subprocess, time\np = subprocess.Popen(['sleep', '60'])\nopen({:?}, 'w').write(str(p.pid))\ntime.sleep(60)\n",
            pidfile.display().to_string()
        ),
    );
    let e = evaluator(serde_json::json!({"argv": ["python3", prog], "timeout": 1.0}));
    let start = Instant::now();
    let err = run(&*e, 0).unwrap_err();
    assert!(err.to_string().contains("timed out after 1 s"), "{err}");
    assert!(
        start.elapsed().as_secs() < 30,
        "the evaluation did not hang"
    );
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The grandchild is gone (a zombie reaped by init counts as gone soon after).
    let mut alive = true;
    for _ in 0..100 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z ") {
            alive = false;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!alive, "the grandchild {pid} survived the time-out");
}

#[test]
fn retries_run_a_failed_evaluation_again() {
    if !python_ok() {
        return;
    }
    let d = dir("retry");
    // Fails on the first attempt, succeeds on the second.
    let prog = script(
        &d,
        "flaky.py",
        "import os, sys, json\nif os.environ['HNAS_ATTEMPT'] == '1':\n    sys.exit('transient failure')\nprint(json.dumps({'acc': 1}))\n",
    );
    let once = evaluator(serde_json::json!(["python3", prog.clone()]));
    assert!(run(&*once, 0)
        .unwrap_err()
        .to_string()
        .contains("transient failure"));
    let twice = evaluator(serde_json::json!({"argv": ["python3", prog], "retries": 1}));
    assert_eq!(run(&*twice, 0).unwrap()["acc"], 1.0);
    let always = script(&d, "down.py", "import sys\nsys.exit('still down')\n");
    let err = run(
        &*evaluator(serde_json::json!({"argv": ["python3", always], "retries": 2})),
        0,
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("failed 3 times; the last: "),
        "{err}"
    );
}

#[test]
fn candidate_strings_never_reach_a_shell() {
    if !python_ok() {
        return;
    }
    let d = dir("shell");
    let marker = d.join("PWNED");
    let nasty = format!(
        "a\\\"; touch {m}; echo $(touch {m}) `touch {m}` 'q' | & > < * ~ \\\\ end",
        m = marker.display()
    );
    let src = format!("net = agent(prompt = {{\"{nasty}\", plain}})");
    let s = Space::parse("nasty.hnas", &src).unwrap();
    let c = s
        .parse_candidate(&s.print(&s.unrank(&Default::default()).unwrap()))
        .unwrap();
    let expected = s.to_json(&c)["root"]["args"]["prompt"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(expected.contains("$(touch") && expected.contains('"'));
    // The program checks that the string arrived byte for byte, through the file and argv.
    let prog = script(
        &d,
        "echo.py",
        &format!(
            "{READ_JOB}p = job['tree']['root']['args']['prompt']\nprint(json.dumps({{'same': float(p == sys.argv[1])}}))\n"
        ),
    );
    let e = evaluator(serde_json::json!(["python3", prog, expected]));
    let m = e
        .evaluate_trial(&s, &c, None, &TrialInfo::default())
        .unwrap();
    assert_eq!(m["same"], 1.0);
    assert!(!marker.exists(), "a shell ran part of the candidate");
}

#[test]
fn poor_intermediate_reports_stop_an_evaluation_early() {
    if !python_ok() {
        return;
    }
    let d = dir("early");
    // Six epochs; accuracy grows with the width; a marker file says the program finished.
    let prog = script(
        &d,
        "epochs.py",
        &format!(
            "{READ_JOB}import time\nw = job['tree']['root']['args']['width']\n\
             for e in range(6):\n    print(json.dumps({{'epoch': e, 'acc': w * (e + 1) / 6}}), flush=True)\n    time.sleep(0.15)\n\
             open(os.path.join({:?}, 'done-%d' % w), 'w').write('')\n\
             print(json.dumps({{'acc': w}}))\n",
            d.display().to_string()
        ),
    );
    let e = evaluator(serde_json::json!({
        "argv": ["python3", prog],
        "early_stop": {"metric": "acc", "mode": "max", "after": 1}
    }));
    let s = space();
    let go = |w: u32| {
        let c = s
            .parse_candidate(&format!("net(width={w},act=relu)"))
            .unwrap();
        e.evaluate_trial(&s, &c, None, &TrialInfo::default())
    };
    // Three complete evaluations make the history; a poor one is then stopped.
    for w in [40, 50, 60] {
        assert_eq!(go(w).unwrap()["acc"], w as f64);
    }
    let err = go(5).unwrap_err();
    let EvalError::Stopped { reason, metrics } = err else {
        panic!("{err:?}")
    };
    assert!(reason.contains("stopped early at report 2"), "{reason}");
    assert!(
        metrics["acc"] < 5.0,
        "the last report's metrics are kept: {metrics:?}"
    );
    assert!(
        !d.join("done-5").exists(),
        "the stopped program ran to the end"
    );
    // A good one runs to the end.
    assert_eq!(go(64).unwrap()["acc"], 64.0);
    assert!(d.join("done-64").exists());
    // Without the rule nothing is stopped.
    let plain = evaluator(serde_json::json!([
        "python3",
        script(
            &d,
            "p.py",
            &std::fs::read_to_string(d.join("epochs.py")).unwrap()
        )
    ]));
    let c = s.parse_candidate("net(width=3,act=relu)").unwrap();
    assert_eq!(
        plain
            .evaluate_trial(&s, &c, None, &TrialInfo::default())
            .unwrap()["acc"],
        3.0
    );
}
