//! `--help` and docs/cli.md describe the same program: every flag of every command is in
//! the docs, and every flag the docs name exists.
mod common;
use common::{hnas, root};
use std::collections::BTreeSet;

fn help(args: &[&str]) -> String {
    let out = hnas().args(args).arg("--help").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// `--word-word` tokens of a text.
fn flags(text: &str) -> BTreeSet<String> {
    let b = text.as_bytes();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i + 2 < b.len() {
        let boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'-');
        if boundary && b[i] == b'-' && b[i + 1] == b'-' && b[i + 2].is_ascii_lowercase() {
            let mut j = i + 2;
            while j < b.len()
                && (b[j].is_ascii_lowercase() || b[j].is_ascii_digit() || b[j] == b'-')
            {
                j += 1;
            }
            out.insert(
                String::from_utf8_lossy(&b[i..j])
                    .trim_end_matches('-')
                    .to_string(),
            );
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// The subcommands `hnas --help` lists, with their own subcommands (`space check`, ...).
fn commands() -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let parse = |text: &str| -> Vec<String> {
        text.split("Commands:")
            .nth(1)
            .map(|s| s.split("\n\n").next().unwrap_or(""))
            .unwrap_or("")
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| *w != "help")
            .map(String::from)
            .collect()
    };
    for c in parse(&help(&[])) {
        let subs = parse(&help(&[&c]));
        out.push(vec![c.clone()]);
        for s in subs {
            out.push(vec![c.clone(), s]);
        }
    }
    out
}

#[test]
fn every_flag_in_help_is_in_the_docs_and_back() {
    let docs = std::fs::read_to_string(root().join("docs/cli.md")).unwrap();
    let documented = flags(&docs);
    let mut offered = flags(&help(&[]));
    let mut missing = Vec::new();
    for cmd in commands() {
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let text = help(&args);
        for f in flags(&text) {
            if !documented.contains(&f) && f != "--help" && f != "--version" {
                missing.push(format!("hnas {} {f}", cmd.join(" ")));
            }
            offered.insert(f);
        }
        // Each command has its section or row in the docs.
        assert!(
            docs.contains(&format!("hnas {}", cmd.join(" "))),
            "docs/cli.md does not mention 'hnas {}'",
            cmd.join(" ")
        );
    }
    assert!(
        missing.is_empty(),
        "flags not in docs/cli.md:\n{}",
        missing.join("\n")
    );
    let stale: Vec<&String> = documented.difference(&offered).collect();
    assert!(
        stale.is_empty(),
        "docs/cli.md names flags no command has: {stale:?}"
    );
}

#[test]
fn the_environment_and_every_evaluator_are_in_the_help() {
    let top = help(&[]);
    for var in ["HNAS_DATA", "HNAS_DEVICE", "RAYON_NUM_THREADS"] {
        assert!(top.contains(var), "hnas --help does not mention {var}");
    }
    let search = help(&["search"]);
    for ev in [
        "nb201:cifar10",
        "table:",
        "command:",
        "train:",
        "hash",
        "sleep:MS",
    ] {
        assert!(
            search.contains(ev),
            "hnas search --help does not mention {ev}"
        );
    }
}
