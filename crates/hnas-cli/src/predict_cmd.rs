//! `hnas predict`: how well performance predictors rank unseen networks (on a space and an
//! evaluator), or a predictor fitted on a study's trials ranking candidates nobody evaluated.

use crate::bench_cmd::sig4;
use crate::search_cmd::{default_objective, evaluator_from_name};
use crate::space_cmd::load;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use hnas_search::predict::{Encoder, ModelKind, MODELS};
use hnas_space::Space;
use hnas_study::predict::{
    fit_on_trials, mean_se, rank_unevaluated, run_predict_benchmark, FeatureSource, PredictConfig,
};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  hnas predict --space examples/spaces/nb201.hnas --evaluator nb201:cifar10 --train 16,78,156,469 --seeds 20\n  hnas predict --study study.db --holdout 20 --rank 10"
)]
pub struct PredictArgs {
    /// A study file (SQLite path or PostgreSQL URL): fit on its trials instead of drawing
    /// networks.
    #[arg(long, conflicts_with_all = ["space", "evaluator"])]
    pub study: Option<String>,
    /// The space networks are drawn from (with --evaluator).
    #[arg(long, requires = "evaluator")]
    pub space: Option<PathBuf>,
    /// What labels the drawn networks (a table such as nb201:cifar10 or table:FILE.csv, or
    /// any evaluator).
    #[arg(long, requires = "space")]
    pub evaluator: Option<String>,
    /// The metric predicted (default: the evaluator's report metric, test_200 for nb201:*;
    /// for a study, its objective's metric).
    #[arg(long)]
    pub metric: Option<String>,
    /// Models, comma-separated: mlp (BANANAS' ensemble), gbt (gradient-boosted trees), gp
    /// (Gaussian process).
    #[arg(long, value_delimiter = ',', default_value = "mlp,gbt,gp")]
    pub model: Vec<String>,
    /// Training-set sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,78,156,469")]
    pub train: Vec<usize>,
    /// Held-out networks ranked per seed.
    #[arg(long, default_value_t = 1000)]
    pub test: usize,
    /// Seeds FIRST..FIRST+N.
    #[arg(long, default_value_t = 20)]
    pub seeds: u64,
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Add the path encoding of DAG cells to the decision encoding.
    #[arg(long)]
    pub paths: bool,
    /// Add Weisfeiler-Lehman features of DAG cells, this many rounds deep (with gp: the WL
    /// kernel of NASBOWL); 0: none.
    #[arg(long, default_value_t = 0)]
    pub wl: usize,
    /// Width of the hashed encoding.
    #[arg(long, default_value_t = 512)]
    pub dims: usize,
    /// An evaluator whose metrics become numeric features (free statistics: parameters,
    /// FLOPs, zero-cost proxies), e.g. proxy:mnist1d.
    #[arg(long)]
    pub features: Option<String>,
    /// Which metrics of --features to read, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub feature_metrics: Vec<String>,
    /// The fidelity networks are labelled at (e.g. 200 for nb201:*).
    #[arg(long)]
    pub fidelity: Option<f64>,
    /// With --study: trials held out to measure the fit before it is refitted on all.
    #[arg(long, default_value_t = 0)]
    pub holdout: usize,
    /// With --study: print the K unevaluated candidates the model ranks highest.
    #[arg(long, default_value_t = 0)]
    pub rank: usize,
    /// With --rank: how many unevaluated candidates are drawn and ranked.
    #[arg(long, default_value_t = 10000)]
    pub pool: usize,
    /// Use every form of a small space (at most 50,000) instead of drawing distinct networks,
    /// and rank them all: --test is then ignored and nothing is trained (--model none).
    #[arg(long)]
    pub all: bool,
    /// Rank these networks by their --features instead (one-line forms one per line, or a
    /// CSV whose first column is `arch`, as `hnas tabulate` writes) with --model none; with
    /// models, each seed splits them into --test held-out networks and training sets.
    #[arg(long, conflicts_with = "all")]
    pub candidates: Option<PathBuf>,
    /// Write the per-seed results (model, train, seed, tau, rho) as CSV here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn models(names: &[String]) -> Result<Vec<ModelKind>> {
    names
        .iter()
        .filter(|n| n.as_str() != "none")
        .map(|n| {
            ModelKind::parse(n.trim()).ok_or_else(|| {
                anyhow!(
                    "unknown model '{n}'; expected one of: {}",
                    MODELS.join(", ")
                )
            })
        })
        .collect()
}

