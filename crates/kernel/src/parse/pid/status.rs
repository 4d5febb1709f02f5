//! `/proc/PID/status` (fs/proc/array.c): `Key:\tvalue` lines.
//!
//! The cheap per-process memory figures (`VmRSS`, `RssAnon`, `RssFile`,
//! `RssShmem`, `VmSwap`, `VmLck`) come from counters the kernel keeps, with
//! no page-table walk. `Name` is escaped (a tab prints as `\t`); prefer the
//! name in `stat` for display.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::parse::{FieldName, Malformed, field_name};

/// Every field of one status file, kernel names kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Fields printed in kB, converted to bytes (`VmRSS`, `VmSwap`, …).
    pub bytes: BTreeMap<FieldName, u64>,
    /// Every other field as text (`Name`, `State`, `Uid`, `Cpus_allowed_list`, …).
    pub text: BTreeMap<FieldName, String>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

/// Which fields of a status file a caller keeps; the others are skipped
/// unparsed. The default keeps every field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusKeys {
    /// Text fields kept (`Name`, `Uid`, …); all when `None`.
    pub text: Option<&'static [&'static str]>,
    /// Fields in kB kept (`VmRSS`, `VmSwap`, …); all when `None`.
    pub kb: Option<&'static [&'static str]>,
}

impl StatusKeys {
    /// Every field.
    pub const ALL: StatusKeys = StatusKeys { text: None, kb: None };

    fn keeps(keys: Option<&[&str]>, key: &str) -> bool {
        keys.is_none_or(|keys| keys.contains(&key))
    }
}

/// `value` without the white space around it: ASCII white space with a
/// plain loop, anything else (a tree edited by hand) as [`str::trim`] does.
fn trim(value: &str) -> &str {
    let t = value.trim_ascii();
    match (t.chars().next(), t.chars().next_back()) {
        (Some(a), Some(b)) if a.is_whitespace() || b.is_whitespace() => t.trim(),
        _ => t,
    }
}

