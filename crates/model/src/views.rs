//! What each detail view shows, collected in one pass over a [`KernelRoot`].
//!
//! Each view (`memscope zones`, `slab`, `numa`, `vmalloc`, `maps`,
//! `trace --allocinfo`, and the symbols of `trace`) has one function here
//! that reads every file it shows and returns a plain data struct: each part
//! a [`Sample`], the parsed file or the [`ReadError`] saying why it could not
//! be had. The analysis turns it into the view; the cli only chooses and
//! prints.
//!
//! ```text
//!  KernelRoot ──zones()/slab()/numa()/vmalloc()/allocinfo()──▶ ZonesView, SlabView, …
//!             ──maps(pid)──▶ MapsView                (per process: not captured)
//!             ──trace_symbols(sample)──▶ TraceSymbols (live tracing only)
//! ```
//!
//! [`Views::collect`] reads every view that a captured tree can answer:
//! [`crate::capture`] calls it through its recording root, so that a tree
//! holds exactly what these functions read, and a reader added to one of
//! them is captured without any edit of the capture.

use std::collections::HashMap;

use memscope_kernel::parse::allocinfo::Allocinfo;
use memscope_kernel::parse::buddyinfo::Buddyinfo;
use memscope_kernel::parse::kallsyms::Kallsyms;
use memscope_kernel::parse::meminfo::Meminfo;
use memscope_kernel::parse::pagetypeinfo::Pagetypeinfo;
use memscope_kernel::parse::pid::maps::Maps;
use memscope_kernel::parse::pid::numa_maps::NumaMaps;
use memscope_kernel::parse::pid::smaps_rollup::SmapsRollup;
use memscope_kernel::parse::slabinfo::Slabinfo;
use memscope_kernel::parse::sys_slab::SlabSysfs;
use memscope_kernel::parse::vmallocinfo::Vmallocinfo;
use memscope_kernel::parse::vmstat::Vmstat;
use memscope_kernel::parse::zoneinfo::Zoneinfo;
use memscope_kernel::read::NodeMemory;
use memscope_kernel::{KernelRoot, ReadError, paths};

use crate::Sample;
use crate::trace::TraceSample;

/// `memscope zones`: free pages against watermarks, the buddy free lists and
/// their migrate types.
#[derive(Debug, Clone, PartialEq)]
pub struct ZonesView {
    /// `/proc/zoneinfo`.
    pub zoneinfo: Sample<Zoneinfo>,
    /// `/proc/buddyinfo`.
    pub buddyinfo: Sample<Buddyinfo>,
    /// `/proc/pagetypeinfo` (root only on current kernels).
    pub pagetypeinfo: Sample<Pagetypeinfo>,
    /// Base page size in bytes: the running kernel's, or the one recorded
    /// in a captured tree's MANIFEST (`None`: not recorded).
    pub page_size_bytes: Option<u64>,
}

/// Read what `memscope zones` shows.
pub fn zones(root: &KernelRoot) -> ZonesView {
    ZonesView {
        zoneinfo: root.zoneinfo(),
        buddyinfo: root.buddyinfo(),
        pagetypeinfo: root.pagetypeinfo(),
        page_size_bytes: root.page_size(),
    }
}

/// `memscope slab`: the slab caches, with SLUB's merge aliases and flags.
#[derive(Debug, Clone, PartialEq)]
pub struct SlabView {
    /// `/proc/slabinfo`.
    pub slabinfo: Sample<Slabinfo>,
    /// `/sys/kernel/slab` for the caches of `slabinfo`; when `slabinfo`
    /// could not be read, the same error (there are no names to look up).
    pub sysfs: Sample<SlabSysfs>,
    /// `/proc/meminfo` (the kernel's own slab totals).
    pub meminfo: Sample<Meminfo>,
    /// Base page size in bytes ([`ZonesView::page_size_bytes`]).
    pub page_size_bytes: Option<u64>,
}

/// Read what `memscope slab` shows.
pub fn slab(root: &KernelRoot) -> SlabView {
    let slabinfo = root.slabinfo();
    let sysfs = match &slabinfo {
        Ok(s) => root.slab_sysfs(s.caches.iter().map(|c| c.name.as_str())),
        Err(e) => Err(e.clone()),
    };
    SlabView { slabinfo, sysfs, meminfo: root.meminfo(), page_size_bytes: root.page_size() }
}

/// `memscope numa`: memory per node and, for the processes asked for,
/// their pages per node.
#[derive(Debug, Clone, PartialEq)]
pub struct NumaView {
    /// `/sys/devices/system/node/node*` (`NotReported` without NUMA support).
    pub nodes: Sample<Vec<NodeMemory>>,
    /// `/proc/meminfo`.
    pub meminfo: Sample<Meminfo>,
    /// Each node's `numastat` allocation counters.
    pub numastat: Sample<Vec<(u32, Vmstat)>>,
    /// The processes asked for, in the order asked.
    pub processes: Vec<NumaProcess>,
    /// Base page size in bytes ([`ZonesView::page_size_bytes`]).
    pub page_size_bytes: Option<u64>,
}

/// One process of [`NumaView`].
#[derive(Debug, Clone, PartialEq)]
pub struct NumaProcess {
    /// Process id.
    pub pid: u32,
    /// The command name, from `/proc/PID/stat`.
    pub comm: Sample<String>,
    /// `/proc/PID/numa_maps`.
    pub numa_maps: Sample<NumaMaps>,
}

