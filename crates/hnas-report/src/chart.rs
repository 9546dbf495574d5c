//! The x–y charts, drawn with plotters' SVG backend: curves with error bands (linear or
//! log y), the best-so-far scatter, the Pareto front and the MAP-Elites heatmap.
//!
//! Every chart shares one frame: title (and a note under it when an axis is clipped), a
//! plotting area with horizontal grid lines at round ticks, axis descriptions, and a legend
//! down the right margin. Tick values are chosen here ([`nice_ticks`], [`log_ticks`]) and
//! given to plotters as the axes' key points, so that they are round and written with the
//! decimals their step needs. A log axis is drawn as log10 of the value on a linear axis
//! (labels turned back), so that every chart has one coordinate type.
//!
//! For a program reading the file, the parts' `<text>` elements differ by anchor: x tick
//! labels `middle` with `dy="0.76em"` (the rotated y description has a `transform`), y tick
//! labels `end`, legend entries `start`, the title and the note `middle` with `dy="0.5ex"`
//! (the note grey).

use crate::svg::{log_ticks, nice_ticks, tick_label};
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const W: u32 = 720;
const H: u32 = 440;
/// Right margin, for the legend.
const MR: u32 = 170;
const TOP: u32 = 40;
const TICK_SIZE: f64 = 11.0;
const LEGEND_SIZE: f64 = 12.0;
const NOTE_SIZE: f64 = 11.0;
const FONT: &str = "sans-serif";

const COLORS: &[RGBColor] = &[
    RGBColor(0x44, 0x44, 0x44),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0xbc, 0xbd, 0x22),
];
const GREY: RGBColor = RGBColor(0x99, 0x99, 0x99);
const RED_: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const BLUE_: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const ORANGE: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
const GRID: RGBColor = RGBColor(0xe0, 0xe0, 0xe0);

/// A linear axis whose ticks are exactly the given values (plotters' own choice of key
/// points is bypassed); labels come from the chart's formatters.
#[derive(Clone)]
struct Ticked {
    range: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;
    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.range.map(value, limit)
    }
    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Light (minor) lines: none.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }
    fn range(&self) -> std::ops::Range<f64> {
        self.range.range()
    }
}

impl ValueFormatter<f64> for Ticked {
    fn format(value: &f64) -> String {
        value.to_string()
    }
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Ticked, Ticked>>;
type Drawn = Result<(), Box<dyn std::error::Error>>;

/// A legend entry's mark.
enum Mark {
    Dot(RGBColor),
    Line(RGBColor),
    Band(RGBColor),
    Cross(RGBColor),
    Plus(RGBColor),
}

/// What one chart's frame shows.
struct Frame<'t> {
    title: &'t str,
    note: Option<String>,
    xlabel: &'t str,
    ylabel: &'t str,
    x: (f64, f64),
    y: (f64, f64),
    xticks: Vec<f64>,
    yticks: Vec<f64>,
    xfmt: &'t dyn Fn(f64) -> String,
    yfmt: &'t dyn Fn(f64) -> String,
    legend: Vec<(Mark, String)>,
}

/// plotters' SVG backend writes a font size divided by 1.24 (its pixel to point ratio):
/// multiplied back here, sizes read as written.
fn pt(size: f64) -> f64 {
    size * 1.24
}

fn text_style(size: f64, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle::from((FONT, pt(size)).into_font()).pos(Pos::new(h, v))
}

