//! The summary of `memscope run`: text for people, JSON
//! (`"schema": "memscope.run/1"`, documented in docs/json.md) for machines.
//!
//! ```text
//! { schema, command[], pid, exit: {code}|{signal, signal_name}, exit_status,
//!   cgroup: {name, path, version, directories[], removed, cleanup_error},
//!   limits: {memory_bytes, memory_limit_bytes, swap_bytes, cpus, mems, pids},
//!   wall_usec, cpu_user_usec, cpu_system_usec, peak_memory_bytes, oom_kills, oom_events,
//!   leftover_killed, forwarded_signals[], stale_cgroups[], unavailable: {field: reason} }
//! ```

use std::io::{self, Write};

use memscope_analysis::cgroups::unavailable_reason;
use memscope_analysis::fmt_bytes;
use memscope_kernel::parse::cgroupfs::Limit;
use memscope_kernel::parse::sysfs::format_list;
use memscope_model::cgroups::tree::Figure;
use memscope_model::run::{Exit, RunReport, signal_name};
use serde_json::{Map, Value, json};

use crate::style::{Style, wrap};

/// The JSON schema name of the `memscope run` summary.
pub const RUN_SCHEMA: &str = "memscope.run/1";

fn seconds(usec: u64) -> String {
    format!("{:.2} s", usec as f64 / 1e6)
}

fn exit_text(r: &RunReport) -> String {
    match r.exit {
        Exit::Code(c) => format!("exited with status {c}"),
        Exit::Signal(s) => {
            format!("was killed by {} (exit status {})", signal_name(s), r.exit.shell_status())
        }
    }
}

fn controllers(r: &RunReport) -> String {
    let mut parts = Vec::new();
    for p in &r.plan.placements {
        let c = if p.controllers.is_empty() { "no controller".to_string() } else { p.controllers.join(", ") };
        parts.push(format!("{} {c}", p.hierarchy.version.name()));
    }
    parts.join("; ")
}

/// Write the summary for people (to stderr, by the caller).
pub fn write_text(w: &mut dyn Write, r: &RunReport, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let cmd = r.command.join(" ");
    let oom = match &r.oom_kills {
        Ok(n) if *n > 0 => format!(
            "; the OOM killer killed {n} process{} in the cgroup (memory limit reached)",
            if *n == 1 { "" } else { "es" }
        ),
        _ => String::new(),
    };
    let head = format!("memscope run: `{cmd}` {}{oom}", exit_text(r));
    writeln!(w, "{}", s.heading(&wrap(&head, s.width, "", "  ")))?;
    let removed = match &r.cleanup_error {
        None => "removed".to_string(),
        Some(e) => format!("NOT removed: {e}"),
    };
    writeln!(w, "  cgroup   {} ({}), {removed}", r.plan.path, controllers(r))?;
    let mut limits = Vec::new();
    if let Some(m) = r.plan.limits.memory_bytes {
        let held = match r.memory_limit {
            Some(Limit::Value(v)) if v != m => format!(" (the kernel holds {})", fmt_bytes(v as i64)),
            _ => String::new(),
        };
        limits.push(format!("memory {}{held}", fmt_bytes(m as i64)));
    }
    if let Some(sw) = r.plan.limits.swap_bytes {
        limits.push(format!("swap {}", fmt_bytes(sw as i64)));
    }
    if let Some(c) = &r.plan.limits.cpus {
        limits.push(format!("cpus {}", format_list(c)));
    }
    if let Some(m) = &r.plan.limits.mems {
        limits.push(format!("mems {}", format_list(m)));
    }
    if let Some(p) = r.plan.limits.pids {
        limits.push(format!("pids {p}"));
    }
    if !limits.is_empty() {
        writeln!(w, "  limits   {}", limits.join(" · "))?;
    }
    writeln!(
        w,
        "  time     wall {} · CPU {} user + {} system",
        seconds(r.wall_usec),
        seconds(r.user_usec),
        seconds(r.system_usec)
    )?;
    let show = |v: &Figure<u64>, f: &dyn Fn(u64) -> String| match v {
        Ok(x) => f(*x),
        Err(e) => format!("unavailable ({})", unavailable_reason(e)),
    };
    let peak = show(&r.peak_memory_bytes, &|b| fmt_bytes(b as i64));
    let kills = show(&r.oom_kills, &|n| n.to_string());
    let mut mem = format!("peak {peak} · OOM kills {kills}");
    if let Ok(n) = &r.oom_events {
        mem.push_str(&format!(" · OOM events {n}"));
    }
    writeln!(w, "{}", wrap(&mem, s.width, "  memory   ", "           "))?;
    if r.leftover_killed > 0 {
        writeln!(
            w,
            "  note     {} process{} left in the cgroup after the command exited {} killed",
            r.leftover_killed,
            if r.leftover_killed == 1 { "" } else { "es" },
            if r.leftover_killed == 1 { "was" } else { "were" }
        )?;
    }
    if !r.forwarded_signals.is_empty() {
        let names: Vec<String> = r.forwarded_signals.iter().map(|s| signal_name(*s)).collect();
        writeln!(w, "  signals  received {} (passed on to the command)", names.join(", "))?;
    }
    for st in &r.stale {
        let text = if st.removed {
            format!("  stale    removed {} (left by a memscope that was killed)", st.dir)
        } else {
            format!(
                "  stale    {} of a memscope that was killed still holds processes {}: left in place",
                st.dir,
                st.procs.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
            )
        };
        writeln!(w, "{text}")?;
    }
    Ok(())
}

