//! `memscope zones`: each zone's free pages against its watermarks, its buddy
//! free lists, fragmentation, and "can I allocate COUNT blocks of ORDER now?".
//!
//! The page allocator (mm/page_alloc.c) compares a zone's free pages with
//! three watermarks, printed in `/proc/zoneinfo` with any watermark boost
//! already added (`min_wmark_pages()` …):
//!
//! ```text
//!  free ≥ high        kswapd sleeps
//!  low ≤ free < high  kswapd, once woken, reclaims until free reaches high
//!  min ≤ free < low   an allocation wakes kswapd
//!  free < min         allocations enter direct reclaim; only atomic and
//!                     emergency (PF_MEMALLOC) allocations may go below min
//! ```
//!
//! Free memory sits on per-order lists (`/proc/buddyinfo`): a block of order
//! k is 2^k contiguous pages, and a request of order n can be served by
//! splitting any free block of order ≥ n. `/proc/pagetypeinfo` splits the
//! lists by migrate type. The *unusable free space index* of order n
//! (mm/vmstat.c `unusable_free_index`, Mel Gorman's fragmentation measure)
//! is the share of free pages in blocks too small for order n: 0 means every
//! free page could serve it, 1 that none could.

use memscope_kernel::parse::buddyinfo::{BuddyZone, Buddyinfo};
use memscope_kernel::parse::pagetypeinfo::{FreeByType, Pagetypeinfo};
use memscope_kernel::parse::zoneinfo::{Zone, Zoneinfo};
use memscope_model::Snapshot;
use serde::Serialize;

use crate::hints::unavailable_reason;
use crate::units::{fmt_bytes, fmt_pct};

/// Where free memory stands against the watermarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Watermark {
    /// Below min: direct reclaim.
    BelowMin,
    /// Between min and low: kswapd is woken.
    BelowLow,
    /// Between low and high: kswapd reclaims if awake.
    BelowHigh,
    /// At or above high: no reclaim.
    AboveHigh,
}

impl Watermark {
    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Watermark::BelowMin => "below min",
            Watermark::BelowLow => "below low",
            Watermark::BelowHigh => "below high",
            Watermark::AboveHigh => "ok",
        }
    }

    /// What the allocator does in this state.
    pub fn meaning(self) -> &'static str {
        match self {
            Watermark::BelowMin => "allocations enter direct reclaim",
            Watermark::BelowLow => "allocations wake kswapd",
            Watermark::BelowHigh => "kswapd reclaims if awake",
            Watermark::AboveHigh => "no reclaim needed",
        }
    }

    fn of(free: u64, min: u64, low: u64, high: u64) -> Watermark {
        if free < min {
            Watermark::BelowMin
        } else if free < low {
            Watermark::BelowLow
        } else if free < high {
            Watermark::BelowHigh
        } else {
            Watermark::AboveHigh
        }
    }
}

/// One zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneRow {
    /// Node.
    pub node: u32,
    /// Zone.
    pub zone: String,
    /// Pages in the zone's range, holes included.
    pub spanned_pages: Option<u64>,
    /// Pages of RAM in the zone.
    pub present_pages: Option<u64>,
    /// Pages the buddy allocator manages (present minus boot reservations
    /// and pages not yet initialised).
    pub managed_pages: Option<u64>,
    /// Free pages (`pages free`).
    pub free_pages: Option<u64>,
    /// Watermarks in pages (boost included).
    pub min_pages: Option<u64>,
    /// Low watermark.
    pub low_pages: Option<u64>,
    /// High watermark.
    pub high_pages: Option<u64>,
    /// Where free stands.
    pub watermark: Option<Watermark>,
    /// Free pages above the low watermark (negative: below it).
    pub above_low_pages: Option<i64>,
    /// Free blocks per order (buddyinfo).
    pub free_blocks: Option<Vec<u64>>,
    /// Largest order with a free block.
    pub largest_free_order: Option<u32>,
    /// Unusable free space index per order (0 to 1).
    pub unusable_index: Vec<f64>,
    /// Free blocks per migrate type (pagetypeinfo).
    pub free_by_type: Vec<FreeByType>,
    /// Page blocks per migrate type (pagetypeinfo).
    pub blocks_by_type: Option<std::collections::BTreeMap<String, u64>>,
}

