//! `memscope report`: the ledger, the top processes, and what they say.

use memscope_model::Snapshot;
use serde::Serialize;

use crate::ledger::{self, InstalledSource, Ledger, LedgerError, LedgerOptions};
use crate::pressure::PressureView;
use crate::processes::{self, ProcessRow, ProcessTotals};
use crate::units::{fmt_bytes, fmt_pct};

/// What the report shows.
#[derive(Debug, Clone, Copy)]
pub struct ReportOptions {
    /// Top processes by PSS.
    pub top_processes: usize,
    /// Ledger detail.
    pub ledger: LedgerOptions,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { top_processes: 10, ledger: LedgerOptions::default() }
    }
}

/// The report: ledger, processes, notes.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Kernel release, when known.
    pub kernel: Option<String>,
    /// When the snapshot was taken (ms since the Unix epoch).
    pub taken_at_unix_ms: u64,
    /// The figures `free` users look for first.
    pub headline: Headline,
    /// Memory pressure (PSI).
    pub pressure: PressureView,
    /// The ledger.
    pub ledger: Ledger,
    /// The top processes by PSS (RSS where PSS is unavailable).
    pub processes: Vec<ProcessRow>,
    /// Totals over all processes.
    pub totals: ProcessTotals,
    /// What the numbers say, in sentences. Ledger notes first.
    pub notes: Vec<String>,
}

/// Build the report.
pub fn build(snap: &Snapshot, opts: &ReportOptions) -> Result<Report, LedgerError> {
    let ledger = ledger::build(snap, &opts.ledger)?;
    let mut rows = processes::rows(snap);
    let totals = processes::totals(snap, &rows);
    processes::sort_by_pss(&mut rows);
    rows.truncate(opts.top_processes);
    let mut notes = ledger.notes.clone();
    notes.extend(story(snap, &ledger, &totals));
    Ok(Report {
        kernel: snap.kernel.as_ref().ok().cloned(),
        taken_at_unix_ms: snap.taken_at_unix_ms,
        headline: headline(snap, &ledger),
        pressure: PressureView::system(snap),
        ledger,
        processes: rows,
        totals,
        notes,
    })
}

/// The headline: installed, used, available, swap and unaccounted, with
/// `free`'s own figures beside them to compare.
///
/// `used` here is installed RAM minus MemAvailable: it includes what the
/// firmware and the kernel reserved before MemTotal was counted. `free`
/// shows total = MemTotal and used = MemTotal − MemAvailable. MemAvailable
/// (the kernel's estimate of what can be allocated without swapping,
/// page cache and reclaimable slab included) exists since 3.14: before, the
/// used and available figures are absent with the reason, never estimated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Headline {
    /// Installed RAM (see [`Ledger::installed_source`]).
    pub installed_bytes: u64,
    /// Installed RAM minus MemAvailable.
    pub used_bytes: Option<u64>,
    /// MemAvailable.
    pub available_bytes: Option<u64>,
    /// SwapTotal (0: no swap).
    pub swap_total_bytes: Option<u64>,
    /// SwapTotal − SwapFree.
    pub swap_used_bytes: Option<u64>,
    /// The ledger's remainder: kernel memory outside every counter (signed).
    pub unaccounted_bytes: i64,
    /// `free`'s total: MemTotal.
    pub free_total_bytes: u64,
    /// `free`'s used: MemTotal − MemAvailable.
    pub free_used_bytes: Option<u64>,
    /// Why a figure above is absent, by field name.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub unavailable: std::collections::BTreeMap<&'static str, String>,
}

