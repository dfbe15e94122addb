//! The figures of `ablation report`: SVG files drawn with plotters (no font or bitmap backend:
//! text goes into the SVG as `<text>` in a generic `sans-serif` family, rendered by the viewer).
//!
//! Per (field, arm), under `figures/`:
//!
//! | file | what |
//! |---|---|
//! | `test-accuracy_<arm>.svg` | test accuracy per variant, one panel per task: box (quartiles, whiskers to the last value within 1.5 IQR) and strip (one circle per simulation, deterministic horizontal jitter), chance level dashed |
//! | `learning-curves_<arm>.svg` | training and validation accuracy per epoch, mean over simulations with its 95% t-CI band, a line per variant, one row per task |
//! | `<metric>-vs-accuracy_<arm>.svg` | for modularity, small-worldness, assortativity and entropy: the metric of each trained W against its test accuracy, coloured by variant, one panel per task |
//!
//! `<arm>` is the arm with `/` replaced by `-` (`free-corr-sttc`), prefixed by the field id when
//! the results hold more than one field. Runs that failed (non-finite loss: `status` 0) have no
//! final metrics; they are left out and the figure says so in its footer, as it does for
//! non-finite metric values. Every data point of the box/strip and scatter figures is one
//! `<circle>` and nothing else is, so a figure can be checked against `results.csv` by counting.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::csv::RunKey;
use super::summary::mean_ci95;
use super::{io_err, trained, Results};
use crate::error::{Error, Result};
use crate::tasks::TaskKind;
use crate::variants::{Arm, Sign, Source, PAPER_VARIANTS};

/// What [`write_all`] wrote.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub files: Vec<PathBuf>,
    /// One line per run or value left out of the figures.
    pub excluded: Vec<String>,
}

/// One topology metric plotted against accuracy.
#[derive(Debug, Clone, Copy)]
pub struct TopologyMetric {
    /// Its name in `results.csv`.
    pub metric: &'static str,
    /// File stem: `<stem>-vs-accuracy_<arm>.svg`.
    pub stem: &'static str,
    /// Axis label, with unit.
    pub axis: &'static str,
    pub short: &'static str,
    /// When the metric is not finite (said in the footer when runs are left out for it).
    pub non_finite: &'static str,
}

/// The topology metrics plotted against accuracy.
pub const TOPOLOGY: [TopologyMetric; 4] = [
    TopologyMetric {
        metric: "modularity",
        stem: "modularity",
        axis: "modularity Q of the top-10% |W| graph (CNM; unitless)",
        short: "modularity Q",
        non_finite: "Q is undefined for a graph without edges",
    },
    TopologyMetric {
        metric: "small_worldness",
        stem: "small-worldness",
        axis: "small-worldness σ = (C/C_null)/(L/L_null) (unitless; >1: small world)",
        short: "small-worldness σ",
        non_finite: "σ = +∞ when a density-matched null graph is disconnected (L_null = ∞), NaN \
                     when W's graph is too; σ = 0 marks a disconnected graph of W",
    },
    TopologyMetric {
        metric: "assortativity",
        stem: "assortativity",
        axis: "degree assortativity r of the top-10% |W| graph (unitless, −1…1)",
        short: "degree assortativity r",
        non_finite: "r is undefined when every edge joins nodes of equal degree",
    },
    TopologyMetric {
        metric: "entropy",
        stem: "entropy",
        axis: "entropy of the weight distribution of W (bits)",
        short: "weight entropy",
        non_finite: "the entropy is undefined for a constant W",
    },
];

/// Eleven colours that stay apart on screen and in print (Tableau 10 plus black), assigned by
/// the variant's position in the paper's list so that a variant keeps its colour in every
/// figure and in every subset of variants.
const PALETTE: [RGBColor; 11] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
];
/// For variants outside the paper's eleven (e.g. `W~D*C`).
const EXTRA: [RGBColor; 4] = [
    RGBColor(0, 90, 50),
    RGBColor(150, 0, 90),
    RGBColor(90, 60, 0),
    RGBColor(60, 60, 160),
];

