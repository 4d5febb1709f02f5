//! The targets of `/proc/PID/fd/N` links (fs/proc/fd.c, `d_path` and the
//! `d_dname` of pseudo file systems).
//!
//! What `readlink` returns says what kind of file the descriptor holds:
//! ```text
//! /var/log/app.log                  a path (a file, a directory, a device, a FIFO …)
//! /var/log/app.log (deleted)        a path that was unlinked while open
//! /memfd:name (deleted)             memfd_create(2) (mm/memfd.c)
//! pipe:[23431]                      a pipe, by inode (fs/pipe.c pipefs_dname)
//! socket:[23432]                    a socket, by inode (net/socket.c sockfs_dname)
//! anon_inode:[eventfd]              an anonymous inode (fs/anon_inodes.c); the
//! anon_inode:inotify                name is what the subsystem passed, with or
//! anon_inode:bpf-map                without brackets
//! net:[4026531833]                  a namespace (fs/nsfs.c ns_dname)
//! ```
//! Pipes and sockets are known by inode only: the socket's family comes from
//! the `/proc/net` tables (see [`crate::parse::net`]). A path does not say
//! whether it is a regular file, a directory or a device: that takes a
//! `stat` of the link.

use serde::{Deserialize, Serialize};

/// The suffix `d_path` appends to a path that was unlinked.
const DELETED: &str = " (deleted)";

/// Namespace kinds as `ns_dname` prints them.
const NAMESPACES: &[&str] = &["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

/// What one descriptor refers to, from its link text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FdTarget {
    /// A path in the file system.
    Path {
        /// The path without the ` (deleted)` suffix.
        path: String,
        /// The file was unlinked while open (its space is freed only when
        /// the last descriptor closes).
        deleted: bool,
    },
    /// An anonymous memory file (`memfd_create`).
    Memfd {
        /// The name given to `memfd_create`.
        name: String,
    },
    /// A pipe (or the read/write end of one).
    Pipe {
        /// Pipe inode: both ends of one pipe share it.
        inode: u64,
    },
    /// A socket; its family is found in `/proc/net` by this inode.
    Socket {
        /// Socket inode.
        inode: u64,
    },
    /// An anonymous inode: `eventfd`, `eventpoll`, `inotify`, `timerfd`,
    /// `signalfd`, `pidfd`, `bpf-map`, `io_uring`, `userfaultfd`, `fanotify`, …
    AnonInode {
        /// The name without `anon_inode:` and brackets.
        kind: String,
    },
    /// A namespace file (`/proc/PID/ns/*` kept open).
    Namespace {
        /// `net`, `mnt`, `pid`, …
        kind: String,
        /// Namespace inode.
        inode: u64,
    },
    /// Anything else, as printed (`dmabuf:`, `[kvm-vcpu]`, …).
    Other {
        /// The link text.
        text: String,
    },
}

impl FdTarget {
    /// Classify one link target. Never fails: unknown forms are
    /// [`FdTarget::Other`].
    pub fn parse(link: &str) -> FdTarget {
        if let Some(rest) = link.strip_prefix('/') {
            let (body, deleted) = match link.strip_suffix(DELETED) {
                Some(b) => (b, true),
                None => (link, false),
            };
            if let Some(name) = rest.strip_prefix("memfd:") {
                let name = name.strip_suffix(DELETED).unwrap_or(name);
                return FdTarget::Memfd { name: name.to_string() };
            }
            return FdTarget::Path { path: body.to_string(), deleted };
        }
        if let Some(kind) = link.strip_prefix("anon_inode:") {
            let kind = kind.strip_prefix('[').and_then(|k| k.strip_suffix(']')).unwrap_or(kind);
            return FdTarget::AnonInode { kind: kind.to_string() };
        }
        if let Some((name, inode)) = bracketed(link) {
            match name {
                "pipe" => return FdTarget::Pipe { inode },
                "socket" => return FdTarget::Socket { inode },
                n if NAMESPACES.contains(&n) => {
                    return FdTarget::Namespace { kind: n.to_string(), inode };
                }
                // pidfs on some kernels names pidfds `pidfd:[inode]`.
                "pidfd" => return FdTarget::AnonInode { kind: "pidfd".into() },
                _ => {}
            }
        }
        FdTarget::Other { text: link.to_string() }
    }

    /// The socket inode, for sockets.
    pub fn socket_inode(&self) -> Option<u64> {
        match self {
            FdTarget::Socket { inode } => Some(*inode),
            _ => None,
        }
    }

    /// The anonymous inode kind (`eventfd`, `inotify`, …), for anonymous inodes.
    pub fn anon_kind(&self) -> Option<&str> {
        match self {
            FdTarget::AnonInode { kind } => Some(kind),
            _ => None,
        }
    }

