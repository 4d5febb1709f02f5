//! `memscope ps`: every process, sorted, filtered and grouped.
//!
//! Rows come from [`crate::processes::row`] (PSS/USS where `smaps_rollup` was
//! read within the budget, `status` figures elsewhere, marked); this module
//! sorts them, groups them by user, cgroup, container or command, and says
//! how much of the resident memory the PSS figures cover.

use std::collections::BTreeMap;

use memscope_kernel::ReadError;
use memscope_kernel::parse::meminfo::Meminfo;
use memscope_kernel::parse::pid::ns::Namespaces;
use memscope_model::{ProcessSample, ProcessSnapshot, Rollup};
use serde::Serialize;

use crate::containers::runtime_of;
use crate::processes::{self, ProcessRow, ProcessTotals, SortKey};
use crate::units::{count, fmt_bytes, fmt_pct};

/// How to group processes. One table ([`GroupBy::ALL`]) drives the
/// command-line values and the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// By real user.
    User,
    /// By cgroup path (v2, else the v1 memory hierarchy).
    Cgroup,
    /// By container: runtime cgroup, or namespaces other than the host's.
    Container,
    /// By command name.
    Cmd,
}

impl GroupBy {
    /// Every grouping with its name.
    pub const ALL: &[(GroupBy, &'static str)] = &[
        (GroupBy::User, "user"),
        (GroupBy::Cgroup, "cgroup"),
        (GroupBy::Container, "container"),
        (GroupBy::Cmd, "cmd"),
    ];

    /// The grouping's name (`user`).
    pub fn name(self) -> &'static str {
        GroupBy::ALL.iter().find(|(g, _)| *g == self).map(|(_, n)| *n).unwrap_or("user")
    }

    /// The grouping called `name`.
    pub fn from_name(name: &str) -> Option<GroupBy> {
        GroupBy::ALL.iter().find(|(_, n)| *n == name).map(|(g, _)| *g)
    }
}

/// What `ps` shows.
#[derive(Debug, Clone)]
pub struct PsOptions {
    /// Sort order.
    pub sort: SortKey,
    /// Keep this many rows (or groups).
    pub top: Option<usize>,
    /// Group instead of listing processes.
    pub group_by: Option<GroupBy>,
    /// User names by uid (resolved by the caller); uids without a name are
    /// shown as numbers.
    pub user_names: BTreeMap<u32, String>,
    /// The host's namespaces (pid 1's), for `group_by` container; when
    /// unknown, the namespaces most processes share stand for the host.
    pub host_namespaces: Option<Namespaces>,
    /// The time budget the scan ran with, to report it.
    pub budget_ms: Option<u64>,
    /// The size cap the scan ran with, to report it.
    pub max_rss_bytes: Option<u64>,
    /// `/proc/PID/exe` targets read by the caller (running system only),
    /// naming each command line's program as capture does.
    pub exe_targets: BTreeMap<u32, String>,
    /// The boot time, seconds since the epoch (`btime` of `/proc/stat`),
    /// to date each start; `None` leaves the start relative to boot.
    pub boot_time_seconds: Option<u64>,
    /// What the container runtimes call their containers, for `group_by`
    /// container: a container the runtimes name is keyed by that name
    /// (`namespace/pod/container` for Kubernetes) instead of its short id.
    pub container_names: Option<memscope_model::containers::ContainerNames>,
}

