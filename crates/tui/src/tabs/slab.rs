//! Slab caches, largest first (`/proc/slabinfo`, root only).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row};

use crate::app::App;
use crate::ui::cell_bytes;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let rows: Vec<Row> = match &app.view.as_ref().expect("drawn with a view").slab {
        Err(e) => return super::unavailable(f, area, "slab caches", e),
        Ok(caches) => caches
            .iter()
            .map(|c| {
                let waste = c.bytes.saturating_sub(c.active_bytes);
                Row::new(vec![
                    Cell::from(c.name.clone()),
                    Cell::from(Line::from(cell_bytes(Some(c.bytes))).right_aligned()),
                    Cell::from(Line::from(cell_bytes(Some(c.active_bytes))).right_aligned()),
                    Cell::from(Line::from(cell_bytes(Some(waste))).right_aligned()),
                    Cell::from(Line::from(c.active_objs.to_string()).right_aligned()),
                    Cell::from(Line::from(c.objsize.to_string()).right_aligned()),
                ])
            })
            .collect(),
    };
    let header = Row::new(["CACHE", "SIZE▼", "IN USE", "WASTE", "OBJS", "OBJSIZE"].map(Cell::from));
    let widths = [
        Constraint::Min(24),
        Constraint::Length(11),
        Constraint::Length(11),
        Constraint::Length(11),
        Constraint::Length(10),
        Constraint::Length(8),
    ];
    super::table(f, app, area, header, rows, &widths);
}
