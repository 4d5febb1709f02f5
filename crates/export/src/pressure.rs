//! `memscope pressure` output: the current pressure once, or one line (one
//! JSON object, `"schema": "memscope.pressure/1"`) per trigger event;
//! documented in docs/json.md.
//!
//! ```text
//! once:  { schema, taken_at, taken_at_unix_ms, source, some, full, meaning?, unavailable? }
//! event: { schema, event, taken_at, taken_at_unix_ms, source, trigger, some, full, meaning?,
//!          processes: [{pid, comm, rss_bytes, rss_growth_bytes}],
//!          cgroups: [{path, current_bytes, growth_bytes}] }
//! ```

use std::io::{self, Write};

use memscope_analysis::fmt_bytes;
use memscope_analysis::pressure::{Growth, PressureView, fmt_avg};
use serde::Serialize;

use crate::report::{fmt_usec, write_pressure};
use crate::style::{Style, timestamp, wrap};

/// The JSON schema name of `memscope pressure`.
pub const PRESSURE_SCHEMA: &str = "memscope.pressure/1";

/// The pressure of one file at one moment.
#[derive(Debug, Clone)]
pub struct PressureNow {
    /// Kernel path of the pressure file.
    pub source: String,
    /// When it was read.
    pub taken_at_unix_ms: u64,
    /// The figures, or why not.
    pub view: PressureView,
}

/// One trigger event of `memscope pressure --watch`.
#[derive(Debug, Clone)]
pub struct PressureEvent {
    /// 1 for the first event.
    pub event: u64,
    /// The pressure right after the event.
    pub now: PressureNow,
    /// The trigger as written (`some 150000 1000000`).
    pub trigger: String,
    /// `some` stall time since the previous event (or the start), µs.
    pub stall_usec: Option<u64>,
    /// Processes whose RSS grew most since the previous event.
    pub processes: Vec<Growth<u32>>,
    /// Memory cgroups whose charge grew most since the previous event.
    pub cgroups: Vec<Growth<String>>,
}

#[derive(Serialize)]
struct NowJson<'a> {
    schema: &'static str,
    taken_at: String,
    taken_at_unix_ms: u64,
    source: &'a str,
    #[serde(flatten)]
    view: &'a PressureView,
}

#[derive(Serialize)]
struct ProcJson<'a> {
    pid: u32,
    comm: &'a str,
    rss_bytes: u64,
    rss_growth_bytes: u64,
}

#[derive(Serialize)]
struct CgroupJson<'a> {
    path: &'a str,
    current_bytes: u64,
    growth_bytes: u64,
}

#[derive(Serialize)]
struct EventJson<'a> {
    schema: &'static str,
    event: u64,
    taken_at: String,
    taken_at_unix_ms: u64,
    source: &'a str,
    trigger: &'a str,
    #[serde(flatten)]
    view: &'a PressureView,
    some_stall_growth_usec: Option<u64>,
    processes: Vec<ProcJson<'a>>,
    cgroups: Vec<CgroupJson<'a>>,
}

