//! `memscope trace`: kernel allocations made during a window and still held
//! at its end, named after the kernel code that made them, and set beside
//! the ledger's growth over the same window.
//!
//! ```text
//!  TraceSample (addresses) ──/proc/kallsyms──▶ symbolized stacks
//!      │  FRAME_RULES: drop tracing frames, skip allocator frames,
//!      │  name the ledger line the memory is counted in
//!      ▼
//!  sites: the first meaningful frame of each stack (pipe_write, tcp_sendmsg_locked, …)
//!      │  with a tree of its callers
//!      ▼
//!  beside the ledger: "unaccounted grew 64 MiB; 63 MiB is outstanding from anon_pipe_write ← vfs_write"
//! ```
//!
//! Which ledger line holds a page is decided by the functions on its
//! allocation stack ([`FRAME_RULES`], one table for skipping, grouping and
//! classifying): a page allocated under `do_anonymous_page` is counted in
//! `AnonPages`, one under `__filemap_get_folio` in `Cached`, one under
//! `allocate_slab` in slab. A page allocated on a path no rule names is in
//! no counter: it is part of `unaccounted`. Slab objects are in slab.

use std::collections::{BTreeMap, HashMap};

use memscope_kernel::parse::kallsyms::Kallsyms;
use memscope_model::trace::{AllocKind, OutstandingStack, StackState, TraceSample, What};
use serde::Serialize;

use crate::ledger::{self, Ledger};
use crate::units::fmt_bytes;

/// What a function on an allocation stack says about the allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameRole {
    /// The tracing machinery itself (the tracepoint, the BPF program):
    /// removed from every stack.
    Tracing,
    /// An allocator's own function (`__alloc_pages`, `kmalloc`): skipped
    /// when looking for the site.
    Allocator,
    /// An allocator function whose pages a ledger line counts (vmalloc,
    /// percpu chunks): skipped, and names the line unless a caller rule
    /// ([`FrameRole::Counted`]) does.
    AllocatorFor(&'static str),
    /// The slab allocator taking pages for its objects, or a large
    /// kmalloc: these pages are slab memory; when slab objects are traced
    /// too, they are counted through the objects instead.
    SlabBacking,
    /// A caller whose allocations a ledger line counts: names the line; it
    /// may be the site.
    Counted(&'static str),
}

/// One rule: a function name prefix and its role. The first rule whose
/// prefix starts the function's name (after any `.cold`, `.isra.0`,
/// `.part.0` suffix is cut) applies.
#[derive(Debug, Clone, Copy)]
pub struct FrameRule {
    /// Function name prefix.
    pub prefix: &'static str,
    /// What it means.
    pub role: FrameRole,
}

macro_rules! rules {
    ($( $role:expr => [$($p:literal),* $(,)?] ; )*) => {
        /// Every frame rule, most specific first. Names are those of
        /// mm/page_alloc.c, mm/slub.c, mm/vmalloc.c, mm/percpu*.c,
        /// mm/memory.c, mm/filemap.c, mm/shmem.c and net/ in 5.8 to 6.18
        /// (6.10 added the `_noprof` suffixes, which the prefixes cover).
        pub const FRAME_RULES: &[FrameRule] = &[
            $( $( FrameRule { prefix: $p, role: $role }, )* )*
        ];
    };
}

use FrameRole::{Allocator, AllocatorFor, Counted, SlabBacking, Tracing};

rules! {
    Tracing => ["perf_trace_", "trace_event_raw_event_", "perf_trace_run_bpf_submit", "trace_call_bpf",
        "bpf_prog_", "__bpf_trace_", "__traceiter_", "bpf_trace_run", "__bpf_prog_run", "perf_tp_event"];
    SlabBacking => ["allocate_slab", "new_slab", "alloc_slab_page", "__kmalloc_large", "___kmalloc_large",
        "kmalloc_large"];
    Counted("kernel_stack") => ["alloc_thread_stack_node"];
    Counted("page_tables") => ["__pte_alloc", "pte_alloc_one", "__pmd_alloc", "pmd_alloc_one", "__pud_alloc",
        "pud_alloc_one", "__p4d_alloc", "p4d_alloc_one", "pgd_alloc", "_pgd_alloc", "pagetable_alloc"];
    Counted("shmem") => ["shmem_alloc_folio", "shmem_alloc_and_add_folio", "shmem_get_folio", "shmem_swapin"];
    // do_fault allocates itself only for a private write fault (do_cow_fault,
    // often inlined); its page cache reads allocate under filemap_fault, an
    // inner frame that is found first.
    Counted("anon") => ["do_anonymous_page", "alloc_anon_folio", "do_huge_pmd_anonymous_page",
        "__do_huge_pmd_anonymous_page", "vma_alloc_anon_folio_pmd", "wp_page_copy", "do_wp_page", "do_cow_fault",
        "do_fault",
        "folio_prealloc", "do_huge_zero_wp_pmd", "do_swap_page"];
    Counted("file") => ["filemap_alloc_folio", "__filemap_get_folio", "page_cache_ra_unbounded",
        "page_cache_ra_order", "ra_alloc_folio", "__page_cache_alloc", "filemap_fault", "filemap_read"];
    Counted("hugetlb") => ["alloc_fresh_hugetlb_folio", "alloc_buddy_hugetlb_folio", "alloc_surplus_hugetlb_folio",
        "alloc_pool_huge_folio", "only_alloc_fresh_hugetlb_folio"];
    Counted("zswap") => ["zswap_"];
    Counted("socket_buffers") => ["tcp_", "udp_", "__udp_enqueue_schedule_skb"];
    AllocatorFor("vmalloc") => ["__vmalloc", "vmalloc", "vzalloc", "vm_area_alloc_pages", "vmalloc_huge"];
    AllocatorFor("percpu") => ["pcpu_alloc_pages", "pcpu_populate_chunk", "pcpu_create_chunk",
        "pcpu_balance_populated"];
    AllocatorFor("zram") => ["zs_malloc", "alloc_zspage"];
    Allocator => ["__alloc_pages", "alloc_pages", "__alloc_frozen_pages", "alloc_frozen_pages",
        "get_page_from_freelist", "__folio_alloc", "folio_alloc", "alloc_pages_mpol", "alloc_page_interleave",
        "vma_alloc_folio", "__get_free_pages", "get_zeroed_page", "alloc_pages_exact", "__page_frag_alloc",
        "page_frag_alloc", "__page_frag_cache_refill", "page_frag_cache_refill", "__napi_alloc_frag",
        "napi_alloc_frag", "netdev_alloc_frag", "kmalloc", "__kmalloc", "kmem_cache_alloc", "__kmem_cache_alloc",
        "slab_alloc", "__slab_alloc", "___slab_alloc", "alloc_from_pcs", "__pcs_replace_empty_main",
        "refill_objects", "kzalloc", "kcalloc", "krealloc", "__krealloc", "kvmalloc", "__kvmalloc", "kvzalloc",
        "kvrealloc", "kvcalloc", "kmemdup", "kstrdup", "kstrndup", "__do_kmalloc_node", "kmalloc_reserve",
        "__alloc_skb", "alloc_skb", "alloc_skb_with_frags", "sock_alloc_send_pskb", "__netdev_alloc_skb",
        "__napi_alloc_skb", "napi_alloc_skb", "skb_page_frag_refill", "sk_page_frag_refill", "mempool_alloc",
        "alloc_pages_bulk", "__alloc_pages_bulk"];
}

/// The role of a function, by [`FRAME_RULES`]; `None` for an ordinary
/// function (a candidate site).
pub fn frame_role(function: &str) -> Option<FrameRole> {
    let base = function.split('.').next().unwrap_or(function);
    FRAME_RULES.iter().find(|r| base.starts_with(r.prefix)).map(|r| r.role)
}

/// One symbolized frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Frame {
    /// Function name, or the address in hex when it could not be named.
    pub function: String,
    /// Module, when not the kernel image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
}

