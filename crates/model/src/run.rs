//! What `memscope run` planned and what it measured, as plain data: the
//! [`Plan`] of a transient cgroup ([`Limits`], one [`Placement`] per
//! hierarchy), and the [`RunReport`] the summary prints. Creating the
//! cgroup and running the command are `memscope_control`'s; this is what
//! the outputs need, without the side effects.

use memscope_kernel::cgroup::{Hierarchy, Version};
use memscope_kernel::parse::cgroupfs::Limit;
use serde::Serialize;

use crate::cgroups::tree::Figure;

/// Limits for a transient cgroup. `None` leaves the kernel's default
/// (unlimited, or inherited from the parent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Hard memory limit (v2 `memory.max`, v1 `memory.limit_in_bytes`).
    pub memory_bytes: Option<u64>,
    /// Swap limit (v2 `memory.swap.max`; v1 `memory.memsw.limit_in_bytes`
    /// = memory + swap).
    pub swap_bytes: Option<u64>,
    /// CPUs (`cpuset.cpus`).
    pub cpus: Option<Vec<u32>>,
    /// Memory nodes (`cpuset.mems`).
    pub mems: Option<Vec<u32>>,
    /// Task limit (`pids.max`).
    pub pids: Option<u64>,
}

/// One directory of the transient cgroup.
#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    /// The hierarchy.
    pub hierarchy: Hierarchy,
    /// Controllers used there (`memory`, `pids`, `cpuset`).
    pub controllers: Vec<&'static str>,
    /// `<mount>/memscope`.
    pub parent_dir: String,
    /// `<mount>/memscope/<name>`.
    pub dir: String,
}

/// What will be created, decided without side effects.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The cgroup's name under the parent.
    pub name: String,
    /// The cgroup path (`/memscope/<name>`, below the visible root).
    pub path: String,
    /// One directory per hierarchy.
    pub placements: Vec<Placement>,
    /// The limits, validated.
    pub limits: Limits,
}

impl Plan {
    /// The placement holding `controller`.
    pub fn placement(&self, controller: &str) -> Option<&Placement> {
        self.placements.iter().find(|p| p.controllers.contains(&controller))
    }

    /// The version of the memory controller's placement (else the first).
    pub fn version(&self) -> Option<Version> {
        self.placement("memory").or(self.placements.first()).map(|p| p.hierarchy.version)
    }
}

/// A stale cgroup found at creation: a directory under a memscope parent
/// whose memscope is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stale {
    /// Kernel path of the directory.
    pub dir: String,
    /// Processes still in it (then it was left in place), empty when removed.
    pub procs: Vec<u32>,
    /// Removed.
    pub removed: bool,
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl Exit {
    /// The exit status a shell would show: the code, or 128 + the signal.
    pub fn shell_status(self) -> u8 {
        match self {
            Exit::Code(c) => (c & 0xff) as u8,
            Exit::Signal(s) => (128 + s).clamp(0, 255) as u8,
        }
    }
}

/// The name of a signal (`SIGKILL`), or `signal N`.
pub fn signal_name(sig: i32) -> String {
    const NAMES: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match usize::try_from(sig).ok().and_then(|i| NAMES.get(i)) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => format!("signal {sig}"),
    }
}

/// What happened, for the summary.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The command line.
    pub command: Vec<String>,
    /// The plan that was carried out (name, path, directories, limits).
    pub plan: Plan,
    /// The memory limit as the kernel held it (rounded down to a page).
    pub memory_limit: Option<Limit>,
    /// Process id of the command.
    pub pid: u32,
    /// How it ended.
    pub exit: Exit,
    /// From start to the command's exit.
    pub wall_usec: u64,
    /// User CPU time of the command and every descendant reaped.
    pub user_usec: u64,
    /// System CPU time, likewise.
    pub system_usec: u64,
    /// Highest memory charged to the cgroup (v2 `memory.peak`, v1
    /// `memory.max_usage_in_bytes`), page cache and kernel memory included.
    pub peak_memory_bytes: Figure<u64>,
    /// Processes the OOM killer killed in the cgroup.
    pub oom_kills: Figure<u64>,
    /// Times the limit was hit with an allocation about to fail (v2 only).
    pub oom_events: Figure<u64>,
    /// Processes the command left in the cgroup, killed after it exited.
    pub leftover_killed: usize,
    /// Signals memscope received and passed on to the command.
    pub forwarded_signals: Vec<i32>,
    /// Stale cgroups of earlier runs found before this one.
    pub stale: Vec<Stale>,
    /// Why the cgroup could not be removed, if it could not.
    pub cleanup_error: Option<String>,
}
