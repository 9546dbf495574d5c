//! Workers: any number of processes, on any machines, sharing one study in PostgreSQL.
//!
//! A worker repeats: take the study's lock; hand itself a running trial whose lease has
//! expired (its worker died), or else rebuild the strategy from the stored asks and tells
//! and ask it for the next trial (the unfinished trials of other workers count as pending);
//! release the lock; evaluate while a heartbeat renews the lease; take the lock again and
//! record the outcome, which only the attempt holding the trial can do (so no result is
//! recorded twice). A worker killed at any moment loses nothing: its trial's lease expires
//! and another worker runs it again as the next attempt.

use crate::{Error, Proposal, Settings, Study};
use hnas_eval::Evaluator;
use hnas_store::{now, PgStore, Store, TrialRecord};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The name recorded with the trials it runs (default: host/pid).
    pub id: String,
    /// Seconds a trial stays handed out without a heartbeat.
    pub lease: f64,
    /// Seconds between looks at the study while others finish the last trials.
    pub poll: f64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "host".into());
        WorkerConfig {
            id: format!("{host}/{}", std::process::id()),
            lease: 60.0,
            poll: 0.05,
        }
    }
}

/// What one worker did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerSummary {
    /// Trials it evaluated and recorded.
    pub evaluated: usize,
    /// Of those, trials another worker had started and lost (expired leases).
    pub taken_over: usize,
    /// Duplicates it answered from earlier results.
    pub reused: usize,
    /// Outcomes it could not record because its lease had expired and another attempt
    /// took the trial.
    pub lost: usize,
}

/// What the worker reports as it goes.
#[derive(Debug)]
pub enum WorkerEvent<'a> {
    Recorded {
        trial: &'a TrialRecord,
        counted: u64,
        budget: u64,
    },
    TakenOver {
        trial: u64,
        attempt: u32,
    },
    Lost {
        trial: u64,
    },
}

/// Runs one worker until the study's budget is spent and no trial is left unfinished.
pub fn run_worker(
    settings: Settings,
    evaluator: Arc<dyn Evaluator>,
    url: &str,
    cfg: &WorkerConfig,
    on_event: &mut dyn FnMut(WorkerEvent<'_>),
) -> Result<WorkerSummary, Error> {
    let mut store = PgStore::open(url)?;
    // The worker's own view of the study: created, or checked against the stored settings
    // and replayed, under the lock. Later it only absorbs new events (it asks and evaluates
    // in memory; the worker writes through `store`).
    store.lock()?;
    let opened = Study::open(settings.clone(), evaluator, Box::new(PgStore::open(url)?));
    store.commit()?;
    let mut study = opened?;

    let current: Arc<Mutex<Option<(u64, u32)>>> = Arc::new(Mutex::new(None));
    // Dropping the sender stops the heartbeat at once (not after its next beat).
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let heartbeat = {
        let current = current.clone();
        let (mut hb, id, lease) = (PgStore::open(url)?, cfg.id.clone(), cfg.lease);
        std::thread::spawn(move || {
            let beat = Duration::from_secs_f64((lease / 4.0).max(0.05));
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(beat) {
                let held = *current.lock().expect("heartbeat lock");
                if let Some((n, attempt)) = held {
                    // A failed renewal is not fatal: the outcome is refused later instead.
                    let _ = hb.renew(n, attempt, &id, now() + lease);
                }
            }
        })
    };
    let result = work(&settings, &mut study, &mut store, cfg, &current, on_event);
    drop(stop);
    let _ = heartbeat.join();
    result
}

fn work(
    settings: &Settings,
    study: &mut Study,
    store: &mut PgStore,
    cfg: &WorkerConfig,
    current: &Arc<Mutex<Option<(u64, u32)>>>,
    on_event: &mut dyn FnMut(WorkerEvent<'_>),
) -> Result<WorkerSummary, Error> {
    let mut summary = WorkerSummary::default();
    loop {
        store.lock()?;
        let t0 = now();
        // Only what changed since the last look: the strategy is never rebuilt.
        let changed = store.trials_since(study.next_sequence())?;
        study.absorb(changed)?;
        // A dead worker's trial first: it was asked already.
        let (index, candidate, attempt) =
            if let Some(t) = store.claim_expired(&cfg.id, t0, t0 + cfg.lease)? {
                store.commit()?;
                on_event(WorkerEvent::TakenOver {
                    trial: t.number,
                    attempt: t.attempt,
                });
                summary.taken_over += 1;
                let c = study.space().parse_candidate(&t.candidate).map_err(|d| {
                    Error::Settings(format!(
                        "trial {} holds a candidate outside the space: {d}",
                        t.number
                    ))
                })?;
                (t.number as usize, c, t.attempt)
            } else {
                let spent: f64 = study.trials().iter().map(|t| t.cost).sum();
                let done = study.counted() >= settings.budget
                    || settings.max_cost.is_some_and(|m| spent >= m);
                if done {
                    let unfinished = study.trials().iter().any(|t| t.tell_seq.is_none());
                    store.commit()?;
                    if !unfinished {
                        return Ok(summary);
                    }
                    // Others are finishing the last trials; if one dies, its lease expires.
                    std::thread::sleep(Duration::from_secs_f64(cfg.poll));
                    continue;
                }
                match study.propose()? {
                    None => {
                        store.commit()?;
                        return Ok(summary);
                    }
                    Some(Proposal::Reused(i, _)) => {
                        store.insert_trial(&study.trials()[i])?;
                        store.commit()?;
                        summary.reused += 1;
                        continue;
                    }
                    Some(Proposal::New(i, c)) => {
                        let mut t = study.trials()[i].clone();
                        t.worker = Some(cfg.id.clone());
                        store.insert_trial(&t)?;
                        store.lease(t.number, &cfg.id, t0 + cfg.lease)?;
                        store.commit()?;
                        (i, c, 1)
                    }
                }
            };
        *current.lock().expect("heartbeat lock") = Some((index as u64, attempt));
        let outcome = study.evaluate(index, &candidate);
        *current.lock().expect("heartbeat lock") = None;
        let mut finished = outcome.map_err(Error::Evaluator)?;
        finished.attempt = attempt;
        finished.worker = Some(cfg.id.clone());
        store.lock()?;
        let recorded = store.complete(&finished)?;
        store.commit()?;
        if recorded {
            summary.evaluated += 1;
            let counted = study.counted();
            on_event(WorkerEvent::Recorded {
                trial: &finished,
                counted,
                budget: settings.budget,
            });
        } else {
            summary.lost += 1;
            on_event(WorkerEvent::Lost {
                trial: finished.number,
            });
        }
    }
}
