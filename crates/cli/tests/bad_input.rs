//! Trees and snapshots handed over by others may be corrupt: each case here
//! once crashed a command or printed an impossible figure as a fact.

use std::path::{Path, PathBuf};
use std::process::Command;

use memscope_analysis::ledger::Source;
use memscope_analysis::report::{self, ReportOptions};
use memscope_kernel::KernelRoot;
use memscope_model::{CollectOptions, collect};

/// A copy of a fixture tree to corrupt.
fn copy_of(fixture: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&memscope_testkit::fixture_dir(fixture), dir.path());
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if t.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

fn set_line(file: PathBuf, key: &str, line: &str) {
    let text = std::fs::read_to_string(&file).unwrap();
    let mut out: Vec<String> =
        text.lines().filter(|l| !l.starts_with(&format!("{key}:"))).map(str::to_string).collect();
    out.push(line.to_string());
    std::fs::write(file, out.join("\n") + "\n").unwrap();
}

fn memscope(root: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .arg("--root")
        .arg(root)
        .arg("--no-color")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn page_size_zero_in_a_manifest_is_invalid_not_a_division_by_zero() {
    let t = copy_of("live-6.18-firecracker-2cpu");
    set_line(t.path().join("MANIFEST"), "page_size", "page_size: 0");
    for cmd in ["report", "zones", "vmalloc", "slab"] {
        let (code, _, err) = memscope(t.path(), &[cmd]);
        assert_eq!(code, 0, "{cmd}: {err}");
        assert!(!err.contains("panicked"), "{cmd}: {err}");
    }
    let (_, out, _) = memscope(t.path(), &["report"]);
    assert!(
        out.contains("page size is not recorded in this tree (or its MANIFEST page_size is invalid)"),
        "{out}"
    );
}

#[test]
fn page_size_zero_in_a_recorded_snapshot_is_invalid_and_said() {
    let mut snap = collect(
        &KernelRoot::at(memscope_testkit::fixture_dir("live-6.18-firecracker-2cpu")),
        &CollectOptions::default(),
    );
    for bad in [0, 6144, u64::MAX] {
        snap.page_size_bytes = Some(bad);
        let r = report::build(&snap, &ReportOptions::default()).unwrap();
        assert!(
            r.notes.iter().any(|n| n.contains(&format!("recorded page size ({bad} bytes) is invalid"))),
            "{bad}"
        );
    }
}

#[test]
fn a_capture_time_after_year_9999_is_invalid_not_a_panic() {
    let t = copy_of("views-6.18-x86_64");
    set_line(t.path().join("MANIFEST"), "captured_at_unix_ms", "captured_at_unix_ms: 18446744073709551615");
    let (code, out, err) = memscope(t.path(), &["report"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("invalid time"), "{out}");
}

#[test]
fn mem_free_above_mem_total_is_invalid_with_a_note_not_printed() {
    let t = copy_of("live-6.18-firecracker-2cpu");
    set_line(t.path().join("proc/meminfo"), "MemFree", "MemFree: 9007199254740991 kB");
    set_line(t.path().join("proc/meminfo"), "MemAvailable", "MemAvailable: 9007199254740991 kB");
    let snap = collect(&KernelRoot::at(t.path()), &CollectOptions::default());
    let r = report::build(&snap, &ReportOptions::default()).unwrap();
    let free = r.ledger.line("free").unwrap();
    assert_eq!(free.source, Source::Unavailable);
    assert_eq!(free.bytes, None);
    let reason = free.reason.as_deref().unwrap();
    assert!(
        reason.starts_with("invalid: /proc/meminfo `MemFree`") && reason.contains("more than MemTotal"),
        "{reason}"
    );
    assert!(r.notes.iter().any(|n| n.contains("MemAvailable") && n.contains("invalid")), "{:?}", r.notes);
    assert!(!r.notes.iter().any(|n| n.contains("`free` would show")));
    // The sum still holds: lines add up to installed RAM.
    assert_eq!(r.ledger.top_sum(), r.ledger.installed_bytes as i64);
    let (code, out, err) = memscope(t.path(), &["report"]);
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.trim_start().starts_with("free ")).unwrap();
    assert!(line.contains("unavailable") && line.contains("invalid: /proc/meminfo `MemFree`"), "{line}");
}

#[test]
fn counters_near_u64_max_never_turn_into_negative_bytes() {
    let t = copy_of("live-6.18-firecracker-2cpu");
    let mi = t.path().join("proc/meminfo");
    // 2^63 − 1 bytes and just under u64::MAX / 1024: in range for the parser.
    set_line(mi.clone(), "AnonPages", "AnonPages: 9007199254740991 kB");
    set_line(mi.clone(), "Shmem", "Shmem: 18014398509481983 kB");
    set_line(mi, "Percpu", "Percpu: 18014398509481983 kB");
    let (code, out, err) = memscope(t.path(), &["--json", "report"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    for l in doc["ledger"].as_array().unwrap() {
        if l["category"] != "unaccounted"
            && let Some(b) = l["bytes"].as_i64()
        {
            assert!(b >= 0, "{l}");
        }
    }
    for key in ["anon", "shmem", "percpu", "file"] {
        let l = doc["ledger"].as_array().unwrap().iter().find(|l| l["category"] == key).unwrap();
        assert!(l["bytes"].is_null() && l["reason"].as_str().unwrap().starts_with("invalid"), "{l}");
    }
}
