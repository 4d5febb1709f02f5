use super::*;
use std::collections::BTreeSet;

use memscope_kernel::ReadError;
use memscope_kernel::parse::net::Socket;
use memscope_kernel::parse::pid::fd::{FdTarget, FileType};
use memscope_kernel::parse::pid::limits::Limit;
use memscope_model::fds::{FdList, FdProcess, FdSample, FdSnapshot};

use crate::ledger::Source;

use memscope_kernel::parse::file_nr::FileNr;
use memscope_kernel::parse::pid::cgroup::ProcCgroup;
use memscope_kernel::parse::pid::fdinfo::FdInfo;
use memscope_kernel::parse::pid::limits::ResourceLimit;
use memscope_model::fds::{FdScan, FdSystem};

fn sample(fd: u32, link: &str) -> FdSample {
    FdSample { fd, target: FdTarget::parse(link), file_type: None, fdinfo: None, socket: None }
}

fn with_fdinfo(mut s: FdSample, text: &str) -> FdSample {
    s.fdinfo = Some(FdInfo::parse(text));
    s
}

fn tcp(inode: u64, local: &str, remote: &str, state: &str) -> Socket {
    Socket {
        inode,
        protocol: "tcp".into(),
        state: Some(state.into()),
        local: Some(local.into()),
        remote: Some(remote.into()),
        kind: None,
        path: None,
    }
}

fn process(pid: u32, uids: [u32; 4], soft: u64, hard: u64, fds: Vec<FdSample>) -> FdProcess {
    FdProcess {
        pid,
        comm: format!("p{pid}"),
        uids: Some(uids),
        nofile: Ok(ResourceLimit { soft: Limit::Value(soft), hard: Limit::Value(hard), units: None }),
        fd_count: Ok(fds.len() as u64),
        fds: FdList::Read(fds),
        cgroup: None,
    }
}

fn snapshot(file_nr: (u64, u64), processes: Vec<FdProcess>) -> FdSnapshot {
    FdSnapshot {
        version: 1,
        taken_at_unix_ms: 0,
        live: true,
        kernel: Ok("6.18".into()),
        reader_uids: Some([0; 4]),
        system: FdSystem {
            file_nr: Ok(FileNr { allocated: file_nr.0, free: 0, max: file_nr.1 }),
            nr_open: Ok(1 << 20),
            inotify_max_user_instances: Ok(128),
            inotify_max_user_watches: Ok(8192),
            epoll_max_user_watches: Ok(100_000),
        },
        processes,
        scan: FdScan::default(),
    }
}

fn files(n: usize, path: &str) -> Vec<FdSample> {
    (0..n).map(|i| sample(i as u32, path)).collect()
}

const INOTIFY_3: &str = "pos:\t0\nflags:\t00\nmnt_id:\t17\nino:\t1044\n\
inotify wd:1 ino:13 sdev:fe00000 mask:2 ignored_mask:0\n\
inotify wd:2 ino:14 sdev:fe00000 mask:2 ignored_mask:0\n\
inotify wd:3 ino:15 sdev:fe00000 mask:2 ignored_mask:0\n";

const EPOLL_2: &str = "pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t1044\n\
tfd:        6 events:       19 data:                6  pos:0 ino:5b87 sdev:f\n\
tfd:        7 events:       19 data:                7  pos:0 ino:5b88 sdev:f\n";

#[test]
fn verdict_thresholds() {
    assert_eq!(Verdict::of(Some(74), Some(100)), Verdict::Ok);
    assert_eq!(Verdict::of(Some(75), Some(100)), Verdict::Warning);
    assert_eq!(Verdict::of(Some(90), Some(100)), Verdict::Critical);
    assert_eq!(Verdict::of(Some(100), Some(100)), Verdict::Exhausted);
    assert_eq!(Verdict::of(Some(3), Some(0)), Verdict::Exhausted);
    assert_eq!(Verdict::of(None, Some(100)), Verdict::Unknown);
    assert_eq!(Verdict::of(Some(1), None), Verdict::Unknown);
    for (v, name, _) in VERDICTS {
        assert_eq!(v.name(), *name);
    }
}

