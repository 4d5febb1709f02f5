//! One process's pages (`memscope pages PID`): pagemap entries joined with
//! kpageflags (and kpagecount, kpagecgroup), counted by flag set and by
//! mapping, and listed page-types style (`--list`, `--list-each`).
//!
//! What needs a PFN (the flags: THP, mlocked, unevictable; map counts;
//! memory cgroups) is unavailable without CAP_SYS_ADMIN, where pagemap
//! hides PFNs; what pagemap itself says (present, swapped, file or shared,
//! exclusive, soft-dirty) is always there.

use std::collections::BTreeMap;

use memscope_kernel::parse::kpageflags::{self as kpf, BitsFilter};
use memscope_kernel::parse::pid::maps::Mapping;
use memscope_kernel::parse::pid::pagemap::PagemapEntry;
use memscope_model::pages::PagemapChunk;
use serde::Serialize;

use crate::census::{FlagView, U64Map, passes};

/// How to list pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListMode {
    /// No list.
    #[default]
    None,
    /// Runs of pages with consecutive addresses and PFNs and equal flags
    /// (page-types `-l`).
    Runs,
    /// Every page (page-types `-L`).
    Each,
}

/// What the process census counts.
#[derive(Debug, Clone, Default)]
pub struct PagesOptions {
    /// Flag view.
    pub view: FlagView,
    /// `--bits` filters (all must pass).
    pub filters: Vec<BitsFilter>,
    /// Listing.
    pub list: ListMode,
}

/// Counts of one mapping, in pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MappingPages {
    /// In RAM.
    pub present: u64,
    /// Swapped out.
    pub swapped: u64,
    /// Present, file pages or shared anonymous memory (pagemap bit 61).
    pub file: u64,
    /// Present, private anonymous (not file, not shared).
    pub anon: u64,
    /// Present and mapped by this process only (pagemap bit 56).
    pub exclusive: u64,
    /// Soft-dirty (pagemap bit 55).
    pub soft_dirty: u64,
    /// Present pages whose flags were read.
    pub flags_known: u64,
    /// Part of a transparent huge page or large folio (`thp`).
    pub thp: u64,
    /// `mlocked` (a kernel-hacking bit, read whatever the view).
    pub mlocked: u64,
    /// `unevictable`.
    pub unevictable: u64,
}

impl MappingPages {
    fn add(&mut self, o: &MappingPages) {
        self.present += o.present;
        self.swapped += o.swapped;
        self.file += o.file;
        self.anon += o.anon;
        self.exclusive += o.exclusive;
        self.soft_dirty += o.soft_dirty;
        self.flags_known += o.flags_known;
        self.thp += o.thp;
        self.mlocked += o.mlocked;
        self.unevictable += o.unevictable;
    }
}

/// A run of pages for `--list` (one page for `--list-each`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageRun {
    /// Virtual page number of the first page (address / page size).
    pub vpage: u64,
    /// PFN of the first page (present pages whose PFN is known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pfn: Option<u64>,
    /// Swap offset of the first page (swapped pages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap_offset: Option<u64>,
    /// Pages in the run.
    pub pages: u64,
    /// Flags in the census's view (kpageflags with pagemap's bits); null
    /// when the page's flags could not be read.
    #[serde(serialize_with = "hex")]
    pub flags: Option<u64>,
    /// Map count, with `--mapcount`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapcount: Option<u64>,
    /// Memory cgroup inode, with `--memcg`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<u64>,
}

fn hex<S: serde::Serializer>(f: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match f {
        Some(f) => s.serialize_str(&format!("0x{f:016x}")),
        None => s.serialize_none(),
    }
}

/// The counts of a process walk.
#[derive(Debug, Clone, Default)]
pub struct ProcessPages {
    opts: PagesOptions,
    /// Pages per flag set (view), present pages with known flags and
    /// swapped pages, filtered.
    pub flags: U64Map<u64>,
    /// Per mapping index.
    pub mappings: Vec<MappingPages>,
    /// Pages per map count, when kpagecount was read.
    pub mapcount: BTreeMap<u64, u64>,
    /// Pages per memory cgroup inode, when kpagecgroup was read.
    pub memcg: U64Map<u64>,
    /// `--list` rows.
    pub runs: Vec<PageRun>,
    /// Present pages whose flags were not read (PFN hidden or beyond kpageflags).
    pub flags_unknown: u64,
}

