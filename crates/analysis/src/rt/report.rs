//! A latency run turned into figures: per-CPU statistics, the histogram,
//! the top spikes with their wall-clock time, and the memory activity
//! around them. Pure: no I/O.

use std::collections::BTreeMap;

use serde::Serialize;

use memscope_model::rt::latency::{CpuRun, LatencyRun};
use memscope_model::rt::vmstat::{COUNTERS, Sample};

use super::memory::{self, Correlation};
use super::stats::{self, Histogram, Summary};

/// How to summarize.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Histogram bucket edges in µs.
    pub edges_usec: Vec<u64>,
    /// How many spikes to list.
    pub top: usize,
    /// vmstat samples taken alongside (`--with-memory`), and their period.
    pub memory: Option<(Vec<Sample>, u64)>,
    /// Why memory sampling stopped, if it did.
    pub memory_error: Option<String>,
}

/// The settings of the run, as ran.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// CPUs measured.
    pub cpus: Vec<u32>,
    /// Policy the threads ran under (`SCHED_OTHER` when a forced run fell
    /// back to it).
    pub policy: &'static str,
    /// Priority asked for (0: normal).
    pub priority: u8,
    /// Period, µs.
    pub interval_usec: u64,
    /// Loops asked for per CPU.
    pub loops: u64,
    /// Memory locked.
    pub mlockall: bool,
    /// `/dev/cpu_dma_latency` held at this value.
    pub dma_latency_usec: Option<i32>,
    /// `--force` was given.
    pub forced: bool,
}

/// Statistics in µs (ns resolution).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StatsUsec {
    /// Samples.
    pub samples: u64,
    /// Smallest.
    pub min_usec: f64,
    /// Mean.
    pub avg_usec: f64,
    /// Median.
    pub p50_usec: f64,
    /// 99th percentile.
    pub p99_usec: f64,
    /// 99.9th percentile.
    pub p999_usec: f64,
    /// Largest.
    pub max_usec: f64,
}

fn usec(ns: f64) -> f64 {
    (ns / 1000.0 * 1000.0).round() / 1000.0
}

impl From<Summary> for StatsUsec {
    fn from(s: Summary) -> StatsUsec {
        StatsUsec {
            samples: s.samples,
            min_usec: usec(s.min_ns as f64),
            avg_usec: usec(s.avg_ns),
            p50_usec: usec(s.p50_ns as f64),
            p99_usec: usec(s.p99_ns as f64),
            p999_usec: usec(s.p999_ns as f64),
            max_usec: usec(s.max_ns as f64),
        }
    }
}

/// One CPU's figures.
#[derive(Debug, Clone, Serialize)]
pub struct CpuStats {
    /// The CPU.
    pub cpu: u32,
    /// Policy its thread ran under.
    pub policy: &'static str,
    /// Its priority.
    pub priority: i32,
    /// Statistics; `None` when no sample was taken.
    #[serde(flatten)]
    pub stats: Option<StatsUsec>,
    /// Periods skipped because a wakeup was later than a period.
    pub overruns: u64,
    /// Minor page faults of the measuring thread during the run.
    pub minor_faults: u64,
    /// Major page faults of the measuring thread.
    pub major_faults: u64,
    /// Times the measuring thread was preempted.
    pub involuntary_switches: u64,
}

/// One histogram row.
#[derive(Debug, Clone, Serialize)]
pub struct HistogramRow {
    /// Lower bound, µs (inclusive).
    pub from_usec: u64,
    /// Upper bound, µs (exclusive); `None` for the last, open bucket.
    pub to_usec: Option<u64>,
    /// Count per CPU, in the order of `cpus`.
    pub counts: Vec<u64>,
}

/// One spike.
#[derive(Debug, Clone, Serialize)]
pub struct Spike {
    /// The CPU.
    pub cpu: u32,
    /// How late the wakeup was, µs.
    pub latency_usec: f64,
    /// When the wakeup was due, ns since the epoch.
    pub at_unix_ns: u64,
    /// The same, seconds after the start of the run.
    pub offset_seconds: f64,
    /// Increase of each vmstat counter in the sampling window(s) around
    /// the spike (`--with-memory`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<BTreeMap<&'static str, u64>>,
}

