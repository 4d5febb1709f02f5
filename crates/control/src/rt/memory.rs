//! Memory activity alongside a latency run (`rt latency --with-memory`).
//!
//! The memory manager is a classic source of latency: a page fault on an
//! RT thread, an allocation that stalls in direct compaction or direct
//! reclaim while holding a lock an RT thread needs, khugepaged collapsing
//! pages, TLB shootdowns from migration. `/proc/vmstat` counts each of these
//! events system-wide (mm/vmstat.c `vmstat_text`); sampling it during the
//! run and comparing the windows that contain latency spikes with the
//! others shows whether the spikes come with memory activity.
//!
//! Everything here but [`Sampler::poll`] is pure.

use memscope_kernel::KernelRoot;
use memscope_kernel::parse::vmstat::Vmstat;
use serde::Serialize;

/// One sampled counter.
#[derive(Debug, Clone, Copy)]
pub struct Counter {
    /// The `/proc/vmstat` name; `allocstall` sums every `allocstall_*` zone
    /// counter (kernels before 4.10 print one `allocstall`).
    pub key: &'static str,
    /// What an increase means.
    pub help: &'static str,
}

/// The counters sampled, in display order: one table for sampling,
/// printing and help.
pub const COUNTERS: &[Counter] = &[
    Counter { key: "pgfault", help: "page faults, minor and major, of every process" },
    Counter { key: "pgmajfault", help: "major page faults: the page was read from disk or swap" },
    Counter { key: "compact_stall", help: "allocations that stalled in direct compaction" },
    Counter { key: "allocstall", help: "allocations that stalled in direct reclaim (all zones)" },
    Counter { key: "pgscan_direct", help: "pages scanned by direct reclaim" },
    Counter { key: "pgscan_kswapd", help: "pages scanned by kswapd" },
    Counter { key: "pswpin", help: "pages swapped in" },
    Counter { key: "pswpout", help: "pages swapped out" },
    Counter { key: "thp_fault_alloc", help: "transparent huge pages allocated at page fault" },
    Counter { key: "thp_collapse_alloc", help: "huge pages assembled by khugepaged" },
    Counter { key: "pgmigrate_success", help: "pages migrated (compaction, NUMA balancing)" },
];

/// The value of one counter in a parsed vmstat. `None` when this kernel
/// does not have it.
pub fn counter_value(v: &Vmstat, key: &str) -> Option<u64> {
    if key == "allocstall" {
        let parts: Vec<u64> =
            v.counters.iter().filter(|(k, _)| k.starts_with("allocstall")).map(|(_, n)| *n).collect();
        return (!parts.is_empty()).then(|| parts.iter().sum());
    }
    v.get(key)
}

/// One reading of every counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// CLOCK_MONOTONIC ns when read.
    pub mono_ns: u64,
    /// In the order of [`COUNTERS`].
    pub values: Vec<Option<u64>>,
}

/// Reads `/proc/vmstat` through a root at a fixed period.
#[derive(Debug)]
pub struct Sampler {
    root: KernelRoot,
    period_ns: u64,
    next_ns: u64,
    /// The samples so far.
    pub samples: Vec<Sample>,
    /// The first read error, if reading stopped.
    pub error: Option<memscope_kernel::ReadError>,
}

impl Sampler {
    /// A sampler that reads every `period`.
    pub fn new(root: KernelRoot, period: std::time::Duration) -> Sampler {
        Sampler { root, period_ns: period.as_nanos() as u64, next_ns: 0, samples: Vec::new(), error: None }
    }

    /// Read now if a period has passed since the last read (or `force`).
    pub fn poll(&mut self, now_mono_ns: u64, force: bool) {
        if self.error.is_some() || (!force && now_mono_ns < self.next_ns) {
            return;
        }
        match self.root.vmstat() {
            Ok(v) => {
                let values = COUNTERS.iter().map(|c| counter_value(&v, c.key)).collect();
                self.samples.push(Sample { mono_ns: now_mono_ns, values });
                self.next_ns = now_mono_ns + self.period_ns;
            }
            Err(e) => self.error = Some(e),
        }
    }
}

/// What changed between two consecutive samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Start, CLOCK_MONOTONIC ns.
    pub from_ns: u64,
    /// End.
    pub to_ns: u64,
    /// Increase of each counter (`None` when not reported).
    pub deltas: Vec<Option<u64>>,
}

/// Windows between consecutive samples.
pub fn windows(samples: &[Sample]) -> Vec<Window> {
    samples
        .windows(2)
        .map(|w| Window {
            from_ns: w[0].mono_ns,
            to_ns: w[1].mono_ns,
            deltas: w[0]
                .values
                .iter()
                .zip(&w[1].values)
                .map(|(a, b)| Some(b.as_ref()?.saturating_sub(*a.as_ref()?)))
                .collect(),
        })
        .collect()
}

