//! `/proc/PID/fdinfo/N` (fs/proc/fd.c `seq_show`, then the file's own
//! `show_fdinfo`): what the kernel says about one open file.
//!
//! Every file starts with four lines:
//! ```text
//! pos:    0           file offset (signed, %lli)
//! flags:  02000002    open flags in octal (O_CLOEXEC | O_RDWR here)
//! mnt_id: 17          mount id (as in /proc/PID/mountinfo)
//! ino:    1044        inode number
//! ```
//! then `lock:` lines for file locks (fs/locks.c), then lines that depend on
//! the kind of file (Documentation/filesystems/proc.rst, "fdinfo"):
//! - eventfd (fs/eventfd.c): `eventfd-count: %16llx` — the counter in **hex**
//!   — `eventfd-id:`, `eventfd-semaphore:`;
//! - epoll (fs/eventpoll.c `ep_show_fdinfo`): one line per watched file,
//!   `tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x`; each is
//!   one watch charged to the owner's `fs.epoll.max_user_watches`;
//! - inotify (fs/notify/fdinfo.c): one line per watch,
//!   `inotify wd:%x ino:%lx sdev:%x mask:%x ignored_mask:%x` and a file
//!   handle; each is charged to `fs.inotify.max_user_watches`;
//! - fanotify: `fanotify flags:… event-flags:…`, then one `fanotify ino:` /
//!   `fanotify mnt_id:` / `fanotify sdev:` line per mark;
//! - timerfd (`clockid:`, `ticks:`, `settime flags:`, `it_value:`), signalfd
//!   (`sigmask:`), pidfd (`Pid:`, `NSpid:`), bpf, io_uring, unix sockets
//!   (`scm_fds:`) …: kept as `key → value` text.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::parse::{Malformed, hex_u64};

/// One fdinfo file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdInfo {
    /// `pos`: the file offset.
    pub pos: Option<i64>,
    /// `flags`: the open flags (printed in octal; `O_ACCMODE` = `flags & 3`).
    pub flags: Option<u32>,
    /// `mnt_id`: the mount the file is on.
    pub mnt_id: Option<u64>,
    /// `ino`: the inode number (the same anonymous inode for every
    /// `anon_inode:` file).
    pub ino: Option<u64>,
    /// `eventfd-count` (eventfd only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eventfd_count: Option<u64>,
    /// `tfd:` lines: files this epoll instance watches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub epoll: Vec<EpollItem>,
    /// `inotify wd:` lines: this inotify instance's watches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inotify: Vec<InotifyWatch>,
    /// `fanotify ino:` / `mnt_id:` / `sdev:` lines: this fanotify group's marks.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fanotify_marks: u64,
    /// `lock:` lines (POSIX, FLOCK, OFDLCK locks held through this file), as printed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<String>,
    /// Every other `key: value` line, as text (`clockid`, `sigmask`, `Pid`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// Lines that were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<Malformed>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// One file watched by an epoll instance (a `tfd:` line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpollItem {
    /// The watched descriptor's number, in the process that added it.
    pub tfd: i64,
    /// The event mask (`EPOLLIN` = 1, `EPOLLOUT` = 4, …).
    pub events: u32,
    /// The user data registered with it.
    pub data: u64,
    /// The watched file's inode number.
    pub ino: Option<u64>,
}

/// One inotify watch (an `inotify wd:` line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InotifyWatch {
    /// Watch descriptor.
    pub wd: u64,
    /// Watched inode number.
    pub ino: u64,
    /// Device of the watched inode (the kernel's `s_dev`).
    pub sdev: u64,
    /// Event mask (`IN_MODIFY` = 2, `IN_CREATE` = 0x100, …).
    pub mask: u64,
}