/// The colour of a variant: one of eleven (Tableau 10 plus black) fixed by its position in the
/// paper's list, or for other variants one of four extra colours by `index`, its position in
/// the figure's list.
pub fn colour(variant: &str, index: usize) -> RGBColor {
    match PAPER_VARIANTS.iter().position(|p| *p == variant) {
        Some(i) => PALETTE[i],
        None => EXTRA[index % EXTRA.len()],
    }
}

const FONT: &str = "sans-serif";
/// Accuracy axes: 0…1 with a little room so that points at 0 and 1 are not cut by the frame.
const ACC_RANGE: std::ops::Range<f64> = -0.03..1.04;
const LEGEND_W: u32 = 190;
/// Narrowest figure: the header's longest line fits.
const MIN_WIDTH: u32 = 1150;
const HEADER_H: u32 = 124;
const FOOT_LINE_H: u32 = 18;
const MAX_FOOT_LINES: usize = 6;

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

fn task_title(t: TaskKind) -> &'static str {
    match t {
        TaskKind::OneChoice => "One-Choice Inference",
        TaskKind::GoNoGo => "Go/NoGo",
        TaskKind::PerceptualDecision => "Perceptual Decision-Making",
    }
}

fn arm_title(arm: &Arm) -> String {
    let sign = match arm.sign {
        Sign::Unconstrained => "unconstrained W",
        Sign::NonNegative => "W ≥ 0 (sign+)",
    };
    let source = match arm.source {
        Source::CorrSttc => "W* from corr·STTC",
        Source::PrecisionSttc => "W* from precision·STTC",
        Source::Sttc => "W* from STTC only",
    };
    format!("arm {arm} ({sign}; {source})")
}

fn field_title(field: &str) -> String {
    if field.starts_with("synthetic") {
        format!("synthetic field {field}")
    } else {
        format!("MICrONS field {field}")
    }
}

const VARIANT_KEY: &str = "W: orthogonal init, W*: functional prior, W!: W* permuted · D: grid \
                           distance, D*: soma distance · C: communicability × wiring cost, C*: \
                           EMD to the connectome's communicability";

/// Everything a figure of one (field, arm) needs.
struct Ctx<'a> {
    res: &'a Results,
    field: &'a str,
    arm: &'a Arm,
    variants: &'a [String],
    tasks: Vec<TaskKind>,
    /// Footer lines about failed runs (shared by every figure of this arm).
    failed: Vec<String>,
}

impl Ctx<'_> {
    fn runs(&self) -> impl Iterator<Item = (&RunKey, &BTreeMap<String, f64>)> {
        let arm = self.arm.to_string();
        self.res
            .runs
            .iter()
            .filter(move |(k, _)| k.field == self.field && k.arm == arm)
    }

    /// Values of `metric` of the trained runs of (variant, task), with their simulation, and
    /// how many trained runs had a non-finite value.
    fn values(&self, variant: &str, task: TaskKind, metric: &str) -> (Vec<(usize, f64)>, usize) {
        let mut v = Vec::new();
        let mut bad = 0;
        for (k, m) in self.runs() {
            if k.variant != variant || k.task != task.name() || !trained(m) {
                continue;
            }
            match m.get(metric) {
                Some(x) if x.is_finite() => v.push((k.simulation, *x)),
                _ => bad += 1,
            }
        }
        (v, bad)
    }

    fn header(&self, root: &Area<'_>, what: &str, how: &str) -> DrawResult {
        root.draw(&Text::new(
            what.to_string(),
            (16, 10),
            (FONT, 26).into_font(),
        ))?;
        let which = format!("{} · {}", field_title(self.field), arm_title(self.arm));
        root.draw(&Text::new(which, (16, 44), (FONT, 18).into_font()))?;
        let grey = RGBColor(70, 70, 70);
        let small = |size| TextStyle::from((FONT, size).into_font()).color(&grey);
        root.draw(&Text::new(how.to_string(), (16, 72), small(15)))?;
        root.draw(&Text::new(VARIANT_KEY, (16, 96), small(15)))?;
        Ok(())
    }

    /// The footer `lines`, at the bottom of a figure `height` pixels high that reserved
    /// [`footer_height`] for them.
    fn footer(&self, root: &Area<'_>, lines: &[String], height: u32) -> DrawResult {
        let top = (height - FOOT_LINE_H * lines.len() as u32 - 10) as i32;
        for (i, l) in lines.iter().enumerate() {
            root.draw(&Text::new(
                l.clone(),
                (16, top + (i as i32) * FOOT_LINE_H as i32),
                TextStyle::from((FONT, 15).into_font()).color(&RGBColor(150, 20, 20)),
            ))?;
        }
        Ok(())
    }
}

