//! `memscope pressure`: memory pressure (PSI) now, or with `--watch` at each
//! threshold crossing of a PSI trigger, with what grew meanwhile.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use memscope_analysis::pressure::{self, PressureView, top_growth};
use memscope_export::pressure::{self as out, PressureEvent, PressureNow};
use memscope_kernel::cgroup::{Layout, LayoutKind};
use memscope_kernel::parse::pressure::Trigger;
use memscope_kernel::read::TriggerWait;
use memscope_kernel::{KernelRoot, ReadError, paths};
use memscope_model::cgroups::tree::read_tree;
use memscope_model::now_unix_ms;

use crate::cli::{Global, PressureArgs};
use crate::output::{self, Format};

pub fn run(root: &KernelRoot, g: &Global, a: &PressureArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let source = match &a.cgroup {
        None => paths::PRESSURE_MEMORY.to_string(),
        Some(path) => cgroup_pressure_path(root, path)?,
    };
    // A captured tree was read when its MANIFEST says.
    let captured_at = (!root.is_live())
        .then(|| root.manifest().get("captured_at_unix_ms").and_then(|t| t.parse::<u64>().ok()))
        .flatten();
    let read_now = || PressureNow {
        source: source.clone(),
        taken_at_unix_ms: captured_at.unwrap_or_else(now_unix_ms),
        view: PressureView::of(&root.pressure_file(&source), root.is_live()),
    };
    if !a.watch {
        let now = read_now();
        let mut w = output::stdout();
        match format {
            Format::Json => out::write_now_json(&mut w, &now)?,
            _ => out::write_now_table(&mut w, &now, &style)?,
        }
        output::finish(w)?;
        return Ok(ExitCode::SUCCESS);
    }

    let trigger = Trigger {
        full: a.full,
        threshold_usec: a.threshold.as_micros() as u64,
        window_usec: a.window.as_micros() as u64,
    };
    let (armed, trigger) = arm(root, &source, trigger)?;
    let layout = Layout::detect(root).ok().filter(|l| l.kind != LayoutKind::None);
    let mut procs_before = process_rss(root);
    let mut cgroups_before = cgroup_charges(root, layout.as_ref());
    let mut stall_before = root.pressure_file(&source).ok().and_then(|p| p.some.map(|l| l.total_usec));
    let started = Instant::now();
    let mut events = 0u64;
    let trigger_text = trigger.text().trim_end_matches('\0').to_string();
    if format != Format::Json {
        eprintln!(
            "Watching {source}: an event when `{}` stalls exceed {} ms within {} ms (trigger `{trigger_text}`).",
            if trigger.full { "full" } else { "some" },
            trigger.threshold_usec / 1000,
            trigger.window_usec / 1000,
        );
    }
    loop {
        if a.count.is_some_and(|c| events >= c) {
            break;
        }
        let remaining = match a.duration {
            Some(d) => match d.checked_sub(started.elapsed()) {
                Some(r) if !r.is_zero() => r,
                _ => break,
            },
            None => Duration::from_secs(3600),
        };
        match armed.wait(remaining.min(Duration::from_secs(1))) {
            Ok(TriggerWait::TimedOut) => continue,
            Ok(TriggerWait::Fired) => {}
            Err(ReadError::NotReported { path, .. }) => bail!("{path} went away (the cgroup was removed)"),
            Err(e) => return Err(e.into()),
        }
        events += 1;
        let now = read_now();
        let stall_now = now.view.some.map(|l| l.total_usec);
        let procs_now = process_rss(root);
        let cgroups_now = cgroup_charges(root, layout.as_ref());
        let event = PressureEvent {
            event: events,
            trigger: trigger_text.clone(),
            stall_usec: match (stall_before, stall_now) {
                (Some(b), Some(n)) => n.checked_sub(b),
                _ => None,
            },
            processes: top_growth(&to_map(&procs_before), &procs_now, a.top),
            cgroups: top_growth(&to_map(&cgroups_before), &cgroups_now, a.top),
            now,
        };
        let mut w = output::stdout();
        match format {
            Format::Json => out::write_event_json(&mut w, &event)?,
            _ => out::write_event_line(&mut w, &event, &style)?,
        }
        output::finish(w)?;
        procs_before = procs_now;
        cgroups_before = cgroups_now;
        stall_before = stall_now;
    }
    if format != Format::Json {
        eprintln!("{events} event(s) in {:.1} s.", started.elapsed().as_secs_f64());
    }
    Ok(ExitCode::SUCCESS)
}

