//! Live known-answer tests of `memscope pages` and `memscope phys`: children
//! of memscope-workload hold memory of a known kind, and memscope must see
//! it page by page. They need root (kpageflags, PFNs in pagemap) and say so
//! when skipped. Every test holds the system lock: the phys tests measure
//! system-wide figures, and the others start workloads that would disturb
//! them.

use std::io::Read;
use std::process::Command;

use memscope_testkit::{MIB, Workload, is_root, system_lock};
use serde_json::Value;

const PAGE: u64 = 4096;

fn memscope_json(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(args)
        .arg("--json")
        .env("NO_COLOR", "1")
        .output()
        .expect("run memscope");
    assert!(out.status.success(), "memscope {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        return false;
    }
    eprintln!("{test}: skipped: needs root to read /proc/kpageflags and PFNs in pagemap");
    true
}

/// The address a workload printed as `name=0x…`.
fn info_addr(w: &Workload, name: &str) -> u64 {
    let v =
        w.info.iter().find_map(|i| i.strip_prefix(&format!("{name}="))).expect("address in the ready line");
    u64::from_str_radix(v.trim_start_matches("0x"), 16).expect("hex address")
}

fn mapping_at(doc: &Value, start: u64) -> &Value {
    doc["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["start"].as_u64() == Some(start))
        .unwrap_or_else(|| panic!("no mapping at {start:#x}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an unsigned integer: {v}"))
}

/// Pages of flag sets that include `name`.
fn pages_with_flag(doc: &Value, name: &str) -> u64 {
    doc["flags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["names"].as_array().unwrap().iter().any(|n| n == name))
        .map(|f| u(&f["pages"]))
        .sum()
}

#[test]
fn pages_of_an_mlocked_region_are_unevictable_and_mlocked() {
    if skip_unless_root("pages_of_an_mlocked_region_are_unevictable_and_mlocked") {
        return;
    }
    let _lock = system_lock();
    let mib = 32;
    let w = Workload::spawn(&["touch", "--private", &mib.to_string(), "--mlock"]);
    let start = info_addr(&w, "private");
    let pid = w.pid().to_string();

    let doc = memscope_json(&["pages", &pid]);
    let m = mapping_at(&doc, start);
    assert!(u(&m["unevictable_bytes"]) >= mib * MIB, "{m}");
    assert!(pages_with_flag(&doc, "unevictable") * PAGE >= mib * MIB);
    // The default view hides kernel-hacking bits such as mlocked.
    assert_eq!(pages_with_flag(&doc, "mlocked"), 0);

    let raw = memscope_json(&["pages", &pid, "--raw"]);
    assert!(u(&mapping_at(&raw, start)["mlocked_bytes"]) >= mib * MIB);
    assert!(pages_with_flag(&raw, "mlocked") * PAGE >= mib * MIB);
}

#[test]
fn pages_shared_by_three_processes_have_map_count_3() {
    if skip_unless_root("pages_shared_by_three_processes_have_map_count_3") {
        return;
    }
    let _lock = system_lock();
    let mib = 16;
    let w = Workload::spawn(&["touch", "--shared", &mib.to_string(), "--sharers", "3"]);
    assert_eq!(w.pids.len(), 3);
    let start = info_addr(&w, "shared");
    let pages = mib * MIB / PAGE;
    let range = format!("{}+{pages}", start / PAGE);
    let doc = memscope_json(&["pages", &w.pid().to_string(), "--list", "--mapcount", "--addr", &range]);
    let runs = doc["runs"].as_array().unwrap();
    let listed: u64 = runs.iter().map(|r| u(&r["pages"])).sum();
    assert_eq!(listed, pages, "every page of the shared region is present");
    for r in runs {
        assert_eq!(r["mapcount"].as_u64(), Some(3), "{r}");
    }
    let m = mapping_at(&doc, start);
    assert_eq!(u(&m["file_bytes"]), mib * MIB, "shared anonymous memory reads as file/shared");
    assert_eq!(u(&m["exclusive_bytes"]), 0);
    let hist = doc["mapcount"].as_array().unwrap();
    assert_eq!(hist.len(), 1);
    assert_eq!((u(&hist[0]["mapcount"]), u(&hist[0]["pages"])), (3, pages));
}

#[test]
fn pages_of_a_thp_region_carry_thp_where_the_kernel_gave_huge_pages() {
    if skip_unless_root("pages_of_a_thp_region_carry_thp_where_the_kernel_gave_huge_pages") {
        return;
    }
    let _lock = system_lock();
    let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    if mode.is_empty() || mode.contains("[never]") {
        eprintln!("pages_of_a_thp_region_…: skipped: transparent huge pages are off ({})", mode.trim());
        return;
    }
    let mib = 64;
    let w = Workload::spawn(&["touch", "--private", &mib.to_string(), "--thp"]);
    let start = info_addr(&w, "private");
    let huge_bytes = anon_huge_bytes(w.pid(), start);
    if huge_bytes == 0 {
        eprintln!(
            "pages_of_a_thp_region_…: skipped: the kernel gave this region no huge pages (AnonHugePages 0)"
        );
        return;
    }
    let doc = memscope_json(&["pages", &w.pid().to_string()]);
    let m = mapping_at(&doc, start);
    assert!(u(&m["thp_bytes"]) >= huge_bytes, "thp {} < AnonHugePages {huge_bytes}", m["thp_bytes"]);
    assert!(pages_with_flag(&doc, "thp") * PAGE >= huge_bytes);
}

/// `AnonHugePages` of the mapping starting at `start`, from smaps.
fn anon_huge_bytes(pid: u32, start: u64) -> u64 {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).expect("smaps");
    let header = format!("{start:x}-");
    let mut inside = false;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            inside = line.starts_with(&header);
        } else if inside && let Some(v) = line.strip_prefix("AnonHugePages:") {
            return v.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap_or(0) * 1024;
        }
    }
    0
}

