//! `memscope slab`: slab caches by size, like slabtop but once and
//! scriptable.
//!
//! A cache's memory is its slabs: `num_slabs × pagesperslab` pages
//! (`/proc/slabinfo`, mm/slab_common.c). Objects in use take
//! `active_objs × objsize` of it; the rest is free objects, per-slab
//! leftovers and alignment: the *waste*. Reclaimability (SReclaimable or
//! SUnreclaim in meminfo) and merge aliases come from `/sys/kernel/slab`
//! ([`memscope_kernel::parse::sys_slab`]).

use memscope_kernel::parse::meminfo::Meminfo;
use memscope_kernel::parse::slabinfo::Slabinfo;
use memscope_kernel::parse::sys_slab::{FLAGS, SlabSysfs};
use memscope_model::Snapshot;
use serde::Serialize;

use crate::hints::unavailable_reason;
use crate::units::{fmt_bytes, fmt_pct};

/// What to sort caches by. One table drives the command line and output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlabSort {
    /// Memory held by the slabs, largest first.
    Size,
    /// Memory of objects in use, largest first.
    Active,
    /// Objects allocated, most first.
    Objs,
    /// Object size, largest first.
    Objsize,
    /// Memory not holding live objects, largest first.
    Waste,
    /// Name, alphabetical.
    Name,
}

impl SlabSort {
    /// Every key with its name.
    pub const ALL: &[(SlabSort, &'static str)] = &[
        (SlabSort::Size, "size"),
        (SlabSort::Active, "active"),
        (SlabSort::Objs, "objs"),
        (SlabSort::Objsize, "objsize"),
        (SlabSort::Waste, "waste"),
        (SlabSort::Name, "name"),
    ];

    /// The key called `name`.
    pub fn from_name(name: &str) -> Option<SlabSort> {
        SlabSort::ALL.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }
}

/// One cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlabRow {
    /// Name as slabinfo shows it.
    pub name: String,
    /// Memory held: `num_slabs × pagesperslab × page size`.
    pub size_bytes: u64,
    /// Objects in use × object size.
    pub active_bytes: u64,
    /// `size_bytes − active_bytes`.
    pub waste_bytes: u64,
    /// Objects in use.
    pub active_objs: u64,
    /// Objects allocated.
    pub num_objs: u64,
    /// Object size.
    pub objsize_bytes: u64,
    /// Objects per slab.
    pub objperslab: u64,
    /// Pages per slab.
    pub pagesperslab: u64,
    /// Slabs.
    pub num_slabs: u64,
    /// SLAB_RECLAIM_ACCOUNT, when known.
    pub reclaimable: Option<bool>,
    /// Flags set ([`FLAGS`] labels), reclaim included.
    pub flags: Vec<String>,
    /// Other cache names merged into this one.
    pub aliases: Vec<String>,
}

/// Sums, and meminfo's counters to compare with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SlabTotals {
    /// Caches in slabinfo.
    pub caches: usize,
    /// Sum of sizes.
    pub size_bytes: u64,
    /// Sum of objects in use.
    pub active_bytes: u64,
    /// Sizes of reclaimable caches.
    pub reclaimable_bytes: u64,
    /// Sizes of unreclaimable caches.
    pub unreclaimable_bytes: u64,
    /// Sizes of caches whose flag could not be read.
    pub unknown_reclaim_bytes: u64,
    /// meminfo `Slab`.
    pub meminfo_slab_bytes: Option<u64>,
    /// meminfo `SReclaimable`.
    pub meminfo_sreclaimable_bytes: Option<u64>,
    /// meminfo `SUnreclaim`.
    pub meminfo_sunreclaim_bytes: Option<u64>,
}

/// The `slab` view.
#[derive(Debug, Clone, Serialize)]
pub struct SlabView {
    /// Caches, sorted (the top ones when asked).
    pub caches: Vec<SlabRow>,
    /// Totals over every cache.
    pub totals: SlabTotals,
    /// Caches holding no slab, hidden unless asked.
    pub empty_hidden: usize,
    /// Why per-cache figures are unavailable.
    pub unavailable: Option<String>,
    /// What the numbers say.
    pub notes: Vec<String>,
}

/// What to show.
#[derive(Debug, Clone, Copy)]
pub struct SlabOptions {
    /// Sort order.
    pub sort: SlabSort,
    /// Keep this many.
    pub top: Option<usize>,
    /// Show empty caches.
    pub all: bool,
}

