//! `memscope report --cgroup` output: tables, JSON
//! (`memscope.report-cgroup/1`: the [`CgroupLedger`] fields, described in
//! docs/json.md), CSV (one row per line, limit and tool).

use std::io::{self, Write};

use crate::table::Cell;
use memscope_analysis::cgroup_ledger::{CgroupLedger, Line, SCHEMA};
use memscope_analysis::fmt_bytes;

use crate::style::{self, Style, wrap};

/// The processes the table lists; JSON has them all.
const TABLE_PROCESSES: usize = 10;

/// Write the ledger as one JSON document.
pub fn write_json(w: &mut dyn Write, v: &CgroupLedger) -> io::Result<()> {
    crate::json::write_doc(w, SCHEMA, v)
}

/// One row per ledger line, figure beside the usage, limit and tool.
pub fn write_csv(w: &mut dyn Write, v: &CgroupLedger) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record(["section", "key", "parent", "bytes", "source"])?;
    let n = |b: Option<u64>| b.map(|b| b.to_string()).unwrap_or_default();
    c.write_record(["usage", "usage", "", &n(v.usage_bytes), v.usage_source])?;
    for (section, lines) in [("line", &v.lines), ("beside", &v.beside)] {
        for l in lines {
            c.write_record([section, l.key, l.parent.unwrap_or(""), &n(l.bytes), &l.source])?;
        }
    }
    let remainder = v.remainder_bytes.map(|r| r.to_string()).unwrap_or_default();
    c.write_record(["line", "remainder", "", &remainder, "usage − Σ lines"])?;
    for l in &v.limits {
        c.write_record(["limit", &l.file, &l.cgroup, &n(l.limit_bytes), l.kind])?;
    }
    for t in &v.tools {
        c.write_record(["tool", t.key, "", &n(t.bytes), &t.formula])?;
    }
    c.flush()
}

fn b(v: Option<u64>) -> String {
    v.map_or_else(|| "unavailable".into(), |v| fmt_bytes(v as i64))
}

fn signed(v: Option<i64>) -> String {
    v.map_or_else(
        || "unavailable".into(),
        |v| if v > 0 { format!("+{}", fmt_bytes(v)) } else { fmt_bytes(v) },
    )
}

fn share(part: Option<u64>, usage: Option<u64>) -> String {
    match (part, usage) {
        (Some(p), Some(u)) if u > 0 => format!("{:.1}%", p as f64 * 100.0 / u as f64),
        _ => String::new(),
    }
}

fn line_row(s: &Style, l: &Line, usage: Option<u64>) -> Vec<Cell> {
    let label = if l.parent.is_some() { format!("  {}", l.label) } else { l.label.to_string() };
    let bytes = match (&l.bytes, &l.unavailable) {
        (Some(v), _) => fmt_bytes(*v as i64),
        (None, _) => "unavailable".into(),
    };
    vec![Cell::new(label), s.num(bytes), s.num(share(l.bytes, usage)), s.dim(&l.source)]
}

