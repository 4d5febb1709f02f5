//! The store's promises: migrations in place, retention by age and size,
//! a full disk refused cleanly, and a reader beside a writer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use memscope_kernel::KernelRoot;
use memscope_model::{CollectCache, CollectOptions, Snapshot, collect};
use memscope_store::{Meta, Retention, SCHEMA_VERSION, Store, StoreError, as_stored};

/// The fixture as `record` collects it: with a cache, which flags every
/// slab cache reclaimable or not (a one-shot scan flags only the caches
/// holding slabs), as every version before did.
fn fixture_snapshot() -> Snapshot {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/live-6.18-firecracker-2cpu");
    collect(&KernelRoot::at(dir), &CollectOptions { cache: Some(CollectCache::new()), ..Default::default() })
}

fn json(s: &Snapshot) -> serde_json::Value {
    serde_json::to_value(s).unwrap()
}

/// The paths where two JSON documents differ (at most a few).
fn differences(a: &serde_json::Value, b: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    if out.len() >= 8 || a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let absent = Value::String("(absent)".into());
                let (p, q) = (x.get(k).unwrap_or(&absent), y.get(k).unwrap_or(&absent));
                differences(p, q, &format!("{at}.{k}"), out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(p, q, &format!("{at}[{i}]"), out);
            }
        }
        _ => out.push(format!("{at}: {} != {}", a, b)),
    }
}

/// [`assert_same`] for a snapshot of a database kept from an older version:
/// collected from the same tree then, so the same but for how long the
/// collection took (and which process's rollup took longest).
fn assert_same_but_timing(got: &Snapshot, want: &Snapshot) {
    let mut w = want.clone();
    w.scan.elapsed_usec = got.scan.elapsed_usec;
    w.scan.rollup_phase_usec = got.scan.rollup_phase_usec;
    w.scan.rollup_total_usec = got.scan.rollup_total_usec;
    w.scan.worst_rollup_usec = got.scan.worst_rollup_usec;
    w.scan.worst_rollup_pid = got.scan.worst_rollup_pid;
    assert_same(got, &w);
}

/// `got` is `want`, as JSON; else the paths where they differ.
fn assert_same(got: &Snapshot, want: &Snapshot) {
    let mut out = Vec::new();
    differences(&json(got), &json(want), "$", &mut out);
    assert!(out.is_empty(), "the snapshots differ:\n{}", out.join("\n"));
}

fn db(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("m.db")
}

/// A database that a memscope of schema version `v` wrote, copied into
/// `dir` (tests/store/schema-V.db.gz: the snapshot each test below names,
/// written by that version's own code and kept as it wrote it).
fn old_db(dir: &tempfile::TempDir, v: u32) -> PathBuf {
    use std::io::Read;
    let gz = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/store/schema-{v}.db.gz"));
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(gz).unwrap()).read_to_end(&mut bytes).unwrap();
    let path = db(dir);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The tables and views of the layout before documents are gone, the
/// processes are in `processes` and its view, and nothing is left over.
fn check_migrated(store: &Store, processes: usize) {
    for gone in ["meminfo", "counters", "samples", "process_status", "process_smaps_rollup", "memory_cgroups"]
    {
        assert!(store.connection().prepare(&format!("SELECT * FROM {gone}")).is_err(), "{gone}");
    }
    let (n, comm): (i64, i64) = store
        .connection()
        .query_row("SELECT count(*), count(comm) FROM process_samples", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((n as usize, comm as usize), (processes, processes));
    let unused: i64 = store
        .connection()
        .query_row(
            "SELECT count(*) FROM strings WHERE id NOT IN (SELECT comm FROM processes UNION \
             SELECT cmdline FROM processes UNION SELECT cgroup FROM processes UNION SELECT uid FROM processes)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unused, 0, "strings only the old tables used are deleted");
    let free: i64 = store.connection().query_row("PRAGMA freelist_count", [], |r| r.get(0)).unwrap();
    assert_eq!(free, 0, "the old tables' pages went back to the file system");
    assert_eq!(store.integrity_check().unwrap(), vec!["ok"]);
}

#[test]
fn a_version_1_database_with_data_is_migrated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let snap = fixture_snapshot();
    let path = old_db(&dir, 1);
    {
        let mut ro = Store::open_read_only(&path).unwrap();
        assert_eq!(ro.schema_version().unwrap(), 1);
        assert_same_but_timing(&ro.read(1).unwrap(), &as_stored(&without_pressure(&snap)));
        assert!(matches!(ro.write(&snap, &Meta::default()), Err(StoreError::OldLayout { version: 1, .. })));
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].id, list[0].host.as_deref()), (1, Some("old")));
    assert_same_but_timing(&store.read(list[0].id).unwrap(), &as_stored(&without_pressure(&snap)));
    check_migrated(&store, snap.processes.len());
}

/// The fixture as `record` collects it since version 3: descriptors, file-nr
/// and memory cgroups (the tree has file-nr; its cgroups are unavailable,
/// which is stored as why).
fn fixture_snapshot_with_fds() -> Snapshot {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/live-6.18-firecracker-2cpu");
    let opts = CollectOptions {
        fds: true,
        cgroups: true,
        cache: Some(CollectCache::new()),
        ..CollectOptions::default()
    };
    collect(&KernelRoot::at(dir), &opts)
}

/// What a version-3 memscope kept of `snap`: no memory pressure.
fn without_pressure(snap: &Snapshot) -> Snapshot {
    let mut s = snap.clone();
    s.pressure = None;
    s
}

