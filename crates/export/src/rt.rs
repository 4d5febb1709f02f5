//! `memscope rt check` and `memscope rt latency`: tables, JSON and CSV,
//! written to any `io::Write` with memscope's [`Style`].
//!
//! JSON documents (docs/json.md): `memscope.rt-check/1` and
//! `memscope.rt-latency/1`.

use std::io::{self, Write};

use crate::table::{Cell, Color};
use memscope_analysis::rt::report::{HistogramRow, LatencyReport, StatsUsec};
use memscope_analysis::rt::table::{CHECKS, Item, Verdict};
use memscope_analysis::rt::{CheckReport, ProcessReport};
use memscope_model::rt::latency::ProgressView;
use memscope_model::rt::vmstat::COUNTERS;
use serde::Serialize;

use crate::style::{Style, timestamp, wrap, write_table};

/// Schema of `rt check --json`.
pub const CHECK_SCHEMA: &str = "memscope.rt-check/1";
/// Schema of `rt latency --json`.
pub const LATENCY_SCHEMA: &str = "memscope.rt-latency/1";

fn verdict_cell(s: &Style, v: Verdict) -> Cell {
    let color = match v {
        Verdict::Ok => Color::Green,
        Verdict::Warn => Color::Yellow,
        Verdict::Bad => Color::Red,
        Verdict::Info | Verdict::Unavailable => return s.dim(v.label()),
    };
    s.colored(v.label(), color)
}

fn items_table(w: &mut dyn Write, s: &Style, items: &[Item]) -> io::Result<()> {
    let title_width = items.iter().map(|i| i.title.chars().count()).max().unwrap_or(10);
    let value_width = s.width.saturating_sub(title_width + 7 + 6).clamp(40, 90);
    let mut t = s.table(&["check", "verdict", "value, and what real time wants"]);
    for i in items {
        let mut text = wrap(&i.value, value_width, "", "");
        if i.want != "-" {
            text.push('\n');
            text.push_str(&wrap(&format!("wants: {}", i.want), value_width, "", "  "));
        }
        t.add_row(vec![Cell::new(i.title), verdict_cell(s, i.verdict), Cell::new(text)]);
    }
    write_table(w, &t)
}

fn notes(w: &mut dyn Write, s: &Style, items: &[Item]) -> io::Result<()> {
    let fixes: Vec<&Item> = items
        .iter()
        .filter(|i| i.fix.is_some() && matches!(i.verdict, Verdict::Warn | Verdict::Bad))
        .collect();
    if !fixes.is_empty() {
        writeln!(w, "\n{}", s.heading("How to change"))?;
        for i in fixes {
            let text = format!("{} [{}]: {}", i.title, i.verdict.label(), i.fix.as_deref().unwrap_or(""));
            writeln!(w, "{}", wrap(&text, s.width, "- ", "  "))?;
        }
    }
    let unavailable: Vec<&Item> = items.iter().filter(|i| i.verdict == Verdict::Unavailable).collect();
    if !unavailable.is_empty() {
        writeln!(w, "\n{}", s.heading("Unavailable"))?;
        for i in unavailable {
            let text = format!("{}: {}", i.title, i.reason.as_deref().unwrap_or("unknown reason"));
            writeln!(w, "{}", wrap(&text, s.width, "- ", "  "))?;
            if let Some(f) = &i.fix {
                writeln!(w, "{}", wrap(f, s.width, "  ", "  "))?;
            }
        }
    }
    let detailed: Vec<&Item> = items.iter().filter(|i| !i.details.is_empty()).collect();
    if !detailed.is_empty() {
        writeln!(w, "\n{}", s.heading("Details"))?;
        for i in detailed {
            writeln!(w, "{}:", i.title)?;
            for d in &i.details {
                writeln!(w, "{}", wrap(d, s.width, "    ", "      "))?;
            }
        }
    }
    Ok(())
}