    /// True for an inotify instance (its fdinfo lists its watches).
    pub fn is_inotify(&self) -> bool {
        self.anon_kind() == Some("inotify")
    }

    /// True for an epoll instance (its fdinfo lists the files it watches).
    pub fn is_epoll(&self) -> bool {
        self.anon_kind() == Some("eventpoll")
    }
}

/// The type of the file a path descriptor refers to (`stat` of the link:
/// the `S_IFMT` bits of the open file's inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileType {
    /// `S_IFREG`.
    Regular,
    /// `S_IFDIR`.
    Directory,
    /// `S_IFCHR`.
    CharDevice,
    /// `S_IFBLK`.
    BlockDevice,
    /// `S_IFIFO`: a named pipe.
    Fifo,
    /// `S_IFSOCK`.
    Socket,
    /// `S_IFLNK` (an `O_PATH | O_NOFOLLOW` descriptor of a link).
    Symlink,
    /// Any other mode.
    Unknown,
}

impl FileType {
    /// From the `st_mode` of a `stat`.
    pub fn from_mode(mode: u32) -> FileType {
        match mode & 0o170000 {
            0o100000 => FileType::Regular,
            0o040000 => FileType::Directory,
            0o020000 => FileType::CharDevice,
            0o060000 => FileType::BlockDevice,
            0o010000 => FileType::Fifo,
            0o140000 => FileType::Socket,
            0o120000 => FileType::Symlink,
            _ => FileType::Unknown,
        }
    }
}

/// `name:[123]` → (`name`, 123).
fn bracketed(link: &str) -> Option<(&str, u64)> {
    let (name, rest) = link.split_once(":[")?;
    let inode = rest.strip_suffix(']')?.parse().ok()?;
    Some((name, inode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn captured_link_targets() {
        // Each read with readlink(2) from /proc/PID/fd on a 6.18 kernel.
        let cases: &[(&str, FdTarget)] = &[
            ("/dev/null", FdTarget::Path { path: "/dev/null".into(), deleted: false }),
            ("/tmp", FdTarget::Path { path: "/tmp".into(), deleted: false }),
            ("/tmp/xx_deleted (deleted)", FdTarget::Path { path: "/tmp/xx_deleted".into(), deleted: true }),
            ("/memfd:hello (deleted)", FdTarget::Memfd { name: "hello".into() }),
            ("pipe:[23431]", FdTarget::Pipe { inode: 23431 }),
            ("socket:[23432]", FdTarget::Socket { inode: 23432 }),
            ("anon_inode:[eventfd]", FdTarget::AnonInode { kind: "eventfd".into() }),
            ("anon_inode:[eventpoll]", FdTarget::AnonInode { kind: "eventpoll".into() }),
            ("anon_inode:inotify", FdTarget::AnonInode { kind: "inotify".into() }),
            ("anon_inode:[timerfd]", FdTarget::AnonInode { kind: "timerfd".into() }),
            ("anon_inode:[pidfd]", FdTarget::AnonInode { kind: "pidfd".into() }),
            ("anon_inode:[fanotify]", FdTarget::AnonInode { kind: "fanotify".into() }),
            ("anon_inode:bpf-map", FdTarget::AnonInode { kind: "bpf-map".into() }),
            ("net:[4026531833]", FdTarget::Namespace { kind: "net".into(), inode: 4026531833 }),
        ];
        for (link, want) in cases {
            assert_eq!(&FdTarget::parse(link), want, "{link}");
        }
        assert!(FdTarget::parse("anon_inode:inotify").is_inotify());
        assert!(FdTarget::parse("anon_inode:[eventpoll]").is_epoll());
        assert_eq!(FdTarget::parse("socket:[7]").socket_inode(), Some(7));
    }

    #[test]
    fn unknown_forms_are_kept() {
        assert_eq!(FdTarget::parse("dmabuf:"), FdTarget::Other { text: "dmabuf:".into() });
        assert_eq!(FdTarget::parse("socket:[x]"), FdTarget::Other { text: "socket:[x]".into() });
        assert_eq!(FdTarget::parse(""), FdTarget::Other { text: String::new() });
        assert_eq!(FdTarget::parse("pidfd:[55]"), FdTarget::AnonInode { kind: "pidfd".into() });
    }

    #[test]
    fn file_types_from_modes() {
        assert_eq!(FileType::from_mode(0o100644), FileType::Regular);
        assert_eq!(FileType::from_mode(0o040755), FileType::Directory);
        assert_eq!(FileType::from_mode(0o020666), FileType::CharDevice);
        assert_eq!(FileType::from_mode(0o010600), FileType::Fifo);
        assert_eq!(FileType::from_mode(0), FileType::Unknown);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = FdTarget::parse(&s).is_inotify(); }
    }
}
