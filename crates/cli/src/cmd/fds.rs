//! `memscope fds`: the "Too many open files" doctor.

use std::process::ExitCode;

use anyhow::bail;
use memscope_analysis::fds::{self, FdReportOptions, GROUPS, PER_USER_LIMITS, VERDICTS};
use memscope_export::fds as out;
use memscope_kernel::KernelRoot;
use memscope_model::fds::{Breakdown, FdCollectOptions, collect_fds};

use crate::cli::{FdsArgs, Global};
use crate::output::{self, Format};

/// Processes shown when neither `--top` nor `--all` is given.
const DEFAULT_ROWS: usize = 20;

pub fn run(root: &KernelRoot, g: &Global, a: &FdsArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let mut w = output::stdout();
    if a.explain {
        explain(&mut w, style.width)?;
        output::finish(w)?;
        return Ok(ExitCode::SUCCESS);
    }
    let breakdown = match (a.pid, a.top) {
        (Some(pid), _) => Breakdown::UsersOf(pid),
        (None, Some(n)) => Breakdown::Closest(n),
        (None, None) => Breakdown::All,
    };
    let snap = collect_fds(root, &FdCollectOptions { breakdown, ..FdCollectOptions::default() });
    let rows = match (a.pid, a.top, a.all) {
        (Some(_), _, _) | (None, None, true) => usize::MAX,
        (None, Some(n), _) => n,
        (None, None, false) => DEFAULT_ROWS,
    };
    let mut report = fds::build(&snap, &FdReportOptions { top: rows });

    let Some(pid) = a.pid else {
        match format {
            Format::Json => out::write_json(&mut w, &report, &snap, None)?,
            Format::Csv => out::write_csv(&mut w, &report)?,
            Format::Table => out::write_table(&mut w, &report, &style)?,
        }
        output::finish(w)?;
        return Ok(ExitCode::SUCCESS);
    };

    let Some(diagnosis) = fds::diagnose(&report, &snap, pid) else {
        bail!(
            "process {pid} not found (it exited, or it is a kernel thread or a zombie: they hold no descriptors)"
        );
    };
    // The output is about this process: keep its row only.
    let total = report.processes.len() + report.hidden_processes;
    report.processes.retain(|r| r.pid == pid);
    report.hidden_processes = total - report.processes.len();
    match format {
        Format::Json => out::write_json(&mut w, &report, &snap, Some(&diagnosis))?,
        Format::Csv => out::write_csv(&mut w, &report)?,
        Format::Table => out::write_diagnosis(&mut w, &diagnosis, &report, &style)?,
    }
    output::finish(w)?;
    Ok(ExitCode::SUCCESS)
}

fn explain(w: &mut dyn std::io::Write, width: usize) -> std::io::Result<()> {
    use memscope_export::style::wrap;
    writeln!(w, "Descriptor groups (columns, JSON `groups` keys):")?;
    for g in GROUPS {
        writeln!(w, "  {} ({})", g.label, g.key)?;
        writeln!(w, "{}", wrap(g.help, width, "      ", "      "))?;
    }
    writeln!(w, "Verdicts (use of a limit):")?;
    for (_, name, help) in VERDICTS {
        writeln!(w, "  {name:<10} {help}")?;
    }
    writeln!(w, "Limits:")?;
    let fixed = [
        ("RLIMIT_NOFILE", "per process (/proc/PID/limits): EMFILE \"Too many open files\"".to_string()),
        (
            "fs.file-max",
            "system-wide open files (/proc/sys/fs/file-nr): ENFILE \"Too many open files in system\"".into(),
        ),
        ("fs.nr_open", "the ceiling of any RLIMIT_NOFILE".into()),
    ];
    let per_user = PER_USER_LIMITS.iter().map(|l| {
        let (call, errno) = l.fails;
        (
            l.sysctl,
            format!("{} per user, counted from {}: {call} fails with {errno}", l.label, l.counted_from),
        )
    });
    for (name, help) in fixed.into_iter().chain(per_user) {
        writeln!(w, "  {name}")?;
        writeln!(w, "{}", wrap(&help, width, "      ", "      "))?;
    }
    Ok(())
}
