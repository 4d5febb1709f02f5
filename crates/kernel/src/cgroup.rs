//! cgroupfs: where the hierarchies are ([`Layout`], from
//! `/proc/self/mountinfo` only) and the one walk of their directories
//! ([`CgroupReader`]).
//!
//! ```text
//!  /proc/self/mountinfo ──▶ Layout           v2, v1 or hybrid; where each controller is
//!  Layout + KernelRoot  ──▶ CgroupReader     walk a hierarchy (bounded), name each
//!                                            cgroup's directory, read its files
//! ```
//!
//! Three layouts exist in the field (Documentation/admin-guide/cgroup-v2.rst
//! "Mounting", systemd's "unified", "hybrid" and "legacy" modes):
//!
//! ```text
//!  v2 (unified)   /sys/fs/cgroup            cgroup2, every controller
//!  v1 (legacy)    /sys/fs/cgroup/memory     cgroup, one hierarchy per controller
//!                 /sys/fs/cgroup/cpu,cpuacct (co-mounted controllers)
//!  hybrid         v1 controllers as above, and cgroup2 without controllers
//!                 at /sys/fs/cgroup/unified (a controller can be bound to
//!                 one version only)
//! ```
//!
//! Paths are never guessed: each hierarchy is a `cgroup`/`cgroup2` mount,
//! its v1 controllers are in the superblock options (`rw,memory`), and the
//! v2 controllers are those listed in `cgroup.controllers` at the mount point.
//! The mount's *root* field is the cgroup path of the mounted directory:
//! `/` normally and inside a cgroup namespace (the namespace root), or a
//! subtree such as `/docker/<id>` when a container bind-mounts its own
//! cgroup. A cgroup path (as `/proc/PID/cgroup` prints it) maps to a
//! directory under the mount point by removing that root.

use serde::{Deserialize, Serialize};

use crate::parse::cgroupfs::parse_controllers;
use crate::parse::mountinfo::Mountinfo;
use crate::{KernelRoot, ReadError};

/// cgroup version of a hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Version {
    /// cgroup v1: one hierarchy per (group of) controller(s).
    #[serde(rename = "v1")]
    V1,
    /// cgroup v2: the unified hierarchy.
    #[serde(rename = "v2")]
    V2,
}

impl Version {
    /// `v1` or `v2`.
    pub fn name(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        }
    }
}

/// Which of the three layouts the machine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayoutKind {
    /// Only cgroup2 is used for controllers ("unified").
    #[serde(rename = "v2")]
    V2,
    /// Only cgroup v1 hierarchies ("legacy").
    #[serde(rename = "v1")]
    V1,
    /// v1 controller hierarchies and a cgroup2 mount.
    #[serde(rename = "hybrid")]
    Hybrid,
    /// No cgroup file system is mounted.
    #[serde(rename = "none")]
    None,
}

