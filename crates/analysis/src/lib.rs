//! Analysis: pure functions of snapshots, no I/O.
//!
//! - [`ledger`]: every byte of installed RAM in signed lines that add up
//!   exactly ([`ledger::build`], the category table [`ledger::CATEGORIES`]);
//! - [`census`]: physical memory by page flags, set beside the counters;
//! - [`pages`]: one process's pages by flag set and mapping;
//! - [`processes`]: per-process rows (PSS/USS or status figures) and totals;
//! - [`report`]: the ledger, the top processes and plain-language notes;
//! - [`units`]: human units for bytes.

pub mod census;
pub mod hints;
pub mod ledger;
pub mod pages;
pub mod processes;
pub mod report;
pub mod units;

pub use units::{fmt_bytes, fmt_pct};
