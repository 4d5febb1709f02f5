//! A snapshot as the store keeps it: whole, as serialized documents, beside
//! the few columns queries need; and [`as_stored`], exactly what of a
//! snapshot the store keeps.
//!
//! Each snapshot is
//! - one `snapshots` row: when it was taken, host, kernel, the collection's
//!   cost, and `system`: the snapshot without its processes;
//! - one `process_docs` row: `doc`, the documents of its processes that
//!   changed since the snapshot written before it (a JSON array, by pid;
//!   since schema version 8, and none when nothing changed: before, all of
//!   its processes);
//! - one `processes` row per process, with only what queries filter and
//!   sort on (pid, start time, command, cgroup, user, RSS, PSS, USS, swap,
//!   descriptors against `RLIMIT_NOFILE`, the age of a rollup carried
//!   forward), and the snapshot whose array holds its document when that is
//!   an earlier one.
//!
//! Documents are the model's own serde JSON, zlib-compressed ([`encode`]),
//! their length uncompressed beside them (the `sqlite3` shell reads them
//! with `sqlar_uncompress` and `json_extract`, docs/store.md). A field added
//! to the model is kept without any change here; it must read back from
//! older documents, which lack it (`#[serde(default)]`).
//!
//! What the store does not keep (see [`as_stored`], docs/store.md):
//! - `/proc/vmallocinfo` is summed per caller and flags: one area per group,
//!   no addresses (`phys`);
//! - `/proc/PID/status` keeps the memory fields ([`STATUS_BYTES`]) and a few
//!   identity fields ([`STATUS_TEXT`], [`STATUS_NUMBERS`]);
//! - `/proc/PID/smaps_rollup` keeps the fields of [`ROLLUP_FIELDS`];
//! - zoneinfo per-CPU lists keep the fields of [`PAGESET_FIELDS`];
//! - an `RLIMIT_NOFILE` of 2^64 − 1 is `unlimited` (`RLIM_INFINITY`: the
//!   kernel prints no such number).
//!
//! Unsigned values in columns are SQLite's signed 64-bit integers, bit for
//! bit: a value of 2^63 or more reads as negative in SQL.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use memscope_kernel::parse::pid::limits::Limit as RLimit;
use memscope_kernel::parse::vmallocinfo::{VmallocArea, Vmallocinfo};
use memscope_model::{ProcessFds, ProcessSample, Rollup, Snapshot};
use rusqlite::{OptionalExtension, Transaction, params};

use crate::{StoreError, Strings};

/// `/proc/PID/status` fields in bytes that the store keeps (kernel names).
pub const STATUS_BYTES: &[&str] = &[
    "VmPeak",
    "VmSize",
    "VmLck",
    "VmPin",
    "VmHWM",
    "VmRSS",
    "RssAnon",
    "RssFile",
    "RssShmem",
    "VmData",
    "VmStk",
    "VmExe",
    "VmLib",
    "VmPTE",
    "VmSwap",
    "HugetlbPages",
];

/// `/proc/PID/status` text fields that the store keeps, as text.
pub const STATUS_TEXT: &[&str] = &["Name", "State", "Uid", "Gid"];

/// `/proc/PID/status` fields that the store keeps as integers (when the
/// text is a plain decimal number, as the kernel prints them).
pub const STATUS_NUMBERS: &[&str] = &["Tgid", "PPid", "TracerPid", "FDSize", "Threads", "Kthread"];

/// `/proc/PID/smaps_rollup` fields that the store keeps (kernel names; in
/// bytes).
pub const ROLLUP_FIELDS: &[&str] = &[
    "Rss",
    "Pss",
    "Pss_Dirty",
    "Pss_Anon",
    "Pss_File",
    "Pss_Shmem",
    "Shared_Clean",
    "Shared_Dirty",
    "Private_Clean",
    "Private_Dirty",
    "Referenced",
    "Anonymous",
    "KSM",
    "LazyFree",
    "AnonHugePages",
    "ShmemPmdMapped",
    "FilePmdMapped",
    "Shared_Hugetlb",
    "Private_Hugetlb",
    "Swap",
    "SwapPss",
    "Locked",
];

