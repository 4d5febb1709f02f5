//! Leak suspects: series over time, a robust growth rate, a trend test, and
//! the time until the limit each series would hit.
//!
//! ```text
//!  snapshots ──SeriesBuilder::add──▶ series (processes by command line,
//!        slab caches, vmalloc callers, unaccounted, socket buffers, …)
//!  series ──judge──▶ Theil–Sen slope · Mann–Kendall test · step and
//!        plateau checks ──▶ verdict ──▶ suspects ranked by time to exhaustion
//! ```
//!
//! The estimators are pure functions of numbers, in their own module
//! (`stats`: [`theil_sen`], [`mann_kendall`], [`step_fits_better`]), tested
//! on synthetic series.
//!
//! - **Theil–Sen** (Sen 1968, "Estimates of the regression coefficient based
//!   on Kendall's tau"): the median of the slopes between every pair of
//!   points. Up to 29% of the points can be outliers without moving it.
//! - **Mann–Kendall** (Mann 1945, Kendall 1975): `S = Σ sign(y_j − y_i)` over
//!   pairs `i < j`; under "no trend" S is near normal with variance
//!   `[n(n−1)(2n+5) − Σ t(t−1)(2t+5)] / 18` (t: sizes of groups of tied
//!   values). The one-sided p-value of `Z = (S − 1)/√Var` tests for an
//!   increasing trend. Blocks (a process restarted) are tested within each
//!   block and combined by summing S and the variances.
//! - A one-off jump is also a monotonic trend to Mann–Kendall, so a series
//!   whose best one-step fit leaves less residual than the best straight
//!   line is called a **step**, not a leak; one whose last third no longer
//!   grows **stopped**; a sawtooth (a cache filled and reclaimed) has no
//!   significant trend.
//!
//! Processes are followed by command line: the processes running the same
//! command form one series (their memory summed), and a restart (a new set
//! of pids) starts a new block of the same series rather than a new suspect.
//!
//! Each series runs into a limit ([`Limit`]), and its time to exhaustion is
//! the headroom left in the last snapshot over the growth rate:
//!
//! | series | value | limit |
//! |---|---|---|
//! | process (memory) | PSS (or RSS) summed over the command's processes | the tightest memory cgroup limit of its cgroup and their ancestors, or `MemAvailable` when lower or when none is set |
//! | process fds | descriptors of the command's fullest process | its soft `RLIMIT_NOFILE` (`EMFILE` beyond; fs/file.c `alloc_fd`) |
//! | system files | `file-nr` allocated | `file-max` (`ENFILE` beyond for non-root; fs/file_table.c `alloc_empty_file`) |
//! | memory cgroup | `memory.current` / `memory.usage_in_bytes` | the tightest limit of the cgroup and its ancestors (a parent's limit binds its children: Documentation/admin-guide/cgroup-v2.rst "Memory Interface Files"), else `MemAvailable` |
//! | kernel lines, slab caches, vmalloc callers | bytes | `MemAvailable` |
//!
//! A memory cgroup's charge is judged as a whole, and then each line of its
//! ledger on its own ([`crate::cgroup_history`]: anon, page cache, shmem,
//! kernel and its parts, sockets), so that a cgroup suspect names what
//! grows in it ([`Suspect::lines`]). A line that grows in a cgroup whose
//! charge does not (v1 socket buffers are charged outside the usage) is a
//! suspect of its own ([`SuspectKind::CgroupLine`]).

use std::collections::{BTreeMap, BTreeSet};

use memscope_kernel::parse::cgroupfs::Limit as CgroupLimit;
use memscope_model::{CgroupSample, CgroupVersion, ProcessSample, Snapshot};
use serde::Serialize;

use crate::cgroup_history::{CgroupLines, LineTrend, LineVerdict, judge_lines};
use crate::ledger::{self, LedgerOptions};
use crate::pressure::{PressurePoint, PressureWindow};
use crate::processes;

// ------------------------------------------------------------ estimators

mod stats;

use stats::flat_around;
pub use stats::{
    Fit, MannKendall, Step, best_step, line_sse, mann_kendall, mann_kendall_blocks, normal_cdf,
    step_fits_better, theil_sen, theil_sen_blocks,
};

/// The largest fall from a running maximum.
fn max_drawdown(pts: &[Point]) -> f64 {
    let mut peak = f64::MIN;
    let mut worst = 0.0f64;
    for p in pts {
        peak = peak.max(p.value);
        worst = worst.max(peak - p.value);
    }
    worst
}

// ------------------------------------------------------------ series

/// What a series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspectKind {
    /// The processes running one command line (PSS, or RSS where PSS was
    /// not read).
    Process,
    /// One slab cache (slabinfo `num_slabs × pagesperslab`).
    SlabCache,
    /// One vmalloc caller (vmallocinfo pages).
    VmallocCaller,
    /// A kernel line of the ledger: `unaccounted`, `socket_buffers`, …
    Kernel,
    /// Open file descriptors of the processes of one command line (the
    /// largest count among them: each process has its own table and limit).
    ProcessFds,
    /// Open files of the whole system (`file-nr`).
    SystemFiles,
    /// One memory cgroup's charge (`memory.current`, v1 `memory.usage_in_bytes`).
    Cgroup,
    /// One line of a memory cgroup's ledger that grows while the cgroup's
    /// charge does not (v1 socket buffers, charged outside the usage; a
    /// line growing while another shrinks); the metric is the line.
    CgroupLine,
}

impl SuspectKind {
    /// Name used in output.
    pub fn name(self) -> &'static str {
        match self {
            SuspectKind::Process => "process",
            SuspectKind::SlabCache => "slab cache",
            SuspectKind::VmallocCaller => "vmalloc caller",
            SuspectKind::Kernel => "kernel",
            SuspectKind::ProcessFds => "process fds",
            SuspectKind::SystemFiles => "system files",
            SuspectKind::Cgroup => "cgroup",
            SuspectKind::CgroupLine => "cgroup line",
        }
    }

    /// Name used in JSON (`process_fds`).
    pub fn key(self) -> &'static str {
        match self {
            SuspectKind::Process => "process",
            SuspectKind::SlabCache => "slab_cache",
            SuspectKind::VmallocCaller => "vmalloc_caller",
            SuspectKind::Kernel => "kernel",
            SuspectKind::ProcessFds => "process_fds",
            SuspectKind::SystemFiles => "system_files",
            SuspectKind::Cgroup => "cgroup",
            SuspectKind::CgroupLine => "cgroup_line",
        }
    }

    /// True for the series followed by command line.
    pub fn is_command(self) -> bool {
        matches!(self, SuspectKind::Process | SuspectKind::ProcessFds)
    }
}

/// Units of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Bytes.
    Bytes,
    /// A count (descriptors, files).
    Count,
}

/// Ledger lines followed as kernel suspects, besides every slab cache and
/// vmalloc caller: where kernel memory grows.
pub const KERNEL_CATEGORIES: &[&str] = &[
    "unaccounted",
    "socket_buffers",
    "slab_unreclaimable",
    "vmalloc",
    "percpu",
    "kernel_stack",
    "page_tables",
    "shmem",
    "kernel_misc_reclaimable",
];

