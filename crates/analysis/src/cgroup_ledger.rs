//! The ledger of one cgroup ([`CgroupLedger`], built by [`build`]): what
//! the kernel charges it, split into lines that do not overlap, the signed
//! remainder, its limits with the headroom to each, its processes, and what
//! each well-known tool would print for it.
//!
//! ```text
//!  LedgerSample (model) + its processes' rows ──build──▶ CgroupLedger
//!     lines: anon · page cache · shmem · kernel (stacks, page tables, slab, …) · sock │ remainder
//!     limits: own and ancestors', headroom        tools: working set, docker, podman, RSS, OOM
//! ```
//!
//! What the usage holds (Documentation/admin-guide/cgroup-v2.rst "Memory
//! Interface Files"; Documentation/admin-guide/cgroup-v1/memory.rst §2 and
//! §2.7):
//!
//! - **v2** `memory.current` = `anon` + `file` + `kernel` + `sock`. `file`
//!   includes `shmem` (tmpfs lives in the page cache); `kernel` (5.18+,
//!   `MEMCG_KMEM`) includes `kernel_stack`, `pagetables`, `sec_pagetables`,
//!   `percpu`, `slab_*`, `vmalloc` and `zswap` (mm/memcontrol.c
//!   `memcg_account_kmem` counts every `obj_cgroup` charge there); `sock` is
//!   charged to the same counter but kept apart (`MEMCG_SOCK`,
//!   `mem_cgroup_charge_skmem`).
//! - **v1** `memory.usage_in_bytes` = `total_rss` + `total_cache` +
//!   `memory.kmem.usage_in_bytes` (kernel memory is charged to both
//!   counters). TCP socket buffers are charged to a counter of their own,
//!   `memory.kmem.tcp.usage_in_bytes`, **not** to the usage, and only once
//!   `memory.kmem.tcp.limit_in_bytes` has been written
//!   (mm/memcontrol-v1.c `memcg1_charge_skmem`, `tcpmem_active`).
//!
//! Counters are per-cpu batched, so the parts drift from the page counter by
//! a few pages per CPU: the remainder says by how much, signed.

use serde::Serialize;

use memscope_kernel::cgroup::Version;
use memscope_kernel::parse::cgroupfs::Limit;
use memscope_model::cgroups::ledger::LedgerSample;

use crate::cgroups::unavailable_reason;
use crate::processes::ProcessRow;

/// The JSON schema of `memscope report --cgroup`.
pub const SCHEMA: &str = "memscope.report-cgroup/1";

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Stable key (`anon`, `page_cache`, `shmem`, `kernel`, `kernel_stack`, …, `sock`).
    pub key: &'static str,
    /// What the table calls it.
    pub label: &'static str,
    /// The line it is part of (`kernel` for its parts), `None` for the lines
    /// that add up to the usage.
    pub parent: Option<&'static str>,
    /// Bytes, `None` when unavailable.
    pub bytes: Option<u64>,
    /// Where it comes from: `memory.stat anon`, `memory.stat file − shmem`,
    /// `memory.kmem.usage_in_bytes`.
    pub source: String,
    /// Why it is unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// One limit that applies, and the headroom to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitLine {
    /// The cgroup that sets it.
    pub cgroup: String,
    /// Its file (and key, for `memory.stat hierarchical_memory_limit`).
    pub file: String,
    /// What it does.
    pub kind: &'static str,
    /// The limit in bytes; `None` when there is none (`max`) or it is unavailable.
    pub limit_bytes: Option<u64>,
    /// `limit − usage` (signed), when the limit is a number.
    pub headroom_bytes: Option<i64>,
    /// Why it is unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// What one tool would show for the cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolLine {
    /// Stable key (`working_set`, `docker_stats`, …).
    pub key: &'static str,
    /// The tool.
    pub tool: &'static str,
    /// Its figure, `None` when an input is unavailable.
    pub bytes: Option<u64>,
    /// Its formula, in this cgroup version's file names.
    pub formula: String,
    /// What the figure means.
    pub meaning: &'static str,
}

/// One process of the cgroup's subtree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerProcess {
    /// Process id.
    pub pid: u32,
    /// Its command name.
    pub comm: String,
    /// Proportional set size.
    pub pss_bytes: Option<u64>,
    /// Unique set size.
    pub uss_bytes: Option<u64>,
    /// Resident set size.
    pub rss_bytes: Option<u64>,
    /// Swapped out.
    pub swap_bytes: Option<u64>,
}

/// The charge against what the processes map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotMapped {
    /// Σ PSS of the processes whose PSS was read.
    pub pss_bytes: u64,
    /// Σ RSS of the processes.
    pub rss_bytes: u64,
    /// usage − Σ PSS (signed): the part of the charge no process maps.
    pub not_mapped_bytes: Option<i64>,
    /// Page cache no process maps (`file − file_mapped`; v1 `total_cache − total_mapped_file`).
    pub page_cache_unmapped_bytes: Option<u64>,
    /// Kernel memory and socket buffers charged to the cgroup.
    pub kernel_and_sock_bytes: Option<u64>,
    /// What those two leave unexplained (signed): charges of exited
    /// processes, pages mapped from another cgroup's charge (negative), …
    pub other_bytes: Option<i64>,
    /// Processes whose PSS could not be read.
    pub processes_without_pss: usize,
}

