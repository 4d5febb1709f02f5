//! Reading cgroups, v1 and v2, into one model: [`CgroupTree`] of [`Cgroup`]s.
//!
//! A cgroup is a path (`/system.slice/nginx.service`). On v2 all of its
//! controllers' files are in one directory; on v1 each controller's
//! hierarchy has its own directory for the same path (and may not have it
//! at all). Each figure below names the file it comes from in each version
//! (Documentation/admin-guide/cgroup-v2.rst "Memory Interface Files",
//! Documentation/admin-guide/cgroup-v1/memory.rst §5):
//!
//! | figure | v2 | v1 |
//! |---|---|---|
//! | current | `memory.current` | `memory.usage_in_bytes` |
//! | peak | `memory.peak` (5.19+) | `memory.max_usage_in_bytes` |
//! | limit | `memory.max` | `memory.limit_in_bytes` |
//! | swap | `memory.swap.current` | `memory.memsw.usage_in_bytes` − usage |
//! | swap limit | `memory.swap.max` | `memory.memsw.limit_in_bytes` − limit |
//! | OOM events | `memory.events` `oom` | — (v1 counts no OOM events) |
//! | OOM kills | `memory.events` `oom_kill` | `memory.oom_control` `oom_kill` (4.13+) |
//! | split | `memory.stat` | `memory.stat` `total_*` (hierarchical) |
//! | cpus / mems | `cpuset.{cpus,mems}.effective` | `cpuset.effective_{cpus,mems}` |
//! | pids | `pids.current`, `pids.max` | the same |
//! | pressure | `memory.pressure` (PSI, 4.20+) | — (v1 has no pressure file) |
//!
//! Memory figures are hierarchical in both versions (a cgroup's usage
//! includes its descendants'; v1 needs `memory.use_hierarchy`, always on
//! since 5.x). Every figure is a [`Figure`]: the value, or why it is
//! [`Unavailable`].

use std::collections::BTreeSet;

use memscope_kernel::cgroup::{CgroupDir, CgroupReader, Hierarchy, Layout, Version};
use memscope_kernel::parse::cgroupfs::Limit;
use memscope_kernel::parse::pressure::Pressure;
use memscope_kernel::parse::vmstat::Vmstat;
use memscope_kernel::{KernelRoot, ReadError};

/// A figure, or why it is unavailable.
pub type Figure<T> = Result<T, Unavailable>;

/// Why a cgroup figure is unavailable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unavailable {
    /// Its file could not be read (missing on this kernel, permission,
    /// malformed).
    Read(ReadError),
    /// This cgroup version does not report it (v1 has no slab split and no
    /// OOM event count).
    NotInVersion {
        /// The version.
        version: Version,
        /// What it lacks.
        what: String,
    },
    /// The top cgroup of a hierarchy has no such file (no limit, usage or
    /// task count is kept there).
    AtTop {
        /// The control file.
        file: String,
    },
    /// The controller is not mounted.
    NoController {
        /// Its name.
        controller: String,
    },
}

impl From<ReadError> for Unavailable {
    fn from(e: ReadError) -> Unavailable {
        Unavailable::Read(e)
    }
}

/// Where one figure of the memory split comes from in v1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V1Source {
    /// A key of v1 `memory.stat`.
    Stat(&'static str),
    /// `memory.kmem.usage_in_bytes`.
    Kmem,
    /// v1 does not report it.
    Absent,
}

/// One figure of the memory split of `memory.stat`.
#[derive(Debug, Clone, Copy)]
pub struct SplitItem {
    /// Stable key (`anon`, `file`, …), the v2 name.
    pub key: &'static str,
    /// Key in v2 `memory.stat`.
    pub v2: &'static str,
    /// Source in v1.
    pub v1: V1Source,
    /// What it is.
    pub help: &'static str,
}

