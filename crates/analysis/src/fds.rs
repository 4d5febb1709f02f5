//! The "Too many open files" doctor: descriptors against the limits that
//! produce that error, per process and system-wide.
//!
//! Two different errors print "Too many open files" (errno(3)):
//! - `EMFILE`, *Too many open files*: the process holds as many descriptors
//!   as its soft `RLIMIT_NOFILE` (`/proc/PID/limits`). Only that process is
//!   affected. `inotify_init1` also returns `EMFILE` when the user holds
//!   `fs.inotify.max_user_instances` instances (fs/notify/inotify/inotify_user.c).
//! - `ENFILE`, *Too many open files in system*: the system holds
//!   `fs.file-max` open files (`/proc/sys/fs/file-nr`); every process without
//!   `CAP_SYS_ADMIN` is affected (fs/file_table.c `alloc_empty_file`).
//!
//! Related per-user limits fail with `ENOSPC`: inotify watches
//! (`fs.inotify.max_user_watches`, charged to the effective uid since Linux
//! 5.11's ucounts) and epoll watches (`fs.epoll.max_user_watches`, charged to
//! the real uid's `user_struct`, fs/eventpoll.c). No kernel file reports
//! their use: it is counted here from the `inotify wd:` and `tfd:` lines of
//! fdinfo, one instance per descriptor (an instance shared by `fork` or `dup`
//! is counted once per descriptor, so the figure can overstate).
//!
//! [`build`] turns an [`FdSnapshot`] into an [`FdReport`]: limit rows with
//! headroom and verdict ([`VERDICTS`]), per-user inotify and epoll use,
//! per-process rows closest to their limit first with a breakdown by
//! [`GROUPS`], and notes. [`diagnose`] explains one process.

use std::collections::{BTreeMap, BTreeSet};

use memscope_kernel::ReadError;
use memscope_kernel::parse::net::Socket;
use memscope_kernel::parse::pid::fd::{FdTarget, FileType};
use memscope_kernel::parse::pid::limits::Limit;
use memscope_model::fds::{FdList, FdProcess, FdSample, FdSnapshot, FdSystem, closest_first};
use serde::Serialize;

use crate::hints::unavailable_reason;
use crate::ledger::Source;

/// A group of descriptor kinds: one definition drives the table columns,
/// the JSON `groups` keys, the CSV header and the help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdGroup {
    /// Stable key (JSON, CSV).
    pub key: &'static str,
    /// Column header.
    pub label: &'static str,
    /// What it holds.
    pub help: &'static str,
}

/// The descriptor groups, in column order.
pub const GROUPS: &[FdGroup] = &[
    FdGroup {
        key: "file",
        label: "files",
        help: "regular files, including memfd and files deleted while open",
    },
    FdGroup { key: "directory", label: "dirs", help: "directories" },
    FdGroup {
        key: "device",
        label: "devs",
        help: "character and block devices (/dev/null, terminals, disks, GPUs …)",
    },
    FdGroup { key: "pipe", label: "pipes", help: "pipes and named FIFOs" },
    FdGroup {
        key: "socket",
        label: "sockets",
        help: "sockets of every family (TCP, UDP, unix, netlink, packet, …)",
    },
    FdGroup {
        key: "anon",
        label: "anon",
        help: "anonymous inodes: eventfd, epoll, inotify, timerfd, signalfd, pidfd, bpf maps and \
               programs, io_uring, userfaultfd, perf events …",
    },
    FdGroup { key: "other", label: "other", help: "namespace files and anything else" },
];

/// How close a figure is to its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Use is unknown.
    Unknown,
    /// Below [`WARNING_RATIO`].
    Ok,
    /// At or above [`WARNING_RATIO`].
    Warning,
    /// At or above [`CRITICAL_RATIO`].
    Critical,
    /// At the limit: the next allocation fails.
    Exhausted,
}

/// Use ÷ limit from which a figure is a warning.
pub const WARNING_RATIO: f64 = 0.75;
/// Use ÷ limit from which a figure is critical.
pub const CRITICAL_RATIO: f64 = 0.9;

/// Verdicts: key, what it means (for help and legends).
pub const VERDICTS: &[(Verdict, &str, &str)] = &[
    (Verdict::Ok, "ok", "below 75% of the limit"),
    (Verdict::Warning, "warning", "75% of the limit or more"),
    (Verdict::Critical, "critical", "90% of the limit or more"),
    (Verdict::Exhausted, "exhausted", "at the limit: the next open fails"),
    (Verdict::Unknown, "unknown", "use or limit unavailable"),
];

impl Verdict {
    /// From use and limit.
    pub fn of(used: Option<u64>, limit: Option<u64>) -> Verdict {
        match (used, limit) {
            (Some(u), Some(l)) if l > 0 => {
                let r = u as f64 / l as f64;
                if u >= l {
                    Verdict::Exhausted
                } else if r >= CRITICAL_RATIO {
                    Verdict::Critical
                } else if r >= WARNING_RATIO {
                    Verdict::Warning
                } else {
                    Verdict::Ok
                }
            }
            (Some(_), Some(_)) => Verdict::Exhausted,
            _ => Verdict::Unknown,
        }
    }

    /// Name used in output.
    pub fn name(self) -> &'static str {
        VERDICTS.iter().find(|(v, _, _)| *v == self).map(|(_, n, _)| *n).unwrap_or("unknown")
    }
}

