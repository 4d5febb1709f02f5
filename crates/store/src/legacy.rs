//! Reading snapshots of databases written before the store kept documents
//! (schema versions 1 to 6): one table per kernel file, rebuilt field by
//! field. The layout is frozen: these databases are only read, by a
//! read-only open and by the migration to documents
//! ([`crate::docs`], [`crate::Store::open`]), never written.
//!
//! Descriptors and memory cgroups have columns and a table since schema
//! version 3, the system's memory pressure columns since version 4; a
//! database of an older version reads back without them.
//!
//! Unsigned values are stored as SQLite's signed 64-bit integers, bit for
//! bit: a value of 2^63 or more reads as negative in SQL and exactly in Rust.

use std::collections::{BTreeMap, HashMap};

use memscope_kernel::ReadError;
use memscope_kernel::parse::arcstats::Arcstats;
use memscope_kernel::parse::buddyinfo::{BuddyZone, Buddyinfo};
use memscope_kernel::parse::cgroupfs::Limit as CgroupLimit;
use memscope_kernel::parse::file_nr::FileNr;
use memscope_kernel::parse::iomem::{Iomem, Resource};
use memscope_kernel::parse::meminfo::Meminfo;
use memscope_kernel::parse::pid::cgroup::{Membership, ProcCgroup};
use memscope_kernel::parse::pid::limits::ResourceLimit;
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
use memscope_kernel::parse::{FieldName, Malformed, field_name};
use memscope_kernel::read::{FirmwareRange, HugepagePool, NodeMemory};
use memscope_model::{
    CgroupMemory, CgroupSample, CgroupVersion, FdSystem, ProcessFds, ProcessSample, ProcessScan, Rollup,
    Sample, Snapshot,
};
use rusqlite::{OptionalExtension, params};

use crate::rows::{
    PAGESET_FIELDS, Parts, ROLLUP_FIELDS, STATUS_BYTES, STATUS_NUMBERS, STATUS_TEXT, rlimit_of,
};
use crate::{StoreError, Strings};

/// Columns of `processes` added by schema version 3 (descriptors).
const PROCESS_FD_COLUMNS: [&str; 4] = ["fd_count", "nofile_soft", "nofile_hard", "nofile_units"];

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

fn u(v: i64) -> u64 {
    v as u64
}

fn ou(v: Option<i64>) -> Option<u64> {
    v.map(u)
}

fn err_from(json: &str, what: &str) -> Result<ReadError, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::corrupt(what, format!("error column: {e}")))
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
        Ok(std::sync::Arc::new(Vmallocinfo { areas, malformed: mal("vmallocinfo", None) }))
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
        rollup_carried: 0,
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
        // Recordings of this layout read every file in every snapshot.
        slabinfo_age_ms: None,
        vmallocinfo_age_ms: None,
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
                ledger: None,
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
        let mut rollups: HashMap<u32, BTreeMap<FieldName, u64>> = HashMap::new();
        {
            let fields: Vec<&str> = rollup_fields(self.schema).collect();
            let sql =
                format!("SELECT pid, {} FROM process_smaps_rollup WHERE snapshot_id = ?1", fields.join(", "));
            let mut st = self.conn.prepare_cached(&sql)?;
            let rows = st.query_map([self.id], |r| {
                let mut bytes = BTreeMap::new();
                for (i, k) in fields.iter().enumerate() {
                    if let Some(v) = r.get::<_, Option<i64>>(i + 1)? {
                        bytes.insert(field_name(k), u(v));
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
                        kernel_thread: false,
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
                            st.bytes.insert(field_name(k), u(v));
                        } else if i < STATUS_BYTES.len() + STATUS_TEXT.len() {
                            st.text.insert(field_name(k), self.strings.text(self.conn, v)?);
                        } else {
                            st.text.insert(field_name(k), v.to_string());
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
            out.push(ProcessSample {
                pid,
                stat,
                status: status.map(std::sync::Arc::new),
                rollup,
                cgroup: cgroup.map(std::sync::Arc::new),
                cmdline,
                namespaces,
                fds,
                pss_age_ms: None,
                exe: None,
            });
        }
        Ok(out)
    }
}
