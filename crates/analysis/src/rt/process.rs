//! `rt check --pid PID`: is this process set up for real time? Its facts
//! ([`ProcessFacts`]) judged against the host's isolated CPUs
//! ([`process_items`]), and its threads as rows ([`thread_rows`]).

use memscope_kernel::parse::hex_u64;
use memscope_kernel::parse::pid::stat::Stat;
use memscope_kernel::paths;
use memscope_model::rt::{ProcessFacts, ThreadFacts, is_realtime_policy, policy_name};
use serde::Serialize;

use super::facts::cpulist_string;
use super::judgements::limits_of;
use super::table::{Item, Verdict};

/// One thread in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreadRow {
    /// Thread id.
    pub tid: u32,
    /// Its name.
    pub comm: String,
    /// `SCHED_FIFO`, …
    pub policy: &'static str,
    /// RT priority (0 for normal policies).
    pub rt_priority: u64,
    /// Nice value.
    pub nice: Option<i64>,
    /// CPUs it may run on.
    pub cpus_allowed: Option<String>,
    /// CPU it last ran on.
    pub last_cpu: Option<u64>,
    /// Minor faults since it started.
    pub minflt: Option<u64>,
    /// Major faults since it started.
    pub majflt: Option<u64>,
    /// Minor faults during the window (live only).
    pub minflt_window: Option<u64>,
    /// Major faults during the window.
    pub majflt_window: Option<u64>,
}

/// The threads as rows.
pub fn thread_rows(f: &ProcessFacts) -> Vec<ThreadRow> {
    let Ok(threads) = &f.threads else { return Vec::new() };
    threads
        .iter()
        .map(|t| {
            let later = f
                .later
                .as_ref()
                .and_then(|l| l.threads.iter().find(|(tid, _)| *tid == t.tid))
                .map(|(_, s)| s);
            let d = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));
            ThreadRow {
                tid: t.tid,
                comm: t.stat.comm.clone(),
                policy: policy_name(t.stat.policy.unwrap_or(0)),
                rt_priority: t.stat.rt_priority.unwrap_or(0),
                nice: t.stat.nice,
                cpus_allowed: t.cpus_allowed.as_deref().map(cpulist_string),
                last_cpu: t.stat.processor,
                minflt: t.stat.minflt,
                majflt: t.stat.majflt,
                minflt_window: later.and_then(|l| d(t.stat.minflt, l.minflt)),
                majflt_window: later.and_then(|l| d(t.stat.majflt, l.majflt)),
            }
        })
        .collect()
}

/// Capability bits (include/uapi/linux/capability.h).
const CAP_IPC_LOCK: u32 = 14;
const CAP_SYS_NICE: u32 = 23;

/// Does the process hold CAP_IPC_LOCK and CAP_SYS_NICE (`CapEff` in its
/// status), which lift RLIMIT_MEMLOCK and RLIMIT_RTPRIO?
fn privileged(f: &ProcessFacts) -> bool {
    let Some(eff) = f.status.as_ref().ok().and_then(|s| s.text.get("CapEff")).and_then(|c| hex_u64(c)) else {
        return false;
    };
    eff & (1 << CAP_IPC_LOCK) != 0 && eff & (1 << CAP_SYS_NICE) != 0
}

fn is_rt(t: &ThreadFacts) -> bool {
    is_realtime_policy(t.stat.policy.unwrap_or(0))
}

