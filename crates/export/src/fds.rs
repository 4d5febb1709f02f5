//! `memscope fds` output: table, JSON (`memscope.fds/1`), CSV, and the
//! plain-language diagnosis of `--pid`.
//!
//! JSON, documented in docs/json.md:
//! ```text
//! { schema, kernel, taken_at, taken_at_unix_ms,
//!   system: {file_nr_allocated, file_nr_free, file_max, nr_open, inotify_max_user_instances,
//!            inotify_max_user_watches, epoll_max_user_watches},
//!   limits: [{key, uid?, label, used, limit, headroom, ratio, verdict, source, counter, lower_bound?, reason?}],
//!   users: [{uid, inotify_instances, inotify_watches, epoll_instances, epoll_watches, complete, top_processes}],
//!   processes: [{pid, comm, uid, fds, soft_limit, hard_limit, ratio, verdict, groups, kinds, …, top_targets}],
//!   hidden_processes, totals: {…}, notes: [..], diagnosis?: {…} }
//! ```

use std::io::{self, Write};

use crate::table::{Cell, Color};
use memscope_analysis::fds::{Diagnosis, FdReport, FdRow, GROUPS, LimitRow, Verdict, generalize_proc_path};
use memscope_analysis::ledger::Source;
use memscope_kernel::parse::pid::limits::Limit;
use memscope_model::fds::FdSnapshot;
use serde::Serialize;

use crate::style::{self, Style, timestamp, wrap};

/// The JSON schema name of `memscope fds`.
pub const FDS_SCHEMA: &str = "memscope.fds/1";

#[derive(Serialize)]
struct SystemJson {
    file_nr_allocated: Option<u64>,
    file_nr_free: Option<u64>,
    file_max: Option<u64>,
    nr_open: Option<u64>,
    inotify_max_user_instances: Option<u64>,
    inotify_max_user_watches: Option<u64>,
    epoll_max_user_watches: Option<u64>,
}

#[derive(Serialize)]
struct FdsJson<'a> {
    schema: &'static str,
    kernel: Option<&'a str>,
    taken_at: String,
    taken_at_unix_ms: u64,
    system: SystemJson,
    limits: &'a [LimitRow],
    users: &'a [memscope_analysis::fds::UserUse],
    processes: &'a [FdRow],
    hidden_processes: usize,
    totals: &'a memscope_analysis::fds::FdTotals,
    notes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    diagnosis: Option<&'a Diagnosis>,
}

/// Write the report (and the diagnosis, for `--pid`) as one JSON document.
pub fn write_json(
    w: &mut dyn Write,
    r: &FdReport,
    snap: &FdSnapshot,
    d: Option<&Diagnosis>,
) -> io::Result<()> {
    let s = &snap.system;
    let file_nr = s.file_nr.as_ref().ok();
    let doc = FdsJson {
        schema: FDS_SCHEMA,
        kernel: r.kernel.as_deref(),
        taken_at: timestamp(r.taken_at_unix_ms),
        taken_at_unix_ms: r.taken_at_unix_ms,
        system: SystemJson {
            file_nr_allocated: file_nr.map(|f| f.allocated),
            file_nr_free: file_nr.map(|f| f.free),
            file_max: file_nr.map(|f| f.max),
            nr_open: s.nr_open.as_ref().ok().copied(),
            inotify_max_user_instances: s.inotify_max_user_instances.as_ref().ok().copied(),
            inotify_max_user_watches: s.inotify_max_user_watches.as_ref().ok().copied(),
            epoll_max_user_watches: s.epoll_max_user_watches.as_ref().ok().copied(),
        },
        limits: &r.limits,
        users: &r.users,
        processes: &r.processes,
        hidden_processes: r.hidden_processes,
        totals: &r.totals,
        notes: &r.notes,
        diagnosis: d,
    };
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

/// Write the process rows as CSV: one row per process shown.
pub fn write_csv(w: &mut dyn Write, r: &FdReport) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    let mut header: Vec<&str> =
        vec!["pid", "comm", "uid", "fds", "soft_limit", "hard_limit", "ratio", "verdict", "unit"];
    header.extend(GROUPS.iter().map(|g| g.key));
    header.extend([
        "inotify_instances",
        "inotify_watches",
        "epoll_instances",
        "epoll_watches",
        "top_target",
        "top_target_count",
        "unavailable",
    ]);
    c.write_record(&header)?;
    let opt = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
    for p in &r.processes {
        let mut rec = vec![
            p.pid.to_string(),
            p.comm.clone(),
            p.uid.map(|u| u.to_string()).unwrap_or_default(),
            opt(p.fds),
            p.soft_limit.map(|l| l.to_string()).unwrap_or_default(),
            p.hard_limit.map(|l| l.to_string()).unwrap_or_default(),
            p.ratio.map(|x| format!("{x:.4}")).unwrap_or_default(),
            p.verdict.name().to_string(),
            p.unit.clone().unwrap_or_default(),
        ];
        for g in GROUPS {
            rec.push(opt(p.groups.as_ref().and_then(|m| m.get(g.key)).copied()));
        }
        rec.extend([
            opt(p.inotify_instances),
            opt(p.inotify_watches),
            opt(p.epoll_instances),
            opt(p.epoll_watches),
            p.top_targets.first().map(|t| t.target.clone()).unwrap_or_default(),
            opt(p.top_targets.first().map(|t| t.count)),
            p.unavailable.clone().or_else(|| p.breakdown_unavailable.clone()).unwrap_or_default(),
        ]);
        c.write_record(&rec)?;
    }
    c.flush()?;
    Ok(())
}

