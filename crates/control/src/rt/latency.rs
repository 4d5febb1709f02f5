//! The scheduling-latency probe: what cyclictest measures, the way it
//! measures it.
//!
//! ```text
//!  main thread (normal priority)          measuring thread, one per CPU
//!  ───────────────────────────           ─────────────────────────────────
//!  mlockall(CURRENT|FUTURE)               pin to its CPU, SCHED_FIFO prio,
//!  hold /dev/cpu_dma_latency              pre-fault stack and sample buffer
//!  preallocate sample buffers ──────────▶ wait for the start signal
//!  progress line / vmstat sampler         next = now + interval
//!                                         loop: clock_nanosleep(ABSTIME, next)
//!                                               now = clock_gettime(MONOTONIC)
//!                                               sample[i] = now − next
//!                                               next += interval
//!  join, munlockall, statistics  ◀──────  samples, overruns, rusage
//! ```
//!
//! A sample is how late the thread woke after the absolute time it asked
//! for: timer interrupt latency, plus the time until the scheduler ran the
//! highest-priority thread on its CPU (preemption disabled, interrupts
//! off, another RT thread, an idle state's exit latency, an SMI).
//! Nothing is allocated and no lock is taken between the start and the
//! end of the loop. When a wakeup is later than a whole interval, the
//! missed periods are skipped (as cyclictest does) and counted as
//! overruns.

use std::io;
use std::sync::atomic::AtomicU8;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use memscope_kernel::{DeviceHold, KernelRoot, paths};
use rustix::time::{ClockId, Timespec};

use memscope_model::rt::latency::{CpuRun, LatencyOptions, LatencyRun, OVERRUN_LOG, ProgressView};

use super::sched;

/// What went wrong before measuring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LatencyError {
    /// Bad options.
    #[error("{0}")]
    Invalid(String),
    /// `sched_setscheduler(SCHED_FIFO)` refused.
    #[error("cannot set SCHED_FIFO priority {priority}: {source}")]
    Policy {
        /// Priority asked for.
        priority: u8,
        /// The system's error (EPERM: no CAP_SYS_NICE, RLIMIT_RTPRIO too low,
        /// or an RT cgroup budget of 0).
        source: io::Error,
    },
    /// `mlockall` refused.
    #[error("cannot lock memory (mlockall): {0}")]
    Mlock(io::Error),
    /// `/dev/cpu_dma_latency` could not be held.
    #[error("cannot hold /dev/cpu_dma_latency: {0}")]
    DmaLatency(io::Error),
    /// Pinning a thread to its CPU failed.
    #[error("cannot pin a thread to CPU {cpu}: {source}")]
    Affinity {
        /// The CPU.
        cpu: u32,
        /// The system's error.
        source: io::Error,
    },
    /// A thread could not be started.
    #[error("cannot start a measuring thread: {0}")]
    Spawn(io::Error),
}

/// Progress of one thread, readable while it runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Samples taken.
    pub count: AtomicU64,
    /// Latest sample, ns.
    pub last_ns: AtomicU64,
    /// Largest so far, ns.
    pub max_ns: AtomicU64,
    /// Sum so far, ns (for the running average).
    pub sum_ns: AtomicU64,
}

