//! A captured tree answers every detail view as the tree it was captured
//! from did: the capture records what the view functions read by calling
//! them, so no view's file is missing from a tree.

use std::path::PathBuf;

use memscope_kernel::KernelRoot;
use memscope_model::CollectOptions;
use memscope_model::capture::capture;
use memscope_model::views::Views;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name)
}

/// Capture the fixture tree `name` and read every view from both.
fn views_before_and_after(name: &str) -> (Views, Views) {
    let source = KernelRoot::at(fixture(name));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tree");
    capture(&source, &CollectOptions::default(), &out).unwrap();
    (Views::collect(&source), Views::collect(&KernelRoot::at(&out)))
}

#[test]
fn captured_tree_answers_zones_slab_and_vmalloc() {
    let (before, after) = views_before_and_after("views-6.18-x86_64");
    assert!(before.zones.zoneinfo.is_ok() && before.zones.buddyinfo.is_ok());
    assert!(before.zones.pagetypeinfo.is_ok());
    assert!(before.slab.slabinfo.is_ok() && before.slab.sysfs.is_ok());
    assert!(before.vmalloc.vmallocinfo.is_ok());
    assert_eq!(before, after);
}

#[test]
fn captured_tree_answers_numa() {
    let (before, after) = views_before_and_after("node-exporter-numa-zfs");
    assert!(before.numa.nodes.as_ref().is_ok_and(|n| n.len() > 1));
    assert!(before.numa.numastat.is_ok());
    assert_eq!(before, after);
}

#[test]
fn captured_tree_answers_allocinfo() {
    let (before, after) = views_before_and_after("allocinfo-6.12-profiling-on");
    let a = before.allocinfo.allocinfo.as_ref().unwrap();
    assert!(!a.sites.is_empty());
    assert_eq!(before, after);
}

#[test]
fn captured_tree_keeps_why_a_view_was_unavailable() {
    // Without root: pagetypeinfo and slabinfo are unreadable, and there
    // is no node directory.
    let (before, after) = views_before_and_after("views-nonroot-no-numa");
    assert!(before.zones.pagetypeinfo.is_err());
    assert!(before.numa.nodes.is_err());
    assert_eq!(before, after);
}
