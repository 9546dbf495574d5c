//! `hnas tabulate`: a benchmark table of one's own. Distinct networks drawn from a space
//! (or listed in a file) are evaluated, each with several seeds, and written as a CSV that
//! the `table:` evaluator reads (key column `arch`, the candidate's one-line form).

use crate::search_cmd::evaluator_from_name;
use crate::space_cmd::load;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use hnas_eval::TrialInfo;
use hnas_search::trial_rng;
use hnas_space::{Candidate, Space};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
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

/// Candidates from a file: one-line forms one per line (# comments), or a CSV whose first
/// column is `arch` (as this command writes).
pub fn read_candidates(space: &Space, file: &Path) -> Result<Vec<Candidate>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let is_csv = text
        .lines()
        .next()
        .is_some_and(|h| h.starts_with("arch,") || h == "arch");
    let forms: Vec<(usize, String)> = if is_csv {
        csv::Reader::from_reader(text.as_bytes())
            .records()
            .map(|r| {
                let r = r.with_context(|| format!("{}: malformed CSV", file.display()))?;
                let line = r.position().map_or(0, |p| p.line() as usize);
                Ok((line, r.get(0).unwrap_or_default().to_string()))
            })
            .collect::<Result<_>>()?
    } else {
        text.lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim().to_string()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
            .collect()
    };
    forms
        .into_iter()
        .map(|(line, form)| {
            space
                .parse_candidate(&form)
                .map_err(|e| anyhow!("{}:{line}: {e}", file.display()))
        })
        .collect()
}

pub fn run(a: TabulateArgs) -> Result<()> {
    let space = load(&a.space)?;
    let evaluator = evaluator_from_name(&a.evaluator)?;
    evaluator.check_space(&space)?;
    if a.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    let candidates = match &a.candidates {
        Some(file) => read_candidates(&space, file)?,
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
    if let Ok(mut r) = csv::Reader::from_path(&a.out) {
        let h = r
            .headers()
            .with_context(|| format!("{}: malformed CSV", a.out.display()))?;
        if !h.is_empty() {
            header = Some(h.iter().map(String::from).collect());
        }
        for rec in r.records() {
            let rec = rec.with_context(|| format!("{}: malformed CSV", a.out.display()))?;
            if let Some(k) = rec.get(0) {
                done.insert(k.to_string());
            }
        }
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&a.out)
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    let mut out = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(file);
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
        let new_header = header.is_none();
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
            h
        });
        if new_header {
            out.write_record(cols.iter())?;
        }
        let mut row = vec![space.print(c)];
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
        out.write_record(&row)?;
        out.flush()?;
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
    use super::read_candidates;
    use hnas_space::Space;

    #[test]
    fn candidates_come_from_a_list_or_from_a_table_with_quoted_forms() {
        let space =
            Space::parse("s.hnas", "net = pair(a = p, b = q)\np = x | y\nq = u | v").unwrap();
        let dir = std::env::temp_dir().join(format!("hnas-tabulate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let list = dir.join("list.txt");
        std::fs::write(&list, "# two\npair(a=x,b=v)\n\npair(a=y,b=u)\n").unwrap();
        let table = dir.join("t.csv");
        std::fs::write(&table, "arch,score\n\"pair(a=x,b=v)\",1\n").unwrap();
        let print = |f| -> Vec<String> {
            read_candidates(&space, f)
                .unwrap()
                .iter()
                .map(|c| space.print(c))
                .collect()
        };
        assert_eq!(print(&list), ["pair(a=x,b=v)", "pair(a=y,b=u)"]);
        assert_eq!(print(&table), ["pair(a=x,b=v)"]);
        std::fs::write(&list, "pair(a=z,b=v)\n").unwrap();
        let err = read_candidates(&space, &list).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}:1:", list.display())), "{err}");
    }
}
