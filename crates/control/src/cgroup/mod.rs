//! cgroups that memscope creates: a transient cgroup under limits, and
//! running a command in it.
//!
//! ```text
//!  transient::plan ─▶ TransientCgroup ─▶ run::run  memscope run: limits, signals, summary
//! ```
//!
//! Finding and walking the hierarchies is `memscope_kernel::cgroup`'s,
//! reading cgroups `memscope_model::cgroups`', their arithmetic
//! `memscope_analysis::cgroups`'. Every write goes through
//! [`memscope_kernel::KernelRoot`]; planning reads only, so it works on a
//! captured tree (`--root`); running does not.

pub mod run;
pub mod transient;

pub use run::{Exit, RunError, RunReport, RunSpec};
pub use transient::{Limits, Plan, SetupError, TransientCgroup};
