//! `memscope numa`: memory per node; with --pid, a process's pages per node.

use std::process::ExitCode;

use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::numa;
use memscope_kernel::{KernelRoot, ReadError};

use crate::cli::{Global, NumaArgs};
use crate::errors::bad_input;
use crate::output;

pub fn run(root: &KernelRoot, g: &Global, a: &NumaArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let pids = chosen_pids(root, &a.pids)?;
    let input = memscope_model::views::numa(root, &pids);
    let nodes = input.nodes;
    let processes: Vec<numa::ProcessInput> = input
        .processes
        .into_iter()
        .map(|p| {
            let pid = p.pid;
            let comm = p.comm.unwrap_or_else(|_| "?".into());
            let maps = p.numa_maps.map_err(|e| match e {
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
        input.meminfo.as_ref().ok(),
        processes,
        super::page_size(input.page_size_bytes),
        a.all,
    );
    if let Ok(counters) = &input.numastat {
        view.numastat = numa::numastat(&view.nodes, counters);
    }
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
    let all_failed = !pids.is_empty() && view.processes.iter().all(|p| p.unavailable.is_some());
    Ok(if all_failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The pids `--pid` names: numbers as they are, patterns matched against
/// every process's command name (as `numastat -p` does).
fn chosen_pids(root: &KernelRoot, wanted: &[String]) -> anyhow::Result<Vec<u32>> {
    let mut pids = Vec::new();
    let mut listed: Option<Vec<(u32, String)>> = None;
    for w in wanted {
        if let Ok(pid) = w.parse::<u32>() {
            pids.push(pid);
            continue;
        }
        let re = match regex::Regex::new(w) {
            Ok(re) => re,
            Err(e) => bad_input!("--pid {w}: neither a pid nor a valid pattern: {e}"),
        };
        let all = listed.get_or_insert_with(|| memscope_model::views::command_names(root));
        let before = pids.len();
        pids.extend(all.iter().filter(|(_, comm)| re.is_match(comm)).map(|(p, _)| *p));
        if pids.len() == before {
            bad_input!("--pid {w}: no process's command name matches");
        }
    }
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}
