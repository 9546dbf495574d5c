//! Grammar-aware variation: mutation sites, mutation, the single-step neighbourhood, crossover.

use crate::candidate::{Candidate, Node, Path};
use crate::grammar::*;
use crate::space::{sample_domain, SampleMode, Space};
use num_traits::Zero;
use rand::seq::IndexedRandom;
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

/// What a mutation at a site changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SiteKind {
    /// Re-derive the subtree of a nonterminal that has several alternatives.
    Alternative,
    /// Change one parameter value.
    Parameter,
    /// Change the operation on one DAG edge.
    EdgeOp,
    /// Move one DAG edge to another source node (cells with `fan_in`).
    EdgeSource,
    /// Add or remove one item of a variable-length `repeat`.
    Length,
}

/// One place in a candidate where a single mutation can act.
#[derive(Debug, Clone)]
pub struct Site<'s> {
    pub kind: SiteKind,
    /// The node the mutation replaces (for `EdgeSource`, the DAG node).
    pub path: Path,
    /// Nesting depth of the site in the hierarchy (0 = the start rule): lets a strategy
    /// choose the level at which it mutates.
    pub depth: u32,
    pub(crate) target: Target<'s>,
}

#[derive(Debug, Clone)]
pub(crate) enum Target<'s> {
    Rule {
        rule: RuleId,
        lvl: usize,
    },
    Domain(&'s Domain),
    Edge {
        edge: usize,
    },
    Repeat {
        item: &'s Expr,
        min: u32,
        max: u32,
        lvl: usize,
    },
}

impl<'s> Site<'s> {
    /// The nonterminal re-derived at this site, for `Alternative` and `EdgeOp` sites.
    pub fn rule(&self) -> Option<RuleId> {
        match self.target {
            Target::Rule { rule, .. } => Some(rule),
            _ => None,
        }
    }
}