/// What a version-2 memscope kept of `snap`: no descriptors, no cgroups, no
/// memory pressure.
fn without_fds(snap: &Snapshot) -> Snapshot {
    let mut s = without_pressure(snap);
    s.fd_system = None;
    s.cgroups = None;
    for p in &mut s.processes {
        p.fds = None;
    }
    s
}

/// [`fixture_snapshot_with_fds`] with two memory cgroups, one limited and one
/// not, so that the cgroup table has rows whatever the fixture holds.
fn snapshot_with_fds_and_cgroups() -> Snapshot {
    let mut snap = fixture_snapshot_with_fds();
    snap.cgroups = Some(Ok(memscope_model::CgroupSample {
        cgroups: vec![
            memscope_model::CgroupMemory {
                path: "/app".into(),
                version: memscope_model::CgroupVersion::V1,
                current_bytes: Ok(300 << 20),
                limit: Ok(memscope_kernel::parse::cgroupfs::Limit::Value(512 << 20)),
                oom_kills: Ok(2),
                ledger: None,
            },
            memscope_model::CgroupMemory {
                path: "/app/web".into(),
                version: memscope_model::CgroupVersion::V1,
                current_bytes: Ok(200 << 20),
                limit: Ok(memscope_kernel::parse::cgroupfs::Limit::Max),
                oom_kills: Err(memscope_kernel::ReadError::missing_field(
                    "/sys/fs/cgroup/memory/app/web/memory.oom_control",
                    "oom_kill",
                )),
                ledger: None,
            },
        ],
        total: 3,
    }));
    // The tree has no /proc/PID/fd (stored as why); two processes with
    // figures, one of them with an unlimited soft limit.
    use memscope_kernel::parse::pid::limits::{Limit, ResourceLimit};
    let nofile = |soft, hard| ResourceLimit { soft, hard, units: Some("files".into()) };
    snap.processes[0].fds = Some(memscope_model::ProcessFds {
        count: Ok(57),
        nofile: Ok(nofile(Limit::Value(64), Limit::Value(4096))),
    });
    snap.processes[1].fds = Some(memscope_model::ProcessFds {
        count: Ok(3),
        nofile: Ok(nofile(Limit::Unlimited, Limit::Unlimited)),
    });
    snap
}

#[test]
fn a_version_2_database_with_data_is_migrated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot_with_fds_and_cgroups();
    assert!(snap.processes.iter().any(|p| matches!(&p.fds, Some(f) if f.count.is_err())));
    let path = old_db(&dir, 2);
    // A reader of the current version reads the old database as it is.
    {
        let mut ro = Store::open_read_only(&path).unwrap();
        assert_eq!(ro.schema_version().unwrap(), 2);
        let id = ro.list().unwrap()[0].id;
        assert_same_but_timing(&ro.read(id).unwrap(), &as_stored(&without_fds(&snap)));
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].host.as_deref(), Some("v2"));
    // Recorded before version 3: read back without descriptors and cgroups.
    let old = store.read(list[0].id).unwrap();
    assert!(old.fd_system.is_none() && old.cgroups.is_none());
    assert_same_but_timing(&old, &as_stored(&without_fds(&snap)));
    check_migrated(&store, snap.processes.len());
    let with_fds: i64 = store
        .connection()
        .query_row("SELECT count(fd_count) FROM process_samples", [], |r| r.get(0))
        .unwrap();
    assert_eq!(with_fds, 0);
    // Recorded after: everything round-trips, and the columns have it.
    let id = store.write(&snap, &Meta::default()).unwrap();
    assert_same(&store.read(id).unwrap(), &as_stored(&snap));
    let fds: Vec<(Option<i64>, Option<i64>)> = store
        .connection()
        .prepare("SELECT fd_count, nofile_soft FROM process_samples WHERE snapshot_id = ?1 AND fd_count IS NOT NULL ORDER BY pid")
        .unwrap()
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut want = vec![(Some(57), Some(64)), (Some(3), Some(-1))];
    if snap.processes[0].pid > snap.processes[1].pid {
        want.reverse();
    }
    assert_eq!(fds, want, "RLIM_INFINITY is all ones, -1 in SQL");
}

/// The fixture with a memory pressure sample: `some` and `full` lines, the
/// second with figures that must come back bit for bit.
fn snapshot_with_pressure() -> Snapshot {
    use memscope_kernel::parse::pressure::{Pressure, PsiLine};
    let mut snap = fixture_snapshot();
    snap.pressure = Some(Ok(Pressure {
        some: Some(PsiLine { avg10: 12.34, avg60: 3.08, avg300: 0.71, total_usec: 1_602_356 }),
        full: Some(PsiLine { avg10: 0.0, avg60: 0.01, avg300: 0.0, total_usec: u64::MAX }),
        malformed: Vec::new(),
    }));
    snap
}

#[test]
fn a_version_3_database_is_migrated_and_old_snapshots_have_no_pressure() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot_with_pressure();
    let path = old_db(&dir, 3);
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let old_id = store.list().unwrap()[0].id;
    let old = store.read(old_id).unwrap();
    assert!(old.pressure.is_none(), "recorded before version 4: not collected");
    assert_same_but_timing(&old, &as_stored(&without_pressure(&snap)));
    check_migrated(&store, snap.processes.len());
    let id = store.write(&snap, &Meta::default()).unwrap();
    let back = store.read(id).unwrap();
    assert_same(&back, &as_stored(&snap));
    // Bit for bit, through the document.
    let p = back.pressure.unwrap().unwrap();
    assert_eq!(p.some.unwrap().avg10.to_bits(), 12.34f64.to_bits());
    assert_eq!(p.full.unwrap().total_usec, u64::MAX);
}

