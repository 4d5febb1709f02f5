//! `memscope phys` and `memscope pages` on hand-made trees
//! (tests/fixtures/kpageflags-handmade, tests/fixtures/pagemap-handmade;
//! their make.sh documents every entry). Expected values are worked out by
//! hand from those layouts.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    memscope_testkit::fixture_dir(name)
}

fn memscope(root: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memscope"))
        .arg("--root")
        .arg(fixture(root))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run memscope")
}

fn json(root: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = memscope(root, &all);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an unsigned integer: {v}"))
}

fn i(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

fn row<'a>(rows: &'a Value, key: &str, value: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("no row {key}={value}"))
}

#[test]
fn phys_counts_every_entry_of_a_short_file_and_no_partial_one() {
    let doc = json("kpageflags-handmade", &["phys"]);
    assert_eq!(doc["schema"], "memscope.phys/1");
    // 515 bytes: 64 whole entries and 3 stray bytes.
    assert_eq!(u(&doc["scanned_pages"]), 64);
    assert_eq!(u(&doc["end_pfn"]), 64);
    let sum: u64 = doc["flags"].as_array().unwrap().iter().map(|f| u(&f["pages"])).sum();
    assert_eq!(sum, 64);
    assert_eq!(u(&doc["bytes"]), 64 * 4096);
}

#[test]
fn phys_raw_names_every_flag_of_the_table() {
    let doc = json("kpageflags-handmade", &["phys", "--raw"]);
    let mut seen: Vec<String> = Vec::new();
    for f in doc["flags"].as_array().unwrap() {
        for n in f["names"].as_array().unwrap() {
            seen.push(n.as_str().unwrap().to_string());
        }
    }
    for flag in memscope_kernel::parse::kpageflags::FLAGS {
        // A lone PG_reclaim (no writeback) is PG_readahead in the raw view.
        if flag.name == "reclaim" {
            assert!(!seen.iter().any(|s| s == "reclaim"));
            continue;
        }
        assert!(seen.iter().any(|s| s == flag.name), "{} missing from {seen:?}", flag.name);
    }
    let readahead = row(&doc["flags"], "flags", "0x0001000000000000");
    assert_eq!(u(&readahead["pages"]), 2);
}

