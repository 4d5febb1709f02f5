//! The user-space tracer on the running kernel (root, `bpf` feature):
//! known answers from the C workloads of the testkit, built with frame
//! pointers and debuginfo and without either: the leaking function named
//! (with file:line where there is debuginfo) and its bytes within 10%,
//! nothing outstanding for the workload that frees everything, mmap leaks,
//! realloc chains, threads, and no probe left after the window, also when
//! the target exits during it. Each test holds the system-wide test lock:
//! other tests count memscope's loaded programs.
#![cfg(feature = "bpf")]

use std::time::Duration;

use memscope_kernel::KernelRoot;
use memscope_model::utrace::{Allocator, UserAllocKind, UserStack, UserTraceSample};
use memscope_testkit::{UtraceWorkload, is_root, system_lock, utrace_source_line};
use memscope_trace::{PROGRAM_PREFIX, TraceError, UserTraceOptions, trace_user};

fn memscope_programs() -> Vec<String> {
    libbpf_rs::query::ProgInfoIter::default()
        .map(|p| p.name.to_string_lossy().into_owned())
        .filter(|n| n.starts_with(PROGRAM_PREFIX))
        .collect()
}

fn assert_no_memscope_program() {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = memscope_programs();
        if left.is_empty() {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "memscope programs still loaded: {left:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn skip() -> bool {
    if !is_root() {
        eprintln!("skipped: tracing needs root");
        return true;
    }
    false
}

/// Trace `mode` of the workload from its start to its `done`.
fn traced(frame_pointers: bool, mode: &str, count: u64) -> (UserTraceSample, UtraceWorkload) {
    let mut w = UtraceWorkload::spawn(frame_pointers, mode, count);
    let pid = w.pid();
    let (_, sample) = trace_user(&KernelRoot::live(), &UserTraceOptions::default(), &[pid], |_| {
        w.start();
        w.wait_done();
        Ok::<_, TraceError>(())
    })
    .expect("trace");
    assert_no_memscope_program();
    (sample, w)
}

fn first_function(s: &UserStack) -> Option<&str> {
    s.frames.first().and_then(|f| f.function.as_deref())
}

/// Bytes outstanding from stacks whose first frame is `function`.
fn bytes_from(sample: &UserTraceSample, function: &str, kind: UserAllocKind) -> u64 {
    sample
        .stacks
        .iter()
        .filter(|s| s.kind == kind && first_function(s) == Some(function))
        .map(|s| s.bytes)
        .sum()
}

fn within_10_percent(got: u64, want: u64) -> bool {
    got.abs_diff(want) * 10 <= want
}

#[test]
fn a_leaking_function_is_named_with_its_line_and_its_bytes() {
    if skip() {
        return;
    }
    let _lock = system_lock();
    let (sample, _w) = traced(true, "leak", 1000);
    assert_eq!(sample.targets[0].allocator, Allocator::Glibc, "{:?}", sample.targets);
    assert_eq!(sample.targets[0].breakpoint_armed, Some(true), "{:?}", sample.targets);
    let got = bytes_from(&sample, "leak_kib", UserAllocKind::Heap);
    assert!(within_10_percent(got, 1000 * 1024), "{got} bytes from leak_kib: {:#?}", sample.stacks);
    let s = sample.stacks.iter().find(|s| first_function(s) == Some("leak_kib")).unwrap();
    let f = &s.frames[0];
    assert!(f.file.as_deref().is_some_and(|p| p.ends_with("utrace-workload.c")), "{f:?}");
    assert_eq!(f.line, Some(utrace_source_line("LEAK_LINE")), "{f:?}");
    assert_eq!(f.frame_pointer, Some(true), "{f:?}");
    assert_eq!(s.frames.get(1).and_then(|f| f.function.as_deref()), Some("main"), "{s:?}");
    assert_eq!(s.truncated_at_frame, None);
}

#[test]
fn without_frame_pointers_the_site_is_named_and_the_missing_callers_said() {
    if skip() {
        return;
    }
    let _lock = system_lock();
    let (sample, _w) = traced(false, "leak", 1000);
    let got = bytes_from(&sample, "leak_kib", UserAllocKind::Heap);
    assert!(within_10_percent(got, 1000 * 1024), "{got} bytes from leak_kib: {:#?}", sample.stacks);
    let s = sample.stacks.iter().find(|s| first_function(s) == Some("leak_kib")).unwrap();
    assert_eq!(s.frames[0].frame_pointer, Some(false), "{s:?}");
    assert_eq!(s.frames[0].file, None, "no debuginfo: {s:?}");
    assert_eq!(s.frames.len(), 1, "callers past a function without frame pointer are dropped: {s:?}");
}

#[test]
fn a_workload_that_frees_everything_has_nothing_outstanding() {
    if skip() {
        return;
    }
    let _lock = system_lock();
    let (sample, w) = traced(true, "clean", 1000);
    let mine: Vec<&UserStack> = sample.stacks.iter().filter(|s| s.pid == w.pid()).collect();
    assert!(mine.is_empty(), "{mine:#?}");
    assert!(
        sample.counters.tracked >= 1000 && sample.counters.frees_matched >= 1000,
        "{:?}",
        sample.counters
    );
}

#[test]
fn an_mmap_leak_is_attributed_to_its_caller_once() {
    if skip() {
        return;
    }
    let _lock = system_lock();
    let (sample, _w) = traced(true, "mmap", 200);
    let got = bytes_from(&sample, "leak_mmap", UserAllocKind::Mmap);
    assert!(within_10_percent(got, 200 * 65536), "{got} bytes from leak_mmap: {:#?}", sample.stacks);
    let heap: u64 = sample.stacks.iter().filter(|s| s.kind == UserAllocKind::Heap).map(|s| s.bytes).sum();
    assert!(heap < 65536, "{heap} heap bytes: {:#?}", sample.stacks);
}

#[test]
fn a_realloc_chain_counts_its_last_block_only() {
    if skip() {
        return;
    }
    let _lock = system_lock();
    let (sample, _w) = traced(true, "realloc", 500);
    let got = bytes_from(&sample, "grow_chain", UserAllocKind::Heap);
    assert!(within_10_percent(got, 500 * 1024), "{got} bytes from grow_chain: {:#?}", sample.stacks);
}

#[test]
fn leaks_of_several_threads_are_summed() {
    if skip() {
        return;
    }
    let _lock = system_lock();
    let (sample, _w) = traced(true, "threads", 1000);
    let got = bytes_from(&sample, "thread_leak", UserAllocKind::Heap);
    assert!(within_10_percent(got, 1000 * 1024), "{got} bytes from thread_leak: {:#?}", sample.stacks);
    let s = sample.stacks.iter().find(|s| first_function(s) == Some("thread_leak")).unwrap();
    assert_eq!(s.frames.get(1).and_then(|f| f.function.as_deref()), Some("thread_main"), "{s:?}");
}

#[test]
fn a_target_that_exits_during_the_window_leaves_no_probe() {
    if skip() {
        return;
    }
    let _lock = system_lock();
    let mut w = UtraceWorkload::spawn(true, "leak", 100);
    let pid = w.pid();
    let (_, sample) = trace_user(&KernelRoot::live(), &UserTraceOptions::default(), &[pid], |_| {
        w.start();
        w.wait_done();
        w.kill();
        std::thread::sleep(Duration::from_millis(200));
        Ok::<_, TraceError>(())
    })
    .expect("trace");
    assert!(sample.targets[0].exited);
    assert_no_memscope_program();
}

#[test]
fn a_process_that_does_not_exist_is_refused_by_name() {
    if skip() {
        return;
    }
    let err = trace_user(&KernelRoot::live(), &UserTraceOptions::default(), &[u32::MAX - 1], |_| {
        Ok::<_, TraceError>(())
    })
    .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}