/// Draws a chart: the frame, then `body` on the plotting area. Returns the SVG text.
fn draw(frame: Frame<'_>, body: impl FnOnce(&mut Chart<'_, '_>) -> Drawn) -> String {
    let mut out = String::new();
    let result = (|| -> Drawn {
        let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        root.draw(&Text::new(
            frame.title.to_string(),
            (W as i32 / 2, 22),
            text_style(15.0, HPos::Center, VPos::Center),
        ))?;
        if let Some(note) = &frame.note {
            root.draw(&Text::new(
                note.clone(),
                (W as i32 / 2, 36),
                text_style(NOTE_SIZE, HPos::Center, VPos::Center)
                    .color(&RGBColor(0x55, 0x55, 0x55)),
            ))?;
        }
        let (plot, side) = root.split_horizontally(W - MR);
        let x = Ticked {
            range: (frame.x.0..frame.x.1).into(),
            ticks: frame.xticks.clone(),
        };
        let y = Ticked {
            range: (frame.y.0..frame.y.1).into(),
            ticks: frame.yticks.clone(),
        };
        let mut chart = ChartBuilder::on(&plot)
            .margin_top(TOP)
            .margin_right(8)
            .margin_bottom(6)
            .x_label_area_size(44)
            .y_label_area_size(62)
            .build_cartesian_2d(x, y)?;
        let (xfmt, yfmt) = (frame.xfmt, frame.yfmt);
        let xf = move |v: &f64| xfmt(*v);
        let yf = move |v: &f64| yfmt(*v);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .axis_style(BLACK)
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .x_desc(frame.xlabel)
            .y_desc(frame.ylabel)
            .label_style((FONT, pt(TICK_SIZE)))
            .axis_desc_style((FONT, pt(12.0)))
            .draw()?;
        body(&mut chart)?;
        for (k, (mark, label)) in frame.legend.iter().enumerate() {
            let y = TOP as i32 + 16 + 20 * k as i32;
            match mark {
                Mark::Dot(c) => side.draw(&Circle::new((20, y), 4, c.filled()))?,
                Mark::Line(c) => {
                    side.draw(&PathElement::new(vec![(12, y), (34, y)], c.stroke_width(3)))?
                }
                Mark::Band(c) => side.draw(&Rectangle::new(
                    [(12, y - 5), (34, y + 5)],
                    c.mix(0.15).filled(),
                ))?,
                Mark::Cross(c) => side.draw(&Cross::new((20, y), 5, c.stroke_width(2)))?,
                Mark::Plus(c) => side.draw(
                    &(EmptyElement::at((20, y))
                        + PathElement::new(vec![(-6, 0), (6, 0)], c.stroke_width(2))
                        + PathElement::new(vec![(0, -6), (0, 6)], c.stroke_width(2))),
                )?,
            }
            side.draw(&Text::new(
                label.clone(),
                (42, y),
                text_style(LEGEND_SIZE, HPos::Left, VPos::Center),
            ))?;
        }
        root.present()?;
        Ok(())
    })();
    // Drawing into a String has no failure of its own; an error here is a bug in the chart.
    if let Err(e) = result {
        panic!("drawing a chart: {e}");
    }
    out.push('\n');
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

/// One line: label and (x, mean, standard error) points.
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64, f64)>,
}

/// A line chart with a shaded band of ± one standard error around each line. With `log_y`
/// the y axis is logarithmic (regrets span orders of magnitude); values at or below zero are
/// drawn at the axis floor, which the axis label says.
pub fn curves(title: &str, xlabel: &str, ylabel: &str, series: &[Series], log_y: bool) -> String {
    let (mut x0, mut x1, mut top) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    let mut least_positive = f64::INFINITY;
    for &(x, m, e) in series.iter().flat_map(|s| s.points.iter()) {
        if m.is_finite() {
            x0 = x0.min(x);
            x1 = x1.max(x);
            top = top.max(m + e);
            if m > 0.0 {
                least_positive = least_positive.min(m);
            }
        }
    }
    if !x0.is_finite() || x1 <= x0 {
        (x0, x1) = (0.0, 1.0);
    }
    let log_y = log_y && least_positive.is_finite() && top > 0.0;
    // The log axis runs from a round power of ten below the smallest positive mean.
    let (y0, y1) = if log_y {
        let floor = least_positive.log10().floor();
        (
            10f64.powf(floor),
            10f64.powf(top.log10().ceil().max(floor + 1.0)),
        )
    } else {
        let top = if top > 0.0 { top * 1.05 } else { 1.0 };
        let (t, _) = nice_ticks(0.0, top, 5);
        let step = t.get(1).copied().unwrap_or(top);
        (0.0, (top / step).ceil() * step)
    };
    let ty = |v: f64| if log_y { v.max(y0).log10() } else { v };
    let (yticks, ylabels): (Vec<f64>, Vec<String>) = if log_y {
        log_ticks(y0, y1)
            .into_iter()
            .map(|v| (v.log10(), log_label(v)))
            .unzip()
    } else {
        let (t, d) = nice_ticks(y0, y1, 5);
        t.iter().map(|v| (*v, tick_label(*v, d))).unzip()
    };
    let yfmt = |v: f64| {
        yticks
            .iter()
            .position(|t| (t - v).abs() < 1e-9)
            .map_or_else(String::new, |i| ylabels[i].clone())
    };
    let (xticks, xd) = nice_ticks(x0, x1, 6);
    let xfmt = move |v: f64| tick_label(v, xd);
    let ylabel = if log_y {
        format!("{ylabel} (log scale; 0 drawn at {})", log_label(y0))
    } else {
        ylabel.to_string()
    };
    let mut legend: Vec<(Mark, String)> = series
        .iter()
        .enumerate()
        .map(|(k, s)| (Mark::Line(COLORS[k % COLORS.len()]), s.label.clone()))
        .collect();
    legend.push((Mark::Band(COLORS[0]), "± 1 standard error".into()));
    let frame = Frame {
        title,
        note: None,
        xlabel,
        ylabel: &ylabel,
        x: (x0, x1),
        y: (ty(y0), ty(y1)),
        xticks,
        yticks: yticks.clone(),
        xfmt: &xfmt,
        yfmt: &yfmt,
        legend,
    };
    draw(frame, |chart| {
        for (k, s) in series.iter().enumerate() {
            let c = COLORS[k % COLORS.len()];
            let pts: Vec<&(f64, f64, f64)> = s.points.iter().filter(|p| p.1.is_finite()).collect();
            if pts.is_empty() {
                continue;
            }
            let mut band: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, ty(p.1 + p.2))).collect();
            band.extend(pts.iter().rev().map(|p| (p.0, ty((p.1 - p.2).max(0.0)))));
            chart.draw_series(std::iter::once(Polygon::new(band, c.mix(0.15).filled())))?;
            chart.draw_series(LineSeries::new(
                pts.iter().map(|p| (p.0, ty(p.1))),
                c.stroke_width(2),
            ))?;
        }
        Ok(())
    })
}

