//! Memory activity alongside a latency run (`rt latency --with-memory`):
//! the windows between `/proc/vmstat` samples, and whether the windows
//! that contain latency spikes show more memory activity than the others.
//! Pure.

use memscope_model::rt::vmstat::{COUNTERS, Sample};
use serde::Serialize;

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
