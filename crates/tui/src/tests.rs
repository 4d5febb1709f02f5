//! Frames rendered into ratatui's test backend from fixture snapshots, key
//! by key.

use std::path::Path;
use std::time::Duration;

use memscope_kernel::KernelRoot;
use memscope_model::{CollectOptions, Snapshot, collect};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use memscope_analysis::processes::SortKey;

use crate::app::{App, Control, Tab};
use crate::ui;
use crate::view::View;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name)
}

fn snapshot(name: &str) -> Snapshot {
    collect(&KernelRoot::at(fixture(name)), &CollectOptions::default())
}

/// Collected as `memscope top` collects: descriptors and memory cgroups too.
fn snapshot_as_top(name: &str) -> Snapshot {
    let opts = CollectOptions { fds: true, cgroups: true, ..CollectOptions::default() };
    collect(&KernelRoot::at(fixture(name)), &opts)
}

fn app_with(name: &str) -> App {
    let mut app = App::new(Duration::from_secs(2), "test");
    app.push(View::new(&snapshot(name)));
    app
}

/// The screen as text, one string per row.
fn render(app: &mut App, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h).map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>()).collect()
}

fn screen(app: &mut App) -> String {
    render(app, 140, 40).join("\n")
}

fn press(app: &mut App, code: KeyCode) -> Control {
    app.key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn type_str(app: &mut App, s: &str) {
    for c in s.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// The process table's rows (after its header line), as text.
fn table_rows(screen: &str) -> Vec<String> {
    let lines: Vec<&str> = screen.lines().collect();
    let header = lines.iter().position(|l| l.contains("COMMAND")).expect("process table header");
    lines[header + 1..lines.len() - 1]
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.to_string())
        .collect()
}

#[test]
fn first_frame_shows_the_ledger_bar_legend_and_processes() {
    let mut app = app_with("live-6.18-firecracker-2cpu");
    let s = screen(&mut app);
    assert!(s.contains("memscope top"), "{s}");
    assert!(s.contains("kernel 6.18.44-fc-v669"), "{s}");
    // Legend: unaccounted first, with its figure from the ledger.
    let l = app.view.as_ref().unwrap().ledger.as_ref().unwrap();
    let u = memscope_analysis::fmt_bytes(l.unaccounted_bytes);
    assert!(s.contains(&format!("■ unaccounted {u}")), "{s}");
    assert!(s.contains("■ free "), "{s}");
    // The bar row is labelled with the largest category where it is drawn.
    let bar = s.lines().nth(1).unwrap();
    assert!(bar.contains("free"), "{bar}");
    // Tabs and the process table, sorted by PSS.
    assert!(s.contains("1 Processes") && s.contains("6 fds"), "{s}");
    assert!(s.contains("PSS▼"), "{s}");
    assert!(s.contains("q quit"), "{s}");
}

#[test]
fn the_bar_is_drawn_to_scale() {
    let mut app = app_with("live-6.18-firecracker-2cpu");
    let mut t = Terminal::new(TestBackend::new(100, 20)).unwrap();
    t.draw(|f| ui::draw(f, &mut app)).unwrap();
    let buf = t.backend().buffer().clone();
    // Count the cells of the bar row painted in the colour of `free`.
    let free_color = ui::category_color("free");
    let cells = (0..100).filter(|&x| buf[(x, 1)].bg == free_color).count();
    let l = app.view.as_ref().unwrap().ledger.as_ref().unwrap();
    let free = (l.bytes("free").unwrap() + l.bytes("free_pcp").unwrap()) as f64;
    let expected = free / l.installed_bytes as f64 * 100.0;
    assert!((cells as f64 - expected).abs() <= 1.5, "{cells} cells for {expected:.1}% free");
    // The cells fill the bar exactly, and unaccounted (0.06% here) still has one.
    let parts = ui::bar_cells(l, 100);
    assert_eq!(parts.iter().map(|p| p.1).sum::<u16>(), 100);
    assert_eq!(parts.iter().find(|p| p.0 == "unaccounted").map(|p| p.1), Some(1));
    assert!((0..100).any(|x| buf[(x, 1)].bg == ui::category_color("unaccounted")));
}

#[test]
fn sort_keys_reorder_the_table_and_again_reverses() {
    let mut app = app_with("live-6.18-firecracker-2cpu");
    press(&mut app, KeyCode::Char('r'));
    assert_eq!(app.sort, SortKey::Rss);
    let s = screen(&mut app);
    assert!(s.contains("RSS▼") && !s.contains("PSS▼"), "{s}");
    let rows = app.process_rows();
    let largest = app.view.as_ref().unwrap().processes.iter().filter_map(|r| r.rss_bytes).max().unwrap();
    assert_eq!(rows[0].rss_bytes, Some(largest));
    let first_row = &table_rows(&s)[0];
    assert!(first_row.contains(&rows[0].comm), "{first_row}");
    press(&mut app, KeyCode::Char('r'));
    assert!(app.reverse);
    assert!(screen(&mut app).contains("RSS▲"));
    let rows = app.process_rows();
    assert!(rows.first().unwrap().rss_bytes <= rows.last().unwrap().rss_bytes);
    // F6 cycles to the next column.
    press(&mut app, KeyCode::F(6));
    assert_eq!(app.sort, SortKey::Swap);
}

#[test]
fn filter_keeps_matching_processes_only() {
    let mut app = app_with("live-6.18-firecracker-2cpu");
    let all = app.process_rows().len();
    press(&mut app, KeyCode::Char('/'));
    assert!(app.editing_filter);
    type_str(&mut app, "bash");
    let s = screen(&mut app);
    assert!(s.contains("filter:  bash█"), "{s}");
    press(&mut app, KeyCode::Enter);
    let rows = table_rows(&screen(&mut app));
    assert!(!rows.is_empty() && rows.len() < all, "{rows:?}");
    assert!(rows.iter().all(|r| r.contains("bash")), "{rows:?}");
    // q typed in the filter is text, not quit.
    press(&mut app, KeyCode::Char('/'));
    assert_eq!(press(&mut app, KeyCode::Char('q')), Control::Continue);
    assert!(app.process_rows().is_empty(), "no command matches bashq");
    press(&mut app, KeyCode::Esc);
    assert!(app.filter.is_empty());
    assert_eq!(app.process_rows().len(), all);
}

#[test]
fn tabs_show_slab_vmalloc_zones_from_their_analysis() {
    let mut app = app_with("live-6.18-firecracker-2cpu");
    press(&mut app, KeyCode::Char('2'));
    assert_eq!(app.tab, Tab::Slab);
    let s = screen(&mut app);
    // The `slab` command's view of the same snapshot.
    let slab = memscope_analysis::slab::from_snapshot(
        &snapshot("live-6.18-firecracker-2cpu"),
        &memscope_analysis::slab::SlabOptions {
            sort: memscope_analysis::slab::SlabSort::Size,
            top: None,
            all: false,
        },
    );
    let biggest = &slab.caches[0];
    assert_eq!(&app.view.as_ref().unwrap().slab.caches[0].name, &biggest.name);
    assert!(s.contains("CACHE") && s.contains(&biggest.name), "{s}");
    let size = memscope_analysis::fmt_bytes(slab.totals.size_bytes as i64);
    assert!(s.contains(&format!("{} caches hold {size}", slab.totals.caches)), "{s}");
    let row = s.lines().find(|l| l.starts_with(&format!("{} ", biggest.name))).unwrap();
    assert!(row.trim_end().ends_with(" yes"), "reclaimable, from the snapshot's flags: {row}");
    press(&mut app, KeyCode::Right);
    let s = screen(&mut app);
    assert!(
        s.contains("ADDRESS SPACE") && s.contains("ioremap") && s.contains("device memory, not RAM"),
        "{s}"
    );
    // The largest caller, and the ledger line it explains.
    assert!(s.contains("CALLER") && s.contains("htab_map_alloc"), "{s}");
    assert!(s.contains("the ledger's vmalloc line is"), "{s}");
    press(&mut app, KeyCode::Right);
    let s = screen(&mut app);
    assert!(s.contains("WATERMARK") && s.contains("LARGEST FREE"), "{s}");
    assert!(s.contains("DMA32") && s.contains("Normal"), "{s}");
    let normal = s.lines().find(|l| l.contains(" Normal ")).unwrap();
    assert!(normal.trim_end().ends_with(" ok"), "free above high: {normal}");
    // Collected without descriptors and cgroups: said, not drawn empty.
    press(&mut app, KeyCode::Right);
    let s = screen(&mut app);
    assert!(s.contains("cgroups unavailable: this snapshot was collected without memory cgroups"), "{s}");
    press(&mut app, KeyCode::Right);
    let s = screen(&mut app);
    assert!(
        s.contains("file descriptors unavailable: this snapshot was collected without descriptor"),
        "{s}"
    );
    press(&mut app, KeyCode::Right);
    assert_eq!(app.tab, Tab::Processes, "wraps around");
}

#[test]
fn unreadable_slabinfo_is_said_not_drawn_empty() {
    let mut app = app_with("nonroot-redacted");
    press(&mut app, KeyCode::Char('2'));
    let s = screen(&mut app);
    assert!(s.contains("slab caches unavailable: /proc/slabinfo is readable by root"), "{s}");
}

#[test]
fn processes_without_pss_are_marked_and_counted() {
    let mut snap = snapshot("live-6.18-firecracker-2cpu");
    let p = snap.processes.iter_mut().find(|p| p.rollup().is_some()).unwrap();
    let pid = p.pid;
    p.rollup = memscope_model::Rollup::Failed(memscope_kernel::ReadError::PermissionDenied {
        path: format!("/proc/{pid}/smaps_rollup"),
    });
    snap.scan.rollup_denied = 1;
    let mut app = App::new(Duration::from_secs(2), "test");
    app.push(View::new(&snap));
    let s = screen(&mut app);
    assert!(s.contains("PSS unavailable for 1: 1 permission"), "{s}");
    let row = table_rows(&s)
        .into_iter()
        .find(|r| r.trim_start().starts_with(&format!("*{pid} ")))
        .expect("marked row");
    assert!(row.contains(" - "), "no PSS figure, not 0: {row}");
}

#[test]
fn help_overlay_lists_every_key_and_any_key_closes_it() {
    let mut app = app_with("live-6.18-firecracker-2cpu");
    press(&mut app, KeyCode::Char('h'));
    let s = screen(&mut app);
    assert!(s.contains("memscope top: help"), "{s}");
    for needle in [
        "sort by PSS",
        "sort by SWAP",
        "f                sort by FDS/LIMIT",
        "tab Zones",
        "5                tab cgroups",
        "6                tab fds",
        "filter processes",
    ] {
        assert!(s.contains(needle), "help lacks {needle}");
    }
    assert_eq!(press(&mut app, KeyCode::Char('x')), Control::Continue);
    assert!(!screen(&mut app).contains("memscope top: help"));
    assert_eq!(press(&mut app, KeyCode::Char('q')), Control::Quit);
    assert_eq!(app.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Control::Quit);
}

#[test]
fn sparklines_follow_the_history_and_pause_freezes_it() {
    let mut app = App::new(Duration::from_secs(1), "test");
    let mut snap = snapshot("live-6.18-firecracker-2cpu");
    for i in 0..5 {
        snap.taken_at_unix_ms += 1000;
        // Grow MemTotal's unexplained part: unaccounted rises by 1 MiB a step.
        if let Ok(m) = &mut snap.meminfo {
            let total = m.get("MemTotal").unwrap();
            m.bytes.insert("MemTotal".into(), total + (i as u64) * (1 << 20));
        }
        app.push(View::new(&snap));
    }
    let h = &app.history["unaccounted"];
    assert_eq!(h.len(), 5);
    assert!(h.iter().zip(h.iter().skip(1)).all(|(a, b)| b >= a));
    let s = screen(&mut app);
    assert!(s.lines().nth(4).unwrap().contains("unaccounted"), "{s}");
    // The sparkline row is not blank.
    assert!(s.lines().nth(5).unwrap().chars().any(|c| ('▁'..='█').contains(&c)), "{s}");
    press(&mut app, KeyCode::Char(' '));
    app.push(View::new(&snap));
    assert_eq!(app.history["unaccounted"].len(), 5, "paused");
    assert!(screen(&mut app).contains("PAUSED"));
}

#[test]
fn selection_stays_in_range_and_in_view() {
    let mut app = app_with("live-6.18-firecracker-2cpu");
    let n = app.process_rows().len();
    press(&mut app, KeyCode::End);
    assert_eq!(app.selected, n - 1);
    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.selected, n - 1);
    press(&mut app, KeyCode::Home);
    press(&mut app, KeyCode::Up);
    assert_eq!(app.selected, 0);
    // A small terminal still draws without panicking.
    for (w, h) in [(20, 5), (1, 1), (80, 12)] {
        render(&mut app, w, h);
    }
}

