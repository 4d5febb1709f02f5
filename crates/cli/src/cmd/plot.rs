//! `memscope plot --out FILE.svg|FILE.png`: the ledger over time and the top
//! suspects' series.

use std::process::ExitCode;

use anyhow::Context;
use memscope_analysis::leaks::{self, LeakOptions, SeriesBuilder, Suspect, SuspectKind, Unit};
use memscope_analysis::ledger::{self, LedgerOptions};
use memscope_export::chart::{self, ChartData, SuspectLine};
use memscope_export::leaks::fmt_value;
use memscope_export::style::timestamp;

use crate::cli::PlotArgs;
use crate::errors::bad_input;
use crate::history::{open_for_reading, select, spread};

pub fn run(a: &PlotArgs) -> anyhow::Result<ExitCode> {
    let ext = a.out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let png = match ext.as_deref() {
        Some("png") => true,
        Some("svg") => false,
        _ => bad_input!("--out {}: the file name must end in .svg or .png", a.out.display()),
    };
    let mut store = open_for_reading(&a.db)?;
    let list = select(&store, a.from, a.to)?;
    let chosen = spread(&list, a.points);
    let mut data = ChartData { with_free: a.with_free, ..ChartData::default() };
    let mut builder = SeriesBuilder::new();
    let mut host = None;
    for info in &chosen {
        let snap = store.read(info.id).with_context(|| format!("cannot read snapshot {}", info.id))?;
        if let Ok(l) = ledger::build(&snap, &LedgerOptions::default()) {
            data.push_ledger(snap.taken_at_unix_ms, &l);
        }
        builder.add(&snap);
        host = host.or(info.host.clone());
    }
    let built = builder.finish();
    let report = leaks::analyse(&built, &LeakOptions::default());
    // The chart's axis is bytes: descriptor and file counts are left out.
    let in_bytes = |s: &&Suspect| s.unit == Unit::Bytes;
    let mut picked: Vec<&Suspect> = report.suspects.iter().filter(in_bytes).take(a.top).collect();
    for s in report.not_leaks.iter().filter(in_bytes) {
        if picked.len() >= a.top {
            break;
        }
        picked.push(s);
    }
    let mut lines: Vec<SuspectLine> = picked
        .iter()
        .filter_map(|s| {
            let series = built.series.iter().find(|x| x.kind == s.kind && x.name == s.name)?;
            let name = match s.kind {
                SuspectKind::Process => memscope_export::leaks::display_command(&s.name, 40),
                _ => memscope_export::leaks::short(&s.name, 40),
            };
            let rate = format!(
                "{}{}/h",
                if s.growth_per_hour >= 0.0 { "+" } else { "" },
                fmt_value(s.growth_per_hour, s.unit)
            );
            Some(SuspectLine {
                label: format!("{rate} {name} ({})", s.metric),
                points: series.points.iter().map(|p| (p.t_unix_ms, p.value)).collect(),
            })
        })
        .collect();
    // `unaccounted` is always drawn: it is where kernel leaks show.
    if !picked.iter().any(|s| s.kind == SuspectKind::Kernel && s.name == "unaccounted")
        && let Some(u) =
            built.series.iter().find(|x| x.kind == SuspectKind::Kernel && x.name == "unaccounted")
    {
        lines.insert(
            0,
            SuspectLine {
                label: "unaccounted (kernel bytes)".into(),
                points: u.points.iter().map(|p| (p.t_unix_ms, p.value)).collect(),
            },
        );
    }
    data.suspects = lines;
    data.title = format!(
        "memscope · {} · {} snapshots · {} to {}",
        host.as_deref().unwrap_or("recorded machine"),
        chosen.len(),
        timestamp(chosen[0].taken_at_unix_ms),
        timestamp(chosen[chosen.len() - 1].taken_at_unix_ms)
    );
    let mut buf = Vec::new();
    if png {
        chart::write_png(&mut buf, &data, (a.width, a.height))?;
    } else {
        chart::write_svg(&mut buf, &data, (a.width, a.height))?;
    }
    std::fs::write(&a.out, &buf).with_context(|| format!("cannot write {}", a.out.display()))?;
    eprintln!(
        "memscope: wrote {} ({} snapshots, {} series)",
        a.out.display(),
        chosen.len(),
        data.suspects.len()
    );
    Ok(ExitCode::SUCCESS)
}
