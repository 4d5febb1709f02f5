//! `memscope leaks`: judge every series of a recording (or of a short
//! recording made on the spot with `--watch`) and rank the suspects.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use memscope_analysis::leaks::{self, LeakOptions, SeriesBuilder};
use memscope_export::leaks as out;
use memscope_kernel::KernelRoot;
use memscope_model::collect;
use memscope_store::{Meta, Store};

use crate::cli::{Global, LeaksArgs};
use crate::errors::bad_input;
use crate::history::{self, open_for_reading, select, spread};
use crate::output::{self, Format};

pub fn run(root: &KernelRoot, g: &Global, a: &LeaksArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    if let Some(d) = a.watch {
        let (interval, count) = watch_plan(d, a.interval);
        let need = LeakOptions::default().min_points;
        if (count as usize) < need {
            bad_input!(
                "--watch {} takes {count} snapshot(s) {} apart, and a trend needs at least {need}: watch at \
                 least {} (or shorten --interval)",
                humantime::format_duration(d),
                humantime::format_duration(interval),
                humantime::format_duration(interval * (need as u32 - 1))
            );
        }
    }
    let mut store = match a.watch {
        Some(d) => watch(root, d, a.interval, a.full_pss)?,
        None => open_for_reading(&a.db)?,
    };
    let list = select(&store, a.from, a.to)?;
    let chosen = spread(&list, a.points);
    let mut builder = SeriesBuilder::new();
    // The start time of each process of the last snapshot: which suspects
    // still run here (a pid alone may have been reused since).
    let mut last_started: std::collections::HashMap<u32, u64> = Default::default();
    for info in &chosen {
        let snap = store.read(info.id).with_context(|| format!("cannot read snapshot {}", info.id))?;
        builder.add(&snap);
        last_started = snap
            .processes
            .iter()
            .filter_map(|p| Some((p.pid, p.stat.as_ref().ok()?.starttime_ticks?)))
            .collect();
    }
    let opts = LeakOptions {
        min_confidence: (a.min_confidence / 100.0).clamp(0.0, 1.0),
        min_growth_bytes: a.min_growth as f64,
        ..LeakOptions::default()
    };
    let mut report = leaks::analyse(&builder.finish(), &opts);
    for x in &mut report.suspects {
        x.running = x
            .pids
            .iter()
            .copied()
            .filter(|p| {
                last_started.get(p).is_some_and(|t| {
                    root.is_live() && root.pid_stat(*p).is_ok_and(|s| s.starttime_ticks == Some(*t))
                })
            })
            .collect();
    }
    if let (Some(first), Some(last)) = (list.first(), list.last()) {
        let t = store
            .oom_timeline(first.taken_at_unix_ms, last.taken_at_unix_ms)
            .context("cannot read the recorded OOM kills")?;
        leaks::attach_oom(&mut report, t);
    }
    if chosen.len() < list.len() {
        report.notes.push(format!(
            "{} of the {} snapshots in the window were analysed, evenly spread (--points).",
            chosen.len(),
            list.len()
        ));
    }
    let mut w = output::stdout();
    match format {
        Format::Json => out::write_json(&mut w, &report)?,
        Format::Csv => bad_input!("`leaks` prints a table or JSON (--json), not CSV"),
        Format::Table => out::write_table(&mut w, &report, &style, a.top)?,
    }
    output::finish(w)?;
    Ok(ExitCode::SUCCESS)
}

/// The interval of `--watch` (a thirtieth of it, between 1 s and 10 s,
/// unless given) and the snapshots it takes.
fn watch_plan(duration: Duration, interval: Option<Duration>) -> (Duration, u32) {
    let interval =
        interval.unwrap_or_else(|| (duration / 30).clamp(Duration::from_secs(1), Duration::from_secs(10)));
    let count = (duration.as_secs_f64() / interval.as_secs_f64().max(1e-3)).floor() as u32 + 1;
    (interval, count)
}

/// Record for `duration` into a database in memory.
fn watch(
    root: &KernelRoot,
    duration: Duration,
    interval: Option<Duration>,
    full_pss: bool,
) -> anyhow::Result<Store> {
    let (interval, count) = watch_plan(duration, interval);
    let mut store = Store::open_in_memory()?;
    let opts = history::collect_options(history::WATCH_BUDGET_MS, history::WATCH_MAX_RSS_BYTES, full_pss);
    let tty = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut err = std::io::stderr();
    let mut oom = super::record::OomWatch::new(root, memscope_model::now_unix_ms(), "leaks --watch");
    for k in 0..count {
        let due = started + interval * k;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let mut snap = collect(root, &opts);
        let id = store.write_owned(&mut snap, &Meta::default())?;
        oom.keep(root, &mut store, id, snap.taken_at_unix_ms, &mut err)?;
        if tty {
            write!(
                err,
                "\r\x1b[Kwatching: {} of {count} snapshots, {} of {}",
                k + 1,
                humantime::format_duration(Duration::from_secs(started.elapsed().as_secs())),
                humantime::format_duration(duration)
            )?;
            err.flush()?;
        }
    }
    if tty {
        writeln!(err)?;
    }
    Ok(store)
}
