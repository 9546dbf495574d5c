//! `hnas._hnas`: the compiled half of the `hnas` Python package. A study runs in Rust; a
//! Python objective is called in-process, holding the GIL (no interpreter per trial).
//! The typed Python layer (`python/hnas/__init__.py`) wraps these classes.

use hnas_eval::{EvalError, Evaluator, Metrics};
use hnas_space::{Candidate, Space};
use hnas_store::{TrialRecord, TrialState};
use hnas_study::{Dedup, Settings, Study};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt};
use std::sync::{Arc, Mutex, OnceLock};

// The engine allocates a few small strings and trees per trial; glibc's allocator spent a
// fifth of a trivial trial's time in its free lists (perf, 100,000 trials).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The evaluator name a study records when a Python function evaluates its trials.
const PYTHON_EVALUATOR: &str = "python";

fn runtime(e: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

/// A Python callable as an evaluator. It is set for the length of one `optimize` call; the
/// error that must reach Python whole (Ctrl-C) is kept aside.
#[derive(Default)]
struct PyObjective {
    /// The study's space, shared with the candidates handed to the function.
    space: OnceLock<Arc<Space>>,
    func: Mutex<Option<Py<PyAny>>>,
    interrupt: Mutex<Option<PyErr>>,
}

impl Evaluator for PyObjective {
    fn name(&self) -> &str {
        PYTHON_EVALUATOR
    }

    fn metrics(&self) -> Vec<String> {
        Vec::new()
    }

    fn evaluate(
        &self,
        space: &Space,
        c: &Candidate,
        _fidelity: Option<f64>,
    ) -> Result<Metrics, EvalError> {
        Python::attach(|py| {
            let func = match &*self.func.lock().unwrap_or_else(|e| e.into_inner()) {
                Some(f) => f.clone_ref(py),
                None => {
                    return Err(EvalError::Fatal(
                        "this study's trials are evaluated by a Python function: pass one to optimize()"
                            .into(),
                    ))
                }
            };
            let shared = self.space.get_or_init(|| Arc::new(space.clone())).clone();
            let cand = PyCandidate::new(shared, c.clone());
            match func.call1(py, (cand,)) {
                Ok(v) => metrics_of(v.bind(py)),
                Err(e) if e.is_instance_of::<PyKeyboardInterrupt>(py) => {
                    *self.interrupt.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                    Err(EvalError::Fatal("interrupted (KeyboardInterrupt)".into()))
                }
                Err(e) => Err(EvalError::Failed(describe(py, &e))),
            }
        })
    }
}

/// `TypeName: message` of a Python exception.
fn describe(py: Python<'_>, e: &PyErr) -> String {
    let name = e
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    format!("{name}: {}", e.value(py))
}

/// What an objective returned, as metrics: a number is `value`; a dict maps names to
/// numbers.
fn metrics_of(v: &Bound<'_, PyAny>) -> Result<Metrics, EvalError> {
    if v.is_instance_of::<PyFloat>() || v.is_instance_of::<PyInt>() {
        let x: f64 = v.extract().map_err(|_| {
            EvalError::Failed("the objective returned a number out of range".into())
        })?;
        return Ok(Metrics::from([("value".to_string(), x)]));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut m = Metrics::new();
        for (k, x) in d.iter() {
            let k: String = k.str().map(|s| s.to_string()).unwrap_or_default();
            let x: f64 = x.extract().map_err(|_| {
                EvalError::Failed(format!(
                    "metric '{k}' is {}, not a number",
                    x.repr().map(|r| r.to_string()).unwrap_or_default()
                ))
            })?;
            m.insert(k, x);
        }
        return Ok(m);
    }
    let shown = v.repr().map(|r| r.to_string()).unwrap_or_default();
    Err(EvalError::Failed(format!(
        "the objective returned {shown}; expected a number or a dict of metric name to number"
    )))
}

/// A member of the space: its one-line form, hashes and derivation tree, each computed
/// when first asked for (an objective that reads only the tree pays for nothing else).
#[pyclass(name = "Candidate", module = "hnas", frozen)]
#[derive(Clone)]
struct PyCandidate {
    /// The space and the tree, for a candidate handed to an objective; `None` for one read
    /// from a stored trial, whose forms are all known.
    tree: Option<(Arc<Space>, Candidate)>,
    string: OnceLock<String>,
    canonical: OnceLock<String>,
    json: OnceLock<String>,
}

impl PyCandidate {
    fn new(space: Arc<Space>, c: Candidate) -> PyCandidate {
        PyCandidate {
            tree: Some((space, c)),
            string: OnceLock::new(),
            canonical: OnceLock::new(),
            json: OnceLock::new(),
        }
    }

    fn of_record(t: &TrialRecord) -> PyCandidate {
        PyCandidate {
            tree: None,
            string: OnceLock::from(t.candidate.clone()),
            canonical: OnceLock::from(t.canonical_hash.clone()),
            json: OnceLock::from(t.candidate_json.clone()),
        }
    }

    fn line(&self) -> &str {
        self.string.get_or_init(|| match &self.tree {
            Some((s, c)) => s.print(c),
            None => String::new(),
        })
    }

    fn json_text(&self) -> &str {
        self.json.get_or_init(|| match &self.tree {
            Some((s, c)) => s.json_string(c),
            None => String::new(),
        })
    }
}

#[pymethods]
impl PyCandidate {
    /// The one-line form (what `hnas space` prints and reads).
    #[getter]
    fn string(&self) -> &str {
        self.line()
    }

    /// Hash of the one-line form (16 hex digits).
    #[getter]
    fn hash(&self) -> String {
        hnas_space::fingerprint_text(self.line())
    }

    /// Hash of the canonical form: equal for isomorphic networks.
    #[getter]
    fn canonical_hash(&self) -> &str {
        self.canonical.get_or_init(|| match &self.tree {
            Some((s, c)) => s.canonical_hash(c),
            None => String::new(),
        })
    }

    /// The derivation tree as nested dicts and lists (`{"root": {"op": .., "args": {..}},
    /// "shared": {..}}`, docs/space-language.md).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.tree {
            // Built from the tree directly: half the time of writing JSON and parsing it back.
            Some((space, c)) if self.json.get().is_none() => to_python(py, &space.to_json(c)),
            _ => json_loads(py)?.call1((self.json_text(),)),
        }
    }

    /// The candidate as PyTorch source: a `Net(nn.Module)` class for an input of shape
    /// `input` (C×H×W, C×L or F: a string such as "3x32x32" or a tuple) and `classes`
    /// outputs. A bare cell (a DAG at the root, as in NAS-Bench-201) is stacked in three
    /// stages of `cells` cells, starting at `channels` channels. Raises ValueError when the
    /// candidate is not a network hnas can build.
    #[pyo3(signature = (input, classes, channels=16, cells=1))]
    fn to_torch(
        &self,
        input: &Bound<'_, PyAny>,
        classes: usize,
        channels: usize,
        cells: usize,
    ) -> PyResult<String> {
        let text = match input.extract::<String>() {
            Ok(s) => s,
            Err(_) => input
                .extract::<Vec<usize>>()
                .map_err(|_| {
                    PyValueError::new_err(
                        "input: expected a shape such as \"3x32x32\" or (3, 32, 32)",
                    )
                })?
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join("x"),
        };
        let shape = hnas_net::parse_shape(&text)
            .map_err(|e| PyValueError::new_err(format!("input {e}")))?;
        if classes == 0 || channels == 0 || cells == 0 {
            return Err(PyValueError::new_err(
                "classes, channels and cells must be at least 1",
            ));
        }
        let json: serde_json::Value = serde_json::from_str(self.json_text()).map_err(runtime)?;
        let skeleton = hnas_net::Skeleton { channels, cells };
        let compiled = hnas_net::compile(&json, shape, classes, skeleton)
            .map_err(|e| PyValueError::new_err(format!("not a network hnas can export: {e}")))?;
        let header = vec![
            "Generated by hnas (Python: Candidate.to_torch).".to_string(),
            format!("Candidate: {}", self.line()),
        ];
        Ok(hnas_net::export::pytorch(&compiled.net, &header))
    }

    fn __str__(&self) -> String {
        self.line().to_string()
    }

    fn __repr__(&self) -> String {
        format!("Candidate({:?})", self.line())
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyCandidate>()
            .is_ok_and(|o| o.get().line() == self.line())
    }

    fn __hash__(&self) -> u64 {
        xxhash_rust_free(self.line())
    }
}

