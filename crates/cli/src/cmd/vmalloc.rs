//! `memscope vmalloc`: vmalloc areas by kind and caller.

use std::process::ExitCode;

use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::vmalloc;
use memscope_kernel::KernelRoot;

use crate::cli::{Global, VmallocArgs};
use crate::output;

pub fn run(root: &KernelRoot, g: &Global, a: &VmallocArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let info = root.vmallocinfo().map_err(|e| unavailable_reason(&e));
    let meminfo = root.meminfo().ok();
    let kernel = root.osrelease().ok();
    let view = vmalloc::build(
        info.as_ref().map_err(String::clone),
        meminfo.as_ref(),
        kernel.as_deref(),
        super::page_size(root),
        a.top,
    );
    output::emit(format, &style, &view)?;
    Ok(ExitCode::SUCCESS)
}
