//! `ps --cgroup` and `cgroups --ledger` on the hand-made cgroup trees, with
//! known answers: the processes `ps --cgroup` lists are exactly those of the
//! cgroup's subtree as the tree's `cgroup.procs` files say, and the ledger
//! rows are the tree's memory.stat figures, adding up to the usage with the
//! signed remainder.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use memscope_testkit::fixture_dir;
use serde_json::Value;

const POD_UID: &str = "5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
const POD: &str = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b.slice";
const APP: &str = "cri-containerd-fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210.scope";
const PAUSE: &str = "cri-containerd-0123abcd0123abcd0123abcd0123abcd0123abcd0123abcd0123abcd0123abcd.scope";
const DOCKER: &str = "/docker/c0ffee0123456789c0ffee0123456789c0ffee0123456789c0ffee0123456789";

fn memscope(fixture: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memscope"))
        .env_remove("COLUMNS")
        .arg("--root")
        .arg(fixture_dir(fixture))
        .arg("--no-color")
        .args(args)
        .output()
        .expect("run memscope")
}

fn json(fixture: &str, args: &[&str]) -> Value {
    let out = memscope(fixture, &[&["--json"], args].concat());
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The pids of `ps --cgroup SPEC`.
fn ps_pids(fixture: &str, spec: &str) -> BTreeSet<u32> {
    let doc = json(fixture, &["ps", "--cgroup", spec]);
    assert_eq!(doc["schema"], "memscope.ps/1");
    doc["processes"].as_array().unwrap().iter().map(|p| p["pid"].as_u64().unwrap() as u32).collect()
}

/// Every pid of `cgroup.procs` in the memory hierarchy directory `dir` and below.
fn procs_below(dir: &Path) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    let text = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    out.extend(text.split_whitespace().map(|p| p.parse::<u32>().unwrap()));
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(procs_below(&e.path()));
        }
    }
    out
}

/// The subtree's pids as the fixture's cgroup.procs files say.
fn expected(fixture: &str, memory_mount: &str, path: &str) -> BTreeSet<u32> {
    let dir =
        fixture_dir(fixture).join(memory_mount.trim_start_matches('/')).join(path.trim_start_matches('/'));
    procs_below(&dir)
}

#[test]
fn ps_cgroup_lists_exactly_the_subtree_of_a_kubernetes_pod_and_of_one_container() {
    let f = "cgroups-v2-kubernetes-node";
    let m = "/sys/fs/cgroup";
    let pod = ps_pids(f, POD_UID);
    assert_eq!(pod, expected(f, m, POD));
    assert_eq!(pod, BTreeSet::from([4100, 4242]));
    let app = ps_pids(f, "fedcba98");
    assert_eq!(app, expected(f, m, &format!("{POD}/{APP}")));
    assert_eq!(app, BTreeSet::from([4242]));
    assert_eq!(ps_pids(f, &format!("{POD}/{PAUSE}")), BTreeSet::from([4100]));
    // The whole node: kubepods.slice holds both; the top holds every process.
    assert_eq!(ps_pids(f, "kubepods.slice"), expected(f, m, "/kubepods.slice"));
}

#[test]
fn ps_cgroup_on_v1_uses_the_memory_controllers_line() {
    let f = "cgroups-v1-docker-host";
    let m = "/sys/fs/cgroup/memory";
    assert_eq!(ps_pids(f, "c0ffee01"), expected(f, m, DOCKER));
    assert_eq!(ps_pids(f, "/docker"), BTreeSet::from([5151]));
    let f = "cgroups-v1-pure";
    // pid 501 is in the cpuset top but in /user.slice of the memory hierarchy.
    assert_eq!(ps_pids(f, "mysql.service"), BTreeSet::from([401]));
    assert_eq!(ps_pids(f, "/user.slice"), expected(f, m, "/user.slice"));
    assert_eq!(ps_pids(f, "/user.slice"), BTreeSet::from([501]));
    assert_eq!(ps_pids(f, "/system.slice"), expected(f, m, "/system.slice"));
}

#[test]
fn ps_cgroup_on_pure_v2_takes_a_slice_with_its_services() {
    let f = "cgroups-v2-pure";
    let m = "/sys/fs/cgroup";
    let slice = ps_pids(f, "system.slice");
    assert_eq!(slice, expected(f, m, "/system.slice"));
    assert_eq!(slice, BTreeSet::from([150, 201, 202]));
    assert_eq!(ps_pids(f, "nginx.service"), BTreeSet::from([201, 202]));
    // A cgroup without processes lists none, and says so with exit 0.
    assert_eq!(ps_pids(f, "idle.service"), BTreeSet::new());
    // With another filter: both apply.
    let doc = json(f, &["ps", "--cgroup", "system.slice", "nginx"]);
    let pids: BTreeSet<u64> =
        doc["processes"].as_array().unwrap().iter().map(|p| p["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids, BTreeSet::from([201, 202]));
}

fn assert_bad_spec(fixture: &str, args: &[&str], want: &str) {
    let out = memscope(fixture, args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    assert!(out.stdout.is_empty(), "{args:?} printed {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(want), "{args:?}: {err}");
}

#[test]
fn bad_specs_exit_2_in_one_line_the_same_for_ps_and_report() {
    let f = "cgroups-v2-kubernetes-node";
    for cmd in [&["ps", "--cgroup"][..], &["report", "--cgroup"]] {
        assert_bad_spec(
            f,
            &[cmd, &["/no/such/cgroup"]].concat(),
            "no memory cgroup matches `/no/such/cgroup`",
        );
        assert_bad_spec(f, &[cmd, &["sshd.service"]].concat(), "no memory cgroup matches `sshd.service`");
    }
    let f = "cgroups-v2-pure";
    for cmd in [&["ps", "--cgroup"][..], &["report", "--cgroup"]] {
        assert_bad_spec(f, &[cmd, &[""]].concat(), "no memory cgroup matches ``");
    }
    // A second container whose id starts like the first: the short prefix
    // names both.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("two-containers");
    copy_tree(&fixture_dir("cgroups-v1-docker-host"), &root);
    let memory = root.join("sys/fs/cgroup/memory");
    let twin = "/docker/c0ffee01ffffffffc0ffee0123456789c0ffee0123456789c0ffee0123456789";
    copy_tree(&memory.join(DOCKER.trim_start_matches('/')), &memory.join(twin.trim_start_matches('/')));
    std::fs::write(memory.join(twin.trim_start_matches('/')).join("cgroup.procs"), "").unwrap();
    let root = root.to_str().unwrap();
    for cmd in [&["ps", "--cgroup"][..], &["report", "--cgroup"]] {
        let args = [&["--root", root], cmd, &["c0ffee01"]].concat();
        let out = Command::new(env!("CARGO_BIN_EXE_memscope")).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("`c0ffee01` matches several cgroups: "), "{err}");
        assert!(err.contains(DOCKER) && err.contains(twin), "{err}");
        // The longer prefix names one.
        let args = [&["--root", root, "--json"], cmd, &["c0ffee0123"]].concat();
        let out = Command::new(env!("CARGO_BIN_EXE_memscope")).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let ty = e.file_type().unwrap();
        let dest = to.join(e.file_name());
        if ty.is_dir() {
            copy_tree(&e.path(), &dest);
        } else if ty.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), dest).unwrap();
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}