/// The last layout before documents, with everything it kept: a read-only
/// open reads it as it is, and the migration keeps every snapshot, its id
/// and its facts.
#[test]
fn a_version_5_database_with_everything_is_migrated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let mut snap = snapshot_with_fds_and_cgroups();
    snap.pressure = snapshot_with_pressure().pressure;
    let path = old_db(&dir, 5);
    {
        let mut ro = Store::open_read_only(&path).unwrap();
        assert_eq!(ro.schema_version().unwrap(), 5);
        assert_same_but_timing(&ro.read(1).unwrap(), &as_stored(&snap));
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    let i = &list[0];
    assert_eq!(
        (i.id, i.host.as_deref(), i.collect_wall_usec, i.collect_cpu_usec, i.taken_at_unix_ms),
        (1, Some("v5"), Some(1234), Some(567), snap.taken_at_unix_ms)
    );
    assert_same_but_timing(&store.read(1).unwrap(), &as_stored(&snap));
    check_migrated(&store, snap.processes.len());
    // The current version opens it again without migrating anything.
    drop(store);
    let mut again = Store::open_read_only(&path).unwrap();
    assert_eq!(again.schema_version().unwrap(), SCHEMA_VERSION);
    assert_same_but_timing(&again.read(1).unwrap(), &as_stored(&snap));
}

/// The two snapshots of tests/store/schema-7.db.gz, as schema version 7
/// wrote them: the fixture with everything, then ten seconds later the same
/// but for one process that grew by a page, one whose rollup was carried
/// from a pass 30 s before, and the last process, gone.
fn schema_7_snapshots() -> [Snapshot; 2] {
    let mut a = snapshot_with_fds_and_cgroups();
    a.pressure = snapshot_with_pressure().pressure;
    let mut b = a.clone();
    b.taken_at_unix_ms += 10_000;
    let mut read = b.processes.iter_mut().filter(|p| matches!(p.rollup, memscope_model::Rollup::Read(_)));
    let grew = read.next().unwrap();
    if let memscope_model::Rollup::Read(r) = &mut grew.rollup {
        *r.bytes.get_mut("Pss").unwrap() += 4096;
    }
    *std::sync::Arc::make_mut(grew.status.as_mut().unwrap()).bytes.get_mut("VmRSS").unwrap() += 4096;
    read.next().unwrap().pss_age_ms = Some(30_000);
    b.processes.pop();
    [a, b]
}

/// The last layout before documents were shared: read as it is, then
/// migrated without touching a snapshot (its rows refer to nothing, its
/// ages stay in its documents), and written on.
#[test]
fn a_version_7_database_is_migrated_and_reads_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let snaps = schema_7_snapshots();
    let path = old_db(&dir, 7);
    {
        let mut ro = Store::open_read_only(&path).unwrap();
        assert_eq!(ro.schema_version().unwrap(), 7);
        for (i, s) in snaps.iter().enumerate() {
            assert_same_but_timing(&ro.read(i as i64 + 1).unwrap(), &as_stored(s));
        }
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    for (i, s) in snaps.iter().enumerate() {
        assert_same_but_timing(&store.read(i as i64 + 1).unwrap(), &as_stored(s));
    }
    let carried = snaps[1].processes.iter().find(|p| p.pss_age_ms.is_some()).unwrap();
    assert_eq!(
        store.read(2).unwrap().processes.iter().find(|p| p.pid == carried.pid).unwrap().pss_age_ms,
        Some(30_000)
    );
    // Written on: the first snapshot after opening refers to nothing yet,
    // the next to it.
    let mut c = snaps[1].clone();
    c.taken_at_unix_ms += 10_000;
    let a = store.write(&c, &Meta::default()).unwrap();
    c.taken_at_unix_ms += 10_000;
    let b = store.write(&c, &Meta::default()).unwrap();
    assert_eq!(own_documents(&store, a), c.processes.len());
    assert_eq!(own_documents(&store, b), 0);
    assert_same_but_timing(&store.read(1).unwrap(), &as_stored(&snaps[0]));
    assert_same(&store.read(b).unwrap(), &as_stored(&c));
    let ages: i64 = store
        .connection()
        .query_row("SELECT count(*) FROM process_samples WHERE pss_age_ms = 30000", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ages, 2, "the view shows the age of the rollups carried in the two new snapshots");
    assert_eq!(store.integrity_check().unwrap(), vec!["ok"]);
}

