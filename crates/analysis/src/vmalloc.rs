//! `memscope vmalloc`: `/proc/vmallocinfo` by kind and by caller, and how it
//! makes the ledger's `vmalloc` line.
//!
//! Each area has a virtual size (guard page included) and, for areas that
//! `vmalloc()` filled, `pages=N`: pages of RAM. `VmallocUsed` in meminfo
//! counts those pages (mm/vmalloc.c `nr_vmalloc_pages`). `vmap` areas map
//! pages allocated elsewhere (counted where they were allocated); `ioremap`
//! areas map device memory: address space, not RAM. Kernel stacks are
//! vmalloc'ed (CONFIG_VMAP_STACK) and counted again in `KernelStack`, so the
//! ledger subtracts them from its vmalloc line
//! ([`crate::ledger::is_stack_area`]).

use std::collections::BTreeMap;

use memscope_kernel::parse::meminfo::Meminfo;
use memscope_kernel::parse::vmallocinfo::{VmallocKind, Vmallocinfo};
use memscope_model::Snapshot;
use serde::Serialize;

use crate::hints::unavailable_reason;
use crate::ledger::{VmallocUsed, is_stack_area, vmalloc_base};
use crate::units::fmt_bytes;

/// Areas of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindRow {
    /// Kind.
    pub kind: VmallocKind,
    /// Areas.
    pub areas: u64,
    /// Virtual address space (guard pages included).
    pub size_bytes: u64,
    /// Pages of RAM allocated for the areas (`pages=`); `None` for ioremap,
    /// which maps device memory.
    pub ram_bytes: Option<u64>,
}

/// Areas of one caller and kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallerRow {
    /// The allocating function (`alloc_large_system_hash`).
    pub caller: String,
    /// Its module, when it lives in one.
    pub module: Option<String>,
    /// Kind of its areas.
    pub kind: VmallocKind,
    /// Areas.
    pub areas: u64,
    /// Pages of RAM (`pages=`), in bytes.
    pub ram_bytes: u64,
    /// Virtual size.
    pub size_bytes: u64,
    /// These areas are kernel stacks (also counted in `KernelStack`).
    pub kernel_stacks: bool,
}

/// From vmallocinfo to the ledger's vmalloc line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerExplain {
    /// meminfo `VmallocUsed`.
    pub vmalloc_used_bytes: Option<u64>,
    /// Pages of every area but ioremap, in bytes.
    pub pages_bytes: u64,
    /// Of which kernel stacks.
    pub kernel_stack_areas_bytes: u64,
    /// meminfo `KernelStack`.
    pub kernel_stack_bytes: Option<u64>,
    /// Counted twice, subtracted: min(stack areas, KernelStack).
    pub double_counted_bytes: u64,
    /// The ledger's `vmalloc` line.
    pub ledger_vmalloc_bytes: i64,
    /// Its formula.
    pub ledger_formula: String,
    /// ioremap address space (not RAM).
    pub ioremap_size_bytes: u64,
}

