//! Trees from older and other kernels (tests/fixtures/<kernel>-…/, each
//! hand-made in that kernel's format): `report` and `ps` JSON checked
//! against figures recomputed here from the raw files, not against
//! memscope's own output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn tree(name: &str) -> PathBuf {
    let p = memscope_testkit::fixture_dir(name);
    assert!(p.join("MANIFEST").exists(), "fixture {name} has no MANIFEST");
    p
}

fn memscope_json(root: &Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .arg("--root")
        .arg(root)
        .args(args)
        .arg("--json")
        .output()
        .expect("run memscope");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn report(root: &Path) -> Value {
    memscope_json(root, &["report", "--top", "100"])
}

fn ps(root: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["ps"];
    args.extend_from_slice(extra);
    memscope_json(root, &args)
}

// ---- independent readings of the raw files

fn raw(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap_or_default()
}

/// `Key: N kB` lines in bytes.
fn kb_fields(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let mut w = v.split_whitespace();
            let n: u64 = w.next()?.parse().ok()?;
            (w.next() == Some("kB")).then(|| (k.trim().to_string(), n * 1024))
        })
        .collect()
}

fn meminfo(root: &Path) -> BTreeMap<String, u64> {
    kb_fields(&raw(root, "proc/meminfo"))
}

/// Sum of one `Key:` over every mapping of an smaps text, in bytes.
fn smaps_sum(text: &str, key: &str) -> u64 {
    let prefix = format!("{key}:");
    text.lines()
        .filter(|l| l.starts_with(&prefix))
        .map(|l| l[prefix.len()..].split_whitespace().next().unwrap().parse::<u64>().unwrap() * 1024)
        .sum()
}

/// Process directories of a tree whose status has `VmRSS` (not kernel threads).
fn user_pids(root: &Path) -> Vec<u64> {
    let mut pids: Vec<u64> = std::fs::read_dir(root.join("proc"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|pid: &u64| raw(root, &format!("proc/{pid}/status")).contains("VmRSS:"))
        .collect();
    pids.sort_unstable();
    pids
}

/// `pages=N` of every vmallocinfo line that is not ioremap, in pages.
fn vmalloc_pages(root: &Path) -> u64 {
    raw(root, "proc/vmallocinfo")
        .lines()
        .filter(|l| !l.split_whitespace().any(|w| w == "ioremap"))
        .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("pages="))?.parse::<u64>().ok())
        .sum()
}

/// Sizes of every vmallocinfo line (address space, ioremap included).
fn vmalloc_sizes(root: &Path) -> u64 {
    raw(root, "proc/vmallocinfo")
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// slabinfo: name → num_slabs × pagesperslab pages.
fn slab_pages(root: &Path) -> BTreeMap<String, u64> {
    raw(root, "proc/slabinfo")
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (head, rest) = l.split_once(" : tunables")?;
            let h: Vec<&str> = head.split_whitespace().collect();
            let pps: u64 = h.last()?.parse().ok()?;
            let slabs: u64 = rest.split(" : slabdata").nth(1)?.split_whitespace().nth(1)?.parse().ok()?;
            Some((h[0].to_string(), slabs * pps))
        })
        .collect()
}

// ---- JSON helpers

fn line<'a>(r: &'a Value, category: &str) -> &'a Value {
    r["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["category"] == category && l.get("parent").is_none())
        .unwrap_or_else(|| panic!("no {category} line"))
}

fn processes(doc: &Value) -> BTreeMap<u64, &Value> {
    doc["processes"].as_array().unwrap().iter().map(|p| (p["pid"].as_u64().unwrap(), p)).collect()
}

