//! Priors from evaluators: a zero-cost proxy (or any cheap evaluator) ranking candidates
//! before a strategy spends trials, and the evaluator registry that builds one from a name.

use crate::Error;
use hnas_eval::Evaluator;
use hnas_search::Prior;
use hnas_space::{Candidate, Space};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Builds an evaluator from its name (the CLI's and the Python package's registries know
/// `train:` and `proxy:`, which this crate cannot depend on).
pub type Registry = fn(&str) -> Result<Box<dyn Evaluator>, hnas_eval::EvalError>;

static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// Installs the process's evaluator registry (once; later calls are ignored).
pub fn set_evaluator_registry(r: Registry) {
    let _ = REGISTRY.set(r);
}

/// An evaluator by name, through the installed registry, or hnas-eval's own.
pub fn evaluator_by_name(name: &str) -> Result<Box<dyn Evaluator>, Error> {
    match REGISTRY.get() {
        Some(r) => Ok(r(name)?),
        None => Ok(hnas_eval::from_name(name)?),
    }
}

/// A prior read off an evaluator's metric, each candidate evaluated once per process.
pub struct EvaluatorPrior {
    evaluator: Box<dyn Evaluator>,
    /// `None`: `aggregate` when the evaluator gives it over several proxies, else its first
    /// metric (an aggregate of one proxy is that proxy's rank among reference networks,
    /// which ties at the top where a prior has to tell candidates apart).
    metric: Option<String>,
    cache: Mutex<HashMap<(u64, String), Option<f64>>>,
}

impl EvaluatorPrior {
    fn value(&self, space: &Space, c: &Candidate) -> Option<f64> {
        let m = self.evaluator.evaluate(space, c, None).ok()?;
        let offered = self.evaluator.metrics();
        let metric = match &self.metric {
            Some(m) => m.clone(),
            None if m.contains_key("aggregate") && offered.len() > 2 => "aggregate".into(),
            None => offered.into_iter().next()?,
        };
        m.get(&metric).copied().filter(|v| v.is_finite())
    }
}

impl Prior for EvaluatorPrior {
    fn score(&self, space: &Space, c: &Candidate) -> Option<f64> {
        let key = (
            xxhash_rust::xxh3::xxh3_64(space.source().as_bytes()),
            space.print(c),
        );
        if let Some(v) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return *v;
        }
        let v = self.value(space, c);
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, v);
        v
    }
}

/// The prior named `EVALUATOR` or `EVALUATOR@METRIC`, shared by every study of the process
/// that names it (a benchmark's seeds evaluate each candidate once).
pub fn prior_from_spec(spec: &str) -> Result<Arc<dyn Prior>, Error> {
    static PRIORS: OnceLock<Mutex<HashMap<String, Arc<EvaluatorPrior>>>> = OnceLock::new();
    let priors = PRIORS.get_or_init(Default::default);
    if let Some(p) = priors.lock().unwrap_or_else(|e| e.into_inner()).get(spec) {
        return Ok(p.clone());
    }
    let (name, metric) = match spec.rsplit_once('@') {
        Some((n, m)) => (n, Some(m.to_string())),
        None => (spec, None),
    };
    let evaluator =
        evaluator_by_name(name).map_err(|e| Error::Settings(format!("prior '{spec}': {e}")))?;
    if let Some(m) = &metric {
        let offered = evaluator.metrics();
        if !offered.is_empty() && !offered.contains(m) {
            return Err(Error::Settings(format!(
                "prior '{spec}': the evaluator has no metric '{m}'; expected one of: {}",
                offered.join(", ")
            )));
        }
    }
    let p = Arc::new(EvaluatorPrior {
        evaluator,
        metric,
        cache: Mutex::new(HashMap::new()),
    });
    priors
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(spec.to_string(), p.clone());
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hnas_eval::{EvalError, Metrics};

    /// Metrics from the candidate's length: `a` grows with it, `b` shrinks.
    struct Fake(Vec<&'static str>);

    impl Evaluator for Fake {
        fn name(&self) -> &str {
            "fake"
        }
        fn metrics(&self) -> Vec<String> {
            self.0.iter().map(|s| s.to_string()).collect()
        }
        fn evaluate(
            &self,
            space: &Space,
            c: &Candidate,
            _: Option<f64>,
        ) -> Result<Metrics, EvalError> {
            let n = space.print(c).len() as f64;
            Ok(self
                .0
                .iter()
                .map(|&m| (m.to_string(), if m == "b" { -n } else { n + 0.5 }))
                .collect())
        }
    }

    #[test]
    fn the_prior_reads_the_aggregate_of_several_proxies_and_the_value_of_one() {
        let space = Space::parse("s.hnas", "net = x | yy | zzz").unwrap();
        let c = space.parse_candidate("zzz").unwrap();
        let prior = |metrics: Vec<&'static str>, metric: Option<&str>| EvaluatorPrior {
            evaluator: Box::new(Fake(metrics)),
            metric: metric.map(String::from),
            cache: Mutex::new(HashMap::new()),
        };
        // One proxy and its aggregate: the proxy itself.
        assert_eq!(
            prior(vec!["b", "aggregate"], None).score(&space, &c),
            Some(-3.0)
        );
        // Several: the aggregate.
        assert_eq!(
            prior(vec!["a", "b", "aggregate"], None).score(&space, &c),
            Some(3.5)
        );
        // Named: that one, computed once.
        let p = prior(vec!["a", "b"], Some("b"));
        assert_eq!(p.score(&space, &c), Some(-3.0));
        assert_eq!(p.cache.lock().unwrap().len(), 1);
        assert_eq!(p.score(&space, &c), Some(-3.0));
        // A prior naming a metric its evaluator lacks is refused with the choices.
        let err = prior_from_spec("hash@nope").err().unwrap().to_string();
        assert!(err.contains("no metric 'nope'"), "{err}");
    }
}
