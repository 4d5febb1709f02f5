//! `memscope oom --from FILE`: saved kernel logs of several kernels and
//! tools, in each output form, and the exit codes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use memscope_testkit::fixture_dir;
use serde_json::Value;

fn memscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run memscope")
}

fn log(name: &str) -> String {
    fixture_dir(name).join("log").to_string_lossy().into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn table_explains_the_latest_kill_of_a_4_19_journal() {
    let out = memscope(&["oom", "--from", &log("oom-4.19-global-journal")]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("Jun 12 03:14:07: the kernel killed postgres (pid 1021), resident 7.1 GiB"),
        "{text}"
    );
    assert!(text.contains("The whole machine ran out of memory"), "{text}");
    assert!(text.contains("free 83.5 MiB against a min watermark of 66.1 MiB"), "{text}");
    assert!(text.contains("The machine has no swap"), "{text}");
}

#[test]
fn json_of_a_cgroup2_kill_from_raw_kmsg_records() {
    let out = memscope(&["oom", "--json", "--from", &log("oom-5.10-memcg-v2-kmsg")]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "memscope.oom/1");
    assert_eq!(v["formats"], serde_json::json!(["kmsg"]));
    let k = &v["kills"][0];
    assert_eq!(k["victim"]["pid"], 48199);
    assert_eq!(k["victim"]["name"], "node");
    assert_eq!(k["victim"]["oom_score_adj"], 200);
    assert_eq!(k["scope"]["constraint"], "CONSTRAINT_MEMCG");
    assert_eq!(k["scope"]["cgroup"], "/system.slice/webapp.service");
    assert_eq!(k["limit_hit"]["limit_bytes"], 1u64 << 30);
    assert_eq!(k["when"]["since_boot_usec"], 1_723_456_789_340u64);
    assert_eq!(k["when"]["unix_seconds"], Value::Null, "a saved log's boot time is unknown");
    assert_eq!(k["victim"]["reaped"], true);
}

#[test]
fn csv_lists_every_kill_with_all() {
    let out = memscope(&["oom", "--csv", "--all", "--from", &log("oom-truncated")]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[0].starts_with("number,since_boot_usec,unix_seconds,wall,victim_pid,victim_name,"));
    assert!(rows[1].starts_with("1,9001000120,,,2210,ruby,"), "{text}");
    assert!(rows[2].starts_with("2,9100500000,,,,,"), "{text}");
    assert!(rows[2].ends_with(",task table;constraint;victim"), "{text}");
}

#[test]
fn all_prints_a_summary_table_then_each_kill() {
    let out = memscope(&["oom", "--all", "--from", &log("oom-truncated")]);
    let text = stdout(&out);
    assert!(text.starts_with("2 OOM kills in "), "{text}");
    assert!(text.contains("OOM kill 1 of 2"), "{text}");
    assert!(text.contains("OOM kill 2 of 2"), "{text}");
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["oom", "--json", "--from", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read(log("oom-3.10-rhel7-memcg")).unwrap();
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["source"], "standard input");
    assert_eq!(v["kills"][0]["victim"]["name"], "java");
    assert_eq!(v["kills"][0]["scope"]["cgroup"], "/docker/4f2a9c");
    assert_eq!(v["kills"][0]["when"]["wall"], "Tue Mar 5 10:21:07 2024");
}

#[test]
fn an_unreadable_file_exits_2() {
    let out = memscope(&["oom", "--from", "/nonexistent/kern.log"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/kern.log"));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_log_without_oom_kill_exits_4_and_says_so() {
    let dir = std::env::temp_dir().join(format!("memscope-oom-none-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("dmesg.txt");
    std::fs::write(
        &file,
        "[    0.000000] Linux version 6.1.0\n[    1.000000] Mem-Info:\n[    1.000001] free:12\n",
    )
    .unwrap();
    let out = memscope(&["oom", "--from", file.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(stdout(&out).trim(), "- No OOM kill in this log (3 message lines read).");
}

#[test]
fn a_tree_without_kernel_log_shows_the_cgroups_oom_counts_and_exits_1() {
    let tree = fixture_dir("cgroups-v1-pure");
    let out = memscope(&["oom", "--json", "--root", tree.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["unavailable"], "this captured tree has no dev/kmsg (it holds no kernel log)");
    let counts = v["cgroup_counts"].as_array().unwrap();
    let mysql = counts.iter().find(|c| c["path"] == "/system.slice/mysql.service").expect("{v:#}");
    assert_eq!(mysql["oom_kills"], 2);
    assert_eq!(mysql["limit_bytes"], 256u64 << 20);
    let csv = memscope(&["oom", "--csv", "--root", tree.to_str().unwrap()]);
    let text = stdout(&csv);
    assert_eq!(text.lines().next(), Some("cgroup,oom_kills,limit_bytes,peak_bytes"));
    assert!(text.contains(&format!("/system.slice/mysql.service,2,{},", 256u64 << 20)), "{text}");
}