/// The ledger of one cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupLedger {
    /// The cgroup path.
    pub cgroup: String,
    /// What the container runtimes call it (container name, image, pod),
    /// where their files say; set by the caller ([`crate::containers::label_of`]).
    #[serde(flatten)]
    pub container: Option<crate::containers::ContainerLabel>,
    /// `v1` or `v2`.
    pub version: &'static str,
    /// The file the usage comes from.
    pub usage_source: &'static str,
    /// The usage: what the kernel charges the cgroup, descendants included.
    pub usage_bytes: Option<u64>,
    /// Why the usage is unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_unavailable: Option<String>,
    /// The lines; those without a parent add up to the usage with the remainder.
    pub lines: Vec<Line>,
    /// usage − Σ top-level lines (signed); `None` when a line or the usage is unavailable.
    pub remainder_bytes: Option<i64>,
    /// Figures beside the usage, not in it: swap, v1 TCP socket buffers,
    /// page-cache detail (active/inactive, dirty, mapped).
    pub beside: Vec<Line>,
    /// The limits that apply, nearest first.
    pub limits: Vec<LimitLine>,
    /// The tightest hard limit, and the cgroup that sets it.
    pub effective_limit_bytes: Option<u64>,
    /// The cgroup setting [`CgroupLedger::effective_limit_bytes`].
    pub effective_limit_cgroup: Option<String>,
    /// OOM kills counted in the cgroup (v2 includes descendants').
    pub oom_kills: Option<u64>,
    /// What each tool would show.
    pub tools: Vec<ToolLine>,
    /// The key of the tool line that answers "will it be OOM-killed?".
    pub oom_answer: &'static str,
    /// That answer in words, with this cgroup's figures.
    pub oom_verdict: String,
    /// The processes of the subtree, largest PSS first.
    pub processes: Vec<LedgerProcess>,
    /// The usage against the processes' PSS.
    pub not_mapped: NotMapped,
    /// Notes: what could not be read, what the kernel does not charge.
    pub notes: Vec<String>,
}

fn fig(s: &LedgerSample, key: &str) -> Result<u64, String> {
    s.stat_key(key).map_err(|u| unavailable_reason(&u))
}

fn line(
    key: &'static str,
    label: &'static str,
    parent: Option<&'static str>,
    v: Result<u64, String>,
    source: String,
) -> Line {
    match v {
        Ok(b) => Line { key, label, parent, bytes: Some(b), source, unavailable: None },
        Err(e) => Line { key, label, parent, bytes: None, source, unavailable: Some(e) },
    }
}

/// `a − b − …` exactly, saturated to `i64`.
fn signed(from: u64, minus: &[u64]) -> i64 {
    let d = minus.iter().fold(i128::from(from), |acc, &m| acc - i128::from(m));
    i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
}

/// The parts of the v2 `kernel` line (memory.stat keys), in mm/memcontrol.c
/// `memory_stats[]` order.
const V2_KERNEL_PARTS: &[(&str, &str)] = &[
    ("kernel_stack", "kernel stacks"),
    ("pagetables", "page tables"),
    ("sec_pagetables", "secondary page tables (KVM, IOMMU)"),
    ("percpu", "per-cpu allocations"),
    ("slab_reclaimable", "slab, reclaimable"),
    ("slab_unreclaimable", "slab, unreclaimable"),
    ("vmalloc", "vmalloc"),
    ("zswap", "zswap pool (compressed swap in RAM)"),
];

