//! The collection pass: system files on one thread, processes on a small
//! pool of workers, `smaps_rollup` largest first, under a budget: after the
//! cheap files when they decide what to read (a filter, carried rollups),
//! else beside them ([`read_overlapped`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use memscope_kernel::parse::iomem::Iomem;
use memscope_kernel::parse::pid::cgroup::ProcCgroup;
use memscope_kernel::parse::pid::limits::ResourceLimit;
use memscope_kernel::parse::pid::stat::Stat;
use memscope_kernel::parse::pid::status::{Status, StatusKeys};
use memscope_kernel::parse::slabinfo::Slabinfo;
use memscope_kernel::parse::vmallocinfo::Vmallocinfo;
use memscope_kernel::{HeldFiles, KernelRoot, ReadError, paths};

use crate::fds::{ProcessFds, has_no_files, read_fd_system, read_process_fds};
use crate::incremental::{Counters, Decision, IncrementalPss};
use crate::{
    EXITED_DURING_CAPTURE, ProcessSample, ProcessScan, ProcessSnapshot, Rollup, SNAPSHOT_VERSION, Sample,
    Snapshot, now_unix_ms,
};

/// Which per-process files to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcessMode {
    /// No processes.
    None,
    /// `stat`, `status`, `cgroup`, `cmdline`: cheap counters only.
    StatusOnly,
    /// Also `smaps_rollup` (PSS, USS), within the budget.
    #[default]
    Full,
}

/// A predicate choosing which processes to keep, decided on the cheap files
/// (phase 1) so that the costly `smaps_rollup` reads are spent only on the
/// processes asked for.
#[derive(Clone)]
pub struct ProcessFilter(pub Arc<dyn Fn(&ProcessSample) -> bool + Send + Sync>);

impl ProcessFilter {
    /// A filter from a closure.
    pub fn new(f: impl Fn(&ProcessSample) -> bool + Send + Sync + 'static) -> ProcessFilter {
        ProcessFilter(Arc::new(f))
    }
}

impl std::fmt::Debug for ProcessFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProcessFilter(..)")
    }
}

/// What to collect and how much it may cost.
#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    /// Per-process reads.
    pub processes: ProcessMode,
    /// Stop reading `smaps_rollup` once this much time has passed since the
    /// first read, and do not start a read predicted to end later; those
    /// processes keep their `status` figures.
    pub rollup_budget: Option<Duration>,
    /// Do not read `smaps_rollup` of processes whose `VmRSS` exceeds this
    /// many bytes (the walk would stall them).
    pub rollup_max_rss_bytes: Option<u64>,
    /// Only these processes (all when `None`).
    pub pids: Option<Vec<u32>>,
    /// Worker threads for the `smaps_rollup` reads (0: one per CPU, at
    /// most 4); the cheap files are read on one thread.
    pub threads: usize,
    /// Also read each process's namespaces (`/proc/PID/ns/*`), to tell
    /// containers apart.
    pub namespaces: bool,
    /// Skip each process's `cgroup` (`memscope report` does not show it,
    /// nor does `memscope ps`'s table unless it groups or filters by
    /// cgroup); it is then [`ReadError::NotReported`].
    pub skip_cgroup: bool,
    /// Skip each process's `cmdline` (`memscope report` does not show it);
    /// it is then [`ReadError::NotReported`].
    pub skip_cmdline: bool,
    /// Skip each process's `stat` (`memscope report` shows none of its
    /// figures: the command name comes from `status`'s `Name`, the order of
    /// the walks from its `VmRSS`); it is then [`ReadError::NotReported`].
    /// A scan that keeps a [`CollectOptions::cache`] or carries rollups
    /// forward needs `stat`'s start time and reads it regardless.
    pub skip_stat: bool,
    /// The command lists no kernel thread (`ps`): one that its `stat` says
    /// is one ([`Stat::kernel_thread`]) is read no further, its other files
    /// [`ReadError::NotReported`] and its rollup [`Rollup::NoAddressSpace`].
    /// (About a fifth of a server's processes; `status`, `cmdline` and the
    /// `exe` link of each cost three opens and reads.)
    pub kernel_threads_stat_only: bool,
    /// Also read each process's `exe` link on the running system
    /// ([`crate::ProcessSample::exe`]: `ps` names the program of each
    /// command line by it). Read with the cheap files, it overlaps the
    /// page-table walks.
    pub exe: bool,
    /// Keep only the processes this accepts (after the cheap files, before
    /// `smaps_rollup`); the others are counted in
    /// [`ProcessScan::filtered_out`].
    pub filter: Option<ProcessFilter>,
    /// Leave these processes out before reading any of their files (the
    /// tool's own process); they are counted in
    /// [`ProcessScan::filtered_out`]. Unlike a [`CollectOptions::filter`],
    /// this lets a scan read `smaps_rollup` beside the cheap files.
    pub exclude_pids: Vec<u32>,
    /// Also count each process's descriptors and read its `RLIMIT_NOFILE`
    /// (one `stat` and one small read per process: [`crate::ProcessSample::fds`]),
    /// and the system's `file-nr` ([`Snapshot::fd_system`]).
    pub fds: bool,
    /// Also read the memory cgroups ([`Snapshot::cgroups`],
    /// [`crate::cgroups::sample_memory`]).
    pub cgroups: bool,
    /// With `cgroups`, also keep the files each memory cgroup's ledger is
    /// split from ([`crate::cgroups::LedgerFiles`]: its `memory.stat`, on v1
    /// the kmem counters), for the history of a recording (`record`,
    /// `leaks --watch`); the views that only show the charge skip them.
    pub cgroup_ledger: bool,
    /// What earlier passes read that cannot have changed since (shared by
    /// repeated collections: `record`, `serve`, `top`).
    pub cache: Option<Arc<CollectCache>>,
    /// Keep only these fields of each process's `status`; the default keeps
    /// all. Watching commands keep [`WATCHED_STATUS`], the process views
    /// [`ROW_STATUS`].
    pub status_keys: StatusKeys,
    /// Carry each process's rollup forward from earlier passes and read
    /// `smaps_rollup` again only where it can have changed
    /// ([`IncrementalPss`]); `None`: read every process (one-shot commands).
    pub incremental: Option<Arc<IncrementalPss>>,
}

impl CollectOptions {
    /// True for the repeated collections of a watching command (those
    /// carrying PSS forward: `record`, `serve`, `top`, `leaks --watch`): it
    /// minds the CPU a pass costs more than its wall time, so the system
    /// files are read on the same thread as the cheap process files, not
    /// beside them. Threads sharing the one malloc arena wait on its lock
    /// more than they gain (measured with 330 processes: 25.5 ms of CPU per
    /// `record` pass with two workers and the system thread, 16.5 ms on one
    /// thread). The rollups a pass reads keep their workers.
    fn minds_cpu(&self) -> bool {
        self.incremental.is_some()
    }
}

/// The text fields of `status` that the watching commands (`record`,
/// `leaks --watch`, `serve`, `top`) and the process views (`ps`, `report`)
/// use: the process's name, state and users, its parent, threads and
/// descriptor table size, and whether it is a kernel thread. A recording
/// keeps no others.
pub const WATCHED_STATUS_TEXT: &[&str] =
    &["Name", "State", "Uid", "Gid", "Tgid", "PPid", "TracerPid", "FDSize", "Threads", "Kthread"];

/// What the watching commands keep of `status`: [`WATCHED_STATUS_TEXT`] and
/// every field in kB (a recording stores them).
pub const WATCHED_STATUS: StatusKeys = StatusKeys { text: Some(WATCHED_STATUS_TEXT), kb: None };

/// The fields in kB of `status` that a process row shows
/// (`memscope_analysis::processes::row_in`): its RSS and swap when its
/// rollup was not read, and the split of its RSS. `VmRSS` also tells a
/// process with an address space ([`Status::has_address_space`]).
pub const ROW_STATUS_KB: &[&str] = &["VmRSS", "VmSwap", "RssAnon", "RssFile", "RssShmem"];

