//! Drawing: the header, the ledger bar and its legend, the sparklines, the
//! tab bar, the current tab (one module per tab in [`crate::tabs`]), the
//! key line, and the help overlay.
//!
//! ```text
//! memscope top · kernel 6.18 · 2026-11-22T00:03:42Z · every 2s
//! [free████████████████████████file████anon█slab█…unaccounted▓]   the ledger, to scale
//! free 20.3 GiB  page cache 2.8 GiB  …  unaccounted 15.4 MiB     legend, largest first
//! unaccounted ▁▂▂▃  anonymous ▅▅▆▆  page cache ▇▇▇▇  slab ▂▂▂▂    sparklines
//!  1 Processes │ 2 Slab │ 3 vmalloc │ 4 Zones │ 5 cgroups │ 6 fds
//!  PID  COMMAND  PSS▼  USS  RSS  SWAP                            the tab
//!  q quit  / filter  p u r s i sort  ←→ tabs  h help            keys
//! ```

use memscope_analysis::fmt_bytes;
use memscope_analysis::ledger::{Ledger, category};
use memscope_analysis::pressure::fmt_avg;
use memscope_kernel::parse::pid::limits::Limit;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Sparkline, Tabs, Wrap};

use crate::app::{App, PRESSURE_KEY, REPLAY_KEYS, SORTS, SPARK_KEYS, TABS};
use crate::tabs;

/// How each top-level ledger category is drawn: its colour, and the glyph
/// that fills its band when there is no colour (`NO_COLOR`). One table for
/// the bar, its legend and the sparklines. In ledger order, each colour and
/// glyph differs from the next two (a band of zero bytes is not drawn, so the
/// one after it becomes the neighbour); unaccounted alone is red and `!`.
pub const BANDS: &[(&str, Color, char)] = &[
    ("reserved", Color::DarkGray, '#'),
    ("free", Color::Green, '·'),
    ("free_pcp", Color::LightGreen, ':'),
    ("anon", Color::Magenta, '█'),
    ("file", Color::Blue, '▒'),
    ("shmem", Color::LightMagenta, '▓'),
    ("buffers", Color::Cyan, '░'),
    ("swap_cache", Color::LightBlue, '~'),
    ("slab_reclaimable", Color::Yellow, '='),
    ("slab_unreclaimable", Color::White, '+'),
    ("kernel_misc_reclaimable", Color::LightYellow, '-'),
    ("kernel_stack", Color::Cyan, '%'),
    ("page_tables", Color::LightCyan, '/'),
    ("sec_page_tables", Color::DarkGray, '\\'),
    ("vmalloc", Color::LightBlue, 'v'),
    ("percpu", Color::Gray, 'c'),
    ("hugetlb", Color::Blue, 'H'),
    ("zswap", Color::LightMagenta, 'z'),
    ("zram", Color::Magenta, 'Z'),
    ("socket_buffers", Color::LightGreen, 's'),
    ("unaccepted", Color::DarkGray, 'u'),
    ("balloon", Color::Gray, 'b'),
    ("bounce", Color::Cyan, 'o'),
    ("writeback_tmp", Color::Yellow, 'w'),
    ("shadow_call_stack", Color::Blue, 'x'),
    ("unaccounted", Color::Red, '!'),
];

/// The colour of a ledger category in the bar and its legend.
pub fn category_color(key: &str) -> Color {
    BANDS.iter().find(|b| b.0 == key).map(|b| b.1).unwrap_or(Color::Gray)
}

/// The glyph of a ledger category's band without colour.
pub fn category_glyph(key: &str) -> char {
    BANDS.iter().find(|b| b.0 == key).map(|b| b.2).unwrap_or('?')
}

fn bytes(v: Option<u64>) -> String {
    v.map(|b| fmt_bytes(i64::try_from(b).unwrap_or(i64::MAX))).unwrap_or_else(|| "-".into())
}

/// Bytes or `-`, for table cells.
pub fn cell_bytes(v: Option<u64>) -> String {
    bytes(v)
}