/// The height a figure reserves for its footer `lines` (see `Ctx::footer`).
fn footer_height(lines: &[String]) -> u32 {
    FOOT_LINE_H * lines.len() as u32 + 16
}

/// `lines` broken at spaces to fit `width` pixels of 15-px text (about 8.3 px per character in
/// common sans-serif fonts); continuation lines are indented.
fn wrap(lines: Vec<String>, width: u32) -> Vec<String> {
    let max = ((width.saturating_sub(40)) as f64 / 8.3) as usize;
    let mut out = Vec::new();
    for l in lines {
        let mut cur = String::new();
        for word in l.split(' ') {
            let len = cur.chars().count() + 1 + word.chars().count();
            if !cur.is_empty() && len > max {
                out.push(std::mem::take(&mut cur));
                cur.push_str("    ");
            } else if !cur.is_empty() && !cur.ends_with("    ") {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        out.push(cur);
    }
    out
}

/// The footer's lines, at most [`MAX_FOOT_LINES`].
fn cap_lines(mut lines: Vec<String>) -> Vec<String> {
    if lines.len() > MAX_FOOT_LINES {
        let more = lines.len() - (MAX_FOOT_LINES - 1);
        lines.truncate(MAX_FOOT_LINES - 1);
        lines.push(format!("… and {more} more (see summary.md)"));
    }
    lines
}

fn render(path: &Path, size: (u32, u32), draw: impl FnOnce(&Area<'_>) -> DrawResult) -> Result<()> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(|e| e.into())
            .and_then(|_| draw(&root))
            .and_then(|_| root.present().map_err(|e| e.into()));
        drawn.map_err(|e| Error::Format {
            path: path.to_path_buf(),
            reason: format!("drawing the figure failed: {e}"),
        })?;
    }
    std::fs::write(path, buf).map_err(io_err(path))
}

/// Quantile `p` of sorted `xs` by linear interpolation (numpy's default).
fn quantile(xs: &[f64], p: f64) -> f64 {
    let pos = p * (xs.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    xs[lo] + (xs[hi] - xs[lo]) * (pos - lo as f64)
}

/// Horizontal offset of simulation `sim`'s point in a strip: the golden-ratio sequence, so that
/// points spread evenly, never depend on a random generator, and a run keeps its place when
/// others are added.
pub fn jitter(sim: usize) -> f64 {
    ((sim as f64 * 0.618_033_988_749_895).fract() - 0.5) * 0.44
}

fn n_desc(counts: &[usize]) -> String {
    let lo = counts.iter().copied().min().unwrap_or(0);
    let hi = counts.iter().copied().max().unwrap_or(0);
    if lo == hi {
        let s = if lo == 1 { "" } else { "s" };
        format!("n = {lo} simulation{s} per variant")
    } else {
        format!("n = {lo}–{hi} simulations per variant")
    }
}

/// A linear f64 axis with ticks exactly where asked (plotters' own `with_key_points` loses the
/// f64 axis's label formatting): integer positions of variants or epochs.
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ticked {
    /// Categorical axis over `n` items: positions 0..n, a tick at each.
    fn categories(n: usize) -> Self {
        Ticked {
            lo: -0.5,
            hi: n as f64 - 0.5,
            ticks: (0..n).map(|i| i as f64).collect(),
        }
    }

    /// Epochs 1..=e, a tick at each (thinned to at most 12 ticks).
    fn epochs(e: usize) -> Self {
        let step = e.div_ceil(12).max(1);
        Ticked {
            lo: 0.5,
            hi: e as f64 + 0.5,
            ticks: (1..=e).step_by(step).map(|i| i as f64).collect(),
        }
    }
}

impl plotters::coord::ranged1d::Ranged for Ticked {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        // As plotters maps its own f64 axes.
        let frac = (v - self.lo) / (self.hi - self.lo);
        let len = limit.1 - limit.0;
        if len == 0 || !frac.is_finite() {
            return limit.0;
        }
        limit.0 + (len as f64 * frac + 1e-3).floor() as i32
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // Bold points only: no light grid lines between categories.
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

fn accuracy_figure(ctx: &Ctx<'_>, path: &Path) -> Result<Vec<String>> {
    let panel_h = 300u32;
    let mut notes = Vec::new();
    let mut bad_total = 0;
    for t in &ctx.tasks {
        for v in ctx.variants {
            bad_total += ctx.values(v, *t, "test_accuracy").1;
        }
    }
    if bad_total > 0 {
        notes.push(format!(
            "{bad_total} trained run(s) with a non-finite test accuracy left out"
        ));
    }
    let w = MIN_WIDTH;
    let foot = cap_lines(wrap([ctx.failed.clone(), notes.clone()].concat(), w));
    let h = HEADER_H + panel_h * ctx.tasks.len() as u32 + footer_height(&foot);
    render(path, (w, h), |root| {
        ctx.header(
            root,
            "Test accuracy per variant",
            "Box: quartiles and median (black), whiskers to the last value within 1.5 IQR; \
             circles: one simulation each (spread sideways only to avoid overlap); dashed: chance.",
        )?;
        let body = root.margin(HEADER_H, 0, 0, 0);
        let (body, _) = body.split_vertically(panel_h * ctx.tasks.len() as u32);
        let panels = body.split_evenly((ctx.tasks.len(), 1));
        let nv = ctx.variants.len();
        for (task, panel) in ctx.tasks.iter().zip(&panels) {
            let vals: Vec<Vec<(usize, f64)>> = ctx
                .variants
                .iter()
                .map(|v| ctx.values(v, *task, "test_accuracy").0)
                .collect();
            let counts: Vec<usize> = vals.iter().map(Vec::len).collect();
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!(
                        "{} ({}) — {}; chance = 1/{} (dashed)",
                        task_title(*task),
                        task.notebook_name(),
                        n_desc(&counts),
                        task.shape().classes
                    ),
                    (FONT, 18),
                )
                .margin(8)
                .margin_right(24)
                .x_label_area_size(48)
                .y_label_area_size(72)
                .build_cartesian_2d(Ticked::categories(nv), ACC_RANGE)?;
            let names = ctx.variants.to_vec();
            let fmt_x = move |x: &f64| {
                let i = x.round();
                if (x - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < names.len() {
                    names[i as usize].clone()
                } else {
                    String::new()
                }
            };
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_label_formatter(&fmt_x)
                .y_labels(6)
                .y_max_light_lines(1)
                .y_label_formatter(&|y| format!("{y:.1}"))
                .x_desc("variant")
                .y_desc("test accuracy (fraction correct)")
                .label_style((FONT, 15))
                .axis_desc_style((FONT, 15))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            let chance = 1.0 / task.shape().classes as f64;
            chart.draw_series(DashedLineSeries::new(
                vec![(-0.5, chance), (nv as f64 - 0.5, chance)],
                6,
                4,
                RGBColor(90, 90, 90).stroke_width(1),
            ))?;
            for (i, (v, pts)) in ctx.variants.iter().zip(&vals).enumerate() {
                let c = colour(v, i);
                let x = i as f64;
                if !pts.is_empty() {
                    let mut ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
                    ys.sort_by(f64::total_cmp);
                    let (q1, med, q3) =
                        (quantile(&ys, 0.25), quantile(&ys, 0.5), quantile(&ys, 0.75));
                    let iqr = q3 - q1;
                    // Tukey whiskers: to the most extreme values within 1.5 IQR of the box,
                    // never into it (interpolated quartiles can lie beyond every inner value).
                    let lo = ys
                        .iter()
                        .copied()
                        .find(|y| *y >= q1 - 1.5 * iqr)
                        .unwrap_or(q1)
                        .min(q1);
                    let hi = ys
                        .iter()
                        .rev()
                        .copied()
                        .find(|y| *y <= q3 + 1.5 * iqr)
                        .unwrap_or(q3)
                        .max(q3);
                    let bw = 0.32;
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x - bw, q1), (x + bw, q3)],
                        c.mix(0.18).filled(),
                    )))?;
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x - bw, q1), (x + bw, q3)],
                        c.stroke_width(2),
                    )))?;
                    let whisk = c.stroke_width(2);
                    for (a, b) in [(q3, hi), (q1, lo)] {
                        chart.draw_series(std::iter::once(PathElement::new(
                            vec![(x, a), (x, b)],
                            whisk,
                        )))?;
                        chart.draw_series(std::iter::once(PathElement::new(
                            vec![(x - bw / 2.0, b), (x + bw / 2.0, b)],
                            whisk,
                        )))?;
                    }
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(x - bw, med), (x + bw, med)],
                        BLACK.stroke_width(3),
                    )))?;
                }
                chart.draw_series(pts.iter().map(|(sim, y)| {
                    Circle::new((x + jitter(*sim), *y), 5, c.mix(0.85).filled())
                }))?;
            }
        }
        ctx.footer(root, &foot, h)?;
        Ok(())
    })?;
    Ok(notes)
}

