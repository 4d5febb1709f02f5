//! Recording snapshots in SQLite and reading them back: the [`Store`].
//!
//! The store keeps the raw samples of each collection pass (parsed kernel
//! files) whole, as serialized documents beside the few columns queries
//! need, and nothing derived: the ledger, the leak trends and the diffs are
//! recomputed from the snapshots read back, by the same code that analyses
//! a live snapshot.
//!
//! ```text
//!  Snapshot ──Store::write──▶ one transaction: snapshots row (system document)
//!                             + process_docs row (the processes that changed)
//!                             + one processes row per process
//!  Snapshot ◀──Store::read─── the same model (see rows::as_stored)
//! ```
//!
//! - [`schema`]: the migrations (`PRAGMA user_version` counts those applied);
//! - [`rows`]: documents and indexed columns of a snapshot, both ways;
//! - `legacy`: snapshots of databases from before documents (schema 1 to
//!   6), read-only, and migrated to documents in place;
//! - [`events`]: the OOM kills seen while recording, beside the snapshots;
//! - [`Store`]: open (WAL, `synchronous=NORMAL`, migrations), write, read,
//!   list, retention ([`Store::prune`]).
//!
//! Durability: each snapshot is one transaction, so a process killed at any
//! moment loses at most the snapshot it was writing. With WAL and
//! `synchronous=NORMAL`, a committed snapshot survives a crash of the
//! process; a power loss may lose the last few (sqlite.org/wal.html).
//! The database layout is documented in docs/store.md.

pub mod events;
mod legacy;
pub mod rows;
pub mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use memscope_kernel::parse::pid::cgroup::ProcCgroup;
use memscope_model::Snapshot;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params};

pub use rows::{Meta, Parts, as_stored};
pub use schema::SCHEMA_VERSION;

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The disk (or the file system, or a size limit) is full: the snapshot
    /// being written was rolled back and the database is intact.
    #[error(
        "{path}: disk full while {op}: nothing was half-written; free some space or lower --max-size/--keep"
    )]
    DiskFull {
        /// The database.
        path: String,
        /// What was being done.
        op: String,
    },
    /// The database was written by a newer memscope.
    #[error(
        "{path}: schema version {found} is newer than this memscope knows ({known}); use a newer memscope"
    )]
    NewerSchema {
        /// The database.
        path: String,
        /// Its `user_version`.
        found: u32,
        /// [`SCHEMA_VERSION`].
        known: u32,
    },
    /// The database has a layout from before documents (schema version 1
    /// to 6), which is read but never written: opening it for writing
    /// migrates it.
    #[error("{path}: schema version {version} is read-only here; open it for writing to migrate it")]
    OldLayout {
        /// The database.
        path: String,
        /// Its `user_version`.
        version: u32,
    },
    /// No snapshot with this id.
    #[error("no snapshot with id {id}")]
    NoSuchSnapshot {
        /// The id asked for.
        id: i64,
    },
    /// A row does not hold what the schema says it should.
    #[error("corrupt row in {item}: {detail}")]
    Corrupt {
        /// Table and column (and process) concerned.
        item: String,
        /// What is wrong.
        detail: String,
    },
    /// The database, its WAL or its directory is not safe to write as this
    /// user: a symbolic link, not a regular file, or a directory every user
    /// can write without the sticky bit.
    #[error("{path}: {reason}")]
    Unsafe {
        /// The file or directory concerned.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// Creating or checking a file of the database failed.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: String,
        /// The system's error.
        source: std::io::Error,
    },
    /// Any other SQLite error.
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    fn corrupt(item: &str, detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt { item: item.to_string(), detail: detail.into() }
    }

    /// True when the error is a full disk (or a size limit reached).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::DiskFull { .. })
    }
}

fn is_full(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::DiskFull)
}

/// `e`, or a full disk at `path` while doing `op` when it is one.
fn full_at(path: &str, e: StoreError, op: &str) -> StoreError {
    match e {
        StoreError::Sqlite(e) if is_full(&e) => StoreError::DiskFull { path: path.into(), op: op.into() },
        other => other,
    }
}

