//! `memscope maps PID`: one row per mapping of `/proc/PID/smaps`, and totals
//! checked against `/proc/PID/smaps_rollup`.
//!
//! Figures per mapping (fs/proc/task_mmu.c `__show_smap`;
//! Documentation/filesystems/proc.rst "smaps"):
//! - USS = `Private_Clean + Private_Dirty` (pages mapped by this process only);
//! - shared = `Shared_Clean + Shared_Dirty`;
//! - THP = `AnonHugePages + ShmemPmdMapped + FilePmdMapped` (PMD-mapped huge
//!   pages, included in `Rss`);
//! - hugetlb = `Shared_Hugetlb + Private_Hugetlb`: hugetlbfs pages are **not**
//!   in `Rss` or `Pss`, so they are a column of their own.
//!
//! smaps prints each mapping's `Pss` rounded down to a KiB, while
//! smaps_rollup rounds the exact sum once: the per-mapping sum may fall
//! short of the rollup by less than 1 KiB per mapping, never exceed it.

use memscope_kernel::parse::pid::maps::{Mapping, Maps};
use memscope_kernel::parse::pid::smaps_rollup::SmapsRollup;
use serde::Serialize;

use crate::units::fmt_bytes;

/// What to sort mappings by. One table drives the command line and output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MapSort {
    /// Address order (as the kernel lists them).
    Addr,
    /// Virtual size, largest first.
    Size,
    /// Resident set, largest first.
    Rss,
    /// Proportional set, largest first.
    Pss,
    /// Unique set, largest first.
    Uss,
    /// Swapped out, largest first.
    Swap,
}

impl MapSort {
    /// Every key with its name.
    pub const ALL: &[(MapSort, &'static str)] = &[
        (MapSort::Addr, "addr"),
        (MapSort::Size, "size"),
        (MapSort::Rss, "rss"),
        (MapSort::Pss, "pss"),
        (MapSort::Uss, "uss"),
        (MapSort::Swap, "swap"),
    ];

    /// The key called `name`.
    pub fn from_name(name: &str) -> Option<MapSort> {
        MapSort::ALL.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }

    fn rank(self, r: &MapRow) -> u64 {
        match self {
            MapSort::Addr => 0,
            MapSort::Size => r.size_bytes,
            MapSort::Rss => r.rss_bytes,
            MapSort::Pss => r.pss_bytes,
            MapSort::Uss => r.uss_bytes,
            MapSort::Swap => r.swap_bytes,
        }
    }
}

/// `VmFlags` so common that the permissions already say them (readable,
/// writable, executable, may-read/write/execute, accountable, soft-dirty).
const COMMON_VM_FLAGS: &[&str] = &["rd", "wr", "ex", "mr", "mw", "me", "ac", "sd"];

/// One mapping. Fields smaps does not print on this kernel are 0 and listed
/// in [`MapsView::missing_fields`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapRow {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// `rwxp` / `rwxs`.
    pub perms: String,
    /// Offset into the file.
    pub offset: u64,
    /// `major:minor`.
    pub dev: String,
    /// Inode.
    pub inode: u64,
    /// Path or pseudo-name; `None` for anonymous mappings.
    pub path: Option<String>,
    /// Virtual size.
    pub size_bytes: u64,
    /// Resident.
    pub rss_bytes: u64,
    /// Proportional set size.
    pub pss_bytes: u64,
    /// Private clean + dirty.
    pub uss_bytes: u64,
    /// Shared clean + dirty.
    pub shared_bytes: u64,
    /// Swapped out.
    pub swap_bytes: u64,
    /// Locked (mlock).
    pub locked_bytes: u64,
    /// PMD-mapped transparent huge pages (anon, shmem, file).
    pub thp_bytes: u64,
    /// hugetlbfs pages (not in RSS).
    pub hugetlb_bytes: u64,
    /// `VmFlags` two-letter codes, all of them.
    pub vm_flags: Vec<String>,
}

