use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use memscope_analysis::ledger::CATEGORIES;
use memscope_kernel::KernelRoot;
use memscope_model::{CollectOptions, Snapshot, collect as collect_snapshot};

use super::*;

fn fixture(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name);
    assert!(p.join("MANIFEST").exists(), "fixture {name}");
    p
}

fn snapshot(name: &str) -> Snapshot {
    collect_snapshot(&KernelRoot::at(fixture(name)), &CollectOptions::default())
}

fn stats() -> ExporterStats {
    ExporterStats { collections: 3, collection_seconds: 0.25 }
}

/// Samples of an exposition: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').expect("sample has a value");
            (k.to_string(), v.parse::<f64>().expect("numeric value"))
        })
        .collect()
}

fn value(s: &BTreeMap<String, f64>, key: &str) -> f64 {
    *s.get(key).unwrap_or_else(|| panic!("no sample {key}"))
}

#[test]
fn ledger_series_add_up_to_installed_ram() {
    let snap = snapshot("live-6.18-firecracker-2cpu");
    let text = render(&snap, MetricsOptions::default(), stats());
    let s = samples(&text);
    let ledger_sum: f64 =
        s.iter().filter(|(k, _)| k.starts_with("memscope_ledger_bytes{")).map(|(_, v)| v).sum();
    assert_eq!(ledger_sum, value(&s, "memscope_installed_bytes"));
    let unaccounted = value(&s, "memscope_unaccounted_bytes");
    assert_eq!(value(&s, "memscope_ledger_bytes{category=\"unaccounted\"}"), unaccounted);
    // The report's figure, computed independently.
    let rep = memscope_analysis::report::build(&snap, &Default::default()).unwrap();
    assert_eq!(unaccounted, rep.ledger.unaccounted_bytes as f64);
    assert_eq!(value(&s, "memscope_mem_total_bytes"), rep.ledger.mem_total_bytes as f64);
}

#[test]
fn ledger_category_labels_come_from_the_category_table() {
    for name in ["live-6.18-firecracker-2cpu", "node-exporter-numa-zfs", "nonroot-redacted"] {
        let text = render(&snapshot(name), MetricsOptions::default(), stats());
        for (k, _) in samples(&text) {
            for metric in ["memscope_ledger_bytes{", "memscope_ledger_detail_bytes{"] {
                if let Some(rest) = k.strip_prefix(metric) {
                    let cat = rest.strip_prefix("category=\"").and_then(|r| r.split('"').next()).unwrap();
                    assert!(CATEGORIES.iter().any(|c| c.key == cat), "{name}: {cat} is not a category");
                }
            }
        }
    }
}

#[test]
fn every_emitted_metric_is_defined_once_with_help_and_type() {
    let text = render(&snapshot("live-6.18-firecracker-2cpu"), MetricsOptions::default(), stats());
    let mut names = BTreeSet::new();
    for def in all_metrics() {
        assert!(names.insert(def.name), "{} defined twice", def.name);
        assert!(def.name.starts_with("memscope_"));
        assert_eq!(def.kind == Kind::Counter, def.name.ends_with("_total"), "{}", def.name);
        assert_eq!(def.kind == Kind::Info, def.name.ends_with("_info"), "{}", def.name);
        assert!(!def.help.ends_with('.'), "{}: the encoder adds the period", def.name);
    }
    let defined: BTreeSet<&str> =
        all_metrics().map(|d| d.name.strip_suffix("_total").unwrap_or(d.name)).collect();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap();
            assert!(defined.contains(name), "{name} is emitted but not defined");
        }
    }
    for (k, _) in samples(&text) {
        let name = k.split('{').next().unwrap();
        let family = name.strip_suffix("_total").unwrap_or(name);
        assert!(text.contains(&format!("# HELP {family} ")), "{name} has no HELP");
        assert!(text.contains(&format!("# TYPE {family} ")), "{name} has no TYPE");
    }
    assert!(text.ends_with("# EOF\n"));
    assert!(samples(&text).contains_key("memscope_collections_total"));
}

