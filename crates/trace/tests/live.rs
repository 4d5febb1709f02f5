//! The tracer on the running kernel (root, `bpf` feature): known answers
//! for pipe buffers and loopback TCP data, memory freed inside the window
//! left out, and the programs gone after every window, also one that
//! fails. Each test holds the system-wide test lock: the figures are
//! system-wide, and other tests' pipe workloads would blur them.
#![cfg(feature = "bpf")]

use std::collections::HashMap;

use memscope_analysis::trace::{Stack, TraceReport, TraceReportOptions, build};
use memscope_kernel::KernelRoot;
use memscope_model::trace::{AllocKind, TraceSample, What};
use memscope_testkit::{MIB, Workload, is_root, system_lock};
use memscope_trace::{PROGRAM_PREFIX, TraceError, TraceOptions, trace};

fn loaded_programs() -> Vec<(u32, String)> {
    libbpf_rs::query::ProgInfoIter::default().map(|p| (p.id, p.name.to_string_lossy().into_owned())).collect()
}

fn memscope_programs() -> Vec<(u32, String)> {
    loaded_programs().into_iter().filter(|(_, n)| n.starts_with(PROGRAM_PREFIX)).collect()
}

fn report(sample: &TraceSample) -> TraceReport {
    let ks = KernelRoot::live().kallsyms().expect("kallsyms");
    assert!(!ks.addresses_hidden, "run the tests as root with kptr_restrict < 2");
    let opts = TraceReportOptions { min_bytes: 0, ..Default::default() };
    build(sample, Some(&ks), None, None, &HashMap::new(), &opts)
}

fn through(s: &Stack, pred: impl Fn(&str) -> bool) -> bool {
    s.frames.iter().any(|f| pred(&f.function))
}

/// Bytes the workload `pid` allocated through a frame matching `pred`
/// (other processes on the machine allocate through the same paths).
fn bytes_through(r: &TraceReport, pid: u32, kind: AllocKind, pred: impl Fn(&str) -> bool) -> u64 {
    r.stacks.iter().filter(|s| s.pid == pid && s.kind == kind && through(s, &pred)).map(|s| s.bytes).sum()
}

fn skip() -> bool {
    if !is_root() {
        eprintln!("skipped: tracing needs root");
        return true;
    }
    false
}

#[test]
fn pipe_buffers_filled_during_the_window_are_attributed_to_the_pipe_writer() {
    if skip() {
        return;
    }
    let _lock = system_lock();
    let opts = TraceOptions { what: What::All, ..Default::default() };
    let (workload, sample) = trace(&KernelRoot::live(), &opts, |_| -> Result<Workload, TraceError> {
        // 64 pipes of 1 MiB, filled: 16384 pages from the pipe write path.
        Ok(Workload::spawn(&["pipes", "--mib", "64"]))
    })
    .expect("trace");
    let r = report(&sample);
    let pipe = bytes_through(&r, workload.pid(), AllocKind::Page, |f| f.contains("pipe_write"));
    eprintln!("pipe write path: {} MiB outstanding; headline: {}", pipe / MIB, r.headline);
    assert!(pipe >= 64 * MIB * 8 / 10, "only {} MiB of 64 MiB attributed to the pipe write path", pipe / MIB);
    let site = r.sites.iter().find(|s| s.frame.function.contains("pipe_write")).expect("a pipe_write site");
    assert_eq!((site.kind, site.category), (AllocKind::Page, "unaccounted"));
    assert!(site.callers.iter().any(|c| c.frame.function == "vfs_write"), "{:?}", site.callers);
    assert!(site.processes.iter().any(|p| p.pid == workload.pid()), "{:?}", site.processes);
    assert_eq!(sample.counters.dropped_table_full, 0);
    drop(workload);
}

#[test]
fn memory_allocated_and_freed_inside_the_window_is_not_reported() {
    if skip() {
        return;
    }
    let _lock = system_lock();
    let (pid, sample) =
        trace(&KernelRoot::live(), &TraceOptions::default(), |_| -> Result<u32, TraceError> {
            let w = Workload::spawn(&["pipes", "--mib", "64"]);
            let pid = w.pid();
            drop(w); // killed: its pipes and their 64 MiB are freed
            std::thread::sleep(std::time::Duration::from_millis(300));
            Ok(pid)
        })
        .expect("trace");
    let r = report(&sample);
    let pipe = bytes_through(&r, pid, AllocKind::Page, |f| f.contains("pipe_write"));
    eprintln!("pipe write path after the pipes were freed: {} KiB", pipe >> 10);
    assert!(pipe < MIB, "{} KiB still reported from pipes freed inside the window", pipe >> 10);
    assert!(sample.counters.frees_matched >= 16384, "{:?}", sample.counters);
}

