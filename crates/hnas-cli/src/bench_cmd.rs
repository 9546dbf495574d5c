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
    /// Start the seeds here instead of 0 (FIRST..FIRST+N): held-out seeds to check a setting
    /// chosen on others.
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Counted trials per run.
    #[arg(long, default_value_t = 300)]
    pub budget: u64,
    /// The search objective (default: the evaluator's preset); repeat for several, and the
    /// curves become hypervolumes (as a fraction of the true front's when the space is small
    /// enough to enumerate).
    #[arg(long)]
    pub objective: Vec<String>,
    /// A hard constraint METRIC <= BOUND or METRIC >= BOUND; repeatable.
    #[arg(long)]
    pub constraint: Vec<String>,
    /// The hypervolume's reference point, one value per objective in their own units.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub reference: Vec<f64>,
    /// A cost budget per run besides --budget (in the evaluator's unit, e.g. epochs);
    /// results are then also read against cost (--at-cost).
    #[arg(long)]
    pub budget_cost: Option<f64>,
    /// Costs at which to report, comma-separated (default: a quarter, half and all of
    /// --budget-cost).
    #[arg(long, value_delimiter = ',')]
    pub at_cost: Vec<f64>,
    /// The fidelity of strategies that do not choose one (e.g. 200 for nb201:* at 200 epochs).
    #[arg(long)]
    pub fidelity: Option<f64>,
    /// The metric regret is measured on, against its best value in the table (default: the
    /// preset's first report metric, test_200 for nb201:*).
    #[arg(long)]
    pub regret_metric: Option<String>,
    /// Budgets at which to report, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "50,100,150,300")]
    pub at: Vec<usize>,
    #[arg(long, default_value = "reuse")]
    pub dedup: String,
    /// A prior for the strategies that use one (bananas), as `hnas search --prior`.
    #[arg(long)]
    pub prior: Option<String>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Trials each run evaluates at once, as `hnas search --jobs` (proposals then see the
    /// running trials as pending: what asynchronous parallel search costs in quality).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: u64,
    /// Folder for curves.csv (mean and standard error of the regret at every budget),
    /// curves.svg (the same as a plot with error bands) and seeds.csv (each seed's value at
    /// every reported budget).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Four significant digits: `0.005 ± 0.000` said nothing about accuracies stored as fractions.
pub fn sig4(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{}", x + 0.0);
    }
    let decimals = (3 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{:.*}", decimals, x)
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

/// Writes one row per strategy and seed, with its value at each of `at` (trial counts, or
/// costs when `by_cost`): the spread behind each mean, and the pairs by seed for a paired
/// test (which helps only where runs with one seed stay alike).
fn write_seeds(
    path: &std::path::Path,
    curves: &[hnas_study::StrategyCurves],
    at: &[f64],
    by_cost: bool,
    first_seed: u64,
) -> Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    let mut header = vec!["strategy".to_string(), "seed".to_string()];
    let prefix = if by_cost { "at_cost_" } else { "at_" };
    header.extend(at.iter().map(|x| format!("{prefix}{x}")));
    w.write_record(&header)?;
    for c in curves {
        let columns: Vec<Vec<f64>> = at
            .iter()
            .map(|&x| {
                if by_cost {
                    c.seeds_at_cost(x)
                } else {
                    c.seeds_at(x as usize)
                }
            })
            .collect();
        for i in 0..c.regret.len() {
            let mut row = vec![c.strategy.clone(), (first_seed + i as u64).to_string()];
            row.extend(columns.iter().map(|col| col[i].to_string()));
            w.write_record(&row)?;
        }
    }
    w.flush()?;
    Ok(())
}

pub fn run_bench(a: BenchArgs) -> Result<()> {
    let space = load(&a.space)?;
    let evaluator: Arc<dyn Evaluator> =
        Arc::from(crate::search_cmd::evaluator_from_name(&a.evaluator)?);
    let preset = default_objective(&a.evaluator);
    let objectives: Vec<String> = if a.objective.is_empty() {
        vec![preset.as_ref().map(|p| p.0.clone()).ok_or_else(|| {
            anyhow!(
                "evaluator '{}' has no default objective; expected --objective",
                a.evaluator
            )
        })?]
    } else {
        a.objective.clone()
    };
    let objective = objectives.join(" ");
    let multi = objectives.len() > 1;
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
        objectives: objectives.clone(),
        constraints: a.constraint.clone(),
        regret_metric: regret_metric.clone(),
        reference: a.reference.clone(),
        seeds: a.seeds,
        first_seed: a.first_seed,
        budget: a.budget,
        max_cost: a.budget_cost,
        fidelity: a.fidelity,
        dedup,
        prior: a.prior.clone(),
        jobs: a.jobs as usize,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.unwrap_or(0))
        .build()?;
    let threads = pool.current_num_threads();
    let start = Instant::now();
    let result = pool.install(|| run_benchmark(&cfg, evaluator.clone()))?;
    let wall = start.elapsed().as_secs_f64();

    // Points at which to report: trial counts, or costs under a cost budget.
    let by_cost = a.budget_cost.is_some();
    let at: Vec<f64> = if let Some(total) = a.budget_cost {
        if a.at_cost.is_empty() {
            vec![total / 4.0, total / 2.0, total]
        } else {
            a.at_cost.clone()
        }
    } else {
        a.at.iter()
            .copied()
            .filter(|&t| t >= 1 && t as u64 <= a.budget)
            .map(|t| t as f64)
            .collect()
    };
    let value_at = |c: &hnas_study::StrategyCurves, x: f64| {
        if by_cost {
            c.at_cost(x)
        } else {
            c.at(x as usize)
        }
    };
    // Lower is better for regrets; higher for hypervolumes and raw metric values.
    let lower_better = !multi && result.optimum.is_some();
    let what = match (multi, result.optimum.is_some()) {
        (true, true) => "hv %",
        (true, false) => "hv",
        (false, true) => "regret",
        (false, false) => "best",
    };
    let scale = if multi && result.optimum.is_some() {
        100.0
    } else {
        1.0
    };
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["strategy".to_string()];
    let label = |x: f64| {
        if by_cost {
            format!("@cost {}", x)
        } else {
            format!("@{x}")
        }
    };
    // The regret's metric in the header, so the table reads alone.
    let named = if multi {
        what.to_string()
    } else {
        format!("{what} ({regret_metric})")
    };
    header.extend(at.iter().map(|&t| format!("{named} {}", label(t))));
    header.extend(at.iter().map(|&t| format!("vs random {}", label(t))));
    header.push("distinct/100".into());
    header.push("asked/100".into());
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
            let (m, se) = value_at(c, t);
            format!("{} ± {}", sig4(m * scale), sig4(se * scale))
        }));
        row.extend(at.iter().map(|&t| {
            let (m, _) = value_at(c, t);
            let (r, _) = value_at(random, t);
            if lower_better && r > 0.0 {
                format!("{:+.0}%", 100.0 * (r - m) / r)
            } else if !lower_better && r != 0.0 && r.is_finite() {
                format!("{:+.1}%", 100.0 * (m - r) / r.abs())
            } else {
                "-".into()
            }
        }));
        let n = c.distinct.len().max(1) as f64;
        row.push(format!("{:.1}", c.distinct.iter().sum::<f64>() / n));
        row.push(format!("{:.1}", c.asked.iter().sum::<f64>() / n));
        row.push(format!("{:.1}", 1e6 * c.seconds / c.trials.max(1) as f64));
        table.add_row(row);
    }
    let mut out = std::io::stdout().lock();
    let measure = match (multi, result.optimum) {
        (true, Some(o)) => format!(
            "hv % = hypervolume of the feasible trials' front as a percentage of the true front's ({} points, hypervolume {o:.4}) from reference {:?}",
            result.front_size.unwrap_or(0),
            a.reference
        ),
        (true, None) => format!("hv = hypervolume of the feasible trials' front from reference {:?}", a.reference),
        (false, Some(o)) => format!("regret = {o} - {regret_metric} of the best-by-{objective} candidate"),
        (false, None) => format!("best = {regret_metric} of the best-by-{objective} candidate (the evaluator knows no optimum, so no regret)"),
    };
    writeln!(
        out,
        "{} on {} ({}), {} seeds{} x {} trials, {}; dedup {}",
        a.space.display(),
        a.evaluator,
        objective,
        a.seeds,
        if a.first_seed > 0 {
            format!(" (from seed {})", a.first_seed)
        } else {
            String::new()
        },
        a.budget,
        measure,
        a.dedup
    )?;
    writeln!(out, "{table}")?;
    if !multi
        && objectives
            .iter()
            .any(|o| o.rsplit(':').next() == Some(regret_metric.as_str()))
    {
        writeln!(
            out,
            "note: the regret metric {regret_metric} is the search objective itself: the strategies saw it, so this measures optimization, not generalization; NAS-Bench-201's protocol searches on valid_12 and reports test_200 (--regret-metric)"
        )?;
    }
    writeln!(out, "mean ± standard error over seeds; 'vs random' = relative improvement over random search. wall {wall:.1} s on {threads} threads")?;
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("curves.csv");
        let mut w = csv::Writer::from_path(&path)?;
        let column = match (multi, result.optimum.is_some()) {
            (true, true) => "mean_hypervolume_fraction",
            (true, false) => "mean_hypervolume",
            (false, true) => "mean_regret",
            (false, false) => "mean_best",
        };
        w.write_record(["strategy", "trials", column, "stderr", "mean_cost"])?;
        let longest = result
            .curves
            .iter()
            .flat_map(|c| c.regret.iter().map(Vec::len))
            .max()
            .unwrap_or(0);
        for c in &result.curves {
            for t in 1..=longest {
                let (m, se) = c.at(t);
                let cost: Vec<f64> = c.cost.iter().map(|k| k[(t - 1).min(k.len() - 1)]).collect();
                let mean_cost = cost.iter().sum::<f64>() / cost.len().max(1) as f64;
                w.write_record([
                    c.strategy.clone(),
                    t.to_string(),
                    m.to_string(),
                    se.to_string(),
                    mean_cost.to_string(),
                ])?;
            }
        }
        w.flush()?;
        let seeds_path = dir.join("seeds.csv");
        write_seeds(&seeds_path, &result.curves, &at, by_cost, a.first_seed)?;
        let series = hnas_report::bench_series(
            &result,
            by_cost.then(|| a.budget_cost.unwrap_or(0.0)),
            a.budget as usize,
            scale,
        );
        let title = format!(
            "{} on {}: mean {what} over {} seeds (± 1 s.e.)",
            a.space.file_name().map_or_else(
                || a.space.display().to_string(),
                |f| f.to_string_lossy().to_string()
            ),
            a.evaluator,
            a.seeds
        );
        let svg_path = dir.join("curves.svg");
        let ylabel = if multi {
            what.to_string()
        } else {
            format!("{what} ({regret_metric})")
        };
        let xlabel = if by_cost {
            format!("cost ({})", evaluator.cost_unit())
        } else {
            "trials".to_string()
        };
        std::fs::write(
            &svg_path,
            // Regrets span orders of magnitude: a log axis; hypervolume percentages do not.
            hnas_report::svg::curves(&title, &xlabel, &ylabel, &series, !multi),
        )?;
        writeln!(
            out,
            "curves: {} and {}; each seed's values: {}",
            path.display(),
            svg_path.display(),
            seeds_path.display()
        )?;
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
    /// Stores to measure, comma-separated: memory, sqlite, postgres (needs --postgres).
    #[arg(long, value_delimiter = ',', default_value = "memory,sqlite")]
    pub stores: Vec<String>,
    /// The PostgreSQL database for the postgres store: postgres://USER@HOST:PORT/DB
    /// (each measurement writes a study of its own).
    #[arg(long)]
    pub postgres: Option<String>,
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
            objectives: vec!["max:score".into()],
            constraints: vec![],
            report: vec![],
            seed: 0,
            budget: n,
            max_cost: None,
            fidelity: None,
            prior: None,
            dedup: Dedup::Off,
        };
        let path = dir.join(format!("{store_kind}-{n}-{tag}.db"));
        let store: Box<dyn Store> = match store_kind {
            "memory" => Box::new(MemoryStore::new()),
            "postgres" => {
                let base = a.postgres.as_deref().ok_or_else(|| {
                    anyhow!("the postgres store needs --postgres postgres://USER@HOST:PORT/DB")
                })?;
                let sep = if base.contains('?') { '&' } else { '?' };
                Box::new(hnas_store::PgStore::open(&format!(
                    "{base}{sep}study=bench-engine-{}-{store_kind}-{n}-{tag}-{}",
                    std::process::id(),
                    hnas_store::now()
                ))?)
            }
            _ => Box::new(SqliteStore::open(&path)?),
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
            if !["memory", "sqlite", "postgres"].contains(&store_kind) {
                anyhow::bail!("unknown store '{store_kind}'; expected memory, sqlite or postgres");
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
