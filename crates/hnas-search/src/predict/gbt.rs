//! Gradient-boosted regression trees on squared error, bagged: each member boosts on its own
//! row subsamples, and the spread of the members is the uncertainty.

use super::{standardize, Columns, Features, Prediction, Predictor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bagged gradient-boosted trees.
#[derive(Debug, Clone)]
pub struct Gbt {
    /// Boosting rounds per member.
    pub rounds: usize,
    /// Largest depth of a tree.
    pub depth: usize,
    /// Shrinkage of each tree.
    pub learning_rate: f64,
    /// Members (each on its own subsamples).
    pub members: usize,
    /// Share of the rows each tree sees.
    pub subsample: f64,
    /// L2 penalty on leaf values.
    pub lambda: f64,
    /// Fewest rows in a leaf.
    pub min_leaf: usize,
    seed: u64,
    fitted: Option<Fitted>,
}

#[derive(Debug, Clone)]
struct Fitted {
    cols: Columns,
    trees: Vec<Vec<Tree>>,
    y_mean: f64,
    y_sd: f64,
}

#[derive(Debug, Clone)]
enum Node {
    Split {
        col: usize,
        /// Rows with a value at most this go left.
        at: f64,
        left: usize,
        right: usize,
    },
    Leaf(f64),
}

#[derive(Debug, Clone)]
struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    fn predict(&self, row: &[f64]) -> f64 {
        let mut i = 0;
        loop {
            match self.nodes[i] {
                Node::Leaf(v) => return v,
                Node::Split {
                    col,
                    at,
                    left,
                    right,
                } => i = if row[col] <= at { left } else { right },
            }
        }
    }
}

impl Gbt {
    pub fn new(seed: u64) -> Self {
        Gbt {
            rounds: 200,
            depth: 4,
            learning_rate: 0.05,
            members: 5,
            subsample: 0.8,
            lambda: 1.0,
            min_leaf: 2,
            seed,
            fitted: None,
        }
    }
}

/// Column-major data and the residuals being fitted.
struct Data<'a> {
    x: &'a [Vec<f64>],
    /// For numeric columns, the rows sorted by value (once per fit).
    sorted: &'a [Vec<usize>],
    /// Each row's binary columns that are 1.
    active: &'a [Vec<usize>],
    active_width: usize,
    r: &'a [f64],
}

impl Gbt {
    fn grow(&self, d: &Data, rows: Vec<usize>, depth: usize, nodes: &mut Vec<Node>) -> usize {
        let id = nodes.len();
        let sum: f64 = rows.iter().map(|&i| d.r[i]).sum();
        let n = rows.len() as f64;
        let leaf = self.learning_rate * sum / (n + self.lambda);
        nodes.push(Node::Leaf(leaf));
        if depth == self.depth || rows.len() < 2 * self.min_leaf {
            return id;
        }
        let parent = sum * sum / (n + self.lambda);
        let mut best: Option<(f64, usize, f64)> = None;
        let mut consider = |gain: f64, col: usize, at: f64| {
            if gain > 1e-12 && best.is_none_or(|b| gain > b.0) {
                best = Some((gain, col, at));
            }
        };
        let mut member = vec![false; d.r.len()];
        for &i in &rows {
            member[i] = true;
        }
        // Binary columns: sums over each row's active features, not over every column.
        let nb = d.active_width;
        let mut s1 = vec![0.0; nb];
        let mut n1 = vec![0usize; nb];
        for &i in &rows {
            for &j in &d.active[i] {
                s1[j] += d.r[i];
                n1[j] += 1;
            }
        }
        for j in 0..nb {
            let n0 = rows.len() - n1[j];
            if n1[j] < self.min_leaf || n0 < self.min_leaf {
                continue;
            }
            let s0 = sum - s1[j];
            let gain = s1[j] * s1[j] / (n1[j] as f64 + self.lambda)
                + s0 * s0 / (n0 as f64 + self.lambda)
                - parent;
            consider(gain, j, 0.5);
        }
        for (j, col) in d.x.iter().enumerate().skip(nb) {
            {
                let (mut sl, mut nl) = (0.0, 0usize);
                let order: Vec<usize> =
                    d.sorted[j].iter().copied().filter(|&i| member[i]).collect();
                for w in 0..order.len().saturating_sub(1) {
                    let i = order[w];
                    sl += d.r[i];
                    nl += 1;
                    let (v, next) = (col[i], col[order[w + 1]]);
                    if v == next || nl < self.min_leaf || rows.len() - nl < self.min_leaf {
                        continue;
                    }
                    let nr = rows.len() - nl;
                    let sr = sum - sl;
                    let gain = sl * sl / (nl as f64 + self.lambda)
                        + sr * sr / (nr as f64 + self.lambda)
                        - parent;
                    consider(gain, j, 0.5 * (v + next));
                }
            }
        }
        let Some((_, col, at)) = best else {
            return id;
        };
        let (l, r): (Vec<usize>, Vec<usize>) = rows.iter().partition(|&&i| d.x[col][i] <= at);
        let left = self.grow(d, l, depth + 1, nodes);
        let right = self.grow(d, r, depth + 1, nodes);
        nodes[id] = Node::Split {
            col,
            at,
            left,
            right,
        };
        id
    }
}