/// Convert every snapshot of a database of schema version `schema` (1 to 6,
/// brought to 6 and given the tables of version 7 under new names) into
/// documents, keeping ids: one snapshot in memory at a time.
fn to_documents(tx: &rusqlite::Transaction, strings: &mut Strings, schema: u32) -> Result<(), StoreError> {
    type Row = (i64, Option<String>, Option<i64>, Option<i64>);
    let rows: Vec<Row> = tx
        .prepare("SELECT id, host, collect_wall_usec, collect_cpu_usec FROM snapshots ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let tables = |id| rows::Tables { snapshots: "snapshots_v7", processes: "processes_v7", id: Some(id) };
    for (id, host, wall, cpu) in rows {
        let mut snap = legacy::read(tx, strings, schema, id, Parts::All)?;
        let meta =
            Meta { host, collect_wall_usec: wall.map(|v| v as u64), collect_cpu_usec: cpu.map(|v| v as u64) };
        let processes = rows::processes_into_stored(std::mem::take(&mut snap.processes));
        rows::write(tx, strings, tables(id), &snap, &processes, &meta, rows::Layout::OwnArray)?;
        // Snapshots read back share no list: "one snapshot in memory at a
        // time" holds for the lists too.
        strings.cgroups_next.clear();
    }
    Ok(())
}

/// Interned strings: id ↔ text, cached both ways.
#[derive(Debug, Default)]
pub(crate) struct Strings {
    ids: HashMap<String, i64>,
    texts: HashMap<i64, String>,
    /// Inserted by the transaction in progress (forgotten if it rolls back).
    pending: Vec<String>,
    /// The id of each cgroup membership list a repeated collection shares
    /// from pass to pass (one `Arc` per process while its file does not
    /// change), by the `Arc`'s address: its JSON is written and looked up
    /// once, not for every process of every snapshot. The `Arc` is held, so
    /// the address cannot be reused for another list while it is here;
    /// only the lists of the last snapshot written are kept.
    cgroups: HashMap<usize, (Arc<ProcCgroup>, i64)>,
    /// The lists of the snapshot being written (they replace `cgroups` when
    /// it commits).
    cgroups_next: HashMap<usize, (Arc<ProcCgroup>, i64)>,
}

impl Strings {
    /// Entries kept in each cache before it starts over: command lines of
    /// short-lived processes would otherwise grow it for as long as `record`
    /// runs.
    const CACHE_MAX: usize = 1 << 16;

    /// The id of `text`, inserting it when new.
    fn intern(&mut self, conn: &Connection, text: &str) -> Result<i64, StoreError> {
        if let Some(id) = self.ids.get(text) {
            return Ok(*id);
        }
        if self.ids.len() >= Self::CACHE_MAX && self.pending.is_empty() {
            self.ids.clear();
        }
        let found: Option<i64> = conn
            .prepare_cached("SELECT id FROM strings WHERE text = ?1")?
            .query_row([text], |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => {
                conn.prepare_cached("INSERT INTO strings (text) VALUES (?1)")?.execute([text])?;
                self.pending.push(text.to_string());
                conn.last_insert_rowid()
            }
        };
        self.ids.insert(text.to_string(), id);
        Ok(id)
    }

    /// The id of the JSON of `c`'s memberships (the `cgroup` column),
    /// inserting it when new.
    fn intern_cgroup(&mut self, conn: &Connection, c: &Arc<ProcCgroup>) -> Result<i64, StoreError> {
        let key = Arc::as_ptr(c) as usize;
        if let Some(e) = self.cgroups_next.get(&key) {
            return Ok(e.1);
        }
        let id = match self.cgroups.remove(&key) {
            Some((_, id)) => id,
            None => {
                let json = serde_json::to_string(&c.memberships)
                    .map_err(|e| StoreError::corrupt("cgroup column", e.to_string()))?;
                self.intern(conn, &json)?
            }
        };
        // As many as the string cache holds (a snapshot of that many
        // processes writes the rest through the string cache).
        if self.cgroups_next.len() < Self::CACHE_MAX {
            self.cgroups_next.insert(key, (Arc::clone(c), id));
        }
        Ok(id)
    }

    /// The text of id `id`.
    fn text(&mut self, conn: &Connection, id: i64) -> Result<String, StoreError> {
        if let Some(t) = self.texts.get(&id) {
            return Ok(t.clone());
        }
        if self.texts.len() >= Self::CACHE_MAX {
            self.texts.clear();
        }
        let t: String = conn
            .prepare_cached("SELECT text FROM strings WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::corrupt("strings", format!("no string with id {id}")))?;
        self.texts.insert(id, t.clone());
        Ok(t)
    }

    fn commit(&mut self) {
        self.pending.clear();
        self.cgroups = std::mem::take(&mut self.cgroups_next);
    }

    fn rollback(&mut self) {
        for t in self.pending.drain(..) {
            self.ids.remove(&t);
        }
        // Ids of either map may be of strings the rollback took back.
        self.cgroups.clear();
        self.cgroups_next.clear();
    }

    fn clear(&mut self) {
        self.ids.clear();
        self.texts.clear();
        self.pending.clear();
        self.cgroups.clear();
        self.cgroups_next.clear();
    }
}

/// One snapshot in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Id (increasing with time of writing).
    pub id: i64,
    /// When it was taken.
    pub taken_at_unix_ms: u64,
    /// Host name, when recorded.
    pub host: Option<String>,
    /// Kernel release, when read.
    pub kernel: Option<String>,
    /// CPU time the collection took, microseconds.
    pub collect_cpu_usec: Option<u64>,
    /// Wall time the collection took, microseconds.
    pub collect_wall_usec: Option<u64>,
}

/// Retention: what [`Store::prune`] keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Delete snapshots older than this.
    pub keep: Option<Duration>,
    /// Delete the oldest snapshots until the database holds at most this many
    /// bytes.
    pub max_bytes: Option<u64>,
}

