//! The processes' PSS per cgroup, next to what the kernel charged the
//! cgroup, and the difference explained. Pure: a [`CgroupTree`] and a
//! [`Snapshot`] in, figures out.
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

use memscope_analysis::processes;
use memscope_model::Snapshot;
use serde::Serialize;

use super::layout::Version;
use super::tree::{Cgroup, CgroupTree};

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
                u.rss_bytes += row.rss_bytes.unwrap_or(0);
                if let Some(pss) = row.pss_bytes {
                    u.with_pss += 1;
                    u.pss_bytes += pss;
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
    let not_in_pss = current as i64 - usage.pss_bytes as i64;
    let file = mem.split_key("file").ok();
    let mapped = mem.split_key("file_mapped").ok();
    let page_cache_unmapped = match (file, mapped) {
        (Some(f), Some(m)) => Some(f.saturating_sub(m)),
        _ => None,
    };
    let kernel = mem.split_key("kernel").ok();
    let other = match (page_cache_unmapped, kernel) {
        (Some(c), Some(k)) => Some(not_in_pss - c as i64 - k as i64),
        _ => None,
    };
    Some(Difference {
        current_bytes: current,
        pss_bytes: usage.pss_bytes,
        not_in_pss_bytes: not_in_pss,
        page_cache_unmapped_bytes: page_cache_unmapped,
        kernel_bytes: kernel,
        other_bytes: other,
        processes_without_pss: usage.processes - usage.with_pss,
    })
}
