//! `/proc/PID/maps` and `/proc/PID/smaps` (fs/proc/task_mmu.c; proc_pid_maps(5)).
//!
//! ```text
//! 55d0c8a4e000-55d0c8a50000 r--p 00000000 fd:01 1835023                    /usr/bin/cat
//! 7ffd9b5dc000-7ffd9b5fd000 rw-p 00000000 00:00 0                          [stack]
//! ```
//! `smaps` follows each such header with `Key:  N kB` lines, `THPeligible:`,
//! `ProtectionKey:` and `VmFlags: rd wr mr …`.
//!
//! Hand-written over bytes rather than taken from procfs-core: a path is
//! bytes (not always UTF-8) and a mapping with an odd name must not fail the
//! whole process; one process may have hundreds of thousands of mappings, so
//! no map is allocated per mapping for `maps`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::parse::{KbValue, Malformed, kb_value};

/// One mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// `rwxp` / `rwxs`.
    pub perms: String,
    /// Offset into the file.
    pub offset: u64,
    /// Device `major:minor` as printed.
    pub dev: String,
    /// Inode (0 for anonymous mappings).
    pub inode: u64,
    /// Path or pseudo-name (`[heap]`, `[stack]`, `[vdso]`, `[anon:name]`,
    /// `/memfd:x (deleted)`); `None` for anonymous mappings. Lossy UTF-8.
    pub path: Option<String>,
    /// smaps fields in bytes (`Size`, `Rss`, `Pss`, `Private_Dirty`, …); empty
    /// when parsed from `maps`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, u64>,
    /// Unitless smaps fields (`THPeligible`, `ProtectionKey`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, u64>,
    /// `VmFlags` two-letter codes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vm_flags: Vec<String>,
}

impl Mapping {
    /// Size of the virtual range in bytes.
    pub fn size(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// An smaps field in bytes.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.fields.get(key).copied()
    }

    /// True for a shared mapping (`s` in the permissions).
    pub fn is_shared(&self) -> bool {
        self.perms.as_bytes().get(3) == Some(&b's')
    }

    /// Unique set size of this mapping (`Private_Clean + Private_Dirty`).
    pub fn uss(&self) -> Option<u64> {
        Some(self.get("Private_Clean")?.saturating_add(self.get("Private_Dirty")?))
    }
}

/// All mappings of one process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maps {
    /// Mappings in address order.
    pub mappings: Vec<Mapping>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl Maps {
    /// Parse `/proc/PID/maps` (or `smaps`: field lines are then kept too).
    /// Never fails; malformed lines are listed.
    pub fn parse(data: &[u8]) -> Maps {
        let mut out = Maps::default();
        for (i, raw) in data.split(|b| *b == b'\n').enumerate() {
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if let Some(m) = parse_header(raw) {
                out.mappings.push(m);
                continue;
            }
            let line = String::from_utf8_lossy(raw);
            let Some(cur) = out.mappings.last_mut() else {
                out.malformed.push(Malformed::new(i, &line));
                continue;
            };
            if !parse_field(cur, &line) {
                out.malformed.push(Malformed::new(i, &line));
            }
        }
        out
    }

    /// Sum of one smaps field over all mappings.
    pub fn total(&self, key: &str) -> u64 {
        self.mappings.iter().filter_map(|m| m.get(key)).fold(0u64, u64::saturating_add)
    }
}

fn parse_field(m: &mut Mapping, line: &str) -> bool {
    let Some((key, value)) = line.split_once(':') else { return false };
    if key == "VmFlags" {
        m.vm_flags = value.split_ascii_whitespace().map(str::to_string).collect();
        return true;
    }
    match kb_value(value) {
        Some(KbValue::Bytes(b)) => {
            m.fields.insert(key.to_string(), b);
            true
        }
        Some(KbValue::Plain(n)) => {
            m.counts.insert(key.to_string(), n);
            true
        }
        None => false,
    }
}

