//! tracefs, mounted for as long as it is needed and no longer.
//!
//! libbpf attaches a tracepoint program with `perf_event_open`, giving the
//! tracepoint's id, which it reads from `events/<category>/<event>/id`
//! under tracefs (Documentation/trace/ftrace.rst: tracefs lives at
//! `/sys/kernel/tracing`, and under debugfs at `/sys/kernel/debug/tracing`
//! on older systems). Once attached, the perf event does not need the
//! mount. So when tracefs is not mounted, memscope mounts it, attaches,
//! and unmounts it at once: the mount exists for milliseconds, and a
//! mount that memscope did not make is never touched.

use memscope_kernel::{KernelRoot, paths};

use crate::preflight::{Unavailable, tracefs_dir};

/// tracefs made reachable; unmounted on drop if memscope mounted it.
#[derive(Debug)]
pub struct Tracefs {
    root: KernelRoot,
    dir: &'static str,
    /// The mount id of memscope's own mount, when it made one.
    ours: Option<u32>,
}

impl Tracefs {
    /// Find tracefs, or mount it on `/sys/kernel/tracing`.
    pub fn ensure(root: &KernelRoot) -> Result<Tracefs, Unavailable> {
        if let Some(dir) = tracefs_dir(root) {
            return Ok(Tracefs { root: root.clone(), dir, ours: None });
        }
        let fail = |reason: String| Unavailable::NoTracefs { target: paths::TRACEFS.into(), reason };
        if !root.is_dir(paths::TRACEFS) {
            return Err(fail("the mount point does not exist (a kernel without CONFIG_TRACING?)".into()));
        }
        if let Err(err) = root.mount_pseudo_fs("tracefs", paths::TRACEFS) {
            let why = match err.raw_os_error() {
                Some(libc::EPERM) => format!("{err} (mounting needs CAP_SYS_ADMIN in the initial namespace)"),
                Some(libc::ENODEV) => format!("{err} (the kernel has no tracefs: CONFIG_TRACING)"),
                _ => err.to_string(),
            };
            return Err(fail(why));
        }
        let ours = top_mount_id(root);
        let t = Tracefs { root: root.clone(), dir: paths::TRACEFS, ours: Some(ours.unwrap_or(0)) };
        if tracefs_dir(root).is_none() {
            // Mounted, yet no events directory: nothing to attach to.
            drop(t);
            return Err(fail("mounted, but it has no events directory".into()));
        }
        Ok(t)
    }

    /// The tracefs directory libbpf will use (`/sys/kernel/tracing` or
    /// `/sys/kernel/debug/tracing`).
    pub fn dir(&self) -> &'static str {
        self.dir
    }

    /// True when memscope mounted it.
    pub fn mounted_by_memscope(&self) -> bool {
        self.ours.is_some()
    }

    /// Unmount now (if memscope mounted it); the same happens on drop.
    pub fn release(mut self) {
        self.unmount();
    }

    fn unmount(&mut self) {
        let Some(id) = self.ours.take() else { return };
        // Only our own mount, and only while it is the one on top: another
        // tracefs mounted over it since is left alone.
        if id != 0 && top_mount_id(&self.root) != Some(id) {
            return;
        }
        // A file in it may still be open (by another reader that came in
        // the meantime): then it is detached, and the kernel frees it when
        // closed. Nothing more to do on failure: the mount stays, as one
        // made by someone else would.
        let _ = self.root.unmount(paths::TRACEFS);
    }
}

impl Drop for Tracefs {
    fn drop(&mut self) {
        self.unmount();
    }
}

/// The id of the topmost tracefs mount on `/sys/kernel/tracing`.
fn top_mount_id(root: &KernelRoot) -> Option<u32> {
    let mi = root.mountinfo().ok()?;
    mi.of_type("tracefs").filter(|m| m.mount_point == paths::TRACEFS).map(|m| m.mount_id).last()
}
