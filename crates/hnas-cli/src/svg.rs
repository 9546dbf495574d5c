//! Small SVG charts written directly: regret curves with error bands, and heatmaps.
//!
//! Hand-written rather than through a plotting crate: the two charts are simple, the output
//! is byte-for-byte deterministic, and no font machinery is needed (text is SVG `<text>`).

use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 440.0;
const ML: f64 = 70.0; // margins
const MR: f64 = 170.0;
const MT: f64 = 40.0;
const MB: f64 = 50.0;
const COLORS: &[&str] = &[
    "#444444", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
    "#e377c2", "#bcbd22",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The opening of a chart: the SVG element, a white background and the title.
fn open(title: &str) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        o,
        r#"<rect width="{W}" height="{H}" fill="white"/><text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>"#,
        W / 2.0,
        esc(title)
    );
    o
}

/// One line: label and (x, mean, standard error) points.
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64, f64)>,
}

/// A line chart with a shaded band of ± one standard error around each line.
pub fn curves(title: &str, xlabel: &str, ylabel: &str, series: &[Series]) -> String {
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for &(x, m, e) in pts {
        if m.is_finite() {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y1 = y1.max(m + e);
        }
    }
    if !x0.is_finite() || x1 <= x0 {
        x0 = 0.0;
        x1 = 1.0;
    }
    let y1 = if y1 > 0.0 { y1 * 1.05 } else { 1.0 };
    let sx = |x: f64| ML + (x - x0) / (x1 - x0) * (W - ML - MR);
    let sy = |y: f64| H - MB - (y / y1) * (H - MT - MB);
    let mut o = open(title);
    for i in 0..=5 {
        let y = y1 * i as f64 / 5.0;
        let _ = write!(
            o,
            r##"<line x1="{ML}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#e0e0e0"/><text x="{}" y="{:.1}" text-anchor="end">{:.3}</text>"##,
            W - MR,
            sy(y),
            sy(y),
            ML - 6.0,
            sy(y) + 4.0,
            y
        );
        let x = x0 + (x1 - x0) * i as f64 / 5.0;
        let _ = write!(
            o,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{:.0}</text>"#,
            sx(x),
            H - MB + 18.0,
            x
        );
    }
    let _ = write!(
        o,
        r##"<line x1="{ML}" x2="{ML}" y1="{MT}" y2="{}" stroke="#000"/><line x1="{ML}" x2="{}" y1="{}" y2="{}" stroke="#000"/>"##,
        H - MB,
        W - MR,
        H - MB,
        H - MB
    );
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (ML + W - MR) / 2.0,
        H - 12.0,
        esc(xlabel)
    );
    let _ = write!(
        o,
        r#"<text transform="translate(18 {}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (MT + H - MB) / 2.0,
        esc(ylabel)
    );
    for (k, s) in series.iter().enumerate() {
        let c = COLORS[k % COLORS.len()];
        let pts: Vec<&(f64, f64, f64)> = s.points.iter().filter(|p| p.1.is_finite()).collect();
        if pts.is_empty() {
            continue;
        }
        let mut band = String::new();
        for p in &pts {
            let _ = write!(band, "{:.1},{:.1} ", sx(p.0), sy(p.1 + p.2));
        }
        for p in pts.iter().rev() {
            let _ = write!(band, "{:.1},{:.1} ", sx(p.0), sy((p.1 - p.2).max(0.0)));
        }
        let _ = write!(
            o,
            r#"<polygon points="{}" fill="{c}" fill-opacity="0.15" stroke="none"/>"#,
            band.trim_end()
        );
        let mut line = String::new();
        for p in &pts {
            let _ = write!(line, "{:.1},{:.1} ", sx(p.0), sy(p.1));
        }
        let _ = write!(
            o,
            r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="1.8"/>"#,
            line.trim_end()
        );
        let ly = MT + 16.0 + 20.0 * k as f64;
        let _ = write!(
            o,
            r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{c}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            W - MR + 12.0,
            W - MR + 36.0,
            W - MR + 42.0,
            ly + 4.0,
            esc(&s.label)
        );
    }
    o.push_str("</svg>\n");
    o
}

/// One axis of a heatmap: its label, number of bins and value range.
pub struct Axis {
    pub label: String,
    pub bins: u32,
    pub lo: f64,
    pub hi: f64,
}