/// One process, with who and where it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PsRow {
    /// The figures, under the report's names (`pid`, `comm`, `pss_bytes`, …).
    #[serde(flatten)]
    pub row: ProcessRow,
    /// The command line: the program's name and its arguments, with the
    /// values that look like secrets masked ([`crate::cmdline`]). A captured
    /// tree's command lines were cut to the program's name when captured
    /// and are shown as stored. `None` when the command line could not be
    /// read.
    pub command: Option<String>,
    /// RSS as a share of `MemTotal`, percent (`ps`'s `%MEM`), to 0.01.
    pub mem_percent: Option<f64>,
    /// The state letter of `/proc/PID/stat` (R, S, D, T, …).
    pub state: Option<char>,
    /// When the process started, milliseconds after boot.
    pub started_after_boot_ms: Option<u64>,
    /// When the process started, seconds since the Unix epoch (with the
    /// boot time known).
    pub started_at_unix_s: Option<u64>,
    /// User name of `uid`, when known.
    pub user: Option<String>,
    /// The process's cgroup (v2 path, else the v1 memory hierarchy's).
    pub cgroup: Option<String>,
    /// The container's name, when grouping by container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// One group of processes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// The user name, cgroup path, container name or command name.
    pub key: String,
    /// For containers: the runtime (`docker`, `podman`, `containerd`,
    /// `cri-o`, `kubernetes`, `lxc`, `systemd-machine`), `namespaces` for an
    /// unnamed one, `host` for the rest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<&'static str>,
    /// For containers: the full id (or the namespace ids); for users: the uid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Processes in the group.
    pub processes: usize,
    /// Of which with PSS.
    pub with_pss: usize,
    /// Sum of PSS over the processes with PSS.
    pub pss_bytes: u64,
    /// Sum of USS over the processes with PSS.
    pub uss_bytes: u64,
    /// Sum of RSS (overcounts pages shared within the group).
    pub rss_bytes: u64,
    /// RSS of the processes without PSS: the estimate standing in for them.
    pub rss_without_pss_bytes: u64,
    /// Sum of swap.
    pub swap_bytes: u64,
    /// Sum of open descriptors over the processes counted (when the
    /// collection counted them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fds: Option<u64>,
    /// The processes.
    pub pids: Vec<u32>,
}

impl Group {
    fn rank(&self, key: SortKey) -> u64 {
        match key {
            SortKey::Pss => self.pss_bytes + self.rss_without_pss_bytes,
            SortKey::Uss => self.uss_bytes + self.rss_without_pss_bytes,
            SortKey::Rss => self.rss_bytes,
            SortKey::Swap => self.swap_bytes,
            SortKey::Fds => self.fds.unwrap_or(0),
            SortKey::Pid => 0,
        }
    }
}

/// How the scan went, for the footer and the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    /// `smaps_rollup` reads made.
    pub rollup_read: usize,
    /// The whole scan, microseconds.
    pub elapsed_usec: u64,
    /// Wall time of the smaps_rollup phase (what the budget bounds).
    pub rollup_phase_usec: u64,
    /// All reads together (summed over the workers), microseconds.
    pub rollup_total_usec: u64,
    /// The slowest single `smaps_rollup` read: how long one target's page
    /// faults could stall behind memscope's walk of its page tables.
    pub worst_rollup_usec: u64,
    /// Its process.
    pub worst_rollup_pid: Option<u32>,
    /// Its command name.
    pub worst_rollup_comm: Option<String>,
    /// The time budget, if any.
    pub budget_ms: Option<u64>,
    /// The size cap, if any.
    pub max_rss_bytes: Option<u64>,
    /// Processes left out by the filters.
    pub filtered_out: usize,
}

/// The `ps` view.
#[derive(Debug, Clone, Serialize)]
pub struct Ps {
    /// Kernel release.
    pub kernel: Option<String>,
    /// When the snapshot was taken (ms since the Unix epoch).
    pub taken_at_unix_ms: u64,
    /// Sort order.
    pub sort: SortKey,
    /// Grouping, if any.
    pub group_by: Option<GroupBy>,
    /// Processes, sorted (the top ones when asked).
    pub processes: Vec<PsRow>,
    /// Groups, sorted (with `group_by`).
    pub groups: Vec<Group>,
    /// Totals over every process shown or not (after filters).
    pub totals: ProcessTotals,
    /// The scan.
    pub scan: ScanSummary,
    /// What the numbers say.
    pub notes: Vec<String>,
}

/// The cgroup path used to group: the hierarchy that accounts memory, as
/// `memscope cgroups` places processes. On v1 and hybrid hosts that is the
/// v1 memory controller's (on a hybrid host the v2 hierarchy holds no
/// controller and every process sits at `/` in it); on a pure v2 host the
/// v2 path. Else systemd's named hierarchy, else the first line.
pub fn cgroup_path(p: &ProcessSample) -> Option<String> {
    let c = p.cgroup.as_ref().ok()?;
    c.v1_path("memory")
        .or_else(|| c.v2_path())
        .or_else(|| c.v1_path("name=systemd"))
        .or_else(|| c.memberships.first().map(|m| m.path.as_str()))
        .map(str::to_string)
}