fn app_as_top(name: &str) -> App {
    let mut app = App::new(Duration::from_secs(2), "test");
    app.push(View::new(&snapshot_as_top(name)));
    app
}

#[test]
fn fds_sort_and_column_show_descriptors_against_the_soft_limit() {
    let mut app = app_as_top("top-fds-cgroups");
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(app.sort, SortKey::Fds);
    let s = screen(&mut app);
    assert!(s.contains("FDS/LIMIT▼"), "{s}");
    let rows = table_rows(&s);
    // The fixture: nginx 201 at 60 of 64, systemd 20, nginx 202 12, sshd 8, bash 4.
    let order: Vec<&str> = rows.iter().map(|r| r.split_whitespace().next().unwrap()).collect();
    assert_eq!(order, ["201", "1", "202", "150", "301"], "{s}");
    assert!(rows[0].trim_end().ends_with("60/64"), "{}", rows[0]);
    assert!(rows[1].trim_end().ends_with("20/65536"), "{}", rows[1]);
    press(&mut app, KeyCode::Char('f'));
    assert!(screen(&mut app).contains("FDS/LIMIT▲"));
    assert_eq!(app.process_rows()[0].pid, 301, "reversed: fewest first");
    // Collected without descriptors, the column says so per row.
    let mut plain = app_with("live-6.18-firecracker-2cpu");
    assert!(table_rows(&screen(&mut plain))[0].trim_end().ends_with("-/-"));
}

