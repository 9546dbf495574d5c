//! Tabular benchmarks: metrics looked up in a CSV table.

use crate::{EvalError, Evaluator, Metrics};
use hnas_space::{Candidate, Space};
use std::collections::HashMap;
use std::path::Path;

/// How a table's key column writes a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyForm {
    /// The candidate's one-line form, as `hnas space sample` prints it.
    Line,
    /// NAS-Bench-201's `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.
    Nb201,
    /// A one-line form standing for its whole network: a candidate is found by its
    /// canonical hash, so a table needs one row per network, not one per form.
    Network,
}

/// One fidelity's view of the table: metric name -> column index.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub fidelity: Option<f64>,
    pub metrics: Vec<(String, usize)>,
    pub cost: f64,
}

/// A table of metrics keyed by candidate.
///
/// Every numeric column is a metric under its own name. A table may also offer views for
/// fidelities (NAS-Bench-201: 12 and 200 epochs), each a renaming of some columns.
#[derive(Debug, Clone)]
pub struct Tabular {
    name: String,
    path: String,
    key_form: KeyForm,
    columns: Vec<String>,
    rows: HashMap<String, Vec<f64>>,
    pub(crate) views: Vec<View>,
    pub(crate) cost_unit: String,
    /// With [`KeyForm::Network`]: canonical key -> row key, built from the first space seen.
    by_network: std::sync::OnceLock<Result<HashMap<u64, String>, String>>,
}

/// Whether a cell is a number as a metric: it parses, and is not text that looks like one
/// (`0112`, with a leading zero, is a code; `0`, `0.5` and `-0.25` are numbers).
fn is_number(cell: &str) -> bool {
    let t = cell.trim();
    let digits = t.trim_start_matches(['-', '+']);
    let coded =
        digits.len() > 1 && digits.starts_with('0') && digits.as_bytes()[1].is_ascii_digit();
    !coded && t.parse::<f64>().is_ok()
}

impl Tabular {
    /// Loads `path`, keyed by column `key`. `metrics`: the columns to expose (default: every
    /// column but the key that holds numbers in every row).
    pub fn from_csv(
        name: &str,
        path: &Path,
        key: &str,
        key_form: KeyForm,
        metrics: Option<&[&str]>,
    ) -> Result<Tabular, EvalError> {
        let shown = path.display().to_string();
        let rdr = csv::Reader::from_path(path)
            .map_err(|e| EvalError::Fatal(format!("cannot read table {shown}: {e}")))?;
        Self::from_reader(name, &shown, rdr, key, key_form, metrics)
    }

    /// As [`Tabular::from_csv`], from CSV text; `shown` names it in errors.
    pub fn from_csv_text(
        name: &str,
        shown: &str,
        text: &str,
        key: &str,
        key_form: KeyForm,
        metrics: Option<&[&str]>,
    ) -> Result<Tabular, EvalError> {
        let rdr = csv::Reader::from_reader(text.as_bytes());
        Self::from_reader(name, shown, rdr, key, key_form, metrics)
    }

