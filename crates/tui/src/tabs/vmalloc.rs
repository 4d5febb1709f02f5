//! vmalloc areas by kind (`/proc/vmallocinfo`, root only).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row};

use crate::app::App;
use crate::ui::cell_bytes;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let rows: Vec<Row> = match &app.view.as_ref().expect("drawn with a view").vmalloc {
        Err(e) => return super::unavailable(f, area, "vmalloc areas", e),
        Ok(kinds) => kinds
            .iter()
            .map(|k| {
                let note = if k.kind == "ioremap" { "device memory, not RAM" } else { "" };
                Row::new(vec![
                    Cell::from(k.kind),
                    Cell::from(Line::from(k.areas.to_string()).right_aligned()),
                    Cell::from(Line::from(cell_bytes(k.bytes)).right_aligned()),
                    Cell::from(Line::from(cell_bytes(Some(k.address_space_bytes))).right_aligned()),
                    Cell::from(note),
                ])
            })
            .collect(),
    };
    let header = Row::new(["KIND", "AREAS", "RAM▼", "ADDRESS SPACE", ""].map(Cell::from));
    let widths = [
        Constraint::Length(12),
        Constraint::Length(8),
        Constraint::Length(11),
        Constraint::Length(14),
        Constraint::Min(10),
    ];
    super::table(f, app, area, header, rows, &widths);
}