/// A process's container.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ContainerKey {
    key: String,
    runtime: &'static str,
    id: Option<String>,
    namespaces_unknown: bool,
}

fn container_of(
    p: &ProcessSample,
    host: Option<&Namespaces>,
    names: Option<&memscope_model::containers::ContainerNames>,
) -> ContainerKey {
    let path = cgroup_path(p);
    if let Some(c) = path.as_deref().and_then(runtime_of) {
        let named = names
            .zip(path.as_deref())
            .and_then(|(n, path)| crate::containers::label_of(path, n))
            .and_then(|l| l.display());
        let key = named.unwrap_or(c.name);
        return ContainerKey { key, runtime: c.runtime, id: Some(c.id), namespaces_unknown: false };
    }
    // pid 1 is the host: its namespaces are the reference, read or not.
    if p.pid == 1 {
        return ContainerKey { key: "host".into(), runtime: "host", id: None, namespaces_unknown: false };
    }
    let ns = match &p.namespaces {
        Some(Ok(ns)) => ns,
        _ => {
            return ContainerKey { key: "host".into(), runtime: "host", id: None, namespaces_unknown: true };
        }
    };
    let Some(host) = host else {
        return ContainerKey { key: "host".into(), runtime: "host", id: None, namespaces_unknown: true };
    };
    let differ = ns.differing(host);
    if differ.is_empty() {
        return ContainerKey { key: "host".into(), runtime: "host", id: None, namespaces_unknown: false };
    }
    let ids: Vec<String> =
        differ.iter().map(|k| format!("{k}:[{}]", ns.get(k).unwrap_or_default())).collect();
    let path = path.as_deref().unwrap_or("?");
    let last = path.rsplit('/').find(|c| !c.is_empty()).unwrap_or(path);
    let key = format!("{last} ({} ns)", differ.join(","));
    let id = format!("{path} {}", ids.join(" "));
    ContainerKey { key, runtime: "namespaces", id: Some(id), namespaces_unknown: false }
}

/// The namespaces most processes share: the host's when pid 1's cannot be read.
fn majority_namespaces(snap: &ProcessSnapshot) -> Option<Namespaces> {
    let mut counts: BTreeMap<&Namespaces, usize> = BTreeMap::new();
    for p in &snap.processes {
        if let Some(Ok(ns)) = &p.namespaces {
            *counts.entry(ns).or_default() += 1;
        }
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(ns, _)| ns.clone())
}

