//! Two snapshots compared: the ledger line by line, and the top movers among
//! processes (by command line, as `leaks` follows them), slab caches and
//! vmalloc callers; when the snapshots hold them, open descriptors (by
//! command line), the system's open files (`file-nr`) and memory cgroups,
//! each with the change of every line of its ledger when the snapshots keep
//! its split ([`crate::cgroup_history::line_changes`]).

use std::collections::BTreeMap;

use memscope_kernel::parse::cgroupfs::Limit as CgroupLimit;
use memscope_model::Snapshot;
use serde::Serialize;

pub use crate::cgroup_history::CgroupLineDiff;
use crate::cgroup_history::line_changes;
use crate::leaks::command_key;
use crate::ledger::{self, Ledger, LedgerError, LedgerOptions};
use crate::processes;

/// One ledger line in both snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineDiff {
    /// Category key.
    pub category: &'static str,
    /// Sub-name (cache, caller, page size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The line it details, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<&'static str>,
    /// Bytes in the earlier snapshot (`None`: unavailable or absent).
    pub from_bytes: Option<i64>,
    /// Bytes in the later snapshot.
    pub to_bytes: Option<i64>,
    /// `to − from`, when both are known.
    pub delta_bytes: Option<i64>,
}

/// Something that moved: a command's processes, a cache, a caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mover {
    /// Command line, cache or caller.
    pub name: String,
    /// `pss` or `rss` (processes), `bytes` otherwise.
    pub metric: &'static str,
    /// Bytes before (0 when it did not exist).
    pub from_bytes: i64,
    /// Bytes after (0 when it no longer exists).
    pub to_bytes: i64,
    /// `to − from`.
    pub delta_bytes: i64,
    /// Processes before and after (processes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<(usize, usize)>,
}

/// The comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// When the earlier snapshot was taken.
    pub from_unix_ms: u64,
    /// When the later one was.
    pub to_unix_ms: u64,
    /// Kernel releases, if they differ (a reboot in between).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernels: Option<(String, String)>,
    /// `unaccounted` before and after.
    pub unaccounted_from_bytes: i64,
    /// After.
    pub unaccounted_to_bytes: i64,
    /// Ledger lines (top-level and the default details), in ledger order.
    pub ledger: Vec<LineDiff>,
    /// Largest movers by |delta|.
    pub processes: Vec<Mover>,
    /// Largest slab cache movers.
    pub slab_caches: Vec<Mover>,
    /// Largest vmalloc caller movers.
    pub vmalloc_callers: Vec<Mover>,
    /// Largest movers in open descriptors, by command line; `None` when a
    /// snapshot holds no descriptor counts.
    pub process_fds: Option<Vec<FdMover>>,
    /// The system's open files; `None` when a snapshot lacks `file-nr`.
    pub file_nr: Option<FileNrDiff>,
    /// Largest memory cgroup movers; `None` when a snapshot holds no
    /// memory cgroups.
    pub cgroups: Option<Vec<CgroupMover>>,
    /// The OOM kills between the two snapshots, as the recording kept them
    /// (set by the reader of the recording; `None`: not looked up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_kills: Option<memscope_model::oom::OomTimeline>,
}

/// Open descriptors of one command line's processes, summed, in both
/// snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FdMover {
    /// Command line.
    pub name: String,
    /// Descriptors before (0 when it did not run).
    pub from_fds: u64,
    /// Descriptors after (0 when it no longer runs).
    pub to_fds: u64,
    /// `to − from`.
    pub delta_fds: i64,
    /// Processes counted before and after.
    pub processes: (usize, usize),
    /// The lowest soft `RLIMIT_NOFILE` among its processes in the later
    /// snapshot (`None`: unlimited, unread, or gone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nofile_soft: Option<u64>,
}

/// `/proc/sys/fs/file-nr` in both snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileNrDiff {
    /// Allocated file objects before.
    pub from_allocated: u64,
    /// After.
    pub to_allocated: u64,
    /// `to − from`.
    pub delta: i64,
    /// `file-max` in the later snapshot.
    pub file_max: u64,
}

/// One memory cgroup in both snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupMover {
    /// Cgroup path.
    pub path: String,
    /// Charge before (0 when it did not exist or was unreadable).
    pub from_bytes: i64,
    /// Charge after (0 when it no longer exists or was unreadable).
    pub to_bytes: i64,
    /// `to − from`.
    pub delta_bytes: i64,
    /// Its limit in the later snapshot (`None`: no limit, or unread).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<i64>,
    /// OOM kills between the two snapshots, when both were read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_kills: Option<i64>,
    /// The change of each line of its ledger (empty when neither snapshot
    /// keeps its split).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<CgroupLineDiff>,
}