fn v2_lines(s: &LedgerSample, lines: &mut Vec<Line>, beside: &mut Vec<Line>, notes: &mut Vec<String>) {
    let st = |k: &str| fig(s, k);
    lines.push(line("anon", "anonymous", None, st("anon"), "memory.stat anon".into()));
    lines.push(line(
        "anon_thp",
        "in transparent huge pages",
        Some("anon"),
        st("anon_thp"),
        "memory.stat anon_thp".into(),
    ));
    let cache = st("file").and_then(|f| st("shmem").map(|sh| f.saturating_sub(sh)));
    lines.push(line("page_cache", "page cache", None, cache, "memory.stat file − shmem".into()));
    lines.push(line("shmem", "shmem and tmpfs", None, st("shmem"), "memory.stat shmem".into()));
    // The parts present on this kernel (sec_pagetables is 6.2+, zswap 5.19+).
    let parts: Vec<(&'static str, &'static str, u64)> =
        V2_KERNEL_PARTS.iter().filter_map(|&(k, l)| st(k).ok().map(|v| (k, l, v))).collect();
    let parts_sum = parts.iter().fold(0u64, |a, p| a.saturating_add(p.2));
    let (kernel, source) = match st("kernel") {
        Ok(k) => (Ok(k), "memory.stat kernel".to_string()),
        Err(_) if !parts.is_empty() => {
            notes.push(
                "memory.stat has no `kernel` (before Linux 5.18): the kernel line is the sum of its parts, \
                 and kernel memory without a key of its own is in the remainder"
                    .into(),
            );
            (Ok(parts_sum), "Σ memory.stat kernel parts".to_string())
        }
        Err(e) => (Err(e), "memory.stat kernel".to_string()),
    };
    let kernel_ok = kernel.as_ref().ok().copied();
    lines.push(line("kernel", "kernel", None, kernel, source));
    for (k, l, v) in &parts {
        lines.push(line(k, l, Some("kernel"), Ok(*v), format!("memory.stat {k}")));
    }
    if let (Some(k), true) = (kernel_ok, st("kernel").is_ok()) {
        let rest = k.saturating_sub(parts_sum);
        lines.push(line(
            "kernel_other",
            "other kernel memory",
            Some("kernel"),
            Ok(rest),
            "kernel − Σ its parts".into(),
        ));
    }
    lines.push(line("sock", "socket buffers", None, st("sock"), "memory.stat sock".into()));
    for (k, l, src) in [
        ("active_file", "page cache, active (not reclaimed first)", "memory.stat active_file"),
        ("inactive_file", "page cache, inactive (reclaimed first)", "memory.stat inactive_file"),
        ("file_mapped", "page cache mapped by processes", "memory.stat file_mapped"),
        ("file_dirty", "page cache, dirty", "memory.stat file_dirty"),
        ("file_writeback", "page cache, under writeback", "memory.stat file_writeback"),
        ("zswapped", "swapped to zswap (its original size)", "memory.stat zswapped"),
    ] {
        if let Ok(v) = st(k) {
            beside.push(line(k, l, None, Ok(v), src.into()));
        }
    }
    beside.push(line(
        "swap",
        "swap (not in the usage)",
        None,
        s.swap_or_memsw_bytes.clone().map_err(|u| unavailable_reason(&u)),
        "memory.swap.current".into(),
    ));
}

fn v1_lines(s: &LedgerSample, lines: &mut Vec<Line>, beside: &mut Vec<Line>, notes: &mut Vec<String>) {
    let st = |k: &str| fig(s, k);
    lines.push(line("anon", "anonymous", None, st("total_rss"), "memory.stat total_rss".into()));
    lines.push(line(
        "anon_thp",
        "in transparent huge pages",
        Some("anon"),
        st("total_rss_huge"),
        "memory.stat total_rss_huge".into(),
    ));
    let cache = st("total_cache").and_then(|f| st("total_shmem").map(|sh| f.saturating_sub(sh)));
    lines.push(line("page_cache", "page cache", None, cache, "memory.stat total_cache − total_shmem".into()));
    lines.push(line("shmem", "shmem and tmpfs", None, st("total_shmem"), "memory.stat total_shmem".into()));
    let kmem = match &s.kmem_bytes {
        Some(k) => k.clone().map_err(|u| unavailable_reason(&u)),
        None => Err("not read".into()),
    };
    lines.push(line("kernel", "kernel", None, kmem, "memory.kmem.usage_in_bytes".into()));
    for (key, k, l) in [
        ("active_file", "total_active_file", "page cache, active (not reclaimed first)"),
        ("inactive_file", "total_inactive_file", "page cache, inactive (reclaimed first)"),
        ("file_mapped", "total_mapped_file", "page cache mapped by processes"),
        ("file_dirty", "total_dirty", "page cache, dirty"),
        ("file_writeback", "total_writeback", "page cache, under writeback"),
    ] {
        if let Ok(v) = st(k) {
            beside.push(line(key, l, None, Ok(v), format!("memory.stat {k}")));
        }
    }
    // Socket buffers: their own counter, outside the usage.
    let tcp = match &s.kmem_tcp_bytes {
        Some(t) => t.clone().map_err(|u| unavailable_reason(&u)),
        None => Err("not read".into()),
    };
    let tcp_zero = tcp.as_ref().is_ok_and(|v| *v == 0);
    beside.push(line(
        "sock",
        "TCP socket buffers (not in the usage)",
        None,
        tcp,
        "memory.kmem.tcp.usage_in_bytes".into(),
    ));
    let tcp_unlimited =
        matches!(s.own_limit("memory.kmem.tcp.limit_in_bytes").map(|l| &l.limit), Some(Ok(Limit::Max)));
    if tcp_unlimited && tcp_zero {
        notes.push(
            "memory.kmem.tcp.limit_in_bytes was never set here (unlimited, no usage): cgroup v1 charges socket \
             buffers to a cgroup only once that file has been written, so this cgroup's sockets are charged to \
             no cgroup"
                .into(),
        );
    }
    let swap = match (&s.swap_or_memsw_bytes, &s.usage_bytes) {
        (Ok(both), Ok(u)) => Ok(both.saturating_sub(*u)),
        (Err(e), _) | (_, Err(e)) => Err(unavailable_reason(e)),
    };
    beside.push(line(
        "swap",
        "swap (not in the usage)",
        None,
        swap,
        "memory.memsw.usage_in_bytes − memory.usage_in_bytes".into(),
    ));
}