#[test]
fn fds_tab_shows_the_file_table_and_the_processes_closest_to_their_limit() {
    let mut app = app_as_top("top-fds-cgroups");
    press(&mut app, KeyCode::Char('6'));
    assert_eq!(app.tab, Tab::Fds);
    let s = screen(&mut app);
    // file-nr: 3456 allocated, 0 free, file-max 262144.
    assert!(s.contains("open files, system (ENFILE) 3456 of 262144 (1.3%) ok"), "{s}");
    assert!(s.contains("highest hard RLIMIT_NOFILE vs fs.nr_open 524288 of 1048576 (50.0%) ok"), "{s}");
    assert!(s.contains("5 processes hold 104 descriptors"), "{s}");
    let lines: Vec<&str> = s.lines().collect();
    let header = lines.iter().position(|l| l.contains("SOFT LIMIT")).expect("header");
    let first: Vec<&str> = lines[header + 1].split_whitespace().collect();
    assert_eq!(first, ["201", "nginx", "60", "64", "4096", "93.8%", "critical"], "{s}");
    let second: Vec<&str> = lines[header + 2].split_whitespace().collect();
    assert_eq!(second[..6], ["202", "nginx", "12", "64", "4096", "18.8%"], "{s}");
    assert_eq!(app.row_count(), 5);
}

