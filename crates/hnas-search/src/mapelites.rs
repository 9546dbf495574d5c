//! MAP-Elites (Mouret & Clune, 2015): one elite per cell of a behaviour grid.

use crate::{Ask, Error, Outcome, Strategy};
use hnas_space::{Candidate, Space};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Where a behaviour descriptor's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A metric the evaluator returns (e.g. `latency_ms_pi5_onnx`).
    Metric(String),
    /// How many times an operation name appears in the candidate (`count.nor_conv_3x3`).
    Count(String),
    /// The number of operations in the candidate (`size`).
    Size,
}

/// One axis of the behaviour grid: `SOURCE:lo:hi:bins`.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    pub source: Source,
    pub lo: f64,
    pub hi: f64,
    pub bins: u32,
}

impl Descriptor {
    /// Parses `latency_ms_pi5_onnx:0:10:10`, `count.nor_conv_3x3:0:6:7` or `size:1:40:8`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::BadParam {
            param: "descriptor".into(),
            value: text.into(),
            why: why.into(),
        };
        let parts: Vec<&str> = text.split(':').collect();
        let [name, lo, hi, bins] = parts.as_slice() else {
            return Err(bad(
                "expected SOURCE:lo:hi:bins, as in latency_ms_pi5_onnx:0:10:10",
            ));
        };
        let lo: f64 = lo.parse().map_err(|_| bad("lo is not a number"))?;
        let hi: f64 = hi.parse().map_err(|_| bad("hi is not a number"))?;
        let bins: u32 = bins
            .parse()
            .ok()
            .filter(|b| *b > 0)
            .ok_or_else(|| bad("bins must be a positive whole number"))?;
        if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
            return Err(bad("expected lo < hi"));
        }
        let source = match name.split_once('.') {
            Some(("count", op)) => Source::Count(op.to_string()),
            _ if *name == "size" => Source::Size,
            _ => Source::Metric(name.to_string()),
        };
        Ok(Descriptor {
            source,
            lo,
            hi,
            bins,
        })
    }

    /// The descriptor's raw value for a candidate (printed as `line`) with its metrics.
    pub fn value(&self, line: &str, metrics: &BTreeMap<String, f64>) -> Option<f64> {
        match &self.source {
            Source::Metric(m) => metrics.get(m).copied(),
            Source::Count(op) => Some(words(line).filter(|w| w == op).count() as f64),
            Source::Size => Some(
                words(line)
                    .filter(|w| !w.chars().next().is_some_and(|c| c.is_ascii_digit()))
                    .count() as f64,
            ),
        }
    }

    /// The bin of a value (values outside [lo, hi] fall into the end bins).
    pub fn bin(&self, v: f64) -> u32 {
        let t = (v - self.lo) / (self.hi - self.lo);
        ((t * self.bins as f64).floor().max(0.0) as u32).min(self.bins - 1)
    }
}

/// Words that name operations in a one-line form: identifiers not followed by '='.
fn words(line: &str) -> impl Iterator<Item = &str> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' {
            let s = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
            {
                i += 1;
            }
            if bytes.get(i) != Some(&b'=') {
                out.push(&line[s..i]);
            }
        } else {
            i += 1;
        }
    }
    out.into_iter()
}

/// The archive: the best candidate (by score) of every grid cell reached.
#[derive(Debug, Clone, Default)]
pub struct Archive {
    pub descriptors: Vec<Descriptor>,
    /// cell -> (score, candidate line, trial)
    pub elites: BTreeMap<Vec<u32>, (f64, String, u64)>,
}

impl Archive {
    pub fn new(descriptors: Vec<Descriptor>) -> Self {
        Archive {
            descriptors,
            elites: BTreeMap::new(),
        }
    }

    /// The cell of a candidate, if every descriptor has a value.
    pub fn cell(&self, line: &str, metrics: &BTreeMap<String, f64>) -> Option<Vec<u32>> {
        self.descriptors
            .iter()
            .map(|d| d.value(line, metrics).map(|v| d.bin(v)))
            .collect()
    }

    /// Offers a scored candidate; returns whether it became its cell's elite.
    pub fn offer(
        &mut self,
        line: &str,
        metrics: &BTreeMap<String, f64>,
        score: f64,
        trial: u64,
    ) -> bool {
        let Some(cell) = self.cell(line, metrics) else {
            return false;
        };
        match self.elites.get(&cell) {
            Some((s, _, _)) if *s >= score => false,
            _ => {
                self.elites.insert(cell, (score, line.to_string(), trial));
                true
            }
        }
    }

    /// Filled cells over all cells.
    pub fn coverage(&self) -> f64 {
        let total: f64 = self.descriptors.iter().map(|d| d.bins as f64).product();
        self.elites.len() as f64 / total
    }

    /// Sum over filled cells of (elite score - `offset`): the quality-diversity score.
    pub fn qd_score(&self, offset: f64) -> f64 {
        self.elites.values().map(|(s, _, _)| s - offset).sum()
    }
}

/// MAP-Elites over a grid of behaviour descriptors.
///
/// The first `init` trials are uniform samples; after that each trial mutates the elite of a
/// uniformly chosen filled cell. A told candidate enters the archive when its cell is empty
/// or it beats the cell's elite. Failed trials and candidates without a descriptor value are
/// not archived.
pub struct MapElites {
    space: Arc<Space>,
    init: usize,
    archive: Archive,
    candidates: HashMap<String, Candidate>,
    asked: usize,
}

impl MapElites {
    pub fn new(space: Arc<Space>, descriptors: Vec<Descriptor>, init: usize) -> Self {
        MapElites {
            space,
            init,
            archive: Archive::new(descriptors),
            candidates: HashMap::new(),
            asked: 0,
        }
    }

    pub fn archive(&self) -> &Archive {
        &self.archive
    }
}

impl Strategy for MapElites {
    fn name(&self) -> &'static str {
        "mapelites"
    }

    fn ask(&mut self, _trial: u64, rng: &mut ChaCha8Rng, _pending: usize) -> Option<Ask> {
        self.asked += 1;
        if self.asked <= self.init || self.archive.elites.is_empty() {
            return Some(Ask::new(self.space.sample(rng, self.space.search_mode())));
        }
        let i = rng.random_range(0..self.archive.elites.len());
        let (_, (_, line, _)) = self.archive.elites.iter().nth(i)?;
        let parent = self.candidates.get(line)?;
        Some(Ask::new(self.space.mutate(parent, rng)))
    }

    fn tell(&mut self, o: &Outcome<'_>) {
        let Some(score) = o.score else { return };
        let line = self.space.print(o.candidate);
        if self.archive.offer(&line, o.metrics, score, o.trial) {
            self.candidates.insert(line, o.candidate.clone());
        }
    }
}
