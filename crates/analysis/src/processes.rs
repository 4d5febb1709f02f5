//! Per-process memory figures from a snapshot: PSS and USS where
//! `smaps_rollup` was read, the cheap `status` counters elsewhere (marked);
//! open descriptors and `RLIMIT_NOFILE` when the snapshot counted them.

use std::cmp::Ordering;

use memscope_kernel::ReadError;
use memscope_kernel::parse::meminfo::Meminfo;
use memscope_kernel::parse::pid::limits::Limit;
use memscope_model::{ProcessSample, ProcessScan, Rollup, Snapshot};
use serde::Serialize;

/// Where a process row's figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowSource {
    /// `smaps_rollup`: PSS and USS known.
    SmapsRollup,
    /// `smaps` summed over the mappings (kernels before 4.14 have no
    /// `smaps_rollup`): PSS and USS known.
    Smaps,
    /// `status` only: RSS and swap known, PSS and USS unavailable.
    Status,
}

/// One process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessRow {
    /// Process id.
    pub pid: u32,
    /// Command name (from `stat`).
    pub comm: String,
    /// Real user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Proportional set size.
    pub pss_bytes: Option<u64>,
    /// Unique set size (private clean + dirty).
    pub uss_bytes: Option<u64>,
    /// Resident set size.
    pub rss_bytes: Option<u64>,
    /// Swapped out.
    pub swap_bytes: Option<u64>,
    /// Resident anonymous (`RssAnon`).
    pub rss_anon_bytes: Option<u64>,
    /// Resident file-backed (`RssFile`).
    pub rss_file_bytes: Option<u64>,
    /// Resident shared memory (`RssShmem`).
    pub rss_shmem_bytes: Option<u64>,
    /// Where the figures come from.
    pub source: RowSource,
    /// Why PSS is unavailable, for `status` rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pss_unavailable: Option<String>,
    /// Open file descriptors, when the snapshot counted them
    /// ([`memscope_model::ProcessSample::fds`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fds: Option<u64>,
    /// Soft `RLIMIT_NOFILE`: `EMFILE` at this many descriptors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd_soft_limit: Option<Limit>,
}

impl ProcessRow {
    /// PSS when known, else RSS: the figure to rank by.
    pub fn rank_bytes(&self) -> u64 {
        self.pss_bytes.or(self.rss_bytes).unwrap_or(0)
    }
}

/// Rows for every process with an address space (kernel threads and
/// zombies are left out).
pub fn rows(snap: &Snapshot) -> Vec<ProcessRow> {
    snap.processes.iter().filter(|p| !p.has_no_address_space()).map(|p| row_in(p, snap.live)).collect()
}

/// The row of one process read from the running system.
pub fn row(p: &ProcessSample) -> ProcessRow {
    row_in(p, true)
}

