//! Memory cgroups as a tree: each one's charge against its own limit and
//! the tightest limit above it, and its OOM kills
//! ([`memscope_analysis::memcg::rows`]).

use memscope_analysis::fmt_bytes;
use memscope_kernel::parse::cgroupfs::Limit;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row};

use crate::app::App;
use crate::ui::cell_bytes;
use crate::view::Cgroups;

/// The limit cell: its own, and the binding one above when tighter.
fn limit_text(r: &memscope_analysis::memcg::CgroupRow) -> String {
    let own = match r.limit {
        Some(Limit::Value(v)) => fmt_bytes(v as i64),
        // As `memscope cgroups` says it.
        Some(Limit::Max) => "unlimited".into(),
        None => "-".into(),
    };
    match (&r.limited_by, r.effective_limit_bytes) {
        (Some(_), Some(e)) => format!("{own} (↑ {})", fmt_bytes(e as i64)),
        _ => own,
    }
}

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let cgroups = match app.view.as_ref().expect("drawn with a view").cgroups.as_ref() {
        None => {
            let why = super::not_in_snapshot(app, "memory cgroups");
            return super::unavailable(f, area, "cgroups", &why);
        }
        Some(Err(why)) => return super::unavailable(f, area, "cgroups", why),
        Some(Ok(c)) => c,
    };
    let (summary_line, rows) = summary_and_rows(cgroups);
    let [summary, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    f.render_widget(Paragraph::new(summary_line), summary);
    let header =
        Row::new(["CGROUP", "CURRENT", "LIMIT (↑ BINDING ABOVE)", "USE", "OOM KILLS"].map(Cell::from));
    let widths = [
        Constraint::Min(30),
        Constraint::Length(11),
        Constraint::Length(24),
        Constraint::Length(8),
        Constraint::Length(10),
    ];
    super::table(f, app, rest, header, rows, &widths);
}

fn summary_and_rows(c: &Cgroups) -> (Line<'static>, Vec<Row<'static>>) {
    let version = c.rows.first().map(|r| r.version.name()).unwrap_or("?");
    let read = if c.rows.len() >= c.total {
        format!("{} memory cgroups ({version}), all read", c.rows.len())
    } else {
        format!(
            "{} of {} memory cgroups ({version}): the processes' cgroups and their ancestors",
            c.rows.len(),
            c.total
        )
    };
    let unreadable = c.rows.iter().filter(|r| !r.unavailable.is_empty()).count();
    let mut spans = vec![Span::from(read).dim()];
    if unreadable > 0 {
        let first = c.rows.iter().find_map(|r| r.unavailable.first()).map(|(_, why)| why.clone());
        spans.push(Span::from(format!(
            " · {unreadable} with unreadable figures (-), e.g. {}",
            first.unwrap_or_default()
        )));
    }
    spans.push(
        Span::from(" · limits bind their descendants; v2 counts a child's OOM kills in its ancestors").dim(),
    );
    let rows = c
        .rows
        .iter()
        .map(|r| {
            let name = format!("{}{}", "  ".repeat(r.depth), r.name);
            let ratio = r.use_ratio();
            let use_cell = match ratio {
                Some(x) if x >= 0.9 => {
                    Cell::from(Line::from(format!("{:.0}%", x * 100.0)).right_aligned()).red().bold()
                }
                Some(x) if x >= 0.75 => {
                    Cell::from(Line::from(format!("{:.0}%", x * 100.0)).right_aligned()).yellow()
                }
                Some(x) => Cell::from(Line::from(format!("{:.0}%", x * 100.0)).right_aligned()),
                None => Cell::from(Line::from("-").right_aligned()),
            };
            let kills = match r.oom_kills {
                Some(0) => Cell::from(Line::from("0").right_aligned()),
                Some(k) => Cell::from(Line::from(k.to_string()).right_aligned()).red(),
                None => Cell::from(Line::from("-").right_aligned()),
            };
            Row::new(vec![
                Cell::from(name),
                Cell::from(Line::from(cell_bytes(r.current_bytes)).right_aligned()),
                Cell::from(limit_text(r)),
                use_cell,
                kills,
            ])
        })
        .collect();
    (Line::from(spans), rows)
}
