//! `memscope plot`: the ledger over time as stacked areas (`unaccounted` at
//! the bottom, in red) above the top suspects' series, to SVG or PNG.
//!
//! ```text
//!  ┌ Memory ledger over time (stacked) ───────────┐ legend
//!  │ free / page cache / anon / slab / … / unacc. │
//!  ├ Top suspects ────────────────────────────────┤ legend
//!  │ one line per series (bytes)                  │
//!  └──────────────────────────────────────────────┘
//! ```
//! Drawn with plotters; text uses the DejaVu Sans font embedded in the
//! binary (plotters' `ab_glyph` backend), so no system font is needed.

use std::io::{self, Write};
use std::sync::OnceLock;

use memscope_analysis::ledger::Ledger;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::style::timestamp;

/// Bands of the stacked ledger, bottom first: the label, the ledger
/// categories in it (top-level lines), and the colour. `unaccounted` is the
/// first so that its growth lifts everything above it. `free` is the last,
/// and is stacked only when asked ([`ChartData::with_free`]): on most
/// machines it would take nine tenths of the panel.
///
/// Colours from Okabe and Ito's palette, which readers with any common
/// colour-vision deficiency tell apart; no two neighbours share a hue
/// (unaccounted is vermillion, the one red).
pub const BANDS: &[(&str, &[&str], RGBColor)] = &[
    ("unaccounted", &["unaccounted"], RGBColor(213, 94, 0)),
    (
        "other kernel counters",
        &[
            "kernel_stack",
            "page_tables",
            "sec_page_tables",
            "vmalloc",
            "percpu",
            "socket_buffers",
            "kernel_misc_reclaimable",
            "bounce",
            "writeback_tmp",
            "shadow_call_stack",
        ],
        RGBColor(204, 121, 167),
    ),
    ("slab", &["slab_reclaimable", "slab_unreclaimable"], RGBColor(240, 228, 66)),
    ("anonymous (processes)", &["anon"], RGBColor(0, 114, 178)),
    ("shmem / tmpfs", &["shmem"], RGBColor(230, 159, 0)),
    ("page cache and buffers", &["file", "buffers", "swap_cache"], RGBColor(86, 180, 233)),
    (
        "huge pages, zswap, zram",
        &["hugetlb", "zswap", "zram", "unaccepted", "balloon"],
        RGBColor(0, 158, 115),
    ),
    ("free", &["free", "free_pcp"], RGBColor(200, 200, 200)),
];

/// The index of the `free` band in [`BANDS`].
const FREE: usize = BANDS.len() - 1;

/// Colours of the suspects' lines.
const LINE_COLOURS: &[RGBColor] = &[
    RGBColor(215, 25, 28),
    RGBColor(44, 123, 182),
    RGBColor(26, 150, 65),
    RGBColor(230, 97, 1),
    RGBColor(94, 60, 153),
    RGBColor(1, 133, 113),
    RGBColor(166, 97, 26),
    RGBColor(77, 77, 77),
];

/// One suspect's series for the lower panel.
#[derive(Debug, Clone, PartialEq)]
pub struct SuspectLine {
    /// Legend text.
    pub label: String,
    /// (ms since the epoch, bytes).
    pub points: Vec<(u64, f64)>,
}

/// Everything the chart shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChartData {
    /// Title (host, kernel, time span).
    pub title: String,
    /// Snapshot times (ms since the epoch), oldest first.
    pub times_unix_ms: Vec<u64>,
    /// For each band of [`BANDS`], bytes at each time (negative clamped to 0).
    pub bands: Vec<Vec<f64>>,
    /// The suspects' series.
    pub suspects: Vec<SuspectLine>,
    /// Stack `free` on top of the rest (off: the panel shows what is used,
    /// and the legend still gives free's size).
    pub with_free: bool,
}

impl ChartData {
    /// Add one snapshot's ledger (in time order).
    pub fn push_ledger(&mut self, t_unix_ms: u64, l: &Ledger) {
        if self.bands.is_empty() {
            self.bands = vec![Vec::new(); BANDS.len()];
        }
        self.times_unix_ms.push(t_unix_ms);
        for (i, (_, cats, _)) in BANDS.iter().enumerate() {
            let v: i64 = l
                .lines
                .iter()
                .filter(|x| x.is_top() && cats.contains(&x.category))
                .filter_map(|x| x.bytes)
                .map(|b| b.max(0))
                .sum();
            self.bands[i].push(v as f64);
        }
    }
}

