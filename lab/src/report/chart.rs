//! One chart of the report or the compare page, drawn by the `plotters` crate's SVG backend.
//!
//! plotters lays out the axes, the 1-2-5 ticks (given as key points, so a log axis reads
//! 1, 2, 5, 10, 20 .. instead of whatever values divide the range), the grid, the lines and
//! the bars. Log axes are drawn in log10 space on a linear plotters axis, with labels that
//! write the original values back. Beside plotters' picture, each data point gets an
//! invisible hit circle with a `<title>` (the value on hover, no script) and the chart a
//! legend in HTML below it, so no legend box covers data.

use std::fmt::Write as _;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;

use super::escape;
use crate::table::human;

/// Width and height of a chart, in CSS pixels.
pub const SIZE: (u32, u32) = (660, 330);

/// Series colours (Okabe and Ito's colour-blind-safe palette, then darker extras); entry 7
/// is the grey of reference lines.
pub const PALETTE: &[(u8, u8, u8)] = &[
    (0, 114, 178),
    (213, 94, 0),
    (0, 158, 115),
    (204, 121, 167),
    (230, 159, 0),
    (86, 180, 233),
    (0, 0, 0),
    (150, 150, 150),
    (136, 34, 85),
    (68, 119, 170),
    (17, 119, 51),
    (170, 68, 153),
];

/// The CSS colour of palette entry `i`.
pub fn css_colour(i: usize) -> String {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// How an axis writes its values.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// A figure in a lab unit (`ns`, `B`, `B/s`, `x`, ...), scaled for reading.
    Unit(String),
    /// `1/(1-q)` written as the percentile (`p99`).
    Percentile,
    /// Named categories at 0, 1, 2, ...
    Categories(Vec<String>),
}

/// One axis.
#[derive(Debug, Clone)]
pub struct Axis {
    /// What it shows.
    pub label: String,
    /// Log10 scale.
    pub log: bool,
    /// How values are written.
    pub format: Format,
}

impl Axis {
    /// A linear or log axis of figures in `unit`.
    pub fn unit(label: &str, unit: &str, log: bool) -> Axis {
        Axis {
            label: label.to_owned(),
            log,
            format: Format::Unit(unit.to_owned()),
        }
    }

    /// The percentile axis of a latency curve (log 1/(1-q)).
    pub fn percentile() -> Axis {
        Axis {
            label: "percentile".to_owned(),
            log: true,
            format: Format::Percentile,
        }
    }

    /// Named categories.
    pub fn categories(label: &str, names: Vec<String>) -> Axis {
        Axis {
            label: label.to_owned(),
            log: false,
            format: Format::Categories(names),
        }
    }

    fn write(&self, v: f64) -> String {
        // 10^log10(v) comes back a hair off; a tick is a round number.
        let v = if v == 0.0 {
            0.0
        } else {
            let scale = 10f64.powi(8 - v.abs().log10().floor() as i32);
            (v * scale).round() / scale
        };
        match &self.format {
            Format::Unit(unit) => tick_label(v, unit),
            Format::Percentile => percentile_label(v),
            Format::Categories(names) => {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
        }
    }
}

/// One point, with the text shown on hover.
#[derive(Debug, Clone)]
pub struct Point {
    /// x in data units (a category's index for category axes).
    pub x: f64,
    /// y in data units.
    pub y: f64,
    /// Hover text.
    pub tip: String,
}

/// One line or one set of bars.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Palette index.
    pub colour: usize,
    /// The points, in drawing order.
    pub points: Vec<Point>,
    /// Dash and gap lengths in pixels; `None` draws a solid line.
    pub dash: Option<(u32, u32)>,
    /// Opacity, 0 to 1 (the compare page shades each file's bars differently).
    pub shade: f64,
    /// Listed in the legend (fits are named in the caption instead).
    pub in_legend: bool,
}

/// A chart: lines over two axes, or grouped bars over categories.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title above the chart.
    pub title: String,
    /// Horizontal axis.
    pub x: Axis,
    /// Vertical axis.
    pub y: Axis,
    /// The series, each drawn in its colour.
    pub series: Vec<Series>,
    /// Grouped bars (x is a category axis) instead of lines.
    pub bars: bool,
    /// Vertical marks at these x values, labelled (p50, p99, p99.9).
    pub marks: Vec<(f64, String)>,
    /// A line under the chart that says how to read it.
    pub caption: String,
}

