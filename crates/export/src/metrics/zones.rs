//! Free and managed memory per NUMA node and per zone, and the zone
//! watermarks, from `/proc/zoneinfo` (mm/vmstat.c `zoneinfo_show_print`;
//! counts in pages). A zone whose free memory falls below `low` wakes
//! kswapd; below `min`, allocations reclaim directly
//! (Documentation/admin-guide/sysctl/vm.rst, `min_free_kbytes`).

use std::collections::BTreeMap;

use memscope_analysis::zones::{self, ZonesOptions};

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
    // The `zones` command's view: populated zones only (the kernel lists
    // empty ones too, holding nothing).
    let view = match zones::from_snapshot(input.snap, &ZonesOptions::default()) {
        Ok(v) => v,
        Err(why) => {
            out.unavailable("memscope_zone_free_bytes", why);
            return;
        }
    };
    let page = view.page_size_bytes;
    let b = |pages: u64| pages.saturating_mul(page);
    let mut nodes: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for z in &view.zones {
        let node = z.node.to_string();
        let labels = [node.as_str(), z.zone.as_str()];
        let n = nodes.entry(z.node).or_default();
        if let Some(free) = z.free_pages {
            out.uint(ZONE_FREE, &labels, b(free));
            n.0 += free;
        }
        if let Some(managed) = z.managed_pages {
            out.uint(ZONE_MANAGED, &labels, b(managed));
            n.1 += managed;
        }
        for (mark, v) in [("min", z.min_pages), ("low", z.low_pages), ("high", z.high_pages)] {
            if let Some(v) = v {
                out.uint(WATERMARK, &[labels[0], labels[1], mark], b(v));
            }
        }
    }
    for (node, (free, managed)) in nodes {
        let node = node.to_string();
        out.uint(NODE_FREE, &[&node], b(free));
        out.uint(NODE_MANAGED, &[&node], b(managed));
    }
}
