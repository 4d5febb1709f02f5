//! `/sys/kernel/slab`: SLUB's view of its caches (mm/slub.c, the
//! `slab_attr` files; Documentation/ABI/testing/sysfs-kernel-slab).
//!
//! SLUB **merges** caches of compatible geometry and flags: the second
//! `kmem_cache_create("xfs_ifork", 48, …)` returns the existing 48-byte
//! cache instead of a new one. A mergeable cache's directory is then named by
//! a unique id (`:0000048`, `:A-0001280` with accounting flags) and every
//! cache name merged into it is a symbolic link to that directory:
//!
//! ```text
//! /sys/kernel/slab/:0000048/                    the cache's real directory
//! /sys/kernel/slab/shared_policy_node -> :0000048   (the name slabinfo shows)
//! /sys/kernel/slab/xfs_ifork          -> :0000048   (an alias)
//! ```
//! `/proc/slabinfo` prints one line per real cache, under the name it was
//! first created with; its aliases are the other links to the same
//! directory. Unmergeable caches are plain directories named after the
//! cache. Flag files hold `0` or `1`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One flag file of a cache directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlabFlag {
    /// File name under `/sys/kernel/slab/NAME/`.
    pub file: &'static str,
    /// Short label for tables and JSON.
    pub label: &'static str,
    /// What the flag means.
    pub help: &'static str,
}

/// The flag files memscope reads: one table drives reading, printing and help.
pub const FLAGS: &[SlabFlag] = &[
    SlabFlag {
        file: "reclaim_account",
        label: "reclaim",
        help: "SLAB_RECLAIM_ACCOUNT: objects can be freed under memory pressure (counted in SReclaimable)",
    },
    SlabFlag {
        file: "destroy_by_rcu",
        label: "rcu",
        help: "SLAB_TYPESAFE_BY_RCU: slab pages are freed only after an RCU grace period",
    },
    SlabFlag { file: "cache_dma", label: "dma", help: "SLAB_CACHE_DMA: objects come from ZONE_DMA" },
    SlabFlag {
        file: "hwcache_align",
        label: "hwalign",
        help: "SLAB_HWCACHE_ALIGN: objects are aligned to CPU cache lines (padding)",
    },
    SlabFlag {
        file: "poison",
        label: "poison",
        help: "debugging: free objects are filled with a pattern (slub_debug=P)",
    },
    SlabFlag {
        file: "red_zone",
        label: "redzone",
        help: "debugging: guard bytes around each object (slub_debug=Z), larger objects",
    },
    SlabFlag {
        file: "store_user",
        label: "store_user",
        help: "debugging: the last allocating and freeing call sites are stored in each object (slub_debug=U)",
    },
];

/// A sysfs flag file's content: `1` → true, `0` → false.
pub fn parse_flag(text: &str) -> Option<bool> {
    match text.trim() {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

/// Group the entries of `/sys/kernel/slab` by the directory they stand for.
///
/// `entries` are (entry name, link target) pairs: the target is `None` for a
/// plain directory. Returns, for each name, the *other* names that share its
/// directory (its merge aliases), sorted; names with no alias are absent.
/// Link targets are compared by their last component (`:0000048` and
/// `../slab/:0000048` are the same directory).
pub fn aliases<'a>(
    entries: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> BTreeMap<String, Vec<String>> {
    let mut by_dir: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, target) in entries {
        let dir = match target {
            Some(t) => t.trim_end_matches('/').rsplit('/').next().unwrap_or(t),
            None => name,
        };
        by_dir.entry(dir).or_default().push(name);
    }
    let mut out = BTreeMap::new();
    for (dir, mut names) in by_dir {
        // The real directory itself is not an alias of anything.
        names.retain(|n| *n != dir);
        names.sort_unstable();
        names.dedup();
        if names.len() < 2 {
            continue;
        }
        for n in &names {
            let others: Vec<String> = names.iter().filter(|o| *o != n).map(|o| o.to_string()).collect();
            out.insert(n.to_string(), others);
        }
    }
    out
}

/// What `/sys/kernel/slab` says about the caches of `/proc/slabinfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlabSysfs {
    /// Cache name → the other cache names merged with it.
    pub aliases: BTreeMap<String, Vec<String>>,
    /// Cache name → flag label ([`FLAGS`]) → set or not. A flag file that
    /// could not be read is absent.
    pub flags: BTreeMap<String, BTreeMap<String, bool>>,
}

impl SlabSysfs {
    /// One flag of one cache, by label.
    pub fn flag(&self, cache: &str, label: &str) -> Option<bool> {
        self.flags.get(cache)?.get(label).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn merged_caches_are_aliases_of_each_other() {
        let entries = [
            (":0000048", None),
            ("shared_policy_node", Some(":0000048")),
            ("xfs_ifork", Some(":0000048")),
            ("ksm_mm_slot", Some("../slab/:0000048")),
            ("kmalloc-64", None),
            ("AF_VSOCK", Some(":A-0001280")),
        ];
        let a = aliases(entries);
        assert_eq!(a.get("shared_policy_node").unwrap(), &vec!["ksm_mm_slot", "xfs_ifork"]);
        assert_eq!(a.get("xfs_ifork").unwrap(), &vec!["ksm_mm_slot", "shared_policy_node"]);
        // A cache alone in its directory has no alias.
        assert!(!a.contains_key("kmalloc-64"));
        assert!(!a.contains_key("AF_VSOCK"));
        assert!(!a.contains_key(":0000048"));
    }

    #[test]
    fn flags() {
        assert_eq!(parse_flag("1\n"), Some(true));
        assert_eq!(parse_flag("0"), Some(false));
        assert_eq!(parse_flag("2"), None);
        assert!(FLAGS.iter().any(|f| f.label == "reclaim"));
    }

    proptest! {
        #[test]
        fn never_panics(names in proptest::collection::vec(("\\PC{0,8}", proptest::option::of("\\PC{0,8}")), 0..20)) {
            let _ = aliases(names.iter().map(|(n, t)| (n.as_str(), t.as_deref())));
        }
    }
}
