//! `record`, `leaks` and `diff` keep a memory cgroup's ledger line by line,
//! on the running machine (the v1 memory controller), a known answer: a
//! cgroup holding a shell that writes a file 1 MiB at a time, 8 MiB a
//! second, so that its page cache grows steadily while its anonymous memory
//! stays flat. `leaks` must name the cgroup with `page_cache` as the line
//! that grows and `anon` as not growing; `diff` must give the page cache
//! line a change within 10% of what was written between its two snapshots
//! (the writer logs each MiB with its time). Holds the cgroup and system
//! test locks; the cgroup, its processes and the files are removed when the
//! test ends, also when it fails.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use memscope_kernel::KernelRoot;
use memscope_kernel::cgroup::{Layout, Version};
use memscope_testkit::{MIB, SystemLock, cgroup_lock, is_root, system_lock};
use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_memscope");

/// The test's cgroup, its writer and files; on drop the writer is killed,
/// the files removed, then every process left in the cgroup killed and the
/// cgroup removed.
struct Cg {
    dir: PathBuf,
    files: Vec<PathBuf>,
    writer: Option<Child>,
    _locks: (SystemLock, SystemLock),
}

impl Drop for Cg {
    fn drop(&mut self) {
        if let Some(mut w) = self.writer.take() {
            // SAFETY: kill(2) on the process group of our own child.
            unsafe { libc::kill(-(w.id() as i32), libc::SIGKILL) };
            let _ = w.wait();
        }
        // Unlinked first: the killed processes' last references free their pages
        // before the cgroup goes.
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        memscope_testkit::remove_cgroup(&self.dir);
    }
}

/// Join the cgroup `$1`, then write the file `$2` 1 MiB at a time (in 64
/// KiB blocks, so that `dd`'s buffer stays small) every 1/8 s, at most
/// 400 MiB, appending `<MiB written> <ms since the epoch>` to the log `$3`
/// after each; then wait to be killed.
const WRITER: &str = r#"echo $$ > "$1/cgroup.procs" || exit 1
i=0
while [ $i -lt 400 ]; do
  dd if=/dev/zero of="$2" bs=64K count=16 seek=$((i * 16)) conv=notrunc status=none || exit 1
  i=$((i + 1))
  echo "$i $(date +%s%3N)" >> "$3"
  sleep 0.125
done
exec sleep 600"#;

fn memscope(args: &[&str]) -> Value {
    let out = Command::new(EXE).args(args).output().expect("run memscope");
    assert!(out.status.success(), "memscope {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// MiB the writer had written at `t_unix_ms`, by its log.
fn written_at(log: &str, t_unix_ms: u64) -> u64 {
    log.lines()
        .filter_map(|l| {
            let (n, t) = l.split_once(' ')?;
            Some((n.parse::<u64>().ok()?, t.trim().parse::<u64>().ok()?))
        })
        .filter(|(_, t)| *t <= t_unix_ms)
        .map(|(n, _)| n)
        .max()
        .unwrap_or(0)
}

fn line<'a>(lines: &'a Value, key: &str) -> &'a Value {
    lines
        .as_array()
        .unwrap_or_else(|| panic!("no lines: {lines}"))
        .iter()
        .find(|l| l["line"] == key)
        .unwrap_or_else(|| panic!("no line {key}: {lines:#}"))
}

