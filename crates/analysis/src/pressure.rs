//! Memory pressure (PSI): what `/proc/pressure/memory` or a cgroup's
//! `memory.pressure` says, in figures and one sentence, and why it is
//! unavailable where it is.
//!
//! PSI measures time lost, not bytes: the share of wall time in which tasks
//! waited for memory (reclaim, refaults of evicted pages, swap-in,
//! compaction). It answers "is this machine short of memory right now?"
//! better than free memory does: a machine with little free memory and no
//! stalls is using its cache well; one with stalls is short.

use memscope_kernel::parse::pressure::{Pressure, PsiLine};
use memscope_kernel::read::PSI_DISABLED;
use memscope_kernel::{ReadError, paths};
use memscope_model::{Sample, Snapshot};
use serde::Serialize;

use crate::hints::unavailable_reason_in;

/// Pressure figures ready to show: the lines, or why there are none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PressureView {
    /// `some`: at least one task stalled waiting for memory.
    pub some: Option<PsiLine>,
    /// `full`: every non-idle task stalled at once.
    pub full: Option<PsiLine>,
    /// What the figures mean, in one sentence (absent when unavailable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meaning: Option<String>,
    /// Why there are no figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

impl PressureView {
    /// The view of a pressure sample read from the running system (`live`)
    /// or a captured tree.
    pub fn of(sample: &Sample<Pressure>, live: bool) -> PressureView {
        match sample {
            Ok(p) => {
                PressureView { some: p.some, full: p.full, meaning: Some(meaning(p)), unavailable: None }
            }
            Err(e) => {
                PressureView { some: None, full: None, meaning: None, unavailable: Some(reason(e, live)) }
            }
        }
    }

    /// The system's memory pressure in a snapshot; a snapshot recorded
    /// before memscope read PSI says so.
    pub fn system(snap: &Snapshot) -> PressureView {
        match &snap.pressure {
            Some(s) => PressureView::of(s, snap.live),
            None => PressureView {
                some: None,
                full: None,
                meaning: None,
                unavailable: Some(
                    "not collected: this snapshot was recorded before memscope read PSI".into(),
                ),
            },
        }
    }
}

/// Why a pressure file is unavailable, with the kernel's reasons spelled
/// out: PSI exists since 4.20 with CONFIG_PSI and can be switched off at
/// boot with `psi=0` (then reads fail with `EOPNOTSUPP`, or, on kernels that
/// skip creating `/proc/pressure`, the file is missing). A v2 cgroup has no
/// `memory.pressure` without the memory controller or with
/// `cgroup.pressure` set to 0.
pub fn reason(e: &ReadError, live: bool) -> String {
    match e {
        ReadError::Io { path, message } if message == PSI_DISABLED => {
            format!("{path}: PSI is disabled (the kernel was booted with psi=0)")
        }
        ReadError::NotReported { path, field: None } if live && path == paths::PRESSURE_MEMORY => format!(
            "{path} does not exist: the kernel is older than 4.20, was built without CONFIG_PSI, or was \
             booted with psi=0"
        ),
        ReadError::NotReported { path, field: None } if live => format!(
            "{path} does not exist: PSI is off (kernel before 4.20, no CONFIG_PSI, psi=0), or the memory \
             controller is not enabled for this cgroup"
        ),
        e => unavailable_reason_in(e, live),
    }
}

/// Two decimals as the kernel prints them, without a trailing `.00`.
pub fn fmt_avg(pct: f64) -> String {
    if pct.fract() == 0.0 { format!("{pct:.0}%") } else { format!("{pct:.2}%") }
}

/// One sentence: how much of the last 10 s tasks spent stalled.
pub fn meaning(p: &Pressure) -> String {
    let some = p.some.map(|l| l.avg10);
    let full = p.full.map(|l| l.avg10);
    match (some, full) {
        (Some(0.0), _) => "no task waited for memory in the last 10 s".to_string(),
        (Some(s), Some(f)) if f > 0.0 => format!(
            "tasks were stalled waiting for memory {} of the last 10 s, and all of them at once {}",
            fmt_avg(s),
            fmt_avg(f)
        ),
        (Some(s), _) => format!("tasks were stalled waiting for memory {} of the last 10 s", fmt_avg(s)),
        (None, Some(f)) => {
            format!("all tasks were stalled waiting for memory {} of the last 10 s", fmt_avg(f))
        }
        (None, None) => "the pressure file has no some or full line".to_string(),
    }
}

