//! Known answers of incremental PSS on the running kernel: a process that
//! grows, one that maps a file another already maps (both PSS change), one
//! that exits, and one the collection does not follow (a filter leaves it
//! out) mapping the same file and exiting again: the followed mappers' PSS
//! moves although neither their counters nor anything they read did. At
//! every snapshot, the incremental figures equal a full read
//! taken right after within 1% of the total PSS, and the processes that did
//! not change were carried, not read.
//!
//! The scan is limited to the workloads' processes, so that the rest of the
//! machine (builds come and go) neither moves the totals between the two
//! reads nor dilutes the 1%.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use memscope_kernel::KernelRoot;
use memscope_model::{CollectOptions, IncrementalPss, ProcessFilter, ProcessMode, collect_processes};
use memscope_testkit::{MIB, Workload, system_lock};

/// pid → (PSS bytes, age of the figure).
type Figures = BTreeMap<u32, (u64, Option<u64>)>;

/// The file both mappers map: large against the grower's 1 MiB steps, one
/// of which may land between the two reads of a check.
const FILE_MIB: u64 = 256;

fn figures(root: &KernelRoot, opts: &CollectOptions) -> (Figures, usize) {
    let snap = collect_processes(root, opts);
    let figs = snap
        .processes
        .iter()
        .map(|p| (p.pid, (p.rollup().and_then(|r| r.pss()).expect("PSS read or carried"), p.pss_age_ms)))
        .collect();
    (figs, snap.scan.rollup_carried)
}

/// One incremental snapshot and a full read right after: the same
/// processes, each figure and the total within 1% of the full total.
fn check(root: &KernelRoot, inc: &CollectOptions, step: &str) -> (Figures, usize) {
    let (got, carried) = figures(root, inc);
    // The same scan (pids, filter), every rollup read.
    let full = CollectOptions { incremental: None, ..inc.clone() };
    let (want, _) = figures(root, &full);
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{step}: processes");
    let total: u64 = want.values().map(|v| v.0).sum();
    let got_total: u64 = got.values().map(|v| v.0).sum();
    let tolerance = total / 100;
    assert!(
        got_total.abs_diff(total) <= tolerance,
        "{step}: total PSS {got_total} against a full read's {total}"
    );
    for (pid, (pss, age)) in &got {
        let full_pss = want[pid].0;
        assert!(
            pss.abs_diff(full_pss) <= tolerance,
            "{step}: pid {pid} PSS {pss} (age {age:?}) against a full read's {full_pss} (total {total})"
        );
    }
    (got, carried)
}

#[test]
fn incremental_pss_equals_a_full_read_at_every_snapshot() {
    let _lock = system_lock();
    let root = KernelRoot::live();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("shared-file");
    {
        let mut f = std::fs::File::create(&path).expect("create file");
        let chunk = vec![0x5au8; MIB as usize];
        for _ in 0..FILE_MIB {
            f.write_all(&chunk).expect("write file");
        }
        f.sync_all().expect("sync");
    }
    let file = path.to_str().expect("UTF-8 path");
    let first = Workload::spawn(&["mapfile", "--file", file]);
    let grower = Workload::spawn(&["grow", "--mib-per-sec", "1"]);
    let exiting = Workload::spawn(&["touch", "--private", "32"]);
    let idle = Workload::spawn(&["touch", "--private", "8"]);
    let mut pids = vec![first.pid(), grower.pid(), exiting.pid(), idle.pid()];
    let inc = |pids: &[u32], state: &std::sync::Arc<IncrementalPss>| CollectOptions {
        processes: ProcessMode::Full,
        pids: Some(pids.to_vec()),
        incremental: Some(state.clone()),
        ..CollectOptions::default()
    };
    // Scans `pids` but follows only those not in `outside`.
    let filtered = |pids: &[u32], outside: u32, state: &std::sync::Arc<IncrementalPss>| CollectOptions {
        filter: Some(ProcessFilter::new(move |p| p.pid != outside)),
        ..inc(pids, state)
    };
    let state = IncrementalPss::new();

    // 1. Everything is new: all read.
    let (got, carried) = check(&root, &inc(&pids, &state), "first");
    assert_eq!(carried, 0);
    assert!(got[&first.pid()].0 >= (FILE_MIB - 4) * MIB, "the whole file: {:?}", got[&first.pid()]);

    // 2. Only the grower moved: the others are carried, with their age.
    std::thread::sleep(Duration::from_millis(1200));
    let (got, carried) = check(&root, &inc(&pids, &state), "grown");
    assert_eq!(got[&grower.pid()].1, None, "the grower is read again");
    for pid in [first.pid(), idle.pid(), exiting.pid()] {
        let age = got[&pid].1.expect("carried");
        assert!(age >= 1000, "pid {pid}: age {age} ms");
    }
    assert_eq!(carried, 3);

    // 3. A second process maps the same file: the first's PSS halves
    // although its own counters did not move.
    let second = Workload::spawn(&["mapfile", "--file", file]);
    pids.push(second.pid());
    let (got, _) = check(&root, &inc(&pids, &state), "second mapper");
    let (a, b) = (got[&first.pid()].0, got[&second.pid()].0);
    let half = FILE_MIB / 2 * MIB;
    assert!(a < half + 8 * MIB && b >= half - 4 * MIB, "the file's PSS is shared: first {a}, second {b}");

    // 4. One exits.
    let gone = exiting.pid();
    drop(exiting);
    pids.retain(|&p| p != gone);
    let (got, _) = check(&root, &inc(&pids, &state), "exit");
    assert!(!got.contains_key(&gone));

    // 5. Steady again: the unchanged processes are carried.
    let (got, carried) = check(&root, &inc(&pids, &state), "steady");
    assert!(carried >= 2, "carried {carried}: {got:?}");
    assert!(got[&idle.pid()].1.is_some(), "the idle process is carried");

    // 6. A process the collection does not follow maps the file too: the
    // followed mappers lose a third of it each, and only the outsider's
    // counters (read for the filter, its rollup never) say so.
    let outsider = Workload::spawn(&["mapfile", "--file", file]);
    let mut scanned = pids.clone();
    scanned.push(outsider.pid());
    let (got, _) = check(&root, &filtered(&scanned, outsider.pid(), &state), "outsider maps");
    assert!(!got.contains_key(&outsider.pid()), "the outsider is filtered out");
    let third = FILE_MIB / 3 * MIB;
    let a = got[&first.pid()].0;
    assert!(a < third + 8 * MIB, "the file's PSS is shared three ways: first {a}");

    // 7. Steady, then the outsider exits: the followed mappers gain again.
    let (_, carried) = check(&root, &filtered(&scanned, outsider.pid(), &state), "outsider steady");
    assert!(carried >= 2, "carried {carried}");
    let outsider_pid = outsider.pid();
    drop(outsider);
    let (got, _) = check(&root, &filtered(&scanned, outsider_pid, &state), "outsider exits");
    let a = got[&first.pid()].0;
    assert!(a >= half - 4 * MIB, "the file's PSS is shared two ways again: first {a}");
}
