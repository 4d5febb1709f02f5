//! The kernel side of memscope: one reader and pure parsers.
//!
//! ```text
//!  /proc, /sys, /dev/kmsg  ──or──  a captured tree (--root DIR)
//!            │
//!      KernelRoot  ── the only code that opens kernel files; errors are
//!            │        ReadError values (Gone, PermissionDenied, NotReported,
//!            │        Parse, Io), classified in one function
//!            ▼
//!      parse::*    ── pure functions of text: units to bytes, kernel names
//!                     kept, unknown fields kept, missing fields None
//! ```
//!
//! The main types are [`KernelRoot`] and [`ReadError`]; each parser lives in
//! a module of [`parse`] named after its file, and [`read`] names the kernel
//! path of each file once. [`cgroup`] finds the cgroup hierarchies (v1, v2,
//! hybrid) and owns the one walk of cgroupfs ([`cgroup::CgroupReader`]).

pub mod cgroup;
pub mod fuzzing;
pub mod held;
pub mod parse;
pub mod read;
pub mod root;
pub mod users;

pub use held::HeldFiles;
pub use parse::ParseError;
pub use read::{KmsgFollower, paths};
pub use root::{DeviceHold, KernelFile, KernelRoot, MANIFEST, ReadError, Recorder, UNREADABLE};
