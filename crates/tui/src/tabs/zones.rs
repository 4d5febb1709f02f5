//! Zones: free and managed memory against the watermarks (`/proc/zoneinfo`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row};

use crate::app::App;
use crate::ui::cell_bytes;

pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    let rows: Vec<Row> = match &app.view.as_ref().expect("drawn with a view").zones {
        Err(e) => return super::unavailable(f, area, "zones", e),
        Ok(zones) => zones
            .iter()
            .map(|z| {
                let [min, low, high] = z.watermarks_bytes;
                // Below low, kswapd reclaims; below min, allocations reclaim directly.
                let state = match (z.free_bytes, min, low) {
                    (Some(f), Some(m), _) if f < m => Cell::from("below min").red().bold(),
                    (Some(f), _, Some(l)) if f < l => Cell::from("below low").yellow(),
                    _ => Cell::from(""),
                };
                let r = |v: Option<u64>| Cell::from(Line::from(cell_bytes(v)).right_aligned());
                Row::new(vec![
                    Cell::from(z.node.to_string()),
                    Cell::from(z.zone.clone()),
                    r(z.free_bytes),
                    r(z.managed_bytes),
                    r(min),
                    r(low),
                    r(high),
                    state,
                ])
            })
            .collect(),
    };
    let header = Row::new(["NODE", "ZONE", "FREE", "MANAGED", "MIN", "LOW", "HIGH", ""].map(Cell::from));
    let widths = [
        Constraint::Length(5),
        Constraint::Length(8),
        Constraint::Length(11),
        Constraint::Length(11),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Min(10),
    ];
    super::table(f, app, area, header, rows, &widths);
}
