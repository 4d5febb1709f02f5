//! `memscope maps PID`: one row per mapping, totals checked against smaps_rollup.

use std::process::ExitCode;

use anyhow::bail;
use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::maps;
use memscope_kernel::{KernelRoot, ReadError};

use crate::cli::{Global, MapsArgs};
use crate::output;

pub fn run(root: &KernelRoot, g: &Global, a: &MapsArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let pid = a.pid;
    let comm = match root.pid_stat(pid) {
        Ok(s) => s.comm,
        Err(ReadError::Gone { .. }) => bail!("no process {pid}"),
        Err(_) => {
            root.pid_status(pid).ok().and_then(|s| s.text.get("Name").cloned()).unwrap_or_else(|| "?".into())
        }
    };
    // The rollup first: it is the cheaper walk, and both are compared.
    let rollup = root.pid_smaps_rollup(pid);
    let smaps = match root.pid_smaps(pid) {
        Ok(s) => s,
        Err(ReadError::Gone { .. }) => bail!("process {pid} exited"),
        Err(e) => bail!("{}", unavailable_reason(&e)),
    };
    let rollup = rollup.as_ref().map_err(unavailable_reason);
    let view = maps::build(pid, comm, &smaps, rollup.as_ref().map_err(String::clone).copied(), a.sort, a.top);
    output::emit(format, &style, &view)?;
    Ok(ExitCode::SUCCESS)
}
