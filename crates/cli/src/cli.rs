//! Command-line arguments (clap derive). Command and flag names are stable:
//! tests and users depend on them.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

use crate::page_args::{PageSelection, flags_help};

const EXAMPLES: &str = "\
Examples:
  memscope                                  the ledger and the top processes (run as root)
  memscope report --explain                 what each ledger line means
  memscope report --json | jq .unaccounted_bytes
  memscope report --budget-ms 200           cap the time spent walking page tables for PSS
  memscope fds --pid 4242                   why \"Too many open files\": which limit, what leaks, the fix
  memscope capture --out host1.tree         keep the evidence; later, anywhere:
  memscope --root host1.tree report
  memscope cgroups --flat                   cgroups by memory, next to their processes' PSS
  memscope cgroups --ledger --flat          each cgroup's charge in lines: anon, cache, kernel, sock …
  memscope ps --cgroup nginx.service        the processes of one cgroup (or container, pod) and below
  memscope run --memory 512M -- make -j4    run under a limit; peak memory and OOM kills on stderr
  memscope trace --duration 60s             which kernel code allocated what is still held (eBPF)
  memscope serve                            Prometheus metrics on http://127.0.0.1:9799/metrics
  memscope top                              live view; h for the keys
  memscope record --interval 10s --keep 7d --max-size 1G   (runs until stopped; as a service:
                                            systemctl enable --now memscope-record)
  memscope leaks                            rank what grows in the recording, with time to exhaustion
  memscope leaks --watch 5m                 record five minutes in memory, then judge
  memscope diff                             first and last snapshot, line by line
  memscope plot --out memory.svg            the ledger over time and the top suspects (.svg or .png)
  memscope top --db /var/lib/memscope/memscope.db   step through the recording (← →, g G)

Exit status: 0 success (unavailable figures are reported, not errors), 1 error, 2 bad usage.

Each command has its manual page (man memscope-report, memscope man report); the JSON
schemas and the recording's database are described in /usr/share/doc/memscope/json.md
and store.md (docs/ in the source tree).";

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

    /// Print JSON instead of a table (each document names its schema, described in
    /// /usr/share/doc/memscope/json.md).
    #[arg(long, global = true, conflicts_with = "csv")]
    pub json: bool,

    /// Print CSV instead of a table.
    #[arg(long, global = true)]
    pub csv: bool,

    /// Never colour the output (also: the NO_COLOR environment variable).
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Never cut a table to the terminal's width (tables fit the terminal, or
    /// COLUMNS, by cutting their widest text column; a pipe gets them whole).
    #[arg(long, global = true)]
    pub wide: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The memory ledger: every byte of installed RAM, and the top processes (default).
    Report(ReportArgs),
    /// Copy exactly the files memscope reads into DIR, for offline analysis with --root.
    Capture(CaptureArgs),
    /// Record snapshots into a SQLite database, at an interval, until stopped.
    Record(RecordArgs),
    /// Rank what grows over a recording: leak suspects, with confidence and time to exhaustion.
    Leaks(LeaksArgs),
    /// Compare two recorded snapshots: the ledger line by line and the top movers.
    Diff(DiffArgs),
    /// Draw the ledger over time and the top suspects' series to SVG or PNG.
    Plot(PlotArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_long_help = COMPLETIONS_HELP)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print a manual page (roff): memscope(1), or a command's: `memscope man report | man -l -`.
    Man(ManArgs),
    /// The cgroup tree: memory, swap, OOM kills, cpus and pids per cgroup, next to its processes' PSS.
    Cgroups(CgroupsArgs),
    /// Run a command in a transient cgroup under limits; print what it used to stderr.
    Run(RunArgs),
    /// Which kernel code holds memory: outstanding kernel allocations by call site (eBPF), beside the ledger.
    Trace(TraceArgs),
    /// The "Too many open files" doctor: descriptors against every limit that raises it.
    Fds(FdsArgs),
    /// Processes by PSS, USS, RSS or swap; filtered, grouped by user, cgroup, container or command.
    Ps(PsArgs),
    /// One process's mappings with Size, RSS, PSS, USS, swap, THP (like pmap -X).
    Maps(MapsArgs),
    /// Memory per NUMA node; with --pid, a process's pages per node (like numastat -p).
    Numa(NumaArgs),
    /// Zones: free pages against watermarks, buddy free blocks, fragmentation; --can-alloc.
    Zones(ZonesArgs),
    /// Slab caches by size, with reclaimability and merged-cache aliases (like slabtop, once).
    Slab(SlabArgs),
    /// vmalloc areas by kind and by caller, explaining the ledger's vmalloc line.
    Vmalloc(VmallocArgs),
    /// Why was my process killed? Each OOM kill of the kernel log explained: what died, which limit, what held the memory, what would have prevented it.
    #[command(after_long_help = OOM_EXIT_HELP)]
    Oom(OomArgs),
    /// Real time: check a host (and a process) for it, measure scheduling latency.
    Rt(RtArgs),
    /// Prometheus exporter: the ledger, zones, slab, vmalloc, sockets, fds, cgroups and top processes on /metrics.
    Serve(ServeArgs),
    /// Live terminal view: the ledger bar, processes, slab, vmalloc, zones, cgroups and fds (q quits, h helps).
    Top(TopArgs),
    /// Census of all physical memory: page frames by flags, zone, node or memory
    /// cgroup, set beside the kernel's counters (root).
    #[command(after_long_help = flags_help())]
    Phys(PhysArgs),
    /// One process's pages: its pagemap joined with page flags, by flag set and
    /// by mapping, or listed (root for the flags).
    #[command(after_long_help = flags_help())]
    Pages(PagesArgs),
    /// Memory pressure (PSI): how much time tasks stall waiting for memory, now or, with --watch, at each
    /// threshold crossing with the processes and cgroups that grew.
    Pressure(PressureArgs),
}

