//! `hnas darts`: differentiable search (DARTS, GDAS, β-DARTS, PC-DARTS) over a cell space, the found
//! cell written as a candidate of the space, optionally trained standalone and placed in a
//! benchmark table.

use crate::space_cmd::load;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use hnas_eval::{Evaluator, TrialInfo};
use hnas_train::darts::{self, DartsConfig, Method, Selection};
use hnas_train::TrainEvaluator;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
#[command(
    after_help = "Example (β-DARTS with perturbation selection on MNIST-1D, five seeds, each found cell trained twice and placed in the table in data/):\n  hnas darts --space examples/spaces/nb201.hnas --method beta --select perturb --seeds 5 --train 5 --table data/nb201-mnist1d-200.csv"
)]
pub struct DartsArgs {
    /// A cell space: one dag(...) at the root whose every edge picks a bare operation.
    #[arg(long)]
    pub space: PathBuf,
    /// The dataset and training options, as train: names them (mnist1d, fashion-mnist,
    /// idx:DIR, csv:FILE; then ,channels=N,cells=N,train_size=N,...).
    #[arg(long, default_value = "mnist1d")]
    pub dataset: String,
    /// darts (first order), gdas, beta (β-DARTS) or pc (PC-DARTS: partial channels and edge
    /// normalization).
    #[arg(long, default_value = "darts")]
    pub method: String,
    /// How the cell is read off: argmax of α, or perturb (perturbation-based selection).
    #[arg(long, default_value = "argmax")]
    pub select: String,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// The weights' learning rate.
    #[arg(long, default_value_t = 0.005)]
    pub lr: f64,
    /// α's learning rate.
    #[arg(long, default_value_t = 0.003)]
    pub arch_lr: f64,
    /// β-DARTS's final regularization strength.
    #[arg(long, default_value_t = 1.0)]
    pub beta: f64,
    /// PC-DARTS's K: each edge's options see 1/K of its channels (the skeleton's channels
    /// must be a multiple of K).
    #[arg(long, default_value_t = 4)]
    pub partial: usize,
    /// Weight steps between edges in perturbation selection.
    #[arg(long, default_value_t = 10)]
    pub tune_steps: usize,
    /// Searches with seeds FIRST..FIRST+N.
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Train each found cell standalone for this many epochs (seeds 0 and 1) and report
    /// its accuracy.
    #[arg(long)]
    pub train: Option<usize>,
    /// A table (hnas tabulate's CSV) to place the found cells' standalone accuracy in: the
    /// share of its networks they beat (needs --train).
    #[arg(long, requires = "train")]
    pub table: Option<PathBuf>,
    /// Write every search's result as JSON lines here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn table_accuracies(path: &PathBuf) -> Result<Vec<f64>> {
    let mut r = csv::Reader::from_path(path)
        .with_context(|| format!("cannot read table {}", path.display()))?;
    let col = r
        .headers()?
        .iter()
        .position(|h| h == "accuracy")
        .ok_or_else(|| anyhow!("table {}: no accuracy column", path.display()))?;
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec?;
        if let Some(v) = rec.get(col).and_then(|s| s.parse::<f64>().ok()) {
            out.push(v);
        }
    }
    if out.is_empty() {
        bail!("table {}: no accuracies", path.display());
    }
    Ok(out)
}