/// `rt check` as tables.
pub fn write_check_table(w: &mut dyn Write, s: &Style, r: &CheckReport) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let kernel = r
        .host
        .iter()
        .find(|i| i.key == "kernel" && i.verdict != Verdict::Unavailable)
        .map(|i| i.value.as_str())
        .unwrap_or("unknown");
    let host = r.hostname.as_deref().unwrap_or("this host");
    writeln!(w, "{}", s.heading(&format!("Real-time readiness of {host} (kernel {kernel})")))?;
    let host_items: Vec<Item> = r.host.iter().filter(|i| i.key != "kernel").cloned().collect();
    items_table(w, s, &host_items)?;
    if let Some(p) = &r.process {
        writeln!(w, "\n{}", s.heading(&format!("Process {}", p.pid)))?;
        items_table(w, s, &p.items)?;
        if !p.threads.is_empty() {
            let window = p.threads.iter().any(|t| t.minflt_window.is_some());
            let mut header =
                vec!["tid", "comm", "policy", "prio", "nice", "cpus", "last cpu", "minflt", "majflt"];
            if window {
                header.extend(["+minflt", "+majflt"]);
            }
            let mut t = s.table(&header);
            let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
            for th in &p.threads {
                let mut row = vec![
                    s.num(th.tid),
                    Cell::new(&th.comm),
                    Cell::new(th.policy),
                    s.num(th.rt_priority),
                    s.num(th.nice.map(|n| n.to_string()).unwrap_or_else(|| "-".into())),
                    Cell::new(th.cpus_allowed.as_deref().unwrap_or("-")),
                    s.num(opt(th.last_cpu)),
                    s.num(opt(th.minflt)),
                    s.num(opt(th.majflt)),
                ];
                if window {
                    row.push(s.num(opt(th.minflt_window)));
                    row.push(s.num(opt(th.majflt_window)));
                }
                t.add_row(row);
            }
            writeln!(w, "\nThreads")?;
            write_table(w, &t)?;
        }
    }
    let all: Vec<Item> = r.items().cloned().collect();
    notes(w, s, &all)?;
    writeln!(
        w,
        "\n{} BAD, {} WARN, {} ok, {} info, {} unavailable. `memscope rt check --explain` says why each matters.",
        r.count(Verdict::Bad),
        r.count(Verdict::Warn),
        r.count(Verdict::Ok),
        r.count(Verdict::Info),
        r.count(Verdict::Unavailable)
    )
}

