//! Page-frame scans: the I/O behind `memscope phys` and `memscope pages`.
//!
//! ```text
//!  scan_pfns     kpageflags ┐
//!                kpagecount ├─ one chunk of PFNs, the three files read
//!                kpagecgroup┘  together, on a few workers ──▶ PfnSink::visit
//!
//!  walk_process  maps ─▶ pagemap (chunks of virtual pages)
//!                        └─ present PFNs sorted, runs merged ─▶ kpage* reads
//!                           ──▶ visit(PagemapChunk)
//! ```
//!
//! The files hold one `u64` per entry and are read with `pread` into
//! buffers that are reused from chunk to chunk ([`KernelFile::read_at`]
//! loops over short reads and never returns part of an entry). Nothing is
//! interpreted here: the sinks (in the analysis crate) count.
//!
//! tools/mm/page-types.c reads kpageflags with one `pread` per present page
//! of a process; here the present PFNs of a chunk are sorted and read as
//! runs, with small gaps read through (a `pread` costs about as much as a
//! few entries), so a process whose pages are physically close costs few
//! system calls.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, mpsc};
use std::time::Instant;

use memscope_kernel::cgroup::CgroupReader;
use memscope_kernel::parse::meminfo::Meminfo;
use memscope_kernel::parse::pid::maps::Maps;
use memscope_kernel::parse::pid::pagemap::PagemapEntry;
use memscope_kernel::parse::zoneinfo::Zoneinfo;
use memscope_kernel::{KernelFile, KernelRoot, ReadError, paths};
use serde::Serialize;

use crate::Sample;

/// Bytes per entry of pagemap and the kpage* files.
pub const ENTRY_BYTES: usize = 8;

/// Read up to `n` entries from entry `index` of `file` into `out`, reusing
/// its allocation; `out` holds exactly the entries read. Fewer than `n`
/// means the file ended there. The entries are native-endian `u64`s, read
/// straight into `out`'s memory.
pub fn read_entries(file: &KernelFile, index: u64, n: usize, out: &mut Vec<u64>) -> Result<usize, ReadError> {
    out.clear();
    let Some(offset) = index.checked_mul(ENTRY_BYTES as u64) else { return Ok(0) };
    out.resize(n, 0);
    let got = file.read_at(bytemuck::cast_slice_mut(&mut out[..]), offset, ENTRY_BYTES)?;
    out.truncate(got / ENTRY_BYTES);
    Ok(out.len())
}

// ---------------------------------------------------------------- PFN scan

/// The entries of one chunk of consecutive PFNs.
#[derive(Debug, Clone, Copy)]
pub struct PfnChunk<'a> {
    /// PFN of `flags[0]`.
    pub start_pfn: u64,
    /// kpageflags entries.
    pub flags: &'a [u64],
    /// kpagecount entries of the same PFNs: empty when not read; shorter
    /// than `flags` when the file ended first.
    pub counts: &'a [u64],
    /// kpagecgroup entries, like `counts`.
    pub cgroups: &'a [u64],
}