/// Percentile marks for latency charts: p50, p99, p99.9.
pub fn percentile_marks() -> Vec<(f64, String)> {
    [(0.5, "p50"), (0.99, "p99"), (0.999, "p99.9")]
        .into_iter()
        .map(|(q, name)| (1.0 / (1.0 - q), name.to_owned()))
        .collect()
}

impl Chart {
    /// Points that can be drawn on this chart's axes (finite; positive on log axes).
    fn usable(&self, p: &Point) -> bool {
        p.x.is_finite()
            && p.y.is_finite()
            && (!self.x.log || p.x > 0.0)
            && (!self.y.log || p.y > 0.0)
    }

    /// The number of points that will be drawn.
    pub fn drawn_points(&self) -> usize {
        self.series
            .iter()
            .flat_map(|s| &s.points)
            .filter(|p| self.usable(p))
            .count()
    }

    /// The chart as an HTML `<figure>`: the SVG, its hover targets, the legend, the caption.
    pub fn to_html(&self) -> String {
        let mut out = format!(
            "<figure class=\"chart\" data-points=\"{}\">",
            self.drawn_points()
        );
        match self.svg() {
            Ok(svg) if self.drawn_points() > 0 => out.push_str(&svg),
            Ok(_) => {
                let _ = write!(
                    out,
                    "<p class=\"nodata\">{}: no figures to draw</p>",
                    escape(&self.title)
                );
            }
            Err(e) => {
                let _ = write!(
                    out,
                    "<p class=\"nodata\">{}: the chart could not be drawn ({})</p>",
                    escape(&self.title),
                    escape(&e)
                );
            }
        }
        out.push_str("<div class=\"legend\">");
        for s in self.series.iter().filter(|s| s.in_legend) {
            let _ = write!(
                out,
                "<span><i style=\"background:{};opacity:{}{}\"></i>{}</span>",
                css_colour(s.colour),
                if self.bars { s.shade } else { 1.0 },
                if s.dash.is_some() { ";height:2px" } else { "" },
                escape(&s.name)
            );
        }
        out.push_str("</div>");
        if !self.caption.is_empty() {
            let _ = write!(out, "<figcaption>{}</figcaption>", escape(&self.caption));
        }
        out.push_str("</figure>");
        out
    }

    fn t(log: bool, v: f64) -> f64 {
        if log { v.log10() } else { v }
    }

    /// The ranges of both axes in drawing space (log10 where the axis is log).
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in self.series.iter().flat_map(|s| &s.points) {
            if !self.usable(p) {
                continue;
            }
            let (x, y) = (Self::t(self.x.log, p.x), Self::t(self.y.log, p.y));
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        if let Format::Categories(names) = &self.x.format {
            (x0, x1) = (-0.5, names.len().max(1) as f64 - 0.5);
        } else if x1 - x0 < 1e-9 {
            (x0, x1) = (x0 - 0.5, x1 + 0.5);
        } else {
            let pad = (x1 - x0) * 0.03;
            (x0, x1) = (x0 - pad, x1 + pad);
        }
        if !self.y.log && (self.bars || y0 > 0.0) {
            y0 = 0.0_f64.min(y0);
        }
        if y1 - y0 < 1e-9 {
            (y0, y1) = if self.y.log {
                (y0 - 0.5, y1 + 0.5)
            } else {
                (y0 - 1.0, y1 + 1.0)
            };
        }
        let pad = (y1 - y0) * 0.06;
        let low = if !self.y.log && y0 == 0.0 {
            0.0
        } else {
            y0 - pad
        };
        ((x0, x1), (low, y1 + pad))
    }

