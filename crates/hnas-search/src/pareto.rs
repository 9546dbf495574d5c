//! Pareto utilities for several objectives, all maximized (negate a minimized one):
//! dominance, non-dominated sorting and crowding distance (NSGA-II, Deb et al. 2002), and the
//! exact hypervolume.

/// Whether `a` dominates `b`: no worse in every objective and better in one.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut better = false;
    for (x, y) in a.iter().zip(b) {
        if x < y {
            return false;
        }
        if x > y {
            better = true;
        }
    }
    better
}

/// Adds `item` to `front`, a set of mutually non-dominated entries (`point` gives an
/// entry's objectives), unless an entry dominates or equals it; entries it dominates leave.
/// Returns whether it was added.
pub fn add_non_dominated<T>(front: &mut Vec<T>, item: T, point: impl Fn(&T) -> &[f64]) -> bool {
    let v = point(&item);
    if front
        .iter()
        .any(|p| dominates(point(p), v) || point(p) == v)
    {
        return false;
    }
    front.retain(|p| !dominates(v, point(p)));
    front.push(item);
    true
}

/// The front of every point: 0 for the non-dominated ones, 1 for those dominated only by
/// front 0, and so on (NSGA-II's fast non-dominated sort, O(M N²)).
pub fn non_dominated_ranks(points: &[Vec<f64>]) -> Vec<usize> {
    ranks_by(points.len(), |i, j| dominates(&points[i], &points[j]))
}

/// Non-dominated ranks under constrained dominance (Deb et al. 2002): a feasible point
/// (violation 0) dominates every infeasible one, of two infeasible points the smaller
/// violation dominates, and feasible points compare by Pareto dominance.
pub fn constrained_ranks(points: &[Vec<f64>], violations: &[f64]) -> Vec<usize> {
    ranks_by(points.len(), |i, j| {
        match (violations[i] > 0.0, violations[j] > 0.0) {
            (false, true) => true,
            (true, false) => false,
            (true, true) => violations[i] < violations[j],
            (false, false) => dominates(&points[i], &points[j]),
        }
    })
}

/// Ranks by successive fronts of a dominance relation.
fn ranks_by(n: usize, dominates: impl Fn(usize, usize) -> bool) -> Vec<usize> {
    let mut dominated_by = vec![0usize; n];
    let mut dominates_list: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in 0..n {
            if i != j && dominates(i, j) {
                dominates_list[i].push(j);
            } else if i != j && dominates(j, i) {
                dominated_by[i] += 1;
            }
        }
    }
    let mut rank = vec![usize::MAX; n];
    let mut front: Vec<usize> = (0..n).filter(|&i| dominated_by[i] == 0).collect();
    let mut r = 0;
    while !front.is_empty() {
        let mut next = Vec::new();
        for &i in &front {
            rank[i] = r;
            for &j in &dominates_list[i] {
                dominated_by[j] -= 1;
                if dominated_by[j] == 0 {
                    next.push(j);
                }
            }
        }
        front = next;
        r += 1;
    }
    rank
}

/// NSGA-II's crowding distance of the points of one front (indices into `points`): the sum
/// over objectives of the normalized gap between each point's neighbours; the extremes get
/// infinity.
// `k` picks a coordinate inside each point, which no iterator over `points` expresses.
#[allow(clippy::needless_range_loop)]
pub fn crowding_distance(points: &[Vec<f64>], front: &[usize]) -> Vec<f64> {
    let m = points.first().map_or(0, Vec::len);
    let mut dist = vec![0.0; front.len()];
    if front.len() <= 2 {
        return vec![f64::INFINITY; front.len()];
    }
    for k in 0..m {
        let mut order: Vec<usize> = (0..front.len()).collect();
        order.sort_by(|&a, &b| points[front[a]][k].total_cmp(&points[front[b]][k]));
        let lo = points[front[order[0]]][k];
        let hi = points[front[*order.last().expect("front has points")]][k];
        dist[order[0]] = f64::INFINITY;
        dist[*order.last().expect("front has points")] = f64::INFINITY;
        if hi > lo {
            for w in 1..order.len() - 1 {
                let gap = points[front[order[w + 1]]][k] - points[front[order[w - 1]]][k];
                dist[order[w]] += gap / (hi - lo);
            }
        }
    }
    dist
}

