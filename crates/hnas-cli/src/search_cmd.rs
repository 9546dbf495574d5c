//! `hnas search` and `hnas trials`.

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use hnas_eval::Evaluator;
use hnas_store::{SqliteStore, Store, TrialRecord};
pub use hnas_study::{parse_devices, resolve_jobs, Jobs};
use hnas_study::{Dedup, Event, Goals, Objective, Settings, Study, StudyFile};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Args, Default)]
pub struct SearchArgs {
    /// A TOML study file; flags given on the command line override its values.
    pub file: Option<PathBuf>,
    /// The space file (.hnas).
    #[arg(long)]
    pub space: Option<PathBuf>,
    /// The evaluator: nb201:cifar10, nb201:cifar100, nb201:imagenet16, table:PATH[,key=COL][,form=line|nb201|network],
    /// command:["PROGRAM","ARG",...] (or command:{"argv": [...], "timeout": S, "retries": N, ...}),
    /// train:mnist1d, train:fashion-mnist, train:idx:DIR, train:csv:FILE (options ,epochs=N,lr=X,...),
    /// proxy:DATASET (zero-cost proxies), oneshot:DATASET (inherited weights of a supernet),
    /// hash (a score from the candidate's hash, for testing), sleep:MS (hash, taking MS ms).
    /// With neither --space nor --evaluator: the default search (MNIST-1D, trained for real).
    #[arg(long)]
    pub evaluator: Option<String>,
    /// The strategy: random, rea, ls, grid, mcts, tpe, bananas, qlearn, mapelites, nsga2, sh,
    /// hyperband, asha, bohb; parameters as rea:population=30,sample=10 (docs/strategies.md).
    /// Default rea.
    #[arg(long)]
    pub strategy: Option<String>,
    /// Number of trials that count toward the budget. Default 100 (unlimited when only
    /// --budget-cost is given).
    #[arg(long, value_parser = trial_count, allow_hyphen_values = true)]
    pub budget: Option<u64>,
    /// A budget in the evaluator's cost unit (epochs for nb201:*): the search stops once
    /// its trials have cost this much.
    #[arg(long, value_parser = positive_cost, allow_hyphen_values = true)]
    pub budget_cost: Option<f64>,
    /// Seed of every random decision. Default 0.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The study file (SQLite), or a PostgreSQL URL postgres://USER@HOST/DB?study=NAME.
    /// Default runs/SPACE-EVALUATOR-STRATEGY-sSEED.db (plus the objectives when not the
    /// evaluator's default). An existing study resumes with its stored settings.
    #[arg(long)]
    pub study: Option<PathBuf>,
    /// max:METRIC, min:METRIC, or MnasNet's reward mnas:ACC,LAT,TARGET[,ALPHA[,BETA]].
    /// Repeat for several objectives (a Pareto front). Default for nb201:* is max:valid_12
    /// (reporting test_200).
    #[arg(long)]
    pub objective: Vec<String>,
    /// A hard constraint METRIC <= BOUND or METRIC >= BOUND; repeatable. A trial breaking
    /// one is recorded as infeasible and ranked below every feasible one.
    #[arg(long)]
    pub constraint: Vec<String>,
    /// The hypervolume's reference point, one value per objective in their own units,
    /// comma-separated (several objectives; default: the worst value of each among the
    /// feasible trials).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub reference: Option<Vec<f64>>,
    /// Extra metrics to show beside the objective, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub report: Option<Vec<String>>,
    /// What to do with a duplicate candidate: reuse (default), skip, off.
    #[arg(long)]
    pub dedup: Option<String>,
    /// A prior for bananas: an evaluator that scores candidates before any trial (a
    /// zero-cost proxy such as proxy:shape=3x32x32,cells=5,proxies=flops), as EVALUATOR or
    /// EVALUATOR@METRIC. Start-up trials take the best of 100 samples by it.
    #[arg(long)]
    pub prior: Option<String>,
    /// Fidelity passed to the evaluator (e.g. epochs: 12 or 200 for nb201:*).
    #[arg(long)]
    pub fidelity: Option<f64>,
    /// Rows of the final leaderboard.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Show candidates whole in tables instead of cut to the terminal's width.
    #[arg(long)]
    pub wide: bool,
    /// Replace the study file if it exists, instead of resuming it (its trials are lost).
    #[arg(long)]
    pub force_new: bool,
    /// Trials evaluated at once in this process: a number, or auto (default): one per core
    /// for train:* evaluators, one per device with --devices, else 1 (docs/parallel.md).
    #[arg(long, value_parser = Jobs::parse, allow_hyphen_values = true)]
    pub jobs: Option<Jobs>,
    /// Devices that trials run on, one trial per device at a time: cpu (default),
    /// cuda:0,cuda:1,.. or auto (the GPUs this machine shows). A train:* trial trains on
    /// its device; a command: program gets CUDA_VISIBLE_DEVICES and HNAS_DEVICE.
    #[arg(long)]
    pub devices: Option<String>,
}

