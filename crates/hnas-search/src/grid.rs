//! Grid search: the space's candidates in enumeration (rank) order.

use crate::{Ask, Error, Outcome, Strategy};
use hnas_space::{BigUint, Space};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Enumerates a finite space in rank order; stops when every candidate was asked.
pub struct Grid {
    space: Arc<Space>,
    next: BigUint,
}

impl Grid {
    pub fn new(space: Arc<Space>) -> Result<Self, Error> {
        if space.is_continuous() {
            return Err(Error::NeedsFinite("grid".into()));
        }
        Ok(Grid {
            space,
            next: BigUint::default(),
        })
    }
}

impl Strategy for Grid {
    fn name(&self) -> &'static str {
        "grid"
    }
    fn ask(&mut self, _trial: u64, _rng: &mut ChaCha8Rng, _pending: usize) -> Option<Ask> {
        let c = self.space.unrank(&self.next).ok()?;
        self.next += 1u8;
        Some(Ask::new(c))
    }
    fn tell(&mut self, _outcome: &Outcome<'_>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn visits_every_candidate_once_and_stops() {
        let space = synthetic();
        let mut g = Grid::new(space.clone()).unwrap();
        let (best, asked) = run(&mut g, &space, 0, 10_000);
        assert_eq!(asked.len(), 16 * 16 * 3);
        let distinct: std::collections::HashSet<_> = asked.iter().collect();
        assert_eq!(distinct.len(), asked.len());
        assert_eq!(best, 1.0);
    }
}
