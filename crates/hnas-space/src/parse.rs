//! Parsing `.hnas` text into an unchecked syntax tree (names not yet resolved).
//!
//! Hand-written recursive descent: the language is small, and this lets the parser
//! recover at the next rule after an error so that one run reports several problems.

use crate::diag::{DiagSink, Diagnostic};
use crate::grammar::{Value, MAX_NESTING};
use crate::lexer::{lex, Tok, Token};
use std::ops::Range;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(crate) struct RawFile {
    pub rules: Vec<RawRule>,
    pub start: Option<(String, Range<usize>)>,
    pub max_depth: Option<(i64, Range<usize>)>,
    /// `@unordered op`: operations whose arguments form a set.
    pub unordered: Vec<(String, Range<usize>)>,
}

#[derive(Debug, Clone)]
pub(crate) struct RawRule {
    pub name: String,
    pub name_span: Range<usize>,
    pub shared: bool,
    pub alts: Vec<RawAlt>,
    pub span: Range<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct RawAlt {
    pub prob: Option<(f64, Range<usize>)>,
    pub name: String,
    pub name_span: Range<usize>,
    /// `None` for a bare name (a nonterminal reference or an operation without arguments).
    pub args: Option<Vec<RawArg>>,
    /// `where CONDITION` after the arguments, with the span of the condition.
    pub cond: Option<(RawPred, Range<usize>)>,
    pub span: Range<usize>,
}

/// A `where` condition as written.
#[derive(Debug, Clone)]
pub(crate) enum RawPred {
    /// `arg == v`, `arg != v`, `arg in {..}`, `arg not in {..}`.
    Test {
        arg: String,
        arg_span: Range<usize>,
        values: Vec<(Value, Range<usize>)>,
        negate: bool,
    },
    Not(Box<RawPred>),
    And(Box<RawPred>, Box<RawPred>),
    Or(Box<RawPred>, Box<RawPred>),
}

#[derive(Debug, Clone)]
pub(crate) struct RawArg {
    pub name: String,
    pub name_span: Range<usize>,
    pub expr: RawExpr,
    pub span: Range<usize>,
}

#[derive(Debug, Clone)]
pub(crate) enum RawExpr {
    Name(String, Range<usize>),
    Lit(Value, Range<usize>),
    Set(Vec<(Value, Range<usize>)>, Range<usize>),
    Int {
        lo: i64,
        hi: i64,
        step: i64,
        span: Range<usize>,
    },
    Float {
        lo: f64,
        hi: f64,
        log: bool,
        span: Range<usize>,
    },
    Repeat {
        item: Box<RawExpr>,
        min: i64,
        max: i64,
        span: Range<usize>,
    },
}

impl RawExpr {
    pub fn span(&self) -> Range<usize> {
        match self {
            RawExpr::Name(_, s) | RawExpr::Lit(_, s) | RawExpr::Set(_, s) => s.clone(),
            RawExpr::Int { span, .. }
            | RawExpr::Float { span, .. }
            | RawExpr::Repeat { span, .. } => span.clone(),
        }
    }
}

/// Words with a fixed meaning in the language; they cannot name rules.
pub const RESERVED: &[&str] = &[
    "shared", "int", "float", "logfloat", "repeat", "dag", "true", "false", "where",
];

pub(crate) struct Parser<'a> {
    file: &'a str,
    text: &'a str,
    toks: Vec<Token>,
    pos: usize,
    /// Parenthesis depth since the current rule began (guides error recovery).
    depth: i32,
    /// How many `repeat(..)` enclose the expression being read.
    nesting: usize,
    diags: DiagSink,
}

type PResult<T> = Result<T, ()>;

