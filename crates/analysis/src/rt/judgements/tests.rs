use super::*;
use crate::rt::table::{CHECKS, def};
use memscope_kernel::parse::choice::Choice;
use memscope_kernel::parse::cmdline::Cmdline;
use memscope_kernel::parse::cpu_dma_latency::NO_LIMIT_USEC;
use memscope_kernel::parse::kconfig::Kconfig;
use memscope_kernel::parse::kernel_version::KernelVersion;
use memscope_kernel::parse::meminfo::Meminfo;
use memscope_kernel::read::IrqAffinity;

fn nr(path: &str) -> ReadError {
    ReadError::NotReported { path: path.into(), field: None }
}

/// A 4-CPU PREEMPT_RT host tuned by the book: CPUs 1-3 isolated.
fn tuned() -> HostFacts {
    let kconfig = "CONFIG_HZ=1000\nCONFIG_HIGH_RES_TIMERS=y\nCONFIG_NO_HZ_FULL=y\nCONFIG_PREEMPT_RT=y\n\
                   # CONFIG_RT_GROUP_SCHED is not set\n";
    HostFacts {
        release: Ok("6.1.0-18-rt-amd64".into()),
        version: Ok(KernelVersion::parse("#1 SMP PREEMPT_RT Debian 6.1.76-1 (2024-02-01)")),
        sched_preempt: Err(nr(paths::SCHED_PREEMPT)),
        debugfs_mounted: Some(false),
        realtime: Err(nr(paths::REALTIME)),
        config: Ok(("/proc/config.gz".into(), Kconfig::parse(kconfig))),
        cmdline: Ok(Cmdline::parse(
            "BOOT_IMAGE=/vmlinuz ro isolcpus=domain,managed_irq,1-3 nohz_full=1-3 rcu_nocbs=1-3 irqaffinity=0",
        )),
        possible: Ok(vec![0, 1, 2, 3]),
        online: Ok(vec![0, 1, 2, 3]),
        isolated: Ok(vec![1, 2, 3]),
        nohz_full: Ok(vec![1, 2, 3]),
        rt_runtime_us: Ok(-1),
        rt_period_us: Ok(1_000_000),
        timer_migration: Ok(0),
        nmi_watchdog: Ok(0),
        stat_interval: Ok(10),
        swappiness: Ok(10),
        clocksource: Ok("tsc".into()),
        smt_active: Ok(0),
        governors: (0..4).map(|c| (c, Ok("performance".to_string()))).collect(),
        idle_driver: Ok("intel_idle".into()),
        idle_governor: Ok("menu".into()),
        idle_states: (0..4)
            .map(|c| {
                (
                    c,
                    Ok(vec![
                        IdleState {
                            state: "state0".into(),
                            name: "POLL".into(),
                            latency_usec: Some(0),
                            disabled: Some(false),
                        },
                        IdleState {
                            state: "state1".into(),
                            name: "C1".into(),
                            latency_usec: Some(2),
                            disabled: Some(false),
                        },
                        IdleState {
                            state: "state2".into(),
                            name: "C6".into(),
                            latency_usec: Some(133),
                            disabled: Some(true),
                        },
                    ]),
                )
            })
            .collect(),
        thp_enabled: Ok(Choice::parse("always [madvise] never")),
        thp_defrag: Ok(Choice::parse("always defer defer+madvise [madvise] never")),
        meminfo: Ok(Meminfo::parse("MemTotal: 1000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n")),
        dma_latency_usec: Ok(0),
        irqs: Ok(vec![
            IrqAffinity { irq: 24, smp_affinity: Ok(vec![0]), effective_affinity: Ok(vec![0]) },
            IrqAffinity {
                irq: 30,
                smp_affinity: Ok(vec![0]),
                effective_affinity: Err(nr("/proc/irq/30/effective_affinity_list")),
            },
        ]),
        irq_default: Ok(vec![0]),
        interrupts: Ok(Interrupts::parse(
            "  CPU0 CPU1 CPU2 CPU3\n 24: 5 0 0 0 IO-APIC 5-edge eth0\nLOC: 100 7 8 9 Local timer interrupts\n",
        )),
        workqueue_cpus: Ok(vec![0]),
        limits: Ok(Limits::parse(
            "Max locked memory         unlimited            unlimited            bytes\n\
             Max realtime priority     98                   98\n",
        )),
        tuned_profile: Ok("realtime".into()),
        irqbalance: Ok(false),
    }
}

