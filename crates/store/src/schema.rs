//! The schema, as a list of migrations.
//!
//! `PRAGMA user_version` holds the number of migrations applied. Opening a
//! database applies the missing ones in order, each in its own transaction.
//! A migration, once released, is never edited: a change of schema is a new
//! migration appended to [`MIGRATIONS`] (docs/store.md, "Adding a sample").

/// Every migration, in order. `MIGRATIONS[i]` takes the schema from version
/// `i` to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    V1_TABLES,
    V2_VIEWS,
    V3_FDS_CGROUPS,
    V4_ROLLUP_SIZE,
    V5_PRESSURE,
    V6_OOM_KILLS,
    V7_DOCUMENTS,
    V8_SHARED_DOCS,
];

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Version 1: the tables of raw samples.
const V1_TABLES: &str = r#"
-- One row per collection pass.
CREATE TABLE snapshots (
    id                       INTEGER PRIMARY KEY,
    taken_at_unix_ms         INTEGER NOT NULL,
    host                     TEXT,
    kernel                   TEXT,
    live                     INTEGER NOT NULL,
    snapshot_version         INTEGER NOT NULL,
    page_size_bytes          INTEGER,
    percpu_first_chunk_pages INTEGER,
    possible_cpus            INTEGER,
    collect_wall_usec        INTEGER,
    collect_cpu_usec         INTEGER,
    scan_listed              INTEGER NOT NULL,
    scan_gone                INTEGER NOT NULL,
    scan_no_address_space    INTEGER NOT NULL,
    scan_rollup_read         INTEGER NOT NULL,
    scan_rollup_denied       INTEGER NOT NULL,
    scan_rollup_failed       INTEGER NOT NULL,
    scan_rollup_over_budget  INTEGER NOT NULL,
    scan_rollup_over_size    INTEGER NOT NULL,
    scan_filtered_out        INTEGER NOT NULL,
    scan_elapsed_usec        INTEGER NOT NULL,
    scan_rollup_phase_usec   INTEGER NOT NULL,
    scan_rollup_total_usec   INTEGER NOT NULL,
    scan_worst_rollup_usec   INTEGER NOT NULL,
    scan_worst_rollup_pid    INTEGER
);
CREATE INDEX snapshots_by_time ON snapshots (taken_at_unix_ms);

-- Interned text: counter names, cache names, callers, command lines, cgroups.
CREATE TABLE strings (
    id   INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);

-- One row per system sample a snapshot tried to read; `error` (a ReadError
-- as JSON) is NULL when the file was read.
CREATE TABLE samples (
    snapshot_id INTEGER NOT NULL,
    source      TEXT NOT NULL,
    error       TEXT,
    detail      TEXT,
    truncated   INTEGER,
    PRIMARY KEY (snapshot_id, source)
) WITHOUT ROWID;

-- Lines a parser skipped, per file (and process).
CREATE TABLE malformed (
    snapshot_id INTEGER NOT NULL,
    source      TEXT NOT NULL,
    pid         INTEGER,
    line        INTEGER NOT NULL,
    text        TEXT NOT NULL
);
CREATE INDEX malformed_by_snapshot ON malformed (snapshot_id);

-- Named counters of key/value files; `source` is a counter_sources id,
-- `scope` the protocol (a strings id), node or zone index the source names.
CREATE TABLE counter_sources (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE,
    file  TEXT NOT NULL,
    unit  TEXT NOT NULL,
    scope TEXT NOT NULL
);
INSERT INTO counter_sources (id, name, file, unit, scope) VALUES
    (1,  'meminfo',          '/proc/meminfo',                 'bytes', 'none'),
    (2,  'meminfo_count',    '/proc/meminfo',                 'count', 'none'),
    (3,  'vmstat',           '/proc/vmstat',                  'count', 'none'),
    (4,  'sockstat',         '/proc/net/sockstat',            'count', 'protocol'),
    (5,  'sockstat6',        '/proc/net/sockstat6',           'count', 'protocol'),
    (6,  'arcstats',         '/proc/spl/kstat/zfs/arcstats',  'count', 'none'),
    (7,  'node_meminfo',     '/sys/devices/system/node/nodeN/meminfo', 'bytes', 'node'),
    (8,  'node_meminfo_count', '/sys/devices/system/node/nodeN/meminfo', 'count', 'node'),
    (9,  'zone',             '/proc/zoneinfo',                'pages', 'zone'),
    (10, 'zone_node_stats',  '/proc/zoneinfo',                'pages', 'zone');
