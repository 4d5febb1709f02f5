//! `memscope numa`: memory per NUMA node, and a process's pages per node.
//!
//! System view: `/sys/devices/system/node/nodeN/meminfo` (the same keys as
//! `/proc/meminfo`, per node; drivers/base/node.c `node_read_meminfo`) and
//! `nodeN/hugepages/hugepages-<size>kB/{nr,free,surplus}_hugepages`.
//! A node's `MemTotal` is the sum of its zones' *managed* pages, so the
//! nodes add up to `/proc/meminfo` `MemTotal` only when every page the
//! kernel counts as RAM has been handed to the buddy allocator.
//!
//! Process view: `/proc/PID/numa_maps`, each mapping's pages per node in
//! that mapping's page size (see [`memscope_kernel::parse::pid::numa_maps`]):
//! hugetlb pages counted as huge pages, not base pages.

use std::collections::BTreeMap;

use memscope_kernel::parse::meminfo::Meminfo;
use memscope_kernel::parse::pid::numa_maps::{NumaMapping, NumaMaps};
use memscope_kernel::parse::sysfs::page_size_name;
use memscope_kernel::read::NodeMemory;
use serde::Serialize;

use crate::units::{fmt_bytes, fmt_pct};

/// meminfo fields shown first, in this order; the rest follow with `all`.
pub const MAIN_FIELDS: &[&str] = &[
    "MemTotal",
    "MemFree",
    "MemUsed",
    "FilePages",
    "AnonPages",
    "Shmem",
    "Mapped",
    "Active",
    "Inactive",
    "Unevictable",
    "Mlocked",
    "Dirty",
    "Writeback",
    "Slab",
    "SReclaimable",
    "SUnreclaim",
    "KernelStack",
    "PageTables",
    "SecPageTables",
    "AnonHugePages",
    "ShmemHugePages",
    "FileHugePages",
    "Unaccepted",
];

/// One row of the system table: a field on each node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeField {
    /// The meminfo key (`MemFree`), or `HugePages <size> total|free|surplus`.
    pub field: String,
    /// Bytes per node, in [`NumaView::nodes`] order; `None` where that node
    /// does not report the field.
    pub node_bytes: Vec<Option<u64>>,
    /// Sum over the nodes that report it.
    pub total_bytes: u64,
    /// The same key in `/proc/meminfo`, when there is one.
    pub system_bytes: Option<u64>,
}

/// Huge pages of one size on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeHugepages {
    /// Node.
    pub node: u32,
    /// Page size.
    pub page_size_bytes: u64,
    /// Pages in the pool on this node.
    pub nr_hugepages: Option<u64>,
    /// Free pages.
    pub free_hugepages: Option<u64>,
    /// Surplus pages.
    pub surplus_hugepages: Option<u64>,
}

/// Mapping kinds for the process view, in output order (numastat -p's
/// Huge, Heap, Stack, Private, with file-backed mappings apart).
pub const KINDS: &[(&str, &str)] = &[
    ("hugetlb", "hugetlbfs mappings (counted in huge pages)"),
    ("heap", "the heap ([heap])"),
    ("stack", "the main thread's stack ([stack])"),
    ("file", "file-backed mappings (including their private copies)"),
    ("anon", "other anonymous mappings (thread stacks, malloc arenas, shared anonymous)"),
];

fn kind_of(m: &NumaMapping) -> &'static str {
    if m.huge {
        "hugetlb"
    } else if m.heap {
        "heap"
    } else if m.stack {
        "stack"
    } else if m.file.is_some() {
        "file"
    } else {
        "anon"
    }
}

/// One process's pages per node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessNuma {
    /// Process.
    pub pid: u32,
    /// Command name.
    pub comm: String,
    /// Kind ([`KINDS`]) → bytes per node (in [`NumaView::nodes`] order).
    pub kinds: BTreeMap<&'static str, Vec<u64>>,
    /// Bytes per node over all kinds.
    pub node_bytes: Vec<u64>,
    /// Sum.
    pub total_bytes: u64,
    /// Why numa_maps could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    /// Mappings whose page size is unknown (hugetlb without
    /// `kernelpagesize_kB`): left out rather than guessed.
    pub unsized_mappings: usize,
}