impl Frame {
    /// `function` or `function [module]`.
    pub fn label(&self) -> String {
        match &self.module {
            Some(m) => format!("{} [{m}]", self.function),
            None => self.function.clone(),
        }
    }

    fn role(&self) -> Option<FrameRole> {
        frame_role(&self.function)
    }
}

/// Name `addr` through kallsyms. Return addresses point after the call:
/// look up `addr - 1` so that a call at the very end of a function is not
/// named after the next one.
pub fn symbolize(kallsyms: &Kallsyms, addr: u64) -> Frame {
    match kallsyms.lookup(addr.saturating_sub(1)) {
        Some(r) => Frame { function: r.name.to_string(), module: r.module.map(str::to_string) },
        None => Frame { function: format!("0x{addr:x}"), module: None },
    }
}

/// An outstanding stack, symbolized and classified.
#[derive(Debug, Clone, Serialize)]
pub struct Stack {
    /// Page or slab.
    pub kind: AllocKind,
    /// Frames, innermost first, tracing frames removed.
    pub frames: Vec<Frame>,
    /// Whether the stack was recorded.
    pub stack: StackState,
    /// The process running when the memory was allocated (0: idle task).
    pub pid: u32,
    /// The ledger line these bytes are in (a key of
    /// [`ledger::CATEGORIES`], or `slab`), or `slab_backing` for pages the
    /// slab allocator took for objects that are counted themselves.
    pub category: &'static str,
    /// Index in `frames` of the site (first meaningful frame).
    #[serde(skip)]
    pub site_index: Option<usize>,
    /// Outstanding bytes (scaled by the sampling rate).
    pub bytes: u64,
    /// Outstanding allocations (scaled by the sampling rate).
    pub allocations: u64,
}

/// Category of pages the slab allocator took, when slab objects are
/// traced too (counted through the objects, left out of the totals).
pub const SLAB_BACKING: &str = "slab_backing";

/// Classify a symbolized stack: its ledger line and its site.
pub fn classify(kind: AllocKind, frames: &[Frame], what: What) -> (&'static str, Option<usize>) {
    let roles: Vec<Option<FrameRole>> = frames.iter().map(Frame::role).collect();
    let site = roles
        .iter()
        .position(|r| matches!(r, None | Some(Counted(_))))
        .or_else(|| (!frames.is_empty()).then(|| frames.len() - 1));
    let category = match kind {
        AllocKind::Slab => "slab",
        AllocKind::Page => {
            if roles.contains(&Some(SlabBacking)) {
                if what == What::All { SLAB_BACKING } else { "slab" }
            } else if let Some(c) = roles.iter().find_map(|r| match r {
                Some(Counted(c)) => Some(*c),
                _ => None,
            }) {
                c
            } else if let Some(c) = roles.iter().find_map(|r| match r {
                Some(AllocatorFor(c)) => Some(*c),
                _ => None,
            }) {
                c
            } else if frames.is_empty() {
                "unknown"
            } else {
                "unaccounted"
            }
        }
    };
    (category, site)
}

/// A caller of a site, with the callers above it.
#[derive(Debug, Clone, Serialize)]
pub struct CallerNode {
    /// The calling function.
    pub frame: Frame,
    /// Bytes through this path.
    pub bytes: u64,
    /// Allocations through this path.
    pub allocations: u64,
    /// Its callers, largest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub callers: Vec<CallerNode>,
}

