//! `memscope top`: a live terminal view of the memory ledger, the
//! processes and the kernel's caches (ratatui), or a replay of a recording.
//!
//! ```text
//!  live:    worker: Source::next() ─▶ Snapshot ─▶ View::new (analysis) ──────────┐ channel
//!  replay:  worker: Nav ─▶ Recording::apply/load ─▶ Recorded { View, position } ─┤
//!  UI thread:       keys ─▶ App::key ─▶ App ◀── App::push / push_recorded ◀──────┘
//!                             │ (replay: App::take_navs ─▶ worker)
//!                             └─▶ ui::draw (ratatui)
//! ```
//!
//! The UI thread never reads kernel files or the database and never waits
//! for them: it polls the keyboard every [`TICK`], takes whatever the worker
//! has finished, and draws. A live worker's collection is budgeted by its
//! [`Source`] (the `smaps_rollup` time budget), so thousands of processes
//! slow the refresh, not the keys; a replay's worker reads one stored
//! snapshot per move ([`replay`]), and nothing from the running system.
//!
//! - [`app`]: the state and the keys (pure);
//! - [`view`]: one snapshot analysed for the tabs;
//! - [`replay`]: a recording stepped through (`--db FILE`);
//! - [`ui`], [`tabs`]: drawing, one module per tab.

pub mod app;
pub mod replay;
pub mod tabs;
pub mod ui;
pub mod view;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use memscope_model::{CollectCache, CollectOptions, ProcessMode, Snapshot};
use ratatui::crossterm::event::{self, Event};

pub use app::{App, Control};
pub use replay::{Nav, Recording, ReplayError};
pub use view::View;

/// How often the UI polls the keyboard.
pub const TICK: Duration = Duration::from_millis(100);

/// What a live `memscope top` collects on each refresh: every process
/// (`smaps_rollup` within `budget` and under `max_rss_bytes`), descriptors
/// (one `stat` and one small read per process) and the memory cgroups, with
/// one cache for what does not change after boot; and, unless `full_pss`,
/// each process's rollup carried between refreshes
/// ([`memscope_model::IncrementalPss`]).
pub fn live_options(budget: Duration, max_rss_bytes: u64, full_pss: bool) -> CollectOptions {
    CollectOptions {
        processes: ProcessMode::Full,
        rollup_budget: Some(budget),
        rollup_max_rss_bytes: Some(max_rss_bytes),
        fds: true,
        cgroups: true,
        cache: Some(CollectCache::new()),
        status_keys: memscope_model::WATCHED_STATUS,
        incremental: (!full_pss).then(memscope_model::IncrementalPss::new),
        ..CollectOptions::default()
    }
}

/// Where live snapshots come from.
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

/// What a worker hands the UI.
enum Incoming {
    Live(View),
    Recorded(replay::Recorded),
}

/// Run the live view until the user quits. Takes over the terminal
/// (alternate screen, raw mode) and restores it on return and on panic.
pub fn run(mut source: Box<dyn Source>, interval: Duration) -> std::io::Result<()> {
    let app = App::new(interval, source.describe());
    let (tx, rx) = mpsc::sync_channel::<Incoming>(1);
    // The worker stops when the channel closes (the UI returned).
    let worker = std::thread::Builder::new().name("memscope-collect".into()).spawn(move || {
        while let Some(snap) = source.next() {
            let started = Instant::now();
            if tx.send(Incoming::Live(View::new(&snap))).is_err() {
                return;
            }
            let spent = started.elapsed();
            std::thread::sleep(interval.saturating_sub(spent));
        }
    })?;
    let result = ui_loop(app, &rx, None);
    drop(rx);
    // The worker may be inside a collection; it ends at its next send.
    drop(worker);
    result
}

/// Replay a recording until the user quits, starting at its last snapshot.
pub fn replay(mut rec: Recording) -> std::io::Result<()> {
    let app = App::replay(rec.describe());
    let (tx, rx) = mpsc::sync_channel::<Incoming>(1);
    let (nav_tx, nav_rx) = mpsc::channel::<Vec<Nav>>();
    let worker = std::thread::Builder::new().name("memscope-replay".into()).spawn(move || {
        if tx.send(Incoming::Recorded(rec.load())).is_err() {
            return;
        }
        // Moves typed while a snapshot loads are applied together: one read.
        while let Ok(mut navs) = nav_rx.recv() {
            while let Ok(more) = nav_rx.try_recv() {
                navs.extend(more);
            }
            let before = rec.position();
            for n in navs {
                rec.apply(n);
            }
            if rec.position() == before {
                continue;
            }
            if tx.send(Incoming::Recorded(rec.load())).is_err() {
                return;
            }
        }
    })?;
    let result = ui_loop(app, &rx, Some(nav_tx));
    drop(rx);
    drop(worker);
    result
}

fn ui_loop(
    mut app: App,
    rx: &mpsc::Receiver<Incoming>,
    navs: Option<mpsc::Sender<Vec<Nav>>>,
) -> std::io::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let result = (|| -> std::io::Result<()> {
        let mut dirty = true;
        loop {
            while let Ok(incoming) = rx.try_recv() {
                match incoming {
                    Incoming::Live(v) => app.push(v),
                    Incoming::Recorded(r) => app.push_recorded(r),
                }
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
                        let moves = app.take_navs();
                        if let Some(tx) = &navs
                            && !moves.is_empty()
                        {
                            let _ = tx.send(moves);
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
    result
}

#[cfg(test)]
mod tests;