/// The memory split, one table for printing, JSON, CSV and help
/// (mm/memcontrol.c `memory_stats[]`, mm/memcontrol-v1.c `memcg1_stat_names`).
pub const SPLIT: &[SplitItem] = &[
    SplitItem {
        key: "anon",
        v2: "anon",
        v1: V1Source::Stat("total_rss"),
        help: "anonymous memory: heaps, stacks, private mappings (v1: rss)",
    },
    SplitItem {
        key: "file",
        v2: "file",
        v1: V1Source::Stat("total_cache"),
        help: "page cache, including tmpfs and shared memory (v1: cache)",
    },
    SplitItem {
        key: "shmem",
        v2: "shmem",
        v1: V1Source::Stat("total_shmem"),
        help: "tmpfs and shared anonymous memory (part of file)",
    },
    SplitItem {
        key: "file_mapped",
        v2: "file_mapped",
        v1: V1Source::Stat("total_mapped_file"),
        help: "page cache mapped into processes (part of file)",
    },
    SplitItem {
        key: "file_dirty",
        v2: "file_dirty",
        v1: V1Source::Stat("total_dirty"),
        help: "page cache waiting to be written back",
    },
    SplitItem {
        key: "file_writeback",
        v2: "file_writeback",
        v1: V1Source::Stat("total_writeback"),
        help: "page cache being written back",
    },
    SplitItem {
        key: "kernel",
        v2: "kernel",
        v1: V1Source::Kmem,
        help: "kernel memory charged to the cgroup: slab, stacks, page tables, sockets, … \
               (v2 5.18+; v1: memory.kmem.usage_in_bytes)",
    },
    SplitItem {
        key: "slab",
        v2: "slab",
        v1: V1Source::Absent,
        help: "slab objects (dentries, inodes, …; part of kernel)",
    },
    SplitItem {
        key: "sock",
        v2: "sock",
        v1: V1Source::Absent,
        help: "network socket buffers (part of kernel)",
    },
    SplitItem {
        key: "kernel_stack",
        v2: "kernel_stack",
        v1: V1Source::Absent,
        help: "kernel stacks of the tasks",
    },
    SplitItem { key: "pagetables", v2: "pagetables", v1: V1Source::Absent, help: "page tables" },
    SplitItem { key: "percpu", v2: "percpu", v1: V1Source::Absent, help: "per-cpu kernel allocations" },
    SplitItem { key: "vmalloc", v2: "vmalloc", v1: V1Source::Absent, help: "vmalloc'ed kernel memory" },
    SplitItem {
        key: "anon_thp",
        v2: "anon_thp",
        v1: V1Source::Stat("total_rss_huge"),
        help: "anonymous memory in transparent huge pages (part of anon)",
    },
    SplitItem {
        key: "swapcached",
        v2: "swapcached",
        v1: V1Source::Absent,
        help: "swapped-out memory also kept in RAM",
    },
];

/// The memory controller's figures for one cgroup.
#[derive(Debug, Clone)]
pub struct MemoryStats {
    /// Which version the files are from.
    pub version: Version,
    /// The cgroup's directory in the memory hierarchy (kernel path).
    pub dir: String,
    /// Bytes charged now (hierarchical).
    pub current_bytes: Figure<u64>,
    /// Highest `current` since the cgroup was created.
    pub peak_bytes: Figure<u64>,
    /// Hard limit.
    pub limit: Figure<Limit>,
    /// Swap used.
    pub swap_bytes: Figure<u64>,
    /// Swap limit (v1: derived from the memory+swap limit).
    pub swap_limit: Figure<Limit>,
    /// `memory.stat`.
    pub stat: Figure<Vmstat>,
    /// v2 `memory.events`, v1 `memory.oom_control`.
    pub events: Figure<Vmstat>,
    /// v1 only: `memory.kmem.usage_in_bytes`.
    pub kmem_bytes: Option<Figure<u64>>,
    /// v2 `memory.pressure`: time the cgroup's tasks stalled waiting for
    /// memory (PSI). v1 has none.
    pub pressure: Figure<Pressure>,
}

