//! The census of physical memory (`memscope phys`): page frames counted by
//! flag set, by page class, by zone, node or memory cgroup, and set beside
//! the kernel's counters.
//!
//! ```text
//!  PfnChunk (kpageflags, kpagecount, kpagecgroup)
//!     │  runs of equal entries, per zone segment
//!     ▼
//!  PhysCensus ── flag sets (the chosen view, filtered)
//!             ├─ groups: zone / node / memcg → pages per class
//!             ├─ map-count histogram, pages per memcg
//!             └─ per-zone raw tallies ──▶ cross_check() ◀── Snapshot, Ledger
//! ```
//!
//! The cross-check is the reconciliation no other tool does: for anonymous,
//! file LRU, shmem, unevictable, slab, page-table, free and hugetlb memory,
//! the pages that carry the flag against the counter that should count
//! them; and for `unaccounted` (kernel memory in no counter), the pages
//! with no flags and no mappings that are neither free nor a hole nor
//! counted by a counter whose pages carry no flags (vmalloc, kernel
//! stacks, percpu, …), against the ledger's remainder.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use memscope_kernel::parse::kpageflags::{self as kpf, BitsFilter};
use memscope_kernel::parse::meminfo::Meminfo;
use memscope_kernel::parse::zoneinfo::Zoneinfo;
use memscope_kernel::read::HugepagePool;
use memscope_model::Snapshot;
use memscope_model::pages::{CounterSample, PfnChunk, PfnSink};
use serde::Serialize;

use crate::hints::unavailable_reason;
use crate::ledger::Ledger;

// ------------------------------------------------------------ shared parts

/// A multiply-shift hasher for `u64` keys (flag sets, inodes): the maps
/// here are updated once per run of pages, and SipHash would cost more
/// than the counting.
#[derive(Default, Clone, Copy)]
pub struct U64Hasher(u64);

impl Hasher for U64Hasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A map keyed by `u64`.
pub type U64Map<V> = HashMap<u64, V, BuildHasherDefault<U64Hasher>>;

/// Which interpretation of the flags is counted and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagView {
    /// [`kpf::well_known`]: kernel-hacking bits hidden (the default).
    #[default]
    WellKnown,
    /// [`kpf::expand_overloaded`]: every bit, overloaded bits expanded.
    Raw,
}

impl FlagView {
    /// The flags of a page in this view; `pme` is its pagemap entry (0 for
    /// a physical scan).
    pub fn apply(self, raw: u64, pme: u64) -> u64 {
        match self {
            FlagView::WellKnown => kpf::well_known(raw),
            FlagView::Raw => kpf::expand_overloaded(raw, pme),
        }
    }
}

/// Do `flags` pass every filter?
pub fn passes(filters: &[BitsFilter], flags: u64) -> bool {
    filters.iter().all(|f| f.matches(flags))
}

/// One class of page frame: what owns it, decided from its raw flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageClass {
    /// Stable key (JSON `classes` keys).
    pub key: &'static str,
    /// Column label.
    pub label: &'static str,
    /// The rule, in words.
    pub help: &'static str,
}

macro_rules! classes {
    ($( $konst:ident = $key:literal, $label:literal, $help:literal; )*) => {
        /// Indexes into [`CLASSES`].
        #[allow(missing_docs)]
        pub mod class {
            classes!(@idx 0usize; $($konst)*);
        }
        /// Every page class, in the order [`classify`] tests them.
        pub const CLASSES: &[PageClass] = &[ $( PageClass { key: $key, label: $label, help: $help }, )* ];
    };
    (@idx $n:expr; $first:ident $($rest:ident)*) => {
        pub const $first: usize = $n;
        classes!(@idx $n + 1usize; $($rest)*);
    };
    (@idx $n:expr;) => {};
}

classes! {
    NOPAGE = "nopage", "hole", "No page frame at this PFN (nopage).";
    HWPOISON = "hwpoison", "poisoned", "Hardware-poisoned page (hwpoison).";
    OFFLINE = "offline", "offline", "Logically offline: balloon, virtio-mem (offline).";
    RESERVED = "reserved", "reserved", "Never given to the allocator: firmware, kernel image, memblock (reserved).";
    FREE = "free", "free", "Free in the buddy allocator (buddy).";
    HUGETLB = "hugetlb", "hugetlb", "hugetlb pool pages, used or free (huge).";
    SLAB = "slab", "slab", "Slab allocator pages (slab).";
    PGTABLE = "pgtable", "page tables", "Page tables (pgtable).";
    ANON = "anon", "anon", "Anonymous memory, mapped or in the swap cache (anonymous).";
    SHMEM = "shmem", "shmem", "shmem/tmpfs and shared anonymous memory (swapbacked, not anonymous).";
    FILE = "file", "file", "Page cache (lru, mmap, uptodate, dirty or writeback; not swapbacked).";
    UNOWNED = "unowned", "kernel, no flags", "No flags and no mappings, not free: the kernel's own allocations (pipes, vmalloc, stacks, drivers), per-cpu free lists, not-yet-initialised pages, holes read as empty.";
    OTHER = "other", "other", "Anything else.";
}

/// The class of a page from its raw flags (and map count, when read).
pub fn classify(raw: u64, count: Option<u64>) -> usize {
    use kpf::*;
    if raw & NOPAGE != 0 {
        class::NOPAGE
    } else if raw & HWPOISON != 0 {
        class::HWPOISON
    } else if raw & kpf::OFFLINE != 0 {
        class::OFFLINE
    } else if raw & kpf::RESERVED != 0 {
        class::RESERVED
    } else if raw & BUDDY != 0 {
        class::FREE
    } else if raw & HUGE != 0 {
        class::HUGETLB
    } else if raw & kpf::SLAB != 0 {
        class::SLAB
    } else if raw & kpf::PGTABLE != 0 {
        class::PGTABLE
    } else if raw & kpf::ANON != 0 {
        class::ANON
    } else if raw & SWAPBACKED != 0 {
        class::SHMEM
    } else if raw & (LRU | MMAP | UPTODATE | DIRTY | WRITEBACK) != 0 {
        class::FILE
    } else if is_unowned(raw) && count.is_none_or(|c| c == 0) {
        class::UNOWNED
    } else {
        class::OTHER
    }
}

/// No flags but the compound bits (a driver's `__GFP_COMP` allocation) or
/// the idle bit: nothing says who owns the page. Such a page is not mapped
/// either (`mmap` is clear, so its map count is 0).
pub fn is_unowned(raw: u64) -> bool {
    raw & !(kpf::COMPOUND | kpf::IDLE) == 0
}

/// Pages per class.
pub type ClassPages = [u64; CLASSES.len()];

/// A flag set and its pages, for output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlagRow {
    /// The flags (in the census's view).
    #[serde(serialize_with = "hex_flags")]
    pub flags: u64,
    /// Their names.
    pub names: Vec<String>,
    /// Pages with exactly these flags.
    pub pages: u64,
    /// `pages × page size`.
    pub bytes: u64,
}

