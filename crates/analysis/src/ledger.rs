//! The memory ledger: every byte of installed RAM, once, in signed lines.
//!
//! ```text
//! installed RAM (iomem "System RAM")
//! ├─ reserved before the buddy allocator = installed − MemTotal
//! │    kernel image · struct pages (estimate) · percpu first chunk · crash kernel · other
//! └─ MemTotal
//!      free · per-cpu free lists · anon · file · shmem · buffers · swap cache
//!      slab (reclaimable, unreclaimable) · other reclaimable kernel memory
//!      kernel stacks · page tables · secondary page tables · vmalloc · percpu
//!      hugetlb (per size) · zswap · zram · socket buffers · …
//!      unaccounted = MemTotal − all of the above   (signed)
//! ```
//!
//! Overlaps between counters, worked out from Documentation/filesystems/proc.rst
//! and mm/ sources, and what is done about each:
//! - `Cached` includes `Shmem` (and excludes `SwapCached`, `Buffers`): the
//!   page-cache line is `Cached − Shmem`.
//! - `KReclaimable` includes `SReclaimable`: the other-reclaimable line is
//!   the difference.
//! - `VmallocUsed` counts the pages of vmalloc'ed kernel stacks
//!   (CONFIG_VMAP_STACK) that `KernelStack` counts too: the stack areas seen in
//!   vmallocinfo are subtracted from the vmalloc line.
//! - `Percpu` includes the first chunk, allocated from memblock before
//!   `MemTotal` was counted: that part is moved under `reserved`.
//! - `nr_zspages` (all zsmalloc pages) includes the zswap pool (`Zswap`):
//!   the zram line is the difference.
//! - Socket buffer memory (sockstat `mem`) is skb truesize: heads and small
//!   buffers sit in slab caches, so the line may overlap slab (noted).
//! - `AnonPages` and `SwapCached` overlap for mapped anonymous pages that are
//!   also in the swap cache (noted when the swap cache is not empty).
//! - Per-cpu free lists are free memory that `MemFree` does not include.

use memscope_kernel::ReadError;
use memscope_kernel::parse::iomem::Iomem;
use memscope_kernel::parse::meminfo::Meminfo;
use memscope_kernel::parse::sysfs::page_size_name;
use memscope_kernel::parse::vmallocinfo::{VmallocArea, VmallocKind};
use memscope_model::Snapshot;
use serde::Serialize;

use crate::hints::{unavailable_reason, unavailable_reason_in};

/// Where a figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A kernel counter, read as is (converted to bytes).
    Measured,
    /// Arithmetic on kernel counters (the formula is in `counter`).
    Derived,
    /// Not available; `reason` says why.
    Unavailable,
}

impl Source {
    /// Name used in output.
    pub fn name(self) -> &'static str {
        match self {
            Source::Measured => "measured",
            Source::Derived => "derived",
            Source::Unavailable => "unavailable",
        }
    }
}

/// A ledger category: one definition drives the table, JSON, metrics and help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    /// Stable key (`slab_reclaimable`): JSON `category`, metric label.
    pub key: &'static str,
    /// Label for tables.
    pub label: &'static str,
    /// Key of the line this one details (not summed), if any.
    pub parent: Option<&'static str>,
    /// What it is, in one sentence.
    pub help: &'static str,
}

macro_rules! categories {
    ($( $key:literal, $label:literal, $parent:expr, $help:literal; )*) => {
        /// Every category, in ledger order.
        pub const CATEGORIES: &[Category] = &[
            $( Category { key: $key, label: $label, parent: $parent, help: $help }, )*
        ];
    };
}