/// Every process item. `iso`: the host's isolated CPUs.
pub fn process_items(f: &ProcessFacts, iso: &[u32]) -> Vec<Item> {
    let stat = match &f.stat {
        Ok(s) => s,
        Err(e) => return vec![Item::unavailable("process", e)],
    };
    let source = |file: &str| paths::pid_file(f.pid, file);
    let threads = f.threads.as_ref().map(|t| t.as_slice()).unwrap_or(&[]);
    let mut items = vec![Item::new(
        "process",
        Verdict::Info,
        format!("{} {} ({} threads, state {})", f.pid, stat.comm, threads.len(), stat.state),
        source("stat"),
    )];

    // Policy of the main thread.
    let policy = stat.policy.unwrap_or(0);
    let rt = is_realtime_policy(policy);
    let pol = format!("{} priority {}", policy_name(policy), stat.rt_priority.unwrap_or(0));
    items.push(if rt {
        Item::new("policy", Verdict::Ok, pol, source("stat"))
    } else {
        let any_rt = threads.iter().any(is_rt);
        let v = if any_rt { Verdict::Info } else { Verdict::Bad };
        let value = if any_rt { format!("{pol} (main thread; some threads are real time)") } else { pol };
        Item::new("policy", v, value, source("stat")).fix(format!(
            "chrt -f -p 80 {} (per thread: chrt -f -p 80 TID), or sched_setscheduler/pthread_setschedparam in the \
             program",
            f.pid
        ))
    });

    // Threads by policy.
    match &f.threads {
        Ok(ts) => {
            let mut groups: std::collections::BTreeMap<(String, u64), usize> = Default::default();
            for t in ts {
                *groups
                    .entry((
                        policy_name(t.stat.policy.unwrap_or(0)).to_string(),
                        t.stat.rt_priority.unwrap_or(0),
                    ))
                    .or_default() += 1;
            }
            let value = groups
                .iter()
                .rev()
                .map(|((p, prio), n)| if *prio > 0 { format!("{n} {p} {prio}") } else { format!("{n} {p}") })
                .collect::<Vec<_>>()
                .join(", ");
            items.push(Item::new("threads", Verdict::Info, value, paths::pid_file(f.pid, "task/*/stat")));
        }
        Err(e) => items.push(Item::unavailable("threads", e)),
    }

    items.push(affinity_item(f, threads, iso));
    items.push(locked_item(f, rt || threads.iter().any(is_rt)));
    items.push(faults_item(f, stat, threads));
    items.push(budget_item(f, rt || threads.iter().any(is_rt)));
    let max_prio = threads.iter().filter(|t| is_rt(t)).filter_map(|t| t.stat.rt_priority).max();
    items.push(match &f.limits {
        Ok(l) => {
            let item = limits_of(l, "process_limits", &source("limits"), max_prio);
            if privileged(f) {
                Item {
                    verdict: Verdict::Ok,
                    value: format!(
                        "{}; it has CAP_IPC_LOCK and CAP_SYS_NICE, so they do not bind it",
                        item.value
                    ),
                    fix: None,
                    ..item
                }
            } else {
                item
            }
        }
        Err(e) => Item::unavailable("process_limits", e),
    });
    items.push(match &f.timerslack_ns {
        Ok(ns) if rt => Item::new(
            "timer_slack",
            Verdict::Ok,
            format!("{ns} ns (ignored: real-time threads get no slack)"),
            source("timerslack_ns"),
        ),
        Ok(0) => Item::new("timer_slack", Verdict::Ok, "0 ns", source("timerslack_ns")),
        Ok(ns) => Item::new(
            "timer_slack",
            Verdict::Info,
            format!("{ns} ns: its normal-priority sleeps may end up to {} µs late", ns / 1000),
            source("timerslack_ns"),
        )
        .fix("prctl(PR_SET_TIMERSLACK, 1) in the program, or write to /proc/PID/timerslack_ns"),
        Err(e) => Item::unavailable("timer_slack", e),
    });
    items
}

