//! The OOM killer's report, read back from the kernel log.
//!
//! One kill prints many log records (mm/oom_kill.c `dump_header`,
//! `dump_tasks`, `__oom_kill_process`; mm/memcontrol.c
//! `mem_cgroup_print_oom_meminfo`; mm/show_mem.c `show_free_areas`):
//!
//! ```text
//! stress invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0   [`Trigger`]
//! CPU: 1 PID: 9728 Comm: stress Not tainted 6.1.0 #1   + call trace (skipped)
//! memory: usage 65536kB, limit 65536kB, failcnt 19          memcg OOM  [`MemcgCounter`]
//! Memory cgroup stats for /x:  + memory.stat lines          memcg OOM  [`MemcgStats`]
//! Mem-Info: + Node/zone lines, swap, pages RAM              global OOM [`MemInfo`]
//! Tasks state (memory values in pages): + task table                   [`TaskTable`]
//! oom-kill:constraint=CONSTRAINT_MEMCG,…,oom_memcg=/x,task_memcg=/x,task=stress,pid=9728,uid=0 (≥4.19)
//! Memory cgroup out of memory: Killed process 9728 (stress) total-vm:…kB, anon-rss:…kB, …  [`Victim`]
//! oom_reaper: reaped process 9728 (stress), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB  [`Reaped`]
//! ```
//!
//! Formats changed over the years, and each form is read:
//! - 3.x/4.x before 4.19: `Task in /x killed as a result of limit of /y`,
//!   `Memory cgroup stats for /x: cache:0KB rss:…KB …` on one line per
//!   cgroup, `Kill process N (x) score S or sacrifice child` then
//!   `Killed process N (x) total-vm:…`; the trigger line of 4.9-4.18 carries
//!   `nodemask=`; 3.x prints `x cpuset=/ mems_allowed=0` after it.
//! - the task table's columns: `nr_ptes` (3.x), `nr_ptes nr_pmds` (4.x),
//!   `pgtables_bytes` (4.15+), and `rss_anon rss_file rss_shmem` (6.8+); it
//!   is read by its header, so any column order works.
//! - the victim line gained `shmem-rss` (4.5), `UID:` (5.0), `pgtables:`
//!   and `oom_score_adj:` (5.10+).
//!
//! OOM kills are serialised by `oom_lock`, so two reports never interleave;
//! other messages can (another CPU's warning, an interrupt). With
//! CONFIG_PRINTK_CALLER each line names its printer, and lines of another
//! caller are left out of a report; without, lines that are no part of a
//! report's form are skipped. A report whose start was overwritten (the
//! ring wrapped) or whose end is missing is kept with `missing` saying what
//! is not there. `show_mem` is also printed by a failed allocation
//! (`page allocation failure`) and by SysRq-m: without a task table, a
//! constraint or a victim, such a block is not a report.
//!
//! [`parse_log`] is the entry point; [`log::split_log`] reads the prefixes.

pub mod log;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use log::{LogFormat, LogLine, Stamp, split_log};

use super::cgroupfs::{Limit, V1_UNLIMITED_FLOOR};

/// Every OOM report found in a log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OomLog {
    /// Reports, oldest first.
    pub reports: Vec<OomReport>,
    /// The forms of the log's lines (each seen once, in order).
    pub formats: Vec<LogFormat>,
    /// Message lines read.
    pub lines: usize,
}

/// One OOM kill as the kernel reported it. Every part is optional: a
/// report may be truncated or from a kernel that did not print the part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OomReport {
    /// Line number (1-based) in the log of the report's first line.
    pub first_line: usize,
    /// Line number of its last line (the victim's, when it is there).
    pub last_line: usize,
    /// When it was printed (the first line's stamp).
    pub stamp: Stamp,
    /// The printer (`T<pid>`) when the log names it.
    pub caller: Option<String>,
    /// `X invoked oom-killer: …`.
    pub trigger: Option<Trigger>,
    /// The allocating task's pid from `CPU: N PID: P Comm: X …`.
    pub trigger_pid: Option<u32>,
    /// Kernel release from that line (`Not tainted 6.1.0-18-amd64`).
    pub kernel_release: Option<String>,
    /// `oom-kill:constraint=…` (4.19+).
    pub constraint: Option<Constraint>,
    /// `Task in /x killed as a result of limit of /y` (before 4.19):
    /// (task's cgroup, cgroup whose limit was hit).
    pub task_in: Option<(String, String)>,
    /// `memory: usage …kB, limit …kB, failcnt N` and its siblings.
    pub memcg_counters: Vec<MemcgCounter>,
    /// `Memory cgroup stats for /x:` blocks.
    pub memcg_stats: Vec<MemcgStats>,
    /// The `Mem-Info:` block (global OOM).
    pub mem_info: Option<MemInfo>,
    /// The task table.
    pub tasks: Option<TaskTable>,
    /// The killed process.
    pub victim: Option<Victim>,
    /// `oom_reaper: reaped process …`.
    pub reaped: Option<Reaped>,
    /// `Tasks in /x are going to be killed due to memory.oom.group set`:
    /// the cgroup whose every process is killed with the victim (4.19+).
    pub oom_group: Option<String>,
    /// The other processes killed for `memory.oom.group`.
    pub group_killed: Vec<Victim>,
    /// Parts of the report's form that the log does not hold.
    pub missing: Vec<String>,
    /// Lines inside the report that looked like a part but did not parse.
    pub malformed: Vec<super::Malformed>,
}

