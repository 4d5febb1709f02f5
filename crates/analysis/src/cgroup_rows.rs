//! The ledger of many cgroups as rows ([`LedgerRow`], made by [`rows`]):
//! per cgroup the split `report --cgroup` makes ([`crate::cgroup_ledger`]),
//! reduced to the lines that add up to the usage, the signed remainder and
//! the working set; for `memscope cgroups --ledger` and the exporter.
//!
//! ```text
//!  CgroupStat (model: usage, memory.stat, v1 kmem and TCP) ──row──▶ LedgerRow
//!     usage = anon + page_cache + shmem + kernel + sock (v2) + remainder
//!     working_set = usage − inactive_file
//! ```
//!
//! Each row is [`crate::cgroup_ledger::build`] of that cgroup alone (no
//! limits, no processes), so both views always agree line by line. On v1
//! socket buffers are charged to a counter of their own, outside the usage
//! (mm/memcontrol-v1.c `memcg1_charge_skmem`): the row shows them with
//! [`LedgerRow::sock_in_usage`] false, and the sum leaves them out.

use std::collections::BTreeMap;

use memscope_kernel::ReadError;
use memscope_kernel::parse::vmstat::Vmstat;
use memscope_model::cgroup_stats::CgroupStat;
use memscope_model::cgroups::ledger::LedgerSample;
use memscope_model::cgroups::tree::Unavailable;
use serde::Serialize;

use crate::cgroup_ledger::{self, CgroupLedger};

/// The lines of a row that add up to the usage (with the remainder), in
/// order: the ledger's keys, one table for the columns, JSON, CSV and
/// metrics. `sock` is in the sum on v2 only.
pub const LINES: &[(&str, &str)] = &[
    ("anon", "anon"),
    ("page_cache", "page cache"),
    ("shmem", "shmem"),
    ("kernel", "kernel"),
    ("sock", "sock"),
];

/// One cgroup's ledger in one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerRow {
    /// The cgroup path.
    pub path: String,
    /// `v1` or `v2`.
    pub version: &'static str,
    /// What the kernel charges the cgroup, descendants included (v2
    /// `memory.current`, v1 `memory.usage_in_bytes`).
    pub usage_bytes: Option<u64>,
    /// Anonymous memory (v2 `anon`, v1 `total_rss`).
    pub anon_bytes: Option<u64>,
    /// Page cache without shmem (v2 `file − shmem`, v1 `total_cache − total_shmem`).
    pub page_cache_bytes: Option<u64>,
    /// tmpfs and shared memory (v2 `shmem`, v1 `total_shmem`).
    pub shmem_bytes: Option<u64>,
    /// Kernel memory (v2 `kernel`, or the sum of its parts before 5.18; v1
    /// `memory.kmem.usage_in_bytes`).
    pub kernel_bytes: Option<u64>,
    /// Socket buffers (v2 `sock`; v1 `memory.kmem.tcp.usage_in_bytes`).
    pub sock_bytes: Option<u64>,
    /// Whether the socket buffers are part of the usage (v2) or beside it (v1).
    pub sock_in_usage: bool,
    /// usage − the lines (signed); `None` when one of them is unavailable.
    pub remainder_bytes: Option<i64>,
    /// usage − inactive page cache (0 if negative): the kubelet's working set.
    pub working_set_bytes: Option<u64>,
    /// Why a figure is unavailable, by its JSON name.
    pub unavailable: BTreeMap<String, String>,
}

impl LedgerRow {
    /// The figure of a line of [`LINES`].
    pub fn line(&self, key: &str) -> Option<u64> {
        match key {
            "anon" => self.anon_bytes,
            "page_cache" => self.page_cache_bytes,
            "shmem" => self.shmem_bytes,
            "kernel" => self.kernel_bytes,
            "sock" => self.sock_bytes,
            _ => None,
        }
    }

    /// Is the line of [`LINES`] part of the usage?
    pub fn in_usage(&self, key: &str) -> bool {
        key != "sock" || self.sock_in_usage
    }
}

/// The cgroup's files as the one-cgroup ledger reads them: no limits, no
/// processes, no events (a row shows none of them).
pub fn ledger_sample(s: &CgroupStat) -> LedgerSample {
    let not_read = |file: &str| -> Unavailable {
        ReadError::missing_field(&format!("{}/{file}", s.dir), "not read for a row").into()
    };
    let fig = |v: &Result<u64, ReadError>| v.clone().map_err(Unavailable::from);
    LedgerSample {
        path: s.path.clone(),
        version: s.version,
        dir: s.dir.clone(),
        usage_bytes: match &s.usage_bytes {
            // The root keeps no usage file (v2 memory.current is
            // CFTYPE_NOT_ON_ROOT); a container's own subtree, mounted as
            // the top, has one.
            Err(ReadError::NotReported { field: None, .. }) if s.top => {
                Err(Unavailable::AtTop { file: s.usage_file().into() })
            }
            u => fig(u),
        },
        stat: s.stat.clone().map_err(Unavailable::from),
        events: Err::<Vmstat, _>(not_read("memory.events")),
        swap_or_memsw_bytes: Err(not_read("swap")),
        kmem_bytes: s.kmem_bytes.as_ref().map(fig),
        kmem_tcp_bytes: s.kmem_tcp_bytes.as_ref().map(fig),
        limits: Vec::new(),
        pids: Ok(Vec::new()),
        cgroups_in_subtree: 1,
    }
}

