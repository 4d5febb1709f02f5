//! `memscope phys` and `memscope pages PID` output: table, JSON, CSV.
//!
//! JSON schemas (docs/json.md): `memscope.phys/1` is the [`PhysReport`]
//! with `schema` and `taken_at` added; `memscope.pages/1` is the
//! [`PagesReport`] likewise. Flags are hex strings with their names beside
//! them; every size is `*_bytes`.

use std::io::{self, Write};

use crate::table::{Cell, Color};
use memscope_analysis::census::{CLASSES, CheckRow, FlagRow, FlagView, GroupBy, PhysReport};
use memscope_analysis::pages::{ListMode, MappingRow, PagesReport};
use memscope_analysis::{fmt_bytes, fmt_pct};
use memscope_kernel::parse::kpageflags as kpf;
use serde::Serialize;

use crate::style::{self, Style, timestamp, wrap};

/// The JSON schema name of `memscope phys`.
pub const PHYS_SCHEMA: &str = "memscope.phys/1";
/// The JSON schema name of `memscope pages`.
pub const PAGES_SCHEMA: &str = "memscope.pages/1";

#[derive(Serialize)]
struct Doc<'a, T: Serialize> {
    schema: &'static str,
    taken_at: String,
    #[serde(flatten)]
    body: &'a T,
}

