//! Free and managed memory per NUMA node and per zone, and the zone
//! watermarks, from `/proc/zoneinfo` (mm/vmstat.c `zoneinfo_show_print`;
//! counts in pages). A zone whose free memory falls below `low` wakes
//! kswapd; below `min`, allocations reclaim directly
//! (Documentation/admin-guide/sysctl/vm.rst, `min_free_kbytes`).

use std::collections::BTreeMap;

use memscope_analysis::hints::unavailable_reason;

use super::{Input, Kind, MetricDef, Out};

pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "memscope_node_free_bytes",
        kind: Kind::Gauge,
        help: "Free pages of a NUMA node: its zones' free counts (zoneinfo), per-cpu lists not included",
        labels: &["node"],
    },
    MetricDef {
        name: "memscope_node_managed_bytes",
        kind: Kind::Gauge,
        help: "Pages of a NUMA node managed by the buddy allocator (zoneinfo managed, summed over zones)",
        labels: &["node"],
    },
    MetricDef {
        name: "memscope_zone_free_bytes",
        kind: Kind::Gauge,
        help: "Free pages of a zone (zoneinfo pages free)",
        labels: &["node", "zone"],
    },
    MetricDef {
        name: "memscope_zone_managed_bytes",
        kind: Kind::Gauge,
        help: "Pages of a zone managed by the buddy allocator (zoneinfo managed)",
        labels: &["node", "zone"],
    },
    MetricDef {
        name: "memscope_zone_watermark_bytes",
        kind: Kind::Gauge,
        help: "Zone watermarks: below low kswapd reclaims, below min allocations reclaim directly",
        labels: &["node", "zone", "watermark"],
    },
];

const NODE_FREE: &MetricDef = &METRICS[0];
const NODE_MANAGED: &MetricDef = &METRICS[1];
const ZONE_FREE: &MetricDef = &METRICS[2];
const ZONE_MANAGED: &MetricDef = &METRICS[3];
const WATERMARK: &MetricDef = &METRICS[4];

pub fn collect(input: &Input, out: &mut Out) {
    let z = match &input.snap.zoneinfo {
        Ok(z) => z,
        Err(e) => {
            out.unavailable("memscope_zone_free_bytes", unavailable_reason(e));
            return;
        }
    };
    let page = input.page_size_bytes;
    let mut nodes: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for zone in &z.zones {
        // Unpopulated zones (no present pages) are listed by the kernel but hold nothing.
        if zone.get("present").unwrap_or(0) == 0 {
            continue;
        }
        let node = zone.node.to_string();
        let labels = [node.as_str(), zone.zone.as_str()];
        let n = nodes.entry(zone.node).or_default();
        if let Some(free) = zone.get("free").or_else(|| zone.get("nr_free_pages")) {
            out.uint(ZONE_FREE, &labels, free.saturating_mul(page));
            n.0 += free;
        }
        if let Some(managed) = zone.get("managed") {
            out.uint(ZONE_MANAGED, &labels, managed.saturating_mul(page));
            n.1 += managed;
        }
        for mark in ["min", "low", "high"] {
            if let Some(v) = zone.get(mark) {
                out.uint(WATERMARK, &[labels[0], labels[1], mark], v.saturating_mul(page));
            }
        }
    }
    for (node, (free, managed)) in nodes {
        let node = node.to_string();
        out.uint(NODE_FREE, &[&node], free.saturating_mul(page));
        out.uint(NODE_MANAGED, &[&node], managed.saturating_mul(page));
    }
}
