//! The cgroup model read from hand-made trees of the three layouts a
//! machine can have: pure v2, pure v1 (controllers in separate
//! hierarchies) and a container that sees only its own v2 subtree. Each
//! figure is checked against the file it must come from, and the
//! arithmetic (PSS per cgroup, the difference, the binding limit) against
//! those figures.

use memscope_analysis::cgroups::{binding_limit, difference, process_usage, unavailable_reason};
use memscope_kernel::KernelRoot;
use memscope_kernel::cgroup::{Layout, LayoutKind, Version};
use memscope_kernel::parse::cgroupfs::Limit;
use memscope_model::cgroups::tree::{CgroupTree, Unavailable, read_tree};
use memscope_model::{CollectOptions, collect};

const MIB: u64 = 1 << 20;

fn fixture(name: &str) -> KernelRoot {
    KernelRoot::at(memscope_testkit::fixture_dir(name))
}

fn tree(root: &KernelRoot) -> CgroupTree {
    let layout = Layout::detect(root).expect("mountinfo");
    read_tree(root, &layout)
}

#[test]
fn pure_v2_layout_and_tree() {
    let root = fixture("cgroups-v2-pure");
    let t = tree(&root);
    assert_eq!(t.layout.kind, LayoutKind::V2);
    assert_eq!(t.layout.controller("memory").unwrap().mount_point, "/sys/fs/cgroup");
    let paths: Vec<&str> = t.cgroups.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
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
    let depths: Vec<usize> = t.cgroups.iter().map(|c| c.depth).collect();
    assert_eq!(depths, [0, 1, 1, 2, 2, 2, 1, 2]);
}

#[test]
fn pure_v2_service_at_its_limit_after_an_oom_kill() {
    let root = fixture("cgroups-v2-pure");
    let t = tree(&root);
    let nginx = &t.cgroups[t.find("/system.slice/nginx.service").unwrap()];
    assert_eq!(nginx.versions(), [Version::V2]);
    assert_eq!(nginx.procs, Ok(vec![201, 202]));
    let m = nginx.memory.as_ref().unwrap();
    assert_eq!(m.current_bytes, Ok(100 * MIB));
    assert_eq!(m.peak_bytes, Ok(124 * MIB));
    assert_eq!(m.limit, Ok(Limit::Value(128 * MIB)));
    assert_eq!(m.swap_bytes, Ok(0));
    assert_eq!(m.swap_limit, Ok(Limit::Max));
    assert_eq!(m.oom_events(), Ok(3));
    assert_eq!(m.oom_kills(), Ok(1));
    for (key, mib) in [("anon", 60), ("file", 30), ("kernel", 10), ("slab", 7), ("sock", 1), ("shmem", 4)] {
        assert_eq!(m.split_key(key), Ok(mib * MIB), "{key}");
    }
    let cs = nginx.cpuset.as_ref().unwrap();
    assert_eq!(cs.cpus, Ok(vec![2, 3]));
    assert_eq!(cs.mems, Ok(vec![0]));
    let p = nginx.pids.as_ref().unwrap();
    assert_eq!(p.current, Ok(2));
    assert_eq!(p.max, Ok(Limit::Value(64)));
}

#[test]
fn pure_v2_root_has_no_usage_files() {
    let root = fixture("cgroups-v2-pure");
    let t = tree(&root);
    let top = &t.cgroups[0];
    let m = top.memory.as_ref().unwrap();
    assert_eq!(m.current_bytes, Err(Unavailable::AtTop { file: "memory.current".into() }));
    assert_eq!(m.limit, Err(Unavailable::AtTop { file: "memory.max".into() }));
    assert!(unavailable_reason(m.current_bytes.as_ref().unwrap_err()).contains("top cgroup"));
    // memory.stat exists at the top: the split is there.
    assert_eq!(m.split_key("anon"), Ok(120 * MIB));
    assert!(top.pids.is_none());
}

#[test]
fn pure_v2_pss_per_cgroup_and_the_difference() {
    let root = fixture("cgroups-v2-pure");
    let t = tree(&root);
    let snap = collect(&root, &CollectOptions::default());
    let usage = process_usage(&t, &snap);
    let at = |p: &str| t.find(p).unwrap();
    let nginx = &usage[at("/system.slice/nginx.service")];
    assert_eq!((nginx.processes, nginx.with_pss, nginx.pss_bytes), (2, 2, 65 * MIB));
    assert_eq!(usage[at("/system.slice")].pss_bytes, 68 * MIB);
    assert_eq!(usage[at("/")].processes, 5);
    assert_eq!(usage[at("/")].pss_bytes, 77 * MIB);
    assert_eq!(usage[at("/system.slice/idle.service")].processes, 0);
    let d = difference(&t.cgroups[at("/system.slice/nginx.service")], nginx).unwrap();
    assert_eq!(d.current_bytes, 100 * MIB);
    assert_eq!(d.not_in_pss_bytes, 35 * MIB as i64);
    // file 30 − file_mapped 8, kernel 10, and 3 MiB left over.
    assert_eq!(d.page_cache_unmapped_bytes, Some(22 * MIB));
    assert_eq!(d.kernel_bytes, Some(10 * MIB));
    assert_eq!(d.other_bytes, Some(3 * MIB as i64));
    assert_eq!(d.processes_without_pss, 0);
    // No memory.current at the v2 top: no difference to explain.
    assert!(difference(&t.cgroups[0], &usage[0]).is_none());
}