#[test]
fn processes_are_summed_per_command_bounded_with_an_other_series_holding_the_rest() {
    let snap = snapshot("live-6.18-firecracker-2cpu");
    let input =
        Input::new(&snap, MetricsOptions { top_processes: 2, top_slab_caches: 3, top_cgroups: 20 }, stats());
    let commands: BTreeSet<&str> = input.processes.iter().map(|r| r.comm.as_str()).collect();
    assert!(commands.len() > 3, "the fixture has several commands");
    let out = collect(&input);
    let rss = out.series_of("memscope_process_rss_bytes");
    assert_eq!(rss.len(), 3, "two commands and `other`");
    assert_eq!(rss[2].0, ["other".to_string()]);
    let total: u64 = input.processes.iter().filter_map(|r| r.rss_bytes).sum();
    let exported: i64 = rss.iter().map(|(_, v)| if let Value::Int(i) = v { *i } else { 0 }).sum();
    assert_eq!(exported as u64, total, "top + other = every process's RSS");
    // The first is the command whose processes hold the most (PSS, RSS
    // where PSS is missing), summed over its processes.
    let mut per: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for r in &input.processes {
        *per.entry(r.comm.as_str()).or_default() += r.rank_bytes();
    }
    let largest = per.iter().max_by_key(|(c, v)| (**v, std::cmp::Reverse(**c))).unwrap().0;
    assert_eq!(rss[0].0[0], *largest);
    // And how many processes each series sums.
    let counts = out.series_of("memscope_command_processes");
    let n: i64 = counts.iter().map(|(_, v)| if let Value::Int(i) = v { *i } else { 0 }).sum();
    assert_eq!(n as usize, input.processes.len());
}

#[test]
fn slab_caches_are_bounded_and_their_sum_is_all_of_slabinfo() {
    let snap = snapshot("live-6.18-firecracker-2cpu");
    let input =
        Input::new(&snap, MetricsOptions { top_processes: 2, top_slab_caches: 3, top_cgroups: 20 }, stats());
    let out = collect(&input);
    let caches = out.series_of("memscope_slab_cache_bytes");
    assert_eq!(caches.len(), 4);
    assert_eq!(caches[3].0, ["other".to_string()]);
    let all: u64 = snap.slabinfo.as_ref().unwrap().caches.iter().map(|c| c.bytes(4096)).sum();
    let sum: i64 = caches.iter().map(|(_, v)| if let Value::Int(i) = v { *i } else { 0 }).sum();
    assert_eq!(sum as u64, all);
    let v = |i: usize| if let Value::Int(x) = caches[i].1 { x } else { 0 };
    assert!(v(0) >= v(1) && v(1) >= v(2), "largest first");
}

#[test]
fn unreadable_files_are_named_unavailable_not_zero() {
    // Captured as a normal user: slabinfo and vmallocinfo are root only.
    let snap = snapshot("nonroot-redacted");
    let text = render(&snap, MetricsOptions::default(), stats());
    assert!(!text.contains("memscope_slab_cache_bytes{"), "no slab series without slabinfo");
    assert!(!text.contains("memscope_vmalloc_bytes{"));
    let unavailable: Vec<&str> =
        text.lines().filter(|l| l.starts_with("memscope_unavailable_info{")).collect();
    assert!(
        unavailable.iter().any(|l| l.contains("figure=\"memscope_slab_cache_bytes\"") && l.contains("root")),
        "{unavailable:#?}"
    );
    assert!(unavailable.iter().any(|l| l.contains("figure=\"memscope_vmalloc_bytes\"")));
}

/// Two nodes; node 1 has an unpopulated Movable zone.
const TWO_NODES: &str = "\
Node 0, zone   Normal
  pages free     1000
        min      10
        low      20
        high     30
        spanned  4096
        present  4000
        managed  3900
Node 1, zone   Normal
  pages free     500
        min      5
        low      6
        high     7
        spanned  2048
        present  2048
        managed  2000
Node 1, zone  Movable
  pages free     0
        min      0
        low      0
        high     0
        spanned  0
        present  0
        managed  0
";