/// The flags a page is counted and listed under: kpageflags in the view,
/// plus (in the default view) pagemap's `file` and `swap`, which say what
/// the kernel-wide flags cannot about this process's mapping.
pub fn page_flags(view: FlagView, raw: u64, pme: u64) -> u64 {
    match view {
        FlagView::Raw => kpf::expand_overloaded(raw, pme),
        FlagView::WellKnown => {
            let e = PagemapEntry(pme);
            let mut f = kpf::well_known(raw);
            if e.file_or_shared() {
                f |= kpf::FILE;
            }
            if e.swapped() {
                f |= kpf::SWAP;
            }
            f
        }
    }
}

impl ProcessPages {
    /// An empty count for a process with `mappings` mappings.
    pub fn new(opts: PagesOptions, mappings: usize) -> ProcessPages {
        ProcessPages { opts, mappings: vec![MappingPages::default(); mappings], ..ProcessPages::default() }
    }

    /// Count one chunk of the walk.
    pub fn visit(&mut self, c: &PagemapChunk<'_>) {
        if self.mappings.len() <= c.mapping {
            self.mappings.resize(c.mapping + 1, MappingPages::default());
        }
        let filtering = !self.opts.filters.is_empty();
        // Neighbouring pages mostly share their flags: count the flag sets in runs.
        let mut run: Option<(u64, u64)> = None;
        for (i, &raw_pme) in c.entries.iter().enumerate() {
            let e = PagemapEntry(raw_pme);
            if e.is_none() {
                continue;
            }
            let kflags = c.flags.get(i).copied().flatten();
            let count = c.counts.get(i).copied().flatten();
            let cgroup = c.cgroups.get(i).copied().flatten();
            // A swapped page has no frame: its flags are pagemap's alone.
            let known = if e.swapped() { Some(0) } else { kflags };
            let view = known.map(|k| page_flags(self.opts.view, k, raw_pme));
            if filtering && !view.is_some_and(|v| passes(&self.opts.filters, v)) {
                continue;
            }
            let m = &mut self.mappings[c.mapping];
            if e.present() {
                m.present += 1;
                if e.file_or_shared() {
                    m.file += 1;
                } else {
                    m.anon += 1;
                }
                if e.exclusive() {
                    m.exclusive += 1;
                }
            } else {
                m.swapped += 1;
            }
            if e.soft_dirty() {
                m.soft_dirty += 1;
            }
            if let (true, Some(k)) = (e.present(), kflags) {
                m.flags_known += 1;
                m.thp += (k & kpf::THP != 0) as u64;
                m.mlocked += (k & kpf::MLOCKED != 0) as u64;
                m.unevictable += (k & kpf::UNEVICTABLE != 0) as u64;
            } else if e.present() {
                self.flags_unknown += 1;
            }
            if let Some(v) = view {
                match &mut run {
                    Some((f, n)) if *f == v => *n += 1,
                    _ => {
                        if let Some((f, n)) = run.replace((v, 1)) {
                            *self.flags.entry(f).or_default() += n;
                        }
                    }
                }
            }
            if let Some(n) = count {
                *self.mapcount.entry(n).or_default() += 1;
            }
            if let Some(g) = cgroup {
                *self.memcg.entry(g).or_default() += 1;
            }
            if self.opts.list != ListMode::None {
                self.list(c.first_vpage + i as u64, e, view, count, cgroup);
            }
        }
        if let Some((f, n)) = run {
            *self.flags.entry(f).or_default() += n;
        }
    }

    fn list(
        &mut self,
        vpage: u64,
        e: PagemapEntry,
        flags: Option<u64>,
        mapcount: Option<u64>,
        cgroup: Option<u64>,
    ) {
        let (pfn, swap_offset) = if e.present() { (e.pfn(), None) } else { (None, e.swap_offset()) };
        if self.opts.list == ListMode::Runs
            && let Some(last) = self.runs.last_mut()
        {
            let next = |a: Option<u64>| a.map(|x| x + last.pages);
            if last.vpage + last.pages == vpage
                && last.flags == flags
                && last.mapcount == mapcount
                && last.cgroup == cgroup
                && next(last.pfn) == pfn
                && next(last.swap_offset) == swap_offset
            {
                last.pages += 1;
                return;
            }
        }
        self.runs.push(PageRun { vpage, pfn, swap_offset, pages: 1, flags, mapcount, cgroup });
    }