/// The `numa` view.
#[derive(Debug, Clone, Serialize)]
pub struct NumaView {
    /// Node numbers, in column order.
    pub nodes: Vec<u32>,
    /// meminfo fields per node.
    pub fields: Vec<NodeField>,
    /// Huge page pools per node and size.
    pub hugepages: Vec<NodeHugepages>,
    /// `/proc/meminfo` `MemTotal`.
    pub mem_total_bytes: Option<u64>,
    /// Sum of the nodes' `MemTotal`.
    pub nodes_mem_total_bytes: u64,
    /// Per-process pages (with `--pid`).
    pub processes: Vec<ProcessNuma>,
    /// The allocation counters of `nodeN/numastat` (numastat's default
    /// view), in [`NUMASTAT_COUNTERS`] order; empty where unreadable.
    pub numastat: Vec<NumastatRow>,
    /// What the numbers say.
    pub notes: Vec<String>,
}

/// numastat's counters, in its order (Documentation/admin-guide/numastat.rst
/// says what each counts).
pub const NUMASTAT_COUNTERS: &[&str] =
    &["numa_hit", "numa_miss", "numa_foreign", "interleave_hit", "local_node", "other_node"];

/// One numastat counter across the nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NumastatRow {
    /// The kernel's name (`numa_hit`).
    pub counter: String,
    /// Pages per node, in [`NumaView::nodes`] order (absent where a node
    /// does not report it).
    pub node_pages: Vec<Option<u64>>,
    /// Sum over the nodes.
    pub total_pages: u64,
}

/// The numastat rows for `nodes`, from each node's counters; a counter no
/// node reports is left out.
pub fn numastat(
    nodes: &[u32],
    counters: &[(u32, memscope_kernel::parse::vmstat::Vmstat)],
) -> Vec<NumastatRow> {
    NUMASTAT_COUNTERS
        .iter()
        .filter_map(|name| {
            let node_pages: Vec<Option<u64>> = nodes
                .iter()
                .map(|n| counters.iter().find(|(id, _)| id == n).and_then(|(_, v)| v.get(name)))
                .collect();
            node_pages.iter().any(Option::is_some).then(|| NumastatRow {
                counter: (*name).to_string(),
                total_pages: node_pages.iter().flatten().fold(0u64, |a, b| a.saturating_add(*b)),
                node_pages,
            })
        })
        .collect()
}

/// A process to show: pid, command name, its numa_maps or why not.
pub type ProcessInput = (u32, String, Result<NumaMaps, String>);

