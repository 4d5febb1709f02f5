//! `/proc/vmallocinfo` (mm/vmalloc.c `vmalloc_info_show`; addresses hashed
//! or zero for non-root, the file itself root-only on many distributions).
//!
//! ```text
//! 0x…-0x…   20480 kernel_clone+0x94/0x3e0 pages=4 vmalloc N0=4
//! 0x…-0x…    8192 acpi_os_map_iomem+0x1bc/0x1e0 phys=0x00000000000a0000 ioremap
//! 0x…-0x…   36864 pcpu_get_vm_areas+0x0/0x1050 vmalloc
//! 0x…-0x…    8192 unpurged vm_area
//! 0x…-0x…    4096 vm_map_ram
//! ```
//! `size` includes the guard page. `pages=N` counts the pages allocated for a
//! vmalloc area: that is what `VmallocUsed` in meminfo sums. `ioremap` areas
//! map device memory: they are not RAM.

use serde::{Deserialize, Serialize};

use super::{Malformed, hex_u64};

/// One virtual area.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmallocArea {
    /// Size of the virtual range in bytes (including the guard page).
    pub size_bytes: u64,
    /// The allocating function as printed (`kernel_clone+0x94/0x3e0`, with
    /// ` [module]` when it lives in a module), when the line names one.
    pub caller: Option<String>,
    /// Pages allocated for the area (`pages=N`).
    pub pages: Option<u64>,
    /// Physical address of an `ioremap` (`phys=`).
    pub phys: Option<u64>,
    /// Keywords on the line: `ioremap`, `vmalloc`, `vmap`, `user`, `vpages`,
    /// `dma-coherent`, `unpurged`, `vm_area`, `vm_map_ram`, …
    pub flags: Vec<String>,
    /// Pages per NUMA node (`N0=4`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<(u32, u64)>,
}

/// The kind of a vmalloc area, from its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VmallocKind {
    /// `vmalloc()`ed memory: pages counted in `VmallocUsed`.
    Vmalloc,
    /// `vmap()` of existing pages (their memory is counted where it was allocated).
    Vmap,
    /// A mapping of device memory (`ioremap`): not RAM.
    Ioremap,
    /// `vmalloc_user()` memory, mappable to user space.
    User,
    /// `vm_map_ram()` areas.
    VmMapRam,
    /// Freed but not yet purged (lazy TLB flush).
    Unpurged,
    /// Anything else.
    Other,
}

impl VmallocKind {
    /// Name used in output.
    pub fn name(self) -> &'static str {
        match self {
            VmallocKind::Vmalloc => "vmalloc",
            VmallocKind::Vmap => "vmap",
            VmallocKind::Ioremap => "ioremap",
            VmallocKind::User => "user",
            VmallocKind::VmMapRam => "vm_map_ram",
            VmallocKind::Unpurged => "unpurged",
            VmallocKind::Other => "other",
        }
    }
}

impl VmallocArea {
    /// What kind of area this is.
    pub fn kind(&self) -> VmallocKind {
        let has = |f: &str| self.flags.iter().any(|x| x == f);
        if has("ioremap") {
            VmallocKind::Ioremap
        } else if has("user") {
            VmallocKind::User
        } else if has("vmalloc") {
            VmallocKind::Vmalloc
        } else if has("vmap") {
            VmallocKind::Vmap
        } else if has("vm_map_ram") {
            VmallocKind::VmMapRam
        } else if has("unpurged") {
            VmallocKind::Unpurged
        } else {
            VmallocKind::Other
        }
    }

