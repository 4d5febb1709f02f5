//! Descriptor classification: the groups, the kind and the target of one
//! descriptor, and the leak signatures.

use std::collections::BTreeSet;

use memscope_kernel::parse::net::Socket;
use memscope_kernel::parse::pid::fd::{FdTarget, FileType};
use memscope_model::fds::FdSample;

/// A group of descriptor kinds: one definition drives the table columns,
/// the JSON `groups` keys, the CSV header and the help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdGroup {
    /// Stable key (JSON, CSV).
    pub key: &'static str,
    /// Column header.
    pub label: &'static str,
    /// What it holds.
    pub help: &'static str,
}

/// The descriptor groups, in column order.
pub const GROUPS: &[FdGroup] = &[
    FdGroup {
        key: "file",
        label: "files",
        help: "regular files, including memfd and files deleted while open",
    },
    FdGroup { key: "directory", label: "dirs", help: "directories" },
    FdGroup {
        key: "device",
        label: "devs",
        help: "character and block devices (/dev/null, terminals, disks, GPUs …)",
    },
    FdGroup { key: "pipe", label: "pipes", help: "pipes and named FIFOs" },
    FdGroup {
        key: "socket",
        label: "sockets",
        help: "sockets of every family (TCP, UDP, unix, netlink, packet, …)",
    },
    FdGroup {
        key: "anon",
        label: "anon",
        help: "anonymous inodes: eventfd, epoll, inotify, timerfd, signalfd, pidfd, bpf maps and \
               programs, io_uring, userfaultfd, perf events …",
    },
    FdGroup { key: "other", label: "other", help: "namespace files and anything else" },
];

/// The group and the kind of one descriptor.
pub fn classify(f: &FdSample) -> (&'static str, String) {
    match &f.target {
        FdTarget::Path { path, deleted } => {
            let file = || ("file", if *deleted { "file (deleted)".to_string() } else { "file".to_string() });
            match f.file_type {
                Some(FileType::Regular) => file(),
                None if is_device_path(path) => ("device", "device".into()),
                None => file(),
                Some(FileType::Directory) => ("directory", "directory".into()),
                Some(FileType::CharDevice) => ("device", "char device".into()),
                Some(FileType::BlockDevice) => ("device", "block device".into()),
                Some(FileType::Fifo) => ("pipe", "fifo".into()),
                Some(FileType::Socket) => ("socket", "socket:path".into()),
                Some(FileType::Symlink) | Some(FileType::Unknown) => ("other", "other".into()),
            }
        }
        FdTarget::Memfd { .. } => ("file", "memfd".into()),
        FdTarget::Pipe { .. } => ("pipe", "pipe".into()),
        FdTarget::Socket { .. } => match &f.socket {
            Some(s) => ("socket", format!("socket:{}", s.protocol)),
            None => ("socket", "socket:unknown".into()),
        },
        FdTarget::AnonInode { kind } => ("anon", format!("anon:{kind}")),
        FdTarget::Namespace { kind, .. } => ("other", format!("namespace:{kind}")),
        FdTarget::Other { .. } => ("other", "other".into()),
    }
}

/// Without a `stat` (a captured tree), a path under /dev (except the
/// tmpfs mounts /dev/shm and /dev/mqueue) is taken for a device.
fn is_device_path(path: &str) -> bool {
    path.starts_with("/dev/") && !path.starts_with("/dev/shm/") && !path.starts_with("/dev/mqueue/")
}

/// What a descriptor points at, for counting the same target: a path; a
/// socket by protocol, peer and state (connections from many local ports to
/// one peer group together; connections accepted on one of `listening`,
/// the process's listening `(protocol, local address)`, group by that
/// address); pipes as one; anonymous inodes by kind.
pub fn target_key(f: &FdSample, listening: &BTreeSet<(String, String)>) -> String {
    match &f.target {
        FdTarget::Path { path, deleted } => {
            if *deleted {
                format!("{path} (deleted)")
            } else {
                path.clone()
            }
        }
        FdTarget::Memfd { name } => format!("memfd:{name}"),
        FdTarget::Pipe { .. } => "pipe".into(),
        FdTarget::Socket { .. } => match &f.socket {
            Some(s) => socket_key(s, listening),
            None => "socket (not in /proc/net)".into(),
        },
        FdTarget::AnonInode { kind } => format!("anon_inode:[{kind}]"),
        FdTarget::Namespace { kind, inode } => format!("{kind}:[{inode}]"),
        FdTarget::Other { text } => text.clone(),
    }
}

/// The listening sockets of a process: (protocol, local address).
pub fn listening(samples: &[FdSample]) -> BTreeSet<(String, String)> {
    samples
        .iter()
        .filter_map(|f| f.socket.as_ref())
        .filter(|s| s.state.as_deref() == Some("LISTEN"))
        .filter_map(|s| Some((s.protocol.clone(), s.local.clone()?)))
        .collect()
}

fn socket_key(s: &Socket, listening: &BTreeSet<(String, String)>) -> String {
    let state = s.state.as_deref().unwrap_or("");
    match s.protocol.as_str() {
        "unix" => format!(
            "unix {} {} {state}",
            s.kind.as_deref().unwrap_or("?"),
            s.path.as_deref().unwrap_or("(unnamed)")
        ),
        "netlink" | "packet" => format!("{} {}", s.protocol, s.kind.as_deref().unwrap_or("?")),
        _ => {
            let unbound = |a: &str| a.starts_with("0.0.0.0:0") || a.starts_with("[::]:0");
            let accepted = s
                .local
                .as_ref()
                .is_some_and(|l| state != "LISTEN" && listening.contains(&(s.protocol.clone(), l.clone())));
            match (&s.local, &s.remote) {
                (Some(l), _) if accepted => format!("{} {l} ← peers {state}", s.protocol),
                (_, Some(r)) if !unbound(r) => format!("{} → {r} {state}", s.protocol),
                (Some(l), _) => format!("{} {l} {state}", s.protocol),
                _ => format!("{} {state}", s.protocol),
            }
        }
    }
    .trim_end()
    .to_string()
}

/// Is `count` descriptors on one target, out of `total`, a leak signature?
/// - one path (or memfd) open many times: at least 100, or at least 20 and
///   a quarter of the process's descriptors;
/// - outgoing connections to one peer in one state: the same;
/// - TCP sockets in CLOSE_WAIT (the peer closed, this process did not):
///   at least 10;
/// - never pipes, anonymous inodes, unix sockets or connections accepted on
///   a listening socket: many of them are normal in threaded programs and
///   servers.
pub(super) fn leak_suspect(group: &'static str, key: &str, count: u64, total: u64) -> bool {
    let many = count >= 100 || (count >= 20 && count * 4 >= total);
    match group {
        "file" | "directory" => many,
        "socket" if key.ends_with("CLOSE_WAIT") => count >= 10,
        "socket" => key.contains(" → ") && many,
        _ => false,
    }
}
