//! The judgements of `rt check`: the host's facts ([`HostFacts`]) turned
//! into [`Item`]s: value, what a real-time setup wants, a [`Verdict`] and
//! how to change it. Pure, so that they are testable without a machine.
//!
//! References: Documentation/admin-guide/kernel-parameters.txt (isolcpus,
//! nohz_full, rcu_nocbs, irqaffinity, preempt), Documentation/timers/no_hz.rst,
//! Documentation/scheduler/sched-rt-group.rst, Documentation/admin-guide/pm/cpuidle.rst,
//! Documentation/admin-guide/mm/transhuge.rst, and the `realtime` profile of tuned.

use memscope_kernel::parse::cpu_dma_latency::NO_LIMIT_USEC;
use memscope_kernel::parse::interrupts::Interrupts;
use memscope_kernel::parse::pid::limits::{Limit, Limits};
use memscope_kernel::read::IdleState;
use memscope_kernel::{ReadError, paths};
use memscope_model::rt::HostFacts;
use serde::Serialize;

use super::facts::{HostView, cpulist_string, suggested_split};
use super::table::{Item, Verdict, reason};

/// The preemption model and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preemption {
    /// `none`, `voluntary`, `full`, `lazy` or `rt`; `None` when unknown.
    pub model: Option<String>,
    /// True when read from the running kernel's current state, false when
    /// derived from the build or the boot options.
    pub current: bool,
    /// How it was found, in words.
    pub evidence: String,
    /// Files read.
    pub source: String,
}

/// Work out the preemption model from every source there is, best first:
/// the RT markers, debugfs `sched/preempt`, then (PREEMPT_DYNAMIC) the
/// boot mode from `preempt=` or the configuration's default, then the
/// static build.
pub fn preemption(f: &HostFacts) -> Preemption {
    let version = f.version.as_ref().ok();
    let flag = version.and_then(|v| v.preempt_flag.clone());
    let cfg = f.config();
    let cfg_on = |n: &str| cfg.and_then(|k| k.enabled(n)).unwrap_or(false);
    let dynamic_choice = f.sched_preempt.as_ref().ok().and_then(|c| c.selected.clone());
    let mk = |model: Option<&str>, current: bool, evidence: String, source: &str| Preemption {
        model: model.map(str::to_string),
        current,
        evidence,
        source: source.to_string(),
    };
    if version.is_some_and(|v| v.is_rt())
        || f.realtime.as_ref().is_ok_and(|v| *v == 1)
        || cfg_on("CONFIG_PREEMPT_RT")
    {
        let how = if version.is_some_and(|v| v.is_rt()) {
            "PREEMPT_RT in uname -v".to_string()
        } else if f.realtime.as_ref().is_ok_and(|v| *v == 1) {
            format!("{} is 1", paths::REALTIME)
        } else {
            "CONFIG_PREEMPT_RT=y".to_string()
        };
        let extra = dynamic_choice.map(|c| format!("; dynamic mode {c}")).unwrap_or_default();
        return mk(Some("rt"), true, format!("{how}{extra}"), paths::KERNEL_VERSION);
    }
    if let Some(c) = dynamic_choice {
        return mk(Some(&c), true, "current mode in debugfs".into(), paths::SCHED_PREEMPT);
    }
    let from_config = || -> Option<&'static str> {
        let k = cfg?;
        [
            ("CONFIG_PREEMPT_NONE", "none"),
            ("CONFIG_PREEMPT_VOLUNTARY", "voluntary"),
            ("CONFIG_PREEMPT_LAZY", "lazy"),
            ("CONFIG_PREEMPT", "full"),
        ]
        .into_iter()
        .find(|(n, _)| k.enabled(n) == Some(true))
        .map(|(_, m)| m)
    };
    let dynamic = flag.as_deref() == Some("PREEMPT_DYNAMIC") || cfg_on("CONFIG_PREEMPT_DYNAMIC");
    if dynamic {
        let unseen = match (&f.sched_preempt, f.debugfs_mounted) {
            (Err(ReadError::PermissionDenied { .. }), _) => {
                "debugfs, which shows the current mode, is root only"
            }
            (_, Some(false)) => "debugfs, which shows the current mode, is not mounted",
            _ => "the current mode is not shown",
        };
        let boot = f.cmdline.as_ref().ok().and_then(|c| c.value("preempt")).map(str::to_string);
        if let Some(b) = boot.filter(|b| ["none", "voluntary", "full", "lazy"].contains(&b.as_str())) {
            return mk(
                Some(&b),
                false,
                format!("PREEMPT_DYNAMIC, preempt={b} at boot; it can be changed at run time and {unseen}"),
                paths::CMDLINE,
            );
        }
        if let Some(m) = from_config() {
            return mk(
                Some(m),
                false,
                format!(
                    "PREEMPT_DYNAMIC, boot default from the kernel configuration; it can be changed at run \
                     time and {unseen}"
                ),
                f.config_path(),
            );
        }
        return mk(None, false, format!("PREEMPT_DYNAMIC, and {unseen}"), paths::KERNEL_VERSION);
    }
    match flag.as_deref() {
        Some("PREEMPT") => {
            mk(Some("full"), true, "PREEMPT in uname -v (static)".into(), paths::KERNEL_VERSION)
        }
        Some("PREEMPT_LAZY") | Some("PREEMPT_AUTO") => {
            mk(Some("lazy"), true, "PREEMPT_LAZY in uname -v (static)".into(), paths::KERNEL_VERSION)
        }
        _ => match (from_config(), &f.version) {
            (Some(m), _) => mk(Some(m), true, "kernel configuration (static)".into(), f.config_path()),
            (None, Ok(_)) => mk(
                None,
                true,
                "no PREEMPT word in uname -v: built without forced preemption (none or voluntary)".into(),
                paths::KERNEL_VERSION,
            ),
            (None, Err(e)) => mk(None, false, reason(e), paths::KERNEL_VERSION),
        },
    }
}

