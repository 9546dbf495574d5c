//! `hnas space ...`

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use hnas_space::{BigUint, Candidate, SampleMode, Space};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum SpaceCmd {
    /// Parse and check a space file; report every problem with file:line:col.
    Check { file: PathBuf },
    /// Print the exact number of architectures in a space.
    Count {
        file: PathBuf,
        /// Print the number of distinct networks instead (forms with one canonical hash
        /// count once); enumerates the space, at most 10,000,000 forms.
        #[arg(long)]
        networks: bool,
    },
    /// Draw candidates, one per line (one-line form, or JSON with --json).
    Sample(SampleArgs),
    /// Print every candidate of a finite space, one per line, in rank order.
    Enumerate {
        file: PathBuf,
        /// Stop after this many candidates.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Apply one random mutation to a candidate.
    Mutate {
        file: PathBuf,
        /// A candidate: one-line form, JSON, or a NAS-Bench-201 cell string.
        candidate: String,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Number of independent mutants to print.
        #[arg(short, long, default_value_t = 1)]
        n: usize,
        #[arg(long)]
        json: bool,
    },
    /// Print every candidate one mutation away from a candidate.
    Neighbours {
        file: PathBuf,
        candidate: String,
        #[arg(long)]
        json: bool,
    },
    /// Cross over two candidates (swap a subtree rooted at the same nonterminal).
    Crossover {
        file: PathBuf,
        a: String,
        b: String,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        json: bool,
    },
    /// Show a candidate in every form: one-line, JSON, hashes, rank (and NAS-Bench-201 string).
    Show { file: PathBuf, candidate: String },
}

#[derive(Args)]
pub struct SampleArgs {
    file: PathBuf,
    /// Number of candidates.
    #[arg(short, long, default_value_t = 1)]
    n: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Uniform over all architectures (the default).
    #[arg(long, conflicts_with = "weighted")]
    uniform: bool,
    /// By the probabilities written on alternatives (a probabilistic grammar).
    #[arg(long)]
    weighted: bool,
    /// One JSON object per line instead of the one-line form.
    #[arg(long)]
    json: bool,
}

pub fn load(file: &Path) -> Result<Space> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read space file {}", file.display()))?;
    Space::parse(&file.display().to_string(), &text).map_err(|d| {
        let n = d.items.len();
        anyhow!(
            "{} problem{} in {}:\n{}",
            n,
            if n == 1 { "" } else { "s" },
            file.display(),
            d.render()
        )
    })
}

/// Reads a candidate given as one-line form, JSON (`{...}`) or a NAS-Bench-201 string (`|...|`).
pub fn read_candidate(space: &Space, text: &str) -> Result<Candidate> {
    let t = text.trim();
    if t.starts_with('{') {
        let j: serde_json::Value =
            serde_json::from_str(t).context("the candidate is not valid JSON")?;
        space.from_json(&j).map_err(|e| match e {
            hnas_space::Error::NotMember(m) => {
                anyhow!("the JSON candidate is not in the space: {m}")
            }
            e => e.into(),
        })
    } else if t.starts_with('|') {
        Ok(space.from_nb201(t)?)
    } else {
        space
            .parse_candidate(t)
            .map_err(|d| anyhow!("the candidate is not in the space:\n{}", d.render(t)))
    }
}

fn emit(out: &mut impl Write, space: &Space, c: &Candidate, json: bool) -> Result<()> {
    if json {
        writeln!(out, "{}", space.to_json(c))?;
    } else {
        writeln!(out, "{}", space.print(c))?;
    }
    Ok(())
}

pub fn run(cmd: SpaceCmd) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match cmd {
        SpaceCmd::Check { file } => {
            let space = load(&file)?;
            let g = space.grammar();
            writeln!(
                out,
                "ok: {} rules, start '{}', {} architectures{}",
                g.rules.len(),
                g.rules[g.start].name,
                space.size(),
                if space.is_continuous() {
                    " (times continuous parameters)"
                } else {
                    ""
                }
            )?;
        }
        SpaceCmd::Count { file, networks } => {
            let space = load(&file)?;
            if networks {
                const LIMIT: u64 = 10_000_000;
                let Some(n) = space.networks(LIMIT) else {
                    anyhow::bail!(
                        "counting networks enumerates the space, which must be finite and have at most {LIMIT} forms; this one has {}",
                        if space.is_continuous() { "continuous parameters".to_string() } else { space.size().to_string() }
                    );
                };
                writeln!(out, "{}", n.len())?;
                eprintln!("{} networks in {} forms", n.len(), space.size());
            } else if space.is_continuous() {
                writeln!(out, "infinite")?;
                eprintln!(
                    "the space has continuous parameters; its discrete structure has {} members",
                    space.size()
                );
            } else {
                writeln!(out, "{}", space.size())?;
            }
        }
        SpaceCmd::Sample(a) => {
            let space = load(&a.file)?;
            let mode = if a.weighted {
                SampleMode::Weighted
            } else {
                SampleMode::Uniform
            };
            let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
            for _ in 0..a.n {
                emit(&mut out, &space, &space.sample(&mut rng, mode), a.json)?;
            }
        }
        SpaceCmd::Enumerate { file, limit } => {
            let space = load(&file)?;
            let it = space.enumerate()?;
            for c in it.take(limit.map_or(usize::MAX, |l| l as usize)) {
                writeln!(out, "{}", space.print(&c))?;
            }
        }
        SpaceCmd::Mutate {
            file,
            candidate,
            seed,
            n,
            json,
        } => {
            let space = load(&file)?;
            let c = read_candidate(&space, &candidate)?;
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            for _ in 0..n {
                emit(&mut out, &space, &space.mutate(&c, &mut rng), json)?;
            }
        }
        SpaceCmd::Neighbours {
            file,
            candidate,
            json,
        } => {
            let space = load(&file)?;
            let c = read_candidate(&space, &candidate)?;
            let ns = space.neighbours(&c);
            for nb in &ns {
                emit(&mut out, &space, nb, json)?;
            }
            eprintln!("{} neighbours", ns.len());
        }
        SpaceCmd::Crossover {
            file,
            a,
            b,
            seed,
            json,
        } => {
            let space = load(&file)?;
            let ca = read_candidate(&space, &a)?;
            let cb = read_candidate(&space, &b)?;
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            match space.crossover(&ca, &cb, &mut rng) {
                Some(child) => emit(&mut out, &space, &child, json)?,
                None => bail!(
                    "the two candidates share no differing subtree rooted at the same nonterminal"
                ),
            }
        }
        SpaceCmd::Show { file, candidate } => {
            let space = load(&file)?;
            let c = read_candidate(&space, &candidate)?;
            writeln!(out, "string:         {}", space.print(&c))?;
            writeln!(out, "json:           {}", space.to_json(&c))?;
            writeln!(out, "fingerprint:    {}", space.fingerprint(&c))?;
            writeln!(out, "canonical:      {}", space.canonical(&c))?;
            writeln!(out, "canonical hash: {}", space.canonical_hash(&c))?;
            if let Ok(r) = space.rank(&c) {
                let r: BigUint = r;
                writeln!(out, "rank:           {r}")?;
            }
            if let Ok(s) = space.to_nb201(&c) {
                writeln!(out, "nb201:          {s}")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