/// Per-CPU list fields of `/proc/zoneinfo` that the store keeps (pages).
pub const PAGESET_FIELDS: &[&str] = &["count", "high", "batch", "high_min", "high_max", "vm_stats_threshold"];

/// Tables with a `snapshot_id` column: every row of a snapshot lives in one
/// of these (deleting a snapshot deletes from each). A `process_docs` array
/// is not among them: it lives while any `processes` row refers to it
/// (`Store::delete`).
pub const SNAPSHOT_TABLES: &[&str] = &["processes"];

/// Columns that hold a `strings` id: what keeps an interned string alive.
pub const STRING_REFERENCES: &[(&str, &str)] =
    &[("processes", "comm"), ("processes", "cmdline"), ("processes", "cgroup"), ("processes", "uid")];

/// Documents larger than this uncompressed are refused as corrupt (a
/// snapshot of 100,000 processes takes about a tenth of it).
const DOC_MAX_BYTES: u64 = 1 << 30;

/// Facts about a snapshot that are not kernel samples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// Host name of the machine recorded.
    pub host: Option<String>,
    /// Wall time of the collection, microseconds.
    pub collect_wall_usec: Option<u64>,
    /// CPU time (user + system, all threads) of the collection, microseconds.
    pub collect_cpu_usec: Option<u64>,
}

/// What to read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parts {
    /// Everything.
    All,
    /// System files only (`processes` empty; the scan counts are kept).
    System,
}

/// `RLIMIT_NOFILE` as a column: `RLIM_INFINITY` (the kernel's all-ones
/// value, printed `unlimited`) bit for bit.
fn rlimit_column(l: RLimit) -> i64 {
    match l {
        RLimit::Value(v) => v as i64,
        RLimit::Unlimited => -1,
    }
}

pub(crate) fn rlimit_of(v: i64) -> RLimit {
    match v as u64 {
        u64::MAX => RLimit::Unlimited,
        v => RLimit::Value(v),
    }
}

/// A document: `value` as JSON, zlib-compressed (RFC 1950, what SQLite's
/// `sqlar_compress` writes), and its length uncompressed.
///
/// The JSON buffer and the compressor are kept from one document to the
/// next (per thread): a recording writes two documents per snapshot, and a
/// new compressor allocates and clears its tables (a few hundred KiB) every
/// time, as a new buffer grows through the same reallocations, page faults
/// on fresh memory included.
pub(crate) fn encode<T: serde::Serialize + ?Sized>(value: &T) -> Result<(Vec<u8>, i64), StoreError> {
    thread_local! {
        static ENCODER: std::cell::RefCell<Option<(Vec<u8>, flate2::Compress)>> =
            const { std::cell::RefCell::new(None) };
    }
    ENCODER.with(|cell| {
        let mut cell = cell.borrow_mut();
        let (json, z) = cell
            .get_or_insert_with(|| (Vec::new(), flate2::Compress::new(flate2::Compression::new(3), true)));
        json.clear();
        serde_json::to_writer(&mut *json, value)
            .map_err(|e| StoreError::corrupt("document", e.to_string()))?;
        z.reset();
        let mut doc = Vec::with_capacity(json.len() / 4 + 64);
        loop {
            let done = z.total_in() as usize;
            let status = z
                .compress_vec(&json[done..], &mut doc, flate2::FlushCompress::Finish)
                .map_err(|e| StoreError::Io { path: "document".into(), source: e.into() })?;
            if status == flate2::Status::StreamEnd {
                break;
            }
            // The output is full: give it room and go on (deflate never
            // makes its input more than a little larger).
            if doc.capacity() > 2 * json.len() + (1 << 20) {
                return Err(StoreError::corrupt("document", "the compressor does not finish".to_string()));
            }
            doc.reserve(doc.capacity().max(4096));
        }
        let len = json.len() as i64;
        // A snapshot far larger than the usual one leaves no buffer that
        // size behind.
        if json.capacity() > 64 << 20 {
            *json = Vec::new();
        }
        Ok((doc, len))
    })
}