/// A JSON value as the Python object `json.loads` would give.
fn to_python<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use pyo3::IntoPyObjectExt;
    use serde_json::Value;
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_bound_py_any(py)?,
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_bound_py_any(py)?,
            (None, Some(u)) => u.into_bound_py_any(py)?,
            _ => n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)?,
        },
        Value::String(s) => s.into_bound_py_any(py)?,
        Value::Array(items) => {
            let list = pyo3::types::PyList::empty(py);
            for it in items {
                list.append(to_python(py, it)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let d = PyDict::new(py);
            for (k, it) in map {
                d.set_item(k, to_python(py, it)?)?;
            }
            d.into_any()
        }
    })
}

/// `json.loads`, looked up once (an import per call was a third of `to_dict`'s time).
fn json_loads(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static LOADS: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
    LOADS
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(py.import("json")?.getattr("loads")?.unbind())
        })
        .map(|f| f.bind(py))
}

/// A hash of the one-line form for Python's `hash()`.
fn xxhash_rust_free(line: &str) -> u64 {
    u64::from_str_radix(&hnas_space::fingerprint_text(line), 16).unwrap_or(0)
}

/// One trial of a study, as stored.
#[pyclass(name = "Trial", module = "hnas", frozen)]
struct PyTrial {
    #[pyo3(get)]
    number: u64,
    /// `running`, `complete`, `failed`, `pruned` or `pending`.
    #[pyo3(get)]
    state: String,
    /// The primary objective's value (None for a failed trial).
    #[pyo3(get)]
    value: Option<f64>,
    /// Every metric the evaluation returned.
    #[pyo3(get)]
    metrics: std::collections::BTreeMap<String, f64>,
    /// Why it failed or was stopped.
    #[pyo3(get)]
    error: Option<String>,
    /// The trial whose result this duplicate reused.
    #[pyo3(get)]
    duplicate_of: Option<u64>,
    #[pyo3(get)]
    fidelity: Option<f64>,
    #[pyo3(get)]
    started_at: f64,
    #[pyo3(get)]
    finished_at: Option<f64>,
    /// False when the trial breaks one of the study's constraints (it is then ranked
    /// below every feasible one, whatever its value).
    #[pyo3(get)]
    feasible: bool,
    candidate: Py<PyCandidate>,
}

