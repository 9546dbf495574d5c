//! Counting, enumeration and the distribution of samples.

mod common;
use hnas_space::{SampleMode, Space};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, HashSet};

fn space(text: &str) -> Space {
    Space::parse("t.hnas", text).unwrap_or_else(|d| panic!("{}", d.render()))
}

/// Chi-square statistic of `n` draws binned by rank against the uniform distribution.
fn chi_square(s: &Space, mode: SampleMode, per_bin: usize, seed: u64) -> (f64, usize) {
    let bins: usize = s.size().to_string().parse().unwrap();
    let n = bins * per_bin;
    let mut counts = vec![0usize; bins];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for _ in 0..n {
        let c = s.sample(&mut rng, mode);
        let r: usize = s.rank(&c).unwrap().to_string().parse().unwrap();
        counts[r] += 1;
    }
    let e = per_bin as f64;
    (
        counts.iter().map(|&o| (o as f64 - e).powi(2) / e).sum(),
        bins - 1,
    )
}

const MIXED: &str = "
net = net(a = x, b = repeat(y, 0, 2))
x = p(k = {1, 2, 3}) | q | r(z = y)
y = u | v(w = int(1, 2))
";

const RECURSIVE: &str = "
@max_depth 3
t = leaf(v = {0, 1}) | node(l = t, r = t)
";

#[test]
fn uniform_sampling_passes_chi_square_and_weighted_does_not() {
    for (text, size, limit) in [(MIXED, 91usize, 140.0), (RECURSIVE, 1446, 1650.0)] {
        let s = space(text);
        assert_eq!(s.size().to_string(), size.to_string());
        let (stat, df) = chi_square(&s, SampleMode::Uniform, 50, 1);
        // `limit` is about the 0.999 quantile of chi-square with `df` degrees of freedom.
        assert!(stat < limit, "uniform: chi2 = {stat:.1} with {df} df");
        // Per-decision uniform draws are far from uniform over architectures: the test can fail.
        let (stat, _) = chi_square(&s, SampleMode::Weighted, 50, 1);
        assert!(
            stat > 3.0 * limit,
            "weighted should not look uniform: chi2 = {stat:.1}"
        );
    }
}

#[test]
fn size_agrees_with_enumeration() {
    let cases = [
        (MIXED, 91u64),
        (RECURSIVE, 1446),
        (
            "c = dag(nodes = 4, inputs = 2, fan_in = 2, edge = o)\no = a | b | z",
            9 * 3 * 9, // node 2: one pair of inputs x 3^2 ops; node 3: 3 pairs x 3^2
        ),
        ("n = n(a = c, b = c)\nshared c = x | y(k = {1, 2})", 3),
        ("n = n(a = c, b = c)\nc = x | y(k = {1, 2})", 9),
        ("n = n(a = repeat(c, 2))\nshared c = x | y", 2),
        (
            "n = n(l = repeat(d, 0, 3), f = true)\nd = e(s = {\"a b\", \"c\"})",
            15,
        ),
    ];
    for (text, size) in cases {
        let s = space(text);
        assert_eq!(s.size().to_string(), size.to_string(), "{text}");
        let all: Vec<_> = s.enumerate().unwrap().collect();
        assert_eq!(all.len() as u64, size, "{text}");
        let distinct: HashSet<String> = all.iter().map(|c| s.print(c)).collect();
        assert_eq!(distinct.len() as u64, size, "{text}");
        for (i, c) in all.iter().enumerate() {
            assert!(s.is_member(c), "{text}: {:?}", s.validate(c));
            assert_eq!(s.rank(c).unwrap().to_string(), i.to_string());
        }
    }
}

#[test]
fn nb201_enumerates_all_15625_distinct_cells() {
    let s = common::example("nb201");
    let strings: HashSet<String> = s
        .enumerate()
        .unwrap()
        .map(|c| s.to_nb201(&c).unwrap())
        .collect();
    assert_eq!(strings.len(), 15625);
}

