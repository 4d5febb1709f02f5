//! Control files of cgroupfs, v1 and v2 (Documentation/admin-guide/cgroup-v2.rst
//! "Interface Files", Documentation/admin-guide/cgroup-v1/memory.rst).
//!
//! The formats, and where each is parsed:
//! - *flat keyed* (`key value` per line): v2 `memory.stat`, `memory.events`,
//!   `cpu.stat`, `pids.events`; v1 `memory.stat`, `memory.oom_control`. The
//!   same format as `/proc/vmstat`, so [`Vmstat::parse`] reads them: keys keep
//!   the kernel's names, v1 `memory.stat` values are bytes except the `pg*`
//!   event counts, v2 `memory.stat` values are bytes except the event counts
//!   (`pgfault`, `workingset_*`, `thp_*`, …).
//! - *single value or `max`*: v2 `memory.max`, `memory.high`,
//!   `memory.swap.max`, and `pids.max` in both versions: [`Limit::parse`].
//! - v1 memory limits (`memory.limit_in_bytes`, `memory.memsw.limit_in_bytes`)
//!   print "no limit" as a huge number: [`Limit::parse_v1_bytes`].
//! - `cgroup.procs`, `tasks`: one id per line: [`parse_ids`].
//! - `cgroup.controllers`, `cgroup.subtree_control`: names separated by
//!   spaces: [`parse_controllers`].
//! - cpuset lists (`cpuset.cpus.effective`, `cpuset.effective_mems`):
//!   [`crate::parse::sysfs::parse_list`].
//!
//! [`Vmstat::parse`]: crate::parse::vmstat::Vmstat::parse

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::parse::{Malformed, ParseError};

/// A limit: a value, or none (`max`). A value, never a sentinel: v1's
/// "unlimited" huge number and v2's `max` both become [`Limit::Max`].
///
/// In JSON a limit is the integer, or the string `"max"`, as the kernel
/// prints it in cgroup v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Limit {
    /// No limit.
    Max,
    /// A limit (bytes for memory, a count for pids).
    Value(u64),
}

impl Limit {
    /// Parse a v2-style limit: `max` or an unsigned number, surrounded by
    /// blanks at most.
    pub fn parse(text: &str) -> Result<Limit, ParseError> {
        match text.trim() {
            "max" => Ok(Limit::Max),
            t => t.parse().map(Limit::Value).map_err(|_| ParseError::new(1, "`max` or an unsigned number")),
        }
    }

    /// Parse a cgroup v1 memory limit in bytes. The kernel keeps limits in
    /// pages (`struct page_counter`), and "no limit" is `PAGE_COUNTER_MAX`
    /// (`LONG_MAX / PAGE_SIZE`) pages, printed times the page size: LONG_MAX
    /// rounded down to a page, 9223372036854771712 with 4 KiB pages
    /// (mm/memcontrol-v1.c `mem_cgroup_read_u64`). Any value within 1 MiB
    /// (the largest base page) of `LONG_MAX`, or above it, is therefore
    /// [`Limit::Max`]. `max` is accepted too.
    pub fn parse_v1_bytes(text: &str) -> Result<Limit, ParseError> {
        match Limit::parse(text)? {
            Limit::Value(v) if v > V1_UNLIMITED_FLOOR => Ok(Limit::Max),
            l => Ok(l),
        }
    }

    /// The value, or `None` for no limit.
    pub fn value(self) -> Option<u64> {
        match self {
            Limit::Max => None,
            Limit::Value(v) => Some(v),
        }
    }

    /// True for no limit.
    pub fn is_max(self) -> bool {
        self == Limit::Max
    }
}

/// Values above this are v1's "no limit" (see [`Limit::parse_v1_bytes`]).
pub const V1_UNLIMITED_FLOOR: u64 = i64::MAX as u64 - (1 << 20);

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Max => f.write_str("max"),
            Limit::Value(v) => write!(f, "{v}"),
        }
    }
}

impl Serialize for Limit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Limit::Max => s.serialize_str("max"),
            Limit::Value(v) => s.serialize_u64(*v),
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Limit, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(v) => Ok(Limit::Value(v)),
            Raw::Text(t) if t == "max" => Ok(Limit::Max),
            Raw::Text(t) => Err(serde::de::Error::custom(format!("not a limit: {t:?}"))),
        }
    }
}

