//! The memory cgroups a snapshot holds ([`CgroupSample`]) as rows for `serve`
//! and `top`: each cgroup's charge against its own limit and against the
//! tightest limit above it, its OOM kills, its place in the tree, and a
//! bounded choice of cgroups for an exporter ([`largest`]).
//!
//! Both versions count hierarchically: a cgroup's `memory.current`
//! (`memory.usage_in_bytes` on v1) includes its descendants', and a limit set
//! on a parent binds every descendant (Documentation/admin-guide/cgroup-v2.rst
//! "Memory Interface Files"; Documentation/admin-guide/cgroup-v1/memory.rst
//! §6, hierarchy support, always on since Linux 5.16). OOM kills differ:
//! mm/memcontrol.c `memcg_memory_event` adds a v2 kill to every ancestor's
//! `memory.events` (unless cgroup2 is mounted with `memory_localevents`), a
//! v1 kill only to the cgroup of the killed task ([`CgroupRow::oom_kills_hierarchical`]).
//!
//! ```text
//!  CgroupSample (parents first) ──rows──▶ [CgroupRow]   depth, own and effective limit
//!                                 ──largest(n)──▶ Largest { shown, rest }   ancestor-closed top n
//! ```

use std::collections::{BTreeMap, BinaryHeap};

use memscope_kernel::parse::cgroupfs::Limit;
use memscope_model::{CgroupSample, CgroupVersion};

use crate::hints::unavailable_reason;

/// One memory cgroup.
#[derive(Debug, Clone, PartialEq)]
pub struct CgroupRow {
    /// The cgroup path (`/system.slice/nginx.service`).
    pub path: String,
    /// Its last component (`nginx.service`; `/` for a visible subtree's top).
    pub name: String,
    /// Depth below the shallowest cgroup of the sample (0 for those).
    pub depth: usize,
    /// Index of its parent in the rows, when the parent was read.
    pub parent: Option<usize>,
    /// Version of its memory controller.
    pub version: CgroupVersion,
    /// Bytes charged, descendants included.
    pub current_bytes: Option<u64>,
    /// Its own hard limit (`Limit::Max`: none).
    pub limit: Option<Limit>,
    /// The tightest limit of itself and its ancestors: what the kernel
    /// enforces on its charge. `None` when no cgroup above sets one.
    pub effective_limit_bytes: Option<u64>,
    /// The cgroup whose limit is the effective one, when not this one.
    pub limited_by: Option<String>,
    /// OOM kills counted here ([`CgroupRow::oom_kills_hierarchical`] says whether
    /// the descendants' are included).
    pub oom_kills: Option<u64>,
    /// Figures that could not be read: (`current`, `limit` or `oom_kills`, why).
    pub unavailable: Vec<(&'static str, String)>,
}

impl CgroupRow {
    /// Charge ÷ effective limit, when both are known.
    pub fn use_ratio(&self) -> Option<f64> {
        match (self.current_bytes, self.effective_limit_bytes) {
            (Some(c), Some(l)) if l > 0 => Some(c as f64 / l as f64),
            _ => None,
        }
    }

    /// True when this cgroup's OOM kill count includes its descendants' (v2).
    pub fn oom_kills_hierarchical(&self) -> bool {
        self.version == CgroupVersion::V2
    }
}

fn parent_path(path: &str) -> Option<&str> {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return None;
    }
    match trimmed.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&trimmed[..i]),
        None => None,
    }
}

fn depth_of(path: &str) -> usize {
    path.split('/').filter(|c| !c.is_empty()).count()
}