/// A heatmap: `cells[(ix, iy)] = value`; empty cells are drawn white.
pub fn heatmap(title: &str, x: &Axis, y: &Axis, cells: &[((u32, u32), f64)]) -> String {
    let (lo, hi) = cells
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, v)| {
            (a.min(*v), b.max(*v))
        });
    let cw = (W - ML - MR) / x.bins as f64;
    let ch = (H - MT - MB) / y.bins as f64;
    let colour = |v: f64| {
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 1.0 };
        // Light yellow (low) to dark blue (high).
        let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
        format!(
            "#{:02x}{:02x}{:02x}",
            lerp(255.0, 8.0),
            lerp(247.0, 48.0),
            lerp(188.0, 107.0)
        )
    };
    let mut o = open(title);
    for ix in 0..x.bins {
        for iy in 0..y.bins {
            let px = ML + ix as f64 * cw;
            let py = H - MB - (iy + 1) as f64 * ch;
            let v = cells.iter().find(|(c, _)| *c == (ix, iy)).map(|(_, v)| *v);
            let fill = v.map_or("white".to_string(), colour);
            let tip = v.map_or("empty".into(), |v| format!("{v:.4}"));
            let _ = write!(
                o,
                r##"<rect x="{px:.1}" y="{py:.1}" width="{cw:.1}" height="{ch:.1}" fill="{fill}" stroke="#cccccc"><title>{tip}</title></rect>"##
            );
        }
    }
    let _ = write!(
        o,
        r#"<text x="{ML}" y="{}">{:.3}</text><text x="{}" y="{}" text-anchor="end">{:.3}</text>"#,
        H - MB + 18.0,
        x.lo,
        W - MR,
        H - MB + 18.0,
        x.hi
    );
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="end">{:.3}</text><text x="{}" y="{}" text-anchor="end">{:.3}</text>"#,
        ML - 6.0,
        H - MB,
        y.lo,
        ML - 6.0,
        MT + 10.0,
        y.hi
    );
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (ML + W - MR) / 2.0,
        H - 12.0,
        esc(&x.label)
    );
    let _ = write!(
        o,
        r#"<text transform="translate(18 {}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (MT + H - MB) / 2.0,
        esc(&y.label)
    );
    if lo.is_finite() {
        for (k, (label, v)) in [("best", hi), ("worst", lo)].iter().enumerate() {
            let ty = MT + 20.0 + 22.0 * k as f64;
            let _ = write!(
                o,
                r##"<rect x="{}" y="{}" width="16" height="16" fill="{}" stroke="#999"/><text x="{}" y="{}">{label} {:.4}</text>"##,
                W - MR + 12.0,
                ty - 12.0,
                colour(*v),
                W - MR + 34.0,
                ty,
                v
            );
        }
    }
    o.push_str("</svg>\n");
    o
}