/// One limit against its use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitRow {
    /// Stable key: `file_max`, `nr_open`, `inotify_instances`,
    /// `inotify_watches`, `epoll_watches`.
    pub key: &'static str,
    /// For per-user limits: the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Label for tables.
    pub label: String,
    /// Current use.
    pub used: Option<u64>,
    /// The limit.
    pub limit: Option<u64>,
    /// Limit minus use.
    pub headroom: Option<u64>,
    /// Use ÷ limit.
    pub ratio: Option<f64>,
    /// How close.
    pub verdict: Verdict,
    /// Measured, derived (counted here) or unavailable.
    pub source: Source,
    /// Where the figures come from.
    pub counter: String,
    /// Use is a lower bound: some processes of the user could not be read.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lower_bound: bool,
    /// Why unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl LimitRow {
    fn new(key: &'static str, label: String, used: Option<u64>, limit: Option<u64>) -> LimitRow {
        LimitRow {
            key,
            uid: None,
            label,
            used,
            limit,
            headroom: match (used, limit) {
                (Some(u), Some(l)) => Some(l.saturating_sub(u)),
                _ => None,
            },
            ratio: ratio(used, limit),
            verdict: Verdict::of(used, limit),
            source: Source::Measured,
            counter: String::new(),
            lower_bound: false,
            reason: None,
        }
    }
}

fn ratio(used: Option<u64>, limit: Option<u64>) -> Option<f64> {
    match (used, limit) {
        (Some(u), Some(l)) if l > 0 => Some(u as f64 / l as f64),
        _ => None,
    }
}

/// A user's inotify and epoll use, counted from fdinfo.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserUse {
    /// The user (effective uid for inotify, real uid for epoll).
    pub uid: u32,
    /// inotify instances of processes running with this effective uid.
    pub inotify_instances: u64,
    /// Their watches.
    pub inotify_watches: u64,
    /// epoll instances of processes running with this real uid.
    pub epoll_instances: u64,
    /// The files they watch.
    pub epoll_watches: u64,
    /// False when some of this user's processes could not be read: the
    /// figures are then lower bounds.
    pub complete: bool,
    /// The processes holding the most inotify instances, then epoll watches.
    pub top_processes: Vec<UserProcessUse>,
}

/// One process's share of a user's inotify and epoll use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserProcessUse {
    /// Process id.
    pub pid: u32,
    /// Command.
    pub comm: String,
    /// inotify instances.
    pub inotify_instances: u64,
    /// inotify watches.
    pub inotify_watches: u64,
    /// epoll watches.
    pub epoll_watches: u64,
}

/// Descriptors of one process that point at the same thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetCount {
    /// What they point at: a path, `tcp → 10.0.0.5:5432 CLOSE_WAIT`,
    /// `pipe`, `anon_inode:[eventfd]`, …
    pub target: String,
    /// The group it belongs to ([`GROUPS`] key).
    pub group: &'static str,
    /// How many descriptors.
    pub count: u64,
    /// This many descriptors on one file or peer is a leak signature.
    pub leak_suspect: bool,
}

/// One process.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FdRow {
    /// Process id.
    pub pid: u32,
    /// Command name.
    pub comm: String,
    /// Real uid.
    pub uid: Option<u32>,
    /// Open descriptors.
    pub fds: Option<u64>,
    /// Soft `RLIMIT_NOFILE`.
    pub soft_limit: Option<Limit>,
    /// Hard `RLIMIT_NOFILE`.
    pub hard_limit: Option<Limit>,
    /// Descriptors ÷ soft limit.
    pub ratio: Option<f64>,
    /// How close to `EMFILE`.
    pub verdict: Verdict,
    /// Why `fds` or the limits are unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    /// Descriptors per group ([`GROUPS`] keys), when broken down.
    pub groups: Option<BTreeMap<&'static str, u64>>,
    /// Descriptors per kind (`file`, `socket:tcp`, `anon:eventfd`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kinds: Option<BTreeMap<String, u64>>,
    /// inotify instances (descriptors) and their watches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inotify_instances: Option<u64>,
    /// inotify watches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inotify_watches: Option<u64>,
    /// epoll instances (descriptors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoll_instances: Option<u64>,
    /// Files watched by its epoll instances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoll_watches: Option<u64>,
    /// What its descriptors point at, most first (at most [`TOP_TARGETS`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top_targets: Vec<TargetCount>,
    /// Why the breakdown is unavailable, when it was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breakdown_unavailable: Option<String>,
    /// The systemd service it runs in, from its cgroup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// How many targets a row keeps.
pub const TOP_TARGETS: usize = 10;

/// Sums over the scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FdTotals {
    /// Processes with a descriptor table.
    pub processes: usize,
    /// Of which with a known descriptor count.
    pub with_count: usize,
    /// Sum of their descriptors.
    pub fds: u64,
    /// Processes broken down.
    pub broken_down: usize,
    /// Processes whose descriptor count could not be read.
    pub count_unavailable: usize,
    /// Processes whose breakdown was denied.
    pub breakdown_denied: usize,
    /// Processes whose breakdown failed otherwise.
    pub breakdown_failed: usize,
    /// Processes that exited during the scan.
    pub gone: usize,
    /// Kernel threads and zombies.
    pub no_files: usize,
    /// Socket descriptors not found in any `/proc/net` table read.
    pub sockets_unresolved: u64,
    /// Scan time, microseconds.
    pub elapsed_usec: u64,
}

