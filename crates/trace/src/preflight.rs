//! Can this system trace kernel allocations? Each check names what is
//! missing and what would enable it, so that `memscope trace` never fails
//! with a bare errno.
//!
//! The tracer needs (in the order checked):
//! - the running kernel (not a captured tree);
//! - a memscope built with the eBPF tracer (cargo feature `trace-bpf`);
//! - privileges: root, or CAP_BPF + CAP_PERFMON (kernel 5.8+,
//!   Documentation/bpf/bpf_design_QA.rst), or CAP_SYS_ADMIN;
//! - kernel 5.8 or later (bounded loops, BPF run-time statistics, CAP_BPF);
//! - BTF of the running kernel (`/sys/kernel/btf/vmlinux`,
//!   CONFIG_DEBUG_INFO_BTF=y), against which libbpf relocates the
//!   programs' field accesses (CO-RE);
//! - tracefs, where libbpf finds each tracepoint's id
//!   (`events/kmem/<event>/id`): mounted by memscope when it is not, see
//!   [`crate::tracefs`];
//! - the kmem tracepoints (CONFIG_TRACEPOINTS).

use memscope_kernel::parse::hex_u64;
use memscope_kernel::{KernelRoot, ReadError, paths};

/// The oldest kernel the tracer supports.
pub const MIN_KERNEL: (u32, u32) = (5, 8);

/// Capability bits (include/uapi/linux/capability.h).
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Why kernel allocations cannot be traced here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unavailable {
    /// `--root` names a captured tree.
    #[error("tracing needs the running kernel, and --root reads a captured tree")]
    NotLive,
    /// Built without the `bpf` feature.
    #[error("this memscope was built without the eBPF tracer")]
    NotBuilt,
    /// Not root and without the capabilities.
    #[error(
        "loading BPF tracing programs needs root, or CAP_BPF and CAP_PERFMON (kernel 5.8+), \
         or CAP_SYS_ADMIN; memscope runs as uid {uid} without them"
    )]
    NotPrivileged {
        /// The effective user id.
        uid: u32,
    },
    /// The kernel is older than [`MIN_KERNEL`].
    #[error("kernel {release} is older than 5.8, the oldest the tracer supports")]
    KernelTooOld {
        /// `/proc/sys/kernel/osrelease`.
        release: String,
    },
    /// No `/sys/kernel/btf/vmlinux`.
    #[error("the kernel has no BTF type information ({path}: {reason})")]
    NoBtf {
        /// The path looked at.
        path: String,
        /// Why it could not be used.
        reason: String,
    },
    /// tracefs is not mounted and could not be mounted.
    #[error("tracefs is not mounted and could not be mounted on {target}: {reason}")]
    NoTracefs {
        /// The mount point tried.
        target: String,
        /// The system's answer.
        reason: String,
    },
    /// A tracepoint the tracer needs does not exist.
    #[error("the kernel has no {tracepoint} tracepoint ({path} is missing)")]
    NoTracepoint {
        /// `kmem:mm_page_alloc`.
        tracepoint: String,
        /// The tracefs file looked for.
        path: String,
    },
    /// The kernel has no uprobe PMU (CONFIG_UPROBE_EVENTS).
    #[error("the kernel cannot probe user functions: {path} is missing (CONFIG_UPROBE_EVENTS)")]
    NoUprobes {
        /// The sysfs file looked for.
        path: String,
    },
    /// The process to trace does not exist (or ended).
    #[error("process {pid} does not exist")]
    NoProcess {
        /// The process id.
        pid: u32,
    },
    /// No allocator to probe was found in the process.
    #[error("no allocator to probe in process {pid}: {reason}")]
    NoAllocator {
        /// The process id.
        pid: u32,
        /// What was looked at.
        reason: String,
    },
}

impl Unavailable {
    /// What would make tracing possible, in one or two sentences.
    pub fn remedy(&self) -> String {
        match self {
            Unavailable::NotLive => {
                "Run memscope trace on the machine itself; on a captured tree, `memscope --root DIR trace \
                 --allocinfo` reads the tree's /proc/allocinfo."
                    .into()
            }
            Unavailable::NotBuilt => {
                "Build it with the tracer: `cargo build --release --features trace-bpf` \
                 (needs clang, libelf-dev, zlib1g-dev and pkg-config: `apt-get install clang libelf-dev \
                 zlib1g-dev pkg-config`)."
                    .into()
            }
            Unavailable::NotPrivileged { .. } => {
                "Run it as root (sudo memscope trace), or give the binary the \
                 capabilities: `setcap cap_bpf,cap_perfmon,cap_sys_admin+ep memscope` (cap_sys_admin to \
                 mount tracefs and read kernel addresses)."
                    .into()
            }
            Unavailable::KernelTooOld { .. } => "Use a 5.8 or later kernel; on older kernels bcc's memleak \
                 (with kernel headers) or page_owner (page_owner=on at boot) are the alternatives."
                .into(),
            Unavailable::NoBtf { .. } => "Use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu, \
                 Fedora and RHEL kernels are); the tracer relocates its field accesses against it."
                .into(),
            Unavailable::NoTracefs { .. } => {
                "Mount it by hand (`mount -t tracefs nodev /sys/kernel/tracing`) \
                 and run memscope again; in a container, tracefs must be made available by the host."
                    .into()
            }
            Unavailable::NoUprobes { .. } => "Use a kernel built with CONFIG_UPROBE_EVENTS=y (every \
                 distribution kernel is); in a container, /sys must be the host's."
                .into(),
            Unavailable::NoProcess { .. } => "Check the process id (`memscope leaks` lists growing \
                 processes with the command to trace each); --comm NAME traces by command name."
                .into(),
            Unavailable::NoAllocator { .. } => "memscope probes malloc and free in the process's C library \
                 (glibc, musl), in jemalloc or tcmalloc, or in the executable when it is linked statically; \
                 a process that manages its memory itself (a Go or Java runtime) has none to probe."
                .into(),
            Unavailable::NoTracepoint { .. } => "The kernel needs CONFIG_TRACEPOINTS and the kmem events \
                 (include/trace/events/kmem.h); they are in every distribution kernel."
                .into(),
        }
    }
}