/// How many documents snapshot `id`'s own array holds (0: it has none).
fn own_documents(store: &Store, id: i64) -> usize {
    let row: Option<(Vec<u8>, i64)> = store
        .connection()
        .query_row("SELECT doc, doc_bytes FROM process_docs WHERE snapshot_id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .ok();
    row.map(|_| document(store, "SELECT doc, doc_bytes FROM process_docs WHERE snapshot_id = ?1", id))
        .map(|d| d.as_array().unwrap().len())
        .unwrap_or(0)
}

/// A recording of the same processes: each snapshot writes the documents
/// of those that changed (grew, started, had their rollup carried with a new
/// age does not count) and reads back whole.
#[test]
fn a_process_unchanged_since_the_last_snapshot_is_not_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&db(&dir)).unwrap();
    let [a, b] = schema_7_snapshots();
    let mut c = b.clone();
    c.taken_at_unix_ms += 10_000;
    // Carried again, older; a new process; one grows again.
    c.processes.iter_mut().find(|p| p.pss_age_ms.is_some()).unwrap().pss_age_ms = Some(40_000);
    let grew = c.processes.iter_mut().rfind(|p| p.status.is_ok()).unwrap();
    *std::sync::Arc::make_mut(grew.status.as_mut().unwrap()).bytes.get_mut("VmRSS").unwrap() += 4096;
    let mut new = c.processes[0].clone();
    new.pid = 999_999;
    c.processes.push(new);
    let ids: Vec<i64> = [&a, &b, &c].iter().map(|s| store.write(s, &Meta::default()).unwrap()).collect();
    // b: the process that grew; the one carried 30 s differs only by its
    // age, a column. c: the new one and the one that grew.
    assert_eq!(
        ids.iter().map(|id| own_documents(&store, *id)).collect::<Vec<_>>(),
        vec![a.processes.len(), 1, 2]
    );
    let refs: i64 = store
        .connection()
        .query_row(
            "SELECT count(*) FROM processes WHERE snapshot_id = ?1 AND doc_snapshot_id = ?2",
            [ids[2], ids[0]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(refs as usize, c.processes.len() - 3, "all but three of c's documents are a's");
    for (id, s) in ids.iter().zip([&a, &b, &c]) {
        assert_same(&store.read(*id).unwrap(), &as_stored(s));
        check_columns(&store, *id, s);
    }
    // Read in another order, by another reader (its own cache).
    let mut ro = Store::open_read_only(&db(&dir)).unwrap();
    for (id, s) in ids.iter().zip([&a, &b, &c]).rev() {
        assert_same(&ro.read(*id).unwrap(), &as_stored(s));
    }
    // A store opened again refers to nothing it did not write itself.
    drop(store);
    let mut store = Store::open(&db(&dir)).unwrap();
    let d = store.write(&c, &Meta::default()).unwrap();
    assert_eq!(own_documents(&store, d), c.processes.len());
}

/// The columns of snapshot `id`'s rows (through the view) are those of
/// `snap`'s processes: whether a row's document was written or referred
/// to, its texts are its own.
fn check_columns(store: &Store, id: i64, snap: &Snapshot) {
    type Row = (u32, Option<String>, Option<String>, Option<String>, Option<String>, Option<i64>);
    let rows: Vec<Row> = store
        .connection()
        .prepare("SELECT pid, comm, cmdline, cgroup, uid, pss FROM process_samples WHERE snapshot_id = ?1 ORDER BY pid")
        .unwrap()
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let want: Vec<Row> = as_stored(snap)
        .processes
        .iter()
        .map(|p| {
            (
                p.pid,
                p.stat.as_ref().ok().map(|s| s.comm.clone()),
                p.cmdline.as_ref().ok().map(|c| serde_json::to_string(c).unwrap()),
                p.cgroup.as_ref().ok().map(|c| serde_json::to_string(&c.memberships).unwrap()),
                p.status.as_ref().ok().and_then(|s| s.text.get("Uid").cloned()),
                p.rollup().and_then(|r| r.get("Pss")).map(|v| v as i64),
            )
        })
        .collect();
    assert_eq!(rows, want, "snapshot {id}");
}

/// Every array of documents is referred to by a row, and every row's array
/// is there.
fn check_arrays(store: &Store) {
    let q = |sql: &str| -> i64 { store.connection().query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        q("SELECT count(*) FROM process_docs d WHERE NOT EXISTS (SELECT 1 FROM processes p \
           WHERE coalesce(p.doc_snapshot_id, p.snapshot_id) = d.snapshot_id)"),
        0,
        "an array no row refers to is left"
    );
    assert_eq!(
        q("SELECT count(*) FROM processes p WHERE NOT EXISTS (SELECT 1 FROM process_docs d \
           WHERE d.snapshot_id = coalesce(p.doc_snapshot_id, p.snapshot_id))"),
        0,
        "a row's array is gone"
    );
}

/// Deleting old snapshots keeps the arrays that the snapshots left refer
/// to, deletes the others, and what is left reads back as written.
#[test]
fn pruning_keeps_the_documents_later_snapshots_refer_to() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&db(&dir)).unwrap();
    let mut snap = snapshot_with_fds_and_cgroups();
    let n = snap.processes.len();
    let t0 = 1_700_000_000_000u64;
    let hour = 3_600_000u64;
    let mut written = Vec::new();
    for i in 0..30u64 {
        snap.taken_at_unix_ms = t0 + i * hour;
        // One process changes every snapshot, another every fifth.
        let p = &mut snap.processes[0];
        p.cmdline = Ok(vec![format!("/usr/bin/job-{i}")]);
        if i % 5 == 0 {
            let fds = snap.processes[n - 1].fds.get_or_insert_with(|| memscope_model::ProcessFds {
                count: Ok(0),
                nofile: Err(memscope_kernel::ReadError::missing_field("/proc/1/limits", "Max open files")),
            });
            fds.count = Ok(i);
        }
        written.push((store.write(&snap, &Meta::default()).unwrap(), as_stored(&snap)));
    }
    check_arrays(&store);
    let arrays = |s: &Store| -> i64 {
        s.connection().query_row("SELECT count(*) FROM process_docs", [], |r| r.get(0)).unwrap()
    };
    assert_eq!(arrays(&store), 30);
    let now = t0 + 29 * hour;
    let p =
        store.prune(&Retention { keep: Some(Duration::from_secs(10 * 3600)), max_bytes: None }, now).unwrap();
    assert_eq!(p.snapshots, 19);
    check_arrays(&store);
    // Left: the first snapshot's array, which holds what most processes
    // still are, that of the 16th (the last process as the 20th found it),
    // and those of the 11 snapshots left.
    assert_eq!(arrays(&store), 13);
    for (id, want) in &written[19..] {
        assert_same(&store.read(*id).unwrap(), want);
        check_columns(&store, *id, want);
    }
    // Writing on after a prune refers to what is left.
    snap.taken_at_unix_ms = now + hour;
    let id = store.write(&snap, &Meta::default()).unwrap();
    assert_eq!(own_documents(&store, id), 0);
    assert_same(&store.read(id).unwrap(), &as_stored(&snap));
    // All but the newest go, then all of them.
    let p = store
        .prune(&Retention { keep: Some(Duration::from_millis(1)), max_bytes: None }, now + hour)
        .unwrap();
    assert_eq!(p.snapshots, 11);
    check_arrays(&store);
    assert_same(&store.read(id).unwrap(), &as_stored(&snap));
    store
        .prune(&Retention { keep: Some(Duration::from_millis(1)), max_bytes: None }, now + 2 * hour)
        .unwrap();
    assert_eq!((store.list().unwrap().len(), arrays(&store)), (0, 0));
    // A new recording starts from nothing: ids may be used again.
    let id2 = store.write(&snap, &Meta::default()).unwrap();
    assert_eq!(own_documents(&store, id2), n);
    assert_same(&store.read(id2).unwrap(), &as_stored(&snap));
    assert_eq!(store.integrity_check().unwrap(), vec!["ok"]);
}