impl<'a> Parser<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Self {
        let (toks, lex_errs) = lex(text);
        let mut diags = DiagSink::default();
        for e in lex_errs {
            diags.push(|| Diagnostic::new(file, text, e.span, e.message));
        }
        Parser {
            file,
            text,
            toks,
            pos: 0,
            depth: 0,
            nesting: 0,
            diags,
        }
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }
    fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.pos + k).min(self.toks.len() - 1)].tok
    }
    fn span(&self) -> Range<usize> {
        self.toks[self.pos].span.clone()
    }
    fn prev_end(&self) -> usize {
        if self.pos == 0 {
            0
        } else {
            self.toks[self.pos - 1].span.end
        }
    }
    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        match t.tok {
            Tok::Punct('(') => self.depth += 1,
            Tok::Punct(')') => self.depth -= 1,
            _ => {}
        }
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn is_punct(&self, c: char) -> bool {
        *self.peek() == Tok::Punct(c)
    }
    fn eat(&mut self, c: char) -> bool {
        if self.is_punct(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn error<T>(&mut self, span: Range<usize>, msg: String) -> PResult<T> {
        let (file, text) = (self.file, self.text);
        self.diags.push(|| Diagnostic::new(file, text, span, msg));
        Err(())
    }

    fn expected<T>(&mut self, what: &str) -> PResult<T> {
        let found = self.peek().describe();
        self.error(self.span(), format!("expected {what}, found {found}"))
    }

    fn expect(&mut self, c: char, what: &str) -> PResult<Range<usize>> {
        if self.is_punct(c) {
            Ok(self.bump().span)
        } else {
            self.expected(what)
        }
    }

    fn ident(&mut self, what: &str) -> PResult<(String, Range<usize>)> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                let sp = self.bump().span;
                Ok((s, sp))
            }
            _ => self.expected(what),
        }
    }

    /// Whether token `idx` is the first on its line: what lies between it and the token
    /// before is a line break (comments run to the end of a line, so none can sit between a
    /// line's start and its first token). Looks only at that gap, so that recovering over a
    /// one-line file of a million tokens stays linear.
    fn starts_line(&self, idx: usize) -> bool {
        let start = self.toks[idx].span.start;
        let gap_start = if idx == 0 {
            0
        } else {
            self.toks[idx - 1].span.end.min(start)
        };
        let gap = &self.text[gap_start..start];
        gap.contains('\n') || (idx == 0 && gap.trim().is_empty())
    }

    /// Skips to a place where a new rule or directive plausibly begins: a line starting
    /// with '@', a line starting with a name once parentheses are balanced, or an
    /// unindented `name =` (which survives an unclosed parenthesis).
    fn recover(&mut self) {
        loop {
            let at_line_start = self.starts_line(self.pos);
            let col1 = {
                let start = self.toks[self.pos].span.start;
                start == 0 || self.text.as_bytes()[start - 1] == b'\n'
            };
            match self.peek() {
                Tok::Eof => return,
                Tok::Punct('@') if at_line_start => return,
                Tok::Ident(_) if at_line_start && self.depth <= 0 => return,
                Tok::Ident(w)
                    if col1
                        && (*self.peek_at(1) == Tok::Punct('=')
                            || (w == "shared" && *self.peek_at(2) == Tok::Punct('='))) =>
                {
                    return
                }
                _ => {
                    self.bump();
                }
            }
        }
    }

    pub fn file(mut self) -> (RawFile, Vec<Diagnostic>) {
        let mut out = RawFile {
            rules: Vec::new(),
            start: None,
            max_depth: None,
            unordered: Vec::new(),
        };
        while *self.peek() != Tok::Eof {
            self.depth = 0;
            self.nesting = 0;
            let r = if self.is_punct('@') {
                self.directive(&mut out)
            } else {
                self.rule().map(|r| out.rules.push(r))
            };
            if r.is_err() {
                self.recover();
            }
        }
        (out, self.diags.finish(self.file, self.text))
    }

    fn directive(&mut self, out: &mut RawFile) -> PResult<()> {
        self.bump();
        let (name, sp) = self.ident("a directive name ('start', 'max_depth' or 'unordered')")?;
        match name.as_str() {
            "start" => {
                let (rule, rsp) = self.ident("the name of the start rule")?;
                out.start = Some((rule, rsp));
            }
            "max_depth" => match self.peek().clone() {
                Tok::Int(n) => {
                    let nsp = self.bump().span;
                    out.max_depth = Some((n, nsp));
                }
                _ => return self.expected("a whole number after '@max_depth'"),
            },
            "unordered" => {
                let (op, osp) =
                    self.ident("the name of an operation whose arguments form a set")?;
                out.unordered.push((op, osp));
                while self.eat(',') {
                    let (op, osp) = self.ident("the name of an operation")?;
                    out.unordered.push((op, osp));
                }
            }
            other => {
                return self.error(
                    sp,
                    format!(
                    "unknown directive '@{other}'; expected '@start', '@max_depth' or '@unordered'"
                ),
                )
            }
        }
        Ok(())
    }

    fn rule(&mut self) -> PResult<RawRule> {
        let start = self.span().start;
        let mut shared = false;
        if matches!(self.peek(), Tok::Ident(w) if w == "shared")
            && matches!(self.peek_at(1), Tok::Ident(_))
        {
            self.bump();
            shared = true;
        }
        let (name, name_span) = self.ident("a rule name (as in 'cell = ...')")?;
        self.expect('=', "'=' after the rule name")?;
        self.eat('|');
        let mut alts = vec![self.alt()?];
        while self.eat('|') {
            alts.push(self.alt()?);
        }
        Ok(RawRule {
            name,
            name_span,
            shared,
            alts,
            span: start..self.prev_end(),
        })
    }

    fn alt(&mut self) -> PResult<RawAlt> {
        let start = self.span().start;
        let mut prob = None;
        if let Tok::Int(_) | Tok::Float(_) = self.peek() {
            let t = self.bump();
            let p = match t.tok {
                Tok::Int(i) => i as f64,
                Tok::Float(x) => x,
                _ => unreachable!("matched a number just above"),
            };
            prob = Some((p, t.span));
            self.expect(
                ':',
                "':' after the probability of an alternative (as in '0.5: conv')",
            )?;
        }
        let (name, name_span) = self.ident("an operation or rule name")?;
        if matches!(name.as_str(), "int" | "float" | "logfloat" | "repeat") {
            return self.error(
                name_span,
                format!(
                    "'{name}' cannot be an alternative; domains such as int(..) or {{..}} go in an argument, as in 'op(width = int(8, 64))'"
                ),
            );
        }
        let mut args = None;
        if self.eat('(') {
            let mut list = Vec::new();
            while !self.is_punct(')') {
                list.push(self.arg()?);
                if !self.eat(',') {
                    break;
                }
            }
            self.expect(')', "',' or ')' in the argument list")?;
            args = Some(list);
        }
        let mut cond = None;
        if matches!(self.peek(), Tok::Ident(w) if w == "where") {
            self.bump();
            let cstart = self.span().start;
            let p = self.pred_or()?;
            cond = Some((p, cstart..self.prev_end()));
        }
        Ok(RawAlt {
            prob,
            name,
            name_span,
            args,
            cond,
            span: start..self.prev_end(),
        })
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Ident(x) if x == w)
    }

    fn pred_or(&mut self) -> PResult<RawPred> {
        let mut p = self.pred_and()?;
        while self.is_word("or") {
            self.bump();
            p = RawPred::Or(Box::new(p), Box::new(self.pred_and()?));
        }
        Ok(p)
    }

    fn pred_and(&mut self) -> PResult<RawPred> {
        let mut p = self.pred_unary()?;
        while self.is_word("and") {
            self.bump();
            p = RawPred::And(Box::new(p), Box::new(self.pred_unary()?));
        }
        Ok(p)
    }

    fn pred_unary(&mut self) -> PResult<RawPred> {
        if self.is_word("not") && !matches!(self.peek_at(1), Tok::Punct('=' | '!')) {
            self.bump();
            return Ok(RawPred::Not(Box::new(self.pred_unary()?)));
        }
        if self.eat('(') {
            self.depth += 1;
            let p = self.pred_or()?;
            self.expect(')', "')' closing the parenthesized condition")?;
            self.depth -= 1;
            return Ok(p);
        }
        let at = self.pos;
        let (arg, arg_span) = self.ident(
            "a condition on an argument (as in 'n1 == skip', 'k != 7', 'act in {relu, gelu}')",
        )?;
        let mut negate = false;
        if self.is_punct('=') && *self.peek_at(1) != Tok::Punct('=') {
            // `name =` on a new line is the next rule: the condition stopped short.
            if self.starts_line(at) {
                let prev = self.toks[at.saturating_sub(1)].span.clone();
                return self.error(
                    prev,
                    format!(
                        "the condition ends here, but a test was expected after it (the next line starts rule '{arg}')"
                    ),
                );
            }
            return self.error(
                self.span(),
                format!("a test compares with '==', as in '{arg} == ...'; found a single '='"),
            );
        }
        let values = if self.is_punct('=') || self.is_punct('!') {
            negate = self.is_punct('!');
            self.bump();
            self.expect(
                '=',
                if negate {
                    "'=' after '!' (as in 'a != b')"
                } else {
                    "'=='"
                },
            )?;
            vec![self.value()?]
        } else {
            if self.is_word("not") {
                self.bump();
                negate = true;
            }
            if !self.is_word("in") {
                return self.expected("'==', '!=', 'in' or 'not in' after the argument name");
            }
            self.bump();
            self.expect('{', "'{' opening the set of values")?;
            let mut vals = Vec::new();
            while !self.is_punct('}') {
                vals.push(self.value()?);
                if !self.eat(',') {
                    break;
                }
            }
            self.expect('}', "',' or '}' in the set")?;
            vals
        };
        Ok(RawPred::Test {
            arg,
            arg_span,
            values,
            negate,
        })
    }

    fn arg(&mut self) -> PResult<RawArg> {
        let start = self.span().start;
        let (name, name_span) = self.ident("an argument name (as in 'kernel = {3, 5}')")?;
        self.expect('=', "'=' after the argument name")?;
        let expr = self.expr()?;
        Ok(RawArg {
            name,
            name_span,
            expr,
            span: start..self.prev_end(),
        })
    }

    fn number(&mut self, what: &str) -> PResult<(f64, bool)> {
        match *self.peek() {
            Tok::Int(i) => {
                self.bump();
                Ok((i as f64, true))
            }
            Tok::Float(x) => {
                self.bump();
                Ok((x, false))
            }
            _ => self.expected(what),
        }
    }

    fn int(&mut self, what: &str) -> PResult<i64> {
        match *self.peek() {
            Tok::Int(i) => {
                self.bump();
                Ok(i)
            }
            _ => self.expected(what),
        }
    }

    fn value(&mut self) -> PResult<(Value, Range<usize>)> {
        let t = self.peek().clone();
        let v = match t {
            Tok::Int(i) => Value::Int(i),
            Tok::Float(x) => Value::Float(x),
            Tok::Str(s) => Value::Str(Arc::from(s.as_str())),
            Tok::Ident(w) if w == "true" => Value::Bool(true),
            Tok::Ident(w) if w == "false" => Value::Bool(false),
            Tok::Ident(w) => Value::Str(Arc::from(w.as_str())),
            _ => return self.expected("a value (number, string, word, true or false)"),
        };
        Ok((v, self.bump().span))
    }

    fn expr(&mut self) -> PResult<RawExpr> {
        let start = self.span().start;
        match self.peek().clone() {
            Tok::Punct('{') => {
                self.bump();
                let mut vals = Vec::new();
                while !self.is_punct('}') {
                    vals.push(self.value()?);
                    if !self.eat(',') {
                        break;
                    }
                }
                self.expect('}', "',' or '}' in the set")?;
                Ok(RawExpr::Set(vals, start..self.prev_end()))
            }
            Tok::Ident(w) if matches!(w.as_str(), "int" | "float" | "logfloat" | "repeat") => {
                self.bump();
                self.expect('(', &format!("'(' after '{w}'"))?;
                let r = match w.as_str() {
                    "int" => {
                        let lo = self.int("the lower bound of int(lo, hi)")?;
                        self.expect(',', "',' between the bounds of int(lo, hi)")?;
                        let hi = self.int("the upper bound of int(lo, hi)")?;
                        let mut step = 1;
                        if self.eat(',') {
                            let (k, ksp) = self.ident("'step'")?;
                            if k != "step" {
                                return self.error(ksp, format!("expected 'step', found '{k}'"));
                            }
                            self.expect('=', "'=' after 'step'")?;
                            step = self.int("the step of int(lo, hi, step = s)")?;
                        }
                        self.expect(')', "')' closing int(...)")?;
                        RawExpr::Int {
                            lo,
                            hi,
                            step,
                            span: start..self.prev_end(),
                        }
                    }
                    "repeat" => {
                        if self.nesting >= MAX_NESTING {
                            return self.error(
                                start..self.prev_end(),
                                format!(
                                    "nesting deeper than {MAX_NESTING}: repeat(..) within {MAX_NESTING} enclosing repeat(..); expected at most {MAX_NESTING} levels"
                                ),
                            );
                        }
                        self.nesting += 1;
                        let item = self.expr();
                        self.nesting -= 1;
                        let item = item?;
                        self.expect(',', "',' and a count after the repeated item")?;
                        let min = self.int("a whole-number count")?;
                        let mut max = min;
                        if self.eat(',') {
                            max = self.int("the largest count of repeat(item, min, max)")?;
                        }
                        self.expect(')', "')' closing repeat(...)")?;
                        RawExpr::Repeat {
                            item: Box::new(item),
                            min,
                            max,
                            span: start..self.prev_end(),
                        }
                    }
                    _ => {
                        let (lo, _) = self.number(&format!("the lower bound of {w}(lo, hi)"))?;
                        self.expect(',', &format!("',' between the bounds of {w}(lo, hi)"))?;
                        let (hi, _) = self.number(&format!("the upper bound of {w}(lo, hi)"))?;
                        self.expect(')', &format!("')' closing {w}(...)"))?;
                        RawExpr::Float {
                            lo,
                            hi,
                            log: w == "logfloat",
                            span: start..self.prev_end(),
                        }
                    }
                };
                Ok(r)
            }
            Tok::Ident(w) if w != "true" && w != "false" => {
                let sp = self.bump().span;
                if self.is_punct('(') {
                    return self.error(
                        self.span(),
                        format!(
                            "an argument cannot be an operation call; define a rule for it (as in 'my_{w} = {w}(...)') and refer to the rule"
                        ),
                    );
                }
                Ok(RawExpr::Name(w, sp))
            }
            Tok::Int(_) | Tok::Float(_) | Tok::Str(_) | Tok::Ident(_) => {
                let (v, sp) = self.value()?;
                Ok(RawExpr::Lit(v, sp))
            }
            _ => self.expected(
                "an argument: a rule name, a value, a set {..}, int(..), float(..), logfloat(..) or repeat(..)",
            ),
        }
    }
}
