//! `memscope numa` output: table (nodes as columns, like `numastat -m`),
//! JSON (`memscope.numa/1`: the [`NumaView`] fields), CSV (one row per
//! figure and node: `scope,pid,field,node,bytes`).

use std::io::{self, Write};

use crate::table::Cell;
use memscope_analysis::fmt_bytes;
use memscope_analysis::numa::{KINDS, NumaView};

use crate::report::opt_bytes;
use crate::style::{self, Style, wrap};

/// The JSON schema name of `memscope numa`.
pub const NUMA_SCHEMA: &str = "memscope.numa/1";

/// Write the view as one JSON document.
pub fn write_json(w: &mut dyn Write, v: &NumaView) -> io::Result<()> {
    crate::json::write_doc(w, NUMA_SCHEMA, v)
}

/// One row per figure and node (figures a node does not report are left out).
pub fn write_csv(w: &mut dyn Write, v: &NumaView) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record(["scope", "pid", "field", "node", "bytes"])?;
    for f in &v.fields {
        for (node, bytes) in v.nodes.iter().zip(&f.node_bytes) {
            if let Some(b) = bytes {
                c.write_record(["system", "", &f.field, &node.to_string(), &b.to_string()])?;
            }
        }
    }
    for p in &v.processes {
        for (kind, per_node) in &p.kinds {
            for (node, bytes) in v.nodes.iter().zip(per_node) {
                c.write_record(["process", &p.pid.to_string(), kind, &node.to_string(), &bytes.to_string()])?;
            }
        }
    }
    c.flush()
}

/// Write the view as readable tables.
pub fn write_table(w: &mut dyn Write, v: &NumaView, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let node_cols: Vec<String> = v.nodes.iter().map(|n| format!("node {n}")).collect();
    if v.processes.is_empty() && !v.nodes.is_empty() {
        writeln!(
            w,
            "{}",
            s.heading(&format!(
                "Memory per NUMA node ({} node{})",
                v.nodes.len(),
                if v.nodes.len() == 1 { "" } else { "s" }
            ))
        )?;
        let mut header: Vec<&str> = vec!["field"];
        header.extend(node_cols.iter().map(String::as_str));
        header.extend(["total", memscope_kernel::paths::MEMINFO]);
        let mut t = s.table(&header);
        for f in &v.fields {
            let mut row = vec![Cell::new(&f.field)];
            row.extend(f.node_bytes.iter().map(|b| s.num(opt_bytes(*b))));
            row.push(s.num(fmt_bytes(f.total_bytes as i64)));
            row.push(s.dim(f.system_bytes.map(|b| fmt_bytes(b as i64)).unwrap_or_default()));
            t.add_row(row);
        }
        style::write_table(w, &t)?;
        if !v.numastat.is_empty() {
            writeln!(w, "\n{}", s.heading("Allocations since boot, in pages (numastat)"))?;
            let mut header: Vec<&str> = vec!["counter"];
            header.extend(node_cols.iter().map(String::as_str));
            header.push("total");
            let mut t = s.table(&header);
            for r in &v.numastat {
                let mut row = vec![Cell::new(&r.counter)];
                row.extend(
                    r.node_pages.iter().map(|p| s.num(p.map(|p| p.to_string()).unwrap_or("-".into()))),
                );
                row.push(s.num(r.total_pages));
                t.add_row(row);
            }
            style::write_table(w, &t)?;
        }
    }
    for p in &v.processes {
        writeln!(
            w,
            "{}",
            s.heading(&format!("Process {} ({}): resident pages per node (numa_maps)", p.pid, p.comm))
        )?;
        if let Some(why) = &p.unavailable {
            writeln!(w, "{}", wrap(&format!("unavailable: {why}"), s.width, "  ", "  "))?;
            continue;
        }
        let mut header: Vec<&str> = vec!["kind"];
        header.extend(node_cols.iter().map(String::as_str));
        header.push("total");
        let mut t = s.table(&header);
        for (kind, _) in KINDS {
            let Some(per_node) = p.kinds.get(kind) else { continue };
            let mut row = vec![Cell::new(*kind)];
            row.extend(per_node.iter().map(|b| s.num(fmt_bytes(*b as i64))));
            row.push(s.num(fmt_bytes(per_node.iter().sum::<u64>() as i64)));
            t.add_row(row);
        }
        let mut row = vec![Cell::new("total")];
        row.extend(p.node_bytes.iter().map(|b| s.num(fmt_bytes(*b as i64))));
        row.push(s.num(fmt_bytes(p.total_bytes as i64)));
        t.add_row(row);
        style::write_table(w, &t)?;
    }
    for n in &v.notes {
        writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
    }
    Ok(())
}