/// Compare `a` (earlier) with `b` (later), keeping `top` movers of each kind.
pub fn diff(a: &Snapshot, b: &Snapshot, top: usize) -> Result<Diff, LedgerError> {
    let la = ledger::build(a, &LedgerOptions::default())?;
    let lb = ledger::build(b, &LedgerOptions::default())?;
    let all = LedgerOptions { top_caches: usize::MAX, top_callers: usize::MAX };
    let fa = ledger::build(a, &all)?;
    let fb = ledger::build(b, &all)?;
    let kernels = match (&a.kernel, &b.kernel) {
        (Ok(x), Ok(y)) if x != y => Some((x.clone(), y.clone())),
        _ => None,
    };
    Ok(Diff {
        from_unix_ms: a.taken_at_unix_ms,
        to_unix_ms: b.taken_at_unix_ms,
        kernels,
        unaccounted_from_bytes: la.unaccounted_bytes,
        unaccounted_to_bytes: lb.unaccounted_bytes,
        ledger: line_diffs(&la, &lb),
        processes: top_movers(process_bytes(a), process_bytes(b), top),
        slab_caches: top_movers(named(&fa, "slab_cache"), named(&fb, "slab_cache"), top),
        vmalloc_callers: top_movers(named(&fa, "vmalloc_caller"), named(&fb, "vmalloc_caller"), top),
        process_fds: fd_movers(a, b, top),
        file_nr: file_nr_diff(a, b),
        cgroups: cgroup_movers(a, b, top),
        oom_kills: None,
    })
}

/// One command's descriptors in one snapshot: the sum of its processes'
/// counts, how many processes were counted, the lowest finite soft limit.
type FdCount = (u64, usize, Option<u64>);

/// Descriptors per command line.
fn fd_counts(s: &Snapshot) -> Option<BTreeMap<String, FdCount>> {
    s.fd_system.as_ref()?;
    let mut out: BTreeMap<String, FdCount> = BTreeMap::new();
    for p in &s.processes {
        let Some(f) = &p.fds else { continue };
        let Ok(n) = f.count else { continue };
        let e = out.entry(command_key(p)).or_default();
        e.0 += n;
        e.1 += 1;
        if let Some(soft) = f.nofile.as_ref().ok().and_then(|l| l.soft.value()) {
            e.2 = Some(e.2.map_or(soft, |x| x.min(soft)));
        }
    }
    Some(out)
}

fn fd_movers(a: &Snapshot, b: &Snapshot, top: usize) -> Option<Vec<FdMover>> {
    let (x, y) = (fd_counts(a)?, fd_counts(b)?);
    let mut names: Vec<&String> = x.keys().chain(y.keys()).collect();
    names.sort();
    names.dedup();
    let mut out: Vec<FdMover> = names
        .into_iter()
        .map(|n| {
            let (from, pa, _) = x.get(n).copied().unwrap_or_default();
            let (to, pb, soft) = y.get(n).copied().unwrap_or_default();
            FdMover {
                name: n.clone(),
                from_fds: from,
                to_fds: to,
                delta_fds: to as i64 - from as i64,
                processes: (pa, pb),
                nofile_soft: soft,
            }
        })
        .filter(|m| m.delta_fds != 0)
        .collect();
    out.sort_by(|p, q| q.delta_fds.abs().cmp(&p.delta_fds.abs()).then(p.name.cmp(&q.name)));
    out.truncate(top);
    Some(out)
}

fn file_nr_diff(a: &Snapshot, b: &Snapshot) -> Option<FileNrDiff> {
    let x = a.fd_system.as_ref()?.file_nr.as_ref().ok()?;
    let y = b.fd_system.as_ref()?.file_nr.as_ref().ok()?;
    Some(FileNrDiff {
        from_allocated: x.allocated,
        to_allocated: y.allocated,
        delta: y.allocated as i64 - x.allocated as i64,
        file_max: y.max,
    })
}

fn cgroup_movers(a: &Snapshot, b: &Snapshot, top: usize) -> Option<Vec<CgroupMover>> {
    let (x, y) = (a.cgroups.as_ref()?.as_ref().ok()?, b.cgroups.as_ref()?.as_ref().ok()?);
    let mut paths: Vec<&String> = x.cgroups.iter().chain(&y.cgroups).map(|c| &c.path).collect();
    paths.sort();
    paths.dedup();
    let mut out: Vec<CgroupMover> = paths
        .into_iter()
        .map(|p| {
            let (before, after) = (x.get(p), y.get(p));
            let current = |c: Option<&memscope_model::CgroupMemory>| {
                c.and_then(|c| c.current_bytes.as_ref().ok()).map_or(0, |v| to_i64(*v))
            };
            let (from, to) = (current(before), current(after));
            let kills = |c: Option<&memscope_model::CgroupMemory>| c.and_then(|c| c.oom_kills.clone().ok());
            CgroupMover {
                path: p.clone(),
                from_bytes: from,
                to_bytes: to,
                delta_bytes: to - from,
                limit_bytes: after.and_then(|c| match c.limit {
                    Ok(CgroupLimit::Value(v)) => Some(to_i64(v)),
                    _ => None,
                }),
                oom_kills: kills(before).zip(kills(after)).map(|(k0, k1)| k1 as i64 - k0 as i64),
                lines: line_changes(before, after),
            }
        })
        .filter(|m| m.delta_bytes != 0 || m.oom_kills.is_some_and(|k| k != 0))
        .collect();
    out.sort_by(|p, q| q.delta_bytes.abs().cmp(&p.delta_bytes.abs()).then(p.path.cmp(&q.path)));
    out.truncate(top);
    Some(out)
}

