//! `memscope trace --allocinfo`: per-call-site allocation totals from
//! `/proc/allocinfo` (memory allocation profiling, kernel 6.10+,
//! Documentation/mm/allocation-profiling.rst), with no eBPF. The kernel
//! counts, at every allocation call site, the bytes and allocations
//! outstanding since boot; read at the start and end of a window, the
//! difference is what each site added and still holds, which is the
//! question `memscope trace` answers with eBPF.

use std::collections::HashMap;

use memscope_kernel::parse::allocinfo::{AllocSite, Allocinfo};
use serde::Serialize;

use crate::ledger::Ledger;
use crate::trace::{Growth, TraceReportOptions, growth_rows};
use crate::units::fmt_bytes;

/// One call site.
#[derive(Debug, Clone, Serialize)]
pub struct AllocinfoRow {
    /// `file:line`.
    pub location: String,
    /// The allocating function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Module, when not the kernel image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Bytes outstanding at the end.
    pub bytes: i64,
    /// Allocations outstanding at the end.
    pub calls: u64,
    /// Bytes added during the window (`None` without a window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth_bytes: Option<i64>,
    /// Allocations added during the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth_calls: Option<i64>,
    /// False when the kernel marked the counters as missing allocations.
    pub accurate: bool,
}

/// The result of `--allocinfo`.
#[derive(Debug, Clone, Serialize)]
pub struct AllocinfoReport {
    /// The file's format version.
    pub version: Option<String>,
    /// Length of the window in seconds; `None` for one reading (a captured
    /// tree, or `--duration 0`).
    pub window_seconds: Option<f64>,
    /// Sum of every site's bytes at the end.
    pub total_bytes: i64,
    /// Sum of every site's growth.
    pub total_growth_bytes: Option<i64>,
    /// Sites by growth (with a window) or by bytes, at least `min_bytes`.
    pub sites: Vec<AllocinfoRow>,
    /// Sites not shown and their bytes (or growth).
    pub other_sites: usize,
    /// Their bytes (growth with a window).
    pub other_sites_bytes: i64,
    /// The ledger's growth over the window (outstanding figures are 0: the
    /// file has no kinds to sort sites into ledger lines).
    pub growth: Vec<Growth>,
    /// The one-sentence answer.
    pub headline: String,
    /// What the reader should know.
    pub notes: Vec<String>,
}

type SiteKey = (String, u32, Option<String>, Option<String>);

fn key(s: &AllocSite) -> SiteKey {
    (s.file.clone(), s.line, s.module.clone(), s.function.clone())
}

