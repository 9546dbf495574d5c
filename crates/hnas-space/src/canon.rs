//! Canonical form and stable hashes.
//!
//! Two hashes exist because two questions are asked:
//! - [`Space::fingerprint`]: is this exactly the same derivation? (the hash of the one-line form)
//! - [`Space::canonical_hash`]: is this the same network? DAG cells are reduced to an
//!   expression of their output, so that relabelled intermediate nodes and edges that cannot
//!   reach the output do not matter; with `zero = op` and `identity = op` in the `dag(..)`,
//!   zero edges disappear and identity edges pass their input through.
//!
//! Both use XXH3-64 over UTF-8 text: stable across platforms, versions and runs.

use crate::candidate::{Candidate, Edge};
use crate::grammar::{DagOutput, DagSpec};
use crate::space::Space;
use xxhash_rust::xxh3::xxh3_64;

impl Space {
    /// Hash of the exact one-line form, as 16 hex digits.
    pub fn fingerprint(&self, c: &Candidate) -> String {
        format!("{:016x}", xxh3_64(self.print(c).as_bytes()))
    }

    /// The canonical text of a candidate: its one-line form with every DAG cell replaced by
    /// an isomorphism-invariant key. Equal canonical texts mean the same network.
    pub fn canonical(&self, c: &Candidate) -> String {
        let mut out = String::new();
        self.print_rule(self.g.start, &c.root, &mut out, true);
        self.print_bindings(c, &mut out, true);
        out
    }

    /// Hash of [`Space::canonical`], as 16 hex digits: the key for finding duplicates.
    ///
    /// ```
    /// use hnas_space::Space;
    /// let s = Space::parse("c.hnas", "cell = dag(nodes = 3, edge = op)\nop = conv | pool").unwrap();
    /// // Node 1 is fed by node 0 only; relabelling cannot change this small cell, but the
    /// // output expression is order-free: conv(x)+pool(y) = pool(y)+conv(x).
    /// let a = s.parse_candidate("dag(0>1:conv,0>2:conv,1>2:pool)").unwrap();
    /// assert_eq!(s.canonical_hash(&a), s.canonical_hash(&a.clone()));
    /// ```
    pub fn canonical_hash(&self, c: &Candidate) -> String {
        format!("{:016x}", xxh3_64(self.canonical(c).as_bytes()))
    }

    /// The isomorphism-invariant key of a DAG cell, by NAS-Bench-201's rule
    /// (`to_unique_str` with zeros considered): every node is written as the sorted sum of
    /// its incoming terms; a zero edge, or any edge from a node that is itself a lone zero,
    /// is the term `#`; an identity edge passes its source's text through; another edge is
    /// `(source)@op`. Intermediate node numbers never appear, so relabelling cannot change
    /// the key, and edges that do not reach the output are never read.
    ///
    /// Zero terms stay in their sums on purpose: cells that differ only by zero edges run
    /// different operations. On NAS-Bench-201 this rule gives 6,466 classes and every class
    /// has one measured latency in the hardware table, whereas dropping zero terms (5,390
    /// classes) merges cells whose measured latencies differ.
    pub(crate) fn dag_canonical(&self, d: &DagSpec, edges: &[Edge]) -> String {
        const ZERO: &str = "#";
        let mut keys: Vec<String> = (0..d.nodes)
            .map(|i| {
                if i < d.inputs {
                    format!("in{i}")
                } else {
                    String::new()
                }
            })
            .collect();
        let mut op_text = String::new();
        for j in d.inputs..d.nodes {
            let mut terms: Vec<String> = Vec::new();
            for e in edges.iter().filter(|e| e.to == j) {
                let src = &keys[e.from as usize];
                op_text.clear();
                self.print_ref(d.edge, &e.op, &mut op_text, true);
                if d.zero.as_deref() == Some(op_text.as_str()) || src == ZERO {
                    terms.push(ZERO.to_string());
                } else if d.identity.as_deref() == Some(op_text.as_str()) {
                    terms.push(src.clone());
                } else {
                    terms.push(format!("({src})@{op_text}"));
                }
            }
            terms.sort_unstable();
            keys[j as usize] = bounded(terms.join("+"));
        }
        match d.output {
            DagOutput::Last => format!("dag~{}", keys[d.nodes as usize - 1]),
            DagOutput::Concat => {
                let mut parts: Vec<&str> = (d.inputs..d.nodes)
                    .map(|j| keys[j as usize].as_str())
                    .collect();
                parts.sort_unstable();
                format!("dag~[{}]", parts.join(","))
            }
        }
    }
}

/// Node texts nest their sources, so they can grow quickly in large cells; past a bound a
/// text is replaced by its hash (equal texts still give equal keys).
fn bounded(text: String) -> String {
    const LIMIT: usize = 512;
    if text.len() > LIMIT {
        format!("h{:016x}", xxh3_64(text.as_bytes()))
    } else {
        text
    }
}
