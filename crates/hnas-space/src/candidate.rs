//! Candidates: derivation trees of a grammar.

use crate::grammar::Value;

/// One node of a derivation tree. A tree is read against the grammar: a `Choice` is the
/// expansion of whichever nonterminal stands at that place.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Node {
    /// A nonterminal expanded into its alternative `alt`. `kids` hold, for an operation,
    /// one node per argument in written order; for a reference alternative, the referenced
    /// rule's expansion; for a DAG alternative, one [`Node::Dag`].
    Choice { alt: u32, kids: Vec<Node> },
    /// A parameter decision or a literal.
    Value(Value),
    /// The items of a `repeat(..)`.
    List(Vec<Node>),
    /// The edges of a DAG cell, ordered by target then source.
    Dag(Vec<Edge>),
    /// A reference to a shared rule; its expansion is the candidate's binding for that rule.
    Shared,
}

/// One edge of a DAG cell.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Edge {
    pub from: u32,
    pub to: u32,
    /// The expansion of the DAG's edge rule.
    pub op: Node,
}

/// A member of a space: the derivation of the start rule plus one binding per shared rule
/// (in the order of [`crate::Grammar::shared`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Candidate {
    pub root: Node,
    pub shared: Vec<Node>,
}

impl Node {
    /// Children in tree order (for DAGs: the edge operations).
    pub fn children(&self) -> Vec<&Node> {
        match self {
            Node::Choice { kids, .. } | Node::List(kids) => kids.iter().collect(),
            Node::Dag(edges) => edges.iter().map(|e| &e.op).collect(),
            Node::Value(_) | Node::Shared => Vec::new(),
        }
    }

    pub(crate) fn child_mut(&mut self, i: usize) -> Option<&mut Node> {
        match self {
            Node::Choice { kids, .. } | Node::List(kids) => kids.get_mut(i),
            Node::Dag(edges) => edges.get_mut(i).map(|e| &mut e.op),
            Node::Value(_) | Node::Shared => None,
        }
    }

    pub(crate) fn child(&self, i: usize) -> Option<&Node> {
        match self {
            Node::Choice { kids, .. } | Node::List(kids) => kids.get(i),
            Node::Dag(edges) => edges.get(i).map(|e| &e.op),
            Node::Value(_) | Node::Shared => None,
        }
    }
}

/// Address of a node in a candidate: `part` 0 is the root, `k + 1` the k-th shared binding;
/// then child indices as in [`Node::children`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    pub part: usize,
    pub steps: Vec<u32>,
}

impl Candidate {
    /// The node at `path`.
    pub fn get(&self, path: &Path) -> Option<&Node> {
        let mut n = if path.part == 0 {
            &self.root
        } else {
            self.shared.get(path.part - 1)?
        };
        for &s in &path.steps {
            n = n.child(s as usize)?;
        }
        Some(n)
    }

    /// The node at `path`, mutably.
    pub fn get_mut(&mut self, path: &Path) -> Option<&mut Node> {
        let mut n = if path.part == 0 {
            &mut self.root
        } else {
            self.shared.get_mut(path.part - 1)?
        };
        for &s in &path.steps {
            n = n.child_mut(s as usize)?;
        }
        Some(n)
    }
}
