//! What one refresh shows: the analysis of one snapshot, computed on the
//! worker thread so that drawing never waits for `/proc`.
//!
//! Each tab takes its part of [`View`], built by the same analysis as the
//! command of that name (`memscope slab`, `vmalloc`, `zones`); a further
//! tab adds one field here and one module in `tabs/`.

use std::collections::{BTreeMap, BTreeSet};

use memscope_analysis::fds::{self, FdReport, FdReportOptions};
use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::ledger::{self, Ledger, LedgerOptions};
use memscope_analysis::memcg::{self, CgroupRow};
use memscope_analysis::pressure::PressureView;
use memscope_analysis::processes::{self, ProcessRow, ProcessTotals};
use memscope_analysis::slab::{self, SlabOptions, SlabSort, SlabView};
use memscope_analysis::units::escape_controls;
use memscope_analysis::vmalloc::{self, VmallocView};
use memscope_analysis::zones::{self, ZonesOptions, ZonesView};
use memscope_kernel::{KernelRoot, users};
use memscope_model::{ProcessScan, Snapshot};

/// vmalloc callers the tab lists under the kinds.
pub const VMALLOC_CALLERS: usize = 10;

/// The memory cgroups of a snapshot, as a tree.
#[derive(Debug, Clone)]
pub struct Cgroups {
    /// Every cgroup read, parents first ([`memcg::rows`]).
    pub rows: Vec<CgroupRow>,
    /// Memory cgroups in the hierarchy (more than `rows` when only the
    /// processes' cgroups and their ancestors were read).
    pub total: usize,
}

/// The analysis of one snapshot.
#[derive(Debug, Clone)]
pub struct View {
    /// Snapshot time, ms since the Unix epoch.
    pub taken_at_unix_ms: u64,
    /// Kernel release.
    pub kernel: Option<String>,
    /// The ledger, or why there is none.
    pub ledger: Result<Ledger, String>,
    /// Every process with user memory (unsorted: the table sorts).
    pub processes: Vec<ProcessRow>,
    /// Process totals.
    pub totals: ProcessTotals,
    /// How the process scan went.
    pub scan: ProcessScan,
    /// Slab caches, largest first (the `slab` command's view).
    pub slab: SlabView,
    /// vmalloc by kind and the largest callers (the `vmalloc` command's view).
    pub vmalloc: VmallocView,
    /// Zones against their watermarks (the `zones` command's view), or why
    /// there are none.
    pub zones: Result<ZonesView, String>,
    /// The fd doctor's report (every process, closest to its limit first);
    /// `None` when the snapshot holds no descriptor counts.
    pub fds: Option<FdReport>,
    /// The memory cgroups, or why they could not be read; `None` when the
    /// snapshot holds none.
    pub cgroups: Option<Result<Cgroups, String>>,
    /// Memory pressure (PSI), or why it is unavailable.
    pub pressure: PressureView,
    /// User names of the processes' uids, as `memscope ps` shows them
    /// (read on the running system only; a captured tree's stay numbers).
    pub user_names: BTreeMap<u32, String>,
}

/// A name from the machine made safe for the screen: control characters
/// (a process can name itself `"\e[2J"`) become visible escapes, as in every
/// other human output ([`memscope_analysis::units::escape_controls`]).
fn safe(s: &mut String) {
    if let std::borrow::Cow::Owned(e) = escape_controls(s) {
        *s = e;
    }
}

impl View {
    /// The user name of `uid`, else the number (as `memscope ps`).
    pub fn user_name(&self, uid: u32) -> String {
        self.user_names.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
    }

    /// Analyse one snapshot. Every name shown on screen (commands, caches,
    /// callers, cgroups, the kernel release) is escaped here, once.
    pub fn new(snap: &Snapshot) -> View {
        let mut v = View::analyse(snap);
        v.kernel.iter_mut().for_each(safe);
        v.processes.iter_mut().for_each(|p| safe(&mut p.comm));
        v.user_names.values_mut().for_each(safe);
        v.slab.caches.iter_mut().for_each(|c| safe(&mut c.name));
        for c in &mut v.vmalloc.callers {
            safe(&mut c.caller);
            c.module.iter_mut().for_each(safe);
        }
        if let Some(f) = &mut v.fds {
            f.processes.iter_mut().for_each(|p| safe(&mut p.comm));
        }
        if let Some(Ok(c)) = &mut v.cgroups {
            c.rows.iter_mut().for_each(|r| {
                safe(&mut r.name);
                safe(&mut r.path);
            });
        }
        v
    }

    fn analyse(snap: &Snapshot) -> View {
        let ledger =
            ledger::build(snap, &LedgerOptions { top_caches: 0, top_callers: 0 }).map_err(|e| e.to_string());
        let processes = processes::rows(snap);
        let user_names = if snap.live {
            let uids: BTreeSet<u32> = processes.iter().filter_map(|p| p.uid).collect();
            users::names(&KernelRoot::live(), uids)
        } else {
            BTreeMap::new()
        };
        let totals = processes::totals(snap, &processes);
        View {
            taken_at_unix_ms: snap.taken_at_unix_ms,
            kernel: snap.kernel.as_ref().ok().cloned(),
            ledger,
            processes,
            totals,
            scan: snap.scan.clone(),
            slab: slab::from_snapshot(snap, &SlabOptions { sort: SlabSort::Size, top: None, all: false }),
            vmalloc: vmalloc::from_snapshot(snap, VMALLOC_CALLERS),
            zones: zones::from_snapshot(snap, &ZonesOptions::default()),
            fds: memscope_model::fds::from_snapshot(snap)
                .map(|f| fds::build(&f, &FdReportOptions { top: usize::MAX })),
            cgroups: snap.cgroups.as_ref().map(|c| match c {
                Ok(c) => Ok(Cgroups { rows: memcg::rows(c), total: c.total }),
                Err(e) => Err(unavailable_reason(e)),
            }),
            pressure: PressureView::system(snap),
            user_names,
        }
    }
}
