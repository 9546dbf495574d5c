//! Regularized (aging) evolution (Real et al., AAAI 2019).

use crate::{Ask, Outcome, Strategy};
use hnas_space::{Candidate, Space};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::sync::Arc;

/// Regularized evolution: the first `population` trials are uniform samples; after that each
/// trial picks `sample` members of the population at random (without replacement), mutates
/// the best of them once, and the child joins the population while the oldest member leaves.
/// Failed trials do not join. Defaults 30 / 10, as in NASLib.
pub struct RegularizedEvolution {
    space: Arc<Space>,
    population: usize,
    sample: usize,
    members: VecDeque<(Candidate, f64)>,
    asked: u64,
}

impl RegularizedEvolution {
    pub fn new(space: Arc<Space>, population: usize, sample: usize) -> Self {
        RegularizedEvolution {
            space,
            population: population.max(1),
            sample: sample.max(1),
            members: VecDeque::new(),
            asked: 0,
        }
    }
}

/// Regularized evolution's parent choice: `sample` members drawn without replacement, the
/// highest score wins (among equals the earliest pick, so the choice is seed-determined).
/// `members` must not be empty.
pub(crate) fn tournament(
    members: &VecDeque<(Candidate, f64)>,
    sample: usize,
    rng: &mut ChaCha8Rng,
) -> usize {
    let k = sample.min(members.len());
    let picks = rand::seq::index::sample(rng, members.len(), k);
    let mut best = picks.index(0);
    for i in picks.iter().skip(1) {
        if members[i].1 > members[best].1 {
            best = i;
        }
    }
    best
}

impl Strategy for RegularizedEvolution {
    fn name(&self) -> &'static str {
        "rea"
    }

    fn ask(&mut self, _trial: u64, rng: &mut ChaCha8Rng, _pending: usize) -> Option<Ask> {
        self.asked += 1;
        if self.asked <= self.population as u64 || self.members.is_empty() {
            return Some(Ask::new(self.space.sample(rng, self.space.search_mode())));
        }
        let best = tournament(&self.members, self.sample, rng);
        Some(Ask::new(self.space.mutate(&self.members[best].0, rng)))
    }

    fn tell(&mut self, o: &Outcome<'_>) {
        if let Some(score) = o.score {
            self.members.push_back((o.candidate.clone(), score));
            if self.members.len() > self.population {
                self.members.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn finds_the_optimum_of_a_synthetic_space() {
        let space = synthetic();
        let mut hits = 0;
        for seed in 0..10 {
            let mut s = RegularizedEvolution::new(space.clone(), 20, 5);
            let (best, _) = run(&mut s, &space, seed, 400);
            hits += usize::from(best == 1.0);
        }
        assert!(hits >= 9, "optimum found in {hits}/10 runs");
    }

    #[test]
    fn deterministic_for_a_seed() {
        let space = synthetic();
        let a = run(
            &mut RegularizedEvolution::new(space.clone(), 10, 3),
            &space,
            4,
            100,
        )
        .1;
        let b = run(
            &mut RegularizedEvolution::new(space.clone(), 10, 3),
            &space,
            4,
            100,
        )
        .1;
        let c = run(
            &mut RegularizedEvolution::new(space.clone(), 10, 3),
            &space,
            5,
            100,
        )
        .1;
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn survives_failures_and_ages_out_members() {
        let space = synthetic();
        let mut s = RegularizedEvolution::new(space.clone(), 4, 2);
        for n in 0..50u64 {
            let c = s.ask(n, &mut crate::trial_rng(1, n), 0).unwrap().candidate;
            let score = (n % 3 != 0).then(|| score(&space, &c));
            s.tell(&Outcome {
                trial: n,
                candidate: &c,
                score,
                metrics: &crate::Metrics::new(),
                objectives: &[],
                violation: 0.0,
                fidelity: None,
            });
            assert!(s.members.len() <= 4);
        }
        assert_eq!(s.members.len(), 4);
    }
}
