//! `memscope diff` output: table or JSON (`memscope.diff/1`).

use std::io::{self, Write};

use crate::table::Color;
use memscope_analysis::diff::{CgroupMover, Diff, FdMover, Mover};
use memscope_analysis::fmt_bytes;
use serde::Serialize;

use crate::style::{self, Style, timestamp};

/// The JSON schema name of `memscope diff`.
pub const DIFF_SCHEMA: &str = "memscope.diff/1";

#[derive(Serialize)]
struct DiffJson<'a> {
    schema: &'static str,
    from_id: i64,
    to_id: i64,
    #[serde(flatten)]
    diff: &'a Diff,
}

/// Write the comparison as one JSON document.
pub fn write_json(w: &mut dyn Write, d: &Diff, from_id: i64, to_id: i64) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, &DiffJson { schema: DIFF_SCHEMA, from_id, to_id, diff: d })?;
    writeln!(w)
}

fn delta(v: Option<i64>) -> String {
    match v {
        Some(0) => "0".into(),
        Some(d) if d > 0 => format!("+{}", fmt_bytes(d)),
        Some(d) => fmt_bytes(d),
        None => "?".into(),
    }
}

fn bytes(v: Option<i64>) -> String {
    v.map(fmt_bytes).unwrap_or_else(|| "unavailable".into())
}

/// Write the comparison as tables.
pub fn write_table(w: &mut dyn Write, d: &Diff, from_id: i64, to_id: i64, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let span = d.to_unix_ms.saturating_sub(d.from_unix_ms) as f64 / 1000.0;
    writeln!(
        w,
        "{}",
        s.heading(&format!(
            "Snapshot {from_id} ({}) → snapshot {to_id} ({}), {} apart",
            timestamp(d.from_unix_ms),
            timestamp(d.to_unix_ms),
            crate::leaks::fmt_seconds(span)
        ))
    )?;
    if let Some((a, b)) = &d.kernels {
        writeln!(w, "The kernel changed from {a} to {b}: the machine rebooted in between.")?;
    }
    writeln!(w)?;
    let mut t = s.table(&["category", "before", "after", "change"]);
    let mut hidden = 0;
    for l in &d.ledger {
        if l.delta_bytes == Some(0) && l.category != "unaccounted" && !s.all {
            hidden += 1;
            continue;
        }
        let def = memscope_analysis::ledger::category(l.category);
        let label = def.map(|c| c.label).unwrap_or(l.category);
        let label = match (&l.name, l.parent) {
            (Some(n), Some(_)) => format!("  {n}"),
            (None, Some(_)) => format!("  {label}"),
            (Some(n), None) => format!("{label} {n}"),
            (None, None) => label.to_string(),
        };
        let cell = if l.category == "unaccounted" {
            s.colored(&label, if l.delta_bytes.unwrap_or(0) > 0 { Color::Red } else { Color::Yellow })
        } else if l.parent.is_some() {
            s.dim(&label)
        } else {
            crate::table::Cell::new(&label)
        };
        t.add_row(vec![
            cell,
            s.num(bytes(l.from_bytes)),
            s.num(bytes(l.to_bytes)),
            s.num(delta(l.delta_bytes)),
        ]);
    }
    style::write_table(w, &t)?;
    if hidden > 0 {
        writeln!(w, "({hidden} unchanged lines; --all shows them.)")?;
    }
    movers(w, s, "Processes (by command line)", &d.processes)?;
    movers(w, s, "Slab caches", &d.slab_caches)?;
    movers(w, s, "vmalloc callers", &d.vmalloc_callers)?;
    fd_movers(w, s, d)?;
    cgroup_movers(w, s, d.cgroups.as_deref())?;
    if let Some(t) = &d.oom_kills {
        crate::leaks::write_oom_timeline(w, s, t, "OOM kills between the two snapshots")?;
    }
    Ok(())
}

fn signed_count(d: i64) -> String {
    if d > 0 { format!("+{d}") } else { d.to_string() }
}

