//! `memscope oom`: each OOM kill of a kernel log explained in plain words.
//!
//! ```text
//!  OomLog (parsed reports) ──explain──▶ Kill { when, victim, scope, limit,
//!                                             held (ledger words), top tasks,
//!                                             prevention, summary lines }
//! ```
//!
//! Figures come from the report only (the kernel's own numbers at the
//! moment of the kill). Pages become bytes with the page size of the
//! machine that printed the report: derived from the report itself where it
//! prints one figure both in pages and in kB, else the reading host's, else
//! 4 KiB, and the view says which ([`Kill::page_size_source`]).

use memscope_kernel::parse::oom::{MemInfo, MemcgCounter, OomLog, OomReport, Stamp};
use serde::Serialize;

use crate::fmt_bytes;
use crate::ledger;

/// What `memscope oom` shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OomView {
    /// Where the log came from (`/dev/kmsg`, a file, `-`, a tree's `dev/kmsg`).
    pub source: String,
    /// Forms of its lines (`kmsg`, `dmesg`, `dmesg -T`, `journal`, `plain`).
    pub formats: Vec<String>,
    /// Kills found in the log.
    pub kills_found: usize,
    /// The kills shown, oldest first: the latest, or all with `--all`.
    pub kills: Vec<Kill>,
    /// Why the log could not be read (then `kills` is empty).
    pub unavailable: Option<String>,
    /// OOM kills counted by memory cgroups (the fallback without the log).
    pub cgroup_counts: Vec<CgroupOomCount>,
    /// Remarks about the whole view.
    pub notes: Vec<String>,
}

/// A memory cgroup's own count of OOM kills (v2 `memory.events`
/// `oom_kill`, v1 `memory.oom_control` `oom_kill`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupOomCount {
    /// Cgroup path.
    pub path: String,
    /// Processes killed by the OOM killer in it (v2: and below).
    pub oom_kills: u64,
    /// Its memory limit now (`None`: no limit or unreadable, see `limit`).
    pub limit_bytes: Option<u64>,
    /// The limit as text: bytes, `max`, or why it is unknown.
    pub limit: String,
    /// Its highest usage (v2 `memory.peak`, v1 `max_usage_in_bytes`).
    pub peak_bytes: Option<u64>,
}

/// When a kill happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct When {
    /// Microseconds since boot (kmsg, dmesg).
    pub since_boot_usec: Option<u64>,
    /// Seconds since the epoch: boot time plus the stamp (live log or a
    /// capture of it; the stamp's clock stops during suspend).
    pub unix_seconds: Option<u64>,
    /// Wall-clock time as the log printed it (`dmesg -T`, journal).
    pub wall: Option<String>,
}

impl When {
    fn from_stamp(s: &Stamp, boot: Option<u64>) -> When {
        When {
            since_boot_usec: s.since_boot_usec,
            unix_seconds: boot.zip(s.since_boot_usec).map(|(b, u)| b + u / 1_000_000),
            wall: s.wall.clone(),
        }
    }

    /// In words: the absolute time where known, else time since boot.
    pub fn text(&self) -> String {
        if let Some(t) = self.unix_seconds {
            return fmt_unix_utc(t);
        }
        if let Some(w) = &self.wall {
            return w.clone();
        }
        match self.since_boot_usec {
            Some(u) => format!("{:.1} s after boot", u as f64 / 1e6),
            None => "at an unknown time (the log has no time stamps)".into(),
        }
    }
}

/// The process the kernel killed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VictimView {
    /// pid.
    pub pid: u32,
    /// Command name (15 characters at most).
    pub name: String,
    /// uid, where printed.
    pub uid: Option<u32>,
    /// Resident memory: anon + file + shmem.
    pub rss_bytes: Option<u64>,
    /// Anonymous resident memory.
    pub anon_rss_bytes: Option<u64>,
    /// File-backed resident memory.
    pub file_rss_bytes: Option<u64>,
    /// Shared memory resident.
    pub shmem_rss_bytes: Option<u64>,
    /// Virtual size.
    pub total_vm_bytes: Option<u64>,
    /// Page tables.
    pub pgtables_bytes: Option<u64>,
    /// Its `oom_score_adj`.
    pub oom_score_adj: Option<i32>,
    /// True when `oom_reaper` reported freeing its memory.
    pub reaped: bool,
}

