//! What the fuzz targets share: the whole-pipeline check of one space text, and a
//! grammar-aware generator that writes space texts, including the large and deep shapes
//! that random mutation of small files never reaches (long alias chains, deeply nested
//! `repeat`, huge sets, thousands of alternatives, extreme integer bounds, big DAGs).

use arbitrary::{Result, Unstructured};
use hnas_space::{SampleMode, Space};
use rand::SeedableRng;

/// Parse → check → count → sample → print/read back → mutate → cross over → hash →
/// decisions → rank/unrank. A rejected text must say why, at a place in the text.
pub fn check_pipeline(text: &str, seed: u64) {
    let space = match Space::parse("fuzz.hnas", text) {
        Err(d) => {
            assert!(!d.items.is_empty());
            for item in &d.items {
                assert!(item.line >= 1 && item.col >= 1);
            }
            let _ = d.render();
            return;
        }
        Ok(space) => space,
    };
    let size = space.size();
    assert!(size > 0u8.into(), "an accepted space counts 0:\n{text}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for mode in [SampleMode::Uniform, SampleMode::Weighted] {
        let c = space.sample(&mut rng, mode);
        assert!(space.is_member(&c), "{:?}", space.validate(&c));
        let line = space.print(&c);
        assert_eq!(space.parse_candidate(&line).expect("printed form reads back"), c);
        assert_eq!(space.from_json(&space.to_json(&c)).expect("JSON reads back"), c);
        let m = space.mutate(&c, &mut rng);
        assert!(space.is_member(&m));
        if let Some(x) = space.crossover(&c, &m, &mut rng) {
            assert!(space.is_member(&x));
        }
        let _ = space.canonical_hash(&c);
        assert_eq!(space.fingerprint(&c), space.fingerprint(&c.clone()));
        let ds = space.decisions(&c);
        let mut replay = ds.iter().map(|d| d.choice);
        let again = space.derive(&mut |_| replay.next().unwrap_or(0));
        assert!(space.is_member(&again));
        if !space.is_continuous() {
            let r = space.rank(&c).expect("a member has a rank");
            assert!(r < size);
            assert_eq!(space.unrank(&r).expect("its rank unranks"), c);
        }
    }
}

fn word(u: &mut Unstructured, prefix: &str) -> Result<String> {
    Ok(format!("{prefix}{}", u.int_in_range(0..=5u8)?))
}

fn int_bound(u: &mut Unstructured) -> Result<i64> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => i64::MIN + u.int_in_range(0..=3)?,
        1 => i64::MAX - u.int_in_range(0..=3)?,
        _ => u.int_in_range(-20..=20)?,
    })
}

/// An argument expression over rules `r0..rN` (N = `rules`).
fn expr(u: &mut Unstructured, rules: usize, depth: u32) -> Result<String> {
    Ok(match u.int_in_range(0..=6u8)? {
        0 if rules > 0 => format!("r{}", u.int_in_range(0..=rules - 1)?),
        1 => {
            let n = u.int_in_range(1..=4)?;
            let vals: Vec<String> = (0..n).map(|i| format!("{}", i * 3 + 1)).collect();
            format!("{{{}}}", vals.join(", "))
        }
        2 => {
            let (a, b) = (int_bound(u)?, int_bound(u)?);
            let step = u.int_in_range(1..=3)?;
            format!("int({}, {}, step = {step})", a.min(b), a.max(b))
        }
        3 if depth < 3 => {
            let lo = u.int_in_range(0..=2)?;
            let hi = lo + u.int_in_range(0..=2)?;
            format!("repeat({}, {lo}, {hi})", expr(u, rules, depth + 1)?)
        }
        4 => "float(0.5, 2.0)".to_string(),
        5 => format!("{}", u.int_in_range(-3..=3)?),
        _ => word(u, "v")?,
    })
}

