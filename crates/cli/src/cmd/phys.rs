//! `memscope phys`: a census of every page frame, set beside the ledger.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::anyhow;
use memscope_analysis::census::{
    self, CLASSES, CensusOptions, FlagView, GroupBy, PhysCensus, PhysInputs, ScanCounters, zone_spans,
};
use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::ledger::{self, LedgerOptions};
use memscope_export::pages as out;
use memscope_kernel::KernelRoot;
use memscope_model::collect_system;
use memscope_model::pages::{self, PfnScanOptions};

use crate::cli::{Global, PhysArgs, PhysBy};
use crate::output::{self, Format};

/// How often meminfo and zoneinfo are read while the page frames are: the
/// cross-check compares the scan with the counters over its whole time.
const COUNTER_PERIOD: std::time::Duration = std::time::Duration::from_millis(100);

/// The most memory cgroups named by walking the hierarchy.
pub const MAX_MEMCGS: usize = 100_000;

pub fn run(root: &KernelRoot, g: &Global, a: &PhysArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let mut w = output::stdout();
    if a.explain {
        out::write_flag_help(&mut w, &style)?;
        writeln_classes(&mut w, style.width)?;
        output::finish(w)?;
        return Ok(ExitCode::SUCCESS);
    }
    let group_by = match a.by {
        None => GroupBy::None,
        Some(PhysBy::Zone) => GroupBy::Zone,
        Some(PhysBy::Node) => GroupBy::Node,
        Some(PhysBy::Memcg) => GroupBy::Memcg,
    };
    let before = collect_system(root);
    let zones = before.zoneinfo.as_ref().map(zone_spans).unwrap_or_default();
    if matches!(group_by, GroupBy::Zone | GroupBy::Node)
        && let Err(e) = &before.zoneinfo
    {
        return Err(anyhow!("cannot group by zone or node: {}", unavailable_reason(e)));
    }
    let progress_total = if a.select.addr.is_empty() {
        zones.iter().map(|z| z.end_pfn).max().unwrap_or(0)
    } else {
        a.select.addr.iter().map(|(s, e)| e.saturating_sub(*s)).fold(0u64, u64::saturating_add)
    };
    let opts = Arc::new(CensusOptions {
        view: if a.select.raw { FlagView::Raw } else { FlagView::WellKnown },
        filters: a.select.bits.iter().map(|b| b.filter).collect(),
        group_by,
        zones,
    });
    let counts = !a.flags_only;
    let cgroups = !a.flags_only || group_by == GroupBy::Memcg;
    let scan_opts =
        PfnScanOptions { ranges: a.select.addr.clone(), counts, cgroups, chunk_pages: 0, threads: a.threads };
    let bar = crate::progress::bar(progress_total, "page frames");
    let (scan, samples) = pages::sample_counters_during(root, COUNTER_PERIOD, || {
        pages::scan_pfns(root, &scan_opts, || PhysCensus::new(Arc::clone(&opts)), &|n| bar.inc(n))
    });
    let scan = scan.map_err(|e| anyhow!("cannot read page flags: {}", unavailable_reason(&e)))?;
    bar.finish_and_clear();
    let after = collect_system(root);
    let ledger_before = ledger::build(&before, &LedgerOptions::default()).ok();
    let ledger_after = ledger::build(&after, &LedgerOptions::default()).ok();
    let memcg = if cgroups {
        pages::memcg_paths(root, MAX_MEMCGS).map(|m| m.paths).map_err(|e| unavailable_reason(&e))
    } else {
        Err("not read".to_string())
    };
    let report = census::phys_report(&PhysInputs {
        scan: &scan,
        filters: a.select.bits.iter().map(|b| b.spec.clone()).collect(),
        ranges: a.select.addr.clone(),
        counts_asked: counts,
        cgroups_asked: cgroups,
        counters: ScanCounters {
            before: &before,
            samples: &samples,
            after: &after,
            ledger_before: ledger_before.as_ref(),
            ledger_after: ledger_after.as_ref(),
        },
        memcg_paths: memcg.as_ref().map_err(Clone::clone),
    });
    match format {
        Format::Json => out::write_phys_json(&mut w, &report)?,
        Format::Csv => out::write_phys_csv(&mut w, &report)?,
        Format::Table => out::write_phys_table(&mut w, &report, &style)?,
    }
    output::finish(w)?;
    Ok(ExitCode::SUCCESS)
}

fn writeln_classes(w: &mut dyn std::io::Write, width: usize) -> std::io::Result<()> {
    writeln!(w, "\nPage classes (--by tables; tested in this order):")?;
    for c in CLASSES {
        writeln!(
            w,
            "{}",
            memscope_export::style::wrap(&format!("{}: {}", c.label, c.help), width, "  ", "    ")
        )?;
    }
    Ok(())
}
