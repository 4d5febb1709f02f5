//! cgroup arithmetic, pure: a [`CgroupTree`] (and a [`Snapshot`]) in,
//! figures out.
//!
//! - [`binding_limit`]: the memory limit that binds a cgroup, its own or an
//!   ancestor's;
//! - [`process_usage`] and [`difference`]: the processes' PSS per cgroup,
//!   next to what the kernel charged the cgroup, and the difference
//!   explained;
//! - [`unavailable_reason`]: why a cgroup figure is missing, in words.
//!
//! Absurd inputs (a captured tree may hold anything) saturate, never wrap
//! or panic.
//!
//! `memory.current` counts pages *charged* to the cgroup: every page a task
//! of the cgroup first touched (anonymous memory, page cache it read or
//! wrote, tmpfs files), plus kernel memory allocated on its behalf (slab
//! objects such as dentries and inodes, kernel stacks, page tables, socket
//! buffers). The charge stays when the task exits or moves, and pages shared
//! with other cgroups are charged once, to the first toucher
//! (Documentation/admin-guide/cgroup-v2.rst "Memory Ownership"). PSS counts
//! pages *mapped* by live processes, shared pages divided among their
//! mappers. So:
//!
//! ```text
//!  memory.current − Σ PSS ≈  page cache not mapped by any process (file − file_mapped)
//!                          + kernel memory (kernel)
//!                          + other: charges left by exited processes, pages mapped
//!                            from other cgroups' charge (negative), processes whose
//!                            PSS could not be read
//! ```

use std::collections::HashMap;

use memscope_kernel::cgroup::Version;
use memscope_kernel::parse::cgroupfs::Limit;
use memscope_model::Snapshot;
use memscope_model::cgroups::tree::{Cgroup, CgroupTree, Unavailable};
use serde::Serialize;

use crate::hints::unavailable_reason as read_reason;
use crate::processes;

/// Why a cgroup figure is unavailable, in words naming the file or the
/// version.
pub fn unavailable_reason(u: &Unavailable) -> String {
    match u {
        Unavailable::Read(e) => read_reason(e),
        Unavailable::NotInVersion { version, what } => {
            format!("cgroup {} does not report {what}", version.name())
        }
        Unavailable::AtTop { file } => format!("the top cgroup of a hierarchy has no {file}"),
        Unavailable::NoController { controller } => format!("the {controller} controller is not mounted"),
        _ => format!("{u:?}"),
    }
}

/// The memory limit that binds cgroup `i` of `tree`: the tightest of its
/// own limit and every ancestor's in the tree (the kernel charges a page to
/// each level and fails the charge at the first full one), with the index
/// of the cgroup that sets it. `None` when no level is limited.
pub fn binding_limit(tree: &CgroupTree, i: usize) -> Option<(u64, usize)> {
    let path = &tree.cgroups.get(i)?.path;
    tree.cgroups
        .iter()
        .enumerate()
        .filter(|(_, a)| is_ancestor_or_self(&a.path, path))
        .filter_map(|(j, a)| match a.memory.as_ref().map(|m| &m.limit) {
            Some(Ok(Limit::Value(v))) => Some((*v, j)),
            _ => None,
        })
        .min_by_key(|&(v, j)| (v, std::cmp::Reverse(tree.cgroups[j].depth)))
}

/// Is `a` the cgroup `path` itself or one of its ancestors?
fn is_ancestor_or_self(a: &str, path: &str) -> bool {
    a == "/" || a == path || path.strip_prefix(a).is_some_and(|rest| rest.starts_with('/'))
}

/// `a − b − c − …` exactly, then saturated to `i64`.
fn signed_difference(from: u64, minus: &[u64]) -> i64 {
    let d = minus.iter().fold(i128::from(from), |acc, &m| acc - i128::from(m));
    i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
}

