//! The one mapping between a [`Snapshot`] and the rows of the store, both
//! ways, and [`as_stored`]: exactly what of a snapshot the store keeps.
//!
//! Each field of [`Snapshot`] and [`ProcessSample`] is destructured without
//! `..` on the way in and built field by field on the way out, so that a new
//! sample added to the model fails to compile here until it has a table (a
//! new migration in [`crate::schema`]) and a mapping in this module.
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
//! Descriptors and memory cgroups have columns and a table since schema
//! version 3, the system's memory pressure columns since version 4; a
//! database of an older version reads back without them.
//!
//! Unsigned values are stored as SQLite's signed 64-bit integers, bit for
//! bit: a value of 2^63 or more reads as negative in SQL and exactly in Rust.

use std::collections::{BTreeMap, HashMap};

use memscope_kernel::ReadError;
use memscope_kernel::parse::Malformed;
use memscope_kernel::parse::arcstats::Arcstats;
use memscope_kernel::parse::buddyinfo::{BuddyZone, Buddyinfo};
use memscope_kernel::parse::cgroupfs::Limit as CgroupLimit;
use memscope_kernel::parse::file_nr::FileNr;
use memscope_kernel::parse::iomem::{Iomem, Resource};
use memscope_kernel::parse::meminfo::Meminfo;
use memscope_kernel::parse::pid::cgroup::{Membership, ProcCgroup};
use memscope_kernel::parse::pid::limits::{Limit as RLimit, ResourceLimit};
use memscope_kernel::parse::pid::ns::Namespaces;
use memscope_kernel::parse::pid::smaps_rollup::SmapsRollup;
use memscope_kernel::parse::pid::stat::Stat;
use memscope_kernel::parse::pid::status::Status;
use memscope_kernel::parse::pressure::{Pressure, PsiLine};
use memscope_kernel::parse::slabinfo::{SlabCache, Slabinfo};
use memscope_kernel::parse::sockstat::Sockstat;
use memscope_kernel::parse::vmallocinfo::{VmallocArea, Vmallocinfo};
use memscope_kernel::parse::vmstat::Vmstat;
use memscope_kernel::parse::zoneinfo::{Pageset, Zone, Zoneinfo};
use memscope_kernel::read::{FirmwareRange, HugepagePool, NodeMemory};
use memscope_model::{
    CgroupMemory, CgroupSample, CgroupVersion, FdSystem, ProcessFds, ProcessSample, ProcessScan, Rollup,
    Sample, Snapshot,
};
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

/// Columns of `processes` after `snapshot_id` and `pid`, in the order
/// [`Writer::process`] fills them.
const PROCESS_COLUMNS: &[&str] = &[
    "rollup",
    "cmdline",
    "cgroup",
    "namespaces",
    "comm",
    "state",
    "ppid",
    "minflt",
    "majflt",
    "utime_ticks",
    "stime_ticks",
    "priority",
    "nice",
    "num_threads",
    "starttime_ticks",
    "vsize_bytes",
    "rss_pages",
    "processor",
    "rt_priority",
    "policy",
];

/// Columns of `processes` added by schema version 3 (descriptors).
const PROCESS_FD_COLUMNS: [&str; 4] = ["fd_count", "nofile_soft", "nofile_hard", "nofile_units"];

/// Tables with a `snapshot_id` column: every row of a snapshot lives in one
/// of these (deleting a snapshot deletes from each).
pub const SNAPSHOT_TABLES: &[&str] = &[
    "samples",
    "malformed",
    "counters",
    "zones",
    "zone_pagesets",
    "buddyinfo",
    "slab_caches",
    "vmalloc",
    "iomem",
    "firmware_memmap",
    "hugepage_pools",
    "nodes",
    "processes",
    "process_status",
    "process_smaps_rollup",
    "process_errors",
    "memory_cgroups",
];

/// Columns that hold a `strings` id: what keeps an interned string alive.
pub const STRING_REFERENCES: &[(&str, &str)] = &[
    ("counters", "key"),
    ("counters", "scope"),
    ("slab_caches", "name"),
    ("vmalloc", "caller"),
    ("vmalloc", "flags"),
    ("iomem", "name"),
    ("processes", "cmdline"),
    ("processes", "cgroup"),
    ("processes", "comm"),
    ("processes", "nofile_units"),
    ("memory_cgroups", "path"),
    ("process_status", "Name"),
    ("process_status", "State"),
    ("process_status", "Uid"),
    ("process_status", "Gid"),
];

// Counter sources (the `counter_sources` table of migration 1).
const MEMINFO: i64 = 1;
const MEMINFO_COUNT: i64 = 2;
const VMSTAT: i64 = 3;
const SOCKSTAT: i64 = 4;
const SOCKSTAT6: i64 = 5;
const ARCSTATS: i64 = 6;
const NODE_MEMINFO: i64 = 7;
const NODE_MEMINFO_COUNT: i64 = 8;
const ZONE: i64 = 9;
const ZONE_NODE_STATS: i64 = 10;

/// The schema version that added descriptors and memory cgroups: older
/// databases have neither the columns nor the table, and their snapshots
/// read back without them.
const FDS_CGROUPS_SINCE: u32 = 3;

/// The schema version that keeps `Size` with a process's rollup: the
/// virtual size, present only when the rollup was summed from `smaps`
/// (kernels before 4.14), which it marks. Older databases read back
/// without it.
const ROLLUP_SIZE_SINCE: u32 = 4;

/// The rollup fields a database of schema version `schema` has columns for.
fn rollup_fields(schema: u32) -> impl Iterator<Item = &'static str> + Clone {
    ROLLUP_FIELDS.iter().copied().chain((schema >= ROLLUP_SIZE_SINCE).then_some("Size"))
}

/// The schema version that added the system's memory pressure.
const PRESSURE_SINCE: u32 = 5;

/// `samples` source (and `malformed` source) of `/proc/pressure/memory`.
const PRESSURE_MEMORY: &str = "pressure_memory";

/// `samples` sources of the [`FdSystem`] figures; the first one's row says
/// whether the snapshot has them at all.
const FD_SYSTEM_SOURCES: [&str; 5] = [
    "file_nr",
    "nr_open",
    "inotify_max_user_instances",
    "inotify_max_user_watches",
    "epoll_max_user_watches",
];

/// `samples` source of the memory cgroups.
const MEMORY_CGROUPS: &str = "memory_cgroups";

/// `RLIMIT_NOFILE` as a column: `RLIM_INFINITY` (the kernel's all-ones
/// value, printed `unlimited`) bit for bit.
fn rlimit_column(l: RLimit) -> i64 {
    match l {
        RLimit::Value(v) => s(v),
        RLimit::Unlimited => s(u64::MAX),
    }
}

fn rlimit_of(v: i64) -> RLimit {
    match u(v) {
        u64::MAX => RLimit::Unlimited,
        v => RLimit::Value(v),
    }
}

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

fn s(v: u64) -> i64 {
    v as i64
}

fn u(v: i64) -> u64 {
    v as u64
}

fn ou(v: Option<i64>) -> Option<u64> {
    v.map(u)
}

fn os(v: Option<u64>) -> Option<i64> {
    v.map(s)
}

fn err_json(e: &ReadError) -> String {
    serde_json::to_string(e).expect("a ReadError serializes")
}

fn err_from(json: &str, what: &str) -> Result<ReadError, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::corrupt(what, format!("error column: {e}")))
}

// ---------------------------------------------------------------- writing