categories! {
    "reserved", "reserved before boot", None,
        "Installed RAM the kernel never manages: firmware, kernel image, struct pages, early allocations (installed − MemTotal).";
    "kernel_image", "kernel image", Some("reserved"),
        "Kernel code, rodata, data and bss (iomem).";
    "struct_pages", "struct page array (est.)", Some("reserved"),
        "64 bytes of page metadata per 4 KiB of RAM, allocated before MemTotal is counted (estimate).";
    "percpu_first_chunk", "percpu first chunk", Some("reserved"),
        "Static per-CPU variables, carved from memblock at boot (boot log × possible CPUs).";
    "crash_kernel", "crash kernel", Some("reserved"),
        "Memory reserved for kdump (crashkernel=).";
    "reserved_other", "other reservations", Some("reserved"),
        "Firmware tables, early page tables and other memblock allocations.";
    "free", "free", None,
        "Pages on the buddy allocator's free lists (MemFree).";
    "free_pcp", "per-cpu free lists", None,
        "Free pages cached on each CPU's lists; not in MemFree (zoneinfo pagesets).";
    "anon", "anonymous (processes)", None,
        "Mapped anonymous memory: heaps, stacks, private writable pages (AnonPages).";
    "file", "page cache", None,
        "File contents cached in memory (Cached − Shmem).";
    "shmem", "shmem / tmpfs", None,
        "tmpfs files, shared anonymous mappings, SysV and POSIX shared memory (Shmem).";
    "buffers", "block device buffers", None,
        "Page cache of raw block devices: file system metadata (Buffers).";
    "swap_cache", "swap cache", None,
        "Pages that are both in memory and in swap (SwapCached).";
    "slab_reclaimable", "slab, reclaimable", None,
        "Kernel object caches the kernel can shrink: dentries, inodes (SReclaimable).";
    "slab_unreclaimable", "slab, unreclaimable", None,
        "Kernel object caches in use: kmalloc, network, file structures (SUnreclaim).";
    "slab_cache", "cache", Some("slab"),
        "One slab cache's slabs (slabinfo num_slabs × pagesperslab).";
    "kernel_misc_reclaimable", "other reclaimable kernel", None,
        "Reclaimable kernel memory outside slab (KReclaimable − SReclaimable).";
    "kernel_stack", "kernel stacks", None,
        "One stack per thread (KernelStack).";
    "page_tables", "page tables", None,
        "Process page tables (PageTables).";
    "sec_page_tables", "secondary page tables", None,
        "KVM and IOMMU page tables (SecPageTables).";
    "vmalloc", "vmalloc", None,
        "Pages backing vmalloc areas, without vmalloc'ed kernel stacks (VmallocUsed − stacks). ioremap is not RAM.";
    "vmalloc_caller", "caller", Some("vmalloc"),
        "Pages allocated by one vmalloc caller (vmallocinfo).";
    "percpu", "percpu", None,
        "Dynamic per-CPU allocations (Percpu − first chunk).";
    "hugetlb", "hugetlb pool", None,
        "Huge pages reserved in a pool, used or free (nr_hugepages × size, per size).";
    "zswap", "zswap pool", None,
        "Compressed swap cache in RAM (Zswap).";
    "zram", "zram / other zsmalloc", None,
        "zsmalloc pages not in the zswap pool: zram devices (nr_zspages − Zswap).";
    "socket_buffers", "socket buffers", None,
        "Memory charged to sockets: TCP and UDP (sockstat mem) and IP fragments.";
    "unaccepted", "unaccepted", None,
        "Memory of a confidential VM not yet accepted from the host (Unaccepted).";
    "balloon", "balloon", None,
        "Pages taken by the virtio balloon driver (Balloon).";
    "bounce", "bounce buffers", None,
        "Bounce buffers for devices that cannot reach all of memory (Bounce).";
    "writeback_tmp", "FUSE writeback", None,
        "Temporary pages of FUSE writeback (WritebackTmp).";
    "shadow_call_stack", "shadow call stacks", None,
        "arm64 shadow call stacks (ShadowCallStack).";
    "unaccounted", "unaccounted", None,
        "MemTotal minus every counter above: kernel memory no counter shows (pipe and driver buffers, page frags, leaks).";
    "zfs_arc", "ZFS ARC (at most)", Some("unaccounted"),
        "The ZFS adaptive replacement cache: counted as used by meminfo, mostly outside every counter, partly reclaimable.";
}

/// The category with this key.
pub fn category(key: &str) -> Option<&'static Category> {
    CATEGORIES.iter().find(|c| c.key == key)
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// Category key.
    pub category: &'static str,
    /// Sub-name: a cache, a caller, a page size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The line this one details, if any. Lines with a parent are not part
    /// of the sum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<&'static str>,
    /// Bytes, signed; `None` when unavailable.
    pub bytes: Option<i64>,
    /// Where the figure comes from.
    pub source: Source,
    /// The counter or formula.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    /// Why the figure is unavailable, and what would make it available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Anything a reader should know about this line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Line {
    fn new(category: &'static str, bytes: i64, source: Source, counter: impl Into<String>) -> Line {
        Line {
            category,
            name: None,
            parent: category_parent(category),
            bytes: Some(bytes),
            source,
            counter: Some(counter.into()),
            reason: None,
            note: None,
        }
    }

    fn unavailable(category: &'static str, reason: impl Into<String>) -> Line {
        Line {
            category,
            name: None,
            parent: category_parent(category),
            bytes: None,
            source: Source::Unavailable,
            counter: None,
            reason: Some(reason.into()),
            note: None,
        }
    }

    fn with_note(mut self, note: impl Into<String>) -> Line {
        self.note = Some(note.into());
        self
    }

    fn with_name(mut self, name: impl Into<String>) -> Line {
        self.name = Some(name.into());
        self
    }

    fn with_parent(mut self, parent: &'static str) -> Line {
        self.parent = Some(parent);
        self
    }

    /// The category's definition.
    pub fn def(&self) -> &'static Category {
        category(self.category).expect("every line uses a defined category")
    }

    /// True for a line that is part of the sum (no parent).
    pub fn is_top(&self) -> bool {
        self.parent.is_none()
    }
}

fn category_parent(key: &str) -> Option<&'static str> {
    category(key).and_then(|c| c.parent).filter(|p| *p != "slab")
}

/// How installed RAM was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InstalledSource {
    /// `System RAM` ranges of `/proc/iomem`.
    Iomem,
    /// `System RAM` entries of `/sys/firmware/memmap`.
    FirmwareMemmap,
    /// Neither was readable: MemTotal stands in, `reserved` is unavailable.
    MemTotal,
}

/// The ledger.
#[derive(Debug, Clone, Serialize)]
pub struct Ledger {
    /// Installed RAM in bytes.
    pub installed_bytes: u64,
    /// How installed RAM was found.
    pub installed_source: InstalledSource,
    /// `MemTotal`.
    pub mem_total_bytes: u64,
    /// The signed remainder.
    pub unaccounted_bytes: i64,
    /// Lines in ledger order; details follow their parent.
    pub lines: Vec<Line>,
    /// Plain-language notes on what the numbers say.
    pub notes: Vec<String>,
}

impl Ledger {
    /// Sum of the lines that are part of the ledger (no parent).
    pub fn top_sum(&self) -> i64 {
        saturating_sum(self.lines.iter().filter(|l| l.is_top()).filter_map(|l| l.bytes))
    }

