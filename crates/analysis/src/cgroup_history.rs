//! The ledger of each recorded memory cgroup over time: what `leaks` and
//! `diff` say grows inside a cgroup, line by line, rather than "the cgroup
//! grows".
//!
//! ```text
//!  CgroupMemory + its LedgerFiles (one snapshot) ──recorded_lines──▶ [RecordedLine]
//!        (the split of report --cgroup: cgroup_ledger::split)
//!  CgroupLines (each line's points over a recording) ──judge_lines──▶ [LineTrend]
//!        (each line judged like any leak series: leaks::judge)
//!  two snapshots' CgroupMemory ──line_changes──▶ [CgroupLineDiff]
//! ```
//!
//! A snapshot keeps the raw files of the split (`memory.stat`, on v1 the
//! kmem counters: [`memscope_model::LedgerFiles`]); the lines are derived
//! here, when the recording is read, by the same code that splits the
//! charge for `report --cgroup`. Snapshots recorded before those files were
//! kept have no lines.
//!
//! The lines followed are the ledger's lines (`anon`, `page_cache`,
//! `shmem`, `kernel` and, on v2, its parts such as `slab_unreclaimable`,
//! `sock`), and on v1 the TCP socket buffers, which v1 charges to a counter
//! of their own outside the usage (mm/memcontrol-v1.c
//! `memcg1_charge_skmem`): there a growing `sock` does not make the usage
//! grow.

use memscope_kernel::cgroup::Version;
use memscope_model::CgroupMemory;
use serde::Serialize;

use crate::cgroup_ledger;
use crate::leaks::{self, LeakOptions, Point, Series, SuspectKind, Unit, Verdict};

/// One line of a recorded cgroup's ledger in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedLine {
    /// The ledger's key (`anon`, `page_cache`, `shmem`, `kernel`, `sock`, …).
    pub key: &'static str,
    /// What `report --cgroup` calls it.
    pub label: &'static str,
    /// The line it is part of (`kernel` for its parts).
    pub parent: Option<&'static str>,
    /// False for v1 TCP socket buffers, charged outside the usage.
    pub in_usage: bool,
    /// Bytes.
    pub bytes: u64,
}

/// The ledger lines of `m` that were available, in ledger order; empty when
/// its split was not recorded.
pub fn recorded_lines(m: &CgroupMemory) -> Vec<RecordedLine> {
    let Some(s) = m.ledger_sample() else { return Vec::new() };
    let (lines, beside, _) = cgroup_ledger::split(&s);
    let line = |l: &cgroup_ledger::Line, in_usage: bool| {
        Some(RecordedLine { key: l.key, label: l.label, parent: l.parent, in_usage, bytes: l.bytes? })
    };
    let mut out: Vec<RecordedLine> = lines.iter().filter_map(|l| line(l, true)).collect();
    if s.version == Version::V1 {
        out.extend(beside.iter().filter(|l| l.key == "sock").filter_map(|l| line(l, false)));
    }
    out
}

/// One line's values over a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct LineSeries {
    /// The ledger's key.
    pub key: &'static str,
    /// Its label.
    pub label: &'static str,
    /// The line it is part of.
    pub parent: Option<&'static str>,
    /// False for v1 TCP socket buffers.
    pub in_usage: bool,
    /// Bytes, in time order.
    pub points: Vec<Point>,
}

/// Every line of one cgroup over a recording, in ledger order, built one
/// snapshot at a time ([`CgroupLines::add`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CgroupLines {
    /// The lines.
    pub lines: Vec<LineSeries>,
}

impl CgroupLines {
    /// Add the lines of `m` as recorded at `t_unix_ms` (later than the
    /// previous snapshot added).
    pub fn add(&mut self, t_unix_ms: u64, m: &CgroupMemory) {
        for r in recorded_lines(m) {
            let point = Point { t_unix_ms, value: r.bytes as f64 };
            match self.lines.iter_mut().find(|l| l.key == r.key) {
                Some(l) => l.points.push(point),
                None => self.lines.push(LineSeries {
                    key: r.key,
                    label: r.label,
                    parent: r.parent,
                    in_usage: r.in_usage,
                    points: vec![point],
                }),
            }
        }
    }
}