/// `X invoked oom-killer: gfp_mask=0x…(flags), order=N, oom_score_adj=N`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// The allocating task's command name.
    pub comm: String,
    /// The allocation's GFP mask.
    pub gfp_mask: Option<u64>,
    /// Its flags as the kernel named them (`GFP_KERNEL`), 4.8+.
    pub gfp_flags: Option<String>,
    /// Allocation order (pages = 2^order).
    pub order: Option<u32>,
    /// The allocating task's `oom_score_adj`.
    pub oom_score_adj: Option<i32>,
    /// `nodemask=` (4.9-4.18 print it here).
    pub nodemask: Option<String>,
    /// `cpuset=` from the 3.x `X cpuset=/ mems_allowed=0` line.
    pub cpuset: Option<String>,
}

/// `oom-kill:constraint=…` (mm/oom_kill.c `dump_oom_summary`, 4.19+).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    /// `CONSTRAINT_NONE`, `CONSTRAINT_CPUSET`, `CONSTRAINT_MEMORY_POLICY`,
    /// `CONSTRAINT_MEMCG`.
    pub kind: String,
    /// `nodemask=`.
    pub nodemask: Option<String>,
    /// The victim's cpuset.
    pub cpuset: Option<String>,
    /// `mems_allowed=`.
    pub mems_allowed: Option<String>,
    /// The cgroup whose limit was hit (memcg OOM).
    pub oom_memcg: Option<String>,
    /// True for `global_oom`.
    pub global_oom: bool,
    /// The victim's memory cgroup.
    pub task_memcg: Option<String>,
    /// The victim's command name.
    pub task: Option<String>,
    /// The victim's pid.
    pub pid: Option<u32>,
    /// The victim's uid.
    pub uid: Option<u32>,
}

/// `NAME: usage NkB, limit NkB, failcnt N` (`memory`, `memory+swap`,
/// `swap`, `kmem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemcgCounter {
    /// The counter's name as printed.
    pub name: String,
    /// Usage in bytes.
    pub usage_bytes: u64,
    /// The limit ("no limit" is printed as a huge number: [`Limit::Max`]).
    pub limit: Limit,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// `Memory cgroup stats for /x:` and its values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemcgStats {
    /// The cgroup path.
    pub path: String,
    /// The values in the kernel's names and order: bytes for sizes (the
    /// old one-line v1 form prints `KB`, converted here), counts for events
    /// (`pgfault`).
    pub values: Vec<(String, u64)>,
}

impl MemcgStats {
    /// A value by its kernel name.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

/// The `Mem-Info:` block (mm/show_mem.c).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemInfo {
    /// The summary in pages (`active_anon:12345`, `free:…`, `slab_reclaimable:…`).
    pub pages: BTreeMap<String, u64>,
    /// `Node N key:NkB …` lines, in bytes (4.8+).
    pub nodes: Vec<NodeLine>,
    /// `Node N ZONE free:NkB min:NkB …` lines, in bytes.
    pub zones: Vec<ZoneLine>,
    /// `Free swap  = NkB`.
    pub free_swap_bytes: Option<u64>,
    /// `Total swap = NkB`.
    pub total_swap_bytes: Option<u64>,
    /// `N total pagecache pages`.
    pub pagecache_pages: Option<u64>,
    /// `N pages in swap cache`.
    pub swapcache_pages: Option<u64>,
    /// `N pages RAM`.
    pub ram_pages: Option<u64>,
    /// `N pages reserved`.
    pub reserved_pages: Option<u64>,
}

/// `Node N key:NkB …`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeLine {
    /// Node number.
    pub node: u32,
    /// Values in bytes, kernel names.
    pub bytes: BTreeMap<String, u64>,
    /// `all_unreclaimable? yes|no`.
    pub all_unreclaimable: Option<bool>,
}

/// `Node N ZONE free:NkB min:NkB low:NkB high:NkB …`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneLine {
    /// Node number.
    pub node: u32,
    /// Zone name (`DMA`, `DMA32`, `Normal`, `Movable`).
    pub zone: String,
    /// Values in bytes, kernel names (`free`, `min`, `low`, `high`, `managed`).
    pub bytes: BTreeMap<String, u64>,
}

