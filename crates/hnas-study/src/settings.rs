//! A study's settings, stored with it.

use serde::{Deserialize, Serialize};

/// What happens when a strategy proposes a candidate already evaluated in the study
/// (same canonical hash: the same network, isomorphic DAG cells included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Dedup {
    /// Not evaluated again: the earlier result is recorded for the new trial and told to the
    /// strategy, and the trial counts toward the budget (the default: what a budget of N
    /// proposals means in the NAS benchmark literature).
    #[default]
    Reuse,
    /// Not evaluated again and told to the strategy, but the trial does not count toward the
    /// budget: the budget is N distinct networks.
    Skip,
    /// Evaluated again, every time (for noisy evaluators).
    Off,
}

impl Dedup {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "reuse" => Dedup::Reuse,
            "skip" => Dedup::Skip,
            "off" => Dedup::Off,
            _ => return None,
        })
    }

    /// The name [`Dedup::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Dedup::Reuse => "reuse",
            Dedup::Skip => "skip",
            Dedup::Off => "off",
        }
    }
}

/// Everything that defines a study. Stored as JSON with the study; resuming requires the
/// same settings except `budget` (a larger budget extends the study) and `report`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Where the space was read from (informational).
    pub space_file: String,
    /// The space's source text: the study is bound to this text.
    pub space: String,
    pub strategy: String,
    pub evaluator: String,
    /// `max:M`, `min:M` or `mnas:...` each; several make a multi-objective study. (Studies
    /// written before several objectives existed store one string under `objective`.)
    #[serde(alias = "objective", deserialize_with = "one_or_many")]
    pub objectives: Vec<String>,
    /// `METRIC <= BOUND` / `METRIC >= BOUND`: a trial breaking one is infeasible.
    #[serde(default)]
    pub constraints: Vec<String>,
    /// Extra metrics shown beside the objective (e.g. `test_200`).
    #[serde(default)]
    pub report: Vec<String>,
    pub seed: u64,
    /// Number of counted trials.
    pub budget: u64,
    /// A limit on the summed cost of the trials, in the evaluator's unit (e.g. epochs); the
    /// study stops at whichever of `budget` and `max_cost` comes first.
    #[serde(default)]
    pub max_cost: Option<f64>,
    #[serde(default)]
    pub fidelity: Option<f64>,
    #[serde(default)]
    pub dedup: Dedup,
    /// An evaluator whose value ranks candidates before any is evaluated (a zero-cost proxy,
    /// `EVALUATOR` or `EVALUATOR@METRIC`): model-based strategies start from the candidates
    /// it ranks highest and learn from it (docs/proxies-and-predictors.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl Settings {
    /// Fields that differ between stored settings and these, ignoring the budgets and report.
    pub fn differences(&self, stored: &Settings) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |name: &str, a: String, b: String| {
            if a != b {
                out.push(format!("{name}: '{b}' (stored) → '{a}' (given)"));
            }
        };
        check("strategy", self.strategy.clone(), stored.strategy.clone());
        check(
            "evaluator",
            self.evaluator.clone(),
            stored.evaluator.clone(),
        );
        check(
            "objectives",
            self.objectives.join(" "),
            stored.objectives.join(" "),
        );
        check(
            "constraints",
            self.constraints.join("; "),
            stored.constraints.join("; "),
        );
        check("seed", self.seed.to_string(), stored.seed.to_string());
        check(
            "fidelity",
            format!("{:?}", self.fidelity),
            format!("{:?}", stored.fidelity),
        );
        check(
            "prior",
            self.prior.clone().unwrap_or_else(|| "none".into()),
            stored.prior.clone().unwrap_or_else(|| "none".into()),
        );
        check(
            "dedup",
            format!("{:?}", self.dedup),
            format!("{:?}", stored.dedup),
        );
        if self.space != stored.space {
            out.push(format!(
                "space: the text of {} (given) differs from the space stored with the study (from {})",
                self.space_file, stored.space_file
            ));
        }
        out
    }
}

/// The objective and report metrics a preset evaluator is searched with by default:
/// `nb201:*` max:valid_12 reporting test_200, `hash`/`sleep:` max:score, `train:*`
/// max:accuracy reporting test accuracy, size and latency, `oneshot:*` and the proxy ladder
/// (`proxy:..,train_epochs=N`) max:accuracy.
/// `None`: it must be given.
pub fn default_objective(evaluator: &str) -> Option<(String, Vec<String>)> {
    if evaluator.starts_with("nb201:") {
        Some(("max:valid_12".into(), vec!["test_200".into()]))
    } else if evaluator == "hash" || evaluator.starts_with("sleep:") {
        Some(("max:score".into(), vec![]))
    } else if evaluator.starts_with("train:") {
        Some((
            "max:accuracy".into(),
            ["test_accuracy", "params", "flops", "latency_ms"]
                .map(String::from)
                .to_vec(),
        ))
    } else if evaluator.starts_with("proxy:") && evaluator.contains("train_epochs=") {
        // The ladder's bottom rung writes the proxies' aggregate as `accuracy`.
        Some((
            "max:accuracy".into(),
            ["aggregate", "params", "flops"].map(String::from).to_vec(),
        ))
    } else if evaluator.starts_with("oneshot:") {
        Some((
            "max:accuracy".into(),
            ["params", "flops"].map(String::from).to_vec(),
        ))
    } else {
        None
    }
}
