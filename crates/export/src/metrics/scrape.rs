//! The exporter's own figures, and the figures it could not read.

use super::{Input, Kind, MetricDef, Out};

pub const METRICS: &[MetricDef] = &[
    // First: `super::UNAVAILABLE` points here.
    MetricDef {
        name: "memscope_unavailable_info",
        kind: Kind::Info,
        help: "A figure memscope could not read, and why (permission, a file this kernel does not have); \
               its series is left out rather than shown as 0",
        labels: &["figure", "reason"],
    },
    MetricDef {
        name: "memscope_build_info",
        kind: Kind::Info,
        help: "memscope version and the kernel release it reads",
        labels: &["version", "kernel"],
    },
    MetricDef {
        name: "memscope_snapshot_timestamp_seconds",
        kind: Kind::Gauge,
        help: "When the snapshot these figures come from was taken (Unix time); scrapes within \
               --min-interval share one snapshot",
        labels: &[],
    },
    MetricDef {
        name: "memscope_collection_duration_seconds",
        kind: Kind::Gauge,
        help: "Wall time of the last collection and its analysis",
        labels: &[],
    },
    MetricDef {
        name: "memscope_collections_total",
        kind: Kind::Counter,
        help: "Collections since the exporter started",
        labels: &[],
    },
];

const BUILD: &MetricDef = &METRICS[1];
const TIMESTAMP: &MetricDef = &METRICS[2];
const DURATION: &MetricDef = &METRICS[3];
const COLLECTIONS: &MetricDef = &METRICS[4];

pub fn collect(input: &Input, out: &mut Out) {
    let kernel = input.snap.kernel.as_deref().unwrap_or("unknown");
    out.int(BUILD, &[env!("CARGO_PKG_VERSION"), kernel], 1);
    out.float(TIMESTAMP, &[], input.snap.taken_at_unix_ms as f64 / 1e3);
    if input.stats.collections > 0 {
        out.float(DURATION, &[], input.stats.collection_seconds);
        out.uint(COLLECTIONS, &[], input.stats.collections);
    }
}
