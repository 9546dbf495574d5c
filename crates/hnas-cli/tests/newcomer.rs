//! A newcomer's first hour (issue 23): each friction found by trying hnas as a new user
//! would, reproduced and kept fixed.
mod common;
use common::{example, hnas, root, tempdir};

use predicates::prelude::*;

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
            predicate::str::contains(format!("{}", empty.join("nb201/nb201.csv").display())).and(
                predicate::str::contains("HNAS_DATA unset to use the table built into hnas"),
            ),
        );
    }
    // A table cut short is refused, not half read.
    std::fs::create_dir_all(empty.join("nb201")).unwrap();
    let full = {
        use std::io::Read;
        let gz = std::fs::read(root().join("crates/hnas-eval/data/nb201.csv.gz")).unwrap();
        let mut s = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let cut: String = full.lines().take(1001).map(|l| format!("{l}\n")).collect();
    std::fs::write(empty.join("nb201/nb201.csv"), cut).unwrap();
    nb201_search(&dir.join("cut.db"))
        .env("HNAS_DATA", &empty)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "has 1000 rows; NAS-Bench-201 has 15625",
        ));
    // The whole table through HNAS_DATA works as the built-in one does.
    std::fs::write(empty.join("nb201/nb201.csv"), full).unwrap();
    nb201_search(&dir.join("full.db"))
        .env("HNAS_DATA", &empty)
        .assert()
        .success();
    // An empty HNAS_DATA means unset: the built-in table.
    nb201_search(&dir.join("empty-var.db"))
        .env("HNAS_DATA", "")
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

/// The CSV rows of `hnas trials` for a study: (number, state, candidate).
fn trial_rows(study: &std::path::Path) -> Vec<String> {
    let out = common::trials_in(&study.display().to_string(), "csv")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(String::from)
        .collect()
}

#[test]
fn a_failed_start_leaves_no_study_and_a_real_difference_is_shown_old_to_new() {
    let dir = tempdir("newcomer", "failed-start");
    let study = dir.join("s.db");
    nb201_search(&study)
        .args(["--objective", "max:valid_13"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("did you mean 'valid_12'?"));
    assert!(!study.exists(), "a failed start left {}", study.display());
    nb201_search(&study).assert().success();
    let before = trial_rows(&study);
    nb201_search(&study)
        .args(["--strategy", "random", "--seed", "3"])
        .assert()
        .failure()
        .stderr(
            predicate::str::contains(format!("{} already holds a study", study.display()))
                .and(predicate::str::contains(
                    "strategy: 'rea' (stored) → 'random' (given)",
                ))
                .and(predicate::str::contains("seed: '0' (stored) → '3' (given)"))
                .and(predicate::str::contains("--force-new")),
        );
    assert_eq!(
        trial_rows(&study),
        before,
        "a refused start changed the study"
    );
    // A wrong flag with --force-new replaces nothing.
    nb201_search(&study)
        .args([
            "--strategy",
            "random",
            "--objective",
            "max:bogus",
            "--force-new",
        ])
        .assert()
        .failure();
    assert_eq!(trial_rows(&study), before);
    nb201_search(&study)
        .args(["--strategy", "random", "--seed", "3", "--force-new"])
        .assert()
        .success();
    assert_ne!(trial_rows(&study), before, "--force-new did not start anew");
}

#[test]
fn the_default_study_name_says_the_evaluator_and_a_non_default_objective() {
    let dir = tempdir("newcomer", "names");
    let run = |extra: &[&str]| {
        hnas()
            .current_dir(&dir)
            .env_remove("HNAS_DATA")
            .args([
                "search",
                "--space",
                &example("nb201"),
                "--budget",
                "2",
                "-q",
            ])
            .args(extra)
            .assert()
            .success();
    };
    run(&["--evaluator", "nb201:cifar10"]);
    run(&["--evaluator", "nb201:cifar100"]);
    run(&[
        "--evaluator",
        "nb201:cifar10",
        "--objective",
        "max:test_200",
    ]);
    let mut names: Vec<String> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".db"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "nb201-nb201-cifar10-rea-s0-max-test_200.db",
            "nb201-nb201-cifar10-rea-s0.db",
            "nb201-nb201-cifar100-rea-s0.db"
        ]
    );
}

