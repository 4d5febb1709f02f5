//! `memscope vmalloc` output: tables, JSON (`memscope.vmalloc/1`: the
//! [`VmallocView`] fields), CSV (one row per caller).

use std::io::{self, Write};

use crate::table::Cell;
use memscope_analysis::fmt_bytes;
use memscope_analysis::vmalloc::VmallocView;

use crate::report::opt_bytes;
use crate::style::{self, Style, wrap};

/// The JSON schema name of `memscope vmalloc`.
pub const VMALLOC_SCHEMA: &str = "memscope.vmalloc/1";

/// Write the view as one JSON document.
pub fn write_json(w: &mut dyn Write, v: &VmallocView) -> io::Result<()> {
    crate::json::write_doc(w, VMALLOC_SCHEMA, v)
}

/// One row per caller shown.
pub fn write_csv(w: &mut dyn Write, v: &VmallocView) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record(["caller", "module", "kind", "areas", "ram_bytes", "size_bytes", "kernel_stacks"])?;
    for r in &v.callers {
        c.write_record([
            r.caller.clone(),
            r.module.clone().unwrap_or_default(),
            r.kind.name().to_string(),
            r.areas.to_string(),
            r.ram_bytes.to_string(),
            r.size_bytes.to_string(),
            r.kernel_stacks.to_string(),
        ])?;
    }
    c.flush()
}

fn b(v: u64) -> String {
    fmt_bytes(v as i64)
}

/// Write the view as readable tables.
pub fn write_table(w: &mut dyn Write, v: &VmallocView, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    if let Some(why) = &v.unavailable {
        writeln!(w, "{}", wrap(&format!("vmalloc areas are unavailable: {why}."), s.width, "", "  "))?;
        for n in &v.notes {
            writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
        }
        return Ok(());
    }
    writeln!(w, "{}", s.heading(&format!("vmalloc areas by kind ({} areas)", v.areas)))?;
    let mut t = s.table(&["kind", "areas", "RAM (pages)", "address space"]);
    for k in &v.kinds {
        t.add_row(vec![
            Cell::new(k.kind.name()),
            s.num(k.areas),
            s.num(k.ram_bytes.map(b).unwrap_or_else(|| "not RAM".into())),
            s.num(b(k.size_bytes)),
        ]);
    }
    style::write_table(w, &t)?;

    writeln!(w, "\n{}", s.heading("By caller, largest RAM first"))?;
    let mut t = s.table(&["caller", "kind", "areas", "RAM", "address space"]);
    for c in &v.callers {
        let name = match (&c.module, c.kernel_stacks) {
            (Some(m), _) => format!("{} [{m}]", c.caller),
            (None, true) => format!("{} (kernel stacks)", c.caller),
            (None, false) => c.caller.clone(),
        };
        t.add_row(vec![
            Cell::new(name),
            s.dim(c.kind.name()),
            s.num(c.areas),
            s.num(b(c.ram_bytes)),
            s.num(b(c.size_bytes)),
        ]);
    }
    style::write_table(w, &t)?;
    if v.callers_hidden > 0 {
        writeln!(w, "({} more callers; --top shows more.)", v.callers_hidden)?;
    }

    if let Some(l) = &v.ledger {
        writeln!(w, "\n{}", s.heading("The ledger's vmalloc line"))?;
        let mut t = s.table(&["", "bytes", "from"]);
        t.add_row(vec![
            Cell::new("VmallocUsed"),
            s.num(opt_bytes(l.vmalloc_used_bytes)),
            s.dim(memscope_kernel::paths::MEMINFO),
        ]);
        t.add_row(vec![
            Cell::new("pages in vmallocinfo"),
            s.num(b(l.pages_bytes)),
            s.dim("sum of pages= (ioremap excluded)"),
        ]);
        t.add_row(vec![
            Cell::new("  of which kernel stacks"),
            s.num(b(l.kernel_stack_areas_bytes)),
            s.dim(format!("KernelStack is {}", opt_bytes(l.kernel_stack_bytes))),
        ]);
        t.add_row(vec![
            Cell::new("counted twice"),
            s.num(format!("−{}", b(l.double_counted_bytes))),
            s.dim("min(stack areas, KernelStack)"),
        ]);
        t.add_row(vec![
            Cell::new("ledger vmalloc"),
            s.num(fmt_bytes(l.ledger_vmalloc_bytes)),
            s.dim(&l.ledger_formula),
        ]);
        t.add_row(vec![
            Cell::new("ioremap (not RAM)"),
            s.num(b(l.ioremap_size_bytes)),
            s.dim("address space mapping device memory"),
        ]);
        style::write_table(w, &t)?;
    }
    for n in &v.notes {
        writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
    }
    Ok(())
}