impl PyTrial {
    fn new(py: Python<'_>, t: &TrialRecord) -> PyResult<PyTrial> {
        Ok(PyTrial {
            number: t.number,
            state: state_name(t.state).into(),
            value: t.value,
            metrics: t.metrics.clone(),
            error: t.error.clone(),
            duplicate_of: t.duplicate_of,
            fidelity: t.fidelity,
            started_at: t.started_at,
            finished_at: t.finished_at,
            feasible: true,
            candidate: Py::new(py, PyCandidate::of_record(t))?,
        })
    }
}

fn state_name(s: TrialState) -> &'static str {
    match s {
        TrialState::Pending => "pending",
        TrialState::Running => "running",
        TrialState::Complete => "complete",
        TrialState::Failed => "failed",
        TrialState::Pruned => "pruned",
    }
}

#[pymethods]
impl PyTrial {
    #[getter]
    fn candidate(&self, py: Python<'_>) -> Py<PyCandidate> {
        self.candidate.clone_ref(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "Trial(number={}, state={:?}, value={})",
            self.number,
            self.state,
            self.value.map_or("None".into(), |v| v.to_string())
        )
    }
}

/// A study: a space, a strategy, objectives and a store, searched by `optimize` (a Python
/// function evaluates each candidate) or driven by hand with `ask` / `tell`.
#[pyclass(name = "Study", module = "hnas", unsendable)]
struct PyStudy {
    study: Study,
    objective: Arc<PyObjective>,
    location: Option<String>,
    /// The first exception a Python strategy raised (raised again from `optimize`/`ask`).
    strategy_error: Arc<Mutex<Option<PyErr>>>,
}