CREATE TABLE counters (
    snapshot_id INTEGER NOT NULL,
    source      INTEGER NOT NULL,
    scope       INTEGER NOT NULL,
    key         INTEGER NOT NULL,
    value       INTEGER NOT NULL,
    PRIMARY KEY (snapshot_id, source, scope, key)
) WITHOUT ROWID;

-- /proc/zoneinfo: zones (their counters are in `counters`) and per-CPU lists.
CREATE TABLE zones (
    snapshot_id        INTEGER NOT NULL,
    idx                INTEGER NOT NULL,
    node               INTEGER NOT NULL,
    zone               TEXT NOT NULL,
    start_pfn          INTEGER,
    node_unreclaimable INTEGER,
    protection         TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, idx)
) WITHOUT ROWID;
CREATE TABLE zone_pagesets (
    snapshot_id        INTEGER NOT NULL,
    zone_idx           INTEGER NOT NULL,
    idx                INTEGER NOT NULL,
    cpu                INTEGER NOT NULL,
    count              INTEGER,
    high               INTEGER,
    batch              INTEGER,
    high_min           INTEGER,
    high_max           INTEGER,
    vm_stats_threshold INTEGER,
    PRIMARY KEY (snapshot_id, zone_idx, idx)
) WITHOUT ROWID;

-- /proc/buddyinfo: free blocks per order, space separated, order 0 first.
CREATE TABLE buddyinfo (
    snapshot_id INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    node        INTEGER NOT NULL,
    zone        TEXT NOT NULL,
    free_blocks TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, idx)
) WITHOUT ROWID;

-- /proc/slabinfo, plus /sys/kernel/slab/NAME/reclaim_account (NULL: unknown).
CREATE TABLE slab_caches (
    snapshot_id  INTEGER NOT NULL,
    idx          INTEGER NOT NULL,
    name         INTEGER NOT NULL,
    active_objs  INTEGER NOT NULL,
    num_objs     INTEGER NOT NULL,
    objsize      INTEGER NOT NULL,
    objperslab   INTEGER NOT NULL,
    pagesperslab INTEGER NOT NULL,
    active_slabs INTEGER NOT NULL,
    num_slabs    INTEGER NOT NULL,
    reclaimable  INTEGER,
    PRIMARY KEY (snapshot_id, idx)
) WITHOUT ROWID;

-- /proc/vmallocinfo, summed per caller and flags (addresses are not kept).
CREATE TABLE vmalloc (
    snapshot_id INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    caller      INTEGER,
    flags       INTEGER NOT NULL,
    areas       INTEGER NOT NULL,
    size_bytes  INTEGER NOT NULL,
    pages       INTEGER,
    nodes       TEXT,
    PRIMARY KEY (snapshot_id, idx)
) WITHOUT ROWID;

-- /proc/iomem and /sys/firmware/memmap.
CREATE TABLE iomem (
    snapshot_id INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    depth       INTEGER NOT NULL,
    start       INTEGER NOT NULL,
    "end"       INTEGER NOT NULL,
    name        INTEGER NOT NULL,
    PRIMARY KEY (snapshot_id, idx)
) WITHOUT ROWID;
CREATE TABLE firmware_memmap (
    snapshot_id INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    start       INTEGER NOT NULL,
    "end"       INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, idx)
) WITHOUT ROWID;

-- Huge page pools: the system's (node NULL) and each node's.
CREATE TABLE hugepage_pools (
    snapshot_id       INTEGER NOT NULL,
    node              INTEGER,
    page_size_bytes   INTEGER NOT NULL,
    nr_hugepages      INTEGER,
    free_hugepages    INTEGER,
    resv_hugepages    INTEGER,
    surplus_hugepages INTEGER
);
CREATE INDEX hugepage_pools_by_snapshot ON hugepage_pools (snapshot_id);

-- NUMA nodes (their meminfo is in `counters`).
CREATE TABLE nodes (
    snapshot_id INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    node        INTEGER NOT NULL,
    truncated   INTEGER NOT NULL,
    PRIMARY KEY (snapshot_id, idx)
) WITHOUT ROWID;