    /// The first top-level line of a category.
    pub fn line(&self, key: &str) -> Option<&Line> {
        self.lines.iter().find(|l| l.category == key && l.is_top())
    }

    /// Bytes of the first top-level line of a category.
    pub fn bytes(&self, key: &str) -> Option<i64> {
        self.line(key).and_then(|l| l.bytes)
    }
}

/// Why the ledger could not be built at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// `/proc/meminfo` or its `MemTotal` is not available.
    #[error("no ledger without MemTotal: {0}")]
    NoMemTotal(ReadError),
}

/// How many slab caches and vmalloc callers to list under their lines.
#[derive(Debug, Clone, Copy)]
pub struct LedgerOptions {
    /// Top slab caches by size.
    pub top_caches: usize,
    /// Top vmalloc callers by pages.
    pub top_callers: usize,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions { top_caches: 5, top_callers: 5 }
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// More RAM than any machine can address: 4 PiB, the 52-bit physical
/// address space of x86_64 (5-level paging) and arm64 (LPA). A figure above
/// it is corrupt input, never memory.
pub const MAX_RAM_BYTES: u64 = 1 << 52;

/// The page size to compute with: the recorded one when it is a page size
/// a kernel can have ([`memscope_kernel::root::is_valid_page_size`]), else
/// 4 KiB (the ledger says which, in a note).
pub fn usable_page_size(recorded: Option<u64>) -> u64 {
    recorded.filter(|p| memscope_kernel::root::is_valid_page_size(*p)).unwrap_or(4096)
}

fn saturating_sum(it: impl Iterator<Item = i64>) -> i64 {
    it.fold(0, i64::saturating_add)
}

/// The file a line's counter comes from, for a note.
fn counter_file(counter: &str) -> &'static str {
    let first = counter.split([' ', '_']).next().unwrap_or("");
    match first {
        "zoneinfo" => "/proc/zoneinfo",
        "slabinfo" => "/proc/slabinfo",
        "vmallocinfo" => "/proc/vmallocinfo",
        "iomem" | "installed" => "/proc/iomem",
        "sockstat" => "/proc/net/sockstat",
        "nr" if counter.starts_with("nr_hugepages") => "/sys/kernel/mm/hugepages",
        "nr" => "/proc/vmstat",
        "arcstats" => "/proc/spl/kstat/zfs/arcstats",
        _ => memscope_kernel::paths::MEMINFO,
    }
}

/// Turn every figure that cannot be true into an unavailable line with a
/// note naming the file and field: a part of MemTotal larger than MemTotal,
/// a part of the boot-time reservation larger than installed RAM, or a
/// negative size (only `unaccounted` may be negative).
fn invalidate_impossible(lines: &mut [Line], mem_total: u64, installed: u64) {
    for l in lines.iter_mut() {
        let Some(b) = l.bytes else { continue };
        let in_reserved = l.category == "reserved" || l.parent == Some("reserved");
        let (bound, bound_name) =
            if in_reserved { (installed, "installed RAM") } else { (mem_total, "MemTotal") };
        let counter = l.counter.clone().unwrap_or_default();
        let reason = if l.category == "unaccounted" {
            continue;
        } else if b < 0 {
            format!(
                "invalid: {} `{counter}` gives {}, a negative size; the file is corrupt and is not believed",
                counter_file(&counter),
                crate::fmt_bytes(b)
            )
        } else if b as u64 > bound {
            format!(
                "invalid: {} `{counter}` gives {}, more than {bound_name} ({}); the file is corrupt or \
                 not from this machine, and is not believed",
                counter_file(&counter),
                crate::fmt_bytes(b),
                crate::fmt_bytes(to_i64(bound))
            )
        } else {
            continue;
        };
        l.bytes = None;
        l.source = Source::Unavailable;
        l.reason = Some(reason);
        l.counter = None;
    }
}

/// Functions on the thread-creation path that allocate kernel stacks with
/// vmalloc (CONFIG_VMAP_STACK); which one vmallocinfo names depends on what
/// the compiler inlined (kernel/fork.c `alloc_thread_stack_node`).
const STACK_CALLERS: &[&str] =
    &["alloc_thread_stack_node", "dup_task_struct", "copy_process", "kernel_clone", "_do_fork", "do_fork"];

/// True for a vmalloc area holding a kernel stack: its pages are counted in
/// both `VmallocUsed` and `KernelStack`.
pub fn is_stack_area(a: &VmallocArea) -> bool {
    a.kind() == VmallocKind::Vmalloc
        && a.caller_function().is_some_and(|f| {
            let f = f.split('.').next().unwrap_or(f); // copy_process.part.0
            STACK_CALLERS.contains(&f)
        })
}