impl Command {
    /// A command that reads once and exits (no repeated collections, no
    /// long watch): its threads may each have their own malloc arena.
    pub fn is_one_shot_scan(&self) -> bool {
        matches!(
            self,
            Command::Report(_)
                | Command::Ps(_)
                | Command::Capture(_)
                | Command::Cgroups(_)
                | Command::Fds(_)
                | Command::Maps(_)
                | Command::Numa(_)
                | Command::Phys(_)
                | Command::Pages(_)
        )
    }
}

const COMPLETIONS_HELP: &str = "\
Where the script goes (the Debian package installs all three):
  bash  /usr/share/bash-completion/completions/memscope
  zsh   /usr/share/zsh/vendor-completions/_memscope
  fish  /usr/share/fish/vendor_completions.d/memscope.fish
For one user: memscope completions bash > ~/.local/share/bash-completion/completions/memscope";

/// `memscope man`
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct ManArgs {
    /// The command whose page to print (`report`, `rt-check` …) [default: memscope(1) itself].
    #[arg(value_name = "COMMAND", conflicts_with = "out")]
    pub command: Option<String>,

    /// Write every page (memscope.1, memscope-report.1 …) into DIR instead.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The command line's definition, with what the derive cannot say: the
/// pages `memscope man COMMAND` accepts are the subcommands themselves, so
/// they are taken from the built tree (one definition, the derive's) rather
/// than listed a second time.
pub fn command() -> clap::Command {
    let cmd = <Args as clap::CommandFactory>::command();
    let pages: Vec<clap::builder::PossibleValue> = man_pages(&cmd)
        .into_iter()
        .filter_map(|(name, _)| name.map(clap::builder::PossibleValue::new))
        .collect();
    cmd.mut_subcommand("man", |man| {
        man.mut_arg("command", |a| a.value_parser(clap::builder::PossibleValuesParser::new(pages)))
    })
}

/// Every manual page: (the name `memscope man` takes, none for memscope(1)
/// itself; the command it documents, built, so that its name is the page's,
/// `memscope-rt-check`). `help` is not a page: clap answers it.
pub fn man_pages(cmd: &clap::Command) -> Vec<(Option<String>, clap::Command)> {
    fn walk(cmd: &clap::Command, path: Option<String>, out: &mut Vec<(Option<String>, clap::Command)>) {
        out.push((path.clone(), cmd.clone()));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
            let name = match &path {
                Some(p) => format!("{p}-{}", sub.get_name()),
                None => sub.get_name().to_owned(),
            };
            walk(sub, Some(name), out);
        }
    }
    let mut cmd = cmd.clone().disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, None, &mut out);
    out
}

/// A value parser for a name out of one of the analysis crate's tables
/// (`SortKey::ALL` …): it parses with the function it wraps (so the error
/// messages stay that function's) and tells clap the names, so that `--help`
/// lists them and shell completion offers them instead of file names. The
/// tables stay free of clap; clap's `ValueEnum` would need the derive on the
/// analysis types.
#[derive(Clone)]
pub struct Named<T: 'static> {
    table: &'static [(T, &'static str)],
    parse: fn(&str) -> Result<T, String>,
}

impl<T: Copy + Send + Sync + 'static> clap::builder::TypedValueParser for Named<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        clap::builder::TypedValueParser::parse_ref(&self.parse, cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(self.table.iter().map(|(_, name)| clap::builder::PossibleValue::new(*name))))
    }
}