/// Build the view from the processes collected for it (filters already
/// applied by the collection), with meminfo for `AnonPages + Mapped`.
pub fn build(
    snap: &ProcessSnapshot,
    meminfo: Option<&Meminfo>,
    kernel: Option<String>,
    opts: &PsOptions,
) -> Ps {
    let samples: Vec<&ProcessSample> = snap.processes.iter().filter(|p| !p.has_no_address_space()).collect();
    let host = match (&opts.host_namespaces, opts.group_by) {
        (Some(h), _) => Some(h.clone()),
        (None, Some(GroupBy::Container)) => majority_namespaces(snap),
        _ => None,
    };
    let mem_total = meminfo.and_then(|m| m.get("MemTotal"));
    let mut unknown_ns = 0usize;
    let mut rows: Vec<(PsRow, Option<ContainerKey>)> = samples
        .iter()
        .map(|p| {
            let row = processes::row_in(p, snap.live);
            let user = row.uid.map(|u| opts.user_names.get(&u).cloned().unwrap_or_else(|| u.to_string()));
            let container = (opts.group_by == Some(GroupBy::Container))
                .then(|| container_of(p, host.as_ref(), opts.container_names.as_ref()));
            if container.as_ref().is_some_and(|c| c.namespaces_unknown) {
                unknown_ns += 1;
            }
            let started_after_boot_ms = p.stat.as_ref().ok().and_then(|s| s.starttime_ticks).map(ticks_to_ms);
            let mem_percent = match (row.rss_bytes, mem_total) {
                (Some(rss), Some(total)) if total > 0 => {
                    Some((rss as f64 * 10_000.0 / total as f64).round() / 100.0)
                }
                _ => None,
            };
            let ps = PsRow {
                command: command_line(p, snap.live, opts.exe_targets.get(&p.pid).map(String::as_str)),
                mem_percent,
                state: p.stat.as_ref().ok().map(|s| s.state),
                started_after_boot_ms,
                started_at_unix_s: opts
                    .boot_time_seconds
                    .zip(started_after_boot_ms)
                    .map(|(b, ms)| b.saturating_add(ms / 1000)),
                row,
                user,
                cgroup: cgroup_path(p),
                container: container.as_ref().map(|c| c.key.clone()),
            };
            (ps, container)
        })
        .collect();
    let plain: Vec<ProcessRow> = rows.iter().map(|(r, _)| r.row.clone()).collect();
    let mut totals = processes::totals_of(meminfo, &snap.scan, &plain);
    totals.skipped_not_reported = processes::not_reported(&snap.processes);

    let mut groups = Vec::new();
    if let Some(g) = opts.group_by {
        let mut by_key: BTreeMap<String, Group> = BTreeMap::new();
        for (r, c) in &rows {
            let (key, runtime, id) = match g {
                GroupBy::User => {
                    (r.user.clone().unwrap_or_else(|| "?".into()), None, r.row.uid.map(|u| u.to_string()))
                }
                GroupBy::Cgroup => (r.cgroup.clone().unwrap_or_else(|| "?".into()), None, None),
                GroupBy::Container => match c {
                    Some(c) => (c.key.clone(), Some(c.runtime), c.id.clone()),
                    None => ("host".into(), Some("host"), None),
                },
                GroupBy::Cmd => (r.row.comm.clone(), None, None),
            };
            // Two sandboxes may share a name; their ids tell them apart.
            let unique = format!("{key}\0{}", id.as_deref().unwrap_or(""));
            let e = by_key.entry(unique).or_insert_with(|| Group {
                key,
                runtime,
                id,
                processes: 0,
                with_pss: 0,
                pss_bytes: 0,
                uss_bytes: 0,
                rss_bytes: 0,
                rss_without_pss_bytes: 0,
                swap_bytes: 0,
                fds: None,
                pids: Vec::new(),
            });
            e.processes += 1;
            e.pids.push(r.row.pid);
            e.rss_bytes = e.rss_bytes.saturating_add(r.row.rss_bytes.unwrap_or(0));
            e.swap_bytes = e.swap_bytes.saturating_add(r.row.swap_bytes.unwrap_or(0));
            if let Some(n) = r.row.fds {
                e.fds = Some(e.fds.unwrap_or(0) + n);
            }
            match r.row.pss_bytes {
                Some(p) => {
                    e.with_pss += 1;
                    e.pss_bytes = e.pss_bytes.saturating_add(p);
                    e.uss_bytes = e.uss_bytes.saturating_add(r.row.uss_bytes.unwrap_or(0));
                }
                None => {
                    e.rss_without_pss_bytes =
                        e.rss_without_pss_bytes.saturating_add(r.row.rss_bytes.unwrap_or(0))
                }
            }
        }
        groups = by_key.into_values().collect();
        groups.sort_by(|a, b| b.rank(opts.sort).cmp(&a.rank(opts.sort)).then_with(|| a.key.cmp(&b.key)));
        if let Some(n) = opts.top {
            groups.truncate(n);
        }
    }

    rows.sort_by(|(a, _), (b, _)| opts.sort.compare(&a.row, &b.row));
    let mut processes: Vec<PsRow> = rows.into_iter().map(|(r, _)| r).collect();
    if let Some(n) = opts.top {
        processes.truncate(n);
    }

    let s = &snap.scan;
    let worst_comm =
        s.worst_rollup_pid.and_then(|pid| snap.processes.iter().find(|p| p.pid == pid)).map(|p| p.comm());
    let scan = ScanSummary {
        rollup_read: s.rollup_read,
        rollup_phase_usec: s.rollup_phase_usec,
        rollup_total_usec: s.rollup_total_usec,
        elapsed_usec: s.elapsed_usec,
        worst_rollup_usec: s.worst_rollup_usec,
        worst_rollup_pid: s.worst_rollup_pid,
        worst_rollup_comm: worst_comm,
        budget_ms: opts.budget_ms,
        max_rss_bytes: opts.max_rss_bytes,
        filtered_out: s.filtered_out,
    };
    let why: Vec<&'static str> = samples.iter().filter_map(|p| why_no_pss(&p.rollup)).collect();
    let from_smaps = samples.iter().filter(|p| p.rollup().is_some_and(|r| r.is_summed_smaps())).count();
    let mut notes = notes(&totals, &why, &scan, unknown_ns, opts, snap.live);
    if from_smaps > 0 {
        notes.push(smaps_note(from_smaps));
    }
    Ps {
        kernel,
        taken_at_unix_ms: snap.taken_at_unix_ms,
        sort: opts.sort,
        group_by: opts.group_by,
        processes,
        groups,
        totals,
        scan,
        notes,
    }
}