    /// The caller's function name without offset and module
    /// (`kernel_clone+0x94/0x3e0` → `kernel_clone`).
    pub fn caller_function(&self) -> Option<&str> {
        let c = self.caller.as_deref()?;
        let c = c.split_ascii_whitespace().next()?;
        Some(c.split('+').next().unwrap_or(c))
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vmallocinfo {
    /// Areas in file order.
    pub areas: Vec<VmallocArea>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

const KEYWORDS: &[&str] =
    &["ioremap", "vmalloc", "vmap", "user", "vpages", "dma-coherent", "unpurged", "vm_area", "vm_map_ram"];

impl Vmallocinfo {
    /// Parse `/proc/vmallocinfo`. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> Vmallocinfo {
        let mut out = Vmallocinfo::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(line) {
                Some(a) => out.areas.push(a),
                None => out.malformed.push(Malformed::new(i, line)),
            }
        }
        out
    }
}

fn parse_line(line: &str) -> Option<VmallocArea> {
    let mut it = line.split_ascii_whitespace().peekable();
    let range = it.next()?;
    let (start, end) = range.split_once('-')?;
    hex_u64(start)?;
    hex_u64(end)?;
    let size_bytes = it.next()?.parse().ok()?;
    let mut area = VmallocArea { size_bytes, ..VmallocArea::default() };
    while let Some(tok) = it.next() {
        if let Some(v) = tok.strip_prefix("pages=") {
            area.pages = Some(v.parse().ok()?);
        } else if let Some(v) = tok.strip_prefix("phys=") {
            area.phys = Some(hex_u64(v)?);
        } else if KEYWORDS.contains(&tok) {
            area.flags.push(tok.to_string());
        } else if let Some((node, pages)) = parse_node_count(tok) {
            area.nodes.push((node, pages));
        } else if area.caller.is_none() && area.flags.is_empty() && area.pages.is_none() {
            let mut caller = tok.to_string();
            if let Some(module) = it.next_if(|t| t.starts_with('[') && t.ends_with(']')) {
                caller.push(' ');
                caller.push_str(module);
            }
            area.caller = Some(caller);
        } else {
            // A keyword this version of memscope does not know: keep it.
            area.flags.push(tok.to_string());
        }
    }
    Some(area)
}

/// `N0=4`
fn parse_node_count(tok: &str) -> Option<(u32, u64)> {
    let rest = tok.strip_prefix('N')?;
    let (n, c) = rest.split_once('=')?;
    Some((n.parse().ok()?, c.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "\
0x0000000078bc5816-0x000000005e5589ba   20480 kernel_clone+0x94/0x3e0 pages=4 vmalloc N0=4
0x0000000006cfce4a-0x0000000086c03cec    8192 acpi_os_map_iomem+0x1bc/0x1e0 phys=0x00000000000a0000 ioremap
0x000000003099c4cc-0x0000000065bac069 2097152 pcpu_get_vm_areas+0x0/0x1050 vmalloc
0x0000000000000000-0x0000000000000000    8192 unpurged vm_area
0x0000000000000000-0x0000000000000000    4096 vm_map_ram
0x0000000000000000-0x0000000000000000   12288 nf_ct_alloc_hashtable+0x5c/0xd0 [nf_conntrack] pages=2 vmalloc vpages N1=2
garbage
";

    #[test]
    fn areas() {
        let v = Vmallocinfo::parse(SAMPLE);
        assert_eq!(v.areas.len(), 6);
        assert_eq!(v.malformed.len(), 1);
        let a = &v.areas[0];
        assert_eq!(a.caller_function(), Some("kernel_clone"));
        assert_eq!((a.pages, a.kind()), (Some(4), VmallocKind::Vmalloc));
        assert_eq!(a.nodes, vec![(0, 4)]);
        assert_eq!(v.areas[1].kind(), VmallocKind::Ioremap);
        assert_eq!(v.areas[1].phys, Some(0xa0000));
        assert_eq!(v.areas[2].pages, None);
        assert_eq!(v.areas[3].kind(), VmallocKind::Unpurged);
        assert_eq!(v.areas[3].caller, None);
        assert_eq!(v.areas[4].kind(), VmallocKind::VmMapRam);
        let m = &v.areas[5];
        assert_eq!(m.caller.as_deref(), Some("nf_ct_alloc_hashtable+0x5c/0xd0 [nf_conntrack]"));
        assert_eq!(m.caller_function(), Some("nf_ct_alloc_hashtable"));
        assert!(m.flags.contains(&"vpages".to_string()));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            for a in Vmallocinfo::parse(&s).areas { let _ = (a.kind(), a.caller_function()); }
        }
    }
}