/// The kernel code holding memory: the first meaningful frame of its
/// stacks, and who called it.
#[derive(Debug, Clone, Serialize)]
pub struct Site {
    /// The site's function.
    pub frame: Frame,
    /// Page or slab.
    pub kind: AllocKind,
    /// The ledger line the memory is in.
    pub category: &'static str,
    /// Outstanding bytes.
    pub bytes: u64,
    /// Outstanding allocations.
    pub allocations: u64,
    /// Callers, largest first (up to the tree depth).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub callers: Vec<CallerNode>,
    /// The processes that were running when the memory was allocated,
    /// largest first (at most [`SITE_PROCESSES`]).
    pub processes: Vec<SiteProcess>,
}

/// Processes listed per site.
pub const SITE_PROCESSES: usize = 3;

/// A process in whose context a site allocated memory that is still held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteProcess {
    /// Process id (0: the idle task, an allocation in an interrupt on an
    /// idle CPU).
    pub pid: u32,
    /// Its command name at the end of the window; `None` when it has exited.
    pub comm: Option<String>,
    /// Bytes allocated in its context and still held.
    pub bytes: u64,
}

impl SiteProcess {
    /// `comm[pid]`, `[pid] (exited)`, or `(idle/interrupt)`.
    pub fn label(&self) -> String {
        match (&self.comm, self.pid) {
            (_, 0) => "(idle or interrupt)".into(),
            (Some(c), p) => format!("{c}[{p}]"),
            (None, p) => format!("[{p}] (exited)"),
        }
    }
}

impl Site {
    /// `site ← caller ← caller` along the largest path, `depth` callers deep.
    pub fn path_label(&self, depth: usize) -> String {
        let mut s = self.frame.label();
        let mut node = self.callers.first();
        let mut n = 0;
        while let Some(c) = node {
            if n == depth {
                s.push_str(" ← …");
                break;
            }
            s.push_str(" ← ");
            s.push_str(&c.frame.label());
            node = c.callers.first();
            n += 1;
        }
        s
    }
}

/// One ledger line's growth over the window, beside the outstanding
/// allocations the trace puts in that line.
#[derive(Debug, Clone, Serialize)]
pub struct Growth {
    /// Ledger category key, or `slab` for reclaimable + unreclaimable slab.
    pub category: &'static str,
    /// Human name.
    pub label: &'static str,
    /// Bytes at the start of the window (`None`: unavailable).
    pub before_bytes: Option<i64>,
    /// Bytes at the end.
    pub after_bytes: Option<i64>,
    /// After − before.
    pub growth_bytes: Option<i64>,
    /// Outstanding bytes the trace attributes to this line.
    pub outstanding_bytes: u64,
    /// The largest site in this line, as `site ← caller`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_site: Option<String>,
    /// Bytes of that site.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_site_bytes: Option<u64>,
}

/// Ledger lines made of movable pages, not traced with `--kernel-only`.
const MOVABLE_LINES: &[&str] = &["anon", "file", "shmem"];

/// The lines compared, in ledger order.
const COMPARED: &[(&str, &str)] = &[
    ("anon", "anonymous (processes)"),
    ("file", "page cache"),
    ("shmem", "shmem / tmpfs"),
    ("slab", "slab"),
    ("kernel_stack", "kernel stacks"),
    ("page_tables", "page tables"),
    ("vmalloc", "vmalloc"),
    ("percpu", "percpu"),
    ("hugetlb", "hugetlb pool"),
    ("zswap", "zswap pool"),
    ("zram", "zram / other zsmalloc"),
    ("socket_buffers", "socket buffers"),
    ("unaccounted", "unaccounted"),
];

fn ledger_bytes(l: &Ledger, key: &str) -> Option<i64> {
    if key == "slab" {
        let r = l.bytes("slab_reclaimable");
        let u = l.bytes("slab_unreclaimable");
        return match (r, u) {
            (None, None) => None,
            (r, u) => Some(r.unwrap_or(0) + u.unwrap_or(0)),
        };
    }
    l.bytes(key)
}

/// Options of the analysis.
#[derive(Debug, Clone, Copy)]
pub struct TraceReportOptions {
    /// Sites holding less are summarized in one line.
    pub min_bytes: u64,
    /// Show at most this many sites.
    pub top: usize,
    /// Caller levels kept under each site.
    pub depth: usize,
    /// Ledger lines whose growth and outstanding bytes are both smaller
    /// are not shown (unaccounted and slab always are).
    pub growth_threshold_bytes: u64,
}

impl Default for TraceReportOptions {
    fn default() -> Self {
        TraceReportOptions { min_bytes: 256 << 10, top: 20, depth: 4, growth_threshold_bytes: 1 << 20 }
    }
}

/// Event counts and cost, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    /// Events the programs handled.
    pub events: u64,
    /// Events per second over the window.
    pub events_per_second: f64,
    /// Average time per event, nanoseconds (`None`: not measured).
    pub ns_per_event: Option<f64>,
    /// Share of one CPU the programs took over the window (`None`: not
    /// measured).
    pub cpu_fraction: Option<f64>,
}

/// The whole result of `memscope trace`.
#[derive(Debug, Clone, Serialize)]
pub struct TraceReport {
    /// Which allocators were traced.
    pub what: What,
    /// Length of the window, seconds.
    pub window_seconds: f64,
    /// One allocation in this many was recorded: figures are scaled by it.
    pub sample_every: u32,
    /// Outstanding bytes counted (slab backing pages left out when objects
    /// are traced).
    pub outstanding_bytes: u64,
    /// Outstanding allocations counted.
    pub outstanding_allocations: u64,
    /// Outstanding bytes per ledger line.
    pub by_category: BTreeMap<&'static str, u64>,
    /// The sites, largest first, holding at least `min_bytes`.
    pub sites: Vec<Site>,
    /// Sites below `min_bytes` (or beyond `top`): how many, and their bytes.
    pub other_sites: usize,
    /// Their bytes.
    pub other_sites_bytes: u64,
    /// Every stack (for `--folded` and JSON).
    pub stacks: Vec<Stack>,
    /// The ledger's growth beside the trace; empty when either ledger is
    /// missing.
    pub growth: Vec<Growth>,
    /// The one-sentence answer.
    pub headline: String,
    /// Tracer cost.
    pub cost: Cost,
    /// What the reader should know: losses, sampling, limits.
    pub notes: Vec<String>,
}

