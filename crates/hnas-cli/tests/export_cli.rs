//! `hnas export`: JSON, and PyTorch modules run under torch (where a Python with torch is at
//! hand: `HNAS_TORCH_PYTHON`, else `python3`), whose outputs and parameter counts must be
//! hnas's own.

mod common;
use common::{hnas, root, tempdir, torch_python, Succeeds};

use std::path::{Path, PathBuf};

/// A study of `n` trials of `space`, scored by the hash evaluator (no training needed).
fn study(dir: &Path, space: &str, n: u32) -> PathBuf {
    let s = dir.join("s.db");
    hnas()
        .args([
            "search",
            "--quiet",
            "--evaluator",
            "hash",
            "--strategy",
            "random",
            "--budget",
            &n.to_string(),
        ])
        .arg("--space")
        .arg(root().join("examples/spaces").join(space))
        .arg("--study")
        .arg(&s)
        .succeeds();
    s
}

fn export(study: &Path, trial: u32, extra: &[&str], out: &Path) -> String {
    let o = hnas()
        .args([
            "export",
            "--format",
            "pytorch",
            "--trial",
            &trial.to_string(),
            "--study",
        ])
        .arg(study)
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out).unwrap()
}

/// hnas's parameter count, from the header of an exported file.
fn declared_params(src: &str) -> u64 {
    let line = src.lines().find(|l| l.contains(" parameters, ")).unwrap();
    line.trim_start_matches("# ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn run_under_torch(py: &str, file: &Path, input: &[usize], classes: usize) -> (Vec<usize>, u64) {
    let shape = input
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let script = format!(
        "import importlib.util, torch\n\
         spec = importlib.util.spec_from_file_location('m', r'{}')\n\
         m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n\
         net = m.Net().eval()\n\
         y = net(torch.randn(3, {shape}))\n\
         print(','.join(map(str, y.shape)), sum(p.numel() for p in net.parameters()))\n",
        file.display()
    );
    let o = std::process::Command::new(py)
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text.lines().last().unwrap();
    let (dims, params) = line.split_once(' ').unwrap();
    let dims: Vec<usize> = dims.split(',').map(|d| d.parse().unwrap()).collect();
    assert_eq!(dims, vec![3, classes], "{}", file.display());
    (dims, params.trim().parse().unwrap())
}

#[test]
fn exported_networks_run_in_pytorch_with_hnas_parameter_counts() {
    let py = torch_python();
    for (space, input, flag, classes) in [
        ("nb201.hnas", vec![3, 32, 32], "3x32x32", 10),
        ("mnasnet.hnas", vec![3, 32, 32], "3x32x32", 100),
        ("mlp.hnas", vec![1, 40], "1x40", 10),
        ("mnist1d-mlp.hnas", vec![1, 40], "1x40", 10),
    ] {
        let d = tempdir("export-cli", space);
        let s = study(&d, space, 3);
        for trial in 0..3 {
            let f = d.join(format!("t{trial}.py"));
            let src = export(
                &s,
                trial,
                &["--input", flag, "--classes", &classes.to_string()],
                &f,
            );
            assert!(src.contains("class Net(nn.Module)"), "{src}");
            if let Some(py) = &py {
                let (_, params) = run_under_torch(py, &f, &input, classes);
                assert_eq!(params, declared_params(&src), "{space} trial {trial}");
            }
        }
    }
}

#[test]
fn a_trained_study_exports_for_its_own_dataset() {
    let d = tempdir("export-cli", "trained");
    let s = d.join("t.db");
    hnas()
        .args([
            "search",
            "--quiet",
            "--budget",
            "2",
            "--fidelity",
            "1",
            "--study",
        ])
        .arg(&s)
        .current_dir(&d)
        .succeeds();
    // The best trial by default, shaped for MNIST-1D without being told.
    let f = d.join("best.py");
    let o = hnas()
        .args(["export", "--format", "pytorch", "--study"])
        .arg(&s)
        .arg("--out")
        .arg(&f)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let src = std::fs::read_to_string(&f).unwrap();
    assert!(src.contains("x.reshape(x.shape[0], 1, 1, 40)"), "{src}");
    if let Some(py) = torch_python() {
        let (_, params) = run_under_torch(&py, &f, &[40], 10);
        assert_eq!(params, declared_params(&src));
    }
    let o = hnas()
        .args(["export", "--format", "json", "--trial", "1", "--study"])
        .arg(&s)
        .output()
        .unwrap();
    assert!(o.status.success());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["trial"], 1);
    assert_eq!(j["architecture"]["root"]["op"], "net");
    assert!(j["metrics"]["accuracy"].as_f64().is_some());
}

#[test]
fn export_errors_say_what_is_missing() {
    let d = tempdir("export-cli", "errors");
    let o = hnas()
        .args(["export", "--study"])
        .arg(d.join("none.db"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no study at"));
    let s = study(&d, "nb201.hnas", 2);
    let o = hnas()
        .args(["export", "--trial", "7", "--study"])
        .arg(&s)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no trial 7 (trials 0 to 1)"));
    let o = hnas()
        .args(["export", "--format", "pytorch", "--study"])
        .arg(&s)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("does not say what the network reads; give --input"),
        "{e}"
    );
    let a = study(&tempdir("export-cli", "agent"), "agent.hnas", 1);
    let o = hnas()
        .args([
            "export",
            "--format",
            "pytorch",
            "--input",
            "8",
            "--classes",
            "2",
            "--study",
        ])
        .arg(&a)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("is not a network hnas can export"), "{e}");
}
