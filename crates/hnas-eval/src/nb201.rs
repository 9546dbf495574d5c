//! NAS-Bench-201 presets: `nb201:cifar10`, `nb201:cifar100`, `nb201:imagenet16`.

use crate::tabular::{KeyForm, Tabular, View};
use crate::EvalError;
use std::path::PathBuf;

/// Dataset names of the presets and their column prefixes.
pub const NB201_DATASETS: &[(&str, &str)] = &[
    ("cifar10", "cifar10"),
    ("cifar100", "cifar100"),
    ("imagenet16", "imagenet16"),
];

const HARDWARE: &[&str] = &[
    "latency_ms_pi5_litert",
    "energy_mj_pi5_litert",
    "latency_ms_pi5_onnx",
    "energy_mj_pi5_onnx",
    "latency_ms_pi5_torchmobile",
    "energy_mj_pi5_torchmobile",
    "latency_ms_pixel_litert",
];

/// Where the NAS-Bench-201 table is: `$HNAS_DATA/nb201/nb201.csv`, else `shared/data` or
/// `../shared/data` below the current directory, else beside the source tree.
pub fn nb201_table_path() -> Result<PathBuf, EvalError> {
    let mut tried = Vec::new();
    let mut candidates = Vec::new();
    if let Some(d) = std::env::var_os("HNAS_DATA") {
        candidates.push(PathBuf::from(d));
    }
    candidates.push(PathBuf::from("../shared/data"));
    candidates.push(PathBuf::from("shared/data"));
    candidates.push(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data"
    )));
    for d in candidates {
        let p = d.join("nb201/nb201.csv");
        if p.is_file() {
            return Ok(p);
        }
        tried.push(p.display().to_string());
    }
    Err(EvalError::Fatal(format!(
        "NAS-Bench-201 table not found (looked for {}); set HNAS_DATA to the folder holding nb201/nb201.csv",
        tried.join(", ")
    )))
}

/// The NAS-Bench-201 evaluator for one dataset.
///
/// Metrics: `valid_12` and `test_12` (accuracy, %, after the 12-epoch schedule), `test_200`
/// (test accuracy after 200 epochs), `accuracy` (the accuracy a search sees at the fidelity
/// asked for: see below), and the hardware columns (`latency_ms_pi5_onnx`, ...).
/// NAS-Bench-201's protocol searches on `valid_12` and reports `test_200` beside it.
///
/// Fidelities (epochs): 12 gives `valid_12`, `test_12` and the hardware columns at a cost of
/// 12 epochs, with `accuracy` = `valid_12`; 200 gives `test_200` and the hardware columns at
/// a cost of 200, with `accuracy` = `test_200` (the table has no 200-epoch validation
/// column, so at 200 epochs the search sees test accuracy: a simplification of the
/// benchmark, not a protocol to copy). The default gives every metric at a cost of 12, with
/// `accuracy` = `valid_12`: the search pays for the 12-epoch result, and the 200-epoch one
/// is recorded for reporting. A multi-fidelity search optimizes `accuracy`.
pub fn nb201(dataset: &str) -> Result<Tabular, EvalError> {
    let prefix = NB201_DATASETS
        .iter()
        .find(|(d, _)| *d == dataset)
        .map(|(_, p)| *p)
        .ok_or_else(|| {
            let names: Vec<String> = NB201_DATASETS
                .iter()
                .map(|(d, _)| format!("nb201:{d}"))
                .collect();
            EvalError::Fatal(format!(
                "unknown NAS-Bench-201 dataset '{dataset}'; expected one of: {}",
                names.join(", ")
            ))
        })?;
    let path = nb201_table_path()?;
    let v12 = format!("{prefix}_valid_12");
    let t12 = format!("{prefix}_test_12");
    let t200 = format!("{prefix}_test_200");
    let mut cols: Vec<&str> = vec![&v12, &t12, &t200];
    cols.extend(HARDWARE);
    let mut t = Tabular::from_csv(
        &format!("nb201:{dataset}"),
        &path,
        "arch",
        KeyForm::Nb201,
        Some(&cols),
    )?;
    let col = |name: &str| t.column(name).expect("requested column");
    let hw: Vec<(String, usize)> = HARDWARE.iter().map(|h| (h.to_string(), col(h))).collect();
    let named = |pairs: &[(&str, &str)]| -> Vec<(String, usize)> {
        pairs
            .iter()
            .map(|(m, c)| (m.to_string(), col(c)))
            .chain(hw.iter().cloned())
            .collect()
    };
    t.views = vec![
        View {
            fidelity: None,
            metrics: named(&[
                ("valid_12", &v12),
                ("test_12", &t12),
                ("test_200", &t200),
                ("accuracy", &v12),
            ]),
            cost: 12.0,
        },
        View {
            fidelity: Some(12.0),
            metrics: named(&[("valid_12", &v12), ("test_12", &t12), ("accuracy", &v12)]),
            cost: 12.0,
        },
        View {
            fidelity: Some(200.0),
            metrics: named(&[("test_200", &t200), ("accuracy", &t200)]),
            cost: 200.0,
        },
    ];
    t.cost_unit = "epochs".into();
    Ok(t)
}