fn hex_flags<S: serde::Serializer>(f: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{f:016x}"))
}

/// Flag sets sorted by pages, largest first (then by flags).
pub fn flag_rows(map: &U64Map<u64>, page_size: u64) -> Vec<FlagRow> {
    let mut rows: Vec<FlagRow> = map
        .iter()
        .filter(|(_, p)| **p > 0)
        .map(|(f, p)| FlagRow { flags: *f, names: kpf::names(*f), pages: *p, bytes: p * page_size })
        .collect();
    rows.sort_by(|a, b| b.pages.cmp(&a.pages).then(a.flags.cmp(&b.flags)));
    rows
}

// ------------------------------------------------------------ zones

/// A zone's PFN span, from `/proc/zoneinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneSpan {
    /// NUMA node.
    pub node: u32,
    /// Zone name.
    pub zone: String,
    /// First PFN.
    pub start_pfn: u64,
    /// One past the last PFN (`start_pfn + spanned`).
    pub end_pfn: u64,
}

impl ZoneSpan {
    /// `node 0 Normal`.
    pub fn name(&self) -> String {
        format!("node {} {}", self.node, self.zone)
    }
}

/// The populated zones of a zoneinfo, in PFN order.
pub fn zone_spans(z: &Zoneinfo) -> Vec<ZoneSpan> {
    let mut spans: Vec<ZoneSpan> = z
        .zones
        .iter()
        .filter_map(|zone| {
            let (s, e) = zone.pfn_range()?;
            (e > s).then(|| ZoneSpan { node: zone.node, zone: zone.zone.clone(), start_pfn: s, end_pfn: e })
        })
        .collect();
    spans.sort_by_key(|s| s.start_pfn);
    spans
}

/// Segments `(start, end, zone index)` covering the zones without overlap
/// (a zone overlapping the one before starts where that one ends).
fn zone_segments(zones: &[ZoneSpan]) -> Vec<(u64, u64, usize)> {
    let mut out: Vec<(u64, u64, usize)> = Vec::new();
    for (i, z) in zones.iter().enumerate() {
        let start = out.last().map_or(z.start_pfn, |l| z.start_pfn.max(l.1));
        if z.end_pfn > start {
            out.push((start, z.end_pfn, i));
        }
    }
    out
}

// ------------------------------------------------------------ the census

/// How to group the census.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// No grouping.
    #[default]
    None,
    /// By zone (`/proc/zoneinfo` PFN spans).
    Zone,
    /// By NUMA node (the zones' nodes).
    Node,
    /// By memory cgroup (`/proc/kpagecgroup`).
    Memcg,
}

/// What the census counts.
#[derive(Debug, Clone, Default)]
pub struct CensusOptions {
    /// Flag view.
    pub view: FlagView,
    /// `--bits` filters (all must pass); they apply to everything but the
    /// cross-check tallies.
    pub filters: Vec<BitsFilter>,
    /// Grouping.
    pub group_by: GroupBy,
    /// Zones, for grouping and the cross-check.
    pub zones: Vec<ZoneSpan>,
}

/// Raw tallies of one zone (or of the PFNs outside every zone), unfiltered,
/// for the cross-check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ZoneTally {
    /// PFNs read.
    pub pfns: u64,
    /// Pages per class.
    #[serde(skip)]
    pub classes: ClassPages,
    /// `anonymous` and `mmap`: what AnonPages counts.
    pub anon_mapped: u64,
    /// `lru`, not `swapbacked`, not `unevictable`: Active(file) + Inactive(file).
    pub file_lru: u64,
    /// `swapbacked`, not `anonymous`, not `slab`: Shmem.
    pub shmem: u64,
    /// `unevictable` and `lru`: Unevictable.
    pub unevictable: u64,
    /// `slab`.
    pub slab: u64,
    /// `pgtable`.
    pub pgtable: u64,
    /// `buddy`.
    pub buddy: u64,
    /// `huge`.
    pub huge: u64,
    /// `reserved`.
    pub reserved: u64,
    /// `nopage`.
    pub nopage: u64,
    /// No flags (but compound or idle) and not mapped.
    pub unowned: u64,
}

/// The flag counters of a [`ZoneTally`], each beside the pages it counts:
/// this one table drives both the tally of a run of pages and the merge of
/// two tallies, so a counter is added in one place.
macro_rules! flag_tallies {
    ($( $field:ident: |$raw:ident, $count:ident| $rule:expr; )*) => {
        impl ZoneTally {
            fn add_run(&mut self, raw: u64, count: Option<u64>, n: u64) {
                self.pfns += n;
                self.classes[classify(raw, count)] += n;
                $(
                    let counts = |$raw: u64, $count: Option<u64>| -> bool { $rule };
                    if counts(raw, count) {
                        self.$field += n;
                    }
                )*
            }

            fn merge(&mut self, o: &ZoneTally) {
                self.pfns += o.pfns;
                for (a, b) in self.classes.iter_mut().zip(o.classes.iter()) {
                    *a += b;
                }
                $( self.$field += o.$field; )*
            }
        }
    };
}

/// Does `raw` carry flag `bit`?
fn has(raw: u64, bit: u64) -> bool {
    raw & bit != 0
}

flag_tallies! {
    anon_mapped: |raw, _count| has(raw, kpf::ANON) && has(raw, kpf::MMAP);
    file_lru: |raw, _count| has(raw, kpf::LRU) && !has(raw, kpf::SWAPBACKED) && !has(raw, kpf::UNEVICTABLE);
    shmem: |raw, _count| has(raw, kpf::SWAPBACKED) && !has(raw, kpf::ANON) && !has(raw, kpf::SLAB);
    unevictable: |raw, _count| has(raw, kpf::UNEVICTABLE) && has(raw, kpf::LRU);
    slab: |raw, _count| has(raw, kpf::SLAB);
    pgtable: |raw, _count| has(raw, kpf::PGTABLE);
    buddy: |raw, _count| has(raw, kpf::BUDDY);
    huge: |raw, _count| has(raw, kpf::HUGE);
    reserved: |raw, _count| has(raw, kpf::RESERVED);
    nopage: |raw, _count| has(raw, kpf::NOPAGE);
    unowned: |raw, count| is_unowned(raw) && count.is_none_or(|c| c == 0);
}

/// One group's counts (a zone, a node, a memory cgroup).
#[derive(Debug, Clone, Default)]
pub struct GroupTally {
    /// Pages (passing the filters).
    pub pages: u64,
    /// Pages per class.
    pub classes: ClassPages,
    /// Pages per flag set (the census's view).
    pub flags: U64Map<u64>,
}

/// Group key for PFNs whose group is not known (outside every zone; no
/// kpagecgroup entry).
pub const UNKNOWN_GROUP: u64 = u64::MAX;