/// Receives the chunks of a PFN scan. Each worker has its own sink; the
/// sinks are merged at the end, so a sink needs no locking.
pub trait PfnSink: Send {
    /// Count one chunk.
    fn visit(&mut self, chunk: &PfnChunk<'_>);
    /// Add another worker's counts to this one.
    fn merge(&mut self, other: Self)
    where
        Self: Sized;
}

/// What a PFN scan reads.
#[derive(Debug, Clone, Default)]
pub struct PfnScanOptions {
    /// PFN ranges `[start, end)`, any order; empty: every PFN.
    pub ranges: Vec<(u64, u64)>,
    /// Also read kpagecount.
    pub counts: bool,
    /// Also read kpagecgroup.
    pub cgroups: bool,
    /// PFNs per chunk (0: [`DEFAULT_CHUNK_PAGES`]).
    pub chunk_pages: usize,
    /// Workers (0: one per CPU, at most 4).
    pub threads: usize,
}

/// PFNs per chunk of a physical scan: 256 KiB per file, three files, per
/// worker; large enough that system calls do not matter, small enough to
/// stay in cache while counted.
pub const DEFAULT_CHUNK_PAGES: usize = 32 * 1024;

/// How a PFN scan went.
#[derive(Debug, Serialize)]
pub struct PfnScan<S> {
    /// The merged counts.
    #[serde(skip)]
    pub sink: S,
    /// PFNs whose flags were read.
    pub pfns: u64,
    /// The PFN at which kpageflags ended (one past the last PFN it has),
    /// when the scan reached it.
    pub end_pfn: Option<u64>,
    /// Why kpagecount was not read (None: read, or not asked).
    pub counts_unavailable: Option<ReadError>,
    /// The first PFN kpagecount did not cover, when it ended before kpageflags.
    pub counts_ended_at: Option<u64>,
    /// Why kpagecgroup was not read (None: read, or not asked).
    pub cgroups_unavailable: Option<ReadError>,
    /// The first PFN kpagecgroup did not cover, when it ended before kpageflags.
    pub cgroups_ended_at: Option<u64>,
    /// A read error that stopped the scan early (the counts cover the PFNs
    /// before it).
    pub stopped: Option<ReadError>,
    /// Wall time of the scan, microseconds.
    pub elapsed_usec: u64,
    /// Workers used.
    pub threads: usize,
}

/// Sorted, merged ranges; `[0, u64::MAX)` when none are given.
fn normalize(ranges: &[(u64, u64)]) -> Vec<(u64, u64)> {
    if ranges.is_empty() {
        return vec![(0, u64::MAX)];
    }
    let mut r: Vec<(u64, u64)> = ranges.iter().copied().filter(|(s, e)| e > s).collect();
    r.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(r.len());
    for (s, e) in r {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Chunk `i` of the ranges, in PFN order: `(start, len)`.
fn chunk_at(ranges: &[(u64, u64)], chunk: u64, mut i: u64) -> Option<(u64, u64)> {
    for &(s, e) in ranges {
        let n = (e - s).div_ceil(chunk);
        if i < n {
            let start = s + i * chunk;
            return Some((start, chunk.min(e - start)));
        }
        i -= n;
    }
    None
}

/// Read kpageflags (and kpagecount, kpagecgroup when asked) for the PFNs of
/// `opts.ranges`, chunk by chunk, on a few workers, and hand every chunk to
/// a sink made by `make`. `progress` is called with the number of PFNs of
/// each chunk done. Fails only when kpageflags cannot be opened.
pub fn scan_pfns<S: PfnSink>(
    root: &KernelRoot,
    opts: &PfnScanOptions,
    make: impl Fn() -> S + Sync,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<PfnScan<S>, ReadError> {
    let started = Instant::now();
    let flags_file = root.open(paths::KPAGEFLAGS)?;
    let open_optional = |wanted: bool, kpath: &str| -> (Option<KernelFile>, Option<ReadError>) {
        if !wanted {
            return (None, None);
        }
        match root.open(kpath) {
            Ok(f) => (Some(f), None),
            Err(e) => (None, Some(e)),
        }
    };
    let (counts_file, counts_unavailable) = open_optional(opts.counts, paths::KPAGECOUNT);
    let (cgroups_file, cgroups_unavailable) = open_optional(opts.cgroups, paths::KPAGECGROUP);

    let ranges = normalize(&opts.ranges);
    let chunk = if opts.chunk_pages == 0 { DEFAULT_CHUNK_PAGES } else { opts.chunk_pages } as u64;
    let threads = if opts.threads > 0 {
        opts.threads
    } else {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 4)
    };
    let next = AtomicUsize::new(0);
    let eof = AtomicU64::new(u64::MAX);
    let pfns = AtomicU64::new(0);
    let counts_end = AtomicU64::new(u64::MAX);
    let cgroups_end = AtomicU64::new(u64::MAX);
    let stopped: Mutex<Option<(u64, ReadError)>> = Mutex::new(None);

    let worker = || -> S {
        let mut sink = make();
        let (mut flags, mut counts, mut cgroups) = (Vec::new(), Vec::new(), Vec::new());
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed) as u64;
            let Some((start, len)) = chunk_at(&ranges, chunk, i) else { break };
            if start >= eof.load(Ordering::Relaxed) {
                break;
            }
            let len = len as usize;
            let got = match read_entries(&flags_file, start, len, &mut flags) {
                Ok(n) => n,
                Err(e) => {
                    if let Ok(mut s) = stopped.lock()
                        && s.as_ref().is_none_or(|(p, _)| start < *p)
                    {
                        *s = Some((start, e));
                    }
                    eof.fetch_min(start, Ordering::Relaxed);
                    break;
                }
            };
            if got < len {
                eof.fetch_min(start + got as u64, Ordering::Relaxed);
            }
            if got == 0 {
                break;
            }
            let optional = |file: &Option<KernelFile>, out: &mut Vec<u64>, end: &AtomicU64| {
                out.clear();
                if let Some(f) = file {
                    let n = read_entries(f, start, got, out).unwrap_or(0);
                    if n < got {
                        end.fetch_min(start + n as u64, Ordering::Relaxed);
                    }
                }
            };
            optional(&counts_file, &mut counts, &counts_end);
            optional(&cgroups_file, &mut cgroups, &cgroups_end);
            sink.visit(&PfnChunk { start_pfn: start, flags: &flags, counts: &counts, cgroups: &cgroups });
            pfns.fetch_add(got as u64, Ordering::Relaxed);
            progress(got as u64);
            if got < len {
                break;
            }
        }
        sink
    };
    let mut sinks: Vec<S> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
        handles.into_iter().map(|h| h.join().expect("PFN scan worker panicked")).collect()
    });
    let mut sink = sinks.pop().unwrap_or_else(&make);
    for other in sinks {
        sink.merge(other);
    }
    let eof = eof.load(Ordering::Relaxed);
    let ended = |a: &AtomicU64| Some(a.load(Ordering::Relaxed)).filter(|p| *p != u64::MAX && *p < eof);
    let stopped = stopped.into_inner().ok().flatten().map(|(_, e)| e);
    Ok(PfnScan {
        sink,
        pfns: pfns.load(Ordering::Relaxed),
        end_pfn: Some(eof).filter(|p| *p != u64::MAX && stopped.is_none()),
        counts_unavailable,
        counts_ended_at: ended(&counts_end),
        cgroups_unavailable,
        cgroups_ended_at: ended(&cgroups_end),
        stopped,
        elapsed_usec: started.elapsed().as_micros() as u64,
        threads,
    })
}