impl MemoryStats {
    fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }

    /// OOM events: times the limit was reached and an allocation was about
    /// to fail (v2 `memory.events` `oom`). v1 does not count them.
    pub fn oom_events(&self) -> Figure<u64> {
        match self.version {
            Version::V2 => self.event("memory.events", "oom"),
            Version::V1 => Err(Unavailable::NotInVersion {
                version: Version::V1,
                what: "OOM events (memory.oom_control has only under_oom and oom_kill)".into(),
            }),
        }
    }

    /// Processes killed by the OOM killer in this cgroup (and below).
    pub fn oom_kills(&self) -> Figure<u64> {
        match self.version {
            Version::V2 => self.event("memory.events", "oom_kill"),
            Version::V1 => self.event("memory.oom_control", "oom_kill"),
        }
    }

    fn event(&self, file: &str, key: &str) -> Figure<u64> {
        let events = self.events.as_ref().map_err(Clone::clone)?;
        events.get(key).ok_or_else(|| ReadError::missing_field(&self.file(file), key).into())
    }

    /// One figure of the split ([`SPLIT`]), in bytes.
    pub fn split(&self, item: &SplitItem) -> Figure<u64> {
        let stat_path = self.file("memory.stat");
        let from_stat = |key: &str| -> Figure<u64> {
            let stat = self.stat.as_ref().map_err(Clone::clone)?;
            stat.get(key).ok_or_else(|| ReadError::missing_field(&stat_path, key).into())
        };
        match (self.version, item.v1) {
            (Version::V2, _) => from_stat(item.v2),
            (Version::V1, V1Source::Stat(k)) => from_stat(k),
            (Version::V1, V1Source::Kmem) => match &self.kmem_bytes {
                Some(s) => s.clone(),
                None => {
                    Err(ReadError::missing_field(&self.file("memory.kmem.usage_in_bytes"), "kmem").into())
                }
            },
            (Version::V1, V1Source::Absent) => Err(Unavailable::NotInVersion {
                version: Version::V1,
                what: format!("{} in memory.stat", item.key),
            }),
        }
    }

    /// The split figure with this key.
    pub fn split_key(&self, key: &str) -> Figure<u64> {
        match SPLIT.iter().find(|i| i.key == key) {
            Some(item) => self.split(item),
            None => Err(ReadError::missing_field(&self.file("memory.stat"), key).into()),
        }
    }
}

/// The cpuset controller's figures for one cgroup.
#[derive(Debug, Clone)]
pub struct CpusetStats {
    /// Which version the files are from.
    pub version: Version,
    /// CPUs the tasks may run on (effective).
    pub cpus: Figure<Vec<u32>>,
    /// Memory nodes the tasks may allocate from (effective).
    pub mems: Figure<Vec<u32>>,
}

/// The pids controller's figures for one cgroup.
#[derive(Debug, Clone)]
pub struct PidsStats {
    /// Which version the files are from.
    pub version: Version,
    /// Tasks (threads) now, hierarchical.
    pub current: Figure<u64>,
    /// Limit.
    pub max: Figure<Limit>,
}

/// One cgroup and its figures.
#[derive(Debug, Clone)]
pub struct Cgroup {
    /// The cgroup path, as `/proc/PID/cgroup` prints it (`/` for the root).
    pub path: String,
    /// Depth below the top of the tree (0 for the top).
    pub depth: usize,
    /// Processes in this cgroup itself (not its descendants): `cgroup.procs`
    /// of the memory hierarchy (else v2, else the first that has the path).
    pub procs: Figure<Vec<u32>>,
    /// Memory figures, when the cgroup is in the memory hierarchy (v1) or
    /// has the memory controller enabled (v2).
    pub memory: Option<MemoryStats>,
    /// cpuset figures, likewise.
    pub cpuset: Option<CpusetStats>,
    /// pids figures, likewise.
    pub pids: Option<PidsStats>,
}

impl Cgroup {
    /// The versions its figures come from, ascending (`[v1]`, `[v2]`, or
    /// both on a hybrid machine).
    pub fn versions(&self) -> Vec<Version> {
        let v: BTreeSet<Version> = [
            self.memory.as_ref().map(|m| m.version),
            self.cpuset.as_ref().map(|c| c.version),
            self.pids.as_ref().map(|p| p.version),
        ]
        .into_iter()
        .flatten()
        .collect();
        v.into_iter().collect()
    }

    /// The last component of the path (`/` for the root).
    pub fn name(&self) -> &str {
        match self.path.rsplit('/').next() {
            Some(n) if !n.is_empty() => n,
            _ => "/",
        }
    }
}