/// Map-count buckets of the histogram: `[lo, hi]` inclusive.
pub const MAPCOUNT_BUCKETS: &[(u64, u64)] =
    &[(0, 0), (1, 1), (2, 2), (3, 4), (5, 8), (9, 16), (17, 64), (65, 1024), (1025, u64::MAX)];

/// The counts of a physical scan. A [`PfnSink`]: each worker fills one,
/// and they are merged.
#[derive(Debug, Clone)]
pub struct PhysCensus {
    opts: Arc<CensusOptions>,
    segments: Arc<Vec<(u64, u64, usize)>>,
    /// PFNs read (before filters).
    pub scanned_pages: u64,
    /// PFNs that passed the filters.
    pub pages: u64,
    /// Pages per flag set (view, filtered).
    pub flags: U64Map<u64>,
    /// Groups by key (zone index, node, cgroup inode); empty without grouping.
    pub groups: U64Map<GroupTally>,
    /// Raw tallies per zone index; the last entry is "outside every zone".
    pub zones: Vec<ZoneTally>,
    /// Pages per map-count bucket ([`MAPCOUNT_BUCKETS`]), when kpagecount was read.
    pub mapcount: Vec<u64>,
    /// Pages per memory cgroup inode (0: not charged), when kpagecgroup was read.
    pub memcg: U64Map<u64>,
}

impl PhysCensus {
    /// An empty census.
    pub fn new(opts: Arc<CensusOptions>) -> PhysCensus {
        let segments = Arc::new(zone_segments(&opts.zones));
        let zones = vec![ZoneTally::default(); opts.zones.len() + 1];
        PhysCensus {
            opts,
            segments,
            scanned_pages: 0,
            pages: 0,
            flags: U64Map::default(),
            groups: U64Map::default(),
            zones,
            mapcount: vec![0; MAPCOUNT_BUCKETS.len()],
            memcg: U64Map::default(),
        }
    }

    /// The options it counts with.
    pub fn options(&self) -> &CensusOptions {
        &self.opts
    }

    /// Count a run of `n` pages with the same entries in zone `zone`.
    fn add_run(&mut self, zone: usize, raw: u64, count: Option<u64>, cgroup: Option<u64>, n: u64) {
        self.scanned_pages += n;
        if let Some(z) = self.zones.get_mut(zone) {
            z.add_run(raw, count, n);
        }
        let view = self.opts.view.apply(raw, 0);
        if !passes(&self.opts.filters, view) {
            return;
        }
        self.pages += n;
        *self.flags.entry(view).or_default() += n;
        if let Some(c) = count
            && let Some(b) = MAPCOUNT_BUCKETS.iter().position(|(lo, hi)| (*lo..=*hi).contains(&c))
        {
            self.mapcount[b] += n;
        }
        if let Some(cg) = cgroup {
            *self.memcg.entry(cg).or_default() += n;
        }
        let key = match self.opts.group_by {
            GroupBy::None => return,
            GroupBy::Zone => zone as u64,
            GroupBy::Node => self.opts.zones.get(zone).map_or(UNKNOWN_GROUP, |z| z.node as u64),
            GroupBy::Memcg => cgroup.unwrap_or(UNKNOWN_GROUP),
        };
        let g = self.groups.entry(key).or_default();
        g.pages += n;
        g.classes[classify(raw, count)] += n;
        *g.flags.entry(view).or_default() += n;
    }

    /// Count `[from, to)` of a chunk (all in zone `zone`), in runs.
    fn add_span(&mut self, chunk: &PfnChunk<'_>, from: usize, to: usize, zone: usize) {
        let mut i = from;
        while i < to {
            let raw = chunk.flags[i];
            let count = chunk.counts.get(i).copied();
            let cgroup = chunk.cgroups.get(i).copied();
            let mut j = i + 1;
            while j < to
                && chunk.flags[j] == raw
                && chunk.counts.get(j).copied() == count
                && chunk.cgroups.get(j).copied() == cgroup
            {
                j += 1;
            }
            self.add_run(zone, raw, count, cgroup, (j - i) as u64);
            i = j;
        }
    }
}

impl PfnSink for PhysCensus {
    fn visit(&mut self, chunk: &PfnChunk<'_>) {
        let outside = self.opts.zones.len();
        let n = chunk.flags.len();
        let start = chunk.start_pfn;
        let end = start + n as u64;
        let segments = Arc::clone(&self.segments);
        let mut at = start;
        // Segments are sorted: find the first that ends after `at`.
        let mut si = segments.partition_point(|s| s.1 <= at);
        while at < end {
            let (zone, until) = match segments.get(si) {
                Some(&(s, e, z)) if s <= at => (z, e.min(end)),
                Some(&(s, _, _)) => (outside, s.min(end)),
                None => (outside, end),
            };
            self.add_span(chunk, (at - start) as usize, (until - start) as usize, zone);
            at = until;
            if segments.get(si).is_some_and(|s| s.1 <= at) {
                si += 1;
            }
        }
    }

    fn merge(&mut self, other: PhysCensus) {
        self.scanned_pages += other.scanned_pages;
        self.pages += other.pages;
        for (k, v) in other.flags {
            *self.flags.entry(k).or_default() += v;
        }
        for (k, g) in other.groups {
            let mine = self.groups.entry(k).or_default();
            mine.pages += g.pages;
            for (a, b) in mine.classes.iter_mut().zip(g.classes.iter()) {
                *a += b;
            }
            for (f, p) in g.flags {
                *mine.flags.entry(f).or_default() += p;
            }
        }
        for (a, b) in self.zones.iter_mut().zip(other.zones.iter()) {
            a.merge(b);
        }
        for (a, b) in self.mapcount.iter_mut().zip(other.mapcount.iter()) {
            *a += b;
        }
        for (k, v) in other.memcg {
            *self.memcg.entry(k).or_default() += v;
        }
    }
}

// ------------------------------------------------------------ cross-check

