//! vmalloc areas by kind and by caller (`/proc/vmallocinfo`, root only):
//! the `vmalloc` command's view ([`memscope_analysis::vmalloc`]).

use memscope_analysis::fmt_bytes;
use memscope_kernel::parse::vmallocinfo::VmallocKind;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use crate::app::App;
use crate::ui::cell_bytes;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let v = &app.view.as_ref().expect("drawn with a view").vmalloc;
    if let Some(why) = &v.unavailable {
        return super::unavailable(f, area, "vmalloc areas", why);
    }
    let kinds_h = (v.kinds.len() as u16 + 1).min(area.height.saturating_sub(2) / 2).max(2);
    let [summary, kinds_area, callers_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(kinds_h), Constraint::Min(0)])
            .areas(area);
    let summary_line = match &v.ledger {
        Some(l) => format!(
            "{} areas · the ledger's vmalloc line is {} = {}",
            v.areas,
            fmt_bytes(l.ledger_vmalloc_bytes),
            l.ledger_formula
        ),
        None => format!("{} areas", v.areas),
    };
    f.render_widget(Paragraph::new(summary_line).dim(), summary);
    let rows: Vec<Row> = v
        .kinds
        .iter()
        .map(|k| {
            let note = if k.kind == VmallocKind::Ioremap { "device memory, not RAM" } else { "" };
            Row::new(vec![
                Cell::from(k.kind.name()),
                Cell::from(Line::from(k.areas.to_string()).right_aligned()),
                Cell::from(Line::from(cell_bytes(k.ram_bytes)).right_aligned()),
                Cell::from(Line::from(cell_bytes(Some(k.size_bytes))).right_aligned()),
                Cell::from(note),
            ])
        })
        .collect();
    let header = Row::new(["KIND", "AREAS", "RAM▼", "ADDRESS SPACE", ""].map(Cell::from));
    let widths = [
        Constraint::Length(12),
        Constraint::Length(8),
        Constraint::Length(11),
        Constraint::Length(14),
        Constraint::Min(10),
    ];
    // The largest callers, below: not selectable.
    let caller_rows: Vec<Row> = v
        .callers
        .iter()
        .map(|c| {
            let caller = match &c.module {
                Some(m) => format!("{} [{m}]", c.caller),
                None => c.caller.clone(),
            };
            Row::new(vec![
                Cell::from(caller),
                Cell::from(c.kind.name()),
                Cell::from(Line::from(c.areas.to_string()).right_aligned()),
                Cell::from(Line::from(cell_bytes(Some(c.ram_bytes))).right_aligned()),
                Cell::from(if c.kernel_stacks { "kernel stacks (in KernelStack too)" } else { "" }),
            ])
        })
        .collect();
    let caller_header = Row::new(["CALLER", "KIND", "AREAS", "RAM▼", ""].map(Cell::from))
        .style(Style::new().bold().underlined());
    let caller_widths = [
        Constraint::Min(28),
        Constraint::Length(10),
        Constraint::Length(8),
        Constraint::Length(11),
        Constraint::Min(10),
    ];
    super::table(f, app, kinds_area, header, rows, &widths);
    f.render_widget(Table::new(caller_rows, caller_widths).header(caller_header), callers_area);
}