#[test]
fn classify_each_kind() {
    let mut dir = sample(1, "/etc");
    dir.file_type = Some(FileType::Directory);
    let mut fifo = sample(2, "/run/fifo");
    fifo.file_type = Some(FileType::Fifo);
    let mut sock = sample(3, "socket:[9]");
    sock.socket = Some(tcp(9, "127.0.0.1:80", "0.0.0.0:0", "LISTEN"));
    let cases: Vec<(FdSample, &str, &str)> = vec![
        (sample(0, "/var/log/x"), "file", "file"),
        (sample(0, "/var/log/x (deleted)"), "file", "file (deleted)"),
        (sample(0, "/memfd:jit (deleted)"), "file", "memfd"),
        (sample(0, "/dev/null"), "device", "device"),
        (sample(0, "/dev/shm/ring"), "file", "file"),
        (dir, "directory", "directory"),
        (fifo, "pipe", "fifo"),
        (sample(0, "pipe:[5]"), "pipe", "pipe"),
        (sock, "socket", "socket:tcp"),
        (sample(0, "socket:[10]"), "socket", "socket:unknown"),
        (sample(0, "anon_inode:[eventfd]"), "anon", "anon:eventfd"),
        (sample(0, "anon_inode:inotify"), "anon", "anon:inotify"),
        (sample(0, "net:[4026531833]"), "other", "namespace:net"),
        (sample(0, "dmabuf:"), "other", "other"),
    ];
    for (s, group, kind) in cases {
        assert_eq!(classify(&s), (group, kind.to_string()), "{:?}", s.target);
        assert!(GROUPS.iter().any(|g| g.key == group));
    }
}

#[test]
fn socket_targets_group_by_peer_and_by_listening_address() {
    let listening: BTreeSet<(String, String)> = [("tcp".to_string(), "10.0.0.1:80".to_string())].into();
    let mut out = sample(0, "socket:[1]");
    out.socket = Some(tcp(1, "10.0.0.1:40001", "10.0.0.5:5432", "CLOSE_WAIT"));
    assert_eq!(target_key(&out, &listening), "tcp → 10.0.0.5:5432 CLOSE_WAIT");
    let mut accepted = sample(1, "socket:[2]");
    accepted.socket = Some(tcp(2, "10.0.0.1:80", "10.0.0.9:50000", "ESTABLISHED"));
    assert_eq!(target_key(&accepted, &listening), "tcp 10.0.0.1:80 ← peers ESTABLISHED");
    let mut listen = sample(2, "socket:[3]");
    listen.socket = Some(tcp(3, "10.0.0.1:80", "0.0.0.0:0", "LISTEN"));
    assert_eq!(target_key(&listen, &listening), "tcp 10.0.0.1:80 LISTEN");
}

#[test]
fn leak_signatures_only_where_many_is_abnormal() {
    assert!(leak_suspect("file", "/srv/data.db", 100, 5000));
    assert!(leak_suspect("file", "/srv/data.db", 57, 60));
    assert!(!leak_suspect("file", "/srv/data.db", 19, 20));
    assert!(!leak_suspect("file", "/srv/data.db", 50, 1000));
    assert!(leak_suspect("socket", "tcp 10.0.0.1:80 ← peers CLOSE_WAIT", 10, 5000));
    assert!(leak_suspect("socket", "tcp → 10.0.0.5:5432 ESTABLISHED", 150, 5000));
    assert!(!leak_suspect("socket", "tcp 10.0.0.1:80 ← peers ESTABLISHED", 3000, 5000));
    assert!(!leak_suspect("socket", "unix stream (unnamed) connected", 400, 500));
    assert!(!leak_suspect("pipe", "pipe", 1000, 1002));
    assert!(!leak_suspect("anon", "anon_inode:[eventfd]", 500, 600));
}

#[test]
fn closest_to_the_limit_first_with_groups() {
    let snap = snapshot(
        (500, 100_000),
        vec![
            process(10, [1000; 4], 1024, 4096, files(10, "/a")),
            process(11, [1000; 4], 64, 4096, files(60, "/srv/app/data.db")),
        ],
    );
    let r = build(&snap, &FdReportOptions::default());
    assert_eq!(r.processes.iter().map(|p| p.pid).collect::<Vec<_>>(), vec![11, 10]);
    let top = &r.processes[0];
    assert_eq!(top.verdict, Verdict::Critical);
    assert_eq!(top.groups.as_ref().unwrap()["file"], 60);
    assert_eq!(top.groups.as_ref().unwrap().len(), GROUPS.len());
    assert_eq!(top.top_targets[0].target, "/srv/app/data.db");
    assert!(top.top_targets[0].leak_suspect);
    let r1 = build(&snap, &FdReportOptions { top: 1 });
    assert_eq!((r1.processes.len(), r1.hidden_processes), (1, 1));
    assert_eq!(r1.totals.fds, 70);
}

