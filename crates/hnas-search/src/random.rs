//! Random search: every trial an independent uniform draw from the space.

use crate::{Ask, Outcome, Strategy};
use hnas_space::{Candidate, Space};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// What random search draws uniformly from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// Every derivation (form) equally likely: exact for spaces of any size, and what the
    /// published random baselines do (NAS-Bench-201 samples cells, not networks).
    Forms,
    /// Every distinct network (canonical class) equally likely: the space is enumerated
    /// once (at most [`RandomSearch::NETWORKS_LIMIT`] forms) and one form kept per network.
    Networks,
}

/// Uniform random sampling over all architectures of the space.
pub struct RandomSearch {
    space: Arc<Space>,
    networks: Option<Vec<Candidate>>,
}

impl RandomSearch {
    /// Largest space, in forms, that `over=networks` enumerates.
    pub const NETWORKS_LIMIT: u64 = 2_000_000;

    pub fn new(space: Arc<Space>) -> Self {
        RandomSearch {
            space,
            networks: None,
        }
    }

    /// Random search over `over`; `Networks` fails (with the reason) on a space too large
    /// or continuous to enumerate.
    pub fn over(space: Arc<Space>, over: Over) -> Result<Self, String> {
        let networks = match over {
            Over::Forms => None,
            Over::Networks => Some(space.networks(Self::NETWORKS_LIMIT).ok_or_else(|| {
                format!(
                    "random:over=networks enumerates the space, which must be finite and have at most {} forms (this one has {})",
                    Self::NETWORKS_LIMIT,
                    if space.is_continuous() { "continuous parameters".to_string() } else { space.size().to_string() }
                )
            })?),
        };
        Ok(RandomSearch { space, networks })
    }
}

impl Strategy for RandomSearch {
    fn name(&self) -> &'static str {
        "random"
    }
    fn ask(&mut self, _trial: u64, rng: &mut ChaCha8Rng, _pending: usize) -> Option<Ask> {
        match &self.networks {
            Some(v) if !v.is_empty() => Some(Ask::new(v[rng.random_range(0..v.len())].clone())),
            _ => Some(Ask::new(self.space.sample(rng, self.space.search_mode()))),
        }
    }
    fn tell(&mut self, _outcome: &Outcome<'_>) {}
}