fn row_of(s: &CgroupStat, l: &CgroupLedger) -> LedgerRow {
    let mut unavailable = BTreeMap::new();
    let mut take = |name: &str, line: Option<&cgroup_ledger::Line>| -> Option<u64> {
        match line {
            Some(x) => {
                if let Some(why) = &x.unavailable {
                    unavailable.insert(format!("{name}_bytes"), format!("{}: {why}", x.source));
                }
                x.bytes
            }
            None => None,
        }
    };
    let top = |key: &str| l.lines.iter().find(|x| x.key == key && x.parent.is_none());
    let anon = take("anon", top("anon"));
    let page_cache = take("page_cache", top("page_cache"));
    let shmem = take("shmem", top("shmem"));
    let kernel = take("kernel", top("kernel"));
    let (sock_line, sock_in_usage) = match top("sock") {
        Some(x) => (Some(x), true),
        None => (l.beside.iter().find(|x| x.key == "sock"), false),
    };
    let sock = take("sock", sock_line);
    if let Some(why) = &l.usage_unavailable {
        unavailable.insert("usage_bytes".into(), why.clone());
    }
    let working_set = l.tools.iter().find(|t| t.key == "working_set").and_then(|t| t.bytes);
    if working_set.is_none() {
        let why = match l.beside.iter().find(|x| x.key == "inactive_file") {
            None => "memory.stat has no inactive file LRU figure".to_string(),
            Some(_) => "the usage is unavailable".to_string(),
        };
        unavailable.insert("working_set_bytes".into(), why);
    }
    if l.remainder_bytes.is_none() {
        unavailable.insert("remainder_bytes".into(), "the usage or a line is unavailable".into());
    }
    LedgerRow {
        path: s.path.clone(),
        version: s.version.name(),
        usage_bytes: l.usage_bytes,
        anon_bytes: anon,
        page_cache_bytes: page_cache,
        shmem_bytes: shmem,
        kernel_bytes: kernel,
        sock_bytes: sock,
        sock_in_usage,
        remainder_bytes: l.remainder_bytes,
        working_set_bytes: working_set,
        unavailable,
    }
}

/// One cgroup's row.
pub fn row(s: &CgroupStat) -> LedgerRow {
    row_of(s, &cgroup_ledger::build(&ledger_sample(s), &[]))
}

/// One row per cgroup, same order: each built from its own files only.
pub fn rows(stats: &[CgroupStat]) -> Vec<LedgerRow> {
    stats.iter().map(row).collect()
}

/// The sum of `rows` line by line (the usage, each line, the remainder,
/// the working set); a figure unavailable in any row is unavailable in the
/// sum. Rows of one version only are summed (the callers sum one hierarchy).
pub fn sum(rows: &[&LedgerRow]) -> Option<LedgerRow> {
    let first = rows.first()?;
    let add = |f: &dyn Fn(&LedgerRow) -> Option<u64>| -> Option<u64> {
        rows.iter().try_fold(0u64, |acc, r| f(r).map(|v| acc.saturating_add(v)))
    };
    let remainder = rows.iter().try_fold(0i64, |acc, r| r.remainder_bytes.map(|v| acc.saturating_add(v)));
    let mut unavailable = BTreeMap::new();
    for r in rows {
        for (k, v) in &r.unavailable {
            unavailable.entry(k.clone()).or_insert_with(|| format!("{}: {v}", r.path));
        }
    }
    Some(LedgerRow {
        path: String::new(),
        version: first.version,
        usage_bytes: add(&|r| r.usage_bytes),
        anon_bytes: add(&|r| r.anon_bytes),
        page_cache_bytes: add(&|r| r.page_cache_bytes),
        shmem_bytes: add(&|r| r.shmem_bytes),
        kernel_bytes: add(&|r| r.kernel_bytes),
        sock_bytes: add(&|r| r.sock_bytes),
        sock_in_usage: first.sock_in_usage,
        remainder_bytes: remainder,
        working_set_bytes: add(&|r| r.working_set_bytes),
        unavailable,
    })
}

#[cfg(test)]
mod tests {
    use memscope_kernel::cgroup::Version;

    use super::*;

    const MIB: u64 = 1 << 20;

