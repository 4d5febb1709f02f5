//! `record`, `leaks`, `diff` and `plot` end to end: on a fixture database
//! whose answers are known, and on the running system (kill -9 during
//! writes, a full disk, a live leak).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use memscope_kernel::KernelRoot;
use memscope_model::{CollectOptions, Rollup, Snapshot, collect};
use memscope_store::{Meta, Store};
use memscope_testkit::{MIB, Workload, is_root, system_lock};
use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_memscope");
const T0: u64 = 1_795_306_009_433;
const STEPS: u64 = 40;

fn fixture_tree() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/live-6.18-firecracker-2cpu")
}

/// A recording with known answers, made from the captured tree: 40
/// snapshots 10 s apart in which
/// - `unaccounted` grows by 2 MiB per snapshot (MemFree falls, nothing else moves);
/// - the processes of `/usr/bin/leaky-daemon --serve` grow by 1 MiB of PSS per snapshot;
/// - `/usr/bin/steady` stays flat;
/// - the `dentry` slab cache jumps once by 64 MiB at snapshot 20.
fn fixture_db(dir: &Path) -> PathBuf {
    let path = dir.join("fixture.db");
    let base = collect(&KernelRoot::at(fixture_tree()), &CollectOptions::default());
    let mut store = Store::open(&path).unwrap();
    let with_rollup: Vec<usize> = base
        .processes
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p.rollup, Rollup::Read(_)) && p.status.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert!(with_rollup.len() >= 2, "the fixture has processes with PSS");
    let (leaky, steady) = (with_rollup[0], with_rollup[1]);
    for i in 0..STEPS {
        let mut s: Snapshot = base.clone();
        s.taken_at_unix_ms = T0 + i * 10_000;
        let m = s.meminfo.as_mut().unwrap();
        let free = m.bytes["MemFree"];
        m.bytes.insert("MemFree".into(), free - 2 * MIB * i);
        let grow = |p: &mut memscope_model::ProcessSample, by: u64| {
            if let Rollup::Read(r) = &mut p.rollup {
                for k in ["Pss", "Rss", "Private_Dirty"] {
                    *r.bytes.entry(k.into()).or_default() += by;
                }
            }
            if let Ok(st) = &mut p.status {
                *st.bytes.entry("VmRSS".into()).or_default() += by;
            }
        };
        s.processes[leaky].cmdline = Ok(vec!["/usr/bin/leaky-daemon".into(), "--serve".into()]);
        grow(&mut s.processes[leaky], MIB * i);
        s.processes[steady].cmdline = Ok(vec!["/usr/bin/steady".into()]);
        if i >= 20
            && let Ok(sl) = &mut s.slabinfo
            && let Some(c) = sl.caches.iter_mut().find(|c| c.name == "dentry")
        {
            c.num_slabs += 64 * MIB / 4096 / c.pagesperslab.max(1);
        }
        store.write(&s, &Meta { host: Some("fixture-host".into()), ..Meta::default() }).unwrap();
    }
    path
}

fn memscope(args: &[&str]) -> std::process::Output {
    Command::new(EXE).args(args).env("NO_COLOR", "1").output().expect("run memscope")
}

