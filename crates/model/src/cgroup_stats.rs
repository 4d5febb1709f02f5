//! The ledger files of many memory cgroups at once ([`CgroupStat`]), for
//! `memscope cgroups --ledger` and the exporter's per-cgroup ledger lines.
//!
//! ```text
//!  CgroupReader ──read_all────▶ Vec<CgroupStat>   every memory cgroup: one walk, each file read once
//!               ──read_paths──▶ Vec<CgroupStat>   the cgroups already chosen (a snapshot's CgroupSample)
//! ```
//!
//! [`crate::cgroups::ledger::read_ledger`] reads one cgroup with its
//! ancestors' limits and its whole subtree's processes; reading every
//! cgroup that way would walk the hierarchy once per cgroup. Here the
//! hierarchy is walked once and each cgroup's own files are read once:
//!
//! | figure | v2 | v1 |
//! |---|---|---|
//! | usage | `memory.current` | `memory.usage_in_bytes` |
//! | split | `memory.stat` | `memory.stat` (`total_*`: hierarchical) |
//! | kernel | `memory.stat` `kernel` (5.18+) | `memory.kmem.usage_in_bytes` |
//! | sockets | `memory.stat` `sock` (inside the usage) | `memory.kmem.tcp.usage_in_bytes` (outside it) |
//! | processes | `cgroup.procs` (this cgroup only) | the same |
//!
//! (Documentation/admin-guide/cgroup-v2.rst "Memory Interface Files";
//! Documentation/admin-guide/cgroup-v1/memory.rst §5.) Nothing here is
//! derived: the ledger lines are the analysis crate's job.

use memscope_kernel::cgroup::{CgroupReader, Hierarchy, Layout, Version};
use memscope_kernel::parse::vmstat::Vmstat;
use memscope_kernel::{KernelRoot, ReadError};
use serde::{Deserialize, Serialize};

use crate::Sample;
use crate::cgroups::ledger::memory_hierarchy;

/// The ledger files of one memory cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupStat {
    /// The cgroup path, as `/proc/PID/cgroup` prints it.
    pub path: String,
    /// The version of the memory hierarchy.
    pub version: Version,
    /// Its kernel directory.
    pub dir: String,
    /// The top of the hierarchy as mounted (the real root keeps no v2
    /// `memory.current`; v1's is the whole machine).
    pub top: bool,
    /// v2 `memory.current`, v1 `memory.usage_in_bytes`.
    pub usage_bytes: Sample<u64>,
    /// `memory.stat`.
    pub stat: Sample<Vmstat>,
    /// v1 only: `memory.kmem.usage_in_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kmem_bytes: Option<Sample<u64>>,
    /// v1 only: `memory.kmem.tcp.usage_in_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kmem_tcp_bytes: Option<Sample<u64>>,
    /// Processes in this cgroup itself (`cgroup.procs` lines, not its
    /// descendants'), when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub procs: Option<Sample<usize>>,
}

impl CgroupStat {
    /// The file its usage comes from.
    pub fn usage_file(&self) -> &'static str {
        usage_file(self.version)
    }
}

fn usage_file(version: Version) -> &'static str {
    match version {
        Version::V2 => "memory.current",
        Version::V1 => "memory.usage_in_bytes",
    }
}

/// Every memory cgroup, parents first and children by name (the reader's
/// bounded walk), each read once; with `procs`, each one's `cgroup.procs`
/// too. An error when no memory hierarchy is mounted.
pub fn read_all(root: &KernelRoot, layout: &Layout, procs: bool) -> Result<Vec<CgroupStat>, ReadError> {
    let h = memory_hierarchy(layout)?;
    let reader = CgroupReader::new(root, layout.clone());
    Ok(reader.cgroup_paths(h).iter().filter_map(|p| read_one(&reader, h, p, procs)).collect())
}

/// The cgroups `paths` of the memory hierarchy (those that exist), in that
/// order, without their processes.
pub fn read_paths(root: &KernelRoot, layout: &Layout, paths: &[&str]) -> Result<Vec<CgroupStat>, ReadError> {
    let h = memory_hierarchy(layout)?;
    let reader = CgroupReader::new(root, layout.clone());
    Ok(paths.iter().filter_map(|p| read_one(&reader, h, p, false)).collect())
}