/// Build the view. `all`: every meminfo field, not only [`MAIN_FIELDS`],
/// and rows that are 0 everywhere.
pub fn build(
    nodes: &[NodeMemory],
    system: Option<&Meminfo>,
    processes: Vec<ProcessInput>,
    base_page_bytes: u64,
    all: bool,
) -> NumaView {
    let ids: Vec<u32> = nodes.iter().map(|n| n.node).collect();
    let mut keys: Vec<String> = MAIN_FIELDS.iter().map(|s| s.to_string()).collect();
    if all {
        let mut rest: Vec<String> = nodes
            .iter()
            .flat_map(|n| n.meminfo.bytes.keys().cloned())
            .filter(|k| !MAIN_FIELDS.contains(&k.as_str()))
            .collect();
        rest.sort();
        rest.dedup();
        keys.extend(rest);
    }
    let mut fields = Vec::new();
    // A figure beyond what any machine can hold is a corrupt file: left out
    // (unavailable), and said in a note.
    let mut invalid: Vec<String> = Vec::new();
    let mut plausible = |v: Option<u64>, what: &dyn Fn() -> String| match v {
        Some(b) if b > crate::ledger::MAX_RAM_BYTES => {
            invalid.push(format!(
                "{}: {} is more than any machine can address (4 PiB): invalid, not shown.",
                what(),
                crate::fmt_bytes(i64::try_from(b).unwrap_or(i64::MAX))
            ));
            None
        }
        v => v,
    };
    for key in keys {
        let node_bytes: Vec<Option<u64>> = nodes
            .iter()
            .map(|n| {
                plausible(n.meminfo.get(&key), &|| {
                    format!("/sys/devices/system/node/node{}/meminfo {key}", n.node)
                })
            })
            .collect();
        if node_bytes.iter().all(Option::is_none) {
            continue;
        }
        let total_bytes = node_bytes.iter().flatten().fold(0u64, |a, b| a.saturating_add(*b));
        if total_bytes == 0 && !all {
            continue;
        }
        if plausible(Some(total_bytes), &|| format!("{key} over all nodes")).is_none() {
            continue;
        }
        let system_bytes = plausible(system.and_then(|m| m.get(&key)), &|| format!("/proc/meminfo {key}"));
        fields.push(NodeField { field: key, node_bytes, total_bytes, system_bytes });
    }
    let mut hugepages = Vec::new();
    let mut sizes: Vec<u64> =
        nodes.iter().flat_map(|n| n.hugepages.iter().map(|p| p.page_size_bytes)).collect();
    sizes.sort_unstable();
    sizes.dedup();
    for n in nodes {
        for p in &n.hugepages {
            hugepages.push(NodeHugepages {
                node: n.node,
                page_size_bytes: p.page_size_bytes,
                nr_hugepages: p.nr_hugepages,
                free_hugepages: p.free_hugepages,
                surplus_hugepages: p.surplus_hugepages,
            });
        }
    }
    for size in sizes {
        for (label, get) in [
            ("total", (|p: &NodeHugepages| p.nr_hugepages) as fn(&NodeHugepages) -> Option<u64>),
            ("free", |p: &NodeHugepages| p.free_hugepages),
            ("surplus", |p: &NodeHugepages| p.surplus_hugepages),
        ] {
            let node_bytes: Vec<Option<u64>> = ids
                .iter()
                .map(|id| {
                    hugepages
                        .iter()
                        .find(|h| h.node == *id && h.page_size_bytes == size)
                        .and_then(get)
                        .map(|c| c.saturating_mul(size))
                })
                .map(|b| {
                    plausible(b, &|| {
                        format!("/sys/devices/system/node/node*/hugepages/hugepages-{}kB {label}", size >> 10)
                    })
                })
                .collect();
            let total_bytes = node_bytes.iter().flatten().fold(0u64, |a, b| a.saturating_add(*b));
            if total_bytes == 0 && !all {
                continue;
            }
            if plausible(Some(total_bytes), &|| format!("HugePages {label} over all nodes")).is_none() {
                continue;
            }
            fields.push(NodeField {
                field: format!("HugePages {} {label}", page_size_name(size)),
                node_bytes,
                total_bytes,
                system_bytes: None,
            });
        }
    }

    let mem_total_bytes = system.and_then(|m| m.get("MemTotal"));
    let nodes_mem_total_bytes =
        nodes.iter().filter_map(|n| n.meminfo.get("MemTotal")).fold(0u64, u64::saturating_add);
    let mut notes = invalid;
    // With processes asked for, the notes are about them.
    if let Some(total) = mem_total_bytes
        && processes.is_empty()
        && !nodes.is_empty()
        && total != nodes_mem_total_bytes
    {
        let diff = total as i64 - nodes_mem_total_bytes as i64;
        notes.push(format!(
            "The nodes' MemTotal add up to {}, /proc/meminfo MemTotal is {} ({}). A node's MemTotal counts the \
             pages its zones' buddy allocator manages; {}",
            fmt_bytes(nodes_mem_total_bytes as i64),
            fmt_bytes(total as i64),
            if diff > 0 {
                format!("{} more, {} of it", fmt_bytes(diff), fmt_pct(diff, total as i64))
            } else {
                format!("{} less", fmt_bytes(-diff))
            },
            if diff > 0 {
                "pages the kernel counts as RAM but has not handed to the buddy allocator yet (deferred struct \
                 page initialisation, memory being hot-added) are in MemTotal only. `memscope zones` shows \
                 present and managed pages per zone."
            } else {
                "memory was removed (hot-unplug, balloon) after MemTotal was counted, or the files were read \
                 at different times."
            }
        ));
    }
    if nodes.len() == 1 && processes.is_empty() {
        notes.push("One NUMA node: every page is local.".to_string());
    }

    let processes = processes
        .into_iter()
        .map(|(pid, comm, maps)| process_numa(pid, comm, maps, &ids, base_page_bytes))
        .collect::<Vec<_>>();
    for p in &processes {
        if p.unsized_mappings > 0 {
            notes.push(format!(
                "pid {}: {} hugetlb mapping(s) without kernelpagesize_kB left out (their page size is unknown).",
                p.pid, p.unsized_mappings
            ));
        }
    }
    NumaView {
        nodes: ids,
        fields,
        hugepages,
        mem_total_bytes,
        nodes_mem_total_bytes,
        processes,
        numastat: Vec::new(),
        notes,
    }
}