fn json_of(args: &[&str]) -> Value {
    let out = memscope(args);
    assert!(out.status.success(), "memscope {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn find<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list.as_array().unwrap().iter().find(|s| s["name"] == name)
}

#[test]
fn leaks_on_the_fixture_recording_finds_the_known_answers() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let doc = json_of(&["leaks", "--db", db.to_str().unwrap(), "--json"]);
    assert_eq!(doc["schema"], "memscope.leaks/1");
    assert_eq!(doc["snapshots"], STEPS);
    let suspects = &doc["suspects"];
    let un = find(suspects, "unaccounted").expect("unaccounted is a suspect");
    assert_eq!(un["kind"], "kernel");
    assert_eq!(un["verdict"], "growing");
    // 2 MiB per 10 s: 720 MiB per hour, exactly (no noise).
    assert_eq!(un["growth_per_hour"].as_i64(), Some(720 * MIB as i64));
    assert!(un["confidence"].as_f64().unwrap() > 0.999_999);
    let headroom = un["headroom"].as_f64().unwrap();
    let secs = un["exhaustion_seconds"].as_f64().unwrap();
    assert!((secs - headroom / (2.0 * MIB as f64 / 10.0)).abs() < 1.0, "{secs}");
    assert_eq!(un["exhaustion_limit"], "MemAvailable");
    let leaky = find(suspects, "/usr/bin/leaky-daemon --serve").expect("the leaking command is a suspect");
    assert_eq!(leaky["kind"], "process");
    assert_eq!(leaky["metric"], "pss");
    assert_eq!(leaky["growth_per_hour"].as_i64(), Some(360 * MIB as i64));
    assert!(find(suspects, "/usr/bin/steady").is_none(), "the flat command is not a suspect");
    // The slab cache that jumped once is a step, not a leak.
    assert!(find(suspects, "dentry").is_none());
    let dentry = find(&doc["not_leaks"], "dentry").expect("the dentry step is listed as not a leak");
    assert_eq!(dentry["verdict"], "step");
    assert_eq!(dentry["step_at_unix_ms"].as_u64(), Some(T0 + 20 * 10_000));
    // Soonest exhaustion first: unaccounted (2 MiB/10 s) before the process (1 MiB/10 s).
    let names: Vec<&str> = suspects.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(pos("unaccounted") < pos("/usr/bin/leaky-daemon --serve"), "{names:?}");

    // The table says the same.
    let out = memscope(&["leaks", "--db", db.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Leak suspects in 40 snapshots"), "{text}");
    assert!(text.contains("leaky-daemon --serve"), "{text}");
    assert!(text.contains("+720 MiB"), "{text}");
    assert!(text.contains("one jump of +64.0 MiB"), "{text}");
}

#[test]
fn leaks_respects_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let db = db.to_str().unwrap();
    // Ids 1..=10 only: 10 snapshots.
    let doc = json_of(&["leaks", "--db", db, "--json", "--from", "1", "--to", "10"]);
    assert_eq!(doc["snapshots"], 10);
    // By time: the last 5 snapshots (40 s before the last one).
    let from =
        humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + Duration::from_millis(T0 + 35 * 10_000));
    let doc = json_of(&["leaks", "--db", db, "--json", "--from", &from.to_string()]);
    assert_eq!(doc["snapshots"], 5);
    // Spread: at most 12 points.
    let doc = json_of(&["leaks", "--db", db, "--json", "--points", "12"]);
    assert_eq!(doc["snapshots"], 12);
}

#[test]
fn diff_of_first_and_last_gives_the_known_changes() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let db = db.to_str().unwrap();
    let doc = json_of(&["diff", "--db", db, "--json"]);
    assert_eq!(doc["schema"], "memscope.diff/1");
    assert_eq!((doc["from_id"].as_i64(), doc["to_id"].as_i64()), (Some(1), Some(40)));
    let growth = 2 * MIB as i64 * 39;
    assert_eq!(
        doc["unaccounted_to_bytes"].as_i64().unwrap() - doc["unaccounted_from_bytes"].as_i64().unwrap(),
        growth
    );
    let line = |cat: &str| {
        doc["ledger"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["category"] == cat && l["name"].is_null())
            .unwrap()
            .clone()
    };
    assert_eq!(line("unaccounted")["delta_bytes"].as_i64(), Some(growth));
    assert_eq!(line("free")["delta_bytes"].as_i64(), Some(-growth));
    assert_eq!(line("anon")["delta_bytes"].as_i64(), Some(0));
    let top = &doc["processes"][0];
    assert_eq!(top["name"], "/usr/bin/leaky-daemon --serve");
    assert_eq!(top["delta_bytes"].as_i64(), Some(39 * MIB as i64));
    assert_eq!(top["metric"], "pss");
    assert_eq!(doc["slab_caches"][0]["name"], "dentry");
    // By ids, and the table.
    let doc = json_of(&["diff", "--db", db, "--json", "3", "5"]);
    assert_eq!(line_delta(&doc, "unaccounted"), Some(4 * MIB as i64));
    let out = memscope(&["diff", "--db", db]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Snapshot 1 (") && text.contains("→ snapshot 40"), "{text}");
    assert!(text.contains("+78.0 MiB"), "{text}");
    // A later first snapshot is refused.
    assert!(!memscope(&["diff", "--db", db, "9", "3"]).status.success());
}

fn line_delta(doc: &Value, cat: &str) -> Option<i64> {
    doc["ledger"].as_array()?.iter().find(|l| l["category"] == cat && l["name"].is_null())?["delta_bytes"]
        .as_i64()
}

#[test]
fn plot_renders_a_png_and_an_svg_of_the_fixture_recording() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let png_path = dir.path().join("ledger.png");
    let out = memscope(&["plot", "--db", db.to_str().unwrap(), "--out", png_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&png_path).unwrap();
    assert!(bytes.len() > 20_000, "a real picture, not a blank one: {} bytes", bytes.len());
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a valid PNG");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).expect("decodes");
    assert_eq!((info.width, info.height), (1200, 900));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let px = &buf[..info.buffer_size()];
    let count = |f: &dyn Fn(&[u8]) -> bool| px.chunks(3).filter(|c| f(c)).count();
    // The unaccounted red (215, 25, 28) is drawn, and text (near black).
    assert!(count(&|c| c == [215, 25, 28]) > 500, "unaccounted is highlighted in red");
    assert!(count(&|c| c[0] < 60 && c[1] < 60 && c[2] < 60) > 2_000, "titles, axes and legends");

    let svg_path = dir.path().join("ledger.svg");
    let out = memscope(&[
        "plot",
        "--db",
        db.to_str().unwrap(),
        "--out",
        svg_path.to_str().unwrap(),
        "--width",
        "800",
        "--height",
        "600",
    ]);
    assert!(out.status.success());
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("width=\"800\""));
    for text in [
        "fixture-host",
        "Memory ledger over time",
        "unaccounted",
        // The legend leads with the rate and is cut to the legend's width.
        "+360 MiB/h leaky-daemon",
        "memory (GiB)",
        "time (UTC)",
    ] {
        assert!(svg.contains(text), "the SVG shows {text:?}");
    }
    // A wrong extension is refused before anything is read.
    assert!(!memscope(&["plot", "--db", db.to_str().unwrap(), "--out", "x.jpg"]).status.success());
}