/// The first exception a Python strategy raised, taken (it is raised once).
fn take_error(slot: &Mutex<Option<PyErr>>) -> Option<PyErr> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// A strategy written in Python (`hnas.Strategy`): `setup(space)` once, then
/// `ask(trial, seed, pending)` returning a candidate (its one-line form, or a `Candidate`)
/// or None, and `tell(outcome)`.
struct PyStrategyAdapter {
    obj: Py<PyAny>,
    space: Arc<Space>,
    name: &'static str,
    replays: bool,
    ready: bool,
    errors: Arc<Mutex<Option<PyErr>>>,
}

impl PyStrategyAdapter {
    fn fail(&self, e: PyErr) {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(e);
    }

    fn setup(&mut self, py: Python<'_>) -> bool {
        if !self.ready {
            self.ready = true;
            let space = PySpace {
                space: self.space.clone(),
            };
            if let Err(e) = self.obj.call_method1(py, "setup", (space,)) {
                self.fail(e);
                return false;
            }
        }
        true
    }
}

impl hnas_search::Strategy for PyStrategyAdapter {
    fn name(&self) -> &'static str {
        self.name
    }

    fn ask(
        &mut self,
        trial: u64,
        rng: &mut rand_chacha::ChaCha8Rng,
        pending: usize,
    ) -> Option<hnas_search::Ask> {
        use rand::RngCore;
        let seed = rng.next_u64();
        Python::attach(|py| {
            if !self.setup(py) {
                return None;
            }
            let proposed = match self.obj.call_method1(py, "ask", (trial, seed, pending)) {
                Ok(v) => v,
                Err(e) => {
                    self.fail(e);
                    return None;
                }
            };
            let proposed = proposed.bind(py);
            if proposed.is_none() {
                return None;
            }
            let line = match proposed.cast::<PyCandidate>() {
                Ok(c) => c.get().line().to_string(),
                Err(_) => match proposed.extract::<String>() {
                    Ok(s) => s,
                    Err(_) => {
                        self.fail(PyValueError::new_err(format!(
                            "the strategy's ask() returned {}; expected a candidate, its one-line form, or None",
                            proposed.repr().map(|r| r.to_string()).unwrap_or_default()
                        )));
                        return None;
                    }
                },
            };
            match self.space.parse_candidate(&line) {
                Ok(c) => Some(hnas_search::Ask::new(c)),
                Err(d) => {
                    self.fail(PyValueError::new_err(format!(
                        "the strategy proposed '{line}', which is not in the space: {d}"
                    )));
                    None
                }
            }
        })
    }

    fn tell(&mut self, o: &hnas_search::Outcome<'_>) {
        Python::attach(|py| {
            if !self.setup(py) {
                return;
            }
            let outcome = PyOutcome {
                trial: o.trial,
                score: o.score,
                metrics: o.metrics.clone(),
                candidate: PyCandidate::new(self.space.clone(), o.candidate.clone()),
            };
            if let Err(e) = self.obj.call_method1(py, "tell", (outcome,)) {
                self.fail(e);
            }
        })
    }

    fn replays_asks(&self) -> bool {
        self.replays
    }
}

/// What a Python strategy is told about a finished trial.
#[pyclass(name = "Outcome", module = "hnas", frozen)]
struct PyOutcome {
    #[pyo3(get)]
    trial: u64,
    /// The primary objective, oriented so that higher is better; None for a failed or
    /// infeasible trial.
    #[pyo3(get)]
    score: Option<f64>,
    #[pyo3(get)]
    metrics: std::collections::BTreeMap<String, f64>,
    candidate: PyCandidate,
}

#[pymethods]
impl PyOutcome {
    #[getter]
    fn candidate(&self) -> PyCandidate {
        self.candidate.clone()
    }

    fn __repr__(&self) -> String {
        format!("Outcome(trial={}, score={:?})", self.trial, self.score)
    }
}

/// A study's space, for a strategy written in Python: sample, mutate, cross over, read.
#[pyclass(name = "Space", module = "hnas", frozen)]
struct PySpace {
    space: Arc<Space>,
}

impl PySpace {
    fn tree(&self, c: &Bound<'_, PyAny>) -> PyResult<Candidate> {
        let line = match c.cast::<PyCandidate>() {
            Ok(c) => c.get().line().to_string(),
            Err(_) => c.extract::<String>()?,
        };
        self.space
            .parse_candidate(&line)
            .map_err(|d| PyValueError::new_err(d.to_string()))
    }