/// `memscope pressure`
#[derive(Debug, Clone, Default, ClapArgs)]
#[command(after_long_help = "\
Without --watch, prints /proc/pressure/memory (or the cgroup's memory.pressure) once.
With --watch, arms a PSI trigger (Documentation/accounting/psi.rst): the kernel wakes
memscope when tasks stalled longer than --threshold within any --window; each event
prints the time, the current avg10 and the processes (RSS from /proc/PID/status) and
memory cgroups that grew most since the previous event. The kernel reports an event at
most once per window. Windows range from 500 ms to 10 s; without CAP_SYS_RESOURCE,
kernels 6.x accept only windows that are a multiple of 2 s. PSI needs kernel 4.20+
with CONFIG_PSI and not booted with psi=0; memory.pressure exists in cgroup v2 only.")]
pub struct PressureArgs {
    /// Wait for threshold crossings (a PSI trigger) and print one line per event.
    #[arg(long)]
    pub watch: bool,

    /// A v2 cgroup (as /proc/PID/cgroup prints it, e.g. /system.slice/nginx.service): its memory.pressure.
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<String>,

    /// Stall time within the window that fires an event.
    #[arg(long, default_value = "150ms", value_parser = crate::history::parse_positive_duration, value_name = "DURATION")]
    pub threshold: std::time::Duration,

    /// The trigger's window (500ms to 10s; unprivileged: a multiple of 2s).
    #[arg(long, default_value = "1s", value_parser = crate::history::parse_positive_duration, value_name = "DURATION")]
    pub window: std::time::Duration,

    /// Trigger on `full` stalls (all non-idle tasks at once) instead of `some`.
    #[arg(long)]
    pub full: bool,

    /// Stop watching after this long.
    #[arg(long, value_parser = crate::history::parse_positive_duration, value_name = "DURATION")]
    pub duration: Option<std::time::Duration>,

    /// Stop watching after this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Processes and cgroups listed per event.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
}

/// How `memscope phys` groups page frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PhysBy {
    /// By zone (PFN spans of /proc/zoneinfo).
    Zone,
    /// By NUMA node.
    Node,
    /// By memory cgroup (/proc/kpagecgroup).
    Memcg,
}

/// `memscope phys`
#[derive(Debug, Clone, ClapArgs)]
pub struct PhysArgs {
    #[command(flatten)]
    pub select: PageSelection,

    /// Group page frames by zone, node or memory cgroup.
    #[arg(long, value_name = "GROUP")]
    pub by: Option<PhysBy>,

    /// Read /proc/kpageflags only (no map counts, no memory cgroups): the
    /// cheapest census.
    #[arg(long)]
    pub flags_only: bool,

    /// Worker threads (0: one per CPU, at most 4).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,

    /// Describe every page flag and page class, and exit.
    #[arg(long)]
    pub explain: bool,
}

/// `memscope pages`
#[derive(Debug, Clone, ClapArgs)]
pub struct PagesArgs {
    /// The process.
    pub pid: u32,

    #[command(flatten)]
    pub select: PageSelection,

    /// List runs of pages: virtual page, PFN, length, flags (page-types -l).
    #[arg(long, conflicts_with = "list_each")]
    pub list: bool,

    /// List every page (page-types -L).
    #[arg(long)]
    pub list_each: bool,

    /// Read map counts (/proc/kpagecount): a histogram, and a column in lists.
    #[arg(long)]
    pub mapcount: bool,

    /// Read memory cgroups (/proc/kpagecgroup): pages per cgroup, and a column in lists.
    #[arg(long)]
    pub memcg: bool,

    /// Show mappings with nothing present or swapped too.
    #[arg(long)]
    pub all: bool,

    /// Worker threads reading pagemap and page flags (0: one per CPU, at most 4).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
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

    /// The ledger of one cgroup instead: its charge line by line, its limits, its processes and
    /// what each tool (kubelet, docker, podman, ps) would show. A cgroup path, a container id
    /// prefix, a pod UID, a systemd unit name, or a name the container runtimes' files give: a
    /// container's name or a Kubernetes namespace/pod (namespace/pod/container).
    #[arg(long, value_name = "CGROUP")]
    pub cgroup: Option<String>,
}

/// `memscope capture`
#[derive(Debug, Clone, ClapArgs)]
pub struct CaptureArgs {
    /// Directory to write the tree into: created with mode 0700. An existing
    /// one is used only if it is empty, yours and not a symbolic link. The
    /// tree holds process names (never their arguments), kernel counters,
    /// root-only files such as slabinfo and the physical memory map; its
    /// files are 0600. Before sharing it, read "What a capture contains" in
    /// /usr/share/doc/memscope/README.md.
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

    /// Show each cgroup's charge as report --cgroup splits it: usage, anonymous,
    /// page cache, shmem, kernel, sockets, the signed remainder (usage − the
    /// lines) and the working set (usage − inactive page cache, what the
    /// kubelet evicts by). Figures the kernel does not give are shown as
    /// unavailable, never 0. Reads the memory cgroups' files only, not the
    /// processes.
    #[arg(long, conflicts_with = "no_pss")]
    pub ledger: bool,

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
    #[arg(long, default_value = "30s", value_parser = crate::history::parse_positive_duration, value_name = "DURATION")]
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

    /// Trace this process's own allocations instead of the kernel's: uprobes on its allocator
    /// (malloc, free, … of its C library, jemalloc or tcmalloc) and on mmap/munmap, with user stacks.
    /// Repeat for several processes.
    #[arg(long, value_name = "PID", conflicts_with = "allocinfo")]
    pub pid: Vec<u32>,

