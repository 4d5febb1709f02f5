//! Memory cgroups' ledgers: each shown cgroup's charge split into the lines
//! of `memscope report --cgroup` ([`memscope_analysis::cgroup_rows`]), and
//! its working set, for the same cgroups as the `cgroups` family (the
//! largest N by charge, [`memscope_analysis::memcg::largest`]) plus
//! `cgroup="other"` summing the topmost cgroups not shown, each byte once.
//!
//! The lines of one cgroup add up to its `memscope_cgroup_memory_bytes`:
//! `anon`, `page_cache` (memory.stat file − shmem), `shmem`, `kernel`,
//! `sock` (v2 only: v1 charges socket buffers to a counter of its own,
//! outside the usage) and the signed `remainder`. A line the kernel does
//! not give has no series, and `memscope_unavailable_info` says why.
//!
//! Exported when the collection comes with the cgroups' ledger files
//! ([`super::Input::cgroup_stats`]); without them the family says nothing.

use std::collections::HashMap;

use memscope_analysis::cgroup_rows::{self, LINES, LedgerRow};
use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::memcg;

use super::cgroups::OTHER;
use super::{Input, Kind, MetricDef, Out};

pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "memscope_cgroup_memory_ledger_bytes",
        kind: Kind::Gauge,
        help: "A cgroup's charge split into lines that do not overlap (line=anon, page_cache, shmem, kernel, \
               sock on v2 only, and the signed remainder); a cgroup's lines add up to its \
               memscope_cgroup_memory_bytes. The largest cgroups, and cgroup=\"other\" summing the rest once",
        labels: &["cgroup", "line"],
    },
    MetricDef {
        name: "memscope_cgroup_memory_working_set_bytes",
        kind: Kind::Gauge,
        help: "A cgroup's charge less its inactive page cache (memory.stat inactive_file; v1 \
               total_inactive_file): the working set the kubelet evicts by",
        labels: &["cgroup"],
    },
];

const LEDGER: &MetricDef = &METRICS[0];
const WORKING_SET: &MetricDef = &METRICS[1];

/// The label of the signed remainder line.
pub const REMAINDER: &str = "remainder";

fn emit(out: &mut Out, label: &str, r: &LedgerRow) {
    for (key, _) in LINES {
        if !r.in_usage(key) {
            continue;
        }
        match r.line(key) {
            Some(v) => out.uint(LEDGER, &[label, key], v),
            None => out.unavailable(
                format!("{}{{cgroup=\"{label}\",line=\"{key}\"}}", LEDGER.name),
                r.unavailable.get(&format!("{key}_bytes")).cloned().unwrap_or_else(|| "unavailable".into()),
            ),
        }
    }
    match r.remainder_bytes {
        Some(v) => out.int(LEDGER, &[label, REMAINDER], v),
        None => out.unavailable(
            format!("{}{{cgroup=\"{label}\",line=\"{REMAINDER}\"}}", LEDGER.name),
            r.unavailable.get("remainder_bytes").cloned().unwrap_or_else(|| "unavailable".into()),
        ),
    }
    match r.working_set_bytes {
        Some(v) => out.uint(WORKING_SET, &[label], v),
        None => out.unavailable(
            format!("{}{{cgroup=\"{label}\"}}", WORKING_SET.name),
            r.unavailable.get("working_set_bytes").cloned().unwrap_or_else(|| "unavailable".into()),
        ),
    }
}

pub fn collect(input: &Input, out: &mut Out) {
    let (Some(Ok(sample)), Some(stats)) = (&input.snap.cgroups, input.cgroup_stats) else { return };
    let stats = match stats {
        Ok(s) => s,
        Err(e) => {
            out.unavailable(LEDGER.name, unavailable_reason(e));
            return;
        }
    };
    let by_path: HashMap<&str, &memscope_model::cgroup_stats::CgroupStat> =
        stats.iter().map(|s| (s.path.as_str(), s)).collect();
    let rows = memcg::rows(sample);
    let chosen = memcg::largest(&rows, input.opts.top_cgroups);
    for &i in &chosen.shown {
        if let Some(s) = by_path.get(rows[i].path.as_str()) {
            emit(out, &rows[i].path, &cgroup_rows::row(s));
        }
    }
    let rest: Vec<LedgerRow> = chosen
        .rest_tops
        .iter()
        .filter_map(|&i| by_path.get(rows[i].path.as_str()))
        .map(|s| cgroup_rows::row(s))
        .collect();
    if let Some(sum) = cgroup_rows::sum(&rest.iter().collect::<Vec<_>>()) {
        emit(out, OTHER, &sum);
    }
}

/// The memory cgroups whose ledger files the family reads for `sample`:
/// the largest `top` and the topmost of the rest, parents first. At most
/// the sample's cgroups, which the model bounds.
pub fn paths_to_read(sample: &memscope_model::CgroupSample, top: usize) -> Vec<String> {
    let rows = memcg::rows(sample);
    let chosen = memcg::largest(&rows, top);
    let mut idx: Vec<usize> = chosen.shown.iter().chain(&chosen.rest_tops).copied().collect();
    idx.sort_unstable();
    idx.into_iter().map(|i| rows[i].path.clone()).collect()
}
