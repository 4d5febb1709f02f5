//! Memory cgroups: each one's charge, hard limit and OOM kills
//! ([`memscope_model::Snapshot::cgroups`], v1 or v2), for the largest N by
//! charge plus `cgroup="other"` holding the rest, so that the number of
//! series stays bounded however many containers and services run.
//!
//! The charge counts descendants (both versions are hierarchical), so a
//! parent's series includes its children's; the N are chosen walking down
//! from the tops ([`memscope_analysis::memcg::largest`]), so a shown cgroup's
//! parent is shown too, and `other` sums the topmost cgroups not shown,
//! counting each byte once. A cgroup without a limit has no limit series
//! (`max` is not a number). OOM kills are counters per shown cgroup
//! (descendants included on v2, not on v1: mm/memcontrol.c
//! `memcg_memory_event`); the host's total, cgroup or not, is
//! `memscope_oom_kills_total` (`/proc/vmstat` `oom_kill`, Linux 4.13+), a
//! true counter where a sum over a changing set of cgroups would not be.

use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::memcg;
use memscope_kernel::parse::cgroupfs::Limit;
use memscope_kernel::paths;

use super::{Input, Kind, MetricDef, Out};

pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "memscope_cgroup_memory_bytes",
        kind: Kind::Gauge,
        help: "Memory charged to a cgroup, its descendants included (memory.current; v1 \
               memory.usage_in_bytes); the largest cgroups, and cgroup=\"other\" summing the rest once",
        labels: &["cgroup"],
    },
    MetricDef {
        name: "memscope_cgroup_memory_limit_bytes",
        kind: Kind::Gauge,
        help: "Hard memory limit of a cgroup (memory.max; v1 memory.limit_in_bytes): the charge at which \
               it reclaims, then OOM-kills; no series when it has no limit of its own (max)",
        labels: &["cgroup"],
    },
    MetricDef {
        name: "memscope_cgroup_oom_kills_total",
        kind: Kind::Counter,
        help: "Processes the OOM killer killed in a cgroup (memory.events oom_kill, descendants included; \
               v1 memory.oom_control oom_kill, this cgroup only)",
        labels: &["cgroup"],
    },
    MetricDef {
        name: "memscope_oom_kills_total",
        kind: Kind::Counter,
        help: "Processes the OOM killer killed on this host since boot, in any cgroup or none \
               (/proc/vmstat oom_kill)",
        labels: &[],
    },
    MetricDef {
        name: "memscope_memory_cgroups",
        kind: Kind::Gauge,
        help: "Memory cgroups in the hierarchy (set=\"total\") and read by this collection (set=\"read\": \
               all of them up to 200, else those of the processes and their ancestors)",
        labels: &["set"],
    },
];

const CURRENT: &MetricDef = &METRICS[0];
const LIMIT: &MetricDef = &METRICS[1];
const KILLS: &MetricDef = &METRICS[2];
const HOST_KILLS: &MetricDef = &METRICS[3];
const COUNT: &MetricDef = &METRICS[4];

/// The label value of the series holding the cgroups not shown (a cgroup
/// path always starts with `/`).
pub const OTHER: &str = "other";

pub fn collect(input: &Input, out: &mut Out) {
    match input.snap.vmstat.as_ref().map(|v| v.get("oom_kill")) {
        Ok(Some(n)) => out.uint(HOST_KILLS, &[], n),
        Ok(None) => {
            out.unavailable(HOST_KILLS.name, format!("{} has no oom_kill (Linux 4.13+)", paths::VMSTAT))
        }
        Err(e) => out.unavailable(HOST_KILLS.name, unavailable_reason(e)),
    }
    // Not collected: nothing said.
    let Some(sample) = &input.snap.cgroups else { return };
    let sample = match sample {
        Ok(s) => s,
        Err(e) => {
            out.unavailable(CURRENT.name, unavailable_reason(e));
            return;
        }
    };
    out.uint(COUNT, &["total"], sample.total as u64);
    out.uint(COUNT, &["read"], sample.cgroups.len() as u64);
    let rows = memcg::rows(sample);
    let chosen = memcg::largest(&rows, input.opts.top_cgroups);
    for &i in &chosen.shown {
        let r = &rows[i];
        let labels = [r.path.as_str()];
        if let Some(c) = r.current_bytes {
            out.uint(CURRENT, &labels, c);
        }
        if let Some(Limit::Value(l)) = r.limit {
            out.uint(LIMIT, &labels, l);
        }
        if let Some(k) = r.oom_kills {
            out.uint(KILLS, &labels, k);
        }
        for (what, why) in &r.unavailable {
            let metric = match *what {
                "current" => CURRENT.name,
                "limit" => LIMIT.name,
                _ => KILLS.name,
            };
            out.unavailable(format!("{metric}{{cgroup=\"{}\"}}", r.path), why.clone());
        }
    }
    if let Some(rest) = chosen.rest_current_bytes(&rows) {
        out.uint(CURRENT, &[OTHER], rest);
    }
}
