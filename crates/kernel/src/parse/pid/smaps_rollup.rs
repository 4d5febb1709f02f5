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

use crate::parse::{KbValue, Malformed, kb_value};

/// The rollup's fields in bytes, kernel names kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmapsRollup {
    /// `Rss`, `Pss`, `Pss_Dirty`, `Pss_Anon`, `Pss_File`, `Pss_Shmem`,
    /// `Shared_Clean`, `Shared_Dirty`, `Private_Clean`, `Private_Dirty`,
    /// `Referenced`, `Anonymous`, `KSM`, `LazyFree`, `AnonHugePages`,
    /// `ShmemPmdMapped`, `FilePmdMapped`, `Shared_Hugetlb`,
    /// `Private_Hugetlb`, `Swap`, `SwapPss`, `Locked` — in bytes.
    pub bytes: BTreeMap<String, u64>,
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
                    r.bytes.insert(key.to_string(), b);
                }
                _ => r.malformed.push(Malformed::new(i, line)),
            }
        }
        r
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