impl Predictor for Gbt {
    fn name(&self) -> &'static str {
        "gbt"
    }

    fn fit(&mut self, xs: &[Features], ys: &[f64]) {
        if xs.is_empty() {
            self.fitted = None;
            return;
        }
        let cols = Columns::fit(xs);
        let rows: Vec<Vec<f64>> = xs.iter().map(|x| cols.row(x)).collect();
        let n = rows.len();
        let x: Vec<Vec<f64>> = (0..cols.width())
            .map(|j| rows.iter().map(|r| r[j]).collect())
            .collect();
        let sorted: Vec<Vec<usize>> = (0..cols.width())
            .map(|j| {
                if cols.is_bit(j) {
                    return Vec::new();
                }
                let mut o: Vec<usize> = (0..n).collect();
                o.sort_by(|&a, &b| x[j][a].total_cmp(&x[j][b]));
                o
            })
            .collect();
        let nb = cols.bits();
        let active: Vec<Vec<usize>> = rows
            .iter()
            .map(|r| (0..nb).filter(|&j| r[j] > 0.5).collect())
            .collect();
        let (y_mean, y_sd) = standardize(ys);
        let y: Vec<f64> = ys.iter().map(|v| (v - y_mean) / y_sd).collect();
        let take = ((n as f64 * self.subsample).round() as usize).clamp(1, n);
        let mut trees = Vec::with_capacity(self.members);
        for m in 0..self.members {
            let mut rng =
                ChaCha8Rng::seed_from_u64(self.seed.wrapping_mul(31).wrapping_add(m as u64));
            let mut pred = vec![0.0; n];
            let mut member = Vec::with_capacity(self.rounds);
            let mut r = vec![0.0; n];
            let mut all: Vec<usize> = (0..n).collect();
            for _ in 0..self.rounds {
                for i in 0..n {
                    r[i] = y[i] - pred[i];
                }
                // A partial Fisher-Yates shuffle: the first `take` rows are a uniform subsample.
                for k in 0..take {
                    let j = rng.random_range(k..n);
                    all.swap(k, j);
                }
                let mut sub = all[..take].to_vec();
                sub.sort_unstable();
                let d = Data {
                    x: &x,
                    sorted: &sorted,
                    active: &active,
                    active_width: nb,
                    r: &r,
                };
                let mut nodes = Vec::new();
                self.grow(&d, sub, 0, &mut nodes);
                let t = Tree { nodes };
                for (i, row) in rows.iter().enumerate() {
                    pred[i] += t.predict(row);
                }
                member.push(t);
            }
            trees.push(member);
        }
        self.fitted = Some(Fitted {
            cols,
            trees,
            y_mean,
            y_sd,
        });
    }

    fn predict(&self, x: &Features) -> Prediction {
        let Some(f) = &self.fitted else {
            return Prediction::unknown();
        };
        let row = f.cols.row(x);
        let preds: Vec<f64> = f
            .trees
            .iter()
            .map(|m| m.iter().map(|t| t.predict(&row)).sum::<f64>())
            .collect();
        let k = preds.len() as f64;
        let mu = preds.iter().sum::<f64>() / k;
        let sd = (preds.iter().map(|p| (p - mu).powi(2)).sum::<f64>() / k).sqrt();
        Prediction {
            mean: f.y_mean + f.y_sd * mu,
            sd: f.y_sd * sd,
        }
    }
}