/// One line of the cross-check: pages that carry a flag against the kernel
/// counter that should count them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckRow {
    /// Stable key.
    pub key: &'static str,
    /// Label.
    pub label: &'static str,
    /// The page-level rule.
    pub pages_rule: &'static str,
    /// Bytes by the page flags.
    pub page_view_bytes: Option<i64>,
    /// The counter or formula.
    pub counter: String,
    /// Bytes by the counter: the mean of its readings before, during and
    /// after the scan.
    pub counter_bytes: Option<i64>,
    /// `page_view − counter`.
    pub difference_bytes: Option<i64>,
    /// How far the counter ranged over those readings (max − min): a
    /// difference within it is the system changing during the scan.
    pub drift_bytes: Option<i64>,
    /// Why a side is unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// How the page-level estimate of `unaccounted` is made, term by term.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnaccountedEstimate {
    /// Pages in the zones with no flags and no mappings.
    pub unowned_pages: u64,
    /// − zone PFNs that are not RAM (`spanned − present`, less `nopage`):
    /// holes read as empty pages.
    pub hole_pages: u64,
    /// − RAM not handed to the allocator and not `reserved`
    /// (`present − managed − reserved`): deferred struct page init.
    pub uninitialised_pages: u64,
    /// − free pages on the per-CPU lists (zoneinfo `pagesets count`).
    pub pcp_free_pages: u64,
    /// − free pages without the `buddy` flag (`nr_free_pages − buddy`, ≥ 0).
    pub free_unflagged_pages: u64,
    /// = kernel pages that no flag explains, in bytes.
    pub kernel_unflagged_bytes: i64,
    /// − counters whose pages carry no flags (ledger lines).
    pub flagless_counters: Vec<FlaglessCounter>,
    /// = the page-level estimate of `unaccounted`.
    pub estimate_bytes: i64,
    /// How far the per-cpu free lists and the free pages ranged while the
    /// scan ran (max − min, summed over zones): pages in flight between them
    /// and their owners make the estimate uncertain by about this much.
    pub uncertainty_bytes: i64,
}

/// A ledger line whose pages carry no flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlaglessCounter {
    /// Ledger category (`vmalloc`, `kernel_stack`, …).
    pub category: String,
    /// Its bytes (mean of before and after the scan).
    pub bytes: i64,
}

/// The reconciliation of the census with the kernel's counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossCheck {
    /// One row per comparison.
    pub rows: Vec<CheckRow>,
    /// The terms of the `unaccounted` estimate.
    pub unaccounted: Option<UnaccountedEstimate>,
    /// What the comparison says.
    pub notes: Vec<String>,
}

/// Ledger categories whose pages carry no kpageflags bit: kernel
/// allocations straight from the page allocator or vmalloc. Their pages are
/// among the unowned pages; the rest of the unowned pages is the page-level
/// `unaccounted`.
pub const FLAGLESS_CATEGORIES: &[&str] = &[
    "kernel_misc_reclaimable",
    "kernel_stack",
    "sec_page_tables",
    "vmalloc",
    "percpu",
    "zswap",
    "zram",
    "socket_buffers",
    "unaccepted",
    "bounce",
    "writeback_tmp",
    "shadow_call_stack",
];

/// The counters at one moment of a scan: the snapshot before it, a sample
/// during it, or the snapshot after it (samples carry meminfo and zoneinfo
/// only).
#[derive(Clone, Copy)]
struct Reading<'a> {
    meminfo: Option<&'a Meminfo>,
    zoneinfo: Option<&'a Zoneinfo>,
    hugepages: Option<&'a [HugepagePool]>,
    ledger: Option<&'a Ledger>,
}

impl<'a> Reading<'a> {
    fn of_snapshot(s: &'a Snapshot, ledger: Option<&'a Ledger>) -> Reading<'a> {
        Reading {
            meminfo: s.meminfo.as_ref().ok(),
            zoneinfo: s.zoneinfo.as_ref().ok(),
            hugepages: s.hugepages.as_ref().ok().map(Vec::as_slice),
            ledger,
        }
    }

    fn of_sample(s: &'a CounterSample) -> Reading<'a> {
        Reading {
            meminfo: s.meminfo.as_ref().ok(),
            zoneinfo: s.zoneinfo.as_ref().ok(),
            hugepages: None,
            ledger: None,
        }
    }

    fn meminfo(&self, field: &str) -> Option<i64> {
        self.meminfo.and_then(|m| m.get(field)).map(|b| b as i64)
    }

    fn meminfo_sum(&self, a: &str, b: &str) -> Option<i64> {
        Some(self.meminfo(a)? + self.meminfo(b)?)
    }

    fn zone_sum(&self, field: &str, page: u64) -> Option<i64> {
        let vals: Vec<u64> = self.zoneinfo?.zones.iter().filter_map(|z| z.get(field)).collect();
        (!vals.is_empty()).then(|| (vals.iter().sum::<u64>() * page) as i64)
    }

    fn hugetlb(&self) -> Option<i64> {
        Some(self.hugepages?.iter().map(|p| p.nr_hugepages.unwrap_or(0) * p.page_size_bytes).sum::<u64>()
            as i64)
    }
}

/// The counters around and during a scan, in time order.
pub struct ScanCounters<'a> {
    /// Read just before the scan.
    pub before: &'a Snapshot,
    /// meminfo and zoneinfo read while it ran.
    pub samples: &'a [CounterSample],
    /// Read just after.
    pub after: &'a Snapshot,
    /// The ledger of `before`.
    pub ledger_before: Option<&'a Ledger>,
    /// The ledger of `after`.
    pub ledger_after: Option<&'a Ledger>,
}

impl<'a> ScanCounters<'a> {
    fn readings(&self) -> Vec<Reading<'a>> {
        let mut r = vec![Reading::of_snapshot(self.before, self.ledger_before)];
        r.extend(self.samples.iter().map(Reading::of_sample));
        r.push(Reading::of_snapshot(self.after, self.ledger_after));
        r
    }
}

/// Mean and range (max − min) of the values that could be read.
fn spread(values: impl IntoIterator<Item = Option<i64>>) -> (Option<i64>, Option<i64>) {
    let v: Vec<i64> = values.into_iter().flatten().collect();
    if v.is_empty() {
        return (None, None);
    }
    let mean = v.iter().sum::<i64>().div_euclid(v.len() as i64);
    let range = v.iter().max().copied().unwrap_or(0) - v.iter().min().copied().unwrap_or(0);
    (Some(mean), Some(range))
}

/// Where a cross-check counter comes from (for the reason it is missing).
#[derive(Clone, Copy)]
enum CounterSource {
    Meminfo,
    Zoneinfo,
    Hugepages,
    Ledger,
}

