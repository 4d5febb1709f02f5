//! Kernel allocation tracing: which kernel code allocated the memory that is
//! still held, with eBPF programs on the kmem tracepoints.
//!
//! ```text
//!  preflight::check ── live? privileged? kernel ≥ 5.8? BTF?   (else: Unavailable + remedy)
//!       ▼
//!  trace(root, opts, body) ── load + attach (tracefs mounted only while attaching)
//!       │   body(&Session) runs the window: snapshots, waiting, Ctrl-C
//!       ▼
//!  detach ── read the live-allocation table ── TraceSample (model)
//! ```
//!
//! The main entry is [`trace`]; [`preflight`] says why tracing is not
//! possible and what would make it so; [`tracefs`] mounts tracefs for the
//! moment of attaching. The eBPF part is compiled only with the `bpf`
//! feature (it needs clang): without it, [`trace`] returns
//! [`Unavailable::NotBuilt`] with the command that builds it.

pub mod preflight;
#[cfg(feature = "bpf")]
mod session;
pub mod tracefs;
#[cfg(feature = "bpf")]
pub mod user;

use memscope_kernel::KernelRoot;
#[cfg(not(feature = "bpf"))]
use memscope_model::trace::TraceCounters;
use memscope_model::trace::{TraceSample, What};

pub use preflight::Unavailable;
#[cfg(feature = "bpf")]
pub use session::{PROGRAM_PREFIX, STACK_DEPTH, Session};
#[cfg(feature = "bpf")]
pub use user::{Probe, UserSession};

/// True when this build contains the eBPF tracer.
pub const BUILT_WITH_BPF: bool = cfg!(feature = "bpf");

/// How to trace.
#[derive(Debug, Clone)]
pub struct TraceOptions {
    /// Pages, slab or both.
    pub what: What,
    /// Record one allocation in this many (1: every one).
    pub sample_every: u32,
    /// Entries of the live-allocation table.
    pub max_allocations: u32,
    /// Entries of the stack table.
    pub max_stacks: u32,
    /// Skip movable page allocations (user pages and page cache, which
    /// counters account already): far fewer stacks to walk on a busy host.
    pub kernel_only: bool,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            what: What::All,
            sample_every: 1,
            max_allocations: DEFAULT_MAX_ALLOCATIONS,
            max_stacks: DEFAULT_MAX_STACKS,
            kernel_only: false,
        }
    }
}

/// Default size of the live-allocation table: 256 Ki entries, about 22 MiB
/// of kernel memory (a preallocated hash map: 48-byte element header,
/// 16-byte key, 24-byte value).
pub const DEFAULT_MAX_ALLOCATIONS: u32 = 1 << 18;

/// Default size of the stack table: 16 Ki stacks of up to 64 frames, about
/// 9 MiB.
pub const DEFAULT_MAX_STACKS: u32 = 1 << 14;

/// Kernel memory the tables of `opts` take, estimated from their element
/// sizes (kernel/bpf/hashtab.c: `struct htab_elem` + key + value, each
/// rounded to 8 bytes; one extra element per CPU).
pub fn estimated_map_bytes(opts: &TraceOptions) -> u64 {
    const HTAB_ELEM: u64 = 48;
    let allocs = opts.max_allocations as u64 * (HTAB_ELEM + 16 + 24);
    let stacks = opts.max_stacks as u64 * (HTAB_ELEM + 8 + 8 + 64 * 8);
    allocs + stacks
}

/// Why a trace failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// Tracing is not possible here; [`Unavailable::remedy`] says what would
    /// make it possible.
    #[error("{0}")]
    Unavailable(Unavailable),
    /// libbpf could not open, configure or load the programs (the verifier
    /// refused them, or the kernel refused the maps).
    #[error("cannot load the BPF tracer ({step}): {message}")]
    Load {
        /// `open`, `configure` or `load`.
        step: &'static str,
        /// libbpf's error.
        message: String,
        /// What kind of error (permission, memory, …), for the remedy.
        kind: LoadErrorKind,
        /// libbpf's log lines (the verifier log on a refusal).
        log: Vec<String>,
    },
    /// A program could not be attached to its tracepoint.
    #[error("cannot attach {program} to {tracepoint}: {message}")]
    Attach {
        /// Program name.
        program: String,
        /// `kmem:kmalloc`.
        tracepoint: String,
        /// libbpf's error.
        message: String,
        /// libbpf's log lines.
        log: Vec<String>,
    },
    /// A map could not be read back at the end of the window.
    #[error("cannot read the tracer's {map} map: {message}")]
    Read {
        /// Map name.
        map: String,
        /// The system's message.
        message: String,
    },
}

/// The kind of a load failure, for the remedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// EPERM/EACCES: privileges, lockdown or a security module.
    PermissionDenied,
    /// ENOMEM/E2BIG: the maps are too large for the kernel now.
    OutOfMemory,
    /// Anything else (a verifier refusal: see the log).
    Other,
}

