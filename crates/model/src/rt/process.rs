//! What `rt check --pid PID` reads about a process ([`ProcessFacts`]):
//! `/proc/PID/{stat,status,limits,cgroup,timerslack_ns}` and every
//! thread's `/proc/PID/task/TID/{stat,status}`; on a live system the stat
//! files are read a second time after a short window to see page faults
//! happening now. Judged by `memscope_analysis::rt`.

use std::time::Duration;

use memscope_kernel::parse::pid::limits::Limits;
use memscope_kernel::parse::pid::stat::Stat;
use memscope_kernel::parse::pid::status::Status;
use memscope_kernel::parse::sysfs::parse_list;
use memscope_kernel::{KernelRoot, ReadError, paths};

/// One thread as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadFacts {
    /// Thread id.
    pub tid: u32,
    /// Its stat line.
    pub stat: Stat,
    /// `Cpus_allowed_list` from its status, when readable.
    pub cpus_allowed: Option<Vec<u32>>,
}

/// A second reading after a window, for growth.
#[derive(Debug, Clone)]
pub struct Later {
    /// How long after the first reading.
    pub window: Duration,
    /// The process's stat then.
    pub stat: Result<Stat, ReadError>,
    /// Its threads' stat then.
    pub threads: Vec<(u32, Stat)>,
}

/// Every fact about one process.
#[derive(Debug, Clone)]
pub struct ProcessFacts {
    /// The process id.
    pub pid: u32,
    /// `/proc/PID/stat`.
    pub stat: Result<Stat, ReadError>,
    /// `/proc/PID/status`.
    pub status: Result<Status, ReadError>,
    /// Its threads.
    pub threads: Result<Vec<ThreadFacts>, ReadError>,
    /// `/proc/PID/limits`.
    pub limits: Result<Limits, ReadError>,
    /// `/proc/PID/timerslack_ns`.
    pub timerslack_ns: Result<u64, ReadError>,
    /// `(cgroup file, cpu.rt_runtime_us)` of its cgroup v1 cpu group;
    /// `Ok(None)` when it is in no v1 cpu hierarchy.
    pub rt_budget: Result<Option<(String, i64)>, ReadError>,
    /// The second reading (live only).
    pub later: Option<Later>,
}

fn read_threads(root: &KernelRoot, pid: u32) -> Result<Vec<ThreadFacts>, ReadError> {
    let mut out = Vec::new();
    for tid in root.pid_tasks(pid)? {
        // A thread may exit between the listing and the read: skip it.
        let Ok(stat) = root.task_stat(pid, tid) else { continue };
        let cpus_allowed = root
            .task_status(pid, tid)
            .ok()
            .and_then(|s| s.text.get("Cpus_allowed_list").and_then(|l| parse_list(l)));
        out.push(ThreadFacts { tid, stat, cpus_allowed });
    }
    Ok(out)
}

/// The RT budget of the process's cgroup v1 `cpu` group: `(file, value)`,
/// `None` when no v1 cpu hierarchy with RT group scheduling applies.
pub fn rt_budget(root: &KernelRoot, pid: u32) -> Result<Option<(String, i64)>, ReadError> {
    let cg = root.pid_cgroup(pid)?;
    let Some(m) = cg.memberships.iter().find(|m| m.controllers.iter().any(|c| c == "cpu")) else {
        return Ok(None);
    };
    let mut last = None;
    for mount in paths::CGROUP_V1_CPU {
        let file = format!("{mount}{}/cpu.rt_runtime_us", m.path.trim_end_matches('/'));
        match root.read_i64(&file) {
            Ok(v) => return Ok(Some((file, v))),
            Err(e) => last = Some(e),
        }
    }
    // A v1 cpu hierarchy without the file: the kernel has no RT group
    // scheduling, so there is no per-group budget.
    match last {
        Some(ReadError::NotReported { .. }) | None => Ok(None),
        Some(e) => Err(e),
    }
}

impl ProcessFacts {
    /// Read a process; on a live root with a `window`, read its fault
    /// counters again after the window.
    pub fn read(root: &KernelRoot, pid: u32, window: Option<Duration>) -> ProcessFacts {
        let mut f = ProcessFacts {
            pid,
            stat: root.pid_stat(pid),
            status: root.pid_status(pid),
            threads: read_threads(root, pid),
            limits: root.pid_limits(pid),
            timerslack_ns: root.pid_timerslack_ns(pid),
            rt_budget: rt_budget(root, pid),
            later: None,
        };
        if let (Some(w), true, Ok(_)) = (window, root.is_live(), &f.stat) {
            std::thread::sleep(w);
            let tids: Vec<u32> =
                f.threads.as_ref().map(|t| t.iter().map(|t| t.tid).collect()).unwrap_or_default();
            f.later = Some(Later {
                window: w,
                stat: root.pid_stat(pid),
                threads: tids.iter().filter_map(|&t| root.task_stat(pid, t).ok().map(|s| (t, s))).collect(),
            });
        }
        f
    }
}

/// Name of a scheduling policy number (`SCHED_*` in
/// include/uapi/linux/sched.h).
pub fn policy_name(policy: u64) -> &'static str {
    match policy {
        0 => "SCHED_OTHER",
        1 => "SCHED_FIFO",
        2 => "SCHED_RR",
        3 => "SCHED_BATCH",
        5 => "SCHED_IDLE",
        6 => "SCHED_DEADLINE",
        7 => "SCHED_EXT",
        _ => "unknown",
    }
}

/// Is this a real-time policy (FIFO, RR, DEADLINE)?
pub fn is_realtime_policy(policy: u64) -> bool {
    matches!(policy, 1 | 2 | 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_follow_the_uapi_numbers() {
        assert_eq!(policy_name(0), "SCHED_OTHER");
        assert_eq!(policy_name(1), "SCHED_FIFO");
        assert_eq!(policy_name(6), "SCHED_DEADLINE");
        assert_eq!(policy_name(4), "unknown");
        assert!(is_realtime_policy(2) && !is_realtime_policy(0) && !is_realtime_policy(5));
    }
}
