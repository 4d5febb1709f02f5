//! `memscope trace --pid PID` (also `--comm`, `--cgroup`): which code of a
//! running process holds the memory it allocated during the window, with
//! the process's own growth beside it. The tracer is
//! `memscope_trace::trace_user` (uprobes, eBPF).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use memscope_analysis::utrace::{ProcessMemory, UserReportOptions, build};
use memscope_control::signals::SignalBlock;
use memscope_export::utrace as out;
use memscope_kernel::KernelRoot;
use memscope_kernel::cgroup::{CgroupReader, LayoutKind};
use memscope_trace::{TraceError, UserTraceOptions};

use crate::cli::{Global, TraceArgs};
use crate::output::{self, Format};

/// At most this many processes are probed at once (each costs a uprobe and
/// a uretprobe per allocator function).
const MAX_PROCESSES: usize = 64;

fn memory(root: &KernelRoot, pid: u32) -> ProcessMemory {
    let rollup = root.pid_smaps_rollup(pid).ok();
    let maps = root.pid_maps(pid).ok();
    ProcessMemory::from_kernel(rollup.as_ref(), maps.as_ref())
}

/// The processes `--pid`, `--comm` and `--cgroup` name.
fn targets(root: &KernelRoot, a: &TraceArgs) -> anyhow::Result<Vec<u32>> {
    let mut pids = a.pid.clone();
    if let Some(name) = &a.comm {
        let me = std::process::id();
        let found: Vec<u32> = root
            .pids()
            .context("listing processes")?
            .into_iter()
            .filter(|p| *p != me && root.pid_stat(*p).is_ok_and(|s| &s.comm == name))
            .collect();
        if found.is_empty() {
            bail!("no process is named {name:?} (the command name, as `ps -o comm` shows it)");
        }
        pids.extend(found);
    }
    if let Some(path) = &a.cgroup {
        let reader = CgroupReader::detect(root).ok().filter(|r| r.layout().kind != LayoutKind::None);
        let Some(v2) = reader.as_ref().and_then(|r| r.layout().v2()) else {
            bail!("--cgroup takes a cgroup v2 path, and no cgroup v2 hierarchy is mounted")
        };
        if v2.dir_of(path).is_none() {
            bail!("{path} is outside the cgroup v2 hierarchy visible here ({})", v2.mount_point)
        }
        let Some(dir) = reader.as_ref().and_then(|r| r.dir(v2, path)) else {
            bail!("no cgroup {path} in the cgroup v2 hierarchy ({})", v2.mount_point)
        };
        let text = dir.read_text("cgroup.procs").with_context(|| format!("cgroup {path}"))?;
        let (found, _) = memscope_kernel::parse::cgroupfs::parse_ids(&text);
        if found.is_empty() {
            bail!("cgroup {path} has no process");
        }
        pids.extend(found);
    }
    pids.sort_unstable();
    pids.dedup();
    if pids.len() > MAX_PROCESSES {
        bail!("{} processes selected: memscope traces at most {MAX_PROCESSES} at once", pids.len());
    }
    Ok(pids)
}

pub fn run(root: &KernelRoot, g: &Global, a: &TraceArgs, signals: &SignalBlock) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let folded_to_stdout = a.folded.as_deref() == Some(Path::new("-"));
    if folded_to_stdout && (g.json || g.csv) {
        bail!("--folded - writes the stacks to standard output: it cannot be combined with --json or --csv");
    }
    let mut folded_file = match &a.folded {
        Some(p) if !folded_to_stdout => {
            Some(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?)
        }
        _ => None,
    };
    let pids = targets(root, a)?;
    let opts = UserTraceOptions {
        sample_every: a.sample,
        min_size_bytes: a.min_size,
        max_allocations: a.max_allocs,
        max_stacks: a.max_stacks,
    };
    let result = memscope_trace::trace_user(root, &opts, &pids, |session| -> anyhow::Result<_> {
        let before: BTreeMap<u32, ProcessMemory> = pids.iter().map(|p| (*p, memory(root, *p))).collect();
        let ids: Vec<String> = session.program_ids().iter().map(|i| i.to_string()).collect();
        let who: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
        eprintln!(
            "memscope: tracing the allocations of process {} for {} (BPF programs {}); Ctrl-C ends the \
             window early",
            who.join(", "),
            humantime::format_duration(a.duration),
            ids.join(", ")
        );
        let deadline = Instant::now() + a.duration;
        let mut ended_by = None;
        // The window also ends when every target has exited.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if let Some((sig, _)) = signals.wait(left.min(std::time::Duration::from_millis(500))) {
                ended_by = Some(sig);
                break;
            }
            if pids.iter().all(|p| !root.has_process(*p)) {
                eprintln!("memscope: every traced process has exited: the window ends");
                break;
            }
        }
        if let Some(sig) = ended_by {
            eprintln!("memscope: {} ends the window early", memscope_control::cgroup::run::signal_name(sig));
        }
        let after: BTreeMap<u32, ProcessMemory> = pids.iter().map(|p| (*p, memory(root, *p))).collect();
        Ok((before, after, ended_by))
    });
    let ((before, after, ended_by), sample) = match result {
        Ok(r) => r,
        Err(e) => return Ok(report_failure(e)),
    };
    let mut mem = BTreeMap::new();
    for p in &pids {
        let b = before.get(p).cloned().unwrap_or_default();
        let af = after.get(p).cloned().unwrap_or_default();
        mem.insert(*p, (b, af));
    }
    let ropts = UserReportOptions { min_bytes: a.min_bytes, top: a.top, depth: a.depth };
    let mut report = build(&sample, &mem, &ropts);
    if let Some(sig) = ended_by {
        report.notes.insert(
            0,
            format!(
                "The window was ended early by {} after {:.1} s.",
                memscope_control::cgroup::run::signal_name(sig),
                report.window_seconds
            ),
        );
    }
    if folded_to_stdout {
        let mut w = output::stdout();
        out::write_folded(&mut w, &report)?;
        output::finish(w)?;
        let mut e = std::io::stderr().lock();
        out::write_text(&mut e, &report, &sample, &memscope_export::Style::plain())?;
        return Ok(ExitCode::SUCCESS);
    }
    if let (Some(f), Some(p)) = (folded_file.as_mut(), &a.folded) {
        let mut bw = std::io::BufWriter::new(f);
        out::write_folded(&mut bw, &report).with_context(|| format!("writing {}", p.display()))?;
        bw.flush().with_context(|| format!("writing {}", p.display()))?;
        eprintln!("memscope: folded stacks written to {}", p.display());
    }
    let mut w = output::stdout();
    match format {
        Format::Json => out::write_json(&mut w, &report, &sample)?,
        Format::Csv => out::write_csv(&mut w, &report)?,
        Format::Table => out::write_text(&mut w, &report, &sample, &style)?,
    }
    output::finish(w)?;
    Ok(ExitCode::SUCCESS)
}

/// Say why tracing failed and what would help; exit status 1.
fn report_failure(e: anyhow::Error) -> ExitCode {
    match e.downcast_ref::<TraceError>() {
        Some(te) => {
            eprintln!("memscope: cannot trace user allocations: {te}");
            let log = te.log();
            if !log.is_empty() {
                eprintln!("memscope: libbpf said:");
                for l in log.iter().rev().take(30).rev() {
                    eprintln!("  {l}");
                }
            }
            if let Some(r) = te.remedy() {
                eprintln!("memscope: {r}");
            }
        }
        None => eprintln!("memscope: {e:#}"),
    }
    ExitCode::from(1)
}