#[test]
fn unavailable_pressure_is_stored_as_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut snap = fixture_snapshot();
    let why = memscope_kernel::ReadError::Io {
        path: "/proc/pressure/memory".into(),
        message: memscope_kernel::read::PSI_DISABLED.into(),
    };
    snap.pressure = Some(Err(why.clone()));
    let mut store = Store::open(&db(&dir)).unwrap();
    let id = store.write(&snap, &Meta::default()).unwrap();
    assert_eq!(store.read(id).unwrap().pressure, Some(Err(why)));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(&db(&dir)).unwrap();
        s.connection().pragma_update(None, "user_version", SCHEMA_VERSION + 7).unwrap();
    }
    match Store::open(&db(&dir)) {
        Err(StoreError::NewerSchema { found, known, .. }) => {
            assert_eq!((found, known), (SCHEMA_VERSION + 7, SCHEMA_VERSION))
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    assert!(matches!(Store::open_read_only(&db(&dir)), Err(StoreError::NewerSchema { .. })));
}

#[test]
fn retention_by_age_deletes_old_snapshots_and_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&db(&dir)).unwrap();
    let mut snap = snapshot_with_fds_and_cgroups();
    let hour = 3_600_000u64;
    let t0 = 1_700_000_000_000u64;
    for i in 0..30 {
        snap.taken_at_unix_ms = t0 + i * hour;
        store.write(&snap, &Meta::default()).unwrap();
    }
    let now = t0 + 29 * hour;
    let p =
        store.prune(&Retention { keep: Some(Duration::from_secs(10 * 3600)), max_bytes: None }, now).unwrap();
    assert_eq!(p.snapshots, 19, "snapshots older than 10 h (taken before t0 + 19 h) are deleted");
    let left = store.list().unwrap();
    assert_eq!(left.len(), 11);
    assert!(left.iter().all(|s| s.taken_at_unix_ms >= now - 10 * hour));
    // No orphan row is left in any table.
    for t in memscope_store::rows::SNAPSHOT_TABLES {
        let orphans: i64 = store
            .connection()
            .query_row(
                &format!("SELECT count(*) FROM {t} WHERE snapshot_id NOT IN (SELECT id FROM snapshots)"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0, "{t}");
    }
    check_arrays(&store);
    for s in &left {
        store.read(s.id).unwrap();
    }
    assert_eq!(store.integrity_check().unwrap(), vec!["ok"]);
}

#[test]
fn retention_by_size_keeps_the_newest_under_the_cap_and_shrinks_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&db(&dir)).unwrap();
    let mut snap = fixture_snapshot();
    for i in 0..40 {
        snap.taken_at_unix_ms = 1_000 + i;
        // Distinct command lines, so that strings become garbage when
        // their snapshots go.
        if let Some(p) = snap.processes.first_mut() {
            p.cmdline = Ok(vec![format!("/usr/bin/job-{i}")]);
        }
        store.write(&snap, &Meta::default()).unwrap();
    }
    store.checkpoint().unwrap();
    let full = store.used_bytes().unwrap();
    let file_before = std::fs::metadata(db(&dir)).unwrap().len();
    let cap = full / 2;
    let p = store.prune(&Retention { keep: None, max_bytes: Some(cap) }, 0).unwrap();
    assert!(p.snapshots > 0);
    assert!(store.used_bytes().unwrap() <= cap, "{} > {cap}", store.used_bytes().unwrap());
    let left = store.list().unwrap();
    assert_eq!(left.last().unwrap().taken_at_unix_ms, 1_039, "the newest is kept");
    assert_eq!(left.len() + p.snapshots, 40);
    let jobs: i64 = store
        .connection()
        .query_row("SELECT count(*) FROM strings WHERE text LIKE '%/usr/bin/job-%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(jobs as usize, left.len(), "strings of deleted snapshots are collected");
    store.checkpoint().unwrap();
    let file_after = std::fs::metadata(db(&dir)).unwrap().len();
    assert!(file_after < file_before, "incremental vacuum gives pages back ({file_after} < {file_before})");
    // Writing after a prune reuses the string cache correctly.
    snap.taken_at_unix_ms = 2_000;
    let id = store.write(&snap, &Meta::default()).unwrap();
    assert_same(&store.read(id).unwrap(), &as_stored(&snap));
}

