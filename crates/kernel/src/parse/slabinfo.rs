//! `/proc/slabinfo` versions 2.0 and 2.1 (root only; mm/slab_common.c,
//! mm/slab.c before 3.x).
//!
//! ```text
//! slabinfo - version: 2.1
//! # name  <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
//! dentry  80745  81018    192   21    1 : tunables    0    0    0 : slabdata   3858   3858      0
//! iwl_cmd_pool:0000:04:00.0  0  0  320  25  2 : tunables 0 0 0 : slabdata  0  0  0
//! ```
//! With SLUB, caches of the same geometry are merged: one line may stand for
//! several caches (their names are in `/sys/kernel/slab/*/aliases`).
//!
//! Version 2.0 (Linux 2.6.0 to 2.6.9) printed the tunables as `<batchcount>
//! <limit> <sharedfactor>`; 2.1 swapped the first two. The object and slab
//! columns are the same in both, and the tunables are not kept, so both read
//! alike. SLAB with CONFIG_DEBUG_SLAB says `2.1 (statistics)` and appends
//! `: globalstat …` and `: cpustat …` sections, which are skipped.
//!
//! Cache names may contain `:` (per-device caches such as
//! `iwl_cmd_pool:0000:04:00.0`, drivers/net/wireless/intel/iwlwifi): the
//! sections are split at `:` standing alone between spaces, never inside
//! the name.

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
    /// Parse `/proc/slabinfo`. Fails when the file is empty (a copy made
    /// without root) or when the first line is not a `slabinfo - version:
    /// 2.x` header: another format is not guessed at.
    pub fn parse(text: &str) -> Result<Slabinfo, ParseError> {
        if text.trim().is_empty() {
            return Err(ParseError::new(0, "an empty file (read as non-root?)"));
        }
        let mut lines = text.lines().enumerate();
        let version = lines
            .next()
            .and_then(|(_, l)| l.trim().strip_prefix("slabinfo - version:"))
            .map(|v| v.trim().to_string())
            .ok_or_else(|| ParseError::new(1, "the header `slabinfo - version: 2.1`"))?;
        if !(version.starts_with("2.0") || version.starts_with("2.1")) {
            return Err(ParseError::new(1, format!("slabinfo version {version} (2.0 or 2.1 expected)")));
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

/// One cache line: `NAME n n n n n : tunables n n n : slabdata n n n [: …]`.
fn parse_line(line: &str) -> Option<SlabCache> {
    let tokens: Vec<&str> = line.split_ascii_whitespace().collect();
    // Sections start at a `:` token; the first section is the name and the
    // five object columns.
    let mut sections = tokens.split(|t| *t == ":");
    let head = sections.next()?;
    if head.len() < 6 {
        return None;
    }
    let (name, nums) = head.split_at(head.len() - 5);
    let nums: Vec<u64> = nums.iter().map(|t| t.parse().ok()).collect::<Option<_>>()?;
    let mut tunables = false;
    let mut slabdata = None;
    for section in sections {
        match section.split_first() {
            Some((&"tunables", rest)) if rest.len() == 3 => tunables = true,
            Some((&"slabdata", rest)) if rest.len() == 3 => {
                slabdata = Some(rest.iter().map(|t| t.parse().ok()).collect::<Option<Vec<u64>>>()?);
            }
            // CONFIG_DEBUG_SLAB's statistics: not kept.
            Some((&"globalstat", _)) | Some((&"cpustat", _)) => {}
            _ => return None,
        }
    }
    let sd = slabdata?;
    if !tunables {
        return None;
    }
    Some(SlabCache {
        name: name.join(" "),
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
        assert!(Slabinfo::parse("slabinfo - version: 2.2\n").is_err());
    }

    #[test]
    fn an_empty_file_says_so_not_a_header_error() {
        for text in ["", "\n"] {
            let e = Slabinfo::parse(text).unwrap_err();
            assert_eq!(e.line, 0);
            assert!(e.item.contains("empty") && e.item.contains("non-root"), "{e:?}");
        }
    }

    #[test]
    fn cache_names_with_colons_are_caches_not_malformed_lines() {
        let text = "slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
iwl_cmd_pool:0000:04:00.0     50     50    320   25    2 : tunables    0    0    0 : slabdata      2      2      0
:at_start      4     4   1024    4    1 : tunables    0    0    0 : slabdata      1      1      0
";
        let s = Slabinfo::parse(text).unwrap();
        assert!(s.malformed.is_empty(), "{:?}", s.malformed);
        assert_eq!(s.caches[0].name, "iwl_cmd_pool:0000:04:00.0");
        assert_eq!(s.caches[0].bytes(4096), 2 * 2 * 4096);
        assert_eq!(s.caches[1].name, ":at_start");
    }

    #[test]
    fn version_2_0_of_2_6_9_reads_like_2_1() {
        // Linux 2.6.9 mm/slab.c: tunables were <batchcount> <limit> <sharedfactor>.
        let text = "slabinfo - version: 2.0
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <batchcount> <limit> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
dentry_cache       12000  12060    144   27    1 : tunables   60  120    8 : slabdata    446    446      0
";
        let s = Slabinfo::parse(text).unwrap();
        assert_eq!(s.version, "2.0");
        assert_eq!((s.caches[0].num_slabs, s.caches[0].objsize), (446, 144));
    }

    #[test]
    fn slab_statistics_sections_are_skipped() {
        // CONFIG_DEBUG_SLAB (mm/slab.c slabinfo_show_stats).
        let text = "slabinfo - version: 2.1 (statistics)
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail> : globalstat <listallocs> <maxobjs> <grown> <reaped> <error> <maxfreeable> <nodeallocs> <remotefrees> <alienoverflow> : cpustat <allochit> <allocmiss> <freehit> <freemiss>
size-64            840    944     64   59    1 : tunables  120   60    8 : slabdata     16     16      0 : globalstat    1101    944    16    0    0    0    0    0    0 : cpustat   1550     80    811      0
";
        let s = Slabinfo::parse(text).unwrap();
        assert!(s.malformed.is_empty());
        assert_eq!(s.caches[0].num_slabs, 16);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = Slabinfo::parse(&s);
            let _ = Slabinfo::parse(&format!("slabinfo - version: 2.1\n{s}"));
        }
    }
}