/// Every host item, in [`CHECKS`] order.
pub fn host_items(f: &HostFacts) -> Vec<Item> {
    let iso = f.isolated_cpus();
    let online = f.online.as_ref().ok().cloned().unwrap_or_default();
    let split = suggested_split(&online);
    let mut items = vec![
        kernel_item(f),
        preemption_item(f),
        timers_item(f),
        clocksource_item(f),
        isolcpus_item(f, &iso, &online, split.as_ref()),
        nohz_item(f, &iso),
        rcu_item(f, &iso),
        irq_item(f, &iso, split.as_ref()),
    ];
    if !iso.is_empty() {
        items.push(isolated_irqs_item(f, &iso));
        items.push(workqueue_item(f, &iso));
    }
    items.extend([
        rt_throttling_item(f),
        rt_group_item(f),
        housekeeping_item(f, &iso),
        smt_item(f),
        cpufreq_item(f),
        cpuidle_item(f),
        dma_latency_item(f),
        thp_item(f),
        swap_item(f),
        limits_item(f),
        tuned_item(f),
    ]);
    items
}

fn kernel_item(f: &HostFacts) -> Item {
    match (&f.release, &f.version) {
        (Ok(r), Ok(v)) => {
            Item::new("kernel", Verdict::Info, format!("{r} {}", v.text), paths::KERNEL_VERSION)
        }
        (Err(e), _) | (_, Err(e)) => Item::unavailable("kernel", e),
    }
}

const PREEMPT_FIX: &str = "boot with preempt=full (PREEMPT_DYNAMIC kernels), or at run time: mount -t debugfs none \
                           /sys/kernel/debug; echo full > /sys/kernel/debug/sched/preempt. For hard real time \
                           install a PREEMPT_RT kernel (Debian: linux-image-rt-amd64).";

fn preemption_item(f: &HostFacts) -> Item {
    let p = preemption(f);
    let verdict = match p.model.as_deref() {
        Some("rt") => Verdict::Ok,
        Some("full") | Some("lazy") => Verdict::Warn,
        Some(_) => Verdict::Bad,
        None => Verdict::Unavailable,
    };
    let value = match &p.model {
        Some(m) => format!("{m} ({})", p.evidence),
        None => "unknown".into(),
    };
    let mut item = Item::new("preemption", verdict, value, p.source.clone());
    if p.model.is_none() {
        item.reason = Some(p.evidence.clone());
    }
    match verdict {
        Verdict::Warn => item.fix(
            "fine for soft real time; for hard real time (bounded latency under any load) install a PREEMPT_RT \
             kernel (Debian: linux-image-rt-amd64)",
        ),
        Verdict::Bad => item.fix(PREEMPT_FIX),
        Verdict::Unavailable if f.debugfs_mounted == Some(false) => {
            item.fix("mount -t debugfs none /sys/kernel/debug to show the current mode")
        }
        _ => item,
    }
}

