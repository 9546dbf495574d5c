//! Candidates as sequences of decisions: the view that tree search (MCTS), density models
//! (TPE) and surrogate models (BANANAS-style encodings) work on.
//!
//! A derivation makes its decisions in a fixed order: the start rule, then each shared
//! binding; within a rule, the choice of alternative (where more than one fits) and then its
//! arguments in written order; a parameter is one decision (continuous ones are split into
//! [`FLOAT_BINS`] bins); a variable `repeat` decides its length, then its items; a DAG cell
//! decides, node by node, its set of sources (cells with `fan_in`) and then each edge.
//! [`Space::derive`] builds a candidate from a chooser; [`Space::decisions`] reads the
//! decisions back out of a candidate, so that `derive` replaying them gives it again.

use crate::candidate::{Candidate, Edge, Node};
use crate::grammar::*;
use crate::space::{binomial, Space};
use num_traits::{ToPrimitive, Zero};

/// Continuous parameters are decided among this many equal bins (log-spaced for `logfloat`);
/// a derived value is the centre of its bin.
pub const FLOAT_BINS: u32 = 16;

/// A discrete domain with more values than this (say `int(0, 1000000)`) is decided in this
/// many equal bins, each standing for its middle value, as continuous domains are: a
/// decision's options are materialized as a weight vector, which must stay small.
pub const VALUE_BINS: u32 = 4096;

/// The bin of the value at `index` in a domain of `len` values (`len` > [`VALUE_BINS`]).
fn value_bin_of(len: u128, index: u128) -> u32 {
    ((index * VALUE_BINS as u128) / len).min(VALUE_BINS as u128 - 1) as u32
}

/// The index of the middle value of `bin` in a domain of `len` values.
fn value_bin_index(len: u128, bin: u32) -> u128 {
    ((2 * bin as u128 + 1) * len / (2 * VALUE_BINS as u128)).min(len - 1)
}

/// What a decision chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecisionKind {
    Alternative,
    Value,
    Length,
    Sources,
    /// The operation of a DAG edge (an alternative of the edge rule).
    EdgeOp,
}

/// One decision point while deriving.
#[derive(Debug, Clone)]
pub struct Point<'a> {
    pub kind: DecisionKind,
    /// Number of options (some may be infeasible: weight 0).
    pub arity: u32,
    /// Relative number of architectures behind each option (uniform sampling draws by
    /// these); 0 marks an option that does not fit in the depth left.
    pub weights: &'a [f64],
    /// Identifies the decision's place in the grammar (rule, alternative, argument, list
    /// position, DAG edge), independent of earlier choices elsewhere: equal keys in two
    /// candidates mean "the same decision".
    pub key: u64,
    /// Nesting depth (0 = the start rule).
    pub depth: u32,
}

/// One decision as made in a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    pub kind: DecisionKind,
    pub key: u64,
    pub arity: u32,
    pub choice: u32,
    pub depth: u32,
}

