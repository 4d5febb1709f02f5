//! `memscope trace`: which kernel code allocated the memory that is still
//! held, over a window, beside the ledger's growth over the same window.
//! The tracer is `memscope_trace` (eBPF); `--allocinfo` reads the kernel's
//! own per-call-site counters instead.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use memscope_analysis::ledger::{self, LedgerOptions};
use memscope_analysis::trace::{TraceReportOptions, build};
use memscope_control::signals::SignalBlock;
use memscope_export::trace as out;
use memscope_kernel::{KernelRoot, ReadError, paths};
use memscope_model::collect_system;
use memscope_model::trace::What;
use memscope_trace::{TraceError, TraceOptions};

use crate::cli::{Global, TraceArgs, WhatArg};
use crate::output::{self, Format};

/// Signals that end the window early (the report is still printed).
const ENDING: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

struct Window {
    before: Option<ledger::Ledger>,
    after: Option<ledger::Ledger>,
    ended_by: Option<i32>,
}

fn ledger_now(root: &KernelRoot) -> Option<ledger::Ledger> {
    ledger::build(&collect_system(root), &LedgerOptions::default()).ok()
}

/// Wait until `deadline` or one of the blocked signals; call `tick` about
/// once a second.
fn wait(signals: &SignalBlock, deadline: Instant, mut tick: impl FnMut()) -> Option<i32> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        if let Some((sig, _)) = signals.wait(left.min(Duration::from_secs(1))) {
            return Some(sig);
        }
        tick();
    }
}

fn signal_name(sig: i32) -> String {
    memscope_control::cgroup::run::signal_name(sig)
}

pub fn run(root: &KernelRoot, g: &Global, a: &TraceArgs) -> anyhow::Result<ExitCode> {
    // Before any thread starts: threads inherit the mask.
    let signals = SignalBlock::new(&ENDING);
    if a.allocinfo {
        if a.folded.is_some() {
            bail!("--folded needs stacks, which only the eBPF tracer records: drop --allocinfo");
        }
        return allocinfo(root, g, a, &signals);
    }
    if !a.pid.is_empty() || a.comm.is_some() || a.cgroup.is_some() {
        return super::utrace::run(root, g, a, &signals);
    }
    let (format, style) = output::choose(g);
    let folded_to_stdout = a.folded.as_deref() == Some(Path::new("-"));
    if folded_to_stdout && (g.json || g.csv) {
        bail!("--folded - writes the stacks to standard output: it cannot be combined with --json or --csv");
    }
    // Open the folded file first: a bad path fails before tracing.
    let mut folded_file = match &a.folded {
        Some(p) if !folded_to_stdout => {
            Some(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?)
        }
        _ => None,
    };
    let opts = TraceOptions {
        what: match a.what {
            WhatArg::Pages => What::Pages,
            WhatArg::Slab => What::Slab,
            WhatArg::All => What::All,
        },
        sample_every: a.sample,
        max_allocations: a.max_allocs,
        max_stacks: a.max_stacks,
        kernel_only: a.kernel_only,
    };
    let result = memscope_trace::trace(root, &opts, |session| -> anyhow::Result<Window> {
        let before = ledger_now(root);
        let ids: Vec<String> = session.program_ids().iter().map(|i| i.to_string()).collect();
        eprintln!(
            "memscope: tracing {}{} for {} (BPF programs {}); Ctrl-C ends the window early",
            opts.what.name(),
            if opts.kernel_only { ", kernel only" } else { "" },
            humantime::format_duration(a.duration),
            ids.join(", ")
        );
        let mut warned = false;
        let ended_by = wait(&signals, Instant::now() + a.duration, || {
            if warned {
                return;
            }
            if let Ok(c) = session.counters()
                && c.dropped_table_full > 0
            {
                eprintln!(
                    "memscope: the live-allocation table ({} entries) is full: new allocations are not \
                     recorded (they are counted and reported); raise --max-allocs or use --sample",
                    opts.max_allocations
                );
                warned = true;
            }
        });
        if let Some(sig) = ended_by {
            eprintln!("memscope: {} ends the window early", signal_name(sig));
        }
        let after = ledger_now(root);
        Ok(Window { before, after, ended_by })
    });
    drop(signals);
    let (window, sample) = match result {
        Ok(r) => r,
        Err(e) => return Ok(report_failure(root, e)),
    };
    let symbols = memscope_model::views::trace_symbols(root, &sample);
    let ropts =
        TraceReportOptions { min_bytes: a.min_bytes, top: a.top, depth: a.depth, ..Default::default() };
    let mut report = build(
        &sample,
        symbols.kallsyms.as_ref().ok(),
        window.before.as_ref(),
        window.after.as_ref(),
        &symbols.names,
        &ropts,
    );
    if let Some(sig) = window.ended_by {
        report.notes.insert(
            0,
            format!(
                "The window was ended early by {} after {:.1} s.",
                signal_name(sig),
                report.window_seconds
            ),
        );
    }
    let kernel = root.osrelease().ok();

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
        eprintln!(
            "memscope: folded stacks written to {} (flamegraph.pl or inferno-flamegraph draw them)",
            p.display()
        );
    }
    let mut w = output::stdout();
    match format {
        Format::Json => out::write_json(&mut w, &report, &sample, kernel.as_deref(), a.min_bytes)?,
        Format::Csv => out::write_csv(&mut w, &report)?,
        Format::Table => out::write_text(&mut w, &report, &sample, &style)?,
    }
    output::finish(w)?;
    Ok(ExitCode::SUCCESS)
}

