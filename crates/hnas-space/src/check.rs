//! Checking a parsed file: resolve names and report every semantic problem at once.

use crate::diag::{did_you_mean, DiagSink, Diagnostic};
use crate::grammar::*;
use crate::parse::{RawAlt, RawExpr, RawFile, RESERVED};
use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::rc::Rc;

/// Largest repetition count accepted (a guard against typos such as `repeat(x, 1, 10000)`).
pub const MAX_REPEAT: i64 = 1024;
/// Largest DAG accepted, in nodes.
pub const MAX_DAG_NODES: i64 = 64;
/// Largest depth bound accepted.
pub const MAX_DEPTH_LIMIT: i64 = 256;

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    diags: DiagSink,
    names: HashMap<String, RuleId>,
    /// Set when a name or an argument did not resolve: the "unused rule" check is then
    /// skipped, since the dropped reference would make its intended rule look unused.
    unresolved: bool,
}

impl Checker<'_> {
    fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        let (file, text) = (self.file, self.text);
        self.diags.push(|| Diagnostic::new(file, text, span, msg));
    }
    fn err_help(&mut self, span: Range<usize>, msg: impl Into<String>, help: impl Into<String>) {
        let (file, text) = (self.file, self.text);
        self.diags
            .push(|| Diagnostic::new(file, text, span, msg).with_help(help));
    }

    fn unknown_rule(&mut self, name: &str, span: Range<usize>) {
        self.unresolved = true;
        let msg = format!("unknown nonterminal '{name}'; expected the name of a rule");
        let names: Vec<String> = self.names.keys().cloned().collect();
        match did_you_mean(name, names.iter().map(String::as_str)) {
            Some(s) => self.err_help(span, msg, format!("did you mean '{s}'?")),
            None => self.err(span, msg),
        }
    }

    fn expr(&mut self, e: &RawExpr) -> Option<Expr> {
        Some(match e {
            RawExpr::Name(n, sp) => match self.names.get(n) {
                Some(&id) => Expr::Ref(id),
                None => {
                    self.unknown_rule(n, sp.clone());
                    return None;
                }
            },
            RawExpr::Lit(v, _) => Expr::Literal(v.clone()),
            RawExpr::Set(vals, sp) => {
                if vals.is_empty() {
                    self.err(
                        sp.clone(),
                        "empty set; expected at least one value in '{...}'",
                    );
                    return None;
                }
                let mut seen: HashSet<&Value> = HashSet::with_capacity(vals.len());
                for (v, vsp) in vals {
                    if !seen.insert(v) {
                        self.err(vsp.clone(), format!("value {v} appears twice in the set"));
                        return None;
                    }
                }
                Expr::Domain(Domain::Set(vals.iter().map(|(v, _)| v.clone()).collect()))
            }
            RawExpr::Int { lo, hi, step, span } => {
                if lo > hi {
                    self.err(
                        span.clone(),
                        format!("empty range int({lo}, {hi}); expected lo <= hi"),
                    );
                    return None;
                }
                if *step <= 0 {
                    self.err(
                        span.clone(),
                        format!("step {step} is not positive; expected step >= 1"),
                    );
                    return None;
                }
                Expr::Domain(Domain::Int {
                    lo: *lo,
                    hi: *hi,
                    step: *step,
                })
            }
            RawExpr::Float { lo, hi, log, span } => {
                let name = if *log { "logfloat" } else { "float" };
                if !(lo.is_finite() && hi.is_finite()) || lo >= hi {
                    self.err(
                        span.clone(),
                        format!(
                            "empty range {name}({lo}, {hi}); expected finite bounds with lo < hi"
                        ),
                    );
                    return None;
                }
                if *log && *lo <= 0.0 {
                    self.err(
                        span.clone(),
                        format!("logfloat({lo}, {hi}) needs positive bounds; expected lo > 0"),
                    );
                    return None;
                }
                Expr::Domain(Domain::Float {
                    lo: *lo,
                    hi: *hi,
                    log: *log,
                })
            }
            RawExpr::Repeat {
                item,
                min,
                max,
                span,
            } => {
                let item = self.expr(item);
                if *min < 0 || min > max || *max > MAX_REPEAT {
                    self.err(
                        span.clone(),
                        format!(
                            "bad repetition count {min}..{max}; expected 0 <= min <= max <= {MAX_REPEAT}"
                        ),
                    );
                    return None;
                }
                Expr::Repeat {
                    item: Box::new(item?),
                    min: *min as u32,
                    max: *max as u32,
                }
            }
        })
    }

    fn dag(&mut self, alt: &RawAlt, args: &[crate::parse::RawArg]) -> Option<DagSpec> {
        let mut nodes = None;
        let mut inputs = 1i64;
        let mut fan_in = None;
        let mut edge = None;
        let mut output = DagOutput::Last;
        let mut zero = None;
        let mut identity = None;
        let mut bypass = (true, 0..0);
        let mut ok = true;
        for a in args {
            let word = match &a.expr {
                RawExpr::Name(n, _) => Some(n.clone()),
                RawExpr::Lit(Value::Str(s), _) => Some(s.to_string()),
                _ => None,
            };
            let int = match &a.expr {
                RawExpr::Lit(Value::Int(i), _) => Some(*i),
                _ => None,
            };
            let sp = a.expr.span();
            match (a.name.as_str(), word, int) {
                ("nodes", _, Some(n)) => nodes = Some(n),
                ("inputs", _, Some(n)) => inputs = n,
                ("fan_in", _, Some(n)) => fan_in = Some(n),
                ("edge", Some(w), _) => match self.names.get(&w) {
                    Some(&id) => edge = Some(id),
                    None => {
                        self.unknown_rule(&w, sp);
                        ok = false;
                    }
                },
                ("output", Some(w), _) if w == "last" => output = DagOutput::Last,
                ("output", Some(w), _) if w == "concat" => output = DagOutput::Concat,
                ("output", Some(w), _) if w == "leaves" => output = DagOutput::Leaves,
                ("bypass", _, _) => match &a.expr {
                    RawExpr::Lit(Value::Bool(b), _) => bypass = (*b, sp),
                    _ => {
                        self.err(sp, "dag 'bypass' must be true or false");
                        ok = false;
                    }
                },
                ("zero", Some(w), _) => zero = Some((w, sp)),
                ("identity", Some(w), _) => identity = Some((w, sp)),
                (k @ ("nodes" | "inputs" | "fan_in"), _, _) => {
                    self.err(sp, format!("dag '{k}' must be a whole number"));
                    ok = false;
                }
                ("output", _, _) => {
                    self.err(sp, "dag 'output' must be 'last', 'concat' or 'leaves'");
                    ok = false;
                }
                (k @ ("edge" | "zero" | "identity"), _, _) => {
                    self.err(sp, format!("dag '{k}' must be a name"));
                    ok = false;
                }
                (k, _, _) => {
                    self.err(
                        a.name_span.clone(),
                        format!(
                            "unknown dag argument '{k}'; expected nodes, inputs, fan_in, edge, output, zero, identity or bypass"
                        ),
                    );
                    ok = false;
                }
            }
        }
        let Some(nodes) = nodes else {
            self.err(
                alt.span.clone(),
                "dag needs 'nodes = N' (the number of nodes, inputs included)",
            );
            return None;
        };
        let Some(edge) = edge else {
            if ok {
                self.err(
                    alt.span.clone(),
                    "dag needs 'edge = RULE' (the nonterminal each edge chooses from)",
                );
            }
            return None;
        };
        if inputs < 1 || nodes <= inputs || nodes > MAX_DAG_NODES {
            self.err(
                alt.span.clone(),
                format!(
                    "dag with {nodes} nodes and {inputs} inputs; expected 1 <= inputs < nodes <= {MAX_DAG_NODES}"
                ),
            );
            return None;
        }
        if let Some(k) = fan_in {
            if k < 1 || k > inputs {
                self.err(
                    alt.span.clone(),
                    format!(
                        "fan_in = {k}: the first non-input node has only {inputs} possible inputs; expected 1 <= fan_in <= inputs"
                    ),
                );
                return None;
            }
        }
        if !bypass.0 && identity.is_none() {
            self.err(
                bypass.1.clone(),
                "'bypass = false' forbids paths of identity edges from an input to the output; expected 'identity = OP' to say which operation is the identity",
            );
            ok = false;
        }
        if !bypass.0 {
            let edges = (inputs..nodes).map(|j| fan_in.unwrap_or(j)).sum::<i64>();
            let wirings: f64 = (inputs..nodes)
                .map(|j| match fan_in {
                    Some(k) => binomial_f(j, k),
                    None => 1.0,
                })
                .product();
            if edges > MAX_BYPASS_EDGES as i64
                || wirings * (edges as f64).exp2() > MAX_BYPASS_PATTERNS
            {
                self.err(
                    bypass.1.clone(),
                    format!(
                        "'bypass = false' is counted by listing every wiring and every set of identity edges: this dag has {edges} edges and {wirings} wirings, more than the {MAX_BYPASS_PATTERNS} patterns allowed"
                    ),
                );
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        Some(DagSpec {
            nodes: nodes as u32,
            inputs: inputs as u32,
            fan_in: fan_in.map(|k| k as u32),
            edge,
            output,
            zero: zero.map(|(w, _)| w),
            identity: identity.map(|(w, _)| w),
            bypass: bypass.0,
        })
    }

    /// Resolves a `where` condition against the operation's checked arguments. `raw_alts`
    /// gives, per rule, the leading word of each alternative (what a test on a rule
    /// argument compares with).
    fn pred(
        &mut self,
        p: &crate::parse::RawPred,
        args: &[Arg],
        raw_alts: &[Vec<String>],
        named: &mut Vec<usize>,
    ) -> Option<Pred> {
        use crate::parse::RawPred;
        Some(match p {
            RawPred::Not(x) => Pred::Not(Box::new(self.pred(x, args, raw_alts, named)?)),
            RawPred::And(a, b) => Pred::And(
                Box::new(self.pred(a, args, raw_alts, named)?),
                Box::new(self.pred(b, args, raw_alts, named)?),
            ),
            RawPred::Or(a, b) => Pred::Or(
                Box::new(self.pred(a, args, raw_alts, named)?),
                Box::new(self.pred(b, args, raw_alts, named)?),
            ),
            RawPred::Test {
                arg,
                arg_span,
                values,
                negate,
            } => {
                let Some(i) = args.iter().position(|x| &x.name == arg) else {
                    let names: Vec<&str> = args.iter().map(|x| x.name.as_str()).collect();
                    self.err(
                        arg_span.clone(),
                        format!(
                            "the condition names '{arg}', which is not an argument of this operation; expected one of {}",
                            names.join(", ")
                        ),
                    );
                    return None;
                };
                let words_of = |e: &Expr| -> Option<Vec<String>> {
                    match e {
                        Expr::Ref(t) => Some(raw_alts[*t].clone()),
                        Expr::Domain(d)
                            if d.len().is_some_and(|n| n <= MAX_WHERE_PARTS as u128) =>
                        {
                            let n = d.len().unwrap_or(0);
                            Some(
                                (0..n)
                                    .filter_map(|k| d.value_at(k))
                                    .map(|v| match v {
                                        Value::Str(s) => s.to_string(),
                                        v => v.to_string(),
                                    })
                                    .collect(),
                            )
                        }
                        _ => None,
                    }
                };
                // `a == b` with `b` another argument (and not a value `a` can take).
                if let [(Value::Str(other), _)] = values.as_slice() {
                    let own = words_of(&args[i].expr).unwrap_or_default();
                    let j = args.iter().position(|x| *x.name == **other);
                    if let (Some(j), false) = (j, own.iter().any(|w| **w == **other)) {
                        let (Some(a_words), Some(b_words)) =
                            (words_of(&args[i].expr), words_of(&args[j].expr))
                        else {
                            self.err(
                                arg_span.clone(),
                                format!("'{arg}' and '{other}' can be compared only if both are sets, small int(..) domains or rules"),
                            );
                            return None;
                        };
                        for k in [i, j] {
                            if !named.contains(&k) {
                                named.push(k);
                            }
                        }
                        let same = Pred::Same {
                            a: i,
                            b: j,
                            a_words,
                            b_words,
                        };
                        return Some(if *negate {
                            Pred::Not(Box::new(same))
                        } else {
                            same
                        });
                    }
                }
                let test = match &args[i].expr {
                    Expr::Literal(v) => Pred::Const(values.iter().any(|(x, _)| x == v)),
                    Expr::Domain(d @ (Domain::Set(_) | Domain::Int { .. }))
                        if d.len().is_some_and(|n| n <= MAX_WHERE_PARTS as u128) =>
                    {
                        let mut parts = Vec::new();
                        for (v, vsp) in values {
                            match d.index_of(v) {
                                Some(k) => parts.push(k as u32),
                                None => {
                                    self.err(
                                        vsp.clone(),
                                        format!("'{arg}' never takes the value {v}; the condition would test nothing"),
                                    );
                                    return None;
                                }
                            }
                        }
                        Pred::Test { arg: i, parts }
                    }
                    Expr::Ref(t) if !raw_alts.is_empty() => {
                        let words = &raw_alts[*t];
                        let mut parts = Vec::new();
                        for (v, vsp) in values {
                            let w = match v {
                                Value::Str(s) => s.to_string(),
                                other => other.to_string(),
                            };
                            match words.iter().position(|x| *x == w) {
                                Some(k) => parts.push(k as u32),
                                None => {
                                    self.err(
                                        vsp.clone(),
                                        format!(
                                            "'{arg}' is a rule whose alternatives are {}; '{w}' is none of them",
                                            words.join(", ")
                                        ),
                                    );
                                    return None;
                                }
                            }
                        }
                        Pred::Test { arg: i, parts }
                    }
                    _ => {
                        self.err(
                            arg_span.clone(),
                            format!(
                                "a condition can test a set, an int(..) domain of at most {MAX_WHERE_PARTS} values, or a rule; '{arg}' is none of these"
                            ),
                        );
                        return None;
                    }
                };
                if let Pred::Test { arg, .. } = test {
                    if !named.contains(&arg) {
                        named.push(arg);
                    }
                }
                if *negate {
                    Pred::Not(Box::new(test))
                } else {
                    test
                }
            }
        })
    }
}

/// Most values or alternatives an argument named in a `where` condition may have.
pub const MAX_WHERE_PARTS: u32 = 4096;
/// Most combinations of the parts of the arguments a `where` condition names: counting
/// lists them all.
pub const MAX_WHERE_BLOCKS: u128 = 1 << 16;
/// `bypass = false` is counted by listing wirings times sets of identity edges.
pub const MAX_BYPASS_PATTERNS: f64 = (1u64 << 20) as f64;
pub const MAX_BYPASS_EDGES: u32 = 20;

fn binomial_f(n: i64, k: i64) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

fn walk_refs(e: &Expr, out: &mut Vec<RuleId>) {
    match e {
        Expr::Ref(r) => out.push(*r),
        Expr::Repeat { item, .. } => walk_refs(item, out),
        Expr::Literal(_) | Expr::Domain(_) => {}
    }
}

/// Most steps spent finding the leading words of alternatives (see [`alternative_heads`]).
pub const MAX_HEAD_WORK: usize = 10_000_000;

/// The leading words with which each alternative can be written in a candidate string: an
/// operation's name, `dag`, `@rule` for a shared rule, and, for an alternative that is a bare
/// rule name, every word of that rule's alternatives, transitively.
pub(crate) struct Heads {
    pub words: Vec<String>,
    /// Per rule and alternative, the word it writes itself ([`NO_WORD`] for a bare name).
    direct: Vec<Vec<u32>>,
    /// Per rule and alternative, the rule a bare-name alternative stands for.
    bare_target: Vec<Vec<Option<RuleId>>>,
    /// Per rule, the sorted words its derivations can begin with.
    of_rule: Vec<Rc<Vec<u32>>>,
}

const NO_WORD: u32 = u32::MAX;

impl Heads {
    fn of_alt(&self, r: RuleId, ai: usize) -> &[u32] {
        match self.direct[r][ai] {
            NO_WORD => match self.bare_target[r][ai] {
                Some(t) => &self.of_rule[t],
                None => &[],
            },
            _ => std::slice::from_ref(&self.direct[r][ai]),
        }
    }
}

/// Computes [`Heads`] over the components of the bare-name graph, in time linear in the
/// grammar plus the sizes of the word sets built, giving up past [`MAX_HEAD_WORK`]. A chain of
/// rules that are each a bare name of the next shares one set instead of copying it.
enum HeadsOutcome {
    Found(Heads),
    /// A chain of bare rule names longer than [`MAX_NESTING`] in a grammar without
    /// recursion: its derivations nest too deep, which building the space reports.
    TooDeep,
    TooMuchWork,
}

fn alternative_heads(rules: &[Rule], recursive: bool) -> HeadsOutcome {
    let mut words: Vec<String> = Vec::new();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut intern = |w: String| -> u32 {
        *ids.entry(w.clone()).or_insert_with(|| {
            words.push(w);
            (words.len() - 1) as u32
        })
    };
    let word_of = |a: &Alt| -> Option<String> {
        match &a.kind {
            AltKind::Op { name, .. } => Some(name.clone()),
            AltKind::Dag(_) => Some("dag".to_string()),
            AltKind::Ref(t) if rules[*t].shared => Some(format!("@{}", rules[*t].name)),
            AltKind::Ref(_) => None,
        }
    };
    // Words written directly by the alternatives of each rule.
    let direct: Vec<Vec<u32>> = rules
        .iter()
        .map(|r| {
            r.alts
                .iter()
                .map(|a| word_of(a).map_or(NO_WORD, &mut intern))
                .collect()
        })
        .collect();
    let direct_of_rule: Vec<Vec<u32>> = direct
        .iter()
        .map(|d| d.iter().copied().filter(|&w| w != NO_WORD).collect())
        .collect();
    let bare_target: Vec<Vec<Option<RuleId>>> = rules
        .iter()
        .map(|r| {
            r.alts
                .iter()
                .map(|a| match a.kind {
                    AltKind::Ref(t) if !rules[t].shared => Some(t),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let bare: Vec<Vec<RuleId>> = bare_target
        .iter()
        .map(|row| row.iter().flatten().copied().collect())
        .collect();
    let comp = strongly_connected(&bare);
    let ncomp = comp.iter().map(|&k| k + 1).max().unwrap_or(0);
    let mut members: Vec<Vec<RuleId>> = vec![Vec::new(); ncomp];
    for (v, &k) in comp.iter().enumerate() {
        members[k].push(v);
    }
    let outside_of = |k: usize| -> Vec<usize> {
        members[k]
            .iter()
            .flat_map(|&v| bare[v].iter().map(|&t| comp[t]))
            .filter(|&j| j != k)
            .collect()
    };
    if !recursive {
        let mut chain = vec![0usize; ncomp];
        for k in 0..ncomp {
            chain[k] = 1 + outside_of(k).iter().map(|&j| chain[j]).max().unwrap_or(0);
            if chain[k] > MAX_NESTING {
                return HeadsOutcome::TooDeep;
            }
        }
    }
    let mut work = 0usize;
    let mut of_comp: Vec<Option<Rc<Vec<u32>>>> = vec![None; ncomp];
    // Tarjan numbers components so that every component reached from one comes first.
    for k in 0..ncomp {
        let m = &members[k];
        let outside = outside_of(k);
        let own = m.iter().all(|&v| direct_of_rule[v].is_empty());
        let set = if own && outside.len() == 1 {
            of_comp[outside[0]].clone().unwrap_or_default()
        } else {
            let mut v: Vec<u32> = m
                .iter()
                .flat_map(|&v| direct_of_rule[v].iter().copied())
                .collect();
            for j in outside {
                let s = of_comp[j].clone().unwrap_or_default();
                work += s.len();
                if work > MAX_HEAD_WORK {
                    return HeadsOutcome::TooMuchWork;
                }
                v.extend(s.iter().copied());
            }
            v.sort_unstable();
            v.dedup();
            Rc::new(v)
        };
        of_comp[k] = Some(set);
    }
    let of_rule: Vec<Rc<Vec<u32>>> = comp
        .iter()
        .map(|&k| of_comp[k].clone().unwrap_or_default())
        .collect();
    // The checking loop walks each bare-name alternative's set once more.
    let walk: usize = rules
        .iter()
        .flat_map(|r| r.alts.iter())
        .map(|a| match a.kind {
            AltKind::Ref(t) => of_rule[t].len(),
            _ => 1,
        })
        .sum();
    if work.saturating_add(walk) > MAX_HEAD_WORK {
        return HeadsOutcome::TooMuchWork;
    }
    HeadsOutcome::Found(Heads {
        words,
        direct,
        bare_target,
        of_rule,
    })
}

/// Strongly connected components (Tarjan's algorithm, with an explicit stack so that a
/// chain of thousands of rules cannot overflow the thread's stack). Returns each vertex's
/// component; components are numbered so that one reachable from another has the smaller
/// number.
pub(crate) fn strongly_connected(edges: &[Vec<usize>]) -> Vec<usize> {
    let n = edges.len();
    const NONE: usize = usize::MAX;
    let mut index = vec![NONE; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut comp = vec![NONE; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut next_index = 0;
    let mut next_comp = 0;
    // (vertex, position of the next edge to look at)
    let mut calls: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if index[root] != NONE {
            continue;
        }
        calls.push((root, 0));
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut e)) = calls.last_mut() {
            if let Some(&w) = edges[v].get(*e) {
                *e += 1;
                if index[w] == NONE {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp[w] = next_comp;
                    if w == v {
                        break;
                    }
                }
                next_comp += 1;
            }
        }
    }
    comp
}

/// A shortest cycle from `v` back to itself within its component, as `v -> .. -> v`.
fn cycle_through(v: RuleId, edges: &[Vec<RuleId>], comp: &[usize]) -> Vec<RuleId> {
    let mut prev: HashMap<RuleId, RuleId> = HashMap::new();
    let mut queue = VecDeque::from([v]);
    while let Some(u) = queue.pop_front() {
        for &t in &edges[u] {
            if t == v {
                let mut path = vec![u];
                let mut x = u;
                while x != v {
                    x = prev[&x];
                    path.push(x);
                }
                path.reverse();
                path.push(v);
                return path;
            }
            if comp[t] == comp[v] && !prev.contains_key(&t) {
                prev.insert(t, u);
                queue.push_back(t);
            }
        }
    }
    vec![v, v]
}

/// Rules an alternative refers to.
pub(crate) fn alt_refs(a: &Alt) -> Vec<RuleId> {
    let mut out = Vec::new();
    match &a.kind {
        AltKind::Op { args, .. } => args.iter().for_each(|x| walk_refs(&x.expr, &mut out)),
        AltKind::Ref(r) => out.push(*r),
        AltKind::Dag(d) => out.push(d.edge),
    }
    out
}

/// Rules an alternative refers to that must be derived in place: a reference inside
/// `repeat(.., 0, ..)` can be left out, so it does not block termination.
fn required_refs(a: &Alt) -> Vec<RuleId> {
    fn req(e: &Expr, out: &mut Vec<RuleId>) {
        match e {
            Expr::Ref(r) => out.push(*r),
            Expr::Repeat { item, min, .. } if *min > 0 => req(item, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    match &a.kind {
        AltKind::Op { args, .. } => args.iter().for_each(|x| req(&x.expr, &mut out)),
        AltKind::Ref(r) => out.push(*r),
        AltKind::Dag(d) => out.push(d.edge),
    }
    out
}

/// Resolves and checks a parsed file.
pub(crate) fn check(file: &str, text: &str, raw: RawFile) -> Result<Grammar, Vec<Diagnostic>> {
    let mut c = Checker {
        file,
        text,
        diags: DiagSink::default(),
        names: HashMap::new(),
        unresolved: false,
    };
    if raw.rules.is_empty() {
        c.err(0..0, "the space has no rules; expected at least one rule such as 'net = mlp(width = {64, 128})'");
        return Err(c.diags.finish(file, text));
    }
    for (i, r) in raw.rules.iter().enumerate() {
        if RESERVED.contains(&r.name.as_str()) {
            c.err(
                r.name_span.clone(),
                format!("'{}' is a reserved word and cannot name a rule", r.name),
            );
        }
        if c.names.contains_key(&r.name) {
            c.err(
                r.name_span.clone(),
                format!(
                    "rule '{}' is defined twice; expected one definition per name",
                    r.name
                ),
            );
        } else {
            c.names.insert(r.name.clone(), i);
        }
    }
    let start = match &raw.start {
        Some((n, sp)) => match c.names.get(n) {
            Some(&id) => id,
            None => {
                c.unknown_rule(n, sp.clone());
                0
            }
        },
        None => 0,
    };
    let max_depth = match raw.max_depth {
        Some((d, sp)) if !(0..=MAX_DEPTH_LIMIT).contains(&d) => {
            c.err(
                sp,
                format!("@max_depth {d}; expected 0 <= depth <= {MAX_DEPTH_LIMIT}"),
            );
            None
        }
        Some((d, _)) => Some(d as u32),
        None => None,
    };

    let mut rules = Vec::with_capacity(raw.rules.len());
    // Rules that lost an alternative to an error reported above: what the later analyses
    // would say of them (never finishing, say) would be a consequence, not a new problem.
    let mut broken = vec![false; raw.rules.len()];
    let raw_alts: Vec<Vec<String>> = raw
        .rules
        .iter()
        .map(|r| r.alts.iter().map(|a| a.name.clone()).collect())
        .collect();
    for (ri, r) in raw.rules.iter().enumerate() {
        let mut alts = Vec::new();
        for a in &r.alts {
            let kind = match (&a.args, c.names.get(&a.name)) {
                (Some(args), _) if a.name == "dag" => match c.dag(a, args) {
                    Some(d) => AltKind::Dag(d),
                    None => {
                        c.unresolved = true;
                        broken[ri] = true;
                        continue;
                    }
                },
                (None, _) if a.name == "dag" => {
                    c.err(
                        a.span.clone(),
                        "dag needs arguments, as in 'dag(nodes = 4, edge = op)'",
                    );
                    broken[ri] = true;
                    continue;
                }
                (_, _) if RESERVED.contains(&a.name.as_str()) => {
                    c.err(
                        a.name_span.clone(),
                        format!(
                            "'{}' cannot be an alternative; domains such as int(..) or {{..}} go in an argument, as in 'op(width = int(8, 64))'",
                            a.name
                        ),
                    );
                    broken[ri] = true;
                    continue;
                }
                (None, Some(&id)) => AltKind::Ref(id),
                (None, None) => AltKind::Op {
                    name: a.name.clone(),
                    args: Vec::new(),
                },
                (Some(args), _) => {
                    let mut out = Vec::new();
                    let mut seen = HashSet::new();
                    for x in args {
                        if !seen.insert(x.name.clone()) {
                            c.err(
                                x.name_span.clone(),
                                format!("argument '{}' is given twice", x.name),
                            );
                            continue;
                        }
                        match c.expr(&x.expr) {
                            Some(e) => out.push(Arg {
                                name: x.name.clone(),
                                expr: e,
                                span: x.span.clone(),
                            }),
                            None => c.unresolved = true,
                        }
                    }
                    AltKind::Op {
                        name: a.name.clone(),
                        args: out,
                    }
                }
            };
            let constraint = match (&a.cond, &kind) {
                (None, _) => None,
                (Some((p, psp)), AltKind::Op { args, .. }) if !args.is_empty() => {
                    let mut named = Vec::new();
                    match c.pred(p, args, &raw_alts, &mut named) {
                        Some(pred) => {
                            named.sort_unstable();
                            let sizes: Vec<u32> = named
                                .iter()
                                .map(|&i| match &args[i].expr {
                                    Expr::Ref(t) => raw_alts[*t].len() as u32,
                                    Expr::Domain(d) => d.len().unwrap_or(1) as u32,
                                    _ => 1,
                                })
                                .collect();
                            let combos: u128 = sizes.iter().map(|&k| k as u128).product();
                            if combos > MAX_WHERE_BLOCKS {
                                c.err(
                                    psp.clone(),
                                    format!(
                                        "the condition's arguments make {combos} combinations of values and alternatives; counting lists them, so expected at most {MAX_WHERE_BLOCKS}"
                                    ),
                                );
                            } else if !crate::constrain::any_combination(&sizes, |parts| {
                                pred.holds(&|arg| {
                                    named.iter().position(|&x| x == arg).map_or(0, |k| parts[k])
                                })
                            }) {
                                c.err(
                                    psp.clone(),
                                    "the condition never holds, so this alternative has no member",
                                );
                            }
                            for &i in &named {
                                if let Expr::Ref(t) = &args[i].expr {
                                    if raw.rules[*t].shared {
                                        c.err(
                                            psp.clone(),
                                            format!(
                                                "the condition tests '{}', a shared rule: it is decided once for the whole candidate, not here",
                                                args[i].name
                                            ),
                                        );
                                    }
                                }
                            }
                            Some(Where {
                                pred,
                                args: named,
                                span: psp.clone(),
                            })
                        }
                        None => {
                            broken[ri] = true;
                            None
                        }
                    }
                }
                (Some((_, psp)), _) => {
                    c.err(
                        psp.clone(),
                        "a 'where' condition follows an operation with arguments, as in 'net(a = x, b = y) where a != b'",
                    );
                    None
                }
            };
            alts.push(Alt {
                prob: a.prob.as_ref().map(|p| p.0),
                kind,
                constraint,
                span: a.span.clone(),
            });
        }
        // Probabilities: all or none, each in (0, 1], summing to 1.
        let given: Vec<_> = r.alts.iter().filter_map(|a| a.prob.clone()).collect();
        if !given.is_empty() {
            if given.len() != r.alts.len() {
                let missing = r
                    .alts
                    .iter()
                    .find(|a| a.prob.is_none())
                    .map(|a| a.span.clone());
                c.err(
                    missing.unwrap_or(r.span.clone()),
                    format!(
                        "rule '{}' gives probabilities to some alternatives but not this one; expected a probability on every alternative or on none",
                        r.name
                    ),
                );
            }
            for (p, sp) in &given {
                if !(*p > 0.0 && *p <= 1.0) {
                    c.err(
                        sp.clone(),
                        format!("probability {p} is out of range; expected 0 < p <= 1"),
                    );
                }
            }
            let sum: f64 = given.iter().map(|g| g.0).sum();
            if given.len() == r.alts.len() && (sum - 1.0).abs() > 1e-6 {
                c.err(
                    r.name_span.clone(),
                    format!(
                        "the probabilities of rule '{}' sum to {}; expected them to sum to 1",
                        r.name,
                        (sum * 1e9).round() / 1e9
                    ),
                );
            }
        }
        // Only alternatives of the same kind and name can be equal: compare within those
        // groups, so that a rule of thousands of distinct operations is checked in linear time.
        let mut groups: HashMap<(u8, &str, RuleId), Vec<usize>> = HashMap::new();
        for (i, a) in alts.iter().enumerate() {
            let key = match &a.kind {
                AltKind::Op { name, .. } => (0, name.as_str(), 0),
                AltKind::Ref(t) => (1, "", *t),
                AltKind::Dag(_) => (2, "", 0),
            };
            let group = groups.entry(key).or_default();
            if group.iter().any(|&j| alts[j].kind == a.kind) {
                c.err(
                    a.span.clone(),
                    format!(
                        "this alternative of '{}' repeats an earlier one; expected distinct alternatives",
                        r.name
                    ),
                );
            }
            group.push(i);
        }
        rules.push(Rule {
            name: r.name.clone(),
            shared: r.shared,
            alts,
            span: r.span.clone(),
        });
    }
    // The analyses below also run on a partly resolved grammar, so that one run reports
    // as much as it can.

    // The one-line form names an alternative by its leading word, so within one rule the
    // words must differ, counting those reached through alternatives that are bare rule names.
    match alternative_heads(&rules, max_depth.is_some()) {
        HeadsOutcome::TooDeep => {}
        HeadsOutcome::Found(heads) => {
            for (ri, r) in rules.iter().enumerate() {
                let mut owner: HashMap<u32, usize> = HashMap::new();
                for (ai, a) in r.alts.iter().enumerate() {
                    for &head in heads.of_alt(ri, ai) {
                        match owner.get(&head) {
                            Some(&prev) if prev != ai => {
                                c.err_help(
                                    a.span.clone(),
                                    format!(
                                        "alternatives {} and {} of '{}' are both written '{}..', so a candidate could not say which was chosen",
                                        prev + 1,
                                        ai + 1,
                                        r.name,
                                        heads.words[head as usize]
                                    ),
                                    "expected distinct operation names; merge them into one alternative with a domain, as in 'conv(kernel = {3, 5})'",
                                );
                                break;
                            }
                            Some(_) => {}
                            None => {
                                owner.insert(head, ai);
                            }
                        }
                    }
                }
            }
        }
        HeadsOutcome::TooMuchWork => c.err(
            rules[start].span.start..rules[start].span.start + rules[start].name.len(),
            format!(
                "the space's rules name each other as bare alternatives so much that telling its candidates apart would take more than {MAX_HEAD_WORK} steps; expected fewer layers of alternatives that are only a rule name"
            ),
        ),
    }

    // Dag zero / identity names must be argument-free operations of the edge rule.
    for r in &rules {
        for a in &r.alts {
            if let AltKind::Dag(d) = &a.kind {
                let ops: Vec<&str> = rules[d.edge]
                    .alts
                    .iter()
                    .filter_map(|x| match &x.kind {
                        AltKind::Op { name, args } if args.is_empty() => Some(name.as_str()),
                        _ => None,
                    })
                    .collect();
                for w in [&d.zero, &d.identity].into_iter().flatten() {
                    if !ops.contains(&w.as_str()) {
                        c.err(
                            a.span.clone(),
                            format!(
                                "'{w}' is not an argument-free operation of rule '{}'; expected one of: {}",
                                rules[d.edge].name,
                                ops.join(", ")
                            ),
                        );
                    }
                }
            }
        }
    }

    if rules[start].shared {
        c.err(
            rules[start].span.clone(),
            format!("the start rule '{}' cannot be shared", rules[start].name),
        );
    }

    // Reachability from the start rule.
    let n = rules.len();
    let edges: Vec<Vec<RuleId>> = rules
        .iter()
        .map(|r| r.alts.iter().flat_map(alt_refs).collect())
        .collect();
    let mut reached = vec![false; n];
    let mut stack = vec![start];
    reached[start] = true;
    while let Some(r) = stack.pop() {
        for &t in &edges[r] {
            if !reached[t] {
                reached[t] = true;
                stack.push(t);
            }
        }
    }
    for (i, r) in rules.iter().enumerate() {
        if !reached[i] && !c.unresolved {
            c.err(
                raw.rules[i].name_span.clone(),
                format!(
                    "rule '{}' is never used: no rule reachable from the start rule '{}' refers to it",
                    r.name, rules[start].name
                ),
            );
        }
    }

    // Productivity: a rule is productive when some alternative needs only productive rules
    // (a rule that lost an alternative to an error counts as productive). A worklist makes
    // this linear: each alternative waits on a count of its unproductive requirements.
    let mut productive = broken.clone();
    let mut waiting: Vec<Vec<(RuleId, usize)>> = vec![Vec::new(); n];
    let mut missing: Vec<Vec<usize>> = Vec::with_capacity(n);
    let mut queue: Vec<RuleId> = (0..n).filter(|&i| productive[i]).collect();
    for (i, r) in rules.iter().enumerate() {
        let mut row = Vec::with_capacity(r.alts.len());
        for (ai, a) in r.alts.iter().enumerate() {
            let req = required_refs(a);
            for &t in &req {
                waiting[t].push((i, ai));
            }
            if req.is_empty() && !productive[i] {
                productive[i] = true;
                queue.push(i);
            }
            row.push(req.len());
        }
        missing.push(row);
    }
    while let Some(t) = queue.pop() {
        for &(i, ai) in &waiting[t] {
            missing[i][ai] -= 1;
            if missing[i][ai] == 0 && !productive[i] {
                productive[i] = true;
                queue.push(i);
            }
        }
    }
    for (i, r) in rules.iter().enumerate() {
        if reached[i] && !productive[i] {
            c.err_help(
                raw.rules[i].name_span.clone(),
                format!(
                    "rule '{}' can never finish: every alternative leads back into unfinished recursion",
                    r.name
                ),
                "expected at least one alternative that does not recurse, such as an operation without rule arguments",
            );
        }
    }

    // Cycles: recursion needs a depth bound; a shared rule must not contain itself.
    // A rule is recursive when its strongly connected component has a cycle.
    let comp = strongly_connected(&edges);
    let mut members: HashMap<usize, Vec<RuleId>> = HashMap::new();
    for (v, &k) in comp.iter().enumerate() {
        members.entry(k).or_default().push(v);
    }
    let mut cyclic: Vec<&Vec<RuleId>> = members
        .values()
        .filter(|m| m.len() > 1 || edges[m[0]].contains(&m[0]))
        .collect();
    cyclic.sort_by_key(|m| m[0]);
    for m in cyclic {
        if max_depth.is_none() {
            let cyc = cycle_through(m[0], &edges, &comp);
            let names: Vec<&str> = cyc.iter().map(|&r| rules[r].name.as_str()).collect();
            c.err_help(
                raw.rules[cyc[0]].name_span.clone(),
                format!(
                    "rule '{}' is recursive ({}) but the space sets no depth limit",
                    names[0],
                    names.join(" -> ")
                ),
                "expected '@max_depth N' at the top of the file to bound the recursion",
            );
            break;
        }
        for &s in m.iter().filter(|&&r| rules[r].shared) {
            let cyc = cycle_through(s, &edges, &comp);
            let names: Vec<&str> = cyc.iter().map(|&r| rules[r].name.as_str()).collect();
            c.err(
                raw.rules[s].name_span.clone(),
                format!(
                    "shared rule '{}' contains itself ({}); a shared choice is made once per candidate, so it cannot recurse",
                    rules[s].name,
                    names.join(" -> ")
                ),
            );
        }
    }

    if !c.diags.is_empty() {
        return Err(c.diags.finish(file, text));
    }
    for (w, sp) in &raw.unordered {
        let used = rules.iter().any(|r| {
            r.alts.iter().any(
                |a| matches!(&a.kind, AltKind::Op { name, args } if name == w && !args.is_empty()),
            )
        });
        if !used {
            c.err(
                sp.clone(),
                format!("'@unordered {w}': no operation '{w}' with arguments in the space"),
            );
        }
    }
    if !c.diags.is_empty() {
        return Err(c.diags.finish(file, text));
    }
    let shared = (0..n).filter(|&i| rules[i].shared).collect();
    Ok(Grammar {
        rules,
        start,
        max_depth,
        shared,
        unordered: raw.unordered.iter().map(|(w, _)| w.clone()).collect(),
    })
}