/// Which limit the kill enforced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Scope {
    /// `memcg`, `global`, `cpuset`, `mempolicy`, or `unknown`.
    pub kind: String,
    /// The kernel's constraint name (`CONSTRAINT_MEMCG`), where printed.
    pub constraint: Option<String>,
    /// The memory cgroup whose limit was hit (memcg OOM).
    pub cgroup: Option<String>,
    /// The victim's memory cgroup.
    pub task_cgroup: Option<String>,
}

/// A memcg counter at the time of the kill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CounterView {
    /// `memory`, `memory+swap`, `swap`, `kmem`.
    pub name: String,
    /// Usage.
    pub usage_bytes: u64,
    /// Limit, `None` for no limit.
    pub limit_bytes: Option<u64>,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// One line of what held memory, in the ledger's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    /// Ledger category key (`anon`, `file`, `shmem`, …).
    pub category: String,
    /// Its label.
    pub label: String,
    /// Bytes.
    pub bytes: u64,
    /// The report's field(s) it comes from.
    pub source: String,
}

/// Free memory against the watermarks (global OOM; sums over zones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Watermarks {
    /// Free.
    pub free_bytes: u64,
    /// Sum of the zones' `min` watermarks.
    pub min_bytes: u64,
    /// Sum of `low`.
    pub low_bytes: Option<u64>,
    /// Sum of `high`.
    pub high_bytes: Option<u64>,
}

/// Swap at the time of the kill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwapView {
    /// Total swap.
    pub total_bytes: u64,
    /// Free swap.
    pub free_bytes: u64,
}

/// A process of the task table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskView {
    /// pid.
    pub pid: u32,
    /// Command name.
    pub name: String,
    /// uid.
    pub uid: Option<u32>,
    /// Resident memory.
    pub rss_bytes: u64,
    /// Swapped out.
    pub swap_bytes: Option<u64>,
    /// Page tables.
    pub pgtables_bytes: Option<u64>,
    /// `oom_score_adj`.
    pub oom_score_adj: Option<i32>,
    /// True for the killed process.
    pub victim: bool,
}

/// One kill, explained.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Kill {
    /// 1-based number in the log, oldest first.
    pub number: usize,
    /// Lines of the log it spans.
    pub first_line: usize,
    /// Last line.
    pub last_line: usize,
    /// When.
    pub when: When,
    /// The process killed.
    pub victim: Option<VictimView>,
    /// The cgroup killed whole for `memory.oom.group` (v2).
    pub oom_group: Option<String>,
    /// The other processes killed with the victim for `memory.oom.group`.
    pub group_killed: Vec<VictimView>,
    /// The task whose allocation failed: command name.
    pub trigger_comm: Option<String>,
    /// Its pid.
    pub trigger_pid: Option<u32>,
    /// The failed allocation's GFP flags (`GFP_KERNEL`), else mask.
    pub gfp: Option<String>,
    /// Its order (2^order pages).
    pub order: Option<u32>,
    /// The kernel release printing it.
    pub kernel_release: Option<String>,
    /// Which limit.
    pub scope: Scope,
    /// The memcg counters (memcg OOM).
    pub counters: Vec<CounterView>,
    /// The counter that was at its limit.
    pub limit_hit: Option<CounterView>,
    /// What held the memory, largest first.
    pub held: Vec<Held>,
    /// Free memory against the watermarks (global OOM).
    pub watermarks: Option<Watermarks>,
    /// Swap (global OOM; memcg OOM gives its swap counter in `counters`).
    pub swap: Option<SwapView>,
    /// Largest processes of the task table by resident memory.
    pub top_tasks: Vec<TaskView>,
    /// Processes in the task table.
    pub tasks_listed: usize,
    /// The bytes per page used for page counts.
    pub page_size_bytes: u64,
    /// `report` (derived from the report), `host`, or `assumed`.
    pub page_size_source: String,
    /// The answer in plain words, a sentence per line.
    pub summary: Vec<String>,
    /// What would have prevented it.
    pub prevention: Vec<String>,
    /// Parts of the report the log does not hold.
    pub missing: Vec<String>,
}

/// How many processes of the task table are shown.
pub const TOP_TASKS: usize = 5;

