//! `/proc/PID/ns/*`: the namespaces a process is in (namespaces(7);
//! fs/nsfs.c `ns_get_name`).
//!
//! Each entry is a symbolic link whose target reads `pid:[4026531836]`: the
//! namespace type and the inode number of the namespace. Two processes are
//! in the same namespace exactly when the inode numbers (on the same nsfs
//! device) are equal. Reading the links of another user's process needs
//! ptrace read access.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The namespace types memscope reads, in the order `lsns` lists them.
/// (`pid_for_children` and `time_for_children` name the namespace of
/// future children and are left out.)
pub const KINDS: &[&str] = &["mnt", "net", "pid", "uts", "ipc", "user", "cgroup", "time"];

/// Parse one link target (`net:[4026531833]`) into its type and inode.
/// `None` for anything else.
pub fn parse_link(target: &str) -> Option<(&str, u64)> {
    let (kind, rest) = target.trim().split_once(':')?;
    let inode = rest.strip_prefix('[')?.strip_suffix(']')?.parse().ok()?;
    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return None;
    }
    Some((kind, inode))
}

/// The namespaces of one process: type → inode. Types the kernel does not
/// have (`time` before 5.6, `cgroup` before 4.6) are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Namespaces {
    /// Namespace type (`pid`, `mnt`, …) → inode number.
    pub ids: BTreeMap<String, u64>,
}

impl Namespaces {
    /// The inode of one namespace type.
    pub fn get(&self, kind: &str) -> Option<u64> {
        self.ids.get(kind).copied()
    }

    /// The types in which `self` differs from `other` (both known and
    /// different), in [`KINDS`] order.
    pub fn differing<'a>(&'a self, other: &'a Namespaces) -> Vec<&'a str> {
        KINDS
            .iter()
            .copied()
            .filter(|k| matches!((self.get(k), other.get(k)), (Some(a), Some(b)) if a != b))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn links() {
        assert_eq!(parse_link("pid:[4026531836]"), Some(("pid", 4026531836)));
        assert_eq!(parse_link("pid_for_children:[1]\n"), Some(("pid_for_children", 1)));
        assert_eq!(parse_link("pid:[x]"), None);
        assert_eq!(parse_link("/usr/bin/bash"), None);
        assert_eq!(parse_link(":[1]"), None);
    }

    #[test]
    fn differing_types() {
        let host = Namespaces { ids: [("pid".into(), 1), ("net".into(), 2), ("mnt".into(), 3)].into() };
        let box_ = Namespaces { ids: [("pid".into(), 9), ("net".into(), 2), ("mnt".into(), 8)].into() };
        assert_eq!(box_.differing(&host), vec!["mnt", "pid"]);
        assert!(host.differing(&host).is_empty());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = parse_link(&s); }
    }
}
