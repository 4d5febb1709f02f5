//! `/proc/PID/numa_maps` (fs/proc/task_mmu.c `show_numa_map`;
//! Documentation/admin-guide/mm/numa_memory_policy.rst, proc(5)).
//!
//! ```text
//! 55bb945c1000 default file=/usr/bin/head mapped=2 N0=2 kernelpagesize_kB=4
//! 7ffda5e8f000 default stack anon=3 dirty=3 active=1 N0=3 kernelpagesize_kB=4
//! 7f2a00000000 bind:1 file=/dev/hugepages/x huge dirty=2 N1=2 kernelpagesize_kB=2048
//! 7fb6926bb000 default
//! ```
//! One line per mapping: its start address, its memory policy (which may
//! contain spaces: `prefer (many):0-1`, `weighted interleave:0-3`), then
//! `file=` (path with spaces, tabs, newlines and `=` escaped as octal),
//! `heap`, `stack`, `huge`, and page counts. A mapping with no resident page
//! stops after the policy or the path.
//!
//! **Units.** Every count (`anon=`, `dirty=`, `N<node>=`, …) is in pages of
//! the line's own `kernelpagesize_kB`: base pages for normal mappings
//! (transparent huge pages are counted as their base pages), *huge* pages
//! for hugetlbfs mappings (`gather_hugetlb_stats` counts one per huge page).
//! Multiplying every count by the base page size undercounts hugetlb memory
//! 512-fold (numastat's bug class); [`NumaMapping::node_bytes`] uses the
//! line's page size.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::parse::Malformed;

/// One mapping's line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumaMapping {
    /// Start address.
    pub start: u64,
    /// Memory policy as printed (`default`, `bind:0-1`, `prefer (many):0`).
    pub policy: String,
    /// Backing file (`file=`), octal escapes kept as printed.
    pub file: Option<String>,
    /// The heap (`heap`).
    pub heap: bool,
    /// The main thread's stack (`stack`).
    pub stack: bool,
    /// A hugetlbfs mapping (`huge`): counts are in huge pages.
    pub huge: bool,
    /// `kernelpagesize_kB`, in bytes: the unit of every count.
    pub kernel_page_size_bytes: Option<u64>,
    /// Resident pages per node (`N<node>=<pages>`), node order.
    pub nodes: Vec<(u32, u64)>,
    /// Other counts in pages (`anon`, `dirty`, `mapped`, `mapmax`,
    /// `swapcache`, `active`, `writeback`, and any the kernel adds).
    pub counts: BTreeMap<String, u64>,
}

impl NumaMapping {
    /// A page count (`anon`, `dirty`, …).
    pub fn count(&self, key: &str) -> Option<u64> {
        self.counts.get(key).copied()
    }

    /// Resident pages over all nodes.
    pub fn pages(&self) -> u64 {
        self.nodes.iter().map(|(_, p)| *p).fold(0u64, u64::saturating_add)
    }

