//! Command-line arguments (clap derive). Command and flag names are stable:
//! tests and users depend on them.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  memscope                                  the ledger and the top processes (run as root)
  memscope report --explain                 what each ledger line means
  memscope report --json | jq .unaccounted_bytes
  memscope report --budget-ms 200           cap the time spent walking page tables for PSS
  memscope capture --out host1.tree         keep the evidence; later, anywhere:
  memscope --root host1.tree report
  memscope cgroups --flat                   cgroups by memory, next to their processes' PSS
  memscope run --memory 512M -- make -j4    run under a limit; peak memory and OOM kills on stderr
  memscope trace --duration 60s             which kernel code allocated what is still held (eBPF)

Exit status: 0 success (unavailable figures are reported, not errors), 1 error, 2 bad usage.";

/// Where did my memory go? A signed ledger of every byte of RAM, with evidence.
///
/// memscope reads /proc and /sys (or a tree captured with `memscope capture`)
/// and accounts for installed RAM line by line: what the firmware and kernel
/// reserved at boot, free memory, processes, page cache, slab, vmalloc, page
/// tables, huge pages … and the signed remainder no counter explains,
/// `unaccounted`, where kernel leaks show up.
///
/// Run as root for the full picture; as another user, figures that need
/// privileges are marked unavailable with what would unlock them.
#[derive(Debug, Parser)]
#[command(name = "memscope", version, about, long_about, propagate_version = true, after_long_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options of every command.
#[derive(Debug, Clone, ClapArgs)]
pub struct Global {
    /// Read a captured tree (from `memscope capture`) instead of the running system.
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Print JSON (documented in docs/json.md) instead of a table.
    #[arg(long, global = true, conflicts_with = "csv")]
    pub json: bool,

    /// Print CSV instead of a table.
    #[arg(long, global = true)]
    pub csv: bool,

    /// Never colour the output (also: the NO_COLOR environment variable).
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The memory ledger: every byte of installed RAM, and the top processes (default).
    Report(ReportArgs),
    /// Copy exactly the files memscope reads into DIR, for offline analysis with --root.
    Capture(CaptureArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to standard output: `memscope man | man -l -`.
    Man,
    /// The cgroup tree: memory, swap, OOM kills, cpus and pids per cgroup, next to its processes' PSS.
    Cgroups(CgroupsArgs),
    /// Run a command in a transient cgroup under limits; print what it used to stderr.
    Run(RunArgs),
    /// Which kernel code holds memory: outstanding kernel allocations by call site (eBPF), beside the ledger.
    Trace(TraceArgs),
}

/// `memscope report`
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct ReportArgs {
    /// Show this many processes, largest PSS first.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// Show this many of the largest slab caches and vmalloc callers under their lines.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub detail: usize,

    /// Show lines that are 0 bytes too.
    #[arg(long)]
    pub all: bool,

    /// Stop reading smaps_rollup (PSS) after this many milliseconds; the
    /// remaining processes keep their cheap /proc/PID/status figures, marked.
    #[arg(long, value_name = "MS")]
    pub budget_ms: Option<u64>,

    /// Do not read smaps_rollup of processes with a larger RSS (it walks their
    /// page tables under their mmap lock). Sizes like 512M, 20G.
    #[arg(long, value_name = "SIZE", value_parser = crate::output::parse_size)]
    pub max_rss: Option<u64>,

    /// Explain every ledger category and exit.
    #[arg(long)]
    pub explain: bool,
}

/// `memscope capture`
#[derive(Debug, Clone, ClapArgs)]
pub struct CaptureArgs {
    /// Directory to write the tree into (created; must be empty if it exists).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `memscope cgroups`
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct CgroupsArgs {
    /// One row per cgroup with its full path, largest memory first, instead of the tree.
    #[arg(long)]
    pub flat: bool,

    /// Show cgroups down to this depth below the top (0: the top only).
    #[arg(long, value_name = "N")]
    pub depth: Option<usize>,

    /// Show cgroups without processes or memory too.
    #[arg(long)]
    pub all: bool,

    /// Do not read the processes' PSS (smaps_rollup): faster, no PSS column.
    #[arg(long)]
    pub no_pss: bool,

    /// Explain the memory.stat split and exit.
    #[arg(long)]
    pub explain: bool,
}

/// A cpu or node list such as `0-3,8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberList(pub Vec<u32>);

/// Parse a cpu or node list (`0`, `0-3`, `0,2,4-7`).
pub fn parse_number_list(s: &str) -> Result<NumberList, String> {
    match memscope_kernel::parse::sysfs::parse_list(s) {
        Some(l) if !l.is_empty() => Ok(NumberList(l)),
        _ => Err(format!("`{s}` is not a list of numbers (examples: 0, 0-3, 0,2,4-7)")),
    }
}

/// How `memscope run` prints its summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SummaryFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON document (schema memscope.run/1).
    Json,
    /// No summary.
    None,
}

/// `memscope run`
#[derive(Debug, Clone, ClapArgs)]
#[command(
    after_help = "memscope exits with the command's status (128 + the signal when a signal killed it; \
                        127 when the command was not found). The cgroup is removed on every path."
)]
pub struct RunArgs {
    /// Hard memory limit (memory.max, v1 memory.limit_in_bytes): 64M, 2G.
    #[arg(long, value_name = "SIZE", value_parser = crate::output::parse_size)]
    pub memory: Option<u64>,