/// The text fields of `status` the process views use: the name (where
/// `stat` is not read), the users, and what tells a kernel thread or a
/// zombie, which have no descriptors to count (`fds::has_no_files`).
pub const ROW_STATUS_TEXT: &[&str] = &["Name", "State", "Uid", "PPid", "Kthread"];

/// What the process views (`ps`, `report`) keep of `status`: the parse of
/// its other 11 fields in kB was an eighth of `ps`'s time in user space with
/// 3,000 processes.
pub const ROW_STATUS: StatusKeys = StatusKeys { text: Some(ROW_STATUS_TEXT), kb: Some(ROW_STATUS_KB) };

/// What stays true between collection passes, read once per [`CollectCache`]:
///
/// - the percpu first chunk's size comes from one line of the **boot** log:
///   finding it means reading the whole kernel ring buffer (`/dev/kmsg`),
///   and once the ring has wrapped the line is gone, so the first answer is
///   also the best one;
/// - a slab cache's `reclaim_account` (`/sys/kernel/slab/NAME/`) is fixed
///   when the cache is created (mm/slab_common.c `kmem_cache_create`): the
///   flag is read once per cache name, so a pass reads it only for caches
///   created since the last one;
/// - a process's `cgroup`, `cmdline` and `RLIMIT_NOFILE` (`limits`) seldom
///   change after it started: they are kept per pid, start time and name
///   (`comm`, which `execve` changes, fs/exec.c `__set_task_comm`) and read
///   again after [`CollectCache::PROCESS_FILES_MAX_AGE`], so that a process
///   moved to another cgroup, one that rewrote its arguments
///   (`setproctitle`) or changed its limit shows it within that time.
///
/// - `slabinfo` and `vmallocinfo` break down one `meminfo` figure each
///   (`Slab`, `VmallocUsed`) and are the costliest system files (each
///   about a millisecond of kernel time: `slabinfo` counts every cache's
///   partial slabs, `vmallocinfo` prints a symbol per area): a pass keeps
///   the last one read while its `meminfo` figure stays within
///   [`CollectCache::BREAKDOWN_TOLERANCE_BYTES`] or 0.2 % of its value at
///   the read, for at most [`CollectCache::BREAKDOWN_MAX_AGE`], and says
///   how old it is ([`crate::Snapshot::slabinfo_age_ms`]).
/// - each process's `stat` and `status` stay open between passes and are
///   read again from offset 0, its `fd` directory counted by `fstat`
///   ([`HeldFiles`]): a carried pass opened them by path for every
///   process, a third of its CPU.
///
/// One cache belongs to one [`KernelRoot`].
#[derive(Debug, Default)]
pub struct CollectCache {
    percpu_first_chunk_pages: OnceLock<Sample<u64>>,
    slabinfo: Mutex<Option<KeptBreakdown<Slabinfo>>>,
    vmallocinfo: Mutex<Option<KeptBreakdown<Arc<Vmallocinfo>>>>,
    /// Cache name → its flag (`None`: it could not be read).
    slab_reclaimable: Mutex<BTreeMap<String, Option<bool>>>,
    /// Pid → its seldom-changing files, as last read.
    process_files: Mutex<HashMap<u32, ProcessFiles>>,
    /// Each process's `stat`, `status` and `fd` directory, kept open
    /// between passes.
    held: HeldFiles,
}

/// A system file that breaks down one `meminfo` figure, as read at
/// `read_at` when that figure was `total_bytes`.
#[derive(Debug, Clone)]
struct KeptBreakdown<T> {
    value: T,
    total_bytes: u64,
    read_at: Instant,
}

/// `read` again unless `kept` (from an earlier pass) is young enough and
/// its `meminfo` figure moved little since; the value and, when kept, its
/// age in milliseconds. A figure that is absent or 0 (`VmallocUsed` on
/// 4.4 to 5.2) tells nothing: then the file is always read.
fn breakdown<T: Clone>(
    kept: &Mutex<Option<KeptBreakdown<T>>>,
    total_bytes: Option<u64>,
    now: Instant,
    read: impl FnOnce() -> Sample<T>,
) -> (Sample<T>, Option<u64>) {
    let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
    if let (Some(k), Some(total)) = (kept.as_ref(), total_bytes.filter(|t| *t > 0)) {
        let age = now.saturating_duration_since(k.read_at);
        let tolerance = CollectCache::BREAKDOWN_TOLERANCE_BYTES.max(k.total_bytes / 500);
        if age < CollectCache::BREAKDOWN_MAX_AGE && total.abs_diff(k.total_bytes) <= tolerance {
            return (Ok(k.value.clone()), Some(age.as_millis() as u64));
        }
    }
    let value = read();
    *kept = match (&value, total_bytes.filter(|t| *t > 0)) {
        (Ok(v), Some(total_bytes)) => Some(KeptBreakdown { value: v.clone(), total_bytes, read_at: now }),
        _ => None,
    };
    (value, None)
}

/// A process's files that seldom change, as read at `read_at`.
#[derive(Debug, Clone)]
struct ProcessFiles {
    starttime_ticks: u64,
    comm: String,
    read_at: Instant,
    cgroup: Arc<ProcCgroup>,
    cmdline: Vec<String>,
    /// `None` until a pass that counts descriptors read it.
    nofile: Option<ResourceLimit>,
}

impl CollectCache {
    /// An empty cache.
    pub fn new() -> Arc<CollectCache> {
        Arc::new(CollectCache::default())
    }

    /// How far `Slab` or `VmallocUsed` of `meminfo` may move (or 0.2 % of
    /// it, when that is more) before `slabinfo` or `vmallocinfo` is read
    /// again.
    pub const BREAKDOWN_TOLERANCE_BYTES: u64 = 1 << 20;

    /// How long `slabinfo` and `vmallocinfo` are kept at most.
    pub const BREAKDOWN_MAX_AGE: Duration = Duration::from_secs(60);

    /// How long a process's `cgroup`, `cmdline` and `RLIMIT_NOFILE` are
    /// kept before they are read again.
    pub const PROCESS_FILES_MAX_AGE: Duration = Duration::from_secs(60);

    /// The kept files of `pid` if they belong to the process `stat`
    /// describes and are young enough.
    fn process_files(&self, pid: u32, stat: &Stat, now: Instant) -> Option<ProcessFiles> {
        let kept = self.process_files.lock().unwrap_or_else(|e| e.into_inner());
        let f = kept.get(&pid)?;
        (Some(f.starttime_ticks) == stat.starttime_ticks
            && f.comm == stat.comm
            && now.saturating_duration_since(f.read_at) < Self::PROCESS_FILES_MAX_AGE)
            .then(|| f.clone())
    }

    fn keep_process_files(&self, pid: u32, files: ProcessFiles) {
        self.process_files.lock().unwrap_or_else(|e| e.into_inner()).insert(pid, files);
    }

    /// Forget the processes not in `alive`.
    fn forget_exited(&self, alive: &[u32]) {
        let alive: std::collections::HashSet<u32> = alive.iter().copied().collect();
        self.process_files.lock().unwrap_or_else(|e| e.into_inner()).retain(|pid, _| alive.contains(pid));
        self.held.retain(|pid| alive.contains(&pid));
    }

    fn percpu_first_chunk_pages(&self, root: &KernelRoot) -> Sample<u64> {
        self.percpu_first_chunk_pages.get_or_init(|| root.percpu_first_chunk_pages()).clone()
    }

    /// The flags of `names`, reading only the names not seen before.
    fn slab_reclaimable<'a>(
        &self,
        root: &KernelRoot,
        names: impl IntoIterator<Item = &'a str>,
    ) -> BTreeMap<String, bool> {
        let names: Vec<&str> = names.into_iter().collect();
        let mut known = self.slab_reclaimable.lock().unwrap_or_else(|e| e.into_inner());
        let new: Vec<&str> = names.iter().copied().filter(|n| !known.contains_key(*n)).collect();
        if !new.is_empty() {
            let read = root.slab_reclaim_account(new.iter().copied());
            for n in new {
                known.insert(n.to_string(), read.get(n).copied());
            }
        }
        names.iter().filter_map(|n| Some((n.to_string(), (*known.get(*n)?)?))).collect()
    }
}

