//! Random search: every trial an independent uniform draw from the space.

use crate::{Ask, Outcome, Strategy};
use hnas_space::Space;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Uniform random sampling over all architectures of the space.
pub struct RandomSearch {
    space: Arc<Space>,
}

impl RandomSearch {
    pub fn new(space: Arc<Space>) -> Self {
        RandomSearch { space }
    }
}

impl Strategy for RandomSearch {
    fn name(&self) -> &'static str {
        "random"
    }
    fn ask(&mut self, _trial: u64, rng: &mut ChaCha8Rng, _pending: usize) -> Option<Ask> {
        Some(Ask::new(self.space.sample(rng, self.space.search_mode())))
    }
    fn tell(&mut self, _outcome: &Outcome<'_>) {}
}
