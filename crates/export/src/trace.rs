//! `memscope trace` as text (a call-site tree beside the ledger's growth),
//! folded stacks for flame graphs, CSV (one row per site) and JSON
//! (`"schema": "memscope.trace/1"`, documented in docs/json.md):
//!
//! ```text
//! { schema, mode: "ebpf", kernel, started_at, window_seconds, what, sample_every, kernel_only, headline,
//!   outstanding_bytes, outstanding_allocations, by_category: {line: bytes},
//!   ledger_growth: [{category, label, before_bytes, after_bytes, growth_bytes, outstanding_bytes,
//!                    top_site, top_site_bytes}],
//!   sites: [{function, module?, kind, category, bytes, allocations, processes: [{pid, comm, bytes}],
//!            callers: [{function, module?, bytes, allocations, callers}]}], other_sites, other_sites_bytes,
//!   stacks: [{kind, category, bytes, allocations, stack, pid, frames: [{function, module?}]}],
//!   counters: {…}, programs: [{name, tracepoint, id, run_count, run_time_ns, recursion_misses}],
//!   cost: {events, events_per_second, ns_per_event, cpu_fraction},
//!   tables: {max_allocations, max_stacks, stack_depth, memory_bytes}, notes: [..] }
//! { schema, mode: "allocinfo", version, window_seconds, headline, total_bytes, total_growth_bytes,
//!   sites: [{location, function, module?, bytes, calls, growth_bytes?, growth_calls?, accurate}],
//!   other_sites, other_sites_bytes, ledger_growth: [...], notes: [..] }
//! ```

use std::io::{self, Write};

use crate::table::{Cell, Color};
use memscope_analysis::allocinfo::AllocinfoReport;
use memscope_analysis::fmt_bytes;
use memscope_analysis::trace::{CallerNode, Growth, TraceReport, category_label, folded};
use memscope_model::trace::TraceSample;
use serde::Serialize;
use serde_json::json;

use crate::style::{self, Style, timestamp, wrap};

/// The JSON schema name of `memscope trace` (both modes).
pub const TRACE_SCHEMA: &str = "memscope.trace/1";

fn signed(v: i64) -> String {
    if v > 0 { format!("+{}", fmt_bytes(v)) } else { fmt_bytes(v) }
}

fn count(n: u64) -> String {
    match n {
        0..10_000 => n.to_string(),
        10_000..10_000_000 => format!("{:.0} k", n as f64 / 1e3),
        _ => format!("{:.1} M", n as f64 / 1e6),
    }
}

fn what_text(r: &TraceReport, sample: &TraceSample) -> &'static str {
    match (r.what, sample.kernel_only) {
        (memscope_model::trace::What::Pages, false) => "page allocations",
        (memscope_model::trace::What::Pages, true) => "kernel page allocations",
        (memscope_model::trace::What::Slab, _) => "slab objects",
        (memscope_model::trace::What::All, false) => "pages and slab objects",
        (memscope_model::trace::What::All, true) => "kernel pages and slab objects",
    }
}