/// Read one snapshot.
pub fn collect(root: &KernelRoot, opts: &CollectOptions) -> Snapshot {
    let started = Instant::now();
    let taken_at_unix_ms = taken_at(root);
    let (system, (processes, mut scan)) = if opts.minds_cpu() {
        (collect_system_files(root, opts), collect_process_samples(root, opts))
    } else {
        std::thread::scope(|s| {
            let sys = s.spawn(|| collect_system_files(root, opts));
            let procs = collect_process_samples(root, opts);
            (sys.join().expect("system collection thread panicked"), procs)
        })
    };
    scan.elapsed_usec = started.elapsed().as_micros() as u64;
    let mut snap = system;
    snap.taken_at_unix_ms = taken_at_unix_ms;
    // After the scan: the reader bounds itself to the processes' cgroups.
    snap.cgroups = opts.cgroups.then(|| {
        crate::cgroups::sample_memory(root, &processes, crate::cgroups::READ_ALL_UP_TO, opts.cgroup_ledger)
    });
    snap.processes = processes;
    snap.scan = scan;
    snap
}

/// Read the processes only, with no system-wide file: for views that need
/// nothing else (`ps`), where the system files would cost more than the
/// process scan itself.
pub fn collect_processes(root: &KernelRoot, opts: &CollectOptions) -> ProcessSnapshot {
    let started = Instant::now();
    let taken_at_unix_ms = taken_at(root);
    let (processes, mut scan) = collect_process_samples(root, opts);
    scan.elapsed_usec = started.elapsed().as_micros() as u64;
    ProcessSnapshot { taken_at_unix_ms, live: root.is_live(), processes, scan }
}

/// When the snapshot was taken: now, or for a captured tree when its
/// MANIFEST says.
fn taken_at(root: &KernelRoot) -> u64 {
    match root.manifest().get("captured_at_unix_ms") {
        Some(t) if !root.is_live() => t.parse().unwrap_or(0),
        _ => now_unix_ms(),
    }
}

fn collect_system_files(root: &KernelRoot, opts: &CollectOptions) -> Snapshot {
    let meminfo = root.meminfo();
    let now = Instant::now();
    let meminfo_bytes = |key: &str| meminfo.as_ref().ok().and_then(|m| m.get(key));
    let ((slabinfo, slabinfo_age_ms), (vmallocinfo, vmallocinfo_age_ms)) = match &opts.cache {
        Some(cache) => (
            breakdown(&cache.slabinfo, meminfo_bytes("Slab"), now, || root.slabinfo()),
            breakdown(&cache.vmallocinfo, meminfo_bytes("VmallocUsed"), now, || {
                root.vmallocinfo().map(Arc::new)
            }),
        ),
        None => ((root.slabinfo(), None), (root.vmallocinfo().map(Arc::new), None)),
    };
    let slab_reclaimable = match (&slabinfo, &opts.cache) {
        (Ok(s), Some(cache)) => cache.slab_reclaimable(root, s.caches.iter().map(|c| c.name.as_str())),
        // One pass (`report`): only the caches holding slabs, the only ones
        // a ledger lists (an empty cache's flag costs an open all the same).
        (Ok(s), None) => {
            root.slab_reclaim_account(s.caches.iter().filter(|c| c.num_slabs > 0).map(|c| c.name.as_str()))
        }
        (Err(_), _) => Default::default(),
    };
    let iomem = root.iomem();
    let ram_known = iomem.as_ref().ok().and_then(Iomem::system_ram_bytes).is_some();
    let firmware_memmap = (!ram_known).then(|| root.firmware_memmap());
    let has_percpu = meminfo.as_ref().map(|m| m.get("Percpu").is_some()).unwrap_or(false);
    let percpu_first_chunk_pages = if has_percpu {
        match &opts.cache {
            Some(cache) => cache.percpu_first_chunk_pages(root),
            None => root.percpu_first_chunk_pages(),
        }
    } else {
        Err(ReadError::missing_field(paths::MEMINFO, "Percpu"))
    };
    Snapshot {
        version: SNAPSHOT_VERSION,
        taken_at_unix_ms: 0,
        live: root.is_live(),
        kernel: root.osrelease(),
        page_size_bytes: root.page_size(),
        meminfo,
        vmstat: root.vmstat(),
        zoneinfo: root.zoneinfo(),
        buddyinfo: root.buddyinfo(),
        slabinfo,
        slab_reclaimable,
        vmallocinfo,
        slabinfo_age_ms,
        vmallocinfo_age_ms,
        iomem,
        firmware_memmap,
        hugepages: root.hugepage_pools(paths::HUGEPAGES),
        nodes: root.nodes(),
        sockstat: root.sockstat(),
        sockstat6: root.sockstat6(),
        arcstats: root.arcstats(),
        balloon_drivers: root
            .modules()
            .ok()
            .map(|m| m.modules.into_iter().map(|m| m.name).filter(|n| n.contains("balloon")).collect()),
        percpu_first_chunk_pages,
        possible_cpus: root.possible_cpus(),
        fd_system: opts.fds.then(|| read_fd_system(root)),
        cgroups: None,
        pressure: Some(root.pressure_memory()),
        processes: Vec::new(),
        scan: ProcessScan::default(),
    }
}

/// Worker threads: `threads` when set, else one per CPU, at most 4.
pub(crate) fn worker_count(threads: usize) -> usize {
    if threads > 0 {
        return threads;
    }
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 4)
}

/// Run `work` over `items` on `threads` workers; results in item order.
pub(crate) fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    // One worker is this thread: a thread started for it costs its stack
    // and, with glibc, allocations from another arena, freed later by this
    // thread (a recording's cheap phase, at every pass).
    if threads <= 1 || items.len() <= 1 {
        return items.iter().map(work).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|s| {
        for _ in 0..threads.max(1).min(items.len().max(1)) {
            s.spawn(|| {
                let mut local = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    local.push((i, work(item)));
                }
                results.lock().expect("results lock").extend(local);
            });
        }
    });
    let mut results = results.into_inner().expect("results lock");
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