/// `rt check --explain`: every check, what it wants and why.
pub fn write_explain(w: &mut dyn Write, s: &Style) -> io::Result<()> {
    for c in CHECKS {
        writeln!(w, "{} ({})", s.heading(c.title), c.key)?;
        writeln!(w, "{}", wrap(&format!("wants: {}", c.want), s.width, "    ", "    "))?;
        writeln!(w, "{}", wrap(c.why, s.width, "    ", "    "))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct CheckJson<'a> {
    schema: &'static str,
    taken_at: String,
    hostname: Option<&'a str>,
    summary: Summary,
    host: &'a [Item],
    process: Option<&'a ProcessReport>,
}

#[derive(Serialize)]
struct Summary {
    bad: usize,
    warn: usize,
    ok: usize,
    info: usize,
    unavailable: usize,
}

/// `rt check --json`.
pub fn write_check_json(w: &mut dyn Write, r: &CheckReport, taken_at_unix_ms: u64) -> io::Result<()> {
    let doc = CheckJson {
        schema: CHECK_SCHEMA,
        taken_at: timestamp(taken_at_unix_ms),
        hostname: r.hostname.as_deref(),
        summary: Summary {
            bad: r.count(Verdict::Bad),
            warn: r.count(Verdict::Warn),
            ok: r.count(Verdict::Ok),
            info: r.count(Verdict::Info),
            unavailable: r.count(Verdict::Unavailable),
        },
        host: &r.host,
        process: r.process.as_ref(),
    };
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

/// `rt check --csv`: one row per item.
pub fn write_check_csv(w: &mut dyn Write, r: &CheckReport) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record(["scope", "key", "title", "verdict", "value", "want", "source", "fix", "reason"])?;
    let process = r.process.iter().flat_map(|p| p.items.iter().map(move |i| (format!("pid {}", p.pid), i)));
    for (scope, i) in r.host.iter().map(|i| ("host".to_string(), i)).chain(process) {
        c.write_record([
            scope.as_str(),
            i.key,
            i.title,
            i.verdict.label(),
            &i.value,
            &i.want,
            &i.source,
            i.fix.as_deref().unwrap_or(""),
            i.reason.as_deref().unwrap_or(""),
        ])?;
    }
    c.flush()
}

/// `rt latency --csv`: one row per CPU, then `all`.
pub fn write_latency_csv(w: &mut dyn Write, r: &LatencyReport) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record([
        "cpu",
        "samples",
        "min_usec",
        "avg_usec",
        "p50_usec",
        "p99_usec",
        "p999_usec",
        "max_usec",
        "overruns",
    ])?;
    let row = |cpu: String, s: Option<StatsUsec>, overruns: String| -> Vec<String> {
        let mut v = vec![cpu];
        match s {
            Some(s) => v.extend(
                [s.samples as f64, s.min_usec, s.avg_usec, s.p50_usec, s.p99_usec, s.p999_usec, s.max_usec]
                    .map(|x| x.to_string()),
            ),
            None => v.extend((0..7).map(|_| String::new())),
        }
        v.push(overruns);
        v
    };
    for cpu in &r.cpus {
        c.write_record(row(cpu.cpu.to_string(), cpu.stats, cpu.overruns.to_string()))?;
    }
    let total: u64 = r.cpus.iter().map(|c| c.overruns).sum();
    c.write_record(row("all".into(), r.all, total.to_string()))?;
    c.flush()
}

/// Cells of the longest histogram bar.
const HISTOGRAM_BAR: usize = 30;

/// A bar of `width` cells at most for `count` against the largest count,
/// on a log scale as cyclictest users plot their histograms (a bucket of
/// one late wakeup among a million stays visible): `log(1 + count) /
/// log(1 + most)` of the width, in eighths of a cell; a non-zero count
/// gets at least one eighth.
pub fn log_bar(count: u64, most: u64, width: usize) -> String {
    const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    if count == 0 || most == 0 {
        return String::new();
    }
    let share = (count as f64).ln_1p() / (most as f64).ln_1p();
    let eighths = ((share.min(1.0) * (width * 8) as f64).round() as usize).max(1);
    let mut bar: String = std::iter::repeat_n('█', eighths / 8).collect();
    if let Some(part) = (eighths % 8).checked_sub(1) {
        bar.push(EIGHTHS[part]);
    }
    bar
}

fn f1(v: f64) -> String {
    format!("{v:.1}")
}

/// RFC 3339 UTC with microseconds.
fn at_usec(unix_ns: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(unix_ns);
    humantime::format_rfc3339_micros(t).to_string()
}

/// The live progress line: one field per CPU (µs).
pub fn progress_line(views: &[ProgressView], elapsed_s: f64) -> String {
    let mut line = format!("{elapsed_s:6.1} s");
    for v in views {
        line.push_str(&format!(
            "  cpu{} n {} act {:.1} avg {:.1} max {:.1}",
            v.cpu,
            v.count,
            v.last_ns as f64 / 1000.0,
            v.avg_ns / 1000.0,
            v.max_ns as f64 / 1000.0
        ));
    }
    line
}

