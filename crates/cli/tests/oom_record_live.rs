//! OOM kills on the timeline, on the running machine (root): `memscope
//! run --memory 64M --swap 0` of a 200 MiB allocation is OOM-killed while
//! `record` runs; `record` must keep that kill once (also when a second
//! recording reads the same log again), `leaks` and `diff` must name it
//! with its cgroup and limit, and `run --json` must explain it from the
//! kernel's report. `run` removes its cgroup on every path.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use memscope_testkit::{MIB, cgroup_lock, is_root, system_lock, workload_path};
use serde_json::Value;

fn memscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run memscope")
}

/// `memscope run --json` of a 200 MiB allocation under a 64 MiB limit
/// without swap: the summary.
fn killed_run() -> Value {
    let w = workload_path();
    let out = memscope(&[
        "run",
        "--json",
        "--memory",
        "64M",
        "--swap",
        "0",
        "--",
        w.to_str().unwrap(),
        "alloc",
        "--mib",
        "200",
    ]);
    assert_eq!(out.status.code(), Some(137), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stderr)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn kills_of(doc: &Value, pid: &Value) -> Vec<Value> {
    doc["oom_kills"]["kills"].as_array().unwrap().iter().filter(|k| &k["pid"] == pid).cloned().collect()
}

#[test]
fn record_keeps_a_kill_once_and_leaks_diff_and_run_name_it() {
    if !is_root() {
        eprintln!("skipped: memory cgroups and /dev/kmsg need root");
        return;
    }
    let _locks = (cgroup_lock(), system_lock());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let db = db.to_str().unwrap();
    let rec = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["record", "--db", db, "--interval", "1s", "--duration", "8s"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let it take a snapshot or two first.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let run = killed_run();
    let out = rec.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // `run` explained its kill from the kernel's report.
    let oom = &run["oom"];
    assert!(oom.is_object(), "{run:#}");
    let pid = oom["victim"]["pid"].clone();
    assert_eq!(oom["victim"]["name"], "memscope-worklo");
    let cgroup = run["cgroup"]["path"].as_str().unwrap().to_string();
    assert_eq!(oom["scope"]["cgroup"].as_str(), Some(cgroup.as_str()));
    assert_eq!(oom["limit_bytes"], 64 * MIB);
    assert_eq!(oom["kills_in_log"], 1);
    assert!(oom["peak_bytes"].as_u64().unwrap() <= 64 * MIB);
    assert!(oom["answer"].as_str().unwrap().contains(&format!("(pid {pid})")), "{oom:#}");
    assert!(run["unavailable"].get("oom").is_none(), "{run:#}");

    // A second recording of the same database reads the same log again.
    let again = memscope(&["record", "--db", db, "--once"]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));

    let leaks = memscope(&["leaks", "--db", db, "--json"]);
    assert!(leaks.status.success(), "{}", String::from_utf8_lossy(&leaks.stderr));
    let l: Value = serde_json::from_slice(&leaks.stdout).unwrap();
    let mine = kills_of(&l, &pid);
    assert_eq!(mine.len(), 1, "kept once: {l:#}");
    let k = &mine[0];
    assert_eq!(k["comm"], "memscope-worklo");
    assert_eq!(k["cgroup"].as_str(), Some(cgroup.as_str()));
    assert_eq!(k["constraint"], "CONSTRAINT_MEMCG");
    assert_eq!(k["limit_bytes"], 64 * MIB);
    let rss = k["anon_rss_bytes"].as_u64().unwrap();
    assert!(rss > 32 * MIB && rss <= 72 * MIB, "anon rss {rss}");
    let now = memscope_model::now_unix_ms();
    assert!(k["at_unix_ms"].as_u64().unwrap().abs_diff(now) < 60_000, "{k:#}");

    let table = memscope(&["leaks", "--db", db]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains(&format!("memscope-worklo (pid {pid}) in {cgroup}")), "{text}");

    let diff = memscope(&["diff", "--db", db, "--json"]);
    assert!(diff.status.success(), "{}", String::from_utf8_lossy(&diff.stderr));
    let d: Value = serde_json::from_slice(&diff.stdout).unwrap();
    assert_eq!(kills_of(&d, &pid).len(), 1, "{d:#}");
    let table = memscope(&["diff", "--db", db]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("OOM kills between the two snapshots"), "{text}");
    assert!(text.contains(&format!("(pid {pid}) in {cgroup}, resident")), "{text}");
    assert!(Path::new(db).exists());
}