/// The rows of a sample, in its order (parents before children, siblings by
/// name: a depth-first walk, ready to draw as an indented tree).
pub fn rows(sample: &CgroupSample) -> Vec<CgroupRow> {
    let top = sample.cgroups.iter().map(|c| depth_of(&c.path)).min().unwrap_or(0);
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out: Vec<CgroupRow> = Vec::with_capacity(sample.cgroups.len());
    for c in &sample.cgroups {
        let mut unavailable = Vec::new();
        let mut ok = |what: &'static str, r: Result<u64, &memscope_kernel::ReadError>| match r {
            Ok(v) => Some(v),
            Err(e) => {
                unavailable.push((what, unavailable_reason(e)));
                None
            }
        };
        let current_bytes = ok("current", c.current_bytes.as_ref().copied());
        let oom_kills = ok("oom_kills", c.oom_kills.as_ref().copied());
        let limit = match &c.limit {
            Ok(l) => Some(*l),
            Err(e) => {
                unavailable.push(("limit", unavailable_reason(e)));
                None
            }
        };
        let parent = parent_path(&c.path).and_then(|p| index.get(p).copied());
        // The tightest of this cgroup's limit and its parent's effective one.
        let inherited = parent.and_then(|p| {
            let pr = &out[p];
            pr.effective_limit_bytes.map(|l| (l, pr.limited_by.clone().unwrap_or_else(|| pr.path.clone())))
        });
        let own = match limit {
            Some(Limit::Value(v)) => Some(v),
            _ => None,
        };
        let (effective_limit_bytes, limited_by) = match (own, inherited) {
            (Some(o), Some((i, by))) if i < o => (Some(i), Some(by)),
            (Some(o), _) => (Some(o), None),
            (None, Some((i, by))) => (Some(i), Some(by)),
            (None, None) => (None, None),
        };
        let name = c.path.trim_end_matches('/').rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or("/");
        index.insert(c.path.as_str(), out.len());
        out.push(CgroupRow {
            path: c.path.clone(),
            name: name.to_string(),
            depth: depth_of(&c.path).saturating_sub(top),
            parent,
            version: c.version,
            current_bytes,
            limit,
            effective_limit_bytes,
            limited_by,
            oom_kills,
            unavailable,
        });
    }
    out
}

/// A bounded choice of cgroups: the largest, and what is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Largest {
    /// Indexes of the rows shown one by one, largest charge first. Every
    /// shown cgroup's parent (when read) is shown too.
    pub shown: Vec<usize>,
    /// Indexes of the topmost rows not shown: each one's parent is shown (or
    /// it has none), so their subtrees hold every cgroup not shown, and
    /// summing their charges counts each byte once.
    pub rest_tops: Vec<usize>,
    /// Rows not shown, in all.
    pub rest: usize,
}

impl Largest {
    /// Sum of the charges of the cgroups not shown (each subtree once), when
    /// there are any; `None` when none of them could be read.
    pub fn rest_current_bytes(&self, rows: &[CgroupRow]) -> Option<u64> {
        self.rest_tops.iter().filter_map(|&i| rows[i].current_bytes).reduce(u64::saturating_add)
    }
}