fn limit_kind(file: &str) -> &'static str {
    match file {
        "memory.max" | "memory.limit_in_bytes" => "hard limit: reclaim, then OOM kill",
        "memory.high" => "throttle: reclaim and slow the tasks down, no OOM kill",
        "memory.low" => "best-effort protection from reclaim",
        "memory.min" => "hard protection from reclaim",
        "memory.memsw.limit_in_bytes" => "memory + swap hard limit",
        "memory.kmem.tcp.limit_in_bytes" => "TCP socket buffer limit (v1)",
        _ => "hard limit of the hierarchy",
    }
}

fn limits(s: &LedgerSample, usage: Option<u64>) -> Vec<LimitLine> {
    let mut out: Vec<LimitLine> = s
        .limits
        .iter()
        .map(|l| {
            let (limit_bytes, unavailable) = match &l.limit {
                Ok(Limit::Value(v)) => (Some(*v), None),
                Ok(Limit::Max) => (None, None),
                Err(u) => (None, Some(unavailable_reason(u))),
            };
            // Headroom against the usage the limit counts: the memsw limit
            // counts memory and swap; the TCP limit counts socket buffers.
            let counted = match l.file {
                "memory.memsw.limit_in_bytes" => s.swap_or_memsw_bytes.as_ref().ok().copied(),
                "memory.kmem.tcp.limit_in_bytes" => {
                    s.kmem_tcp_bytes.as_ref().and_then(|t| t.as_ref().ok()).copied()
                }
                // memory.low/min protect: headroom to them means "above protection by".
                _ => usage,
            };
            LimitLine {
                cgroup: l.cgroup.clone(),
                file: l.file.to_string(),
                kind: limit_kind(l.file),
                limit_bytes,
                // Protections (memory.low, memory.min) have no headroom: the
                // charge may exceed them.
                headroom_bytes: match l.file {
                    "memory.low" | "memory.min" => None,
                    _ => limit_bytes.zip(counted).map(|(lim, u)| signed(lim, &[u])),
                },
                unavailable,
            }
        })
        .collect();
    if s.version == Version::V1
        && let Ok(h) = s.stat_key("hierarchical_memory_limit")
    {
        let limit = Limit::parse_v1_bytes(&h.to_string()).ok();
        let limit_bytes = match limit {
            Some(Limit::Value(v)) => Some(v),
            _ => None,
        };
        out.push(LimitLine {
            cgroup: s.path.clone(),
            file: "memory.stat hierarchical_memory_limit".into(),
            kind: "the tightest memory.limit_in_bytes of it and its ancestors",
            limit_bytes,
            headroom_bytes: limit_bytes.zip(usage).map(|(l, u)| signed(l, &[u])),
            unavailable: None,
        });
    }
    out
}

/// The split of the usage of the cgroup `s` holds: the lines (which, with
/// the remainder, add up to the usage), the figures beside them, and notes.
/// [`build`] and the history of a recording
/// ([`crate::cgroup_history`]) share it.
pub fn split(s: &LedgerSample) -> (Vec<Line>, Vec<Line>, Vec<String>) {
    let mut lines = Vec::new();
    let mut beside = Vec::new();
    let mut notes = Vec::new();
    match s.version {
        Version::V2 => v2_lines(s, &mut lines, &mut beside, &mut notes),
        Version::V1 => v1_lines(s, &mut lines, &mut beside, &mut notes),
    }
    (lines, beside, notes)
}