impl FdInfo {
    /// Parse one fdinfo file. Never fails; malformed lines are listed.
    pub fn parse(text: &str) -> FdInfo {
        let mut out = FdInfo::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            if !out.parse_line(line) {
                out.malformed.push(Malformed::new(i, line));
            }
        }
        out
    }

    fn parse_line(&mut self, line: &str) -> bool {
        if let Some(rest) = line.strip_prefix("tfd:") {
            return match parse_epoll(rest) {
                Some(item) => {
                    self.epoll.push(item);
                    true
                }
                None => false,
            };
        }
        if let Some(rest) = line.strip_prefix("inotify ") {
            return match parse_inotify(rest) {
                Some(w) => {
                    self.inotify.push(w);
                    true
                }
                None => false,
            };
        }
        if let Some(rest) = line.strip_prefix("fanotify ") {
            if rest.starts_with("flags:") {
                self.fields.insert("fanotify".into(), rest.trim().to_string());
            } else {
                self.fanotify_marks += 1;
            }
            return true;
        }
        let Some((key, value)) = line.split_once(':') else { return false };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return false;
        }
        match key {
            "pos" => value.parse().map(|v| self.pos = Some(v)).is_ok(),
            "flags" => u32::from_str_radix(value, 8).map(|v| self.flags = Some(v)).is_ok(),
            "mnt_id" => value.parse().map(|v| self.mnt_id = Some(v)).is_ok(),
            "ino" => value.parse().map(|v| self.ino = Some(v)).is_ok(),
            "eventfd-count" => hex_u64(value).map(|v| self.eventfd_count = Some(v)).is_some(),
            "lock" => {
                self.locks.push(value.to_string());
                true
            }
            _ => {
                self.fields.insert(key.to_string(), value.to_string());
                true
            }
        }
    }

    /// The access mode: `r`, `w` or `rw` (`flags & O_ACCMODE`).
    pub fn access_mode(&self) -> Option<&'static str> {
        self.flags.map(|f| match f & 3 {
            0 => "r",
            1 => "w",
            _ => "rw",
        })
    }
}

/// `      5 events:       19 data:                5  pos:0 ino:5b87 sdev:f`
fn parse_epoll(rest: &str) -> Option<EpollItem> {
    let toks: Vec<&str> = rest.split_ascii_whitespace().collect();
    let tfd = toks.first()?.parse().ok()?;
    let after = |key: &str| toks.iter().position(|t| *t == key).and_then(|p| toks.get(p + 1)).copied();
    let events = u32::from_str_radix(after("events:")?, 16).ok()?;
    let data = hex_u64(after("data:")?)?;
    let ino = toks.iter().find_map(|t| t.strip_prefix("ino:")).and_then(hex_u64);
    Some(EpollItem { tfd, events, data, ino })
}

