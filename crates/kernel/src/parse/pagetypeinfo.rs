//! `/proc/pagetypeinfo`: free blocks per order and migrate type, and page
//! blocks per migrate type (mm/vmstat.c `pagetypeinfo_show`; root only
//! since 5.6, 0400).
//!
//! ```text
//! Page block order: 9
//! Pages per block:  512
//!
//! Free pages count per migrate type at order       0      1 …     10
//! Node    0, zone   Normal, type    Unmovable    178    245 …      0
//! Node    0, zone   Normal, type      Movable  11016   5517 …     21
//!
//! Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic      Isolate
//! Node 0, zone   Normal           66         1819           99            0            0
//! ```
//! Despite its header, the first table counts free *blocks* of 2^order pages
//! (`pagetypeinfo_showfree_print` counts list entries). Since 5.6 the kernel
//! stops counting a list at 100000 entries and prints `>100000`: such a
//! figure is a lower bound, recorded in [`FreeByType::at_least_orders`].
//! With CONFIG_PAGE_OWNER a third table, `Number of mixed blocks`, counts
//! page blocks holding pages of another migrate type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Malformed;

/// Free blocks of one migrate type in one zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreeByType {
    /// NUMA node.
    pub node: u32,
    /// Zone name.
    pub zone: String,
    /// Migrate type: `Unmovable`, `Movable`, `Reclaimable`, `HighAtomic`,
    /// `CMA`, `Isolate`.
    pub migrate_type: String,
    /// Free blocks per order, order 0 first.
    pub free_blocks: Vec<u64>,
    /// Orders whose count the kernel capped (printed `>N`): at least N.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at_least_orders: Vec<usize>,
}

/// Page blocks per migrate type in one zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlocksByType {
    /// NUMA node.
    pub node: u32,
    /// Zone name.
    pub zone: String,
    /// Migrate type → page blocks.
    pub blocks: BTreeMap<String, u64>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pagetypeinfo {
    /// `Page block order`: a page block is 2^order pages.
    pub page_block_order: Option<u32>,
    /// `Pages per block`.
    pub pages_per_block: Option<u64>,
    /// Free blocks per zone and migrate type.
    pub free: Vec<FreeByType>,
    /// Page blocks per zone and migrate type (`Number of blocks type`).
    pub blocks: Vec<BlocksByType>,
    /// Page blocks holding pages of another type (`Number of mixed blocks`,
    /// CONFIG_PAGE_OWNER only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mixed_blocks: Vec<BlocksByType>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Head,
    Free,
    Blocks,
    Mixed,
}

impl Pagetypeinfo {
    /// Parse `/proc/pagetypeinfo`. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> Pagetypeinfo {
        let mut out = Pagetypeinfo::default();
        let mut section = Section::Head;
        let mut types: Vec<String> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let ok = if let Some(v) = line.strip_prefix("Page block order:") {
                out.page_block_order = v.trim().parse().ok();
                out.page_block_order.is_some()
            } else if let Some(v) = line.strip_prefix("Pages per block:") {
                out.pages_per_block = v.trim().parse().ok();
                out.pages_per_block.is_some()
            } else if line.starts_with("Free pages count per migrate type") {
                section = Section::Free;
                true
            } else if let Some(rest) = line.strip_prefix("Number of blocks type") {
                section = Section::Blocks;
                types = rest.split_ascii_whitespace().map(str::to_string).collect();
                !types.is_empty()
            } else if let Some(rest) = line.strip_prefix("Number of mixed blocks") {
                section = Section::Mixed;
                types = rest.split_ascii_whitespace().map(str::to_string).collect();
                !types.is_empty()
            } else {
                match section {
                    Section::Free => parse_free(line).map(|f| out.free.push(f)).is_some(),
                    Section::Blocks => parse_blocks(line, &types).map(|b| out.blocks.push(b)).is_some(),
                    Section::Mixed => parse_blocks(line, &types).map(|b| out.mixed_blocks.push(b)).is_some(),
                    Section::Head => false,
                }
            };
            if !ok {
                out.malformed.push(Malformed::new(i, raw));
            }
        }
        out
    }

    /// Free blocks of one zone, by migrate type.
    pub fn zone_free<'a>(&'a self, node: u32, zone: &'a str) -> impl Iterator<Item = &'a FreeByType> {
        self.free.iter().filter(move |f| f.node == node && f.zone == zone)
    }

    /// Page blocks of one zone, by migrate type.
    pub fn zone_blocks(&self, node: u32, zone: &str) -> Option<&BlocksByType> {
        self.blocks.iter().find(|b| b.node == node && b.zone == zone)
    }
}