#[test]
fn retention_by_size_counts_the_wal_and_keeps_both_files_under_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&db(&dir)).unwrap();
    let mut snap = fixture_snapshot();
    let cap: u64 = 1 << 20;
    let r = Retention { keep: None, max_bytes: Some(cap) };
    let files = || {
        let len = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        len(db(&dir)) + len(dir.path().join("m.db-wal"))
    };
    let mut pruned = 0;
    for i in 0..80 {
        snap.taken_at_unix_ms = 1_000 + i;
        store.write(&snap, &Meta::default()).unwrap();
        // The snapshot's transaction is in the WAL: counted.
        let wal = std::fs::metadata(dir.path().join("m.db-wal")).map(|m| m.len()).unwrap_or(0);
        assert!(store.used_bytes().unwrap() >= wal, "the WAL ({wal} bytes) is not counted");
        assert!(files() <= cap, "after snapshot {i}: {} bytes on disk > {cap}", files());
        pruned += store.prune(&r, 0).unwrap().snapshots;
        assert!(files() <= cap, "after pruning {i}: {} bytes on disk > {cap}", files());
        assert!(store.used_bytes().unwrap() <= cap);
    }
    assert!(pruned > 0, "the cap was never reached");
    assert_eq!(store.list().unwrap().last().unwrap().taken_at_unix_ms, 1_079, "the newest is kept");
    assert_eq!(store.integrity_check().unwrap(), vec!["ok"]);
}

#[test]
fn a_new_database_and_its_wal_and_shm_are_0600() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&db(&dir)).unwrap();
    store.write(&fixture_snapshot(), &Meta::default()).unwrap();
    for name in ["m.db", "m.db-wal", "m.db-shm"] {
        let m = std::fs::metadata(dir.path().join(name)).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o600, "{name}");
    }
}

#[test]
fn as_root_the_wal_and_shm_of_another_users_database_are_that_users() {
    use std::os::unix::fs::MetadataExt;
    if !rustix::process::geteuid().is_root() {
        eprintln!("as_root_the_wal_and_shm_of_another_users_database_are_that_users: needs root to chown");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(&db(&dir)).unwrap());
    std::os::unix::fs::chown(db(&dir), Some(65534), Some(65534)).unwrap();
    let _store = Store::open(&db(&dir)).unwrap();
    for name in ["m.db-wal", "m.db-shm"] {
        let m = std::fs::metadata(dir.path().join(name)).unwrap();
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (65534, 65534, 0o600), "{name}");
    }
}

#[test]
fn a_full_database_refuses_the_snapshot_and_stays_intact() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&db(&dir)).unwrap();
    let mut snap = fixture_snapshot();
    let pages: i64 = store.connection().query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    // Room for a few snapshots only.
    store.set_max_page_count(pages as u64 + 40).unwrap();
    let mut written = Vec::new();
    let err = loop {
        snap.taken_at_unix_ms += 1;
        match store.write(&snap, &Meta::default()) {
            Ok(id) => written.push(id),
            Err(e) => break e,
        }
        assert!(written.len() < 1000, "the limit was never reached");
    };
    assert!(err.is_disk_full(), "{err:?}");
    assert!(err.to_string().contains("disk full"), "{err}");
    assert!(!written.is_empty());
    assert_eq!(store.integrity_check().unwrap(), vec!["ok"]);
    let ids: Vec<i64> = store.list().unwrap().iter().map(|s| s.id).collect();
    assert_eq!(ids, written, "every committed snapshot and nothing of the refused one");
    for id in &written {
        store.read(*id).unwrap();
    }
    // The string cache forgot what the rolled-back transaction interned.
    store.set_max_page_count(1 << 30).unwrap();
    snap.processes[0].cmdline = Ok(vec!["/after/the/failure".into()]);
    let id = store.write(&snap, &Meta::default()).unwrap();
    assert_same(&store.read(id).unwrap(), &as_stored(&snap));
}

#[test]
fn a_reader_sees_only_committed_snapshots_while_a_writer_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let snap = fixture_snapshot();
    let mut writer = Store::open(&path).unwrap();
    writer.write(&snap, &Meta::default()).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut r = Store::open_read_only(&path).unwrap();
            let mut reads = 0;
            let mut last_len = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) || reads < 5 {
                let list = r.list().unwrap();
                assert!(list.len() >= last_len, "snapshots never disappear");
                last_len = list.len();
                let last = list.last().unwrap();
                let back = r.read(last.id).unwrap();
                assert_eq!(back.processes.len(), snap.processes.len());
                reads += 1;
            }
            reads
        });
        let mut s2 = snap.clone();
        for i in 0..60 {
            s2.taken_at_unix_ms = snap.taken_at_unix_ms + i + 1;
            writer.write(&s2, &Meta::default()).unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(reader.join().unwrap() >= 5);
    });
    assert_eq!(writer.list().unwrap().len(), 61);
}