#[test]
fn a_study_resumes_from_its_file_alone_with_its_stored_settings() {
    let dir = tempdir("newcomer", "resume");
    let study = dir.join("s.db");
    // A copy of the space that is then removed: the study keeps the text it was bound to.
    let space = dir.join("cell.hnas");
    std::fs::copy(example("nb201"), &space).unwrap();
    hnas()
        .env_remove("HNAS_DATA")
        .args(["search", "--space", &space.display().to_string()])
        .args([
            "--evaluator",
            "nb201:cifar100",
            "--strategy",
            "random",
            "--seed",
            "7",
        ])
        .args(["--objective", "max:test_200", "--budget", "4", "-q"])
        .arg("--study")
        .arg(&study)
        .assert()
        .success();
    std::fs::remove_file(&space).unwrap();
    let first = trial_rows(&study);
    hnas()
        .env_remove("HNAS_DATA")
        .args(["search", "--budget", "8", "-q", "--study"])
        .arg(&study)
        .assert()
        .success();
    let resumed = trial_rows(&study);
    assert_eq!(resumed.len(), 8);
    assert_eq!(resumed[..4], first[..]);
    // The same eight trials as one uninterrupted run with those settings.
    let fresh = dir.join("fresh.db");
    hnas()
        .env_remove("HNAS_DATA")
        .args(["search", "--space", &example("nb201")])
        .args([
            "--evaluator",
            "nb201:cifar100",
            "--strategy",
            "random",
            "--seed",
            "7",
        ])
        .args([
            "--objective",
            "max:test_200",
            "--budget",
            "8",
            "-q",
            "--study",
        ])
        .arg(&fresh)
        .assert()
        .success();
    let strip = |rows: Vec<String>| -> Vec<String> {
        // number, state, value, candidate: the columns that do not depend on timing.
        rows.iter()
            .map(|r| r.split(',').take(4).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(strip(resumed), strip(trial_rows(&fresh)));
    // A smaller budget says there is nothing to run.
    hnas()
        .args(["search", "--budget", "3", "-q", "--study"])
        .arg(&study)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "already has 8 counted trials, and the budget is 3",
        ));
}

#[test]
fn read_only_and_foreign_files_say_what_they_are() {
    let dir = tempdir("newcomer", "files");
    let study = dir.join("s.db");
    nb201_search(&study).assert().success();
    let mut perm = std::fs::metadata(&study).unwrap().permissions();
    perm.set_readonly(true);
    std::fs::set_permissions(&study, perm).unwrap();
    nb201_search(&study)
        .assert()
        .failure()
        .stderr(predicate::str::contains("the study file is read-only"));
    assert_eq!(trial_rows(&study).len(), 5, "a read-only study still lists");
    let text = dir.join("notes.db");
    std::fs::write(&text, "not a database at all, but long enough for a header").unwrap();
    nb201_search(&text)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "not an hnas study: the file is not an SQLite database",
        ));
}

#[test]
fn bad_numbers_get_sentences_and_a_closed_pipe_is_no_error() {
    let dir = tempdir("newcomer", "numbers");
    for bad in ["0", "-1", "ten"] {
        hnas()
            .args([
                "search",
                "--space",
                &example("nb201"),
                "--evaluator",
                "nb201:cifar10",
            ])
            .arg("--study")
            .arg(dir.join("n.db"))
            .args(["--budget", bad])
            .assert()
            .failure()
            .stderr(
                predicate::str::contains("expected a whole number")
                    .and(predicate::str::contains("tip:").not()),
            );
    }
    assert!(!dir.join("n.db").exists());
    // A mismatched space names the space, the evaluator and what it expects.
    hnas()
        .args([
            "search",
            "--space",
            &example("mlp"),
            "--evaluator",
            "nb201:cifar10",
        ])
        .arg("--study")
        .arg(dir.join("m.db"))
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("mlp.hnas does not fit evaluator 'nb201:cifar10'")
                .and(predicate::str::contains("NAS-Bench-201 cells")),
        );
    // sleep:MS scores like hash, with the same default objective.
    hnas()
        .args([
            "search",
            "--space",
            &example("mlp"),
            "--evaluator",
            "sleep:1",
            "-q",
        ])
        .args(["--budget", "2", "--study"])
        .arg(dir.join("sleep.db"))
        .assert()
        .success();
    // `hnas trials | head -1`: the reader closes early; hnas says nothing and exits 0.
    let study = dir.join("s.db");
    nb201_search(&study).assert().success();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' trials --study '{}' | head -1 >/dev/null; echo \"${{PIPESTATUS[0]:-}}\"",
            assert_cmd::cargo::cargo_bin("hnas").display(),
            study.display()
        ))
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("Broken pipe"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn without_a_terminal_each_trial_gets_a_plain_line() {
    let dir = tempdir("newcomer", "plain");
    let out = hnas()
        .args([
            "search",
            "--space",
            &example("mlp"),
            "--evaluator",
            "sleep:1",
        ])
        .args(["--budget", "3", "--study"])
        .arg(dir.join("p.db"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // The first line comes at once and the last at the end, whatever the rate limit.
    assert!(
        err.contains("trial 0 complete [1/3 counted]; best score"),
        "{err}"
    );
    assert!(err.contains("[3/3 counted]"), "{err}");
}

#[test]
fn ctrl_c_says_how_to_resume_and_leaves_no_trial_running() {
    use std::io::{BufRead, BufReader};
    let dir = tempdir("newcomer", "interrupt");
    let study = dir.join("i.db");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("hnas"))
        .args([
            "search",
            "--space",
            &example("mlp"),
            "--evaluator",
            "sleep:300",
        ])
        .args(["--budget", "50", "--study"])
        .arg(&study)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    // Wait until a trial has finished (its plain line), then interrupt the next one.
    while err.read_line(&mut line).unwrap() > 0 && !line.contains("trial 0 complete") {}
    std::thread::sleep(std::time::Duration::from_millis(150));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(
        rest.contains(&format!(
            "resume with: hnas search --study {}",
            study.display()
        )),
        "{rest}"
    );
    let k: u64 = rest
        .split("interrupted after ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the count of trials");
    let rows = trial_rows(&study);
    assert!(rows.iter().all(|r| !r.contains(",running,")), "{rows:?}");
    assert!(rows.iter().any(|r| r.contains("interrupted")), "{rows:?}");
    // The resumed run goes on from K: its lines count on from there, and the interrupted
    // trial completes without its stale reason.
    let out = hnas()
        .args(["search", "--budget", &(k + 2).to_string(), "--study"])
        .arg(&study)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("[{}/{} counted]", k + 2, k + 2)),
        "{err}"
    );
    let rows = trial_rows(&study);
    assert!(rows.iter().all(|r| r.contains(",complete,")), "{rows:?}");
    assert!(rows.iter().all(|r| !r.contains("interrupted")), "{rows:?}");
}

