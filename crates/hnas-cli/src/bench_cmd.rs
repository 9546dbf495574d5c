//! `hnas bench` (strategies against random search over many seeds) and `hnas bench-engine`
//! (the engine's own per-trial overhead).

use crate::search_cmd::default_objective;
use crate::space_cmd::load;
use anyhow::{anyhow, Context, Result};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use hnas_eval::{Evaluator, HashScore};
use hnas_store::{MemoryStore, SqliteStore, Store};
use hnas_study::{run_benchmark, BenchConfig, Dedup, Settings, Study};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Args)]
pub struct BenchArgs {
    #[arg(long)]
    pub space: PathBuf,
    #[arg(long)]
    pub evaluator: String,
    /// Strategies to compare, comma-separated (random is always included as the baseline);
    /// a strategy's own parameters may follow it, as in `rea,mapelites:x=a:0:1:4,y=b:0:1:4`.
    #[arg(long, default_value = "random,rea,ls")]
    pub strategies: String,
    /// Seeds 0..N for every strategy.
    #[arg(long, default_value_t = 100)]
    pub seeds: u64,
    /// Counted trials per run.
    #[arg(long, default_value_t = 300)]
    pub budget: u64,
    /// The search objective (default: the evaluator's preset).
    #[arg(long)]
    pub objective: Option<String>,
    /// The metric regret is measured on, against its best value in the table (default: the
    /// preset's first report metric, test_200 for nb201:*).
    #[arg(long)]
    pub regret_metric: Option<String>,
    /// Budgets at which to report, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "50,100,150,300")]
    pub at: Vec<usize>,
    #[arg(long, default_value = "reuse")]
    pub dedup: String,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Folder for curves.csv (mean and standard error of the regret at every budget) and
    /// curves.svg (the same as a plot with error bands).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Splits a comma-separated list of strategy specs; a `key=value` piece continues the spec
/// before it (strategy names never contain '=').
pub fn split_strategies(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let is_param = piece.split_once('=').is_some_and(|(k, _)| !k.contains(':'));
        match out.last_mut() {
            Some(last) if is_param => {
                last.push(',');
                last.push_str(piece);
            }
            _ => out.push(piece.to_string()),
        }
    }
    out
}

pub fn run_bench(a: BenchArgs) -> Result<()> {
    let space = load(&a.space)?;
    let evaluator: Arc<dyn Evaluator> = Arc::from(hnas_eval::from_name(&a.evaluator)?);
    let preset = default_objective(&a.evaluator);
    let objective = a
        .objective
        .clone()
        .or_else(|| preset.as_ref().map(|p| p.0.clone()))
        .ok_or_else(|| {
            anyhow!(
                "evaluator '{}' has no default objective; expected --objective",
                a.evaluator
            )
        })?;
    let regret_metric = a
        .regret_metric
        .clone()
        .or_else(|| preset.as_ref().and_then(|p| p.1.first().cloned()))
        .unwrap_or_else(|| {
            objective
                .split(':')
                .next_back()
                .unwrap_or_default()
                .to_string()
        });
    let mut strategies = split_strategies(&a.strategies);
    if !strategies.iter().any(|s| s == "random") {
        strategies.insert(0, "random".into());
    }
    let dedup = Dedup::parse(&a.dedup).ok_or_else(|| {
        anyhow!(
            "unknown dedup policy '{}'; expected reuse, skip or off",
            a.dedup
        )
    })?;
    let cfg = BenchConfig {
        space_file: a.space.display().to_string(),
        space: space.source().to_string(),
        strategies,
        objective: objective.clone(),
        regret_metric: regret_metric.clone(),
        seeds: a.seeds,
        budget: a.budget,
        dedup,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.unwrap_or(0))
        .build()?;
    let threads = pool.current_num_threads();
    let start = Instant::now();
    let result = pool.install(|| run_benchmark(&cfg, evaluator.clone()))?;
    let wall = start.elapsed().as_secs_f64();

    let at: Vec<usize> =
        a.at.iter()
            .copied()
            .filter(|&t| t >= 1 && t as u64 <= a.budget)
            .collect();
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["strategy".to_string()];
    let what = if result.optimum.is_some() {
        "regret"
    } else {
        "best"
    };
    header.extend(at.iter().map(|t| format!("{what} @{t}")));
    header.extend(at.iter().map(|t| format!("vs random @{t}")));
    header.push("µs/trial".into());
    table.set_header(header);
    let random = result
        .curves
        .iter()
        .find(|c| c.strategy == "random")
        .expect("random is always run");
    for c in &result.curves {
        let mut row = vec![c.strategy.clone()];
        row.extend(at.iter().map(|&t| {
            let (m, se) = c.at(t);
            format!("{m:.3} ± {se:.3}")
        }));
        row.extend(at.iter().map(|&t| {
            let (m, _) = c.at(t);
            let (r, _) = random.at(t);
            match result.optimum {
                Some(_) if r > 0.0 => format!("{:+.0}%", 100.0 * (r - m) / r),
                None if r != 0.0 => format!("{:+.1}%", 100.0 * (m - r) / r.abs()),
                _ => "-".into(),
            }
        }));
        row.push(format!("{:.1}", 1e6 * c.seconds / c.trials.max(1) as f64));
        table.add_row(row);
    }
    let mut out = std::io::stdout().lock();
    let measure = match result.optimum {
        Some(o) => format!("regret = {o} - {regret_metric} of the best-by-{objective} candidate"),
        None => format!("best = {regret_metric} of the best-by-{objective} candidate (the evaluator knows no optimum, so no regret)"),
    };
    writeln!(
        out,
        "{} on {} ({}), {} seeds x {} trials, {}; dedup {}",
        a.space.display(),
        a.evaluator,
        objective,
        a.seeds,
        a.budget,
        measure,
        a.dedup
    )?;
    writeln!(out, "{table}")?;
    writeln!(out, "mean ± standard error over seeds; 'vs random' = relative improvement over random search. wall {wall:.1} s on {threads} threads")?;
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("curves.csv");
        let mut w = csv::Writer::from_path(&path)?;
        w.write_record([
            "strategy",
            "trials",
            if result.optimum.is_some() {
                "mean_regret"
            } else {
                "mean_best"
            },
            "stderr",
        ])?;
        for c in &result.curves {
            for t in 1..=a.budget as usize {
                let (m, se) = c.at(t);
                w.write_record([
                    c.strategy.clone(),
                    t.to_string(),
                    m.to_string(),
                    se.to_string(),
                ])?;
            }
        }
        w.flush()?;
        let series: Vec<crate::svg::Series> = result
            .curves
            .iter()
            .map(|c| crate::svg::Series {
                label: c.strategy.clone(),
                points: (1..=a.budget as usize)
                    .map(|t| {
                        let (m, se) = c.at(t);
                        (t as f64, m, se)
                    })
                    .collect(),
            })
            .collect();
        let title = format!(
            "{} on {}: mean {what} over {} seeds (± 1 s.e.)",
            a.space.display(),
            a.evaluator,
            a.seeds
        );
        let svg_path = dir.join("curves.svg");
        let ylabel = format!("{what} ({regret_metric})");
        std::fs::write(
            &svg_path,
            crate::svg::curves(&title, "trials", &ylabel, &series),
        )?;
        writeln!(out, "curves: {} and {}", path.display(), svg_path.display())?;
    }
    Ok(())
}

