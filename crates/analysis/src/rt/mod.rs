//! Real time: is a host (and a process) set up for it, and what does a
//! latency run say? Pure functions of what `memscope_model::rt` read and
//! measured.
//!
//! ```text
//!  RtFacts ─▶ check ─▶ CheckReport
//!              ├─ judgements::host_items (HostFacts; facts::HostView)
//!              └─ process::process_items, thread_rows (ProcessFacts)
//!  LatencyRun + vmstat samples ─▶ report::build ─▶ LatencyReport
//!                                  (stats, memory correlation)
//!
//!  (tables and JSON: memscope_export::rt)
//! ```
//!
//! - [`table`]: the one table of checks, [`table::CHECKS`], and [`table::Item`];
//! - [`facts`]: views of the host's facts the judgements share;
//! - [`judgements`]: the host checks;
//! - [`process`]: the checks of one process and its threads;
//! - [`stats`]: percentiles, histogram and spikes;
//! - [`memory`]: vmstat windows and their correlation with spikes;
//! - [`report`]: a latency run turned into figures.

pub mod facts;
pub mod judgements;
pub mod memory;
pub mod process;
pub mod report;
pub mod stats;
pub mod table;

use memscope_model::rt::RtFacts;
use serde::Serialize;

use facts::HostView;
use process::ThreadRow;
use table::{Item, Verdict};

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

/// Judge the host, and the process when its facts were read.
pub fn check(facts: &RtFacts) -> CheckReport {
    let host = judgements::host_items(&facts.host);
    let process = facts.process.as_ref().map(|pf| ProcessReport {
        pid: pf.pid,
        items: process::process_items(pf, &facts.host.isolated_cpus()),
        threads: process::thread_rows(pf),
    });
    CheckReport { hostname: facts.hostname.clone(), host, process }
}
