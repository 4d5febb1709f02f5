//! `memscope report` output: table, JSON, CSV.
//!
//! JSON (`"schema": "memscope.report/1"`), documented in docs/json.md:
//! ```text
//! { schema, kernel, taken_at, installed_bytes, installed_source, mem_total_bytes,
//!   unaccounted_bytes, headline: {installed_bytes, used_bytes, available_bytes, swap_total_bytes,
//!   swap_used_bytes, unaccounted_bytes, free_total_bytes, free_used_bytes, unavailable?},
//!   pressure: {some, full, meaning?, unavailable?}, ledger: [{category, name?, parent?, bytes, source, counter?, reason?, note?}],
//!   processes: [{pid, comm, uid, pss_bytes, uss_bytes, rss_bytes, swap_bytes, …, source}],
//!   process_totals: {…}, notes: [..] }
//! ```

use std::io::{self, Write};

use crate::table::Color;
use memscope_analysis::ledger::{InstalledSource, Line, Source};
use memscope_analysis::pressure::{PressureView, fmt_avg};
use memscope_analysis::processes::{ProcessRow, ProcessTotals, RowSource};
use memscope_analysis::report::{Headline, Report};
use memscope_analysis::{fmt_bytes, fmt_pct};
use serde::Serialize;

use crate::style::{self, Style, timestamp, wrap};

/// The JSON schema name of `memscope report`.
pub const REPORT_SCHEMA: &str = "memscope.report/1";

#[derive(Serialize)]
struct ReportJson<'a> {
    schema: &'static str,
    kernel: Option<&'a str>,
    taken_at: String,
    taken_at_unix_ms: u64,
    installed_bytes: u64,
    installed_source: InstalledSource,
    mem_total_bytes: u64,
    unaccounted_bytes: i64,
    headline: &'a Headline,
    pressure: &'a PressureView,
    ledger: &'a [Line],
    processes: &'a [ProcessRow],
    process_totals: &'a ProcessTotals,
    notes: &'a [String],
}

/// Write the report as one JSON document.
pub fn write_json(w: &mut dyn Write, r: &Report) -> io::Result<()> {
    let doc = ReportJson {
        schema: REPORT_SCHEMA,
        kernel: r.kernel.as_deref(),
        taken_at: timestamp(r.taken_at_unix_ms),
        taken_at_unix_ms: r.taken_at_unix_ms,
        installed_bytes: r.ledger.installed_bytes,
        installed_source: r.ledger.installed_source,
        mem_total_bytes: r.ledger.mem_total_bytes,
        unaccounted_bytes: r.ledger.unaccounted_bytes,
        headline: &r.headline,
        pressure: &r.pressure,
        ledger: &r.ledger.lines,
        processes: &r.processes,
        process_totals: &r.totals,
        notes: &r.notes,
    };
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

/// Write the ledger lines as CSV (one row per line, details included).
pub fn write_csv(w: &mut dyn Write, r: &Report) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record(["category", "name", "parent", "bytes", "source", "counter", "reason", "note"])?;
    for l in &r.ledger.lines {
        c.write_record([
            l.category,
            l.name.as_deref().unwrap_or(""),
            l.parent.unwrap_or(""),
            &l.bytes.map(|b| b.to_string()).unwrap_or_default(),
            l.source.name(),
            l.counter.as_deref().unwrap_or(""),
            l.reason.as_deref().unwrap_or(""),
            l.note.as_deref().unwrap_or(""),
        ])?;
    }
    c.flush()?;
    Ok(())
}

/// Bytes in human units, `-` when unknown.
pub(crate) fn opt_bytes(v: Option<u64>) -> String {
    v.map(|b| fmt_bytes(b as i64)).unwrap_or_else(|| "-".into())
}

