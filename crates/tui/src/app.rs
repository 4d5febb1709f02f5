//! The state of `memscope top` and what each key does: pure, so that tests
//! drive it key by key and render it into a test backend.

use std::collections::{BTreeMap, VecDeque};

use memscope_analysis::processes::{ProcessRow, SortKey};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::replay::{Nav, Position, Recorded};
use crate::view::View;

/// A tab. One table drives the tab bar, the number keys and help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Processes by PSS/USS/RSS/swap/fds.
    Processes,
    /// Slab caches.
    Slab,
    /// vmalloc by kind.
    Vmalloc,
    /// Zones and their watermarks.
    Zones,
    /// Memory cgroups against their limits, as a tree.
    Cgroups,
    /// File descriptors: the file table, the processes closest to EMFILE.
    Fds,
}

/// Every tab, in order, with its title; the number key is its position + 1.
pub const TABS: &[(Tab, &str)] = &[
    (Tab::Processes, "Processes"),
    (Tab::Slab, "Slab"),
    (Tab::Vmalloc, "vmalloc"),
    (Tab::Zones, "Zones"),
    (Tab::Cgroups, "cgroups"),
    (Tab::Fds, "fds"),
];

/// Every sort key of the process table with its column title and key; one
/// table drives the header, the keys and help. The keys are the analysis'
/// ([`SortKey`], `memscope ps --sort`).
pub const SORTS: &[(SortKey, &str, char)] = &[
    (SortKey::Pss, "PSS", 'p'),
    (SortKey::Uss, "USS", 'u'),
    (SortKey::Rss, "RSS", 'r'),
    (SortKey::Swap, "SWAP", 's'),
    (SortKey::Fds, "FDS/LIMIT", 'f'),
    (SortKey::Pid, "PID", 'i'),
];

/// A sort key's column title.
pub fn sort_title(key: SortKey) -> &'static str {
    SORTS.iter().find(|s| s.0 == key).map(|s| s.1).unwrap_or("?")
}

/// What the caller should do after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep going.
    Continue,
    /// Leave.
    Quit,
}

/// The keys that move through a recording (`--db`): the keys, the move,
/// and how the key line and help name them. In a replay ← and → step
/// through snapshots; Tab and the digits switch tabs.
pub const REPLAY_KEYS: &[(&[KeyCode], Nav, &str, &str)] = &[
    (&[KeyCode::Left, KeyCode::Char('[')], Nav::Step(-1), "← [", "previous snapshot"),
    (&[KeyCode::Right, KeyCode::Char(']')], Nav::Step(1), "→ ]", "next snapshot"),
    (&[KeyCode::Char('g')], Nav::First, "g", "first snapshot"),
    (&[KeyCode::Char('G')], Nav::Last, "G", "last snapshot (and any recorded since)"),
];

/// Ledger categories drawn as sparklines, and how many points they keep.
pub const SPARK_KEYS: &[&str] = &["unaccounted", "anon", "file", "slab_unreclaimable"];
/// The history key of the memory pressure sparkline: `some` avg10 in
/// hundredths of a percent (the kernel prints two decimals).
pub const PRESSURE_KEY: &str = "pressure_some_avg10";
/// Points each sparkline keeps.
pub const HISTORY: usize = 240;

/// The pressure sparkline's point of a view: `some` avg10 × 100.
pub fn pressure_point(p: &memscope_analysis::pressure::PressureView) -> Option<i64> {
    p.some.map(|l| (l.avg10 * 100.0).round() as i64)
}

/// The whole state.
#[derive(Debug)]
pub struct App {
    /// The latest view (none before the first collection).
    pub view: Option<View>,
    /// Views received.
    pub refreshes: u64,
    /// Current tab.
    pub tab: Tab,
    /// Process sort.
    pub sort: SortKey,
    /// Ascending instead of descending.
    pub reverse: bool,
    /// Filter on command name or pid (case-insensitive substring).
    pub filter: String,
    /// Typing a filter.
    pub editing_filter: bool,
    /// Selected row of the current table.
    pub selected: usize,
    /// First row shown.
    pub scroll: usize,
    /// Help overlay shown.
    pub help: bool,
    /// Updates frozen.
    pub paused: bool,
    /// Refresh interval, for the status line.
    pub interval: std::time::Duration,
    /// Where the snapshots come from, for the status line.
    pub source: String,
    /// History of the sparkline categories, oldest first.
    pub history: BTreeMap<&'static str, VecDeque<i64>>,
    /// Replaying a recording (`--db`): where, and the moves asked for.
    pub replay: Option<Replay>,
    /// Draw in colour (`NO_COLOR` unset or empty); without, the bar's
    /// bands are told apart by their glyphs.
    pub color: bool,
}