/// Build the [`Headline`] from the snapshot's meminfo and the ledger.
pub fn headline(snap: &Snapshot, l: &Ledger) -> Headline {
    use memscope_kernel::paths::MEMINFO;
    let mut unavailable = std::collections::BTreeMap::new();
    let m = snap.meminfo.as_ref().ok();
    let get = |k: &str| m.and_then(|m| m.get(k));
    let available = get("MemAvailable");
    if available.is_none() {
        let why = match &snap.meminfo {
            Err(e) => crate::hints::unavailable_reason_in(e, snap.live),
            Ok(_) => format!("{MEMINFO} has no MemAvailable (kernels before 3.14 do not report it)"),
        };
        for k in ["used_bytes", "available_bytes", "free_used_bytes"] {
            unavailable.insert(k, why.clone());
        }
    }
    let (swap_total, swap_free) = (get("SwapTotal"), get("SwapFree"));
    let swap_used = match (swap_total, swap_free) {
        (Some(t), Some(f)) => Some(t.saturating_sub(f)),
        _ => {
            let why = match &snap.meminfo {
                Err(e) => crate::hints::unavailable_reason_in(e, snap.live),
                Ok(_) => format!("{MEMINFO} has no SwapTotal or SwapFree"),
            };
            unavailable.insert("swap_used_bytes", why);
            None
        }
    };
    Headline {
        installed_bytes: l.installed_bytes,
        used_bytes: available.map(|a| l.installed_bytes.saturating_sub(a)),
        available_bytes: available,
        swap_total_bytes: swap_total,
        swap_used_bytes: swap_used,
        unaccounted_bytes: l.unaccounted_bytes,
        free_total_bytes: l.mem_total_bytes,
        free_used_bytes: available.map(|a| l.mem_total_bytes.saturating_sub(a)),
        unavailable,
    }
}

/// The sentences a careful engineer would say looking at these numbers.
fn story(snap: &Snapshot, l: &Ledger, t: &ProcessTotals) -> Vec<String> {
    let mut out = Vec::new();
    let installed = l.installed_bytes as i64;
    let u = l.unaccounted_bytes;
    // A balloon driver that does not report its pages (hv_balloon and
    // vmw_balloon allocate them with alloc_pages and keep them in no
    // counter; virtio_balloon shows only where meminfo has `Balloon`) makes
    // the memory the hypervisor took back look like a kernel leak.
    let balloon_counted = snap.meminfo.as_ref().is_ok_and(|m| m.get("Balloon").is_some_and(|b| b > 0));
    let balloons = snap.balloon_drivers.as_deref().unwrap_or_default();
    if u > 0 && u >= installed / 50 && !balloons.is_empty() && !balloon_counted {
        out.push(format!(
            "unaccounted is {} ({} of RAM) and the balloon driver {} is loaded: pages it hands back to \
             the hypervisor can stay inside MemTotal in no counter (this kernel reports no Balloon \
             figure), and then show here. Before suspecting a leak, compare with the memory the host \
             has reclaimed from this guest.",
            fmt_bytes(u),
            fmt_pct(u, installed),
            balloons.join(", ")
        ));
    } else if u >= 0 {
        out.push(format!(
            "unaccounted is {} ({} of RAM): kernel memory outside every counter, such as pipe buffers, \
             network page fragments or a driver's own page allocations. If it grows over time, suspect a \
             kernel leak (`memscope leaks`).",
            fmt_bytes(u),
            fmt_pct(u, installed)
        ));
    } else {
        out.push(format!(
            "unaccounted is {}: the counters add up to more than MemTotal, so some of them overlap by at \
             least that much (see the notes on the lines).",
            fmt_bytes(u)
        ));
    }
    if let Ok(m) = &snap.meminfo
        && let (Some(total), Some(avail)) = (m.get("MemTotal"), m.get("MemAvailable"))
        && avail <= total
    {
        let used = (total - avail) as i64;
        let reserved = l.bytes("reserved");
        out.push(format!(
            "`free` would show used = {} (MemTotal − MemAvailable): it counts page cache and reclaimable \
                 slab as available{}.",
            fmt_bytes(used),
            match (reserved, l.installed_source) {
                (Some(r), s) if s != InstalledSource::MemTotal =>
                    format!(", and its total leaves out the {} reserved before boot", fmt_bytes(r)),
                _ => String::new(),
            }
        ));
    }
    if let Ok(m) = &snap.meminfo
        && let (Some(total), Some(avail)) = (m.get("MemTotal"), m.get("MemAvailable"))
        && avail > total
    {
        out.push(format!(
            "{}: MemAvailable ({}) is more than MemTotal ({}): invalid, not believed.",
            memscope_kernel::paths::MEMINFO,
            fmt_bytes(i64::try_from(avail).unwrap_or(i64::MAX)),
            fmt_bytes(i64::try_from(total).unwrap_or(i64::MAX))
        ));
    }
    if t.with_pss > 0
        && let Some(k) = t.anon_plus_mapped_bytes
    {
        let diff = i64::try_from(t.pss_bytes)
            .unwrap_or(i64::MAX)
            .saturating_sub(i64::try_from(k).unwrap_or(i64::MAX));
        out.push(format!(
            "Processes' PSS adds up to {}, the kernel's mapped memory (AnonPages + Mapped) is {}: {}.",
            fmt_bytes(t.pss_bytes as i64),
            fmt_bytes(k as i64),
            if t.with_pss < t.processes {
                format!(
                    "PSS covers {} of {} processes ({} of their RSS), so the totals are not comparable",
                    t.with_pss,
                    t.processes,
                    fmt_pct(t.rss_covered_by_pss_bytes as i64, t.rss_bytes as i64)
                )
            } else {
                format!("they differ by {} ({})", fmt_bytes(diff), fmt_pct(diff, k as i64))
            }
        ));
    }
    let mut skipped = Vec::new();
    if t.skipped_gone > 0 {
        skipped.push(format!("{} exited during the scan", t.skipped_gone));
    }
    if t.skipped_permission > 0 {
        skipped.push(format!(
            "{} could not be read (other users' smaps_rollup needs root or CAP_SYS_PTRACE)",
            t.skipped_permission
        ));
    }
    if t.skipped_budget > 0 {
        skipped.push(format!("{} were left on status figures by the time budget", t.skipped_budget));
    }
    if t.skipped_size > 0 {
        skipped.push(format!("{} were left on status figures by the size cap", t.skipped_size));
    }
    if t.skipped_failed > 0 {
        skipped.push(format!("{} failed to read", t.skipped_failed));
    }
    if t.skipped_not_reported > 0 {
        skipped.push(format!(
            "{} have neither smaps_rollup nor smaps {} (status figures stand in)",
            t.skipped_not_reported,
            if snap.live { "on this kernel" } else { "in this captured tree" }
        ));
    }
    let s = &snap.scan;
    let empty_dirs = s.listed.saturating_sub(snap.processes.len() + s.gone + s.filtered_out);
    if !snap.live && empty_dirs > 0 {
        skipped.push(format!(
            "{empty_dirs} process directories of this captured tree hold neither stat nor status"
        ));
    }
    if !skipped.is_empty() {
        out.push(format!("Processes: {}.", skipped.join("; ")));
    }
    let from_smaps =
        snap.processes.iter().filter(|p| p.rollup().is_some_and(|r| r.is_summed_smaps())).count();
    if from_smaps > 0 {
        out.push(crate::ps::smaps_note(from_smaps));
    }
    if let Some(arc) = l.lines.iter().find(|x| x.category == "zfs_arc").and_then(|x| x.bytes) {
        out.push(format!(
            "The ZFS ARC holds {}: meminfo counts it as used and most of it lands in `unaccounted`, yet the \
             ARC shrinks under memory pressure.",
            fmt_bytes(arc)
        ));
    }
    out.extend(malformed_notes(snap));
    out
}