#[test]
fn written_probabilities_are_followed() {
    let s = space("r = 0.2: a | 0.5: b | 0.3: c(k = {1, 2, 3, 4})");
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut freq: HashMap<char, usize> = HashMap::new();
    let n = 20_000;
    for _ in 0..n {
        let line = s.print(&s.sample(&mut rng, SampleMode::Weighted));
        *freq.entry(line.chars().next().unwrap()).or_default() += 1;
    }
    for (op, p) in [('a', 0.2), ('b', 0.5), ('c', 0.3)] {
        let f = freq[&op] as f64 / n as f64;
        assert!((f - p).abs() < 0.015, "{op}: {f} vs {p}");
    }
    // Uniform mode weighs by size instead: c leads to 4 of the 6 architectures.
    let mut c = 0;
    for _ in 0..n {
        c += usize::from(
            s.print(&s.sample(&mut rng, SampleMode::Uniform))
                .starts_with('c'),
        );
    }
    assert!((c as f64 / n as f64 - 4.0 / 6.0).abs() < 0.015);
}

#[test]
fn depth_limit_bounds_every_sample() {
    let s = space("@max_depth 2\nt = 0.1: leaf | 0.9: node(l = t, r = t)");
    // Depth 0, 1, 2: at depth 2 only `leaf` fits. Nesting of parentheses = depth.
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut deepest = 0;
    for _ in 0..2000 {
        let line = s.print(&s.sample(&mut rng, SampleMode::Weighted));
        let mut d: i32 = 0;
        for ch in line.chars() {
            match ch {
                '(' => {
                    d += 1;
                    deepest = deepest.max(d);
                }
                ')' => d -= 1,
                _ => {}
            }
        }
    }
    assert_eq!(
        deepest, 2,
        "the 0.9 node probability must push samples to the bound and no further"
    );
    assert!(s
        .parse_candidate("node(l=node(l=node(l=leaf,r=leaf),r=leaf),r=leaf)")
        .is_err());
    assert!(s
        .parse_candidate("node(l=node(l=leaf,r=leaf),r=leaf)")
        .is_ok());
}

#[test]
fn shared_rules_are_decided_once() {
    let s = common::example("darts");
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let c = s.sample(&mut rng, SampleMode::Uniform);
    assert_eq!(c.shared.len(), 2);
    let line = s.print(&c);
    assert_eq!(line.matches("@normal").count(), 6);
    assert_eq!(line.matches("normal=dag(").count(), 1);
    // A missing binding is an error that names it.
    let root = line.split(';').next().unwrap();
    let err = s.parse_candidate(root).unwrap_err();
    assert!(
        err.message
            .contains("missing the binding of shared rule 'normal'"),
        "{err}"
    );
}

#[test]
fn continuous_spaces_sample_within_bounds_but_refuse_enumeration() {
    let s = common::example("mlp");
    assert!(s.is_continuous());
    assert!(s.enumerate().is_err());
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for _ in 0..500 {
        let c = s.sample(&mut rng, SampleMode::Uniform);
        let j = s.to_json(&c);
        let lr = j["root"]["args"]["lr"].as_f64().unwrap();
        assert!((1e-4..=0.1).contains(&lr));
    }
}

