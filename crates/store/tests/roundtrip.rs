//! One tester, many paths: every fixture tree and the live system, collected,
//! written to the store and read back, give the same model (as the store
//! keeps it, `as_stored`) and the same report JSON as the snapshot itself.

use std::path::{Path, PathBuf};

use memscope_analysis::report::{self, ReportOptions};
use memscope_kernel::KernelRoot;
use memscope_model::{CollectOptions, Snapshot, collect};
use memscope_store::{Meta, Parts, Store, as_stored};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// Every tree with a MANIFEST, also one level down (`fds/<case>`).
fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for e in std::fs::read_dir(fixtures()).unwrap().filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().join("MANIFEST").exists() {
            names.push(name);
        } else if e.path().is_dir() {
            for sub in std::fs::read_dir(e.path()).unwrap().filter_map(|e| e.ok()) {
                if sub.path().join("MANIFEST").exists() {
                    names.push(format!("{name}/{}", sub.file_name().to_string_lossy()));
                }
            }
        }
    }
    names.sort();
    assert!(names.len() >= 8, "expected the fixture trees, found {names:?}");
    names
}

fn report_json(snap: &Snapshot) -> serde_json::Value {
    match report::build(snap, &ReportOptions { top_processes: 100_000, ..ReportOptions::default() }) {
        Ok(r) => {
            let mut out = Vec::new();
            memscope_export::report::write_json(&mut out, &r).unwrap();
            serde_json::from_slice(&out).unwrap()
        }
        Err(e) => serde_json::Value::String(format!("no report: {e}")),
    }
}

fn json(snap: &Snapshot) -> serde_json::Value {
    serde_json::to_value(snap).unwrap()
}

/// Write, read back, compare: the model as stored, and the report.
fn check_round_trip(store: &mut Store, snap: &Snapshot, what: &str) {
    let id = store.write(snap, &Meta::default()).unwrap();
    let back = store.read(id).unwrap();
    let want = json(&as_stored(snap));
    let got = json(&back);
    if want != got {
        let (w, g) =
            (serde_json::to_string_pretty(&want).unwrap(), serde_json::to_string_pretty(&got).unwrap());
        let first = w.lines().zip(g.lines()).position(|(a, b)| a != b).unwrap_or(0);
        let ctx = |s: &str| s.lines().skip(first.saturating_sub(8)).take(16).collect::<Vec<_>>().join("\n");
        panic!(
            "{what}: the model read back differs from the one written:\nwant:\n{}\n\ngot:\n{}",
            ctx(&w),
            ctx(&g)
        );
    }
    assert_eq!(report_json(snap), report_json(&back), "{what}: the report differs");
    // The system part alone gives the same ledger.
    let sys = store.read_parts(id, Parts::System).unwrap();
    assert!(sys.processes.is_empty());
    assert_eq!(
        report_json(snap)["ledger"],
        report_json(&sys)["ledger"],
        "{what}: system-only ledger differs"
    );
}

/// How `record` collects: with descriptors and memory cgroups, and the
/// files of each cgroup's ledger split.
fn with_fds_and_cgroups() -> CollectOptions {
    CollectOptions { fds: true, cgroups: true, cgroup_ledger: true, ..CollectOptions::default() }
}

#[test]
fn every_fixture_tree_round_trips_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.db")).unwrap();
    let (mut file_nr, mut fd_errors, mut cgroups, mut cgroup_errors, mut not_captured) = (0, 0, 0, 0, 0);
    for name in fixture_names() {
        let root = KernelRoot::at(fixtures().join(&name));
        let snap = collect(&root, &CollectOptions::default());
        check_round_trip(&mut store, &snap, &name);
        // Again as `record` collects: what the tree lacks is stored as why.
        let snap = collect(&root, &with_fds_and_cgroups());
        let fs = snap.fd_system.as_ref().unwrap();
        if fs.file_nr.is_ok() {
            file_nr += 1
        } else {
            fd_errors += 1
        }
        match &snap.cgroups {
            Some(Ok(c)) if !c.cgroups.is_empty() => cgroups += 1,
            _ => cgroup_errors += 1,
        }
        // A captured tree without /proc/PID/fd keeps its processes, their
        // descriptors unavailable (not captured).
        let plain = collect(&root, &CollectOptions::default());
        assert_eq!(snap.processes.len(), plain.processes.len(), "{name}: no process lost");
        not_captured += snap
            .processes
            .iter()
            .filter(
                |p| matches!(&p.fds, Some(f) if f.count.as_ref().is_err_and(|e| e.kind() == "not_reported")),
            )
            .count();
        check_round_trip(&mut store, &snap, &format!("{name}, with descriptors and cgroups"));
    }
    // The fixtures cover figures read and figures unavailable.
    assert!(file_nr > 0 && fd_errors > 0, "file-nr read in {file_nr} trees, missing in {fd_errors}");
    assert!(cgroups > 0 && cgroup_errors > 0, "cgroups read in {cgroups} trees, missing in {cgroup_errors}");
    assert!(not_captured > 0, "processes of captured trees without descriptors are kept");
    assert_eq!(store.integrity_check().unwrap(), vec!["ok".to_string()]);
}

#[test]
fn live_snapshot_round_trips_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("live.db")).unwrap();
    let snap = collect(&KernelRoot::live(), &CollectOptions::default());
    check_round_trip(&mut store, &snap, "live");
    // A second snapshot reuses the interned strings and gets its own id;
    // this one with the processes' namespaces.
    let snap2 =
        collect(&KernelRoot::live(), &CollectOptions { namespaces: true, ..CollectOptions::default() });
    assert!(snap2.processes.iter().any(|p| matches!(&p.namespaces, Some(Ok(n)) if !n.ids.is_empty())));
    check_round_trip(&mut store, &snap2, "live, again");
    // And as `record` collects: descriptors, RLIMIT_NOFILE, file-nr, cgroups.
    let snap3 = collect(&KernelRoot::live(), &with_fds_and_cgroups());
    let fs = snap3.fd_system.as_ref().expect("file-nr collected");
    assert!(fs.file_nr.as_ref().is_ok_and(|f| f.allocated > 0 && f.max > 0), "{:?}", fs.file_nr);
    let me = snap3.processes.iter().find(|p| p.pid == std::process::id()).expect("this test is listed");
    let fds = me.fds.as_ref().expect("its descriptors are counted");
    assert!(fds.count.as_ref().is_ok_and(|n| *n >= 3), "{:?}", fds.count);
    assert!(fds.nofile.is_ok(), "{:?}", fds.nofile);
    let has_memory_cgroups = std::fs::read_to_string("/proc/self/mountinfo")
        .is_ok_and(|m| m.lines().any(|l| l.contains(" cgroup2 ") || l.contains(",memory")));
    if has_memory_cgroups {
        assert!(matches!(&snap3.cgroups, Some(Ok(_))), "{:?}", snap3.cgroups);
    }
    check_round_trip(&mut store, &snap3, "live, with descriptors and cgroups");
    assert_eq!(store.list().unwrap().len(), 3);
}

#[test]
fn in_memory_store_round_trips_too() {
    let mut store = Store::open_in_memory().unwrap();
    let snap =
        collect(&KernelRoot::at(fixtures().join("live-6.18-firecracker-2cpu")), &CollectOptions::default());
    check_round_trip(&mut store, &snap, "in memory");
}
