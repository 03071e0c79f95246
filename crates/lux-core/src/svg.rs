//! Plain-SVG charts for reports: line charts (loss curves, CKA per layer), grouped bar charts
//! (accuracy per language, scores per category) and histograms (judge score distributions).
//!
//! Reports must open in any browser and diff in a pull request, so a chart is one
//! self-contained SVG text with no script, no font file and no dependency. Every chart has a
//! title, both axes with ticks and labels, and a legend; all text is XML-escaped. Bad numbers
//! never panic: non-finite points are skipped (a line chart breaks its line there), and a chart
//! with nothing to draw says "no data" inside its frame.
//!
//! ```
//! use lux_core::svg::{LineChart, Series};
//!
//! let chart = LineChart {
//!     title: "training loss".into(),
//!     x_label: "step".into(),
//!     y_label: "loss".into(),
//!     series: vec![Series { name: "sft".into(), points: vec![(0.0, 2.5), (10.0, 1.9)] }],
//! };
//! let svg = chart.to_svg();
//! assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
//! ```

use std::fmt::Write;

use serde::{Deserialize, Serialize};

/// Width of every chart, in SVG user units (pixels at 100 % zoom).
pub const WIDTH: f64 = 720.0;
/// Height of every chart, in SVG user units.
pub const HEIGHT: f64 = 420.0;
const MARGIN_LEFT: f64 = 76.0;
const MARGIN_RIGHT: f64 = 190.0;
const MARGIN_TOP: f64 = 48.0;
const MARGIN_BOTTOM: f64 = 72.0;
const LEGEND_CHARS: usize = 26;

/// Colours given to series in order (colour-blind-friendly "tableau 10"); they repeat after ten.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// Escapes `text` for use in SVG/XML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// One named line of a [`LineChart`]: `(x, y)` points in drawing order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Name shown in the legend.
    pub name: String,
    /// Points in the order they are joined; non-finite points are skipped and break the line.
    pub points: Vec<(f64, f64)>,
}

/// A chart of one or more lines over a numeric x axis (loss per step, CKA per layer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineChart {
    /// Title drawn above the plot.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// The lines, each in its own colour.
    pub series: Vec<Series>,
}

impl LineChart {
    /// Renders the chart as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().filter(finite).map(|p| p.0));
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().filter(finite).map(|p| p.1));
        let mut doc = Doc::new(&self.title);
        let (Some(x_axis), Some(y_axis)) = (Axis::fit(xs, false), Axis::fit(ys, false)) else {
            doc.frame_empty(&self.x_label, &self.y_label);
            return doc.finish();
        };
        doc.numeric_x_axis(&x_axis, &self.x_label);
        doc.y_axis(&y_axis, &self.y_label);
        for (i, series) in self.series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let mut segment: Vec<(f64, f64)> = Vec::new();
            let mut segments = Vec::new();
            for &(x, y) in &series.points {
                if x.is_finite() && y.is_finite() {
                    segment.push((x_axis.to_x(x), y_axis.to_y(y)));
                } else if !segment.is_empty() {
                    segments.push(std::mem::take(&mut segment));
                }
            }
            if !segment.is_empty() {
                segments.push(segment);
            }
            let _ = writeln!(
                doc.out,
                r#"<g class="series" data-name="{}">"#,
                escape(&series.name)
            );
            for seg in &segments {
                if seg.len() > 1 {
                    let pts: Vec<String> =
                        seg.iter().map(|(x, y)| format!("{x:.2},{y:.2}")).collect();
                    let _ = writeln!(
                        doc.out,
                        r#"<polyline class="line" fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
                        pts.join(" ")
                    );
                }
                // Markers only when they stay readable; single points always get one.
                if seg.len() <= 60 || seg.len() == 1 {
                    for (x, y) in seg {
                        let _ = writeln!(
                            doc.out,
                            r#"<circle class="point" cx="{x:.2}" cy="{y:.2}" r="3" fill="{colour}"/>"#
                        );
                    }
                }
            }
            doc.out.push_str("</g>\n");
        }
        let names: Vec<&str> = self.series.iter().map(|s| s.name.as_str()).collect();
        doc.legend(&names, true);
        doc.finish()
    }
}

/// One named group member of a [`BarChart`]: one value per category (NaN = missing, no bar).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarSeries {
    /// Name shown in the legend (e.g. a model).
    pub name: String,
    /// One value per category of the chart, in the same order; shorter vectors leave gaps.
    pub values: Vec<f64>,
}

