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

fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("MANIFEST").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
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

#[test]
fn every_fixture_tree_round_trips_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.db")).unwrap();
    for name in fixture_names() {
        let snap = collect(&KernelRoot::at(fixtures().join(&name)), &CollectOptions::default());
        check_round_trip(&mut store, &snap, &name);
    }
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
    assert_eq!(store.list().unwrap().len(), 2);
}

#[test]
fn in_memory_store_round_trips_too() {
    let mut store = Store::open_in_memory().unwrap();
    let snap =
        collect(&KernelRoot::at(fixtures().join("live-6.18-firecracker-2cpu")), &CollectOptions::default());
    check_round_trip(&mut store, &snap, "in memory");
}