/// The task table (mm/oom_kill.c `dump_tasks`), memory in pages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTable {
    /// The header's column names, as printed.
    pub columns: Vec<String>,
    /// One row per process.
    pub rows: Vec<TaskRow>,
}

/// One task table row; a column this kernel does not print is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRow {
    /// pid.
    pub pid: u32,
    /// uid.
    pub uid: Option<u32>,
    /// tgid.
    pub tgid: Option<u32>,
    /// `total_vm` (pages).
    pub total_vm_pages: Option<u64>,
    /// `rss` (pages).
    pub rss_pages: Option<u64>,
    /// `rss_anon` (pages, 6.8+).
    pub rss_anon_pages: Option<u64>,
    /// `rss_file` (pages, 6.8+).
    pub rss_file_pages: Option<u64>,
    /// `rss_shmem` (pages, 6.8+).
    pub rss_shmem_pages: Option<u64>,
    /// `pgtables_bytes` (4.15+).
    pub pgtables_bytes: Option<u64>,
    /// `nr_ptes` (page-table pages, before 4.15).
    pub nr_ptes: Option<u64>,
    /// `swapents` (pages).
    pub swapents: Option<u64>,
    /// `oom_score_adj`.
    pub oom_score_adj: Option<i32>,
    /// Command name (`comm`, 15 characters at most).
    pub name: String,
    /// Columns not known here, by header name.
    pub other: BTreeMap<String, i64>,
}

/// `[Memory cgroup out of memory|Out of memory]: Killed process N (x) …`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Victim {
    /// pid.
    pub pid: u32,
    /// Command name.
    pub name: String,
    /// `Some(true)` for `Memory cgroup out of memory`, `Some(false)` for
    /// `Out of memory`, `None` when the line does not say.
    pub memcg: Option<bool>,
    /// `score S` of the older `Kill process N (x) score S or sacrifice child`.
    pub score: Option<u64>,
    /// `total-vm:`.
    pub total_vm_bytes: Option<u64>,
    /// `anon-rss:`.
    pub anon_rss_bytes: Option<u64>,
    /// `file-rss:`.
    pub file_rss_bytes: Option<u64>,
    /// `shmem-rss:`.
    pub shmem_rss_bytes: Option<u64>,
    /// `UID:`.
    pub uid: Option<u32>,
    /// `pgtables:`.
    pub pgtables_bytes: Option<u64>,
    /// `oom_score_adj:`.
    pub oom_score_adj: Option<i32>,
    /// Stamp of the `Killed process` line.
    pub stamp: Stamp,
}

/// `oom_reaper: reaped process N (x), now anon-rss:0kB, …`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaped {
    /// pid.
    pub pid: u32,
    /// What was left after reaping: anon.
    pub anon_rss_bytes: Option<u64>,
    /// File.
    pub file_rss_bytes: Option<u64>,
    /// Shmem.
    pub shmem_rss_bytes: Option<u64>,
    /// When.
    pub stamp: Stamp,
}

/// Parse every OOM report in a kernel log (any form of [`split_log`]).
pub fn parse_log(text: &str) -> OomLog {
    let lines = split_log(text);
    let mut formats = Vec::new();
    for l in &lines {
        if !formats.contains(&l.format) {
            formats.push(l.format);
        }
    }
    let mut b = Builder::default();
    for l in &lines {
        b.line(l);
    }
    b.finish();
    OomLog { reports: b.done, formats, lines: lines.len() }
}

/// Which multi-line part the builder is inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Section {
    #[default]
    None,
    MemInfo,
    Stats,
    Tasks,
}

#[derive(Default)]
struct Builder {
    cur: Option<OomReport>,
    section: Section,
    done: Vec<OomReport>,
    /// The last finished report announced a `memory.oom.group` kill: the
    /// `Killed process` lines that follow belong to it.
    group_open: bool,
}