/// A grouped bar chart: categories along the x axis, one bar per series inside each group
/// (accuracy per language for several models, mean score per category).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarChart {
    /// Title drawn above the plot.
    pub title: String,
    /// Label of the horizontal (category) axis.
    pub x_label: String,
    /// Label of the vertical (value) axis.
    pub y_label: String,
    /// Category names, left to right.
    pub categories: Vec<String>,
    /// The series; bars of one series share a colour.
    pub series: Vec<BarSeries>,
    /// Fixed value range (e.g. `(0.0, 1.0)` for accuracy, `(1.0, 5.0)` for judge scores);
    /// `None` fits the data and always includes zero.
    #[serde(default)]
    pub y_range: Option<(f64, f64)>,
}

impl BarChart {
    /// Renders the chart as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let mut doc = Doc::new(&self.title);
        let values = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().take(self.categories.len()).copied())
            .filter(|v| v.is_finite());
        let axis = match self.y_range {
            Some((lo, hi)) if lo.is_finite() && hi.is_finite() && lo < hi => {
                Axis::fit([lo, hi].into_iter(), false)
            }
            _ => Axis::fit(values.clone(), true),
        };
        let Some(y_axis) = axis.filter(|_| values.count() > 0 && !self.categories.is_empty())
        else {
            doc.frame_empty(&self.x_label, &self.y_label);
            return doc.finish();
        };
        doc.y_axis(&y_axis, &self.y_label);
        doc.category_x_axis(&self.categories, &self.x_label);
        let group_w = PLOT_W / self.categories.len() as f64;
        let n_series = self.series.len().max(1) as f64;
        let bar_w = group_w * 0.8 / n_series;
        // Bars grow from zero when zero is on the axis, otherwise from the axis bottom.
        let base = y_axis.to_y(0.0f64.clamp(y_axis.min, y_axis.max));
        for (si, series) in self.series.iter().enumerate() {
            let colour = PALETTE[si % PALETTE.len()];
            let _ = writeln!(
                doc.out,
                r#"<g class="series" data-name="{}">"#,
                escape(&series.name)
            );
            for (ci, &v) in series.values.iter().take(self.categories.len()).enumerate() {
                if !v.is_finite() {
                    continue;
                }
                let x = PLOT_X + ci as f64 * group_w + group_w * 0.1 + si as f64 * bar_w;
                let top = y_axis.to_y(v.clamp(y_axis.min, y_axis.max));
                let (y, h) = if top <= base {
                    (top, base - top)
                } else {
                    (base, top - base)
                };
                let _ = writeln!(
                    doc.out,
                    r#"<rect class="bar" x="{x:.2}" y="{y:.2}" width="{bw:.2}" height="{h:.2}" fill="{colour}"><title>{} / {}: {}</title></rect>"#,
                    escape(&series.name),
                    escape(&self.categories[ci]),
                    format_value(v),
                    bw = (bar_w - 1.0).max(0.5),
                );
            }
            doc.out.push_str("</g>\n");
        }
        let names: Vec<&str> = self.series.iter().map(|s| s.name.as_str()).collect();
        doc.legend(&names, false);
        doc.finish()
    }
}

/// How a [`Histogram`] cuts its value range into bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bins {
    /// This many equal-width bins spanning the finite values of all series.
    Count(usize),
    /// Explicit ascending bin edges; `n + 1` edges give `n` bins, the last one closed.
    Edges(Vec<f64>),
    /// One bin per integer `min..=max`, centred on it (for 1–5 judge scales).
    Integers {
        /// Smallest integer with a bin.
        min: i64,
        /// Largest integer with a bin.
        max: i64,
    },
}

/// One named sample of a [`Histogram`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Name shown in the legend (e.g. a judge).
    pub name: String,
    /// The observations; non-finite values are ignored, values outside the bins are counted
    /// in the legend as "outside".
    pub values: Vec<f64>,
}

/// Binned counts of a [`Histogram`], as drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinnedCounts {
    /// Bin edges, ascending; bin `i` is `[edges[i], edges[i + 1])`, the last one closed.
    pub edges: Vec<f64>,
    /// Per sample, one count per bin.
    pub counts: Vec<Vec<usize>>,
    /// Per sample, finite values outside every bin.
    pub outside: Vec<usize>,
}