/// The value of a document [`encode`] wrote; `len` is its length
/// uncompressed, which bounds the inflation.
fn decode<T: serde::de::DeserializeOwned>(doc: &[u8], len: i64, what: &str) -> Result<T, StoreError> {
    let len = u64::try_from(len)
        .ok()
        .filter(|l| *l <= DOC_MAX_BYTES)
        .ok_or_else(|| StoreError::corrupt(what, format!("uncompressed length {len} is out of range")))?;
    // The length is the database's word: reserve no more than a typical
    // document on its say-so.
    let mut json = Vec::with_capacity(len.min(1 << 24) as usize);
    flate2::read::ZlibDecoder::new(doc)
        .take(len + 1)
        .read_to_end(&mut json)
        .map_err(|e| StoreError::corrupt(what, format!("not a zlib stream: {e}")))?;
    if json.len() as u64 != len {
        return Err(StoreError::corrupt(what, format!("{} bytes uncompressed, not {len}", json.len())));
    }
    serde_json::from_slice(&json).map_err(|e| StoreError::corrupt(what, e.to_string()))
}

/// Where [`write`] puts a snapshot: the tables' names (the migration to
/// documents writes beside the old tables, then renames).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tables {
    pub snapshots: &'static str,
    pub processes: &'static str,
    /// The id the snapshot is given (`None`: the next one).
    pub id: Option<i64>,
}

impl Tables {
    pub(crate) const CURRENT: Tables = Tables { snapshots: "snapshots", processes: "processes", id: None };
}

// ---------------------------------------------------------------- writing

/// How a snapshot's processes are written.
pub(crate) enum Layout<'a> {
    /// Schema version 7: every process in the snapshot's own `process_docs`
    /// array, its rollup's age inside its document.
    OwnArray,
    /// Since version 8: only the processes that differ from their document
    /// in `last` (the snapshot written before) go into this snapshot's
    /// array; the others' rows name the snapshot that holds theirs. Ages
    /// are columns; the processes given carry none.
    Shared { last: &'a LastDocs, ages: &'a [Option<u64>] },
}

/// The documents of the last snapshot a store wrote, by pid: what the next
/// snapshot refers to instead of writing them again.
#[derive(Debug, Default)]
pub(crate) struct LastDocs {
    /// The snapshot they were written with (`None`: nothing to refer to).
    pub snapshot: Option<i64>,
    /// Its processes, by pid.
    by_pid: HashMap<u32, Kept>,
}

/// One process of [`LastDocs`].
#[derive(Debug)]
pub(crate) struct Kept {
    /// As stored, without its age.
    sample: ProcessSample,
    /// The snapshot whose array holds its document.
    source: i64,
    /// Its row's `strings` ids, which a process with the same document has
    /// too.
    texts: TextIds,
}

/// A `processes` row's `strings` ids: `comm`, `cmdline`, `cgroup`, `uid`.
pub(crate) type TextIds = [Option<i64>; 4];

/// What [`write`] did with one process: the earlier snapshot whose array
/// holds its document (`None`: this snapshot's), and its row's string ids.
pub(crate) type WrittenProcess = (Option<i64>, TextIds);

impl LastDocs {
    /// The documents of snapshot `id`, whose processes (as stored, ages
    /// taken out) were written as `written` says ([`write`]'s).
    pub(crate) fn of(id: i64, processes: Vec<ProcessSample>, written: Vec<WrittenProcess>) -> LastDocs {
        let by_pid = processes
            .into_iter()
            .zip(written)
            .map(|(p, (s, texts))| (p.pid, Kept { sample: p, source: s.unwrap_or(id), texts }))
            .collect();
        LastDocs { snapshot: Some(id), by_pid }
    }

    /// The process with a document equal to `p`'s, if any (ages are taken
    /// out of both: they are a column).
    fn same_as(&self, p: &ProcessSample) -> Option<&Kept> {
        self.by_pid.get(&p.pid).filter(|k| k.sample == *p)
    }
}

