//! File descriptors: the system-wide file table against `fs.file-max`
//! (`/proc/sys/fs/file-nr`; ENFILE when it is full), `fs.nr_open`, and the
//! open descriptors and `RLIMIT_NOFILE` of the same top processes as the
//! `processes` family (EMFILE when a process reaches its soft limit), plus
//! `pid="other"` with the rest. From a snapshot collected with
//! `CollectOptions::fds` (the fd doctor's count pass joined to the memory
//! scan: one `stat` of `/proc/PID/fd` and one read of `/proc/PID/limits` per
//! process, [`memscope_model::ProcessSample::fds`]).

use memscope_analysis::hints::unavailable_reason;

use super::{Input, Kind, MetricDef, Out, top_and_rest};

pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "memscope_file_handles_allocated",
        kind: Kind::Gauge,
        help: "File handles allocated system-wide (file-nr); opening fails with ENFILE at file-max",
        labels: &[],
    },
    MetricDef {
        name: "memscope_file_handles_max",
        kind: Kind::Gauge,
        help: "fs.file-max: the system-wide limit of file handles",
        labels: &[],
    },
    MetricDef {
        name: "memscope_fds_nr_open",
        kind: Kind::Gauge,
        help: "fs.nr_open: the ceiling of any process's RLIMIT_NOFILE",
        labels: &[],
    },
    MetricDef {
        name: "memscope_process_open_fds",
        kind: Kind::Gauge,
        help: "Open file descriptors of the largest processes by PSS; pid=\"other\" sums the rest",
        labels: &["pid", "comm"],
    },
    MetricDef {
        name: "memscope_process_max_fds",
        kind: Kind::Gauge,
        help: "Soft RLIMIT_NOFILE of the largest processes by PSS (Max open files); opening fails with \
               EMFILE at this many; unlimited is left out",
        labels: &["pid", "comm"],
    },
];

const ALLOCATED: &MetricDef = &METRICS[0];
const FILE_MAX: &MetricDef = &METRICS[1];
const NR_OPEN: &MetricDef = &METRICS[2];
const OPEN: &MetricDef = &METRICS[3];
const MAX: &MetricDef = &METRICS[4];

pub fn collect(input: &Input, out: &mut Out) {
    let Some(system) = &input.snap.fd_system else { return };
    match &system.file_nr {
        Ok(f) => {
            out.uint(ALLOCATED, &[], f.allocated);
            out.uint(FILE_MAX, &[], f.max);
        }
        Err(e) => out.unavailable(ALLOCATED.name, unavailable_reason(e)),
    }
    match &system.nr_open {
        Ok(n) => out.uint(NR_OPEN, &[], *n),
        Err(e) => out.unavailable(NR_OPEN.name, unavailable_reason(e)),
    }
    let rows: Vec<_> = input.processes.iter().collect();
    let (top, rest) = top_and_rest(rows, input.opts.top_processes, |r| r.rank_bytes());
    for r in &top {
        let pid = r.pid.to_string();
        let labels = [pid.as_str(), r.comm.as_str()];
        if let Some(n) = r.fds {
            out.uint(OPEN, &labels, n);
        }
        if let Some(soft) = r.fd_soft_limit.and_then(|l| l.value()) {
            out.uint(MAX, &labels, soft);
        }
    }
    if let Some(other) = rest.iter().filter_map(|r| r.fds).reduce(u64::saturating_add) {
        out.uint(OPEN, &[super::processes::OTHER, super::processes::OTHER], other);
    }
    let failed: Vec<_> =
        input.snap.processes.iter().filter_map(|p| p.fds.as_ref()?.count.as_ref().err()).collect();
    if let Some(first) = failed.first() {
        out.unavailable(
            OPEN.name,
            format!(
                "{} processes' descriptors could not be counted, e.g. {}",
                failed.len(),
                unavailable_reason(first)
            ),
        );
    }
}
