//! Modes for `memscope run` tests: commands that run under limits and end
//! on their own (no `ready` line, no stdin protocol).
//!
//! ```text
//! memscope-workload alloc --mib N [--hold-ms MS]   touch N MiB of anonymous memory, exit 0
//! memscope-workload fork-bomb [--max N]            fork sleepers until fork fails (exit 0) or N (exit 3)
//! memscope-workload affinity                       print `cpus <list>`: the CPUs it may run on
//! memscope-workload sleep --ms MS                  sleep, exit 0
//! ```

use crate::{MIB, die, map, num, touch};

/// Run a limits mode; `None` when `mode` is not one of them.
pub fn run(mode: &str, args: &[String]) -> Option<i32> {
    Some(match mode {
        "alloc" => alloc(num(args, "--mib", 1), num(args, "--hold-ms", 0)),
        "fork-bomb" => fork_bomb(num(args, "--max", 64)),
        "affinity" => affinity(),
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_millis(num(args, "--ms", 1000) as u64));
            0
        }
        _ => return None,
    })
}

/// Touch `mib` MiB one page at a time (so a memory limit is hit while
/// allocating, not at once), say so, hold it, exit 0.
fn alloc(mib: usize, hold_ms: usize) -> i32 {
    let p = map(mib * MIB, false);
    touch(p, mib * MIB);
    println!("allocated {mib} MiB");
    std::thread::sleep(std::time::Duration::from_millis(hold_ms as u64));
    0
}

/// Fork children that wait to die with their parent, until `fork` fails or
/// `max` children exist. Prints `forked K` and, if fork failed, its errno.
/// Bounded on purpose: a limit that does not hold must not take the
/// machine down with it.
fn fork_bomb(max: usize) -> i32 {
    let mut forked = 0;
    let mut failed = None;
    while forked < max {
        // SAFETY: the child only calls prctl and pause.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            failed = Some(std::io::Error::last_os_error());
            break;
        }
        if pid == 0 {
            // SAFETY: ask to die with the parent, then wait for it.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                loop {
                    libc::pause();
                }
            }
        }
        forked += 1;
    }
    match failed {
        Some(e) => {
            println!("forked {forked}; fork failed: {}", e.raw_os_error().map(errno_name).unwrap_or("?"));
            0
        }
        None => {
            println!("forked {forked}; fork never failed");
            3
        }
    }
}

fn errno_name(e: i32) -> &'static str {
    match e {
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        _ => "other",
    }
}

/// Print the CPUs this process may run on, as the scheduler sees them.
fn affinity() -> i32 {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            die("sched_getaffinity failed");
        }
        set
    };
    let cpus: Vec<String> =
        // SAFETY: CPU_ISSET reads the set within its size.
        (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).map(|c| c.to_string()).collect();
    println!("cpus {}", cpus.join(","));
    0
}