/// This project's build machine: a 2-CPU VM, PREEMPT_DYNAMIC with the
/// none default, debugfs not mounted, nothing tuned.
fn untuned_vm() -> HostFacts {
    let kconfig = "CONFIG_HZ=250\nCONFIG_HIGH_RES_TIMERS=y\nCONFIG_NO_HZ_IDLE=y\nCONFIG_PREEMPT_NONE=y\n\
                   CONFIG_PREEMPT_DYNAMIC=y\nCONFIG_PREEMPT_BUILD=y\nCONFIG_RT_GROUP_SCHED=y\n";
    HostFacts {
        release: Ok("6.18.44-fc-v669".into()),
        version: Ok(KernelVersion::parse("#1 SMP PREEMPT_DYNAMIC @0")),
        config: Ok(("/proc/config.gz".into(), Kconfig::parse(kconfig))),
        cmdline: Ok(Cmdline::parse("console=ttyS0 quiet panic=1 rdinit=/init -- --addr 0.0.0.0")),
        possible: Ok(vec![0, 1]),
        online: Ok(vec![0, 1]),
        isolated: Ok(vec![]),
        nohz_full: Err(nr(paths::CPU_NOHZ_FULL)),
        rt_runtime_us: Ok(950_000),
        timer_migration: Ok(1),
        nmi_watchdog: Ok(0),
        stat_interval: Ok(1),
        swappiness: Ok(60),
        smt_active: Ok(0),
        governors: (0..2)
            .map(|c| (c, Err(nr("/sys/devices/system/cpu/cpuN/cpufreq/scaling_governor"))))
            .collect(),
        idle_driver: Ok("none".into()),
        idle_states: (0..2).map(|c| (c, Err(nr("/sys/devices/system/cpu/cpuN/cpuidle")))).collect(),
        dma_latency_usec: Ok(NO_LIMIT_USEC),
        irqs: Ok(vec![IrqAffinity {
            irq: 24,
            smp_affinity: Ok(vec![0, 1]),
            effective_affinity: Ok(vec![0]),
        }]),
        irq_default: Ok(vec![0, 1]),
        workqueue_cpus: Ok(vec![0, 1]),
        limits: Ok(Limits::parse(
            "Max locked memory         8388608              8388608              bytes\n\
             Max realtime priority     0                    0\n",
        )),
        tuned_profile: Err(nr(paths::TUNED_PROFILE)),
        ..tuned()
    }
}

fn item<'a>(items: &'a [Item], key: &str) -> &'a Item {
    items.iter().find(|i| i.key == key).unwrap_or_else(|| panic!("no item {key}"))
}

#[test]
fn tuned_rt_host_has_no_warnings() {
    let items = host_items(&tuned());
    let bad: Vec<_> = items.iter().filter(|i| matches!(i.verdict, Verdict::Warn | Verdict::Bad)).collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert!(item(&items, "preemption").value.starts_with("rt (PREEMPT_RT in uname -v"));
    assert_eq!(item(&items, "isolcpus").value, "1-3 (isolcpus=domain,managed_irq,…)");
    assert_eq!(
        item(&items, "timers").value,
        "HZ=1000, high-resolution timers, NO_HZ_FULL (tickless on nohz_full= CPUs)"
    );
    // Isolation brings its own items.
    assert_eq!(item(&items, "isolated_irqs").value, "24 since boot on CPUs 1-3 (1 kinds)");
    assert_eq!(item(&items, "workqueues").verdict, Verdict::Ok);
    assert_eq!(
        item(&items, "cpuidle").value,
        "driver intel_idle, governor menu, deepest enabled exit latency 2 µs"
    );
}

#[test]
fn untuned_vm_preemption_none_is_derived_from_the_config_when_debugfs_is_not_mounted() {
    let items = host_items(&untuned_vm());
    let p = item(&items, "preemption");
    assert_eq!(p.verdict, Verdict::Bad);
    assert!(
        p.value.starts_with("none (PREEMPT_DYNAMIC, boot default from the kernel configuration"),
        "{}",
        p.value
    );
    assert!(p.value.contains("debugfs, which shows the current mode, is not mounted"), "{}", p.value);
    assert!(p.fix.as_deref().unwrap().contains("preempt=full"));
    let pre = preemption(&untuned_vm());
    assert!(!pre.current);
}