/// One value of a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// When (ms since the Unix epoch).
    pub t_unix_ms: u64,
    /// The value (bytes or a count).
    pub value: f64,
}

/// A series of one suspect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// What it measures.
    pub kind: SuspectKind,
    /// Its name: a command line, a cache, a caller, a ledger category.
    pub name: String,
    /// `pss`, `rss`, `bytes`, `fds`, `files`.
    pub metric: &'static str,
    /// Units of the values.
    pub unit: Unit,
    /// Values in time order.
    pub points: Vec<Point>,
    /// Indexes in `points` where a new block begins (after the first): the
    /// processes of the command were restarted.
    pub block_starts: Vec<usize>,
    /// Pids seen in the last snapshot (processes).
    pub pids: Vec<u32>,
    /// Distinct processes seen over the whole series (processes).
    pub processes_seen: usize,
    /// The limit this series runs into when it is its own (a process's
    /// RLIMIT_NOFILE, its cgroup's memory.max, the system's file-max);
    /// `None`: memory series run into `MemAvailable`.
    pub limit: Option<Limit>,
}

impl Series {
    /// A series of one figure that is not a group of processes: one block,
    /// no pids.
    pub fn unbroken(
        kind: SuspectKind,
        name: String,
        metric: &'static str,
        unit: Unit,
        points: Vec<Point>,
        limit: Option<Limit>,
    ) -> Series {
        Series {
            kind,
            name,
            metric,
            unit,
            points,
            block_starts: Vec::new(),
            pids: Vec::new(),
            processes_seen: 0,
            limit,
        }
    }

    /// The points split into blocks.
    pub fn blocks(&self) -> Vec<&[Point]> {
        let mut out = Vec::new();
        let mut start = 0;
        for &b in &self.block_starts {
            if b > start && b <= self.points.len() {
                out.push(&self.points[start..b]);
                start = b;
            }
        }
        out.push(&self.points[start..]);
        out
    }
}

/// The limit a suspect would run into, and how far away it is now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limit {
    /// `MemAvailable`, `memory.max of CGROUP`, `RLIMIT_NOFILE`, `file-max`.
    pub name: String,
    /// How much more the suspect can grow before it hits the limit.
    pub headroom: f64,
}

/// Per-command accumulation of one snapshot's processes.
#[derive(Default)]
struct Group {
    pss: f64,
    rss: f64,
    all_pss: bool,
    ids: BTreeSet<(u32, u64)>,
    /// Memory cgroups of its processes (paths in the hierarchy sampled).
    cgroups: BTreeSet<String>,
}

/// Per-command descriptors of one snapshot's processes.
#[derive(Default)]
struct FdGroup {
    /// The largest count.
    most: u64,
    /// The least headroom to a finite soft `RLIMIT_NOFILE`.
    headroom: Option<f64>,
    ids: BTreeSet<(u32, u64)>,
}

/// The descriptor series of one command line while being built.
#[derive(Default)]
struct FdSeries {
    points: Vec<Point>,
    blocks: Vec<usize>,
    last_ids: BTreeSet<(u32, u64)>,
    seen: BTreeSet<(u32, u64)>,
    /// Headroom in the last snapshot that had the command.
    headroom: Option<f64>,
}

/// The series of one process command line while being built.
#[derive(Default)]
struct ProcSeries {
    pss: Vec<Point>,
    rss: Vec<Point>,
    /// Block starts, as indexes into `rss` (every snapshot has an RSS).
    rss_blocks: Vec<usize>,
    /// The same block starts, as indexes into `pss`.
    pss_blocks: Vec<usize>,
    last_ids: BTreeSet<(u32, u64)>,
    seen: BTreeSet<(u32, u64)>,
    /// Memory cgroups of its processes in the last snapshot that had it.
    cgroups: BTreeSet<String>,
}

/// Builds every series from snapshots given one at a time, oldest first
/// (snapshots need not all be in memory at once).
#[derive(Default)]
pub struct SeriesBuilder {
    kernel: BTreeMap<(SuspectKind, String), Vec<Point>>,
    procs: BTreeMap<String, ProcSeries>,
    fds: BTreeMap<String, FdSeries>,
    snapshots: usize,
    first_unix_ms: Option<u64>,
    last_unix_ms: Option<u64>,
    mem_available: Option<f64>,
    /// `file-max − allocated` of the last snapshot with `file-nr`.
    file_max_headroom: Option<f64>,
    /// The memory cgroups of the last snapshot that had them.
    last_cgroups: Option<CgroupSample>,
    /// Snapshots with descriptor counts, with memory cgroups.
    fd_snapshots: usize,
    cgroup_snapshots: usize,
    /// Why the memory cgroups of the last snapshot were unavailable.
    cgroups_unavailable: Option<String>,
    /// The ledger lines of each memory cgroup, by path.
    cgroup_lines: BTreeMap<String, CgroupLines>,
    /// Snapshots without a ledger (no MemTotal), and why.
    skipped: Vec<String>,
    /// The system's memory pressure of each snapshot that had it.
    pressure: Vec<PressurePoint>,
    /// Why the last snapshot without pressure had none.
    pressure_unavailable: Option<String>,
}

/// The key that follows a process across restarts: its command line with
/// secrets masked ([`crate::cmdline`]), or `[comm]` when it has none.
pub fn command_key(p: &memscope_model::ProcessSample) -> String {
    match &p.cmdline {
        Ok(args) if !args.is_empty() => {
            let joined = std::iter::once(args[0].clone())
                .chain(crate::cmdline::mask_args(&args[0], &args[1..]))
                .collect::<Vec<_>>()
                .join(" ");
            if joined.chars().count() > 200 { joined.chars().take(200).collect() } else { joined }
        }
        _ => format!("[{}]", p.comm()),
    }
}

impl SeriesBuilder {
    /// A new, empty builder.
    pub fn new() -> SeriesBuilder {
        SeriesBuilder::default()
    }

