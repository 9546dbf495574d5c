//! Bad input gets a clear error naming file:line:col and what was expected.

use hnas_space::Space;

/// Parses `text`, expects failure, and returns the diagnostics as `line:col: message` lines.
fn errors(text: &str) -> Vec<String> {
    let d = Space::parse("bad.hnas", text).expect_err("the space should be rejected");
    for item in &d.items {
        assert_eq!(item.file, "bad.hnas");
    }
    d.items
        .iter()
        .map(|i| {
            format!(
                "{}:{}: {}{}",
                i.line,
                i.col,
                i.message,
                i.help
                    .as_deref()
                    .map(|h| format!(" [{h}]"))
                    .unwrap_or_default()
            )
        })
        .collect()
}

fn has(errs: &[String], at: &str, text: &str) {
    assert!(
        errs.iter().any(|e| e.starts_with(at) && e.contains(text)),
        "expected an error at {at} containing {text:?}, got:\n{}",
        errs.join("\n")
    );
}

#[test]
fn unknown_nonterminal_names_the_place_and_suggests() {
    let e = errors("net = net(cell = cel)\ncell = x");
    has(&e, "1:18:", "unknown nonterminal 'cel'");
    has(&e, "1:18:", "did you mean 'cell'?");
}

#[test]
fn unused_rules_are_errors() {
    let e = errors("a = x(k = b)\nb = y\nc = z");
    has(&e, "3:1:", "rule 'c' is never used");
}

#[test]
fn recursion_needs_a_depth_limit_and_a_way_out() {
    has(
        &errors("a = n(l = a) | leaf"),
        "1:1:",
        "needs a depth limit"
            .replace("needs a depth limit", "sets no depth limit")
            .as_str(),
    );
    has(
        &errors("@max_depth 3\na = n(l = a)"),
        "2:1:",
        "rule 'a' can never finish",
    );
    has(
        &errors("@max_depth 0\na = n(l = b)\nb = x"),
        "2:1:",
        "fits within @max_depth 0",
    );
}

#[test]
fn empty_domains_are_rejected() {
    let e = errors("a = n(s = {}, i = int(5, 1), f = float(2, 1), g = logfloat(0, 1), r = repeat(x, 2, 1), t = int(1, 9, step = 0))\nx = y");
    has(&e, "1:11:", "empty set");
    has(&e, "1:19:", "empty range int(5, 1)");
    has(&e, "1:34:", "empty range float(2, 1)");
    has(&e, "1:51:", "needs positive bounds");
    has(&e, "1:71:", "bad repetition count 2..1");
    has(&e, "1:92:", "step 0 is not positive");
    assert_eq!(e.len(), 6, "every problem at once: {e:?}");
}

#[test]
fn probabilities_must_be_complete_in_range_and_sum_to_one() {
    has(&errors("a = 0.5: x | y"), "1:14:", "but not this one");
    has(
        &errors("a = 0.5: x | 0.4: y"),
        "1:1:",
        "sum to 0.9; expected them to sum to 1",
    );
    has(
        &errors("a = 1.5: x | -0.5: y"),
        "1:5:",
        "probability 1.5 is out of range",
    );
}

#[test]
fn dag_arguments_are_checked() {
    has(
        &errors("c = dag(edge = o)\no = x"),
        "1:5:",
        "dag needs 'nodes = N'",
    );
    has(
        &errors("c = dag(nodes = 4, inputs = 2, fan_in = 3, edge = o)\no = x"),
        "1:5:",
        "fan_in = 3",
    );
    has(
        &errors("c = dag(nodes = 4, edge = o, colour = red)\no = x"),
        "1:30:",
        "unknown dag argument 'colour'",
    );
    has(
        &errors("c = dag(nodes = 4, edge = o, zero = nothing)\no = x | y"),
        "1:5:",
        "'nothing' is not an argument-free operation of rule 'o'; expected one of: x, y",
    );
}

#[test]
fn names_must_be_unique_and_not_reserved() {
    has(&errors("a = x\na = y"), "2:1:", "rule 'a' is defined twice");
    has(&errors("int = x"), "1:1:", "'int' is a reserved word");
    has(
        &errors("a = f(k = 1, k = 2)"),
        "1:14:",
        "argument 'k' is given twice",
    );
    has(
        &errors("a = f(k = {1, 2}) | f(k = {3})"),
        "1:21:",
        "both written 'f..'",
    );
}

#[test]
fn shared_rules_cannot_start_or_recurse() {
    has(
        &errors("shared a = x"),
        "1:1:",
        "the start rule 'a' cannot be shared",
    );
    has(
        &errors("@max_depth 4\nn = n(c = c)\nshared c = w(i = c) | leaf"),
        "3:8:",
        "shared rule 'c' contains itself",
    );
}

#[test]
fn syntax_errors_are_reported_several_at_once() {
    let e = errors("a = f(k = )\nb x\nc = g(s = \"open\nd = h $");
    has(&e, "1:11:", "expected an argument");
    has(&e, "2:3:", "expected '=' after the rule name");
    has(&e, "3:11:", "unterminated string");
    has(&e, "4:7:", "unexpected character '$'");
}

#[test]
fn arguments_cannot_be_calls_and_alternatives_cannot_be_domains() {
    has(
        &errors("a = f(k = g(x = 1))"),
        "1:12:",
        "cannot be an operation call",
    );
    has(
        &errors("a = int(1, 2)"),
        "1:5:",
        "'int' cannot be an alternative",
    );
}

