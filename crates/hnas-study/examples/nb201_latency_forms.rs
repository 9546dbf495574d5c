//! Which cell of a network NAS-Bench-201's hardware latency belongs to.
//!
//! The hardware columns give isomorphic cells (one network, 6,466 of them) one shared
//! measurement. This fits Raspberry Pi 5 ONNX latency by least squares on the one-hot
//! operations of six edges (31 parameters), one row per network, where the operations are
//! those of (a) the network's first row in the table, (b) its first form in hnas'
//! enumeration order (the cell the surrogates of BANANAS and NSGA-II encode it by), (c) a
//! random member, and (d) the mean of all its members' encodings. That (a) alone fits well
//! means the latency is the first member's, dead and duplicated operations included; a
//! search that does not read the table cannot know which member that is.
//!
//! `cargo run --release -p hnas-study --example nb201_latency_forms` (reads the table from
//! `HNAS_DATA`, else the copy built into hnas).

use hnas_space::{Candidate, Space};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

const P: usize = 1 + 6 * 5;

fn features(ops: &[usize]) -> [f64; P] {
    let mut x = [0.0; P];
    x[0] = 1.0;
    for (e, &o) in ops.iter().enumerate() {
        x[1 + 5 * e + o] = 1.0;
    }
    x
}

/// Least squares by the normal equations with a tiny ridge (the one-hot blocks are
/// collinear with the intercept); returns the root-mean-square residual.
fn rmse(xs: &[[f64; P]], ys: &[f64]) -> f64 {
    let mut a = vec![[0.0f64; P]; P];
    let mut b = [0.0f64; P];
    for (x, y) in xs.iter().zip(ys) {
        for i in 0..P {
            b[i] += x[i] * y;
            for j in 0..P {
                a[i][j] += x[i] * x[j];
            }
        }
    }
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += 1e-6;
    }
    // Gaussian elimination with partial pivoting.
    let mut w = b;
    for col in 0..P {
        let piv = (col..P)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        a.swap(col, piv);
        w.swap(col, piv);
        let pivot = a[col];
        for r in col + 1..P {
            let f = a[r][col] / pivot[col];
            for (v, p) in a[r].iter_mut().zip(&pivot).skip(col) {
                *v -= f * p;
            }
            w[r] -= f * w[col];
        }
    }
    for col in (0..P).rev() {
        let s: f64 = (col + 1..P).map(|c| a[col][c] * w[c]).sum();
        w[col] = (w[col] - s) / a[col][col];
    }
    let sse: f64 = xs
        .iter()
        .zip(ys)
        .map(|(x, y)| (x.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() - y).powi(2))
        .sum();
    (sse / ys.len() as f64).sqrt()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let text = include_str!("../../../examples/spaces/nb201.hnas");
    let space = Space::parse("nb201.hnas", text).map_err(|d| d.to_string())?;
    let (_, table) = hnas_eval::nb201_csv()?;
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().ok_or("empty table")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(name.to_string())
    };
    let (arch_col, lat_col) = (col("arch")?, col("latency_ms_pi5_onnx")?);
    let choice = |c: &Candidate| -> Vec<usize> {
        space
            .decisions(c)
            .iter()
            .map(|d| d.choice as usize)
            .collect()
    };
    // Each network's rows in table order: (operations, latency).
    let mut networks: HashMap<u64, Vec<(Vec<usize>, f64)>> = HashMap::new();
    let mut order: Vec<u64> = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let c = space.from_nb201(cells[arch_col])?;
        let key = space.canonical_key(&c);
        let entry = networks.entry(key).or_default();
        if entry.is_empty() {
            order.push(key);
        }
        entry.push((choice(&c), cells[lat_col].parse()?));
    }
    let forms = space.forms(50_000).ok_or("space too large")?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let ys: Vec<f64> = order.iter().map(|k| networks[k][0].1).collect();
    let first_row: Vec<[f64; P]> = order.iter().map(|k| features(&networks[k][0].0)).collect();
    let first_form: Vec<[f64; P]> = order
        .iter()
        .map(|k| features(&choice(&forms[k][0])))
        .collect();
    let random: Vec<[f64; P]> = order
        .iter()
        .map(|k| {
            let m = &networks[k];
            features(&m[rng.random_range(0..m.len())].0)
        })
        .collect();
    let mean: Vec<[f64; P]> = order
        .iter()
        .map(|k| {
            let m = &networks[k];
            let mut x = [0.0; P];
            for (ops, _) in m {
                for (a, b) in x.iter_mut().zip(features(ops)) {
                    *a += b / m.len() as f64;
                }
            }
            x
        })
        .collect();
    let sd = {
        let mu = ys.iter().sum::<f64>() / ys.len() as f64;
        (ys.iter().map(|y| (y - mu).powi(2)).sum::<f64>() / ys.len() as f64).sqrt()
    };
    println!(
        "{} networks; latency standard deviation {sd:.3} ms; RMSE of a linear fit on the operations of",
        order.len()
    );
    for (name, xs) in [
        ("the network's first table row", &first_row),
        ("its first form in enumeration order", &first_form),
        ("a random member", &random),
        ("the mean of its members", &mean),
    ] {
        println!("  {name:<40} {:.3} ms", rmse(xs, &ys));
    }
    Ok(())
}