#[test]
fn default_path_follows_xdg() {
    assert_eq!(memscope_store::default_path(true), Some(PathBuf::from("/var/lib/memscope/memscope.db")));
    let p = memscope_store::default_path(false);
    assert!(p.as_ref().is_some_and(|p| p.ends_with("memscope/memscope.db")), "{p:?}");
}

#[test]
fn the_database_is_in_wal_mode_with_normal_sync() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&db(&dir)).unwrap();
    let mode: String = store.connection().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = store.connection().query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    assert_eq!(sync, 1, "NORMAL");
    let vacuum: i64 = store.connection().query_row("PRAGMA auto_vacuum", [], |r| r.get(0)).unwrap();
    assert_eq!(vacuum, 2, "INCREMENTAL");
}

/// A document as the `sqlite3` shell's `sqlar_uncompress` reads it: zlib.
fn document(store: &Store, sql: &str, id: i64) -> serde_json::Value {
    use std::io::Read;
    let (blob, len): (Vec<u8>, i64) =
        store.connection().query_row(sql, [id], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(&blob[..]).read_to_end(&mut json).unwrap();
    assert_eq!(json.len() as i64, len);
    serde_json::from_slice(&json).unwrap()
}

#[test]
fn documents_are_the_models_json_and_older_ones_lacking_a_field_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut snap = snapshot_with_fds_and_cgroups();
    snap.pressure = snapshot_with_pressure().pressure;
    let mut store = Store::open(&db(&dir)).unwrap();
    let id = store.write(&snap, &Meta::default()).unwrap();
    let mut system = document(&store, "SELECT system, system_bytes FROM snapshots WHERE id = ?1", id);
    let processes = document(&store, "SELECT doc, doc_bytes FROM process_docs WHERE snapshot_id = ?1", id);
    let mut want = json(&as_stored(&snap));
    assert_eq!(processes, want["processes"]);
    want.as_object_mut().unwrap().insert("processes".into(), serde_json::json!([]));
    assert_eq!(system, want);

    // A document from before pressure, descriptors and cgroups were
    // collected reads back without them.
    for k in ["pressure", "fd_system", "cgroups"] {
        system.as_object_mut().unwrap().remove(k);
    }
    let raw = serde_json::to_vec(&system).unwrap();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, &raw).unwrap();
    let blob = z.finish().unwrap();
    store
        .connection()
        .execute(
            "UPDATE snapshots SET system = ?2, system_bytes = ?3 WHERE id = ?1",
            rusqlite::params![id, blob, raw.len() as i64],
        )
        .unwrap();
    let back = store.read(id).unwrap();
    assert!(back.pressure.is_none() && back.fd_system.is_none() && back.cgroups.is_none());
    assert_eq!(back.processes.len(), snap.processes.len());
}

#[test]
fn a_corrupt_document_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&db(&dir)).unwrap();
    let id = store.write(&fixture_snapshot(), &Meta::default()).unwrap();
    let (good, len): (Vec<u8>, i64) = store
        .connection()
        .query_row("SELECT doc, doc_bytes FROM process_docs WHERE snapshot_id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let cases: Vec<(Vec<u8>, i64)> = vec![
        (good[..good.len() / 2].to_vec(), len),
        (b"not zlib".to_vec(), len),
        (good.clone(), len - 1),
        (good.clone(), len + 1),
        (good.clone(), -1),
        (good.clone(), i64::MAX),
        (Vec::new(), 0),
    ];
    for (i, (doc, n)) in cases.into_iter().enumerate() {
        store
            .connection()
            .execute(
                "UPDATE process_docs SET doc = ?2, doc_bytes = ?3 WHERE snapshot_id = ?1",
                rusqlite::params![id, doc, n],
            )
            .unwrap();
        assert!(
            matches!(store.read(id), Err(StoreError::Corrupt { .. })),
            "case {i}: a corrupt document reads as corrupt"
        );
        // The system part alone still reads.
        store.read_parts(id, memscope_store::Parts::System).unwrap();
    }
}

/// A row that names an array that is not there, or one that lacks its
/// process, is corrupt: an error, not a panic, and not another process.
#[test]
fn a_row_naming_a_missing_document_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&db(&dir)).unwrap();
    let snap = fixture_snapshot();
    let a = store.write(&snap, &Meta::default()).unwrap();
    let b = store.write(&snap, &Meta::default()).unwrap();
    let pid = snap.processes[3].pid;
    let set = |store: &Store, to: Option<i64>, new_pid: u32| {
        let sql = "UPDATE processes SET doc_snapshot_id = ?3, pid = ?4 WHERE snapshot_id = ?1 AND pid = ?2";
        store.connection().execute(sql, rusqlite::params![b, pid, to, new_pid]).unwrap();
    };
    set(&store, Some(12345), pid);
    assert!(matches!(store.read(b), Err(StoreError::Corrupt { .. })));
    set(&store, None, pid);
    assert!(matches!(store.read(b), Err(StoreError::Corrupt { .. })), "snapshot b has no array of its own");
    set(&store, Some(a), 4_000_000);
    assert!(matches!(store.read(b), Err(StoreError::Corrupt { .. })), "a's array has no process 4000000");
    store.read(a).unwrap();
}

