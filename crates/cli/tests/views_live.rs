//! The detail views against the running kernel, with known-answer
//! workloads: each figure memscope prints is checked against the kernel file
//! it comes from, read here independently. Tests that start workloads hold
//! the system lock so that they do not disturb tests measuring system-wide
//! deltas. Skipped (with a message) when not root.

use std::collections::BTreeMap;
use std::process::{Child, Command};

use memscope_testkit::{MIB, Workload, is_root, system_lock};
use serde_json::Value;

fn memscope(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run memscope");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let (code, out, err) = memscope(&a);
    assert!(code == 0 || code == 3, "memscope {args:?} exited {code}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("memscope {args:?}: not JSON ({e}): {out}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an unsigned number: {v}"))
}

/// `Key: N kB` lines of a /proc or /sys file, in bytes (any `Node N` prefix).
fn kb_fields(path: &str) -> BTreeMap<String, u64> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let mut v = v.split_whitespace();
            let n: u64 = v.next()?.parse().ok()?;
            (v.next() == Some("kB"))
                .then(|| (k.split_whitespace().last().unwrap_or("").to_string(), n * 1024))
        })
        .collect()
}

fn skip_unless_root(test: &str) -> bool {
    if !is_root() {
        eprintln!("{test}: skipped, needs root");
        return true;
    }
    false
}

#[test]
fn ps_agrees_with_each_process_own_smaps_rollup() {
    if skip_unless_root("ps_agrees_with_each_process_own_smaps_rollup") {
        return;
    }
    let _lock = system_lock();
    let w = Workload::spawn(&["touch", "--private", "32", "--shared", "16", "--sharers", "3"]);
    let list: Vec<String> = w.pids.iter().map(u32::to_string).collect();
    let rollups = || -> Vec<BTreeMap<String, u64>> {
        w.pids.iter().map(|p| kb_fields(&format!("/proc/{p}/smaps_rollup"))).collect()
    };
    // PSS of shared library pages changes whenever any process on the system
    // maps or unmaps them: compare only when the rollups held still around
    // memscope's read.
    for attempt in 0..10 {
        let before = rollups();
        let v = json(&["ps", "--pid", &list.join(",")]);
        if rollups() != before {
            eprintln!("attempt {attempt}: a rollup moved, again");
            continue;
        }
        let procs = v["processes"].as_array().unwrap();
        assert_eq!(procs.len(), 3);
        for (pid, r) in w.pids.iter().zip(&before) {
            let p = procs.iter().find(|p| p["pid"] == *pid).unwrap();
            assert_eq!(p["source"], "smaps_rollup");
            assert_eq!(u(&p["rss_bytes"]), r["Rss"], "pid {pid} Rss");
            // memscope maps the C library too while it reads: each shared
            // file page then has one more mapper and a smaller share. So its
            // PSS may be lower than ours, by at most half of the file part.
            let pss = u(&p["pss_bytes"]);
            assert!(pss <= r["Pss"] && r["Pss"] - pss <= r["Pss_File"] / 2, "pid {pid} Pss {pss} vs {r:?}");
            assert!(
                pss >= r["Pss_Anon"] + r["Pss_Shmem"],
                "pid {pid}: anonymous and shmem PSS are not shared with memscope"
            );
            // Likewise a page of the C library that only this process
            // maps is shared while memscope (or a memscope another test
            // runs) maps it too: USS may be lower, by clean private pages.
            let (uss, private) = (u(&p["uss_bytes"]), r["Private_Clean"] + r["Private_Dirty"]);
            assert!(uss <= private && private - uss <= r["Private_Clean"], "pid {pid} USS {uss} vs {r:?}");
            assert_eq!(u(&p["swap_bytes"]), r["Swap"], "pid {pid} Swap");
            let status = kb_fields(&format!("/proc/{pid}/status"));
            assert_eq!(u(&p["rss_anon_bytes"]), status["RssAnon"], "pid {pid} RssAnon");
        }
        // Known answer: 32 MiB private (shared copy-on-write with the forked
        // children) and 16 MiB shared: PSS counts each page once over the three.
        let pss_sum: u64 = procs.iter().map(|p| u(&p["pss_bytes"])).sum();
        assert!(pss_sum >= 48 * MIB, "PSS adds up the private and the shared memory once: {pss_sum}");
        assert_eq!(u(&v["totals"]["with_pss"]), 3);
        assert_eq!(u(&v["scan"]["rollup_read"]), 3);
        return;
    }
    panic!("the workload's smaps_rollup never held still");
}

