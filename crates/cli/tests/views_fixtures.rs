//! The detail views (ps, maps, numa, zones, slab, vmalloc) on captured and
//! hand-made trees: other machines' layouts (a three-node NUMA machine), a
//! normal user's view, a kernel without NUMA. Every expected figure is
//! computed here from the tree's own files, not copied from memscope.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn tree(name: &str) -> PathBuf {
    memscope_testkit::fixture_dir(name)
}

/// Run memscope; (exit code, stdout, stderr).
fn run(root: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .arg("--root")
        .arg(tree(root))
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

fn json(root: &str, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let (code, out, err) = run(root, &a);
    assert!(code == 0 || code == 3, "memscope {args:?} exited {code}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("memscope {args:?}: not JSON ({e}): {out}"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an unsigned number: {v}"))
}

/// `Key:   N kB` of a meminfo-style file, in bytes (any `Node N ` prefix).
fn kb_field(path: PathBuf, key: &str) -> u64 {
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.split_whitespace().last()? == key).then(|| v.split_whitespace().next()?.parse::<u64>().ok())?
        })
        .unwrap_or_else(|| panic!("{key} in {}", path.display()))
        * 1024
}

/// Blocks of `order` in one buddyinfo line's counts.
fn blocks(counts: &[u64], order: usize) -> u64 {
    counts.iter().enumerate().skip(order).map(|(k, n)| n << (k - order)).sum()
}

/// (node, zone) → free blocks per order, from a tree's buddyinfo.
fn buddyinfo(root: &str) -> Vec<(u64, String, Vec<u64>)> {
    std::fs::read_to_string(tree(root).join("proc/buddyinfo"))
        .unwrap()
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let node = w[1].trim_end_matches(',').parse().unwrap();
            (node, w[3].to_string(), w[4..].iter().map(|x| x.parse().unwrap()).collect())
        })
        .collect()
}

const THREE: &str = "numa-three-nodes-node-exporter";
const LIVE618: &str = "views-6.18-x86_64";
const NONROOT: &str = "views-nonroot-no-numa";

#[test]
fn numa_three_nodes_sum_every_field_over_the_nodes() {
    let v = json(THREE, &["numa"]);
    assert_eq!(v["schema"], "memscope.numa/1");
    assert_eq!(v["nodes"], serde_json::json!([0, 1, 2]));
    let node_total: Vec<u64> = (0..3)
        .map(|n| kb_field(tree(THREE).join(format!("sys/devices/system/node/node{n}/meminfo")), "MemTotal"))
        .collect();
    let fields = v["fields"].as_array().unwrap();
    let mem_total = fields.iter().find(|f| f["field"] == "MemTotal").unwrap();
    let per_node: Vec<u64> = mem_total["node_bytes"].as_array().unwrap().iter().map(u).collect();
    assert_eq!(per_node, node_total);
    assert_eq!(u(&mem_total["total_bytes"]), node_total.iter().sum::<u64>());
    assert_eq!(u(&v["nodes_mem_total_bytes"]), node_total.iter().sum::<u64>());
    assert_eq!(u(&v["mem_total_bytes"]), kb_field(tree(THREE).join("proc/meminfo"), "MemTotal"));
    for f in fields {
        let sum: u64 = f["node_bytes"].as_array().unwrap().iter().filter_map(Value::as_u64).sum();
        assert_eq!(u(&f["total_bytes"]), sum, "{}", f["field"]);
    }
    // This fixture's nodes add up to far more than its /proc/meminfo: said, not hidden.
    let notes = v["notes"].to_string();
    assert!(notes.contains("add up to") && notes.contains("less"), "{notes}");

    let (code, csv, _) = run(THREE, &["numa", "--csv"]);
    assert_eq!(code, 0);
    assert_eq!(csv.lines().next(), Some("scope,pid,field,node,bytes"));
    assert!(csv.contains(&format!("system,,MemTotal,2,{}", node_total[2])));
}

