//! `hnas report`: the page and its figures for one and several objectives, MAP-Elites, an
//! empty study and a bad path.

mod common;
use common::{hnas, root, tempdir, Succeeds};

use std::path::Path;

fn search(study: &Path, args: &[&str]) {
    hnas()
        .args(["search", "--quiet", "--study"])
        .arg(study)
        .arg("--space")
        .arg(root().join("examples/spaces/nb201.hnas"))
        .args(args)
        .succeeds();
}

fn report(study: &Path, out: &Path) -> String {
    let o = hnas()
        .args(["report", "--study"])
        .arg(study)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out.join("index.html")).unwrap()
}

/// The `<svg>` elements of a page, each checked to be well-formed XML.
fn figures(html: &str) -> usize {
    let mut n = 0;
    for part in html.split("<svg ").skip(1) {
        let svg = format!(
            "<svg {}",
            &part[..part.find("</svg>").expect("closed svg") + 6]
        );
        roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("malformed SVG: {e}\n{svg}"));
        n += 1;
    }
    n
}

#[test]
fn one_objective_gives_a_curve_a_leaderboard_decisions_and_drawings() {
    let d = tempdir("report-cli", "one");
    let s = d.join("s.db");
    search(
        &s,
        &[
            "--evaluator",
            "hash",
            "--objective",
            "max:score",
            "--strategy",
            "rea",
            "--budget",
            "40",
        ],
    );
    let html = report(&s, &d.join("out"));
    assert!(html.contains("<figure id=\"best\">"));
    assert!(html.contains("<h2>Leaderboard</h2>") && html.contains("<td class=\"cand\">"));
    assert!(
        html.contains("<figure id=\"decisions\">"),
        "decision frequencies"
    );
    assert_eq!(
        html.matches("<figure id=\"arch").count(),
        5,
        "five top architectures drawn"
    );
    assert!(
        html.contains("node 0: the cell's input"),
        "a cell is drawn as a graph"
    );
    assert!(!html.contains("<figure id=\"front\">"));
    assert_eq!(figures(&html), 1 + 1 + 5);
    for f in ["best.svg", "decisions.svg"] {
        assert!(d.join("out").join(f).is_file(), "{f}");
    }
}

#[test]
fn several_objectives_add_the_pareto_front_and_mapelites_its_map() {
    let d = tempdir("report-cli", "front");
    let s = d.join("s.db");
    search(
        &s,
        &[
            "--evaluator",
            "hash",
            "--objective",
            "max:score",
            "--objective",
            "min:score",
            "--strategy",
            "nsga2",
            "--budget",
            "30",
        ],
    );
    let html = report(&s, &d.join("out"));
    assert!(html.contains("<figure id=\"front\">") && html.contains("Pareto front"));
    figures(&html);
    let m = d.join("m.db");
    search(
        &m,
        &[
            "--evaluator",
            "hash",
            "--objective",
            "max:score",
            "--strategy",
            "mapelites:x=count.nor_conv_3x3:0:6:7",
            "--budget",
            "30",
        ],
    );
    let html = report(&m, &d.join("mout"));
    assert!(html.contains("<figure id=\"map\">") && html.contains("MAP-Elites elites"));
    figures(&html);
}

#[test]
fn an_empty_study_and_a_bad_path_get_clear_messages() {
    let d = tempdir("report-cli", "empty");
    let o = hnas()
        .args(["report", "--study"])
        .arg(d.join("nope.db"))
        .arg("--out")
        .arg(d.join("o"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no study at"));
    // A study whose only trial fails: the page says so instead of drawing empty figures.
    let s = d.join("s.db");
    std::fs::write(
        d.join("fail.hnas"),
        "net = net(body = body)\nbody = stack(a = p, b = p, c = p)\np = max_pool(size = 4)\n",
    )
    .unwrap();
    hnas()
        .args([
            "search",
            "--quiet",
            "--evaluator",
            "train:mnist1d,epochs=1",
            "--budget",
            "1",
            "--study",
        ])
        .arg(&s)
        .arg("--space")
        .arg(d.join("fail.hnas"))
        .succeeds();
    let html = report(&s, &d.join("o"));
    assert!(html.contains("1 failed"), "{html}");
    assert!(html.contains("No complete feasible trial yet."), "{html}");
}
