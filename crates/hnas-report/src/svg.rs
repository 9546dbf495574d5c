//! The SVG figures. The x–y charts (curves, scatter, Pareto front, heatmap) are drawn with
//! plotters ([`crate::chart`], re-exported here); the diagrams, which are no charts (a DAG
//! cell's arcs, nested blocks, the paired bars of the decisions the top candidates share),
//! are written directly. Round tick values for both come from [`nice_ticks`] and
//! [`log_ticks`].

pub use crate::chart::{curves, front, heatmap, scatter_with_line, Axis, Series};

use std::fmt::Write;

const W: f64 = 720.0;
const MT: f64 = 40.0;
const COLORS: &[&str] = &[
    "#444444", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
    "#e377c2", "#bcbd22",
];

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten, about
/// `n` of them, and the decimals their labels need.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> (Vec<f64>, usize) {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return (vec![lo], 0);
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    // The step whose tick count comes nearest `n` (ties to the larger step).
    let count = |s: f64| ((hi / s).floor() - (lo / s).ceil() + 1.0).max(0.0);
    let step = [10.0, 5.0, 2.0, 1.0]
        .iter()
        .map(|m| m * mag)
        .min_by(|a, b| {
            (count(*a) - n as f64)
                .abs()
                .total_cmp(&(count(*b) - n as f64).abs())
        })
        .unwrap_or(mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let ticks = (first..=last).map(|k| k as f64 * step).collect();
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    (ticks, decimals)
}

/// A tick label: the value with the decimals its step needs (no "-0").
pub fn tick_label(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v + 0.0);
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Ticks for a base-10 log axis over [lo, hi] (both positive): 1, 2 and 5 times each power
/// of ten when the range is short, powers of ten alone when it is long.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let mults: &[f64] = if b - a <= 3 { &[1.0, 2.0, 5.0] } else { &[1.0] };
    let mut out = Vec::new();
    for e in a..=b {
        for m in mults {
            let v = m * 10f64.powi(e);
            if v >= lo * 0.999 && v <= hi * 1.001 {
                out.push(v);
            }
        }
    }
    out
}

/// One decision and its options' shares in two groups.
pub struct BarGroup {
    pub label: String,
    /// (option, share in the first group, share in the second).
    pub bars: Vec<(String, f64, f64)>,
}

/// Horizontal bars, two per option (first group dark, second light), grouped by decision.
pub fn paired_bars(title: &str, first: &str, second: &str, groups: &[BarGroup]) -> String {
    let rows: usize = groups.iter().map(|g| g.bars.len() + 1).sum();
    let h = MT + 30.0 + 18.0 * rows as f64;
    let (w, label_w, bar_w) = (W, 300.0, 280.0);
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11"><rect width="{w}" height="{h}" fill="white"/><text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>"#,
        w / 2.0,
        esc(title)
    );
    let _ = write!(
        o,
        r##"<rect x="{label_w}" y="{}" width="10" height="8" fill="#1f77b4"/><text x="{}" y="{}">{}</text><rect x="{}" y="{}" width="10" height="8" fill="#aec7e8"/><text x="{}" y="{}">{}</text>"##,
        MT - 8.0,
        label_w + 14.0,
        MT,
        esc(first),
        label_w + 120.0,
        MT - 8.0,
        label_w + 134.0,
        MT,
        esc(second)
    );
    let mut y = MT + 22.0;
    for g in groups {
        let _ = write!(
            o,
            r#"<text x="8" y="{y}" font-weight="bold">{}</text>"#,
            esc(&g.label)
        );
        y += 18.0;
        for (name, a, b) in &g.bars {
            let _ = write!(
                o,
                r##"<text x="{}" y="{}" text-anchor="end">{}</text><rect x="{label_w}" y="{}" width="{:.1}" height="7" fill="#1f77b4"/><rect x="{label_w}" y="{}" width="{:.1}" height="7" fill="#aec7e8"/><text x="{}" y="{}">{:.0}% / {:.0}%</text>"##,
                label_w - 8.0,
                y - 2.0,
                esc(name),
                y - 10.0,
                a * bar_w,
                y - 3.0,
                b * bar_w,
                label_w + bar_w + 8.0,
                y - 2.0,
                a * 100.0,
                b * 100.0
            );
            y += 18.0;
        }
    }
    o.push_str("</svg>\n");
    o
}