impl Status {
    /// Parse a status file. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> Status {
        Status::parse_keeping(text, StatusKeys::ALL)
    }

    /// Parse a status file keeping only the fields `keys` names: a caller
    /// that reads it for hundreds of processes spares the two allocations of
    /// each of the 30-odd text fields it never looks at (signal masks,
    /// capabilities, CPU lists, namespace ids), and the parse and the map
    /// entry of each of the 16-odd fields in kB it does not show. A skipped
    /// field in kB is not checked either: a malformed one is not listed.
    ///
    /// Read for every process at every pass of a recording: the line is cut
    /// at its first `:` by a plain byte search and trimmed of ASCII space
    /// only (what the kernel prints), and a number in kB is parsed in place.
    pub fn parse_keeping(text: &str, keys: StatusKeys) -> Status {
        let mut s = Status::default();
        for (i, line) in text.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let Some(colon) = line.bytes().position(|b| b == b':') else {
                s.malformed.push(Malformed::new(i, line));
                continue;
            };
            let (key, value) = (&line[..colon], trim(&line[colon + 1..]));
            if let Some(number) = value.strip_suffix(" kB") {
                if !StatusKeys::keeps(keys.kb, key) {
                    continue;
                }
                match number.trim_ascii().parse::<u64>().ok().and_then(|n| n.checked_mul(1024)) {
                    Some(b) => {
                        s.bytes.insert(field_name(key), b);
                    }
                    None => s.malformed.push(Malformed::new(i, line)),
                }
            } else if StatusKeys::keeps(keys.text, key) {
                s.text.insert(field_name(key), value.to_string());
            }
        }
        s
    }

    /// A field printed in kB, in bytes.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.bytes.get(key).copied()
    }

    /// A numeric text field (`Threads`, `Tgid`, `voluntary_ctxt_switches`).
    pub fn number(&self, key: &str) -> Option<u64> {
        self.text.get(key)?.trim().parse().ok()
    }

    /// The `Uid` line: real, effective, saved, file-system.
    pub fn uids(&self) -> Option<[u32; 4]> {
        // Without a vector: asked for several times per process.
        let mut ids = [0u32; 4];
        let mut n = 0;
        for t in self.text.get("Uid")?.split_ascii_whitespace() {
            let Ok(id) = t.parse() else { continue };
            *ids.get_mut(n)? = id;
            n += 1;
        }
        (n == 4).then_some(ids)
    }

    /// The real user id.
    pub fn uid(&self) -> Option<u32> {
        self.uids().map(|u| u[0])
    }

    /// False for kernel threads and zombies: they have no address space,
    /// and no `VmRSS` line.
    pub fn has_address_space(&self) -> bool {
        self.bytes.contains_key("VmRSS")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t1234\n\
Uid:\t1000\t1000\t1000\t1000\nVmRSS:\t    5120 kB\nRssAnon:\t    1024 kB\nVmSwap:\t       0 kB\n\
Threads:\t1\nCpus_allowed_list:\t0-1\nVmBroken:\t12 MB\n";

    #[test]
    fn fields() {
        let s = Status::parse(SAMPLE);
        assert_eq!(s.get("VmRSS"), Some(5 << 20));
        assert_eq!(s.get("RssAnon"), Some(1 << 20));
        assert_eq!(s.get("VmSwap"), Some(0));
        assert_eq!(s.get("RssShmem"), None);
        assert_eq!(s.uid(), Some(1000));
        assert_eq!(s.number("Threads"), Some(1));
        assert_eq!(s.text.get("Cpus_allowed_list").map(String::as_str), Some("0-1"));
        assert!(s.has_address_space());
        // "12 MB" has no kB unit: kept as text, never as a number of bytes.
        assert_eq!(s.get("VmBroken"), None);
    }

    #[test]
    fn uids_are_four_numbers_or_none() {
        let uids = |line: &str| Status::parse(&format!("Uid:{line}\n")).uids();
        assert_eq!(uids("\t0\t1\t2\t3"), Some([0, 1, 2, 3]));
        assert_eq!(uids("\t0\t1\t2"), None);
        assert_eq!(uids("\t0\t1\t2\t3\t4"), None);
        // Tokens that are not numbers are skipped, as before.
        assert_eq!(uids("\t0\tx\t1\t2\t3"), Some([0, 1, 2, 3]));
        assert_eq!(uids("\t4294967296\t1\t2\t3"), None);
        assert_eq!(Status::parse("Name:\tx\n").uids(), None);
    }

    #[test]
    fn parse_keeping_keeps_every_kb_field_and_only_the_text_asked_for() {
        let s = Status::parse_keeping(SAMPLE, StatusKeys { text: Some(&["Name", "Uid"]), kb: None });
        let all = Status::parse(SAMPLE);
        assert_eq!(s.bytes, all.bytes);
        assert_eq!(s.text.keys().collect::<Vec<_>>(), ["Name", "Uid"]);
        assert_eq!(s.uid(), Some(1000));
        assert_eq!(s.malformed, all.malformed);
        assert_eq!(Status::parse_keeping(SAMPLE, StatusKeys::ALL), all);
    }

    #[test]
    fn parse_keeping_keeps_only_the_kb_fields_asked_for() {
        let s = Status::parse_keeping(
            SAMPLE,
            StatusKeys { text: None, kb: Some(&["VmRSS", "VmSwap", "VmBroken"]) },
        );
        let all = Status::parse(SAMPLE);
        assert_eq!(s.bytes.keys().collect::<Vec<_>>(), ["VmRSS", "VmSwap"]);
        assert_eq!(s.get("VmRSS"), Some(5 << 20));
        assert!(s.has_address_space());
        // "12 MB" is text whatever the kB fields kept.
        assert_eq!(s.text, all.text);
        // A skipped field in kB is not parsed: not listed as malformed either.
        let odd = "VmRSS:\t5 kB\nVmPTE:\tlots kB\n";
        assert_eq!(Status::parse(odd).malformed.len(), 1);
        let kept = Status::parse_keeping(odd, StatusKeys { text: None, kb: Some(&["VmRSS"]) });
        assert!(kept.malformed.is_empty());
        assert_eq!(kept.get("VmRSS"), Some(5 << 10));
    }

    #[test]
    fn kernel_thread() {
        let s = Status::parse("Name:\tkthreadd\nState:\tS (sleeping)\nThreads:\t1\n");
        assert!(!s.has_address_space());
    }

    /// The parser as first written (`split_once`, `trim`, [`kb_value`]):
    /// the faster one must read every text the same.
    fn parse_as_before(text: &str, keys: StatusKeys) -> Status {
        use crate::parse::{KbValue, kb_value};
        let mut s = Status::default();
        for (i, line) in text.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                s.malformed.push(Malformed::new(i, line));
                continue;
            };
            let value = value.trim();
            if value.ends_with(" kB") {
                if keys.kb.is_some_and(|kb| !kb.contains(&key)) {
                    continue;
                }
                match kb_value(value) {
                    Some(KbValue::Bytes(b)) => {
                        s.bytes.insert(field_name(key), b);
                    }
                    _ => s.malformed.push(Malformed::new(i, line)),
                }
            } else if keys.text.is_none_or(|text| text.contains(&key)) {
                s.text.insert(field_name(key), value.to_string());
            }
        }
        s
    }

    #[test]
    fn reads_this_machines_status_files_as_before() {
        let mut seen = 0;
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(text) = std::fs::read_to_string(e.path().join("status")) {
                assert_eq!(
                    Status::parse(&text),
                    parse_as_before(&text, StatusKeys::ALL),
                    "{}",
                    e.path().display()
                );
                let keys =
                    StatusKeys { text: Some(&["Name", "Uid", "Threads"]), kb: Some(&["VmRSS", "RssAnon"]) };
                assert_eq!(Status::parse_keeping(&text, keys), parse_as_before(&text, keys));
                seen += 1;
            }
        }
        assert!(seen > 1, "no status file read");
    }

    proptest! {
        #[test]
        fn reads_any_text_as_before(
            lines in proptest::collection::vec(
                "(VmRSS|Name|Uid|RssAnon|x)?[:]?[ \t\x0b\u{2003}]{0,2}[0-9+x ]{0,6}[ \t\x0b\u{2003}]{0,2}(kB| kB|MB)?[ \t\r]?",
                0..8,
            )
        ) {
            let text = lines.join("\n");
            prop_assert_eq!(Status::parse(&text), parse_as_before(&text, StatusKeys::ALL));
            let keys = StatusKeys { text: Some(&["Name", "x"]), kb: None };
            prop_assert_eq!(Status::parse_keeping(&text, keys), parse_as_before(&text, keys));
            let keys = StatusKeys { text: Some(&["Uid"]), kb: Some(&["VmRSS", "x"]) };
            prop_assert_eq!(Status::parse_keeping(&text, keys), parse_as_before(&text, keys));
        }

        #[test]
        fn never_panics(s in "\\PC*") {
            let st = Status::parse(&s);
            let _ = (st.uid(), st.has_address_space(), st.number("Threads"));
        }
    }
}
