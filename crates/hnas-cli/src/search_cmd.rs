//! `hnas search` and `hnas trials`.

use crate::space_cmd::load;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use hnas_eval::Evaluator;
use hnas_store::{SqliteStore, Store, TrialRecord};
use hnas_study::{Dedup, Event, Objective, Settings, Study};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Args, Default)]
pub struct SearchArgs {
    /// A TOML study file; flags given on the command line override its values.
    pub file: Option<PathBuf>,
    /// The space file (.hnas).
    #[arg(long)]
    pub space: Option<PathBuf>,
    /// The evaluator: nb201:cifar10, nb201:cifar100, nb201:imagenet16, table:PATH[,key=COL][,form=line|nb201], hash.
    #[arg(long)]
    pub evaluator: Option<String>,
    /// The strategy: random, rea, ls, grid, mcts, tpe, bananas, qlearn, mapelites; parameters as
    /// rea:population=30,sample=10 (docs/strategies.md). Default rea.
    #[arg(long)]
    pub strategy: Option<String>,
    /// Number of trials that count toward the budget. Default 100.
    #[arg(long)]
    pub budget: Option<u64>,
    /// Seed of every random decision. Default 0.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The study file (SQLite). Default runs/SPACE-STRATEGY-sSEED.db.
    #[arg(long)]
    pub study: Option<PathBuf>,
    /// max:METRIC or min:METRIC. Default for nb201:* is max:valid_12 (reporting test_200).
    #[arg(long)]
    pub objective: Option<String>,
    /// Extra metrics to show beside the objective, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub report: Option<Vec<String>>,
    /// What to do with a duplicate candidate: reuse (default), skip, off.
    #[arg(long)]
    pub dedup: Option<String>,
    /// Fidelity passed to the evaluator (e.g. epochs: 12 or 200 for nb201:*).
    #[arg(long)]
    pub fidelity: Option<f64>,
    /// Rows of the final leaderboard.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The study's settings and where it is stored, after merging file and flags.
pub struct Resolved {
    pub settings: Settings,
    pub study: PathBuf,
}

const TOML_KEYS: &[&str] = &[
    "space",
    "evaluator",
    "strategy",
    "budget",
    "seed",
    "study",
    "objective",
    "report",
    "dedup",
    "fidelity",
];

/// The objective and report metrics a preset evaluator is searched with by default.
pub fn default_objective(evaluator: &str) -> Option<(String, Vec<String>)> {
    if evaluator.starts_with("nb201:") {
        Some(("max:valid_12".into(), vec!["test_200".into()]))
    } else if evaluator == "hash" {
        Some(("max:score".into(), vec![]))
    } else {
        None
    }
}

fn read_toml(path: &Path, args: &mut SearchArgs) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read study file {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| anyhow!("{}: {}", path.display(), e.message()))?;
    let base = path.parent().unwrap_or(Path::new(""));
    let shown = path.display();
    for (k, v) in &table {
        let bad = |want: &str| anyhow!("{shown}: '{k}' must be {want}");
        match k.as_str() {
            "space" => {
                let s = v.as_str().ok_or_else(|| bad("a path"))?;
                args.space.get_or_insert_with(|| base.join(s));
            }
            "study" => {
                let s = v.as_str().ok_or_else(|| bad("a path"))?;
                args.study.get_or_insert_with(|| base.join(s));
            }
            "evaluator" => {
                let s = v.as_str().ok_or_else(|| bad("a string"))?;
                // A table path is relative to the study file.
                let s = match s.strip_prefix("table:") {
                    Some(rest) => format!("table:{}", base.join(rest).display()),
                    None => s.to_string(),
                };
                args.evaluator.get_or_insert(s);
            }
            "strategy" => {
                let spec = match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Table(t) => {
                        let name = t
                            .get("name")
                            .and_then(|n| n.as_str())
                            .ok_or_else(|| bad("a string or a table with 'name'"))?;
                        let params: Vec<String> = t
                            .iter()
                            .filter(|(k, _)| *k != "name")
                            .map(|(k, v)| format!("{k}={}", v.to_string().trim_matches('"')))
                            .collect();
                        if params.is_empty() {
                            name.to_string()
                        } else {
                            format!("{name}:{}", params.join(","))
                        }
                    }
                    _ => return Err(bad("a string or a table")),
                };
                args.strategy.get_or_insert(spec);
            }
            "budget" | "seed" => {
                let n = v
                    .as_integer()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| bad("a whole number"))? as u64;
                if k == "budget" {
                    args.budget.get_or_insert(n);
                } else {
                    args.seed.get_or_insert(n);
                }
            }
            "objective" => {
                args.objective.get_or_insert(
                    v.as_str()
                        .ok_or_else(|| bad("a string such as max:valid_12"))?
                        .to_string(),
                );
            }
            "dedup" => {
                args.dedup.get_or_insert(
                    v.as_str()
                        .ok_or_else(|| bad("reuse, skip or off"))?
                        .to_string(),
                );
            }
            "fidelity" => {
                let f = v
                    .as_float()
                    .or_else(|| v.as_integer().map(|i| i as f64))
                    .ok_or_else(|| bad("a number"))?;
                args.fidelity.get_or_insert(f);
            }
            "report" => {
                let list = v.as_array().ok_or_else(|| bad("a list of metric names"))?;
                let names = list
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| bad("a list of metric names"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                args.report.get_or_insert(names);
            }
            other => bail!(
                "{shown}: unknown key '{other}'; expected one of: {}",
                TOML_KEYS.join(", ")
            ),
        }
    }
    Ok(())
}

