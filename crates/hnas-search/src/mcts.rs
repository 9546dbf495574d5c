//! Monte Carlo tree search over the grammar's decisions (UCT; Negrinho & Gordon,
//! "DeepArchitect", 2017).

use crate::{Ask, Outcome, Strategy};
use hnas_space::{Candidate, Point, Space};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

const ROOT: u64 = 0x6d63_7473;

fn step(prefix: u64, choice: u32) -> u64 {
    let mut z = prefix ^ (choice as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[derive(Debug, Clone)]
struct Stats {
    visits: f64,
    n: Vec<f64>,
    w: Vec<f64>,
}

/// UCT over derivation decisions.
///
/// A tree node is a prefix of decisions (so equal prefixes share their statistics whatever
/// candidate reached them). Selection follows UCT, `Q + c·sqrt(ln N / n)` with `Q` the mean
/// score of an option scaled to [0, 1] by the range of scores seen, blended with the option's
/// all-moves-as-first (RAVE) value: the mean score of every trial that made the same decision
/// (same grammar place, same choice) anywhere, weighted by `sqrt(k / (3n + k))`, k = 50. The
/// first unexplored option met (the one with the best RAVE value) is expanded and the rest of
/// the candidate is a random rollout (uniform over architectures). An asked candidate counts its visit at once, so that several pending
/// trials spread over the tree; its score is added when told (a failure counts as the worst
/// score seen). Candidates already evaluated are not proposed again while fresh ones can be
/// found (up to 16 draws).
pub struct Mcts {
    space: Arc<Space>,
    c: f64,
    nodes: HashMap<u64, Stats>,
    lo: f64,
    hi: f64,
    /// Canonical keys of the networks asked or told: an isomorph of a known cell is the
    /// same network (NB201 under `--dedup skip`: 1,916 trials recorded per 100 counted when
    /// this held forms).
    known: HashSet<u64>,
    /// All-moves-as-first statistics: (decision key, choice) -> (count, total score), from
    /// every told trial wherever the decision occurred in its derivation.
    amaf: HashMap<(u64, u32), (f64, f64)>,
}

/// RAVE equivalence parameter: an option's own statistics outweigh its AMAF statistics once
/// it has about this many visits.
const RAVE_K: f64 = 50.0;

impl Mcts {
    pub fn new(space: Arc<Space>, c: f64) -> Self {
        Mcts {
            space,
            c,
            nodes: HashMap::new(),
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            known: HashSet::new(),
            amaf: HashMap::new(),
        }
    }

    fn draw(&mut self, rng: &mut ChaCha8Rng) -> (Candidate, Vec<u64>, Vec<u32>) {
        let mut prefix = ROOT;
        let mut in_tree = true;
        let mut path = Vec::new();
        let mut choices = Vec::new();
        let (lo, hi, c) = (self.lo, self.hi, self.c);
        let nodes = &mut self.nodes;
        let amaf = &self.amaf;
        let span = if hi > lo { hi - lo } else { 1.0 };
        // An option's AMAF value scaled to [0, 1]; options never seen score 1 (optimism).
        let amaf_q = |key: u64, i: u32| match amaf.get(&(key, i)) {
            Some(&(n, w)) if n > 0.0 => ((w / n) - lo.min(hi)) / span,
            _ => 1.0,
        };
        let cand = self.space.derive(&mut |p: &Point<'_>| {
            let was_in_tree = in_tree;
            let choice = if in_tree {
                let node = nodes.entry(prefix).or_insert_with(|| Stats {
                    visits: 0.0,
                    n: vec![0.0; p.arity as usize],
                    w: vec![0.0; p.arity as usize],
                });
                let untried: Vec<u32> = (0..p.arity)
                    .filter(|&i| p.weights[i as usize] > 0.0 && node.n[i as usize] == 0.0)
                    .collect();
                if !untried.is_empty() {
                    in_tree = false;
                    // Expand the untried option the AMAF statistics like best (ties at random).
                    let top = untried
                        .iter()
                        .map(|&i| amaf_q(p.key, i))
                        .fold(f64::NEG_INFINITY, f64::max);
                    let best: Vec<u32> = untried
                        .iter()
                        .copied()
                        .filter(|&i| amaf_q(p.key, i) >= top - 1e-12)
                        .collect();
                    best[rng.random_range(0..best.len())]
                } else {
                    let ln_n = node.visits.max(1.0).ln();
                    let mut best = (f64::NEG_INFINITY, 0u32);
                    for i in 0..p.arity {
                        let iu = i as usize;
                        if p.weights[iu] <= 0.0 {
                            continue;
                        }
                        let own = if node.n[iu] > 0.0 {
                            ((node.w[iu] / node.n[iu]) - lo.min(hi)) / span
                        } else {
                            0.0
                        };
                        let beta = (RAVE_K / (3.0 * node.n[iu] + RAVE_K)).sqrt();
                        let q = (1.0 - beta) * own + beta * amaf_q(p.key, i);
                        let u = q + c * (ln_n / node.n[iu]).sqrt();
                        if u > best.0 {
                            best = (u, i);
                        }
                    }
                    best.1
                }
            } else {
                crate::pick_weighted(p.weights, rng)
            };
            if was_in_tree {
                path.push(prefix);
                choices.push(choice);
            }
            prefix = step(prefix, choice);
            choice
        });
        (cand, path, choices)
    }
}

impl Strategy for Mcts {
    fn name(&self) -> &'static str {
        "mcts"
    }

    fn ask(&mut self, _trial: u64, rng: &mut ChaCha8Rng, _pending: usize) -> Option<Ask> {
        let mut drawn = self.draw(rng);
        for _ in 0..15 {
            if !self.known.contains(&self.space.canonical_key(&drawn.0)) {
                break;
            }
            drawn = self.draw(rng);
        }
        let (cand, path, choices) = drawn;
        // The visit counts now; the score is added when the trial is told.
        for (prefix, choice) in path.iter().zip(&choices) {
            if let Some(s) = self.nodes.get_mut(prefix) {
                s.visits += 1.0;
                s.n[*choice as usize] += 1.0;
            }
        }
        self.known.insert(self.space.canonical_key(&cand));
        Some(Ask::new(cand))
    }

    fn tell(&mut self, o: &Outcome<'_>) {
        self.known.insert(self.space.canonical_key(o.candidate));
        let reward = match o.score {
            Some(s) => {
                self.lo = self.lo.min(s);
                self.hi = self.hi.max(s);
                s
            }
            None if self.lo.is_finite() => self.lo,
            None => 0.0,
        };
        let decisions = self.space.decisions(o.candidate);
        if o.score.is_some() {
            for d in &decisions {
                let e = self.amaf.entry((d.key, d.choice)).or_insert((0.0, 0.0));
                e.0 += 1.0;
                e.1 += reward;
            }
        }
        let mut prefix = ROOT;
        for d in decisions {
            match self.nodes.get_mut(&prefix) {
                Some(s) if (d.choice as usize) < s.w.len() => s.w[d.choice as usize] += reward,
                _ => break,
            }
            prefix = step(prefix, d.choice);
        }
    }
}