/// Explain the reports of a log: the latest, or every one with `all`.
/// `boot_time_seconds` only for a log of the running boot (live or its
/// capture); `host_page_size` when the report comes from the reading host.
pub fn build(
    log: &OomLog,
    source: &str,
    boot_time_seconds: Option<u64>,
    host_page_size: Option<u64>,
    all: bool,
) -> OomView {
    let explained: Vec<Kill> = log
        .reports
        .iter()
        .enumerate()
        .map(|(i, r)| explain(i + 1, r, boot_time_seconds, host_page_size))
        .collect();
    let kills_found = explained.len();
    let kills = if all { explained } else { explained.into_iter().last().into_iter().collect() };
    let mut notes = Vec::new();
    if kills_found == 0 {
        notes.push(format!("No OOM kill in this log ({} message lines read).", log.lines));
    } else if !all && kills_found > 1 {
        notes.push(format!(
            "{kills_found} OOM kills in this log; the latest is shown (--all shows every one)."
        ));
    }
    OomView {
        source: source.to_string(),
        formats: log.formats.iter().map(|f| f.name().to_string()).collect(),
        kills_found,
        kills,
        unavailable: None,
        cgroup_counts: Vec::new(),
        notes,
    }
}

/// The view when the log cannot be read: the reason, and the cgroups' own
/// counts of OOM kills.
pub fn unavailable(source: &str, reason: String, cgroup_counts: Vec<CgroupOomCount>) -> OomView {
    let mut notes = Vec::new();
    if cgroup_counts.is_empty() {
        notes.push("No memory cgroup counted an OOM kill (or none could be read).".into());
    } else {
        notes.push(
            "Memory cgroups count their OOM kills without the log: which cgroups lost processes is known, \
             not which processes nor why."
                .into(),
        );
    }
    OomView { source: source.into(), unavailable: Some(reason), cgroup_counts, notes, ..Default::default() }
}

/// Page size: from a figure the report prints both in pages and in kB.
fn derive_page_size(r: &OomReport) -> Option<u64> {
    let snap = |bytes: u64, pages: u64| -> Option<u64> {
        if pages == 0 || bytes == 0 {
            return None;
        }
        let ps = bytes / pages;
        [4096u64, 16384, 65536].into_iter().find(|c| ps.abs_diff(*c) * 50 < *c)
    };
    if let Some(mi) = &r.mem_info {
        for key in ["active_anon", "inactive_anon", "shmem", "mapped"] {
            let bytes: u64 = mi.nodes.iter().filter_map(|n| n.bytes.get(key)).sum();
            if let Some(ps) = mi.pages.get(key).and_then(|p| snap(bytes, *p)) {
                return Some(ps);
            }
        }
    }
    let v = r.victim.as_ref()?;
    let row = r.tasks.as_ref()?.rows.iter().find(|t| t.pid == v.pid)?;
    let bytes = v.anon_rss_bytes? + v.file_rss_bytes.unwrap_or(0) + v.shmem_rss_bytes.unwrap_or(0);
    snap(bytes, row.rss_pages?)
}

fn counter_view(c: &MemcgCounter) -> CounterView {
    CounterView {
        name: c.name.clone(),
        usage_bytes: c.usage_bytes,
        limit_bytes: c.limit.value(),
        failcnt: c.failcnt,
    }
}

fn label(key: &str) -> String {
    ledger::category(key).map(|c| c.label.to_string()).unwrap_or_else(|| key.to_string())
}

fn held_global(mi: &MemInfo, page: u64) -> Vec<Held> {
    let p = |k: &str| mi.pages.get(k).copied();
    let node_sum = |k: &str| -> Option<u64> {
        let v: Vec<u64> = mi.nodes.iter().filter_map(|n| n.bytes.get(k).copied()).collect();
        (!v.is_empty()).then(|| v.iter().sum())
    };
    let zone_sum = |k: &str| -> Option<u64> {
        let v: Vec<u64> = mi.zones.iter().filter_map(|z| z.bytes.get(k).copied()).collect();
        (!v.is_empty()).then(|| v.iter().sum())
    };
    let mut out = Vec::new();
    let mut push = |key: &str, bytes: Option<u64>, source: &str| {
        if let Some(b) = bytes {
            out.push(Held { category: key.into(), label: label(key), bytes: b, source: source.into() });
        }
    };
    let shmem = p("shmem");
    // shmem pages sit on the anon LRU (they are swap-backed).
    let anon_lru = p("active_anon").zip(p("inactive_anon")).map(|(a, b)| a + b);
    push(
        "anon",
        anon_lru.map(|a| a.saturating_sub(shmem.unwrap_or(0)) * page),
        "active_anon + inactive_anon − shmem",
    );
    push(
        "file",
        p("active_file").zip(p("inactive_file")).map(|(a, b)| (a + b) * page),
        "active_file + inactive_file",
    );
    push("shmem", shmem.map(|s| s * page), "shmem");
    push("slab_reclaimable", p("slab_reclaimable").map(|s| s * page), "slab_reclaimable");
    push("slab_unreclaimable", p("slab_unreclaimable").map(|s| s * page), "slab_unreclaimable");
    push("page_tables", p("pagetables").map(|s| s * page), "pagetables");
    push("sec_page_tables", p("sec_pagetables").filter(|v| *v > 0).map(|s| s * page), "sec_pagetables");
    push(
        "kernel_stack",
        node_sum("kernel_stack").or_else(|| zone_sum("kernel_stack")),
        "kernel_stack (Node or zone lines)",
    );
    push(
        "kernel_misc_reclaimable",
        p("kernel_misc_reclaimable").filter(|v| *v > 0).map(|s| s * page),
        "kernel_misc_reclaimable",
    );
    push("free", p("free").map(|s| s * page), "free");
    out.sort_by_key(|h| std::cmp::Reverse(h.bytes));
    out
}

