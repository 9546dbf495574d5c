//! Plots people read (issue 23): round tick values, a clipped axis said so, hypervolume over
//! trials with its reference point, the MAP-Elites colour legend, regret on a log axis with
//! standard-error bands. Each SVG is read as XML and its tick labels and legend checked.

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

fn report(study: &Path, out: &Path) {
    hnas()
        .args(["report", "--study"])
        .arg(study)
        .arg("--out")
        .arg(out)
        .succeeds();
}

/// The texts of one kind of `<text>` element of an SVG chart, told apart as hnas-report
/// draws them (crates/hnas-report/src/chart.rs): x tick labels centred and hanging below
/// the axis, y tick labels right-aligned, legend entries left-aligned, the clipping note
/// centred and grey.
fn texts(svg: &str, kind: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("malformed SVG: {e}"));
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter(|n| {
            let (anchor, dy) = (n.attribute("text-anchor"), n.attribute("dy"));
            match kind {
                "xtick" => {
                    anchor == Some("middle")
                        && dy == Some("0.76em")
                        && n.attribute("transform").is_none()
                }
                "ytick" => anchor == Some("end"),
                "legend" => anchor == Some("start"),
                "note" => anchor == Some("middle") && n.attribute("fill") == Some("#555555"),
                other => panic!("no text kind {other}"),
            }
        })
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

/// Tick labels are round: evenly spaced by 1, 2 or 5 times a power of ten, each written with
/// no more decimals than the step has.
fn assert_round(labels: &[String], what: &str) {
    assert!(labels.len() >= 2, "{what}: too few ticks {labels:?}");
    let v: Vec<f64> = labels
        .iter()
        .map(|l| {
            l.parse()
                .unwrap_or_else(|_| panic!("{what}: tick '{l}' is no number"))
        })
        .collect();
    let step = v[1] - v[0];
    let mag = 10f64.powf(step.log10().floor());
    let m = step / mag;
    assert!(
        [1.0, 2.0, 5.0].iter().any(|k| (m - k).abs() < 1e-6),
        "{what}: step {step} is not 1, 2 or 5 times a power of ten: {labels:?}"
    );
    for w in v.windows(2) {
        assert!(
            ((w[1] - w[0]) - step).abs() < step * 1e-6,
            "{what}: uneven {labels:?}"
        );
    }
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    for l in labels {
        let d = l.split('.').nth(1).map_or(0, str::len);
        assert!(
            d <= decimals,
            "{what}: '{l}' has more decimals than its step {step}"
        );
    }
}

#[test]
fn front_and_hypervolume_plots_have_round_ticks_and_their_reference_point() {
    let d = tempdir("plots", "front");
    let s = d.join("s.db");
    search(
        &s,
        &[
            "--evaluator",
            "nb201:cifar10",
            "--objective",
            "max:test_200",
            "--objective",
            "min:latency_ms_pi5_onnx",
            "--strategy",
            "nsga2",
            "--budget",
            "60",
        ],
    );
    report(&s, &d.join("out"));
    let front = std::fs::read_to_string(d.join("out/front.svg")).unwrap();
    assert_round(&texts(&front, "xtick"), "front x");
    assert_round(&texts(&front, "ytick"), "front y");
    assert!(texts(&front, "legend").contains(&"reference point (+)".to_string()));
    // NB201's accuracies run down to 10 % for the cells that do not learn: the one such
    // point among these would squash the front, so the axis is clipped, and a note says so.
    let notes = texts(&front, "note");
    assert!(
        notes.len() == 1 && notes[0].contains("clipped to the middle 96 %"),
        "{notes:?}"
    );
    let xs: Vec<f64> = texts(&front, "xtick")
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    assert!(xs[0] > 50.0, "the x axis starts at the outlier: {xs:?}");
    let hv = std::fs::read_to_string(d.join("out/best.svg")).unwrap();
    assert!(
        hv.contains("hypervolume of the front so far (reference point "),
        "{hv}"
    );
    assert_round(&texts(&hv, "xtick"), "hypervolume x");
    assert_round(&texts(&hv, "ytick"), "hypervolume y");
}