    fn svg(&self) -> Result<String, String> {
        let ((x0, x1), (y0, y1)) = self.ranges();
        let xticks = match &self.x.format {
            Format::Categories(names) => (0..names.len()).map(|i| i as f64).collect(),
            Format::Unit(u) if self.x.log && u.starts_with('B') => binary_ticks(x0, x1),
            _ => ticks(x0, x1, self.x.log),
        };
        let yticks = match &self.y.format {
            Format::Unit(u) if self.y.log && u.starts_with('B') => binary_ticks(y0, y1),
            _ => ticks(y0, y1, self.y.log),
        };
        let xlog = self.x.log;
        let ylog = self.y.log;
        let back = |log: bool, v: f64| if log { 10f64.powf(v) } else { v };
        let fx = |v: &f64| self.x.write(back(xlog, *v));
        let fy = |v: &f64| self.y.write(back(ylog, *v));
        let mut svg = String::new();
        let mut hits = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let mut chart = ChartBuilder::on(&root)
                .margin(12)
                .caption(&self.title, ("sans-serif", 15))
                .x_label_area_size(if matches!(self.x.format, Format::Categories(_)) {
                    46
                } else {
                    38
                })
                .y_label_area_size(74)
                .build_cartesian_2d(
                    Ticked {
                        lo: x0,
                        hi: x1,
                        ticks: xticks,
                    },
                    Ticked {
                        lo: y0,
                        hi: y1,
                        ticks: yticks,
                    },
                )
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_label_formatter(&fx)
                .y_label_formatter(&fy)
                .x_desc(axis_desc(&self.x))
                .y_desc(axis_desc(&self.y))
                .label_style(("sans-serif", 11))
                .axis_desc_style(("sans-serif", 12))
                .bold_line_style(RGBColor(225, 225, 225))
                .light_line_style(TRANSPARENT)
                .draw()
                .map_err(|e| e.to_string())?;
            for (x, name) in &self.marks {
                let x = Self::t(xlog, *x);
                if x < x0 || x > x1 {
                    continue;
                }
                let grey = RGBColor(120, 120, 120);
                chart
                    .draw_series(DashedLineSeries::new(
                        [(x, y0), (x, y1)],
                        4,
                        4,
                        grey.stroke_width(1),
                    ))
                    .map_err(|e| e.to_string())?;
                chart
                    .draw_series(std::iter::once(Text::new(
                        name.clone(),
                        (x, y1),
                        ("sans-serif", 11).into_font().color(&grey),
                    )))
                    .map_err(|e| e.to_string())?;
            }
            let groups = self.series.len().max(1) as f64;
            for (k, s) in self.series.iter().enumerate() {
                let (r, g, b) = PALETTE[s.colour % PALETTE.len()];
                // Shades tell bars apart; lines have their dashes.
                let shade = if self.bars {
                    s.shade.clamp(0.1, 1.0)
                } else {
                    1.0
                };
                let colour = RGBColor(r, g, b).mix(shade);
                let points: Vec<(f64, f64, &str)> = s
                    .points
                    .iter()
                    .filter(|p| self.usable(p))
                    .map(|p| (Self::t(xlog, p.x), Self::t(ylog, p.y), p.tip.as_str()))
                    .collect();
                if self.bars {
                    let width = 0.8 / groups;
                    for &(x, y, tip) in &points {
                        let left = x - 0.4 + width * k as f64;
                        let bottom = if ylog { y0 } else { 0.0 };
                        chart
                            .draw_series(std::iter::once(Rectangle::new(
                                [(left, bottom), (left + width * 0.92, y)],
                                colour.filled(),
                            )))
                            .map_err(|e| e.to_string())?;
                        // The whole bar shows its figure on hover.
                        let (x0p, y0p) = chart.backend_coord(&(left, y));
                        let (x1p, y1p) = chart.backend_coord(&(left + width * 0.92, bottom));
                        let _ = write!(
                            hits,
                            "<rect class=\"pt\" x=\"{x0p}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#000\" fill-opacity=\"0\"><title>{}</title></rect>",
                            y0p.min(y1p),
                            (x1p - x0p).max(1),
                            (y1p - y0p).abs().max(1),
                            escape(tip)
                        );
                    }
                    continue;
                }
                let line: Vec<(f64, f64)> = points.iter().map(|&(x, y, _)| (x, y)).collect();
                if let Some((dash, gap)) = s.dash {
                    chart
                        .draw_series(DashedLineSeries::new(
                            line.clone(),
                            dash,
                            gap,
                            colour.stroke_width(2),
                        ))
                        .map_err(|e| e.to_string())?;
                    chart
                        .draw_series(line.iter().map(|&p| Circle::new(p, 2, colour.filled())))
                        .map_err(|e| e.to_string())?;
                } else {
                    chart
                        .draw_series(LineSeries::new(line.clone(), colour.stroke_width(2)))
                        .map_err(|e| e.to_string())?;
                    chart
                        .draw_series(line.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                        .map_err(|e| e.to_string())?;
                }
                for &(x, y, tip) in &points {
                    let (px, py) = chart.backend_coord(&(x, y));
                    hit(&mut hits, px, py, 6, tip);
                }
            }
            root.present().map_err(|e| e.to_string())?;
        }
        let end = svg.rfind("</svg>").ok_or("plotters wrote no SVG")?;
        svg.insert_str(end, &format!("<g class=\"hits\">{hits}</g>"));
        Ok(svg)
    }
}

