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
    let input = memscope_model::views::maps(root, pid);
    let comm = match input.comm {
        Ok(c) => c,
        Err(ReadError::Gone { .. }) => bail!("no process {pid}"),
        Err(_) => "?".into(),
    };
    let smaps = match &input.smaps {
        Ok(s) => s,
        Err(ReadError::Gone { .. }) => bail!("process {pid} exited"),
        Err(e) => bail!("{}", unavailable_reason(e)),
    };
    let rollup = input.rollup.as_ref().map_err(unavailable_reason);
    let view = maps::build(pid, comm, smaps, rollup, a.sort, a.top);
    output::emit(format, &style, &view)?;
    Ok(ExitCode::SUCCESS)
}
