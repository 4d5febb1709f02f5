//! `memscope top`: a live terminal view of the memory ledger, the
//! processes and the kernel's caches (ratatui).
//!
//! ```text
//!  worker thread:  Source::next() ─▶ Snapshot ─▶ View::new (analysis) ─┐ channel
//!  UI thread:      keys ─▶ App::key ─▶ App ◀── App::push(View) ◀──────┘
//!                                       └─▶ ui::draw (ratatui)
//! ```
//!
//! The UI thread never reads kernel files and never waits for a
//! collection: it polls the keyboard every [`TICK`], takes whatever view
//! the worker has finished, and draws. The worker's collection is budgeted
//! by its [`Source`] (the `smaps_rollup` time budget), so thousands of
//! processes slow the refresh, not the keys.
//!
//! - [`app`]: the state and the keys (pure);
//! - [`view`]: one snapshot analysed for the tabs;
//! - [`ui`], [`tabs`]: drawing, one module per tab.
//!
//! A recorded history (`--db FILE`) will be another [`Source`], stepping
//! through stored snapshots instead of collecting.

pub mod app;
pub mod tabs;
pub mod ui;
pub mod view;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use memscope_model::Snapshot;
use ratatui::crossterm::event::{self, Event};

pub use app::{App, Control};
pub use view::View;

/// How often the UI polls the keyboard.
pub const TICK: Duration = Duration::from_millis(100);

/// Where snapshots come from: a live collection, or (later) a recording.
pub trait Source: Send {
    /// The next snapshot; `None` when there are no more.
    fn next(&mut self) -> Option<Snapshot>;
    /// A few words for the status line (`live`, a file name).
    fn describe(&self) -> String;
}

/// A collecting source: `collect` is called once per refresh.
pub struct Live<F: FnMut() -> Snapshot + Send> {
    /// For the status line: `live`, or the captured tree's directory.
    pub label: String,
    /// One collection.
    pub collect: F,
}

impl<F: FnMut() -> Snapshot + Send> Source for Live<F> {
    fn next(&mut self) -> Option<Snapshot> {
        Some((self.collect)())
    }
    fn describe(&self) -> String {
        self.label.clone()
    }
}

/// Run the view until the user quits. Takes over the terminal (alternate
/// screen, raw mode) and restores it on return and on panic.
pub fn run(mut source: Box<dyn Source>, interval: Duration) -> std::io::Result<()> {
    let mut app = App::new(interval, source.describe());
    let (tx, rx) = mpsc::sync_channel::<View>(1);
    // The worker stops when the channel closes (the UI returned).
    let worker = std::thread::Builder::new().name("memscope-collect".into()).spawn(move || {
        while let Some(snap) = source.next() {
            let started = Instant::now();
            if tx.send(View::new(&snap)).is_err() {
                return;
            }
            let spent = started.elapsed();
            std::thread::sleep(interval.saturating_sub(spent));
        }
    })?;
    let mut terminal = ratatui::try_init()?;
    let result = (|| -> std::io::Result<()> {
        let mut dirty = true;
        loop {
            while let Ok(v) = rx.try_recv() {
                app.push(v);
                dirty = true;
            }
            if dirty {
                terminal.draw(|f| ui::draw(f, &mut app))?;
                dirty = false;
            }
            if event::poll(TICK)? {
                match event::read()? {
                    Event::Key(k) => {
                        if app.key(k) == Control::Quit {
                            return Ok(());
                        }
                        dirty = true;
                    }
                    Event::Resize(..) => dirty = true,
                    _ => {}
                }
            }
        }
    })();
    ratatui::restore();
    drop(rx);
    // The worker may be inside a collection; it ends at its next send.
    drop(worker);
    result
}

#[cfg(test)]
mod tests;