/// A linear axis in drawing space whose ticks are exactly the given points (plotters' own
/// key points would fall on round numbers of log10 values, not on 1-2-5 of the values).
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = (value - self.lo) / (self.hi - self.lo);
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// An invisible circle over a point whose `<title>` is the value (shown on hover).
fn hit(out: &mut String, x: i32, y: i32, r: i32, tip: &str) {
    let _ = write!(
        out,
        "<circle class=\"pt\" cx=\"{x}\" cy=\"{y}\" r=\"{r}\" fill=\"#000\" fill-opacity=\"0\"><title>{}</title></circle>",
        escape(tip)
    );
}

fn axis_desc(axis: &Axis) -> String {
    if axis.log {
        format!("{} (log)", axis.label)
    } else {
        axis.label.clone()
    }
}

/// Tick positions in drawing space: 1, 2, 5 times each power of ten on a log axis (only the
/// powers when that would make more than 12), a 1-2-5 step on a linear one.
pub fn ticks(lo: f64, hi: f64, log: bool) -> Vec<f64> {
    if log {
        let mut all = Vec::new();
        let fine: &[f64] = &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
        // Less than a decade shown: every integer multiple; many decades: only the powers.
        let sets: [&[f64]; 3] = if hi - lo < 0.7 {
            [fine, &[1.0, 2.0, 5.0], &[1.0]]
        } else {
            [&[1.0, 2.0, 5.0], &[1.0], &[1.0]]
        };
        for steps in sets {
            all.clear();
            let mut decade = lo.floor() as i32;
            while f64::from(decade) <= hi.ceil() {
                for m in steps {
                    let v = f64::from(decade) + f64::log10(*m);
                    if v >= lo - 1e-9 && v <= hi + 1e-9 {
                        all.push(v);
                    }
                }
                decade += 1;
            }
            if all.len() <= 12 {
                break;
            }
        }
        if all.len() > 12 {
            let keep = all.len().div_ceil(10);
            all = all.into_iter().step_by(keep).collect();
        }
        if all.len() < 3 {
            // A narrow range: 1-2-5 steps of the values themselves.
            all = ticks(10f64.powf(lo), 10f64.powf(hi), false)
                .into_iter()
                .filter(|v| *v > 0.0)
                .map(f64::log10)
                .collect();
        }
        return all;
    }
    let span = hi - lo;
    if span.is_nan() || span <= 0.0 || !span.is_finite() {
        return vec![lo];
    }
    let raw = span / 6.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| span / s <= 7.0)
        .unwrap_or(10.0 * power);
    let mut v = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while v <= hi + step * 1e-9 {
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    out
}

/// Tick positions (log10 space) for a byte axis: powers of 4 (1, 4, 16, 64, 256 B, 1 KiB,
/// ..), so message sizes of 8 B, 4 KiB, 64 KiB and 1 MiB read as the round numbers they are;
/// powers of 16, then of 1024, when that would make more than 12.
pub fn binary_ticks(lo: f64, hi: f64) -> Vec<f64> {
    for base in [4.0_f64, 16.0, 1024.0] {
        let step = base.log10();
        let first = (lo / step).ceil() as i32;
        let last = (hi / step).floor() as i32;
        if last - first < 12 {
            return (first..=last).map(|k| f64::from(k) * step).collect();
        }
    }
    ticks(lo, hi, true)
}

/// A tick label: the figure scaled to its unit, trailing zeros dropped (`2 ms`, `1.5 µs`).
pub fn tick_label(v: f64, unit: &str) -> String {
    // `human` keeps bytes below 10 KiB in B (a figure reads better as 4,352 B); an axis
    // reads better in KiB from 1 KiB up.
    let text = if unit == "B" && (1_024.0..10_240.0).contains(&v.abs()) {
        human(v / 1_024.0, "KiB")
    } else {
        human(v, unit)
    };
    let (number, rest) = text.split_once(' ').unwrap_or((&text, ""));
    let number = if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    };
    if unit.is_empty() && v >= 10_000.0 && v.fract() == 0.0 {
        return crate::table::thousands(v as u64);
    }
    let rest = if unit == "x" || unit.is_empty() {
        ""
    } else {
        rest
    };
    format!("{number} {rest}").trim_end().to_owned()
}

