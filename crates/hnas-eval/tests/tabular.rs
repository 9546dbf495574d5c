//! Tabular evaluators on the real NAS-Bench-201 table and on tables users bring.

use hnas_eval::{from_name, EvalError, KeyForm, Tabular};
use hnas_space::Space;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn nb201_space() -> Space {
    Space::from_file(&root().join("examples/spaces/nb201.hnas")).unwrap()
}

#[test]
fn nb201_presets_read_the_table_with_their_fidelities() {
    let space = nb201_space();
    let e = from_name("nb201:cifar10").unwrap();
    // The CIFAR-10 optimum, index 6111.
    let best = space
        .from_nb201("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|")
        .unwrap();
    let m = e.evaluate(&space, &best, None).unwrap();
    assert_eq!(m["test_200"], 94.3733);
    assert!(m.contains_key("valid_12") && m.contains_key("latency_ms_pi5_onnx"));
    assert_eq!(e.optimum("test_200", true), Some(94.3733));
    assert_eq!(e.cost(None), 12.0);
    assert_eq!(e.cost_unit(), "epochs");

    let m12 = e.evaluate(&space, &best, Some(12.0)).unwrap();
    assert!(m12.contains_key("valid_12") && !m12.contains_key("test_200"));
    let m200 = e.evaluate(&space, &best, Some(200.0)).unwrap();
    assert!(m200.contains_key("test_200") && !m200.contains_key("valid_12"));
    // `accuracy` is what a multi-fidelity search sees: valid_12 at 12 epochs, test_200 at 200.
    assert_eq!(m["accuracy"], m["valid_12"]);
    assert_eq!(m12["accuracy"], m12["valid_12"]);
    assert_eq!(m200["accuracy"], 94.3733);
    assert_eq!(e.fidelities(), vec![12.0, 200.0]);
    assert_eq!(e.cost(Some(200.0)), 200.0);
    let err = e.evaluate(&space, &best, Some(50.0)).unwrap_err();
    assert_eq!(
        err,
        EvalError::Fatal(
            "evaluator 'nb201:cifar10' has no fidelity 50; expected one of: default, 12, 200"
                .into()
        )
    );

    assert_eq!(
        from_name("nb201:cifar100")
            .unwrap()
            .optimum("test_200", true),
        Some(73.5133)
    );
    assert_eq!(
        from_name("nb201:imagenet16")
            .unwrap()
            .optimum("test_200", true),
        Some(47.3111)
    );
    let err = from_name("nb201:svhn").err().unwrap().to_string();
    assert!(
        err.contains("unknown NAS-Bench-201 dataset 'svhn'; expected one of: nb201:cifar10"),
        "{err}"
    );
}

#[test]
fn nb201_refuses_spaces_that_are_not_nb201_cells() {
    let e = from_name("nb201:cifar10").unwrap();
    let other = Space::parse("mlp.hnas", "net = mlp(width = {8, 16})").unwrap();
    let err = e.check_space(&other).unwrap_err().to_string();
    assert!(
        err.contains("space mlp.hnas does not fit evaluator 'nb201:cifar10': it looks up NAS-Bench-201 cells"),
        "{err}"
    );
    assert!(e.check_space(&nb201_space()).is_ok());
}

fn temp_csv(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hnas-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_users_table_is_keyed_by_the_one_line_form() {
    let space = Space::parse("s.hnas", "net = mlp(width = {8, 16, 32})").unwrap();
    let p = temp_csv(
        "good.csv",
        "arch,acc,params,note\n\"mlp(width=8)\",71.5,100,small\n\"mlp(width=16)\",80.25,200,mid\n",
    );
    let e = from_name(&format!("table:{}", p.display())).unwrap();
    assert_eq!(
        e.metrics(),
        vec!["acc".to_string(), "params".into()],
        "the text column is not a metric"
    );
    let c = space.parse_candidate("mlp(width=16)").unwrap();
    assert_eq!(e.evaluate(&space, &c, None).unwrap()["acc"], 80.25);
    let missing = space.parse_candidate("mlp(width=32)").unwrap();
    let err = e.evaluate(&space, &missing, None).unwrap_err();
    assert!(
        matches!(&err, EvalError::Fatal(m) if m.contains("candidate 'mlp(width=32)' is not in table")),
        "{err}"
    );
    assert_eq!(e.optimum("acc", true), Some(80.25));
    assert_eq!(e.optimum("params", false), Some(100.0));
}

#[test]
fn malformed_tables_are_refused_with_the_place() {
    let err = |p: PathBuf, key: &str, metrics: Option<&[&str]>| {
        Tabular::from_csv("t", &p, key, KeyForm::Line, metrics)
            .err()
            .unwrap()
            .to_string()
    };
    let p = temp_csv("nokey.csv", "name,acc\na,1\n");
    assert!(err(p, "arch", None).contains("no key column 'arch'; the columns are: name, acc"));
    let p = temp_csv("text.csv", "arch,acc\na,1\nb,high\n");
    assert!(err(p, "arch", Some(&["acc"])).contains("row 3, column 'acc': 'high' is not a number"));
    let p = temp_csv("dup.csv", "arch,acc\na,1\na,2\n");
    assert!(err(p, "arch", None).contains("row 3: key 'a' appears twice"));
    let p = temp_csv("ragged.csv", "arch,acc\na,1,9\n");
    assert!(err(p, "arch", None).contains("row 2"));
    assert!(from_name("table:/no/such/table.csv")
        .err()
        .unwrap()
        .to_string()
        .contains("cannot read table /no/such/table.csv"));
    assert!(from_name("table:x.csv,colour=red")
        .err()
        .unwrap()
        .to_string()
        .contains("unknown option 'colour=red'"));
    assert!(from_name("bogus")
        .err()
        .unwrap()
        .to_string()
        .starts_with("unknown evaluator 'bogus'; expected one of: nb201:cifar10"));
}

#[test]
fn hash_scores_are_deterministic_and_in_range() {
    let space = nb201_space();
    let e = from_name("hash").unwrap();
    let c = space.unrank(&7u32.into()).unwrap();
    let a = e.evaluate(&space, &c, None).unwrap()["score"];
    assert_eq!(a, e.evaluate(&space, &c, None).unwrap()["score"]);
    assert!((0.0..1.0).contains(&a));
}

#[test]
fn tables_are_read_faithfully() {
    let err = |text: &str| {
        let p = temp_csv("faithful.csv", text);
        Tabular::from_csv("t", &p, "arch", KeyForm::Line, None)
            .err()
            .map(|e| e.to_string())
    };
    // Text columns, including codes with leading zeros, are attributes, never metrics.
    let p = temp_csv(
        "codes.csv",
        "arch,link,ops,acc\na,0112,conv+skip,1.5\nb,0123,pool,2\n",
    );
    let t = Tabular::from_csv("t", &p, "arch", KeyForm::Line, None).unwrap();
    assert_eq!(hnas_eval::Evaluator::metrics(&t), vec!["acc".to_string()]);
    // A column numeric in some rows only is named with its first bad row.
    let e = err("arch,acc\na,1\nb,2\nc,high\n").unwrap();
    assert!(
        e.contains("column 'acc' holds numbers in 2 of 3 rows, but row 4 has 'high'"),
        "{e}"
    );
    // An empty cell is reported, not guessed.
    let e = err("arch,acc\na,1\nb,\nc,3\n").unwrap();
    assert!(
        e.contains("column 'acc' holds numbers in 2 of 3 rows, but row 3 is empty"),
        "{e}"
    );
    assert!(e.contains("does not guess missing values"), "{e}");
}
