//! The live dashboard's page and data. The page polls [`trials_json`] each second and
//! redraws the figures from `/figure/NAME` ([`figure`]), so it follows a search running in
//! another process; a server (`hnas serve`) only routes requests to these.

use crate::StudyData;

/// A figure of the report by its file name, as the page shows it (the decisions of the top
/// five); `None` when the study has no such figure.
pub fn figure(l: &StudyData, name: &str) -> Option<String> {
    crate::figure(l, name, 5)
}

/// The study for the page: its settings and every trial with its objectives' values.
pub fn trials_json(l: &StudyData) -> String {
    let objectives: Vec<String> = l.goals.objectives.iter().map(|o| o.to_string()).collect();
    let trials: Vec<serde_json::Value> = l
        .trials
        .iter()
        .map(|t| {
            let values: Vec<Option<f64>> = l
                .goals
                .objectives
                .iter()
                .map(|o| o.value(&t.metrics).filter(|v| v.is_finite()))
                .collect();
            let report: Vec<Option<f64>> = l
                .settings
                .report
                .iter()
                .map(|m| t.metrics.get(m).copied().filter(|v| v.is_finite()))
                .collect();
            serde_json::json!({
                "number": t.number,
                "state": t.state.to_string(),
                "values": values,
                "report": report,
                "fidelity": t.fidelity,
                "duplicate_of": t.duplicate_of,
                "error": t.error,
                "candidate": t.candidate,
            })
        })
        .collect();
    let complete = l
        .trials
        .iter()
        .filter(|t| t.state == hnas_store::TrialState::Complete)
        .count();
    let mut figures = Vec::new();
    if complete > 0 {
        figures.push("best.svg");
    }
    if l.goals.objectives.len() > 1 && complete > 0 {
        figures.push("front.svg");
    }
    if l.settings.strategy.starts_with("mapelites") && complete > 0 {
        figures.push("map.svg");
    }
    if complete > 1 {
        figures.push("decisions.svg");
    }
    // Whether a search is still at work: a trial in progress, or one finished in the last
    // half minute while the budget is not reached (a study file cannot say more).
    let counted = l.trials.iter().filter(|t| t.counted).count() as u64;
    let budget = l.settings.budget;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let in_progress = l.trials.iter().any(|t| {
        matches!(
            t.state,
            hnas_store::TrialState::Running | hnas_store::TrialState::Pending
        )
    });
    let recent = l
        .trials
        .iter()
        .filter_map(|t| t.finished_at)
        .any(|f| now - f < 30.0);
    let running = counted < budget && (in_progress || recent);
    serde_json::json!({
        "running": running,
        "counted": counted,
        "budget": (budget != u64::MAX).then_some(budget),
        "figures": figures,
        "study": l.name,
        "space": l.settings.space_file,
        "strategy": l.settings.strategy,
        "evaluator": l.settings.evaluator,
        "objectives": objectives,
        "report": l.settings.report,
        "trials": trials,
    })
    .to_string()
}

pub const PAGE: &str = r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>hnas dashboard</title><link rel="icon" href="data:,">
<style>
body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;font-size:13px;margin-top:.5em}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f3f3f3;cursor:pointer;user-select:none}
td.cand{text-align:left;font-family:monospace;font-size:11px;max-width:640px;overflow-wrap:anywhere}
tr.failed td{color:#a33}
#figures img{max-width:48%;margin:0 1em 1em 0;border:1px solid #eee;vertical-align:top}
.muted{color:#777}
#status.running{color:#1a7f37}
#status.finished{color:#555}
</style></head>
<body>
<h1>hnas <span id="study"></span></h1>
<p id="about" class="muted"></p>
<p><b id="count">loading…</b> <span id="status"></span> <progress id="progress" max="1" value="0"></progress> <span class="muted">(updates every second; newest trial first)</span></p>
<div id="figures"></div>
<label>filter: <input id="filter" placeholder="state, op, value…"></label>
<table id="trials"><thead></thead><tbody></tbody></table>
<script>
"use strict";
let data = null, sortKey = "number", sortDesc = true, shown = -1;
const fmt = v => v === null || v === undefined ? "—" : (Number.isInteger(v) ? String(v) : v.toFixed(4));
function columns() {
  const c = [["number", "trial"], ["state", "state"]];
  data.objectives.forEach((o, i) => c.push(["v" + i, o]));
  data.report.forEach((r, i) => c.push(["r" + i, r]));
  c.push(["candidate", "candidate"]);
  return c;
}
function cell(t, key) {
  if (key.startsWith("v")) return t.values[+key.slice(1)];
  if (key.startsWith("r")) return t.report[+key.slice(1)];
  return t[key];
}
function render() {
  if (!data) return;
  const cols = columns();
  const head = document.querySelector("#trials thead");
  head.innerHTML = "";
  const hr = document.createElement("tr");
  for (const [k, label] of cols) {
    const th = document.createElement("th");
    th.textContent = label + (k === sortKey ? (sortDesc ? " ▼" : " ▲") : "");
    th.onclick = () => { if (sortKey === k) sortDesc = !sortDesc; else { sortKey = k; sortDesc = k.startsWith("v"); } render(); };
    hr.appendChild(th);
  }
  head.appendChild(hr);
  const q = document.getElementById("filter").value.toLowerCase();
  let rows = data.trials.filter(t => !q || JSON.stringify(t).toLowerCase().includes(q));
  rows.sort((a, b) => {
    const x = cell(a, sortKey), y = cell(b, sortKey);
    const r = (x === null || x === undefined) ? 1 : (y === null || y === undefined) ? -1 : (x < y ? -1 : x > y ? 1 : 0);
    return sortDesc ? -r : r;
  });
  const body = document.querySelector("#trials tbody");
  body.innerHTML = "";
  for (const t of rows) {
    const tr = document.createElement("tr");
    tr.className = t.state;
    for (const [k] of cols) {
      const td = document.createElement("td");
      const v = cell(t, k);
      td.textContent = typeof v === "number" ? fmt(v) : (v ?? "—");
      if (k === "candidate") { td.className = "cand"; if (t.error) td.title = t.error; }
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}
function figures() {
  const box = document.getElementById("figures");
  box.innerHTML = "";
  for (const n of data.figures) {
    const img = document.createElement("img");
    img.alt = n;
    img.src = "/figure/" + n + "?n=" + shown;
    box.appendChild(img);
  }
}
async function poll() {
  try {
    const r = await fetch("/api/trials");
    if (r.ok) {
      data = await r.json();
      document.getElementById("study").textContent = data.study;
      document.getElementById("about").textContent =
        `space ${data.space}, strategy ${data.strategy}, evaluator ${data.evaluator}`;
      const n = data.trials.length;
      document.getElementById("count").textContent = n + " trials";
      const of = data.budget === null ? "" : `${data.counted}/${data.budget} counted`;
      document.getElementById("status").textContent =
        (data.running ? "● running" : "■ finished") + (of ? ": " + of : "");
      document.getElementById("status").className = data.running ? "running" : "finished";
      const bar = document.getElementById("progress");
      if (data.budget === null) bar.removeAttribute("value");
      else { bar.max = data.budget; bar.value = Math.min(data.counted, data.budget); }
      if (n !== shown) { shown = n; render(); figures(); }
    }
  } catch (e) { /* the server restarts or the study is being written: try again */ }
  setTimeout(poll, 1000);
}
document.getElementById("filter").addEventListener("input", render);
poll();
</script>
</body></html>
"##;
