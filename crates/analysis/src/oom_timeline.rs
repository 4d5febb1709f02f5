//! OOM kills beside the history: what `record` keeps of each kill, what
//! `leaks` and `diff` say of the kills of their window, and the kill
//! `run` saw in its cgroup.
//!
//! ```text
//!  OomLog ──events──▶ [OomEvent] ──store──▶ OomTimeline ──marks──▶ leaks / diff
//!  OomLog ──run_kill(cgroup, since)──▶ RunOom (the kill of `memscope run`)
//! ```

use memscope_kernel::parse::oom::OomLog;
use memscope_model::oom::{OomEvent, OomTimeline};
use serde::Serialize;

use crate::fmt_bytes;
use crate::oom::{Kill, explain, fmt_unix_utc};

/// The kills of a log as `record` keeps them: one event per process killed
/// (a `memory.oom.group` kill names several), for reports whose victim
/// line is in the log with a stamp. A report still being printed when the
/// log was read has no victim line yet: the next read keeps it.
/// `fallback_unix_ms` dates a kill when the boot time is unknown.
pub fn events(
    log: &OomLog,
    boot_id: &str,
    boot_time_seconds: Option<u64>,
    host_page_size: Option<u64>,
    fallback_unix_ms: u64,
) -> Vec<OomEvent> {
    let mut out = Vec::new();
    for (i, r) in log.reports.iter().enumerate() {
        let Some(v) = &r.victim else { continue };
        let Some(usec) = v.stamp.since_boot_usec else { continue };
        let k = explain(i + 1, r, boot_time_seconds, host_page_size);
        let at_unix_ms = boot_time_seconds
            .map(|b| b.saturating_mul(1000).saturating_add(usec / 1000))
            .unwrap_or(fallback_unix_ms);
        let answer = k.summary.iter().take(2).cloned().collect::<Vec<_>>().join(" ");
        let limit_bytes = k
            .limit_hit
            .as_ref()
            .and_then(|c| c.limit_bytes)
            .or_else(|| k.counters.iter().find(|c| c.name == "memory").and_then(|c| c.limit_bytes));
        let constraint = k.scope.constraint.clone().or_else(|| Some(k.scope.kind.clone()));
        for (j, victim) in std::iter::once(v).chain(r.group_killed.iter()).enumerate() {
            let uid = if j == 0 { k.victim.as_ref().and_then(|x| x.uid) } else { victim.uid };
            out.push(OomEvent {
                boot_id: boot_id.to_string(),
                since_boot_usec: victim.stamp.since_boot_usec.unwrap_or(usec),
                at_unix_ms,
                pid: victim.pid,
                comm: victim.name.clone(),
                uid,
                constraint: constraint.clone(),
                cgroup: k.scope.cgroup.clone(),
                task_cgroup: k.scope.task_cgroup.clone(),
                limit_bytes,
                anon_rss_bytes: victim.anon_rss_bytes,
                file_rss_bytes: victim.file_rss_bytes,
                shmem_rss_bytes: victim.shmem_rss_bytes,
                answer: answer.clone(),
            });
        }
    }
    out
}

/// `OOM kill at T: comm (pid N) in /cgroup` (or `, a global OOM`).
pub fn headline(e: &OomEvent) -> String {
    let place = match (e.where_cgroup(), e.constraint.as_deref()) {
        (_, Some("CONSTRAINT_NONE" | "global")) => " (the whole machine ran out)".to_string(),
        (Some(cg), _) => format!(" in {cg}"),
        (None, _) => String::new(),
    };
    let size = e.rss_bytes().map(|b| format!(", resident {}", fmt_bytes(b as i64))).unwrap_or_default();
    let limit = e.limit_bytes.map(|l| format!(", limit {}", fmt_bytes(l as i64))).unwrap_or_default();
    format!(
        "OOM kill at {}: {} (pid {}){place}{size}{limit}",
        fmt_unix_utc(e.at_unix_ms / 1000),
        e.comm,
        e.pid
    )
}