/// A legend column: one colour swatch and name per variant (swatches are rectangles, so the
/// figure's `<circle>`s stay data points only).
fn legend(area: &Area<'_>, variants: &[String], note: &str) -> DrawResult {
    area.draw(&Text::new("variant", (12, 8), (FONT, 17).into_font()))?;
    for (i, v) in variants.iter().enumerate() {
        let y = 38 + 24 * i as i32;
        let c = colour(v, i);
        area.draw(&Rectangle::new([(12, y), (40, y + 14)], c.filled()))?;
        area.draw(&Text::new(v.clone(), (48, y - 1), (FONT, 16).into_font()))?;
    }
    let y = 38 + 24 * variants.len() as i32 + 12;
    for (j, l) in note.split('\n').enumerate() {
        area.draw(&Text::new(
            l.to_string(),
            (12, y + 18 * j as i32),
            TextStyle::from((FONT, 13).into_font()).color(&RGBColor(70, 70, 70)),
        ))?;
    }
    Ok(())
}

/// Per variant and epoch: (mean, t-CI half-width, n) of `epoch{k}_{kind}_accuracy` over the
/// trained runs.
fn curve(ctx: &Ctx<'_>, variant: &str, task: TaskKind, kind: &str) -> Vec<(f64, f64, f64, usize)> {
    (1..=ctx.res.exp.train.epochs)
        .filter_map(|e| {
            let (v, _) = ctx.values(variant, task, &format!("epoch{e}_{kind}_accuracy"));
            let xs: Vec<f64> = v.into_iter().map(|p| p.1).collect();
            if xs.is_empty() {
                return None;
            }
            let (m, ci, n) = mean_ci95(&xs);
            Some((e as f64, m, ci, n))
        })
        .collect()
}

