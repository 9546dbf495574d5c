//! `hnas serve` in a real headless Chromium: the dashboard loads without console errors,
//! shows the study's trials, follows a search running in another process, sorts and filters,
//! and a screenshot is taken. Needs Debian's `chromium` and `npm ci` in tests/dashboard
//! (`.ci/run` does both); elsewhere it prints a notice and skips, except under `CI=true`.

mod common;
use common::{root, tempdir, Succeeds};

use assert_cmd::cargo::cargo_bin;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

fn search(study: &Path, budget: u32) {
    Command::new(cargo_bin("hnas"))
        .args([
            "search",
            "--quiet",
            "--evaluator",
            "hash",
            "--objective",
            "max:score",
            "--strategy",
            "rea",
        ])
        .arg("--budget")
        .arg(budget.to_string())
        .arg("--space")
        .arg(root().join("examples/spaces/nb201.hnas"))
        .arg("--study")
        .arg(study)
        .succeeds();
}

/// A served study: the server process and its address.
struct Server(std::process::Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(study: &Path) -> Server {
    let mut child = Command::new(cargo_bin("hnas"))
        .args(["serve", "--port", "0", "--study"])
        .arg(study)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("an address")
        .to_string();
    Server(child, url)
}

fn get(url: &str, path: &str) -> (String, String) {
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(hostport).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {hostport}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

#[test]
fn the_api_serves_trials_and_figures_read_only() {
    let d = tempdir("serve-cli", "api");
    let s = d.join("s.db");
    search(&s, 5);
    let server = serve(&s);
    let (status, body) = get(&server.1, "/api/trials");
    assert!(status.contains("200"), "{status}");
    let j: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(j["trials"].as_array().unwrap().len(), 5);
    assert_eq!(j["objectives"][0], "max:score");
    let (status, svg) = get(&server.1, "/figure/best.svg");
    assert!(
        status.contains("200") && svg.starts_with("<svg"),
        "{status}"
    );
    assert!(
        get(&server.1, "/figure/front.svg").0.contains("404"),
        "one objective: no front"
    );
    assert!(get(&server.1, "/nothing").0.contains("404"));
    let (status, page) = get(&server.1, "/");
    assert!(status.contains("200") && page.contains("<table id=\"trials\">"));
    let o = Command::new(cargo_bin("hnas"))
        .args(["serve", "--study"])
        .arg(d.join("missing.db"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no study at"));
}

#[test]
fn the_dashboard_follows_a_running_search_in_headless_chromium() {
    let dash = root().join("crates/hnas-cli/tests/dashboard");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready =
        Path::new(&chromium).is_file() && dash.join("node_modules/playwright-core").is_dir();
    if !ready {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: the dashboard test needs {chromium} and `npm ci` in {} (.ci/run installs both)",
            dash.display()
        );
        eprintln!("notice: skipping the browser test: needs {chromium} (apt-get install chromium) and `npm ci` in {}", dash.display());
        return;
    }
    let d = tempdir("serve-cli", "browser");
    let s = d.join("s.db");
    search(&s, 5);
    let server = serve(&s);
    let shot = d.join("dashboard.png");
    let mut node = Command::new("node")
        .current_dir(&dash)
        .arg("check.mjs")
        .arg(&server.1)
        .arg(&shot)
        .args(["5", "8"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(node.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        "READY 5",
        "the page shows the study's five trials"
    );
    // Another process extends the study while the page is open.
    search(&s, 8);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    node.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = node.wait().unwrap();
    assert!(status.success(), "{rest}\n{err}");
    assert!(rest.contains("UPDATED 8"), "{rest}");
    assert!(
        rest.contains("STATUS "),
        "the page shows the study's state: {rest}"
    );
    assert!(
        rest.contains("FIGURES 2"),
        "best-so-far and decisions: {rest}"
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a screenshot of the page"
    );
    // Keep the screenshot where CI and people can look at it.
    let keep = root().join("target/dashboard.png");
    let _ = std::fs::copy(&shot, keep);
}