/// Build the ledger from a snapshot.
pub fn build(snap: &Snapshot, opts: &LedgerOptions) -> Result<Ledger, LedgerError> {
    let m: &Meminfo = snap.meminfo.as_ref().map_err(|e| LedgerError::NoMemTotal(e.clone()))?;
    let mem_total = m.get("MemTotal").ok_or_else(|| {
        LedgerError::NoMemTotal(ReadError::missing_field(memscope_kernel::paths::MEMINFO, "MemTotal"))
    })?;
    let mut notes = Vec::new();
    if mem_total > MAX_RAM_BYTES {
        return Err(LedgerError::NoMemTotal(ReadError::Parse {
            path: memscope_kernel::paths::MEMINFO.to_string(),
            line: 0,
            item: format!(
                "MemTotal ({}): more than any machine can address (4 PiB); invalid",
                crate::fmt_bytes(to_i64(mem_total))
            ),
        }));
    }
    let page = match snap.page_size_bytes {
        Some(p) if memscope_kernel::root::is_valid_page_size(p) => p,
        Some(p) => {
            notes.push(format!(
                "The recorded page size ({p} bytes) is invalid (not a power of two from 4 KiB to 1 GiB); \
                 4 KiB is assumed."
            ));
            4096
        }
        None => {
            notes.push(
                "The page size is not recorded in this tree (or its MANIFEST page_size is invalid); \
                 4 KiB is assumed."
                    .to_string(),
            );
            4096
        }
    };
    let mut lines: Vec<Line> = Vec::new();

    // ---- installed RAM and what was reserved before MemTotal was counted.
    let (installed, installed_source) = installed_ram(snap);
    let (installed, installed_source) = match installed {
        Some(i) if i > MAX_RAM_BYTES => {
            notes.push(format!(
                "The {} map shows {} of RAM, more than any machine can address (4 PiB): invalid; MemTotal \
                 is used as installed RAM.",
                installed_source_name(installed_source),
                crate::fmt_bytes(to_i64(i))
            ));
            (mem_total, InstalledSource::MemTotal)
        }
        Some(i) if i >= mem_total => (i, installed_source),
        Some(i) => {
            notes.push(format!(
                "The {} map shows {} of RAM, less than MemTotal: memory was added after boot \
                 (hotplug, balloon deflation); MemTotal is used as installed RAM.",
                installed_source_name(installed_source),
                crate::fmt_bytes(to_i64(i))
            ));
            (mem_total, InstalledSource::MemTotal)
        }
        None => (mem_total, InstalledSource::MemTotal),
    };
    if installed_source == InstalledSource::MemTotal {
        lines.push(Line::unavailable("reserved", installed_unavailable_reason(snap)));
    } else {
        let reserved = to_i64(installed - mem_total);
        lines.push(Line::new("reserved", reserved, Source::Derived, "installed − MemTotal"));
        lines.extend(reserved_details(snap, installed, reserved, page, &mut notes));
    }

    // ---- MemTotal, split.
    let meminfo_line = |key: &'static str, field: &str| -> Option<Line> {
        m.get(field).map(|b| Line::new(key, to_i64(b), Source::Measured, field))
    };
    let core = |key: &'static str, field: &str| -> Line {
        meminfo_line(key, field).unwrap_or_else(|| Line::unavailable(key, m.missing_reason(field)))
    };

    lines.push(core("free", "MemFree"));
    lines.push(match &snap.zoneinfo {
        Ok(z) => {
            let pcp: Option<u64> =
                z.zones.iter().filter_map(|z| z.pcp_pages()).reduce(|a, b| a.saturating_add(b));
            match pcp {
                Some(p) => Line::new(
                    "free_pcp",
                    to_i64(p.saturating_mul(page)),
                    Source::Measured,
                    "zoneinfo pagesets count",
                ),
                None => Line::unavailable("free_pcp", "zoneinfo has no per-cpu page counts on this kernel"),
            }
        }
        Err(e) => Line::unavailable("free_pcp", unavailable_reason(e)),
    });
    lines.push(core("anon", "AnonPages"));
    lines.push(match (m.get("Cached"), m.get("Shmem")) {
        (Some(c), Some(s)) => {
            Line::new("file", to_i64(c).saturating_sub(to_i64(s)), Source::Derived, "Cached − Shmem")
        }
        (Some(c), None) => Line::new("file", to_i64(c), Source::Measured, "Cached")
            .with_note("Shmem is not reported: this line includes shared memory"),
        _ => Line::unavailable("file", m.missing_reason("Cached")),
    });
    lines.push(core("shmem", "Shmem"));
    lines.push(core("buffers", "Buffers"));
    let swap_cache = core("swap_cache", "SwapCached");
    if swap_cache.bytes.unwrap_or(0) > 0 {
        notes.push(
            "Some pages are in the swap cache: mapped anonymous pages among them count in both \
             `anonymous` and `swap cache`, so `unaccounted` may be understated by up to the swap cache."
                .to_string(),
        );
    }
    lines.push(swap_cache);

    // Slab, split when the kernel splits it, with the largest caches.
    match (m.get("SReclaimable"), m.get("SUnreclaim")) {
        (Some(r), Some(u)) => {
            let (r, u) = (to_i64(r), to_i64(u));
            lines.push(Line::new("slab_reclaimable", r, Source::Measured, "SReclaimable"));
            lines.extend(slab_caches(snap, page, opts, SlabGroup::Reclaimable, r, &mut notes));
            lines.push(Line::new("slab_unreclaimable", u, Source::Measured, "SUnreclaim"));
            lines.extend(slab_caches(snap, page, opts, SlabGroup::Unreclaimable, u, &mut notes));
            let unknown = slab_caches(snap, page, opts, SlabGroup::Unknown, r + u, &mut notes);
            if !unknown.is_empty() {
                notes.push(
                    "Some slab caches' reclaimability is unknown (/sys/kernel/slab is not readable or not in \
                     this tree): they are listed under slab as a whole, not under either line."
                        .to_string(),
                );
            }
            lines.extend(unknown);
        }
        _ => match m.get("Slab") {
            Some(s) => {
                lines.push(
                    Line::new("slab_unreclaimable", to_i64(s), Source::Measured, "Slab")
                        .with_note("this kernel does not split slab: reclaimable caches are included"),
                );
                lines.extend(slab_caches(snap, page, opts, SlabGroup::All, to_i64(s), &mut notes));
            }
            None => lines.push(Line::unavailable("slab_unreclaimable", m.missing_reason("Slab"))),
        },
    }
    if let (Some(k), Some(r)) = (m.get("KReclaimable"), m.get("SReclaimable")) {
        lines.push(Line::new(
            "kernel_misc_reclaimable",
            to_i64(k).saturating_sub(to_i64(r)),
            Source::Derived,
            "KReclaimable − SReclaimable",
        ));
    }
    let kernel_stack = core("kernel_stack", "KernelStack");
    let stack_bytes = kernel_stack.bytes.unwrap_or(0);
    lines.push(kernel_stack);
    lines.push(core("page_tables", "PageTables"));
    if let Some(l) = meminfo_line("sec_page_tables", "SecPageTables") {
        lines.push(l);
    }
    lines.extend(vmalloc_lines(snap, m, stack_bytes, page, opts));
    lines.push(percpu_line(snap, m, page));
    lines.extend(hugetlb_lines(snap, m));
    if let Some(l) = meminfo_line("zswap", "Zswap") {
        lines.push(l);
    }
    if let Some(l) = zram_line(snap, m, page) {
        lines.push(l);
    }
    lines.push(socket_line(snap, page));
    for (key, field) in [
        ("unaccepted", "Unaccepted"),
        ("balloon", "Balloon"),
        ("bounce", "Bounce"),
        ("writeback_tmp", "WritebackTmp"),
        ("shadow_call_stack", "ShadowCallStack"),
    ] {
        if let Some(l) = meminfo_line(key, field) {
            let l = if key == "balloon" && l.bytes.unwrap_or(0) > 0 {
                l.with_note(
                    "counted inside MemTotal, as the balloon driver does when it may deflate on OOM; \
                     otherwise these pages belong to `reserved`",
                )
            } else {
                l
            };
            lines.push(l);
        }
    }

    invalidate_impossible(&mut lines, mem_total, installed);

    // ---- the remainder.
    let known: i64 = saturating_sum(
        lines.iter().filter(|l| l.is_top() && l.category != "reserved").filter_map(|l| l.bytes),
    );
    let unaccounted = to_i64(mem_total).saturating_sub(known);
    lines.push(Line::new("unaccounted", unaccounted, Source::Derived, "MemTotal − every line above"));
    if let Ok(arc) = &snap.arcstats
        && let Some(size) = arc.size_bytes()
    {
        lines.push(Line::new("zfs_arc", to_i64(size), Source::Measured, "arcstats size").with_note(format!(
            "reclaimable down to c_min = {}",
            arc.min_bytes().map(|b| crate::fmt_bytes(to_i64(b))).unwrap_or_else(|| "?".into())
        )));
        invalidate_impossible(&mut lines, mem_total, installed);
    }

    let ledger = Ledger {
        installed_bytes: installed,
        installed_source,
        mem_total_bytes: mem_total,
        unaccounted_bytes: unaccounted,
        lines,
        notes,
    };
    Ok(ledger)
}

