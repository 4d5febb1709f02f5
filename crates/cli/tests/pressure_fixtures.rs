//! Memory pressure and the `free`-style headline on captured and hand-made
//! trees: the figures as the files hold them, and the reason where a tree
//! or a kernel has none.

use std::process::Command;

use serde_json::Value;

fn run(tree: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["--root", &memscope_testkit::fixture_dir(tree).display().to_string()])
        .args(args)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200")
        .output()
        .expect("run memscope");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn json(tree: &str, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    serde_json::from_str(&run(tree, &a)).expect("json")
}

#[test]
fn report_json_has_the_headline_and_the_stalls_of_a_stalling_machine() {
    let doc = json("psi-v2-memory-stalls", &["report"]);
    let h = &doc["headline"];
    // meminfo of the tree: MemTotal 24684084 kB, MemAvailable 24206808 kB,
    // SwapTotal 0; no iomem, so installed RAM is MemTotal.
    let mem_total = 24_684_084u64 * 1024;
    let available = 24_206_808u64 * 1024;
    assert_eq!(h["installed_bytes"], mem_total);
    assert_eq!(h["available_bytes"], available);
    assert_eq!(h["used_bytes"], mem_total - available);
    assert_eq!(h["free_total_bytes"], mem_total);
    assert_eq!(h["free_used_bytes"], mem_total - available);
    assert_eq!(h["swap_total_bytes"], 0);
    assert_eq!(h["swap_used_bytes"], 0);
    assert_eq!(h["unaccounted_bytes"], doc["unaccounted_bytes"]);
    assert!(h.get("unavailable").is_none(), "{h}");
    let p = &doc["pressure"];
    assert_eq!(p["some"]["avg10"], 12.5);
    assert_eq!(p["some"]["avg60"], 3.08);
    assert_eq!(p["some"]["avg300"], 0.71);
    assert_eq!(p["some"]["total_usec"], 1_602_356);
    assert_eq!(p["full"]["avg10"], 3.25);
    assert_eq!(p["full"]["total_usec"], 405_797);
    assert_eq!(
        p["meaning"],
        "tasks were stalled waiting for memory 12.50% of the last 10 s, and all of them at once 3.25%"
    );
    // The contract's names are still there.
    for k in ["mem_total_bytes", "installed_bytes", "unaccounted_bytes", "ledger", "processes"] {
        assert!(doc.get(k).is_some(), "{k}");
    }
}

#[test]
fn report_table_shows_the_headline_above_the_ledger() {
    let out = run("psi-v2-memory-stalls", &["report"]);
    let headline = out.find("Memory: installed 23.5 GiB").expect(&out);
    let ledger = out.find("category").expect("the ledger table");
    assert!(headline < ledger, "{out}");
    assert!(out.contains("available 23.1 GiB · no swap · unaccounted"), "{out}");
    assert!(
        out.contains("`free` would show total 23.5 GiB (MemTotal), used 466 MiB (MemTotal − MemAvailable)."),
        "{out}"
    );
    assert!(
        out.contains(
            "Pressure: some avg10 12.50% avg60 3.08% avg300 0.71%, 1.6 s stalled in total · full avg10 3.25%"
        ),
        "{out}"
    );
    assert!(out.contains("tasks were stalled waiting for memory 12.50% of the last 10 s"), "{out}");
}

#[test]
fn a_tree_without_pressure_files_says_not_in_this_captured_tree() {
    let doc = json("cgroups-v2-pure", &["report"]);
    assert!(doc["pressure"]["some"].is_null() && doc["pressure"]["full"].is_null());
    assert_eq!(doc["pressure"]["unavailable"], "/proc/pressure/memory is not in this captured tree");
    let out = run("cgroups-v2-pure", &["report"]);
    assert!(
        out.contains("Pressure: unavailable: /proc/pressure/memory is not in this captured tree"),
        "{out}"
    );
}

#[test]
fn node_exporter_pressure_reads_as_no_stall() {
    // node_exporter's fixture: every memory figure 0.
    let doc = json("node-exporter-numa-zfs", &["report"]);
    assert_eq!(doc["pressure"]["some"]["total_usec"], 0);
    assert_eq!(doc["pressure"]["meaning"], "no task waited for memory in the last 10 s");
}