impl Builder {
    fn line(&mut self, l: &LogLine<'_>) {
        let text = l.text.as_ref();
        let t = text.trim();
        if let Some(r) = reaped(t, &l.stamp) {
            // Printed by the oom_reaper thread, after the report.
            let target = self
                .cur
                .iter_mut()
                .chain(self.done.iter_mut().rev())
                .find(|rep| rep.victim.as_ref().is_some_and(|v| v.pid == r.pid));
            if let Some(rep) = target {
                rep.reaped = Some(r);
            }
            return;
        }
        if let Some(rest) = t.strip_prefix("Tasks in ")
            && let Some(cg) = rest.strip_suffix(" are going to be killed due to memory.oom.group set")
        {
            // Printed after the victim's line, which finished the report.
            let target = match self.cur.as_mut() {
                Some(c) => Some(c),
                None => self.done.last_mut(),
            };
            if let Some(r) = target {
                r.oom_group = Some(cg.to_string());
                r.last_line = l.line;
                self.group_open = self.cur.is_none();
            }
            return;
        }
        if self.group_open {
            if let Some(v) = victim(t, &l.stamp)
                && let Some(r) = self.done.last_mut()
            {
                r.last_line = l.line;
                if r.victim.as_ref().is_none_or(|first| first.pid != v.pid) {
                    r.group_killed.push(v);
                }
                return;
            }
            self.group_open = false;
        }
        // OOM kills are serialised: a new trigger ends the report before.
        if let Some(tr) = trigger(t) {
            self.finish();
            self.cur = Some(OomReport {
                first_line: l.line,
                last_line: l.line,
                stamp: l.stamp.clone(),
                caller: l.caller.clone(),
                trigger: Some(tr),
                ..Default::default()
            });
            self.section = Section::None;
            return;
        }
        if let (Some(cur), Some(c)) = (&self.cur, &l.caller)
            && cur.caller.as_ref().is_some_and(|mine| mine != c)
        {
            return; // another CPU's or task's message
        }
        if let Some(cur) = self.cur.as_mut() {
            cur.last_line = l.line;
        }
        if t.contains("page allocation failure:") || t.starts_with("SysRq : Show Memory") {
            // show_mem follows, but no OOM kill: drop a report that is only
            // a guess, keep a real one.
            if self.cur.as_ref().is_some_and(|c| c.trigger.is_none()) {
                self.cur = None;
            }
            self.section = Section::None;
            return;
        }
        // Sections first: their lines have no marker of their own.
        match self.section {
            Section::Stats => {
                if let Some((k, v)) = stat_value(t) {
                    if let Some(s) = self.cur.as_mut().and_then(|c| c.memcg_stats.last_mut()) {
                        s.values.push((k.to_string(), v));
                    }
                    return;
                }
                self.section = Section::None;
            }
            Section::Tasks => {
                if t.starts_with('[')
                    && let Some(cur) = self.cur.as_mut()
                {
                    let table = cur.tasks.get_or_insert_with(TaskTable::default);
                    match task_row(t, &table.columns) {
                        Some(row) => table.rows.push(row),
                        None => cur.malformed.push(super::Malformed::new(l.line - 1, t)),
                    }
                    return;
                }
                // Not a row: the table may go on after another CPU's line.
            }
            Section::MemInfo => {
                if !t.starts_with("Node ") && !t.is_empty() && t.split_ascii_whitespace().all(is_page_token) {
                    let mi = self.cur.as_mut().and_then(|c| c.mem_info.as_mut());
                    if let Some(mi) = mi {
                        for (k, v) in t.split_ascii_whitespace().filter_map(|w| w.split_once(':')) {
                            if let Ok(v) = v.parse() {
                                mi.pages.insert(k.to_string(), v);
                            }
                        }
                    }
                    return;
                }
            }
            Section::None => {}
        }
        if let Some(pid) = t.strip_prefix("CPU: ").and_then(cpu_line_pid) {
            if let Some(cur) = self.cur.as_mut()
                && cur.trigger_pid.is_none()
            {
                cur.trigger_pid = Some(pid);
                cur.kernel_release = release(t);
            }
            return;
        }
        if let Some(v) = victim(t, &l.stamp) {
            let cur = self.open(l);
            let old = cur.victim.take();
            let mut v = v;
            if let Some(o) = old.filter(|o| o.pid == v.pid) {
                v.score = o.score;
                v.memcg = v.memcg.or(o.memcg);
            }
            cur.victim = Some(v);
            self.finish();
            return;
        }
        if let Some(k) = kill_old(t) {
            let cur = self.open(l);
            cur.victim = Some(k);
            return;
        }
        if let Some(c) = constraint(t) {
            self.open(l).constraint = Some(c);
            return;
        }
        if let Some(rest) = t.strip_prefix("Task in ") {
            if let Some((task, limit)) = rest.split_once(" killed as a result of limit of ") {
                self.open(l).task_in = Some((task.to_string(), limit.to_string()));
            }
            return;
        }
        if let Some(c) = counter(t) {
            self.open(l).memcg_counters.push(c);
            return;
        }
        if let Some(rest) = t.strip_prefix("Memory cgroup stats for ") {
            let s = stats_header(rest);
            self.open(l).memcg_stats.push(s);
            self.section = Section::Stats;
            return;
        }
        if t == "Mem-Info:" {
            self.open(l).mem_info = Some(MemInfo::default());
            self.section = Section::MemInfo;
            return;
        }
        if t.starts_with("Tasks state (memory values in pages)") {
            return;
        }
        if t.starts_with('[') && t.contains("pid") && t.ends_with("name") {
            let cols = task_header(t);
            self.open(l).tasks = Some(TaskTable { columns: cols, rows: Vec::new() });
            self.section = Section::Tasks;
            return;
        }
        // The rest belongs to Mem-Info; only inside a report.
        let Some(cur) = self.cur.as_mut() else { return };
        let Some(mi) = cur.mem_info.as_mut() else {
            if let Some(cs) = cpuset_line(t)
                && let Some(tr) = cur.trigger.as_mut()
            {
                tr.cpuset = Some(cs);
            }
            return;
        };
        if let Some(rest) = t.strip_prefix("Node ") {
            node_or_zone(rest, mi);
        } else if let Some(v) = t.strip_prefix("Free swap  = ").or_else(|| t.strip_prefix("Free swap = ")) {
            mi.free_swap_bytes = kb(v);
        } else if let Some(v) = t.strip_prefix("Total swap = ") {
            mi.total_swap_bytes = kb(v);
        } else if let Some(n) = t.strip_suffix(" total pagecache pages") {
            mi.pagecache_pages = n.trim().parse().ok();
        } else if let Some(n) = t.strip_suffix(" pages in swap cache") {
            mi.swapcache_pages = n.trim().parse().ok();
        } else if let Some(n) = t.strip_suffix(" pages RAM") {
            mi.ram_pages = n.trim().parse().ok();
        } else if let Some(n) = t.strip_suffix(" pages reserved") {
            mi.reserved_pages = n.trim().parse().ok();
        }
    }