fn installed_source_name(s: InstalledSource) -> &'static str {
    match s {
        InstalledSource::Iomem => "/proc/iomem",
        InstalledSource::FirmwareMemmap => "firmware memory",
        InstalledSource::MemTotal => "MemTotal",
    }
}

fn installed_ram(snap: &Snapshot) -> (Option<u64>, InstalledSource) {
    if let Some(b) = snap.iomem.as_ref().ok().and_then(Iomem::system_ram_bytes) {
        return (Some(b), InstalledSource::Iomem);
    }
    if let Some(Ok(ranges)) = &snap.firmware_memmap {
        let ram: u64 = ranges
            .iter()
            .filter(|r| r.kind == "System RAM")
            .map(|r| r.end.saturating_sub(r.start).saturating_add(1))
            .sum();
        if ram > 0 {
            return (Some(ram), InstalledSource::FirmwareMemmap);
        }
    }
    (None, InstalledSource::MemTotal)
}

fn installed_unavailable_reason(snap: &Snapshot) -> String {
    match &snap.iomem {
        Ok(i) if i.redacted() => {
            "installed RAM unknown: /proc/iomem shows addresses only to root (CAP_SYS_ADMIN) \
             and /sys/firmware/memmap is not readable"
                .to_string()
        }
        Ok(_) => "installed RAM unknown: /proc/iomem lists no System RAM".to_string(),
        Err(e) => format!("installed RAM unknown: {}", unavailable_reason(e)),
    }
}