/// The view of a snapshot's slab caches (`slab`, `serve`, `top`): the
/// reclaim flags it kept stand in for `/sys/kernel/slab` (a snapshot keeps
/// no other flag and no merge aliases).
pub fn from_snapshot(snap: &Snapshot, opts: &SlabOptions) -> SlabView {
    let page = crate::ledger::usable_page_size(snap.page_size_bytes);
    let sysfs = SlabSysfs {
        aliases: Default::default(),
        flags: snap
            .slab_reclaimable
            .iter()
            .map(|(name, r)| (name.clone(), [("reclaim".to_string(), *r)].into()))
            .collect(),
    };
    let slabinfo = snap.slabinfo.as_ref().map_err(unavailable_reason);
    build(slabinfo, Ok(&sysfs), snap.meminfo.as_ref().ok(), page, opts)
}

/// Build the view. `slabinfo` is `Err(reason)` when it cannot be read: the
/// view then has meminfo's totals only.
pub fn build(
    slabinfo: Result<&Slabinfo, String>,
    sysfs: Result<&SlabSysfs, String>,
    meminfo: Option<&Meminfo>,
    page_size_bytes: u64,
    opts: &SlabOptions,
) -> SlabView {
    let mut totals = SlabTotals {
        meminfo_slab_bytes: meminfo.and_then(|m| m.get("Slab")),
        meminfo_sreclaimable_bytes: meminfo.and_then(|m| m.get("SReclaimable")),
        meminfo_sunreclaim_bytes: meminfo.and_then(|m| m.get("SUnreclaim")),
        ..SlabTotals::default()
    };
    let s = match slabinfo {
        Ok(s) => s,
        Err(why) => {
            return SlabView {
                caches: Vec::new(),
                totals,
                empty_hidden: 0,
                unavailable: Some(why),
                notes: Vec::new(),
            };
        }
    };
    let sysfs_ok = sysfs.as_ref().ok().copied();
    let mut rows: Vec<SlabRow> = s
        .caches
        .iter()
        .map(|c| {
            let size = c.bytes(page_size_bytes);
            let active = c.active_bytes();
            let flags: Vec<String> = FLAGS
                .iter()
                .filter(|f| sysfs_ok.and_then(|x| x.flag(&c.name, f.label)) == Some(true))
                .map(|f| f.label.to_string())
                .collect();
            SlabRow {
                name: c.name.clone(),
                size_bytes: size,
                active_bytes: active,
                waste_bytes: size.saturating_sub(active),
                active_objs: c.active_objs,
                num_objs: c.num_objs,
                objsize_bytes: c.objsize,
                objperslab: c.objperslab,
                pagesperslab: c.pagesperslab,
                num_slabs: c.num_slabs,
                reclaimable: sysfs_ok.and_then(|x| x.flag(&c.name, "reclaim")),
                flags,
                aliases: sysfs_ok.and_then(|x| x.aliases.get(&c.name).cloned()).unwrap_or_default(),
            }
        })
        .collect();
    totals.caches = rows.len();
    for r in &rows {
        // Saturating: the counts come from a file that may be corrupt.
        totals.size_bytes = totals.size_bytes.saturating_add(r.size_bytes);
        totals.active_bytes = totals.active_bytes.saturating_add(r.active_bytes);
        let class = match r.reclaimable {
            Some(true) => &mut totals.reclaimable_bytes,
            Some(false) => &mut totals.unreclaimable_bytes,
            None => &mut totals.unknown_reclaim_bytes,
        };
        *class = class.saturating_add(r.size_bytes);
    }
    let mut notes = Vec::new();
    if let Some(m) = totals.meminfo_slab_bytes {
        let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let diff = i(m).saturating_sub(i(totals.size_bytes));
        notes.push(format!(
            "The caches add up to {}; meminfo Slab is {} ({}{}).{}",
            fmt_bytes(i(totals.size_bytes)),
            fmt_bytes(i(m)),
            if diff >= 0 { "+" } else { "" },
            fmt_bytes(diff),
            if diff.unsigned_abs().saturating_mul(100) > m {
                " slabinfo and meminfo are read at different moments, and meminfo counts slab pages when they \
                 are allocated and freed while slabinfo counts slabs on the caches' lists."
            } else {
                ""
            }
        ));
    }
    if totals.active_bytes > 0 && totals.size_bytes > 0 {
        notes.push(format!(
            "Objects in use fill {} of the slabs ({} not holding a live object: free objects, per-slab \
             leftovers, alignment).",
            fmt_pct(
                i64::try_from(totals.active_bytes).unwrap_or(i64::MAX),
                i64::try_from(totals.size_bytes).unwrap_or(i64::MAX)
            ),
            fmt_bytes(
                i64::try_from(totals.size_bytes.saturating_sub(totals.active_bytes)).unwrap_or(i64::MAX)
            )
        ));
    }
    if let Err(why) = &sysfs {
        notes.push(format!("Reclaimability, flags and merge aliases are unavailable: {why}."));
    }
    let merged = rows.iter().filter(|r| !r.aliases.is_empty()).count();
    if merged > 0 {
        notes.push(format!(
            "{merged} caches stand for several (SLUB merges caches of compatible size and flags): their \
             figures include every alias listed. Booting with slab_nomerge keeps them apart."
        ));
    }
    if !s.malformed.is_empty() {
        notes.push(format!("{} malformed slabinfo line(s) skipped.", s.malformed.len()));
    }
    let empty_hidden = if opts.all {
        0
    } else {
        let before = rows.len();
        rows.retain(|r| r.size_bytes > 0);
        before - rows.len()
    };
    match opts.sort {
        SlabSort::Name => rows.sort_by(|a, b| a.name.cmp(&b.name)),
        key => {
            let rank = |r: &SlabRow| match key {
                SlabSort::Size => r.size_bytes,
                SlabSort::Active => r.active_bytes,
                SlabSort::Objs => r.num_objs,
                SlabSort::Objsize => r.objsize_bytes,
                SlabSort::Waste => r.waste_bytes,
                SlabSort::Name => 0,
            };
            rows.sort_by(|a, b| rank(b).cmp(&rank(a)).then_with(|| a.name.cmp(&b.name)));
        }
    }
    if let Some(n) = opts.top {
        rows.truncate(n);
    }
    SlabView { caches: rows, totals, empty_hidden, unavailable: None, notes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memscope_kernel::parse::sys_slab;

    const SLABINFO: &str = "slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
dentry             80745  81018    192   21    1 : tunables    0    0    0 : slabdata   3858   3858      0
kmalloc-8k           120    124   8192    4    8 : tunables    0    0    0 : slabdata     31     31      0
shared_policy_node   255    255     48   85    1 : tunables    0    0    0 : slabdata      3      3      0
empty_cache            0      0     64   64    1 : tunables    0    0    0 : slabdata      0      0      0
";

    fn sysfs() -> SlabSysfs {
        let aliases = sys_slab::aliases([
            ("shared_policy_node", Some(":0000048")),
            ("xfs_ifork", Some(":0000048")),
            ("dentry", None),
        ]);
        let mut flags = std::collections::BTreeMap::new();
        flags.insert(
            "dentry".to_string(),
            [("reclaim".to_string(), true), ("hwalign".to_string(), true)].into(),
        );
        flags.insert("kmalloc-8k".to_string(), [("reclaim".to_string(), false)].into());
        SlabSysfs { aliases, flags }
    }

    #[test]
    fn caches_sorted_with_flags_and_aliases() {
        let s = Slabinfo::parse(SLABINFO).unwrap();
        let sys = sysfs();
        let m = Meminfo::parse("Slab: 16384 kB\nSReclaimable: 15432 kB\nSUnreclaim: 952 kB\n");
        let opts = SlabOptions { sort: SlabSort::Size, top: None, all: false };
        let v = build(Ok(&s), Ok(&sys), Some(&m), 4096, &opts);
        assert_eq!(v.empty_hidden, 1);
        let names: Vec<&str> = v.caches.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["dentry", "kmalloc-8k", "shared_policy_node"]);
        let d = &v.caches[0];
        assert_eq!(d.size_bytes, 3858 * 4096);
        assert_eq!(d.waste_bytes, 3858 * 4096 - 80745 * 192);
        assert_eq!(d.reclaimable, Some(true));
        assert_eq!(d.flags, vec!["reclaim", "hwalign"]);
        assert_eq!(v.caches[2].aliases, vec!["xfs_ifork"]);
        assert_eq!(v.caches[2].reclaimable, None);
        assert_eq!(v.totals.reclaimable_bytes, 3858 * 4096);
        assert_eq!(v.totals.unreclaimable_bytes, 31 * 8 * 4096);
        assert_eq!(v.totals.unknown_reclaim_bytes, 3 * 4096);
        assert!(v.notes[0].starts_with("The caches add up to"));
        let v = build(
            Ok(&s),
            Ok(&sys),
            None,
            4096,
            &SlabOptions { sort: SlabSort::Objsize, top: Some(1), all: true },
        );
        assert_eq!((v.caches.len(), v.caches[0].name.as_str(), v.empty_hidden), (1, "kmalloc-8k", 0));
    }

    #[test]
    fn unreadable_slabinfo_keeps_meminfo_totals() {
        let m = Meminfo::parse("Slab: 100 kB\n");
        let opts = SlabOptions { sort: SlabSort::Size, top: None, all: false };
        let v =
            build(Err("/proc/slabinfo is readable by root".into()), Err("x".into()), Some(&m), 4096, &opts);
        assert!(v.caches.is_empty());
        assert_eq!(v.totals.meminfo_slab_bytes, Some(100 * 1024));
        assert!(v.unavailable.unwrap().contains("root"));
    }
}