impl MapRow {
    fn from_mapping(m: &Mapping) -> MapRow {
        let f = |k: &str| m.get(k).unwrap_or(0);
        MapRow {
            start: m.start,
            end: m.end,
            perms: m.perms.clone(),
            offset: m.offset,
            dev: m.dev.clone(),
            inode: m.inode,
            path: m.path.clone(),
            size_bytes: m.size(),
            rss_bytes: f("Rss"),
            pss_bytes: f("Pss"),
            uss_bytes: f("Private_Clean") + f("Private_Dirty"),
            shared_bytes: f("Shared_Clean") + f("Shared_Dirty"),
            swap_bytes: f("Swap"),
            locked_bytes: f("Locked"),
            thp_bytes: f("AnonHugePages") + f("ShmemPmdMapped") + f("FilePmdMapped"),
            hugetlb_bytes: f("Shared_Hugetlb") + f("Private_Hugetlb"),
            vm_flags: m.vm_flags.clone(),
        }
    }

    /// The `VmFlags` worth showing: the rare ones (`lo` locked, `ht`
    /// hugetlb, `hg`/`nh` THP advice, `dd` don't dump, `io`, `pf`, …).
    pub fn notable_flags(&self) -> Vec<&str> {
        self.vm_flags.iter().map(String::as_str).filter(|f| !COMMON_VM_FLAGS.contains(f)).collect()
    }
}

/// Sums over all mappings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MapTotals {
    /// Mappings.
    pub mappings: usize,
    /// Virtual size.
    pub size_bytes: u64,
    /// Resident.
    pub rss_bytes: u64,
    /// Proportional.
    pub pss_bytes: u64,
    /// Unique.
    pub uss_bytes: u64,
    /// Shared.
    pub shared_bytes: u64,
    /// Swapped.
    pub swap_bytes: u64,
    /// Locked.
    pub locked_bytes: u64,
    /// Transparent huge pages.
    pub thp_bytes: u64,
    /// hugetlbfs.
    pub hugetlb_bytes: u64,
}

/// One figure of the totals compared with smaps_rollup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollupCheck {
    /// The smaps field(s), as the kernel names them.
    pub field: &'static str,
    /// The sum over mappings.
    pub maps_bytes: u64,
    /// smaps_rollup's figure.
    pub rollup_bytes: u64,
    /// How far below the rollup the sum may be from rounding alone.
    pub rounding_bytes: u64,
    /// Within the rounding.
    pub matches: bool,
}

/// The `maps` view.
#[derive(Debug, Clone, Serialize)]
pub struct MapsView {
    /// The process.
    pub pid: u32,
    /// Its command name.
    pub comm: String,
    /// Mappings, sorted, the first `top` when asked.
    pub mappings: Vec<MapRow>,
    /// Totals over all mappings.
    pub totals: MapTotals,
    /// The totals against smaps_rollup; empty when the rollup was not read.
    pub rollup_check: Vec<RollupCheck>,
    /// Why the rollup could not be compared.
    pub rollup_unavailable: Option<String>,
    /// smaps fields this kernel does not print (their columns read 0).
    pub missing_fields: Vec<&'static str>,
    /// What the numbers say.
    pub notes: Vec<String>,
}

/// The fields compared with smaps_rollup: (label, smaps keys summed, may
/// round down per mapping).
const CHECKS: &[(&str, &[&str], bool)] = &[
    ("Rss", &["Rss"], false),
    ("Pss", &["Pss"], true),
    ("Private_Clean + Private_Dirty", &["Private_Clean", "Private_Dirty"], false),
    ("Shared_Clean + Shared_Dirty", &["Shared_Clean", "Shared_Dirty"], false),
    ("Swap", &["Swap"], false),
    ("SwapPss", &["SwapPss"], true),
    ("Locked", &["Locked"], false),
    ("AnonHugePages", &["AnonHugePages"], false),
];

