//! examples/pytorch/train.py as an external-command evaluator: PyTorch trains `mlp` and
//! `mnasnet` candidates on Fashion-MNIST. Needs a Python with torch (`HNAS_TORCH_PYTHON`, else
//! `python3`) and Debian's dataset-fashion-mnist; prints a notice and skips without them.

mod common;
use common::{hnas, root, tempdir, torch_python, Succeeds};

/// A Python with torch, where Fashion-MNIST is installed too.
fn torch_and_data() -> Option<String> {
    let data = std::path::Path::new("/usr/share/datasets/fashion-mnist").is_dir();
    if !data {
        eprintln!("notice: skipping examples/pytorch/train.py: needs dataset-fashion-mnist");
        return None;
    }
    torch_python()
}

#[test]
fn pytorch_trains_mlp_candidates_on_fashion_mnist_for_hnas() {
    let Some(py) = torch_and_data() else { return };
    let d = tempdir("pytorch-example", "mlp");
    let script = root().join("examples/pytorch/train.py");
    let evaluator = format!(
        "command:{}",
        serde_json::json!({"argv": [py, script.display().to_string()], "metrics": ["valid_acc", "test_acc", "params"], "timeout": 300})
    );
    let study = d.join("s.db");
    let out = hnas()
        .env("TRAIN_SIZE", "1500")
        .env("VALID_SIZE", "500")
        .env("TEST_SIZE", "500")
        .args([
            "search",
            "--quiet",
            "--evaluator",
            &evaluator,
            "--objective",
            "max:valid_acc",
            "--report",
            "test_acc,params",
        ])
        .args(["--budget", "2", "--fidelity", "1", "--space"])
        .arg(root().join("examples/spaces/mlp.hnas"))
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
    assert!(stdout.contains("2 complete, 0 failed"), "{stdout}");
    let out = hnas()
        .args(["trials", "--format", "json", "--study"])
        .arg(&study)
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let t: serde_json::Value = serde_json::from_str(line).unwrap();
        let acc = t["metrics"]["valid_acc"].as_f64().unwrap();
        assert!(
            acc > 20.0,
            "one epoch on 1,500 images beats chance (10 %) twice over: {acc}"
        );
        assert!(t["metrics"]["params"].as_f64().unwrap() > 7840.0);
    }
}

#[test]
fn pytorch_builds_and_trains_a_mnasnet_candidate() {
    let Some(py) = torch_and_data() else { return };
    let d = tempdir("pytorch-example", "mnasnet");
    let sample = hnas()
        .args(["space", "sample", "--json", "--seed", "1"])
        .arg(root().join("examples/spaces/mnasnet.hnas"))
        .output()
        .unwrap();
    assert!(sample.status.success());
    let tree: serde_json::Value = serde_json::from_slice(&sample.stdout).unwrap();
    let job = d.join("job.json");
    std::fs::write(
        &job,
        serde_json::json!({"trial": 0, "seed": 0, "tree": tree}).to_string(),
    )
    .unwrap();
    let out = std::process::Command::new(&py)
        .arg(root().join("examples/pytorch/train.py"))
        .env("HNAS_CANDIDATE", &job)
        .env("HNAS_FIDELITY", "1")
        .env("TRAIN_SIZE", "64")
        .env("VALID_SIZE", "32")
        .env("TEST_SIZE", "32")
        .succeeds();
    let text = String::from_utf8_lossy(&out.stdout);
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(last["params"].as_f64().unwrap() > 100_000.0, "{last}");
    assert!(last["test_acc"].as_f64().is_some());
}
