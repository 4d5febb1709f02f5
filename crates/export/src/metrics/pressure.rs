//! Memory pressure (PSI, `/proc/pressure/memory`; kernel/sched/psi.c): the
//! stall totals as counters in seconds, as node_exporter's pressure
//! collector exports them (`node_pressure_memory_{waiting,stalled}_seconds_total`),
//! with the `some`/`full` distinction as a label, and the kernel's running
//! averages as ratios. `rate()` of the counter is the share of time stalled.

use memscope_analysis::pressure::reason;
use memscope_kernel::parse::pressure::PsiLine;

use super::{Input, Kind, MetricDef, Out};

pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "memscope_pressure_memory_stalled_seconds_total",
        kind: Kind::Counter,
        help: "Time tasks stalled waiting for memory since boot (/proc/pressure/memory total): \
               kind some = at least one task, full = all non-idle tasks at once",
        labels: &["kind"],
    },
    MetricDef {
        name: "memscope_pressure_memory_ratio",
        kind: Kind::Gauge,
        help: "Share of the last window tasks stalled waiting for memory (/proc/pressure/memory \
               avg10, avg60, avg300 divided by 100)",
        labels: &["kind", "window"],
    },
];

const STALLED: &MetricDef = &METRICS[0];
const RATIO: &MetricDef = &METRICS[1];

pub fn collect(input: &Input, out: &mut Out) {
    let p = match &input.snap.pressure {
        None => return,
        Some(Err(e)) => {
            out.unavailable(STALLED.name, reason(e, input.snap.live));
            return;
        }
        Some(Ok(p)) => p,
    };
    let lines: [(&str, Option<PsiLine>); 2] = [("some", p.some), ("full", p.full)];
    for (kind, l) in lines {
        let Some(l) = l else { continue };
        out.float(STALLED, &[kind], l.total_usec as f64 / 1e6);
        for (window, avg) in [("10s", l.avg10), ("60s", l.avg60), ("300s", l.avg300)] {
            out.float(RATIO, &[kind, window], avg / 100.0);
        }
    }
}