#[test]
fn a_3_2_kernel_has_no_mem_available_and_the_headline_says_so() {
    let doc = json("ubuntu-3.2-tarball-nonroot", &["report"]);
    let h = &doc["headline"];
    assert!(
        h["available_bytes"].is_null() && h["used_bytes"].is_null() && h["free_used_bytes"].is_null(),
        "{h}"
    );
    let why = h["unavailable"]["available_bytes"].as_str().expect("a reason");
    assert!(why.contains("MemAvailable") && why.contains("3.14"), "{why}");
    assert!(h["installed_bytes"].as_u64().unwrap() > 0);
    let out = run("ubuntu-3.2-tarball-nonroot", &["report"]);
    assert!(out.contains("available unavailable"), "{out}");
}

#[test]
fn cgroups_show_memory_pressure_per_v2_cgroup_and_why_not() {
    let doc = json("psi-v2-memory-stalls", &["cgroups", "--all"]);
    let cg = |path: &str| {
        doc["cgroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["path"] == path)
            .unwrap_or_else(|| panic!("{path}"))
            .clone()
    };
    let nginx = cg("/system.slice/nginx.service");
    assert_eq!(nginx["memory"]["pressure"]["some"]["avg10"], 30.1);
    assert_eq!(nginx["memory"]["pressure"]["some"]["total_usec"], 1_500_000);
    assert_eq!(nginx["memory"]["pressure"]["full"]["avg10"], 8.0);
    let sshd = cg("/system.slice/sshd.service");
    assert!(sshd["memory"]["pressure"].is_null());
    let why = sshd["unavailable"]["memory.pressure"].as_str().expect("a reason");
    assert!(why.contains("sshd.service/memory.pressure"), "{why}");

    let table = run("psi-v2-memory-stalls", &["cgroups", "--all"]);
    assert!(table.contains("pressure some/full"), "{table}");
    let row = table.lines().find(|l| l.contains("nginx.service")).expect(&table);
    assert!(row.contains("30.10% / 8%") && row.contains("1.5 s"), "{row}");

    let csv = run("psi-v2-memory-stalls", &["cgroups", "--all", "--csv"]);
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == "pressure_some_avg10").unwrap();
    let line = csv.lines().find(|l| l.starts_with("/system.slice/nginx.service,")).unwrap();
    let cells: Vec<&str> = line.split(',').collect();
    assert_eq!(&cells[at..at + 4], &["30.1", "1500000", "8", "390000"]);
}

#[test]
fn v1_cgroups_say_once_that_v1_has_no_pressure() {
    let table = run("cgroups-v1-pure", &["cgroups", "--all"]);
    let said: Vec<&str> = table.lines().filter(|l| l.contains("does not report memory pressure")).collect();
    assert_eq!(said.len(), 1, "{table}");
    assert!(said[0].starts_with("- pressure: unavailable for"), "{table}");
}

#[test]
fn pressure_once_on_a_tree_and_watch_refused_on_a_tree() {
    let doc = json("psi-v2-memory-stalls", &["pressure", "--cgroup", "/system.slice/nginx.service"]);
    assert_eq!(doc["schema"], "memscope.pressure/1");
    assert_eq!(doc["source"], "/sys/fs/cgroup/system.slice/nginx.service/memory.pressure");
    assert_eq!(doc["some"]["total_usec"], 1_500_000);
    let doc = json("node-exporter-numa-zfs", &["pressure"]);
    assert_eq!(doc["taken_at_unix_ms"], 1_785_542_400_000u64, "the tree's MANIFEST captured_at");
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["--root", &memscope_testkit::fixture_dir("psi-v2-memory-stalls").display().to_string()])
        .args(["pressure", "--watch", "--duration", "1s"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("captured tree"));
    // The tree's file is untouched.
    let f = memscope_testkit::fixture_dir("psi-v2-memory-stalls").join("proc/pressure/memory");
    assert!(std::fs::read_to_string(f).unwrap().starts_with("some avg10=12.50"));
}
