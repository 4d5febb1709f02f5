//! Slab caches, largest first (`/proc/slabinfo`, root only): the `slab`
//! command's view ([`memscope_analysis::slab`]).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row};

use crate::app::App;
use crate::ui::cell_bytes;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let v = &app.view.as_ref().expect("drawn with a view").slab;
    if let Some(why) = &v.unavailable {
        return super::unavailable(f, area, "slab caches", why);
    }
    let [summary, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let t = &v.totals;
    let mut line = format!(
        "{} caches hold {} · reclaimable {} · unreclaimable {}",
        t.caches,
        cell_bytes(Some(t.size_bytes)),
        cell_bytes(Some(t.reclaimable_bytes)),
        cell_bytes(Some(t.unreclaimable_bytes)),
    );
    if let Some(m) = t.meminfo_slab_bytes {
        line.push_str(&format!(" · meminfo Slab {}", cell_bytes(Some(m))));
    }
    if v.empty_hidden > 0 {
        line.push_str(&format!(" · {} empty caches hidden", v.empty_hidden));
    }
    let rows: Vec<Row> = v
        .caches
        .iter()
        .map(|c| {
            let reclaim = match c.reclaimable {
                Some(true) => "yes",
                Some(false) => "no",
                None => "?",
            };
            Row::new(vec![
                Cell::from(c.name.clone()),
                Cell::from(Line::from(cell_bytes(Some(c.size_bytes))).right_aligned()),
                Cell::from(Line::from(cell_bytes(Some(c.active_bytes))).right_aligned()),
                Cell::from(Line::from(cell_bytes(Some(c.waste_bytes))).right_aligned()),
                Cell::from(Line::from(c.active_objs.to_string()).right_aligned()),
                Cell::from(Line::from(c.objsize_bytes.to_string()).right_aligned()),
                Cell::from(reclaim),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(line).dim(), summary);
    let header =
        Row::new(["CACHE", "SIZE▼", "IN USE", "WASTE", "OBJS", "OBJSIZE", "RECLAIM"].map(Cell::from));
    let widths = [
        Constraint::Min(24),
        Constraint::Length(11),
        Constraint::Length(11),
        Constraint::Length(11),
        Constraint::Length(10),
        Constraint::Length(8),
        Constraint::Length(8),
    ];
    super::table(f, app, rest, header, rows, &widths);
}
