//! What one cgroup's memory ledger is made of ([`LedgerSample`]): the raw
//! files of its memory controller, its ancestors' limits and the processes
//! of its subtree, read through the kernel crate's [`CgroupReader`].
//!
//! ```text
//!  CgroupReader ──memory_paths──▶ every cgroup path of the memory hierarchy (to resolve a name)
//!               ──read_ledger───▶ LedgerSample   usage, memory.stat, swap, events, limits, pids
//! ```
//!
//! | figure | v2 | v1 |
//! |---|---|---|
//! | usage | `memory.current` | `memory.usage_in_bytes` |
//! | split | `memory.stat` | `memory.stat` (`total_*`: hierarchical) |
//! | swap | `memory.swap.current` | `memory.memsw.usage_in_bytes` − usage |
//! | kernel | `memory.stat` `kernel` (5.18+) | `memory.kmem.usage_in_bytes` |
//! | sockets | `memory.stat` `sock` (inside the usage) | `memory.kmem.tcp.usage_in_bytes` (outside it) |
//! | limits | `memory.max`, `memory.high`, `memory.low`, `memory.min`, ancestors' `memory.max`/`memory.high` | `memory.limit_in_bytes`, `memory.memsw.limit_in_bytes`, `memory.kmem.tcp.limit_in_bytes`, ancestors' `memory.limit_in_bytes` (and `memory.stat` `hierarchical_memory_limit`) |
//! | events | `memory.events` | `memory.oom_control` |
//!
//! (Documentation/admin-guide/cgroup-v2.rst "Memory Interface Files";
//! Documentation/admin-guide/cgroup-v1/memory.rst §2.7 and §5.) Nothing
//! here is derived: the lines of the ledger are the analysis crate's job.

use memscope_kernel::cgroup::{CgroupReader, Hierarchy, Layout, Version};
use memscope_kernel::parse::cgroupfs::Limit;
use memscope_kernel::parse::vmstat::Vmstat;
use memscope_kernel::{KernelRoot, ReadError, paths};

use super::tree::{Dir, Figure, Unavailable, components};

/// At most this many process ids are kept for one cgroup's subtree.
pub const MAX_PIDS: usize = 100_000;

/// One limit file of the cgroup or one of its ancestors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitFile {
    /// The cgroup that holds the file (the cgroup itself or an ancestor).
    pub cgroup: String,
    /// The file (`memory.max`, `memory.limit_in_bytes`, …).
    pub file: &'static str,
    /// Its value.
    pub limit: Figure<Limit>,
}

/// The memory files of one cgroup, for its ledger.
#[derive(Debug, Clone)]
pub struct LedgerSample {
    /// The cgroup path (`/kubepods.slice/…`).
    pub path: String,
    /// The version of the memory hierarchy.
    pub version: Version,
    /// Its kernel directory.
    pub dir: String,
    /// v2 `memory.current`, v1 `memory.usage_in_bytes`.
    pub usage_bytes: Figure<u64>,
    /// `memory.stat`.
    pub stat: Figure<Vmstat>,
    /// v2 `memory.events`, v1 `memory.oom_control`.
    pub events: Figure<Vmstat>,
    /// v2 `memory.swap.current`; v1 `memory.memsw.usage_in_bytes` (memory
    /// and swap together).
    pub swap_or_memsw_bytes: Figure<u64>,
    /// v1 only: `memory.kmem.usage_in_bytes`.
    pub kmem_bytes: Option<Figure<u64>>,
    /// v1 only: `memory.kmem.tcp.usage_in_bytes`.
    pub kmem_tcp_bytes: Option<Figure<u64>>,
    /// The limits of the cgroup (first) and of each ancestor up to the top
    /// of the hierarchy (which has none), nearest first.
    pub limits: Vec<LimitFile>,
    /// Processes in the cgroup and its descendants (`cgroup.procs` of each),
    /// sorted; at most [`MAX_PIDS`].
    pub pids: Figure<Vec<u32>>,
    /// Cgroups in the subtree, itself included.
    pub cgroups_in_subtree: usize,
}