impl LayoutKind {
    /// `v2`, `v1`, `hybrid` or `none`.
    pub fn name(self) -> &'static str {
        match self {
            LayoutKind::V2 => "v2",
            LayoutKind::V1 => "v1",
            LayoutKind::Hybrid => "hybrid",
            LayoutKind::None => "none",
        }
    }
}

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hierarchy {
    /// v1 or v2.
    pub version: Version,
    /// Where it is mounted (a kernel path: `/sys/fs/cgroup/memory`).
    pub mount_point: String,
    /// The cgroup path of the mount point's directory (mountinfo's root
    /// field): `/`, or the subtree a container sees.
    pub root: String,
    /// Controllers: v1 from the superblock options; v2 from
    /// `cgroup.controllers` at the mount point (empty when unreadable).
    pub controllers: Vec<String>,
    /// Name of a v1 named hierarchy (`systemd` for `name=systemd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// v1 superblock options that are not controllers
/// (kernel/cgroup/cgroup-v1.c `cgroup1_parse_param`, plus the VFS's `rw`/`ro`).
const V1_NON_CONTROLLER_OPTIONS: &[&str] = &[
    "rw",
    "ro",
    "none",
    "all",
    "noprefix",
    "clone_children",
    "cpuset_v2_mode",
    "xattr",
    "favordynmods",
    "seclabel",
];

impl Hierarchy {
    /// Does this hierarchy have the controller?
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// The kernel directory of a cgroup path (`/a/b` → `<mount>/a/b`), or
    /// `None` when the path is outside the mounted subtree.
    pub fn dir_of(&self, cgroup_path: &str) -> Option<String> {
        let root = self.root.trim_end_matches('/');
        let rel = if root.is_empty() {
            cgroup_path
        } else if cgroup_path == root {
            ""
        } else {
            cgroup_path.strip_prefix(root).filter(|r| r.starts_with('/'))?
        };
        let rel = rel.trim_end_matches('/');
        if rel.split('/').any(|c| c == "..") {
            return None;
        }
        Some(format!("{}{}", self.mount_point.trim_end_matches('/'), rel))
    }

    /// The cgroup path of a directory given relative to the mount point
    /// (`` or `/a/b`).
    pub fn path_of(&self, rel: &str) -> String {
        let root = self.root.trim_end_matches('/');
        let p = format!("{root}{rel}");
        if p.is_empty() { "/".to_string() } else { p }
    }

    /// A short description: `v1 memory`, `v1 cpu,cpuacct`, `v2`.
    pub fn describe(&self) -> String {
        match (self.version, &self.name) {
            (Version::V2, _) => "v2".into(),
            (Version::V1, Some(n)) if self.controllers.is_empty() => format!("v1 name={n}"),
            (Version::V1, _) => format!("v1 {}", self.controllers.join(",")),
        }
    }
}

/// Every cgroup hierarchy of the machine, as memscope sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// v2, v1, hybrid or none.
    pub kind: LayoutKind,
    /// The hierarchies: the v2 one first (if mounted), then v1 ones in
    /// mount order. A hierarchy mounted twice is listed once (first mount).
    pub hierarchies: Vec<Hierarchy>,
}

impl Layout {
    /// Detect the layout of the system `root` reads: `/proc/self/mountinfo`,
    /// and `cgroup.controllers` at the v2 mount point.
    pub fn detect(root: &KernelRoot) -> Result<Layout, ReadError> {
        let mi = root.mountinfo()?;
        Ok(Layout::from_mountinfo(&mi, &|mount_point| {
            root.read_text(&format!("{}/cgroup.controllers", mount_point.trim_end_matches('/')))
                .ok()
                .map(|t| parse_controllers(&t))
        }))
    }

    /// The layout described by `mi`; `v2_controllers` reads
    /// `cgroup.controllers` at a cgroup2 mount point. Pure.
    pub fn from_mountinfo(mi: &Mountinfo, v2_controllers: &dyn Fn(&str) -> Option<Vec<String>>) -> Layout {
        let mut v2: Option<Hierarchy> = None;
        let mut v1: Vec<Hierarchy> = Vec::new();
        let mut seen_devices: Vec<&str> = Vec::new();
        for m in &mi.mounts {
            let version = match m.fs_type.as_str() {
                "cgroup2" => Version::V2,
                "cgroup" => Version::V1,
                _ => continue,
            };
            // The same hierarchy mounted twice has one superblock: one device.
            if seen_devices.contains(&m.major_minor.as_str()) {
                continue;
            }
            seen_devices.push(&m.major_minor);
            match version {
                Version::V2 => {
                    if v2.is_none() {
                        v2 = Some(Hierarchy {
                            version,
                            mount_point: m.mount_point.clone(),
                            root: m.root.clone(),
                            controllers: v2_controllers(&m.mount_point).unwrap_or_default(),
                            name: None,
                        });
                    }
                }
                Version::V1 => {
                    let mut controllers = Vec::new();
                    let mut name = None;
                    for o in &m.super_options {
                        if let Some(n) = o.strip_prefix("name=") {
                            name = Some(n.to_string());
                        } else if !o.contains('=') && !V1_NON_CONTROLLER_OPTIONS.contains(&o.as_str()) {
                            controllers.push(o.clone());
                        }
                    }
                    v1.push(Hierarchy {
                        version,
                        mount_point: m.mount_point.clone(),
                        root: m.root.clone(),
                        controllers,
                        name,
                    });
                }
            }
        }
        let v1_controllers = v1.iter().any(|h| !h.controllers.is_empty());
        let kind = match (v2.is_some(), v1_controllers) {
            (true, true) => LayoutKind::Hybrid,
            (true, false) => LayoutKind::V2,
            (false, true) => LayoutKind::V1,
            (false, false) => LayoutKind::None,
        };
        let mut hierarchies: Vec<Hierarchy> = v2.into_iter().collect();
        hierarchies.extend(v1);
        Layout { kind, hierarchies }
    }