pub fn run(a: PredictArgs) -> Result<()> {
    let encoder = Encoder {
        paths: a.paths,
        wl: a.wl,
        dims: a.dims,
    };
    let kinds = models(&a.model)?;
    if let Some(study) = &a.study {
        return run_on_study(&a, study, kinds, encoder);
    }
    let (Some(space_file), Some(evaluator_name)) = (&a.space, &a.evaluator) else {
        bail!("expected --study FILE, or --space FILE with --evaluator NAME");
    };
    let space = load(space_file)?;
    let evaluator = Arc::from(evaluator_from_name(evaluator_name)?);
    let metric = match &a.metric {
        Some(m) => m.clone(),
        None => default_metric(evaluator_name).ok_or_else(|| {
            anyhow!("evaluator '{evaluator_name}' has no default metric; expected --metric")
        })?,
    };
    let features = match &a.features {
        Some(name) => Some(FeatureSource {
            evaluator: Arc::from(evaluator_from_name(name)?),
            metrics: a.feature_metrics.clone(),
            cache: Default::default(),
        }),
        None => None,
    };
    let candidates = match &a.candidates {
        Some(file) => Some(crate::tabulate_cmd::read_candidates(&space, file)?),
        None => None,
    };
    let (kinds, train, test) = if a.all || (candidates.is_some() && kinds.is_empty()) {
        if !kinds.is_empty() || features.is_none() {
            bail!("--all and --candidates rank networks by their --features as they are: give --features and --model none");
        }
        // Every network is ranked: the test set is all of them.
        let all = candidates.as_ref().map_or(usize::MAX / 2, Vec::len);
        (kinds, vec![], all)
    } else {
        if a.train.is_empty() || a.train.contains(&0) {
            bail!("--train needs sizes of at least 1");
        }
        if kinds.is_empty() && features.is_none() {
            bail!("nothing to measure: give a --model or --features");
        }
        (kinds, a.train.clone(), a.test)
    };
    if test < 2 {
        bail!("--test needs at least 2 networks to rank");
    }
    let ranked_only = train.is_empty();
    let cfg = PredictConfig {
        models: kinds,
        train,
        test,
        // Ranking a fixed list by its features is the same for every seed.
        seeds: if ranked_only { 1 } else { a.seeds.max(1) },
        first_seed: a.first_seed,
        metric: metric.clone(),
        fidelity: a.fidelity,
        encoder,
        features,
        every_form: a.all,
        candidates,
    };
    if a.candidates.is_some() {
        eprintln!("ranking the listed networks by their features against {metric}");
    } else if a.all {
        eprintln!("ranking every form of the space by its features against {metric}");
    } else {
        eprintln!(
            "predicting {metric}: {} seeds, {} held-out networks each, training sets {:?}",
            cfg.seeds, cfg.test, cfg.train
        );
    }
    let start = Instant::now();
    let rows = run_predict_benchmark(&space, evaluator, &cfg)?;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "model".to_string(),
        "train".into(),
        format!("Kendall τ ({metric})"),
        "Spearman ρ".into(),
        "s per fit".into(),
    ]);
    for r in &rows {
        let (t, ts) = mean_se(&r.tau);
        let (s, ss) = mean_se(&r.rho);
        table.add_row(vec![
            r.model.clone(),
            if r.train == 0 {
                "-".to_string()
            } else {
                r.train.to_string()
            },
            format!("{} ± {}", sig4(t), sig4(ts)),
            format!("{} ± {}", sig4(s), sig4(ss)),
            format!("{:.3}", r.seconds),
        ]);
    }
    println!("{table}");
    println!(
        "mean ± standard error over {} seeds; {:.1} s",
        cfg.seeds,
        start.elapsed().as_secs_f64()
    );
    if let Some(out) = &a.out {
        let mut f = std::fs::File::create(out)
            .with_context(|| format!("cannot write {}", out.display()))?;
        writeln!(f, "model,train,seed,tau,rho")?;
        for r in &rows {
            for (i, (t, s)) in r.tau.iter().zip(&r.rho).enumerate() {
                writeln!(
                    f,
                    "{},{},{},{t},{s}",
                    r.model,
                    r.train,
                    cfg.first_seed + i as u64
                )?;
            }
        }
    }
    Ok(())
}

/// The metric a predictor benchmark predicts by default: what regret is measured on.
fn default_metric(evaluator: &str) -> Option<String> {
    let (objective, report) = default_objective(evaluator)?;
    Some(
        report
            .first()
            .cloned()
            .unwrap_or_else(|| objective.rsplit(':').next().unwrap_or_default().to_string()),
    )
}

fn run_on_study(
    a: &PredictArgs,
    study: &str,
    kinds: Vec<ModelKind>,
    encoder: Encoder,
) -> Result<()> {
    let loaded = hnas_study::StudyData::load(study)?;
    let space = Space::parse(&loaded.settings.space_file, &loaded.settings.space)
        .map_err(|e| anyhow!("the study's space does not parse: {e}"))?;
    let metric = match &a.metric {
        Some(m) => m.clone(),
        None => loaded
            .settings
            .objectives
            .first()
            .and_then(|o| o.rsplit(':').next())
            .map(str::to_string)
            .ok_or_else(|| anyhow!("the study has no objective; expected --metric"))?,
    };
    let [kind] = kinds[..] else {
        bail!("with --study give one --model (gbt, gp or mlp)");
    };
    let fitted = fit_on_trials(
        &space,
        &loaded.trials,
        &metric,
        kind,
        encoder,
        a.holdout,
        a.first_seed,
    )?;
    println!(
        "{} fitted on {} trials of {study} to predict {metric}",
        kind.name(),
        fitted.fitted
    );
    if let Some((t, s)) = fitted.holdout {
        println!(
            "held-out {} trials: Kendall τ {}, Spearman ρ {}",
            a.holdout,
            sig4(t),
            sig4(s)
        );
    }
    if a.rank > 0 {
        let ranked = rank_unevaluated(&space, &fitted, encoder, a.pool, a.rank, a.first_seed);
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
            "rank".to_string(),
            format!("predicted {metric}"),
            "± sd".into(),
            "candidate".into(),
        ]);
        for (i, (c, m, s)) in ranked.iter().enumerate() {
            table.add_row(vec![
                (i + 1).to_string(),
                sig4(*m),
                sig4(*s),
                space.print(c),
            ]);
        }
        println!("{table}");
    }
    Ok(())
}