/// Write the report for people.
pub fn write_text(w: &mut dyn Write, r: &TraceReport, sample: &TraceSample, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let sampled = if r.sample_every > 1 {
        format!("one allocation in {} recorded, figures scaled", r.sample_every)
    } else {
        "every allocation recorded".to_string()
    };
    writeln!(
        w,
        "{}",
        s.heading(&format!(
            "Kernel allocations made during {:.1} s from {} and still held at its end ({}, {sampled})",
            r.window_seconds,
            timestamp(sample.started_at_unix_ms),
            what_text(r, sample),
        ))
    )?;
    writeln!(w, "{}\n", wrap(&r.headline, s.width, "", "  "))?;

    if !r.growth.is_empty() {
        write_growth(w, &r.growth, true, s)?;
        writeln!(w)?;
    }

    if r.sites.is_empty() {
        writeln!(
            w,
            "No call site holds {} or more of what it allocated during the window.",
            if r.other_sites_bytes > 0 { "that much" } else { "anything" }
        )?;
    } else {
        writeln!(
            w,
            "{}",
            s.heading(
                "Call sites still holding memory (first frame outside the allocators; its callers below)"
            )
        )?;
        let mut t = s.table(&["outstanding", "allocs", "kind", "ledger line", "site ← callers"]);
        for site in &r.sites {
            let cat = category_label(site.category);
            let cat_cell =
                if site.category == "unaccounted" { s.colored(cat, Color::Yellow) } else { s.dim(cat) };
            t.add_row(vec![
                s.num(fmt_bytes(site.bytes as i64)),
                s.num(count(site.allocations)),
                s.dim(site.kind.name()),
                cat_cell,
                Cell::new(site.frame.label()),
            ]);
            if !site.processes.is_empty() {
                let who: Vec<String> = site
                    .processes
                    .iter()
                    .map(|p| {
                        if site.processes.len() == 1 {
                            p.label()
                        } else {
                            format!("{} {}", p.label(), fmt_bytes(p.bytes as i64))
                        }
                    })
                    .collect();
                let more = if site.processes.len() == memscope_analysis::trace::SITE_PROCESSES {
                    ", …"
                } else {
                    ""
                };
                t.add_row(vec![
                    s.num(""),
                    s.num(""),
                    s.dim(""),
                    s.dim(""),
                    s.dim(format!("  in {}{more}", who.join(", "))),
                ]);
            }
            let mut lines = Vec::new();
            caller_lines(&site.callers, 1, site.bytes, site.bytes, &mut lines);
            for (bytes, allocs, text) in lines {
                let (b, a) = match bytes {
                    Some(b) => (s.num(fmt_bytes(b as i64)), s.num(count(allocs))),
                    None => (s.num(""), s.num("")),
                };
                t.add_row(vec![b, a, s.dim(""), s.dim(""), s.dim(text)]);
            }
        }
        style::write_table(w, &t)?;
        if r.other_sites > 0 {
            writeln!(
                w,
                "({} more sites hold {}; --min-bytes and --top show them.)",
                r.other_sites,
                fmt_bytes(r.other_sites_bytes as i64)
            )?;
        }
    }

    writeln!(w)?;
    let c = &r.cost;
    let per_event = match (c.ns_per_event, c.cpu_fraction) {
        (Some(ns), Some(f)) => format!(", {} per event = {:.2}% of one CPU", fmt_ns(ns), f * 100.0),
        _ => ", run time not measured (BPF statistics need kernel 5.8+)".to_string(),
    };
    let tables =
        sample.map_memory_bytes.map(|m| format!("; tables {}", fmt_bytes(m as i64))).unwrap_or_default();
    writeln!(
        w,
        "{}",
        wrap(
            &format!(
                "Tracer: {} events ({}/s){per_event}{tables}; {} allocations recorded, {} freed within the window.",
                count(c.events),
                count(c.events_per_second as u64),
                count(sample.counters.tracked),
                count(sample.counters.frees_matched),
            ),
            s.width,
            "",
            "  "
        )
    )?;
    writeln!(w, "\n{}", s.heading("Notes"))?;
    for n in &r.notes {
        writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
    }
    Ok(())
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1000.0 { format!("{:.1} µs", ns / 1000.0) } else { format!("{ns:.0} ns") }
}

/// Caller lines under a site: single-caller chains on one line
/// (`← a ← b ← c`), branches indented; bytes shown where a branch splits
/// the parent's bytes. Branches under a tenth of the site are left out.
fn caller_lines(
    nodes: &[CallerNode],
    indent: usize,
    parent_bytes: u64,
    site_bytes: u64,
    out: &mut Vec<(Option<u64>, u64, String)>,
) {
    let shown: Vec<&CallerNode> = nodes.iter().filter(|n| n.bytes * 10 >= site_bytes).take(4).collect();
    for node in &shown {
        let mut text = format!("{}← {}", "  ".repeat(indent), node.frame.label());
        let mut cur = *node;
        while cur.callers.len() == 1 {
            cur = &cur.callers[0];
            text.push_str(" ← ");
            text.push_str(&cur.frame.label());
        }
        let bytes = (node.bytes != parent_bytes).then_some(node.bytes);
        out.push((bytes, node.allocations, text));
        caller_lines(&cur.callers, indent + 1, node.bytes, site_bytes, out);
    }
    let hidden: Vec<&CallerNode> =
        nodes.iter().filter(|n| !shown.iter().any(|s| std::ptr::eq(*s, *n))).collect();
    let rest: u64 = hidden.iter().map(|n| n.bytes).sum();
    if !hidden.is_empty() && rest > 0 {
        let allocs = hidden.iter().map(|n| n.allocations).sum();
        out.push((
            Some(rest),
            allocs,
            format!(
                "{}← {} other caller{}",
                "  ".repeat(indent),
                hidden.len(),
                if hidden.len() == 1 { "" } else { "s" }
            ),
        ));
    }
}