fn register_font() -> Result<(), io::Error> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok { Ok(()) } else { Err(io::Error::other("the embedded font could not be loaded")) }
}

/// A unit for an axis whose largest value is `max` bytes.
fn unit_for(max: f64) -> (f64, &'static str) {
    const K: f64 = 1024.0;
    if max >= 2.0 * K * K * K {
        (K * K * K, "GiB")
    } else if max >= 2.0 * K * K {
        (K * K, "MiB")
    } else if max >= 2.0 * K {
        (K, "KiB")
    } else {
        (1.0, "bytes")
    }
}

/// Time labels: `HH:MM:SS` under 10 minutes, `HH:MM` under 2 days, else
/// `MM-DD HH:MM` (UTC).
fn time_label(t_unix_ms: u64, span_ms: u64) -> String {
    let ts = timestamp(t_unix_ms); // 2026-11-22T10:00:00Z
    if span_ms < 600_000 {
        ts.get(11..19).unwrap_or(&ts).to_string()
    } else if span_ms < 2 * 86_400_000 {
        ts.get(11..16).unwrap_or(&ts).to_string()
    } else {
        format!("{} {}", ts.get(5..10).unwrap_or(""), ts.get(11..16).unwrap_or(""))
    }
}

fn err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> io::Error {
    io::Error::other(format!("drawing the chart: {e}"))
}

