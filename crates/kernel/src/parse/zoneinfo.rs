//! `/proc/zoneinfo`: per node and zone, the page counts and watermarks of
//! mm/vmstat.c `zoneinfo_show_print`.
//!
//! Layout (kernel 6.x; older kernels lack some lines, all are optional here):
//! ```text
//! Node 0, zone   Normal
//!   per-node stats            <- only in the first populated zone of a node
//!       nr_inactive_anon 441
//!   pages free     3840
//!         min      49         <- watermarks and sizes, in pages
//!         spanned  4095
//!         present  3998
//!         managed  3840
//!         protection: (0, 3019, 5067, 5067, 5067)
//!       nr_free_pages 3840     <- zone counters
//!   pagesets
//!     cpu: 0
//!               count:    12   <- pages on that CPU's per-cpu free lists
//!               high:     0
//!               batch:    1
//!   vm stats threshold: 4
//!   node_unreclaimable:  0
//!   start_pfn:           1
//! ```
//! Every count is in pages. Unpopulated zones stop after `protection:`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Malformed;

/// One CPU's per-cpu page list of a zone (`pagesets` block).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pageset {
    /// CPU number.
    pub cpu: u32,
    /// `count`, `high`, `batch`, `high_min`, `high_max`, … in pages;
    /// `vm stats threshold` under the key `vm_stats_threshold`.
    pub fields: BTreeMap<String, u64>,
}

impl Pageset {
    /// Free pages held on this CPU's lists (`count`): free memory that
    /// `nr_free_pages` does not include.
    pub fn count(&self) -> Option<u64> {
        self.fields.get("count").copied()
    }
}

/// One zone of one node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// NUMA node.
    pub node: u32,
    /// Zone name: `DMA`, `DMA32`, `Normal`, `Movable`, `Device`, `HighMem`.
    pub zone: String,
    /// Zone fields in pages, kernel names: `free` (from `pages free`), `min`,
    /// `low`, `high`, `promo`, `boost`, `spanned`, `present`, `managed`,
    /// `cma`, `nr_free_pages`, `nr_zone_*`, `nr_mlock`, `nr_zspages`, …
    pub fields: BTreeMap<String, u64>,
    /// `protection:` (lowmem_reserve) per higher zone, in pages.
    pub protection: Vec<u64>,
    /// The node's counters (`per-node stats`), on the node's first zone.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_stats: BTreeMap<String, u64>,
    /// Per-CPU page lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pagesets: Vec<Pageset>,
    /// First page frame number of the zone.
    pub start_pfn: Option<u64>,
    /// `node_unreclaimable` flag.
    pub node_unreclaimable: Option<u64>,
}

impl Zone {
    /// A zone field in pages.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.fields.get(key).copied()
    }

    /// Pages on the per-CPU free lists of this zone, summed over CPUs.
    /// `None` when the kernel prints no `count:` lines.
    pub fn pcp_pages(&self) -> Option<u64> {
        let counts: Vec<u64> = self.pagesets.iter().filter_map(Pageset::count).collect();
        if counts.is_empty() { None } else { Some(counts.iter().sum()) }
    }

    /// PFN range `[start_pfn, start_pfn + spanned)` of the zone.
    pub fn pfn_range(&self) -> Option<(u64, u64)> {
        let start = self.start_pfn?;
        Some((start, start.checked_add(self.get("spanned")?)?))
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zoneinfo {
    /// Zones in file order.
    pub zones: Vec<Zone>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Zone,
    NodeStats,
    Pagesets,
}

impl Zoneinfo {
    /// Parse `/proc/zoneinfo`. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> Zoneinfo {
        let mut out = Zoneinfo::default();
        let mut section = Section::Zone;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            if let Some((node, zone)) = parse_zone_header(line) {
                out.zones.push(Zone { node, zone, ..Zone::default() });
                section = Section::Zone;
                continue;
            }
            let Some(z) = out.zones.last_mut() else {
                out.malformed.push(Malformed::new(i, raw));
                continue;
            };
            let ok = match line {
                "per-node stats" => {
                    section = Section::NodeStats;
                    true
                }
                "pagesets" => {
                    section = Section::Pagesets;
                    true
                }
                _ => parse_zone_line(z, line, &mut section),
            };
            if !ok {
                out.malformed.push(Malformed::new(i, raw));
            }
        }
        out
    }

    /// Zones of one node.
    pub fn node_zones(&self, node: u32) -> impl Iterator<Item = &Zone> {
        self.zones.iter().filter(move |z| z.node == node)
    }
}

/// `Node 0, zone   Normal`
fn parse_zone_header(line: &str) -> Option<(u32, String)> {
    let rest = line.strip_prefix("Node ")?;
    let (node, zone) = rest.split_once(',')?;
    let zone = zone.trim().strip_prefix("zone")?.trim();
    if zone.is_empty() {
        return None;
    }
    Some((node.trim().parse().ok()?, zone.to_string()))
}