/// Build the ledger of the cgroup `s` holds; `procs` are the rows of the
/// processes of its subtree.
pub fn build(s: &LedgerSample, procs: &[ProcessRow]) -> CgroupLedger {
    let (lines, beside, mut notes) = split(s);
    let usage = s.usage_bytes.as_ref().ok().copied();
    let usage_unavailable = s.usage_bytes.as_ref().err().map(unavailable_reason);
    let top: Vec<Option<u64>> = lines.iter().filter(|l| l.parent.is_none()).map(|l| l.bytes).collect();
    let remainder = match (usage, top.iter().copied().collect::<Option<Vec<u64>>>()) {
        (Some(u), Some(parts)) => Some(signed(u, &parts)),
        _ => None,
    };
    let limits = limits(s, usage);
    let hard = |l: &&LimitLine| {
        matches!(
            l.file.as_str(),
            "memory.max" | "memory.limit_in_bytes" | "memory.stat hierarchical_memory_limit"
        )
    };
    let effective = limits
        .iter()
        .filter(hard)
        .filter_map(|l| l.limit_bytes.map(|b| (b, l.cgroup.clone())))
        .min_by_key(|(b, _)| *b);
    let oom_kills = s.events.as_ref().ok().and_then(|e| e.get("oom_kill"));

    // The processes, largest PSS first.
    let mut processes: Vec<LedgerProcess> = procs
        .iter()
        .map(|r| LedgerProcess {
            pid: r.pid,
            comm: r.comm.clone(),
            pss_bytes: r.pss_bytes,
            uss_bytes: r.uss_bytes,
            rss_bytes: r.rss_bytes,
            swap_bytes: r.swap_bytes,
        })
        .collect();
    processes.sort_by(|a, b| b.pss_bytes.cmp(&a.pss_bytes).then(a.pid.cmp(&b.pid)));
    let pss: u64 = processes.iter().filter_map(|p| p.pss_bytes).fold(0, u64::saturating_add);
    let rss: u64 = processes.iter().filter_map(|p| p.rss_bytes).fold(0, u64::saturating_add);
    let get = |k: &str| lines.iter().chain(&beside).find(|l| l.key == k).and_then(|l| l.bytes);
    let file_total = get("page_cache").zip(get("shmem")).map(|(c, sh)| c.saturating_add(sh));
    let page_cache_unmapped = file_total.zip(get("file_mapped")).map(|(f, m)| f.saturating_sub(m));
    let kernel_and_sock = match s.version {
        Version::V2 => get("kernel").zip(get("sock")).map(|(k, so)| k.saturating_add(so)),
        Version::V1 => get("kernel"),
    };
    let not_mapped = NotMapped {
        pss_bytes: pss,
        rss_bytes: rss,
        not_mapped_bytes: usage.map(|u| signed(u, &[pss])),
        page_cache_unmapped_bytes: page_cache_unmapped,
        kernel_and_sock_bytes: kernel_and_sock,
        other_bytes: match (usage, page_cache_unmapped, kernel_and_sock) {
            (Some(u), Some(c), Some(k)) => Some(signed(u, &[pss, c, k])),
            _ => None,
        },
        processes_without_pss: processes.iter().filter(|p| p.pss_bytes.is_none()).count(),
    };

    let (tools, oom_verdict) = tools(s, usage, &lines, &beside, rss, pss, effective.as_ref().map(|e| e.0));
    if let Err(e) = &s.pids {
        notes.push(format!("the cgroup's processes could not all be listed: {}", unavailable_reason(e)));
    }
    for l in lines.iter().chain(&beside) {
        if let Some(why) = &l.unavailable {
            notes.push(format!("{}: {why}", l.source));
        }
    }
    CgroupLedger {
        container: None,
        cgroup: s.path.clone(),
        version: s.version.name(),
        usage_source: s.usage_file(),
        usage_bytes: usage,
        usage_unavailable,
        lines,
        remainder_bytes: remainder,
        beside,
        limits,
        effective_limit_bytes: effective.as_ref().map(|e| e.0),
        effective_limit_cgroup: effective.map(|e| e.1),
        oom_kills,
        tools,
        oom_answer: "unreclaimable",
        oom_verdict,
        processes,
        not_mapped,
        notes,
    }
}