fn collect_process_samples(root: &KernelRoot, opts: &CollectOptions) -> (Vec<ProcessSample>, ProcessScan) {
    let mut scan = ProcessScan::default();
    if opts.processes == ProcessMode::None {
        return (Vec::new(), scan);
    }
    let mut pids = match &opts.pids {
        Some(p) => p.clone(),
        None => root.pids().unwrap_or_default(),
    };
    scan.listed = pids.len();
    if !opts.exclude_pids.is_empty() {
        pids.retain(|pid| !opts.exclude_pids.contains(pid));
        scan.filtered_out += scan.listed - pids.len();
    }
    if !root.is_live() && opts.pids.is_none() {
        // The processes that exited while the tree was captured: the
        // capture's scan listed them, and so does this one.
        let exited = root.manifest().get(EXITED_DURING_CAPTURE).map_or(0, |v| v.split_whitespace().count());
        scan.listed += exited;
        scan.gone += exited;
    }
    let threads = worker_count(opts.threads);
    if opts.processes == ProcessMode::Full
        && opts.incremental.is_none()
        && opts.filter.is_none()
        && threads > 1
        // `stat` counts the resident set in pages: without their size (a
        // captured tree that does not say it), the order, the size cap and
        // the budget need `status`'s VmRSS, read by the two phases.
        && let Some(page_size) = root.page_size()
    {
        let (procs, alive) = read_overlapped(root, opts, &pids, threads, page_size, &mut scan);
        if let Some(cache) = &opts.cache
            && opts.pids.is_none()
        {
            cache.forget_exited(&alive);
        }
        return (procs, scan);
    }

    // Phase 1: the cheap files, on one thread for every command. A process
    // gone at any of them is dropped. Two workers here wait on each other
    // (the malloc arena, the scheduler) more than they gain: measured with
    // 320 sleepers, `ps` took 34.1 ms (40.8 ms of CPU) with two and 27.6 ms
    // (32.0 ms) with one; with 3,000, 274 ms (355) and 244 ms (292).
    let cheap = parallel_map(&pids, 1, |&pid| read_cheap(root, pid, opts));
    let mut procs: Vec<ProcessSample> = Vec::with_capacity(cheap.len());
    // Every pid whose cheap files were read, also those the filter left out:
    // a carried rollup of a pid not among them belongs to a process that exited.
    let mut alive: Vec<u32> = Vec::with_capacity(cheap.len());
    // The counters of those the filter left out: their pages move the PSS
    // of the followed ones (see IncrementalPss).
    let mut left_out = Vec::new();
    for p in cheap {
        if let Some(p) = &p {
            alive.push(p.pid);
        }
        match p {
            Some(p) if opts.filter.as_ref().is_none_or(|f| (f.0)(&p)) => procs.push(p),
            Some(p) => {
                scan.filtered_out += 1;
                if opts.incremental.is_some()
                    && let Some(c) = Counters::of(&p)
                {
                    left_out.push((p.pid, c));
                }
            }
            None if root.is_live() => scan.gone += 1,
            None => {}
        }
    }
    if let Some(cache) = &opts.cache
        && opts.pids.is_none()
    {
        cache.forget_exited(&alive);
    }
    if opts.processes == ProcessMode::StatusOnly {
        for p in &mut procs {
            if p.has_no_address_space() {
                p.rollup = Rollup::NoAddressSpace;
                scan.no_address_space += 1;
            }
        }
        return (procs, scan);
    }

    // Phase 2: smaps_rollup, largest resident set first, so that a budget
    // that runs out leaves the small processes on status figures.
    let rss = |p: &ProcessSample| p.status.as_ref().ok().and_then(|s| s.get("VmRSS")).unwrap_or(0);
    let mut order: Vec<usize> = (0..procs.len()).collect();
    // Each key once: a lookup in `status` per comparison was most of the sort.
    order.sort_by_cached_key(|&i| std::cmp::Reverse(rss(&procs[i])));
    // The budget is for the costly reads: it starts with them.
    let phase_started = Instant::now();
    let mut plan = match &opts.incremental {
        Some(inc) => inc.plan(&procs, &alive, &left_out, phase_started),
        None => vec![Decision::Read; procs.len()],
    };
    let reader = RollupReader::new(root, opts, phase_started);
    let read_one = |p: &ProcessSample, carried: bool| {
        if p.has_no_address_space() {
            return (Rollup::NoAddressSpace, 0);
        }
        reader.read(p.pid, rss(p), carried)
    };
    let mut gone = vec![false; procs.len()];
    let to_read: Vec<usize> = order.iter().copied().filter(|&i| matches!(plan[i], Decision::Read)).collect();
    let outcomes = parallel_map(&to_read, threads, |&i| read_one(&procs[i], false));
    for (&i, (outcome, usec)) in to_read.iter().zip(outcomes) {
        account(&mut scan, &mut gone[i], procs[i].pid, &outcome, usec);
        procs[i].rollup = outcome;
    }
    for (i, d) in plan.iter_mut().enumerate() {
        if let Decision::Carry(r, age) = std::mem::replace(d, Decision::Read) {
            procs[i].rollup = Rollup::Read(r);
            procs[i].pss_age_ms = Some(age);
        }
    }
    // What this pass read moved too much shared PSS between processes for
    // the carried figures to stand: read them too (see IncrementalPss).
    if let Some(inc) = &opts.incremental
        && inc.past_bound(&procs)
    {
        let carried: Vec<usize> = order.iter().copied().filter(|&i| procs[i].pss_age_ms.is_some()).collect();
        let again = parallel_map(&carried, threads, |&i| read_one(&procs[i], true));
        for (&i, (outcome, usec)) in carried.iter().zip(again) {
            // Over the budget (NotRequested): the carried rollup stays.
            if !matches!(outcome, Rollup::NotRequested) {
                account(&mut scan, &mut gone[i], procs[i].pid, &outcome, usec);
                procs[i].rollup = outcome;
                procs[i].pss_age_ms = None;
            }
        }
    }
    scan.rollup_phase_usec = phase_started.elapsed().as_micros() as u64;
    let mut kept = Vec::with_capacity(procs.len());
    for (p, g) in procs.into_iter().zip(gone) {
        if g {
            scan.gone += 1;
        } else {
            kept.push(p);
        }
    }
    scan.rollup_carried = kept.iter().filter(|p| p.pss_age_ms.is_some()).count();
    if let Some(inc) = &opts.incremental {
        inc.update(&kept, phase_started);
    }
    (kept, scan)
}

/// Reads `smaps_rollup` within the scan's limits: the size cap and the
/// budget, which starts at `phase_started`.
struct RollupReader<'a> {
    root: &'a KernelRoot,
    max_rss_bytes: Option<u64>,
    deadline: Option<Instant>,
    cost: ReadCost,
}

