//! A Gaussian process with an RBF kernel over the feature rows (for binary features the
//! squared distance is the number of features two candidates do not share), its length scale
//! and noise chosen on a grid by the marginal likelihood of the standardized scores.

use super::{standardize, Columns, Features, Prediction, Predictor};

/// Gaussian-process regression.
#[derive(Debug, Clone, Default)]
pub struct Gp {
    fitted: Option<Fitted>,
    /// Grid positions (length scale, noise) of the last fit: the next fit searches only
    /// their neighbours, so that refitting after every trial of a search stays cheap.
    last: Option<(usize, usize)>,
}

const SCALES: [f64; 5] = [0.25, 0.5, 1.0, 2.0, 4.0];
const NOISES: [f64; 5] = [1e-3, 1e-2, 0.05, 0.2, 0.5];

#[derive(Debug, Clone)]
struct Fitted {
    cols: Columns,
    rows: Vec<Vec<f64>>,
    /// K⁻¹ y.
    alpha: Vec<f64>,
    /// Lower Cholesky factor of K + noise·I, row-major.
    chol: Vec<f64>,
    length: f64,
    noise: f64,
    y_mean: f64,
    y_sd: f64,
}

impl Gp {
    pub fn new() -> Self {
        Gp::default()
    }

    /// The chosen length scale and noise variance (of standardized scores), once fitted.
    pub fn hyperparameters(&self) -> Option<(f64, f64)> {
        self.fitted.as_ref().map(|f| (f.length, f.noise))
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Lower Cholesky factor of the n×n row-major `a`, or `None` when it is not positive definite.
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            let (li, lj) = (&l[i * n..i * n + j], &l[j * n..j * n + j]);
            s -= li.iter().zip(lj).map(|(x, y)| x * y).sum::<f64>();
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves L z = b for lower-triangular L.
fn forward(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * z[k]).sum();
        z[i] = (b[i] - s) / l[i * n + i];
    }
    z
}

/// Solves Lᵀ x = z.
fn backward(l: &[f64], n: usize, z: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (z[i] - s) / l[i * n + i];
    }
    x
}

impl Predictor for Gp {
    fn name(&self) -> &'static str {
        "gp"
    }

    fn fit(&mut self, xs: &[Features], ys: &[f64]) {
        self.fitted = None;
        if xs.is_empty() {
            return;
        }
        let cols = Columns::fit(xs);
        let rows: Vec<Vec<f64>> = xs.iter().map(|x| cols.row(x)).collect();
        let n = rows.len();
        let (y_mean, y_sd) = standardize(ys);
        let y: Vec<f64> = ys.iter().map(|v| (v - y_mean) / y_sd).collect();
        let mut d2 = vec![0.0; n * n];
        let mut pos = Vec::with_capacity(n * (n - 1) / 2);
        for i in 0..n {
            for j in 0..i {
                let d = sq_dist(&rows[i], &rows[j]);
                d2[i * n + j] = d;
                d2[j * n + i] = d;
                if d > 0.0 {
                    pos.push(d);
                }
            }
        }
        pos.sort_by(f64::total_cmp);
        let median = pos.get(pos.len() / 2).copied().unwrap_or(1.0).sqrt();
        type Choice = (Vec<f64>, Vec<f64>, f64, f64);
        let mut best: Option<(f64, (usize, usize), Choice)> = None;
        let near = |i: usize, at: Option<usize>| at.is_none_or(|a| i.abs_diff(a) <= 1);
        for (si, scale) in SCALES.iter().enumerate() {
            if !near(si, self.last.map(|l| l.0)) {
                continue;
            }
            let length = median * scale;
            for (ni, &noise) in NOISES.iter().enumerate() {
                if !near(ni, self.last.map(|l| l.1)) {
                    continue;
                }
                let k: Vec<f64> = (0..n * n)
                    .map(|p| {
                        (-d2[p] / (2.0 * length * length)).exp()
                            + if p / n == p % n { noise } else { 0.0 }
                    })
                    .collect();
                let Some(chol) = cholesky(&k, n) else {
                    continue;
                };
                let z = forward(&chol, n, &y);
                let alpha = backward(&chol, n, &z);
                let log_det: f64 = (0..n).map(|i| chol[i * n + i].ln()).sum::<f64>() * 2.0;
                let fit: f64 = y.iter().zip(&alpha).map(|(a, b)| a * b).sum();
                let lml = -0.5 * fit - 0.5 * log_det;
                if best.as_ref().is_none_or(|b| lml > b.0) {
                    best = Some((lml, (si, ni), (alpha, chol, length, noise)));
                }
            }
        }
        self.last = best.as_ref().map(|b| b.1);
        self.fitted = best.map(|(_, _, (alpha, chol, length, noise))| Fitted {
            cols,
            rows,
            alpha,
            chol,
            length,
            noise,
            y_mean,
            y_sd,
        });
    }

    fn predict(&self, x: &Features) -> Prediction {
        let Some(f) = &self.fitted else {
            return Prediction::unknown();
        };
        let r = f.cols.row(x);
        let n = f.rows.len();
        let ks: Vec<f64> = f
            .rows
            .iter()
            .map(|row| (-sq_dist(row, &r) / (2.0 * f.length * f.length)).exp())
            .collect();
        let mu: f64 = ks.iter().zip(&f.alpha).map(|(a, b)| a * b).sum();
        let v = forward(&f.chol, n, &ks);
        let var = (1.0 - v.iter().map(|x| x * x).sum::<f64>()).max(0.0);
        Prediction {
            mean: f.y_mean + f.y_sd * mu,
            sd: f.y_sd * var.sqrt(),
        }
    }
}