/// `--budget`: a whole number of trials, at least one, said as a sentence when it is not.
fn trial_count(s: &str) -> Result<u64, String> {
    match s.trim().parse::<i128>() {
        Ok(n) if n >= 1 && n <= u64::MAX as i128 => Ok(n as u64),
        Ok(n) => Err(format!(
            "{n} trials is no budget; expected a whole number of trials, at least 1"
        )),
        Err(_) => Err(format!(
            "'{s}' is not a number of trials; expected a whole number, at least 1"
        )),
    }
}

/// `--budget-cost`: a positive amount of the evaluator's cost unit.
fn positive_cost(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!(
            "'{s}' is no cost budget; expected a positive number (of epochs for nb201:*)"
        )),
    }
}

/// The study's settings and where it is stored, after merging file and flags.
pub struct Resolved {
    pub settings: Settings,
    pub study: PathBuf,
}

/// What `hnas search` runs with no space and no evaluator: the embedded MNIST-1D space,
/// trained for real, searched by regularized evolution.
pub const DEFAULT_EVALUATOR: &str = "train:mnist1d";
pub const DEFAULT_STRATEGY: &str = "rea:population=10,sample=3";
pub const DEFAULT_BUDGET: u64 = 30;

/// Builds an evaluator from its name (hnas-train's registry: training, proxies, one-shot,
/// and hnas-eval's).
pub fn evaluator_from_name(name: &str) -> Result<Box<dyn Evaluator>> {
    Ok(hnas_train::evaluator(name)?)
}

/// Checks a study's space from the text in its settings (read from its file, or stored with
/// the study), named by its file so that errors show file:line:col.
pub fn load_space(settings: &Settings) -> Result<hnas_space::Space> {
    hnas_space::Space::parse(&settings.space_file, &settings.space)
        .map_err(|d| anyhow!("{}", d.render().trim_end()))
}

pub use hnas_study::default_objective;

/// Fills every setting the flags leave out from the study file.
fn merge_study_file(f: StudyFile, args: &mut SearchArgs) {
    fn fill<T>(flag: &mut Option<T>, file: Option<T>) {
        if flag.is_none() {
            *flag = file;
        }
    }
    fill(&mut args.space, f.space);
    fill(&mut args.study, f.study);
    fill(&mut args.evaluator, f.evaluator);
    fill(&mut args.strategy, f.strategy);
    fill(&mut args.budget, f.budget);
    fill(&mut args.seed, f.seed);
    fill(&mut args.budget_cost, f.budget_cost);
    fill(&mut args.reference, f.reference);
    fill(&mut args.prior, f.prior);
    fill(&mut args.dedup, f.dedup);
    fill(&mut args.fidelity, f.fidelity);
    fill(&mut args.report, f.report);
    fill(&mut args.jobs, f.jobs);
    fill(&mut args.devices, f.devices);
    if args.objective.is_empty() {
        args.objective = f.objective;
    }
    if args.constraint.is_empty() {
        args.constraint = f.constraint;
    }
}

/// The settings of the study stored at `location`, if one is there.
pub fn stored_settings(location: &Path) -> Result<Option<Settings>> {
    let url = hnas_store::is_postgres_url(&location.to_string_lossy());
    if !url && std::fs::metadata(location).map_or(true, |m| m.is_file() && m.len() == 0) {
        // Absent, or created by a search killed before it recorded its study.
        return Ok(None);
    }
    let store = hnas_store::open_existing(&location.to_string_lossy())?;
    hnas_study::stored_settings(store.as_ref()).with_context(|| location.display().to_string())
}

/// Resuming `--study FILE` alone: every setting not given takes its stored value, so that
/// the defaults of a new study never override the study's own.
fn fill_from_stored(args: &mut SearchArgs, stored: &Settings) {
    args.space
        .get_or_insert_with(|| PathBuf::from(&stored.space_file));
    args.evaluator
        .get_or_insert_with(|| stored.evaluator.clone());
    args.strategy.get_or_insert_with(|| stored.strategy.clone());
    args.seed.get_or_insert(stored.seed);
    if args.objective.is_empty() {
        args.objective = stored.objectives.clone();
    }
    if args.constraint.is_empty() {
        args.constraint = stored.constraints.clone();
    }
    if args.dedup.is_none() {
        args.dedup = Some(stored.dedup.name().to_string());
    }
    if args.fidelity.is_none() {
        args.fidelity = stored.fidelity;
    }
    if args.budget.is_none() && args.budget_cost.is_none() {
        args.budget = Some(stored.budget);
        args.budget_cost = stored.max_cost;
    }
    args.report.get_or_insert_with(|| stored.report.clone());
}

/// A short, file-name-safe form of an evaluator or objective for the default study name:
/// its words joined by '-', with a hash of the whole when the text is long or has a path.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.len() <= 40 && !text.contains('/') {
        return out;
    }
    let head: String = out.chars().take(24).collect();
    let hash = xxhash_rust::xxh3::xxh3_64(text.as_bytes());
    format!("{}-{:08x}", head.trim_end_matches('-'), hash as u32)
}