#[test]
fn phys_counts_every_pfn_the_kernel_exposes() {
    if skip_unless_root("phys_counts_every_pfn_the_kernel_exposes") {
        return;
    }
    let _lock = system_lock();
    let doc = memscope_json(&["phys", "--flags-only"]);
    let mut f = std::fs::File::open("/proc/kpageflags").expect("open kpageflags");
    let mut buf = vec![0u8; 4 << 20];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).expect("read kpageflags");
        if n == 0 {
            break;
        }
        bytes += n as u64;
    }
    let pfns = bytes / 8;
    assert_eq!(u(&doc["scanned_pages"]), pfns);
    assert_eq!(u(&doc["end_pfn"]), pfns);
    let sum: u64 = doc["flags"].as_array().unwrap().iter().map(|f| u(&f["pages"])).sum();
    assert_eq!(sum, pfns);
}

/// `(page view, counter, drift)` of a cross-check row.
fn check(doc: &Value, key: &str) -> (i64, i64, i64) {
    let row = doc["cross_check"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no cross-check row {key}"));
    let i = |v: &Value| v.as_i64().unwrap_or_else(|| panic!("{key}: not a number: {row}"));
    (i(&row["page_view_bytes"]), i(&row["counter_bytes"]), i(&row["drift_bytes"]))
}

#[test]
fn phys_cross_check_agrees_with_meminfo_on_anon_and_slab() {
    if skip_unless_root("phys_cross_check_agrees_with_meminfo_on_anon_and_slab") {
        return;
    }
    let _lock = system_lock();
    // Enough anonymous memory that 2% of it is more than the pages in flight.
    let _w = Workload::spawn(&["touch", "--private", "256"]);
    let doc = memscope_json(&["phys", "--flags-only"]);
    for key in ["anon", "slab"] {
        let (pages, counter, drift) = check(&doc, key);
        // Within 2% of the counter, or of how much it moved during the scan.
        let tolerance = (counter / 50).max(drift);
        assert!(
            (pages - counter).abs() <= tolerance,
            "{key}: page flags {pages} vs counter {counter} (drift {drift}, tolerance {tolerance})"
        );
    }
}

/// The page-level estimate and the ledger's `unaccounted`, medians of 3 scans.
fn unaccounted_median() -> (i64, i64) {
    let mut page = Vec::new();
    let mut ledger = Vec::new();
    for _ in 0..3 {
        let doc = memscope_json(&["phys", "--flags-only"]);
        let (p, l, _) = check(&doc, "unaccounted");
        page.push(p);
        ledger.push(l);
    }
    page.sort_unstable();
    ledger.sort_unstable();
    (page[1], ledger[1])
}

#[test]
fn phys_unaccounted_estimate_moves_with_64_mib_of_pipe_buffers() {
    if skip_unless_root("phys_unaccounted_estimate_moves_with_64_mib_of_pipe_buffers") {
        return;
    }
    let _lock = system_lock();
    // Before, with and after the pipes: the mean of before and after stands
    // for "without" at the time of "with", so that kernel memory that other
    // work on the machine gains or frees steadily cancels out.
    let (page_before, ledger_before) = unaccounted_median();
    let w = Workload::spawn(&["pipes", "--mib", "64"]);
    let (page_with, ledger_with) = unaccounted_median();
    drop(w);
    let (page_after, ledger_after) = unaccounted_median();
    let mib = MIB as i64;
    let page_delta = page_with - (page_before + page_after) / 2;
    let ledger_delta = ledger_with - (ledger_before + ledger_after) / 2;
    eprintln!(
        "64 MiB of pipes: page-level unaccounted {} → {} → {} MiB, ledger {} → {} → {} MiB",
        page_before / mib,
        page_with / mib,
        page_after / mib,
        ledger_before / mib,
        ledger_with / mib,
        ledger_after / mib
    );
    // Pipe buffers are pages with no flags and no mappings, and in no counter.
    assert!(
        (32 * mib..=96 * mib).contains(&page_delta),
        "page-level unaccounted moved by {} MiB with 64 MiB of pipes (the ledger's by {} MiB)",
        page_delta / mib,
        ledger_delta / mib
    );
}

#[test]
fn pages_walks_more_mappings_than_page_types_caps() {
    if skip_unless_root("pages_walks_more_mappings_than_page_types_caps") {
        return;
    }
    let _lock = system_lock();
    // page-types stops at 10240 mappings.
    let count = 12_000u64;
    let w = Workload::spawn(&["maps", "--count", &count.to_string()]);
    let doc = memscope_json(&["pages", &w.pid().to_string()]);
    let mappings = doc["mappings"].as_array().unwrap();
    assert!(mappings.len() as u64 >= count, "{} mappings", mappings.len());
    // Every one-page mapping was touched: written, or read (mapping the zero page).
    let first = info_addr(&w, "first");
    let ours = mappings
        .iter()
        .filter(|m| u(&m["end"]) - u(&m["start"]) == PAGE && u(&m["present_bytes"]) == PAGE)
        .count() as u64;
    assert!(ours >= count, "{ours} one-page mappings present (first at {first:#x})");
}

fn memscope_as_nobody(args: &[&str]) -> std::process::Output {
    memscope_testkit::as_nobody(env!("CARGO_BIN_EXE_memscope")).args(args).output().expect("run setpriv")
}

#[test]
fn pages_as_a_normal_user_keeps_what_pagemap_says() {
    if skip_unless_root("pages_as_a_normal_user_keeps_what_pagemap_says") {
        return;
    }
    let _lock = system_lock();
    let mut cmd = memscope_testkit::as_nobody(memscope_testkit::workload_path());
    cmd.args(["touch", "--private", "8"]);
    let w = Workload::spawn_command(cmd);
    let out = memscope_as_nobody(&["pages", &w.pid().to_string(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let why = doc["flags_unavailable"].as_str().expect("flags unavailable as nobody");
    assert!(why.contains("kpageflags") || why.contains("CAP_SYS_ADMIN"), "{why}");
    assert_eq!(doc["flags"].as_array().unwrap().len(), 0);
    assert!(u(&doc["totals"]["present_bytes"]) >= 8 * MIB);
    assert!(u(&doc["totals"]["anon_bytes"]) >= 8 * MIB);
    assert!(doc["totals"]["thp_bytes"].is_null());
}

#[test]
fn phys_as_a_normal_user_names_the_privilege_it_needs() {
    if skip_unless_root("phys_as_a_normal_user_names_the_privilege_it_needs") {
        return;
    }
    let _lock = system_lock();
    let out = memscope_as_nobody(&["phys"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/proc/kpageflags") && err.contains("root"), "{err}");
}

/// A memory cgroup made for one test, removed on drop.
struct TestMemcg {
    dir: std::path::PathBuf,
    /// Its path inside the hierarchy, as memscope prints it.
    rel: String,
}

impl TestMemcg {
    fn create() -> Option<TestMemcg> {
        let v1 = std::path::Path::new("/sys/fs/cgroup/memory");
        let root = if v1.join("cgroup.procs").exists() {
            v1.to_path_buf()
        } else {
            let v2 = std::path::Path::new("/sys/fs/cgroup");
            let ctl = std::fs::read_to_string(v2.join("cgroup.controllers")).ok()?;
            if !ctl.split_whitespace().any(|c| c == "memory") {
                return None;
            }
            v2.to_path_buf()
        };
        let name = format!("memscope-test-pages-{}", std::process::id());
        let dir = root.join(&name);
        std::fs::create_dir(&dir).ok()?;
        Some(TestMemcg { dir, rel: format!("/{name}") })
    }
}

impl Drop for TestMemcg {
    fn drop(&mut self) {
        // The workload is gone by now (dropped first); its charges move to the parent.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

#[test]
fn pages_and_phys_name_the_memory_cgroup_a_workload_is_charged_to() {
    if skip_unless_root("pages_and_phys_name_the_memory_cgroup_a_workload_is_charged_to") {
        return;
    }
    let _lock = system_lock();
    let Some(cg) = TestMemcg::create() else {
        eprintln!("pages_and_phys_name_the_memory_cgroup_…: skipped: no writable memory cgroup hierarchy");
        return;
    };
    let mib = 32;
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec {} touch --private {mib}",
        cg.dir.display(),
        memscope_testkit::workload_path().display()
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]);
    let w = Workload::spawn_command(cmd);
    let doc = memscope_json(&["pages", &w.pid().to_string(), "--memcg"]);
    let rows = doc["memcg"].as_array().expect("memcg rows");
    let ours = rows.iter().find(|r| r["path"] == cg.rel.as_str()).unwrap_or_else(|| panic!("{rows:?}"));
    assert!(u(&ours["bytes"]) >= mib * MIB, "{ours}");

    let phys = memscope_json(&["phys", "--by", "memcg"]);
    let group = phys["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == cg.rel.as_str())
        .unwrap_or_else(|| panic!("no group {}", cg.rel));
    assert!(u(&group["class_bytes"]["anon"]) >= mib * MIB, "{group}");
    drop(w);
}
