//! Helpers shared by the integration tests.
#![allow(dead_code)]

use hnas_space::Space;
use std::path::PathBuf;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn example(name: &str) -> Space {
    let path = repo_root()
        .join("examples/spaces")
        .join(format!("{name}.hnas"));
    Space::from_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

pub const EXAMPLES: &[&str] = &["nb201", "mnasnet", "darts", "einspace", "mlp", "agent"];

/// The shared data directory: `$HNAS_DATA`, else `../shared/data` beside the repository.
/// `None` (with a printed notice) when absent, except under `CI=true`, where absence fails.
pub fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("HNAS_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/data"));
    if dir.join("nb201/nb201.csv").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "CI=true but the NAS-Bench-201 table is missing at {}",
            dir.display()
        );
    }
    eprintln!(
        "notice: skipping: NAS-Bench-201 table not found at {} (set HNAS_DATA)",
        dir.display()
    );
    None
}

/// (index, arch string, latency_ms_pi5_onnx) for every NB201 row.
pub fn nb201_rows() -> Option<Vec<(usize, String, String)>> {
    let dir = data_dir()?;
    let text = std::fs::read_to_string(dir.join("nb201/nb201.csv")).expect("readable table");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let lat = header
        .iter()
        .position(|h| *h == "latency_ms_pi5_onnx")
        .expect("latency column");
    Some(
        lines
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (
                    f[0].parse().expect("index"),
                    f[1].to_string(),
                    f[lat].to_string(),
                )
            })
            .collect(),
    )
}