#[test]
fn ps_fast_reads_status_only() {
    if skip_unless_root("ps_fast_reads_status_only") {
        return;
    }
    let _lock = system_lock();
    let w = Workload::spawn(&["touch", "--private", "16"]);
    let pid = w.pid().to_string();
    let v = json(&["ps", "--fast", "--pid", &pid]);
    let p = &v["processes"][0];
    assert_eq!(p["source"], "status");
    assert!(p["pss_bytes"].is_null() && p["uss_bytes"].is_null());
    let status = kb_fields(&format!("/proc/{pid}/status"));
    assert_eq!(u(&p["rss_bytes"]), status["VmRSS"]);
    assert_eq!(u(&v["scan"]["rollup_read"]), 0);
}

#[test]
fn ps_budget_and_size_cap_leave_a_large_process_on_status_figures() {
    if skip_unless_root("ps_budget_and_size_cap_leave_a_large_process_on_status_figures") {
        return;
    }
    let _lock = system_lock();
    let big = Workload::spawn(&["touch", "--private", "768"]);
    let small = Workload::spawn(&["touch", "--private", "4"]);
    let pids = format!("{},{}", big.pid(), small.pid());
    // Walking 768 MiB of 4 KiB pages takes tens of milliseconds: it is not
    // started within a 2 ms budget, while the small one may be.
    let v = json(&["ps", "--pid", &pids, "--budget-ms", "2"]);
    let row =
        |v: &Value, pid: u32| v["processes"].as_array().unwrap().iter().find(|p| p["pid"] == pid).cloned();
    let b = row(&v, big.pid()).unwrap();
    assert_eq!(b["source"], "status", "{b}");
    assert!(b["pss_unavailable"].as_str().unwrap().contains("budget"), "{b}");
    assert!(u(&b["rss_bytes"]) >= 768 * MIB);
    assert!(u(&v["totals"]["skipped_budget"]) >= 1);
    assert_eq!(u(&v["scan"]["budget_ms"]), 2);

    let v = json(&["ps", "--pid", &pids, "--max-rss", "256M"]);
    assert_eq!(row(&v, big.pid()).unwrap()["source"], "status");
    assert_eq!(row(&v, small.pid()).unwrap()["source"], "smaps_rollup");
    assert_eq!(u(&v["totals"]["skipped_size"]), 1);
    assert!(v["notes"].to_string().contains("--max-rss"));
}

