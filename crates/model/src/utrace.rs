//! The raw result of one user-space allocation trace (`memscope trace
//! --pid`): what the uprobes on a process's allocator recorded, read at the
//! end of the window, with each stack frame already symbolised (names need
//! the target's ELF files, which only exist on the live system, so they are
//! resolved when the trace ends and stored with the sample).
//!
//! ```text
//!  malloc/calloc/realloc/… uretprobe ──▶ live allocations (key: pointer)
//!  mmap uretprobe                        { bytes, stack } ── dropped by free/munmap
//!  end of window ──▶ UserTraceSample { targets[], stacks[] (frames symbolised), counters }
//! ```

use serde::{Deserialize, Serialize};

use crate::trace::{ProgramStats, StackState};

/// What a user allocation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserAllocKind {
    /// The heap allocator (`malloc`, `calloc`, `realloc`, `posix_memalign`, …):
    /// the requested bytes.
    Heap,
    /// A direct `mmap` call (not one the allocator made itself): the
    /// requested length.
    Mmap,
}

impl UserAllocKind {
    /// Lower-case name for output.
    pub fn name(self) -> &'static str {
        match self {
            UserAllocKind::Heap => "heap",
            UserAllocKind::Mmap => "mmap",
        }
    }
}

/// Which allocator implementation a process uses, found from its maps and
/// the symbols of its executable and libraries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Allocator {
    /// GNU libc's malloc (`libc.so.6`).
    Glibc,
    /// musl's malloc (`libc.musl-*.so.1`, `ld-musl-*.so.1`).
    Musl,
    /// jemalloc (`libjemalloc.so`, or linked into the executable).
    Jemalloc,
    /// tcmalloc (`libtcmalloc*.so`, or linked into the executable).
    Tcmalloc,
    /// An allocator linked into the executable that is none of the above
    /// (a static C library).
    Static,
    /// A C library not recognised by name that exports `malloc`.
    Other,
}

impl Allocator {
    /// Name for output.
    pub fn name(self) -> &'static str {
        match self {
            Allocator::Glibc => "glibc",
            Allocator::Musl => "musl",
            Allocator::Jemalloc => "jemalloc",
            Allocator::Tcmalloc => "tcmalloc",
            Allocator::Static => "static",
            Allocator::Other => "other",
        }
    }
}

/// One traced process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTarget {
    /// Process id.
    pub pid: u32,
    /// Command name at the start of the window.
    pub comm: String,
    /// The allocator that was probed.
    pub allocator: Allocator,
    /// The file that was probed, as the process sees it
    /// (`/usr/lib/x86_64-linux-gnu/libc.so.6`).
    pub library: String,
    /// The probed functions (`malloc`, `free`, …).
    pub functions: Vec<String>,
    /// Functions of the list the library does not export.
    pub missing: Vec<String>,
    /// The `mmap`/`munmap` library, when not the allocator's
    /// (jemalloc's process still maps through the C library).
    pub mmap_library: Option<String>,
    /// The process ended during the window.
    pub exited: bool,
    /// The breakpoint on `malloc` was still in place at the end of the
    /// window (`None`: could not be told).
    #[serde(default)]
    pub breakpoint_armed: Option<bool>,
}

/// A function inlined at a frame (innermost first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlinedFrame {
    /// Function name.
    pub function: String,
    /// Source file, when the debuginfo has it.
    pub file: Option<String>,
    /// Line.
    pub line: Option<u32>,
}

/// One symbolised user stack frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFrame {
    /// The return address as recorded.
    pub addr: u64,
    /// The file mapped there, as the process sees it; `None` when the
    /// address is in no file mapping (JIT code, a garbage frame).
    pub module: Option<String>,
    /// The function (demangled), when a symbol covers the address.
    pub function: Option<String>,
    /// Source file of the call, when the debuginfo has it.
    pub file: Option<String>,
    /// Source line of the call.
    pub line: Option<u32>,
    /// Functions inlined at this call, innermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inlined: Vec<InlinedFrame>,
    /// Whether the function keeps a frame pointer (its prologue saves and
    /// sets the frame register); `None` when it could not be told.
    pub frame_pointer: Option<bool>,
}

/// Allocations made during the window and still held at its end, for one
/// stack, kind and process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserStack {
    /// Heap or mmap.
    pub kind: UserAllocKind,
    /// The process.
    pub pid: u32,
    /// Frames, innermost first: the first is the return address into the
    /// function that called the allocator.
    pub frames: Vec<UserFrame>,
    /// Frames after the first function that keeps no frame pointer were
    /// dropped: the kernel's frame-pointer walk cannot go past it, and
    /// what it found beyond is not a caller.
    pub truncated_at_frame: Option<usize>,
    /// Whether the frames are there.
    pub stack: StackState,
    /// Bytes still allocated (of the sampled allocations).
    pub bytes: u64,
    /// Allocations still live.
    pub allocations: u64,
}

/// Event counts kept by the user tracer (summed over CPUs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTraceCounters {
    /// Calls of malloc, calloc, realloc and the aligned variants.
    pub alloc_calls: u64,
    /// Calls of free.
    pub free_calls: u64,
    /// Calls of mmap (including the allocator's own).
    pub mmap_calls: u64,
    /// Calls of munmap.
    pub munmap_calls: u64,
    /// Allocations that returned NULL (or `MAP_FAILED`).
    pub failed_allocs: u64,
    /// Allocations recorded.
    pub tracked: u64,
    /// Frees and munmaps that matched a recorded allocation.
    pub frees_matched: u64,
    /// Allocations not recorded because of sampling.
    pub sampled_out: u64,
    /// Allocations under the size threshold.
    pub too_small: u64,
    /// Allocations lost because the live table was full.
    pub dropped_table_full: u64,
    /// Their bytes.
    pub dropped_table_full_bytes: u64,
    /// Allocations lost for another reason.
    pub dropped_other: u64,
    /// Stacks the kernel could not walk.
    pub stack_unwalkable: u64,
    /// Stacks lost because the stack table was full.
    pub stack_table_full: u64,
    /// mmap calls made by the allocator itself (accounted to its call).
    pub nested_mmaps: u64,
    /// Returns without a recorded entry (calls that began before the window).
    pub returns_unmatched: u64,
}

/// Everything one user trace window produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTraceSample {
    /// Start of the window, milliseconds since the Unix epoch.
    pub started_at_unix_ms: u64,
    /// Length of the window, microseconds.
    pub window_usec: u64,
    /// One allocation in this many was recorded.
    pub sample_every: u32,
    /// Allocations smaller than this were not recorded (bytes).
    pub min_size_bytes: u64,
    /// Size of the live-allocation table (entries).
    pub max_allocations: u32,
    /// Size of the stack table (entries).
    pub max_stacks: u32,
    /// Frames kept per stack.
    pub stack_depth: u32,
    /// The traced processes.
    pub targets: Vec<UserTarget>,
    /// Outstanding allocations per stack, largest first.
    pub stacks: Vec<UserStack>,
    /// Event counters.
    pub counters: UserTraceCounters,
    /// The programs and their run statistics.
    pub programs: Vec<ProgramStats>,
    /// True when `run_time_ns` was measured.
    pub run_time_measured: bool,
}
