//! Assembling a study in a program: [`StudyBuilder`].

use crate::study::MakeStrategy;
use crate::{default_objective, Dedup, Error, Settings, Study};
use hnas_eval::Evaluator;
use hnas_search::Strategy;
use hnas_space::Space;
use hnas_store::{MemoryStore, Store};
use std::sync::Arc;

/// Builds a [`Study`] from its parts; see [`Study::builder`]. Everything has a default
/// except the space and the evaluator: strategy `rea`, the evaluator's default objective,
/// seed 0, budget 100, `Dedup::Reuse`, an in-memory store, one trial at a time.
pub struct StudyBuilder {
    space: Option<(String, String)>,
    strategy: String,
    custom: Option<MakeStrategy>,
    evaluator: Option<(String, Arc<dyn Evaluator>)>,
    objectives: Vec<String>,
    constraints: Vec<String>,
    report: Vec<String>,
    seed: u64,
    budget: u64,
    max_cost: Option<f64>,
    fidelity: Option<f64>,
    dedup: Dedup,
    prior: Option<String>,
    store: Option<Result<Box<dyn Store>, Error>>,
    jobs: usize,
    /// Objectives, constraints and report metrics set by a study file: the next call of
    /// `objective`, `constraint` or `report` replaces that list instead of adding to it.
    from_file: [bool; 3],
}

impl Default for StudyBuilder {
    fn default() -> Self {
        StudyBuilder {
            space: None,
            strategy: "rea".into(),
            custom: None,
            evaluator: None,
            objectives: Vec::new(),
            constraints: Vec::new(),
            report: Vec::new(),
            seed: 0,
            budget: 100,
            max_cost: None,
            fidelity: None,
            dedup: Dedup::Reuse,
            prior: None,
            store: None,
            jobs: 1,
            from_file: [false; 3],
        }
    }
}

impl StudyBuilder {
    /// The space's text, and the name its errors are reported under (`name:line:col`).
    pub fn space(mut self, name: &str, text: &str) -> Self {
        self.space = Some((name.into(), text.into()));
        self
    }