/// Stall time between two readings of the same pressure file, microseconds:
/// `(some, full)`. `None` for a line missing from either, or a total that
/// went backwards (a cgroup recreated, a reboot between the two).
pub fn stall_growth_usec(from: &Pressure, to: &Pressure) -> (Option<u64>, Option<u64>) {
    let d = |a: Option<PsiLine>, b: Option<PsiLine>| b?.total_usec.checked_sub(a?.total_usec);
    (d(from.some, to.some), d(from.full, to.full))
}

/// One snapshot's system pressure, as `leaks` keeps it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PressurePoint {
    /// Snapshot time.
    pub t_unix_ms: u64,
    /// `some` avg10, percent.
    pub some_avg10: Option<f64>,
    /// `some` total, µs.
    pub some_total_usec: Option<u64>,
    /// `full` total, µs.
    pub full_total_usec: Option<u64>,
}

impl PressurePoint {
    /// The point of a snapshot whose pressure was read.
    pub fn of(snap: &Snapshot) -> Option<PressurePoint> {
        let p = snap.pressure.as_ref()?.as_ref().ok()?;
        Some(PressurePoint {
            t_unix_ms: snap.taken_at_unix_ms,
            some_avg10: p.some.map(|l| l.avg10),
            some_total_usec: p.some.map(|l| l.total_usec),
            full_total_usec: p.full.map(|l| l.total_usec),
        })
    }
}

/// The memory pressure over a time window, for `leaks`: the highest `some`
/// avg10 seen and the `some`/`full` stall time gained from the first to the
/// last reading in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PressureWindow {
    /// Snapshots in the window that had a reading.
    pub readings: usize,
    /// Highest `some` avg10, percent.
    pub some_avg10_max: Option<f64>,
    /// `some` stall time gained, µs (null with fewer than two readings or
    /// a total that went backwards: a reboot in between).
    pub some_stall_growth_usec: Option<u64>,
    /// `full` stall time gained, µs.
    pub full_stall_growth_usec: Option<u64>,
    /// Why there is no figure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// [`PressureWindow`] of the points (oldest first) from `from_ms` to
/// `to_ms`, both included; `why` is the reason when no point has a reading.
pub fn window(points: &[PressurePoint], from_ms: u64, to_ms: u64, why: Option<&str>) -> PressureWindow {
    let inside: Vec<&PressurePoint> =
        points.iter().filter(|p| p.t_unix_ms >= from_ms && p.t_unix_ms <= to_ms).collect();
    let max = inside
        .iter()
        .filter_map(|p| p.some_avg10)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let growth = |f: fn(&PressurePoint) -> Option<u64>| {
        let first = inside.iter().find_map(|p| f(p))?;
        let last = inside.iter().rev().find_map(|p| f(p))?;
        (inside.iter().filter(|p| f(p).is_some()).count() >= 2).then(|| last.checked_sub(first)).flatten()
    };
    PressureWindow {
        readings: inside.len(),
        some_avg10_max: max,
        some_stall_growth_usec: growth(|p| p.some_total_usec),
        full_stall_growth_usec: growth(|p| p.full_total_usec),
        unavailable: inside.is_empty().then(|| {
            why.unwrap_or(
                "no snapshot in this window holds the memory pressure (recorded by an older memscope)",
            )
            .to_string()
        }),
    }
}

/// Something that grew between two pressure events (a process's RSS, a
/// cgroup's charge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Growth<K> {
    /// Process id or cgroup path.
    pub key: K,
    /// Command name or cgroup path, for display.
    pub name: String,
    /// Now, bytes.
    pub bytes: u64,
    /// Growth since the previous reading, bytes (a new entry counts from 0).
    pub growth_bytes: u64,
}

