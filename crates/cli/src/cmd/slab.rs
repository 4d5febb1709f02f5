//! `memscope slab`: slab caches by size.

use std::process::ExitCode;

use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::slab::{self, SlabOptions};
use memscope_kernel::KernelRoot;

use crate::cli::{Global, SlabArgs};
use crate::output;

pub fn run(root: &KernelRoot, g: &Global, a: &SlabArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let input = memscope_model::views::slab(root);
    let slabinfo = input.slabinfo.as_ref().map_err(unavailable_reason);
    let sysfs = input.sysfs.as_ref().map_err(unavailable_reason);
    let view = slab::build(
        slabinfo,
        sysfs,
        input.meminfo.as_ref().ok(),
        super::page_size(input.page_size_bytes),
        &SlabOptions { sort: a.sort, top: a.top, all: a.all },
    );
    output::emit(format, &style, &view)?;
    Ok(ExitCode::SUCCESS)
}