/// The summary as one JSON document.
pub fn to_json(r: &RunReport) -> Value {
    let mut gaps = Map::new();
    let mut val = |key: &str, v: &Figure<u64>| -> Value {
        match v {
            Ok(x) => json!(x),
            Err(e) => {
                gaps.insert(key.into(), json!(unavailable_reason(e)));
                Value::Null
            }
        }
    };
    let peak = val("peak_memory_bytes", &r.peak_memory_bytes);
    let kills = val("oom_kills", &r.oom_kills);
    let events = val("oom_events", &r.oom_events);
    let exit = match r.exit {
        Exit::Code(c) => json!({ "code": c }),
        Exit::Signal(s) => json!({ "signal": s, "signal_name": signal_name(s) }),
    };
    let l = &r.plan.limits;
    json!({
        "schema": RUN_SCHEMA,
        "command": r.command,
        "pid": r.pid,
        "exit": exit,
        "exit_status": r.exit.shell_status(),
        "cgroup": {
            "name": r.plan.name,
            "path": r.plan.path,
            "version": r.plan.version(),
            "directories": r.plan.placements.iter().map(|p| json!({
                "dir": p.dir,
                "version": p.hierarchy.version,
                "controllers": p.controllers,
            })).collect::<Vec<_>>(),
            "removed": r.cleanup_error.is_none(),
            "cleanup_error": r.cleanup_error,
        },
        "limits": {
            "memory_bytes": l.memory_bytes,
            "memory_limit_bytes": r.memory_limit,
            "swap_bytes": l.swap_bytes,
            "cpus": l.cpus.as_deref().map(format_list),
            "mems": l.mems.as_deref().map(format_list),
            "pids": l.pids,
        },
        "wall_usec": r.wall_usec,
        "cpu_user_usec": r.user_usec,
        "cpu_system_usec": r.system_usec,
        "peak_memory_bytes": peak,
        "oom_kills": kills,
        "oom_events": events,
        "leftover_killed": r.leftover_killed,
        "forwarded_signals": r.forwarded_signals.iter().map(|s| signal_name(*s)).collect::<Vec<_>>(),
        "stale_cgroups": r.stale,
        "unavailable": gaps,
    })
}

/// Write the summary as one line of JSON.
pub fn write_json(w: &mut dyn Write, r: &RunReport) -> io::Result<()> {
    serde_json::to_writer(&mut *w, &to_json(r))?;
    writeln!(w)
}