fn tools(
    s: &LedgerSample,
    usage: Option<u64>,
    lines: &[Line],
    beside: &[Line],
    rss: u64,
    pss: u64,
    limit: Option<u64>,
) -> (Vec<ToolLine>, String) {
    let get = |k: &str| lines.iter().chain(beside).find(|l| l.key == k).and_then(|l| l.bytes);
    let v1 = s.version == Version::V1;
    let (u, inactive, cache) = if v1 {
        ("usage_in_bytes", "total_inactive_file", "total_cache")
    } else {
        ("memory.current", "inactive_file", "file")
    };
    let minus = |a: Option<u64>, b: Option<u64>| a.zip(b).map(|(a, b)| a.saturating_sub(b));
    let working_set = minus(usage, get("inactive_file"));
    let file_total = get("page_cache").zip(get("shmem")).map(|(c, sh)| c.saturating_add(sh));
    let mut out = vec![
        ToolLine {
            key: "usage",
            tool: "the kernel's charge (systemd's Memory:, cAdvisor container_memory_usage_bytes)",
            bytes: usage,
            formula: u.to_string(),
            meaning: "every line above: what the limit is compared with at each charge",
        },
        ToolLine {
            key: "working_set",
            tool: "kubelet / cAdvisor working set (kubectl top, eviction)",
            bytes: working_set,
            formula: format!("{u} − {inactive} (0 if negative)"),
            meaning: "the charge less the page cache the kernel reclaims first",
        },
        ToolLine {
            key: "docker_stats",
            tool: if v1 { "docker stats (Docker 19.03 and later)" } else { "docker stats" },
            bytes: working_set,
            formula: format!("{u} − {inactive}"),
            meaning: "the same as the working set",
        },
    ];
    if v1 {
        out.push(ToolLine {
            key: "docker_stats_old",
            tool: "docker stats (before Docker 19.03)",
            bytes: minus(usage, file_total),
            formula: format!("{u} − {cache}"),
            meaning: "the charge less all page cache, tmpfs included",
        });
    }
    out.push(ToolLine {
        key: "podman_stats",
        tool: "podman stats",
        bytes: if v1 { usage } else { working_set },
        formula: if v1 { u.to_string() } else { format!("{u} − {inactive}") },
        meaning: if v1 {
            "the charge as is (podman's v1 reader subtracts nothing)"
        } else {
            "the same as the working set"
        },
    });
    out.push(ToolLine {
        key: "rss",
        tool: "Σ RSS of its processes (ps, top)",
        bytes: Some(rss),
        formula: "Σ VmRSS".into(),
        meaning: "mapped pages, shared ones counted once per process; no tmpfs that is not mapped, no page cache that is not mapped, no kernel memory, no sockets",
    });
    out.push(ToolLine {
        key: "pss",
        tool: "Σ PSS of its processes (memscope ps, smem)",
        bytes: Some(pss),
        formula: "Σ Pss".into(),
        meaning: "mapped pages, shared ones divided among their mappers",
    });
    // What reclaim cannot free before the OOM killer runs: the charge less
    // clean page cache (active and inactive file LRUs) and reclaimable slab;
    // anonymous memory only leaves by swap.
    let reclaimable_cache = get("active_file").zip(get("inactive_file")).map(|(a, i)| a.saturating_add(i));
    let slab_rec = if v1 { Some(0) } else { get("slab_reclaimable").or(Some(0)) };
    let dirty = get("file_dirty").unwrap_or(0).saturating_add(get("file_writeback").unwrap_or(0));
    let unreclaimable = usage
        .zip(reclaimable_cache)
        .zip(slab_rec)
        .map(|((u, c), sr)| u.saturating_sub(c.saturating_sub(dirty)).saturating_sub(sr));
    out.push(ToolLine {
        key: "unreclaimable",
        tool: "what the OOM killer is left with (memscope)",
        bytes: unreclaimable,
        formula: if v1 {
            format!("{u} − (total_active_file + total_inactive_file − dirty − writeback)")
        } else {
            format!("{u} − (active_file + inactive_file − file_dirty − file_writeback) − slab_reclaimable")
        },
        meaning: "the charge reclaim cannot free without swap: anon, tmpfs, kernel memory, sockets, dirty cache",
    });
    let b = |v: Option<u64>| v.map_or_else(|| "unavailable".to_string(), |v| crate::fmt_bytes(v as i64));
    let verdict = match limit {
        Some(l) => format!(
            "Will it be OOM-killed? The kernel compares the whole charge ({}) with the limit ({}) at every \
             allocation; when it is reached it first reclaims page cache and reclaimable slab, and swaps \
             anonymous memory out if swap is allowed. It kills only when what is left cannot fit: that is the \
             unreclaimable figure ({}, {} of the limit). Σ RSS ({}) leaves out tmpfs, page cache no one maps, \
             kernel memory and sockets, so a cgroup can be killed with its RSS far below the limit; the working \
             set ({}) still counts active page cache the kernel can reclaim.",
            b(usage),
            b(Some(l)),
            b(unreclaimable),
            unreclaimable
                .map_or_else(|| "?".into(), |x| format!("{:.0}%", x as f64 * 100.0 / l.max(1) as f64)),
            b(Some(rss)),
            b(working_set),
        ),
        None => format!(
            "Will it be OOM-killed? No memory limit applies to this cgroup or its ancestors, so only a \
             system-wide shortage can kill its processes; the unreclaimable figure ({}) is what it would \
             still hold after reclaim.",
            b(unreclaimable)
        ),
    };
    (out, verdict)
}

/// Why a name matched no single cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// No cgroup path matches.
    NoMatch,
    /// Several unrelated cgroups match (their paths, at most a few).
    Ambiguous(Vec<String>),
}

/// Does the path component `c` name `spec`: the component itself (a systemd
/// unit `nginx.service`, a slice), a container id prefix
/// (`docker-<id>.scope`, `libpod-`, `cri-containerd-`, `crio-`, or a bare
/// id as the cgroupfs drivers write it), or a pod UID (`pod<uid>`, with
/// `-` as in the API or `_` as the systemd driver escapes it)?
fn component_matches(c: &str, spec: &str) -> bool {
    if c == spec {
        return true;
    }
    let bare = ["docker-", "libpod-", "cri-containerd-", "crio-"]
        .iter()
        .find_map(|p| c.strip_prefix(p))
        .unwrap_or(c);
    let bare = bare.strip_suffix(".scope").unwrap_or(bare);
    let hex = |s: &str| s.len() >= 4 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if hex(spec) && hex(bare) && bare.len() >= 12 && bare.starts_with(spec) {
        return true;
    }
    // Pod UIDs: 8-4-4-4-12 hex digits.
    let uid_like = spec.len() == 36 && spec.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_');
    if uid_like {
        let dashed = spec.replace('_', "-");
        let underscored = spec.replace('-', "_");
        let pod = c.strip_suffix(".slice").unwrap_or(c);
        return pod.ends_with(&format!("pod{dashed}")) || pod.ends_with(&format!("pod{underscored}"));
    }
    false
}

