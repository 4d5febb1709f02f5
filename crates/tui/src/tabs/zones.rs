//! Zones: free and managed memory against the watermarks, and the largest
//! free block (`/proc/zoneinfo`, `/proc/buddyinfo`): the `zones` command's
//! view ([`memscope_analysis::zones`]).

use memscope_analysis::zones::Watermark;
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
        Ok(view) => {
            let page = view.page_size_bytes;
            let b = |pages: Option<u64>| pages.map(|p| p.saturating_mul(page));
            view.zones
                .iter()
                .map(|z| {
                    // The analysis' verdict: below low, kswapd reclaims;
                    // below min, allocations reclaim directly.
                    let state = match z.watermark {
                        Some(w @ Watermark::BelowMin) => Cell::from(w.name()).red().bold(),
                        Some(w @ Watermark::BelowLow) => Cell::from(w.name()).yellow(),
                        Some(w) => Cell::from(w.name()),
                        None => Cell::from("?"),
                    };
                    let largest = z
                        .largest_free_order
                        .map(|o| cell_bytes(Some(page << o)))
                        .unwrap_or_else(|| "-".into());
                    let r = |v: Option<u64>| Cell::from(Line::from(cell_bytes(v)).right_aligned());
                    Row::new(vec![
                        Cell::from(z.node.to_string()),
                        Cell::from(z.zone.clone()),
                        r(b(z.free_pages)),
                        r(b(z.managed_pages)),
                        r(b(z.min_pages)),
                        r(b(z.low_pages)),
                        r(b(z.high_pages)),
                        Cell::from(Line::from(largest).right_aligned()),
                        state,
                    ])
                })
                .collect()
        }
    };
    let header = Row::new(
        ["NODE", "ZONE", "FREE", "MANAGED", "MIN", "LOW", "HIGH", "LARGEST FREE", "WATERMARK"]
            .map(Cell::from),
    );
    let widths = [
        Constraint::Length(5),
        Constraint::Length(8),
        Constraint::Length(11),
        Constraint::Length(11),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(13),
        Constraint::Min(10),
    ];
    super::table(f, app, area, header, rows, &widths);
}