#[test]
fn zones_can_alloc_counts_blocks_from_buddyinfo() {
    let buddy = buddyinfo(THREE);
    let v = json(THREE, &["zones", "--can-alloc", "4x600"]);
    assert_eq!(v["schema"], "memscope.zones/1");
    let c = &v["can_alloc"];
    assert_eq!((u(&c["order"]), u(&c["count"]), u(&c["block_bytes"])), (4, 600, 64 << 10));
    let mut total = 0;
    for z in c["zones"].as_array().unwrap() {
        let (_, _, counts) =
            buddy.iter().find(|(n, name, _)| *n == u(&z["node"]) && *name == z["zone"]).unwrap();
        let expected = blocks(counts, 4);
        assert_eq!(u(&z["blocks"]), expected, "{}", z["zone"]);
        assert_eq!(z["enough"], expected >= 600);
        total += expected;
    }
    assert_eq!(u(&c["total_blocks"]), total);
    assert_eq!(c["possible"], total >= 600);
    // No pagetypeinfo in this tree: the zones still show, the types are unavailable.
    assert!(v["pagetypeinfo_unavailable"].as_str().unwrap().contains("pagetypeinfo"));

    // Order 10: the DMA zone's three blocks are all there is: "no", exit code 3.
    let (code, out, _) = run(THREE, &["zones", "--can-alloc", "10x4"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("? no: the free lists hold 3 such blocks"), "{out}");
    let (code, _, _) = run(THREE, &["zones", "--can-alloc", "10x3"]);
    assert_eq!(code, 0);
}

#[test]
fn zones_reject_a_node_that_does_not_exist() {
    let (code, _, err) = run(THREE, &["zones", "--node", "5"]);
    assert_eq!(code, 1);
    assert!(err.contains("no node 5"), "{err}");
    let (code, _, _) = run(THREE, &["zones", "--can-alloc", "x3"]);
    assert_eq!(code, 2, "a malformed ORDER is a usage error");
}

#[test]
fn zones_show_free_blocks_per_migrate_type_from_pagetypeinfo() {
    let v = json(LIVE618, &["zones"]);
    assert_eq!(u(&v["page_block_order"]), 9);
    let normal = v["zones"].as_array().unwrap().iter().find(|z| z["zone"] == "Normal").unwrap();
    let types: Vec<&str> = normal["free_by_type"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["migrate_type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"Movable") && types.contains(&"Unmovable"), "{types:?}");
    // The unusable free space index of order 0 is 0 whenever anything is free.
    assert_eq!(normal["unusable_index"][0], 0.0);
    // Present and managed differ by the boot reservations only (2%): no note.
    assert!(!v["notes"].to_string().contains("not managed by the buddy allocator"));
}

#[test]
fn slab_without_sysfs_has_sizes_but_no_flags() {
    let v = json(THREE, &["slab"]);
    assert_eq!(v["schema"], "memscope.slab/1");
    let text = std::fs::read_to_string(tree(THREE).join("proc/slabinfo")).unwrap();
    for line in text.lines().skip(2) {
        let w: Vec<&str> = line.split_whitespace().collect();
        let pages_per_slab: u64 = w[5].parse().unwrap();
        let num_slabs: u64 = w[14].parse().unwrap();
        let c = v["caches"].as_array().unwrap().iter().find(|c| c["name"] == w[0]).unwrap();
        assert_eq!(u(&c["size_bytes"]), num_slabs * pages_per_slab * 4096, "{}", w[0]);
        assert!(c["reclaimable"].is_null());
    }
    assert!(v["notes"].to_string().contains("/sys/kernel/slab"));
}

#[test]
fn slab_aliases_and_flags_come_from_sys_kernel_slab() {
    let v = json(LIVE618, &["slab"]);
    let caches = v["caches"].as_array().unwrap();
    let get = |n: &str| caches.iter().find(|c| c["name"] == n).unwrap_or_else(|| panic!("{n}"));
    assert_eq!(
        get("shared_policy_node")["aliases"],
        serde_json::json!([
            "Acpi-Namespace",
            "ksm_mm_slot",
            "xfs_ifork",
            "xfs_log_ticket",
            "xfs_refc_intent"
        ])
    );
    assert_eq!(get("buffer_head")["aliases"], serde_json::json!(["ext4_fc_dentry_update"]));
    assert_eq!(get("dentry")["reclaimable"], true);
    assert_eq!(get("kmalloc-64")["reclaimable"], false);
    assert!(get("vm_area_struct")["flags"].as_array().unwrap().contains(&"rcu".into()));
    let sizes: Vec<u64> = caches.iter().map(|c| u(&c["size_bytes"])).collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "sorted by size");
    assert_eq!(u(&v["empty_hidden"]), 1);
    let t = &v["totals"];
    assert_eq!(
        u(&t["reclaimable_bytes"]) + u(&t["unreclaimable_bytes"]) + u(&t["unknown_reclaim_bytes"]),
        u(&t["size_bytes"])
    );

    let v = json(LIVE618, &["slab", "--sort", "name", "--top", "3", "--all"]);
    let names: Vec<&str> =
        v["caches"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["TCP", "anon_vma", "buffer_head"]);
}

#[test]
fn vmalloc_explains_the_ledger_line_of_report() {
    let v = json(LIVE618, &["vmalloc"]);
    assert_eq!(v["schema"], "memscope.vmalloc/1");
    let report = json(LIVE618, &["report"]);
    let line = report["ledger"].as_array().unwrap().iter().find(|l| l["category"] == "vmalloc").unwrap();
    assert_eq!(v["ledger"]["ledger_vmalloc_bytes"], line["bytes"]);
    // Per kind, RAM is the pages= of the areas; ioremap is not RAM.
    let text = std::fs::read_to_string(tree(LIVE618).join("proc/vmallocinfo")).unwrap();
    let pages: u64 = text
        .lines()
        .filter(|l| !l.split_whitespace().any(|w| w == "ioremap"))
        .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("pages=")?.parse::<u64>().ok()))
        .sum();
    assert_eq!(u(&v["ledger"]["pages_bytes"]), pages * 4096);
    let kinds = v["kinds"].as_array().unwrap();
    let ram: u64 = kinds.iter().filter_map(|k| k["ram_bytes"].as_u64()).sum();
    assert_eq!(ram, pages * 4096);
    let io = kinds.iter().find(|k| k["kind"] == "ioremap").unwrap();
    assert!(io["ram_bytes"].is_null());
    assert_eq!(u(&io["size_bytes"]), u(&v["ledger"]["ioremap_size_bytes"]));
    assert!(v["callers"].as_array().unwrap().iter().any(|c| c["kernel_stacks"] == true));
}

