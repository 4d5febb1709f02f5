use proptest::prelude::*;

use super::*;

const KIB: u64 = 1024;

fn fixture(name: &str) -> String {
    let path = format!("{}/../../tests/fixtures/{name}/log", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn only(name: &str) -> OomReport {
    let log = parse_log(&fixture(name));
    assert_eq!(log.reports.len(), 1, "{:#?}", log.reports);
    log.reports.into_iter().next().unwrap()
}

#[test]
fn rhel7_3_10_memcg_report() {
    let r = only("oom-3.10-rhel7-memcg");
    let t = r.trigger.as_ref().unwrap();
    assert_eq!((t.comm.as_str(), t.gfp_mask, t.gfp_flags.as_deref()), ("java", Some(0xd0), None));
    assert_eq!((t.order, t.oom_score_adj, t.cpuset.as_deref()), (Some(0), Some(0), Some("4f2a9c")));
    assert_eq!(r.stamp.wall.as_deref(), Some("Tue Mar 5 10:21:07 2024"));
    assert_eq!(r.trigger_pid, Some(20417));
    assert_eq!(r.kernel_release.as_deref(), Some("3.10.0-1160.el7.x86_64"));
    assert_eq!(r.task_in, Some(("/docker/4f2a9c".into(), "/docker/4f2a9c".into())));
    assert_eq!(r.constraint, None);
    assert_eq!(r.is_memcg(), Some(true));
    let c = &r.memcg_counters;
    assert_eq!(c.len(), 3);
    assert_eq!(
        c[0],
        MemcgCounter {
            name: "memory".into(),
            usage_bytes: 524288 * KIB,
            limit: Limit::Value(524288 * KIB),
            failcnt: 3810
        }
    );
    assert_eq!((c[1].name.as_str(), c[1].limit), ("memory+swap", Limit::Value(1024 * 1024 * KIB)));
    assert_eq!((c[2].name.as_str(), c[2].limit), ("kmem", Limit::Max));
    assert_eq!(r.memcg_stats.len(), 1);
    assert_eq!(r.memcg_stats[0].path, "/docker/4f2a9c");
    assert_eq!(r.memcg_stats[0].get("rss"), Some(523168 * KIB));
    assert_eq!(r.memcg_stats[0].get("cache"), Some(1120 * KIB));
    let tasks = r.tasks.as_ref().unwrap();
    assert_eq!(tasks.columns[5], "nr_ptes");
    assert_eq!(tasks.rows.len(), 2);
    let java = &tasks.rows[1];
    assert_eq!(
        (java.pid, java.uid, java.rss_pages, java.nr_ptes),
        (20398, Some(1000), Some(130540), Some(403))
    );
    assert_eq!((java.pgtables_bytes, java.name.as_str()), (None, "java"));
    let v = r.victim.as_ref().unwrap();
    assert_eq!(
        (v.pid, v.name.as_str(), v.memcg, v.score, v.uid),
        (20398, "java", Some(true), Some(998), Some(1000))
    );
    assert_eq!(v.total_vm_bytes, Some(4829460 * KIB));
    assert_eq!(
        (v.anon_rss_bytes, v.file_rss_bytes, v.shmem_rss_bytes),
        (Some(521792 * KIB), Some(368 * KIB), Some(0))
    );
    assert_eq!(r.mem_info, None);
    assert!(r.missing.is_empty(), "{:?}", r.missing);
}

#[test]
fn debian_4_19_global_report_from_the_journal() {
    let log = parse_log(&fixture("oom-4.19-global-journal"));
    assert!(log.formats.contains(&LogFormat::Journal));
    let r = &log.reports[0];
    assert_eq!(log.reports.len(), 1);
    let t = r.trigger.as_ref().unwrap();
    assert_eq!(t.gfp_flags.as_deref(), Some("GFP_HIGHUSER_MOVABLE|__GFP_ZERO"));
    assert_eq!((t.gfp_mask, t.nodemask.as_deref()), (Some(0x6280ca), Some("(null)")));
    assert_eq!(r.stamp.wall.as_deref(), Some("Jun 12 03:14:07"));
    assert_eq!(r.is_memcg(), Some(false));
    let c = r.constraint.as_ref().unwrap();
    assert_eq!((c.kind.as_str(), c.global_oom, c.oom_memcg.as_deref()), ("CONSTRAINT_NONE", true, None));
    assert_eq!(c.task_memcg.as_deref(), Some("/system.slice/postgresql.service"));
    assert_eq!((c.task.as_deref(), c.pid, c.uid), (Some("postgres"), Some(1021), Some(111)));
    let mi = r.mem_info.as_ref().unwrap();
    assert_eq!(mi.pages.get("active_anon"), Some(&1874201));
    assert_eq!(mi.pages.get("slab_unreclaimable"), Some(&14877));
    assert_eq!(mi.pages.get("free"), Some(&21364));
    assert_eq!(mi.pages.get("unstable"), Some(&0));
    assert_eq!(mi.nodes.len(), 1);
    assert_eq!(mi.nodes[0].bytes.get("active_anon"), Some(&(7496804 * KIB)));
    assert_eq!(mi.nodes[0].bytes.get("shmem_thp"), Some(&0), "`shmem_thp: 0kB` with a space");
    assert_eq!(mi.nodes[0].all_unreclaimable, Some(true));
    let zones: Vec<&str> = mi.zones.iter().map(|z| z.zone.as_str()).collect();
    assert_eq!(zones, ["DMA", "DMA32", "Normal"]);
    assert_eq!(mi.zones[2].bytes.get("min"), Some(&(42264 * KIB)));
    assert_eq!(mi.zones[2].bytes.get("kernel_stack"), Some(&(3392 * KIB)));
    assert_eq!((mi.free_swap_bytes, mi.total_swap_bytes), (Some(0), Some(0)));
    assert_eq!(
        (mi.ram_pages, mi.reserved_pages, mi.pagecache_pages),
        (Some(2097022), Some(53409), Some(12925))
    );
    let tasks = r.tasks.as_ref().unwrap();
    assert_eq!(tasks.rows.len(), 4);
    assert_eq!(tasks.rows[1].oom_score_adj, Some(-900));
    assert_eq!(tasks.rows[2].pgtables_bytes, Some(15138816));
    let v = r.victim.as_ref().unwrap();
    assert_eq!(
        (v.pid, v.score, v.memcg, v.anon_rss_bytes),
        (1021, Some(910), Some(false), Some(7436932 * KIB))
    );
    let reaped = r.reaped.as_ref().unwrap();
    assert_eq!((reaped.pid, reaped.anon_rss_bytes), (1021, Some(0)));
    assert_eq!(reaped.stamp.wall.as_deref(), Some("Jun 12 03:14:08"));
    assert!(r.missing.is_empty(), "{:?}", r.missing);
}

#[test]
fn debian_5_10_cgroup2_report_from_raw_kmsg() {
    let r = only("oom-5.10-memcg-v2-kmsg");
    assert_eq!(r.stamp.since_boot_usec, Some(1_723_456_789_012));
    assert_eq!(r.trigger.as_ref().unwrap().oom_score_adj, Some(200));
    assert_eq!(r.trigger_pid, Some(48211));
    let c = r.constraint.as_ref().unwrap();
    assert_eq!(c.kind, "CONSTRAINT_MEMCG");
    assert_eq!(c.oom_memcg.as_deref(), Some("/system.slice/webapp.service"));
    assert_eq!(r.memcg_counters[1].name, "swap");
    assert_eq!(r.memcg_counters[1].limit, Limit::Value(0));
    let s = &r.memcg_stats[0];
    assert_eq!(s.path, "/system.slice/webapp.service");
    assert_eq!(s.get("anon"), Some(1067708416), "the \\x0a-escaped memory.stat record");
    assert_eq!(s.get("pgmajfault"), Some(39));
    assert_eq!(s.values.len(), 20);
    let v = r.victim.as_ref().unwrap();
    assert_eq!((v.uid, v.pgtables_bytes, v.oom_score_adj), (Some(998), Some(2504 * KIB), Some(200)));
    assert!(r.reaped.is_some());
    assert!(r.missing.is_empty(), "{:?}", r.missing);
}

#[test]
fn interleaved_records_of_another_cpu_stay_out_of_the_report() {
    let r = only("oom-6.1-global-interleaved");
    assert_eq!(r.caller.as_deref(), Some("T7781"));
    let mi = r.mem_info.as_ref().unwrap();
    // CPU 0's page allocation failure printed its own Mem-Info lines in
    // between; none of them may be taken.
    assert_eq!(mi.nodes.len(), 1);
    assert_eq!(mi.nodes[0].bytes.get("kernel_stack"), Some(&(5184 * KIB)));
    assert_eq!(mi.zones.len(), 3);
    assert_eq!(mi.zones[0].bytes.get("free"), Some(&(13312 * KIB)));
    assert_eq!(mi.pages.get("shmem"), Some(&262313));
    assert_eq!(mi.pages.get("free"), Some(&35611));
    let tasks = r.tasks.as_ref().unwrap();
    assert_eq!(tasks.rows.len(), 6, "the interrupt's line inside the table is skipped");
    assert_eq!(tasks.rows[1].oom_score_adj, Some(-1000));
    let v = r.victim.as_ref().unwrap();
    assert_eq!((v.pid, v.memcg, v.oom_score_adj), (7784, Some(false), Some(1000)));
    assert_eq!(r.reaped.as_ref().map(|x| x.pid), Some(7784), "printed by the reaper thread T41");
    assert!(r.missing.is_empty(), "{:?}", r.missing);
}

#[test]
fn interleaved_lines_without_caller_ids_are_skipped_by_form() {
    let text = fixture("oom-6.1-global-interleaved");
    // Drop the caller brackets and CPU 0's Mem-Info copies: what a log
    // without CONFIG_PRINTK_CALLER shows of the same event.
    let plain: String = text
        .lines()
        .filter(|l| {
            !l.contains("[    C0] Node") && !l.contains("[    C0] Mem-Info") && !l.contains("[    C0] active")
        })
        .map(|l| l.replacen("][ T7781]", "]", 1).replacen("][    C0]", "]", 1) + "\n")
        .collect();
    let log = parse_log(&plain);
    assert_eq!(log.reports.len(), 1, "{:#?}", log.reports);
    let r = &log.reports[0];
    assert_eq!(r.tasks.as_ref().unwrap().rows.len(), 6);
    assert_eq!(r.mem_info.as_ref().unwrap().zones.len(), 3);
    assert_eq!(r.trigger_pid, Some(7781), "the other CPU's `CPU:` line comes later and is not taken");
    assert!(r.victim.is_some());
}

#[test]
fn newest_6_18_v1_memcg_report_read_on_this_project_machine() {
    let r = only("oom-6.18-memcg-v1-kmsg");
    assert_eq!(r.trigger.as_ref().unwrap().comm, "memscope-worklo");
    assert_eq!(r.trigger_pid, Some(9728));
    assert_eq!(r.kernel_release.as_deref(), Some("6.18.44-fc-v1272"));
    let c = r.constraint.as_ref().unwrap();
    assert_eq!(c.oom_memcg.as_deref(), Some("/memscope/run-9726"));
    assert_eq!(r.memcg_counters[0].limit, Limit::Value(65536 * KIB));
    assert_eq!(r.memcg_counters[1].limit, Limit::Max);
    let s = &r.memcg_stats[0];
    assert_eq!(s.get("rss"), Some(66912256));
    assert_eq!(s.get("hierarchical_memory_limit"), Some(64 << 20));
    assert_eq!(s.get("total_unevictable"), Some(0));
    let tasks = r.tasks.as_ref().unwrap();
    assert_eq!(tasks.columns.iter().filter(|c| c.starts_with("rss_")).count(), 3);
    let row = &tasks.rows[0];
    assert_eq!(
        (row.rss_pages, row.rss_anon_pages, row.rss_file_pages, row.rss_shmem_pages),
        (Some(16827), Some(16320), Some(507), Some(0))
    );
    assert_eq!(row.pgtables_bytes, Some(176128));
    let v = r.victim.as_ref().unwrap();
    assert_eq!((v.pid, v.anon_rss_bytes, v.memcg), (9728, Some(65280 * KIB), Some(true)));
    assert!(r.missing.is_empty(), "{:?}", r.missing);
}

#[test]
fn truncated_reports_say_what_is_missing() {
    let log = parse_log(&fixture("oom-truncated"));
    assert_eq!(log.reports.len(), 2, "{:#?}", log.reports);
    let first = &log.reports[0];
    assert_eq!(first.victim.as_ref().map(|v| v.pid), Some(2210));
    assert!(first.reaped.is_some());
    assert_eq!(first.missing, ["trigger", "mem_info", "task table"]);
    let second = &log.reports[1];
    assert_eq!(second.trigger.as_ref().unwrap().comm, "sshd");
    assert_eq!(second.mem_info.as_ref().unwrap().nodes.len(), 1);
    assert_eq!(second.missing, ["task table", "constraint", "victim"]);
}

#[test]
fn show_mem_of_an_allocation_failure_is_not_a_report() {
    let text = "[ 1.0] kworker/0:2: page allocation failure: order:0, mode:0xa20(GFP_ATOMIC)\n\
                [ 1.1] Mem-Info:\n[ 1.2] active_anon:1 inactive_anon:2 isolated_anon:0\n\
                [ 1.3] Free swap  = 0kB\n[ 1.4] Total swap = 0kB\n";
    assert!(parse_log(text).reports.is_empty());
    assert!(parse_log("[ 1.1] Mem-Info:\n[ 1.2] free:1\n").reports.is_empty(), "SysRq-m");
}

#[test]
fn constraint_values_may_hold_commas() {
    let c = constraint(
        "oom-kill:constraint=CONSTRAINT_CPUSET,nodemask=0-1,3,cpuset=/a,b,mems_allowed=0-1,3,oom_memcg=/x,y,task_memcg=/x,y/z,task=my, app,pid=12,uid=1000",
    )
    .unwrap();
    assert_eq!(c.kind, "CONSTRAINT_CPUSET");
    assert_eq!((c.nodemask.as_deref(), c.cpuset.as_deref()), (Some("0-1,3"), Some("/a,b")));
    assert_eq!((c.mems_allowed.as_deref(), c.oom_memcg.as_deref()), (Some("0-1,3"), Some("/x,y")));
    assert_eq!((c.task_memcg.as_deref(), c.task.as_deref()), (Some("/x,y/z"), Some("my, app")));
    assert_eq!((c.pid, c.uid), (Some(12), Some(1000)));
    assert_eq!(constraint("oom-kill:constraint="), None);
}

#[test]
fn victim_names_with_parentheses_and_spaces() {
    let v = victim("Out of memory: Killed process 7 (a (b) c) total-vm:4kB, anon-rss:8kB", &Stamp::default())
        .unwrap();
    assert_eq!((v.pid, v.name.as_str(), v.anon_rss_bytes), (7, "a (b) c", Some(8 * KIB)));
    assert_eq!(victim("Something: Killed process 7 (a) total-vm:4kB", &Stamp::default()), None);
}

#[test]
fn counters_reject_garbage_and_treat_huge_limits_as_max() {
    assert_eq!(
        counter("memory: usage 1kB, limit 18446744073709551615kB, failcnt 0").unwrap().limit,
        Limit::Max
    );
    assert_eq!(counter("memory: usage 1kB, limit xkB, failcnt 0"), None);
    assert_eq!(counter("memory: usage 1kB"), None);
}

#[test]
fn report_lines_keep_each_report_and_drop_the_rest() {
    let text = fixture("oom-6.18-memcg-v1-kmsg");
    let kept = report_lines(&text);
    assert_eq!(kept.len(), 71, "records 343-421 but the 8 lines of registers and code bytes");
    assert!(kept[0].contains("invoked oom-killer"));
    assert!(kept[70].contains("Killed process 9728"));
    assert!(!kept.iter().any(|l| l.contains("RAX:") || l.contains(";Code:") || l.contains("RIP:")));
    assert!(kept.iter().any(|l| l.contains("; dump_stack_lvl+0x59/0x90")), "the call trace stays");
    let again = parse_log(&(kept.join("\n") + "\n"));
    assert_eq!(again.reports[0].victim, only("oom-6.18-memcg-v1-kmsg").victim);
}

#[test]
fn register_dumps_are_recognised() {
    assert!(is_register_dump("RAX: 00007f84255b0000 RBX: 0000000000000000 RCX: 0000000000000001"));
    assert!(is_register_dump("RIP: 0033:0x557c11a42ea9"));
    assert!(is_register_dump("RSP: 002b:00007fff727e7740 EFLAGS: 00010202"));
    assert!(is_register_dump("Code: f0 88 44 24 17"));
    assert!(is_register_dump("x29: ffff800080003d40 x28: 0000000000000000"));
    assert!(!is_register_dump("CPU: 1 UID: 0 PID: 9728 Comm: x"));
    assert!(!is_register_dump("CPU: 1023 PID: 9728 Comm: x"));
    assert!(!is_register_dump("Mem-Info:"));
    assert!(!is_register_dump("memory: usage 65536kB, limit 65536kB, failcnt 19"));
}

fn fixtures() -> Vec<String> {
    [
        "oom-3.10-rhel7-memcg",
        "oom-4.19-global-journal",
        "oom-5.10-memcg-v2-kmsg",
        "oom-6.1-global-interleaved",
        "oom-6.18-memcg-v1-kmsg",
        "oom-truncated",
        "oom-6.6-memcg-oom-group",
    ]
    .iter()
    .map(|n| fixture(n))
    .collect()
}

proptest! {
    #[test]
    fn never_panics_on_any_text(s in "\\PC*") {
        let _ = parse_log(&s);
    }

    #[test]
    fn never_panics_on_mutated_fixtures(which in 0usize..7, cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), "\\PC{0,8}"), 1..8)) {
        let mut text = fixtures()[which].clone();
        for (a, b, insert) in cuts {
            let len = text.len().max(1);
            let (mut i, mut j) = (a.index(len), b.index(len));
            if i > j { std::mem::swap(&mut i, &mut j); }
            j = j.min(i + 40);
            while !text.is_char_boundary(i) { i -= 1; }
            while !text.is_char_boundary(j) { j -= 1; }
            text.replace_range(i..j.max(i), &insert);
        }
        let _ = parse_log(&text);
    }
}

#[test]
fn memory_oom_group_kills_belong_to_one_report() {
    let r = only("oom-6.6-memcg-oom-group");
    assert_eq!(r.victim.as_ref().map(|v| v.pid), Some(30090));
    assert!(r.oom_group.as_deref().is_some_and(|g| g.ends_with("/cri-containerd-9b2e.scope")));
    let others: Vec<u32> = r.group_killed.iter().map(|v| v.pid).collect();
    assert_eq!(others, [30112], "the victim's second line is not another kill");
    assert_eq!(r.reaped.as_ref().map(|x| x.pid), Some(30090));
    assert_eq!(r.memcg_stats[0].get("pagetables"), Some(1425408));
    assert!(r.missing.is_empty(), "{:?}", r.missing);
}