fn notes(doc: &Value) -> String {
    doc["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect::<Vec<_>>().join("\n")
}

/// Every process of the tree is listed with the PSS that summing its
/// smaps gives, by report and by ps alike, and none is "exited".
fn check_pss_from_smaps(root: &Path, source: &str) {
    let pids = user_pids(root);
    assert!(!pids.is_empty());
    let (rep, ps) = (report(root), ps(root, &[]));
    for doc in [&rep, &ps] {
        let listed = processes(doc);
        assert_eq!(listed.keys().copied().collect::<Vec<_>>(), pids, "{}", root.display());
        for pid in &pids {
            let smaps = raw(root, &format!("proc/{pid}/smaps"));
            let p = listed[pid];
            assert_eq!(p["pss_bytes"].as_u64(), Some(smaps_sum(&smaps, "Pss")), "pid {pid}");
            assert_eq!(p["rss_bytes"].as_u64(), Some(smaps_sum(&smaps, "Rss")), "pid {pid}");
            let uss = smaps_sum(&smaps, "Private_Clean") + smaps_sum(&smaps, "Private_Dirty");
            assert_eq!(p["uss_bytes"].as_u64(), Some(uss), "pid {pid}");
            assert_eq!(p["source"], source, "pid {pid}");
        }
        assert!(!notes(doc).contains("exited"), "{}", notes(doc));
    }
    assert_eq!(rep["process_totals"]["skipped_gone"], 0);
}

/// The slab detail lines never add up to more than their parent.
fn check_slab_details_within_parents(r: &Value) {
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for l in r["ledger"].as_array().unwrap().iter().filter(|l| l["category"] == "slab_cache") {
        *sums.entry(l["parent"].as_str().unwrap().to_string()).or_default() +=
            l["bytes"].as_i64().unwrap_or(0);
    }
    let top = |c: &str| line(r, c)["bytes"].as_i64().unwrap();
    for (parent, sum) in sums {
        let limit = match parent.as_str() {
            "slab" => top("slab_reclaimable") + top("slab_unreclaimable"),
            p => top(p),
        };
        assert!(sum <= limit, "details of {parent} add up to {sum} > {limit}");
    }
}

// ---- the trees

#[test]
fn rhel7_3_10_processes_are_listed_with_pss_summed_from_smaps() {
    check_pss_from_smaps(&tree("rhel7-3.10-no-rollup-v1"), "smaps");
}

#[test]
fn rhel7_3_10_kernel_release_comes_from_proc_version() {
    let root = tree("rhel7-3.10-no-rollup-v1");
    assert!(!root.join("proc/sys/kernel/osrelease").exists());
    let release = raw(&root, "proc/version").split_whitespace().nth(2).unwrap().to_string();
    assert_eq!(report(&root)["kernel"], release.as_str());
    assert_eq!(ps(&root, &[])["kernel"], release.as_str());
}

#[test]
fn rhel7_3_10_vmalloc_is_vmallocinfo_pages_not_the_address_space_of_vmallocused() {
    let root = tree("rhel7-3.10-no-rollup-v1");
    let r = report(&root);
    let v = line(&r, "vmalloc");
    assert_eq!(v["bytes"].as_u64(), Some(vmalloc_pages(&root) * 4096), "{v}");
    // The counter is the address space of every area, ioremap included.
    assert_eq!(meminfo(&root)["VmallocUsed"] / 1024, vmalloc_sizes(&root) / 1024);
    assert_ne!(v["bytes"].as_u64(), Some(meminfo(&root)["VmallocUsed"]));
}

#[test]
fn rhel7_3_10_slab_caches_with_unknown_reclaimability_stay_within_slab() {
    let root = tree("rhel7-3.10-no-rollup-v1");
    assert!(!root.join("sys/kernel/slab").exists());
    let r = report(&root);
    check_slab_details_within_parents(&r);
    let caches: Vec<&Value> =
        r["ledger"].as_array().unwrap().iter().filter(|l| l["category"] == "slab_cache").collect();
    assert!(!caches.is_empty());
    let slab = slab_pages(&root);
    for c in &caches {
        assert_eq!(c["parent"], "slab", "reclaimability unknown: {c}");
        assert_eq!(c["bytes"].as_u64(), Some(slab[c["name"].as_str().unwrap()] * 4096));
    }
    // The per-device cache with `:` in its name is a cache, not a malformed line.
    assert!(slab.contains_key("iwl_cmd_pool:0000:04:00.0"));
    assert!(!notes(&r).contains("malformed"), "{}", notes(&r));
    let json = memscope_json(&root, &["slab"]);
    assert!(
        json["caches"].as_array().unwrap().iter().any(|c| c["name"] == "iwl_cmd_pool:0000:04:00.0"),
        "{json}"
    );
}

#[test]
fn rhel7_3_10_group_by_cgroup_uses_the_v1_memory_hierarchy() {
    let root = tree("rhel7-3.10-no-rollup-v1");
    let doc = ps(&root, &["--group-by", "cgroup"]);
    let groups: BTreeMap<&str, Vec<u64>> = doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap(),
                g["pids"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap()).collect(),
            )
        })
        .collect();
    assert_eq!(groups["/system.slice/mariadb.service"], vec![1403]);
    assert_eq!(groups["/"], vec![1, 812, 2001]);
}