/// Memory activity alongside the run.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    /// Sampling period, ms.
    pub interval_ms: f64,
    /// Samples taken.
    pub samples: usize,
    /// Median increase per window of each counter.
    pub median_per_window: BTreeMap<&'static str, u64>,
    /// Samples above this latency (the all-CPU p99.9) count as spikes for
    /// the comparison.
    pub spike_threshold_usec: f64,
    /// Windows with spikes against the others.
    pub correlation: Correlation,
    /// Why sampling stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything `rt latency` reports.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyReport {
    /// Settings.
    pub settings: Settings,
    /// Start, ms since the epoch.
    pub started_at_unix_ms: u64,
    /// Wall time of the run, s.
    pub duration_seconds: f64,
    /// Stopped by SIGINT before the end.
    pub interrupted: bool,
    /// What weakens the result.
    pub warnings: Vec<String>,
    /// Per CPU.
    pub cpus: Vec<CpuStats>,
    /// All CPUs together.
    pub all: Option<StatsUsec>,
    /// The histogram.
    pub histogram: Vec<HistogramRow>,
    /// The largest spikes, largest first.
    pub spikes: Vec<Spike>,
    /// Memory activity (`--with-memory`).
    pub memory: Option<MemoryReport>,
}

fn cpu_stats(r: &CpuRun) -> CpuStats {
    CpuStats {
        cpu: r.cpu,
        policy: r.policy,
        priority: r.priority,
        stats: stats::summarize(&r.samples_ns).map(StatsUsec::from),
        overruns: r.overruns,
        minor_faults: r.usage.minflt,
        major_faults: r.usage.majflt,
        involuntary_switches: r.usage.nivcsw,
    }
}