/// The doctor's findings.
#[derive(Debug, Clone, Serialize)]
pub struct FdReport {
    /// Kernel release.
    pub kernel: Option<String>,
    /// When the snapshot was taken (ms since the Unix epoch).
    pub taken_at_unix_ms: u64,
    /// System-wide and per-user limits.
    pub limits: Vec<LimitRow>,
    /// Per-user inotify and epoll use (empty without the breakdown).
    pub users: Vec<UserUse>,
    /// Processes closest to their limit first (at most `top`).
    pub processes: Vec<FdRow>,
    /// Processes not shown.
    pub hidden_processes: usize,
    /// Sums.
    pub totals: FdTotals,
    /// What the numbers say.
    pub notes: Vec<String>,
}

/// What the report shows.
#[derive(Debug, Clone, Copy)]
pub struct FdReportOptions {
    /// Processes shown (`usize::MAX`: all).
    pub top: usize,
}

impl Default for FdReportOptions {
    fn default() -> Self {
        FdReportOptions { top: 20 }
    }
}

/// Build the report.
pub fn build(snap: &FdSnapshot, opts: &FdReportOptions) -> FdReport {
    let mut procs: Vec<&FdProcess> = snap.processes.iter().collect();
    procs.sort_by(|a, b| closest_first(a, b));
    let users = user_use(snap);
    let mut rows: Vec<FdRow> = procs.iter().map(|p| row(p)).collect();
    let totals = totals(snap, &rows);
    let limits = limit_rows(snap, &users, &rows);
    let notes = notes(snap, &totals, &rows, &users);
    let hidden = rows.len().saturating_sub(opts.top);
    rows.truncate(opts.top);
    FdReport {
        kernel: snap.kernel.as_ref().ok().cloned(),
        taken_at_unix_ms: snap.taken_at_unix_ms,
        limits,
        users,
        processes: rows,
        hidden_processes: hidden,
        totals,
        notes,
    }
}

/// The group and the kind of one descriptor.
pub fn classify(f: &FdSample) -> (&'static str, String) {
    match &f.target {
        FdTarget::Path { path, deleted } => {
            let file = || ("file", if *deleted { "file (deleted)".to_string() } else { "file".to_string() });
            match f.file_type {
                Some(FileType::Regular) => file(),
                None if is_device_path(path) => ("device", "device".into()),
                None => file(),
                Some(FileType::Directory) => ("directory", "directory".into()),
                Some(FileType::CharDevice) => ("device", "char device".into()),
                Some(FileType::BlockDevice) => ("device", "block device".into()),
                Some(FileType::Fifo) => ("pipe", "fifo".into()),
                Some(FileType::Socket) => ("socket", "socket:path".into()),
                Some(FileType::Symlink) | Some(FileType::Unknown) => ("other", "other".into()),
            }
        }
        FdTarget::Memfd { .. } => ("file", "memfd".into()),
        FdTarget::Pipe { .. } => ("pipe", "pipe".into()),
        FdTarget::Socket { .. } => match &f.socket {
            Some(s) => ("socket", format!("socket:{}", s.protocol)),
            None => ("socket", "socket:unknown".into()),
        },
        FdTarget::AnonInode { kind } => ("anon", format!("anon:{kind}")),
        FdTarget::Namespace { kind, .. } => ("other", format!("namespace:{kind}")),
        FdTarget::Other { .. } => ("other", "other".into()),
    }
}

/// Without a `stat` (a captured tree), a path under /dev (except the
/// tmpfs mounts /dev/shm and /dev/mqueue) is taken for a device.
fn is_device_path(path: &str) -> bool {
    path.starts_with("/dev/") && !path.starts_with("/dev/shm/") && !path.starts_with("/dev/mqueue/")
}

/// What a descriptor points at, for counting the same target: a path; a
/// socket by protocol, peer and state (connections from many local ports to
/// one peer group together; connections accepted on one of `listening`,
/// the process's listening `(protocol, local address)`, group by that
/// address); pipes as one; anonymous inodes by kind.
pub fn target_key(f: &FdSample, listening: &BTreeSet<(String, String)>) -> String {
    match &f.target {
        FdTarget::Path { path, deleted } => {
            if *deleted {
                format!("{path} (deleted)")
            } else {
                path.clone()
            }
        }
        FdTarget::Memfd { name } => format!("memfd:{name}"),
        FdTarget::Pipe { .. } => "pipe".into(),
        FdTarget::Socket { .. } => match &f.socket {
            Some(s) => socket_key(s, listening),
            None => "socket (not in /proc/net)".into(),
        },
        FdTarget::AnonInode { kind } => format!("anon_inode:[{kind}]"),
        FdTarget::Namespace { kind, inode } => format!("{kind}:[{inode}]"),
        FdTarget::Other { text } => text.clone(),
    }
}

/// The listening sockets of a process: (protocol, local address).
pub fn listening(samples: &[FdSample]) -> BTreeSet<(String, String)> {
    samples
        .iter()
        .filter_map(|f| f.socket.as_ref())
        .filter(|s| s.state.as_deref() == Some("LISTEN"))
        .filter_map(|s| Some((s.protocol.clone(), s.local.clone()?)))
        .collect()
}

fn socket_key(s: &Socket, listening: &BTreeSet<(String, String)>) -> String {
    let state = s.state.as_deref().unwrap_or("");
    match s.protocol.as_str() {
        "unix" => format!(
            "unix {} {} {state}",
            s.kind.as_deref().unwrap_or("?"),
            s.path.as_deref().unwrap_or("(unnamed)")
        ),
        "netlink" | "packet" => format!("{} {}", s.protocol, s.kind.as_deref().unwrap_or("?")),
        _ => {
            let unbound = |a: &str| a.starts_with("0.0.0.0:0") || a.starts_with("[::]:0");
            let accepted = s
                .local
                .as_ref()
                .is_some_and(|l| state != "LISTEN" && listening.contains(&(s.protocol.clone(), l.clone())));
            match (&s.local, &s.remote) {
                (Some(l), _) if accepted => format!("{} {l} ← peers {state}", s.protocol),
                (_, Some(r)) if !unbound(r) => format!("{} → {r} {state}", s.protocol),
                (Some(l), _) => format!("{} {l} {state}", s.protocol),
                _ => format!("{} {state}", s.protocol),
            }
        }
    }
    .trim_end()
    .to_string()
}

