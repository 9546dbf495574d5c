//! # hnas-report: what a study looks like
//!
//! Figures (SVG) and pages of a study read back with [`StudyData`]: the best-so-far curve,
//! the hypervolume of the front so far, the Pareto front with its reference point, the
//! MAP-Elites map, which decisions the top candidates share, a drawing of each top
//! architecture, and the self-contained HTML report ([`html`], [`write_report`]). The live
//! dashboard's page and data are in [`dashboard`]; the chart primitives in [`svg`]. Used by
//! the `hnas` binary (`hnas report`, `hnas serve`, `hnas trials --plot`, `hnas bench --plot`)
//! and by the Python package (`study.report(dir)`).

mod chart;
pub mod dashboard;
pub mod svg;

use hnas_search::{Descriptor, Source};
use hnas_store::{TrialRecord, TrialState};
use hnas_study::Goals;
pub use hnas_study::StudyData;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use svg::esc;

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// Every complete trial's value (dots) and the best so far (a line), by trial number.
pub fn best_so_far_svg(l: &StudyData) -> Option<String> {
    let o = l.goals.primary();
    let pts: Vec<(f64, f64)> = l
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && l.goals.violation(t) == 0.0)
        .filter_map(|t| Some((t.number as f64, o.value(&t.metrics)?)))
        .filter(|p| p.1.is_finite())
        .collect();
    if pts.is_empty() {
        return None;
    }
    let mut best = Vec::new();
    let mut cur: Option<f64> = None;
    for &(x, y) in &pts {
        let better = cur.is_none_or(|c| if o.maximize() { y > c } else { y < c });
        if better {
            cur = Some(y);
        }
        best.push((x, cur.unwrap_or(y)));
    }
    Some(svg::scatter_with_line(
        &format!("{}: every trial and the best so far", o.label()),
        "trial",
        o.label(),
        &pts,
        &best,
        ("best so far", "trials"),
    ))
}

/// With several objectives, progress is the hypervolume of the front found so far, by trial
/// number, from the reference point the front plot draws (the worst feasible value of each
/// objective).
pub fn hypervolume_svg(l: &StudyData) -> Option<String> {
    let g = &l.goals;
    if g.objectives.len() < 2 {
        return None;
    }
    let reference = g.nadir(&l.trials);
    let oriented = g.oriented(&reference);
    let mut ordered: Vec<&TrialRecord> = l.trials.iter().collect();
    ordered.sort_by_key(|t| t.number);
    let mut front: Vec<Vec<f64>> = Vec::new();
    let mut line = Vec::new();
    for t in ordered {
        if t.state == TrialState::Complete && g.violation(t) == 0.0 {
            if let Some(v) = g.vector(t) {
                let dominated = front.iter().any(|f| f.iter().zip(&v).all(|(a, b)| a >= b));
                if !dominated {
                    front.retain(|f| !v.iter().zip(f).all(|(a, b)| a >= b));
                    front.push(v);
                }
            }
        }
        line.push((
            t.number as f64,
            hnas_search::pareto::hypervolume(&front, &oriented),
        ));
    }
    let shown: Vec<String> = reference.iter().map(|r| num(*r)).collect();
    Some(svg::scatter_with_line(
        &format!(
            "hypervolume of the front so far (reference point {})",
            shown.join(", ")
        ),
        "trial",
        "hypervolume",
        &[],
        &line,
        ("hypervolume", ""),
    ))
}

/// The Pareto front of the first two objectives, over all complete trials (`None` with one
/// objective).
pub fn front_svg(g: &Goals, trials: &[TrialRecord]) -> Option<String> {
    if g.objectives.len() < 2 {
        return None;
    }
    let xy = |t: &TrialRecord| {
        Some((
            g.objectives[0].value(&t.metrics)?,
            g.objectives[1].value(&t.metrics)?,
        ))
    };
    let complete = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.duplicate_of.is_none());
    let (feasible, infeasible): (Vec<&TrialRecord>, Vec<&TrialRecord>) =
        complete.partition(|t| g.violation(t) == 0.0);
    let front: Vec<(f64, f64)> = g.pareto_front(trials).into_iter().filter_map(xy).collect();
    let r = g.nadir(trials);
    Some(svg::front(
        &format!("Pareto front: {} vs {}", g.objectives[0], g.objectives[1]),
        &g.objectives[0].to_string(),
        &g.objectives[1].to_string(),
        &feasible.into_iter().filter_map(xy).collect::<Vec<_>>(),
        &front,
        &infeasible.into_iter().filter_map(xy).collect::<Vec<_>>(),
        Some((r[0], r[1])),
    ))
}

