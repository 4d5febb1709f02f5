//! The memory cgroups a snapshot keeps ([`CgroupSample`]): each one's
//! current charge, hard limit and OOM kills, for `record`, `leaks`, `serve`
//! and `top`.
//!
//! Three small files per cgroup (v2 `memory.current`, `memory.max`,
//! `memory.events`; v1 `memory.usage_in_bytes`, `memory.limit_in_bytes`,
//! `memory.oom_control`), and when asked (`record`) those of its ledger's
//! split ([`super::LedgerFiles`]: `memory.stat`, reduced to the keys the
//! split reads; on v1 also the kmem and kmem.tcp usages), read for every memory cgroup when there are at
//! most [`READ_ALL_UP_TO`], else only for the cgroups the snapshot's
//! processes are in and their ancestors: a limit set on a parent
//! (`system.slice`, a container) binds everything below it, so the
//! ancestors are what time-to-exhaustion needs.
//!
//! The top of the real hierarchy is left out: the kernel keeps no limit
//! there (v2 has no `memory.current` at the root; v1's root usage is the
//! whole machine, which the ledger already shows). When memscope sees only a
//! subtree (a container that mounted its own cgroup), that subtree's top is a
//! real cgroup with the container's limit, and is read.

use std::collections::BTreeSet;

use memscope_kernel::cgroup::{CgroupDir, CgroupReader, Hierarchy, Version};
use memscope_kernel::{KernelRoot, ReadError, paths};

use super::tree::components;
use super::{CgroupMemory, CgroupSample, CgroupVersion, LedgerFiles};
use crate::{ProcessSample, Sample};

/// Read every memory cgroup when there are at most this many; else only
/// the processes' cgroups and their ancestors.
pub const READ_ALL_UP_TO: usize = 200;

/// Read the memory cgroups (all of them when at most `all_up_to`, else
/// those of `processes` and their ancestors), parents first; with `ledger`,
/// each one's [`LedgerFiles`] too.
pub fn sample_memory(
    root: &KernelRoot,
    processes: &[ProcessSample],
    all_up_to: usize,
    ledger: bool,
) -> Sample<CgroupSample> {
    let reader = CgroupReader::detect(root)?;
    let Some(h) = reader.layout().controller("memory") else {
        return Err(ReadError::missing_field(
            paths::MOUNTINFO,
            "a cgroup hierarchy with the memory controller",
        ));
    };
    let rels = reader.walk(h);
    // The real root has no limit; a visible subtree's top is a real cgroup.
    let keep_top = !h.root.trim_end_matches('/').is_empty();
    let all: BTreeSet<Vec<String>> =
        rels.iter().filter(|r| keep_top || !r.is_empty()).map(|r| components(&h.path_of(r))).collect();
    let total = all.len();
    let chosen: BTreeSet<Vec<String>> = if total <= all_up_to {
        all
    } else {
        let top = components(&h.root).len();
        let mut set = BTreeSet::new();
        for p in processes {
            let Some(path) = memory_path(p, h) else { continue };
            let comps = components(&path);
            for depth in (top + usize::from(!keep_top)).max(1)..=comps.len() {
                let prefix = comps[..depth].to_vec();
                if all.contains(&prefix) {
                    set.insert(prefix);
                }
            }
        }
        set
    };
    let version = match h.version {
        Version::V1 => CgroupVersion::V1,
        Version::V2 => CgroupVersion::V2,
    };
    let cgroups = chosen
        .into_iter()
        .filter_map(|comps| {
            let path = if comps.is_empty() { "/".to_string() } else { format!("/{}", comps.join("/")) };
            read_memory(&reader, h, &path, version, ledger)
        })
        .collect();
    Ok(CgroupSample { cgroups, total })
}