#[test]
fn zones_and_nodes_match_zoneinfo() {
    let mut snap = snapshot("live-6.18-firecracker-2cpu");
    snap.zoneinfo = Ok(memscope_kernel::parse::zoneinfo::Zoneinfo::parse(TWO_NODES));
    let text = render(&snap, MetricsOptions::default(), stats());
    assert!(!text.contains("zone=\"Movable\""), "unpopulated zones are left out");
    let s = samples(&text);
    assert_eq!(
        value(&s, "memscope_zone_watermark_bytes{node=\"1\",zone=\"Normal\",watermark=\"low\"}"),
        6.0 * 4096.0
    );
    assert_eq!(value(&s, "memscope_node_managed_bytes{node=\"1\"}"), 2000.0 * 4096.0);
    let s = samples(&render(&snap, MetricsOptions::default(), stats()));
    let z = snap.zoneinfo.as_ref().unwrap();
    let nodes: BTreeSet<u32> = z.zones.iter().map(|z| z.node).collect();
    assert!(nodes.len() >= 2, "a NUMA fixture");
    for n in nodes {
        let free: u64 = z
            .zones
            .iter()
            .filter(|x| x.node == n && x.get("present").unwrap_or(0) > 0)
            .filter_map(|x| x.get("free"))
            .sum();
        assert_eq!(value(&s, &format!("memscope_node_free_bytes{{node=\"{n}\"}}")), (free * 4096) as f64);
        let zone_sum: f64 = s
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("memscope_zone_free_bytes{{node=\"{n}\",")))
            .map(|(_, v)| v)
            .sum();
        assert_eq!(zone_sum, (free * 4096) as f64, "node {n}: zones add up to the node");
    }
}