-- Processes: /proc/PID/stat (columns NULL when it was unreadable), the
-- command line (a JSON array), cgroup memberships and namespaces (JSON; NULL
-- when not read), and what became of the smaps_rollup read.
CREATE TABLE processes (
    snapshot_id     INTEGER NOT NULL,
    pid             INTEGER NOT NULL,
    rollup          TEXT NOT NULL,
    cmdline         INTEGER,
    cgroup          INTEGER,
    namespaces      INTEGER,
    comm            INTEGER,
    state           TEXT,
    ppid            INTEGER,
    minflt          INTEGER,
    majflt          INTEGER,
    utime_ticks     INTEGER,
    stime_ticks     INTEGER,
    priority        INTEGER,
    nice            INTEGER,
    num_threads     INTEGER,
    starttime_ticks INTEGER,
    vsize_bytes     INTEGER,
    rss_pages       INTEGER,
    processor       INTEGER,
    rt_priority     INTEGER,
    policy          INTEGER,
    PRIMARY KEY (snapshot_id, pid)
) WITHOUT ROWID;

-- /proc/PID/status: the memory fields in bytes, and a few identity fields.
CREATE TABLE process_status (
    snapshot_id  INTEGER NOT NULL,
    pid          INTEGER NOT NULL,
    VmPeak       INTEGER,
    VmSize       INTEGER,
    VmLck        INTEGER,
    VmPin        INTEGER,
    VmHWM        INTEGER,
    VmRSS        INTEGER,
    RssAnon      INTEGER,
    RssFile      INTEGER,
    RssShmem     INTEGER,
    VmData       INTEGER,
    VmStk        INTEGER,
    VmExe        INTEGER,
    VmLib        INTEGER,
    VmPTE        INTEGER,
    VmSwap       INTEGER,
    HugetlbPages INTEGER,
    Name         INTEGER,
    State        INTEGER,
    Uid          INTEGER,
    Gid          INTEGER,
    Tgid         INTEGER,
    PPid         INTEGER,
    TracerPid    INTEGER,
    FDSize       INTEGER,
    Threads      INTEGER,
    Kthread      INTEGER,
    PRIMARY KEY (snapshot_id, pid)
) WITHOUT ROWID;

-- /proc/PID/smaps_rollup, in bytes, for processes whose rollup was read.
CREATE TABLE process_smaps_rollup (
    snapshot_id     INTEGER NOT NULL,
    pid             INTEGER NOT NULL,
    Rss             INTEGER,
    Pss             INTEGER,
    Pss_Dirty       INTEGER,
    Pss_Anon        INTEGER,
    Pss_File        INTEGER,
    Pss_Shmem       INTEGER,
    Shared_Clean    INTEGER,
    Shared_Dirty    INTEGER,
    Private_Clean   INTEGER,
    Private_Dirty   INTEGER,
    Referenced      INTEGER,
    Anonymous       INTEGER,
    KSM             INTEGER,
    LazyFree        INTEGER,
    AnonHugePages   INTEGER,
    ShmemPmdMapped  INTEGER,
    FilePmdMapped   INTEGER,
    Shared_Hugetlb  INTEGER,
    Private_Hugetlb INTEGER,
    Swap            INTEGER,
    SwapPss         INTEGER,
    Locked          INTEGER,
    PRIMARY KEY (snapshot_id, pid)
) WITHOUT ROWID;

-- Per-process files that could not be read (ReadError as JSON).
CREATE TABLE process_errors (
    snapshot_id INTEGER NOT NULL,
    pid         INTEGER NOT NULL,
    file        TEXT NOT NULL,
    error       TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, pid, file)
) WITHOUT ROWID;
"#;

/// Version 2: views that resolve interned names, for people querying the
/// database with `sqlite3` (docs/store.md).
const V2_VIEWS: &str = r#"
CREATE VIEW meminfo AS
    SELECT c.snapshot_id, s.text AS key, c.value AS bytes
    FROM counters c JOIN strings s ON s.id = c.key WHERE c.source = 1;
CREATE VIEW vmstat AS
    SELECT c.snapshot_id, s.text AS key, c.value
    FROM counters c JOIN strings s ON s.id = c.key WHERE c.source = 3;