fn timers_item(f: &HostFacts) -> Item {
    let Some(k) = f.config() else {
        let e = f
            .config
            .as_ref()
            .err()
            .cloned()
            .unwrap_or(ReadError::NotReported { path: paths::CONFIG_GZ.into(), field: None });
        let mut i = Item::unavailable("timers", &e);
        i.reason = Some(format!(
            "{} (the kernel configuration, which names HZ and the timer options, needs CONFIG_IKCONFIG_PROC or a \
             /boot/config-<release> file)",
            reason(&e)
        ));
        return i;
    };
    let hz = k.number("CONFIG_HZ").map(|h| format!("HZ={h}")).unwrap_or_else(|| "HZ unknown".into());
    let hres = k.enabled("CONFIG_HIGH_RES_TIMERS");
    let nohz = if k.enabled("CONFIG_NO_HZ_FULL") == Some(true) {
        "NO_HZ_FULL (tickless on nohz_full= CPUs)"
    } else if k.enabled("CONFIG_NO_HZ_IDLE") == Some(true) {
        "NO_HZ_IDLE (tickless when idle)"
    } else if k.enabled("CONFIG_HZ_PERIODIC") == Some(true) {
        "periodic tick"
    } else {
        "tick mode unknown"
    };
    let hres_text = match hres {
        Some(true) => "high-resolution timers",
        Some(false) => "no high-resolution timers",
        None => "high-resolution timers unknown",
    };
    let verdict = match hres {
        Some(true) => Verdict::Ok,
        Some(false) => Verdict::Bad,
        None => Verdict::Info,
    };
    let item = Item::new("timers", verdict, format!("{hz}, {hres_text}, {nohz}"), f.config_path());
    if verdict == Verdict::Bad {
        item.fix("use a kernel built with CONFIG_HIGH_RES_TIMERS=y (every distribution kernel is)")
    } else {
        item
    }
}

fn clocksource_item(f: &HostFacts) -> Item {
    match &f.clocksource {
        Ok(c) => {
            let good = [
                "tsc",
                "arch_sys_counter",
                "kvm-clock",
                "hyperv_clocksource_tsc_page",
                "xen",
                "riscv_clocksource",
            ];
            let slow = ["hpet", "acpi_pm", "jiffies", "refined-jiffies", "pit"];
            let (v, fix) = if good.contains(&c.as_str()) {
                (Verdict::Ok, None)
            } else if slow.contains(&c.as_str()) {
                (
                    Verdict::Bad,
                    Some(
                        "find why the kernel distrusts the TSC (dmesg | grep -i clocksource); on sound hardware \
                         boot with tsc=reliable",
                    ),
                )
            } else {
                (Verdict::Info, None)
            };
            let i = Item::new("clocksource", v, c.clone(), paths::CLOCKSOURCE);
            match fix {
                Some(x) => i.fix(x),
                None => i,
            }
        }
        Err(e) => Item::unavailable("clocksource", e),
    }
}

fn isolcpus_item(f: &HostFacts, iso: &[u32], online: &[u32], split: Option<&(Vec<u32>, Vec<u32>)>) -> Item {
    let cmd = f.isolcpus();
    let flags = cmd.as_ref().map(|i| i.flags.join(",")).filter(|s| !s.is_empty());
    let source = format!("{} {}", paths::CPU_ISOLATED, paths::CMDLINE);
    if let (Err(e), Err(_)) = (&f.isolated, &f.cmdline) {
        return Item::unavailable("isolcpus", e);
    }
    let fix = split.map(|(hk, rt)| {
        let (hk, rt) = (cpulist_string(hk), cpulist_string(rt));
        format!(
            "boot with isolcpus=domain,managed_irq,{rt} nohz_full={rt} rcu_nocbs={rt} irqaffinity={hk} (tuned: \
             realtime profile with isolated_cores={rt}); or at run time a cgroup v2 cpuset partition: \
             cpuset.cpus={rt}, cpuset.cpus.partition=isolated"
        )
    });
    if online.len() == 1 {
        return Item::new("isolcpus", Verdict::Info, "one online CPU: nothing to isolate", source);
    }
    if iso.is_empty() {
        let i = Item::new(
            "isolcpus",
            Verdict::Warn,
            format!("none of {} online CPUs: RT threads share every CPU with all other work", online.len()),
            source,
        );
        return match fix {
            Some(x) => i.fix(x),
            None => i,
        };
    }
    let mut value = cpulist_string(iso);
    if let Some(fl) = &flags {
        value.push_str(&format!(" (isolcpus={fl},…)"));
    }
    let left: Vec<u32> = online.iter().copied().filter(|c| !iso.contains(c)).collect();
    if left.is_empty() {
        return Item::new("isolcpus", Verdict::Bad, format!("{value}: every online CPU"), source)
            .fix("leave at least one CPU (CPU 0) for the kernel's housekeeping and normal tasks");
    }
    if iso.contains(&0) {
        return Item::new("isolcpus", Verdict::Warn, format!("{value}: includes CPU 0"), source)
            .fix("keep CPU 0 for housekeeping: some kernel work and boot-time interrupts stay on it");
    }
    let managed = cmd.as_ref().is_some_and(|i| i.managed_irq());
    let i = Item::new("isolcpus", if managed { Verdict::Ok } else { Verdict::Warn }, value, source);
    if managed {
        i
    } else {
        i.fix("add managed_irq: isolcpus=domain,managed_irq,<list> keeps managed interrupts off")
    }
}