/// The row of one process, read from the running system (`live`) or from a
/// captured tree (which words a missing file's reason).
pub fn row_in(p: &ProcessSample, live: bool) -> ProcessRow {
    let status = p.status.as_ref().ok();
    let st = |k: &str| status.and_then(|s| s.get(k));
    let (source, pss, uss, rss, swap, why) = match &p.rollup {
        Rollup::Read(r) if !r.is_empty() => {
            let source = if r.is_summed_smaps() { RowSource::Smaps } else { RowSource::SmapsRollup };
            (source, r.pss(), r.uss(), r.rss(), r.swap(), None)
        }
        other => {
            let why = match other {
                Rollup::OverBudget => "not read within the time budget".to_string(),
                Rollup::OverSizeCap => "larger than the size cap".to_string(),
                Rollup::NotRequested => "not read (status only)".to_string(),
                Rollup::Failed(ReadError::NotReported { path, field: None }) => {
                    let smaps = path.replace("smaps_rollup", "smaps");
                    if live {
                        format!("neither smaps_rollup nor {smaps} exists on this kernel")
                    } else {
                        format!("neither smaps_rollup nor {smaps} is in this captured tree")
                    }
                }
                Rollup::Failed(e) => crate::hints::unavailable_reason_in(e, live),
                Rollup::Read(_) | Rollup::NoAddressSpace => "no address space".to_string(),
            };
            (RowSource::Status, None, None, st("VmRSS"), st("VmSwap"), Some(why))
        }
    };
    // No process maps more than a machine can hold: a larger figure is a
    // corrupt file, shown as unavailable rather than as a size.
    let plausible = |v: Option<u64>| v.filter(|b| *b <= crate::ledger::MAX_RAM_BYTES);
    let why = match (why, pss) {
        (None, Some(b)) if plausible(Some(b)).is_none() => Some(format!(
            "invalid: /proc/{}/smaps_rollup Pss is {}, more than any machine's RAM",
            p.pid,
            crate::fmt_bytes(i64::try_from(b).unwrap_or(i64::MAX))
        )),
        (why, _) => why,
    };
    let (pss, uss, rss, swap) = (plausible(pss), plausible(uss), plausible(rss), plausible(swap));
    let st = |k: &str| plausible(st(k));
    ProcessRow {
        pid: p.pid,
        comm: p.comm(),
        uid: status.and_then(|s| s.uid()),
        pss_bytes: pss,
        uss_bytes: uss,
        rss_bytes: rss,
        swap_bytes: swap,
        rss_anon_bytes: st("RssAnon"),
        rss_file_bytes: st("RssFile"),
        rss_shmem_bytes: st("RssShmem"),
        source,
        pss_unavailable: why,
        fds: p.fds.as_ref().and_then(|f| f.count.as_ref().ok().copied()),
        fd_soft_limit: p.fds.as_ref().and_then(|f| f.nofile.as_ref().ok().map(|l| l.soft)),
    }
}

/// Sort by PSS (RSS for status rows), largest first, then by pid.
pub fn sort_by_pss(rows: &mut [ProcessRow]) {
    sort_rows(rows, SortKey::Pss);
}

/// What to sort process rows by. One table ([`SortKey::ALL`]) drives the
/// command-line values and the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Proportional set size, largest first.
    Pss,
    /// Unique set size, largest first.
    Uss,
    /// Resident set size, largest first.
    Rss,
    /// Swapped-out memory, largest first.
    Swap,
    /// Open file descriptors, most first (needs a snapshot that counted them).
    Fds,
    /// Process id, ascending.
    Pid,
}

impl SortKey {
    /// Every key with its name.
    pub const ALL: &[(SortKey, &'static str)] = &[
        (SortKey::Pss, "pss"),
        (SortKey::Uss, "uss"),
        (SortKey::Rss, "rss"),
        (SortKey::Swap, "swap"),
        (SortKey::Fds, "fds"),
        (SortKey::Pid, "pid"),
    ];

    /// The key's name (`pss`).
    pub fn name(self) -> &'static str {
        SortKey::ALL.iter().find(|(k, _)| *k == self).map(|(_, n)| *n).unwrap_or("pss")
    }

    /// The key called `name`.
    pub fn from_name(name: &str) -> Option<SortKey> {
        SortKey::ALL.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }

    /// The figure a row is ranked by (bytes; a count for [`SortKey::Fds`]).
    /// PSS and USS are bounded above by RSS, so a row whose PSS or USS could
    /// not be read ranks by its RSS: a large process is never hidden at the
    /// bottom because it was not measured.
    pub fn rank_bytes(self, r: &ProcessRow) -> u64 {
        match self {
            SortKey::Pss => r.pss_bytes.or(r.rss_bytes),
            SortKey::Uss => r.uss_bytes.or(r.rss_bytes),
            SortKey::Rss => r.rss_bytes,
            SortKey::Swap => r.swap_bytes,
            SortKey::Fds => r.fds,
            SortKey::Pid => None,
        }
        .unwrap_or(0)
    }

    /// The order of two rows: largest first, ties (and `pid`) by pid.
    pub fn compare(self, a: &ProcessRow, b: &ProcessRow) -> Ordering {
        self.rank_bytes(b).cmp(&self.rank_bytes(a)).then(a.pid.cmp(&b.pid))
    }
}

