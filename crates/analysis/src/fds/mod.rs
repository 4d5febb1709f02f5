//! The "Too many open files" doctor: descriptors against the limits that
//! produce that error, per process and system-wide.
//!
//! Two different errors print "Too many open files" (errno(3)):
//! - `EMFILE`, *Too many open files*: the process holds as many descriptors
//!   as its soft `RLIMIT_NOFILE` (`/proc/PID/limits`). Only that process is
//!   affected. `inotify_init1` also returns `EMFILE` when the user holds
//!   `fs.inotify.max_user_instances` instances (fs/notify/inotify/inotify_user.c).
//! - `ENFILE`, *Too many open files in system*: the system holds
//!   `fs.file-max` open files (`/proc/sys/fs/file-nr`); every process without
//!   `CAP_SYS_ADMIN` is affected (fs/file_table.c `alloc_empty_file`).
//!
//! Related per-user limits fail with `ENOSPC`: inotify watches
//! (`fs.inotify.max_user_watches`, charged to the effective uid since Linux
//! 5.11's ucounts) and epoll watches (`fs.epoll.max_user_watches`, charged to
//! the real uid's `user_struct`, fs/eventpoll.c). No kernel file reports
//! their use: it is counted here from the `inotify wd:` and `tfd:` lines of
//! fdinfo, one instance per descriptor (an instance shared by `fork` or `dup`
//! is counted once per descriptor, so the figure can overstate).
//!
//! [`build`] turns an [`FdSnapshot`] into an [`FdReport`]: limit rows with
//! headroom and verdict ([`VERDICTS`]), per-user inotify and epoll use,
//! per-process rows closest to their limit first with a breakdown by
//! [`GROUPS`], and notes. [`diagnose`] explains one process.
//!
//! The code is split by job: `classify` names each descriptor's group,
//! kind and target, `report` builds the [`FdReport`], `diagnosis` explains
//! one process.

mod classify;
mod diagnosis;
mod report;

pub use classify::*;
pub use diagnosis::*;
pub use report::*;

#[cfg(test)]
mod tests;
