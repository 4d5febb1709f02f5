//! A latency run's results as data: what the probe measured
//! ([`LatencyRun`], one [`CpuRun`] per CPU) and its progress while it runs
//! ([`ProgressView`]). The probe itself is `memscope_control::rt::latency`;
//! the figures are `memscope_analysis::rt::report`.

use std::time::Duration;

/// What to measure.
#[derive(Debug, Clone)]
pub struct LatencyOptions {
    /// One measuring thread per CPU listed.
    pub cpus: Vec<u32>,
    /// SCHED_FIFO priority 1–99; 0 asks for SCHED_OTHER (measures nothing
    /// about real time; only with `force`).
    pub priority: u8,
    /// Period of each thread.
    pub interval: Duration,
    /// Wakeups per thread.
    pub loops: u64,
    /// Lock all memory (`mlockall(MCL_CURRENT | MCL_FUTURE)`).
    pub mlock: bool,
    /// Hold `/dev/cpu_dma_latency` at this many µs during the run.
    pub dma_latency_usec: Option<i32>,
    /// Go on (with warnings) when the real-time policy or the memory lock
    /// cannot be had.
    pub force: bool,
}

/// The result of one measuring thread.
#[derive(Debug, Clone)]
pub struct CpuRun {
    /// The CPU it was pinned to.
    pub cpu: u32,
    /// Latency of each wakeup in ns, in time order (saturated at
    /// `u32::MAX`, 4.29 s).
    pub samples_ns: Vec<u32>,
    /// Expected time (CLOCK_MONOTONIC ns) of the first wakeup.
    pub first_wakeup_mono_ns: u64,
    /// `(sample index, periods skipped before it, cumulative)`: where
    /// overruns shifted the schedule. Capped at [`OVERRUN_LOG`] entries.
    pub overrun_log: Vec<(u64, u64)>,
    /// Periods skipped because a wakeup came more than one interval late.
    pub overruns: u64,
    /// Faults and context switches of the thread during the loop.
    pub usage: ThreadUsage,
    /// The policy the thread ran under (`SCHED_FIFO`, or `SCHED_OTHER`
    /// when forced).
    pub policy: &'static str,
    /// Its priority (0 for SCHED_OTHER).
    pub priority: i32,
}

impl CpuRun {
    /// The expected wakeup time (CLOCK_MONOTONIC ns) of sample `i`.
    pub fn expected_mono_ns(&self, i: usize, interval_ns: u64) -> u64 {
        let k = self.overrun_log.partition_point(|&(idx, _)| idx <= i as u64);
        let skipped = if k == 0 { 0 } else { self.overrun_log[k - 1].1 };
        self.first_wakeup_mono_ns + (i as u64 + skipped) * interval_ns
    }
}

/// Maximum number of overrun entries kept per thread.
pub const OVERRUN_LOG: usize = 4096;

/// A whole run.
#[derive(Debug, Clone)]
pub struct LatencyRun {
    /// The options it ran with.
    pub options: LatencyOptions,
    /// One per CPU, in the order of `options.cpus`.
    pub cpus: Vec<CpuRun>,
    /// CLOCK_REALTIME and CLOCK_MONOTONIC read together just before the
    /// threads started, in ns: converts monotonic times to wall-clock.
    pub clock_pair_ns: (u64, u64),
    /// Wall time the run took, in ns.
    pub elapsed_ns: u64,
    /// Memory really locked.
    pub mlocked: bool,
    /// The QoS limit held, if any.
    pub dma_latency_held_usec: Option<i32>,
    /// Stopped early (SIGINT).
    pub interrupted: bool,
    /// Everything that makes the result weaker than asked (forced policy, no
    /// memory lock, …).
    pub warnings: Vec<String>,
}

impl LatencyRun {
    /// Wall-clock time in ns since the epoch of a CLOCK_MONOTONIC time.
    pub fn wall_ns(&self, mono_ns: u64) -> u64 {
        let (real, mono) = self.clock_pair_ns;
        (real as i128 + mono_ns as i128 - mono as i128).max(0) as u64
    }
}

/// A snapshot of every thread's progress, for a live line.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProgressView {
    /// The CPU.
    pub cpu: u32,
    /// Samples taken.
    pub count: u64,
    /// Latest sample, ns.
    pub last_ns: u64,
    /// Largest so far, ns.
    pub max_ns: u64,
    /// Mean so far, ns.
    pub avg_ns: f64,
}

/// Page faults and context switches of a thread
/// (`getrusage(RUSAGE_THREAD)`, read by `memscope_control::rt::sched::thread_usage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadUsage {
    /// Minor page faults (no I/O).
    pub minflt: u64,
    /// Major page faults (I/O).
    pub majflt: u64,
    /// Voluntary context switches (sleeps).
    pub nvcsw: u64,
    /// Involuntary context switches (preempted).
    pub nivcsw: u64,
}

impl ThreadUsage {
    /// Counters between `earlier` and `self`.
    pub fn since(&self, earlier: &ThreadUsage) -> ThreadUsage {
        ThreadUsage {
            minflt: self.minflt.saturating_sub(earlier.minflt),
            majflt: self.majflt.saturating_sub(earlier.majflt),
            nvcsw: self.nvcsw.saturating_sub(earlier.nvcsw),
            nivcsw: self.nivcsw.saturating_sub(earlier.nivcsw),
        }
    }
}
