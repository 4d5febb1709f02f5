//! `memscope record` runs as root and writes every process's command line:
//! its database, WAL and shared-memory file are private, never written
//! through a link, and `--max-size` bounds the database and its WAL together.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use memscope_testkit::{as_nobody, fixture_dir, is_root};

/// A small captured tree to record from: fast, and the same every run.
fn fixture() -> String {
    fixture_dir("live-6.18-firecracker-2cpu").to_string_lossy().into_owned()
}

/// `memscope --root FIXTURE record ARGS…` run with umask `umask`.
fn record_cmd(umask: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &format!("umask {umask}; exec \"$@\""), "sh", env!("CARGO_BIN_EXE_memscope")])
        .args(["--root", &fixture(), "record"])
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("MEMSCOPE_DB");
    cmd
}

fn record(args: &[&str]) -> Output {
    record_cmd("022", args).output().expect("run memscope record")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[test]
fn a_dangling_link_as_the_database_is_refused_and_its_target_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("created-by-root");
    let db = dir.path().join("m.db");
    std::os::unix::fs::symlink(&target, &db).unwrap();
    let out = record(&["--db", db.to_str().unwrap(), "--once"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert!(!target.exists(), "the link's target was created");
    assert!(!with_suffix(&db, "-wal").exists() && !with_suffix(&db, "-shm").exists());
}

#[test]
fn a_link_to_an_existing_file_as_the_database_is_refused_and_the_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    // An empty file: SQLite takes it for a new database and would write one
    // into it (a file with other content it refuses by itself).
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let db = dir.path().join("m.db");
    std::os::unix::fs::symlink(&victim, &db).unwrap();
    let out = record(&["--db", db.to_str().unwrap(), "--once"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    let m = std::fs::metadata(&victim).unwrap();
    assert_eq!((m.len(), m.mode() & 0o7777), (0, 0o644), "the file behind the link was written");
}

#[test]
fn links_planted_at_the_wal_and_shm_paths_are_refused_and_their_targets_untouched() {
    for suffix in ["-wal", "-shm"] {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        let db = dir.path().join("m.db");
        std::os::unix::fs::symlink(&victim, with_suffix(&db, suffix)).unwrap();
        let out = record(&["--db", db.to_str().unwrap(), "--once"]);
        assert_eq!(out.status.code(), Some(1), "{suffix}: {}", stderr(&out));
        assert!(stderr(&out).contains("symbolic link"), "{suffix}: {}", stderr(&out));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n", "{suffix}");
        assert!(!db.exists(), "{suffix}: nothing is created when refusing");
    }
}

#[test]
fn a_directory_anyone_can_write_without_the_sticky_bit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let db = open.join("m.db");
    let out = record(&["--db", db.to_str().unwrap(), "--once"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("sticky"), "{}", stderr(&out));
    assert!(!db.exists());
}

#[test]
fn missing_directories_are_created_0700_and_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a/b/m.db");
    let out = record_cmd("000", &["--db", db.to_str().unwrap(), "--once"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("created") && stderr(&out).contains("0700"), "{}", stderr(&out));
    for d in [dir.path().join("a"), dir.path().join("a/b")] {
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o7777, 0o700, "{}", d.display());
    }
    assert_eq!(std::fs::metadata(&db).unwrap().mode() & 0o7777, 0o600);
}

/// Kills the recording (and waits for it) even when the test fails.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_wal_is_0600_and_unreadable_by_another_user_while_recording() {
    if !is_root() {
        eprintln!(
            "the_wal_is_0600_and_unreadable_by_another_user_while_recording: needs root for a second user"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A directory others may enter, as /var/lib is: only the files' modes
    // keep them out.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = dir.path().join("m.db");
    let wal = with_suffix(&db, "-wal");
    let shm = with_suffix(&db, "-shm");
    let rec = Running(
        record_cmd("000", &["--db", db.to_str().unwrap(), "--interval", "0.1", "--duration", "20s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "no WAL was written");
        std::thread::sleep(Duration::from_millis(20));
    }
    for f in [&db, &wal, &shm] {
        assert_eq!(std::fs::metadata(f).unwrap().mode() & 0o7777, 0o600, "{}", f.display());
        let read = as_nobody("cat").arg(f).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
        assert!(!read.success(), "nobody read {}", f.display());
    }
    drop(rec);
}

#[test]
fn max_size_bounds_the_database_and_its_wal_together() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let wal = with_suffix(&db, "-wal");
    let max: u64 = 2 << 20;
    // A snapshot of this tree adds about 14 KiB to the database (the first,
    // which holds every process's document, about 30 KiB: the others refer
    // to them), 300 of them about 4 MiB; it adds up to about 200 KiB to the
    // WAL (every page it touches, B-tree nodes of each table and index
    // included): within the quarter of 2 MiB left to the WAL, so no
    // tolerance is needed. The -shm file (32 KiB, shared memory
    // of the WAL index) is not counted.
    let rec = Running(
        record_cmd(
            "022",
            &["--db", db.to_str().unwrap(), "--interval", "0.02", "--count", "300", "--max-size", "2M"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap(),
    );
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut peak = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut rec = rec;
    loop {
        peak = peak.max(size(&db) + size(&wal));
        if rec.0.try_wait().unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "recording did not end");
        std::thread::sleep(Duration::from_millis(2));
    }
    let status = rec.0.wait().unwrap();
    assert!(status.success());
    let end = size(&db) + size(&wal);
    eprintln!("--max-size {max}: database + WAL peaked at {peak} bytes, {end} at the end");
    assert!(peak <= max, "database + WAL reached {peak} bytes, over {max}");
    assert!(end <= max, "database + WAL at the end: {end} > {max}");
    // The newest snapshots are kept, readable.
    let store = memscope_store::Store::open_read_only(&db).unwrap();
    let kept = store.list().unwrap();
    assert!(!kept.is_empty() && kept.len() < 300, "{} snapshots kept", kept.len());
}