/// `rt latency` as tables.
pub fn write_latency_table(w: &mut dyn Write, s: &Style, r: &LatencyReport) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let st = &r.settings;
    let prio = if st.policy == "SCHED_FIFO" {
        format!("{} {}", st.policy, st.priority)
    } else {
        format!("{} (NOT real time)", st.policy)
    };
    let dma = match st.dma_latency_usec {
        Some(v) => format!("{} held at {v} µs", memscope_kernel::paths::CPU_DMA_LATENCY),
        None => format!("{} not held", memscope_kernel::paths::CPU_DMA_LATENCY),
    };
    writeln!(
        w,
        "{}",
        s.heading(&format!(
            "Scheduling latency, {} CPU{}: {prio}, every {} µs, {:.1} s{}; memory {}; {dma}",
            st.cpus.len(),
            if st.cpus.len() == 1 { "" } else { "s" },
            st.interval_usec,
            r.duration_seconds,
            if r.interrupted { " (interrupted)" } else { "" },
            if st.mlockall { "locked" } else { "NOT locked" },
        ))
    )?;
    let mut t = s.table(&[
        "cpu",
        "samples",
        "min µs",
        "avg µs",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "max µs",
        "overruns",
        "faults",
        "preempted",
    ]);
    for c in &r.cpus {
        let mut row = vec![s.num(c.cpu), s.num(c.stats.map(|x| x.samples).unwrap_or(0))];
        match c.stats {
            Some(x) => row.extend(
                [x.min_usec, x.avg_usec, x.p50_usec, x.p99_usec, x.p999_usec, x.max_usec]
                    .map(|v| s.num(f1(v))),
            ),
            None => row.extend((0..6).map(|_| s.num("-"))),
        }
        row.push(s.num(c.overruns));
        row.push(s.num(format!("{}/{}", c.minor_faults, c.major_faults)));
        row.push(s.num(c.involuntary_switches));
        t.add_row(row);
    }
    if let (Some(a), true) = (r.all, r.cpus.len() > 1) {
        let mut row = vec![Cell::new("all"), s.num(a.samples)];
        row.extend(
            [a.min_usec, a.avg_usec, a.p50_usec, a.p99_usec, a.p999_usec, a.max_usec].map(|v| s.num(f1(v))),
        );
        t.add_row(row);
    }
    write_table(w, &t)?;
    writeln!(
        w,
        "(faults: minor/major page faults of the measuring thread during the run; preempted: involuntary context switches)"
    )?;

    // Histogram: rows from the first to the last non-empty one.
    let nonzero = |row: &HistogramRow| row.counts.iter().any(|c| *c > 0);
    if let (Some(first), Some(last)) =
        (r.histogram.iter().position(nonzero), r.histogram.iter().rposition(nonzero))
    {
        writeln!(w, "\n{}", s.heading("Histogram"))?;
        let mut header = vec!["latency µs".to_string()];
        header.extend(r.cpus.iter().map(|c| format!("cpu {}", c.cpu)));
        header.push("all CPUs (log scale)".to_string());
        let hdr: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut t = s.table(&hdr);
        let rows = &r.histogram[first..=last];
        let total = |row: &HistogramRow| row.counts.iter().fold(0u64, |a, c| a.saturating_add(*c));
        let most = rows.iter().map(total).max().unwrap_or(0);
        for row in rows {
            let range = match row.to_usec {
                Some(to) => format!("{}–{}", row.from_usec, to),
                None => format!("≥ {}", row.from_usec),
            };
            let mut cells = vec![Cell::new(range)];
            cells.extend(row.counts.iter().map(|c| s.num(c)));
            cells.push(Cell::new(log_bar(total(row), most, HISTOGRAM_BAR)));
            t.add_row(cells);
        }
        write_table(w, &t)?;
    }

    if !r.spikes.is_empty() {
        writeln!(w, "\n{}", s.heading("Largest spikes"))?;
        let medians = r.memory.as_ref().map(|m| &m.median_per_window);
        let mut header = vec!["latency µs", "cpu", "due at (UTC)", "+s"];
        if medians.is_some() {
            header.push("memory activity around it (median per window)");
        }
        let mut t = s.table(&header);
        for sp in &r.spikes {
            let mut row = vec![
                s.num(f1(sp.latency_usec)),
                s.num(sp.cpu),
                Cell::new(at_usec(sp.at_unix_ns)),
                s.num(format!("{:.3}", sp.offset_seconds)),
            ];
            if let Some(med) = medians {
                let text = match &sp.memory {
                    Some(m) => {
                        let busy: Vec<String> = COUNTERS
                            .iter()
                            .filter_map(|c| {
                                let d = *m.get(c.key)?;
                                let typical = med.get(c.key).copied().unwrap_or(0);
                                (d > typical.saturating_mul(2).max(typical + 1))
                                    .then(|| format!("{} +{d} ({typical})", c.key))
                            })
                            .collect();
                        if busy.is_empty() { "as usual".to_string() } else { busy.join(", ") }
                    }
                    None => "not sampled".into(),
                };
                row.push(Cell::new(wrap(&text, 60, "", "")));
            }
            t.add_row(row);
        }
        write_table(w, &t)?;
    }

    if let Some(m) = &r.memory {
        writeln!(
            w,
            "\n{}",
            s.heading(&format!(
                "Memory activity per {:.0} ms window: {} window(s) holding a sample above p99.9 ({:.1} µs) vs the other {}",
                m.interval_ms, m.correlation.spike_windows, m.spike_threshold_usec, m.correlation.other_windows
            ))
        )?;
        let mut t = s.table(&["counter", "spike windows", "other windows", "meaning"]);
        for c in &m.correlation.counters {
            let help = COUNTERS.iter().find(|d| d.key == c.counter).map(|d| d.help).unwrap_or("");
            t.add_row(vec![
                Cell::new(c.counter),
                s.num(f1(c.spike_windows_mean)),
                s.num(f1(c.other_windows_mean)),
                s.dim(help),
            ]);
        }
        write_table(w, &t)?;
        if let Some(e) = &m.error {
            writeln!(w, "(vmstat sampling stopped: {e})")?;
        }
    }

    if !r.warnings.is_empty() {
        writeln!(w, "\n{}", s.heading("Warnings"))?;
        for x in &r.warnings {
            writeln!(w, "{}", wrap(x, s.width, "- ", "  "))?;
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct LatencyJson<'a> {
    schema: &'static str,
    kernel: Option<&'a str>,
    hostname: Option<&'a str>,
    started_at: String,
    #[serde(flatten)]
    report: &'a LatencyReport,
}

/// `rt latency --json`.
pub fn write_latency_json(
    w: &mut dyn Write,
    r: &LatencyReport,
    kernel: Option<&str>,
    hostname: Option<&str>,
) -> io::Result<()> {
    let doc = LatencyJson {
        schema: LATENCY_SCHEMA,
        kernel,
        hostname,
        started_at: timestamp(r.started_at_unix_ms),
        report: r,
    };
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

#[cfg(test)]
mod tests {
    use super::log_bar;

    #[test]
    fn histogram_bars_are_on_a_log_scale() {
        assert_eq!(log_bar(1_000_000, 1_000_000, 30).chars().count(), 30);
        assert_eq!(log_bar(1_000_000, 1_000_000, 30), "█".repeat(30));
        // 1000 of a million: half the log scale.
        assert_eq!(log_bar(1000, 1_000_000, 30), "█".repeat(15));
        // One late wakeup still shows.
        assert!(!log_bar(1, 1_000_000, 30).is_empty());
        assert_eq!(log_bar(0, 1_000_000, 30), "");
        assert_eq!(log_bar(5, 0, 30), "");
        // Longer count, longer bar.
        assert!(log_bar(100, 1000, 30).chars().count() < log_bar(900, 1000, 30).chars().count());
    }
}
