//! Socket buffers and sockets in use (`/proc/net/sockstat`, `sockstat6`;
//! net/ipv4/proc.c `sockstat_seq_show`). TCP and UDP `mem` are pages charged
//! to sockets system-wide (IPv4 and IPv6 together); `FRAG memory` is bytes
//! of IP fragments waiting for reassembly in the reader's network namespace.

use memscope_analysis::hints::unavailable_reason;

use super::{Input, Kind, MetricDef, Out};

pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "memscope_socket_buffer_bytes",
        kind: Kind::Gauge,
        help: "Memory charged to socket buffers (sockstat TCP and UDP mem, FRAG memory); skb heads \
               live in slab caches, so this overlaps slab",
        labels: &["protocol"],
    },
    MetricDef {
        name: "memscope_sockets_in_use",
        kind: Kind::Gauge,
        help: "Sockets in use per protocol (sockstat inuse)",
        labels: &["protocol"],
    },
];

const BUFFERS: &MetricDef = &METRICS[0];
const IN_USE: &MetricDef = &METRICS[1];

pub fn collect(input: &Input, out: &mut Out) {
    let page = input.page_size_bytes;
    for (file, sample) in [("sockstat", &input.snap.sockstat), ("sockstat6", &input.snap.sockstat6)] {
        let s = match sample {
            Ok(s) => s,
            Err(e) => {
                out.unavailable(format!("{} ({file})", BUFFERS.name), unavailable_reason(e));
                continue;
            }
        };
        for (proto, fields) in &s.protocols {
            if let Some(pages) = fields.get("mem") {
                out.uint(BUFFERS, &[proto], pages.saturating_mul(page));
            }
            if let Some(bytes) = fields.get("memory") {
                out.uint(BUFFERS, &[proto], *bytes);
            }
            if let Some(n) = fields.get("inuse") {
                out.uint(IN_USE, &[proto], *n);
            }
        }
    }
}