/// One comparison of the cross-check: the one table behind its rows.
struct CheckDef {
    key: &'static str,
    label: &'static str,
    pages_rule: &'static str,
    counter: &'static str,
    /// Pages matching the rule; `None`: the unaccounted estimate.
    pages: Option<fn(&ZoneTally) -> u64>,
    source: CounterSource,
    /// The counter, in bytes, at one reading, given the page size.
    read: fn(&Reading<'_>, u64) -> Option<i64>,
}

const CHECKS: &[CheckDef] = &[
    CheckDef {
        key: "anon",
        label: "anonymous",
        pages_rule: "anonymous and mmap",
        counter: "AnonPages",
        pages: Some(|t| t.anon_mapped),
        source: CounterSource::Meminfo,
        read: |r, _| r.meminfo("AnonPages"),
    },
    CheckDef {
        key: "file_lru",
        label: "file LRU",
        pages_rule: "lru, not swapbacked, not unevictable",
        counter: "Active(file) + Inactive(file)",
        pages: Some(|t| t.file_lru),
        source: CounterSource::Meminfo,
        read: |r, _| r.meminfo_sum("Active(file)", "Inactive(file)"),
    },
    CheckDef {
        key: "shmem",
        label: "shmem",
        pages_rule: "swapbacked, not anonymous",
        counter: "Shmem",
        pages: Some(|t| t.shmem),
        source: CounterSource::Meminfo,
        read: |r, _| r.meminfo("Shmem"),
    },
    CheckDef {
        key: "unevictable",
        label: "unevictable",
        pages_rule: "unevictable and lru",
        counter: "Unevictable",
        pages: Some(|t| t.unevictable),
        source: CounterSource::Meminfo,
        read: |r, _| r.meminfo("Unevictable"),
    },
    CheckDef {
        key: "slab",
        label: "slab",
        pages_rule: "slab",
        counter: "SReclaimable + SUnreclaim",
        pages: Some(|t| t.slab),
        source: CounterSource::Meminfo,
        read: |r, _| r.meminfo_sum("SReclaimable", "SUnreclaim").or_else(|| r.meminfo("Slab")),
    },
    CheckDef {
        key: "page_tables",
        label: "page tables",
        pages_rule: "pgtable",
        counter: "PageTables",
        pages: Some(|t| t.pgtable),
        source: CounterSource::Meminfo,
        read: |r, _| r.meminfo("PageTables"),
    },
    CheckDef {
        key: "free",
        label: "free",
        pages_rule: "buddy",
        counter: "zoneinfo nr_free_pages",
        pages: Some(|t| t.buddy),
        source: CounterSource::Zoneinfo,
        read: |r, page| r.zone_sum("nr_free_pages", page),
    },
    CheckDef {
        key: "hugetlb",
        label: "hugetlb",
        pages_rule: "huge",
        counter: "hugetlb pools: nr_hugepages × size",
        pages: Some(|t| t.huge),
        source: CounterSource::Hugepages,
        read: |r, _| r.hugetlb(),
    },
    CheckDef {
        key: "unaccounted",
        label: "unaccounted",
        pages_rule: "no flags, not mapped, not free, minus flagless counters",
        counter: "ledger: MemTotal − every counter",
        pages: None,
        source: CounterSource::Ledger,
        read: |r, _| r.ledger.map(|l| l.unaccounted_bytes),
    },
];

/// Why a counter could not be read.
fn counter_reason(def: &CheckDef, snap: &Snapshot) -> String {
    let file = |r: Result<(), &memscope_kernel::ReadError>, missing: String| match r {
        Err(e) => unavailable_reason(e),
        Ok(()) => missing,
    };
    match def.source {
        CounterSource::Meminfo => {
            file(snap.meminfo.as_ref().map(|_| ()), format!("{} is not reported by this kernel", def.counter))
        }
        CounterSource::Zoneinfo => {
            file(snap.zoneinfo.as_ref().map(|_| ()), "zoneinfo has no nr_free_pages".into())
        }
        CounterSource::Hugepages => file(snap.hugepages.as_ref().map(|_| ()), "no hugetlb pools".into()),
        CounterSource::Ledger => "the ledger could not be built (MemTotal unreadable)".into(),
    }
}

/// Set the census beside the counters read before, during and after the
/// scan (their mean; their range is the drift) and the ledgers. Only
/// meaningful for an unfiltered scan of every PFN.
pub fn cross_check(census: &PhysCensus, page: u64, counters: &ScanCounters<'_>) -> CrossCheck {
    let after = counters.after;
    let readings = counters.readings();
    let mut notes = Vec::new();
    let zones_total =
        census.zones.iter().take(census.opts.zones.len()).fold(ZoneTally::default(), |mut a, z| {
            a.merge(z);
            a
        });
    let p = |pages: u64| (pages * page) as i64;
    let estimate = unaccounted_estimate(census, page, counters);
    let mut rows = Vec::new();
    for def in CHECKS {
        let (counter_bytes, drift_bytes) = spread(readings.iter().map(|r| (def.read)(r, page)));
        let page_view = match def.pages {
            Some(f) => Some(p(f(&zones_total))),
            None => estimate.as_ref().ok().map(|e| e.estimate_bytes),
        };
        let reason = match (counter_bytes, page_view) {
            (None, _) => Some(counter_reason(def, after)),
            (Some(_), None) => estimate.as_ref().err().cloned(),
            _ => None,
        };
        rows.push(CheckRow {
            key: def.key,
            label: def.label,
            pages_rule: def.pages_rule,
            page_view_bytes: page_view,
            counter: def.counter.to_string(),
            counter_bytes,
            difference_bytes: page_view.zip(counter_bytes).map(|(a, b)| a - b),
            drift_bytes,
            reason,
        });
    }
    let now_free = readings.last().and_then(|r| r.zone_sum("nr_free_pages", page));

    // What the zones say about MemFree.
    if let (Some(mem_free), Some(nr_free)) = (readings.last().and_then(|r| r.meminfo("MemFree")), now_free)
        && let Ok(e) = &estimate
    {
        let extra = mem_free - nr_free;
        let uninit = p(e.uninitialised_pages);
        if uninit > 0 && extra > uninit / 2 {
            notes.push(format!(
                "MemFree is {} more than the zones' nr_free_pages: this kernel counts {} of RAM that is \
                 present but not yet handed to the page allocator (deferred struct page initialisation) \
                 as free. Those pages read as pages with no flags; the estimate leaves them out.",
                crate::fmt_bytes(extra),
                crate::fmt_bytes(uninit),
            ));
        }
    }
    if zones_total.buddy > 0 {
        let nr_free = now_free.unwrap_or(0);
        if nr_free > 0 && p(zones_total.buddy) * 4 < nr_free {
            notes.push(
                "Fewer than a quarter of the free pages carry `buddy`: this kernel flags only the first page \
                 of each free block (before Linux 4.6); the free row compares block heads with pages."
                    .to_string(),
            );
        }
    }
    if let Ok(e) = &estimate {
        notes.push(format!(
            "unaccounted, page view: {} pages with no flags and no mappings in the zones, − {} holes, − {} \
             not yet initialised, − {} on per-cpu free lists, − {} free without the buddy flag = {} of kernel \
             pages no flag explains; − {} counted by flagless counters ({}) = {}, give or take {} (how far \
             the per-cpu free lists and the free pages ranged during the scan).",
            e.unowned_pages,
            e.hole_pages,
            e.uninitialised_pages,
            e.pcp_free_pages,
            e.free_unflagged_pages,
            crate::fmt_bytes(e.kernel_unflagged_bytes),
            crate::fmt_bytes(e.flagless_counters.iter().map(|c| c.bytes).sum()),
            e.flagless_counters.iter().map(|c| c.category.as_str()).collect::<Vec<_>>().join(", "),
            crate::fmt_bytes(e.estimate_bytes),
            crate::fmt_bytes(e.uncertainty_bytes),
        ));
    }
    notes.push(format!(
        "Counters are the mean of {} readings before, during and after the scan, and their drift is \
             how far they ranged: a difference within the drift is the system changing while it was read.",
        readings.len()
    ));
    CrossCheck { rows, unaccounted: estimate.ok(), notes }
}

/// The page-level estimate of `unaccounted` (see [`UnaccountedEstimate`]).
/// The zones' free and per-cpu counts are the mean of their readings
/// before, during and after the scan; their ranges are the uncertainty.
pub fn unaccounted_estimate(
    census: &PhysCensus,
    page: u64,
    counters: &ScanCounters<'_>,
) -> Result<UnaccountedEstimate, String> {
    let zi = counters.after.zoneinfo.as_ref().map_err(unavailable_reason)?;
    let ledgers = [counters.ledger_before, counters.ledger_after];
    if ledgers.iter().all(Option::is_none) {
        return Err("the ledger could not be built (MemTotal unreadable)".into());
    }
    let readings = counters.readings();
    let mut e = UnaccountedEstimate {
        unowned_pages: 0,
        hole_pages: 0,
        uninitialised_pages: 0,
        pcp_free_pages: 0,
        free_unflagged_pages: 0,
        kernel_unflagged_bytes: 0,
        flagless_counters: Vec::new(),
        estimate_bytes: 0,
        uncertainty_bytes: 0,
    };
    let mut moved_pages = 0i64;
    for (i, span) in census.opts.zones.iter().enumerate() {
        let t = &census.zones[i];
        let find =
            |z: &'_ Zoneinfo| z.zones.iter().find(|z| z.node == span.node && z.zone == span.zone).cloned();
        let Some(z) = find(zi) else {
            return Err(format!("zone {} is missing from zoneinfo after the scan", span.name()));
        };
        let over_time: Vec<_> = readings.iter().filter_map(|r| r.zoneinfo.and_then(find)).collect();
        let field = |k: &str| spread(over_time.iter().map(|z| z.get(k).map(|v| v as i64)));
        let need = |k: &str| -> Result<u64, String> {
            z.get(k).ok_or_else(|| format!("zoneinfo has no `{k}` for {}", span.name()))
        };
        let (spanned, present) = (need("spanned")?, need("present")?);
        need("managed")?;
        let (managed, _) = field("managed");
        let (pcp, pcp_range) = spread(over_time.iter().map(|z| z.pcp_pages().map(|v| v as i64)));
        let (free, free_range) = field("nr_free_pages");
        moved_pages += pcp_range.unwrap_or(0) + free_range.unwrap_or(0);
        let managed = managed.unwrap_or(0).max(0) as u64;
        e.unowned_pages += t.unowned;
        e.hole_pages += spanned.saturating_sub(present).saturating_sub(t.nopage);
        e.uninitialised_pages += present.saturating_sub(managed).saturating_sub(t.reserved);
        e.pcp_free_pages += pcp.unwrap_or(0).max(0) as u64;
        e.free_unflagged_pages += (free.unwrap_or(0).max(0) as u64).saturating_sub(t.buddy);
    }
    let removed = e.hole_pages + e.uninitialised_pages + e.pcp_free_pages + e.free_unflagged_pages;
    e.kernel_unflagged_bytes = (e.unowned_pages as i64 - removed as i64) * page as i64;
    for key in FLAGLESS_CATEGORIES {
        let (bytes, _) = spread(ledgers.iter().map(|l| l.and_then(|l| l.bytes(key))));
        if let Some(b) = bytes.filter(|b| *b != 0) {
            e.flagless_counters.push(FlaglessCounter { category: key.to_string(), bytes: b });
        }
    }
    e.estimate_bytes = e.kernel_unflagged_bytes - e.flagless_counters.iter().map(|c| c.bytes).sum::<i64>();
    e.uncertainty_bytes = moved_pages * page as i64;
    Ok(e)
}

// ------------------------------------------------------------ the report

/// One group of a `--by` breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    /// Zone index, node, or cgroup inode; null when unknown.
    pub key: Option<u64>,
    /// `node 0 Normal`, `node 0`, a cgroup path, `outside every zone`.
    pub name: String,
    /// PFN span (zones only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_pfn: Option<u64>,
    /// One past the last PFN (zones only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_pfn: Option<u64>,
    /// Pages.
    pub pages: u64,
    /// Bytes.
    pub bytes: u64,
    /// Bytes per class ([`CLASSES`] keys).
    pub class_bytes: BTreeMap<&'static str, u64>,
    /// Flag sets of the group.
    pub flags: Vec<FlagRow>,
}

