//! `/proc/vmstat` (and the per-node `nodeN/vmstat`): `name value` lines.
//!
//! Values are counts: pages for `nr_*` gauges, events for the rest
//! (`pgfault`, `compact_stall`, …). They are kept as printed; converting pages
//! to bytes needs the page size and belongs to the analysis.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Malformed;

/// Every counter of one vmstat file, under the kernel's name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vmstat {
    /// Counter name → value.
    pub counters: BTreeMap<String, u64>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl Vmstat {
    /// Parse a vmstat file. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> Vmstat {
        let mut v = Vmstat::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut it = line.split_ascii_whitespace();
            match (it.next(), it.next().and_then(|n| n.parse::<u64>().ok()), it.next()) {
                (Some(name), Some(value), None) => {
                    v.counters.insert(name.to_string(), value);
                }
                _ => v.malformed.push(Malformed::new(i, line)),
            }
        }
        v
    }

    /// One counter.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.counters.get(name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn counters() {
        let v = Vmstat::parse("nr_free_pages 6018165\nnr_zspages 0\npgfault 123\nbroken\n");
        assert_eq!(v.get("nr_free_pages"), Some(6018165));
        assert_eq!(v.get("nr_zspages"), Some(0));
        assert_eq!(v.get("nr_missing"), None);
        assert_eq!(v.malformed.len(), 1);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = Vmstat::parse(&s); }
    }
}
