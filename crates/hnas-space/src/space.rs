//! A checked space with its counting tables: the object every operation works on.

use crate::candidate::{Candidate, Edge, Node};
use crate::check::check;
use crate::diag::{Diagnostic, Diagnostics};
use crate::grammar::*;
use crate::parse::Parser;
use num_bigint::BigUint;
use num_traits::{One, ToPrimitive, Zero};
use rand::Rng;

/// How to draw candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleMode {
    /// Every architecture of the space equally likely (alternatives weighted by how many
    /// architectures they lead to; continuous parameters uniform or log-uniform).
    Uniform,
    /// By the probabilities written on alternatives (equal where none are written), as a
    /// probabilistic grammar; repetition counts and parameter values uniform.
    Weighted,
}

/// A parsed and checked search space, ready to count, sample, mutate and print.
///
/// ```
/// use hnas_space::Space;
/// let space = Space::parse("tiny.hnas", "net = mlp(width = {64, 128}, depth = int(1, 3))").unwrap();
/// assert_eq!(space.size().to_string(), "6");
/// ```
#[derive(Debug, Clone)]
pub struct Space {
    pub(crate) g: Grammar,
    pub(crate) file: String,
    pub(crate) text: String,
    /// Count tables are indexed by level: the nesting depth when the grammar has a depth
    /// bound (with one extra all-zero level past the bound), or a single level otherwise.
    pub(crate) levels: usize,
    pub(crate) counts: Vec<Vec<BigUint>>,
    pub(crate) alt_counts: Vec<Vec<Vec<BigUint>>>,
    pub(crate) logc: Vec<Vec<f64>>,
    pub(crate) uni_cdf: Vec<Vec<Vec<f64>>>,
    /// Uniform-sampling weight of each alternative, per rule and level (not cumulative).
    pub(crate) uni_w: Vec<Vec<Vec<f64>>>,
    pub(crate) pcfg_cdf: Vec<Vec<Vec<f64>>>,
    /// Per rule and level, the height of the tallest derivation tree (0 where none exists).
    pub(crate) height: Vec<Vec<usize>>,
    pub(crate) continuous: bool,
    /// Blocks of constrained alternatives (`where`, `bypass = false`), by rule, alternative
    /// and level: see `constrain.rs`.
    pub(crate) blocks: std::collections::HashMap<(RuleId, usize, usize), crate::constrain::Blocks>,
}

/// Exact counts are kept below 2^65536 (about 10^19728 architectures): a deeply recursive
/// grammar squares its count at every level, and counting it exactly would exhaust memory
/// (found by fuzzing with `@max_depth 51`).
pub const MAX_COUNT_BITS: u64 = 65_536;

/// Natural logarithm of a big integer (−∞ for zero), accurate to f64 precision.
pub(crate) fn big_ln(n: &BigUint) -> f64 {
    if n.is_zero() {
        return f64::NEG_INFINITY;
    }
    let bits = n.bits();
    if bits <= 1000 {
        n.to_f64().map_or(f64::INFINITY, f64::ln)
    } else {
        let shift = bits - 64;
        let top = (n >> shift).to_f64().unwrap_or(1.0);
        top.ln() + shift as f64 * std::f64::consts::LN_2
    }
}

pub(crate) fn binomial(n: u64, k: u64) -> BigUint {
    let mut r = BigUint::one();
    for i in 0..k {
        r = r * (n - i) / (i + 1);
    }
    r
}

fn cdf(weights: &[f64]) -> Vec<f64> {
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let mut out: Vec<f64> = weights
        .iter()
        .map(|w| {
            acc += w / total;
            acc
        })
        .collect();
    // Guard the last feasible entry against rounding so that a draw below 1 always lands.
    if let Some(last) = weights.iter().rposition(|w| *w > 0.0) {
        for x in out.iter_mut().skip(last) {
            *x = 1.0;
        }
    }
    out
}

pub(crate) fn pick(cdf: &[f64], rng: &mut impl Rng) -> usize {
    let u: f64 = rng.random();
    cdf.iter().position(|&c| u < c).unwrap_or(cdf.len() - 1)
}

