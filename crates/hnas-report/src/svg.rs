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

/// A log tick's label: as few digits as the value needs.
fn log_label(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.0}")
    } else {
        let d = (-v.log10().floor()) as usize;
        format!("{v:.d$}")
    }
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

/// A line chart with a shaded band of ± one standard error around each line. With `log_y`
/// the y axis is logarithmic (regrets span orders of magnitude); values at or below zero are
/// drawn at the axis floor, which the axis label says.
pub fn curves(title: &str, xlabel: &str, ylabel: &str, series: &[Series], log_y: bool) -> String {
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    let mut ymin_pos = f64::INFINITY;
    for &(x, m, e) in pts {
        if m.is_finite() {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y1 = y1.max(m + e);
            if m > 0.0 {
                ymin_pos = ymin_pos.min(m);
            }
        }
    }
    if !x0.is_finite() || x1 <= x0 {
        x0 = 0.0;
        x1 = 1.0;
    }
    let log_y = log_y && ymin_pos.is_finite() && y1 > 0.0;
    // The log axis runs from a round power of ten below the smallest positive mean.
    let (y0, y1) = if log_y {
        (
            10f64.powf(ymin_pos.log10().floor()),
            10f64.powf(y1.log10().ceil().max(ymin_pos.log10().floor() + 1.0)),
        )
    } else {
        let top = if y1 > 0.0 { y1 * 1.05 } else { 1.0 };
        let (t, _) = nice_ticks(0.0, top, 5);
        let step = t.get(1).copied().unwrap_or(top);
        (0.0, (top / step).ceil() * step)
    };
    let sx = |x: f64| ML + (x - x0) / (x1 - x0) * (W - ML - MR);
    let sy = |y: f64| {
        let t = if log_y {
            (y.max(y0).log10() - y0.log10()) / (y1.log10() - y0.log10())
        } else {
            y / y1
        };
        H - MB - t * (H - MT - MB)
    };
    let mut o = open(title);
    let yticks: Vec<(f64, String)> = if log_y {
        log_ticks(y0, y1)
            .into_iter()
            .map(|v| (v, log_label(v)))
            .collect()
    } else {
        let (t, d) = nice_ticks(y0, y1, 5);
        t.into_iter().map(|v| (v, tick_label(v, d))).collect()
    };
    for (y, label) in &yticks {
        let _ = write!(
            o,
            r##"<line x1="{ML}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#e0e0e0"/><text class="ytick" x="{}" y="{:.1}" text-anchor="end">{label}</text>"##,
            W - MR,
            sy(*y),
            sy(*y),
            ML - 6.0,
            sy(*y) + 4.0,
        );
    }
    let (xt, xd) = nice_ticks(x0, x1, 6);
    for x in xt {
        let _ = write!(
            o,
            r#"<text class="xtick" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            sx(x),
            H - MB + 18.0,
            tick_label(x, xd)
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
    let ylabel = if log_y {
        format!("{ylabel} (log scale; 0 drawn at {})", log_label(y0))
    } else {
        ylabel.to_string()
    };
    let _ = write!(
        o,
        r#"<text transform="translate(18 {}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (MT + H - MB) / 2.0,
        esc(&ylabel)
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
            r#"<polygon class="band" points="{}" fill="{c}" fill-opacity="0.15" stroke="none"/>"#,
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
            r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{c}" stroke-width="3"/><text class="legend" x="{}" y="{}">{}</text>"#,
            W - MR + 12.0,
            W - MR + 36.0,
            W - MR + 42.0,
            ly + 4.0,
            esc(&s.label)
        );
    }
    let ly = MT + 16.0 + 20.0 * series.len() as f64 + 6.0;
    let _ = write!(
        o,
        r##"<rect x="{}" y="{}" width="24" height="10" fill="#444" fill-opacity="0.15"/><text class="legend" x="{}" y="{}">± 1 standard error</text>"##,
        W - MR + 12.0,
        ly - 5.0,
        W - MR + 42.0,
        ly + 4.0
    );
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
    // Ticks at round values of each descriptor, placed by value along its bins.
    let (xt, xd) = nice_ticks(x.lo, x.hi, (x.bins as usize).clamp(2, 6));
    for v in xt {
        let px = ML + (v - x.lo) / (x.hi - x.lo) * (W - ML - MR);
        let _ = write!(
            o,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{}" y2="{}" stroke="#000"/><text class="xtick" x="{px:.1}" y="{}" text-anchor="middle">{}</text>"##,
            H - MB,
            H - MB + 4.0,
            H - MB + 18.0,
            tick_label(v, xd)
        );
    }
    if y.bins > 1 {
        let (yt, yd) = nice_ticks(y.lo, y.hi, (y.bins as usize).clamp(2, 6));
        for v in yt {
            let py = H - MB - (v - y.lo) / (y.hi - y.lo) * (H - MT - MB);
            let _ = write!(
                o,
                r##"<line x1="{}" x2="{ML}" y1="{py:.1}" y2="{py:.1}" stroke="#000"/><text class="ytick" x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                ML - 4.0,
                ML - 6.0,
                py + 4.0,
                tick_label(v, yd)
            );
        }
    }
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
        // The colour scale: a gradient bar from worst (bottom) to best (top), with round
        // values beside it.
        let (bx, btop, bh) = (W - MR + 16.0, MT + 20.0, H - MT - MB - 40.0);
        let _ = write!(
            o,
            r##"<defs><linearGradient id="scale" x1="0" y1="1" x2="0" y2="0"><stop offset="0" stop-color="{}"/><stop offset="1" stop-color="{}"/></linearGradient></defs><rect class="legend" x="{bx}" y="{btop}" width="16" height="{bh}" fill="url(#scale)" stroke="#999"/><text class="legend" x="{bx}" y="{}">value of the elite</text>"##,
            colour(lo),
            colour(hi),
            btop - 8.0
        );
        let (ticks, d) = if hi > lo {
            nice_ticks(lo, hi, 4)
        } else {
            (vec![lo], 4)
        };
        for v in ticks {
            let t = if hi > lo { (v - lo) / (hi - lo) } else { 1.0 };
            let ty = btop + bh - t * bh;
            let _ = write!(
                o,
                r##"<line x1="{}" x2="{}" y1="{ty:.1}" y2="{ty:.1}" stroke="#000"/><text class="legend" x="{}" y="{:.1}">{}</text>"##,
                bx + 16.0,
                bx + 20.0,
                bx + 24.0,
                ty + 4.0,
                tick_label(v, d)
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
    // One far outlier would squash every other point into a corner: past four times the
    // spread of the middle 96 %, an axis is clipped to that middle (plus a margin), and
    // points beyond are drawn on the edge, which a note under the title says.
    let finite: Vec<(f64, f64)> = pts
        .iter()
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let robust = |vals: Vec<f64>, lo: f64, hi: f64| -> (f64, f64, bool) {
        if vals.len() < 20 {
            return (lo, hi, false);
        }
        let mut v = vals;
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        let (a, b) = (q(0.02), q(0.98));
        if b > a && hi - lo > 4.0 * (b - a) {
            let m = (b - a) * 0.15;
            ((a - m).max(lo), (b + m).min(hi), true)
        } else {
            (lo, hi, false)
        }
    };
    let (x0, x1, cx) = robust(finite.iter().map(|p| p.0).collect(), x0, x1);
    let (y0, y1, cy) = robust(finite.iter().map(|p| p.1).collect(), y0, y1);
    let outside = finite
        .iter()
        .filter(|p| p.0 < x0 || p.0 > x1 || p.1 < y0 || p.1 > y1)
        .count();
    let pad = |a: f64, b: f64| if b > a { (b - a) * 0.04 } else { 0.5 };
    let (px, py) = (pad(x0, x1), pad(y0, y1));
    let (x0, x1, y0, y1) = (x0 - px, x1 + px, y0 - py, y1 + py);
    let sx = move |x: f64| ML + (x.clamp(x0, x1) - x0) / (x1 - x0) * (W - ML - MR);
    let sy = move |y: f64| H - MB - (y.clamp(y0, y1) - y0) / (y1 - y0) * (H - MT - MB);
    let mut o = open(title);
    if cx || cy {
        let which = match (cx, cy) {
            (true, true) => "both axes",
            (true, false) => "the x axis",
            _ => "the y axis",
        };
        let _ = write!(
            o,
            r##"<text class="note" x="{}" y="36" font-size="11" text-anchor="middle" fill="#555">{which} clipped to the middle 96 % of the points: {outside} beyond, drawn on the edge</text>"##,
            W / 2.0
        );
    }
    let (yt, yd) = nice_ticks(y0, y1, 5);
    for y in yt {
        let _ = write!(
            o,
            r##"<line x1="{ML}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#e0e0e0"/><text class="ytick" x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - MR,
            sy(y),
            sy(y),
            ML - 6.0,
            sy(y) + 4.0,
            tick_label(y, yd)
        );
    }
    let (xt, xd) = nice_ticks(x0, x1, 6);
    for x in xt {
        let _ = write!(
            o,
            r#"<text class="xtick" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            sx(x),
            H - MB + 18.0,
            tick_label(x, xd)
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
    labels: (&str, &str),
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
    let mut items = vec![("#1f77b4", labels.0.to_string())];
    if !pts.is_empty() {
        items.push(("#999999", labels.1.to_string()));
    }
    legend(&mut o, &items);
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
    reference: Option<(f64, f64)>,
) -> String {
    // The reference point is the worst value of each objective, so it sits with any outlier:
    // it does not set the axes, and is drawn on the edge when it lies beyond them.
    let pts: Vec<(f64, f64)> = all.iter().chain(front).chain(infeasible).copied().collect();
    let (mut o, sx, sy) = axes(title, xlabel, ylabel, &pts);
    if let Some((x, y)) = reference {
        let _ = write!(
            o,
            r##"<path class="reference" d="M{:.1} {:.1}h12m-6 -6v12" stroke="#000" stroke-width="2"/>"##,
            sx(x) - 6.0,
            sy(y)
        );
    }
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
            ("#000000", "reference point (+)".into()),
        ],
    );
    o.push_str("</svg>\n");
    o
}
