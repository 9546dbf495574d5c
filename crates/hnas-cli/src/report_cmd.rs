//! `hnas report`: one self-contained HTML page of a study, its figures inline SVG: the
//! best-so-far curve, the leaderboard, the Pareto front (several objectives), the MAP-Elites
//! map (when used), which decisions the top candidates share, and a drawing of each top
//! architecture. `hnas serve` shows the same figures live.

use anyhow::Result;
use clap::Args;
use hnas_report::StudyData;
use std::path::PathBuf;

#[derive(Args)]
pub struct ReportArgs {
    /// The study file (or PostgreSQL URL).
    #[arg(long)]
    pub study: PathBuf,
    /// Folder for index.html (and each figure as an .svg file).
    #[arg(long)]
    pub out: PathBuf,
    /// Top candidates drawn and compared with the rest.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
}

pub fn run(a: ReportArgs) -> Result<()> {
    let l = StudyData::load(&a.study.to_string_lossy())?;
    let files = hnas_report::write_report(&l, &a.out, a.top)?;
    let shown: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    println!(
        "report of {} ({} trials): {}",
        l.name,
        l.trials.len(),
        shown.join(", ")
    );
    Ok(())
}