fn reserved_details(
    snap: &Snapshot,
    installed: u64,
    reserved: i64,
    page: u64,
    notes: &mut Vec<String>,
) -> Vec<Line> {
    let mut out = Vec::new();
    if let Ok(iomem) = &snap.iomem {
        let parts = ["Kernel code", "Kernel rodata", "Kernel data", "Kernel bss"];
        let found: Vec<u64> = parts.iter().filter_map(|p| iomem.inside_ram_bytes(p)).collect();
        if !found.is_empty() {
            out.push(Line::new(
                "kernel_image",
                to_i64(found.iter().sum()),
                Source::Measured,
                "iomem Kernel code + rodata + data + bss",
            ));
        }
        if let Some(c) = iomem.inside_ram_bytes("Crash kernel") {
            out.push(Line::new("crash_kernel", to_i64(c), Source::Measured, "iomem Crash kernel"));
        }
    }
    // struct page is 64 bytes on 64-bit kernels in their usual configurations
    // and 32 bytes on 32-bit ones (include/linux/mm_types.h: five words and
    // two 32-bit counters, plus alignment); the memmap covers all of RAM. A
    // vmalloc area under 4 GiB (VmallocTotal) means a 32-bit kernel.
    let bits32 = snap.meminfo.as_ref().ok().and_then(|m| m.get("VmallocTotal")).is_some_and(|v| v < 4 << 30);
    let per_page = if bits32 { 32 } else { 64 };
    let struct_pages = to_i64((installed / page).saturating_mul(per_page));
    out.push(
        Line::new(
            "struct_pages",
            struct_pages,
            Source::Derived,
            format!("installed pages × {per_page} bytes"),
        )
        .with_note(if bits32 {
            "estimate: sizeof(struct page) is 32 bytes on common 32-bit configurations (VmallocTotal \
                 under 4 GiB: a 32-bit kernel)"
        } else {
            "estimate: sizeof(struct page) is 64 bytes on common 64-bit configurations"
        }),
    );
    if let (Ok(per_cpu), Ok(cpus)) = (&snap.percpu_first_chunk_pages, &snap.possible_cpus) {
        out.push(Line::new(
            "percpu_first_chunk",
            to_i64(per_cpu.saturating_mul(*cpus).saturating_mul(page)),
            Source::Derived,
            format!("{per_cpu} pages/cpu (boot log) × {cpus} possible CPUs"),
        ));
    }
    let known: i64 = saturating_sum(out.iter().filter_map(|l| l.bytes));
    if known <= reserved {
        out.push(Line::new(
            "reserved_other",
            reserved - known,
            Source::Derived,
            "reserved − the lines above",
        ));
    } else {
        notes.push(format!(
            "The known parts of the boot-time reservation add up to {} more than installed − MemTotal: \
             the struct page estimate is too high for this kernel.",
            crate::fmt_bytes(known - reserved)
        ));
    }
    out
}

/// Which slab caches a group of detail lines lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlabGroup {
    /// Caches known to be reclaimable (`reclaim_account` 1), under
    /// `slab_reclaimable`.
    Reclaimable,
    /// Caches known not to be, under `slab_unreclaimable`.
    Unreclaimable,
    /// Caches whose flag is unknown (no `/sys/kernel/slab`: sosreports and
    /// most captures lack it), under `slab`: reclaimable and unreclaimable
    /// together.
    Unknown,
    /// Every cache, under `slab_unreclaimable` holding all of `Slab` (a
    /// kernel that does not split slab).
    All,
}

/// The largest slab caches of one group, as detail lines. Their sum never
/// exceeds `parent_bytes`: slabinfo and meminfo are read at different
/// moments, and a cache that would push the details past their parent is
/// left out (and said so in `notes`).
fn slab_caches(
    snap: &Snapshot,
    page: u64,
    opts: &LedgerOptions,
    group: SlabGroup,
    parent_bytes: i64,
    notes: &mut Vec<String>,
) -> Vec<Line> {
    let parent = match group {
        SlabGroup::Reclaimable => "slab_reclaimable",
        SlabGroup::Unreclaimable | SlabGroup::All => "slab_unreclaimable",
        SlabGroup::Unknown => "slab",
    };
    match &snap.slabinfo {
        Ok(s) => {
            let mut caches: Vec<_> = s
                .caches
                .iter()
                .filter(|c| {
                    let flag = snap.slab_reclaimable.get(&c.name).copied();
                    match group {
                        SlabGroup::Reclaimable => flag == Some(true),
                        SlabGroup::Unreclaimable => flag == Some(false),
                        SlabGroup::Unknown => flag.is_none(),
                        SlabGroup::All => true,
                    }
                })
                .map(|c| (c.bytes(page), c))
                .filter(|(b, _)| *b > 0)
                .collect();
            caches.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
            let mut out = Vec::new();
            let mut sum = 0i64;
            let mut left_out = 0usize;
            for (b, c) in caches.into_iter().take(opts.top_caches) {
                let b = to_i64(b);
                if sum + b > parent_bytes {
                    left_out += 1;
                    continue;
                }
                sum += b;
                let mut line = Line::new("slab_cache", b, Source::Measured, "slabinfo")
                    .with_name(c.name.clone())
                    .with_parent(parent);
                if group == SlabGroup::Unknown {
                    line = line
                        .with_note("reclaimable or not: unknown (no /sys/kernel/slab/NAME/reclaim_account)");
                }
                out.push(line);
            }
            if left_out > 0 {
                notes.push(format!(
                    "{} larger than what meminfo counts for {parent} ({}) left out of its details: slabinfo and \
                     meminfo were read at different moments, or disagree.",
                    crate::units::count(left_out, "slab cache", "slab caches"),
                    crate::fmt_bytes(parent_bytes)
                ));
            }
            out
        }
        Err(_) if group != SlabGroup::Unreclaimable && group != SlabGroup::All => Vec::new(),
        Err(e) => vec![
            Line::unavailable("slab_cache", unavailable_reason_in(e, snap.live))
                .with_name("largest caches")
                .with_parent(parent),
        ],
    }
}