    /// The current report, or a new one whose start is not in the log.
    fn open(&mut self, l: &LogLine<'_>) -> &mut OomReport {
        self.cur.get_or_insert_with(|| OomReport {
            first_line: l.line,
            last_line: l.line,
            stamp: l.stamp.clone(),
            caller: l.caller.clone(),
            ..Default::default()
        })
    }

    fn finish(&mut self) {
        self.section = Section::None;
        let Some(mut r) = self.cur.take() else { return };
        if r.trigger.is_none() && r.victim.is_none() && r.constraint.is_none() && r.tasks.is_none() {
            return; // a Mem-Info or counters without a kill
        }
        let memcg = r.is_memcg();
        let mut missing = Vec::new();
        if r.trigger.is_none() {
            missing.push("trigger");
        }
        if memcg == Some(true) && !r.memcg_counters.iter().any(|c| c.name == "memory") {
            missing.push("memcg counters");
        }
        if memcg != Some(true) && r.mem_info.is_none() {
            missing.push("mem_info");
        }
        if r.tasks.is_none() {
            missing.push("task table");
        }
        if r.constraint.is_none() && r.task_in.is_none() && r.prints_constraint() != Some(false) {
            missing.push("constraint");
        }
        if r.victim.as_ref().is_none_or(|v| v.total_vm_bytes.is_none()) {
            missing.push("victim");
        }
        r.missing = missing.into_iter().map(str::to_string).collect();
        self.done.push(r);
    }
}

impl OomReport {
    /// Whether this report's kernel prints the `oom-kill:` summary (4.19+);
    /// `None` when its release is not in the log.
    pub fn prints_constraint(&self) -> Option<bool> {
        let rel = self.kernel_release.as_deref()?;
        let mut it = rel.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse::<u32>().ok());
        Some((it.next()?, it.next()?) >= (4, 19))
    }

    /// `Some(true)` for a memory cgroup's OOM, `Some(false)` for a global
    /// (or cpuset, mempolicy) one, `None` when the log does not say.
    pub fn is_memcg(&self) -> Option<bool> {
        if let Some(c) = &self.constraint {
            return Some(c.kind == "CONSTRAINT_MEMCG");
        }
        if self.task_in.is_some() {
            return Some(true);
        }
        if let Some(m) = self.victim.as_ref().and_then(|v| v.memcg) {
            return Some(m);
        }
        if !self.memcg_counters.is_empty() {
            return Some(true);
        }
        self.mem_info.as_ref().map(|_| false)
    }
}

fn trigger(t: &str) -> Option<Trigger> {
    let (comm, rest) = t.split_once(" invoked oom-killer: ")?;
    let mut tr = Trigger { comm: comm.to_string(), ..Default::default() };
    for part in rest.split(", ") {
        let Some((k, v)) = part.trim().split_once('=') else { continue };
        match k {
            "gfp_mask" => {
                let (mask, flags) = match v.split_once('(') {
                    Some((m, f)) => (m, Some(f.trim_end_matches(')').to_string())),
                    None => (v, None),
                };
                tr.gfp_mask = super::hex_u64(mask);
                tr.gfp_flags = flags;
            }
            "order" => tr.order = v.trim().parse().ok(),
            "oom_score_adj" => tr.oom_score_adj = v.trim().parse().ok(),
            "nodemask" => tr.nodemask = Some(v.to_string()),
            _ => {}
        }
    }
    Some(tr)
}

