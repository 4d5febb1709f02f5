//! `memscope run [limits] -- CMD…`: run a command in a transient cgroup
//! and print what it used. See `memscope_control::cgroup::run` for the
//! mechanics (joining before exec, signals, removal on every path).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use memscope_control::cgroup::run::{RunError, RunSpec, run as run_in_cgroup};
use memscope_control::cgroup::transient::Limits;
use memscope_export::Style;
use memscope_export::run as out;
use memscope_kernel::KernelRoot;

use crate::cli::{Global, RunArgs, SummaryFormat};

pub fn run(root: &KernelRoot, g: &Global, a: &RunArgs) -> anyhow::Result<ExitCode> {
    if !root.is_live() {
        bail!("memscope run works on the running system only: --root reads a captured tree");
    }
    if g.csv {
        bail!("memscope run has no CSV output; --summary json gives a machine-readable summary");
    }
    let format = if g.json { SummaryFormat::Json } else { a.summary };
    let Some((program, args)) = a.command.split_first() else { bail!("no command given") };
    let spec = RunSpec {
        program: program.clone(),
        args: args.to_vec(),
        name: a.name.clone().unwrap_or_else(|| format!("run-{}", std::process::id())),
        limits: Limits {
            memory_bytes: a.memory,
            swap_bytes: a.swap,
            cpus: a.cpus.as_ref().map(|l| l.0.clone()),
            mems: a.mems.as_ref().map(|l| l.0.clone()),
            pids: a.pids,
        },
    };
    // Kernel log stamps count from boot on the monotonic clock; a second
    // of slack for the clocks' rounding.
    let started_usec = {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        (t.tv_sec as u64 * 1_000_000 + t.tv_nsec as u64 / 1000).saturating_sub(1_000_000)
    };
    let report = match run_in_cgroup(root, &spec) {
        Ok(r) => r,
        Err(e) => {
            let msg = match &e {
                RunError::Spawn { program, error, .. } if error.kind() == std::io::ErrorKind::NotFound => {
                    format!("cannot run `{program}`: command not found")
                }
                other => other.to_string(),
            };
            eprintln!("memscope: {msg}");
            if let RunError::Spawn { cleanup: Some(c), .. } = &e {
                eprintln!("memscope: {c}");
            }
            return Ok(ExitCode::from(e.exit_status()));
        }
    };
    let style = stderr_style(g);
    let mut buf: Vec<u8> = Vec::new();
    match format {
        SummaryFormat::Text => {
            out::write_text(&mut buf, &report, &style)?;
            if matches!(report.oom_kills, Ok(n) if n > 0) {
                memscope_export::oom::write_run_oom_text(
                    &mut buf,
                    &explain_kill(root, &report, started_usec),
                    &style,
                )?;
            }
        }
        SummaryFormat::Json => {
            let mut doc = out::to_json(&report);
            let (oom, why) = match &report.oom_kills {
                Ok(0) => (serde_json::Value::Null, None),
                Ok(_) => match explain_kill(root, &report, started_usec) {
                    Ok(o) if o.kill.is_some() => (memscope_export::oom::run_oom_json(&o), None),
                    Ok(o) => (serde_json::Value::Null, o.reason),
                    Err(why) => (serde_json::Value::Null, Some(why)),
                },
                Err(e) => (
                    serde_json::Value::Null,
                    Some(format!(
                        "the cgroup's OOM kill count is unavailable: {}",
                        memscope_analysis::cgroups::unavailable_reason(e)
                    )),
                ),
            };
            doc["oom"] = oom;
            if let (Some(why), Some(gaps)) = (why, doc["unavailable"].as_object_mut()) {
                gaps.insert("oom".into(), serde_json::Value::String(why));
            }
            serde_json::to_writer(&mut buf, &doc)?;
            buf.push(b'\n');
        }
        SummaryFormat::None => {}
    }
    match &a.summary_file {
        Some(path) => std::fs::write(path, &buf).with_context(|| format!("writing {}", path.display()))?,
        None => {
            let mut e = std::io::stderr().lock();
            let _ = e.write_all(&buf);
        }
    }
    if let Some(c) = &report.cleanup_error {
        eprintln!("memscope: the cgroup could not be removed: {c}");
    }
    Ok(ExitCode::from(report.exit.shell_status()))
}

/// The kernel's report of the kill in the run's cgroup, read from the log
/// since the command started; why not, when the log is unreadable.
fn explain_kill(
    root: &KernelRoot,
    r: &memscope_control::cgroup::run::RunReport,
    started_usec: u64,
) -> Result<memscope_analysis::oom_timeline::RunOom, String> {
    let input = memscope_model::oom::read(root);
    let log = input.log.map_err(|e| {
        format!(
            "the kernel log is unavailable ({}); the cgroup's own count is in oom_kills",
            memscope_analysis::hints::unavailable_reason(&e)
        )
    })?;
    Ok(memscope_analysis::oom_timeline::run_kill(
        &log,
        &r.plan.path,
        r.pid,
        started_usec,
        input.boot_time_seconds.ok(),
        root.page_size(),
        r.peak_memory_bytes.as_ref().ok().copied(),
    ))
}

/// Colour on stderr only when it is a terminal (and not turned off).
fn stderr_style(g: &Global) -> Style {
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Style {
        color: !g.no_color && !no_color_env && std::io::stderr().is_terminal(),
        all: false,
        width: 100,
        fit: None,
    }
}
