//! A strategy of your own: hill climbing with restarts, written outside hnas's crates,
//! drives a study kept in an SQLite file, which a second run resumes.
//!
//! `cargo run -p hnas --example own_strategy`

use hnas::prelude::*;
use std::sync::Arc;

/// From the best candidate so far, one mutation at a time; a fresh sample every
/// `restart` trials, or while nothing has been told yet.
struct HillClimb {
    space: Arc<Space>,
    restart: u64,
    best: Option<(f64, Candidate)>,
}

impl Strategy for HillClimb {
    fn name(&self) -> &'static str {
        "hill-climb"
    }

    fn ask(&mut self, trial: u64, rng: &mut ChaCha8Rng, _pending: usize) -> Option<Ask> {
        // Randomness only from `rng` (the trial's own stream), so that a resume replays.
        let candidate = match &self.best {
            Some((_, b)) if !trial.is_multiple_of(self.restart) => self.space.mutate(b, rng),
            _ => self.space.sample(rng, SampleMode::Uniform),
        };
        Some(Ask::new(candidate))
    }

    fn tell(&mut self, outcome: &Outcome<'_>) {
        if let Some(s) = outcome.score {
            if self.best.as_ref().is_none_or(|(b, _)| s > *b) {
                self.best = Some((s, outcome.candidate.clone()));
            }
        }
    }
}

fn study(path: &str, budget: u64) -> Result<Study, hnas::study::Error> {
    Study::builder()
        .space_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/spaces/nb201.hnas"
        ))?
        .custom_strategy("hill-climb", |space| {
            Box::new(HillClimb {
                space,
                restart: 25,
                best: None,
            })
        })
        .evaluator_named("nb201:cifar10")?
        .budget(budget)
        .seed(7)
        .storage(path)
        .open()
}

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("hnas-own-strategy-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("study.db").display().to_string();
    let _ = std::fs::remove_file(&path);

    // 60 trials, then the same study file opened again and extended to 100.
    study(&path, 60)?.run(&mut |_| {})?;
    let mut resumed = study(&path, 100)?;
    assert_eq!(resumed.trials().len(), 60, "the stored trials are replayed");
    resumed.run(&mut |_| {})?;

    // The same 100 trials as one uninterrupted run.
    let straight = dir.join("straight.db").display().to_string();
    let mut one = study(&straight, 100)?;
    one.run(&mut |_| {})?;
    let lines = |s: &Study| {
        s.trials()
            .iter()
            .map(|t| t.candidate.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(lines(&resumed), lines(&one));

    let best = resumed.best().expect("complete trials");
    println!(
        "hill-climb, 100 trials: best valid_12 {:.2} (test_200 {:.2}) {}",
        best.value.unwrap_or(f64::NAN),
        best.metrics.get("test_200").copied().unwrap_or(f64::NAN),
        best.candidate
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