/// Insert every row of `snap` inside `tx`; returns the new snapshot id.
pub(crate) fn write(
    tx: &Transaction,
    strings: &mut Strings,
    schema: u32,
    snap: &Snapshot,
    meta: &Meta,
) -> Result<i64, StoreError> {
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
        processes,
        scan,
    } = snap;
    let ProcessScan {
        listed,
        gone,
        no_address_space,
        rollup_read,
        rollup_denied,
        rollup_failed,
        rollup_over_budget,
        rollup_over_size,
        filtered_out,
        elapsed_usec,
        rollup_phase_usec,
        rollup_total_usec,
        worst_rollup_usec,
        worst_rollup_pid,
    } = scan;
    tx.execute(
        "INSERT INTO snapshots (taken_at_unix_ms, host, kernel, live, snapshot_version, page_size_bytes, \
         percpu_first_chunk_pages, possible_cpus, collect_wall_usec, collect_cpu_usec, scan_listed, scan_gone, \
         scan_no_address_space, scan_rollup_read, scan_rollup_denied, scan_rollup_failed, \
         scan_rollup_over_budget, scan_rollup_over_size, scan_filtered_out, scan_elapsed_usec, \
         scan_rollup_phase_usec, scan_rollup_total_usec, scan_worst_rollup_usec, scan_worst_rollup_pid) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, \
         ?21, ?22, ?23, ?24)",
        params![
            s(*taken_at_unix_ms),
            meta.host,
            kernel.as_ref().ok(),
            *live,
            *version,
            os(*page_size_bytes),
            percpu_first_chunk_pages.as_ref().ok().map(|v| s(*v)),
            possible_cpus.as_ref().ok().map(|v| s(*v)),
            os(meta.collect_wall_usec),
            os(meta.collect_cpu_usec),
            *listed as i64,
            *gone as i64,
            *no_address_space as i64,
            *rollup_read as i64,
            *rollup_denied as i64,
            *rollup_failed as i64,
            *rollup_over_budget as i64,
            *rollup_over_size as i64,
            *filtered_out as i64,
            s(*elapsed_usec),
            s(*rollup_phase_usec),
            s(*rollup_total_usec),
            s(*worst_rollup_usec),
            worst_rollup_pid,
        ],
    )?;
    let id = tx.last_insert_rowid();
    let mut w = Writer { tx, strings, id, schema };

    w.sample("kernel", kernel, None, None)?;
    w.sample("percpu_first_chunk_pages", percpu_first_chunk_pages, None, None)?;
    w.sample("possible_cpus", possible_cpus, None, None)?;
    if let Some(b) = balloon_drivers {
        // The loaded balloon drivers' names, in `detail`; no row: not read.
        w.sample("balloon_drivers", &Ok::<(), ReadError>(()), Some(b.join(" ")), None)?;
    }

    if let Ok(m) = meminfo {
        w.meminfo(m, MEMINFO, MEMINFO_COUNT, 0)?;
        w.malformed("meminfo", None, &m.malformed)?;
    }
    w.sample("meminfo", meminfo, None, meminfo.as_ref().ok().map(|m| m.truncated))?;

    if let Ok(v) = vmstat {
        let Vmstat { counters, malformed } = v;
        w.counters(VMSTAT, 0, counters)?;
        w.malformed("vmstat", None, malformed)?;
    }
    w.sample("vmstat", vmstat, None, None)?;

    if let Ok(z) = zoneinfo {
        w.zoneinfo(z)?;
    }
    w.sample("zoneinfo", zoneinfo, None, None)?;

    if let Ok(b) = buddyinfo {
        let Buddyinfo { zones, malformed } = b;
        let mut st = w.tx.prepare_cached(
            "INSERT INTO buddyinfo (snapshot_id, idx, node, zone, free_blocks) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (i, z) in zones.iter().enumerate() {
            let BuddyZone { node, zone, free_blocks } = z;
            let blocks: Vec<String> = free_blocks.iter().map(|n| n.to_string()).collect();
            st.execute(params![id, i as i64, node, zone, blocks.join(" ")])?;
        }
        w.malformed("buddyinfo", None, malformed)?;
    }
    w.sample("buddyinfo", buddyinfo, None, None)?;

    if let Ok(sl) = slabinfo {
        let Slabinfo { version: _, caches, malformed } = sl;
        for (i, c) in caches.iter().enumerate() {
            let SlabCache {
                name,
                active_objs,
                num_objs,
                objsize,
                objperslab,
                pagesperslab,
                active_slabs,
                num_slabs,
            } = c;
            let name_id = w.strings.intern(w.tx, name)?;
            let mut st = w.tx.prepare_cached(
                "INSERT INTO slab_caches (snapshot_id, idx, name, active_objs, num_objs, objsize, objperslab, \
                 pagesperslab, active_slabs, num_slabs, reclaimable) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            st.execute(params![
                id,
                i as i64,
                name_id,
                s(*active_objs),
                s(*num_objs),
                s(*objsize),
                s(*objperslab),
                s(*pagesperslab),
                s(*active_slabs),
                s(*num_slabs),
                slab_reclaimable.get(name),
            ])?;
        }
        w.malformed("slabinfo", None, malformed)?;
    }
    w.sample("slabinfo", slabinfo, slabinfo.as_ref().ok().map(|s| s.version.clone()), None)?;

    if let Ok(v) = vmallocinfo {
        let grouped = group_vmalloc(v);
        for (i, a) in grouped.areas.iter().enumerate() {
            let (area, count) = a;
            let VmallocArea { size_bytes, caller, pages, phys: _, flags, nodes } = area;
            let caller_id = match caller {
                Some(c) => Some(w.strings.intern(w.tx, c)?),
                None => None,
            };
            let flags_id = w.strings.intern(w.tx, &flags.join(" "))?;
            let nodes_text = (!nodes.is_empty())
                .then(|| nodes.iter().map(|(n, p)| format!("{n}={p}")).collect::<Vec<_>>().join(" "));
            let mut st = w.tx.prepare_cached(
                "INSERT INTO vmalloc (snapshot_id, idx, caller, flags, areas, size_bytes, pages, nodes) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            st.execute(params![
                id,
                i as i64,
                caller_id,
                flags_id,
                *count as i64,
                s(*size_bytes),
                os(*pages),
                nodes_text
            ])?;
        }
        w.malformed("vmallocinfo", None, &v.malformed)?;
    }
    w.sample("vmallocinfo", vmallocinfo, None, None)?;

    if let Ok(io) = iomem {
        let Iomem { resources, malformed } = io;
        for (i, r) in resources.iter().enumerate() {
            let Resource { depth, start, end, name } = r;
            let name_id = w.strings.intern(w.tx, name)?;
            let mut st = w.tx.prepare_cached(
                "INSERT INTO iomem (snapshot_id, idx, depth, start, \"end\", name) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            st.execute(params![id, i as i64, depth, s(*start), s(*end), name_id])?;
        }
        w.malformed("iomem", None, malformed)?;
    }
    w.sample("iomem", iomem, None, None)?;

    if let Some(fw) = firmware_memmap {
        if let Ok(ranges) = fw {
            let mut st = w.tx.prepare_cached(
                "INSERT INTO firmware_memmap (snapshot_id, idx, start, \"end\", kind) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (i, r) in ranges.iter().enumerate() {
                let FirmwareRange { start, end, kind } = r;
                st.execute(params![id, i as i64, s(*start), s(*end), kind])?;
            }
        }
        w.sample("firmware_memmap", fw, None, None)?;
    }

    if let Ok(pools) = hugepages {
        w.hugepage_pools(None, pools)?;
    }
    w.sample("hugepages", hugepages, None, None)?;

    if let Ok(ns) = nodes {
        for (i, n) in ns.iter().enumerate() {
            let NodeMemory { node, meminfo, hugepages } = n;
            w.tx.prepare_cached(
                "INSERT INTO nodes (snapshot_id, idx, node, truncated) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, i as i64, node, meminfo.truncated])?;
            w.meminfo(meminfo, NODE_MEMINFO, NODE_MEMINFO_COUNT, i64::from(*node))?;
            w.malformed(&format!("node{node}/meminfo"), None, &meminfo.malformed)?;
            w.hugepage_pools(Some(*node), hugepages)?;
        }
    }
    w.sample("nodes", nodes, None, None)?;

    for (name, src, sample) in [("sockstat", SOCKSTAT, sockstat), ("sockstat6", SOCKSTAT6, sockstat6)] {
        if let Ok(so) = sample {
            let Sockstat { protocols, malformed } = so;
            for (proto, fields) in protocols {
                let scope = w.strings.intern(w.tx, proto)?;
                w.counters(src, scope, fields)?;
            }
            w.malformed(name, None, malformed)?;
        }
        w.sample(name, sample, None, None)?;
    }

    if let Ok(a) = arcstats {
        let Arcstats { values, malformed } = a;
        w.counters(ARCSTATS, 0, values)?;
        w.malformed("arcstats", None, malformed)?;
    }
    w.sample("arcstats", arcstats, None, None)?;

    if schema >= FDS_CGROUPS_SINCE {
        if let Some(fs) = fd_system {
            w.fd_system(fs)?;
        }
        if let Some(cg) = cgroups {
            if let Ok(c) = cg {
                w.memory_cgroups(c)?;
            }
            w.sample(MEMORY_CGROUPS, cg, None, None)?;
        }
    }
    if schema >= PRESSURE_SINCE
        && let Some(p) = pressure
    {
        if let Ok(p) = p {
            w.pressure(p)?;
        }
        w.sample(PRESSURE_MEMORY, p, None, None)?;
    }

    for p in processes {
        w.process(p)?;
    }
    Ok(id)
}

struct Writer<'a, 'c> {
    tx: &'a Transaction<'c>,
    strings: &'a mut Strings,
    id: i64,
    schema: u32,
}

impl Writer<'_, '_> {
    fn pressure(&mut self, p: &Pressure) -> Result<(), StoreError> {
        let Pressure { some, full, malformed } = p;
        let cols = |l: &Option<PsiLine>| match l {
            Some(PsiLine { avg10, avg60, avg300, total_usec }) => {
                (Some(*avg10), Some(*avg60), Some(*avg300), Some(s(*total_usec)))
            }
            None => (None, None, None, None),
        };
        let (s10, s60, s300, st) = cols(some);
        let (f10, f60, f300, ft) = cols(full);
        self.tx
            .prepare_cached(
                "UPDATE snapshots SET pressure_some_avg10 = ?2, pressure_some_avg60 = ?3, \
                 pressure_some_avg300 = ?4, pressure_some_total_usec = ?5, pressure_full_avg10 = ?6, \
                 pressure_full_avg60 = ?7, pressure_full_avg300 = ?8, pressure_full_total_usec = ?9 \
                 WHERE id = ?1",
            )?
            .execute(params![self.id, s10, s60, s300, st, f10, f60, f300, ft])?;
        self.malformed(PRESSURE_MEMORY, None, malformed)
    }

    fn fd_system(&mut self, fs: &FdSystem) -> Result<(), StoreError> {
        let FdSystem {
            file_nr,
            nr_open,
            inotify_max_user_instances,
            inotify_max_user_watches,
            epoll_max_user_watches,
        } = fs;
        let nr = file_nr.as_ref().ok().map(|f| {
            let FileNr { allocated, free, max } = f;
            (s(*allocated), s(*free), s(*max))
        });
        let v = |x: &Sample<u64>| x.as_ref().ok().map(|v| s(*v));
        self.tx
            .prepare_cached(
                "UPDATE snapshots SET file_nr_allocated = ?2, file_nr_free = ?3, file_max = ?4, nr_open = ?5, \
                 inotify_max_user_instances = ?6, inotify_max_user_watches = ?7, epoll_max_user_watches = ?8 \
                 WHERE id = ?1",
            )?
            .execute(params![
                self.id,
                nr.map(|n| n.0),
                nr.map(|n| n.1),
                nr.map(|n| n.2),
                v(nr_open),
                v(inotify_max_user_instances),
                v(inotify_max_user_watches),
                v(epoll_max_user_watches),
            ])?;
        let [a, b, c, d, e] = FD_SYSTEM_SOURCES;
        self.sample(a, file_nr, None, None)?;
        self.sample(b, nr_open, None, None)?;
        self.sample(c, inotify_max_user_instances, None, None)?;
        self.sample(d, inotify_max_user_watches, None, None)?;
        self.sample(e, epoll_max_user_watches, None, None)
    }

    fn memory_cgroups(&mut self, c: &CgroupSample) -> Result<(), StoreError> {
        let CgroupSample { cgroups, total } = c;
        self.tx
            .prepare_cached("UPDATE snapshots SET memory_cgroups_total = ?2 WHERE id = ?1")?
            .execute(params![self.id, *total as i64])?;
        for (i, m) in cgroups.iter().enumerate() {
            let CgroupMemory { path, version, current_bytes, limit, oom_kills } = m;
            let path_id = self.strings.intern(self.tx, path)?;
            let version = match version {
                CgroupVersion::V1 => 1,
                CgroupVersion::V2 => 2,
            };
            let limit_bytes = match limit {
                Ok(CgroupLimit::Value(v)) => Some(s(*v)),
                Ok(CgroupLimit::Max) | Err(_) => None,
            };
            let err = |x: Option<&ReadError>| x.map(err_json);
            self.tx
                .prepare_cached(
                    "INSERT INTO memory_cgroups (snapshot_id, idx, path, version, current_bytes, limit_bytes, \
                     oom_kills, current_error, limit_error, oom_kills_error) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![
                    self.id,
                    i as i64,
                    path_id,
                    version,
                    current_bytes.as_ref().ok().map(|v| s(*v)),
                    limit_bytes,
                    oom_kills.as_ref().ok().map(|v| s(*v)),
                    err(current_bytes.as_ref().err()),
                    err(limit.as_ref().err()),
                    err(oom_kills.as_ref().err()),
                ])?;
        }
        Ok(())
    }

    fn sample<T>(
        &mut self,
        source: &str,
        sample: &Sample<T>,
        detail: Option<String>,
        truncated: Option<bool>,
    ) -> Result<(), StoreError> {
        let error = sample.as_ref().err().map(err_json);
        self.tx
            .prepare_cached(
                "INSERT INTO samples (snapshot_id, source, error, detail, truncated) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![self.id, source, error, detail, truncated])?;
        Ok(())
    }

    fn malformed(&mut self, source: &str, pid: Option<u32>, lines: &[Malformed]) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut st = self.tx.prepare_cached(
            "INSERT INTO malformed (snapshot_id, source, pid, line, text) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for m in lines {
            let Malformed { line, text } = m;
            st.execute(params![self.id, source, pid, *line as i64, text])?;
        }
        Ok(())
    }

    fn counters(
        &mut self,
        source: i64,
        scope: i64,
        values: &BTreeMap<String, u64>,
    ) -> Result<(), StoreError> {
        for (k, v) in values {
            let key = self.strings.intern(self.tx, k)?;
            self.tx
                .prepare_cached(
                    "INSERT INTO counters (snapshot_id, source, scope, key, value) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![self.id, source, scope, key, s(*v)])?;
        }
        Ok(())
    }

    fn meminfo(&mut self, m: &Meminfo, bytes_src: i64, count_src: i64, scope: i64) -> Result<(), StoreError> {
        let Meminfo { bytes, counts, malformed: _, truncated: _ } = m;
        self.counters(bytes_src, scope, bytes)?;
        self.counters(count_src, scope, counts)
    }

    fn zoneinfo(&mut self, z: &Zoneinfo) -> Result<(), StoreError> {
        let Zoneinfo { zones, malformed } = z;
        for (i, zone) in zones.iter().enumerate() {
            let Zone { node, zone, fields, protection, node_stats, pagesets, start_pfn, node_unreclaimable } =
                zone;
            let prot: Vec<String> = protection.iter().map(|p| p.to_string()).collect();
            self.tx
                .prepare_cached(
                    "INSERT INTO zones (snapshot_id, idx, node, zone, start_pfn, node_unreclaimable, protection) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![self.id, i as i64, node, zone, os(*start_pfn), os(*node_unreclaimable), prot.join(" ")])?;
            self.counters(ZONE, i as i64, fields)?;
            self.counters(ZONE_NODE_STATS, i as i64, node_stats)?;
            for (j, p) in pagesets.iter().enumerate() {
                let Pageset { cpu, fields } = p;
                let f = |k: &str| fields.get(k).map(|v| s(*v));
                self.tx
                    .prepare_cached(
                        "INSERT INTO zone_pagesets (snapshot_id, zone_idx, idx, cpu, count, high, batch, high_min, \
                         high_max, vm_stats_threshold) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    )?
                    .execute(params![
                        self.id,
                        i as i64,
                        j as i64,
                        cpu,
                        f(PAGESET_FIELDS[0]),
                        f(PAGESET_FIELDS[1]),
                        f(PAGESET_FIELDS[2]),
                        f(PAGESET_FIELDS[3]),
                        f(PAGESET_FIELDS[4]),
                        f(PAGESET_FIELDS[5]),
                    ])?;
            }
        }
        self.malformed("zoneinfo", None, malformed)
    }

    fn hugepage_pools(&mut self, node: Option<u32>, pools: &[HugepagePool]) -> Result<(), StoreError> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO hugepage_pools (snapshot_id, node, page_size_bytes, nr_hugepages, free_hugepages, \
             resv_hugepages, surplus_hugepages) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for p in pools {
            let HugepagePool {
                page_size_bytes,
                nr_hugepages,
                free_hugepages,
                resv_hugepages,
                surplus_hugepages,
            } = p;
            st.execute(params![
                self.id,
                node,
                s(*page_size_bytes),
                os(*nr_hugepages),
                os(*free_hugepages),
                os(*resv_hugepages),
                os(*surplus_hugepages)
            ])?;
        }
        Ok(())
    }

    fn process_error(&mut self, pid: u32, file: &str, e: &ReadError) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO process_errors (snapshot_id, pid, file, error) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![self.id, pid, file, err_json(e)])?;
        Ok(())
    }

    fn process(&mut self, p: &ProcessSample) -> Result<(), StoreError> {
        let ProcessSample { pid, stat, status, rollup, cgroup, cmdline, namespaces, fds } = p;
        let pid = *pid;
        // Descriptors: the count, RLIMIT_NOFILE (soft, hard, units); an
        // unreadable one is a `process_errors` row (`fd`, `limits`).
        let mut fd_cols: [Option<i64>; 4] = [None; 4];
        if self.schema >= FDS_CGROUPS_SINCE
            && let Some(ProcessFds { count, nofile }) = fds
        {
            match count {
                Ok(c) => fd_cols[0] = Some(s(*c)),
                Err(e) => self.process_error(pid, "fd", e)?,
            }
            match nofile {
                Ok(ResourceLimit { soft, hard, units }) => {
                    fd_cols[1] = Some(rlimit_column(*soft));
                    fd_cols[2] = Some(rlimit_column(*hard));
                    fd_cols[3] = match units {
                        Some(t) => Some(self.strings.intern(self.tx, t)?),
                        None => None,
                    };
                }
                Err(e) => self.process_error(pid, "limits", e)?,
            }
        }
        let namespaces_id = match namespaces {
            None => None,
            Some(Ok(ns)) => {
                let Namespaces { ids } = ns;
                Some(self.strings.intern(self.tx, &serde_json::to_string(ids).expect("ids serialize"))?)
            }
            Some(Err(e)) => {
                self.process_error(pid, "ns", e)?;
                None
            }
        };
        let cmdline_id = match cmdline {
            Ok(args) => {
                Some(self.strings.intern(self.tx, &serde_json::to_string(args).expect("strings serialize"))?)
            }
            Err(e) => {
                self.process_error(pid, "cmdline", e)?;
                None
            }
        };
        let cgroup_id = match cgroup {
            Ok(c) => {
                let ProcCgroup { memberships, malformed } = c;
                self.malformed("cgroup", Some(pid), malformed)?;
                let json = serde_json::to_string(memberships).expect("memberships serialize");
                Some(self.strings.intern(self.tx, &json)?)
            }
            Err(e) => {
                self.process_error(pid, "cgroup", e)?;
                None
            }
        };
        let rollup_name = match rollup {
            Rollup::Read(_) => "read",
            Rollup::NoAddressSpace => "no_address_space",
            Rollup::OverBudget => "over_budget",
            Rollup::OverSizeCap => "over_size_cap",
            Rollup::NotRequested => "not_requested",
            Rollup::Failed(e) => {
                self.process_error(pid, "smaps_rollup", e)?;
                "failed"
            }
        };
        let st = match stat {
            Ok(st) => Some(st),
            Err(e) => {
                self.process_error(pid, "stat", e)?;
                None
            }
        };
        let comm_id = match st {
            Some(st) => Some(self.strings.intern(self.tx, &st.comm)?),
            None => None,
        };
        let g = |f: fn(&Stat) -> Option<u64>| st.and_then(f).map(s);
        let gi = |f: fn(&Stat) -> Option<i64>| st.and_then(f);
        use rusqlite::types::Value;
        let mut values: Vec<Value> = vec![
            self.id.into(),
            pid.into(),
            rollup_name.to_string().into(),
            cmdline_id.into(),
            cgroup_id.into(),
            namespaces_id.into(),
            comm_id.into(),
            st.map(|s| s.state.to_string()).into(),
            st.map(|s| s.ppid).into(),
            g(|s| s.minflt).into(),
            g(|s| s.majflt).into(),
            g(|s| s.utime_ticks).into(),
            g(|s| s.stime_ticks).into(),
            gi(|s| s.priority).into(),
            gi(|s| s.nice).into(),
            g(|s| s.num_threads).into(),
            g(|s| s.starttime_ticks).into(),
            g(|s| s.vsize_bytes).into(),
            g(|s| s.rss_pages).into(),
            g(|s| s.processor).into(),
            g(|s| s.rt_priority).into(),
            g(|s| s.policy).into(),
        ];
        let mut cols: Vec<&str> = PROCESS_COLUMNS.to_vec();
        if self.schema >= FDS_CGROUPS_SINCE {
            cols.extend(PROCESS_FD_COLUMNS);
            values.extend(fd_cols.map(Value::from));
        }
        let sql = format!(
            "INSERT INTO processes (snapshot_id, pid, {}) VALUES ({})",
            cols.join(", "),
            (1..=cols.len() + 2).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
        );
        self.tx.prepare_cached(&sql)?.execute(rusqlite::params_from_iter(values))?;
        if let Some(st) = st {
            // Every field of Stat is a column above; this fails to compile
            // when Stat gains one.
            let Stat {
                pid: _,
                comm: _,
                state: _,
                ppid: _,
                minflt: _,
                majflt: _,
                utime_ticks: _,
                stime_ticks: _,
                priority: _,
                nice: _,
                num_threads: _,
                starttime_ticks: _,
                vsize_bytes: _,
                rss_pages: _,
                processor: _,
                rt_priority: _,
                policy: _,
            } = st;
        }

        match status {
            Ok(stt) => {
                let Status { bytes, text, malformed } = stt;
                let mut values: Vec<rusqlite::types::Value> = vec![self.id.into(), i64::from(pid).into()];
                for k in STATUS_BYTES {
                    values.push(bytes.get(*k).map(|v| s(*v)).into());
                }
                for k in STATUS_TEXT {
                    let id = match text.get(*k) {
                        Some(t) => Some(self.strings.intern(self.tx, t)?),
                        None => None,
                    };
                    values.push(id.into());
                }
                for k in STATUS_NUMBERS {
                    values.push(text.get(*k).and_then(|t| canonical_number(t)).into());
                }
                let cols: Vec<&str> =
                    STATUS_BYTES.iter().chain(STATUS_TEXT).chain(STATUS_NUMBERS).copied().collect();
                let sql = format!(
                    "INSERT INTO process_status (snapshot_id, pid, {}) VALUES ({})",
                    cols.join(", "),
                    (1..=cols.len() + 2).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
                );
                self.tx.prepare_cached(&sql)?.execute(rusqlite::params_from_iter(values))?;
                self.malformed("status", Some(pid), malformed)?;
            }
            Err(e) => self.process_error(pid, "status", e)?,
        }

        if let Rollup::Read(r) = rollup {
            let SmapsRollup { bytes, malformed } = r;
            let mut values: Vec<rusqlite::types::Value> = vec![self.id.into(), i64::from(pid).into()];
            let fields: Vec<&str> = rollup_fields(self.schema).collect();
            for k in &fields {
                values.push(bytes.get(*k).map(|v| s(*v)).into());
            }
            let sql = format!(
                "INSERT INTO process_smaps_rollup (snapshot_id, pid, {}) VALUES ({})",
                fields.join(", "),
                (1..=fields.len() + 2).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
            );
            self.tx.prepare_cached(&sql)?.execute(rusqlite::params_from_iter(values))?;
            self.malformed("smaps_rollup", Some(pid), malformed)?;
        }
        Ok(())
    }
}

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