    /// Totals over all mappings.
    pub fn totals(&self) -> MappingPages {
        let mut t = MappingPages::default();
        for m in &self.mappings {
            t.add(m);
        }
        t
    }
}

/// How a mapping is named in output: its path, or `[anon]`.
pub fn mapping_label(m: &Mapping) -> String {
    m.path.clone().unwrap_or_else(|| "[anon]".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kpf::*;
    use memscope_kernel::parse::pid::pagemap::{EXCLUSIVE, FILE_OR_SHARED, PRESENT, SOFT_DIRTY, SWAPPED};

    fn chunk<'a>(
        entries: &'a [u64],
        flags: &'a [Option<u64>],
        counts: &'a [Option<u64>],
    ) -> PagemapChunk<'a> {
        PagemapChunk { mapping: 0, first_vpage: 0x100, entries, flags, counts, cgroups: &[] }
    }

    #[test]
    fn mapping_counts_from_pagemap_and_flags() {
        let entries = [
            PRESENT | EXCLUSIVE | 10,
            PRESENT | EXCLUSIVE | 11,
            PRESENT | FILE_OR_SHARED | 50,
            SWAPPED | (7 << 5),
            0,
            PRESENT | SOFT_DIRTY | 60,
        ];
        let flags = [
            Some(ANON | LRU | THP | MLOCKED | UNEVICTABLE),
            Some(ANON | LRU | THP),
            Some(LRU | MMAP),
            None,
            None,
            None,
        ];
        let mut p = ProcessPages::new(PagesOptions::default(), 1);
        p.visit(&chunk(&entries, &flags, &[]));
        let m = p.mappings[0];
        assert_eq!((m.present, m.swapped, m.file, m.anon, m.exclusive), (4, 1, 1, 3, 2));
        assert_eq!((m.thp, m.mlocked, m.unevictable, m.flags_known, m.soft_dirty), (2, 1, 1, 3, 1));
        assert_eq!(p.flags_unknown, 1);
        // Default view: hacking bits hidden, pagemap file/swap added.
        assert_eq!(p.flags.get(&(ANON | LRU | THP | UNEVICTABLE)), Some(&1));
        assert_eq!(p.flags.get(&(LRU | MMAP | FILE)), Some(&1));
        assert_eq!(p.flags.get(&SWAP), Some(&1));
    }

    #[test]
    fn runs_join_consecutive_pages_only() {
        let entries =
            [PRESENT | 10, PRESENT | 11, PRESENT | 13, PRESENT | 14, SWAPPED | (5 << 5), SWAPPED | (6 << 5)];
        let f = Some(ANON | LRU);
        let flags = [f, f, f, Some(ANON), None, None];
        let counts = [Some(1), Some(1), Some(1), Some(1), None, None];
        let opts = PagesOptions { list: ListMode::Runs, ..PagesOptions::default() };
        let mut p = ProcessPages::new(opts, 1);
        p.visit(&chunk(&entries, &flags, &counts));
        let r: Vec<(u64, Option<u64>, u64)> = p.runs.iter().map(|r| (r.vpage, r.pfn, r.pages)).collect();
        assert_eq!(
            r,
            vec![(0x100, Some(10), 2), (0x102, Some(13), 1), (0x103, Some(14), 1), (0x104, None, 2)]
        );
        assert_eq!(p.runs[3].swap_offset, Some(5));
        assert_eq!(p.mapcount.get(&1), Some(&4));

        let each = PagesOptions { list: ListMode::Each, ..PagesOptions::default() };
        let mut p = ProcessPages::new(each, 1);
        p.visit(&chunk(&entries, &flags, &counts));
        assert_eq!(p.runs.len(), 6);
    }

    #[test]
    fn filters_need_known_flags() {
        let entries = [PRESENT | 10, PRESENT, PRESENT | 12];
        let flags = [Some(ANON | THP), None, Some(ANON)];
        let opts =
            PagesOptions { filters: vec![BitsFilter::parse("thp").unwrap()], ..PagesOptions::default() };
        let mut p = ProcessPages::new(opts, 1);
        p.visit(&chunk(&entries, &flags, &[]));
        assert_eq!(p.mappings[0].present, 1);
        assert_eq!(p.flags.values().sum::<u64>(), 1);
    }
}