    /// Like --pid, for every process with this command name.
    #[arg(long, value_name = "NAME", conflicts_with = "allocinfo")]
    pub comm: Option<String>,

    /// Like --pid, for every process of this v2 cgroup (as /proc/PID/cgroup prints it), e.g. a container.
    #[arg(long, value_name = "PATH", conflicts_with = "allocinfo")]
    pub cgroup: Option<String>,

    /// With --pid: skip allocations smaller than this (less overhead): 64, 4K.
    #[arg(long, default_value = "0", value_parser = crate::output::parse_size, value_name = "SIZE")]
    pub min_size: u64,
}

/// `memscope fds`
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct FdsArgs {
    /// Explain "Too many open files" for this process: EMFILE or ENFILE, what
    /// it holds, its top targets (leak signatures) and how to fix it.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,

    /// The cheap path: count every process's descriptors (one stat each) and
    /// list only the N processes closest to their limit, with the breakdown
    /// for those N only (no per-user inotify and epoll use).
    #[arg(long, value_name = "N", conflicts_with_all = ["all", "pid"])]
    pub top: Option<usize>,

    /// Show every process (default: the 20 closest to their limit).
    #[arg(long)]
    pub all: bool,

    /// Explain the descriptor groups and verdicts, and exit.
    #[arg(long)]
    pub explain: bool,
}

fn sort_names(names: &[&str]) -> String {
    names.join(", ")
}

/// `memscope ps`
#[derive(Debug, Clone, ClapArgs)]
pub struct PsArgs {
    /// Only processes whose command name matches this regular expression
    /// (with --full: the whole command line).
    #[arg(value_name = "PATTERN")]
    pub pattern: Option<String>,

    /// Match PATTERN against the whole command line.
    #[arg(long, short = 'f', requires = "pattern")]
    pub full: bool,

    /// Sort by pss, uss, rss, swap, fds (open descriptors, shown beside
    /// RLIMIT_NOFILE) or pid. Processes whose PSS was not read rank by their RSS.
    #[arg(long, default_value = "pss", value_name = "KEY", value_parser = Named { table: memscope_analysis::processes::SortKey::ALL, parse: parse_sort })]
    pub sort: memscope_analysis::processes::SortKey,

    /// Show only the first N processes (or groups).
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,

    /// Only these processes (repeat, or separate with commas).
    #[arg(long = "pid", value_name = "PID", value_delimiter = ',')]
    pub pids: Vec<u32>,

    /// Only processes of these users, by name or uid (repeat, or separate with commas).
    #[arg(long = "user", value_name = "USER", value_delimiter = ',')]
    pub users: Vec<String>,

    /// Only the processes of this memory cgroup and its descendants, placed by
    /// /proc/PID/cgroup (the v1 memory controller's line on v1 and hybrid
    /// hosts, the v2 line otherwise). Named as for report --cgroup: a cgroup
    /// path, a container id prefix, a pod UID, a systemd unit name, or a
    /// container's or namespace/pod's name from the runtimes' files.
    #[arg(long, value_name = "CGROUP")]
    pub cgroup: Option<String>,

    /// Sum processes by user, cgroup, container or cmd.
    #[arg(long, value_name = "WHAT", value_parser = Named { table: memscope_analysis::ps::GroupBy::ALL, parse: parse_group_by })]
    pub group_by: Option<memscope_analysis::ps::GroupBy>,

    /// Spend at most this many milliseconds reading smaps_rollup (PSS),
    /// largest processes first, never starting a read predicted to end later;
    /// the other processes keep their cheap /proc/PID/status figures, marked.
    #[arg(long, value_name = "MS")]
    pub budget_ms: Option<u64>,

    /// Do not read smaps_rollup of processes with a larger RSS (the read walks
    /// their page tables under their mmap lock). Sizes like 512M, 20G.
    #[arg(long, value_name = "SIZE", value_parser = crate::output::parse_size)]
    pub max_rss: Option<u64>,

    /// Read /proc/PID/status only: RSS and swap, no PSS or USS, no page-table walks.
    #[arg(long, conflicts_with_all = ["budget_ms", "max_rss"])]
    pub fast: bool,

    /// List this memscope process too (left out by default, as a listing
    /// of the system should not show the tool taking it).
    #[arg(long)]
    pub include_self: bool,
}

fn parse_sort(s: &str) -> Result<memscope_analysis::processes::SortKey, String> {
    use memscope_analysis::processes::SortKey;
    SortKey::from_name(s).ok_or_else(|| {
        format!(
            "unknown sort key `{s}` (one of {})",
            sort_names(&SortKey::ALL.iter().map(|(_, n)| *n).collect::<Vec<_>>())
        )
    })
}