fn affinity_item(f: &ProcessFacts, threads: &[ThreadFacts], iso: &[u32]) -> Item {
    let src = paths::pid_file(f.pid, "task/*/status");
    let mut all: Vec<u32> = threads.iter().filter_map(|t| t.cpus_allowed.clone()).flatten().collect();
    all.sort_unstable();
    all.dedup();
    if threads.is_empty() {
        return match &f.threads {
            Err(e) => Item::unavailable("affinity", e),
            Ok(_) => Item::new("affinity", Verdict::Info, "no threads", src),
        };
    }
    if iso.is_empty() {
        return Item::new(
            "affinity",
            Verdict::Info,
            format!("CPUs {} (the host has no isolated CPUs)", cpulist_string(&all)),
            src,
        );
    }
    let mut details = Vec::new();
    for t in threads {
        let Some(allowed) = &t.cpus_allowed else { continue };
        let on_iso: Vec<u32> = allowed.iter().copied().filter(|c| iso.contains(c)).collect();
        let off_iso: Vec<u32> = allowed.iter().copied().filter(|c| !iso.contains(c)).collect();
        if is_rt(t) && !off_iso.is_empty() {
            details.push(format!(
                "RT thread {} {} may run on housekeeping CPUs {}",
                t.tid,
                t.stat.comm,
                cpulist_string(&off_iso)
            ));
        } else if !is_rt(t) && !on_iso.is_empty() && !off_iso.is_empty() {
            details.push(format!(
                "normal thread {} {} may run on isolated CPUs {}",
                t.tid,
                t.stat.comm,
                cpulist_string(&on_iso)
            ));
        }
    }
    let value = format!("CPUs {} (isolated: {})", cpulist_string(&all), cpulist_string(iso));
    if details.is_empty() {
        Item::new("affinity", Verdict::Ok, value, src)
    } else {
        Item::new("affinity", Verdict::Warn, value, src)
            .fix(format!(
                "pin RT threads to isolated CPUs (taskset -p -c {} TID) and keep the other threads on housekeeping \
                 CPUs (taskset -p -c <housekeeping CPUs> TID)",
                cpulist_string(iso)
            ))
            .details(details)
    }
}

fn locked_item(f: &ProcessFacts, rt: bool) -> Item {
    let src = paths::pid_file(f.pid, "status");
    let st = match &f.status {
        Ok(s) => s,
        Err(e) => return Item::unavailable("locked_memory", e),
    };
    let (Some(rss), Some(lck)) = (st.get("VmRSS"), st.get("VmLck")) else {
        return Item::new("locked_memory", Verdict::Info, "no address space (kernel thread)", src);
    };
    let fb = |b: u64| crate::fmt_bytes(b as i64);
    let value = format!("VmLck {} of VmRSS {}", fb(lck), fb(rss));
    let fix = "call mlockall(MCL_CURRENT | MCL_FUTURE) at start-up, before the RT loop (needs memlock unlimited or \
               CAP_IPC_LOCK)";
    if lck == 0 {
        Item::new(
            "locked_memory",
            if rt { Verdict::Bad } else { Verdict::Warn },
            format!("{value}: nothing locked"),
            src,
        )
        .fix(fix)
    } else if lck.saturating_mul(10) >= rss.saturating_mul(9) {
        Item::new("locked_memory", Verdict::Ok, value, src)
    } else {
        Item::new("locked_memory", Verdict::Warn, format!("{value}: partly locked"), src).fix(fix)
    }
}

fn faults_item(f: &ProcessFacts, stat: &Stat, threads: &[ThreadFacts]) -> Item {
    let src = paths::pid_file(f.pid, "stat");
    let now = format!(
        "{} minor, {} major since start",
        stat.minflt.map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
        stat.majflt.map(|v| v.to_string()).unwrap_or_else(|| "?".into())
    );
    let Some(later) = &f.later else {
        return Item::new(
            "faults",
            Verdict::Info,
            format!("{now} (growth needs a live system and --window)"),
            src,
        );
    };
    let Ok(ls) = &later.stat else {
        return Item::new(
            "faults",
            Verdict::Info,
            format!("{now} (the process exited during the window)"),
            src,
        );
    };
    let d = |a: Option<u64>, b: Option<u64>| b.unwrap_or(0).saturating_sub(a.unwrap_or(0));
    let (dmin, dmaj) = (d(stat.minflt, ls.minflt), d(stat.majflt, ls.majflt));
    let mut rt_min = 0;
    let mut rt_maj = 0;
    for (tid, s) in &later.threads {
        if let Some(t) = threads.iter().find(|t| t.tid == *tid && is_rt(t)) {
            rt_min += d(t.stat.minflt, s.minflt);
            rt_maj += d(t.stat.majflt, s.majflt);
        }
    }
    let value = format!(
        "{now}; +{dmin} minor, +{dmaj} major in {:.1} s (RT threads: +{rt_min}, +{rt_maj})",
        later.window.as_secs_f64()
    );
    let v = if dmaj > 0 {
        Verdict::Bad
    } else if rt_min > 0 {
        Verdict::Warn
    } else {
        Verdict::Ok
    };
    let i = Item::new("faults", v, value, src);
    if v == Verdict::Ok {
        i
    } else {
        i.fix(
            "lock memory (mlockall with MCL_FUTURE), pre-fault stacks and buffers before the RT loop, avoid \
               allocating in it",
        )
    }
}