/// A scatter of every trial (grey) with the Pareto front drawn over it (points joined by a
/// staircase, in `front` order sorted by x). Axes span the data.
/// A chart's frame around points: title, grid, axes and labels; returns the open SVG and
/// the maps from data to picture coordinates.
fn axes(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    pts: &[(f64, f64)],
) -> (String, impl Fn(f64) -> f64, impl Fn(f64) -> f64) {
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in pts.iter().filter(|p| p.0.is_finite() && p.1.is_finite()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let pad = |a: f64, b: f64| if b > a { (b - a) * 0.04 } else { 0.5 };
    let (px, py) = (pad(x0, x1), pad(y0, y1));
    let (x0, x1, y0, y1) = (x0 - px, x1 + px, y0 - py, y1 + py);
    let sx = move |x: f64| ML + (x - x0) / (x1 - x0) * (W - ML - MR);
    let sy = move |y: f64| H - MB - (y - y0) / (y1 - y0) * (H - MT - MB);
    let mut o = open(title);
    for i in 0..=5 {
        let y = y0 + (y1 - y0) * i as f64 / 5.0;
        let x = x0 + (x1 - x0) * i as f64 / 5.0;
        let _ = write!(
            o,
            r##"<line x1="{ML}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#e0e0e0"/><text x="{}" y="{:.1}" text-anchor="end">{:.3}</text><text x="{:.1}" y="{}" text-anchor="middle">{:.3}</text>"##,
            W - MR,
            sy(y),
            sy(y),
            ML - 6.0,
            sy(y) + 4.0,
            y,
            sx(x),
            H - MB + 18.0,
            x
        );
    }
    let _ = write!(
        o,
        r##"<line x1="{ML}" x2="{ML}" y1="{MT}" y2="{}" stroke="#000"/><line x1="{ML}" x2="{}" y1="{}" y2="{}" stroke="#000"/><text x="{}" y="{}" text-anchor="middle">{}</text><text transform="translate(18 {}) rotate(-90)" text-anchor="middle">{}</text>"##,
        H - MB,
        W - MR,
        H - MB,
        H - MB,
        (ML + W - MR) / 2.0,
        H - 12.0,
        esc(xlabel),
        (MT + H - MB) / 2.0,
        esc(ylabel)
    );
    (o, sx, sy)
}

/// Points (grey dots) and a step line through `line` (the best so far).
pub fn scatter_with_line(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    pts: &[(f64, f64)],
    line: &[(f64, f64)],
) -> String {
    let all: Vec<(f64, f64)> = pts.iter().chain(line).copied().collect();
    let (mut o, sx, sy) = axes(title, xlabel, ylabel, &all);
    for &(x, y) in pts {
        let _ = write!(
            o,
            r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="#999999" fill-opacity="0.7"/>"##,
            sx(x),
            sy(y)
        );
    }
    let mut d = String::new();
    for (i, &(x, y)) in line.iter().enumerate() {
        if i == 0 {
            let _ = write!(d, "M{:.1} {:.1}", sx(x), sy(y));
        } else {
            let _ = write!(d, "H{:.1}V{:.1}", sx(x), sy(y));
        }
    }
    let _ = write!(
        o,
        r##"<path d="{d}" fill="none" stroke="#1f77b4" stroke-width="2"/>"##
    );
    legend(
        &mut o,
        &[
            ("#1f77b4", "best so far".into()),
            ("#999999", "trials".into()),
        ],
    );
    o.push_str("</svg>\n");
    o
}

/// Coloured dots and their labels, down the right margin.
fn legend(o: &mut String, items: &[(&str, String)]) {
    for (k, (c, label)) in items.iter().enumerate() {
        let ly = MT + 16.0 + 20.0 * k as f64;
        let _ = write!(
            o,
            r#"<circle cx="{}" cy="{ly}" r="4" fill="{c}"/><text x="{}" y="{}">{}</text>"#,
            W - MR + 20.0,
            W - MR + 32.0,
            ly + 4.0,
            esc(label)
        );
    }
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

pub fn front(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    all: &[(f64, f64)],
    front: &[(f64, f64)],
    infeasible: &[(f64, f64)],
) -> String {
    let pts: Vec<(f64, f64)> = all.iter().chain(front).chain(infeasible).copied().collect();
    let (mut o, sx, sy) = axes(title, xlabel, ylabel, &pts);
    for &(x, y) in all {
        let _ = write!(
            o,
            r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="#999999" fill-opacity="0.6"/>"##,
            sx(x),
            sy(y)
        );
    }
    for &(x, y) in infeasible {
        let _ = write!(
            o,
            r##"<path d="M{:.1} {:.1}l5 5m0 -5l-5 5" stroke="#ff7f0e" stroke-width="1.2"/>"##,
            sx(x) - 2.5,
            sy(y) - 2.5
        );
    }
    let mut sorted = front.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let line: Vec<String> = sorted
        .iter()
        .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
        .collect();
    let _ = write!(
        o,
        r##"<polyline points="{}" fill="none" stroke="#d62728" stroke-width="1.5"/>"##,
        line.join(" ")
    );
    for &(x, y) in &sorted {
        let _ = write!(
            o,
            r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#d62728"/>"##,
            sx(x),
            sy(y)
        );
    }
    legend(
        &mut o,
        &[
            ("#d62728", format!("Pareto front ({})", front.len())),
            ("#999999", format!("feasible trials ({})", all.len())),
            ("#ff7f0e", format!("infeasible ({})", infeasible.len())),
        ],
    );
    o.push_str("</svg>\n");
    o
}
