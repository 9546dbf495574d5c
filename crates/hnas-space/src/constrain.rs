//! Constraints between decisions: `where` conditions on operations and `bypass = false`
//! on DAG cells.
//!
//! Both are kept exact by *blocks*. The decisions a constraint looks at are seen through
//! coarse parts (the value of a domain, the alternative chosen in a rule; for a DAG cell,
//! the sources of every node and whether each edge is the identity), and a block is one
//! combination of parts that satisfies the constraint. Within a block the space is a plain
//! product again, so counting sums the blocks' sizes, uniform sampling draws a block by its
//! size and then draws inside it, enumeration walks the blocks in order, and a sequential
//! chooser is offered only the options that some block still allows. The blocks are listed
//! once when the space is built; the checker bounds their number (`MAX_WHERE_BLOCKS`,
//! `MAX_BYPASS_PATTERNS`).

use crate::candidate::{Edge, Node};
use crate::grammar::*;
use crate::space::{big_ln, binomial, Space};
use num_bigint::BigUint;
use num_traits::{One, ToPrimitive, Zero};
use rand::Rng;

/// The combinations of parts that satisfy a constraint, each with the number of
/// derivations behind its constrained decisions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Blocks {
    /// One row per block: the part of each constrained decision, in decision order.
    pub parts: Vec<Vec<u32>>,
    pub sizes: Vec<BigUint>,
    /// Each block's share of the total (for drawing by size and weighing options).
    pub shares: Vec<f64>,
    pub total: BigUint,
}

impl Blocks {
    fn new(rows: Vec<(Vec<u32>, BigUint)>) -> Blocks {
        let rows: Vec<_> = rows.into_iter().filter(|(_, n)| !n.is_zero()).collect();
        let total: BigUint = rows.iter().map(|(_, n)| n).sum();
        let ln_total = big_ln(&total);
        let shares = rows
            .iter()
            .map(|(_, n)| (big_ln(n) - ln_total).exp())
            .collect();
        let (parts, sizes) = rows.into_iter().unzip();
        Blocks {
            parts,
            sizes,
            shares,
            total,
        }
    }

    /// A block drawn with probability proportional to its size.
    fn draw(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.random();
        let mut acc = 0.0;
        for (i, s) in self.shares.iter().enumerate() {
            acc += s;
            if u < acc {
                return i;
            }
        }
        self.shares.len().saturating_sub(1)
    }

    /// Weights of the options of decision `k` given the parts already decided (`prefix`,
    /// decisions 0..k): the shares of the blocks that agree with the prefix, summed by their
    /// part at `k`.
    pub fn option_weights(&self, prefix: &[u32], k: usize, options: usize) -> Vec<f64> {
        let mut w = vec![0.0; options];
        for (row, s) in self.parts.iter().zip(&self.shares) {
            if row[..k] == *prefix {
                if let Some(x) = w.get_mut(row[k] as usize) {
                    *x += s;
                }
            }
        }
        w
    }

    fn find(&self, parts: &[u32]) -> Option<usize> {
        self.parts.iter().position(|r| r == parts)
    }
}

/// Every combination of parts below `sizes`, first part fastest, until `f` says stop;
/// whether it stopped.
fn walk_combinations(sizes: &[u32], mut f: impl FnMut(&[u32]) -> bool) -> bool {
    if sizes.contains(&0) {
        return false;
    }
    let mut parts = vec![0u32; sizes.len()];
    loop {
        if f(&parts) {
            return true;
        }
        let mut k = 0;
        loop {
            if k == parts.len() {
                return false;
            }
            parts[k] += 1;
            if parts[k] < sizes[k] {
                break;
            }
            parts[k] = 0;
            k += 1;
        }
    }
}

/// Every combination of parts below `sizes`, first part fastest.
fn combinations(sizes: &[u32], mut f: impl FnMut(&[u32])) {
    walk_combinations(sizes, |p| {
        f(p);
        false
    });
}