/// Is `count` descriptors on one target, out of `total`, a leak signature?
/// - one path (or memfd) open many times: at least 100, or at least 20 and
///   a quarter of the process's descriptors;
/// - outgoing connections to one peer in one state: the same;
/// - TCP sockets in CLOSE_WAIT (the peer closed, this process did not):
///   at least 10;
/// - never pipes, anonymous inodes, unix sockets or connections accepted on
///   a listening socket: many of them are normal in threaded programs and
///   servers.
fn leak_suspect(group: &'static str, key: &str, count: u64, total: u64) -> bool {
    let many = count >= 100 || (count >= 20 && count * 4 >= total);
    match group {
        "file" | "directory" => many,
        "socket" if key.ends_with("CLOSE_WAIT") => count >= 10,
        "socket" => key.contains(" → ") && many,
        _ => false,
    }
}

fn row(p: &FdProcess) -> FdRow {
    let fds = p.fd_count.as_ref().ok().copied();
    let nofile = p.nofile.as_ref().ok();
    let unavailable = match (&p.fd_count, &p.nofile) {
        (Err(e), _) | (_, Err(e)) => Some(unavailable_reason(e)),
        _ => None,
    };
    let soft = nofile.map(|n| n.soft);
    let mut r = FdRow {
        pid: p.pid,
        comm: p.comm.clone(),
        uid: p.ruid(),
        fds,
        soft_limit: soft,
        hard_limit: nofile.map(|n| n.hard),
        ratio: p.ratio(),
        verdict: Verdict::of(fds, soft.and_then(Limit::value)),
        unavailable,
        groups: None,
        kinds: None,
        inotify_instances: None,
        inotify_watches: None,
        epoll_instances: None,
        epoll_watches: None,
        top_targets: Vec::new(),
        breakdown_unavailable: None,
        unit: p.cgroup.as_ref().and_then(|c| c.as_ref().ok()).and_then(systemd_unit),
    };
    match &p.fds {
        FdList::NotRequested => {}
        FdList::Failed(e) => r.breakdown_unavailable = Some(unavailable_reason(e)),
        FdList::Read(samples) => {
            let mut groups: BTreeMap<&'static str, u64> = GROUPS.iter().map(|g| (g.key, 0)).collect();
            let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
            let mut targets: BTreeMap<String, (&'static str, u64)> = BTreeMap::new();
            let (mut ii, mut iw, mut ei, mut ew) = (0, 0, 0, 0);
            let listening = listening(samples);
            for f in samples {
                let (group, kind) = classify(f);
                *groups.entry(group).or_default() += 1;
                *kinds.entry(kind).or_default() += 1;
                targets.entry(target_key(f, &listening)).or_insert((group, 0)).1 += 1;
                if f.target.is_inotify() {
                    ii += 1;
                    iw += f.fdinfo.as_ref().map(|i| i.inotify.len() as u64).unwrap_or(0);
                }
                if f.target.is_epoll() {
                    ei += 1;
                    ew += f.fdinfo.as_ref().map(|i| i.epoll.len() as u64).unwrap_or(0);
                }
            }
            let total = samples.len() as u64;
            let mut top: Vec<TargetCount> = targets
                .into_iter()
                .map(|(target, (group, count))| TargetCount {
                    leak_suspect: leak_suspect(group, &target, count, total),
                    target,
                    group,
                    count,
                })
                .collect();
            top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.target.cmp(&b.target)));
            top.truncate(TOP_TARGETS);
            r.groups = Some(groups);
            r.kinds = Some(kinds);
            r.inotify_instances = Some(ii);
            r.inotify_watches = Some(iw);
            r.epoll_instances = Some(ei);
            r.epoll_watches = Some(ew);
            r.top_targets = top;
        }
    }
    r
}

/// The systemd service (`name.service`) of a process, from the last such
/// component of its cgroup path (v2, or v1 `name=systemd`).
pub fn systemd_unit(c: &memscope_kernel::parse::pid::cgroup::ProcCgroup) -> Option<String> {
    let path = c.v2_path().filter(|p| *p != "/").or_else(|| c.v1_path("name=systemd"))?;
    path.rsplit('/').find(|comp| comp.ends_with(".service")).map(str::to_string)
}