#[test]
fn pure_v1_limits_swap_and_events() {
    let root = fixture("cgroups-v1-pure");
    let t = tree(&root);
    assert_eq!(t.layout.kind, LayoutKind::V1);
    assert_eq!(t.layout.controller("cpuacct").unwrap().controllers, ["cpu", "cpuacct"]);
    let mysql = &t.cgroups[t.find("/system.slice/mysql.service").unwrap()];
    assert_eq!(mysql.versions(), [Version::V1]);
    let m = mysql.memory.as_ref().unwrap();
    assert_eq!(m.current_bytes, Ok(200 * MIB));
    assert_eq!(m.peak_bytes, Ok(250 * MIB));
    assert_eq!(m.limit, Ok(Limit::Value(256 * MIB)));
    // memsw 220 MiB used of 512 MiB: swap is the part beyond memory.
    assert_eq!(m.swap_bytes, Ok(20 * MIB));
    assert_eq!(m.swap_limit, Ok(Limit::Value(256 * MIB)));
    assert_eq!(m.oom_kills(), Ok(2));
    assert!(matches!(m.oom_events(), Err(Unavailable::NotInVersion { version: Version::V1, .. })));
    // The hierarchical total_* keys, kernel memory from kmem.usage_in_bytes.
    assert_eq!(m.split_key("anon"), Ok(170 * MIB));
    assert_eq!(m.split_key("file"), Ok(18 * MIB));
    assert_eq!(m.split_key("file_mapped"), Ok(6 * MIB));
    assert_eq!(m.split_key("kernel"), Ok(12 * MIB));
    assert!(matches!(m.split_key("slab"), Err(Unavailable::NotInVersion { .. })));
    // cpuset and pids come from their own hierarchies.
    let cs = mysql.cpuset.as_ref().unwrap();
    assert_eq!(cs.cpus, Ok(vec![4, 5, 6, 7]));
    assert_eq!(cs.mems, Ok(vec![1]));
    let p = mysql.pids.as_ref().unwrap();
    assert_eq!((p.current.clone(), p.max.clone()), (Ok(37), Ok(Limit::Value(4096))));
}

#[test]
fn pure_v1_huge_number_is_unlimited() {
    let root = fixture("cgroups-v1-pure");
    let t = tree(&root);
    let user = &t.cgroups[t.find("/user.slice").unwrap()];
    let m = user.memory.as_ref().unwrap();
    assert_eq!(m.limit, Ok(Limit::Max));
    assert_eq!(m.swap_limit, Ok(Limit::Max));
    // /user.slice is not in the cpuset hierarchy.
    assert!(user.cpuset.is_none());
    assert_eq!(user.pids.as_ref().unwrap().max, Ok(Limit::Max));
}

#[test]
fn pure_v1_pss_follows_the_memory_hierarchy() {
    let root = fixture("cgroups-v1-pure");
    let t = tree(&root);
    let snap = collect(&root, &CollectOptions::default());
    let usage = process_usage(&t, &snap);
    let i = t.find("/system.slice/mysql.service").unwrap();
    assert_eq!(usage[i].pss_bytes, 180 * MIB);
    let d = difference(&t.cgroups[i], &usage[i]).unwrap();
    assert_eq!(d.not_in_pss_bytes, 20 * MIB as i64);
    assert_eq!(d.page_cache_unmapped_bytes, Some(12 * MIB));
    assert_eq!(d.kernel_bytes, Some(12 * MIB));
    assert_eq!(d.other_bytes, Some(-4 * MIB as i64));
    assert_eq!(usage[0].pss_bytes, 191 * MIB);
}

#[test]
fn container_sees_only_its_subtree_with_host_paths() {
    let root = fixture("cgroups-v2-container-subtree");
    let t = tree(&root);
    assert_eq!(t.layout.visible_root(), Some("/docker/3f2a9c"));
    let paths: Vec<&str> = t.cgroups.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["/docker/3f2a9c", "/docker/3f2a9c/app"]);
    assert_eq!(t.cgroups[0].depth, 0);
    assert_eq!(t.cgroups[1].depth, 1);
    // The mounted top is a real cgroup of the host: it has memory.current.
    assert_eq!(t.cgroups[0].memory.as_ref().unwrap().current_bytes, Ok(64 * MIB));
    assert_eq!(t.cgroups[0].memory.as_ref().unwrap().limit, Ok(Limit::Value(512 * MIB)));
    let snap = collect(&root, &CollectOptions::default());
    let usage = process_usage(&t, &snap);
    assert_eq!((usage[1].processes, usage[1].pss_bytes), (2, 42 * MIB));
    assert_eq!(usage[0].pss_bytes, 42 * MIB);
}

#[test]
fn binding_limit_is_the_tightest_up_the_path() {
    // A container's `app` has no limit of its own: the container's 512 MiB binds it.
    let t = tree(&fixture("cgroups-v2-container-subtree"));
    assert_eq!(binding_limit(&t, 1), Some((512 * MIB, 0)));
    assert_eq!(binding_limit(&t, 0), Some((512 * MIB, 0)));
    // nginx.service's own 128 MiB binds it; its unlimited siblings have none.
    let t = tree(&fixture("cgroups-v2-pure"));
    let nginx = t.find("/system.slice/nginx.service").unwrap();
    assert_eq!(binding_limit(&t, nginx), Some((128 * MIB, nginx)));
    assert_eq!(binding_limit(&t, t.find("/system.slice/sshd.service").unwrap()), None);
    // v1: the top's huge "unlimited" number is no limit; mysql's 256 MiB is.
    let t = tree(&fixture("cgroups-v1-pure"));
    let mysql = t.find("/system.slice/mysql.service").unwrap();
    assert_eq!(binding_limit(&t, mysql), Some((256 * MIB, mysql)));
    assert_eq!(binding_limit(&t, t.find("/system.slice").unwrap()), None);
}