/// Areas are grouped by caller, flags, and whether `pages=` was printed.
type VmallocKey = (Option<String>, Vec<String>, bool);
/// The summed area, how many areas it stands for, pages per node.
type VmallocGroup = (VmallocArea, u64, BTreeMap<u32, u64>);

fn group_vmalloc(v: &Vmallocinfo) -> GroupedVmalloc {
    let mut groups: BTreeMap<VmallocKey, VmallocGroup> = BTreeMap::new();
    for a in &v.areas {
        let key = (a.caller.clone(), a.flags.clone(), a.pages.is_some());
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
    let mut out = snap.clone();
    if let Ok(v) = &mut out.vmallocinfo {
        v.areas = group_vmalloc(v).areas.into_iter().map(|(a, _)| a).collect();
    }
    if let Ok(z) = &mut out.zoneinfo {
        for zone in &mut z.zones {
            for p in &mut zone.pagesets {
                p.fields.retain(|k, _| PAGESET_FIELDS.contains(&k.as_str()));
            }
        }
    }
    match &out.slabinfo {
        Ok(sl) => {
            let names: std::collections::BTreeSet<&str> = sl.caches.iter().map(|c| c.name.as_str()).collect();
            out.slab_reclaimable.retain(|k, _| names.contains(k.as_str()));
        }
        Err(_) => out.slab_reclaimable.clear(),
    }
    for p in &mut out.processes {
        // A process is keyed by its /proc directory; the pid its `stat`
        // prints is not kept apart (they differ only in an edited tree).
        if let Ok(st) = &mut p.stat {
            st.pid = p.pid;
        }
        if let Ok(st) = &mut p.status {
            st.bytes.retain(|k, _| STATUS_BYTES.contains(&k.as_str()));
            st.text.retain(|k, v| {
                STATUS_TEXT.contains(&k.as_str())
                    || (STATUS_NUMBERS.contains(&k.as_str()) && canonical_number(v).is_some())
            });
        }
        if let Rollup::Read(r) = &mut p.rollup {
            r.bytes.retain(|k, _| rollup_fields(crate::SCHEMA_VERSION).any(|f| f == k));
        }
        if let Some(ProcessFds { nofile: Ok(l), .. }) = &mut p.fds {
            // RLIM_INFINITY is all ones, which the kernel prints `unlimited`.
            l.soft = rlimit_of(rlimit_column(l.soft));
            l.hard = rlimit_of(rlimit_column(l.hard));
        }
    }
    out.processes.sort_by_key(|p| p.pid);
    out
}

// ---------------------------------------------------------------- reading

/// What to read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parts {
    /// Everything.
    All,
    /// System files only (`processes` empty; the scan counts are kept).
    System,
}