/// Open descriptors by command line, and the system's open files.
fn fd_movers(w: &mut dyn Write, s: &Style, d: &Diff) -> io::Result<()> {
    writeln!(w, "\n{}", s.heading("Open descriptors (by command line): largest changes"))?;
    let Some(m) = &d.process_fds else {
        writeln!(w, "Not in these snapshots (recorded without descriptor counts).")?;
        return Ok(());
    };
    if let Some(f) = &d.file_nr {
        writeln!(
            w,
            "Open files of the system (file-nr): {} → {} ({}), file-max {}.",
            f.from_allocated,
            f.to_allocated,
            signed_count(f.delta),
            f.file_max
        )?;
    }
    if m.is_empty() {
        return writeln!(w, "No change.");
    }
    let mut t = s.table(&["name", "processes", "before", "after", "change", "soft limit"]);
    for x in m {
        let FdMover { name, from_fds, to_fds, delta_fds, processes: (a, b), nofile_soft } = x;
        let procs = if a == b { a.to_string() } else { format!("{a}→{b}") };
        t.add_row(vec![
            crate::table::Cell::new(crate::leaks::display_command(name, 60)),
            s.dim(procs),
            s.num(from_fds.to_string()),
            s.num(to_fds.to_string()),
            s.num(signed_count(*delta_fds)),
            s.dim(nofile_soft.map(|n| n.to_string()).unwrap_or_else(|| "-".into())),
        ]);
    }
    style::write_table(w, &t)
}

fn cgroup_movers(w: &mut dyn Write, s: &Style, m: Option<&[CgroupMover]>) -> io::Result<()> {
    writeln!(w, "\n{}", s.heading("Memory cgroups: largest changes"))?;
    let Some(m) = m else {
        return writeln!(w, "Not in these snapshots (recorded without memory cgroups, or unavailable).");
    };
    if m.is_empty() {
        return writeln!(w, "No change.");
    }
    let mut t = s.table(&["cgroup", "before", "after", "change", "limit", "OOM kills"]);
    for x in m {
        let CgroupMover { path, from_bytes, to_bytes, delta_bytes, limit_bytes, oom_kills, lines } = x;
        let kills = match oom_kills {
            Some(k) if *k > 0 => s.colored(format!("+{k}"), Color::Red),
            Some(k) => s.dim(k.to_string()),
            None => s.dim("?"),
        };
        t.add_row(vec![
            crate::table::Cell::new(crate::leaks::short(path, 60)),
            s.num(fmt_bytes(*from_bytes)),
            s.num(fmt_bytes(*to_bytes)),
            s.num(delta(Some(*delta_bytes))),
            s.dim(limit_bytes.map(fmt_bytes).unwrap_or_else(|| "none".into())),
            kills,
        ]);
        // Its ledger's lines: the top-level ones, and the parts that moved.
        for l in lines.iter().filter(|l| l.parent.is_none() || l.delta_bytes.is_some_and(|d| d != 0)) {
            let indent = if l.parent.is_some() { "    " } else { "  " };
            let name = if l.in_usage { l.line.to_string() } else { format!("{} (not in the usage)", l.line) };
            t.add_row(vec![
                s.dim(format!("{indent}{name}")),
                s.num(bytes(l.from_bytes)),
                s.num(bytes(l.to_bytes)),
                s.num(delta(l.delta_bytes)),
                s.dim(""),
                s.dim(""),
            ]);
        }
    }
    style::write_table(w, &t)
}

fn movers(w: &mut dyn Write, s: &Style, title: &str, m: &[Mover]) -> io::Result<()> {
    writeln!(w, "\n{}", s.heading(&format!("{title}: largest changes")))?;
    if m.is_empty() {
        return writeln!(w, "No change.");
    }
    let mut t = s.table(&["name", "metric", "before", "after", "change"]);
    for x in m {
        let name = if x.processes.is_some() {
            crate::leaks::display_command(&x.name, 60)
        } else {
            crate::leaks::short(&x.name, 60)
        };
        let metric = match x.processes {
            Some((a, b)) if a != b => format!("{} ({a}→{b} procs)", x.metric),
            _ => x.metric.to_string(),
        };
        t.add_row(vec![
            crate::table::Cell::new(name),
            s.dim(metric),
            s.num(fmt_bytes(x.from_bytes)),
            s.num(fmt_bytes(x.to_bytes)),
            s.num(delta(Some(x.delta_bytes))),
        ]);
    }
    style::write_table(w, &t)
}