/// Build the report from a trace, the kernel symbols, the ledgers at the
/// start and end of the window, and the command names of the processes
/// still alive (by pid).
pub fn build(
    sample: &TraceSample,
    kallsyms: Option<&Kallsyms>,
    before: Option<&Ledger>,
    after: Option<&Ledger>,
    names: &HashMap<u32, String>,
    opts: &TraceReportOptions,
) -> TraceReport {
    let scale = sample.sample_every.max(1) as u64;
    let empty = Kallsyms::default();
    let ks = kallsyms.unwrap_or(&empty);
    let mut stacks: Vec<Stack> =
        sample.outstanding.iter().map(|o| symbolized(o, ks, sample.what, scale)).collect();
    stacks.sort_by_key(|s| std::cmp::Reverse(s.bytes));

    let mut by_category: BTreeMap<&'static str, u64> = BTreeMap::new();
    let (mut total, mut total_allocs) = (0u64, 0u64);
    for s in &stacks {
        *by_category.entry(s.category).or_default() += s.bytes;
        if s.category != SLAB_BACKING {
            total += s.bytes;
            total_allocs += s.allocations;
        }
    }

    let all_sites = group_sites(&stacks, opts.depth, names);
    let mut sites = Vec::new();
    let (mut other_sites, mut other_sites_bytes) = (0, 0);
    for s in all_sites {
        if s.category == SLAB_BACKING {
            continue;
        }
        if s.bytes >= opts.min_bytes && sites.len() < opts.top {
            sites.push(s);
        } else {
            other_sites += 1;
            other_sites_bytes += s.bytes;
        }
    }

    let mut growth = match (before, after) {
        (Some(b), Some(a)) => growth_rows(b, a, &by_category, &stacks, opts),
        _ => Vec::new(),
    };
    if sample.kernel_only {
        // Their pages were not traced: no outstanding figure to set beside.
        growth.retain(|g| !MOVABLE_LINES.contains(&g.category));
    }
    let headline = headline(&growth, total, sample);
    let cost = cost(sample);
    let notes = notes(sample, kallsyms, &by_category, before.is_some() && after.is_some());
    TraceReport {
        what: sample.what,
        window_seconds: sample.window_usec as f64 / 1e6,
        sample_every: sample.sample_every.max(1),
        outstanding_bytes: total,
        outstanding_allocations: total_allocs,
        by_category,
        sites,
        other_sites,
        other_sites_bytes,
        stacks,
        growth,
        headline,
        cost,
        notes,
    }
}

fn symbolized(o: &OutstandingStack, ks: &Kallsyms, what: What, scale: u64) -> Stack {
    let frames: Vec<Frame> =
        o.frames.iter().map(|a| symbolize(ks, *a)).filter(|f| f.role() != Some(Tracing)).collect();
    let (category, site_index) = classify(o.kind, &frames, what);
    Stack {
        kind: o.kind,
        frames,
        stack: o.stack,
        pid: o.pid,
        category,
        site_index,
        bytes: o.bytes.saturating_mul(scale),
        allocations: o.allocations.saturating_mul(scale),
    }
}

/// The site frame of a stack, or a placeholder naming why there is none.
fn site_frame(s: &Stack) -> Frame {
    match s.site_index.and_then(|i| s.frames.get(i)) {
        Some(f) => f.clone(),
        None => Frame {
            function: match s.stack {
                StackState::TableFull => "[stack not kept: stack table full]".into(),
                _ => "[stack not recorded]".into(),
            },
            module: None,
        },
    }
}

#[derive(Default)]
struct Trie {
    bytes: u64,
    allocations: u64,
    children: HashMap<Frame, Trie>,
}

impl Trie {
    fn add(&mut self, path: &[Frame], bytes: u64, allocations: u64, depth: usize) {
        self.bytes += bytes;
        self.allocations += allocations;
        if depth == 0 {
            return;
        }
        if let Some((first, rest)) = path.split_first() {
            self.children.entry(first.clone()).or_default().add(rest, bytes, allocations, depth - 1);
        }
    }
}

fn trie_nodes(t: Trie) -> Vec<CallerNode> {
    let mut nodes: Vec<CallerNode> = t
        .children
        .into_iter()
        .map(|(frame, child)| {
            let (bytes, allocations) = (child.bytes, child.allocations);
            CallerNode { frame, bytes, allocations, callers: trie_nodes(child) }
        })
        .collect();
    nodes.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.frame.cmp(&b.frame)));
    nodes
}

