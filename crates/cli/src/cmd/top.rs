//! `memscope top`: the live terminal view.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use memscope_kernel::KernelRoot;
use memscope_model::{CollectOptions, ProcessMode, collect};
use memscope_tui::{Live, run as run_tui};

use crate::cli::TopArgs;

pub fn run(root: &KernelRoot, a: &TopArgs) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!("memscope top needs a terminal; for a snapshot in a pipe use `memscope report`");
    }
    let opts = CollectOptions {
        processes: ProcessMode::Full,
        rollup_budget: Some(Duration::from_millis(a.budget_ms)),
        rollup_max_rss_bytes: Some(a.max_rss),
        ..CollectOptions::default()
    };
    let label = match root.is_live() {
        true => "live".to_string(),
        false => format!("tree {}", root.dir().display()),
    };
    let root = root.clone();
    run_tui(Box::new(Live { label, collect: move || collect(&root, &opts) }), a.interval)?;
    Ok(ExitCode::SUCCESS)
}