/// Merges the study file and the flags into settings.
pub fn resolve(mut args: SearchArgs) -> Result<(Resolved, SearchArgs)> {
    if let Some(f) = args.file.clone() {
        merge_study_file(StudyFile::read(&f)?, &mut args);
    }
    let mut stored_text = None;
    // Read once; for a derived default path it is read below, once that path is known.
    let explicit = args.study.clone();
    let mut stored = match &explicit {
        Some(study) => stored_settings(study)?,
        None => None,
    };
    // With --force-new too: a replaced study keeps what the flags do not change.
    if let Some(stored) = &stored {
        fill_from_stored(&mut args, stored);
        if args.space.as_deref() == Some(Path::new(&stored.space_file)) {
            stored_text = Some(stored.space.clone());
        }
    }
    let embedded = args.space.is_none() && args.evaluator.is_none();
    if embedded {
        // The main job: a real search of the embedded 1-D space on MNIST-1D.
        args.space = Some(PathBuf::from(hnas_train::DEFAULT_SPACE_NAME));
        args.evaluator = Some(DEFAULT_EVALUATOR.into());
        args.strategy.get_or_insert_with(|| DEFAULT_STRATEGY.into());
        if args.budget.is_none() && args.budget_cost.is_none() {
            args.budget = Some(DEFAULT_BUDGET);
        }
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
    let preset = default_objective(&evaluator);
    let (objectives, report) = match (args.objective.is_empty(), preset.clone()) {
        (false, preset) => (
            args.objective.clone(),
            args.report.clone().unwrap_or_else(|| {
                // The preset's report metrics, less those already among the objectives.
                let mut r = preset.map(|p| p.1).unwrap_or_default();
                r.retain(|m| !args.objective.iter().any(|o| o.ends_with(&format!(":{m}"))));
                r
            }),
        ),
        (true, Some((o, r))) => (vec![o], args.report.clone().unwrap_or(r)),
        (true, None) => {
            // An unknown or unreadable evaluator is the better message.
            evaluator_from_name(&evaluator)?;
            bail!("evaluator '{evaluator}' has no default objective; expected --objective max:METRIC or min:METRIC")
        }
    };
    for o in &objectives {
        Objective::parse(o)?;
    }
    for c in &args.constraint {
        hnas_study::Constraint::parse(c)?;
    }
    let dedup = match &args.dedup {
        None => Dedup::Reuse,
        Some(d) => Dedup::parse(d)
            .ok_or_else(|| anyhow!("unknown dedup policy '{d}'; expected reuse, skip or off"))?,
    };
    let space_text = match stored_text {
        Some(text) => text,
        None if embedded
            || (space_path == Path::new(hnas_train::DEFAULT_SPACE_NAME)
                && !space_path.exists()) =>
        {
            hnas_train::DEFAULT_SPACE.to_string()
        }
        None => std::fs::read_to_string(&space_path)
            .with_context(|| format!("cannot read space file {}", space_path.display()))?,
    };
    let stem = space_path
        .file_stem()
        .map_or("study".into(), |s| s.to_string_lossy().to_string());
    let strategy_name = strategy.split(':').next().unwrap_or("s").to_string();
    let study = args.study.clone().unwrap_or_else(|| {
        // Named for what makes a study: the space, the evaluator, the strategy, the seed, and
        // the objectives where they are not the evaluator's default.
        let mut name = format!("{stem}-{}-{strategy_name}-s{seed}", slug(&evaluator));
        if preset.as_ref().is_none_or(|p| objectives != [p.0.clone()]) {
            name.push('-');
            name.push_str(&slug(&objectives.join("+")));
        }
        PathBuf::from(format!("runs/{name}.db"))
    });
    let settings = Settings {
        space_file: space_path.display().to_string(),
        space: space_text,
        strategy,
        evaluator,
        objectives,
        constraints: args.constraint.clone(),
        report,
        seed,
        budget: args.budget.unwrap_or(if args.budget_cost.is_some() {
            u64::MAX
        } else {
            100
        }),
        max_cost: args.budget_cost,
        fidelity: args.fidelity,
        prior: args.prior.clone(),
        dedup,
    };
    if args.force_new {
        // Replaced in run_search, once everything else has been checked.
    } else if let Some(stored) = match explicit {
        Some(_) => stored.take(),
        None => stored_settings(&study)?,
    } {
        let diff = settings.differences(&stored);
        if !diff.is_empty() {
            bail!(
                "{} already holds a study with other settings:\n  {}\nResume it as it is with 'hnas search --study {}' alone, start a new study with --study OTHER.db, or replace this one (its trials are lost) with --force-new",
                study.display(),
                diff.join("\n  "),
                study.display()
            );
        }
    }
    Ok((Resolved { settings, study }, args))
}

/// `--force-new`: removes a study file (and SQLite's companions) so that a new study starts.
fn remove_study_file(path: &Path) -> Result<()> {
    if hnas_store::is_postgres_url(&path.to_string_lossy()) {
        bail!("--force-new replaces study files only; for PostgreSQL, name a new study (?study=OTHER)");
    }
    let empty = std::fs::metadata(path).is_ok_and(|m| m.len() == 0);
    if path.exists() && !empty {
        // Refuse to delete what is not a study (a typo naming another file).
        SqliteStore::open_read_only(path).map_err(|e| {
            anyhow!("--force-new: {e}; not removing a file that is not an hnas study")
        })?;
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", path.display()));
            if p.exists() {
                std::fs::remove_file(&p)
                    .with_context(|| format!("--force-new: cannot remove {}", p.display()))?;
            }
        }
    }
    Ok(())
}