fn held_memcg(r: &OomReport) -> Vec<Held> {
    let Some(s) = r.memcg_stats.first() else { return Vec::new() };
    let mut out = Vec::new();
    // v2 memory.stat names, then v1's (rss, cache; cache includes shmem).
    let v2 = s.get("anon").is_some();
    let rows: &[(&str, &str)] = if v2 {
        &[
            ("anon", "anon"),
            ("file", "file"),
            ("shmem", "shmem"),
            ("slab_reclaimable", "slab_reclaimable"),
            ("slab_unreclaimable", "slab_unreclaimable"),
            ("kernel_stack", "kernel_stack"),
            ("page_tables", "pagetables"),
            ("socket_buffers", "sock"),
            ("percpu", "percpu"),
        ]
    } else {
        &[("anon", "rss"), ("file", "cache"), ("shmem", "shmem")]
    };
    for (key, field) in rows {
        let Some(mut v) = s.get(field) else { continue };
        let mut source = format!("memory.stat {field}");
        if !v2 && *key == "file" {
            v = v.saturating_sub(s.get("shmem").unwrap_or(0));
            source = "memory.stat cache − shmem".to_string();
        }
        out.push(Held { category: (*key).into(), label: label(key), bytes: v, source });
    }
    if !v2 && let Some(k) = r.memcg_counters.iter().find(|c| c.name == "kmem") {
        out.push(Held {
            category: "kernel".into(),
            label: "kernel memory (kmem)".into(),
            bytes: k.usage_bytes,
            source: "kmem: usage".into(),
        });
    }
    out.retain(|h| h.bytes > 0);
    out.sort_by_key(|h| std::cmp::Reverse(h.bytes));
    out
}