/// The kernel path of a v2 cgroup's `memory.pressure`.
fn cgroup_pressure_path(root: &KernelRoot, path: &str) -> anyhow::Result<String> {
    let layout = Layout::detect(root).context("cannot find the cgroup hierarchies")?;
    let Some(v2) = layout.v2() else {
        bail!("memory.pressure exists in cgroup v2 only, and no cgroup v2 hierarchy is mounted")
    };
    let Some(dir) = v2.dir_of(path) else {
        bail!("{path} is outside the cgroup v2 hierarchy visible here ({})", v2.mount_point)
    };
    if !root.is_dir(&dir) {
        bail!("no cgroup {path} in the cgroup v2 hierarchy ({dir} does not exist)");
    }
    Ok(format!("{dir}/{}", paths::CGROUP_MEMORY_PRESSURE))
}

/// Arm the trigger. Without CAP_SYS_RESOURCE, 6.x kernels accept only
/// windows that are a multiple of 2 s (kernel/sched/psi.c
/// `psi_trigger_create`): a window the kernel refuses for that reason is
/// rounded up to the next multiple of 2 s, and the user told.
fn arm(
    root: &KernelRoot,
    source: &str,
    t: Trigger,
) -> anyhow::Result<(memscope_kernel::read::PressureTrigger, Trigger)> {
    const TWO_S: u64 = 2_000_000;
    match root.pressure_trigger(source, &t) {
        Ok(armed) => Ok((armed, t)),
        Err(ReadError::Io { message, .. })
            if message.contains("Invalid argument")
                && !t.window_usec.is_multiple_of(TWO_S)
                && t.window_usec.div_ceil(TWO_S) * TWO_S <= 10_000_000 =>
        {
            let rounded = Trigger { window_usec: t.window_usec.div_ceil(TWO_S) * TWO_S, ..t };
            let armed = root.pressure_trigger(source, &rounded).map_err(|e| trigger_error(e, &t, root))?;
            eprintln!(
                "The kernel refused a {} ms window (without CAP_SYS_RESOURCE windows must be a multiple of \
                 2 s): watching with {} ms.",
                t.window_usec / 1000,
                rounded.window_usec / 1000
            );
            Ok((armed, rounded))
        }
        Err(e) => Err(trigger_error(e, &t, root)),
    }
}

/// Explain why the kernel refused a trigger.
fn trigger_error(e: ReadError, t: &Trigger, root: &KernelRoot) -> anyhow::Error {
    let why = pressure::reason(&e, root.is_live());
    match &e {
        ReadError::Io { message, .. } if message.contains("Invalid argument") => anyhow::anyhow!(
            "{why}: the kernel refused the trigger `{}` (windows 500 ms to 10 s, threshold at most the \
             window; without CAP_SYS_RESOURCE a window that is a multiple of 2 s)",
            t.text().trim_end_matches('\0')
        ),
        ReadError::PermissionDenied { .. } => anyhow::anyhow!(
            "cannot arm a PSI trigger: {why} (kernels before unprivileged triggers, 6.5, let only root open \
             pressure files for writing; `memscope pressure` without --watch reads the figures)"
        ),
        _ => anyhow::anyhow!("cannot arm a PSI trigger: {why}"),
    }
}

/// Every process's RSS (`VmRSS` of `/proc/PID/status`: cheap); processes
/// without an address space, gone or unreadable are left out.
fn process_rss(root: &KernelRoot) -> Vec<(u32, String, u64)> {
    let Ok(pids) = root.pids() else { return Vec::new() };
    pids.into_iter()
        .filter_map(|pid| {
            let st = root.pid_status(pid).ok()?;
            let rss = st.get("VmRSS")?;
            Some((pid, st.text.get("Name").cloned().unwrap_or_else(|| "?".into()), rss))
        })
        .collect()
}

/// Every memory cgroup's charge (`memory.current` / `usage_in_bytes`).
fn cgroup_charges(root: &KernelRoot, layout: Option<&Layout>) -> Vec<(String, String, u64)> {
    let Some(layout) = layout else { return Vec::new() };
    read_tree(root, layout)
        .cgroups
        .into_iter()
        .filter(|c| c.path != "/")
        .filter_map(|c| {
            let cur = *c.memory.as_ref()?.current_bytes.as_ref().ok()?;
            Some((c.path.clone(), c.path, cur))
        })
        .collect()
}

fn to_map<K: Ord + Clone>(v: &[(K, String, u64)]) -> BTreeMap<K, u64> {
    v.iter().map(|(k, _, b)| (k.clone(), *b)).collect()
}