/// A DAG cell: nodes in a row, each edge an arc above labelled with its operation
/// (operations named `none`/`zero` are drawn dashed and grey).
pub fn dag(title: &str, edges: &[(u64, u64, String)]) -> String {
    let n = edges.iter().map(|e| e.1.max(e.0)).max().unwrap_or(0) + 1;
    let (w, h) = (W, 300.0);
    let gap = (w - 120.0) / (n.max(2) - 1) as f64;
    let x = |i: u64| 60.0 + gap * i as f64;
    let base = h - 60.0;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11"><rect width="{w}" height="{h}" fill="white"/><text x="{}" y="20" font-size="14" text-anchor="middle">{}</text>"#,
        w / 2.0,
        esc(title)
    );
    for (k, (a, b, op)) in edges.iter().enumerate() {
        let (x0, x1) = (x(*a), x(*b));
        let rise = 30.0 + 45.0 * (*b - *a) as f64;
        let mid = (x0 + x1) / 2.0;
        let none = op == "none" || op == "zero";
        let (stroke, dash) = if none {
            ("#bbbbbb", r#" stroke-dasharray="4 3""#)
        } else {
            (COLORS[1 + k % (COLORS.len() - 1)], "")
        };
        let _ = write!(
            o,
            r#"<path d="M{x0:.1} {base} Q{mid:.1} {:.1} {x1:.1} {base}" fill="none" stroke="{stroke}" stroke-width="1.8"{dash}/><text x="{mid:.1}" y="{:.1}" text-anchor="middle" fill="{stroke}">{}</text>"#,
            base - 2.0 * rise,
            base - rise - 4.0,
            esc(op)
        );
    }
    for i in 0..n {
        let _ = write!(
            o,
            r##"<circle cx="{:.1}" cy="{base}" r="14" fill="#f7f7f7" stroke="#333"/><text x="{:.1}" y="{}" text-anchor="middle">{i}</text>"##,
            x(i),
            x(i),
            base + 4.0
        );
    }
    let _ = write!(
        o,
        r##"<text x="{}" y="{}" text-anchor="middle" fill="#666">node 0: the cell's input; node {}: its output</text>"##,
        w / 2.0,
        h - 18.0,
        n - 1
    );
    o.push_str("</svg>\n");
    o
}

/// A network as nested blocks, one per line: (depth, label), depth as indentation.
pub fn blocks(title: &str, items: &[(usize, String)]) -> String {
    let row = 20.0;
    let w = W;
    let h = 40.0 + row * items.len() as f64 + 10.0;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="monospace" font-size="11"><rect width="{w}" height="{h}" fill="white"/><text x="{}" y="20" font-size="14" font-family="sans-serif" text-anchor="middle">{}</text>"#,
        w / 2.0,
        esc(title)
    );
    for (i, (depth, label)) in items.iter().enumerate() {
        let x = 10.0 + 18.0 * *depth as f64;
        let y = 34.0 + row * i as f64;
        let fill = ["#e8f0fa", "#eef7ea", "#fbefe6", "#f3eef9", "#f7f7f7"][depth % 5];
        let shown: String = label
            .chars()
            .take(((w - x - 20.0) / 6.7) as usize)
            .collect();
        let _ = write!(
            o,
            r##"<rect x="{x}" y="{y}" width="{:.1}" height="{}" rx="3" fill="{fill}" stroke="#999"/><text x="{}" y="{}">{}</text>"##,
            w - x - 10.0,
            row - 3.0,
            x + 5.0,
            y + 12.0,
            esc(&shown)
        );
    }
    o.push_str("</svg>\n");
    o
}
