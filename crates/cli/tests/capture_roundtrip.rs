//! `memscope capture` writes exactly what the report read: the captured tree
//! read back with `--root` gives the same report as the live collection that
//! captured it.

use memscope_analysis::report::{self, ReportOptions};
use memscope_kernel::KernelRoot;
use memscope_model::capture::capture;
use memscope_model::{CollectOptions, collect};

fn report_json(snap: &memscope_model::Snapshot) -> serde_json::Value {
    let r =
        report::build(snap, &ReportOptions { top_processes: 100_000, ..ReportOptions::default() }).unwrap();
    let mut out = Vec::new();
    memscope_export::report::write_json(&mut out, &r).unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn captured_tree_reports_what_the_live_system_reported() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tree");
    let c = capture(&KernelRoot::live(), &CollectOptions::default(), &out).unwrap();
    assert!(c.files > 20);
    let offline = collect(&KernelRoot::at(&out), &CollectOptions::default());
    assert_eq!(report_json(&c.snapshot), report_json(&offline));
    // Command lines are reduced to the program.
    for p in &offline.processes {
        if let Ok(args) = &p.cmdline {
            assert!(args.len() <= 1, "pid {}: {args:?}", p.pid);
        }
    }
    // Environments are never read, so never written.
    let environ = walk(&out).into_iter().filter(|p| p.ends_with("environ")).count();
    assert_eq!(environ, 0);
}

/// Processes that exit while the capture scans (short-lived children started
/// in a loop meanwhile) read back as exited during the scan, as the live
/// report said, not as processes whose files are missing.
#[test]
fn processes_that_exit_during_the_capture_read_back_as_exited() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let _ = std::process::Command::new("sleep").arg("0.01").status();
                n += 1;
            }
            n
        })
    };
    let mut exited_seen = 0;
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("tree");
        let c = capture(&KernelRoot::live(), &CollectOptions::default(), &out).unwrap();
        let offline_root = KernelRoot::at(&out);
        let offline = collect(&offline_root, &CollectOptions::default());
        assert_eq!(report_json(&c.snapshot), report_json(&offline));
        let named = offline_root
            .manifest()
            .get(memscope_model::EXITED_DURING_CAPTURE)
            .map_or(0, |v| v.split_whitespace().count());
        assert_eq!(named, offline.scan.gone);
        assert_eq!(named, c.snapshot.scan.gone);
        exited_seen += named;
    }
    stop.store(true, Ordering::Relaxed);
    let started = churn.join().unwrap();
    assert!(started > 5, "the churn started {started} processes");
    eprintln!("{started} short-lived processes; {exited_seen} exited mid-capture over 5 captures");
}

#[test]
fn capture_refuses_a_non_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep"), "x").unwrap();
    let err = capture(&KernelRoot::live(), &CollectOptions::default(), dir.path()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert!(dir.path().join("keep").exists());
}

fn walk(p: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path.to_string_lossy().into_owned());
            }
        }
    }
    out
}