/// The MAP-Elites map, when the study's strategy is MAP-Elites.
pub fn map_svg(l: &StudyData) -> Option<String> {
    map_svg_over(l, &l.map_descriptors())
}

/// The map of the best trial per cell of one or two behaviour descriptors (`None` without
/// a descriptor).
pub fn map_svg_over(l: &StudyData, descriptors: &[Descriptor]) -> Option<String> {
    let dx = descriptors.first()?;
    let (archive, _) = l.archive(descriptors);
    let o = l.goals.primary();
    let raw = |s: f64| if o.maximize() { s } else { -s };
    let cells: Vec<((u32, u32), f64)> = archive
        .elites
        .iter()
        .map(|(c, (s, _, _))| ((c[0], c.get(1).copied().unwrap_or(0)), raw(*s)))
        .collect();
    Some(svg::heatmap(
        &format!("MAP-Elites elites: {}", o.label()),
        &map_axis(Some(dx)),
        &map_axis(descriptors.get(1)),
        &cells,
    ))
}

/// A map axis for a descriptor (a single bin when the map has one dimension).
pub fn map_axis(d: Option<&Descriptor>) -> svg::Axis {
    match d {
        Some(d) => svg::Axis {
            label: describe(d),
            bins: d.bins,
            lo: d.lo,
            hi: d.hi,
        },
        None => svg::Axis {
            label: String::new(),
            bins: 1,
            lo: 0.0,
            hi: 1.0,
        },
    }
}

/// What a descriptor measures, in words.
pub fn describe(d: &Descriptor) -> String {
    match &d.source {
        Source::Metric(m) => m.clone(),
        Source::Count(op) => format!("count of {op}"),
        Source::Size => "operations".into(),
    }
}

/// Each decision of a candidate, as (where, what): an operation's name at its place in the
/// tree, a parameter's value, a list's length, a DAG edge's operation.
fn decisions(j: &Json, at: &str, out: &mut Vec<(String, String)>) {
    match j {
        Json::Object(m) => {
            if let Some(op) = m.get("op").and_then(Json::as_str) {
                out.push((format!("{at} op"), op.to_string()));
                if let Some(Json::Object(args)) = m.get("args") {
                    for (k, v) in args {
                        decisions(v, &format!("{at}.{k}"), out);
                    }
                }
            } else if let Some(Json::Array(edges)) = m.get("dag") {
                for e in edges {
                    let name = format!("{at} edge {}→{}", e["from"], e["to"]);
                    match e.get("op") {
                        Some(Json::Object(o)) if o.get("args").is_none() => out.push((
                            name,
                            o.get("op")
                                .and_then(Json::as_str)
                                .unwrap_or("?")
                                .to_string(),
                        )),
                        Some(op) => decisions(op, &name, out),
                        None => {}
                    }
                }
            } else {
                for (k, v) in m {
                    decisions(v, &format!("{at}.{k}"), out);
                }
            }
        }
        Json::Array(items) => {
            out.push((format!("{at} length"), items.len().to_string()));
            for (i, it) in items.iter().enumerate() {
                decisions(it, &format!("{at}[{i}]"), out);
            }
        }
        Json::Null => {}
        v => out.push((at.to_string(), v.to_string().trim_matches('"').to_string())),
    }
}