fn parse_zone_line(z: &mut Zone, line: &str, section: &mut Section) -> bool {
    if let Some(rest) = line.strip_prefix("pages free") {
        *section = Section::Zone;
        return insert_num(&mut z.fields, "free", rest);
    }
    if let Some(rest) = line.strip_prefix("protection:") {
        let inner = rest.trim().trim_start_matches('(').trim_end_matches(')');
        let values: Option<Vec<u64>> =
            inner.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().ok()).collect();
        return match values {
            Some(v) => {
                z.protection = v;
                true
            }
            None => false,
        };
    }
    if let Some(rest) = line.strip_prefix("cpu:") {
        *section = Section::Pagesets;
        return match rest.trim().parse() {
            Ok(cpu) => {
                z.pagesets.push(Pageset { cpu, fields: BTreeMap::new() });
                true
            }
            Err(_) => false,
        };
    }
    if let Some(rest) = line.strip_prefix("vm stats threshold:") {
        return match z.pagesets.last_mut() {
            Some(p) => insert_num(&mut p.fields, "vm_stats_threshold", rest),
            None => rest.trim().parse::<u64>().is_ok(),
        };
    }
    if let Some(rest) = line.strip_prefix("node_unreclaimable:") {
        z.node_unreclaimable = rest.trim().parse().ok();
        return z.node_unreclaimable.is_some();
    }
    if let Some(rest) = line.strip_prefix("start_pfn:") {
        z.start_pfn = rest.trim().parse().ok();
        return z.start_pfn.is_some();
    }
    // `key value` or `key: value`
    let (key, value) = match line.split_once(':') {
        Some((k, v)) if !k.contains(char::is_whitespace) => (k, v),
        _ => match line.split_once(char::is_whitespace) {
            Some(kv) => kv,
            None => return false,
        },
    };
    let map = match section {
        // Node stats run until `pages free` starts the zone's own lines.
        Section::NodeStats => &mut z.node_stats,
        Section::Pagesets => match z.pagesets.last_mut() {
            Some(p) => &mut p.fields,
            None => return false,
        },
        Section::Zone => &mut z.fields,
    };
    insert_num(map, key, value)
}

fn insert_num(map: &mut BTreeMap<String, u64>, key: &str, value: &str) -> bool {
    match value.trim().parse::<u64>() {
        Ok(n) => {
            map.insert(key.to_string(), n);
            true
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "Node 0, zone      DMA
  per-node stats
      nr_inactive_anon 441
      workingset_nodes 0
      nr_kernel_stack 1268
  pages free     3840
        boost    0
        min      49
        low      61
        high     73
        spanned  4095
        present  3998
        managed  3840
        cma      0
        protection: (0, 3019, 5067, 5067, 5067)
      nr_free_pages 3840
  pagesets
    cpu: 0
              count:    7
              high:     0
              batch:    1
  vm stats threshold: 4
    cpu: 1
              count:    5
              high:     0
              batch:    1
  vm stats threshold: 4
  node_unreclaimable:  0
  start_pfn:           1
Node 0, zone  Movable
  pages free     0
        min      0
        low      0
        high     0
        spanned  0
        present  0
        managed  0
        protection: (0, 0, 0, 0, 0)
";

    #[test]
    fn zones_fields_pagesets() {
        let z = Zoneinfo::parse(SAMPLE);
        assert!(z.malformed.is_empty(), "{:?}", z.malformed);
        assert_eq!(z.zones.len(), 2);
        let dma = &z.zones[0];
        assert_eq!((dma.node, dma.zone.as_str()), (0, "DMA"));
        assert_eq!(dma.node_stats.get("nr_kernel_stack"), Some(&1268));
        assert_eq!(dma.get("free"), Some(3840));
        assert_eq!(dma.get("managed"), Some(3840));
        assert_eq!(dma.get("nr_free_pages"), Some(3840));
        assert_eq!(dma.protection, vec![0, 3019, 5067, 5067, 5067]);
        assert_eq!(dma.pcp_pages(), Some(12));
        assert_eq!(dma.pagesets[1].fields.get("vm_stats_threshold"), Some(&4));
        assert_eq!(dma.pfn_range(), Some((1, 4096)));
        let movable = &z.zones[1];
        assert_eq!(movable.pcp_pages(), None);
        assert_eq!(movable.start_pfn, None);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = Zoneinfo::parse(&s); }

        #[test]
        fn never_panics_on_mangled_sample(cut in 0usize..800, junk in "\\PC{0,20}") {
            let mut s: String = SAMPLE.chars().take(cut).collect();
            s.push_str(&junk);
            let _ = Zoneinfo::parse(&s);
        }
    }
}
