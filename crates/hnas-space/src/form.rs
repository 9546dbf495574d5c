//! Candidate forms: the one-line string and JSON, both read back against the grammar,
//! and the membership check.
//!
//! The one-line form prints every operation with all its arguments (literals included),
//! shared references as `@rule`, lists as `[..]`, DAG cells as `dag(0>1:op, ...)`, and the
//! shared bindings after the root as `; rule=...`.

use crate::candidate::{Candidate, Edge, Node};
use crate::diag::Diagnostic;
use crate::grammar::*;
use crate::lexer::{lex, Tok, Token};
use crate::space::Space;
use num_traits::Zero;
use serde_json::{json, Map, Value as Json};
use std::fmt::Write;
use std::ops::Range;
use std::sync::Arc;

/// Source name used in diagnostics about candidate strings.
pub const CANDIDATE_SOURCE: &str = "<candidate>";

/// A candidate form not yet matched against the grammar.
#[derive(Debug, Clone)]
pub(crate) enum Surf {
    Word(String),
    Op(String, Vec<(String, S)>),
    Val(Value),
    List(Vec<S>),
    Dag(Vec<(i64, i64, S)>),
    SharedRef(String),
}

#[derive(Debug, Clone)]
pub(crate) struct S {
    pub kind: Surf,
    pub span: Range<usize>,
}

impl S {
    fn describe(&self) -> String {
        match &self.kind {
            Surf::Word(w) => format!("'{w}'"),
            Surf::Op(n, _) => format!("'{n}(..)'"),
            Surf::Val(v) => format!("value {v}"),
            Surf::List(_) => "a list".into(),
            Surf::Dag(_) => "a dag".into(),
            Surf::SharedRef(n) => format!("'@{n}'"),
        }
    }
}

type RErr = (Range<usize>, String);

// ---------------------------------------------------------------- printing

impl Space {
    /// The one-line string form of a candidate; [`Space::parse_candidate`] reads it back exactly.
    pub fn print(&self, c: &Candidate) -> String {
        let mut out = String::with_capacity(128);
        self.print_rule(self.g.start, &c.root, &mut out, false);
        self.print_bindings(c, &mut out, false);
        out
    }

    pub(crate) fn print_bindings(&self, c: &Candidate, out: &mut String, canon: bool) {
        for (slot, &s) in self.g.shared.iter().enumerate() {
            out.push(';');
            out.push_str(&self.g.rules[s].name);
            out.push('=');
            if let Some(n) = c.shared.get(slot) {
                self.print_rule(s, n, out, canon);
            }
        }
    }