/// Clock ticks per second in `/proc/PID/stat`: `USER_HZ`, 100 on every
/// architecture memscope builds for (include/asm-generic/param.h; only
/// alpha differs), whatever the kernel's `CONFIG_HZ`.
const USER_HZ: u64 = 100;

fn ticks_to_ms(ticks: u64) -> u64 {
    ticks.saturating_mul(1000 / USER_HZ)
}

/// The command line to show: the program's name, then its arguments with
/// their secrets masked ([`crate::cmdline::mask_args`]). On the running
/// system the name comes from the `exe` link (else the command name), as
/// capture names it ([`memscope_model::capture::scrub_cmdline`]). A process
/// that rewrote its title into `argv[0]` (`postgres: walwriter`) shows that
/// title, masked the same way. A captured tree keeps no links and no
/// arguments: a command line of one word without `/` is what capture writes
/// and names the program. `None` when the command line could not be read
/// (or is empty: a kernel thread).
fn command_line(p: &ProcessSample, live: bool, exe: Option<&str>) -> Option<String> {
    let argv = p.cmdline.as_ref().ok()?;
    let first = argv.first()?;
    if argv.len() == 1 && first.trim_end().contains(' ') {
        return Some(crate::cmdline::mask_title(first.trim_end()));
    }
    let comm = p.stat.as_ref().ok().map(|s| s.comm.as_str());
    let name = match argv.as_slice() {
        [one] if !live && !one.contains('/') => Some(one.as_str()),
        _ => comm,
    };
    let scrubbed = memscope_model::capture::scrub_cmdline(argv.join("\0").as_bytes(), exe, name);
    let program = String::from_utf8_lossy(scrubbed.strip_suffix(&[0]).unwrap_or(&scrubbed)).into_owned();
    if program.is_empty() {
        return None;
    }
    let args = crate::cmdline::mask_args(first, &argv[1..]);
    Some(std::iter::once(program).chain(args).collect::<Vec<_>>().join(" "))
}

/// Why a process has no PSS, in words shared by every process with the same
/// cause (the row's `pss_unavailable` names its own path).
fn why_no_pss(r: &Rollup) -> Option<&'static str> {
    Some(match r {
        Rollup::Read(r) if !r.is_empty() => return None,
        Rollup::Read(_) | Rollup::NoAddressSpace => return None,
        Rollup::OverBudget => "not read within --budget-ms",
        Rollup::OverSizeCap => "larger than --max-rss",
        Rollup::NotRequested => "--fast reads status only",
        Rollup::Failed(ReadError::PermissionDenied { .. }) => {
            "permission denied: smaps_rollup needs ptrace read access (the owner, or root / CAP_SYS_PTRACE; a \
             non-dumpable process or a security module can refuse even root)"
        }
        Rollup::Failed(ReadError::Gone { .. }) => "exited",
        Rollup::Failed(ReadError::NotReported { .. }) => "neither smaps_rollup nor smaps is there",
        Rollup::Failed(_) => "read error",
    })
}

