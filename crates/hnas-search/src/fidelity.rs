//! Multi-fidelity schedulers: successive halving (Jamieson and Talwalkar 2016), Hyperband
//! (Li et al., JMLR 2018), ASHA (Li et al., MLSys 2020) and a BOHB-like model-based
//! Hyperband (Falkner et al., ICML 2018).
//!
//! Every scheduler evaluates candidates on a ladder of fidelities (rungs, e.g. 12 and 200
//! epochs) and promotes the best `1/eta` of a rung to the next. New candidates come from a
//! base strategy (random search for SH, Hyperband and ASHA; TPE for BOHB), which is told the
//! result of each candidate's first evaluation, so its model only compares results of the
//! same rung.

use crate::{Ask, Outcome, Strategy};
use hnas_space::{Candidate, Space};
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// How the scheduler decides promotions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Asynchronous successive halving: promote a candidate as soon as it is in the top
    /// `1/eta` of the results its rung has so far; otherwise start a new one at rung 0.
    Asha,
    /// Synchronous successive halving, one bracket size, repeated.
    SuccessiveHalving,
    /// Hyperband: successive-halving brackets that start at each rung in turn.
    Hyperband,
}

struct Config {
    candidate: Candidate,
}

/// One successive-halving bracket.
struct Bracket {
    /// The rung its candidates start at.
    start: usize,
    /// How many candidates each rung (from `start`) holds.
    sizes: Vec<usize>,
    /// Per rung: candidates asked there, and their told scores (`None`: pending or failed).
    asked: Vec<Vec<usize>>,
    told: Vec<HashMap<usize, Option<f64>>>,
}

impl Bracket {
    fn rung_complete(&self, r: usize) -> bool {
        self.asked[r].len() == self.sizes[r] && self.told[r].len() == self.sizes[r]
    }
    /// Whether nothing is left to ask: the top rung is complete, or failures left a rung
    /// with nobody to promote.
    fn finished(&self) -> bool {
        self.sizes.contains(&0) || self.rung_complete(self.sizes.len() - 1)
    }

    /// Once a rung is complete, the next holds at most as many as succeeded in it.
    fn shrink_after_failures(&mut self) {
        for r in 0..self.sizes.len() - 1 {
            if self.rung_complete(r) {
                let ok = self.survivors(r).len();
                self.sizes[r + 1] = self.sizes[r + 1].min(ok);
            }
        }
    }
    /// Candidates of rung `r` worth promoting, best first.
    fn survivors(&self, r: usize) -> Vec<usize> {
        let mut ok: Vec<(usize, f64)> = self.told[r]
            .iter()
            .filter_map(|(c, s)| s.map(|s| (*c, s)))
            .collect();
        ok.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ok.into_iter().map(|(c, _)| c).collect()
    }
}

/// A multi-fidelity scheduler over a base strategy.
pub struct Scheduler {
    space: Arc<Space>,
    name: &'static str,
    schedule: Schedule,
    rungs: Vec<f64>,
    eta: f64,
    /// Candidates in rung 0 of the largest bracket (SH, Hyperband).
    first: usize,
    base: Box<dyn Strategy>,
    configs: Vec<Config>,
    /// Canonical hash -> config.
    by_network: HashMap<u64, usize>,
    /// Trial -> (config, rung, bracket index for SH/Hyperband).
    trials: HashMap<u64, (usize, usize, Option<u64>)>,
    /// Trials whose candidate came from the base strategy (it is told their outcome).
    from_base: HashSet<u64>,
    // ASHA: per rung, (config, score) of told results, best first; configs promoted from
    // each rung.
    results: Vec<Vec<(usize, f64)>>,
    promoted: Vec<Vec<bool>>,
    // SH / Hyperband: open brackets by number, and how many were opened.
    brackets: Vec<(u64, Bracket)>,
    opened: u64,
}

impl Scheduler {
    /// `rungs`: increasing fidelities (at least two); `eta` > 1: the promotion ratio;
    /// `first`: rung-0 candidates of the largest bracket (SH and Hyperband; ASHA ignores it).
    pub fn new(
        space: Arc<Space>,
        name: &'static str,
        schedule: Schedule,
        rungs: Vec<f64>,
        eta: f64,
        first: usize,
        base: Box<dyn Strategy>,
    ) -> Self {
        let n = rungs.len();
        Scheduler {
            space,
            name,
            schedule,
            rungs,
            eta,
            first: first.max(1),
            base,
            configs: Vec::new(),
            by_network: HashMap::new(),
            trials: HashMap::new(),
            from_base: HashSet::new(),
            results: vec![Vec::new(); n],
            promoted: vec![Vec::new(); n],
            brackets: Vec::new(),
            opened: 0,
        }
    }

