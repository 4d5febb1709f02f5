//! `memscope report`: the memory ledger.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use memscope_analysis::cgroup_ledger;
use memscope_analysis::containers;
use memscope_analysis::ledger::{CATEGORIES, LedgerOptions};
use memscope_analysis::processes;
use memscope_analysis::report::{self, ReportOptions};
use memscope_kernel::KernelRoot;
use memscope_model::cgroups::ledger::read_ledger;
use memscope_model::{CollectOptions, ProcessMode, collect};

use super::cgroup_spec::{self, Resolved};
use crate::cli::{Global, ReportArgs};
use crate::errors::bad_input;
use crate::output;

pub fn run(root: &KernelRoot, g: &Global, a: &ReportArgs) -> anyhow::Result<ExitCode> {
    let (format, mut style) = output::choose(g);
    style.all = a.all;
    if a.explain {
        let mut w = output::stdout();
        // The rows as the table labels them; the JSON/metric key after.
        let label_of = |key: &'static str| CATEGORIES.iter().find(|c| c.key == key).map_or(key, |c| c.label);
        for c in CATEGORIES {
            let key = match c.parent {
                Some(p) => format!("  {} (in {})  [{}]", c.label, label_of(p), c.key),
                None => format!("{}  [{}]", c.label, c.key),
            };
            writeln_help(&mut w, &key, c.help, style.width)?;
        }
        output::finish(w)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(spec) = &a.cgroup {
        return cgroup_report(root, g, spec);
    }
    let opts = CollectOptions {
        processes: ProcessMode::Full,
        rollup_budget: a.budget_ms.map(Duration::from_millis),
        rollup_max_rss_bytes: a.max_rss,
        skip_cgroup: true,
        skip_cmdline: true,
        // The command name comes from `status`: no figure of `stat` is shown.
        skip_stat: true,
        // What a row shows: not the signal masks, capabilities, CPU lists,
        // nor the sizes of the address space.
        status_keys: memscope_model::ROW_STATUS,
        ..CollectOptions::default()
    };
    let snap = collect(root, &opts);
    let rep = report::build(
        &snap,
        &ReportOptions {
            top_processes: a.top,
            ledger: LedgerOptions { top_caches: a.detail, top_callers: a.detail },
        },
    )
    .context("cannot build the memory ledger")?;
    output::emit(format, &style, &rep)?;
    Ok(ExitCode::SUCCESS)
}

/// `report --cgroup SPEC`: the ledger of one memory cgroup.
fn cgroup_report(root: &KernelRoot, g: &Global, spec: &str) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let Resolved { layout, path, names, .. } = cgroup_spec::resolve(root, spec)?;
    let Some(sample) = read_ledger(root, &layout, &path).context("cannot read the memory cgroup")? else {
        bad_input!("the memory cgroup `{path}` is gone")
    };
    let pids = sample.pids.clone().unwrap_or_default();
    let rows = if pids.is_empty() {
        Vec::new()
    } else {
        let snap = collect(
            root,
            &CollectOptions {
                processes: ProcessMode::Full,
                pids: Some(pids),
                skip_cgroup: true,
                skip_cmdline: true,
                skip_stat: true,
                status_keys: memscope_model::ROW_STATUS,
                ..CollectOptions::default()
            },
        );
        processes::rows(&snap)
    };
    let mut ledger = cgroup_ledger::build(&sample, &rows);
    ledger.container = containers::label_of(&path, &names);
    output::emit(format, &style, &ledger)?;
    Ok(ExitCode::SUCCESS)
}

fn writeln_help(w: &mut dyn std::io::Write, key: &str, help: &str, width: usize) -> std::io::Result<()> {
    writeln!(w, "{key}")?;
    writeln!(w, "{}", memscope_export::style::wrap(help, width, "      ", "      "))
}