    /// Add the values of one snapshot (later than the previous one).
    pub fn add(&mut self, snap: &Snapshot) {
        let t = snap.taken_at_unix_ms;
        self.snapshots += 1;
        match (&snap.pressure, PressurePoint::of(snap)) {
            (_, Some(p)) => self.pressure.push(p),
            (Some(Err(e)), None) => self.pressure_unavailable = Some(crate::pressure::reason(e, snap.live)),
            _ => {}
        }
        self.first_unix_ms.get_or_insert(t);
        self.last_unix_ms = Some(t);
        let opts = LedgerOptions { top_caches: usize::MAX, top_callers: usize::MAX };
        match ledger::build(snap, &opts) {
            Ok(l) => {
                for line in &l.lines {
                    let Some(bytes) = line.bytes else { continue };
                    let key = match (line.category, &line.name) {
                        ("slab_cache", Some(n)) => (SuspectKind::SlabCache, n.clone()),
                        ("vmalloc_caller", Some(n)) => (SuspectKind::VmallocCaller, n.clone()),
                        (c, None) if KERNEL_CATEGORIES.contains(&c) && line.parent.is_none() => {
                            (SuspectKind::Kernel, c.to_string())
                        }
                        _ => continue,
                    };
                    self.kernel.entry(key).or_default().push(Point { t_unix_ms: t, value: bytes as f64 });
                }
            }
            Err(e) => self.skipped.push(format!("snapshot at {t}: {e}")),
        }
        if let Some(avail) = snap.meminfo.as_ref().ok().and_then(|m| m.get("MemAvailable")) {
            self.mem_available = Some(avail as f64);
        }

        // The system's open files, against file-max.
        if let Some(fs) = &snap.fd_system {
            self.fd_snapshots += 1;
            if let Ok(nr) = &fs.file_nr {
                self.kernel
                    .entry((SuspectKind::SystemFiles, FILE_NR.to_string()))
                    .or_default()
                    .push(Point { t_unix_ms: t, value: nr.allocated as f64 });
                self.file_max_headroom = Some(nr.max as f64 - nr.allocated as f64);
            }
        }

        // Memory cgroups, each by its path.
        let cgroups = match &snap.cgroups {
            Some(Ok(c)) => {
                self.cgroup_snapshots += 1;
                self.cgroups_unavailable = None;
                for m in &c.cgroups {
                    if let Ok(cur) = m.current_bytes {
                        self.kernel
                            .entry((SuspectKind::Cgroup, m.path.clone()))
                            .or_default()
                            .push(Point { t_unix_ms: t, value: cur as f64 });
                    }
                    if m.ledger.is_some() {
                        self.cgroup_lines.entry(m.path.clone()).or_default().add(t, m);
                    }
                }
                self.last_cgroups = Some(c.clone());
                Some(c)
            }
            Some(Err(e)) => {
                self.cgroups_unavailable = Some(crate::hints::unavailable_reason(e));
                None
            }
            None => None,
        };

        // Descriptors by command line: the fullest process of each.
        let mut fd_groups: BTreeMap<String, FdGroup> = BTreeMap::new();
        for p in &snap.processes {
            let Some(f) = &p.fds else { continue };
            let Ok(count) = f.count else { continue };
            let start = p.stat.as_ref().ok().and_then(|s| s.starttime_ticks).unwrap_or(0);
            let g = fd_groups.entry(command_key(p)).or_default();
            g.most = g.most.max(count);
            if let Some(soft) = f.nofile.as_ref().ok().and_then(|l| l.soft.value()) {
                let room = soft as f64 - count as f64;
                g.headroom = Some(g.headroom.map_or(room, |h: f64| h.min(room)));
            }
            g.ids.insert((p.pid, start));
        }
        for (key, g) in fd_groups {
            let s = self.fds.entry(key).or_default();
            if !s.points.is_empty() && s.last_ids != g.ids {
                s.blocks.push(s.points.len());
            }
            s.points.push(Point { t_unix_ms: t, value: g.most as f64 });
            s.headroom = g.headroom;
            s.seen.extend(g.ids.iter().copied());
            s.last_ids = g.ids;
        }

        // Processes by command line.
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for p in snap.processes.iter().filter(|p| !p.has_no_address_space()) {
            let row = processes::row(p);
            let Some(rss) = row.rss_bytes else { continue };
            let start = p.stat.as_ref().ok().and_then(|s| s.starttime_ticks).unwrap_or(0);
            let g =
                groups.entry(command_key(p)).or_insert_with(|| Group { all_pss: true, ..Group::default() });
            g.rss += rss as f64;
            match row.pss_bytes {
                Some(pss) => g.pss += pss as f64,
                None => g.all_pss = false,
            }
            g.ids.insert((p.pid, start));
            if let Some(path) = cgroups.and_then(|c| memory_cgroup_of(p, c)) {
                g.cgroups.insert(path);
            }
        }
        for (key, g) in groups {
            let s = self.procs.entry(key).or_default();
            if !s.rss.is_empty() && s.last_ids != g.ids {
                s.rss_blocks.push(s.rss.len());
                s.pss_blocks.push(s.pss.len());
            }
            s.rss.push(Point { t_unix_ms: t, value: g.rss });
            if g.all_pss {
                s.pss.push(Point { t_unix_ms: t, value: g.pss });
            }
            s.seen.extend(g.ids.iter().copied());
            s.last_ids = g.ids;
            s.cgroups = g.cgroups;
        }
    }

    /// Number of snapshots added.
    pub fn snapshots(&self) -> usize {
        self.snapshots
    }

    /// Every series, and what was learnt of the limits.
    pub fn finish(self) -> Built {
        let mut series = Vec::new();
        let cgroup_limit = |path: &str| self.last_cgroups.as_ref().and_then(|c| cgroup_limit(c, path));
        for ((kind, name), points) in self.kernel {
            let (metric, unit, limit) = match kind {
                SuspectKind::SystemFiles => (
                    "files",
                    Unit::Count,
                    self.file_max_headroom.map(|h| Limit { name: "file-max".into(), headroom: h }),
                ),
                SuspectKind::Cgroup => ("current", Unit::Bytes, cgroup_limit(&name)),
                _ => ("bytes", Unit::Bytes, None),
            };
            series.push(Series::unbroken(kind, name, metric, unit, points, limit));
        }
        for (name, s) in self.fds {
            let mut blocks = s.blocks;
            blocks.dedup();
            series.push(Series {
                kind: SuspectKind::ProcessFds,
                name,
                metric: "fds",
                unit: Unit::Count,
                points: s.points,
                block_starts: blocks,
                pids: s.last_ids.iter().map(|(p, _)| *p).collect(),
                processes_seen: s.seen.len(),
                limit: s.headroom.map(|h| Limit { name: "RLIMIT_NOFILE".into(), headroom: h }),
            });
        }
        for (name, s) in self.procs {
            // PSS when it was read for (nearly) every snapshot of the
            // command; RSS otherwise, so that the budget does not make steps.
            let use_pss = !s.pss.is_empty() && s.pss.len() * 5 >= s.rss.len() * 4;
            let (metric, points, blocks) =
                if use_pss { ("pss", s.pss, s.pss_blocks) } else { ("rss", s.rss, s.rss_blocks) };
            let mut blocks = blocks;
            blocks.dedup();
            // The tightest cgroup limit over the command's processes.
            let limit = s
                .cgroups
                .iter()
                .filter_map(|p| cgroup_limit(p))
                .min_by(|a, b| a.headroom.total_cmp(&b.headroom));
            series.push(Series {
                kind: SuspectKind::Process,
                name,
                metric,
                unit: Unit::Bytes,
                points,
                block_starts: blocks,
                pids: s.last_ids.iter().map(|(p, _)| *p).collect(),
                processes_seen: s.seen.len(),
                limit,
            });
        }
        Built {
            series,
            snapshots: self.snapshots,
            first_unix_ms: self.first_unix_ms,
            last_unix_ms: self.last_unix_ms,
            mem_available_bytes: self.mem_available,
            fd_snapshots: self.fd_snapshots,
            cgroup_snapshots: self.cgroup_snapshots,
            cgroups_unavailable: self.cgroups_unavailable,
            cgroup_lines: self.cgroup_lines,
            skipped: self.skipped,
            pressure: self.pressure,
            pressure_unavailable: self.pressure_unavailable,
        }
    }
}

/// The name of the system's open-files series.
pub const FILE_NR: &str = "file-nr";

