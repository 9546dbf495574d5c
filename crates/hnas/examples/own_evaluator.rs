//! An evaluator of your own: a type that implements `Evaluator` (here a stand-in for a
//! cost model: operations weighted by a made-up price, with a penalty that makes some
//! candidates fail), searched for two objectives at once.
//!
//! `cargo run -p hnas --example own_evaluator`

use hnas::prelude::*;
use std::sync::Arc;

struct CostModel;

impl Evaluator for CostModel {
    fn name(&self) -> &str {
        "cost-model"
    }

    fn metrics(&self) -> Vec<String> {
        vec!["quality".into(), "price".into()]
    }

    fn evaluate(
        &self,
        space: &Space,
        c: &Candidate,
        _fidelity: Option<f64>,
    ) -> Result<Metrics, EvalError> {
        let line = space.print(c);
        let count = |op: &str| line.matches(op).count() as f64;
        let (conv3, conv1, pool) = (
            count("nor_conv_3x3"),
            count("nor_conv_1x1"),
            count("avg_pool_3x3"),
        );
        if count("none") == 6.0 {
            // A failed trial, with its reason: the search goes on.
            return Err(EvalError::Failed("no operation on any edge".into()));
        }
        Ok(Metrics::from([
            ("quality".to_string(), 3.0 * conv3 + 2.0 * conv1 + pool),
            ("price".to_string(), 9.0 * conv3 + conv1 + 0.5 * pool),
        ]))
    }
}

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut study = Study::builder()
        .space_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/spaces/nb201.hnas"
        ))?
        .strategy("nsga2:population=20")
        .evaluator("cost-model", Arc::new(CostModel))
        .objective("max:quality")
        .objective("min:price")
        .budget(200)
        .open()?;
    let summary = study.run(&mut |_| {})?;
    let front = study.goals().pareto_front(study.trials());
    assert!(
        front.len() >= 3,
        "a trade-off has several non-dominated points"
    );
    for t in &front {
        assert_eq!(t.state, hnas::store::TrialState::Complete);
    }
    println!(
        "{} trials ({} failed), {} on the front of quality against price",
        summary.trials,
        summary.failed,
        front.len()
    );
    Ok(())
}
