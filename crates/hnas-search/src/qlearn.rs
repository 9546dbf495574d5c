//! Regularized evolution with mutation chosen by Q-learning (HHNAS-AM: hierarchical NAS with
//! adaptive mutation).

use crate::{Ask, Outcome, Strategy};
use hnas_space::{Candidate, SiteKind, Space};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

const KINDS: [SiteKind; 5] = [
    SiteKind::Alternative,
    SiteKind::Parameter,
    SiteKind::EdgeOp,
    SiteKind::EdgeSource,
    SiteKind::Length,
];
/// Hierarchy levels told apart (deeper sites share the last level).
const LEVELS: u32 = 4;

/// An action: which kind of mutation, at which level of the hierarchy.
type Action = (usize, u32);

fn action_of(kind: SiteKind, depth: u32) -> Action {
    (
        KINDS.iter().position(|k| *k == kind).unwrap_or(0),
        depth.min(LEVELS - 1),
    )
}

/// Regularized evolution whose mutation operator is a learned policy.
///
/// - **Parents** as in regularized evolution (tournament of `sample` from the last
///   `population` members).
/// - **Action**: a (mutation kind, hierarchy level) pair among those the parent offers: kinds
///   are re-derive an alternative, change a parameter, change a DAG edge's operation, move a
///   DAG edge, resize a list; levels are nesting depths 0, 1, 2 and 3+.
/// - **State**: whether the previous mutation improved on its parent (2 states).
/// - **Reward**: 1 when the child beats its parent, 0 otherwise (a failed child included), so
///   that a value estimates how often an action improves. (Rewarding the size of the change,
///   with a penalty for failures, taught the policy to shun any operator that sometimes
///   fails, and it then stalled where only that operator could improve.)
/// - **Learning**: one-step Q-learning, `Q(s,a) += alpha (r + gamma max Q(s',·) - Q(s,a))`,
///   alpha 0.2, gamma 0.5, values starting at 0.
/// - **Exploration**: epsilon-greedy, epsilon = max(0.05, 0.5 / sqrt(1 + mutations told)).
pub struct QLearningEvolution {
    space: Arc<Space>,
    population: usize,
    sample: usize,
    members: VecDeque<(Candidate, f64)>,
    asked: u64,
    q: HashMap<(u8, Action), f64>,
    state: u8,
    /// trial -> (state, action, parent score)
    pending: HashMap<u64, (u8, Action, f64)>,
    told: u64,
}

impl QLearningEvolution {
    pub fn new(space: Arc<Space>, population: usize, sample: usize) -> Self {
        QLearningEvolution {
            space,
            population: population.max(1),
            sample: sample.max(1),
            members: VecDeque::new(),
            asked: 0,
            q: HashMap::new(),
            state: 0,
            pending: HashMap::new(),
            told: 0,
        }
    }

    fn q(&self, s: u8, a: Action) -> f64 {
        self.q.get(&(s, a)).copied().unwrap_or(0.0)
    }

    /// The learned value of every action in a state (for inspection and tests).
    pub fn values(&self, state: u8) -> Vec<((SiteKind, u32), f64)> {
        let mut v: Vec<_> = self
            .q
            .iter()
            .filter(|((s, _), _)| *s == state)
            .map(|((_, (k, l)), q)| ((KINDS[*k], *l), *q))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v
    }
}

impl Strategy for QLearningEvolution {
    fn name(&self) -> &'static str {
        "qlearn"
    }

    fn ask(&mut self, trial: u64, rng: &mut ChaCha8Rng, _pending: usize) -> Option<Ask> {
        self.asked += 1;
        if self.asked <= self.population as u64 || self.members.is_empty() {
            return Some(Ask::new(self.space.sample(rng, self.space.search_mode())));
        }
        let best = crate::rea::tournament(&self.members, self.sample, rng);
        let (parent, parent_score) = self.members[best].clone();
        let sites = self.space.mutation_sites(&parent);
        if sites.is_empty() {
            return Some(Ask::new(parent));
        }
        let mut actions: Vec<Action> = sites.iter().map(|s| action_of(s.kind, s.depth)).collect();
        actions.sort_unstable();
        actions.dedup();
        let eps = (0.5 / (1.0 + self.told as f64).sqrt()).max(0.05);
        let action = if rng.random_bool(eps) {
            actions[rng.random_range(0..actions.len())]
        } else {
            let mut a = actions[0];
            for &b in &actions[1..] {
                if self.q(self.state, b) > self.q(self.state, a) {
                    a = b;
                }
            }
            a
        };
        let fitting: Vec<_> = sites
            .iter()
            .filter(|s| action_of(s.kind, s.depth) == action)
            .collect();
        let site = fitting[rng.random_range(0..fitting.len())];
        let child = self
            .space
            .mutate_at(&parent, site, self.space.search_mode(), rng);
        self.pending
            .insert(trial, (self.state, action, parent_score));
        Some(Ask::new(child))
    }

    fn tell(&mut self, o: &Outcome<'_>) {
        if let Some(s) = o.score {
            self.members.push_back((o.candidate.clone(), s));
            if self.members.len() > self.population {
                self.members.pop_front();
            }
        }
        let Some((s, a, parent_score)) = self.pending.remove(&o.trial) else {
            return;
        };
        let improved = o.score.is_some_and(|c| c > parent_score);
        let reward = if improved { 1.0 } else { 0.0 };
        let next = if improved { 1 } else { 0 };
        let best_next = self
            .q
            .iter()
            .filter(|((st, _), _)| *st == next)
            .map(|(_, v)| *v)
            .fold(0.0, f64::max);
        let old = self.q(s, a);
        self.q
            .insert((s, a), old + 0.2 * (reward + 0.5 * best_next - old));
        self.state = next;
        self.told += 1;
    }
}
