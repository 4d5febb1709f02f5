//! vmalloc areas by kind (`/proc/vmallocinfo`, root only; mm/vmalloc.c
//! `show_vmalloc_info`): pages of RAM behind them, the address space they
//! take (with their guard pages), and how many there are. ioremap areas map
//! device memory and have no pages.

use std::collections::BTreeMap;

use memscope_analysis::hints::unavailable_reason;
use memscope_kernel::parse::vmallocinfo::VmallocKind;

use super::{Input, Kind, MetricDef, Out};

pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "memscope_vmalloc_bytes",
        kind: Kind::Gauge,
        help: "RAM pages behind vmalloc areas, by kind (vmallocinfo pages=)",
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
    let v = match &input.snap.vmallocinfo {
        Ok(v) => v,
        Err(e) => {
            out.unavailable(BYTES.name, unavailable_reason(e));
            return;
        }
    };
    let page = input.page_size_bytes;
    let mut kinds: BTreeMap<VmallocKind, (Option<u64>, u64, u64)> = BTreeMap::new();
    for a in &v.areas {
        let k = kinds.entry(a.kind()).or_default();
        if let Some(p) = a.pages {
            k.0 = Some(k.0.unwrap_or(0).saturating_add(p));
        }
        k.1 = k.1.saturating_add(a.size_bytes);
        k.2 += 1;
    }
    for (kind, (pages, size, count)) in kinds {
        let name = kind.name();
        // A kind without a pages= field on any area (ioremap) has no RAM to show.
        if let Some(p) = pages {
            out.uint(BYTES, &[name], p.saturating_mul(page));
        }
        out.uint(SPACE, &[name], size);
        out.uint(AREAS, &[name], count);
    }
}
