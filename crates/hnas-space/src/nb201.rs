//! The NAS-Bench-201 cell string `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.
//!
//! Works for any space whose start rule derives a 4-node DAG cell with one input, every
//! edge present, and edge operations without arguments (as in `examples/spaces/nb201.hnas`).

use crate::candidate::{Candidate, Node};
use crate::grammar::AltKind;
use crate::space::Space;
use crate::Error;

impl Space {
    /// The NAS-Bench-201 string of a candidate.
    pub fn to_nb201(&self, c: &Candidate) -> Result<String, Error> {
        let (d, edges) = self.nb201_cell(c)?;
        let mut s = String::new();
        for j in 1..4u32 {
            s.push('|');
            for e in edges.iter().filter(|e| e.to == j) {
                let mut op = String::new();
                self.print_ref(d.edge, &e.op, &mut op, false);
                s.push_str(&format!("{op}~{}|", e.from));
            }
            if j < 3 {
                s.push('+');
            }
        }
        Ok(s)
    }

    /// Reads a NAS-Bench-201 string as a candidate of this space.
    pub fn from_nb201(&self, s: &str) -> Result<Candidate, Error> {
        let bad = |why: &str| Error::Nb201(format!("'{s}': {why}"));
        let nodes: Vec<&str> = s.split('+').collect();
        if nodes.len() != 3 {
            return Err(bad("expected 3 '+'-separated node groups"));
        }
        let mut edges = Vec::new();
        for (k, group) in nodes.iter().enumerate() {
            let j = k + 1;
            let inner = group
                .strip_prefix('|')
                .and_then(|g| g.strip_suffix('|'))
                .ok_or_else(|| bad("each node group must be written |op~i|...|"))?;
            let parts: Vec<&str> = inner.split('|').collect();
            if parts.len() != j {
                return Err(bad(&format!("node {j} must have {j} inputs")));
            }
            for p in parts {
                let (op, from) = p.split_once('~').ok_or_else(|| bad("expected op~i"))?;
                let from: usize = from
                    .parse()
                    .map_err(|_| bad("expected a node number after '~'"))?;
                edges.push(format!("{from}>{j}:{op}"));
            }
        }
        let text = format!("dag({})", edges.join(","));
        self.parse_candidate(&text).map_err(|d| bad(&d.message))
    }

    fn nb201_cell<'a>(
        &'a self,
        c: &'a Candidate,
    ) -> Result<(&'a crate::grammar::DagSpec, &'a [crate::candidate::Edge]), Error> {
        let start = &self.g.rules[self.g.start];
        if let Node::Choice { alt, kids } = &c.root {
            if let (Some(a), Some(Node::Dag(edges))) = (start.alts.get(*alt as usize), kids.first())
            {
                if let AltKind::Dag(d) = &a.kind {
                    if d.nodes == 4 && d.inputs == 1 && d.fan_in.is_none() {
                        return Ok((d, edges));
                    }
                }
            }
        }
        Err(Error::Nb201(
            "the start rule of this space is not a 4-node NAS-Bench-201 cell".into(),
        ))
    }
}
