//! Real time: what `rt check` reads about the host and a process, and what
//! `rt latency` measures and samples, as data.
//!
//! ```text
//!  rt_facts(root, pid, window) ─▶ RtFacts { hostname, host: HostFacts,
//!                                          process: Option<ProcessFacts> }
//!  vmstat::Sampler (rt latency --with-memory) ─▶ Vec<vmstat::Sample>
//!  latency::LatencyRun: what the probe (memscope_control) measured
//! ```
//!
//! The judgements, statistics and reports are `memscope_analysis::rt`;
//! `capture` records what [`rt_facts`] reads, so that `rt check` runs on
//! the captured tree.

pub mod host;
pub mod latency;
pub mod process;
pub mod vmstat;

use std::time::Duration;

use memscope_kernel::{KernelRoot, paths};

pub use host::HostFacts;
pub use process::{ProcessFacts, ThreadFacts, is_realtime_policy, policy_name};

/// Everything `rt check` reads.
#[derive(Debug, Clone)]
pub struct RtFacts {
    /// Host name (`/proc/sys/kernel/hostname`), when readable.
    pub hostname: Option<String>,
    /// The host.
    pub host: HostFacts,
    /// The process, with `--pid`.
    pub process: Option<ProcessFacts>,
}

/// Read the host, and a process when `pid` is given (its fault counters a
/// second time after `window` on a live system).
pub fn rt_facts(root: &KernelRoot, pid: Option<u32>, window: Option<Duration>) -> RtFacts {
    let host = HostFacts::read(root);
    let process = pid.map(|pid| ProcessFacts::read(root, pid, window));
    let hostname = root.read_text(paths::HOSTNAME).ok().map(|h| h.trim().to_string());
    RtFacts { hostname, host, process }
}