pub fn run(args: DartsArgs) -> Result<()> {
    let space = load(&args.space)?;
    let method = Method::from_name(&args.method)
        .ok_or_else(|| anyhow!("--method {}: expected darts, gdas, beta or pc", args.method))?;
    let selection = Selection::from_name(&args.select)
        .ok_or_else(|| anyhow!("--select {}: expected argmax or perturb", args.select))?;
    let mut trainer = TrainEvaluator::parse(&args.dataset)?;
    if let Some(e) = args.train {
        trainer.config.epochs = e;
    }
    trainer.latency_runs = 0;
    let data = trainer.dataset()?;
    let table = args.table.as_ref().map(table_accuracies).transpose()?;
    let mut out = match &args.out {
        Some(p) => Some(
            std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?,
        ),
        None => None,
    };
    let mut free_shares = Vec::new();
    let mut beats = Vec::new();
    let mut accs = Vec::new();
    let mut costs = Vec::new();
    for seed in args.first_seed..args.first_seed + args.seeds {
        let cfg = DartsConfig {
            method,
            selection,
            epochs: args.epochs,
            batch: args.batch,
            lr: args.lr,
            arch_lr: args.arch_lr,
            beta: args.beta,
            partial: args.partial,
            tune_steps: args.tune_steps,
            seed,
            ..DartsConfig::default()
        };
        eprintln!(
            "{} with {} selection, seed {seed}: {} epochs on {}",
            method.name(),
            selection.name(),
            args.epochs,
            data.name
        );
        let r = darts::search(
            &space,
            &data,
            trainer.skeleton,
            &cfg,
            &mut |epoch, loss, _| eprintln!("  epoch {epoch}/{}: loss {loss:.4}", args.epochs),
        )?;
        println!("seed {seed}: {}", r.cell);
        println!(
            "  {:.0} % of edges parameter-free; {:.1} s",
            100.0 * r.parameter_free,
            r.seconds
        );
        for ((i, j), w) in r.edges.iter().zip(&r.weights) {
            let cells: Vec<String> = r
                .options
                .iter()
                .zip(w)
                .map(|(o, x)| format!("{o} {x:.2}"))
                .collect();
            println!("  {i}>{j}: {}", cells.join("  "));
        }
        free_shares.push(r.parameter_free);
        let mut standalone = None;
        let mut train_seconds = 0.0;
        if args.train.is_some() {
            let c = space
                .parse_candidate(&r.cell)
                .map_err(|e| anyhow!("the found cell is not in the space: {e}"))?;
            let started = Instant::now();
            let mut sum = 0.0;
            for s in 0..2 {
                let m = trainer.evaluate_trial(
                    &space,
                    &c,
                    None,
                    &TrialInfo {
                        seed: s,
                        ..TrialInfo::default()
                    },
                )?;
                sum += m["accuracy"];
            }
            train_seconds = started.elapsed().as_secs_f64() / 2.0;
            let acc = sum / 2.0;
            accs.push(acc);
            costs.push(r.seconds / train_seconds);
            print!(
                "  standalone: {acc:.2} % (mean of 2 trainings); search cost {:.1}× one training",
                r.seconds / train_seconds
            );
            if let Some(t) = &table {
                let beaten = t.iter().filter(|&&v| v < acc).count() as f64 / t.len() as f64;
                beats.push(beaten);
                print!("; beats {:.1} % of the table", 100.0 * beaten);
            }
            println!();
            standalone = Some(acc);
        }
        if let Some(f) = out.as_mut() {
            use std::io::Write;
            let line = serde_json::json!({
                "seed": seed,
                "method": method.name(),
                "partial": (method == Method::Pc).then_some(args.partial),
                "selection": selection.name(),
                "epochs": args.epochs,
                "cell": r.cell,
                "options": r.options,
                "weights": r.weights,
                "parameter_free": r.parameter_free,
                "losses": r.losses,
                "seconds": r.seconds,
                "standalone_accuracy": standalone,
                "train_seconds": train_seconds,
            });
            writeln!(f, "{line}")?;
        }
    }
    if args.seeds > 1 {
        let ms = |v: &[f64]| {
            let n = v.len() as f64;
            let m = v.iter().sum::<f64>() / n;
            let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
            (m, (var / n).sqrt())
        };
        let (m, se) = ms(&free_shares);
        println!(
            "over {} seeds: parameter-free edges {:.0} ± {:.0} %",
            args.seeds,
            100.0 * m,
            100.0 * se
        );
        if !accs.is_empty() {
            let (m, se) = ms(&accs);
            let (c, cse) = ms(&costs);
            println!(
                "  standalone accuracy {m:.2} ± {se:.2} %; cost {c:.1} ± {cse:.1}× one training"
            );
        }
        if !beats.is_empty() {
            let (m, se) = ms(&beats);
            let top10 = beats.iter().filter(|&&b| b >= 0.9).count();
            println!(
                "  beats {:.1} ± {:.1} % of the table; in its top 10 %: {top10} of {}",
                100.0 * m,
                100.0 * se,
                beats.len()
            );
        }
    }
    Ok(())
}