/// Whether `f` holds for some combination of parts below `sizes`.
pub(crate) fn any_combination(sizes: &[u32], f: impl FnMut(&[u32]) -> bool) -> bool {
    walk_combinations(sizes, f)
}

impl Space {
    /// The number of derivations behind each part of argument `e` at `lvl`: one per value
    /// of a domain, the count of each alternative of a rule.
    fn part_counts(&self, e: &Expr, lvl: usize) -> Vec<BigUint> {
        match e {
            Expr::Ref(t) => self.alt_counts[*t][self.child(lvl)].clone(),
            Expr::Domain(d) => vec![BigUint::one(); d.len().unwrap_or(1) as usize],
            _ => vec![BigUint::one()],
        }
    }

    /// The part an argument's node falls in.
    pub(crate) fn part_of(e: &Expr, n: &Node) -> u32 {
        match (e, n) {
            (Expr::Ref(_), Node::Choice { alt, .. }) => *alt,
            (Expr::Domain(d), Node::Value(v)) => d.index_of(v).unwrap_or(0) as u32,
            _ => 0,
        }
    }

    pub(crate) fn where_blocks(&self, args: &[Arg], w: &Where, lvl: usize) -> Blocks {
        let counts: Vec<Vec<BigUint>> = w
            .args
            .iter()
            .map(|&i| self.part_counts(&args[i].expr, lvl))
            .collect();
        let sizes: Vec<u32> = counts.iter().map(|c| c.len() as u32).collect();
        let mut rows = Vec::new();
        combinations(&sizes, |parts| {
            let holds = w.pred.holds(&|arg| {
                w.args
                    .iter()
                    .position(|&x| x == arg)
                    .map_or(0, |k| parts[k])
            });
            if holds {
                let n = parts
                    .iter()
                    .zip(&counts)
                    .fold(BigUint::one(), |acc, (&p, c)| acc * &c[p as usize]);
                rows.push((parts.to_vec(), n));
            }
        });
        Blocks::new(rows)
    }

    /// Whether the argument nodes `kids` of an operation satisfy its `where` condition.
    pub(crate) fn where_holds(args: &[Arg], w: &Where, kids: &[Node]) -> bool {
        w.pred.holds(&|arg| match (args.get(arg), kids.get(arg)) {
            (Some(a), Some(k)) => Self::part_of(&a.expr, k),
            _ => 0,
        })
    }

    /// The blocks of alternative `ai` of rule `r` at `lvl` (built with the space).
    pub(crate) fn blocks(&self, r: RuleId, ai: usize, lvl: usize) -> &Blocks {
        static EMPTY: std::sync::OnceLock<Blocks> = std::sync::OnceLock::new();
        self.blocks
            .get(&(r, ai, lvl))
            .unwrap_or_else(|| EMPTY.get_or_init(Blocks::default))
    }

    /// Count of a constrained operation: its blocks times the arguments it does not name.
    pub(crate) fn where_count(
        &self,
        args: &[Arg],
        w: &Where,
        blocks: &Blocks,
        lvl: usize,
    ) -> BigUint {
        let free = args
            .iter()
            .enumerate()
            .filter(|(i, _)| !w.args.contains(i))
            .fold(BigUint::one(), |acc, (_, a)| {
                acc * self.expr_count(&a.expr, lvl)
            });
        &blocks.total * free
    }

    pub(crate) fn sample_where(
        &self,
        r: RuleId,
        ai: usize,
        lvl: usize,
        mode: crate::SampleMode,
        rng: &mut impl Rng,
    ) -> Vec<Node> {
        let alt = &self.g.rules[r].alts[ai];
        let (AltKind::Op { args, .. }, Some(w)) = (&alt.kind, &alt.constraint) else {
            unreachable!("called for constrained operations only")
        };
        let blocks = self.blocks(r, ai, lvl);
        let b = blocks.draw(rng);
        args.iter()
            .enumerate()
            .map(|(i, a)| match w.args.iter().position(|&x| x == i) {
                Some(k) => {
                    let part = blocks.parts[b][k];
                    match &a.expr {
                        Expr::Ref(t) => {
                            self.sample_alt(*t, part as usize, self.child(lvl), mode, rng)
                        }
                        Expr::Domain(d) => Node::Value(
                            d.value_at(part as u128)
                                .expect("a part is a value of the domain"),
                        ),
                        e => self.sample_expr(e, lvl, mode, rng),
                    }
                }
                None => self.sample_expr(&a.expr, lvl, mode, rng),
            })
            .collect()
    }