/// One mapping of `memscope pages`, in bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MappingRow {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// `rwxp` / `rwxs`.
    pub perms: String,
    /// Path, `[heap]`, `[stack]`, `[anon]`, …
    pub label: String,
    /// Virtual size.
    pub size_bytes: u64,
    /// In RAM.
    pub present_bytes: u64,
    /// Swapped out.
    pub swapped_bytes: u64,
    /// Present file pages or shared anonymous memory.
    pub file_bytes: u64,
    /// Present private anonymous memory.
    pub anon_bytes: u64,
    /// Present and mapped by this process only.
    pub exclusive_bytes: u64,
    /// Soft-dirty.
    pub soft_dirty_bytes: u64,
    /// In transparent huge pages / large folios; null when flags are unknown.
    pub thp_bytes: Option<u64>,
    /// mlocked; null when flags are unknown.
    pub mlocked_bytes: Option<u64>,
    /// unevictable; null when flags are unknown.
    pub unevictable_bytes: Option<u64>,
    /// The kernel's pagemap does not cover this mapping (`[vsyscall]`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_walked: bool,
}

impl MappingRow {
    /// The row of a mapping from its page counts.
    pub fn new(m: &Mapping, p: &MappingPages, page: u64, flags_known: bool, not_walked: bool) -> MappingRow {
        let b = |n: u64| n * page;
        let f = |n: u64| flags_known.then_some(n * page);
        MappingRow {
            start: m.start,
            end: m.end,
            perms: m.perms.clone(),
            label: mapping_label(m),
            size_bytes: m.size(),
            present_bytes: b(p.present),
            swapped_bytes: b(p.swapped),
            file_bytes: b(p.file),
            anon_bytes: b(p.anon),
            exclusive_bytes: b(p.exclusive),
            soft_dirty_bytes: b(p.soft_dirty),
            thp_bytes: f(p.thp),
            mlocked_bytes: f(p.mlocked),
            unevictable_bytes: f(p.unevictable),
            not_walked,
        }
    }
}

/// Pages with one map count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapcountPages {
    /// Map count (kpagecount).
    pub mapcount: u64,
    /// Pages of this process with it.
    pub pages: u64,
}

/// Everything `memscope pages PID` shows.
#[derive(Debug, Clone, Serialize)]
pub struct PagesReport {
    /// The process.
    pub pid: u32,
    /// Its command name.
    pub comm: Option<String>,
    /// Kernel release.
    pub kernel: Option<String>,
    /// When the walk started (ms since the epoch).
    pub taken_at_unix_ms: u64,
    /// Base page size.
    pub page_size_bytes: u64,
    /// Flag view.
    pub view: FlagView,
    /// `--bits` filters as given.
    pub filters: Vec<String>,
    /// Flag sets, largest first (present pages with known flags, and
    /// swapped pages); empty when flags are unavailable.
    pub flags: Vec<crate::census::FlagRow>,
    /// Why kpageflags could not be joined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags_unavailable: Option<String>,
    /// Every mapping, in address order.
    pub mappings: Vec<MappingRow>,
    /// Sums over the mappings.
    pub totals: MappingRow,
    /// Pages by map count, with `--mapcount`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapcount: Option<Vec<MapcountPages>>,
    /// Pages by memory cgroup, with `--memcg`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memcg: Option<Vec<crate::census::MemcgRow>>,
    /// Why `--mapcount` / `--memcg` figures are missing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<String>,
    /// `--list` / `--list-each` rows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<PageRun>,
    /// The walk stopped early: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_early: Option<String>,
    /// Virtual pages whose pagemap entry was read.
    pub vpages_read: u64,
    /// `pread` calls on kpage* files.
    pub kpage_reads: u64,
    /// Walk wall time, microseconds.
    pub elapsed_usec: u64,
    /// What the numbers say.
    pub notes: Vec<String>,
}

/// The inputs of a [`PagesReport`] besides the counts.
pub struct PagesInputs<'a> {
    /// The walk.
    pub walk: &'a memscope_model::pages::ProcessWalk,
    /// The counts.
    pub pages: &'a ProcessPages,
    /// Command name.
    pub comm: Option<String>,
    /// Kernel release.
    pub kernel: Option<String>,
    /// When the walk started.
    pub taken_at_unix_ms: u64,
    /// `--bits` as given.
    pub filters: Vec<String>,
    /// `--mapcount` asked.
    pub mapcount_asked: bool,
    /// `--memcg` asked.
    pub memcg_asked: bool,
    /// Memory cgroup paths, or why unknown.
    pub memcg_paths: Result<&'a std::collections::HashMap<u64, String>, String>,
}