    pub(crate) fn print_rule(&self, r: RuleId, node: &Node, out: &mut String, canon: bool) {
        let rule = &self.g.rules[r];
        let Node::Choice { alt, kids } = node else {
            out.push('?');
            return;
        };
        let Some(a) = rule.alts.get(*alt as usize) else {
            out.push('?');
            return;
        };
        match &a.kind {
            AltKind::Op { name, args } if canon && self.g.unordered.contains(name) => {
                // An unordered operation is the multiset of its argument values.
                let mut parts: Vec<String> = args
                    .iter()
                    .zip(kids)
                    .map(|(arg, kid)| {
                        let mut t = String::new();
                        self.print_expr(&arg.expr, kid, &mut t, true);
                        t
                    })
                    .collect();
                parts.sort_unstable();
                out.push_str(name);
                out.push('{');
                out.push_str(&parts.join(","));
                out.push('}');
            }
            AltKind::Op { name, args } => {
                out.push_str(name);
                if !args.is_empty() {
                    out.push('(');
                    for (i, (arg, kid)) in args.iter().zip(kids).enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(&arg.name);
                        out.push('=');
                        self.print_expr(&arg.expr, kid, out, canon);
                    }
                    out.push(')');
                }
            }
            AltKind::Ref(t) => {
                if let Some(k) = kids.first() {
                    self.print_ref(*t, k, out, canon);
                }
            }
            AltKind::Dag(d) => match kids.first() {
                Some(Node::Dag(edges)) if canon => self.dag_canonical(d, edges, out),
                Some(Node::Dag(edges)) => {
                    out.push_str("dag(");
                    for (i, e) in edges.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        push_u32(out, e.from);
                        out.push('>');
                        push_u32(out, e.to);
                        out.push(':');
                        self.print_ref(d.edge, &e.op, out, canon);
                    }
                    out.push(')');
                }
                _ => out.push('?'),
            },
        }
    }

    pub(crate) fn print_ref(&self, t: RuleId, node: &Node, out: &mut String, canon: bool) {
        if self.g.rules[t].shared {
            out.push('@');
            out.push_str(&self.g.rules[t].name);
        } else {
            self.print_rule(t, node, out, canon);
        }
    }

    fn print_expr(&self, e: &Expr, node: &Node, out: &mut String, canon: bool) {
        match (e, node) {
            (Expr::Ref(t), _) => self.print_ref(*t, node, out, canon),
            (Expr::Repeat { item, .. }, Node::List(items)) => {
                out.push('[');
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.print_expr(item, it, out, canon);
                }
                out.push(']');
            }
            (_, Node::Value(v)) => {
                let _ = write!(out, "{v}");
            }
            _ => out.push('?'),
        }
    }

    // ------------------------------------------------------------ JSON

    /// The JSON form: `{"root": T, "shared": {"rule": T, ..}}` where an operation is
    /// `{"op": name, "args": {..}}`, a value is a JSON scalar, a list an array, a DAG
    /// `{"dag": [{"from": i, "to": j, "op": T}, ..]}` and a shared reference `{"shared": rule}`.
    pub fn to_json(&self, c: &Candidate) -> Json {
        let mut shared = Map::new();
        for (slot, &s) in self.g.shared.iter().enumerate() {
            if let Some(n) = c.shared.get(slot) {
                shared.insert(self.g.rules[s].name.clone(), self.json_rule(s, n));
            }
        }
        json!({"root": self.json_rule(self.g.start, &c.root), "shared": shared})
    }

    /// `to_json(c).to_string()`, written directly (no intermediate tree): the form a study
    /// stores with every trial.
    pub fn json_string(&self, c: &Candidate) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("{\"root\":");
        self.jw_rule(self.g.start, &c.root, &mut out);
        out.push_str(",\"shared\":{");
        for (slot, &s) in self.g.shared.iter().enumerate() {
            if let Some(n) = c.shared.get(slot) {
                if slot > 0 {
                    out.push(',');
                }
                jw_str(&self.g.rules[s].name, &mut out);
                out.push(':');
                self.jw_rule(s, n, &mut out);
            }
        }
        out.push_str("}}");
        out
    }

    fn jw_rule(&self, r: RuleId, node: &Node, out: &mut String) {
        let (Node::Choice { kids, .. }, Some(a)) = (node, self.choice_alt(r, node)) else {
            out.push_str("null");
            return;
        };
        match &a.kind {
            AltKind::Op { name, args } => {
                out.push_str("{\"op\":");
                jw_str(name, out);
                if !args.is_empty() {
                    out.push_str(",\"args\":{");
                    for (i, (x, k)) in args.iter().zip(kids).enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        jw_str(&x.name, out);
                        out.push(':');
                        self.jw_expr(&x.expr, k, out);
                    }
                    out.push('}');
                }
                out.push('}');
            }
            AltKind::Ref(t) => match kids.first() {
                Some(k) => self.jw_ref(*t, k, out),
                None => out.push_str("null"),
            },
            AltKind::Dag(d) => match kids.first() {
                Some(Node::Dag(edges)) => {
                    out.push_str("{\"dag\":[");
                    for (i, e) in edges.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str("{\"from\":");
                        push_u32(out, e.from);
                        out.push_str(",\"to\":");
                        push_u32(out, e.to);
                        out.push_str(",\"op\":");
                        self.jw_ref(d.edge, &e.op, out);
                        out.push('}');
                    }
                    out.push_str("]}");
                }
                _ => out.push_str("null"),
            },
        }
    }

    fn choice_alt(&self, r: RuleId, node: &Node) -> Option<&Alt> {
        match node {
            Node::Choice { alt, .. } => self.g.rules[r].alts.get(*alt as usize),
            _ => None,
        }
    }

    fn jw_ref(&self, t: RuleId, node: &Node, out: &mut String) {
        if self.g.rules[t].shared {
            out.push_str("{\"shared\":");
            jw_str(&self.g.rules[t].name, out);
            out.push('}');
        } else {
            self.jw_rule(t, node, out);
        }
    }

    fn jw_expr(&self, e: &Expr, node: &Node, out: &mut String) {
        match (e, node) {
            (Expr::Ref(t), _) => self.jw_ref(*t, node, out),
            (Expr::Repeat { item, .. }, Node::List(items)) => {
                out.push('[');
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.jw_expr(item, it, out);
                }
                out.push(']');
            }
            (_, Node::Value(v)) => jw_value(v, out),
            _ => out.push_str("null"),
        }
    }

    fn json_rule(&self, r: RuleId, node: &Node) -> Json {
        let Node::Choice { alt, kids } = node else {
            return Json::Null;
        };
        let Some(a) = self.g.rules[r].alts.get(*alt as usize) else {
            return Json::Null;
        };
        match &a.kind {
            AltKind::Op { name, args } => {
                let mut m = Map::new();
                m.insert("op".into(), Json::String(name.clone()));
                if !args.is_empty() {
                    let am: Map<String, Json> = args
                        .iter()
                        .zip(kids)
                        .map(|(x, k)| (x.name.clone(), self.json_expr(&x.expr, k)))
                        .collect();
                    m.insert("args".into(), Json::Object(am));
                }
                Json::Object(m)
            }
            AltKind::Ref(t) => kids.first().map_or(Json::Null, |k| self.json_ref(*t, k)),
            AltKind::Dag(d) => match kids.first() {
                Some(Node::Dag(edges)) => json!({"dag": edges
                    .iter()
                    .map(|e| json!({"from": e.from, "to": e.to, "op": self.json_ref(d.edge, &e.op)}))
                    .collect::<Vec<_>>()}),
                _ => Json::Null,
            },
        }
    }

    fn json_ref(&self, t: RuleId, node: &Node) -> Json {
        if self.g.rules[t].shared {
            json!({"shared": self.g.rules[t].name})
        } else {
            self.json_rule(t, node)
        }
    }

    fn json_expr(&self, e: &Expr, node: &Node) -> Json {
        match (e, node) {
            (Expr::Ref(t), _) => self.json_ref(*t, node),
            (Expr::Repeat { item, .. }, Node::List(items)) => {
                Json::Array(items.iter().map(|i| self.json_expr(item, i)).collect())
            }
            (_, Node::Value(v)) => value_json(v),
            _ => Json::Null,
        }
    }

    /// Reads the JSON form back; an error says where it leaves the space.
    pub fn from_json(&self, j: &Json) -> Result<Candidate, crate::Error> {
        self.read_json(j).map_err(crate::Error::NotMember)
    }

    fn read_json(&self, j: &Json) -> Result<Candidate, String> {
        let obj = j
            .as_object()
            .ok_or("expected a JSON object with 'root' (and 'shared')")?;
        let root = obj.get("root").ok_or("expected a 'root' field")?;
        let root = json_surf(root)?;
        let empty = Map::new();
        let shared = match obj.get("shared") {
            Some(Json::Object(m)) => m,
            None => &empty,
            Some(_) => return Err("'shared' must be an object of rule name to tree".into()),
        };
        let mut binds = Vec::new();
        for (k, v) in shared {
            binds.push((k.clone(), 0..0, json_surf(v)?));
        }
        // `from_json` says "not a member of the space" itself.
        self.resolve_candidate(&root, &binds).map_err(|(_, m)| {
            m.strip_prefix("not a member of the space: ")
                .map_or(m.clone(), str::to_string)
        })
    }

    // ------------------------------------------------------------ string form

    /// Reads the one-line string form back. Errors point into `text` as `<candidate>:1:col`.
    ///
    /// ```
    /// use hnas_space::Space;
    /// let space = Space::parse("s.hnas", "net = mlp(width = {64, 128}, act = {relu, gelu})").unwrap();
    /// let c = space.parse_candidate("mlp(width=128,act=gelu)").unwrap();
    /// assert_eq!(space.print(&c), "mlp(width=128,act=gelu)");
    /// assert!(space.parse_candidate("mlp(width=96,act=gelu)").is_err());
    /// ```
    pub fn parse_candidate(&self, text: &str) -> Result<Candidate, Diagnostic> {
        let diag =
            |span: Range<usize>, msg: String| Diagnostic::new(CANDIDATE_SOURCE, text, span, msg);
        let (toks, errs) = lex(text);
        if let Some(e) = errs.into_iter().next() {
            return Err(diag(e.span, e.message));
        }
        let mut p = SurfParser {
            toks,
            pos: 0,
            depth: 0,
        };
        let root = p.surf().map_err(|(s, m)| diag(s, m))?;
        let mut binds = Vec::new();
        while p.eat(';') {
            let (name, sp) = p.word().map_err(|(s, m)| diag(s, m))?;
            p.expect('=').map_err(|(s, m)| diag(s, m))?;
            let s = p.surf().map_err(|(s, m)| diag(s, m))?;
            binds.push((name, sp, s));
        }
        if p.peek() != &Tok::Eof {
            let t = &p.toks[p.pos];
            return Err(diag(
                t.span.clone(),
                format!(
                    "expected ';' or the end of the candidate, found {}",
                    t.tok.describe()
                ),
            ));
        }
        self.resolve_candidate(&root, &binds)
            .map_err(|(s, m)| diag(s, m))
    }

    fn resolve_candidate(
        &self,
        root: &S,
        binds: &[(String, Range<usize>, S)],
    ) -> Result<Candidate, RErr> {
        let root = self.resolve_rule(self.g.start, 0, root)?;
        let mut shared: Vec<Option<Node>> = vec![None; self.g.shared.len()];
        for (name, sp, s) in binds {
            let slot = self
                .g
                .rule_id(name)
                .and_then(|r| self.g.shared_slot(r))
                .ok_or_else(|| {
                    (
                        sp.clone(),
                        format!(
                            "'{name}' is not a shared rule of this space; expected one of: {}",
                            self.shared_names()
                        ),
                    )
                })?;
            if shared[slot].is_some() {
                return Err((sp.clone(), format!("shared rule '{name}' is bound twice")));
            }
            shared[slot] = Some(self.resolve_rule(self.g.shared[slot], 0, s)?);
        }
        let mut out = Vec::new();
        for (slot, n) in shared.into_iter().enumerate() {
            match n {
                Some(n) => out.push(n),
                None => {
                    let name = &self.g.rules[self.g.shared[slot]].name;
                    return Err((
                        root_end(binds),
                        format!(
                            "missing the binding of shared rule '{name}'; expected '; {name}=...'"
                        ),
                    ));
                }
            }
        }
        let c = Candidate { root, shared: out };
        if self.is_constrained() {
            // Written out, a candidate may break a constraint that no single node shows.
            self.check_member(&c)
                .map_err(|m| (0..0, format!("not a member of the space: {m}")))?;
        }
        Ok(c)
    }

    fn shared_names(&self) -> String {
        let v: Vec<&str> = self
            .g
            .shared
            .iter()
            .map(|&s| self.g.rules[s].name.as_str())
            .collect();
        if v.is_empty() {
            "(none)".into()
        } else {
            v.join(", ")
        }
    }

    fn alt_summary(&self, a: &Alt) -> String {
        match &a.kind {
            AltKind::Op { name, args } if args.is_empty() => name.clone(),
            AltKind::Op { name, .. } => format!("{name}(..)"),
            AltKind::Ref(t) => format!("<{}>", self.g.rules[*t].name),
            AltKind::Dag(_) => "dag(..)".into(),
        }
    }

    fn resolve_rule(&self, r: RuleId, lvl: usize, s: &S) -> Result<Node, RErr> {
        let rule = &self.g.rules[r];
        let mut specific: Option<RErr> = None;
        for (ai, a) in rule.alts.iter().enumerate() {
            if self.alt_counts[r][lvl][ai].is_zero() {
                continue;
            }
            let attempt = match (&a.kind, &s.kind) {
                (AltKind::Op { name, args }, Surf::Word(w)) if w == name => {
                    self.resolve_args(name, args, &[], lvl, s)
                }
                (AltKind::Op { name, args }, Surf::Val(Value::Str(w)))
                    if **w == **name && args.is_empty() =>
                {
                    Ok(vec![])
                }
                (AltKind::Op { name, args }, Surf::Op(n, sargs)) if n == name => {
                    self.resolve_args(name, args, sargs, lvl, s)
                }
                (AltKind::Dag(d), Surf::Dag(edges)) => {
                    self.resolve_dag(d, lvl, edges, s).map(|n| vec![n])
                }
                (AltKind::Dag(d), Surf::Op(n, sargs)) if n == "dag" && sargs.is_empty() => {
                    self.resolve_dag(d, lvl, &[], s).map(|n| vec![n])
                }
                (AltKind::Ref(t), _) => match self.resolve_ref(*t, lvl, s) {
                    Ok(n) => Ok(vec![n]),
                    Err(e) => {
                        if specific.is_none() && !e.1.starts_with("expected one of") {
                            specific = Some(e);
                        }
                        continue;
                    }
                },
                _ => continue,
            };
            match attempt {
                Ok(kids) => {
                    return Ok(Node::Choice {
                        alt: ai as u32,
                        kids,
                    })
                }
                Err(e) => specific = specific.or(Some(e)),
            }
        }
        if let Some(e) = specific {
            return Err(e);
        }
        let options: Vec<String> = rule
            .alts
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.alt_counts[r][lvl][*i].is_zero())
            .map(|(_, a)| self.alt_summary(a))
            .collect();
        Err((
            s.span.clone(),
            format!(
                "expected one of {} for '{}', found {}",
                options.join(", "),
                rule.name,
                s.describe()
            ),
        ))
    }

    fn resolve_args(
        &self,
        op: &str,
        args: &[Arg],
        sargs: &[(String, S)],
        lvl: usize,
        s: &S,
    ) -> Result<Vec<Node>, RErr> {
        for (n, sv) in sargs {
            if !args.iter().any(|a| &a.name == n) {
                let names: Vec<&str> = args.iter().map(|a| a.name.as_str()).collect();
                return Err((
                    sv.span.clone(),
                    format!(
                        "'{op}' has no argument '{n}'; expected one of: {}",
                        names.join(", ")
                    ),
                ));
            }
        }
        args.iter()
            .map(|a| {
                let found: Vec<&S> = sargs
                    .iter()
                    .filter(|(n, _)| n == &a.name)
                    .map(|(_, v)| v)
                    .collect();
                match found.as_slice() {
                    [one] => self.resolve_expr(&a.expr, lvl, one),
                    [] => Err((
                        s.span.clone(),
                        format!("'{op}' is missing argument '{}'", a.name),
                    )),
                    [_, second, ..] => Err((
                        second.span.clone(),
                        format!("argument '{}' is given twice", a.name),
                    )),
                }
            })
            .collect()
    }

    fn resolve_ref(&self, t: RuleId, lvl: usize, s: &S) -> Result<Node, RErr> {
        let rule = &self.g.rules[t];
        if rule.shared {
            match &s.kind {
                Surf::SharedRef(n) if n == &rule.name => Ok(Node::Shared),
                _ => Err((
                    s.span.clone(),
                    format!(
                        "expected '@{}' (a shared rule), found {}",
                        rule.name,
                        s.describe()
                    ),
                )),
            }
        } else {
            let c = self.child(lvl);
            if self.counts[t][c].is_zero() {
                return Err((
                    s.span.clone(),
                    format!("'{}' is nested deeper than @max_depth allows", rule.name),
                ));
            }
            self.resolve_rule(t, c, s)
        }
    }

    fn resolve_expr(&self, e: &Expr, lvl: usize, s: &S) -> Result<Node, RErr> {
        match e {
            Expr::Ref(t) => self.resolve_ref(*t, lvl, s),
            Expr::Literal(v) => {
                let got = surf_value(s).ok_or_else(|| {
                    (
                        s.span.clone(),
                        format!("expected the value {v}, found {}", s.describe()),
                    )
                })?;
                if &got == v {
                    Ok(Node::Value(got))
                } else {
                    Err((
                        s.span.clone(),
                        format!("expected the fixed value {v}, found {got}"),
                    ))
                }
            }
            Expr::Domain(d) => {
                let mut got = surf_value(s).ok_or_else(|| {
                    (
                        s.span.clone(),
                        format!("expected a value, found {}", s.describe()),
                    )
                })?;
                if let (Domain::Float { .. }, Value::Int(i)) = (d, &got) {
                    got = Value::Float(*i as f64);
                }
                if d.index_of(&got).is_some() {
                    Ok(Node::Value(got))
                } else {
                    Err((
                        s.span.clone(),
                        format!(
                            "value {got} is outside its domain; expected {}",
                            describe_domain(d)
                        ),
                    ))
                }
            }
            Expr::Repeat { item, min, max } => match &s.kind {
                Surf::List(items) => {
                    let n = items.len() as u32;
                    if n < *min || n > *max {
                        let want = if min == max {
                            min.to_string()
                        } else {
                            format!("{min} to {max}")
                        };
                        return Err((s.span.clone(), format!("expected {want} items, found {n}")));
                    }
                    Ok(Node::List(
                        items
                            .iter()
                            .map(|i| self.resolve_expr(item, lvl, i))
                            .collect::<Result<_, _>>()?,
                    ))
                }
                _ => Err((
                    s.span.clone(),
                    format!("expected a list [..], found {}", s.describe()),
                )),
            },
        }
    }

    fn resolve_dag(
        &self,
        d: &DagSpec,
        lvl: usize,
        edges: &[(i64, i64, S)],
        s: &S,
    ) -> Result<Node, RErr> {
        let mut out = Vec::with_capacity(edges.len());
        for (i, j, op) in edges {
            if *j < d.inputs as i64 || *j >= d.nodes as i64 || *i < 0 || i >= j {
                return Err((
                    op.span.clone(),
                    format!(
                        "edge {i}>{j} is not in the cell; expected i>j with 0 <= i < j, {} <= j < {}",
                        d.inputs, d.nodes
                    ),
                ));
            }
            out.push(Edge {
                from: *i as u32,
                to: *j as u32,
                op: self.resolve_ref(d.edge, lvl, op)?,
            });
        }
        out.sort_by_key(|e| (e.to, e.from));
        for w in out.windows(2) {
            if (w[0].from, w[0].to) == (w[1].from, w[1].to) {
                return Err((
                    s.span.clone(),
                    format!("edge {}>{} appears twice", w[0].from, w[0].to),
                ));
            }
        }
        for j in d.inputs..d.nodes {
            let n = out.iter().filter(|e| e.to == j).count() as u32;
            let want = d.fan_in.unwrap_or(j);
            if n != want {
                return Err((
                    s.span.clone(),
                    format!("node {j} has {n} incoming edges; expected {want}"),
                ));
            }
        }
        Ok(Node::Dag(out))
    }

    // ------------------------------------------------------------ membership

    /// Whether `c` is a member of the space.
    pub fn is_member(&self, c: &Candidate) -> bool {
        self.validate(c).is_ok()
    }

    /// Checks that `c` is a member of the space, saying where it is not.
    pub fn validate(&self, c: &Candidate) -> Result<(), crate::Error> {
        self.check_member(c).map_err(crate::Error::NotMember)
    }

    fn check_member(&self, c: &Candidate) -> Result<(), String> {
        self.val_rule(self.g.start, 0, &c.root)?;
        if c.shared.len() != self.g.shared.len() {
            return Err(format!(
                "expected {} shared bindings, found {}",
                self.g.shared.len(),
                c.shared.len()
            ));
        }
        for (slot, &s) in self.g.shared.iter().enumerate() {
            self.val_rule(s, 0, &c.shared[slot])?;
        }
        Ok(())
    }

    pub(crate) fn val_rule(&self, r: RuleId, lvl: usize, n: &Node) -> Result<(), String> {
        let rule = &self.g.rules[r];
        let Node::Choice { alt, kids } = n else {
            return Err(format!("expected an expansion of '{}'", rule.name));
        };
        let ai = *alt as usize;
        let a = rule
            .alts
            .get(ai)
            .ok_or_else(|| format!("'{}' has no alternative {ai}", rule.name))?;
        if self.alt_counts[r][lvl][ai].is_zero() {
            return Err(format!(
                "alternative {ai} of '{}' does not fit in the depth left",
                rule.name
            ));
        }
        match &a.kind {
            AltKind::Op { args, name } => {
                if kids.len() != args.len() {
                    return Err(format!(
                        "'{name}' needs {} arguments, found {}",
                        args.len(),
                        kids.len()
                    ));
                }
                args.iter()
                    .zip(kids)
                    .try_for_each(|(x, k)| self.val_expr(&x.expr, lvl, k))?;
                match &a.constraint {
                    Some(w) if !Self::where_holds(args, w, kids) => Err(format!(
                        "'{name}' breaks its condition 'where {}'",
                        &self.text[w.span.clone()]
                    )),
                    _ => Ok(()),
                }
            }
            AltKind::Ref(t) => match kids.as_slice() {
                [k] => self.val_ref(*t, lvl, k),
                _ => Err(format!(
                    "a reference alternative of '{}' holds one child",
                    rule.name
                )),
            },
            AltKind::Dag(d) => match kids.as_slice() {
                [Node::Dag(edges)] => {
                    self.val_dag(d, lvl, edges)?;
                    if self.dag_allowed(d, edges) {
                        Ok(())
                    } else {
                        Err(format!(
                            "a cell of '{}' passes an input to the output through '{}' edges only, which 'bypass = false' forbids",
                            rule.name,
                            d.identity.as_deref().unwrap_or("identity")
                        ))
                    }
                }
                _ => Err(format!("'{}' expects a dag", rule.name)),
            },
        }
    }

    fn val_ref(&self, t: RuleId, lvl: usize, n: &Node) -> Result<(), String> {
        if self.g.rules[t].shared {
            match n {
                Node::Shared => Ok(()),
                _ => Err(format!(
                    "a reference to shared '{}' must be Shared",
                    self.g.rules[t].name
                )),
            }
        } else {
            self.val_rule(t, self.child(lvl), n)
        }
    }

    fn val_expr(&self, e: &Expr, lvl: usize, n: &Node) -> Result<(), String> {
        match (e, n) {
            (Expr::Ref(t), _) => self.val_ref(*t, lvl, n),
            (Expr::Literal(v), Node::Value(x)) if v == x => Ok(()),
            (Expr::Domain(d), Node::Value(x)) if d.index_of(x).is_some() => Ok(()),
            (Expr::Repeat { item, min, max }, Node::List(items)) => {
                let k = items.len() as u32;
                if k < *min || k > *max {
                    return Err(format!("list of {k} items; expected {min} to {max}"));
                }
                items.iter().try_for_each(|i| self.val_expr(item, lvl, i))
            }
            _ => Err(format!("node {n:?} does not fit its place")),
        }
    }

    fn val_dag(&self, d: &DagSpec, lvl: usize, edges: &[Edge]) -> Result<(), String> {
        let mut k = 0;
        for j in d.inputs..d.nodes {
            let mut last: Option<u32> = None;
            let want = d.fan_in.unwrap_or(j) as usize;
            for _ in 0..want {
                let e = edges.get(k).ok_or("too few edges")?;
                if e.to != j || e.from >= j || last.is_some_and(|l| e.from <= l) {
                    return Err(format!("edge {}>{} out of place", e.from, e.to));
                }
                last = Some(e.from);
                self.val_ref(d.edge, lvl, &e.op)?;
                k += 1;
            }
        }
        if k != edges.len() {
            return Err("too many edges".into());
        }
        Ok(())
    }
}

