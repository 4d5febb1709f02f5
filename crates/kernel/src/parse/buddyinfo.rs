//! `/proc/buddyinfo`: free blocks per order, per node and zone
//! (mm/vmstat.c `frag_show_print`).
//!
//! ```text
//! Node 0, zone   Normal   4104   1064    711 …
//! ```
//! Column *k* is the number of free blocks of 2^k pages.

use serde::{Deserialize, Serialize};

use super::Malformed;

/// Free blocks of one zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuddyZone {
    /// NUMA node.
    pub node: u32,
    /// Zone name.
    pub zone: String,
    /// Free blocks per order, order 0 first.
    pub free_blocks: Vec<u64>,
}

impl BuddyZone {
    /// Free pages in this zone according to the buddy lists.
    pub fn free_pages(&self) -> u64 {
        self.free_blocks
            .iter()
            .enumerate()
            .map(|(order, n)| n.saturating_mul(1u64.checked_shl(order as u32).unwrap_or(0)))
            .fold(0u64, u64::saturating_add)
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buddyinfo {
    /// Zones in file order.
    pub zones: Vec<BuddyZone>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl Buddyinfo {
    /// Parse `/proc/buddyinfo`. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> Buddyinfo {
        let mut out = Buddyinfo::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(line) {
                Some(z) => out.zones.push(z),
                None => out.malformed.push(Malformed::new(i, line)),
            }
        }
        out
    }
}

fn parse_line(line: &str) -> Option<BuddyZone> {
    let rest = line.trim().strip_prefix("Node ")?;
    let (node, rest) = rest.split_once(',')?;
    let rest = rest.trim().strip_prefix("zone")?;
    let mut it = rest.split_ascii_whitespace();
    let zone = it.next()?.to_string();
    let free_blocks: Option<Vec<u64>> = it.map(|t| t.parse().ok()).collect();
    Some(BuddyZone { node: node.trim().parse().ok()?, zone, free_blocks: free_blocks? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zones() {
        let b = Buddyinfo::parse(
            "Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3 \n\
             Node 1, zone   Normal   4104   1064 \nNode x, zone a 1\n",
        );
        assert_eq!(b.zones.len(), 2);
        assert_eq!(b.zones[0].free_blocks.len(), 11);
        assert_eq!(b.zones[0].free_pages(), 256 + 512 + 3 * 1024);
        assert_eq!(b.zones[1].node, 1);
        assert_eq!(b.zones[1].free_pages(), 4104 + 2 * 1064);
        assert_eq!(b.malformed.len(), 1);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            for z in Buddyinfo::parse(&s).zones { let _ = z.free_pages(); }
        }
    }
}
