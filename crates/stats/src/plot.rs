//! Horizontal bar charts of a group-by result, like the Scapy tutorial's
//! `src_addr.plot(kind='barh')`: one bar per group (largest on top), the group
//! key on the vertical axis, the aggregate on the horizontal one, each bar
//! labelled with its value.
//!
//! SVG and PNG go through `plotters`; text is laid out (and, for PNG, rendered)
//! with the bundled DejaVu Sans through `ab_glyph`, so no system font library
//! is needed and the output is the same bytes on every machine and run. The
//! terminal form draws the bars with Unicode eighth blocks.

use std::path::Path;
use std::sync::Once;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::group::GroupTable;

/// DejaVu Sans (Bitstream Vera licence, see `fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";
const BAR: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const MAX_LABEL: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("drawing the chart: {0}")]
    Draw(String),
    #[error("the bundled font could not be loaded")]
    Font,
    #[error("nothing to plot: no groups")]
    Empty,
}

/// One bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    /// The value as printed next to the bar.
    pub text: String,
}

/// A chart's data: bars in display order (first on top).
#[derive(Clone, Debug, PartialEq)]
pub struct Bars {
    pub key_label: String,
    pub value_label: String,
    pub bars: Vec<Bar>,
}

impl Bars {
    /// The first aggregate of the first `top` rows of `t` (rows keep their
    /// order; a missing value is a bar of length 0 labelled `NaN`).
    pub fn from_table(t: &GroupTable, top: usize) -> Bars {
        Bars {
            key_label: t.key_names.join(", "),
            value_label: t.agg_names.first().cloned().unwrap_or_default(),
            bars: t
                .rows
                .iter()
                .take(top)
                .map(|r| {
                    let label = r
                        .key
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ");
                    let stat = r.aggs.first();
                    Bar {
                        label: shorten(&label),
                        value: stat.and_then(|s| s.as_f64()).unwrap_or(0.0),
                        text: stat.and_then(|s| s.text()).unwrap_or_else(|| "NaN".into()),
                    }
                })
                .collect(),
        }
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= MAX_LABEL {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(MAX_LABEL - 1).collect();
    t.push('…');
    t
}

fn font() -> Result<(), PlotError> {
    static ONCE: Once = Once::new();
    let mut ok = true;
    ONCE.call_once(|| {
        ok = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok();
    });
    if ok { Ok(()) } else { Err(PlotError::Font) }
}

/// Chart size for `n` bars.
fn size(n: usize) -> (u32, u32) {
    let n = u32::try_from(n).unwrap_or(1000).min(1000);
    (960, 130 + 26 * n.max(1))
}

fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> PlotError {
    PlotError::Draw(e.to_string())
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    b: &Bars,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let n = b.bars.len();
    root.fill(&WHITE).map_err(draw_err)?;
    let lo = b.bars.iter().map(|x| x.value).fold(0.0f64, f64::min);
    let hi = b.bars.iter().map(|x| x.value).fold(0.0f64, f64::max);
    let span = if hi - lo > 0.0 { hi - lo } else { 1.0 };
    // Room on the right for the value labels.
    let x_range = lo..hi + span * 0.18;
    let label_chars = b
        .bars
        .iter()
        .map(|x| x.label.chars().count())
        .max()
        .unwrap_or(1);
    let label_px = u32::try_from(label_chars).unwrap_or(40).saturating_mul(8) + 24;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{} by {}", b.value_label, b.key_label),
            (FAMILY, 24).into_font(),
        )
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(label_px.max(60))
        .build_cartesian_2d(x_range, (0..n.saturating_sub(1)).into_segmented())
        .map_err(draw_err)?;
    let labels: Vec<&str> = b.bars.iter().map(|x| x.label.as_str()).collect();
    let y_fmt = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => (n - 1)
            .checked_sub(*i)
            .and_then(|r| labels.get(r))
            .map_or_else(String::new, |s| (*s).to_owned()),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&y_fmt)
        .x_label_formatter(&|x: &f64| axis_number(*x))
        .x_desc(b.value_label.as_str())
        .y_desc(b.key_label.as_str())
        .label_style((FAMILY, 16).into_font())
        .axis_desc_style((FAMILY, 18).into_font())
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(draw_err)?;
    let row = |r: usize| n - 1 - r;
    chart
        .draw_series(b.bars.iter().enumerate().map(|(r, x)| {
            let mut rect = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(row(r))),
                    (x.value, SegmentValue::Exact(row(r) + 1)),
                ],
                BAR.filled(),
            );
            rect.set_margin(4, 4, 0, 0);
            rect
        }))
        .map_err(draw_err)?;
    let style = TextStyle::from((FAMILY, 15).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    chart
        .draw_series(b.bars.iter().enumerate().map(|(r, x)| {
            EmptyElement::at((x.value.max(0.0), SegmentValue::CenterOf(row(r))))
                + Text::new(x.text.clone(), (5, 0), style.clone())
        }))
        .map_err(draw_err)?;
    root.present().map_err(draw_err)?;
    Ok(())
}

