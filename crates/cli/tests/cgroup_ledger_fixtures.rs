//! `memscope report --cgroup` on hand-made container hosts with known
//! answers (tests/fixtures/README.md says how they were made): a v2
//! Kubernetes node (a burstable pod of two containers) and a v1 Docker host
//! (the cgroupfs driver).

use std::process::{Command, Output};

use memscope_testkit::{MIB, fixture_dir};
use serde_json::Value;

const KIB: u64 = 1024;
const POD_UID: &str = "5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";

fn memscope(fixture: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memscope"))
        .arg("--root")
        .arg(fixture_dir(fixture))
        .arg("--no-color")
        .args(args)
        .output()
        .expect("run memscope")
}

fn ledger(fixture: &str, spec: &str) -> Value {
    let out = memscope(fixture, &["--json", "report", "--cgroup", spec]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn get(doc: &Value, section: &str, key: &str) -> u64 {
    doc[section]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == key)
        .and_then(|l| l["bytes"].as_u64())
        .unwrap_or_else(|| panic!("no {section} {key}"))
}

#[test]
fn kubernetes_container_by_id_prefix() {
    let doc = ledger("cgroups-v2-kubernetes-node", "fedcba98");
    assert!(
        doc["cgroup"].as_str().unwrap().ends_with(
            "/cri-containerd-fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210.scope"
        )
    );
    assert_eq!(doc["version"], "v2");
    let usage = 500 * MIB + 12 * KIB;
    assert_eq!(doc["usage_bytes"].as_u64(), Some(usage));
    for (key, want) in [
        ("anon", 100 * MIB),
        ("page_cache", 250 * MIB),
        ("shmem", 50 * MIB),
        ("kernel", 40 * MIB),
        ("kernel_stack", MIB),
        ("pagetables", 2 * MIB),
        ("percpu", MIB),
        ("slab_reclaimable", 20 * MIB),
        ("slab_unreclaimable", 10 * MIB),
        ("kernel_other", 6 * MIB),
        ("sock", 60 * MIB),
    ] {
        assert_eq!(get(&doc, "lines", key), want, "{key}");
    }
    assert_eq!(doc["remainder_bytes"].as_i64(), Some(12 * KIB as i64));
    assert_eq!(get(&doc, "tools", "working_set"), usage - 200 * MIB);
    assert_eq!(get(&doc, "tools", "docker_stats"), usage - 200 * MIB);
    assert_eq!(get(&doc, "tools", "podman_stats"), usage - 200 * MIB);
    assert_eq!(get(&doc, "tools", "rss"), 110 * MIB);
    // Reclaim frees 250 MiB of file LRU (none dirty) and 20 MiB of slab.
    assert_eq!(get(&doc, "tools", "unreclaimable"), usage - 270 * MIB);
    assert_eq!(doc["oom_answer"], "unreclaimable");
    assert_eq!(doc["effective_limit_bytes"].as_u64(), Some(512 * MIB));
    assert_eq!(doc["oom_kills"].as_u64(), Some(1));
    // The container's own limit, the pod's and the node's allocatable.
    let limits: Vec<(String, Option<u64>)> = doc["limits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["file"] == "memory.max")
        .map(|l| {
            (l["cgroup"].as_str().unwrap().rsplit('/').next().unwrap().to_string(), l["limit_bytes"].as_u64())
        })
        .collect();
    assert_eq!(limits.len(), 4, "{limits:?}");
    assert_eq!(limits[1].1, Some(512 * MIB));
    assert_eq!(limits[2], ("kubepods-burstable.slice".to_string(), None));
    assert_eq!(limits[3], ("kubepods.slice".to_string(), Some(8 << 30)));
    let procs = doc["processes"].as_array().unwrap();
    assert_eq!(procs.len(), 1);
    assert_eq!(procs[0]["comm"], "app");
    // 500 MiB charged, 105 MiB of it mapped (PSS): 280 MiB of page cache no one
    // maps (file 300 − mapped 20), 100 MiB kernel + sockets, the rest other.
    let n = &doc["not_mapped"];
    assert_eq!(n["pss_bytes"].as_u64(), Some(105 * MIB));
    assert_eq!(n["page_cache_unmapped_bytes"].as_u64(), Some(280 * MIB));
    assert_eq!(n["kernel_and_sock_bytes"].as_u64(), Some(100 * MIB));
    assert_eq!(n["other_bytes"].as_i64(), Some((15 * MIB + 12 * KIB) as i64));
}

#[test]
fn kubernetes_pod_by_uid_holds_both_containers() {
    let doc = ledger("cgroups-v2-kubernetes-node", POD_UID);
    assert!(doc["cgroup"].as_str().unwrap().ends_with("pod5f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b.slice"));
    assert_eq!(doc["usage_bytes"].as_u64(), Some(501 * MIB + 524 * KIB));
    assert_eq!(get(&doc, "lines", "anon"), 101 * MIB);
    assert_eq!(doc["remainder_bytes"].as_i64(), Some(12 * KIB as i64));
    let pids: Vec<u64> =
        doc["processes"].as_array().unwrap().iter().map(|p| p["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids, [4242, 4100]);
    // The table names the answer and its figures.
    let out = memscope("cgroups-v2-kubernetes-node", &["report", "--cgroup", POD_UID]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Will it be OOM-killed?"), "{text}");
    assert!(text.contains("this cgroup"), "{text}");
}

#[test]
fn docker_v1_container_every_tool() {
    let doc = ledger("cgroups-v1-docker-host", "c0ffee0123");
    assert_eq!(doc["cgroup"], "/docker/c0ffee0123456789c0ffee0123456789c0ffee0123456789c0ffee0123456789");
    assert_eq!(doc["version"], "v1");
    let usage = 208 * MIB - 8 * KIB;
    assert_eq!(doc["usage_bytes"].as_u64(), Some(usage));
    assert_eq!(get(&doc, "lines", "anon"), 80 * MIB);
    assert_eq!(get(&doc, "lines", "page_cache"), 110 * MIB);
    assert_eq!(get(&doc, "lines", "shmem"), 10 * MIB);
    assert_eq!(get(&doc, "lines", "kernel"), 8 * MIB);
    assert_eq!(doc["remainder_bytes"].as_i64(), Some(-8 * KIB as i64));
    assert_eq!(get(&doc, "beside", "swap"), 4 * MIB);
    assert_eq!(get(&doc, "beside", "sock"), 0);
    assert!(doc["notes"][0].as_str().unwrap().contains("memory.kmem.tcp.limit_in_bytes was never set"));
    assert_eq!(get(&doc, "tools", "working_set"), usage - 90 * MIB);
    assert_eq!(get(&doc, "tools", "docker_stats"), usage - 90 * MIB);
    assert_eq!(get(&doc, "tools", "docker_stats_old"), usage - 120 * MIB);
    assert_eq!(get(&doc, "tools", "podman_stats"), usage);
    assert_eq!(get(&doc, "tools", "rss"), 90 * MIB);
    // active 20 + inactive 90 − dirty 1 reclaimable.
    assert_eq!(get(&doc, "tools", "unreclaimable"), usage - 109 * MIB);
    assert_eq!(doc["effective_limit_bytes"].as_u64(), Some(256 * MIB));
    let hier = doc["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["file"] == "memory.stat hierarchical_memory_limit")
        .unwrap();
    assert_eq!(hier["headroom_bytes"].as_i64(), Some((256 * MIB - usage) as i64));
    assert_eq!(doc["oom_kills"].as_u64(), Some(2));
    // CSV: one row per line, the remainder among them.
    let out = memscope("cgroups-v1-docker-host", &["--csv", "report", "--cgroup", "c0ffee0123"]);
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(csv.starts_with("section,key,parent,bytes,source\n"), "{csv}");
    assert!(csv.contains("\nline,remainder,,-8192,"), "{csv}");
}

#[test]
fn ambiguous_and_unknown_names_exit_2_with_one_line() {
    for spec in ["nosuch.service", "/docker/0000", "deadbeef"] {
        let out = memscope("cgroups-v1-docker-host", &["report", "--cgroup", spec]);
        assert_eq!(out.status.code(), Some(2), "{spec}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1, "{spec}");
    }
}