/// Insert `snap`'s system files (as [`as_stored`] keeps them) and
/// `processes` (as [`processes_as_stored`] gives them) inside `tx`, into
/// `tables`, as `layout` says; returns its id and what became of each
/// process ([`WrittenProcess`]).
pub(crate) fn write(
    tx: &Transaction,
    strings: &mut Strings,
    tables: Tables,
    snap: &Snapshot,
    processes: &[ProcessSample],
    meta: &Meta,
    layout: Layout,
) -> Result<(i64, Vec<WrittenProcess>), StoreError> {
    let stored = system_as_stored(snap);
    let (system, system_len) = encode(&stored)?;
    tx.prepare_cached(&format!(
        "INSERT INTO {} (id, taken_at_unix_ms, host, kernel, collect_wall_usec, collect_cpu_usec, system, \
         system_bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        tables.snapshots
    ))?
    .execute(params![
        tables.id,
        stored.taken_at_unix_ms as i64,
        meta.host,
        stored.kernel.as_ref().ok(),
        meta.collect_wall_usec.map(|v| v as i64),
        meta.collect_cpu_usec.map(|v| v as i64),
        system,
        system_len,
    ])?;
    let id = tx.last_insert_rowid();
    let (same, ages): (Vec<Option<&Kept>>, &[Option<u64>]) = match layout {
        Layout::OwnArray => (vec![None; processes.len()], &[]),
        Layout::Shared { last, ages } => (processes.iter().map(|p| last.same_as(p)).collect(), ages),
    };
    let own: Vec<&ProcessSample> =
        processes.iter().zip(&same).filter(|(_, s)| s.is_none()).map(|(p, _)| p).collect();
    // A snapshot whose processes are all unchanged (or that has none, under
    // version 8) has no array of its own.
    if !own.is_empty() || matches!(layout, Layout::OwnArray) {
        let (doc, doc_len) = encode(&own)?;
        tx.prepare_cached("INSERT INTO process_docs (snapshot_id, doc, doc_bytes) VALUES (?1, ?2, ?3)")?
            .execute(params![id, doc, doc_len])?;
    }
    let shared = matches!(layout, Layout::Shared { .. });
    let mut st = tx.prepare_cached(&if shared {
        format!(
            "INSERT INTO {} (snapshot_id, pid, starttime_ticks, comm, cmdline, cgroup, uid, rss, pss, uss, swap, \
             fd_count, nofile_soft, doc_snapshot_id, pss_age_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, \
             ?10, ?11, ?12, ?13, ?14, ?15)",
            tables.processes
        )
    } else {
        format!(
            "INSERT INTO {} (snapshot_id, pid, starttime_ticks, comm, cmdline, cgroup, uid, rss, pss, uss, swap, \
             fd_count, nofile_soft) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            tables.processes
        )
    })?;
    let mut written = Vec::with_capacity(processes.len());
    for (i, p) in processes.iter().enumerate() {
        let c = Columns::of(p);
        // A process whose document did not change has the texts it had.
        let texts = match same[i] {
            Some(k) => k.texts,
            None => {
                let (comm, cmdline, uid) = Columns::texts(p);
                let cgroup = p.cgroup.as_ref().ok().map(|c| strings.intern_cgroup(tx, c)).transpose()?;
                let mut intern = |t: Option<String>| t.map(|t| strings.intern(tx, &t)).transpose();
                [intern(comm)?, intern(cmdline)?, cgroup, intern(uid)?]
            }
        };
        let [comm, cmdline, cgroup, uid] = texts;
        let source = same[i].map(|k| k.source);
        written.push((source, texts));
        let common = params![
            id,
            p.pid,
            c.starttime_ticks,
            comm,
            cmdline,
            cgroup,
            uid,
            c.rss,
            c.pss,
            c.uss,
            c.swap,
            c.fd_count,
            c.nofile_soft,
        ];
        if shared {
            let age = ages.get(i).copied().flatten().map(|a| a as i64);
            let mut all: Vec<&dyn rusqlite::ToSql> = common.to_vec();
            all.push(&source);
            all.push(&age);
            st.execute(all.as_slice())?;
        } else {
            st.execute(common)?;
        }
    }
    Ok((id, written))
}