/// Write the ledger as readable tables.
pub fn write_table(w: &mut dyn Write, v: &CgroupLedger, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    writeln!(w, "{}", s.heading(&format!("Memory ledger of cgroup {} (cgroup {})", v.cgroup, v.version)))?;
    if let Some(c) = &v.container {
        if let Some(name) = &c.container_name {
            let image = c.image.as_deref().map(|i| format!("  (image {i})")).unwrap_or_default();
            writeln!(w, "Container: {name}{image}")?;
        }
        if let Some(pod) = c.pod_ref() {
            writeln!(w, "Pod: {pod}")?;
        }
    }
    let mut t = s.table(&["line", "bytes", "of usage", "from"]);
    for l in &v.lines {
        if l.parent.is_some() && l.bytes == Some(0) && !s.all {
            continue;
        }
        t.add_row(line_row(s, l, v.usage_bytes));
    }
    t.add_row(vec![
        Cell::new("remainder (usage − lines)"),
        s.num(signed(v.remainder_bytes)),
        s.num(""),
        s.dim("per-cpu counter drift, charges without a key"),
    ]);
    t.add_row(vec![
        Cell::new("= usage"),
        s.num(b(v.usage_bytes)),
        s.num(if v.usage_bytes.is_some() { "100.0%" } else { "" }),
        s.dim(v.usage_source),
    ]);
    style::write_table(w, &t)?;

    writeln!(w, "\n{}", s.heading("Beside the usage"))?;
    let mut t = s.table(&["figure", "bytes", "of usage", "from"]);
    for l in &v.beside {
        t.add_row(line_row(s, l, v.usage_bytes));
    }
    style::write_table(w, &t)?;

    writeln!(w, "\n{}", s.heading("Limits"))?;
    let mut t = s.table(&["file", "set by", "limit", "headroom", "what it does"]);
    for l in &v.limits {
        let limit = match (&l.limit_bytes, &l.unavailable) {
            (Some(v), _) => fmt_bytes(*v as i64),
            (None, Some(_)) => "unavailable".into(),
            (None, None) => "none".into(),
        };
        t.add_row(vec![
            Cell::new(&l.file),
            s.dim(if l.cgroup == v.cgroup { "this cgroup" } else { &l.cgroup }),
            s.num(limit),
            s.num(l.headroom_bytes.map(fmt_bytes).unwrap_or_default()),
            s.dim(l.kind),
        ]);
    }
    style::write_table(w, &t)?;
    if let Some(k) = v.oom_kills {
        writeln!(w, "OOM kills: {k}")?;
    }

    writeln!(w, "\n{}", s.heading("Every tool's number"))?;
    let mut t = s.table(&["tool", "bytes", "formula"]);
    for tl in &v.tools {
        let name = if tl.key == v.oom_answer { format!("{} ◀", tl.tool) } else { tl.tool.to_string() };
        t.add_row(vec![Cell::new(name), s.num(b(tl.bytes)), s.dim(&tl.formula)]);
    }
    style::write_table(w, &t)?;
    writeln!(w, "{}", wrap(&v.oom_verdict, s.width, "", ""))?;

    let shown = v.processes.len().min(TABLE_PROCESSES);
    writeln!(
        w,
        "\n{}",
        s.heading(&format!("Processes ({} in the subtree, largest PSS first)", v.processes.len()))
    )?;
    if v.processes.is_empty() {
        writeln!(w, "(none)")?;
    } else {
        let mut t = s.table(&["pid", "command", "PSS", "USS", "RSS", "swap"]);
        for p in &v.processes[..shown] {
            t.add_row(vec![
                s.num(p.pid),
                Cell::new(&p.comm),
                s.num(b(p.pss_bytes)),
                s.num(b(p.uss_bytes)),
                s.num(b(p.rss_bytes)),
                s.num(b(p.swap_bytes)),
            ]);
        }
        style::write_table(w, &t)?;
        if shown < v.processes.len() {
            writeln!(w, "({} more; --json lists them all.)", v.processes.len() - shown)?;
        }
    }
    let n = &v.not_mapped;
    writeln!(w, "\n{}", s.heading("The charge no process maps"))?;
    let mut t = s.table(&["", "bytes"]);
    t.add_row(vec![Cell::new("usage − Σ PSS"), s.num(signed(n.not_mapped_bytes))]);
    t.add_row(vec![Cell::new("  page cache no process maps"), s.num(b(n.page_cache_unmapped_bytes))]);
    t.add_row(vec![Cell::new("  kernel memory and sockets"), s.num(b(n.kernel_and_sock_bytes))]);
    t.add_row(vec![
        Cell::new("  other (exited processes' charges, shared pages)"),
        s.num(signed(n.other_bytes)),
    ]);
    style::write_table(w, &t)?;
    if n.processes_without_pss > 0 {
        writeln!(w, "({} processes without PSS are left out of Σ PSS.)", n.processes_without_pss)?;
    }
    if let Some(why) = &v.usage_unavailable {
        writeln!(w, "{}", wrap(&format!("The usage is unavailable: {why}."), s.width, "- ", "  "))?;
    }
    for note in &v.notes {
        writeln!(w, "{}", wrap(note, s.width, "- ", "  "))?;
    }
    Ok(())
}