fn nohz_item(f: &HostFacts, iso: &[u32]) -> Item {
    let source = format!("{} {}", paths::CPU_NOHZ_FULL, paths::CMDLINE);
    let list = match &f.nohz_full {
        Ok(v) => Some(v.clone()),
        Err(_) => f.cmdline_cpus("nohz_full"),
    };
    if let (Err(_), Err(e)) = (&f.nohz_full, &f.cmdline) {
        return Item::unavailable("nohz_full", e);
    }
    let built = f.config().and_then(|k| k.enabled("CONFIG_NO_HZ_FULL"));
    let nohz = list.unwrap_or_default();
    let value = if nohz.is_empty() { "none".to_string() } else { cpulist_string(&nohz) };
    if iso.is_empty() {
        return Item::new("nohz_full", Verdict::Info, format!("{value} (no isolated CPUs)"), source);
    }
    let missing: Vec<u32> = iso.iter().copied().filter(|c| !nohz.contains(c)).collect();
    if missing.is_empty() {
        return Item::new("nohz_full", Verdict::Ok, value, source);
    }
    let fix = if built == Some(false) {
        "the kernel is built without CONFIG_NO_HZ_FULL: use one that has it (Debian's -rt kernels do)"
            .to_string()
    } else {
        format!("add nohz_full={} to the kernel command line", cpulist_string(iso))
    };
    Item::new(
        "nohz_full",
        Verdict::Warn,
        format!("{value}: isolated CPUs {} still take the tick", cpulist_string(&missing)),
        source,
    )
    .fix(fix)
}

fn rcu_item(f: &HostFacts, iso: &[u32]) -> Item {
    let cmd = f.cmdline.as_ref().ok();
    let given = cmd.and_then(|c| c.get("rcu_nocbs"));
    let mut offloaded = f.cmdline_cpus("rcu_nocbs").unwrap_or_default();
    // nohz_full CPUs are offloaded too (kernel/rcu/tree_nocb.h rcu_init_nohz).
    offloaded.extend(f.nohz_full.as_ref().ok().cloned().unwrap_or_default());
    offloaded.sort_unstable();
    offloaded.dedup();
    let value = match given {
        Some(p) if p.value.is_none() => "rcu_nocbs (no list: offloading allowed, none at boot)".to_string(),
        _ if offloaded.is_empty() => "none".to_string(),
        _ => cpulist_string(&offloaded),
    };
    if let (None, Err(e)) = (cmd, &f.cmdline) {
        return Item::unavailable("rcu_nocbs", e);
    }
    if iso.is_empty() {
        return Item::new("rcu_nocbs", Verdict::Info, format!("{value} (no isolated CPUs)"), paths::CMDLINE);
    }
    let missing: Vec<u32> = iso.iter().copied().filter(|c| !offloaded.contains(c)).collect();
    if missing.is_empty() {
        Item::new("rcu_nocbs", Verdict::Ok, value, paths::CMDLINE)
    } else {
        Item::new(
            "rcu_nocbs",
            Verdict::Warn,
            format!("{value}: isolated CPUs {} run RCU callbacks", cpulist_string(&missing)),
            paths::CMDLINE,
        )
        .fix(format!("add rcu_nocbs={} to the kernel command line", cpulist_string(iso)))
    }
}

/// The name of an interrupt from /proc/interrupts (the last word of its
/// description: the handler).
fn irq_name(ints: Option<&Interrupts>, irq: u32) -> String {
    ints.and_then(|i| i.get(&irq.to_string()))
        .and_then(|l| l.description.split_ascii_whitespace().last().map(str::to_string))
        .unwrap_or_default()
}

