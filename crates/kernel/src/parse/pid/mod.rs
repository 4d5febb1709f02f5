//! Per-process files under `/proc/PID`.

pub mod cgroup;
pub mod fd;
pub mod fdinfo;
pub mod limits;
pub mod maps;
pub mod ns;
pub mod numa_maps;
pub mod pagemap;
pub mod smaps_rollup;
pub mod stat;
pub mod status;