CREATE VIEW sockstat AS
    SELECT c.snapshot_id, CASE c.source WHEN 4 THEN 'sockstat' ELSE 'sockstat6' END AS file,
           p.text AS protocol, s.text AS key, c.value
    FROM counters c JOIN strings s ON s.id = c.key JOIN strings p ON p.id = c.scope
    WHERE c.source IN (4, 5);
CREATE VIEW zone_counters AS
    SELECT c.snapshot_id, z.node, z.zone, CASE c.source WHEN 9 THEN 'zone' ELSE 'node' END AS section,
           s.text AS key, c.value AS pages
    FROM counters c JOIN strings s ON s.id = c.key
    JOIN zones z ON z.snapshot_id = c.snapshot_id AND z.idx = c.scope
    WHERE c.source IN (9, 10);
CREATE VIEW slab AS
    SELECT c.snapshot_id, s.text AS name, c.active_objs, c.num_objs, c.objsize, c.objperslab,
           c.pagesperslab, c.active_slabs, c.num_slabs, c.reclaimable
    FROM slab_caches c JOIN strings s ON s.id = c.name;
CREATE VIEW vmalloc_callers AS
    SELECT v.snapshot_id, c.text AS caller, f.text AS flags, v.areas, v.size_bytes, v.pages, v.nodes
    FROM vmalloc v LEFT JOIN strings c ON c.id = v.caller JOIN strings f ON f.id = v.flags;
CREATE VIEW process_samples AS
    SELECT p.snapshot_id, sn.taken_at_unix_ms, p.pid, p.starttime_ticks, cm.text AS comm,
           cl.text AS cmdline, cg.text AS cgroup, u.text AS uid, p.rollup,
           st.VmRSS, st.RssAnon, st.RssFile, st.RssShmem, st.VmSwap,
           r.Pss, r.Private_Clean + r.Private_Dirty AS uss, r.Swap, r.SwapPss
    FROM processes p
    JOIN snapshots sn ON sn.id = p.snapshot_id
    LEFT JOIN strings cm ON cm.id = p.comm
    LEFT JOIN strings cl ON cl.id = p.cmdline
    LEFT JOIN strings cg ON cg.id = p.cgroup
    LEFT JOIN process_status st ON st.snapshot_id = p.snapshot_id AND st.pid = p.pid
    LEFT JOIN strings u ON u.id = st.Uid
    LEFT JOIN process_smaps_rollup r ON r.snapshot_id = p.snapshot_id AND r.pid = p.pid;
"#;

/// Version 3: descriptors and memory cgroups, which `record` collects since
/// this version: per process the open descriptors and `RLIMIT_NOFILE`, the
/// system's `file-nr` and descriptor limits, and each memory cgroup's
/// charge, limit and OOM kills. Snapshots written before read back without
/// them (`None`: not collected).
const V3_FDS_CGROUPS: &str = r#"
-- /proc/sys/fs: file-nr (allocated, free, file-max), nr_open, the inotify and
-- epoll limits; each has a `samples` row (NULL here when unreadable). And how
-- many memory cgroups the hierarchy held (`memory_cgroups` has those read).
ALTER TABLE snapshots ADD COLUMN file_nr_allocated INTEGER;
ALTER TABLE snapshots ADD COLUMN file_nr_free INTEGER;
ALTER TABLE snapshots ADD COLUMN file_max INTEGER;
ALTER TABLE snapshots ADD COLUMN nr_open INTEGER;
ALTER TABLE snapshots ADD COLUMN inotify_max_user_instances INTEGER;
ALTER TABLE snapshots ADD COLUMN inotify_max_user_watches INTEGER;
ALTER TABLE snapshots ADD COLUMN epoll_max_user_watches INTEGER;
ALTER TABLE snapshots ADD COLUMN memory_cgroups_total INTEGER;

-- Per process: open descriptors (/proc/PID/fd) and RLIMIT_NOFILE
-- (/proc/PID/limits `Max open files`; RLIM_INFINITY stored bit for bit, -1
-- in SQL). NULL when not collected, or unreadable (`process_errors` file
-- `fd` or `limits`).
ALTER TABLE processes ADD COLUMN fd_count INTEGER;
ALTER TABLE processes ADD COLUMN nofile_soft INTEGER;
ALTER TABLE processes ADD COLUMN nofile_hard INTEGER;
ALTER TABLE processes ADD COLUMN nofile_units INTEGER;

