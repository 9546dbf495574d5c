//! The study file read by a program: the same TOML the CLI reads builds a study, paths are
//! relative to the file, and mistakes name the file (and the line and column for TOML
//! syntax).

use hnas_study::{Jobs, StudyData, StudyFile};
use std::path::{Path, PathBuf};

fn folder(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hnas-study-file-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_study_file_builds_and_stores_a_study_a_program_runs() {
    let dir = folder("run");
    write(
        &dir,
        "tiny.hnas",
        "net = net(x = int(0, 11), op = op)\nop = a | b | c\n",
    );
    let file = write(
        &dir,
        "study.toml",
        r#"
space = "tiny.hnas"
evaluator = "hash"
strategy = { name = "rea", population = 6, sample = 2 }
budget = 12
seed = 4
study = "runs/tiny.db"
dedup = "skip"
jobs = 1
"#,
    );
    std::fs::create_dir_all(dir.join("runs")).unwrap();
    let mut study = hnas_study::Study::builder()
        .file(&file)
        .unwrap()
        .open()
        .unwrap();
    let summary = study.run(&mut |_| {}).unwrap();
    assert_eq!(summary.counted, 12);
    let stored = StudyData::load(&dir.join("runs/tiny.db").to_string_lossy()).unwrap();
    assert_eq!(stored.settings.strategy, "rea:population=6,sample=2");
    assert_eq!(stored.settings.evaluator, "hash");
    assert_eq!(stored.settings.objectives, ["max:score"]);
    assert_eq!(stored.settings.seed, 4);
    assert_eq!(stored.trials.iter().filter(|t| t.counted).count(), 12);
    // Under dedup = "skip" every counted trial is a new network.
    let mut hashes: Vec<_> = stored
        .trials
        .iter()
        .filter(|t| t.counted)
        .map(|t| &t.canonical_hash)
        .collect();
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 12);
}

#[test]
fn the_file_replaces_the_builders_lists_and_later_calls_replace_the_files() {
    let dir = folder("lists");
    write(&dir, "tiny.hnas", "net = net(x = int(0, 3))\n");
    let file = write(
        &dir,
        "s.toml",
        "space = \"tiny.hnas\"\nevaluator = \"hash\"\nstrategy = \"random\"\nobjective = \"min:score\"\nbudget = 2\n",
    );
    let objectives = |b: hnas_study::StudyBuilder| {
        let mut s = b.open().unwrap();
        s.run(&mut |_| {}).unwrap();
        s.settings().objectives.clone()
    };
    let b = hnas_study::Study::builder().objective("max:score");
    assert_eq!(objectives(b.file(&file).unwrap()), ["min:score"]);
    let b = hnas_study::Study::builder()
        .file(&file)
        .unwrap()
        .objective("max:score");
    assert_eq!(
        objectives(b),
        ["max:score"],
        "a later call replaces the file's list"
    );
    let b = hnas_study::Study::builder()
        .file(&file)
        .unwrap()
        .objective("max:score")
        .objective("min:score");
    assert_eq!(
        objectives(b),
        ["max:score", "min:score"],
        "and then adds as usual"
    );
}

#[test]
fn keys_read_as_written_and_paths_join_the_file_folder() {
    let dir = folder("keys");
    let f = StudyFile::parse(
        &dir.join("s.toml"),
        r#"
space = "spaces/a.hnas"
evaluator = "table:t.csv"
objective = ["max:acc", "min:lat"]
constraints = ["params <= 1000"]
reference = [80, 5.5]
jobs = "auto"
devices = ["cuda:0", "cuda:1"]
budget_cost = 30
"#,
    )
    .unwrap();
    assert_eq!(f.space, Some(dir.join("spaces/a.hnas")));
    assert_eq!(
        f.evaluator.as_deref(),
        Some(&*format!("table:{}", dir.join("t.csv").display()))
    );
    assert_eq!(f.objective, ["max:acc", "min:lat"]);
    assert_eq!(f.constraint, ["params <= 1000"]);
    assert_eq!(f.reference, Some(vec![80.0, 5.5]));
    assert_eq!(f.jobs, Some(Jobs::Auto));
    assert_eq!(f.devices.as_deref(), Some("cuda:0,cuda:1"));
    assert_eq!(f.budget_cost, Some(30.0));
    assert_eq!(f.budget, None);
}

#[test]
fn mistakes_name_the_file_the_key_and_what_was_expected() {
    let p = Path::new("conf/s.toml");
    let err = |text: &str| StudyFile::parse(p, text).unwrap_err().to_string();
    let e = err("budget = 0\n");
    assert_eq!(
        e,
        "conf/s.toml: 'budget' must be a whole number, at least 1"
    );
    let e = err("budgett = 10\n");
    assert!(
        e.starts_with("conf/s.toml: unknown key 'budgett'; expected one of: space,"),
        "{e}"
    );
    let e = err("seed = 1\nspace = \"a.hnas\n");
    assert!(
        e.starts_with("conf/s.toml:2:"),
        "line and column of the TOML error: {e}"
    );
    let e = err("devices = \"gpu0\"\n");
    assert!(e.contains("'gpu0' is no device"), "{e}");
    let e = err("jobs = 0\n");
    assert!(
        e.contains("'jobs' must be a whole number, at least 1, or \"auto\""),
        "{e}"
    );
    let e = err("[evaluator]\ntimeout = 3\n");
    assert!(e.contains("command = [\"PROGRAM\""), "{e}");
    let missing = StudyFile::read(Path::new("/no/such/s.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.starts_with("cannot read study file /no/such/s.toml"),
        "{missing}"
    );
}
