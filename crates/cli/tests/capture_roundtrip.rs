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

/// `memscope cgroups --json` on this host, live or on a captured tree.
fn cgroups_json(root: Option<&std::path::Path>) -> serde_json::Value {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_memscope"));
    if let Some(r) = root {
        cmd.arg("--root").arg(r);
    }
    let out = cmd.args(["cgroups", "--json"]).env("NO_COLOR", "1").output().expect("run memscope");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

/// A cgroups document with what changes from one moment to the next
/// masked: every number (charges, counts, PSS, stall times) becomes 0, so
/// that what stays is which figures are there, which are not and why,
/// limits as `max`, cpu and node lists, versions, depths and the layout.
fn stable(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(_) => Value::from(0),
        Value::Array(a) => Value::Array(a.iter().map(stable).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| !k.starts_with("taken_at"))
                .map(|(k, v)| (k.clone(), stable(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn by_path(doc: &serde_json::Value) -> std::collections::BTreeMap<String, serde_json::Value> {
    doc["cgroups"]
        .as_array()
        .expect("cgroups[]")
        .iter()
        .map(|c| (c["path"].as_str().expect("path").to_string(), stable(c)))
        .collect()
}

/// `memscope capture` keeps the cgroup hierarchies (mountinfo) and every
/// cgroup's files, so `cgroups` on the tree shows what it showed live: the
/// same layout, and for each cgroup the same figures present, the same
/// reasons for those missing, the same limits. Cgroups made or removed
/// meanwhile by others (containers, services) are allowed for: every
/// cgroup present in the live runs before and after the capture is in the
/// tree, and the tree holds none that neither run saw.
#[test]
fn captured_tree_shows_the_cgroups_the_live_system_showed() {
    let _no_runs = memscope_testkit::cgroup_lock();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tree");
    let before = cgroups_json(None);
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["capture", "--out"])
        .arg(&out)
        .output()
        .expect("run memscope capture");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let captured = cgroups_json(Some(&out));
    let after = cgroups_json(None);
    assert_eq!(captured["schema"], "memscope.cgroups/1");
    assert_eq!(captured["layout"], before["layout"]);
    assert_eq!(captured["layout"], after["layout"]);
    let (b, c, a) = (by_path(&before), by_path(&captured), by_path(&after));
    assert!(c.contains_key("/"), "the top cgroup is in the tree: {:?}", c.keys());
    for (path, cg) in &c {
        let live = b.get(path).or_else(|| a.get(path));
        let live = live.unwrap_or_else(|| panic!("{path} is in the tree but neither live run saw it"));
        // Either live run may be the one that agrees (a cgroup can change
        // state, such as gaining its first process, around the capture).
        if cg != live && a.get(path) != Some(cg) {
            assert_eq!(cg, live, "{path} differs between the tree and the live system");
        }
    }
    for path in b.keys().filter(|p| a.contains_key(*p)) {
        assert!(c.contains_key(path), "{path} was there before and after the capture but not in the tree");
    }
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