    /// Bytes per node: pages × this line's page size. Without
    /// `kernelpagesize_kB` (kernels before 2.6.29) `base_page_bytes` is used
    /// for normal mappings and `None` is returned for hugetlb ones, whose
    /// page size is then unknown.
    pub fn node_bytes(&self, base_page_bytes: u64) -> Option<Vec<(u32, u64)>> {
        let unit = match (self.kernel_page_size_bytes, self.huge) {
            (Some(u), _) => u,
            (None, false) => base_page_bytes,
            (None, true) => return None,
        };
        Some(self.nodes.iter().map(|(n, p)| (*n, p.saturating_mul(unit))).collect())
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumaMaps {
    /// Mappings in address order.
    pub mappings: Vec<NumaMapping>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl NumaMaps {
    /// Parse `/proc/PID/numa_maps`. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> NumaMaps {
        let mut out = NumaMaps::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(line) {
                Some(m) => out.mappings.push(m),
                None => out.malformed.push(Malformed::new(i, line)),
            }
        }
        out
    }
}

/// True for a token that ends the policy: a keyword or `key=value` with a
/// known key or a node count.
fn is_field(tok: &str) -> bool {
    matches!(tok, "heap" | "stack" | "huge")
        || tok.starts_with("file=")
        || tok.split_once('=').is_some_and(|(k, v)| {
            !k.is_empty()
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !v.is_empty()
                && v.bytes().all(|b| b.is_ascii_digit())
        })
}

fn parse_line(line: &str) -> Option<NumaMapping> {
    let mut it = line.split_ascii_whitespace().peekable();
    let start = u64::from_str_radix(it.next()?, 16).ok()?;
    let mut policy = Vec::new();
    while let Some(tok) = it.next_if(|t| !is_field(t)) {
        policy.push(tok);
    }
    if policy.is_empty() {
        return None;
    }
    let mut m = NumaMapping { start, policy: policy.join(" "), ..NumaMapping::default() };
    for tok in it {
        match tok {
            "heap" => m.heap = true,
            "stack" => m.stack = true,
            "huge" => m.huge = true,
            _ => {
                if let Some(path) = tok.strip_prefix("file=") {
                    m.file = Some(path.to_string());
                    continue;
                }
                let (k, v) = tok.split_once('=')?;
                let v: u64 = v.parse().ok()?;
                if k == "kernelpagesize_kB" {
                    m.kernel_page_size_bytes = Some(v.checked_mul(1024)?);
                } else if let Some(n) = k.strip_prefix('N').and_then(|n| n.parse::<u32>().ok()) {
                    m.nodes.push((n, v));
                } else {
                    m.counts.insert(k.to_string(), v);
                }
            }
        }
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Lines as kernel 6.18 prints them, plus a hugetlb mapping and the
    /// multi-word policies of mm/mempolicy.c `mpol_to_str`.
    const SAMPLE: &str = "\
55bb945c1000 default file=/usr/bin/head mapped=2 N0=2 kernelpagesize_kB=4
55bb945cc000 default file=/usr/bin/head anon=1 dirty=1 active=0 N0=1 kernelpagesize_kB=4
55bb96a0e000 default heap anon=33 dirty=33 active=0 N0=33 kernelpagesize_kB=4
7f2a00000000 bind:1 file=/dev/hugepages/buf\\040one huge dirty=3 N1=3 kernelpagesize_kB=2048
7f2b00000000 prefer (many):0-1 anon=1024 dirty=1024 N0=512 N1=512 kernelpagesize_kB=4
7f2c00000000 weighted interleave=static:0-3 anon=4 dirty=4 N0=1 N1=1 N2=1 N3=1 kernelpagesize_kB=4
7fb6926bb000 default
7ffda5e8f000 default stack anon=3 dirty=3 active=1 N0=3 kernelpagesize_kB=4
not a line
";

    #[test]
    fn lines() {
        let n = NumaMaps::parse(SAMPLE);
        assert_eq!(n.mappings.len(), 8);
        assert_eq!(n.malformed.len(), 1);
        let head = &n.mappings[0];
        assert_eq!(head.file.as_deref(), Some("/usr/bin/head"));
        assert_eq!(head.count("mapped"), Some(2));
        assert_eq!(head.nodes, vec![(0, 2)]);
        assert!(n.mappings[2].heap);
        let huge = &n.mappings[3];
        assert!(huge.huge);
        assert_eq!(huge.policy, "bind:1");
        assert_eq!(huge.file.as_deref(), Some("/dev/hugepages/buf\\040one"));
        assert_eq!(huge.kernel_page_size_bytes, Some(2 << 20));
        assert_eq!(huge.node_bytes(4096), Some(vec![(1, 6 << 20)]));
        assert_eq!(n.mappings[4].policy, "prefer (many):0-1");
        assert_eq!(n.mappings[4].pages(), 1024);
        assert_eq!(n.mappings[5].policy, "weighted interleave=static:0-3");
        assert_eq!(n.mappings[5].nodes.len(), 4);
        let empty = &n.mappings[6];
        assert_eq!((empty.policy.as_str(), empty.pages()), ("default", 0));
        assert!(n.mappings[7].stack);
    }

    #[test]
    fn hugetlb_without_page_size_is_not_guessed() {
        let n = NumaMaps::parse("7f2a00000000 default huge N0=2\n7f2b00000000 default anon=2 N0=2\n");
        assert_eq!(n.mappings[0].node_bytes(4096), None);
        assert_eq!(n.mappings[1].node_bytes(4096), Some(vec![(0, 8192)]));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            for m in NumaMaps::parse(&s).mappings { let _ = (m.pages(), m.node_bytes(4096)); }
        }
    }
}