fn parse_group_by(s: &str) -> Result<memscope_analysis::ps::GroupBy, String> {
    use memscope_analysis::ps::GroupBy;
    GroupBy::from_name(s).ok_or_else(|| {
        format!(
            "unknown grouping `{s}` (one of {})",
            sort_names(&GroupBy::ALL.iter().map(|(_, n)| *n).collect::<Vec<_>>())
        )
    })
}

/// `memscope maps`
#[derive(Debug, Clone, ClapArgs)]
pub struct MapsArgs {
    /// The process.
    #[arg(value_name = "PID")]
    pub pid: u32,

    /// Sort by addr (the default), size, rss, pss, uss or swap.
    #[arg(long, default_value = "addr", value_name = "KEY", value_parser = Named { table: memscope_analysis::maps::MapSort::ALL, parse: parse_maps_sort })]
    pub sort: memscope_analysis::maps::MapSort,

    /// Show only the first N mappings (totals still cover all).
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
}

fn parse_maps_sort(s: &str) -> Result<memscope_analysis::maps::MapSort, String> {
    use memscope_analysis::maps::MapSort;
    MapSort::from_name(s).ok_or_else(|| {
        format!(
            "unknown sort key `{s}` (one of {})",
            sort_names(&MapSort::ALL.iter().map(|(_, n)| *n).collect::<Vec<_>>())
        )
    })
}

/// `memscope numa`
#[derive(Debug, Clone, ClapArgs)]
pub struct NumaArgs {
    /// Show these processes' pages per node, from /proc/PID/numa_maps: a
    /// pid, or a pattern (regular expression) matched against command
    /// names, as `numastat -p` takes (repeat, or separate with commas).
    #[arg(long = "pid", value_name = "PID|PATTERN", value_delimiter = ',')]
    pub pids: Vec<String>,

    /// Show rows that are 0 on every node too.
    #[arg(long)]
    pub all: bool,
}

/// `memscope zones`
#[derive(Debug, Clone, ClapArgs)]
pub struct ZonesArgs {
    /// Are COUNT free blocks of 2^ORDER pages available now? ORDER or
    /// ORDERxCOUNT (`9` is one 2 MiB block with 4 KiB pages, `3x16`).
    #[arg(long, value_name = "ORDER[xCOUNT]", value_parser = parse_can_alloc)]
    pub can_alloc: Option<(u32, u64)>,

    /// Only this NUMA node.
    #[arg(long, value_name = "N")]
    pub node: Option<u32>,

    /// Show empty zones and migrate types with no free block too.
    #[arg(long)]
    pub all: bool,
}

/// `ORDER` or `ORDERxCOUNT`.
pub fn parse_can_alloc(s: &str) -> Result<(u32, u64), String> {
    let (order, count) = match s.split_once(['x', 'X']) {
        Some((o, c)) => (o, c),
        None => (s, "1"),
    };
    let order: u32 = order.trim().parse().map_err(|_| format!("`{s}`: ORDER must be a number (0 to 20)"))?;
    if order > 20 {
        return Err(format!("`{s}`: order {order} is beyond any kernel's MAX_PAGE_ORDER"));
    }
    let count: u64 = count.trim().parse().map_err(|_| format!("`{s}`: COUNT must be a number"))?;
    if count == 0 {
        return Err(format!("`{s}`: COUNT must be at least 1"));
    }
    Ok((order, count))
}

/// `memscope slab`
#[derive(Debug, Clone, ClapArgs)]
pub struct SlabArgs {
    /// Sort by size (the default), active, objs, objsize, waste or name.
    #[arg(long, default_value = "size", value_name = "KEY", value_parser = Named { table: memscope_analysis::slab::SlabSort::ALL, parse: parse_slab_sort })]
    pub sort: memscope_analysis::slab::SlabSort,

    /// Show only the first N caches.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,

    /// Show caches holding no slab too.
    #[arg(long)]
    pub all: bool,
}

fn parse_slab_sort(s: &str) -> Result<memscope_analysis::slab::SlabSort, String> {
    use memscope_analysis::slab::SlabSort;
    SlabSort::from_name(s).ok_or_else(|| {
        format!(
            "unknown sort key `{s}` (one of {})",
            sort_names(&SlabSort::ALL.iter().map(|(_, n)| *n).collect::<Vec<_>>())
        )
    })
}

/// `memscope vmalloc`
#[derive(Debug, Clone, ClapArgs)]
pub struct VmallocArgs {
    /// Show this many callers, largest first.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,
}

/// `memscope oom`
#[derive(Debug, Clone, ClapArgs)]
pub struct OomArgs {
    /// Read a saved kernel log instead of /dev/kmsg: `dmesg`, `dmesg -T`,
    /// `journalctl -k`, a syslog file or raw /dev/kmsg records; `-` for
    /// standard input.
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,

    /// Every kill of the log: a summary table, then each explanation
    /// (default: the latest kill only).
    #[arg(long)]
    pub all: bool,
}