/// One axis of a heatmap: its label, number of bins and value range.
pub struct Axis {
    pub label: String,
    pub bins: u32,
    pub lo: f64,
    pub hi: f64,
}

/// Light yellow (low) to dark blue (high).
fn shade(t: f64) -> RGBColor {
    let lerp = |a: f64, b: f64| (a + (b - a) * t.clamp(0.0, 1.0)).round() as u8;
    RGBColor(lerp(255.0, 8.0), lerp(247.0, 48.0), lerp(188.0, 107.0))
}

/// A heatmap: `cells[(ix, iy)] = value`; empty cells are drawn white. The colour scale is a
/// bar in the right margin, with round values beside it.
pub fn heatmap(title: &str, x: &Axis, y: &Axis, cells: &[((u32, u32), f64)]) -> String {
    let (lo, hi) = cells
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, v)| {
            (a.min(*v), b.max(*v))
        });
    let t = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 1.0 };
    // Cells are placed in value units, so that the ticks (round values of each descriptor)
    // fall where those values lie along the bins.
    let (xticks, xd) = nice_ticks(x.lo, x.hi, (x.bins as usize).clamp(2, 6));
    let (yticks, yd) = if y.bins > 1 {
        nice_ticks(y.lo, y.hi, (y.bins as usize).clamp(2, 6))
    } else {
        (Vec::new(), 0)
    };
    let xfmt = move |v: f64| tick_label(v, xd);
    let yfmt = move |v: f64| tick_label(v, yd);
    let frame = Frame {
        title,
        note: None,
        xlabel: &x.label,
        ylabel: &y.label,
        x: (x.lo, x.hi),
        y: (y.lo, y.hi),
        xticks,
        yticks,
        xfmt: &xfmt,
        yfmt: &yfmt,
        legend: Vec::new(),
    };
    let mut svg = draw(frame, |chart| {
        let (cw, ch) = ((x.hi - x.lo) / x.bins as f64, (y.hi - y.lo) / y.bins as f64);
        for ix in 0..x.bins {
            for iy in 0..y.bins {
                let v = cells.iter().find(|(c, _)| *c == (ix, iy)).map(|(_, v)| *v);
                let corner = |i: u32, j: u32| (x.lo + i as f64 * cw, y.lo + j as f64 * ch);
                let area = [corner(ix, iy), corner(ix + 1, iy + 1)];
                let fill = v.map_or(WHITE, |v| shade(t(v)));
                chart.draw_series([
                    Rectangle::new(area, fill.filled()),
                    Rectangle::new(area, RGBColor(0xcc, 0xcc, 0xcc).stroke_width(1)),
                ])?;
            }
        }
        Ok(())
    });
    if lo.is_finite() {
        svg = colour_scale(svg, lo, hi);
    }
    svg
}