/// `memscope phys --json`.
pub fn write_phys_json(w: &mut dyn Write, r: &PhysReport) -> io::Result<()> {
    let doc = Doc { schema: PHYS_SCHEMA, taken_at: timestamp(r.taken_at_unix_ms), body: r };
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

/// `memscope pages --json`.
pub fn write_pages_json(w: &mut dyn Write, r: &PagesReport) -> io::Result<()> {
    let doc = Doc { schema: PAGES_SCHEMA, taken_at: timestamp(r.taken_at_unix_ms), body: r };
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

fn b(v: u64) -> String {
    fmt_bytes(v as i64)
}

fn ob(v: Option<u64>) -> String {
    v.map(b).unwrap_or_else(|| "-".into())
}

fn view_name(v: FlagView) -> &'static str {
    match v {
        FlagView::WellKnown => "well-known flags (--raw shows every bit)",
        FlagView::Raw => "raw flags, overloaded bits expanded",
    }
}

fn flag_table(w: &mut dyn Write, s: &Style, rows: &[FlagRow], total_pages: u64, page: u64) -> io::Result<()> {
    let mut t = s.table(&["flags", "pages", "bytes", "%", "names"]);
    for r in rows {
        t.add_row(vec![
            s.dim(format!("0x{:016x}", r.flags)),
            s.num(r.pages),
            s.num(b(r.bytes)),
            s.num(fmt_pct(r.pages as i64, total_pages as i64)),
            Cell::new(kpf::describe(r.flags)),
        ]);
    }
    t.add_row(vec![
        Cell::new("total"),
        s.num(total_pages),
        s.num(b(total_pages * page)),
        s.num(""),
        s.dim(format!("{} flag sets", rows.len())),
    ]);
    style::write_table(w, &t)
}

fn signed(v: Option<i64>) -> String {
    match v {
        Some(x) if x > 0 => format!("+{}", fmt_bytes(x)),
        Some(x) => fmt_bytes(x),
        None => "-".into(),
    }
}

fn check_table(w: &mut dyn Write, s: &Style, rows: &[CheckRow]) -> io::Result<()> {
    let mut t = s.table(&["", "page flags", "counter", "difference", "drift", "counter / page rule"]);
    for r in rows {
        let off = match (r.difference_bytes, r.counter_bytes, r.drift_bytes) {
            (Some(d), Some(c), drift) => {
                let slack = drift.unwrap_or(0).max(c.abs() / 50).max(4 << 20);
                d.abs() > slack
            }
            _ => false,
        };
        let diff = signed(r.difference_bytes);
        let what = match &r.reason {
            Some(reason) => format!("{} · unavailable: {reason}", r.counter),
            None => format!("{} · {}", r.counter, r.pages_rule),
        };
        t.add_row(vec![
            Cell::new(r.label),
            s.num(r.page_view_bytes.map(fmt_bytes).unwrap_or_else(|| "-".into())),
            s.num(r.counter_bytes.map(fmt_bytes).unwrap_or_else(|| "-".into())),
            if off { s.colored(diff, Color::Yellow) } else { s.num(diff) },
            s.num(r.drift_bytes.map(fmt_bytes).unwrap_or_else(|| "-".into())),
            s.dim(what),
        ]);
    }
    style::write_table(w, &t)
}

fn notes(w: &mut dyn Write, s: &Style, notes: &[String]) -> io::Result<()> {
    if notes.is_empty() {
        return Ok(());
    }
    writeln!(w, "\n{}", s.heading("Notes"))?;
    for n in notes {
        writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
    }
    Ok(())
}

/// `memscope phys` as tables.
pub fn write_phys_table(w: &mut dyn Write, r: &PhysReport, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let page = r.page_size_bytes;
    writeln!(
        w,
        "{}",
        s.heading(&format!(
            "Physical memory{} at {}",
            r.kernel.as_deref().map(|k| format!(" of kernel {k}")).unwrap_or_default(),
            timestamp(r.taken_at_unix_ms)
        ))
    )?;
    let range = if r.ranges.is_empty() {
        String::new()
    } else {
        let parts: Vec<String> = r
            .ranges
            .iter()
            .map(|(a, e)| if *e == u64::MAX { format!("{a}-end") } else { format!("{a}-{}", e - 1) })
            .collect();
        format!(" in PFNs {}", parts.join(", "))
    };
    writeln!(
        w,
        "{} page frames of {}{range} ({}), read in {:.2} s on {} thread(s); {}.",
        r.scanned_pages,
        b(page),
        b(r.scanned_pages * page),
        r.elapsed_usec as f64 / 1e6,
        r.threads,
        view_name(r.view),
    )?;
    if !r.filters.is_empty() {
        writeln!(w, "Pages matching --bits {}: {} ({}).", r.filters.join(" "), r.pages, b(r.bytes))?;
    }
    writeln!(w)?;
    if r.group_by == GroupBy::None {
        flag_table(w, s, &r.flags, r.pages, page)?;
    } else {
        group_table(w, s, r)?;
    }

    if let Some(c) = &r.cross_check {
        writeln!(w, "\n{}", s.heading("Cross-check: page flags against the kernel's counters"))?;
        check_table(w, s, &c.rows)?;
    }
    if let Some(m) = &r.mapcount
        && !m.is_empty()
    {
        writeln!(w, "\n{}", s.heading("Pages by map count (kpagecount)"))?;
        let mut t = s.table(&["map count", "pages", "bytes"]);
        for row in m {
            let label = match row.max {
                Some(hi) if hi == row.min => row.min.to_string(),
                Some(hi) => format!("{}-{hi}", row.min),
                None => format!("{}+", row.min),
            };
            t.add_row(vec![s.num(label), s.num(row.pages), s.num(b(row.bytes))]);
        }
        style::write_table(w, &t)?;
    }
    if let Some(m) = &r.memcg
        && r.group_by != GroupBy::Memcg
        && !m.is_empty()
    {
        let top = 8;
        writeln!(w, "\n{}", s.heading("Memory cgroups (kpagecgroup), largest first"))?;
        let mut t = s.table(&["memory cgroup", "pages", "bytes"]);
        for row in m.iter().take(top) {
            t.add_row(vec![Cell::new(&row.path), s.num(row.pages), s.num(b(row.bytes))]);
        }
        style::write_table(w, &t)?;
        if m.len() > top {
            writeln!(w, "({} more; --by memcg lists all)", m.len() - top)?;
        }
    }
    let mut all_notes = r.notes.clone();
    for (what, why) in [
        ("Map counts", &r.mapcount_unavailable),
        ("Memory cgroups", &r.memcg_unavailable),
        ("Cross-check", &r.cross_check_unavailable),
    ] {
        if let Some(why) = why {
            all_notes.push(format!("{what} unavailable: {why}"));
        }
    }
    if let Some(c) = &r.cross_check {
        all_notes.extend(c.notes.iter().cloned());
    }
    notes(w, s, &all_notes)
}

fn group_table(w: &mut dyn Write, s: &Style, r: &PhysReport) -> io::Result<()> {
    let used: Vec<usize> =
        (0..CLASSES.len()).filter(|i| r.groups.iter().any(|g| g.class_bytes[CLASSES[*i].key] > 0)).collect();
    let first = match r.group_by {
        GroupBy::Zone => "zone",
        GroupBy::Node => "node",
        GroupBy::Memcg => "memory cgroup",
        GroupBy::None => "",
    };
    let mut header: Vec<&str> = vec![first, "bytes"];
    header.extend(used.iter().map(|i| CLASSES[*i].label));
    let mut t = s.table(&header);
    for g in &r.groups {
        let mut row = vec![Cell::new(&g.name), s.num(b(g.bytes))];
        row.extend(used.iter().map(|i| s.num(b(g.class_bytes[CLASSES[*i].key]))));
        t.add_row(row);
    }
    style::write_table(w, &t)?;
    writeln!(
        w,
        "{}",
        wrap(
            &format!(
                "Classes: {}",
                used.iter()
                    .map(|i| format!("{}: {}", CLASSES[*i].label, CLASSES[*i].help))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            s.width,
            "",
            "  "
        )
    )
}

/// `memscope phys --csv`: the flag sets, or the groups with `--by`.
pub fn write_phys_csv(w: &mut dyn Write, r: &PhysReport) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    if r.group_by == GroupBy::None {
        c.write_record(["flags", "names", "pages", "bytes"])?;
        for f in &r.flags {
            c.write_record([
                format!("0x{:016x}", f.flags),
                f.names.join(","),
                f.pages.to_string(),
                f.bytes.to_string(),
            ])?;
        }
    } else {
        let mut header = vec!["group".to_string(), "key".into(), "pages".into(), "bytes".into()];
        header.extend(CLASSES.iter().map(|c| format!("{}_bytes", c.key)));
        c.write_record(&header)?;
        for g in &r.groups {
            let mut row = vec![
                g.name.clone(),
                g.key.map(|k| k.to_string()).unwrap_or_default(),
                g.pages.to_string(),
                g.bytes.to_string(),
            ];
            row.extend(CLASSES.iter().map(|cl| g.class_bytes[cl.key].to_string()));
            c.write_record(&row)?;
        }
    }
    c.flush()
}

// ------------------------------------------------------------ pages PID

fn mapping_cells(s: &Style, m: &MappingRow, flags_known: bool) -> Vec<Cell> {
    let addr = if m.label == "total" { String::new() } else { format!("{:x}-{:x}", m.start, m.end) };
    let mut cells = vec![
        s.dim(addr),
        s.dim(&m.perms),
        s.num(b(m.size_bytes)),
        s.num(b(m.present_bytes)),
        s.num(b(m.swapped_bytes)),
        s.num(b(m.anon_bytes)),
        s.num(b(m.file_bytes)),
        s.num(b(m.present_bytes - m.exclusive_bytes.min(m.present_bytes))),
    ];
    if flags_known {
        cells.push(s.num(ob(m.thp_bytes)));
        cells.push(s.num(ob(m.mlocked_bytes)));
    }
    let label = if m.not_walked { format!("{} (not in pagemap)", m.label) } else { m.label.clone() };
    cells.push(Cell::new(label));
    cells
}

/// `memscope pages PID` as tables (or the page list with `--list`).
pub fn write_pages_table(w: &mut dyn Write, r: &PagesReport, list: ListMode, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let page = r.page_size_bytes;
    let flags_known = r.flags_unavailable.is_none();
    if list != ListMode::None {
        return write_page_list(w, r, list);
    }
    writeln!(
        w,
        "{}",
        s.heading(&format!(
            "Pages of process {}{} at {}",
            r.pid,
            r.comm.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(),
            timestamp(r.taken_at_unix_ms)
        ))
    )?;
    writeln!(
        w,
        "{} mappings, {} virtual pages read in {:.3} s ({} kpage reads); {}.",
        r.mappings.len(),
        r.vpages_read,
        r.elapsed_usec as f64 / 1e6,
        r.kpage_reads,
        view_name(r.view)
    )?;
    if !r.filters.is_empty() {
        writeln!(w, "Only pages matching --bits {}.", r.filters.join(" "))?;
    }
    writeln!(w)?;
    if flags_known {
        let total: u64 = r.flags.iter().map(|f| f.pages).sum();
        flag_table(w, s, &r.flags, total, page)?;
        writeln!(w)?;
    }
    let mut header = vec!["address", "perms", "size", "present", "swapped", "anon", "file/shared", "shared"];
    if flags_known {
        header.extend(["thp", "mlocked"]);
    }
    header.push("mapping");
    let mut t = s.table(&header);
    let mut hidden = 0;
    for m in &r.mappings {
        if !s.all && m.present_bytes == 0 && m.swapped_bytes == 0 && !m.not_walked {
            hidden += 1;
            continue;
        }
        t.add_row(mapping_cells(s, m, flags_known));
    }
    t.add_row(mapping_cells(s, &r.totals, flags_known));
    style::write_table(w, &t)?;
    if hidden > 0 {
        writeln!(w, "({hidden} mappings with nothing present or swapped; --all shows them.)")?;
    }
    if let Some(mc) = &r.mapcount {
        writeln!(w, "\n{}", s.heading("Pages by map count (kpagecount)"))?;
        let mut t = s.table(&["map count", "pages", "bytes"]);
        for m in mc {
            t.add_row(vec![s.num(m.mapcount), s.num(m.pages), s.num(b(m.pages * page))]);
        }
        style::write_table(w, &t)?;
    }
    if let Some(mg) = &r.memcg {
        writeln!(w, "\n{}", s.heading("Pages by memory cgroup (kpagecgroup)"))?;
        let mut t = s.table(&["memory cgroup", "pages", "bytes"]);
        for m in mg {
            t.add_row(vec![Cell::new(&m.path), s.num(m.pages), s.num(b(m.bytes))]);
        }
        style::write_table(w, &t)?;
    }
    let mut all = Vec::new();
    if let Some(e) = &r.ended_early {
        all.push(format!("Incomplete: {e}."));
    }
    if let Some(why) = &r.flags_unavailable {
        all.push(format!(
            "Page flags (THP, mlocked, flag sets) unavailable: {why}. The pagemap columns are complete."
        ));
    }
    all.extend(r.unavailable.iter().map(|u| format!("Unavailable: {u}")));
    all.push(
        "shared = present pages also mapped by another process (pagemap's exclusive bit clear); \
         file/shared = file pages and shared anonymous memory."
            .to_string(),
    );
    all.extend(r.notes.iter().cloned());
    notes(w, s, &all)
}

/// page-types `-l` / `-L` style: one line per run (or page), tab-separated.
fn write_page_list(w: &mut dyn Write, r: &PagesReport, list: ListMode) -> io::Result<()> {
    let mapcount = r.runs.iter().any(|x| x.mapcount.is_some());
    let cgroup = r.runs.iter().any(|x| x.cgroup.is_some());
    let mut head = vec!["voffset"];
    if cgroup {
        head.push("cgroup");
    }
    if mapcount {
        head.push("map-cnt");
    }
    head.push("offset");
    if list == ListMode::Runs {
        head.push("len");
    }
    head.push("flags");
    writeln!(w, "{}", head.join("\t"))?;
    for x in &r.runs {
        let mut f: Vec<String> = vec![format!("{:x}", x.vpage)];
        if cgroup {
            f.push(x.cgroup.map(|c| format!("@{c}")).unwrap_or_else(|| "-".into()));
        }
        if mapcount {
            f.push(x.mapcount.map(|c| c.to_string()).unwrap_or_else(|| "-".into()));
        }
        f.push(match (x.pfn, x.swap_offset) {
            (Some(p), _) => format!("{p:x}"),
            (None, Some(o)) => format!("swap:{o:x}"),
            (None, None) => "-".into(),
        });
        if list == ListMode::Runs {
            f.push(format!("{:x}", x.pages));
        }
        f.push(x.flags.map(kpf::describe).unwrap_or_else(|| "(unknown)".into()));
        writeln!(w, "{}", f.join("\t"))?;
    }
    if let Some(e) = &r.ended_early {
        writeln!(w, "# incomplete: {e}")?;
    }
    Ok(())
}

/// `memscope pages --csv`: the mappings, or the page list with `--list`.
pub fn write_pages_csv(w: &mut dyn Write, r: &PagesReport, list: ListMode) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    if list != ListMode::None {
        c.write_record(["vaddr", "pfn", "swap_offset", "pages", "flags", "names", "mapcount", "cgroup"])?;
        let o = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
        for x in &r.runs {
            c.write_record([
                format!("0x{:x}", x.vpage * r.page_size_bytes),
                o(x.pfn),
                o(x.swap_offset),
                x.pages.to_string(),
                x.flags.map(|f| format!("0x{f:016x}")).unwrap_or_default(),
                x.flags.map(|f| kpf::names(f).join(",")).unwrap_or_default(),
                o(x.mapcount),
                o(x.cgroup),
            ])?;
        }
        return c.flush();
    }
    c.write_record([
        "start",
        "end",
        "perms",
        "mapping",
        "size_bytes",
        "present_bytes",
        "swapped_bytes",
        "anon_bytes",
        "file_bytes",
        "exclusive_bytes",
        "soft_dirty_bytes",
        "thp_bytes",
        "mlocked_bytes",
        "unevictable_bytes",
    ])?;
    let o = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
    for m in &r.mappings {
        c.write_record([
            format!("0x{:x}", m.start),
            format!("0x{:x}", m.end),
            m.perms.clone(),
            m.label.clone(),
            m.size_bytes.to_string(),
            m.present_bytes.to_string(),
            m.swapped_bytes.to_string(),
            m.anon_bytes.to_string(),
            m.file_bytes.to_string(),
            m.exclusive_bytes.to_string(),
            m.soft_dirty_bytes.to_string(),
            o(m.thp_bytes),
            o(m.mlocked_bytes),
            o(m.unevictable_bytes),
        ])?;
    }
    c.flush()
}

/// The page flags, one per line, for `--help` text and `memscope phys
/// --list-flags`: bit, name, kind, meaning.
pub fn write_flag_help(w: &mut dyn Write, s: &Style) -> io::Result<()> {
    let mut t = s.table(&["bit", "name", "kind", "meaning"]);
    for f in kpf::FLAGS {
        t.add_row(vec![s.num(f.bit), Cell::new(f.name), s.dim(f.kind.name()), Cell::new(f.help)]);
    }
    style::write_table(w, &t)
}