/// The processes of one cgroup and its descendants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProcessUsage {
    /// Processes with an address space in the subtree.
    pub processes: usize,
    /// Of which PSS was read.
    pub with_pss: usize,
    /// Sum of PSS over those.
    pub pss_bytes: u64,
    /// Sum of RSS over all of them (shared pages counted once per process).
    pub rss_bytes: u64,
}

/// For each cgroup of `tree` (same order), the processes of `snap` in it or
/// below it. A process is placed by its `/proc/PID/cgroup` line of the
/// hierarchy that accounts memory.
pub fn process_usage(tree: &CgroupTree, snap: &Snapshot) -> Vec<ProcessUsage> {
    let mut out = vec![ProcessUsage::default(); tree.cgroups.len()];
    let index: HashMap<&str, usize> =
        tree.cgroups.iter().enumerate().map(|(i, c)| (c.path.as_str(), i)).collect();
    let accounting = tree.layout.accounting();
    for p in &snap.processes {
        if p.has_no_address_space() {
            continue;
        }
        let Ok(cg) = &p.cgroup else { continue };
        let path = match accounting {
            Some(h) if h.version == Version::V1 => {
                h.controllers.iter().find_map(|c| cg.v1_path(c)).or_else(|| cg.v2_path())
            }
            _ => cg.v2_path(),
        };
        let Some(mut path) = path else { continue };
        let row = processes::row(p);
        // The process's cgroup, then each ancestor up to the top.
        loop {
            if let Some(&i) = index.get(path) {
                let u = &mut out[i];
                u.processes += 1;
                u.rss_bytes = u.rss_bytes.saturating_add(row.rss_bytes.unwrap_or(0));
                if let Some(pss) = row.pss_bytes {
                    u.with_pss += 1;
                    u.pss_bytes = u.pss_bytes.saturating_add(pss);
                }
            }
            match path.rfind('/') {
                Some(0) if path.len() > 1 => path = "/",
                Some(i) if i > 0 => path = &path[..i],
                _ => break,
            }
        }
    }
    out
}

/// `memory.current` of a cgroup against the PSS of its processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// `memory.current` (v1 `memory.usage_in_bytes`).
    pub current_bytes: u64,
    /// Σ PSS of the processes in the subtree whose PSS was read.
    pub pss_bytes: u64,
    /// current − PSS (signed).
    pub not_in_pss_bytes: i64,
    /// Page cache that no process maps: `file − file_mapped`.
    pub page_cache_unmapped_bytes: Option<u64>,
    /// Kernel memory charged to the cgroup (`kernel`).
    pub kernel_bytes: Option<u64>,
    /// What the two above leave unexplained (signed); `None` when either
    /// is unavailable.
    pub other_bytes: Option<i64>,
    /// Processes in the subtree whose PSS could not be read.
    pub processes_without_pss: usize,
}

/// The difference for one cgroup, when its `memory.current` is known.
pub fn difference(cg: &Cgroup, usage: &ProcessUsage) -> Option<Difference> {
    let mem = cg.memory.as_ref()?;
    let current = *mem.current_bytes.as_ref().ok()?;
    let not_in_pss = signed_difference(current, &[usage.pss_bytes]);
    let file = mem.split_key("file").ok();
    let mapped = mem.split_key("file_mapped").ok();
    let page_cache_unmapped = match (file, mapped) {
        (Some(f), Some(m)) => Some(f.saturating_sub(m)),
        _ => None,
    };
    let kernel = mem.split_key("kernel").ok();
    let other = match (page_cache_unmapped, kernel) {
        (Some(c), Some(k)) => Some(signed_difference(current, &[usage.pss_bytes, c, k])),
        _ => None,
    };
    Some(Difference {
        current_bytes: current,
        pss_bytes: usage.pss_bytes,
        not_in_pss_bytes: not_in_pss,
        page_cache_unmapped_bytes: page_cache_unmapped,
        kernel_bytes: kernel,
        other_bytes: other,
        processes_without_pss: usage.processes.saturating_sub(usage.with_pss),
    })
}

