//! `ps --cgroup` and `cgroups --ledger` on the hand-made cgroup trees, with
//! known answers: the processes `ps --cgroup` lists are exactly those of the
//! cgroup's subtree as the tree's `cgroup.procs` files say, and the ledger
//! rows are the tree's memory.stat figures, adding up to the usage with the
//! signed remainder.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use memscope_testkit::{MIB, fixture_dir};
use serde_json::Value;

const KIB: u64 = 1024;
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
    // The node's pods: kubepods.slice holds both.
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
    // The top: every process.
    assert_eq!(ps_pids(f, "/"), expected(f, m, "/"));
    assert_eq!(ps_pids(f, "/"), BTreeSet::from([1, 401, 501]));
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
    // The listing says which cgroup it is of, and by which name it was asked.
    assert_eq!(
        doc["notes"][0],
        "Only the processes of memory cgroup /system.slice (`system.slice`) and its descendants."
    );
    let table = memscope(f, &["ps", "--cgroup", "/system.slice"]);
    assert!(
        String::from_utf8_lossy(&table.stdout)
            .contains("Only the processes of memory cgroup /system.slice and its descendants."),
        "{}",
        String::from_utf8_lossy(&table.stdout)
    );
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

/// A number file of the fixture's memory hierarchy, `None` when absent.
fn num(dir: &Path, file: &str) -> Option<u64> {
    std::fs::read_to_string(dir.join(file)).ok().map(|t| t.trim().parse().unwrap())
}

/// A key of the fixture's memory.stat, `None` when absent.
fn stat_key(dir: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join("memory.stat")).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().unwrap())
    })
}

/// `cgroups --ledger --json --all` of a fixture, each row checked against the
/// fixture's own files: every figure the kernel gives equals them, every
/// figure it does not is null with a reason, and the lines in the usage plus
/// the remainder are the usage exactly. Returns the rows by path.
fn ledger_rows(fixture: &str, memory_mount: &str) -> std::collections::BTreeMap<String, Value> {
    let doc = json(fixture, &["cgroups", "--ledger", "--all"]);
    assert_eq!(doc["schema"], "memscope.cgroups-ledger/1");
    let mount = fixture_dir(fixture).join(memory_mount.trim_start_matches('/'));
    let mut out = std::collections::BTreeMap::new();
    for row in doc["cgroups"].as_array().unwrap() {
        let path = row["path"].as_str().unwrap().to_string();
        let dir = mount.join(path.trim_start_matches('/'));
        let v1 = row["version"] == "v1";
        let s = |v2: &str, v1k: &str| stat_key(&dir, if v1 { v1k } else { v2 });
        let usage = if v1 { num(&dir, "memory.usage_in_bytes") } else { num(&dir, "memory.current") };
        let page_cache = match (s("file", "total_cache"), s("shmem", "total_shmem")) {
            (Some(f), Some(sh)) => Some(f - sh),
            _ => None,
        };
        let kernel = if v1 { num(&dir, "memory.kmem.usage_in_bytes") } else { s("kernel", "") };
        let sock = if v1 { num(&dir, "memory.kmem.tcp.usage_in_bytes") } else { s("sock", "") };
        let inactive = s("inactive_file", "total_inactive_file");
        let want = [
            ("usage_bytes", usage),
            ("anon_bytes", s("anon", "total_rss")),
            ("page_cache_bytes", page_cache),
            ("shmem_bytes", s("shmem", "total_shmem")),
            ("kernel_bytes", kernel),
            ("sock_bytes", sock),
            ("working_set_bytes", usage.zip(inactive).map(|(u, i)| u.saturating_sub(i))),
        ];
        for (key, want) in want {
            assert_eq!(row[key].as_u64(), want, "{fixture} {path} {key}");
            if want.is_none() {
                let why =
                    row["unavailable"][key].as_str().unwrap_or_else(|| panic!("{path} {key}: no reason"));
                assert!(!why.is_empty());
            }
        }
        assert_eq!(row["sock_in_usage"].as_bool(), Some(!v1), "{path}");
        assert_eq!(row["procs"].as_u64(), num_procs(&dir), "{path}");
        // lines + remainder = usage, exactly, wherever all are known.
        let lines: Vec<&str> = if v1 {
            vec!["anon_bytes", "page_cache_bytes", "shmem_bytes", "kernel_bytes"]
        } else {
            vec!["anon_bytes", "page_cache_bytes", "shmem_bytes", "kernel_bytes", "sock_bytes"]
        };
        let known: Option<Vec<u64>> = lines.iter().map(|k| row[*k].as_u64()).collect();
        match (known, usage) {
            (Some(parts), Some(u)) => {
                let r = row["remainder_bytes"].as_i64().unwrap_or_else(|| panic!("{path}: no remainder"));
                let sum: i128 = parts.iter().map(|&p| i128::from(p)).sum();
                assert_eq!(sum + i128::from(r), i128::from(u), "{fixture} {path}");
            }
            _ => assert!(row["remainder_bytes"].is_null(), "{path}: a remainder without its parts"),
        }
        out.insert(path, row.clone());
    }
    out
}