fn irq_item(f: &HostFacts, iso: &[u32], split: Option<&(Vec<u32>, Vec<u32>)>) -> Item {
    let source = format!("{}/*/{{smp,effective}}_affinity_list {}", paths::IRQ, paths::INTERRUPTS);
    let irqs = match &f.irqs {
        Ok(v) => v,
        Err(e) => return Item::unavailable("irq_affinity", e),
    };
    let ints = f.interrupts.as_ref().ok();
    let balance = match f.irqbalance {
        Ok(true) => "; irqbalance is running",
        Ok(false) => "; irqbalance is not running",
        Err(_) => "",
    };
    let cmd_aff =
        f.cmdline.as_ref().ok().and_then(|c| c.value("irqaffinity")).map(|v| format!("irqaffinity={v}; "));
    if iso.is_empty() {
        let mut spread: Vec<u32> = irqs
            .iter()
            .filter_map(|a| a.effective_affinity.as_ref().or(a.smp_affinity.as_ref()).ok())
            .flatten()
            .copied()
            .collect();
        spread.sort_unstable();
        spread.dedup();
        return Item::new(
            "irq_affinity",
            Verdict::Info,
            format!(
                "{}{} interrupts on CPUs {} (no isolated CPUs to keep them off){balance}",
                cmd_aff.unwrap_or_default(),
                irqs.len(),
                cpulist_string(&spread)
            ),
            source,
        );
    }
    let mut details = Vec::new();
    for a in irqs {
        let eff = a.effective_affinity.as_ref().ok();
        let asked = a.smp_affinity.as_ref().ok();
        let on: Vec<u32> = eff
            .or(asked)
            .map(|v| v.iter().copied().filter(|c| iso.contains(c)).collect())
            .unwrap_or_default();
        if !on.is_empty() {
            details.push(format!(
                "IRQ {} {} → CPU {} (affinity {})",
                a.irq,
                irq_name(ints, a.irq),
                cpulist_string(&on),
                asked.map(|v| cpulist_string(v)).unwrap_or_else(|| "?".into())
            ));
        }
    }
    let default_on_iso = f.irq_default.as_ref().ok().is_some_and(|d| d.iter().any(|c| iso.contains(c)));
    if default_on_iso {
        details.push(format!(
            "default_smp_affinity {} includes isolated CPUs: new interrupts may land there",
            cpulist_string(f.irq_default.as_ref().map(|v| v.as_slice()).unwrap_or(&[]))
        ));
    }
    let hk = split.map(|(h, _)| cpulist_string(h)).unwrap_or_else(|| "0".into());
    if details.is_empty() {
        Item::new(
            "irq_affinity",
            Verdict::Ok,
            format!(
                "{}{} interrupts, none on isolated CPUs{balance}",
                cmd_aff.unwrap_or_default(),
                irqs.len()
            ),
            source,
        )
    } else {
        Item::new(
            "irq_affinity",
            Verdict::Warn,
            format!("{} of {} interrupts can reach isolated CPUs{balance}", details.len(), irqs.len()),
            source,
        )
        .fix(format!(
            "boot with irqaffinity={hk}; move each: echo {hk} > /proc/irq/N/smp_affinity_list; tell irqbalance \
             IRQBALANCE_BANNED_CPULIST={} (tuned realtime does)",
            cpulist_string(iso)
        ))
        .details(details)
    }
}

fn isolated_irqs_item(f: &HostFacts, iso: &[u32]) -> Item {
    let ints = match &f.interrupts {
        Ok(i) => i,
        Err(e) => return Item::unavailable("isolated_irqs", e),
    };
    let cols: Vec<usize> = iso.iter().filter_map(|c| ints.column(*c)).collect();
    let mut rows: Vec<(u64, String)> = ints
        .lines
        .iter()
        .filter(|l| l.counts.len() > 1 || ints.cpus.len() == 1)
        .map(|l| (cols.iter().filter_map(|&c| l.count_at(c)).sum::<u64>(), l))
        .filter(|(n, _)| *n > 0)
        .map(|(n, l)| (n, format!("{}: {}", l.irq, l.description)))
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    let total: u64 = rows.iter().map(|r| r.0).sum();
    let details = rows.iter().take(8).map(|(n, d)| format!("{n} × {d}")).collect();
    Item::new(
        "isolated_irqs",
        Verdict::Info,
        format!("{total} since boot on CPUs {} ({} kinds)", cpulist_string(iso), rows.len()),
        paths::INTERRUPTS,
    )
    .details(details)
}

fn workqueue_item(f: &HostFacts, iso: &[u32]) -> Item {
    match &f.workqueue_cpus {
        Ok(mask) => {
            let on: Vec<u32> = mask.iter().copied().filter(|c| iso.contains(c)).collect();
            if on.is_empty() {
                Item::new("workqueues", Verdict::Ok, cpulist_string(mask), paths::WORKQUEUE_CPUMASK)
            } else {
                Item::new(
                    "workqueues",
                    Verdict::Warn,
                    format!("{}: includes isolated CPUs {}", cpulist_string(mask), cpulist_string(&on)),
                    paths::WORKQUEUE_CPUMASK,
                )
                .fix("write the housekeeping CPUs' hex mask to /sys/devices/virtual/workqueue/cpumask (tuned realtime does)")
            }
        }
        Err(e) => Item::unavailable("workqueues", e),
    }
}

fn rt_throttling_item(f: &HostFacts) -> Item {
    let source = format!("{} {}", paths::SCHED_RT_RUNTIME_US, paths::SCHED_RT_PERIOD_US);
    match (&f.rt_runtime_us, &f.rt_period_us) {
        (Ok(-1), _) => Item::new(
            "rt_throttling",
            Verdict::Ok,
            "-1: RT tasks are never throttled (no safety net against a runaway SCHED_FIFO loop)",
            source,
        ),
        (Ok(0), _) => Item::new("rt_throttling", Verdict::Bad, "0: RT tasks may not run at all", source)
            .fix("sysctl kernel.sched_rt_runtime_us=950000 (default) or -1"),
        (Ok(rt), Ok(period)) if *period > 0 => {
            let pct = *rt as f64 * 100.0 / *period as f64;
            let v = if pct >= 90.0 { Verdict::Ok } else { Verdict::Warn };
            let i = Item::new("rt_throttling", v, format!("{rt} of every {period} µs ({pct:.0}%)"), source);
            i.fix("a dedicated RT host may disable it: sysctl kernel.sched_rt_runtime_us=-1 (tuned realtime does)")
        }
        (Ok(rt), _) => Item::new("rt_throttling", Verdict::Info, format!("{rt} µs per period"), source),
        (Err(e), _) => Item::unavailable("rt_throttling", e),
    }
}

