//! `memscope pages PID`: one process's pages, joined with page flags.

use std::process::ExitCode;

use anyhow::anyhow;
use memscope_analysis::census::FlagView;
use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::pages::{self as analysis, ListMode, PagesInputs, PagesOptions, ProcessPages};
use memscope_export::pages as out;
use memscope_kernel::{KernelRoot, ReadError};
use memscope_model::now_unix_ms;
use memscope_model::pages::{self, ProcessWalkOptions};

use crate::cli::{Global, PagesArgs};
use crate::output::{self, Format};

pub fn run(root: &KernelRoot, g: &Global, a: &PagesArgs) -> anyhow::Result<ExitCode> {
    let (format, mut style) = output::choose(g);
    style.all = a.all;
    let list = match (a.list, a.list_each) {
        (_, true) => ListMode::Each,
        (true, false) => ListMode::Runs,
        _ => ListMode::None,
    };
    let taken_at_unix_ms = now_unix_ms();
    let pid = a.pid;
    let comm = root.pid_stat(pid).ok().map(|s| s.comm);
    let maps_pages: u64 = {
        let page = root.page_size().unwrap_or(4096).max(1);
        match root.pid_maps(pid) {
            Ok(m) => m.mappings.iter().map(|m| m.size() / page).sum(),
            Err(e) => return Err(anyhow!("cannot read the mappings of process {pid}: {}", reason(&e))),
        }
    };
    let opts = PagesOptions {
        view: if a.select.raw { FlagView::Raw } else { FlagView::WellKnown },
        filters: a.select.bits.iter().map(|b| b.filter).collect(),
        list,
    };
    let walk_opts = ProcessWalkOptions {
        counts: a.mapcount,
        cgroups: a.memcg,
        ranges: a.select.addr.clone(),
        threads: a.threads,
        ..ProcessWalkOptions::default()
    };
    let mut counts = ProcessPages::new(opts, 0);
    let bar = crate::progress::bar(maps_pages, "pages");
    let walk = pages::walk_process(root, pid, &walk_opts, &mut |c| counts.visit(c), &|n| bar.inc(n))
        .map_err(|e| anyhow!("cannot walk process {pid}: {}", reason(&e)))?;
    bar.finish_and_clear();
    let memcg = if a.memcg {
        pages::memcg_paths(root, crate::cmd::phys::MAX_MEMCGS)
            .map(|m| m.paths)
            .map_err(|e| unavailable_reason(&e))
    } else {
        Err("not read".to_string())
    };
    let report = analysis::pages_report(&PagesInputs {
        walk: &walk,
        pages: &counts,
        comm,
        kernel: root.osrelease().ok(),
        taken_at_unix_ms,
        filters: a.select.bits.iter().map(|b| b.spec.clone()).collect(),
        mapcount_asked: a.mapcount,
        memcg_asked: a.memcg,
        memcg_paths: memcg.as_ref().map_err(Clone::clone),
    });
    let mut w = output::stdout();
    match format {
        Format::Json => out::write_pages_json(&mut w, &report)?,
        Format::Csv => out::write_pages_csv(&mut w, &report, list)?,
        Format::Table => out::write_pages_table(&mut w, &report, list, &style)?,
    }
    output::finish(w)?;
    Ok(ExitCode::SUCCESS)
}

fn reason(e: &ReadError) -> String {
    match e {
        ReadError::Gone { .. } => "no such process".to_string(),
        other => unavailable_reason(other),
    }
}
