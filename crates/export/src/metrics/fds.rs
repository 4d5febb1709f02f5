//! File descriptors: the system-wide file table against `fs.file-max`
//! (`/proc/sys/fs/file-nr`; ENFILE when it is full), `fs.nr_open`, and the
//! open descriptors and `RLIMIT_NOFILE` of the same top processes as the
//! `processes` family (EMFILE when a process reaches its soft limit), plus
//! `pid="other"` with the rest. From the fd doctor's cheap count pass
//! (`model::fds::collect_fd_counts`: one `stat` of `/proc/PID/fd` per
//! process).

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
    let Some(fds) = input.fds else { return };
    match &fds.system.file_nr {
        Ok(f) => {
            out.uint(ALLOCATED, &[], f.allocated);
            out.uint(FILE_MAX, &[], f.max);
        }
        Err(e) => out.unavailable(ALLOCATED.name, unavailable_reason(e)),
    }
    match &fds.system.nr_open {
        Ok(n) => out.uint(NR_OPEN, &[], *n),
        Err(e) => out.unavailable(NR_OPEN.name, unavailable_reason(e)),
    }
    let by_pid: std::collections::HashMap<u32, &memscope_model::fds::FdProcess> =
        fds.processes.iter().map(|p| (p.pid, p)).collect();
    let rows: Vec<_> = input.processes.iter().collect();
    let (top, rest) = top_and_rest(rows, input.opts.top_processes, |r| r.rank_bytes());
    for r in &top {
        let Some(p) = by_pid.get(&r.pid) else { continue };
        let pid = r.pid.to_string();
        let labels = [pid.as_str(), r.comm.as_str()];
        if let Ok(n) = &p.fd_count {
            out.uint(OPEN, &labels, *n);
        }
        if let Ok(l) = &p.nofile
            && let Some(soft) = l.soft.value()
        {
            out.uint(MAX, &labels, soft);
        }
    }
    let other: Vec<u64> = rest
        .iter()
        .filter_map(|r| by_pid.get(&r.pid))
        .filter_map(|p| p.fd_count.as_ref().ok().copied())
        .collect();
    if !other.is_empty() {
        out.uint(OPEN, &[super::processes::OTHER, super::processes::OTHER], other.iter().sum());
    }
    let failed: Vec<_> = fds.processes.iter().filter_map(|p| p.fd_count.as_ref().err()).collect();
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
