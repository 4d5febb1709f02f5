//! Slab caches (`/proc/slabinfo`, root only): the largest N by memory held,
//! and one `cache="other"` series with the rest, so that the sum over
//! `cache` is all slab memory the file shows. SLUB merges caches of the
//! same geometry: one name may stand for several (`/sys/kernel/slab/*/aliases`).

use memscope_analysis::slab::{self, SlabOptions, SlabSort};

use super::{Input, Kind, MetricDef, Out};

pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "memscope_slab_cache_bytes",
        kind: Kind::Gauge,
        help: "Memory held by a slab cache's slabs (slabinfo num_slabs x pagesperslab pages); the \
               largest caches, the rest summed in cache=\"other\"",
        labels: &["cache"],
    },
    MetricDef {
        name: "memscope_slab_cache_active_bytes",
        kind: Kind::Gauge,
        help: "Memory of a slab cache's objects in use (slabinfo active_objs x objsize); the rest of \
               its slabs is free objects and waste",
        labels: &["cache"],
    },
];

const BYTES: &MetricDef = &METRICS[0];
const ACTIVE: &MetricDef = &METRICS[1];

pub fn collect(input: &Input, out: &mut Out) {
    // The `slab` command's view: every cache, largest first.
    let view = slab::from_snapshot(input.snap, &SlabOptions { sort: SlabSort::Size, top: None, all: true });
    if let Some(why) = view.unavailable {
        out.unavailable(BYTES.name, why);
        return;
    }
    let n = input.opts.top_slab_caches.min(view.caches.len());
    let (top, rest) = view.caches.split_at(n);
    for c in top {
        out.uint(BYTES, &[&c.name], c.size_bytes);
        out.uint(ACTIVE, &[&c.name], c.active_bytes);
    }
    if !rest.is_empty() {
        let bytes = rest.iter().fold(0u64, |a, c| a.saturating_add(c.size_bytes));
        let active = rest.iter().fold(0u64, |a, c| a.saturating_add(c.active_bytes));
        out.uint(BYTES, &["other"], bytes);
        out.uint(ACTIVE, &["other"], active);
    }
}