/// Merges the study file and the flags into settings.
pub fn resolve(mut args: SearchArgs) -> Result<(Resolved, SearchArgs)> {
    if let Some(f) = args.file.clone() {
        read_toml(&f, &mut args)?;
    }
    let space_path = args.space.clone().ok_or_else(|| {
        anyhow!("no space given; expected --space FILE or 'space = \"FILE\"' in a study file")
    })?;
    let evaluator = args.evaluator.clone().ok_or_else(|| {
        anyhow!(
            "no evaluator given; expected --evaluator NAME (one of: {})",
            hnas_eval::EVALUATORS
        )
    })?;
    let strategy = args.strategy.clone().unwrap_or_else(|| "rea".into());
    let seed = args.seed.unwrap_or(0);
    let (objective, report) = match (&args.objective, default_objective(&evaluator)) {
        (Some(o), preset) => (
            o.clone(),
            args.report
                .clone()
                .unwrap_or_else(|| preset.map(|p| p.1).unwrap_or_default()),
        ),
        (None, Some((o, r))) => (o, args.report.clone().unwrap_or(r)),
        (None, None) => {
            // An unknown or unreadable evaluator is the better message.
            hnas_eval::from_name(&evaluator)?;
            bail!("evaluator '{evaluator}' has no default objective; expected --objective max:METRIC or min:METRIC")
        }
    };
    Objective::parse(&objective)?;
    let dedup = match &args.dedup {
        None => Dedup::Reuse,
        Some(d) => Dedup::parse(d)
            .ok_or_else(|| anyhow!("unknown dedup policy '{d}'; expected reuse, skip or off"))?,
    };
    let space_text = std::fs::read_to_string(&space_path)
        .with_context(|| format!("cannot read space file {}", space_path.display()))?;
    let stem = space_path
        .file_stem()
        .map_or("study".into(), |s| s.to_string_lossy().to_string());
    let strategy_name = strategy.split(':').next().unwrap_or("s").to_string();
    let study = args
        .study
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/{stem}-{strategy_name}-s{seed}.db")));
    let settings = Settings {
        space_file: space_path.display().to_string(),
        space: space_text,
        strategy,
        evaluator,
        objective,
        report,
        seed,
        budget: args.budget.unwrap_or(100),
        fidelity: args.fidelity,
        dedup,
    };
    Ok((Resolved { settings, study }, args))
}

/// Opens a study file for a search, removing it again if this call created it and the
/// study could not start (nothing half-written).
pub fn open_study(settings: Settings, evaluator: Arc<dyn Evaluator>, path: &Path) -> Result<Study> {
    let existed = path.exists();
    let attempt = (|| -> Result<Study> {
        let store = SqliteStore::open(path)?;
        Ok(Study::open(settings, evaluator, Box::new(store))?)
    })();
    if attempt.is_err() && !existed {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    attempt
}

pub fn run_search(args: SearchArgs) -> Result<()> {
    let (resolved, args) = resolve(args)?;
    let Resolved {
        settings,
        study: path,
    } = resolved;
    // Check the space first, so that its errors show with file:line:col.
    load(Path::new(&settings.space_file))?;
    let evaluator: Arc<dyn Evaluator> = Arc::from(hnas_eval::from_name(&settings.evaluator)?);
    let budget = settings.budget;
    let mut study = open_study(settings, evaluator, &path)?;
    let objective = study.objective().clone();
    let report = study.settings().report.clone();

    let pb = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(budget)
    };
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} trials  {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let summary = study.run(&mut |ev| match ev {
        Event::Resumed { trials, unfinished } => {
            let msg = format!(
                "resuming {}: {trials} trials stored ({unfinished} unfinished)",
                path.display()
            );
            if pb.is_hidden() {
                eprintln!("{msg}");
            } else {
                pb.println(msg);
            }
        }
        Event::Trial { best, counted, .. } => {
            pb.set_position(counted);
            if let Some(b) = best {
                pb.set_message(best_line(b, &objective, &report));
            }
        }
    })?;
    pb.finish_and_clear();

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "study {}: {} trials ({} counted of budget {}): {} complete, {} failed, {} duplicates",
        path.display(),
        summary.trials,
        summary.counted,
        budget,
        summary.complete,
        summary.failed,
        summary.duplicates
    )?;
    if let Some(why) = &summary.stopped_early {
        writeln!(out, "stopped early: {why}")?;
    }
    let board = study.leaderboard(args.top);
    if board.is_empty() {
        writeln!(out, "no trial completed")?;
    } else {
        writeln!(out, "{}", leaderboard(&board, &objective, &report))?;
    }
    Ok(())
}

