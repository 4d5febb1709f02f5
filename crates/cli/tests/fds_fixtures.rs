//! `memscope fds` on hand-made trees (tests/fixtures/fds/<case>): every output
//! path (JSON, table, CSV, `--pid`) against known answers.

use std::process::Command;

use serde_json::Value;

fn fixture(name: &str) -> String {
    memscope_testkit::fixture_dir("fds").join(name).display().to_string()
}

fn memscope(root: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .arg("--root")
        .arg(fixture(root))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run memscope");
    assert!(out.status.success(), "memscope {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn json(root: &str, args: &[&str]) -> Value {
    let mut a = vec!["fds", "--json"];
    a.extend_from_slice(args);
    let text = memscope(root, &a);
    let v: Value = serde_json::from_str(&text).expect("one JSON document");
    assert_eq!(v["schema"], "memscope.fds/1");
    v
}

fn process(v: &Value, pid: u64) -> &Value {
    v["processes"].as_array().unwrap().iter().find(|p| p["pid"] == pid).unwrap_or_else(|| panic!("pid {pid}"))
}

fn target_count(p: &Value, target: &str) -> Option<u64> {
    p["top_targets"].as_array()?.iter().find(|t| t["target"] == target).and_then(|t| t["count"].as_u64())
}

#[test]
fn mixed_types_are_grouped_and_sockets_resolved() {
    let v = json("mixed-types", &[]);
    let p = process(&v, 4242);
    let groups = &p["groups"];
    let want =
        [("file", 5), ("directory", 0), ("device", 3), ("pipe", 2), ("socket", 6), ("anon", 9), ("other", 2)];
    for (g, n) in want {
        assert_eq!(groups[g], n, "group {g}: {groups}");
    }
    assert_eq!(p["fds"], 27);
    let kinds = &p["kinds"];
    for (k, n) in [
        ("socket:tcp", 2),
        ("socket:udp6", 1),
        ("socket:unix", 1),
        ("socket:netlink", 1),
        ("socket:unknown", 1),
        ("anon:inotify", 2),
        ("anon:eventpoll", 1),
        ("anon:bpf-map", 1),
        ("memfd", 1),
        ("file (deleted)", 1),
        ("namespace:net", 1),
    ] {
        assert_eq!(kinds[k], n, "kind {k}: {kinds}");
    }
    assert_eq!((p["inotify_instances"].as_u64(), p["inotify_watches"].as_u64()), (Some(2), Some(7)));
    assert_eq!((p["epoll_instances"].as_u64(), p["epoll_watches"].as_u64()), (Some(1), Some(3)));
    assert_eq!(target_count(p, "/var/log/app.log"), Some(2));
    assert_eq!(target_count(p, "pipe"), Some(2));
    assert_eq!(p["top_targets"].as_array().unwrap().len(), 10, "at most ten targets");
    // A session scope is no service: no unit to edit.
    assert!(p.get("unit").is_none());
    let t = &v["totals"];
    assert_eq!((t["gone"].as_u64(), t["no_files"].as_u64()), (Some(1), Some(1)), "{t}");
    assert_eq!(t["sockets_unresolved"], 1);
    let users = v["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!((users[0]["uid"].as_u64(), users[0]["inotify_watches"].as_u64()), (Some(1000), Some(7)));
    assert_eq!(v["system"]["file_nr_allocated"], 1216);
    assert_eq!(v["system"]["nr_open"], 1048576);
}

#[test]
fn leaked_file_near_limit_is_diagnosed() {
    let v = json("leaked-file-near-limit", &["--pid", "100"]);
    let p = process(&v, 100);
    assert_eq!(v["processes"].as_array().unwrap().len(), 1, "--pid keeps its own row");
    assert_eq!(
        (p["fds"].as_u64(), p["soft_limit"].as_u64(), p["hard_limit"].as_u64()),
        (Some(60), Some(64), Some(4096))
    );
    assert_eq!(p["verdict"], "critical");
    assert_eq!(p["unit"], "app.service");
    let d = &v["diagnosis"];
    let leaks = d["leaks"].as_array().unwrap();
    assert_eq!(leaks.len(), 1);
    assert!(leaks[0].as_str().unwrap().contains("`/srv/app/data.db` is open 57 times"));
    let fixes: Vec<&str> = d["fixes"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(fixes[0].starts_with("Close the leak first"), "{fixes:?}");
    assert!(fixes.iter().any(|f| f.contains("prlimit --pid 100 --nofile=4096:4096")), "{fixes:?}");
    assert!(fixes.iter().any(|f| f.contains("systemctl edit app.service") && f.contains("LimitNOFILE=4096")));
    assert!(d["emfile"].as_str().unwrap().contains("4 more opens"));

    let table = memscope("leaked-file-near-limit", &["fds", "--pid", "100"]);
    assert!(table.contains("/srv/app/data.db") && table.contains("← leak signature"), "{table}");
    assert!(table.contains("EMFILE (\"Too many open files\")"));
    assert!(table.contains("ENFILE (\"Too many open files in system\")"));
}

#[test]
fn system_at_file_max_is_enfile() {
    let v = json("system-file-max-exhausted", &["--pid", "300"]);
    let l = &v["limits"][0];
    assert_eq!(
        (l["key"].as_str(), l["verdict"].as_str(), l["headroom"].as_u64()),
        (Some("file_max"), Some("exhausted"), Some(0))
    );
    let d = &v["diagnosis"];
    assert!(d["enfile"].as_str().unwrap().contains("This is the problem"));
    let fixes = d["fixes"].to_string();
    assert!(fixes.contains("sysctl -w fs.file-max=200000"), "{fixes}");
}

#[test]
fn other_users_unavailable_said_once() {
    let v = json("other-users-unreadable", &[]);
    for pid in [200, 201] {
        let p = process(&v, pid);
        assert!(p["fds"].is_null(), "never 0: {p}");
        assert_eq!(p["verdict"], "unknown");
        assert!(p["unavailable"].as_str().unwrap().contains("root or the process's owner"));
    }
    assert_eq!(process(&v, 202)["fds"], 4);
    // The reader's processes come first: the unknown ones last.
    assert_eq!(v["processes"][0]["pid"], 202);
    let notes: Vec<&str> = v["notes"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let about: Vec<&&str> = notes.iter().filter(|n| n.contains("cannot be listed")).collect();
    assert_eq!(about.len(), 1, "{notes:?}");
    assert!(about[0].contains("2 processes of other users"));
    let inotify = v["limits"].as_array().unwrap().iter().find(|l| l["key"] == "inotify_instances").unwrap();
    assert_eq!((inotify["uid"].as_u64(), inotify["used"].as_u64()), (Some(1001), Some(1)));

    let table = memscope("other-users-unreadable", &["fds"]);
    assert_eq!(table.matches("* unavailable:").count(), 1, "{table}");
    assert_eq!(table.matches("cannot be listed").count(), 1, "{table}");
    assert!(table.contains("unavailable") && !table.contains(" 0  1024  4096"));
}

#[test]
fn close_wait_sockets_are_a_leak_signature() {
    let v = json("close-wait-sockets", &["--pid", "400"]);
    let leaks = v["diagnosis"]["leaks"].to_string();
    if cfg!(target_endian = "little") {
        assert!(leaks.contains("12 sockets are `tcp → 10.0.0.5:5432 CLOSE_WAIT`"), "{leaks}");
        let p = process(&v, 400);
        assert_eq!(target_count(p, "tcp 10.0.0.1:80 ← peers ESTABLISHED"), Some(3));
        assert_eq!(target_count(p, "tcp 10.0.0.1:80 LISTEN"), Some(1));
    }
    assert!(leaks.contains("never called close()"), "{leaks}");
    assert_eq!(v["diagnosis"]["leaks"].as_array().unwrap().len(), 1, "accepted connections are no leak");
}

#[test]
fn csv_has_one_row_per_process_and_the_group_columns() {
    let csv = memscope("leaked-file-near-limit", &["fds", "--csv"]);
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("pid,comm,uid,fds,soft_limit,hard_limit,ratio,verdict,unit,file,directory,device,pipe,socket,anon,other"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0].starts_with("100,app,998,60,64,4096,0.9375,critical,app.service,57,0,1,0,2,0,0"),
        "{}",
        rows[0]
    );
}

#[test]
fn top_breaks_down_only_the_rows_shown() {
    let v = json("leaked-file-near-limit", &["--top", "1"]);
    assert_eq!(v["processes"].as_array().unwrap().len(), 1);
    assert_eq!(v["hidden_processes"], 1);
    assert_eq!(v["processes"][0]["groups"]["file"], 57);
    let l = v["limits"].as_array().unwrap().iter().find(|l| l["key"] == "inotify_instances").unwrap();
    assert!(l["used"].is_null() && l["source"] == "unavailable", "{l}");
}

#[test]
fn unknown_pid_is_an_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["--root", &fixture("mixed-types"), "fds", "--pid", "9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("process 9 not found"));
}