/// `/proc/meminfo` and `/proc/zoneinfo` read while a scan runs: a scan
/// takes a second or more, and what it saw is best compared with the
/// counters over that time, not at one end of it.
#[derive(Debug, Clone)]
pub struct CounterSample {
    /// `/proc/meminfo`.
    pub meminfo: Sample<Meminfo>,
    /// `/proc/zoneinfo`.
    pub zoneinfo: Sample<Zoneinfo>,
}

/// Run `work` while another thread reads meminfo and zoneinfo every
/// `period` (a few hundred microseconds each); the samples come back in
/// time order with the work's result.
pub fn sample_counters_during<R>(
    root: &KernelRoot,
    period: std::time::Duration,
    work: impl FnOnce() -> R,
) -> (R, Vec<CounterSample>) {
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let sampler = s.spawn(move || {
            let mut samples = Vec::new();
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                samples.push(CounterSample { meminfo: root.meminfo(), zoneinfo: root.zoneinfo() });
            }
            samples
        });
        let result = work();
        drop(stop);
        (result, sampler.join().unwrap_or_default())
    })
}

// ------------------------------------------------------------ process walk

/// One chunk of a process's virtual pages, inside one mapping.
#[derive(Debug, Clone, Copy)]
pub struct PagemapChunk<'a> {
    /// Index of the mapping in [`ProcessWalk::maps`].
    pub mapping: usize,
    /// Virtual page number (address / page size) of `entries[0]`.
    pub first_vpage: u64,
    /// pagemap entries.
    pub entries: &'a [u64],
    /// kpageflags of each present page whose PFN could be read; `None`
    /// for pages not present, PFNs hidden, or kpageflags unreadable.
    pub flags: &'a [Option<u64>],
    /// kpagecount, like `flags`; empty when not asked.
    pub counts: &'a [Option<u64>],
    /// kpagecgroup, like `flags`; empty when not asked.
    pub cgroups: &'a [Option<u64>],
}

