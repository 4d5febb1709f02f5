//! `/proc/allocinfo`: memory allocation profiling (kernel 6.10+ with
//! CONFIG_MEM_ALLOC_PROFILING; Documentation/mm/allocation-profiling.rst,
//! lib/alloc_tag.c `allocinfo_show`). Bytes and calls currently allocated
//! at each call site since boot, one site per line after a header:
//!
//! ```text
//! allocinfo - version: 1.0
//! #     <size>  <calls> <tag info>
//!        12288        3 mm/memory.c:4214 func:alloc_anon_folio
//!      4194304     1010 drivers/staging/ctagmod/ctagmod.c:20 [ctagmod] func:ctagmod_start
//! ```
//!
//! Version 2.0 appends ` accurate:no` to sites whose counters missed
//! allocations (lib/alloc_tag.c, "mark inaccurate allocation counters").
//! The size is printed signed (`%12lli`); a negative value is an accounting
//! error and is kept as read. Later `key:value` tags are kept.

use serde::{Deserialize, Serialize};

use super::Malformed;

/// One allocation call site.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocSite {
    /// Bytes currently allocated from this site (signed as printed).
    pub bytes: i64,
    /// Allocations currently outstanding from this site.
    pub calls: u64,
    /// Source file (`mm/memory.c`).
    pub file: String,
    /// Source line.
    pub line: u32,
    /// Module name without brackets; `None` for the kernel image.
    pub module: Option<String>,
    /// Function (`func:` tag).
    pub function: Option<String>,
    /// Other `key:value` tags (`accurate:no`), in line order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
}

impl AllocSite {
    /// False when the kernel marked the counters as missing allocations
    /// (`accurate:no`).
    pub fn accurate(&self) -> bool {
        !self.tags.iter().any(|(k, v)| k == "accurate" && v == "no")
    }

    /// `file:line`, the site's identity.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocinfo {
    /// The header's version (`1.0`, `2.0`); `None` before the header existed
    /// (6.10 before the version line was added).
    pub version: Option<String>,
    /// Sites in file order.
    pub sites: Vec<AllocSite>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl Allocinfo {
    /// Parse `/proc/allocinfo`. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> Allocinfo {
        let mut out = Allocinfo::default();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if let Some(v) = t.strip_prefix("allocinfo - version:") {
                out.version = Some(v.trim().to_string());
                continue;
            }
            match parse_line(t) {
                Some(s) => out.sites.push(s),
                None => out.malformed.push(Malformed::new(i, line)),
            }
        }
        out
    }
}

fn parse_line(line: &str) -> Option<AllocSite> {
    let mut it = line.split_ascii_whitespace().peekable();
    let bytes: i64 = it.next()?.parse().ok()?;
    let calls: u64 = it.next()?.parse().ok()?;
    let (file, lineno) = it.next()?.rsplit_once(':')?;
    if file.is_empty() {
        return None;
    }
    let mut site =
        AllocSite { bytes, calls, file: file.to_string(), line: lineno.parse().ok()?, ..Default::default() };
    if let Some(m) = it.next_if(|t| t.starts_with('[') && t.ends_with(']') && t.len() > 2) {
        site.module = Some(m[1..m.len() - 1].to_string());
    }
    for tok in it {
        let (k, v) = tok.split_once(':')?;
        if k == "func" && site.function.is_none() {
            site.function = Some(v.to_string());
        } else {
            site.tags.push((k.to_string(), v.to_string()));
        }
    }
    Some(site)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn version_1_with_module() {
        let text = "allocinfo - version: 1.0\n#     <size>  <calls> <tag info>\n\
                   \x20          0        0 init/main.c:1314 func:do_initcalls\n\
                   \x20    4194304     1010 drivers/staging/ctagmod/ctagmod.c:20 [ctagmod] func:ctagmod_start\n\
                   \x20   57671680     4887 mm/slub.c:2259 func:alloc_slab_page\n\
                   not a line\n";
        let a = Allocinfo::parse(text);
        assert_eq!(a.version.as_deref(), Some("1.0"));
        assert_eq!(a.sites.len(), 3);
        assert_eq!(a.malformed.len(), 1);
        let m = &a.sites[1];
        assert_eq!((m.bytes, m.calls, m.line), (4194304, 1010, 20));
        assert_eq!(m.module.as_deref(), Some("ctagmod"));
        assert_eq!(m.function.as_deref(), Some("ctagmod_start"));
        assert_eq!(m.location(), "drivers/staging/ctagmod/ctagmod.c:20");
        assert!(m.accurate());
        assert_eq!(a.sites[2].module, None);
    }

    #[test]
    fn version_2_marks_inaccurate_sites() {
        let text = "allocinfo - version: 2.0\n\
                    49152 48 arch/x86/kernel/cpu/mce/core.c:2709 func:mce_device_create accurate:no\n\
                    -4096 1 mm/x.c:1 func:neg\n";
        let a = Allocinfo::parse(text);
        assert_eq!(a.sites.len(), 2);
        assert!(!a.sites[0].accurate());
        assert_eq!(a.sites[0].tags, vec![("accurate".to_string(), "no".to_string())]);
        assert_eq!(a.sites[1].bytes, -4096);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            for site in Allocinfo::parse(&s).sites { let _ = (site.accurate(), site.location()); }
        }
    }
}