/// A distribution chart: the values of one or more samples counted into shared bins, the
/// samples' bars side by side inside each bin (judge score distributions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Title drawn above the plot.
    pub title: String,
    /// Label of the horizontal (value) axis.
    pub x_label: String,
    /// Label of the vertical (count) axis.
    pub y_label: String,
    /// How the value range is cut.
    pub bins: Bins,
    /// The samples.
    pub series: Vec<Sample>,
}

impl Histogram {
    /// Counts every sample into the bins; `None` when no bin can be formed (no finite value
    /// with [`Bins::Count`], fewer than two ascending edges, `min > max`, zero bins).
    pub fn counts(&self) -> Option<BinnedCounts> {
        let edges: Vec<f64> = match &self.bins {
            Bins::Count(n) => {
                if *n == 0 {
                    return None;
                }
                let finite = self
                    .series
                    .iter()
                    .flat_map(|s| s.values.iter().copied())
                    .filter(|v| v.is_finite());
                let (lo, hi) = min_max(finite)?;
                let (lo, hi) = if lo == hi {
                    (lo - 0.5, hi + 0.5)
                } else {
                    (lo, hi)
                };
                (0..=*n)
                    .map(|i| lo + (hi - lo) * i as f64 / *n as f64)
                    .collect()
            }
            Bins::Edges(e) => {
                let ok = e.len() >= 2
                    && e.iter().all(|v| v.is_finite())
                    && e.windows(2).all(|w| w[0] < w[1]);
                if !ok {
                    return None;
                }
                e.clone()
            }
            Bins::Integers { min, max } => {
                if min > max || max - min > 10_000 {
                    return None;
                }
                (*min..=*max + 1).map(|k| k as f64 - 0.5).collect()
            }
        };
        let n_bins = edges.len() - 1;
        let (lo, hi) = (edges[0], edges[n_bins]);
        let mut counts = Vec::with_capacity(self.series.len());
        let mut outside = Vec::with_capacity(self.series.len());
        for sample in &self.series {
            let mut c = vec![0usize; n_bins];
            let mut out = 0;
            for &v in sample.values.iter().filter(|v| v.is_finite()) {
                if v < lo || v > hi {
                    out += 1;
                    continue;
                }
                // First edge strictly greater than v, minus one; v == hi lands in the last bin.
                let i = edges
                    .partition_point(|&e| e <= v)
                    .saturating_sub(1)
                    .min(n_bins - 1);
                c[i] += 1;
            }
            counts.push(c);
            outside.push(out);
        }
        Some(BinnedCounts {
            edges,
            counts,
            outside,
        })
    }

    /// Renders the chart as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let mut doc = Doc::new(&self.title);
        let Some(binned) = self.counts() else {
            doc.frame_empty(&self.x_label, &self.y_label);
            return doc.finish();
        };
        let max_count = binned.counts.iter().flatten().copied().max().unwrap_or(0);
        let x_axis = Axis::exact(binned.edges[0], *binned.edges.last().unwrap_or(&1.0));
        let y_axis = Axis::fit([0.0, max_count.max(1) as f64].into_iter(), true)
            .unwrap_or_else(|| Axis::exact(0.0, 1.0));
        let x_axis = match &self.bins {
            // Integer bins are labelled on the integers themselves.
            Bins::Integers { min, max } => Axis {
                ticks: (*min..=*max).map(|k| k as f64).collect(),
                decimals: 0,
                ..x_axis
            },
            _ => Axis {
                decimals: tick_decimals(&binned.edges),
                ticks: binned.edges.clone(),
                ..x_axis
            },
        };
        doc.numeric_x_axis(&x_axis, &self.x_label);
        doc.y_axis(&y_axis, &self.y_label);
        let n_series = self.series.len().max(1) as f64;
        let base = y_axis.to_y(0.0);
        for (si, sample) in self.series.iter().enumerate() {
            let colour = PALETTE[si % PALETTE.len()];
            let _ = writeln!(
                doc.out,
                r#"<g class="series" data-name="{}">"#,
                escape(&sample.name)
            );
            for (bi, &count) in binned.counts[si].iter().enumerate() {
                let x0 = x_axis.to_x(binned.edges[bi]);
                let x1 = x_axis.to_x(binned.edges[bi + 1]);
                let w = (x1 - x0) * 0.9 / n_series;
                let x = x0 + (x1 - x0) * 0.05 + si as f64 * w;
                let top = y_axis.to_y(count as f64);
                let _ = writeln!(
                    doc.out,
                    r#"<rect class="bar" x="{x:.2}" y="{top:.2}" width="{bw:.2}" height="{h:.2}" fill="{colour}"><title>{}: {count} in [{}, {}]</title></rect>"#,
                    escape(&sample.name),
                    format_value(binned.edges[bi]),
                    format_value(binned.edges[bi + 1]),
                    bw = (w - 0.5).max(0.5),
                    h = base - top,
                );
            }
            doc.out.push_str("</g>\n");
        }
        let names: Vec<String> = self
            .series
            .iter()
            .zip(&binned.outside)
            .map(|(s, &out)| {
                let n: usize = s.values.iter().filter(|v| v.is_finite()).count();
                if out > 0 {
                    format!("{} (n={n}, {out} outside)", s.name)
                } else {
                    format!("{} (n={n})", s.name)
                }
            })
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        doc.legend(&names, false);
        doc.finish()
    }
}