/// 3.x: `stress cpuset=/ mems_allowed=0`.
fn cpuset_line(t: &str) -> Option<String> {
    let (_, rest) = t.split_once(" cpuset=")?;
    let (cs, _) = rest.split_once(" mems_allowed=")?;
    Some(cs.to_string())
}

/// `CPU: 1 PID: 9728 Comm: x …` or `CPU: 1 UID: 0 PID: 9728 Comm: x …`.
fn cpu_line_pid(rest: &str) -> Option<u32> {
    let (_, after) = rest.split_once("PID: ")?;
    after.split_ascii_whitespace().next()?.parse().ok()
}

fn release(t: &str) -> Option<String> {
    let (_, after) = t.split_once("Not tainted ")?;
    after.split_ascii_whitespace().next().map(str::to_string)
}

/// A `key:value` token, the value a number with an optional `kB`.
fn kb_token(v: &str) -> Option<u64> {
    let v = v.trim().trim_end_matches(',');
    let num = v.strip_suffix("kB").or_else(|| v.strip_suffix("KB"))?;
    num.parse::<u64>().ok()?.checked_mul(1024)
}

fn kb(v: &str) -> Option<u64> {
    kb_token(v)
}

fn is_page_token(w: &str) -> bool {
    w.split_once(':')
        .is_some_and(|(k, v)| !k.is_empty() && !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
}

/// `N (name) rest` → (pid, name, rest); the name may hold `)` and spaces.
fn pid_name<'a>(s: &'a str, end_marker: &str) -> Option<(u32, String, &'a str)> {
    let (pid, rest) = s.split_once(" (")?;
    let pid = pid.trim().parse().ok()?;
    let close = match rest.find(end_marker) {
        Some(i) => i,
        None => rest.rfind(')')?,
    };
    let name = rest.get(..close)?.to_string();
    let after = rest.get(close + 1..).unwrap_or("");
    Some((pid, name, after))
}

fn victim(t: &str, stamp: &Stamp) -> Option<Victim> {
    let (prefix, rest) = t.split_once("Killed process ")?;
    let memcg = match prefix.trim() {
        "Memory cgroup out of memory:" => Some(true),
        "Out of memory:" | "Out of memory (oom_kill_allocating_task):" => Some(false),
        "" => None,
        _ => return None,
    };
    // RHEL 7 prints `Killed process N (x), UID 1000, total-vm:…`.
    let marker = if rest.contains("), UID ") { "), UID " } else { ") total-vm:" };
    let (pid, name, fields) = pid_name(rest, marker)?;
    let mut v = Victim { pid, name, memcg, stamp: stamp.clone(), ..Default::default() };
    let toks: Vec<&str> = fields.split([',', ' ']).filter(|s| !s.is_empty()).collect();
    for (i, tok) in toks.iter().enumerate() {
        if *tok == "UID" {
            v.uid = toks.get(i + 1).and_then(|u| u.parse().ok());
            continue;
        }
        let Some((k, val)) = tok.split_once(':') else { continue };
        match k {
            "total-vm" => v.total_vm_bytes = kb_token(val),
            "anon-rss" => v.anon_rss_bytes = kb_token(val),
            "file-rss" => v.file_rss_bytes = kb_token(val),
            "shmem-rss" => v.shmem_rss_bytes = kb_token(val),
            "pgtables" => v.pgtables_bytes = kb_token(val),
            "UID" => v.uid = val.parse().ok(),
            "oom_score_adj" => v.oom_score_adj = val.parse().ok(),
            _ => {}
        }
    }
    Some(v)
}

/// `Out of memory: Kill process N (x) score S or sacrifice child` (before 5.0).
fn kill_old(t: &str) -> Option<Victim> {
    let (prefix, rest) = t.split_once("Kill process ")?;
    let memcg = match prefix.trim() {
        "Memory cgroup out of memory:" => Some(true),
        "Out of memory:" => Some(false),
        _ => return None,
    };
    let (pid, name, after) = pid_name(rest, ") score ")?;
    let score = after.trim().strip_prefix("score ")?.split_ascii_whitespace().next()?.parse().ok();
    Some(Victim { pid, name, memcg, score, ..Default::default() })
}

fn reaped(t: &str, stamp: &Stamp) -> Option<Reaped> {
    let rest = t.strip_prefix("oom_reaper: reaped process ")?;
    let (pid, _name, after) = pid_name(rest, "), now ")?;
    let mut r = Reaped { pid, stamp: stamp.clone(), ..Default::default() };
    for tok in after.split([',', ' ']).filter(|s| !s.is_empty()) {
        let Some((k, val)) = tok.split_once(':') else { continue };
        match k {
            "anon-rss" => r.anon_rss_bytes = kb_token(val),
            "file-rss" => r.file_rss_bytes = kb_token(val),
            "shmem-rss" => r.shmem_rss_bytes = kb_token(val),
            _ => {}
        }
    }
    Some(r)
}