/// The sum of each counter's increase over the windows that overlap
/// `[from_ns, to_ns]` (a spike: from the expected wakeup to the actual one).
/// `None` when no window overlaps.
pub fn around(windows: &[Window], from_ns: u64, to_ns: u64) -> Option<Vec<Option<u64>>> {
    let hit: Vec<&Window> = windows.iter().filter(|w| w.from_ns <= to_ns && w.to_ns >= from_ns).collect();
    let first = hit.first()?;
    let mut sum = first.deltas.clone();
    for w in &hit[1..] {
        for (s, d) in sum.iter_mut().zip(&w.deltas) {
            *s = match (*s, d) {
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
        }
    }
    Some(sum)
}

/// Per counter: the median increase per window.
pub fn median_per_window(windows: &[Window]) -> Vec<Option<u64>> {
    (0..COUNTERS.len())
        .map(|c| {
            let mut v: Vec<u64> = windows.iter().filter_map(|w| w.deltas.get(c).copied().flatten()).collect();
            if v.is_empty() {
                return None;
            }
            v.sort_unstable();
            Some(v[(v.len() - 1) / 2])
        })
        .collect()
}

/// One counter compared between windows with and without a spike.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CounterComparison {
    /// The vmstat name.
    pub counter: &'static str,
    /// Mean increase per window that holds a spike.
    pub spike_windows_mean: f64,
    /// Mean increase per other window.
    pub other_windows_mean: f64,
}

/// Windows with spikes against the others.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Correlation {
    /// Windows holding at least one spike.
    pub spike_windows: usize,
    /// The other windows.
    pub other_windows: usize,
    /// One entry per counter this kernel reports.
    pub counters: Vec<CounterComparison>,
}

/// Compare the windows that overlap any of `spikes` (`(from_ns, to_ns)`)
/// with the rest.
pub fn correlate(windows: &[Window], spikes: &[(u64, u64)]) -> Correlation {
    let is_spike: Vec<bool> =
        windows.iter().map(|w| spikes.iter().any(|&(a, b)| w.from_ns <= b && w.to_ns >= a)).collect();
    let spike_windows = is_spike.iter().filter(|s| **s).count();
    let other_windows = windows.len() - spike_windows;
    let mut counters = Vec::new();
    for (c, def) in COUNTERS.iter().enumerate() {
        let mean = |want: bool| -> Option<f64> {
            let v: Vec<u64> = windows
                .iter()
                .zip(&is_spike)
                .filter(|(_, s)| **s == want)
                .map(|(w, _)| w.deltas.get(c).copied().flatten())
                .collect::<Option<Vec<u64>>>()?;
            Some(if v.is_empty() { 0.0 } else { v.iter().sum::<u64>() as f64 / v.len() as f64 })
        };
        if let (Some(s), Some(o)) = (mean(true), mean(false)) {
            counters.push(CounterComparison {
                counter: def.key,
                spike_windows_mean: s,
                other_windows_mean: o,
            });
        }
    }
    Correlation { spike_windows, other_windows, counters }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: u64, pgfault: u64, compact: u64) -> Sample {
        let mut values = vec![Some(0); COUNTERS.len()];
        values[0] = Some(pgfault);
        values[2] = Some(compact);
        values[6] = None; // pswpin not reported
        Sample { mono_ns: t, values }
    }

    #[test]
    fn allocstall_sums_the_zone_counters() {
        let v = Vmstat::parse("allocstall_normal 3\nallocstall_movable 4\npgfault 9\n");
        assert_eq!(counter_value(&v, "allocstall"), Some(7));
        assert_eq!(counter_value(&v, "pgfault"), Some(9));
        assert_eq!(counter_value(&Vmstat::parse("pgfault 1\n"), "allocstall"), None);
        let old = Vmstat::parse("allocstall 5\n");
        assert_eq!(counter_value(&old, "allocstall"), Some(5));
    }

    #[test]
    fn windows_and_spike_context() {
        let s = [sample(0, 100, 0), sample(10, 110, 0), sample(20, 1110, 3), sample(30, 1120, 3)];
        let w = windows(&s);
        assert_eq!(w.len(), 3);
        assert_eq!(w[1].deltas[0], Some(1000));
        assert_eq!(w[1].deltas[6], None);
        // A spike from 12 to 14 falls in the second window only.
        let a = around(&w, 12, 14).unwrap();
        assert_eq!((a[0], a[2]), (Some(1000), Some(3)));
        // One crossing a boundary sums both windows.
        assert_eq!(around(&w, 19, 21).unwrap()[0], Some(1000 + 10));
        assert_eq!(around(&w, 100, 200), None);
        assert_eq!(median_per_window(&w)[0], Some(10));
        assert_eq!(median_per_window(&w)[6], None);
    }

    #[test]
    fn correlation_separates_spike_windows() {
        let s = [sample(0, 100, 0), sample(10, 110, 0), sample(20, 1110, 3), sample(30, 1120, 3)];
        let c = correlate(&windows(&s), &[(12, 14)]);
        assert_eq!((c.spike_windows, c.other_windows), (1, 2));
        let pg = c.counters.iter().find(|c| c.counter == "pgfault").unwrap();
        assert_eq!((pg.spike_windows_mean, pg.other_windows_mean), (1000.0, 10.0));
        assert!(c.counters.iter().all(|c| c.counter != "pswpin"), "unreported counters are left out");
    }
}