impl Space {
    /// Parses and checks a space. `file` names the source in diagnostics.
    pub fn parse(file: &str, text: &str) -> Result<Space, Diagnostics> {
        let (raw, mut diags) = Parser::new(file, text).file();
        if !diags.is_empty() {
            diags.sort_by_key(|d| d.span.start);
            return Err(Diagnostics {
                items: diags,
                text: text.to_string(),
            });
        }
        let g = check(file, text, raw).map_err(|mut items| {
            items.sort_by_key(|d| d.span.start);
            Diagnostics {
                items,
                text: text.to_string(),
            }
        })?;
        let space = Space::build(g, file, text);
        // Both refusals point at the start rule's name.
        let at_start = |message: String| {
            let r = &space.g.rules[space.g.start];
            Diagnostics {
                items: vec![Diagnostic::new(
                    file,
                    text,
                    r.span.start..r.span.start + r.name.len(),
                    message,
                )],
                text: text.to_string(),
            }
        };
        if space
            .counts
            .iter()
            .flatten()
            .any(|c| c.bits() > MAX_COUNT_BITS)
        {
            return Err(at_start(format!(
                "the space is too large to count: more than 2^{MAX_COUNT_BITS} (about 10^19728) architectures; expected a smaller @max_depth or fewer repetitions"
            )));
        }
        let roots = std::iter::once(space.g.start).chain(space.g.shared.iter().copied());
        if let Some(r) = roots
            .into_iter()
            .find(|&r| space.height[r][0] > MAX_NESTING)
        {
            let path = space.tallest_path(r);
            let names: Vec<&str> = path
                .iter()
                .map(|&t| space.g.rules[t].name.as_str())
                .collect();
            let shown = if names.len() > 6 {
                format!(
                    "{} -> .. -> {}",
                    names[..4].join(" -> "),
                    names[names.len() - 1]
                )
            } else {
                names.join(" -> ")
            };
            let rule = &space.g.rules[r];
            return Err(Diagnostics {
                items: vec![Diagnostic::new(
                    file,
                    text,
                    rule.span.start..rule.span.start + rule.name.len(),
                    format!(
                        "nesting deeper than {MAX_NESTING}: a derivation of '{}' nests {} levels of operations, lists and rule names ({shown}); expected at most {MAX_NESTING}",
                        rule.name, space.height[r][0]
                    ),
                )],
                text: text.to_string(),
            });
        }
        if space.counts[space.g.start][0].is_zero() {
            let depth = space.g.max_depth.unwrap_or(0);
            let name = &space.g.rules[space.g.start].name;
            return Err(at_start(format!(
                "no architecture of '{name}' fits within @max_depth {depth}; expected a larger depth limit"
            )));
        }
        // A shared rule is decided once, at the top: if none of its expansions fits, no
        // candidate exists (found by fuzzing: the count was 0 and sampling panicked).
        if let Some(&r) = space
            .g
            .shared
            .iter()
            .find(|&&r| space.counts[r][0].is_zero())
        {
            let depth = space.g.max_depth.unwrap_or(0);
            let rule = &space.g.rules[r];
            let name_at = rule.span.start + text[rule.span.clone()].find(&rule.name).unwrap_or(0);
            return Err(Diagnostics {
                items: vec![Diagnostic::new(
                    file,
                    text,
                    name_at..name_at + rule.name.len(),
                    format!(
                        "no expansion of shared rule '{}' fits within @max_depth {depth} (shared choices are made at depth 0); expected a larger depth limit",
                        rule.name
                    ),
                )],
                text: text.to_string(),
            });
        }
        Ok(space)
    }