/// The memory cgroup of `p` in the hierarchy `sample` was read from (its
/// `/proc/PID/cgroup` line of that version).
pub fn memory_cgroup_of(p: &ProcessSample, sample: &CgroupSample) -> Option<String> {
    let version = sample.cgroups.first()?.version;
    let c = p.cgroup.as_ref().ok()?;
    let m = c.memberships.iter().find(|m| match version {
        CgroupVersion::V2 => m.is_v2(),
        CgroupVersion::V1 => m.controllers.iter().any(|c| c == "memory"),
    })?;
    Some(m.path.clone())
}

/// The limit that binds the memory cgroup `path` first: among the cgroup
/// and its ancestors that have a limit (and whose charge was read), the one
/// with the least headroom (limit − current). A parent's charge includes its
/// children's, so a child's growth uses up every ancestor's headroom.
/// `None` when none of them has a limit.
pub fn cgroup_limit(sample: &CgroupSample, path: &str) -> Option<Limit> {
    let mut best: Option<Limit> = None;
    let mut p = path.trim_end_matches('/');
    loop {
        let here = if p.is_empty() { "/" } else { p };
        if let Some(c) = sample.get(here)
            && let (Ok(CgroupLimit::Value(limit)), Ok(current)) = (&c.limit, &c.current_bytes)
        {
            let headroom = *limit as f64 - *current as f64;
            if best.as_ref().is_none_or(|b| headroom < b.headroom) {
                best = Some(Limit { name: format!("{} of {here}", c.version.limit_file()), headroom });
            }
        }
        match p.rfind('/') {
            Some(i) if !p.is_empty() => p = &p[..i],
            _ => break,
        }
    }
    best
}

/// What [`SeriesBuilder::finish`] gives.
#[derive(Debug, Clone)]
pub struct Built {
    /// Every series.
    pub series: Vec<Series>,
    /// Snapshots seen.
    pub snapshots: usize,
    /// First snapshot's time.
    pub first_unix_ms: Option<u64>,
    /// Last snapshot's time.
    pub last_unix_ms: Option<u64>,
    /// `MemAvailable` of the last snapshot that had it.
    pub mem_available_bytes: Option<f64>,
    /// Snapshots that held descriptor counts and `file-nr`.
    pub fd_snapshots: usize,
    /// Snapshots that held the memory cgroups.
    pub cgroup_snapshots: usize,
    /// Why the last snapshot's memory cgroups were unavailable, if they were.
    pub cgroups_unavailable: Option<String>,
    /// The ledger lines of each memory cgroup whose split was recorded, by
    /// path.
    pub cgroup_lines: BTreeMap<String, CgroupLines>,
    /// Snapshots without a ledger.
    pub skipped: Vec<String>,
    /// The system's memory pressure of each snapshot that had it, oldest
    /// first.
    pub pressure: Vec<PressurePoint>,
    /// Why the last snapshot without pressure had none (PSI off).
    pub pressure_unavailable: Option<String>,
}

// ------------------------------------------------------------ verdicts

/// What a series does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Verdict {
    /// Grows steadily: a leak suspect.
    Growing,
    /// One jump, flat before and after.
    Step {
        /// When the jump happened.
        at_unix_ms: u64,
        /// Its size.
        jump: f64,
    },
    /// Grew, then stopped growing (its last third is flat or falling).
    Stopped,
    /// Fell back by more than half of its range at least once (within one
    /// run of the processes): filled and reclaimed, like a cache.
    Sawtooth,
    /// No significant upward trend.
    NoTrend,
}

/// Thresholds of [`judge`].
#[derive(Debug, Clone, Copy)]
pub struct LeakOptions {
    /// Minimum confidence (1 − p) of the Mann–Kendall test.
    pub min_confidence: f64,
    /// Minimum growth over the observed window, in bytes (counts use
    /// `min_growth_count`).
    pub min_growth_bytes: f64,
    /// Minimum growth over the window for counts (descriptors, files).
    pub min_growth_count: f64,
    /// Minimum points in a series.
    pub min_points: usize,
}

impl Default for LeakOptions {
    fn default() -> Self {
        LeakOptions {
            min_confidence: 0.999,
            min_growth_bytes: 1024.0 * 1024.0,
            min_growth_count: 16.0,
            min_points: 8,
        }
    }
}

/// Time to reach a limit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exhaustion {
    /// The limit.
    pub limit: String,
    /// Headroom now (bytes or count).
    pub headroom: f64,
    /// Seconds until the headroom is used up at the current rate.
    pub seconds: f64,
}

/// The judgement of one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suspect {
    /// What it measures.
    pub kind: SuspectKind,
    /// Its name.
    pub name: String,
    /// `pss`, `rss`, `bytes`, …
    pub metric: &'static str,
    /// Units.
    pub unit: Unit,
    /// Number of points.
    pub points: usize,
    /// First and last value.
    pub first_value: f64,
    /// Last value.
    pub last_value: f64,
    /// Theil–Sen growth per hour (units per hour).
    pub growth_per_hour: f64,
    /// Growth over the observed window by the Theil–Sen slope.
    pub growth_in_window: f64,
    /// Mann–Kendall confidence of an upward trend, 1 − p (0 … 1).
    pub confidence: f64,
    /// Kendall's tau.
    pub tau: f64,
    /// The verdict.
    pub verdict: Verdict,
    /// When it would hit its limit at this rate.
    pub exhaustion: Option<Exhaustion>,
    /// Pids now (processes).
    pub pids: Vec<u32>,
    /// Of [`Suspect::pids`], those still running on this machine (the same
    /// pid and start time), set by the caller that can tell: a recording
    /// read later, or elsewhere, names processes that may be gone.
    pub running: Vec<u32>,
    /// Restarts seen (processes): blocks − 1.
    pub restarts: usize,
    /// Distinct processes seen (processes).
    pub processes_seen: usize,
    /// The system's memory pressure over the suspect's window (set by
    /// [`analyse`]).
    pub pressure: Option<PressureWindow>,
    /// The OOM kills of this suspect's processes or cgroup in the window,
    /// one line each (set by [`attach_oom`]).
    pub oom_killed: Vec<String>,
    /// A memory cgroup's ledger lines, each judged: which of them grow
    /// (set by [`analyse`]; empty for other kinds, and for cgroups whose
    /// split was not recorded).
    pub lines: Vec<LineTrend>,
}