/// `wd:2 ino:13 sdev:fe00000 mask:2 ignored_mask:0 fhandle-bytes:8 …`, all hex.
fn parse_inotify(rest: &str) -> Option<InotifyWatch> {
    let kv: Vec<(&str, &str)> = rest.split_ascii_whitespace().filter_map(|t| t.split_once(':')).collect();
    let get = |key: &str| kv.iter().find(|(k, _)| *k == key).and_then(|(_, v)| hex_u64(v));
    Some(InotifyWatch { wd: get("wd")?, ino: get("ino")?, sdev: get("sdev")?, mask: get("mask")? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Captured on a 6.18 kernel from a process holding one file of each kind,
    // except the fanotify mark line and the lock line, written from the
    // formats in fs/notify/fdinfo.c and fs/locks.c.

    const EVENTFD: &str = "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1044\n\
eventfd-count:                0\neventfd-id: 1\neventfd-semaphore: 0\n";

    const EPOLL: &str = "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1044\n\
tfd:        6 events:       1c data:                6  pos:0 ino:5b87 sdev:f\n\
tfd:        5 events:       19 data:                5  pos:0 ino:5b87 sdev:f\n";

    const INOTIFY: &str = "pos:\t0\nflags:\t00\nmnt_id:\t17\nino:\t1044\n\
inotify wd:2 ino:13 sdev:fe00000 mask:2 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:1300000000000000\n\
inotify wd:1 ino:3c4a7 sdev:fe00000 mask:100 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:a7c4030000000000\n";

    const TIMERFD: &str = "pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t1044\nclockid: 1\nticks: 0\n\
settime flags: 00\nit_value: (0, 0)\nit_interval: (0, 0)\n";

    const PIDFD: &str = "pos:\t0\nflags:\t02000002\nmnt_id:\t4\nino:\t17529\nPid:\t17528\nNSpid:\t17528\n";

    const FANOTIFY: &str = "pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t1044\n\
fanotify flags:0 event-flags:8000\n\
fanotify ino:3c4a7 sdev:fe00000 mflags:0 mask:1 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:a7c4030000000000\n";

    const REGULAR_WITH_LOCK: &str = "pos:\t2058\nflags:\t0100001\nmnt_id:\t27\nino:\t10011927\n\
lock:\t1: POSIX  ADVISORY  WRITE 4242 fe:00:10011927 0 EOF\n";

    #[test]
    fn common_lines() {
        let f = FdInfo::parse(REGULAR_WITH_LOCK);
        assert_eq!(f.pos, Some(2058));
        assert_eq!(f.flags, Some(0o100001));
        assert_eq!(f.access_mode(), Some("w"));
        assert_eq!(f.mnt_id, Some(27));
        assert_eq!(f.ino, Some(10011927));
        assert_eq!(f.locks, vec!["1: POSIX  ADVISORY  WRITE 4242 fe:00:10011927 0 EOF".to_string()]);
        assert!(f.malformed.is_empty());
    }

    #[test]
    fn eventfd_count_is_hex() {
        let f = FdInfo::parse(EVENTFD);
        assert_eq!(f.eventfd_count, Some(0));
        assert_eq!(f.fields.get("eventfd-id").map(String::as_str), Some("1"));
        let f = FdInfo::parse("eventfd-count:               1f\n");
        assert_eq!(f.eventfd_count, Some(31));
    }

    #[test]
    fn epoll_items() {
        let f = FdInfo::parse(EPOLL);
        assert!(f.malformed.is_empty(), "{:?}", f.malformed);
        assert_eq!(f.epoll.len(), 2);
        assert_eq!(f.epoll[0], EpollItem { tfd: 6, events: 0x1c, data: 6, ino: Some(0x5b87) });
        assert_eq!(f.access_mode(), Some("rw"));
    }

    #[test]
    fn inotify_watches() {
        let f = FdInfo::parse(INOTIFY);
        assert!(f.malformed.is_empty(), "{:?}", f.malformed);
        assert_eq!(f.inotify.len(), 2);
        assert_eq!(f.inotify[1], InotifyWatch { wd: 1, ino: 0x3c4a7, sdev: 0xfe00000, mask: 0x100 });
        assert_eq!(f.flags, Some(0));
    }

    #[test]
    fn fanotify_marks() {
        let f = FdInfo::parse(FANOTIFY);
        assert_eq!(f.fanotify_marks, 1);
        assert_eq!(f.fields.get("fanotify").map(String::as_str), Some("flags:0 event-flags:8000"));
    }

    #[test]
    fn other_kinds_keep_their_fields() {
        let t = FdInfo::parse(TIMERFD);
        assert_eq!(t.fields.get("settime flags").map(String::as_str), Some("00"));
        assert_eq!(t.fields.get("it_value").map(String::as_str), Some("(0, 0)"));
        let p = FdInfo::parse(PIDFD);
        assert_eq!(p.fields.get("Pid").map(String::as_str), Some("17528"));
        assert!(t.malformed.is_empty() && p.malformed.is_empty());
    }

    #[test]
    fn broken_lines_are_listed() {
        let f = FdInfo::parse("pos:\tx\nflags:\t9\ntfd: what\ninotify wd:zz\nno colon here\n");
        assert_eq!(f.pos, None);
        assert_eq!(f.flags, None);
        assert!(f.epoll.is_empty() && f.inotify.is_empty());
        assert_eq!(f.malformed.len(), 5);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let f = FdInfo::parse(&s);
            let _ = f.access_mode();
        }

        #[test]
        fn never_panics_on_watch_lines(s in "(tfd:|inotify |fanotify )[ -~]{0,80}") {
            let _ = FdInfo::parse(&s);
        }
    }
}