/// Adds the heatmap's colour scale to its right margin: a bar from worst (bottom) to best
/// (top) drawn in steps, with round values beside it.
fn colour_scale(svg: String, lo: f64, hi: f64) -> String {
    let mut side = String::new();
    let (bx, top, height) = (W as i32 - MR as i32 + 16, TOP as i32 + 20, H as i32 - 130);
    let result = (|| -> Drawn {
        let area = SVGBackend::with_string(&mut side, (W, H)).into_drawing_area();
        area.draw(&Text::new(
            "value of the elite".to_string(),
            (bx, top - 10),
            text_style(LEGEND_SIZE, HPos::Left, VPos::Center),
        ))?;
        let steps = 48;
        for s in 0..steps {
            let (a, b) = (s as f64 / steps as f64, (s + 1) as f64 / steps as f64);
            let y = |f: f64| top + height - (f * height as f64).round() as i32;
            area.draw(&Rectangle::new(
                [(bx, y(b)), (bx + 16, y(a))],
                shade((a + b) / 2.0).filled(),
            ))?;
        }
        area.draw(&Rectangle::new(
            [(bx, top), (bx + 16, top + height)],
            GREY.stroke_width(1),
        ))?;
        let (ticks, d) = if hi > lo {
            nice_ticks(lo, hi, 4)
        } else {
            (vec![lo], 4)
        };
        for v in ticks {
            let f = if hi > lo { (v - lo) / (hi - lo) } else { 1.0 };
            let ty = top + height - (f * height as f64).round() as i32;
            area.draw(&PathElement::new(
                vec![(bx + 16, ty), (bx + 20, ty)],
                BLACK.stroke_width(1),
            ))?;
            area.draw(&Text::new(
                tick_label(v, d),
                (bx + 24, ty),
                text_style(LEGEND_SIZE, HPos::Left, VPos::Center),
            ))?;
        }
        area.present()?;
        Ok(())
    })();
    if let Err(e) = result {
        panic!("drawing a colour scale: {e}");
    }
    // The scale is drawn on a second canvas of the same size; its elements go into the
    // chart's SVG before the chart's closing tag.
    let inner = side
        .split_once('>')
        .map(|(_, rest)| rest.trim_end().trim_end_matches("</svg>").to_string())
        .unwrap_or_default();
    match svg.rfind("</svg>") {
        Some(end) => format!("{}{inner}{}", &svg[..end], &svg[end..]),
        None => svg,
    }
}

/// The frame's ranges around points: past four times the spread of the middle 96 %, an axis
/// is clipped to that middle (plus a margin), and a note says how many points lie beyond
/// (drawn on the edge).
fn robust_ranges(pts: &[(f64, f64)]) -> ((f64, f64), (f64, f64), Option<String>) {
    let finite: Vec<(f64, f64)> = pts
        .iter()
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    if finite.is_empty() {
        return ((0.0, 1.0), (0.0, 1.0), None);
    }
    let span = |v: &mut Vec<f64>| -> (f64, f64, bool) {
        v.sort_by(f64::total_cmp);
        let (lo, hi) = (v[0], v[v.len() - 1]);
        if v.len() < 20 {
            return (lo, hi, false);
        }
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        let (a, b) = (q(0.02), q(0.98));
        if b > a && hi - lo > 4.0 * (b - a) {
            let m = (b - a) * 0.15;
            ((a - m).max(lo), (b + m).min(hi), true)
        } else {
            (lo, hi, false)
        }
    };
    let (x0, x1, cx) = span(&mut finite.iter().map(|p| p.0).collect());
    let (y0, y1, cy) = span(&mut finite.iter().map(|p| p.1).collect());
    let outside = finite
        .iter()
        .filter(|p| p.0 < x0 || p.0 > x1 || p.1 < y0 || p.1 > y1)
        .count();
    let note = (cx || cy).then(|| {
        let which = match (cx, cy) {
            (true, true) => "both axes",
            (true, false) => "the x axis",
            _ => "the y axis",
        };
        format!(
            "{which} clipped to the middle 96 % of the points: {outside} beyond, drawn on the edge"
        )
    });
    let pad = |a: f64, b: f64| if b > a { (b - a) * 0.04 } else { 0.5 };
    let (px, py) = (pad(x0, x1), pad(y0, y1));
    ((x0 - px, x1 + px), (y0 - py, y1 + py), note)
}

/// The axes of a chart of points: robust ranges, their round ticks and decimals, the note.
struct PointAxes {
    x: (f64, f64),
    y: (f64, f64),
    note: Option<String>,
    xticks: (Vec<f64>, usize),
    yticks: (Vec<f64>, usize),
}

impl PointAxes {
    fn around(pts: &[(f64, f64)]) -> PointAxes {
        let (x, y, note) = robust_ranges(pts);
        PointAxes {
            x,
            y,
            note,
            xticks: nice_ticks(x.0, x.1, 6),
            yticks: nice_ticks(y.0, y.1, 5),
        }
    }

