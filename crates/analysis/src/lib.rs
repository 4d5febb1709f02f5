//! Analysis: pure functions of snapshots, no I/O.
//!
//! - [`ledger`]: every byte of installed RAM in signed lines that add up
//!   exactly ([`ledger::build`], the category table [`ledger::CATEGORIES`]);
//! - [`processes`]: per-process rows (PSS/USS or status figures) and totals;
//! - [`report`]: the ledger, the top processes and plain-language notes;
//! - [`units`]: human units for bytes.

pub mod hints;
pub mod ledger;
pub mod processes;
pub mod report;
pub mod units;

pub use units::{fmt_bytes, fmt_pct};