/// For the decisions where the top candidates differ most from all complete trials: the
/// share of each option among the top and among all.
pub fn decision_frequencies_svg(l: &StudyData, top_n: usize) -> Option<String> {
    let all: Vec<&TrialRecord> = l
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.duplicate_of.is_none())
        .collect();
    let best = l.top(top_n.max(1));
    if all.len() < 2 || best.is_empty() {
        return None;
    }
    type Counts = BTreeMap<String, BTreeMap<String, (f64, f64)>>;
    let mut counts: Counts = BTreeMap::new();
    let tally = |t: &TrialRecord, top: bool, counts: &mut Counts| {
        let Ok(j) = serde_json::from_str::<Json>(&t.candidate_json) else {
            return;
        };
        let mut d = Vec::new();
        decisions(&j["root"], "", &mut d);
        if let Some(Json::Object(sh)) = j.get("shared") {
            for (k, v) in sh {
                decisions(v, &format!("@{k}"), &mut d);
            }
        }
        for (place, value) in d {
            let e = counts.entry(place).or_default().entry(value).or_default();
            if top {
                e.0 += 1.0;
            } else {
                e.1 += 1.0;
            }
        }
    };
    for t in &all {
        tally(t, false, &mut counts);
    }
    for t in &best {
        tally(t, true, &mut counts);
    }
    let (nt, na) = (best.len() as f64, all.len() as f64);
    // Total variation distance between the top's and everyone's choices at each place.
    // (distance, place, [(option, share among the top, share among all)])
    type Place = (f64, String, Vec<(String, f64, f64)>);
    let mut places: Vec<Place> = counts
        .into_iter()
        .filter(|(_, opts)| opts.len() > 1)
        .map(|(place, opts)| {
            let rows: Vec<(String, f64, f64)> = opts
                .into_iter()
                .map(|(v, (t, a))| (v, t / nt, a / na))
                .collect();
            let tv = rows.iter().map(|(_, t, a)| (t - a).abs()).sum::<f64>() / 2.0;
            (tv, place, rows)
        })
        .collect();
    places.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    places.truncate(8);
    if places.is_empty() {
        return None;
    }
    let groups: Vec<svg::BarGroup> = places
        .into_iter()
        .map(|(_, place, mut rows)| {
            rows.sort_by(|a, b| b.2.total_cmp(&a.2));
            rows.truncate(6);
            svg::BarGroup {
                label: if place.is_empty() {
                    "root".into()
                } else {
                    place.trim_start_matches('.').to_string()
                },
                bars: rows,
            }
        })
        .collect();
    Some(svg::paired_bars(
        &format!(
            "Decisions of the top {} against all {} complete trials",
            best.len(),
            all.len()
        ),
        &format!("top {}", best.len()),
        "all",
        &groups,
    ))
}