#[test]
fn maps_totals_equal_smaps_rollup() {
    if skip_unless_root("maps_totals_equal_smaps_rollup") {
        return;
    }
    let _lock = system_lock();
    let locked = Workload::spawn(&["touch", "--private", "24", "--mlock"]);
    let shared = Workload::spawn(&["touch", "--shared", "8", "--sharers", "2"]);
    for (w, what) in [(&locked, "locked"), (&shared, "shared")] {
        let pid = w.pid().to_string();
        // smaps and smaps_rollup are two reads: retry while shared pages move.
        let mut v = json(&["maps", &pid]);
        for _ in 0..5 {
            if v["rollup_check"].as_array().unwrap().iter().all(|c| c["matches"] == true) {
                break;
            }
            v = json(&["maps", &pid]);
        }
        let checks = v["rollup_check"].as_array().unwrap();
        assert!(checks.len() >= 6 && checks.iter().all(|c| c["matches"] == true), "{what}: {checks:?}");
        let r = kb_fields(&format!("/proc/{pid}/smaps_rollup"));
        let t = &v["totals"];
        assert_eq!(u(&t["rss_bytes"]), r["Rss"], "{what}");
        assert_eq!(u(&t["mappings"]) as usize, v["mappings"].as_array().unwrap().len());
        if what == "locked" {
            assert_eq!(u(&t["locked_bytes"]), r["Locked"]);
            assert!(u(&t["locked_bytes"]) >= 24 * MIB, "the mlocked 24 MiB: {t}");
            assert!(u(&t["uss_bytes"]) >= 24 * MIB, "{t}");
        } else {
            // One mapping of 8 MiB, resident, shared by two: PSS is half of it.
            let m = v["mappings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["perms"] == "rw-s" && u(&m["size_bytes"]) == 8 * MIB)
                .expect("the shared mapping");
            assert_eq!(u(&m["shared_bytes"]), 8 * MIB);
            assert_eq!(u(&m["pss_bytes"]), 4 * MIB);
        }
    }
}

#[test]
fn numa_node_fields_add_up_and_the_process_view_matches_rss() {
    if skip_unless_root("numa_node_fields_add_up_and_the_process_view_matches_rss") {
        return;
    }
    let v = json(&["numa"]);
    let nodes: Vec<u64> = v["nodes"].as_array().unwrap().iter().map(u).collect();
    assert!(!nodes.is_empty());
    let mut node_total = 0;
    for (i, n) in nodes.iter().enumerate() {
        let m = kb_fields(&format!("/sys/devices/system/node/node{n}/meminfo"));
        let row = v["fields"].as_array().unwrap().iter().find(|f| f["field"] == "MemTotal").unwrap();
        assert_eq!(u(&row["node_bytes"][i]), m["MemTotal"], "node {n}");
        node_total += m["MemTotal"];
    }
    assert_eq!(u(&v["nodes_mem_total_bytes"]), node_total);
    for f in v["fields"].as_array().unwrap() {
        let sum: u64 = f["node_bytes"].as_array().unwrap().iter().filter_map(Value::as_u64).sum();
        assert_eq!(u(&f["total_bytes"]), sum, "{}", f["field"]);
    }
    // Whether the nodes add up to MemTotal is said exactly when they do not.
    let mem_total = kb_fields("/proc/meminfo")["MemTotal"];
    assert_eq!(u(&v["mem_total_bytes"]), mem_total);
    assert_eq!(v["notes"].to_string().contains("add up to"), node_total != mem_total, "{}", v["notes"]);

    let _lock = system_lock();
    let w = Workload::spawn(&["touch", "--private", "32"]);
    let pid = w.pid().to_string();
    let v = json(&["numa", "--pid", &pid]);
    let p = &v["processes"][0];
    assert!(p["unavailable"].is_null(), "{p}");
    let anon: u64 = p["kinds"]["anon"].as_array().unwrap().iter().map(u).sum();
    assert!(anon >= 32 * MIB, "the 32 MiB touched: {p}");
    // numa_maps counts resident pages of every mapping, like VmRSS.
    let rss = kb_fields(&format!("/proc/{pid}/status"))["VmRSS"];
    let total = u(&p["total_bytes"]);
    assert!(total.abs_diff(rss) <= rss / 20, "numa_maps {total} vs VmRSS {rss}");
}

/// Free blocks per order of each zone, keyed by (node, zone).
fn buddyinfo() -> BTreeMap<(u64, String), Vec<u64>> {
    std::fs::read_to_string("/proc/buddyinfo")
        .unwrap()
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let node = w[1].trim_end_matches(',').parse().unwrap();
            ((node, w[3].to_string()), w[4..].iter().map(|x| x.parse().unwrap()).collect())
        })
        .collect()
}

