//! `/proc/meminfo` and the per-node `/sys/devices/system/node/nodeN/meminfo`.
//!
//! Documentation/filesystems/proc.rst ("meminfo"). Values are printed in kB
//! (KiB) except `HugePages_Total`, `HugePages_Free`, `HugePages_Rsvd` and
//! `HugePages_Surp`, which are counts of default-size huge pages. The set of
//! fields varies with kernel version and configuration (`SecPageTables` 6.0+,
//! `Unaccepted` 6.5+, `Zswap` 5.19+, `Balloon` 6.12+, …): a missing field is
//! "not reported", never 0.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{KbValue, Malformed, kb_value};

/// One meminfo file, with every field kept under the kernel's name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meminfo {
    /// Fields printed in kB, converted to bytes.
    pub bytes: BTreeMap<String, u64>,
    /// Fields printed without a unit (the `HugePages_*` page counts).
    pub counts: BTreeMap<String, u64>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
    /// The text did not end with a newline: it was cut, and fields after
    /// the cut are missing for that reason, not because the kernel lacks them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl Meminfo {
    /// Parse `/proc/meminfo`. Never fails: a line that does not read as
    /// `Key: number [kB]` is skipped and listed in `malformed`.
    pub fn parse(text: &str) -> Meminfo {
        Self::parse_lines(text, false)
    }

    /// Parse a per-node meminfo (`Node 0 MemTotal:  123 kB`); the `Node N`
    /// prefix is dropped so keys match `/proc/meminfo`.
    pub fn parse_node(text: &str) -> Meminfo {
        Self::parse_lines(text, true)
    }

    fn parse_lines(text: &str, node_prefix: bool) -> Meminfo {
        let mut m = Meminfo { truncated: !text.is_empty() && !text.ends_with('\n'), ..Meminfo::default() };
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let body = if node_prefix { strip_node_prefix(line) } else { Some(line) };
            let parsed = body.and_then(|b| b.split_once(':')).and_then(|(key, value)| {
                let key = key.trim();
                if key.is_empty() || key.contains(char::is_whitespace) {
                    return None;
                }
                Some((key, kb_value(value)?))
            });
            match parsed {
                Some((key, KbValue::Bytes(b))) => {
                    m.bytes.insert(key.to_string(), b);
                }
                Some((key, KbValue::Plain(n))) if key.starts_with("HugePages_") => {
                    m.counts.insert(key.to_string(), n);
                }
                // A kB field without its unit is a truncated line: its number
                // may be cut short, so it is not believed.
                _ => m.malformed.push(Malformed::new(i, line)),
            }
        }
        m
    }

    /// A field printed in kB, in bytes.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.bytes.get(key).copied()
    }

    /// Why `key` has no value, in words: its line was malformed, the file was
    /// cut before it, or this kernel does not print it.
    pub fn missing_reason(&self, key: &str) -> String {
        let prefix = format!("{key}:");
        if let Some(bad) = self.malformed.iter().find(|m| m.text.trim_start().starts_with(&prefix)) {
            return format!("its line in meminfo is malformed (line {}) and is not believed", bad.line);
        }
        if self.truncated {
            return format!("meminfo ends early (truncated) before {key}");
        }
        format!("{key} is not reported by this kernel")
    }

    /// A unitless field (`HugePages_Total`, …).
    pub fn count(&self, key: &str) -> Option<u64> {
        self.counts.get(key).copied()
    }
}

/// `Node 12 MemTotal: …` → `MemTotal: …`.
fn strip_node_prefix(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix("Node")?;
    let rest = rest.trim_start();
    let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    Some(rest[digits..].trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "MemTotal:       24684084 kB\nMemFree:        24072660 kB\n\
HugePages_Total:       4\nHugepagesize:       2048 kB\nNewField2030:  12 kB\n";

    #[test]
    fn fields_in_bytes_and_counts() {
        let m = Meminfo::parse(SAMPLE);
        assert_eq!(m.get("MemTotal"), Some(24684084 * 1024));
        assert_eq!(m.count("HugePages_Total"), Some(4));
        assert_eq!(m.get("Hugepagesize"), Some(2 << 20));
        assert_eq!(m.get("NewField2030"), Some(12 * 1024), "unknown fields are kept");
        assert_eq!(m.get("SecPageTables"), None, "missing fields are None");
        assert!(m.malformed.is_empty());
    }

    #[test]
    fn truncated_last_line_is_not_believed() {
        let m = Meminfo::parse("MemTotal:       24684084 kB\nMemFree:        2407");
        assert_eq!(m.get("MemFree"), None);
        assert_eq!(m.malformed.len(), 1);
        assert_eq!(m.malformed[0].line, 2);
        assert!(m.truncated);
        assert!(m.missing_reason("MemFree").contains("malformed (line 2)"));
        assert!(m.missing_reason("Percpu").contains("truncated"));
        assert!(!Meminfo::parse("MemTotal: 1 kB\n").truncated);
        assert!(Meminfo::parse("MemTotal: 1 kB\n").missing_reason("Percpu").contains("not reported"));
    }

    #[test]
    fn garbage_lines_are_listed() {
        let m = Meminfo::parse("MemTotal: 10 kB\n@@@@\nCached: lots kB\n\n");
        assert_eq!(m.get("MemTotal"), Some(10240));
        assert_eq!(m.malformed.len(), 2);
    }

    #[test]
    fn node_meminfo() {
        let m = Meminfo::parse_node(
            "Node 2 MemTotal:       16777216 kB\nNode 2 HugePages_Free:      0\nNode 2 Bad: x\n",
        );
        assert_eq!(m.get("MemTotal"), Some(16777216 * 1024));
        assert_eq!(m.count("HugePages_Free"), Some(0));
        assert_eq!(m.malformed.len(), 1);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = Meminfo::parse(&s);
            let _ = Meminfo::parse_node(&s);
        }

        #[test]
        fn never_panics_bytes(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            let s = String::from_utf8_lossy(&b);
            let _ = Meminfo::parse(&s);
        }
    }
}