/// Judge one series. `None` when it has too few points or cannot have
/// grown by the minimum (its range is smaller).
pub fn judge(s: &Series, limit: Option<&Limit>, o: &LeakOptions) -> Option<Suspect> {
    let n = s.points.len();
    if n < o.min_points.max(3) {
        return None;
    }
    let min_growth = match s.unit {
        Unit::Bytes => o.min_growth_bytes,
        Unit::Count => o.min_growth_count,
    };
    let (lo, hi) =
        s.points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.value), hi.max(p.value)));
    if hi - lo < min_growth {
        return None;
    }
    let t0 = s.points[0].t_unix_ms;
    let xy = |pts: &[Point]| -> Vec<(f64, f64)> {
        pts.iter().map(|p| ((p.t_unix_ms.saturating_sub(t0)) as f64 / 1000.0, p.value)).collect()
    };
    let blocks = s.blocks();
    let block_xy: Vec<Vec<(f64, f64)>> = blocks.iter().map(|b| xy(b)).collect();
    let block_refs: Vec<&[(f64, f64)]> = block_xy.iter().map(Vec::as_slice).collect();
    let fit = theil_sen_blocks(&block_refs)?;
    let block_ys: Vec<Vec<f64>> = blocks.iter().map(|b| b.iter().map(|p| p.value).collect()).collect();
    let ys_refs: Vec<&[f64]> = block_ys.iter().map(Vec::as_slice).collect();
    let mk = mann_kendall_blocks(&ys_refs);
    let span_s = (s.points[n - 1].t_unix_ms.saturating_sub(t0)) as f64 / 1000.0;
    let growth = fit.slope * span_s;
    let confidence = 1.0 - mk.p_increasing;

    let verdict = if confidence < o.min_confidence || fit.slope <= 0.0 || growth < min_growth {
        Verdict::NoTrend
    } else {
        // The main block: the current one if long enough, else the longest.
        let main = block_xy
            .iter()
            .rev()
            .find(|b| b.len() >= o.min_points)
            .or_else(|| block_xy.iter().max_by_key(|b| b.len()))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let ys: Vec<f64> = main.iter().map(|p| p.1).collect();
        let third = &main[main.len() - main.len() / 3..];
        let recent = theil_sen(third).map(|f| f.slope).unwrap_or(0.0);
        let step = (main.len() >= o.min_points)
            .then(|| best_step(&ys, (main.len() / 10).max(3)))
            .flatten()
            .filter(|st| st.sse < line_sse(main) && flat_around(main, st));
        let drawdown = blocks.iter().map(|b| max_drawdown(b)).fold(0.0, f64::max);
        if let Some(st) = step {
            Verdict::Step {
                at_unix_ms: t0 + (main.get(st.at).map(|p| p.0).unwrap_or(0.0) * 1000.0) as u64,
                jump: st.jump,
            }
        } else if drawdown > (hi - lo) / 2.0 {
            Verdict::Sawtooth
        } else if main.len() >= o.min_points && recent <= 0.0 {
            Verdict::Stopped
        } else {
            Verdict::Growing
        }
    };
    let exhaustion = match (verdict, limit) {
        (Verdict::Growing, Some(l)) if fit.slope > 0.0 => Some(Exhaustion {
            limit: l.name.clone(),
            headroom: l.headroom,
            seconds: l.headroom.max(0.0) / fit.slope,
        }),
        _ => None,
    };
    Some(Suspect {
        kind: s.kind,
        name: s.name.clone(),
        metric: s.metric,
        unit: s.unit,
        points: n,
        first_value: s.points[0].value,
        last_value: s.points[n - 1].value,
        growth_per_hour: fit.slope * 3600.0,
        growth_in_window: growth,
        confidence,
        tau: mk.tau,
        verdict,
        exhaustion,
        pids: s.pids.clone(),
        restarts: blocks.len().saturating_sub(1),
        processes_seen: s.processes_seen,
        pressure: None,
        oom_killed: Vec::new(),
        running: Vec::new(),
        lines: Vec::new(),
    })
}

/// The analysis of a recording.
#[derive(Debug, Clone, Serialize)]
pub struct LeakReport {
    /// Snapshots analysed.
    pub snapshots: usize,
    /// First and last snapshot's time.
    pub from_unix_ms: Option<u64>,
    /// Last snapshot's time.
    pub to_unix_ms: Option<u64>,
    /// Series examined.
    pub series: usize,
    /// Snapshots a trend needs ([`LeakOptions::min_points`]): with fewer,
    /// nothing was judged.
    pub min_points: usize,
    /// Growing series, soonest exhaustion first (then fastest growth).
    pub suspects: Vec<Suspect>,
    /// Series with a significant rise that is not steady growth (a step,
    /// or growth that stopped).
    pub not_leaks: Vec<Suspect>,
    /// What the reader should know.
    pub notes: Vec<String>,
    /// The OOM kills of the window ([`attach_oom`]; `None`: not looked up).
    pub oom: Option<memscope_model::oom::OomTimeline>,
}

/// Put the OOM kills of the window beside the suspects: each kill of a
/// suspect's process (by pid or command name) or cgroup is named on the
/// suspect, after what grew before it.
pub fn attach_oom(report: &mut LeakReport, t: memscope_model::oom::OomTimeline) {
    use crate::oom_timeline::{headline, kills_command, kills_in_cgroup};
    for s in report.suspects.iter_mut().chain(report.not_leaks.iter_mut()) {
        s.oom_killed = t
            .kills
            .iter()
            .filter(|k| match s.kind {
                SuspectKind::Process | SuspectKind::ProcessFds => kills_command(k, &s.name, &s.pids),
                SuspectKind::Cgroup | SuspectKind::CgroupLine => kills_in_cgroup(k, &s.name),
                _ => false,
            })
            .map(headline)
            .collect();
    }
    if let Some(why) = &t.log_unavailable {
        report.notes.push(format!(
            "The kernel log was unavailable while recording ({why}): OOM kills are known only by the memory \
             cgroups' own counts."
        ));
    }
    if let Some(why) = &t.not_recorded {
        report.notes.push(format!("OOM kills: {why}."));
    }
    report.oom = Some(t);
}