impl Space {
    /// Every place where one mutation can act, in tree order (root, then shared bindings).
    pub fn mutation_sites(&self, c: &Candidate) -> Vec<Site<'_>> {
        let mut out = Vec::new();
        let mut path = Path {
            part: 0,
            steps: Vec::new(),
        };
        self.sites_rule(self.g.start, 0, &c.root, &mut path, 0, &mut out, false);
        for (slot, &s) in self.g.shared.iter().enumerate() {
            let mut path = Path {
                part: slot + 1,
                steps: Vec::new(),
            };
            if let Some(n) = c.shared.get(slot) {
                self.sites_rule(s, 0, n, &mut path, 0, &mut out, false);
            }
        }
        out
    }

    fn feasible_alts(&self, r: RuleId, lvl: usize) -> usize {
        self.alt_counts[r][lvl]
            .iter()
            .filter(|c| !c.is_zero())
            .count()
    }

    #[allow(clippy::too_many_arguments)]
    fn sites_rule<'s>(
        &'s self,
        r: RuleId,
        lvl: usize,
        n: &Node,
        path: &mut Path,
        depth: u32,
        out: &mut Vec<Site<'s>>,
        as_edge: bool,
    ) {
        let Node::Choice { alt, kids } = n else {
            return;
        };
        if as_edge {
            if self.counts[r][lvl] > num_bigint::BigUint::from(1u8) {
                out.push(Site {
                    kind: SiteKind::EdgeOp,
                    path: path.clone(),
                    depth,
                    target: Target::Rule { rule: r, lvl },
                });
            }
        } else if self.feasible_alts(r, lvl) > 1 {
            out.push(Site {
                kind: SiteKind::Alternative,
                path: path.clone(),
                depth,
                target: Target::Rule { rule: r, lvl },
            });
        }
        let Some(a) = self.g.rules[r].alts.get(*alt as usize) else {
            return;
        };
        match &a.kind {
            AltKind::Op { args, .. } => {
                for (i, (x, k)) in args.iter().zip(kids).enumerate() {
                    path.steps.push(i as u32);
                    self.sites_expr(&x.expr, lvl, k, path, depth, out);
                    path.steps.pop();
                }
            }
            AltKind::Ref(t) => {
                if let Some(k) = kids.first() {
                    path.steps.push(0);
                    self.sites_ref(*t, lvl, k, path, depth, out, false);
                    path.steps.pop();
                }
            }
            AltKind::Dag(d) => {
                if let Some(Node::Dag(edges)) = kids.first() {
                    path.steps.push(0);
                    for (ei, e) in edges.iter().enumerate() {
                        if d.fan_in.is_some_and(|k| e.to > k) {
                            out.push(Site {
                                kind: SiteKind::EdgeSource,
                                path: path.clone(),
                                depth,
                                target: Target::Edge { edge: ei },
                            });
                        }
                        path.steps.push(ei as u32);
                        self.sites_ref(d.edge, lvl, &e.op, path, depth, out, true);
                        path.steps.pop();
                    }
                    path.steps.pop();
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn sites_ref<'s>(
        &'s self,
        t: RuleId,
        lvl: usize,
        n: &Node,
        path: &mut Path,
        depth: u32,
        out: &mut Vec<Site<'s>>,
        as_edge: bool,
    ) {
        if !self.g.rules[t].shared {
            self.sites_rule(t, self.child(lvl), n, path, depth + 1, out, as_edge);
        }
    }

    fn sites_expr<'s>(
        &'s self,
        e: &'s Expr,
        lvl: usize,
        n: &Node,
        path: &mut Path,
        depth: u32,
        out: &mut Vec<Site<'s>>,
    ) {
        match (e, n) {
            (Expr::Ref(t), _) => self.sites_ref(*t, lvl, n, path, depth, out, false),
            (Expr::Domain(d), Node::Value(_)) if d.len().is_none_or(|k| k > 1) => out.push(Site {
                kind: SiteKind::Parameter,
                path: path.clone(),
                depth,
                target: Target::Domain(d),
            }),
            (Expr::Repeat { item, min, max }, Node::List(items)) => {
                // A list that can neither grow (its item has no derivation within the
                // depth left) nor shrink (it is at its minimum) is no mutation site.
                let n = items.len() as u32;
                let can_grow = n < *max && self.expr_logc(item, lvl) > f64::NEG_INFINITY;
                let can_shrink = n > *min;
                if min < max && (can_grow || can_shrink) {
                    out.push(Site {
                        kind: SiteKind::Length,
                        path: path.clone(),
                        depth,
                        target: Target::Repeat {
                            item,
                            min: *min,
                            max: *max,
                            lvl,
                        },
                    });
                }
                for (i, it) in items.iter().enumerate() {
                    path.steps.push(i as u32);
                    self.sites_expr(item, lvl, it, path, depth, out);
                    path.steps.pop();
                }
            }
            _ => {}
        }
    }

    /// One random single-step mutation (uniform re-derivation where a subtree is redrawn).
    /// The result differs from `c` unless the space has a single member.
    pub fn mutate(&self, c: &Candidate, rng: &mut impl Rng) -> Candidate {
        self.mutate_with(c, SampleMode::Uniform, rng)
    }

    /// [`Space::mutate`], drawing re-derived subtrees in the given mode.
    pub fn mutate_with(&self, c: &Candidate, mode: SampleMode, rng: &mut impl Rng) -> Candidate {
        let sites = self.mutation_sites(c);
        if sites.is_empty() {
            return c.clone();
        }
        // Under constraints a site may have no allowed change: try other sites.
        for _ in 0..64 {
            let site = &sites[rng.random_range(0..sites.len())];
            let m = self.mutate_at(c, site, mode, rng);
            if m != *c || !self.is_constrained() {
                return m;
            }
        }
        c.clone()
    }

    /// Whether the space has `where` conditions or `bypass = false` cells: derivations
    /// built piece by piece must then be checked as a whole.
    pub fn is_constrained(&self) -> bool {
        !self.blocks.is_empty()
    }

    /// Applies a mutation at `site`; the result is a member of the space and differs from
    /// `c` (up to a bounded number of redraws for subtrees with very few derivations).
    ///
    /// In a constrained space (see [`Space::is_constrained`]) a change that breaks a
    /// constraint is drawn again, up to 32 times; `c` itself comes back when none fits.
    pub fn mutate_at(
        &self,
        c: &Candidate,
        site: &Site<'_>,
        mode: SampleMode,
        rng: &mut impl Rng,
    ) -> Candidate {
        if !self.is_constrained() {
            return self.mutate_at_once(c, site, mode, rng);
        }
        for _ in 0..32 {
            let m = self.mutate_at_once(c, site, mode, rng);
            if m != *c && self.is_member(&m) {
                return m;
            }
        }
        c.clone()
    }

    fn mutate_at_once(
        &self,
        c: &Candidate,
        site: &Site<'_>,
        mode: SampleMode,
        rng: &mut impl Rng,
    ) -> Candidate {
        let mut out = c.clone();
        let Some(node) = out.get_mut(&site.path) else {
            return out;
        };
        match &site.target {
            Target::Rule { rule, lvl } => {
                for _ in 0..32 {
                    let fresh = self.sample_rule(*rule, *lvl, mode, rng);
                    if fresh != *node {
                        *node = fresh;
                        break;
                    }
                }
            }
            Target::Domain(d) => {
                let Node::Value(v) = node else { return out };
                *v = match (d.len(), d.index_of(v)) {
                    (Some(n), Some(i)) if n > 1 => {
                        let j = rng.random_range(0..n - 1);
                        d.value_at(if j >= i { j + 1 } else { j })
                            .unwrap_or_else(|| v.clone())
                    }
                    _ => sample_domain(d, rng),
                };
            }
            Target::Edge { edge } => {
                let Node::Dag(edges) = node else { return out };
                let to = edges[*edge].to;
                let used: Vec<u32> = edges
                    .iter()
                    .filter(|e| e.to == to)
                    .map(|e| e.from)
                    .collect();
                let free: Vec<u32> = (0..to).filter(|i| !used.contains(i)).collect();
                if let Some(&new) = free.get(rng.random_range(0..free.len().max(1))) {
                    edges[*edge].from = new;
                    edges.sort_by_key(|e| (e.to, e.from));
                }
            }
            Target::Repeat {
                item,
                min,
                max,
                lvl,
            } => {
                let Node::List(items) = node else { return out };
                let n = items.len() as u32;
                let can_grow = n < *max && self.expr_logc(item, *lvl) > f64::NEG_INFINITY;
                let grow = can_grow && (n == *min || rng.random_bool(0.5));
                if grow {
                    let at = rng.random_range(0..=items.len());
                    items.insert(at, self.sample_expr(item, *lvl, mode, rng));
                } else if !items.is_empty() {
                    let at = rng.random_range(0..items.len());
                    items.remove(at);
                }
            }
        }
        out
    }

    /// Every candidate one mutation away from `c`, without duplicates and without `c`.
    /// Switching an alternative keeps arguments of the same name and domain and gives new
    /// parts their default (first) derivation; large integer domains and continuous ones
    /// contribute the two nearby values; a list grows by repeating its last item or shrinks
    /// by dropping any one item. In a constrained space, a switched alternative whose
    /// default derivation breaks its constraint takes the alternative's first member, and
    /// other variants that break a constraint are left out.
    pub fn neighbours(&self, c: &Candidate) -> Vec<Candidate> {
        let constrained = self.is_constrained();
        let mut seen = HashSet::new();
        seen.insert(c.clone());
        let mut out = Vec::new();
        for site in self.mutation_sites(c) {
            let Some(node) = c.get(&site.path) else {
                continue;
            };
            let variants: Vec<Node> = match &site.target {
                Target::Rule { rule, lvl } => {
                    let Node::Choice { alt, .. } = node else {
                        continue;
                    };
                    (0..self.g.rules[*rule].alts.len())
                        .filter(|&j| {
                            j != *alt as usize && !self.alt_counts[*rule][*lvl][j].is_zero()
                        })
                        .map(|j| self.default_alt(*rule, j, *lvl, Some(node)))
                        .collect()
                }
                Target::Domain(d) => {
                    let Node::Value(v) = node else { continue };
                    domain_neighbours(d, v)
                        .into_iter()
                        .map(Node::Value)
                        .collect()
                }
                Target::Edge { edge, .. } => {
                    let Node::Dag(edges) = node else { continue };
                    let to = edges[*edge].to;
                    let used: Vec<u32> = edges
                        .iter()
                        .filter(|e| e.to == to)
                        .map(|e| e.from)
                        .collect();
                    (0..to)
                        .filter(|i| !used.contains(i))
                        .map(|i| {
                            let mut es = edges.clone();
                            es[*edge].from = i;
                            es.sort_by_key(|e| (e.to, e.from));
                            Node::Dag(es)
                        })
                        .collect()
                }
                Target::Repeat {
                    item,
                    min,
                    max,
                    lvl,
                } => {
                    let Node::List(items) = node else { continue };
                    let mut v = Vec::new();
                    if (items.len() as u32) < *max && self.expr_logc(item, *lvl) > f64::NEG_INFINITY
                    {
                        let mut grown = items.clone();
                        grown.push(
                            items
                                .last()
                                .cloned()
                                .unwrap_or_else(|| self.default_expr(item, *lvl)),
                        );
                        v.push(Node::List(grown));
                    }
                    if (items.len() as u32) > *min {
                        for i in 0..items.len() {
                            let mut shrunk = items.clone();
                            shrunk.remove(i);
                            v.push(Node::List(shrunk));
                        }
                    }
                    v
                }
            };
            for var in variants {
                let mut n = c.clone();
                if let Some(slot) = n.get_mut(&site.path) {
                    *slot = var;
                }
                if seen.insert(n.clone()) && (!constrained || self.is_member(&n)) {
                    out.push(n);
                }
            }
        }
        out
    }

    /// The default derivation of alternative `j` of `r`, reusing arguments of `old` that have
    /// the same name and expression.
    fn default_alt(&self, r: RuleId, j: usize, lvl: usize, old: Option<&Node>) -> Node {
        let rule = &self.g.rules[r];
        let old_args: Vec<(&Arg, &Node)> = match old {
            Some(Node::Choice { alt, kids }) => match rule.alts.get(*alt as usize).map(|a| &a.kind)
            {
                Some(AltKind::Op { args, .. }) => args.iter().zip(kids).collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        let kids = match &rule.alts[j].kind {
            AltKind::Op { args, .. } => args
                .iter()
                .map(|x| {
                    old_args
                        .iter()
                        .find(|(o, _)| o.name == x.name && o.expr == x.expr)
                        .map(|(_, n)| (*n).clone())
                        .unwrap_or_else(|| self.default_expr(&x.expr, lvl))
                })
                .collect(),
            AltKind::Ref(t) => vec![self.default_ref(*t, lvl)],
            AltKind::Dag(d) => {
                let mut edges = Vec::new();
                for to in d.inputs..d.nodes {
                    for from in 0..d.fan_in.unwrap_or(to) {
                        edges.push(crate::candidate::Edge {
                            from,
                            to,
                            op: self.default_ref(d.edge, lvl),
                        });
                    }
                }
                vec![Node::Dag(edges)]
            }
        };
        let node = Node::Choice {
            alt: j as u32,
            kids,
        };
        // A default that breaks the alternative's constraint gives way to its first member.
        let a = &rule.alts[j];
        let constrained = a.constraint.is_some() || matches!(&a.kind, AltKind::Dag(d) if !d.bypass);
        if constrained
            && !self.continuous
            && !self.alt_counts[r][lvl][j].is_zero()
            && self.val_rule(r, lvl, &node).is_err()
        {
            return self.unrank_alt(r, j, lvl, num_bigint::BigUint::zero());
        }
        node
    }

    fn default_ref(&self, t: RuleId, lvl: usize) -> Node {
        if self.g.rules[t].shared {
            return Node::Shared;
        }
        let c = self.child(lvl);
        let j = self.alt_counts[t][c]
            .iter()
            .position(|n| !n.is_zero())
            .unwrap_or(0);
        self.default_alt(t, j, c, None)
    }

    fn default_expr(&self, e: &Expr, lvl: usize) -> Node {
        match e {
            Expr::Ref(t) => self.default_ref(*t, lvl),
            Expr::Literal(v) => Node::Value(v.clone()),
            Expr::Domain(Domain::Float { lo, hi, log }) => Node::Value(Value::Float(if *log {
                (lo * hi).sqrt().clamp(*lo, *hi)
            } else {
                (lo + hi) / 2.0
            })),
            Expr::Domain(d) => Node::Value(d.value_at(0).expect("checked domains are not empty")),
            Expr::Repeat { item, min, .. } => {
                Node::List((0..*min).map(|_| self.default_expr(item, lvl)).collect())
            }
        }
    }

    /// Crossover: a child of `a` in which one subtree is replaced by a subtree of `b` rooted
    /// at the same nonterminal (a shared binding counts as such a subtree). `None` when the
    /// parents share no exchangeable subtree that differs.
    pub fn crossover(&self, a: &Candidate, b: &Candidate, rng: &mut impl Rng) -> Option<Candidate> {
        // Pairs are drawn uniformly among those that differ, without listing them: two large
        // trees have millions of same-rule pairs, and comparing each pair's subtrees made one
        // crossover of two recursive DAG candidates take seconds.
        let ra = self.rule_nodes(a);
        let rb = self.rule_nodes(b);
        let ha: Vec<u64> = ra.iter().map(|(_, p)| subtree_hash(a.get(p))).collect();
        let hb: Vec<u64> = rb.iter().map(|(_, p)| subtree_hash(b.get(p))).collect();
        let mut donors: HashMap<RuleId, (Vec<usize>, HashMap<u64, u64>)> = HashMap::new();
        for (j, (rule, _)) in rb.iter().enumerate() {
            let entry = donors.entry(*rule).or_default();
            entry.0.push(j);
            *entry.1.entry(hb[j]).or_default() += 1;
        }
        // cumulative[i]: how many differing pairs have their receiving site before or at i.
        let mut cumulative = Vec::with_capacity(ra.len());
        let mut total = 0u64;
        for (i, (rule, _)) in ra.iter().enumerate() {
            if let Some((js, counts)) = donors.get(rule) {
                total += js.len() as u64 - counts.get(&ha[i]).copied().unwrap_or(0);
            }
            cumulative.push(total);
        }
        if total == 0 {
            return None;
        }
        let mut tried = HashSet::new();
        for _ in 0..128 {
            if tried.len() >= 32 || tried.len() as u64 >= total {
                break;
            }
            let pick = rng.random_range(0..total);
            let i = cumulative.partition_point(|&c| c <= pick);
            let (js, _) = &donors[&ra[i].0];
            let mut j = None;
            for _ in 0..64 {
                let k = js[rng.random_range(0..js.len())];
                if hb[k] != ha[i] {
                    j = Some(k);
                    break;
                }
            }
            let j = match j {
                Some(j) => j,
                None => {
                    let differing: Vec<usize> =
                        js.iter().copied().filter(|&k| hb[k] != ha[i]).collect();
                    *differing.choose(rng)?
                }
            };
            if !tried.insert((i, j)) {
                continue;
            }
            let donor = b.get(&rb[j].1)?;
            if a.get(&ra[i].1) == Some(donor) {
                continue;
            }
            let mut child = a.clone();
            *child.get_mut(&ra[i].1)? = donor.clone();
            // A subtree moved to a deeper place may break the depth bound; try another pair then.
            if (self.g.max_depth.is_none() && !self.is_constrained()) || self.is_member(&child) {
                return Some(child);
            }
        }
        None
    }

    /// Every nonterminal expansion in a candidate with its rule and path.
    pub fn rule_nodes(&self, c: &Candidate) -> Vec<(RuleId, Path)> {
        let mut out = Vec::new();
        let mut path = Path {
            part: 0,
            steps: Vec::new(),
        };
        self.collect_rule(self.g.start, &c.root, &mut path, &mut out);
        for (slot, &s) in self.g.shared.iter().enumerate() {
            let mut path = Path {
                part: slot + 1,
                steps: Vec::new(),
            };
            if let Some(n) = c.shared.get(slot) {
                self.collect_rule(s, n, &mut path, &mut out);
            }
        }
        out
    }

    fn collect_rule(&self, r: RuleId, n: &Node, path: &mut Path, out: &mut Vec<(RuleId, Path)>) {
        let Node::Choice { alt, kids } = n else {
            return;
        };
        out.push((r, path.clone()));
        let Some(a) = self.g.rules[r].alts.get(*alt as usize) else {
            return;
        };
        match &a.kind {
            AltKind::Op { args, .. } => {
                for (i, (x, k)) in args.iter().zip(kids).enumerate() {
                    path.steps.push(i as u32);
                    self.collect_expr(&x.expr, k, path, out);
                    path.steps.pop();
                }
            }
            AltKind::Ref(t) => {
                if let (false, Some(k)) = (self.g.rules[*t].shared, kids.first()) {
                    path.steps.push(0);
                    self.collect_rule(*t, k, path, out);
                    path.steps.pop();
                }
            }
            AltKind::Dag(d) => {
                if let (false, Some(Node::Dag(edges))) = (self.g.rules[d.edge].shared, kids.first())
                {
                    path.steps.push(0);
                    for (ei, e) in edges.iter().enumerate() {
                        path.steps.push(ei as u32);
                        self.collect_rule(d.edge, &e.op, path, out);
                        path.steps.pop();
                    }
                    path.steps.pop();
                }
            }
        }
    }

    fn collect_expr(&self, e: &Expr, n: &Node, path: &mut Path, out: &mut Vec<(RuleId, Path)>) {
        match (e, n) {
            (Expr::Ref(t), _) if !self.g.rules[*t].shared => self.collect_rule(*t, n, path, out),
            (Expr::Repeat { item, .. }, Node::List(items)) => {
                for (i, it) in items.iter().enumerate() {
                    path.steps.push(i as u32);
                    self.collect_expr(item, it, path, out);
                    path.steps.pop();
                }
            }
            _ => {}
        }
    }
}

/// Values one step from `v`: all others for small discrete domains, the adjacent ones otherwise.
fn domain_neighbours(d: &Domain, v: &Value) -> Vec<Value> {
    const SMALL: u128 = 64;
    match (d, d.len(), d.index_of(v)) {
        (_, Some(n), Some(i)) if n <= SMALL => (0..n)
            .filter(|&j| j != i)
            .filter_map(|j| d.value_at(j))
            .collect(),
        (_, Some(n), Some(i)) => [i.checked_sub(1), (i + 1 < n).then_some(i + 1)]
            .into_iter()
            .flatten()
            .filter_map(|j| d.value_at(j))
            .collect(),
        (Domain::Float { lo, hi, log }, None, _) => {
            let Value::Float(x) = v else {
                return Vec::new();
            };
            let cands = if *log {
                let f = (hi / lo).powf(0.1);
                [x / f, x * f]
            } else {
                let s = (hi - lo) / 10.0;
                [x - s, x + s]
            };
            cands
                .into_iter()
                .map(|y| y.clamp(*lo, *hi))
                .filter(|y| y.to_bits() != x.to_bits())
                .map(Value::Float)
                .collect()
        }
        _ => Vec::new(),
    }
}

fn subtree_hash(n: Option<&Node>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    n.hash(&mut h);
    h.finish()
}
