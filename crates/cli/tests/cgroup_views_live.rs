//! `cgroups --ledger` and `ps --cgroup` on the running machine, a known
//! answer: a memory cgroup made for the test holding one process that
//! touched 64 MiB of anonymous memory. Its ledger row shows that anon (within
//! 5%), its lines and remainder add up to its usage, and `ps --cgroup` lists
//! exactly that process, by path and by name. Holds the cgroup and system
//! test locks; the process and the cgroup are removed when the test ends,
//! also when it fails.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use memscope_kernel::KernelRoot;
use memscope_kernel::cgroup::{Layout, Version};
use memscope_testkit::{MIB, SystemLock, Workload, cgroup_lock, is_root, system_lock, workload_path};
use serde_json::Value;

/// The test's cgroup; removed (its processes killed first) on drop.
struct Cg {
    dir: PathBuf,
    _locks: (SystemLock, SystemLock),
}

impl Drop for Cg {
    fn drop(&mut self) {
        memscope_testkit::remove_cgroup(&self.dir);
    }
}

fn memscope_json(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .env_remove("COLUMNS")
        .arg("--json")
        .args(args)
        .output()
        .expect("run memscope");
    assert!(out.status.success(), "memscope {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn within(what: &str, got: u64, want: u64, tolerance: f64) {
    let err = (got as f64 - want as f64).abs() / want as f64;
    assert!(
        err <= tolerance,
        "{what}: {got} bytes, expected {want} within {:.0}% (off by {:.1}%)",
        tolerance * 100.0,
        err * 100.0
    );
}

#[test]
fn ledger_row_and_ps_of_a_cgroup_holding_64_mib_of_anonymous_memory() {
    if !is_root() {
        eprintln!("skipped: creating a memory cgroup needs root");
        return;
    }
    let locks = (cgroup_lock(), system_lock());
    let layout = Layout::detect(&KernelRoot::live()).expect("mountinfo");
    let h = layout.controller("memory").expect("a memory controller");
    let name = format!("memscope-views-test-{}", std::process::id());
    let dir = PathBuf::from(&h.mount_point).join(&name);
    let cg = Cg { dir: dir.clone(), _locks: locks };
    std::fs::create_dir(&cg.dir).expect("mkdir the cgroup");

    // Join the cgroup first, then exec the workload: what it touches is charged there.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"echo $$ > "$1/cgroup.procs" && shift && exec "$@""#)
        .arg("sh")
        .arg(&dir)
        .arg(workload_path())
        .args(["touch", "--private", "64"]);
    let w = Workload::spawn_command(cmd);
    let path = format!("/{name}");

    let doc = memscope_json(&["cgroups", "--ledger", "--all"]);
    let usage_file = if h.version == Version::V1 { "memory.usage_in_bytes" } else { "memory.current" };
    let usage_now: u64 = std::fs::read_to_string(dir.join(usage_file)).unwrap().trim().parse().unwrap();
    assert_eq!(doc["schema"], "memscope.cgroups-ledger/1");
    let row = doc["cgroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == path.as_str())
        .unwrap_or_else(|| panic!("no row for {path}"));
    assert_eq!(row["version"], h.version.name());
    assert_eq!(row["procs"].as_u64(), Some(1), "{row:#}");
    let usage = row["usage_bytes"].as_u64().unwrap();
    within("usage against a second read", usage, usage_now, 0.02);
    within("anon", row["anon_bytes"].as_u64().unwrap(), 64 * MIB, 0.05);
    // The lines in the usage and the signed remainder add up to it exactly.
    let mut lines = vec!["anon_bytes", "page_cache_bytes", "shmem_bytes", "kernel_bytes"];
    if row["sock_in_usage"] == true {
        lines.push("sock_bytes");
    }
    let sum: i128 = lines
        .iter()
        .map(|k| i128::from(row[*k].as_u64().unwrap_or_else(|| panic!("{k} unavailable: {row:#}"))))
        .sum();
    let remainder = row["remainder_bytes"].as_i64().unwrap();
    assert_eq!(sum + i128::from(remainder), i128::from(usage));
    assert!(remainder.unsigned_abs() < 2 * MIB, "remainder {remainder}");
    let ws = row["working_set_bytes"].as_u64().unwrap();
    assert!(ws <= usage && ws >= 60 * MIB, "working set {ws} of usage {usage}");

    // ps --cgroup: exactly the workload, by the cgroup's path and by its name.
    for spec in [path.as_str(), name.as_str()] {
        let ps = memscope_json(&["ps", "--cgroup", spec]);
        let pids: BTreeSet<u64> =
            ps["processes"].as_array().unwrap().iter().map(|p| p["pid"].as_u64().unwrap()).collect();
        assert_eq!(pids, BTreeSet::from([u64::from(w.pid())]), "ps --cgroup {spec}");
    }
    drop(w);
    drop(cg);
    assert!(!dir.exists(), "the test cgroup is left behind");
}
