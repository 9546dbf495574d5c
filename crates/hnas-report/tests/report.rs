//! A report from a real study: the figures a study has are written, those it lacks are not,
//! and the leaderboard is the best distinct trials.

use hnas_eval::{FnEvaluator, Metrics};
use hnas_report::{figures, write_report, StudyData};
use hnas_space::{Candidate, Space};
use hnas_study::Study;
use std::sync::Arc;

const SPACE: &str = "net = net(x = int(0, 9), op = op)\nop = a | b | c";

fn study(strategy: &str, objectives: &[&str]) -> StudyData {
    // Accuracy rises with x and op `c`; size rises with x: a real trade-off.
    let eval = FnEvaluator::new("toy", &["acc", "size"], |space: &Space, c: &Candidate| {
        let tree = space.to_json(c);
        let x = tree["root"]["args"]["x"].as_i64().unwrap_or(0) as f64;
        let op = tree["root"]["args"]["op"]["op"].as_str().unwrap_or("a");
        let bonus = if op == "c" { 2.0 } else { 0.0 };
        Ok(Metrics::from([
            ("acc".to_string(), x + bonus),
            ("size".to_string(), x * x + 1.0),
        ]))
    });
    let mut b = Study::builder()
        .space("toy.hnas", SPACE)
        .strategy(strategy)
        .evaluator("toy", Arc::new(eval))
        .budget(25)
        .seed(3);
    for o in objectives {
        b = b.objective(o);
    }
    let mut s = b.open().expect("study opens");
    s.run(&mut |_| {}).expect("study runs");
    StudyData::new("toy", s.settings().clone(), s.trials().to_vec()).expect("goals parse")
}

fn names(l: &StudyData) -> Vec<&'static str> {
    figures(l, 5).into_iter().map(|(n, _)| n).collect()
}

#[test]
fn one_objective_has_progress_and_decisions_but_no_front_or_map() {
    let l = study("random", &["max:acc"]);
    assert_eq!(names(&l), ["best.svg", "decisions.svg"]);
    let best = l.top(3);
    assert_eq!(best.len(), 3);
    let accs: Vec<f64> = best.iter().map(|t| t.metrics["acc"]).collect();
    assert!(
        accs.windows(2).all(|w| w[0] >= w[1]),
        "best first: {accs:?}"
    );
    let hashes: std::collections::HashSet<_> = best.iter().map(|t| &t.canonical_hash).collect();
    assert_eq!(hashes.len(), 3, "distinct networks");
    let top_acc = l
        .trials
        .iter()
        .filter_map(|t| t.metrics.get("acc"))
        .fold(f64::MIN, |a, b| a.max(*b));
    assert_eq!(accs[0], top_acc);
}

#[test]
fn two_objectives_draw_hypervolume_and_the_front_with_its_reference_point() {
    let l = study("random", &["max:acc", "min:size"]);
    let figs = figures(&l, 5);
    let get = |n: &str| figs.iter().find(|f| f.0 == n).map(|f| f.1.clone());
    assert!(get("best.svg").expect("progress").contains("hypervolume"));
    let front = get("front.svg").expect("front");
    assert!(front.contains("reference point (+)"));
    // The reference point is the worst feasible value of each objective.
    let worst_acc = l
        .trials
        .iter()
        .map(|t| t.metrics["acc"])
        .fold(f64::MAX, f64::min);
    let worst_size = l
        .trials
        .iter()
        .map(|t| t.metrics["size"])
        .fold(f64::MIN, f64::max);
    assert_eq!(l.goals.nadir(&l.trials), vec![worst_acc, worst_size]);
    assert!(get("map.svg").is_none());
}

#[test]
fn a_mapelites_study_gets_its_map_and_the_report_is_written() {
    let l = study("mapelites:x=acc:0:12:6", &["max:acc"]);
    let d = l.map_descriptors();
    assert_eq!(d.len(), 1);
    let (archive, _) = l.archive(&d);
    assert!(!archive.elites.is_empty());
    let dir = std::env::temp_dir().join(format!("hnas-report-test-{}", std::process::id()));
    let files = write_report(&l, &dir, 3).expect("written");
    let written: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        written,
        ["index.html", "best.svg", "map.svg", "decisions.svg"]
    );
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(page.contains("<figure id=\"map\">") && page.contains("Leaderboard"));
    for t in l.top(3) {
        assert!(page.contains(&format!("id=\"arch{}\"", t.number)));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn charts_of_degenerate_data_are_drawn_not_panicked_over() {
    use hnas_report::svg::{curves, front, heatmap, scatter_with_line, Axis, Series};
    let ok = |svg: String| assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    ok(front(
        "one",
        "x",
        "y",
        &[(1.0, 1.0)],
        &[(1.0, 1.0)],
        &[],
        Some((1.0, 1.0)),
    ));
    ok(front("none", "x", "y", &[], &[], &[], None));
    ok(front(
        "nan",
        "x",
        "y",
        &[(f64::NAN, 2.0), (f64::INFINITY, 1.0)],
        &[],
        &[],
        None,
    ));
    ok(scatter_with_line(
        "flat",
        "t",
        "v",
        &[(0.0, 3.0), (1.0, 3.0)],
        &[(0.0, 3.0)],
        ("a", "b"),
    ));
    ok(curves("empty", "t", "r", &[], true));
    let zeros = Series {
        label: "all zero".into(),
        points: (1..=5).map(|t| (t as f64, 0.0, 0.0)).collect(),
    };
    ok(curves("zeros on a log axis", "t", "r", &[zeros], true));
    let axis = |bins| Axis {
        label: "d".into(),
        bins,
        lo: 0.0,
        hi: 1.0,
    };
    ok(heatmap("empty map", &axis(4), &axis(1), &[]));
    ok(heatmap("one cell", &axis(1), &axis(1), &[((0, 0), 2.5)]));
}