fn malformed_notes(snap: &Snapshot) -> Vec<String> {
    use memscope_kernel::paths;
    let mut out = Vec::new();
    let mut truncated = Vec::new();
    let mut note = |path: &str, lines: Vec<usize>| {
        if !lines.is_empty() {
            let shown: Vec<String> = lines.iter().take(5).map(|l| l.to_string()).collect();
            out.push(format!(
                "{path}: {} malformed line(s) skipped (line {}).",
                lines.len(),
                shown.join(", ")
            ));
        }
    };
    let lines = |m: &[memscope_kernel::parse::Malformed]| m.iter().map(|x| x.line).collect::<Vec<_>>();
    if let Ok(m) = &snap.meminfo {
        note(paths::MEMINFO, lines(&m.malformed));
        if m.truncated {
            truncated.push(format!(
                "{}: the file ends early (truncated); fields after the cut are missing and their memory \
                 counts as unaccounted.",
                paths::MEMINFO
            ));
        }
    }
    if let Ok(v) = &snap.vmstat {
        note(paths::VMSTAT, lines(&v.malformed));
    }
    if let Ok(z) = &snap.zoneinfo {
        note(paths::ZONEINFO, lines(&z.malformed));
    }
    if let Ok(s) = &snap.slabinfo {
        note(paths::SLABINFO, lines(&s.malformed));
    }
    if let Ok(v) = &snap.vmallocinfo {
        note(paths::VMALLOCINFO, lines(&v.malformed));
    }
    if let Ok(i) = &snap.iomem {
        note(paths::IOMEM, lines(&i.malformed));
    }
    if let Ok(s) = &snap.sockstat {
        note(paths::SOCKSTAT, lines(&s.malformed));
    }
    out.extend(truncated);
    out
}