fn user_use(snap: &FdSnapshot) -> Vec<UserUse> {
    let mut users: BTreeMap<u32, UserUse> = BTreeMap::new();
    let mut incomplete: BTreeSet<u32> = BTreeSet::new();
    let any_breakdown = snap.processes.iter().any(|p| p.fd_samples().is_some());
    if !any_breakdown {
        return Vec::new();
    }
    for p in &snap.processes {
        let Some(samples) = p.fd_samples() else {
            incomplete.extend(p.euid());
            incomplete.extend(p.ruid());
            continue;
        };
        let mut pu = UserProcessUse { pid: p.pid, comm: p.comm.clone(), ..Default::default() };
        let mut epoll_instances = 0;
        for f in samples {
            if f.target.is_inotify() {
                pu.inotify_instances += 1;
                pu.inotify_watches += f.fdinfo.as_ref().map(|i| i.inotify.len() as u64).unwrap_or(0);
            }
            if f.target.is_epoll() {
                epoll_instances += 1;
                pu.epoll_watches += f.fdinfo.as_ref().map(|i| i.epoll.len() as u64).unwrap_or(0);
            }
        }
        if pu.inotify_instances == 0 && epoll_instances == 0 {
            continue;
        }
        if let Some(e) = p.euid() {
            let u = users.entry(e).or_insert_with(|| UserUse { uid: e, ..Default::default() });
            u.inotify_instances += pu.inotify_instances;
            u.inotify_watches += pu.inotify_watches;
        }
        if let Some(r) = p.ruid() {
            let u = users.entry(r).or_insert_with(|| UserUse { uid: r, ..Default::default() });
            u.epoll_instances += epoll_instances;
            u.epoll_watches += pu.epoll_watches;
        }
        for uid in p.euid().into_iter().chain(p.ruid()) {
            if let Some(u) = users.get_mut(&uid)
                && !u.top_processes.iter().any(|x| x.pid == p.pid)
            {
                u.top_processes.push(pu.clone());
            }
        }
    }
    let mut out: Vec<UserUse> = users.into_values().collect();
    for u in &mut out {
        u.complete = !incomplete.contains(&u.uid);
        u.top_processes.sort_by(|a, b| {
            (b.inotify_instances, b.inotify_watches, b.epoll_watches)
                .cmp(&(a.inotify_instances, a.inotify_watches, a.epoll_watches))
                .then(a.pid.cmp(&b.pid))
        });
        u.top_processes.truncate(5);
    }
    out
}

fn sample_reason<T>(s: &Result<T, ReadError>) -> Option<String> {
    s.as_ref().err().map(unavailable_reason)
}

fn limit_rows(snap: &FdSnapshot, users: &[UserUse], rows: &[FdRow]) -> Vec<LimitRow> {
    let sys = &snap.system;
    let mut out = Vec::new();

    let file_nr = sys.file_nr.as_ref().ok();
    let mut r = LimitRow::new(
        "file_max",
        "open files, system (ENFILE)".into(),
        file_nr.map(|f| f.in_use()),
        file_nr.map(|f| f.max),
    );
    r.counter = "/proc/sys/fs/file-nr: allocated − free, against fs.file-max".into();
    if let Some(reason) = sample_reason(&sys.file_nr) {
        r.source = Source::Unavailable;
        r.reason = Some(reason);
    }
    out.push(r);

    // The highest hard limit any process has: fs.nr_open caps it.
    let highest_hard = rows
        .iter()
        .filter_map(|r| r.hard_limit.and_then(Limit::value).map(|h| (h, r.pid)))
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let nr_open = sys.nr_open.as_ref().ok().copied();
    let mut r = LimitRow::new(
        "nr_open",
        "highest hard RLIMIT_NOFILE vs fs.nr_open".into(),
        highest_hard.map(|h| h.0),
        nr_open,
    );
    r.source = Source::Derived;
    r.counter = match highest_hard {
        Some((_, pid)) => format!("/proc/{pid}/limits against /proc/sys/fs/nr_open"),
        None => "/proc/PID/limits against /proc/sys/fs/nr_open".into(),
    };
    if let Some(reason) = sample_reason(&sys.nr_open) {
        r.source = Source::Unavailable;
        r.reason = Some(reason);
    }
    out.push(r);

    // Use is known (possibly as a lower bound, for processes that could not be
    // read) only when the breakdown was asked for every process.
    let counted =
        !snap.processes.is_empty() && snap.processes.iter().all(|p| !matches!(p.fds, FdList::NotRequested));
    for l in PER_USER_LIMITS {
        let sample = (l.limit)(sys);
        let limit = sample.as_ref().ok().copied();
        let mut using: Vec<&UserUse> = users.iter().filter(|u| (l.used)(u) > 0).collect();
        using.sort_by(|a, b| (l.used)(b).cmp(&(l.used)(a)).then(a.uid.cmp(&b.uid)));
        for u in &using {
            let mut r = LimitRow::new(l.key, format!("{}, uid {}", l.label, u.uid), Some((l.used)(u)), limit);
            r.uid = Some(u.uid);
            r.source = Source::Derived;
            r.lower_bound = !u.complete;
            r.counter = format!("{}, against {}", l.counted_from, l.sysctl);
            r.reason = sample_reason(sample);
            out.push(r);
        }
        if using.is_empty() {
            let used = counted.then_some(0);
            let mut r = LimitRow::new(l.key, format!("{}, per user", l.label), used, limit);
            r.source = if counted { Source::Derived } else { Source::Unavailable };
            r.counter = format!("{}, against {}", l.counted_from, l.sysctl);
            r.lower_bound = counted && snap.processes.iter().any(|p| p.fd_samples().is_none());
            r.reason = sample_reason(sample).or_else(|| {
                (!counted).then(|| {
                    "not counted: the per-descriptor scan, which reads the fdinfo of every inotify and \
                     epoll instance, did not cover every process"
                        .to_string()
                })
            });
            out.push(r);
        }
    }
    out
}

