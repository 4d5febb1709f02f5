//! ZFS `/proc/spl/kstat/zfs/arcstats`: the ARC's counters.
//!
//! ```text
//! 13 1 0x01 123 33456 12345 67890
//! name                            type data
//! hits                            4    8772612
//! size                            4    1073741824
//! ```
//! The ARC is not page cache: meminfo counts it as used (mostly outside every
//! counter, partly in slab or vmalloc) although much of it can be reclaimed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Malformed;

/// Counter name → value (bytes for sizes such as `size`, `c`, `c_min`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arcstats {
    /// Every numeric row.
    pub values: BTreeMap<String, u64>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl Arcstats {
    /// Parse the kstat file. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> Arcstats {
        let mut out = Arcstats::default();
        for (i, line) in text.lines().enumerate() {
            let toks: Vec<&str> = line.split_ascii_whitespace().collect();
            match toks.as_slice() {
                [] => {}
                ["name", "type", "data"] => {}
                // kstat header: kid type flags ndata data_size crtime snaptime
                _ if i == 0 => {}
                [name, _type, value] => match value.parse::<u64>() {
                    Ok(v) => {
                        out.values.insert((*name).to_string(), v);
                    }
                    Err(_) => out.malformed.push(Malformed::new(i, line)),
                },
                _ => out.malformed.push(Malformed::new(i, line)),
            }
        }
        out
    }

    /// The ARC's current size in bytes (`size`).
    pub fn size_bytes(&self) -> Option<u64> {
        self.values.get("size").copied()
    }

    /// The ARC's lower bound (`c_min`): what it will not shrink below.
    pub fn min_bytes(&self) -> Option<u64> {
        self.values.get("c_min").copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values() {
        let a = Arcstats::parse(
            "6 1 0x01 91 4368 5266997922 97951329541\nname                            type data\n\
             hits                            4    8772612\nsize                            4    1073741824\n\
             c_min                           4    33554432\n",
        );
        assert_eq!(a.size_bytes(), Some(1 << 30));
        assert_eq!(a.min_bytes(), Some(32 << 20));
        assert!(a.malformed.is_empty());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = Arcstats::parse(&s); }
    }
}
