//! `memscope slab`: slab caches by size.

use std::process::ExitCode;

use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::slab::{self, SlabOptions};
use memscope_kernel::KernelRoot;

use crate::cli::{Global, SlabArgs};
use crate::output;

pub fn run(root: &KernelRoot, g: &Global, a: &SlabArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let slabinfo = root.slabinfo().map_err(|e| unavailable_reason(&e));
    let sysfs = match &slabinfo {
        Ok(s) => {
            root.slab_sysfs(s.caches.iter().map(|c| c.name.as_str())).map_err(|e| unavailable_reason(&e))
        }
        Err(why) => Err(why.clone()),
    };
    let meminfo = root.meminfo().ok();
    let view = slab::build(
        slabinfo.as_ref().map_err(String::clone),
        sysfs.as_ref().map_err(String::clone),
        meminfo.as_ref(),
        super::page_size(root),
        &SlabOptions { sort: a.sort, top: a.top, all: a.all },
    );
    output::emit(format, &style, &view)?;
    Ok(ExitCode::SUCCESS)
}