/// Names for the groups of a census.
pub struct GroupNames<'a> {
    /// Memory cgroup paths by inode, when known.
    pub memcg: Option<&'a HashMap<u64, String>>,
}

fn memcg_name(names: &GroupNames<'_>, inode: u64) -> String {
    match (inode, names.memcg.and_then(|m| m.get(&inode))) {
        (UNKNOWN_GROUP, _) => "(kpagecgroup not read)".to_string(),
        (0, _) => "(not charged)".to_string(),
        (_, Some(p)) => p.clone(),
        (i, None) => format!("@{i} (removed cgroup)"),
    }
}

/// The `--by` breakdown, largest group first (zones and nodes in order).
pub fn group_rows(census: &PhysCensus, page: u64, names: &GroupNames<'_>) -> Vec<GroupRow> {
    let opts = &census.opts;
    let mut rows: Vec<GroupRow> = census
        .groups
        .iter()
        .map(|(k, g)| {
            let key = Some(*k).filter(|k| *k != UNKNOWN_GROUP);
            let (name, start_pfn, end_pfn) = match opts.group_by {
                GroupBy::Zone => match opts.zones.get(*k as usize) {
                    Some(z) => (z.name(), Some(z.start_pfn), Some(z.end_pfn)),
                    None => ("outside every zone".to_string(), None, None),
                },
                GroupBy::Node => (
                    key.map_or_else(|| "outside every zone".to_string(), |n| format!("node {n}")),
                    None,
                    None,
                ),
                GroupBy::Memcg => (memcg_name(names, *k), None, None),
                GroupBy::None => ("all".to_string(), None, None),
            };
            let class_bytes = CLASSES.iter().zip(g.classes.iter()).map(|(c, p)| (c.key, p * page)).collect();
            GroupRow {
                key: if opts.group_by == GroupBy::Zone && key.is_some_and(|k| k as usize >= opts.zones.len())
                {
                    None
                } else {
                    key
                },
                name,
                start_pfn,
                end_pfn,
                pages: g.pages,
                bytes: g.pages * page,
                class_bytes,
                flags: flag_rows(&g.flags, page),
            }
        })
        .collect();
    match opts.group_by {
        GroupBy::Zone | GroupBy::Node => rows.sort_by_key(|r| (r.key.is_none(), r.key)),
        _ => rows.sort_by(|a, b| b.pages.cmp(&a.pages).then(a.name.cmp(&b.name))),
    }
    rows
}