const PLOT_X: f64 = MARGIN_LEFT;
const PLOT_Y: f64 = MARGIN_TOP;
const PLOT_W: f64 = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
const PLOT_H: f64 = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;

/// The plot area every chart draws its data into, as `(x, y, width, height)`; tests and
/// readers of the SVG find it as the `rect` of class `plot-area`.
pub const PLOT_AREA: (f64, f64, f64, f64) = (PLOT_X, PLOT_Y, PLOT_W, PLOT_H);

/// A numeric axis: its value range and where the ticks go.
#[derive(Debug, Clone)]
struct Axis {
    min: f64,
    max: f64,
    ticks: Vec<f64>,
    decimals: usize,
}

impl Axis {
    /// A "nice" axis (ticks at 1, 2 or 5 × 10^k) covering every value; `None` for no values.
    fn fit(values: impl Iterator<Item = f64>, include_zero: bool) -> Option<Axis> {
        let (mut lo, mut hi) = min_max(values.filter(|v| v.is_finite()))?;
        if include_zero {
            lo = lo.min(0.0);
            hi = hi.max(0.0);
        }
        if lo == hi {
            let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            lo -= pad;
            hi += pad;
        }
        let step = nice_step((hi - lo) / 5.0);
        let min = (lo / step).floor() * step;
        let max = (hi / step).ceil() * step;
        let n = ((max - min) / step).round() as usize;
        let ticks = (0..=n).map(|i| min + step * i as f64).collect();
        Some(Axis {
            min,
            max,
            ticks,
            decimals: decimals_for(step),
        })
    }

    /// An axis spanning exactly `[min, max]` with nice ticks inside it.
    fn exact(min: f64, max: f64) -> Axis {
        let (min, max) = if min < max {
            (min, max)
        } else {
            (min - 0.5, min + 0.5)
        };
        let step = nice_step((max - min) / 5.0);
        let first = (min / step).ceil() * step;
        let n = ((max - first) / step + 1e-9).floor().max(0.0) as usize;
        Axis {
            min,
            max,
            ticks: (0..=n).map(|i| first + step * i as f64).collect(),
            decimals: decimals_for(step),
        }
    }

    fn frac(&self, v: f64) -> f64 {
        (v - self.min) / (self.max - self.min)
    }

    fn to_x(&self, v: f64) -> f64 {
        PLOT_X + self.frac(v) * PLOT_W
    }

    fn to_y(&self, v: f64) -> f64 {
        PLOT_Y + PLOT_H - self.frac(v) * PLOT_H
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// The smallest of 1, 2, 5 × 10^k that is at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn decimals_for(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()).clamp(0.0, 12.0) as usize
    }
}

fn tick_decimals(edges: &[f64]) -> usize {
    let min_gap = edges
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    if min_gap.is_finite() {
        decimals_for(min_gap).min(4)
    } else {
        2
    }
}

fn format_value(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.3e}")
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// The SVG text being written, with the parts every chart shares.
struct Doc {
    out: String,
}

impl Doc {
    fn new(title: &str) -> Doc {
        let mut out = String::with_capacity(8192);
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(out, "<title>{}</title>", escape(title));
        let _ = writeln!(
            out,
            r#"<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
        );
        let _ = writeln!(
            out,
            r#"<text class="title" x="{:.1}" y="28" text-anchor="middle" font-size="16" font-weight="bold">{}</text>"#,
            PLOT_X + PLOT_W / 2.0,
            escape(title)
        );
        let _ = writeln!(
            out,
            r##"<rect class="plot-area" x="{PLOT_X}" y="{PLOT_Y}" width="{PLOT_W}" height="{PLOT_H}" fill="none" stroke="#333"/>"##
        );
        Doc { out }
    }