/// The current pressure as one JSON document.
pub fn write_now_json(w: &mut dyn Write, p: &PressureNow) -> io::Result<()> {
    let doc = NowJson {
        schema: PRESSURE_SCHEMA,
        taken_at: timestamp(p.taken_at_unix_ms),
        taken_at_unix_ms: p.taken_at_unix_ms,
        source: &p.source,
        view: &p.view,
    };
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

/// The current pressure in words.
pub fn write_now_table(w: &mut dyn Write, p: &PressureNow, s: &Style) -> io::Result<()> {
    writeln!(w, "{} at {}", s.heading(&p.source), timestamp(p.taken_at_unix_ms))?;
    write_pressure(w, &p.view, s)
}

/// One event as one line of JSON (JSON lines).
pub fn write_event_json(w: &mut dyn Write, e: &PressureEvent) -> io::Result<()> {
    let doc = EventJson {
        schema: PRESSURE_SCHEMA,
        event: e.event,
        taken_at: timestamp(e.now.taken_at_unix_ms),
        taken_at_unix_ms: e.now.taken_at_unix_ms,
        source: &e.now.source,
        trigger: &e.trigger,
        view: &e.now.view,
        some_stall_growth_usec: e.stall_usec,
        processes: e
            .processes
            .iter()
            .map(|g| ProcJson {
                pid: g.key,
                comm: &g.name,
                rss_bytes: g.bytes,
                rss_growth_bytes: g.growth_bytes,
            })
            .collect(),
        cgroups: e
            .cgroups
            .iter()
            .map(|g| CgroupJson { path: &g.key, current_bytes: g.bytes, growth_bytes: g.growth_bytes })
            .collect(),
    };
    serde_json::to_writer(&mut *w, &doc)?;
    writeln!(w)
}

/// One event as one line of text (wrapped to the width).
pub fn write_event_line(w: &mut dyn Write, e: &PressureEvent, s: &Style) -> io::Result<()> {
    let v = &e.now.view;
    let avg = match (v.some, v.full) {
        (Some(so), Some(f)) => format!("some avg10 {} (full {})", fmt_avg(so.avg10), fmt_avg(f.avg10)),
        (Some(so), None) => format!("some avg10 {}", fmt_avg(so.avg10)),
        (None, Some(f)) => format!("full avg10 {}", fmt_avg(f.avg10)),
        (None, None) => v.unavailable.clone().unwrap_or_else(|| "no figures".into()),
    };
    let stall =
        e.stall_usec.map(|u| format!(", stalled {} since the last event", fmt_usec(u))).unwrap_or_default();
    let procs: Vec<String> = e
        .processes
        .iter()
        .map(|g| format!("{}[{}] +{}", g.name, g.key, fmt_bytes(g.growth_bytes as i64)))
        .collect();
    let cgs: Vec<String> =
        e.cgroups.iter().map(|g| format!("{} +{}", g.key, fmt_bytes(g.growth_bytes as i64))).collect();
    let mut text = format!("{} #{} {avg}{stall}", timestamp(e.now.taken_at_unix_ms), e.event);
    text.push_str(&format!(
        "; RSS grew: {}",
        if procs.is_empty() { "none".to_string() } else { procs.join(", ") }
    ));
    if !cgs.is_empty() {
        text.push_str(&format!("; cgroups grew: {}", cgs.join(", ")));
    }
    writeln!(w, "{}", wrap(&text, s.width, "", "    "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use memscope_kernel::parse::pressure::PsiLine;

    fn event() -> PressureEvent {
        let l = |a, t| PsiLine { avg10: a, avg60: 0.0, avg300: 0.0, total_usec: t };
        PressureEvent {
            event: 3,
            now: PressureNow {
                source: "/proc/pressure/memory".into(),
                taken_at_unix_ms: 1_785_542_400_000,
                view: PressureView {
                    some: Some(l(12.5, 1_602_356)),
                    full: Some(l(3.0, 5)),
                    meaning: Some("m".into()),
                    unavailable: None,
                },
            },
            trigger: "some 150000 1000000".into(),
            stall_usec: Some(250_000),
            processes: vec![Growth { key: 42, name: "hog".into(), bytes: 64 << 20, growth_bytes: 60 << 20 }],
            cgroups: vec![Growth {
                key: "/app".into(),
                name: "/app".into(),
                bytes: 32 << 20,
                growth_bytes: 1 << 20,
            }],
        }
    }

    #[test]
    fn an_event_is_one_json_line_with_the_growers() {
        let mut out = Vec::new();
        write_event_json(&mut out, &event()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["schema"], PRESSURE_SCHEMA);
        assert_eq!(v["some"]["avg10"], 12.5);
        assert_eq!(v["some"]["total_usec"], 1_602_356);
        assert_eq!(v["processes"][0]["pid"], 42);
        assert_eq!(v["processes"][0]["rss_growth_bytes"], 60 << 20);
        assert_eq!(v["cgroups"][0]["path"], "/app");
        assert_eq!(v["some_stall_growth_usec"], 250_000);
    }

    #[test]
    fn an_event_line_names_time_avg10_and_growers() {
        let mut out = Vec::new();
        write_event_line(&mut out, &event(), &Style { width: 500, ..Style::plain() }).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "2026-08-01T00:00:00Z #3 some avg10 12.50% (full 3%), stalled 250 ms since the last event; RSS grew: \
             hog[42] +60.0 MiB; cgroups grew: /app +1.0 MiB\n"
        );
    }
}