    pub(crate) fn unrank_where(
        &self,
        r: RuleId,
        ai: usize,
        args: &[Arg],
        w: &Where,
        lvl: usize,
        mut idx: BigUint,
    ) -> Vec<Node> {
        let blocks = self.blocks(r, ai, lvl);
        let free: BigUint = self.where_count(args, w, blocks, lvl) / &blocks.total;
        let mut b = 0;
        while b + 1 < blocks.sizes.len() {
            let size = &blocks.sizes[b] * &free;
            if idx < size {
                break;
            }
            idx -= size;
            b += 1;
        }
        args.iter()
            .enumerate()
            .map(|(i, a)| match w.args.iter().position(|&x| x == i) {
                Some(k) => {
                    let part = blocks.parts[b][k];
                    match &a.expr {
                        Expr::Ref(t) => {
                            let lc = self.child(lvl);
                            let c = &self.alt_counts[*t][lc][part as usize];
                            let n = self.unrank_alt(*t, part as usize, lc, &idx % c);
                            idx /= c;
                            n
                        }
                        Expr::Domain(d) => Node::Value(
                            d.value_at(part as u128)
                                .expect("a part is a value of the domain"),
                        ),
                        e => self.unrank_expr(e, lvl, &BigUint::zero()),
                    }
                }
                None => {
                    let c = self.expr_count(&a.expr, lvl);
                    let n = self.unrank_expr(&a.expr, lvl, &(&idx % &c));
                    idx /= &c;
                    n
                }
            })
            .collect()
    }

    pub(crate) fn rank_where(
        &self,
        r: RuleId,
        ai: usize,
        args: &[Arg],
        w: &Where,
        lvl: usize,
        kids: &[Node],
    ) -> BigUint {
        let blocks = self.blocks(r, ai, lvl);
        let free: BigUint = self.where_count(args, w, blocks, lvl) / &blocks.total;
        let parts: Vec<u32> = w
            .args
            .iter()
            .map(|&i| Self::part_of(&args[i].expr, &kids[i]))
            .collect();
        let b = blocks.find(&parts).unwrap_or(0);
        let mut offset: BigUint = blocks.sizes[..b].iter().sum::<BigUint>() * &free;
        let mut radix = BigUint::one();
        for (i, (a, k)) in args.iter().zip(kids).enumerate() {
            if w.args.contains(&i) {
                if let (Expr::Ref(t), Node::Choice { alt, .. }) = (&a.expr, k) {
                    let lc = self.child(lvl);
                    let before: BigUint = self.alt_counts[*t][lc][..*alt as usize].iter().sum();
                    offset += (self.rank_rule(*t, lc, k) - before) * &radix;
                    radix *= &self.alt_counts[*t][lc][*alt as usize];
                }
            } else {
                offset += self.rank_expr(&a.expr, lvl, k) * &radix;
                radix *= self.expr_count(&a.expr, lvl);
            }
        }
        offset
    }

    // ---- DAG cells with `bypass = false` ----

    /// The alternative of the edge rule that is the identity operation.
    pub(crate) fn identity_alt(&self, d: &DagSpec) -> Option<usize> {
        let id = d.identity.as_deref()?;
        self.g.rules[d.edge].alts.iter().position(
            |a| matches!(&a.kind, AltKind::Op { name, args } if name == id && args.is_empty()),
        )
    }

    /// The wirings of a cell: for each non-input node, the rank of its set of sources.
    fn wirings(d: &DagSpec) -> Vec<Vec<u32>> {
        let sizes: Vec<u32> = (d.inputs..d.nodes)
            .map(|j| match d.fan_in {
                Some(k) => binomial(j as u64, k as u64).to_u32().unwrap_or(1),
                None => 1,
            })
            .collect();
        let mut out = Vec::new();
        combinations(&sizes, |p| out.push(p.to_vec()));
        out
    }

