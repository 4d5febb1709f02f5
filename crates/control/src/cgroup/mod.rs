//! cgroups: where the hierarchies are, what each cgroup holds and uses, and
//! running a command in a transient cgroup under limits.
//!
//! ```text
//!  /proc/self/mountinfo ──▶ layout::Layout        v2, v1 or hybrid; where each controller is
//!  cgroupfs (v1 or v2)  ──▶ tree::CgroupTree      one model: memory, cpuset, pids per cgroup
//!  + model::Snapshot    ──▶ usage::process_usage  Σ PSS per cgroup, difference explained
//!  memory files only    ──▶ sample::sampler        current, limit, OOM kills kept with a snapshot
//!  transient::plan ─▶ TransientCgroup ─▶ run::run  memscope run: limits, signals, summary
//! ```
//!
//! Every read and write goes through [`memscope_kernel::KernelRoot`], so
//! reading works on a captured tree as well (`--root`); running does not.

pub mod layout;
pub mod run;
pub mod sample;
pub mod transient;
pub mod tree;
pub mod usage;

pub use layout::{Hierarchy, Layout, LayoutKind, Version};
pub use run::{Exit, RunError, RunReport, RunSpec};
pub use transient::{Limits, Plan, SetupError, TransientCgroup};
pub use tree::{Cgroup, CgroupTree, read_tree};