#[test]
fn cgroups_tab_is_a_tree_with_limits_and_oom_kills() {
    let mut app = app_as_top("top-fds-cgroups");
    press(&mut app, KeyCode::Char('5'));
    assert_eq!(app.tab, Tab::Cgroups);
    let s = screen(&mut app);
    assert!(s.contains("7 memory cgroups (v2), all read"), "{s}");
    let lines: Vec<&str> = s.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("CGROUP")).expect("header");
    let rows: Vec<&str> = lines[header + 1..header + 8].to_vec();
    let names: Vec<&str> = rows.iter().map(|r| r.split("  ").next().unwrap_or("")).collect();
    // Parents first, children indented under them.
    assert!(rows[0].starts_with("init.scope "), "{s}");
    assert!(rows[1].starts_with("system.slice "), "{s}");
    assert!(rows[2].starts_with("  idle.service "), "{names:?}\n{s}");
    assert!(rows[3].starts_with("  nginx.service "), "{s}");
    assert!(rows[5].starts_with("user.slice "), "{s}");
    assert!(rows[6].starts_with("  user-1000.slice "), "{s}");
    // nginx: 100 MiB of its 128 MiB, one OOM kill; counted in system.slice too (v2).
    let nginx: Vec<&str> = rows[3].split_whitespace().collect();
    assert_eq!(nginx, ["nginx.service", "100", "MiB", "128", "MiB", "78%", "1"], "{s}");
    let system: Vec<&str> = rows[1].split_whitespace().collect();
    assert_eq!(system, ["system.slice", "110", "MiB", "unlimited", "-", "1"], "{s}");
    assert_eq!(app.row_count(), 7);
}