/// `Node 0, zone Normal` prefix → (node, zone, rest of the line).
fn node_zone(line: &str) -> Option<(u32, &str, &str)> {
    let rest = line.strip_prefix("Node")?;
    let (node, rest) = rest.split_once(',')?;
    let rest = rest.trim_start().strip_prefix("zone")?.trim_start();
    let end = rest.find(|c: char| c.is_whitespace() || c == ',').unwrap_or(rest.len());
    let (zone, rest) = rest.split_at(end);
    if zone.is_empty() {
        return None;
    }
    Some((node.trim().parse().ok()?, zone, rest))
}

/// `Node    0, zone   Normal, type    Movable  11016   5517 …`
fn parse_free(line: &str) -> Option<FreeByType> {
    let (node, zone, rest) = node_zone(line)?;
    let rest = rest.trim_start().strip_prefix(',')?.trim_start().strip_prefix("type")?;
    let mut it = rest.split_ascii_whitespace();
    let migrate_type = it.next()?.to_string();
    let mut free_blocks = Vec::new();
    let mut at_least_orders = Vec::new();
    for (order, tok) in it.enumerate() {
        let (capped, num) = match tok.strip_prefix('>') {
            Some(n) => (true, n),
            None => (false, tok),
        };
        free_blocks.push(num.parse().ok()?);
        if capped {
            at_least_orders.push(order);
        }
    }
    Some(FreeByType { node, zone: zone.to_string(), migrate_type, free_blocks, at_least_orders })
}

/// `Node 0, zone   Normal           66         1819 …` under a type header.
fn parse_blocks(line: &str, types: &[String]) -> Option<BlocksByType> {
    let (node, zone, rest) = node_zone(line)?;
    let nums: Option<Vec<u64>> = rest.split_ascii_whitespace().map(|t| t.parse().ok()).collect();
    let nums = nums?;
    if nums.len() != types.len() {
        return None;
    }
    Some(BlocksByType { node, zone: zone.to_string(), blocks: types.iter().cloned().zip(nums).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Captured on kernel 6.18 (x86_64), trimmed to two zones.
    const SAMPLE: &str = "Page block order: 9
Pages per block:  512

Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10 
Node    0, zone      DMA, type    Unmovable      0      0      0      0      0      0      0      0      1      0      0 
Node    0, zone      DMA, type      Movable      0      0      0      0      0      0      0      0      0      1      3 
Node    0, zone   Normal, type    Unmovable    178    245     73     41      6      2      2      2      0      0      0 
Node    0, zone   Normal, type      Movable >100000   5517   2247    119      2      2      1      0      0      4     21 
Node    0, zone   Normal, type          CMA      0      0      0      0      0      0      0      0      0      0      0 

Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic          CMA      Isolate 
Node 0, zone      DMA            1            7            0            0            0            0 
Node 0, zone   Normal           66         1819           99            0            0            0 

Number of mixed blocks    Unmovable      Movable  Reclaimable   HighAtomic          CMA      Isolate 
Node 0, zone      DMA            0            1            0            0            0            0 
";

    #[test]
    fn free_and_blocks() {
        let p = Pagetypeinfo::parse(SAMPLE);
        assert!(p.malformed.is_empty(), "{:?}", p.malformed);
        assert_eq!(p.page_block_order, Some(9));
        assert_eq!(p.pages_per_block, Some(512));
        assert_eq!(p.free.len(), 5);
        let mv = &p.free[3];
        assert_eq!((mv.node, mv.zone.as_str(), mv.migrate_type.as_str()), (0, "Normal", "Movable"));
        assert_eq!(mv.free_blocks[0], 100000);
        assert_eq!(mv.at_least_orders, vec![0]);
        assert_eq!(mv.free_blocks[10], 21);
        assert_eq!(p.zone_free(0, "DMA").count(), 2);
        let b = p.zone_blocks(0, "Normal").unwrap();
        assert_eq!(b.blocks.get("Movable"), Some(&1819));
        assert_eq!(b.blocks.get("CMA"), Some(&0));
        assert_eq!(p.mixed_blocks.len(), 1);
        assert_eq!(p.mixed_blocks[0].blocks.get("Movable"), Some(&1));
    }

    #[test]
    fn short_and_broken_lines_are_listed() {
        let p = Pagetypeinfo::parse(
            "Page block order: x\nFree pages count per migrate type at order 0 1\n\
             Node 0, zone Normal, type Movable 1 zz\nNumber of blocks type Movable\nNode 0, zone Normal 1 2\n",
        );
        assert_eq!(p.page_block_order, None);
        assert!(p.free.is_empty());
        assert!(p.blocks.is_empty());
        assert_eq!(p.malformed.len(), 3);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = Pagetypeinfo::parse(&s); }

        #[test]
        fn never_panics_on_mangled_sample(cut in 0usize..1500, junk in "\\PC{0,20}") {
            let mut s: String = SAMPLE.chars().take(cut).collect();
            s.push_str(&junk);
            let _ = Pagetypeinfo::parse(&s);
        }
    }
}