/// The store a study location names: a `postgres://` URL or an SQLite file path.
fn store_at(location: &Path) -> Result<Box<dyn Store>> {
    Ok(hnas_store::open(&location.to_string_lossy())?)
}

/// One search per study file: an exclusive lock on the file, held until the search ends
/// (released by the system if the process dies). SQLite's own locks guard each write; this
/// one keeps a second `hnas search` from interleaving its trials with the first's.
fn lock_study(path: &Path) -> Result<Option<std::fs::File>> {
    if hnas_store::is_postgres_url(&path.to_string_lossy()) {
        return Ok(None);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .or_else(|_| std::fs::File::open(path))
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another hnas process is searching {} now; one search runs per study file: wait for it to end, or run several trials at once with PostgreSQL workers (docs/distributed.md)",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Opens a study (file or PostgreSQL URL) for a search, removing the file again if it did
/// not exist before (`existed`) and the study could not start (nothing half-written).
fn open_study(
    settings: Settings,
    evaluator: Arc<dyn Evaluator>,
    path: &Path,
    existed: bool,
) -> Result<Study> {
    let attempt = (|| -> Result<Study> {
        let store = store_at(path)?;
        Ok(Study::open(settings, evaluator, store)?)
    })();
    if attempt.is_err() && !existed {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    attempt
}

pub fn run_search(args: SearchArgs) -> Result<()> {
    // `--study FILE` alone reads as "resume FILE": when FILE holds nothing, say what starts.
    let meant_resume = args.study.is_some()
        && args.space.is_none()
        && args.evaluator.is_none()
        && args.file.is_none();
    let (resolved, args) = resolve(args)?;
    let Resolved {
        settings,
        study: path,
    } = resolved;
    // Check the space first, so that its errors show with file:line:col.
    load_space(&settings)?;
    let devices =
        parse_devices(args.devices.as_deref().unwrap_or("cpu")).map_err(anyhow::Error::msg)?;
    let multi = MultiProgress::new();
    let mut trial_bar = trial_bar(&settings.evaluator, args.quiet, &multi);
    let evaluator: Arc<dyn Evaluator> = match hnas_train::from_name(&settings.evaluator) {
        // One trial at a time shows its training's progress; several at once show which
        // trials are running instead.
        Some(ev) => {
            let ev = ev?;
            if resolve_jobs(args.jobs, &ev, &devices) > 1 {
                Arc::new(ev)
            } else {
                let bar = trial_bar.clone();
                Arc::new(
                    ev.with_progress(Arc::new(move |p: &hnas_train::train::Progress| {
                        let steps = (p.epochs * p.steps) as u64;
                        if bar.length() != Some(steps) {
                            bar.set_length(steps);
                        }
                        bar.set_position(((p.epoch - 1) * p.steps + p.step) as u64);
                        bar.set_message(format!(
                            "epoch {}/{}  loss {:.3}",
                            p.epoch, p.epochs, p.loss
                        ));
                    })),
                )
            }
        }
        None => Arc::from(evaluator_from_name(&settings.evaluator)?),
    };
    let jobs = resolve_jobs(args.jobs, &*evaluator, &devices);
    if jobs > 1 && !args.quiet {
        trial_bar.finish_and_clear();
        trial_bar = multi.add(ProgressBar::new(1));
        trial_bar.set_style(ProgressStyle::with_template("  {msg}").expect("valid template"));
    }
    let budget = settings.budget;
    let max_cost = settings.max_cost;
    let cost_unit = evaluator.cost_unit().to_string();
    // Everything is checked (metrics, constraints, the strategy, the space against the
    // evaluator) before a study file is created or replaced: a mistake leaves nothing behind.
    Study::open(
        settings.clone(),
        evaluator.clone(),
        Box::new(hnas_store::MemoryStore::new()),
    )?;
    let url = hnas_store::is_postgres_url(&path.to_string_lossy());
    let mut existed = url || path.exists();
    let mut _lock = lock_study(&path)?;
    if args.force_new {
        remove_study_file(&path)?;
        existed = url;
        _lock = lock_study(&path)?;
    }
    if meant_resume && !existed {
        eprintln!(
            "note: {} holds no study yet: starting a new one ({} on {}, strategy {})",
            path.display(),
            settings.evaluator,
            settings.space_file,
            settings.strategy
        );
    }
    if !devices.is_empty() {
        let uses =
            settings.evaluator.starts_with("train:") || settings.evaluator.starts_with("command:");
        if !uses {
            eprintln!(
                "note: evaluator '{}' does not use devices; --devices only limits the trials at once to {}",
                settings.evaluator,
                devices.len()
            );
        }
        if let Some(Jobs::N(n)) = args
            .jobs
            .filter(|j| matches!(j, Jobs::N(n) if *n > devices.len()))
        {
            eprintln!(
                "note: --jobs {n} runs {} at once: one trial per device",
                devices.len()
            );
        }
    }
    let mut study = open_study(settings, evaluator, &path, existed)?;
    study.set_jobs(jobs);
    study.set_devices(devices);
    let jobs = study.jobs();
    let counted_before = study.trials().iter().filter(|t| t.counted).count() as u64;
    if budget != u64::MAX && counted_before >= budget {
        eprintln!(
            "note: {} already has {counted_before} counted trials, and the budget is {budget}: nothing to run; a larger --budget extends the study",
            path.display()
        );
    }
    // Trials are numbered from 0, as in the leaderboard; a resumed study goes on from its count.
    trial_bar.set_prefix(format!("trial {}", study.trials().len()));
    let objective = study.objective().clone();
    let report = study.settings().report.clone();

    // A cost budget is the bar's measure when it is the only one.
    let by_cost = max_cost.filter(|_| budget == u64::MAX);
    let pb = if args.quiet {
        ProgressBar::hidden()
    } else {
        multi.insert(
            0,
            ProgressBar::new(by_cost.map_or(budget, |c| c.ceil() as u64)),
        )
    };
    let unit = if by_cost.is_some() {
        cost_unit.as_str()
    } else {
        "trials"
    };
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {unit}  {{msg}}"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    // A resumed study's bar starts where it stands, not at 0.
    pb.set_position(if by_cost.is_some() {
        study.spent() as u64
    } else {
        counted_before
    });
    let counted_now = Arc::new(std::sync::atomic::AtomicU64::new(counted_before));
    on_interrupt(&path, &pb, &trial_bar, counted_now.clone());
    // Without a terminal (nohup, SLURM, `| tee`) the bars draw nothing: one plain line per
    // trial instead, at most one a second, flushed as it is written.
    let plain = !args.quiet && !std::io::stderr().is_terminal();
    let mut last_line: Option<std::time::Instant> = None;
    let mut spent = study.spent();
    let mut running = std::collections::BTreeSet::new();
    let show_running = |bar: &ProgressBar, running: &std::collections::BTreeSet<u64>| {
        if jobs > 1 {
            let list: Vec<String> = running.iter().map(u64::to_string).collect();
            bar.set_message(format!(
                "{} of {jobs} running: trial {}",
                running.len(),
                list.join(", ")
            ));
        }
    };
    let summary = study.run(&mut |ev| match ev {
        Event::Started { trial, .. } => {
            running.insert(trial.number);
            show_running(&trial_bar, &running);
        }
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
        Event::Trial {
            trial,
            best,
            counted,
            in_flight,
            ..
        } => {
            running.remove(&trial.number);
            show_running(&trial_bar, &running);
            spent += trial.cost;
            pb.set_position(if by_cost.is_some() {
                spent as u64
            } else {
                counted
            });
            counted_now.store(counted, std::sync::atomic::Ordering::Relaxed);
            if let Some(b) = best {
                pb.set_message(best_line(b, &objective, &report));
            }
            if jobs == 1 {
                trial_bar.set_position(0);
                trial_bar.set_prefix(format!("trial {}", trial.number + 1));
            }
            let last = counted >= budget;
            if plain && (last || last_line.is_none_or(|t| t.elapsed().as_secs_f64() >= 1.0)) {
                last_line = Some(std::time::Instant::now());
                let of = if budget == u64::MAX {
                    String::new()
                } else {
                    format!("/{budget}")
                };
                let outcome = match &trial.error {
                    Some(e) => format!("{:?}: {}", trial.state, shorten(e, 60)),
                    None => format!("{:?}", trial.state).to_lowercase(),
                };
                let best = best.map_or(String::new(), |b| {
                    format!("; {}", best_line(b, &objective, &report))
                });
                let running = if jobs > 1 {
                    format!(", {in_flight} running")
                } else {
                    String::new()
                };
                eprintln!(
                    "trial {} {outcome} [{counted}{of} counted{running}]{best}",
                    trial.number
                );
            }
        }
    })?;
    pb.finish_and_clear();
    trial_bar.finish_and_clear();

    let mut out = std::io::stdout().lock();
    let of_budget = if budget == u64::MAX {
        String::new()
    } else {
        format!(" of budget {budget}")
    };
    let cost = match max_cost {
        Some(m) => format!(
            "; cost {} of {} {cost_unit}",
            fmt(Some(study.spent())),
            fmt(Some(m))
        ),
        None => format!("; cost {} {cost_unit}", fmt(Some(study.spent()))),
    };
    writeln!(
        out,
        "study {}: {} trials ({} counted{of_budget}{cost}): {} complete, {} failed, {} duplicates",
        path.display(),
        summary.trials,
        summary.counted,
        summary.complete,
        summary.failed,
        summary.duplicates
    )?;
    if let Some(why) = &summary.stopped_early {
        writeln!(out, "stopped early: {why}")?;
    }
    if study.goals().objectives.len() > 1 {
        let front = study.goals().pareto_front(study.trials());
        if front.is_empty() {
            writeln!(out, "no feasible trial completed")?;
        } else {
            write_front(
                &mut out,
                study.goals(),
                study.trials(),
                &front,
                args.reference.as_deref(),
                &report,
                args.wide,
            )?;
        }
        return Ok(());
    }
    let board = study.leaderboard(args.top);
    if board.is_empty() {
        writeln!(out, "no feasible trial completed")?;
    } else {
        writeln!(
            out,
            "{}",
            leaderboard(&board, &objective, &report, args.wide)
        )?;
        let best = board[0];
        if !args.wide && table_width().is_some() {
            writeln!(out, "best (trial {}): {}", best.number, best.candidate)?;
        }
        writeln!(
            out,
            "study file: {}  (hnas trials --study {} lists every trial)",
            path.display(),
            path.display()
        )?;
    }
    Ok(())
}

/// Ctrl-C: the bars are cleared, the trials in progress are put back to pending (they run
/// again on resume; until then `hnas trials` shows them as interrupted, not as running), and
/// the command to resume is printed. A study file is safe against any stop, so the process
/// then just exits.
fn on_interrupt(
    path: &Path,
    pb: &ProgressBar,
    trial_bar: &ProgressBar,
    counted: Arc<std::sync::atomic::AtomicU64>,
) {
    let (path, pb, trial_bar) = (path.to_path_buf(), pb.clone(), trial_bar.clone());
    // Only the first handler of a process is installed; one search runs per process.
    let _ = ctrlc::set_handler(move || {
        trial_bar.finish_and_clear();
        pb.abandon();
        let is_url = hnas_store::is_postgres_url(&path.to_string_lossy());
        if !is_url {
            if let Ok(mut store) = SqliteStore::open(&path) {
                for mut t in store.trials().unwrap_or_default() {
                    if t.state == hnas_store::TrialState::Running {
                        t.state = hnas_store::TrialState::Pending;
                        t.error = Some("interrupted (Ctrl-C); runs again on resume".into());
                        let _ = store.update_trial(&t);
                    }
                }
            }
        }
        let k = counted.load(std::sync::atomic::Ordering::Relaxed);
        eprintln!(
            "\ninterrupted after {k} counted trials; resume with: hnas search --study {}",
            path.display()
        );
        std::process::exit(130);
    });
}

/// The bar of the trial being trained (hidden for evaluators that report no progress).
fn trial_bar(evaluator: &str, quiet: bool, multi: &MultiProgress) -> ProgressBar {
    if quiet || !evaluator.starts_with("train:") {
        return ProgressBar::hidden();
    }
    let bar = multi.add(ProgressBar::new(1));
    bar.set_style(
        ProgressStyle::with_template("  {prefix:>9} {bar:30} {percent:>3}%  {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

/// The front as a table (sorted by the first objective, best first) and its hypervolume.
fn write_front(
    out: &mut impl Write,
    goals: &Goals,
    trials: &[TrialRecord],
    front: &[&TrialRecord],
    reference: Option<&[f64]>,
    report: &[String],
    wide: bool,
) -> Result<()> {
    let n = goals.objectives.len();
    let reference: Vec<f64> = match reference {
        Some(r) if r.len() == n => r.to_vec(),
        Some(r) => bail!(
            "--reference has {} values; expected one per objective ({n})",
            r.len()
        ),
        None => goals.nadir(trials),
    };
    let hv = goals.hypervolume(front, &reference);
    let mut rows: Vec<&&TrialRecord> = front.iter().collect();
    rows.sort_by(|a, b| {
        let (x, y) = (
            goals.vector(a).unwrap_or_default(),
            goals.vector(b).unwrap_or_default(),
        );
        y.first()
            .unwrap_or(&0.0)
            .total_cmp(x.first().unwrap_or(&0.0))
    });
    let t = fitted(wide, |cand| {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        let mut header = vec!["trial".to_string()];
        header.extend(goals.objectives.iter().map(|o| o.to_string()));
        header.extend(report.iter().cloned());
        header.extend(["hash".to_string(), "candidate".into()]);
        t.set_header(header);
        for r in &rows {
            let mut row = vec![r.number.to_string()];
            row.extend(goals.objectives.iter().map(|o| fmt(o.value(&r.metrics))));
            row.extend(report.iter().map(|m| fmt(r.metrics.get(m).copied())));
            row.extend([short_hash(r), cand(r)]);
            t.add_row(row);
        }
        t
    });
    writeln!(out, "Pareto front: {} trials", front.len())?;
    writeln!(out, "{t}")?;
    let shown: Vec<String> = reference.iter().map(|r| fmt(Some(*r))).collect();
    writeln!(
        out,
        "hypervolume {} (reference point {})",
        fmt(Some(hv)),
        shown.join(", ")
    )?;
    Ok(())
}

fn best_line(t: &TrialRecord, objective: &Objective, report: &[String]) -> String {
    let mut s = format!("best {} {}", objective.label(), fmt(t.value));
    for r in report {
        s.push_str(&format!(" · {r} {}", fmt(t.metrics.get(r).copied())));
    }
    s.push_str(&format!(" (trial {})", t.number));
    s
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| {
        // Adding 0.0 turns -0 into 0: "cost -0 epochs" reads as a bug.
        format!("{:.4}", x + 0.0)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    })
}

pub fn leaderboard(
    rows: &[&TrialRecord],
    objective: &Objective,
    report: &[String],
    wide: bool,
) -> String {
    fitted(wide, |cand| {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        let mut header = vec!["rank".to_string(), "trial".into(), objective.to_string()];
        header.extend(report.iter().cloned());
        header.extend(["hash".to_string(), "candidate".into()]);
        t.set_header(header);
        for (i, r) in rows.iter().enumerate() {
            let mut row = vec![(i + 1).to_string(), r.number.to_string(), fmt(r.value)];
            row.extend(report.iter().map(|m| fmt(r.metrics.get(m).copied())));
            row.extend([short_hash(r), cand(r)]);
            t.add_row(row);
        }
        t
    })
}

/// The first 8 hex digits of a trial's fingerprint: enough to tell rows apart when their
/// candidates are cut.
fn short_hash(t: &TrialRecord) -> String {
    t.hash.chars().take(8).collect()
}

/// The width tables must fit: `COLUMNS` when set, else the terminal's when stdout is one;
/// `None` (no limit) when printing to a file or a pipe, where lines are not wrapped.
fn table_width() -> Option<usize> {
    if let Some(c) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return Some(c);
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    Table::new().width().map(usize::from)
}

/// Renders a table whose last column is the candidate, cutting candidates (in the middle,
/// so that both ends show) to fit [`table_width`]; `wide` keeps them whole.
fn fitted(wide: bool, build: impl Fn(&dyn Fn(&TrialRecord) -> String) -> Table) -> String {
    let width = if wide { None } else { table_width() };
    let Some(width) = width else {
        return build(&|t| t.candidate.clone()).to_string();
    };
    let bare = build(&|_| String::new()).to_string();
    let used = bare.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    let room = width.saturating_sub(used).max(24);
    build(&|t| shorten_middle(&t.candidate, room)).to_string()
}

/// `s` cut to `width` characters by an ellipsis in the middle.
fn shorten_middle(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    let head = (width - 1) * 2 / 5;
    let tail = width - 1 - head;
    let start: String = s.chars().take(head).collect();
    let end: String = s.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

fn shorten(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let cut: String = s.chars().take(width - 1).collect();
        format!("{cut}…")
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// `hnas trials`.
#[derive(Args)]
pub struct TrialsArgs {
    /// The study: a file, or a PostgreSQL URL postgres://USER@HOST/DB?study=NAME.
    #[arg(long)]
    pub study: PathBuf,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Only the Pareto front: complete, feasible, non-dominated trials at the highest
    /// fidelity, one per network (with one objective, the best trial).
    #[arg(long)]
    pub pareto: bool,
    /// Write the trials and the Pareto front of the first two objectives as an SVG scatter.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// The hypervolume's reference point with --pareto (one value per objective).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub reference: Option<Vec<f64>>,
    /// Show candidates whole in the table instead of cut to the terminal's width.
    #[arg(long)]
    pub wide: bool,
    /// Print one trial in full: its candidate, every metric, timings, error.
    #[arg(long, value_name = "TRIAL")]
    pub show: Option<u64>,
}

/// `hnas trials --show N`: every stored field of one trial, one per line.
fn show_trial(t: &TrialRecord, goals: &Goals) -> String {
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut line = |k: &str, v: String| {
        if !v.is_empty() {
            lines.push((k.to_string(), v));
        }
    };
    line("state", t.state.to_string());
    for o in &goals.objectives {
        line(&o.to_string(), fmt(o.value(&t.metrics)));
    }
    if t.state == hnas_store::TrialState::Complete && !goals.constraints.is_empty() {
        line("feasible", (goals.violation(t) == 0.0).to_string());
    }
    line("error", t.error.clone().unwrap_or_default());
    line(
        "duplicate of",
        t.duplicate_of.map(|d| d.to_string()).unwrap_or_default(),
    );
    line("counted", t.counted.to_string());
    line(
        "fidelity",
        t.fidelity.map(|f| fmt(Some(f))).unwrap_or_default(),
    );
    line("cost", fmt(Some(t.cost)));
    if let Some(f) = t.finished_at {
        line("seconds", format!("{:.3}", f - t.started_at));
    }
    line("worker", t.worker.clone().unwrap_or_default());
    line("attempt", t.attempt.to_string());
    line("hash", t.hash.clone());
    line("canonical hash", t.canonical_hash.clone());
    line("candidate", t.candidate.clone());
    for (k, v) in &t.metrics {
        line(k, v.to_string());
    }
    let pad = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = format!("trial {}\n", t.number);
    for (k, v) in lines {
        out.push_str(&format!("  {k:<pad$}  {v}\n"));
    }
    out
}

pub fn run_trials(a: TrialsArgs) -> Result<()> {
    let TrialsArgs {
        study,
        format,
        pareto,
        plot,
        reference,
        wide,
        show,
    } = a;
    let hnas_study::StudyData {
        settings,
        goals,
        trials: all,
        ..
    } = hnas_study::StudyData::load(&study.to_string_lossy())?;
    if let Some(n) = show {
        let t = all.iter().find(|t| t.number == n).ok_or_else(|| {
            anyhow!(
                "{} has no trial {n}; its trials are numbered 0 to {}",
                study.display(),
                all.len().saturating_sub(1)
            )
        })?;
        print!("{}", show_trial(t, &goals));
        return Ok(());
    }
    let trials: Vec<TrialRecord> = if pareto {
        goals.pareto_front(&all).into_iter().cloned().collect()
    } else {
        all.clone()
    };
    if let Some(path) = &plot {
        write_front_plot(path, &goals, &all)?;
    }
    let multi = goals.objectives.len() > 1;
    if pareto && matches!(format, Format::Table) {
        let mut out = std::io::stdout().lock();
        let front: Vec<&TrialRecord> = trials.iter().collect();
        if front.is_empty() {
            writeln!(out, "no feasible trial completed")?;
        } else if multi {
            write_front(
                &mut out,
                &goals,
                &all,
                &front,
                reference.as_deref(),
                &settings.report,
                wide,
            )?;
        } else {
            writeln!(
                out,
                "{}",
                leaderboard(&front, goals.primary(), &settings.report, wide)
            )?;
        }
        if let Some(p) = &plot {
            writeln!(out, "plot: {}", p.display())?;
        }
        return Ok(());
    }
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
                "fidelity",
                "cost",
                "feasible",
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
                    t.fidelity.map(|f| f.to_string()).unwrap_or_default(),
                    t.cost.to_string(),
                    if t.state == hnas_store::TrialState::Complete {
                        (goals.violation(t) == 0.0).to_string()
                    } else {
                        String::new()
                    },
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
            let fidelities = trials.iter().any(|t| t.fidelity.is_some());
            let tab = fitted(wide, |cand| {
                let mut tab = Table::new();
                tab.load_preset(UTF8_FULL_CONDENSED);
                let mut header = vec!["trial".to_string(), "state".into()];
                if fidelities {
                    header.push("fidelity".into());
                }
                header.extend(goals.objectives.iter().map(|o| o.to_string()));
                header.extend(settings.report.iter().cloned());
                header.extend(["note".to_string(), "hash".into(), "candidate".into()]);
                tab.set_header(header);
                for t in &trials {
                    let violation = goals.violation(t);
                    let note = match (&t.error, t.duplicate_of) {
                        (Some(e), _) => shorten(e, 48),
                        (None, Some(d)) => format!("duplicate of {d}"),
                        _ if t.state == hnas_store::TrialState::Complete && violation > 0.0 => {
                            format!("infeasible (violation {})", fmt(Some(violation)))
                        }
                        _ => String::new(),
                    };
                    let mut row = vec![t.number.to_string(), t.state.to_string()];
                    if fidelities {
                        row.push(fmt(t.fidelity));
                    }
                    row.extend(goals.objectives.iter().map(|o| fmt(o.value(&t.metrics))));
                    row.extend(
                        settings
                            .report
                            .iter()
                            .map(|m| fmt(t.metrics.get(m).copied())),
                    );
                    row.extend([note, short_hash(t), cand(t)]);
                    tab.add_row(row);
                }
                tab
            });
            writeln!(out, "{tab}")?;
        }
    }
    Ok(())
}

/// The SVG scatter of a study's first two objectives with its Pareto front.
fn write_front_plot(path: &Path, goals: &Goals, trials: &[TrialRecord]) -> Result<()> {
    if goals.objectives.len() < 2 {
        bail!("--plot draws a Pareto front and needs a study with two objectives or more");
    }
    let svg = hnas_report::front_svg(goals, trials).expect("two objectives");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// `hnas worker`: one of many processes sharing a study in PostgreSQL.
#[derive(Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub search: SearchArgs,
    /// Seconds a trial stays handed to this worker without a heartbeat; a killed worker's
    /// trial goes to another worker this long after its last heartbeat.
    #[arg(long, default_value_t = 60.0)]
    pub lease: f64,
    /// The name recorded with the trials this worker runs (default: HOST/PID).
    #[arg(long)]
    pub worker_id: Option<String>,
}

pub fn run_worker(a: WorkerArgs) -> Result<()> {
    let quiet = a.search.quiet;
    let (resolved, _) = resolve(a.search)?;
    let url = resolved.study.to_string_lossy().to_string();
    if !hnas_store::is_postgres_url(&url) {
        bail!("hnas worker shares a study through PostgreSQL; expected --study postgres://USER@HOST/DB?study=NAME (for one process, hnas search takes a file)");
    }
    if !(a.lease.is_finite() && a.lease > 0.0) {
        bail!("--lease must be a positive number of seconds");
    }
    load_space(&resolved.settings)?;
    let evaluator: Arc<dyn Evaluator> =
        Arc::from(evaluator_from_name(&resolved.settings.evaluator)?);
    let mut cfg = hnas_study::WorkerConfig {
        lease: a.lease,
        ..Default::default()
    };
    if let Some(id) = a.worker_id {
        cfg.id = id;
    }
    let id = cfg.id.clone();
    let summary = hnas_study::run_worker(resolved.settings, evaluator, &url, &cfg, &mut |ev| {
        if quiet {
            return;
        }
        match ev {
            hnas_study::WorkerEvent::Recorded {
                trial,
                counted,
                budget,
            } => eprintln!(
                "[{id}] trial {} {} ({counted}/{budget} counted)",
                trial.number, trial.state
            ),
            hnas_study::WorkerEvent::TakenOver { trial, attempt } => {
                eprintln!(
                    "[{id}] trial {trial}: its worker's lease expired; running attempt {attempt}"
                )
            }
            hnas_study::WorkerEvent::Lost { trial } => {
                eprintln!(
                    "[{id}] trial {trial}: another worker took it over; this result is dropped"
                )
            }
        }
    })?;
    println!(
        "worker {id}: {} evaluated ({} taken over from dead workers), {} duplicates reused, {} results dropped (lease lost); the study's budget is spent",
        summary.evaluated, summary.taken_over, summary.reused, summary.lost
    );
    Ok(())
}
