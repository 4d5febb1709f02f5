//! `memscope ps`: processes by PSS, USS, RSS or swap.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use memscope_analysis::processes::SortKey;
use memscope_analysis::ps::{self, GroupBy, PsOptions};
use memscope_kernel::KernelRoot;
use memscope_model::{CollectOptions, ProcessFilter, ProcessMode, ProcessSample, collect_processes};
use regex::Regex;

use super::cgroup_spec;
use crate::cli::{Global, PsArgs};
use crate::errors::{BadInput, bad_input};
use crate::output::{self, Format};
use memscope_kernel::users;

pub fn run(root: &KernelRoot, g: &Global, a: &PsArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let pattern = a
        .pattern
        .as_deref()
        .map(Regex::new)
        .transpose()
        .map_err(|e| BadInput(format!("PATTERN is not a valid regular expression: {e}")))?;
    let mut uids = BTreeSet::new();
    for u in &a.users {
        match users::uid_of(root, u) {
            Some(uid) => uids.insert(uid),
            None => bad_input!("--user {u}: no such user (not in the passwd file, and not a number)"),
        };
    }
    // Resolved before the scan: a name that matches nothing is bad input.
    let cgroup = a.cgroup.as_deref().map(|spec| cgroup_spec::resolve(root, spec)).transpose()?;
    let cgroup_path = cgroup.as_ref().map(|c| c.path.clone());
    let filters_by_cgroup = cgroup.is_some();
    let full = a.full;
    // Only the running system holds this very process.
    // Asked for by pid, it is listed.
    let me = (root.is_live() && !a.include_self).then(std::process::id).filter(|m| !a.pids.contains(m));
    let filter = (pattern.is_some() || !uids.is_empty() || cgroup.is_some()).then(|| {
        ProcessFilter::new(move |p: &ProcessSample| {
            // A process whose cgroup file could not be read is in no cgroup we know of.
            if let Some(c) = &cgroup
                && !p.cgroup.as_ref().is_ok_and(|cg| c.contains(cg))
            {
                return false;
            }
            let uid_ok = uids.is_empty()
                || p.status.as_ref().ok().and_then(|s| s.uid()).is_some_and(|u| uids.contains(&u));
            let name_ok = match &pattern {
                None => true,
                Some(re) if full => p.cmdline.as_ref().is_ok_and(|c| re.is_match(&c.join(" "))),
                Some(re) => re.is_match(&p.comm()),
            };
            uid_ok && name_ok
        })
    });
    let opts = CollectOptions {
        processes: if a.fast { ProcessMode::StatusOnly } else { ProcessMode::Full },
        rollup_budget: a.budget_ms.map(Duration::from_millis),
        rollup_max_rss_bytes: a.max_rss,
        pids: (!a.pids.is_empty()).then(|| a.pids.clone()),
        namespaces: a.group_by == Some(GroupBy::Container),
        // The table shows no cgroup: it is read to group or filter by it,
        // and for the JSON and CSV rows.
        skip_cgroup: format == Format::Table
            && !filters_by_cgroup
            && !matches!(a.group_by, Some(GroupBy::Cgroup | GroupBy::Container)),
        // Counting descriptors costs one stat and one small read per process.
        fds: a.sort == SortKey::Fds,
        // What a row shows: not the signal masks, capabilities, CPU lists,
        // nor the sizes of the address space.
        status_keys: memscope_model::ROW_STATUS,
        filter,
        exclude_pids: me.into_iter().collect(),
        exe: true,
        // Neither the table nor the rows list kernel threads.
        kernel_threads_stat_only: true,
        ..CollectOptions::default()
    };
    let snap = collect_processes(root, &opts);
    let meminfo = root.meminfo().ok();
    if !a.pids.is_empty() && snap.processes.is_empty() {
        bail!("no such process: {}", a.pids.iter().map(u32::to_string).collect::<Vec<_>>().join(", "));
    }
    let uids_seen = snap.processes.iter().filter_map(|p| p.status.as_ref().ok()?.uid());
    let user_names = users::names(root, uids_seen.collect::<BTreeSet<_>>());
    // The exe links name each command line's program, as capture does; a
    // captured tree holds no links (its command lines are scrubbed already).
    let exe_targets = snap.processes.iter().filter_map(|p| Some((p.pid, p.exe.clone()?.ok()?))).collect();
    let host_namespaces =
        if a.group_by == Some(GroupBy::Container) { root.pid_namespaces(1).ok() } else { None };
    let mut view = ps::build(
        &snap,
        meminfo.as_ref(),
        root.osrelease().ok(),
        &PsOptions {
            sort: a.sort,
            top: a.top,
            group_by: a.group_by,
            user_names,
            host_namespaces,
            budget_ms: a.budget_ms,
            max_rss_bytes: a.max_rss,
            exe_targets,
            boot_time_seconds: root.boot_time_seconds().ok(),
            container_names: (a.group_by == Some(GroupBy::Container))
                .then(|| memscope_model::containers::read(root)),
        },
    );
    if let (Some(path), Some(spec)) = (&cgroup_path, &a.cgroup) {
        let named = if spec == path { String::new() } else { format!(" (`{spec}`)") };
        view.notes
            .insert(0, format!("Only the processes of memory cgroup {path}{named} and its descendants."));
    }
    output::emit(format, &style, &view)?;
    // The process exits next: freeing thousands of samples and rows one by
    // one would cost more than the exit (about 5 % of `ps` with 3,000).
    std::mem::forget((snap, view));
    Ok(ExitCode::SUCCESS)
}
