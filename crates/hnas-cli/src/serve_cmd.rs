//! `hnas serve`: a read-only live dashboard of a study. The page polls `/api/trials` each
//! second, so it follows a search running in another process; the figures are the report's,
//! drawn afresh from the store on each request.

use anyhow::{Context, Result};
use clap::Args;
use hnas_report::{dashboard, StudyData};
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
    StudyData::load(&a.study.to_string_lossy())?;
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
            dashboard::PAGE.as_bytes(),
        ),
        "/api/trials" => match StudyData::load(&study.to_string_lossy()) {
            Ok(l) => respond(
                stream,
                "200 OK",
                "application/json",
                &text(dashboard::trials_json(&l)),
            ),
            Err(e) => respond(
                stream,
                "500 Internal Server Error",
                "text/plain",
                &text(format!("{e:#}\n")),
            ),
        },
        p if p.starts_with("/figure/") => {
            let l = match StudyData::load(&study.to_string_lossy()) {
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
            let svg = dashboard::figure(&l, p.trim_start_matches("/figure/"));
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
