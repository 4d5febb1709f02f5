//! `memscope trace --pid` as text (call sites with their callers, beside
//! each process's own growth), folded stacks, CSV (one row per site) and
//! JSON (`"schema": "memscope.trace/1"`, `"mode": "user"`):
//!
//! ```text
//! { schema, mode: "user", started_at, window_seconds, sample_every, min_size_bytes, headline,
//!   processes: [{pid, comm, allocator, library, exited, outstanding_bytes, outstanding_allocations,
//!                before: {rss_bytes, anon_bytes, heap_bytes, anon_mapped_bytes}, after: {…},
//!                anon_growth_bytes}],
//!   sites: [{pid, kind, function, location, module, bytes, allocations, callers: [..], stacks,
//!            frame_pointer, truncated}], other_sites, other_sites_bytes,
//!   stacks: [{kind, pid, bytes, allocations, stack, truncated_at_frame,
//!             frames: [{addr, module, function, file, line, inlined?, frame_pointer}]}],
//!   targets: [...], counters: {…}, programs: [...], notes: [..] }
//! ```

use std::io::{self, Write};

use memscope_analysis::fmt_bytes;
use memscope_analysis::utrace::{ProcessMemory, UserTraceReport};
use memscope_model::utrace::UserTraceSample;
use serde_json::json;

use crate::style::{self, Style, timestamp, wrap};
use crate::trace::TRACE_SCHEMA;

fn opt_bytes(v: Option<u64>) -> String {
    v.map(|b| fmt_bytes(b as i64)).unwrap_or_else(|| "unavailable".into())
}

fn delta(a: Option<u64>, b: Option<u64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => {
            let d = b as i64 - a as i64;
            if d > 0 { format!("+{}", fmt_bytes(d)) } else { fmt_bytes(d) }
        }
        _ => "unavailable".into(),
    }
}

/// Write the report for people.
pub fn write_text(
    w: &mut dyn Write,
    r: &UserTraceReport,
    sample: &UserTraceSample,
    s: &Style,
) -> io::Result<()> {
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
            "User allocations made during {:.1} s from {} and still held at its end ({sampled})",
            r.window_seconds,
            timestamp(sample.started_at_unix_ms),
        ))
    )?;
    writeln!(w, "{}\n", wrap(&r.headline, s.width, "", "  "))?;

    let mut t =
        s.table(&["pid", "command", "allocator", "outstanding", "anon growth", "heap", "mmap'd anon", "rss"]);
    for p in &r.processes {
        let m = |f: fn(&ProcessMemory) -> Option<u64>| {
            if p.exited { "exited".to_string() } else { delta(f(&p.before), f(&p.after)) }
        };
        t.add_row(vec![
            s.num(p.pid.to_string()),
            crate::table::Cell::new(&p.comm),
            s.dim(p.allocator),
            s.num(fmt_bytes(p.outstanding_bytes as i64)),
            s.num(m(|x| x.anon_bytes)),
            s.num(m(|x| x.heap_bytes)),
            s.num(m(|x| x.anon_mapped_bytes)),
            s.num(if p.exited { "exited".into() } else { opt_bytes(p.after.rss_bytes) }),
        ]);
    }
    style::write_table(w, &t)?;
    writeln!(w)?;

    if r.sites.is_empty() {
        if r.other_sites_bytes > 0 {
            writeln!(
                w,
                "No call site holds --min-bytes or more; {} sites hold {} together.",
                r.other_sites,
                fmt_bytes(r.other_sites_bytes as i64)
            )?;
        } else {
            writeln!(w, "Nothing allocated during the window is still held.")?;
        }
    } else {
        writeln!(
            w,
            "{}",
            s.heading("Call sites still holding memory (the caller of the allocator; its callers below)")
        )?;
        let mut t = s.table(&["outstanding", "allocs", "kind", "pid", "site ← callers"]);
        for site in &r.sites {
            let mut label = site.function.clone();
            if let Some(l) = &site.location {
                label.push_str(&format!(" ({l})"));
            }
            t.add_row(vec![
                s.num(fmt_bytes(site.bytes as i64)),
                s.num(site.allocations.to_string()),
                s.dim(site.kind),
                s.num(site.pid.to_string()),
                crate::table::Cell::new(label),
            ]);
            for (i, c) in site.callers.iter().enumerate() {
                t.add_row(vec![
                    s.num(""),
                    s.num(""),
                    s.dim(""),
                    s.num(""),
                    s.dim(format!("{}← {c}", "  ".repeat(i))),
                ]);
            }
            if site.truncated {
                t.add_row(vec![
                    s.num(""),
                    s.num(""),
                    s.dim(""),
                    s.num(""),
                    s.dim("  (callers unknown: no frame pointer)"),
                ]);
            }
        }
        style::write_table(w, &t)?;
        if r.other_sites > 0 {
            writeln!(w, "… {} more sites hold {}.", r.other_sites, fmt_bytes(r.other_sites_bytes as i64))?;
        }
    }
    writeln!(w)?;
    for n in &r.notes {
        writeln!(w, "{}", wrap(&format!("Note: {n}"), s.width, "", "  "))?;
    }
    Ok(())
}

/// Folded stacks (`comm-pid;outermost;…;innermost bytes`).
pub fn write_folded(w: &mut dyn Write, r: &UserTraceReport) -> io::Result<()> {
    for (stack, bytes) in &r.folded {
        writeln!(w, "{stack} {bytes}")?;
    }
    Ok(())
}

/// One row per site.
pub fn write_csv(w: &mut dyn Write, r: &UserTraceReport) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record(["pid", "kind", "site", "location", "module", "bytes", "allocations", "callers"])?;
    for site in &r.sites {
        c.write_record([
            site.pid.to_string().as_str(),
            site.kind,
            &site.function,
            site.location.as_deref().unwrap_or(""),
            site.module.as_deref().unwrap_or(""),
            &site.bytes.to_string(),
            &site.allocations.to_string(),
            &site.callers.join(" ← "),
        ])?;
    }
    c.flush()?;
    Ok(())
}

/// Write the JSON document.
pub fn write_json(w: &mut dyn Write, r: &UserTraceReport, sample: &UserTraceSample) -> io::Result<()> {
    let doc = json!({
        "schema": TRACE_SCHEMA,
        "mode": "user",
        "started_at": timestamp(sample.started_at_unix_ms),
        "started_at_unix_ms": sample.started_at_unix_ms,
        "window_seconds": r.window_seconds,
        "sample_every": r.sample_every,
        "min_size_bytes": r.min_size_bytes,
        "headline": r.headline,
        "processes": r.processes,
        "sites": r.sites,
        "other_sites": r.other_sites,
        "other_sites_bytes": r.other_sites_bytes,
        "stacks": sample.stacks,
        "targets": sample.targets,
        "counters": sample.counters,
        "programs": sample.programs,
        "tables": {
            "max_allocations": sample.max_allocations,
            "max_stacks": sample.max_stacks,
            "stack_depth": sample.stack_depth,
        },
        "notes": r.notes,
    });
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}
