//! The examples run as tests, so that they stay true.

#[path = "../examples/own_strategy.rs"]
mod own_strategy;

#[path = "../examples/own_evaluator.rs"]
mod own_evaluator;

#[path = "../examples/ask_tell.rs"]
mod ask_tell;

#[test]
fn a_strategy_of_ones_own_runs_a_study_and_resumes_it() {
    own_strategy::main().unwrap();
}

#[test]
fn an_evaluator_of_ones_own_gives_a_front() {
    own_evaluator::main().unwrap();
}

#[test]
fn an_ask_tell_loop_finds_a_low_loss() {
    ask_tell::main().unwrap();
}