    fn top(&self) -> usize {
        self.rungs.len() - 1
    }

    fn new_config(
        &mut self,
        trial: u64,
        rng: &mut ChaCha8Rng,
        pending: usize,
        rung: usize,
        bracket: Option<u64>,
    ) -> Option<Ask> {
        // A network already started is not started again: the base strategy is asked anew
        // (a bounded number of times). The refused proposals stay pending for it, which
        // steers strategies that track what they proposed (TPE, BANANAS, MCTS) elsewhere.
        let mut c = self.base.ask(trial, rng, pending)?.candidate;
        for _ in 1..crate::FRESH_TRIES {
            if !self.by_network.contains_key(&self.network(&c)) {
                break;
            }
            c = self.base.ask(trial, rng, pending)?.candidate;
        }
        // A base strategy stuck on known networks (a converged model on a small space):
        // a uniform sample instead, which the base strategy is not told about.
        let mut from_base = true;
        for _ in 0..crate::FRESH_TRIES {
            if !self.by_network.contains_key(&self.network(&c)) {
                break;
            }
            c = self.space.sample(rng, self.space.search_mode());
            from_base = false;
        }
        let key = self.network(&c);
        self.by_network.entry(key).or_insert(self.configs.len());
        self.configs.push(Config {
            candidate: c.clone(),
        });
        self.trials
            .insert(trial, (self.configs.len() - 1, rung, bracket));
        if from_base {
            self.from_base.insert(trial);
        }
        Some(Ask {
            candidate: c,
            fidelity: Some(self.rungs[rung]),
        })
    }

    fn network(&self, c: &Candidate) -> u64 {
        self.space.canonical_key(c)
    }

    fn promote(&mut self, trial: u64, config: usize, rung: usize, bracket: Option<u64>) -> Ask {
        self.trials.insert(trial, (config, rung, bracket));
        Ask {
            candidate: self.configs[config].candidate.clone(),
            fidelity: Some(self.rungs[rung]),
        }
    }

    fn ask_asha(&mut self, trial: u64, rng: &mut ChaCha8Rng, pending: usize) -> Option<Ask> {
        for k in (0..self.top()).rev() {
            let ranked = &self.results[k];
            let n_top = (ranked.len() as f64 / self.eta).floor() as usize;
            let pick = ranked
                .iter()
                .take(n_top)
                .map(|(c, _)| *c)
                .find(|c| !self.promoted[k].get(*c).copied().unwrap_or(false));
            if let Some(c) = pick {
                if self.promoted[k].len() <= c {
                    self.promoted[k].resize(c + 1, false);
                }
                self.promoted[k][c] = true;
                return Some(self.promote(trial, c, k + 1, None));
            }
        }
        self.new_config(trial, rng, pending, 0, None)
    }

    /// The bracket that Hyperband opens as its `number`-th (SH: always the largest).
    fn bracket(&self, number: u64) -> Bracket {
        let smax = self.top();
        let s = match self.schedule {
            Schedule::Hyperband => smax - (number as usize % (smax + 1)),
            _ => smax,
        };
        let start = smax - s;
        // Hyperband's bracket sizes, scaled so that the largest starts with `first`.
        let n0 = ((self.first as f64) * (smax as f64 + 1.0)
            / (s as f64 + 1.0)
            / self.eta.powi((smax - s) as i32))
        .ceil()
        .max(1.0) as usize;
        let mut sizes = vec![n0];
        for _ in start..smax {
            let last = *sizes.last().expect("one size at least");
            sizes.push(((last as f64 / self.eta).floor() as usize).max(1));
        }
        let m = sizes.len();
        Bracket {
            start,
            sizes,
            asked: vec![Vec::new(); m],
            told: vec![HashMap::new(); m],
        }
    }

