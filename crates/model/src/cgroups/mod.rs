//! cgroups as memscope collects them, through the kernel crate's one
//! cgroupfs reader ([`memscope_kernel::cgroup::CgroupReader`]):
//!
//! ```text
//!  CgroupReader ──sample_memory──▶ CgroupSample   memory cgroups kept with a snapshot
//!               ──tree::read_tree─▶ CgroupTree    every cgroup: memory, cpuset, pids
//!               ──ledger::read_ledger─▶ LedgerSample  one cgroup's ledger files
//! ```
//!
//! [`CgroupSample`] holds one [`CgroupMemory`] per cgroup read.
//! [`crate::collect`] reads it when [`crate::CollectOptions::cgroups`] is
//! set, after the process scan, so that it can bound itself to the cgroups
//! those processes are in ([`sample_memory`]). [`tree`] reads the whole
//! tree for `memscope cgroups`.
//!
//! The figures are the raw files, hierarchical in both versions
//! (Documentation/admin-guide/cgroup-v2.rst "Memory Interface Files",
//! Documentation/admin-guide/cgroup-v1/memory.rst §5):
//!
//! | figure | v2 | v1 |
//! |---|---|---|
//! | current | `memory.current` | `memory.usage_in_bytes` |
//! | limit | `memory.max` | `memory.limit_in_bytes` (near `LONG_MAX`: no limit) |
//! | OOM kills | `memory.events` `oom_kill` | `memory.oom_control` `oom_kill` (4.13+) |
//! | the ledger's split ([`LedgerFiles`]) | `memory.stat` ([`LEDGER_STAT_KEYS_V2`]) | `memory.stat` ([`LEDGER_STAT_KEYS_V1`]), `memory.kmem.usage_in_bytes`, `memory.kmem.tcp.usage_in_bytes` |
//!
//! The split is kept raw, as the kernel prints it: the lines of the
//! cgroup's ledger (anon, page cache, shmem, kernel, sockets) are derived
//! from it when a recording is read ([`CgroupMemory::ledger_sample`] gives
//! the analysis crate the same input `report --cgroup` builds its ledger
//! from).

pub mod ledger;
mod sample;
pub mod tree;

use memscope_kernel::ReadError;
use memscope_kernel::cgroup::Version;
use memscope_kernel::parse::cgroupfs::Limit;
use memscope_kernel::parse::vmstat::Vmstat;
use serde::{Deserialize, Serialize};

pub use sample::{READ_ALL_UP_TO, sample_memory};

use crate::Sample;

/// Which cgroup version a cgroup's files come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupVersion {
    /// A v1 memory hierarchy.
    V1,
    /// The v2 unified hierarchy.
    V2,
}

impl CgroupVersion {
    /// `v1` or `v2`.
    pub fn name(self) -> &'static str {
        match self {
            CgroupVersion::V1 => "v1",
            CgroupVersion::V2 => "v2",
        }
    }

    /// The `memory.stat` keys a snapshot keeps in this version
    /// ([`LEDGER_STAT_KEYS_V1`], [`LEDGER_STAT_KEYS_V2`]).
    pub fn ledger_stat_keys(self) -> &'static [&'static str] {
        match self {
            CgroupVersion::V1 => LEDGER_STAT_KEYS_V1,
            CgroupVersion::V2 => LEDGER_STAT_KEYS_V2,
        }
    }

    /// The file that holds the limit in this version.
    pub fn limit_file(self) -> &'static str {
        match self {
            CgroupVersion::V1 => "memory.limit_in_bytes",
            CgroupVersion::V2 => "memory.max",
        }
    }
}

/// One memory cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupMemory {
    /// The cgroup path as `/proc/PID/cgroup` prints it (`/system.slice/x.service`).
    pub path: String,
    /// The version of its memory controller.
    pub version: CgroupVersion,
    /// Bytes charged now, its descendants included.
    pub current_bytes: Sample<u64>,
    /// The hard limit (`Limit::Max`: none).
    pub limit: Sample<Limit>,
    /// Processes the OOM killer killed in it (and below).
    pub oom_kills: Sample<u64>,
    /// The raw files its ledger is split from; `None` in recordings made
    /// before they were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<LedgerFiles>,
}