/// Where the recording is (`record`, `leaks`, `diff`, `plot`).
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct DbArg {
    /// The database [default: /var/lib/memscope/memscope.db as root, else
    /// $XDG_STATE_HOME/memscope/memscope.db].
    #[arg(long, value_name = "FILE", env = "MEMSCOPE_DB")]
    pub db: Option<PathBuf>,
}

/// `memscope record`
#[derive(Debug, Clone, ClapArgs)]
pub struct RecordArgs {
    #[command(flatten)]
    pub db: DbArg,

    /// Time between snapshots: 10s, 1m, 0.5 (seconds).
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = crate::history::parse_positive_duration)]
    pub interval: std::time::Duration,

    /// Stop after this long (default: until SIGINT or SIGTERM).
    #[arg(long, value_name = "DURATION", value_parser = crate::history::parse_positive_duration)]
    pub duration: Option<std::time::Duration>,

    /// Stop after this many snapshots.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Take one snapshot and exit.
    #[arg(long, conflicts_with_all = ["duration", "count"])]
    pub once: bool,

    /// Delete snapshots older than this: 7d, 12h.
    #[arg(long, value_name = "DURATION", value_parser = crate::history::parse_positive_duration)]
    pub keep: Option<std::time::Duration>,

    /// Keep the database under this size by deleting the oldest snapshots: 500M, 2G.
    #[arg(long, value_name = "SIZE", value_parser = crate::output::parse_size)]
    pub max_size: Option<u64>,

    /// Time budget for reading smaps_rollup (PSS) in each snapshot; the rest
    /// keep their status figures.
    #[arg(long, default_value_t = 250, value_name = "MS")]
    pub budget_ms: u64,

    /// Do not walk the page tables (smaps_rollup) of processes with a larger RSS.
    #[arg(long, default_value = "32G", value_name = "SIZE", value_parser = crate::output::parse_size)]
    pub max_rss: u64,

    /// Read every process's smaps_rollup (PSS) in every snapshot, instead of
    /// only those whose status figures moved, new ones, and those read too
    /// long ago (the others carry their last PSS forward, with its age).
    #[arg(long)]
    pub full_pss: bool,
    /// Print one line per snapshot (instead of a status line on a terminal).
    #[arg(long, short)]
    pub verbose: bool,
}

/// `memscope leaks`
#[derive(Debug, Clone, ClapArgs)]
pub struct LeaksArgs {
    #[command(flatten)]
    pub db: DbArg,

    /// Instead of reading a database, record for this long (in memory) and judge that.
    #[arg(long, value_name = "DURATION", value_parser = crate::history::parse_positive_duration)]
    pub watch: Option<std::time::Duration>,

    /// Interval of --watch [default: a thirtieth of it, between 1s and 10s].
    #[arg(long, value_name = "DURATION", value_parser = crate::history::parse_positive_duration, requires = "watch")]
    pub interval: Option<std::time::Duration>,

    /// First snapshot: an id, a time (2026-11-22T10:00:00Z) or an age (2h = two hours ago).
    #[arg(long, value_name = "WHEN", value_parser = crate::history::parse_when)]
    pub from: Option<crate::history::When>,

    /// Last snapshot (same forms as --from).
    #[arg(long, value_name = "WHEN", value_parser = crate::history::parse_when)]
    pub to: Option<crate::history::When>,

    /// Show at most this many suspects.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,

    /// Minimum confidence of the trend test, in percent.
    #[arg(long, default_value_t = 99.9, value_name = "PCT")]
    pub min_confidence: f64,

    /// Ignore series that grew less than this over the window: 1M, 64K.
    #[arg(long, default_value = "1M", value_name = "SIZE", value_parser = crate::output::parse_size)]
    pub min_growth: u64,

    /// Analyse at most this many snapshots, evenly spread over the window.
    #[arg(long, default_value_t = 300, value_name = "N")]
    pub points: usize,
    /// Read every process's smaps_rollup (PSS) in every snapshot of --watch, instead of
    /// only those whose status figures moved, new ones, and those read too
    /// long ago (the others carry their last PSS forward, with its age).
    #[arg(long, requires = "watch")]
    pub full_pss: bool,
}

/// `memscope diff`
#[derive(Debug, Clone, ClapArgs)]
pub struct DiffArgs {
    #[command(flatten)]
    pub db: DbArg,

    /// The earlier snapshot: an id, a time or an age [default: the first].
    #[arg(value_name = "FROM", value_parser = crate::history::parse_when)]
    pub from: Option<crate::history::When>,

    /// The later snapshot [default: the last].
    #[arg(value_name = "TO", value_parser = crate::history::parse_when)]
    pub to: Option<crate::history::When>,

    /// Top movers to show among processes, slab caches and vmalloc callers.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
}

/// `memscope plot`
#[derive(Debug, Clone, ClapArgs)]
pub struct PlotArgs {
    #[command(flatten)]
    pub db: DbArg,

    /// The image to write: FILE.svg or FILE.png.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// First snapshot (an id, a time or an age).
    #[arg(long, value_name = "WHEN", value_parser = crate::history::parse_when)]
    pub from: Option<crate::history::When>,