fn write_growth(w: &mut dyn Write, rows: &[Growth], with_trace: bool, s: &Style) -> io::Result<()> {
    writeln!(w, "{}", s.heading("Beside the ledger (start → end of the window)"))?;
    let header: &[&str] = if with_trace {
        &["ledger line", "start", "end", "grew", "outstanding", "largest site"]
    } else {
        &["ledger line", "start", "end", "grew"]
    };
    let mut t = s.table(header);
    let opt = |v: Option<i64>| v.map(fmt_bytes).unwrap_or_else(|| "unavailable".into());
    for g in rows {
        let grew = g.growth_bytes.map(signed).unwrap_or_else(|| "unavailable".into());
        let label =
            if g.category == "unaccounted" { s.colored(g.label, Color::Yellow) } else { Cell::new(g.label) };
        let mut row = vec![label, s.num(opt(g.before_bytes)), s.num(opt(g.after_bytes)), s.num(grew)];
        if with_trace {
            let site = match (&g.top_site, g.top_site_bytes) {
                (Some(t), Some(b)) => format!("{t} ({})", fmt_bytes(b as i64)),
                _ => String::new(),
            };
            row.push(s.num(fmt_bytes(g.outstanding_bytes as i64)));
            row.push(s.dim(site));
        }
        t.add_row(row);
    }
    style::write_table(w, &t)
}

/// Folded stacks (`kind;outermost;…;innermost bytes`), for flamegraph.pl
/// or inferno.
pub fn write_folded(w: &mut dyn Write, r: &TraceReport) -> io::Result<()> {
    for (stack, bytes) in folded(r) {
        writeln!(w, "{stack} {bytes}")?;
    }
    Ok(())
}

/// One row per site.
pub fn write_csv(w: &mut dyn Write, r: &TraceReport) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record(["site", "module", "kind", "category", "bytes", "allocations", "path"])?;
    for site in &r.sites {
        c.write_record([
            site.frame.function.as_str(),
            site.frame.module.as_deref().unwrap_or(""),
            site.kind.name(),
            site.category,
            &site.bytes.to_string(),
            &site.allocations.to_string(),
            &site.path_label(8),
        ])?;
    }
    c.flush()?;
    Ok(())
}

#[derive(Serialize)]
struct FrameJson<'a> {
    function: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    module: Option<&'a str>,
}

fn caller_json(n: &CallerNode) -> serde_json::Value {
    let mut v = json!({
        "function": n.frame.function,
        "bytes": n.bytes,
        "allocations": n.allocations,
    });
    if let Some(m) = &n.frame.module {
        v["module"] = json!(m);
    }
    if !n.callers.is_empty() {
        v["callers"] = n.callers.iter().map(caller_json).collect();
    }
    v
}

