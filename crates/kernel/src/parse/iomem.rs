//! `/proc/iomem`: the physical address map (kernel/resource.c).
//!
//! ```text
//! 00100000-bfffffff : System RAM
//!   01000000-0220bb07 : Kernel code
//! ```
//! Two spaces of indent per nesting level. Only root sees real addresses;
//! other users read zeros (`00000000-00000000`), which [`Iomem::redacted`]
//! detects so that nobody sums zeros into "installed RAM".

use serde::{Deserialize, Serialize};

use super::{Malformed, hex_u64};

/// One resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// Nesting depth (0 for top-level ranges).
    pub depth: u32,
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive).
    pub end: u64,
    /// Name (`System RAM`, `Kernel code`, `Reserved`, a device …).
    pub name: String,
}

impl Resource {
    /// Size in bytes (`end - start + 1`).
    pub fn bytes(&self) -> u64 {
        self.end.saturating_sub(self.start).saturating_add(1)
    }
}

/// The whole map.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Iomem {
    /// Resources in file order.
    pub resources: Vec<Resource>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl Iomem {
    /// Parse `/proc/iomem`. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> Iomem {
        let mut out = Iomem::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            let parsed = line.trim().split_once(" : ").and_then(|(range, name)| {
                let (s, e) = range.split_once('-')?;
                let (start, end) = (hex_u64(s)?, hex_u64(e)?);
                (end >= start).then(|| Resource {
                    depth: (indent / 2) as u32,
                    start,
                    end,
                    name: name.trim().to_string(),
                })
            });
            match parsed {
                Some(r) => out.resources.push(r),
                None => out.malformed.push(Malformed::new(i, line)),
            }
        }
        out
    }

    /// True when every address reads as zero (a non-root reader).
    pub fn redacted(&self) -> bool {
        !self.resources.is_empty() && self.resources.iter().all(|r| r.start == 0 && r.end == 0)
    }

    /// Top-level `System RAM` ranges.
    pub fn system_ram(&self) -> impl Iterator<Item = &Resource> {
        self.resources.iter().filter(|r| r.depth == 0 && r.name == "System RAM")
    }

    /// Bytes of `System RAM`; `None` when the addresses are redacted.
    pub fn system_ram_bytes(&self) -> Option<u64> {
        if self.redacted() {
            return None;
        }
        Some(self.system_ram().map(Resource::bytes).fold(0u64, u64::saturating_add))
    }

    /// Bytes of nested resources with this name inside `System RAM`
    /// (`Kernel code`, `Crash kernel`, …); `None` when redacted or absent.
    pub fn inside_ram_bytes(&self, name: &str) -> Option<u64> {
        if self.redacted() {
            return None;
        }
        let mut in_ram = false;
        let mut total = None;
        for r in &self.resources {
            if r.depth == 0 {
                in_ram = r.name == "System RAM";
            } else if in_ram && r.depth == 1 && r.name == name {
                total = Some(total.unwrap_or(0u64).saturating_add(r.bytes()));
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "00000000-00000fff : Reserved
00001000-0009fbff : System RAM
0009fc00-000fffff : Reserved
  000f0000-000fffff : System ROM
00100000-bfffffff : System RAM
  01000000-0220bb07 : Kernel code
  02400000-02e09fff : Kernel rodata
c0001000-eebfffff : PCI Bus 0000:00
100000000-63fffffff : System RAM
";

    #[test]
    fn system_ram() {
        let m = Iomem::parse(SAMPLE);
        assert!(m.malformed.is_empty());
        assert_eq!(m.system_ram().count(), 3);
        let expect = (0x9fbff - 0x1000 + 1) + (0xbfffffff - 0x100000 + 1) + (0x63fffffff - 0x100000000 + 1);
        assert_eq!(m.system_ram_bytes(), Some(expect));
        assert_eq!(m.inside_ram_bytes("Kernel code"), Some(0x0220bb07 - 0x01000000 + 1));
        assert_eq!(m.inside_ram_bytes("System ROM"), None);
    }

    #[test]
    fn redacted_for_non_root() {
        let m = Iomem::parse("00000000-00000000 : System RAM\n00000000-00000000 : Reserved\n");
        assert!(m.redacted());
        assert_eq!(m.system_ram_bytes(), None);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let m = Iomem::parse(&s);
            let _ = (m.system_ram_bytes(), m.inside_ram_bytes("Kernel code"));
        }
    }
}
