//! `hnas illuminate`: the MAP-Elites illumination map of a study.

use crate::svg;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use hnas_search::{Archive, Descriptor, Source, StrategySpec};
use hnas_store::TrialState;
use hnas_study::Settings;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct IlluminateArgs {
    /// The study: a file, or a PostgreSQL URL postgres://USER@HOST/DB?study=NAME.
    #[arg(long)]
    pub study: PathBuf,
    /// First behaviour descriptor, SOURCE:lo:hi:bins (default: the study's mapelites x).
    #[arg(long)]
    pub x: Option<String>,
    /// Second behaviour descriptor (default: the study's mapelites y, if any).
    #[arg(long)]
    pub y: Option<String>,
    /// Folder for map.csv and map.svg.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// A map axis for a descriptor (a single bin when the map has one dimension).
pub(crate) fn axis(d: Option<&Descriptor>) -> svg::Axis {
    match d {
        Some(d) => svg::Axis {
            label: describe(d),
            bins: d.bins,
            lo: d.lo,
            hi: d.hi,
        },
        None => svg::Axis {
            label: String::new(),
            bins: 1,
            lo: 0.0,
            hi: 1.0,
        },
    }
}

fn describe(d: &Descriptor) -> String {
    match &d.source {
        Source::Metric(m) => m.clone(),
        Source::Count(op) => format!("count of {op}"),
        Source::Size => "operations".into(),
    }
}

pub fn run_illuminate(a: IlluminateArgs) -> Result<()> {
    let store = crate::search_cmd::open_existing(&a.study)?;
    let rec = store
        .study()?
        .ok_or_else(|| anyhow!("{} holds no study", a.study.display()))?;
    let settings: Settings =
        serde_json::from_str(&rec.settings).context("the study's settings are unreadable")?;
    let spec = StrategySpec::parse(&settings.strategy)?;
    let pick = |flag: &Option<String>, key: &str| {
        flag.clone().or_else(|| {
            (spec.name == "mapelites")
                .then(|| spec.params.get(key).cloned())
                .flatten()
        })
    };
    let mut descriptors = Vec::new();
    for (flag, key) in [(&a.x, "x"), (&a.y, "y")] {
        if let Some(text) = pick(flag, key) {
            descriptors.push(Descriptor::parse(&text)?);
        }
    }
    if descriptors.is_empty() {
        bail!("no behaviour descriptors: the study's strategy is not mapelites; give --x SOURCE:lo:hi:bins (and --y)");
    }
    let goals = hnas_study::Goals::parse(&settings)?;
    let objective = goals.primary().clone();
    let mut archive = Archive::new(descriptors.clone());
    let trials = store.trials()?;
    let mut offset = f64::INFINITY;
    for t in trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.duplicate_of.is_none())
    {
        // Infeasible trials (constraints) hold no cell.
        if let Some(s) = goals.score(t) {
            offset = offset.min(s);
            archive.offer(&t.candidate, &t.metrics, s, t.number);
        }
    }
    if archive.elites.is_empty() {
        bail!(
            "no complete trial of {} has a value for every descriptor",
            a.study.display()
        );
    }
    let total: u64 = descriptors.iter().map(|d| d.bins as u64).product();
    let raw = |s: f64| if objective.maximize() { s } else { -s };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "illumination of {} over {}",
        a.study.display(),
        descriptors
            .iter()
            .map(describe)
            .collect::<Vec<_>>()
            .join(" x ")
    )?;
    writeln!(
        out,
        "cells filled: {} of {} (coverage {:.1}%)",
        archive.elites.len(),
        total,
        100.0 * archive.coverage()
    )?;
    writeln!(out, "QD-score: {:.4} (sum over filled cells of the elite's score minus the worst complete trial's, {:.4})", archive.qd_score(offset), raw(offset))?;
    if let Some((cell, (s, line, trial))) = archive
        .elites
        .iter()
        .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
    {
        writeln!(
            out,
            "best elite: cell {cell:?}, {} = {:.4}, trial {trial}: {line}",
            objective.label(),
            raw(*s)
        )?;
    }
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut w = csv::Writer::from_path(dir.join("map.csv"))?;
        let mut header = Vec::new();
        for (i, d) in descriptors.iter().enumerate() {
            header.extend([
                format!("bin{i}"),
                format!("{}_lo", describe(d)),
                format!("{}_hi", describe(d)),
            ]);
        }
        header.extend([
            objective.label().to_string(),
            "trial".into(),
            "candidate".into(),
        ]);
        w.write_record(&header)?;
        for (cell, (s, line, trial)) in &archive.elites {
            let mut row = Vec::new();
            for (b, d) in cell.iter().zip(&descriptors) {
                let width = (d.hi - d.lo) / d.bins as f64;
                row.extend([
                    b.to_string(),
                    (d.lo + width * *b as f64).to_string(),
                    (d.lo + width * (*b + 1) as f64).to_string(),
                ]);
            }
            row.extend([raw(*s).to_string(), trial.to_string(), line.clone()]);
            w.write_record(&row)?;
        }
        w.flush()?;
        let (dx, dy) = (&descriptors[0], descriptors.get(1));
        let cells: Vec<((u32, u32), f64)> = archive
            .elites
            .iter()
            .map(|(c, (s, _, _))| ((c[0], c.get(1).copied().unwrap_or(0)), raw(*s)))
            .collect();
        let map = svg::heatmap(
            &format!("MAP-Elites elites: {}", objective.label()),
            &axis(Some(dx)),
            &axis(dy),
            &cells,
        );
        std::fs::write(dir.join("map.svg"), map)?;
        writeln!(
            out,
            "map: {} and {}",
            dir.join("map.csv").display(),
            dir.join("map.svg").display()
        )?;
    }
    Ok(())
}