/// Axis tick numbers without float noise (`0.30000000000000004` → `0.3`).
fn axis_number(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// The chart as an SVG document.
pub fn svg(b: &Bars) -> Result<String, PlotError> {
    if b.bars.is_empty() {
        return Err(PlotError::Empty);
    }
    font()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size(b.bars.len())).into_drawing_area();
        draw(&root, b)?;
    }
    Ok(out)
}

/// Write the chart as a PNG file.
pub fn png(b: &Bars, path: &Path) -> Result<(), PlotError> {
    if b.bars.is_empty() {
        return Err(PlotError::Empty);
    }
    font()?;
    let root = BitMapBackend::new(path, size(b.bars.len())).into_drawing_area();
    draw(&root, b)
}

const EIGHTHS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

/// The chart for a terminal: labels left, bars of Unicode blocks scaled to
/// `width` cells for the largest value, values right.
pub fn terminal(b: &Bars, width: usize) -> String {
    let width = width.max(1);
    let label_w = b
        .bars
        .iter()
        .map(|x| x.label.chars().count())
        .chain(std::iter::once(b.key_label.chars().count()))
        .max()
        .unwrap_or(0);
    let text_w = b
        .bars
        .iter()
        .map(|x| x.text.chars().count())
        .chain(std::iter::once(b.value_label.chars().count()))
        .max()
        .unwrap_or(0);
    let max = b.bars.iter().map(|x| x.value).fold(0.0f64, f64::max);
    let mut out = format!(
        "{:label_w$}  {:width$}  {:>text_w$}\n",
        b.key_label, "", b.value_label
    );
    for x in &b.bars {
        let mut eighths = if max > 0.0 && x.value > 0.0 {
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            // 0 ≤ ratio ≤ 1, so the product is within 0..=8·width
            let e = (x.value / max * (width * 8) as f64).round() as usize;
            e
        } else {
            0
        };
        if eighths == 0 && x.value > 0.0 {
            eighths = 1; // visible, however small
        }
        let mut bar = "█".repeat(eighths / 8);
        bar.push_str(EIGHTHS.get(eighths % 8).copied().unwrap_or(""));
        let pad = width.saturating_sub(bar.chars().count());
        out.push_str(&format!(
            "{:label_w$}  {bar}{:pad$}  {:>text_w$}\n",
            x.label, "", x.text
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars() -> Bars {
        Bars {
            key_label: "src".into(),
            value_label: "payload_sum".into(),
            bars: vec![
                Bar {
                    label: "10.0.0.1".into(),
                    value: 105.0,
                    text: "105".into(),
                },
                Bar {
                    label: "10.0.0.2".into(),
                    value: 7.0,
                    text: "7".into(),
                },
                Bar {
                    label: "192.168.0.10".into(),
                    value: 0.0,
                    text: "0".into(),
                },
            ],
        }
    }

    #[test]
    fn terminal_bars() {
        insta::assert_snapshot!(terminal(&bars(), 20), @r"
        src                                 payload_sum
        10.0.0.1      ████████████████████          105
        10.0.0.2      █▍                              7
        192.168.0.10                                  0
        ");
    }

    #[test]
    fn svg_has_one_rect_per_bar_and_is_deterministic() {
        let a = svg(&bars()).unwrap();
        assert!(a.starts_with("<svg"));
        assert_eq!(a.matches("fill=\"#1F77B4\"").count(), 3, "{a}");
        assert!(a.contains("payload_sum by src"));
        assert!(a.contains(">\n10.0.0.2\n</text>"), "{a}");
        // one label per bar, no empty extra row
        assert!(!a.contains(">\n\n</text>"), "{a}");
        assert_eq!(a, svg(&bars()).unwrap());
    }

    #[test]
    fn long_labels_are_shortened() {
        let s = shorten(&"x".repeat(50));
        assert_eq!(s.chars().count(), MAX_LABEL);
        assert!(s.ends_with('…'));
    }
}