/// A per-user limit whose use is counted from fdinfo.
pub struct PerUserLimit {
    /// Stable key ([`LimitRow::key`]).
    pub key: &'static str,
    /// Label for tables.
    pub label: &'static str,
    /// The sysctl.
    pub sysctl: &'static str,
    /// Where the use is counted from.
    pub counted_from: &'static str,
    /// The call that fails, and its errno, when the limit is reached.
    pub fails: (&'static str, &'static str),
    /// The limit's sample.
    pub limit: fn(&FdSystem) -> &Result<u64, ReadError>,
    /// A user's use.
    pub used: fn(&UserUse) -> u64,
    /// A process row's share.
    pub process_used: fn(&FdRow) -> Option<u64>,
}

/// The per-user limits, in table order.
pub const PER_USER_LIMITS: &[PerUserLimit] = &[
    PerUserLimit {
        key: "inotify_instances",
        label: "inotify instances",
        sysctl: "fs.inotify.max_user_instances",
        counted_from: "inotify descriptors in /proc/PID/fd",
        fails: ("inotify_init1()", "EMFILE"),
        limit: |s| &s.inotify_max_user_instances,
        used: |u| u.inotify_instances,
        process_used: |r| r.inotify_instances,
    },
    PerUserLimit {
        key: "inotify_watches",
        label: "inotify watches",
        sysctl: "fs.inotify.max_user_watches",
        counted_from: "`inotify wd:` lines of /proc/PID/fdinfo",
        fails: ("inotify_add_watch()", "ENOSPC"),
        limit: |s| &s.inotify_max_user_watches,
        used: |u| u.inotify_watches,
        process_used: |r| r.inotify_watches,
    },
    PerUserLimit {
        key: "epoll_watches",
        label: "epoll watches",
        sysctl: "fs.epoll.max_user_watches",
        counted_from: "`tfd:` lines of /proc/PID/fdinfo",
        fails: ("epoll_ctl(EPOLL_CTL_ADD)", "ENOSPC"),
        limit: |s| &s.epoll_max_user_watches,
        used: |u| u.epoll_watches,
        process_used: |r| r.epoll_watches,
    },
];

fn totals(snap: &FdSnapshot, rows: &[FdRow]) -> FdTotals {
    let s = &snap.scan;
    FdTotals {
        processes: rows.len(),
        with_count: rows.iter().filter(|r| r.fds.is_some()).count(),
        fds: rows.iter().filter_map(|r| r.fds).fold(0, u64::saturating_add),
        broken_down: rows.iter().filter(|r| r.groups.is_some()).count(),
        count_unavailable: s.count_unavailable,
        breakdown_denied: s.breakdown_denied,
        breakdown_failed: s.breakdown_failed,
        gone: s.gone,
        no_files: s.no_files,
        sockets_unresolved: rows
            .iter()
            .filter_map(|r| r.kinds.as_ref().and_then(|k| k.get("socket:unknown")).copied())
            .fold(0, |a, b| a.saturating_add(b)),
        elapsed_usec: s.elapsed_usec,
    }
}

fn notes(snap: &FdSnapshot, t: &FdTotals, rows: &[FdRow], users: &[UserUse]) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(f) = &snap.system.file_nr {
        out.push(format!(
            "file-nr counts open files, not descriptors: the {} descriptors of {} share files across fork \
             and dup, and the kernel holds files of its own, so the two differ ({} open files). Processes \
             with CAP_SYS_ADMIN are exempt from fs.file-max.",
            t.fds,
            plural(t.with_count, "process", "processes"),
            f.in_use()
        ));
    }
    let reader = snap.reader_uids.map(|u| u[1]);
    if t.count_unavailable > 0 || t.breakdown_denied > 0 {
        // Said once: the same permission keeps every such process's directory closed.
        let why = rows
            .iter()
            .find_map(|r| r.unavailable.as_ref().or(r.breakdown_unavailable.as_ref()))
            .map(|w| generalize_proc_path(w))
            .unwrap_or_else(|| "/proc/PID/fd is readable by root or the process's owner".into());
        let whose = match reader {
            Some(0) | None => "",
            Some(_) => " of other users",
        };
        let counted = t.breakdown_denied.saturating_sub(t.count_unavailable);
        let counts = if t.count_unavailable == 0 {
            "their counts come from the size the kernel reports for /proc/PID/fd (Linux 6.2 and later)"
                .to_string()
        } else if counted > 0 {
            format!(
                "{counted} of them are counted from the size the kernel reports for /proc/PID/fd (Linux \
                 6.2 and later), the other {} not at all",
                t.count_unavailable
            )
        } else if snap.live {
            "their counts are unavailable too (the size of /proc/PID/fd counts them from Linux 6.2)"
                .to_string()
        } else {
            "their counts are unavailable too (a captured tree keeps no listing of them)".to_string()
        };
        out.push(format!(
            "Descriptors of {}{whose} cannot be listed: {why}. {}; their users' inotify and epoll use is \
             a lower bound.",
            plural(t.breakdown_denied.max(t.count_unavailable), "process", "processes"),
            capitalize(&counts)
        ));
    }
    if t.breakdown_failed > 0 {
        out.push(format!("Breakdown failed for {}.", plural(t.breakdown_failed, "process", "processes")));
    }
    if t.gone > 0 {
        out.push(format!(
            "{} exited during the scan and {} left out.",
            plural(t.gone, "process", "processes"),
            if t.gone == 1 { "is" } else { "are" }
        ));
    }
    if snap.scan.fds_closed > 0 {
        out.push(format!(
            "{} closed during the scan {} left out.",
            plural(snap.scan.fds_closed, "descriptor", "descriptors"),
            if snap.scan.fds_closed == 1 { "is" } else { "are" }
        ));
    }
    if t.sockets_unresolved > 0 {
        out.push(format!(
            "{} sockets are in none of the /proc/net tables read (families without a table there, such \
             as vsock or AF_ALG, or sockets closed during the scan).",
            t.sockets_unresolved
        ));
    }
    if !users.is_empty() {
        out.push(
            "inotify and epoll use is counted per descriptor from fdinfo: an instance shared by fork or \
             dup counts once per descriptor holding it."
                .into(),
        );
    }
    if !snap.live && rows.iter().any(|r| r.groups.is_some()) {
        out.push(
            "A captured tree's descriptor paths are not stat'ed (they name files of the machine it came \
             from): directories count as files, and paths under /dev as devices."
                .into(),
        );
    }
    out
}

