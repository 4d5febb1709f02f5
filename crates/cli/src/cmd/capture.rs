//! `memscope capture --out DIR`: copy exactly the files a report (and
//! `rt check`) reads.

use std::process::ExitCode;

use anyhow::Context;
use memscope_kernel::KernelRoot;
use memscope_model::{CollectOptions, capture::capture};

use crate::cli::CaptureArgs;

pub fn run(root: &KernelRoot, a: &CaptureArgs) -> anyhow::Result<ExitCode> {
    // Namespaces too, for `ps --group-by container` on the tree, and what
    // `rt check` reads about the host, so that it runs on the tree.
    let opts = CollectOptions { namespaces: true, ..CollectOptions::default() };
    let c =
        capture(root, &opts, &a.out).with_context(|| format!("cannot capture into {}", a.out.display()))?;
    eprintln!(
        "memscope: captured {} files ({} processes) into {}; read it with `memscope --root {} report`",
        c.files,
        c.snapshot.processes.len(),
        a.out.display(),
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