/// What a process walk reads.
#[derive(Debug, Clone)]
pub struct ProcessWalkOptions {
    /// Also read kpagecount (map counts).
    pub counts: bool,
    /// Also read kpagecgroup (memory cgroups).
    pub cgroups: bool,
    /// Virtual page ranges `[start, end)` to walk (page numbers, not
    /// addresses); empty: every mapping in full.
    pub ranges: Vec<(u64, u64)>,
    /// Virtual pages per pagemap read (default 8,192: 32 MiB of 4 KiB
    /// pages). Each chunk in flight holds its entries and their kpage*
    /// values; small chunks keep those buffers in cache and reused rather
    /// than fresh pages the kernel must zero: with 4 GiB touched, `pages
    /// PID` took 74.6 ms with chunks of 65,536 pages and 62.6–64.8 ms with
    /// 4,096 or 8,192.
    pub chunk_pages: usize,
    /// Read through gaps of up to this many PFNs between present pages
    /// rather than issue another `pread`.
    pub gap_pages: u64,
    /// Workers (0: one per CPU, at most 4).
    pub threads: usize,
}

impl Default for ProcessWalkOptions {
    fn default() -> Self {
        ProcessWalkOptions {
            counts: false,
            cgroups: false,
            ranges: Vec::new(),
            chunk_pages: 8 * 1024,
            gap_pages: 8,
            threads: 0,
        }
    }
}

/// How a process walk went.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessWalk {
    /// The process.
    pub pid: u32,
    /// Base page size in bytes.
    pub page_size_bytes: u64,
    /// Its mappings (`/proc/PID/maps`), every one of them.
    #[serde(skip)]
    pub maps: Maps,
    /// Why kpageflags could not be read (the flag-dependent figures are
    /// then unavailable).
    pub flags_unavailable: Option<ReadError>,
    /// Why kpagecount was not read, when asked.
    pub counts_unavailable: Option<ReadError>,
    /// Why kpagecgroup was not read, when asked.
    pub cgroups_unavailable: Option<ReadError>,
    /// Present pages were seen, all with PFN 0: the kernel hides PFNs from
    /// readers without CAP_SYS_ADMIN.
    pub pfns_hidden: bool,
    /// The walk stopped early (the process exited); what was read is kept.
    pub ended_early: Option<ReadError>,
    /// Mappings the kernel's pagemap does not cover (`[vsyscall]` lies
    /// above the task size), by index.
    pub not_walked: Vec<usize>,
    /// Virtual pages whose pagemap entry was read.
    pub vpages_read: u64,
    /// `pread` calls on the kpage* files.
    pub kpage_reads: u64,
    /// Wall time, microseconds.
    pub elapsed_usec: u64,
}