/// A memory cgroup with the files of its ledger's split, as `record`
/// keeps them since they were added.
fn snapshot_with_cgroup_ledger_files() -> Snapshot {
    use memscope_kernel::parse::vmstat::Vmstat;
    let mut snap = snapshot_with_fds_and_cgroups();
    if let Some(Ok(c)) = &mut snap.cgroups {
        c.cgroups[0].ledger = Some(memscope_model::LedgerFiles {
            stat: Ok(Vmstat::parse("total_rss 1048576\ntotal_cache 2097152\ntotal_shmem 0\n")),
            kmem_bytes: Some(Ok(4096)),
            kmem_tcp_bytes: Some(Err(memscope_kernel::ReadError::PermissionDenied {
                path: "/sys/fs/cgroup/memory/app/memory.kmem.tcp.usage_in_bytes".into(),
            })),
        });
    }
    snap
}

#[test]
fn a_cgroups_ledger_files_are_stored_and_older_documents_without_them_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot_with_cgroup_ledger_files();
    let mut store = Store::open(&db(&dir)).unwrap();
    let id = store.write(&snap, &Meta::default()).unwrap();
    let back = store.read(id).unwrap();
    assert_same(&back, &as_stored(&snap));
    let cg = |s: &Snapshot| s.cgroups.clone().unwrap().unwrap().cgroups;
    assert_eq!(cg(&back)[0].ledger, cg(&snap)[0].ledger);
    assert!(cg(&back)[1].ledger.is_none());

    // A document written before the split was kept has no `ledger`.
    let mut system = document(&store, "SELECT system, system_bytes FROM snapshots WHERE id = ?1", id);
    let cgroups = system["cgroups"]["Ok"]["cgroups"].as_array_mut().unwrap();
    assert!(cgroups[0].get("ledger").is_some());
    for c in cgroups.iter_mut() {
        c.as_object_mut().unwrap().remove("ledger");
    }
    let raw = serde_json::to_vec(&system).unwrap();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, &raw).unwrap();
    let blob = z.finish().unwrap();
    store
        .connection()
        .execute(
            "UPDATE snapshots SET system = ?2, system_bytes = ?3 WHERE id = ?1",
            rusqlite::params![id, blob, raw.len() as i64],
        )
        .unwrap();
    let old = store.read(id).unwrap();
    assert!(cg(&old).iter().all(|c| c.ledger.is_none()));
    assert_eq!(cg(&old)[0].current_bytes, cg(&snap)[0].current_bytes);
}

/// The `cgroup` column of every process of snapshot `id`, as the strings
/// table holds it, against its memberships as JSON.
fn check_cgroup_column(store: &mut Store, id: i64) -> usize {
    let snap = store.read(id).unwrap();
    let mut checked = 0;
    for p in &snap.processes {
        let stored: Option<String> = store
            .connection()
            .query_row(
                "SELECT s.text FROM processes p LEFT JOIN strings s ON s.id = p.cgroup \
                 WHERE p.snapshot_id = ?1 AND p.pid = ?2",
                [id, i64::from(p.pid)],
                |r| r.get(0),
            )
            .unwrap();
        let want = p.cgroup.as_ref().ok().map(|c| serde_json::to_string(&c.memberships).unwrap());
        assert_eq!(stored, want, "snapshot {id}, pid {}", p.pid);
        checked += usize::from(want.is_some());
    }
    checked
}

#[test]
fn cgroup_lists_shared_from_pass_to_pass_are_stored_by_the_same_string() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&db(&dir)).unwrap();
    // A repeated collection shares each process's list from pass to pass:
    // a clone of a snapshot shares them the same way.
    let live = collect(
        &KernelRoot::live(),
        &CollectOptions { processes: memscope_model::ProcessMode::Full, ..CollectOptions::default() },
    );
    let t0 = 1_700_000_000_000u64;
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut s = live.clone();
        s.taken_at_unix_ms = t0 + i * 1000;
        ids.push(store.write_owned(&mut s, &Meta::default()).unwrap());
    }
    let with_cgroup = check_cgroup_column(&mut store, ids[2]);
    assert!(with_cgroup > 10, "only {with_cgroup} processes with a cgroup");
    let distinct: i64 = store
        .connection()
        .query_row("SELECT count(DISTINCT cgroup) FROM processes", [], |r| r.get(0))
        .unwrap();
    let per_snapshot: i64 = store
        .connection()
        .query_row("SELECT count(DISTINCT cgroup) FROM processes WHERE snapshot_id = ?1", [ids[0]], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(distinct, per_snapshot, "the later snapshots use the first one's strings");
    // Retention deletes the strings no snapshot uses: a list written
    // again after every snapshot is gone must get a string that exists.
    let p =
        store.prune(&Retention { keep: Some(Duration::from_secs(1)), max_bytes: None }, t0 + 10_000).unwrap();
    assert_eq!(p.snapshots, 3);
    let strings: i64 =
        store.connection().query_row("SELECT count(*) FROM strings", [], |r| r.get(0)).unwrap();
    assert_eq!(strings, 0, "every string went with the snapshots");
    let mut s = live.clone();
    s.taken_at_unix_ms = t0 + 10_000;
    let id = store.write_owned(&mut s, &Meta::default()).unwrap();
    assert_eq!(check_cgroup_column(&mut store, id), with_cgroup);
}
