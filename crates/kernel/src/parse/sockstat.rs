//! `/proc/net/sockstat` and `/proc/net/sockstat6` (net/ipv4/proc.c).
//!
//! ```text
//! sockets: used 9
//! TCP: inuse 1 orphan 0 tw 8 alloc 1 mem 0
//! UDP: inuse 0 mem 0
//! FRAG: inuse 0 memory 0
//! ```
//! `mem` is in **pages** (TCP's and UDP's `memory_allocated`, shared by IPv4
//! and IPv6 and by every network namespace); `FRAG memory` is in **bytes**
//! and belongs to the reader's network namespace.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Malformed;

/// Protocol → field → value, as printed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sockstat {
    /// `TCP` → {`inuse`, `orphan`, `tw`, `alloc`, `mem`}, …
    pub protocols: BTreeMap<String, BTreeMap<String, u64>>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl Sockstat {
    /// Parse a sockstat file. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> Sockstat {
        let mut out = Sockstat::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let parsed = line.split_once(':').and_then(|(proto, rest)| {
                let toks: Vec<&str> = rest.split_ascii_whitespace().collect();
                if toks.is_empty() || !toks.len().is_multiple_of(2) {
                    return None;
                }
                let mut fields = BTreeMap::new();
                for pair in toks.chunks(2) {
                    fields.insert(pair[0].to_string(), pair[1].parse().ok()?);
                }
                Some((proto.trim().to_string(), fields))
            });
            match parsed {
                Some((proto, fields)) => {
                    out.protocols.insert(proto, fields);
                }
                None => out.malformed.push(Malformed::new(i, line)),
            }
        }
        out
    }

    /// One field of one protocol.
    pub fn get(&self, proto: &str, field: &str) -> Option<u64> {
        self.protocols.get(proto)?.get(field).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fields() {
        let s = Sockstat::parse(
            "sockets: used 9\nTCP: inuse 1 orphan 0 tw 8 alloc 1 mem 25\nUDP: inuse 0 mem 3\n\
             FRAG: inuse 0 memory 4096\nRAW: inuse\n",
        );
        assert_eq!(s.get("TCP", "mem"), Some(25));
        assert_eq!(s.get("FRAG", "memory"), Some(4096));
        assert_eq!(s.get("sockets", "used"), Some(9));
        assert_eq!(s.get("UDPLITE", "inuse"), None);
        assert_eq!(s.malformed.len(), 1);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = Sockstat::parse(&s); }
    }
}
