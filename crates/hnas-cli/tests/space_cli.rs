//! `hnas space ...` as a user runs it.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(name: &str) -> String {
    root()
        .join("examples/spaces")
        .join(format!("{name}.hnas"))
        .display()
        .to_string()
}

fn hnas() -> Command {
    Command::cargo_bin("hnas").unwrap()
}

fn stdout(args: &[&str]) -> String {
    let out = hnas().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn count_prints_exact_sizes() {
    assert_eq!(stdout(&["space", "count", &example("nb201")]), "15625\n");
    assert_eq!(
        stdout(&["space", "count", &example("mnasnet")]),
        "1231171548132409344\n"
    );
    assert_eq!(
        stdout(&["space", "count", &example("darts")]),
        "9119789245425254400\n"
    );
    hnas()
        .args(["space", "count", &example("mlp")])
        .assert()
        .success()
        .stdout("infinite\n")
        .stderr(predicate::str::contains(
            "discrete structure has 67368420 members",
        ));
}

#[test]
fn check_accepts_every_example() {
    for name in ["nb201", "mnasnet", "darts", "einspace", "mlp", "agent"] {
        hnas()
            .args(["space", "check", &example(name)])
            .assert()
            .success()
            .stdout(predicate::str::starts_with("ok: "));
    }
}

#[test]
fn check_reports_file_line_col_and_fails() {
    let dir = tempdir();
    let path = dir.join("typo.hnas");
    std::fs::write(
        &path,
        "net = net(cell = cel)\ncell = dag(nodes = 4, edge = op)\nop = a | b\n",
    )
    .unwrap();
    let shown = path.display().to_string();
    hnas()
        .args(["space", "check", &shown])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "{shown}:1:18: unknown nonterminal 'cel'"
        )))
        .stderr(predicate::str::contains("did you mean 'cell'?"));
    hnas()
        .args(["space", "check", "/no/such/space.hnas"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "cannot read space file /no/such/space.hnas",
        ));
}

#[test]
fn sample_is_deterministic_and_reads_back() {
    let a = stdout(&[
        "space",
        "sample",
        &example("mnasnet"),
        "-n",
        "5",
        "--seed",
        "3",
    ]);
    let b = stdout(&[
        "space",
        "sample",
        &example("mnasnet"),
        "-n",
        "5",
        "--seed",
        "3",
    ]);
    let c = stdout(&[
        "space",
        "sample",
        &example("mnasnet"),
        "-n",
        "5",
        "--seed",
        "4",
    ]);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.lines().count(), 5);
    for line in a.lines() {
        // Each printed candidate is accepted back by `show`, which prints it unchanged.
        let shown = stdout(&["space", "show", &example("mnasnet"), line]);
        assert!(
            shown.starts_with(&format!("string:         {line}\n")),
            "{shown}"
        );
    }
    let json = stdout(&[
        "space",
        "sample",
        &example("einspace"),
        "-n",
        "3",
        "--weighted",
        "--json",
    ]);
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["root"].is_object());
    }
}

#[test]
fn mutate_and_neighbours_accept_nb201_strings() {
    let cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
    let m = stdout(&[
        "space",
        "mutate",
        &example("nb201"),
        cell,
        "--seed",
        "1",
        "-n",
        "3",
    ]);
    assert_eq!(m.lines().count(), 3);
    let original = stdout(&["space", "show", &example("nb201"), cell]);
    let original_line = original
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("string:")
        .trim();
    for line in m.lines() {
        assert_ne!(line, original_line);
        let diff = line
            .split(',')
            .zip(original_line.split(','))
            .filter(|(x, y)| x != y)
            .count();
        assert_eq!(diff, 1, "one edge changes: {line}");
    }
    hnas()
        .args(["space", "neighbours", &example("nb201"), cell])
        .assert()
        .success()
        .stderr("24 neighbours\n");
    assert!(original.contains(&format!("nb201:          {cell}")));
}

#[test]
fn bad_candidates_are_rejected_with_their_position() {
    hnas()
        .args(["space", "mutate", &example("nb201"), "dag(0>1:conv)"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "<candidate>:1:9: expected one of none, skip_connect",
        ));
    hnas()
        .args([
            "space",
            "show",
            &example("nb201"),
            "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a NAS-Bench-201 cell"));
    hnas()
        .args(["space", "show", &example("nb201"), "{\"root\": 3}"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the JSON candidate is not in the space",
        ));
}

#[test]
fn enumerate_lists_a_finite_space_and_refuses_a_continuous_one() {
    let out = stdout(&["space", "enumerate", &example("nb201"), "--limit", "7"]);
    assert_eq!(out.lines().count(), 7);
    assert_eq!(
        out.lines().next().unwrap(),
        "dag(0>1:none,0>2:none,1>2:none,0>3:none,1>3:none,2>3:none)"
    );
    hnas()
        .args(["space", "enumerate", &example("mlp")])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("continuous parameters"));
}

#[test]
fn crossover_mixes_two_parents() {
    let a = "dag(0>1:none,0>2:none,1>2:none,0>3:none,1>3:none,2>3:none)";
    let b = "dag(0>1:nor_conv_3x3,0>2:nor_conv_3x3,1>2:nor_conv_3x3,0>3:nor_conv_3x3,1>3:nor_conv_3x3,2>3:nor_conv_3x3)";
    let child = stdout(&["space", "crossover", &example("nb201"), a, b, "--seed", "5"]);
    let child = child.trim();
    assert_ne!(child, a);
    assert!(
        child.contains("nor_conv_3x3") && child.contains("none"),
        "{child}"
    );
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hnas-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
