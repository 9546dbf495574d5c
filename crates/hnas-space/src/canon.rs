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
use crate::grammar::{DagOutput, DagSpec, RuleId};
use crate::space::Space;
use std::collections::HashMap;
use xxhash_rust::xxh3::xxh3_64;

/// The fingerprint of an already printed one-line form: `fingerprint(c)` is
/// `fingerprint_text(&print(c))`, without printing twice.
pub fn fingerprint_text(line: &str) -> String {
    hex16(xxh3_64(line.as_bytes()))
}

/// 16 lower-case hex digits (what `format!("{:016x}")` gives, without `core::fmt`).
fn hex16(h: u64) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(16);
    for i in (0..16).rev() {
        out.push(DIGITS[((h >> (4 * i)) & 0xf) as usize] as char);
    }
    out
}

impl Space {
    /// Hash of the exact one-line form, as 16 hex digits.
    pub fn fingerprint(&self, c: &Candidate) -> String {
        fingerprint_text(&self.print(c))
    }

    /// The canonical text of a candidate: its one-line form with every DAG cell replaced by
    /// an isomorphism-invariant key. Equal canonical texts mean the same network.
    pub fn canonical(&self, c: &Candidate) -> String {
        let mut out = String::with_capacity(128);
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
        hex16(self.canonical_key(c))
    }

    /// [`Space::canonical_hash`] as a number, for in-process sets of networks.
    pub fn canonical_key(&self, c: &Candidate) -> u64 {
        xxh3_64(self.canonical(c).as_bytes())
    }

    /// Every form of every network, grouped by [`Space::canonical_key`] (each group in
    /// enumeration order), for a finite space of at most `limit` candidates; `None` for a
    /// larger or continuous one. A network's neighbourhood is the union of its forms'
    /// neighbourhoods: which form a search happened to ask should not decide which networks
    /// lie one step away.
    pub fn forms(&self, limit: u64) -> Option<HashMap<u64, Vec<Candidate>>> {
        if self.is_continuous() || self.size() > limit.into() {
            return None;
        }
        let mut by_key: HashMap<u64, Vec<Candidate>> = HashMap::new();
        for c in self.enumerate().ok()? {
            by_key.entry(self.canonical_key(&c)).or_default().push(c);
        }
        Some(by_key)
    }

