//! Scheduling policies and the system calls that set them.
//!
//! rustix covers affinity, `mlockall`, clocks and `clock_nanosleep`; the
//! scheduling policy needs `pthread_setschedparam(3)` from libc (rustix and
//! nix have no wrapper). A thread's policy and its `rt_priority` are fields
//! 41 and 40 of `/proc/PID/task/TID/stat` (include/uapi/linux/sched.h).

use std::io;

use memscope_model::rt::latency::ThreadUsage;

/// Put the calling thread in `SCHED_FIFO` at `priority` (1–99).
pub fn set_fifo(priority: u8) -> io::Result<()> {
    let param = libc::sched_param { sched_priority: priority as libc::c_int };
    // SAFETY: pthread_self() is the calling thread; param is a valid pointer
    // for the duration of the call.
    let r = unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) };
    if r == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(r)) }
}

/// The calling thread's policy and priority.
pub fn current_policy() -> io::Result<(u64, i32)> {
    let mut policy: libc::c_int = 0;
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: valid out-pointers for the calling thread.
    let r = unsafe { libc::pthread_getschedparam(libc::pthread_self(), &mut policy, &mut param) };
    if r == 0 { Ok((policy as u64, param.sched_priority)) } else { Err(io::Error::from_raw_os_error(r)) }
}

/// Pin the calling thread to one CPU.
pub fn pin_to_cpu(cpu: u32) -> io::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu as usize);
    rustix::thread::sched_setaffinity(None, &set).map_err(io::Error::from)
}

/// The CPUs this process may run on (its affinity mask).
pub fn allowed_cpus() -> io::Result<Vec<u32>> {
    let set = rustix::thread::sched_getaffinity(None).map_err(io::Error::from)?;
    Ok((0..rustix::thread::CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).map(|c| c as u32).collect())
}

/// Page faults and context switches of the calling thread so far
/// (`getrusage(RUSAGE_THREAD)`); all zero if the call fails.
pub fn thread_usage() -> ThreadUsage {
    // SAFETY: getrusage fills the struct it is given; all-zero is a
    // valid rusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer; RUSAGE_THREAD is Linux's per-thread query.
    let r = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    if r != 0 {
        return ThreadUsage::default();
    }
    ThreadUsage {
        minflt: ru.ru_minflt as u64,
        majflt: ru.ru_majflt as u64,
        nvcsw: ru.ru_nvcsw as u64,
        nivcsw: ru.ru_nivcsw as u64,
    }
}

/// Touch `bytes` of the calling thread's stack so that its pages are
/// present before the measurement starts (a first touch is a page fault).
#[inline(never)]
pub fn prefault_stack<const BYTES: usize>() {
    let mut buf = [0u8; BYTES];
    for i in (0..BYTES).step_by(1024) {
        // SAFETY: in bounds; volatile so the writes are not optimized out.
        unsafe { std::ptr::write_volatile(buf.as_mut_ptr().add(i), 1) };
    }
    std::hint::black_box(&buf);
}

/// Write to every page of a buffer so that it is present (a freshly
/// allocated zeroed buffer is mapped lazily; a write faults the page in).
pub fn prefault_buffer(buf: &mut [u32]) {
    for i in (0..buf.len()).step_by(1024) {
        // SAFETY: in bounds; volatile so the write is not optimized out.
        unsafe { std::ptr::write_volatile(buf.as_mut_ptr().add(i), 0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_of_this_thread_counts_a_fresh_page_fault() {
        let before = thread_usage();
        let mut v = vec![0u32; 1 << 20];
        prefault_buffer(&mut v);
        let after = thread_usage().since(&before);
        std::hint::black_box(&v);
        assert!(after.minflt > 0, "touching 4 MiB of new memory faults pages in: {after:?}");
    }

    #[test]
    fn this_process_may_run_somewhere() {
        let cpus = allowed_cpus().unwrap();
        assert!(!cpus.is_empty());
    }
}
