//! The study file (TOML): every setting of a study in one file, read the same way by the
//! `hnas` binary (`hnas search --file F`, flags win over the file) and by a program
//! ([`StudyBuilder::file`](crate::StudyBuilder::file)); and the settings of how many trials run at
//! once and on which devices. docs/studies.md documents each key.

use crate::Error;
use hnas_eval::Evaluator;
use std::path::{Path, PathBuf};

fn settings(message: String) -> Error {
    Error::Settings(message)
}

/// The keys a study file may hold.
pub const KEYS: &[&str] = &[
    "space",
    "evaluator",
    "strategy",
    "budget",
    "seed",
    "study",
    "objective",
    "constraints",
    "budget_cost",
    "max_cost",
    "reference",
    "report",
    "dedup",
    "prior",
    "fidelity",
    "jobs",
    "devices",
];

/// A study file's settings; `None` (or empty) for a key the file leaves out. Paths are
/// relative to the file's folder, as written there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StudyFile {
    pub space: Option<PathBuf>,
    pub study: Option<PathBuf>,
    pub evaluator: Option<String>,
    pub strategy: Option<String>,
    pub budget: Option<u64>,
    pub seed: Option<u64>,
    pub objective: Vec<String>,
    pub constraint: Vec<String>,
    pub budget_cost: Option<f64>,
    pub reference: Option<Vec<f64>>,
    pub prior: Option<String>,
    pub dedup: Option<String>,
    pub fidelity: Option<f64>,
    pub report: Option<Vec<String>>,
    pub jobs: Option<Jobs>,
    pub devices: Option<String>,
}