/// Group stacks by (site, kind, category), largest first, each with the
/// tree of its callers `depth` levels deep and the processes it allocated
/// for (`names`: command names by pid, for the processes still alive).
pub fn group_sites(stacks: &[Stack], depth: usize, names: &HashMap<u32, String>) -> Vec<Site> {
    type Group = (Trie, HashMap<u32, u64>);
    let mut groups: HashMap<(Frame, AllocKind, &'static str), Group> = HashMap::new();
    for s in stacks {
        let site = site_frame(s);
        let callers: &[Frame] = match s.site_index {
            Some(i) => s.frames.get(i + 1..).unwrap_or(&[]),
            None => &[],
        };
        let g = groups.entry((site, s.kind, s.category)).or_default();
        g.0.add(callers, s.bytes, s.allocations, depth);
        *g.1.entry(s.pid).or_default() += s.bytes;
    }
    let mut sites: Vec<Site> = groups
        .into_iter()
        .map(|((frame, kind, category), (t, pids))| {
            let (bytes, allocations) = (t.bytes, t.allocations);
            let mut processes: Vec<SiteProcess> = pids
                .into_iter()
                .map(|(pid, bytes)| SiteProcess { pid, comm: names.get(&pid).cloned(), bytes })
                .collect();
            processes.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.pid.cmp(&b.pid)));
            processes.truncate(SITE_PROCESSES);
            Site { frame, kind, category, bytes, allocations, callers: trie_nodes(t), processes }
        })
        .collect();
    sites.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.frame.cmp(&b.frame)));
    sites
}

pub(crate) fn growth_rows(
    before: &Ledger,
    after: &Ledger,
    by_category: &BTreeMap<&'static str, u64>,
    stacks: &[Stack],
    opts: &TraceReportOptions,
) -> Vec<Growth> {
    let sites = group_sites(stacks, 1, &HashMap::new());
    let mut rows = Vec::new();
    for (key, label) in COMPARED {
        let b = ledger_bytes(before, key);
        let a = ledger_bytes(after, key);
        let growth = match (b, a) {
            (Some(b), Some(a)) => Some(a - b),
            _ => None,
        };
        let outstanding = by_category.get(key).copied().unwrap_or(0);
        let always = matches!(*key, "unaccounted" | "slab");
        let big = growth.is_some_and(|g| g.unsigned_abs() >= opts.growth_threshold_bytes)
            || outstanding >= opts.growth_threshold_bytes;
        if !always && !big {
            continue;
        }
        let top = sites.iter().find(|s| s.category == *key);
        rows.push(Growth {
            category: key,
            label,
            before_bytes: b,
            after_bytes: a,
            growth_bytes: growth,
            outstanding_bytes: outstanding,
            top_site: top.map(|s| s.path_label(1)),
            top_site_bytes: top.map(|s| s.bytes),
        });
    }
    rows
}

fn pct(part: u64, whole: i64) -> String {
    if whole <= 0 {
        return "?".into();
    }
    format!("{:.0}%", part as f64 * 100.0 / whole as f64)
}

fn headline(growth: &[Growth], total: u64, sample: &TraceSample) -> String {
    let secs = sample.window_usec as f64 / 1e6;
    let window = if secs < 10.0 { format!("{secs:.1} s") } else { format!("{secs:.0} s") };
    let Some(u) = growth.iter().find(|g| g.category == "unaccounted") else {
        return format!(
            "{} outstanding from allocations made during the {window} window",
            fmt_bytes(total as i64)
        );
    };
    let on_uncounted = u.outstanding_bytes;
    let top = match (&u.top_site, u.top_site_bytes) {
        (Some(s), Some(b)) => format!(", most from {s} ({})", fmt_bytes(b as i64)),
        _ => String::new(),
    };
    match u.growth_bytes {
        Some(g) if g > 0 => format!(
            "unaccounted grew {} in {window}; {} of it is outstanding on paths no counter covers ({}){top}",
            fmt_bytes(g),
            fmt_bytes(on_uncounted.min(g as u64) as i64),
            pct(on_uncounted.min(g as u64), g),
        ),
        Some(g) => format!(
            "unaccounted did not grow in {window} ({}); {} is outstanding on paths no counter covers{top}",
            fmt_bytes(g),
            fmt_bytes(on_uncounted as i64),
        ),
        None => format!(
            "unaccounted is unavailable; {} is outstanding on paths no counter covers{top}",
            fmt_bytes(on_uncounted as i64)
        ),
    }
}

fn cost(sample: &TraceSample) -> Cost {
    let (events, run_ns) = sample.run_totals();
    let secs = (sample.window_usec as f64 / 1e6).max(1e-6);
    let measured = sample.run_time_measured && events > 0;
    Cost {
        events,
        events_per_second: events as f64 / secs,
        ns_per_event: measured.then(|| run_ns as f64 / events as f64),
        cpu_fraction: sample.run_time_measured.then(|| run_ns as f64 / 1e9 / secs),
    }
}