-- Memory cgroups, parents first: charge, hard limit (NULL: `max`, no
-- limit), OOM kills; `*_error` (a ReadError as JSON) when a file could not
-- be read. `version` is 1 or 2.
CREATE TABLE memory_cgroups (
    snapshot_id    INTEGER NOT NULL,
    idx            INTEGER NOT NULL,
    path           INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    current_bytes  INTEGER,
    limit_bytes    INTEGER,
    oom_kills      INTEGER,
    current_error  TEXT,
    limit_error    TEXT,
    oom_kills_error TEXT,
    PRIMARY KEY (snapshot_id, idx)
) WITHOUT ROWID;

CREATE VIEW cgroup_memory AS
    SELECT c.snapshot_id, sn.taken_at_unix_ms, p.text AS path, c.version, c.current_bytes, c.limit_bytes,
           c.oom_kills
    FROM memory_cgroups c JOIN strings p ON p.id = c.path JOIN snapshots sn ON sn.id = c.snapshot_id;

DROP VIEW process_samples;
CREATE VIEW process_samples AS
    SELECT p.snapshot_id, sn.taken_at_unix_ms, p.pid, p.starttime_ticks, cm.text AS comm,
           cl.text AS cmdline, cg.text AS cgroup, u.text AS uid, p.rollup,
           st.VmRSS, st.RssAnon, st.RssFile, st.RssShmem, st.VmSwap,
           r.Pss, r.Private_Clean + r.Private_Dirty AS uss, r.Swap, r.SwapPss,
           p.fd_count, p.nofile_soft, p.nofile_hard
    FROM processes p
    JOIN snapshots sn ON sn.id = p.snapshot_id
    LEFT JOIN strings cm ON cm.id = p.comm
    LEFT JOIN strings cl ON cl.id = p.cmdline
    LEFT JOIN strings cg ON cg.id = p.cgroup
    LEFT JOIN process_status st ON st.snapshot_id = p.snapshot_id AND st.pid = p.pid
    LEFT JOIN strings u ON u.id = st.Uid
    LEFT JOIN process_smaps_rollup r ON r.snapshot_id = p.snapshot_id AND r.pid = p.pid;
"#;

/// Version 4: a process's rollup keeps `Size` (the virtual size), which only
/// a rollup summed from `smaps` has (kernels before 4.14, without
/// `smaps_rollup`): it tells such rows apart, so that they read back with the
/// source they were read from.
const V4_ROLLUP_SIZE: &str = r#"
ALTER TABLE process_smaps_rollup ADD COLUMN Size INTEGER;
"#;

/// Version 5: the system's memory pressure (`/proc/pressure/memory`, PSI),
/// which `record` reads since this version. Snapshots written before read
/// back without it (`None`: not collected); the columns are NULL where the
/// file was unavailable (its `samples` row, source `pressure_memory`, says
/// why) or had no such line.
const V5_PRESSURE: &str = r#"
-- `some`: share of time at least one task stalled waiting for memory;
-- `full`: share of time all non-idle tasks stalled at once. avg* in percent
-- over 10, 60 and 300 s; total_usec cumulative stall time, microseconds.
ALTER TABLE snapshots ADD COLUMN pressure_some_avg10 REAL;
ALTER TABLE snapshots ADD COLUMN pressure_some_avg60 REAL;
ALTER TABLE snapshots ADD COLUMN pressure_some_avg300 REAL;
ALTER TABLE snapshots ADD COLUMN pressure_some_total_usec INTEGER;
ALTER TABLE snapshots ADD COLUMN pressure_full_avg10 REAL;
ALTER TABLE snapshots ADD COLUMN pressure_full_avg60 REAL;
ALTER TABLE snapshots ADD COLUMN pressure_full_avg300 REAL;
ALTER TABLE snapshots ADD COLUMN pressure_full_total_usec INTEGER;
"#;