    fn axis_labels(&mut self, x_label: &str, y_label: &str) {
        let _ = writeln!(
            self.out,
            r#"<text class="x-label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            PLOT_X + PLOT_W / 2.0,
            HEIGHT - 14.0,
            escape(x_label)
        );
        let (x, y) = (18.0, PLOT_Y + PLOT_H / 2.0);
        let _ = writeln!(
            self.out,
            r#"<text class="y-label" x="{x}" y="{y:.1}" text-anchor="middle" transform="rotate(-90 {x} {y:.1})">{}</text>"#,
            escape(y_label)
        );
    }

    fn frame_empty(&mut self, x_label: &str, y_label: &str) {
        self.axis_labels(x_label, y_label);
        let _ = writeln!(
            self.out,
            r##"<text class="no-data" x="{:.1}" y="{:.1}" text-anchor="middle" fill="#666">no data</text>"##,
            PLOT_X + PLOT_W / 2.0,
            PLOT_Y + PLOT_H / 2.0
        );
    }

    fn y_axis(&mut self, axis: &Axis, label: &str) {
        for &t in &axis.ticks {
            let y = axis.to_y(t);
            let _ = writeln!(
                self.out,
                r##"<line class="grid" x1="{PLOT_X}" y1="{y:.2}" x2="{:.2}" y2="{y:.2}" stroke="#ddd"/><line class="tick" x1="{:.2}" y1="{y:.2}" x2="{PLOT_X}" y2="{y:.2}" stroke="#333"/><text class="y-tick" x="{:.2}" y="{:.2}" text-anchor="end">{:.*}</text>"##,
                PLOT_X + PLOT_W,
                PLOT_X - 5.0,
                PLOT_X - 8.0,
                y + 4.0,
                axis.decimals,
                t
            );
        }
        let _ = writeln!(
            self.out,
            r#"<text class="y-label" x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">{}</text>"#,
            PLOT_Y + PLOT_H / 2.0,
            PLOT_Y + PLOT_H / 2.0,
            escape(label)
        );
    }

    fn numeric_x_axis(&mut self, axis: &Axis, label: &str) {
        let y0 = PLOT_Y + PLOT_H;
        for &t in &axis.ticks {
            let x = axis.to_x(t);
            let _ = writeln!(
                self.out,
                r##"<line class="tick" x1="{x:.2}" y1="{y0}" x2="{x:.2}" y2="{:.2}" stroke="#333"/><text class="x-tick" x="{x:.2}" y="{:.2}" text-anchor="middle">{:.*}</text>"##,
                y0 + 5.0,
                y0 + 18.0,
                axis.decimals,
                t
            );
        }
        self.x_label(label);
    }

