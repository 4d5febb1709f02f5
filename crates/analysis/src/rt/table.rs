//! The one table of `rt check`'s items ([`CHECKS`]: key, title, what a
//! real-time setup wants, why), behind printing and `rt check --explain`,
//! and the [`Item`] each check yields with its [`Verdict`].

use memscope_kernel::{ReadError, paths};
use serde::Serialize;

/// How an item stands against a real-time setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// As a real-time setup wants it.
    Ok,
    /// Informational: no judgement applies here.
    Info,
    /// Could not be read; `reason` says why.
    Unavailable,
    /// Works, but costs latency or robustness.
    Warn,
    /// Defeats real time.
    Bad,
}

impl Verdict {
    /// The word printed in tables.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Info => "info",
            Verdict::Unavailable => "n/a",
            Verdict::Warn => "WARN",
            Verdict::Bad => "BAD",
        }
    }
}

/// One check's definition: the one table behind printing and `--explain`.
#[derive(Debug, Clone, Copy)]
pub struct CheckDef {
    /// Stable key (JSON `key`).
    pub key: &'static str,
    /// Short title.
    pub title: &'static str,
    /// What a real-time setup wants.
    pub want: &'static str,
    /// Why it matters, citing the kernel.
    pub why: &'static str,
}

/// Every check, host first, then process.
pub const CHECKS: &[CheckDef] = &[
    CheckDef {
        key: "kernel",
        title: "kernel",
        want: "-",
        why: "The running kernel's release and version string (uname -r, uname -v).",
    },
    CheckDef {
        key: "preemption",
        title: "preemption model",
        want: "PREEMPT_RT; full for soft real time",
        why: "How soon the kernel lets a woken high-priority task run. none and voluntary preempt only at \
              explicit points, so a long kernel path delays an RT wakeup by milliseconds; full preempts \
              anywhere outside spinlocks and interrupt-off sections; PREEMPT_RT also makes spinlocks and \
              interrupt handlers preemptible. A PREEMPT_DYNAMIC kernel shows its current mode in \
              /sys/kernel/debug/sched/preempt (kernel/sched/core.c, Documentation/admin-guide/kernel-parameters.txt \
              preempt=).",
    },
    CheckDef {
        key: "timers",
        title: "timers",
        want: "high-resolution timers on",
        why: "Without CONFIG_HIGH_RES_TIMERS a sleep ends on a tick (4 ms at HZ=250). HZ sets how often the \
              tick interrupts a busy CPU; NO_HZ_FULL lets isolated CPUs run without it \
              (Documentation/timers/no_hz.rst, timers/highres.rst).",
    },
    CheckDef {
        key: "clocksource",
        title: "clock source",
        want: "tsc, arch_sys_counter or kvm-clock (read in the vDSO)",
        why: "clock_gettime() reads the clock source. tsc, arch_sys_counter and kvm-clock are read in user space \
              through the vDSO in tens of ns; hpet and acpi_pm need a system call and a slow device read \
              (µs), and the kernel falls back to them when it distrusts the TSC \
              (/sys/devices/system/clocksource/clocksource0).",
    },
    CheckDef {
        key: "isolcpus",
        title: "isolated CPUs",
        want: "RT CPUs isolated; CPU 0 kept for housekeeping",
        why: "isolcpus=domain,managed_irq,<list> takes CPUs out of load balancing so that only tasks pinned there \
              run there; managed_irq keeps managed device interrupts off them. A cgroup v2 cpuset partition \
              (cpuset.cpus.partition=isolated) does the same at run time \
              (Documentation/admin-guide/kernel-parameters.txt, cgroup-v2.rst).",
    },
    CheckDef {
        key: "nohz_full",
        title: "tickless CPUs (nohz_full)",
        want: "the isolated CPUs",
        why: "nohz_full=<list> stops the scheduler tick on CPUs running a single task (needs CONFIG_NO_HZ_FULL); \
              otherwise each isolated CPU is interrupted HZ times a second (Documentation/timers/no_hz.rst).",
    },
    CheckDef {
        key: "rcu_nocbs",
        title: "RCU callback offload",
        want: "the isolated CPUs",
        why: "rcu_nocbs=<list> moves RCU callback processing to kthreads that can run elsewhere; nohz_full CPUs \
              are offloaded too (Documentation/RCU, kernel-parameters.txt rcu_nocbs).",
    },
    CheckDef {
        key: "irq_affinity",
        title: "interrupt affinity",
        want: "device interrupts only on housekeeping CPUs",
        why: "An interrupt delivered to an RT CPU preempts the RT task for its handler (and, without PREEMPT_RT, \
              its softirq). irqaffinity=<list> sets the default; /proc/irq/N/smp_affinity_list moves one; \
              irqbalance must be told to keep off isolated CPUs (Documentation/core-api/irq/irq-affinity.rst).",
    },
    CheckDef {
        key: "isolated_irqs",
        title: "interrupts served by isolated CPUs",
        want: "few: only the local timer and IPIs",
        why: "Counts from /proc/interrupts since boot on the isolated CPUs: what still reaches them.",
    },
    CheckDef {
        key: "workqueues",
        title: "unbound workqueues",
        want: "housekeeping CPUs only",
        why: "Unbound kernel work items run on any CPU in /sys/devices/virtual/workqueue/cpumask; tuned's realtime \
              profile narrows it to the housekeeping CPUs (Documentation/core-api/workqueue.rst).",
    },
    CheckDef {
        key: "rt_throttling",
        title: "RT throttling",
        want: "-1 on a dedicated RT host (tuned realtime), or the 95% safety net",
        why: "kernel.sched_rt_runtime_us of every kernel.sched_rt_period_us is all RT tasks may use on a CPU; past \
              it they are stopped until the next period so that a runaway SCHED_FIFO task cannot hang the CPU. \
              An RT task that needs more than that is stalled for the rest of the period \
              (Documentation/scheduler/sched-rt-group.rst).",
    },
    CheckDef {
        key: "rt_group_sched",
        title: "RT group scheduling",
        want: "off, or cpu.rt_runtime_us set for every cgroup that runs RT tasks",
        why: "With CONFIG_RT_GROUP_SCHED and a cgroup v1 cpu controller, each cgroup has its own RT budget \
              (cpu.rt_runtime_us); systemd and container runtimes create cgroups with 0, where \
              sched_setscheduler(SCHED_FIFO) fails with EPERM (Documentation/scheduler/sched-rt-group.rst).",
    },
    CheckDef {
        key: "housekeeping_sysctls",
        title: "housekeeping sysctls",
        want: "timer_migration=0, nmi_watchdog=0, vm.stat_interval≥10 with isolated CPUs",
        why: "kernel.timer_migration moves timers to busy CPUs; the NMI watchdog fires perf interrupts on every \
              CPU; vm.stat_interval sets how often each CPU folds its vmstat counters \
              (Documentation/admin-guide/sysctl/kernel.rst and vm.rst).",
    },
    CheckDef {
        key: "smt",
        title: "SMT (hyper-threading)",
        want: "off, or sibling threads isolated together",
        why: "Sibling hardware threads share a core's execution units and caches: work on one slows the other \
              unpredictably (/sys/devices/system/cpu/smt, nosmt).",
    },
    CheckDef {
        key: "cpufreq",
        title: "CPU frequency governor",
        want: "performance",
        why: "A governor that lowers the clock makes the same code slower and adds frequency transitions \
              (Documentation/admin-guide/pm/cpufreq.rst).",
    },
    CheckDef {
        key: "cpuidle",
        title: "CPU idle states",
        want: "no enabled state exits slower than ~10 µs, or /dev/cpu_dma_latency held at 0",
        why: "A CPU waking from a deep C-state adds the state's exit latency to every wakeup that finds it idle \
              (cpuN/cpuidle/stateK/latency; Documentation/admin-guide/pm/cpuidle.rst).",
    },
    CheckDef {
        key: "dma_latency",
        title: "CPU latency QoS",
        want: "held at 0 µs while RT work runs",
        why: "A process that writes a value to /dev/cpu_dma_latency and keeps it open forbids idle states that \
              exit slower than that value (Documentation/power/pm_qos_interface.rst).",
    },
    CheckDef {
        key: "thp",
        title: "transparent huge pages",
        want: "enabled=madvise or never; defrag not always",
        why: "With enabled=always every large anonymous mapping may get huge pages, zeroed (2 MiB) at fault time \
              and collapsed in the background by khugepaged; with defrag=always a fault that finds no free huge \
              page stalls in direct compaction (Documentation/admin-guide/mm/transhuge.rst).",
    },
    CheckDef {
        key: "swap",
        title: "swap",
        want: "off, or every RT process mlockall'ed",
        why: "A page swapped out faults back in with disk latency; memory locked with mlockall() is never swapped.",
    },
    CheckDef {
        key: "limits",
        title: "memory-lock and RT priority limits",
        want: "memlock unlimited and rtprio ≥ the RT priority for RT users (root, with CAP_IPC_LOCK and \
               CAP_SYS_NICE, ignores both)",
        why: "RLIMIT_MEMLOCK caps mlock/mlockall and RLIMIT_RTPRIO caps the SCHED_FIFO priority of processes \
              without CAP_IPC_LOCK / CAP_SYS_NICE (getrlimit(2)). Shown for the session memscope runs in \
              (/proc/self/limits); set in /etc/security/limits.d or a systemd unit (LimitMEMLOCK=, LimitRTPRIO=).",
    },
    CheckDef {
        key: "tuned",
        title: "tuned profile",
        want: "realtime (or latency-performance)",
        why: "tuned applies most of the settings above as one profile (/etc/tuned/active_profile).",
    },
    CheckDef {
        key: "process",
        title: "process",
        want: "-",
        why: "The process checked (--pid): name and threads.",
    },
    CheckDef {
        key: "policy",
        title: "scheduling policy",
        want: "SCHED_FIFO or SCHED_RR (or SCHED_DEADLINE)",
        why: "Only real-time policies preempt normal tasks at once; SCHED_OTHER shares the CPU fairly \
              (sched(7); /proc/PID/stat fields 40 rt_priority and 41 policy).",
    },
    CheckDef {
        key: "threads",
        title: "threads",
        want: "RT threads at deliberate priorities; helpers at SCHED_OTHER",
        why: "Each thread has its own policy and priority; threads a library starts inherit the creator's \
              (/proc/PID/task/TID/stat).",
    },
    CheckDef {
        key: "affinity",
        title: "CPU affinity",
        want: "RT threads only on isolated CPUs, other threads off them",
        why: "The scheduler does not balance tasks onto isolcpus=domain CPUs: a thread must be pinned there \
              (sched_setaffinity, taskset); a thread allowed on both kinds stays where it was put \
              (/proc/PID/task/TID/status Cpus_allowed_list).",
    },
    CheckDef {
        key: "locked_memory",
        title: "locked memory",
        want: "VmLck close to VmRSS: mlockall(MCL_CURRENT | MCL_FUTURE)",
        why: "Memory not locked can be reclaimed or swapped and fault back in; MCL_FUTURE also locks (and \
              pre-faults) later mappings (mlockall(2); /proc/PID/status VmLck, VmRSS).",
    },
    CheckDef {
        key: "faults",
        title: "page faults",
        want: "none in steady state (majflt never)",
        why: "A page fault on an RT thread costs µs (minor) to ms (major, I/O). Counts since start are in \
              /proc/PID/stat (fields 10 minflt, 12 majflt); growth over a short window shows faults now.",
    },
    CheckDef {
        key: "rt_budget",
        title: "RT budget of its cgroup",
        want: "cpu.rt_runtime_us > 0 (or no RT group scheduling)",
        why: "With CONFIG_RT_GROUP_SCHED a process in a cgroup v1 cpu group with cpu.rt_runtime_us = 0 cannot \
              become SCHED_FIFO/RR (EPERM) (Documentation/scheduler/sched-rt-group.rst).",
    },
    CheckDef {
        key: "process_limits",
        title: "its limits",
        want: "memlock unlimited, rtprio ≥ its priority (or root)",
        why: "The process's own RLIMIT_MEMLOCK and RLIMIT_RTPRIO (/proc/PID/limits).",
    },
    CheckDef {
        key: "timer_slack",
        title: "timer slack",
        want: "small for SCHED_OTHER threads that time things; RT threads get none",
        why: "The kernel may delay a normal thread's timer expiry by up to its slack (default 50 µs) to batch \
              wakeups; real-time threads are exempt (prctl(2) PR_SET_TIMERSLACK, /proc/PID/timerslack_ns).",
    },
];