/// Walk a process: read its maps, then its pagemap mapping by mapping, and
/// the kpage* entries of its present pages, handing each chunk to `visit`
/// in address order. Chunks are read on a few workers (the kpage* reads
/// are kernel work per entry, which a second CPU halves) and visited in
/// order by the calling thread. Fails when the maps or the pagemap cannot
/// be read at all; a process that exits during the walk ends it with
/// [`ProcessWalk::ended_early`].
pub fn walk_process(
    root: &KernelRoot,
    pid: u32,
    opts: &ProcessWalkOptions,
    visit: &mut dyn FnMut(&PagemapChunk<'_>),
    progress: &dyn Fn(u64),
) -> Result<ProcessWalk, ReadError> {
    let started = Instant::now();
    let page_size = root.page_size().unwrap_or(4096).max(1);
    let maps = root.pid_maps(pid)?;
    let pagemap = root.open_pagemap(pid)?;
    let (flags_file, flags_unavailable) = match root.open(paths::KPAGEFLAGS) {
        Ok(f) => (Some(f), None),
        Err(e) => (None, Some(e)),
    };
    let open_optional = |wanted: bool, kpath: &str| match (wanted, &flags_file) {
        (false, _) | (_, None) => (None, None),
        (true, Some(_)) => match root.open(kpath) {
            Ok(f) => (Some(f), None),
            Err(e) => (None, Some(e)),
        },
    };
    let (counts_file, counts_unavailable) = open_optional(opts.counts, paths::KPAGECOUNT);
    let (cgroups_file, cgroups_unavailable) = open_optional(opts.cgroups, paths::KPAGECGROUP);
    let files = KpageFiles {
        flags: flags_file.as_ref(),
        counts: counts_file.as_ref(),
        cgroups: cgroups_file.as_ref(),
    };

    // The work, in address order: pieces of mappings, at most a chunk each.
    let ranges = if opts.ranges.is_empty() { Vec::new() } else { normalize(&opts.ranges) };
    let chunk_pages = opts.chunk_pages.clamp(1, 1 << INDEX_BITS) as u64;
    let mut items = Vec::new();
    for (mi, m) in maps.mappings.iter().enumerate() {
        let (first, end) = (m.start / page_size, m.end.div_ceil(page_size));
        let pieces: Vec<(u64, u64)> = if ranges.is_empty() {
            vec![(first, end)]
        } else {
            ranges
                .iter()
                .filter_map(|&(s, e)| Some((s.max(first), e.min(end))).filter(|(a, b)| a < b))
                .collect()
        };
        for (from, to) in pieces {
            let mut at = from;
            while at < to {
                let n = (to - at).min(chunk_pages);
                items.push(Item { mapping: mi, from: at, pages: n as usize });
                at += n;
            }
        }
    }

    let mut walk = ProcessWalk {
        pid,
        page_size_bytes: page_size,
        maps: Maps::default(),
        flags_unavailable,
        counts_unavailable,
        cgroups_unavailable,
        pfns_hidden: false,
        ended_early: None,
        not_walked: Vec::new(),
        vpages_read: 0,
        kpage_reads: 0,
        elapsed_usec: 0,
    };
    let threads = if opts.threads > 0 {
        opts.threads
    } else {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 4)
    }
    .min(items.len().max(1));
    let ahead = threads * 2;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let visited = (Mutex::new(0usize), Condvar::new());
    let spares: Mutex<Vec<Done>> = Mutex::new(Vec::new());
    let (tx, rx) = mpsc::channel::<(usize, Done)>();
    let (mut present_seen, mut pfn_seen) = (false, false);

    std::thread::scope(|s| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (items, next, stop, visited, spares, pagemap) =
                (&items, &next, &stop, &visited, &spares, &pagemap);
            s.spawn(move || {
                let mut reader = KpageReader::new(files, opts.gap_pages);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    // Stay at most `ahead` chunks in front of the visitor.
                    if let Ok(mut v) = visited.0.lock() {
                        while i >= *v + ahead && !stop.load(Ordering::Relaxed) {
                            v = match visited.1.wait(v) {
                                Ok(v) => v,
                                Err(_) => return,
                            };
                        }
                    }
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let spare = spares.lock().ok().and_then(|mut v| v.pop());
                    let done = read_item(root, pid, pagemap, &mut reader, item, spare);
                    if tx.send((i, done)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending: BTreeMap<usize, Done> = BTreeMap::new();
        let mut want = 0usize;
        'recv: for (i, done) in rx.iter() {
            pending.insert(i, done);
            while let Some(done) = pending.remove(&want) {
                let item = &items[want];
                walk.kpage_reads += done.kpage_reads;
                match done.outcome {
                    Outcome::Read => {
                        for &e in &done.entries {
                            let e = PagemapEntry(e);
                            present_seen |= e.present();
                            pfn_seen |= e.pfn().is_some();
                        }
                        visit(&PagemapChunk {
                            mapping: item.mapping,
                            first_vpage: item.from,
                            entries: &done.entries,
                            flags: &done.flags,
                            counts: &done.counts,
                            cgroups: &done.cgroups,
                        });
                        walk.vpages_read += done.entries.len() as u64;
                        progress(item.pages as u64);
                        if let Ok(mut v) = spares.lock() {
                            v.push(done);
                        }
                    }
                    Outcome::NotWalked => {
                        if walk.not_walked.last() != Some(&item.mapping) {
                            walk.not_walked.push(item.mapping);
                        }
                        progress(item.pages as u64);
                    }
                    Outcome::Ended(e) => {
                        walk.ended_early = Some(e);
                        stop.store(true, Ordering::Relaxed);
                        visited.1.notify_all();
                        break 'recv;
                    }
                }
                want += 1;
                if let Ok(mut v) = visited.0.lock() {
                    *v = want;
                }
                visited.1.notify_all();
            }
        }
        stop.store(true, Ordering::Relaxed);
        visited.1.notify_all();
    });
    walk.pfns_hidden = present_seen && !pfn_seen;
    walk.maps = maps;
    walk.elapsed_usec = started.elapsed().as_micros() as u64;
    Ok(walk)
}

/// A piece of one mapping, at most a chunk long.
struct Item {
    mapping: usize,
    from: u64,
    pages: usize,
}

/// How reading an [`Item`] went.
enum Outcome {
    /// Entries read (possibly fewer than asked, at the end of pagemap).
    Read,
    /// pagemap gives nothing here while the process lives: the mapping lies
    /// above the task size (`[vsyscall]`).
    NotWalked,
    /// The process is gone (or pagemap failed): stop here.
    Ended(ReadError),
}

/// One item's entries.
struct Done {
    entries: Vec<u64>,
    flags: Vec<Option<u64>>,
    counts: Vec<Option<u64>>,
    cgroups: Vec<Option<u64>>,
    outcome: Outcome,
    kpage_reads: u64,
}

fn read_item(
    root: &KernelRoot,
    pid: u32,
    pagemap: &KernelFile,
    reader: &mut KpageReader<'_>,
    item: &Item,
    spare: Option<Done>,
) -> Done {
    // Reuse the buffers of a chunk already visited: fresh ones cost page faults.
    let mut entries = match spare {
        Some(d) => {
            reader.flags = d.flags;
            reader.counts = d.counts;
            reader.cgroups = d.cgroups;
            d.entries
        }
        None => Vec::new(),
    };
    let outcome = match read_entries(pagemap, item.from, item.pages, &mut entries) {
        Err(e) => Outcome::Ended(e),
        // pagemap gives nothing past the task size ([vsyscall]), and
        // nothing at all once the address space is gone.
        Ok(0) => match root.pid_status(pid) {
            Ok(s) if s.has_address_space() => Outcome::NotWalked,
            Ok(_) | Err(ReadError::Gone { .. }) => {
                Outcome::Ended(ReadError::Gone { path: paths::pid_file(pid, "pagemap") })
            }
            Err(e) => Outcome::Ended(e),
        },
        Ok(_) => Outcome::Read,
    };
    let before = reader.reads;
    if matches!(outcome, Outcome::Read) {
        reader.read(&entries);
    }
    Done {
        entries,
        flags: std::mem::take(&mut reader.flags),
        counts: std::mem::take(&mut reader.counts),
        cgroups: std::mem::take(&mut reader.cgroups),
        outcome,
        kpage_reads: reader.reads - before,
    }
}

/// The kpage* files a walk reads (flags absent: unreadable).
#[derive(Clone, Copy)]
struct KpageFiles<'f> {
    flags: Option<&'f KernelFile>,
    counts: Option<&'f KernelFile>,
    cgroups: Option<&'f KernelFile>,
}