/// Summarize a run.
pub fn build(run: &LatencyRun, o: &ReportOptions) -> LatencyReport {
    let interval_ns = run.options.interval.as_nanos() as u64;
    let edges_ns: Vec<u64> = o.edges_usec.iter().map(|e| e.saturating_mul(1000)).collect();
    let hists: Vec<Histogram> = run.cpus.iter().map(|c| Histogram::of(&c.samples_ns, &edges_ns)).collect();
    let histogram = match hists.first() {
        Some(h0) => (0..h0.counts.len())
            .map(|i| {
                let (from, to) = h0.range(i);
                HistogramRow {
                    from_usec: from / 1000,
                    to_usec: to.map(|t| t / 1000),
                    counts: hists.iter().map(|h| h.counts[i]).collect(),
                }
            })
            .collect(),
        None => Vec::new(),
    };
    let mut all_samples: Vec<u32> = run.cpus.iter().flat_map(|c| c.samples_ns.iter().copied()).collect();
    all_samples.sort_unstable();
    let all = stats::summarize_sorted(&all_samples);
    let start_mono = run.clock_pair_ns.1;

    // Memory windows, if sampled.
    let windows = o.memory.as_ref().map(|(s, _)| memory::windows(s)).unwrap_or_default();
    let memory_around = |from: u64, to: u64| -> Option<BTreeMap<&'static str, u64>> {
        o.memory.as_ref()?;
        let d = memory::around(&windows, from, to)?;
        Some(COUNTERS.iter().zip(d).filter_map(|(c, v)| Some((c.key, v?))).collect())
    };

    // Spikes: per CPU, then the largest overall. Neighbours within 2
    // periods are one event.
    let mut spikes: Vec<Spike> = Vec::new();
    for c in &run.cpus {
        for (i, s) in stats::top_spikes(&c.samples_ns, o.top, 2) {
            let due = c.expected_mono_ns(i, interval_ns);
            spikes.push(Spike {
                cpu: c.cpu,
                latency_usec: usec(s as f64),
                at_unix_ns: run.wall_ns(due),
                offset_seconds: due.saturating_sub(start_mono) as f64 / 1e9,
                memory: memory_around(due, due + s as u64),
            });
        }
    }
    spikes.sort_by(|a, b| b.latency_usec.total_cmp(&a.latency_usec).then(a.at_unix_ns.cmp(&b.at_unix_ns)));
    spikes.truncate(o.top);

    let memory = o.memory.as_ref().map(|(samples, period_ns)| {
        let threshold = all.map(|a| a.p999_ns).unwrap_or(u64::MAX);
        let mut spans = Vec::new();
        for c in &run.cpus {
            for (i, &s) in c.samples_ns.iter().enumerate() {
                if s as u64 > threshold {
                    let due = c.expected_mono_ns(i, interval_ns);
                    spans.push((due, due + s as u64));
                }
            }
        }
        MemoryReport {
            interval_ms: *period_ns as f64 / 1e6,
            samples: samples.len(),
            median_per_window: COUNTERS
                .iter()
                .zip(memory::median_per_window(&windows))
                .filter_map(|(c, m)| Some((c.key, m?)))
                .collect(),
            spike_threshold_usec: usec(threshold as f64),
            correlation: memory::correlate(&windows, &spans),
            error: o.memory_error.clone(),
        }
    });

    LatencyReport {
        settings: Settings {
            cpus: run.options.cpus.clone(),
            // As run: a forced run may have fallen back to SCHED_OTHER.
            policy: if run.options.priority == 0 || run.cpus.iter().any(|c| c.policy != "SCHED_FIFO") {
                "SCHED_OTHER"
            } else {
                "SCHED_FIFO"
            },
            priority: run.options.priority,
            interval_usec: interval_ns / 1000,
            loops: run.options.loops,
            mlockall: run.mlocked,
            dma_latency_usec: run.dma_latency_held_usec,
            forced: run.options.force,
        },
        started_at_unix_ms: run.clock_pair_ns.0 / 1_000_000,
        duration_seconds: run.elapsed_ns as f64 / 1e9,
        interrupted: run.interrupted,
        warnings: run.warnings.clone(),
        cpus: run.cpus.iter().map(cpu_stats).collect(),
        all: all.map(StatsUsec::from),
        histogram,
        spikes,
        memory,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use memscope_model::rt::latency::{LatencyOptions, ThreadUsage};

    fn run(samples: Vec<Vec<u32>>) -> LatencyRun {
        LatencyRun {
            options: LatencyOptions {
                cpus: (0..samples.len() as u32).collect(),
                priority: 95,
                interval: Duration::from_micros(1000),
                loops: samples[0].len() as u64,
                mlock: true,
                dma_latency_usec: None,
                force: false,
            },
            cpus: samples
                .into_iter()
                .enumerate()
                .map(|(k, s)| CpuRun {
                    cpu: k as u32,
                    samples_ns: s,
                    first_wakeup_mono_ns: 5_000_000_000 + 1_000_000,
                    overrun_log: vec![],
                    overruns: 0,
                    usage: ThreadUsage::default(),
                    policy: "SCHED_FIFO",
                    priority: 95,
                })
                .collect(),
            clock_pair_ns: (1_700_000_000_000_000_000, 5_000_000_000),
            elapsed_ns: 1_000_000_000,
            mlocked: true,
            dma_latency_held_usec: None,
            interrupted: false,
            warnings: vec![],
        }
    }

    fn opts() -> ReportOptions {
        ReportOptions { edges_usec: vec![10, 100], top: 3, memory: None, memory_error: None }
    }

    #[test]
    fn per_cpu_histogram_and_spikes() {
        let mut a = vec![5_000u32; 1000];
        a[500] = 250_000;
        let b = vec![20_000u32; 1000];
        let r = build(&run(vec![a, b]), &opts());
        assert_eq!(r.cpus.len(), 2);
        let s0 = r.cpus[0].stats.unwrap();
        assert_eq!((s0.min_usec, s0.p99_usec, s0.max_usec), (5.0, 5.0, 250.0));
        assert_eq!(r.histogram.len(), 3);
        assert_eq!(r.histogram[0].counts, vec![999, 0]);
        assert_eq!(r.histogram[1].counts, vec![0, 1000]);
        assert_eq!(r.histogram[2].counts, vec![1, 0]);
        assert_eq!((r.histogram[2].from_usec, r.histogram[2].to_usec), (100, None));
        let top = &r.spikes[0];
        assert_eq!((top.cpu, top.latency_usec), (0, 250.0));
        // Sample 500 was due 501 periods after the clock pair was read.
        assert_eq!(top.at_unix_ns, 1_700_000_000_000_000_000 + 501 * 1_000_000);
        assert!((top.offset_seconds - 0.501).abs() < 1e-9);
        assert_eq!(r.all.unwrap().samples, 2000);
        assert!(r.memory.is_none());
    }

    #[test]
    fn spikes_come_with_memory_activity() {
        let mut a = vec![5_000u32; 1000];
        a[500] = 250_000;
        let t0 = 5_000_000_000u64;
        let mk = |t: u64, pg: u64| {
            let mut values = vec![Some(0); COUNTERS.len()];
            values[0] = Some(pg);
            Sample { mono_ns: t, values }
        };
        // Four 250 ms windows; the spike (due at +501 ms) is in the third.
        let samples = vec![
            mk(t0, 0),
            mk(t0 + 250_000_000, 10),
            mk(t0 + 500_000_000, 20),
            mk(t0 + 750_000_000, 5020),
            mk(t0 + 1_000_000_000, 5030),
        ];
        let o = ReportOptions { memory: Some((samples, 250_000_000)), ..opts() };
        let r = build(&run(vec![a]), &o);
        let m = r.memory.unwrap();
        assert_eq!(m.median_per_window["pgfault"], 10);
        assert_eq!((m.correlation.spike_windows, m.correlation.other_windows), (1, 3));
        let pg = m.correlation.counters.iter().find(|c| c.counter == "pgfault").unwrap();
        assert_eq!(pg.spike_windows_mean, 5000.0);
        assert_eq!(r.spikes[0].memory.as_ref().unwrap()["pgfault"], 5000);
    }
}
