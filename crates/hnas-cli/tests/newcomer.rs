//! A newcomer's first hour (issue 23): each friction found by trying hnas as a new user
//! would, reproduced and kept fixed.
mod common;
use common::{hnas, root, tempdir};

use predicates::prelude::*;

fn example(name: &str) -> String {
    root()
        .join("examples/spaces")
        .join(format!("{name}.hnas"))
        .display()
        .to_string()
}

/// `hnas search` on NB201 with CIFAR-10, with a study in `dir`.
fn nb201_search(study: &std::path::Path) -> assert_cmd::Command {
    let mut c = hnas();
    c.env_remove("HNAS_DATA").args([
        "search",
        "--space",
        &example("nb201"),
        "--evaluator",
        "nb201:cifar10",
        "--budget",
        "5",
        "--study",
        &study.display().to_string(),
    ]);
    c
}

#[test]
fn the_nb201_table_comes_with_hnas() {
    let dir = tempdir("newcomer", "table");
    nb201_search(&dir.join("a.db")).assert().success();
}

#[test]
fn hnas_data_overrides_the_built_in_table_and_says_what_it_needs() {
    let dir = tempdir("newcomer", "data");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for how in ["env", "flag"] {
        let mut c = nb201_search(&dir.join(format!("{how}.db")));
        match how {
            "env" => c.env("HNAS_DATA", &empty),
            _ => c.arg("--data").arg(&empty),
        };
        c.assert().failure().stderr(
            predicate::str::contains(format!("{}", empty.join("nb201/nb201.csv").display()))
                .and(predicate::str::contains("HNAS_DATA unset to use the table built into hnas")),
        );
    }
    // A table cut short is refused, not half read.
    std::fs::create_dir_all(empty.join("nb201")).unwrap();
    let full = {
        use std::io::Read;
        let gz = std::fs::read(root().join("crates/hnas-eval/data/nb201.csv.gz")).unwrap();
        let mut s = String::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut s).unwrap();
        s
    };
    let cut: String = full.lines().take(1001).map(|l| format!("{l}\n")).collect();
    std::fs::write(empty.join("nb201/nb201.csv"), cut).unwrap();
    nb201_search(&dir.join("cut.db"))
        .env("HNAS_DATA", &empty)
        .assert()
        .failure()
        .stderr(predicate::str::contains("has 1000 rows; NAS-Bench-201 has 15625"));
    // The whole table through HNAS_DATA works as the built-in one does.
    std::fs::write(empty.join("nb201/nb201.csv"), full).unwrap();
    nb201_search(&dir.join("full.db"))
        .env("HNAS_DATA", &empty)
        .assert()
        .success();
}

#[test]
fn no_path_of_the_build_machine_leads_to_data() {
    // The binary once fell back to the source tree's sibling data folder.
    let bin = std::fs::read(assert_cmd::cargo::cargo_bin("hnas")).unwrap();
    let needle = b"shared/data";
    assert!(
        !bin.windows(needle.len()).any(|w| w == needle),
        "the hnas binary mentions shared/data"
    );
}