/// Ids in `cgroup.procs` or `tasks`: one decimal per line. The kernel does
/// not sort them and may list an id twice (v1 `cgroup.procs` after a
/// migration); they are returned sorted and without duplicates.
pub fn parse_ids(text: &str) -> (Vec<u32>, Vec<Malformed>) {
    let mut ids = Vec::new();
    let mut malformed = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        match t.parse::<u32>() {
            Ok(id) => ids.push(id),
            Err(_) => malformed.push(Malformed::new(i, line)),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    (ids, malformed)
}

/// Controller names of `cgroup.controllers` or `cgroup.subtree_control`
/// (`cpuset cpu io memory hugetlb pids rdma misc`), in the kernel's order.
pub fn parse_controllers(text: &str) -> Vec<String> {
    text.split_ascii_whitespace().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::vmstat::Vmstat;
    use proptest::prelude::*;

    #[test]
    fn v2_limits() {
        assert_eq!(Limit::parse("max\n"), Ok(Limit::Max));
        assert_eq!(Limit::parse("268435456\n"), Ok(Limit::Value(256 << 20)));
        assert_eq!(Limit::parse("0"), Ok(Limit::Value(0)));
        assert!(Limit::parse("-1").is_err());
        assert!(Limit::parse("12 kB").is_err());
        assert!(Limit::parse("").is_err());
    }

    #[test]
    fn v1_huge_number_is_unlimited() {
        // 4 KiB pages (x86_64) and 64 KiB pages (arm64, ppc64).
        assert_eq!(Limit::parse_v1_bytes("9223372036854771712\n"), Ok(Limit::Max));
        assert_eq!(Limit::parse_v1_bytes("9223372036854710272\n"), Ok(Limit::Max));
        assert_eq!(Limit::parse_v1_bytes("67108864\n"), Ok(Limit::Value(64 << 20)));
        assert_eq!(Limit::parse_v1_bytes("18446744073709551615"), Ok(Limit::Max));
        assert!(Limit::parse_v1_bytes("unlimited").is_err());
    }

    #[test]
    fn limit_json_is_the_number_or_max() {
        assert_eq!(serde_json::to_string(&Limit::Max).unwrap(), "\"max\"");
        assert_eq!(serde_json::to_string(&Limit::Value(5)).unwrap(), "5");
        assert_eq!(serde_json::from_str::<Limit>("\"max\"").unwrap(), Limit::Max);
        assert_eq!(serde_json::from_str::<Limit>("7").unwrap(), Limit::Value(7));
        assert!(serde_json::from_str::<Limit>("\"none\"").is_err());
    }

    #[test]
    fn procs_sorted_and_deduplicated() {
        let (ids, bad) = parse_ids("42\n7\n42\nx\n\n");
        assert_eq!(ids, vec![7, 42]);
        assert_eq!(bad.len(), 1);
        assert_eq!(parse_ids("").0, Vec::<u32>::new());
    }

    #[test]
    fn controllers() {
        assert_eq!(
            parse_controllers("cpuset cpu io memory pids\n"),
            vec!["cpuset", "cpu", "io", "memory", "pids"]
        );
        assert!(parse_controllers("\n").is_empty());
    }

    /// v2 memory.events and v1 memory.oom_control are flat keyed files.
    #[test]
    fn events_are_flat_keyed() {
        let e = Vmstat::parse("low 0\nhigh 0\nmax 31\noom 2\noom_kill 1\noom_group_kill 0\n");
        assert_eq!(e.get("oom_kill"), Some(1));
        assert_eq!(e.get("oom"), Some(2));
        let o = Vmstat::parse("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
        assert_eq!(o.get("oom_kill"), Some(3));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = (Limit::parse(&s), Limit::parse_v1_bytes(&s), parse_ids(&s), parse_controllers(&s));
        }

        #[test]
        fn numbers_round_trip(v in 0u64..V1_UNLIMITED_FLOOR) {
            prop_assert_eq!(Limit::parse(&v.to_string()), Ok(Limit::Value(v)));
            prop_assert_eq!(Limit::parse_v1_bytes(&format!("{v}\n")), Ok(Limit::Value(v)));
        }
    }
}
