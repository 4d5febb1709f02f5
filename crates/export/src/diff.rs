//! `memscope diff` output: table or JSON (`memscope.diff/1`).

use std::io::{self, Write};

use comfy_table::Color;
use memscope_analysis::diff::{Diff, Mover};
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
            comfy_table::Cell::new(&label)
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
    Ok(())
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
            comfy_table::Cell::new(name),
            s.dim(metric),
            s.num(fmt_bytes(x.from_bytes)),
            s.num(fmt_bytes(x.to_bytes)),
            s.num(delta(Some(x.delta_bytes))),
        ]);
    }
    style::write_table(w, &t)
}
