//! The ledger on captured and hand-made trees (tests/fixtures/<case>/): its
//! invariants on every tree, and each edge case's expected reading.

use std::path::PathBuf;
use std::process::Command;

use memscope_analysis::ledger::{InstalledSource, Source};
use memscope_analysis::report::{self, Report, ReportOptions};
use memscope_export::Style;
use memscope_kernel::KernelRoot;
use memscope_model::{CollectOptions, collect};

fn fixtures() -> PathBuf {
    memscope_testkit::fixture_dir("")
}

fn fixture(name: &str) -> PathBuf {
    let p = fixtures().join(name);
    assert!(p.join("MANIFEST").exists(), "fixture {name} has no MANIFEST");
    p
}

fn report_of(name: &str) -> Report {
    let snap = collect(&KernelRoot::at(fixture(name)), &CollectOptions::default());
    report::build(&snap, &ReportOptions::default()).expect("ledger")
}

fn all_fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| e.ok())
        // Trees only: a kernel log fixture (oom-*) has a MANIFEST but no proc/.
        .filter(|e| e.path().join("MANIFEST").exists() && e.path().join("proc").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 8, "expected the fixture trees, found {names:?}");
    names
}

#[test]
fn every_fixture_ledger_sums_exactly_to_installed_ram() {
    for name in all_fixture_names() {
        let r = report_of(&name);
        let l = &r.ledger;
        assert_eq!(l.top_sum(), l.installed_bytes as i64, "{name}: lines must add up to installed RAM");
        assert_eq!(l.bytes("unaccounted"), Some(l.unaccounted_bytes), "{name}");
    }
}

#[test]
fn no_category_is_negative_except_unaccounted() {
    for name in all_fixture_names() {
        for line in &report_of(&name).ledger.lines {
            if line.category != "unaccounted" {
                assert!(
                    line.bytes.unwrap_or(0) >= 0,
                    "{name}: {} {:?} is negative",
                    line.category,
                    line.bytes
                );
            }
        }
    }
}

#[test]
fn unavailable_lines_carry_a_reason_and_no_number() {
    for name in all_fixture_names() {
        for line in &report_of(&name).ledger.lines {
            match line.source {
                Source::Unavailable => {
                    assert!(line.bytes.is_none(), "{name}: {} unavailable but has bytes", line.category);
                    assert!(
                        line.reason.as_deref().is_some_and(|r| r.len() > 10),
                        "{name}: {} has no reason",
                        line.category
                    );
                }
                _ => assert!(line.bytes.is_some() && line.counter.is_some(), "{name}: {}", line.category),
            }
        }
    }
}

#[test]
fn live_capture_reads_like_the_live_machine_it_came_from() {
    let r = report_of("live-6.18-firecracker-2cpu");
    let l = &r.ledger;
    assert_eq!(l.installed_source, InstalledSource::Iomem);
    assert_eq!(l.installed_bytes, 25_769_405_440);
    assert_eq!(l.mem_total_bytes, 24_684_084 * 1024);
    assert_eq!(r.kernel.as_deref(), Some("6.18.44-fc-v669"));
    // Percpu's boot-time first chunk (53 pages × 2 CPUs) is moved under `reserved`.
    let first = l.lines.iter().find(|x| x.category == "percpu_first_chunk").unwrap();
    assert_eq!(first.bytes, Some(53 * 2 * 4096));
    // Kernel stacks are vmalloc'ed on this kernel: the vmalloc line excludes them.
    assert!(l.line("vmalloc").unwrap().counter.as_deref().unwrap().contains("kernel stacks"));
    assert!(!r.processes.is_empty());
    assert!(r.totals.with_pss > 0);
}

#[test]
fn meminfo_4_19_without_percpu_is_unavailable_not_zero() {
    let r = report_of("meminfo-4.19-no-percpu");
    let p = r.ledger.line("percpu").unwrap();
    assert_eq!(p.source, Source::Unavailable);
    assert!(p.reason.as_deref().unwrap().contains("not reported by this kernel"));
    assert!(r.ledger.line("kernel_misc_reclaimable").is_none(), "KReclaimable is absent on 4.19");
    assert!(r.ledger.line("sec_page_tables").is_none());
}

#[test]
fn meminfo_huge_values_and_an_overflowing_field() {
    let r = report_of("meminfo-huge-values");
    assert_eq!(r.ledger.installed_bytes, (64u64 << 40) - 4096);
    assert_eq!(r.ledger.bytes("anon"), Some(40i64 << 40));
    assert!(r.ledger.line("bounce").is_none(), "an overflowing value is never a number");
    assert!(r.notes.iter().any(|n| n.contains("/proc/meminfo") && n.contains("malformed")), "{:?}", r.notes);
}

#[test]
fn meminfo_truncated_mid_number_is_not_believed() {
    let r = report_of("meminfo-truncated");
    let pt = r.ledger.line("page_tables").unwrap();
    assert_eq!(pt.source, Source::Unavailable);
    assert!(pt.reason.as_deref().unwrap().contains("malformed"));
    assert!(r.ledger.line("percpu").unwrap().reason.as_deref().unwrap().contains("truncated"));
    assert!(r.notes.iter().any(|n| n.contains("ends early")));
}

