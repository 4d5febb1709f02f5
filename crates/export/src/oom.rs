//! `memscope oom` output: the explanation of each kill as text and tables,
//! JSON (`memscope.oom/1`: the [`OomView`] fields), CSV (one row per kill;
//! one row per cgroup when the log is unavailable).

use std::io::{self, Write};

use crate::table::Cell;
use memscope_analysis::fmt_bytes;
use memscope_analysis::oom::{Kill, OomView};

use crate::style::{self, Style, wrap};

/// The JSON schema name of `memscope oom`.
pub const OOM_SCHEMA: &str = "memscope.oom/1";

/// Write the view as one JSON document.
pub fn write_json(w: &mut dyn Write, v: &OomView) -> io::Result<()> {
    crate::json::write_doc(w, OOM_SCHEMA, v)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// One row per kill shown; without the log, one row per cgroup count.
pub fn write_csv(w: &mut dyn Write, v: &OomView) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    if v.unavailable.is_some() {
        c.write_record(["cgroup", "oom_kills", "limit_bytes", "peak_bytes"])?;
        for g in &v.cgroup_counts {
            c.write_record([g.path.clone(), g.oom_kills.to_string(), opt(g.limit_bytes), opt(g.peak_bytes)])?;
        }
        return c.flush();
    }
    c.write_record([
        "number",
        "since_boot_usec",
        "unix_seconds",
        "wall",
        "victim_pid",
        "victim_name",
        "victim_rss_bytes",
        "victim_anon_rss_bytes",
        "victim_file_rss_bytes",
        "victim_shmem_rss_bytes",
        "victim_oom_score_adj",
        "scope",
        "constraint",
        "cgroup",
        "limit_counter",
        "limit_bytes",
        "usage_bytes",
        "trigger_comm",
        "trigger_pid",
        "missing",
    ])?;
    for k in &v.kills {
        let vi = k.victim.as_ref();
        let hit = k.limit_hit.as_ref();
        c.write_record([
            k.number.to_string(),
            opt(k.when.since_boot_usec),
            opt(k.when.unix_seconds),
            k.when.wall.clone().unwrap_or_default(),
            opt(vi.map(|x| x.pid)),
            opt(vi.map(|x| x.name.clone())),
            opt(vi.and_then(|x| x.rss_bytes)),
            opt(vi.and_then(|x| x.anon_rss_bytes)),
            opt(vi.and_then(|x| x.file_rss_bytes)),
            opt(vi.and_then(|x| x.shmem_rss_bytes)),
            opt(vi.and_then(|x| x.oom_score_adj)),
            k.scope.kind.clone(),
            k.scope.constraint.clone().unwrap_or_default(),
            k.scope.cgroup.clone().unwrap_or_default(),
            opt(hit.map(|h| h.name.clone())),
            opt(hit.and_then(|h| h.limit_bytes)),
            opt(hit.map(|h| h.usage_bytes)),
            k.trigger_comm.clone().unwrap_or_default(),
            opt(k.trigger_pid),
            k.missing.join(";"),
        ])?;
    }
    c.flush()
}

fn b(v: u64) -> String {
    fmt_bytes(v as i64)
}

fn ob(v: Option<u64>) -> String {
    v.map(b).unwrap_or_else(|| "-".into())
}

