//! Enumeration of finite spaces through a bijection between candidates and 0..size.
//!
//! [`Space::unrank`] maps an index to a candidate and [`Space::rank`] back: enumeration,
//! grid search and exact uniform sampling of big spaces all stand on this pair.

use crate::candidate::{Candidate, Edge, Node};
use crate::grammar::*;
use crate::space::{binomial, Space};
use crate::Error;
use num_bigint::BigUint;
use num_traits::{One, ToPrimitive, Zero};

impl Space {
    /// The candidate at position `index` (0 <= index < size) in enumeration order.
    pub fn unrank(&self, index: &BigUint) -> Result<Candidate, Error> {
        if self.continuous {
            return Err(Error::Continuous);
        }
        if *index >= self.size() {
            return Err(Error::OutOfRange(
                index.to_string(),
                self.size().to_string(),
            ));
        }
        let mut idx = index.clone();
        let rc = &self.counts[self.g.start][0];
        let root = self.unrank_rule(self.g.start, 0, &(&idx % rc));
        idx /= rc;
        let mut shared = Vec::new();
        for &s in &self.g.shared {
            let c = &self.counts[s][0];
            shared.push(self.unrank_rule(s, 0, &(&idx % c)));
            idx /= c;
        }
        Ok(Candidate { root, shared })
    }

    /// The position of `c` in enumeration order; the inverse of [`Space::unrank`].
    pub fn rank(&self, c: &Candidate) -> Result<BigUint, Error> {
        if self.continuous {
            return Err(Error::Continuous);
        }
        self.validate(c)?;
        let mut total = self.rank_rule(self.g.start, 0, &c.root);
        let mut radix = self.counts[self.g.start][0].clone();
        for (slot, &s) in self.g.shared.iter().enumerate() {
            total += self.rank_rule(s, 0, &c.shared[slot]) * &radix;
            radix *= &self.counts[s][0];
        }
        Ok(total)
    }

