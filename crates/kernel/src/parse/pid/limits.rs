//! `/proc/PID/limits` (fs/proc/base.c `proc_pid_limits`): the process's
//! resource limits, one row per `RLIMIT_*`.
//!
//! ```text
//! Limit                     Soft Limit           Hard Limit           Units
//! Max cpu time              unlimited            unlimited            seconds
//! Max open files            1024                 524288               files
//! Max nice priority         0                    0
//! ```
//! The file is world-readable (mode 0444), so the limits of every process are
//! known even to an unprivileged reader. The name column is padded to 25
//! characters and itself contains spaces; names never contain digits, so a
//! row is split at its first number or `unlimited` (`RLIM_INFINITY`).
//!
//! `procfs-core` has a parser for this file, but it fails the whole file when
//! one row is missing (older kernels print fewer rows) and keeps no row it
//! does not know; this one keeps every row under the kernel's name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::parse::Malformed;

/// The kernel's name of the `RLIMIT_NOFILE` row.
pub const MAX_OPEN_FILES: &str = "Max open files";

/// One side of a resource limit: a number, or `unlimited`
/// (`RLIM_INFINITY`). Serialized as the number, or the string `"unlimited"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Limit {
    /// A finite limit, in the row's units.
    Value(u64),
    /// `RLIM_INFINITY`.
    Unlimited,
}

impl Limit {
    /// The finite value, `None` when unlimited.
    pub fn value(self) -> Option<u64> {
        match self {
            Limit::Value(v) => Some(v),
            Limit::Unlimited => None,
        }
    }

    /// Parse `1024` or `unlimited`.
    pub fn parse(s: &str) -> Option<Limit> {
        if s == "unlimited" { Some(Limit::Unlimited) } else { s.parse().ok().map(Limit::Value) }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::Value(v) => write!(f, "{v}"),
            Limit::Unlimited => f.write_str("unlimited"),
        }
    }
}

impl Serialize for Limit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Limit::Value(v) => s.serialize_u64(*v),
            Limit::Unlimited => s.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Limit, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Num(u64),
            Text(String),
        }
        match Repr::deserialize(d)? {
            Repr::Num(v) => Ok(Limit::Value(v)),
            Repr::Text(t) if t == "unlimited" => Ok(Limit::Unlimited),
            Repr::Text(t) => Err(serde::de::Error::custom(format!("not a limit: {t:?}"))),
        }
    }
}

/// One row: soft and hard limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLimit {
    /// The soft limit: what the kernel enforces (`rlim_cur`).
    pub soft: Limit,
    /// The hard limit: the ceiling an unprivileged process may raise its soft
    /// limit to (`rlim_max`).
    pub hard: Limit,
    /// The units column (`files`, `bytes`, `seconds`), when printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<String>,
}

/// Every row of one limits file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Kernel name (`Max open files`) → limits.
    pub limits: BTreeMap<String, ResourceLimit>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

impl Limits {
    /// Parse a limits file. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> Limits {
        let mut out = Limits::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() || (i == 0 && line.starts_with("Limit ")) {
                continue;
            }
            match parse_row(line) {
                Some((name, row)) => {
                    out.limits.insert(name, row);
                }
                None => out.malformed.push(Malformed::new(i, line)),
            }
        }
        out
    }

    /// One row by the kernel's name.
    pub fn get(&self, name: &str) -> Option<&ResourceLimit> {
        self.limits.get(name)
    }

    /// `RLIMIT_NOFILE`: how many file descriptors the process may hold.
    pub fn nofile(&self) -> Option<&ResourceLimit> {
        self.get(MAX_OPEN_FILES)
    }
}

fn parse_row(line: &str) -> Option<(String, ResourceLimit)> {
    let toks: Vec<&str> = line.split_ascii_whitespace().collect();
    let first = toks.iter().position(|t| Limit::parse(t).is_some())?;
    if first == 0 {
        return None;
    }
    let name = toks[..first].join(" ");
    let soft = Limit::parse(toks.get(first)?)?;
    let hard = Limit::parse(toks.get(first + 1)?)?;
    let units = match &toks[first + 2..] {
        [] => None,
        [u] => Some((*u).to_string()),
        _ => return None,
    };
    Some((name, ResourceLimit { soft, hard, units }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Captured from a 6.18 kernel (`cat /proc/self/limits` in a shell with
    /// `ulimit -n 20000`).
    const CAPTURED: &str = "\
Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max data size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max core file size        0                    unlimited            bytes     
Max resident set          unlimited            unlimited            bytes     
Max processes             96365                96365                processes 
Max open files            20000                20000                files     
Max locked memory         8388608              8388608              bytes     
Max address space         unlimited            unlimited            bytes     
Max file locks            unlimited            unlimited            locks     
Max pending signals       96365                96365                signals   
Max msgqueue size         819200               819200               bytes     
Max nice priority         0                    0                    
Max realtime priority     0                    0                    
Max realtime timeout      unlimited            unlimited            us        
";

    #[test]
    fn captured_rows() {
        let l = Limits::parse(CAPTURED);
        assert!(l.malformed.is_empty(), "{:?}", l.malformed);
        assert_eq!(l.limits.len(), 16);
        let n = l.nofile().unwrap();
        assert_eq!((n.soft, n.hard), (Limit::Value(20000), Limit::Value(20000)));
        assert_eq!(n.units.as_deref(), Some("files"));
        let stack = l.get("Max stack size").unwrap();
        assert_eq!((stack.soft, stack.hard), (Limit::Value(8388608), Limit::Unlimited));
        // A row without units.
        assert_eq!(l.get("Max nice priority").unwrap().units, None);
    }

    #[test]
    fn systemd_default_nofile() {
        let l = Limits::parse("Max open files            1024                 524288               files\n");
        let n = l.nofile().unwrap();
        assert_eq!(n.soft.value(), Some(1024));
        assert_eq!(n.hard.value(), Some(524288));
    }

    #[test]
    fn broken_rows_are_listed_not_guessed() {
        let l = Limits::parse("Max open files 12\nMax open files lots many files\n1024 2048\n");
        assert!(l.nofile().is_none());
        assert_eq!(l.malformed.iter().map(|m| m.line).collect::<Vec<_>>(), vec![1, 2, 3]);
    }

    #[test]
    fn limit_serializes_as_number_or_unlimited() {
        let j = serde_json::to_string(&[Limit::Value(6000), Limit::Unlimited]).unwrap();
        assert_eq!(j, r#"[6000,"unlimited"]"#);
        let back: Vec<Limit> = serde_json::from_str(&j).unwrap();
        assert_eq!(back, vec![Limit::Value(6000), Limit::Unlimited]);
        assert!(serde_json::from_str::<Limit>(r#""lots""#).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let l = Limits::parse(&s);
            let _ = l.nofile();
        }
    }
}