    fn stat(version: Version, usage: Result<u64, ReadError>, text: &str) -> CgroupStat {
        CgroupStat {
            path: "/c".into(),
            version,
            dir: "/sys/fs/cgroup/c".into(),
            top: false,
            usage_bytes: usage,
            stat: Ok(Vmstat::parse(text)),
            kmem_bytes: (version == Version::V1).then_some(Ok(3 * MIB)),
            kmem_tcp_bytes: (version == Version::V1).then_some(Ok(MIB)),
            procs: None,
        }
    }

    #[test]
    fn v2_lines_and_remainder_add_up_to_the_usage() {
        let text = format!(
            "anon {}\nfile {}\nshmem {}\nkernel {}\nsock {}\ninactive_file {}\nactive_file 0\n",
            10 * MIB,
            8 * MIB,
            2 * MIB,
            3 * MIB,
            MIB,
            5 * MIB
        );
        let usage = 22 * MIB - 4096;
        let r = row(&stat(Version::V2, Ok(usage), &text));
        assert_eq!(r.anon_bytes, Some(10 * MIB));
        assert_eq!(r.page_cache_bytes, Some(6 * MIB));
        assert_eq!(r.shmem_bytes, Some(2 * MIB));
        assert_eq!(r.kernel_bytes, Some(3 * MIB));
        assert_eq!(r.sock_bytes, Some(MIB));
        assert!(r.sock_in_usage);
        assert_eq!(r.remainder_bytes, Some(-4096));
        assert_eq!(r.working_set_bytes, Some(usage - 5 * MIB));
        assert!(r.unavailable.is_empty(), "{:?}", r.unavailable);
        let lines: i64 =
            LINES.iter().filter(|(k, _)| r.in_usage(k)).map(|(k, _)| r.line(k).unwrap() as i64).sum();
        assert_eq!(lines + r.remainder_bytes.unwrap(), usage as i64);
    }

    #[test]
    fn v1_sockets_are_beside_the_usage() {
        let text = format!(
            "total_rss {}\ntotal_cache {}\ntotal_shmem {}\ntotal_inactive_file {}\n",
            10 * MIB,
            8 * MIB,
            2 * MIB,
            5 * MIB
        );
        let r = row(&stat(Version::V1, Ok(21 * MIB), &text));
        assert_eq!(r.kernel_bytes, Some(3 * MIB));
        assert_eq!(r.sock_bytes, Some(MIB));
        assert!(!r.sock_in_usage);
        // 21 − (10 + 6 + 2 + 3): sockets are not subtracted.
        assert_eq!(r.remainder_bytes, Some(0));
        assert_eq!(r.working_set_bytes, Some(16 * MIB));
    }

    #[test]
    fn an_unreadable_figure_is_unavailable_with_a_reason_not_zero() {
        // No kernel key (before 5.18) and none of its parts, no sock, usage gone.
        let gone = ReadError::Gone { path: "/sys/fs/cgroup/c/memory.current".into() };
        let r = row(&stat(Version::V2, Err(gone), "anon 4096\nfile 0\nshmem 0\n"));
        assert_eq!(r.anon_bytes, Some(4096));
        assert_eq!(r.usage_bytes, None);
        assert_eq!(r.kernel_bytes, None);
        assert_eq!(r.sock_bytes, None);
        assert_eq!(r.remainder_bytes, None);
        assert_eq!(r.working_set_bytes, None);
        for k in ["usage_bytes", "kernel_bytes", "sock_bytes", "remainder_bytes", "working_set_bytes"] {
            assert!(r.unavailable.contains_key(k), "{k}: {:?}", r.unavailable);
        }
        // The v2 root: no memory.current there.
        let missing = ReadError::NotReported { path: "/sys/fs/cgroup/memory.current".into(), field: None };
        let mut top = stat(Version::V2, Err(missing), "anon 1\n");
        top.top = true;
        let r = row(&top);
        assert_eq!(r.usage_bytes, None);
        assert!(r.unavailable["usage_bytes"].contains("top cgroup"), "{:?}", r.unavailable);
        // A container's own subtree mounted as the top has one.
        top.usage_bytes = Ok(4096);
        assert_eq!(row(&top).usage_bytes, Some(4096));
    }

    #[test]
    fn a_sum_is_unavailable_where_any_row_is() {
        let a = row(&stat(
            Version::V2,
            Ok(MIB),
            "anon 1048576\nfile 0\nshmem 0\nkernel 0\nsock 0\ninactive_file 0\n",
        ));
        let b =
            row(&stat(Version::V2, Ok(MIB), "anon 1048576\nfile 0\nshmem 0\nkernel 0\ninactive_file 0\n"));
        let s = sum(&[&a, &a]).unwrap();
        assert_eq!(s.usage_bytes, Some(2 * MIB));
        assert_eq!(s.anon_bytes, Some(2 * MIB));
        assert_eq!(s.remainder_bytes, Some(0));
        let s = sum(&[&a, &b]).unwrap();
        assert_eq!(s.sock_bytes, None);
        assert_eq!(s.remainder_bytes, None);
        assert!(sum(&[]).is_none());
    }
}
