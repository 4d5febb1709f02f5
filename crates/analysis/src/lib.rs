//! Analysis: pure functions of snapshots, no I/O.
//!
//! - [`ledger`]: every byte of installed RAM in signed lines that add up
//!   exactly ([`ledger::build`], the category table [`ledger::CATEGORIES`]);
//! - [`census`]: physical memory by page flags, set beside the counters;
//! - [`pages`]: one process's pages by flag set and mapping;
//! - [`processes`]: per-process rows (PSS/USS or status figures) and totals;
//! - [`report`]: the `free`-style headline, the ledger, the top processes and
//!   plain-language notes;
//! - [`pressure`]: memory pressure (PSI) in figures and one sentence;
//! - [`fds`]: the "Too many open files" doctor: descriptors against
//!   `RLIMIT_NOFILE`, `fs.file-max`, inotify and epoll limits;
//! - [`memcg`]: memory cgroups against their limits, as a tree and bounded;
//! - [`cgroups`]: the binding limit of a cgroup, the processes' PSS per
//!   cgroup beside its charge, and the difference explained;
//! - the detail views: [`ps`] (with [`containers`]), [`maps`], [`numa`],
//!   [`zones`], [`slab`], [`vmalloc`];
//! - [`leaks`] and [`diff`]: trends and comparisons over recorded snapshots;
//! - [`allocinfo`]: per-call-site totals and growth from `/proc/allocinfo`;
//! - [`trace`]: outstanding kernel allocations from `memscope trace`, by
//!   call site, beside the ledger's growth;
//! - [`oom`]: each OOM kill of the kernel log explained in plain words;
//! - [`units`]: human units for bytes.

pub mod allocinfo;
pub mod census;
pub mod cgroup_history;
pub mod cgroup_ledger;
pub mod cgroup_rows;
pub mod cgroups;
pub mod cmdline;
pub mod containers;
pub mod diff;
pub mod fds;
pub mod hints;
pub mod leaks;
pub mod ledger;
pub mod maps;
pub mod memcg;
pub mod numa;
pub mod oom;
pub mod oom_timeline;
pub mod pages;
pub mod pressure;
pub mod processes;
pub mod ps;
pub mod report;
pub mod rt;
pub mod slab;
pub mod trace;
pub mod units;
pub mod utrace;
pub mod vmalloc;
pub mod zones;

pub use units::{fmt_bytes, fmt_pct};
