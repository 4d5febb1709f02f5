//! What one refresh shows: the analysis of one snapshot, computed on the
//! worker thread so that drawing never waits for `/proc`.
//!
//! Each tab takes its part of [`View`]; a further tab (cgroups, fds, when
//! their analysis lands) adds one field here and one module in `tabs/`.

use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::ledger::{self, Ledger, LedgerOptions};
use memscope_analysis::processes::{self, ProcessRow, ProcessTotals};
use memscope_kernel::parse::vmallocinfo::VmallocKind;
use memscope_model::{ProcessScan, Snapshot};

/// One slab cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlabRow {
    /// Cache name.
    pub name: String,
    /// Memory held by its slabs.
    pub bytes: u64,
    /// Memory of the objects in use.
    pub active_bytes: u64,
    /// Objects in use.
    pub active_objs: u64,
    /// Object size.
    pub objsize: u64,
}

/// vmalloc areas of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmallocRow {
    /// Kind name (`vmalloc`, `ioremap`, …).
    pub kind: &'static str,
    /// Areas.
    pub areas: u64,
    /// RAM behind them (`pages=`), when the kernel prints it for this kind.
    pub bytes: Option<u64>,
    /// Address space, guard pages included.
    pub address_space_bytes: u64,
}

/// One populated zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRow {
    /// NUMA node.
    pub node: u32,
    /// Zone name.
    pub zone: String,
    /// Free.
    pub free_bytes: Option<u64>,
    /// Managed by the buddy allocator.
    pub managed_bytes: Option<u64>,
    /// Watermarks min, low, high.
    pub watermarks_bytes: [Option<u64>; 3],
}

/// A table, or why it is unavailable.
pub type Part<T> = Result<Vec<T>, String>;

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
    /// Slab caches, largest first.
    pub slab: Part<SlabRow>,
    /// vmalloc by kind.
    pub vmalloc: Part<VmallocRow>,
    /// Zones.
    pub zones: Part<ZoneRow>,
}

impl View {
    /// Analyse one snapshot.
    pub fn new(snap: &Snapshot) -> View {
        let page = snap.page_size_bytes.unwrap_or(4096);
        let ledger =
            ledger::build(snap, &LedgerOptions { top_caches: 0, top_callers: 0 }).map_err(|e| e.to_string());
        let processes = processes::rows(snap);
        let totals = processes::totals(snap, &processes);
        let slab = match &snap.slabinfo {
            Ok(s) => {
                let mut rows: Vec<SlabRow> = s
                    .caches
                    .iter()
                    .map(|c| SlabRow {
                        name: c.name.clone(),
                        bytes: c.bytes(page),
                        active_bytes: c.active_bytes(),
                        active_objs: c.active_objs,
                        objsize: c.objsize,
                    })
                    .collect();
                rows.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
                Ok(rows)
            }
            Err(e) => Err(unavailable_reason(e)),
        };
        let vmalloc = match &snap.vmallocinfo {
            Ok(v) => {
                let mut kinds: std::collections::BTreeMap<VmallocKind, VmallocRow> = Default::default();
                for a in &v.areas {
                    let k = a.kind();
                    let row = kinds.entry(k).or_insert(VmallocRow {
                        kind: k.name(),
                        areas: 0,
                        bytes: None,
                        address_space_bytes: 0,
                    });
                    row.areas += 1;
                    row.address_space_bytes = row.address_space_bytes.saturating_add(a.size_bytes);
                    if let Some(p) = a.pages {
                        row.bytes = Some(row.bytes.unwrap_or(0).saturating_add(p.saturating_mul(page)));
                    }
                }
                let mut rows: Vec<VmallocRow> = kinds.into_values().collect();
                rows.sort_by(|a, b| {
                    b.bytes.cmp(&a.bytes).then(b.address_space_bytes.cmp(&a.address_space_bytes))
                });
                Ok(rows)
            }
            Err(e) => Err(unavailable_reason(e)),
        };
        let zones = match &snap.zoneinfo {
            Ok(z) => Ok(z
                .zones
                .iter()
                .filter(|z| z.get("present").unwrap_or(0) > 0)
                .map(|z| {
                    let b = |k: &str| z.get(k).map(|p| p.saturating_mul(page));
                    ZoneRow {
                        node: z.node,
                        zone: z.zone.clone(),
                        free_bytes: b("free").or_else(|| b("nr_free_pages")),
                        managed_bytes: b("managed"),
                        watermarks_bytes: [b("min"), b("low"), b("high")],
                    }
                })
                .collect()),
            Err(e) => Err(unavailable_reason(e)),
        };
        View {
            taken_at_unix_ms: snap.taken_at_unix_ms,
            kernel: snap.kernel.as_ref().ok().cloned(),
            ledger,
            processes,
            totals,
            scan: snap.scan.clone(),
            slab,
            vmalloc,
            zones,
        }
    }
}
