//! `hnas tabulate`: a benchmark table of one's own. Distinct networks drawn from a space
//! (or listed in a file) are evaluated, each with several seeds, and written as a CSV that
//! the `table:` evaluator reads (key column `arch`, the candidate's one-line form).

use crate::search_cmd::evaluator_from_name;
use crate::space_cmd::load;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use hnas_eval::TrialInfo;
use hnas_search::trial_rng;
use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
#[command(
    after_help = "Example (the MNIST-1D table in data/, about half an hour on 2 cores):\n  hnas tabulate --space crates/hnas-train/spaces/mnist1d.hnas --evaluator train:mnist1d --networks 150 --seeds 2 --out data/mnist1d-150.csv"
)]
pub struct TabulateArgs {
    #[arg(long)]
    pub space: PathBuf,
    #[arg(long)]
    pub evaluator: String,
    /// Distinct networks (by canonical hash) drawn from the space.
    #[arg(long, default_value_t = 100)]
    pub networks: usize,
    /// Evaluate these candidates (one-line forms, one per line; # starts a comment) instead
    /// of drawing.
    #[arg(long, conflicts_with = "networks")]
    pub candidates: Option<PathBuf>,
    /// Evaluations of each network, with seeds 0..N (training seeds for `train:`).
    #[arg(long, default_value_t = 2)]
    pub seeds: u64,
    /// The seed of the draw.
    #[arg(long, default_value_t = 0)]
    pub draw_seed: u64,
    #[arg(long)]
    pub fidelity: Option<f64>,
    /// The CSV written. Networks already in it are not evaluated again: a killed run
    /// resumes where it stopped.
    #[arg(long)]
    pub out: PathBuf,
}

/// Splits one CSV line on commas outside double quotes.
pub fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    out.push(cur);
    out
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub fn run(a: TabulateArgs) -> Result<()> {
    let space = load(&a.space)?;
    let evaluator = evaluator_from_name(&a.evaluator)?;
    evaluator.check_space(&space)?;
    if a.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    let candidates = match &a.candidates {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            text.lines()
                .enumerate()
                .map(|(i, l)| (i, l.trim()))
                .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
                .map(|(i, l)| {
                    space
                        .parse_candidate(l)
                        .map_err(|e| anyhow!("{}:{}: {e}", file.display(), i + 1))
                })
                .collect::<Result<Vec<_>>>()?
        }
        None => {
            let mut rng = trial_rng(a.draw_seed, u64::MAX - 3);
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            let mut draws = 0;
            while out.len() < a.networks && draws < a.networks * 50 {
                draws += 1;
                let c = space.sample(&mut rng, space.search_mode());
                if seen.insert(space.canonical_key(&c)) {
                    out.push(c);
                }
            }
            if out.len() < a.networks {
                eprintln!(
                    "warning: the space gave only {} distinct networks in {draws} draws",
                    out.len()
                );
            }
            out
        }
    };
    // Resume: networks already in the file are done; its header fixes the columns.
    let mut done = BTreeSet::new();
    let mut header: Option<Vec<String>> = None;
    if let Ok(text) = std::fs::read_to_string(&a.out) {
        let mut lines = text.lines();
        if let Some(h) = lines.next() {
            header = Some(csv_fields(h));
        }
        for l in lines {
            if let Some(k) = csv_fields(l).first() {
                done.insert(k.clone());
            }
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&a.out)
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    let todo: Vec<_> = candidates
        .iter()
        .filter(|c| !done.contains(&space.print(c)))
        .collect();
    eprintln!(
        "{} networks x {} seeds with {} ({} already in {})",
        todo.len(),
        a.seeds,
        a.evaluator,
        candidates.len() - todo.len(),
        a.out.display()
    );
    let start = Instant::now();
    let mut failed = 0;
    for (i, c) in todo.iter().enumerate() {
        let mut per_seed = Vec::new();
        let mut error = None;
        for seed in 0..a.seeds {
            let info = TrialInfo {
                trial: i as u64,
                seed,
                device: None,
                threads: None,
            };
            match evaluator.evaluate_trial(&space, c, a.fidelity, &info) {
                Ok(m) => per_seed.push(m),
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        if let Some(e) = error {
            failed += 1;
            eprintln!("  {}: failed: {e}", space.print(c));
            continue;
        }
        let metrics: Vec<String> = per_seed[0].keys().cloned().collect();
        let cols = header.get_or_insert_with(|| {
            // Per-seed columns for what the seed changes (accuracy, loss), not for what it
            // cannot (parameters, FLOPs), judged on the first network.
            let mut h = vec!["arch".to_string()];
            for m in &metrics {
                h.push(m.clone());
                let first = per_seed[0].get(m);
                if a.seeds > 1 && per_seed.iter().any(|p| p.get(m) != first) {
                    for s in 0..a.seeds {
                        h.push(format!("{m}_seed{s}"));
                    }
                }
            }
            writeln!(file, "{}", h.join(",")).ok();
            h
        });
        let mut row = vec![quote(&space.print(c))];
        for col in &cols[1..] {
            let (metric, seed) = match col.rsplit_once("_seed") {
                Some((m, s)) if s.parse::<u64>().is_ok() => (m, s.parse::<usize>().ok()),
                _ => (col.as_str(), None),
            };
            let value = match seed {
                Some(s) => per_seed.get(s).and_then(|m| m.get(metric).copied()),
                None => {
                    let v: Vec<f64> = per_seed
                        .iter()
                        .filter_map(|m| m.get(metric).copied())
                        .collect();
                    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
                }
            };
            row.push(value.map(|v| v.to_string()).unwrap_or_default());
        }
        writeln!(file, "{}", row.join(","))?;
        file.flush()?;
        let el = start.elapsed().as_secs_f64();
        eprintln!(
            "  [{}/{}] {:.0} s elapsed, about {:.0} s left",
            i + 1,
            todo.len(),
            el,
            el / (i + 1) as f64 * (todo.len() - i - 1) as f64
        );
    }
    eprintln!(
        "wrote {} ({} failed); serve it with --evaluator table:{}",
        a.out.display(),
        failed,
        a.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::csv_fields;

    #[test]
    fn quoted_fields_keep_their_commas() {
        assert_eq!(
            csv_fields("\"a(b=1,c=\"\"x\"\")\",2,"),
            vec!["a(b=1,c=\"x\")", "2", ""]
        );
    }
}
