//! Two snapshots compared: the ledger line by line, and the top movers among
//! processes (by command line, as `leaks` follows them), slab caches and
//! vmalloc callers.

use std::collections::BTreeMap;

use memscope_model::Snapshot;
use serde::Serialize;

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
    })
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