    /// The edges (from, to) of a wiring, in the order a cell stores them.
    pub(crate) fn wiring_edges(d: &DagSpec, wiring: &[u32]) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        for (slot, j) in (d.inputs..d.nodes).enumerate() {
            let srcs: Vec<u32> = match d.fan_in {
                None => (0..j).collect(),
                Some(k) => crate::enumerate::unrank_combination(j, k, wiring[slot].into()),
            };
            out.extend(srcs.into_iter().map(|i| (i, j)));
        }
        out
    }

    /// Whether identity edges (`ident[e]`) carry an input to an output of the cell.
    pub(crate) fn bypasses(d: &DagSpec, edges: &[(u32, u32)], ident: &[bool]) -> bool {
        let n = d.nodes as usize;
        let mut reach: Vec<bool> = (0..n).map(|i| i < d.inputs as usize).collect();
        for (e, &(i, j)) in edges.iter().enumerate() {
            if ident[e] && reach[i as usize] {
                reach[j as usize] = true;
            }
        }
        match d.output {
            DagOutput::Last => reach[n - 1],
            DagOutput::Concat => (d.inputs as usize..n).any(|j| reach[j]),
            DagOutput::Leaves => (d.inputs..d.nodes)
                .filter(|&j| !edges.iter().any(|&(i, _)| i == j))
                .any(|j| reach[j as usize]),
        }
    }

    /// Blocks of a `bypass = false` cell: a row is the wiring followed by one bit per edge
    /// (1: the identity); its size counts the other operations on the remaining edges.
    pub(crate) fn bypass_blocks(&self, d: &DagSpec, lvl: usize) -> Blocks {
        let Some(id) = self.identity_alt(d) else {
            return Blocks::default();
        };
        let lc = self.child(lvl);
        let e = &self.counts[d.edge][lc];
        let id_count = &self.alt_counts[d.edge][lc][id];
        let other = if e >= id_count {
            e - id_count
        } else {
            BigUint::zero()
        };
        let mut rows = Vec::new();
        for w in Self::wirings(d) {
            let edges = Self::wiring_edges(d, &w);
            let m = edges.len();
            let bits = vec![2u32; m];
            combinations(&bits, |ident| {
                let flags: Vec<bool> = ident.iter().map(|&b| b == 1).collect();
                if Self::bypasses(d, &edges, &flags) {
                    return;
                }
                let ones = ident.iter().filter(|&&b| b == 1).count();
                let n = id_count.pow(ones as u32) * other.pow((m - ones) as u32);
                let mut row = w.clone();
                row.extend_from_slice(ident);
                rows.push((row, n));
            });
        }
        Blocks::new(rows)
    }

    /// The row of a cell: its wiring and which of its edges are the identity.
    pub(crate) fn bypass_row(&self, d: &DagSpec, edges: &[Edge]) -> Vec<u32> {
        let id = self.identity_alt(d);
        let mut row = Vec::new();
        if d.fan_in.is_some() {
            for j in d.inputs..d.nodes {
                let srcs: Vec<u32> = edges.iter().filter(|e| e.to == j).map(|e| e.from).collect();
                row.push(
                    crate::enumerate::rank_combination(j, &srcs)
                        .to_u32()
                        .unwrap_or(0),
                );
            }
        } else {
            row.extend((d.inputs..d.nodes).map(|_| 0));
        }
        for e in edges {
            let is_id = matches!(&e.op, Node::Choice { alt, .. } if Some(*alt as usize) == id);
            row.push(is_id as u32);
        }
        row
    }

    pub(crate) fn sample_bypass_dag(
        &self,
        r: RuleId,
        ai: usize,
        d: &DagSpec,
        lvl: usize,
        mode: crate::SampleMode,
        rng: &mut impl Rng,
    ) -> Node {
        let blocks = self.blocks(r, ai, lvl);
        let b = blocks.draw(rng);
        let row = &blocks.parts[b];
        let slots = (d.nodes - d.inputs) as usize;
        let id = self.identity_alt(d).unwrap_or(0);
        let lc = self.child(lvl);
        let edges = Self::wiring_edges(d, &row[..slots])
            .into_iter()
            .zip(&row[slots..])
            .map(|((from, to), &bit)| {
                let op = if bit == 1 {
                    self.sample_alt(d.edge, id, lc, mode, rng)
                } else {
                    // Every other operation keeps its share: redraw the identity away.
                    loop {
                        let n = self.sample_rule(d.edge, lc, mode, rng);
                        if !matches!(&n, Node::Choice { alt, .. } if *alt as usize == id) {
                            break n;
                        }
                    }
                };
                Edge { from, to, op }
            })
            .collect();
        Node::Dag(edges)
    }

    pub(crate) fn unrank_bypass_dag(
        &self,
        r: RuleId,
        ai: usize,
        d: &DagSpec,
        lvl: usize,
        mut idx: BigUint,
    ) -> Node {
        let blocks = self.blocks(r, ai, lvl);
        let mut b = 0;
        while b + 1 < blocks.sizes.len() && idx >= blocks.sizes[b] {
            idx -= &blocks.sizes[b];
            b += 1;
        }
        let row = &blocks.parts[b];
        let slots = (d.nodes - d.inputs) as usize;
        let id = self.identity_alt(d).unwrap_or(0);
        let lc = self.child(lvl);
        let before: BigUint = self.alt_counts[d.edge][lc][..id].iter().sum();
        let other = &self.counts[d.edge][lc] - &self.alt_counts[d.edge][lc][id];
        let edges = Self::wiring_edges(d, &row[..slots])
            .into_iter()
            .zip(&row[slots..])
            .map(|((from, to), &bit)| {
                let op = if bit == 1 {
                    self.unrank_alt(d.edge, id, lc, BigUint::zero())
                } else {
                    let mut i = &idx % &other;
                    idx /= &other;
                    if i >= before {
                        i += &self.alt_counts[d.edge][lc][id];
                    }
                    self.unrank_rule(d.edge, lc, &i)
                };
                Edge { from, to, op }
            })
            .collect();
        Node::Dag(edges)
    }

    pub(crate) fn rank_bypass_dag(
        &self,
        r: RuleId,
        ai: usize,
        d: &DagSpec,
        lvl: usize,
        edges: &[Edge],
    ) -> BigUint {
        let blocks = self.blocks(r, ai, lvl);
        let row = self.bypass_row(d, edges);
        let b = blocks.find(&row).unwrap_or(0);
        let mut offset: BigUint = blocks.sizes[..b].iter().sum();
        let id = self.identity_alt(d).unwrap_or(0);
        let lc = self.child(lvl);
        let before: BigUint = self.alt_counts[d.edge][lc][..id].iter().sum();
        let id_count = &self.alt_counts[d.edge][lc][id];
        let other = &self.counts[d.edge][lc] - id_count;
        let mut radix = BigUint::one();
        for e in edges {
            if matches!(&e.op, Node::Choice { alt, .. } if *alt as usize == id) {
                continue;
            }
            let mut i = self.rank_rule(d.edge, lc, &e.op);
            if i >= before {
                i -= id_count;
            }
            offset += i * &radix;
            radix *= &other;
        }
        offset
    }

    /// Whether a cell's edges respect `bypass = false` (always true without it).
    pub(crate) fn dag_allowed(&self, d: &DagSpec, edges: &[Edge]) -> bool {
        if d.bypass {
            return true;
        }
        let id = self.identity_alt(d);
        let pairs: Vec<(u32, u32)> = edges.iter().map(|e| (e.from, e.to)).collect();
        let flags: Vec<bool> = edges
            .iter()
            .map(|e| matches!(&e.op, Node::Choice { alt, .. } if Some(*alt as usize) == id))
            .collect();
        !Self::bypasses(d, &pairs, &flags)
    }
}