    /// One form of every distinct network (by [`Space::canonical_key`]), each the first of
    /// its forms in enumeration order, for a finite space of at most `limit` forms; `None`
    /// for a larger or continuous one. Its length is the number of distinct networks.
    pub fn networks(&self, limit: u64) -> Option<Vec<Candidate>> {
        if self.is_continuous() || self.size() > limit.into() {
            return None;
        }
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for c in self.enumerate().ok()? {
            if seen.insert(self.canonical_key(&c)) {
                out.push(c);
            }
        }
        Some(out)
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
    pub(crate) fn dag_canonical(&self, d: &DagSpec, edges: &[Edge], out: &mut String) {
        if d.output == DagOutput::Leaves && d.fan_in == Some(1) {
            return self.tree_canonical(d, edges, out);
        }
        const ZERO: &str = "#";
        let mut keys: Vec<String> = Vec::with_capacity(d.nodes as usize);
        for i in 0..d.nodes {
            let mut k = String::new();
            if i < d.inputs {
                k.push_str("in");
                crate::form::push_u32(&mut k, i);
            }
            keys.push(k);
        }
        let mut read = vec![false; d.nodes as usize];
        // Terms of one node are written one after another into `scratch`; `spans` marks them.
        let mut scratch = String::with_capacity(128);
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(8);
        for j in d.inputs..d.nodes {
            scratch.clear();
            spans.clear();
            for e in edges.iter().filter(|e| e.to == j) {
                let start = scratch.len();
                let src = &keys[e.from as usize];
                scratch.push('(');
                scratch.push_str(src);
                scratch.push_str(")@");
                let op_start = scratch.len();
                self.print_ref(d.edge, &e.op, &mut scratch, true);
                let op = &scratch[op_start..];
                let zero = d.zero.as_deref() == Some(op) || src == ZERO;
                read[e.from as usize] |= !zero;
                if zero {
                    scratch.truncate(start);
                    scratch.push_str(ZERO);
                } else if d.identity.as_deref() == Some(op) {
                    scratch.truncate(start);
                    scratch.push_str(src);
                }
                spans.push((start, scratch.len()));
            }
            spans.sort_unstable_by(|x, y| scratch[x.0..x.1].cmp(&scratch[y.0..y.1]));
            let mut key = String::with_capacity(scratch.len() + spans.len());
            for (n, &(x, y)) in spans.iter().enumerate() {
                if n > 0 {
                    key.push('+');
                }
                key.push_str(&scratch[x..y]);
            }
            keys[j as usize] = bounded(key);
        }
        out.push_str("dag~");
        match d.output {
            DagOutput::Last => out.push_str(&keys[d.nodes as usize - 1]),
            DagOutput::Concat | DagOutput::Leaves => {
                let mut parts: Vec<&str> = (d.inputs..d.nodes)
                    .filter(|&j| d.output == DagOutput::Concat || !read[j as usize])
                    .map(|j| keys[j as usize].as_str())
                    .collect();
                parts.sort_unstable();
                out.push('[');
                out.push_str(&parts.join(","));
                out.push(']');
            }
        }
    }
}

impl Space {
    /// The canonical key of a cell whose nodes each read one earlier node (`fan_in = 1`)
    /// and whose unread nodes feed the output: a tree rooted at the inputs. Identity nodes
    /// contract into the node they read; a zero edge removes its node and everything that
    /// reads it. The key is the labelled tree, children as a sorted set, each node marked
    /// `!` when it feeds the output (it is unread, or an unread chain of identities reads
    /// it). Two cells have the same key exactly when these labelled trees are isomorphic;
    /// unlike the expression rule, a layer read by two others is not the same network as
    /// two copies of it, since each copy has its own weights.
    fn tree_canonical(&self, d: &DagSpec, edges: &[Edge], out: &mut String) {
        let n = d.nodes as usize;
        // rep[j]: the node j's value is computed by (itself, or what an identity passes on).
        let mut rep: Vec<Option<usize>> = (0..n)
            .map(|i| (i < d.inputs as usize).then_some(i))
            .collect();
        let mut label: Vec<String> = vec![String::new(); n];
        let mut parent: Vec<Option<usize>> = vec![None; n];
        let mut read = vec![false; n];
        for e in edges {
            let (i, j) = (e.from as usize, e.to as usize);
            let Some(src) = rep[i] else { continue };
            let mut op = String::new();
            self.print_ref(d.edge, &e.op, &mut op, true);
            if d.zero.as_deref() == Some(op.as_str()) {
                continue;
            }
            read[i] = true;
            if d.identity.as_deref() == Some(op.as_str()) {
                rep[j] = Some(src);
            } else {
                rep[j] = Some(j);
                parent[j] = Some(src);
                label[j] = op;
            }
        }
        let mut feeds = vec![false; n];
        for j in d.inputs as usize..n {
            if let (Some(r), false) = (rep[j], read[j]) {
                feeds[r] = true;
            }
        }
        // Children come after their parents, so one backward pass builds every text.
        let mut kids: Vec<Vec<String>> = vec![Vec::new(); n];
        let mut text: Vec<String> = vec![String::new(); n];
        for j in (0..n).rev() {
            if rep[j] != Some(j) {
                continue;
            }
            let mut t = if j < d.inputs as usize {
                let mut t = String::from("in");
                crate::form::push_u32(&mut t, j as u32);
                t
            } else {
                std::mem::take(&mut label[j])
            };
            let mut ks = std::mem::take(&mut kids[j]);
            ks.sort_unstable();
            if !ks.is_empty() {
                t.push('{');
                t.push_str(&ks.join(","));
                t.push('}');
            }
            if feeds[j] {
                t.push('!');
            }
            match parent[j] {
                Some(p) => kids[p].push(bounded(t)),
                None => text[j] = t,
            }
        }
        out.push_str("tree~");
        for (i, t) in text.iter().take(d.inputs as usize).enumerate() {
            if i > 0 {
                out.push('|');
            }
            out.push_str(t);
        }
    }
}

/// Node texts nest their sources, so they can grow quickly in large cells; past a bound a
/// text is replaced by its hash (equal texts still give equal keys).
fn bounded(text: String) -> String {
    const LIMIT: usize = 512;
    if text.len() > LIMIT {
        format!("h{}", hex16(xxh3_64(text.as_bytes())))
    } else {
        text
    }
}

impl Space {
    /// Every input-to-output path of every DAG cell in a candidate, written as the sequence of
    /// its edge operations (`cell:op>op>op`), leaving out paths through a `zero` edge. Paths
    /// that differ only in which intermediate nodes they pass share their text: this is the
    /// path encoding of BANANAS (White et al., 2021), a feature set for surrogate models. The
    /// output is the last node, or every non-input node for `output = concat`.
    pub fn dag_paths(&self, c: &Candidate) -> Vec<String> {
        let mut out = Vec::new();
        for (r, d, edges, ops) in self.dag_cells(c) {
            let outputs: Vec<u32> = match d.output {
                DagOutput::Last => vec![d.nodes - 1],
                DagOutput::Concat => (d.inputs..d.nodes).collect(),
                DagOutput::Leaves => unread_nodes(d, edges, &ops),
            };
            // Depth-first from every input, along edges in order of their target.
            let mut stack: Vec<(u32, String)> = (0..d.inputs)
                .map(|i| (i, format!("{}:", self.g.rules[r].name)))
                .collect();
            while let Some((node, text)) = stack.pop() {
                if outputs.contains(&node) && !text.ends_with(':') {
                    out.push(text.clone());
                }
                for (e, op) in edges.iter().zip(&ops) {
                    if e.from == node && d.zero.as_deref() != Some(op.as_str()) {
                        let sep = if text.ends_with(':') { "" } else { ">" };
                        stack.push((e.to, format!("{text}{sep}{op}")));
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// Weisfeiler-Lehman subtree features of every DAG cell of a candidate, `rounds`
    /// relabellings deep: each cell becomes a graph whose nodes are its nodes (labelled
    /// `in`, `out` or `node`) and one node per non-zero edge (labelled by its operation), and
    /// at every round each node's label is replaced by a hash of itself with the sorted
    /// labels of its predecessors and of its successors. A feature is a label with its
    /// occurrence number (`cell:1:label#2` is the second node with that label after one
    /// round), so that a set of features keeps the counts. Relabelling a cell's nodes cannot
    /// change them; the features of the WL kernel of NASBOWL (Ru et al., ICLR 2021).
    pub fn dag_wl(&self, c: &Candidate, rounds: usize) -> Vec<String> {
        let mut out = Vec::new();
        for (r, d, edges, ops) in self.dag_cells(c) {
            let n = d.nodes as usize;
            let outputs: Vec<u32> = match d.output {
                DagOutput::Last => vec![d.nodes - 1],
                DagOutput::Concat => (d.inputs..d.nodes).collect(),
                DagOutput::Leaves => unread_nodes(d, edges, &ops),
            };
            let mut labels: Vec<String> = (0..n)
                .map(|i| {
                    if i < d.inputs as usize {
                        "in".to_string()
                    } else if outputs.contains(&(i as u32)) {
                        "out".to_string()
                    } else {
                        "node".to_string()
                    }
                })
                .collect();
            let mut ins: Vec<Vec<usize>> = vec![Vec::new(); n];
            let mut outs: Vec<Vec<usize>> = vec![Vec::new(); n];
            for (e, op) in edges.iter().zip(&ops) {
                if d.zero.as_deref() == Some(op.as_str()) {
                    continue;
                }
                let k = labels.len();
                labels.push(op.clone());
                ins.push(vec![e.from as usize]);
                outs.push(vec![e.to as usize]);
                outs[e.from as usize].push(k);
                ins[e.to as usize].push(k);
            }
            let name = &self.g.rules[r].name;
            for round in 0..=rounds {
                let mut seen: HashMap<&str, usize> = HashMap::new();
                for l in &labels {
                    let k = seen.entry(l.as_str()).or_default();
                    *k += 1;
                    out.push(format!("{name}:{round}:{l}#{k}"));
                }
                if round == rounds {
                    break;
                }
                let next: Vec<String> = (0..labels.len())
                    .map(|v| {
                        let mut a: Vec<&str> = ins[v].iter().map(|&u| labels[u].as_str()).collect();
                        let mut b: Vec<&str> =
                            outs[v].iter().map(|&u| labels[u].as_str()).collect();
                        a.sort_unstable();
                        b.sort_unstable();
                        let t = format!("{}({})({})", labels[v], a.join(","), b.join(","));
                        hex16(xxh3_64(t.as_bytes()))
                    })
                    .collect();
                labels = next;
            }
        }
        out.sort();
        out
    }

    /// Every DAG cell of a candidate: its rule, its spec, its edges and each edge's
    /// operation as text.
    fn dag_cells<'a>(
        &'a self,
        c: &'a Candidate,
    ) -> Vec<(RuleId, &'a DagSpec, &'a [Edge], Vec<String>)> {
        let mut cells = Vec::new();
        for (r, path) in self.rule_nodes(c) {
            let Some(crate::Node::Choice { alt, kids }) = c.get(&path) else {
                continue;
            };
            let Some(crate::grammar::AltKind::Dag(d)) =
                self.g.rules[r].alts.get(*alt as usize).map(|a| &a.kind)
            else {
                continue;
            };
            let Some(crate::Node::Dag(edges)) = kids.first() else {
                continue;
            };
            let ops: Vec<String> = edges
                .iter()
                .map(|e| {
                    let mut t = String::new();
                    self.print_ref(d.edge, &e.op, &mut t, false);
                    t
                })
                .collect();
            cells.push((r, d, &edges[..], ops));
        }
        cells
    }

    /// How many operations the DAG cells of a candidate compute: edges that are neither the
    /// `zero` nor the `identity` operation and lie on a path from an input to an output
    /// through non-zero edges. Isomorphic cells can differ here: NAS-Bench-201's rule makes
    /// a cell that feeds one convolution's output to two nodes the same network as one that
    /// computes the convolution twice, with its own weights each time.
    pub fn dag_operations(&self, c: &Candidate) -> usize {
        let mut count = 0;
        for (_, d, edges, ops) in self.dag_cells(c) {
            let n = d.nodes as usize;
            let live = |i: usize| d.zero.as_deref() != Some(ops[i].as_str());
            let mut from_input: Vec<bool> = (0..n).map(|i| i < d.inputs as usize).collect();
            // Edges are ordered by target and run from lower to higher nodes, so one pass
            // forward (and one backward) settles every node.
            for i in 0..edges.len() {
                if live(i) && from_input[edges[i].from as usize] {
                    from_input[edges[i].to as usize] = true;
                }
            }
            let mut to_output: Vec<bool> = match d.output {
                DagOutput::Last => (0..n).map(|i| i == n - 1).collect(),
                DagOutput::Concat => (0..n).map(|i| i >= d.inputs as usize).collect(),
                DagOutput::Leaves => {
                    let leaves = unread_nodes(d, edges, &ops);
                    (0..n).map(|i| leaves.contains(&(i as u32))).collect()
                }
            };
            for i in (0..edges.len()).rev() {
                if live(i) && to_output[edges[i].to as usize] {
                    to_output[edges[i].from as usize] = true;
                }
            }
            count += (0..edges.len())
                .filter(|&i| {
                    live(i)
                        && d.identity.as_deref() != Some(ops[i].as_str())
                        && from_input[edges[i].from as usize]
                        && to_output[edges[i].to as usize]
                })
                .count();
        }
        count
    }
}

/// The non-input nodes of a cell that no non-zero edge reads (`output = leaves`).
pub(crate) fn unread_nodes(d: &DagSpec, edges: &[Edge], ops: &[String]) -> Vec<u32> {
    (d.inputs..d.nodes)
        .filter(|&j| {
            !edges
                .iter()
                .zip(ops)
                .any(|(e, op)| e.from == j && d.zero.as_deref() != Some(op.as_str()))
        })
        .collect()
}