/// A process's indexed columns (NULL: not read).
struct Columns {
    starttime_ticks: Option<i64>,
    rss: Option<i64>,
    pss: Option<i64>,
    uss: Option<i64>,
    swap: Option<i64>,
    fd_count: Option<i64>,
    nofile_soft: Option<i64>,
}

impl Columns {
    fn of(p: &ProcessSample) -> Columns {
        let i = |v: Option<u64>| v.map(|v| v as i64);
        let status = p.status.as_ref().ok();
        let status_bytes = |k: &str| i(status.and_then(|s| s.bytes.get(k).copied()));
        let rollup = match &p.rollup {
            Rollup::Read(r) => Some(&r.bytes),
            _ => None,
        };
        let rollup_bytes = |k: &str| rollup.and_then(|r| r.get(k).copied());
        let fds = p.fds.as_ref();
        Columns {
            starttime_ticks: i(p.stat.as_ref().ok().and_then(|s| s.starttime_ticks)),
            rss: status_bytes("VmRSS"),
            pss: i(rollup_bytes("Pss")),
            uss: i(rollup.map(|_| {
                rollup_bytes("Private_Clean")
                    .unwrap_or(0)
                    .saturating_add(rollup_bytes("Private_Dirty").unwrap_or(0))
            })),
            swap: status_bytes("VmSwap"),
            fd_count: i(fds.and_then(|f| f.count.as_ref().ok().copied())),
            nofile_soft: fds.and_then(|f| f.nofile.as_ref().ok()).map(|l| rlimit_column(l.soft)),
        }
    }

    /// A process's text columns, before they are interned: the command name
    /// (`stat`'s), the command line (a JSON array) and the status `Uid`
    /// line (real, effective, saved, file system).
    fn texts(p: &ProcessSample) -> (Option<String>, Option<String>, Option<String>) {
        (
            p.stat.as_ref().ok().map(|s| s.comm.clone()),
            p.cmdline.as_ref().ok().and_then(|c| serde_json::to_string(c).ok()),
            p.status.as_ref().ok().and_then(|s| s.text.get("Uid").cloned()),
        )
    }
}

// ---------------------------------------------------------------- reading

/// A decoded array: its key (snapshot, uncompressed and compressed length)
/// and its processes, by pid.
type CachedArray = ((i64, i64, i64), std::sync::Arc<Vec<ProcessSample>>);

/// Decoded `process_docs` arrays kept between reads: reading a recording
/// snapshot by snapshot (`leaks`, `plot`) finds the documents of processes
/// that did not change in the same few arrays again and again.
#[derive(Debug, Default)]
pub(crate) struct DocCache {
    /// The most recently used last.
    entries: Vec<CachedArray>,
}

