//! Control: the parts of memscope with side effects.
//!
//! - [`cgroup`]: run a command in a transient cgroup under limits;
//! - [`rt`]: real-time readiness checks and a cyclictest-grade latency probe;
//! - [`signals`]: terminating signals blocked and taken as values.

pub mod cgroup;
pub mod rt;
pub mod signals;
