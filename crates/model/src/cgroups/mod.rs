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

pub mod ledger;
mod sample;
pub mod tree;

use memscope_kernel::parse::cgroupfs::Limit;
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
