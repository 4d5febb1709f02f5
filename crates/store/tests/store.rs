//! The store's promises: migrations in place, retention by age and size,
//! a full disk refused cleanly, and a reader beside a writer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use memscope_kernel::KernelRoot;
use memscope_model::{CollectOptions, Snapshot, collect};
use memscope_store::{Meta, Retention, SCHEMA_VERSION, Store, StoreError, as_stored};

fn fixture_snapshot() -> Snapshot {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/live-6.18-firecracker-2cpu");
    collect(&KernelRoot::at(dir), &CollectOptions::default())
}

fn json(s: &Snapshot) -> serde_json::Value {
    serde_json::to_value(s).unwrap()
}

fn db(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("m.db")
}

#[test]
fn a_version_1_database_with_data_is_migrated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let snap = fixture_snapshot();
    {
        let mut old = Store::open_at_version(&db(&dir), 1).unwrap();
        assert_eq!(old.schema_version().unwrap(), 1);
        old.write(&snap, &Meta { host: Some("old".into()), ..Meta::default() }).unwrap();
        // Version 1 has no views yet.
        assert!(old.connection().prepare("SELECT * FROM meminfo").is_err());
    }
    let mut store = Store::open(&db(&dir)).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].host.as_deref(), Some("old"));
    assert_eq!(json(&store.read(list[0].id).unwrap()), json(&as_stored(&without_pressure(&snap))));
    // The views of version 2 read the old rows.
    let mem_total: i64 = store
        .connection()
        .query_row("SELECT bytes FROM meminfo WHERE key = 'MemTotal'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(Some(mem_total as u64), snap.meminfo.as_ref().unwrap().get("MemTotal"));
}

/// The fixture as `record` collects it since version 3: descriptors, file-nr
/// and memory cgroups (the tree has file-nr; its cgroups are unavailable,
/// which is stored as why).
fn fixture_snapshot_with_fds() -> Snapshot {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/live-6.18-firecracker-2cpu");
    let opts = CollectOptions { fds: true, cgroups: true, ..CollectOptions::default() };
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
    {
        let mut old = Store::open_at_version(&db(&dir), 2).unwrap();
        assert_eq!(old.schema_version().unwrap(), 2);
        old.write(&snap, &Meta { host: Some("v2".into()), ..Meta::default() }).unwrap();
        assert!(old.connection().prepare("SELECT fd_count FROM processes").is_err());
    }
    // A reader of the current version reads the old database as it is.
    {
        let mut ro = Store::open_read_only(&db(&dir)).unwrap();
        assert_eq!(ro.schema_version().unwrap(), 2);
        let id = ro.list().unwrap()[0].id;
        assert_eq!(json(&ro.read(id).unwrap()), json(&as_stored(&without_fds(&snap))));
    }
    let mut store = Store::open(&db(&dir)).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    // Recorded before version 3: read back without descriptors and cgroups.
    let old = store.read(list[0].id).unwrap();
    assert!(old.fd_system.is_none() && old.cgroups.is_none());
    assert_eq!(json(&old), json(&as_stored(&without_fds(&snap))));
    // The old rows show in the new views, with NULL descriptor columns.
    let (n, with_fds): (i64, i64) = store
        .connection()
        .query_row("SELECT count(*), count(fd_count) FROM process_samples", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((n as usize, with_fds), (snap.processes.len(), 0));
    // Recorded after: everything round-trips, and the views resolve it.
    let id = store.write(&snap, &Meta::default()).unwrap();
    assert_eq!(json(&store.read(id).unwrap()), json(&as_stored(&snap)));
    let counted = snap.processes.iter().filter(|p| matches!(&p.fds, Some(f) if f.count.is_ok())).count();
    let with_fds: i64 = store
        .connection()
        .query_row("SELECT count(fd_count) FROM process_samples WHERE snapshot_id = ?1", [id], |r| r.get(0))
        .unwrap();
    assert_eq!((with_fds as usize, counted), (2, 2));
    let rows: Vec<(String, Option<i64>, Option<i64>)> = store
        .connection()
        .prepare(
            "SELECT path, limit_bytes, oom_kills FROM cgroup_memory WHERE snapshot_id = ?1 ORDER BY path",
        )
        .unwrap()
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, vec![("/app".into(), Some(512 << 20), Some(2)), ("/app/web".into(), None, None)]);
    let file_max: Option<i64> = store
        .connection()
        .query_row("SELECT file_max FROM snapshots WHERE id = ?1", [id], |r| r.get(0))
        .unwrap();
    let want = snap.fd_system.as_ref().unwrap().file_nr.as_ref().ok().map(|f| f.max as i64);
    assert_eq!(file_max, want);
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
    {
        let mut old = Store::open_at_version(&db(&dir), 3).unwrap();
        old.write(&snap, &Meta::default()).unwrap();
        assert!(old.connection().prepare("SELECT pressure_some_avg10 FROM snapshots").is_err());
    }
    let mut store = Store::open(&db(&dir)).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let old_id = store.list().unwrap()[0].id;
    let old = store.read(old_id).unwrap();
    assert!(old.pressure.is_none(), "recorded before version 4: not collected");
    assert_eq!(json(&old), json(&as_stored(&without_pressure(&snap))));
    let id = store.write(&snap, &Meta::default()).unwrap();
    assert_eq!(json(&store.read(id).unwrap()), json(&as_stored(&snap)));
    let (avg10, total): (Option<f64>, Option<i64>) = store
        .connection()
        .query_row(
            "SELECT pressure_some_avg10, pressure_some_total_usec FROM snapshots WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((avg10, total), (Some(12.34), Some(1_602_356)));
    let cols: (Option<f64>, Option<i64>) = store
        .connection()
        .query_row(
            "SELECT pressure_some_avg10, pressure_some_total_usec FROM snapshots WHERE id = ?1",
            [old_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(cols, (None, None));
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
    assert_eq!(json(&store.read(id).unwrap()), json(&as_stored(&snap)));
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
    assert_eq!(json(&store.read(id).unwrap()), json(&as_stored(&snap)));
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
