//! `memscope top`: the live terminal view, or the replay of a recording.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use memscope_kernel::KernelRoot;
use memscope_model::collect;
use memscope_tui::{Live, Recording, live_options, replay, run as run_tui};

use crate::cli::TopArgs;

pub fn run(root: &KernelRoot, a: &TopArgs) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!("memscope top needs a terminal; for a snapshot in a pipe use `memscope report`");
    }
    if let Some(db) = &a.db {
        // Nothing is read from the running system: only the database.
        let rec = Recording::open(db).context("cannot replay the recording")?;
        replay(rec)?;
        return Ok(ExitCode::SUCCESS);
    }
    let opts = live_options(Duration::from_millis(a.budget_ms), a.max_rss, a.full_pss);
    let label = match root.is_live() {
        true => "live".to_string(),
        false => format!("tree {}", root.dir().display()),
    };
    let root = root.clone();
    run_tui(Box::new(Live { label, collect: move || collect(&root, &opts) }), a.interval)?;
    Ok(ExitCode::SUCCESS)
}