/// What one line of a cgroup did over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineVerdict {
    /// Grows steadily: this is what grows in the cgroup.
    Growing,
    /// One jump, flat before and after.
    Step,
    /// Grew, then stopped.
    Stopped,
    /// Filled and reclaimed, repeatedly.
    Sawtooth,
    /// Fell by at least the minimum growth.
    Falling,
    /// Moved by at least the minimum growth, without a steady trend.
    NoTrend,
    /// Moved by less than the minimum growth.
    Flat,
}

impl LineVerdict {
    /// The JSON name, for text.
    pub fn key(self) -> &'static str {
        match self {
            LineVerdict::Growing => "growing",
            LineVerdict::Step => "step",
            LineVerdict::Stopped => "stopped",
            LineVerdict::Sawtooth => "sawtooth",
            LineVerdict::Falling => "falling",
            LineVerdict::NoTrend => "no_trend",
            LineVerdict::Flat => "flat",
        }
    }
}

/// The judgement of one line of a cgroup's ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineTrend {
    /// The ledger's key (`anon`, `page_cache`, …).
    pub line: &'static str,
    /// What `report --cgroup` calls it.
    pub label: &'static str,
    /// The line it is part of (`kernel` for its parts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<&'static str>,
    /// False for v1 TCP socket buffers, charged outside the usage.
    pub in_usage: bool,
    /// Points judged.
    pub points: usize,
    /// First point's time.
    pub from_unix_ms: u64,
    /// Last point's time.
    pub to_unix_ms: u64,
    /// Bytes at the first point.
    pub first_bytes: u64,
    /// Bytes at the last point.
    pub last_bytes: u64,
    /// `last − first`.
    pub change_bytes: i64,
    /// Theil–Sen growth per hour, when the line moved enough to be judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth_per_hour_bytes: Option<i64>,
    /// Mann–Kendall confidence of an upward trend, when judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// What it did.
    pub verdict: LineVerdict,
}

/// Judge each line of a cgroup with the thresholds of the leak series
/// ([`leaks::judge`]); lines with fewer points than a trend needs are left
/// out. In the order given (ledger order).
pub fn judge_lines(lines: &[LineSeries], o: &LeakOptions) -> Vec<LineTrend> {
    let mut out = Vec::new();
    for l in lines {
        let n = l.points.len();
        if n < o.min_points.max(3) {
            continue;
        }
        let series = Series::unbroken(
            SuspectKind::Cgroup,
            l.key.to_string(),
            "bytes",
            Unit::Bytes,
            l.points.clone(),
            None,
        );
        let (first, last) = (l.points[0], l.points[n - 1]);
        let change = last.value - first.value;
        let j = leaks::judge(&series, None, o);
        let verdict = match j.as_ref().map(|j| j.verdict) {
            None => LineVerdict::Flat,
            Some(Verdict::Growing) => LineVerdict::Growing,
            Some(Verdict::Step { .. }) => LineVerdict::Step,
            Some(Verdict::Stopped) => LineVerdict::Stopped,
            Some(Verdict::Sawtooth) => LineVerdict::Sawtooth,
            Some(Verdict::NoTrend) if change <= -o.min_growth_bytes => LineVerdict::Falling,
            Some(Verdict::NoTrend) if change.abs() < o.min_growth_bytes => LineVerdict::Flat,
            Some(Verdict::NoTrend) => LineVerdict::NoTrend,
        };
        out.push(LineTrend {
            line: l.key,
            label: l.label,
            parent: l.parent,
            in_usage: l.in_usage,
            points: n,
            from_unix_ms: first.t_unix_ms,
            to_unix_ms: last.t_unix_ms,
            first_bytes: first.value as u64,
            last_bytes: last.value as u64,
            change_bytes: change as i64,
            growth_per_hour_bytes: j.as_ref().map(|j| j.growth_per_hour.round() as i64),
            confidence: j.as_ref().map(|j| j.confidence),
            verdict,
        });
    }
    out
}

