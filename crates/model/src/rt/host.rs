//! What `rt check` reads about the host ([`HostFacts`]), each fact kept
//! with its error. Judged by `memscope_analysis::rt`.
//!
//! References: Documentation/admin-guide/kernel-parameters.txt (isolcpus,
//! nohz_full, rcu_nocbs, irqaffinity, preempt), Documentation/timers/no_hz.rst,
//! Documentation/scheduler/sched-rt-group.rst, Documentation/admin-guide/pm/cpuidle.rst.

use memscope_kernel::parse::choice::Choice;
use memscope_kernel::parse::cmdline::Cmdline;
use memscope_kernel::parse::interrupts::Interrupts;
use memscope_kernel::parse::kconfig::Kconfig;
use memscope_kernel::parse::kernel_version::KernelVersion;
use memscope_kernel::parse::meminfo::Meminfo;
use memscope_kernel::parse::pid::limits::Limits;
use memscope_kernel::read::{IdleState, IrqAffinity};
use memscope_kernel::{KernelRoot, ReadError, paths};

/// Every fact `rt check` reads about the host, each kept with its error.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// `uname -r`.
    pub release: Result<String, ReadError>,
    /// `uname -v`.
    pub version: Result<KernelVersion, ReadError>,
    /// debugfs `sched/preempt`.
    pub sched_preempt: Result<Choice, ReadError>,
    /// Is debugfs mounted (`/sys/kernel/debug` not empty)? `None` when it
    /// cannot be listed.
    pub debugfs_mounted: Option<bool>,
    /// `/sys/kernel/realtime`.
    pub realtime: Result<u64, ReadError>,
    /// Build configuration and the file it came from.
    pub config: Result<(String, Kconfig), ReadError>,
    /// `/proc/cmdline`.
    pub cmdline: Result<Cmdline, ReadError>,
    /// Possible CPUs.
    pub possible: Result<Vec<u32>, ReadError>,
    /// Online CPUs.
    pub online: Result<Vec<u32>, ReadError>,
    /// `/sys/devices/system/cpu/isolated`.
    pub isolated: Result<Vec<u32>, ReadError>,
    /// `/sys/devices/system/cpu/nohz_full`.
    pub nohz_full: Result<Vec<u32>, ReadError>,
    /// `kernel.sched_rt_runtime_us`.
    pub rt_runtime_us: Result<i64, ReadError>,
    /// `kernel.sched_rt_period_us`.
    pub rt_period_us: Result<i64, ReadError>,
    /// `kernel.timer_migration`.
    pub timer_migration: Result<i64, ReadError>,
    /// `kernel.nmi_watchdog`.
    pub nmi_watchdog: Result<i64, ReadError>,
    /// `vm.stat_interval`.
    pub stat_interval: Result<i64, ReadError>,
    /// `vm.swappiness`.
    pub swappiness: Result<i64, ReadError>,
    /// Current clock source.
    pub clocksource: Result<String, ReadError>,
    /// `smt/active`.
    pub smt_active: Result<u64, ReadError>,
    /// Per online CPU: `cpufreq/scaling_governor`.
    pub governors: Vec<(u32, Result<String, ReadError>)>,
    /// `cpuidle/current_driver`.
    pub idle_driver: Result<String, ReadError>,
    /// `cpuidle/current_governor_ro` (or `current_governor`).
    pub idle_governor: Result<String, ReadError>,
    /// Per online CPU: its idle states.
    pub idle_states: Vec<(u32, Result<Vec<IdleState>, ReadError>)>,
    /// THP `enabled`.
    pub thp_enabled: Result<Choice, ReadError>,
    /// THP `defrag`.
    pub thp_defrag: Result<Choice, ReadError>,
    /// `/proc/meminfo` (swap).
    pub meminfo: Result<Meminfo, ReadError>,
    /// The CPU latency QoS limit in force.
    pub dma_latency_usec: Result<i32, ReadError>,
    /// Every interrupt's affinity.
    pub irqs: Result<Vec<IrqAffinity>, ReadError>,
    /// Default affinity of new interrupts.
    pub irq_default: Result<Vec<u32>, ReadError>,
    /// `/proc/interrupts`.
    pub interrupts: Result<Interrupts, ReadError>,
    /// Unbound workqueue CPU mask.
    pub workqueue_cpus: Result<Vec<u32>, ReadError>,
    /// Limits of the session (`/proc/self/limits`).
    pub limits: Result<Limits, ReadError>,
    /// tuned's active profile.
    pub tuned_profile: Result<String, ReadError>,
    /// Is an `irqbalance` process running?
    pub irqbalance: Result<bool, ReadError>,
}

