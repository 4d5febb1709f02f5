//! One collection pass over a [`KernelRoot`]: the [`Snapshot`].
//!
//! A snapshot holds raw samples (parsed kernel files), never derived figures:
//! the analysis recomputes everything from it, live or read back from a
//! store. Each sample is a `Result`: the parsed file, or the [`ReadError`]
//! saying why it is unavailable.
//!
//! ```text
//!  KernelRoot ──collect(opts)──▶ Snapshot { system files…, processes[], scan }
//! ```
//!
//! Per-process reads are budgeted ([`CollectOptions`]): `smaps_rollup` walks
//! the target's page tables, so the largest processes (by the cheap `VmRSS`
//! of `status`) are read first and the rest fall back to `status` figures
//! once the time budget or the size cap is reached.
//!
//! [`fds`] is the file-descriptor pass ([`fds::FdSnapshot`]): counts for
//! every process, the per-descriptor breakdown where asked. Its cheap count
//! pass also joins a snapshot when asked ([`CollectOptions::fds`]), and so
//! do the memory cgroups ([`cgroups`], [`CollectOptions::cgroups`]), so that
//! a recording follows descriptors and cgroup limits over time.
//!
//! [`views`] collects what each detail view (`zones`, `slab`, `numa`,
//! `vmalloc`, `maps`, `trace`) shows, one function per view; [`capture`]
//! records them by calling them.
//!
//! Repeated collections (`record`, `serve`, `top`) share a [`CollectCache`]:
//! what is fixed after boot is read once. They also carry each process's
//! last rollup forward ([`IncrementalPss`]): `smaps_rollup` is read again
//! only for a process that is new or whose `status` figures moved, or when
//! the rollup is too old; a carried rollup says its age
//! ([`ProcessSample::pss_age_ms`]).

pub mod capture;
pub mod cgroup_stats;
pub mod cgroups;
mod collect;
pub mod containers;
pub mod fds;
pub mod incremental;
pub mod oom;
pub mod pages;
pub mod rt;
pub mod run;
pub mod trace;
pub mod utrace;
pub mod views;

use memscope_kernel::parse::arcstats::Arcstats;
use memscope_kernel::parse::buddyinfo::Buddyinfo;
use memscope_kernel::parse::iomem::Iomem;
use memscope_kernel::parse::meminfo::Meminfo;
use memscope_kernel::parse::pid::cgroup::ProcCgroup;
use memscope_kernel::parse::pid::ns::Namespaces;
use memscope_kernel::parse::pid::smaps_rollup::SmapsRollup;
use memscope_kernel::parse::pid::stat::Stat;
use memscope_kernel::parse::pid::status::Status;
use memscope_kernel::parse::pressure::Pressure;
use memscope_kernel::parse::slabinfo::Slabinfo;
use memscope_kernel::parse::sockstat::Sockstat;
use memscope_kernel::parse::vmallocinfo::Vmallocinfo;
use memscope_kernel::parse::vmstat::Vmstat;
use memscope_kernel::parse::zoneinfo::Zoneinfo;
use memscope_kernel::read::{FirmwareRange, HugepagePool, NodeMemory};
use memscope_kernel::{KernelRoot, ReadError};
use serde::{Deserialize, Serialize};

pub use cgroups::{
    CgroupMemory, CgroupSample, CgroupVersion, LEDGER_STAT_KEYS_V1, LEDGER_STAT_KEYS_V2, LedgerFiles,
};
pub use collect::{
    CollectCache, CollectOptions, ProcessFilter, ProcessMode, ROW_STATUS, ROW_STATUS_KB, ROW_STATUS_TEXT,
    WATCHED_STATUS, WATCHED_STATUS_TEXT, collect, collect_processes,
};
pub use fds::{FdSystem, ProcessFds};
pub use incremental::{IncrementalPss, PssPolicy};

/// A parsed kernel file, or why it could not be had.
pub type Sample<T> = Result<T, ReadError>;

/// Version of the [`Snapshot`] layout; bumped when a field changes meaning.
pub const SNAPSHOT_VERSION: u32 = 1;

/// The MANIFEST key of a captured tree that lists the processes (pids,
/// separated by blanks) that the capture's scan listed but that exited
/// before it had read them: they read back as exited during the scan.
pub const EXITED_DURING_CAPTURE: &str = "exited_during_capture";

