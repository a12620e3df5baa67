//! SVG charts with plotters' `SVGBackend` (no font files needed: text is emitted as SVG `<text>`).
//!
//! plotters scales SVG font sizes by 1/1.24, so the sizes asked for here are larger than the
//! sizes wanted on screen.

use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::{RangedCoordf64, RangedCoordusize};
use plotters::prelude::*;

use super::Result;

const WIDTH: u32 = 820;

/// A bar chart of `values` labelled by `labels`. Short labels give vertical bars; long labels
/// give horizontal bars (first label on top) so that they stay readable.
pub fn bar_chart(
    title: &str,
    value_label: &str,
    labels: &[String],
    values: &[f64],
) -> Result<String> {
    if labels.len() != values.len() {
        return Err(format!(
            "bar chart '{title}': {} labels for {} values",
            labels.len(),
            values.len()
        )
        .into());
    }
    let n = labels.len().max(1);
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let hi = finite.clone().fold(0.0f64, f64::max);
    let lo = finite.fold(0.0f64, f64::min);
    let pad = ((hi - lo) * 0.08).max(1e-9);
    let (lo, hi) = (if lo < 0.0 { lo - pad } else { 0.0 }, hi + pad);
    let long = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let mut svg = String::new();
    if long <= 8 && n <= 30 {
        let height = 420;
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 26))
                .margin(14)
                .x_label_area_size(44)
                .y_label_area_size(80)
                .build_cartesian_2d((0..n).into_segmented(), lo..hi)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n)
                .x_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                        labels.get(*i).cloned().unwrap_or_default()
                    }
                    SegmentValue::Last => String::new(),
                })
                .y_desc(value_label)
                .label_style(("sans-serif", 17))
                .axis_desc_style(("sans-serif", 18))
                .draw()?;
            chart.draw_series(
                Histogram::vertical(&chart)
                    .style(BLUE.mix(0.75).filled())
                    .margin(4)
                    .data(values.iter().enumerate().map(|(i, v)| (i, *v))),
            )?;
            root.present()?;
        }
    } else {
        let height = (60 + 26 * n as u32).max(200);
        horizontal_frame(
            &mut svg,
            (title, value_label),
            labels,
            (lo, hi),
            height,
            |chart| {
                chart.draw_series(
                    Histogram::horizontal(chart)
                        .style(BLUE.mix(0.75).filled())
                        .margin(3)
                        .data(values.iter().enumerate().map(|(i, v)| (n - 1 - i, *v))),
                )?;
                Ok(())
            },
        )?;
    }
    Ok(svg)
}

/// One named line of a [`line_chart`].
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points `(x, y)`.
    pub points: Vec<(f64, f64)>,
}

/// A line chart of one or more series with a legend.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> Result<String> {
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        if x.is_finite() && y.is_finite() {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 - x0 < 1e-12 {
        x0 -= 0.5;
        x1 += 0.5;
    }
    let pad = ((y1 - y0) * 0.06).max(1e-6);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 440)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 26))
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style(("sans-serif", 17))
            .axis_desc_style(("sans-serif", 18))
            .draw()?;
        for (k, s) in series.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    s.points
                        .iter()
                        .copied()
                        .filter(|(x, y)| x.is_finite() && y.is_finite()),
                    color.stroke_width(2),
                ))?
                .label(s.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        if series.len() > 1 || series.iter().any(|s| !s.name.is_empty()) {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 17))
                .position(SeriesLabelPosition::LowerRight)
                .draw()?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// What a bar of a [`waterfall_chart`] stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaterfallKind {
    /// The starting value, drawn from 0.
    Base,
    /// A step up or down from where the previous bar ended.
    Step,
    /// The final value, drawn from 0.
    Total,
}

/// One bar of a [`waterfall_chart`]: it spans `start..end` (`end < start` for a step down).
#[derive(Debug, Clone, PartialEq)]
pub struct WaterfallBar {
    /// Axis label.
    pub label: String,
    /// Where the bar starts.
    pub start: f64,
    /// Where the bar ends.
    pub end: f64,
    /// Base, step or total.
    pub kind: WaterfallKind,
}

/// The bars of a waterfall: `base` from 0, then each step from where the previous bar ended,
/// then `total_label` from 0 to where the last step ended (`base` plus every step).
pub fn waterfall_bars(
    base: (&str, f64),
    steps: &[(String, f64)],
    total_label: &str,
) -> Vec<WaterfallBar> {
    let mut bars = vec![WaterfallBar {
        label: base.0.to_string(),
        start: 0.0,
        end: base.1,
        kind: WaterfallKind::Base,
    }];
    let mut at = base.1;
    for (label, step) in steps {
        bars.push(WaterfallBar {
            label: label.clone(),
            start: at,
            end: at + step,
            kind: WaterfallKind::Step,
        });
        at += step;
    }
    bars.push(WaterfallBar {
        label: total_label.to_string(),
        start: 0.0,
        end: at,
        kind: WaterfallKind::Total,
    });
    bars
}