/// The `n` largest cgroups by charge, closed under ancestry: the tree is
/// walked from its tops, always taking the largest cgroup whose parent is
/// already taken. Since a cgroup's charge includes its descendants', this is
/// the plain top `n` whenever the charges nest as the kernel keeps them; the
/// walk guarantees that a shown child never hides an unshown parent. Ties go
/// to the earlier row (parents first, then by name).
pub fn largest(rows: &[CgroupRow], n: usize) -> Largest {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    let mut frontier = BinaryHeap::new();
    let key = |i: usize| (rows[i].current_bytes.unwrap_or(0), std::cmp::Reverse(i));
    for (i, r) in rows.iter().enumerate() {
        match r.parent {
            Some(p) => children[p].push(i),
            None => frontier.push(key(i)),
        }
    }
    let mut shown = Vec::new();
    while shown.len() < n {
        let Some((_, std::cmp::Reverse(i))) = frontier.pop() else { break };
        shown.push(i);
        for &c in &children[i] {
            frontier.push(key(c));
        }
    }
    let mut rest_tops: Vec<usize> = frontier.into_iter().map(|(_, std::cmp::Reverse(i))| i).collect();
    rest_tops.sort_unstable();
    Largest { rest: rows.len() - shown.len(), shown, rest_tops }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memscope_kernel::ReadError;
    use memscope_model::CgroupMemory;

    fn cg(path: &str, current: u64, limit: Limit, kills: u64) -> CgroupMemory {
        CgroupMemory {
            path: path.into(),
            version: CgroupVersion::V2,
            current_bytes: Ok(current),
            limit: Ok(limit),
            oom_kills: Ok(kills),
            ledger: None,
        }
    }

    /// system.slice limited to 1 GiB; web under it limited to 2 GiB (the
    /// parent binds); db unlimited; user.slice without a limit anywhere.
    fn sample() -> CgroupSample {
        CgroupSample {
            cgroups: vec![
                cg("/system.slice", 700 << 20, Limit::Value(1 << 30), 3),
                cg("/system.slice/db.service", 100 << 20, Limit::Max, 1),
                cg("/system.slice/web.service", 600 << 20, Limit::Value(2 << 30), 2),
                cg("/user.slice", 300 << 20, Limit::Max, 0),
                cg("/user.slice/user-1000.slice", 290 << 20, Limit::Value(256 << 20), 0),
            ],
            total: 5,
        }
    }

    #[test]
    fn rows_nest_and_inherit_the_tightest_limit_above() {
        let r = rows(&sample());
        let names: Vec<(usize, &str)> = r.iter().map(|r| (r.depth, r.name.as_str())).collect();
        assert_eq!(
            names,
            [
                (0, "system.slice"),
                (1, "db.service"),
                (1, "web.service"),
                (0, "user.slice"),
                (1, "user-1000.slice")
            ]
        );
        assert_eq!(r[1].parent, Some(0));
        // web sets 2 GiB but its parent's 1 GiB binds.
        assert_eq!(r[2].effective_limit_bytes, Some(1 << 30));
        assert_eq!(r[2].limited_by.as_deref(), Some("/system.slice"));
        // db has no limit of its own: the parent's.
        assert_eq!(r[1].limit, Some(Limit::Max));
        assert_eq!(r[1].effective_limit_bytes, Some(1 << 30));
        // Its own limit binds when it is the tightest.
        assert_eq!(r[4].effective_limit_bytes, Some(256 << 20));
        assert_eq!(r[4].limited_by, None);
        // No limit anywhere: none, not a number.
        assert_eq!(r[3].effective_limit_bytes, None);
        assert_eq!(r[3].use_ratio(), None);
        assert!((r[4].use_ratio().unwrap() - 290.0 / 256.0).abs() < 1e-9);
    }

    #[test]
    fn largest_is_ancestor_closed_and_the_rest_is_counted_once() {
        let r = rows(&sample());
        let l = largest(&r, 2);
        assert_eq!(l.shown, [0, 2], "system.slice, then web (600 MiB) before user.slice (300 MiB)");
        assert_eq!(l.rest, 3);
        // db (under a shown parent) and user.slice (a top); user-1000 is inside user.slice.
        assert_eq!(l.rest_tops, [1, 3]);
        assert_eq!(l.rest_current_bytes(&r), Some(400 << 20));
        let all = largest(&r, 10);
        assert_eq!(all.shown.len(), 5);
        assert_eq!((all.rest, all.rest_current_bytes(&r)), (0, None));
    }

    #[test]
    fn a_child_larger_than_its_unread_parent_does_not_hide_it() {
        // A charge that does not nest (an unreadable parent reads as unknown).
        let mut s = sample();
        s.cgroups[0].current_bytes = Err(ReadError::PermissionDenied { path: "/x/memory.current".into() });
        let r = rows(&s);
        assert_eq!(r[0].unavailable[0].0, "current");
        let l = largest(&r, 1);
        assert_eq!(l.shown, [3], "user.slice: the largest readable top");
        let l = largest(&r, 2);
        assert_eq!(l.shown, [3, 4]);
        assert!(l.rest_tops.contains(&0), "system.slice and its subtree are left, counted once");
    }

    #[test]
    fn a_visible_subtree_top_is_named_slash() {
        let s = CgroupSample {
            cgroups: vec![cg("/", 5, Limit::Value(10), 0), cg("/a", 4, Limit::Max, 0)],
            total: 2,
        };
        let r = rows(&s);
        assert_eq!((r[0].name.as_str(), r[0].depth, r[1].depth, r[1].parent), ("/", 0, 1, Some(0)));
        assert_eq!(r[1].effective_limit_bytes, Some(10));
    }
}
