//! `memscope vmalloc`: vmalloc areas by kind and caller.

use std::process::ExitCode;

use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::vmalloc;
use memscope_kernel::KernelRoot;

use crate::cli::{Global, VmallocArgs};
use crate::output;

pub fn run(root: &KernelRoot, g: &Global, a: &VmallocArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let input = memscope_model::views::vmalloc(root);
    let view = vmalloc::build(
        input.vmallocinfo.as_ref().map_err(unavailable_reason),
        input.meminfo.as_ref().ok(),
        input.kernel.as_deref().ok(),
        super::page_size(input.page_size_bytes),
        a.top,
    );
    output::emit(format, &style, &view)?;
    Ok(ExitCode::SUCCESS)
}