#[test]
fn untuned_vm_items() {
    let items = host_items(&untuned_vm());
    let iso = item(&items, "isolcpus");
    assert_eq!(iso.verdict, Verdict::Warn);
    // Advice for 2 CPUs: keep CPU 0, isolate CPU 1.
    assert!(
        iso.fix
            .as_deref()
            .unwrap()
            .contains("isolcpus=domain,managed_irq,1 nohz_full=1 rcu_nocbs=1 irqaffinity=0")
    );
    assert_eq!(item(&items, "nohz_full").verdict, Verdict::Info);
    assert_eq!(item(&items, "irq_affinity").verdict, Verdict::Info);
    assert!(items.iter().all(|i| i.key != "isolated_irqs" && i.key != "workqueues"));
    assert_eq!(item(&items, "rt_throttling").verdict, Verdict::Ok);
    assert!(item(&items, "rt_throttling").value == "950000 of every 1000000 µs (95%)");
    assert_eq!(item(&items, "rt_group_sched").verdict, Verdict::Info);
    assert_eq!(item(&items, "cpufreq").verdict, Verdict::Info);
    assert!(item(&items, "cpufreq").value.starts_with("no cpufreq driver"));
    assert_eq!(item(&items, "cpuidle").verdict, Verdict::Info);
    assert_eq!(item(&items, "dma_latency").verdict, Verdict::Info);
    assert_eq!(item(&items, "limits").verdict, Verdict::Warn);
    assert!(item(&items, "limits").value.starts_with("memlock 8.0 MiB (hard 8.0 MiB), rtprio 0 (hard 0)"));
    assert_eq!(item(&items, "tuned").value, "tuned not in use");
    // Without isolated CPUs the housekeeping sysctls are only informative.
    assert_eq!(item(&items, "housekeeping_sysctls").verdict, Verdict::Info);
}

#[test]
fn preemption_sources_in_order_of_trust() {
    // debugfs readable: the current mode wins over the config default.
    let f = HostFacts { sched_preempt: Ok(Choice::parse("none voluntary (full) lazy")), ..untuned_vm() };
    let p = preemption(&f);
    assert_eq!((p.model.as_deref(), p.current), (Some("full"), true));
    assert_eq!(item(&host_items(&f), "preemption").verdict, Verdict::Warn);
    // preempt= on the command line beats the configuration's default.
    let f = HostFacts { cmdline: Ok(Cmdline::parse("preempt=voluntary")), ..untuned_vm() };
    assert_eq!(preemption(&f).model.as_deref(), Some("voluntary"));
    // Out-of-tree RT patches: /sys/kernel/realtime.
    let f = HostFacts { realtime: Ok(1), ..untuned_vm() };
    assert_eq!(preemption(&f).model.as_deref(), Some("rt"));
    // No config, no debugfs: unknown, unavailable with the reason.
    let f = HostFacts { config: Err(nr(paths::CONFIG_GZ)), ..untuned_vm() };
    let it = item(&host_items(&f), "preemption").clone();
    assert_eq!(it.verdict, Verdict::Unavailable);
    assert!(it.reason.unwrap().contains("not mounted"));
    assert!(it.fix.unwrap().contains("mount -t debugfs"));
    // A static PREEMPT kernel.
    let f = HostFacts {
        version: Ok(KernelVersion::parse("#1 SMP PREEMPT x")),
        config: Err(nr(paths::CONFIG_GZ)),
        ..untuned_vm()
    };
    assert_eq!(preemption(&f).model.as_deref(), Some("full"));
    // No flag at all: none or voluntary, judged bad.
    let f = HostFacts {
        version: Ok(KernelVersion::parse("#1 SMP x")),
        config: Err(nr(paths::CONFIG_GZ)),
        ..untuned_vm()
    };
    let p = preemption(&f);
    assert_eq!(p.model, None);
    assert!(p.evidence.contains("none or voluntary"));
}

#[test]
fn isolation_mistakes_are_flagged() {
    // An interrupt on an isolated CPU, and the default affinity too.
    let f = HostFacts {
        irqs: Ok(vec![IrqAffinity {
            irq: 24,
            smp_affinity: Ok(vec![0, 1, 2, 3]),
            effective_affinity: Ok(vec![2]),
        }]),
        irq_default: Ok(vec![0, 1, 2, 3]),
        ..tuned()
    };
    let it = item(&host_items(&f), "irq_affinity").clone();
    assert_eq!(it.verdict, Verdict::Warn);
    assert_eq!(it.details[0], "IRQ 24 eth0 → CPU 2 (affinity 0-3)");
    assert!(it.details[1].starts_with("default_smp_affinity 0-3"));
    assert!(it.fix.unwrap().contains("irqaffinity=0"));
    // Isolated CPUs that still tick and run RCU callbacks.
    let f = HostFacts {
        nohz_full: Ok(vec![]),
        cmdline: Ok(Cmdline::parse("isolcpus=1-3")),
        timer_migration: Ok(1),
        ..tuned()
    };
    let items = host_items(&f);
    assert_eq!(item(&items, "nohz_full").verdict, Verdict::Warn);
    assert!(item(&items, "nohz_full").fix.as_deref().unwrap().contains("nohz_full=1-3"));
    assert_eq!(item(&items, "rcu_nocbs").verdict, Verdict::Warn);
    assert_eq!(item(&items, "isolcpus").verdict, Verdict::Warn, "no managed_irq");
    assert_eq!(item(&items, "housekeeping_sysctls").fix.as_deref(), Some("sysctl kernel.timer_migration=0"));
    // Isolating every CPU, or CPU 0.
    let f = HostFacts { isolated: Ok(vec![0, 1, 2, 3]), ..tuned() };
    assert_eq!(item(&host_items(&f), "isolcpus").verdict, Verdict::Bad);
    let f = HostFacts { isolated: Ok(vec![0, 1]), ..tuned() };
    assert_eq!(item(&host_items(&f), "isolcpus").verdict, Verdict::Warn);
}