/// Every cgroup memscope can see, parents before children.
#[derive(Debug, Clone)]
pub struct CgroupTree {
    /// The hierarchies.
    pub layout: Layout,
    /// The cgroups in depth-first order, children sorted by name.
    pub cgroups: Vec<Cgroup>,
}

impl CgroupTree {
    /// Index of the cgroup with this path.
    pub fn find(&self, path: &str) -> Option<usize> {
        self.cgroups.iter().position(|c| c.path == path)
    }
}

/// Read every cgroup of the memory, cpuset and pids hierarchies (and the
/// v2 one), as `root` sees them.
pub fn read_tree(root: &KernelRoot, layout: &Layout) -> CgroupTree {
    let reader = CgroupReader::new(root, layout.clone());
    let mut hierarchies: Vec<&Hierarchy> = Vec::new();
    for h in [layout.accounting(), layout.controller("cpuset"), layout.controller("pids"), layout.v2()]
        .into_iter()
        .flatten()
    {
        if !hierarchies.iter().any(|x| x.mount_point == h.mount_point) {
            hierarchies.push(h);
        }
    }
    let top = layout.accounting().map(|h| h.root.clone()).unwrap_or_else(|| "/".into());
    let mut paths: BTreeSet<Vec<String>> = BTreeSet::new();
    for h in &hierarchies {
        for path in reader.cgroup_paths(h) {
            paths.insert(components(&path));
        }
    }
    let top_depth = components(&top).len();
    let cgroups = paths
        .into_iter()
        .filter_map(|comps| {
            let path = if comps.is_empty() { "/".to_string() } else { format!("/{}", comps.join("/")) };
            let depth = comps.len().saturating_sub(top_depth);
            read_cgroup_with(&reader, &path, depth)
        })
        .collect();
    CgroupTree { layout: layout.clone(), cgroups }
}

pub(crate) fn components(path: &str) -> Vec<String> {
    path.split('/').filter(|c| !c.is_empty()).map(str::to_string).collect()
}

/// Read one cgroup by path. `None` when no hierarchy has it (removed
/// meanwhile).
pub fn read_cgroup(root: &KernelRoot, layout: &Layout, path: &str, depth: usize) -> Option<Cgroup> {
    read_cgroup_with(&CgroupReader::new(root, layout.clone()), path, depth)
}

fn read_cgroup_with(reader: &CgroupReader, path: &str, depth: usize) -> Option<Cgroup> {
    let layout = reader.layout();
    let dir_in = |h: Option<&Hierarchy>| -> Option<Dir> { reader.dir(h?, path).map(Dir) };
    let memory = dir_in(layout.controller("memory")).and_then(read_memory);
    let cpuset = dir_in(layout.controller("cpuset")).and_then(|d| read_cpuset(&d));
    let pids = dir_in(layout.controller("pids")).and_then(|d| read_pids(&d));
    let procs_dir = dir_in(layout.accounting())
        .or_else(|| dir_in(layout.v2()))
        .or_else(|| layout.hierarchies.iter().find_map(|h| dir_in(Some(h))))?;
    let procs = procs_dir.get("cgroup.procs", |d, _| d.read_procs());
    Some(Cgroup { path: path.to_string(), depth, procs, memory, cpuset, pids })
}

/// One cgroup directory of one hierarchy, its reads made [`Figure`]s.
pub(crate) struct Dir<'a>(pub(crate) CgroupDir<'a>);

impl<'a> Dir<'a> {
    pub(crate) fn exists(&self, name: &str) -> bool {
        self.0.exists(name)
    }