/// Version 6: the OOM kills `record` saw in the kernel log, and whether it
/// could read the log at each snapshot (the tables belong to
/// [`crate::events`]). Recordings made before read back without kills
/// (`OomTimeline::not_recorded`); the cgroups' own counts are kept with
/// the snapshots (in `memory_cgroups` from version 3, in the snapshot
/// documents since version 7).
const V6_OOM_KILLS: &str = r#"
-- One row per process the OOM killer killed, from its report in the kernel
-- log. (boot_id, since_boot_usec, pid) tells a kill from another, so that a
-- report read again (the next snapshot, a restarted recording) is kept
-- once. `snapshot_id`: the snapshot after which it was first seen.
-- Texts are kept here, not in `strings`, which retention prunes by the
-- snapshot tables' references.
CREATE TABLE oom_kills (
    boot_id         TEXT NOT NULL,
    since_boot_usec INTEGER NOT NULL,
    pid             INTEGER NOT NULL,
    snapshot_id     INTEGER NOT NULL,
    at_unix_ms      INTEGER NOT NULL,
    comm            TEXT NOT NULL,
    uid             INTEGER,
    constraint_kind TEXT,
    cgroup          TEXT,
    task_cgroup     TEXT,
    limit_bytes     INTEGER,
    anon_rss_bytes  INTEGER,
    file_rss_bytes  INTEGER,
    shmem_rss_bytes INTEGER,
    answer          TEXT NOT NULL,
    PRIMARY KEY (boot_id, since_boot_usec, pid)
) WITHOUT ROWID;
CREATE INDEX oom_kills_by_time ON oom_kills (at_unix_ms);
CREATE INDEX oom_kills_by_snapshot ON oom_kills (snapshot_id);

