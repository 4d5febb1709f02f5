//! `/proc/PID/smaps_rollup` (fs/proc/task_mmu.c `show_smaps_rollup`).
//!
//! ```text
//! 55d0c8a4e000-7ffd9b5fd000 ---p 00000000 00:00 0                          [rollup]
//! Rss:                5120 kB
//! Pss:                1234 kB
//! Pss_Anon:            900 kB
//! …
//! ```
//! The sum of `smaps` over all mappings. Reading it walks every page table of
//! the target under its mmap lock: costly for huge processes. A kernel thread
//! has no mm and reads empty.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::parse::{FieldName, KbValue, Malformed, field_name, kb_value};

/// The rollup's fields in bytes, kernel names kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmapsRollup {
    /// `Rss`, `Pss`, `Pss_Dirty`, `Pss_Anon`, `Pss_File`, `Pss_Shmem`,
    /// `Shared_Clean`, `Shared_Dirty`, `Private_Clean`, `Private_Dirty`,
    /// `Referenced`, `Anonymous`, `KSM`, `LazyFree`, `AnonHugePages`,
    /// `ShmemPmdMapped`, `FilePmdMapped`, `Shared_Hugetlb`,
    /// `Private_Hugetlb`, `Swap`, `SwapPss`, `Locked` — in bytes.
    pub bytes: BTreeMap<FieldName, u64>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl SmapsRollup {
    /// Parse a rollup. Never fails; an empty text (kernel thread) gives an
    /// empty rollup, malformed lines are listed.
    pub fn parse(text: &str) -> SmapsRollup {
        let mut r = SmapsRollup::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() || (i == 0 && line.contains("[rollup]")) {
                continue;
            }
            match line.split_once(':').and_then(|(k, v)| Some((k, kb_value(v)?))) {
                Some((key, KbValue::Bytes(b))) => {
                    r.bytes.insert(field_name(key), b);
                }
                _ => r.malformed.push(Malformed::new(i, line)),
            }
        }
        r
    }

    /// The rollup of a whole `smaps`: each field summed over the mappings,
    /// as fs/proc/task_mmu.c `show_smaps_rollup` does (kernels before 4.14
    /// have no `smaps_rollup`). Per-mapping `Size`, `KernelPageSize` and
    /// `MMUPageSize` are not summed: the rollup has neither. `Size` (the
    /// virtual size) is, and marks the result as summed: `smaps_rollup`
    /// never prints it ([`SmapsRollup::is_summed_smaps`]). A process without
    /// mappings (a kernel thread) gives an empty rollup.
    pub fn from_smaps(maps: &crate::parse::pid::maps::Maps) -> SmapsRollup {
        const NOT_SUMMED: &[&str] = &["KernelPageSize", "MMUPageSize"];
        let mut r = SmapsRollup { malformed: maps.malformed.clone(), ..SmapsRollup::default() };
        for m in &maps.mappings {
            for (k, v) in m.fields.iter().filter(|(k, _)| !NOT_SUMMED.contains(&k.as_str())) {
                let e = r.bytes.entry(field_name(k)).or_insert(0);
                *e = e.saturating_add(*v);
            }
        }
        r
    }

    /// True for a rollup summed from `smaps` ([`SmapsRollup::from_smaps`]):
    /// it has `Size`, which `smaps_rollup` does not print
    /// (fs/proc/task_mmu.c `show_smaps_rollup`).
    pub fn is_summed_smaps(&self) -> bool {
        self.bytes.contains_key("Size")
    }

    /// True when the file had no fields (a kernel thread, no address space).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// A field in bytes.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.bytes.get(key).copied()
    }

    /// Resident set size.
    pub fn rss(&self) -> Option<u64> {
        self.get("Rss")
    }

    /// Proportional set size: each page divided by the number of processes
    /// mapping it.
    pub fn pss(&self) -> Option<u64> {
        self.get("Pss")
    }

    /// Unique set size: pages mapped by this process only
    /// (`Private_Clean + Private_Dirty`, smem's definition).
    pub fn uss(&self) -> Option<u64> {
        Some(self.get("Private_Clean")?.saturating_add(self.get("Private_Dirty")?))
    }

    /// Swapped-out anonymous memory.
    pub fn swap(&self) -> Option<u64> {
        self.get("Swap")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "55d0c8a4e000-7ffd9b5fd000 ---p 00000000 00:00 0                          [rollup]
Rss:                5120 kB
Pss:                1234 kB
Pss_Anon:            900 kB
Shared_Clean:       3000 kB
Private_Clean:       100 kB
Private_Dirty:       900 kB
Swap:                  8 kB
";

    #[test]
    fn fields() {
        let r = SmapsRollup::parse(SAMPLE);
        assert!(r.malformed.is_empty());
        assert_eq!(r.rss(), Some(5120 * 1024));
        assert_eq!(r.pss(), Some(1234 * 1024));
        assert_eq!(r.uss(), Some(1000 * 1024));
        assert_eq!(r.swap(), Some(8 * 1024));
        assert_eq!(r.get("SwapPss"), None);
    }

    #[test]
    fn smaps_of_a_3_10_kernel_sums_to_a_rollup() {
        // fs/proc/task_mmu.c of 3.10: no Pss_* split, no SwapPss, VmFlags.
        let smaps = b"00400000-0040b000 r-xp 00000000 fd:00 1234    /usr/bin/cat
Size:                 44 kB
Rss:                  20 kB
Pss:                  10 kB
Shared_Clean:         20 kB
Shared_Dirty:          0 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
Referenced:           20 kB
Anonymous:             0 kB
AnonHugePages:         0 kB
Swap:                  0 kB
KernelPageSize:        4 kB
MMUPageSize:           4 kB
Locked:                0 kB
VmFlags: rd ex mr mw me dw
01a5e000-01a7f000 rw-p 00000000 00:00 0                                  [heap]
Size:                132 kB
Rss:                   8 kB
Pss:                   8 kB
Shared_Clean:          0 kB
Shared_Dirty:          0 kB
Private_Clean:         0 kB
Private_Dirty:         8 kB
Referenced:            8 kB
Anonymous:             8 kB
AnonHugePages:         0 kB
Swap:                  4 kB
KernelPageSize:        4 kB
MMUPageSize:           4 kB
Locked:                0 kB
VmFlags: rd wr mr mw me ac
";
        let r = SmapsRollup::from_smaps(&crate::parse::pid::maps::Maps::parse(smaps));
        assert_eq!(r.pss(), Some(18 * 1024));
        assert_eq!(r.rss(), Some(28 * 1024));
        assert_eq!(r.uss(), Some(8 * 1024));
        assert_eq!(r.swap(), Some(4 * 1024));
        assert_eq!(r.get("Size"), Some(176 * 1024));
        assert!(r.is_summed_smaps() && !SmapsRollup::parse(SAMPLE).is_summed_smaps());
        assert_eq!(r.get("KernelPageSize"), None);
        assert!(SmapsRollup::from_smaps(&crate::parse::pid::maps::Maps::parse(b"")).is_empty());
    }

    #[test]
    fn kernel_thread_is_empty() {
        assert!(SmapsRollup::parse("").is_empty());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let r = SmapsRollup::parse(&s);
            let _ = (r.uss(), r.pss());
        }
    }
}