    /// Last snapshot.
    #[arg(long, value_name = "WHEN", value_parser = crate::history::parse_when)]
    pub to: Option<crate::history::When>,

    /// Suspects to draw (growing first, then the largest movers).
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,

    /// Image width in pixels (400 to 10000).
    #[arg(long, default_value_t = 1200, value_parser = clap::value_parser!(u32).range(400..=10_000))]
    pub width: u32,

    /// Image height in pixels (300 to 10000).
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u32).range(300..=10_000))]
    pub height: u32,

    /// Use at most this many snapshots, evenly spread.
    #[arg(long, default_value_t = 600, value_name = "N")]
    pub points: usize,

    /// Stack free memory on top of the rest (by default it is left out of
    /// the stack, where it would take most of the panel; the legend gives
    /// its size either way).
    #[arg(long)]
    pub with_free: bool,
}

/// `memscope rt`
#[derive(Debug, Clone, ClapArgs)]
pub struct RtArgs {
    #[command(subcommand)]
    pub command: RtCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum RtCommand {
    /// Is this host (and --pid) set up for real time? Each item: value, what real
    /// time wants, verdict, and how to change it. Works on a captured tree (--root).
    #[command(after_long_help = RT_CHECK_EXAMPLES)]
    Check(RtCheckArgs),
    /// Measure scheduling latency as cyclictest does: one SCHED_FIFO thread per CPU
    /// wakes at absolute times and records how late it woke.
    #[command(after_long_help = RT_LATENCY_EXAMPLES)]
    Latency(RtLatencyArgs),
}

const RT_CHECK_EXAMPLES: &str = "\
Examples:
  memscope rt check                         the host: preemption, isolation, IRQs, idle states, THP, swap …
  memscope rt check --pid $(pidof myloop)   and a process: policy, threads, affinity, mlock, page faults
  memscope rt check --explain               why each item matters, with the kernel documents
  memscope --root host1.tree rt check       a tree from `memscope capture`";

const RT_LATENCY_EXAMPLES: &str = "\
Examples:
  memscope rt latency                       10 s on every CPU, SCHED_FIFO 95, every 1000 µs
  memscope rt latency --dma-latency -D 5m   hold CPUs out of deep idle states, as cyclictest does
  memscope rt latency --cpus 2-3 -l 100000  only the isolated CPUs, 100000 wakeups each
  memscope rt latency --with-memory         relate spikes to page faults, compaction, reclaim
  scripts/rt-compare (in the source tree)   the same measurement against cyclictest";

/// `memscope rt check`
#[derive(Debug, Clone, ClapArgs)]
pub struct RtCheckArgs {
    /// Also check this process: policy, threads, affinity, locked memory, page faults.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,

    /// How long to watch the process's page faults grow (live only).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = crate::history::parse_positive_duration)]
    pub window: std::time::Duration,

    /// Explain every check and exit.
    #[arg(long)]
    pub explain: bool,
}

/// `memscope rt latency`
#[derive(Debug, Clone, ClapArgs)]
pub struct RtLatencyArgs {
    /// CPUs to measure, one thread each (`0-3,6`). Default: every CPU this process may use.
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,

    /// SCHED_FIFO priority of the measuring threads (1-99). 0 measures at normal
    /// priority, which says nothing about real time: refused unless --force.
    #[arg(long, short = 'p', default_value_t = 95, value_name = "PRIO")]
    pub priority: u8,

    /// Wakeup period in microseconds.
    #[arg(long, short = 'i', default_value_t = 1000, value_name = "USEC")]
    pub interval: u64,

    /// Wakeups per CPU (instead of --duration).
    #[arg(long, short = 'l', value_name = "N", conflicts_with = "duration")]
    pub loops: Option<u64>,

    /// How long to measure (`10s`, `5m`). Default 10s. Ctrl-C stops early and reports.
    #[arg(long, short = 'D', value_name = "DURATION", value_parser = crate::history::parse_positive_duration)]
    pub duration: Option<std::time::Duration>,

    /// Hold /dev/cpu_dma_latency at USEC (default 0) while measuring, keeping CPUs out
    /// of deep idle states (as cyclictest does by default).
    #[arg(long, value_name = "USEC", num_args = 0..=1, default_missing_value = "0")]
    pub dma_latency: Option<i32>,

    /// Histogram bucket edges in microseconds, comma-separated.
    #[arg(
        long,
        value_name = "EDGES",
        value_delimiter = ',',
        default_value = "1,2,5,10,20,50,100,200,500,1000,2000,5000,10000"
    )]
    pub histogram: Vec<u64>,

    /// How many of the largest spikes to list.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// Sample /proc/vmstat (page faults, compaction, reclaim) alongside and relate it to the spikes.
    #[arg(long)]
    pub with_memory: bool,

    /// Period of the vmstat samples with --with-memory, in milliseconds.
    #[arg(long, default_value_t = 50, value_name = "MS")]
    pub memory_interval: u64,

    /// Do not lock memory (mlockall); page faults may then add to the latencies.
    #[arg(long)]
    pub no_mlock: bool,

    /// Measure even when the real-time policy, the memory lock or the QoS hold cannot
    /// be had (the output says so loudly).
    #[arg(long)]
    pub force: bool,

    /// No live progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `memscope serve`