/// A private tmpfs for the recording (its pages are not charged to the
/// test's cgroup either way: `record` runs outside it).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount() -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_cgroups_growing_page_cache_is_the_line_leaks_and_diff_name() {
    if !is_root() {
        eprintln!("skipped: creating a memory cgroup needs root");
        return;
    }
    let locks = (cgroup_lock(), system_lock());
    let layout = Layout::detect(&KernelRoot::live()).expect("mountinfo");
    let h = layout.controller("memory").expect("a memory controller");
    assert_eq!(h.version, Version::V1, "this test runs on the v1 memory controller (a hybrid host)");
    let name = format!("memscope-history-test-{}", std::process::id());
    let dir = PathBuf::from(&h.mount_point).join(&name);
    // The file is written on a disk, not a tmpfs: page cache, not shmem.
    let scratch =
        std::env::var_os("CARGO_TARGET_TMPDIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let file = scratch.join(format!("{name}.data"));
    let log = scratch.join(format!("{name}.log"));
    let mut cg = Cg { dir: dir.clone(), files: vec![file.clone(), log.clone()], writer: None, _locks: locks };
    for f in &cg.files {
        let _ = std::fs::remove_file(f);
    }
    std::fs::create_dir(&cg.dir).expect("mkdir the cgroup");

    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(WRITER).arg("sh").arg(&dir).arg(&file).arg(&log);
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cg.writer = Some(cmd.spawn().expect("start the writer"));
    // Wait for its first MiB: it is in the cgroup and writing.
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&log).unwrap_or_default().is_empty() {
        assert!(started.elapsed().as_secs() < 10, "the writer did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    let disk = Tmpfs::mount();
    let holder = tempfile::tempdir().unwrap();
    let db = disk.as_ref().map(|d| d.dir.path()).unwrap_or(holder.path()).join("cgroup-history.db");
    let db = db.to_str().unwrap();
    let out = Command::new(EXE)
        .args(["record", "--db", db, "--interval", "500ms", "--count", "20"])
        .output()
        .expect("run memscope record");
    assert!(out.status.success(), "record: {}", String::from_utf8_lossy(&out.stderr));
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(written_at(&log_text, u64::MAX) < 400, "the writer was still writing throughout");
    let path = format!("/{name}");

    // leaks: the cgroup grows, and what grows in it is its page cache.
    let doc = memscope(&["leaks", "--db", db, "--json", "--top", "1000"]);
    assert_eq!(doc["snapshots"], 20);
    let suspect = doc["suspects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "cgroup" && s["name"] == path.as_str())
        .unwrap_or_else(|| panic!("the cgroup {path} is a suspect: {:#}", doc["suspects"]));
    assert_eq!(suspect["verdict"], "growing");
    let lines = &suspect["lines"];
    let cache = line(lines, "page_cache");
    assert_eq!(cache["verdict"], "growing", "{lines:#}");
    assert!(cache["in_usage"].as_bool().unwrap());
    // 8 MiB a second, give or take a third (sleep and dd on a shared machine).
    let rate = cache["growth_per_hour_bytes"].as_f64().unwrap() / 3600.0;
    let want = 8.0 * MIB as f64;
    assert!(rate > 0.5 * want && rate < 1.34 * want, "{rate} bytes/s of page cache, {lines:#}");
    let anon = line(lines, "anon");
    assert_ne!(anon["verdict"], "growing", "{lines:#}");
    assert!(anon["change_bytes"].as_i64().unwrap().unsigned_abs() < MIB, "{lines:#}");
    assert_ne!(line(lines, "shmem")["verdict"], "growing", "{lines:#}");
    // (The kernel line may grow a little with it: the buffer heads and
    // page-cache tree nodes of the file are charged as kernel memory.)
    // The table says it in words.
    let table =
        Command::new(EXE).args(["--no-color", "leaks", "--db", db, "--top", "1000"]).output().unwrap();
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("What grows in the memory cgroups"), "{text}");
    // (Long lines are wrapped with a two-space indent.)
    let joined = text.replace("\n  ", " ");
    let said = joined.lines().any(|l| {
        l.starts_with(&format!("- {path}: page_cache +"))
            && l.contains("(growing)")
            && l.contains("anon flat")
    });
    assert!(said, "{path}: page_cache growing, anon flat, in:\n{text}");

    // diff: the page cache line changed by what was written in between.
    let d = memscope(&["diff", "--db", db, "--json", "--top", "1000"]);
    let mover = d["cgroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == path.as_str())
        .unwrap_or_else(|| panic!("the cgroup {path} moved: {:#}", d["cgroups"]));
    let (from, to) = (d["from_unix_ms"].as_u64().unwrap(), d["to_unix_ms"].as_u64().unwrap());
    let written = (written_at(&log_text, to) - written_at(&log_text, from)) * MIB;
    assert!(written >= 40 * MIB, "only {written} bytes written between the two snapshots");
    let delta = line(&mover["lines"], "page_cache")["delta_bytes"].as_i64().unwrap();
    let err = (delta as f64 - written as f64).abs() / written as f64;
    eprintln!("page cache line: {delta:+} bytes; written between the two snapshots: {written} bytes");
    assert!(
        err <= 0.10,
        "page cache +{delta} bytes, {written} written between the snapshots ({:.1}% off)",
        err * 100.0
    );
    let anon_delta = line(&mover["lines"], "anon")["delta_bytes"].as_i64().unwrap();
    assert!(anon_delta.unsigned_abs() < MIB, "anon moved by {anon_delta}");
    // The table lists the lines under the cgroup.
    let table = Command::new(EXE).args(["--no-color", "diff", "--db", db, "--top", "1000"]).output().unwrap();
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.lines().any(|l| l.contains("page_cache") && l.contains('+')), "{text}");

    drop(cg);
    assert!(!dir.exists(), "the test cgroup is left behind");
    assert!(!file.exists() && !log.exists(), "the test's files are left behind");
    drop(disk);
}
