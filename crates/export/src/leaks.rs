//! `memscope leaks` output: table or JSON (`memscope.leaks/1`).

use std::io::{self, Write};

use crate::table::Color;
use memscope_analysis::cgroup_history::{LineTrend, LineVerdict};
use memscope_analysis::fmt_bytes;
use memscope_analysis::leaks::{LeakReport, Suspect, SuspectKind, Unit, Verdict};
use memscope_analysis::pressure::{PressureWindow, fmt_avg};
use memscope_model::oom::OomTimeline;
use serde::Serialize;

use crate::style::{self, Style, timestamp, wrap};

/// The JSON schema name of `memscope leaks`.
pub const LEAKS_SCHEMA: &str = "memscope.leaks/1";

/// A quantity in its unit: `12.5 MiB` or `340`.
pub fn fmt_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Bytes => fmt_bytes(v.round() as i64),
        Unit::Count => format!("{:.0}", v),
    }
}

fn signed(v: f64, unit: Unit) -> String {
    let s = fmt_value(v.abs(), unit);
    if v >= 0.0 { format!("+{s}") } else { format!("-{s}") }
}

/// `3.2 h`, `41 min`, `12 d`.
pub fn fmt_seconds(s: f64) -> String {
    if !s.is_finite() {
        return "never".into();
    }
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 3.0 * 86400.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s < 730.0 * 86400.0 {
        format!("{:.0} d", s / 86400.0)
    } else {
        format!("{:.0} years", s / (365.25 * 86400.0))
    }
}

fn pct(c: f64) -> String {
    if c >= 0.9999 { ">99.99%".into() } else { format!("{:.2}%", c * 100.0) }
}

#[derive(Serialize)]
struct SuspectJson<'a> {
    kind: &'static str,
    name: &'a str,
    metric: &'static str,
    unit: Unit,
    points: usize,
    first: i64,
    last: i64,
    growth_per_hour: i64,
    growth_in_window: i64,
    confidence: f64,
    tau: f64,
    verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    step_at_unix_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    step_jump: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exhaustion_limit: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headroom: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exhaustion_seconds: Option<f64>,
    #[serde(skip_serializing_if = "<[u32]>::is_empty")]
    pids: &'a [u32],
    restarts: usize,
    processes_seen: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pressure: Option<&'a PressureWindow>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    oom_killed: &'a [String],
    #[serde(skip_serializing_if = "<[LineTrend]>::is_empty")]
    lines: &'a [LineTrend],
}

fn suspect_json(s: &Suspect) -> SuspectJson<'_> {
    SuspectJson {
        kind: s.kind.key(),
        name: &s.name,
        metric: s.metric,
        unit: s.unit,
        points: s.points,
        first: s.first_value.round() as i64,
        last: s.last_value.round() as i64,
        growth_per_hour: s.growth_per_hour.round() as i64,
        growth_in_window: s.growth_in_window.round() as i64,
        confidence: s.confidence,
        tau: s.tau,
        verdict: match s.verdict {
            Verdict::Growing => "growing",
            Verdict::Step { .. } => "step",
            Verdict::Stopped => "stopped",
            Verdict::Sawtooth => "sawtooth",
            Verdict::NoTrend => "no_trend",
        },
        step_at_unix_ms: match s.verdict {
            Verdict::Step { at_unix_ms, .. } => Some(at_unix_ms),
            _ => None,
        },
        step_jump: match s.verdict {
            Verdict::Step { jump, .. } => Some(jump.round() as i64),
            _ => None,
        },
        exhaustion_limit: s.exhaustion.as_ref().map(|e| e.limit.as_str()),
        headroom: s.exhaustion.as_ref().map(|e| e.headroom.round() as i64),
        exhaustion_seconds: s.exhaustion.as_ref().map(|e| e.seconds).filter(|x| x.is_finite()),
        pids: &s.pids,
        restarts: s.restarts,
        processes_seen: s.processes_seen,
        pressure: s.pressure.as_ref(),
        oom_killed: &s.oom_killed,
        lines: &s.lines,
    }
}

#[derive(Serialize)]
struct LeaksJson<'a> {
    schema: &'static str,
    snapshots: usize,
    from_unix_ms: Option<u64>,
    to_unix_ms: Option<u64>,
    series: usize,
    suspects: Vec<SuspectJson<'a>>,
    not_leaks: Vec<SuspectJson<'a>>,
    notes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    oom_kills: Option<&'a OomTimeline>,
}