/// Everything one collection pass read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_VERSION`] at collection time.
    pub version: u32,
    /// Wall-clock time of the collection, milliseconds since the Unix epoch.
    pub taken_at_unix_ms: u64,
    /// Read from the running system (false: from a captured tree).
    pub live: bool,
    /// Kernel release (`/proc/sys/kernel/osrelease`).
    pub kernel: Sample<String>,
    /// Base page size in bytes, when known.
    pub page_size_bytes: Option<u64>,
    /// `/proc/meminfo`.
    pub meminfo: Sample<Meminfo>,
    /// `/proc/vmstat`.
    pub vmstat: Sample<Vmstat>,
    /// `/proc/zoneinfo`.
    pub zoneinfo: Sample<Zoneinfo>,
    /// `/proc/buddyinfo`.
    pub buddyinfo: Sample<Buddyinfo>,
    /// `/proc/slabinfo`.
    pub slabinfo: Sample<Slabinfo>,
    /// Cache name → reclaimable (`/sys/kernel/slab/*/reclaim_account`), for
    /// the caches of `slabinfo` (of a collection without a
    /// [`CollectCache`]: those holding slabs).
    pub slab_reclaimable: std::collections::BTreeMap<String, bool>,
    /// `/proc/vmallocinfo` (shared: a repeated collection carries the same
    /// thousands of areas from pass to pass without copying them).
    pub vmallocinfo: Sample<std::sync::Arc<Vmallocinfo>>,
    /// How old `slabinfo` is when a repeated collection carried it from an
    /// earlier pass (milliseconds; `None`: read by this pass). It is carried
    /// only while `Slab` of `meminfo` stays within
    /// [`CollectCache::BREAKDOWN_TOLERANCE_BYTES`] (or 0.2 %) of its value at
    /// the read, and for at most [`CollectCache::BREAKDOWN_MAX_AGE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slabinfo_age_ms: Option<u64>,
    /// The same for `vmallocinfo`, against `VmallocUsed` of `meminfo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmallocinfo_age_ms: Option<u64>,
    /// `/proc/iomem`.
    pub iomem: Sample<Iomem>,
    /// `/sys/firmware/memmap`, read only when iomem cannot give installed RAM.
    pub firmware_memmap: Option<Sample<Vec<FirmwareRange>>>,
    /// `/sys/kernel/mm/hugepages`.
    pub hugepages: Sample<Vec<HugepagePool>>,
    /// `/sys/devices/system/node/node*`.
    pub nodes: Sample<Vec<NodeMemory>>,
    /// `/proc/net/sockstat`.
    pub sockstat: Sample<Sockstat>,
    /// `/proc/net/sockstat6`.
    pub sockstat6: Sample<Sockstat>,
    /// ZFS ARC counters (NotReported where ZFS is absent).
    pub arcstats: Sample<Arcstats>,
    /// Memory balloon drivers loaded (`hv_balloon`, `virtio_balloon`,
    /// `vmw_balloon`, … from `/proc/modules`): pages they take back for the
    /// hypervisor sit in no counter on many kernels. `None` when
    /// `/proc/modules` could not be read (or the snapshot predates it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balloon_drivers: Option<Vec<String>>,
    /// Pages per CPU of the percpu first chunk (boot log).
    pub percpu_first_chunk_pages: Sample<u64>,
    /// Possible CPUs (percpu units).
    pub possible_cpus: Sample<u64>,
    /// `file-nr`, `nr_open` and the inotify and epoll limits, when collected
    /// ([`CollectOptions::fds`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fd_system: Option<FdSystem>,
    /// The memory cgroups, when collected ([`CollectOptions::cgroups`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroups: Option<Sample<CgroupSample>>,
    /// `/proc/pressure/memory` (PSI): `None` in snapshots recorded before
    /// memscope read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressure: Option<Sample<Pressure>>,
    /// Processes that were present for the whole scan.
    pub processes: Vec<ProcessSample>,
    /// How the process scan went.
    pub scan: ProcessScan,
}

/// The processes of one collection pass without the system files
/// ([`collect_processes`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProcessSnapshot {
    /// Wall-clock time of the collection, milliseconds since the Unix epoch.
    pub taken_at_unix_ms: u64,
    /// Read from the running system (false: from a captured tree).
    pub live: bool,
    /// Processes that were present for the whole scan.
    pub processes: Vec<ProcessSample>,
    /// How the process scan went.
    pub scan: ProcessScan,
}

