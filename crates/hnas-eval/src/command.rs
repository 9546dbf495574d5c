//! Any program as an evaluator: `command:["python3","train.py"]`.
//!
//! Each evaluation runs the program once (argv as given, never through a shell) with the
//! candidate in a JSON file named by `HNAS_CANDIDATE` (or on stdin), and reads the metrics
//! back from the file named by `HNAS_RESULT`, or else from the last JSON object line on
//! stdout. A time limit kills the program's whole process group; failures are retried up to
//! a cap; a failure keeps the tail of the program's stderr.

use crate::{EvalError, Evaluator, Metrics, TrialInfo};
use hnas_space::{Candidate, Space};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// How much of a failed program's stderr is kept with the trial.
const STDERR_TAIL: usize = 2000;

/// The settings of a command evaluator, as written after `command:` (a JSON array is the
/// argv alone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// The metrics the program reports (checked against the study's objectives before the
    /// search starts); empty: not declared, checked per trial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<String>,
    /// Seconds before the program's process group is killed and the trial fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// How many times a failed evaluation is run again.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// Also write the candidate JSON to the program's stdin.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stdin: bool,
    /// Stop a running evaluation whose intermediate reports are poor (the median
    /// stopping rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<EarlyStop>,
}

/// The median stopping rule (Golovin et al., KDD 2017, in its best-so-far form): at its
/// `k`-th report of `metric` (k > `after`), an evaluation stops when its best value so far
/// is worse than the median of the best values that at least three completed evaluations
/// had reached by their `k`-th report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStop {
    /// The reported metric to watch (a field of the per-epoch JSON lines).
    pub metric: String,
    /// `max` or `min`.
    #[serde(default = "max_mode")]
    pub mode: String,
    /// Reports always allowed before the rule applies.
    #[serde(default = "two")]
    pub after: usize,
}

fn max_mode() -> String {
    "max".into()
}