/// Reads the kpage* entries of the present pages of one pagemap chunk.
struct KpageReader<'f> {
    files: KpageFiles<'f>,
    gap: u64,
    /// Present pages of the chunk as `pfn << INDEX_BITS | index`, sorted.
    order: Vec<u64>,
    run: Vec<u64>,
    flags: Vec<Option<u64>>,
    counts: Vec<Option<u64>>,
    cgroups: Vec<Option<u64>>,
    reads: u64,
}

/// The longest run of PFNs read at once.
const MAX_RUN_PAGES: u64 = 64 * 1024;

/// Bits of a chunk index packed under the PFN in [`KpageReader::order`]:
/// chunks are at most `1 << INDEX_BITS` pages, PFNs below `1 << (64 −
/// INDEX_BITS)` (an exabyte of RAM); larger PFNs are read one by one.
const INDEX_BITS: u32 = 20;

impl<'f> KpageReader<'f> {
    fn new(files: KpageFiles<'f>, gap: u64) -> KpageReader<'f> {
        KpageReader {
            files,
            gap,
            order: Vec::new(),
            run: Vec::new(),
            flags: Vec::new(),
            counts: Vec::new(),
            cgroups: Vec::new(),
            reads: 0,
        }
    }

    /// Fill `flags`, `counts`, `cgroups` for `entries` (at most
    /// `1 << INDEX_BITS` of them).
    fn read(&mut self, entries: &[u64]) {
        let n = entries.len();
        debug_assert!(n <= 1 << INDEX_BITS);
        let reset = |v: &mut Vec<Option<u64>>, on: bool| {
            v.clear();
            if on {
                v.resize(n, None);
            }
        };
        reset(&mut self.flags, true);
        reset(&mut self.counts, self.files.counts.is_some());
        reset(&mut self.cgroups, self.files.cgroups.is_some());
        if self.files.flags.is_none() {
            return;
        }
        let mask = (1u64 << INDEX_BITS) - 1;
        self.order.clear();
        let mut huge = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            if let Some(pfn) = PagemapEntry(*e).pfn() {
                if pfn >> (64 - INDEX_BITS) == 0 {
                    self.order.push(pfn << INDEX_BITS | i as u64);
                } else {
                    huge.push((pfn, i));
                }
            }
        }
        // Virtual order is often physical order already (THP, sequential faults).
        if !self.order.is_sorted() {
            self.order.sort_unstable();
        }
        let mut i = 0;
        while i < self.order.len() {
            let start = self.order[i] >> INDEX_BITS;
            let mut last = start;
            let mut j = i + 1;
            while let Some(&packed) = self.order.get(j) {
                let p = packed >> INDEX_BITS;
                if p > last + self.gap + 1 || p - start >= MAX_RUN_PAGES {
                    break;
                }
                last = p;
                j += 1;
            }
            self.fill(start, last - start + 1, i, j, mask);
            i = j;
        }
        for (pfn, idx) in huge {
            self.fill_one(pfn, idx);
        }
    }