/// What meminfo's `VmallocUsed` counts on a kernel.
///
/// Before 4.4 it is the vmalloc *address space* in use, ioremap included
/// (not RAM); from 4.4 to 5.2 the kernel prints 0 (commit a5ad88ce8c7f "mm:
/// get rid of 'vmalloc_info' from /proc/meminfo"); since 5.3 it counts the
/// pages backing vmalloc areas (commit 97105f0ab7b8 "mm: vmalloc: show
/// number of vmalloc pages in /proc/meminfo").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmallocUsed {
    /// Pages backing vmalloc areas (5.3 and later).
    Pages,
    /// Hard-wired to 0 (4.4 to 5.2).
    Zero,
    /// Address space in use, ioremap included (before 4.4).
    AddressSpace,
    /// The kernel release is unknown: it cannot be told.
    Unknown,
}

impl VmallocUsed {
    /// The meaning on the kernel of `release` (`None`: unknown).
    pub fn on(release: Option<&str>) -> VmallocUsed {
        match release.and_then(kernel_version) {
            Some(v) if v >= (5, 3) => VmallocUsed::Pages,
            Some(v) if v >= (4, 4) => VmallocUsed::Zero,
            Some(_) => VmallocUsed::AddressSpace,
            None => VmallocUsed::Unknown,
        }
    }

    /// Why the counter cannot stand for vmalloc pages, or `None` when it can.
    pub fn why_not_pages(self) -> Option<&'static str> {
        match self {
            VmallocUsed::Pages => None,
            VmallocUsed::Zero => Some("VmallocUsed is hard-wired to 0 on kernels 4.4 to 5.2"),
            VmallocUsed::AddressSpace => Some(
                "VmallocUsed counts vmalloc address space (ioremap included), not RAM, before kernel 4.4",
            ),
            VmallocUsed::Unknown => Some(
                "the kernel release is unknown (no osrelease, /proc/version or MANIFEST kernel:), so what \
                 VmallocUsed counts cannot be told (address space before 4.4, 0 until 5.2, pages since 5.3)",
            ),
        }
    }
}

/// The base of the vmalloc line: the counter where it counts pages (and is
/// not 0 while vmallocinfo lists pages), else the pages vmallocinfo lists
/// outside ioremap. `(bytes, name)`.
pub fn vmalloc_base(used: Option<u64>, meaning: VmallocUsed, info_pages_bytes: u64) -> (u64, &'static str) {
    match used {
        Some(u) if meaning == VmallocUsed::Pages && (u > 0 || info_pages_bytes == 0) => (u, "VmallocUsed"),
        _ => (info_pages_bytes, "vmallocinfo pages"),
    }
}

fn vmalloc_lines(
    snap: &Snapshot,
    m: &Meminfo,
    stack_bytes: i64,
    page: u64,
    opts: &LedgerOptions,
) -> Vec<Line> {
    let mut out = Vec::new();
    let meaning = VmallocUsed::on(snap.kernel.as_ref().ok().map(String::as_str));
    let used = m.get("VmallocUsed");
    match &snap.vmallocinfo {
        Ok(v) => {
            let vm_pages: u64 = v
                .areas
                .iter()
                .filter(|a| a.kind() != VmallocKind::Ioremap)
                .filter_map(|a| a.pages)
                .fold(0, u64::saturating_add);
            let stack_pages: u64 = v
                .areas
                .iter()
                .filter(|a| is_stack_area(a))
                .filter_map(|a| a.pages)
                .fold(0, u64::saturating_add);
            let ioremap: u64 = v
                .areas
                .iter()
                .filter(|a| a.kind() == VmallocKind::Ioremap)
                .map(|a| a.size_bytes)
                .fold(0, u64::saturating_add);
            let (base, base_name) = vmalloc_base(used, meaning, vm_pages.saturating_mul(page));
            let base = to_i64(base);
            // Never more than the base: the line is not negative.
            let overlap = to_i64(stack_pages.saturating_mul(page)).min(stack_bytes).min(base).max(0);
            let mut line = Line::new(
                "vmalloc",
                base.saturating_sub(overlap),
                Source::Derived,
                format!("{base_name} − vmalloc'ed kernel stacks ({})", crate::fmt_bytes(overlap)),
            );
            if ioremap > 0 {
                line = line.with_note(format!(
                    "{} of ioremap areas map device memory, not RAM, and are not counted",
                    crate::fmt_bytes(to_i64(ioremap))
                ));
            }
            out.push(line);
            let mut callers: std::collections::BTreeMap<String, u64> = Default::default();
            for a in v.areas.iter().filter(|a| a.kind() != VmallocKind::Ioremap && !is_stack_area(a)) {
                if let (Some(f), Some(p)) = (a.caller_function(), a.pages) {
                    let c = callers.entry(f.to_string()).or_default();
                    *c = c.saturating_add(p);
                }
            }
            let mut callers: Vec<_> = callers.into_iter().collect();
            callers.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            for (f, p) in callers.into_iter().take(opts.top_callers) {
                out.push(
                    Line::new(
                        "vmalloc_caller",
                        to_i64(p.saturating_mul(page)),
                        Source::Measured,
                        "vmallocinfo pages",
                    )
                    .with_name(f),
                );
            }
        }
        Err(e) => match (used, meaning.why_not_pages()) {
            (Some(u), None) if to_i64(u) >= stack_bytes => out.push(
                Line::new(
                    "vmalloc",
                    to_i64(u).saturating_sub(stack_bytes),
                    Source::Derived,
                    "VmallocUsed − KernelStack",
                )
                .with_note(format!(
                    "assumes kernel stacks are vmalloc'ed (CONFIG_VMAP_STACK, the x86_64 and arm64 default); \
                         callers unavailable: {}",
                    unavailable_reason_in(e, snap.live)
                )),
            ),
            // More stack than vmalloc pages: the stacks are not (all)
            // vmalloc'ed on this kernel, so nothing is counted twice.
            (Some(u), None) => {
                out.push(Line::new("vmalloc", to_i64(u), Source::Measured, "VmallocUsed").with_note(format!(
                    "KernelStack exceeds VmallocUsed, so kernel stacks are not vmalloc'ed here \
                     (no CONFIG_VMAP_STACK); callers unavailable: {}",
                    unavailable_reason_in(e, snap.live)
                )))
            }
            (Some(_), Some(why)) => out.push(Line::unavailable(
                "vmalloc",
                format!("{why}, and vmallocinfo is unavailable: {}", unavailable_reason_in(e, snap.live)),
            )),
            (None, _) => out.push(Line::unavailable(
                "vmalloc",
                format!(
                    "{}, and vmallocinfo is unavailable: {}",
                    m.missing_reason("VmallocUsed"),
                    unavailable_reason_in(e, snap.live)
                ),
            )),
        },
    }
    out
}

