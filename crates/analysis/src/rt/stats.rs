//! Latency statistics: pure functions of samples in nanoseconds.
//!
//! Percentiles use the nearest-rank definition: the p-th percentile of `n`
//! samples is the smallest sample such that at least `p·n` samples are at
//! or below it (sorted index `ceil(p·n) − 1`). It is always one of the
//! samples, never an interpolation, so `min ≤ p50 ≤ p99 ≤ p99.9 ≤ max`
//! holds by construction. cyclictest's histogram (`-h`) gives the same
//! figure at 1 µs resolution.

use serde::Serialize;

/// Summary of one set of samples. Times in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub samples: u64,
    /// Smallest.
    pub min_ns: u64,
    /// Arithmetic mean.
    pub avg_ns: f64,
    /// Median.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Largest.
    pub max_ns: u64,
}

/// The nearest-rank percentile `q` (0 < q ≤ 1) of **sorted** samples.
/// `None` when there are none.
pub fn percentile_sorted(sorted: &[u32], q: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
    // ceil(q·n) as an integer rank, 1-based, at least 1. The small epsilon
    // keeps 0.99 × 1000 = 990 from becoming 991 through rounding error.
    let rank = ((q * n as f64) - 1e-9).ceil().max(1.0) as usize;
    Some(sorted[rank.min(n) - 1])
}

/// Summarize samples (any order). `None` when empty.
pub fn summarize(samples: &[u32]) -> Option<Summary> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    summarize_sorted(&sorted)
}

/// Summarize samples that are already sorted ascending.
pub fn summarize_sorted(sorted: &[u32]) -> Option<Summary> {
    let (&min, &max) = (sorted.first()?, sorted.last()?);
    let sum: u128 = sorted.iter().map(|&s| s as u128).sum();
    Some(Summary {
        samples: sorted.len() as u64,
        min_ns: min as u64,
        avg_ns: sum as f64 / sorted.len() as f64,
        p50_ns: percentile_sorted(sorted, 0.50)? as u64,
        p99_ns: percentile_sorted(sorted, 0.99)? as u64,
        p999_ns: percentile_sorted(sorted, 0.999)? as u64,
        max_ns: max as u64,
    })
}

/// Counts of samples per latency range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Histogram {
    /// Upper bounds (exclusive) of the buckets, in ns, ascending. Bucket
    /// `i` holds samples in `[edges[i-1], edges[i])` (from 0 for the first);
    /// the last bucket, `counts[edges.len()]`, holds every sample from the
    /// last edge up.
    pub edges_ns: Vec<u64>,
    /// `edges_ns.len() + 1` counts.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// An empty histogram with these edges (sorted, duplicates removed).
    pub fn new(edges_ns: &[u64]) -> Histogram {
        let mut edges = edges_ns.to_vec();
        edges.sort_unstable();
        edges.dedup();
        let counts = vec![0; edges.len() + 1];
        Histogram { edges_ns: edges, counts }
    }

    /// Count one sample.
    pub fn add(&mut self, sample_ns: u64) {
        let i = self.edges_ns.partition_point(|&e| e <= sample_ns);
        self.counts[i] += 1;
    }

    /// The histogram of `samples`.
    pub fn of(samples: &[u32], edges_ns: &[u64]) -> Histogram {
        let mut h = Histogram::new(edges_ns);
        for &s in samples {
            h.add(s as u64);
        }
        h
    }

    /// Total count.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The range of bucket `i`: `(from_ns, to_ns)`, `to_ns` `None` for the
    /// open last bucket.
    pub fn range(&self, i: usize) -> (u64, Option<u64>) {
        let from = if i == 0 { 0 } else { self.edges_ns[i - 1] };
        (from, self.edges_ns.get(i).copied())
    }
}

/// The default bucket edges in µs: a 1-2-5 series from 1 µs to 10 ms.
pub const DEFAULT_EDGES_USEC: [u64; 13] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