#[test]
fn a_limit_above_binds_the_cgroups_below_it() {
    let mut snap = snapshot_as_top("top-fds-cgroups");
    if let Some(Ok(c)) = &mut snap.cgroups {
        let s = c.cgroups.iter_mut().find(|c| c.path == "/system.slice").unwrap();
        s.limit = Ok(memscope_kernel::parse::cgroupfs::Limit::Value(120 << 20));
    }
    let mut app = App::new(Duration::from_secs(2), "test");
    app.push(View::new(&snap));
    press(&mut app, KeyCode::Char('5'));
    let s = screen(&mut app);
    // sshd (8 MiB, no limit of its own) is bound by system.slice's 120 MiB.
    let sshd = s.lines().find(|l| l.starts_with("  sshd.service ")).unwrap();
    assert!(sshd.contains("unlimited (↑ 120 MiB)") && sshd.contains(" 7%"), "{sshd}");
    // nginx's own 128 MiB is looser than its parent's 120 MiB.
    let nginx = s.lines().find(|l| l.starts_with("  nginx.service ")).unwrap();
    assert!(nginx.contains("128 MiB (↑ 120 MiB)") && nginx.contains(" 83%"), "{nginx}");
}

/// A recording of three snapshots a minute apart, unaccounted growing by
/// 1 MiB a step, written with the store API; and their times.
fn recording() -> (tempfile::TempDir, std::path::PathBuf, Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.db");
    let mut store = memscope_store::Store::open(&path).unwrap();
    let mut snap = snapshot("live-6.18-firecracker-2cpu");
    let t0 = snap.taken_at_unix_ms;
    let mut times = Vec::new();
    for i in 0..3u64 {
        snap.taken_at_unix_ms = t0 + i * 60_000;
        if let Ok(m) = &mut snap.meminfo {
            let total = m.get("MemTotal").unwrap();
            m.bytes.insert("MemTotal".into(), total + (1 << 20));
        }
        store.write(&snap, &memscope_store::Meta::default()).unwrap();
        times.push(snap.taken_at_unix_ms);
    }
    (dir, path, times)
}