/// The state of a replay.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// The snapshot shown (none before the first is read).
    pub position: Option<Position>,
    /// Moves asked for and not yet sent to the reader ([`App::take_navs`]).
    pub pending: Vec<Nav>,
    /// Why the last move could not show its snapshot.
    pub error: Option<String>,
    /// The OOM kills recorded since the previous snapshot.
    pub oom_kills: Vec<String>,
}

impl App {
    /// An empty state.
    pub fn new(interval: std::time::Duration, source: impl Into<String>) -> App {
        App {
            view: None,
            refreshes: 0,
            tab: Tab::Processes,
            sort: SortKey::Pss,
            reverse: false,
            filter: String::new(),
            editing_filter: false,
            selected: 0,
            scroll: 0,
            help: false,
            paused: false,
            interval,
            source: source.into(),
            history: BTreeMap::new(),
            replay: None,
            // https://no-color.org: any non-empty NO_COLOR turns colour off.
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    /// The state of a replay of a recording: keys step through snapshots.
    pub fn replay(source: impl Into<String>) -> App {
        App { replay: Some(Replay::default()), ..App::new(std::time::Duration::ZERO, source) }
    }

    /// Take one step of a replay: its snapshot, position and recorded series.
    pub fn push_recorded(&mut self, r: Recorded) {
        let replay = self.replay.get_or_insert_with(Replay::default);
        replay.position = Some(r.position);
        replay.error = r.error;
        replay.oom_kills = r.oom_kills;
        self.history = r.history;
        if let Some(v) = r.view {
            self.view = Some(v);
            self.refreshes += 1;
        }
        let n = self.row_count();
        if self.selected >= n {
            self.selected = n.saturating_sub(1);
        }
    }

    /// The moves asked for since the last call, in order.
    pub fn take_navs(&mut self) -> Vec<Nav> {
        self.replay.as_mut().map(|r| std::mem::take(&mut r.pending)).unwrap_or_default()
    }

    /// Take a new view (ignored while paused).
    pub fn push(&mut self, view: View) {
        if self.paused {
            return;
        }
        if let Ok(l) = &view.ledger {
            for key in SPARK_KEYS {
                if let Some(b) = l.bytes(key) {
                    let h = self.history.entry(key).or_default();
                    if h.len() == HISTORY {
                        h.pop_front();
                    }
                    h.push_back(b);
                }
            }
        }
        if let Some(p) = pressure_point(&view.pressure) {
            let h = self.history.entry(PRESSURE_KEY).or_default();
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(p);
        }
        self.view = Some(view);
        self.refreshes += 1;
    }

    /// The process rows shown: filtered, then sorted.
    pub fn process_rows(&self) -> Vec<&ProcessRow> {
        let Some(v) = &self.view else { return Vec::new() };
        let needle = self.filter.to_lowercase();
        let mut rows: Vec<&ProcessRow> = v
            .processes
            .iter()
            .filter(|r| {
                needle.is_empty() || r.comm.to_lowercase().contains(&needle) || r.pid.to_string() == needle
            })
            .collect();
        let key = self.sort;
        rows.sort_by(|a, b| {
            let o = key.compare(a, b);
            if self.reverse { o.reverse() } else { o }
        });
        rows
    }

    /// Rows of the current tab's table.
    pub fn row_count(&self) -> usize {
        let Some(v) = &self.view else { return 0 };
        match self.tab {
            Tab::Processes => self.process_rows().len(),
            Tab::Slab => v.slab.caches.len(),
            Tab::Vmalloc => v.vmalloc.kinds.len(),
            Tab::Zones => v.zones.as_ref().map(|z| z.zones.len()).unwrap_or(0),
            Tab::Cgroups => {
                v.cgroups.as_ref().and_then(|c| c.as_ref().ok()).map(|c| c.rows.len()).unwrap_or(0)
            }
            Tab::Fds => v.fds.as_ref().map(|r| r.processes.len()).unwrap_or(0),
        }
    }

    fn move_by(&mut self, delta: isize) {
        let n = self.row_count();
        if n == 0 {
            self.selected = 0;
            return;
        }
        self.selected = self.selected.saturating_add_signed(delta).min(n - 1);
    }

    fn set_tab(&mut self, tab: Tab) {
        if self.tab != tab {
            self.tab = tab;
            self.selected = 0;
            self.scroll = 0;
        }
    }

    fn cycle_tab(&mut self, forward: bool) {
        let i = TABS.iter().position(|t| t.0 == self.tab).unwrap_or(0);
        let n = TABS.len();
        let j = if forward { (i + 1) % n } else { (i + n - 1) % n };
        self.set_tab(TABS[j].0);
    }

    fn set_sort(&mut self, key: SortKey) {
        if self.sort == key {
            self.reverse = !self.reverse;
        } else {
            self.sort = key;
            self.reverse = false;
        }
        self.selected = 0;
        self.set_tab(Tab::Processes);
    }

    /// Apply one key.
    pub fn key(&mut self, k: KeyEvent) -> Control {
        if k.kind == KeyEventKind::Release {
            return Control::Continue;
        }
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            return Control::Quit;
        }
        if self.editing_filter {
            match k.code {
                KeyCode::Enter => self.editing_filter = false,
                KeyCode::Esc => {
                    self.editing_filter = false;
                    self.filter.clear();
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) => self.filter.push(c),
                _ => {}
            }
            self.selected = 0;
            return Control::Continue;
        }
        if self.help {
            // Any key closes help; q still quits.
            self.help = false;
            return if matches!(k.code, KeyCode::Char('q') | KeyCode::F(10)) {
                Control::Quit
            } else {
                Control::Continue
            };
        }
        if let Some(r) = self.replay.as_mut() {
            if let Some((_, nav, _, _)) = REPLAY_KEYS.iter().find(|(codes, ..)| codes.contains(&k.code)) {
                r.pending.push(*nav);
                return Control::Continue;
            }
            if k.code == KeyCode::Char(' ') {
                // Nothing to pause: a recording moves only when asked.
                return Control::Continue;
            }
        }
        match k.code {
            KeyCode::Char('q') | KeyCode::F(10) => return Control::Quit,
            KeyCode::Char('h') | KeyCode::Char('?') | KeyCode::F(1) => self.help = true,
            KeyCode::Char('/') | KeyCode::F(3) => {
                self.editing_filter = true;
                self.set_tab(Tab::Processes);
            }
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Char(' ') => self.paused = !self.paused,
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::PageUp => self.move_by(-20),
            KeyCode::PageDown => self.move_by(20),
            KeyCode::Home => self.selected = 0,
            KeyCode::End => self.move_by(isize::MAX),
            KeyCode::Tab | KeyCode::Right => self.cycle_tab(true),
            KeyCode::BackTab | KeyCode::Left => self.cycle_tab(false),
            KeyCode::F(6) | KeyCode::Char('>') | KeyCode::Char('<') => {
                let i = SORTS.iter().position(|s| s.0 == self.sort).unwrap_or(0);
                let n = SORTS.len();
                let j = if k.code == KeyCode::Char('<') { (i + n - 1) % n } else { (i + 1) % n };
                self.sort = SORTS[j].0;
                self.reverse = false;
                self.selected = 0;
            }
            KeyCode::Char('I') => self.reverse = !self.reverse,
            KeyCode::Char(c) if c.is_ascii_digit() => {
                let n = c.to_digit(10).unwrap_or(0) as usize;
                if (1..=TABS.len()).contains(&n) {
                    self.set_tab(TABS[n - 1].0);
                }
            }
            KeyCode::Char(c) => {
                if let Some(s) = SORTS.iter().find(|s| s.2 == c) {
                    self.set_sort(s.0);
                }
            }
            _ => {}
        }
        Control::Continue
    }
}