fn two() -> usize {
    2
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// An external program as evaluator.
pub struct CommandEvaluator {
    name: String,
    spec: CommandSpec,
    /// Best-so-far curves (oriented: higher is better) of completed evaluations, for the
    /// stopping rule.
    curves: std::sync::Mutex<Vec<Vec<f64>>>,
}

impl CommandEvaluator {
    /// Parses the text after `command:`: a JSON array (argv) or object ([`CommandSpec`]).
    pub fn parse(text: &str) -> Result<Self, EvalError> {
        let bad = |why: String| {
            EvalError::Fatal(format!(
                "evaluator 'command:{text}': {why}; expected command:[\"PROGRAM\", \"ARG\", ...] or command:{{\"argv\": [...], \"metrics\": [...], \"timeout\": SECONDS, \"retries\": N, \"stdin\": BOOL}}"
            ))
        };
        let spec: CommandSpec = if text.trim_start().starts_with('[') {
            CommandSpec {
                argv: serde_json::from_str(text).map_err(|e| bad(e.to_string()))?,
                metrics: Vec::new(),
                timeout: None,
                retries: 0,
                stdin: false,
                early_stop: None,
            }
        } else {
            serde_json::from_str(text).map_err(|e| bad(e.to_string()))?
        };
        if spec.argv.is_empty() || spec.argv[0].is_empty() {
            return Err(bad("the argv names no program".into()));
        }
        if let Some(e) = &spec.early_stop {
            if e.mode != "max" && e.mode != "min" {
                return Err(bad(format!(
                    "early_stop.mode '{}' is not max or min",
                    e.mode
                )));
            }
        }
        if spec.timeout.is_some_and(|t| !(t.is_finite() && t > 0.0)) {
            return Err(bad(
                "the timeout must be a positive number of seconds".into()
            ));
        }
        Ok(Self::new(spec))
    }

    pub fn new(spec: CommandSpec) -> Self {
        let name = format!(
            "command:{}",
            serde_json::to_string(&spec).expect("spec serializes")
        );
        CommandEvaluator {
            name,
            spec,
            curves: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn run_once(
        &self,
        space: &Space,
        c: &Candidate,
        fidelity: Option<f64>,
        info: &TrialInfo,
        attempt: u32,
    ) -> Result<Metrics, EvalError> {
        let dir = scratch_dir(info, attempt)?;
        let result = (|| {
            let input = serde_json::json!({
                "trial": info.trial,
                "seed": info.seed,
                "attempt": attempt,
                "fidelity": fidelity,
                "candidate": space.print(c),
                "tree": space.to_json(c),
                "hash": hnas_space::fingerprint_text(&space.print(c)),
                "canonical_hash": space.canonical_hash(c),
                "space": space.file_name(),
            });
            let input = serde_json::to_vec_pretty(&input).expect("json serializes");
            let cand_path = dir.join("candidate.json");
            let result_path = dir.join("result.json");
            std::fs::write(&cand_path, &input).map_err(|e| {
                EvalError::Fatal(format!("cannot write {}: {e}", cand_path.display()))
            })?;
            let mut cmd = std::process::Command::new(&self.spec.argv[0]);
            cmd.args(&self.spec.argv[1..])
                .env("HNAS_CANDIDATE", &cand_path)
                .env("HNAS_RESULT", &result_path)
                .env("HNAS_TRIAL", info.trial.to_string())
                .env("HNAS_SEED", info.seed.to_string())
                .env("HNAS_ATTEMPT", attempt.to_string())
                .env(
                    "HNAS_FIDELITY",
                    fidelity.map(|f| f.to_string()).unwrap_or_default(),
                )
                .stdin(if self.spec.stdin {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            if let Some(d) = &info.device {
                // The program sees its one GPU as cuda:0 (what torch.device(HNAS_DEVICE) takes).
                cmd.env("CUDA_VISIBLE_DEVICES", physical_gpu(d))
                    .env("HNAS_DEVICE", "cuda:0");
            }
            #[cfg(unix)]
            {
                use std::os::unix::process::CommandExt;
                // Its own process group, so that a time-out kills everything it started.
                cmd.process_group(0);
            }
            let mut child = cmd.spawn().map_err(|e| {
                let what = format!("cannot run '{}': {e}", self.spec.argv[0]);
                match e.kind() {
                    // No trial can succeed: stop the study rather than fail every trial.
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                        EvalError::Fatal(what)
                    }
                    _ => EvalError::Failed(what),
                }
            })?;
            if self.spec.stdin {
                let mut pipe = child.stdin.take().expect("stdin is piped");
                let data = input.clone();
                std::thread::spawn(move || {
                    // A program that does not read its stdin closes the pipe: not an error.
                    let _ = pipe.write_all(&data);
                });
            }
            let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
            let out = line_reader(child.stdout.take().expect("stdout is piped"), lines_tx);
            let err = reader(child.stderr.take().expect("stderr is piped"));
            let mut watch = Watch::new(self);
            let ended = wait(&mut child, self.spec.timeout, &mut || {
                while let Ok(line) = lines.try_recv() {
                    if watch.report(&line) {
                        return true;
                    }
                }
                false
            });
            let stdout = out.join().unwrap_or_default();
            let stderr = err.join().unwrap_or_default();
            let tail = tail_of(&stderr);
            let status = match ended {
                Ended::Exited(s) => s,
                Ended::TimedOut => {
                    return Err(EvalError::Failed(format!(
                        "timed out after {} s; the process group was killed{tail}",
                        self.spec.timeout.unwrap_or_default()
                    )))
                }
                Ended::Stopped => {
                    return Err(EvalError::Stopped {
                        reason: watch.why.clone(),
                        metrics: watch.last.clone(),
                    })
                }
            };
            if !status.success() {
                return Err(EvalError::Failed(format!(
                    "the command {}{tail}",
                    describe(&status)
                )));
            }
            let text = match std::fs::read_to_string(&result_path) {
                Ok(t) => t,
                Err(_) => last_json_line(&stdout).ok_or_else(|| {
                    EvalError::Failed(format!(
                        "the command wrote no result: no $HNAS_RESULT file and no JSON object line on stdout{tail}"
                    ))
                })?,
            };
            let m =
                parse_metrics(&text).map_err(|why| EvalError::Failed(format!("{why}{tail}")))?;
            watch.finish();
            Ok(m)
        })();
        let _ = std::fs::remove_dir_all(&dir);
        result
    }
}

impl Evaluator for CommandEvaluator {
    fn name(&self) -> &str {
        &self.name
    }

    fn metrics(&self) -> Vec<String> {
        self.spec.metrics.clone()
    }

    fn evaluate(
        &self,
        space: &Space,
        c: &Candidate,
        fidelity: Option<f64>,
    ) -> Result<Metrics, EvalError> {
        self.evaluate_trial(space, c, fidelity, &TrialInfo::default())
    }

    fn evaluate_trial(
        &self,
        space: &Space,
        c: &Candidate,
        fidelity: Option<f64>,
        info: &TrialInfo,
    ) -> Result<Metrics, EvalError> {
        let mut attempt = 1;
        loop {
            match self.run_once(space, c, fidelity, info, attempt) {
                Err(EvalError::Failed(why)) if attempt <= self.spec.retries => {
                    let _ = why;
                    attempt += 1;
                }
                Err(EvalError::Failed(why)) if attempt > 1 => {
                    return Err(EvalError::Failed(format!(
                        "failed {attempt} times; the last: {why}"
                    )))
                }
                other => return other,
            }
        }
    }

    fn cost(&self, fidelity: Option<f64>) -> f64 {
        fidelity.unwrap_or(1.0)
    }

    fn cost_unit(&self) -> &str {
        "units"
    }
}

fn scratch_dir(info: &TrialInfo, attempt: u32) -> Result<PathBuf, EvalError> {
    // Unique per evaluation: several may run at once in one process (threads, tests).
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "hnas-command-{}-{n}-s{}-t{}-a{attempt}",
        std::process::id(),
        info.seed,
        info.trial
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| EvalError::Fatal(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

/// Follows an evaluation's reports for the stopping rule.
struct Watch<'a> {
    eval: &'a CommandEvaluator,
    /// Best-so-far of the watched metric at each report (oriented).
    curve: Vec<f64>,
    /// The numeric fields of the last report.
    last: Metrics,
    why: String,
}

impl<'a> Watch<'a> {
    fn new(eval: &'a CommandEvaluator) -> Self {
        Watch {
            eval,
            curve: Vec::new(),
            last: Metrics::new(),
            why: String::new(),
        }
    }

    /// Takes one stdout line; `true` when the evaluation should stop.
    fn report(&mut self, line: &str) -> bool {
        let Some(rule) = &self.eval.spec.early_stop else {
            return false;
        };
        let line = line.trim();
        if !(line.starts_with('{') && line.ends_with('}')) {
            return false;
        }
        let Ok(m) = parse_metrics(line) else {
            return false;
        };
        let Some(&v) = m.get(&rule.metric).filter(|v| v.is_finite()) else {
            return false;
        };
        let v = if rule.mode == "min" { -v } else { v };
        let best = self.curve.last().map_or(v, |b| b.max(v));
        self.curve.push(best);
        self.last = m;
        let k = self.curve.len();
        if k <= rule.after {
            return false;
        }
        let curves = self.eval.curves.lock().expect("curves lock");
        let mut others: Vec<f64> = curves
            .iter()
            .filter_map(|c| c.get(k - 1).copied())
            .collect();
        if others.len() < 3 {
            return false;
        }
        others.sort_by(f64::total_cmp);
        let median = if others.len() % 2 == 1 {
            others[others.len() / 2]
        } else {
            (others[others.len() / 2 - 1] + others[others.len() / 2]) / 2.0
        };
        if best < median {
            let shown = |x: f64| if rule.mode == "min" { -x } else { x };
            self.why = format!(
                "stopped early at report {k}: best {} {} so far, below the median {} of {} completed evaluations at that point",
                rule.metric,
                shown(best),
                shown(median),
                others.len()
            );
            return true;
        }
        false
    }

    /// A completed evaluation's curve joins the history.
    fn finish(self) {
        if self.eval.spec.early_stop.is_some() && !self.curve.is_empty() {
            self.eval
                .curves
                .lock()
                .expect("curves lock")
                .push(self.curve);
        }
    }
}

/// Reads lines as they come, passing each on, and gives back the whole text at the end.
fn line_reader(
    r: impl Read + Send + 'static,
    lines: std::sync::mpsc::Sender<String>,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        let mut r = std::io::BufReader::new(r);
        let mut buf = Vec::new();
        while let Ok(n) = r.read_until(b'\n', &mut buf) {
            if n == 0 {
                break;
            }
            let line = String::from_utf8_lossy(&buf).into_owned();
            let _ = lines.send(line.clone());
            all.push_str(&line);
            buf.clear();
        }
        all
    })
}

fn reader(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

enum Ended {
    Exited(std::process::ExitStatus),
    TimedOut,
    Stopped,
}

/// Waits for the child, killing its group at the time limit or when `stop` says so.
fn wait(child: &mut Child, timeout: Option<f64>, stop: &mut dyn FnMut() -> bool) -> Ended {
    let deadline = timeout.map(|t| Instant::now() + Duration::from_secs_f64(t));
    let mut nap = Duration::from_millis(1);
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Ended::Exited(s);
        }
        if stop() {
            kill_group(child);
            let _ = child.wait();
            return Ended::Stopped;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            kill_group(child);
            let _ = child.wait();
            return Ended::TimedOut;
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(50));
    }
}

fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    {
        // The child leads its own process group (process_group(0)): kill them all.
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
        unsafe {
            libc::kill(-(child.id() as i32), libc::SIGKILL);
        }
    }
    let _ = child.kill();
}

fn describe(status: &std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("was killed by signal {sig}");
        }
    }
    match status.code() {
        Some(c) => format!("exited with status {c}"),
        None => "ended abnormally".into(),
    }
}