fn gunzip(data: &[u8]) -> std::io::Result<String> {
    use std::io::Read;
    let mut out = String::new();
    flate2::read::GzDecoder::new(data).read_to_string(&mut out)?;
    Ok(out)
}

impl HostFacts {
    /// Read every fact through `root` (a few hundred small files).
    pub fn read(root: &KernelRoot) -> HostFacts {
        let online = root.online_cpus();
        let cpus = online.clone().unwrap_or_default();
        let cpu_file = |cpu: u32, f: &str| format!("{}/cpu{cpu}/{f}", paths::CPU_DIR);
        let config = root.kernel_config().and_then(|f| {
            let text = if f.gzip {
                gunzip(&f.data).map_err(|e| ReadError::Parse {
                    path: f.path.clone(),
                    line: 0,
                    item: format!("gzip data ({e})"),
                })?
            } else {
                String::from_utf8_lossy(&f.data).into_owned()
            };
            Ok((f.path, Kconfig::parse(&text)))
        });
        let debugfs_mounted = root.list_dir(paths::DEBUGFS).ok().map(|n| !n.is_empty());
        let idle_governor = root
            .read_word(&format!("{}/current_governor_ro", paths::CPUIDLE))
            .or_else(|_| root.read_word(&format!("{}/current_governor", paths::CPUIDLE)));
        HostFacts {
            release: root.osrelease(),
            version: root.kernel_version(),
            sched_preempt: root.choice(paths::SCHED_PREEMPT),
            debugfs_mounted,
            realtime: root.read_u64(paths::REALTIME),
            config,
            cmdline: root.cmdline(),
            possible: root.cpu_list(paths::CPU_POSSIBLE),
            online,
            isolated: root.cpu_list(paths::CPU_ISOLATED),
            nohz_full: root.cpu_list(paths::CPU_NOHZ_FULL),
            rt_runtime_us: root.read_i64(paths::SCHED_RT_RUNTIME_US),
            rt_period_us: root.read_i64(paths::SCHED_RT_PERIOD_US),
            timer_migration: root.read_i64(paths::TIMER_MIGRATION),
            nmi_watchdog: root.read_i64(paths::NMI_WATCHDOG),
            stat_interval: root.read_i64(paths::STAT_INTERVAL),
            swappiness: root.read_i64(paths::SWAPPINESS),
            clocksource: root.read_word(paths::CLOCKSOURCE),
            smt_active: root.read_u64(paths::SMT_ACTIVE),
            governors: cpus
                .iter()
                .map(|&c| (c, root.read_word(&cpu_file(c, "cpufreq/scaling_governor"))))
                .collect(),
            idle_driver: root.read_word(&format!("{}/current_driver", paths::CPUIDLE)),
            idle_governor,
            idle_states: cpus.iter().map(|&c| (c, root.cpuidle_states(c))).collect(),
            thp_enabled: root.choice(paths::THP_ENABLED),
            thp_defrag: root.choice(paths::THP_DEFRAG),
            meminfo: root.meminfo(),
            dma_latency_usec: root.cpu_dma_latency_usec(),
            irqs: root.irq_affinities(),
            irq_default: root.irq_default_affinity(),
            interrupts: root.interrupts(),
            workqueue_cpus: root.read_text(paths::WORKQUEUE_CPUMASK).and_then(|t| {
                memscope_kernel::parse::sysfs::parse_mask(&t).ok_or(ReadError::Parse {
                    path: paths::WORKQUEUE_CPUMASK.into(),
                    line: 1,
                    item: "a hex cpu mask".into(),
                })
            }),
            limits: root.read_text(paths::SELF_LIMITS).map(|t| Limits::parse(&t)),
            tuned_profile: root.read_text(paths::TUNED_PROFILE).map(|t| t.trim().to_string()),
            irqbalance: find_process(root, "irqbalance"),
        }
    }
}

/// Is a process with this command name (`/proc/PID/comm`) running?
fn find_process(root: &KernelRoot, comm: &str) -> Result<bool, ReadError> {
    for pid in root.pids()? {
        if let Ok(c) = root.pid_comm(pid)
            && c.trim() == comm
        {
            return Ok(true);
        }
    }
    Ok(false)
}