#[test]
fn garbage_lines_are_skipped_and_named() {
    let r = report_of("garbage-lines");
    let live = report_of("live-6.18-firecracker-2cpu");
    for path in ["/proc/meminfo", "/proc/zoneinfo", "/proc/slabinfo", "/proc/vmallocinfo", "/proc/vmstat"] {
        assert!(
            r.notes.iter().any(|n| n.starts_with(path) && n.contains("malformed")),
            "{path}: {:?}",
            r.notes
        );
    }
    // The garbage changes no figure.
    assert_eq!(r.ledger.unaccounted_bytes, live.ledger.unaccounted_bytes);
    assert_eq!(r.ledger.bytes("free"), live.ledger.bytes("free"));
}

#[test]
fn stat_comm_with_paren_and_spaces() {
    let r = report_of("stat-comm-with-paren");
    let p = r.processes.iter().find(|p| p.pid == 4242).expect("pid 4242");
    assert_eq!(p.comm, "a) (b c");
    assert_eq!(p.pss_bytes, Some(2048 * 1024));
    assert_eq!(p.uss_bytes, Some(1024 * 1024));
    assert_eq!(p.uid, Some(1000));
}

#[test]
fn a_captured_tree_never_says_its_processes_exited() {
    // Live, these directories would be processes that exited mid-scan; in a
    // captured tree nothing exits: 77 (stat only) is listed without figures,
    // 78 (empty) has no figure to show and is said so.
    let r = report_of("process-gone-mid-scan");
    let pids: Vec<u32> = r.processes.iter().map(|p| p.pid).collect();
    assert_eq!(pids, vec![79, 77]);
    assert_eq!(r.totals.skipped_gone, 0);
    let p77 = &r.processes[1];
    assert_eq!((p77.pss_bytes, p77.rss_bytes), (None, None));
    assert!(p77.pss_unavailable.as_deref().unwrap().contains("in this captured tree"), "{p77:?}");
    assert!(!r.notes.iter().any(|n| n.contains("exited")), "{:?}", r.notes);
    assert!(
        r.notes.iter().any(|n| n.contains("1 process directories of this captured tree")),
        "{:?}",
        r.notes
    );
}

#[test]
fn nonroot_view_uses_firmware_map_and_names_what_root_would_unlock() {
    let r = report_of("nonroot-redacted");
    assert_eq!(r.ledger.installed_source, InstalledSource::FirmwareMemmap);
    assert_eq!(r.ledger.installed_bytes, 0x9fc00 + 0xbff0_0000 + 0x5_4000_0000);
    let cache = r.ledger.lines.iter().find(|l| l.category == "slab_cache").unwrap();
    assert_eq!(cache.source, Source::Unavailable);
    assert!(cache.reason.as_deref().unwrap().contains("root"));
    let v = r.ledger.line("vmalloc").unwrap();
    assert_eq!(v.source, Source::Derived);
    assert!(v.note.as_deref().unwrap().contains("assumes kernel stacks"));
    // Without the boot log the whole Percpu counter stays in MemTotal, said so.
    assert!(r.ledger.line("percpu").unwrap().note.as_deref().unwrap().contains("first chunk"));
}

#[test]
fn three_node_numa_with_zfs_names_the_arc() {
    let r = report_of("node-exporter-numa-zfs");
    assert_eq!(r.ledger.installed_source, InstalledSource::MemTotal);
    assert_eq!(r.ledger.line("reserved").unwrap().source, Source::Unavailable);
    let arc = r.ledger.lines.iter().find(|l| l.category == "zfs_arc").expect("ZFS ARC line");
    assert_eq!(arc.parent, Some("unaccounted"));
    assert_eq!(arc.bytes, Some(1_603_939_792));
    assert!(r.notes.iter().any(|n| n.contains("ZFS ARC")));
}

#[test]
fn table_of_the_live_capture() {
    let r = report_of("live-6.18-firecracker-2cpu");
    let mut out = Vec::new();
    memscope_export::report::write_table(&mut out, &r, &Style::plain()).unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}

#[test]
fn table_of_the_nonroot_view() {
    let r = report_of("nonroot-redacted");
    let mut out = Vec::new();
    memscope_export::report::write_table(&mut out, &r, &Style::plain()).unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}

fn memscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_memscope")).args(args).env("NO_COLOR", "1").output().unwrap()
}