    /// Read and parse a control file. A file missing at the top of the
    /// hierarchy is [`Unavailable::AtTop`]: the kernel keeps no limit or
    /// usage there (`CFTYPE_NOT_ON_ROOT`).
    pub(crate) fn get<T>(
        &self,
        name: &str,
        read: impl FnOnce(&CgroupDir<'a>, &str) -> Result<T, ReadError>,
    ) -> Figure<T> {
        match read(&self.0, name) {
            Ok(v) => Ok(v),
            Err(ReadError::NotReported { field: None, .. }) if self.0.top => {
                Err(Unavailable::AtTop { file: name.to_string() })
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn num(&self, name: &str) -> Figure<u64> {
        self.get(name, CgroupDir::read_u64)
    }

    pub(crate) fn keyed(&self, name: &str) -> Figure<Vmstat> {
        self.get(name, CgroupDir::read_keyed)
    }

    pub(crate) fn limit(&self, name: &str) -> Figure<Limit> {
        self.get(name, CgroupDir::read_limit)
    }

    pub(crate) fn list(&self, name: &str, what: &str) -> Figure<Vec<u32>> {
        self.get(name, |d, n| d.read_list(n, what))
    }
}
fn read_memory(d: Dir) -> Option<MemoryStats> {
    let version = d.0.version;
    match version {
        Version::V2 => {
            // A v2 cgroup has memory files only where the controller is
            // enabled (the top has memory.stat but no memory.current).
            if !d.exists("memory.stat") {
                return None;
            }
            Some(MemoryStats {
                version,
                current_bytes: d.num("memory.current"),
                peak_bytes: d.num("memory.peak"),
                limit: d.limit("memory.max"),
                swap_bytes: d.num("memory.swap.current"),
                swap_limit: d.limit("memory.swap.max"),
                stat: d.keyed("memory.stat"),
                events: d.keyed("memory.events"),
                kmem_bytes: None,
                pressure: d.get("memory.pressure", CgroupDir::read_pressure),
                dir: d.0.kpath,
            })
        }
        Version::V1 => {
            let usage = d.num("memory.usage_in_bytes");
            let mem_limit = d.limit("memory.limit_in_bytes");
            let memsw_usage = d.num("memory.memsw.usage_in_bytes");
            let memsw_limit = d.limit("memory.memsw.limit_in_bytes");
            // v1 counts memory+swap together; swap alone is the difference.
            let swap_bytes = match (&usage, &memsw_usage) {
                (Ok(u), Ok(both)) => Ok(both.saturating_sub(*u)),
                (Err(e), _) | (_, Err(e)) => Err(e.clone()),
            };
            let swap_limit = match (&mem_limit, &memsw_limit) {
                (_, Ok(Limit::Max)) => Ok(Limit::Max),
                (Ok(Limit::Value(m)), Ok(Limit::Value(both))) => Ok(Limit::Value(both.saturating_sub(*m))),
                // Memory unlimited but memory+swap limited: swap is bounded
                // by the memory+swap limit.
                (Ok(Limit::Max), Ok(Limit::Value(both))) => Ok(Limit::Value(*both)),
                (Err(e), _) | (_, Err(e)) => Err(e.clone()),
            };
            Some(MemoryStats {
                version,
                current_bytes: usage,
                peak_bytes: d.num("memory.max_usage_in_bytes"),
                limit: mem_limit,
                swap_bytes,
                swap_limit,
                stat: d.keyed("memory.stat"),
                events: d.keyed("memory.oom_control"),
                kmem_bytes: Some(d.num("memory.kmem.usage_in_bytes")),
                pressure: Err(Unavailable::NotInVersion {
                    version: Version::V1,
                    what: "memory pressure (memory.pressure is a cgroup v2 file; /proc/pressure/memory \
                           covers the whole system)"
                        .into(),
                }),
                dir: d.0.kpath,
            })
        }
    }
}

fn read_cpuset(d: &Dir) -> Option<CpusetStats> {
    let version = d.0.version;
    let (cpus, mems) = match version {
        Version::V2 => ("cpuset.cpus.effective", "cpuset.mems.effective"),
        Version::V1 => ("cpuset.effective_cpus", "cpuset.effective_mems"),
    };
    if version == Version::V2 && !d.exists(cpus) {
        return None;
    }
    Some(CpusetStats { version, cpus: d.list(cpus, "a cpu list"), mems: d.list(mems, "a node list") })
}

fn read_pids(d: &Dir) -> Option<PidsStats> {
    let version = d.0.version;
    // The top cgroup has neither file (v1), or only pids.current (v2 6.2+).
    if !d.exists("pids.current") && !d.exists("pids.max") {
        return None;
    }
    Some(PidsStats { version, current: d.num("pids.current"), max: d.get("pids.max", CgroupDir::read_max) })
}
