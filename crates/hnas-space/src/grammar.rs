//! The checked grammar: rules, alternatives, argument expressions, domains.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// Deepest nesting a space may produce: a candidate's derivation tree (operations, rule
/// names written alone as alternatives, lists of `repeat` and DAG cells, one level each) is
/// at most this deep, and so is `repeat(..)` written inside `repeat(..)`. Every operation on
/// candidates walks the tree recursively; this bound keeps the deepest walk well within a
/// 2 MiB thread stack, even in an unoptimized build (about 270 levels fit; see
/// `docs/fuzzing.md`).
pub const MAX_NESTING: usize = 128;

/// Index of a rule (nonterminal) in [`Grammar::rules`].
pub type RuleId = usize;

/// A value: what a parameter decision or a literal argument holds.
#[derive(Debug, Clone)]
pub enum Value {
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    Bool(bool),
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a == b,
            // Bitwise, so that equality is reflexive and agrees with the hash of the printed form.
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            _ => false,
        }
    }
}
impl Eq for Value {}

impl std::hash::Hash for Value {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match self {
            Value::Int(i) => (0u8, *i).hash(h),
            Value::Float(x) => (1u8, x.to_bits()).hash(h),
            Value::Str(s) => (2u8, s).hash(h),
            Value::Bool(b) => (3u8, *b).hash(h),
        }
    }
}

pub(crate) fn is_plain_word(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s != "true"
        && s != "false"
}

impl fmt::Display for Value {
    /// The form the candidate string uses: floats always carry a `.` or an exponent,
    /// strings are bare when they are plain words and quoted otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => {
                let s = format!("{x:?}");
                f.write_str(&s)
            }
            Value::Str(s) if is_plain_word(s) => f.write_str(s),
            Value::Str(s) => {
                // serde_json's escaping is exactly what the lexer reads back.
                let quoted = serde_json::to_string(&**s).map_err(|_| fmt::Error)?;
                f.write_str(&quoted)
            }
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A parameter domain: the set of values one decision may take.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// `{a, b, c}`: one of the listed values.
    Set(Vec<Value>),
    /// `int(lo, hi)` or `int(lo, hi, step = s)`: lo, lo+s, ... up to hi inclusive.
    Int { lo: i64, hi: i64, step: i64 },
    /// `float(lo, hi)` (uniform) or `logfloat(lo, hi)` (log-uniform); continuous.
    Float { lo: f64, hi: f64, log: bool },
}

impl Domain {
    /// Number of values; `None` for continuous domains. An `int` domain over the whole i64
    /// range has 2^64 values, one more than `u64` holds, hence `u128`.
    pub fn len(&self) -> Option<u128> {
        match self {
            Domain::Set(v) => Some(v.len() as u128),
            Domain::Int { lo, hi, step } => {
                Some(((*hi as i128 - *lo as i128) / *step as i128 + 1) as u128)
            }
            Domain::Float { .. } => None,
        }
    }

    /// Whether the domain holds no value (rejected by the checker).
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The `i`-th value of a discrete domain.
    pub fn value_at(&self, i: u128) -> Option<Value> {
        match self {
            Domain::Set(v) => usize::try_from(i).ok().and_then(|i| v.get(i)).cloned(),
            Domain::Int { lo, step, .. } => {
                if i >= self.len()? {
                    return None;
                }
                // Within the domain, so the sum lies in [lo, hi] and fits an i64.
                let x = *lo as i128 + *step as i128 * i as i128;
                i64::try_from(x).ok().map(Value::Int)
            }
            Domain::Float { .. } => None,
        }
    }

    /// Position of `v` in a discrete domain, or whether it lies in a continuous one (`Some(0)`).
    pub fn index_of(&self, v: &Value) -> Option<u128> {
        match (self, v) {
            (Domain::Set(vals), _) => vals.iter().position(|x| x == v).map(|i| i as u128),
            (Domain::Int { lo, hi, step }, Value::Int(x)) => {
                let off = *x as i128 - *lo as i128;
                (x >= lo && x <= hi && off % *step as i128 == 0)
                    .then(|| (off / *step as i128) as u128)
            }
            (Domain::Float { lo, hi, .. }, Value::Float(x)) => (x >= lo && x <= hi).then_some(0),
            _ => None,
        }
    }
}

/// What an argument of an operation is.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A nonterminal, derived at this place (or, if the rule is `shared`, decided once per candidate).
    Ref(RuleId),
    /// A fixed value: not a decision.
    Literal(Value),
    /// A decision among the values of a domain.
    Domain(Domain),
    /// `repeat(item, n)` or `repeat(item, min, max)`: a list of independently decided items.
    Repeat { item: Box<Expr>, min: u32, max: u32 },
}

/// Where a DAG cell's output comes from (used by canonical forms and evaluators).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DagOutput {
    /// The last node.
    Last,
    /// Concatenation of every non-input node (DARTS).
    Concat,
    /// Every non-input node that no edge reads, combined as an unordered set (graph
    /// networks whose unread layers all feed the output).
    Leaves,
}

