//! NAS-Bench-201 presets: `nb201:cifar10`, `nb201:cifar100`, `nb201:imagenet16`.

use crate::tabular::{KeyForm, Tabular, View};
use crate::EvalError;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

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

/// The NAS-Bench-201 table that comes with hnas: gzip-compressed, embedded in the binary so
/// that an installed `hnas` needs no setup (provenance, licences and checksum:
/// `crates/hnas-eval/data/README.md`).
const EMBEDDED: &[u8] = include_bytes!("../data/nb201.csv.gz");

/// Rows of the NAS-Bench-201 table: one per cell.
pub const NB201_ROWS: usize = 15_625;

/// Where the NAS-Bench-201 table comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nb201Source {
    /// `$HNAS_DATA/nb201/nb201.csv` (the `--data` flag sets `HNAS_DATA`).
    File(PathBuf),
    /// The copy built into hnas.
    Embedded,
}

impl std::fmt::Display for Nb201Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Nb201Source::File(p) => write!(f, "{}", p.display()),
            Nb201Source::Embedded => f.write_str("the NAS-Bench-201 table built into hnas"),
        }
    }
}

/// `$HNAS_DATA/nb201/nb201.csv` when `HNAS_DATA` is set, else the built-in copy.
pub fn nb201_source() -> Nb201Source {
    match std::env::var_os("HNAS_DATA") {
        Some(d) if !d.is_empty() => Nb201Source::File(PathBuf::from(d).join("nb201/nb201.csv")),
        _ => Nb201Source::Embedded,
    }
}

/// The NAS-Bench-201 table as CSV text, from [`nb201_source`]. The built-in copy is
/// decompressed once per process.
pub fn nb201_csv() -> Result<(Nb201Source, Arc<str>), EvalError> {
    static BUILT_IN: OnceLock<Result<Arc<str>, String>> = OnceLock::new();
    let source = nb201_source();
    let text = match &source {
        Nb201Source::File(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                EvalError::Fatal(format!(
                    "HNAS_DATA names {}, but {} cannot be read ({e}); expected the NAS-Bench-201 table there, or HNAS_DATA unset to use the table built into hnas",
                    p.parent().and_then(|d| d.parent()).unwrap_or(p).display(),
                    p.display()
                ))
            })?;
            Arc::from(text)
        }
        Nb201Source::Embedded => BUILT_IN
            .get_or_init(|| {
                let mut text = String::new();
                flate2::read::GzDecoder::new(EMBEDDED)
                    .read_to_string(&mut text)
                    .map_err(|e| {
                        format!(
                            "the NAS-Bench-201 table built into hnas is corrupt ({e}); rebuild hnas, or set HNAS_DATA to a folder holding nb201/nb201.csv"
                        )
                    })?;
                Ok(Arc::from(text))
            })
            .clone()
            .map_err(EvalError::Fatal)?,
    };
    Ok((source, text))
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
    let (source, text) = nb201_csv()?;
    let v12 = format!("{prefix}_valid_12");
    let t12 = format!("{prefix}_test_12");
    let t200 = format!("{prefix}_test_200");
    let mut cols: Vec<&str> = vec![&v12, &t12, &t200];
    cols.extend(HARDWARE);
    let mut t = Tabular::from_csv_text(
        &format!("nb201:{dataset}"),
        &source.to_string(),
        &text,
        "arch",
        KeyForm::Nb201,
        Some(&cols),
    )?;
    if t.len() != NB201_ROWS {
        return Err(EvalError::Fatal(format!(
            "{source} has {} rows; NAS-Bench-201 has {NB201_ROWS}, one per cell (is the file cut short?)",
            t.len()
        )));
    }
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