/// Fewest simulations for a CI band: with two, Student's t(1) makes the 95% interval ±12.7
/// standard errors, a band that covers the panel and says nothing.
pub const MIN_BAND_N: usize = 3;

fn learning_curves_figure(ctx: &Ctx<'_>, path: &Path) -> Result<()> {
    let row_h = 300u32;
    let foot = cap_lines(wrap(ctx.failed.clone(), 2 * 520 + LEGEND_W + 20));
    let panel_w = 520u32;
    let w = 2 * panel_w + LEGEND_W + 20;
    let rows = ctx.tasks.len() as u32;
    let h = HEADER_H + row_h * rows + footer_height(&foot);
    let epochs = ctx.res.exp.train.epochs.max(1);
    render(path, (w, h), |root| {
        ctx.header(
            root,
            "Learning curves",
            "Line: mean over simulations; band: its 95% t-CI (drawn for n ≥ 3); variants nudged \
             sideways (< 0.2 epoch) so that equal curves stay visible.",
        )?;
        let body = root.margin(HEADER_H, 0, 0, 0);
        let (body, _) = body.split_vertically(row_h * rows);
        let (grid, legend_area) = body.split_horizontally(2 * panel_w + 10);
        legend(
            &legend_area,
            ctx.variants,
            "band: 95% t-CI over\nsimulations\n\ntraining accuracy:\nrunning mean over the\nepoch's batches, with\ninput noise (as Keras\nreports it)\n\nvalidation accuracy:\nat the epoch's end",
        )?;
        let panels = grid.split_evenly((ctx.tasks.len(), 2));
        for (r, task) in ctx.tasks.iter().enumerate() {
            for (c, (kind, label)) in [
                ("train", "training accuracy"),
                ("val", "validation accuracy"),
            ]
            .iter()
            .enumerate()
            {
                let panel = &panels[r * 2 + c];
                let x_axis = Ticked::epochs(epochs);
                let mut chart = ChartBuilder::on(panel)
                    .caption(
                        format!("{} ({}) — {label}", task_title(*task), task.notebook_name()),
                        (FONT, 17),
                    )
                    .margin(8)
                    .margin_right(16)
                    .x_label_area_size(44)
                    .y_label_area_size(64)
                    .build_cartesian_2d(x_axis, ACC_RANGE)?;
                chart
                    .configure_mesh()
                    .x_label_formatter(&|x| format!("{}", x.round() as i64))
                    .y_labels(6)
                    .y_max_light_lines(1)
                    .y_label_formatter(&|y| format!("{y:.1}"))
                    .x_desc("epoch")
                    .y_desc(format!("{label} (fraction correct)"))
                    .label_style((FONT, 14))
                    .axis_desc_style((FONT, 14))
                    .light_line_style(RGBColor(235, 235, 235))
                    .draw()?;
                let nv = ctx.variants.len();
                for (i, v) in ctx.variants.iter().enumerate() {
                    let col = colour(v, i);
                    // Nudge each variant sideways (< 0.2 epoch in all) so that equal curves,
                    // common at chance level, stay visible instead of hiding each other.
                    let dodge = if nv > 1 {
                        0.36 * (i as f64 / (nv - 1) as f64 - 0.5)
                    } else {
                        0.0
                    };
                    let pts: Vec<_> = curve(ctx, v, *task, kind)
                        .into_iter()
                        .map(|(e, m, ci, n)| (e + dodge, m, ci, n))
                        .collect();
                    if pts.is_empty() {
                        continue;
                    }
                    if pts.iter().all(|p| p.3 >= MIN_BAND_N && p.2.is_finite()) {
                        let mut poly: Vec<(f64, f64)> =
                            pts.iter().map(|p| (p.0, (p.1 + p.2).min(1.0))).collect();
                        poly.extend(pts.iter().rev().map(|p| (p.0, (p.1 - p.2).max(0.0))));
                        chart.draw_series(std::iter::once(Polygon::new(
                            poly,
                            col.mix(0.10).filled(),
                        )))?;
                    }
                    chart.draw_series(LineSeries::new(
                        pts.iter().map(|p| (p.0, p.1)),
                        col.stroke_width(2),
                    ))?;
                    chart.draw_series(pts.iter().map(|p| {
                        EmptyElement::at((p.0, p.1))
                            + Rectangle::new([(-3, -3), (3, 3)], col.filled())
                    }))?;
                }
            }
        }
        ctx.footer(root, &foot, h)?;
        Ok(())
    })
}

