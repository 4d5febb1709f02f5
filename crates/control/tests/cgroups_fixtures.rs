//! `memscope run` requests planned against hand-made trees: validated
//! before any change, and placed in each controller's hierarchy.

use memscope_control::cgroup::transient::{Limits, SetupError, plan};
use memscope_kernel::KernelRoot;
use memscope_kernel::cgroup::Layout;

const MIB: u64 = 1 << 20;

fn fixture(name: &str) -> KernelRoot {
    KernelRoot::at(memscope_testkit::fixture_dir(name))
}

fn invalid(r: Result<memscope_control::cgroup::Plan, SetupError>) -> String {
    match r {
        Err(SetupError::Invalid(m)) => m,
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

/// Bad input is refused before anything is created (these trees are not
/// the live system, so a valid request is refused for that, last).
#[test]
fn run_requests_are_validated_before_any_change() {
    let root = fixture("cgroups-v2-pure");
    let layout = Layout::detect(&root).unwrap();
    let ok =
        Limits { memory_bytes: Some(64 * MIB), cpus: Some(vec![2, 3]), pids: Some(5), ..Limits::default() };
    assert!(matches!(plan(&root, &layout, "job", &ok), Err(SetupError::NotPermitted(_))));
    let m = invalid(plan(&root, &layout, "a/b", &ok));
    assert!(m.contains("not a valid cgroup name"), "{m}");
    let m = invalid(plan(&root, &layout, ".hidden", &ok));
    assert!(m.contains("not a valid cgroup name"), "{m}");
    let cpus9 = Limits { cpus: Some(vec![9]), ..Limits::default() };
    let m = invalid(plan(&root, &layout, "job", &cpus9));
    assert!(m.contains("CPU 9 does not exist or is offline (online: 0-3)"), "{m}");
    let mems1 = Limits { mems: Some(vec![1]), ..Limits::default() };
    let m = invalid(plan(&root, &layout, "job", &mems1));
    assert!(m.contains("memory node 1"), "{m}");
    let tiny = Limits { memory_bytes: Some(64 << 10), ..Limits::default() };
    let m = invalid(plan(&root, &layout, "job", &tiny));
    assert!(m.contains("below the smallest limit"), "{m}");
    for pids in [0, 5_000_000] {
        let l = Limits { pids: Some(pids), ..Limits::default() };
        let m = invalid(plan(&root, &layout, "job", &l));
        assert!(m.contains("the kernel accepts 1 to 4194304"), "{m}");
    }
    let empty = Limits { cpus: Some(vec![]), ..Limits::default() };
    assert!(invalid(plan(&root, &layout, "job", &empty)).contains("empty"));
}

#[test]
fn run_on_v1_needs_memory_with_swap_and_uses_each_controllers_hierarchy() {
    let root = fixture("cgroups-v1-pure");
    let layout = Layout::detect(&root).unwrap();
    let swap_only = Limits { swap_bytes: Some(MIB), ..Limits::default() };
    let m = invalid(plan(&root, &layout, "job", &swap_only));
    assert!(m.contains("--swap needs --memory"), "{m}");
    let cpus = Limits { cpus: Some(vec![7]), mems: Some(vec![1]), pids: Some(10), ..Limits::default() };
    // Valid on this machine, refused only because the tree is not live.
    assert!(matches!(plan(&root, &layout, "job", &cpus), Err(SetupError::NotPermitted(_))));
}
