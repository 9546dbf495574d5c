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

    pub(crate) fn dag_canonical(&self, d: &DagSpec, edges: &[Edge]) -> String {
        // Each node gets a key: the hash of the sorted multiset of its incoming terms,
        // or None when it is identically zero.
        let mut keys: Vec<Option<u64>> = (0..d.nodes)
            .map(|i| (i < d.inputs).then(|| xxh3_64(format!("in{i}").as_bytes())))
            .collect();
        let mut op_text = String::new();
        for j in d.inputs..d.nodes {
            let mut terms: Vec<u64> = Vec::new();
            for e in edges.iter().filter(|e| e.to == j) {
                let Some(src) = keys[e.from as usize] else {
                    continue;
                };
                op_text.clear();
                self.print_ref(d.edge, &e.op, &mut op_text, true);
                if d.zero.as_deref() == Some(op_text.as_str()) {
                    continue;
                }
                if d.identity.as_deref() == Some(op_text.as_str()) {
                    terms.push(src);
                } else {
                    terms.push(xxh3_64(format!("{op_text}({src:016x})").as_bytes()));
                }
            }
            if !terms.is_empty() {
                terms.sort_unstable();
                let text: Vec<String> = terms.iter().map(|t| format!("{t:016x}")).collect();
                keys[j as usize] = Some(xxh3_64(text.join("+").as_bytes()));
            }
        }
        let show = |k: Option<u64>| k.map_or("zero".to_string(), |k| format!("{k:016x}"));
        match d.output {
            DagOutput::Last => format!("dag~{}", show(keys[d.nodes as usize - 1])),
            DagOutput::Concat => {
                let mut parts: Vec<String> = (d.inputs..d.nodes)
                    .map(|j| show(keys[j as usize]))
                    .collect();
                parts.sort();
                format!("dag~[{}]", parts.join(","))
            }
        }
    }
}