#[test]
fn unread_loopback_tcp_data_is_attributed_to_the_socket_paths() {
    if skip() {
        return;
    }
    let _lock = system_lock();
    let (workload, sample) =
        trace(&KernelRoot::live(), &TraceOptions::default(), |_| -> Result<Workload, TraceError> {
            Ok(Workload::spawn(&["tcp", "--mib", "100"]))
        })
        .expect("trace");
    let queued: u64 = workload
        .info
        .iter()
        .find_map(|i| i.strip_prefix("queued="))
        .and_then(|v| v.parse().ok())
        .expect("queued=");
    let r = report(&sample);
    let pid = workload.pid();
    drop(workload);
    assert!(queued >= 90 * MIB, "the workload queued only {} MiB", queued / MIB);
    let socket = |f: &str| {
        f.starts_with("tcp_") || f.starts_with("sock_") || f.starts_with("skb_") || f.contains("alloc_skb")
    };
    let on_socket_paths =
        bytes_through(&r, pid, AllocKind::Page, socket) + bytes_through(&r, pid, AllocKind::Slab, socket);
    eprintln!("{} MiB queued, {} MiB outstanding on socket paths", queued / MIB, on_socket_paths / MIB);
    assert!(
        on_socket_paths >= queued * 8 / 10,
        "only {} MiB of {} MiB attributed to socket paths",
        on_socket_paths / MIB,
        queued / MIB
    );
    let tcp: u64 =
        r.stacks.iter().filter(|s| s.pid == pid && s.category == "socket_buffers").map(|s| s.bytes).sum();
    assert!(tcp >= queued * 8 / 10, "socket_buffers line: {} MiB", tcp / MIB);
}

#[test]
fn kernel_only_skips_user_pages_and_keeps_pipe_buffers() {
    if skip() {
        return;
    }
    let _lock = system_lock();
    let opts = TraceOptions { kernel_only: true, ..Default::default() };
    let ((pipes, anon), sample) = trace(&KernelRoot::live(), &opts, |_| -> Result<_, TraceError> {
        Ok((Workload::spawn(&["pipes", "--mib", "16"]), Workload::spawn(&["touch", "--private", "64"])))
    })
    .expect("trace");
    let r = report(&sample);
    let pipe = bytes_through(&r, pipes.pid(), AllocKind::Page, |f| f.contains("pipe_write"));
    let user: u64 =
        r.stacks.iter().filter(|s| s.pid == anon.pid() && s.category == "anon").map(|s| s.bytes).sum();
    assert!(pipe >= 16 * MIB * 8 / 10, "{} MiB of 16 MiB of pipe buffers", pipe / MIB);
    assert!(user < MIB, "{} KiB of user pages recorded with kernel_only", user >> 10);
    assert!(sample.kernel_only && sample.counters.skipped_movable >= 16384, "{:?}", sample.counters);
    assert!(r.notes.iter().any(|n| n.contains("movable page allocations")));
    drop((pipes, anon));
}

#[derive(Debug)]
enum BodyError {
    Trace(#[allow(dead_code)] TraceError),
    Failed(Vec<u32>),
}

impl From<TraceError> for BodyError {
    fn from(e: TraceError) -> Self {
        BodyError::Trace(e)
    }
}

#[test]
fn programs_are_detached_and_unloaded_when_the_window_fails() {
    if skip() {
        return;
    }
    let _lock = system_lock();
    let result = trace(&KernelRoot::live(), &TraceOptions::default(), |s| -> Result<(), BodyError> {
        let ids = s.program_ids();
        let loaded = loaded_programs();
        assert!(ids.iter().all(|id| loaded.iter().any(|(l, _)| l == id)), "{ids:?} not in {loaded:?}");
        Err(BodyError::Failed(ids))
    });
    let Err(BodyError::Failed(ids)) = result else { panic!("the body's error is returned as is") };
    assert!(ids.len() >= 7, "{ids:?}");
    let loaded = loaded_programs();
    assert!(ids.iter().all(|id| !loaded.iter().any(|(l, _)| l == id)), "still loaded: {ids:?} in {loaded:?}");
    assert_eq!(memscope_programs(), Vec::new());
}

#[test]
fn programs_are_unloaded_after_a_window_and_tracefs_is_left_as_found() {
    if skip() {
        return;
    }
    let _lock = system_lock();
    let root = KernelRoot::live();
    let tracefs_before = memscope_trace::preflight::tracefs_dir(&root);
    let (ids, sample) = trace(&root, &TraceOptions { what: What::Pages, ..Default::default() }, |s| {
        Ok::<_, TraceError>(s.program_ids())
    })
    .expect("trace");
    // Pages only: the page allocation and the two page free programs.
    assert_eq!(sample.programs.len(), 3, "{:?}", sample.programs);
    assert!(sample.programs.iter().all(|p| p.name.starts_with(PROGRAM_PREFIX) && ids.contains(&p.id)));
    assert_eq!(memscope_programs(), Vec::new());
    assert_eq!(memscope_trace::preflight::tracefs_dir(&root), tracefs_before);
    assert_eq!(sample.mounted_tracefs, tracefs_before.is_none());
}