fn notes(
    t: &ProcessTotals,
    why: &[&str],
    s: &ScanSummary,
    unknown_ns: usize,
    o: &PsOptions,
    live: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    if t.processes > 0 && t.with_pss < t.processes {
        // Why the rest have no PSS, most common reason first.
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for w in why {
            *counts.entry(w).or_default() += 1;
        }
        let mut why: Vec<(&str, usize)> = counts.into_iter().collect();
        why.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let why: Vec<String> = why.iter().map(|(w, n)| format!("{n}: {w}")).collect();
        out.push(format!(
            "{} of {} {} (marked *): PSS and USS not read, their RSS from /proc/PID/status stands \
             in when sorting ({}).",
            t.processes - t.with_pss,
            t.processes,
            if t.processes - t.with_pss == 1 { "is an estimate" } else { "are estimates" },
            why.join("; ")
        ));
    }
    if t.with_pss > 0 {
        out.push(format!(
            "PSS was read for {} of {} processes, covering {} of their RSS ({} of {}).",
            t.with_pss,
            t.processes,
            fmt_pct(t.rss_covered_by_pss_bytes as i64, t.rss_bytes as i64),
            fmt_bytes(t.rss_covered_by_pss_bytes as i64),
            fmt_bytes(t.rss_bytes as i64)
        ));
    }
    // Read times of a captured tree say nothing about the processes.
    if s.rollup_read > 0 && live {
        out.push(format!(
            "smaps_rollup: {} taking {} ms in all; the slowest took {} ms{} (the target's page tables are \
             walked under its mmap lock); the whole scan took {} ms{}.",
            count(s.rollup_read, "read", "reads"),
            ms(s.rollup_total_usec),
            ms(s.worst_rollup_usec),
            match (s.worst_rollup_pid, &s.worst_rollup_comm) {
                (Some(p), Some(c)) => format!(" (pid {p}, {c})"),
                (Some(p), None) => format!(" (pid {p})"),
                _ => String::new(),
            },
            ms(s.elapsed_usec),
            o.budget_ms.map(|b| format!(" against a budget of {b} ms")).unwrap_or_default()
        ));
    }
    if t.skipped_size > 0
        && let Some(cap) = o.max_rss_bytes
    {
        out.push(format!(
            "{} larger than {} not walked (--max-rss).",
            count(t.skipped_size, "process", "processes"),
            fmt_bytes(cap as i64)
        ));
    }
    if t.skipped_gone > 0 {
        out.push(format!("{} exited during the scan.", count(t.skipped_gone, "process", "processes")));
    }
    if unknown_ns > 0 {
        out.push(format!(
            "{} counted as host: namespaces unreadable (/proc/PID/ns needs ptrace read access) and no \
             container runtime in the cgroup path.",
            count(unknown_ns, "process", "processes")
        ));
    }
    out
}

/// Said when PSS came from `smaps` for some processes.
pub fn smaps_note(n: usize) -> String {
    format!(
        "PSS of {} summed from /proc/PID/smaps: this kernel has no smaps_rollup (before 4.14).",
        count(n, "process", "processes")
    )
}