    /// The space read from a `.hnas` file.
    pub fn space_file(self, path: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Settings(format!("cannot read {}: {e}", path.display())))?;
        Ok(self.space(&path.display().to_string(), &text))
    }

    /// A built-in strategy by its spec (`rea:population=30,sample=10`, `bananas`, ...).
    pub fn strategy(mut self, spec: &str) -> Self {
        self.strategy = spec.into();
        self.custom = None;
        self
    }

    /// A strategy of your own, made for the study's space; `name` is stored with the study.
    pub fn custom_strategy(
        mut self,
        name: &str,
        make: impl FnOnce(Arc<Space>) -> Box<dyn Strategy> + 'static,
    ) -> Self {
        self.strategy = name.into();
        self.custom = Some(Box::new(make));
        self
    }

    /// Any evaluator; `name` is stored with the study.
    pub fn evaluator(mut self, name: &str, evaluator: Arc<dyn Evaluator>) -> Self {
        self.evaluator = Some((name.into(), evaluator));
        self
    }

    /// A named evaluator (`nb201:cifar10`, `table:PATH`, `command:[...]`, `hash`,
    /// `sleep:MS`), through the installed registry ([`crate::set_evaluator_registry`]):
    /// `train:*`, `proxy:*` and `oneshot:*` once `hnas_train::evaluator` is installed.
    pub fn evaluator_named(self, name: &str) -> Result<Self, Error> {
        let e = crate::evaluator_by_name(name)?;
        Ok(self.evaluator(name, Arc::from(e)))
    }

    /// Every setting a study file (TOML, docs/studies.md) holds: space, strategy, evaluator
    /// (by name), objectives, constraints, report, budget, seed, cost budget, fidelity,
    /// dedup, prior, jobs, and `study` as the storage. A key it holds replaces the builder's
    /// value (a list of objectives, constraints or report metrics replaces the list); keys
    /// it leaves out keep the builder's values; calls after this one override it (a later
    /// `.objective(..)` starts the objectives afresh). `reference` and `devices` are
    /// for the CLI's front table and its device placement, and are read but not used here.
    pub fn file(self, path: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        let f = crate::StudyFile::read(path.as_ref())?;
        let mut b = self;
        if let Some(space) = &f.space {
            b = b.space_file(space)?;
        }
        if let Some(s) = &f.strategy {
            b = b.strategy(s);
        }
        if let Some(e) = &f.evaluator {
            b = b.evaluator_named(e)?;
        }
        if !f.objective.is_empty() {
            b.objectives = f.objective.clone();
            b.from_file[0] = true;
        }
        if !f.constraint.is_empty() {
            b.constraints = f.constraint.clone();
            b.from_file[1] = true;
        }
        if let Some(r) = &f.report {
            b.report = r.clone();
            b.from_file[2] = true;
        }
        if let Some(n) = f.budget {
            b = b.budget(n);
        }
        if let Some(n) = f.seed {
            b = b.seed(n);
        }
        if let Some(c) = f.budget_cost {
            b = b.budget_cost(c);
        }
        if let Some(x) = f.fidelity {
            b = b.fidelity(x);
        }
        if let Some(d) = &f.dedup {
            let dedup = Dedup::parse(d).ok_or_else(|| {
                Error::Settings(format!(
                    "{}: dedup '{d}': expected reuse, skip or off",
                    path.as_ref().display()
                ))
            })?;
            b = b.dedup(dedup);
        }
        if let Some(p) = f.prior {
            b = b.prior(p);
        }
        if let Some(jobs) = f.jobs {
            let n = match (&b.evaluator, jobs) {
                (_, crate::Jobs::N(n)) => n,
                (Some((_, ev)), crate::Jobs::Auto) => crate::resolve_jobs(Some(jobs), &**ev, &[]),
                (None, crate::Jobs::Auto) => 1,
            };
            b = b.jobs(n);
        }
        if let Some(study) = &f.study {
            b = b.storage(&study.to_string_lossy());
        }
        Ok(b)
    }

    /// An objective (`max:M`, `min:M`, `mnas:ACC,LAT,T`); several make a Pareto front.
    pub fn objective(mut self, objective: &str) -> Self {
        if std::mem::take(&mut self.from_file[0]) {
            self.objectives.clear();
        }
        self.objectives.push(objective.into());
        self
    }

    /// A hard constraint, `METRIC <= BOUND` or `METRIC >= BOUND`.
    pub fn constraint(mut self, constraint: &str) -> Self {
        if std::mem::take(&mut self.from_file[1]) {
            self.constraints.clear();
        }
        self.constraints.push(constraint.into());
        self
    }

    /// A metric shown beside the objective.
    pub fn report(mut self, metric: &str) -> Self {
        if std::mem::take(&mut self.from_file[2]) {
            self.report.clear();
        }
        self.report.push(metric.into());
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Counted trials [`Study::run`] runs to.
    pub fn budget(mut self, trials: u64) -> Self {
        self.budget = trials.max(1);
        self
    }

    /// A limit on the summed cost of the trials (the evaluator's unit).
    pub fn budget_cost(mut self, cost: f64) -> Self {
        self.max_cost = Some(cost);
        self
    }

    pub fn fidelity(mut self, fidelity: f64) -> Self {
        self.fidelity = Some(fidelity);
        self
    }

    pub fn dedup(mut self, dedup: Dedup) -> Self {
        self.dedup = dedup;
        self
    }

    /// A prior for model-based strategies: an evaluator name, `EVALUATOR@METRIC` to pick
    /// its metric ([`crate::Settings::prior`]).
    pub fn prior(mut self, prior: impl Into<String>) -> Self {
        self.prior = Some(prior.into());
        self
    }

    /// Any store.
    pub fn store(mut self, store: Box<dyn Store>) -> Self {
        self.store = Some(Ok(store));
        self
    }

    /// The store at a location: an SQLite file or a PostgreSQL URL ([`hnas_store::open`]).
    /// An existing study there is resumed (its settings must match).
    pub fn storage(mut self, location: &str) -> Self {
        self.store = Some(hnas_store::open(location).map_err(Error::from));
        self
    }

    /// Trials evaluated at once ([`Study::set_jobs`]).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// Opens the study (replaying what its store holds).
    pub fn open(self) -> Result<Study, Error> {
        let (space_file, space) = self
            .space
            .ok_or_else(|| Error::Settings("the study has no space: call .space(..)".into()))?;
        let (evaluator_name, evaluator) = self.evaluator.ok_or_else(|| {
            Error::Settings("the study has no evaluator: call .evaluator(..)".into())
        })?;
        let defaults = default_objective(&evaluator_name);
        let objectives = if self.objectives.is_empty() {
            match &defaults {
                Some((o, _)) => vec![o.clone()],
                None => {
                    return Err(Error::Settings(format!(
                        "evaluator '{evaluator_name}' has no default objective: call .objective(\"max:METRIC\")"
                    )))
                }
            }
        } else {
            self.objectives
        };
        let report = if self.report.is_empty() {
            defaults.map(|(_, r)| r).unwrap_or_default()
        } else {
            self.report
        };
        let settings = Settings {
            space_file,
            space,
            strategy: self.strategy,
            evaluator: evaluator_name,
            objectives,
            constraints: self.constraints,
            report,
            seed: self.seed,
            budget: self.budget,
            max_cost: self.max_cost,
            fidelity: self.fidelity,
            prior: self.prior.clone(),
            dedup: self.dedup,
        };
        let store = match self.store {
            Some(s) => s?,
            None => Box::new(MemoryStore::new()),
        };
        let mut study = match self.custom {
            Some(make) => Study::open_with_strategy(settings, make, evaluator, store)?,
            None => Study::open(settings, evaluator, store)?,
        };
        study.set_jobs(self.jobs);
        Ok(study)
    }
}