fn rfc3339(unix_ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_millis(unix_ms);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// What the replay worker does for the keys pressed: apply the moves, load.
fn step(app: &mut App, rec: &mut crate::Recording) {
    let navs = app.take_navs();
    assert!(!navs.is_empty(), "the key asked for a move");
    for n in navs {
        rec.apply(n);
    }
    app.push_recorded(rec.load());
}

#[test]
fn replay_steps_through_recorded_snapshots_with_their_times_and_series() {
    let (_dir, path, times) = recording();
    let mut rec = crate::Recording::open(&path).unwrap();
    assert_eq!(rec.len(), 3);
    let mut app = App::replay(rec.describe());
    assert!(screen(&mut app).contains("reading the recording…"), "before the first snapshot is read");
    app.push_recorded(rec.load());
    // It opens on the last snapshot, its time and place in the header.
    let s = screen(&mut app);
    let header = s.lines().next().unwrap();
    assert!(header.contains(&rfc3339(times[2])) && header.contains("snapshot 3 of 3"), "{header}");
    assert!(header.contains(&format!("replay {}", path.display())) && !header.contains("every "), "{header}");
    // The sparklines are the recorded series: three points, 1 MiB apart.
    let h = &app.history["unaccounted"];
    assert_eq!(h.len(), 3);
    assert_eq!((h[1] - h[0], h[2] - h[1]), (1 << 20, 1 << 20));
    assert!(s.lines().nth(5).unwrap().chars().any(|c| ('▁'..='█').contains(&c)), "{s}");

    // ← and [ step back, ] and → forward, clamped at both ends.
    press(&mut app, KeyCode::Left);
    step(&mut app, &mut rec);
    let header = screen(&mut app).lines().next().unwrap().to_string();
    assert!(header.contains(&rfc3339(times[1])) && header.contains("snapshot 2 of 3"), "{header}");
    assert_eq!(app.history["unaccounted"].len(), 2, "the series up to the snapshot shown");
    assert_eq!(app.tab, Tab::Processes, "← steps, it does not switch tabs");
    press(&mut app, KeyCode::Char('['));
    press(&mut app, KeyCode::Char('['));
    step(&mut app, &mut rec);
    let header = screen(&mut app).lines().next().unwrap().to_string();
    assert!(header.contains(&rfc3339(times[0])) && header.contains("snapshot 1 of 3"), "{header}");
    press(&mut app, KeyCode::Char(']'));
    step(&mut app, &mut rec);
    assert!(screen(&mut app).lines().next().unwrap().contains("snapshot 2 of 3"));
    press(&mut app, KeyCode::Char('G'));
    step(&mut app, &mut rec);
    assert!(screen(&mut app).lines().next().unwrap().contains(&rfc3339(times[2])));
    press(&mut app, KeyCode::Char('g'));
    step(&mut app, &mut rec);
    assert!(screen(&mut app).lines().next().unwrap().contains("snapshot 1 of 3"));
    assert_eq!(app.history["unaccounted"].len(), 1);

    // The processes are the recorded ones.
    let rows = table_rows(&screen(&mut app));
    assert!(rows.iter().any(|r| r.contains("python3")), "{rows:?}");
    // Space does not pause a recording; the key line names the replay keys.
    press(&mut app, KeyCode::Char(' '));
    let s = screen(&mut app);
    assert!(!s.contains("PAUSED"), "{s}");
    assert!(s.lines().last().unwrap().contains("← [ → ] step") && s.contains("g G first/last"), "{s}");
    // Tab switches tabs. The store keeps no descriptors or cgroups yet: said.
    for _ in 0..4 {
        press(&mut app, KeyCode::Tab);
    }
    assert_eq!(app.tab, Tab::Cgroups);
    assert!(screen(&mut app).contains("cgroups unavailable: not recorded in this database"));
    press(&mut app, KeyCode::Tab);
    assert!(screen(&mut app).contains("file descriptors unavailable: not recorded in this database"));
    // Help lists the replay keys.
    press(&mut app, KeyCode::Char('h'));
    let s = screen(&mut app);
    assert!(
        s.contains("every figure comes from the database") && s.contains("g                first snapshot"),
        "{s}"
    );
}

#[test]
fn replay_marks_the_snapshot_after_an_oom_kill() {
    let (_dir, path, times) = recording();
    {
        let mut store = memscope_store::Store::open(&path).unwrap();
        let id = store.list().unwrap()[1].id;
        let kill = memscope_model::oom::OomEvent {
            boot_id: "b".into(),
            since_boot_usec: 1,
            at_unix_ms: times[1] - 10_000,
            pid: 4242,
            comm: "leaky".into(),
            uid: Some(0),
            constraint: Some("CONSTRAINT_MEMCG".into()),
            cgroup: Some("/batch".into()),
            task_cgroup: Some("/batch".into()),
            limit_bytes: Some(64 << 20),
            anon_rss_bytes: Some(60 << 20),
            file_rss_bytes: Some(0),
            shmem_rss_bytes: Some(0),
            answer: "The kernel killed leaky.".into(),
        };
        store.write_oom_kills(id, Ok(std::slice::from_ref(&kill))).unwrap();
    }
    let mut rec = crate::Recording::open(&path).unwrap();
    let mut app = App::replay(rec.describe());
    app.push_recorded(rec.load());
    assert!(app.replay.as_ref().unwrap().oom_kills.is_empty(), "none after the second snapshot");
    press(&mut app, KeyCode::Left);
    step(&mut app, &mut rec);
    let header = screen(&mut app).lines().next().unwrap().to_string();
    assert!(header.contains("snapshot 2 of 3") && header.contains("OOM kill at "), "{header}");
    assert!(app.replay.as_ref().unwrap().oom_kills[0].contains("leaky (pid 4242) in /batch"));
    press(&mut app, KeyCode::Left);
    step(&mut app, &mut rec);
    assert!(!screen(&mut app).lines().next().unwrap().contains("OOM kill"));
}

#[test]
fn replay_of_an_empty_or_missing_database_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    drop(memscope_store::Store::open(&path).unwrap());
    let e = crate::Recording::open(&path).err().expect("refused");
    assert!(e.to_string().contains("holds no snapshot yet"), "{e}");
    let e = crate::Recording::open(&dir.path().join("nope.db")).err().expect("refused");
    assert!(e.to_string().contains("nope.db"), "{e}");
}