    /// Read PFNs `[start, start + len)` and give each of `order[i..j]` its entries.
    fn fill(&mut self, start: u64, len: u64, i: usize, j: usize, mask: u64) {
        for which in 0..3 {
            let (file, out) = match which {
                0 => (self.files.flags, &mut self.flags),
                1 => (self.files.counts, &mut self.counts),
                _ => (self.files.cgroups, &mut self.cgroups),
            };
            let Some(file) = file else { continue };
            self.reads += 1;
            if read_entries(file, start, len as usize, &mut self.run).unwrap_or(0) == 0 {
                continue;
            }
            for &packed in &self.order[i..j] {
                let pfn = packed >> INDEX_BITS;
                out[(packed & mask) as usize] = self.run.get((pfn - start) as usize).copied();
            }
        }
    }

    fn fill_one(&mut self, pfn: u64, idx: usize) {
        for which in 0..3 {
            let (file, out) = match which {
                0 => (self.files.flags, &mut self.flags),
                1 => (self.files.counts, &mut self.counts),
                _ => (self.files.cgroups, &mut self.cgroups),
            };
            let Some(file) = file else { continue };
            self.reads += 1;
            if read_entries(file, pfn, 1, &mut self.run).unwrap_or(0) == 1 {
                out[idx] = Some(self.run[0]);
            }
        }
    }
}

