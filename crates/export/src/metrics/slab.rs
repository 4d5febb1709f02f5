//! Slab caches (`/proc/slabinfo`, root only): the largest N by memory held,
//! and one `cache="other"` series with the rest, so that the sum over
//! `cache` is all slab memory the file shows. SLUB merges caches of the
//! same geometry: one name may stand for several (`/sys/kernel/slab/*/aliases`).

use memscope_analysis::hints::unavailable_reason;

use super::{Input, Kind, MetricDef, Out, top_and_rest};

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
    let s = match &input.snap.slabinfo {
        Ok(s) => s,
        Err(e) => {
            out.unavailable(BYTES.name, unavailable_reason(e));
            return;
        }
    };
    let page = input.page_size_bytes;
    let mut caches: Vec<_> = s.caches.iter().collect();
    caches.sort_by(|a, b| a.name.cmp(&b.name));
    let (top, rest) = top_and_rest(caches, input.opts.top_slab_caches, |c| c.bytes(page));
    for c in top {
        out.uint(BYTES, &[&c.name], c.bytes(page));
        out.uint(ACTIVE, &[&c.name], c.active_bytes());
    }
    if !rest.is_empty() {
        let bytes = rest.iter().fold(0u64, |a, c| a.saturating_add(c.bytes(page)));
        let active = rest.iter().fold(0u64, |a, c| a.saturating_add(c.active_bytes()));
        out.uint(BYTES, &["other"], bytes);
        out.uint(ACTIVE, &["other"], active);
    }
}