/// The definition of a check.
pub fn def(key: &str) -> &'static CheckDef {
    CHECKS.iter().find(|c| c.key == key).unwrap_or(&CHECKS[0])
}

/// One checked item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    /// Key in [`CHECKS`].
    pub key: &'static str,
    /// Its title.
    pub title: &'static str,
    /// The verdict.
    pub verdict: Verdict,
    /// What was found.
    pub value: String,
    /// What a real-time setup wants.
    pub want: String,
    /// Kernel files it comes from.
    pub source: String,
    /// How to change it (kernel parameter, sysctl, tuned profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Why it is unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Lines of detail (offending interrupts, threads, idle states).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl Item {
    /// An item for `key` with a value and verdict.
    pub fn new(
        key: &'static str,
        verdict: Verdict,
        value: impl Into<String>,
        source: impl Into<String>,
    ) -> Item {
        let d = def(key);
        Item {
            key: d.key,
            title: d.title,
            verdict,
            value: value.into(),
            want: d.want.to_string(),
            source: source.into(),
            fix: None,
            reason: None,
            details: Vec::new(),
        }
    }

    /// An unavailable item, with the reason.
    pub fn unavailable(key: &'static str, e: &ReadError) -> Item {
        let mut i = Item::new(key, Verdict::Unavailable, "unavailable", e.path());
        i.reason = Some(reason(e));
        i
    }

    /// With a fix.
    pub fn fix(mut self, fix: impl Into<String>) -> Item {
        self.fix = Some(fix.into());
        self
    }

    /// With detail lines.
    pub fn details(mut self, d: Vec<String>) -> Item {
        self.details = d;
        self
    }
}

/// Why a file could not be read, naming what would unlock it.
pub fn reason(e: &ReadError) -> String {
    match e {
        ReadError::PermissionDenied { path } if path.starts_with(paths::DEBUGFS) => {
            format!("{path} is readable by root only (debugfs)")
        }
        ReadError::PermissionDenied { path } if path == paths::CPU_DMA_LATENCY => {
            format!("{path} is readable by root only")
        }
        // fs/proc/base.c timerslack_ns_show: CAP_SYS_NICE for another process.
        ReadError::PermissionDenied { path } if path.ends_with("/timerslack_ns") => {
            format!("{path} is readable by the process itself, or with CAP_SYS_NICE (root)")
        }
        e => crate::hints::unavailable_reason(e),
    }
}