/// Build the report from one or two readings. `profiling` is the content
/// of `/proc/sys/vm/mem_profiling` when readable.
pub fn build(
    before: Option<&Allocinfo>,
    after: &Allocinfo,
    window_seconds: Option<f64>,
    ledgers: Option<(&Ledger, &Ledger)>,
    profiling: Option<&str>,
    opts: &TraceReportOptions,
) -> AllocinfoReport {
    let before_map: Option<HashMap<SiteKey, &AllocSite>> =
        before.map(|b| b.sites.iter().map(|s| (key(s), s)).collect());
    let mut rows: Vec<AllocinfoRow> = after
        .sites
        .iter()
        .map(|s| {
            let prev = before_map.as_ref().map(|m| m.get(&key(s)).copied());
            let (growth_bytes, growth_calls) = match prev {
                None => (None, None),
                Some(None) => (Some(s.bytes), Some(s.calls as i64)),
                Some(Some(p)) => (Some(s.bytes - p.bytes), Some(s.calls as i64 - p.calls as i64)),
            };
            AllocinfoRow {
                location: s.location(),
                function: s.function.clone(),
                module: s.module.clone(),
                bytes: s.bytes,
                calls: s.calls,
                growth_bytes,
                growth_calls,
                accurate: s.accurate(),
            }
        })
        .collect();
    let windowed = before.is_some();
    let measure = |r: &AllocinfoRow| if windowed { r.growth_bytes.unwrap_or(0) } else { r.bytes };
    rows.sort_by(|a, b| measure(b).cmp(&measure(a)).then_with(|| a.location.cmp(&b.location)));
    let total_bytes = rows.iter().map(|r| r.bytes).sum();
    let total_growth_bytes = windowed.then(|| rows.iter().filter_map(|r| r.growth_bytes).sum());
    let mut sites = Vec::new();
    let (mut other_sites, mut other_sites_bytes) = (0, 0);
    for r in rows {
        let m = measure(&r);
        if m >= opts.min_bytes as i64 && sites.len() < opts.top {
            sites.push(r);
        } else if m != 0 {
            other_sites += 1;
            other_sites_bytes += m;
        }
    }
    let growth = match ledgers {
        Some((b, a)) if windowed => growth_rows(b, a, &Default::default(), &[], opts),
        _ => Vec::new(),
    };
    let label = |r: &AllocinfoRow| {
        let f = r.function.as_deref().unwrap_or("?");
        match &r.module {
            Some(m) => format!("{f} [{m}] ({})", r.location),
            None => format!("{f} ({})", r.location),
        }
    };
    let top: Vec<String> = sites
        .iter()
        .take(3)
        .filter(|r| measure(r) > 0)
        .map(|r| {
            if windowed {
                format!("{} +{}", label(r), fmt_bytes(measure(r)))
            } else {
                format!("{} {}", label(r), fmt_bytes(measure(r)))
            }
        })
        .collect();
    let headline = match (total_growth_bytes, window_seconds) {
        (Some(g), Some(w)) => {
            let unacc = growth
                .iter()
                .find(|r| r.category == "unaccounted")
                .and_then(|r| r.growth_bytes)
                .map(|u| format!("unaccounted grew {}; ", fmt_bytes(u)))
                .unwrap_or_default();
            if top.is_empty() {
                format!("{unacc}no call site holds more than it did {w:.0} s ago (net {})", fmt_bytes(g))
            } else {
                format!("{unacc}call sites added {} net in {w:.0} s; most: {}", fmt_bytes(g), top.join(", "))
            }
        }
        _ => format!(
            "{} allocated at {} call sites since boot; largest: {}",
            fmt_bytes(total_bytes),
            after.sites.len(),
            top.join(", ")
        ),
    };
    let mut notes = Vec::new();
    match profiling.map(str::trim) {
        Some("0") => notes.push(
            "vm.mem_profiling is 0: the counters are not counting. `sysctl vm.mem_profiling=1` turns them on \
             (allocations made while off are not counted, their frees are)."
                .into(),
        ),
        Some("never") => notes.push("vm.mem_profiling is `never`: the counters are off until reboot.".into()),
        _ => {}
    }
    let inaccurate = after.sites.iter().filter(|s| !s.accurate()).count();
    if inaccurate > 0 {
        notes.push(format!(
            "{inaccurate} call sites are marked accurate:no: their counters missed allocations (an \
             allocation-tag vector could not be allocated)."
        ));
    }
    if !after.malformed.is_empty() {
        notes.push(format!(
            "{} lines of /proc/allocinfo could not be parsed and are left out.",
            after.malformed.len()
        ));
    }
    notes.push(
        "allocinfo counts every allocation, user pages included, at the call site that made it: a slab \
         object at its kmalloc caller, the slab's pages at alloc_slab_page."
            .into(),
    );
    AllocinfoReport {
        version: after.version.clone(),
        window_seconds: window_seconds.filter(|_| windowed),
        total_bytes,
        total_growth_bytes,
        sites,
        other_sites,
        other_sites_bytes,
        growth,
        headline,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "allocinfo - version: 1.0\n\
        # <size> <calls> <tag info>\n\
        1048576 256 fs/pipe.c:500 func:anon_pipe_write\n\
        8192 2 mm/memory.c:4214 func:alloc_anon_folio\n\
        4096 1 drivers/x/y.c:20 [ydrv] func:y_start\n";
    const AFTER: &str = "allocinfo - version: 1.0\n\
        # <size> <calls> <tag info>\n\
        68157440 16640 fs/pipe.c:500 func:anon_pipe_write\n\
        4096 1 mm/memory.c:4214 func:alloc_anon_folio\n\
        4096 1 drivers/x/y.c:20 [ydrv] func:y_start\n\
        2097152 512 net/core/skbuff.c:600 func:__alloc_skb\n";

    #[test]
    fn growth_per_call_site_over_a_window() {
        let (b, a) = (Allocinfo::parse(BEFORE), Allocinfo::parse(AFTER));
        let r = build(Some(&b), &a, Some(10.0), None, Some("1"), &TraceReportOptions::default());
        assert_eq!(r.sites[0].location, "fs/pipe.c:500");
        assert_eq!(r.sites[0].growth_bytes, Some(64 << 20));
        assert_eq!(r.sites[0].growth_calls, Some(16384));
        // A site that appeared during the window grew by all it holds.
        assert_eq!(r.sites[1].growth_bytes, Some(2 << 20));
        assert_eq!(r.total_growth_bytes, Some((64 << 20) + (2 << 20) - 4096));
        // The shrinking anon site and the unchanged driver are not shown.
        assert_eq!(r.sites.len(), 2);
        assert_eq!((r.other_sites, r.other_sites_bytes), (1, -4096));
        assert!(r.headline.contains("anon_pipe_write (fs/pipe.c:500) +64.0 MiB"), "{}", r.headline);
    }

    #[test]
    fn one_reading_shows_totals_and_profiling_state() {
        let a = Allocinfo::parse(AFTER);
        let r = build(
            None,
            &a,
            None,
            None,
            Some("0"),
            &TraceReportOptions { min_bytes: 0, ..Default::default() },
        );
        assert_eq!(r.window_seconds, None);
        assert_eq!(r.total_growth_bytes, None);
        assert_eq!(r.sites[0].bytes, 68157440);
        assert_eq!(r.sites[0].growth_bytes, None);
        assert_eq!(r.sites.iter().find(|s| s.module.is_some()).unwrap().module.as_deref(), Some("ydrv"));
        assert!(r.headline.starts_with("67.0 MiB allocated at 4 call sites since boot"), "{}", r.headline);
        assert!(r.notes.iter().any(|n| n.contains("vm.mem_profiling is 0")));
    }
}
