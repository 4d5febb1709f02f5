//! `memscope fds` on the running system, against `memscope-workload fds`:
//! a child holding exactly 5,000 descriptors of known kinds under a soft
//! `RLIMIT_NOFILE` of 6,000.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use memscope_testkit::{Workload, is_root, system_lock};
use serde_json::Value;

/// A scratch directory removed on drop, even when the test fails.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("memscope-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create scratch dir");
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(bin: &Path, args: &[&str]) -> String {
    let out = Command::new(bin).args(args).env("NO_COLOR", "1").output().expect("run memscope");
    assert!(out.status.success(), "memscope {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn memscope_json(args: &[&str]) -> Value {
    let mut a = vec!["fds", "--json"];
    a.extend_from_slice(args);
    serde_json::from_str(&run(Path::new(env!("CARGO_BIN_EXE_memscope")), &a)).expect("JSON")
}

/// The workload's `key=value` ready words.
fn info(w: &Workload) -> BTreeMap<String, String> {
    w.info.iter().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn n(info: &BTreeMap<String, String>, key: &str) -> u64 {
    info.get(key).unwrap_or_else(|| panic!("workload reported no {key}")).parse().expect("a number")
}

fn spawn_fds_workload(dir: &Path) -> Workload {
    Workload::spawn(&["fds", "--dir", dir.to_str().unwrap(), "--count", "5000", "--soft", "6000"])
}

fn file_nr() -> [u64; 3] {
    let t = std::fs::read_to_string("/proc/sys/fs/file-nr").unwrap();
    let v: Vec<u64> = t.split_whitespace().map(|x| x.parse().unwrap()).collect();
    [v[0], v[1], v[2]]
}

#[test]
fn workload_with_5000_fds_comes_first_with_its_breakdown() {
    let _lock = system_lock();
    let dir = Scratch::new("fds-live");
    let w = spawn_fds_workload(&dir.0);
    let wi = info(&w);
    assert_eq!(n(&wi, "total"), 5000);
    let pid = w.pid() as u64;

    let v = memscope_json(&["--all"]);
    let first = &v["processes"][0];
    assert_eq!(first["pid"].as_u64(), Some(pid), "closest to its limit first: {first}");
    assert_eq!(first["fds"], 5000);
    assert_eq!((first["soft_limit"].as_u64(), first["verdict"].as_str()), (Some(6000), Some("warning")));
    let ratio = first["ratio"].as_f64().unwrap();
    assert!((ratio - 5000.0 / 6000.0).abs() < 1e-9, "ratio {ratio}");
    for g in ["file", "directory", "device", "pipe", "socket", "anon", "other"] {
        assert_eq!(first["groups"][g].as_u64(), Some(n(&wi, g)), "group {g}: {}", first["groups"]);
    }
    let kinds = &first["kinds"];
    for (kind, key) in [
        ("socket:tcp", "tcp"),
        ("socket:udp", "udp"),
        ("anon:eventfd", "eventfd"),
        ("anon:eventpoll", "epoll"),
        ("anon:timerfd", "timerfd"),
        ("anon:signalfd", "signalfd"),
        ("anon:inotify", "inotify"),
        ("directory", "dir_opens"),
    ] {
        assert_eq!(kinds[kind].as_u64(), Some(n(&wi, key)), "kind {kind}: {kinds}");
    }
    assert!(kinds["socket:unix"].as_u64().unwrap() >= n(&wi, "unix"));
    assert_eq!(first["inotify_watches"].as_u64(), Some(n(&wi, "inotify_watches")));
    assert_eq!(first["epoll_watches"].as_u64(), Some(n(&wi, "epoll_watches")));
    let top = &first["top_targets"][0];
    assert_eq!(top["target"].as_str(), wi.get("leak_path").map(String::as_str));
    assert_eq!(top["count"].as_u64(), Some(n(&wi, "leak_file")));
    assert_eq!(top["leak_suspect"], true);

    // The child's inotify instances show in its user's figures.
    let euid = rustix::process::geteuid().as_raw() as u64;
    let user = v["users"].as_array().unwrap().iter().find(|u| u["uid"] == euid).expect("the user's figures");
    assert!(user["inotify_instances"].as_u64().unwrap() >= n(&wi, "inotify"));
    assert!(user["inotify_watches"].as_u64().unwrap() >= n(&wi, "inotify_watches"));
    assert!(user["epoll_watches"].as_u64().unwrap() >= n(&wi, "epoll_watches"));
    let mine =
        user["top_processes"].as_array().unwrap().iter().find(|p| p["pid"] == pid).expect("child listed");
    assert_eq!(mine["inotify_instances"].as_u64(), Some(n(&wi, "inotify")));
    assert_eq!(mine["inotify_watches"].as_u64(), Some(n(&wi, "inotify_watches")));
    let row =
        v["limits"].as_array().unwrap().iter().find(|l| l["key"] == "inotify_instances" && l["uid"] == euid);
    assert!(row.expect("a per-user limit row")["used"].as_u64().unwrap() >= 8);
    // 5,000 descriptors on distinct open files: the system count holds them.
    assert!(v["limits"][0]["used"].as_u64().unwrap() >= 5000);

    // The cheap path finds the same process first, with the same breakdown.
    let cheap = memscope_json(&["--top", "1"]);
    assert_eq!(cheap["processes"].as_array().unwrap().len(), 1);
    assert_eq!(cheap["processes"][0]["pid"].as_u64(), Some(pid));
    assert_eq!(cheap["processes"][0]["groups"], first["groups"]);
}

#[test]
fn pid_diagnosis_of_the_workload() {
    let _lock = system_lock();
    let dir = Scratch::new("fds-live-pid");
    let w = spawn_fds_workload(&dir.0);
    let wi = info(&w);
    let pid = w.pid().to_string();
    let v = memscope_json(&["--pid", &pid]);
    let d = &v["diagnosis"];
    assert!(d["emfile"].as_str().unwrap().contains("1000 more opens"), "{}", d["emfile"]);
    let leaks = d["leaks"].to_string();
    assert!(leaks.contains(&format!("is open {} times", n(&wi, "leak_file"))), "{leaks}");
    let close_wait = format!(
        "{} sockets are `tcp 127.0.0.1:{} ← peers CLOSE_WAIT`",
        n(&wi, "close_wait"),
        n(&wi, "tcp_port")
    );
    assert!(leaks.contains(&close_wait), "{leaks}");
    let fixes = d["fixes"].to_string();
    assert!(fixes.contains(&format!("prlimit --pid {pid} --nofile=")), "{fixes}");

    let table = run(Path::new(env!("CARGO_BIN_EXE_memscope")), &["fds", "--pid", &pid]);
    assert!(table.contains("← leak signature") && table.contains("What to do"), "{table}");
}

#[test]
fn system_file_nr_agrees_with_the_kernel() {
    let _lock = system_lock();
    let before = file_nr();
    let v = memscope_json(&["--top", "1"]);
    let after = file_nr();
    let s = &v["system"];
    let got = s["file_nr_allocated"].as_u64().unwrap();
    // Other programs open and close files meanwhile: the figure must lie
    // between the readings taken around it, give or take that churn.
    let (lo, hi) = (before[0].min(after[0]), before[0].max(after[0]));
    assert!(got + 1000 >= lo && got <= hi + 1000, "memscope {got}, kernel {before:?} … {after:?}");
    assert_eq!(s["file_max"].as_u64(), Some(before[2]));
    assert_eq!(s["file_nr_free"].as_u64(), Some(0));
    let read = |p: &str| std::fs::read_to_string(p).unwrap().trim().parse::<u64>().unwrap();
    assert_eq!(s["nr_open"].as_u64(), Some(read("/proc/sys/fs/nr_open")));
    assert_eq!(
        s["inotify_max_user_instances"].as_u64(),
        Some(read("/proc/sys/fs/inotify/max_user_instances"))
    );
    assert_eq!(s["epoll_max_user_watches"].as_u64(), Some(read("/proc/sys/fs/epoll/max_user_watches")));
    let row = &v["limits"][0];
    assert_eq!((row["key"].as_str(), row["source"].as_str()), (Some("file_max"), Some("measured")));
}

#[test]
fn non_root_sees_other_users_fds_unavailable_said_once() {
    if !is_root() {
        eprintln!("skipped: needs root to run memscope as another user");
        return;
    }
    let _lock = system_lock();
    let dir = Scratch::new("fds-live-nonroot");
    let w = spawn_fds_workload(&dir.0);
    // A copy every user may run, whatever the permissions of the build tree.
    let bin = dir.0.join("memscope");
    std::fs::copy(env!("CARGO_BIN_EXE_memscope"), &bin).unwrap();
    let as_nobody = |args: &[&str]| -> String {
        let out = memscope_testkit::as_nobody(&bin).args(args).output().expect("setpriv (util-linux)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let v: Value = serde_json::from_str(&as_nobody(&["fds", "--json", "--all"])).unwrap();
    let p = v["processes"].as_array().unwrap().iter().find(|p| p["pid"] == w.pid()).expect("workload row");
    assert!(p["groups"].is_null(), "no breakdown of another user's process: {p}");
    assert!(p["breakdown_unavailable"].as_str().unwrap().contains("root or the process's owner"));
    // Linux 6.2+ reports the count as the size of /proc/PID/fd to anyone.
    let size_counts = std::fs::metadata("/proc/self/fd").map(|m| m.len() > 0).unwrap_or(false);
    if size_counts {
        assert_eq!(p["fds"], 5000);
        assert_eq!(p["soft_limit"], 6000);
    } else {
        assert!(p["fds"].is_null(), "never 0: {p}");
    }
    let notes: Vec<&str> = v["notes"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let said: Vec<&&str> = notes.iter().filter(|n| n.contains("cannot be listed")).collect();
    assert_eq!(said.len(), 1, "{notes:?}");
    assert!(said[0].contains("of other users"), "{}", said[0]);

    let table = as_nobody(&["fds", "--all"]);
    assert_eq!(table.matches("* unavailable:").count(), 1, "{table}");
    assert_eq!(table.matches("cannot be listed").count(), 1, "{table}");
}