/// Open descriptors against the soft `RLIMIT_NOFILE` (`60/64`); `-` for
/// what could not be read.
pub fn fds_cell(fds: Option<u64>, soft: Option<Limit>) -> String {
    let n = fds.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    let l = soft.map(|l| l.to_string()).unwrap_or_else(|| "-".into());
    format!("{n}/{l}")
}

/// Draw the whole screen.
pub fn draw(f: &mut Frame, app: &mut App) {
    let [header, bar, legend, sparks, tabs_area, body, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());
    draw_header(f, app, header);
    match app.view.as_ref().map(|v| &v.ledger) {
        Some(Ok(l)) => {
            draw_bar(f, l, bar, app.color);
            draw_legend(f, l, legend, app.color);
        }
        Some(Err(e)) => f.render_widget(Paragraph::new(format!("ledger unavailable: {e}")).red(), bar),
        None => {
            let what = if app.replay.is_some() {
                "reading the recording…"
            } else {
                "collecting the first snapshot…"
            };
            f.render_widget(Paragraph::new(what), bar)
        }
    }
    draw_sparklines(f, app, sparks);
    let titles: Vec<Line> =
        TABS.iter().enumerate().map(|(i, (_, t))| Line::from(format!("{} {t}", i + 1))).collect();
    let current = TABS.iter().position(|t| t.0 == app.tab).unwrap_or(0);
    f.render_widget(
        Tabs::new(titles).select(current).highlight_style(Style::new().reversed().bold()).divider("│"),
        tabs_area,
    );
    tabs::draw(f, app, body);
    draw_keys(f, app, keys);
    if app.help {
        draw_help(f, app, f.area());
    }
}

