//! Space files a generator can write in one line, large or deep rather than random: each
//! gets a count or a clear file:line:col error, never a stack overflow, a hang or a wrong
//! number. The inputs are generated here rather than committed (some are megabytes).

use hnas_space::{BigUint, Diagnostics, SampleMode, Space, Value, MAX_NESTING};
use rand::SeedableRng;

fn rng() -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(0)
}

fn refused(text: &str) -> Diagnostics {
    Space::parse("gen.hnas", text).expect_err("the space should be refused")
}

/// `r0 = r1`, `r1 = r2`, ..., `rN = a | b`.
fn alias_chain(n: usize) -> String {
    let mut s: String = (0..n).map(|i| format!("r{i} = r{}\n", i + 1)).collect();
    s.push_str(&format!("r{n} = a | b\n"));
    s
}

/// `rI = wI(x = rI+1)` for I < n, then `rN = a | b`: derivations nest n + 1 levels.
fn op_chain(n: usize) -> String {
    let mut s: String = (0..n)
        .map(|i| format!("r{i} = w{i}(x = r{})\n", i + 1))
        .collect();
    s.push_str(&format!("r{n} = a | b\n"));
    s
}

#[test]
fn a_long_alias_chain_is_refused_for_its_nesting_not_by_a_stack_overflow() {
    for n in [8_000, 30_000] {
        let d = refused(&alias_chain(n));
        assert_eq!(d.items.len(), 1, "{d}");
        let e = &d.items[0];
        assert_eq!((e.line, e.col), (1, 1));
        assert!(
            e.message.starts_with(&format!(
                "nesting deeper than {MAX_NESTING}: a derivation of 'r0' nests {} levels",
                n + 1
            )),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("(r0 -> r1 -> r2 -> r3 -> .."),
            "{}",
            e.message
        );
    }
}

#[test]
fn repeat_nested_a_hundred_thousand_deep_is_refused_where_it_crosses_the_limit() {
    let n = 100_000;
    let text = format!(
        "net = seq(l = {}x{})",
        "repeat(".repeat(n),
        ", 1, 2)".repeat(n)
    );
    let d = refused(&text);
    let e = &d.items[0];
    // The repeat(..) that would be the limit's first one past: after "net = seq(l = " and
    // MAX_NESTING times "repeat(".
    assert_eq!((e.line, e.col), (1, 15 + 7 * MAX_NESTING), "{d}");
    assert!(
        e.message
            .starts_with(&format!("nesting deeper than {MAX_NESTING}")),
        "{d}"
    );
}

#[test]
fn a_space_at_the_nesting_limit_works_everywhere_on_a_small_stack() {
    // op_chain(n) nests n + 1 levels: the last accepted and the first refused.
    let ok = op_chain(MAX_NESTING - 1);
    let d = refused(&op_chain(MAX_NESTING));
    assert!(
        d.items[0]
            .message
            .contains(&format!("nests {} levels", MAX_NESTING + 1)),
        "{d}"
    );
    // Every operation that walks a candidate, on a thread with the 2 MiB stack that test
    // threads and rayon workers get.
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let space = Space::parse("deep.hnas", &ok).unwrap();
            assert_eq!(space.size(), BigUint::from(2u32));
            let mut rng = rng();
            let c = space.sample(&mut rng, SampleMode::Uniform);
            let line = space.print(&c);
            assert_eq!(space.parse_candidate(&line).unwrap(), c);
            let j = space.json_string(&c);
            let back =
                space.from_json(&serde_json::from_str(&j).unwrap_or_else(|_| space.to_json(&c)));
            assert_eq!(back.unwrap(), c);
            let m = space.mutate(&c, &mut rng);
            assert!(space.is_member(&m) && m != c);
            assert_eq!(space.unrank(&space.rank(&c).unwrap()).unwrap(), c);
            assert!(space
                .crossover(&c, &m, &mut rng)
                .is_some_and(|x| space.is_member(&x)));
            assert_eq!(space.neighbours(&c), vec![m.clone()]);
            assert_ne!(space.canonical_hash(&c), space.canonical_hash(&m));
            assert!(!space.decisions(&c).is_empty());
            assert_eq!(space.enumerate().unwrap().count(), 2);
        })
        .unwrap()
        .join()
        .expect("no stack overflow at the nesting limit");
}