/// Read snapshot `id` back.
pub(crate) fn read(
    conn: &rusqlite::Connection,
    strings: &mut Strings,
    schema: u32,
    id: i64,
    parts: Parts,
) -> Result<Snapshot, StoreError> {
    let row = conn
        .query_row(
            "SELECT taken_at_unix_ms, kernel, live, snapshot_version, page_size_bytes, percpu_first_chunk_pages, \
             possible_cpus, scan_listed, scan_gone, scan_no_address_space, scan_rollup_read, scan_rollup_denied, \
             scan_rollup_failed, scan_rollup_over_budget, scan_rollup_over_size, scan_elapsed_usec, \
             scan_worst_rollup_usec, scan_worst_rollup_pid, scan_filtered_out, scan_rollup_phase_usec, \
             scan_rollup_total_usec FROM snapshots WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, u32>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    [
                        r.get::<_, i64>(7)?,
                        r.get::<_, i64>(8)?,
                        r.get::<_, i64>(9)?,
                        r.get::<_, i64>(10)?,
                        r.get::<_, i64>(11)?,
                        r.get::<_, i64>(12)?,
                        r.get::<_, i64>(13)?,
                        r.get::<_, i64>(14)?,
                    ],
                    (r.get::<_, i64>(15)?, r.get::<_, i64>(16)?, r.get::<_, Option<u32>>(17)?),
                    (r.get::<_, i64>(18)?, r.get::<_, i64>(19)?, r.get::<_, i64>(20)?),
                ))
            },
        )
        .optional()?
        .ok_or(StoreError::NoSuchSnapshot { id })?;
    let (
        taken,
        kernel_text,
        live,
        version,
        page_size,
        percpu,
        cpus,
        counts,
        (elapsed, worst, worst_pid),
        more,
    ) = row;
    let (filtered_out, rollup_phase, rollup_total) = more;
    let mut r = Reader { conn, strings, id, schema };
    let samples = r.samples()?;

    let kernel = r.sample(&samples, "kernel", |_| {
        kernel_text
            .clone()
            .ok_or_else(|| StoreError::corrupt("snapshots.kernel", "NULL for a kernel that was read"))
    })?;
    let percpu_first_chunk_pages = r.sample(&samples, "percpu_first_chunk_pages", |_| {
        percpu.map(u).ok_or_else(|| StoreError::corrupt("snapshots.percpu_first_chunk_pages", "NULL"))
    })?;
    let possible_cpus = r.sample(&samples, "possible_cpus", |_| {
        cpus.map(u).ok_or_else(|| StoreError::corrupt("snapshots.possible_cpus", "NULL"))
    })?;
    let malformed = r.malformed()?;
    let mal = |source: &str, pid: Option<u32>| -> Vec<Malformed> {
        malformed.get(&(source.to_string(), pid)).cloned().unwrap_or_default()
    };

    let meminfo = r.sample(&samples, "meminfo", |r| {
        let mut m = r.meminfo(MEMINFO, MEMINFO_COUNT, 0)?;
        m.malformed = mal("meminfo", None);
        m.truncated = samples.get("meminfo").and_then(|s| s.truncated).unwrap_or(false);
        Ok(m)
    })?;
    let vmstat = r.sample(&samples, "vmstat", |r| {
        Ok(Vmstat { counters: r.counters(VMSTAT, 0)?, malformed: mal("vmstat", None) })
    })?;
    let zoneinfo = r.sample(&samples, "zoneinfo", |r| {
        let mut z = r.zoneinfo()?;
        z.malformed = mal("zoneinfo", None);
        Ok(z)
    })?;
    let buddyinfo = r.sample(&samples, "buddyinfo", |r| {
        let mut st = r.conn.prepare_cached(
            "SELECT node, zone, free_blocks FROM buddyinfo WHERE snapshot_id = ?1 ORDER BY idx",
        )?;
        let zones = st
            .query_map([r.id], |row| {
                Ok((row.get::<_, u32>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?))
            })?
            .map(|x| {
                let (node, zone, blocks) = x?;
                let free_blocks = blocks
                    .split_ascii_whitespace()
                    .map(|n| n.parse::<u64>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| StoreError::corrupt("buddyinfo.free_blocks", e.to_string()))?;
                Ok(BuddyZone { node, zone, free_blocks })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Buddyinfo { zones, malformed: mal("buddyinfo", None) })
    })?;
    let mut slab_reclaimable = BTreeMap::new();
    let slabinfo = r.sample(&samples, "slabinfo", |r| {
        let version = samples.get("slabinfo").and_then(|s| s.detail.clone()).unwrap_or_default();
        let mut st = r.conn.prepare_cached(
            "SELECT name, active_objs, num_objs, objsize, objperslab, pagesperslab, active_slabs, num_slabs, \
             reclaimable FROM slab_caches WHERE snapshot_id = ?1 ORDER BY idx",
        )?;
        let rows = st
            .query_map([r.id], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    [
                        row.get::<_, i64>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, i64>(5)?,
                        row.get::<_, i64>(6)?,
                        row.get::<_, i64>(7)?,
                    ],
                    row.get::<_, Option<bool>>(8)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut caches = Vec::with_capacity(rows.len());
        for (name_id, n, reclaimable) in rows {
            let name = r.strings.text(r.conn, name_id)?;
            if let Some(rc) = reclaimable {
                slab_reclaimable.insert(name.clone(), rc);
            }
            caches.push(SlabCache {
                name,
                active_objs: u(n[0]),
                num_objs: u(n[1]),
                objsize: u(n[2]),
                objperslab: u(n[3]),
                pagesperslab: u(n[4]),
                active_slabs: u(n[5]),
                num_slabs: u(n[6]),
            });
        }
        Ok(Slabinfo { version, caches, malformed: mal("slabinfo", None) })
    })?;
    let vmallocinfo = r.sample(&samples, "vmallocinfo", |r| {
        let mut st = r.conn.prepare_cached(
            "SELECT caller, flags, size_bytes, pages, nodes FROM vmalloc WHERE snapshot_id = ?1 ORDER BY idx",
        )?;
        let rows = st
            .query_map([r.id], |row| {
                Ok((
                    row.get::<_, Option<i64>>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, Option<i64>>(3)?,
                    row.get::<_, Option<String>>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut areas = Vec::with_capacity(rows.len());
        for (caller, flags, size, pages, nodes) in rows {
            let caller = match caller {
                Some(c) => Some(r.strings.text(r.conn, c)?),
                None => None,
            };
            let flags = r.strings.text(r.conn, flags)?;
            let nodes = match nodes {
                Some(t) => t
                    .split_ascii_whitespace()
                    .map(|p| {
                        let (n, v) = p.split_once('=')?;
                        Some((n.parse().ok()?, v.parse().ok()?))
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| StoreError::corrupt("vmalloc.nodes", t.clone()))?,
                None => Vec::new(),
            };
            areas.push(VmallocArea {
                size_bytes: u(size),
                caller,
                pages: ou(pages),
                phys: None,
                flags: flags.split_ascii_whitespace().map(str::to_string).collect(),
                nodes,
            });
        }
        Ok(Vmallocinfo { areas, malformed: mal("vmallocinfo", None) })
    })?;
    let iomem = r.sample(&samples, "iomem", |r| {
        let mut st = r.conn.prepare_cached(
            "SELECT depth, start, \"end\", name FROM iomem WHERE snapshot_id = ?1 ORDER BY idx",
        )?;
        let rows = st
            .query_map([r.id], |row| {
                Ok((
                    row.get::<_, u32>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut resources = Vec::with_capacity(rows.len());
        for (depth, start, end, name) in rows {
            resources.push(Resource {
                depth,
                start: u(start),
                end: u(end),
                name: r.strings.text(r.conn, name)?,
            });
        }
        Ok(Iomem { resources, malformed: mal("iomem", None) })
    })?;
    let firmware_memmap = if samples.contains_key("firmware_memmap") {
        Some(r.sample(&samples, "firmware_memmap", |r| {
            let mut st = r.conn.prepare_cached(
                "SELECT start, \"end\", kind FROM firmware_memmap WHERE snapshot_id = ?1 ORDER BY idx",
            )?;
            let ranges = st
                .query_map([r.id], |row| {
                    Ok(FirmwareRange { start: u(row.get(0)?), end: u(row.get(1)?), kind: row.get(2)? })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ranges)
        })?)
    } else {
        None
    };
    let hugepages = r.sample(&samples, "hugepages", |r| r.hugepage_pools(None))?;
    let nodes = r.sample(&samples, "nodes", |r| {
        let mut st =
            r.conn.prepare_cached("SELECT node, truncated FROM nodes WHERE snapshot_id = ?1 ORDER BY idx")?;
        let rows = st
            .query_map([r.id], |row| Ok((row.get::<_, u32>(0)?, row.get::<_, bool>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (node, truncated) in rows {
            let mut meminfo = r.meminfo(NODE_MEMINFO, NODE_MEMINFO_COUNT, i64::from(node))?;
            meminfo.truncated = truncated;
            meminfo.malformed = mal(&format!("node{node}/meminfo"), None);
            out.push(NodeMemory { node, meminfo, hugepages: r.hugepage_pools(Some(node))? });
        }
        Ok(out)
    })?;
    let sockstat = r.sample(&samples, "sockstat", |r| {
        Ok(Sockstat { protocols: r.protocols(SOCKSTAT)?, malformed: mal("sockstat", None) })
    })?;
    let sockstat6 = r.sample(&samples, "sockstat6", |r| {
        Ok(Sockstat { protocols: r.protocols(SOCKSTAT6)?, malformed: mal("sockstat6", None) })
    })?;
    let arcstats = r.sample(&samples, "arcstats", |r| {
        Ok(Arcstats { values: r.counters(ARCSTATS, 0)?, malformed: mal("arcstats", None) })
    })?;
    let fd_system = if schema >= FDS_CGROUPS_SINCE && samples.contains_key(FD_SYSTEM_SOURCES[0]) {
        Some(r.fd_system(&samples)?)
    } else {
        None
    };
    let cgroups = if schema >= FDS_CGROUPS_SINCE && samples.contains_key(MEMORY_CGROUPS) {
        Some(r.sample(&samples, MEMORY_CGROUPS, |r| r.memory_cgroups())?)
    } else {
        None
    };
    let pressure = if schema >= PRESSURE_SINCE && samples.contains_key(PRESSURE_MEMORY) {
        Some(r.sample(&samples, PRESSURE_MEMORY, |r| r.pressure(mal(PRESSURE_MEMORY, None)))?)
    } else {
        None
    };
    let processes = match parts {
        Parts::All => r.processes(&malformed)?,
        Parts::System => Vec::new(),
    };
    let scan = ProcessScan {
        listed: counts[0] as usize,
        gone: counts[1] as usize,
        no_address_space: counts[2] as usize,
        rollup_read: counts[3] as usize,
        rollup_denied: counts[4] as usize,
        rollup_failed: counts[5] as usize,
        rollup_over_budget: counts[6] as usize,
        rollup_over_size: counts[7] as usize,
        filtered_out: filtered_out as usize,
        elapsed_usec: u(elapsed),
        rollup_phase_usec: u(rollup_phase),
        rollup_total_usec: u(rollup_total),
        worst_rollup_usec: u(worst),
        worst_rollup_pid: worst_pid,
    };
    Ok(Snapshot {
        version,
        taken_at_unix_ms: u(taken),
        live,
        kernel,
        page_size_bytes: ou(page_size),
        meminfo,
        vmstat,
        zoneinfo,
        buddyinfo,
        slabinfo,
        slab_reclaimable,
        vmallocinfo,
        iomem,
        firmware_memmap,
        hugepages,
        nodes,
        sockstat,
        sockstat6,
        arcstats,
        balloon_drivers: samples.get("balloon_drivers").map(|s| {
            s.detail.as_deref().unwrap_or_default().split_whitespace().map(str::to_string).collect()
        }),
        percpu_first_chunk_pages,
        possible_cpus,
        fd_system,
        cgroups,
        pressure,
        processes,
        scan,
    })
}

/// One `samples` row.
struct SampleRow {
    error: Option<String>,
    detail: Option<String>,
    truncated: Option<bool>,
}

type MalformedMap = HashMap<(String, Option<u32>), Vec<Malformed>>;

struct Reader<'a> {
    conn: &'a rusqlite::Connection,
    strings: &'a mut Strings,
    id: i64,
    schema: u32,
}

impl Reader<'_> {
    fn pressure(&mut self, malformed: Vec<Malformed>) -> Result<Pressure, StoreError> {
        type Cols = (Option<f64>, Option<f64>, Option<f64>, Option<i64>);
        let (some, full): (Cols, Cols) = self.conn.query_row(
            "SELECT pressure_some_avg10, pressure_some_avg60, pressure_some_avg300, pressure_some_total_usec, \
             pressure_full_avg10, pressure_full_avg60, pressure_full_avg300, pressure_full_total_usec \
             FROM snapshots WHERE id = ?1",
            [self.id],
            |r| Ok(((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?), (r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))),
        )?;
        let line = |c: Cols, what: &str| match c {
            (Some(avg10), Some(avg60), Some(avg300), Some(t)) => {
                Ok(Some(PsiLine { avg10, avg60, avg300, total_usec: u(t) }))
            }
            (None, None, None, None) => Ok(None),
            _ => Err(StoreError::corrupt(&format!("snapshots.pressure_{what}_*"), "some columns NULL")),
        };
        Ok(Pressure { some: line(some, "some")?, full: line(full, "full")?, malformed })
    }

    fn fd_system(&mut self, samples: &HashMap<String, SampleRow>) -> Result<FdSystem, StoreError> {
        let cols: [Option<i64>; 7] = self.conn.query_row(
            "SELECT file_nr_allocated, file_nr_free, file_max, nr_open, inotify_max_user_instances, \
             inotify_max_user_watches, epoll_max_user_watches FROM snapshots WHERE id = ?1",
            [self.id],
            |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?]),
        )?;
        let [file_nr, nr_open, inst, watches, epoll] = FD_SYSTEM_SOURCES;
        let one = |r: &mut Self, source: &str, col: Option<i64>| {
            r.sample(samples, source, |_| {
                col.map(u).ok_or_else(|| StoreError::corrupt(&format!("snapshots.{source}"), "NULL"))
            })
        };
        Ok(FdSystem {
            file_nr: self.sample(samples, file_nr, |_| match (cols[0], cols[1], cols[2]) {
                (Some(a), Some(f), Some(m)) => Ok(FileNr { allocated: u(a), free: u(f), max: u(m) }),
                _ => Err(StoreError::corrupt("snapshots.file_nr_allocated", "NULL")),
            })?,
            nr_open: one(self, nr_open, cols[3])?,
            inotify_max_user_instances: one(self, inst, cols[4])?,
            inotify_max_user_watches: one(self, watches, cols[5])?,
            epoll_max_user_watches: one(self, epoll, cols[6])?,
        })
    }

    fn memory_cgroups(&mut self) -> Result<CgroupSample, StoreError> {
        let total: Option<i64> = self.conn.query_row(
            "SELECT memory_cgroups_total FROM snapshots WHERE id = ?1",
            [self.id],
            |r| r.get(0),
        )?;
        let total = total.ok_or_else(|| StoreError::corrupt("snapshots.memory_cgroups_total", "NULL"))?;
        type CgroupRow = (i64, i64, [Option<i64>; 3], [Option<String>; 3]);
        let rows: Vec<CgroupRow> = self
            .conn
            .prepare_cached(
                "SELECT path, version, current_bytes, limit_bytes, oom_kills, current_error, limit_error, \
                 oom_kills_error FROM memory_cgroups WHERE snapshot_id = ?1 ORDER BY idx",
            )?
            .query_map([self.id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    [r.get(2)?, r.get(3)?, r.get(4)?],
                    [r.get(5)?, r.get(6)?, r.get(7)?],
                ))
            })?
            .collect::<Result<_, _>>()?;
        let mut cgroups = Vec::with_capacity(rows.len());
        for (path, version, [current, limit, kills], [current_err, limit_err, kills_err]) in rows {
            let path = self.strings.text(self.conn, path)?;
            let what = |col: &str| format!("memory_cgroups.{col} of {path}");
            let version = match version {
                1 => CgroupVersion::V1,
                2 => CgroupVersion::V2,
                v => return Err(StoreError::corrupt(&what("version"), format!("{v} is not 1 or 2"))),
            };
            let value = |v: Option<i64>, e: Option<String>, col: &str| -> Result<Sample<u64>, StoreError> {
                match (e, v) {
                    (Some(e), _) => Ok(Err(err_from(&e, &what(col))?)),
                    (None, Some(v)) => Ok(Ok(u(v))),
                    (None, None) => Err(StoreError::corrupt(&what(col), "NULL without an error")),
                }
            };
            let limit = match (limit_err, limit) {
                (Some(e), _) => Err(err_from(&e, &what("limit_error"))?),
                (None, Some(v)) => Ok(CgroupLimit::Value(u(v))),
                (None, None) => Ok(CgroupLimit::Max),
            };
            cgroups.push(CgroupMemory {
                version,
                current_bytes: value(current, current_err, "current_bytes")?,
                limit,
                oom_kills: value(kills, kills_err, "oom_kills")?,
                path,
            });
        }
        Ok(CgroupSample { cgroups, total: total as usize })
    }

    fn samples(&mut self) -> Result<HashMap<String, SampleRow>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT source, error, detail, truncated FROM samples WHERE snapshot_id = ?1")?;
        let rows = st.query_map([self.id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                SampleRow { error: r.get(1)?, detail: r.get(2)?, truncated: r.get(3)? },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A sample: its error if it had one, else what `read` builds.
    fn sample<T>(
        &mut self,
        samples: &HashMap<String, SampleRow>,
        source: &str,
        read: impl FnOnce(&mut Self) -> Result<T, StoreError>,
    ) -> Result<Sample<T>, StoreError> {
        match samples.get(source) {
            None => Err(StoreError::corrupt(&format!("samples.{source}"), "no row for this snapshot")),
            Some(SampleRow { error: Some(e), .. }) => Ok(Err(err_from(e, &format!("samples.{source}"))?)),
            Some(_) => Ok(Ok(read(self)?)),
        }
    }

    fn malformed(&mut self) -> Result<MalformedMap, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT source, pid, line, text FROM malformed WHERE snapshot_id = ?1 ORDER BY rowid",
        )?;
        let mut out: MalformedMap = HashMap::new();
        let rows = st.query_map([self.id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<u32>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in rows {
            let (source, pid, line, text) = row?;
            out.entry((source, pid)).or_default().push(Malformed { line: line as usize, text });
        }
        Ok(out)
    }

    fn counters(&mut self, source: i64, scope: i64) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT key, value FROM counters WHERE snapshot_id = ?1 AND source = ?2 AND scope = ?3",
        )?;
        let rows = st
            .query_map(params![self.id, source, scope], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = BTreeMap::new();
        for (k, v) in rows {
            out.insert(self.strings.text(self.conn, k)?, u(v));
        }
        Ok(out)
    }

    fn protocols(&mut self, source: i64) -> Result<BTreeMap<String, BTreeMap<String, u64>>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT DISTINCT scope FROM counters WHERE snapshot_id = ?1 AND source = ?2")?;
        let scopes =
            st.query_map(params![self.id, source], |r| r.get::<_, i64>(0))?.collect::<Result<Vec<_>, _>>()?;
        let mut out = BTreeMap::new();
        for scope in scopes {
            let proto = self.strings.text(self.conn, scope)?;
            out.insert(proto, self.counters(source, scope)?);
        }
        Ok(out)
    }

    fn meminfo(&mut self, bytes_src: i64, count_src: i64, scope: i64) -> Result<Meminfo, StoreError> {
        Ok(Meminfo {
            bytes: self.counters(bytes_src, scope)?,
            counts: self.counters(count_src, scope)?,
            malformed: Vec::new(),
            truncated: false,
        })
    }

    fn zoneinfo(&mut self) -> Result<Zoneinfo, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT idx, node, zone, start_pfn, node_unreclaimable, protection FROM zones WHERE snapshot_id = ?1 \
             ORDER BY idx",
        )?;
        let rows = st
            .query_map([self.id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut zones = Vec::with_capacity(rows.len());
        for (idx, node, zone, start_pfn, unreclaimable, protection) in rows {
            let protection = protection
                .split_ascii_whitespace()
                .map(|p| p.parse::<u64>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::corrupt("zones.protection", e.to_string()))?;
            let mut ps = self.conn.prepare_cached(
                "SELECT cpu, count, high, batch, high_min, high_max, vm_stats_threshold FROM zone_pagesets \
                 WHERE snapshot_id = ?1 AND zone_idx = ?2 ORDER BY idx",
            )?;
            let pagesets = ps
                .query_map(params![self.id, idx], |r| {
                    let mut fields = BTreeMap::new();
                    for (i, k) in PAGESET_FIELDS.iter().enumerate() {
                        if let Some(v) = r.get::<_, Option<i64>>(i + 1)? {
                            fields.insert(k.to_string(), u(v));
                        }
                    }
                    Ok(Pageset { cpu: r.get(0)?, fields })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            zones.push(Zone {
                node,
                zone,
                fields: self.counters(ZONE, idx)?,
                protection,
                node_stats: self.counters(ZONE_NODE_STATS, idx)?,
                pagesets,
                start_pfn: ou(start_pfn),
                node_unreclaimable: ou(unreclaimable),
            });
        }
        Ok(Zoneinfo { zones, malformed: Vec::new() })
    }

    fn hugepage_pools(&mut self, node: Option<u32>) -> Result<Vec<HugepagePool>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT page_size_bytes, nr_hugepages, free_hugepages, resv_hugepages, surplus_hugepages \
             FROM hugepage_pools WHERE snapshot_id = ?1 AND node IS ?2 ORDER BY rowid",
        )?;
        let pools = st
            .query_map(params![self.id, node], |r| {
                Ok(HugepagePool {
                    page_size_bytes: u(r.get(0)?),
                    nr_hugepages: ou(r.get(1)?),
                    free_hugepages: ou(r.get(2)?),
                    resv_hugepages: ou(r.get(3)?),
                    surplus_hugepages: ou(r.get(4)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(pools)
    }

    fn processes(&mut self, malformed: &MalformedMap) -> Result<Vec<ProcessSample>, StoreError> {
        let mal = |source: &str, pid: u32| {
            malformed.get(&(source.to_string(), Some(pid))).cloned().unwrap_or_default()
        };
        let mut errors: HashMap<(u32, String), ReadError> = HashMap::new();
        {
            let mut st = self
                .conn
                .prepare_cached("SELECT pid, file, error FROM process_errors WHERE snapshot_id = ?1")?;
            let rows = st.query_map([self.id], |r| {
                Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })?;
            for row in rows {
                let (pid, file, e) = row?;
                let e = err_from(&e, "process_errors.error")?;
                errors.insert((pid, file), e);
            }
        }
        let mut take_err = |pid: u32, file: &str| errors.remove(&(pid, file.to_string()));

        let status_cols: Vec<&str> =
            STATUS_BYTES.iter().chain(STATUS_TEXT).chain(STATUS_NUMBERS).copied().collect();
        let mut statuses: HashMap<u32, Vec<Option<i64>>> = HashMap::new();
        {
            let sql =
                format!("SELECT pid, {} FROM process_status WHERE snapshot_id = ?1", status_cols.join(", "));
            let mut st = self.conn.prepare_cached(&sql)?;
            let rows = st.query_map([self.id], |r| {
                let vals = (0..status_cols.len())
                    .map(|i| r.get::<_, Option<i64>>(i + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((r.get::<_, u32>(0)?, vals))
            })?;
            for row in rows {
                let (pid, vals) = row?;
                statuses.insert(pid, vals);
            }
        }
        let mut rollups: HashMap<u32, BTreeMap<String, u64>> = HashMap::new();
        {
            let fields: Vec<&str> = rollup_fields(self.schema).collect();
            let sql =
                format!("SELECT pid, {} FROM process_smaps_rollup WHERE snapshot_id = ?1", fields.join(", "));
            let mut st = self.conn.prepare_cached(&sql)?;
            let rows = st.query_map([self.id], |r| {
                let mut bytes = BTreeMap::new();
                for (i, k) in fields.iter().enumerate() {
                    if let Some(v) = r.get::<_, Option<i64>>(i + 1)? {
                        bytes.insert(k.to_string(), u(v));
                    }
                }
                Ok((r.get::<_, u32>(0)?, bytes))
            })?;
            for row in rows {
                let (pid, bytes) = row?;
                rollups.insert(pid, bytes);
            }
        }

        type ProcRow = (
            u32,
            String,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<u32>,
            [Option<i64>; 13],
            Option<i64>,
        );
        let with_fds = self.schema >= FDS_CGROUPS_SINCE;
        let fd_select = if with_fds { format!(", {}", PROCESS_FD_COLUMNS.join(", ")) } else { String::new() };
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT pid, rollup, cmdline, cgroup, comm, state, ppid, minflt, majflt, utime_ticks, stime_ticks, \
             priority, nice, num_threads, starttime_ticks, vsize_bytes, rss_pages, processor, rt_priority, policy, \
             namespaces{fd_select} FROM processes WHERE snapshot_id = ?1 ORDER BY pid",
        ))?;
        let rows: Vec<(ProcRow, [Option<i64>; 4])> = st
            .query_map([self.id], |r| {
                let mut n = [None; 13];
                for (i, slot) in n.iter_mut().enumerate() {
                    *slot = r.get::<_, Option<i64>>(i + 7)?;
                }
                let mut fd = [None; 4];
                if with_fds {
                    for (i, slot) in fd.iter_mut().enumerate() {
                        *slot = r.get::<_, Option<i64>>(i + 21)?;
                    }
                }
                Ok((
                    (
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        n,
                        r.get(20)?,
                    ),
                    fd,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for ((pid, rollup, cmdline, cgroup, comm, state, ppid, n, ns), fd) in rows {
            let what = |w: &str| format!("processes.{w} of pid {pid}");
            let cmdline = match (take_err(pid, "cmdline"), cmdline) {
                (Some(e), _) => Err(e),
                (None, Some(id)) => {
                    Ok(serde_json::from_str::<Vec<String>>(&self.strings.text(self.conn, id)?)
                        .map_err(|e| StoreError::corrupt(&what("cmdline"), e.to_string()))?)
                }
                (None, None) => return Err(StoreError::corrupt(&what("cmdline"), "NULL without an error")),
            };
            let cgroup = match (take_err(pid, "cgroup"), cgroup) {
                (Some(e), _) => Err(e),
                (None, Some(id)) => Ok(ProcCgroup {
                    memberships: serde_json::from_str::<Vec<Membership>>(&self.strings.text(self.conn, id)?)
                        .map_err(|e| StoreError::corrupt(&what("cgroup"), e.to_string()))?,
                    malformed: mal("cgroup", pid),
                }),
                (None, None) => return Err(StoreError::corrupt(&what("cgroup"), "NULL without an error")),
            };
            let stat = match (take_err(pid, "stat"), comm, state, ppid) {
                (Some(e), ..) => Err(e),
                (None, Some(comm), Some(state), Some(ppid)) => {
                    let mut chars = state.chars();
                    let state = chars.next().ok_or_else(|| StoreError::corrupt(&what("state"), "empty"))?;
                    let nu = |i: usize| n[i].map(u);
                    Ok(Stat {
                        pid,
                        comm: self.strings.text(self.conn, comm)?,
                        state,
                        ppid,
                        minflt: nu(0),
                        majflt: nu(1),
                        utime_ticks: nu(2),
                        stime_ticks: nu(3),
                        priority: n[4],
                        nice: n[5],
                        num_threads: nu(6),
                        starttime_ticks: nu(7),
                        vsize_bytes: nu(8),
                        rss_pages: nu(9),
                        processor: nu(10),
                        rt_priority: nu(11),
                        policy: nu(12),
                    })
                }
                _ => return Err(StoreError::corrupt(&what("stat"), "NULL without an error")),
            };
            let status = match (take_err(pid, "status"), statuses.remove(&pid)) {
                (Some(e), _) => Err(e),
                (None, Some(vals)) => {
                    let mut st = Status { malformed: mal("status", pid), ..Status::default() };
                    for (i, k) in status_cols.iter().enumerate() {
                        let Some(v) = vals[i] else { continue };
                        if i < STATUS_BYTES.len() {
                            st.bytes.insert(k.to_string(), u(v));
                        } else if i < STATUS_BYTES.len() + STATUS_TEXT.len() {
                            st.text.insert(k.to_string(), self.strings.text(self.conn, v)?);
                        } else {
                            st.text.insert(k.to_string(), v.to_string());
                        }
                    }
                    Ok(st)
                }
                (None, None) => return Err(StoreError::corrupt(&what("status"), "no row without an error")),
            };
            let rollup = match rollup.as_str() {
                "read" => Rollup::Read(SmapsRollup {
                    bytes: rollups.remove(&pid).unwrap_or_default(),
                    malformed: mal("smaps_rollup", pid),
                }),
                "no_address_space" => Rollup::NoAddressSpace,
                "over_budget" => Rollup::OverBudget,
                "over_size_cap" => Rollup::OverSizeCap,
                "not_requested" => Rollup::NotRequested,
                "failed" => Rollup::Failed(
                    take_err(pid, "smaps_rollup")
                        .ok_or_else(|| StoreError::corrupt(&what("rollup"), "failed without an error"))?,
                ),
                other => {
                    return Err(StoreError::corrupt(&what("rollup"), format!("unknown outcome {other:?}")));
                }
            };
            let namespaces = match (take_err(pid, "ns"), ns) {
                (Some(e), _) => Some(Err(e)),
                (None, Some(id)) => Some(Ok(Namespaces {
                    ids: serde_json::from_str(&self.strings.text(self.conn, id)?)
                        .map_err(|e| StoreError::corrupt(&what("namespaces"), e.to_string()))?,
                })),
                (None, None) => None,
            };
            let [fd_count, soft, hard, units] = fd;
            let fds = match (take_err(pid, "fd"), take_err(pid, "limits"), fd_count, soft) {
                (None, None, None, None) => None,
                (count_err, limits_err, count, soft) => {
                    let count = match (count_err, count) {
                        (Some(e), _) => Err(e),
                        (None, Some(c)) => Ok(u(c)),
                        (None, None) => {
                            return Err(StoreError::corrupt(&what("fd_count"), "NULL without an error"));
                        }
                    };
                    let nofile = match (limits_err, soft, hard) {
                        (Some(e), ..) => Err(e),
                        (None, Some(soft), Some(hard)) => Ok(ResourceLimit {
                            soft: rlimit_of(soft),
                            hard: rlimit_of(hard),
                            units: match units {
                                Some(id) => Some(self.strings.text(self.conn, id)?),
                                None => None,
                            },
                        }),
                        _ => return Err(StoreError::corrupt(&what("nofile_soft"), "NULL without an error")),
                    };
                    Some(ProcessFds { count, nofile })
                }
            };
            out.push(ProcessSample { pid, stat, status, rollup, cgroup, cmdline, namespaces, fds });
        }
        Ok(out)
    }
}