fn ms(usec: u64) -> String {
    format!("{:.1}", usec as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processes::RowSource;
    use memscope_kernel::parse::pid::cgroup::ProcCgroup;
    use memscope_kernel::parse::pid::smaps_rollup::SmapsRollup;
    use memscope_kernel::parse::pid::stat::Stat;
    use memscope_kernel::parse::pid::status::Status;
    use memscope_model::{ProcessScan, Rollup};

    fn proc(
        pid: u32,
        comm: &str,
        uid: u32,
        rss_kb: u64,
        pss_kb: Option<u64>,
        cg: &str,
        ns: u64,
    ) -> ProcessSample {
        let status = Status::parse(&format!(
            "Name:\t{comm}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nVmRSS:\t{rss_kb} kB\nRssAnon:\t{rss_kb} kB\nVmSwap:\t0 kB\n"
        ));
        let rollup = match pss_kb {
            Some(p) => Rollup::Read(SmapsRollup::parse(&format!(
                "Rss: {rss_kb} kB\nPss: {p} kB\nPrivate_Clean: 0 kB\nPrivate_Dirty: {p} kB\nSwap: 0 kB\n"
            ))),
            None => Rollup::OverBudget,
        };
        ProcessSample {
            pid,
            stat: Stat::parse(&format!("{pid} ({comm}) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 1 1"))
                .map_err(|e| memscope_kernel::ReadError::from_parse("/proc/x/stat", e)),
            status: Ok(status.into()),
            rollup,
            cgroup: Ok(ProcCgroup::parse(&format!("0::{cg}\n")).into()),
            cmdline: Ok(vec![comm.to_string()]),
            namespaces: Some(Ok(Namespaces {
                ids: [("pid".to_string(), ns), ("mnt".to_string(), ns + 1)].into(),
            })),
            fds: None,
            pss_age_ms: None,
            exe: None,
        }
    }

    fn snap(procs: Vec<ProcessSample>) -> ProcessSnapshot {
        ProcessSnapshot {
            taken_at_unix_ms: 0,
            live: true,
            processes: procs,
            scan: ProcessScan { rollup_read: 2, rollup_over_budget: 1, ..ProcessScan::default() },
        }
    }

    fn opts(group_by: Option<GroupBy>) -> PsOptions {
        PsOptions {
            sort: SortKey::Pss,
            top: None,
            group_by,
            user_names: [(0, "root".to_string())].into(),
            host_namespaces: None,
            budget_ms: Some(5),
            max_rss_bytes: None,
            exe_targets: BTreeMap::new(),
            boot_time_seconds: None,
            container_names: None,
        }
    }

    const DOCKER: &str =
        "/system.slice/docker-3f4e1c9a2b7d8e6f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071.scope";

    #[test]
    fn estimates_rank_by_rss_and_are_counted() {
        let s = snap(vec![
            proc(10, "small", 0, 1000, Some(800), "/a", 1),
            proc(11, "big", 1000, 9000, None, "/a", 1),
            proc(12, "mid", 0, 5000, Some(4000), "/b", 1),
        ]);
        let ps = build(&s, None, None, &opts(None));
        let order: Vec<u32> = ps.processes.iter().map(|r| r.row.pid).collect();
        assert_eq!(order, vec![11, 12, 10]);
        assert_eq!(ps.processes[0].row.source, RowSource::Status);
        assert_eq!(ps.processes[0].user.as_deref(), Some("1000"));
        assert_eq!(ps.processes[1].user.as_deref(), Some("root"));
        assert_eq!(ps.totals.with_pss, 2);
        assert_eq!(ps.totals.pss_bytes, 4800 * 1024);
        assert_eq!(ps.totals.rss_covered_by_pss_bytes, 6000 * 1024);
        assert!(ps.notes.iter().any(|n| n.starts_with("1 of 3 is an estimate")), "{:?}", ps.notes);
        let by_pid = build(&s, None, None, &PsOptions { sort: SortKey::Pid, top: Some(2), ..opts(None) });
        assert_eq!(by_pid.processes.iter().map(|r| r.row.pid).collect::<Vec<_>>(), vec![10, 11]);
    }

    #[test]
    fn groups_by_user_and_cgroup() {
        let s = snap(vec![
            proc(10, "a", 0, 1000, Some(800), "/a", 1),
            proc(11, "b", 1000, 9000, None, "/a", 1),
            proc(12, "c", 0, 5000, Some(4000), "/b", 1),
        ]);
        let ps = build(&s, None, None, &opts(Some(GroupBy::User)));
        assert_eq!(ps.groups.len(), 2);
        assert_eq!(ps.groups[0].key, "1000");
        assert_eq!(ps.groups[0].rss_without_pss_bytes, 9000 * 1024);
        let root = &ps.groups[1];
        assert_eq!((root.key.as_str(), root.processes, root.with_pss), ("root", 2, 2));
        assert_eq!(root.pss_bytes, 4800 * 1024);
        let ps = build(&s, None, None, &opts(Some(GroupBy::Cgroup)));
        assert_eq!(ps.groups.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(), vec!["/a", "/b"]);
        assert_eq!(ps.groups[0].pids, vec![10, 11]);
    }

    #[test]
    fn containers_by_runtime_cgroup_and_by_namespaces() {
        let host = Namespaces { ids: [("pid".to_string(), 1), ("mnt".to_string(), 2)].into() };
        let s = snap(vec![
            proc(1, "init", 0, 1000, Some(900), "/init.scope", 1),
            proc(20, "nginx", 0, 3000, Some(2000), DOCKER, 50),
            proc(21, "nginx", 0, 3000, Some(2000), DOCKER, 50),
            proc(30, "bwrap-child", 1000, 500, Some(400), "/user.slice/app.scope", 70),
            proc(40, "bash", 0, 800, Some(700), "/user.slice/session.scope", 1),
            proc(41, "sh", 0, 600, Some(500), "/user.slice/session.scope", 1),
        ]);
        let ps = build(
            &s,
            None,
            None,
            &PsOptions { host_namespaces: Some(host), ..opts(Some(GroupBy::Container)) },
        );
        let keys: Vec<(&str, Option<&str>, usize)> =
            ps.groups.iter().map(|g| (g.key.as_str(), g.runtime, g.processes)).collect();
        assert_eq!(
            keys,
            vec![
                ("3f4e1c9a2b7d", Some("docker"), 2),
                ("host", Some("host"), 3),
                ("app.scope (mnt,pid ns)", Some("namespaces"), 1),
            ]
        );
        assert_eq!(
            ps.processes.iter().find(|r| r.row.pid == 20).unwrap().container.as_deref(),
            Some("3f4e1c9a2b7d")
        );
        let sandbox = ps.groups.iter().find(|g| g.runtime == Some("namespaces")).unwrap();
        assert_eq!(sandbox.id.as_deref(), Some("/user.slice/app.scope mnt:[71] pid:[70]"));
        // Without pid 1's namespaces, the namespaces most processes share are the host's.
        let ps = build(&s, None, None, &opts(Some(GroupBy::Container)));
        assert!(ps.groups.iter().any(|g| g.key == "host" && g.processes == 3));
    }

    #[test]
    fn ps_aux_columns_with_the_command_line_masked() {
        let mut p = proc(10, "myapp", 0, 1024, Some(800), "/a", 1);
        p.cmdline = Ok(vec!["/opt/app/bin/myapp".into(), "--password=hunter2".into(), "-v".into()]);
        p.stat = Stat::parse("10 (myapp) D 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 1 1")
            .map_err(|e| memscope_kernel::ReadError::from_parse("/proc/x/stat", e));
        let meminfo = Meminfo::parse("MemTotal: 4096 kB\n");
        let o = PsOptions {
            exe_targets: [(10, "/opt/app/bin/myapp-2.1 (deleted)".to_string())].into(),
            boot_time_seconds: Some(1_764_870_000),
            ..opts(None)
        };
        let ps = build(&snap(vec![p.clone()]), Some(&meminfo), None, &o);
        let r = &ps.processes[0];
        assert_eq!(r.command.as_deref(), Some("myapp-2.1 --password=*** -v"));
        assert_eq!(r.mem_percent, Some(25.0));
        assert_eq!(r.state, Some('D'));
        assert_eq!(r.started_after_boot_ms, Some(123_450));
        assert_eq!(r.started_at_unix_s, Some(1_764_870_123));
        // Without the exe link: the command name.
        let ps = build(&snap(vec![p.clone()]), None, None, &opts(None));
        assert_eq!(ps.processes[0].command.as_deref(), Some("myapp --password=*** -v"));
        assert_eq!((ps.processes[0].mem_percent, ps.processes[0].started_at_unix_s), (None, None));
        // A captured tree's command line was scrubbed when captured: as stored.
        let mut captured = snap(vec![p]);
        captured.live = false;
        captured.processes[0].cmdline = Ok(vec!["myapp-2.1".into()]);
        let ps = build(&captured, None, None, &opts(None));
        assert_eq!(ps.processes[0].command.as_deref(), Some("myapp-2.1"));
        // A tree holding a whole argv (copied by hand): masked all the same.
        captured.processes[0].cmdline = Ok(vec!["/opt/app/bin/myapp".into(), "--password=hunter2".into()]);
        let ps = build(&captured, None, None, &opts(None));
        assert_eq!(ps.processes[0].command.as_deref(), Some("myapp --password=***"));
        // A process title rewritten into argv[0], and a kernel thread.
        captured.processes[0].cmdline = Ok(vec!["postgres: walwriter   ".into()]);
        let ps = build(&captured, None, None, &opts(None));
        assert_eq!(ps.processes[0].command.as_deref(), Some("postgres: walwriter"));
        captured.processes[0].cmdline = Ok(vec![]);
        let ps = build(&captured, None, None, &opts(None));
        assert_eq!(ps.processes[0].command, None);
    }
}