/// Build the view. `rollup` is the process's smaps_rollup read just before
/// or after its smaps, or why it could not be.
pub fn build(
    pid: u32,
    comm: String,
    smaps: &Maps,
    rollup: Result<&SmapsRollup, String>,
    sort: MapSort,
    top: Option<usize>,
) -> MapsView {
    let all: Vec<MapRow> = smaps.mappings.iter().map(MapRow::from_mapping).collect();
    let mut t = MapTotals { mappings: all.len(), ..MapTotals::default() };
    for r in &all {
        t.size_bytes = t.size_bytes.saturating_add(r.size_bytes);
        t.rss_bytes = t.rss_bytes.saturating_add(r.rss_bytes);
        t.pss_bytes = t.pss_bytes.saturating_add(r.pss_bytes);
        t.uss_bytes = t.uss_bytes.saturating_add(r.uss_bytes);
        t.shared_bytes = t.shared_bytes.saturating_add(r.shared_bytes);
        t.swap_bytes = t.swap_bytes.saturating_add(r.swap_bytes);
        t.locked_bytes = t.locked_bytes.saturating_add(r.locked_bytes);
        t.thp_bytes = t.thp_bytes.saturating_add(r.thp_bytes);
        t.hugetlb_bytes = t.hugetlb_bytes.saturating_add(r.hugetlb_bytes);
    }
    let missing_fields: Vec<&'static str> = if smaps.mappings.is_empty() {
        Vec::new()
    } else {
        ["Rss", "Pss", "Private_Clean", "Private_Dirty", "Shared_Clean", "Shared_Dirty", "Swap", "Locked"]
            .into_iter()
            .filter(|k| smaps.mappings.iter().all(|m| m.get(k).is_none()))
            .collect()
    };
    let mut notes = Vec::new();
    let (rollup_check, rollup_unavailable) = match rollup {
        Ok(r) if r.is_empty() && smaps.mappings.is_empty() => (Vec::new(), None),
        Ok(r) => {
            let checks: Vec<RollupCheck> = CHECKS
                .iter()
                .filter(|(_, keys, _)| keys.iter().all(|k| r.get(k).is_some()))
                .map(|(label, keys, rounds)| {
                    let maps_bytes: u64 = keys.iter().map(|k| smaps.total(k)).fold(0, u64::saturating_add);
                    let rollup_bytes: u64 = keys.iter().filter_map(|k| r.get(k)).fold(0, u64::saturating_add);
                    let rounding_bytes = if *rounds { (smaps.mappings.len() as u64) * 1024 } else { 0 };
                    let matches = maps_bytes <= rollup_bytes && rollup_bytes - maps_bytes <= rounding_bytes;
                    RollupCheck { field: label, maps_bytes, rollup_bytes, rounding_bytes, matches }
                })
                .collect();
            if checks.iter().any(|c| !c.matches) {
                let off: Vec<String> = checks
                    .iter()
                    .filter(|c| !c.matches)
                    .map(|c| {
                        format!(
                            "{} {} (mappings) vs {} (smaps_rollup)",
                            c.field,
                            fmt_bytes(c.maps_bytes as i64),
                            fmt_bytes(c.rollup_bytes as i64)
                        )
                    })
                    .collect();
                notes.push(format!(
                    "The totals differ from smaps_rollup: {}. smaps and smaps_rollup are two reads; a process \
                     that maps, faults or frees memory between them shows a difference.",
                    off.join("; ")
                ));
            }
            (checks, None)
        }
        Err(why) => (Vec::new(), Some(why)),
    };
    if smaps.mappings.is_empty() {
        notes.push(format!(
            "Process {pid} has no mappings: a kernel thread or a zombie has no address space."
        ));
    }
    if t.hugetlb_bytes > 0 {
        notes.push(format!(
            "{} of hugetlbfs pages are mapped; the kernel leaves them out of RSS and PSS.",
            fmt_bytes(t.hugetlb_bytes as i64)
        ));
    }
    if !missing_fields.is_empty() {
        notes
            .push(format!("This kernel's smaps has no {}: those columns read 0.", missing_fields.join(", ")));
    }
    if !smaps.malformed.is_empty() {
        notes.push(format!("{} malformed smaps line(s) skipped.", smaps.malformed.len()));
    }
    let mut mappings = all;
    if sort != MapSort::Addr {
        mappings.sort_by(|a, b| sort.rank(b).cmp(&sort.rank(a)).then(a.start.cmp(&b.start)));
    }
    if let Some(n) = top {
        mappings.truncate(n);
    }
    MapsView { pid, comm, mappings, totals: t, rollup_check, rollup_unavailable, missing_fields, notes }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &[u8] = b"00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/dbus-daemon
