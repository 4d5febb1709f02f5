//! `memscope top --db FILE`: stepping through the snapshots `memscope
//! record` stored, instead of collecting. Nothing is read from the running
//! system: every figure comes from the database.
//!
//! ```text
//!  keys ─▶ App (Nav: step, first, last) ─▶ worker: Recording::apply ─▶ Recording::load
//!                                                  │ Store::read (the snapshot)
//!                                                  │ Store::read_parts(System) of the ones before it (sparklines, cached)
//!  App::push_recorded ◀── Recorded { view, position, history } ◀──┘
//! ```
//!
//! The sparklines are the recorded series: the ledger of the
//! [`crate::app::HISTORY`] snapshots up to the one shown, recomputed from
//! their stored samples like every derived figure of the store.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;

use memscope_analysis::ledger::{self, LedgerOptions};
use memscope_store::{Parts, SnapshotInfo, Store, StoreError};

use crate::app::{HISTORY, PRESSURE_KEY, SPARK_KEYS, pressure_point};
use crate::view::View;

/// A move through a recording, asked for by a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// This many snapshots later (earlier when negative).
    Step(i64),
    /// The first snapshot.
    First,
    /// The last snapshot (the list is read again: `record` may be adding).
    Last,
}

/// Where the shown snapshot is in the recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Its place, from 0.
    pub index: usize,
    /// Snapshots in the recording.
    pub count: usize,
    /// Its id in the database.
    pub id: i64,
    /// When the recording starts and ends (ms since the Unix epoch).
    pub first_unix_ms: u64,
    /// See `first_unix_ms`.
    pub last_unix_ms: u64,
}

/// One step's result, for [`crate::App::push_recorded`].
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The snapshot analysed; `None` when it could not be read.
    pub view: Option<View>,
    /// Where it is.
    pub position: Position,
    /// The sparkline series up to it, oldest first.
    pub history: BTreeMap<&'static str, VecDeque<i64>>,
    /// Why the snapshot (or a point of the series) could not be read.
    pub error: Option<String>,
    /// The OOM kills recorded after the previous snapshot up to this one,
    /// a line each (`OOM kill at T: comm (pid N) in /cgroup, …`).
    pub oom_kills: Vec<String>,
}

/// Why a recording cannot be replayed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The database could not be opened or listed.
    #[error("{path}: {source}")]
    Store {
        /// The database.
        path: String,
        /// What SQLite or the store said.
        source: StoreError,
    },
    /// It holds no snapshot.
    #[error("{path} holds no snapshot yet (memscope record writes them)")]
    Empty {
        /// The database.
        path: String,
    },
}

/// Sparkline points of one snapshot: `(category, bytes)`.
type Points = Vec<(&'static str, i64)>;

/// Points kept in the cache at most (a few screens of history).
const CACHE_POINTS: usize = 4 * HISTORY;

/// A recording opened for replay.
pub struct Recording {
    store: Store,
    path: String,
    list: Vec<SnapshotInfo>,
    index: usize,
    points: HashMap<i64, Option<Points>>,
}

impl Recording {
    /// Open `path` read-only; positioned on its last snapshot.
    pub fn open(path: &Path) -> Result<Recording, ReplayError> {
        let name = path.display().to_string();
        let err = |source| ReplayError::Store { path: name.clone(), source };
        let store = Store::open_read_only(path).map_err(err)?;
        let list = store.list().map_err(err)?;
        if list.is_empty() {
            return Err(ReplayError::Empty { path: name });
        }
        let index = list.len() - 1;
        Ok(Recording { store, path: name, list, index, points: HashMap::new() })
    }

    /// For the status line.
    pub fn describe(&self) -> String {
        format!("replay {}", self.path)
    }

    /// Snapshots in the recording (as last listed).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Never true: an empty database is refused by [`Recording::open`].
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The position [`Recording::load`] would show.
    pub fn position(&self) -> Position {
        Position {
            index: self.index,
            count: self.list.len(),
            id: self.list[self.index].id,
            first_unix_ms: self.list[0].taken_at_unix_ms,
            last_unix_ms: self.list[self.list.len() - 1].taken_at_unix_ms,
        }
    }

    /// Move (clamped to the recording). Stepping past the end, or to the
    /// last, lists the snapshots again: a recorder may have added some.
    pub fn apply(&mut self, nav: Nav) {
        let wants_end = match nav {
            Nav::Last => true,
            Nav::Step(n) => n > 0 && self.index as i64 + n >= self.list.len() as i64,
            Nav::First => false,
        };
        if wants_end
            && let Ok(list) = self.store.list()
            && !list.is_empty()
        {
            let id = self.list[self.index].id;
            self.index = list.iter().position(|s| s.id == id).unwrap_or(list.len() - 1);
            self.list = list;
        }
        let last = self.list.len() - 1;
        self.index = match nav {
            Nav::First => 0,
            Nav::Last => last,
            Nav::Step(n) => (self.index as i64).saturating_add(n).clamp(0, last as i64) as usize,
        };
    }

    /// Read the snapshot at the position, and the series up to it.
    pub fn load(&mut self) -> Recorded {
        let position = self.position();
        let mut error = None;
        let view = match self.store.read(position.id) {
            Ok(snap) => {
                let points = points_of(&snap);
                self.points.insert(position.id, Some(points));
                Some(View::new(&snap))
            }
            Err(e) => {
                error = Some(format!("snapshot {}: {e}", position.id));
                None
            }
        };
        if self.points.len() > CACHE_POINTS {
            self.points.clear();
        }
        let from = (self.index + 1).saturating_sub(HISTORY);
        let mut history: BTreeMap<&'static str, VecDeque<i64>> = BTreeMap::new();
        for info in &self.list[from..=self.index] {
            let points = self.points.entry(info.id).or_insert_with(|| {
                // The system files only: the processes are not drawn.
                self.store.read_parts(info.id, Parts::System).ok().map(|s| points_of(&s))
            });
            for (key, v) in points.iter().flatten() {
                history.entry(key).or_default().push_back(*v);
            }
        }
        // The kills since the previous snapshot (for the first: at it).
        let to = self.list[self.index].taken_at_unix_ms;
        let from = match self.index {
            0 => to,
            i => self.list[i - 1].taken_at_unix_ms.saturating_add(1),
        };
        let oom_kills = match self.store.oom_timeline(from, to) {
            Ok(mut t) => {
                t.count_rises.retain(|r| r.from_unix_ms + 1 >= from);
                memscope_analysis::oom_timeline::timeline_lines(&t)
            }
            Err(e) => vec![format!("OOM kills unreadable: {e}")],
        };
        Recorded { view, position, history, error, oom_kills }
    }
}

fn points_of(snap: &memscope_model::Snapshot) -> Points {
    let Ok(l) = ledger::build(snap, &LedgerOptions { top_caches: 0, top_callers: 0 }) else {
        return Vec::new();
    };
    let mut points: Points = SPARK_KEYS.iter().filter_map(|k| Some((*k, l.bytes(k)?))).collect();
    let pressure = memscope_analysis::pressure::PressureView::system(snap);
    points.extend(pressure_point(&pressure).map(|p| (PRESSURE_KEY, p)));
    points
}