/// Explain one report.
pub fn explain(number: usize, r: &OomReport, boot: Option<u64>, host_page_size: Option<u64>) -> Kill {
    let (page, page_src) = match (derive_page_size(r), host_page_size) {
        (Some(p), _) => (p, "report"),
        (None, Some(p)) => (p, "host"),
        (None, None) => (4096, "assumed"),
    };
    // The kill's own line when it has a time, else the report's first.
    let stamp = r
        .victim
        .as_ref()
        .map(|v| &v.stamp)
        .filter(|s| s.since_boot_usec.is_some() || s.wall.is_some())
        .unwrap_or(&r.stamp);
    let when = When::from_stamp(stamp, boot);
    let view = |v: &memscope_kernel::parse::oom::Victim, uid: Option<u32>, reaped: bool| VictimView {
        pid: v.pid,
        name: v.name.clone(),
        uid: v.uid.or(uid),
        rss_bytes: v
            .anon_rss_bytes
            .map(|a| a + v.file_rss_bytes.unwrap_or(0) + v.shmem_rss_bytes.unwrap_or(0)),
        anon_rss_bytes: v.anon_rss_bytes,
        file_rss_bytes: v.file_rss_bytes,
        shmem_rss_bytes: v.shmem_rss_bytes,
        total_vm_bytes: v.total_vm_bytes,
        pgtables_bytes: v.pgtables_bytes,
        oom_score_adj: v
            .oom_score_adj
            .or_else(|| r.tasks.as_ref()?.rows.iter().find(|t| t.pid == v.pid)?.oom_score_adj),
        reaped,
    };
    let victim =
        r.victim.as_ref().map(|v| view(v, r.constraint.as_ref().and_then(|c| c.uid), r.reaped.is_some()));
    let group_killed: Vec<VictimView> = r.group_killed.iter().map(|v| view(v, None, false)).collect();
    let constraint = r.constraint.as_ref().map(|c| c.kind.clone());
    let kind = match (constraint.as_deref(), r.is_memcg()) {
        (Some("CONSTRAINT_MEMCG"), _) | (None, Some(true)) => "memcg",
        (Some("CONSTRAINT_NONE"), _) | (None, Some(false)) => "global",
        (Some("CONSTRAINT_CPUSET"), _) => "cpuset",
        (Some("CONSTRAINT_MEMORY_POLICY"), _) => "mempolicy",
        _ => "unknown",
    };
    let scope = Scope {
        kind: kind.into(),
        constraint,
        cgroup: r
            .constraint
            .as_ref()
            .and_then(|c| c.oom_memcg.clone())
            .or_else(|| r.task_in.as_ref().map(|t| t.1.clone())),
        task_cgroup: r
            .constraint
            .as_ref()
            .and_then(|c| c.task_memcg.clone())
            .or_else(|| r.task_in.as_ref().map(|t| t.0.clone())),
    };
    let counters: Vec<CounterView> = r.memcg_counters.iter().map(counter_view).collect();
    // The counter closest to its limit: the one the charge failed against.
    let limit_hit = counters
        .iter()
        .filter(|c| ["memory", "memory+swap"].contains(&c.name.as_str()))
        .filter_map(|c| Some((c, c.limit_bytes?)))
        .filter(|(c, l)| *l > 0 && c.usage_bytes.saturating_mul(100) >= l.saturating_mul(95))
        .max_by(|(a, la), (b, lb)| {
            (a.usage_bytes as f64 / *la as f64).total_cmp(&(b.usage_bytes as f64 / *lb as f64))
        })
        .map(|(c, _)| c.clone());
    let held = match (&r.mem_info, kind) {
        (_, "memcg") => held_memcg(r),
        (Some(mi), _) => held_global(mi, page),
        (None, _) => Vec::new(),
    };
    let watermarks = r.mem_info.as_ref().and_then(|mi| {
        let sum = |k: &str| -> Option<u64> {
            let v: Vec<u64> = mi.zones.iter().filter_map(|z| z.bytes.get(k).copied()).collect();
            (!v.is_empty()).then(|| v.iter().sum())
        };
        Some(Watermarks {
            free_bytes: mi.pages.get("free").map(|p| p * page).or_else(|| sum("free"))?,
            min_bytes: sum("min")?,
            low_bytes: sum("low"),
            high_bytes: sum("high"),
        })
    });
    let swap = r
        .mem_info
        .as_ref()
        .and_then(|mi| Some(SwapView { total_bytes: mi.total_swap_bytes?, free_bytes: mi.free_swap_bytes? }));
    let mut top_tasks: Vec<TaskView> = r
        .tasks
        .iter()
        .flat_map(|t| &t.rows)
        .map(|t| TaskView {
            pid: t.pid,
            name: t.name.clone(),
            uid: t.uid,
            rss_bytes: t.rss_pages.unwrap_or(0) * page,
            swap_bytes: t.swapents.map(|s| s * page),
            pgtables_bytes: t.pgtables_bytes.or(t.nr_ptes.map(|n| n * page)),
            oom_score_adj: t.oom_score_adj,
            victim: victim.as_ref().is_some_and(|v| v.pid == t.pid),
        })
        .collect();
    let tasks_listed = top_tasks.len();
    top_tasks.sort_by(|a, b| b.rss_bytes.cmp(&a.rss_bytes).then(a.pid.cmp(&b.pid)));
    top_tasks.truncate(TOP_TASKS);

    let mut k = Kill {
        number,
        first_line: r.first_line,
        last_line: r.last_line,
        when,
        victim,
        oom_group: r.oom_group.clone(),
        group_killed,
        trigger_comm: r.trigger.as_ref().map(|t| t.comm.clone()),
        trigger_pid: r.trigger_pid,
        gfp: r.trigger.as_ref().and_then(|t| t.gfp_flags.clone().or(t.gfp_mask.map(|m| format!("{m:#x}")))),
        order: r.trigger.as_ref().and_then(|t| t.order),
        kernel_release: r.kernel_release.clone(),
        scope,
        counters,
        limit_hit,
        held,
        watermarks,
        swap,
        top_tasks,
        tasks_listed,
        page_size_bytes: page,
        page_size_source: page_src.into(),
        summary: Vec::new(),
        prevention: Vec::new(),
        missing: r.missing.clone(),
    };
    k.summary = summary(&k);
    k.prevention = prevention(&k, r);
    k
}