/// A drawing of one architecture: a DAG cell as a graph, anything else as nested blocks.
pub fn architecture_svg(t: &TrialRecord) -> Option<String> {
    let j: Json = serde_json::from_str(&t.candidate_json).ok()?;
    let root = j.get("root")?;
    let title = format!("trial {}", t.number);
    if let Some(Json::Array(edges)) = root.get("dag") {
        let edges: Vec<(u64, u64, String)> = edges
            .iter()
            .filter_map(|e| {
                let op = match e.get("op")? {
                    Json::Object(o) => o
                        .get("op")
                        .and_then(Json::as_str)
                        .unwrap_or("?")
                        .to_string(),
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Some((e.get("from")?.as_u64()?, e.get("to")?.as_u64()?, op))
            })
            .collect();
        return Some(svg::dag(&title, &edges));
    }
    let shared = j.get("shared").cloned().unwrap_or(Json::Null);
    let mut boxes = Vec::new();
    block_tree(root, &shared, 0, &mut boxes);
    Some(svg::blocks(&title, &boxes))
}

/// The blocks of a tree in drawing order: (depth, label).
fn block_tree(j: &Json, shared: &Json, depth: usize, out: &mut Vec<(usize, String)>) {
    if out.len() > 400 {
        return;
    }
    match j {
        Json::Object(m) => {
            if let Some(op) = m.get("op").and_then(Json::as_str) {
                let mut params = Vec::new();
                let mut kids = Vec::new();
                if let Some(Json::Object(args)) = m.get("args") {
                    for (k, v) in args {
                        match v {
                            Json::Object(_) | Json::Array(_) => kids.push((k.clone(), v)),
                            other => {
                                params.push(format!("{k}={}", other.to_string().trim_matches('"')))
                            }
                        }
                    }
                }
                let label = if params.is_empty() {
                    op.to_string()
                } else {
                    format!("{op}({})", params.join(", "))
                };
                out.push((depth, label));
                for (k, v) in kids {
                    match v {
                        Json::Array(items)
                            if items.iter().all(|i| i.get("op").is_some() || i.is_string()) =>
                        {
                            for it in items {
                                block_tree(it, shared, depth + 1, out);
                            }
                        }
                        Json::Object(o)
                            if o.get("op").and_then(Json::as_str).is_some()
                                && o.get("args").is_none() =>
                        {
                            out.push((
                                depth + 1,
                                format!("{k}: {}", o["op"].as_str().unwrap_or("?")),
                            ));
                        }
                        _ => block_tree(v, shared, depth + 1, out),
                    }
                }
            } else if let Some(Json::Array(edges)) = m.get("dag") {
                out.push((depth, format!("cell of {} edges", edges.len())));
                for e in edges {
                    let op = e
                        .get("op")
                        .and_then(|o| o.get("op"))
                        .and_then(Json::as_str)
                        .unwrap_or("?");
                    out.push((depth + 1, format!("{}→{}: {op}", e["from"], e["to"])));
                }
            } else if let Some(rule) = m.get("shared").and_then(Json::as_str) {
                out.push((depth, format!("@{rule}")));
                if let Some(b) = shared.get(rule) {
                    block_tree(b, &Json::Null, depth + 1, out);
                }
            }
        }
        Json::Array(items) => {
            for it in items {
                block_tree(it, shared, depth, out);
            }
        }
        Json::String(s) => out.push((depth, s.clone())),
        _ => {}
    }
}

/// The leaderboard as an HTML table.
fn leaderboard_html(l: &StudyData, rows: &[&TrialRecord]) -> String {
    let mut h = String::from("<table><thead><tr><th>rank</th><th>trial</th>");
    for o in &l.goals.objectives {
        let _ = write!(h, "<th>{}</th>", esc(&o.to_string()));
    }
    for r in &l.settings.report {
        let _ = write!(h, "<th>{}</th>", esc(r));
    }
    h.push_str("<th>candidate</th></tr></thead><tbody>");
    for (i, t) in rows.iter().enumerate() {
        let _ = write!(h, "<tr><td>{}</td><td>{}</td>", i + 1, t.number);
        for o in &l.goals.objectives {
            let _ = write!(
                h,
                "<td>{}</td>",
                o.value(&t.metrics).map_or("—".into(), num)
            );
        }
        for r in &l.settings.report {
            let _ = write!(
                h,
                "<td>{}</td>",
                t.metrics.get(r).map_or("—".into(), |v| num(*v))
            );
        }
        let _ = write!(h, "<td class=\"cand\">{}</td></tr>", esc(&t.candidate));
    }
    h.push_str("</tbody></table>");
    h
}

pub const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}\
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}\
th{background:#f3f3f3;cursor:pointer}td.cand{text-align:left;font-family:monospace;font-size:11px;max-width:600px;overflow-wrap:anywhere}\
figure{display:inline-block;margin:0 1em 1em 0}svg{max-width:100%;height:auto}.muted{color:#777}";

/// The report page.
pub fn html(l: &StudyData, top_n: usize) -> String {
    let complete = l
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .count();
    let failed = l
        .trials
        .iter()
        .filter(|t| t.state == TrialState::Failed)
        .count();
    let mut h = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>hnas report: {}</title><style>{STYLE}</style></head><body>",
        esc(&l.name)
    );
    let _ = write!(
        h,
        "<h1>hnas study {}</h1><p>space <code>{}</code>, strategy <code>{}</code>, evaluator <code>{}</code>, seed {}; objectives {}.</p>\
         <p>{} trials: {complete} complete, {failed} failed, {} others (duplicates, pruned, running).</p>",
        esc(&l.name),
        esc(&l.settings.space_file),
        esc(&l.settings.strategy),
        esc(&l.settings.evaluator),
        l.settings.seed,
        l.goals.objectives.iter().map(|o| format!("<code>{}</code>", esc(&o.to_string()))).collect::<Vec<_>>().join(", "),
        l.trials.len(),
        l.trials.len() - complete - failed,
    );
    if l.trials.is_empty() {
        h.push_str("<p class=\"muted\">The study holds no trials yet.</p></body></html>");
        return h;
    }
    let figure = |h: &mut String, id: &str, svg: Option<String>| {
        if let Some(s) = svg {
            let _ = write!(h, "<figure id=\"{id}\">{s}</figure>");
        }
    };
    h.push_str("<h2>Progress</h2>");
    match hypervolume_svg(l) {
        Some(hv) => figure(&mut h, "best", Some(hv)),
        None => figure(&mut h, "best", best_so_far_svg(l)),
    }
    if l.goals.objectives.len() > 1 {
        h.push_str("<h2>Pareto front</h2>");
        figure(&mut h, "front", front_svg(&l.goals, &l.trials));
    }
    if let Some(m) = map_svg(l) {
        h.push_str("<h2>Illumination (MAP-Elites)</h2>");
        figure(&mut h, "map", Some(m));
    }
    let best = l.top(top_n);
    h.push_str("<h2>Leaderboard</h2>");
    if best.is_empty() {
        h.push_str("<p class=\"muted\">No complete feasible trial yet.</p>");
    } else {
        h.push_str(&leaderboard_html(l, &l.top(20)));
    }
    if let Some(s) = decision_frequencies_svg(l, top_n) {
        h.push_str("<h2>What the top candidates share</h2>");
        figure(&mut h, "decisions", Some(s));
    }
    if !best.is_empty() {
        h.push_str("<h2>Top architectures</h2>");
        for t in &best {
            figure(&mut h, &format!("arch{}", t.number), architecture_svg(t));
        }
    }
    h.push_str("</body></html>\n");
    h
}

/// A benchmark's mean curves (± one standard error), one line per strategy, for
/// [`svg::curves`]: by trial (1 to `trials`), or with `by_cost = Some(total)` at 200 even
/// steps of cost up to `total`. Values are multiplied by `scale` (100 for percentages).
pub fn bench_series(
    result: &hnas_study::BenchResult,
    by_cost: Option<f64>,
    trials: usize,
    scale: f64,
) -> Vec<svg::Series> {
    result
        .curves
        .iter()
        .map(|c| svg::Series {
            label: c.strategy.clone(),
            points: match by_cost {
                Some(total) => (1..=200)
                    .map(|i| {
                        let x = total * i as f64 / 200.0;
                        let (m, se) = c.at_cost(x);
                        (x, m * scale, se * scale)
                    })
                    .collect(),
                None => (1..=trials)
                    .map(|t| {
                        let (m, se) = c.at(t);
                        (t as f64, m * scale, se * scale)
                    })
                    .collect(),
            },
        })
        .collect()
}

/// The figures a report shows, by file name: progress (hypervolume with several objectives,
/// else the best so far), the front, the map and the decisions; those a study lacks are
/// left out.
pub fn figures(l: &StudyData, top_n: usize) -> Vec<(&'static str, String)> {
    FIGURES
        .iter()
        .filter_map(|&name| Some((name, figure(l, name, top_n)?)))
        .collect()
}

/// The file names of the report's figures, in the page's order.
pub const FIGURES: [&str; 4] = ["best.svg", "front.svg", "map.svg", "decisions.svg"];

/// One figure of the report by its file name (one of [`FIGURES`]), drawn afresh; `None`
/// when the study has no such figure.
pub fn figure(l: &StudyData, name: &str, top_n: usize) -> Option<String> {
    match name {
        "best.svg" => hypervolume_svg(l).or_else(|| best_so_far_svg(l)),
        "front.svg" => front_svg(&l.goals, &l.trials),
        "map.svg" => map_svg(l),
        "decisions.svg" => decision_frequencies_svg(l, top_n),
        _ => None,
    }
}

/// Writes `index.html` and each figure as an `.svg` file into `dir` (created if needed);
/// returns the files written, the page first.
pub fn write_report(l: &StudyData, dir: &Path, top_n: usize) -> std::io::Result<Vec<PathBuf>> {
    let named = |e: std::io::Error, p: &Path| {
        std::io::Error::new(e.kind(), format!("cannot write {}: {e}", p.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| named(e, dir))?;
    let index = dir.join("index.html");
    std::fs::write(&index, html(l, top_n)).map_err(|e| named(e, &index))?;
    let mut files = vec![index];
    for (name, svg) in figures(l, top_n) {
        let p = dir.join(name);
        std::fs::write(&p, svg).map_err(|e| named(e, &p))?;
        files.push(p);
    }
    Ok(files)
}