#[test]
fn zones_can_alloc_agrees_with_buddyinfo() {
    const ORDER: usize = 9;
    let high = |b: &BTreeMap<(u64, String), Vec<u64>>| -> BTreeMap<(u64, String), Vec<u64>> {
        b.iter().map(|(k, v)| (k.clone(), v[ORDER.min(v.len())..].to_vec())).collect()
    };
    // The free lists move all the time; high orders rarely. Retry until
    // buddyinfo is the same before and after memscope read it.
    for attempt in 0..20 {
        let before = buddyinfo();
        let v = json(&["zones", "--can-alloc", &format!("{ORDER}x2")]);
        let after = buddyinfo();
        if high(&before) != high(&after) {
            eprintln!("attempt {attempt}: buddyinfo moved, again");
            continue;
        }
        let c = &v["can_alloc"];
        let mut total = 0;
        for z in c["zones"].as_array().unwrap() {
            let counts = &before[&(u(&z["node"]), z["zone"].as_str().unwrap().to_string())];
            let expected: u64 = counts.iter().enumerate().skip(ORDER).map(|(k, n)| n << (k - ORDER)).sum();
            assert_eq!(u(&z["blocks"]), expected, "{z}");
            total += expected;
        }
        assert_eq!(u(&c["total_blocks"]), total);
        assert_eq!(c["possible"], total >= 2);
        let (code, _, _) = memscope(&["zones", "--can-alloc", &format!("{ORDER}x{}", total + 1_000_000)]);
        assert_eq!(code, 3, "more blocks than exist: exit 3");
        return;
    }
    panic!("buddyinfo never held still for one memscope run");
}

/// A child killed (and reaped) when dropped, even if the test fails.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn ps_groups_a_process_in_new_namespaces_as_a_container() {
    if skip_unless_root("ps_groups_a_process_in_new_namespaces_as_a_container") {
        return;
    }
    // unshare execs sleep in new mount, UTS and IPC namespaces (no fork).
    let child = Reaped(
        Command::new("unshare").args(["--mount", "--uts", "--ipc", "sleep", "300"]).spawn().expect("unshare"),
    );
    let pid = child.0.id() as u64;
    // Wait for the exec: the namespaces change before sleep runs.
    for _ in 0..100 {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "sleep" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let v = json(&["ps", "--group-by", "container"]);
    let groups = v["groups"].as_array().unwrap();
    let g = groups
        .iter()
        .find(|g| g["pids"].as_array().unwrap().iter().any(|p| u(p) == pid))
        .expect("the unshared process in a group");
    assert_eq!(g["runtime"], "namespaces", "{g}");
    assert!(g["key"].as_str().unwrap().ends_with("(mnt,uts,ipc ns)"), "{g}");
    assert!(groups.iter().any(|g| g["key"] == "host" && u(&g["processes"]) > 1));
}

