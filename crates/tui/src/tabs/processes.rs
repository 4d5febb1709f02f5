//! Processes: PSS, USS, RSS, swap and open descriptors (against the soft
//! `RLIMIT_NOFILE`), sortable and filtered.

use memscope_analysis::processes::SortKey;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row};

use crate::app::{App, SORTS};
use crate::ui::{cell_bytes, fds_cell};

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let [summary, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let (rows, summary_line) = {
        let v = app.view.as_ref().expect("drawn with a view");
        let t = &v.totals;
        let shown = app.process_rows();
        let matching = if app.filter.is_empty() {
            String::new()
        } else {
            format!(" matching \"{}\" (Esc clears)", app.filter)
        };
        let mut s = format!(
            "{} of {} processes{matching} · PSS known for {} ({} in all)",
            shown.len(),
            t.processes,
            t.with_pss,
            cell_bytes(Some(t.pss_bytes))
        );
        let skipped = [t.skipped_permission, t.skipped_budget, t.skipped_size, t.skipped_failed]
            .into_iter()
            .fold(0usize, usize::saturating_add);
        if skipped > 0 {
            s.push_str(&format!(
                " · * PSS unavailable for {skipped}: {} permission, {} time budget, {} size cap",
                t.skipped_permission, t.skipped_budget, t.skipped_size
            ));
        }
        s.push_str(&format!(" · scan {} ms", v.scan.elapsed_usec / 1000));
        let rows: Vec<Row> = shown
            .iter()
            .map(|r| {
                let mark = if r.pss_bytes.is_none() { "*" } else { " " };
                Row::new(vec![
                    Cell::from(format!("{mark}{}", r.pid)),
                    Cell::from(r.uid.map(|u| v.user_name(u)).unwrap_or_default()),
                    Cell::from(r.comm.clone()),
                    Cell::from(Line::from(cell_bytes(r.pss_bytes)).right_aligned()),
                    Cell::from(Line::from(cell_bytes(r.uss_bytes)).right_aligned()),
                    Cell::from(Line::from(cell_bytes(r.rss_bytes)).right_aligned()),
                    Cell::from(Line::from(cell_bytes(r.swap_bytes)).right_aligned()),
                    Cell::from(Line::from(fds_cell(r.fds, r.fd_soft_limit)).right_aligned()),
                ])
            })
            .collect();
        (rows, s)
    };
    f.render_widget(Paragraph::new(summary_line).dim(), summary);
    let arrow = if app.reverse { "▲" } else { "▼" };
    let title = |k: SortKey, t: &str| if app.sort == k { format!("{t}{arrow}") } else { t.to_string() };
    let mut header = vec![Cell::from(title(SortKey::Pid, "PID")), Cell::from("USER"), Cell::from("COMMAND")];
    for (k, t, _) in SORTS.iter().filter(|s| s.0 != SortKey::Pid) {
        let cell = Cell::from(Line::from(title(*k, t)).right_aligned());
        header.push(if app.sort == *k { cell.yellow() } else { cell });
    }
    // Numbers keep their width ("1023 MiB", "1024/1048576") on an
    // 80-column terminal; the command gives way.
    let widths = [
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Min(8),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(12),
    ];
    super::table(f, app, rest, Row::new(header), rows, &widths);
}