/// A horizontal waterfall chart of `bars` (from [`waterfall_bars`]), first bar on top: the
/// base and the total in grey, steps up in red, steps down in blue, each labelled with its
/// signed size. For a SHAP explanation: the bias, each column's contribution, the margin.
pub fn waterfall_chart(title: &str, value_label: &str, bars: &[WaterfallBar]) -> Result<String> {
    let n = bars.len().max(1);
    let ends = bars.iter().flat_map(|b| [b.start, b.end]);
    let finite: Vec<f64> = ends.filter(|v| v.is_finite()).chain([0.0]).collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.12).max(1e-9);
    let (lo, hi) = (lo - pad, hi + pad);
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let height = (70 + 28 * n as u32).max(200);
    let mut svg = String::new();
    horizontal_frame(
        &mut svg,
        (title, value_label),
        &labels,
        (lo, hi),
        height,
        |chart| {
            let color = |b: &WaterfallBar| match b.kind {
                WaterfallKind::Base | WaterfallKind::Total => RGBColor(130, 130, 130),
                WaterfallKind::Step if b.end >= b.start => RGBColor(200, 60, 50),
                WaterfallKind::Step => RGBColor(40, 110, 180),
            };
            chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
                let y = n - 1 - i;
                let mut r = Rectangle::new(
                    [
                        (b.start.min(b.end), SegmentValue::Exact(y)),
                        (b.start.max(b.end), SegmentValue::Exact(y + 1)),
                    ],
                    color(b).mix(0.85).filled(),
                );
                r.set_margin(4, 4, 0, 0);
                r
            }))?;
            chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
                let text = match b.kind {
                    WaterfallKind::Step => format!(" {:+.3}", b.end - b.start),
                    _ => format!(" {:.3}", b.end),
                };
                Text::new(
                    text,
                    (b.start.max(b.end), SegmentValue::CenterOf(n - 1 - i)),
                    ("sans-serif", 15),
                )
            }))?;
            Ok(())
        },
    )?;
    Ok(svg)
}

/// The axes of a horizontal chart: `labels` down the left side (the first on top, row
/// `n - 1 - i` of the segmented axis for label `i`), values `lo..hi` along the bottom, drawn
/// into `svg` at `height` pixels; `draw` adds the series.
fn horizontal_frame(
    svg: &mut String,
    (title, value_label): (&str, &str),
    labels: &[String],
    (lo, hi): (f64, f64),
    height: u32,
    draw: impl FnOnce(&mut HorizontalChart<'_, '_>) -> Result<()>,
) -> Result<()> {
    let n = labels.len().max(1);
    let long = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let label_px = (long as u32 * 9).clamp(60, 320);
    let root = SVGBackend::with_string(svg, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 26))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(label_px)
        .build_cartesian_2d(lo..hi, (0..n).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => n
                .checked_sub(1 + *i)
                .and_then(|k| labels.get(k))
                .cloned()
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        })
        .x_desc(value_label)
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()?;
    draw(&mut chart)?;
    root.present()?;
    Ok(())
}

/// The chart [`horizontal_frame`] hands to its series.
type HorizontalChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, SegmentedCoord<RangedCoordusize>>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waterfall_steps_chain_and_end_at_the_total() {
        let steps = [
            ("int_rate".to_string(), 0.42),
            ("annual_inc".to_string(), -0.1),
            ("term".to_string(), 0.25),
        ];
        let bars = waterfall_bars(("bias", -1.5), &steps, "margin");
        assert_eq!(bars.len(), 5);
        assert_eq!((bars[0].start, bars[0].end), (0.0, -1.5));
        for w in bars[..4].windows(2) {
            assert_eq!(w[1].start, w[0].end, "{w:?}");
        }
        let margin = -1.5 + 0.42 - 0.1 + 0.25;
        assert!((bars[3].end - margin).abs() < 1e-12);
        assert_eq!(bars[4].kind, WaterfallKind::Total);
        assert_eq!((bars[4].start, bars[4].end), (0.0, bars[3].end));

        let svg = waterfall_chart("Why", "margin", &bars).unwrap();
        for label in [
            "bias",
            "int_rate",
            "annual_inc",
            "term",
            "margin",
            "+0.420",
            "-0.100",
        ] {
            assert!(svg.contains(label), "{label} missing");
        }
        // One rectangle per bar, besides the background.
        assert_eq!(svg.matches("<rect").count(), 1 + bars.len(), "{svg}");
    }
}