    /// Reads and parses a space file.
    pub fn from_file(path: &std::path::Path) -> Result<Space, crate::Error> {
        let text = std::fs::read_to_string(path).map_err(|e| crate::Error::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        Space::parse(&path.display().to_string(), &text).map_err(crate::Error::Space)
    }

    /// The checked grammar.
    pub fn grammar(&self) -> &Grammar {
        &self.g
    }

    /// The source text the space was parsed from.
    pub fn source(&self) -> &str {
        &self.text
    }

    /// The source name given to [`Space::parse`].
    pub fn file_name(&self) -> &str {
        &self.file
    }

    fn build(g: Grammar, file: &str, text: &str) -> Space {
        let levels = g.max_depth.map_or(1, |d| d as usize + 2);
        let n = g.rules.len();
        let mut s = Space {
            levels,
            counts: vec![vec![BigUint::zero(); levels]; n],
            alt_counts: g
                .rules
                .iter()
                .map(|r| vec![vec![BigUint::zero(); r.alts.len()]; levels])
                .collect(),
            logc: vec![vec![f64::NEG_INFINITY; levels]; n],
            uni_cdf: vec![vec![Vec::new(); levels]; n],
            uni_w: vec![vec![Vec::new(); levels]; n],
            pcfg_cdf: vec![vec![Vec::new(); levels]; n],
            height: vec![vec![0; levels]; n],
            continuous: false,
            blocks: Default::default(),
            g,
            file: file.to_string(),
            text: text.to_string(),
        };
        if s.g.max_depth.is_some() {
            // Every reference goes one level down, so each level needs only the next one.
            for lvl in (0..levels - 1).rev() {
                for r in 0..n {
                    s.fill(r, lvl);
                }
            }
        } else {
            // Not recursive (the checker guarantees it): fill in dependency order, found by
            // a depth-first walk with an explicit stack (a chain of rules may be long).
            let deps: Vec<Vec<RuleId>> =
                s.g.rules
                    .iter()
                    .map(|r| r.alts.iter().flat_map(crate::check::alt_refs).collect())
                    .collect();
            let mut done = vec![false; n];
            let mut order = Vec::with_capacity(n);
            for root in 0..n {
                if done[root] {
                    continue;
                }
                done[root] = true;
                let mut stack = vec![(root, 0usize)];
                while let Some((r, i)) = stack.pop() {
                    match deps[r].get(i) {
                        Some(&d) => {
                            stack.push((r, i + 1));
                            if !done[d] {
                                done[d] = true;
                                stack.push((d, 0));
                            }
                        }
                        None => order.push(r),
                    }
                }
            }
            for r in order {
                s.fill(r, 0);
            }
        }
        s.continuous = s.g.rules.iter().any(|r| {
            r.alts.iter().any(|a| match &a.kind {
                AltKind::Op { args, .. } => args.iter().any(|x| has_float(&x.expr)),
                _ => false,
            })
        });
        s
    }

    fn fill(&mut self, r: RuleId, lvl: usize) {
        let alts = self.g.rules[r].alts.clone();
        let mut total = BigUint::zero();
        let mut uni = Vec::with_capacity(alts.len());
        let mut pw = Vec::with_capacity(alts.len());
        let counts: Vec<BigUint> = alts
            .iter()
            .enumerate()
            .map(|(ai, a)| match (&a.kind, &a.constraint) {
                (AltKind::Op { args, .. }, Some(w)) => {
                    let b = self.where_blocks(args, w, lvl);
                    let n = self.where_count(args, w, &b, lvl);
                    self.blocks.insert((r, ai, lvl), b);
                    n
                }
                (AltKind::Dag(d), _) if !d.bypass => {
                    let b = self.bypass_blocks(d, lvl);
                    let n = b.total.clone();
                    self.blocks.insert((r, ai, lvl), b);
                    n
                }
                _ => self.alt_count(a, lvl),
            })
            .collect();
        for c in &counts {
            total += c;
        }
        let ln_total = big_ln(&total);
        for (a, c) in alts.iter().zip(&counts) {
            uni.push(if c.is_zero() {
                0.0
            } else {
                (big_ln(c) - ln_total).exp()
            });
            pw.push(if c.is_zero() {
                0.0
            } else {
                a.prob.unwrap_or(1.0)
            });
        }
        if !total.is_zero() {
            self.uni_cdf[r][lvl] = cdf(&uni);
            self.uni_w[r][lvl] = uni.clone();
            self.pcfg_cdf[r][lvl] = cdf(&pw);
        }
        self.logc[r][lvl] = ln_total;
        self.height[r][lvl] = alts
            .iter()
            .zip(&counts)
            .filter(|(_, c)| !c.is_zero())
            .map(|(a, _)| self.alt_height(a, lvl))
            .max()
            .unwrap_or(0);
        self.alt_counts[r][lvl] = counts;
        self.counts[r][lvl] = total;
    }

    /// Height of the tallest tree of an alternative: the choice node, then its children.
    fn alt_height(&self, a: &Alt, lvl: usize) -> usize {
        1 + match &a.kind {
            AltKind::Op { args, .. } => args
                .iter()
                .map(|x| self.expr_height(&x.expr, lvl))
                .max()
                .unwrap_or(0),
            AltKind::Ref(t) => self.ref_height(*t, lvl),
            AltKind::Dag(d) => 1 + self.ref_height(d.edge, lvl),
        }
    }

    fn ref_height(&self, t: RuleId, lvl: usize) -> usize {
        if self.g.rules[t].shared {
            1
        } else {
            self.height[t][self.child(lvl)]
        }
    }

    fn expr_height(&self, e: &Expr, lvl: usize) -> usize {
        match e {
            Expr::Ref(t) => self.ref_height(*t, lvl),
            Expr::Literal(_) | Expr::Domain(_) => 1,
            Expr::Repeat { max: 0, .. } => 1,
            Expr::Repeat { item, .. } => 1 + self.expr_height(item, lvl),
        }
    }

    /// The rules along the tallest derivation of `r` at level 0, for the nesting error.
    fn tallest_path(&self, r: RuleId) -> Vec<RuleId> {
        let mut path = vec![r];
        let (mut r, mut lvl) = (r, 0);
        while path.len() <= MAX_NESTING + 1 {
            let h = self.height[r][lvl];
            let Some(a) = self.g.rules[r]
                .alts
                .iter()
                .enumerate()
                .filter(|(ai, _)| !self.alt_counts[r][lvl][*ai].is_zero())
                .map(|(_, a)| a)
                .find(|a| self.alt_height(a, lvl) == h)
            else {
                break;
            };
            let mut next = None;
            match &a.kind {
                AltKind::Ref(t) | AltKind::Dag(DagSpec { edge: t, .. }) => next = Some(*t),
                AltKind::Op { args, .. } => {
                    let best = args.iter().max_by_key(|x| self.expr_height(&x.expr, lvl));
                    let mut e = best.map(|x| &x.expr);
                    while let Some(Expr::Repeat { item, .. }) = e {
                        e = Some(item);
                    }
                    if let Some(Expr::Ref(t)) = e {
                        next = Some(*t);
                    }
                }
            }
            match next {
                Some(t) if !self.g.rules[t].shared => {
                    path.push(t);
                    lvl = self.child(lvl);
                    r = t;
                }
                _ => break,
            }
        }
        path
    }

    /// The level below `lvl`.
    #[inline]
    pub(crate) fn child(&self, lvl: usize) -> usize {
        if self.g.max_depth.is_some() {
            (lvl + 1).min(self.levels - 1)
        } else {
            0
        }
    }

    /// Saturates a count: anything past 2^[`MAX_COUNT_BITS`] becomes exactly that value, whose
    /// extra bit marks the overflow (a count within the cap never reaches it).
    fn cap(&self, x: BigUint) -> BigUint {
        if x.bits() > MAX_COUNT_BITS {
            BigUint::one() << MAX_COUNT_BITS
        } else {
            x
        }
    }

    fn mul(&self, a: BigUint, b: BigUint) -> BigUint {
        if a.bits() + b.bits() > MAX_COUNT_BITS + 1 && !a.is_zero() && !b.is_zero() {
            return self.cap(BigUint::one() << (MAX_COUNT_BITS + 1));
        }
        self.cap(a * b)
    }

    fn pow(&self, a: &BigUint, k: u32) -> BigUint {
        if k > 0 && a.bits().saturating_sub(1).saturating_mul(k as u64) > MAX_COUNT_BITS {
            return self.cap(BigUint::one() << (MAX_COUNT_BITS + 1));
        }
        self.cap(a.pow(k))
    }

    pub(crate) fn ref_count(&self, r: RuleId, lvl: usize) -> BigUint {
        if self.g.rules[r].shared {
            BigUint::one()
        } else {
            self.counts[r][self.child(lvl)].clone()
        }
    }

    pub(crate) fn alt_count(&self, a: &Alt, lvl: usize) -> BigUint {
        match &a.kind {
            AltKind::Op { args, .. } => args.iter().fold(BigUint::one(), |acc, x| {
                self.mul(acc, self.expr_count(&x.expr, lvl))
            }),
            AltKind::Ref(t) => self.ref_count(*t, lvl),
            AltKind::Dag(d) => self.dag_count(d, lvl),
        }
    }

    pub(crate) fn dag_count(&self, d: &DagSpec, lvl: usize) -> BigUint {
        let e = self.ref_count(d.edge, lvl);
        let mut total = BigUint::one();
        for j in d.inputs..d.nodes {
            let ways = match d.fan_in {
                Some(k) => self.mul(binomial(j as u64, k as u64), self.pow(&e, k)),
                None => self.pow(&e, j),
            };
            total = self.mul(total, ways);
        }
        total
    }

    /// Number of discrete choices an expression offers at `lvl` (a continuous domain counts 1).
    pub(crate) fn expr_count(&self, e: &Expr, lvl: usize) -> BigUint {
        match e {
            Expr::Ref(t) => self.ref_count(*t, lvl),
            Expr::Literal(_) => BigUint::one(),
            Expr::Domain(d) => BigUint::from(d.len().unwrap_or(1)),
            Expr::Repeat { item, min, max } => {
                let c = self.expr_count(item, lvl);
                let total: BigUint = (*min..=*max).map(|k| self.pow(&c, k)).sum();
                self.cap(total)
            }
        }
    }

    pub(crate) fn expr_logc(&self, e: &Expr, lvl: usize) -> f64 {
        match e {
            Expr::Ref(t) if self.g.rules[*t].shared => 0.0,
            Expr::Ref(t) => self.logc[*t][self.child(lvl)],
            Expr::Literal(_) => 0.0,
            Expr::Domain(d) => (d.len().unwrap_or(1) as f64).ln(),
            Expr::Repeat { item, min, max } => {
                let lc = self.expr_logc(item, lvl);
                let ws: Vec<f64> = (*min..=*max).map(|k| repeat_term(lc, k)).collect();
                log_sum_exp(&ws)
            }
        }
    }

    /// The exact number of architectures in the space (shared bindings included).
    /// Continuous parameters count once each; see [`Space::is_continuous`].
    pub fn size(&self) -> BigUint {
        let mut n = self.counts[self.g.start][0].clone();
        for &s in &self.g.shared {
            n *= &self.counts[s][0];
        }
        n
    }

    /// Whether the space has continuous (`float`/`logfloat`) parameters, making it infinite.
    pub fn is_continuous(&self) -> bool {
        self.continuous
    }

    /// How search strategies draw fresh candidates: uniformly over the architectures of a
    /// discrete space; by the grammar's weights, decision by decision, in a space with
    /// continuous parameters. There a float parameter counts as one architecture, so
    /// uniform draws would almost never reach a branch that has one (an SVM's two
    /// continuous parameters beside a random forest's 3,629 integer settings: the SVM came
    /// up once in 3,630 draws).
    pub fn search_mode(&self) -> SampleMode {
        if self.continuous {
            SampleMode::Weighted
        } else {
            SampleMode::Uniform
        }
    }

    /// Draws one candidate.
    ///
    /// ```
    /// use hnas_space::{Space, SampleMode};
    /// use rand::SeedableRng;
    /// let space = Space::parse("s.hnas", "net = mlp(width = {64, 128})").unwrap();
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let c = space.sample(&mut rng, SampleMode::Uniform);
    /// assert!(space.is_member(&c));
    /// ```
    pub fn sample(&self, rng: &mut impl Rng, mode: SampleMode) -> Candidate {
        let root = self.sample_rule(self.g.start, 0, mode, rng);
        let shared = self
            .g
            .shared
            .iter()
            .map(|&s| self.sample_rule(s, 0, mode, rng))
            .collect();
        Candidate { root, shared }
    }

    /// Draws an expansion of rule `r` at level `lvl`.
    pub(crate) fn sample_rule(
        &self,
        r: RuleId,
        lvl: usize,
        mode: SampleMode,
        rng: &mut impl Rng,
    ) -> Node {
        let table = match mode {
            SampleMode::Uniform => &self.uni_cdf[r][lvl],
            SampleMode::Weighted => &self.pcfg_cdf[r][lvl],
        };
        let alt = if table.len() == 1 {
            0
        } else {
            pick(table, rng)
        };
        self.sample_alt(r, alt, lvl, mode, rng)
    }

    pub(crate) fn sample_alt(
        &self,
        r: RuleId,
        alt: usize,
        lvl: usize,
        mode: SampleMode,
        rng: &mut impl Rng,
    ) -> Node {
        let a = &self.g.rules[r].alts[alt];
        let kids = match &a.kind {
            AltKind::Op { .. } if a.constraint.is_some() => {
                self.sample_where(r, alt, lvl, mode, rng)
            }
            AltKind::Dag(d) if !d.bypass => {
                vec![self.sample_bypass_dag(r, alt, d, lvl, mode, rng)]
            }
            AltKind::Op { args, .. } => args
                .iter()
                .map(|a| self.sample_expr(&a.expr, lvl, mode, rng))
                .collect(),
            AltKind::Ref(t) => vec![self.sample_ref(*t, lvl, mode, rng)],
            AltKind::Dag(d) => vec![self.sample_dag(d, lvl, mode, rng)],
        };
        Node::Choice {
            alt: alt as u32,
            kids,
        }
    }

    fn sample_ref(&self, t: RuleId, lvl: usize, mode: SampleMode, rng: &mut impl Rng) -> Node {
        if self.g.rules[t].shared {
            Node::Shared
        } else {
            self.sample_rule(t, self.child(lvl), mode, rng)
        }
    }

    pub(crate) fn sample_dag(
        &self,
        d: &DagSpec,
        lvl: usize,
        mode: SampleMode,
        rng: &mut impl Rng,
    ) -> Node {
        let mut edges = Vec::with_capacity(d.edge_count());
        for j in d.inputs..d.nodes {
            match d.fan_in {
                None => {
                    for i in 0..j {
                        edges.push(Edge {
                            from: i,
                            to: j,
                            op: self.sample_ref(d.edge, lvl, mode, rng),
                        });
                    }
                }
                Some(k) => {
                    let mut srcs = rand::seq::index::sample(rng, j as usize, k as usize).into_vec();
                    srcs.sort_unstable();
                    for i in srcs {
                        edges.push(Edge {
                            from: i as u32,
                            to: j,
                            op: self.sample_ref(d.edge, lvl, mode, rng),
                        });
                    }
                }
            }
        }
        Node::Dag(edges)
    }

    pub(crate) fn sample_expr(
        &self,
        e: &Expr,
        lvl: usize,
        mode: SampleMode,
        rng: &mut impl Rng,
    ) -> Node {
        match e {
            Expr::Ref(t) => self.sample_ref(*t, lvl, mode, rng),
            Expr::Literal(v) => Node::Value(v.clone()),
            Expr::Domain(d) => Node::Value(sample_domain(d, rng)),
            Expr::Repeat { item, min, max } => {
                let k = self.sample_repeat_len(item, *min, *max, lvl, mode, rng);
                Node::List(
                    (0..k)
                        .map(|_| self.sample_expr(item, lvl, mode, rng))
                        .collect(),
                )
            }
        }
    }

    fn sample_repeat_len(
        &self,
        item: &Expr,
        min: u32,
        max: u32,
        lvl: usize,
        mode: SampleMode,
        rng: &mut impl Rng,
    ) -> u32 {
        if min == max {
            return min;
        }
        let lc = self.expr_logc(item, lvl);
        let ws: Vec<f64> = (min..=max)
            .map(|k| {
                let t = repeat_term(lc, k);
                match mode {
                    SampleMode::Uniform => t,
                    SampleMode::Weighted if t.is_finite() => 0.0,
                    SampleMode::Weighted => f64::NEG_INFINITY,
                }
            })
            .collect();
        let top = ws.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = ws.iter().map(|x| (x - top).exp()).collect();
        min + pick(&cdf(&w), rng) as u32
    }
}

/// log(c^k) given log c, with 0^0 = 1.
fn repeat_term(lc: f64, k: u32) -> f64 {
    if k == 0 {
        0.0
    } else {
        lc * k as f64
    }
}

fn log_sum_exp(ws: &[f64]) -> f64 {
    let top = ws.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if top == f64::NEG_INFINITY {
        return top;
    }
    top + ws.iter().map(|x| (x - top).exp()).sum::<f64>().ln()
}

pub(crate) fn sample_domain(d: &Domain, rng: &mut impl Rng) -> Value {
    match d {
        Domain::Set(v) => v[rng.random_range(0..v.len())].clone(),
        Domain::Int { .. } => {
            let n = d.len().unwrap_or(1);
            d.value_at(rng.random_range(0..n))
                .expect("an index below the domain's length")
        }
        Domain::Float { lo, hi, log } => {
            let u: f64 = rng.random();
            let x = if *log {
                (lo.ln() + u * (hi.ln() - lo.ln())).exp()
            } else {
                lo + u * (hi - lo)
            };
            Value::Float(x.clamp(*lo, *hi))
        }
    }
}

fn has_float(e: &Expr) -> bool {
    match e {
        Expr::Domain(Domain::Float { .. }) => true,
        Expr::Repeat { item, .. } => has_float(item),
        _ => false,
    }
}