#[derive(Debug, Clone, ClapArgs)]
#[command(after_long_help = "\
Examples:
  memscope serve                                 loopback only, port 9799
  memscope serve --listen 0.0.0.0:9799 --web-config /etc/memscope/web.yml
  curl -s localhost:9799/metrics | grep memscope_unaccounted_bytes

The web config is the Prometheus exporters' format (tls_server_config with
cert_file and key_file; basic_auth_users with bcrypt hashes). Passwords longer
than 72 bytes are refused: bcrypt ignores what follows the 72nd byte.
Listening beyond loopback without a web config prints a warning.

Every connection is bounded: request headers within 10 s (also the idle
time of a kept-alive connection), each response written within 10 s, 100
requests and 2 minutes per connection. When --max-connections are open and
another client arrives, the connection that has waited longest on its
client is closed to make room.")]
pub struct ServeArgs {
    /// Address and port to listen on. Anything but loopback exposes the host's
    /// memory figures: use --web-config for TLS and passwords.
    #[arg(long, default_value = "127.0.0.1:9799", value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,

    /// Scrapes within this time of the last collection share it (5s, 500ms):
    /// rapid or concurrent scrapes cannot make memscope read /proc faster.
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub min_interval: std::time::Duration,

    /// Processes exported one by one (largest PSS first); the rest are summed
    /// into one `pid="other"` series.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,

    /// Slab caches exported one by one; the rest are summed into `cache="other"`.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top_slab: usize,

    /// Memory cgroups exported one by one (largest charge first, a parent
    /// before its children); the rest are summed into `cgroup="other"`.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top_cgroups: usize,

    /// Stop reading smaps_rollup (PSS) this many milliseconds into a
    /// collection; the remaining processes keep their status figures.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub budget_ms: u64,

    /// Do not read smaps_rollup of processes with a larger RSS: the walk holds
    /// their mmap lock, and an exporter runs it on every collection.
    #[arg(long, default_value = "32G", value_name = "SIZE", value_parser = crate::output::parse_size)]
    pub max_rss: u64,

    /// Read every process's smaps_rollup (PSS) in every collection, instead of
    /// only those whose status figures moved, new ones, and those read too
    /// long ago (the others carry their last PSS forward, with its age).
    #[arg(long)]
    pub full_pss: bool,
    /// TLS and basic auth: a Prometheus exporter web-config file (YAML).
    #[arg(long, value_name = "FILE")]
    pub web_config: Option<PathBuf>,

    /// Connections open at once. A newcomer beyond them closes the connection
    /// that has waited longest on its client (a slow reader, a half-sent
    /// request, an idle keep-alive); it waits in the listen queue only while
    /// every open connection is being answered.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub max_connections: usize,
}

/// `memscope top`
#[derive(Debug, Clone, ClapArgs)]
pub struct TopArgs {
    /// Time between refreshes (2s, 500ms).
    #[arg(long, default_value = "2s", value_name = "DURATION", value_parser = crate::history::parse_positive_duration)]
    pub interval: std::time::Duration,

    /// Stop reading smaps_rollup (PSS) this many milliseconds into each
    /// refresh; the remaining processes keep their status figures, marked *.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub budget_ms: u64,

    /// Do not read smaps_rollup of processes with a larger RSS.
    #[arg(long, default_value = "32G", value_name = "SIZE", value_parser = crate::output::parse_size)]
    pub max_rss: u64,

    /// Read every process's smaps_rollup (PSS) in every refresh, instead of
    /// only those whose status figures moved, new ones, and those read too
    /// long ago (the others carry their last PSS forward, with its age).
    #[arg(long)]
    pub full_pss: bool,
    /// Replay the snapshots `memscope record` stored in FILE instead of
    /// reading this system: ← → (or [ ]) step, g and G jump to the first and
    /// last.
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
}

/// The exit codes of `memscope oom` (also its `--help`).
pub const OOM_EXIT_HELP: &str = "Exit status:
  0  at least one OOM kill is explained
  1  the kernel log could not be read (the cgroups' OOM kill counts are shown instead)
  2  the --from file could not be read
  4  the log holds no OOM kill";

#[cfg(test)]
mod tests {
    use super::parse_can_alloc;

    #[test]
    fn can_alloc_values() {
        assert_eq!(parse_can_alloc("9"), Ok((9, 1)));
        assert_eq!(parse_can_alloc("3x16"), Ok((3, 16)));
        assert!(parse_can_alloc("3x0").is_err());
        assert!(parse_can_alloc("x").is_err());
        assert!(parse_can_alloc("40").is_err());
    }
}