impl StudyFile {
    /// Reads a study file.
    pub fn read(path: &Path) -> Result<StudyFile, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| settings(format!("cannot read study file {}: {e}", path.display())))?;
        Self::parse(path, &text)
    }

    /// Reads a study file's text; `path` names it in messages and anchors relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<StudyFile, Error> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let at = e
                .span()
                .map(|s| {
                    let before = &text[..s.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!(":{line}:{col}")
                })
                .unwrap_or_default();
            settings(format!("{}{at}: {}", path.display(), e.message()))
        })?;
        let mut out = StudyFile::default();
        let base = path.parent().unwrap_or(Path::new(""));
        let shown = path.display();
        for (k, v) in &table {
            let bad = |want: &str| settings(format!("{shown}: '{k}' must be {want}"));
            match k.as_str() {
                "space" => {
                    let s = v.as_str().ok_or_else(|| bad("a path"))?;
                    out.space.get_or_insert_with(|| base.join(s));
                }
                "study" => {
                    let s = v.as_str().ok_or_else(|| bad("a path"))?;
                    out.study.get_or_insert_with(|| base.join(s));
                }
                "evaluator" if v.is_table() => {
                    // An external program: [evaluator] command = ["python3", "train.py"], ...
                    let t = v.as_table().expect("checked");
                    let mut spec = serde_json::Map::new();
                    for (key, value) in t {
                        let key = if key == "command" {
                            "argv"
                        } else {
                            key.as_str()
                        };
                        let json = serde_json::to_value(value)
                            .map_err(|e| settings(format!("{shown}: evaluator.{key}: {e}")))?;
                        spec.insert(key.to_string(), json);
                    }
                    if !spec.contains_key("argv") {
                        return Err(bad(
                            "a string, or a table with command = [\"PROGRAM\", \"ARG\", ...]",
                        ));
                    }
                    let name = format!("command:{}", serde_json::Value::Object(spec));
                    // Checked here so that a mistake names the study file.
                    hnas_eval::CommandEvaluator::parse(&name["command:".len()..])
                        .map_err(|e| settings(format!("{shown}: {e}")))?;
                    out.evaluator.get_or_insert(name);
                }
                "evaluator" => {
                    let s = v.as_str().ok_or_else(|| bad("a string"))?;
                    // A table path is relative to the study file.
                    let s = match s.strip_prefix("table:") {
                        Some(rest) => format!("table:{}", base.join(rest).display()),
                        None => s.to_string(),
                    };
                    out.evaluator.get_or_insert(s);
                }
                "strategy" => {
                    let spec = match v {
                        toml::Value::String(s) => s.clone(),
                        toml::Value::Table(t) => {
                            let name = t
                                .get("name")
                                .and_then(|n| n.as_str())
                                .ok_or_else(|| bad("a string or a table with 'name'"))?;
                            let params: Vec<String> = t
                                .iter()
                                .filter(|(k, _)| *k != "name")
                                .map(|(k, v)| format!("{k}={}", v.to_string().trim_matches('"')))
                                .collect();
                            if params.is_empty() {
                                name.to_string()
                            } else {
                                format!("{name}:{}", params.join(","))
                            }
                        }
                        _ => return Err(bad("a string or a table")),
                    };
                    out.strategy.get_or_insert(spec);
                }
                "budget" | "seed" => {
                    let least = if k == "budget" { 1 } else { 0 };
                    let n = v
                        .as_integer()
                        .filter(|n| *n >= least)
                        .ok_or_else(|| bad(&format!("a whole number, at least {least}")))?
                        as u64;
                    if k == "budget" {
                        out.budget.get_or_insert(n);
                    } else {
                        out.seed.get_or_insert(n);
                    }
                }
                "objective" | "constraints" => {
                    let what = if k == "objective" {
                        "a string such as max:valid_12, or a list of them"
                    } else {
                        "a list of strings such as \"latency_ms_pi5_onnx <= 5\""
                    };
                    let list: Vec<String> = match v {
                        toml::Value::String(s) => vec![s.clone()],
                        toml::Value::Array(a) => a
                            .iter()
                            .map(|x| x.as_str().map(str::to_string).ok_or_else(|| bad(what)))
                            .collect::<Result<_, Error>>()?,
                        _ => return Err(bad(what)),
                    };
                    let target = if k == "objective" {
                        &mut out.objective
                    } else {
                        &mut out.constraint
                    };
                    if target.is_empty() {
                        *target = list;
                    }
                }
                // `max_cost` is the older name of `budget_cost`, kept so that old files still read.
                "budget_cost" | "max_cost" => {
                    let f = v
                        .as_float()
                        .or_else(|| v.as_integer().map(|i| i as f64))
                        .filter(|f| *f > 0.0 && f.is_finite())
                        .ok_or_else(|| bad("a positive number"))?;
                    out.budget_cost.get_or_insert(f);
                }
                "reference" => {
                    let list = v
                        .as_array()
                        .ok_or_else(|| bad("a list of numbers"))?
                        .iter()
                        .map(|x| {
                            x.as_float()
                                .or_else(|| x.as_integer().map(|i| i as f64))
                                .ok_or_else(|| bad("a list of numbers"))
                        })
                        .collect::<Result<Vec<f64>, Error>>()?;
                    out.reference.get_or_insert(list);
                }
                "prior" => {
                    out.prior.get_or_insert(
                        v.as_str()
                            .ok_or_else(|| bad("an evaluator name"))?
                            .to_string(),
                    );
                }
                "dedup" => {
                    out.dedup.get_or_insert(
                        v.as_str()
                            .ok_or_else(|| bad("reuse, skip or off"))?
                            .to_string(),
                    );
                }
                "fidelity" => {
                    let f = v
                        .as_float()
                        .or_else(|| v.as_integer().map(|i| i as f64))
                        .ok_or_else(|| bad("a number"))?;
                    out.fidelity.get_or_insert(f);
                }
                "report" => {
                    let list = v.as_array().ok_or_else(|| bad("a list of metric names"))?;
                    let names = list
                        .iter()
                        .map(|x| {
                            x.as_str()
                                .map(str::to_string)
                                .ok_or_else(|| bad("a list of metric names"))
                        })
                        .collect::<Result<Vec<_>, Error>>()?;
                    out.report.get_or_insert(names);
                }
                "jobs" => {
                    let j = match v {
                        toml::Value::Integer(n) => Jobs::parse(&n.to_string()),
                        toml::Value::String(s) => Jobs::parse(s),
                        _ => Err(String::new()),
                    }
                    .map_err(|_| bad("a whole number, at least 1, or \"auto\""))?;
                    out.jobs.get_or_insert(j);
                }
                "devices" => {
                    let spec = match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Array(a) => a
                        .iter()
                        .map(|x| x.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad("\"cpu\", \"auto\", or a list of devices such as [\"cuda:0\", \"cuda:1\"]"))?
                        .join(","),
                    _ => return Err(bad("\"cpu\", \"auto\", or a list of devices such as [\"cuda:0\", \"cuda:1\"]")),
                };
                    parse_devices(&spec).map_err(|e| settings(format!("{shown}: {e}")))?;
                    out.devices.get_or_insert(spec);
                }
                other => {
                    return Err(settings(format!(
                        "{shown}: unknown key '{other}'; expected one of: {}",
                        KEYS.join(", ")
                    )))
                }
            }
        }
        Ok(out)
    }
}