/// `start-end perms offset dev inode [path]`; `None` if the line is not a
/// mapping header (an smaps field line, or garbage).
fn parse_header(raw: &[u8]) -> Option<Mapping> {
    let mut rest = raw;
    let mut next = || -> Option<&[u8]> {
        let s = rest.iter().position(|b| !b.is_ascii_whitespace())?;
        let r = &rest[s..];
        let e = r.iter().position(u8::is_ascii_whitespace).unwrap_or(r.len());
        let (tok, tail) = r.split_at(e);
        rest = tail;
        Some(tok)
    };
    let range = std::str::from_utf8(next()?).ok()?;
    let (s, e) = range.split_once('-')?;
    let start = u64::from_str_radix(s, 16).ok()?;
    let end = u64::from_str_radix(e, 16).ok()?;
    let perms = std::str::from_utf8(next()?).ok()?;
    if perms.len() != 4 || end < start {
        return None;
    }
    let offset = u64::from_str_radix(std::str::from_utf8(next()?).ok()?, 16).ok()?;
    let dev = std::str::from_utf8(next()?).ok()?;
    if !dev.contains(':') {
        return None;
    }
    let inode = std::str::from_utf8(next()?).ok()?.parse().ok()?;
    // The path is the rest of the line after the padding (it may contain spaces).
    let path = {
        let s = rest.iter().position(|b| !b.is_ascii_whitespace());
        s.map(|s| String::from_utf8_lossy(&rest[s..]).trim_end_matches('\r').to_string())
    };
    Some(Mapping {
        start,
        end,
        perms: perms.to_string(),
        offset,
        dev: dev.to_string(),
        inode,
        path: path.filter(|p| !p.is_empty()),
        ..Mapping::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAPS: &[u8] =
        b"55d0c8a4e000-55d0c8a50000 r--p 00000000 fd:01 1835023                    /usr/bin/cat
7f0000000000-7f0000021000 rw-p 00000000 00:00 0 
7f1000000000-7f1000001000 rw-s 00000000 00:01 4242                       /memfd:my buf (deleted)
7ffd9b5dc000-7ffd9b5fd000 rw-p 00000000 00:00 0                          [stack]
";

    #[test]
    fn maps() {
        let m = Maps::parse(MAPS);
        assert!(m.malformed.is_empty(), "{:?}", m.malformed);
        assert_eq!(m.mappings.len(), 4);
        assert_eq!(m.mappings[0].path.as_deref(), Some("/usr/bin/cat"));
        assert_eq!(m.mappings[0].size(), 0x2000);
        assert_eq!(m.mappings[1].path, None);
        assert_eq!(m.mappings[2].path.as_deref(), Some("/memfd:my buf (deleted)"));
        assert!(m.mappings[2].is_shared());
        assert_eq!(m.mappings[3].path.as_deref(), Some("[stack]"));
    }

    #[test]
    fn non_utf8_path_does_not_fail_the_process() {
        let mut data = b"00400000-00401000 r-xp 00000000 08:01 12 /tmp/\xff\xfeodd\n".to_vec();
        data.extend_from_slice(b"00401000-00402000 rw-p 00000000 00:00 0\n");
        let m = Maps::parse(&data);
        assert_eq!(m.mappings.len(), 2);
        assert!(m.mappings[0].path.as_deref().unwrap().starts_with("/tmp/"));
    }

    #[test]
    fn smaps_fields() {
        let data = b"7f0000000000-7f0000021000 rw-p 00000000 00:00 0
Size:                132 kB
Rss:                  12 kB
Pss:                   6 kB
Private_Clean:         0 kB
Private_Dirty:         4 kB
THPeligible:    0
ProtectionKey:         0
VmFlags: rd wr mr mw me ac sd
";
        let m = Maps::parse(data);
        assert!(m.malformed.is_empty(), "{:?}", m.malformed);
        let x = &m.mappings[0];
        assert_eq!(x.get("Rss"), Some(12 * 1024));
        assert_eq!(x.uss(), Some(4 * 1024));
        assert_eq!(x.counts.get("THPeligible"), Some(&0));
        assert_eq!(x.vm_flags.len(), 7);
        assert_eq!(m.total("Pss"), 6 * 1024);
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let m = Maps::parse(&b);
            let _ = m.total("Rss");
        }

        #[test]
        fn never_panics_text(s in "\\PC*") { let _ = Maps::parse(s.as_bytes()); }
    }
}
