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
    capture_with(root, opts, out, &|_| {})
}

/// [`capture`], where `also` reads more through the recording root (what
/// other commands read, such as `rt check`) so that the tree holds it too.
pub fn capture_with(
    root: &KernelRoot,
    opts: &CollectOptions,
    out: &Path,
    also: &dyn Fn(&KernelRoot),
) -> io::Result<Captured> {
    if out.exists() && fs::read_dir(out)?.next().is_some() {
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} is not empty", out.display())));
    }
    let (rec_root, recorder) = root.recording();
    let snapshot = collect(&rec_root, opts);
    // What the detail views read beyond the snapshot (zones, slab).
    let _ = rec_root.pagetypeinfo();
    if let Ok(s) = &snapshot.slabinfo {
        let _ = rec_root.slab_sysfs(s.caches.iter().map(|c| c.name.as_str()));
    }
    // What other commands read (`rt check`), so that the tree holds it too.
    also(&rec_root);
    // Links first (slab merge aliases, namespaces), so that files read
    // through a link land in the directory it points to.
    for (kpath, target) in recorder.links() {
        let dest = out.join(kpath.trim_start_matches('/'));
        create_parent(out, &dest)?;
        std::os::unix::fs::symlink(&target, &dest)?;
    }
    let files = recorder.files();
    for (kpath, data) in &files {
        let dest = out.join(kpath.trim_start_matches('/'));
        create_parent(out, &dest)?;
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

/// Create the directory `dest` goes in. A component may be a link captured
/// from sysfs (`/sys/kernel/slab/dentry -> :0000192`) whose target is not in
/// the tree yet: its target directory is created, inside `out` only.
fn create_parent(out: &Path, dest: &Path) -> io::Result<()> {
    let Some(parent) = dest.parent() else { return Ok(()) };
    if fs::create_dir_all(parent).is_ok() {
        return Ok(());
    }
    let mut cur = std::path::PathBuf::new();
    for comp in parent.components() {
        cur.push(comp);
        let is_link = fs::symlink_metadata(&cur).map(|m| m.file_type().is_symlink()).unwrap_or(false);
        if is_link && !cur.exists() {
            let target = fs::read_link(&cur)?;
            let real = cur.parent().unwrap_or(out).join(&target);
            let inside = target.is_relative()
                && target.components().all(|c| matches!(c, std::path::Component::Normal(_)))
                && real.starts_with(out);
            if !inside {
                return Err(io::Error::other(format!(
                    "{} links outside the captured tree ({})",
                    cur.display(),
                    target.display()
                )));
            }
            fs::create_dir_all(&real)?;
        }
    }
    fs::create_dir_all(parent)
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