#[test]
fn isomorphic_cells_share_a_canonical_hash_but_not_a_fingerprint() {
    // Relabelling: in a fan-in cell, intermediate nodes 2 and 3 do not feed each other,
    // so swapping their numbers (and the edges into node 4 with them) is the same network.
    let s =
        space("cell = dag(nodes = 5, inputs = 2, fan_in = 2, edge = o)\no = a | b | c | d | e | f");
    let x = s
        .parse_candidate("dag(0>2:a,1>2:b,0>3:c,1>3:d,2>4:e,3>4:f)")
        .unwrap();
    let y = s
        .parse_candidate("dag(0>2:c,1>2:d,0>3:a,1>3:b,2>4:f,3>4:e)")
        .unwrap();
    assert_ne!(s.fingerprint(&x), s.fingerprint(&y));
    assert_eq!(s.canonical_hash(&x), s.canonical_hash(&y));
    let z = s
        .parse_candidate("dag(0>2:c,1>2:d,0>3:a,1>3:b,2>4:e,3>4:f)")
        .unwrap();
    assert_ne!(
        s.canonical_hash(&x),
        s.canonical_hash(&z),
        "a real change of wiring"
    );

    // Dead edges: node 1 feeds nothing that reaches the output (its only exits are `none`),
    // so its operation does not matter.
    let s = common::example("nb201");
    let c = s
        .from_nb201("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|skip_connect~2|")
        .unwrap();
    let d = s
        .from_nb201("|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|skip_connect~2|")
        .unwrap();
    assert_ne!(s.fingerprint(&c), s.fingerprint(&d));
    assert_eq!(s.canonical_hash(&c), s.canonical_hash(&d));
    // A different operation on a live edge is a different network.
    let e = s
        .from_nb201("|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|")
        .unwrap();
    assert_ne!(s.canonical_hash(&c), s.canonical_hash(&e));
}

#[test]
fn dag_operations_count_live_edges_that_compute() {
    let s = common::example("nb201");
    let ops = |cell: &str| s.dag_operations(&s.from_nb201(cell).unwrap());
    assert_eq!(ops("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), 0);
    // Identity edges pass their input through and compute nothing.
    assert_eq!(
        ops("|skip_connect~0|+|none~0|skip_connect~1|+|skip_connect~0|none~1|skip_connect~2|"),
        0
    );
    // One 3x3 convolution feeding node 2 through an identity, and one 1x1: two operations.
    let shared =
        "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|";
    assert_eq!(ops(shared), 2);
    // The same network by NAS-Bench-201's rule, with the 3x3 convolution computed twice.
    let twice =
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|";
    assert_eq!(ops(twice), 3);
    assert_eq!(
        s.canonical_key(&s.from_nb201(shared).unwrap()),
        s.canonical_key(&s.from_nb201(twice).unwrap())
    );
    // Node 1 receives only a zero edge: the convolutions leaving it are dead.
    assert_eq!(ops("|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"), 2);
    // Nodes 1 and 2 reach the output only through zero edges: their operations are dead.
    assert_eq!(
        ops("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|nor_conv_1x1~0|none~1|none~2|"),
        1
    );
    // With `output = concat` every non-input node is an output.
    let cell = "dag(0>1:conv,0>2:none,1>2:none,0>3:none,1>3:none,2>3:none)";
    for (output, expected) in [("last", 0), ("concat", 1)] {
        let text = format!(
            "cell = dag(nodes = 4, edge = op, zero = none, identity = skip, output = {output})\n\
             op = none | skip | conv\n"
        );
        let space = hnas_space::Space::parse("c.hnas", &text).unwrap();
        let c = space.parse_candidate(cell).unwrap();
        assert_eq!(space.dag_operations(&c), expected, "output = {output}");
    }
}

#[test]
fn dag_paths_list_input_to_output_paths_without_zero_edges() {
    let s = common::example("nb201");
    let none = s
        .from_nb201("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
        .unwrap();
    assert!(s.dag_paths(&none).is_empty());
    let one = s
        .from_nb201("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
        .unwrap();
    assert_eq!(s.dag_paths(&one), vec!["cell:nor_conv_3x3"]);
    // Four paths 0>3, 0>1>3, 0>2>3, 0>1>2>3; the two 2-edge paths share their text.
    let full = s.from_nb201("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|").unwrap();
    assert_eq!(
        s.dag_paths(&full),
        vec![
            "cell:nor_conv_3x3>avg_pool_3x3>nor_conv_3x3",
            "cell:nor_conv_3x3>nor_conv_1x1",
            "cell:nor_conv_3x3>nor_conv_3x3",
            "cell:skip_connect",
        ]
    );
}