fn tail_of(stderr: &str) -> String {
    let t = stderr.trim_end();
    if t.is_empty() {
        return String::new();
    }
    let start = t
        .char_indices()
        .map(|(i, _)| i)
        .find(|&i| t.len() - i <= STDERR_TAIL)
        .unwrap_or(t.len());
    format!("; stderr: {}", &t[start..])
}

/// The last stdout line holding a JSON object (earlier ones are progress reports).
fn last_json_line(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('{') && l.ends_with('}'))
        .map(str::to_string)
}

/// Numeric fields of a JSON object; `null` (and Python's bare NaN / Infinity, which are
/// not JSON) become NaN so that the study records the trial as failed with the metric's
/// name. Non-numeric fields are ignored.
fn parse_metrics(text: &str) -> Result<Metrics, String> {
    let value: serde_json::Value = match serde_json::from_str(text.trim()) {
        Ok(v) => v,
        Err(_) => {
            let patched = text
                .replace("-Infinity", "null")
                .replace("Infinity", "null")
                .replace("NaN", "null");
            serde_json::from_str(patched.trim()).map_err(|e| {
                let shown: String = text.trim().chars().take(200).collect();
                format!("the result is not a JSON object ({e}): {shown}")
            })?
        }
    };
    let obj = value
        .as_object()
        .ok_or_else(|| "the result is not a JSON object".to_string())?;
    let mut m = Metrics::new();
    for (k, v) in obj {
        match v {
            serde_json::Value::Number(n) => {
                m.insert(k.clone(), n.as_f64().unwrap_or(f64::NAN));
            }
            serde_json::Value::Null => {
                m.insert(k.clone(), f64::NAN);
            }
            _ => {}
        }
    }
    if m.is_empty() {
        return Err("the result holds no numeric metric".into());
    }
    Ok(m)
}