/// The built-in cell construct `dag(nodes = N, edge = R, ...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct DagSpec {
    /// Total number of nodes, inputs included; nodes are numbered 0..nodes.
    pub nodes: u32,
    /// The first `inputs` nodes are inputs: they have no incoming edges.
    pub inputs: u32,
    /// Each non-input node takes exactly this many inputs, from distinct earlier nodes;
    /// `None`: every earlier node feeds it (one edge per pair i<j).
    pub fan_in: Option<u32>,
    /// The nonterminal every edge chooses from.
    pub edge: RuleId,
    pub output: DagOutput,
    /// Edge operation that means "no connection", for isomorphism-aware hashing.
    pub zero: Option<String>,
    /// Edge operation that means "identity", for isomorphism-aware hashing.
    pub identity: Option<String>,
    /// `bypass = false`: no cell may carry an input to the output through identity edges
    /// only (such a cell passes its input through untouched, which many benchmarks do not
    /// count as a network). Needs `identity`.
    pub bypass: bool,
}

impl DagSpec {
    /// Number of edges in every cell of this DAG.
    pub fn edge_count(&self) -> usize {
        (self.inputs..self.nodes)
            .map(|j| self.fan_in.unwrap_or(j) as usize)
            .sum()
    }
}

/// A keyword argument `name = expr` of an operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: String,
    pub expr: Expr,
    pub span: Range<usize>,
}

/// The body of an alternative.
#[derive(Debug, Clone, PartialEq)]
pub enum AltKind {
    /// An operation with keyword arguments; the evaluator gives the name its meaning.
    Op { name: String, args: Vec<Arg> },
    /// Another nonterminal, written alone as an alternative.
    Ref(RuleId),
    /// A DAG cell.
    Dag(DagSpec),
}

/// A `where` clause's condition over the decisions of its operation's arguments.
///
/// Each argument it names is seen through a *part*: for a set or `int` domain the index of
/// its value, for a rule the index of the alternative chosen there.
#[derive(Debug, Clone, PartialEq)]
pub enum Pred {
    /// The argument at `arg` (its position in the operation) takes one of `parts`.
    Test {
        arg: usize,
        parts: Vec<u32>,
    },
    /// `a == b` between two arguments: true when the text of `a`'s part (a value, or the
    /// word of the alternative chosen) equals the text of `b`'s.
    Same {
        a: usize,
        b: usize,
        a_words: Vec<String>,
        b_words: Vec<String>,
    },
    /// A test on a literal argument, settled when checking.
    Const(bool),
    Not(Box<Pred>),
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
}

impl Pred {
    /// The condition given the part of each named argument (`part(arg)`).
    pub fn holds(&self, part: &impl Fn(usize) -> u32) -> bool {
        match self {
            Pred::Test { arg, parts } => parts.contains(&part(*arg)),
            Pred::Same {
                a,
                b,
                a_words,
                b_words,
            } => a_words.get(part(*a) as usize) == b_words.get(part(*b) as usize),
            Pred::Const(b) => *b,
            Pred::Not(p) => !p.holds(part),
            Pred::And(a, b) => a.holds(part) && b.holds(part),
            Pred::Or(a, b) => a.holds(part) || b.holds(part),
        }
    }
}

/// `op(...) where CONDITION`: the derivations of the operation whose argument decisions
/// break the condition are not in the space.
#[derive(Debug, Clone, PartialEq)]
pub struct Where {
    pub pred: Pred,
    /// The arguments the condition names, by position, in written order.
    pub args: Vec<usize>,
    pub span: Range<usize>,
}

/// One alternative of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Alt {
    /// Written probability (`0.3: op(...)`), if the rule gives probabilities.
    pub prob: Option<f64>,
    pub kind: AltKind,
    /// A `where` clause (operations with arguments only).
    pub constraint: Option<Where>,
    pub span: Range<usize>,
}

/// A nonterminal with its alternatives.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    /// Decided once per candidate and reused at every reference.
    pub shared: bool,
    pub alts: Vec<Alt>,
    pub span: Range<usize>,
}

/// A checked grammar.
#[derive(Debug, Clone, PartialEq)]
pub struct Grammar {
    pub rules: Vec<Rule>,
    pub start: RuleId,
    /// Bound on nonterminal nesting (the start rule is at depth 0); required for recursive grammars.
    pub max_depth: Option<u32>,
    /// Shared rules in the order their bindings are stored in a candidate.
    pub shared: Vec<RuleId>,
    /// Operations declared `@unordered`: their arguments form a set (names and order do
    /// not matter to the network), which the canonical form respects.
    pub unordered: Vec<String>,
}

impl Grammar {
    /// The rule called `name`.
    pub fn rule_id(&self, name: &str) -> Option<RuleId> {
        self.rules.iter().position(|r| r.name == name)
    }

    /// Position of a shared rule among the candidate's bindings.
    pub fn shared_slot(&self, rule: RuleId) -> Option<usize> {
        self.shared.iter().position(|&r| r == rule)
    }
}