#[test]
fn phys_default_view_hides_kernel_hacking_bits() {
    let doc = json("kpageflags-handmade", &["phys"]);
    for f in doc["flags"].as_array().unwrap() {
        let flags = u64::from_str_radix(f["flags"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        assert_eq!(flags & (0xffff << 32), 0, "{f}");
    }
    // Read as no flags: the PFNs with only a hidden bit (bits 32-42 and 47, and PFN 0,
    // reserved), with only a compound bit (not hugetlb), and the 3 with no flags at all.
    let none = row(&doc["flags"], "flags", "0x0000000000000000");
    assert_eq!(u(&none["pages"]), 11 + 1 + 1 + 2 + 3);
}

#[test]
fn phys_map_counts_stop_where_kpagecount_ends() {
    let doc = json("kpageflags-handmade", &["phys"]);
    let mc = doc["mapcount"].as_array().unwrap();
    assert_eq!((u(&mc[0]["min"]), u(&mc[0]["pages"])), (0, 57));
    assert_eq!((u(&mc[1]["min"]), u(&mc[1]["pages"])), (1, 3));
    assert!(
        doc["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("kpagecount ended at PFN 60"))
    );
    // No kpagecgroup in this tree: memory cgroups are unavailable, not zero.
    assert!(doc["memcg"].is_null());
    assert!(doc["memcg_unavailable"].as_str().unwrap().contains("/proc/kpagecgroup"));
}

#[test]
fn phys_cross_check_sets_flags_beside_counters() {
    let doc = json("kpageflags-handmade", &["phys"]);
    let rows = &doc["cross_check"]["rows"];
    let anon = row(rows, "key", "anon");
    assert_eq!((i(&anon["page_view_bytes"]), i(&anon["counter_bytes"])), (8192, 12288));
    assert_eq!(i(&anon["difference_bytes"]), -4096);
    let free = row(rows, "key", "free");
    assert_eq!((i(&free["page_view_bytes"]), i(&free["counter_bytes"])), (9 * 4096, 9 * 4096));
    let slab = row(rows, "key", "slab");
    assert_eq!(i(&slab["page_view_bytes"]), 8192);
    let hugetlb = row(rows, "key", "hugetlb");
    assert_eq!(i(&hugetlb["page_view_bytes"]), 4096);
    assert!(hugetlb["counter_bytes"].is_null());
    assert!(hugetlb["reason"].as_str().unwrap().contains("hugepages"));

    // unaccounted: 6 unowned pages − 1 hole − 2 uninitialised − 1 per-cpu free = 2 pages;
    // less the flagless counters: kernel_stack 4 KiB (vmalloc: VmallocUsed − stacks = 0).
    let est = &doc["cross_check"]["unaccounted"];
    assert_eq!(u(&est["unowned_pages"]), 6);
    assert_eq!(u(&est["hole_pages"]), 1);
    assert_eq!(u(&est["uninitialised_pages"]), 2);
    assert_eq!(u(&est["pcp_free_pages"]), 1);
    assert_eq!(u(&est["free_unflagged_pages"]), 0);
    assert_eq!(i(&est["kernel_unflagged_bytes"]), 8192);
    assert_eq!(i(&est["estimate_bytes"]), 4096);
    let unacc = row(rows, "key", "unaccounted");
    assert_eq!(i(&unacc["page_view_bytes"]), 4096);
    // The ledger: MemTotal 232 KiB − (36 free + 4 pcp + 12 anon + 8 file + 4 shmem
    // + 8 slab + 4 stack + 8 page tables + 0 vmalloc) KiB.
    assert_eq!(i(&unacc["counter_bytes"]), (232 - 84) * 1024);
}

#[test]
fn phys_by_zone_splits_at_zone_boundaries() {
    let doc = json("kpageflags-handmade", &["phys", "--by", "zone"]);
    let groups = doc["groups"].as_array().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["node 0 DMA", "node 0 Normal", "outside every zone"]);
    assert_eq!(groups.iter().map(|g| u(&g["pages"])).collect::<Vec<_>>(), vec![31, 32, 1]);
    assert_eq!(u(&groups[0]["class_bytes"]["free"]), 4096);
    assert_eq!(u(&groups[1]["class_bytes"]["free"]), 8 * 4096);
    assert_eq!(u(&groups[1]["class_bytes"]["nopage"]), 2 * 4096);
    assert_eq!(u(&groups[2]["class_bytes"]["reserved"]), 4096);
    assert!(groups[2]["key"].is_null());
}

#[test]
fn phys_filters_and_ranges_skip_the_cross_check() {
    let doc = json("kpageflags-handmade", &["phys", "--bits", "buddy"]);
    assert_eq!(u(&doc["pages"]), 9);
    assert_eq!(u(&doc["scanned_pages"]), 64);
    assert!(doc["cross_check"].is_null());
    assert!(doc["cross_check_unavailable"].as_str().unwrap().contains("--bits"));

    let doc = json("kpageflags-handmade", &["phys", "--addr", "48+8"]);
    assert_eq!(u(&doc["scanned_pages"]), 8);
    assert_eq!(doc["flags"].as_array().unwrap().len(), 1);
    assert_eq!(doc["flags"][0]["names"][0], "buddy");

    let doc = json("kpageflags-handmade", &["phys", "--bits", "=lru,mmap,anonymous,uptodate,swapbacked"]);
    assert_eq!(u(&doc["pages"]), 2);
}

#[test]
fn phys_rejects_an_unknown_flag_name() {
    let out = memscope("kpageflags-handmade", &["phys", "--bits", "lru,bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));
}

#[test]
fn phys_table_and_csv_render() {
    let out = memscope("kpageflags-handmade", &["phys"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Cross-check"), "{text}");
    assert!(text.contains("buddy"));
    let out = memscope("kpageflags-handmade", &["phys", "--csv"]);
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.starts_with("flags,names,pages,bytes\n"), "{csv}");
    assert_eq!(
        csv.lines().count(),
        1 + json("kpageflags-handmade", &["phys"])["flags"].as_array().unwrap().len()
    );
}

#[test]
fn pages_joins_pagemap_with_flags_and_counts() {
    let doc = json("pagemap-handmade", &["pages", "4242", "--mapcount"]);
    assert_eq!(doc["schema"], "memscope.pages/1");
    assert_eq!(doc["comm"], "fixture");
    let heap = &doc["mappings"][0];
    assert_eq!(heap["label"], "[heap]");
    assert_eq!(u(&heap["present_bytes"]), 3 * 4096);
    assert_eq!(u(&heap["swapped_bytes"]), 4096);
    assert_eq!(u(&heap["anon_bytes"]), 3 * 4096);
    assert_eq!(u(&heap["exclusive_bytes"]), 2 * 4096);
    assert_eq!(u(&heap["soft_dirty_bytes"]), 4096);
    assert_eq!(u(&heap["thp_bytes"]), 2 * 4096);
    assert_eq!(u(&heap["mlocked_bytes"]), 3 * 4096);
    assert_eq!(u(&heap["unevictable_bytes"]), 3 * 4096);
    let file = &doc["mappings"][1];
    assert_eq!(file["label"], "/data/shared file.bin");
    assert_eq!(u(&file["file_bytes"]), 3 * 4096);
    assert_eq!(doc["mappings"][2]["not_walked"], true);
    let mc = doc["mapcount"].as_array().unwrap();
    assert_eq!(mc.len(), 2);
    assert_eq!((u(&mc[0]["mapcount"]), u(&mc[0]["pages"])), (1, 3));
    assert_eq!((u(&mc[1]["mapcount"]), u(&mc[1]["pages"])), (3, 2));
    assert!(
        doc["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("no kpageflags entry"))
    );
}

#[test]
fn pages_list_runs_like_page_types() {
    let doc = json("pagemap-handmade", &["pages", "4242", "--list", "--mapcount"]);
    let runs: Vec<(u64, Option<u64>, u64, Option<u64>)> = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (u(&r["vpage"]), r["pfn"].as_u64(), u(&r["pages"]), r["mapcount"].as_u64()))
        .collect();
    assert_eq!(
        runs,
        vec![
            (1, Some(10), 2, Some(1)),
            (3, Some(12), 1, Some(1)),
            (4, None, 1, None),
            (16, Some(20), 2, Some(3)),
            (18, Some(1000), 1, None),
        ]
    );
    assert_eq!(u(&doc["runs"][2]["swap_offset"]), 0x33);
    assert!(doc["runs"][4]["flags"].is_null());

    let out = memscope("pagemap-handmade", &["pages", "4242", "--list-each"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().next(), Some("voffset\toffset\tflags"));
    assert_eq!(text.lines().count(), 1 + 7);
    assert!(text.contains("swap:33"));
}

#[test]
fn pages_without_pfns_keeps_pagemap_figures() {
    let doc = json("pagemap-handmade", &["pages", "4243"]);
    assert!(doc["flags_unavailable"].as_str().unwrap().contains("CAP_SYS_ADMIN"));
    assert_eq!(doc["flags"].as_array().unwrap().len(), 0);
    let heap = &doc["mappings"][0];
    assert_eq!(u(&heap["present_bytes"]), 3 * 4096);
    assert_eq!(u(&heap["anon_bytes"]), 2 * 4096);
    assert_eq!(u(&heap["file_bytes"]), 4096);
    assert!(heap["thp_bytes"].is_null());
    assert!(heap["mlocked_bytes"].is_null());
}

#[test]
fn pages_of_a_process_that_exits_mid_walk_keeps_what_was_read() {
    let doc = json("pagemap-handmade", &["pages", "4245"]);
    assert!(doc["ended_early"].as_str().unwrap().contains("exited"));
    assert_eq!(u(&doc["mappings"][0]["present_bytes"]), 2 * 4096);
    assert_eq!(u(&doc["mappings"][1]["present_bytes"]), 0);
}

#[test]
fn pages_of_a_missing_process_fails_with_a_reason() {
    let out = memscope("pagemap-handmade", &["pages", "4244"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such process"));
}
