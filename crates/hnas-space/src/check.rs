//! Checking a parsed file: resolve names and report every semantic problem at once.

use crate::diag::{did_you_mean, Diagnostic};
use crate::grammar::*;
use crate::parse::{RawAlt, RawExpr, RawFile, RESERVED};
use std::collections::{HashMap, HashSet};
use std::ops::Range;

/// Largest repetition count accepted (a guard against typos such as `repeat(x, 1, 10000)`).
pub const MAX_REPEAT: i64 = 1024;
/// Largest DAG accepted, in nodes.
pub const MAX_DAG_NODES: i64 = 64;
/// Largest depth bound accepted.
pub const MAX_DEPTH_LIMIT: i64 = 256;

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    diags: Vec<Diagnostic>,
    names: HashMap<String, RuleId>,
    /// Set when a name or an argument did not resolve: the "unused rule" check is then
    /// skipped, since the dropped reference would make its intended rule look unused.
    unresolved: bool,
}

impl Checker<'_> {
    fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::new(self.file, self.text, span, msg));
    }
    fn err_help(&mut self, span: Range<usize>, msg: impl Into<String>, help: impl Into<String>) {
        self.diags
            .push(Diagnostic::new(self.file, self.text, span, msg).with_help(help));
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
                let mut seen: Vec<&Value> = Vec::new();
                for (v, vsp) in vals {
                    if seen.contains(&v) {
                        self.err(vsp.clone(), format!("value {v} appears twice in the set"));
                        return None;
                    }
                    seen.push(v);
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
                ("zero", Some(w), _) => zero = Some((w, sp)),
                ("identity", Some(w), _) => identity = Some((w, sp)),
                (k @ ("nodes" | "inputs" | "fan_in"), _, _) => {
                    self.err(sp, format!("dag '{k}' must be a whole number"));
                    ok = false;
                }
                ("output", _, _) => {
                    self.err(sp, "dag 'output' must be 'last' or 'concat'");
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
                            "unknown dag argument '{k}'; expected nodes, inputs, fan_in, edge, output, zero or identity"
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
        })
    }
}

fn walk_refs(e: &Expr, out: &mut Vec<RuleId>) {
    match e {
        Expr::Ref(r) => out.push(*r),
        Expr::Repeat { item, .. } => walk_refs(item, out),
        Expr::Literal(_) | Expr::Domain(_) => {}
    }
}

/// The leading words with which an alternative can be written in a candidate string.
fn alt_heads(rules: &[Rule], a: &Alt, visiting: &mut Vec<RuleId>) -> Vec<String> {
    match &a.kind {
        AltKind::Op { name, .. } => vec![name.clone()],
        AltKind::Dag(_) => vec!["dag".to_string()],
        AltKind::Ref(t) if rules[*t].shared => vec![format!("@{}", rules[*t].name)],
        AltKind::Ref(t) if visiting.contains(t) => Vec::new(),
        AltKind::Ref(t) => {
            visiting.push(*t);
            let out = rules[*t]
                .alts
                .iter()
                .flat_map(|x| alt_heads(rules, x, visiting))
                .collect();
            visiting.pop();
            out
        }
    }
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
        diags: Vec::new(),
        names: HashMap::new(),
        unresolved: false,
    };
    if raw.rules.is_empty() {
        c.err(0..0, "the space has no rules; expected at least one rule such as 'net = mlp(width = {64, 128})'");
        return Err(c.diags);
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
    for r in &raw.rules {
        let mut alts = Vec::new();
        for a in &r.alts {
            let kind = match (&a.args, c.names.get(&a.name)) {
                (Some(args), _) if a.name == "dag" => match c.dag(a, args) {
                    Some(d) => AltKind::Dag(d),
                    None => {
                        c.unresolved = true;
                        continue;
                    }
                },
                (None, _) if a.name == "dag" => {
                    c.err(
                        a.span.clone(),
                        "dag needs arguments, as in 'dag(nodes = 4, edge = op)'",
                    );
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
            alts.push(Alt {
                prob: a.prob.as_ref().map(|p| p.0),
                kind,
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
        for i in 0..alts.len() {
            for j in 0..i {
                if alts[i].kind == alts[j].kind {
                    c.err(
                        alts[i].span.clone(),
                        format!(
                            "this alternative of '{}' repeats an earlier one; expected distinct alternatives",
                            r.name
                        ),
                    );
                }
            }
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
    for (i, r) in rules.iter().enumerate() {
        let mut owner: HashMap<String, usize> = HashMap::new();
        for (ai, a) in r.alts.iter().enumerate() {
            for head in alt_heads(&rules, a, &mut vec![i]) {
                if let Some(&prev) = owner.get(&head) {
                    if prev != ai {
                        c.err_help(
                            a.span.clone(),
                            format!(
                                "alternatives {} and {} of '{}' are both written '{head}..', so a candidate could not say which was chosen",
                                prev + 1,
                                ai + 1,
                                r.name
                            ),
                            "expected distinct operation names; merge them into one alternative with a domain, as in 'conv(kernel = {3, 5})'",
                        );
                        break;
                    }
                } else {
                    owner.insert(head, ai);
                }
            }
        }
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

    // Productivity: a rule is productive when some alternative needs only productive rules.
    let mut productive = vec![false; n];
    loop {
        let mut changed = false;
        for (i, r) in rules.iter().enumerate() {
            if !productive[i]
                && r.alts
                    .iter()
                    .any(|a| required_refs(a).iter().all(|&t| productive[t]))
            {
                productive[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
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
    let mut color = vec![0u8; n];
    let mut cycles: Vec<Vec<RuleId>> = Vec::new();
    fn dfs(
        v: RuleId,
        edges: &[Vec<RuleId>],
        color: &mut [u8],
        path: &mut Vec<RuleId>,
        cycles: &mut Vec<Vec<RuleId>>,
    ) {
        color[v] = 1;
        path.push(v);
        for &t in &edges[v] {
            if color[t] == 1 {
                let from = path.iter().position(|&p| p == t).unwrap_or(0);
                let mut cyc = path[from..].to_vec();
                cyc.push(t);
                cycles.push(cyc);
            } else if color[t] == 0 {
                dfs(t, edges, color, path, cycles);
            }
        }
        path.pop();
        color[v] = 2;
    }
    for i in 0..n {
        if color[i] == 0 {
            dfs(i, &edges, &mut color, &mut Vec::new(), &mut cycles);
        }
    }
    let mut reported_shared = HashSet::new();
    for cyc in &cycles {
        let names: Vec<&str> = cyc.iter().map(|&r| rules[r].name.as_str()).collect();
        if max_depth.is_none() {
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
        if let Some(&s) = cyc.iter().find(|&&r| rules[r].shared) {
            if reported_shared.insert(s) {
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
    }

    if !c.diags.is_empty() {
        return Err(c.diags);
    }
    let shared = (0..n).filter(|&i| rules[i].shared).collect();
    Ok(Grammar {
        rules,
        start,
        max_depth,
        shared,
    })
}