    /// A point beyond the axes moved onto their edge.
    fn clamp(&self) -> impl Fn(&(f64, f64)) -> (f64, f64) {
        let (x, y) = (self.x, self.y);
        move |p| (p.0.clamp(x.0, x.1), p.1.clamp(y.0, y.1))
    }

    /// The chart frame; `fmts` are the tick label formats of [`PointAxes::formats`].
    fn frame<'t>(
        &self,
        (title, xlabel, ylabel): (&'t str, &'t str, &'t str),
        fmts: &'t (impl Fn(f64) -> String, impl Fn(f64) -> String),
        legend: Vec<(Mark, String)>,
    ) -> Frame<'t> {
        Frame {
            title,
            note: self.note.clone(),
            xlabel,
            ylabel,
            x: self.x,
            y: self.y,
            xticks: self.xticks.0.clone(),
            yticks: self.yticks.0.clone(),
            xfmt: &fmts.0,
            yfmt: &fmts.1,
            legend,
        }
    }

    fn formats(&self) -> (impl Fn(f64) -> String, impl Fn(f64) -> String) {
        let (xd, yd) = (self.xticks.1, self.yticks.1);
        (move |v| tick_label(v, xd), move |v| tick_label(v, yd))
    }
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
    let mut legend = vec![(Mark::Line(BLUE_), labels.0.to_string())];
    if !pts.is_empty() {
        legend.push((Mark::Dot(GREY), labels.1.to_string()));
    }
    let axes = PointAxes::around(&all);
    let (fmts, clamp) = (axes.formats(), axes.clamp());
    let frame = axes.frame((title, xlabel, ylabel), &fmts, legend);
    draw(frame, |chart| {
        chart.draw_series(
            pts.iter()
                .map(|p| Circle::new(clamp(p), 2, GREY.mix(0.7).filled())),
        )?;
        let mut steps: Vec<(f64, f64)> = Vec::new();
        for &(x, y) in line {
            if let Some(&(_, prev)) = steps.last() {
                steps.push(clamp(&(x, prev)));
            }
            steps.push(clamp(&(x, y)));
        }
        chart.draw_series(LineSeries::new(steps, BLUE_.stroke_width(2)))?;
        Ok(())
    })
}

/// Every feasible trial (grey), the infeasible ones (orange crosses), the Pareto front (red,
/// joined in x order) and the hypervolume's reference point (a black cross). The reference
/// point is the worst value of each objective, so it sits with any outlier: it does not set
/// the axes, and is drawn on the edge when it lies beyond them.
pub fn front(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    all: &[(f64, f64)],
    front: &[(f64, f64)],
    infeasible: &[(f64, f64)],
    reference: Option<(f64, f64)>,
) -> String {
    let pts: Vec<(f64, f64)> = all.iter().chain(front).chain(infeasible).copied().collect();
    let legend = vec![
        (Mark::Dot(RED_), format!("Pareto front ({})", front.len())),
        (Mark::Dot(GREY), format!("feasible trials ({})", all.len())),
        (
            Mark::Cross(ORANGE),
            format!("infeasible ({})", infeasible.len()),
        ),
        (Mark::Plus(BLACK), "reference point (+)".into()),
    ];
    let axes = PointAxes::around(&pts);
    let (fmts, clamp) = (axes.formats(), axes.clamp());
    let frame = axes.frame((title, xlabel, ylabel), &fmts, legend);
    draw(frame, |chart| {
        if let Some(r) = reference {
            chart.draw_series(std::iter::once(
                EmptyElement::at(clamp(&r))
                    + PathElement::new(vec![(-6, 0), (6, 0)], BLACK.stroke_width(2))
                    + PathElement::new(vec![(0, -6), (0, 6)], BLACK.stroke_width(2)),
            ))?;
        }
        chart.draw_series(
            all.iter()
                .map(|p| Circle::new(clamp(p), 2, GREY.mix(0.6).filled())),
        )?;
        chart.draw_series(
            infeasible
                .iter()
                .map(|p| Cross::new(clamp(p), 3, ORANGE.stroke_width(1))),
        )?;
        let mut sorted = front.to_vec();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart.draw_series(LineSeries::new(
            sorted.iter().map(&clamp),
            RED_.stroke_width(2),
        ))?;
        chart.draw_series(
            sorted
                .iter()
                .map(|p| Circle::new(clamp(p), 4, RED_.filled())),
        )?;
        Ok(())
    })
}