fn draw_header(f: &mut Frame, app: &App, area: Rect) {
    let mut spans = vec![Span::from("memscope top").bold()];
    if let Some(v) = &app.view {
        if let Some(k) = &v.kernel {
            spans.push(Span::from(format!(" · kernel {k}")));
        }
        spans.push(Span::from(format!(" · {}", memscope_analysis::units::fmt_timestamp(v.taken_at_unix_ms))));
        if let Ok(l) = &v.ledger {
            spans.push(Span::from(format!(" · installed {}", fmt_bytes(l.installed_bytes as i64))));
        }
    }
    match &app.replay {
        Some(r) => {
            if let Some(p) = &r.position {
                spans.push(
                    Span::from(format!(" · snapshot {} of {} (id {})", p.index + 1, p.count, p.id)).bold(),
                );
            }
            if let Some(k) = r.oom_kills.first() {
                let more = match r.oom_kills.len() {
                    1 => String::new(),
                    n => format!(" (+{} more)", n - 1),
                };
                spans.push(Span::from(format!(" · {k}{more}")).red().bold());
            }
            spans.push(Span::from(format!(" · {}", app.source)).dim());
            if let Some(e) = &r.error {
                spans.push(Span::from(format!(" · {e}")).red());
            }
        }
        None => spans.push(
            Span::from(format!(" · every {} · {}", humantime::format_duration(app.interval), app.source))
                .dim(),
        ),
    }
    if app.paused {
        spans.push(Span::from(" PAUSED ").reversed());
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Top-level ledger lines with bytes, in ledger order.
fn top_lines(l: &Ledger) -> Vec<(&'static str, i64)> {
    let mut out: Vec<(&'static str, i64)> = Vec::new();
    for line in l.lines.iter().filter(|x| x.is_top()) {
        let b = line.bytes.unwrap_or(0);
        match out.iter_mut().find(|(k, _)| *k == line.category) {
            Some(e) => e.1 += b,
            None => out.push((line.category, b)),
        }
    }
    out
}

/// The ledger to scale: each category gets its share of the width
/// (largest remainders round up), so the cells add up to the bar exactly.
/// Categories under one cell are left to the legend, except unaccounted,
/// which always gets a cell of its own colour so that it is seen.
pub fn bar_cells(l: &Ledger, width: u16) -> Vec<(&'static str, u16)> {
    let width = i128::from(width);
    let total = i128::from(l.installed_bytes.max(1));
    let parts: Vec<(&'static str, i64)> = top_lines(l).into_iter().filter(|(_, b)| *b > 0).collect();
    let mut cells: Vec<(&'static str, i128, i128)> = parts
        .iter()
        .map(|(k, b)| (*k, i128::from(*b) * width / total, i128::from(*b) * width % total))
        .collect();
    let mut left = width - cells.iter().map(|c| c.1).sum::<i128>();
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cells[i].2));
    for i in order {
        if left <= 0 {
            break;
        }
        cells[i].1 += 1;
        left -= 1;
    }
    if let Some(u) = cells.iter().position(|c| c.0 == "unaccounted")
        && cells[u].1 == 0
        && let Some(max) = (0..cells.len()).max_by_key(|&i| cells[i].1)
        && cells[max].1 > 1
    {
        cells[max].1 -= 1;
        cells[u].1 = 1;
    }
    cells.into_iter().filter(|c| c.1 > 0).map(|(k, n, _)| (k, n as u16)).collect()
}

/// One band of the bar: its label inside when it fits whole with a cell
/// to spare on each side (a cut label reads as another word), else only its
/// colour, or without colour its glyph.
pub fn band_text(key: &str, cells: u16, color: bool) -> String {
    let n = cells as usize;
    let label = category(key).map(|c| c.label).unwrap_or(key);
    let fill = if color { ' ' } else { category_glyph(key) };
    let len = label.chars().count();
    if n >= len + 2 {
        let mut text = String::with_capacity(n * 3);
        text.push(fill);
        text.push_str(label);
        text.extend(std::iter::repeat_n(fill, n - len - 1));
        text
    } else {
        std::iter::repeat_n(fill, n).collect()
    }
}

fn draw_bar(f: &mut Frame, l: &Ledger, area: Rect, color: bool) {
    let spans: Vec<Span> = bar_cells(l, area.width)
        .into_iter()
        .map(|(k, n)| {
            let text = band_text(k, n, color);
            let mut style = Style::new();
            if color {
                style = style.bg(category_color(k)).fg(Color::Black);
            }
            if k == "unaccounted" {
                style = style.add_modifier(Modifier::BOLD);
                if color {
                    style = style.fg(Color::White);
                }
            }
            Span::styled(text, style)
        })
        .collect();
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The legend's items, largest first (unaccounted first of all), laid out
/// in lines of `width`: an item is never cut across lines. Items that do
/// not fit in `height` lines are counted at the end (`+3 more`).
pub fn legend_lines(l: &Ledger, width: u16, height: u16, color: bool) -> Vec<Vec<(String, &'static str)>> {
    let mut parts = top_lines(l);
    parts.retain(|(k, b)| *b != 0 || *k == "unaccounted");
    parts.sort_by_key(|(k, b)| (*k != "unaccounted", std::cmp::Reverse(*b)));
    let items: Vec<(String, &'static str)> = parts
        .iter()
        .map(|(k, b)| {
            let label = category(k).map(|c| c.label).unwrap_or(k);
            let mark = if color { '■' } else { category_glyph(k) };
            (format!("{mark} {label} {}", fmt_bytes(*b)), *k)
        })
        .collect();
    let width = width as usize;
    let mut lines: Vec<Vec<(String, &'static str)>> = Vec::new();
    let mut used = 0usize;
    for (i, (text, k)) in items.into_iter().enumerate() {
        let text: String = text.chars().take(width).collect();
        let w = text.chars().count();
        if lines.is_empty() || used + 2 + w > width {
            if lines.len() >= height as usize {
                return with_more(lines, parts.len() - i, width);
            }
            lines.push(Vec::new());
            used = 0;
        } else {
            used += 2;
        }
        used += w;
        lines.last_mut().expect("a line").push((text, k));
    }
    lines
}

/// The last line ends with `+N more`, items dropped to make room.
fn with_more(
    mut lines: Vec<Vec<(String, &'static str)>>,
    mut more: usize,
    width: usize,
) -> Vec<Vec<(String, &'static str)>> {
    let Some(last) = lines.last_mut() else { return lines };
    loop {
        let used: usize = last.iter().map(|(t, _)| t.chars().count() + 2).sum();
        let tail = format!("+{more} more");
        if used + tail.chars().count() <= width || last.len() <= 1 {
            last.push((tail, ""));
            return lines;
        }
        last.pop();
        more += 1;
    }
}

fn draw_legend(f: &mut Frame, l: &Ledger, area: Rect, color: bool) {
    let lines: Vec<Line> = legend_lines(l, area.width, area.height, color)
        .into_iter()
        .map(|items| {
            let mut spans = Vec::new();
            for (i, (text, k)) in items.into_iter().enumerate() {
                if i > 0 {
                    spans.push(Span::from("  "));
                }
                let mut style = Style::new();
                if color && !k.is_empty() {
                    style = style.fg(category_color(k));
                }
                if k == "unaccounted" {
                    style = style.bold().reversed();
                }
                spans.push(Span::styled(text, style));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), area);
}

fn draw_sparklines(f: &mut Frame, app: &App, area: Rect) {
    let n = SPARK_KEYS.len() as u32 + 1;
    let cols = Layout::horizontal((0..n).map(|_| Constraint::Ratio(1, n))).split(area);
    draw_pressure_sparkline(f, app, cols[cols.len() - 1]);
    for (key, col) in SPARK_KEYS.iter().zip(cols.iter()) {
        let [title, line] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(*col);
        let h = app.history.get(key);
        let last = h.and_then(|h| h.back()).copied();
        let label = category(key).map(|c| c.label).unwrap_or(key);
        let text = format!("{label} {}", last.map(fmt_bytes).unwrap_or_else(|| "-".into()));
        let mut t = Span::from(fit_title(&text, title.width));
        if *key == "unaccounted" {
            t = t.fg(Color::Red).bold();
        }
        f.render_widget(Paragraph::new(Line::from(t)), title);
        if let Some(h) = h {
            // Signed values: draw each point's height above the window's minimum.
            let n = (line.width as usize).saturating_sub(1);
            let pts: Vec<i64> = h.iter().rev().take(n).rev().copied().collect();
            let min = pts.iter().copied().min().unwrap_or(0);
            let data: Vec<u64> = pts.iter().map(|v| (v - min) as u64 + 1).collect();
            f.render_widget(
                Sparkline::default().data(&data).style(Style::new().fg(category_color(key))),
                line,
            );
        }
    }
}

/// A sparkline's title in its column with a blank after it, cut with `…`
/// when longer, so that neighbouring titles never run together.
pub fn fit_title(text: &str, width: u16) -> String {
    let room = (width as usize).saturating_sub(1);
    if text.chars().count() <= room {
        return text.to_string();
    }
    let mut t: String = text.chars().take(room.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Memory pressure: `some` avg10 now and its history, or why there is none.
fn draw_pressure_sparkline(f: &mut Frame, app: &App, area: Rect) {
    let [title, line] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let Some(v) = &app.view else { return };
    let text = match (&v.pressure.some, &v.pressure.full, &v.pressure.unavailable) {
        (Some(s), Some(full), _) => format!("pressure {} (full {})", fmt_avg(s.avg10), fmt_avg(full.avg10)),
        (Some(s), None, _) => format!("pressure {}", fmt_avg(s.avg10)),
        (None, _, Some(why)) => format!("pressure unavailable: {why}"),
        _ => "pressure -".into(),
    };
    let busy = v.pressure.some.is_some_and(|s| s.avg10 >= 10.0);
    // The rightmost column needs no blank after it.
    let t = Span::from(fit_title(&text, title.width.saturating_add(1)));
    f.render_widget(Paragraph::new(Line::from(if busy { t.fg(Color::Red).bold() } else { t })), title);
    if let Some(h) = app.history.get(PRESSURE_KEY) {
        // Heights from 0: an idle machine draws a flat floor.
        let n = (line.width as usize).saturating_sub(1);
        let data: Vec<u64> = h.iter().rev().take(n).rev().map(|v| (*v).max(0) as u64 + 1).collect();
        f.render_widget(Sparkline::default().data(&data).style(Style::new().fg(Color::Magenta)), line);
    }
}

fn draw_keys(f: &mut Frame, app: &App, area: Rect) {
    let line = if app.editing_filter {
        Line::from(vec![
            Span::from(" filter: ").reversed(),
            Span::from(format!(" {}█", app.filter)),
            Span::from("   Enter apply · Esc clear").dim(),
        ])
    } else {
        let sorts: String = SORTS
            .iter()
            .map(|s| s.2)
            .collect::<Vec<_>>()
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let mut spans = vec![
            key("q"),
            Span::from(" quit  "),
            key("/"),
            Span::from(" filter  "),
            key(&sorts),
            Span::from(" sort  "),
        ];
        if app.replay.is_some() {
            // ← and → step through the recording; Tab and the digits switch tabs.
            let (step, ends): (Vec<&str>, Vec<&str>) =
                REPLAY_KEYS.iter().map(|r| r.2).partition(|k| k.contains('←') || k.contains('→'));
            spans.extend([
                key(&step.join(" ")),
                Span::from(" step  "),
                key(&ends.join(" ")),
                Span::from(" first/last  "),
                key("Tab 1-6"),
                Span::from(" tabs  "),
            ]);
        } else {
            spans.extend([key("←→ 1-6"), Span::from(" tabs  "), key("space"), Span::from(" pause  ")]);
        }
        spans.extend([key("h"), Span::from(" help")]);
        Line::from(spans)
    };
    f.render_widget(Paragraph::new(line), area);
}

fn key(k: &str) -> Span<'static> {
    Span::from(k.to_string()).reversed()
}

/// The help overlay: every key, from the tables that drive them.
fn draw_help(f: &mut Frame, app: &App, area: Rect) {
    let mut lines = vec![
        Line::from("Keys (htop conventions)").bold(),
        Line::from(""),
        Line::from("q, F10, Ctrl-C   quit"),
        Line::from("h, ?, F1         this help (any key closes it)"),
        Line::from("/, F3            filter processes by command or pid; Enter applies, Esc clears"),
        Line::from("↑ ↓ PgUp PgDn    move; Home, End"),
    ];
    if app.replay.is_some() {
        lines.push(Line::from("Tab, Shift-Tab   next / previous tab"));
    } else {
        lines.push(Line::from("← → Tab          previous / next tab"));
    }
    lines.push(Line::from("F6, < >          cycle the sort column; I inverts it"));
    if app.replay.is_some() {
        lines.push(Line::from(""));
        lines.push(Line::from(
            "Replay of a recording: every figure comes from the database, none from this system.",
        ));
        for (_, _, keys, what) in REPLAY_KEYS {
            lines.push(Line::from(format!("{keys:<17}{what}")));
        }
    } else {
        lines.push(Line::from("space            pause updates"));
    }
    lines.push(Line::from(""));
    for (i, (_, t)) in TABS.iter().enumerate() {
        lines.push(Line::from(format!("{}                tab {t}", i + 1)));
    }
    lines.push(Line::from(""));
    for (_, title, c) in SORTS {
        lines.push(Line::from(format!("{c}                sort by {title} (again: reverse)")));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(
        "PSS of a process marked * is unavailable (permission, time budget or size cap): RSS is shown.",
    ));
    lines.push(Line::from(
        "The bar is the ledger to scale: every byte of installed RAM; unaccounted is in red.",
    ));
    let w = area.width.saturating_sub(4).min(100);
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .block(Block::new().borders(Borders::ALL).title(" memscope top: help "))
            .wrap(Wrap { trim: false }),
        r,
    );
}
