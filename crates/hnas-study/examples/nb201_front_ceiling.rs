//! How much of NAS-Bench-201's true Pareto front (CIFAR-10 `test_200` against Raspberry Pi 5
//! ONNX latency, reference 85 % / 10 ms) a search can reach at all when each network is
//! evaluated once.
//!
//! The true front is taken over all 15,625 table rows, but isomorphic cells are one network
//! (6,466 of them): a study evaluates whichever member it meets first and answers the others
//! from that result. Isomorphic rows share their latency but not their accuracy (each row was
//! trained separately), so the true front keeps each network's luckiest training run. This
//! draws one member per network at random, as a search would meet them, and prints the mean
//! hypervolume fraction of (a) every network and (b) only the networks on the front of
//! class-mean accuracies.
//!
//! `cargo run --release -p hnas-study --example nb201_front_ceiling` (reads the table from
//! `HNAS_DATA`, else the copy built into hnas).

use hnas_eval::Evaluator;
use hnas_search::pareto::{add_non_dominated, hypervolume};
use hnas_space::Space;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

const DRAWS: usize = 200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let text = include_str!("../../../examples/spaces/nb201.hnas");
    let space = Space::parse("nb201.hnas", text).map_err(|d| d.to_string())?;
    let eval = hnas_eval::nb201("cifar10")?;
    let reference = [85.0, -10.0];
    // Every row as (accuracy, -latency), grouped by network.
    let mut classes: HashMap<u64, Vec<[f64; 2]>> = HashMap::new();
    let mut all: Vec<Vec<f64>> = Vec::new();
    let mut rows = 0;
    for c in space.enumerate()? {
        rows += 1;
        let m = eval.evaluate(&space, &c, None)?;
        let p = [m["test_200"], -m["latency_ms_pi5_onnx"]];
        classes.entry(space.canonical_key(&c)).or_default().push(p);
        add_non_dominated(&mut all, p.to_vec(), |q| q);
    }
    let truth = hypervolume(&all, &reference);
    let mut keys: Vec<u64> = classes.keys().copied().collect();
    keys.sort_unstable();
    // The front of class means: the networks a perfect search would evaluate.
    let mut mean_front: Vec<(u64, Vec<f64>)> = Vec::new();
    for &k in &keys {
        let members = &classes[&k];
        let acc = members.iter().map(|p| p[0]).sum::<f64>() / members.len() as f64;
        add_non_dominated(&mut mean_front, (k, vec![acc, members[0][1]]), |e| &e.1);
    }
    let mean_front: Vec<u64> = mean_front
        .into_iter()
        .filter(|(_, p)| p[0] > reference[0] && p[1] > reference[1])
        .map(|(k, _)| k)
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut ceiling = |subset: &[u64]| {
        let mut total = 0.0;
        for _ in 0..DRAWS {
            let mut front = Vec::new();
            for k in subset {
                let members = &classes[k];
                let p = members[rng.random_range(0..members.len())];
                add_non_dominated(&mut front, p.to_vec(), |q| q);
            }
            total += hypervolume(&front, &reference) / truth;
        }
        100.0 * total / DRAWS as f64
    };
    println!(
        "rows {rows}, networks {}, true front {} points inside the reference, hypervolume {truth:.4}",
        classes.len(),
        all.iter()
            .filter(|p| p[0] > reference[0] && p[1] > reference[1])
            .count()
    );
    println!(
        "every network once, a random member each: {:.2} % of the true hypervolume",
        ceiling(&keys)
    );
    println!(
        "only the {} networks on the front of class means: {:.2} %",
        mean_front.len(),
        ceiling(&mean_front)
    );
    Ok(())
}