fn notes(
    sample: &TraceSample,
    kallsyms: Option<&Kallsyms>,
    by_category: &BTreeMap<&'static str, u64>,
    have_ledger: bool,
) -> Vec<String> {
    let c = &sample.counters;
    let mut n = Vec::new();
    if c.dropped_table_full > 0 {
        n.push(format!(
            "{} allocations ({}) were not recorded: the live-allocation table ({} entries) was full. Raise \
             --max-allocs, or record one in N with --sample N.",
            c.dropped_table_full,
            fmt_bytes(c.dropped_table_full_bytes as i64),
            sample.max_allocations
        ));
    }
    if c.stack_table_full > 0 {
        n.push(format!(
            "{} allocations were recorded without their stack: the stack table ({} stacks) was full. Raise \
             --max-stacks.",
            c.stack_table_full, sample.max_stacks
        ));
    }
    if c.stack_unwalkable > 0 {
        n.push(format!(
            "{} allocations were recorded without their stack: the kernel could not walk it.",
            c.stack_unwalkable
        ));
    }
    if c.dropped_busy > 0 || c.frees_failed > 0 {
        n.push(format!(
            "{} allocations and {} frees could not be applied to the table (its bucket was busy: an event in \
             an NMI or nested context): up to that many allocations are missing or shown although freed.",
            c.dropped_busy, c.frees_failed
        ));
    }
    let misses = sample.recursion_misses();
    if misses > 0 {
        n.push(format!(
            "{misses} events were missed because a BPF program was already running on that CPU (an \
             allocation or free in an interrupt during a traced event): up to that many allocations are \
             missing or shown although freed."
        ));
    }
    let (events, run_ns) = sample.run_totals();
    let busy = sample.run_time_measured && run_ns as f64 / 1e3 > 0.05 * sample.window_usec as f64;
    if busy && !sample.kernel_only && sample.sample_every == 1 {
        n.push(format!(
            "The tracer took {:.0}% of one CPU ({events} events, mostly walking stacks): --kernel-only skips user \
             pages and page cache, --sample N records one allocation in N.",
            run_ns as f64 / 1e1 / sample.window_usec as f64
        ));
    }
    if sample.kernel_only {
        n.push(format!(
            "Kernel allocations only: {} movable page allocations (user pages, page cache: __GFP_MOVABLE) were \
             not recorded, and the anonymous, page cache and shmem lines are left out of the comparison.",
            c.skipped_movable
        ));
    }
    if sample.sample_every > 1 {
        n.push(format!(
            "Sampling one allocation in {}: bytes and counts are estimates (recorded × {}).",
            sample.sample_every, sample.sample_every
        ));
    }
    if let Some(b) = by_category.get(SLAB_BACKING).filter(|b| **b > 0) {
        n.push(format!(
            "{} of pages the slab allocator took during the window are counted through the objects in them \
             (slab), not again as pages.",
            fmt_bytes(*b as i64)
        ));
    }
    match kallsyms {
        None => n.push("/proc/kallsyms could not be read: frames are shown as addresses.".into()),
        Some(k) if k.addresses_hidden => n.push(
            "/proc/kallsyms hides addresses (kernel.kptr_restrict): frames are shown as addresses. Run as \
             root with kernel.kptr_restrict at 0 or 1."
                .into(),
        ),
        _ => {}
    }
    if !have_ledger {
        n.push(
            "The ledger could not be built at the start or end of the window: no growth to compare.".into(),
        );
    }
    n.push(
        "Memory allocated before the window and freed during it is not shown; the ledger's growth is net of \
         it. Pages split after allocation are tracked by their first page."
            .into(),
    );
    if let Some(m) = sample.map_memory_bytes {
        n.push(format!(
            "The tracer's tables hold {} of kernel memory, allocated before the window opened.",
            fmt_bytes(m as i64)
        ));
    }
    if sample.mounted_tracefs {
        n.push("tracefs was not mounted: memscope mounted it to attach and unmounted it at once.".into());
    }
    n
}