#[test]
fn memory_and_power_settings() {
    let f = HostFacts {
        thp_enabled: Ok(Choice::parse("[always] madvise never")),
        thp_defrag: Ok(Choice::parse("[always] defer defer+madvise madvise never")),
        meminfo: Ok(Meminfo::parse("SwapTotal: 1048576 kB\nSwapFree: 524288 kB\n")),
        governors: vec![(0, Ok("powersave".into())), (1, Ok("performance".into()))],
        dma_latency_usec: Ok(NO_LIMIT_USEC),
        clocksource: Ok("hpet".into()),
        ..tuned()
    };
    let items = host_items(&f);
    assert_eq!(item(&items, "thp").verdict, Verdict::Bad);
    assert_eq!(item(&items, "swap").value, "1.0 GiB configured, 512 MiB used, vm.swappiness=10");
    assert_eq!(item(&items, "cpufreq").value, "performance on CPUs 1, powersave on CPUs 0");
    assert_eq!(item(&items, "cpufreq").verdict, Verdict::Warn);
    assert_eq!(item(&items, "clocksource").verdict, Verdict::Bad);
    // C6 (133 µs) enabled and no QoS limit held: flagged.
    let mut f = tuned();
    f.dma_latency_usec = Ok(NO_LIMIT_USEC);
    for (_, s) in f.idle_states.iter_mut() {
        if let Ok(states) = s {
            states[2].disabled = Some(false);
        }
    }
    assert_eq!(item(&host_items(&f), "cpuidle").verdict, Verdict::Warn);
    // Holding /dev/cpu_dma_latency at 0 covers it.
    f.dma_latency_usec = Ok(0);
    assert_eq!(item(&host_items(&f), "cpuidle").verdict, Verdict::Ok);
}

#[test]
fn unreadable_facts_are_unavailable_with_the_reason() {
    let f = HostFacts {
        dma_latency_usec: Err(ReadError::PermissionDenied { path: paths::CPU_DMA_LATENCY.into() }),
        config: Err(nr(paths::CONFIG_GZ)),
        ..tuned()
    };
    let items = host_items(&f);
    let d = item(&items, "dma_latency");
    assert_eq!(d.verdict, Verdict::Unavailable);
    assert_eq!(d.reason.as_deref(), Some("/dev/cpu_dma_latency is readable by root only"));
    let t = item(&items, "timers");
    assert_eq!(t.verdict, Verdict::Unavailable);
    assert!(t.reason.as_deref().unwrap().contains("CONFIG_IKCONFIG_PROC"));
}

#[test]
fn cpulists_print_compactly() {
    assert_eq!(cpulist_string(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
    assert_eq!(cpulist_string(&[]), "none");
    assert_eq!(suggested_split(&[0, 1]), Some((vec![0], vec![1])));
    assert_eq!(suggested_split(&[0, 1, 2, 3, 4, 5, 6, 7]), Some((vec![0, 1], vec![2, 3, 4, 5, 6, 7])));
    assert_eq!(suggested_split(&[0]), None);
}

#[test]
fn every_check_key_has_one_definition() {
    for c in CHECKS {
        assert_eq!(CHECKS.iter().filter(|d| d.key == c.key).count(), 1, "{}", c.key);
        assert!(!c.why.is_empty() && !c.title.is_empty());
    }
    // Items only use defined keys (def() falls back to the first otherwise).
    for i in host_items(&tuned()).iter().chain(host_items(&untuned_vm()).iter()) {
        assert_eq!(def(i.key).key, i.key);
    }
}