#[test]
fn ubuntu_3_2_tarball_without_cgroup_files_lists_every_process() {
    let root = tree("ubuntu-3.2-tarball-nonroot");
    assert!(!root.join("proc/915/cgroup").exists());
    check_pss_from_smaps(&root, "smaps");
    let doc = ps(&root, &["--group-by", "cgroup"]);
    let p = processes(&doc)[&915];
    assert!(p["cgroup"].is_null());
}

#[test]
fn ubuntu_3_2_release_from_the_manifest_and_no_mem_available() {
    let root = tree("ubuntu-3.2-tarball-nonroot");
    assert!(!root.join("proc/version").exists() && !root.join("proc/sys/kernel/osrelease").exists());
    let r = report(&root);
    assert_eq!(r["kernel"], "3.2.0-126-generic");
    assert!(!meminfo(&root).contains_key("MemAvailable"));
    // No `free` figure is made up without MemAvailable.
    assert!(!notes(&r).contains("MemAvailable"), "{}", notes(&r));
}

#[test]
fn ubuntu_3_2_empty_root_only_files_are_unavailable_not_zero() {
    let root = tree("ubuntu-3.2-tarball-nonroot");
    let r = report(&root);
    let v = line(&r, "vmalloc");
    assert_eq!(v["source"], "unavailable");
    assert!(v["bytes"].is_null());
    let why = v["reason"].as_str().unwrap();
    assert!(why.contains("address space") && why.contains("empty (read as non-root?)"), "{why}");
    let caches = r["ledger"].as_array().unwrap().iter().find(|l| l["category"] == "slab_cache").unwrap();
    assert!(caches["reason"].as_str().unwrap().contains("empty (read as non-root?)"), "{caches}");
    // The ledger still adds up, with no negative line but `unaccounted`.
    let m = meminfo(&root);
    assert_eq!(r["mem_total_bytes"].as_u64(), Some(m["MemTotal"]));
    for l in r["ledger"].as_array().unwrap() {
        if l["category"] != "unaccounted" {
            assert!(l["bytes"].as_i64().unwrap_or(0) >= 0, "{l}");
        }
    }
    let known = m["MemFree"]
        + m["AnonPages"]
        + m["Cached"]
        + m["Buffers"]
        + m["SwapCached"]
        + m["Slab"]
        + m["KernelStack"]
        + m["PageTables"];
    assert!(r["unaccounted_bytes"].as_i64().unwrap() <= (m["MemTotal"] - known) as i64);
}

#[test]
fn debian9_4_9_vmallocused_zero_is_not_taken_for_a_figure() {
    let root = tree("debian9-4.9-vmallocused-zero");
    assert_eq!(meminfo(&root)["VmallocUsed"], 0);
    let r = report(&root);
    assert_eq!(line(&r, "vmalloc")["bytes"].as_u64(), Some(vmalloc_pages(&root) * 4096));
    check_pss_from_smaps(&root, "smaps");
    // RssAnon exists since 4.5: the split is read from status.
    let doc = ps(&root, &[]);
    let p = processes(&doc)[&700];
    let st = kb_fields(&raw(&root, "proc/700/status"));
    assert_eq!(p["rss_anon_bytes"].as_u64(), Some(st["RssAnon"]));
}