/// Write the report as readable tables.
pub fn write_table(w: &mut dyn Write, r: &Report, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let l = &r.ledger;
    let installed = l.installed_bytes as i64;
    writeln!(
        w,
        "{}",
        s.heading(&format!(
            "Memory ledger{} at {}",
            r.kernel.as_deref().map(|k| format!(" of kernel {k}")).unwrap_or_default(),
            timestamp(r.taken_at_unix_ms)
        ))
    )?;
    let source = match l.installed_source {
        InstalledSource::Iomem => "System RAM in /proc/iomem",
        InstalledSource::FirmwareMemmap => "System RAM in /sys/firmware/memmap",
        InstalledSource::MemTotal => "unknown; MemTotal shown",
    };
    writeln!(
        w,
        "Installed RAM {} ({source}); MemTotal {}.\n",
        fmt_bytes(installed),
        fmt_bytes(l.mem_total_bytes as i64)
    )?;
    write_headline(w, &r.headline, &r.pressure, s)?;
    writeln!(w)?;

    let mut t = s.table(&["category", "bytes", "% RAM", "source", "from"]);
    let mut hidden = 0usize;
    let mut last_top = "";
    for line in &l.lines {
        let zero = line.bytes == Some(0);
        if zero && !s.all && line.category != "unaccounted" {
            hidden += 1;
            continue;
        }
        match line.parent {
            None => last_top = line.category,
            // Details whose parent is no line of its own (slab caches whose
            // reclaimability is unknown belong to both slab lines): a row
            // says so, so that they do not read as details of the line above.
            Some(p) if p != last_top && !l.lines.iter().any(|x| x.parent.is_none() && x.category == p) => {
                last_top = p;
                let what = if p == "slab" {
                    "slab caches, reclaimable or not unknown"
                } else {
                    "details of more than one line above"
                };
                t.add_row(vec![
                    s.dim(format!("{p} (both lines above)")),
                    s.num(""),
                    s.num(""),
                    s.dim(""),
                    s.dim(what),
                ]);
            }
            Some(_) => {}
        }
        let label = match (&line.name, line.parent) {
            (Some(n), Some(_)) => format!("  {n}"),
            (None, Some(_)) => format!("  {}", line.def().label),
            (Some(n), None) => format!("{} {n}", line.def().label),
            (None, None) => line.def().label.to_string(),
        };
        let bytes = line.bytes.map(fmt_bytes).unwrap_or_else(|| "unavailable".into());
        let pct = match (line.bytes, line.parent) {
            (Some(b), None) => fmt_pct(b, installed),
            _ => String::new(),
        };
        let from = match line.source {
            Source::Unavailable => line.reason.clone().unwrap_or_default(),
            _ => line.counter.clone().unwrap_or_default(),
        };
        let label_cell = if line.category == "unaccounted" {
            s.colored(
                &label,
                if line.bytes.unwrap_or(0).abs() * 100 >= installed { Color::Red } else { Color::Yellow },
            )
        } else if line.parent.is_some() {
            s.dim(&label)
        } else {
            crate::table::Cell::new(&label)
        };
        let src_cell = match line.source {
            Source::Unavailable => s.colored(line.source.name(), Color::Magenta),
            _ => s.dim(line.source.name()),
        };
        t.add_row(vec![label_cell, s.num(bytes), s.num(pct), src_cell, s.dim(from)]);
    }
    t.add_row(vec![
        crate::table::Cell::new("total"),
        s.num(fmt_bytes(l.top_sum())),
        s.num(fmt_pct(l.top_sum(), installed)),
        s.dim(""),
        s.dim("= installed RAM"),
    ]);
    style::write_table(w, &t)?;
    if hidden > 0 {
        writeln!(w, "({hidden} lines are 0 B; --all shows them.)")?;
    }

    let line_notes: Vec<String> = l
        .lines
        .iter()
        .filter_map(|x| {
            x.note.as_ref().map(|n| {
                let who = x.name.clone().unwrap_or_else(|| x.def().label.to_string());
                format!("{who}: {n}")
            })
        })
        .collect();

    writeln!(w)?;
    write_processes(w, r, s)?;

    writeln!(w, "\n{}", s.heading("Notes"))?;
    for n in r.notes.iter().chain(line_notes.iter()) {
        writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
    }
    Ok(())
}

/// `head rest`, wrapped at the style's width, `head` in bold.
fn headed(s: &Style, head: &str, rest: &str) -> String {
    let text = wrap(&format!("{head} {rest}"), s.width, "", "  ");
    match text.strip_prefix(head) {
        Some(tail) => format!("{}{tail}", s.heading(head)),
        None => text,
    }
}

/// The `free`-style headline and the memory pressure, above the ledger.
pub fn write_headline(w: &mut dyn Write, h: &Headline, p: &PressureView, s: &Style) -> io::Result<()> {
    let b = |v: Option<u64>| v.map(|x| fmt_bytes(x as i64)).unwrap_or_else(|| "unavailable".into());
    let swap = match (h.swap_total_bytes, h.swap_used_bytes) {
        (Some(0), _) => "no swap".to_string(),
        (Some(t), Some(u)) => format!("swap used {} of {}", fmt_bytes(u as i64), fmt_bytes(t as i64)),
        _ => "swap used unavailable".to_string(),
    };
    let memory = format!(
        "installed {} · used {} · available {} · {} · unaccounted {}",
        fmt_bytes(h.installed_bytes as i64),
        b(h.used_bytes),
        b(h.available_bytes),
        swap,
        fmt_bytes(h.unaccounted_bytes)
    );
    writeln!(w, "{}", headed(s, "Memory:", &memory))?;
    let free = format!(
        "`free` would show total {} (MemTotal), used {} (MemTotal − MemAvailable).",
        fmt_bytes(h.free_total_bytes as i64),
        b(h.free_used_bytes)
    );
    writeln!(w, "{}", wrap(&free, s.width, "", "  "))?;
    let mut reasons: Vec<&String> = h.unavailable.values().collect();
    reasons.dedup();
    for r in reasons {
        writeln!(w, "{}", wrap(&format!("unavailable: {r}"), s.width, "  ", "  "))?;
    }
    write_pressure(w, p, s)
}