/// A small grammar of random rules, possibly recursive with a depth bound.
fn small_grammar(u: &mut Unstructured) -> Result<String> {
    let n = u.int_in_range(1..=6usize)?;
    let mut out = String::new();
    if u.arbitrary()? {
        out.push_str(&format!("@max_depth {}\n", u.int_in_range(0..=8)?));
    }
    for i in 0..n {
        let shared = i > 0 && u.ratio(1, 6)?;
        let nalts = u.int_in_range(1..=4usize)?;
        let mut alts = Vec::new();
        for k in 0..nalts {
            let alt = match u.int_in_range(0..=4u8)? {
                0 if i + 1 < n => format!("r{}", u.int_in_range(i + 1..=n - 1)?),
                1 => format!(
                    "dag(nodes = {}, edge = r{})",
                    u.int_in_range(2..=5)?,
                    u.int_in_range(0..=n - 1)?
                ),
                2 => format!("op{k}"),
                _ => {
                    let nargs = u.int_in_range(1..=3usize)?;
                    let args: Vec<String> = (0..nargs)
                        .map(|j| Ok(format!("a{j} = {}", expr(u, n, 0)?)))
                        .collect::<Result<_>>()?;
                    format!("op{k}({})", args.join(", "))
                }
            };
            alts.push(alt);
        }
        let head = if shared { "shared " } else { "" };
        out.push_str(&format!("{head}r{i} = {}\n", alts.join(" | ")));
    }
    Ok(out)
}

/// Writes one space text: a small random grammar, or one of the large or deep shapes.
pub fn generate(u: &mut Unstructured) -> Result<String> {
    // Mostly around the nesting limit, sometimes huge (each huge input takes milliseconds).
    let big = |u: &mut Unstructured| -> Result<usize> {
        Ok(match u.int_in_range(0..=15u8)? {
            0..=14 => u.int_in_range(1..=300)?,
            _ => u.int_in_range(1..=40_000)?,
        })
    };
    Ok(match u.int_in_range(0..=15u8)? {
        0 => {
            let n = big(u)?;
            let mut s: String = (0..n).map(|i| format!("r{i} = r{}\n", i + 1)).collect();
            s.push_str(&format!("r{n} = a | b\n"));
            s
        }
        1 => {
            let n = big(u)?;
            format!("net = seq(l = {}x{})", "repeat(".repeat(n), ", 1, 2)".repeat(n))
        }
        2 => {
            let n = big(u)?;
            let vals: Vec<String> = (0..n).map(|i| i.to_string()).collect();
            format!("net = conv(k = {{{}}})", vals.join(", "))
        }
        3 => {
            let n = big(u)?;
            let alts: Vec<String> = (0..n).map(|i| format!("op{i}")).collect();
            format!("net = {}", alts.join(" | "))
        }
        4 => {
            let (a, b) = (int_bound(u)?, int_bound(u)?);
            let step: i64 = match u.int_in_range(0..=2u8)? {
                0 => 1,
                1 => i64::MAX,
                _ => u.int_in_range(1..=1_000_000_000_000_000_000)?,
            };
            format!("net = lin(s = int({}, {}, step = {step}))", a.min(b), a.max(b))
        }
        5 => {
            let nodes = u.int_in_range(2..=1000)?;
            let fan = if u.arbitrary()? { ", fan_in = 1".to_string() } else { String::new() };
            format!("cell = dag(nodes = {nodes}, edge = op{fan})\nop = a | b")
        }
        6 => {
            // Recursion with a chain of operations in it.
            let n = big(u)?.min(2_000);
            let d = u.int_in_range(0..=256)?;
            let mut s = format!("@max_depth {d}\nnet = n(l = net) | r0\n");
            s.extend((0..n).map(|i| format!("r{i} = w(x = r{})\n", i + 1)));
            s.push_str(&format!("r{n} = a | b\n"));
            s
        }
        _ => small_grammar(u)?,
    })
}
