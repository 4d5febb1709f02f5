//! What `memscope oom` reads: the kernel log's OOM reports and the boot
//! time that turns their stamps into wall-clock times. `memscope capture`
//! reads the same, so a captured tree holds the reports' lines (its
//! `dev/kmsg`) and `/proc/stat`.

use memscope_kernel::parse::oom::OomLog;
use memscope_kernel::{KernelRoot, KmsgFollower, ReadError};
use serde::{Deserialize, Serialize};

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

/// The same for a caller that reads again and again (`record`, `leaks
/// --watch`): the log through `follower` (only the records printed since
/// the last call are read, see [`KernelRoot::oom_reports_followed`]); the
/// boot time as given (it does not change while the caller runs).
pub fn read_followed(
    root: &KernelRoot,
    follower: &mut KmsgFollower,
    boot_time_seconds: &Result<u64, ReadError>,
) -> OomInput {
    OomInput { log: root.oom_reports_followed(follower), boot_time_seconds: boot_time_seconds.clone() }
}

/// One OOM kill as `memscope record` keeps it: the kernel's report reduced
/// to who died, where, against which limit, and the one-line answer of
/// `memscope oom`.
///
/// A kill is known by its boot and the kernel log stamp of its `Killed
/// process` line with the victim's pid ([`OomEvent::key`]): the log stamps
/// count from boot, so a recording that reads the same report again (the
/// next snapshot, or a restarted `record` on the same database) keeps it
/// once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OomEvent {
    /// `/proc/sys/kernel/random/boot_id` of the boot that printed it
    /// (`btime:<seconds>` when the boot id is unreadable).
    pub boot_id: String,
    /// The log stamp of the victim's line, microseconds since boot.
    pub since_boot_usec: u64,
    /// When, ms since the epoch: boot time plus the stamp (the stamp's clock
    /// stops during suspend), or the snapshot that first saw it when the
    /// boot time is unreadable.
    pub at_unix_ms: u64,
    /// The killed process.
    pub pid: u32,
    /// Its command name (15 characters at most).
    pub comm: String,
    /// Its uid, where printed (5.0+).
    pub uid: Option<u32>,
    /// The kernel's constraint (`CONSTRAINT_MEMCG`, `CONSTRAINT_NONE`), or
    /// the kind memscope read from an older report (`memcg`, `global`).
    pub constraint: Option<String>,
    /// The memory cgroup whose limit was hit (memcg OOM).
    pub cgroup: Option<String>,
    /// The victim's memory cgroup.
    pub task_cgroup: Option<String>,
    /// The limit that was hit, bytes (memcg OOM).
    pub limit_bytes: Option<u64>,
    /// The victim's resident anonymous memory when killed.
    pub anon_rss_bytes: Option<u64>,
    /// Its resident file pages.
    pub file_rss_bytes: Option<u64>,
    /// Its resident shared memory.
    pub shmem_rss_bytes: Option<u64>,
    /// The answer in plain words (`memscope oom`'s first sentences).
    pub answer: String,
}

impl OomEvent {
    /// What tells one kill from another: (boot, stamp, pid).
    pub fn key(&self) -> (&str, u64, u32) {
        (&self.boot_id, self.since_boot_usec, self.pid)
    }

    /// The victim's resident memory: anon + file + shmem, where all three
    /// are printed.
    pub fn rss_bytes(&self) -> Option<u64> {
        Some(self.anon_rss_bytes? + self.file_rss_bytes? + self.shmem_rss_bytes?)
    }

    /// The cgroup to name: the one whose limit was hit, else the victim's.
    pub fn where_cgroup(&self) -> Option<&str> {
        self.cgroup.as_deref().or(self.task_cgroup.as_deref())
    }
}

/// A memory cgroup's own count of OOM kills (v2 `memory.events`
/// `oom_kill`, v1 `memory.oom_control` `oom_kill`) rose between two
/// snapshots: what a recording knows of kills when it could not read the
/// kernel log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OomCountRise {
    /// The cgroup.
    pub cgroup: String,
    /// Kills counted between the two snapshots.
    pub kills: u64,
    /// The earlier snapshot's time, ms since the epoch.
    pub from_unix_ms: u64,
    /// The later snapshot's time: the kills happened in between.
    pub to_unix_ms: u64,
}

/// What a recording knows of the OOM kills of a time window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OomTimeline {
    /// Kills read from the kernel log, oldest first.
    pub kills: Vec<OomEvent>,
    /// Rises of the cgroups' own OOM kill counts, oldest first (the
    /// fallback; also filled when the log was read).
    pub count_rises: Vec<OomCountRise>,
    /// Why the kernel log was not read for some snapshots of the window
    /// (then only `count_rises` tell of kills in their intervals).
    pub log_unavailable: Option<String>,
    /// Why OOM kills are not known at all for this window (a recording
    /// made before they were kept).
    pub not_recorded: Option<String>,
}
