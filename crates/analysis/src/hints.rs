//! Why a figure is unavailable, and what would make it available, in words.

use memscope_kernel::ReadError;

/// Root-only (0400) files.
const ROOT_ONLY: &[&str] = &["/proc/slabinfo", "/proc/vmallocinfo", "/proc/pagetypeinfo"];

/// Per-process files that need ptrace read access (`/proc/PID/ns/*` too).
const PTRACE_READ: &[&str] = &["/smaps_rollup", "/smaps", "/pagemap", "/numa_maps"];

/// What unlocks a root-only kernel file.
fn unlock(path: &str) -> Option<&'static str> {
    let p = path;
    Some(if ROOT_ONLY.contains(&p) || p.starts_with("/sys/kernel/slab/") {
        "root (or CAP_DAC_READ_SEARCH)"
    } else if p == "/proc/iomem" {
        "root (CAP_SYS_ADMIN shows real addresses)"
    } else if p == "/dev/kmsg" {
        "root (CAP_SYSLOG), or kernel.dmesg_restrict=0"
    } else if p.starts_with("/proc/kpage") {
        "root (CAP_SYS_ADMIN)"
    } else if PTRACE_READ.iter().any(|f| p.ends_with(f)) || p.contains("/ns/") {
        "callers with ptrace read access: its owner, or root / CAP_SYS_PTRACE (a non-dumpable process \
         or a security module can refuse even root)"
    } else if p.ends_with("/fd") || p.contains("/fd/") || p.contains("/fdinfo") {
        "root or the process's owner (ptrace read access; a non-dumpable process or a security module \
         can refuse even root)"
    } else {
        return None;
    })
}

/// Like [`unavailable_reason`], for a figure read from the running system
/// (`live`) or from a captured tree: a file missing from a tree is "not in
/// this captured tree", not "does not exist on this kernel" nor "exited".
pub fn unavailable_reason_in(e: &ReadError, live: bool) -> String {
    match e {
        ReadError::NotReported { path, field: None } | ReadError::Gone { path } if !live => {
            format!("{path} is not in this captured tree")
        }
        e => unavailable_reason(e),
    }
}

/// A one-line reason for an unavailable figure, naming the path and, for
/// permission problems, what would unlock it.
pub fn unavailable_reason(e: &ReadError) -> String {
    match e {
        ReadError::PermissionDenied { path } => match unlock(path) {
            Some(who) => format!("{path} is readable by {who}"),
            None => format!("{path}: permission denied"),
        },
        ReadError::NotReported { path, field: Some(f) } => format!("{path} has no {f} on this kernel"),
        ReadError::NotReported { path, field: None } => format!("{path} does not exist on this kernel"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_the_unlock() {
        let e = ReadError::PermissionDenied { path: "/proc/slabinfo".into() };
        assert!(unavailable_reason(&e).contains("root"));
        let e = ReadError::PermissionDenied { path: "/proc/12/smaps_rollup".into() };
        assert!(unavailable_reason(&e).contains("CAP_SYS_PTRACE"));
        let e = ReadError::NotReported { path: "/proc/meminfo".into(), field: Some("Percpu".into()) };
        assert_eq!(unavailable_reason(&e), "/proc/meminfo has no Percpu on this kernel");
    }

    #[test]
    fn a_file_missing_from_a_captured_tree_is_not_in_the_tree() {
        let e = ReadError::NotReported { path: "/proc/9/smaps".into(), field: None };
        assert_eq!(unavailable_reason_in(&e, false), "/proc/9/smaps is not in this captured tree");
        assert_eq!(unavailable_reason_in(&e, true), "/proc/9/smaps does not exist on this kernel");
        let e = ReadError::Gone { path: "/proc/9/smaps".into() };
        assert_eq!(unavailable_reason_in(&e, false), "/proc/9/smaps is not in this captured tree");
        let e = ReadError::NotReported { path: "/proc/meminfo".into(), field: Some("Percpu".into()) };
        assert_eq!(unavailable_reason_in(&e, false), "/proc/meminfo has no Percpu on this kernel");
    }
}