-- Per snapshot: NULL `error` when the kernel log was read, else why not (a
-- ReadError's reason); no row: the snapshot did not try.
CREATE TABLE oom_log_reads (
    snapshot_id INTEGER PRIMARY KEY,
    error       TEXT
);
"#;

/// The schema version from which snapshots are kept as documents: older
/// databases are read by [`crate::legacy`], and migrated to it in place
/// ([`crate::Store::open`] converts every snapshot between
/// [`V7_DOCUMENTS`] and [`V7_FINISH`]).
pub const DOCUMENTS_SINCE: u32 = 7;

/// Version 7: each snapshot kept whole, as two documents (the model's serde
/// JSON, zlib-compressed, with the length uncompressed: `sqlite3` reads them
/// with `sqlar_uncompress`), beside the columns queries need. The tables are
/// made under new names; the snapshots of the tables of versions 1 to 6 are
/// converted into them, then those tables go and these take their names
/// ([`V7_FINISH`]). A field added to the model needs no migration; only a
/// new indexed column does.
const V7_DOCUMENTS: &str = r#"
-- One row per collection pass: `system` is the snapshot without its
-- processes (JSON, compressed), `system_bytes` its length uncompressed.
CREATE TABLE snapshots_v7 (
    id                INTEGER PRIMARY KEY,
    taken_at_unix_ms  INTEGER NOT NULL,
    host              TEXT,
    kernel            TEXT,
    collect_wall_usec INTEGER,
    collect_cpu_usec  INTEGER,
    system            BLOB NOT NULL,
    system_bytes      INTEGER NOT NULL
);

-- A snapshot's processes: a JSON array of the model's process samples, by
-- pid, compressed; `doc_bytes` its length uncompressed.
CREATE TABLE process_docs (
    snapshot_id INTEGER PRIMARY KEY,
    doc         BLOB NOT NULL,
    doc_bytes   INTEGER NOT NULL
);

-- One row per process, with what queries filter and sort on (NULL: not
-- read). Text columns are `strings` ids; sizes in bytes.
CREATE TABLE processes_v7 (
    snapshot_id     INTEGER NOT NULL,
    pid             INTEGER NOT NULL,
    starttime_ticks INTEGER,
    comm            INTEGER,
    cmdline         INTEGER,
    cgroup          INTEGER,
    uid             INTEGER,
    rss             INTEGER,
    pss             INTEGER,
    uss             INTEGER,
    swap            INTEGER,
    fd_count        INTEGER,
    nofile_soft     INTEGER,
    PRIMARY KEY (snapshot_id, pid)
) WITHOUT ROWID;
"#;

/// The end of version 7, once the old snapshots are converted: the tables
/// and views of versions 1 to 6 go, the new tables take their names.
pub(crate) const V7_FINISH: &str = r#"
DROP VIEW IF EXISTS meminfo;
DROP VIEW IF EXISTS vmstat;
DROP VIEW IF EXISTS sockstat;
DROP VIEW IF EXISTS zone_counters;
DROP VIEW IF EXISTS slab;
DROP VIEW IF EXISTS vmalloc_callers;
DROP VIEW IF EXISTS process_samples;
DROP VIEW IF EXISTS cgroup_memory;
DROP TABLE samples;
DROP TABLE malformed;
DROP TABLE counters;
DROP TABLE counter_sources;
DROP TABLE zones;
DROP TABLE zone_pagesets;
DROP TABLE buddyinfo;
DROP TABLE slab_caches;
DROP TABLE vmalloc;
DROP TABLE iomem;
DROP TABLE firmware_memmap;
DROP TABLE hugepage_pools;
DROP TABLE nodes;
DROP TABLE process_status;
DROP TABLE process_smaps_rollup;
DROP TABLE process_errors;
DROP TABLE memory_cgroups;
DROP TABLE processes;
DROP TABLE snapshots;
ALTER TABLE snapshots_v7 RENAME TO snapshots;
ALTER TABLE processes_v7 RENAME TO processes;
CREATE INDEX snapshots_by_time ON snapshots (taken_at_unix_ms);
DELETE FROM strings WHERE id NOT IN (
    SELECT comm FROM processes WHERE comm IS NOT NULL
    UNION SELECT cmdline FROM processes WHERE cmdline IS NOT NULL
    UNION SELECT cgroup FROM processes WHERE cgroup IS NOT NULL
    UNION SELECT uid FROM processes WHERE uid IS NOT NULL);

-- For people querying with `sqlite3` (docs/store.md): the processes with
-- their names resolved.
CREATE VIEW process_samples AS
    SELECT p.snapshot_id, sn.taken_at_unix_ms, p.pid, p.starttime_ticks, cm.text AS comm,
           cl.text AS cmdline, cg.text AS cgroup, u.text AS uid, p.rss, p.pss, p.uss, p.swap,
           p.fd_count, p.nofile_soft
    FROM processes p
    JOIN snapshots sn ON sn.id = p.snapshot_id
    LEFT JOIN strings cm ON cm.id = p.comm
    LEFT JOIN strings cl ON cl.id = p.cmdline
    LEFT JOIN strings cg ON cg.id = p.cgroup
    LEFT JOIN strings u ON u.id = p.uid;
"#;

/// The schema version from which a process's document is written only when
/// it changed: a `processes` row names the snapshot whose `process_docs`
/// array holds its document (`doc_snapshot_id`, NULL: its own snapshot's),
/// and the age of a rollup carried forward is a column, not part of the
/// document, so that a process whose rollup was carried is unchanged.
pub const SHARED_DOCS_SINCE: u32 = 8;

/// Version 8: documents shared between snapshots ([`SHARED_DOCS_SINCE`]).
/// The snapshots of version 7 stay as they are: every process in its own
/// snapshot's array (`doc_snapshot_id` NULL), its age inside its document
/// (`pss_age_ms` NULL).
const V8_SHARED_DOCS: &str = r#"
-- The snapshot whose process_docs array holds this process's document, when
-- it is not this row's own snapshot (the process did not change since).
ALTER TABLE processes ADD COLUMN doc_snapshot_id INTEGER;
-- How old the rollup (pss, uss) was when the snapshot was taken, when it
-- was carried forward from an earlier pass instead of read (milliseconds).
ALTER TABLE processes ADD COLUMN pss_age_ms INTEGER;
-- Which rows keep an array alive (deleting snapshots deletes the arrays no
-- row refers to any more).
CREATE INDEX processes_by_doc ON processes (doc_snapshot_id) WHERE doc_snapshot_id IS NOT NULL;

DROP VIEW process_samples;
CREATE VIEW process_samples AS
    SELECT p.snapshot_id, sn.taken_at_unix_ms, p.pid, p.starttime_ticks, cm.text AS comm,
           cl.text AS cmdline, cg.text AS cgroup, u.text AS uid, p.rss, p.pss, p.uss, p.swap,
           p.fd_count, p.nofile_soft, p.pss_age_ms
    FROM processes p
    JOIN snapshots sn ON sn.id = p.snapshot_id
    LEFT JOIN strings cm ON cm.id = p.comm
    LEFT JOIN strings cl ON cl.id = p.cmdline
    LEFT JOIN strings cg ON cg.id = p.cgroup
    LEFT JOIN strings u ON u.id = p.uid;
"#;
