//! A study kept in memory.

use crate::{Store, StoreError, StudyRecord, TrialRecord};

/// A study in memory: the same semantics as the SQLite store, nothing durable.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    study: Option<StudyRecord>,
    trials: Vec<TrialRecord>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn study(&self) -> Result<Option<StudyRecord>, StoreError> {
        Ok(self.study.clone())
    }
    fn put_study(&mut self, s: &StudyRecord) -> Result<(), StoreError> {
        self.study = Some(s.clone());
        Ok(())
    }
    fn trials(&self) -> Result<Vec<TrialRecord>, StoreError> {
        Ok(self.trials.clone())
    }
    fn insert_trial(&mut self, t: &TrialRecord) -> Result<(), StoreError> {
        if self.trials.iter().any(|x| x.number == t.number) {
            return Err(StoreError::Corrupt(format!(
                "trial {} inserted twice",
                t.number
            )));
        }
        self.trials.push(t.clone());
        self.trials.sort_by_key(|x| x.number);
        Ok(())
    }
    fn update_trial(&mut self, t: &TrialRecord) -> Result<(), StoreError> {
        let slot = self
            .trials
            .iter_mut()
            .find(|x| x.number == t.number)
            .ok_or(StoreError::NoTrial(t.number))?;
        *slot = t.clone();
        Ok(())
    }
    fn delete_trial(&mut self, number: u64) -> Result<(), StoreError> {
        self.trials.retain(|x| x.number != number);
        Ok(())
    }
}