#[test]
fn json_has_the_contract_fields() {
    let root = fixture("live-6.18-firecracker-2cpu");
    let out = memscope(&["--root", root.to_str().unwrap(), "report", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "memscope.report/1");
    for k in ["mem_total_bytes", "installed_bytes", "unaccounted_bytes"] {
        assert!(v[k].is_i64() || v[k].is_u64(), "{k}");
    }
    let ledger = v["ledger"].as_array().unwrap();
    let top: i64 =
        ledger.iter().filter(|l| l.get("parent").is_none()).map(|l| l["bytes"].as_i64().unwrap()).sum();
    assert_eq!(top, v["installed_bytes"].as_i64().unwrap());
    for l in ledger {
        assert!(l["category"].is_string() && l["source"].is_string());
    }
    let p = &v["processes"][0];
    for k in ["pid", "comm", "pss_bytes", "uss_bytes", "rss_bytes", "swap_bytes"] {
        assert!(p.get(k).is_some(), "processes[] lacks {k}");
    }
}

#[test]
fn csv_has_one_row_per_ledger_line() {
    let root = fixture("live-6.18-firecracker-2cpu");
    let out = memscope(&["--root", root.to_str().unwrap(), "report", "--csv"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("category,name,parent,bytes,source"));
    assert_eq!(text.lines().count() - 1, report_of("live-6.18-firecracker-2cpu").ledger.lines.len());
}

#[test]
fn exit_codes_mean_something() {
    // A tree that is not there is bad input (2), said in one line.
    let out = memscope(&["--root", "/nonexistent-memscope-root", "report"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--root /nonexistent-memscope-root"));
    // A tree without meminfo: memscope cannot do what was asked (1).
    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir(empty.path().join("proc")).unwrap();
    let out = memscope(&["--root", empty.path().to_str().unwrap(), "report"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MemTotal"));
    let out = memscope(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
    let out = memscope(&["report", "--explain"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("unaccounted"));
}

/// A Hyper-V guest whose hv_balloon holds 4 GiB for the host (in no counter
/// on its kernel): the ledger still says unaccounted, and the note names the
/// driver instead of suggesting a kernel leak. The same tree without
/// /proc/modules gives the leak hint.
#[test]
fn unaccounted_memory_of_a_guest_with_a_balloon_driver_names_it() {
    let guest = report_of("hyperv-4.18-balloon");
    let plain = report_of("rhel8-4.18-v1-nonroot");
    // The only difference between the trees: 4 GiB less MemFree.
    assert_eq!(guest.ledger.unaccounted_bytes - plain.ledger.unaccounted_bytes, 4 << 30);
    let note = |r: &Report| r.notes.iter().find(|n| n.starts_with("unaccounted is")).cloned().unwrap();
    assert!(note(&guest).contains("balloon driver hv_balloon is loaded"), "{}", note(&guest));
    assert!(!note(&guest).contains("suspect a kernel leak"));
    assert!(note(&plain).contains("suspect a kernel leak"), "{}", note(&plain));
}

/// Slab caches whose reclaimability is unknown (no /sys/kernel/slab in the
/// tree) belong to neither slab line: the table heads them with a row of
/// their own instead of listing them under "slab, unreclaimable".
#[test]
fn slab_caches_of_unknown_reclaimability_are_not_shown_under_one_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["--root", fixture("rhel7-3.10-no-rollup-v1").to_str().unwrap(), "report"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let unrecl = lines.iter().position(|l| l.trim_start().starts_with("slab, unreclaimable")).unwrap();
    assert!(lines[unrecl + 1].trim_start().starts_with("slab (both lines above)"), "{text}");
    assert!(lines[unrecl + 1].contains("reclaimable or not unknown"));
    assert!(lines[unrecl + 2].starts_with("   "), "a cache follows: {}", lines[unrecl + 2]);
}

/// On a 32-bit kernel (VmallocTotal under 4 GiB) struct page is 32 bytes,
/// not 64: the memmap estimate halves. The 32-bit ARM tree, given the
/// System RAM range its MemTotal implies.
#[test]
fn struct_page_estimate_of_a_32_bit_kernel_is_32_bytes_a_page() {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            let (src, dst) = (e.path(), to.join(e.file_name()));
            if e.file_type().unwrap().is_dir() {
                copy(&src, &dst)
            } else {
                std::fs::copy(&src, &dst).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(&fixture("android-3.4-arm32-highmem"), dir.path());
    // 2 GiB of RAM at 0x80000000, as on many ARM boards.
    std::fs::write(
        dir.path().join("proc/iomem"),
        "80000000-ffffffff : System RAM\n  80008000-80a00000 : Kernel code\n",
    )
    .unwrap();
    let snap = collect(&KernelRoot::at(dir.path()), &CollectOptions::default());
    let r = report::build(&snap, &ReportOptions::default()).expect("ledger");
    let line = r.ledger.lines.iter().find(|l| l.category == "struct_pages").expect("struct page line");
    assert_eq!(line.bytes, Some((2i64 << 30) / 4096 * 32));
    assert_eq!(line.counter.as_deref(), Some("installed pages × 32 bytes"));
    // A 64-bit tree keeps 64 bytes a page.
    let r64 = report_of("guest-6.1-v2-numa-2node");
    let l64 = r64.ledger.lines.iter().find(|l| l.category == "struct_pages").unwrap();
    assert_eq!(l64.counter.as_deref(), Some("installed pages × 64 bytes"));
}