/// One cgroup's files; `None` when its directory is gone, or (v2) it does
/// not have the memory controller enabled (no `memory.stat`).
fn read_one(reader: &CgroupReader, h: &Hierarchy, path: &str, procs: bool) -> Option<CgroupStat> {
    let d = reader.dir(h, path)?;
    if h.version == Version::V2 && !d.exists("memory.stat") {
        return None;
    }
    let usage = usage_file(h.version);
    let (kmem_bytes, kmem_tcp_bytes) = match h.version {
        Version::V2 => (None, None),
        Version::V1 => (
            Some(d.read_u64("memory.kmem.usage_in_bytes")),
            Some(d.read_u64("memory.kmem.tcp.usage_in_bytes")),
        ),
    };
    Some(CgroupStat {
        path: path.to_string(),
        version: h.version,
        top: d.top,
        usage_bytes: d.read_u64(usage),
        stat: d.read_keyed("memory.stat"),
        kmem_bytes,
        kmem_tcp_bytes,
        procs: procs.then(|| d.read_procs().map(|p| p.len())),
        dir: d.kpath,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(d: &std::path::Path, p: &str, t: &str) {
        let p = d.join(p.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    }

    #[test]
    fn v1_cgroups_are_read_once_each_with_kmem_and_tcp() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(
            d,
            "/proc/self/mountinfo",
            "30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory\n",
        );
        let m = "/sys/fs/cgroup/memory";
        write(d, &format!("{m}/memory.usage_in_bytes"), "999\n");
        write(d, &format!("{m}/memory.stat"), "total_rss 1\n");
        write(d, &format!("{m}/cgroup.procs"), "1\n2\n");
        write(d, &format!("{m}/app/memory.usage_in_bytes"), "4096\n");
        write(d, &format!("{m}/app/memory.stat"), "total_rss 4096\n");
        write(d, &format!("{m}/app/memory.kmem.usage_in_bytes"), "0\n");
        write(d, &format!("{m}/app/cgroup.procs"), "7\n");
        write(d, &format!("{m}/app/web/cgroup.procs"), "");
        let root = KernelRoot::at(d);
        let layout = Layout::detect(&root).unwrap();
        let all = read_all(&root, &layout, true).unwrap();
        let paths: Vec<&str> = all.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["/", "/app", "/app/web"]);
        assert!(all[0].top && !all[1].top);
        assert_eq!(all[1].usage_bytes, Ok(4096));
        assert_eq!(all[1].stat.as_ref().unwrap().get("total_rss"), Some(4096));
        assert_eq!(all[1].kmem_bytes, Some(Ok(0)));
        assert_eq!(all[1].kmem_tcp_bytes.as_ref().unwrap().as_ref().unwrap_err().kind(), "not_reported");
        assert_eq!(all[0].procs, Some(Ok(2)));
        assert_eq!(all[2].procs, Some(Ok(0)));
        assert_eq!(all[2].usage_bytes.as_ref().unwrap_err().kind(), "not_reported");
        let some = read_paths(&root, &layout, &["/app/web", "/gone"]).unwrap();
        assert_eq!(some.len(), 1);
        assert_eq!(some[0].procs, None);
    }

    #[test]
    fn v2_cgroups_without_the_memory_controller_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "/proc/self/mountinfo", "25 22 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        let m = "/sys/fs/cgroup";
        write(d, &format!("{m}/cgroup.controllers"), "memory\n");
        write(d, &format!("{m}/memory.stat"), "anon 1\n");
        write(d, &format!("{m}/a/memory.current"), "8192\n");
        write(d, &format!("{m}/a/memory.stat"), "anon 8192\n");
        write(d, &format!("{m}/a/b/cgroup.procs"), "");
        let root = KernelRoot::at(d);
        let layout = Layout::detect(&root).unwrap();
        let all = read_all(&root, &layout, false).unwrap();
        let paths: Vec<&str> = all.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["/", "/a"]);
        assert!(all[1].kmem_bytes.is_none() && all[1].procs.is_none());
        assert_eq!(all[1].usage_bytes, Ok(8192));
    }
}