/// One zone's answer to `--can-alloc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneAnswer {
    /// Node.
    pub node: u32,
    /// Zone.
    pub zone: String,
    /// Blocks of the order that the free lists could give now (splitting
    /// larger blocks).
    pub blocks: u64,
    /// `blocks ≥ count`.
    pub enough: bool,
    /// Free pages that would remain after taking `count` blocks here;
    /// `None` when this zone does not hold `count` blocks.
    pub free_after_pages: Option<i64>,
    /// Where that would leave the zone against its watermarks.
    pub watermark_after: Option<Watermark>,
}

/// `--can-alloc ORDER[xCOUNT]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CanAlloc {
    /// Order asked for.
    pub order: u32,
    /// Blocks asked for.
    pub count: u64,
    /// Bytes in one block.
    pub block_bytes: u64,
    /// Per zone.
    pub zones: Vec<ZoneAnswer>,
    /// Blocks available over the zones shown.
    pub total_blocks: u64,
    /// `total_blocks ≥ count`: the free lists hold enough now.
    pub possible: bool,
}

/// The `zones` view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZonesView {
    /// Base page size.
    pub page_size_bytes: u64,
    /// Zones shown.
    pub zones: Vec<ZoneRow>,
    /// Page block order (pagetypeinfo).
    pub page_block_order: Option<u32>,
    /// Why buddyinfo is missing, if it is.
    pub buddyinfo_unavailable: Option<String>,
    /// Why pagetypeinfo is missing, if it is.
    pub pagetypeinfo_unavailable: Option<String>,
    /// The `--can-alloc` answer.
    pub can_alloc: Option<CanAlloc>,
    /// What the numbers say.
    pub notes: Vec<String>,
}

/// What to show.
#[derive(Debug, Clone, Copy, Default)]
pub struct ZonesOptions {
    /// Only this node.
    pub node: Option<u32>,
    /// `(order, count)` to answer for.
    pub can_alloc: Option<(u32, u64)>,
    /// Show empty zones too.
    pub all: bool,
}

/// Blocks of `order` that the free lists can give: every free block of
/// order k ≥ `order` splits into 2^(k − order) of them.
pub fn blocks_available(free_blocks: &[u64], order: u32) -> u64 {
    free_blocks
        .iter()
        .enumerate()
        .skip(order as usize)
        .map(|(k, n)| n.saturating_mul(1u64.checked_shl(k as u32 - order).unwrap_or(u64::MAX)))
        .fold(0u64, u64::saturating_add)
}

/// The unusable free space index for each order (mm/vmstat.c
/// `unusable_free_index`): (free pages − pages in blocks of order ≥ n) /
/// free pages; 1 when nothing is free.
pub fn unusable_index(free_blocks: &[u64]) -> Vec<f64> {
    let free = BuddyZone { free_blocks: free_blocks.to_vec(), ..BuddyZone::default() }.free_pages();
    (0..free_blocks.len() as u32)
        .map(|order| {
            if free == 0 {
                return 1.0;
            }
            let unit = 1u64.checked_shl(order).unwrap_or(u64::MAX);
            let suitable = blocks_available(free_blocks, order).saturating_mul(unit).min(free);
            let idx = (free - suitable) as f64 / free as f64;
            (idx * 1000.0).round() / 1000.0
        })
        .collect()
}

fn zone_row(z: &Zone, buddy: Option<&Buddyinfo>, ptype: Option<&Pagetypeinfo>) -> ZoneRow {
    let free = z.get("free").or_else(|| z.get("nr_free_pages"));
    let (min, low, high) = (z.get("min"), z.get("low"), z.get("high"));
    let watermark = match (free, min, low, high) {
        (Some(f), Some(mi), Some(lo), Some(hi)) => Some(Watermark::of(f, mi, lo, hi)),
        _ => None,
    };
    let free_blocks = buddy
        .and_then(|b| b.zones.iter().find(|b| b.node == z.node && b.zone == z.zone))
        .map(|b| b.free_blocks.clone());
    let largest_free_order =
        free_blocks.as_ref().and_then(|f| f.iter().rposition(|n| *n > 0)).map(|o| o as u32);
    ZoneRow {
        node: z.node,
        zone: z.zone.clone(),
        spanned_pages: z.get("spanned"),
        present_pages: z.get("present"),
        managed_pages: z.get("managed"),
        free_pages: free,
        min_pages: min,
        low_pages: low,
        high_pages: high,
        watermark,
        above_low_pages: free.zip(low).map(|(f, l)| f as i64 - l as i64),
        unusable_index: free_blocks.as_deref().map(unusable_index).unwrap_or_default(),
        largest_free_order,
        free_blocks,
        free_by_type: ptype.map(|p| p.zone_free(z.node, &z.zone).cloned().collect()).unwrap_or_default(),
        blocks_by_type: ptype.and_then(|p| p.zone_blocks(z.node, &z.zone)).map(|b| b.blocks.clone()),
    }
}