/// The cgroup `spec` names among `paths` (a memory hierarchy's cgroup
/// paths): the path itself, else the shallowest cgroup one of whose path
/// components names it ([`component_matches`]); descendants of a match
/// (a pod's containers) do not make it ambiguous.
pub fn resolve(paths: &[String], spec: &str) -> Result<String, Unresolved> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(Unresolved::NoMatch);
    }
    let normalized = format!("/{}", spec.trim_matches('/'));
    if spec.starts_with('/') {
        return paths
            .iter()
            .find(|p| **p == normalized || (normalized == "/" && *p == "/"))
            .cloned()
            .ok_or(Unresolved::NoMatch);
    }
    if spec.contains('/') && paths.contains(&normalized) {
        return Ok(normalized);
    }
    let matching: Vec<&String> = paths
        .iter()
        .filter(|p| p.rsplit('/').next().is_some_and(|last| component_matches(last, spec)))
        .collect();
    // Keep only the matches no other match contains.
    let tops: Vec<&String> = matching
        .iter()
        .filter(|p| {
            !matching.iter().any(|q| q != *p && p.starts_with(&format!("{}/", q.trim_end_matches('/'))))
        })
        .copied()
        .collect();
    match tops.as_slice() {
        [] => Err(Unresolved::NoMatch),
        [one] => Ok((*one).clone()),
        many => Err(Unresolved::Ambiguous(many.iter().take(5).map(|s| s.to_string()).collect())),
    }
}

#[cfg(test)]
mod tests {
    use memscope_kernel::parse::vmstat::Vmstat;
    use memscope_model::cgroups::ledger::LimitFile;

    use super::*;

    const MIB: u64 = 1 << 20;

    fn sample(version: Version, usage: u64, stat: &str) -> LedgerSample {
        LedgerSample {
            path: "/pod".into(),
            version,
            dir: "/sys/fs/cgroup/pod".into(),
            usage_bytes: Ok(usage),
            stat: Ok(Vmstat::parse(stat)),
            events: Ok(Vmstat::parse("oom 1\noom_kill 1\n")),
            swap_or_memsw_bytes: Ok(0),
            kmem_bytes: None,
            kmem_tcp_bytes: None,
            limits: vec![
                LimitFile { cgroup: "/pod".into(), file: "memory.max", limit: Ok(Limit::Value(256 * MIB)) },
                LimitFile { cgroup: "/".into(), file: "memory.max", limit: Ok(Limit::Max) },
            ],
            pids: Ok(vec![7]),
            cgroups_in_subtree: 1,
        }
    }

    fn proc_row(pid: u32, pss: u64, rss: u64) -> ProcessRow {
        ProcessRow {
            pid,
            comm: "app".into(),
            pss_bytes: Some(pss),
            uss_bytes: Some(pss),
            uid: None,
            rss_bytes: Some(rss),
            swap_bytes: Some(0),
            rss_anon_bytes: None,
            rss_file_bytes: None,
            rss_shmem_bytes: None,
            source: crate::processes::RowSource::SmapsRollup,
            pss_unavailable: None,
            fds: None,
            fd_soft_limit: None,
        }
    }

    #[test]
    fn v2_lines_add_up_to_memory_current_with_the_remainder() {
        // 64 MiB anon, 48 MiB file of which 16 MiB shmem, 6 MiB kernel
        // (1+1+2+1 MiB of parts and 1 MiB other), 3 MiB sock; 4 KiB drift.
        let stat = format!(
            "anon {}\nanon_thp 0\nfile {}\nshmem {}\nkernel {}\nkernel_stack {}\npagetables {}\n\
             slab_reclaimable {}\nslab_unreclaimable {}\npercpu 0\nvmalloc 0\nsock {}\nactive_file {}\n\
             inactive_file {}\nfile_mapped {}\nfile_dirty 0\nfile_writeback 0\n",
            64 * MIB,
            48 * MIB,
            16 * MIB,
            6 * MIB,
            MIB,
            MIB,
            2 * MIB,
            MIB,
            3 * MIB,
            8 * MIB,
            24 * MIB,
            4 * MIB
        );
        let usage = 121 * MIB + 4096;
        let l = build(&sample(Version::V2, usage, &stat), &[proc_row(7, 60 * MIB, 66 * MIB)]);
        let get = |k: &str| l.lines.iter().find(|x| x.key == k).unwrap().bytes.unwrap();
        assert_eq!(get("anon"), 64 * MIB);
        assert_eq!(get("page_cache"), 32 * MIB);
        assert_eq!(get("shmem"), 16 * MIB);
        assert_eq!(get("kernel"), 6 * MIB);
        assert_eq!(get("kernel_other"), MIB);
        assert_eq!(get("sock"), 3 * MIB);
        assert_eq!(l.remainder_bytes, Some(4096));
        let tool = |k: &str| l.tools.iter().find(|t| t.key == k).unwrap().bytes;
        assert_eq!(tool("working_set"), Some(usage - 24 * MIB));
        assert_eq!(tool("docker_stats"), Some(usage - 24 * MIB));
        assert_eq!(tool("podman_stats"), Some(usage - 24 * MIB));
        assert_eq!(tool("rss"), Some(66 * MIB));
        // Reclaim frees the 32 MiB of file LRU and 2 MiB of reclaimable slab.
        assert_eq!(tool("unreclaimable"), Some(usage - 32 * MIB - 2 * MIB));
        assert_eq!(l.effective_limit_bytes, Some(256 * MIB));
        assert_eq!(l.limits[0].headroom_bytes, Some((256 * MIB - usage) as i64));
        assert_eq!(l.oom_kills, Some(1));
        assert_eq!(l.not_mapped.not_mapped_bytes, Some((usage - 60 * MIB) as i64));
        // file 48 − mapped 4 = 44 MiB; kernel + sock = 9 MiB.
        assert_eq!(l.not_mapped.page_cache_unmapped_bytes, Some(44 * MIB));
        assert_eq!(l.not_mapped.kernel_and_sock_bytes, Some(9 * MIB));
        assert_eq!(l.not_mapped.other_bytes, Some(usage as i64 - (60 + 44 + 9) as i64 * MIB as i64));
    }

