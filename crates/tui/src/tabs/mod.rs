//! One module per tab; [`draw`] dispatches on [`Tab`].

mod cgroups;
mod fds;
mod processes;
mod slab;
mod vmalloc;
mod zones;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::widgets::{Paragraph, Row, Table, TableState, Wrap};

use crate::app::{App, Tab};

/// Draw the current tab into `area`.
pub fn draw(f: &mut Frame, app: &mut App, area: Rect) {
    if app.view.is_none() {
        let what = if app.replay.is_some() { "reading…" } else { "collecting…" };
        f.render_widget(Paragraph::new(what), area);
        return;
    }
    match app.tab {
        Tab::Processes => processes::draw(f, app, area),
        Tab::Slab => slab::draw(f, app, area),
        Tab::Vmalloc => vmalloc::draw(f, app, area),
        Tab::Zones => zones::draw(f, app, area),
        Tab::Cgroups => cgroups::draw(f, app, area),
        Tab::Fds => fds::draw(f, app, area),
    }
}

/// A table with a header, the app's selection kept in view.
pub(crate) fn table(
    f: &mut Frame,
    app: &mut App,
    area: Rect,
    header: Row,
    rows: Vec<Row>,
    widths: &[Constraint],
) {
    let t = Table::new(rows, widths.to_vec())
        .header(header.style(Style::new().bold().underlined()))
        .row_highlight_style(Style::new().reversed());
    let mut st = TableState::default().with_offset(app.scroll).with_selected(Some(app.selected));
    f.render_stateful_widget(t, area, &mut st);
    app.scroll = st.offset();
}

/// A figure that could not be read, said so in place of the table.
pub(crate) fn unavailable(f: &mut Frame, area: Rect, what: &str, reason: &str) {
    f.render_widget(
        Paragraph::new(format!("{what} unavailable: {reason}")).magenta().wrap(Wrap { trim: true }),
        area,
    );
}

/// Why a figure the snapshot does not hold is missing: a recording that
/// did not keep it, or a collection that did not ask for it.
pub(crate) fn not_in_snapshot(app: &App, what: &str) -> String {
    if app.replay.is_some() {
        format!("not recorded in this database (its snapshots keep no {what})")
    } else {
        format!("this snapshot was collected without {what}")
    }
}
