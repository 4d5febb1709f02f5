//! Real time, the parts that act: the latency probe and the scheduling
//! system calls it needs.
//!
//! ```text
//!  rt latency ─ latency::run (one SCHED_FIFO thread per CPU, mlockall,
//!               /dev/cpu_dma_latency held) ─▶ memscope_model::rt::latency::LatencyRun
//! ```
//!
//! What `rt check` reads is `memscope_model::rt`; the checks, statistics
//! and reports are `memscope_analysis::rt`.
//!
//! - [`latency`]: the cyclictest-grade probe;
//! - [`sched`]: policies and the system calls that set them.

pub mod latency;
pub mod sched;