fn process_numa(
    pid: u32,
    comm: String,
    maps: Result<NumaMaps, String>,
    ids: &[u32],
    base_page_bytes: u64,
) -> ProcessNuma {
    let mut p = ProcessNuma {
        pid,
        comm,
        kinds: BTreeMap::new(),
        node_bytes: vec![0; ids.len()],
        total_bytes: 0,
        unavailable: None,
        unsized_mappings: 0,
    };
    let maps = match maps {
        Ok(m) => m,
        Err(why) => {
            p.unavailable = Some(why);
            return p;
        }
    };
    for (k, _) in KINDS {
        p.kinds.insert(k, vec![0; ids.len()]);
    }
    for m in &maps.mappings {
        let Some(per_node) = m.node_bytes(base_page_bytes) else {
            p.unsized_mappings += 1;
            continue;
        };
        let row = p.kinds.entry(kind_of(m)).or_default();
        for (node, bytes) in per_node {
            // A node missing from sysfs (offline) still counts in the total.
            if let Some(i) = ids.iter().position(|n| *n == node) {
                row[i] = row[i].saturating_add(bytes);
                p.node_bytes[i] = p.node_bytes[i].saturating_add(bytes);
            }
            p.total_bytes = p.total_bytes.saturating_add(bytes);
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use memscope_kernel::read::HugepagePool;

    fn node(n: u32, total_kb: u64, free_kb: u64, huge: u64) -> NodeMemory {
        NodeMemory {
            node: n,
            meminfo: Meminfo::parse_node(&format!(
                "Node {n} MemTotal: {total_kb} kB\nNode {n} MemFree: {free_kb} kB\nNode {n} Dirty: 0 kB\n"
            )),
            hugepages: vec![HugepagePool {
                page_size_bytes: 2 << 20,
                nr_hugepages: Some(huge),
                free_hugepages: Some(huge / 2),
                surplus_hugepages: Some(0),
                resv_hugepages: None,
            }],
        }
    }

    #[test]
    fn node_fields_add_up() {
        let nodes = [node(0, 1000, 100, 4), node(1, 3000, 300, 0)];
        let sys = Meminfo::parse("MemTotal: 4000 kB\nMemFree: 400 kB\n");
        let v = build(&nodes, Some(&sys), vec![], 4096, false);
        assert_eq!(v.nodes, vec![0, 1]);
        let total = &v.fields[0];
        assert_eq!(total.field, "MemTotal");
        assert_eq!(total.node_bytes, vec![Some(1000 * 1024), Some(3000 * 1024)]);
        assert_eq!((total.total_bytes, total.system_bytes), (4000 * 1024, Some(4000 * 1024)));
        // Dirty is 0 everywhere: hidden unless `all`.
        assert!(!v.fields.iter().any(|f| f.field == "Dirty"));
        let huge = v.fields.iter().find(|f| f.field == "HugePages 2MiB total").unwrap();
        assert_eq!(huge.node_bytes, vec![Some(8 << 20), Some(0)]);
        assert!(v.notes.iter().all(|n| !n.contains("add up")));
        let short = Meminfo::parse("MemTotal: 5000 kB\n");
        let v = build(&nodes, Some(&short), vec![], 4096, true);
        assert!(v.fields.iter().any(|f| f.field == "Dirty"));
        assert!(v.notes[0].contains("add up to 3.9 MiB"), "{:?}", v.notes);
    }

    #[test]
    fn hugetlb_pages_count_as_huge_pages() {
        let maps = NumaMaps::parse(
            "7f2a00000000 bind:1 file=/dev/hugepages/b huge dirty=3 N1=3 kernelpagesize_kB=2048\n\
             7f2b00000000 default anon=10 dirty=10 N0=6 N1=4 kernelpagesize_kB=4\n\
             55bb96a0e000 default heap anon=33 dirty=33 N0=33 kernelpagesize_kB=4\n\
             7f2c00000000 default huge N0=1\n",
        );
        let nodes = [node(0, 1000, 100, 0), node(1, 1000, 100, 0)];
        let v = build(
            &nodes,
            None,
            vec![(5, "db".into(), Ok(maps)), (6, "x".into(), Err("gone".into()))],
            4096,
            false,
        );
        let p = &v.processes[0];
        assert_eq!(p.kinds["hugetlb"], vec![0, 6 << 20]);
        assert_eq!(p.kinds["anon"], vec![6 * 4096, 4 * 4096]);
        assert_eq!(p.kinds["heap"], vec![33 * 4096, 0]);
        assert_eq!(p.node_bytes, vec![39 * 4096, (6 << 20) + 4 * 4096]);
        assert_eq!(p.total_bytes, p.node_bytes.iter().sum::<u64>());
        assert_eq!(p.unsized_mappings, 1);
        assert_eq!(v.processes[1].unavailable.as_deref(), Some("gone"));
    }
}