#[test]
fn tables_fit_the_width_with_a_hash_and_show_candidates_whole_on_request() {
    let dir = tempdir("newcomer", "tables");
    let study = dir.join("t.db");
    nb201_search(&study).assert().success();
    let table = |extra: &[&str]| -> String {
        let out = hnas()
            .env("COLUMNS", "100")
            .args(["trials", "--study", &study.display().to_string()])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let fitted = table(&[]);
    assert!(
        fitted.lines().all(|l| l.chars().count() <= 100),
        "a line is wider than 100:\n{fitted}"
    );
    let full: Vec<String> = trial_rows(&study)
        .iter()
        .map(|r| r.split('"').nth(1).unwrap().to_string())
        .collect();
    // Cut in the middle: the ends, where NB201 cells differ, still show; and a hash per row.
    for (row, cand) in fitted.lines().skip(3).zip(&full) {
        let cells: Vec<&str> = row.split('┆').map(str::trim).collect();
        let hash = cells[cells.len() - 2];
        assert!(
            hash.len() == 8 && hash.chars().all(|c| c.is_ascii_hexdigit()),
            "{row}"
        );
        let shown = cells[cells.len() - 1].trim_end_matches('│').trim();
        let (head, tail) = shown.split_once('…').expect("a cut candidate");
        assert!(
            cand.starts_with(head) && cand.ends_with(tail),
            "{shown} / {cand}"
        );
    }
    let wide = table(&["--wide"]);
    assert!(full.iter().all(|c| wide.contains(c.as_str())), "{wide}");
    let show = table(&["--show", "2"]);
    assert!(show.starts_with("trial 2\n"), "{show}");
    assert!(
        show.contains(&full[2]) && show.contains("test_200"),
        "{show}"
    );
    hnas()
        .args([
            "trials",
            "--study",
            &study.display().to_string(),
            "--show",
            "99",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "has no trial 99; its trials are numbered 0 to 4",
        ));
}

#[test]
fn a_second_search_on_a_busy_study_file_says_so_and_changes_nothing() {
    use std::io::{BufRead, BufReader};
    let dir = tempdir("newcomer", "busy");
    let study = dir.join("b.db");
    let search = || {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("hnas"));
        c.args([
            "search",
            "--space",
            &example("mlp"),
            "--evaluator",
            "sleep:200",
        ])
        .args(["--budget", "12", "--study"])
        .arg(&study);
        c
    };
    let mut first = search()
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(first.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 && !line.contains("trial 0 complete") {}
    let second = search().output().unwrap();
    let msg = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(
        msg.contains(&format!(
            "another hnas process is searching {} now",
            study.display()
        )),
        "{msg}"
    );
    assert!(msg.contains("PostgreSQL workers"), "{msg}");
    assert!(first.wait().unwrap().success());
    let rows = trial_rows(&study);
    assert_eq!(rows.len(), 12, "{rows:?}");
    assert!(rows.iter().all(|r| r.contains(",complete,")));
    // Once the first has ended, the study is free again.
    nb201_search(&dir.join("free.db")).assert().success();
    search()
        .output()
        .map(|o| assert!(o.status.success()))
        .unwrap();
}