// ------------------------------------------------------ memory cgroup names

/// Memory cgroup directories by inode number, to name what kpagecgroup
/// reports (`page_cgroup_ino()`: the inode of the cgroup directory the page
/// is charged to, in the memory controller's hierarchy).
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemcgPaths {
    /// Kernel path of the hierarchy's root (`/sys/fs/cgroup/memory` on v1).
    pub hierarchy: String,
    /// Inode → path relative to the hierarchy (`/` for the root).
    pub paths: HashMap<u64, String>,
}

impl MemcgPaths {
    /// The cgroup path of an inode, if known.
    pub fn path(&self, inode: u64) -> Option<&str> {
        self.paths.get(&inode).map(String::as_str)
    }
}

/// Map every memory cgroup's inode to its path, walking the memory
/// controller's hierarchy (the v1 `memory` mount, else the v2 one when its
/// `cgroup.controllers` lists `memory`) with the kernel crate's cgroupfs
/// reader. Bounded: at most `max_groups` cgroups.
pub fn memcg_paths(root: &KernelRoot, max_groups: usize) -> Result<MemcgPaths, ReadError> {
    let reader = CgroupReader::detect(root)?;
    let Some(h) = reader.layout().controller("memory") else {
        return Err(ReadError::missing_field(
            paths::MOUNTINFO,
            "a cgroup hierarchy with the memory controller",
        ));
    };
    let hierarchy = h.mount_point.trim_end_matches('/').to_string();
    let mut paths_by_inode = HashMap::new();
    for rel in reader.walk(h).into_iter().take(max_groups) {
        let Ok(ino) = root.inode(&format!("{hierarchy}{rel}")) else { continue };
        paths_by_inode.insert(ino, if rel.is_empty() { "/".to_string() } else { rel });
    }
    Ok(MemcgPaths { hierarchy, paths: paths_by_inode })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_sorted_and_merged() {
        assert_eq!(normalize(&[]), vec![(0, u64::MAX)]);
        assert_eq!(normalize(&[(10, 20), (0, 5), (15, 30), (40, 40)]), vec![(0, 5), (10, 30)]);
    }

    #[test]
    fn chunks_walk_ranges_in_order() {
        let r = vec![(0, 10), (100, 105)];
        assert_eq!(chunk_at(&r, 4, 0), Some((0, 4)));
        assert_eq!(chunk_at(&r, 4, 2), Some((8, 2)));
        assert_eq!(chunk_at(&r, 4, 3), Some((100, 4)));
        assert_eq!(chunk_at(&r, 4, 4), Some((104, 1)));
        assert_eq!(chunk_at(&r, 4, 5), None);
        let open = vec![(0, u64::MAX)];
        assert_eq!(chunk_at(&open, 1 << 15, 3), Some((3 << 15, 1 << 15)));
    }
}
