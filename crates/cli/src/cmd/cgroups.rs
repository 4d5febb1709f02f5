//! `memscope cgroups`: the cgroup tree with memory, cpus and pids per
//! cgroup, next to the PSS of its processes.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use memscope_analysis::cgroup_rows;
use memscope_analysis::cgroups::process_usage;
use memscope_analysis::processes;
use memscope_export::cgroup_rows::{self as ledger_out, LedgerView};
use memscope_export::cgroups::{self as out, CgroupsOptions, CgroupsView};
use memscope_kernel::KernelRoot;
use memscope_kernel::cgroup::{Layout, LayoutKind};
use memscope_model::cgroup_stats::read_all;
use memscope_model::cgroups::tree::{SPLIT, V1Source, read_tree};
use memscope_model::{CollectOptions, ProcessMode, collect, now_unix_ms};

use crate::cli::{CgroupsArgs, Global};
use crate::output::{self, Format};

pub fn run(root: &KernelRoot, g: &Global, a: &CgroupsArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let mut w = output::stdout();
    if a.explain {
        for item in SPLIT {
            let v1 = match item.v1 {
                V1Source::Stat(k) => format!("v1 memory.stat {k}"),
                V1Source::Kmem => "v1 memory.kmem.usage_in_bytes".into(),
                V1Source::Absent => "not in v1".into(),
            };
            writeln!(w, "{} (v2 memory.stat {}; {v1})", item.key, item.v2)?;
            writeln!(w, "{}", memscope_export::style::wrap(item.help, style.width, "      ", "      "))?;
        }
        output::finish(w)?;
        return Ok(ExitCode::SUCCESS);
    }
    let layout = Layout::detect(root).context("cannot find the cgroup hierarchies")?;
    if layout.kind == LayoutKind::None {
        bail!("no cgroup file system is mounted (no cgroup or cgroup2 line in /proc/self/mountinfo)");
    }
    let opts = CgroupsOptions { flat: a.flat, depth: a.depth, all: a.all || style.all };
    if a.ledger {
        // Each memory cgroup's own files, read once: no process is read.
        let stats = read_all(root, &layout, true).context("cannot read the memory cgroups")?;
        let rows = cgroup_rows::rows(&stats);
        let names = memscope_model::containers::read(root);
        let view = LedgerView {
            layout: &layout,
            stats: &stats,
            rows: &rows,
            taken_at_unix_ms: taken_at(root),
            names: Some(&names),
        };
        match format {
            Format::Json => ledger_out::write_json(&mut w, &view, &opts)?,
            Format::Csv => ledger_out::write_csv(&mut w, &view, &opts)?,
            Format::Table => ledger_out::write_table(&mut w, &view, &opts, &style)?,
        }
        output::finish(w)?;
        return Ok(ExitCode::SUCCESS);
    }
    let tree = read_tree(root, &layout);
    let names = memscope_model::containers::read(root);
    let snap = (!a.no_pss).then(|| {
        collect(
            root,
            &CollectOptions {
                processes: ProcessMode::Full,
                rollup_budget: Some(Duration::from_secs(10)),
                ..CollectOptions::default()
            },
        )
    });
    let usage = snap.as_ref().map(|s| process_usage(&tree, s));
    let mut pss_unavailable: Vec<String> = Vec::new();
    if let Some(s) = &snap {
        for r in processes::rows(s) {
            if let Some(why) = r.pss_unavailable
                && !pss_unavailable.contains(&why)
            {
                pss_unavailable.push(why);
            }
        }
    }
    let view = CgroupsView {
        tree: &tree,
        usage: usage.as_deref(),
        taken_at_unix_ms: snap.as_ref().map(|s| s.taken_at_unix_ms).unwrap_or_else(now_unix_ms),
        pss_unavailable,
        names: Some(&names),
    };
    match format {
        Format::Json => out::write_json(&mut w, &view, &opts)?,
        Format::Csv => out::write_csv(&mut w, &view, &opts)?,
        Format::Table => out::write_table(&mut w, &view, &opts, &style)?,
    }
    output::finish(w)?;
    Ok(ExitCode::SUCCESS)
}

/// When the files were read: now, or for a captured tree when its MANIFEST
/// says (as a collection dates its snapshot).
fn taken_at(root: &KernelRoot) -> u64 {
    match root.manifest().get("captured_at_unix_ms") {
        Some(t) if !root.is_live() => t.parse().unwrap_or(0),
        _ => now_unix_ms(),
    }
}
