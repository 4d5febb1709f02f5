//! vmalloc areas by kind (`/proc/vmallocinfo`, root only; mm/vmalloc.c
//! `show_vmalloc_info`): pages of RAM behind them, the address space they
//! take (with their guard pages), and how many there are. ioremap areas map
//! device memory and have no pages.

use memscope_analysis::vmalloc;

use super::{Input, Kind, MetricDef, Out};

pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "memscope_vmalloc_bytes",
        kind: Kind::Gauge,
        help: "RAM pages behind vmalloc areas, by kind (vmallocinfo pages=); ioremap maps device memory \
               and has none",
        labels: &["kind"],
    },
    MetricDef {
        name: "memscope_vmalloc_address_space_bytes",
        kind: Kind::Gauge,
        help: "Kernel address space of vmalloc areas, by kind, guard pages included (vmallocinfo size); \
               ioremap is device memory, not RAM",
        labels: &["kind"],
    },
    MetricDef {
        name: "memscope_vmalloc_areas",
        kind: Kind::Gauge,
        help: "Number of vmalloc areas, by kind",
        labels: &["kind"],
    },
];

const BYTES: &MetricDef = &METRICS[0];
const SPACE: &MetricDef = &METRICS[1];
const AREAS: &MetricDef = &METRICS[2];

pub fn collect(input: &Input, out: &mut Out) {
    // The `vmalloc` command's view, by kind (no caller is exported).
    let view = vmalloc::from_snapshot(input.snap, 0);
    if let Some(why) = view.unavailable {
        out.unavailable(BYTES.name, why);
        return;
    }
    for k in &view.kinds {
        let name = k.kind.name();
        // ioremap maps device memory: no RAM to show.
        if let Some(ram) = k.ram_bytes {
            out.uint(BYTES, &[name], ram);
        }
        out.uint(SPACE, &[name], k.size_bytes);
        out.uint(AREAS, &[name], k.areas);
    }
}