/// Write the view as text and tables.
pub fn write_table(w: &mut dyn Write, v: &OomView, s: &Style) -> io::Result<()> {
    if let Some(why) = &v.unavailable {
        writeln!(w, "{}", wrap(&format!("The kernel log is unavailable: {why}."), s.width, "", "  "))?;
        if !v.cgroup_counts.is_empty() {
            writeln!(w, "\n{}", s.heading("OOM kills counted by memory cgroups"))?;
            let mut t = s.table(&["cgroup", "OOM kills", "limit", "peak"]);
            for g in &v.cgroup_counts {
                t.add_row(vec![
                    Cell::new(&g.path),
                    s.num(g.oom_kills),
                    s.num(&g.limit),
                    s.num(ob(g.peak_bytes)),
                ]);
            }
            style::write_table(w, &t)?;
        }
        for n in &v.notes {
            writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
        }
        return Ok(());
    }
    if v.kills.len() > 1 {
        writeln!(w, "{}", s.heading(&format!("{} OOM kills in {}", v.kills_found, v.source)))?;
        let mut t = s.table(&["#", "when", "killed", "resident", "scope", "limit"]);
        for k in &v.kills {
            let (killed, rss) = match &k.victim {
                Some(x) => (format!("{} ({})", x.name, x.pid), ob(x.rss_bytes)),
                None => ("?".into(), "-".into()),
            };
            let limit = match (&k.scope.cgroup, &k.limit_hit) {
                (Some(cg), Some(h)) => format!("{cg} {} {}", h.name, ob(h.limit_bytes)),
                (Some(cg), None) => cg.clone(),
                _ => "-".into(),
            };
            t.add_row(vec![
                s.num(k.number),
                Cell::new(k.when.text()),
                Cell::new(killed),
                s.num(rss),
                Cell::new(&k.scope.kind),
                Cell::new(limit),
            ]);
        }
        style::write_table(w, &t)?;
        writeln!(w)?;
    }
    for (i, k) in v.kills.iter().enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        write_kill(w, v, k, s)?;
    }
    if !v.kills.is_empty() && !v.notes.is_empty() {
        writeln!(w)?;
    }
    for n in &v.notes {
        writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
    }
    Ok(())
}

fn write_kill(w: &mut dyn Write, v: &OomView, k: &Kill, s: &Style) -> io::Result<()> {
    writeln!(
        w,
        "{}",
        s.heading(&format!(
            "OOM kill {} of {} ({}, lines {}-{})",
            k.number, v.kills_found, v.source, k.first_line, k.last_line
        ))
    )?;
    for line in &k.summary {
        writeln!(w, "{}", wrap(line, s.width, "  ", "    "))?;
    }
    if !k.counters.is_empty() {
        writeln!(w, "\n{}", s.heading("Memory cgroup counters at the kill"))?;
        let mut t = s.table(&["counter", "usage", "limit", "times hit"]);
        for c in &k.counters {
            t.add_row(vec![
                Cell::new(&c.name),
                s.num(b(c.usage_bytes)),
                s.num(c.limit_bytes.map(b).unwrap_or_else(|| "max".into())),
                s.num(c.failcnt),
            ]);
        }
        style::write_table(w, &t)?;
    }
    if !k.held.is_empty() {
        writeln!(w, "\n{}", s.heading("What held the memory"))?;
        let mut t = s.table(&["", "bytes", "from the report"]);
        for h in &k.held {
            t.add_row(vec![Cell::new(&h.label), s.num(b(h.bytes)), s.dim(&h.source)]);
        }
        if let Some(m) = &k.watermarks {
            t.add_row(vec![
                Cell::new("min watermark"),
                s.num(b(m.min_bytes)),
                s.dim("sum of the zones' min"),
            ]);
        }
        if let Some(sw) = &k.swap {
            t.add_row(vec![
                Cell::new("swap free / total"),
                s.num(format!("{} / {}", b(sw.free_bytes), b(sw.total_bytes))),
                s.dim("Free swap, Total swap"),
            ]);
        }
        style::write_table(w, &t)?;
    }
    if !k.top_tasks.is_empty() {
        writeln!(
            w,
            "\n{}",
            s.heading(&format!("Largest processes ({} of {} listed)", k.top_tasks.len(), k.tasks_listed))
        )?;
        let mut t = s.table(&["pid", "name", "uid", "resident", "swap", "page tables", "oom_score_adj"]);
        for p in &k.top_tasks {
            let name = if p.victim { format!("{} (killed)", p.name) } else { p.name.clone() };
            t.add_row(vec![
                s.num(p.pid),
                Cell::new(name),
                s.num(opt(p.uid)),
                s.num(b(p.rss_bytes)),
                s.num(ob(p.swap_bytes)),
                s.num(ob(p.pgtables_bytes)),
                s.num(opt(p.oom_score_adj)),
            ]);
        }
        style::write_table(w, &t)?;
    }
    if !k.prevention.is_empty() {
        writeln!(w, "\n{}", s.heading("What would have prevented it"))?;
        for p in &k.prevention {
            writeln!(w, "{}", wrap(p, s.width, "- ", "  "))?;
        }
    }
    if k.page_size_source == "assumed" {
        writeln!(w, "- Page counts are read with 4 KiB pages: the report does not give its page size.")?;
    }
    Ok(())
}

