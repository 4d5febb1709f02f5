//! Renderers: every output of memscope is written here, to an
//! `impl io::Write`, so tests render into a `Vec<u8>` and compare.
//!
//! - [`style`]: colour on or off (decided by the caller: TTY, `NO_COLOR`,
//!   `--no-color`), word wrapping, time stamps;
//! - [`report`]: `memscope report` as a table, JSON (`memscope.report/1`)
//!   or CSV;
//! - [`cgroups`]: `memscope cgroups` as tables, JSON (`memscope.cgroups/1`)
//!   or CSV;
//! - [`run`]: the summary of `memscope run`, text or JSON (`memscope.run/1`);
//! - [`trace`]: `memscope trace` as a call-site tree, folded stacks, CSV or
//!   JSON (`memscope.trace/1`).

pub mod cgroups;
pub mod report;
pub mod run;
pub mod style;
pub mod trace;

pub use style::Style;