/// The `n` entries of `now` (key, name, bytes) that grew most since `before`
/// (key → bytes), largest first; entries that did not grow are left out.
pub fn top_growth<K: Ord + Clone>(
    before: &std::collections::BTreeMap<K, u64>,
    now: &[(K, String, u64)],
    n: usize,
) -> Vec<Growth<K>> {
    let mut out: Vec<Growth<K>> = now
        .iter()
        .filter_map(|(k, name, b)| {
            let g = b.checked_sub(before.get(k).copied().unwrap_or(0))?;
            (g > 0).then(|| Growth { key: k.clone(), name: name.clone(), bytes: *b, growth_bytes: g })
        })
        .collect();
    out.sort_by(|a, b| b.growth_bytes.cmp(&a.growth_bytes).then(a.key.cmp(&b.key)));
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(some: (f64, u64), full: Option<(f64, u64)>) -> Pressure {
        let l = |(a, t): (f64, u64)| PsiLine { avg10: a, avg60: 0.0, avg300: 0.0, total_usec: t };
        Pressure { some: Some(l(some)), full: full.map(l), malformed: Vec::new() }
    }

    #[test]
    fn meaning_says_the_share_of_the_last_ten_seconds() {
        assert_eq!(
            meaning(&p((12.0, 5), Some((0.0, 1)))),
            "tasks were stalled waiting for memory 12% of the last 10 s"
        );
        assert_eq!(
            meaning(&p((12.5, 5), Some((3.25, 1)))),
            "tasks were stalled waiting for memory 12.50% of the last 10 s, and all of them at once 3.25%"
        );
        assert_eq!(meaning(&p((0.0, 5), None)), "no task waited for memory in the last 10 s");
    }

    #[test]
    fn psi_off_reasons_name_the_kernel_version_config_and_boot_option() {
        let missing = ReadError::NotReported { path: paths::PRESSURE_MEMORY.into(), field: None };
        let r = reason(&missing, true);
        assert!(r.contains("4.20") && r.contains("CONFIG_PSI"), "{r}");
        assert_eq!(reason(&missing, false), "/proc/pressure/memory is not in this captured tree");
        let off = ReadError::Io { path: paths::PRESSURE_MEMORY.into(), message: PSI_DISABLED.into() };
        assert_eq!(
            reason(&off, true),
            "/proc/pressure/memory: PSI is disabled (the kernel was booted with psi=0)"
        );
        let v = PressureView::of(&Err(off), true);
        assert!(v.some.is_none() && v.meaning.is_none() && v.unavailable.is_some());
    }

    #[test]
    fn a_window_keeps_the_highest_avg10_and_the_stall_gained_inside_it() {
        let pt = |t, a, s| PressurePoint {
            t_unix_ms: t,
            some_avg10: Some(a),
            some_total_usec: Some(s),
            full_total_usec: None,
        };
        let pts = [pt(0, 50.0, 0), pt(10, 2.0, 100), pt(20, 7.5, 400), pt(30, 1.0, 900)];
        let w = window(&pts, 10, 30, None);
        assert_eq!((w.readings, w.some_avg10_max, w.some_stall_growth_usec), (3, Some(7.5), Some(800)));
        assert_eq!(w.full_stall_growth_usec, None);
        let w = window(&pts, 40, 50, Some("PSI is off"));
        assert_eq!((w.readings, w.unavailable.as_deref()), (0, Some("PSI is off")));
    }

    #[test]
    fn top_growth_ranks_growers_and_counts_newcomers_from_zero() {
        let before: std::collections::BTreeMap<u32, u64> = [(1, 100), (2, 500), (3, 50)].into();
        let now =
            vec![(1, "a".into(), 400), (2, "b".into(), 200), (3, "c".into(), 50), (4, "d".into(), 1000)];
        let g = top_growth(&before, &now, 5);
        assert_eq!(g.iter().map(|x| (x.key, x.growth_bytes)).collect::<Vec<_>>(), vec![(4, 1000), (1, 300)]);
        assert_eq!(top_growth(&before, &now, 1).len(), 1);
    }

    #[test]
    fn growth_is_none_when_a_total_goes_backwards() {
        assert_eq!(
            stall_growth_usec(&p((0.0, 10), Some((0.0, 4))), &p((0.0, 25), Some((0.0, 9)))),
            (Some(15), Some(5))
        );
        assert_eq!(stall_growth_usec(&p((0.0, 10), None), &p((0.0, 5), Some((0.0, 9)))), (None, None));
    }
}