impl LedgerSample {
    /// The kernel path of one of its files.
    pub fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }

    /// The file its usage comes from.
    pub fn usage_file(&self) -> &'static str {
        match self.version {
            Version::V2 => "memory.current",
            Version::V1 => "memory.usage_in_bytes",
        }
    }

    /// A key of `memory.stat`, or why it is missing.
    pub fn stat_key(&self, key: &str) -> Figure<u64> {
        let stat = self.stat.as_ref().map_err(Clone::clone)?;
        stat.get(key).ok_or_else(|| ReadError::missing_field(&self.file("memory.stat"), key).into())
    }

    /// The limit in `file` of the cgroup itself.
    pub fn own_limit(&self, file: &str) -> Option<&LimitFile> {
        self.limits.iter().find(|l| l.cgroup == self.path && l.file == file)
    }
}

/// The memory hierarchy of `layout`, or why there is none.
pub fn memory_hierarchy(layout: &Layout) -> Result<&Hierarchy, ReadError> {
    layout.controller("memory").ok_or_else(|| {
        ReadError::missing_field(paths::MOUNTINFO, "a cgroup hierarchy with the memory controller")
    })
}

/// Every cgroup path of the memory hierarchy, parents first (bounded by the
/// reader's walk).
pub fn memory_paths(root: &KernelRoot, layout: &Layout) -> Result<Vec<String>, ReadError> {
    let h = memory_hierarchy(layout)?;
    Ok(CgroupReader::new(root, layout.clone()).cgroup_paths(h))
}

/// `path` with its ancestors, nearest first, down to (and including) the
/// top of the hierarchy as mounted (`top`).
fn self_and_ancestors(path: &str, top: &str) -> Vec<String> {
    let comps = components(path);
    let top_len = components(top).len();
    (top_len..=comps.len())
        .rev()
        .map(|n| if n == 0 { "/".to_string() } else { format!("/{}", comps[..n].join("/")) })
        .collect()
}