/// The view of a snapshot's zones (its zoneinfo and buddyinfo; a snapshot
/// keeps no pagetypeinfo). `Err` when zoneinfo could not be read, with why.
pub fn from_snapshot(snap: &Snapshot, opts: &ZonesOptions) -> Result<ZonesView, String> {
    let zoneinfo = snap.zoneinfo.as_ref().map_err(unavailable_reason)?;
    build(
        zoneinfo,
        snap.buddyinfo.as_ref().map_err(unavailable_reason),
        Err("a snapshot does not keep /proc/pagetypeinfo".into()),
        crate::ledger::usable_page_size(snap.page_size_bytes),
        opts,
    )
}

/// Build the view. `Err` when `opts.node` names no node.
pub fn build(
    zoneinfo: &Zoneinfo,
    buddy: Result<&Buddyinfo, String>,
    ptype: Result<&Pagetypeinfo, String>,
    page_size_bytes: u64,
    opts: &ZonesOptions,
) -> Result<ZonesView, String> {
    if zoneinfo.zones.is_empty() {
        return Err(format!(
            "/proc/zoneinfo lists no zone ({}): empty, cut short or not a zoneinfo file",
            match zoneinfo.malformed.len() {
                0 => "no line in it is a zone".to_string(),
                n => format!("{n} malformed line(s)"),
            }
        ));
    }
    if let Some(n) = opts.node
        && !zoneinfo.zones.iter().any(|z| z.node == n)
    {
        let mut nodes: Vec<u32> = zoneinfo.zones.iter().map(|z| z.node).collect();
        nodes.dedup();
        let nodes: Vec<String> = nodes.iter().map(u32::to_string).collect();
        return Err(format!("no node {n} in /proc/zoneinfo (nodes: {})", nodes.join(", ")));
    }
    let (buddy, buddyinfo_unavailable) = match buddy {
        Ok(b) => (Some(b), None),
        Err(e) => (None, Some(e)),
    };
    let (ptype, pagetypeinfo_unavailable) = match ptype {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(e)),
    };
    let zones: Vec<ZoneRow> = zoneinfo
        .zones
        .iter()
        .filter(|z| opts.node.is_none_or(|n| z.node == n))
        .filter(|z| opts.all || z.get("present").unwrap_or(1) > 0)
        .map(|z| zone_row(z, buddy, ptype))
        .collect();
    let mut notes = Vec::new();
    if let Some(first) = zoneinfo.malformed.first() {
        notes.push(format!(
            "/proc/zoneinfo: {} malformed line(s) skipped (line {}).",
            zoneinfo.malformed.len(),
            first.line
        ));
    }
    for z in &zones {
        if let (Some(p), Some(m)) = (z.present_pages, z.managed_pages)
            && p > m
        {
            let gap = (p - m).saturating_mul(page_size_bytes);
            if gap >= 64 << 20 && (p - m).saturating_mul(10) > p {
                notes.push(format!(
                    "Node {} {}: {} of its {} present are not managed by the buddy allocator ({}): pages reserved \
                     at boot (memmap, crash kernel, CMA, firmware) or not initialised yet (deferred struct page \
                     initialisation, which hands them over on demand). buddyinfo does not count them.",
                    z.node,
                    z.zone,
                    fmt_bytes(gap as i64),
                    fmt_bytes(p.saturating_mul(page_size_bytes) as i64),
                    fmt_pct((p - m) as i64, p as i64)
                ));
            }
        }
        if let Some(w) = z.watermark
            && w <= Watermark::BelowLow
        {
            notes.push(format!("Node {} {}: free memory is {}: {}.", z.node, z.zone, w.name(), w.meaning()));
        }
    }
    if let Some(why) = &pagetypeinfo_unavailable {
        notes.push(format!("Free blocks per migrate type are unavailable: {why}."));
    }
    let can_alloc = match (opts.can_alloc, buddy) {
        (Some((order, count)), Some(_)) => {
            let answers: Vec<ZoneAnswer> = zones
                .iter()
                .filter_map(|z| {
                    let blocks = blocks_available(z.free_blocks.as_deref()?, order);
                    let take = count.saturating_mul(1u64.checked_shl(order).unwrap_or(u64::MAX));
                    let free_after = z
                        .free_pages
                        .filter(|_| blocks >= count)
                        .map(|f| f as i64 - take.min(i64::MAX as u64) as i64);
                    let watermark_after = match (free_after, z.min_pages, z.low_pages, z.high_pages) {
                        (Some(f), Some(mi), Some(lo), Some(hi)) => {
                            Some(Watermark::of(f.max(0) as u64, mi, lo, hi))
                        }
                        _ => None,
                    };
                    Some(ZoneAnswer {
                        node: z.node,
                        zone: z.zone.clone(),
                        blocks,
                        enough: blocks >= count,
                        free_after_pages: free_after,
                        watermark_after,
                    })
                })
                .collect();
            let total_blocks = answers.iter().map(|a| a.blocks).fold(0u64, u64::saturating_add);
            let max_order =
                zones.iter().filter_map(|z| z.free_blocks.as_ref().map(Vec::len)).max().unwrap_or(0);
            if order as usize >= max_order && max_order > 0 {
                notes.push(format!(
                    "Order {order} is above the buddy allocator's largest block (order {}, {}): such a block \
                     can only come from hugetlb pools, CMA or alloc_contig_range, never from the free lists.",
                    max_order - 1,
                    fmt_bytes((page_size_bytes << (max_order - 1)) as i64)
                ));
            }
            Some(CanAlloc {
                order,
                count,
                block_bytes: page_size_bytes.saturating_mul(1u64.checked_shl(order).unwrap_or(0)),
                zones: answers,
                total_blocks,
                possible: total_blocks >= count,
            })
        }
        _ => None,
    };
    Ok(ZonesView {
        page_size_bytes,
        zones,
        page_block_order: ptype.and_then(|p| p.page_block_order),
        buddyinfo_unavailable,
        pagetypeinfo_unavailable,
        can_alloc,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONEINFO: &str = "Node 0, zone      DMA
  pages free     3840
        boost    0
        min      10
        low      20
        high     30
        spanned  4095
        present  3998
        managed  3840
Node 0, zone   Normal
  pages free     50
        min      100
        low      200
        high     300
        spanned  600000
        present  600000
        managed  100000
Node 0, zone  Movable
  pages free     0
        min      0
        low      0
        high     0
        spanned  0
        present  0
        managed  0
Node 1, zone   Normal
  pages free     5000
        min      100
        low      200
        high     300
        spanned  10000
        present  10000
        managed  9900
";
    const BUDDY: &str =
        "Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3
Node 0, zone   Normal     10      4      2      1      0      0      0      0      0      0      0
Node 1, zone   Normal      0      0      0      0      0      0      0      0      0      2      3
";

    proptest::proptest! {
        #[test]
        fn index_and_blocks_never_panic(f in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..80), o in 0u32..90) {
            let _ = blocks_available(&f, o);
            for x in unusable_index(&f) { proptest::prop_assert!((0.0..=1.0).contains(&x)); }
        }
    }

    #[test]
    fn blocks_split_from_larger_orders() {
        assert_eq!(blocks_available(&[10, 4, 2, 1], 0), 10 + 8 + 8 + 8);
        assert_eq!(blocks_available(&[10, 4, 2, 1], 2), 2 + 2);
        assert_eq!(blocks_available(&[10, 4, 2, 1], 4), 0);
        assert_eq!(blocks_available(&[u64::MAX, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0), u64::MAX);
        assert_eq!(blocks_available(&[0; 11], 10), 0);
        assert_eq!(blocks_available(&vec![1; 80], 0), u64::MAX);
    }

    #[test]
    fn unusable_index_matches_the_kernel_formula() {
        // 10 + 8 + 8 + 8 = 34 free pages; order 2 can use 8 + 8 = 16 → (34 − 16)/34.
        let idx = unusable_index(&[10, 4, 2, 1]);
        assert_eq!(idx[0], 0.0);
        assert_eq!(idx[2], 0.529);
        assert_eq!(idx[3], (26.0f64 / 34.0 * 1000.0).round() / 1000.0);
        assert_eq!(unusable_index(&[0, 0]), vec![1.0, 1.0]);
    }

    #[test]
    fn empty_or_garbage_zoneinfo_is_unavailable_not_an_empty_table() {
        let bi = Buddyinfo::parse(BUDDY);
        let opts = ZonesOptions::default();
        let err = build(&Zoneinfo::parse(""), Ok(&bi), Err("-".into()), 4096, &opts).unwrap_err();
        assert!(err.starts_with("/proc/zoneinfo lists no zone"), "{err}");
        let garbage = Zoneinfo::parse("x7 \u{1b}[2J\n\t\tpages free 12\nNode 0,\n");
        let err = build(&garbage, Ok(&bi), Err("-".into()), 4096, &opts).unwrap_err();
        assert!(err.contains("malformed line") || err.contains("no line"), "{err}");
        // Garbage among real zones is named in a note.
        let mixed = Zoneinfo::parse(&format!("{ZONEINFO}garbage line\n"));
        let v = build(&mixed, Ok(&bi), Err("-".into()), 4096, &opts).unwrap();
        assert!(v.notes.iter().any(|n| n.starts_with("/proc/zoneinfo: 1 malformed")), "{:?}", v.notes);
    }

    #[test]
    fn zones_watermarks_and_can_alloc() {
        let zi = Zoneinfo::parse(ZONEINFO);
        let bi = Buddyinfo::parse(BUDDY);
        let opts = ZonesOptions { can_alloc: Some((9, 4)), ..ZonesOptions::default() };
        let v = build(&zi, Ok(&bi), Err("permission denied".into()), 4096, &opts).unwrap();
        // The empty Movable zone is hidden.
        assert_eq!(v.zones.len(), 3);
        assert_eq!(v.zones[0].watermark, Some(Watermark::AboveHigh));
        assert_eq!(v.zones[1].watermark, Some(Watermark::BelowMin));
        assert_eq!(v.zones[1].largest_free_order, Some(3));
        assert_eq!(v.zones[2].largest_free_order, Some(10));
        let c = v.can_alloc.as_ref().unwrap();
        assert_eq!(c.block_bytes, 2 << 20);
        let per: Vec<u64> = c.zones.iter().map(|z| z.blocks).collect();
        // DMA: 1 + 2·3 (the order-8 block is too small); node 1: 2 + 2·3.
        assert_eq!(per, vec![7, 0, 8]);
        assert!(c.zones[0].enough && !c.zones[1].enough && c.zones[2].enough);
        assert_eq!(c.zones[0].free_after_pages, Some(3840 - 4 * 512));
        assert_eq!((c.total_blocks, c.possible), (15, true));
        assert!(v.notes.iter().any(|n| n.contains("Node 0 Normal") && n.contains("not managed")));
        assert!(v.notes.iter().any(|n| n.contains("below min")));
        assert!(v.notes.iter().any(|n| n.contains("migrate type are unavailable")));

        let v = build(
            &zi,
            Ok(&bi),
            Err("x".into()),
            4096,
            &ZonesOptions { node: Some(1), can_alloc: Some((10, 4)), all: false },
        )
        .unwrap();
        let c = v.can_alloc.unwrap();
        assert_eq!((c.total_blocks, c.possible), (3, false));
        assert!(
            build(&zi, Ok(&bi), Err("x".into()), 4096, &ZonesOptions { node: Some(7), ..Default::default() })
                .is_err()
        );
        let v = build(
            &zi,
            Ok(&bi),
            Err("x".into()),
            4096,
            &ZonesOptions { can_alloc: Some((11, 1)), all: true, node: None },
        )
        .unwrap();
        assert_eq!(v.zones.len(), 4);
        assert!(!v.can_alloc.unwrap().possible);
        assert!(v.notes.iter().any(|n| n.contains("above the buddy allocator's largest block")));
    }
}
