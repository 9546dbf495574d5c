//! Rank correlations between predictions and truth.

/// Kendall's τ-b of two equally long sequences: concordant minus discordant pairs, over the
/// geometric mean of the pairs not tied in each (so ties in either do not count as
/// agreement). NaN when fewer than two pairs are untied.
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(
        a.len(),
        b.len(),
        "kendall_tau needs sequences of one length"
    );
    let n = a.len();
    let (mut conc, mut disc) = (0i64, 0i64);
    let (mut untied_a, mut untied_b) = (0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let da = a[i].total_cmp(&a[j]) as i8;
            let db = b[i].total_cmp(&b[j]) as i8;
            if da != 0 {
                untied_a += 1;
            }
            if db != 0 {
                untied_b += 1;
            }
            match da * db {
                1 => conc += 1,
                -1 => disc += 1,
                _ => {}
            }
        }
    }
    let denom = ((untied_a as f64) * (untied_b as f64)).sqrt();
    if denom == 0.0 {
        return f64::NAN;
    }
    (conc - disc) as f64 / denom
}

/// Ranks from 1, ties given their mean rank.
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = mean;
        }
        i = j + 1;
    }
    r
}

/// Spearman's ρ: the Pearson correlation of the ranks. NaN when either side is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "spearman needs sequences of one length");
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let mut sab = 0.0;
    let mut saa = 0.0;
    let mut sbb = 0.0;
    for (x, y) in ra.iter().zip(&rb) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    if saa == 0.0 || sbb == 0.0 {
        return f64::NAN;
    }
    sab / (saa * sbb).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 1.0);
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
        // One discordant pair of three.
        assert!((kendall_tau(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]) - 1.0 / 3.0).abs() < 1e-12);
        // τ-b with a tie: 2 concordant, 0 discordant, untied pairs 3 and 2.
        let t = kendall_tau(&[1.0, 2.0, 3.0], &[1.0, 2.0, 2.0]);
        assert!((t - 2.0 / 6f64.sqrt()).abs() < 1e-12);
        assert!(kendall_tau(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
        assert_eq!(ranks(&[10.0, 30.0, 20.0, 20.0]), vec![1.0, 4.0, 2.5, 2.5]);
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]) - 0.8).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn correlations_are_invariant_under_monotone_maps(v in proptest::collection::vec(-1e3f64..1e3, 2..40), w in proptest::collection::vec(-1e3f64..1e3, 40)) {
            let w = &w[..v.len()];
            let mapped: Vec<f64> = v.iter().map(|x| x * x.abs() + 2.0 * x).collect();
            let (t1, t2) = (kendall_tau(&v, w), kendall_tau(&mapped, w));
            prop_assert!(t1.is_nan() && t2.is_nan() || (t1 - t2).abs() < 1e-9);
            let s = spearman(&v, &v);
            prop_assert!(s.is_nan() || (s - 1.0).abs() < 1e-9);
            prop_assert!(t1.is_nan() || (-1.0..=1.0).contains(&t1));
        }
    }
}