/// Judge every series and rank the suspects.
pub fn analyse(built: &Built, o: &LeakOptions) -> LeakReport {
    let mem_limit = built.mem_available_bytes.map(|a| Limit { name: "MemAvailable".into(), headroom: a });
    let mut suspects = Vec::new();
    let mut not_leaks = Vec::new();
    let limit_of = |own: Option<&Limit>, unit: Unit| match (own, unit, &mem_limit) {
        // Memory runs out at whichever comes first: its cgroup's limit
        // or the machine's available memory.
        (Some(l), Unit::Bytes, Some(m)) if m.headroom < l.headroom => Some(m.clone()),
        (Some(l), _, _) => Some(l.clone()),
        (None, Unit::Bytes, m) => m.clone(),
        (None, Unit::Count, _) => None,
    };
    let pressure_over = |pts: &[Point]| match (pts.first(), pts.last()) {
        (Some(a), Some(b)) => Some(crate::pressure::window(
            &built.pressure,
            a.t_unix_ms,
            b.t_unix_ms,
            built.pressure_unavailable.as_deref(),
        )),
        _ => None,
    };
    for s in &built.series {
        let limit = limit_of(s.limit.as_ref(), s.unit);
        let Some(mut j) = judge(s, limit.as_ref(), o) else { continue };
        j.pressure = pressure_over(&s.points);
        if s.kind == SuspectKind::Cgroup
            && let Some(c) = built.cgroup_lines.get(&s.name)
        {
            j.lines = judge_lines(&c.lines, o);
        }
        match j.verdict {
            Verdict::Growing => suspects.push(j),
            Verdict::Step { .. } | Verdict::Stopped | Verdict::Sawtooth => not_leaks.push(j),
            Verdict::NoTrend => {}
        }
    }
    // A line that grows in a cgroup whose charge does not (it is neither a
    // suspect nor a rise): a suspect of its own.
    let judged: BTreeSet<String> = suspects
        .iter()
        .chain(&not_leaks)
        .filter(|j: &&Suspect| j.kind == SuspectKind::Cgroup)
        .map(|j| j.name.clone())
        .collect();
    for (path, c) in built.cgroup_lines.iter().filter(|(p, _)| !judged.contains(*p)) {
        let trends = judge_lines(&c.lines, o);
        for t in trends.iter().filter(|t| t.verdict == LineVerdict::Growing) {
            let Some(l) = c.lines.iter().find(|l| l.key == t.line) else { continue };
            // The cgroup's limit binds the lines inside its usage.
            let own = built
                .series
                .iter()
                .find(|s| t.in_usage && s.kind == SuspectKind::Cgroup && s.name == *path)
                .and_then(|s| s.limit.as_ref());
            let series = Series::unbroken(
                SuspectKind::CgroupLine,
                path.clone(),
                t.line,
                Unit::Bytes,
                l.points.clone(),
                None,
            );
            let limit = limit_of(own, Unit::Bytes);
            let Some(mut j) = judge(&series, limit.as_ref(), o) else { continue };
            if j.verdict == Verdict::Growing {
                j.pressure = pressure_over(&l.points);
                j.lines = trends.clone();
                suspects.push(j);
            }
        }
    }
    suspects.sort_by(|a, b| {
        let ta = a.exhaustion.as_ref().map(|e| e.seconds).unwrap_or(f64::INFINITY);
        let tb = b.exhaustion.as_ref().map(|e| e.seconds).unwrap_or(f64::INFINITY);
        ta.total_cmp(&tb).then(b.growth_per_hour.total_cmp(&a.growth_per_hour)).then(a.name.cmp(&b.name))
    });
    not_leaks.sort_by(|a, b| b.growth_in_window.total_cmp(&a.growth_in_window).then(a.name.cmp(&b.name)));
    let mut notes = Vec::new();
    if built.snapshots < o.min_points {
        notes.push(format!(
            "Only {} snapshot(s): at least {} are needed to judge a trend; record longer.",
            built.snapshots, o.min_points
        ));
    }
    if built.mem_available_bytes.is_none() {
        notes.push("MemAvailable was not read: no time to exhaustion for memory.".into());
    }
    for s in built.skipped.iter().take(3) {
        notes.push(format!("No ledger for {s}."));
    }
    if built.snapshots > 0 && built.fd_snapshots == 0 {
        notes.push(
            "No snapshot holds descriptor counts (recorded by an older memscope): descriptor leaks, per \
             process and of the system's file-nr, are not judged."
                .into(),
        );
    }
    if built.snapshots > 0 && built.cgroup_snapshots == 0 {
        notes.push(match &built.cgroups_unavailable {
            Some(why) => {
                format!("Memory cgroups were unavailable ({why}): memory runs out against MemAvailable.")
            }
            None => "No snapshot holds the memory cgroups (recorded by an older memscope): memory runs out \
                     against MemAvailable, not against cgroup limits."
                .into(),
        });
    } else if let Some(why) = &built.cgroups_unavailable {
        notes.push(format!("The memory cgroups of the last snapshot were unavailable: {why}."));
    }
    LeakReport {
        snapshots: built.snapshots,
        from_unix_ms: built.first_unix_ms,
        to_unix_ms: built.last_unix_ms,
        series: built.series.len(),
        min_points: o.min_points,
        suspects,
        not_leaks,
        notes,
        oom: None,
    }
}