fn rt_group_item(f: &HostFacts) -> Item {
    match f.config().and_then(|k| k.enabled("CONFIG_RT_GROUP_SCHED")) {
        Some(true) => Item::new(
            "rt_group_sched",
            Verdict::Info,
            "CONFIG_RT_GROUP_SCHED=y: RT tasks in a cgroup v1 cpu group need cpu.rt_runtime_us > 0 there",
            f.config_path(),
        )
        .fix("check a process with rt check --pid; give its cgroup a budget: echo 950000 > <cpu cgroup>/cpu.rt_runtime_us"),
        Some(false) | None if f.config().is_some() => {
            Item::new("rt_group_sched", Verdict::Ok, "off", f.config_path())
        }
        _ => Item::unavailable(
            "rt_group_sched",
            f.config.as_ref().err().unwrap_or(&ReadError::NotReported { path: paths::CONFIG_GZ.into(), field: None }),
        ),
    }
}

fn housekeeping_item(f: &HostFacts, iso: &[u32]) -> Item {
    let show = |r: &Result<i64, ReadError>| r.as_ref().map(|v| v.to_string()).unwrap_or_else(|_| "?".into());
    let value = format!(
        "timer_migration={}, nmi_watchdog={}, vm.stat_interval={}",
        show(&f.timer_migration),
        show(&f.nmi_watchdog),
        show(&f.stat_interval)
    );
    let source = format!("{} {} {}", paths::TIMER_MIGRATION, paths::NMI_WATCHDOG, paths::STAT_INTERVAL);
    if let (Err(e), Err(_), Err(_)) = (&f.timer_migration, &f.nmi_watchdog, &f.stat_interval) {
        return Item::unavailable("housekeeping_sysctls", e);
    }
    if iso.is_empty() {
        return Item::new(
            "housekeeping_sysctls",
            Verdict::Info,
            format!("{value} (no isolated CPUs)"),
            source,
        );
    }
    let mut fixes = Vec::new();
    if f.timer_migration.as_ref().is_ok_and(|v| *v != 0) {
        fixes.push("kernel.timer_migration=0");
    }
    if f.nmi_watchdog.as_ref().is_ok_and(|v| *v != 0) {
        fixes.push("kernel.nmi_watchdog=0");
    }
    if f.stat_interval.as_ref().is_ok_and(|v| *v < 10) {
        fixes.push("vm.stat_interval=10");
    }
    if fixes.is_empty() {
        Item::new("housekeeping_sysctls", Verdict::Ok, value, source)
    } else {
        Item::new("housekeeping_sysctls", Verdict::Warn, value, source)
            .fix(format!("sysctl {}", fixes.join(" ")))
    }
}

fn smt_item(f: &HostFacts) -> Item {
    match &f.smt_active {
        Ok(0) => Item::new("smt", Verdict::Ok, "inactive", paths::SMT_ACTIVE),
        Ok(_) => Item::new("smt", Verdict::Warn, "active: sibling threads share cores", paths::SMT_ACTIVE)
            .fix("boot with nosmt, or isolate both siblings of each RT core (cpuN/topology/thread_siblings_list)"),
        Err(e) => Item::unavailable("smt", e),
    }
}

fn cpufreq_item(f: &HostFacts) -> Item {
    let source = format!("{}/cpuN/cpufreq/scaling_governor", paths::CPU_DIR);
    if let (true, Err(e)) = (f.governors.is_empty(), &f.online) {
        return Item::unavailable("cpufreq", e);
    }
    let read: Vec<(u32, &String)> =
        f.governors.iter().filter_map(|(c, g)| g.as_ref().ok().map(|g| (*c, g))).collect();
    if read.is_empty() {
        let i = Item::new(
            "cpufreq",
            Verdict::Info,
            "no cpufreq driver: the frequency is set by the hardware, firmware or hypervisor",
            source,
        );
        return match f.governors.first().map(|(_, g)| g) {
            Some(Err(e)) if !matches!(e, ReadError::NotReported { .. }) => Item::unavailable("cpufreq", e),
            _ => i,
        };
    }
    let mut by: std::collections::BTreeMap<&str, Vec<u32>> = Default::default();
    for (c, g) in &read {
        by.entry(g.as_str()).or_default().push(*c);
    }
    let value = by
        .iter()
        .map(|(g, cpus)| format!("{g} on CPUs {}", cpulist_string(cpus)))
        .collect::<Vec<_>>()
        .join(", ");
    if by.keys().all(|g| *g == "performance") {
        Item::new("cpufreq", Verdict::Ok, value, source)
    } else {
        Item::new("cpufreq", Verdict::Warn, value, source)
            .fix("cpupower frequency-set -g performance (tuned latency-performance and realtime do this)")
    }
}