/// Effective capabilities of memscope itself (`CapEff` of
/// `/proc/PID/status`), or `None` when unreadable.
pub fn effective_capabilities(root: &KernelRoot) -> Option<u64> {
    let status = root.pid_status(std::process::id()).ok()?;
    hex_u64(status.text.get("CapEff")?)
}

fn has_cap(caps: u64, cap: u32) -> bool {
    caps & (1u64 << cap) != 0
}

/// True when these capabilities allow loading and attaching tracing programs.
pub fn privileged(caps: u64) -> bool {
    has_cap(caps, CAP_SYS_ADMIN) || (has_cap(caps, CAP_BPF) && has_cap(caps, CAP_PERFMON))
}

/// `(major, minor)` of a release string such as `6.18.44-fc-v669`.
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// The kmem tracepoints: (event, required). The `*_node` events exist only
/// before 6.1, when kmalloc_node and kmem_cache_alloc_node had their own.
pub const TRACEPOINTS: &[(&str, bool)] = &[
    ("mm_page_alloc", true),
    ("mm_page_free", true),
    ("mm_page_free_batched", false),
    ("kmalloc", true),
    ("kmalloc_node", false),
    ("kmem_cache_alloc", true),
    ("kmem_cache_alloc_node", false),
    ("kfree", true),
    ("kmem_cache_free", true),
];

/// Where tracefs is reachable now: the directory holding `events/`, if any.
/// libbpf looks in `/sys/kernel/debug/tracing` first, then
/// `/sys/kernel/tracing` (tools/lib/bpf/libbpf.c, `tracefs_path`).
pub fn tracefs_dir(root: &KernelRoot) -> Option<&'static str> {
    [paths::DEBUGFS_TRACING, paths::TRACEFS].into_iter().find(|d| root.is_dir(&format!("{d}/events")))
}

/// Check everything that can be checked before loading: live system,
/// privileges, kernel version and BTF. tracefs and the tracepoints are
/// checked after mounting ([`check_tracepoints`]).
pub fn check(root: &KernelRoot) -> Result<(), Unavailable> {
    if !root.is_live() {
        return Err(Unavailable::NotLive);
    }
    let euid = rustix::process::geteuid();
    if !euid.is_root() {
        let caps = effective_capabilities(root).unwrap_or(0);
        if !privileged(caps) {
            return Err(Unavailable::NotPrivileged { uid: euid.as_raw() });
        }
    }
    if let Ok(release) = root.osrelease()
        && kernel_version(&release).is_some_and(|v| v < MIN_KERNEL)
    {
        return Err(Unavailable::KernelTooOld { release });
    }
    match root.open(paths::BTF_VMLINUX) {
        Ok(_) => {}
        Err(e) => {
            let reason = match &e {
                ReadError::NotReported { .. } => "no such file".to_string(),
                other => other.to_string(),
            };
            return Err(Unavailable::NoBtf { path: paths::BTF_VMLINUX.into(), reason });
        }
    }
    Ok(())
}

/// Which of [`TRACEPOINTS`] exist under tracefs directory `dir`; an error
/// for a required one that does not.
pub fn check_tracepoints(root: &KernelRoot, dir: &str) -> Result<Vec<&'static str>, Unavailable> {
    let mut present = Vec::new();
    for (event, required) in TRACEPOINTS {
        let path = format!("{dir}/events/kmem/{event}/id");
        if root.exists(&path) {
            present.push(*event);
        } else if *required {
            return Err(Unavailable::NoTracepoint { tracepoint: format!("kmem:{event}"), path });
        }
    }
    Ok(present)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(kernel_version("6.18.44-fc-v669"), Some((6, 18)));
        assert_eq!(kernel_version("5.4.0-150-generic"), Some((5, 4)));
        assert!(kernel_version("5.4.0").unwrap() < MIN_KERNEL);
        assert_eq!(kernel_version("garbage"), None);
    }

    #[test]
    fn capabilities() {
        assert!(privileged(1 << CAP_SYS_ADMIN));
        assert!(privileged((1 << CAP_BPF) | (1 << CAP_PERFMON)));
        assert!(!privileged(1 << CAP_BPF));
        assert!(!privileged(0));
    }

    #[test]
    fn a_captured_tree_cannot_be_traced() {
        let dir = std::env::temp_dir().join(format!("memscope-trace-preflight-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let root = KernelRoot::at(&dir);
        assert_eq!(check(&root), Err(Unavailable::NotLive));
        assert!(Unavailable::NotLive.remedy().contains("--allocinfo"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_reason_has_a_remedy() {
        let all = [
            Unavailable::NotLive,
            Unavailable::NotBuilt,
            Unavailable::NotPrivileged { uid: 1000 },
            Unavailable::KernelTooOld { release: "4.19.0".into() },
            Unavailable::NoBtf { path: paths::BTF_VMLINUX.into(), reason: "no such file".into() },
            Unavailable::NoTracefs { target: paths::TRACEFS.into(), reason: "EPERM".into() },
            Unavailable::NoTracepoint { tracepoint: "kmem:kmalloc".into(), path: "x".into() },
        ];
        for u in all {
            assert!(!u.to_string().is_empty());
            assert!(u.remedy().len() > 20, "{u}");
        }
    }
}