fn budget_item(f: &ProcessFacts, rt: bool) -> Item {
    match &f.rt_budget {
        Ok(None) => Item::new(
            "rt_budget",
            Verdict::Ok,
            "no cgroup v1 cpu RT budget applies",
            paths::pid_file(f.pid, "cgroup"),
        ),
        Ok(Some((file, v))) if *v == 0 => Item::new(
            "rt_budget",
            if rt { Verdict::Warn } else { Verdict::Bad },
            format!(
                "0 µs: threads here cannot become SCHED_FIFO/RR{}",
                if rt { " (any new ones)" } else { "" }
            ),
            file.clone(),
        )
        .fix(format!("echo 950000 > {file} (its parents need a budget at least as large)")),
        Ok(Some((file, v))) => Item::new(
            "rt_budget",
            Verdict::Ok,
            if *v < 0 { "unlimited".into() } else { format!("{v} µs") },
            file.clone(),
        ),
        Err(e) => Item::unavailable("rt_budget", e),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use memscope_kernel::parse::pid::limits::Limits;
    use memscope_kernel::parse::pid::status::Status;
    use memscope_model::rt::process::Later;

    use super::*;

    /// A stat line with the fields these checks use.
    fn stat(tid: u32, comm: &str, policy: u64, prio: u64, minflt: u64, majflt: u64) -> Stat {
        let mut f: Vec<String> = (3..=41).map(|_| "0".to_string()).collect();
        f[0] = "S".into();
        f[10 - 3] = minflt.to_string();
        f[12 - 3] = majflt.to_string();
        f[40 - 3] = prio.to_string();
        f[41 - 3] = policy.to_string();
        Stat::parse(&format!("{tid} ({comm}) {}", f.join(" "))).unwrap()
    }

    fn thread(tid: u32, comm: &str, policy: u64, prio: u64, cpus: &[u32]) -> ThreadFacts {
        ThreadFacts { tid, stat: stat(tid, comm, policy, prio, 100, 0), cpus_allowed: Some(cpus.to_vec()) }
    }

    /// An RT control loop (FIFO 80 on CPU 3) with a logger thread.
    fn facts() -> ProcessFacts {
        ProcessFacts {
            pid: 100,
            stat: Ok(stat(100, "ctl", 1, 80, 100, 0)),
            status: Ok(Status::parse("VmRSS:\t10240 kB\nVmLck:\t10240 kB\nCapEff:\t0000000000000000\n")),
            threads: Ok(vec![thread(100, "ctl", 1, 80, &[3]), thread(101, "logger", 0, 0, &[0])]),
            limits: Ok(Limits::parse(
                "Max locked memory         unlimited            unlimited            bytes\n\
                 Max realtime priority     90                   90\n",
            )),
            timerslack_ns: Ok(50_000),
            rt_budget: Ok(None),
            later: None,
        }
    }

    fn item<'a>(items: &'a [Item], key: &str) -> &'a Item {
        items.iter().find(|i| i.key == key).unwrap()
    }

    #[test]
    fn well_set_up_rt_process() {
        let items = process_items(&facts(), &[2, 3]);
        let bad: Vec<_> =
            items.iter().filter(|i| matches!(i.verdict, Verdict::Warn | Verdict::Bad)).collect();
        assert!(bad.is_empty(), "{bad:#?}");
        assert_eq!(item(&items, "threads").value, "1 SCHED_OTHER, 1 SCHED_FIFO 80");
        assert_eq!(item(&items, "policy").value, "SCHED_FIFO priority 80");
        assert!(item(&items, "timer_slack").value.contains("ignored"));
        assert!(item(&items, "faults").value.contains("growth needs a live system"));
    }

    #[test]
    fn rt_thread_on_housekeeping_cpus_and_unlocked_memory() {
        let mut f = facts();
        f.threads = Ok(vec![thread(100, "ctl", 1, 80, &[0, 1, 2, 3]), thread(101, "logger", 0, 0, &[0, 3])]);
        f.status = Ok(Status::parse("VmRSS:\t10240 kB\nVmLck:\t0 kB\n"));
        f.limits =
            Ok(Limits::parse("Max locked memory  65536  65536  bytes\nMax realtime priority  50  50\n"));
        let items = process_items(&f, &[2, 3]);
        let a = item(&items, "affinity");
        assert_eq!(a.verdict, Verdict::Warn);
        assert_eq!(
            a.details,
            vec![
                "RT thread 100 ctl may run on housekeeping CPUs 0-1",
                "normal thread 101 logger may run on isolated CPUs 3"
            ]
        );
        assert_eq!(item(&items, "locked_memory").verdict, Verdict::Bad);
        // rtprio 50 is below the thread's 80, memlock is 64 KiB.
        assert_eq!(item(&items, "process_limits").verdict, Verdict::Warn);
    }

    #[test]
    fn faults_during_the_window() {
        let mut f = facts();
        f.later = Some(Later {
            window: Duration::from_secs(1),
            stat: Ok(stat(100, "ctl", 1, 80, 150, 0)),
            threads: vec![(100, stat(100, "ctl", 1, 80, 130, 0)), (101, stat(101, "logger", 0, 0, 120, 0))],
        });
        let rows = thread_rows(&f);
        assert_eq!((rows[0].minflt_window, rows[1].minflt_window), (Some(30), Some(20)));
        let it = process_items(&f, &[]).into_iter().find(|i| i.key == "faults").unwrap();
        assert_eq!(it.verdict, Verdict::Warn, "the RT thread faulted");
        assert!(it.value.contains("+50 minor, +0 major in 1.0 s (RT threads: +30, +0)"), "{}", it.value);
        // A major fault anywhere is bad.
        f.later.as_mut().unwrap().stat = Ok(stat(100, "ctl", 1, 80, 150, 2));
        assert_eq!(
            process_items(&f, &[]).into_iter().find(|i| i.key == "faults").unwrap().verdict,
            Verdict::Bad
        );
    }

    #[test]
    fn zero_rt_budget_blocks_a_normal_process() {
        let mut f = facts();
        f.stat = Ok(stat(100, "app", 0, 0, 1, 0));
        f.threads = Ok(vec![thread(100, "app", 0, 0, &[0])]);
        f.rt_budget = Ok(Some(("/sys/fs/cgroup/cpu/app/cpu.rt_runtime_us".into(), 0)));
        let items = process_items(&f, &[]);
        assert_eq!(item(&items, "rt_budget").verdict, Verdict::Bad);
        assert_eq!(item(&items, "policy").verdict, Verdict::Bad);
        assert_eq!(item(&items, "timer_slack").verdict, Verdict::Info);
    }

    #[test]
    fn capabilities_lift_the_limits() {
        let mut f = facts();
        f.limits = Ok(Limits::parse("Max locked memory  65536  65536  bytes\nMax realtime priority  0  0\n"));
        f.status = Ok(Status::parse("VmRSS:\t1 kB\nVmLck:\t1 kB\nCapEff:\t000001ffffffffff\n"));
        assert_eq!(item(&process_items(&f, &[]), "process_limits").verdict, Verdict::Ok);
    }
}
