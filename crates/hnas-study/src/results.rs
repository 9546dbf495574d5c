//! A study read back from its store, and what users ask of it: the best distinct trials,
//! the default reference point of the hypervolume, the MAP-Elites archive. The CLI, the
//! report and Python all read results through here.

use crate::{Error, Goals, Settings};
use hnas_search::{Archive, Descriptor, StrategySpec};
use hnas_store::{Store, TrialRecord, TrialState};

/// A study's settings, goals and trials, as stored.
pub struct StudyData {
    /// Where it was read from (a file path or a PostgreSQL URL), for messages and titles.
    pub name: String,
    pub settings: Settings,
    pub goals: Goals,
    pub trials: Vec<TrialRecord>,
}

impl StudyData {
    /// Reads the study at `location` without changing it.
    pub fn load(location: &str) -> Result<StudyData, Error> {
        let store = hnas_store::open_existing(location)?;
        Self::read(location, store.as_ref())
    }

    /// Reads the study a store holds.
    pub fn read(name: &str, store: &dyn Store) -> Result<StudyData, Error> {
        let settings = stored_settings(store)?
            .ok_or_else(|| Error::Settings(format!("{name} holds no study")))?;
        Self::new(name, settings, store.trials()?)
    }

    pub fn new(
        name: &str,
        settings: Settings,
        trials: Vec<TrialRecord>,
    ) -> Result<StudyData, Error> {
        let goals = Goals::parse(&settings)?;
        Ok(StudyData {
            name: name.to_string(),
            settings,
            goals,
            trials,
        })
    }

    /// The best `n` distinct (by canonical hash) complete feasible trials, best first.
    pub fn top(&self, n: usize) -> Vec<&TrialRecord> {
        let mut seen = std::collections::HashSet::new();
        let g = &self.goals;
        let mut v: Vec<(&TrialRecord, f64)> = self
            .trials
            .iter()
            .filter(|t| {
                t.state == TrialState::Complete && t.duplicate_of.is_none() && g.violation(t) == 0.0
            })
            .filter_map(|t| Some((t, g.score(t).filter(|s| s.is_finite())?)))
            .collect();
        // Stable: among equal scores the earlier trial stays first.
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v.into_iter()
            .map(|(t, _)| t)
            .filter(|t| seen.insert(t.canonical_hash.clone()))
            .take(n)
            .collect()
    }

    /// The behaviour descriptors of the study's MAP-Elites strategy (`x`, then `y`); empty
    /// when the strategy is not MAP-Elites.
    pub fn map_descriptors(&self) -> Vec<Descriptor> {
        let Ok(spec) = StrategySpec::parse(&self.settings.strategy) else {
            return Vec::new();
        };
        if spec.name != "mapelites" {
            return Vec::new();
        }
        ["x", "y"]
            .iter()
            .filter_map(|k| spec.params.get(*k))
            .filter_map(|t| Descriptor::parse(t).ok())
            .collect()
    }

    /// The archive of the best complete feasible trial per cell of `descriptors`, and the
    /// lowest score offered (the offset of the QD-score).
    pub fn archive(&self, descriptors: &[Descriptor]) -> (Archive, f64) {
        let mut archive = Archive::new(descriptors.to_vec());
        let mut lowest = f64::INFINITY;
        for t in self
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Complete && t.duplicate_of.is_none())
        {
            // Infeasible trials (constraints) have no score and hold no cell.
            if let Some(s) = self.goals.score(t) {
                lowest = lowest.min(s);
                archive.offer(&t.candidate, &t.metrics, s, t.number);
            }
        }
        (archive, lowest)
    }
}

/// The settings of the study a store holds, if it holds one.
pub fn stored_settings(store: &dyn Store) -> Result<Option<Settings>, Error> {
    match store.study()? {
        Some(rec) => serde_json::from_str(&rec.settings).map(Some).map_err(|e| {
            Error::Settings(format!("the study's stored settings are unreadable: {e}"))
        }),
        None => Ok(None),
    }
}

impl Goals {
    /// The worst feasible value of each objective, as measured: the default reference point
    /// of the hypervolume (0 for an objective no feasible trial has).
    pub fn nadir(&self, trials: &[TrialRecord]) -> Vec<f64> {
        self.objectives
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let worst = trials
                    .iter()
                    .filter(|t| self.violation(t) == 0.0)
                    .filter_map(|t| self.vector(t))
                    .map(|v| v[i])
                    .fold(f64::INFINITY, f64::min);
                if worst.is_finite() {
                    o.score(worst)
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// A reference point in the objectives' measured units, turned to the maximized scores
    /// the hypervolume is computed on.
    pub fn oriented(&self, reference: &[f64]) -> Vec<f64> {
        self.objectives
            .iter()
            .zip(reference)
            .map(|(o, r)| o.score(*r))
            .collect()
    }

    /// The hypervolume of `front`'s objective vectors from `reference` (measured units).
    pub fn hypervolume(&self, front: &[&TrialRecord], reference: &[f64]) -> f64 {
        let points: Vec<Vec<f64>> = front.iter().filter_map(|t| self.vector(t)).collect();
        hnas_search::pareto::hypervolume(&points, &self.oriented(reference))
    }
}
