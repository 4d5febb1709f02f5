//! `memscope cgroups` on hand-made trees: the same figures as table, JSON
//! and CSV, the version shown, `max` as unlimited, and the options that
//! choose rows.

use std::process::Command;

use serde_json::Value;

fn fixture(name: &str) -> String {
    memscope_testkit::fixture_dir(name).display().to_string()
}

fn memscope(tree: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["--root", &fixture(tree), "cgroups"])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run memscope");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn json(tree: &str, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    serde_json::from_str(&memscope(tree, &a)).expect("json")
}

fn cgroup<'a>(doc: &'a Value, path: &str) -> &'a Value {
    doc["cgroups"].as_array().unwrap().iter().find(|c| c["path"] == path).unwrap_or_else(|| panic!("{path}"))
}

#[test]
fn v2_json_has_the_figures_and_the_reasons() {
    let doc = json("cgroups-v2-pure", &[]);
    assert_eq!(doc["schema"], "memscope.cgroups/1");
    assert_eq!(doc["layout"]["kind"], "v2");
    let nginx = cgroup(&doc, "/system.slice/nginx.service");
    assert_eq!(nginx["versions"], serde_json::json!(["v2"]));
    assert_eq!(nginx["procs"], 2);
    assert_eq!(nginx["pss_bytes"], 65 << 20);
    let m = &nginx["memory"];
    assert_eq!(m["current_bytes"], 100 << 20);
    assert_eq!(m["limit_bytes"], 128 << 20);
    assert_eq!(m["swap_limit_bytes"], "max");
    assert_eq!(m["oom_events"], 3);
    assert_eq!(m["oom_kills"], 1);
    assert_eq!(m["stat"]["anon_bytes"], 60 << 20);
    assert_eq!(m["stat"]["sock_bytes"], 1 << 20);
    assert_eq!(m["beyond_pss"]["other_bytes"], 3 << 20);
    assert_eq!(nginx["cpuset"]["cpus"], "2-3");
    assert_eq!(nginx["pids"]["max"], 64);
    // This tree has no PSI files: memory.pressure is the only gap.
    let gaps = nginx["unavailable"].as_object().unwrap();
    assert_eq!(gaps.keys().collect::<Vec<_>>(), vec!["memory.pressure"]);
    assert!(gaps["memory.pressure"].as_str().unwrap().contains("nginx.service/memory.pressure"));
    assert_eq!(m["pressure"], Value::Null);
    // The top has no memory.current: null, with the reason.
    let top = cgroup(&doc, "/");
    assert_eq!(top["memory"]["current_bytes"], Value::Null);
    assert!(top["unavailable"]["memory.current_bytes"].as_str().unwrap().contains("top cgroup"));
    // The idle service (no process, no memory) is hidden; --all shows it.
    assert!(doc["cgroups"].as_array().unwrap().iter().all(|c| c["path"] != "/system.slice/idle.service"));
    let all = json("cgroups-v2-pure", &["--all"]);
    cgroup(&all, "/system.slice/idle.service");
}

#[test]
fn v1_json_says_what_v1_does_not_report() {
    let doc = json("cgroups-v1-pure", &[]);
    assert_eq!(doc["layout"]["kind"], "v1");
    let mysql = cgroup(&doc, "/system.slice/mysql.service");
    assert_eq!(mysql["memory"]["version"], "v1");
    assert_eq!(mysql["memory"]["limit_bytes"], 256 << 20);
    assert_eq!(mysql["memory"]["swap_bytes"], 20 << 20);
    assert_eq!(mysql["memory"]["oom_kills"], 2);
    assert_eq!(mysql["memory"]["oom_events"], Value::Null);
    assert!(
        mysql["unavailable"]["memory.oom_events"].as_str().unwrap().contains("cgroup v1 does not report")
    );
    assert_eq!(mysql["memory"]["stat"]["slab_bytes"], Value::Null);
    assert_eq!(mysql["cpuset"]["cpus"], "4-7");
    assert_eq!(mysql["cpuset"]["mems"], "1");
    assert_eq!(cgroup(&doc, "/user.slice")["memory"]["limit_bytes"], "max");
}