#[test]
fn a_normal_user_gets_reasons_where_root_gets_figures() {
    if skip_unless_root("a_normal_user_gets_reasons_where_root_gets_figures") {
        return;
    }
    let _lock = system_lock();
    let w = Workload::spawn(&["touch", "--private", "8"]);
    let as_nobody = |args: &[&str]| -> Value {
        let out = memscope_testkit::as_nobody(env!("CARGO_BIN_EXE_memscope"))
            .args(args)
            .arg("--json")
            .output()
            .expect("setpriv (util-linux)");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = as_nobody(&["slab"]);
    assert!(v["unavailable"].as_str().unwrap().contains("root"), "{v}");
    let v = as_nobody(&["zones"]);
    assert!(v["pagetypeinfo_unavailable"].as_str().unwrap().contains("root"), "{v}");
    assert!(!v["zones"].as_array().unwrap().is_empty());
    let v = as_nobody(&["ps", "--pid", &w.pid().to_string()]);
    let p = &v["processes"][0];
    assert_eq!(p["source"], "status");
    assert!(p["pss_bytes"].is_null());
    assert!(p["pss_unavailable"].as_str().unwrap().contains("ptrace"), "{p}");
    assert!(u(&p["rss_bytes"]) >= 8 * MIB);
}

#[test]
fn views_read_a_captured_tree_like_the_live_system() {
    if skip_unless_root("views_read_a_captured_tree_like_the_live_system") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("memscope-views-capture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (code, _, err) = memscope(&["capture", "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let root = dir.to_str().unwrap();
    let result = std::panic::catch_unwind(|| {
        let slab = json(&["--root", root, "slab"]);
        // SLUB merges caches on every kernel memscope runs on: aliases survive capture.
        assert!(
            slab["caches"].as_array().unwrap().iter().any(|c| !c["aliases"].as_array().unwrap().is_empty())
        );
        assert!(slab["caches"].as_array().unwrap().iter().any(|c| c["reclaimable"] == true));
        let zones = json(&["--root", root, "zones"]);
        assert!(zones["pagetypeinfo_unavailable"].is_null(), "{}", zones["pagetypeinfo_unavailable"]);
        let ps = json(&["--root", root, "ps", "--group-by", "container"]);
        assert!(ps["groups"].as_array().unwrap().iter().any(|g| g["key"] == "host"));
        let vm = json(&["--root", root, "vmalloc"]);
        assert!(vm["unavailable"].is_null());
    });
    std::fs::remove_dir_all(&dir).unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// `/proc/PID/stat` fields after the command name (field 3 first).
fn stat_fields(pid: u32) -> Vec<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    s[s.rfind(')').unwrap() + 2..].split_whitespace().map(str::to_string).collect()
}

#[test]
fn ps_shows_the_masked_command_line_mem_percent_state_and_start_like_ps_aux() {
    use std::os::unix::process::CommandExt;
    // argv[0] is the process's own text: a secret there must not show.
    let child = Reaped(Command::new("sleep").arg0("hunter2-secret").arg("300").spawn().expect("sleep"));
    let pid = child.0.id();
    for _ in 0..100 {
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim() == "sleep" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let v = json(&["ps", "--pid", &pid.to_string()]);
    let text = v.to_string();
    assert!(!text.contains("hunter2"), "argv text leaked: {text}");
    let p = &v["processes"][0];
    // Named by its executable, as capture names it, and its argument.
    assert_eq!(p["command"], "sleep 300", "{p}");
    assert_eq!(p["state"], "S", "{p}");
    let fields = stat_fields(pid);
    let start_ticks: u64 = fields[19].parse().unwrap();
    assert_eq!(u(&p["started_after_boot_ms"]), start_ticks * 10);
    let btime: u64 = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
        .unwrap();
    assert_eq!(u(&p["started_at_unix_s"]), btime + start_ticks / 100);
    let total = kb_fields("/proc/meminfo")["MemTotal"] as f64;
    let pct = p["mem_percent"].as_f64().unwrap();
    let want = u(&p["rss_bytes"]) as f64 * 100.0 / total;
    assert!((pct - want).abs() <= 0.005 + 1e-9, "%MEM {pct} vs {want}");
    // The table: the same command, no argument text.
    let (code, out, _) = memscope(&["ps", "--wide", "--pid", &pid.to_string()]);
    assert_eq!(code, 0);
    assert!(out.lines().next().unwrap().contains("%MEM"), "{out}");
    assert!(out.contains("sleep 300") && !out.contains("hunter2"), "{out}");
    // Arguments that look like secrets are masked, the others shown.
    let shell = Reaped(
        Command::new("sh")
            .args(["-c", "sleep 300; :", "sh", "--password=hunter2", "--token", "hunter3", "--port", "5432"])
            .spawn()
            .expect("sh"),
    );
    let pid = shell.0.id();
    let v = json(&["ps", "--pid", &pid.to_string()]);
    let command = v["processes"][0]["command"].as_str().unwrap_or_default().to_string();
    assert!(!command.contains("hunter"), "{command}");
    assert!(command.ends_with("-c sleep 300; : sh --password=*** --token *** --port 5432"), "{command}");
}

/// Run `memscope ARGS --json`, returning its pid and the listed pids.
fn listed_pids_and_own(args: &[&str]) -> (u32, Vec<u64>) {
    let child = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(args)
        .arg("--json")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run memscope");
    let me = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (me, v["processes"].as_array().unwrap().iter().map(|p| u(&p["pid"])).collect())
}

#[test]
fn ps_leaves_memscope_itself_out_unless_asked() {
    let (me, pids) = listed_pids_and_own(&["ps", "memscope"]);
    assert!(!pids.contains(&u64::from(me)), "memscope {me} listed itself: {pids:?}");
    let (me, pids) = listed_pids_and_own(&["ps", "memscope", "--include-self"]);
    assert!(pids.contains(&u64::from(me)), "--include-self: {me} not in {pids:?}");
    // Nor in the whole listing.
    let (me, pids) = listed_pids_and_own(&["ps"]);
    assert!(!pids.contains(&u64::from(me)));
}