fn root_end(binds: &[(String, Range<usize>, S)]) -> Range<usize> {
    binds.last().map_or(0..0, |b| b.2.span.clone())
}

fn describe_domain(d: &Domain) -> String {
    match d {
        Domain::Set(v) => format!(
            "one of {{{}}}",
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Domain::Int { lo, hi, step: 1 } => format!("an integer in {lo}..={hi}"),
        Domain::Int { lo, hi, step } => format!("an integer in {lo}..={hi} in steps of {step}"),
        Domain::Float { lo, hi, .. } => format!("a number in [{lo}, {hi}]"),
    }
}

/// Appends a small number without going through `core::fmt` (the hot path of printing cells).
pub(crate) fn push_u32(out: &mut String, n: u32) {
    if n < 10 {
        out.push((b'0' + n as u8) as char);
    } else {
        let mut buf = [0u8; 10];
        let mut i = buf.len();
        let mut x = n;
        while x > 0 {
            i -= 1;
            buf[i] = b'0' + (x % 10) as u8;
            x /= 10;
        }
        out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
    }
}

fn jw_str(s: &str, out: &mut String) {
    if s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&Json::String(s.to_string()).to_string());
    }
}

fn surf_value(s: &S) -> Option<Value> {
    match &s.kind {
        Surf::Val(v) => Some(v.clone()),
        Surf::Word(w) => Some(Value::Str(Arc::from(w.as_str()))),
        _ => None,
    }
}