/// Exit latency above which an enabled idle state is flagged.
pub const IDLE_EXIT_LATENCY_WARN_USEC: u64 = 10;

fn cpuidle_item(f: &HostFacts) -> Item {
    let source = format!("{}/current_driver {}/cpuN/cpuidle/stateK", paths::CPUIDLE, paths::CPU_DIR);
    if let (true, Err(e)) = (f.idle_states.is_empty(), &f.online) {
        return Item::unavailable("cpuidle", e);
    }
    let driver = match &f.idle_driver {
        Ok(d) => Some(d.clone()),
        Err(ReadError::NotReported { .. }) => None,
        Err(e) => return Item::unavailable("cpuidle", e),
    };
    let governor = f.idle_governor.as_ref().ok().cloned().unwrap_or_else(|| "?".into());
    let states: Vec<(u32, &Vec<IdleState>)> =
        f.idle_states.iter().filter_map(|(c, s)| s.as_ref().ok().map(|s| (*c, s))).collect();
    let held = f.dma_latency_usec.as_ref().ok().copied().filter(|v| *v < NO_LIMIT_USEC);
    if driver.as_deref().is_none_or(|d| d == "none") || states.iter().all(|(_, s)| s.is_empty()) {
        return Item::new(
            "cpuidle",
            Verdict::Info,
            format!(
                "{}: no idle states; an idle CPU halts (on a virtual machine, waking it is a VM entry)",
                match driver {
                    Some(d) => format!("driver {d}"),
                    None => "no cpuidle (CONFIG_CPU_IDLE off)".into(),
                }
            ),
            source,
        );
    }
    let mut deep: Vec<String> = Vec::new();
    let mut by_desc: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
    let mut worst = 0u64;
    for (cpu, ss) in &states {
        let enabled: Vec<&IdleState> = ss.iter().filter(|s| s.disabled != Some(true)).collect();
        let list = ss.iter().map(|s| {
            format!(
                "{}({}µs{})",
                s.name,
                s.latency_usec.map(|l| l.to_string()).unwrap_or_else(|| "?".into()),
                if s.disabled == Some(true) { ", off" } else { "" }
            )
        });
        by_desc.entry(list.collect::<Vec<_>>().join(" ")).or_default().push(*cpu);
        for s in enabled {
            let l = s.latency_usec.unwrap_or(0);
            worst = worst.max(l);
            if l > IDLE_EXIT_LATENCY_WARN_USEC && held.is_none_or(|h| (h as u64) >= l) {
                deep.push(format!("{}@{cpu}", s.name));
            }
        }
    }
    let details: Vec<String> =
        by_desc.iter().map(|(d, cpus)| format!("CPUs {}: {d}", cpulist_string(cpus))).collect();
    let value = format!(
        "driver {}, governor {governor}, deepest enabled exit latency {worst} µs",
        driver.unwrap_or_default()
    );
    if deep.is_empty() {
        Item::new("cpuidle", Verdict::Ok, value, source).details(details)
    } else {
        Item::new("cpuidle", Verdict::Warn, value, source)
            .fix(
                "hold /dev/cpu_dma_latency at 0 while RT work runs (the RT program opens it, writes 0 and keeps it \
                 open; memscope rt latency --dma-latency does so while it measures), or boot with \
                 intel_idle.max_cstate=1 processor.max_cstate=1 (tuned latency-performance)",
            )
            .details(details)
    }
}

fn dma_latency_item(f: &HostFacts) -> Item {
    match &f.dma_latency_usec {
        Ok(v) if *v >= NO_LIMIT_USEC => Item::new(
            "dma_latency",
            Verdict::Info,
            "no limit held: idle states follow the cpuidle governor",
            paths::CPU_DMA_LATENCY,
        ),
        Ok(v) => Item::new(
            "dma_latency",
            if *v as u64 <= IDLE_EXIT_LATENCY_WARN_USEC { Verdict::Ok } else { Verdict::Info },
            format!("{v} µs held by a process"),
            paths::CPU_DMA_LATENCY,
        ),
        Err(e) => Item::unavailable("dma_latency", e),
    }
}

