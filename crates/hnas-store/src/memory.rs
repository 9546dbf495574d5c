//! A study kept in memory.

use crate::{Store, StoreError, StudyRecord, TrialRecord};

/// A study in memory: the same semantics as the SQLite store, nothing durable.
/// Trial numbers are dense (0, 1, 2, ...), so trials sit in a vector at their number.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    study: Option<StudyRecord>,
    trials: Vec<Option<TrialRecord>>,
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
        // As the file and database stores do: a rewrite changes the settings, and the
        // study keeps its name and creation time.
        self.study = Some(match self.study.take() {
            Some(old) => StudyRecord {
                settings: s.settings.clone(),
                ..old
            },
            None => s.clone(),
        });
        Ok(())
    }
    fn trials(&self) -> Result<Vec<TrialRecord>, StoreError> {
        Ok(self.trials.iter().flatten().cloned().collect())
    }
    fn insert_trial(&mut self, t: &TrialRecord) -> Result<(), StoreError> {
        let i = t.number as usize;
        if i >= self.trials.len() {
            self.trials.resize(i + 1, None);
        }
        match &mut self.trials[i] {
            Some(_) => Err(StoreError::Corrupt(format!(
                "trial {} inserted twice",
                t.number
            ))),
            slot => {
                *slot = Some(t.clone());
                Ok(())
            }
        }
    }
    fn update_trial(&mut self, t: &TrialRecord) -> Result<(), StoreError> {
        match self.trials.get_mut(t.number as usize) {
            Some(Some(slot)) => {
                slot.clone_from(t);
                Ok(())
            }
            _ => Err(StoreError::NoTrial(t.number)),
        }
    }
    fn delete_trial(&mut self, number: u64) -> Result<(), StoreError> {
        if let Some(slot) = self.trials.get_mut(number as usize) {
            *slot = None;
        }
        while matches!(self.trials.last(), Some(None)) {
            self.trials.pop();
        }
        Ok(())
    }
}