/// The kill `memscope run` saw in its cgroup, for its text summary: the
/// one-line answer, the limit against the peak, what would have prevented
/// it; or why the kernel's report is not shown.
pub fn write_run_oom_text(
    w: &mut dyn Write,
    o: &Result<memscope_analysis::oom_timeline::RunOom, String>,
    s: &Style,
) -> io::Result<()> {
    match o {
        Ok(o) if o.kill.is_some() => {
            for (i, l) in o.lines.iter().enumerate() {
                let first = if i == 0 { "  oom      " } else { "           " };
                writeln!(w, "{}", wrap(l, s.width, first, "           "))?;
            }
            Ok(())
        }
        Ok(o) => writeln!(
            w,
            "{}",
            wrap(o.reason.as_deref().unwrap_or("no report"), s.width, "  oom      ", "           ")
        ),
        Err(why) => {
            writeln!(w, "{}", wrap(&format!("no report: {why}"), s.width, "  oom      ", "           "))
        }
    }
}

/// The same as a JSON object for `run --json` (`oom`).
pub fn run_oom_json(o: &memscope_analysis::oom_timeline::RunOom) -> serde_json::Value {
    let k = o.kill.as_ref();
    serde_json::json!({
        "answer": o.lines.first(),
        "lines": o.lines,
        "victim": k.and_then(|k| k.victim.as_ref()),
        "scope": k.map(|k| &k.scope),
        "limit_bytes": k.and_then(|k| k.limit_hit.as_ref()).and_then(|c| c.limit_bytes),
        "peak_bytes": o.peak_bytes,
        "when": k.map(|k| &k.when),
        "kills_in_log": o.kills_in_log,
        "prevention": k.map(|k| &k.prevention),
    })
}

#[cfg(test)]
mod tests {
    use memscope_analysis::oom::build;
    use memscope_kernel::parse::oom::parse_log;

    use super::*;

    fn view(name: &str, all: bool) -> OomView {
        let path = format!("{}/../../tests/fixtures/{name}/log", env!("CARGO_MANIFEST_DIR"));
        build(&parse_log(&std::fs::read_to_string(path).unwrap()), name, None, None, all)
    }

    fn render(v: &OomView, f: fn(&mut dyn Write, &OomView) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_of_a_memcg_kill_answers_first_then_shows_the_evidence() {
        let v = view("oom-6.18-memcg-v1-kmsg", false);
        let mut out = Vec::new();
        write_table(&mut out, &v, &Style::plain()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let first = text.lines().nth(1).unwrap();
        assert!(first.contains("killed memscope-worklo (pid 9728)"), "{text}");
        for part in [
            "Memory cgroup counters at the kill",
            "What held the memory",
            "Largest processes (1 of 1 listed)",
            "memscope-worklo (killed)",
            "What would have prevented it",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
    }

    #[test]
    fn all_kills_start_with_a_summary_table() {
        let v = view("oom-truncated", true);
        let mut out = Vec::new();
        write_table(&mut out, &v, &Style::plain()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("2 OOM kills in oom-truncated"), "{text}");
        assert!(text.contains("ruby (2210)"), "{text}");
        assert!(text.contains("OOM kill 2 of 2"), "{text}");
    }

    #[test]
    fn csv_has_one_row_per_kill_and_json_carries_the_schema() {
        let v = view("oom-truncated", true);
        let csv = render(&v, write_csv);
        assert_eq!(csv.lines().count(), 3, "{csv}");
        assert!(csv.lines().nth(1).unwrap().starts_with("1,9001000120,,,2210,ruby,1233854464,"), "{csv}");
        assert!(csv.lines().nth(1).unwrap().ends_with(",trigger;mem_info;task table"), "{csv}");
        let json: serde_json::Value = serde_json::from_str(&render(&v, write_json)).unwrap();
        assert_eq!(json["schema"], OOM_SCHEMA);
        assert_eq!(json["kills"][0]["victim"]["rss_bytes"], 1233854464u64);
    }
}
