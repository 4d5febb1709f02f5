//! `rt check` on a hand-made tree of a tuned PREEMPT_RT host
//! (tests/fixtures/rt-tuned-host, see its MANIFEST) with two deliberate
//! faults: an nvme interrupt delivered to isolated CPU 2, and a logger
//! thread allowed on isolated CPU 3.

use std::path::PathBuf;

use std::time::Duration;

use memscope_analysis::rt::table::{Item, Verdict};
use memscope_analysis::rt::{CheckReport, check};
use memscope_kernel::KernelRoot;
use memscope_model::rt::rt_facts;

fn fixture() -> KernelRoot {
    KernelRoot::at(memscope_testkit::fixture_dir("rt-tuned-host"))
}

/// What `rt check` does: read the facts, judge them.
fn run_check(root: &KernelRoot, pid: Option<u32>, window: Option<Duration>) -> CheckReport {
    check(&rt_facts(root, pid, window))
}

fn get<'a>(items: &'a [Item], key: &str) -> &'a Item {
    items.iter().find(|i| i.key == key).unwrap_or_else(|| panic!("no {key}"))
}

#[test]
fn tuned_host_fixture_finds_exactly_the_planted_faults() {
    let r = run_check(&fixture(), Some(4242), None);
    assert_eq!(r.hostname.as_deref(), Some("rt-host"));
    let warn: Vec<&str> =
        r.items().filter(|i| matches!(i.verdict, Verdict::Warn | Verdict::Bad)).map(|i| i.key).collect();
    assert_eq!(warn, vec!["irq_affinity", "affinity"]);
    assert_eq!(
        r.count(Verdict::Unavailable),
        0,
        "{:#?}",
        r.items().filter(|i| i.verdict == Verdict::Unavailable).collect::<Vec<_>>()
    );

    let h = &r.host;
    assert_eq!(get(h, "preemption").value, "rt (PREEMPT_RT in uname -v; dynamic mode full)");
    assert_eq!(get(h, "timers").source, "/boot/config-6.1.0-18-rt-amd64");
    assert_eq!(get(h, "irq_affinity").details, vec!["IRQ 35 nvme0q1 → CPU 2 (affinity 0-3)"]);
    // LOC 41021+40977+40873, nvme 93211, CAL 112+118+104, RES 31+28+35, TLB 3+2+4.
    assert_eq!(get(h, "isolated_irqs").value, "216519 since boot on CPUs 1-3 (5 kinds)");
    assert_eq!(
        get(h, "cpuidle").value,
        "driver intel_idle, governor menu, deepest enabled exit latency 10 µs"
    );
    assert_eq!(get(h, "dma_latency").value, "0 µs held by a process");
    assert_eq!(get(h, "workqueues").value, "0");

    let p = r.process.as_ref().unwrap();
    assert_eq!(get(&p.items, "policy").value, "SCHED_FIFO priority 80");
    assert_eq!(
        get(&p.items, "affinity").details,
        vec!["normal thread 4243 logger may run on isolated CPUs 3"]
    );
    assert_eq!(get(&p.items, "locked_memory").verdict, Verdict::Ok);
    assert_eq!(p.threads.len(), 2);
    assert_eq!((p.threads[0].policy, p.threads[0].rt_priority), ("SCHED_FIFO", 80));
    assert_eq!(p.threads[1].cpus_allowed.as_deref(), Some("0,3"));
    // A captured tree has one reading: no growth over a window.
    assert!(get(&p.items, "faults").value.contains("growth needs a live system"));
}

#[test]
fn missing_files_in_a_tree_are_unavailable_never_zero() {
    let empty = tempdir();
    let r = run_check(&KernelRoot::at(&empty), None, None);
    for i in &r.host {
        if i.verdict == Verdict::Unavailable {
            assert!(i.reason.as_deref().is_some_and(|r| r.contains("does not exist")), "{i:#?}");
        }
    }
    assert!(r.count(Verdict::Unavailable) >= 10, "{:#?}", r.host);
    let _ = std::fs::remove_dir_all(&empty);
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("memscope-rt-empty-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