#[test]
fn a_process_named_with_terminal_escapes_is_shown_escaped() {
    let mut snap = snapshot("live-6.18-firecracker-2cpu");
    let p = snap.processes.iter_mut().find(|p| p.stat.is_ok()).expect("a process with stat");
    let pid = p.pid;
    p.stat.as_mut().unwrap().comm = "\x1b[2J\x1b]0;PWN\x07".to_string();
    let mut app = App::new(Duration::from_secs(2), "test");
    app.push(View::new(&snap));
    let s = render(&mut app, 200, 60).join("\n");
    assert!(!s.contains(['\x1b', '\x07']), "a control character reached the screen");
    let row = s.lines().find(|l| l.contains(&format!("{pid} "))).unwrap_or_default();
    assert!(s.contains(r"\x1b[2J\x1b]0;PWN\x07"), "the name is shown escaped: {row}");
}

#[test]
fn the_ledger_area_shows_memory_pressure_and_its_sparkline() {
    let mut app = app_with("psi-v2-memory-stalls");
    let text = screen(&mut app);
    assert!(text.contains("pressure 12.50% (full 3.25%)"), "{text}");
    assert_eq!(
        app.history.get(crate::app::PRESSURE_KEY).map(|h| h.iter().copied().collect::<Vec<_>>()),
        Some(vec![1250])
    );
    app.push(View::new(&snapshot("psi-v2-memory-stalls")));
    assert_eq!(app.history[crate::app::PRESSURE_KEY].len(), 2);
}