/// The exact hypervolume dominated by `points` and bounded below by `reference` (every
/// objective maximized; points not better than the reference in every objective add
/// nothing). Computed by slicing along the last objective (exact in any dimension; fast for
/// two or three objectives and fronts of hundreds of points).
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let pts: Vec<&[f64]> = points
        .iter()
        .map(Vec::as_slice)
        .filter(|p| p.iter().zip(reference).all(|(x, r)| x > r))
        .collect();
    slice(&pts, reference)
}

fn slice(points: &[&[f64]], reference: &[f64]) -> f64 {
    let d = reference.len();
    if points.is_empty() || d == 0 {
        return 0.0;
    }
    if d == 1 {
        return points
            .iter()
            .map(|p| p[0] - reference[0])
            .fold(0.0, f64::max);
    }
    let mut order: Vec<&[f64]> = points.to_vec();
    order.sort_by(|a, b| b[d - 1].total_cmp(&a[d - 1]));
    let mut volume = 0.0;
    for k in 0..order.len() {
        let top = order[k][d - 1];
        let bottom = order.get(k + 1).map_or(reference[d - 1], |p| p[d - 1]);
        if top > bottom {
            let layer: Vec<&[f64]> = order[..=k].iter().map(|p| &p[..d - 1]).collect();
            volume += slice(&layer, &reference[..d - 1]) * (top - bottom);
        }
    }
    volume
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn hand_computed_cases() {
        assert!(dominates(&[2.0, 2.0], &[1.0, 2.0]));
        assert!(!dominates(&[2.0, 1.0], &[1.0, 2.0]));
        assert!(!dominates(&[1.0, 1.0], &[1.0, 1.0]));
        let pts = vec![
            vec![1.0, 3.0],
            vec![2.0, 2.0],
            vec![3.0, 1.0],
            vec![1.0, 1.0],
            vec![0.5, 0.5],
        ];
        assert_eq!(non_dominated_ranks(&pts), vec![0, 0, 0, 1, 2]);
        // Staircase: [0,1]x[0,3] + [1,2]x[0,2] + [2,3]x[0,1] = 3 + 2 + 1.
        assert_eq!(hypervolume(&pts, &[0.0, 0.0]), 6.0);
        assert_eq!(hypervolume(&[vec![2.0, 2.0, 2.0]], &[0.0, 0.0, 0.0]), 8.0);
        assert_eq!(
            hypervolume(&[vec![1.0, 5.0]], &[2.0, 0.0]),
            0.0,
            "not beyond the reference"
        );
        let d = crowding_distance(&pts, &[0, 1, 2]);
        assert!(d[0].is_infinite() && d[2].is_infinite());
        assert!((d[1] - 2.0).abs() < 1e-12, "(3-1)/2 + (3-1)/2");
    }

    /// Exact volume for integer points by counting the unit cells that some point dominates.
    fn brute(points: &[Vec<f64>], dims: usize, side: i64) -> f64 {
        let mut count = 0;
        let cells = (side as usize).pow(dims as u32);
        for c in 0..cells {
            let mut rest = c;
            let cell: Vec<f64> = (0..dims)
                .map(|_| {
                    let x = (rest % side as usize) as f64;
                    rest /= side as usize;
                    x
                })
                .collect();
            if points
                .iter()
                .any(|p| p.iter().zip(&cell).all(|(a, b)| *a >= b + 1.0))
            {
                count += 1;
            }
        }
        count as f64
    }

    #[test]
    fn hypervolume_agrees_with_brute_force_and_sorting_with_dominance() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for dims in [2usize, 3] {
            for _ in 0..60 {
                let n = rng.random_range(1..12);
                let pts: Vec<Vec<f64>> = (0..n)
                    .map(|_| (0..dims).map(|_| rng.random_range(0..9) as f64).collect())
                    .collect();
                assert_eq!(
                    hypervolume(&pts, &vec![0.0; dims]),
                    brute(&pts, dims, 9),
                    "{pts:?}"
                );
                let ranks = non_dominated_ranks(&pts);
                for i in 0..n {
                    for j in 0..n {
                        if dominates(&pts[i], &pts[j]) {
                            assert!(ranks[i] < ranks[j]);
                        }
                    }
                    if ranks[i] > 0 {
                        assert!(
                            (0..n).any(|j| ranks[j] == ranks[i] - 1 && dominates(&pts[j], &pts[i]))
                        );
                    }
                }
            }
        }
    }
}