/// Write the analysis as one JSON document (all suspects, `top` ignored).
pub fn write_json(w: &mut dyn Write, r: &LeakReport) -> io::Result<()> {
    let doc = LeaksJson {
        schema: LEAKS_SCHEMA,
        snapshots: r.snapshots,
        from_unix_ms: r.from_unix_ms,
        to_unix_ms: r.to_unix_ms,
        series: r.series,
        suspects: r.suspects.iter().map(suspect_json).collect(),
        not_leaks: r.not_leaks.iter().map(suspect_json).collect(),
        notes: &r.notes,
        oom_kills: r.oom.as_ref(),
    };
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

/// A command line for a table: the program without its directory, then
/// the arguments, cut to `max` characters.
pub fn display_command(cmdline: &str, max: usize) -> String {
    let (prog, rest) = cmdline.split_once(' ').unwrap_or((cmdline, ""));
    let prog = if prog.starts_with('/') { prog.rsplit('/').next().unwrap_or(prog) } else { prog };
    let s = if rest.is_empty() { prog.to_string() } else { format!("{prog} {rest}") };
    short(&s, max)
}

/// `name`, cut to `max` characters with an ellipsis.
pub fn short(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_string()
    } else {
        let mut s: String = name.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// `max some avg10 12.50%, +1.6 s stalled` over a suspect's window; `-`
/// with the reason kept once for below the table.
fn pressure_cell(p: Option<&PressureWindow>, why: &mut Option<String>) -> String {
    let Some(p) = p else { return "-".into() };
    if let Some(u) = &p.unavailable {
        why.get_or_insert_with(|| u.clone());
        return "-".into();
    }
    let max = p.some_avg10_max.map(|a| format!("max {}", fmt_avg(a)));
    let stall = p.some_stall_growth_usec.map(|u| format!("+{} stalled", crate::report::fmt_usec(u)));
    let parts: Vec<String> = [max, stall].into_iter().flatten().collect();
    if parts.is_empty() { "-".into() } else { parts.join(", ") }
}

/// Write the suspects as a table, at most `top` of them.
pub fn write_table(w: &mut dyn Write, r: &LeakReport, s: &Style, top: usize) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let span = match (r.from_unix_ms, r.to_unix_ms) {
        (Some(a), Some(b)) => format!(
            " from {} to {} ({})",
            timestamp(a),
            timestamp(b),
            fmt_seconds(b.saturating_sub(a) as f64 / 1000.0)
        ),
        _ => String::new(),
    };
    writeln!(w, "{}", s.heading(&format!("Leak suspects in {} snapshots{span}", r.snapshots)))?;
    if r.snapshots < r.min_points {
        writeln!(
            w,
            "Nothing could be judged: {} snapshot(s), and a trend needs at least {}; record longer.",
            r.snapshots, r.min_points
        )?;
    } else if r.suspects.is_empty() {
        writeln!(w, "No series grows steadily ({} examined).", r.series)?;
    } else {
        let mut t = s.table(&[
            "suspect",
            "kind",
            "now",
            "growth/h",
            "confidence",
            "exhausts",
            "limit",
            "pressure meanwhile",
        ]);
        let mut pressure_why: Option<String> = None;
        for x in r.suspects.iter().take(top) {
            let name = match (x.kind.is_command(), x.restarts) {
                (true, 0) => format!("{} [{}]", display_command(&x.name, 48), pids(&x.pids)),
                (true, n) => format!("{} [{}; {n} restarts]", display_command(&x.name, 40), pids(&x.pids)),
                (false, _) => short(&x.name, 56),
            };
            let name_cell = if x.name == "unaccounted" {
                s.colored(&name, Color::Red)
            } else {
                crate::table::Cell::new(&name)
            };
            let (exhausts, limit) = match &x.exhaustion {
                Some(e) => (fmt_seconds(e.seconds), format!("{} {}", e.limit, fmt_value(e.headroom, x.unit))),
                None => ("-".into(), "-".into()),
            };
            t.add_row(vec![
                name_cell,
                s.dim(kind_label(x)),
                s.num(fmt_value(x.last_value, x.unit)),
                s.num(signed(x.growth_per_hour, x.unit)),
                s.num(pct(x.confidence)),
                s.num(exhausts),
                s.dim(limit),
                s.dim(pressure_cell(x.pressure.as_ref(), &mut pressure_why)),
            ]);
        }
        style::write_table(w, &t)?;
        if let Some(why) = pressure_why {
            writeln!(w, "{}", wrap(&format!("pressure meanwhile: unavailable ({why})"), s.width, "", "  "))?;
        }
        if r.suspects.len() > top {
            writeln!(w, "({} more; --top N shows them, --json lists all.)", r.suspects.len() - top)?;
        }
        let traces: Vec<(String, String)> = r
            .suspects
            .iter()
            .take(top)
            .filter_map(|x| Some((display_command(&x.name, 48), memscope_analysis::leaks::trace_command(x)?)))
            .collect();
        if !traces.is_empty() {
            writeln!(
                w,
                "\n{}",
                s.heading("Which code holds it (user allocations still held after a window, with stacks)")
            )?;
            for (name, cmd) in traces {
                writeln!(w, "  {name}: {cmd}")?;
            }
        }
    }
    if !r.not_leaks.is_empty() {
        writeln!(w, "\n{}", s.heading("Rose, but not steadily (not called leaks)"))?;
        let mut t = s.table(&["series", "kind", "now", "rise", "why not"]);
        for x in r.not_leaks.iter().take(top.min(8)) {
            let why = match x.verdict {
                Verdict::Step { at_unix_ms, jump } => {
                    format!("one jump of {} at {}", signed(jump, x.unit), timestamp(at_unix_ms))
                }
                Verdict::Stopped => "grew, then stopped".into(),
                Verdict::Sawtooth => "falls back repeatedly (filled and reclaimed)".into(),
                Verdict::Growing | Verdict::NoTrend => String::new(),
            };
            t.add_row(vec![
                crate::table::Cell::new(if x.kind.is_command() {
                    display_command(&x.name, 56)
                } else {
                    short(&x.name, 56)
                }),
                s.dim(kind_label(x)),
                s.num(fmt_value(x.last_value, x.unit)),
                s.num(signed(x.last_value - x.first_value, x.unit)),
                s.dim(why),
            ]);
        }
        style::write_table(w, &t)?;
    }
    let split: Vec<(&str, String)> = r
        .suspects
        .iter()
        .take(top)
        .chain(r.not_leaks.iter().take(top.min(8)))
        .filter(|x| matches!(x.kind, SuspectKind::Cgroup | SuspectKind::CgroupLine) && !x.lines.is_empty())
        .map(|x| (x.name.as_str(), cgroup_lines_summary(&x.lines)))
        .collect();
    if !split.is_empty() {
        writeln!(w, "\n{}", s.heading("What grows in the memory cgroups (their ledger's lines)"))?;
        for (name, summary) in split {
            writeln!(w, "{}", wrap(&format!("{}: {summary}", short(name, 56)), s.width, "- ", "  "))?;
        }
    }
    let killed: Vec<(&str, &String)> = r
        .suspects
        .iter()
        .take(top)
        .chain(r.not_leaks.iter().take(top.min(8)))
        .flat_map(|x| x.oom_killed.iter().map(move |k| (x.name.as_str(), k)))
        .collect();
    for (name, k) in killed {
        writeln!(w, "{}", wrap(&format!("{} was killed: {k}", short(name, 56)), s.width, "! ", "  "))?;
    }
    if let Some(t) = &r.oom {
        write_oom_timeline(w, s, t, "OOM kills in the window")?;
    }
    writeln!(w, "\n{}", s.heading("Notes"))?;
    let mut notes = vec![format!(
        "{} series examined. Growth is the Theil–Sen slope; confidence is the Mann–Kendall test of an \
         upward trend; exhaustion is when the headroom of the limit would be used up at that rate.",
        r.series
    )];
    notes.extend(r.notes.iter().cloned());
    for n in notes {
        writeln!(w, "{}", wrap(&n, s.width, "- ", "  "))?;
    }
    Ok(())
}

/// What each line of a cgroup's ledger did, moving lines first:
/// `page_cache +40.0 MiB over 10 min (growing), anon flat, kernel flat`.
/// Flat parts of a line (`kernel_stack`, …) are left out.
pub fn cgroup_lines_summary(lines: &[LineTrend]) -> String {
    let moved = |l: &&LineTrend| l.verdict != LineVerdict::Flat;
    let mut parts: Vec<String> = lines
        .iter()
        .filter(moved)
        .map(|l| {
            let span = l.to_unix_ms.saturating_sub(l.from_unix_ms) as f64 / 1000.0;
            let outside = if l.in_usage { "" } else { ", not in the usage" };
            format!(
                "{} {} over {} ({}{outside})",
                l.line,
                signed(l.change_bytes as f64, Unit::Bytes),
                fmt_seconds(span),
                l.verdict.key().replace('_', " ")
            )
        })
        .collect();
    parts
        .extend(lines.iter().filter(|l| !moved(l) && l.parent.is_none()).map(|l| format!("{} flat", l.line)));
    if lines.iter().all(|l| l.verdict != LineVerdict::Growing) {
        parts.push("no single line grows steadily".into());
    }
    parts.join(", ")
}

/// A heading and one line per OOM kill of a window (or `None.`), for
/// `leaks` and `diff`.
pub fn write_oom_timeline(w: &mut dyn Write, s: &Style, t: &OomTimeline, heading: &str) -> io::Result<()> {
    writeln!(w, "\n{}", s.heading(heading))?;
    let lines = memscope_analysis::oom_timeline::timeline_lines(t);
    if lines.is_empty() {
        let none = match (&t.not_recorded, &t.log_unavailable) {
            (Some(_), _) => {
                "None counted by the memory cgroups (this recording did not keep the kernel's reports)."
            }
            (None, Some(_)) => "None counted by the memory cgroups (the kernel log was unavailable).",
            (None, None) => "None.",
        };
        writeln!(w, "{none}")?;
    }
    for l in lines {
        writeln!(w, "{}", wrap(&l, s.width, "- ", "  "))?;
    }
    Ok(())
}

/// What a suspect measures, for the table: `process pss`, `slab cache
/// bytes`, `process fds`, `cgroup memory`.
fn kind_label(x: &Suspect) -> String {
    match x.kind {
        SuspectKind::ProcessFds | SuspectKind::SystemFiles => x.kind.name().to_string(),
        SuspectKind::Cgroup => "cgroup memory".into(),
        _ => format!("{} {}", x.kind.name(), x.metric),
    }
}

fn pids(p: &[u32]) -> String {
    match p.len() {
        0 => "gone".into(),
        1..=3 => p.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","),
        n => format!("{} pids", n),
    }
}