fn verdict_cell(s: &Style, v: Verdict) -> Cell {
    let color = match v {
        Verdict::Ok => return s.dim(v.name()),
        Verdict::Unknown => Color::Magenta,
        Verdict::Warning => Color::Yellow,
        Verdict::Critical | Verdict::Exhausted => Color::Red,
    };
    s.colored(v.name(), color)
}

fn pct(r: Option<f64>) -> String {
    r.map(|x| format!("{:.1}%", x * 100.0)).unwrap_or_default()
}

fn limit_text(l: Option<Limit>) -> String {
    l.map(|l| l.to_string()).unwrap_or_else(|| "-".into())
}

/// Write the report as readable tables.
pub fn write_table(w: &mut dyn Write, r: &FdReport, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    writeln!(
        w,
        "{}",
        s.heading(&format!(
            "Open files{} at {}",
            r.kernel.as_deref().map(|k| format!(" on kernel {k}")).unwrap_or_default(),
            timestamp(r.taken_at_unix_ms)
        ))
    )?;
    writeln!(w)?;
    write_limits(w, r, s)?;
    writeln!(w)?;
    write_processes(w, r, s)?;
    if !r.notes.is_empty() {
        writeln!(w, "\n{}", s.heading("Notes"))?;
        for n in &r.notes {
            writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
        }
    }
    Ok(())
}

fn write_limits(w: &mut dyn Write, r: &FdReport, s: &Style) -> io::Result<()> {
    writeln!(w, "{}", s.heading("Limits"))?;
    let mut t = s.table(&["limit", "used", "of", "headroom", "use", "verdict"]);
    let mut why: Vec<String> = Vec::new();
    for l in &r.limits {
        let used = match (l.used, l.source) {
            (Some(u), _) if l.lower_bound => format!("≥{u}"),
            (Some(u), _) => u.to_string(),
            (None, Source::Unavailable) | (None, _) => {
                if let Some(reason) = &l.reason
                    && !why.contains(reason)
                {
                    why.push(reason.clone());
                }
                "unavailable*".into()
            }
        };
        let of = l.limit.map(|v| v.to_string()).unwrap_or_else(|| "unavailable".into());
        t.add_row(vec![
            Cell::new(&l.label),
            s.num(used),
            s.num(of),
            s.num(l.headroom.map(|v| v.to_string()).unwrap_or_default()),
            s.num(pct(l.ratio)),
            verdict_cell(s, l.verdict),
        ]);
    }
    style::write_table(w, &t)?;
    for reason in why {
        writeln!(w, "{}", wrap(&reason, s.width, "* ", "  "))?;
    }
    Ok(())
}

fn write_processes(w: &mut dyn Write, r: &FdReport, s: &Style) -> io::Result<()> {
    let total = r.processes.len() + r.hidden_processes;
    writeln!(
        w,
        "{}",
        s.heading(&format!("Processes closest to their RLIMIT_NOFILE ({} of {total})", r.processes.len()))
    )?;
    let mut header = vec!["pid", "command", "uid", "fds", "soft", "hard", "use", "verdict"];
    header.extend(GROUPS.iter().map(|g| g.label));
    let mut t = s.table(&header);
    let mut why: Vec<String> = Vec::new();
    for p in &r.processes {
        let mut mark = String::new();
        if let Some(reason) = p.unavailable.as_ref().or(p.breakdown_unavailable.as_ref()) {
            // One reason, said once below; the kind of path is enough to group them.
            let general = generalize_proc_path(reason);
            if !why.contains(&general) {
                why.push(general);
            }
            mark = "*".into();
        }
        let mut row = vec![
            s.num(format!("{mark}{}", p.pid)),
            Cell::new(&p.comm),
            s.num(p.uid.map(|u| u.to_string()).unwrap_or_default()),
            s.num(p.fds.map(|n| n.to_string()).unwrap_or_else(|| "unavailable".into())),
            s.num(limit_text(p.soft_limit)),
            s.num(limit_text(p.hard_limit)),
            s.num(pct(p.ratio)),
            verdict_cell(s, p.verdict),
        ];
        for g in GROUPS {
            let v = p
                .groups
                .as_ref()
                .and_then(|m| m.get(g.key))
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into());
            row.push(s.num(v));
        }
        t.add_row(row);
    }
    style::write_table(w, &t)?;
    if r.hidden_processes > 0 {
        writeln!(w, "({} more processes; --all shows them.)", r.hidden_processes)?;
    }
    for reason in why {
        writeln!(w, "{}", wrap(&format!("unavailable: {reason}"), s.width, "* ", "  "))?;
    }
    if r.processes.iter().any(|p| p.groups.is_none() && p.breakdown_unavailable.is_none()) {
        writeln!(w, "(- : not broken down; `memscope fds` without --top breaks down every process.)")?;
    }
    Ok(())
}