/// One line of a cgroup's ledger in two snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupLineDiff {
    /// The ledger's key.
    pub line: &'static str,
    /// Its label.
    pub label: &'static str,
    /// The line it is part of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<&'static str>,
    /// False for v1 TCP socket buffers, charged outside the usage.
    pub in_usage: bool,
    /// Bytes before (`None`: the cgroup or its split was not recorded, or
    /// the line was unavailable).
    pub from_bytes: Option<i64>,
    /// Bytes after.
    pub to_bytes: Option<i64>,
    /// `to − from`, when both are known.
    pub delta_bytes: Option<i64>,
}

/// The change of each ledger line of one cgroup between two snapshots
/// (either may lack it), in the later snapshot's ledger order, lines only
/// in the earlier one after.
pub fn line_changes(before: Option<&CgroupMemory>, after: Option<&CgroupMemory>) -> Vec<CgroupLineDiff> {
    let a = before.map(recorded_lines).unwrap_or_default();
    let b = after.map(recorded_lines).unwrap_or_default();
    let to_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let mut out: Vec<CgroupLineDiff> = Vec::new();
    for r in b.iter().chain(&a) {
        if out.iter().any(|d| d.line == r.key) {
            continue;
        }
        let from = a.iter().find(|x| x.key == r.key).map(|x| to_i64(x.bytes));
        let to = b.iter().find(|x| x.key == r.key).map(|x| to_i64(x.bytes));
        out.push(CgroupLineDiff {
            line: r.key,
            label: r.label,
            parent: r.parent,
            in_usage: r.in_usage,
            from_bytes: from,
            to_bytes: to,
            delta_bytes: from.zip(to).map(|(f, t)| t.saturating_sub(f)),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use memscope_kernel::parse::cgroupfs::Limit;
    use memscope_kernel::parse::vmstat::Vmstat;
    use memscope_model::{CgroupVersion, LedgerFiles};

    use super::*;

    const MIB: u64 = 1 << 20;

    /// A v1 cgroup: `anon` and `cache` (of which `shmem`) bytes, 2 MiB of
    /// kernel memory, `tcp` of socket buffers; the usage is their sum.
    fn v1(anon: u64, cache: u64, shmem: u64, tcp: u64) -> CgroupMemory {
        let stat = format!(
            "cache {cache}\nrss {anon}\ntotal_rss {anon}\ntotal_rss_huge 0\ntotal_cache {cache}\n\
             total_shmem {shmem}\ntotal_mapped_file 0\ntotal_inactive_file {cache}\ntotal_active_file 0\n\
             total_dirty 0\ntotal_writeback 0\npgfault 12345\nhierarchical_memory_limit 9223372036854771712\n"
        );
        CgroupMemory {
            path: "/app".into(),
            version: CgroupVersion::V1,
            current_bytes: Ok(anon + cache + 2 * MIB),
            limit: Ok(Limit::Max),
            oom_kills: Ok(0),
            ledger: Some(LedgerFiles {
                stat: Ok(LedgerFiles::keep_ledger_keys(Vmstat::parse(&stat), CgroupVersion::V1)),
                kmem_bytes: Some(Ok(2 * MIB)),
                kmem_tcp_bytes: Some(Ok(tcp)),
            }),
        }
    }

    /// A v2 cgroup whose unreclaimable slab is `slab`.
    fn v2(anon: u64, file: u64, slab: u64) -> CgroupMemory {
        let stat = format!(
            "anon {anon}\nanon_thp 0\nfile {file}\nshmem 0\nkernel {}\nkernel_stack {MIB}\npagetables 0\n\
             percpu 0\nslab_reclaimable 0\nslab_unreclaimable {slab}\nvmalloc 0\nsock 0\n\
             active_file 0\ninactive_file {file}\nworkingset_refault_anon 7\n",
            MIB + slab
        );
        CgroupMemory {
            path: "/system.slice/x.service".into(),
            version: CgroupVersion::V2,
            current_bytes: Ok(anon + file + MIB + slab),
            limit: Ok(Limit::Max),
            oom_kills: Ok(0),
            ledger: Some(LedgerFiles {
                stat: Ok(LedgerFiles::keep_ledger_keys(Vmstat::parse(&stat), CgroupVersion::V2)),
                kmem_bytes: None,
                kmem_tcp_bytes: None,
            }),
        }
    }

    fn get(lines: &[RecordedLine], key: &str) -> u64 {
        lines.iter().find(|l| l.key == key).unwrap_or_else(|| panic!("no line {key}: {lines:?}")).bytes
    }

    #[test]
    fn recorded_lines_are_the_ledgers_split() {
        let l = recorded_lines(&v1(64 * MIB, 48 * MIB, 16 * MIB, 3 * MIB));
        assert_eq!(get(&l, "anon"), 64 * MIB);
        assert_eq!(get(&l, "page_cache"), 32 * MIB);
        assert_eq!(get(&l, "shmem"), 16 * MIB);
        assert_eq!(get(&l, "kernel"), 2 * MIB);
        let sock = l.iter().find(|x| x.key == "sock").unwrap();
        assert_eq!((sock.bytes, sock.in_usage), (3 * MIB, false));
        let l = recorded_lines(&v2(8 * MIB, 4 * MIB, 5 * MIB));
        assert_eq!(get(&l, "slab_unreclaimable"), 5 * MIB);
        assert_eq!(l.iter().find(|x| x.key == "slab_unreclaimable").unwrap().parent, Some("kernel"));
        assert_eq!(get(&l, "kernel"), 6 * MIB);
        // Recorded by an older memscope: no split.
        let mut old = v2(1, 1, 1);
        old.ledger = None;
        assert!(recorded_lines(&old).is_empty());
    }

    #[test]
    fn the_recorded_keys_are_all_the_split_reads() {
        // The split of the whole memory.stat and of the keys a snapshot
        // keeps are the same (the keys added are ones the split must not
        // read: the non-hierarchical v1 ones, event counters).
        for full in [v1(64 * MIB, 48 * MIB, 16 * MIB, 0), v2(8 * MIB, 4 * MIB, 5 * MIB)] {
            let s = full.ledger_sample().unwrap();
            let kept = s.stat.as_ref().unwrap();
            let keys = full.version.ledger_stat_keys();
            assert!(kept.counters.keys().all(|k| keys.contains(&k.as_str())));
            assert!(kept.get("pgfault").is_none() && kept.get("workingset_refault_anon").is_none());
            let mut unfiltered = s.clone();
            let mut all = kept.clone();
            for k in ["pgfault", "workingset_refault_anon", "rss", "cache", "shmem", "active_file"] {
                all.counters.entry(k.into()).or_insert(1);
            }
            unfiltered.stat = Ok(all);
            let (a, b, _) = cgroup_ledger::split(&s);
            let (c, d, _) = cgroup_ledger::split(&unfiltered);
            assert_eq!((a, b), (c, d));
        }
    }

    fn lines_over(cgs: &[CgroupMemory]) -> CgroupLines {
        let mut c = CgroupLines::default();
        for (i, m) in cgs.iter().enumerate() {
            c.add(i as u64 * 10_000, m);
        }
        c
    }

    fn verdict(t: &[LineTrend], key: &str) -> LineVerdict {
        t.iter().find(|x| x.line == key).unwrap_or_else(|| panic!("no line {key}: {t:#?}")).verdict
    }

    #[test]
    fn growing_page_cache_is_the_growing_line_and_flat_anon_is_flat() {
        // 20 snapshots 10 s apart: page cache +2 MiB each, anon jitters by
        // a few pages, shmem flat.
        let cgs: Vec<CgroupMemory> =
            (0..20u64).map(|i| v1(64 * MIB + (i % 3) * 4096, (16 + 2 * i) * MIB, 8 * MIB, 0)).collect();
        let t = judge_lines(&lines_over(&cgs).lines, &LeakOptions::default());
        assert_eq!(verdict(&t, "page_cache"), LineVerdict::Growing);
        assert_eq!(verdict(&t, "anon"), LineVerdict::Flat);
        assert_eq!(verdict(&t, "shmem"), LineVerdict::Flat);
        assert_eq!(verdict(&t, "kernel"), LineVerdict::Flat);
        let pc = t.iter().find(|x| x.line == "page_cache").unwrap();
        assert_eq!(pc.change_bytes, 38 * MIB as i64);
        assert_eq!((pc.first_bytes, pc.last_bytes), (8 * MIB, 46 * MIB));
        // 2 MiB per 10 s: 720 MiB an hour.
        assert_eq!(pc.growth_per_hour_bytes, Some(720 * MIB as i64));
        assert_eq!((pc.from_unix_ms, pc.to_unix_ms), (0, 190_000));
    }

    #[test]
    fn growing_slab_inside_the_kernel_line_is_named_and_v1_sockets_are_followed() {
        let cgs: Vec<CgroupMemory> = (0..12u64).map(|i| v2(8 * MIB, 4 * MIB, (1 + 3 * i) * MIB)).collect();
        let t = judge_lines(&lines_over(&cgs).lines, &LeakOptions::default());
        assert_eq!(verdict(&t, "slab_unreclaimable"), LineVerdict::Growing);
        assert_eq!(verdict(&t, "kernel"), LineVerdict::Growing);
        assert_eq!(verdict(&t, "kernel_stack"), LineVerdict::Flat);
        assert_eq!(verdict(&t, "anon"), LineVerdict::Flat);
        // v1 socket buffers grow outside a flat usage.
        let cgs: Vec<CgroupMemory> = (0..12u64).map(|i| v1(8 * MIB, 4 * MIB, 0, i * 2 * MIB)).collect();
        let t = judge_lines(&lines_over(&cgs).lines, &LeakOptions::default());
        assert_eq!(verdict(&t, "sock"), LineVerdict::Growing);
        assert!(!t.iter().find(|x| x.line == "sock").unwrap().in_usage);
    }

    #[test]
    fn a_cache_filled_and_dropped_is_not_growing_and_a_shrinking_line_is_falling() {
        let cgs: Vec<CgroupMemory> =
            (0..24u64).map(|i| v1((100 - 3 * i) * MIB, ((i % 6) * 10 + 1) * MIB, 0, 0)).collect();
        let t = judge_lines(&lines_over(&cgs).lines, &LeakOptions::default());
        // Filled and dropped with no steady trend: it moved, but does not grow.
        assert_eq!(verdict(&t, "page_cache"), LineVerdict::NoTrend);
        assert_eq!(verdict(&t, "anon"), LineVerdict::Falling);
    }

    #[test]
    fn too_few_points_judge_nothing() {
        let cgs: Vec<CgroupMemory> = (0..5u64).map(|i| v1(MIB, i * 10 * MIB, 0, 0)).collect();
        assert!(judge_lines(&lines_over(&cgs).lines, &LeakOptions::default()).is_empty());
    }

    #[test]
    fn line_changes_between_two_snapshots() {
        let a = v1(64 * MIB, 16 * MIB, 8 * MIB, 0);
        let b = v1(64 * MIB, 56 * MIB, 8 * MIB, MIB);
        let d = line_changes(Some(&a), Some(&b));
        let delta = |k: &str| d.iter().find(|x| x.line == k).unwrap().delta_bytes;
        assert_eq!(delta("page_cache"), Some(40 * MIB as i64));
        assert_eq!(delta("anon"), Some(0));
        assert_eq!(delta("sock"), Some(MIB as i64));
        // A cgroup that appeared: its lines have no earlier value.
        let d = line_changes(None, Some(&b));
        assert!(d.iter().all(|x| x.from_bytes.is_none() && x.delta_bytes.is_none() && x.to_bytes.is_some()));
        // Recorded without the split: no lines.
        let mut old = a.clone();
        old.ledger = None;
        assert!(line_changes(Some(&old), Some(&old)).is_empty());
    }
}