/// Folded stacks for flame graphs (Brendan Gregg's `stackcollapse`
/// format): `kind;outermost;…;innermost bytes`, one line per distinct
/// stack, the value in bytes. Slab backing pages are left out when slab
/// objects are traced (they would count twice).
pub fn folded(report: &TraceReport) -> Vec<(String, u64)> {
    let mut lines: BTreeMap<String, u64> = BTreeMap::new();
    for s in &report.stacks {
        if s.category == SLAB_BACKING {
            continue;
        }
        let mut parts = vec![s.kind.name().to_string()];
        if s.frames.is_empty() {
            parts.push(site_frame(s).function);
        }
        parts.extend(s.frames.iter().rev().map(|f| f.label().replace(';', ":")));
        *lines.entry(parts.join(";")).or_default() += s.bytes;
    }
    let mut v: Vec<(String, u64)> = lines.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Human name of a category key used in the trace (ledger keys, `slab`,
/// `slab_backing`, `unknown`).
pub fn category_label(key: &str) -> &str {
    match key {
        "slab" => "slab",
        SLAB_BACKING => "slab (pages)",
        "unknown" => "unknown (no stack)",
        k => ledger::category(k).map(|c| c.label).unwrap_or(k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memscope_model::trace::{ProgramStats, TraceCounters};

    fn names() -> HashMap<u32, String> {
        HashMap::from([(4242, "writer".to_string())])
    }

    fn f(name: &str) -> Frame {
        Frame { function: name.into(), module: None }
    }

    const KALLSYMS: &str = "\
ffffffff81000000 T __alloc_frozen_pages_noprof
ffffffff81000100 T alloc_pages_mpol
ffffffff81000200 T alloc_pages_noprof
ffffffff81000300 t anon_pipe_write
ffffffff81000400 T vfs_write
ffffffff81000500 T ksys_write
ffffffff81000600 T do_syscall_64
ffffffff81000700 T allocate_slab
ffffffff81000800 T ___slab_alloc
ffffffff81000900 T __kmalloc_noprof
ffffffff81000a00 T seq_read_iter
ffffffff81000b00 T do_anonymous_page
ffffffff81000c00 T handle_mm_fault
ffffffffc0001000 t mydrv_alloc\t[mydrv]
ffffffffc0002000 t mydrv_ioctl\t[mydrv]
";

    fn stack(kind: AllocKind, frames: &[u64], bytes: u64, allocations: u64) -> OutstandingStack {
        OutstandingStack {
            kind,
            frames: frames.to_vec(),
            stack: if frames.is_empty() { StackState::Unwalkable } else { StackState::Recorded },
            pid: 4242,
            bytes,
            allocations,
        }
    }

    fn sample(what: What, outstanding: Vec<OutstandingStack>) -> TraceSample {
        TraceSample {
            what,
            started_at_unix_ms: 0,
            window_usec: 10_000_000,
            sample_every: 1,
            max_allocations: 1024,
            max_stacks: 64,
            stack_depth: 64,
            map_memory_bytes: Some(30 << 20),
            outstanding,
            counters: TraceCounters::default(),
            programs: vec![ProgramStats {
                name: "memscope_pg_al".into(),
                tracepoint: "kmem:mm_page_alloc".into(),
                id: 7,
                run_count: 1000,
                run_time_ns: 2_000_000,
                recursion_misses: 0,
            }],
            kernel_only: false,
            run_time_measured: true,
            mounted_tracefs: false,
        }
    }

    // Return addresses (+5: inside the function).
    const PIPE: [u64; 7] = [
        0xffffffff81000005,
        0xffffffff81000105,
        0xffffffff81000205,
        0xffffffff81000305,
        0xffffffff81000405,
        0xffffffff81000505,
        0xffffffff81000605,
    ];
    const SLAB_PAGE: [u64; 5] =
        [0xffffffff81000005, 0xffffffff81000705, 0xffffffff81000805, 0xffffffff81000905, 0xffffffff81000a05];
    const ANON: [u64; 3] = [0xffffffff81000005, 0xffffffff81000b05, 0xffffffff81000c05];
    const DRIVER: [u64; 3] = [0xffffffff81000205, 0xffffffffc0001005, 0xffffffffc0002005];

    #[test]
    fn roles_follow_the_table() {
        assert_eq!(frame_role("__alloc_frozen_pages_noprof"), Some(Allocator));
        assert_eq!(frame_role("kmem_cache_alloc_node_noprof"), Some(Allocator));
        assert_eq!(frame_role("allocate_slab"), Some(SlabBacking));
        assert_eq!(frame_role("__kmalloc_large_node_noprof"), Some(SlabBacking));
        assert_eq!(frame_role("copy_process.part.0"), None);
        assert_eq!(frame_role("tcp_sendmsg_locked"), Some(Counted("socket_buffers")));
        assert_eq!(frame_role("__vmalloc_node_range_noprof"), Some(AllocatorFor("vmalloc")));
        assert_eq!(frame_role("anon_pipe_write"), None);
        // Every category a rule names is a ledger line.
        for r in FRAME_RULES {
            if let Counted(c) | AllocatorFor(c) = r.role {
                assert!(ledger::category(c).is_some(), "{c}");
            }
        }
    }

    #[test]
    fn kernel_stack_beats_vmalloc_and_slab_backing_beats_all() {
        let frames = [
            f("__alloc_pages_noprof"),
            f("vm_area_alloc_pages"),
            f("alloc_thread_stack_node"),
            f("copy_process"),
        ];
        assert_eq!(classify(AllocKind::Page, &frames, What::All), ("kernel_stack", Some(2)));
        let frames =
            [f("__alloc_pages_noprof"), f("allocate_slab"), f("___slab_alloc"), f("do_anonymous_page")];
        assert_eq!(classify(AllocKind::Page, &frames, What::All).0, SLAB_BACKING);
        assert_eq!(classify(AllocKind::Page, &frames, What::Pages).0, "slab");
        assert_eq!(classify(AllocKind::Page, &[], What::All), ("unknown", None));
        // Only allocator frames (a truncated stack): the outermost is the site.
        assert_eq!(classify(AllocKind::Slab, &[f("kmalloc"), f("__kmalloc")], What::All), ("slab", Some(1)));
    }

    #[test]
    fn pipe_pages_are_unaccounted_and_grouped_at_the_pipe_writer() {
        let ks = Kallsyms::parse(KALLSYMS);
        let s = sample(
            What::All,
            vec![
                stack(AllocKind::Page, &PIPE, 64 << 20, 16384),
                stack(AllocKind::Page, &SLAB_PAGE, 8 << 20, 2048),
                stack(AllocKind::Slab, &SLAB_PAGE[2..], 6 << 20, 6144),
                stack(AllocKind::Page, &ANON, 2 << 20, 512),
                stack(AllocKind::Page, &DRIVER, 1 << 20, 256),
                stack(AllocKind::Page, &[], 4096, 1),
            ],
        );
        let r = build(&s, Some(&ks), None, None, &names(), &TraceReportOptions::default());
        // Slab backing pages are left out of the totals: the objects count.
        assert_eq!(r.outstanding_bytes, (64 << 20) + (6 << 20) + (2 << 20) + (1 << 20) + 4096);
        assert_eq!(r.by_category[SLAB_BACKING], 8 << 20);
        let top = &r.sites[0];
        assert_eq!(top.frame.function, "anon_pipe_write");
        assert_eq!((top.category, top.kind, top.allocations), ("unaccounted", AllocKind::Page, 16384));
        assert_eq!(top.path_label(2), "anon_pipe_write ← vfs_write ← ksys_write ← …");
        assert_eq!(
            top.processes,
            vec![SiteProcess { pid: 4242, comm: Some("writer".into()), bytes: 64 << 20 }]
        );
        assert_eq!(top.processes[0].label(), "writer[4242]");
        assert_eq!(SiteProcess { pid: 7, comm: None, bytes: 0 }.label(), "[7] (exited)");
        let slab = r.sites.iter().find(|s| s.kind == AllocKind::Slab).unwrap();
        assert_eq!(slab.frame.function, "seq_read_iter");
        let drv = r.sites.iter().find(|s| s.frame.function == "mydrv_alloc").unwrap();
        assert_eq!(drv.frame.label(), "mydrv_alloc [mydrv]");
        assert_eq!(drv.callers[0].frame.label(), "mydrv_ioctl [mydrv]");
        assert_eq!(
            r.sites.iter().find(|s| s.category == "anon").unwrap().frame.function,
            "do_anonymous_page"
        );
        // The 4 KiB without a stack is below --min-bytes: summarized.
        assert_eq!((r.other_sites, r.other_sites_bytes), (1, 4096));
        assert!(r.notes.iter().any(|n| n.contains("counted through the objects")));
        // 1000 events in 2 ms of a 10 s window: cheap, no advice.
        assert_eq!(r.cost.ns_per_event, Some(2000.0));
        assert!(!r.notes.iter().any(|n| n.contains("--kernel-only")));
    }

    #[test]
    fn folded_lines_go_root_first_with_bytes() {
        let ks = Kallsyms::parse(KALLSYMS);
        let s = sample(
            What::All,
            vec![stack(AllocKind::Page, &PIPE, 4096, 1), stack(AllocKind::Page, &SLAB_PAGE, 4096, 1)],
        );
        let r = build(&s, Some(&ks), None, None, &names(), &TraceReportOptions::default());
        let lines = folded(&r);
        assert_eq!(lines.len(), 1, "slab backing pages are not folded in `all` mode");
        assert_eq!(
            lines[0].0,
            "page;do_syscall_64;ksys_write;vfs_write;anon_pipe_write;alloc_pages_noprof;alloc_pages_mpol;\
             __alloc_frozen_pages_noprof"
        );
        assert_eq!(lines[0].1, 4096);
    }

    #[test]
    fn sampling_scales_and_says_so() {
        let ks = Kallsyms::parse(KALLSYMS);
        let mut s = sample(What::Pages, vec![stack(AllocKind::Page, &PIPE, 4096, 1)]);
        s.sample_every = 10;
        let r = build(
            &s,
            Some(&ks),
            None,
            None,
            &names(),
            &TraceReportOptions { min_bytes: 0, ..Default::default() },
        );
        assert_eq!((r.outstanding_bytes, r.sites[0].allocations), (40960, 10));
        assert!(r.notes.iter().any(|n| n.contains("estimates")));
    }

    #[test]
    fn a_costly_trace_says_how_to_lower_the_cost() {
        let mut s = sample(What::All, Vec::new());
        s.programs[0].run_count = 1_000_000;
        s.programs[0].run_time_ns = 1_500_000_000;
        let r = build(&s, None, None, None, &names(), &TraceReportOptions::default());
        assert!((r.cost.cpu_fraction.unwrap() - 0.15).abs() < 1e-9);
        assert!(
            r.notes.iter().any(|n| n.contains("15% of one CPU") && n.contains("--kernel-only")),
            "{:?}",
            r.notes
        );
        s.kernel_only = true;
        s.counters.skipped_movable = 77;
        let r = build(&s, None, None, None, &names(), &TraceReportOptions::default());
        assert!(r.notes.iter().any(|n| n.contains("77 movable page allocations")), "{:?}", r.notes);
    }

    #[test]
    fn losses_are_never_silent() {
        let mut s = sample(What::All, Vec::new());
        s.counters.dropped_table_full = 5;
        s.counters.dropped_table_full_bytes = 20480;
        s.counters.stack_table_full = 2;
        s.programs[0].recursion_misses = 3;
        let r = build(&s, None, None, None, &names(), &TraceReportOptions::default());
        let all = r.notes.join("\n");
        assert!(all.contains("5 allocations (20.0 KiB) were not recorded"), "{all}");
        assert!(all.contains("--max-allocs"));
        assert!(all.contains("--max-stacks"));
        assert!(all.contains("3 events were missed"));
        assert!(all.contains("/proc/kallsyms could not be read"));
    }

    fn ledger(unaccounted: i64, slab_unreclaimable: i64) -> Ledger {
        let line = |category: &'static str, bytes: i64| ledger::Line {
            category,
            name: None,
            parent: None,
            bytes: Some(bytes),
            source: ledger::Source::Derived,
            counter: None,
            reason: None,
            note: None,
        };
        Ledger {
            installed_bytes: 1 << 34,
            installed_source: ledger::InstalledSource::Iomem,
            mem_total_bytes: 1 << 34,
            unaccounted_bytes: unaccounted,
            lines: vec![
                line("slab_reclaimable", 100 << 20),
                line("slab_unreclaimable", slab_unreclaimable),
                line("unaccounted", unaccounted),
            ],
            notes: Vec::new(),
        }
    }

    #[test]
    fn growth_is_set_beside_the_ledger() {
        let ks = Kallsyms::parse(KALLSYMS);
        let s = sample(
            What::All,
            vec![
                stack(AllocKind::Page, &PIPE, 63 << 20, 16128),
                stack(AllocKind::Slab, &SLAB_PAGE[2..], 3 << 20, 30),
            ],
        );
        let (before, after) = (ledger(20 << 20, 50 << 20), ledger(84 << 20, 54 << 20));
        let r = build(&s, Some(&ks), Some(&before), Some(&after), &names(), &TraceReportOptions::default());
        let u = r.growth.iter().find(|g| g.category == "unaccounted").unwrap();
        assert_eq!((u.growth_bytes, u.outstanding_bytes), (Some(64 << 20), 63 << 20));
        assert_eq!(u.top_site.as_deref(), Some("anon_pipe_write ← vfs_write"));
        let slab = r.growth.iter().find(|g| g.category == "slab").unwrap();
        assert_eq!((slab.growth_bytes, slab.outstanding_bytes), (Some(4 << 20), 3 << 20));
        assert_eq!(
            r.headline,
            "unaccounted grew 64.0 MiB in 10 s; 63.0 MiB of it is outstanding on paths no counter covers (98%), \
             most from anon_pipe_write ← vfs_write (63.0 MiB)"
        );
        // Lines that neither grew nor hold outstanding memory are left out.
        assert!(r.growth.iter().all(|g| g.category != "anon"));
    }

    #[test]
    fn unaccounted_frames_are_addresses_without_symbols() {
        let ks = Kallsyms::parse("0000000000000000 T x\n");
        assert!(ks.addresses_hidden);
        assert_eq!(symbolize(&ks, 0xffffffff81000005).function, "0xffffffff81000005");
    }
}