fn constraint(t: &str) -> Option<Constraint> {
    let s = t.strip_prefix("oom-kill:constraint=")?;
    // Values may hold commas (node lists, cgroup paths, command names):
    // cut at the known keys, the tail ones from the right.
    let mut c = Constraint::default();
    let mut head = s;
    c.uid = cut_right(",uid=", &mut head).and_then(|v| v.parse().ok());
    c.pid = cut_right(",pid=", &mut head).and_then(|v| v.parse().ok());
    c.task = cut_right(",task=", &mut head);
    c.task_memcg = cut_right(",task_memcg=", &mut head);
    if let Some(i) = head.find(",oom_memcg=") {
        c.oom_memcg = Some(head[i + ",oom_memcg=".len()..].to_string());
        head = &head[..i];
    } else if let Some(i) = head.find(",global_oom") {
        c.global_oom = true;
        head = &head[..i];
    }
    c.mems_allowed = cut_right(",mems_allowed=", &mut head);
    c.cpuset = cut_right(",cpuset=", &mut head);
    c.nodemask = cut_right(",nodemask=", &mut head);
    if head.is_empty() || head.contains(',') {
        return None;
    }
    c.kind = head.to_string();
    Some(c)
}

/// The value after the last `key` in `head`, which is cut there.
fn cut_right(key: &str, head: &mut &str) -> Option<String> {
    let i = head.rfind(key)?;
    let v = head[i + key.len()..].to_string();
    *head = &head[..i];
    Some(v)
}

/// `memory: usage 65536kB, limit 65536kB, failcnt 19`.
fn counter(t: &str) -> Option<MemcgCounter> {
    let (name, rest) = t.split_once(": usage ")?;
    if name.is_empty() || name.contains(' ') {
        return None;
    }
    let mut parts = rest.split(", ");
    let usage_bytes = kb_token(parts.next()?)?;
    let limit_kb = parts.next()?.strip_prefix("limit ")?;
    let limit_bytes = kb_token(limit_kb);
    // Overflowing u64 or above LONG_MAX: "no limit" (PAGE_COUNTER_MAX pages).
    let limit = match limit_bytes {
        Some(v) if v <= V1_UNLIMITED_FLOOR => Limit::Value(v),
        _ => {
            let n = limit_kb.trim_end_matches("kB").trim_end_matches("KB");
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Limit::Max
        }
    };
    let failcnt = parts.next()?.strip_prefix("failcnt ")?.trim().parse().ok()?;
    Some(MemcgCounter { name: name.to_string(), usage_bytes, limit, failcnt })
}

/// `PATH:` then values on later lines, or `PATH: cache:0KB rss:…KB …`.
fn stats_header(rest: &str) -> MemcgStats {
    if let Some(path) = rest.strip_suffix(':') {
        return MemcgStats { path: path.to_string(), values: Vec::new() };
    }
    let (path, inline) = rest.split_once(": ").unwrap_or((rest, ""));
    let values = inline
        .split_ascii_whitespace()
        .filter_map(|w| {
            let (k, v) = w.split_once(':')?;
            let v = kb_token(v).or_else(|| v.parse().ok())?;
            Some((k.to_string(), v))
        })
        .collect();
    MemcgStats { path: path.to_string(), values }
}

/// `anon 66846720` (a memory.stat line).
fn stat_value(t: &str) -> Option<(&str, u64)> {
    let (k, v) = t.split_once(' ')?;
    if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
        return None;
    }
    Some((k, v.trim().parse().ok()?))
}

/// `[  pid  ]   uid  tgid total_vm      rss … name`.
fn task_header(t: &str) -> Vec<String> {
    let after = t.split_once(']').map(|(_, a)| a).unwrap_or("");
    std::iter::once("pid".to_string()).chain(after.split_ascii_whitespace().map(str::to_string)).collect()
}

