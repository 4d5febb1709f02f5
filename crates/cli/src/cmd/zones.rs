//! `memscope zones`: free pages against watermarks, buddy lists, fragmentation,
//! and `--can-alloc`.

use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use memscope_analysis::hints::unavailable_reason;
use memscope_analysis::zones::{self, ZonesOptions};
use memscope_kernel::KernelRoot;

use crate::cli::{Global, ZonesArgs};
use crate::errors::bad_input;
use crate::output;

/// Exit code of `--can-alloc` when the free lists do not hold enough blocks.
pub const EXIT_CANNOT_ALLOC: u8 = 3;

pub fn run(root: &KernelRoot, g: &Global, a: &ZonesArgs) -> anyhow::Result<ExitCode> {
    let (format, mut style) = output::choose(g);
    style.all = a.all;
    let input = memscope_model::views::zones(root);
    let zoneinfo = input
        .zoneinfo
        .as_ref()
        .map_err(|e| anyhow!(unavailable_reason(e)))
        .context("cannot read the zones")?;
    let buddy = input.buddyinfo.as_ref().map_err(unavailable_reason);
    if a.can_alloc.is_some()
        && let Err(why) = &buddy
    {
        bail!("cannot answer --can-alloc: {why}");
    }
    // An order the buddy allocator never hands out (MAX_ORDER: the
    // buddyinfo columns) is a question with no answer on this kernel.
    if let (Some((order, _)), Ok(b)) = (a.can_alloc, &buddy) {
        let orders = b.zones.iter().map(|z| z.free_blocks.len()).max().unwrap_or(0);
        if orders > 0 && order as usize >= orders {
            bad_input!(
                "--can-alloc {order}: no block of order {order} exists on this kernel: the free lists go up to \
                 order {} (the columns of /proc/buddyinfo); larger blocks come only from hugetlb pools or CMA",
                orders - 1
            );
        }
    }
    let ptype = input.pagetypeinfo.as_ref().map_err(unavailable_reason);
    let opts = ZonesOptions { node: a.node, can_alloc: a.can_alloc, all: a.all };
    let view = zones::build(zoneinfo, buddy, ptype, super::page_size(input.page_size_bytes), &opts)
        .map_err(|e| anyhow!(e))?;
    output::emit(format, &style, &view)?;
    Ok(match &view.can_alloc {
        Some(c) if !c.possible => ExitCode::from(EXIT_CANNOT_ALLOC),
        _ => ExitCode::SUCCESS,
    })
}