/// The lines a history view prints about the kills of its window: one per
/// kill, one per rise of a cgroup's count the log does not explain, and
/// why the log was not read.
pub fn timeline_lines(t: &OomTimeline) -> Vec<String> {
    let mut out: Vec<String> = t.kills.iter().map(headline).collect();
    let explained = |cg: &str, from: u64, to: u64| {
        t.kills.iter().any(|k| {
            k.at_unix_ms + 2000 >= from
                && k.at_unix_ms <= to + 2000
                && [k.cgroup.as_deref(), k.task_cgroup.as_deref()]
                    .into_iter()
                    .flatten()
                    .any(|c| c == cg || c.starts_with(&format!("{}/", cg.trim_end_matches('/'))))
        })
    };
    for r in &t.count_rises {
        if explained(&r.cgroup, r.from_unix_ms, r.to_unix_ms) {
            continue;
        }
        out.push(format!(
            "OOM kill{} between {} and {} in {}: {} more in its memory.events/oom_control count{}",
            if r.kills == 1 { "" } else { "s" },
            fmt_unix_utc(r.from_unix_ms / 1000),
            fmt_unix_utc(r.to_unix_ms / 1000),
            r.cgroup,
            r.kills,
            if t.log_unavailable.is_some() { " (the kernel log was not readable)" } else { "" }
        ));
    }
    out
}

/// True when the kill struck a process of a command line (`cmdline`, as
/// `leaks` keys processes) or one of `pids`: the victim's name is the
/// first 15 bytes of the program's file name (TASK_COMM_LEN).
pub fn kills_command(e: &OomEvent, cmdline: &str, pids: &[u32]) -> bool {
    if pids.contains(&e.pid) {
        return true;
    }
    let prog = cmdline.split(' ').next().unwrap_or("");
    let base = prog.rsplit('/').next().unwrap_or(prog);
    let comm: String = base.chars().take(15).collect();
    !comm.is_empty() && comm == e.comm
}

/// True when the kill was in cgroup `path` (the limit hit there, or the
/// victim in it or below it).
pub fn kills_in_cgroup(e: &OomEvent, path: &str) -> bool {
    let under =
        |c: &str| c == path || (path == "/" && c.starts_with('/')) || c.starts_with(&format!("{path}/"));
    e.cgroup.as_deref().is_some_and(under) || e.task_cgroup.as_deref().is_some_and(under)
}

/// What `memscope run` says of an OOM kill in its cgroup.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunOom {
    /// The latest kill the kernel reported for the cgroup during the run.
    pub kill: Option<Kill>,
    /// Kills of the cgroup found in the log during the run.
    pub kills_in_log: usize,
    /// The cgroup's peak charge (for the comparison with the limit).
    pub peak_bytes: Option<u64>,
    /// The one-line answer, then the limit against the peak.
    pub lines: Vec<String>,
    /// Why no report is shown, when none is.
    pub reason: Option<String>,
}