    /// Every candidate of a finite space, in rank order.
    pub fn enumerate(&self) -> Result<impl Iterator<Item = Candidate> + '_, Error> {
        if self.continuous {
            return Err(Error::Continuous);
        }
        let size = self.size();
        let mut i = BigUint::zero();
        Ok(std::iter::from_fn(move || {
            if i >= size {
                return None;
            }
            let c = self.unrank(&i).ok();
            i += 1u8;
            c
        }))
    }

    pub(crate) fn unrank_rule(&self, r: RuleId, lvl: usize, idx: &BigUint) -> Node {
        let mut idx = idx.clone();
        for (ai, c) in self.alt_counts[r][lvl].iter().enumerate() {
            if idx < *c {
                return self.unrank_alt(r, ai, lvl, idx);
            }
            idx -= c;
        }
        unreachable!("index checked against the rule's count")
    }

    pub(crate) fn unrank_alt(&self, r: RuleId, ai: usize, lvl: usize, mut idx: BigUint) -> Node {
        let a = &self.g.rules[r].alts[ai];
        let kids = match &a.kind {
            AltKind::Op { args, .. } if a.constraint.is_some() => {
                let w = a.constraint.as_ref().expect("matched just above");
                self.unrank_where(r, ai, args, w, lvl, idx)
            }
            AltKind::Dag(d) if !d.bypass => vec![self.unrank_bypass_dag(r, ai, d, lvl, idx)],
            AltKind::Op { args, .. } => args
                .iter()
                .map(|x| {
                    let c = self.expr_count(&x.expr, lvl);
                    let k = self.unrank_expr(&x.expr, lvl, &(&idx % &c));
                    idx /= &c;
                    k
                })
                .collect(),
            AltKind::Ref(t) => vec![self.unrank_ref(*t, lvl, &idx)],
            AltKind::Dag(d) => vec![self.unrank_dag(d, lvl, idx)],
        };
        Node::Choice {
            alt: ai as u32,
            kids,
        }
    }

    fn unrank_ref(&self, t: RuleId, lvl: usize, idx: &BigUint) -> Node {
        if self.g.rules[t].shared {
            Node::Shared
        } else {
            self.unrank_rule(t, self.child(lvl), idx)
        }
    }

    pub(crate) fn unrank_expr(&self, e: &Expr, lvl: usize, idx: &BigUint) -> Node {
        match e {
            Expr::Ref(t) => self.unrank_ref(*t, lvl, idx),
            Expr::Literal(v) => Node::Value(v.clone()),
            Expr::Domain(d) => Node::Value(
                d.value_at(idx.to_u128().unwrap_or(0))
                    .expect("discrete domain index within its count"),
            ),
            Expr::Repeat { item, min, max } => {
                let c = self.expr_count(item, lvl);
                let mut idx = idx.clone();
                for k in *min..=*max {
                    let block = c.pow(k);
                    if idx < block {
                        let items = (0..k)
                            .map(|_| {
                                let n = self.unrank_expr(item, lvl, &(&idx % &c));
                                idx /= &c;
                                n
                            })
                            .collect();
                        return Node::List(items);
                    }
                    idx -= block;
                }
                unreachable!("index checked against the repeat's count")
            }
        }
    }

    fn unrank_dag(&self, d: &DagSpec, lvl: usize, mut idx: BigUint) -> Node {
        let c = self.ref_count(d.edge, lvl);
        let mut edges = Vec::new();
        for j in d.inputs..d.nodes {
            let sources: Vec<u32> = match d.fan_in {
                None => (0..j).collect(),
                Some(k) => {
                    let combos = binomial(j as u64, k as u64);
                    let ci = &idx % &combos;
                    idx /= &combos;
                    unrank_combination(j, k, ci)
                }
            };
            for from in sources {
                let op = self.unrank_ref(d.edge, lvl, &(&idx % &c));
                idx /= &c;
                edges.push(Edge { from, to: j, op });
            }
        }
        Node::Dag(edges)
    }

    pub(crate) fn rank_rule(&self, r: RuleId, lvl: usize, n: &Node) -> BigUint {
        let Node::Choice { alt, kids } = n else {
            return BigUint::zero();
        };
        let ai = *alt as usize;
        let mut offset: BigUint = self.alt_counts[r][lvl][..ai].iter().sum();
        let a = &self.g.rules[r].alts[ai];
        match &a.kind {
            AltKind::Op { args, .. } if a.constraint.is_some() => {
                let w = a.constraint.as_ref().expect("matched just above");
                offset += self.rank_where(r, ai, args, w, lvl, kids);
            }
            AltKind::Dag(d) if !d.bypass => {
                if let Node::Dag(edges) = &kids[0] {
                    offset += self.rank_bypass_dag(r, ai, d, lvl, edges);
                }
            }
            AltKind::Op { args, .. } => {
                let mut radix = BigUint::one();
                for (x, k) in args.iter().zip(kids) {
                    offset += self.rank_expr(&x.expr, lvl, k) * &radix;
                    radix *= self.expr_count(&x.expr, lvl);
                }
            }
            AltKind::Ref(t) => offset += self.rank_ref(*t, lvl, &kids[0]),
            AltKind::Dag(d) => {
                if let Node::Dag(edges) = &kids[0] {
                    offset += self.rank_dag(d, lvl, edges);
                }
            }
        }
        offset
    }

    fn rank_ref(&self, t: RuleId, lvl: usize, n: &Node) -> BigUint {
        if self.g.rules[t].shared {
            BigUint::zero()
        } else {
            self.rank_rule(t, self.child(lvl), n)
        }
    }

    pub(crate) fn rank_expr(&self, e: &Expr, lvl: usize, n: &Node) -> BigUint {
        match (e, n) {
            (Expr::Ref(t), _) => self.rank_ref(*t, lvl, n),
            (Expr::Domain(d), Node::Value(v)) => BigUint::from(d.index_of(v).unwrap_or(0)),
            (Expr::Repeat { item, min, .. }, Node::List(items)) => {
                let c = self.expr_count(item, lvl);
                let mut offset: BigUint = (*min..items.len() as u32).map(|k| c.pow(k)).sum();
                let mut radix = BigUint::one();
                for it in items {
                    offset += self.rank_expr(item, lvl, it) * &radix;
                    radix *= &c;
                }
                offset
            }
            _ => BigUint::zero(),
        }
    }

    fn rank_dag(&self, d: &DagSpec, lvl: usize, edges: &[Edge]) -> BigUint {
        let c = self.ref_count(d.edge, lvl);
        let mut total = BigUint::zero();
        let mut radix = BigUint::one();
        for j in d.inputs..d.nodes {
            let into: Vec<&Edge> = edges.iter().filter(|e| e.to == j).collect();
            if let Some(k) = d.fan_in {
                let srcs: Vec<u32> = into.iter().map(|e| e.from).collect();
                total += rank_combination(j, &srcs) * &radix;
                radix *= binomial(j as u64, k as u64);
            }
            for e in into {
                total += self.rank_ref(d.edge, lvl, &e.op) * &radix;
                radix *= &c;
            }
        }
        total
    }
}

/// The `idx`-th k-subset of 0..n in lexicographic order.
pub(crate) fn unrank_combination(n: u32, k: u32, idx: BigUint) -> Vec<u32> {
    let mut idx = idx;
    let mut out = Vec::with_capacity(k as usize);
    let mut next = 0u32;
    for slot in 0..k {
        let left = k - slot - 1;
        let mut x = next;
        loop {
            let below = binomial((n - x - 1) as u64, left as u64);
            if idx < below {
                break;
            }
            idx -= below;
            x += 1;
        }
        out.push(x);
        next = x + 1;
    }
    out
}

pub(crate) fn rank_combination(n: u32, srcs: &[u32]) -> BigUint {
    let k = srcs.len() as u32;
    let mut idx = BigUint::zero();
    let mut next = 0u32;
    for (slot, &s) in srcs.iter().enumerate() {
        let left = k - slot as u32 - 1;
        for x in next..s {
            idx += binomial((n - x - 1) as u64, left as u64);
        }
        next = s + 1;
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_round_trip_in_lexicographic_order() {
        let all: Vec<Vec<u32>> = (0..10u32)
            .map(|i| unrank_combination(5, 2, BigUint::from(i)))
            .collect();
        assert_eq!(all[0], vec![0, 1]);
        assert_eq!(all[9], vec![3, 4]);
        for (i, c) in all.iter().enumerate() {
            assert_eq!(rank_combination(5, c), BigUint::from(i));
        }
    }
}