impl TraceError {
    /// What would help, when something would.
    pub fn remedy(&self) -> Option<String> {
        match self {
            TraceError::Unavailable(u) => Some(u.remedy()),
            TraceError::Load { kind: LoadErrorKind::PermissionDenied, .. } => Some(
                "The kernel refused: check kernel lockdown (/sys/kernel/security/lockdown), a security \
                 module (SELinux, AppArmor), and that memscope runs as root or with CAP_BPF and CAP_PERFMON."
                    .into(),
            ),
            TraceError::Load { kind: LoadErrorKind::OutOfMemory, .. } => Some(
                "The kernel could not allocate the tracer's tables: lower --max-allocs or --max-stacks."
                    .into(),
            ),
            TraceError::Load { .. } | TraceError::Attach { .. } => {
                Some("libbpf's messages above say what the kernel refused.".into())
            }
            TraceError::Read { .. } => None,
        }
    }

    /// libbpf's log lines, if any.
    pub fn log(&self) -> &[String] {
        match self {
            TraceError::Load { log, .. } | TraceError::Attach { log, .. } => log,
            _ => &[],
        }
    }
}

/// Trace kernel allocations while `body` runs, and return its result with
/// what was allocated during the window and is still held at its end.
///
/// The programs are attached before `body` is called and detached as soon
/// as it returns, or fails (its error is returned as is), and unloaded
/// before this function returns. Without the `bpf` feature this returns
/// [`Unavailable::NotBuilt`] (or [`Unavailable::NotLive`] for a captured
/// tree).
pub fn trace<T, E: From<TraceError>>(
    root: &KernelRoot,
    opts: &TraceOptions,
    body: impl FnOnce(&Session) -> Result<T, E>,
) -> Result<(T, TraceSample), E> {
    #[cfg(feature = "bpf")]
    {
        session::run(root, opts, body)
    }
    #[cfg(not(feature = "bpf"))]
    {
        let _ = (opts, body);
        let why = if root.is_live() { Unavailable::NotBuilt } else { Unavailable::NotLive };
        Err(TraceError::Unavailable(why).into())
    }
}

/// How to trace the allocations of processes (`memscope trace --pid`).
#[derive(Debug, Clone)]
pub struct UserTraceOptions {
    /// Record one allocation in this many (1: every one).
    pub sample_every: u32,
    /// Skip allocations smaller than this many bytes.
    pub min_size_bytes: u64,
    /// Entries of the live-allocation table.
    pub max_allocations: u32,
    /// Entries of the stack table.
    pub max_stacks: u32,
}

impl Default for UserTraceOptions {
    fn default() -> Self {
        UserTraceOptions {
            sample_every: 1,
            min_size_bytes: 0,
            max_allocations: DEFAULT_MAX_ALLOCATIONS,
            max_stacks: DEFAULT_MAX_STACKS,
        }
    }
}

/// Trace the heap and mmap allocations of processes `pids` while `body`
/// runs, and return its result with what they allocated during the window
/// and still hold at its end, every frame symbolised. The allocator of
/// each process is found first (an error names the process that has
/// none); the probes are attached before `body` is called and detached as
/// soon as it returns. Without the `bpf` feature this returns
/// [`Unavailable::NotBuilt`].
#[cfg(feature = "bpf")]
pub fn trace_user<T, E: From<TraceError>>(
    root: &KernelRoot,
    opts: &UserTraceOptions,
    pids: &[u32],
    body: impl FnOnce(&UserSession) -> Result<T, E>,
) -> Result<(T, memscope_model::utrace::UserTraceSample), E> {
    preflight::check(root).map_err(TraceError::Unavailable)?;
    let mut probes = Vec::new();
    for &pid in pids {
        probes.push(user::find_allocator(root, pid).map_err(TraceError::Unavailable)?);
    }
    user::run(root, opts, &probes, body)
}

/// See the `bpf` build's `trace_user`: without it, the reason.
#[cfg(not(feature = "bpf"))]
pub fn trace_user<T, E: From<TraceError>>(
    root: &KernelRoot,
    opts: &UserTraceOptions,
    pids: &[u32],
    body: impl FnOnce(&UserSession) -> Result<T, E>,
) -> Result<(T, memscope_model::utrace::UserTraceSample), E> {
    let _ = (opts, pids, body);
    let why = if root.is_live() { Unavailable::NotBuilt } else { Unavailable::NotLive };
    Err(TraceError::Unavailable(why).into())
}

/// Without the `bpf` feature there is no user session; this type stands
/// in so that callers compile either way.
#[cfg(not(feature = "bpf"))]
pub struct UserSession<'a> {
    _never: std::marker::PhantomData<&'a ()>,
}

#[cfg(not(feature = "bpf"))]
impl UserSession<'_> {
    /// Ids of the attached programs.
    pub fn program_ids(&self) -> Vec<u32> {
        Vec::new()
    }
}

/// Without the `bpf` feature there is no session; this type stands in so
/// that callers compile either way.
#[cfg(not(feature = "bpf"))]
pub struct Session<'a> {
    _never: std::marker::PhantomData<&'a ()>,
}

#[cfg(not(feature = "bpf"))]
impl Session<'_> {
    /// Ids of the attached programs.
    pub fn program_ids(&self) -> Vec<u32> {
        Vec::new()
    }

    /// The event counters so far.
    pub fn counters(&self) -> Result<TraceCounters, TraceError> {
        Ok(TraceCounters::default())
    }

    /// True when memscope mounted tracefs to attach.
    pub fn mounted_tracefs(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tables_cost_about_30_mib() {
        let b = estimated_map_bytes(&TraceOptions::default());
        assert!((25 << 20..35 << 20).contains(&b), "{b}");
    }
}