#[test]
fn debian9_4_9_slab_caches_split_by_the_flags_that_are_known() {
    let root = tree("debian9-4.9-vmallocused-zero");
    let r = report(&root);
    check_slab_details_within_parents(&r);
    let parent_of = |name: &str| {
        r["ledger"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .map(|l| l["parent"].clone())
            .unwrap()
    };
    assert_eq!(parent_of("dentry"), "slab_reclaimable");
    assert_eq!(parent_of("kmalloc-256"), "slab_unreclaimable");
    assert!(!root.join("sys/kernel/slab/buffer_head").exists());
    assert_eq!(parent_of("buffer_head"), "slab");
}

#[test]
fn debian9_4_9_without_a_known_release_vmalloc_is_not_guessed() {
    // The same tree with its release removed everywhere, and vmallocinfo
    // unreadable: what VmallocUsed counts cannot be told.
    let src = tree("debian9-4.9-vmallocused-zero");
    let dir = std::env::temp_dir().join(format!("memscope-old-kernels-norelease-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&src, &dir);
    std::fs::remove_file(dir.join("proc/sys/kernel/osrelease")).unwrap();
    let manifest: String = raw(&dir, "MANIFEST")
        .lines()
        .filter(|l| !l.starts_with("kernel:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("MANIFEST"), manifest).unwrap();
    std::fs::write(dir.join("proc/vmallocinfo"), "").unwrap();
    let r = report(&dir);
    assert!(r["kernel"].is_null());
    let v = line(&r, "vmalloc");
    assert_eq!(v["source"], "unavailable", "{v}");
    assert!(v["reason"].as_str().unwrap().contains("release is unknown"), "{v}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rhel8_4_18_process_without_a_cgroup_file_is_listed_by_ps_and_report() {
    let root = tree("rhel8-4.18-v1-nonroot");
    assert!(!root.join("proc/2210/cgroup").exists());
    let (r, p) = (report(&root), ps(&root, &[]));
    let pids = user_pids(&root);
    assert_eq!(processes(&r).keys().copied().collect::<Vec<_>>(), pids);
    assert_eq!(processes(&p).keys().copied().collect::<Vec<_>>(), pids);
    for pid in &pids {
        let rollup = kb_fields(&raw(&root, &format!("proc/{pid}/smaps_rollup")));
        assert_eq!(processes(&p)[pid]["pss_bytes"].as_u64(), Some(rollup["Pss"]));
        assert_eq!(processes(&p)[pid]["source"], "smaps_rollup");
    }
    assert!(!notes(&p).contains("exited"), "{}", notes(&p));
}

#[test]
fn rhel8_4_18_group_by_cgroup_per_service_memory_cgroup() {
    let root = tree("rhel8-4.18-v1-nonroot");
    let doc = ps(&root, &["--group-by", "cgroup"]);
    let key_of = |pid: u64| {
        doc["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["pids"].as_array().unwrap().contains(&pid.into()))
            .unwrap()["key"]
            .clone()
    };
    assert_eq!(key_of(1500), "/system.slice/httpd.service");
    assert_eq!(key_of(1501), "/system.slice/httpd.service");
    assert_eq!(key_of(1800), "/system.slice/postgresql.service");
}

#[test]
fn rhel8_4_18_vmalloc_unreadable_and_counter_zero_is_unavailable() {
    let root = tree("rhel8-4.18-v1-nonroot");
    let v = line(&report(&root), "vmalloc").clone();
    assert_eq!(v["source"], "unavailable");
    assert!(v["reason"].as_str().unwrap().contains("4.4 to 5.2"), "{v}");
}

#[test]
fn debian11_5_10_hybrid_groups_by_the_memory_controller_not_the_empty_v2_root() {
    let root = tree("debian11-5.10-hybrid-docker");
    let doc = ps(&root, &["--group-by", "cgroup"]);
    for p in doc["processes"].as_array().unwrap() {
        let pid = p["pid"].as_u64().unwrap();
        let memory = raw(&root, &format!("proc/{pid}/cgroup"))
            .lines()
            .find_map(|l| l.split_once(":memory:").map(|(_, path)| path.to_string()))
            .unwrap();
        assert_eq!(p["cgroup"], memory.as_str(), "pid {pid}");
    }
    assert!(doc["groups"].as_array().unwrap().len() >= 3, "{}", doc["groups"]);
}

#[test]
fn debian11_5_10_vmalloc_is_vmallocused_minus_vmalloced_stacks() {
    let root = tree("debian11-5.10-hybrid-docker");
    let m = meminfo(&root);
    let stack_pages: u64 = raw(&root, "proc/vmallocinfo")
        .lines()
        .filter(|l| l.contains(" copy_process+"))
        .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("pages="))?.parse::<u64>().ok())
        .sum();
    let want = m["VmallocUsed"] - (stack_pages * 4096).min(m["KernelStack"]);
    assert_eq!(line(&report(&root), "vmalloc")["bytes"].as_u64(), Some(want));
}

#[test]
fn centos9_5_14_empty_vmallocinfo_is_not_zero_stacks() {
    let root = tree("centos9-5.14-v2-nonroot");
    let m = meminfo(&root);
    let r = report(&root);
    let v = line(&r, "vmalloc");
    // An empty vmallocinfo (copied as non-root) says nothing about stacks:
    // the counter, less KernelStack, as on a host where vmallocinfo is unreadable.
    assert_eq!(v["bytes"].as_u64(), Some(m["VmallocUsed"] - m["KernelStack"]), "{v}");
    assert!(v["note"].as_str().unwrap().contains("empty (read as non-root?)"), "{v}");
    check_slab_details_within_parents(&r);
}

#[test]
fn centos9_5_14_pure_v2_groups_by_the_v2_path() {
    let root = tree("centos9-5.14-v2-nonroot");
    let doc = ps(&root, &["--group-by", "cgroup"]);
    let p = processes(&doc);
    assert_eq!(p[&1100]["cgroup"], "/system.slice/httpd.service");
    assert_eq!(p[&1]["cgroup"], "/init.scope");
}

#[test]
fn android_3_4_arm32_highmem_reads_right() {
    let root = tree("android-3.4-arm32-highmem");
    check_pss_from_smaps(&root, "smaps");
    let m = meminfo(&root);
    assert_eq!(m["HighTotal"] + m["LowTotal"], m["MemTotal"]);
    let r = report(&root);
    assert_eq!(r["mem_total_bytes"].as_u64(), Some(m["MemTotal"]));
    assert_eq!(line(&r, "free")["bytes"].as_u64(), Some(m["MemFree"]));
    assert_eq!(line(&r, "file")["bytes"].as_u64(), Some(m["Cached"] - m["Shmem"]));
    // 32-bit vmallocinfo with phys= on ioremap areas (3.4 prints it without 0x).
    assert_eq!(line(&r, "vmalloc")["bytes"].as_u64(), Some(vmalloc_pages(&root) * 4096));
    check_slab_details_within_parents(&r);
    // zoneinfo without `managed` and a HighMem zone; buddyinfo of the same zones.
    let z = memscope_json(&root, &["zones"]);
    let zones: Vec<&str> =
        z["zones"].as_array().unwrap().iter().map(|z| z["zone"].as_str().unwrap()).collect();
    assert_eq!(zones, vec!["Normal", "HighMem"]);
    let high = &z["zones"][1];
    assert!(high["managed_pages"].is_null(), "{high}");
    let buddy = raw(&root, "proc/buddyinfo");
    let high_blocks: Vec<u64> =
        buddy.lines().nth(1).unwrap().split_whitespace().skip(4).map(|n| n.parse().unwrap()).collect();
    let got: Vec<u64> = high["free_blocks"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect();
    assert_eq!(got, high_blocks);
}

#[test]
fn old_kernel_status_without_rss_split_is_null_not_zero() {
    // RssAnon/RssFile/RssShmem exist since 4.5 (3.10 has none).
    let root = tree("rhel7-3.10-no-rollup-v1");
    let doc = ps(&root, &[]);
    for p in doc["processes"].as_array().unwrap() {
        assert!(p["rss_anon_bytes"].is_null() && p["rss_shmem_bytes"].is_null(), "{p}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn live_group_by_cgroup_uses_the_memory_controllers_hierarchy() {
    // This host's own process: on v1 and hybrid hosts the memory
    // controller's path (the v2 hierarchy of a hybrid host holds no
    // controller), on a pure v2 host the v2 path.
    let me = std::process::id();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let memory = own.lines().find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()));
    let v2 = own.lines().find_map(|l| l.strip_prefix("0::").map(str::to_string));
    let want = memory.or(v2).expect("a memory or v2 cgroup line");
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["ps", "--group-by", "cgroup", "--fast", "--json", "--pid", &me.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["processes"][0]["cgroup"], want.as_str(), "{doc}");
    assert_eq!(doc["groups"][0]["key"], want.as_str());
}
