//! `/proc/vmstat` sampled alongside a latency run (`rt latency
//! --with-memory`): the memory manager's events that cost latency, read
//! at a fixed period. Compared with the spikes by `memscope_analysis::rt`.
//!
//! The memory manager is a classic source of latency: a page fault on an
//! RT thread, an allocation that stalls in direct compaction or direct
//! reclaim while holding a lock an RT thread needs, khugepaged collapsing
//! pages, TLB shootdowns from migration. `/proc/vmstat` counts each of these
//! events system-wide (mm/vmstat.c `vmstat_text`).

use memscope_kernel::KernelRoot;
use memscope_kernel::parse::vmstat::Vmstat;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocstall_sums_the_zone_counters() {
        let v = Vmstat::parse("allocstall_normal 3\nallocstall_movable 4\npgfault 9\n");
        assert_eq!(counter_value(&v, "allocstall"), Some(7));
        assert_eq!(counter_value(&v, "pgfault"), Some(9));
        assert_eq!(counter_value(&Vmstat::parse("pgfault 1\n"), "allocstall"), None);
        let old = Vmstat::parse("allocstall 5\n");
        assert_eq!(counter_value(&old, "allocstall"), Some(5));
    }
}
