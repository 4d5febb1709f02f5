//! `memscope numa`: memory per node; with --pid, a process's pages per node.

use std::process::ExitCode;

use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::numa;
use memscope_kernel::{KernelRoot, ReadError};

use crate::cli::{Global, NumaArgs};
use crate::output;

pub fn run(root: &KernelRoot, g: &Global, a: &NumaArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let nodes = root.nodes();
    let meminfo = root.meminfo().ok();
    let processes: Vec<numa::ProcessInput> = a
        .pids
        .iter()
        .map(|&pid| {
            let comm = root.pid_stat(pid).map(|s| s.comm).unwrap_or_else(|_| "?".into());
            let maps = root.pid_numa_maps(pid).map_err(|e| match e {
                // The process is there, its numa_maps is not.
                ReadError::NotReported { path, field: None } => {
                    format!("{path} does not exist: this kernel was built without NUMA support (CONFIG_NUMA)")
                }
                ReadError::Gone { .. } => format!("no process {pid}"),
                e => unavailable_reason(&e),
            });
            (pid, comm, maps)
        })
        .collect();
    let mut view = numa::build(
        nodes.as_deref().unwrap_or_default(),
        meminfo.as_ref(),
        processes,
        super::page_size(root),
        a.all,
    );
    if let Err(e) = &nodes {
        view.notes.insert(
            0,
            match e {
                ReadError::NotReported { .. } => {
                    "This kernel shows no NUMA nodes (/sys/devices/system/node is absent: built without \
                     CONFIG_NUMA): all memory is one node, see /proc/meminfo."
                        .to_string()
                }
                e => format!("NUMA nodes are unavailable: {}", unavailable_reason(e)),
            },
        );
    }
    output::emit(format, &style, &view)?;
    let all_failed = !a.pids.is_empty() && view.processes.iter().all(|p| p.unavailable.is_some());
    Ok(if all_failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
