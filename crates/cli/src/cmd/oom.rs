//! `memscope oom`: each OOM kill of the kernel log explained.
//!
//! The log is `/dev/kmsg` live (read without blocking), the tree's
//! `dev/kmsg` with `--root`, or a saved log with `--from FILE` (`-` for
//! standard input). Without access to the kernel log, the memory cgroups'
//! own OOM kill counts are shown instead.

use std::io::Read;
use std::process::ExitCode;

use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::oom::{self, CgroupOomCount};
use memscope_kernel::cgroup::Layout;
use memscope_kernel::parse::cgroupfs::Limit;
use memscope_kernel::parse::oom::parse_log;
use memscope_kernel::{KernelRoot, paths};
use memscope_model::cgroups::tree::read_tree;

use crate::cli::{Global, OomArgs};
use crate::output;

/// No OOM kill in the log.
const NO_KILL: u8 = 4;

pub fn run(root: &KernelRoot, g: &Global, a: &OomArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let (view, code) = match &a.from {
        Some(path) => {
            let read = if path.as_os_str() == "-" {
                let mut buf = Vec::new();
                std::io::stdin().lock().read_to_end(&mut buf).map(|_| buf)
            } else {
                std::fs::read(path)
            };
            let data = match read {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("memscope: cannot read {}: {e}", path.display());
                    return Ok(ExitCode::from(2));
                }
            };
            let text = String::from_utf8_lossy(&data);
            let log = parse_log(&text);
            let source =
                if path.as_os_str() == "-" { "standard input".into() } else { path.display().to_string() };
            // A saved log may be of another boot or machine: no boot time,
            // no host page size.
            let view = oom::build(&log, &source, None, None, a.all);
            let code = if view.kills_found == 0 { NO_KILL } else { 0 };
            (view, code)
        }
        None => {
            let input = memscope_model::oom::read(root);
            let source = root.display_path(paths::KMSG);
            match &input.log {
                Ok(log) => {
                    let view =
                        oom::build(log, &source, input.boot_time_seconds.ok(), root.page_size(), a.all);
                    let code = if view.kills_found == 0 { NO_KILL } else { 0 };
                    (view, code)
                }
                Err(e) => {
                    let why = match e {
                        memscope_kernel::ReadError::NotReported { .. } if !root.is_live() => {
                            "this captured tree has no dev/kmsg (it holds no kernel log)".to_string()
                        }
                        e => unavailable_reason(e),
                    };
                    eprintln!("memscope: the kernel log is unavailable: {why}");
                    (oom::unavailable(&source, why, cgroup_counts(root)), 1)
                }
            }
        }
    };
    output::emit(format, &style, &view)?;
    Ok(ExitCode::from(code))
}

/// Memory cgroups whose own counters saw OOM kills (v2 `memory.events`
/// `oom_kill`, v1 `memory.oom_control` `oom_kill`).
fn cgroup_counts(root: &KernelRoot) -> Vec<CgroupOomCount> {
    let Ok(layout) = Layout::detect(root) else { return Vec::new() };
    let tree = read_tree(root, &layout);
    tree.cgroups
        .iter()
        .filter_map(|c| {
            let m = c.memory.as_ref()?;
            let kills = m.oom_kills().ok().filter(|n| *n > 0)?;
            let (limit_bytes, limit) = match &m.limit {
                Ok(Limit::Value(v)) => (Some(*v), memscope_analysis::fmt_bytes(*v as i64)),
                Ok(Limit::Max) => (None, "max".into()),
                Err(e) => (None, format!("unknown: {}", memscope_analysis::cgroups::unavailable_reason(e))),
            };
            Some(CgroupOomCount {
                path: c.path.clone(),
                oom_kills: kills,
                limit_bytes,
                limit,
                peak_bytes: m.peak_bytes.as_ref().ok().copied(),
            })
        })
        .collect()
}
