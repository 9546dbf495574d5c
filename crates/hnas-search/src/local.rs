//! Local search with best improvement and random restarts (White et al., "Local search is
//! state of the art for NAS benchmarks", UAI 2021).

use crate::{Ask, Outcome, Strategy};
use hnas_space::{Candidate, Space};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Best-improvement local search over the space's single-step neighbourhood.
///
/// Start at a uniform sample; evaluate its whole neighbourhood (in a seeded random order);
/// move to the best neighbour if it beats the current point, otherwise (a local optimum)
/// restart from a new uniform sample. Neighbours whose outcome is already known are not
/// asked again: their known scores take part in the comparison. While neighbours are still
/// pending and none is left to ask (several workers), extra trials are uniform samples.
pub struct LocalSearch {
    space: Arc<Space>,
    known: HashMap<Candidate, Option<f64>>,
    current: Option<(Candidate, f64)>,
    /// The current point's neighbourhood is still to be built (at the next ask, so that its
    /// order comes from that trial's random stream).
    needs_expand: bool,
    /// Trial whose outcome becomes the current point (a start or a restart).
    starting: Option<u64>,
    queue: VecDeque<Candidate>,
    outstanding: HashMap<u64, Candidate>,
    best_neighbour: Option<(Candidate, f64)>,
}

impl LocalSearch {
    pub fn new(space: Arc<Space>) -> Self {
        LocalSearch {
            space,
            known: HashMap::new(),
            current: None,
            needs_expand: false,
            starting: None,
            queue: VecDeque::new(),
            outstanding: HashMap::new(),
            best_neighbour: None,
        }
    }

    fn consider(&mut self, c: &Candidate, score: Option<f64>) {
        if let Some(s) = score {
            if self.best_neighbour.as_ref().is_none_or(|(_, b)| s > *b) {
                self.best_neighbour = Some((c.clone(), s));
            }
        }
    }

    fn expand(&mut self, rng: &mut ChaCha8Rng) {
        self.needs_expand = false;
        self.queue.clear();
        self.best_neighbour = None;
        let Some((cur, _)) = &self.current else {
            return;
        };
        let mut ns = self.space.neighbours(cur);
        ns.shuffle(rng);
        for n in ns {
            match self.known.get(&n).copied() {
                Some(score) => self.consider(&n, score),
                None => self.queue.push_back(n),
            }
        }
    }
}

impl Strategy for LocalSearch {
    fn name(&self) -> &'static str {
        "ls"
    }

    fn ask(&mut self, trial: u64, rng: &mut ChaCha8Rng, _pending: usize) -> Option<Ask> {
        loop {
            if self.needs_expand {
                self.expand(rng);
            }
            let complete =
                self.current.is_some() && self.queue.is_empty() && self.outstanding.is_empty();
            if !complete {
                break;
            }
            let improves = matches!((&self.best_neighbour, &self.current), (Some((_, b)), Some((_, c))) if b > c);
            if improves {
                self.current = self.best_neighbour.take();
                self.needs_expand = true;
            } else {
                self.current = None; // a local optimum: restart
            }
        }
        if self.current.is_none() && self.starting.is_none() {
            self.starting = Some(trial);
            return Some(Ask::new(self.space.sample(rng, self.space.search_mode())));
        }
        if let Some(c) = self.queue.pop_front() {
            self.outstanding.insert(trial, c.clone());
            return Some(Ask::new(c));
        }
        Some(Ask::new(self.space.sample(rng, self.space.search_mode())))
    }

    fn tell(&mut self, o: &Outcome<'_>) {
        self.known.insert(o.candidate.clone(), o.score);
        if self.starting == Some(o.trial) {
            self.starting = None;
            if let Some(s) = o.score {
                self.current = Some((o.candidate.clone(), s));
                self.needs_expand = true;
            }
        } else if self.outstanding.remove(&o.trial).is_some() {
            self.consider(o.candidate, o.score);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn climbs_to_the_optimum_of_a_synthetic_space() {
        let space = synthetic();
        for seed in 0..5 {
            let mut s = LocalSearch::new(space.clone());
            let (best, _) = run(&mut s, &space, seed, 400);
            assert_eq!(best, 1.0, "seed {seed}");
        }
    }

    #[test]
    fn never_asks_a_known_neighbour_twice_in_a_climb() {
        let space = synthetic();
        let mut s = LocalSearch::new(space.clone());
        let (_, asked) = run(&mut s, &space, 1, 120);
        // Within the first climb (before any restart) every asked candidate is new.
        let distinct: std::collections::HashSet<_> = asked.iter().collect();
        assert!(
            distinct.len() as f64 >= 0.95 * asked.len() as f64,
            "{} of {}",
            distinct.len(),
            asked.len()
        );
    }

    #[test]
    fn failures_restart_and_determinism_holds() {
        let space = synthetic();
        let go = |seed| {
            let mut s = LocalSearch::new(space.clone());
            let mut asked = Vec::new();
            for n in 0..200u64 {
                let c = s
                    .ask(n, &mut crate::trial_rng(seed, n), 0)
                    .unwrap()
                    .candidate;
                let score = (n % 7 != 0).then(|| score(&space, &c));
                asked.push(space.print(&c));
                s.tell(&Outcome {
                    trial: n,
                    candidate: &c,
                    score,
                    metrics: &crate::Metrics::new(),
                    objectives: &[],
                    violation: 0.0,
                    fidelity: None,
                });
            }
            asked
        };
        assert_eq!(go(3), go(3));
        assert_ne!(go(3), go(4));
    }
}
