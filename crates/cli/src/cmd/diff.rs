//! `memscope diff [FROM] [TO]`: two recorded snapshots compared.

use std::process::ExitCode;

use anyhow::Context;
use memscope_analysis::diff;
use memscope_export::diff as out;

use crate::cli::{DiffArgs, Global};
use crate::history::{open_for_reading, select};
use crate::output::{self, Format};

pub fn run(g: &Global, a: &DiffArgs) -> anyhow::Result<ExitCode> {
    let (format, mut style) = output::choose(g);
    style.all = false;
    let mut store = open_for_reading(&a.db)?;
    let range = select(&store, a.from, a.to)?;
    let (first, last) = (&range[0], &range[range.len() - 1]);
    let x = store.read(first.id).with_context(|| format!("cannot read snapshot {}", first.id))?;
    let y = store.read(last.id).with_context(|| format!("cannot read snapshot {}", last.id))?;
    let mut d = diff::diff(&x, &y, a.top).context("cannot build the ledgers to compare")?;
    // The kills after the first snapshot, up to the second.
    let mut kills = store
        .oom_timeline(first.taken_at_unix_ms.saturating_add(1), last.taken_at_unix_ms)
        .context("cannot read the recorded OOM kills")?;
    kills.count_rises.retain(|r| r.from_unix_ms >= first.taken_at_unix_ms);
    d.oom_kills = Some(kills);
    let mut w = output::stdout();
    match format {
        Format::Json => out::write_json(&mut w, &d, first.id, last.id)?,
        Format::Csv => anyhow::bail!("`diff` prints a table or JSON (--json), not CSV"),
        Format::Table => out::write_table(&mut w, &d, first.id, last.id, &style)?,
    }
    output::finish(w)?;
    Ok(ExitCode::SUCCESS)
}
