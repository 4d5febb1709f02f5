//! `memscope vmalloc`: vmalloc areas by kind and caller.

use std::process::ExitCode;

use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::vmalloc;
use memscope_export::vmalloc as out;
use memscope_kernel::KernelRoot;

use crate::cli::{Global, VmallocArgs};
use crate::output::{self, Format};

pub fn run(root: &KernelRoot, g: &Global, a: &VmallocArgs) -> anyhow::Result<ExitCode> {
    let (format, style) = output::choose(g);
    let info = root.vmallocinfo().map_err(|e| unavailable_reason(&e));
    let meminfo = root.meminfo().ok();
    let view =
        vmalloc::build(info.as_ref().map_err(String::clone), meminfo.as_ref(), super::page_size(root), a.top);
    let mut w = output::stdout();
    match format {
        Format::Json => out::write_json(&mut w, &view)?,
        Format::Csv => out::write_csv(&mut w, &view)?,
        Format::Table => out::write_table(&mut w, &view, &style)?,
    }
    output::finish(w)?;
    Ok(ExitCode::SUCCESS)
}