#[test]
fn inotify_counts_by_effective_uid_and_epoll_by_real_uid() {
    // A setuid program: real uid 1000, effective uid 0.
    let fds = vec![
        with_fdinfo(sample(3, "anon_inode:inotify"), INOTIFY_3),
        with_fdinfo(sample(4, "anon_inode:[eventpoll]"), EPOLL_2),
    ];
    let snap = snapshot((10, 1000), vec![process(20, [1000, 0, 0, 0], 1024, 1024, fds)]);
    let r = build(&snap, &FdReportOptions::default());
    let root = r.users.iter().find(|u| u.uid == 0).unwrap();
    assert_eq!((root.inotify_instances, root.inotify_watches, root.epoll_watches), (1, 3, 0));
    let user = r.users.iter().find(|u| u.uid == 1000).unwrap();
    assert_eq!((user.inotify_instances, user.epoll_instances, user.epoll_watches), (0, 1, 2));
    assert!(user.complete && root.complete);
    let row = r.limits.iter().find(|l| l.key == "inotify_watches").unwrap();
    assert_eq!((row.uid, row.used, row.limit, row.headroom), (Some(0), Some(3), Some(8192), Some(8189)));
    assert_eq!(row.source, Source::Derived);
    let e = r.limits.iter().find(|l| l.key == "epoll_watches").unwrap();
    assert_eq!((e.uid, e.used), (Some(1000), Some(2)));
}

#[test]
fn per_user_use_is_unavailable_without_a_breakdown_of_every_process() {
    let mut p = process(30, [0; 4], 1024, 1024, files(3, "/x"));
    let q = process(31, [0; 4], 1024, 1024, files(3, "/y"));
    p.fds = FdList::NotRequested;
    let snap = snapshot((10, 1000), vec![p, q]);
    let r = build(&snap, &FdReportOptions::default());
    let l = r.limits.iter().find(|l| l.key == "inotify_instances").unwrap();
    assert_eq!((l.used, l.source), (None, Source::Unavailable));
    assert!(l.reason.as_deref().unwrap().contains("did not cover every process"));
}

#[test]
fn denied_breakdown_is_one_note_and_a_lower_bound() {
    let mut other = process(40, [1000; 4], 1024, 1024, vec![]);
    other.fds = FdList::Failed(ReadError::PermissionDenied { path: "/proc/40/fd".into() });
    other.fd_count = Ok(12);
    let mut third = process(41, [1000; 4], 1024, 1024, vec![]);
    third.fds = FdList::Failed(ReadError::PermissionDenied { path: "/proc/41/fd".into() });
    let mine =
        process(42, [1001; 4], 1024, 1024, vec![with_fdinfo(sample(3, "anon_inode:inotify"), INOTIFY_3)]);
    let mut snap = snapshot((10, 1000), vec![other, third, mine]);
    snap.reader_uids = Some([1001; 4]);
    snap.scan.breakdown_denied = 2;
    let r = build(&snap, &FdReportOptions::default());
    let notes: Vec<&String> = r.notes.iter().filter(|n| n.contains("cannot be listed")).collect();
    assert_eq!(notes.len(), 1, "{:?}", r.notes);
    assert!(notes[0].starts_with("Descriptors of 2 processes of other users cannot be listed: /proc/PID/fd"));
    assert!(notes[0].contains("root or the process's owner"));
    // uid 1001 holds all its processes' instances; uid 1000 could not be read.
    let rows: Vec<_> = r.limits.iter().filter(|l| l.key == "inotify_instances").collect();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].uid, rows[0].used, rows[0].lower_bound), (Some(1001), Some(1), false));
}

#[test]
fn diagnosis_at_the_descriptor_limit() {
    let snap =
        snapshot((500, 100_000), vec![process(50, [0; 4], 1024, 1024, files(1024, "/var/log/app.log"))]);
    let r = build(&snap, &FdReportOptions { top: usize::MAX });
    let d = diagnose(&r, &snap, 50).unwrap();
    assert_eq!(d.process.verdict, Verdict::Exhausted);
    assert!(d.emfile.starts_with("EMFILE (\"Too many open files\")"), "{}", d.emfile);
    assert!(d.emfile.contains("at its limit now"), "{}", d.emfile);
    assert!(d.enfile.contains("Not the problem here"), "{}", d.enfile);
    assert_eq!(d.leaks.len(), 1);
    assert!(d.leaks[0].contains("`/var/log/app.log` is open 1024 times"));
    assert!(d.fixes[0].starts_with("Close the leak first"));
    assert!(
        d.fixes.iter().any(|f| f.contains("needs root") && f.contains("--nofile=4096:4096")),
        "{:?}",
        d.fixes
    );
    assert!(d.fixes.iter().any(|f| f.contains("ulimit -n 4096") && f.contains("LimitNOFILE=4096")));
    assert!(d.fixes.iter().any(|f| f.contains("select()")));
    assert!(diagnose(&r, &snap, 51).is_none());
}