fn num_procs(dir: &Path) -> Option<u64> {
    std::fs::read_to_string(dir.join("cgroup.procs")).ok().map(|t| t.split_whitespace().count() as u64)
}

#[test]
fn ledger_rows_of_a_kubernetes_node_are_its_memory_stat() {
    let rows = ledger_rows("cgroups-v2-kubernetes-node", "/sys/fs/cgroup");
    let app = &rows[&format!("{POD}/{APP}")];
    let usage = 500 * MIB + 12 * KIB;
    assert_eq!(app["usage_bytes"].as_u64(), Some(usage));
    for (key, want) in [
        ("anon_bytes", 100 * MIB),
        ("page_cache_bytes", 250 * MIB),
        ("shmem_bytes", 50 * MIB),
        ("kernel_bytes", 40 * MIB),
        ("sock_bytes", 60 * MIB),
        ("working_set_bytes", usage - 200 * MIB),
    ] {
        assert_eq!(app[key].as_u64(), Some(want), "{key}");
    }
    assert_eq!(app["remainder_bytes"].as_i64(), Some(12 * KIB as i64));
    assert_eq!(app["version"], "v2");
    // The same figures as report --cgroup gives for that container.
    let report = json("cgroups-v2-kubernetes-node", &["report", "--cgroup", "fedcba98"]);
    for l in report["lines"].as_array().unwrap().iter().filter(|l| l["parent"].is_null()) {
        let key = format!("{}_bytes", l["key"].as_str().unwrap());
        assert_eq!(app[&key], l["bytes"], "{key}");
    }
    assert_eq!(app["remainder_bytes"], report["remainder_bytes"]);
    // The root: no memory.current, so no usage, remainder or working set.
    let top = &rows["/"];
    assert!(top["usage_bytes"].is_null());
    assert!(top["unavailable"]["usage_bytes"].as_str().unwrap().contains("memory.current"));
    assert!(top["remainder_bytes"].is_null());
}

#[test]
fn ledger_rows_of_a_v1_docker_host_keep_sockets_beside_the_usage() {
    let rows = ledger_rows("cgroups-v1-docker-host", "/sys/fs/cgroup/memory");
    let c = &rows[DOCKER];
    let usage = 208 * MIB - 8 * KIB;
    assert_eq!(c["usage_bytes"].as_u64(), Some(usage));
    for (key, want) in [
        ("anon_bytes", 80 * MIB),
        ("page_cache_bytes", 110 * MIB),
        ("shmem_bytes", 10 * MIB),
        ("kernel_bytes", 8 * MIB),
        ("sock_bytes", 0),
        ("working_set_bytes", usage - 90 * MIB),
    ] {
        assert_eq!(c[key].as_u64(), Some(want), "{key}");
    }
    assert_eq!(c["remainder_bytes"].as_i64(), Some(-8 * KIB as i64));
    assert_eq!(c["sock_in_usage"], false);
    assert_eq!(c["procs"].as_u64(), Some(1));
}

#[test]
fn ledger_rows_of_pure_trees_and_the_other_formats() {
    let rows = ledger_rows("cgroups-v2-pure", "/sys/fs/cgroup");
    assert!(rows.contains_key("/system.slice/idle.service"), "--all shows the idle service");
    let rows = ledger_rows("cgroups-v1-pure", "/sys/fs/cgroup/memory");
    assert_eq!(rows["/system.slice/mysql.service"]["usage_bytes"].as_u64(), Some(200 * MIB));
    // Without --all the idle service is hidden; --flat orders by usage.
    let doc = json("cgroups-v2-pure", &["cgroups", "--ledger", "--flat"]);
    let paths: Vec<&str> =
        doc["cgroups"].as_array().unwrap().iter().map(|c| c["path"].as_str().unwrap()).collect();
    assert!(!paths.contains(&"/system.slice/idle.service"), "{paths:?}");
    assert_eq!(paths[0], "/system.slice", "{paths:?}");
    // CSV: the same rows, the same figures, empty where unavailable.
    let out = memscope("cgroups-v2-pure", &["--csv", "cgroups", "--ledger", "--flat"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "path");
    let csv_paths: Vec<&str> = text.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(csv_paths, paths);
    for (line, row) in text.lines().skip(1).zip(doc["cgroups"].as_array().unwrap()) {
        for (col, cell) in header.iter().zip(line.split(',')) {
            if col.ends_with("_bytes") {
                assert_eq!(cell.parse::<i64>().ok(), row[*col].as_i64(), "{col} of {line}");
            }
        }
    }
    // The table: the columns and the notes.
    let out = memscope("cgroups-v1-docker-host", &["cgroups", "--ledger"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for want in
        ["cgroup memory ledgers at", "page cache", "remainder", "working set", "(0 B)", "outside the usage"]
    {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
    // --ledger reads no process: --no-pss with it is refused.
    let out = memscope("cgroups-v2-pure", &["cgroups", "--ledger", "--no-pss"]);
    assert_eq!(out.status.code(), Some(2));
}