#[inline]
fn mix(key: u64, tag: u64) -> u64 {
    // SplitMix64 finaliser over the pair: cheap, well spread, stable.
    let mut z = key
        ^ tag
            .wrapping_add(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(key << 6)
            .wrapping_add(key >> 2);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn float_bin_value(lo: f64, hi: f64, log: bool, bin: u32) -> f64 {
    let t = (bin as f64 + 0.5) / FLOAT_BINS as f64;
    let x = if log {
        (lo.ln() + t * (hi.ln() - lo.ln())).exp()
    } else {
        lo + t * (hi - lo)
    };
    x.clamp(lo, hi)
}

fn float_bin_of(lo: f64, hi: f64, log: bool, x: f64) -> u32 {
    let t = if log {
        (x.ln() - lo.ln()) / (hi.ln() - lo.ln())
    } else {
        (x - lo) / (hi - lo)
    };
    ((t * FLOAT_BINS as f64).floor().max(0.0) as u32).min(FLOAT_BINS - 1)
}

/// Decides: given a point, returns the chosen option (must have a non-zero weight).
pub type Chooser<'c> = dyn FnMut(&Point<'_>) -> u32 + 'c;

enum Mode<'c, 'd> {
    Derive(&'d mut Chooser<'c>),
    Read(&'d mut Vec<Decision>),
}

struct Walker<'s, 'c, 'd> {
    space: &'s Space,
    mode: Mode<'c, 'd>,
    weights: Vec<f64>,
}

impl Walker<'_, '_, '_> {
    /// Makes (or reads) one decision. In read mode `current` is the choice found in the
    /// candidate and the weights are never computed.
    fn decide(
        &mut self,
        kind: DecisionKind,
        key: u64,
        depth: u32,
        arity: u32,
        weights: impl FnOnce() -> Vec<f64>,
        current: u32,
    ) -> u32 {
        match &mut self.mode {
            Mode::Derive(f) => {
                self.weights = weights();
                let p = Point {
                    kind,
                    arity,
                    weights: &self.weights,
                    key,
                    depth,
                };
                let c = f(&p);
                if c < arity && self.weights[c as usize] > 0.0 {
                    c
                } else {
                    // A chooser that picks an infeasible option gets the first feasible one.
                    self.weights.iter().position(|w| *w > 0.0).unwrap_or(0) as u32
                }
            }
            Mode::Read(out) => {
                out.push(Decision {
                    kind,
                    key,
                    arity,
                    choice: current,
                    depth,
                });
                current
            }
        }
    }

    fn rule(
        &mut self,
        r: RuleId,
        lvl: usize,
        key: u64,
        depth: u32,
        cur: Option<&Node>,
        as_edge: bool,
    ) -> Node {
        self.rule_in(r, lvl, key, depth, cur, as_edge, None)
    }

    /// [`Walker::rule`], the alternatives weighed by `over` where a constraint narrows them.
    #[allow(clippy::too_many_arguments)]
    fn rule_in(
        &mut self,
        r: RuleId,
        lvl: usize,
        key: u64,
        depth: u32,
        cur: Option<&Node>,
        as_edge: bool,
        over: Option<Vec<f64>>,
    ) -> Node {
        let s = self.space;
        let counts = &s.alt_counts[r][lvl];
        let feasible = counts.iter().filter(|c| !c.is_zero()).count();
        let cur_alt = match cur {
            Some(Node::Choice { alt, .. }) => *alt,
            _ => 0,
        };
        let alt = if feasible > 1 || as_edge {
            let kind = if as_edge {
                DecisionKind::EdgeOp
            } else {
                DecisionKind::Alternative
            };
            let arity = counts.len() as u32;
            self.decide(
                kind,
                mix(key, r as u64),
                depth,
                arity,
                || over.clone().unwrap_or_else(|| s.uni_w[r][lvl].clone()),
                cur_alt,
            )
        } else {
            counts.iter().position(|c| !c.is_zero()).unwrap_or(0) as u32
        };
        let cur_kids: &[Node] = match cur {
            Some(Node::Choice { kids, .. }) => kids,
            _ => &[],
        };
        let key = mix(mix(key, r as u64), 1000 + alt as u64);
        let a = &s.g.rules[r].alts[alt as usize];
        let kids = match &a.kind {
            AltKind::Op { args, .. } if a.constraint.is_some() => {
                let w = a.constraint.as_ref().expect("matched just above");
                let blocks = s.blocks(r, alt as usize, lvl);
                let mut prefix: Vec<u32> = Vec::with_capacity(w.args.len());
                let mut kids = Vec::with_capacity(args.len());
                for (i, x) in args.iter().enumerate() {
                    let ikey = mix(key, i as u64);
                    let cur = cur_kids.get(i);
                    let node = match w.args.iter().position(|&m| m == i) {
                        None => self.expr(&x.expr, lvl, ikey, depth, cur),
                        Some(k) => {
                            let options = match &x.expr {
                                Expr::Ref(t) => s.g.rules[*t].alts.len(),
                                Expr::Domain(d) => d.len().unwrap_or(1) as usize,
                                _ => 1,
                            };
                            let weights = blocks.option_weights(&prefix, k, options);
                            match &x.expr {
                                Expr::Ref(t) => self.rule_in(
                                    *t,
                                    s.child(lvl),
                                    ikey,
                                    depth + 1,
                                    cur,
                                    false,
                                    Some(weights),
                                ),
                                Expr::Domain(d) => {
                                    let current = match cur {
                                        Some(Node::Value(v)) => d.index_of(v).unwrap_or(0) as u32,
                                        _ => 0,
                                    };
                                    let n = options as u32;
                                    let v = if n <= 1 {
                                        0
                                    } else {
                                        self.decide(
                                            DecisionKind::Value,
                                            ikey,
                                            depth,
                                            n,
                                            || weights,
                                            current,
                                        )
                                    };
                                    Node::Value(
                                        d.value_at(v as u128).expect("index within the domain"),
                                    )
                                }
                                e => self.expr(e, lvl, ikey, depth, cur),
                            }
                        }
                    };
                    if w.args.contains(&i) {
                        prefix.push(Space::part_of(&x.expr, &node));
                    }
                    kids.push(node);
                }
                kids
            }
            AltKind::Dag(d) if !d.bypass => {
                let blocks = s.blocks(r, alt as usize, lvl);
                vec![self.dag(d, lvl, key, depth, cur_kids.first(), Some(blocks))]
            }
            AltKind::Op { args, .. } => args
                .iter()
                .enumerate()
                .map(|(i, a)| self.expr(&a.expr, lvl, mix(key, i as u64), depth, cur_kids.get(i)))
                .collect(),
            AltKind::Ref(t) => {
                vec![self.reference(*t, lvl, mix(key, 7), depth, cur_kids.first(), false)]
            }
            AltKind::Dag(d) => vec![self.dag(d, lvl, key, depth, cur_kids.first(), None)],
        };
        Node::Choice { alt, kids }
    }

    fn reference(
        &mut self,
        t: RuleId,
        lvl: usize,
        key: u64,
        depth: u32,
        cur: Option<&Node>,
        as_edge: bool,
    ) -> Node {
        if self.space.g.rules[t].shared {
            Node::Shared
        } else {
            self.rule(t, self.space.child(lvl), key, depth + 1, cur, as_edge)
        }
    }

    fn expr(&mut self, e: &Expr, lvl: usize, key: u64, depth: u32, cur: Option<&Node>) -> Node {
        match e {
            Expr::Ref(t) => self.reference(*t, lvl, key, depth, cur, false),
            Expr::Literal(v) => Node::Value(v.clone()),
            Expr::Domain(d) => {
                let len = d.len().unwrap_or(1);
                let binned = len > VALUE_BINS as u128;
                let (n, current) = match (d, cur) {
                    (Domain::Float { lo, hi, log }, Some(Node::Value(Value::Float(x)))) => {
                        (FLOAT_BINS, float_bin_of(*lo, *hi, *log, *x))
                    }
                    (Domain::Float { .. }, _) => (FLOAT_BINS, 0),
                    (_, Some(Node::Value(v))) if binned => {
                        (VALUE_BINS, value_bin_of(len, d.index_of(v).unwrap_or(0)))
                    }
                    (_, _) if binned => (VALUE_BINS, 0),
                    (_, Some(Node::Value(v))) => (len as u32, d.index_of(v).unwrap_or(0) as u32),
                    _ => (len as u32, 0),
                };
                if n <= 1 {
                    return Node::Value(d.value_at(0).expect("checked domains are not empty"));
                }
                let i = self.decide(
                    DecisionKind::Value,
                    key,
                    depth,
                    n,
                    || vec![1.0; n as usize],
                    current,
                );
                // In read mode the value is the candidate's own (a float keeps its exact value).
                if let (Mode::Read(_), Some(Node::Value(v))) = (&self.mode, cur) {
                    return Node::Value(v.clone());
                }
                match d {
                    Domain::Float { lo, hi, log } => {
                        Node::Value(Value::Float(float_bin_value(*lo, *hi, *log, i)))
                    }
                    _ if binned => Node::Value(
                        d.value_at(value_bin_index(len, i))
                            .expect("a bin's middle lies within the domain"),
                    ),
                    _ => Node::Value(d.value_at(i as u128).expect("index within the domain")),
                }
            }
            Expr::Repeat { item, min, max } => {
                let cur_items: &[Node] = match cur {
                    Some(Node::List(items)) => items,
                    _ => &[],
                };
                let len = if min == max {
                    *min
                } else {
                    let space = self.space;
                    let weights = || {
                        // Weights c^k, computed in log space (c^k overflows f64 in big spaces).
                        let lc = space.expr_logc(item, lvl);
                        let logs: Vec<f64> = (*min..=*max)
                            .map(|k| if k == 0 { 0.0 } else { lc * k as f64 })
                            .collect();
                        let top = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                        logs.iter().map(|l| (l - top).exp()).collect()
                    };
                    let current = (cur_items.len() as u32).saturating_sub(*min);
                    min + self.decide(
                        DecisionKind::Length,
                        key,
                        depth,
                        max - min + 1,
                        weights,
                        current,
                    )
                };
                Node::List(
                    (0..len)
                        .map(|i| {
                            self.expr(
                                item,
                                lvl,
                                mix(key, 100 + i as u64),
                                depth,
                                cur_items.get(i as usize),
                            )
                        })
                        .collect(),
                )
            }
        }
    }

    /// A DAG cell: node by node, its set of sources (cells with `fan_in`), then the
    /// operation of each edge. For a `bypass = false` cell, `blocks` are its allowed
    /// combinations of wiring and identity edges (see `constrain.rs`), and each decision is
    /// offered only the options that some block agreeing with the decisions so far holds.
    fn dag(
        &mut self,
        d: &DagSpec,
        lvl: usize,
        key: u64,
        depth: u32,
        cur: Option<&Node>,
        blocks: Option<&crate::constrain::Blocks>,
    ) -> Node {
        let s = self.space;
        let id = s.identity_alt(d).unwrap_or(0);
        let lc = s.child(lvl);
        let cur_edges: &[Edge] = match cur {
            Some(Node::Dag(e)) => e,
            _ => &[],
        };
        // A block's row is the wiring (one source set per node), then one identity bit per
        // edge; decisions interleave them, so the two decided prefixes are kept apart.
        let slots = (d.nodes - d.inputs) as usize;
        let mut wiring: Vec<u32> = Vec::with_capacity(slots);
        let mut bits: Vec<u32> = Vec::new();
        let mut edges = Vec::with_capacity(d.edge_count());
        for j in d.inputs..d.nodes {
            let srcs: Vec<u32> = match d.fan_in {
                None => {
                    wiring.push(0);
                    (0..j).collect()
                }
                Some(k) => {
                    let n = binomial(j as u64, k as u64).to_u64().unwrap_or(1) as u32;
                    let current: Vec<u32> = cur_edges
                        .iter()
                        .filter(|e| e.to == j)
                        .map(|e| e.from)
                        .collect();
                    let cur_rank = if current.len() == k as usize {
                        crate::enumerate::rank_combination(j, &current)
                            .to_u32()
                            .unwrap_or(0)
                    } else {
                        0
                    };
                    let weights = || {
                        if blocks.is_none() {
                            return vec![1.0; n as usize];
                        }
                        let mut w = vec![0.0; n as usize];
                        for (row, sh) in agreeing(blocks, slots, &wiring, &bits) {
                            w[row[wiring.len()] as usize] += sh;
                        }
                        w
                    };
                    let pick = self.decide(
                        DecisionKind::Sources,
                        mix(key, 5000 + j as u64),
                        depth,
                        n,
                        weights,
                        cur_rank,
                    );
                    wiring.push(pick);
                    crate::enumerate::unrank_combination(j, k, pick.into())
                }
            };
            for from in srcs {
                let cur_op = cur_edges
                    .iter()
                    .find(|e| e.to == j && e.from == from)
                    .map(|e| &e.op);
                let ekey = mix(key, 10_000 + (j as u64) * 64 + from as u64);
                let over = blocks.map(|_| {
                    let (mut yes, mut no) = (0.0, 0.0);
                    for (row, sh) in agreeing(blocks, slots, &wiring, &bits) {
                        if row[slots + bits.len()] == 1 {
                            yes += sh;
                        } else {
                            no += sh;
                        }
                    }
                    let counts = &s.alt_counts[d.edge][lc];
                    let other: f64 = counts
                        .iter()
                        .enumerate()
                        .filter(|(a, _)| *a != id)
                        .map(|(_, c)| c.to_f64().unwrap_or(f64::MAX))
                        .sum();
                    counts
                        .iter()
                        .enumerate()
                        .map(|(a, c)| {
                            if a == id {
                                yes
                            } else if other > 0.0 {
                                no * c.to_f64().unwrap_or(f64::MAX) / other
                            } else {
                                0.0
                            }
                        })
                        .collect::<Vec<f64>>()
                });
                let op = if s.g.rules[d.edge].shared {
                    Node::Shared
                } else {
                    self.rule_in(d.edge, lc, ekey, depth + 1, cur_op, true, over)
                };
                bits.push(matches!(&op, Node::Choice { alt, .. } if *alt as usize == id) as u32);
                edges.push(Edge { from, to: j, op });
            }
        }
        Node::Dag(edges)
    }
}