/// Why the root cgroup's memory figure is not the sum of its children's,
/// when it is computed differently, so that a child larger than `/` is
/// explained; `None` when the root is not in the tree (a container's view)
/// or is counted like any other cgroup.
pub fn root_figure_note(tree: &memscope_model::cgroups::tree::CgroupTree) -> Option<String> {
    use memscope_kernel::cgroup::Version;
    let root = tree.cgroups.iter().find(|c| c.path == "/")?;
    let m = root.memory.as_ref()?;
    match (m.version, &m.current_bytes) {
        // mm/memcontrol.c mem_cgroup_usage(): the root has no page counter
        // of its own in v1; its usage is read from the statistics.
        (Version::V1, Ok(_)) => Some(
            "The root's memory figure is not a counter on cgroup v1: the kernel computes the root's \
             memory.usage_in_bytes from its page cache and anonymous pages (plus swap for memsw), without \
             the kernel memory (slab, stacks, page tables, sockets) charged to its children, so a child \
             can show more than `/`."
                .to_string(),
        ),
        // Documentation/admin-guide/cgroup-v2.rst: memory.current exists
        // in non-root cgroups only.
        (Version::V2, Err(_)) => Some(
            "The root has no memory.current on cgroup v2 (the file exists in non-root cgroups only): its \
             row shows no usage of its own, so any child shows more than `/`; `memscope report` accounts \
             the whole machine."
                .to_string(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use memscope_kernel::parse::vmstat::Vmstat;
    use memscope_model::cgroups::tree::{Figure, MemoryStats};

    use super::*;

    fn cgroup(current: u64, stat: &str) -> Cgroup {
        fn none<T>() -> Figure<T> {
            Err(Unavailable::NoController { controller: "memory".into() })
        }
        Cgroup {
            path: "/a".into(),
            depth: 1,
            procs: Ok(vec![]),
            memory: Some(MemoryStats {
                version: Version::V2,
                dir: "/sys/fs/cgroup/a".into(),
                current_bytes: Ok(current),
                peak_bytes: none(),
                limit: Ok(Limit::Max),
                swap_bytes: none(),
                swap_limit: Ok(Limit::Max),
                stat: Ok(Vmstat::parse(stat)),
                events: none(),
                kmem_bytes: None,
                pressure: none(),
            }),
            cpuset: None,
            pids: None,
        }
    }

    #[test]
    fn the_difference_is_exact_on_real_figures() {
        let cg = cgroup(100 << 20, "file 40960000\nfile_mapped 8192000\nkernel 4096000\n");
        let usage = ProcessUsage { processes: 3, with_pss: 2, pss_bytes: 60 << 20, rss_bytes: 80 << 20 };
        let d = difference(&cg, &usage).unwrap();
        assert_eq!(d.not_in_pss_bytes, 40 << 20);
        assert_eq!(d.page_cache_unmapped_bytes, Some(32_768_000));
        assert_eq!(d.kernel_bytes, Some(4_096_000));
        assert_eq!(d.other_bytes, Some((40 << 20) - 32_768_000 - 4_096_000));
        assert_eq!(d.processes_without_pss, 1);
    }

    /// A tree may hold any number: figures beyond `i64` saturate instead of
    /// wrapping into a sign they do not have.
    #[test]
    fn absurd_figures_saturate() {
        let cg = cgroup(u64::MAX, &format!("file {}\nfile_mapped 0\nkernel {}\n", u64::MAX, u64::MAX));
        let d = difference(&cg, &ProcessUsage::default()).unwrap();
        assert_eq!(d.not_in_pss_bytes, i64::MAX);
        assert_eq!(d.other_bytes, Some(i64::MIN));
        let none = cgroup(0, "");
        let big = ProcessUsage { processes: 1, with_pss: 5, pss_bytes: u64::MAX, rss_bytes: 0 };
        let d = difference(&none, &big).unwrap();
        assert_eq!(d.not_in_pss_bytes, i64::MIN);
        assert_eq!(d.processes_without_pss, 0);
        assert_eq!(signed_difference(5, &[2, 1]), 2);
    }
}