/// The CUDA_VISIBLE_DEVICES entry of hnas's `cuda:N`: N counts among the GPUs hnas itself
/// sees, so under CUDA_VISIBLE_DEVICES=2,3 its cuda:1 is the machine's GPU 3.
fn physical_gpu(device: &str) -> String {
    let n = device.strip_prefix("cuda:").unwrap_or(device);
    let visible = std::env::var("CUDA_VISIBLE_DEVICES").unwrap_or_default();
    let visible: Vec<&str> = visible
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .collect();
    match n.parse::<usize>() {
        Ok(i) if i < visible.len() => visible[i].to_string(),
        _ => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_parse_with_nan_and_ignore_text() {
        let m = parse_metrics(r#"{"acc": 91.5, "loss": NaN, "note": "ok"}"#).unwrap();
        assert_eq!(m["acc"], 91.5);
        assert!(m["loss"].is_nan());
        assert!(!m.contains_key("note"));
        assert!(parse_metrics("garbage")
            .unwrap_err()
            .contains("not a JSON object"));
        assert!(parse_metrics("[1, 2]")
            .unwrap_err()
            .contains("not a JSON object"));
        assert!(parse_metrics(r#"{"a": "x"}"#)
            .unwrap_err()
            .contains("no numeric"));
        assert_eq!(
            last_json_line("epoch 1\n{\"epoch\": 1}\nnoise\n{\"acc\": 1}\nbye\n").unwrap(),
            "{\"acc\": 1}"
        );
    }

    #[test]
    fn specs_parse_and_name_themselves() {
        let e = CommandEvaluator::parse(r#"["python3", "t.py"]"#).unwrap();
        assert_eq!(e.name(), r#"command:{"argv":["python3","t.py"]}"#);
        let e = CommandEvaluator::parse(
            r#"{"argv": ["x"], "metrics": ["acc"], "timeout": 5, "retries": 2}"#,
        )
        .unwrap();
        assert_eq!(e.metrics(), vec!["acc".to_string()]);
        assert_eq!(
            CommandEvaluator::parse(&e.name()["command:".len()..])
                .unwrap()
                .spec,
            e.spec
        );
        for bad in [
            r#"[]"#,
            r#"{"argv": ["x"], "timeout": -1}"#,
            r#"{"argv": ["x"], "shell": true}"#,
            "python3 t.py",
        ] {
            assert!(CommandEvaluator::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
