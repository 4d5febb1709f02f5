//! The process views (`ps`, `report`) keep only the fields of `status` a
//! row shows ([`memscope_model::ROW_STATUS`]): on trees captured from
//! kernels 3.2 to 6.18 and on this machine, their rows are the rows a scan
//! keeping every field gives.

use memscope_analysis::processes;
use memscope_kernel::KernelRoot;
use memscope_kernel::parse::pid::status::{Status, StatusKeys};
use memscope_model::{CollectOptions, ProcessMode, ROW_STATUS, ROW_STATUS_KB, collect};

fn rows(root: &KernelRoot, processes: ProcessMode, status_keys: StatusKeys) -> Vec<processes::ProcessRow> {
    // With the descriptors counted (`ps --sort fds`): kernel threads and
    // zombies, told from status, have none.
    let opts = CollectOptions { processes, status_keys, fds: true, ..CollectOptions::default() };
    processes::rows(&collect(root, &opts))
}

#[test]
fn rows_from_the_kept_status_fields_are_the_rows_from_all_of_them() {
    for tree in memscope_testkit::SCAN_TREES {
        let root = KernelRoot::at(memscope_testkit::fixture_dir(tree));
        for mode in [ProcessMode::Full, ProcessMode::StatusOnly] {
            let all = rows(&root, mode, StatusKeys::ALL);
            assert!(!all.is_empty(), "{tree}: no row");
            assert_eq!(rows(&root, mode, ROW_STATUS), all, "{tree}, {mode:?}");
        }
    }
}

#[test]
fn this_machines_status_files_give_the_same_rows() {
    let root = KernelRoot::live();
    let mut seen = 0;
    for pid in root.pids().unwrap() {
        let Ok(text) = root.read_text(&format!("/proc/{pid}/status")) else { continue };
        let (all, kept) = (Status::parse(&text), Status::parse_keeping(&text, ROW_STATUS));
        assert_eq!(all.has_address_space(), kept.has_address_space());
        assert_eq!(all.uids(), kept.uids());
        assert_eq!(all.text.get("Name"), kept.text.get("Name"));
        for k in ROW_STATUS_KB {
            assert_eq!(all.get(k), kept.get(k), "pid {pid}: {k}");
        }
        assert!(kept.bytes.keys().all(|k| ROW_STATUS_KB.contains(&k.as_ref())));
        seen += usize::from(all.has_address_space());
    }
    assert!(seen > 1, "no process with an address space");
}