    fn from_reader<R: std::io::Read>(
        name: &str,
        shown: &str,
        mut rdr: csv::Reader<R>,
        key: &str,
        key_form: KeyForm,
        metrics: Option<&[&str]>,
    ) -> Result<Tabular, EvalError> {
        let shown = shown.to_string();
        let fatal = |m: String| EvalError::Fatal(m);
        let header: Vec<String> = rdr
            .headers()
            .map_err(|e| fatal(format!("{shown}: malformed header: {e}")))?
            .iter()
            .map(str::to_string)
            .collect();
        let key_col = header.iter().position(|h| h == key).ok_or_else(|| {
            fatal(format!(
                "{shown}: no key column '{key}'; the columns are: {}",
                header.join(", ")
            ))
        })?;
        let wanted: Vec<usize> = match metrics {
            Some(list) => list
                .iter()
                .map(|m| {
                    header.iter().position(|h| h == m).ok_or_else(|| {
                        fatal(format!(
                            "{shown}: no column '{m}'; the columns are: {}",
                            header.join(", ")
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
            None => (0..header.len()).filter(|&i| i != key_col).collect(),
        };
        let mut raw: Vec<(String, Vec<String>)> = Vec::new();
        for (i, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| fatal(format!("{shown}: row {}: {e}", i + 2)))?;
            let key = rec.get(key_col).unwrap_or_default().to_string();
            raw.push((
                key,
                wanted
                    .iter()
                    .map(|&c| rec.get(c).unwrap_or_default().to_string())
                    .collect(),
            ));
        }
        // Columns of numbers become metrics; columns of text (names, link patterns such as
        // `0112`) are attributes, never metrics. A column that is neither is reported with
        // its first row that breaks it, as is an empty cell: nothing is guessed.
        let mut keep = Vec::new();
        for (j, &c) in wanted.iter().enumerate() {
            let numeric: Vec<bool> = raw.iter().map(|(_, vals)| is_number(&vals[j])).collect();
            let empty = raw.iter().position(|(_, vals)| vals[j].trim().is_empty());
            let first_text = numeric.iter().position(|n| !n);
            let numbers = numeric.iter().filter(|n| **n).count();
            match (first_text, metrics.is_some()) {
                (None, _) => keep.push((j, c)),
                (Some(r), true) => {
                    return Err(fatal(format!(
                        "{shown}: row {}, column '{}': '{}' is not a number",
                        r + 2,
                        header[c],
                        raw[r].1[j]
                    )))
                }
                (Some(r), false) if numbers > 0 => {
                    let why = match empty {
                        Some(e) => format!("row {} is empty", e + 2),
                        None => format!("row {} has '{}'", r + 2, raw[r].1[j]),
                    };
                    return Err(fatal(format!(
                        "{shown}: column '{}' holds numbers in {numbers} of {} rows, but {why}; expected a number in every row of a metric column (hnas does not guess missing values), or text in every row of an attribute column",
                        header[c],
                        raw.len()
                    )));
                }
                (Some(_), false) => {}
            }
        }
        let columns: Vec<String> = keep.iter().map(|&(_, c)| header[c].clone()).collect();
        let mut rows = HashMap::with_capacity(raw.len());
        for (i, (key, vals)) in raw.into_iter().enumerate() {
            let nums: Vec<f64> = keep
                .iter()
                .map(|&(j, _)| vals[j].trim().parse::<f64>().unwrap_or(f64::NAN))
                .collect();
            if rows.insert(key.clone(), nums).is_some() {
                return Err(fatal(format!(
                    "{shown}: row {}: key '{key}' appears twice",
                    i + 2
                )));
            }
        }
        let all = View {
            fidelity: None,
            metrics: columns
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, c)| (c, i))
                .collect(),
            cost: 1.0,
        };
        Ok(Tabular {
            name: name.to_string(),
            path: shown,
            key_form,
            columns,
            rows,
            views: vec![all],
            cost_unit: "evaluations".into(),
            by_network: std::sync::OnceLock::new(),
        })
    }

    /// Index of a column among the table's metrics.
    pub(crate) fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn view(&self, fidelity: Option<f64>) -> Result<&View, EvalError> {
        self.views
            .iter()
            .find(|v| v.fidelity == fidelity)
            .ok_or_else(|| {
                let offered: Vec<String> = self
                    .views
                    .iter()
                    .map(|v| v.fidelity.map_or("default".into(), |f| f.to_string()))
                    .collect();
                EvalError::Fatal(format!(
                    "evaluator '{}' has no fidelity {}; expected one of: {}",
                    self.name,
                    fidelity.map_or("default".into(), |f| f.to_string()),
                    offered.join(", ")
                ))
            })
    }

    /// Canonical key -> row key, reading every row's key as a candidate of `space`.
    fn network_index(&self, space: &Space) -> Result<&HashMap<u64, String>, EvalError> {
        self.by_network
            .get_or_init(|| {
                let mut keys: Vec<&String> = self.rows.keys().collect();
                keys.sort();
                let mut index: HashMap<u64, String> = HashMap::with_capacity(keys.len());
                for k in keys {
                    let c = space.parse_candidate(k).map_err(|e| {
                        format!("{}: key '{k}' is not a candidate of space {}: {}", self.path, space.file_name(), e.message)
                    })?;
                    if let Some(prev) = index.insert(space.canonical_key(&c), k.clone()) {
                        return Err(format!(
                            "{}: keys '{prev}' and '{k}' are the same network (form=network needs one row per network)",
                            self.path
                        ));
                    }
                }
                Ok(index)
            })
            .as_ref()
            .map_err(|e| EvalError::Fatal(format!("evaluator '{}': {e}", self.name)))
    }

    fn key(&self, space: &Space, c: &Candidate) -> Result<String, EvalError> {
        match self.key_form {
            KeyForm::Line => Ok(space.print(c)),
            KeyForm::Network => {
                let index = self.network_index(space)?;
                Ok(index
                    .get(&space.canonical_key(c))
                    .cloned()
                    .unwrap_or_else(|| space.print(c)))
            }
            KeyForm::Nb201 => space
                .to_nb201(c)
                .map_err(|e| EvalError::Fatal(format!("evaluator '{}': {e}", self.name))),
        }
    }
}

impl Evaluator for Tabular {
    fn name(&self) -> &str {
        &self.name
    }

    fn metrics(&self) -> Vec<String> {
        self.views[0]
            .metrics
            .iter()
            .map(|(m, _)| m.clone())
            .collect()
    }

    fn evaluate(
        &self,
        space: &Space,
        c: &Candidate,
        fidelity: Option<f64>,
    ) -> Result<Metrics, EvalError> {
        let view = self.view(fidelity)?;
        let key = self.key(space, c)?;
        let row = self.rows.get(&key).ok_or_else(|| {
            EvalError::Fatal(format!(
                "candidate '{key}' is not in table {} (evaluator '{}')",
                self.path, self.name
            ))
        })?;
        Ok(view
            .metrics
            .iter()
            .map(|(m, i)| (m.clone(), row[*i]))
            .collect())
    }

    fn check_space(&self, space: &Space) -> Result<(), EvalError> {
        if self.key_form == KeyForm::Network {
            self.network_index(space)?;
        }
        if self.key_form == KeyForm::Nb201 {
            // Any member shows the space's shape: take the first feasible option everywhere
            // (works for continuous spaces too, which cannot be ranked).
            let first = space.derive(&mut |p: &hnas_space::Point<'_>| {
                p.weights.iter().position(|&w| w > 0.0).unwrap_or(0) as u32
            });
            space.to_nb201(&first).map_err(|e| {
                let why = e.to_string();
                let why = why.strip_prefix("not a NAS-Bench-201 cell: ").unwrap_or(&why);
                EvalError::Fatal(format!(
                    "space {} does not fit evaluator '{}': it looks up NAS-Bench-201 cells (a dag of 4 nodes whose 6 edges each choose none, skip_connect, nor_conv_1x1, nor_conv_3x3 or avg_pool_3x3, as in examples/spaces/nb201.hnas), but {why}",
                    space.file_name(),
                    self.name
                ))
            })?;
        }
        Ok(())
    }

    fn cost(&self, fidelity: Option<f64>) -> f64 {
        self.view(fidelity).map_or(1.0, |v| v.cost)
    }

    fn cost_unit(&self) -> &str {
        &self.cost_unit
    }

    fn fidelities(&self) -> Vec<f64> {
        let mut f: Vec<f64> = self.views.iter().filter_map(|v| v.fidelity).collect();
        f.sort_by(f64::total_cmp);
        f
    }

    fn optimum(&self, metric: &str, maximize: bool) -> Option<f64> {
        let (_, col) = self
            .views
            .iter()
            .flat_map(|v| v.metrics.iter())
            .find(|(m, _)| m == metric)?;
        let vals = self
            .rows
            .values()
            .map(|r| r[*col])
            .filter(|x| x.is_finite());
        if maximize {
            vals.reduce(f64::max)
        } else {
            vals.reduce(f64::min)
        }
    }
}
