//! Renderers: every output of memscope is written here, to an
//! `impl io::Write`, so tests render into a `Vec<u8>` and compare.
//!
//! - [`style`]: colour on or off (decided by the caller: TTY, `NO_COLOR`,
//!   `--no-color`), word wrapping, time stamps;
//! - [`report`]: `memscope report` as a table, JSON (`memscope.report/1`)
//!   or CSV.

pub mod report;
pub mod style;

pub use style::Style;