fn best_line(t: &TrialRecord, objective: &Objective, report: &[String]) -> String {
    let mut s = format!("best {} {}", objective.metric, fmt(t.value));
    for r in report {
        s.push_str(&format!(" · {r} {}", fmt(t.metrics.get(r).copied())));
    }
    s.push_str(&format!(" (trial {})", t.number));
    s
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| {
        format!("{x:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    })
}

pub fn leaderboard(rows: &[&TrialRecord], objective: &Objective, report: &[String]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["rank".to_string(), "trial".into(), objective.to_string()];
    header.extend(report.iter().cloned());
    header.push("candidate".into());
    t.set_header(header);
    for (i, r) in rows.iter().enumerate() {
        let mut row = vec![(i + 1).to_string(), r.number.to_string(), fmt(r.value)];
        row.extend(report.iter().map(|m| fmt(r.metrics.get(m).copied())));
        row.push(r.candidate.clone());
        t.add_row(row);
    }
    t
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// `hnas trials`.
pub fn run_trials(study: &Path, format: Format) -> Result<()> {
    if !study.is_file() {
        bail!(
            "no study at {}; expected the file a 'hnas search --study FILE' wrote",
            study.display()
        );
    }
    let store = SqliteStore::open(study)?;
    let rec = store
        .study()?
        .ok_or_else(|| anyhow!("{} holds no study", study.display()))?;
    let settings: Settings =
        serde_json::from_str(&rec.settings).context("the study's settings are unreadable")?;
    let trials = store.trials()?;
    let metrics: Vec<String> = {
        let mut m: Vec<String> = trials
            .iter()
            .flat_map(|t| t.metrics.keys().cloned())
            .collect();
        m.sort();
        m.dedup();
        m
    };
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            for t in &trials {
                writeln!(out, "{}", serde_json::to_string(t)?)?;
            }
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            let mut header: Vec<String> = [
                "number",
                "state",
                "value",
                "duplicate_of",
                "counted",
                "cost",
                "error",
                "candidate",
                "hash",
                "canonical_hash",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            header.extend(metrics.iter().cloned());
            w.write_record(&header)?;
            for t in &trials {
                let mut row = vec![
                    t.number.to_string(),
                    t.state.to_string(),
                    t.value.map(|v| v.to_string()).unwrap_or_default(),
                    t.duplicate_of.map(|v| v.to_string()).unwrap_or_default(),
                    t.counted.to_string(),
                    t.cost.to_string(),
                    t.error.clone().unwrap_or_default(),
                    t.candidate.clone(),
                    t.hash.clone(),
                    t.canonical_hash.clone(),
                ];
                row.extend(
                    metrics
                        .iter()
                        .map(|m| t.metrics.get(m).map(|v| v.to_string()).unwrap_or_default()),
                );
                w.write_record(&row)?;
            }
            w.flush()?;
        }
        Format::Table => {
            let mut tab = Table::new();
            tab.load_preset(UTF8_FULL_CONDENSED);
            let mut header = vec![
                "trial".to_string(),
                "state".into(),
                settings.objective.clone(),
            ];
            header.extend(settings.report.iter().cloned());
            header.extend(["note".to_string(), "candidate".into()]);
            tab.set_header(header);
            for t in &trials {
                let note = match (&t.error, t.duplicate_of) {
                    (Some(e), _) => e.clone(),
                    (None, Some(d)) => format!("duplicate of {d}"),
                    _ => String::new(),
                };
                let mut row = vec![t.number.to_string(), t.state.to_string(), fmt(t.value)];
                row.extend(
                    settings
                        .report
                        .iter()
                        .map(|m| fmt(t.metrics.get(m).copied())),
                );
                row.extend([note, t.candidate.clone()]);
                tab.add_row(row);
            }
            writeln!(out, "{tab}")?;
        }
    }
    Ok(())
}