/// Write the JSON document; `kernel` is the release traced, `min_bytes`
/// the smallest stack listed under `stacks`.
pub fn write_json(
    w: &mut dyn Write,
    r: &TraceReport,
    sample: &TraceSample,
    kernel: Option<&str>,
    min_bytes: u64,
) -> io::Result<()> {
    let sites: Vec<serde_json::Value> = r
        .sites
        .iter()
        .map(|s| {
            let mut v = json!({
                "function": s.frame.function,
                "kind": s.kind,
                "category": s.category,
                "bytes": s.bytes,
                "allocations": s.allocations,
                "callers": s.callers.iter().map(caller_json).collect::<Vec<_>>(),
                "processes": s.processes,
            });
            if let Some(m) = &s.frame.module {
                v["module"] = json!(m);
            }
            v
        })
        .collect();
    let stacks: Vec<serde_json::Value> = r
        .stacks
        .iter()
        .filter(|st| st.bytes >= min_bytes)
        .map(|st| {
            json!({
                "kind": st.kind,
                "category": st.category,
                "bytes": st.bytes,
                "allocations": st.allocations,
                "stack": st.stack,
                "pid": st.pid,
                "frames": st.frames.iter().map(|f| FrameJson { function: &f.function, module: f.module.as_deref() }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let doc = json!({
        "schema": TRACE_SCHEMA,
        "mode": "ebpf",
        "kernel": kernel,
        "started_at": timestamp(sample.started_at_unix_ms),
        "started_at_unix_ms": sample.started_at_unix_ms,
        "window_seconds": r.window_seconds,
        "what": r.what,
        "sample_every": r.sample_every,
        "kernel_only": sample.kernel_only,
        "headline": r.headline,
        "outstanding_bytes": r.outstanding_bytes,
        "outstanding_allocations": r.outstanding_allocations,
        "by_category": r.by_category,
        "ledger_growth": r.growth,
        "sites": sites,
        "other_sites": r.other_sites,
        "other_sites_bytes": r.other_sites_bytes,
        "stacks": stacks,
        "stacks_min_bytes": min_bytes,
        "counters": sample.counters,
        "programs": sample.programs,
        "cost": r.cost,
        "tables": {
            "max_allocations": sample.max_allocations,
            "max_stacks": sample.max_stacks,
            "stack_depth": sample.stack_depth,
            "memory_bytes": sample.map_memory_bytes,
        },
        "mounted_tracefs": sample.mounted_tracefs,
        "notes": r.notes,
    });
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

/// `--allocinfo` for people.
pub fn write_allocinfo_text(w: &mut dyn Write, r: &AllocinfoReport, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let title = match r.window_seconds {
        Some(secs) => format!("Allocation call sites that grew during {secs:.1} s (/proc/allocinfo)"),
        None => "Allocation call sites by bytes held (/proc/allocinfo, since boot)".to_string(),
    };
    writeln!(w, "{}", s.heading(&title))?;
    writeln!(w, "{}\n", wrap(&r.headline, s.width, "", "  "))?;
    if !r.growth.is_empty() {
        write_growth(w, &r.growth, false, s)?;
        writeln!(w)?;
    }
    let windowed = r.window_seconds.is_some();
    let header: &[&str] = if windowed {
        &["grew", "allocs", "held", "site", "function"]
    } else {
        &["held", "allocs", "site", "function"]
    };
    let mut t = s.table(header);
    for row in &r.sites {
        let f = match &row.module {
            Some(m) => format!("{} [{m}]", row.function.as_deref().unwrap_or("?")),
            None => row.function.clone().unwrap_or_else(|| "?".into()),
        };
        let f = if row.accurate { f } else { format!("{f} (accurate:no)") };
        let mut cells = Vec::new();
        if windowed {
            cells.push(s.num(row.growth_bytes.map(signed).unwrap_or_default()));
            cells.push(s.num(row.growth_calls.map(|c| format!("{c:+}")).unwrap_or_default()));
        } else {
            cells.push(s.num(fmt_bytes(row.bytes)));
            cells.push(s.num(row.calls));
        }
        if windowed {
            cells.push(s.num(fmt_bytes(row.bytes)));
        }
        cells.push(s.dim(&row.location));
        cells.push(Cell::new(f));
        t.add_row(cells);
    }
    style::write_table(w, &t)?;
    if r.other_sites > 0 {
        writeln!(
            w,
            "({} more sites: {}; --min-bytes and --top show them.)",
            r.other_sites,
            if windowed { signed(r.other_sites_bytes) } else { fmt_bytes(r.other_sites_bytes) }
        )?;
    }
    writeln!(w, "\n{}", s.heading("Notes"))?;
    for n in &r.notes {
        writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
    }
    Ok(())
}

/// `--allocinfo` as JSON.
pub fn write_allocinfo_json(w: &mut dyn Write, r: &AllocinfoReport) -> io::Result<()> {
    let doc = json!({
        "schema": TRACE_SCHEMA,
        "mode": "allocinfo",
        "version": r.version,
        "window_seconds": r.window_seconds,
        "headline": r.headline,
        "total_bytes": r.total_bytes,
        "total_growth_bytes": r.total_growth_bytes,
        "sites": r.sites,
        "other_sites": r.other_sites,
        "other_sites_bytes": r.other_sites_bytes,
        "ledger_growth": r.growth,
        "notes": r.notes,
    });
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

/// `--allocinfo` as CSV, one row per site shown.
pub fn write_allocinfo_csv(w: &mut dyn Write, r: &AllocinfoReport) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record([
        "location",
        "function",
        "module",
        "bytes",
        "calls",
        "growth_bytes",
        "growth_calls",
        "accurate",
    ])?;
    for row in &r.sites {
        c.write_record([
            row.location.as_str(),
            row.function.as_deref().unwrap_or(""),
            row.module.as_deref().unwrap_or(""),
            &row.bytes.to_string(),
            &row.calls.to_string(),
            &row.growth_bytes.map(|g| g.to_string()).unwrap_or_default(),
            &row.growth_calls.map(|g| g.to_string()).unwrap_or_default(),
            if row.accurate { "true" } else { "false" },
        ])?;
    }
    c.flush()?;
    Ok(())
}