/// `Pressure: some avg10 … · full …` and the sentence, or why not.
pub fn write_pressure(w: &mut dyn Write, p: &PressureView, s: &Style) -> io::Result<()> {
    let line = |name: &str, l: &memscope_kernel::parse::pressure::PsiLine| {
        format!(
            "{name} avg10 {} avg60 {} avg300 {}, {} stalled in total",
            fmt_avg(l.avg10),
            fmt_avg(l.avg60),
            fmt_avg(l.avg300),
            fmt_usec(l.total_usec)
        )
    };
    if let Some(why) = &p.unavailable {
        return writeln!(w, "{}", wrap(&format!("Pressure: unavailable: {why}"), s.width, "", "  "));
    }
    let parts: Vec<String> =
        [p.some.as_ref().map(|l| line("some", l)), p.full.as_ref().map(|l| line("full", l))]
            .into_iter()
            .flatten()
            .collect();
    writeln!(w, "{}", headed(s, "Pressure:", &parts.join(" · ")))?;
    if let Some(m) = &p.meaning {
        writeln!(w, "{}", wrap(&format!("{m}."), s.width, "  ", "  "))?;
    }
    Ok(())
}

/// A stall time in human units (`1.6 s`, `2 min 5 s`, `3 h 20 min`).
pub fn fmt_usec(usec: u64) -> String {
    let secs = usec as f64 / 1e6;
    if secs < 1.0 {
        format!("{:.0} ms", secs * 1e3)
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        format!("{} min {} s", usec / 60_000_000, usec / 1_000_000 % 60)
    } else {
        format!("{} h {} min", usec / 3_600_000_000, usec / 60_000_000 % 60)
    }
}

/// `/proc/4242/smaps_rollup is readable by…` → `/proc/PID/smaps_rollup is
/// readable by…`: one reason for every process it applies to.
fn per_pid_to_generic(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut rest = reason;
    while let Some(at) = rest.find("/proc/") {
        let (head, tail) = rest.split_at(at + "/proc/".len());
        out.push_str(head);
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && tail[digits..].starts_with('/') {
            out.push_str("PID");
        } else {
            out.push_str(&tail[..digits]);
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

fn write_processes(w: &mut dyn Write, r: &Report, s: &Style) -> io::Result<()> {
    let t = &r.totals;
    if r.processes.is_empty() {
        writeln!(w, "No process with user memory in this snapshot.")?;
        return Ok(());
    }
    writeln!(w, "{}", s.heading(&format!("Top {} processes by PSS", r.processes.len())))?;
    let mut tab = s.table(&["pid", "command", "PSS", "USS", "RSS", "swap"]);
    let mut why: Vec<String> = Vec::new();
    for p in &r.processes {
        let pid = match p.source {
            RowSource::SmapsRollup | RowSource::Smaps => s.num(p.pid),
            RowSource::Status => {
                // Said once for all the processes it applies to.
                let reason = per_pid_to_generic(p.pss_unavailable.as_deref().unwrap_or_default());
                if !why.contains(&reason) {
                    why.push(reason);
                }
                s.num(format!("*{}", p.pid))
            }
        };
        tab.add_row(vec![
            pid,
            s.text(&p.comm),
            s.num(opt_bytes(p.pss_bytes)),
            s.num(opt_bytes(p.uss_bytes)),
            s.num(opt_bytes(p.rss_bytes)),
            s.num(opt_bytes(p.swap_bytes)),
        ]);
    }
    style::write_table(w, &tab)?;
    for reason in why {
        writeln!(w, "{}", wrap(&format!("PSS/USS unavailable: {reason}"), s.width, "* ", "  "))?;
    }
    let all = format!(
        "All {} processes: PSS {} (of {} with PSS) · USS {} · RSS {} · swap {}{}",
        t.processes,
        fmt_bytes(t.pss_bytes as i64),
        t.with_pss,
        fmt_bytes(t.uss_bytes as i64),
        fmt_bytes(t.rss_bytes as i64),
        fmt_bytes(t.swap_bytes as i64),
        t.anon_plus_mapped_bytes
            .map(|k| format!(" · kernel AnonPages + Mapped {}", fmt_bytes(k as i64)))
            .unwrap_or_default()
    );
    writeln!(w, "{}", wrap(&all, s.width, "", "  "))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::per_pid_to_generic;

    #[test]
    fn a_reason_per_process_becomes_one_reason() {
        let a = per_pid_to_generic("/proc/23838/smaps_rollup is readable by callers with ptrace read access");
        let b = per_pid_to_generic("/proc/8723/smaps_rollup is readable by callers with ptrace read access");
        assert_eq!(a, b);
        assert_eq!(a, "/proc/PID/smaps_rollup is readable by callers with ptrace read access");
        assert_eq!(per_pid_to_generic("/proc/meminfo and /proc/12"), "/proc/meminfo and /proc/12");
    }
}