/// The rows of `blocks` (with their shares) that agree with a DAG cell's decided wiring and
/// identity bits; rows hold `slots` wiring entries, then the bits.
fn agreeing<'a>(
    blocks: Option<&'a crate::constrain::Blocks>,
    slots: usize,
    wiring: &'a [u32],
    bits: &'a [u32],
) -> impl Iterator<Item = (&'a Vec<u32>, &'a f64)> + 'a {
    blocks.into_iter().flat_map(move |b| {
        b.parts.iter().zip(&b.shares).filter(move |(row, _)| {
            row[..wiring.len()] == *wiring && row[slots..slots + bits.len()] == *bits
        })
    })
}

impl Space {
    /// Builds a candidate, asking `choose` at every decision point (in derivation order).
    pub fn derive(&self, choose: &mut Chooser<'_>) -> Candidate {
        let mut w = Walker {
            space: self,
            mode: Mode::Derive(choose),
            weights: Vec::new(),
        };
        let root = w.rule(self.g.start, 0, 0x5eed, 0, None, false);
        let shared = self
            .g
            .shared
            .iter()
            .map(|&s| w.rule(s, 0, mix(0x5eed, 1_000_000 + s as u64), 0, None, false))
            .collect();
        Candidate { root, shared }
    }

    /// The decisions a candidate embodies, in derivation order.
    pub fn decisions(&self, c: &Candidate) -> Vec<Decision> {
        let mut out = Vec::new();
        let mut w = Walker {
            space: self,
            mode: Mode::Read(&mut out),
            weights: Vec::new(),
        };
        w.rule(self.g.start, 0, 0x5eed, 0, Some(&c.root), false);
        for (slot, &s) in self.g.shared.iter().enumerate() {
            w.rule(
                s,
                0,
                mix(0x5eed, 1_000_000 + s as u64),
                0,
                c.shared.get(slot),
                false,
            );
        }
        out
    }
}