type Key = (&'static str, Option<String>);

fn line_diffs(a: &Ledger, b: &Ledger) -> Vec<LineDiff> {
    let key = |l: &ledger::Line| -> Key { (l.category, l.name.clone()) };
    let before: BTreeMap<Key, &ledger::Line> = a.lines.iter().map(|l| (key(l), l)).collect();
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    // Ledger order of the later snapshot; lines only in the earlier one
    // follow their category (a cache that left the top five).
    let mut order: Vec<&ledger::Line> = b.lines.iter().collect();
    for l in &a.lines {
        if !b.lines.iter().any(|x| key(x) == key(l)) {
            let at =
                order.iter().rposition(|x| x.category == l.category).map(|i| i + 1).unwrap_or(order.len());
            order.insert(at, l);
        }
    }
    for l in order {
        if !seen.insert(key(l)) {
            continue;
        }
        let from = before.get(&key(l)).and_then(|x| x.bytes);
        let to = b.lines.iter().find(|x| key(x) == key(l)).and_then(|x| x.bytes);
        out.push(LineDiff {
            category: l.category,
            name: l.name.clone(),
            parent: l.parent,
            from_bytes: from,
            to_bytes: to,
            delta_bytes: from.zip(to).map(|(f, t)| t - f),
        });
    }
    out
}

/// What a mover weighs in one snapshot.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// PSS (processes, when every process of the command had it) or bytes.
    pss: Option<i64>,
    /// RSS (processes) or bytes.
    rss: i64,
    /// Processes (for commands).
    processes: Option<usize>,
}

fn named(l: &Ledger, category: &str) -> BTreeMap<String, Entry> {
    l.lines
        .iter()
        .filter(|x| x.category == category)
        .filter_map(|x| {
            let b = x.bytes?;
            Some((x.name.clone()?, Entry { pss: Some(b), rss: b, processes: None }))
        })
        .collect()
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Bytes per command line: PSS when every process of it had PSS, and RSS.
fn process_bytes(s: &Snapshot) -> BTreeMap<String, Entry> {
    let mut groups: BTreeMap<String, (u64, u64, bool, usize)> = BTreeMap::new();
    for p in s.processes.iter().filter(|p| !p.has_no_address_space()) {
        let r = processes::row(p);
        let g = groups.entry(command_key(p)).or_insert((0, 0, true, 0));
        g.0 += r.pss_bytes.unwrap_or(0);
        g.1 += r.rss_bytes.unwrap_or(0);
        g.2 &= r.pss_bytes.is_some();
        g.3 += 1;
    }
    groups
        .into_iter()
        .map(|(k, (pss, rss, all_pss, n))| {
            (k, Entry { pss: all_pss.then(|| to_i64(pss)), rss: to_i64(rss), processes: Some(n) })
        })
        .collect()
}

fn top_movers(a: BTreeMap<String, Entry>, b: BTreeMap<String, Entry>, top: usize) -> Vec<Mover> {
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    let mut out: Vec<Mover> = names
        .into_iter()
        .map(|n| {
            let x = a.get(n);
            let y = b.get(n);
            let is_process = x.or(y).is_some_and(|e| e.processes.is_some());
            // Like with like: PSS when both sides (that exist) have it.
            let use_pss = x.is_none_or(|e| e.pss.is_some()) && y.is_none_or(|e| e.pss.is_some());
            let value = |e: Option<&Entry>| match e {
                Some(e) if use_pss => e.pss.unwrap_or(e.rss),
                Some(e) => e.rss,
                None => 0,
            };
            let (from, to) = (value(x), value(y));
            Mover {
                name: n.clone(),
                metric: match (is_process, use_pss) {
                    (false, _) => "bytes",
                    (true, true) => "pss",
                    (true, false) => "rss",
                },
                from_bytes: from,
                to_bytes: to,
                delta_bytes: to - from,
                processes: is_process.then(|| {
                    (x.and_then(|e| e.processes).unwrap_or(0), y.and_then(|e| e.processes).unwrap_or(0))
                }),
            }
        })
        .filter(|m| m.delta_bytes != 0)
        .collect();
    out.sort_by(|p, q| q.delta_bytes.abs().cmp(&p.delta_bytes.abs()).then(p.name.cmp(&q.name)));
    out.truncate(top);
    out
}
