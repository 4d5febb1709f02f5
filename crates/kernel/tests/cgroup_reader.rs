//! The cgroupfs reader on the checked-in trees: each layout found from
//! mountinfo, each hierarchy walked parents first with children by name,
//! and a cgroup's files read with the error the kernel would give.

use std::path::{Path, PathBuf};

use memscope_kernel::cgroup::{CgroupReader, LayoutKind, MAX_DEPTH, Version};
use memscope_kernel::parse::cgroupfs::Limit;
use memscope_kernel::{KernelRoot, ReadError};

fn fixture(name: &str) -> KernelRoot {
    KernelRoot::at(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name))
}

#[test]
fn pure_v2_walk_is_parents_first_children_by_name() {
    let root = fixture("cgroups-v2-pure");
    let r = CgroupReader::detect(&root).unwrap();
    assert_eq!(r.layout().kind, LayoutKind::V2);
    let h = r.layout().controller("memory").unwrap();
    assert_eq!(
        r.cgroup_paths(h),
        [
            "/",
            "/init.scope",
            "/system.slice",
            "/system.slice/idle.service",
            "/system.slice/nginx.service",
            "/system.slice/sshd.service",
            "/user.slice",
            "/user.slice/user-1000.slice"
        ]
    );
    let nginx = r.dir(h, "/system.slice/nginx.service").unwrap();
    assert_eq!(nginx.kpath, "/sys/fs/cgroup/system.slice/nginx.service");
    assert!(!nginx.top);
    assert_eq!(nginx.read_u64("memory.current"), Ok(100 << 20));
    assert_eq!(nginx.read_limit("memory.max"), Ok(Limit::Value(128 << 20)));
    assert_eq!(nginx.read_procs(), Ok(vec![201, 202]));
    // The top keeps no usage file (CFTYPE_NOT_ON_ROOT).
    let top = r.dir(h, "/").unwrap();
    assert!(top.top);
    assert!(matches!(top.read_u64("memory.current"), Err(ReadError::NotReported { field: None, .. })));
    assert!(r.dir(h, "/no/such/cgroup").is_none());
}

#[test]
fn pure_v1_limits_parse_the_huge_number_as_unlimited() {
    let root = fixture("cgroups-v1-pure");
    let r = CgroupReader::detect(&root).unwrap();
    assert_eq!(r.layout().kind, LayoutKind::V1);
    let h = r.layout().controller("memory").unwrap();
    assert_eq!(h.version, Version::V1);
    let paths = r.cgroup_paths(h);
    assert_eq!(paths.first().map(String::as_str), Some("/"));
    let limits: Vec<Limit> =
        paths.iter().filter_map(|p| r.dir(h, p)?.read_limit("memory.limit_in_bytes").ok()).collect();
    assert!(limits.contains(&Limit::Max), "{limits:?}");
}

#[test]
fn a_container_walks_only_its_subtree_under_host_paths() {
    let root = fixture("cgroups-v2-container-subtree");
    let r = CgroupReader::detect(&root).unwrap();
    let h = r.layout().accounting().unwrap();
    let paths = r.cgroup_paths(h);
    assert!(!paths.is_empty());
    assert!(paths.iter().all(|p| p.starts_with(&h.root)), "{paths:?} outside {}", h.root);
    assert_eq!(r.dir(h, &h.root).unwrap().kpath, h.mount_point.trim_end_matches('/'));
}

/// A tree nested deeper than any real one: the walk stops at [`MAX_DEPTH`].
#[test]
fn the_walk_is_bounded_in_depth() {
    let dir = scratch("cgroup-reader-depth");
    std::fs::create_dir_all(dir.join("proc/self")).unwrap();
    std::fs::write(
        dir.join("proc/self/mountinfo"),
        "25 22 0:22 / /sys/fs/cgroup rw,relatime shared:4 - cgroup2 cgroup2 rw\n",
    )
    .unwrap();
    let mut deep = dir.join("sys/fs/cgroup");
    for _ in 0..MAX_DEPTH + 10 {
        deep.push("d");
    }
    std::fs::create_dir_all(&deep).unwrap();
    let root = KernelRoot::at(&dir);
    let r = CgroupReader::detect(&root).unwrap();
    let h = r.layout().v2().unwrap();
    let rels = r.walk(h);
    assert_eq!(rels.len(), MAX_DEPTH + 1);
    assert_eq!(rels.last().unwrap().matches('/').count(), MAX_DEPTH);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memscope-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