fn b(v: u64) -> String {
    fmt_bytes(v as i64)
}

fn summary(k: &Kill) -> Vec<String> {
    let mut s = Vec::new();
    let who = match &k.victim {
        Some(v) => {
            let size = v.rss_bytes.map(|r| format!(", resident {}", b(r))).unwrap_or_default();
            let parts = match (v.anon_rss_bytes, v.file_rss_bytes, v.shmem_rss_bytes) {
                (Some(a), Some(f), Some(sh)) => format!(" (anon {}, file {}, shmem {})", b(a), b(f), b(sh)),
                _ => String::new(),
            };
            format!("the kernel killed {} (pid {}){size}{parts}", v.name, v.pid)
        }
        None => "the kernel's OOM killer ran (the line naming the killed process is not in the log)".into(),
    };
    s.push(format!("{}: {who}.", capitalise(&k.when.text())));
    let why = match k.scope.kind.as_str() {
        "memcg" => {
            let cg = k.scope.cgroup.as_deref().unwrap_or("(a cgroup the log does not name)");
            match &k.limit_hit {
                Some(c) => format!(
                    "Memory cgroup {cg} reached its {} limit: usage {} of {} (limit hit {} times).",
                    c.name,
                    b(c.usage_bytes),
                    c.limit_bytes.map(b).unwrap_or_else(|| "no limit".into()),
                    c.failcnt
                ),
                None => format!("Memory cgroup {cg} reached its limit."),
            }
        }
        "global" => {
            let mut w =
                "The whole machine ran out of memory (a global OOM, no cgroup limit involved)".to_string();
            if let Some(m) = &k.watermarks {
                w += &format!(": free {} against a min watermark of {}", b(m.free_bytes), b(m.min_bytes));
            }
            w + "."
        }
        "cpuset" => "The memory nodes of the task's cpuset ran out (CONSTRAINT_CPUSET).".into(),
        "mempolicy" => {
            "The memory nodes allowed by the task's NUMA policy ran out (CONSTRAINT_MEMORY_POLICY).".into()
        }
        _ => "The log does not say whether a cgroup limit or the whole machine ran out.".into(),
    };
    s.push(why);
    if let Some(g) = &k.oom_group {
        let names: Vec<String> =
            k.group_killed.iter().map(|v| format!("{} (pid {})", v.name, v.pid)).collect();
        let others = if names.is_empty() { String::new() } else { format!(": also {}", names.join(", ")) };
        s.push(format!("memory.oom.group is set on {g}, so every process in it was killed{others}."));
    }
    if let (Some(c), Some(pid)) = (&k.trigger_comm, k.trigger_pid) {
        let alloc = match (&k.gfp, k.order) {
            (Some(g), Some(o)) => format!(" allocating 2^{o} page(s), {g}"),
            _ => String::new(),
        };
        if k.victim.as_ref().is_none_or(|v| v.pid != pid) {
            s.push(format!("The allocation that failed was by {c} (pid {pid}){alloc}."));
        }
    }
    if !k.held.is_empty() {
        let items: Vec<String> = k
            .held
            .iter()
            .filter(|h| h.category != "free")
            .take(4)
            .map(|h| format!("{} {}", h.label, b(h.bytes)))
            .collect();
        s.push(format!("Memory was held by: {}.", items.join(", ")));
    }
    if let Some(t) = k.top_tasks.first() {
        let mark = if t.victim { " (the victim)" } else { "" };
        s.push(format!(
            "Largest process of the {} listed: {} (pid {}) with {} resident{mark}.",
            k.tasks_listed,
            t.name,
            t.pid,
            b(t.rss_bytes)
        ));
    }
    if !k.missing.is_empty() {
        s.push(format!("Not in the log (the ring wrapped, or the log was cut): {}.", k.missing.join(", ")));
    }
    s
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn prevention(k: &Kill, r: &OomReport) -> Vec<String> {
    let mut p = Vec::new();
    let need = k.victim.as_ref().and_then(|v| v.rss_bytes);
    match k.scope.kind.as_str() {
        "memcg" => {
            let cg = k.scope.cgroup.clone().unwrap_or_else(|| "the cgroup".into());
            let v2 = r.memcg_stats.first().is_some_and(|s| s.get("anon").is_some())
                || r.memcg_counters.iter().any(|c| c.name == "swap");
            let knob = if v2 { "memory.max" } else { "memory.limit_in_bytes" };
            if let Some(c) = &k.limit_hit {
                let knob = if c.name == "memory+swap" { "memory.memsw.limit_in_bytes" } else { knob };
                p.push(format!(
                    "Raise {knob} of {cg} above {} (usage at the kill; the workload wanted more), or make it need less.",
                    b(c.usage_bytes)
                ));
            } else {
                p.push(format!("Raise the memory limit of {cg}, or make the workload need less."));
            }
            if k.counters.iter().any(|c| c.name == "swap" && c.limit_bytes == Some(0)) {
                p.push(
                    "Its swap limit is 0 (memory.swap.max): allowing swap would let cold anonymous memory move out."
                        .into(),
                );
            }
        }
        "global" => {
            if let Some(s) = &k.swap {
                if s.total_bytes == 0 {
                    p.push(
                        "The machine has no swap: swap would have given room for cold anonymous memory."
                            .into(),
                    );
                } else if s.free_bytes == 0 {
                    p.push(format!(
                        "All {} of swap was in use: more swap, or less memory demand.",
                        b(s.total_bytes)
                    ));
                }
            }
            if let Some(n) = need {
                let cg = k.scope.task_cgroup.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
                p.push(format!(
                    "More RAM, or a memory limit on the victim's cgroup{cg} so that the workload, not the \
                     whole machine, runs out: it held {} when it was killed.",
                    b(n)
                ));
            }
            if let Some(sh) = k.held.iter().find(|h| h.category == "shmem" && h.bytes >= 64 << 20) {
                p.push(format!(
                    "tmpfs / shared memory held {}: files in /dev/shm or tmpfs count as memory.",
                    b(sh.bytes)
                ));
            }
        }
        _ => {}
    }
    if let Some(v) = &k.victim {
        match v.oom_score_adj {
            Some(adj) if adj > 0 => p.push(format!(
                "{} had oom_score_adj {adj}, which made it the preferred victim.",
                v.name
            )),
            Some(adj) if adj <= -1000 => {}
            _ => p.push(format!(
                "To protect {} set its oom_score_adj lower (-1000 exempts it); another process is killed instead.",
                v.name
            )),
        }
    }
    p
}

/// `2026-12-04 18:10:05 UTC` from seconds since the epoch (proleptic
/// Gregorian calendar; H. Hinnant's `civil_from_days`).
pub fn fmt_unix_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use memscope_kernel::parse::oom::parse_log;

    use super::*;

    const MIB: u64 = 1 << 20;

    fn fixture(name: &str) -> OomLog {
        let path = format!("{}/../../tests/fixtures/{name}/log", env!("CARGO_MANIFEST_DIR"));
        parse_log(&std::fs::read_to_string(&path).unwrap())
    }

    #[test]
    fn unix_times_format_as_utc() {
        assert_eq!(fmt_unix_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(fmt_unix_utc(1_709_634_067), "2024-03-05 10:21:07 UTC");
        assert_eq!(fmt_unix_utc(951_782_400), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn a_v1_memcg_kill_names_the_cgroup_limit_and_the_victim() {
        let log = fixture("oom-6.18-memcg-v1-kmsg");
        let v = build(&log, "test", Some(1_764_870_000), None, false);
        let k = &v.kills[0];
        assert_eq!(k.when.unix_seconds, Some(1_764_870_000 + 2446));
        assert_eq!((k.scope.kind.as_str(), k.scope.cgroup.as_deref()), ("memcg", Some("/memscope/run-9726")));
        let hit = k.limit_hit.as_ref().unwrap();
        assert_eq!((hit.name.as_str(), hit.limit_bytes, hit.failcnt), ("memory", Some(64 * MIB), 19));
        let victim = k.victim.as_ref().unwrap();
        assert_eq!((victim.pid, victim.rss_bytes), (9728, Some((65280 + 2028) * 1024)));
        assert_eq!((k.page_size_bytes, k.page_size_source.as_str()), (4096, "report"));
        assert_eq!(k.held[0].category, "anon");
        assert_eq!(k.held[0].bytes, 66912256);
        assert_eq!(k.top_tasks[0].rss_bytes, 16827 * 4096);
        assert!(k.top_tasks[0].victim);
        let text = k.summary.join(" ");
        assert!(text.contains("2025-12-04"), "{text}");
        assert!(text.contains("killed memscope-worklo (pid 9728), resident 65.7 MiB"), "{text}");
        assert!(
            text.contains(
                "Memory cgroup /memscope/run-9726 reached its memory limit: usage 64.0 MiB of 64.0 MiB"
            ),
            "{text}"
        );
        let prevent = k.prevention.join(" ");
        assert!(
            prevent.contains("Raise memory.limit_in_bytes of /memscope/run-9726 above 64.0 MiB"),
            "{prevent}"
        );
    }

    #[test]
    fn a_global_kill_is_told_in_ledger_words_with_watermarks_and_swap() {
        let log = fixture("oom-6.1-global-interleaved");
        let k = &build(&log, "test", None, None, false).kills[0];
        assert_eq!(k.scope.kind, "global");
        let held = |c: &str| k.held.iter().find(|h| h.category == c).map(|h| h.bytes);
        assert_eq!(held("anon"), Some((6400 + 3830120 - 262313) * 4096));
        assert_eq!(held("shmem"), Some(262313 * 4096));
        assert_eq!(held("kernel_stack"), Some(5184 * 1024));
        assert_eq!(held("page_tables"), Some(9511 * 4096));
        let w = k.watermarks.as_ref().unwrap();
        assert_eq!((w.free_bytes, w.min_bytes), (35611 * 4096, (64 + 12260 + 54580) * 1024));
        assert_eq!(k.swap, Some(SwapView { total_bytes: 0, free_bytes: 0 }));
        assert_eq!(k.when.text(), "86123.2 s after boot");
        let p = k.prevention.join(" ");
        assert!(p.contains("no swap"), "{p}");
        assert!(p.contains("oom_score_adj 1000"), "{p}");
        assert!(p.contains("tmpfs / shared memory held 1.0 GiB"), "{p}");
        assert_eq!(k.top_tasks.len(), TOP_TASKS);
        assert_eq!(k.top_tasks[0].pid, 7784);
    }

    #[test]
    fn a_v2_memcg_kill_with_swap_max_0_suggests_swap() {
        let k = &build(&fixture("oom-5.10-memcg-v2-kmsg"), "t", None, None, false).kills[0];
        let p = k.prevention.join(" ");
        assert!(p.contains("Raise memory.max of /system.slice/webapp.service above 1.0 GiB"), "{p}");
        assert!(p.contains("memory.swap.max"), "{p}");
        assert_eq!(k.held.iter().find(|h| h.category == "kernel_stack").map(|h| h.bytes), Some(393216));
    }

    #[test]
    fn latest_by_default_all_on_request_and_a_note_when_none() {
        let log = fixture("oom-truncated");
        let v = build(&log, "t", None, None, false);
        assert_eq!((v.kills_found, v.kills.len(), v.kills[0].number), (2, 1, 2));
        assert!(v.notes[0].contains("--all"));
        assert_eq!(build(&log, "t", None, None, true).kills.len(), 2);
        let none = build(&parse_log("[ 1.0] hello\n"), "t", None, None, false);
        assert!(none.kills.is_empty());
        assert_eq!(none.notes, ["No OOM kill in this log (1 message lines read)."]);
        let k = &v.kills[0];
        assert!(k.summary.iter().any(|s| s.contains("Not in the log")), "{:?}", k.summary);
        assert!(k.summary[0].contains("line naming the killed process is not in the log"), "{:?}", k.summary);
    }

    #[test]
    fn an_oom_group_kill_names_every_process_killed() {
        let k = &build(&fixture("oom-6.6-memcg-oom-group"), "t", None, None, false).kills[0];
        assert_eq!(k.group_killed.len(), 1);
        let text = k.summary.join(" ");
        assert!(text.contains("memory.oom.group is set on /kubepods.slice/"), "{text}");
        assert!(text.contains("so every process in it was killed: also python3 (pid 30112)."), "{text}");
        assert_eq!(k.held.iter().find(|h| h.category == "page_tables").map(|h| h.bytes), Some(1425408));
    }

    #[test]
    fn old_v1_memcg_kill_uses_task_in_and_the_memsw_limit() {
        let k = &build(&fixture("oom-3.10-rhel7-memcg"), "t", None, None, false).kills[0];
        assert_eq!(k.scope.cgroup.as_deref(), Some("/docker/4f2a9c"));
        assert_eq!(k.limit_hit.as_ref().map(|c| c.name.as_str()), Some("memory"));
        assert_eq!(k.when.text(), "Tue Mar 5 10:21:07 2024");
        assert_eq!(k.held.iter().find(|h| h.category == "file").map(|h| h.bytes), Some(1120 * 1024));
    }
}