    fn ask_brackets(&mut self, trial: u64, rng: &mut ChaCha8Rng, pending: usize) -> Option<Ask> {
        loop {
            for bi in 0..self.brackets.len() {
                let (number, b) = &mut self.brackets[bi];
                let number = *number;
                let top = b.sizes.len() - 1;
                for r in (0..top).rev() {
                    if b.rung_complete(r) && b.asked[r + 1].len() < b.sizes[r + 1] {
                        let next = b
                            .survivors(r)
                            .into_iter()
                            .find(|c| !b.asked[r + 1].contains(c));
                        if let Some(c) = next {
                            b.asked[r + 1].push(c);
                            let rung = b.start + r + 1;
                            return Some(self.promote(trial, c, rung, Some(number)));
                        }
                    }
                }
                if b.asked[0].len() < b.sizes[0] {
                    let rung = b.start;
                    let ask = self.new_config(trial, rng, pending, rung, Some(number))?;
                    let c = self.configs.len() - 1;
                    self.brackets[bi].1.asked[0].push(c);
                    return Some(ask);
                }
            }
            // Every open bracket waits for results: open the next one.
            let b = self.bracket(self.opened);
            self.brackets.push((self.opened, b));
            self.opened += 1;
        }
    }
}

impl Strategy for Scheduler {
    fn name(&self) -> &'static str {
        self.name
    }

    fn ask(&mut self, trial: u64, rng: &mut ChaCha8Rng, pending: usize) -> Option<Ask> {
        match self.schedule {
            Schedule::Asha => self.ask_asha(trial, rng, pending),
            _ => self.ask_brackets(trial, rng, pending),
        }
    }

    fn tell(&mut self, o: &Outcome<'_>) {
        if self.from_base.remove(&o.trial) {
            self.base.tell(o);
        }
        let Some((config, rung, bracket)) = self.trials.remove(&o.trial) else {
            return;
        };
        match bracket {
            None => {
                if let Some(s) = o.score {
                    let r = &mut self.results[rung];
                    let at = r.partition_point(|x| {
                        x.1.total_cmp(&s).then(config.cmp(&x.0)) == std::cmp::Ordering::Greater
                    });
                    r.insert(at, (config, s));
                }
            }
            Some(number) => {
                if let Some(i) = self.brackets.iter().position(|(n, _)| *n == number) {
                    let b = &mut self.brackets[i].1;
                    b.told[rung - b.start].insert(config, o.score);
                    b.shrink_after_failures();
                    if b.finished() {
                        self.brackets.remove(i);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{trial_rng, RandomSearch};

    fn scheduler(schedule: Schedule, rungs: Vec<f64>, eta: f64, first: usize) -> Scheduler {
        let space = crate::testing::synthetic();
        Scheduler::new(
            space.clone(),
            "test",
            schedule,
            rungs,
            eta,
            first,
            Box::new(RandomSearch::new(space)),
        )
    }

    /// Runs sequentially; the score at fidelity f is the synthetic score plus f / 1000, so a
    /// candidate ranks the same on every rung. Returns (candidate, fidelity) per trial.
    fn run(s: &mut Scheduler, n: u64) -> Vec<(String, f64)> {
        let space = crate::testing::synthetic();
        let mut out = Vec::new();
        for t in 0..n {
            let a = s.ask(t, &mut trial_rng(1, t), 0).unwrap();
            let f = a.fidelity.unwrap();
            let sc = crate::testing::score(&space, &a.candidate) + f / 1000.0;
            s.tell(&Outcome {
                trial: t,
                candidate: &a.candidate,
                score: Some(sc),
                metrics: &crate::Metrics::new(),
                objectives: &[sc],
                violation: 0.0,
                fidelity: a.fidelity,
            });
            out.push((space.print(&a.candidate), f));
        }
        out
    }

    #[test]
    fn successive_halving_keeps_the_best_third() {
        let mut s = scheduler(Schedule::SuccessiveHalving, vec![1.0, 3.0, 9.0], 3.0, 9);
        let trials = run(&mut s, 13);
        let fid: Vec<f64> = trials.iter().map(|t| t.1).collect();
        assert_eq!(&fid[..9], &[1.0; 9]);
        assert_eq!(&fid[9..12], &[3.0; 3]);
        assert_eq!(fid[12], 9.0);
        // The three promoted are the best three of rung 0, the last the best of those.
        let space = crate::testing::synthetic();
        let score =
            |line: &str| crate::testing::score(&space, &space.parse_candidate(line).unwrap());
        let mut first: Vec<&(String, f64)> = trials[..9].iter().collect();
        first.sort_by(|a, b| score(&b.0).total_cmp(&score(&a.0)));
        let promoted: Vec<&String> = trials[9..12].iter().map(|t| &t.0).collect();
        for p in &promoted {
            assert!(
                score(p) >= score(&first[2].0),
                "{p} promoted over better ones"
            );
        }
        assert_eq!(trials[12].0, *first[0].0.clone().as_str());
        // The next bracket starts over at rung 0.
        assert_eq!(run(&mut s, 1)[0].1, 1.0);
    }

    #[test]
    fn hyperband_cycles_through_brackets() {
        let mut s = scheduler(Schedule::Hyperband, vec![1.0, 3.0, 9.0], 3.0, 9);
        let trials = run(&mut s, 13 + 9 + 3);
        let fid: Vec<f64> = trials.iter().map(|t| t.1).collect();
        // Hyperband with R = 9, eta = 3: bracket s=2 runs 9 at 1, 3 at 3, 1 at 9; s=1 runs
        // ceil(3/2 * 3) = 5 at 3, then 1 at 9; s=0 runs 3 at 9; then s=2 again.
        assert_eq!(
            &fid[..13],
            &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 9.0]
        );
        assert_eq!(&fid[13..18], &[3.0; 5]);
        assert_eq!(fid[18], 9.0);
        assert_eq!(&fid[19..22], &[9.0; 3]);
        assert_eq!(fid[22], 1.0);
    }

    #[test]
    fn asha_promotes_as_soon_as_a_candidate_is_in_the_top_third() {
        let mut s = scheduler(Schedule::Asha, vec![1.0, 3.0], 3.0, 1);
        let trials = run(&mut s, 40);
        let space = crate::testing::synthetic();
        let score =
            |line: &str| crate::testing::score(&space, &space.parse_candidate(line).unwrap());
        // Replays the trials: rung-0 results so far, and those already promoted.
        let mut rung0: Vec<(f64, usize)> = Vec::new();
        let mut promoted: Vec<usize> = Vec::new();
        for (t, (line, f)) in trials.iter().enumerate() {
            let mut ranked = rung0.clone();
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let top: Vec<usize> = ranked.iter().take(ranked.len() / 3).map(|r| r.1).collect();
            let waiting: Vec<usize> = top
                .iter()
                .copied()
                .filter(|i| !promoted.contains(i))
                .collect();
            if *f == 3.0 {
                let i = waiting
                    .first()
                    .copied()
                    .expect("a promotion needs a candidate in the top third");
                assert_eq!(
                    &trials[i].0, line,
                    "trial {t} promoted another than the best waiting"
                );
                promoted.push(i);
            } else {
                assert!(
                    waiting.is_empty(),
                    "trial {t} started a new candidate while {waiting:?} waited"
                );
                rung0.push((score(line), t));
            }
        }
        assert!(
            promoted.len() >= 8,
            "{} promotions in 40 trials",
            promoted.len()
        );
    }

    #[test]
    fn asha_never_promotes_a_failed_trial_and_fills_pending_slots() {
        let space = crate::testing::synthetic();
        let mut s = scheduler(Schedule::Asha, vec![1.0, 3.0], 2.0, 1);
        // Five asked before any is told (five workers), then all fail.
        let asks: Vec<Ask> = (0..5)
            .map(|t| s.ask(t, &mut trial_rng(0, t), t as usize).unwrap())
            .collect();
        assert!(asks.iter().all(|a| a.fidelity == Some(1.0)));
        for (t, a) in asks.iter().enumerate() {
            s.tell(&Outcome {
                trial: t as u64,
                candidate: &a.candidate,
                score: None,
                metrics: &crate::Metrics::new(),
                objectives: &[],
                violation: 0.0,
                fidelity: a.fidelity,
            });
        }
        let next = s.ask(5, &mut trial_rng(0, 5), 0).unwrap();
        assert_eq!(next.fidelity, Some(1.0));
        assert!(s.results[0].is_empty());
        let _ = space;
    }

    #[test]
    fn brackets_do_not_stall_while_results_are_pending() {
        let mut s = scheduler(Schedule::SuccessiveHalving, vec![1.0, 3.0], 3.0, 3);
        // Three asked and none told: the bracket waits, so the fourth opens a new one.
        for t in 0..4 {
            let a = s.ask(t, &mut trial_rng(0, t), t as usize).unwrap();
            assert_eq!(a.fidelity, Some(1.0));
        }
        assert_eq!(s.brackets.len(), 2);
    }
}