#[test]
fn pressure_missing_from_a_tree_says_why_on_the_ledger_area() {
    let mut app = app_with("cgroups-v2-pure");
    let text = render(&mut app, 400, 40).join("\n");
    assert!(
        text.contains("pressure unavailable: /proc/pressure/memory is not in this captured tree"),
        "{text}"
    );
    assert!(!app.history.contains_key(crate::app::PRESSURE_KEY));
}

#[test]
fn neighbouring_bands_differ_in_colour_and_glyph() {
    // Every top-level category in ledger order; a band of zero bytes is not
    // drawn, so each must also differ from the one after next.
    let keys: Vec<&str> =
        memscope_analysis::ledger::CATEGORIES.iter().filter(|c| c.parent.is_none()).map(|c| c.key).collect();
    for k in &keys {
        assert!(ui::BANDS.iter().any(|b| b.0 == *k), "{k} has no band");
    }
    for w in keys.windows(3) {
        for other in &w[1..] {
            assert_ne!(ui::category_color(w[0]), ui::category_color(other), "{} / {other}", w[0]);
            assert_ne!(ui::category_glyph(w[0]), ui::category_glyph(other), "{} / {other}", w[0]);
        }
    }
    let glyphs: std::collections::BTreeSet<char> = ui::BANDS.iter().map(|b| b.2).collect();
    assert_eq!(glyphs.len(), ui::BANDS.len(), "each glyph names one category");
}

#[test]
fn band_labels_are_whole_or_absent() {
    assert_eq!(ui::band_text("free", 8, false), "·free···");
    assert_eq!(ui::band_text("free", 5, false), "·····");
    assert_eq!(ui::band_text("file", 12, true), " page cache ");
    assert_eq!(ui::band_text("file", 11, true), "           ");
    assert_eq!(ui::fit_title("page cache 14.3 GiB", 12), "page cache…");
    assert_eq!(ui::fit_title("free 1 GiB", 20), "free 1 GiB");
}

#[test]
fn the_legend_wraps_between_items_and_counts_the_rest() {
    let app = app_with("views-6.18-x86_64");
    let l = app.view.as_ref().unwrap().ledger.as_ref().unwrap();
    let lines = ui::legend_lines(l, 80, 2, true);
    assert_eq!(lines.len(), 2);
    for line in &lines {
        let width: usize = line.iter().map(|(t, _)| t.chars().count()).sum::<usize>() + 2 * (line.len() - 1);
        assert!(width <= 80, "{line:?}");
    }
    assert_eq!(lines[0][0].1, "unaccounted");
    let last = &lines[1].last().unwrap().0;
    assert!(last.starts_with('+') && last.ends_with(" more"), "{last}");
    // Wide enough, every item and no count.
    let all = ui::legend_lines(l, 1000, 2, false);
    assert_eq!(all.len(), 1);
    assert!(!all[0].iter().any(|(t, _)| t.ends_with(" more")));
}

#[test]
fn processes_show_user_names_as_ps_does() {
    let opts =
        CollectOptions { processes: memscope_model::ProcessMode::StatusOnly, ..CollectOptions::default() };
    let snap = collect(&KernelRoot::live(), &opts);
    let mut app = App::new(Duration::from_secs(2), "test");
    app.push(View::new(&snap));
    let v = app.view.as_ref().unwrap();
    assert!(v.processes.iter().any(|p| p.uid == Some(0)), "pid 1 runs as root");
    assert_eq!(v.user_name(0), "root");
    let s = render(&mut app, 140, 40).join("\n");
    let header = s.lines().find(|l| l.contains("COMMAND")).unwrap();
    assert!(header.contains("USER") && !header.contains("UID"), "{header}");
    assert!(s.lines().any(|l| l.split_whitespace().nth(1) == Some("root")), "{s}");
}