    /// The v2 hierarchy, if mounted.
    pub fn v2(&self) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.version == Version::V2)
    }

    /// The hierarchy that has this controller: a v1 one that lists it
    /// (a controller mounted on v1 cannot be on v2), else v2 if its
    /// `cgroup.controllers` lists it.
    pub fn controller(&self, name: &str) -> Option<&Hierarchy> {
        self.hierarchies
            .iter()
            .find(|h| h.version == Version::V1 && h.has(name))
            .or_else(|| self.v2().filter(|h| h.has(name)))
    }

    /// The hierarchy whose membership accounts memory: the memory
    /// controller's, else v2, else the first one.
    pub fn accounting(&self) -> Option<&Hierarchy> {
        self.controller("memory").or_else(|| self.v2()).or_else(|| self.hierarchies.first())
    }

    /// When memscope sees only a subtree of the cgroup tree (a container
    /// that bind-mounted its own cgroup), the cgroup path of that subtree.
    pub fn visible_root(&self) -> Option<&str> {
        self.accounting().map(|h| h.root.as_str()).filter(|r| *r != "/")
    }
}

/// At most this many cgroup directories are walked in one hierarchy: a
/// machine with more is not one memscope can summarize, and the walk must
/// end on any tree (a captured tree may hold anything).
pub const MAX_CGROUPS: usize = 100_000;

/// Directories nested deeper than this below a mount point are not walked
/// (`cgroup.max.depth` is unlimited by default, but systemd and container
/// runtimes nest a handful of levels).
pub const MAX_DEPTH: usize = 64;

/// The one reader of cgroupfs: the [`Layout`] of the machine, the walk of
/// each hierarchy's directories, and each cgroup's directory
/// ([`CgroupDir`]) whose files it reads. Every read goes through the
/// [`KernelRoot`], so a captured tree is walked like the live system and a
/// recording root keeps what was walked.
#[derive(Debug, Clone)]
pub struct CgroupReader<'a> {
    root: &'a KernelRoot,
    layout: Layout,
}

impl<'a> CgroupReader<'a> {
    /// Detect the layout ([`Layout::detect`]) and read through `root`.
    pub fn detect(root: &'a KernelRoot) -> Result<CgroupReader<'a>, ReadError> {
        Ok(CgroupReader { root, layout: Layout::detect(root)? })
    }

    /// A reader of a layout already detected.
    pub fn new(root: &'a KernelRoot, layout: Layout) -> CgroupReader<'a> {
        CgroupReader { root, layout }
    }

    /// The hierarchies.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The root every read goes through.
    pub fn root(&self) -> &'a KernelRoot {
        self.root
    }

    /// Every directory of the hierarchy `h`, depth first with children
    /// by name, as paths relative to its mount point (`` for the mount
    /// point itself, then `/a`, `/a/b`, …). Bounded by [`MAX_CGROUPS`] and
    /// [`MAX_DEPTH`]; a directory that vanishes during the walk is skipped.
    pub fn walk(&self, h: &Hierarchy) -> Vec<String> {
        let mount = h.mount_point.trim_end_matches('/');
        let mut out = Vec::new();
        if !self.root.is_dir(mount) {
            return out;
        }
        // (relative path, depth); children pushed in reverse so that they
        // pop in name order.
        let mut stack: Vec<(String, usize)> = vec![(String::new(), 0)];
        while let Some((rel, depth)) = stack.pop() {
            if out.len() >= MAX_CGROUPS {
                break;
            }
            let dir = format!("{mount}{rel}");
            out.push(rel.clone());
            if depth >= MAX_DEPTH {
                continue;
            }
            let Ok(names) = self.root.list_subdirs(&dir) else { continue };
            let children: Vec<String> = names.iter().map(|n| format!("{rel}/{n}")).collect();
            stack.extend(children.into_iter().rev().map(|c| (c, depth + 1)));
        }
        out
    }

    /// The cgroup paths of every directory of `h` ([`CgroupReader::walk`]
    /// mapped through [`Hierarchy::path_of`]).
    pub fn cgroup_paths(&self, h: &Hierarchy) -> Vec<String> {
        self.walk(h).iter().map(|rel| h.path_of(rel)).collect()
    }

    /// The directory of the cgroup `path` in hierarchy `h`, when the
    /// hierarchy shows that path and the directory exists.
    pub fn dir(&self, h: &Hierarchy, path: &str) -> Option<CgroupDir<'a>> {
        let kpath = h.dir_of(path)?;
        let top = kpath.trim_end_matches('/') == h.mount_point.trim_end_matches('/');
        self.root.is_dir(&kpath).then_some(CgroupDir { root: self.root, version: h.version, kpath, top })
    }
}

