//! `memscope capture --out DIR`: copy exactly the files a report reads.
//!
//! The report is collected once through a recording [`KernelRoot`]; every
//! file it read is written under DIR with the bytes it read, so
//! `memscope --root DIR report` gives the same ledger. Command lines keep only
//! the program (`argv[0]`): arguments often hold secrets. Environments are
//! never read.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use memscope_kernel::{KernelRoot, MANIFEST, UNREADABLE};
use memscope_model::{CollectOptions, collect};

use crate::cli::CaptureArgs;

pub fn run(root: &KernelRoot, a: &CaptureArgs) -> anyhow::Result<ExitCode> {
    if a.out.exists() && fs::read_dir(&a.out)?.next().is_some() {
        bail!("{} exists and is not empty", a.out.display());
    }
    let (rec_root, recorder) = root.recording();
    let snap = collect(&rec_root, &CollectOptions::default());
    let files = recorder.files();
    for (kpath, data) in &files {
        let dest = a.out.join(kpath.trim_start_matches('/'));
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let data = if kpath.ends_with("/cmdline") { scrub_cmdline(data) } else { data.clone() };
        fs::write(&dest, data).with_context(|| format!("writing {}", dest.display()))?;
    }
    for dir in recorder.dirs().keys() {
        fs::create_dir_all(a.out.join(dir.trim_start_matches('/')))?;
    }
    let denied = recorder.denied();
    if !denied.is_empty() {
        fs::write(a.out.join(UNREADABLE), denied.join("\n") + "\n")?;
    }
    write_manifest(&a.out, &snap, root)?;
    eprintln!(
        "memscope: captured {} files ({} processes) into {}; read it with `memscope --root {} report`",
        files.len(),
        snap.processes.len(),
        a.out.display(),
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Keep `argv[0]` only.
fn scrub_cmdline(data: &[u8]) -> Vec<u8> {
    match data.iter().position(|b| *b == 0) {
        Some(end) => data[..=end].to_vec(),
        None => data.to_vec(),
    }
}

fn write_manifest(dir: &Path, snap: &memscope_model::Snapshot, root: &KernelRoot) -> anyhow::Result<()> {
    let mut f = fs::File::create(dir.join(MANIFEST))?;
    writeln!(f, "# A tree of kernel files captured by memscope capture; read with --root.")?;
    writeln!(f, "made_by: memscope capture {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(f, "captured_at: {}", memscope_export::style::timestamp(snap.taken_at_unix_ms))?;
    writeln!(f, "captured_at_unix_ms: {}", snap.taken_at_unix_ms)?;
    if let Ok(k) = &snap.kernel {
        writeln!(f, "kernel: {k}")?;
    }
    if let Some(p) = root.page_size() {
        writeln!(f, "page_size: {p}")?;
    }
    writeln!(f, "arch: {}", std::env::consts::ARCH)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::scrub_cmdline;

    #[test]
    fn cmdline_keeps_the_program_only() {
        assert_eq!(scrub_cmdline(b"/usr/bin/mysql\0-psecret\0"), b"/usr/bin/mysql\0");
        assert_eq!(scrub_cmdline(b""), b"");
    }
}
