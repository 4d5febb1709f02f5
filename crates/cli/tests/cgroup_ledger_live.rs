//! `memscope report --cgroup` on the running machine, a known answer: a
//! memory cgroup holding one process with 64 MiB anonymous memory, 32 MiB of
//! page cache it read, a 16 MiB tmpfs file and 8 MiB of unread loopback TCP
//! data. Each line of the ledger is checked against what was made, the
//! lines against the usage, and the working set against the kernel's own
//! figures. Holds the cgroup and system test locks; the cgroup, its process
//! and the files are removed when the test ends, also when it fails.

use std::path::PathBuf;
use std::process::Command;

use memscope_kernel::KernelRoot;
use memscope_kernel::cgroup::{Layout, Version};
use memscope_testkit::{MIB, SystemLock, Workload, cgroup_lock, is_root, system_lock, workload_path};
use serde_json::Value;

/// The test's cgroup and files; on drop the files are removed, then the
/// cgroup's processes killed and the cgroup removed.
struct Cg {
    dir: PathBuf,
    files: Vec<PathBuf>,
    _locks: (SystemLock, SystemLock),
}

impl Drop for Cg {
    fn drop(&mut self) {
        // Unlinked first: the killed processes' last references free their pages
        // before the cgroup goes.
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        memscope_testkit::remove_cgroup(&self.dir);
    }
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

fn line<'a>(doc: &'a Value, section: &str, key: &str) -> &'a Value {
    doc[section]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == key)
        .unwrap_or_else(|| panic!("no {section} line {key}: {doc:#}"))
}

fn bytes(v: &Value) -> u64 {
    v["bytes"].as_u64().unwrap_or_else(|| panic!("no bytes in {v}"))
}

#[test]
fn v1_ledger_of_a_known_container_mix() {
    if !is_root() {
        eprintln!("skipped: creating a memory cgroup needs root");
        return;
    }
    let locks = (cgroup_lock(), system_lock());
    let layout = Layout::detect(&KernelRoot::live()).expect("mountinfo");
    let h = layout.controller("memory").expect("a memory controller");
    assert_eq!(h.version, Version::V1, "this test runs on the v1 memory controller (a hybrid host)");
    let name = format!("memscope-ledger-test-{}", std::process::id());
    let dir = PathBuf::from(&h.mount_point).join(&name);
    let scratch =
        std::env::var_os("CARGO_TARGET_TMPDIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let file = scratch.join(format!("{name}.cache"));
    let shm = PathBuf::from("/dev/shm").join(format!("{name}.tmpfs"));
    let cg = Cg { dir: dir.clone(), files: vec![file.clone(), shm.clone()], _locks: locks };
    std::fs::create_dir(&cg.dir).expect("mkdir the cgroup");
    // v1 charges socket buffers to a cgroup only once this file was written
    // (mm/memcontrol-v1.c tcpmem_active), and only for sockets created after.
    std::fs::write(dir.join("memory.kmem.tcp.limit_in_bytes"), format!("{}", 1u64 << 30)).unwrap();

    // Join the cgroup first, then exec the workload: everything it makes is charged there.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"echo $$ > "$1/cgroup.procs" && shift && exec "$@""#)
        .arg("sh")
        .arg(&dir)
        .arg(workload_path())
        .args(["container", "--anon", "64", "--cache", "32", "--tmpfs", "16", "--tcp", "8"])
        .arg("--file")
        .arg(&file)
        .arg("--shm")
        .arg(&shm);
    let w = Workload::spawn_command(cmd);
    let queued: u64 = w.info.iter().find_map(|i| i.strip_prefix("queued=")).unwrap().parse().unwrap();
    assert!(queued >= 7 * MIB, "only {queued} bytes queued");

    let path = format!("/{name}");
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["--json", "report", "--cgroup", &path])
        .output()
        .expect("run memscope");
    assert!(out.status.success(), "memscope failed: {}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // The kernel's own figures, read right after.
    let usage_now: u64 =
        std::fs::read_to_string(dir.join("memory.usage_in_bytes")).unwrap().trim().parse().unwrap();

    assert_eq!(doc["schema"], "memscope.report-cgroup/1");
    assert_eq!(doc["cgroup"], path.as_str());
    assert_eq!(doc["version"], "v1");
    let usage = doc["usage_bytes"].as_u64().unwrap();
    within("usage against a second read", usage, usage_now, 0.02);

    within("anon", bytes(line(&doc, "lines", "anon")), 64 * MIB, 0.05);
    within("page cache", bytes(line(&doc, "lines", "page_cache")), 32 * MIB, 0.05);
    within("shmem", bytes(line(&doc, "lines", "shmem")), 16 * MIB, 0.05);
    within("sockets", bytes(line(&doc, "beside", "sock")), queued, 0.15);
    // The top-level lines and the signed remainder add up to the usage exactly.
    let top: i128 = doc["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["parent"].is_null())
        .map(|l| i128::from(bytes(l)))
        .sum();
    let remainder = doc["remainder_bytes"].as_i64().unwrap();
    assert_eq!(top + i128::from(remainder), i128::from(usage));
    assert!(remainder.unsigned_abs() < 2 * MIB, "remainder {remainder}");
    // The socket note is not given: the TCP limit was set.
    assert!(
        !doc["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("never set")),
        "{:#}",
        doc["notes"]
    );

    // Working set = usage − total_inactive_file, from the same memory.stat the ledger read.
    let inactive = bytes(line(&doc, "beside", "inactive_file"));
    let tool = |k: &str| {
        doc["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == k)
            .unwrap_or_else(|| panic!("no tool {k}"))
    };
    assert_eq!(bytes(tool("working_set")), usage - inactive);
    assert_eq!(tool("working_set")["formula"], "usage_in_bytes − total_inactive_file (0 if negative)");
    let stat = std::fs::read_to_string(dir.join("memory.stat")).unwrap();
    let kernel_inactive: u64 =
        stat.lines().find_map(|l| l.strip_prefix("total_inactive_file ")).unwrap().trim().parse().unwrap();
    within("inactive_file against the kernel's", inactive, kernel_inactive.max(1), 0.05);

    // The process is listed, and Σ RSS leaves the tmpfs file, the page cache
    // no one maps and the sockets out.
    let procs = doc["processes"].as_array().unwrap();
    assert_eq!(procs.len(), 1, "{procs:#?}");
    assert_eq!(procs[0]["pid"].as_u64(), Some(u64::from(w.pid())));
    let rss = bytes(tool("rss"));
    within("Σ RSS", rss, 64 * MIB, 0.10);
    assert!(usage > rss + 40 * MIB, "usage {usage} against RSS {rss}");
    let not_mapped = &doc["not_mapped"];
    within(
        "page cache no process maps",
        not_mapped["page_cache_unmapped_bytes"].as_u64().unwrap(),
        48 * MIB,
        0.05,
    );

    // The table shows the same ledger.
    let table = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["--no-color", "report", "--cgroup", &path])
        .output()
        .unwrap();
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    for want in [
        "Memory ledger of cgroup",
        "remainder (usage − lines)",
        "Every tool's number",
        "Will it be OOM-killed?",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
    drop(w);
    drop(cg);
    assert!(!dir.exists(), "the test cgroup is left behind");
}

#[test]
fn an_unknown_cgroup_is_one_line_and_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["report", "--cgroup", "/no/such/memscope/cgroup"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no memory cgroup matches"), "{err}");
}
