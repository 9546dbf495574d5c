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

/// (index, arch string, latency_ms_pi5_onnx) for every NB201 row.
/// Read from the project's own copy of the table (the one hnas-eval embeds).
pub fn nb201_rows() -> Option<Vec<(usize, String, String)>> {
    use std::io::Read;
    let gz = std::fs::read(repo_root().join("crates/hnas-eval/data/nb201.csv.gz"))
        .expect("the project's NAS-Bench-201 table");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .expect("a readable gzip table");
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
