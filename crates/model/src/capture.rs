//! Capture: one collection pass through a recording [`KernelRoot`], and the
//! files it read written out as a tree that `KernelRoot::at` reads back.
//!
//! ```text
//! DIR/MANIFEST        kernel, page size, time, arch, how it was made
//! DIR/UNREADABLE      kernel paths that were permission-denied (read back as such)
//! DIR/proc/…, DIR/sys/…, DIR/dev/kmsg (only the lines used)
//! ```
//! Command lines keep only the program (`argv[0]`): arguments often hold
//! secrets. Environments are never read.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use memscope_kernel::{KernelRoot, MANIFEST, UNREADABLE};

use crate::{CollectOptions, Snapshot, collect};

/// What a capture wrote.
#[derive(Debug)]
pub struct Captured {
    /// The snapshot collected while capturing (the live view at that moment).
    pub snapshot: Snapshot,
    /// Number of files written.
    pub files: usize,
}

/// Collect through a recording root and write every file read under `out`
/// (which must not exist or be empty).
pub fn capture(root: &KernelRoot, opts: &CollectOptions, out: &Path) -> io::Result<Captured> {
    if out.exists() && fs::read_dir(out)?.next().is_some() {
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} is not empty", out.display())));
    }
    let (rec_root, recorder) = root.recording();
    let snapshot = collect(&rec_root, opts);
    let files = recorder.files();
    for (kpath, data) in &files {
        let dest = out.join(kpath.trim_start_matches('/'));
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        let data = if kpath.ends_with("/cmdline") { scrub_cmdline(data) } else { data.clone() };
        fs::write(&dest, data)?;
    }
    for (dir, names) in recorder.dirs() {
        let d = out.join(dir.trim_start_matches('/'));
        fs::create_dir_all(&d)?;
        // Processes listed but gone before any file was read: keep their
        // directories so the tree lists what the scan listed.
        if dir == "/proc" {
            for n in names {
                fs::create_dir_all(d.join(n))?;
            }
        }
    }
    let denied = recorder.denied();
    if !denied.is_empty() {
        fs::write(out.join(UNREADABLE), denied.join("\n") + "\n")?;
    }
    write_manifest(out, &snapshot, root)?;
    Ok(Captured { snapshot, files: files.len() })
}

/// Keep `argv[0]` only.
fn scrub_cmdline(data: &[u8]) -> Vec<u8> {
    match data.iter().position(|b| *b == 0) {
        Some(end) => data[..=end].to_vec(),
        None => data.to_vec(),
    }
}

fn write_manifest(dir: &Path, snap: &Snapshot, root: &KernelRoot) -> io::Result<()> {
    let mut f = fs::File::create(dir.join(MANIFEST))?;
    writeln!(f, "# Kernel files captured by `memscope capture`; read with `memscope --root DIR`.")?;
    writeln!(f, "made_by: memscope capture {}", env!("CARGO_PKG_VERSION"))?;
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