/// Write the diagnosis of one process (`memscope fds --pid PID`).
pub fn write_diagnosis(w: &mut dyn Write, d: &Diagnosis, r: &FdReport, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let p = &d.process;
    writeln!(
        w,
        "{}",
        s.heading(&format!(
            "pid {} ({}){}{}",
            p.pid,
            p.comm,
            p.uid.map(|u| format!(", uid {u}")).unwrap_or_default(),
            p.unit.as_deref().map(|u| format!(", {u}")).unwrap_or_default()
        ))
    )?;
    let mut t = s.table(&["fds", "soft limit", "hard limit", "use", "verdict"]);
    t.add_row(vec![
        s.num(p.fds.map(|n| n.to_string()).unwrap_or_else(|| "unavailable".into())),
        s.num(limit_text(p.soft_limit)),
        s.num(limit_text(p.hard_limit)),
        s.num(pct(p.ratio)),
        verdict_cell(s, p.verdict),
    ]);
    style::write_table(w, &t)?;
    writeln!(w)?;
    writeln!(w, "{}", s.heading("Which \"Too many open files\""))?;
    for para in [&d.emfile, &d.enfile].into_iter().chain(d.watches.iter()) {
        writeln!(w, "{}", wrap(para, s.width, "- ", "  "))?;
    }

    writeln!(w, "\n{}", s.heading("What it holds"))?;
    match (&p.groups, &p.kinds) {
        (Some(groups), Some(kinds)) => {
            let line: Vec<String> = GROUPS
                .iter()
                .map(|g| format!("{} {}", groups.get(g.key).copied().unwrap_or(0), g.label))
                .collect();
            writeln!(w, "{}", wrap(&line.join(" · "), s.width, "", ""))?;
            let mut kinds: Vec<(&String, &u64)> = kinds.iter().collect();
            kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let k: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
            writeln!(w, "{}", wrap(&format!("by kind: {}", k.join(", ")), s.width, "", "  "))?;
            if p.inotify_instances.unwrap_or(0) + p.epoll_instances.unwrap_or(0) > 0 {
                writeln!(
                    w,
                    "inotify: {} instances, {} watches · epoll: {} instances, {} watched files",
                    p.inotify_instances.unwrap_or(0),
                    p.inotify_watches.unwrap_or(0),
                    p.epoll_instances.unwrap_or(0),
                    p.epoll_watches.unwrap_or(0)
                )?;
            }
            writeln!(w, "\n{}", s.heading("Top targets"))?;
            let mut t = s.table(&["count", "target", ""]);
            for x in &p.top_targets {
                t.add_row(vec![
                    s.num(x.count),
                    Cell::new(&x.target),
                    if x.leak_suspect { s.colored("← leak signature", Color::Red) } else { Cell::new("") },
                ]);
            }
            style::write_table(w, &t)?;
        }
        _ => {
            let reason = p.breakdown_unavailable.as_deref().unwrap_or("not read");
            writeln!(
                w,
                "{}",
                wrap(&format!("Its descriptors cannot be listed: {reason}."), s.width, "", "")
            )?;
        }
    }
    if !d.leaks.is_empty() {
        writeln!(w, "\n{}", s.heading("Leak signatures"))?;
        for l in &d.leaks {
            writeln!(w, "{}", wrap(l, s.width, "- ", "  "))?;
        }
    }
    if !d.fixes.is_empty() {
        writeln!(w, "\n{}", s.heading("What to do"))?;
        for f in &d.fixes {
            writeln!(w, "{}", wrap(f, s.width, "- ", "  "))?;
        }
    }
    let notes: Vec<&String> = r.notes.iter().filter(|n| !n.starts_with("file-nr counts")).collect();
    if !notes.is_empty() {
        writeln!(w, "\n{}", s.heading("Notes"))?;
        for n in notes {
            writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
        }
    }
    Ok(())
}
