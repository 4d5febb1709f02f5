//! `/proc/slabinfo` version 2.1 (root only; mm/slab_common.c).
//!
//! ```text
//! slabinfo - version: 2.1
//! # name  <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
//! dentry  80745  81018    192   21    1 : tunables    0    0    0 : slabdata   3858   3858      0
//! ```
//! With SLUB, caches of the same geometry are merged: one line may stand for
//! several caches (their names are in `/sys/kernel/slab/*/aliases`).

use serde::{Deserialize, Serialize};

use super::{Malformed, ParseError};

/// One cache line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlabCache {
    /// Cache name.
    pub name: String,
    /// Objects in use.
    pub active_objs: u64,
    /// Objects allocated (in use or free in slabs).
    pub num_objs: u64,
    /// Size of one object in bytes.
    pub objsize: u64,
    /// Objects per slab.
    pub objperslab: u64,
    /// Pages per slab.
    pub pagesperslab: u64,
    /// Slabs with at least one object in use (SLUB prints `num_slabs`).
    pub active_slabs: u64,
    /// Slabs allocated.
    pub num_slabs: u64,
}

impl SlabCache {
    /// Memory held by the cache's slabs: `num_slabs × pagesperslab` pages.
    pub fn bytes(&self, page_size: u64) -> u64 {
        self.num_slabs.saturating_mul(self.pagesperslab).saturating_mul(page_size)
    }

    /// Memory of the objects in use: `active_objs × objsize`.
    pub fn active_bytes(&self) -> u64 {
        self.active_objs.saturating_mul(self.objsize)
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slabinfo {
    /// The version in the first line (`2.1`).
    pub version: String,
    /// Caches in file order.
    pub caches: Vec<SlabCache>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl Slabinfo {
    /// Parse `/proc/slabinfo`. Fails only when the first line is not a
    /// `slabinfo - version: 2.x` header: another format is not guessed at.
    pub fn parse(text: &str) -> Result<Slabinfo, ParseError> {
        let mut lines = text.lines().enumerate();
        let version = lines
            .next()
            .and_then(|(_, l)| l.trim().strip_prefix("slabinfo - version:"))
            .map(|v| v.trim().to_string())
            .ok_or_else(|| ParseError::new(1, "the header `slabinfo - version: 2.1`"))?;
        if !version.starts_with("2.") {
            return Err(ParseError::new(1, format!("slabinfo version {version} (2.x expected)")));
        }
        let mut out = Slabinfo { version, ..Slabinfo::default() };
        for (i, line) in lines {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            match parse_line(line) {
                Some(c) => out.caches.push(c),
                None => out.malformed.push(Malformed::new(i, line)),
            }
        }
        Ok(out)
    }
}

fn parse_line(line: &str) -> Option<SlabCache> {
    let mut parts = line.split(':');
    let head = parts.next()?;
    let _tunables = parts.next()?;
    let slabdata = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let mut h = head.split_ascii_whitespace();
    let name = h.next()?.to_string();
    let nums: Option<Vec<u64>> = h.map(|t| t.parse().ok()).collect();
    let nums = nums?;
    let mut s = slabdata.split_ascii_whitespace();
    if s.next()? != "slabdata" {
        return None;
    }
    let sd: Option<Vec<u64>> = s.map(|t| t.parse().ok()).collect();
    let sd = sd?;
    if nums.len() != 5 || sd.len() != 3 {
        return None;
    }
    Some(SlabCache {
        name,
        active_objs: nums[0],
        num_objs: nums[1],
        objsize: nums[2],
        objperslab: nums[3],
        pagesperslab: nums[4],
        active_slabs: sd[0],
        num_slabs: sd[1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
dentry             80745  81018    192   21    1 : tunables    0    0    0 : slabdata   3858   3858      0
kmalloc-8k           120    124   8192    4    8 : tunables    0    0    0 : slabdata     31     31      0
broken line here
";

    #[test]
    fn caches() {
        let s = Slabinfo::parse(SAMPLE).unwrap();
        assert_eq!(s.version, "2.1");
        assert_eq!(s.caches.len(), 2);
        assert_eq!(s.caches[0].name, "dentry");
        assert_eq!(s.caches[0].bytes(4096), 3858 * 4096);
        assert_eq!(s.caches[1].bytes(4096), 31 * 8 * 4096);
        assert_eq!(s.caches[1].active_bytes(), 120 * 8192);
        assert_eq!(s.malformed.len(), 1);
    }

    #[test]
    fn other_versions_are_refused() {
        assert!(Slabinfo::parse("slabinfo - version: 1.1\n").is_err());
        assert!(Slabinfo::parse("").is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = Slabinfo::parse(&s);
            let _ = Slabinfo::parse(&format!("slabinfo - version: 2.1\n{s}"));
        }
    }
}