/// Read what `memscope numa` shows, with the processes `pids`.
pub fn numa(root: &KernelRoot, pids: &[u32]) -> NumaView {
    let processes = pids
        .iter()
        .map(|&pid| NumaProcess {
            pid,
            comm: root.pid_stat(pid).map(|s| s.comm),
            numa_maps: root.pid_numa_maps(pid),
        })
        .collect();
    NumaView {
        nodes: root.nodes(),
        meminfo: root.meminfo(),
        numastat: root.numastat(),
        processes,
        page_size_bytes: root.page_size(),
    }
}

/// Every process's id and command name (from `/proc/PID/stat`), for
/// choosing processes by a pattern; processes whose `stat` cannot be read
/// are left out.
pub fn command_names(root: &KernelRoot) -> Vec<(u32, String)> {
    root.pids()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| Some((p, root.pid_stat(p).ok()?.comm)))
        .collect()
}

/// `memscope vmalloc`: the vmalloc areas.
#[derive(Debug, Clone, PartialEq)]
pub struct VmallocView {
    /// `/proc/vmallocinfo`.
    pub vmallocinfo: Sample<Vmallocinfo>,
    /// `/proc/meminfo` (`VmallocUsed` to compare with).
    pub meminfo: Sample<Meminfo>,
    /// Kernel release: what `VmallocUsed` means changed over the releases.
    pub kernel: Sample<String>,
    /// Base page size in bytes ([`ZonesView::page_size_bytes`]).
    pub page_size_bytes: Option<u64>,
}

/// Read what `memscope vmalloc` shows.
pub fn vmalloc(root: &KernelRoot) -> VmallocView {
    VmallocView {
        vmallocinfo: root.vmallocinfo(),
        meminfo: root.meminfo(),
        kernel: root.osrelease(),
        page_size_bytes: root.page_size(),
    }
}

/// `memscope maps PID`: one process's mappings and its rollup.
#[derive(Debug, Clone, PartialEq)]
pub struct MapsView {
    /// Process id.
    pub pid: u32,
    /// The command name: from `/proc/PID/stat`, else the `Name` of
    /// `/proc/PID/status`; the error of `stat` when neither has it
    /// ([`ReadError::Gone`] when the process does not exist).
    pub comm: Sample<String>,
    /// `/proc/PID/smaps_rollup`.
    pub rollup: Sample<SmapsRollup>,
    /// `/proc/PID/smaps`.
    pub smaps: Sample<Maps>,
}

/// Read what `memscope maps PID` shows. The rollup is read first: it is
/// the cheaper walk of the page tables, and both are compared.
pub fn maps(root: &KernelRoot, pid: u32) -> MapsView {
    let comm = match root.pid_stat(pid) {
        Ok(s) => Ok(s.comm),
        Err(e @ ReadError::Gone { .. }) => Err(e),
        Err(e) => root.pid_status(pid).ok().and_then(|s| s.text.get("Name").cloned()).ok_or(e),
    };
    let rollup = root.pid_smaps_rollup(pid);
    let smaps = root.pid_smaps(pid);
    MapsView { pid, comm, rollup, smaps }
}

/// `memscope trace --allocinfo`: the kernel's per-call-site allocation
/// counters (memory allocation profiling, 6.10+).
#[derive(Debug, Clone, PartialEq)]
pub struct AllocinfoView {
    /// `/proc/allocinfo`.
    pub allocinfo: Sample<Allocinfo>,
    /// `/proc/sys/vm/mem_profiling`, as the kernel writes it.
    pub mem_profiling: Sample<String>,
}

/// Read what `memscope trace --allocinfo` shows (one reading; a window
/// reads again).
pub fn allocinfo(root: &KernelRoot) -> AllocinfoView {
    AllocinfoView { allocinfo: root.allocinfo(), mem_profiling: root.read_text(paths::MEM_PROFILING) }
}

/// What `memscope trace` adds to a trace sample to show it: kernel symbol
/// names, and the command names of the processes still alive.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSymbols {
    /// `/proc/kallsyms`.
    pub kallsyms: Sample<Kallsyms>,
    /// Command name by pid, for the processes of the sample still alive.
    pub names: HashMap<u32, String>,
}

/// Read what `memscope trace` needs to name the addresses and processes of
/// `sample`. Only a live trace has a sample, so a captured tree never needs
/// these files: [`Views::collect`] leaves them out.
pub fn trace_symbols(root: &KernelRoot, sample: &TraceSample) -> TraceSymbols {
    let mut names = HashMap::new();
    for o in &sample.outstanding {
        if o.pid != 0
            && !names.contains_key(&o.pid)
            && let Ok(st) = root.pid_stat(o.pid)
        {
            names.insert(o.pid, st.comm);
        }
    }
    TraceSymbols { kallsyms: root.kallsyms(), names }
}

/// Every view a captured tree can answer, read in one pass. `maps` is per
/// process and reads `smaps`, which the process scan does not: it is not
/// here, and a tree answers `maps` only where it holds the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Views {
    /// [`zones`].
    pub zones: ZonesView,
    /// [`slab`].
    pub slab: SlabView,
    /// [`numa`], without processes.
    pub numa: NumaView,
    /// [`vmalloc`].
    pub vmalloc: VmallocView,
    /// [`allocinfo`].
    pub allocinfo: AllocinfoView,
}

impl Views {
    /// Read every view.
    pub fn collect(root: &KernelRoot) -> Views {
        Views {
            zones: zones(root),
            slab: slab(root),
            numa: numa(root, &[]),
            vmalloc: vmalloc(root),
            allocinfo: allocinfo(root),
        }
    }
}