/// `1/(1-q)` as a percentile: 2 is `p50`, 100 is `p99`, 1000 is `p99.9`.
pub fn percentile_label(v: f64) -> String {
    if v <= 1.0 + 1e-9 {
        return "min".to_owned();
    }
    let q = (1.0 - 1.0 / v) * 100.0;
    let text = format!("{q:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("p{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: &[f64]) -> Vec<String> {
        t.iter()
            .map(|v| format!("{}", (10f64.powf(*v) * 1e6).round() / 1e6))
            .collect()
    }

    #[test]
    fn log_ticks_fall_on_1_2_5_per_decade() {
        let t = ticks(0.0, 2.0, true);
        assert_eq!(values(&t), ["1", "2", "5", "10", "20", "50", "100"]);
        // Eight decades: only the powers of ten.
        let t = ticks(1.0, 9.0, true);
        assert!(values(&t).iter().all(|v| v.starts_with('1')), "{t:?}");
    }

    #[test]
    fn byte_ticks_fall_on_powers_of_four() {
        let t = binary_ticks(8f64.log10(), 1_048_576f64.log10());
        let v: Vec<u64> = t.iter().map(|v| 10f64.powf(*v).round() as u64).collect();
        assert_eq!(
            v,
            [16, 64, 256, 1024, 4096, 16384, 65536, 262_144, 1_048_576]
        );
        assert_eq!(tick_label(4096.0, "B"), "4 KiB");
        assert_eq!(tick_label(65536.0, "B"), "64 KiB");
    }

    #[test]
    fn a_log_axis_within_one_decade_still_has_ticks() {
        assert!(ticks(0.0, 0.3, true).len() >= 3);
    }

    #[test]
    fn linear_ticks_step_by_1_2_5() {
        assert_eq!(ticks(0.0, 2.1, false), [0.0, 0.5, 1.0, 1.5, 2.0]);
        assert_eq!(ticks(0.0, 10.0, false), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
    }

    #[test]
    fn labels_read_as_people_write_them() {
        assert_eq!(tick_label(2_000_000.0, "ns"), "2 ms");
        assert_eq!(tick_label(1_500.0, "ns"), "1.5 µs");
        assert_eq!(tick_label(20.0, "ns"), "20 ns");
        assert_eq!(tick_label(1.5, "x"), "1.5");
        assert_eq!(tick_label(1_000_000.0, ""), "1,000,000");
        assert_eq!(percentile_label(2.0), "p50");
        assert_eq!(percentile_label(1000.0), "p99.9");
        assert_eq!(percentile_label(100.0), "p99");
    }

    #[test]
    fn a_chart_draws_its_points_with_hover_titles() {
        let chart = Chart {
            title: "t".into(),
            x: Axis::unit("N", "", true),
            y: Axis::unit("time", "ns", true),
            series: vec![Series {
                name: "loop".into(),
                colour: 0,
                points: vec![
                    Point {
                        x: 10.0,
                        y: 100.0,
                        tip: "loop N=10: 100 ns".into(),
                    },
                    Point {
                        x: 100.0,
                        y: 0.0,
                        tip: "dropped on a log axis".into(),
                    },
                ],
                dash: None,
                shade: 1.0,
                in_legend: true,
            }],
            bars: false,
            marks: vec![],
            caption: String::new(),
        };
        let html = chart.to_html();
        assert!(html.contains("data-points=\"1\""), "{html}");
        assert!(html.contains("<title>loop N=10: 100 ns</title>"));
        assert!(!html.contains("dropped on a log axis"));
        assert!(html.contains("<svg") && html.contains("</figure>"));
    }

    #[test]
    fn a_chart_without_data_says_so() {
        let chart = Chart {
            title: "empty".into(),
            x: Axis::percentile(),
            y: Axis::unit("lateness", "ns", true),
            series: vec![],
            bars: false,
            marks: percentile_marks(),
            caption: String::new(),
        };
        assert!(chart.to_html().contains("no figures to draw"));
    }
}
