//! Per-process files under `/proc/PID`.

pub mod cgroup;
pub mod maps;
pub mod pagemap;
pub mod smaps_rollup;
pub mod stat;
pub mod status;