/// Draw on any backend.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    d: &ChartData,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (w, h) = root.dim_in_pixel();
    let title_h = (h / 18).max(24);
    let (title_area, body) = root.split_vertically(title_h);
    // As large as fits: DejaVu Sans averages about 0.55 em per character.
    let fit = (w as f64 - 24.0) / (d.title.chars().count().max(1) as f64 * 0.55);
    let title_size = (title_h as f64 * 0.6).min(fit).max(10.0);
    title_area.draw_text(
        &d.title,
        &TextStyle::from(("sans-serif", title_size).into_font()).color(&BLACK),
        (12, (title_h as i32) / 5),
    )?;
    let n = d.times_unix_ms.len();
    if n == 0 {
        body.draw_text("No snapshot to draw.", &("sans-serif", 18).into_font().color(&BLACK), (20, 20))?;
        return Ok(());
    }
    let t0 = d.times_unix_ms[0];
    let t1 = *d.times_unix_ms.last().unwrap_or(&t0);
    let span = t1.saturating_sub(t0);
    let x_max = (span.max(1)) as f64 / 1000.0;
    let xs: Vec<f64> = d.times_unix_ms.iter().map(|t| t.saturating_sub(t0) as f64 / 1000.0).collect();
    let legend_w = (w / 4).clamp(180, 330);
    let (top, bottom) = body.split_vertically(body.dim_in_pixel().1 * 58 / 100);
    let font = |size: u32| ("sans-serif", size).into_font();
    let small = (h / 60).clamp(11, 15);
    let x_label = format!("time (UTC), {} to {}", timestamp(t0), timestamp(t1));

    // ---- the ledger, stacked.
    let (plot, legend) = top.split_horizontally(w - legend_w);
    let mut cumulative: Vec<Vec<f64>> = Vec::with_capacity(d.bands.len());
    let mut acc = vec![0.0; n];
    let stacked = if d.with_free { d.bands.len() } else { d.bands.len().min(FREE) };
    for band in &d.bands[..stacked] {
        for (a, v) in acc.iter_mut().zip(band) {
            *a += v;
        }
        cumulative.push(acc.clone());
    }
    let y_max = acc.iter().copied().fold(0.0, f64::max).max(1.0) * 1.02;
    let (div, unit) = unit_for(y_max);
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            if d.with_free {
                "Memory ledger over time: MemTotal, stacked"
            } else {
                "Memory ledger over time: MemTotal less free, stacked"
            },
            font(small + 3),
        )
        .margin(8)
        .x_label_area_size(small * 3)
        .y_label_area_size(small * 5)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max / div)?;
    chart
        .configure_mesh()
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|x| time_label(t0.saturating_add((x * 1000.0) as u64), span))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .x_desc(x_label.as_str())
        .y_desc(format!("memory ({unit})"))
        .label_style(font(small))
        .axis_desc_style(font(small))
        .draw()?;
    // Top band first: each area is filled down to zero and the lower bands
    // are drawn over it.
    for (i, cum) in cumulative.iter().enumerate().rev() {
        let colour = BANDS[i].2;
        let pts: Vec<(f64, f64)> = xs.iter().zip(cum).map(|(x, y)| (*x, y / div)).collect();
        chart.draw_series(AreaSeries::new(pts, 0.0, colour.filled()).border_style(colour.stroke_width(1)))?;
    }
    // The top edge of `unaccounted`, bold, so that it reads at any scale.
    if let Some(un) = cumulative.first() {
        let pts: Vec<(f64, f64)> = xs.iter().zip(un).map(|(x, y)| (*x, y / div)).collect();
        chart.draw_series(LineSeries::new(pts, BANDS[0].2.stroke_width(3)))?;
    }
    let last_values: Vec<String> = d
        .bands
        .iter()
        .map(|b| b.last().map(|v| memscope_analysis::fmt_bytes(*v as i64)).unwrap_or_default())
        .collect();
    draw_legend(
        &legend,
        "bands (now)",
        BANDS.iter().enumerate().rev().map(|(i, (label, _, c))| {
            if i == FREE && !d.with_free {
                (format!("{label} (not stacked): {}", last_values[i]), WHITE, false)
            } else {
                (format!("{label}: {}", last_values[i]), *c, true)
            }
        }),
        small,
    )?;

    // ---- the suspects.
    let (plot, legend) = bottom.split_horizontally(w - legend_w);
    let s_max =
        d.suspects.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0, f64::max).max(1.0) * 1.05;
    let s_min = d.suspects.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0, f64::min);
    let (div, unit) = unit_for(s_max.max(-s_min));
    let mut chart = ChartBuilder::on(&plot)
        .caption("Top suspects (growing first)", font(small + 3))
        .margin(8)
        .x_label_area_size(small * 3)
        .y_label_area_size(small * 5)
        .build_cartesian_2d(0.0..x_max, (s_min / div).min(0.0)..s_max / div)?;
    chart
        .configure_mesh()
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|x| time_label(t0.saturating_add((x * 1000.0) as u64), span))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .x_desc(x_label.as_str())
        .y_desc(format!("bytes ({unit})"))
        .label_style(font(small))
        .axis_desc_style(font(small))
        .draw()?;
    for (i, s) in d.suspects.iter().enumerate() {
        let c = LINE_COLOURS[i % LINE_COLOURS.len()];
        let pts: Vec<(f64, f64)> =
            s.points.iter().map(|(t, v)| (t.saturating_sub(t0) as f64 / 1000.0, v / div)).collect();
        chart.draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?;
        if pts.len() <= 120 {
            chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 2, c.filled())))?;
        }
    }
    if d.suspects.is_empty() {
        plot.draw_text("No suspect: nothing grew.", &font(small + 2).color(&BLACK), (80, 60))?;
    }
    draw_legend(
        &legend,
        "series",
        d.suspects
            .iter()
            .enumerate()
            .map(|(i, s)| (s.label.clone(), LINE_COLOURS[i % LINE_COLOURS.len()], false)),
        small,
    )?;
    root.present()
}

/// A legend: a heading, then one coloured key and label per line (labels
/// cut to fit).
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    heading: &str,
    items: impl Iterator<Item = (String, RGBColor, bool)>,
    size: u32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (w, _) = area.dim_in_pixel();
    let line_h = (size as i32 * 3) / 2 + 2;
    let mut y = 30;
    area.draw_text(
        heading,
        &("sans-serif", size + 1).into_font().style(FontStyle::Bold).color(&BLACK),
        (6, y),
    )?;
    y += line_h + 4;
    let max_chars = ((w as i32 - 30) / (size as i32 * 55 / 100).max(1)).max(8) as usize;
    for (label, colour, filled) in items {
        if filled {
            area.draw(&Rectangle::new([(6, y), (20, y + size as i32)], colour.filled()))?;
            area.draw(&Rectangle::new([(6, y), (20, y + size as i32)], BLACK.stroke_width(1)))?;
        } else {
            area.draw(&PathElement::new(
                vec![(4, y + size as i32 / 2), (22, y + size as i32 / 2)],
                colour.stroke_width(3),
            ))?;
        }
        let text: String = if label.chars().count() > max_chars {
            label.chars().take(max_chars - 1).chain(std::iter::once('…')).collect()
        } else {
            label
        };
        area.draw_text(&text, &("sans-serif", size).into_font().color(&BLACK), (26, y))?;
        y += line_h;
    }
    Ok(())
}