impl DocCache {
    /// Arrays kept (each as large as the processes it holds).
    const MAX: usize = 8;

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// The processes of snapshot `source`'s array. An array is never
    /// changed once written, but a snapshot id can be used again once the
    /// newest snapshots are deleted: the lengths must match too.
    fn get(
        &mut self,
        conn: &rusqlite::Connection,
        source: i64,
        of: i64,
    ) -> Result<std::sync::Arc<Vec<ProcessSample>>, StoreError> {
        let (len, zlen): (i64, i64) = conn
            .prepare_cached("SELECT doc_bytes, length(doc) FROM process_docs WHERE snapshot_id = ?1")?
            .query_row([source], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .ok_or_else(|| {
                StoreError::corrupt(
                    "process_docs",
                    format!("no array {source} for snapshot {of}'s processes"),
                )
            })?;
        let key = (source, len, zlen);
        if let Some(i) = self.entries.iter().position(|(k, _)| *k == key) {
            let e = self.entries.remove(i);
            let v = e.1.clone();
            self.entries.push(e);
            return Ok(v);
        }
        let doc: Vec<u8> = conn
            .prepare_cached("SELECT doc FROM process_docs WHERE snapshot_id = ?1")?
            .query_row([source], |r| r.get(0))?;
        let mut processes: Vec<ProcessSample> =
            decode(&doc, len, &format!("process_docs.doc of snapshot {source}"))?;
        processes.sort_by_key(|p| p.pid);
        let v = std::sync::Arc::new(processes);
        if self.entries.len() >= Self::MAX {
            self.entries.remove(0);
        }
        self.entries.push((key, v.clone()));
        Ok(v)
    }
}

/// Read snapshot `id` back from a database of schema version `schema` (7 or
/// later).
pub(crate) fn read(
    conn: &rusqlite::Connection,
    id: i64,
    parts: Parts,
    schema: u32,
    cache: &mut DocCache,
) -> Result<Snapshot, StoreError> {
    let (system, system_len): (Vec<u8>, i64) = conn
        .prepare_cached("SELECT system, system_bytes FROM snapshots WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or(StoreError::NoSuchSnapshot { id })?;
    let mut snap: Snapshot = decode(&system, system_len, &format!("snapshots.system of snapshot {id}"))?;
    if parts == Parts::All {
        snap.processes = if schema < crate::schema::SHARED_DOCS_SINCE {
            let (doc, doc_len): (Vec<u8>, i64) = conn
                .prepare_cached("SELECT doc, doc_bytes FROM process_docs WHERE snapshot_id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .ok_or_else(|| StoreError::corrupt("process_docs", format!("no row for snapshot {id}")))?;
            decode(&doc, doc_len, &format!("process_docs.doc of snapshot {id}"))?
        } else {
            read_shared(conn, id, cache)?
        };
    }
    Ok(snap)
}

/// The processes of snapshot `id` under version 8: each row's document from
/// the array it names (its own snapshot's when NULL), its age from its row
/// (from the document, in snapshots written by version 7).
fn read_shared(
    conn: &rusqlite::Connection,
    id: i64,
    cache: &mut DocCache,
) -> Result<Vec<ProcessSample>, StoreError> {
    type Row = (u32, Option<i64>, Option<i64>);
    let rows: Vec<Row> = conn
        .prepare_cached(
            "SELECT pid, doc_snapshot_id, pss_age_ms FROM processes WHERE snapshot_id = ?1 ORDER BY pid",
        )?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(rows.len());
    let mut array: Option<(i64, std::sync::Arc<Vec<ProcessSample>>)> = None;
    for (pid, source, age) in rows {
        let source = source.unwrap_or(id);
        let docs = match &array {
            Some((s, docs)) if *s == source => docs.clone(),
            _ => {
                let docs = cache.get(conn, source, id)?;
                array = Some((source, docs.clone()));
                docs
            }
        };
        let mut p = docs.binary_search_by_key(&pid, |p| p.pid).map(|i| docs[i].clone()).map_err(|_| {
            StoreError::corrupt(
                "process_docs",
                format!("array {source} lacks process {pid} of snapshot {id}"),
            )
        })?;
        if let Some(age) = age {
            p.pss_age_ms = Some(age as u64);
        }
        out.push(p);
    }
    Ok(out)
}

// ---------------------------------------------------------------- what is kept

/// The integer a status field holds, when it is printed as a plain decimal
/// number (so that printing it again gives the same text).
fn canonical_number(t: &str) -> Option<i64> {
    let n: i64 = t.parse().ok()?;
    (n.to_string() == t).then_some(n)
}

/// vmallocinfo areas summed per (caller, flags, whether `pages=` was
/// printed): one area per group, with the number of areas it stands for.
struct GroupedVmalloc {
    areas: Vec<(VmallocArea, u64)>,
}

/// Areas are grouped by caller, flags, and whether `pages=` was printed
/// (borrowed from the areas: thousands of them are grouped every snapshot).
type VmallocKey<'a> = (Option<&'a str>, &'a [String], bool);
/// The summed area, how many areas it stands for, pages per node.
type VmallocGroup = (VmallocArea, u64, BTreeMap<u32, u64>);

fn group_vmalloc(v: &Vmallocinfo) -> GroupedVmalloc {
    let mut groups: BTreeMap<VmallocKey, VmallocGroup> = BTreeMap::new();
    for a in &v.areas {
        let key = (a.caller.as_deref(), a.flags.as_slice(), a.pages.is_some());
        let e = groups.entry(key).or_insert_with(|| {
            (
                VmallocArea {
                    size_bytes: 0,
                    caller: a.caller.clone(),
                    pages: a.pages.map(|_| 0),
                    phys: None,
                    flags: a.flags.clone(),
                    nodes: Vec::new(),
                },
                0,
                BTreeMap::new(),
            )
        });
        e.0.size_bytes = e.0.size_bytes.saturating_add(a.size_bytes);
        if let (Some(total), Some(p)) = (e.0.pages.as_mut(), a.pages) {
            *total = total.saturating_add(p);
        }
        e.1 += 1;
        for (n, p) in &a.nodes {
            let slot = e.2.entry(*n).or_default();
            *slot = slot.saturating_add(*p);
        }
    }
    GroupedVmalloc {
        areas: groups
            .into_values()
            .map(|(mut area, count, nodes)| {
                area.nodes = nodes.into_iter().collect();
                (area, count)
            })
            .collect(),
    }
}

/// The snapshot as the store keeps it: what reading back a written
/// snapshot gives, field for field (the list is at the top of this module).
pub fn as_stored(snap: &Snapshot) -> Snapshot {
    let mut out = system_as_stored(snap);
    out.processes = processes_as_stored(&snap.processes);
    out
}

/// [`as_stored`] without the processes: the system files as kept. Every
/// field is named, so that a field added to the snapshot is decided here.
fn system_as_stored(snap: &Snapshot) -> Snapshot {
    let Snapshot {
        version,
        taken_at_unix_ms,
        live,
        kernel,
        page_size_bytes,
        meminfo,
        vmstat,
        zoneinfo,
        buddyinfo,
        slabinfo,
        slab_reclaimable,
        vmallocinfo,
        slabinfo_age_ms,
        vmallocinfo_age_ms,
        iomem,
        firmware_memmap,
        hugepages,
        nodes,
        sockstat,
        sockstat6,
        arcstats,
        balloon_drivers,
        percpu_first_chunk_pages,
        possible_cpus,
        fd_system,
        cgroups,
        pressure,
        processes: _,
        scan,
    } = snap;
    let vmallocinfo = vmallocinfo.as_ref().map_err(Clone::clone).map(|v| {
        std::sync::Arc::new(Vmallocinfo {
            areas: group_vmalloc(v).areas.into_iter().map(|(a, _)| a).collect(),
            malformed: v.malformed.clone(),
        })
    });
    let mut zoneinfo = zoneinfo.clone();
    if let Ok(z) = &mut zoneinfo {
        for zone in &mut z.zones {
            for p in &mut zone.pagesets {
                p.fields.retain(|k, _| PAGESET_FIELDS.contains(&k.as_str()));
            }
        }
    }
    let slab_reclaimable = match slabinfo {
        Ok(sl) => {
            let names: std::collections::BTreeSet<&str> = sl.caches.iter().map(|c| c.name.as_str()).collect();
            slab_reclaimable
                .iter()
                .filter(|(k, _)| names.contains(k.as_str()))
                .map(|(k, v)| (k.clone(), *v))
                .collect()
        }
        Err(_) => BTreeMap::new(),
    };
    Snapshot {
        version: *version,
        taken_at_unix_ms: *taken_at_unix_ms,
        live: *live,
        kernel: kernel.clone(),
        page_size_bytes: *page_size_bytes,
        meminfo: meminfo.clone(),
        vmstat: vmstat.clone(),
        zoneinfo,
        buddyinfo: buddyinfo.clone(),
        slabinfo: slabinfo.clone(),
        slab_reclaimable,
        vmallocinfo,
        slabinfo_age_ms: *slabinfo_age_ms,
        vmallocinfo_age_ms: *vmallocinfo_age_ms,
        iomem: iomem.clone(),
        firmware_memmap: firmware_memmap.clone(),
        hugepages: hugepages.clone(),
        nodes: nodes.clone(),
        sockstat: sockstat.clone(),
        sockstat6: sockstat6.clone(),
        arcstats: arcstats.clone(),
        balloon_drivers: balloon_drivers.clone(),
        percpu_first_chunk_pages: percpu_first_chunk_pages.clone(),
        possible_cpus: possible_cpus.clone(),
        fd_system: fd_system.clone(),
        cgroups: cgroups.clone(),
        pressure: pressure.clone(),
        processes: Vec::new(),
        scan: scan.clone(),
    }
}

/// The processes as kept, by pid, from a copy of them ([`processes_into_stored`]
/// cuts down processes the caller gives up, as the watching writers do).
fn processes_as_stored(processes: &[ProcessSample]) -> Vec<ProcessSample> {
    processes_into_stored(processes.to_vec())
}

/// [`processes_as_stored`] of processes the caller gives up: each is cut
/// down in place, without copying what it keeps (a recording writes
/// hundreds every snapshot).
pub(crate) fn processes_into_stored(processes: Vec<ProcessSample>) -> Vec<ProcessSample> {
    let mut out: Vec<ProcessSample> = processes.into_iter().map(process_into_stored).collect();
    out.sort_by_key(|p| p.pid);
    out
}

fn process_into_stored(p: ProcessSample) -> ProcessSample {
    // The exe link is read for display only (`ps`), never stored.
    let ProcessSample {
        pid,
        mut stat,
        mut status,
        mut rollup,
        cgroup,
        cmdline,
        namespaces,
        mut fds,
        pss_age_ms,
        exe: _,
    } = p;
    // A process is keyed by its /proc directory; the pid its `stat` prints
    // is not kept apart (they differ only in an edited tree).
    if let Ok(st) = &mut stat {
        st.pid = pid;
    }
    if let Ok(st) = &mut status {
        let keep_bytes = |k: &str| STATUS_BYTES.contains(&k);
        let keep_text = |k: &str, v: &str| {
            STATUS_TEXT.contains(&k) || (STATUS_NUMBERS.contains(&k) && canonical_number(v).is_some())
        };
        // A watching command's status has only these fields: it stays
        // shared with the collector's cache, uncopied.
        if !(st.bytes.keys().all(|k| keep_bytes(k)) && st.text.iter().all(|(k, v)| keep_text(k, v))) {
            let st = std::sync::Arc::make_mut(st);
            st.bytes.retain(|k, _| keep_bytes(k));
            st.text.retain(|k, v| keep_text(k, v));
        }
    }
    if let Rollup::Read(r) = &mut rollup {
        // `Size` only when the rollup was summed from `smaps`, which it marks.
        r.bytes.retain(|k, _| *k == "Size" || ROLLUP_FIELDS.contains(&&**k));
    }
    if let Some(ProcessFds { nofile: Ok(l), .. }) = &mut fds {
        // RLIM_INFINITY is all ones, which the kernel prints `unlimited`.
        l.soft = rlimit_of(rlimit_column(l.soft));
        l.hard = rlimit_of(rlimit_column(l.hard));
    }
    ProcessSample { pid, stat, status, rollup, cgroup, cmdline, namespaces, fds, pss_age_ms, exe: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recording collects only the watched text fields of `status`: every
    /// one the store keeps must be among them, or it would be lost.
    #[test]
    fn the_status_text_a_recording_keeps_is_collected_by_watching_commands() {
        for k in STATUS_TEXT.iter().chain(STATUS_NUMBERS) {
            assert!(memscope_model::WATCHED_STATUS_TEXT.contains(k), "{k} is kept but not collected");
        }
    }
}