#[test]
fn maps_totals_match_the_captured_smaps_rollup() {
    let v = json(LIVE618, &["maps", "25685"]);
    assert_eq!(v["schema"], "memscope.maps/1");
    let checks = v["rollup_check"].as_array().unwrap();
    assert!(checks.len() >= 6);
    assert!(checks.iter().all(|c| c["matches"] == true), "{checks:?}");
    let rollup = tree(LIVE618).join("proc/25685/smaps_rollup");
    assert_eq!(u(&v["totals"]["rss_bytes"]), kb_field(rollup.clone(), "Rss"));
    assert_eq!(
        u(&v["totals"]["uss_bytes"]),
        kb_field(rollup.clone(), "Private_Clean") + kb_field(rollup.clone(), "Private_Dirty")
    );
    let pss = u(&v["totals"]["pss_bytes"]);
    let mappings = u(&v["totals"]["mappings"]);
    assert!(pss <= kb_field(rollup.clone(), "Pss") && kb_field(rollup, "Pss") - pss < mappings * 1024);
    let rows = v["mappings"].as_array().unwrap();
    assert_eq!(rows.len() as u64, mappings);
    assert!(rows.windows(2).all(|w| u(&w[0]["start"]) < u(&w[1]["start"])), "address order");

    let v = json(LIVE618, &["maps", "25685", "--sort", "rss", "--top", "2"]);
    let rows = v["mappings"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(u(&rows[0]["rss_bytes"]) >= u(&rows[1]["rss_bytes"]));
    let (code, _, err) = run(LIVE618, &["maps", "77777"]);
    assert_eq!(code, 1);
    assert!(err.contains("77777"), "{err}");
}

#[test]
fn ps_keeps_the_report_names_and_marks_estimates() {
    let v = json(LIVE618, &["ps"]);
    assert_eq!(v["schema"], "memscope.ps/1");
    let procs = v["processes"].as_array().unwrap();
    for p in procs {
        for key in ["pid", "comm", "pss_bytes", "uss_bytes", "rss_bytes", "swap_bytes"] {
            assert!(p.get(key).is_some(), "{key} missing in {p}");
        }
    }
    let get = |pid: u64| procs.iter().find(|p| u(&p["pid"]) == pid).unwrap();
    let rollup = tree(LIVE618).join("proc/4100/smaps_rollup");
    assert_eq!(u(&get(4100)["pss_bytes"]), kb_field(rollup.clone(), "Pss"));
    assert_eq!(get(4100)["user"], "postgres");
    // pid 1's smaps_rollup was unreadable: an estimate, with the reason, never a 0.
    assert_eq!(get(1)["source"], "status");
    assert!(get(1)["pss_bytes"].is_null());
    assert!(get(1)["pss_unavailable"].as_str().unwrap().contains("ptrace"));
    let ranks: Vec<u64> =
        procs.iter().map(|p| p["pss_bytes"].as_u64().or(p["rss_bytes"].as_u64()).unwrap()).collect();
    assert!(ranks.windows(2).all(|w| w[0] >= w[1]), "sorted by PSS, RSS standing in: {ranks:?}");
    let t = &v["totals"];
    assert_eq!((u(&t["processes"]), u(&t["with_pss"])), (6, 5));
    let (_, table, _) = run(LIVE618, &["ps"]);
    assert!(table.contains("*1 ") && table.contains("1 of 6 is an estimate"), "{table}");
}

#[test]
fn ps_groups_by_container_user_cgroup_and_command() {
    let v = json(LIVE618, &["ps", "--group-by", "container"]);
    let groups = v["groups"].as_array().unwrap();
    let find = |rt: &str| groups.iter().find(|g| g["runtime"] == rt).unwrap_or_else(|| panic!("{rt}"));
    let docker = find("docker");
    assert_eq!(docker["key"], "3f4e1c9a2b7d");
    assert_eq!(docker["pids"], serde_json::json!([4100, 4101]));
    let sum = |pid: u64, f: &str| kb_field(tree(LIVE618).join(format!("proc/{pid}/smaps_rollup")), f);
    assert_eq!(u(&docker["pss_bytes"]), sum(4100, "Pss") + sum(4101, "Pss"));
    let sandbox = find("namespaces");
    assert_eq!(sandbox["pids"], serde_json::json!([4200]));
    assert_eq!(sandbox["key"], "app-flatpak.scope (mnt,net,pid,uts,ipc ns)");
    assert_eq!(find("host")["pids"], serde_json::json!([1, 25685, 25687]));

    let v = json(LIVE618, &["ps", "--group-by", "user"]);
    let users: Vec<&str> =
        v["groups"].as_array().unwrap().iter().map(|g| g["key"].as_str().unwrap()).collect();
    assert_eq!(users, vec!["postgres", "root", "alice"]);
    let v = json(LIVE618, &["ps", "--group-by", "cmd", "--sort", "rss", "--top", "1"]);
    assert_eq!(v["groups"][0]["key"], "postgres");
    assert_eq!(u(&v["groups"][0]["processes"]), 2);
    let v = json(LIVE618, &["ps", "--group-by", "cgroup"]);
    assert!(v["groups"].as_array().unwrap().iter().any(|g| g["key"] == "/init.scope"));
}

#[test]
fn ps_filters_by_pid_user_and_name() {
    let pids = |v: Value| -> Vec<u64> {
        let mut p: Vec<u64> = v["processes"].as_array().unwrap().iter().map(|p| u(&p["pid"])).collect();
        p.sort();
        p
    };
    assert_eq!(pids(json(LIVE618, &["ps", "--user", "postgres"])), vec![4100, 4101]);
    assert_eq!(pids(json(LIVE618, &["ps", "--user", "1000,0"])), vec![1, 4200, 25685, 25687]);
    assert_eq!(pids(json(LIVE618, &["ps", "^memscope"])), vec![25685, 25687]);
    assert_eq!(pids(json(LIVE618, &["ps", "--pid", "4200,1"])), vec![1, 4200]);
    let v = json(LIVE618, &["ps", "--user", "postgres"]);
    assert_eq!(u(&v["scan"]["filtered_out"]), 4);
    let (code, _, err) = run(LIVE618, &["ps", "--user", "nosuchuser"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(LIVE618, &["ps", "--pid", "99999"]);
    assert_eq!(code, 1);
    assert!(err.contains("99999"));
    let (code, _, _) = run(LIVE618, &["ps", "--sort", "size"]);
    assert_eq!(code, 2);
    let (code, csv, _) = run(LIVE618, &["ps", "--csv", "--sort", "pid"]);
    assert_eq!(code, 0);
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("pid,user,comm,pss_bytes,uss_bytes,rss_bytes"));
    assert!(lines.next().unwrap().starts_with("1,root,systemd,,,"), "an unread PSS is empty, not 0");
}

#[test]
fn numa_pid_counts_hugetlb_pages_in_their_own_size() {
    let v = json(LIVE618, &["numa", "--pid", "4100"]);
    let p = &v["processes"][0];
    // 6 hugetlb pages of 2 MiB, not 6 base pages.
    assert_eq!(p["kinds"]["hugetlb"], serde_json::json!([6u64 << 21]));
    assert_eq!(p["kinds"]["heap"], serde_json::json!([2048u64 * 4096]));
    assert_eq!(p["kinds"]["stack"], serde_json::json!([33u64 * 4096]));
    assert_eq!(u(&p["total_bytes"]), (6 << 21) + (900 + 2048 + 12800 + 300 + 33) * 4096);
    let (_, table, _) = run(LIVE618, &["numa", "--pid", "4100"]);
    assert!(table.contains("hugetlb  12.0 MiB"), "{table}");
}

#[test]
fn a_normal_user_sees_reasons_not_zeros() {
    let v = json(NONROOT, &["slab"]);
    assert!(v["caches"].as_array().unwrap().is_empty());
    assert!(v["unavailable"].as_str().unwrap().contains("root"));
    assert_eq!(u(&v["totals"]["meminfo_slab_bytes"]), kb_field(tree(NONROOT).join("proc/meminfo"), "Slab"));
    let v = json(NONROOT, &["zones"]);
    assert!(v["pagetypeinfo_unavailable"].as_str().unwrap().contains("root"));
    assert!(v["zones"].as_array().unwrap().iter().all(|z| z["free_blocks"].is_array()));
    let v = json(NONROOT, &["vmalloc"]);
    assert!(v["unavailable"].as_str().unwrap().contains("root"));
    assert!(v["ledger"].is_null());
    let (code, out, _) = run(NONROOT, &["slab"]);
    assert_eq!(code, 0);
    assert!(out.contains("Per-cache figures are unavailable"), "{out}");
}

#[test]
fn a_kernel_without_numa_says_so() {
    let v = json(NONROOT, &["numa"]);
    assert!(v["nodes"].as_array().unwrap().is_empty());
    assert!(v["notes"][0].as_str().unwrap().contains("CONFIG_NUMA"));
    let (code, out, _) = run(NONROOT, &["numa", "--pid", "300"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("numa_maps does not exist"), "{out}");
}

#[test]
fn every_view_writes_csv_with_a_header() {
    for (args, header) in [
        (vec!["slab", "--csv"], "name,size_bytes,active_bytes"),
        (vec!["vmalloc", "--csv"], "caller,module,kind,areas,ram_bytes"),
        (vec!["zones", "--csv"], "node,zone,spanned_pages,present_pages"),
        (vec!["zones", "--csv", "--can-alloc", "2"], "node,zone,order,count,blocks"),
        (vec!["maps", "25685", "--csv"], "start,end,perms,offset"),
        (vec!["ps", "--csv", "--group-by", "user"], "key,runtime,id,processes"),
    ] {
        let (code, out, err) = run(LIVE618, &args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.starts_with(header), "{args:?}: {out}");
        assert!(out.lines().count() > 1, "{args:?}");
    }
}

#[test]
fn ps_sorts_by_open_descriptors_beside_their_limit() {
    const FDS: &str = "top-fds-cgroups";
    let v = json(FDS, &["ps", "--sort", "fds"]);
    assert_eq!(v["sort"], "fds");
    let procs = v["processes"].as_array().unwrap();
    let fds: Vec<(u64, u64, u64)> =
        procs.iter().map(|p| (u(&p["pid"]), u(&p["fds"]), u(&p["fd_soft_limit"]))).collect();
    // The count is the entries of /proc/PID/fd; the limit, limits' soft column.
    let count =
        |pid: u64| std::fs::read_dir(tree(FDS).join(format!("proc/{pid}/fd"))).unwrap().count() as u64;
    assert_eq!(count(201), 60);
    assert_eq!(fds, vec![(201, 60, 64), (1, count(1), 65536), (202, 12, 64), (150, 8, 1024), (301, 4, 1024)]);
    let (_, table, _) = run(FDS, &["ps", "--sort", "fds"]);
    assert!(table.contains("fds / limit") && table.contains("60 / 64"), "{table}");
    // Without --sort fds, descriptors are not counted and not shown.
    let v = json(FDS, &["ps"]);
    assert!(v["processes"][0].get("fds").is_none(), "{v}");
    assert!(!run(FDS, &["ps"]).1.contains("fds / limit"));
    let v = json(FDS, &["ps", "--sort", "fds", "--group-by", "cmd"]);
    assert_eq!((v["groups"][0]["key"].as_str(), u(&v["groups"][0]["fds"])), (Some("nginx"), 72));
}

/// numastat's default view: each node's allocation counters, as the tree's
/// nodeN/numastat files hold them, and their sum.
#[test]
fn numa_shows_numastat_counters_per_node() {
    let tree_name = "node-exporter-numa-zfs";
    let doc = json(tree_name, &["numa"]);
    let rows = doc["numastat"].as_array().expect("numastat rows");
    let names: Vec<&str> = rows.iter().map(|r| r["counter"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["numa_hit", "numa_miss", "numa_foreign", "interleave_hit", "local_node", "other_node"]
    );
    for r in rows {
        let counter = r["counter"].as_str().unwrap();
        let mut total = 0u64;
        for (i, node) in doc["nodes"].as_array().unwrap().iter().enumerate() {
            let file = tree(tree_name).join(format!("sys/devices/system/node/node{node}/numastat"));
            let text = std::fs::read_to_string(file).unwrap();
            let want: u64 = text
                .lines()
                .find_map(|l| l.strip_prefix(counter)?.trim().parse().ok())
                .unwrap_or_else(|| panic!("{counter} of node {node}"));
            assert_eq!(u(&r["node_pages"][i]), want, "{counter} of node {node}");
            total += want;
        }
        assert_eq!(u(&r["total_pages"]), total, "{counter}");
    }
    let (code, out, _) = run(tree_name, &["numa"]);
    assert_eq!(code, 0);
    assert!(out.contains("(numastat)") && out.contains("numa_foreign"), "{out}");
}

/// `numa --pid PATTERN`, as `numastat -p` takes one: every process whose
/// command name matches, and a pattern that matches none is bad input.
#[test]
fn numa_pid_takes_a_command_name_pattern() {
    let by_name = json("views-6.18-x86_64", &["numa", "--pid", "^postgres$"]);
    let pids: Vec<u64> = by_name["processes"].as_array().unwrap().iter().map(|p| u(&p["pid"])).collect();
    let comm = |pid: u64| {
        let stat =
            std::fs::read_to_string(tree("views-6.18-x86_64").join(format!("proc/{pid}/stat"))).unwrap();
        stat[stat.find('(').unwrap() + 1..stat.rfind(')').unwrap()].to_string()
    };
    assert!(!pids.is_empty());
    assert!(pids.iter().all(|p| comm(*p) == "postgres"), "{pids:?}");
    let every_postgres = std::fs::read_dir(tree("views-6.18-x86_64").join("proc"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .filter(|p| comm(*p) == "postgres")
        .count();
    assert_eq!(pids.len(), every_postgres);
    let (code, _, err) = run("views-6.18-x86_64", &["numa", "--pid", "no-such-command-here"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no process's command name matches"), "{err}");
}