#[test]
fn a_far_outlier_clips_the_axis_and_the_plot_says_so() {
    let d = tempdir("plots", "outlier");
    let s = d.join("s.db");
    // A few far values are what a botched latency measurement looks like: NB201's table has
    // none, so the test uses a table of its own.
    let table = d.join("t.csv");
    let mut csv = String::from("arch,acc,lat\n");
    let space = hnas_space::Space::parse(
        "nb201.hnas",
        &std::fs::read_to_string(root().join("examples/spaces/nb201.hnas")).unwrap(),
    )
    .unwrap();
    for (i, c) in space.enumerate().unwrap().enumerate() {
        // One network in a hundred "measured" 5 s instead of a few ms.
        let lat = if i % 100 == 7 {
            5000.0
        } else {
            1.0 + (i % 97) as f64 / 10.0
        };
        csv.push_str(&format!(
            "\"{}\",{},{lat}\n",
            space.print(&c),
            50.0 + (i % 89) as f64 / 2.0
        ));
    }
    std::fs::write(&table, csv).unwrap();
    search(
        &s,
        &[
            "--evaluator",
            &format!("table:{}", table.display()),
            "--objective",
            "max:acc",
            "--objective",
            "min:lat",
            "--strategy",
            "random",
            "--budget",
            "2000",
        ],
    );
    report(&s, &d.join("out"));
    let front = std::fs::read_to_string(d.join("out/front.svg")).unwrap();
    let notes = texts(&front, "note");
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("the x axis clipped") || n.starts_with("the y axis clipped")),
        "{notes:?}"
    );
    let ticks: Vec<f64> = texts(&front, "ytick")
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    assert!(
        ticks.iter().all(|t| *t < 100.0),
        "the outlier set the axis: {ticks:?}"
    );
}

#[test]
fn the_mapelites_map_has_ticks_and_a_colour_legend() {
    let d = tempdir("plots", "map");
    let m = d.join("m.db");
    search(
        &m,
        &[
            "--evaluator",
            "nb201:cifar10",
            "--strategy",
            "mapelites:x=latency_ms_pi5_onnx:0:10:10,y=count.nor_conv_3x3:0:6:7",
            "--budget",
            "80",
        ],
    );
    report(&m, &d.join("out"));
    let map = std::fs::read_to_string(d.join("out/map.svg")).unwrap();
    assert_round(&texts(&map, "xtick"), "map x");
    assert_round(&texts(&map, "ytick"), "map y");
    let legend = texts(&map, "legend");
    assert_eq!(legend[0], "value of the elite");
    assert_round(&legend[1..], "map colour scale");
}

#[test]
fn bench_regret_curves_use_a_log_axis_with_bands() {
    let d = tempdir("plots", "bench");
    hnas()
        .args(["bench", "--space"])
        .arg(root().join("examples/spaces/nb201.hnas"))
        .args(["--evaluator", "nb201:cifar10", "--strategies", "random,rea"])
        .args(["--seeds", "6", "--budget", "40", "--at", "20,40", "--out"])
        .arg(d.join("b"))
        .succeeds();
    let svg = std::fs::read_to_string(d.join("b/curves.svg")).unwrap();
    assert!(svg.contains("(log scale; 0 drawn at "), "{svg}");
    let ticks: Vec<f64> = texts(&svg, "ytick")
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    assert!(ticks.len() >= 2);
    for t in &ticks {
        let m = t / 10f64.powf(t.log10().floor());
        assert!(
            [1.0, 2.0, 5.0].iter().any(|k| (m - k).abs() < 1e-6),
            "log tick {t} is not 1, 2 or 5 times a power of ten"
        );
    }
    assert_round(&texts(&svg, "xtick"), "bench x");
    assert_eq!(svg.matches("<polygon").count(), 2, "one band per strategy");
    assert!(texts(&svg, "legend").contains(&"± 1 standard error".to_string()));
}

#[test]
fn bench_tables_name_the_regret_metric_give_four_digits_and_warn_on_the_objective() {
    let out = hnas()
        .args(["bench", "--space"])
        .arg(root().join("examples/spaces/nb201.hnas"))
        .args([
            "--evaluator",
            "nb201:cifar10",
            "--strategies",
            "random",
            "--seeds",
            "4",
        ])
        .args([
            "--budget",
            "20",
            "--at",
            "20",
            "--objective",
            "max:test_200",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("regret (test_200) @20"), "{text}");
    assert!(
        text.contains("note: the regret metric test_200 is the search objective itself"),
        "{text}"
    );
    // Four significant digits: a mean like 1.234 ± 0.5678, never 0.000.
    let row = text.lines().find(|l| l.starts_with("│ random")).unwrap();
    let cell = row.split('┆').nth(1).unwrap().trim();
    let (m, se) = cell.split_once(" ± ").unwrap();
    for v in [m, se] {
        let digits: String = v.chars().filter(|c| c.is_ascii_digit()).collect();
        let significant = digits.trim_start_matches('0');
        assert!(
            significant.len() == 4 || v.parse::<f64>().unwrap() == 0.0,
            "{cell}"
        );
    }
}