/// The `k` largest samples as `(index, sample)`, largest first; equal
/// samples keep their time order. Samples closer than `min_gap` indices to a
/// larger one already chosen are left out, so that one long stall (which
/// delays several wakeups in a row) shows as one spike.
pub fn top_spikes(samples: &[u32], k: usize, min_gap: usize) -> Vec<(usize, u32)> {
    if k == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..samples.len()).collect();
    order.sort_by(|&a, &b| samples[b].cmp(&samples[a]).then(a.cmp(&b)));
    let mut out: Vec<(usize, u32)> = Vec::with_capacity(k);
    for i in order {
        if out.iter().any(|&(j, _)| i.abs_diff(j) < min_gap.max(1)) {
            continue;
        }
        out.push((i, samples[i]));
        if out.len() == k {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile_sorted(&s, 0.99), Some(990));
        assert_eq!(percentile_sorted(&s, 0.999), Some(999));
        assert_eq!(percentile_sorted(&s, 0.5), Some(500));
        assert_eq!(percentile_sorted(&s, 1.0), Some(1000));
        assert_eq!(percentile_sorted(&s, 0.0), Some(1));
        assert_eq!(percentile_sorted(&[], 0.5), None);
        assert_eq!(percentile_sorted(&[7], 0.999), Some(7));
        // 10 samples: p99 is the 10th (ceil(9.9)), the maximum.
        let ten: Vec<u32> = (1..=10).collect();
        assert_eq!(percentile_sorted(&ten, 0.99), Some(10));
        assert_eq!(percentile_sorted(&ten, 0.9), Some(9));
    }

    #[test]
    fn summary_of_known_samples() {
        let s = summarize(&[5000, 1000, 3000, 2000, 4000]).unwrap();
        assert_eq!((s.samples, s.min_ns, s.max_ns, s.p50_ns), (5, 1000, 5000, 3000));
        assert_eq!(s.avg_ns, 3000.0);
        assert_eq!(s.p99_ns, 5000);
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn one_spike_in_a_thousand() {
        let mut s = vec![10_000u32; 999];
        s.push(900_000);
        let sum = summarize(&s).unwrap();
        assert_eq!(sum.p99_ns, 10_000, "the spike is beyond p99");
        assert_eq!(sum.p999_ns, 10_000, "and exactly at p99.9's boundary: rank 999");
        assert_eq!(sum.max_ns, 900_000);
    }

    #[test]
    fn histogram_buckets_are_half_open() {
        let h = Histogram::of(&[0, 999, 1000, 1999, 2000, 50_000], &[1000, 2000]);
        assert_eq!(h.counts, vec![2, 2, 2]);
        assert_eq!(h.range(0), (0, Some(1000)));
        assert_eq!(h.range(2), (2000, None));
        assert_eq!(h.total(), 6);
        let h = Histogram::new(&[5, 1, 5]);
        assert_eq!(h.edges_ns, vec![1, 5]);
    }

    #[test]
    fn spikes_merge_neighbours() {
        let s = [1, 50, 49, 1, 1, 1, 30, 1, 48];
        assert_eq!(top_spikes(&s, 3, 1), vec![(1, 50), (2, 49), (8, 48)]);
        assert_eq!(top_spikes(&s, 3, 2), vec![(1, 50), (8, 48), (6, 30)]);
        assert!(top_spikes(&s, 0, 1).is_empty());
        assert_eq!(top_spikes(&[], 3, 1), vec![]);
    }

    proptest! {
        #[test]
        fn ordered_statistics_hold(s in proptest::collection::vec(any::<u32>(), 1..2000)) {
            let m = summarize(&s).unwrap();
            prop_assert!(m.min_ns <= m.p50_ns && m.p50_ns <= m.p99_ns);
            prop_assert!(m.p99_ns <= m.p999_ns && m.p999_ns <= m.max_ns);
            prop_assert!(m.min_ns as f64 <= m.avg_ns && m.avg_ns <= m.max_ns as f64);
            prop_assert_eq!(m.samples, s.len() as u64);
        }

        #[test]
        fn histogram_counts_every_sample(
            s in proptest::collection::vec(any::<u32>(), 0..500),
            edges in proptest::collection::vec(any::<u64>(), 0..20),
        ) {
            let h = Histogram::of(&s, &edges);
            prop_assert_eq!(h.total(), s.len() as u64);
            prop_assert_eq!(h.counts.len(), h.edges_ns.len() + 1);
        }

        #[test]
        fn percentile_is_a_sample_with_enough_below(
            s in proptest::collection::vec(any::<u32>(), 1..500),
            q in 0.001f64..1.0,
        ) {
            let mut sorted = s.clone();
            sorted.sort_unstable();
            let p = percentile_sorted(&sorted, q).unwrap();
            prop_assert!(sorted.contains(&p));
            let at_or_below = sorted.iter().filter(|&&x| x <= p).count();
            prop_assert!(at_or_below as f64 >= q * sorted.len() as f64 - 1e-6);
            let below = sorted.iter().filter(|&&x| x < p).count();
            prop_assert!((below as f64) < q * sorted.len() as f64 + 1e-6);
        }
    }
}
