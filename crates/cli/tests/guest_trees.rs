//! Trees captured by `memscope capture` in qemu guests of Debian's 6.1
//! kernel (tests/fixtures/guest-6.1-*: pure cgroup v2 with two NUMA nodes,
//! and cgroup v1 only), with known workloads running. Every figure is
//! checked against the raw files of the tree, read here, and against what
//! the workloads were known to hold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const MIB: u64 = 1 << 20;
const V2_NUMA: &str = "guest-6.1-v2-numa-2node";
const V1_ONLY: &str = "guest-6.1-v1-only";

fn tree(name: &str) -> PathBuf {
    memscope_testkit::fixture_dir(name)
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

/// `Key: N kB` lines of a meminfo-like file, in bytes (per-node files put
/// `Node N` before the key).
fn kb_fields(path: &Path) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.strip_prefix("Node ").map(|l| l.split_once(' ').unwrap().1).unwrap_or(line);
        let Some((k, v)) = line.split_once(':') else { continue };
        let mut w = v.split_whitespace();
        let (Some(n), unit) = (w.next().and_then(|n| n.parse::<u64>().ok()), w.next()) else { continue };
        out.insert(k.trim().to_string(), if unit == Some("kB") { n * 1024 } else { n });
    }
    out
}

/// Installed RAM: the `System RAM` ranges of the tree's iomem.
fn system_ram(root: &Path) -> u64 {
    std::fs::read_to_string(root.join("proc/iomem"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with(' ') && l.ends_with(": System RAM"))
        .map(|l| {
            let (a, b) = l.split(' ').next().unwrap().split_once('-').unwrap();
            u64::from_str_radix(b, 16).unwrap() - u64::from_str_radix(a, 16).unwrap() + 1
        })
        .sum()
}

/// Pids of the tree's processes whose command name is `comm`.
fn pids_named(root: &Path, comm: &str) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir(root.join("proc"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|pid: &u32| {
            std::fs::read_to_string(root.join(format!("proc/{pid}/stat")))
                .is_ok_and(|s| s.split_once(" (").is_some_and(|(_, r)| r.starts_with(&format!("{comm})"))))
        })
        .collect();
    pids.sort();
    pids
}

fn rollup_pss(root: &Path, pid: u32) -> u64 {
    kb_fields(&root.join(format!("proc/{pid}/smaps_rollup")))["Pss"]
}

fn check_ledger(name: &str) {
    let root = tree(name);
    let r = memscope_json(&root, &["report"]);
    let meminfo = kb_fields(&root.join("proc/meminfo"));
    assert_eq!(r["installed_bytes"], system_ram(&root));
    assert_eq!(r["mem_total_bytes"], meminfo["MemTotal"]);
    assert_eq!(r["kernel"], "6.1.0-57-amd64");
    let ledger = r["ledger"].as_array().unwrap();
    let line = |c: &str| ledger.iter().find(|l| l["category"] == c).unwrap_or_else(|| panic!("{c}"));
    assert_eq!(line("free")["bytes"], meminfo["MemFree"]);
    assert_eq!(line("anon")["bytes"], meminfo["AnonPages"]);
    assert_eq!(line("file")["bytes"], meminfo["Cached"] - meminfo["Shmem"]);
    assert_eq!(line("reserved")["bytes"], system_ram(&root) - meminfo["MemTotal"]);
    // The top-level lines add up to installed RAM, and no detail exceeds its parent.
    let top: i64 =
        ledger.iter().filter(|l| l.get("parent").is_none()).map(|l| l["bytes"].as_i64().unwrap()).sum();
    assert_eq!(top as u64, system_ram(&root));
    for parent in ledger.iter().filter(|l| l.get("parent").is_none()) {
        let kids: i64 = ledger
            .iter()
            .filter(|l| l.get("parent") == Some(&parent["category"]))
            .map(|l| l["bytes"].as_i64().unwrap())
            .sum();
        assert!(kids <= parent["bytes"].as_i64().unwrap(), "{}: details {kids}", parent["category"]);
    }
    // The eight 2 MiB huge pages reserved when it was captured.
    let huge: i64 =
        ledger.iter().filter(|l| l["category"] == "hugetlb").map(|l| l["bytes"].as_i64().unwrap()).sum();
    assert_eq!(huge, 8 * 2 * MIB as i64);
}

fn check_processes(name: &str) {
    let root = tree(name);
    let ps = memscope_json(&root, &["ps", "--group-by", "cgroup"]);
    let procs = ps["processes"].as_array().unwrap();
    // Every process with a smaps_rollup shows its Pss as PSS.
    for p in procs.iter().filter(|p| p["source"] == "smaps_rollup") {
        let pid = p["pid"].as_u64().unwrap() as u32;
        assert_eq!(p["pss_bytes"], rollup_pss(&root, pid), "pid {pid}");
    }
    // The two workloads: 96 MiB and 32 MiB touched, the second in /a/b.
    let workloads = pids_named(&root, "memscope-worklo");
    assert_eq!(workloads.len(), 2, "{workloads:?}");
    let mut sizes: Vec<(u64, String)> = workloads
        .iter()
        .map(|pid| {
            let p = procs.iter().find(|p| p["pid"] == *pid).unwrap_or_else(|| panic!("pid {pid} not listed"));
            (p["pss_bytes"].as_u64().unwrap(), p["cgroup"].as_str().unwrap().to_string())
        })
        .collect();
    sizes.sort();
    assert!((32 * MIB..34 * MIB).contains(&sizes[0].0), "{sizes:?}");
    assert_eq!(sizes[0].1, "/a/b");
    assert!((96 * MIB..98 * MIB).contains(&sizes[1].0), "{sizes:?}");
    assert_eq!(sizes[1].1, "/");
    let group = ps["groups"].as_array().unwrap().iter().find(|g| g["key"] == "/a/b").expect("group /a/b");
    assert_eq!(group["pss_bytes"], sizes[0].0);
    // The cgroup comes from the hierarchy the tree's cgroup file names.
    let pid = workloads.iter().find(|p| rollup_pss(&root, **p) == sizes[0].0).unwrap();
    let cg = std::fs::read_to_string(root.join(format!("proc/{pid}/cgroup"))).unwrap();
    assert!(cg.lines().any(|l| l.ends_with(":/a/b")), "{cg}");
}

#[test]
fn v2_numa_guest_ledger_adds_up_from_its_files() {
    check_ledger(V2_NUMA);
}

#[test]
fn v1_guest_ledger_adds_up_from_its_files() {
    check_ledger(V1_ONLY);
}

#[test]
fn v2_numa_guest_processes_and_their_cgroups() {
    check_processes(V2_NUMA);
}

#[test]
fn v1_guest_processes_and_their_memory_cgroups() {
    check_processes(V1_ONLY);
}

#[test]
fn v2_numa_guest_nodes_hold_what_their_files_say() {
    let root = tree(V2_NUMA);
    let n = memscope_json(&root, &["numa"]);
    let fields = n["fields"].as_array().unwrap();
    for node in 0..2 {
        let raw = kb_fields(&root.join(format!("sys/devices/system/node/node{node}/meminfo")));
        for key in ["MemTotal", "MemFree", "AnonPages"] {
            let f = fields.iter().find(|f| f["field"] == key).unwrap_or_else(|| panic!("{key}"));
            assert_eq!(f["node_bytes"][node], raw[key], "node {node} {key}");
        }
    }
    // The 96 MiB workload was bound to node 1: node 1 holds it, node 0 does not.
    let anon = |node: usize| {
        fields.iter().find(|f| f["field"] == "AnonPages").unwrap()["node_bytes"][node].as_u64().unwrap()
    };
    assert!(anon(1) >= 96 * MIB && anon(0) < 96 * MIB, "{} {}", anon(0), anon(1));
    let hp: Vec<(u64, u64)> = n["hugepages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["page_size_bytes"] == 2 * MIB)
        .map(|h| (h["node"].as_u64().unwrap(), h["nr_hugepages"].as_u64().unwrap()))
        .collect();
    assert_eq!(hp, [(0, 0), (1, 8)]);
    // Zones of node 1: their free pages are the zoneinfo's, node 1 only.
    let z = memscope_json(&root, &["zones", "--node", "1"]);
    let zones = z["zones"].as_array().unwrap();
    assert!(!zones.is_empty() && zones.iter().all(|x| x["node"] == 1));
    let zoneinfo = std::fs::read_to_string(root.join("proc/zoneinfo")).unwrap();
    let mut node1_free = 0;
    let mut node = None;
    for line in zoneinfo.lines() {
        if let Some(rest) = line.strip_prefix("Node ") {
            node = rest.split(',').next().and_then(|n| n.parse::<u32>().ok());
        } else if let Some(v) = line.trim().strip_prefix("nr_free_pages ")
            && node == Some(1)
        {
            node1_free += v.trim().parse::<u64>().unwrap();
        }
    }
    assert_eq!(zones.iter().map(|x| x["free_pages"].as_u64().unwrap()).sum::<u64>(), node1_free);
}