#[test]
fn table_shows_version_unlimited_and_the_explanation() {
    let t = memscope("cgroups-v1-pure", &[]);
    assert!(t.contains("cgroup v1: memory v1 at /sys/fs/cgroup/memory"), "{t}");
    let user = t.lines().find(|l| l.trim_start().starts_with("user.slice")).unwrap();
    assert!(user.contains(" v1 ") && user.contains("unlimited"), "{user}");
    // Notes are wrapped: compare with the blanks folded.
    let flat = t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(
            "/system.slice/mysql.service: current 200 MiB = PSS 180 MiB + page cache no process maps 12.0 MiB + \
             kernel 12.0 MiB + other -4.0 MiB"
        ),
        "{t}"
    );
    assert!(
        flat.contains("slab: unavailable for 4 cgroups (cgroup v1 does not report slab in memory.stat)"),
        "{t}"
    );
}

#[test]
fn csv_has_one_row_per_cgroup_with_max_for_no_limit() {
    let csv = memscope("cgroups-v2-pure", &["--csv"]);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "path");
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 7);
    let nginx = rows.iter().find(|r| r[0] == "/system.slice/nginx.service").unwrap();
    assert_eq!(nginx[col("current_bytes")], (100u64 << 20).to_string());
    assert_eq!(nginx[col("limit_bytes")], (128u64 << 20).to_string());
    assert_eq!(nginx[col("pids_max")], "64");
    let sshd = rows.iter().find(|r| r[0] == "/system.slice/sshd.service").unwrap();
    assert_eq!(sshd[col("limit_bytes")], "max");
    let top = rows.iter().find(|r| r[0] == "/").unwrap();
    assert_eq!(top[col("current_bytes")], "", "unavailable is empty, never 0");
}

#[test]
fn flat_sorts_by_memory_and_depth_limits_rows() {
    let t = memscope("cgroups-v2-pure", &["--flat"]);
    let first_rows: Vec<&str> = t
        .lines()
        .skip_while(|l| !(l.trim_start().starts_with("cgroup ") && l.contains(" ver ")))
        .skip(1)
        .take(3)
        .collect();
    assert!(first_rows[0].trim_start().starts_with("/system.slice "), "{t}");
    assert!(first_rows[1].trim_start().starts_with("/system.slice/nginx.service"), "{t}");
    let doc = json("cgroups-v2-pure", &["--depth", "1"]);
    assert!(doc["cgroups"].as_array().unwrap().iter().all(|c| c["depth"].as_u64().unwrap() <= 1));
    let doc = json("cgroups-v2-pure", &["--no-pss"]);
    assert_eq!(cgroup(&doc, "/system.slice/nginx.service")["pss_bytes"], Value::Null);
}

#[test]
fn container_shows_its_subtree() {
    let t = memscope("cgroups-v2-container-subtree", &[]);
    assert!(t.contains("Only the subtree /docker/3f2a9c is visible here"), "{t}");
    let doc = json("cgroups-v2-container-subtree", &[]);
    assert_eq!(doc["layout"]["visible_root"], "/docker/3f2a9c");
    assert_eq!(cgroup(&doc, "/docker/3f2a9c/app")["pss_bytes"], 42 << 20);
}

#[test]
fn inherited_limit_is_shown_with_the_cgroup_that_sets_it() {
    let doc = json("cgroups-v2-container-subtree", &["--all"]);
    let app = &cgroup(&doc, "/docker/3f2a9c/app")["memory"];
    assert_eq!(app["limit_bytes"], "max");
    assert_eq!(app["effective_limit_bytes"], 512u64 << 20);
    assert_eq!(app["limited_by"], "/docker/3f2a9c");
    let top = &cgroup(&doc, "/docker/3f2a9c")["memory"];
    assert_eq!(top["effective_limit_bytes"], 512u64 << 20);
    assert_eq!(top["limited_by"], Value::Null);
    let table = memscope("cgroups-v2-container-subtree", &["--all"]);
    let row = table.lines().find(|l| l.trim_start().starts_with("app ")).expect("app row");
    assert!(row.contains("512 MiB (/docker/3f2a9c)"), "{row}");
}

#[test]
fn the_root_figure_computed_differently_is_explained() {
    // v1: the root's usage is computed from its statistics, without kernel
    // memory; a child charged for slab can be larger.
    let v1 = memscope("cgroups-v1-pure", &[]);
    assert!(v1.contains("not a counter on cgroup v1") && v1.contains("more than `/`"), "{v1}");
    // v2: the root has no memory.current at all.
    let v2 = memscope("cgroups-v2-pure", &[]);
    assert!(v2.contains("The root has no memory.current on cgroup v2"), "{v2}");
    // A container's view holds no root: nothing to explain.
    let sub = memscope("cgroups-v2-container-subtree", &[]);
    assert!(!sub.contains("The root has no memory.current") && !sub.contains("not a counter"), "{sub}");
}
