//! Tree-structured Parzen estimator over grammar decisions (Bergstra et al., NeurIPS 2011).

use crate::{Ask, Outcome, Strategy};
use hnas_space::{Candidate, Decision, Point, Space};
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// TPE on the grammar's decisions, conditional structure kept.
///
/// After `startup` uniform samples, the told trials are split into the best `gamma` fraction
/// (at most 25) and the rest. Each decision, identified by its place in the grammar, gets a
/// categorical density from each group: counts of its options plus a prior of one
/// observation spread by the architecture counts. A decision that only exists under some
/// choice (a conditional one) is modelled only from the trials in which it occurred; where
/// it has no observation its prior is used. `candidates` candidates are drawn from the good
/// densities and the one with the largest product of good/bad density ratios is proposed
/// (one not evaluated before, where possible).
pub struct Tpe {
    space: Arc<Space>,
    startup: usize,
    gamma: f64,
    candidates: usize,
    obs: Vec<(Vec<Decision>, f64)>,
    failed: usize,
    known: HashSet<Candidate>,
}

impl Tpe {
    pub fn new(space: Arc<Space>, startup: usize, gamma: f64, candidates: usize) -> Self {
        Tpe {
            space,
            startup,
            gamma,
            candidates,
            obs: Vec::new(),
            failed: 0,
            known: HashSet::new(),
        }
    }
}

type Counts = HashMap<u64, Vec<f64>>;

fn density(counts: &Counts, p: &Point<'_>) -> Vec<f64> {
    let total_w: f64 = p.weights.iter().sum();
    let prior: Vec<f64> = p
        .weights
        .iter()
        .map(|w| if total_w > 0.0 { w / total_w } else { 0.0 })
        .collect();
    let mut d: Vec<f64> = match counts.get(&p.key) {
        Some(c) if c.len() == prior.len() => c
            .iter()
            .zip(&prior)
            .map(|(n, q)| if *q > 0.0 { n + q } else { 0.0 })
            .collect(),
        _ => prior,
    };
    let s: f64 = d.iter().sum();
    if s > 0.0 {
        d.iter_mut().for_each(|x| *x /= s);
    }
    d
}

impl Strategy for Tpe {
    fn name(&self) -> &'static str {
        "tpe"
    }

    fn ask(&mut self, _trial: u64, rng: &mut ChaCha8Rng, _pending: usize) -> Option<Ask> {
        if self.obs.len() < self.startup {
            return Some(Ask::new(self.space.sample(rng, self.space.search_mode())));
        }
        let mut order: Vec<usize> = (0..self.obs.len()).collect();
        order.sort_by(|&a, &b| self.obs[b].1.total_cmp(&self.obs[a].1).then(a.cmp(&b)));
        let n_good = ((self.gamma * self.obs.len() as f64).ceil() as usize).clamp(1, 25);
        let mut good: Counts = HashMap::new();
        let mut bad: Counts = HashMap::new();
        for (rank, &i) in order.iter().enumerate() {
            let table = if rank < n_good { &mut good } else { &mut bad };
            for d in &self.obs[i].0 {
                let v = table
                    .entry(d.key)
                    .or_insert_with(|| vec![0.0; d.arity as usize]);
                if (d.choice as usize) < v.len() {
                    v[d.choice as usize] += 1.0;
                }
            }
        }
        let mut best: Option<(bool, f64, Candidate)> = None;
        for _ in 0..self.candidates {
            let mut score = 0.0;
            let cand = self.space.derive(&mut |p: &Point<'_>| {
                let l = density(&good, p);
                let g = density(&bad, p);
                let i = crate::pick_weighted(&l, rng);
                score += (l[i as usize].max(1e-12)).ln() - (g[i as usize].max(1e-12)).ln();
                i
            });
            let fresh = !self.known.contains(&cand);
            if best
                .as_ref()
                .is_none_or(|(f, s, _)| (fresh, score) > (*f, *s))
            {
                best = Some((fresh, score, cand));
            }
        }
        let cand = best.map(|b| b.2)?;
        self.known.insert(cand.clone());
        Some(Ask::new(cand))
    }

    fn tell(&mut self, o: &Outcome<'_>) {
        self.known.insert(o.candidate.clone());
        match o.score {
            Some(s) => self.obs.push((self.space.decisions(o.candidate), s)),
            None => self.failed += 1,
        }
    }
}