    fn wrap(&self, c: Candidate) -> PyCandidate {
        PyCandidate::new(self.space.clone(), c)
    }
}

#[pymethods]
impl PySpace {
    /// A candidate drawn uniformly over the space (or by the grammar's weights).
    #[pyo3(signature = (seed, weighted=false))]
    fn sample(&self, seed: u64, weighted: bool) -> PyCandidate {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mode = if weighted {
            hnas_space::SampleMode::Weighted
        } else {
            hnas_space::SampleMode::Uniform
        };
        self.wrap(self.space.sample(&mut rng, mode))
    }

    /// One random single-step mutation of a candidate (a `Candidate` or its one-line form).
    fn mutate(&self, candidate: &Bound<'_, PyAny>, seed: u64) -> PyResult<PyCandidate> {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let c = self.tree(candidate)?;
        Ok(self.wrap(self.space.mutate(&c, &mut rng)))
    }

    /// A child of `a` with one subtree taken from `b`; None when they share none that differs.
    fn crossover(
        &self,
        a: &Bound<'_, PyAny>,
        b: &Bound<'_, PyAny>,
        seed: u64,
    ) -> PyResult<Option<PyCandidate>> {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let (a, b) = (self.tree(a)?, self.tree(b)?);
        Ok(self.space.crossover(&a, &b, &mut rng).map(|c| self.wrap(c)))
    }

    /// A candidate read from its one-line form (ValueError when it is not in the space).
    fn candidate(&self, line: &str) -> PyResult<PyCandidate> {
        let c = self
            .space
            .parse_candidate(line)
            .map_err(|d| PyValueError::new_err(d.to_string()))?;
        Ok(self.wrap(c))
    }

    /// The number of members, as a decimal string (`inf` with continuous parameters).
    #[getter]
    fn size(&self) -> String {
        if self.space.is_continuous() {
            "inf".into()
        } else {
            self.space.size().to_string()
        }
    }
}

impl PyStudy {
    fn wrap(&self, py: Python<'_>, t: &TrialRecord) -> PyResult<PyTrial> {
        let mut trial = PyTrial::new(py, t)?;
        trial.feasible = self.study.goals().violation(t) == 0.0;
        Ok(trial)
    }
}