fn task_row(t: &str, columns: &[String]) -> Option<TaskRow> {
    let (pid, rest) = t.strip_prefix('[')?.split_once(']')?;
    let pid = pid.trim().parse().ok()?;
    // Numeric columns between pid and name.
    let numeric = columns.len().checked_sub(2)?;
    let mut row = TaskRow { pid, ..Default::default() };
    let mut rest = rest;
    for col in columns.iter().skip(1).take(numeric) {
        let r = rest.trim_start();
        let end = r.find(' ').unwrap_or(r.len());
        let v: i64 = r.get(..end)?.parse().ok()?;
        rest = &r[end..];
        let u = u64::try_from(v).ok();
        match col.as_str() {
            "uid" => row.uid = u.and_then(|u| u32::try_from(u).ok()),
            "tgid" => row.tgid = u.and_then(|u| u32::try_from(u).ok()),
            "total_vm" => row.total_vm_pages = u,
            "rss" => row.rss_pages = u,
            "rss_anon" => row.rss_anon_pages = u,
            "rss_file" => row.rss_file_pages = u,
            "rss_shmem" => row.rss_shmem_pages = u,
            "pgtables_bytes" => row.pgtables_bytes = u,
            "nr_ptes" => row.nr_ptes = u,
            "swapents" => row.swapents = u,
            "oom_score_adj" => row.oom_score_adj = i32::try_from(v).ok(),
            other => {
                row.other.insert(other.to_string(), v);
            }
        }
    }
    let name = rest.trim_start();
    if name.is_empty() {
        return None;
    }
    row.name = name.to_string();
    Some(row)
}

/// After `Node `: `0 key:NkB …` (node), `0 DMA32 free:NkB …` (zone); the
/// buddy lists (`0 DMA: 1*4kB …`), `hugepages_total=` and 3.x `per-cpu:`
/// lines are not kept.
fn node_or_zone(rest: &str, mi: &mut MemInfo) {
    let mut words = rest.split_ascii_whitespace();
    let Some(node) = words.next().and_then(|n| n.parse::<u32>().ok()) else { return };
    let rest: Vec<&str> = words.collect();
    let Some(first) = rest.first() else { return };
    let tokens = |ws: &[&str]| -> (BTreeMap<String, u64>, Option<bool>) {
        let mut m = BTreeMap::new();
        let mut unrec = None;
        let mut i = 0;
        while i < ws.len() {
            let w = ws[i];
            if w == "all_unreclaimable?" {
                unrec = ws.get(i + 1).map(|v| *v == "yes");
                i += 2;
                continue;
            }
            if let Some((k, v)) = w.split_once(':') {
                // 4.x prints `shmem_thp: 0kB` with a space.
                let (v, step) = if v.is_empty() { (ws.get(i + 1).copied().unwrap_or(""), 2) } else { (v, 1) };
                if let Some(b) = kb_token(v) {
                    m.insert(k.to_string(), b);
                }
                i += step;
                continue;
            }
            i += 1;
        }
        (m, unrec)
    };
    if first.contains(':') && !first.ends_with(':') {
        let (bytes, all_unreclaimable) = tokens(&rest);
        mi.nodes.push(NodeLine { node, bytes, all_unreclaimable });
    } else if rest.get(1).is_some_and(|w| w.starts_with("free:")) {
        let (bytes, _) = tokens(&rest[1..]);
        mi.zones.push(ZoneLine { node, zone: first.to_string(), bytes });
    }
}

/// The lines of `text` that hold OOM reports (each report's span, and the
/// reaper's lines), in their order: what a capture keeps of a kernel log.
/// The allocating task's registers and code bytes (`RAX: …`, `Code: …`),
/// which may hold its data, are left out; nothing is parsed from them.
pub fn report_lines(text: &str) -> Vec<&str> {
    report_lines_in(text, &parse_log(text))
}

/// [`report_lines`] of `text` already parsed into `log`.
pub fn report_lines_in<'a>(text: &'a str, log: &OomLog) -> Vec<&'a str> {
    let registers: std::collections::BTreeSet<usize> =
        split_log(text).iter().filter(|l| is_register_dump(&l.text)).map(|l| l.line).collect();
    text.lines()
        .enumerate()
        .filter(|(i, l)| {
            let n = i + 1;
            let in_report = log.reports.iter().any(|r| (r.first_line..=r.last_line).contains(&n))
                || l.contains("oom_reaper: reaped process ");
            in_report && !registers.contains(&n)
        })
        .map(|(_, l)| l)
        .collect()
}

/// `RIP: 0033:…`, `RAX: 00007f… RBX: …`, `Code: f0 88 …` (arch/x86
/// `__show_regs`, `show_opcodes`; other architectures print `pc :`, `lr :`,
/// `x29:` and the like).
fn is_register_dump(text: &str) -> bool {
    let t = text.trim_start();
    if t.starts_with("Code: ") {
        return true;
    }
    let Some((name, rest)) = t.split_once(": ") else { return false };
    let name = name.trim_end();
    let short_upper = name != "CPU"
        && !name.is_empty()
        && name.len() <= 4
        && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && name.bytes().any(|b| b.is_ascii_uppercase());
    let arm = matches!(name, "pc" | "lr" | "sp" | "pstate")
        || (name.starts_with('x') && name[1..].parse::<u8>().is_ok());
    let hexish = rest.get(..4).is_some_and(|w| w.bytes().all(|b| b.is_ascii_hexdigit()));
    (short_upper || arm) && hexish
}

#[cfg(test)]
mod tests;