/// The plain-language explanation of one process.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    /// The process's row.
    pub process: FdRow,
    /// `EMFILE`: this process against its own limit.
    pub emfile: String,
    /// `ENFILE`: the system against `fs.file-max`.
    pub enfile: String,
    /// inotify and epoll limits of its users, when they matter.
    pub watches: Vec<String>,
    /// Leak signatures among its targets.
    pub leaks: Vec<String>,
    /// What to do, most useful first.
    pub fixes: Vec<String>,
}

/// Explain `pid` from a report built with every process ([`FdReportOptions`]
/// `top: usize::MAX`) and the snapshot it came from. `None` when the process
/// is not in it.
pub fn diagnose(report: &FdReport, snap: &FdSnapshot, pid: u32) -> Option<Diagnosis> {
    let p = snap.processes.iter().find(|p| p.pid == pid)?;
    let r = report.processes.iter().find(|r| r.pid == pid).cloned().unwrap_or_else(|| row(p));
    let soft = r.soft_limit.and_then(Limit::value);
    let hard = r.hard_limit.and_then(Limit::value);
    let nr_open = snap.system.nr_open.as_ref().ok().copied();

    let emfile = match (r.fds, soft) {
        (Some(n), Some(s)) => {
            let left = s.saturating_sub(n);
            let state = if n >= s {
                "It is at its limit now: every open, socket, accept, pipe, dup, eventfd or epoll_create fails \
                 with EMFILE until it closes descriptors."
                    .to_string()
            } else {
                format!(
                    "{left} more opens (open, socket, accept, pipe, dup, eventfd, epoll_create …) succeed; \
                     the next one fails with EMFILE."
                )
            };
            format!(
                "EMFILE (\"Too many open files\") is this process's own limit: it holds {n} descriptors and \
                 its soft RLIMIT_NOFILE is {s} ({}, {}). {state}",
                pct(n, s),
                r.verdict.name()
            )
        }
        (Some(n), None) if r.soft_limit == Some(Limit::Unlimited) => format!(
            "EMFILE (\"Too many open files\"): it holds {n} descriptors and its soft RLIMIT_NOFILE reads \
             unlimited, so only fs.nr_open{} bounds it.",
            nr_open.map(|v| format!(" ({v})")).unwrap_or_default()
        ),
        _ => format!(
            "EMFILE (\"Too many open files\") is this process's own limit, but its descriptor count or \
             limit is unavailable: {}.",
            r.unavailable.clone().unwrap_or_else(|| "unknown".into())
        ),
    };

    let enfile = match snap.system.file_nr.as_ref() {
        Ok(f) => {
            let v = Verdict::of(Some(f.in_use()), Some(f.max));
            let tail = match v {
                Verdict::Ok => "Not the problem here.",
                Verdict::Warning => "Getting close: find who holds them (the processes above).",
                _ => {
                    "This is the problem: every process without CAP_SYS_ADMIN fails to open files. Find who \
                     holds them (the processes above) or raise fs.file-max."
                }
            };
            format!(
                "ENFILE (\"Too many open files in system\") is the whole system's limit: {} open files of \
                 fs.file-max {} ({}). {tail}",
                f.in_use(),
                f.max,
                pct(f.in_use(), f.max)
            )
        }
        Err(e) => format!(
            "ENFILE (\"Too many open files in system\"): file-nr unavailable: {}.",
            unavailable_reason(e)
        ),
    };

    let mut watches = Vec::new();
    for l in &report.limits {
        let Some(def) = PER_USER_LIMITS.iter().find(|d| d.key == l.key) else { continue };
        // inotify is charged to the effective uid, epoll to the real uid.
        let uid = if l.key == "epoll_watches" { p.ruid() } else { p.euid() };
        if l.uid.is_none() || l.uid != uid {
            continue;
        }
        let (Some(used), Some(limit)) = (l.used, l.limit) else { continue };
        let mine = (def.process_used)(&r).unwrap_or(0);
        if mine == 0 && l.verdict < Verdict::Warning {
            continue;
        }
        let (call, errno) = def.fails;
        watches.push(format!(
            "{} of uid {}: {}{used} of {limit} ({}, {}), {mine} of them in this process. When the limit is \
             reached, {call} fails with {errno}{}.",
            def.label,
            l.uid.unwrap_or(0),
            if l.lower_bound { "at least " } else { "" },
            pct(used, limit),
            l.verdict.name(),
            if errno == "EMFILE" {
                " (\"Too many open files\") although the descriptor limit is not reached"
            } else {
                ""
            }
        ));
    }

    let mut leaks = Vec::new();
    for t in r.top_targets.iter().filter(|t| t.leak_suspect) {
        let what = if t.target.ends_with("CLOSE_WAIT") {
            format!(
                "{} sockets are `{}`: the peer closed these connections and this process never called \
                 close() on them.",
                t.count, t.target
            )
        } else if t.group == "socket" {
            format!(
                "{} sockets are `{}`: so many connections to one peer are a leak signature, unless they \
                 are a pool sized that way.",
                t.count, t.target
            )
        } else {
            format!(
                "`{}` is open {} times: the same file opened again and again without close() is a leak \
                 signature.",
                t.target, t.count
            )
        };
        leaks.push(what);
    }

    let mut fixes = Vec::new();
    if !leaks.is_empty() {
        fixes.push(
            "Close the leak first: raising the limit only postpones the failure. Find the code path that \
             opens the target above and make sure every open has its close (error paths included)."
                .to_string(),
        );
    }
    let pressing = r.verdict >= Verdict::Warning;
    if let (Some(n), Some(s), true) = (r.fds, soft, pressing) {
        let want = (n.max(s) * 2).next_power_of_two().max(4096);
        let want = nr_open.map(|o| want.min(o)).unwrap_or(want);
        match hard {
            Some(h) if h > s => {
                let new = want.min(h);
                fixes.push(format!(
                    "Raise the soft limit of the running process up to its hard limit {h}, no privilege \
                     needed: `prlimit --pid {pid} --nofile={new}:{h}`."
                ));
            }
            _ => fixes.push(format!(
                "Its soft limit equals its hard limit{}: raising them needs root (CAP_SYS_RESOURCE): \
                 `prlimit --pid {pid} --nofile={want}:{want}`{}.",
                hard.map(|h| format!(" ({h})")).unwrap_or_default(),
                nr_open
                    .map(|o| format!(
                        " (at most fs.nr_open = {o}; raise that with `sysctl -w fs.nr_open=N` first)"
                    ))
                    .unwrap_or_default()
            )),
        }
        match &r.unit {
            Some(u) => fixes.push(format!(
                "It runs in {u}: make it permanent with `systemctl edit {u}`, adding `[Service]` and \
                 `LimitNOFILE={want}`, then `systemctl restart {u}`."
            )),
            None => fixes.push(format!(
                "If it is a systemd service, set `LimitNOFILE={want}` in its unit's [Service] section \
                 (`systemctl edit UNIT`); started from a shell, run `ulimit -n {want}` before starting it \
                 (or in its start script)."
            )),
        }
        if want > 1024 {
            fixes.push(
                "Programs that use select() cannot handle descriptors above 1023 (FD_SETSIZE): that is why \
                 soft limits default to 1024. Raise it only for programs that use poll, epoll or io_uring."
                    .into(),
            );
        }
    }
    if let Ok(f) = &snap.system.file_nr
        && Verdict::of(Some(f.in_use()), Some(f.max)) >= Verdict::Warning
    {
        fixes.push(format!(
            "Raise the system limit: `sysctl -w fs.file-max={}` (persist it in /etc/sysctl.d/).",
            (f.max * 2).max(f.in_use() * 2)
        ));
    }
    if watches.iter().any(|w| w.starts_with("inotify")) {
        fixes.push(
            "For inotify: `sysctl -w fs.inotify.max_user_instances=N` or `fs.inotify.max_user_watches=N` \
             (persist in /etc/sysctl.d/), or make the programs of this user watch fewer files."
                .into(),
        );
    }
    if fixes.is_empty() {
        fixes.push(format!(
            "Nothing to fix now: this process is far from its descriptor limit, the system from \
             fs.file-max, and its users from the inotify and epoll limits. If it failed with \
             \"Too many open files\" before, the cause was a burst or a leak it has since closed: run \
             `memscope fds --pid {pid}` again while it fails."
        ));
    }
    Some(Diagnosis { process: r, emfile, enfile, watches, leaks, fixes })
}

