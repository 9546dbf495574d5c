//! Helpers shared by the CLI test binaries (each includes this with `mod common;` and uses
//! what it needs).
#![allow(dead_code)]

use std::path::PathBuf;

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The path of an example space, `examples/spaces/NAME.hnas`.
pub fn example(name: &str) -> String {
    root()
        .join("examples/spaces")
        .join(format!("{name}.hnas"))
        .display()
        .to_string()
}

/// A fresh, empty folder for one test: `tag` names the test binary, `name` the test.
pub fn tempdir(tag: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hnas-{tag}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The `hnas` binary this package builds.
pub fn hnas() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("hnas").unwrap()
}

/// `hnas trials --study STUDY --format FORMAT` (a study file or a PostgreSQL URL), not yet run.
pub fn trials_in(study: &str, format: &str) -> assert_cmd::Command {
    let mut c = hnas();
    c.args(["trials", "--study", study, "--format", format]);
    c
}

/// A Python that imports torch (`HNAS_TORCH_PYTHON`, else `python3`), or a printed notice
/// and `None`.
pub fn torch_python() -> Option<String> {
    let py = std::env::var("HNAS_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&py)
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(py)
    } else {
        eprintln!("notice: skipping the PyTorch run: no torch for {py} (pip install torch, or set HNAS_TORCH_PYTHON)");
        None
    }
}

/// Runs a command that must succeed, failing the test with its stderr otherwise.
pub trait Succeeds {
    fn succeeds(&mut self) -> std::process::Output;
}

impl Succeeds for assert_cmd::Command {
    fn succeeds(&mut self) -> std::process::Output {
        succeeded(self.output().unwrap())
    }
}

impl Succeeds for std::process::Command {
    fn succeeds(&mut self) -> std::process::Output {
        succeeded(self.output().unwrap())
    }
}

fn succeeded(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