/// The command that shows which code of a growing process holds the
/// memory (`memscope trace --pid`, user allocations with stacks), for a
/// process suspect whose processes still run ([`Suspect::running`]);
/// `None` otherwise.
pub fn trace_command(x: &Suspect) -> Option<String> {
    const MAX_PIDS: usize = 8;
    if x.kind != SuspectKind::Process || x.running.is_empty() {
        return None;
    }
    let pids: Vec<String> = x.running.iter().take(MAX_PIDS).map(|p| format!("--pid {p}")).collect();
    Some(format!("memscope trace {} --duration 60s", pids.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic noise source (xorshift), values in [-1, 1).
    fn noise(seed: u64, n: usize) -> Vec<f64> {
        let mut x = seed.max(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2_000_001) as f64 / 1_000_000.0 - 1.0
            })
            .collect()
    }

    fn pts(ys: &[f64]) -> Vec<(f64, f64)> {
        ys.iter().enumerate().map(|(i, y)| (i as f64, *y)).collect()
    }

    fn series(ys: &[f64], step_s: u64) -> Series {
        Series {
            kind: SuspectKind::Kernel,
            name: "test".into(),
            metric: "bytes",
            unit: Unit::Bytes,
            points: ys
                .iter()
                .enumerate()
                .map(|(i, y)| Point { t_unix_ms: i as u64 * step_s * 1000, value: *y })
                .collect(),
            block_starts: Vec::new(),
            pids: Vec::new(),
            processes_seen: 0,
            limit: None,
        }
    }

    const MIB: f64 = 1024.0 * 1024.0;

    #[test]
    fn theil_sen_recovers_a_line_exactly() {
        let ys: Vec<f64> = (0..50).map(|i| 3.0 + 2.5 * i as f64).collect();
        let f = theil_sen(&pts(&ys)).unwrap();
        assert!((f.slope - 2.5).abs() < 1e-12);
        assert!((f.intercept - 3.0).abs() < 1e-9);
    }

    #[test]
    fn theil_sen_ignores_outliers() {
        let mut ys: Vec<f64> = (0..40).map(|i| 10.0 * i as f64).collect();
        // Eight wild outliers (20%): least squares would be dragged far off.
        for i in [3, 9, 14, 20, 26, 31, 35, 38] {
            ys[i] = if i % 2 == 0 { 1e9 } else { -1e9 };
        }
        let f = theil_sen(&pts(&ys)).unwrap();
        assert!((f.slope - 10.0).abs() < 0.5, "slope {}", f.slope);
    }

    #[test]
    fn theil_sen_needs_two_distinct_x() {
        assert!(theil_sen(&[]).is_none());
        assert!(theil_sen(&[(1.0, 2.0), (1.0, 3.0)]).is_none());
    }

    #[test]
    fn mann_kendall_on_a_linear_series() {
        let ys: Vec<f64> = (0..40).map(|i| i as f64).collect();
        let mk = mann_kendall(&ys);
        assert_eq!(mk.s, 40 * 39 / 2);
        assert!((mk.var_s - 40.0 * 39.0 * 85.0 / 18.0).abs() < 1e-9);
        assert!((mk.tau - 1.0).abs() < 1e-12);
        assert!(mk.z > 8.0);
        assert!(mk.p_increasing < 1e-12);
        let down: Vec<f64> = ys.iter().rev().copied().collect();
        assert!(mann_kendall(&down).p_increasing > 0.999_999);
    }

    #[test]
    fn mann_kendall_known_small_case_with_ties() {
        // 1 2 2 3: pairs (1,2)+ (1,2)+ (1,3)+ (2,2)0 (2,3)+ (2,3)+ → S = 5.
        // Var = [4·3·13 − 2·1·9] / 18 = (156 − 18)/18.
        let mk = mann_kendall(&[1.0, 2.0, 2.0, 3.0]);
        assert_eq!(mk.s, 5);
        assert!((mk.var_s - 138.0 / 18.0).abs() < 1e-12);
        assert!((mk.z - 4.0 / (138.0f64 / 18.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn mann_kendall_all_ties_has_no_trend() {
        let mk = mann_kendall(&[7.0; 30]);
        assert_eq!(mk.s, 0);
        assert_eq!(mk.var_s, 0.0);
        assert_eq!(mk.p_increasing, 1.0);
    }

    #[test]
    fn normal_cdf_matches_tables() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-1.644_854) - 0.05).abs() < 1e-6);
        assert!((normal_cdf(3.090_232) - 0.999).abs() < 1e-6);
    }

    #[test]
    fn noise_has_no_significant_trend() {
        // Ten independent noise series: none passes at 99.9%.
        for seed in 1..=10u64 {
            let ys: Vec<f64> = noise(seed * 7919, 60).iter().map(|e| 100.0 * MIB + 8.0 * MIB * e).collect();
            let mk = mann_kendall(&ys);
            assert!(mk.p_increasing > 0.001, "seed {seed}: p {}", mk.p_increasing);
            let j = judge(&series(&ys, 10), None, &LeakOptions::default());
            assert!(matches!(j.map(|j| j.verdict), None | Some(Verdict::NoTrend)), "seed {seed}");
        }
    }

    #[test]
    fn a_noisy_linear_leak_is_growing() {
        // 2 MiB per step of 10 s, with ±4 MiB noise.
        let ys: Vec<f64> = noise(42, 60)
            .iter()
            .enumerate()
            .map(|(i, e)| 50.0 * MIB + 2.0 * MIB * i as f64 + 4.0 * MIB * e)
            .collect();
        let limit = Limit { name: "MemAvailable".into(), headroom: 7200.0 * MIB };
        let j = judge(&series(&ys, 10), Some(&limit), &LeakOptions::default()).unwrap();
        assert_eq!(j.verdict, Verdict::Growing);
        let per_hour = 2.0 * MIB * 360.0;
        assert!((j.growth_per_hour - per_hour).abs() < 0.1 * per_hour, "{}", j.growth_per_hour);
        assert!(j.confidence > 0.999_999);
        // 7200 MiB at 0.2 MiB/s: 36000 s.
        let e = j.exhaustion.unwrap();
        assert!((e.seconds - 36_000.0).abs() < 3_600.0, "{}", e.seconds);
    }

    #[test]
    fn a_sawtooth_cache_is_not_a_leak() {
        // Filled over 10 snapshots, reclaimed, six times over.
        let ys: Vec<f64> = (0..60).map(|i| 100.0 * MIB + 20.0 * MIB * (i % 10) as f64).collect();
        let j = judge(&series(&ys, 10), None, &LeakOptions::default()).unwrap();
        assert_eq!(j.verdict, Verdict::NoTrend, "{j:?}");
    }

    #[test]
    fn a_one_off_jump_is_a_step() {
        let ys: Vec<f64> = noise(9, 60)
            .iter()
            .enumerate()
            .map(|(i, e)| if i < 25 { 100.0 * MIB } else { 164.0 * MIB } + 0.5 * MIB * e)
            .collect();
        let mk = mann_kendall(&ys);
        assert!(mk.p_increasing < 1e-6, "Mann–Kendall alone calls a step a trend");
        assert!(step_fits_better(&pts(&ys)));
        let j = judge(&series(&ys, 10), None, &LeakOptions::default()).unwrap();
        match j.verdict {
            Verdict::Step { at_unix_ms, jump } => {
                assert_eq!(at_unix_ms, 250_000);
                assert!((jump - 64.0 * MIB).abs() < MIB);
            }
            other => panic!("expected a step, got {other:?}"),
        }
    }

    #[test]
    fn a_steady_staircase_is_growth_not_a_step() {
        // 16 MiB every 5 snapshots: many small steps make steady growth.
        let ys: Vec<f64> = (0..60).map(|i| 100.0 * MIB + 16.0 * MIB * (i / 5) as f64).collect();
        assert!(!step_fits_better(&pts(&ys)));
        assert_eq!(judge(&series(&ys, 10), None, &LeakOptions::default()).unwrap().verdict, Verdict::Growing);
    }

    #[test]
    fn growth_that_stopped_is_not_a_leak() {
        let ys: Vec<f64> = (0..60).map(|i| 100.0 * MIB + 2.0 * MIB * (i.min(30)) as f64).collect();
        let j = judge(&series(&ys, 10), None, &LeakOptions::default()).unwrap();
        assert_eq!(j.verdict, Verdict::Stopped, "{j:?}");
    }

    #[test]
    fn small_growth_is_ignored() {
        let ys: Vec<f64> = (0..60).map(|i| 100.0 * MIB + 4096.0 * i as f64).collect();
        assert!(judge(&series(&ys, 10), None, &LeakOptions::default()).is_none());
    }

    #[test]
    fn a_restarted_leaking_process_is_one_growing_series() {
        // Grows 1 MiB per snapshot, restarts (back to 10 MiB) every 20.
        let ys: Vec<f64> = (0..60).map(|i| 10.0 * MIB + MIB * (i % 20) as f64).collect();
        let mut s = series(&ys, 10);
        // Without the restarts, it is a sawtooth: not steady growth.
        assert_eq!(judge(&s, None, &LeakOptions::default()).unwrap().verdict, Verdict::Sawtooth);
        s.block_starts = vec![20, 40];
        let j = judge(&s, None, &LeakOptions::default()).unwrap();
        assert_eq!(j.verdict, Verdict::Growing);
        assert_eq!(j.restarts, 2);
        assert!((j.growth_per_hour - MIB * 360.0).abs() < 1.0);
    }

    #[test]
    fn a_descriptor_series_runs_into_its_own_limit() {
        // 10 more descriptors every 10 s, RLIMIT_NOFILE 1024 soft, 440 open now.
        let ys: Vec<f64> = (0..40).map(|i| 50.0 + 10.0 * i as f64).collect();
        let mut s = series(&ys, 10);
        s.kind = SuspectKind::ProcessFds;
        s.metric = "fds";
        s.unit = Unit::Count;
        s.limit = Some(Limit { name: "RLIMIT_NOFILE".into(), headroom: 1024.0 - 440.0 });
        let built = Built {
            series: vec![s],
            snapshots: 40,
            first_unix_ms: Some(0),
            last_unix_ms: Some(390_000),
            mem_available_bytes: Some(1e12),
            fd_snapshots: 40,
            cgroup_snapshots: 40,
            cgroups_unavailable: None,
            cgroup_lines: BTreeMap::new(),
            skipped: Vec::new(),
            pressure: Vec::new(),
            pressure_unavailable: None,
        };
        let r = analyse(&built, &LeakOptions::default());
        let j = &r.suspects[0];
        assert_eq!(j.verdict, Verdict::Growing);
        let e = j.exhaustion.as_ref().unwrap();
        assert_eq!(e.limit, "RLIMIT_NOFILE");
        assert!((e.seconds - 584.0).abs() < 1e-6, "584 more at 1 per second: {}", e.seconds);
    }

    fn cgroups() -> CgroupSample {
        use memscope_model::CgroupMemory;
        let cg = |path: &str, current: u64, limit: Option<u64>| CgroupMemory {
            path: path.into(),
            version: CgroupVersion::V1,
            current_bytes: Ok(current),
            limit: Ok(limit.map_or(CgroupLimit::Max, CgroupLimit::Value)),
            oom_kills: Ok(0),
            ledger: None,
        };
        let m = 1 << 20;
        CgroupSample {
            cgroups: vec![
                cg("/app", 700 * m, Some(1024 * m)),
                cg("/app/db", 100 * m, Some(512 * m)),
                cg("/app/web", 600 * m, None),
                cg("/app/web/worker", 500 * m, Some(2048 * m)),
                cg("/idle", 0, None),
            ],
            total: 5,
        }
    }

    #[test]
    fn a_cgroup_runs_into_the_tightest_limit_of_itself_and_its_ancestors() {
        let c = cgroups();
        // Its own limit leaves 412 MiB, the parent's 324 MiB: the parent binds.
        let l = cgroup_limit(&c, "/app/db").unwrap();
        assert_eq!(l.name, "memory.limit_in_bytes of /app");
        assert_eq!(l.headroom, 324.0 * MIB);
        // No limit of its own: the parent's.
        assert_eq!(cgroup_limit(&c, "/app/web").unwrap().name, "memory.limit_in_bytes of /app");
        // Deeper, a looser limit of its own: still the grandparent's.
        assert_eq!(cgroup_limit(&c, "/app/web/worker").unwrap().headroom, 324.0 * MIB);
        // No limit anywhere up its path: none (MemAvailable then applies).
        assert!(cgroup_limit(&c, "/idle").is_none());
        assert!(cgroup_limit(&c, "/not/read").is_none());
    }

    #[test]
    fn memory_runs_out_at_the_cgroup_limit_or_mem_available_whichever_is_first() {
        let ys: Vec<f64> = (0..40).map(|i| 100.0 * MIB + MIB * i as f64).collect();
        let mut s = series(&ys, 10);
        s.kind = SuspectKind::Cgroup;
        s.limit = Some(Limit { name: "memory.max of /a".into(), headroom: 50.0 * MIB });
        let built = |s: Series, avail: f64| Built {
            series: vec![s],
            snapshots: 40,
            first_unix_ms: Some(0),
            last_unix_ms: Some(390_000),
            mem_available_bytes: Some(avail),
            fd_snapshots: 40,
            cgroup_snapshots: 40,
            cgroups_unavailable: None,
            cgroup_lines: BTreeMap::new(),
            skipped: Vec::new(),
            pressure: Vec::new(),
            pressure_unavailable: None,
        };
        let r = analyse(&built(s.clone(), 1e12), &LeakOptions::default());
        let e = r.suspects[0].exhaustion.as_ref().unwrap();
        assert_eq!(e.limit, "memory.max of /a");
        // 50 MiB at 0.1 MiB/s.
        assert!((e.seconds - 500.0).abs() < 1e-6, "{}", e.seconds);
        let r = analyse(&built(s.clone(), 20.0 * MIB), &LeakOptions::default());
        assert_eq!(r.suspects[0].exhaustion.as_ref().unwrap().limit, "MemAvailable");
        s.limit = None;
        let r = analyse(&built(s, 1e12), &LeakOptions::default());
        assert_eq!(r.suspects[0].exhaustion.as_ref().unwrap().limit, "MemAvailable");
        assert!(r.notes.iter().all(|n| !n.contains("older memscope")), "{:?}", r.notes);
    }

    #[test]
    fn a_growing_cgroup_is_reported_with_the_line_that_grows() {
        use crate::cgroup_history::{LineSeries, LineVerdict};
        let usage: Vec<f64> = (0..20).map(|i| 100.0 * MIB + 2.0 * MIB * i as f64).collect();
        let mut s = series(&usage, 10);
        s.kind = SuspectKind::Cgroup;
        s.name = "/system.slice/x.service".into();
        let line = |key: &'static str, ys: Vec<f64>| LineSeries {
            key,
            label: key,
            parent: None,
            in_usage: true,
            points: series(&ys, 10).points,
        };
        let lines = CgroupLines {
            lines: vec![
                line("anon", (0..20).map(|i| 60.0 * MIB + 4096.0 * (i % 2) as f64).collect()),
                line("page_cache", (0..20).map(|i| 40.0 * MIB + 2.0 * MIB * i as f64).collect()),
            ],
        };
        let built = with_cgroup_lines(s, "/system.slice/x.service", lines);
        let r = analyse(&built, &LeakOptions::default());
        assert_eq!(r.suspects.len(), 1);
        let l = &r.suspects[0].lines;
        let v = |k: &str| l.iter().find(|x| x.line == k).unwrap().verdict;
        assert_eq!(v("page_cache"), LineVerdict::Growing);
        assert_eq!(v("anon"), LineVerdict::Flat);
    }

    /// 20 snapshots 10 s apart of the cgroup series `s`, whose ledger lines
    /// at `path` are `lines`.
    fn with_cgroup_lines(s: Series, path: &str, lines: CgroupLines) -> Built {
        Built {
            series: vec![s],
            snapshots: 20,
            first_unix_ms: Some(0),
            last_unix_ms: Some(190_000),
            mem_available_bytes: Some(1e12),
            fd_snapshots: 20,
            cgroup_snapshots: 20,
            cgroups_unavailable: None,
            cgroup_lines: [(path.to_string(), lines)].into_iter().collect(),
            skipped: Vec::new(),
            pressure: Vec::new(),
            pressure_unavailable: None,
        }
    }

    #[test]
    fn a_line_growing_in_a_cgroup_whose_charge_is_flat_is_a_suspect_of_its_own() {
        use crate::cgroup_history::LineSeries;
        // v1 socket buffers, charged outside a flat usage, grow 1 MiB a snapshot.
        let mut s = series(&[100.0 * MIB; 20], 10);
        s.kind = SuspectKind::Cgroup;
        s.name = "/app".into();
        s.limit = Some(Limit { name: "memory.limit_in_bytes of /app".into(), headroom: 10.0 * MIB });
        let line = |key: &'static str, in_usage: bool, ys: Vec<f64>| LineSeries {
            key,
            label: key,
            parent: None,
            in_usage,
            points: series(&ys, 10).points,
        };
        let lines = CgroupLines {
            lines: vec![
                line("anon", true, vec![60.0 * MIB; 20]),
                line("sock", false, (0..20).map(|i| MIB * i as f64).collect()),
            ],
        };
        let built = with_cgroup_lines(s, "/app", lines);
        let r = analyse(&built, &LeakOptions::default());
        assert_eq!(r.suspects.len(), 1, "{:#?}", r.suspects);
        let x = &r.suspects[0];
        assert_eq!((x.kind, x.name.as_str(), x.metric), (SuspectKind::CgroupLine, "/app", "sock"));
        assert_eq!(x.kind.key(), "cgroup_line");
        // Outside the usage, the cgroup's limit does not bind it.
        assert_eq!(x.exhaustion.as_ref().unwrap().limit, "MemAvailable");
        assert_eq!(x.lines.len(), 2);
    }

    #[test]
    fn best_step_finds_the_jump() {
        let ys = [1.0, 1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 5.0];
        let s = best_step(&ys, 2).unwrap();
        assert_eq!(s.at, 4);
        assert_eq!(s.jump, 4.0);
        assert_eq!(s.sse, 0.0);
        assert!(best_step(&ys, 5).is_none());
    }
}