/// Read the ledger files of the cgroup `path`. `None` when the memory
/// hierarchy has no such cgroup; an error when no memory hierarchy is
/// mounted.
pub fn read_ledger(
    root: &KernelRoot,
    layout: &Layout,
    path: &str,
) -> Result<Option<LedgerSample>, ReadError> {
    let h = memory_hierarchy(layout)?;
    let reader = CgroupReader::new(root, layout.clone());
    let Some(dir) = reader.dir(h, path).map(Dir) else { return Ok(None) };
    let version = h.version;
    let (usage, swap, events) = match version {
        Version::V2 => ("memory.current", "memory.swap.current", "memory.events"),
        Version::V1 => ("memory.usage_in_bytes", "memory.memsw.usage_in_bytes", "memory.oom_control"),
    };
    let (own_files, ancestor_files): (&[&'static str], &[&'static str]) = match version {
        Version::V2 => {
            (&["memory.max", "memory.high", "memory.low", "memory.min"], &["memory.max", "memory.high"])
        }
        Version::V1 => (
            &["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.kmem.tcp.limit_in_bytes"],
            &["memory.limit_in_bytes"],
        ),
    };
    let mut limits = Vec::new();
    for (i, cg) in self_and_ancestors(path, &h.root).iter().enumerate() {
        let Some(d) = reader.dir(h, cg).map(Dir) else { continue };
        if d.0.top && i > 0 {
            // The top keeps no limit (`CFTYPE_NOT_ON_ROOT`).
            continue;
        }
        for &file in if i == 0 { own_files } else { ancestor_files } {
            limits.push(LimitFile { cgroup: cg.clone(), file, limit: d.limit(file) });
        }
    }
    // The subtree's processes: cgroup.procs of the cgroup and of every
    // descendant (a process is in exactly one cgroup of a hierarchy).
    let prefix = format!("{}/", path.trim_end_matches('/'));
    let subtree: Vec<String> = reader
        .cgroup_paths(h)
        .into_iter()
        .filter(|p| p == path || path == "/" || p.starts_with(&prefix))
        .collect();
    let mut pids: Vec<u32> = Vec::new();
    let mut pids_error: Option<Unavailable> = None;
    for cg in &subtree {
        let Some(d) = reader.dir(h, cg) else { continue };
        match d.read_procs() {
            Ok(p) => pids.extend(p),
            // Removed since the walk: its processes moved or exited.
            Err(ReadError::NotReported { field: None, .. }) if cg != path => {}
            Err(e) => {
                pids_error.get_or_insert(e.into());
            }
        }
        if pids.len() >= MAX_PIDS {
            pids.truncate(MAX_PIDS);
            break;
        }
    }
    pids.sort_unstable();
    pids.dedup();
    let (kmem_bytes, kmem_tcp_bytes) = match version {
        Version::V2 => (None, None),
        Version::V1 => {
            (Some(dir.num("memory.kmem.usage_in_bytes")), Some(dir.num("memory.kmem.tcp.usage_in_bytes")))
        }
    };
    Ok(Some(LedgerSample {
        path: path.to_string(),
        version,
        usage_bytes: dir.num(usage),
        stat: dir.keyed("memory.stat"),
        events: dir.keyed(events),
        swap_or_memsw_bytes: dir.num(swap),
        kmem_bytes,
        kmem_tcp_bytes,
        limits,
        pids: match pids_error {
            Some(e) => Err(e),
            None => Ok(pids),
        },
        cgroups_in_subtree: subtree.len(),
        dir: dir.0.kpath,
    }))
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
    fn v2_cgroup_with_a_limited_parent() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "/proc/self/mountinfo", "25 22 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        let m = "/sys/fs/cgroup";
        write(d, &format!("{m}/cgroup.controllers"), "cpu memory pids\n");
        write(d, &format!("{m}/memory.stat"), "anon 1\n");
        write(d, &format!("{m}/cgroup.procs"), "1\n");
        write(d, &format!("{m}/pod/memory.max"), "1048576\n");
        write(d, &format!("{m}/pod/memory.high"), "max\n");
        write(d, &format!("{m}/pod/cgroup.procs"), "");
        write(d, &format!("{m}/pod/c/memory.current"), "4096\n");
        write(d, &format!("{m}/pod/c/memory.stat"), "anon 4096\nfile 0\n");
        write(d, &format!("{m}/pod/c/memory.max"), "max\n");
        write(d, &format!("{m}/pod/c/memory.high"), "max\n");
        write(d, &format!("{m}/pod/c/memory.low"), "0\n");
        write(d, &format!("{m}/pod/c/memory.events"), "oom 0\noom_kill 0\n");
        write(d, &format!("{m}/pod/c/memory.swap.current"), "0\n");
        write(d, &format!("{m}/pod/c/cgroup.procs"), "30\n20\n");
        write(d, &format!("{m}/pod/c/sub/cgroup.procs"), "40\n");
        let root = KernelRoot::at(d);
        let layout = Layout::detect(&root).unwrap();
        let s = read_ledger(&root, &layout, "/pod/c").unwrap().unwrap();
        assert_eq!(s.version, Version::V2);
        assert_eq!(s.usage_bytes, Ok(4096));
        assert_eq!(s.stat_key("anon"), Ok(4096));
        assert_eq!(s.pids, Ok(vec![20, 30, 40]));
        assert_eq!(s.cgroups_in_subtree, 2);
        let files: Vec<(&str, &str)> = s.limits.iter().map(|l| (l.cgroup.as_str(), l.file)).collect();
        assert_eq!(
            files,
            [
                ("/pod/c", "memory.max"),
                ("/pod/c", "memory.high"),
                ("/pod/c", "memory.low"),
                ("/pod/c", "memory.min"),
                ("/pod", "memory.max"),
                ("/pod", "memory.high"),
            ]
        );
        assert_eq!(s.limits[4].limit, Ok(Limit::Value(1 << 20)));
        assert!(matches!(s.own_limit("memory.min").unwrap().limit, Err(Unavailable::Read(_))));
        assert!(s.kmem_bytes.is_none());
        assert!(read_ledger(&root, &layout, "/nope").unwrap().is_none());
        assert_eq!(memory_paths(&root, &layout).unwrap(), ["/", "/pod", "/pod/c", "/pod/c/sub"]);
    }

    #[test]
    fn no_memory_hierarchy_says_why() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "/proc/self/mountinfo", "");
        let root = KernelRoot::at(dir.path());
        let layout = Layout::detect(&root).unwrap();
        assert_eq!(read_ledger(&root, &layout, "/x").unwrap_err().kind(), "not_reported");
    }
}