    #[test]
    fn v1_sockets_are_beside_the_usage_and_the_unset_tcp_limit_is_said() {
        let stat = format!(
            "total_rss {}\ntotal_rss_huge 0\ntotal_cache {}\ntotal_shmem {}\ntotal_mapped_file {}\n\
             total_inactive_file {}\ntotal_active_file {}\nhierarchical_memory_limit {}\n",
            64 * MIB,
            48 * MIB,
            16 * MIB,
            4 * MIB,
            30 * MIB,
            2 * MIB,
            128 * MIB
        );
        let mut s = sample(Version::V1, 113 * MIB - 4096, &stat);
        s.kmem_bytes = Some(Ok(MIB));
        s.kmem_tcp_bytes = Some(Ok(0));
        s.swap_or_memsw_bytes = Ok(113 * MIB - 4096);
        s.limits = vec![
            LimitFile { cgroup: "/pod".into(), file: "memory.limit_in_bytes", limit: Ok(Limit::Max) },
            LimitFile {
                cgroup: "/pod".into(),
                file: "memory.kmem.tcp.limit_in_bytes",
                limit: Ok(Limit::Max),
            },
        ];
        let l = build(&s, &[]);
        assert_eq!(l.remainder_bytes, Some(-4096));
        assert_eq!(l.beside.iter().find(|x| x.key == "sock").unwrap().bytes, Some(0));
        assert!(l.notes.iter().any(|n| n.contains("memory.kmem.tcp.limit_in_bytes was never set")));
        let tool = |k: &str| l.tools.iter().find(|t| t.key == k).unwrap().bytes;
        assert_eq!(tool("working_set"), Some(113 * MIB - 4096 - 30 * MIB));
        assert_eq!(tool("docker_stats_old"), Some(113 * MIB - 4096 - 48 * MIB));
        assert_eq!(tool("podman_stats"), Some(113 * MIB - 4096));
        assert_eq!(l.effective_limit_bytes, Some(128 * MIB));
        assert_eq!(l.beside.iter().find(|x| x.key == "swap").unwrap().bytes, Some(0));
        // total_cache 48 − total_mapped_file 4; kernel is kmem (sockets are not in the usage).
        assert_eq!(l.not_mapped.page_cache_unmapped_bytes, Some(44 * MIB));
        assert_eq!(l.not_mapped.kernel_and_sock_bytes, Some(MIB));
        assert_eq!(
            l.tools.iter().find(|t| t.key == "unreclaimable").unwrap().bytes,
            Some(113 * MIB - 4096 - 32 * MIB)
        );
    }

    #[test]
    fn a_missing_stat_leaves_the_remainder_unknown_not_zero() {
        let mut s = sample(Version::V2, MIB, "");
        s.stat =
            Err(memscope_kernel::ReadError::Gone { path: "/sys/fs/cgroup/pod/memory.stat".into() }.into());
        let l = build(&s, &[]);
        assert_eq!(l.remainder_bytes, None);
        assert!(l.lines.iter().all(|x| x.bytes.is_none() && x.unavailable.is_some()));
        assert_eq!(l.tools.iter().find(|t| t.key == "working_set").unwrap().bytes, None);
    }

    #[test]
    fn names_resolve_to_cgroups() {
        let paths: Vec<String> = [
            "/",
            "/system.slice",
            "/system.slice/nginx.service",
            "/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b.slice",
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b.slice/cri-containerd-fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210.scope",
            "/docker/aaaa56789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "/docker/aaaa00000abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(resolve(&paths, "/system.slice").unwrap(), "/system.slice");
        assert_eq!(resolve(&paths, "nginx.service").unwrap(), "/system.slice/nginx.service");
        assert!(resolve(&paths, "0123456789ab").unwrap().contains("docker-0123456789abcdef"));
        let pod = resolve(&paths, "5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b").unwrap();
        assert!(pod.ends_with("pod5f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b.slice"), "{pod}");
        assert!(resolve(&paths, "fedcba98").unwrap().ends_with(".scope"));
        assert!(matches!(resolve(&paths, "aaaa"), Err(Unresolved::Ambiguous(v)) if v.len() == 2));
        assert_eq!(resolve(&paths, "aaaa5"), Ok(paths[6].clone()));
        assert_eq!(resolve(&paths, "/nope"), Err(Unresolved::NoMatch));
        assert_eq!(resolve(&paths, "sshd.service"), Err(Unresolved::NoMatch));
        assert_eq!(resolve(&paths, ""), Err(Unresolved::NoMatch));
    }
}