/// `6.18.44-fc-v669` → (6, 18); `None` when the release does not start
/// with two numbers.
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    memscope_kernel::parse::release::version(release)
}

fn percpu_line(snap: &Snapshot, m: &Meminfo, page: u64) -> Line {
    let Some(p) = m.get("Percpu") else {
        return Line::unavailable("percpu", m.missing_reason("Percpu"));
    };
    match (&snap.percpu_first_chunk_pages, &snap.possible_cpus) {
        (Ok(per_cpu), Ok(cpus)) => {
            let first = to_i64(per_cpu.saturating_mul(*cpus).saturating_mul(page));
            Line::new("percpu", to_i64(p).saturating_sub(first), Source::Derived, "Percpu − first chunk")
        }
        (Err(e), _) | (_, Err(e)) => Line::new("percpu", to_i64(p), Source::Measured, "Percpu").with_note(format!(
            "includes the boot-time first chunk, which lies outside MemTotal, so `unaccounted` is understated \
             by about 200 KiB per possible CPU ({})",
            unavailable_reason(e)
        )),
    }
}

fn hugetlb_lines(snap: &Snapshot, m: &Meminfo) -> Vec<Line> {
    if let Ok(pools) = &snap.hugepages
        && !pools.is_empty()
    {
        return pools
            .iter()
            .map(|p| {
                let name = page_size_name(p.page_size_bytes);
                match p.nr_hugepages {
                    Some(n) => {
                        let free = p.free_hugepages.unwrap_or(0);
                        let line = Line::new(
                            "hugetlb",
                            to_i64(n.saturating_mul(p.page_size_bytes)),
                            Source::Measured,
                            format!("nr_hugepages × {name}"),
                        )
                        .with_name(name.clone());
                        if n == 0 {
                            return line;
                        }
                        line.with_note(format!(
                            "{n} pages of {name}: {} in use, {free} free, {} reserved, {} surplus",
                            n.saturating_sub(free),
                            p.resv_hugepages.unwrap_or(0),
                            p.surplus_hugepages.unwrap_or(0)
                        ))
                    }
                    None => Line::unavailable("hugetlb", "nr_hugepages unreadable").with_name(name),
                }
            })
            .collect();
    }
    match (m.get("Hugetlb"), m.count("HugePages_Total"), m.get("Hugepagesize")) {
        (Some(h), _, _) => vec![Line::new("hugetlb", to_i64(h), Source::Measured, "Hugetlb")],
        (None, Some(n), Some(sz)) => {
            vec![Line::new(
                "hugetlb",
                to_i64(n.saturating_mul(sz)),
                Source::Derived,
                "HugePages_Total × Hugepagesize",
            )]
        }
        _ => vec![Line::unavailable("hugetlb", "no hugetlb counters on this kernel")],
    }
}

fn zram_line(snap: &Snapshot, m: &Meminfo, page: u64) -> Option<Line> {
    let zspages = snap.vmstat.as_ref().ok()?.get("nr_zspages")?;
    let zswap = m.get("Zswap").unwrap_or(0);
    let all = zspages.saturating_mul(page);
    Some(if all >= zswap {
        Line::new("zram", to_i64(all - zswap), Source::Derived, "nr_zspages − Zswap")
    } else {
        Line::new("zram", 0, Source::Derived, "nr_zspages − Zswap")
            .with_note("the zswap pool is not in zsmalloc on this kernel (zbud/z3fold)")
    })
}

fn socket_line(snap: &Snapshot, page: u64) -> Line {
    match &snap.sockstat {
        Ok(s) => {
            let tcp = s.get("TCP", "mem").unwrap_or(0);
            let udp = s.get("UDP", "mem").unwrap_or(0);
            let frag = s.get("FRAG", "memory").unwrap_or(0);
            let frag6 = snap.sockstat6.as_ref().ok().and_then(|s| s.get("FRAG6", "memory")).unwrap_or(0);
            Line::new(
                "socket_buffers",
                to_i64(
                    tcp.saturating_add(udp).saturating_mul(page).saturating_add(frag).saturating_add(frag6),
                ),
                Source::Measured,
                "sockstat TCP mem + UDP mem (pages) + FRAG memory",
            )
            .with_note("skb heads and small buffers live in slab caches: this line may overlap slab")
        }
        Err(e) => Line::unavailable("socket_buffers", unavailable_reason(e)),
    }
}
