//! `hnas illuminate`: the MAP-Elites illumination map of a study.

use anyhow::{bail, Context, Result};
use clap::Args;
use hnas_report::describe;
use hnas_search::{Descriptor, StrategySpec};
use hnas_study::StudyData;
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

pub fn run_illuminate(a: IlluminateArgs) -> Result<()> {
    let l = StudyData::load(&a.study.to_string_lossy())?;
    let spec = StrategySpec::parse(&l.settings.strategy)?;
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
    let objective = l.goals.primary().clone();
    let (archive, offset) = l.archive(&descriptors);
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
        let map = hnas_report::map_svg_over(&l, &descriptors).expect("a descriptor");
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