/// The x range of a scatter: the data's span with 6% padding (a unit span around a single
/// value).
fn padded_range(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= 1e-12 * lo.abs().max(1.0) {
        let d = (lo.abs() * 0.1).max(0.5);
        return (lo - d, hi + d);
    }
    (lo - 0.06 * span, hi + 0.06 * span)
}

fn topology_figure(ctx: &Ctx<'_>, path: &Path, t: &TopologyMetric) -> Result<Vec<String>> {
    let panel_w = 440u32;
    let panel_h = 440u32;
    let nt = ctx.tasks.len() as u32;
    let short = t.short;
    let mut notes = Vec::new();
    // Per task and variant: (metric, accuracy) of the trained runs where both are finite.
    let mut data: Vec<Vec<Vec<(f64, f64)>>> =
        vec![vec![Vec::new(); ctx.variants.len()]; ctx.tasks.len()];
    let (mut bad_acc, mut pos_inf, mut neg_inf, mut nan) = (0, 0, 0, 0);
    for (k, m) in ctx.runs().filter(|(_, m)| trained(m)) {
        let (Some(ti), Some(vi)) = (
            ctx.tasks.iter().position(|t| t.name() == k.task),
            ctx.variants.iter().position(|v| *v == k.variant),
        ) else {
            continue;
        };
        let acc = m.get("test_accuracy").copied().unwrap_or(f64::NAN);
        let x = m.get(t.metric).copied().unwrap_or(f64::NAN);
        if !acc.is_finite() {
            bad_acc += 1;
        } else if x == f64::INFINITY {
            pos_inf += 1;
        } else if x == f64::NEG_INFINITY {
            neg_inf += 1;
        } else if x.is_nan() {
            nan += 1;
        } else {
            data[ti][vi].push((x, acc));
        }
    }
    let left_out = pos_inf + neg_inf + nan;
    if left_out > 0 {
        let kinds: Vec<String> = [("+∞", pos_inf), ("−∞", neg_inf), ("NaN", nan)]
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        notes.push(format!(
            "{left_out} trained run(s) with a non-finite {short} left out ({}); {}",
            kinds.join(", "),
            t.non_finite
        ));
    }
    if bad_acc > 0 {
        notes.push(format!(
            "{bad_acc} trained run(s) with a non-finite test accuracy left out"
        ));
    }
    // One x range for all tasks, so that panels compare at a glance.
    let (x0, x1) = padded_range(data.iter().flatten().flatten().map(|p| p.0));
    // Wide enough for the header's lines also with a single task.
    let w = (nt * panel_w + LEGEND_W + 20).max(MIN_WIDTH);
    let foot = cap_lines(wrap([ctx.failed.clone(), notes.clone()].concat(), w));
    let h = HEADER_H + panel_h + footer_height(&foot);
    render(path, (w, h), |root| {
        ctx.header(
            root,
            &format!("{} vs test accuracy", capitalize(short)),
            &format!(
                "One circle per trained network: its final W's {short} vs its test accuracy; \
                 colour = variant."
            ),
        )?;
        let body = root.margin(HEADER_H, 0, 0, 0);
        let (body, _) = body.split_vertically(panel_h);
        let (grid, legend_area) = body.split_horizontally(w - LEGEND_W - 10);
        legend(
            &legend_area,
            ctx.variants,
            "circles shrink down\nthe list, so networks\nthat coincide show\nas rings",
        )?;
        let panels = grid.split_evenly((1, ctx.tasks.len()));
        for ((task, panel), per_v) in ctx.tasks.iter().zip(&panels).zip(&data) {
            let n: usize = per_v.iter().map(Vec::len).sum();
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!(
                        "{} ({}), {n} networks",
                        task_title(*task),
                        task.notebook_name()
                    ),
                    (FONT, 17),
                )
                .margin(8)
                .margin_right(18)
                .x_label_area_size(48)
                .y_label_area_size(64)
                .build_cartesian_2d(x0..x1, ACC_RANGE)?;
            chart
                .configure_mesh()
                .x_labels(6)
                .y_labels(6)
                .max_light_lines(1)
                .x_label_formatter(&|x| format_tick(*x))
                .y_label_formatter(&|y| format!("{y:.1}"))
                .x_desc(t.axis)
                .y_desc("test accuracy (fraction correct)")
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 13))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            if n == 0 {
                chart.draw_series(std::iter::once(Text::new(
                    format!("no trained run with a finite {short}"),
                    ((x0 + x1) / 2.0, 0.5),
                    TextStyle::from((FONT, 16).into_font())
                        .color(&RGBColor(150, 20, 20))
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                )))?;
            }
            let nv = ctx.variants.len();
            for (i, (v, pts)) in ctx.variants.iter().zip(per_v).enumerate() {
                let c = colour(v, i);
                // Earlier variants larger, later ones drawn on top smaller: networks that
                // coincide (W! shares W*'s weights, so often its entropy) show as rings.
                let r = if nv > 1 { 8 - (4 * i) / (nv - 1) } else { 5 } as i32;
                chart.draw_series(
                    pts.iter()
                        .map(|(x, y)| Circle::new((*x, *y), r, c.mix(0.9).filled())),
                )?;
            }
        }
        ctx.footer(root, &foot, h)?;
        Ok(())
    })?;
    Ok(notes)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Tick text with as few digits as the axis needs.
