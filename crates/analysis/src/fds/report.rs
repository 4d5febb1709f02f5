//! The report: limit rows and verdicts, per-user watches, per-process rows
//! and notes.

use std::collections::{BTreeMap, BTreeSet};

use memscope_kernel::ReadError;
use memscope_kernel::parse::pid::limits::Limit;
use memscope_model::fds::{FdList, FdProcess, FdSnapshot, FdSystem, closest_first};
use serde::Serialize;

use crate::hints::unavailable_reason;
use crate::ledger::Source;

use super::*;

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

pub(super) fn row(p: &FdProcess) -> FdRow {
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
        unit: p.cgroup.as_ref().and_then(|c| c.as_deref().ok()).and_then(systemd_unit),
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

pub(super) fn pct(n: u64, d: u64) -> String {
    if d == 0 { "?".into() } else { format!("{:.1}%", n as f64 * 100.0 / d as f64) }
}