fn thp_item(f: &HostFacts) -> Item {
    let source = format!("{} {}", paths::THP_ENABLED, paths::THP_DEFRAG);
    let (en, de) = match (&f.thp_enabled, &f.thp_defrag) {
        (Ok(e), Ok(d)) => (e.selected.clone(), d.selected.clone()),
        (Err(ReadError::NotReported { .. }), _) => {
            return Item::new("thp", Verdict::Ok, "not built in (CONFIG_TRANSPARENT_HUGEPAGE off)", source);
        }
        (Err(e), _) | (_, Err(e)) => return Item::unavailable("thp", e),
    };
    let (en, de) = (en.unwrap_or_else(|| "?".into()), de.unwrap_or_else(|| "?".into()));
    let value = format!("enabled={en}, defrag={de}");
    let mut fixes = Vec::new();
    let mut v = Verdict::Ok;
    if en == "always" {
        v = Verdict::Warn;
        fixes.push("echo madvise > /sys/kernel/mm/transparent_hugepage/enabled");
    }
    if de == "always" && en != "never" {
        v = Verdict::Bad;
        fixes.push("echo madvise > /sys/kernel/mm/transparent_hugepage/defrag");
    }
    let i = Item::new("thp", v, value, source);
    if fixes.is_empty() {
        i
    } else {
        i.fix(format!("{} (or boot with transparent_hugepage=madvise)", fixes.join("; ")))
    }
}

fn swap_item(f: &HostFacts) -> Item {
    let m = match &f.meminfo {
        Ok(m) => m,
        Err(e) => return Item::unavailable("swap", e),
    };
    let swappiness = f.swappiness.as_ref().map(|v| format!(", vm.swappiness={v}")).unwrap_or_default();
    match (m.get("SwapTotal"), m.get("SwapFree")) {
        (Some(0), _) => Item::new("swap", Verdict::Ok, format!("off{swappiness}"), paths::MEMINFO),
        (Some(total), free) => {
            let used = free.map(|fr| total.saturating_sub(fr));
            Item::new(
                "swap",
                Verdict::Warn,
                format!(
                    "{} configured, {} used{swappiness}",
                    crate::fmt_bytes(total as i64),
                    used.map(|u| crate::fmt_bytes(u as i64)).unwrap_or_else(|| "?".into())
                ),
                paths::MEMINFO,
            )
            .fix("swapoff -a on an RT host, or make sure every RT process calls mlockall(MCL_CURRENT | MCL_FUTURE)")
        }
        (None, _) => Item::unavailable("swap", &ReadError::missing_field(paths::MEMINFO, "SwapTotal")),
    }
}

fn limits_item(f: &HostFacts) -> Item {
    let l = match &f.limits {
        Ok(l) => l,
        Err(e) => return Item::unavailable("limits", e),
    };
    limits_of(l, "limits", paths::SELF_LIMITS, None)
}

/// Judge `Max locked memory` and `Max realtime priority` (shared with the
/// process check). `priority`: the RT priority the process uses, if any.
pub fn limits_of(l: &Limits, key: &'static str, source: &str, priority: Option<u64>) -> Item {
    let mem = l.get("Max locked memory");
    let prio = l.get("Max realtime priority");
    let (Some(mem), Some(prio)) = (mem, prio) else {
        return Item::unavailable(
            key,
            &ReadError::missing_field(source, "Max locked memory / Max realtime priority"),
        );
    };
    let fmt_mem = |v: Limit| match v {
        Limit::Unlimited => "unlimited".to_string(),
        Limit::Value(b) => crate::fmt_bytes(b as i64),
    };
    let value = format!(
        "memlock {} (hard {}), rtprio {} (hard {})",
        fmt_mem(mem.soft),
        fmt_mem(mem.hard),
        prio.soft,
        prio.hard
    );
    let mem_ok = mem.soft == Limit::Unlimited;
    let prio_ok = match (priority, prio.soft) {
        (_, Limit::Unlimited) => true,
        (Some(p), Limit::Value(v)) => v >= p,
        (None, Limit::Value(v)) => v > 0,
    };
    let v = if mem_ok && prio_ok { Verdict::Ok } else { Verdict::Warn };
    let i = Item::new(key, v, value, source);
    if v == Verdict::Ok {
        i
    } else {
        i.fix(
            "for an RT user or group: /etc/security/limits.d/99-realtime.conf with `@realtime - memlock unlimited` and \
             `@realtime - rtprio 98`; for a service: LimitMEMLOCK=infinity and LimitRTPRIO=98 in its unit",
        )
    }
}

fn tuned_item(f: &HostFacts) -> Item {
    match &f.tuned_profile {
        Ok(p) if !p.is_empty() => {
            let v = if p.split_whitespace().any(|w| w.starts_with("realtime") || w == "latency-performance") {
                Verdict::Ok
            } else {
                Verdict::Info
            };
            Item::new("tuned", v, p.clone(), paths::TUNED_PROFILE)
        }
        Ok(_) | Err(ReadError::NotReported { .. }) => {
            Item::new("tuned", Verdict::Info, "tuned not in use", paths::TUNED_PROFILE)
                .fix("optional: apt install tuned; tuned-adm profile realtime (set isolated_cores in /etc/tuned/realtime-variables.conf)")
        }
        Err(e) => Item::unavailable("tuned", e),
    }
}

#[cfg(test)]
mod tests;