/// The v2 `memory.stat` keys a snapshot keeps of each memory cgroup: those
/// the ledger's split reads (analysis `cgroup_ledger::split`). The others
/// (`pgfault`, `workingset_*`, …) are left out to keep a snapshot small.
pub const LEDGER_STAT_KEYS_V2: &[&str] = &[
    "anon",
    "anon_thp",
    "file",
    "shmem",
    "kernel",
    "kernel_stack",
    "pagetables",
    "sec_pagetables",
    "percpu",
    "slab_reclaimable",
    "slab_unreclaimable",
    "vmalloc",
    "zswap",
    "sock",
    "active_file",
    "inactive_file",
    "file_mapped",
    "file_dirty",
    "file_writeback",
    "zswapped",
];

/// The v1 `memory.stat` keys a snapshot keeps: the hierarchical `total_*`
/// ones the split reads (the cgroup's own, non-hierarchical keys are left
/// out).
pub const LEDGER_STAT_KEYS_V1: &[&str] = &[
    "total_rss",
    "total_rss_huge",
    "total_cache",
    "total_shmem",
    "total_active_file",
    "total_inactive_file",
    "total_mapped_file",
    "total_dirty",
    "total_writeback",
];

/// The files one memory cgroup's ledger is split from, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerFiles {
    /// `memory.stat`, only the keys of [`CgroupVersion::ledger_stat_keys`].
    pub stat: Sample<Vmstat>,
    /// v1 `memory.kmem.usage_in_bytes` (kernel memory, inside the usage);
    /// `None` on v2 (its `memory.stat` has `kernel`) or when the file is
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kmem_bytes: Option<Sample<u64>>,
    /// v1 `memory.kmem.tcp.usage_in_bytes` (socket buffers, outside the
    /// usage); `None` on v2 (its `memory.stat` has `sock`) or when the file
    /// is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kmem_tcp_bytes: Option<Sample<u64>>,
}

impl LedgerFiles {
    /// `stat` reduced to the keys the split reads in `version`.
    pub fn keep_ledger_keys(stat: Vmstat, version: CgroupVersion) -> Vmstat {
        let keep = version.ledger_stat_keys();
        let counters = stat.counters.into_iter().filter(|(k, _)| keep.contains(&k.as_str())).collect();
        Vmstat { counters, malformed: Vec::new() }
    }
}

impl CgroupMemory {
    /// What the ledger of this recorded cgroup is built from: its usage, its
    /// own limit, its OOM kills and the [`LedgerFiles`]; `None` when they
    /// were not recorded. Swap, the other limits and the processes are not
    /// recorded per cgroup, and are unavailable.
    pub fn ledger_sample(&self) -> Option<ledger::LedgerSample> {
        let files = self.ledger.as_ref()?;
        // A file the snapshot does not keep: absent, as from a captured tree.
        let not_recorded = |file: &str| -> tree::Unavailable {
            ReadError::NotReported { path: format!("{}/{file}", self.path), field: None }.into()
        };
        let version = match self.version {
            CgroupVersion::V1 => Version::V1,
            CgroupVersion::V2 => Version::V2,
        };
        let events = self.oom_kills.clone().map(|k| Vmstat {
            counters: [("oom_kill".to_string(), k)].into_iter().collect(),
            malformed: Vec::new(),
        });
        let fig = |s: &Option<Sample<u64>>| s.clone().map(|r| r.map_err(tree::Unavailable::from));
        Some(ledger::LedgerSample {
            path: self.path.clone(),
            version,
            dir: self.path.clone(),
            usage_bytes: self.current_bytes.clone().map_err(Into::into),
            stat: files.stat.clone().map_err(Into::into),
            events: events.map_err(Into::into),
            swap_or_memsw_bytes: Err(not_recorded(match version {
                Version::V1 => "memory.memsw.usage_in_bytes",
                Version::V2 => "memory.swap.current",
            })),
            kmem_bytes: fig(&files.kmem_bytes),
            kmem_tcp_bytes: fig(&files.kmem_tcp_bytes),
            limits: vec![ledger::LimitFile {
                cgroup: self.path.clone(),
                file: self.version.limit_file(),
                limit: self.limit.clone().map_err(Into::into),
            }],
            pids: Err(not_recorded("cgroup.procs")),
            cgroups_in_subtree: 1,
        })
    }
}

/// The memory cgroups of one collection pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupSample {
    /// The cgroups read, parents before children (the top of the hierarchy,
    /// which has no limit, is not among them).
    pub cgroups: Vec<CgroupMemory>,
    /// Memory cgroups in the hierarchy below its top: every one was read
    /// when this equals `cgroups.len()`; otherwise only those of the
    /// snapshot's processes and their ancestors were.
    pub total: usize,
}

impl CgroupSample {
    /// The cgroup with this path.
    pub fn get(&self, path: &str) -> Option<&CgroupMemory> {
        self.cgroups.iter().find(|c| c.path == path)
    }
}