/// Sort rows by `key`: sizes largest first, ties (and `pid`) by pid.
pub fn sort_rows(rows: &mut [ProcessRow], key: SortKey) {
    rows.sort_by(|a, b| key.compare(a, b));
}

/// Totals over all processes, and what the scan left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProcessTotals {
    /// Processes with an address space.
    pub processes: usize,
    /// Of which with PSS (smaps_rollup read).
    pub with_pss: usize,
    /// Sum of PSS over those.
    pub pss_bytes: u64,
    /// Sum of USS over those.
    pub uss_bytes: u64,
    /// Sum of RSS over all processes (overcounts shared pages).
    pub rss_bytes: u64,
    /// RSS of the processes whose PSS is known: how much the PSS covers.
    pub rss_covered_by_pss_bytes: u64,
    /// Sum of swap.
    pub swap_bytes: u64,
    /// `AnonPages + Mapped` from meminfo: what the PSS total should approach.
    pub anon_plus_mapped_bytes: Option<u64>,
    /// Processes that exited during the scan.
    pub skipped_gone: usize,
    /// Processes whose smaps_rollup was not readable (permission).
    pub skipped_permission: usize,
    /// Processes left on status figures by the time budget.
    pub skipped_budget: usize,
    /// Processes left on status figures by the size cap.
    pub skipped_size: usize,
    /// Processes whose smaps_rollup failed otherwise.
    pub skipped_failed: usize,
    /// Processes with neither `smaps_rollup` nor `smaps` (a kernel without
    /// them, or a captured tree that lacks them): on status figures.
    pub skipped_not_reported: usize,
    /// Kernel threads and zombies.
    pub no_address_space: usize,
}

/// Totals of `rows` (all processes of `snap`).
pub fn totals(snap: &Snapshot, rows: &[ProcessRow]) -> ProcessTotals {
    let mut t = totals_of(snap.meminfo.as_ref().ok(), &snap.scan, rows);
    t.skipped_not_reported = not_reported(&snap.processes);
    t
}

/// Processes whose memory rollup neither `smaps_rollup` nor `smaps` gave.
pub fn not_reported(processes: &[ProcessSample]) -> usize {
    processes.iter().filter(|p| matches!(p.rollup, Rollup::Failed(ReadError::NotReported { .. }))).count()
}

/// Totals of `rows`, with meminfo (for `AnonPages + Mapped`) and the scan
/// that read them.
pub fn totals_of(meminfo: Option<&Meminfo>, scan: &ProcessScan, rows: &[ProcessRow]) -> ProcessTotals {
    let mut t = ProcessTotals { processes: rows.len(), ..ProcessTotals::default() };
    for r in rows {
        t.rss_bytes = t.rss_bytes.saturating_add(r.rss_bytes.unwrap_or(0));
        t.swap_bytes = t.swap_bytes.saturating_add(r.swap_bytes.unwrap_or(0));
        if let Some(p) = r.pss_bytes {
            t.with_pss += 1;
            t.pss_bytes = t.pss_bytes.saturating_add(p);
            t.uss_bytes = t.uss_bytes.saturating_add(r.uss_bytes.unwrap_or(0));
            t.rss_covered_by_pss_bytes = t.rss_covered_by_pss_bytes.saturating_add(r.rss_bytes.unwrap_or(0));
        }
    }
    if let Some(m) = meminfo
        && let (Some(a), Some(mapped)) = (m.get("AnonPages"), m.get("Mapped"))
        && let Some(total) = m.get("MemTotal")
        && a.saturating_add(mapped) <= total.saturating_mul(2)
    {
        // Each is a part of MemTotal; a sum beyond that is a corrupt file.
        t.anon_plus_mapped_bytes = Some(a.saturating_add(mapped));
    }
    let s = scan;
    t.skipped_gone = s.gone;
    t.skipped_permission = s.rollup_denied;
    t.skipped_budget = s.rollup_over_budget;
    t.skipped_size = s.rollup_over_size;
    t.skipped_failed = s.rollup_failed;
    t.no_address_space = s.no_address_space;
    t
}