impl<'a> RollupReader<'a> {
    fn new(root: &'a KernelRoot, opts: &CollectOptions, phase_started: Instant) -> RollupReader<'a> {
        RollupReader {
            root,
            max_rss_bytes: opts.rollup_max_rss_bytes,
            deadline: opts.rollup_budget.map(|b| phase_started + b),
            cost: ReadCost::default(),
        }
    }

    /// The rollup of `pid`, whose resident set is `rss_bytes`, and how long
    /// the read took (0 when not read); `carried`: its last rollup is kept
    /// when the budget leaves no time.
    fn read(&self, pid: u32, rss_bytes: u64, carried: bool) -> (Rollup, u64) {
        if let Some(cap) = self.max_rss_bytes
            && rss_bytes > cap
        {
            return (Rollup::OverSizeCap, 0);
        }
        // Within a budget, a read is started only if it is predicted to end
        // before the deadline: one large process must not take the budget
        // many times over. (A carried rollup read again is kept instead.)
        if let Some(d) = self.deadline {
            let now = Instant::now();
            if now >= d || now + self.cost.predict(rss_bytes) > d {
                return (if carried { Rollup::NotRequested } else { Rollup::OverBudget }, 0);
            }
        }
        let t = Instant::now();
        let r = read_rollup(self.root, pid);
        let usec = t.elapsed().as_micros() as u64;
        self.cost.observe(rss_bytes, usec);
        match r {
            Ok(r) if r.is_empty() => (Rollup::NoAddressSpace, usec),
            Ok(r) => (Rollup::Read(r), usec),
            Err(e) => (Rollup::Failed(e), usec),
        }
    }
}

/// A one-shot scan with nothing to decide on the cheap files first (no
/// filter, no carried rollups): the page-table walks run on `threads - 1`
/// workers beside this thread, which reads every process's `stat`, then the
/// other cheap files, then joins the walks. The walks go largest resident
/// set first (`stat`'s `rss`) through a shared queue ([`WalkQueue`]):
///
/// - without a budget, each process joins the queue as soon as its `stat` is
///   read, so the workers walk while the `stat`s are read, the largest
///   process seen so far first (a large process's walk, the longest single
///   read, starts as soon as it is known);
/// - within a budget, every `stat` is read first and the queue filled at
///   once, so that a budget that runs out leaves the small processes on
///   their `status` figures, as the two-phase scan does.
///
/// Measured with 320 sleepers and one process of 3 GiB touched: `ps` took
/// 30.9 ms against 37.5 ms when the walks waited for the cheap files,
/// `report` 31.2 against 34.9 ms; with 3,000 sleepers (and one malloc arena
/// per thread) `report` took 111 ms against 144 ms.
///
/// The processes that were read (in pid order) and every pid whose cheap
/// files were read.
fn read_overlapped(
    root: &KernelRoot,
    opts: &CollectOptions,
    pids: &[u32],
    threads: usize,
    page_size: u64,
    scan: &mut ProcessScan,
) -> (Vec<ProcessSample>, Vec<u32>) {
    let mut firsts: Vec<(u32, First)> = Vec::with_capacity(pids.len());
    let read_firsts = |firsts: &mut Vec<(u32, First)>, scan: &mut ProcessScan, queue: Option<&WalkQueue>| {
        for &pid in pids {
            match read_first(root, pid, opts) {
                Some(first) => {
                    if let Some(q) = queue
                        && first.walkable()
                    {
                        q.push(firsts.len(), pid, first.rss_bytes(page_size));
                    }
                    firsts.push((pid, first));
                }
                None => scan.gone += 1,
            }
        }
    };
    let queue = WalkQueue::default();
    let stream = opts.rollup_budget.is_none();
    if !stream {
        read_firsts(&mut firsts, scan, None);
        for (i, (pid, first)) in firsts.iter().enumerate() {
            if first.walkable() {
                queue.push(i, *pid, first.rss_bytes(page_size));
            }
        }
        queue.close();
    }
    // The budget is for the walks: it starts once they can.
    let phase_started = Instant::now();
    let reader = RollupReader::new(root, opts, phase_started);
    let (cheap, walked) = std::thread::scope(|s| {
        // Closed however this thread leaves (a panic too): the workers
        // must not wait for processes that will never come.
        let _close = CloseOnDrop(&queue);
        let workers: Vec<_> = (1..threads).map(|_| s.spawn(|| queue.walk(&reader))).collect();
        if stream {
            read_firsts(&mut firsts, scan, Some(&queue));
            queue.close();
        }
        let cheap: Vec<Option<ProcessSample>> =
            firsts.into_iter().map(|(pid, first)| read_cheap_after_first(root, pid, first, opts)).collect();
        let mut walked = queue.walk(&reader);
        for w in workers {
            walked.extend(w.join().expect("rollup worker panicked"));
        }
        (cheap, walked)
    });
    scan.rollup_phase_usec = phase_started.elapsed().as_micros() as u64;

    let mut outcomes: Vec<Option<(Rollup, u64)>> = (0..cheap.len()).map(|_| None).collect();
    for (i, o) in walked {
        outcomes[i] = Some(o);
    }
    let mut procs = Vec::with_capacity(cheap.len());
    let mut alive = Vec::with_capacity(cheap.len());
    for (p, outcome) in cheap.into_iter().zip(outcomes) {
        let Some(mut p) = p else {
            if root.is_live() {
                scan.gone += 1;
            }
            continue;
        };
        alive.push(p.pid);
        // `status` has the last word on the address space (a process may
        // have exited between its `stat` and its walk); one whose `stat`
        // alone said it has none (a tree without its `status`) is read now.
        let (outcome, usec) = match outcome {
            _ if p.has_no_address_space() => (Rollup::NoAddressSpace, 0),
            Some(o) => o,
            None => {
                let rss = match (&p.status, &p.stat) {
                    (Ok(status), _) => status.get("VmRSS").unwrap_or(0),
                    (Err(_), stat) => {
                        stat.as_ref().ok().and_then(|s| s.rss_pages).map_or(0, |p| p * page_size)
                    }
                };
                reader.read(p.pid, rss, false)
            }
        };
        let mut gone = false;
        account(scan, &mut gone, p.pid, &outcome, usec);
        if gone {
            scan.gone += 1;
            continue;
        }
        p.rollup = outcome;
        procs.push(p);
    }
    (procs, alive)
}

/// The processes waiting for their walk, largest resident set first,
/// shared by the walkers and the thread that fills it.
#[derive(Default)]
struct WalkQueue {
    state: Mutex<WalkQueueState>,
    ready: std::sync::Condvar,
}

#[derive(Default)]
struct WalkQueueState {
    /// Resident bytes, then the earliest index: (rss, Reverse(index), pid).
    waiting: std::collections::BinaryHeap<(u64, std::cmp::Reverse<usize>, u32)>,
    closed: bool,
    /// Walkers waiting for a process: a push wakes one only if there is
    /// one (a wake is a system call, even with no waiter).
    idle: usize,
}

impl WalkQueue {
    /// Queue process `pid` (index `i` of the scan) of `rss_bytes`.
    fn push(&self, i: usize, pid: u32, rss_bytes: u64) {
        let mut st = self.state.lock().expect("walk queue lock");
        st.waiting.push((rss_bytes, std::cmp::Reverse(i), pid));
        let wake = st.idle > 0;
        drop(st);
        if wake {
            self.ready.notify_one();
        }
    }

    /// No more processes: the walkers end once the queue is empty.
    fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.ready.notify_all();
    }

    /// Walk queued processes until the queue is closed and empty: each
    /// index with its rollup and how long the read took.
    fn walk(&self, reader: &RollupReader) -> Vec<(usize, (Rollup, u64))> {
        let mut done = Vec::new();
        loop {
            let next = {
                let mut st = self.state.lock().expect("walk queue lock");
                loop {
                    if let Some(item) = st.waiting.pop() {
                        break Some(item);
                    }
                    if st.closed {
                        break None;
                    }
                    st.idle += 1;
                    st = self.ready.wait(st).expect("walk queue lock");
                    st.idle -= 1;
                }
            };
            let Some((rss_bytes, std::cmp::Reverse(i), pid)) = next else { return done };
            done.push((i, reader.read(pid, rss_bytes, false)));
        }
    }
}

/// Closes a [`WalkQueue`] when dropped.
struct CloseOnDrop<'a>(&'a WalkQueue);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Count one rollup outcome in the scan; `gone` is set when the process
/// exited before its rollup could be read.
fn account(scan: &mut ProcessScan, gone: &mut bool, pid: u32, outcome: &Rollup, usec: u64) {
    scan.rollup_total_usec += usec;
    if usec > scan.worst_rollup_usec {
        scan.worst_rollup_usec = usec;
        scan.worst_rollup_pid = Some(pid);
    }
    match outcome {
        Rollup::Read(_) => scan.rollup_read += 1,
        Rollup::NoAddressSpace => scan.no_address_space += 1,
        Rollup::OverBudget => scan.rollup_over_budget += 1,
        Rollup::OverSizeCap => scan.rollup_over_size += 1,
        Rollup::Failed(ReadError::Gone { .. }) => *gone = true,
        Rollup::Failed(ReadError::PermissionDenied { .. }) => scan.rollup_denied += 1,
        // Neither smaps_rollup nor smaps: counted by the analysis from
        // the processes, not as a failed read.
        Rollup::Failed(ReadError::NotReported { .. }) => {}
        Rollup::Failed(_) => scan.rollup_failed += 1,
        Rollup::NotRequested => {}
    }
}

/// Predicts how long reading a process's `smaps_rollup` takes.
///
/// The read walks every present page-table entry of the target
/// (fs/proc/task_mmu.c `show_smaps_rollup` → `walk_page_vma`), so its cost
/// grows with the resident set: measured on kernel 6.18 (2 vCPUs), 3 GiB of
/// 4 KiB pages took 130–230 ms, about 65 µs per MiB, plus about 0.1 ms to
/// open and format the file. The rate is learned during the scan from the
/// reads of processes of at least [`ReadCost::CALIBRATE_BYTES`]; until then a
/// prior of 100 µs per MiB stands (a busy target, whose lock the walk
/// must share, reads slower than an idle one). Huge pages make the walk cheaper than this
/// predicts, so the error is on the side of skipping.
#[derive(Debug, Default)]
struct ReadCost {
    usec: AtomicU64,
    mib: AtomicU64,
}

impl ReadCost {
    /// Reads of processes smaller than this teach nothing about the rate:
    /// the fixed cost dominates them.
    const CALIBRATE_BYTES: u64 = 16 << 20;
    const PRIOR_USEC_PER_MIB: u64 = 100;
    const FIXED_USEC: u64 = 100;

    fn predict(&self, rss_bytes: u64) -> Duration {
        let (usec, mib) = (self.usec.load(Ordering::Relaxed), self.mib.load(Ordering::Relaxed));
        let rss_mib = rss_bytes >> 20;
        let walk = rss_mib
            .saturating_mul(usec)
            .checked_div(mib)
            .unwrap_or(rss_mib.saturating_mul(Self::PRIOR_USEC_PER_MIB));
        Duration::from_micros(Self::FIXED_USEC.saturating_add(walk))
    }

    fn observe(&self, rss_bytes: u64, usec: u64) {
        if rss_bytes >= Self::CALIBRATE_BYTES {
            self.usec.fetch_add(usec.saturating_sub(Self::FIXED_USEC), Ordering::Relaxed);
            self.mib.fetch_add(rss_bytes >> 20, Ordering::Relaxed);
        }
    }
}

