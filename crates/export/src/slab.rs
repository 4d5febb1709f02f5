//! `memscope slab` output: table (like a one-shot `slabtop`), JSON
//! (`memscope.slab/1`: the [`SlabView`] fields), CSV (one row per cache).

use std::io::{self, Write};

use crate::table::Cell;
use memscope_analysis::slab::SlabView;
use memscope_analysis::units::count;
use memscope_analysis::{fmt_bytes, fmt_pct};

use crate::report::opt_bytes;
use crate::style::{self, Style, wrap};

/// The JSON schema name of `memscope slab`.
pub const SLAB_SCHEMA: &str = "memscope.slab/1";

/// Write the view as one JSON document.
pub fn write_json(w: &mut dyn Write, v: &SlabView) -> io::Result<()> {
    crate::json::write_doc(w, SLAB_SCHEMA, v)
}

/// One row per cache.
pub fn write_csv(w: &mut dyn Write, v: &SlabView) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record([
        "name",
        "size_bytes",
        "active_bytes",
        "waste_bytes",
        "active_objs",
        "num_objs",
        "objsize_bytes",
        "objperslab",
        "pagesperslab",
        "num_slabs",
        "reclaimable",
        "flags",
        "aliases",
    ])?;
    for r in &v.caches {
        c.write_record([
            r.name.clone(),
            r.size_bytes.to_string(),
            r.active_bytes.to_string(),
            r.waste_bytes.to_string(),
            r.active_objs.to_string(),
            r.num_objs.to_string(),
            r.objsize_bytes.to_string(),
            r.objperslab.to_string(),
            r.pagesperslab.to_string(),
            r.num_slabs.to_string(),
            r.reclaimable.map(|b| b.to_string()).unwrap_or_default(),
            r.flags.join(" "),
            r.aliases.join(" "),
        ])?;
    }
    c.flush()
}

/// Write the view as a readable table.
pub fn write_table(w: &mut dyn Write, v: &SlabView, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let t = &v.totals;
    if let Some(why) = &v.unavailable {
        writeln!(w, "{}", s.heading("Slab"))?;
        writeln!(
            w,
            "meminfo: Slab {} · SReclaimable {} · SUnreclaim {}",
            opt_bytes(t.meminfo_slab_bytes),
            opt_bytes(t.meminfo_sreclaimable_bytes),
            opt_bytes(t.meminfo_sunreclaim_bytes)
        )?;
        writeln!(w, "{}", wrap(&format!("Per-cache figures are unavailable: {why}."), s.width, "", "  "))?;
        return Ok(());
    }
    writeln!(
        w,
        "{}",
        s.heading(&format!(
            "Slab caches: {} in {} caches, {} of it in live objects{}",
            fmt_bytes(t.size_bytes as i64),
            t.caches,
            fmt_pct(t.active_bytes as i64, t.size_bytes as i64),
            if t.unknown_reclaim_bytes == t.size_bytes {
                String::new()
            } else {
                format!(
                    "; reclaimable {}, unreclaimable {}{}",
                    fmt_bytes(t.reclaimable_bytes as i64),
                    fmt_bytes(t.unreclaimable_bytes as i64),
                    if t.unknown_reclaim_bytes > 0 {
                        format!(", unknown {}", fmt_bytes(t.unknown_reclaim_bytes as i64))
                    } else {
                        String::new()
                    }
                )
            }
        ))
    )?;
    let mut tab = s.table(&[
        "cache", "size", "live", "waste", "use", "objs", "active", "objsize", "slabs", "obj/slab", "pg/slab",
        "flags", "aliases",
    ]);
    for r in &v.caches {
        let aliases = match r.aliases.len() {
            0 => String::new(),
            1..=3 => r.aliases.join(" "),
            n => format!("{} +{}", r.aliases[..2].join(" "), n - 2),
        };
        tab.add_row(vec![
            Cell::new(&r.name),
            s.num(fmt_bytes(r.size_bytes as i64)),
            s.num(fmt_bytes(r.active_bytes as i64)),
            s.num(fmt_bytes(r.waste_bytes as i64)),
            s.num(if r.num_objs > 0 { fmt_pct(r.active_objs as i64, r.num_objs as i64) } else { "-".into() }),
            s.num(r.num_objs),
            s.num(r.active_objs),
            s.num(r.objsize_bytes),
            s.num(r.num_slabs),
            s.num(r.objperslab),
            s.num(r.pagesperslab),
            s.dim(if r.reclaimable.is_none() && r.flags.is_empty() {
                "?".to_string()
            } else {
                r.flags.join(",")
            }),
            s.dim(aliases),
        ]);
    }
    style::write_table(w, &tab)?;
    if v.empty_hidden > 0 {
        let n = v.empty_hidden;
        writeln!(
            w,
            "({} no slab; --all shows {}.)",
            count(n, "cache holds", "caches hold"),
            if n == 1 { "it" } else { "them" }
        )?;
    }
    for n in &v.notes {
        writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
    }
    Ok(())
}