/// `/proc/4242/fd/7 is readable by …` → `/proc/PID/fd is readable by …`:
/// one reason for every process it applies to.
pub fn generalize_proc_path(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut rest = reason;
    while let Some(i) = rest.find("/proc/") {
        out.push_str(&rest[..i + 6]);
        rest = &rest[i + 6..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            continue;
        }
        out.push_str("PID");
        rest = &rest[digits..];
        if let Some(after) = rest.strip_prefix("/fd/") {
            let n = after.bytes().take_while(u8::is_ascii_digit).count();
            if n > 0 {
                out.push_str("/fd");
                rest = &after[n..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn pct(n: u64, d: u64) -> String {
    if d == 0 { "?".into() } else { format!("{:.1}%", n as f64 * 100.0 / d as f64) }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert!(
            notes[0].starts_with("Descriptors of 2 processes of other users cannot be listed: /proc/PID/fd")
        );
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
        p.cgroup = Some(Ok(ProcCgroup::parse("0::/system.slice/app.service\n")));
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
            d.fixes
                .iter()
                .any(|f| f.contains("systemctl edit app.service") && f.contains("LimitNOFILE=4096"))
        );
    }

    #[test]
    fn diagnosis_when_the_system_is_out_of_files() {
        let snap = snapshot((100_000, 100_000), vec![process(70, [33; 4], 1024, 1024, files(4, "/x"))]);
        let r = build(&snap, &FdReportOptions { top: usize::MAX });
        let d = diagnose(&r, &snap, 70).unwrap();
        assert!(
            d.enfile.contains("Too many open files in system") && d.enfile.contains("This is the problem")
        );
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
        assert_eq!(
            generalize_proc_path("/proc/1/fd/0 is readable by root"),
            "/proc/PID/fd is readable by root"
        );
        assert_eq!(
            generalize_proc_path("/proc/4242/fd: permission denied"),
            "/proc/PID/fd: permission denied"
        );
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
}