/// Say why tracing failed, what would help, and whether `--allocinfo`
/// is an alternative here; exit status 1.
fn report_failure(root: &KernelRoot, e: anyhow::Error) -> ExitCode {
    match e.downcast_ref::<TraceError>() {
        Some(te) => {
            eprintln!("memscope: cannot trace kernel allocations: {te}");
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
            if root.exists(paths::ALLOCINFO) {
                eprintln!(
                    "memscope: this kernel has {}: `memscope trace --allocinfo` reads per-call-site totals \
                     without eBPF",
                    paths::ALLOCINFO
                );
            }
        }
        None => eprintln!("memscope: {e:#}"),
    }
    ExitCode::from(1)
}

fn allocinfo(
    root: &KernelRoot,
    g: &Global,
    a: &TraceArgs,
    signals: &SignalBlock,
) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let input = memscope_model::views::allocinfo(root);
    let first = match input.allocinfo {
        Ok(f) => f,
        Err(e) => {
            let why = match &e {
                ReadError::NotReported { .. } => format!(
                    "{} does not exist: the kernel has no memory allocation profiling (it needs 6.10+ built \
                     with CONFIG_MEM_ALLOC_PROFILING, and not booted with sysctl.vm.mem_profiling=never). \
                     Without it, `memscope trace` (eBPF) attributes allocations.",
                    paths::ALLOCINFO
                ),
                ReadError::PermissionDenied { .. } => {
                    format!(
                        "{} is readable by root only: run memscope trace --allocinfo as root",
                        paths::ALLOCINFO
                    )
                }
                other => other.to_string(),
            };
            eprintln!("memscope: cannot read allocation profiling: {why}");
            return Ok(ExitCode::from(1));
        }
    };
    let profiling = input.mem_profiling.ok();
    let ropts =
        TraceReportOptions { min_bytes: a.min_bytes, top: a.top, depth: a.depth, ..Default::default() };
    let windowed = root.is_live() && !a.duration.is_zero();
    let report = if windowed {
        let before_ledger = ledger_now(root);
        let started = Instant::now();
        eprintln!(
            "memscope: reading {} now and in {}; Ctrl-C ends the window early",
            paths::ALLOCINFO,
            humantime::format_duration(a.duration)
        );
        let ended_by = wait(signals, started + a.duration, || {});
        if let Some(sig) = ended_by {
            eprintln!("memscope: {} ends the window early", signal_name(sig));
        }
        let second = memscope_model::views::allocinfo(root)
            .allocinfo
            .with_context(|| format!("reading {} again", paths::ALLOCINFO))?;
        let after_ledger = ledger_now(root);
        let secs = started.elapsed().as_secs_f64();
        let ledgers = before_ledger.as_ref().zip(after_ledger.as_ref());
        memscope_analysis::allocinfo::build(
            Some(&first),
            &second,
            Some(secs),
            ledgers,
            profiling.as_deref(),
            &ropts,
        )
    } else {
        let mut r =
            memscope_analysis::allocinfo::build(None, &first, None, None, profiling.as_deref(), &ropts);
        if !root.is_live() {
            r.notes.insert(0, "A captured tree is one moment: totals since boot, no growth.".into());
        }
        r
    };
    let mut w = output::stdout();
    match format {
        Format::Json => out::write_allocinfo_json(&mut w, &report)?,
        Format::Csv => out::write_allocinfo_csv(&mut w, &report)?,
        Format::Table => out::write_allocinfo_text(&mut w, &report, &style)?,
    }
    output::finish(w)?;
    Ok(ExitCode::SUCCESS)
}