#[test]
fn diagnosis_names_the_systemd_unit_and_raises_soft_to_hard() {
    let mut p = process(60, [998; 4], 64, 4096, files(60, "/srv/app/data.db"));
    p.cgroup = Some(Ok(ProcCgroup::parse("0::/system.slice/app.service\n").into()));
    let snap = snapshot((500, 100_000), vec![p]);
    let r = build(&snap, &FdReportOptions { top: usize::MAX });
    let d = diagnose(&r, &snap, 60).unwrap();
    assert_eq!(d.process.unit.as_deref(), Some("app.service"));
    assert!(
        d.fixes
            .iter()
            .any(|f| f.contains("prlimit --pid 60 --nofile=4096:4096") && f.contains("no privilege"))
    );
    assert!(
        d.fixes.iter().any(|f| f.contains("systemctl edit app.service") && f.contains("LimitNOFILE=4096"))
    );
}

#[test]
fn diagnosis_when_the_system_is_out_of_files() {
    let snap = snapshot((100_000, 100_000), vec![process(70, [33; 4], 1024, 1024, files(4, "/x"))]);
    let r = build(&snap, &FdReportOptions { top: usize::MAX });
    let d = diagnose(&r, &snap, 70).unwrap();
    assert!(d.enfile.contains("Too many open files in system") && d.enfile.contains("This is the problem"));
    assert!(d.fixes.iter().any(|f| f.contains("sysctl -w fs.file-max=200000")), "{:?}", d.fixes);
    assert!(!d.fixes.iter().any(|f| f.contains("prlimit")), "far from its own limit: {:?}", d.fixes);
}

#[test]
fn diagnosis_of_inotify_instances_near_the_user_limit() {
    let mut procs = Vec::new();
    for pid in 0..120u32 {
        procs.push(process(
            100 + pid,
            [1000; 4],
            1024,
            1024,
            vec![with_fdinfo(sample(3, "anon_inode:inotify"), INOTIFY_3)],
        ));
    }
    let snap = snapshot((500, 100_000), procs);
    let r = build(&snap, &FdReportOptions { top: usize::MAX });
    let d = diagnose(&r, &snap, 100).unwrap();
    let w = d.watches.iter().find(|w| w.starts_with("inotify instances")).expect("instances line");
    assert!(w.contains("120 of 128") && w.contains("EMFILE"), "{w}");
    assert!(d.fixes.iter().any(|f| f.contains("fs.inotify.max_user_instances")));
}

#[test]
fn nothing_to_fix_far_from_every_limit() {
    let snap = snapshot((500, 100_000), vec![process(80, [0; 4], 1024, 1024, files(5, "/x"))]);
    let r = build(&snap, &FdReportOptions { top: usize::MAX });
    let d = diagnose(&r, &snap, 80).unwrap();
    assert_eq!(d.fixes.len(), 1);
    assert!(d.fixes[0].starts_with("Nothing to fix now") && d.fixes[0].contains("--pid 80"));
}

#[test]
fn proc_paths_are_generalized() {
    assert_eq!(generalize_proc_path("/proc/1/fd/0 is readable by root"), "/proc/PID/fd is readable by root");
    assert_eq!(generalize_proc_path("/proc/4242/fd: permission denied"), "/proc/PID/fd: permission denied");
    assert_eq!(generalize_proc_path("/proc/sys/fs/file-nr"), "/proc/sys/fs/file-nr");
}

#[test]
fn systemd_units_from_cgroups() {
    let v2 = ProcCgroup::parse("0::/system.slice/nginx.service\n");
    assert_eq!(systemd_unit(&v2).as_deref(), Some("nginx.service"));
    let v1 = ProcCgroup::parse("1:name=systemd:/system.slice/cron.service\n0::/\n");
    assert_eq!(systemd_unit(&v1).as_deref(), Some("cron.service"));
    let scope = ProcCgroup::parse("0::/user.slice/user-1000.slice/session-3.scope\n");
    assert_eq!(systemd_unit(&scope), None);
}
