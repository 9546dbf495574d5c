//! A loop you drive: ask the study for a candidate, evaluate it however you like (here a
//! formula; in practice a cluster job, an agent, a person), tell it the outcome.
//!
//! `cargo run -p hnas --example ask_tell`

use hnas::prelude::*;
use std::sync::Arc;

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let space =
        "net = mlp(width = {16, 32, 64, 128, 256}, depth = int(1, 6), lr = logfloat(0.0001, 0.1))";
    // The evaluator named here is never called: the loop below tells every outcome.
    let unused = FnEvaluator::new("by-hand", &[], |_: &Space, _: &Candidate| {
        Err(EvalError::Fatal("evaluated by the caller".into()))
    });
    let mut study = Study::builder()
        .space("mlp.hnas", space)
        .strategy("tpe")
        .evaluator("by-hand", Arc::new(unused))
        .objective("min:loss")
        .seed(3)
        .open()?;
    for _ in 0..60 {
        let Some(asked) = study.ask()? else { break };
        if asked.reused {
            continue; // answered from an earlier result already
        }
        let tree = study.space().to_json(&asked.candidate);
        let args = &tree["root"]["args"];
        let width = args["width"].as_f64().unwrap_or(16.0);
        let depth = args["depth"].as_f64().unwrap_or(1.0);
        let lr = args["lr"].as_f64().unwrap_or(1e-3);
        let loss = (lr.log10() + 2.5).powi(2)
            + (width.log2() - 6.0).powi(2) / 4.0
            + (depth - 3.0).abs() / 5.0;
        let outcome = if depth == 6.0 {
            Err(EvalError::Failed("out of memory".into()))
        } else {
            Ok(Metrics::from([("loss".to_string(), loss)]))
        };
        study.tell(asked.index, outcome)?;
    }
    let best = study.best().expect("complete trials");
    println!(
        "best loss {:.4}: {}",
        best.value.unwrap_or(f64::NAN),
        best.candidate
    );
    assert!(best.value.unwrap() < 0.5);
    Ok(())
}