/// The process's cgroup in the memory hierarchy `h` (`/proc/PID/cgroup`).
fn memory_path(p: &ProcessSample, h: &Hierarchy) -> Option<String> {
    let c = p.cgroup.as_ref().ok()?;
    let m = c.memberships.iter().find(|m| match h.version {
        Version::V2 => m.is_v2(),
        Version::V1 => m.controllers.iter().any(|c| c == "memory"),
    })?;
    Some(m.path.clone())
}

/// One cgroup's three figures; `None` when it is gone or (v2) does not have
/// the memory controller enabled.
fn read_memory(
    reader: &CgroupReader,
    h: &Hierarchy,
    path: &str,
    version: CgroupVersion,
    ledger: bool,
) -> Option<CgroupMemory> {
    let dir = reader.dir(h, path)?;
    let (current, limit, events) = match version {
        CgroupVersion::V2 => ("memory.current", "memory.max", "memory.events"),
        CgroupVersion::V1 => ("memory.usage_in_bytes", "memory.limit_in_bytes", "memory.oom_control"),
    };
    let current_bytes = dir.read_u64(current);
    if let Err(ReadError::NotReported { field: None, .. }) = &current_bytes {
        // Removed since the walk, or a v2 cgroup without the memory controller.
        return None;
    }
    let limit = dir.read_limit(limit);
    let oom_kills = dir.read_keyed(events).and_then(|e| {
        e.get("oom_kill").ok_or_else(|| ReadError::missing_field(&dir.file(events), "oom_kill"))
    });
    let ledger = ledger.then(|| read_ledger_files(&dir, version));
    Some(CgroupMemory { path: path.to_string(), version, current_bytes, limit, oom_kills, ledger })
}

/// The files of the ledger's split: `memory.stat` (its ledger keys) and, on
/// v1, the kernel and TCP counters, which its `memory.stat` lacks
/// (Documentation/admin-guide/cgroup-v1/memory.rst §2.7).
fn read_ledger_files(dir: &CgroupDir, version: CgroupVersion) -> LedgerFiles {
    let stat = dir.read_keyed("memory.stat").map(|s| LedgerFiles::keep_ledger_keys(s, version));
    // Absent files (a kernel without v1 kmem accounting) are left out.
    let present = |r: Result<u64, ReadError>| match r {
        Err(ReadError::NotReported { field: None, .. }) => None,
        r => Some(r),
    };
    let (kmem_bytes, kmem_tcp_bytes) = match version {
        CgroupVersion::V2 => (None, None),
        CgroupVersion::V1 => (
            present(dir.read_u64("memory.kmem.usage_in_bytes")),
            present(dir.read_u64("memory.kmem.tcp.usage_in_bytes")),
        ),
    };
    LedgerFiles { stat, kmem_bytes, kmem_tcp_bytes }
}

#[cfg(test)]
mod tests {
    use memscope_kernel::parse::cgroupfs::Limit;

    use super::*;

    /// A hybrid tree: memory on v1 with a limited parent and two children,
    /// one process in each child.
    fn tree() -> (tempfile::TempDir, KernelRoot) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let w = |p: &str, t: &str| {
            let p = d.join(p.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        };
        w(
            "/proc/self/mountinfo",
            "30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory\n\
             31 25 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw\n",
        );
        w("/sys/fs/cgroup/unified/cgroup.controllers", "\n");
        let m = "/sys/fs/cgroup/memory";
        w(&format!("{m}/memory.usage_in_bytes"), "999999999\n");
        w(&format!("{m}/memory.limit_in_bytes"), "9223372036854771712\n");
        for (cg, usage, limit, kills) in [
            ("/app", 300 << 20, 512u64 << 20, 2),
            ("/app/web", 200 << 20, 9223372036854771712, 0),
            ("/app/db", 100 << 20, 9223372036854771712, 1),
            ("/idle", 0, 9223372036854771712, 0),
        ] {
            w(&format!("{m}{cg}/memory.usage_in_bytes"), &format!("{usage}\n"));
            w(&format!("{m}{cg}/memory.limit_in_bytes"), &format!("{limit}\n"));
            w(
                &format!("{m}{cg}/memory.oom_control"),
                &format!("oom_kill_disable 0\nunder_oom 0\noom_kill {kills}\n"),
            );
        }
        let root = KernelRoot::at(d);
        (dir, root)
    }

