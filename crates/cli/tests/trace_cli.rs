//! `memscope trace`: `--allocinfo` on captured trees (any build), the
//! reasons given where eBPF is not possible, and, with the `trace-bpf`
//! feature on the running kernel (root): the pipe-buffer known answer
//! beside the ledger, folded stacks, and the programs gone after Ctrl-C,
//! SIGTERM and SIGKILL. Live tests hold the system-wide test lock.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    memscope_testkit::fixture_dir(name)
}

fn memscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memscope")).args(args).env("NO_COLOR", "1").output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn allocinfo_of_a_captured_tree_lists_call_sites_by_bytes() {
    let root = fixture("allocinfo-6.12-profiling-on");
    let out = memscope(&["--root", root.to_str().unwrap(), "trace", "--allocinfo", "--min-bytes", "4M"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(t.contains("since boot"), "{t}");
    let first_site = t.lines().find(|l| l.contains("func") || l.contains(".c:")).unwrap();
    assert!(first_site.contains("64.0 MiB") && first_site.contains("fs/pipe.c:531"), "{t}");
    assert!(t.contains("ctagmod_start [ctagmod]"), "{t}");
    assert!(t.contains("A captured tree is one moment"), "{t}");
    // Sites under 4 MiB are summed, not listed.
    assert!(!t.contains("rapl.c") && t.contains("more sites"), "{t}");
}

#[test]
fn allocinfo_json_marks_inaccurate_sites_and_frozen_counters() {
    let root = fixture("allocinfo-6.16-v2-inaccurate");
    let out =
        memscope(&["--root", root.to_str().unwrap(), "--json", "trace", "--allocinfo", "--min-bytes", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], "memscope.trace/1");
    assert_eq!(doc["mode"], "allocinfo");
    assert_eq!(doc["version"], "2.0");
    assert_eq!(doc["window_seconds"], Value::Null);
    let sites = doc["sites"].as_array().unwrap();
    assert_eq!(sites[0]["function"], "__alloc_skb");
    assert_eq!(sites[0]["bytes"], 12582912);
    let mce = sites.iter().find(|s| s["function"] == "mce_device_create").unwrap();
    assert_eq!(mce["accurate"], false);
    let notes = doc["notes"].to_string();
    assert!(notes.contains("vm.mem_profiling is 0"), "{notes}");
    assert!(notes.contains("accurate:no"), "{notes}");
    assert!(notes.contains("could not be parsed"), "{notes}");
}

#[test]
fn allocinfo_absent_says_what_would_provide_it() {
    let root = fixture("meminfo-truncated");
    let out = memscope(&["--root", root.to_str().unwrap(), "trace", "--allocinfo"]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("/proc/allocinfo does not exist") && e.contains("CONFIG_MEM_ALLOC_PROFILING"), "{e}");
}

#[test]
fn tracing_a_captured_tree_is_refused_with_the_reason() {
    let root = fixture("allocinfo-6.12-profiling-on");
    let out = memscope(&["--root", root.to_str().unwrap(), "trace"]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("captured tree") && e.contains("--allocinfo"), "{e}");
    assert!(out.stdout.is_empty());
}

#[test]
fn folded_stacks_need_the_tracer() {
    let root = fixture("allocinfo-6.12-profiling-on");
    let out = memscope(&["--root", root.to_str().unwrap(), "trace", "--allocinfo", "--folded", "-"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--folded needs stacks"), "{}", text(&out.stderr));
}

#[cfg(not(feature = "trace-bpf"))]
#[test]
fn without_the_tracer_built_in_trace_says_how_to_build_it() {
    let out = memscope(&["trace", "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("built without the eBPF tracer"), "{e}");
    assert!(e.contains("cargo build --release --features trace-bpf") && e.contains("clang"), "{e}");
}

#[cfg(not(feature = "trace-bpf"))]
#[test]
fn without_the_tracer_built_in_trace_pid_says_how_to_build_it() {
    let out = memscope(&["trace", "--pid", &std::process::id().to_string(), "--duration", "1s"]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(
        e.contains("cannot trace user allocations") && e.contains("built without the eBPF tracer"),
        "{e}"
    );
    assert!(e.contains("--features trace-bpf"), "{e}");
}

#[test]
fn trace_pid_of_a_captured_tree_is_refused_with_the_reason() {
    let root = fixture("allocinfo-6.12-profiling-on");
    let out = memscope(&["--root", root.to_str().unwrap(), "trace", "--pid", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("captured tree"), "{e}");
}

#[cfg(feature = "trace-bpf")]
mod live {
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Stdio};
    use std::sync::mpsc::{Receiver, channel};
    use std::time::{Duration, Instant};

    use memscope_kernel::KernelRoot;
    use memscope_testkit::{MIB, Workload, is_root, system_lock};

    use super::*;

    /// Names of the loaded BPF programs that memscope loads (`memscope_*`),
    /// as bpftool lists them.
    fn memscope_programs() -> Vec<String> {
        let out = Command::new("bpftool").args(["prog", "show", "--json"]).output().expect("bpftool");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let progs: Value = serde_json::from_slice(&out.stdout).unwrap();
        progs
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .filter(|n| n.starts_with("memscope_"))
            .map(str::to_string)
            .collect()
    }

    /// Programs go away when their last descriptor closes; the kernel may
    /// take a moment to free them.
    fn assert_no_memscope_program() {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = memscope_programs();
            if left.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "memscope programs still loaded: {left:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn tracefs_mounted() -> bool {
        memscope_trace::preflight::tracefs_dir(&KernelRoot::live()).is_some()
    }

    /// Start `memscope trace ARGS` and wait until its programs are attached.
    fn start(args: &[&str]) -> (Child, Receiver<String>) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_memscope"))
            .arg("trace")
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
                let _ = child.kill();
                panic!("memscope trace did not start: {:?}", child.wait_with_output());
            };
            if line.starts_with("memscope: tracing") {
                return (child, rx);
            }
        }
    }

    fn finish(child: Child, rx: Receiver<String>) -> (Output, String) {
        let out = child.wait_with_output().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let err: Vec<String> = rx.try_iter().collect();
        (out, err.join("\n"))
    }

    fn skip() -> bool {
        if !is_root() {
            eprintln!("skipped: tracing needs root");
            return true;
        }
        false
    }

    #[test]
    fn pipe_buffers_are_attributed_beside_the_ledger() {
        if skip() {
            return;
        }
        let _lock = system_lock();
        let (child, rx) = start(&["--duration", "3s", "--json"]);
        let workload = Workload::spawn(&["pipes", "--mib", "64"]);
        let (out, err) = finish(child, rx);
        assert_eq!(out.status.code(), Some(0), "{err}");
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!((doc["schema"].as_str(), doc["mode"].as_str()), (Some("memscope.trace/1"), Some("ebpf")));
        let site = doc["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["function"].as_str().is_some_and(|f| f.contains("pipe_write")))
            .expect("a pipe_write site");
        let by_workload = site["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["pid"] == workload.pid())
            .and_then(|p| p["bytes"].as_u64())
            .unwrap_or(0);
        assert!(
            by_workload >= 64 * MIB * 8 / 10,
            "{} MiB of 64 MiB from the workload's pipes",
            by_workload / MIB
        );
        assert_eq!(site["category"], "unaccounted");
        let growth = doc["ledger_growth"].as_array().unwrap();
        let unaccounted =
            growth.iter().find(|g| g["category"] == "unaccounted").expect("the unaccounted line");
        assert!(unaccounted["growth_bytes"].is_i64(), "{unaccounted}");
        assert!(unaccounted["outstanding_bytes"].as_u64().unwrap() >= 64 * MIB * 8 / 10, "{unaccounted}");
        assert!(unaccounted["top_site"].as_str().unwrap().contains("pipe_write"), "{unaccounted}");
        eprintln!("headline: {}", doc["headline"]);
        assert!(doc["headline"].as_str().unwrap().starts_with("unaccounted "), "{}", doc["headline"]);
        assert!(doc["cost"]["ns_per_event"].as_f64().unwrap() > 0.0);
        drop(workload);
        assert_no_memscope_program();
    }

    #[test]
    fn folded_stacks_go_to_standard_output() {
        if skip() {
            return;
        }
        let _lock = system_lock();
        let (child, rx) = start(&["--duration", "2s", "--folded", "-"]);
        let workload = Workload::spawn(&["pipes", "--mib", "8"]);
        let (out, err) = finish(child, rx);
        assert_eq!(out.status.code(), Some(0), "{err}");
        let folded = text(&out.stdout);
        let mut pipe = 0u64;
        for line in folded.lines() {
            let (stack, bytes) = line.rsplit_once(' ').expect("`stack bytes`");
            let bytes: u64 = bytes.parse().expect("bytes");
            assert!(stack.starts_with("page;") || stack.starts_with("slab;"), "{line}");
            if stack.contains("pipe_write") {
                pipe += bytes;
                // Root first: the system call entry before the pipe writer.
                assert!(stack.find("vfs_write").unwrap() < stack.find("pipe_write").unwrap(), "{line}");
            }
        }
        assert!(pipe >= 8 * MIB, "{} MiB folded under pipe_write", pipe / MIB);
        // The report goes to stderr instead.
        assert!(err.contains("Call sites still holding memory"), "{err}");
        drop(workload);
    }

    fn ends_on(sig: i32) {
        let _lock = system_lock();
        let mounted_before = tracefs_mounted();
        let (child, rx) = start(&["--duration", "120s"]);
        assert!(memscope_programs().len() >= 7, "{:?}", memscope_programs());
        let started = Instant::now();
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let (out, err) = finish(child, rx);
        assert!(started.elapsed() < Duration::from_secs(60));
        assert_no_memscope_program();
        assert_eq!(tracefs_mounted(), mounted_before, "tracefs mount state changed");
        if sig == libc::SIGKILL {
            assert_eq!(out.status.code(), None);
            return;
        }
        assert_eq!(out.status.code(), Some(0), "{err}");
        let report = text(&out.stdout);
        assert!(report.contains("Kernel allocations made during"), "{report}");
        assert!(report.contains("The window was ended early by SIG"), "{report}");
    }

    #[test]
    fn ctrl_c_ends_the_window_reports_and_unloads_the_programs() {
        if skip() {
            return;
        }
        ends_on(libc::SIGINT);
    }

    #[test]
    fn sigterm_ends_the_window_reports_and_unloads_the_programs() {
        if skip() {
            return;
        }
        ends_on(libc::SIGTERM);
    }

    #[test]
    fn sigkill_leaves_no_program_loaded_and_no_mount() {
        if skip() {
            return;
        }
        ends_on(libc::SIGKILL);
    }

    #[test]
    fn as_an_unprivileged_user_trace_names_the_privileges() {
        if !is_root() || Command::new("setpriv").arg("--version").output().is_err() {
            eprintln!("skipped: needs root and setpriv to drop privileges");
            return;
        }
        let out = memscope_testkit::as_nobody(env!("CARGO_BIN_EXE_memscope"))
            .args(["trace", "--duration", "1s"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let e = text(&out.stderr);
        assert!(e.contains("needs root, or CAP_BPF and CAP_PERFMON") && e.contains("uid 65534"), "{e}");
        assert!(e.contains("setcap"), "{e}");
    }

    /// `memscope trace --pid` of a C workload started once the probes are
    /// attached: it leaks `count` objects of 1 KiB from leak_kib.
    fn trace_leak(extra: &[&str], count: u64) -> (Output, String) {
        let mut w = memscope_testkit::UtraceWorkload::spawn(true, "leak", count);
        let pid = w.pid().to_string();
        let mut args = vec!["--pid", pid.as_str(), "--duration", "4s", "--min-bytes", "0"];
        args.extend_from_slice(extra);
        let (child, rx) = start(&args);
        w.start();
        w.wait_done();
        finish(child, rx)
    }

    #[test]
    fn trace_pid_names_the_leaking_function_its_line_and_the_growth() {
        if skip() {
            return;
        }
        let _lock = system_lock();
        let (out, err) = trace_leak(&["--json"], 2000);
        assert_eq!(out.status.code(), Some(0), "{err}");
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!((doc["schema"].as_str(), doc["mode"].as_str()), (Some("memscope.trace/1"), Some("user")));
        let site = &doc["sites"][0];
        assert_eq!(site["function"], "leak_kib", "{doc:#}");
        let line = memscope_testkit::utrace_source_line("LEAK_LINE");
        assert_eq!(site["location"], format!("utrace-workload.c:{line}"), "{doc:#}");
        let bytes = site["bytes"].as_u64().unwrap();
        assert!(bytes.abs_diff(2000 * 1024) * 10 <= 2000 * 1024, "{bytes}");
        assert_eq!(site["callers"][0], "main (utrace-workload.c:".to_string() + &main_line() + ")");
        let p = &doc["processes"][0];
        assert_eq!(p["allocator"], "glibc");
        // The process grew by about what leaked (2000 KiB, touched).
        let growth = p["anon_growth_bytes"].as_i64().unwrap();
        assert!(growth >= 2000 * 1024 * 9 / 10, "{growth}");
        let headline = doc["headline"].as_str().unwrap();
        assert!(
            headline.contains("from `leak_kib` (utrace-workload.c:") && headline.contains("← `main`"),
            "{headline}"
        );
        assert_no_memscope_program();
    }

    /// The line of main's call of leak_kib.
    fn main_line() -> String {
        let src = std::fs::read_to_string(memscope_testkit::UTRACE_WORKLOAD_SOURCE).unwrap();
        (src.lines().position(|l| l.trim() == "leak_kib();").unwrap() + 1).to_string()
    }

    #[test]
    fn trace_pid_folded_stacks_end_in_the_leaking_function() {
        if skip() {
            return;
        }
        let _lock = system_lock();
        let (out, err) = trace_leak(&["--folded", "-"], 500);
        assert_eq!(out.status.code(), Some(0), "{err}");
        let folded = text(&out.stdout);
        let line =
            folded.lines().find(|l| l.contains(";main;leak_kib ")).unwrap_or_else(|| panic!("{folded}"));
        let bytes: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert_eq!(bytes, 500 * 1024, "{folded}");
        assert!(err.contains("Call sites still holding memory"), "{err}");
    }

    #[test]
    fn trace_pid_ends_on_ctrl_c_and_unloads_its_probes() {
        if skip() {
            return;
        }
        let _lock = system_lock();
        let mut w = memscope_testkit::UtraceWorkload::spawn(true, "leak", 100);
        let pid = w.pid().to_string();
        let (child, rx) = start(&["--pid", &pid, "--duration", "60s", "--min-bytes", "0"]);
        w.start();
        w.wait_done();
        let started = Instant::now();
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let (out, err) = finish(child, rx);
        assert!(started.elapsed() < Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(0), "{err}");
        let t = text(&out.stdout);
        assert!(t.contains("leak_kib") && t.contains("ended early by SIGINT"), "{t}");
        assert_no_memscope_program();
    }

    #[test]
    fn trace_pid_as_an_unprivileged_user_names_the_privileges() {
        if !is_root() || Command::new("setpriv").arg("--version").output().is_err() {
            eprintln!("skipped: needs root and setpriv to drop privileges");
            return;
        }
        let w = memscope_testkit::UtraceWorkload::spawn(true, "leak", 1);
        let out = memscope_testkit::as_nobody(env!("CARGO_BIN_EXE_memscope"))
            .args(["trace", "--pid", &w.pid().to_string(), "--duration", "1s"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let e = text(&out.stderr);
        assert!(e.contains("cannot trace user allocations") && e.contains("CAP_BPF and CAP_PERFMON"), "{e}");
    }

    #[test]
    fn trace_pid_of_no_process_says_so() {
        if skip() {
            return;
        }
        let out = memscope(&["trace", "--pid", "4294967294", "--duration", "1s"]);
        assert_eq!(out.status.code(), Some(1));
        let e = text(&out.stderr);
        assert!(e.contains("process 4294967294 does not exist") && e.contains("memscope leaks"), "{e}");
    }
}