/// One cgroup's directory in one hierarchy, and the reads of its control
/// files. Errors are the [`KernelRoot`]'s, per file: a file this kernel or
/// this cgroup does not have (or a cgroup removed since the walk) is
/// [`ReadError::NotReported`], a file the user may not read
/// [`ReadError::PermissionDenied`].
#[derive(Debug, Clone)]
pub struct CgroupDir<'a> {
    root: &'a KernelRoot,
    /// The version of the hierarchy it is in.
    pub version: Version,
    /// Its kernel path (`/sys/fs/cgroup/memory/app`).
    pub kpath: String,
    /// Is it the top of the hierarchy as mounted (where the kernel keeps
    /// no limit or usage file, `CFTYPE_NOT_ON_ROOT`)?
    pub top: bool,
}

impl CgroupDir<'_> {
    /// The kernel path of one of its files.
    pub fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.kpath)
    }

    /// Does it have this file?
    pub fn exists(&self, name: &str) -> bool {
        self.root.exists(&self.file(name))
    }

    /// A file as text.
    pub fn read_text(&self, name: &str) -> Result<String, ReadError> {
        self.root.read_text(&self.file(name))
    }

    /// A file holding one number (`memory.current`, `pids.current`).
    pub fn read_u64(&self, name: &str) -> Result<u64, ReadError> {
        self.root.read_u64(&self.file(name))
    }

    /// A flat keyed file (`memory.stat`, `memory.events`, v1
    /// `memory.oom_control`).
    pub fn read_keyed(&self, name: &str) -> Result<crate::parse::vmstat::Vmstat, ReadError> {
        self.read_text(name).map(|t| crate::parse::vmstat::Vmstat::parse(&t))
    }

    /// A limit, parsed as its hierarchy's version prints it (v2 `max`; v1
    /// memory limits' huge "no limit" number: [`Limit::parse_v1_bytes`]).
    ///
    /// [`Limit::parse_v1_bytes`]: crate::parse::cgroupfs::Limit::parse_v1_bytes
    pub fn read_limit(&self, name: &str) -> Result<crate::parse::cgroupfs::Limit, ReadError> {
        use crate::parse::cgroupfs::Limit;
        match self.version {
            Version::V2 => self.root.read_parsed(&self.file(name), Limit::parse),
            Version::V1 => self.root.read_parsed(&self.file(name), Limit::parse_v1_bytes),
        }
    }

    /// A `max`-or-number limit as v2 prints it, whatever the version
    /// (`pids.max` has this form in v1 too).
    pub fn read_max(&self, name: &str) -> Result<crate::parse::cgroupfs::Limit, ReadError> {
        self.root.read_parsed(&self.file(name), crate::parse::cgroupfs::Limit::parse)
    }

    /// A cpu or node list (`cpuset.cpus.effective`), sorted.
    pub fn read_list(&self, name: &str, what: &str) -> Result<Vec<u32>, ReadError> {
        self.root.read_list(&self.file(name), what)
    }

    /// The process ids of `cgroup.procs`.
    pub fn read_procs(&self) -> Result<Vec<u32>, ReadError> {
        self.read_text("cgroup.procs").map(|t| crate::parse::cgroupfs::parse_ids(&t).0)
    }

    /// A pressure file (`memory.pressure`).
    pub fn read_pressure(&self, name: &str) -> Result<crate::parse::pressure::Pressure, ReadError> {
        self.root.pressure_file(&self.file(name))
    }

    /// The inode number of the directory, which kpagecgroup names a
    /// page's memory cgroup by.
    pub fn inode(&self) -> Result<u64, ReadError> {
        self.root.inode(&self.kpath)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(text: &str, v2: &[&str]) -> Layout {
        let mi = Mountinfo::parse(text);
        let v2: Vec<String> = v2.iter().map(|s| s.to_string()).collect();
        Layout::from_mountinfo(&mi, &|_| Some(v2.clone()))
    }

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_machine() {
        let l = layout(HYBRID, &["hugetlb"]);
        assert_eq!(l.kind, LayoutKind::Hybrid);
        assert_eq!(l.hierarchies.len(), 6);
        assert_eq!(l.v2().unwrap().mount_point, "/sys/fs/cgroup/unified");
        let mem = l.controller("memory").unwrap();
        assert_eq!(mem.version, Version::V1);
        assert_eq!(mem.mount_point, "/sys/fs/cgroup/memory");
        assert_eq!(l.controller("hugetlb").unwrap().version, Version::V2);
        assert_eq!(l.controller("io"), None);
        let systemd = l.hierarchies.iter().find(|h| h.name.as_deref() == Some("systemd")).unwrap();
        assert!(systemd.controllers.is_empty());
        assert_eq!(systemd.describe(), "v1 name=systemd");
        assert_eq!(l.accounting().unwrap().mount_point, "/sys/fs/cgroup/memory");
        assert_eq!(l.visible_root(), None);
    }

    #[test]
    fn pure_v2() {
        let l = layout(
            "25 22 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 \
             rw,nsdelegate,memory_recursiveprot\n",
            &["cpuset", "cpu", "io", "memory", "pids"],
        );
        assert_eq!(l.kind, LayoutKind::V2);
        assert_eq!(l.controller("memory").unwrap().mount_point, "/sys/fs/cgroup");
        assert_eq!(l.controller("pids").unwrap().version, Version::V2);
    }

    #[test]
    fn pure_v1_with_comounted_controllers() {
        let l = layout(
            "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
             31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory,clone_children\n\
             32 25 0:28 / /sys/fs/cgroup/net_cls rw - cgroup cgroup rw,net_cls,release_agent=/x\n",
            &[],
        );
        assert_eq!(l.kind, LayoutKind::V1);
        assert_eq!(l.controller("cpuacct").unwrap().controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(l.controller("memory").unwrap().controllers, vec!["memory"]);
        assert_eq!(l.controller("net_cls").unwrap().controllers, vec!["net_cls"]);
        assert!(l.v2().is_none());
    }

    #[test]
    fn container_sees_its_own_subtree() {
        // A container without a cgroup namespace, its cgroup bind-mounted;
        // the same hierarchy mounted a second time is listed once.
        let l = layout(
            "900 880 0:30 /docker/ab12 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n\
             901 880 0:30 /docker/ab12 /mnt/again rw - cgroup2 cgroup2 rw\n",
            &["memory", "pids"],
        );
        assert_eq!(l.hierarchies.len(), 1);
        let h = l.v2().unwrap();
        assert_eq!(l.visible_root(), Some("/docker/ab12"));
        assert_eq!(h.dir_of("/docker/ab12").as_deref(), Some("/sys/fs/cgroup"));
        assert_eq!(h.dir_of("/docker/ab12/app").as_deref(), Some("/sys/fs/cgroup/app"));
        assert_eq!(h.dir_of("/docker/ab123"), None);
        assert_eq!(h.dir_of("/system.slice"), None);
        assert_eq!(h.path_of(""), "/docker/ab12");
        assert_eq!(h.path_of("/app"), "/docker/ab12/app");
    }

    #[test]
    fn namespace_root_maps_slash_to_the_mount() {
        let l = layout("70 60 0:40 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", &["memory"]);
        let h = l.v2().unwrap();
        assert_eq!(h.dir_of("/").as_deref(), Some("/sys/fs/cgroup"));
        assert_eq!(h.dir_of("/a/b").as_deref(), Some("/sys/fs/cgroup/a/b"));
        // A process outside the namespace root shows `/..` paths.
        assert_eq!(h.dir_of("/../sibling"), None);
        assert_eq!(h.path_of(""), "/");
        assert_eq!(h.path_of("/x"), "/x");
    }

    #[test]
    fn nothing_mounted() {
        let l = layout("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n", &[]);
        assert_eq!(l.kind, LayoutKind::None);
        assert!(l.accounting().is_none());
    }
}