/// Write the chart as SVG.
pub fn write_svg(w: &mut dyn Write, d: &ChartData, size: (u32, u32)) -> io::Result<()> {
    register_font()?;
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
        draw(&root, d).map_err(err)?;
    }
    w.write_all(s.as_bytes())
}

/// Write the chart as PNG (8-bit RGB).
pub fn write_png(w: &mut dyn Write, d: &ChartData, size: (u32, u32)) -> io::Result<()> {
    register_font()?;
    let (width, height) = size;
    let mut buf = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        draw(&root, d).map_err(err)?;
    }
    let mut enc = png::Encoder::new(w, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(io::Error::other)?;
    writer.write_image_data(&buf).map_err(io::Error::other)?;
    writer.finish().map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: f64 = (1u64 << 30) as f64;

    /// Three snapshots of a machine that is 90% free: unaccounted 1 GiB,
    /// slab 2, anon 3, page cache 4, free 90.
    fn data(with_free: bool) -> ChartData {
        let per_band = [1.0, 0.0, 2.0, 3.0, 0.0, 4.0, 0.0, 90.0];
        ChartData {
            title: "test".into(),
            times_unix_ms: vec![1_000_000, 1_060_000, 1_120_000],
            bands: per_band.iter().map(|g| vec![g * GIB; 3]).collect(),
            suspects: Vec::new(),
            with_free,
        }
    }

    /// Pixels of each band's colour in the ledger panel (left of its
    /// legend), as shares of all band pixels there.
    fn shares(d: &ChartData) -> Vec<f64> {
        let (w, h) = (1200u32, 900u32);
        let mut png = Vec::new();
        write_png(&mut png, d, (w, h)).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (w, h));
        let legend_w = (w / 4).clamp(180, 330);
        let mut counts = vec![0usize; BANDS.len()];
        for y in 0..h as usize {
            for x in 0..(w - legend_w) as usize {
                let p = &buf[(y * w as usize + x) * 3..][..3];
                if let Some(i) = BANDS.iter().position(|b| (b.2.0, b.2.1, b.2.2) == (p[0], p[1], p[2])) {
                    counts[i] += 1;
                }
            }
        }
        let all: usize = counts.iter().sum();
        assert!(all > 100_000, "the stack covers the panel: {all} pixels");
        counts.iter().map(|c| *c as f64 / all as f64).collect()
    }

    fn band(label: &str) -> usize {
        BANDS.iter().position(|b| b.0 == label).unwrap()
    }

    #[test]
    fn free_is_left_out_of_the_stack_by_default_and_each_band_takes_its_share() {
        let s = shares(&data(false));
        // Nothing but a stray grey pixel of text or grid.
        assert!(s[band("free")] < 0.001, "{s:?}");
        for (label, want) in [
            ("unaccounted", 0.1),
            ("slab", 0.2),
            ("anonymous (processes)", 0.3),
            ("page cache and buffers", 0.4),
        ] {
            assert!(
                (s[band(label)] - want).abs() < 0.02,
                "{label}: {:.3} of the panel, want {want}",
                s[band(label)]
            );
        }
    }

    #[test]
    fn with_free_it_takes_its_share_on_top() {
        let s = shares(&data(true));
        assert!((s[band("free")] - 0.9).abs() < 0.02, "{s:?}");
        assert!((s[band("page cache and buffers")] - 0.04).abs() < 0.01, "{s:?}");
    }

    #[test]
    fn neighbouring_bands_differ_in_hue() {
        // No two neighbours may be told apart by lightness alone: their
        // colours differ by a clear distance in RGB.
        for w in BANDS.windows(2) {
            let (a, b) = (w[0].2, w[1].2);
            let d = (a.0 as i32 - b.0 as i32).abs()
                + (a.1 as i32 - b.1 as i32).abs()
                + (a.2 as i32 - b.2 as i32).abs();
            assert!(d >= 120, "{} / {}: {d}", w[0].0, w[1].0);
        }
    }
}