fn format_tick(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{x:.1e}")
    } else {
        let s = format!("{x:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".into()
        } else {
            s.to_string()
        }
    }
}

/// The name of an arm in file names: `free/corr-sttc` → `free-corr-sttc`.
pub fn arm_slug(arm: &Arm) -> String {
    arm.to_string().replace('/', "-")
}

/// Draw every figure of every (field, arm) of `res` into `dir`.
pub fn write_all(res: &Results, dir: &Path) -> Result<Written> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let variants = res.variant_order();
    let mut fields = res.fields();
    if fields.is_empty() {
        fields.push(super::configured_field(&res.exp));
    }
    let several = fields.len() > 1;
    let mut out = Written::default();
    for field in &fields {
        for arm in &res.exp.arms {
            let arm_name = arm.to_string();
            let failed: Vec<String> = res
                .runs_of(field, &arm_name)
                .filter(|(_, m)| !trained(m))
                .map(|(k, m)| {
                    format!(
                        "left out: {} {} simulation {} — non-finite loss at epoch {} batch {}",
                        k.variant,
                        k.task,
                        k.simulation,
                        m.get("failed_epoch").copied().unwrap_or(f64::NAN),
                        m.get("failed_batch").copied().unwrap_or(f64::NAN)
                    )
                })
                .collect();
            out.excluded
                .extend(failed.iter().map(|l| format!("{field} {arm_name}: {l}")));
            let ctx = Ctx {
                res,
                field,
                arm,
                variants: &variants,
                tasks: res.tasks(),
                failed,
            };
            let slug = if several {
                format!("{field}_{}", arm_slug(arm))
            } else {
                arm_slug(arm)
            };
            let p = dir.join(format!("test-accuracy_{slug}.svg"));
            let notes = accuracy_figure(&ctx, &p)?;
            note_values(&mut out, field, &arm_name, &notes);
            out.files.push(p);
            let p = dir.join(format!("learning-curves_{slug}.svg"));
            learning_curves_figure(&ctx, &p)?;
            out.files.push(p);
            for t in &TOPOLOGY {
                let p = dir.join(format!("{}-vs-accuracy_{slug}.svg", t.stem));
                let notes = topology_figure(&ctx, &p, t)?;
                note_values(&mut out, field, &arm_name, &notes);
                out.files.push(p);
            }
        }
    }
    Ok(out)
}

