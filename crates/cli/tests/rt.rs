//! Live tests of `memscope rt latency` and `memscope rt check`: the real
//! binary on this machine. Tests that measure take the system-wide test lock
//! so that other tests' load does not pollute them, and stay short.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use memscope_kernel::KernelRoot;
use memscope_testkit::{Workload, is_root, system_lock};
use serde_json::Value;

fn memscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_memscope"))
}

fn run(args: &[&str]) -> Output {
    memscope().args(args).output().expect("run memscope")
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "memscope failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memscope-rt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Threads of a running process whose name starts with `prefix`:
/// `(policy, rt_priority, Cpus_allowed_list)`.
fn threads_named(pid: u32, prefix: &str) -> Vec<(u64, u64, String)> {
    let root = KernelRoot::live();
    let mut out = Vec::new();
    for tid in root.pid_tasks(pid).unwrap_or_default() {
        let (Ok(st), Ok(status)) = (root.task_stat(pid, tid), root.task_status(pid, tid)) else { continue };
        if st.comm.starts_with(prefix) {
            let cpus = status.text.get("Cpus_allowed_list").cloned().unwrap_or_default();
            out.push((st.policy.unwrap_or(99), st.rt_priority.unwrap_or(0), cpus));
        }
    }
    out
}

#[test]
fn latency_live_run_of_3000_loops_orders_its_statistics() {
    if !is_root() {
        // SCHED_FIFO needs privileges: then the refusal is the answer.
        let out = run(&["rt", "latency", "--loops", "10"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("CAP_SYS_NICE"));
        return;
    }
    let _lock = system_lock();
    let child = memscope()
        .args(["rt", "latency", "--loops", "3000", "--dma-latency", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start memscope rt latency");
    let pid = child.id();

    // While it measures, look at it from outside: one thread per CPU,
    // SCHED_FIFO 95, each pinned to its CPU; memory locked; the QoS held.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut seen = Vec::new();
    while Instant::now() < deadline && seen.is_empty() {
        std::thread::sleep(Duration::from_millis(200));
        seen = threads_named(pid, "memscope-rt/");
    }
    let live = KernelRoot::live();
    let vm_lck = live.pid_status(pid).ok().and_then(|s| s.get("VmLck"));
    let dma = live.cpu_dma_latency_usec();
    let out = child.wait_with_output().expect("wait for memscope");
    let doc = json(&out);

    let cpus = doc["cpus"].as_array().unwrap();
    assert_eq!(seen.len(), cpus.len(), "threads seen from /proc: {seen:?}");
    for (policy, prio, allowed) in &seen {
        assert_eq!((*policy, *prio), (1, 95), "SCHED_FIFO 95");
        assert!(cpus.iter().any(|c| c["cpu"].as_u64().unwrap().to_string() == *allowed), "pinned: {allowed}");
    }
    assert!(vm_lck.is_some_and(|l| l > 0), "mlockall: VmLck {vm_lck:?}");
    assert_eq!(dma, Ok(0), "/dev/cpu_dma_latency held at 0 during the run");

    assert_eq!(doc["schema"], "memscope.rt-latency/1");
    let s = &doc["settings"];
    assert_eq!(
        (s["policy"].as_str(), s["priority"].as_u64(), s["interval_usec"].as_u64()),
        (Some("SCHED_FIFO"), Some(95), Some(1000))
    );
    assert_eq!((s["mlockall"].as_bool(), s["dma_latency_usec"].as_i64()), (Some(true), Some(0)));
    assert!(doc["duration_seconds"].as_f64().unwrap() >= 2.9);
    for c in cpus {
        assert_eq!(c["samples"].as_u64(), Some(3000), "{c}");
        let (min, avg, p50, p99, p999, max) = (
            f(c, "min_usec"),
            f(c, "avg_usec"),
            f(c, "p50_usec"),
            f(c, "p99_usec"),
            f(c, "p999_usec"),
            f(c, "max_usec"),
        );
        // Every sample positive: the smallest is.
        assert!(min > 0.0, "{c}");
        assert!(min <= avg && avg <= max && min <= p50 && p50 <= p99 && p99 <= p999 && p999 <= max, "{c}");
        // The loop was pre-faulted: the measuring threads took no page fault.
        assert_eq!((c["minor_faults"].as_u64(), c["major_faults"].as_u64()), (Some(0), Some(0)), "{c}");
    }
    // The histogram counts every sample of every CPU.
    let hist = doc["histogram"].as_array().unwrap();
    for (k, _) in cpus.iter().enumerate() {
        let total: u64 = hist.iter().map(|row| row["counts"][k].as_u64().unwrap()).sum();
        assert_eq!(total, 3000);
    }
    // Spikes: largest first, none above the maximum, due inside the run.
    let spikes = doc["spikes"].as_array().unwrap();
    assert!(!spikes.is_empty());
    let all_max = f(&doc["all"], "max_usec");
    assert_eq!(f(&spikes[0], "latency_usec"), all_max);
    for w in spikes.windows(2) {
        assert!(f(&w[0], "latency_usec") >= f(&w[1], "latency_usec"));
    }
    let start_ns = doc["started_at_unix_ms"].as_u64().unwrap() * 1_000_000;
    for sp in spikes {
        let at = sp["at_unix_ns"].as_u64().unwrap();
        assert!(at >= start_ns && at <= start_ns + 10_000_000_000, "{sp}");
    }
}

#[test]
fn latency_histogram_draws_a_bar_per_bucket() {
    if !is_root() {
        return;
    }
    let _lock = system_lock();
    let out = run(&["rt", "latency", "--loops", "500", "--cpus", "0"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let hist = text.split("Histogram").nth(1).expect("a histogram");
    let header = hist.lines().find(|l| l.contains("latency µs")).expect("its header");
    assert!(header.contains("all CPUs (log scale)"), "{hist}");
    // Every bucket drawn holds a count, so every row has its bar; the
    // fullest has the longest.
    let rows: Vec<&str> = hist
        .lines()
        .skip_while(|l| !l.contains("latency µs"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit() || c == '≥'))
        .collect();
    assert!(!rows.is_empty(), "{hist}");
    let bar = |l: &str| l.chars().filter(|c| ('█'..='▏').contains(c)).count();
    // The count is the last number on the row: the open bucket's label
    // (`≥ 10000`) is two words, and its bound a number too.
    let count = |l: &str| l.split_whitespace().filter_map(|t| t.parse::<u64>().ok()).next_back().unwrap_or(0);
    let fullest = rows.iter().max_by_key(|l| count(l)).unwrap();
    assert!(rows.iter().all(|l| count(l) == 0 || bar(l) > 0), "{hist}");
    assert!(rows.iter().all(|l| bar(l) <= bar(fullest)), "{hist}");
}

#[test]
fn latency_with_memory_samples_vmstat_alongside() {
    if !is_root() {
        return;
    }
    let _lock = system_lock();
    let doc = json(&run(&[
        "rt",
        "latency",
        "--loops",
        "1000",
        "--cpus",
        "0",
        "--with-memory",
        "--memory-interval",
        "20",
        "--json",
    ]));
    let m = &doc["memory"];
    // About 1 s at 20 ms: some 50 samples (at least the first and last).
    assert!(m["samples"].as_u64().unwrap() >= 20, "{m}");
    let c = &m["correlation"];
    let windows = c["spike_windows"].as_u64().unwrap() + c["other_windows"].as_u64().unwrap();
    assert_eq!(windows + 1, m["samples"].as_u64().unwrap());
    assert!(c["counters"].as_array().unwrap().iter().any(|x| x["counter"] == "pgfault"));
    assert!(doc["spikes"][0]["memory"]["pgfault"].is_u64(), "spikes carry the vmstat deltas around them");
}

#[test]
fn latency_refuses_normal_priority_without_force() {
    let out = run(&["rt", "latency", "--priority", "0", "--loops", "10"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to measure at normal priority") && err.contains("--force"), "{err}");
}

#[test]
fn latency_forced_at_normal_priority_says_so_loudly() {
    let _lock = system_lock();
    let out = run(&["rt", "latency", "--priority", "0", "--force", "--loops", "200", "--json"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let doc = json(&out);
    assert_eq!(doc["settings"]["policy"], "SCHED_OTHER");
    assert_eq!(doc["cpus"][0]["policy"], "SCHED_OTHER");
    assert!(doc["warnings"][0].as_str().unwrap().contains("not real-time latency"));
    assert!(err.contains("WARNING"), "{err}");
}

#[test]
fn latency_as_an_unprivileged_user_explains_the_refusal() {
    if !is_root() || Command::new("setpriv").arg("--version").output().is_err() {
        return;
    }
    let out = memscope_testkit::as_nobody(env!("CARGO_BIN_EXE_memscope"))
        .args(["rt", "latency", "--loops", "10"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot set SCHED_FIFO priority 95: Operation not permitted"), "{err}");
    assert!(err.contains("RLIMIT_RTPRIO ≥ 95 (this session: 0)"), "{err}");
}

#[test]
fn latency_cannot_run_on_a_captured_tree() {
    let tree = memscope_testkit::fixture_dir("rt-tuned-host");
    let out = run(&["--root", tree.to_str().unwrap(), "rt", "latency", "--loops", "10"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("captured tree"));
}

#[test]
fn check_on_a_capture_matches_the_live_check() {
    let _lock = system_lock();
    let dir = temp_dir("capture");
    let cap = run(&["capture", "--out", dir.to_str().unwrap()]);
    assert!(cap.status.success(), "{}", String::from_utf8_lossy(&cap.stderr));
    let live = json(&run(&["rt", "check", "--json"]));
    let offline = json(&run(&["--root", dir.to_str().unwrap(), "rt", "check", "--json"]));
    let _ = std::fs::remove_dir_all(&dir);
    let host = |d: &Value| -> Vec<Value> {
        // Interrupt counts move between two readings.
        d["host"].as_array().unwrap().iter().filter(|i| i["key"] != "isolated_irqs").cloned().collect()
    };
    assert_eq!(host(&live), host(&offline));
    assert_eq!(live["schema"], "memscope.rt-check/1");
    assert!(live["host"].as_array().unwrap().len() >= 18);
}

fn item<'a>(doc: &'a Value, key: &str) -> &'a Value {
    doc["process"]["items"].as_array().unwrap().iter().find(|i| i["key"] == key).unwrap()
}

#[test]
fn check_pid_of_an_mlocked_workload_and_after_chrt() {
    let w = Workload::spawn(&["touch", "--private", "64", "--mlock"]);
    let pid = w.pid().to_string();
    let doc = json(&run(&["rt", "check", "--pid", &pid, "--window", "200ms", "--json"]));
    let locked = item(&doc, "locked_memory");
    assert_eq!(locked["verdict"], "ok", "{locked}");
    assert!(locked["value"].as_str().unwrap().starts_with("VmLck 64.0 MiB of VmRSS"), "{locked}");
    assert_eq!(item(&doc, "policy")["value"], "SCHED_OTHER priority 0");
    assert_eq!(item(&doc, "policy")["verdict"], "bad");
    if !is_root() || Command::new("chrt").arg("--version").output().is_err() {
        return;
    }
    let st = Command::new("chrt").args(["-f", "-p", "10", &pid]).status().unwrap();
    assert!(st.success());
    let doc = json(&run(&["rt", "check", "--pid", &pid, "--window", "200ms", "--json"]));
    assert_eq!(item(&doc, "policy")["value"], "SCHED_FIFO priority 10");
    assert_eq!(item(&doc, "policy")["verdict"], "ok");
    let t = &doc["process"]["threads"][0];
    assert_eq!((t["policy"].as_str(), t["rt_priority"].as_u64()), (Some("SCHED_FIFO"), Some(10)));
    assert_eq!(item(&doc, "timer_slack")["verdict"], "ok");
}

#[test]
fn check_pid_sees_page_faults_grow_during_the_window() {
    // 8 MiB a second of new anonymous memory: 2048 faults a second with
    // 4 KiB pages (with THP `always`, as few as 4 huge-page faults).
    let thp_always = KernelRoot::live()
        .choice(memscope_kernel::paths::THP_ENABLED)
        .is_ok_and(|c| c.selected.as_deref() == Some("always"));
    let w = Workload::spawn(&["grow", "--mib-per-sec", "8"]);
    let doc = json(&run(&["rt", "check", "--pid", &w.pid().to_string(), "--window", "1500ms", "--json"]));
    let grown: u64 = doc["process"]["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["minflt_window"].as_u64().unwrap())
        .sum();
    assert!(grown >= if thp_always { 4 } else { 1500 }, "minor faults in 1.5 s: {grown}");
    let faults = item(&doc, "faults");
    assert!(faults["value"].as_str().unwrap().contains(" minor, +0 major in 1.5 s"), "{faults}");
    // Nothing locked in a process that is not real time: a warning, not bad.
    assert_eq!(item(&doc, "locked_memory")["verdict"], "warn");
}

#[test]
fn check_pid_of_a_missing_process_fails() {
    let out = run(&["rt", "check", "--pid", "4000000000"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn check_explain_lists_every_check() {
    let out = run(&["rt", "check", "--explain"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for key in
        ["(preemption)", "(isolcpus)", "(irq_affinity)", "(rt_throttling)", "(cpuidle)", "(locked_memory)"]
    {
        assert!(text.contains(key), "{key}");
    }
}
