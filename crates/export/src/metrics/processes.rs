//! Per-process memory for the largest N processes by PSS (RSS where PSS is
//! unavailable), and one `pid="other"` series with the sum of the rest, so
//! the number of series stays bounded however many processes run. PSS and
//! USS come from `smaps_rollup`, read within the collection's time budget
//! (largest first); the rest keep the cheap `status` figures, and their PSS
//! series is left out rather than shown as 0. Open fds per process join
//! here when the fd doctor's collection lands.

use super::{Input, Kind, MetricDef, Out, top_and_rest};

pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "memscope_process_pss_bytes",
        kind: Kind::Gauge,
        help: "Proportional set size (smaps_rollup Pss) of the largest processes; pid=\"other\" sums \
               the rest that have one",
        labels: &["pid", "comm"],
    },
    MetricDef {
        name: "memscope_process_uss_bytes",
        kind: Kind::Gauge,
        help: "Unique set size (smaps_rollup Private_Clean + Private_Dirty) of the largest processes",
        labels: &["pid", "comm"],
    },
    MetricDef {
        name: "memscope_process_rss_bytes",
        kind: Kind::Gauge,
        help: "Resident set size (VmRSS) of the largest processes; shared pages count in each",
        labels: &["pid", "comm"],
    },
    MetricDef {
        name: "memscope_process_swap_bytes",
        kind: Kind::Gauge,
        help: "Swapped-out memory (VmSwap) of the largest processes",
        labels: &["pid", "comm"],
    },
    MetricDef {
        name: "memscope_processes",
        kind: Kind::Gauge,
        help: "Processes with user memory, by whether their PSS was measured (smaps_rollup read) or \
               is unavailable (permission, time budget, size cap)",
        labels: &["pss"],
    },
    MetricDef {
        name: "memscope_process_scan_skipped",
        kind: Kind::Gauge,
        help: "Processes whose smaps_rollup was not read in the last collection, by reason",
        labels: &["reason"],
    },
    MetricDef {
        name: "memscope_process_scan_duration_seconds",
        kind: Kind::Gauge,
        help: "Wall time of the last process scan",
        labels: &[],
    },
];

const PSS: &MetricDef = &METRICS[0];
const USS: &MetricDef = &METRICS[1];
const RSS: &MetricDef = &METRICS[2];
const SWAP: &MetricDef = &METRICS[3];
const COUNT: &MetricDef = &METRICS[4];
const SKIPPED: &MetricDef = &METRICS[5];
const DURATION: &MetricDef = &METRICS[6];

/// The label value of the series that sums every process not shown alone.
pub const OTHER: &str = "other";

pub fn collect(input: &Input, out: &mut Out) {
    // `input.processes` is sorted by PSS already; the split keeps that order.
    let rows: Vec<_> = input.processes.iter().collect();
    let (top, rest) = top_and_rest(rows, input.opts.top_processes, |r| r.rank_bytes());
    for r in &top {
        let pid = r.pid.to_string();
        let labels = [pid.as_str(), r.comm.as_str()];
        for (def, v) in [(PSS, r.pss_bytes), (USS, r.uss_bytes), (RSS, r.rss_bytes), (SWAP, r.swap_bytes)] {
            if let Some(v) = v {
                out.uint(def, &labels, v);
            }
        }
    }
    if !rest.is_empty() {
        let sum = |f: &dyn Fn(&memscope_analysis::processes::ProcessRow) -> Option<u64>| -> Option<u64> {
            rest.iter().filter_map(|r| f(r)).reduce(|a, b| a.saturating_add(b))
        };
        let labels = [OTHER, OTHER];
        for (def, v) in [
            (PSS, sum(&|r| r.pss_bytes)),
            (USS, sum(&|r| r.uss_bytes)),
            (RSS, sum(&|r| r.rss_bytes)),
            (SWAP, sum(&|r| r.swap_bytes)),
        ] {
            if let Some(v) = v {
                out.uint(def, &labels, v);
            }
        }
    }
    if input.snap.scan.listed == 0 {
        return;
    }
    let measured = input.processes.iter().filter(|r| r.pss_bytes.is_some()).count();
    out.uint(COUNT, &["measured"], measured as u64);
    out.uint(COUNT, &["unavailable"], (input.processes.len() - measured) as u64);
    let s = &input.snap.scan;
    for (reason, n) in [
        ("permission", s.rollup_denied),
        ("time_budget", s.rollup_over_budget),
        ("size_cap", s.rollup_over_size),
        ("failed", s.rollup_failed),
        ("exited", s.gone),
    ] {
        out.uint(SKIPPED, &[reason], n as u64);
    }
    out.float(DURATION, &[], s.elapsed_usec as f64 / 1e6);
}