/// The memory rollup of one process: `smaps_rollup`, or on kernels before
/// 4.14, which lack it, `smaps` summed (fs/proc/task_mmu.c; `Pss` is in
/// `smaps` since 2.6.25). A summed rollup keeps `smaps`' `Size`, which
/// `smaps_rollup` does not print: that tells them apart
/// ([`memscope_kernel::parse::pid::smaps_rollup::SmapsRollup::is_summed_smaps`]).
fn read_rollup(
    root: &KernelRoot,
    pid: u32,
) -> Result<memscope_kernel::parse::pid::smaps_rollup::SmapsRollup, ReadError> {
    match present(root, pid, root.pid_smaps_rollup(pid)) {
        Some(Err(ReadError::NotReported { .. })) => present(root, pid, root.pid_smaps_summed(pid))
            .unwrap_or_else(|| Err(ReadError::Gone { path: paths::pid_file(pid, "smaps") })),
        Some(r) => r,
        None => Err(ReadError::Gone { path: paths::pid_file(pid, "smaps_rollup") }),
    }
}

/// One per-process read, told apart from the process's exit: `None` when
/// the process has exited (live, and its `/proc/PID` directory is gone
/// too). A file missing from a directory that is still there is
/// [`ReadError::NotReported`]: this kernel does not have it (`smaps_rollup`
/// before 4.14, `cgroup` without CONFIG_CGROUPS), or, in a captured tree,
/// it was not captured. A captured tree's processes never exit.
fn present<T>(root: &KernelRoot, pid: u32, r: Result<T, ReadError>) -> Option<Result<T, ReadError>> {
    match r {
        Err(ReadError::Gone { path }) => {
            if root.is_live() && !root.has_process(pid) {
                None
            } else {
                Some(Err(ReadError::NotReported { path, field: None }))
            }
        }
        r => Some(r),
    }
}

/// `stat`, `status`, `cgroup`, `cmdline` (and the namespaces and the
/// descriptor count, when asked) of one process; `None` if it exited.
///
/// One rule for every command: a process is listed when its directory
/// is there; a file it lacks makes only the figures from that file
/// unavailable.
fn read_cheap(root: &KernelRoot, pid: u32, opts: &CollectOptions) -> Option<ProcessSample> {
    let first = read_first(root, pid, opts)?;
    read_cheap_after_first(root, pid, first, opts)
}

/// The first file of a process a scan reads: its `stat`, or its `status`
/// when `stat` is skipped ([`CollectOptions::skip_stat`]).
struct First {
    stat: Sample<Stat>,
    /// Read already (`stat` skipped), else read with the other cheap files.
    status: Option<Sample<Arc<Status>>>,
}

impl First {
    /// Resident bytes: `status`'s `VmRSS`, else `stat`'s pages.
    fn rss_bytes(&self, page_size: u64) -> u64 {
        match &self.status {
            Some(status) => status.as_ref().ok().and_then(|s| s.get("VmRSS")).unwrap_or(0),
            None => self.stat.as_ref().ok().and_then(|s| s.rss_pages).map_or(0, |p| p * page_size),
        }
    }

    /// False for what has no pages to walk: kernel threads and zombies
    /// (`stat`'s virtual size of 0, or no `VmRSS` in `status`).
    fn walkable(&self) -> bool {
        match &self.status {
            Some(status) => status.as_ref().map_or(true, |s| s.has_address_space()),
            None => !self.stat.as_ref().is_ok_and(|s| s.vsize_bytes == Some(0)),
        }
    }
}

/// [`First`] of `pid`; `None` if it exited.
fn read_first(root: &KernelRoot, pid: u32, opts: &CollectOptions) -> Option<First> {
    let held = opts.cache.as_ref().map(|c| &c.held);
    if skips_stat(opts) {
        let status = present(root, pid, root.pid_status_keeping(pid, opts.status_keys).map(Arc::new))?;
        // Without `status` (a tree that lacks it), `stat` names the process.
        let stat = match status {
            Ok(_) => Err(ReadError::NotReported { path: paths::pid_file(pid, "stat"), field: None }),
            Err(_) => present(root, pid, root.pid_stat(pid))?,
        };
        Some(First { stat, status: Some(status) })
    } else {
        Some(First { stat: present(root, pid, root.pid_stat_held(pid, held))?, status: None })
    }
}

/// True when this scan leaves `stat` unread: asked to, and keeping no cache
/// and no carried rollups, which know a process by its start time.
fn skips_stat(opts: &CollectOptions) -> bool {
    opts.skip_stat && opts.cache.is_none() && opts.incremental.is_none()
}