#[derive(Args)]
pub struct EngineArgs {
    /// Study sizes to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    pub trials: Vec<u64>,
    /// The space (NAS-Bench-201's six 5-way choices by default).
    #[arg(long, default_value = "examples/spaces/nb201.hnas")]
    pub space: PathBuf,
    /// Strategy to measure.
    #[arg(long, default_value = "random")]
    pub strategy: String,
    /// Stores to measure, comma-separated: memory, sqlite.
    #[arg(long, value_delimiter = ',', default_value = "memory,sqlite")]
    pub stores: Vec<String>,
    /// Print one JSON object per measurement instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Measures ask + tell + store per trial with the evaluator's own time excluded: the median
/// of repeated studies per configuration, after a warm-up study.
pub fn run_engine(a: EngineArgs) -> Result<()> {
    let space = load(&a.space)?;
    let evaluator: Arc<dyn Evaluator> = Arc::new(HashScore);
    let dir = std::env::temp_dir().join(format!("hnas-bench-engine-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // One study per configuration and repeat; the first (warm-up) study of the process pays
    // one-time costs (allocator arenas, page faults) and is not reported.
    let measure = |store_kind: &str, n: u64, tag: usize| -> Result<f64> {
        let settings = Settings {
            space_file: a.space.display().to_string(),
            space: space.source().to_string(),
            strategy: a.strategy.clone(),
            evaluator: "hash".into(),
            objective: "max:score".into(),
            report: vec![],
            seed: 0,
            budget: n,
            fidelity: None,
            dedup: Dedup::Off,
        };
        let path = dir.join(format!("{store_kind}-{n}-{tag}.db"));
        let store: Box<dyn Store> = if store_kind == "memory" {
            Box::new(MemoryStore::new())
        } else {
            Box::new(SqliteStore::open(&path)?)
        };
        let start = Instant::now();
        let mut study = Study::open(settings, evaluator.clone(), store)?;
        study.run(&mut |_| {})?;
        let total = start.elapsed().as_secs_f64();
        Ok((total - study.evaluation_seconds()) / n as f64)
    };
    measure("memory", 1000, 0)?;
    let mut rows = Vec::new();
    for &n in &a.trials {
        for store_kind in a.stores.iter().map(String::as_str) {
            if store_kind != "memory" && store_kind != "sqlite" {
                anyhow::bail!("unknown store '{store_kind}'; expected memory or sqlite");
            }
            // Short studies are repeated (odd count, at least 3) so that each figure spans
            // about 20,000 trials; the median is reported.
            let repeats = ((20_000 / n.max(1)) as usize).clamp(3, 21) | 1;
            let mut runs = (1..=repeats)
                .map(|tag| measure(store_kind, n, tag))
                .collect::<Result<Vec<f64>>>()?;
            runs.sort_by(f64::total_cmp);
            rows.push((store_kind.to_string(), n, runs[repeats / 2]));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut out = std::io::stdout().lock();
    if a.json {
        for (store, n, o) in rows {
            writeln!(
                out,
                "{}",
                serde_json::json!({"engine": "hnas", "strategy": a.strategy, "store": store, "trials": n, "seconds_per_trial": o})
            )?;
        }
    } else {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(["store", "trials", "µs per trial (ask + tell + store)"]);
        for (store, n, o) in rows {
            t.add_row([store.to_string(), n.to_string(), format!("{:.1}", o * 1e6)]);
        }
        writeln!(out, "{t}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_strategies;

    #[test]
    fn parameters_stay_with_their_strategy() {
        assert_eq!(
            split_strategies(
                "random, rea:population=20,sample=5,mapelites:x=a:0:1:4,y=count.conv:0:6:7,tpe"
            ),
            vec![
                "random",
                "rea:population=20,sample=5",
                "mapelites:x=a:0:1:4,y=count.conv:0:6:7",
                "tpe"
            ]
        );
        assert_eq!(split_strategies(""), Vec::<String>::new());
    }
}
