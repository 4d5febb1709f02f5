//! What `memscope oom` reads: the kernel log's OOM reports and the boot
//! time that turns their stamps into wall-clock times. `memscope capture`
//! reads the same, so a captured tree holds the reports' lines (its
//! `dev/kmsg`) and `/proc/stat`.

use memscope_kernel::parse::oom::OomLog;
use memscope_kernel::{KernelRoot, ReadError};

/// The kernel log's OOM reports, as read.
#[derive(Debug, Clone)]
pub struct OomInput {
    /// Every report in the log (`/dev/kmsg` live, `dev/kmsg` in a tree).
    pub log: Result<OomLog, ReadError>,
    /// Boot time, seconds since the epoch (`/proc/stat` `btime`).
    pub boot_time_seconds: Result<u64, ReadError>,
}

/// Read the OOM reports and the boot time through `root`.
pub fn read(root: &KernelRoot) -> OomInput {
    OomInput { log: root.oom_reports(), boot_time_seconds: root.boot_time_seconds() }
}