    fn process(pid: u32, memory_path: &str) -> ProcessSample {
        use memscope_kernel::parse::pid::cgroup::ProcCgroup;
        ProcessSample {
            pid,
            stat: Err(ReadError::Gone { path: String::new() }),
            status: Err(ReadError::Gone { path: String::new() }),
            rollup: crate::Rollup::NotRequested,
            cgroup: Ok(ProcCgroup::parse(&format!("4:memory:{memory_path}\n0::/\n")).into()),
            cmdline: Ok(Vec::new()),
            namespaces: None,
            fds: None,
            pss_age_ms: None,
            exe: None,
        }
    }

    #[test]
    fn few_cgroups_are_all_read_parents_first() {
        let (_d, root) = tree();
        let s = sample_memory(&root, &[], 10, false).unwrap();
        assert_eq!(s.total, 4);
        let paths: Vec<&str> = s.cgroups.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["/app", "/app/db", "/app/web", "/idle"]);
        let app = s.get("/app").unwrap();
        assert_eq!(app.version, CgroupVersion::V1);
        assert_eq!(app.current_bytes, Ok(300 << 20));
        assert_eq!(app.limit, Ok(Limit::Value(512 << 20)));
        assert_eq!(app.oom_kills, Ok(2));
        assert_eq!(s.get("/app/web").unwrap().limit, Ok(Limit::Max));
        // The ledger files only when asked for.
        assert!(s.cgroups.iter().all(|c| c.ledger.is_none()));
    }

    #[test]
    fn the_ledger_files_keep_the_splits_keys_and_the_kmem_counters() {
        let (d, root) = tree();
        let m = d.path().join("sys/fs/cgroup/memory/app");
        std::fs::write(
            m.join("memory.stat"),
            "cache 1\nrss 2\nshmem 0\npgfault 99\ntotal_rss 314572800\ntotal_cache 4096\ntotal_shmem 0\n",
        )
        .unwrap();
        std::fs::write(m.join("memory.kmem.usage_in_bytes"), "8192\n").unwrap();
        let s = sample_memory(&root, &[], 10, true).unwrap();
        let files = s.get("/app").unwrap().ledger.clone().unwrap();
        let stat = files.stat.unwrap();
        let keys: Vec<&str> = stat.counters.keys().map(String::as_str).collect();
        assert_eq!(keys, ["total_cache", "total_rss", "total_shmem"]);
        assert_eq!(files.kmem_bytes, Some(Ok(8192)));
        // No kmem.tcp file on this kernel: left out, not an error.
        assert_eq!(files.kmem_tcp_bytes, None);
        // No memory.stat: kept as why.
        let web = s.get("/app/web").unwrap().ledger.clone().unwrap();
        assert_eq!(web.stat.unwrap_err().kind(), "not_reported");
        assert_eq!(web.kmem_bytes, None);
    }

    #[test]
    fn many_cgroups_are_bounded_to_the_processes_and_their_ancestors() {
        let (_d, root) = tree();
        let s = sample_memory(&root, &[process(7, "/app/web")], 3, false).unwrap();
        assert_eq!(s.total, 4);
        let paths: Vec<&str> = s.cgroups.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["/app", "/app/web"]);
    }

    #[test]
    fn without_a_memory_controller_the_sample_says_why() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/self")).unwrap();
        std::fs::write(dir.path().join("proc/self/mountinfo"), "").unwrap();
        let e = sample_memory(&KernelRoot::at(dir.path()), &[], 10, false).unwrap_err();
        assert_eq!(e.kind(), "not_reported");
    }
}
