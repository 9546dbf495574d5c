//! `hnas serve`: a read-only live dashboard of a study. The page polls `/api/trials` each
//! second, so it follows a search running in another process; the figures are the report's,
//! drawn afresh from the store on each request.

use crate::report_cmd::{self, Loaded};
use anyhow::{Context, Result};
use clap::Args;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// The study file (or PostgreSQL URL).
    #[arg(long)]
    pub study: PathBuf,
    /// Address to listen on (loopback by default: the dashboard has no authentication).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

pub fn run(a: ServeArgs) -> Result<()> {
    // Fail now, with the report's message, rather than on the first request.
    report_cmd::load(&a.study)?;
    let listener = TcpListener::bind((a.host.as_str(), a.port))
        .with_context(|| format!("cannot listen on {}:{}", a.host, a.port))?;
    let addr = listener.local_addr()?;
    println!(
        "serving {} on http://{addr}/ (read-only; Ctrl-C stops)",
        a.study.display()
    );
    std::io::stdout().flush()?;
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        let study = a.study.clone();
        std::thread::spawn(move || {
            let _ = handle(stream, &study);
        });
    }
    Ok(())
}

fn respond(mut s: TcpStream, status: &str, kind: &str, body: &[u8]) -> std::io::Result<()> {
    write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    s.flush()
}

fn handle(stream: TcpStream, study: &std::path::Path) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // Headers are read and ignored: every route is a plain GET.
    let mut h = String::new();
    while reader.read_line(&mut h)? > 2 {
        h.clear();
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target.split('?').next().unwrap_or("/");
    if method != "GET" {
        return respond(
            stream,
            "405 Method Not Allowed",
            "text/plain",
            b"read-only: GET only\n",
        );
    }
    let text = |s: String| s.into_bytes();
    match path {
        "/" | "/index.html" => respond(
            stream,
            "200 OK",
            "text/html; charset=utf-8",
            PAGE.as_bytes(),
        ),
        "/api/trials" => match report_cmd::load(study) {
            Ok(l) => respond(stream, "200 OK", "application/json", &text(trials_json(&l))),
            Err(e) => respond(
                stream,
                "500 Internal Server Error",
                "text/plain",
                &text(format!("{e:#}\n")),
            ),
        },
        p if p.starts_with("/figure/") => {
            let l = match report_cmd::load(study) {
                Ok(l) => l,
                Err(e) => {
                    return respond(
                        stream,
                        "500 Internal Server Error",
                        "text/plain",
                        &text(format!("{e:#}\n")),
                    )
                }
            };
            let svg = match p.trim_start_matches("/figure/") {
                "best.svg" => {
                    report_cmd::hypervolume_svg(&l).or_else(|| report_cmd::best_so_far_svg(&l))
                }
                "front.svg" => report_cmd::front_svg(&l.goals, &l.trials),
                "map.svg" => report_cmd::map_svg(&l),
                "decisions.svg" => report_cmd::decision_frequencies_svg(&l, 5),
                _ => None,
            };
            match svg {
                Some(s) => respond(stream, "200 OK", "image/svg+xml", s.as_bytes()),
                None => respond(
                    stream,
                    "404 Not Found",
                    "text/plain",
                    b"no such figure for this study\n",
                ),
            }
        }
        _ => respond(stream, "404 Not Found", "text/plain", b"not found\n"),
    }
}

/// The study for the page: its settings and every trial with its objectives' values.
fn trials_json(l: &Loaded) -> String {
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

const PAGE: &str = r##"<!DOCTYPE html>
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
