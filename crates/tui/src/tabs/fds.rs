//! File descriptors: the system's file table against `fs.file-max`
//! (ENFILE), and every process by how close it is to its soft
//! `RLIMIT_NOFILE` (EMFILE): the fd doctor's report
//! ([`memscope_analysis::fds::build`]) of the snapshot's count pass.

use memscope_analysis::fds::{FdReport, LimitRow, Verdict};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row};

use crate::app::App;

/// How a verdict is drawn.
pub fn verdict_style(v: Verdict) -> Style {
    match v {
        Verdict::Exhausted | Verdict::Critical => Style::new().red().bold(),
        Verdict::Warning => Style::new().yellow(),
        Verdict::Ok => Style::new(),
        Verdict::Unknown => Style::new().dim(),
    }
}

fn pct(ratio: Option<f64>) -> String {
    ratio.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "-".into())
}

fn num(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "-".into())
}

/// `open files, system (ENFILE) 3456 of 262144 (1.3%) ok`.
fn limit_span(r: &LimitRow) -> Vec<Span<'static>> {
    let text = match (&r.reason, r.used, r.limit) {
        (Some(why), _, _) if r.used.is_none() || r.limit.is_none() => {
            format!("{}: unavailable ({why})", r.label)
        }
        _ => format!("{} {} of {} ({})", r.label, num(r.used), num(r.limit), pct(r.ratio)),
    };
    vec![Span::from(text), Span::from(" "), Span::styled(r.verdict.name(), verdict_style(r.verdict))]
}

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let Some(report) = app.view.as_ref().expect("drawn with a view").fds.as_ref() else {
        let why = super::not_in_snapshot(app, "descriptor counts");
        return super::unavailable(f, area, "file descriptors", &why);
    };
    let (lines, rows) = lines_and_rows(report);
    let [summary, rest] =
        Layout::vertical([Constraint::Length(lines.len() as u16), Constraint::Min(1)]).areas(area);
    f.render_widget(Paragraph::new(lines), summary);
    let header =
        Row::new(["PID", "COMMAND", "FDS", "SOFT LIMIT", "HARD LIMIT", "USE▼", "VERDICT"].map(Cell::from));
    let widths = [
        Constraint::Length(9),
        Constraint::Min(16),
        Constraint::Length(9),
        Constraint::Length(12),
        Constraint::Length(12),
        Constraint::Length(8),
        Constraint::Length(10),
    ];
    super::table(f, app, rest, header, rows, &widths);
}

fn lines_and_rows(report: &FdReport) -> (Vec<Line<'static>>, Vec<Row<'static>>) {
    let mut lines: Vec<Line> = report
        .limits
        .iter()
        .filter(|l| matches!(l.key, "file_max" | "nr_open"))
        .map(|l| Line::from(limit_span(l)))
        .collect();
    let t = &report.totals;
    let mut s = format!(
        "{} processes hold {} descriptors; closest to their soft RLIMIT_NOFILE first (EMFILE at 100%)",
        t.with_count, t.fds
    );
    if t.count_unavailable > 0 {
        s.push_str(&format!(" · {} could not be counted", t.count_unavailable));
    }
    lines.push(Line::from(s).dim());
    let r = |s: String| Cell::from(Line::from(s).right_aligned());
    let rows = report
        .processes
        .iter()
        .map(|p| {
            Row::new(vec![
                Cell::from(p.pid.to_string()),
                Cell::from(p.comm.clone()),
                r(num(p.fds)),
                r(p.soft_limit.map(|l| l.to_string()).unwrap_or_else(|| "-".into())),
                r(p.hard_limit.map(|l| l.to_string()).unwrap_or_else(|| "-".into())),
                r(pct(p.ratio)),
                Cell::from(Span::styled(p.verdict.name(), verdict_style(p.verdict))),
            ])
        })
        .collect();
    (lines, rows)
}
