//! `memscope maps PID` output: table (like `pmap -X`), JSON
//! (`memscope.maps/1`: the [`MapsView`] fields), CSV (one row per mapping).

use std::io::{self, Write};

use crate::table::Cell;
use memscope_analysis::fmt_bytes;
use memscope_analysis::maps::MapsView;

use crate::style::{self, Style, wrap};

/// The JSON schema name of `memscope maps`.
pub const MAPS_SCHEMA: &str = "memscope.maps/1";

/// Write the view as one JSON document.
pub fn write_json(w: &mut dyn Write, v: &MapsView) -> io::Result<()> {
    crate::json::write_doc(w, MAPS_SCHEMA, v)
}

/// One row per mapping.
pub fn write_csv(w: &mut dyn Write, v: &MapsView) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record([
        "start",
        "end",
        "perms",
        "offset",
        "dev",
        "inode",
        "size_bytes",
        "rss_bytes",
        "pss_bytes",
        "uss_bytes",
        "shared_bytes",
        "swap_bytes",
        "locked_bytes",
        "thp_bytes",
        "hugetlb_bytes",
        "vm_flags",
        "path",
    ])?;
    for m in &v.mappings {
        c.write_record([
            format!("{:x}", m.start),
            format!("{:x}", m.end),
            m.perms.clone(),
            format!("{:x}", m.offset),
            m.dev.clone(),
            m.inode.to_string(),
            m.size_bytes.to_string(),
            m.rss_bytes.to_string(),
            m.pss_bytes.to_string(),
            m.uss_bytes.to_string(),
            m.shared_bytes.to_string(),
            m.swap_bytes.to_string(),
            m.locked_bytes.to_string(),
            m.thp_bytes.to_string(),
            m.hugetlb_bytes.to_string(),
            m.vm_flags.join(" "),
            m.path.clone().unwrap_or_default(),
        ])?;
    }
    c.flush()
}

fn b(v: u64) -> String {
    fmt_bytes(v as i64)
}

/// Write the view as a readable table.
pub fn write_table(w: &mut dyn Write, v: &MapsView, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let t = &v.totals;
    writeln!(w, "{}", s.heading(&format!("Mappings of pid {} ({}): {}", v.pid, v.comm, t.mappings)))?;
    let hugetlb = t.hugetlb_bytes > 0;
    let mut header = vec!["address", "perm", "size", "RSS", "PSS", "USS", "shared", "swap", "locked", "THP"];
    if hugetlb {
        header.push("hugetlb");
    }
    header.extend(["flags", "mapping"]);
    let mut tab = s.table(&header);
    for m in &v.mappings {
        let mut row = vec![
            s.dim(format!("{:012x}", m.start)),
            Cell::new(&m.perms),
            s.num(b(m.size_bytes)),
            s.num(b(m.rss_bytes)),
            s.num(b(m.pss_bytes)),
            s.num(b(m.uss_bytes)),
            s.num(b(m.shared_bytes)),
            s.num(b(m.swap_bytes)),
            s.num(b(m.locked_bytes)),
            s.num(b(m.thp_bytes)),
        ];
        if hugetlb {
            row.push(s.num(b(m.hugetlb_bytes)));
        }
        row.push(s.dim(m.notable_flags().join(" ")));
        row.push(Cell::new(m.path.as_deref().unwrap_or("[anon]")));
        tab.add_row(row);
    }
    let mut total = vec![
        Cell::new("total"),
        Cell::new(""),
        s.num(b(t.size_bytes)),
        s.num(b(t.rss_bytes)),
        s.num(b(t.pss_bytes)),
        s.num(b(t.uss_bytes)),
        s.num(b(t.shared_bytes)),
        s.num(b(t.swap_bytes)),
        s.num(b(t.locked_bytes)),
        s.num(b(t.thp_bytes)),
    ];
    if hugetlb {
        total.push(s.num(b(t.hugetlb_bytes)));
    }
    total.extend([Cell::new(""), s.dim(format!("{} mappings", t.mappings))]);
    tab.add_row(total);
    style::write_table(w, &tab)?;
    if v.mappings.len() < t.mappings {
        writeln!(w, "({} of {} mappings shown; the totals cover all.)", v.mappings.len(), t.mappings)?;
    }
    if !v.rollup_check.is_empty() {
        let ok: Vec<&str> = v.rollup_check.iter().filter(|c| c.matches).map(|c| c.field).collect();
        if ok.len() == v.rollup_check.len() {
            let pss = v.rollup_check.iter().find(|c| c.field == "Pss");
            let rounding = match pss {
                Some(c) if c.rollup_bytes > c.maps_bytes => format!(
                    "; Pss {} below the rollup from per-mapping rounding",
                    b(c.rollup_bytes - c.maps_bytes)
                ),
                _ => String::new(),
            };
            writeln!(w, "Totals match /proc/{}/smaps_rollup ({}{rounding}).", v.pid, ok.join(", "))?;
        }
    } else if let Some(why) = &v.rollup_unavailable {
        writeln!(w, "{}", wrap(&format!("Not compared with smaps_rollup: {why}"), s.width, "", "  "))?;
    }
    for n in &v.notes {
        writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
    }
    Ok(())
}