/// Build the report of a process walk.
pub fn pages_report(inp: &PagesInputs<'_>) -> PagesReport {
    use crate::hints::unavailable_reason;
    let w = inp.walk;
    let p = inp.pages;
    let page = w.page_size_bytes;
    let mut notes = Vec::new();
    let flags_unavailable = if let Some(e) = &w.flags_unavailable {
        Some(unavailable_reason(e))
    } else if w.pfns_hidden {
        Some(format!(
            "/proc/{}/pagemap hides page frame numbers from readers without CAP_SYS_ADMIN (PFNs read as 0)",
            w.pid
        ))
    } else {
        None
    };
    let flags_known = flags_unavailable.is_none();
    if p.flags_unknown > 0 && flags_known {
        notes.push(format!(
            "{} present pages have no kpageflags entry (device memory or PFNs beyond the file).",
            p.flags_unknown
        ));
    }
    let mappings: Vec<MappingRow> = w
        .maps
        .mappings
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let counts = p.mappings.get(i).copied().unwrap_or_default();
            MappingRow::new(m, &counts, page, flags_known, w.not_walked.contains(&i))
        })
        .collect();
    let t = p.totals();
    let total_size: u64 = w.maps.mappings.iter().map(|m| m.size()).sum();
    let mut totals = MappingRow::new(&Mapping::default(), &t, page, flags_known, false);
    totals.label = "total".into();
    totals.perms = String::new();
    totals.size_bytes = total_size;
    let mut unavailable = Vec::new();
    let mapcount = if inp.mapcount_asked {
        match (&w.counts_unavailable, &flags_unavailable) {
            (Some(e), _) => {
                unavailable.push(format!("map counts: {}", unavailable_reason(e)));
                None
            }
            (None, Some(r)) => {
                unavailable.push(format!("map counts: {r}"));
                None
            }
            (None, None) => {
                Some(p.mapcount.iter().map(|(c, n)| MapcountPages { mapcount: *c, pages: *n }).collect())
            }
        }
    } else {
        None
    };
    let memcg = if inp.memcg_asked {
        match (&w.cgroups_unavailable, &flags_unavailable) {
            (Some(e), _) => {
                unavailable.push(format!("memory cgroups: {}", unavailable_reason(e)));
                None
            }
            (None, Some(r)) => {
                unavailable.push(format!("memory cgroups: {r}"));
                None
            }
            (None, None) => {
                if let Err(e) = &inp.memcg_paths {
                    unavailable.push(format!("memory cgroup paths: {e}"));
                }
                let names = crate::census::GroupNames { memcg: inp.memcg_paths.as_ref().ok().copied() };
                Some(crate::census::memcg_rows(&p.memcg, page, &names))
            }
        }
    } else {
        None
    };
    let ended_early = w.ended_early.as_ref().map(|e| match e {
        memscope_kernel::ReadError::Gone { .. } => {
            "the process exited during the walk; the figures cover what was read before".to_string()
        }
        other => format!("the walk stopped: {}", unavailable_reason(other)),
    });
    if !w.not_walked.is_empty() {
        notes.push(format!(
            "{} mapping(s) lie outside what /proc/PID/pagemap covers (above the task size, like [vsyscall]).",
            w.not_walked.len()
        ));
    }
    PagesReport {
        pid: w.pid,
        comm: inp.comm.clone(),
        kernel: inp.kernel.clone(),
        taken_at_unix_ms: inp.taken_at_unix_ms,
        page_size_bytes: page,
        view: p.opts.view,
        filters: inp.filters.clone(),
        flags: if flags_known { crate::census::flag_rows(&p.flags, page) } else { Vec::new() },
        flags_unavailable,
        mappings,
        totals,
        mapcount,
        memcg,
        unavailable,
        runs: p.runs.clone(),
        ended_early,
        vpages_read: w.vpages_read,
        kpage_reads: w.kpage_reads,
        elapsed_usec: w.elapsed_usec,
        notes,
    }
}