#[test]
fn a_candidate_text_nested_deeper_than_any_member_is_refused() {
    let space = Space::parse("s.hnas", "net = mlp(w = {1, 2})").unwrap();
    for text in ["[".repeat(100_000), "f(a=".repeat(100_000)] {
        let e = space.parse_candidate(&text).unwrap_err();
        assert!(
            e.message
                .starts_with(&format!("nesting deeper than {MAX_NESTING}")),
            "{e}"
        );
        assert_eq!(e.line, 1);
    }
    let mut deep = serde_json::json!(1);
    for _ in 0..500 {
        deep = serde_json::json!([deep]);
    }
    let e = space
        .from_json(&serde_json::json!({ "root": deep }))
        .unwrap_err();
    assert!(
        matches!(&e, hnas_space::Error::NotMember(m) if m.starts_with("nesting deeper than")),
        "{e}"
    );
}

#[test]
fn a_set_of_two_hundred_thousand_values_counts_samples_and_reads_back() {
    let vals: Vec<String> = (0..200_000).map(|i| i.to_string()).collect();
    let space = Space::parse(
        "big.hnas",
        &format!("net = conv(k = {{{}}})", vals.join(", ")),
    )
    .unwrap();
    assert_eq!(space.size(), BigUint::from(200_000u32));
    let mut rng = rng();
    let c = space.sample(&mut rng, SampleMode::Uniform);
    assert_eq!(space.parse_candidate(&space.print(&c)).unwrap(), c);
    assert!(space.is_member(&space.mutate(&c, &mut rng)));
    // A repeated value is still found, at its place.
    let d = refused(&format!("net = conv(k = {{{}, 7}})", vals.join(", ")));
    assert!(d.items[0].message.contains("value 7 appears twice"), "{d}");
}

#[test]
fn forty_thousand_alternatives_count_at_once() {
    let alts: Vec<String> = (0..40_000).map(|i| format!("op{i}")).collect();
    let space = Space::parse("wide.hnas", &format!("net = {}", alts.join(" | "))).unwrap();
    assert_eq!(space.size(), BigUint::from(40_000u32));
    // A repeated alternative among them is still named.
    let d = refused(&format!("net = {} | op17", alts.join(" | ")));
    assert!(d.items[0].message.contains("repeats an earlier one"), "{d}");
}

#[test]
fn int_domains_are_exact_over_the_whole_i64_range() {
    let space = Space::parse(
        "s.hnas",
        "net = lin(s = int(-9000000000000000000, 9000000000000000000, step = 1000000000000000000))",
    )
    .unwrap();
    assert_eq!(space.size(), BigUint::from(19u32));
    let values: Vec<String> = space
        .enumerate()
        .unwrap()
        .map(|c| space.print(&c))
        .collect();
    assert_eq!(values.first().unwrap(), "lin(s=-9000000000000000000)");
    assert_eq!(values.last().unwrap(), "lin(s=9000000000000000000)");
    assert_eq!(values.len(), 19);

    let space = Space::parse(
        "s.hnas",
        "net = lin(width = int(-9223372036854775808, 9223372036854775807))",
    )
    .unwrap();
    assert_eq!(space.size(), BigUint::from(1u8) << 64);
    let last = space.unrank(&((BigUint::from(1u8) << 64) - 1u8)).unwrap();
    assert_eq!(space.print(&last), "lin(width=9223372036854775807)");
    assert_eq!(space.rank(&last).unwrap(), (BigUint::from(1u8) << 64) - 1u8);
    let first = space
        .parse_candidate("lin(width=-9223372036854775808)")
        .unwrap();
    assert_eq!(space.rank(&first).unwrap(), BigUint::from(0u8));
    let mut rng = rng();
    for _ in 0..50 {
        let c = space.sample(&mut rng, SampleMode::Uniform);
        assert_eq!(space.parse_candidate(&space.print(&c)).unwrap(), c);
        let m = space.mutate(&c, &mut rng);
        assert!(space.is_member(&m) && m != c);
        // Strategies decide a huge domain in bins; replaying the decisions gives it back.
        let ds = space.decisions(&c);
        assert!(ds.iter().all(|d| d.arity <= hnas_space::VALUE_BINS));
    }
    let dom = &space.grammar().rules[0].alts[0].kind;
    let hnas_space::AltKind::Op { args, .. } = dom else {
        panic!()
    };
    let hnas_space::Expr::Domain(d) = &args[0].expr else {
        panic!()
    };
    assert_eq!(d.len(), Some(1u128 << 64));
    assert_eq!(d.value_at(1u128 << 64), None);
    assert_eq!(d.index_of(&Value::Int(i64::MAX)), Some((1u128 << 64) - 1));
}