#[pymethods]
impl PyStudy {
    /// See `hnas.create_study`.
    #[new]
    #[pyo3(signature = (space, space_name, strategy, evaluator, objectives, constraints, report, storage, seed, dedup))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        space: String,
        space_name: String,
        strategy: &Bound<'_, PyAny>,
        evaluator: Option<String>,
        objectives: Vec<String>,
        constraints: Vec<String>,
        report: Vec<String>,
        storage: Option<String>,
        seed: u64,
        dedup: String,
    ) -> PyResult<PyStudy> {
        let objective = Arc::new(PyObjective::default());
        let (name, ev): (String, Arc<dyn Evaluator>) = match &evaluator {
            None => (PYTHON_EVALUATOR.into(), objective.clone()),
            Some(n) => (
                n.clone(),
                Arc::from(
                    hnas_eval::from_name(n).map_err(|e| PyValueError::new_err(e.to_string()))?,
                ),
            ),
        };
        let (default_objective, default_report) = match evaluator.as_deref() {
            None => Some(("max:value".to_string(), Vec::new())),
            Some(n) => hnas_study::default_objective(n),
        }
        .map_or((None, Vec::new()), |(o, r)| (Some(o), r));
        let objectives = if objectives.is_empty() {
            vec![default_objective.ok_or_else(|| {
                PyValueError::new_err(format!(
                    "evaluator '{name}' has no default objective; pass objectives=['max:METRIC']"
                ))
            })?]
        } else {
            objectives
        };
        // A spec string, or a strategy object written in Python.
        let (strategy_name, py_strategy) = match strategy.extract::<String>() {
            Ok(spec) => (spec, None),
            Err(_) => {
                let class = strategy.get_type().name()?.to_string();
                (format!("python:{class}"), Some(strategy.clone().unbind()))
            }
        };
        let settings = Settings {
            space_file: space_name,
            space,
            strategy: strategy_name.clone(),
            evaluator: name,
            objectives,
            constraints,
            report: if report.is_empty() {
                default_report
            } else {
                report
            },
            seed,
            budget: 1,
            max_cost: None,
            fidelity: None,
            prior: None,
            dedup: Dedup::parse(&dedup).ok_or_else(|| {
                PyValueError::new_err(format!("dedup '{dedup}': expected reuse, skip or off"))
            })?,
        };
        let store: Box<dyn hnas_store::Store> = match &storage {
            None => Box::new(hnas_store::MemoryStore::new()),
            Some(loc) => hnas_store::open(loc).map_err(runtime)?,
        };
        // A stored study keeps its budget until optimize() asks for more.
        let settings = match store.study().map_err(runtime)? {
            Some(rec) => {
                let stored: Settings = serde_json::from_str(&rec.settings).map_err(runtime)?;
                Settings {
                    budget: stored.budget,
                    ..settings
                }
            }
            None => settings,
        };
        let strategy_error: Arc<Mutex<Option<PyErr>>> = Arc::default();
        let study = match py_strategy {
            None => Study::open(settings, ev, store),
            Some(obj) => {
                let replays = strategy
                    .getattr("deterministic")
                    .and_then(|d| d.is_truthy())
                    .unwrap_or(false);
                let errors = strategy_error.clone();
                let name: &'static str = Box::leak(strategy_name.clone().into_boxed_str());
                Study::open_with_strategy(
                    settings,
                    Box::new(move |space: Arc<Space>| {
                        Box::new(PyStrategyAdapter {
                            obj,
                            space,
                            name,
                            replays,
                            ready: false,
                            errors,
                        }) as Box<dyn hnas_search::Strategy>
                    }),
                    ev,
                    store,
                )
            }
        }
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
        if let Some(e) = take_error(&strategy_error) {
            return Err(e);
        }
        Ok(PyStudy {
            study,
            objective,
            location: storage,
            strategy_error,
        })
    }

    /// Runs `n_trials` more trials (counted ones; duplicates reused under the default
    /// dedup policy count), or until `timeout` seconds have passed, with `func(candidate)`
    /// evaluating each (None: the study's named evaluator). Unfinished trials of an
    /// interrupted run are run first. Returns the number of trials now in the study.
    #[pyo3(signature = (func=None, n_trials=Some(100), timeout=None, jobs=1))]
    fn optimize(
        &mut self,
        py: Python<'_>,
        func: Option<Py<PyAny>>,
        n_trials: Option<i64>,
        timeout: Option<f64>,
        jobs: i64,
    ) -> PyResult<usize> {
        let n_trials = match (n_trials, timeout) {
            (Some(n), _) if n < 0 => {
                return Err(PyValueError::new_err(format!(
                    "n_trials={n}: expected a number of trials, 0 or more (None: until the timeout)"
                )))
            }
            (Some(n), _) => n as u64,
            (None, Some(_)) => u64::MAX,
            (None, None) => {
                return Err(PyValueError::new_err(
                    "optimize() with n_trials=None needs a timeout (seconds)",
                ))
            }
        };
        if let Some(t) = timeout.filter(|t| !(t.is_finite() && *t >= 0.0)) {
            return Err(PyValueError::new_err(format!(
                "timeout={t}: expected seconds, 0 or more"
            )));
        }
        if jobs < 1 {
            return Err(PyValueError::new_err(format!(
                "jobs={jobs}: expected a number of trials at once, at least 1"
            )));
        }
        let jobs = jobs as usize;
        if let Some(f) = &func {
            if !f.bind(py).is_callable() {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "optimize() takes a function of a candidate; got {}",
                    f.bind(py).repr().map(|r| r.to_string()).unwrap_or_default()
                )));
            }
        }
        if n_trials == 0 {
            return Ok(self.study.trials().len());
        }
        let by_python = self.study.settings().evaluator == PYTHON_EVALUATOR;
        match (&func, by_python) {
            (None, true) => {
                return Err(PyValueError::new_err(
                    "optimize() needs a function: this study's trials are evaluated in Python",
                ))
            }
            (Some(_), false) => {
                return Err(PyValueError::new_err(format!(
                    "this study's trials are evaluated by '{}'; call optimize() without a function",
                    self.study.settings().evaluator
                )))
            }
            _ => {}
        }
        let counted = self.study.counted();
        self.study
            .set_budget(counted.saturating_add(n_trials))
            .map_err(runtime)?;
        let before = self.study.trials().len();
        self.study.set_jobs(jobs);
        *self
            .objective
            .func
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = func;
        let deadline = timeout
            .map(|t| std::time::Instant::now() + std::time::Duration::from_secs_f64(t.max(0.0)));
        let stop = self.study.stop_flag();
        let mut signal: Option<PyErr> = None;
        let study = &mut self.study;
        let mut run = || {
            study.run(&mut |_| {
                if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    stop.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                // Cheap when this thread holds the GIL already (one trial at a time).
                Python::attach(|py| {
                    if let Err(e) = py.check_signals() {
                        signal.get_or_insert(e);
                        stop.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            })
        };
        // Several trials at once: the driver's threads each take the GIL to call the
        // function, so this thread lets go of it while they run. They overlap wherever the
        // function releases the GIL itself (PyTorch and NumPy kernels, I/O, subprocesses).
        let result = if jobs > 1 { py.detach(run) } else { run() };
        *self
            .objective
            .func
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        if let Some(e) = take_error(&self.strategy_error) {
            return Err(e);
        }
        let interrupt = self
            .objective
            .interrupt
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(e) = interrupt.or(signal) {
            return Err(e);
        }
        let summary = result.map_err(runtime)?;
        // What the CLI prints at the end, said as warnings: a run that stopped before its
        // budget, and one whose every trial failed.
        let warn = |msg: String| -> PyResult<()> {
            let text = std::ffi::CString::new(msg).unwrap_or_default();
            PyErr::warn(
                py,
                &py.get_type::<pyo3::exceptions::PyUserWarning>(),
                &text,
                1,
            )
        };
        if let Some(why) = summary.stopped_early.filter(|w| w != "stopped") {
            warn(format!("the search stopped before its budget: {why}"))?;
        }
        let new = &self.study.trials()[before.min(self.study.trials().len())..];
        let evaluated: Vec<_> = new.iter().filter(|t| t.duplicate_of.is_none()).collect();
        if !evaluated.is_empty() && evaluated.iter().all(|t| t.state == TrialState::Failed) {
            warn(format!(
                "all {} trials of this run failed; the first: {}",
                evaluated.len(),
                evaluated[0].error.as_deref().unwrap_or("no reason")
            ))?;
        }
        Ok(self.study.trials().len())
    }

    /// The next trial to evaluate, recorded as running; `tell` its outcome. None when the
    /// strategy has nothing left.
    fn ask(&mut self, py: Python<'_>) -> PyResult<Option<PyTrial>> {
        loop {
            let asked = self.study.ask().map_err(runtime)?;
            if let Some(e) = take_error(&self.strategy_error) {
                return Err(e);
            }
            let Some(a) = asked else {
                return Ok(None);
            };
            // A network evaluated before is answered from that result at once.
            if !a.reused {
                return self.wrap(py, &self.study.trials()[a.index]).map(Some);
            }
        }
    }

    /// Records the outcome of a trial `ask` handed out: a number (the `value` metric), a
    /// dict of metrics, or an exception / string (the trial failed for that reason).
    fn tell(
        &mut self,
        py: Python<'_>,
        trial: &Bound<'_, PyAny>,
        outcome: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let number: u64 = match trial.cast::<PyTrial>() {
            Ok(t) => t.get().number,
            Err(_) => trial.extract().map_err(|_| {
                PyValueError::new_err("tell(trial, outcome): trial is a Trial or its number")
            })?,
        };
        let result = if let Ok(e) = outcome.cast::<pyo3::exceptions::PyBaseException>() {
            Err(EvalError::Failed(describe(
                py,
                &PyErr::from_value(e.clone().into_any()),
            )))
        } else if let Ok(s) = outcome.extract::<String>() {
            Err(EvalError::Failed(s))
        } else {
            metrics_of(outcome)
        };
        self.study
            .tell(number as usize, result)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Every trial, in order.
    #[getter]
    fn trials(&self, py: Python<'_>) -> PyResult<Vec<PyTrial>> {
        self.study
            .trials()
            .iter()
            .map(|t| self.wrap(py, t))
            .collect()
    }

    /// The best complete, feasible trial (None before the first).
    #[getter]
    fn best_trial(&self, py: Python<'_>) -> PyResult<Option<PyTrial>> {
        self.study.best().map(|t| self.wrap(py, t)).transpose()
    }

    /// The best `k` distinct networks, best first.
    #[pyo3(signature = (k=10))]
    fn leaderboard(&self, py: Python<'_>, k: usize) -> PyResult<Vec<PyTrial>> {
        self.study
            .leaderboard(k)
            .into_iter()
            .map(|t| self.wrap(py, t))
            .collect()
    }

    /// The non-dominated feasible trials of a study with several objectives (with one: the
    /// best trial).
    fn pareto_front(&self, py: Python<'_>) -> PyResult<Vec<PyTrial>> {
        let trials = self.study.trials();
        self.study
            .goals()
            .pareto_front(trials)
            .into_iter()
            .map(|t| self.wrap(py, t))
            .collect()
    }

    /// The trials as a pandas DataFrame (a list of dicts without pandas).
    fn trials_dataframe<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        py.import("hnas")?
            .getattr("trials_dataframe")?
            .call1((slf,))
    }

    /// Trials that count toward the budget.
    #[getter]
    fn n_counted(&self) -> u64 {
        self.study.counted()
    }

    /// The study's settings as a dict (what the store keeps).
    #[getter]
    fn settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = serde_json::to_string(self.study.settings()).map_err(runtime)?;
        json_loads(py)?.call1((text,))
    }

    /// Where the study is stored (None: in memory).
    #[getter]
    fn storage(&self) -> Option<String> {
        self.location.clone()
    }

    /// Writes the study's report into `dir` (created if needed): `index.html` with every
    /// figure inline, and each figure as an `.svg` file (what `hnas report` writes).
    /// Returns the paths written, the page first.
    #[pyo3(signature = (dir, top=5))]
    fn report(&self, dir: std::path::PathBuf, top: usize) -> PyResult<Vec<String>> {
        let name = self
            .location
            .clone()
            .unwrap_or_else(|| "in-memory study".into());
        let data = hnas_report::StudyData::new(
            &name,
            self.study.settings().clone(),
            self.study.trials().to_vec(),
        )
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let files = hnas_report::write_report(&data, &dir, top)
            .map_err(|e| pyo3::exceptions::PyOSError::new_err(e.to_string()))?;
        Ok(files.iter().map(|p| p.display().to_string()).collect())
    }

    /// Parses a candidate of this space from its one-line form.
    fn candidate(&self, line: &str) -> PyResult<PyCandidate> {
        let space = self.study.space();
        let c = space
            .parse_candidate(line)
            .map_err(|d| PyValueError::new_err(d.to_string()))?;
        Ok(PyCandidate::new(self.study.shared_space(), c))
    }
}

/// Checks a space text; returns its size as a decimal string, or raises ValueError with
/// every problem at `name:line:col`.
#[pyfunction]
fn check_space(text: &str, name: &str) -> PyResult<String> {
    let space = Space::parse(name, text).map_err(|d| PyValueError::new_err(d.render()))?;
    Ok(space.size().to_string())
}

/// The settings (JSON) of the study stored at `location`, or None when none is there.
#[pyfunction]
fn stored_settings(location: &str) -> PyResult<Option<String>> {
    let is_url = location.starts_with("postgres://") || location.starts_with("postgresql://");
    if !is_url && !std::path::Path::new(location).is_file() {
        return Ok(None);
    }
    let store = hnas_store::open(location).map_err(runtime)?;
    Ok(store.study().map_err(runtime)?.map(|r| r.settings))
}

#[pymodule]
fn _hnas(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyStudy>()?;
    m.add_class::<PyTrial>()?;
    m.add_class::<PyCandidate>()?;
    m.add_class::<PySpace>()?;
    m.add_class::<PyOutcome>()?;
    m.add_function(wrap_pyfunction!(check_space, m)?)?;
    m.add_function(wrap_pyfunction!(stored_settings, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
