//! Real time: is a host (and a process) set up for it, and how late do
//! real-time threads wake up on it?
//!
//! ```text
//!  rt check ─ HostFacts::read(root) ─▶ check::host_items ──┐
//!            ProcessFacts::read(root, pid) ─▶ process_items ┴▶ CheckReport
//!
//!  rt latency ─ latency::run (one SCHED_FIFO thread per CPU)
//!               + memory::Sampler (/proc/vmstat, --with-memory)
//!               ─▶ LatencyRun ─▶ report::LatencyReport (stats)
//!
//!  (tables and JSON: memscope_export::rt)
//! ```
//!
//! - [`check`]: the host checks and their one table, [`check::CHECKS`];
//! - [`process`]: the checks of one process and its threads;
//! - [`latency`]: the cyclictest-grade probe;
//! - [`stats`]: percentiles, histogram and spikes (pure);
//! - [`memory`]: vmstat sampling and its correlation with spikes;
//! - [`report`]: the latency run turned into figures;
//! - [`sched`]: policies and the system calls that set them.

pub mod check;
pub mod latency;
pub mod memory;
pub mod process;
pub mod report;
pub mod sched;
pub mod stats;

use std::time::Duration;

use memscope_kernel::{KernelRoot, paths};
use serde::Serialize;

use check::{HostFacts, Item, Verdict};
use process::{ProcessFacts, ThreadRow};

/// The result of `rt check`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Host name (`/proc/sys/kernel/hostname`), when readable.
    pub hostname: Option<String>,
    /// The host items.
    pub host: Vec<Item>,
    /// The process, with `--pid`.
    pub process: Option<ProcessReport>,
}

/// The process part of `rt check --pid`.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessReport {
    /// Process id.
    pub pid: u32,
    /// Items.
    pub items: Vec<Item>,
    /// Its threads.
    pub threads: Vec<ThreadRow>,
}

impl CheckReport {
    /// Every item, host then process.
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.host.iter().chain(self.process.iter().flat_map(|p| p.items.iter()))
    }

    /// How many items have each verdict.
    pub fn count(&self, v: Verdict) -> usize {
        self.items().filter(|i| i.verdict == v).count()
    }
}

/// Run the checks: the host, and a process when `pid` is given (its fault
/// growth over `window` on a live system).
pub fn run_check(root: &KernelRoot, pid: Option<u32>, window: Option<Duration>) -> CheckReport {
    let facts = HostFacts::read(root);
    let host = check::host_items(&facts);
    let process = pid.map(|pid| {
        let pf = ProcessFacts::read(root, pid, window);
        ProcessReport {
            pid,
            items: process::process_items(&pf, &facts.isolated_cpus()),
            threads: process::thread_rows(&pf),
        }
    });
    let hostname = root.read_text(paths::HOSTNAME).ok().map(|h| h.trim().to_string());
    CheckReport { hostname, host, process }
}