/// `--jobs`: a number of trials at once, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jobs {
    Auto,
    N(usize),
}

impl Jobs {
    /// `auto`, or a whole number, at least 1.
    pub fn parse(s: &str) -> Result<Jobs, String> {
        if s.trim() == "auto" {
            return Ok(Jobs::Auto);
        }
        match s.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Jobs::N(n)),
            _ => Err(format!(
                "'{s}' is no number of jobs; expected a whole number of trials at once, at least 1, or auto"
            )),
        }
    }
}

/// The devices of `--devices`: none for `cpu`; the GPUs this machine shows for `auto`
/// (CUDA_VISIBLE_DEVICES when set, else the NVIDIA driver's list; none without a GPU).
pub fn parse_devices(spec: &str) -> Result<Vec<String>, String> {
    let spec = spec.trim();
    if spec == "cpu" || spec.is_empty() {
        return Ok(Vec::new());
    }
    if spec == "auto" {
        return Ok(visible_gpus());
    }
    let mut out = Vec::new();
    for d in spec.split(',').map(str::trim) {
        if d == "cpu" || d == "auto" {
            return Err(format!("--devices: '{d}' stands alone; expected cpu, auto, or a list of GPUs such as cuda:0,cuda:1"));
        }
        let ok = d
            .strip_prefix("cuda:")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return Err(format!("--devices: '{d}' is no device; expected cpu, auto, or a list such as cuda:0,cuda:1"));
        }
        if out.iter().any(|o| o == d) {
            return Err(format!(
                "--devices: '{d}' is listed twice; one trial runs per device"
            ));
        }
        out.push(d.to_string());
    }
    Ok(out)
}

fn visible_gpus() -> Vec<String> {
    if let Ok(v) = std::env::var("CUDA_VISIBLE_DEVICES") {
        // Numbered from 0 within what is visible, as CUDA numbers them.
        let n = v
            .split(',')
            .filter(|x| !x.trim().is_empty() && x.trim() != "-1")
            .count();
        return (0..n).map(|i| format!("cuda:{i}")).collect();
    }
    let n = std::fs::read_dir("/proc/driver/nvidia/gpus").map_or(0, |d| d.count());
    (0..n).map(|i| format!("cuda:{i}")).collect()
}

/// How many trials run at once: `--jobs`, or for `auto` what the evaluator asks for on
/// this machine's cores (one per device when devices are named).
pub fn resolve_jobs(jobs: Option<Jobs>, evaluator: &dyn Evaluator, devices: &[String]) -> usize {
    match jobs.unwrap_or(Jobs::Auto) {
        Jobs::N(n) => n,
        Jobs::Auto if !devices.is_empty() => devices.len(),
        Jobs::Auto => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            evaluator.auto_jobs(cores).max(1)
        }
    }
}