#[test]
fn reading_commands_explain_a_missing_recording() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.db");
    for cmd in ["leaks", "diff"] {
        let out = memscope(&[cmd, "--db", missing.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no recording here") && err.contains("memscope record"), "{err}");
    }
    assert!(!missing.exists(), "reading never creates a database");
}

#[test]
fn record_once_writes_one_private_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sub/dir/rec.db");
    let out = memscope(&["record", "--db", db.to_str().unwrap(), "--once"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 snapshots into") && err.contains("ms to collect"), "{err}");
    assert!(err.contains("bytes per process per snapshot"), "{err}");
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "command lines are private");
    let mut store = Store::open_read_only(&db).unwrap();
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].collect_cpu_usec.is_some());
    let snap = store.read(list[0].id).unwrap();
    assert!(!snap.processes.is_empty());
    assert!(snap.meminfo.is_ok());
}

#[test]
fn record_with_retention_keeps_the_database_under_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cap.db");
    let root = fixture_tree();
    let out = memscope(&[
        "--root",
        root.to_str().unwrap(),
        "record",
        "--db",
        db.to_str().unwrap(),
        "--interval",
        "0.01",
        "--count",
        "60",
        "--max-size",
        "600K",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let store = Store::open_read_only(&db).unwrap();
    assert!(store.used_bytes().unwrap() <= 600 * 1024);
    let n = store.list().unwrap().len();
    assert!(n > 0 && n < 60, "{n} snapshots kept");
    assert!(String::from_utf8_lossy(&out.stderr).contains("deleted by the retention"));
}

/// Start `memscope record -v` on `db`; the ids it reports committed arrive
/// on the returned channel.
fn spawn_recorder(db: &Path, interval: &str) -> (std::process::Child, std::sync::mpsc::Receiver<i64>) {
    let mut child = Command::new(EXE)
        .args(["record", "--db", db.to_str().unwrap(), "--interval", interval, "-v"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(id) =
                line.strip_prefix("snapshot ").and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok())
            {
                let _ = tx.send(id);
            }
        }
    });
    (child, rx)
}

#[test]
fn kill_9_at_any_moment_loses_at_most_the_snapshot_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("killed.db");
    let mut committed: Vec<i64> = Vec::new();
    // Each round: once the recorder has committed a snapshot, kill it at a
    // deterministic pseudo-random moment 0 to 400 ms later (while it
    // collects, writes or sleeps), whatever the load of the machine.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..20 {
        let (mut child, ids) = spawn_recorder(&db, "0.05");
        let first = ids.recv_timeout(Duration::from_secs(120)).expect("the recorder commits a snapshot");
        committed.push(first);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::thread::sleep(Duration::from_millis(x % 400));
        // SAFETY: SIGKILL to our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        committed.extend(ids.try_iter());
        assert!(db.exists() || round == 0);
    }
    assert!(committed.len() >= 20, "only {} snapshots were committed", committed.len());
    let mut store = Store::open(&db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), vec!["ok"]);
    let present: Vec<i64> = store.list().unwrap().iter().map(|s| s.id).collect();
    for id in &committed {
        assert!(present.contains(id), "committed snapshot {id} is missing after kill -9");
    }
    // At most one per kill beyond those reported (committed, killed before printing).
    assert!(present.len() <= committed.len() + 20);
    for id in &present {
        let s = store.read(*id).unwrap_or_else(|e| panic!("snapshot {id} unreadable: {e}"));
        memscope_analysis::ledger::build(&s, &Default::default()).expect("a ledger from every snapshot");
    }
    // And recording goes on in the same database.
    let out = memscope(&["record", "--db", db.to_str().unwrap(), "--once"]);
    assert!(out.status.success());
    assert_eq!(Store::open_read_only(&db).unwrap().list().unwrap().len(), present.len() + 1);
}