/// Record a figure's notes about non-finite values (the failed runs are recorded once, above).
fn note_values(out: &mut Written, field: &str, arm: &str, notes: &[String]) {
    out.excluded
        .extend(notes.iter().map(|l| format!("{field} {arm}: {l}")));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy_linear() {
        // numpy.quantile([1, 2, 4, 8], [0.25, 0.5, 0.75]) = [1.75, 3.0, 5.0]
        let xs = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(
            (quantile(&xs, 0.25), quantile(&xs, 0.5), quantile(&xs, 0.75)),
            (1.75, 3.0, 5.0)
        );
        assert_eq!(quantile(&[0.7], 0.25), 0.7);
    }

    #[test]
    fn jitter_is_bounded_and_spread() {
        let js: Vec<f64> = (0..20).map(jitter).collect();
        assert!(js.iter().all(|j| j.abs() <= 0.22));
        let mut s = js.clone();
        s.sort_by(f64::total_cmp);
        assert!(s.windows(2).all(|w| w[1] - w[0] > 1e-3), "{s:?}");
    }

    #[test]
    fn long_footer_lines_wrap_at_spaces() {
        let long = "word ".repeat(60).trim_end().to_string();
        let w = wrap(vec![long.clone(), "short".into()], 400);
        let max = (360.0 / 8.3) as usize;
        assert!(
            w.len() > 2 && w.iter().all(|l| l.chars().count() <= max),
            "{w:?}"
        );
        assert!(w[1..w.len() - 1].iter().all(|l| l.starts_with("    word")));
        assert_eq!(w.last().unwrap(), "short");
        let words: Vec<&str> = w[..w.len() - 1]
            .iter()
            .flat_map(|l| l.split_whitespace())
            .collect();
        assert_eq!(words.join(" "), long);
    }

    #[test]
    fn eleven_distinct_colours() {
        let mut c: Vec<(u8, u8, u8)> = PAPER_VARIANTS
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let RGBColor(r, g, b) = colour(v, i);
                (r, g, b)
            })
            .collect();
        c.sort();
        c.dedup();
        assert_eq!(c.len(), 11);
    }
}