#[test]
fn label_values_are_escaped() {
    let snap = snapshot("stat-comm-with-paren");
    let text = render(&snap, MetricsOptions::default(), stats());
    for line in text.lines().filter(|l| l.starts_with("memscope_process_rss_bytes{")) {
        // Every quote inside a label value is escaped: the line holds
        // exactly one label, comm.
        let inner = line.split_once('{').unwrap().1.rsplit_once('}').unwrap().0;
        assert!(inner.starts_with("comm=\"") && !inner.contains("\",pid=\""), "{line}");
    }
    let mut out = Out::default();
    let def = &processes::METRICS[2];
    out.int(def, &["a \"quoted\"\nname\\"], 5);
    let text = encode_out(&out);
    assert!(text.contains(r#"comm="a \"quoted\"\nname\\""#), "{text}");
}

#[test]
fn classic_text_names_counters_with_total_and_drops_eof() {
    let om = render(&snapshot("live-6.18-firecracker-2cpu"), MetricsOptions::default(), stats());
    assert!(om.contains("# TYPE memscope_collections counter\n"));
    let text = to_text_004(&om);
    assert!(text.contains("# TYPE memscope_collections_total counter\n"));
    assert!(text.contains("# HELP memscope_collections_total "));
    assert!(text.contains("\nmemscope_collections_total 3\n"));
    assert!(!text.contains("# EOF"));
    assert_eq!(samples(&om), samples(&text), "the same samples in both formats");
}

#[test]
fn accept_header_negotiation() {
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
    assert_eq!(Format::from_accept(Some("*/*")), Format::Text004);
    assert_eq!(Format::from_accept(None), Format::Text004);
    assert_eq!(Format::from_accept(Some("application/openmetrics-text; q=0")), Format::Text004);
    assert_eq!(Format::from_accept(Some("text/plain;version=0.0.4")), Format::Text004);
}

#[test]
fn a_snapshot_without_meminfo_still_exports_what_it_has() {
    let mut snap = snapshot("live-6.18-firecracker-2cpu");
    snap.meminfo = Err(memscope_kernel::ReadError::NotReported { path: "/proc/meminfo".into(), field: None });
    let text = render(&snap, MetricsOptions::default(), stats());
    assert!(!text.contains("memscope_ledger_bytes{"));
    assert!(text.contains("memscope_unavailable_info{figure=\"memscope_ledger_bytes\""));
    assert!(text.contains("memscope_zone_free_bytes{"));
}

/// Every metric the shipped Grafana dashboard queries is one this exporter
/// defines: renaming a metric without the dashboard fails here.
#[test]
fn the_grafana_dashboard_queries_only_defined_metrics() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist/grafana/memscope.json");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("expr" | "definition", serde_json::Value::String(s)) => out.push(s.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&doc, &mut exprs);
    assert!(exprs.len() >= 15, "the dashboard has its queries");
    let defined: BTreeSet<&str> = all_metrics().map(|d| d.name).collect();
    let mut used = BTreeSet::new();
    for e in &exprs {
        for (i, _) in e.match_indices("memscope_") {
            let name: String =
                e[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            assert!(defined.contains(name.as_str()), "dashboard queries {name}, which is not defined: {e}");
            used.insert(name);
        }
    }
    for must in [
        "memscope_ledger_bytes",
        "memscope_cgroup_memory_ledger_bytes",
        "memscope_cgroup_memory_working_set_bytes",
        "memscope_unaccounted_bytes",
        "memscope_process_pss_bytes",
        "memscope_slab_cache_bytes",
    ] {
        assert!(used.contains(must), "the dashboard shows {must}");
    }
}

/// The tree with descriptors and memory cgroups, collected as the exporter
/// collects (descriptors and cgroups in the same pass).
fn fds_and_cgroups_snapshot() -> Snapshot {
    let opts = CollectOptions { fds: true, cgroups: true, ..CollectOptions::default() };
    collect_snapshot(&KernelRoot::at(fixture("top-fds-cgroups")), &opts)
}

#[test]
fn open_fds_and_their_limit_for_the_top_processes_and_the_file_table() {
    let snap = fds_and_cgroups_snapshot();
    let opts = MetricsOptions { top_processes: 2, ..MetricsOptions::default() };
    let s = samples(&render(&snap, opts, stats()));
    assert_eq!(value(&s, "memscope_file_handles_allocated"), 3456.0);
    assert_eq!(value(&s, "memscope_file_handles_max"), 262144.0);
    assert_eq!(value(&s, "memscope_fds_nr_open"), 1048576.0);
    // The top two by PSS are the nginx processes: 201 at 60 of its 64, 202 at 12.
    let open: BTreeMap<&str, f64> =
        s.iter().filter_map(|(k, v)| Some((k.strip_prefix("memscope_process_open_fds")?, *v))).collect();
    let input = Input::new(&snap, opts, stats());
    let top: Vec<u32> = input.processes.iter().take(2).map(|r| r.pid).collect();
    assert_eq!(top, [201, 202], "by PSS");
    assert_eq!(open["{pid=\"201\",comm=\"nginx\"}"], 60.0);
    assert_eq!(value(&s, "memscope_process_max_fds{pid=\"201\",comm=\"nginx\"}"), 64.0);
    assert_eq!(open["{pid=\"202\",comm=\"nginx\"}"], 12.0);
    // The rest: systemd 20, sshd 8, bash 4.
    assert_eq!(open["{pid=\"other\",comm=\"other\"}"], 32.0);
    assert_eq!(open.len(), 3);
    // Without descriptors in the snapshot, no fd series and no claim about them.
    let plain = collect_snapshot(&KernelRoot::at(fixture("top-fds-cgroups")), &CollectOptions::default());
    let text = render(&plain, MetricsOptions::default(), stats());
    assert!(!text.contains("memscope_process_open_fds") && !text.contains("memscope_file_handles"));
    assert!(!text.contains("memscope_cgroup_"), "nor about cgroups");
}

#[test]
fn cgroups_are_bounded_with_the_rest_counted_once_and_no_limit_is_no_series() {
    let snap = fds_and_cgroups_snapshot();
    let cg = |path: &str, file: &str| -> f64 {
        let p =
            fixture("top-fds-cgroups").join("sys/fs/cgroup").join(path.trim_start_matches('/')).join(file);
        let t = std::fs::read_to_string(&p).unwrap();
        let t = if file == "memory.events" {
            t.lines().find_map(|l| l.strip_prefix("oom_kill ")).unwrap().to_string()
        } else {
            t
        };
        t.trim().parse().unwrap()
    };
    let opts = MetricsOptions { top_cgroups: 3, ..MetricsOptions::default() };
    let text = render(&snap, opts, stats());
    let s = samples(&text);
    let current: BTreeMap<&str, f64> = s
        .iter()
        .filter_map(|(k, v)| {
            Some((k.strip_prefix("memscope_cgroup_memory_bytes{cgroup=\"")?.strip_suffix("\"}")?, *v))
        })
        .collect();
    // The three largest, a parent before its child, and `other`: the
    // topmost cgroups not shown, each subtree once (user-1000.slice is in
    // user.slice's figure too: every series here includes descendants).
    assert_eq!(
        current.keys().copied().collect::<Vec<_>>(),
        ["/system.slice", "/system.slice/nginx.service", "/user.slice", "other"]
    );
    assert_eq!(current["/system.slice/nginx.service"], cg("/system.slice/nginx.service", "memory.current"));
    assert_eq!(
        current["other"],
        cg("/init.scope", "memory.current")
            + cg("/system.slice/idle.service", "memory.current")
            + cg("/system.slice/sshd.service", "memory.current")
            + cg("/user.slice/user-1000.slice", "memory.current")
    );
    // Only nginx.service has a limit: no series for max.
    let limits: Vec<&String> =
        s.keys().filter(|k| k.starts_with("memscope_cgroup_memory_limit_bytes")).collect();
    assert_eq!(limits, ["memscope_cgroup_memory_limit_bytes{cgroup=\"/system.slice/nginx.service\"}"]);
    assert_eq!(value(&s, limits[0]), 128.0 * 1024.0 * 1024.0);
    // OOM kills: counters, v2 counts the child's kill in its parent too.
    assert!(text.contains("# TYPE memscope_cgroup_oom_kills counter"), "{text}");
    assert_eq!(value(&s, "memscope_cgroup_oom_kills_total{cgroup=\"/system.slice/nginx.service\"}"), 1.0);
    assert_eq!(value(&s, "memscope_cgroup_oom_kills_total{cgroup=\"/system.slice\"}"), 1.0);
    assert!(!s.keys().any(|k| k.starts_with("memscope_cgroup_oom_kills_total{cgroup=\"other")));
    assert_eq!(value(&s, "memscope_oom_kills_total"), 1.0);
    assert_eq!(value(&s, "memscope_memory_cgroups{set=\"total\"}"), 7.0);
    assert_eq!(value(&s, "memscope_memory_cgroups{set=\"read\"}"), 7.0);
}

/// The exporter's collection of the tree: the snapshot and the ledger files
/// of the cgroups it exports.
fn collected_with_ledgers(top: usize) -> Collected {
    let snapshot = fds_and_cgroups_snapshot();
    let root = KernelRoot::at(fixture("top-fds-cgroups"));
    let layout = memscope_kernel::cgroup::Layout::detect(&root).unwrap();
    let Some(Ok(sample)) = &snapshot.cgroups else { panic!("no cgroups") };
    let paths = cgroup_ledger_paths(sample, top);
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let cgroup_stats = Some(memscope_model::cgroup_stats::read_paths(&root, &layout, &paths));
    Collected { snapshot, cgroup_stats }
}

#[test]
fn cgroup_ledger_lines_are_memory_stat_bounded_and_add_up_to_the_charge() {
    const MIB: f64 = 1024.0 * 1024.0;
    let opts = MetricsOptions { top_cgroups: 3, ..MetricsOptions::default() };
    let c = collected_with_ledgers(3);
    let text = render_collected(&c, opts, stats());
    assert!(text.contains("# TYPE memscope_cgroup_memory_ledger_bytes gauge"), "{text}");
    assert!(text.contains("# HELP memscope_cgroup_memory_ledger_bytes A cgroup's charge split"), "{text}");
    assert!(text.contains("# TYPE memscope_cgroup_memory_working_set_bytes gauge"), "{text}");
    let s = samples(&text);
    let line = |cg: &str, l: &str| {
        value(&s, &format!("memscope_cgroup_memory_ledger_bytes{{cgroup=\"{cg}\",line=\"{l}\"}}"))
    };
    // nginx.service's memory.stat: anon 60 MiB, file 30 of which shmem 4,
    // kernel 10, sock 1; memory.current 100 MiB; inactive_file 15 MiB.
    let nginx = "/system.slice/nginx.service";
    assert_eq!(line(nginx, "anon"), 60.0 * MIB);
    assert_eq!(line(nginx, "page_cache"), 26.0 * MIB);
    assert_eq!(line(nginx, "shmem"), 4.0 * MIB);
    assert_eq!(line(nginx, "kernel"), 10.0 * MIB);
    assert_eq!(line(nginx, "sock"), MIB);
    assert_eq!(line(nginx, "remainder"), -MIB);
    assert_eq!(
        value(&s, &format!("memscope_cgroup_memory_working_set_bytes{{cgroup=\"{nginx}\"}}")),
        85.0 * MIB
    );
    // Only the shown cgroups and `other`: the series stay bounded.
    let cgroups: BTreeSet<&str> = s
        .keys()
        .filter_map(|k| k.strip_prefix("memscope_cgroup_memory_ledger_bytes{cgroup=\""))
        .map(|k| k.split('"').next().unwrap())
        .collect();
    assert_eq!(cgroups, BTreeSet::from(["/system.slice", nginx, "/user.slice", "other"]));
    // other: init.scope, idle.service, sshd.service and user-1000.slice, each once.
    assert_eq!(line("other", "anon"), (4.0 + 0.0 + 3.0 + 20.0) * MIB);
    // Every cgroup's lines add up to its charge exactly.
    for cg in &cgroups {
        let sum: f64 =
            ["anon", "page_cache", "shmem", "kernel", "sock", "remainder"].iter().map(|l| line(cg, l)).sum();
        assert_eq!(sum, value(&s, &format!("memscope_cgroup_memory_bytes{{cgroup=\"{cg}\"}}")), "{cg}");
    }
    // Without the ledger files, the family says nothing.
    let plain = render(&c.snapshot, opts, stats());
    assert!(!plain.contains("memscope_cgroup_memory_ledger_bytes"));
    // The files it reads: the three shown and the four topmost others.
    let Some(Ok(sample)) = &c.snapshot.cgroups else { unreachable!() };
    assert_eq!(cgroup_ledger_paths(sample, 3).len(), 7);
    assert_eq!(cgroup_ledger_paths(sample, 0), ["/init.scope", "/system.slice", "/user.slice"]);
}

#[test]
fn a_cgroup_ledger_line_the_kernel_does_not_give_is_unavailable_not_zero() {
    let mut c = collected_with_ledgers(20);
    if let Some(Ok(stats)) = &mut c.cgroup_stats {
        for st in stats.iter_mut() {
            st.stat = Err(memscope_kernel::ReadError::NotReported {
                path: format!("{}/memory.stat", st.dir),
                field: None,
            });
        }
    }
    let text = render_collected(&c, MetricsOptions::default(), stats());
    assert!(!text.lines().any(|l| l.starts_with("memscope_cgroup_memory_ledger_bytes{")), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with(
            "memscope_unavailable_info{figure=\"memscope_cgroup_memory_ledger_bytes{cgroup=\\\"/system.slice\\\",line=\\\"anon\\\"}\""
        )),
        "{text}"
    );
}

#[test]
fn unreadable_cgroups_are_named_unavailable() {
    let mut snap = fds_and_cgroups_snapshot();
    snap.cgroups = Some(Err(memscope_kernel::ReadError::NotReported {
        path: "/proc/self/mountinfo".into(),
        field: Some("a cgroup hierarchy with the memory controller".into()),
    }));
    let text = render(&snap, MetricsOptions::default(), stats());
    assert!(!text.contains("memscope_cgroup_memory_bytes{"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("memscope_unavailable_info{figure=\"memscope_cgroup_memory_bytes\"")
                && l.contains("memory controller")),
        "{text}"
    );
}

#[test]
fn pressure_stall_totals_are_counters_in_seconds() {
    let text = render(&snapshot("psi-v2-memory-stalls"), MetricsOptions::default(), stats());
    let s = samples(&text);
    // total=1602356 µs (some), 405797 µs (full).
    assert_eq!(value(&s, "memscope_pressure_memory_stalled_seconds_total{kind=\"some\"}"), 1.602356);
    assert_eq!(value(&s, "memscope_pressure_memory_stalled_seconds_total{kind=\"full\"}"), 0.405797);
    assert_eq!(value(&s, "memscope_pressure_memory_ratio{kind=\"some\",window=\"10s\"}"), 0.125);
    assert_eq!(value(&s, "memscope_pressure_memory_ratio{kind=\"full\",window=\"300s\"}"), 0.0018);
    assert!(text.contains("# TYPE memscope_pressure_memory_stalled_seconds counter"), "{text}");
    let classic = to_text_004(&text);
    assert!(classic.contains("# TYPE memscope_pressure_memory_stalled_seconds_total counter"), "{classic}");
}

#[test]
fn pressure_missing_from_a_tree_is_unavailable_not_zero() {
    let text = render(&snapshot("cgroups-v2-pure"), MetricsOptions::default(), stats());
    assert!(!text.contains("memscope_pressure_memory_stalled_seconds_total{"), "{text}");
    assert!(!text.contains("memscope_pressure_memory_ratio{"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("memscope_unavailable_info{")
            && l.contains("memscope_pressure_memory_stalled_seconds_total")
            && l.contains("not in this captured tree")),
        "{text}"
    );
}