    fn category_x_axis(&mut self, categories: &[String], label: &str) {
        let y0 = PLOT_Y + PLOT_H;
        let group_w = PLOT_W / categories.len().max(1) as f64;
        // Long or many labels are turned so they do not run into each other.
        let widest = categories
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0);
        let rotate = widest as f64 * 6.5 > group_w;
        for (i, c) in categories.iter().enumerate() {
            let x = PLOT_X + (i as f64 + 0.5) * group_w;
            let text = escape(&truncate(c, 18));
            if rotate {
                let y = y0 + 14.0;
                let _ = writeln!(
                    self.out,
                    r#"<text class="x-tick" x="{x:.2}" y="{y:.2}" text-anchor="end" font-size="10" transform="rotate(-30 {x:.2} {y:.2})">{text}</text>"#
                );
            } else {
                let _ = writeln!(
                    self.out,
                    r#"<text class="x-tick" x="{x:.2}" y="{:.2}" text-anchor="middle">{text}</text>"#,
                    y0 + 18.0
                );
            }
        }
        self.x_label(label);
    }

    fn x_label(&mut self, label: &str) {
        let _ = writeln!(
            self.out,
            r#"<text class="x-label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            PLOT_X + PLOT_W / 2.0,
            HEIGHT - 10.0,
            escape(label)
        );
    }

    fn legend(&mut self, names: &[&str], lines: bool) {
        if names.is_empty() {
            return;
        }
        let x = PLOT_X + PLOT_W + 14.0;
        self.out.push_str("<g class=\"legend\">\n");
        for (i, name) in names.iter().enumerate() {
            let y = PLOT_Y + 8.0 + i as f64 * 18.0;
            if y > HEIGHT - 10.0 {
                break;
            }
            let colour = PALETTE[i % PALETTE.len()];
            if lines {
                let _ = write!(
                    self.out,
                    r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="2"/>"#,
                    x + 16.0
                );
            } else {
                let _ = write!(
                    self.out,
                    r#"<rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{colour}"/>"#,
                    y - 6.0
                );
            }
            let _ = writeln!(
                self.out,
                r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                x + 22.0,
                y + 4.0,
                escape(&truncate(name, LEGEND_CHARS))
            );
        }
        self.out.push_str("</g>\n");
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;
    use quick_xml::{Reader, XmlVersion};

    /// Parses `svg` fully (fails on malformed XML) and returns every element's name and
    /// attributes, in document order.
    fn elements(svg: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut reader = Reader::from_str(svg);
        reader.config_mut().check_end_names = true;
        let mut out = Vec::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) | Event::Empty(e) => {
                    let name = e.name().as_ref().to_string();
                    let attrs = e
                        .attributes()
                        .map(|a| {
                            let a = a.expect("valid attribute");
                            (
                                a.key.as_ref().to_string(),
                                a.normalized_value(XmlVersion::Implicit1_0)
                                    .expect("valid escape")
                                    .into_owned(),
                            )
                        })
                        .collect();
                    out.push((name, attrs));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    /// Well-formedness through quick-xml: every start tag closed, text escaped.
    fn assert_well_formed(svg: &str) {
        let mut reader = Reader::from_str(svg);
        reader.config_mut().check_end_names = true;
        let mut depth = 0i32;
        let mut roots = 0;
        loop {
            match reader.read_event() {
                Ok(Event::Start(_)) => {
                    if depth == 0 {
                        roots += 1;
                    }
                    depth += 1;
                }
                Ok(Event::End(_)) => depth -= 1,
                Ok(Event::GeneralRef(r)) => {
                    let known = ["amp", "lt", "gt", "quot", "apos"].contains(&&*r.xml10_content());
                    assert!(known || r.is_char_ref(), "unknown entity {r:?}");
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("malformed SVG: {e}\n{svg}"),
            }
        }
        assert_eq!(depth, 0, "unbalanced tags");
        assert_eq!(roots, 1, "one root element");
    }

    fn attr(attrs: &[(String, String)], key: &str) -> f64 {
        attrs
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("missing {key}"))
            .1
            .parse()
            .unwrap()
    }

    fn class_is(attrs: &[(String, String)], class: &str) -> bool {
        attrs.iter().any(|(k, v)| k == "class" && v == class)
    }

    fn plot_area(svg: &str) -> (f64, f64, f64, f64) {
        let els = elements(svg);
        let (_, a) = els
            .iter()
            .find(|(n, a)| n == "rect" && class_is(a, "plot-area"))
            .expect("plot area");
        (
            attr(a, "x"),
            attr(a, "y"),
            attr(a, "width"),
            attr(a, "height"),
        )
    }

    fn inside(area: (f64, f64, f64, f64), x: f64, y: f64) -> bool {
        let eps = 1e-6;
        x >= area.0 - eps
            && x <= area.0 + area.2 + eps
            && y >= area.1 - eps
            && y <= area.1 + area.3 + eps
    }

    fn line() -> LineChart {
        LineChart {
            title: "CKA <en & lb>".into(),
            x_label: "layer".into(),
            y_label: "linear CKA".into(),
            series: vec![
                Series {
                    name: "before \"base\"".into(),
                    points: vec![(0.0, 0.2), (1.0, 0.35), (2.0, 0.5), (3.0, 0.41)],
                },
                Series {
                    name: "after".into(),
                    points: vec![(0.0, 0.3), (1.0, f64::NAN), (2.0, 0.8), (3.0, 0.93)],
                },
            ],
        }
    }

    #[test]
    fn line_chart_is_well_formed_and_points_fall_in_plot_area() {
        let svg = line().to_svg();
        assert_well_formed(&svg);
        assert_eq!(plot_area(&svg), PLOT_AREA);
        let area = PLOT_AREA;
        let els = elements(&svg);
        let points: Vec<(f64, f64)> = els
            .iter()
            .filter(|(n, a)| n == "circle" && class_is(a, "point"))
            .map(|(_, a)| (attr(a, "cx"), attr(a, "cy")))
            .collect();
        // 4 + 3 finite points.
        assert_eq!(points.len(), 7);
        assert!(
            points.iter().all(|&(x, y)| inside(area, x, y)),
            "{points:?}"
        );
        // The NaN breaks the second line into a single point plus a two-point segment.
        let lines = els.iter().filter(|(n, _)| n == "polyline").count();
        assert_eq!(lines, 2);
        // Larger values are drawn higher (smaller y); x grows with layer.
        assert!(points[3].1 > points[6].1, "0.41 below 0.93");
        assert!(points[0].0 < points[1].0);
        // The extreme points touch the axis range, which covers them.
        let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
        assert!((xs.iter().cloned().fold(f64::INFINITY, f64::min) - area.0).abs() < 1e-6);
        assert!(svg.contains("CKA &lt;en &amp; lb&gt;"));
        assert!(svg.contains("before &quot;base&quot;"));
        assert!(svg.contains(r#"class="legend""#));
    }

    #[test]
    fn ticks_are_nice_and_cover_the_data() {
        let a = Axis::fit([0.13, 0.87].into_iter(), false).unwrap();
        assert!(a.min <= 0.13 && a.max >= 0.87);
        assert_eq!(a.decimals, 1);
        for w in a.ticks.windows(2) {
            assert!((w[1] - w[0] - 0.2).abs() < 1e-9, "{:?}", a.ticks);
        }
        let a = Axis::fit([3.0, 3.0].into_iter(), false).unwrap();
        assert!(a.min < 3.0 && a.max > 3.0);
        let a = Axis::fit([0.0, 0.0].into_iter(), true).unwrap();
        assert!(a.min < a.max);
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.2), 2.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(f64::NAN), 1.0);
    }

    #[test]
    fn empty_and_all_nan_charts_say_no_data() {
        for chart in [
            LineChart {
                title: String::new(),
                x_label: String::new(),
                y_label: String::new(),
                series: vec![],
            },
            LineChart {
                title: "t".into(),
                x_label: "x".into(),
                y_label: "y".into(),
                series: vec![Series {
                    name: "nan".into(),
                    points: vec![(f64::NAN, 1.0), (1.0, f64::INFINITY)],
                }],
            },
        ] {
            let svg = chart.to_svg();
            assert_well_formed(&svg);
            assert!(svg.contains("no data"));
        }
        let bars = BarChart {
            title: "b".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            categories: vec!["a".into()],
            series: vec![BarSeries {
                name: "m".into(),
                values: vec![f64::NAN],
            }],
            y_range: None,
        };
        assert!(bars.to_svg().contains("no data"));
        let hist = Histogram {
            title: "h".into(),
            x_label: "x".into(),
            y_label: "n".into(),
            bins: Bins::Count(4),
            series: vec![Sample {
                name: "j".into(),
                values: vec![f64::NAN],
            }],
        };
        assert_well_formed(&hist.to_svg());
        assert!(hist.to_svg().contains("no data"));
    }

    #[test]
    fn bar_chart_groups_bars_and_keeps_them_inside() {
        let chart = BarChart {
            title: "MGSM accuracy".into(),
            x_label: "language".into(),
            y_label: "accuracy".into(),
            categories: vec!["en".into(), "lb".into(), "de".into()],
            series: vec![
                BarSeries {
                    name: "base".into(),
                    values: vec![0.5, 0.1, 0.4],
                },
                BarSeries {
                    name: "tuned <lora>".into(),
                    values: vec![0.6, f64::NAN, 0.45, 9.0],
                },
            ],
            y_range: Some((0.0, 1.0)),
        };
        let svg = chart.to_svg();
        assert_well_formed(&svg);
        let area = PLOT_AREA;
        let bars: Vec<(f64, f64, f64, f64)> = elements(&svg)
            .iter()
            .filter(|(n, a)| n == "rect" && class_is(a, "bar"))
            .map(|(_, a)| {
                (
                    attr(a, "x"),
                    attr(a, "y"),
                    attr(a, "width"),
                    attr(a, "height"),
                )
            })
            .collect();
        // NaN is a gap; the value beyond the last category is ignored.
        assert_eq!(bars.len(), 5);
        for &(x, y, w, h) in &bars {
            assert!(inside(area, x, y) && inside(area, x + w, y + h), "{bars:?}");
        }
        // Bar height is proportional to the value on a 0..1 axis.
        assert!((bars[0].3 - 0.5 * area.3).abs() < 0.01);
        assert!((bars[1].3 - 0.1 * area.3).abs() < 0.01);
        // The tuned bar for "en" sits right of the base bar for "en", left of "lb".
        assert!(bars[3].0 > bars[0].0 && bars[3].0 < bars[1].0);
        assert!(svg.contains("tuned &lt;lora&gt;"));
    }

    #[test]
    fn negative_bars_hang_from_zero() {
        let chart = BarChart {
            title: "delta".into(),
            x_label: "c".into(),
            y_label: "v".into(),
            categories: vec!["a".into(), "b".into()],
            series: vec![BarSeries {
                name: "s".into(),
                values: vec![-2.0, 3.0],
            }],
            y_range: None,
        };
        let svg = chart.to_svg();
        assert_well_formed(&svg);
        let bars: Vec<(f64, f64)> = elements(&svg)
            .iter()
            .filter(|(n, a)| n == "rect" && class_is(a, "bar"))
            .map(|(_, a)| (attr(a, "y"), attr(a, "height")))
            .collect();
        // The negative bar starts where the positive one ends (the zero line).
        assert!(
            (bars[0].0 - (bars[1].0 + bars[1].1)).abs() < 0.01,
            "{bars:?}"
        );
        assert!((bars[0].1 / bars[1].1 - 2.0 / 3.0).abs() < 0.01);
    }

    #[test]
    fn histogram_counts_integer_bins() {
        let hist = Histogram {
            title: "judge scores".into(),
            x_label: "score".into(),
            y_label: "items".into(),
            bins: Bins::Integers { min: 1, max: 5 },
            series: vec![
                Sample {
                    name: "g_eval".into(),
                    values: vec![1.0, 2.0, 2.4, 2.6, 5.0, 5.4, 7.0, f64::NAN],
                },
                Sample {
                    name: "other".into(),
                    values: vec![3.0, 3.0],
                },
            ],
        };
        let c = hist.counts().unwrap();
        assert_eq!(c.edges, vec![0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
        assert_eq!(c.counts[0], vec![1, 2, 1, 0, 2]);
        assert_eq!(c.outside, vec![1, 0]);
        assert_eq!(c.counts[1], vec![0, 0, 2, 0, 0]);
        let svg = hist.to_svg();
        assert_well_formed(&svg);
        let area = PLOT_AREA;
        let bars: Vec<(f64, f64, f64, f64)> = elements(&svg)
            .iter()
            .filter(|(n, a)| n == "rect" && class_is(a, "bar"))
            .map(|(_, a)| {
                (
                    attr(a, "x"),
                    attr(a, "y"),
                    attr(a, "width"),
                    attr(a, "height"),
                )
            })
            .collect();
        assert_eq!(bars.len(), 10);
        for &(x, y, w, h) in &bars {
            assert!(inside(area, x, y) && inside(area, x + w, y + h));
        }
        assert!(svg.contains("1 outside"));
    }

    #[test]
    fn histogram_edges_and_counts() {
        let mut hist = Histogram {
            title: "h".into(),
            x_label: "x".into(),
            y_label: "n".into(),
            bins: Bins::Count(2),
            series: vec![Sample {
                name: "s".into(),
                values: vec![0.0, 1.0, 2.0, 3.0, 4.0],
            }],
        };
        let c = hist.counts().unwrap();
        assert_eq!(c.edges, vec![0.0, 2.0, 4.0]);
        assert_eq!(c.counts[0], vec![2, 3]);
        hist.bins = Bins::Edges(vec![0.0, 1.0, 1.0]);
        assert!(hist.counts().is_none());
        assert!(hist.to_svg().contains("no data"));
        hist.bins = Bins::Edges(vec![-1.0, 0.5, 10.0]);
        assert_eq!(hist.counts().unwrap().counts[0], vec![1, 4]);
        hist.bins = Bins::Count(0);
        assert!(hist.counts().is_none());
        hist.bins = Bins::Integers { min: 3, max: 1 };
        assert!(hist.counts().is_none());
    }

    #[test]
    fn escape_covers_xml_specials_and_controls() {
        assert_eq!(escape("a<b>&\"'\u{1}"), "a&lt;b&gt;&amp;&quot;&apos; ");
        let chart = LineChart {
            title: "\u{7}bell & <tag>".into(),
            x_label: "é ü".into(),
            y_label: "]]>".into(),
            series: vec![Series {
                name: "x".repeat(100),
                points: vec![(1.0, 1.0)],
            }],
        };
        let svg = chart.to_svg();
        assert_well_formed(&svg);
        // A single finite point still gets a marker.
        assert_eq!(svg.matches("class=\"point\"").count(), 1);
    }
}