/// What [`Store::prune`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Snapshots deleted.
    pub snapshots: usize,
    /// Database bytes before and after.
    pub bytes_before: u64,
    /// After pruning and giving free pages back to the file system.
    pub bytes_after: u64,
}

/// A snapshot database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: String,
    strings: Strings,
    /// The schema version of the database, which the rows follow (an older
    /// database opened read-only, or at a version for a test, has fewer
    /// tables and columns).
    schema: u32,
    /// The size limit the WAL settings were made for ([`Store::prune`]).
    wal_limit_for: Option<u64>,
    /// The documents of the last snapshot written, which the next one
    /// refers to for the processes that did not change.
    last_docs: rows::LastDocs,
    /// Arrays of documents read lately.
    doc_cache: rows::DocCache,
}

impl Store {
    /// Open (creating it if needed) the database at `path` and bring its
    /// schema up to date. The parent directory must exist.
    ///
    /// The database holds every process's command line, and memscope often
    /// runs as root: the database and its `-wal` and `-shm` files are
    /// created 0600 here, before SQLite opens them (SQLite gives the WAL and
    /// the shared-memory file the database's mode), never through a link;
    /// an existing link at any of the three paths is refused, as is a
    /// directory every user may write without the sticky bit (where another
    /// user could swap a file for a link between the check and the use).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        prepare_files(path)?;
        let conn = Connection::open_with_flags(path, OpenFlags::default() | OpenFlags::SQLITE_OPEN_NOFOLLOW)?;
        Store::setup(conn, path.display().to_string(), SCHEMA_VERSION)
    }

    /// Open an existing database for reading only (no migration: its schema
    /// must be the current one or an older one this build can read: those
    /// from before documents are read by the old layout's reader).
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let mut store = Store {
            conn,
            path: path.display().to_string(),
            strings: Strings::default(),
            schema: 0,
            wal_limit_for: None,
            last_docs: rows::LastDocs::default(),
            doc_cache: rows::DocCache::default(),
        };
        let v = store.schema_version()?;
        if v > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema { path: store.path, found: v, known: SCHEMA_VERSION });
        }
        store.schema = v;
        Ok(store)
    }

    /// A database in memory (for `leaks --watch` and tests).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::setup(Connection::open_in_memory()?, ":memory:".into(), SCHEMA_VERSION)
    }

    /// Open `path` with its schema brought only up to `version` (tests of
    /// migrations): snapshots are read as a memscope of that version did;
    /// below [`schema::DOCUMENTS_SINCE`] they cannot be written
    /// ([`StoreError::OldLayout`]), and retention needs the current version.
    #[doc(hidden)]
    pub fn open_at_version(path: &Path, version: u32) -> Result<Store, StoreError> {
        prepare_files(path)?;
        let conn = Connection::open_with_flags(path, OpenFlags::default() | OpenFlags::SQLITE_OPEN_NOFOLLOW)?;
        Store::setup(conn, path.display().to_string(), version)
    }

    fn setup(conn: Connection, path: String, target: u32) -> Result<Store, StoreError> {
        conn.busy_timeout(Duration::from_secs(10))?;
        let mut store = Store {
            conn,
            path,
            strings: Strings::default(),
            schema: 0,
            wal_limit_for: None,
            last_docs: rows::LastDocs::default(),
            doc_cache: rows::DocCache::default(),
        };
        let fresh: i64 = store.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        if fresh == 0 {
            // Only possible before the first table: lets prune() give freed
            // pages back to the file system.
            store.conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")?;
        }
        // WAL: readers do not block the writer and a killed writer leaves the
        // database consistent; NORMAL syncs at checkpoints only.
        store
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(|e| store.full(e, "opening"))?;
        store.conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        store.migrate(target)?;
        store.schema = store.schema_version()?;
        Ok(store)
    }

    fn full(&self, e: rusqlite::Error, op: &str) -> StoreError {
        if is_full(&e) { StoreError::DiskFull { path: self.path.clone(), op: op.into() } } else { e.into() }
    }

    fn full_err(&self, e: StoreError, op: &str) -> StoreError {
        match e {
            StoreError::Sqlite(e) => self.full(e, op),
            other => other,
        }
    }

    /// The schema version of the database (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn migrate(&mut self, target: u32) -> Result<(), StoreError> {
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema { path: self.path.clone(), found, known: SCHEMA_VERSION });
        }
        for v in found..target {
            let path = self.path.clone();
            let op = format!("migrating to version {}", v + 1);
            let tx = self.conn.transaction()?;
            let strings = &mut self.strings;
            let step = (|| -> Result<(), StoreError> {
                tx.execute_batch(schema::MIGRATIONS[v as usize])?;
                if v + 1 == schema::DOCUMENTS_SINCE {
                    to_documents(&tx, strings, v)?;
                    tx.execute_batch(schema::V7_FINISH)?;
                }
                tx.pragma_update(None, "user_version", v + 1)?;
                Ok(())
            })();
            // The strings table changed (or rolled back): forget its ids.
            self.strings.clear();
            step.map_err(|e| full_at(&path, e, &op))?;
            tx.commit().map_err(|e| full_at(&path, e.into(), &op))?;
            if v + 1 == schema::DOCUMENTS_SINCE {
                // The old tables' pages are free now: give them back to the
                // file system (with auto_vacuum=INCREMENTAL, as `open` makes
                // databases).
                self.vacuum_all().map_err(|e| self.full(e, "vacuuming"))?;
            }
        }
        Ok(())
    }

    /// `PRAGMA incremental_vacuum` to the end: SQLite frees a page per step,
    /// and `execute_batch` steps once.
    fn vacuum_all(&self) -> Result<(), rusqlite::Error> {
        let mut st = self.conn.prepare("PRAGMA incremental_vacuum")?;
        let mut rows = st.query([])?;
        while rows.next()?.is_some() {}
        Ok(())
    }

    /// The database file's path (`:memory:` for one in memory).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Write one snapshot in one transaction; its id.
    pub fn write(&mut self, snap: &Snapshot, meta: &Meta) -> Result<i64, StoreError> {
        self.write_processes(snap, rows::processes_into_stored(snap.processes.clone()), meta)
    }

    /// [`Store::write`] of a snapshot the caller is done with: its processes
    /// are cut down to what is stored in place instead of copied (what a
    /// recording writes every snapshot). The snapshot keeps its system
    /// files; its processes are gone.
    pub fn write_owned(&mut self, snap: &mut Snapshot, meta: &Meta) -> Result<i64, StoreError> {
        let processes = rows::processes_into_stored(std::mem::take(&mut snap.processes));
        self.write_processes(snap, processes, meta)
    }

    fn write_processes(
        &mut self,
        snap: &Snapshot,
        mut processes: Vec<memscope_model::ProcessSample>,
        meta: &Meta,
    ) -> Result<i64, StoreError> {
        let shared = self.schema >= schema::SHARED_DOCS_SINCE;
        // Ages are columns since version 8, not part of the documents.
        let ages: Vec<Option<u64>> =
            if shared { processes.iter_mut().map(|p| p.pss_age_ms.take()).collect() } else { Vec::new() };
        let result = (|| {
            let tx = self.conn.transaction()?;
            if self.schema < schema::DOCUMENTS_SINCE {
                return Err(StoreError::OldLayout { path: self.path.clone(), version: self.schema });
            }
            // Refer only to documents of a snapshot still there (another
            // writer could have deleted it).
            if let Some(last) = self.last_docs.snapshot {
                let there = tx
                    .prepare_cached("SELECT 1 FROM snapshots WHERE id = ?1")?
                    .query_row([last], |_| Ok(()))
                    .optional()?
                    .is_some();
                if !there {
                    self.last_docs = rows::LastDocs::default();
                }
            }
            let layout = if shared {
                rows::Layout::Shared { last: &self.last_docs, ages: &ages }
            } else {
                rows::Layout::OwnArray
            };
            let written =
                rows::write(&tx, &mut self.strings, rows::Tables::CURRENT, snap, &processes, meta, layout)?;
            tx.commit()?;
            Ok(written)
        })();
        match result {
            Ok((id, written)) => {
                self.strings.commit();
                if shared {
                    self.last_docs = rows::LastDocs::of(id, processes, written);
                }
                Ok(id)
            }
            Err(e) => {
                self.strings.rollback();
                Err(self.full_err(e, "writing a snapshot"))
            }
        }
    }

    /// Read snapshot `id` back (see [`as_stored`] for what it holds).
    pub fn read(&mut self, id: i64) -> Result<Snapshot, StoreError> {
        self.read_parts(id, Parts::All)
    }

    /// Read snapshot `id`, all of it or only its system files.
    pub fn read_parts(&mut self, id: i64, parts: Parts) -> Result<Snapshot, StoreError> {
        // One read transaction: a consistent view while a writer commits.
        let tx = self.conn.unchecked_transaction()?;
        let snap = if self.schema < schema::DOCUMENTS_SINCE {
            legacy::read(&tx, &mut self.strings, self.schema, id, parts)?
        } else {
            rows::read(&tx, id, parts, self.schema, &mut self.doc_cache)?
        };
        tx.finish()?;
        Ok(snap)
    }

    /// Every snapshot, oldest first.
    pub fn list(&self) -> Result<Vec<SnapshotInfo>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, taken_at_unix_ms, host, kernel, collect_cpu_usec, collect_wall_usec FROM snapshots \
             ORDER BY taken_at_unix_ms, id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(SnapshotInfo {
                id: r.get(0)?,
                taken_at_unix_ms: r.get::<_, i64>(1)? as u64,
                host: r.get(2)?,
                kernel: r.get(3)?,
                collect_cpu_usec: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
                collect_wall_usec: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Number of processes stored with snapshot `id`.
    pub fn process_count(&self, id: i64) -> Result<u64, StoreError> {
        let n: i64 =
            self.conn
                .query_row("SELECT count(*) FROM processes WHERE snapshot_id = ?1", [id], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Bytes the recording takes: the database's used pages × page size
    /// (free pages not counted) plus the WAL file, which holds the pages
    /// written since the last checkpoint.
    pub fn used_bytes(&self) -> Result<u64, StoreError> {
        Ok(self.db_used_bytes()? + self.wal_bytes())
    }

    /// The size of the WAL file (0 when there is none, or in memory).
    pub fn wal_bytes(&self) -> u64 {
        if self.path == ":memory:" {
            return 0;
        }
        std::fs::symlink_metadata(format!("{}-wal", self.path)).map(|m| m.len()).unwrap_or(0)
    }

    /// Used pages × page size of the database file alone.
    fn db_used_bytes(&self) -> Result<u64, StoreError> {
        let (pages, free, size): (i64, i64, i64) = self.conn.query_row(
            "SELECT (SELECT page_count FROM pragma_page_count), (SELECT freelist_count FROM pragma_freelist_count), \
             (SELECT page_size FROM pragma_page_size)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(((pages - free).max(0) * size) as u64)
    }

    /// Bytes used per table and index (from SQLite's `dbstat`), largest first.
    pub fn table_bytes(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut st =
            self.conn.prepare("SELECT name, sum(pgsize) AS b FROM dbstat GROUP BY name ORDER BY b DESC")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `PRAGMA integrity_check`: `["ok"]` for a sound database.
    pub fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare("PRAGMA integrity_check")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Apply the retention: delete snapshots older than `keep` (relative to
    /// `now_unix_ms`), then the oldest until the database and its WAL fit in
    /// `max_bytes`, then give the freed pages back to the file system.
    ///
    /// With `max_bytes`, the database is kept to three quarters of it and
    /// the rest is left to the WAL: every transaction (a snapshot, a round
    /// of deletions) goes to the WAL whole before a checkpoint can move it
    /// into the database, so the WAL is checkpointed and truncated here
    /// after each one, and SQLite checkpoints on its own once it holds a
    /// quarter of `max_bytes` (`wal_autocheckpoint`, `journal_size_limit`).
    /// The files stay within `max_bytes` as long as one snapshot takes less
    /// than a quarter of it.
    pub fn prune(&mut self, r: &Retention, now_unix_ms: u64) -> Result<Pruned, StoreError> {
        if let Some(max) = r.max_bytes {
            self.limit_wal(max)?;
        }
        let before = self.used_bytes()?;
        let mut deleted = 0;
        if let Some(keep) = r.keep {
            let cutoff = now_unix_ms.saturating_sub(keep.as_millis() as u64) as i64;
            let ids: Vec<i64> = {
                let mut st = self.conn.prepare("SELECT id FROM snapshots WHERE taken_at_unix_ms < ?1")?;
                st.query_map([cutoff], |r| r.get(0))?.collect::<Result<_, _>>()?
            };
            deleted += self.delete(&ids).map_err(|e| self.full_err(e, "pruning"))?;
        }
        if let Some(max) = r.max_bytes {
            let room = max - max / 4;
            // Delete the oldest tenth at a time (at least one) until it fits.
            loop {
                if self.db_used_bytes()? <= room {
                    break;
                }
                let n: i64 = self.conn.query_row("SELECT count(*) FROM snapshots", [], |r| r.get(0))?;
                if n == 0 {
                    break;
                }
                let ids: Vec<i64> = {
                    let mut st = self
                        .conn
                        .prepare("SELECT id FROM snapshots ORDER BY taken_at_unix_ms, id LIMIT ?1")?;
                    st.query_map([(n / 10).max(1)], |r| r.get(0))?.collect::<Result<_, _>>()?
                };
                deleted += self.delete(&ids).map_err(|e| self.full_err(e, "pruning"))?;
                // The deletions went to the WAL: give the freed pages back
                // and move it all into the database before measuring again.
                self.conn
                    .execute_batch("PRAGMA incremental_vacuum")
                    .map_err(|e| self.full(e, "vacuuming"))?;
                self.checkpoint()?;
            }
        }
        if deleted > 0 {
            self.conn.execute_batch("PRAGMA incremental_vacuum").map_err(|e| self.full(e, "vacuuming"))?;
        }
        Ok(Pruned { snapshots: deleted, bytes_before: before, bytes_after: self.used_bytes()? })
    }

    /// Keep the WAL within a quarter of `max_bytes`, and empty it now (see
    /// [`Store::prune`]).
    fn limit_wal(&mut self, max_bytes: u64) -> Result<(), StoreError> {
        let share = max_bytes / 4;
        if self.wal_limit_for != Some(max_bytes) {
            let page: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let pages = (share / page.max(1) as u64).max(1);
            self.conn.query_row(&format!("PRAGMA journal_size_limit = {share}"), [], |_| Ok(()))?;
            self.conn.query_row(&format!("PRAGMA wal_autocheckpoint = {pages}"), [], |_| Ok(()))?;
            self.wal_limit_for = Some(max_bytes);
        }
        if self.wal_bytes() > 0 {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Delete snapshots and every row that belongs to them, and strings no
    /// row uses any more, in one transaction.
    fn delete(&mut self, ids: &[i64]) -> Result<usize, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY); DELETE FROM doomed;",
        )?;
        {
            let mut ins = tx.prepare("INSERT INTO doomed (id) VALUES (?1)")?;
            for id in ids {
                ins.execute([id])?;
            }
        }
        // The arrays of documents no row left refers to: those of the doomed
        // snapshots and those their rows referred to, unless their own
        // snapshot stays or a row of a snapshot that stays refers to them.
        tx.execute(
            if self.schema >= schema::SHARED_DOCS_SINCE {
                "DELETE FROM process_docs WHERE snapshot_id IN (
                     SELECT id FROM doomed
                     UNION SELECT doc_snapshot_id FROM processes
                           WHERE snapshot_id IN (SELECT id FROM doomed) AND doc_snapshot_id IS NOT NULL)
                 AND snapshot_id NOT IN (SELECT id FROM snapshots WHERE id NOT IN (SELECT id FROM doomed))
                 AND NOT EXISTS (SELECT 1 FROM processes q WHERE q.doc_snapshot_id = process_docs.snapshot_id
                                 AND q.snapshot_id NOT IN (SELECT id FROM doomed))"
            } else {
                "DELETE FROM process_docs WHERE snapshot_id IN (SELECT id FROM doomed)"
            },
            [],
        )?;
        for t in rows::SNAPSHOT_TABLES {
            tx.execute(&format!("DELETE FROM {t} WHERE snapshot_id IN (SELECT id FROM doomed)"), [])?;
        }
        events::delete_doomed(&tx, self.schema)?;
        let n = tx.execute("DELETE FROM snapshots WHERE id IN (SELECT id FROM doomed)", [])?;
        let used: Vec<String> = rows::STRING_REFERENCES
            .iter()
            .map(|(t, c)| format!("SELECT {c} FROM {t} WHERE {c} IS NOT NULL"))
            .collect();
        tx.execute(&format!("DELETE FROM strings WHERE id NOT IN ({})", used.join(" UNION ")), [])?;
        tx.execute_batch("DELETE FROM doomed")?;
        tx.commit()?;
        self.strings.clear();
        self.doc_cache.clear();
        if self.last_docs.snapshot.is_some_and(|last| ids.contains(&last)) {
            self.last_docs = rows::LastDocs::default();
        }
        Ok(n)
    }

    /// Run a checkpoint that moves the WAL into the database file.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|e| self.full(e, "checkpointing"))
    }

    /// Limit the database to `pages` pages (`PRAGMA max_page_count`): writes
    /// beyond fail as a full disk would. For tests of the disk-full path.
    #[doc(hidden)]
    pub fn set_max_page_count(&self, pages: u64) -> Result<(), StoreError> {
        self.conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
        Ok(())
    }

    /// The connection, for queries the API does not cover (read them only).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The id of the snapshot taken at or just before `unix_ms` (the first
    /// one when all are later).
    pub fn at_time(&self, unix_ms: u64) -> Result<Option<i64>, StoreError> {
        let before: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM snapshots WHERE taken_at_unix_ms <= ?1 ORDER BY taken_at_unix_ms DESC, id DESC LIMIT 1",
                params![unix_ms as i64],
                |r| r.get(0),
            )
            .optional()?;
        match before {
            Some(id) => Ok(Some(id)),
            None => Ok(self
                .conn
                .query_row("SELECT id FROM snapshots ORDER BY taken_at_unix_ms, id LIMIT 1", [], |r| r.get(0))
                .optional()?),
        }
    }
}

/// Create `path`, `path-wal` and `path-shm` 0600 if missing (`O_CREAT |
/// O_EXCL | O_NOFOLLOW`: never through a link), or check that each one
/// present is a regular file and not a link (making those of this user
/// 0600); refuse a directory any user can write without the sticky bit.
/// SQLite then opens what is here: an empty WAL and an empty shared-memory
/// file are what it makes itself (as root, it gives both to the database's
/// owner, as it does those it creates).
fn prepare_files(path: &Path) -> Result<(), StoreError> {
    use rustix::fs::{Mode, OFlags};
    let io =
        |p: &Path, e: rustix::io::Errno| StoreError::Io { path: p.display().to_string(), source: e.into() };
    let refuse =
        |p: &Path, reason: &str| StoreError::Unsafe { path: p.display().to_string(), reason: reason.into() };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let st = rustix::fs::stat(dir).map_err(|e| io(dir, e))?;
    if st.st_mode & 0o002 != 0 && st.st_mode & 0o1000 == 0 {
        return Err(refuse(
            dir,
            "every user can write this directory and it has no sticky bit: another user could put a link \
             in place of the database; choose another directory",
        ));
    }
    let me = rustix::process::geteuid().as_raw();
    let mut names = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        names.push(PathBuf::from(p));
    }
    // Checked all three first, so that a refusal creates nothing.
    for p in &names {
        if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(refuse(p, "is a symbolic link: refused (give the path of the file itself)"));
        }
    }
    for p in &names {
        let base = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match rustix::fs::open(p, base | OFlags::CREATE | OFlags::EXCL, Mode::from_raw_mode(0o600)) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::EXIST) => {
                match rustix::fs::open(p, base | OFlags::NONBLOCK, Mode::empty()) {
                    Ok(fd) => fd,
                    Err(rustix::io::Errno::LOOP) => {
                        return Err(refuse(
                            p,
                            "is a symbolic link: refused (give the path of the file itself)",
                        ));
                    }
                    Err(e) => return Err(io(p, e)),
                }
            }
            Err(e) => return Err(io(p, e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| io(p, e))?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
            return Err(refuse(p, "is not a regular file: refused"));
        }
        // Command lines of every process end up here: keep them to the
        // owner (umask or not).
        if st.st_uid == me && st.st_mode & 0o7777 != 0o600 {
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o600)).map_err(|e| io(p, e))?;
        }
    }
    Ok(())
}

/// Where `memscope record` writes by default: /var/lib/memscope/memscope.db
/// for root, else `$XDG_STATE_HOME/memscope/memscope.db` (or
/// `~/.local/state/memscope/memscope.db`), per the XDG base directory spec.
pub fn default_path(is_root: bool) -> Option<PathBuf> {
    if is_root {
        return Some(PathBuf::from("/var/lib/memscope/memscope.db"));
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(state.join("memscope").join("memscope.db"))
}
