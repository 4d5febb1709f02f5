//! `memscope rt check` and `memscope rt latency`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use memscope_analysis::rt::report::{self, ReportOptions};
use memscope_control::rt::latency::{self, LatencyError};
use memscope_control::rt::sched;
use memscope_export::rt as render;
use memscope_kernel::parse::sysfs::parse_list;
use memscope_kernel::{KernelRoot, paths};
use memscope_model::rt::latency::{LatencyOptions, ProgressView};
use memscope_model::rt::vmstat::Sampler;

use crate::cli::{Global, RtArgs, RtCheckArgs, RtCommand, RtLatencyArgs};
use crate::output::{self, Format};

pub fn run(root: &KernelRoot, g: &Global, a: &RtArgs) -> anyhow::Result<ExitCode> {
    match &a.command {
        RtCommand::Check(c) => check(root, g, c),
        RtCommand::Latency(l) => latency(root, g, l),
    }
}

fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn check(root: &KernelRoot, g: &Global, a: &RtCheckArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let mut w = output::stdout();
    if a.explain {
        render::write_explain(&mut w, &style)?;
        output::finish(w)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(pid) = a.pid
        && !root.has_process(pid)
    {
        bail!("no process {pid}{}", if root.is_live() { "" } else { " in the captured tree" });
    }
    let taken = now_unix_ms();
    let report = memscope_analysis::rt::check(&memscope_model::rt::rt_facts(root, a.pid, Some(a.window)));
    match format {
        Format::Json => render::write_check_json(&mut w, &report, taken)?,
        Format::Csv => render::write_check_csv(&mut w, &report)?,
        Format::Table => render::write_check_table(&mut w, &style, &report)?,
    }
    output::finish(w)?;
    Ok(ExitCode::SUCCESS)
}

fn latency(root: &KernelRoot, g: &Global, a: &RtLatencyArgs) -> anyhow::Result<ExitCode> {
    if !root.is_live() {
        bail!("rt latency measures the running system; it cannot run on a captured tree (--root)");
    }
    let (format, style) = output::choose(g);
    let allowed = sched::allowed_cpus().context("reading this process's CPU affinity")?;
    let cpus = match &a.cpus {
        Some(list) => parse_list(list)
            .filter(|l| !l.is_empty())
            .with_context(|| format!("`{list}` is not a CPU list (example: 0-3,6)"))?,
        None => {
            let online = root.cpu_list(paths::CPU_ONLINE).unwrap_or_else(|_| allowed.clone());
            allowed.iter().copied().filter(|c| online.contains(c)).collect()
        }
    };
    let interval = Duration::from_micros(a.interval);
    let loops = match (a.loops, a.duration) {
        (Some(n), _) => n,
        (None, d) => {
            let d = d.unwrap_or(Duration::from_secs(10));
            (d.as_nanos() / interval.as_nanos().max(1)).max(1) as u64
        }
    };
    let opts = LatencyOptions {
        cpus,
        priority: a.priority,
        interval,
        loops,
        mlock: !a.no_mlock,
        dma_latency_usec: a.dma_latency,
        force: a.force,
    };
    if a.priority == 0 && a.force {
        eprintln!(
            "memscope: WARNING: measuring at normal priority (SCHED_OTHER): the figures describe the fair \
             scheduler under this load, not real-time latency"
        );
    }

    let live = !a.quiet && std::io::stderr().is_terminal();
    let memory_period = Duration::from_millis(a.memory_interval.max(1));
    let mut sampler = a.with_memory.then(|| Sampler::new(root.clone(), memory_period));
    let mono = || {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    };
    if let Some(s) = sampler.as_mut() {
        s.poll(mono(), true);
    }
    let started = Instant::now();
    let mut last_line = Instant::now() - Duration::from_secs(1);
    let tick_every = if a.with_memory {
        memory_period.min(Duration::from_millis(250))
    } else {
        Duration::from_millis(250)
    };
    let mut tick = |views: &[ProgressView]| {
        if let Some(s) = sampler.as_mut() {
            s.poll(mono(), false);
        }
        if live && last_line.elapsed() >= Duration::from_millis(250) {
            last_line = Instant::now();
            let line = render::progress_line(views, started.elapsed().as_secs_f64());
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[2K{line}");
            let _ = e.flush();
        }
    };
    let result = latency::run(&opts, root, tick_every, &mut tick);
    if live {
        eprint!("\r\x1b[2K");
    }
    let run = result.map_err(|e| explain_error(root, e, a.priority, a.no_mlock))?;
    if let Some(s) = sampler.as_mut() {
        s.poll(mono(), true);
    }
    let (memory, memory_error) = match sampler {
        Some(s) => (Some((s.samples, memory_period.as_nanos() as u64)), s.error.map(|e| e.to_string())),
        None => (None, None),
    };
    let rep = report::build(
        &run,
        &ReportOptions { edges_usec: a.histogram.clone(), top: a.top, memory, memory_error },
    );
    for warning in &rep.warnings {
        eprintln!("memscope: WARNING: {warning}");
    }
    let mut w = output::stdout();
    match format {
        Format::Json => {
            let kernel = root.osrelease().ok();
            let host = root.read_text(paths::HOSTNAME).ok().map(|h| h.trim().to_string());
            render::write_latency_json(&mut w, &rep, kernel.as_deref(), host.as_deref())?
        }
        Format::Csv => render::write_latency_csv(&mut w, &rep)?,
        Format::Table => render::write_latency_table(&mut w, &style, &rep)?,
    }
    output::finish(w)?;
    Ok(ExitCode::SUCCESS)
}

/// Add what would fix a refused policy or memory lock.
fn explain_error(root: &KernelRoot, e: LatencyError, priority: u8, no_mlock: bool) -> anyhow::Error {
    let limits = root.pid_limits(std::process::id()).ok();
    let limit = |name: &str| {
        limits.as_ref().and_then(|l| l.get(name)).map(|l| l.soft.to_string()).unwrap_or_else(|| "?".into())
    };
    let hint = match &e {
        LatencyError::Policy { .. } => {
            let budget = memscope_model::rt::process::rt_budget(root, std::process::id())
                .ok()
                .flatten()
                .filter(|(_, v)| *v == 0)
                .map(|(file, _)| format!("; its cgroup allows RT tasks no time ({file} is 0)"))
                .unwrap_or_default();
            format!(
                "SCHED_FIFO needs root or CAP_SYS_NICE, or RLIMIT_RTPRIO ≥ {priority} (this session: {}){budget}. \
                 `memscope rt check` shows the session's limits; --force measures at normal priority (meaningless \
                 for real time)",
                limit("Max realtime priority"),
            )
        }
        LatencyError::Mlock(_) => format!(
            "locking memory needs root or CAP_IPC_LOCK, or RLIMIT_MEMLOCK large enough (this session: {} bytes); \
             --no-mlock or --force measure without it",
            limit("Max locked memory")
        ),
        LatencyError::DmaLatency(_) => format!("{} is writable by root only", paths::CPU_DMA_LATENCY),
        LatencyError::Spawn(_) if !no_mlock => format!(
            "with mlockall(MCL_FUTURE) each thread's stack is locked when it starts, and RLIMIT_MEMLOCK (this \
             session: {} bytes) may not allow it; --no-mlock measures without locking",
            limit("Max locked memory")
        ),
        _ => return anyhow::Error::new(e),
    };
    anyhow::anyhow!("{e}. {hint}")
}