/// [`read_cheap`] with its first file read already.
fn read_cheap_after_first(
    root: &KernelRoot,
    pid: u32,
    first: First,
    opts: &CollectOptions,
) -> Option<ProcessSample> {
    let (namespaces, fds) = (opts.namespaces, opts.fds);
    let First { stat, status } = first;
    let skipped = |file: &str| ReadError::NotReported { path: paths::pid_file(pid, file), field: None };
    if opts.kernel_threads_stat_only
        && status.is_none()
        && let Ok(st) = &stat
        && st.kernel_thread
    {
        return Some(ProcessSample {
            pid,
            stat,
            status: Err(skipped("status")),
            rollup: Rollup::NoAddressSpace,
            cgroup: Err(skipped("cgroup")),
            cmdline: Err(skipped("cmdline")),
            namespaces: None,
            fds: None,
            pss_age_ms: None,
            exe: None,
        });
    }
    let status = match status {
        Some(status) => status,
        None => {
            let held = opts.cache.as_ref().map(|c| &c.held);
            present(root, pid, root.pid_status_held(pid, opts.status_keys, held))?
        }
    };
    if stat.is_err() && status.is_err() && !root.is_live() {
        // A directory of a captured tree without either file: no figure to
        // show (not counted as exited; `listed` still counts it).
        return None;
    }
    // What the cache kept of this process, if it is the same process.
    let now = Instant::now();
    let kept = match (&opts.cache, &stat) {
        (Some(c), Ok(st)) if !opts.skip_cgroup && !opts.skip_cmdline => c.process_files(pid, st, now),
        _ => None,
    };
    let cgroup = match &kept {
        _ if opts.skip_cgroup => Err(skipped("cgroup")),
        Some(k) => Ok(k.cgroup.clone()),
        None => present(root, pid, root.pid_cgroup(pid).map(Arc::new))?,
    };
    let cmdline = match &kept {
        _ if opts.skip_cmdline => Err(skipped("cmdline")),
        Some(k) => Ok(k.cmdline.clone()),
        None => present(root, pid, root.pid_cmdline(pid))?,
    };
    let namespaces = match namespaces.then(|| root.pid_namespaces(pid)) {
        Some(ns) => Some(present(root, pid, ns)?),
        None => None,
    };
    // Kernel threads and zombies hold no descriptor table.
    let has_files = status.as_ref().map(|s| !has_no_files(pid, s)).unwrap_or(true);
    let mut fds = (fds && has_files).then(|| match kept.as_ref().and_then(|k| k.nofile.clone()) {
        Some(nofile) => {
            let held = opts.cache.as_ref().map(|c| &c.held);
            ProcessFds { count: root.pid_fd_count_held(pid, held), nofile: Ok(nofile) }
        }
        None => read_process_fds(root, pid),
    });
    if fds.as_ref().is_some_and(|f| f.gone()) {
        if root.is_live() && !root.has_process(pid) {
            return None;
        }
        // Without these files (the process's directory is there): they
        // were not captured, or this kernel does not have them.
        fds = fds.map(ProcessFds::not_captured);
    }
    if let (Some(cache), Ok(st), Some(start), Ok(cg), Ok(cmd)) =
        (&opts.cache, &stat, stat.as_ref().ok().and_then(|s| s.starttime_ticks), &cgroup, &cmdline)
    {
        let nofile = fds.as_ref().and_then(|f| f.nofile.as_ref().ok().cloned());
        let fresh = kept.is_none() || kept.as_ref().is_some_and(|k| k.nofile.is_none() && nofile.is_some());
        if fresh {
            let read_at = kept.as_ref().map_or(now, |k| k.read_at);
            cache.keep_process_files(
                pid,
                ProcessFiles {
                    starttime_ticks: start,
                    comm: st.comm.clone(),
                    read_at,
                    cgroup: cg.clone(),
                    cmdline: cmd.clone(),
                    nofile,
                },
            );
        }
    }
    let exe = (opts.exe && root.is_live()).then(|| root.pid_exe(pid));
    Some(ProcessSample {
        pid,
        stat,
        status,
        rollup: Rollup::NotRequested,
        cgroup,
        cmdline,
        namespaces,
        fds,
        pss_age_ms: None,
        exe,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_serialized_before_pressure_was_read_loads_without_it() {
        let tree = memscope_testkit::fixture_dir("psi-v2-memory-stalls");
        let snap = crate::collect_system(&KernelRoot::at(tree));
        let some = snap.pressure.as_ref().unwrap().as_ref().unwrap().some.unwrap();
        assert_eq!(some.total_usec, 1_602_356);
        let mut doc = serde_json::to_value(&snap).unwrap();
        doc.as_object_mut().unwrap().remove("pressure").expect("the field is written");
        let old: Snapshot = serde_json::from_value(doc).unwrap();
        assert!(old.pressure.is_none());
    }

    /// `stat` of process 42 with this command name.
    fn stat(comm: &str) -> String {
        format!(
            "42 ({comm}) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 1000 10 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0"
        )
    }

    /// A tree with one process, 42 (`sh`, in cgroup `/a`), and a writer of
    /// its files.
    fn one_process() -> (tempfile::TempDir, impl Fn(&str, &str)) {
        let dir = tempfile::tempdir().unwrap();
        let proc_dir = dir.path().join("proc/42");
        std::fs::create_dir_all(&proc_dir).unwrap();
        let write = move |file: &str, text: &str| std::fs::write(proc_dir.join(file), text).unwrap();
        write("stat", &stat("sh"));
        write("status", "Name:\tsh\nVmRSS:\t100 kB\nRssAnon:\t100 kB\nRssFile:\t0 kB\nRssShmem:\t0 kB\n");
        write("cgroup", "0::/a\n");
        write("cmdline", "sh\0");
        (dir, write)
    }

    #[test]
    fn a_cache_reads_stat_and_status_through_held_files_until_the_process_exits() {
        let root = KernelRoot::live();
        /// Killed and reaped when dropped, a failed test too.
        struct Child(std::process::Child);
        impl Drop for Child {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let child = Child(
            std::process::Command::new("sleep")
                .arg("60")
                .stdin(std::process::Stdio::null())
                .spawn()
                .expect("sleep runs"),
        );
        let (me, pid) = (std::process::id(), child.0.id());
        let cache = CollectCache::new();
        let opts = CollectOptions {
            processes: ProcessMode::StatusOnly,
            pids: Some(vec![me, pid]),
            cache: Some(cache.clone()),
            ..CollectOptions::default()
        };
        let listed = |opts: &CollectOptions| {
            let (procs, _) = collect_process_samples(&root, opts);
            procs.iter().map(|p| (p.pid, p.stat.is_ok() && p.status.is_ok())).collect::<Vec<_>>()
        };
        assert_eq!(listed(&opts), [(me, true), (pid, true)]);
        assert_eq!(cache.held.len(), 4, "stat and status of both");
        assert_eq!(listed(&opts), [(me, true), (pid, true)], "read again through them");
        assert_eq!(cache.held.len(), 4);
        drop(child);
        assert_eq!(listed(&opts), [(me, true)], "the reaped child is gone, not read through its file");
        assert_eq!(cache.held.len(), 2, "its file is closed");
    }

    #[test]
    fn a_cache_keeps_cgroup_and_cmdline_of_the_same_process_until_it_execs() {
        let (dir, write) = one_process();
        let root = KernelRoot::at(dir.path());
        let opts = CollectOptions {
            processes: ProcessMode::StatusOnly,
            cache: Some(CollectCache::new()),
            ..CollectOptions::default()
        };
        let seen = |opts: &CollectOptions| {
            let (procs, _) = collect_process_samples(&root, opts);
            let p = &procs[0];
            (p.cgroup.as_ref().unwrap().clone(), p.cmdline.as_ref().unwrap().clone())
        };
        let (cg, cmd) = seen(&opts);
        assert_eq!(cmd, ["sh"]);
        // The same process: what was read stands.
        write("cgroup", "0::/b\n");
        write("cmdline", "sh\0-c\0");
        assert_eq!(seen(&opts), (cg.clone(), cmd));
        // It exec'd (another name): read again.
        write("stat", &stat("make"));
        let (cg_b, cmd) = seen(&opts);
        assert_eq!(cmd, ["sh", "-c"]);
        assert_ne!(cg_b, cg);
        // Without a cache, every pass reads them.
        write("cmdline", "make\0");
        let no_cache = CollectOptions { cache: None, ..opts.clone() };
        assert_eq!(seen(&no_cache).1, ["make"]);
    }

    #[test]
    fn a_skipped_file_is_not_reported_and_the_other_is_still_read() {
        let (dir, write) = one_process();
        write("cmdline", "sh\0-c\0");
        let root = KernelRoot::at(dir.path());
        let read = |skip_cgroup: bool, skip_cmdline: bool| {
            let opts = CollectOptions {
                processes: ProcessMode::StatusOnly,
                skip_cgroup,
                skip_cmdline,
                cache: Some(CollectCache::new()),
                ..CollectOptions::default()
            };
            collect_process_samples(&root, &opts).0.remove(0)
        };
        let p = read(true, false);
        assert!(matches!(&p.cgroup, Err(ReadError::NotReported { path, .. }) if path.ends_with("42/cgroup")));
        assert_eq!(p.cmdline.unwrap(), ["sh", "-c"]);
        let p = read(false, true);
        assert!(
            matches!(&p.cmdline, Err(ReadError::NotReported { path, .. }) if path.ends_with("42/cmdline"))
        );
        assert_eq!(p.cgroup.unwrap().v2_path(), Some("/a"));
    }

    #[test]
    fn a_cache_keeps_slabinfo_while_the_slab_total_stays_put() {
        let dir = tempfile::tempdir().unwrap();
        let proc_dir = dir.path().join("proc");
        std::fs::create_dir_all(&proc_dir).unwrap();
        let meminfo = |slab_kib: u64| {
            std::fs::write(
                proc_dir.join("meminfo"),
                format!("MemTotal: 1048576 kB\nSlab: {slab_kib} kB\nVmallocUsed: 0 kB\n"),
            )
            .unwrap()
        };
        let slabinfo = |objs: u64| {
            std::fs::write(
                proc_dir.join("slabinfo"),
                format!(
                    "slabinfo - version: 2.1\n# name <active_objs> <num_objs> <objsize> <objperslab> \
                     <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata \
                     <active_slabs> <num_slabs> <sharedavail>\ndentry {objs} {objs} 128 32 1 : tunables 0 0 0 \
                     : slabdata 10 10 0\n"
                ),
            )
            .unwrap()
        };
        let root = KernelRoot::at(dir.path());
        let opts = CollectOptions {
            processes: ProcessMode::None,
            cache: Some(CollectCache::new()),
            ..CollectOptions::default()
        };
        let objs = |s: &Snapshot| s.slabinfo.as_ref().unwrap().caches[0].active_objs;
        meminfo(100_000);
        slabinfo(320);
        let first = collect(&root, &opts);
        assert_eq!((objs(&first), first.slabinfo_age_ms), (320, None));
        // Slab moved by 1 MiB: the breakdown read at 320 objects stands, with its age.
        meminfo(101_024);
        slabinfo(640);
        let carried = collect(&root, &opts);
        assert_eq!(objs(&carried), 320);
        assert!(carried.slabinfo_age_ms.is_some());
        // VmallocUsed 0 tells nothing: vmallocinfo is read every time.
        assert_eq!(carried.vmallocinfo_age_ms, None);
        // Moved by more: read again.
        meminfo(101_026);
        let read = collect(&root, &opts);
        assert_eq!((objs(&read), read.slabinfo_age_ms), (640, None));
        // Without a cache, every pass reads it.
        slabinfo(960);
        let one_shot = collect(&root, &CollectOptions { cache: None, ..opts.clone() });
        assert_eq!((objs(&one_shot), one_shot.slabinfo_age_ms), (960, None));
    }

    #[test]
    fn read_cost_learns_the_rate_from_large_reads() {
        let c = ReadCost::default();
        // Prior: 100 µs per MiB plus the fixed cost.
        assert_eq!(c.predict(1 << 30), Duration::from_micros(100 + 1024 * 100));
        assert_eq!(c.predict(0), Duration::from_micros(100));
        // A small read teaches nothing; a large one sets the rate.
        c.observe(1 << 20, 5_000);
        assert_eq!(c.predict(1 << 30), Duration::from_micros(100 + 1024 * 100));
        c.observe(100 << 20, 2_100);
        assert_eq!(c.predict(1 << 30), Duration::from_micros(100 + 1024 * 20));
    }

    #[test]
    fn a_captured_tree_without_fd_directories_keeps_its_processes() {
        let tree = memscope_testkit::fixture_dir("live-6.18-firecracker-2cpu");
        let root = KernelRoot::at(&tree);
        let plain = collect(&root, &CollectOptions::default());
        let with_fds = collect(&root, &CollectOptions { fds: true, ..CollectOptions::default() });
        assert!(!plain.processes.is_empty());
        assert_eq!(with_fds.processes.len(), plain.processes.len(), "none taken for exited");
        let p = with_fds.processes.iter().find(|p| p.fds.is_some()).expect("a process with files");
        let count = p.fds.as_ref().unwrap().count.as_ref().unwrap_err();
        assert_eq!(count.kind(), "not_reported", "{count}");
    }

    #[test]
    fn parallel_map_keeps_order() {
        let items: Vec<u32> = (0..1000).collect();
        let out = parallel_map(&items, 3, |x| x * 2);
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert!(parallel_map(&Vec::<u32>::new(), 2, |x| *x).is_empty());
    }

    /// The scan with its timings cleared, and its processes, as JSON.
    fn scanned(tree: &str, threads: usize, rollup_budget: Option<Duration>) -> serde_json::Value {
        let tree = memscope_testkit::fixture_dir(tree);
        let snap = collect_processes(
            &KernelRoot::at(tree),
            &CollectOptions { threads, rollup_budget, ..CollectOptions::default() },
        );
        let mut scan = snap.scan;
        (scan.elapsed_usec, scan.rollup_phase_usec, scan.rollup_total_usec) = (0, 0, 0);
        (scan.worst_rollup_usec, scan.worst_rollup_pid) = (0, None);
        serde_json::json!({ "scan": scan, "processes": snap.processes })
    }

    /// The processes of fixture tree `tree`, scanned with `opts`.
    fn scan_tree(tree: &str, opts: CollectOptions) -> ProcessSnapshot {
        collect_processes(&KernelRoot::at(memscope_testkit::fixture_dir(tree)), &opts)
    }

    use memscope_testkit::SCAN_TREES;

    #[test]
    fn walks_beside_the_cheap_files_read_what_the_two_phases_read() {
        // One worker: cheap files, then the walks; two: the walks start as
        // each `stat` is read, or, within a budget (one that cannot run
        // out here), after every `stat` (read_overlapped). Trees with kernel threads, a
        // kernel without smaps_rollup, files a non-root capture lacks, and
        // processes that exited during the capture.
        for tree in SCAN_TREES {
            let (one, two) = (scanned(tree, 1, None), scanned(tree, 2, None));
            assert!(!one["processes"].as_array().unwrap().is_empty(), "{tree}: no process");
            assert_eq!(one, two, "{tree}");
            let budget = Some(Duration::from_secs(600));
            assert_eq!(scanned(tree, 1, budget), scanned(tree, 2, budget), "{tree}, within a budget");
            assert_eq!(one, scanned(tree, 3, None), "{tree}, two workers");
        }
    }

    #[test]
    fn a_scan_without_stat_lists_the_same_processes_with_the_same_figures() {
        let collect_in = |tree: &str, threads: usize, skip_stat: bool| {
            scan_tree(tree, CollectOptions { threads, skip_stat, ..CollectOptions::default() })
        };
        for tree in SCAN_TREES {
            let full = collect_in(tree, 2, false);
            for threads in [1, 2] {
                let without = collect_in(tree, threads, true);
                let pids = |s: &ProcessSnapshot| s.processes.iter().map(|p| p.pid).collect::<Vec<_>>();
                assert_eq!(pids(&without), pids(&full), "{tree}, {threads} threads");
                let (a, b) = (&without.scan, &full.scan);
                assert_eq!(
                    (a.listed, a.gone, a.no_address_space, a.rollup_read, a.rollup_failed),
                    (b.listed, b.gone, b.no_address_space, b.rollup_read, b.rollup_failed),
                    "{tree}, {threads} threads"
                );
                let mut named_by_status = 0;
                for (p, q) in without.processes.iter().zip(&full.processes) {
                    let at = format!("{tree}, pid {}, {threads} threads", p.pid);
                    assert_eq!(p.status, q.status, "{at}");
                    assert_eq!(
                        serde_json::to_value(&p.rollup).unwrap(),
                        serde_json::to_value(&q.rollup).unwrap(),
                        "{at}"
                    );
                    match (&p.status, &p.stat) {
                        // Named by status; stat unread.
                        (Ok(status), Err(ReadError::NotReported { path, .. })) => {
                            assert!(path.ends_with("/stat"), "{at}: {path}");
                            assert_eq!(Some(&p.comm()), status.text.get("Name"), "{at}");
                            named_by_status += 1;
                        }
                        // Without status, stat read as before.
                        (Err(_), stat) => assert_eq!(stat, &q.stat, "{at}"),
                        other => panic!("{at}: {other:?}"),
                    }
                }
                assert!(named_by_status > 0, "{tree}: every process read stat");
            }
        }
    }

    #[test]
    fn kernel_threads_read_by_stat_alone_are_the_processes_without_an_address_space() {
        let collect_in = |tree: &str, threads: usize, stat_only: bool| {
            scan_tree(
                tree,
                CollectOptions { threads, kernel_threads_stat_only: stat_only, ..CollectOptions::default() },
            )
        };
        let mut kernel_threads = 0;
        for tree in SCAN_TREES {
            let full = collect_in(tree, 2, false);
            for threads in [1, 2] {
                let at = format!("{tree}, {threads} threads");
                let lean = collect_in(tree, threads, true);
                let pids = |s: &ProcessSnapshot| s.processes.iter().map(|p| p.pid).collect::<Vec<_>>();
                assert_eq!(pids(&lean), pids(&full), "{at}");
                let (a, b) = (&lean.scan, &full.scan);
                assert_eq!(
                    (a.listed, a.gone, a.no_address_space, a.rollup_read, a.rollup_failed, a.rollup_denied),
                    (b.listed, b.gone, b.no_address_space, b.rollup_read, b.rollup_failed, b.rollup_denied),
                    "{at}"
                );
                for (p, q) in lean.processes.iter().zip(&full.processes) {
                    let at = format!("{at}, pid {}", p.pid);
                    assert_eq!(p.stat, q.stat, "{at}");
                    if p.stat.as_ref().is_ok_and(|s| s.kernel_thread) {
                        // What the full scan made of it by its status.
                        assert!(q.has_no_address_space(), "{at}: {:?}", q.status);
                        assert!(p.has_no_address_space(), "{at}");
                        assert!(matches!(p.status, Err(ReadError::NotReported { .. })), "{at}");
                        assert!(matches!(p.cmdline, Err(ReadError::NotReported { .. })), "{at}");
                        kernel_threads += 1;
                    } else {
                        assert_eq!(p.status, q.status, "{at}");
                        assert_eq!(p.cmdline, q.cmdline, "{at}");
                        assert_eq!(
                            serde_json::to_value(&p.rollup).unwrap(),
                            serde_json::to_value(&q.rollup).unwrap(),
                            "{at}"
                        );
                    }
                }
            }
        }
        assert!(kernel_threads > 0, "no tree held a kernel thread");
    }
}
