//! Analysis: pure functions of snapshots, no I/O.
//!
//! - [`ledger`]: every byte of installed RAM in signed lines that add up
//!   exactly ([`ledger::build`], the category table [`ledger::CATEGORIES`]);
//! - [`processes`]: per-process rows (PSS/USS or status figures) and totals;
//! - [`report`]: the ledger, the top processes and plain-language notes;
//! - [`allocinfo`]: per-call-site totals and growth from `/proc/allocinfo`;
//! - [`trace`]: outstanding kernel allocations from `memscope trace`, by
//!   call site, beside the ledger's growth;
//! - [`units`]: human units for bytes.

pub mod allocinfo;
pub mod hints;
pub mod ledger;
pub mod processes;
pub mod report;
pub mod trace;
pub mod units;

pub use units::{fmt_bytes, fmt_pct};