/// The kernel's report of the kill in `cgroup` (the path the kernel prints,
/// `/memscope.slice/run-1`) printed since `since_boot_usec`: the latest one
/// whose limit was hit in the cgroup or below, or whose victim is `pid` or
/// was in it.
pub fn run_kill(
    log: &OomLog,
    cgroup: &str,
    pid: u32,
    since_boot_usec: u64,
    boot_time_seconds: Option<u64>,
    host_page_size: Option<u64>,
    peak_bytes: Option<u64>,
) -> RunOom {
    // A path below a cgroup namespace's root ends with the path seen here.
    let under = |c: &str| c == cgroup || c.starts_with(&format!("{cgroup}/")) || c.ends_with(cgroup);
    let mine: Vec<Kill> = log
        .reports
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            let at = r.victim.as_ref().and_then(|v| v.stamp.since_boot_usec).or(r.stamp.since_boot_usec);
            at.is_some_and(|t| t >= since_boot_usec)
        })
        .map(|(i, r)| explain(i + 1, r, boot_time_seconds, host_page_size))
        .filter(|k| {
            k.scope.cgroup.as_deref().is_some_and(under)
                || k.scope.task_cgroup.as_deref().is_some_and(under)
                || k.victim.as_ref().is_some_and(|v| v.pid == pid)
        })
        .collect();
    let kills_in_log = mine.len();
    let Some(kill) = mine.into_iter().last() else {
        return RunOom {
            peak_bytes,
            reason: Some(format!(
                "the kernel log holds no OOM report for {cgroup} since the command started (the ring may have wrapped)"
            )),
            ..RunOom::default()
        };
    };
    let mut lines = vec![kill.summary.iter().take(2).cloned().collect::<Vec<_>>().join(" ")];
    let limit = kill.limit_hit.as_ref().and_then(|c| c.limit_bytes);
    match (limit, peak_bytes) {
        (Some(l), Some(p)) => lines.push(format!(
            "Limit {} against a peak of {}{}.",
            fmt_bytes(l as i64),
            fmt_bytes(p as i64),
            kill.victim
                .as_ref()
                .and_then(|v| v.rss_bytes)
                .map(|r| format!("; the victim held {} when killed", fmt_bytes(r as i64)))
                .unwrap_or_default()
        )),
        (Some(l), None) => lines.push(format!("Limit {} (the peak is unavailable).", fmt_bytes(l as i64))),
        _ => {}
    }
    if let Some(p) = kill.prevention.first() {
        lines.push(p.clone());
    }
    RunOom { kill: Some(kill), kills_in_log, peak_bytes, lines, reason: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memscope_kernel::parse::oom::parse_log;

    fn fixture(name: &str) -> String {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name);
        std::fs::read_to_string(dir.join("log")).unwrap()
    }

    #[test]
    fn events_of_a_v2_memcg_kill_keep_victim_cgroup_limit_and_answer() {
        let log = parse_log(&fixture("oom-5.10-memcg-v2-kmsg"));
        let ev = events(&log, "boot-a", Some(1_700_000_000), None, 0);
        assert!(!ev.is_empty());
        let e = &ev[0];
        assert_eq!(e.boot_id, "boot-a");
        assert_eq!(e.constraint.as_deref(), Some("CONSTRAINT_MEMCG"));
        assert!(e.cgroup.is_some(), "{e:?}");
        assert!(e.limit_bytes.is_some(), "{e:?}");
        assert!(e.anon_rss_bytes.is_some(), "{e:?}");
        assert_eq!(e.at_unix_ms, 1_700_000_000_000 + e.since_boot_usec / 1000);
        assert!(e.answer.contains(&format!("(pid {})", e.pid)), "{}", e.answer);
        assert!(headline(e).starts_with("OOM kill at "), "{}", headline(e));
    }

    #[test]
    fn an_oom_group_kill_is_one_event_per_process() {
        let log = parse_log(&fixture("oom-6.6-memcg-oom-group"));
        let ev = events(&log, "b", None, None, 5);
        let r = &log.reports[0];
        assert_eq!(ev.len(), 1 + r.group_killed.len());
        assert!(ev.iter().all(|e| e.at_unix_ms == 5));
        let mut keys: Vec<_> = ev.iter().map(|e| e.key()).collect();
        keys.dedup();
        assert_eq!(keys.len(), ev.len(), "each process its own key");
    }

    #[test]
    fn matching_by_command_and_cgroup() {
        let e = OomEvent {
            boot_id: "b".into(),
            since_boot_usec: 1,
            at_unix_ms: 0,
            pid: 42,
            comm: "memscope-worklo".into(),
            uid: None,
            constraint: Some("CONSTRAINT_MEMCG".into()),
            cgroup: Some("/a".into()),
            task_cgroup: Some("/a/b".into()),
            limit_bytes: None,
            anon_rss_bytes: None,
            file_rss_bytes: None,
            shmem_rss_bytes: None,
            answer: String::new(),
        };
        assert!(kills_command(&e, "/usr/bin/memscope-workload alloc --mib 200", &[]));
        assert!(kills_command(&e, "other", &[42]));
        assert!(!kills_command(&e, "memscope", &[7]));
        assert!(kills_in_cgroup(&e, "/a"));
        assert!(kills_in_cgroup(&e, "/a/b"));
        assert!(!kills_in_cgroup(&e, "/ab"));
    }
}