/// Set by SIGINT: threads stop at their next wakeup and the run is
/// reported as it stands.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Stop at SIGINT (Ctrl-C) instead of dying, for the duration of a run.
fn catch_sigint() -> Option<libc::sigaction> {
    // SAFETY: installs an async-signal-safe handler (one atomic store);
    // the previous action is returned to restore it.
    unsafe {
        let mut new: libc::sigaction = std::mem::zeroed();
        new.sa_sigaction = on_sigint as *const () as usize;
        libc::sigemptyset(&mut new.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        (libc::sigaction(libc::SIGINT, &new, &mut old) == 0).then_some(old)
    }
}

fn restore_sigint(old: Option<libc::sigaction>) {
    if let Some(old) = old {
        // SAFETY: restores the action saved by catch_sigint.
        unsafe { libc::sigaction(libc::SIGINT, &old, std::ptr::null_mut()) };
    }
}

/// Largest sample buffer accepted, over all threads (the samples are
/// locked in memory with the rest of the process).
pub const MAX_SAMPLE_BYTES: u64 = 1 << 30;

fn mono_ns() -> u64 {
    ts_ns(rustix::time::clock_gettime(ClockId::Monotonic))
}

fn ts_ns(t: Timespec) -> u64 {
    (t.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(t.tv_nsec as u64)
}

fn ns_ts(ns: u64) -> Timespec {
    Timespec { tv_sec: (ns / 1_000_000_000) as i64, tv_nsec: (ns % 1_000_000_000) as _ }
}

/// Hold the CPU latency QoS limit at `usec` while the returned value lives
/// (kernel/power/qos.c: the request lives as long as the file descriptor).
fn hold_dma_latency(root: &KernelRoot, usec: i32) -> io::Result<DeviceHold> {
    root.hold_device(paths::CPU_DMA_LATENCY, &usec.to_ne_bytes())
}

/// What each thread reports before it waits for the start.
type Ready = Result<(&'static str, i32), LatencyError>;

/// Run the probe on the live system; `root` holds `/dev/cpu_dma_latency`
/// when asked to.
/// `tick` is called about every `tick_every` on the calling thread while the
/// measurement runs (progress line, memory sampler); it must not block long.
pub fn run(
    opts: &LatencyOptions,
    root: &KernelRoot,
    tick_every: Duration,
    tick: &mut dyn FnMut(&[ProgressView]),
) -> Result<LatencyRun, LatencyError> {
    validate(opts)?;
    let mut warnings = Vec::new();
    let interval_ns = opts.interval.as_nanos() as u64;
    if opts.priority == 0 {
        warnings.push(
            "measured at normal priority (SCHED_OTHER): this measures the fair scheduler, not \
             real-time latency"
                .to_string(),
        );
    }

    // Find out whether SCHED_FIFO is allowed before locking memory, so that a
    // refusal is reported as what it is.
    if opts.priority > 0 && !opts.force {
        let p = opts.priority;
        let probe = std::thread::Builder::new()
            .name("memscope-rt/probe".into())
            .spawn(move || sched::set_fifo(p))
            .map_err(LatencyError::Spawn)?;
        if let Ok(Err(source)) = probe.join() {
            return Err(LatencyError::Policy { priority: p, source });
        }
    }

    let mut mlocked = if opts.mlock {
        match rustix::mm::mlockall(rustix::mm::MlockAllFlags::CURRENT | rustix::mm::MlockAllFlags::FUTURE) {
            Ok(()) => true,
            Err(e) if opts.force => {
                warnings
                    .push(format!("memory not locked (mlockall: {e}): page faults may add to the latencies"));
                false
            }
            Err(e) => return Err(LatencyError::Mlock(e.into())),
        }
    } else {
        warnings.push("memory not locked (--no-mlock): page faults may add to the latencies".into());
        false
    };
    let mut result = run_locked(opts, root, tick_every, tick, interval_ns, &mut warnings);
    if mlocked && opts.force && matches!(result, Err(LatencyError::Spawn(_))) {
        // Locked thread stacks went past RLIMIT_MEMLOCK: go on unlocked.
        let _ = rustix::mm::munlockall();
        mlocked = false;
        warnings.push(
            "memory not locked: with mlockall the measuring threads' stacks exceeded RLIMIT_MEMLOCK; page faults \
             may add to the latencies"
                .into(),
        );
        result = run_locked(opts, root, tick_every, tick, interval_ns, &mut warnings);
    }
    if mlocked {
        let _ = rustix::mm::munlockall();
    }
    let (cpus, clock_pair_ns, elapsed_ns, dma_latency_held_usec, interrupted) = result?;
    Ok(LatencyRun {
        options: opts.clone(),
        cpus,
        clock_pair_ns,
        elapsed_ns,
        mlocked,
        dma_latency_held_usec,
        interrupted,
        warnings,
    })
}

fn validate(opts: &LatencyOptions) -> Result<(), LatencyError> {
    let bad = |m: String| Err(LatencyError::Invalid(m));
    if opts.cpus.is_empty() {
        return bad("no CPU to measure".into());
    }
    if opts.priority > 99 {
        return bad(format!("priority {} is out of range (SCHED_FIFO takes 1-99)", opts.priority));
    }
    if opts.priority == 0 && !opts.force {
        return bad("refusing to measure at normal priority: a SCHED_OTHER thread measures the fair \
                    scheduler, not real-time latency (pass --force to measure anyway)"
            .into());
    }
    let interval_ns = opts.interval.as_nanos();
    if !(10_000..=10_000_000_000).contains(&interval_ns) {
        return bad("the interval must be between 10 µs and 10 s".into());
    }
    if opts.loops == 0 {
        return bad("at least one loop is needed".into());
    }
    let bytes = opts.loops.saturating_mul(4).saturating_mul(opts.cpus.len() as u64);
    if bytes > MAX_SAMPLE_BYTES {
        return bad(format!(
            "{} loops on {} CPUs need {} MiB of samples (limit {} MiB): measure in shorter runs",
            opts.loops,
            opts.cpus.len(),
            bytes >> 20,
            MAX_SAMPLE_BYTES >> 20
        ));
    }
    let allowed =
        sched::allowed_cpus().map_err(|e| LatencyError::Affinity { cpu: opts.cpus[0], source: e })?;
    if let Some(c) = opts.cpus.iter().find(|c| !allowed.contains(c)) {
        return bad(format!("CPU {c} is not online or not in this process's affinity mask {allowed:?}"));
    }
    Ok(())
}

type Measured = (Vec<CpuRun>, (u64, u64), u64, Option<i32>, bool);

fn run_locked(
    opts: &LatencyOptions,
    root: &KernelRoot,
    tick_every: Duration,
    tick: &mut dyn FnMut(&[ProgressView]),
    interval_ns: u64,
    warnings: &mut Vec<String>,
) -> Result<Measured, LatencyError> {
    let dma_hold = match opts.dma_latency_usec {
        Some(usec) => match hold_dma_latency(root, usec) {
            Ok(h) => Some(h),
            Err(e) if opts.force => {
                warnings
                    .push(format!("{} not held ({e}): idle states may add latency", paths::CPU_DMA_LATENCY));
                None
            }
            Err(e) => return Err(LatencyError::DmaLatency(e)),
        },
        None => None,
    };
    let dma_latency_held_usec = dma_hold.as_ref().and(opts.dma_latency_usec);

    let n = opts.cpus.len();
    // WAIT until every thread is ready, then GO (or ABORT).
    let start = Arc::new(AtomicU8::new(WAIT));
    let progress: Vec<Arc<Progress>> = (0..n).map(|_| Arc::new(Progress::default())).collect();
    let (ready_tx, ready_rx) = mpsc::channel::<(usize, Ready)>();
    STOP.store(false, Ordering::Relaxed);
    let old_sigint = catch_sigint();

    let mut handles = Vec::with_capacity(n);
    for (k, &cpu) in opts.cpus.iter().enumerate() {
        // The buffer is allocated here, on the main thread, and pre-faulted;
        // the measuring thread only writes into it.
        let mut buf = vec![0u32; opts.loops as usize];
        sched::prefault_buffer(&mut buf);
        let mut overrun_log: Vec<(u64, u64)> = Vec::with_capacity(OVERRUN_LOG);
        overrun_log.resize(OVERRUN_LOG, (0, 0)); // pre-fault, then empty
        overrun_log.clear();
        let (t_start, prog, tx) = (start.clone(), progress[k].clone(), ready_tx.clone());
        let (priority, force, loops) = (opts.priority, opts.force, opts.loops);
        let spawned = std::thread::Builder::new()
            .name(format!("memscope-rt/{cpu}"))
            .stack_size(THREAD_STACK_BYTES)
            .spawn(move || {
                let ready = prepare_thread(cpu, priority, force);
                let ok = ready.as_ref().ok().copied();
                let _ = tx.send((k, ready));
                let (policy, prio) = ok?;
                if !wait_for_start(&t_start) {
                    return None;
                }
                Some(measure(cpu, buf, overrun_log, interval_ns, loops, &prog, policy, prio))
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                start.store(ABORT, Ordering::Release);
                for h in handles {
                    let _ = h.join();
                }
                restore_sigint(old_sigint);
                return Err(LatencyError::Spawn(e));
            }
        }
    }
    drop(ready_tx);

    let mut first_error = None;
    for _ in 0..n {
        match ready_rx.recv() {
            Ok((_, Err(e))) => {
                if first_error.is_none() {
                    first_error = Some(e);
                }
            }
            Ok((k, Ok((policy, _)))) if policy == "SCHED_OTHER" && opts.priority > 0 => warnings.push(format!(
                "CPU {}: SCHED_FIFO refused, measured at normal priority (--force): this measures the fair \
                 scheduler, not real-time latency",
                opts.cpus[k]
            )),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let real0 = ts_ns(rustix::time::clock_gettime(ClockId::Realtime));
    let mono0 = mono_ns();
    start.store(if first_error.is_some() { ABORT } else { GO }, Ordering::Release);

    let views = |out: &mut Vec<ProgressView>| {
        out.clear();
        for (k, p) in progress.iter().enumerate() {
            let count = p.count.load(Ordering::Relaxed);
            out.push(ProgressView {
                cpu: opts.cpus[k],
                count,
                last_ns: p.last_ns.load(Ordering::Relaxed),
                max_ns: p.max_ns.load(Ordering::Relaxed),
                avg_ns: if count == 0 { 0.0 } else { p.sum_ns.load(Ordering::Relaxed) as f64 / count as f64 },
            });
        }
    };
    let mut view = Vec::with_capacity(n);
    if first_error.is_none() {
        while !handles.iter().all(|h| h.is_finished()) {
            std::thread::sleep(tick_every);
            views(&mut view);
            tick(&view);
        }
    }
    let elapsed_ns = mono_ns().saturating_sub(mono0);
    let mut runs = Vec::with_capacity(n);
    for h in handles {
        if let Ok(Some(r)) = h.join() {
            runs.push(r);
        }
    }
    drop(dma_hold);
    restore_sigint(old_sigint);
    if let Some(e) = first_error {
        return Err(e);
    }
    let interrupted = STOP.load(Ordering::Relaxed);
    Ok((runs, (real0, mono0), elapsed_ns, dma_latency_held_usec, interrupted))
}

const WAIT: u8 = 0;
const GO: u8 = 1;
const ABORT: u8 = 2;

/// Stack of a measuring thread. With `mlockall(MCL_FUTURE)` it is locked
/// (and counted against RLIMIT_MEMLOCK) when the thread starts.
pub const THREAD_STACK_BYTES: usize = 512 * 1024;

/// Wait (sleeping 100 µs at a time) for GO or ABORT; true for GO.
fn wait_for_start(start: &AtomicU8) -> bool {
    loop {
        match start.load(Ordering::Acquire) {
            GO => return true,
            ABORT => return false,
            _ => std::thread::sleep(Duration::from_micros(100)),
        }
    }
}

/// Pin, set the policy, pre-fault the stack. Returns the policy in force.
fn prepare_thread(cpu: u32, priority: u8, force: bool) -> Ready {
    sched::pin_to_cpu(cpu).map_err(|source| LatencyError::Affinity { cpu, source })?;
    let applied = if priority == 0 {
        ("SCHED_OTHER", 0)
    } else {
        match sched::set_fifo(priority) {
            Ok(()) => ("SCHED_FIFO", priority as i32),
            Err(_) if force => ("SCHED_OTHER", 0),
            Err(source) => return Err(LatencyError::Policy { priority, source }),
        }
    };
    // 128 KiB of the stack: far more than the loop uses.
    sched::prefault_stack::<{ 128 * 1024 }>();
    // Touch the clock and the sleep once so that the vDSO pages and the
    // code of the loop are present.
    let t = mono_ns();
    let _ = rustix::thread::clock_nanosleep_absolute(ClockId::Monotonic, &ns_ts(t + 1000));
    Ok(applied)
}

/// The measuring loop. No allocation, no lock, no system call but the
/// sleep (the clock is read through the vDSO).
#[allow(clippy::too_many_arguments)]
fn measure(
    cpu: u32,
    mut samples: Vec<u32>,
    mut overrun_log: Vec<(u64, u64)>,
    interval_ns: u64,
    loops: u64,
    prog: &Progress,
    policy: &'static str,
    priority: i32,
) -> CpuRun {
    let usage0 = sched::thread_usage();
    let mut next = mono_ns() + interval_ns;
    let first = next;
    let mut overruns = 0u64;
    let (mut max, mut sum) = (0u64, 0u64);
    let mut taken = 0usize;
    for slot in samples.iter_mut().take(loops as usize) {
        let target = ns_ts(next);
        // EINTR (a signal): sleep again to the same absolute time.
        while let Err(rustix::io::Errno::INTR) =
            rustix::thread::clock_nanosleep_absolute(ClockId::Monotonic, &target)
        {}
        let now = mono_ns();
        let late = now.saturating_sub(next);
        *slot = late.min(u32::MAX as u64) as u32;
        taken += 1;
        max = max.max(late);
        sum = sum.wrapping_add(late);
        prog.count.store(taken as u64, Ordering::Relaxed);
        prog.last_ns.store(late, Ordering::Relaxed);
        prog.max_ns.store(max, Ordering::Relaxed);
        prog.sum_ns.store(sum, Ordering::Relaxed);
        next += interval_ns;
        if now > next {
            // Woke more than a period late: skip the periods already past.
            let skipped = (now - next) / interval_ns + 1;
            next += skipped * interval_ns;
            overruns += skipped;
            if overrun_log.len() < overrun_log.capacity() {
                overrun_log.push((taken as u64, overruns));
            }
        }
        if STOP.load(Ordering::Relaxed) {
            break;
        }
    }
    let usage = sched::thread_usage().since(&usage0);
    samples.truncate(taken);
    CpuRun {
        cpu,
        samples_ns: samples,
        first_wakeup_mono_ns: first,
        overrun_log,
        overruns,
        usage,
        policy,
        priority,
    }
}

#[cfg(test)]
mod tests {
    use memscope_model::rt::latency::ThreadUsage;

    use super::*;

    fn opts() -> LatencyOptions {
        LatencyOptions {
            cpus: vec![0],
            priority: 95,
            interval: Duration::from_micros(1000),
            loops: 10,
            mlock: false,
            dma_latency_usec: None,
            force: false,
        }
    }

    #[test]
    fn normal_priority_is_refused_without_force() {
        let o = LatencyOptions { priority: 0, ..opts() };
        let e = validate(&o).unwrap_err().to_string();
        assert!(e.contains("refusing") && e.contains("--force"), "{e}");
        assert!(validate(&LatencyOptions { force: true, ..o }).is_ok());
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(validate(&LatencyOptions { cpus: vec![], ..opts() }).is_err());
        assert!(validate(&LatencyOptions { priority: 100, ..opts() }).is_err());
        assert!(validate(&LatencyOptions { loops: 0, ..opts() }).is_err());
        assert!(validate(&LatencyOptions { interval: Duration::from_micros(1), ..opts() }).is_err());
        assert!(validate(&LatencyOptions { cpus: vec![100_000], ..opts() }).is_err());
        let huge = LatencyOptions { loops: u64::MAX / 2, ..opts() };
        assert!(validate(&huge).unwrap_err().to_string().contains("MiB"));
    }

    #[test]
    fn expected_times_follow_overruns() {
        let r = CpuRun {
            cpu: 0,
            samples_ns: vec![1; 6],
            first_wakeup_mono_ns: 1000,
            overrun_log: vec![(2, 3), (4, 5)],
            overruns: 5,
            usage: ThreadUsage::default(),
            policy: "SCHED_FIFO",
            priority: 95,
        };
        assert_eq!(r.expected_mono_ns(0, 10), 1000);
        assert_eq!(r.expected_mono_ns(1, 10), 1010);
        // Sample 2 came after 3 skipped periods.
        assert_eq!(r.expected_mono_ns(2, 10), 1000 + 5 * 10);
        assert_eq!(r.expected_mono_ns(5, 10), 1000 + 10 * 10);
    }
}