/// One bucket of the map-count histogram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapcountRow {
    /// Lowest map count of the bucket.
    pub min: u64,
    /// Highest map count (null: no limit).
    pub max: Option<u64>,
    /// Pages.
    pub pages: u64,
    /// Bytes.
    pub bytes: u64,
}

/// The map-count histogram, empty buckets left out.
pub fn mapcount_rows(buckets: &[u64], page: u64) -> Vec<MapcountRow> {
    MAPCOUNT_BUCKETS
        .iter()
        .zip(buckets.iter())
        .filter(|(_, p)| **p > 0)
        .map(|(&(lo, hi), &p)| MapcountRow {
            min: lo,
            max: (hi != u64::MAX).then_some(hi),
            pages: p,
            bytes: p * page,
        })
        .collect()
}

/// Pages of one memory cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemcgRow {
    /// The cgroup's inode (kpagecgroup); 0: not charged to any.
    pub inode: u64,
    /// Its path in the memory hierarchy, or why it has none.
    pub path: String,
    /// Pages.
    pub pages: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Pages per memory cgroup, largest first.
pub fn memcg_rows(map: &U64Map<u64>, page: u64, names: &GroupNames<'_>) -> Vec<MemcgRow> {
    let mut rows: Vec<MemcgRow> = map
        .iter()
        .map(|(k, p)| MemcgRow { inode: *k, path: memcg_name(names, *k), pages: *p, bytes: p * page })
        .collect();
    rows.sort_by(|a, b| b.pages.cmp(&a.pages).then(a.inode.cmp(&b.inode)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use kpf::*;

    fn census(group_by: GroupBy, zones: Vec<ZoneSpan>, filters: Vec<BitsFilter>) -> PhysCensus {
        PhysCensus::new(Arc::new(CensusOptions { view: FlagView::WellKnown, filters, group_by, zones }))
    }

    fn zone(node: u32, name: &str, s: u64, e: u64) -> ZoneSpan {
        ZoneSpan { node, zone: name.into(), start_pfn: s, end_pfn: e }
    }

    #[test]
    fn classes_follow_the_table_order() {
        assert_eq!(classify(NOPAGE, None), class::NOPAGE);
        assert_eq!(classify(RESERVED | ZERO_PAGE, Some(3)), class::RESERVED);
        assert_eq!(classify(BUDDY, Some(0)), class::FREE);
        assert_eq!(classify(SLAB | COMPOUND_HEAD, Some(0)), class::SLAB);
        assert_eq!(classify(ANON | SWAPBACKED | LRU | MMAP, Some(1)), class::ANON);
        assert_eq!(classify(SWAPBACKED | LRU | UPTODATE, Some(0)), class::SHMEM);
        assert_eq!(classify(LRU | UPTODATE, Some(0)), class::FILE);
        assert_eq!(classify(0, Some(0)), class::UNOWNED);
        assert_eq!(classify(COMPOUND_TAIL, None), class::UNOWNED);
        assert_eq!(classify(0, Some(2)), class::OTHER);
        assert_eq!(classify(PRIVATE, Some(0)), class::OTHER);
        assert_eq!(CLASSES[class::OTHER].key, "other");
    }

    #[test]
    fn runs_are_split_at_zone_boundaries() {
        let zones = vec![zone(0, "DMA", 1, 4), zone(0, "Normal", 4, 8)];
        let mut c = census(GroupBy::Zone, zones, vec![]);
        let flags = [RESERVED, BUDDY, BUDDY, BUDDY, BUDDY, BUDDY, LRU, LRU, 0, 0];
        let counts = [1u64, 0, 0, 0, 0, 0, 0, 0, 0];
        c.visit(&PfnChunk { start_pfn: 0, flags: &flags, counts: &counts, cgroups: &[] });
        assert_eq!(c.scanned_pages, 10);
        assert_eq!(c.zones[0].buddy, 3);
        assert_eq!(c.zones[1].buddy, 2);
        assert_eq!(c.zones[1].file_lru, 2);
        // Outside every zone: PFN 0 (reserved) and PFNs 8, 9; PFN 9 has no count.
        assert_eq!(c.zones[2].reserved, 1);
        assert_eq!(c.zones[2].unowned, 2);
        assert_eq!(c.flags.get(&BUDDY), Some(&5));
        let names = GroupNames { memcg: None };
        let rows = group_rows(&c, 4096, &names);
        assert_eq!(
            rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            vec!["node 0 DMA", "node 0 Normal", "outside every zone"]
        );
        assert_eq!(rows[0].class_bytes["free"], 3 * 4096);
        assert_eq!(rows[2].key, None);
    }

    #[test]
    fn filters_apply_to_counts_but_not_to_cross_check_tallies() {
        let mut c =
            census(GroupBy::None, vec![zone(0, "Normal", 0, 100)], vec![BitsFilter::parse("lru").unwrap()]);
        let flags = [LRU, LRU, BUDDY, SLAB];
        c.visit(&PfnChunk { start_pfn: 0, flags: &flags, counts: &[], cgroups: &[] });
        assert_eq!(c.pages, 2);
        assert_eq!(c.flags.len(), 1);
        assert_eq!(c.zones[0].buddy, 1);
        assert_eq!(c.zones[0].slab, 1);
    }

    #[test]
    fn merged_workers_equal_one_worker() {
        let zones = vec![zone(0, "Normal", 0, 64)];
        let flags: Vec<u64> = (0..64).map(|i| if i % 3 == 0 { BUDDY } else { LRU | ANON | MMAP }).collect();
        let counts: Vec<u64> = (0..64).map(|i| (i % 3 != 0) as u64).collect();
        let cg: Vec<u64> = (0..64).map(|i| (i % 2) as u64 + 7).collect();
        let mut one = census(GroupBy::Memcg, zones.clone(), vec![]);
        one.visit(&PfnChunk { start_pfn: 0, flags: &flags, counts: &counts, cgroups: &cg });
        let mut a = census(GroupBy::Memcg, zones.clone(), vec![]);
        let mut b = census(GroupBy::Memcg, zones, vec![]);
        a.visit(&PfnChunk { start_pfn: 0, flags: &flags[..20], counts: &counts[..20], cgroups: &cg[..20] });
        b.visit(&PfnChunk { start_pfn: 20, flags: &flags[20..], counts: &counts[20..], cgroups: &cg[20..] });
        a.merge(b);
        assert_eq!(a.pages, one.pages);
        assert_eq!(a.flags, one.flags);
        assert_eq!(a.zones, one.zones);
        assert_eq!(a.mapcount, one.mapcount);
        assert_eq!(a.memcg, one.memcg);
        assert_eq!(a.groups.len(), one.groups.len());
        assert_eq!(one.mapcount[0], 22);
        assert_eq!(one.mapcount[1], 42);
    }

    #[test]
    fn overlapping_zones_do_not_double_count() {
        let segs = zone_segments(&[zone(0, "Normal", 0, 100), zone(1, "Normal", 50, 200)]);
        assert_eq!(segs, vec![(0, 100, 0), (100, 200, 1)]);
    }
}

/// Everything `memscope phys` shows.
#[derive(Debug, Clone, Serialize)]
pub struct PhysReport {
    /// Kernel release.
    pub kernel: Option<String>,
    /// When the scan started (ms since the epoch).
    pub taken_at_unix_ms: u64,
    /// Base page size.
    pub page_size_bytes: u64,
    /// Flag view.
    pub view: FlagView,
    /// `--bits` filters as given.
    pub filters: Vec<String>,
    /// `--addr` PFN ranges (empty: all).
    #[serde(serialize_with = "pfn_ranges")]
    pub ranges: Vec<(u64, u64)>,
    /// PFNs read.
    pub scanned_pages: u64,
    /// The PFN at which kpageflags ended, when reached.
    pub end_pfn: Option<u64>,
    /// Scan wall time, microseconds.
    pub elapsed_usec: u64,
    /// Workers.
    pub threads: usize,
    /// Pages passing the filters.
    pub pages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Flag sets, largest first.
    pub flags: Vec<FlagRow>,
    /// Grouping.
    pub group_by: GroupBy,
    /// `--by` groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupRow>,
    /// Pages by map count (kpagecount); null when not read.
    pub mapcount: Option<Vec<MapcountRow>>,
    /// Why map counts are missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapcount_unavailable: Option<String>,
    /// Pages by memory cgroup (kpagecgroup), largest first; null when not read.
    pub memcg: Option<Vec<MemcgRow>>,
    /// Why memory cgroups are missing or unnamed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memcg_unavailable: Option<String>,
    /// The reconciliation with the counters; null when not made.
    pub cross_check: Option<CrossCheck>,
    /// Why there is no cross-check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_check_unavailable: Option<String>,
    /// What the numbers say.
    pub notes: Vec<String>,
}

/// `[{start_pfn, end_pfn}]`, `end_pfn` exclusive and null for "to the end".
fn pfn_ranges<S: serde::Serializer>(r: &[(u64, u64)], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Range {
        start_pfn: u64,
        end_pfn: Option<u64>,
    }
    s.collect_seq(r.iter().map(|&(a, e)| Range { start_pfn: a, end_pfn: (e != u64::MAX).then_some(e) }))
}

/// The inputs of a [`PhysReport`] besides the census.
pub struct PhysInputs<'a> {
    /// The scan (its sink is the census).
    pub scan: &'a memscope_model::pages::PfnScan<PhysCensus>,
    /// `--bits` as given.
    pub filters: Vec<String>,
    /// `--addr` ranges.
    pub ranges: Vec<(u64, u64)>,
    /// kpagecount / kpagecgroup were asked for.
    pub counts_asked: bool,
    /// kpagecgroup was asked for.
    pub cgroups_asked: bool,
    /// The counters before, during and after the scan.
    pub counters: ScanCounters<'a>,
    /// Memory cgroup paths, or why they are not known.
    pub memcg_paths: Result<&'a HashMap<u64, String>, String>,
}

/// Build the report of a physical scan.
pub fn phys_report(inp: &PhysInputs<'_>) -> PhysReport {
    let scan = inp.scan;
    let census = &scan.sink;
    let (before, after) = (inp.counters.before, inp.counters.after);
    let page = crate::ledger::usable_page_size(after.page_size_bytes.or(before.page_size_bytes));
    let mut notes = Vec::new();
    let names = GroupNames { memcg: inp.memcg_paths.as_ref().ok().copied() };
    if let Some(e) = &scan.stopped {
        notes.push(format!(
            "The scan stopped early: {e}. The counts cover the {} PFNs read before it.",
            scan.pfns
        ));
    }
    let max_zone_end = census.opts.zones.iter().map(|z| z.end_pfn).max();
    if let (Some(end), Some(zend)) = (scan.end_pfn, max_zone_end)
        && end < zend
    {
        notes.push(format!(
            "kpageflags ends at PFN {end}, before the last zone ends (PFN {zend}): the PFNs above were not read."
        ));
    }
    let ended_note = |what: &str, at: Option<u64>| {
        at.map(|p| format!("{what} ended at PFN {p}, before kpageflags: its figures cover the PFNs below."))
    };
    notes.extend(ended_note("kpagecount", scan.counts_ended_at));
    notes.extend(ended_note("kpagecgroup", scan.cgroups_ended_at));

    let mapcount_unavailable = if !inp.counts_asked {
        Some("not read (--flags-only)".to_string())
    } else {
        scan.counts_unavailable.as_ref().map(unavailable_reason)
    };
    let mapcount = mapcount_unavailable.is_none().then(|| mapcount_rows(&census.mapcount, page));
    let cgroups_read = inp.cgroups_asked && scan.cgroups_unavailable.is_none();
    let memcg_unavailable = if !inp.cgroups_asked {
        Some("not read (--flags-only)".to_string())
    } else if let Some(e) = &scan.cgroups_unavailable {
        Some(unavailable_reason(e))
    } else {
        inp.memcg_paths.as_ref().err().map(|e| format!("cgroup paths unknown: {e}"))
    };
    let memcg = cgroups_read.then(|| memcg_rows(&census.memcg, page, &names));

    let partial = !inp.filters.is_empty() || !inp.ranges.is_empty();
    let (cross_check, cross_check_unavailable) = if partial {
        (
            None,
            Some(
                "a filtered scan (--bits or --addr) is not comparable with system-wide counters".to_string(),
            ),
        )
    } else if scan.stopped.is_some() {
        (None, Some("the scan did not read every PFN".to_string()))
    } else {
        let c = cross_check(census, page, &inp.counters);
        (Some(c), None)
    };
    PhysReport {
        kernel: after.kernel.as_ref().ok().cloned(),
        taken_at_unix_ms: before.taken_at_unix_ms,
        page_size_bytes: page,
        view: census.opts.view,
        filters: inp.filters.clone(),
        ranges: inp.ranges.clone(),
        scanned_pages: census.scanned_pages,
        end_pfn: scan.end_pfn,
        elapsed_usec: scan.elapsed_usec,
        threads: scan.threads,
        pages: census.pages,
        bytes: census.pages * page,
        flags: flag_rows(&census.flags, page),
        group_by: census.opts.group_by,
        groups: if census.opts.group_by == GroupBy::None {
            Vec::new()
        } else {
            group_rows(census, page, &names)
        },
        mapcount,
        mapcount_unavailable,
        memcg,
        memcg_unavailable,
        cross_check,
        cross_check_unavailable,
        notes,
    }
}