/// The `vmalloc` view.
#[derive(Debug, Clone, Serialize)]
pub struct VmallocView {
    /// By kind, largest RAM first (ioremap last).
    pub kinds: Vec<KindRow>,
    /// By caller, largest RAM first (the top ones).
    pub callers: Vec<CallerRow>,
    /// Callers not shown.
    pub callers_hidden: usize,
    /// Areas in the file.
    pub areas: usize,
    /// The ledger line explained.
    pub ledger: Option<LedgerExplain>,
    /// Why vmallocinfo could not be read.
    pub unavailable: Option<String>,
    /// What the numbers say.
    pub notes: Vec<String>,
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The view of a snapshot's vmalloc areas, with its `top` callers.
pub fn from_snapshot(snap: &Snapshot, top: usize) -> VmallocView {
    build(
        snap.vmallocinfo.as_deref().map_err(unavailable_reason),
        snap.meminfo.as_ref().ok(),
        snap.kernel.as_ref().ok().map(String::as_str),
        crate::ledger::usable_page_size(snap.page_size_bytes),
        top,
    )
}

/// Build the view. `vmallocinfo` is `Err(reason)` when unreadable: the view
/// then holds meminfo's `VmallocUsed` only. `kernel` is the release, which
/// says what `VmallocUsed` counts ([`VmallocUsed::on`]).
pub fn build(
    vmallocinfo: Result<&Vmallocinfo, String>,
    meminfo: Option<&Meminfo>,
    kernel: Option<&str>,
    page_size_bytes: u64,
    top: usize,
) -> VmallocView {
    let used = meminfo.and_then(|m| m.get("VmallocUsed"));
    let meaning = VmallocUsed::on(kernel);
    let stack_meminfo = meminfo.and_then(|m| m.get("KernelStack"));
    let v = match vmallocinfo {
        Ok(v) => v,
        Err(why) => {
            let mut notes = Vec::new();
            if let Some(u) = used {
                notes.push(format!(
                    "meminfo VmallocUsed is {}{}; per-kind and per-caller figures need /proc/vmallocinfo.",
                    fmt_bytes(to_i64(u)),
                    meaning.why_not_pages().map(|w| format!(" ({w})")).unwrap_or_default()
                ));
            }
            return VmallocView {
                kinds: Vec::new(),
                callers: Vec::new(),
                callers_hidden: 0,
                areas: 0,
                ledger: None,
                unavailable: Some(why),
                notes,
            };
        }
    };
    let page = page_size_bytes;
    let mut kinds: BTreeMap<VmallocKind, KindRow> = BTreeMap::new();
    let mut callers: BTreeMap<(String, Option<String>, VmallocKind), CallerRow> = BTreeMap::new();
    let (mut pages, mut stack_pages, mut ioremap) = (0u64, 0u64, 0u64);
    for a in &v.areas {
        let kind = a.kind();
        let p = a.pages.unwrap_or(0);
        let k = kinds.entry(kind).or_insert(KindRow {
            kind,
            areas: 0,
            size_bytes: 0,
            ram_bytes: (kind != VmallocKind::Ioremap).then_some(0),
        });
        k.areas += 1;
        k.size_bytes = k.size_bytes.saturating_add(a.size_bytes);
        if let Some(r) = k.ram_bytes.as_mut() {
            *r = r.saturating_add(p.saturating_mul(page));
        }
        if kind == VmallocKind::Ioremap {
            ioremap = ioremap.saturating_add(a.size_bytes);
        } else {
            pages = pages.saturating_add(p);
        }
        let stack = is_stack_area(a);
        if stack {
            stack_pages = stack_pages.saturating_add(p);
        }
        let func = a.caller_function().unwrap_or("(no caller)").to_string();
        let module = a
            .caller
            .as_deref()
            .and_then(|c| c.split_ascii_whitespace().nth(1))
            .map(|m| m.trim_matches(|c| c == '[' || c == ']').to_string());
        let c = callers.entry((func.clone(), module.clone(), kind)).or_insert(CallerRow {
            caller: func,
            module,
            kind,
            areas: 0,
            ram_bytes: 0,
            size_bytes: 0,
            kernel_stacks: stack,
        });
        c.areas += 1;
        c.ram_bytes = c.ram_bytes.saturating_add(p.saturating_mul(page));
        c.size_bytes = c.size_bytes.saturating_add(a.size_bytes);
    }
    let mut kinds: Vec<KindRow> = kinds.into_values().collect();
    kinds.sort_by(|a, b| {
        b.ram_bytes
            .is_some()
            .cmp(&a.ram_bytes.is_some())
            .then(b.ram_bytes.cmp(&a.ram_bytes))
            .then(a.kind.cmp(&b.kind))
    });
    let mut callers: Vec<CallerRow> = callers.into_values().collect();
    callers.sort_by(|a, b| {
        b.ram_bytes
            .cmp(&a.ram_bytes)
            .then(b.size_bytes.cmp(&a.size_bytes))
            .then_with(|| a.caller.cmp(&b.caller))
    });
    let callers_hidden = callers.len().saturating_sub(top);
    callers.truncate(top);

    // The ledger's formula (ledger.rs `vmalloc_lines`), step by step.
    let stack_areas_bytes = stack_pages.saturating_mul(page);
    let (base, base_name) = vmalloc_base(used, meaning, pages.saturating_mul(page));
    let double_counted =
        to_i64(stack_areas_bytes).min(to_i64(stack_meminfo.unwrap_or(0))).min(to_i64(base)).max(0) as u64;
    let base = to_i64(base);
    let ledger = LedgerExplain {
        vmalloc_used_bytes: used,
        pages_bytes: pages.saturating_mul(page),
        kernel_stack_areas_bytes: stack_areas_bytes,
        kernel_stack_bytes: stack_meminfo,
        double_counted_bytes: double_counted,
        ledger_vmalloc_bytes: base - to_i64(double_counted),
        ledger_formula: format!("{base_name} − vmalloc'ed kernel stacks"),
        ioremap_size_bytes: ioremap,
    };
    let mut notes = Vec::new();
    if let Some(why) = meaning.why_not_pages()
        && used.is_some()
    {
        notes.push(format!("VmallocUsed is not used: {why}."));
    } else if let Some(u) = used
        && u != ledger.pages_bytes
    {
        notes.push(format!(
            "VmallocUsed ({}) and the pages listed in vmallocinfo ({}) differ by {}: areas being allocated or \
             freed while the files were read, or pages of areas vmallocinfo prints without `pages=`.",
            fmt_bytes(to_i64(u)),
            fmt_bytes(to_i64(ledger.pages_bytes)),
            fmt_bytes(to_i64(u) - to_i64(ledger.pages_bytes))
        ));
    }
    if ioremap > 0 {
        notes.push(format!(
            "ioremap areas span {} of address space mapping device memory (PCI BARs, firmware tables): not RAM, \
             and not in the ledger.",
            fmt_bytes(to_i64(ioremap))
        ));
    }
    if !v.malformed.is_empty() {
        notes.push(format!("{} malformed vmallocinfo line(s) skipped.", v.malformed.len()));
    }
    VmallocView {
        kinds,
        callers,
        callers_hidden,
        areas: v.areas.len(),
        ledger: Some(ledger),
        unavailable: None,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
0x0000000078bc5816-0x000000005e5589ba   20480 alloc_thread_stack_node+0x94/0x3e0 pages=4 vmalloc N0=4
0x0000000078bc5816-0x000000005e5589ba   20480 alloc_thread_stack_node+0x94/0x3e0 pages=4 vmalloc N0=4
0x0000000006cfce4a-0x0000000086c03cec    8192 acpi_os_map_iomem+0x1bc/0x1e0 phys=0x00000000000a0000 ioremap
0x000000003099c4cc-0x0000000065bac069 2101248 alloc_large_system_hash+0x1a/0x30 pages=512 vmalloc vpages N0=512
0x0000000000000000-0x0000000000000000   12288 nf_ct_alloc_hashtable+0x5c/0xd0 [nf_conntrack] pages=2 vmalloc N1=2
0x0000000000000000-0x0000000000000000   69632 bpf_prog_alloc+0x1a/0x30 pages=16 vmap
";

    #[test]
    fn kinds_callers_and_the_ledger_line() {
        let v = Vmallocinfo::parse(SAMPLE);
        let m = Meminfo::parse("VmallocUsed: 2200 kB\nKernelStack: 16 kB\n");
        let view = build(Ok(&v), Some(&m), Some("6.18.0"), 4096, 3);
        assert_eq!(view.areas, 6);
        let vm = view.kinds.iter().find(|k| k.kind == VmallocKind::Vmalloc).unwrap();
        assert_eq!((vm.areas, vm.ram_bytes), (4, Some((4 + 4 + 512 + 2) * 4096)));
        let io = view.kinds.last().unwrap();
        assert_eq!((io.kind, io.ram_bytes, io.size_bytes), (VmallocKind::Ioremap, None, 8192));
        assert_eq!(view.callers[0].caller, "alloc_large_system_hash");
        assert_eq!(view.callers.len(), 3);
        assert_eq!(view.callers_hidden, 2);
        let stacks = view.callers.iter().find(|c| c.kernel_stacks).unwrap();
        assert_eq!((stacks.areas, stacks.ram_bytes), (2, 8 * 4096));
        let l = view.ledger.unwrap();
        assert_eq!(l.pages_bytes, (4 + 4 + 512 + 2 + 16) * 4096);
        assert_eq!(l.kernel_stack_areas_bytes, 8 * 4096);
        // KernelStack (16 KiB) caps what is counted twice.
        assert_eq!(l.double_counted_bytes, 16 * 1024);
        assert_eq!(l.ledger_vmalloc_bytes, 2200 * 1024 - 16 * 1024);
        assert_eq!(l.ioremap_size_bytes, 8192);
        assert!(view.notes.iter().any(|n| n.contains("ioremap")));
        let nf = build(Ok(&v), None, Some("6.18.0"), 4096, 10)
            .callers
            .into_iter()
            .find(|c| c.caller == "nf_ct_alloc_hashtable");
        assert_eq!(nf.unwrap().module.as_deref(), Some("nf_conntrack"));
    }

    #[test]
    fn unreadable_vmallocinfo() {
        let m = Meminfo::parse("VmallocUsed: 100 kB\n");
        let v = build(Err("denied".into()), Some(&m), Some("6.18.0"), 4096, 10);
        assert_eq!(v.unavailable.as_deref(), Some("denied"));
        assert!(v.notes[0].contains("100 KiB"));
    }
}