Size:                328 kB
Rss:                 300 kB
Pss:                 100 kB
Shared_Clean:        300 kB
Shared_Dirty:          0 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
AnonHugePages:         0 kB
VmFlags: rd ex mr mw me dw sd
7f0000000000-7f0000400000 rw-p 00000000 00:00 0
Size:               4096 kB
Rss:                2060 kB
Pss:                2060 kB
Shared_Clean:          0 kB
Shared_Dirty:          0 kB
Private_Clean:         0 kB
Private_Dirty:      2060 kB
Swap:                 36 kB
SwapPss:              36 kB
Locked:             2060 kB
AnonHugePages:      2048 kB
VmFlags: rd wr mr mw me lo ac hg sd
7f2a00000000-7f2a00400000 rw-s 00000000 00:10 99 /dev/hugepages/buf
Size:               4096 kB
Rss:                   0 kB
Pss:                   0 kB
Shared_Clean:          0 kB
Shared_Dirty:          0 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
AnonHugePages:         0 kB
Shared_Hugetlb:     4096 kB
VmFlags: rd wr sh mr mw me ms de ht sd
";

    fn rollup(pss_kb: u64, rss_kb: u64) -> SmapsRollup {
        SmapsRollup::parse(&format!(
            "Rss: {rss_kb} kB\nPss: {pss_kb} kB\nShared_Clean: 300 kB\nShared_Dirty: 0 kB\nPrivate_Clean: 0 kB\n\
             Private_Dirty: 2060 kB\nSwap: 36 kB\nSwapPss: 36 kB\nLocked: 2060 kB\nAnonHugePages: 2048 kB\n"
        ))
    }

    #[test]
    fn rows_and_totals() {
        let m = Maps::parse(SMAPS);
        let r = rollup(2160, 2360);
        let v = build(7, "x".into(), &m, Ok(&r), MapSort::Pss, None);
        assert_eq!(v.totals.mappings, 3);
        assert_eq!(v.totals.rss_bytes, 2360 * 1024);
        assert_eq!(v.totals.uss_bytes, 2060 * 1024);
        assert_eq!(v.totals.thp_bytes, 2048 * 1024);
        assert_eq!(v.totals.hugetlb_bytes, 4096 * 1024);
        assert_eq!(v.mappings[0].start, 0x7f0000000000);
        assert_eq!(v.mappings[0].notable_flags(), vec!["lo", "hg"]);
        assert!(v.rollup_check.iter().all(|c| c.matches), "{:?}", v.rollup_check);
        assert!(v.notes.iter().any(|n| n.contains("hugetlbfs")));
    }

    #[test]
    fn pss_may_round_down_by_a_kib_per_mapping_only() {
        let m = Maps::parse(SMAPS);
        // Rollup Pss 2 KiB above the sum: within 3 mappings' rounding.
        let v = build(7, "x".into(), &m, Ok(&rollup(2162, 2360)), MapSort::Addr, Some(1));
        assert!(v.rollup_check.iter().all(|c| c.matches));
        assert_eq!(v.mappings.len(), 1);
        assert_eq!(v.totals.mappings, 3);
        // 4 KiB above: more than rounding. Below the sum: never rounding.
        for pss in [2164, 2159] {
            let v = build(7, "x".into(), &m, Ok(&rollup(pss, 2360)), MapSort::Addr, None);
            let pss_check = v.rollup_check.iter().find(|c| c.field == "Pss").unwrap();
            assert!(!pss_check.matches, "{pss}");
            assert!(v.notes.iter().any(|n| n.starts_with("The totals differ")));
        }
        // An Rss difference of one page is a difference.
        let v = build(7, "x".into(), &m, Ok(&rollup(2160, 2364)), MapSort::Addr, None);
        assert!(!v.rollup_check.iter().find(|c| c.field == "Rss").unwrap().matches);
    }

    #[test]
    fn kernel_thread_has_no_mappings() {
        let v =
            build(2, "kthreadd".into(), &Maps::default(), Ok(&SmapsRollup::default()), MapSort::Addr, None);
        assert!(v.mappings.is_empty() && v.rollup_check.is_empty());
        assert!(v.notes[0].contains("no address space"));
    }
}