    /// Swap limit (memory.swap.max; on cgroup v1 memory+swap is limited to --memory + --swap).
    #[arg(long, value_name = "SIZE", value_parser = crate::output::parse_size)]
    pub swap: Option<u64>,

    /// CPUs the command may run on (cpuset.cpus): 0, 0-3, 0,2.
    #[arg(long, value_name = "LIST", value_parser = parse_number_list)]
    pub cpus: Option<NumberList>,

    /// Memory nodes the command may allocate from (cpuset.mems).
    #[arg(long, value_name = "LIST", value_parser = parse_number_list)]
    pub mems: Option<NumberList>,

    /// Most tasks (processes and threads) at once (pids.max).
    #[arg(long, value_name = "N")]
    pub pids: Option<u64>,

    /// Name of the cgroup under the memscope parent (default: run-<memscope's pid>).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Summary format, printed to stderr when the command has finished.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text, value_name = "FORMAT")]
    pub summary: SummaryFormat,

    /// Write the summary to FILE instead of stderr.
    #[arg(long, value_name = "FILE")]
    pub summary_file: Option<PathBuf>,

    /// The command and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// Which allocators `memscope trace` follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum WhatArg {
    /// The page allocator (kmem:mm_page_alloc / mm_page_free).
    Pages,
    /// Slab objects (kmem:kmalloc, kmem_cache_alloc, kfree, kmem_cache_free).
    Slab,
    /// Both; pages the slab allocator takes are counted through their objects.
    #[default]
    All,
}

/// `memscope trace`
#[derive(Debug, Clone, ClapArgs)]
#[command(
    after_help = "Needs root (or CAP_BPF + CAP_PERFMON), a 5.8+ kernel with BTF, and a memscope built with \
                        `--features trace-bpf`. Ctrl-C (or SIGTERM) ends the window early and still reports; \
                        the BPF programs are detached on every path. --allocinfo needs none of this, only a \
                        kernel with memory allocation profiling (/proc/allocinfo)."
)]
pub struct TraceArgs {
    /// How long to watch: 30s, 5m, 1h. Allocations made in this window and still held at its end are reported.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub duration: std::time::Duration,

    /// Which allocators to trace.
    #[arg(long, value_enum, default_value_t = WhatArg::All, value_name = "WHAT")]
    pub what: WhatArg,

    /// Call sites holding less are summed in one line: 64K, 1M.
    #[arg(long, default_value = "256K", value_parser = crate::output::parse_size, value_name = "SIZE")]
    pub min_bytes: u64,

    /// Show at most this many call sites.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,

    /// Caller levels shown under each call site.
    #[arg(long, default_value_t = 6, value_name = "N")]
    pub depth: usize,

    /// Also write folded stacks (bytes per stack, for flamegraph.pl or inferno) to FILE;
    /// `-` writes them to standard output instead of the report (which then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub folded: Option<PathBuf>,

    /// Trace kernel memory only: skip movable page allocations (user pages and page cache, which
    /// the anon and page cache counters account), the bulk of the events on a busy host.
    #[arg(long)]
    pub kernel_only: bool,

    /// Record one allocation in N: less overhead on busy hosts; bytes and counts are scaled by N.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub sample: u32,

    /// Entries of the live-allocation table (88 bytes of kernel memory each); when full,
    /// further allocations are counted as dropped and reported.
    #[arg(long, default_value_t = 262_144, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_allocs: u32,

    /// Entries of the stack table (576 bytes each); when full, new stacks are not kept (counted).
    #[arg(long, default_value_t = 16_384, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_stacks: u32,

    /// Read per-call-site totals from /proc/allocinfo (memory allocation profiling, kernel 6.10+)
    /// at the start and end of the window instead of tracing: no eBPF needed.
    #[arg(long)]
    pub allocinfo: bool,
}
