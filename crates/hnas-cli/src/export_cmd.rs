//! `hnas export`: a trial's architecture as JSON, or as a PyTorch `nn.Module` source file.

use crate::search_cmd::open_existing;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use hnas_store::{TrialRecord, TrialState};
use hnas_study::{Goals, Settings};
use hnas_train::{Shape, Skeleton};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Json,
    Pytorch,
}

#[derive(Args)]
pub struct ExportArgs {
    /// The study file (or PostgreSQL URL).
    #[arg(long)]
    pub study: PathBuf,
    /// The trial to export. Default: the study's best.
    #[arg(long)]
    pub trial: Option<u64>,
    #[arg(long, value_enum, default_value = "json")]
    pub format: ExportFormat,
    /// Write here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The network's input: C×H×W (an image), C×L (a sequence) or F (features), as 3x32x32.
    /// Default: the study's dataset (train:..) or NAS-Bench-201's (nb201:..).
    #[arg(long)]
    pub input: Option<String>,
    /// Classes of the classifier. Default: as --input.
    #[arg(long)]
    pub classes: Option<usize>,
}

/// Input shape, classes and the skeleton a bare cell is stacked in, from the study's evaluator.
fn network_frame(evaluator: &str) -> Result<Option<(Shape, usize, Skeleton)>> {
    if let Some(ev) = hnas_train::from_name(evaluator) {
        let ev = ev?;
        let d = ev.dataset()?;
        return Ok(Some((d.input, d.classes, ev.skeleton)));
    }
    // NAS-Bench-201's networks: 16 channels, 5 cells per stage.
    let nb = Skeleton {
        channels: 16,
        cells: 5,
    };
    Ok(match evaluator {
        "nb201:cifar10" => Some((Shape::Image { c: 3, h: 32, w: 32 }, 10, nb)),
        "nb201:cifar100" => Some((Shape::Image { c: 3, h: 32, w: 32 }, 100, nb)),
        "nb201:imagenet16" => Some((Shape::Image { c: 3, h: 16, w: 16 }, 120, nb)),
        _ => None,
    })
}

fn parse_shape(s: &str) -> Result<Shape> {
    let dims: Vec<usize> = s
        .split(['x', '×'])
        .map(|d| d.trim().parse::<usize>().ok().filter(|v| *v > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            anyhow!("--input {s}: expected C×H×W, C×L or F of positive integers, as 3x32x32")
        })?;
    Ok(match dims[..] {
        [c, h, w] => Shape::Image { c, h, w },
        [c, l] => Shape::Seq { c, l },
        [f] => Shape::Flat { f },
        _ => bail!("--input {s}: expected C×H×W, C×L or F"),
    })
}

pub fn run(a: ExportArgs) -> Result<()> {
    let store = open_existing(&a.study)?;
    let rec = store
        .study()?
        .ok_or_else(|| anyhow!("{} holds no study", a.study.display()))?;
    let settings: Settings =
        serde_json::from_str(&rec.settings).context("the study's settings are unreadable")?;
    let trials = store.trials()?;
    if trials.is_empty() {
        bail!(
            "{} holds no trials yet; nothing to export",
            a.study.display()
        );
    }
    let trial: &TrialRecord = match a.trial {
        Some(n) => trials.iter().find(|t| t.number == n).ok_or_else(|| {
            anyhow!(
                "{} has no trial {n} (trials 0 to {})",
                a.study.display(),
                trials.len() - 1
            )
        })?,
        None => {
            let goals = Goals::parse(&settings)?;
            goals
                .pareto_front(&trials)
                .into_iter()
                .next()
                .ok_or_else(|| {
                    anyhow!(
                        "{} has no complete feasible trial; name one with --trial",
                        a.study.display()
                    )
                })?
        }
    };
    let json: serde_json::Value = serde_json::from_str(&trial.candidate_json)
        .context("the trial's architecture is unreadable")?;
    let text = match a.format {
        ExportFormat::Json => {
            let out = serde_json::json!({
                "study": a.study.display().to_string(),
                "trial": trial.number,
                "state": trial.state.to_string(),
                "candidate": trial.candidate,
                "metrics": trial.metrics,
                "architecture": json,
            });
            serde_json::to_string_pretty(&out)? + "\n"
        }
        ExportFormat::Pytorch => {
            let frame = network_frame(&settings.evaluator)?;
            let (input, classes, skeleton) = match (a.input.as_deref(), a.classes, frame) {
                (Some(i), Some(k), f) => (parse_shape(i)?, k, f.map_or(Skeleton::default(), |f| f.2)),
                (i, k, Some((fi, fk, sk))) => (i.map(parse_shape).transpose()?.unwrap_or(fi), k.unwrap_or(fk), sk),
                (_, _, None) => bail!(
                    "the study's evaluator '{}' does not say what the network reads; give --input (as 3x32x32) and --classes",
                    settings.evaluator
                ),
            };
            let compiled = hnas_train::compile(&json, input, classes, skeleton).map_err(|e| {
                anyhow!(
                    "trial {} is not a network hnas can export: {e}",
                    trial.number
                )
            })?;
            let mut header = vec![
                format!(
                    "Generated by hnas from trial {} of {}.",
                    trial.number,
                    a.study.display()
                ),
                format!(
                    "Space {}; evaluator {}.",
                    settings.space_file, settings.evaluator
                ),
                format!("Candidate: {}", trial.candidate),
            ];
            if trial.state == TrialState::Complete {
                let m: Vec<String> = trial
                    .metrics
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                header.push(format!("Metrics: {}", m.join(", ")));
            }
            hnas_train::export::pytorch(&compiled.net, &header)
        }
    };
    match &a.out {
        Some(p) => {
            std::fs::write(p, &text).with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!("trial {} written to {}", trial.number, p.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}