/// `value_json(v).to_string()`, without the intermediate value for the common cases.
fn jw_value(v: &Value, out: &mut String) {
    match v {
        Value::Int(i) => {
            use std::fmt::Write;
            let _ = write!(out, "{i}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Str(s) => jw_str(s, out),
        Value::Float(_) => out.push_str(&value_json(v).to_string()),
    }
}

fn value_json(v: &Value) -> Json {
    match v {
        Value::Int(i) => json!(i),
        Value::Float(x) => json!(x),
        Value::Str(s) => json!(&**s),
        Value::Bool(b) => json!(b),
    }
}

fn json_surf(j: &Json) -> Result<S, String> {
    json_surf_at(j, 0)
}

fn json_surf_at(j: &Json, depth: usize) -> Result<S, String> {
    if depth >= MAX_NESTING {
        return Err(format!(
            "nesting deeper than {MAX_NESTING}: no candidate of a space nests its operations and lists deeper"
        ));
    }
    let json_surf = |j: &Json| json_surf_at(j, depth + 1);
    let kind = match j {
        Json::Bool(b) => Surf::Val(Value::Bool(*b)),
        Json::Number(n) => match n.as_i64() {
            Some(i) if !n.is_f64() => Surf::Val(Value::Int(i)),
            _ => Surf::Val(Value::Float(n.as_f64().ok_or("number out of range")?)),
        },
        Json::String(s) => Surf::Val(Value::Str(Arc::from(s.as_str()))),
        Json::Array(items) => Surf::List(items.iter().map(json_surf).collect::<Result<_, _>>()?),
        Json::Object(m) => {
            if let Some(op) = m.get("op") {
                let name = op.as_str().ok_or("'op' must be a string")?.to_string();
                let mut args = Vec::new();
                if let Some(a) = m.get("args") {
                    let a = a.as_object().ok_or("'args' must be an object")?;
                    for (k, v) in a {
                        args.push((k.clone(), json_surf(v)?));
                    }
                }
                if args.is_empty() {
                    Surf::Word(name)
                } else {
                    Surf::Op(name, args)
                }
            } else if let Some(d) = m.get("dag") {
                let list = d.as_array().ok_or("'dag' must be an array of edges")?;
                let mut edges = Vec::new();
                for e in list {
                    let from = e
                        .get("from")
                        .and_then(Json::as_i64)
                        .ok_or("a dag edge needs an integer 'from'")?;
                    let to = e
                        .get("to")
                        .and_then(Json::as_i64)
                        .ok_or("a dag edge needs an integer 'to'")?;
                    let op = json_surf(e.get("op").ok_or("a dag edge needs an 'op'")?)?;
                    edges.push((from, to, op));
                }
                Surf::Dag(edges)
            } else if let Some(s) = m.get("shared") {
                Surf::SharedRef(
                    s.as_str()
                        .ok_or("'shared' must be a rule name")?
                        .to_string(),
                )
            } else {
                return Err("expected an object with 'op', 'dag' or 'shared'".into());
            }
        }
        Json::Null => return Err("unexpected null".into()),
    };
    Ok(S { kind, span: 0..0 })
}

struct SurfParser {
    toks: Vec<Token>,
    pos: usize,
    /// How many operations and lists enclose the item being read.
    depth: usize,
}

impl SurfParser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }
    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn eat(&mut self, c: char) -> bool {
        if *self.peek() == Tok::Punct(c) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn err<T>(&self, what: &str) -> Result<T, RErr> {
        let t = &self.toks[self.pos];
        Err((
            t.span.clone(),
            format!("expected {what}, found {}", t.tok.describe()),
        ))
    }
    fn expect(&mut self, c: char) -> Result<(), RErr> {
        if self.eat(c) {
            Ok(())
        } else {
            self.err(&format!("'{c}'"))
        }
    }
    fn word(&mut self) -> Result<(String, Range<usize>), RErr> {
        match self.peek().clone() {
            Tok::Ident(w) => Ok((w, self.bump().span)),
            _ => self.err("a name"),
        }
    }
    fn int(&mut self) -> Result<i64, RErr> {
        match *self.peek() {
            Tok::Int(i) => {
                self.bump();
                Ok(i)
            }
            _ => self.err("a node number"),
        }
    }

    /// One item; no member of a space nests deeper than [`MAX_NESTING`], so a deeper text is
    /// refused before it can exhaust the stack.
    fn surf(&mut self) -> Result<S, RErr> {
        if self.depth >= MAX_NESTING {
            return Err((
                self.toks[self.pos].span.clone(),
                format!("nesting deeper than {MAX_NESTING}: no candidate of a space nests its operations and lists deeper"),
            ));
        }
        self.depth += 1;
        let r = self.surf_item();
        self.depth -= 1;
        r
    }

    fn surf_item(&mut self) -> Result<S, RErr> {
        let start = self.toks[self.pos].span.start;
        let kind = match self.peek().clone() {
            Tok::Ident(w) if w == "true" || w == "false" => {
                self.bump();
                Surf::Val(Value::Bool(w == "true"))
            }
            Tok::Ident(w) => {
                self.bump();
                if self.eat('(') {
                    if matches!(self.peek(), Tok::Int(_)) {
                        let mut edges = Vec::new();
                        loop {
                            let i = self.int()?;
                            self.expect('>')?;
                            let j = self.int()?;
                            self.expect(':')?;
                            edges.push((i, j, self.surf()?));
                            if !self.eat(',') {
                                break;
                            }
                        }
                        self.expect(')')?;
                        Surf::Dag(edges)
                    } else {
                        let mut args = Vec::new();
                        while !matches!(self.peek(), Tok::Punct(')')) {
                            let (k, _) = self.word()?;
                            self.expect('=')?;
                            args.push((k, self.surf()?));
                            if !self.eat(',') {
                                break;
                            }
                        }
                        self.expect(')')?;
                        Surf::Op(w, args)
                    }
                } else {
                    Surf::Word(w)
                }
            }
            Tok::Int(i) => {
                self.bump();
                Surf::Val(Value::Int(i))
            }
            Tok::Float(x) => {
                self.bump();
                Surf::Val(Value::Float(x))
            }
            Tok::Str(s) => {
                self.bump();
                Surf::Val(Value::Str(Arc::from(s.as_str())))
            }
            Tok::Punct('@') => {
                self.bump();
                Surf::SharedRef(self.word()?.0)
            }
            Tok::Punct('[') => {
                self.bump();
                let mut items = Vec::new();
                while !matches!(self.peek(), Tok::Punct(']')) {
                    items.push(self.surf()?);
                    if !self.eat(',') {
                        break;
                    }
                }
                self.expect(']')?;
                Surf::List(items)
            }
            _ => return self.err("an operation, value, list or '@rule'"),
        };
        let end = self.toks[self.pos.saturating_sub(1)].span.end;
        Ok(S {
            kind,
            span: start..end.max(start),
        })
    }
}
