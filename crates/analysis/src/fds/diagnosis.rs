//! The plain-language explanation of one process ([`diagnose`]).

use memscope_kernel::parse::pid::limits::Limit;
use memscope_model::fds::FdSnapshot;
use serde::Serialize;

use crate::hints::unavailable_reason;

use super::*;

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
