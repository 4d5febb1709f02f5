//! The raw result of one kernel allocation trace (`memscope trace`): what
//! the tracer read from its maps at the end of a window. Stack frames are
//! kept as addresses; names come later, from `/proc/kallsyms`, in the
//! analysis.
//!
//! ```text
//!  tracepoints ──▶ live allocations (key: pfn or object address)
//!                  { bytes, stack } ── dropped when freed
//!  end of window ──▶ TraceSample { outstanding[] per (stack, kind), counters, programs }
//! ```

use serde::{Deserialize, Serialize};

/// What a recorded allocation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocKind {
    /// The page allocator (`kmem:mm_page_alloc`): `PAGE_SIZE << order` bytes.
    Page,
    /// A slab object (`kmem:kmalloc`, `kmem:kmem_cache_alloc`): the bytes
    /// the allocator handed out (`bytes_alloc`, the object size, not the
    /// request).
    Slab,
}

impl AllocKind {
    /// Name used in output.
    pub fn name(self) -> &'static str {
        match self {
            AllocKind::Page => "page",
            AllocKind::Slab => "slab",
        }
    }
}

/// Which allocators to trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum What {
    /// The page allocator only.
    Pages,
    /// Slab objects only.
    Slab,
    /// Both (pages that back slabs are then counted through their objects).
    #[default]
    All,
}

impl What {
    /// True when allocations of `kind` are traced.
    pub fn includes(self, kind: AllocKind) -> bool {
        matches!(
            (self, kind),
            (What::All, _) | (What::Pages, AllocKind::Page) | (What::Slab, AllocKind::Slab)
        )
    }

    /// Name used in output.
    pub fn name(self) -> &'static str {
        match self {
            What::Pages => "pages",
            What::Slab => "slab",
            What::All => "all",
        }
    }
}

/// Why a stack is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StackState {
    /// The frames were recorded.
    Recorded,
    /// The kernel could not walk the stack (`bpf_get_stack` failed).
    Unwalkable,
    /// The stack table was full when this stack was first seen.
    TableFull,
}

/// Allocations made during the window and still held at its end, for one
/// stack, kind and process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutstandingStack {
    /// Page or slab.
    pub kind: AllocKind,
    /// Kernel return addresses, innermost first (the allocator), outermost
    /// last (the system call or interrupt entry). Empty unless `stack` is
    /// [`StackState::Recorded`].
    pub frames: Vec<u64>,
    /// Whether the frames are there.
    pub stack: StackState,
    /// The process (tgid) that was running when the memory was allocated:
    /// the one whose system call or fault allocated it, or, for an
    /// allocation in an interrupt, whichever process was interrupted (0:
    /// the idle task).
    pub pid: u32,
    /// Bytes still allocated (of the sampled allocations: multiply by
    /// [`TraceSample::sample_every`] for an estimate of the whole).
    pub bytes: u64,
    /// Allocations still live.
    pub allocations: u64,
}

/// Event counts kept by the tracer (summed over CPUs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceCounters {
    /// `mm_page_alloc` events that returned a page.
    pub page_alloc_events: u64,
    /// `mm_page_free` and `mm_page_free_batched` events.
    pub page_free_events: u64,
    /// `kmalloc` and `kmem_cache_alloc` events that returned an object.
    pub slab_alloc_events: u64,
    /// `kfree` and `kmem_cache_free` events (of non-NULL objects).
    pub slab_free_events: u64,
    /// Allocation events that failed (no page, NULL object): nothing to track.
    pub failed_alloc_events: u64,
    /// Allocations recorded in the live-allocation table.
    pub tracked: u64,
    /// Frees that found their allocation in the table (allocated during the
    /// window); the other frees are of memory allocated before it.
    pub frees_matched: u64,
    /// Allocations skipped by sampling (`--sample N`).
    pub sampled_out: u64,
    /// Allocations not recorded because the live-allocation table was full.
    pub dropped_table_full: u64,
    /// Bytes of those allocations.
    pub dropped_table_full_bytes: u64,
    /// Allocations not recorded because their table bucket was busy (an
    /// update from an NMI or a nested context on the same CPU).
    pub dropped_busy: u64,
    /// Frees of recorded allocations that could not be applied (busy
    /// bucket): those allocations stay counted as outstanding.
    pub frees_failed: u64,
    /// Allocations recorded without a stack: the stack could not be walked.
    pub stack_unwalkable: u64,
    /// Allocations recorded without a stack: the stack table was full.
    pub stack_table_full: u64,
    /// Movable page allocations (user pages, page cache) not recorded
    /// because only kernel allocations were traced.
    pub skipped_movable: u64,
}

/// One BPF program of the tracer, with the kernel's run statistics
/// (`bpf_prog_info.run_cnt`/`run_time_ns`, counted while BPF statistics
/// are on; `recursion_misses`: events skipped because a BPF program was
/// already running on that CPU).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramStats {
    /// Program name (`memscope_pg_al`).
    pub name: String,
    /// The tracepoint it is attached to (`kmem:mm_page_alloc`).
    pub tracepoint: String,
    /// Kernel program id (as `bpftool prog list` shows).
    pub id: u32,
    /// Times it ran.
    pub run_count: u64,
    /// Total time it ran, in nanoseconds.
    pub run_time_ns: u64,
    /// Events it missed.
    pub recursion_misses: u64,
}

/// Everything one trace window produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceSample {
    /// Which allocators were traced.
    pub what: What,
    /// Start of the window, milliseconds since the Unix epoch.
    pub started_at_unix_ms: u64,
    /// Length of the window, microseconds.
    pub window_usec: u64,
    /// One allocation in this many was recorded (1: all).
    pub sample_every: u32,
    /// Size of the live-allocation table (entries).
    pub max_allocations: u32,
    /// Size of the stack table (entries).
    pub max_stacks: u32,
    /// Frames kept per stack.
    pub stack_depth: u32,
    /// Memory the tracer's maps hold (their `memlock` in
    /// `/proc/self/fdinfo`), when readable.
    pub map_memory_bytes: Option<u64>,
    /// Outstanding allocations per stack and kind, largest first.
    pub outstanding: Vec<OutstandingStack>,
    /// Event counters.
    pub counters: TraceCounters,
    /// The programs and their run statistics.
    pub programs: Vec<ProgramStats>,
    /// Movable page allocations (`__GFP_MOVABLE`: user pages, page cache)
    /// were skipped.
    pub kernel_only: bool,
    /// True when `run_time_ns` was measured (BPF statistics were on).
    pub run_time_measured: bool,
    /// memscope mounted tracefs to attach (and unmounted it afterwards).
    pub mounted_tracefs: bool,
}

impl TraceSample {
    /// Events the programs handled, and the time they took (ns).
    pub fn run_totals(&self) -> (u64, u64) {
        self.programs.iter().fold((0, 0), |(c, t), p| (c + p.run_count, t + p.run_time_ns))
    }

    /// Events missed because a BPF program was already running on the CPU.
    pub fn recursion_misses(&self) -> u64 {
        self.programs.iter().map(|p| p.recursion_misses).sum()
    }
}