#[test]
fn a_dag_too_large_gets_the_dag_error_only() {
    let d = refused("cell = dag(nodes = 1000, edge = op)\nop = a | b");
    assert_eq!(d.items.len(), 1, "{d}");
    assert!(
        d.items[0]
            .message
            .contains("expected 1 <= inputs < nodes <= 64"),
        "{d}"
    );
    // The rule that uses the broken cell is not reported as never finishing either.
    let d = refused("net = seq(c = cell)\ncell = dag(nodes = 1000, edge = op)\nop = a | b");
    assert_eq!(d.items.len(), 1, "{d}");
}

#[test]
fn thousands_of_mistakes_list_the_first_hundred_and_count_the_rest() {
    let text: String = (0..30_000).map(|i| format!("r{i} = = x\n")).collect();
    let d = refused(&text);
    assert_eq!(d.items.len(), hnas_space::MAX_DIAGNOSTICS + 1);
    assert_eq!(d.items[0].line, 1);
    let last = d.items.last().unwrap();
    assert!(
        last.message
            .starts_with("29900 more problems are not listed"),
        "{}",
        last.message
    );
    // Checker errors are capped the same way.
    let text: String = "net = a\n".repeat(30_000);
    let d = refused(&text);
    assert_eq!(d.items.len(), hnas_space::MAX_DIAGNOSTICS + 1);
}

#[test]
fn a_rule_that_reaches_itself_through_bare_names_is_ambiguous() {
    // a -> b -> a -> x and a -> x both print as "x".
    let d = refused("@max_depth 4\nnet = f(v = a)\na = b | x\nb = a | y");
    assert!(d.to_string().contains("both written 'x..'"), "{d}");
}

#[test]
fn alias_chains_inside_recursive_spaces_stay_fast_and_exact() {
    // A recursive space whose leaf is reached through 2,000 aliases: the depth bound cuts
    // every derivation through them, which is said as such.
    let mut text = String::from("@max_depth 6\nnet = n(l = net) | r0\n");
    text.push_str(&alias_chain(2_000));
    let d = refused(&text);
    assert!(
        d.items[0]
            .message
            .contains("no architecture of 'net' fits within @max_depth 6"),
        "{d}"
    );
}

#[test]
fn every_shipped_space_is_within_the_limits() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut n = 0;
    for dir in ["examples/spaces", "crates/hnas-train/spaces"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "hnas") {
                Space::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
    }
    assert!(n >= 8, "found only {n} spaces");
}

/// Found by CI's fuzz run: a list at the depth bound whose item has no derivation in the
/// depth left was offered as a place to grow, and growing it drew from an empty table
/// (an arithmetic overflow in a debug build).
#[test]
fn a_list_at_the_depth_bound_is_not_grown() {
    let text = "@max_depth 3\nr0 = op0(a0 = repeat(r0, 0, 1)) | op1(a0 = r0) | op2(a0 = r0) | op3(a0 = r0)\n";
    let space = Space::parse("deep.hnas", text).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    for _ in 0..300 {
        let c = space.sample(&mut rng, SampleMode::Uniform);
        for _ in 0..20 {
            let m = space.mutate(&c, &mut rng);
            assert!(space.is_member(&m), "{:?}", space.validate(&m));
        }
        for n in space.neighbours(&c) {
            assert!(space.is_member(&n));
        }
    }
}