/// One process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSample {
    /// Process id.
    pub pid: u32,
    /// `/proc/PID/stat`.
    pub stat: Sample<Stat>,
    /// `/proc/PID/status` (shared with the cache of a repeated collection
    /// while the file reads the same, and with a recording's last document).
    pub status: Sample<std::sync::Arc<Status>>,
    /// `/proc/PID/smaps_rollup`, or why it was not read.
    pub rollup: Rollup,
    /// `/proc/PID/cgroup` (shared with the cache of a repeated collection,
    /// which carries it from pass to pass).
    pub cgroup: Sample<std::sync::Arc<ProcCgroup>>,
    /// `/proc/PID/cmdline`.
    pub cmdline: Sample<Vec<String>>,
    /// `/proc/PID/ns/*`, when asked for ([`CollectOptions::namespaces`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Sample<Namespaces>>,
    /// Open descriptors and `RLIMIT_NOFILE`, when asked for
    /// ([`CollectOptions::fds`]); `None` also for kernel threads and zombies,
    /// which hold no descriptor table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fds: Option<ProcessFds>,
    /// When [`ProcessSample::rollup`] was not read in this pass but carried
    /// forward from an earlier one ([`CollectOptions::incremental`]): how
    /// long before this pass it was read, milliseconds. `None`: read in this
    /// pass (always, for one-shot commands).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pss_age_ms: Option<u64>,
    /// The target of `/proc/PID/exe`, when asked for
    /// ([`CollectOptions::exe`]) on the running system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<Sample<String>>,
}

/// The outcome of reading one process's `smaps_rollup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rollup {
    /// Read and parsed.
    Read(SmapsRollup),
    /// No address space (a kernel thread or a zombie): nothing to read.
    NoAddressSpace,
    /// Not read: the scan's time budget was spent, or the read was
    /// predicted to end after it.
    OverBudget,
    /// Not read: the process is larger than the size cap (`VmRSS` bytes).
    OverSizeCap,
    /// Not read: not asked for (status-only mode).
    NotRequested,
    /// The read failed (permission denied, …).
    Failed(ReadError),
}

impl ProcessSample {
    /// The command name from `stat` (raw), else `status` `Name`.
    pub fn comm(&self) -> String {
        if let Ok(s) = &self.stat {
            return s.comm.clone();
        }
        if let Ok(s) = &self.status
            && let Some(n) = s.text.get("Name")
        {
            return n.clone();
        }
        String::from("?")
    }

    /// The parsed rollup, if it was read.
    pub fn rollup(&self) -> Option<&SmapsRollup> {
        match &self.rollup {
            Rollup::Read(r) if !r.is_empty() => Some(r),
            _ => None,
        }
    }

    /// True for kernel threads and zombies: no address space, no user memory.
    /// A kernel thread is known by its `stat` alone too (a tree that holds
    /// no `status` of it).
    pub fn has_no_address_space(&self) -> bool {
        matches!(self.rollup, Rollup::NoAddressSpace)
            || self.status.as_ref().map(|s| !s.has_address_space()).unwrap_or(false)
            || self.stat.as_ref().is_ok_and(|s| s.kernel_thread)
    }
}

/// Counts of the process scan, so a report can say what it left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessScan {
    /// Process directories listed in `/proc`.
    pub listed: usize,
    /// Processes that exited during the scan (skipped).
    pub gone: usize,
    /// Kernel threads and zombies (no address space, no user memory).
    pub no_address_space: usize,
    /// `smaps_rollup` read.
    pub rollup_read: usize,
    /// `smaps_rollup` not read again: the last read carried forward
    /// ([`CollectOptions::incremental`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rollup_carried: usize,
    /// `smaps_rollup` not readable: permission denied.
    pub rollup_denied: usize,
    /// `smaps_rollup` failed for another reason.
    pub rollup_failed: usize,
    /// `smaps_rollup` skipped: time budget spent.
    pub rollup_over_budget: usize,
    /// `smaps_rollup` skipped: larger than the size cap.
    pub rollup_over_size: usize,
    /// Processes left out by [`CollectOptions::filter`].
    #[serde(default)]
    pub filtered_out: usize,
    /// Whole scan, microseconds.
    pub elapsed_usec: u64,
    /// Wall time of the `smaps_rollup` phase, microseconds: what
    /// [`CollectOptions::rollup_budget`] bounds. A one-shot scan without a
    /// budget starts its walks with the first process file it reads: its phase
    /// counts from there.
    #[serde(default)]
    pub rollup_phase_usec: u64,
    /// All `smaps_rollup` reads together, microseconds (summed over the
    /// workers: it can exceed the elapsed time).
    #[serde(default)]
    pub rollup_total_usec: u64,
    /// Slowest single `smaps_rollup` read, microseconds.
    pub worst_rollup_usec: u64,
    /// Pid of that slowest read.
    pub worst_rollup_pid: Option<u32>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Milliseconds since the Unix epoch, now.
pub fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Read only the system-wide files (no processes): for callers that need
/// the counters quickly.
pub fn collect_system(root: &KernelRoot) -> Snapshot {
    collect(root, &CollectOptions { processes: ProcessMode::None, ..CollectOptions::default() })
}