#[test]
fn rendering_shows_the_line_and_a_caret() {
    let d = Space::parse("bad.hnas", "net = net(cell = cel)\ncell = x").unwrap_err();
    let r = d.render();
    assert!(
        r.starts_with("bad.hnas:1:18: unknown nonterminal 'cel'"),
        "{r}"
    );
    assert!(
        r.contains("1 | net = net(cell = cel)\n  |                  ^^^\n"),
        "{r}"
    );
}

#[test]
fn bad_candidates_point_into_the_candidate_string() {
    let s = Space::parse("s.hnas", "net = mlp(width = {64, 128}, layers = repeat(l, 1, 2))\nl = dense | drop(p = float(0, 0.5))").unwrap();
    let err = |t: &str| s.parse_candidate(t).unwrap_err().to_string();
    assert_eq!(
        err("mlp(width=96,layers=[dense])"),
        "<candidate>:1:11: value 96 is outside its domain; expected one of {64, 128}"
    );
    assert_eq!(
        err("mlp(width=64,layers=[])"),
        "<candidate>:1:21: expected 1 to 2 items, found 0"
    );
    assert_eq!(
        err("mlp(width=64,layers=[conv])"),
        "<candidate>:1:22: expected one of dense, drop(..) for 'l', found 'conv'"
    );
    assert_eq!(
        err("mlp(width=64,layers=[drop(p=0.9)])"),
        "<candidate>:1:29: value 0.9 is outside its domain; expected a number in [0, 0.5]"
    );
    assert_eq!(
        err("mlp(width=64)"),
        "<candidate>:1:1: 'mlp' is missing argument 'layers'"
    );
    assert_eq!(
        err("mlp(width=64,layers=[dense],x=1)"),
        "<candidate>:1:31: 'mlp' has no argument 'x'; expected one of: width, layers"
    );
    assert_eq!(
        err("mlp(width=64,layers=[dense]) extra"),
        "<candidate>:1:30: expected ';' or the end of the candidate, found 'extra'"
    );
    let e = s
        .from_json(&serde_json::json!({"root": {"op": "mlp"}}))
        .unwrap_err();
    assert!(
        matches!(&e, hnas_space::Error::NotMember(m) if m.contains("missing argument 'width'")),
        "{e}"
    );
}

#[test]
fn a_fuzz_found_ambiguity_stays_rejected() {
    let text = include_str!("fuzz_found/ambiguous_alternatives.hnas");
    let d = Space::parse("crash.hnas", text).unwrap_err();
    assert!(d.to_string().contains("are both written 'mbconv..'"), "{d}");
}

#[test]
fn a_space_too_large_to_count_is_refused_quickly() {
    // Found by fuzzing: binary recursion 51 levels deep squares the count 51 times.
    let text = include_str!("fuzz_found/deep_recursion.hnas");
    let started = std::time::Instant::now();
    let d = Space::parse("deep.hnas", text).unwrap_err();
    assert!(d.to_string().contains("too large to count"), "{d}");
    assert!(
        started.elapsed().as_secs() < 20,
        "refused without computing the huge count"
    );
    // The same grammar at a modest depth is fine.
    let ok = text.replace("@max_depth 51", "@max_depth 5");
    assert!(Space::parse("deep.hnas", &ok).is_ok());
}

#[test]
fn a_fuzz_found_shared_rule_that_fits_nowhere_is_refused() {
    let text = include_str!("fuzz_found/shared_out_of_depth.hnas");
    let d = Space::parse("crash.hnas", text).unwrap_err();
    assert_eq!((d.items[0].line, d.items[0].col), (3, 8), "{d}");
    assert!(
        d.items[0]
            .message
            .starts_with("no expansion of shared rule 'r1' fits within @max_depth 0"),
        "{d}"
    );
}

#[test]
fn a_fuzz_found_control_character_in_a_string_reads_back() {
    // A NUL inside a string value printed as JSON's \u0000, which the lexer did not read.
    let space = Space::parse(
        "s.hnas",
        "net = op(norm = {\"a\u{0}b\", \"c\\u00e9\\ud83d\\ude00\\r\"})",
    )
    .unwrap();
    for c in space.enumerate().unwrap() {
        let line = space.print(&c);
        assert_eq!(space.parse_candidate(&line).unwrap(), c, "{line}");
    }
    let found = include_str!("fuzz_found/nul_in_string.hnas");
    let space = Space::parse("found.hnas", found).unwrap();
    for c in space.enumerate().unwrap() {
        assert_eq!(space.parse_candidate(&space.print(&c)).unwrap(), c);
    }
    let e = Space::parse("s.hnas", "net = op(k = \"\\ud800x\")").unwrap_err();
    assert!(e.to_string().contains("malformed \\u escape"), "{e}");
}

#[test]
fn a_leading_zero_is_refused_with_a_hint_to_quote_it() {
    let e = errors("link = x(p = {0112, 0123})");
    has(
        &e,
        "1:15:",
        "'0112' has a leading zero; write \"0112\" (quoted) for the text, or 112 for the number",
    );
    has(&e, "1:21:", "'0123' has a leading zero");
    // Quoted, the text is kept as written; 0 and 0.5 are numbers as before.
    let space = Space::parse("s.hnas", "link = x(p = {\"0112\", 0, 0.5})").unwrap();
    let c = space.parse_candidate("x(p=\"0112\")").unwrap();
    assert_eq!(space.print(&c), "x(p=\"0112\")");
    assert!(space.parse_candidate("x(p=0)").is_ok());
}