#[test]
fn a_reader_runs_while_record_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("busy.db");
    let (mut child, ids) = spawn_recorder(&db, "0.05");
    let first = ids.recv_timeout(Duration::from_secs(120)).expect("a first snapshot");
    let started = Instant::now();
    let mut reads = 0;
    let mut store = Store::open_read_only(&db).unwrap();
    while started.elapsed() < Duration::from_secs(3) || reads < 3 {
        let list = store.list().unwrap();
        let last = list.last().unwrap();
        assert!(last.id >= first);
        store.read(last.id).unwrap();
        let out = memscope(&["diff", "--db", db.to_str().unwrap(), "--json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        reads += 1;
    }
    // SIGTERM: the recorder finishes its snapshot and stops cleanly.
    // SAFETY: signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM is a clean stop: {status:?}");
    assert!(reads >= 3);
    let n = Store::open_read_only(&db).unwrap().list().unwrap().len();
    assert!(n > ids.try_iter().count(), "snapshots were written while reading");
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", dir.path().to_str()?])
            .status()
            .ok()?
            .success();
        ok.then_some(SmallDisk { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_stops_record_cleanly_with_a_clear_error() {
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let Some(disk) = SmallDisk::mount("1m") else {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    };
    let db = disk.dir.path().join("full.db");
    let mut child = Command::new(EXE)
        .args(["record", "--db", db.to_str().unwrap(), "--interval", "0.02"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "record never hit the full disk");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("disk full") && err.contains("stopped"), "a clear error: {err}");
    let mut store = Store::open_read_only(&db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), vec!["ok"]);
    let list = store.list().unwrap();
    assert!(!list.is_empty(), "snapshots were written before the disk filled");
    for s in &list {
        store.read(s.id).unwrap();
    }
}

#[test]
fn leaks_watch_records_in_memory_then_judges() {
    let out = memscope(&["leaks", "--watch", "2s", "--interval", "1s", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["snapshots"], 3);
    assert!(doc["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("at least 8")));
}

#[test]
fn a_live_leak_is_found_and_a_flat_process_is_not() {
    if !is_root() {
        eprintln!("skipped: the live leak test needs root (slabinfo, other processes' PSS)");
        return;
    }
    let _lock = system_lock();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let grower = Workload::spawn(&["grow", "--mib-per-sec", "2"]);
    let piper = Workload::spawn(&["pipe-grow", "--mib-per-sec", "4"]);
    let flat = Workload::spawn(&["touch", "--private", "32"]);
    let out = memscope(&["record", "--db", db.to_str().unwrap(), "--interval", "1", "--count", "40"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json_of(&["leaks", "--db", db.to_str().unwrap(), "--json", "--top", "1000"]);
    drop((grower, piper, flat));
    assert_eq!(doc["snapshots"], 40);
    let suspects = doc["suspects"].as_array().unwrap();
    let names: Vec<&str> = suspects.iter().map(|s| s["name"].as_str().unwrap()).collect();
    let grow = suspects
        .iter()
        .find(|s| s["kind"] == "process" && s["name"].as_str().unwrap().contains("memscope-workload grow"))
        .unwrap_or_else(|| panic!("the growing child is a suspect: {names:?}"));
    // 2 MiB per second: 7 GiB per hour, within 20%.
    let rate = grow["growth_per_hour"].as_f64().unwrap();
    assert!((rate - 7200.0 * MIB as f64).abs() < 0.2 * 7200.0 * MIB as f64, "growth {rate}");
    let un = suspects
        .iter()
        .find(|s| s["name"] == "unaccounted")
        .unwrap_or_else(|| panic!("unaccounted (the pipes) is a suspect: {names:?}"));
    let rate = un["growth_per_hour"].as_f64().unwrap();
    assert!(rate > 0.5 * 4.0 * 3600.0 * MIB as f64, "unaccounted grows with the pipes: {rate}");
    assert!(
        !names.iter().any(|n| n.contains("memscope-workload touch")),
        "the flat child is not a suspect: {names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("memscope-workload pipe-grow")),
        "the pipe holder's own memory is flat"
    );
}
