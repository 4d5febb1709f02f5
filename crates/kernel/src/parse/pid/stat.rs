//! `/proc/PID/stat` (fs/proc/array.c `do_task_stat`; proc_pid_stat(5)).
//!
//! `pid (comm) state ppid …`: the command name is whatever the program set
//! (up to 15 bytes) and may contain spaces and `)`, so the fields are found
//! after the **last** `)`. Names are bytes, not always UTF-8.

use serde::{Deserialize, Serialize};

use crate::parse::ParseError;

/// The fields memscope uses, by their proc(5) names. Fields a kernel does not
/// print (older kernels print fewer) are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    /// (1) pid.
    pub pid: u32,
    /// (2) command name without the parentheses (lossy UTF-8).
    pub comm: String,
    /// (3) state: R, S, D, Z, T, t, X, I, …
    pub state: char,
    /// (4) parent pid.
    pub ppid: u32,
    /// (10) minor faults.
    pub minflt: Option<u64>,
    /// (12) major faults.
    pub majflt: Option<u64>,
    /// (14) user time in clock ticks.
    pub utime_ticks: Option<u64>,
    /// (15) system time in clock ticks.
    pub stime_ticks: Option<u64>,
    /// (18) priority as the kernel shows it.
    pub priority: Option<i64>,
    /// (19) nice value.
    pub nice: Option<i64>,
    /// (20) number of threads.
    pub num_threads: Option<u64>,
    /// (22) start time after boot, in clock ticks.
    pub starttime_ticks: Option<u64>,
    /// (23) virtual memory size in bytes.
    pub vsize_bytes: Option<u64>,
    /// (24) resident set size in pages.
    pub rss_pages: Option<u64>,
    /// (39) CPU last run on.
    pub processor: Option<u64>,
    /// (40) real-time priority.
    pub rt_priority: Option<u64>,
    /// (41) scheduling policy.
    pub policy: Option<u64>,
    /// True when (9) `flags` holds `PF_KTHREAD` (0x00200000, the same in
    /// every kernel since 2.6.27): a kernel thread, which has no address
    /// space, no descriptors and no command line. It never changes for a
    /// task, and is not kept in recordings (a recording's views know kernel
    /// threads by their `status`).
    #[serde(skip)]
    pub kernel_thread: bool,
}

/// `PF_KTHREAD` of include/linux/sched.h.
const PF_KTHREAD: u64 = 0x0020_0000;

impl Stat {
    /// Parse one stat line.
    pub fn parse(text: &str) -> Result<Stat, ParseError> {
        let line = text.lines().next().unwrap_or("");
        let open = line.find('(').ok_or_else(|| ParseError::new(1, "`(comm)`"))?;
        let close = line.rfind(')').ok_or_else(|| ParseError::new(1, "`(comm)`"))?;
        if close < open {
            return Err(ParseError::new(1, "`(comm)`"));
        }
        let pid = line[..open].trim().parse().map_err(|_| ParseError::new(1, "pid"))?;
        let comm = line[open + 1..close].to_string();
        let rest: Vec<&str> = line[close + 1..].split_ascii_whitespace().collect();
        // rest[0] is field 3.
        let field = |n: usize| rest.get(n - 3).copied();
        let u = |n: usize| field(n).and_then(|t| t.parse::<u64>().ok());
        let i = |n: usize| field(n).and_then(|t| t.parse::<i64>().ok());
        let state = field(3)
            .and_then(|s| {
                let mut c = s.chars();
                let first = c.next()?;
                c.next().is_none().then_some(first)
            })
            .ok_or_else(|| ParseError::new(1, "state"))?;
        let ppid = u(4).and_then(|p| u32::try_from(p).ok()).ok_or_else(|| ParseError::new(1, "ppid"))?;
        Ok(Stat {
            pid,
            comm,
            state,
            ppid,
            minflt: u(10),
            majflt: u(12),
            utime_ticks: u(14),
            stime_ticks: u(15),
            priority: i(18),
            nice: i(19),
            num_threads: u(20),
            starttime_ticks: u(22),
            vsize_bytes: u(23),
            rss_pages: u(24),
            processor: u(39),
            rt_priority: u(40),
            policy: u(41),
            kernel_thread: u(9).is_some_and(|f| f & PF_KTHREAD != 0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TAIL: &str = "S 1 1234 1234 0 -1 4194560 263 0 0 0 1 2 0 0 20 0 1 0 2847 5697536 384 \
18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";

    #[test]
    fn plain() {
        let s = Stat::parse(&format!("1234 (bash) {TAIL}\n")).unwrap();
        assert_eq!((s.pid, s.comm.as_str(), s.state, s.ppid), (1234, "bash", 'S', 1));
        assert_eq!(s.utime_ticks, Some(1));
        assert_eq!(s.starttime_ticks, Some(2847));
        assert_eq!(s.rss_pages, Some(384));
        assert_eq!(s.nice, Some(0));
        assert_eq!(s.processor, Some(1));
        // 4194560 = 0x400100: PF_RANDOMIZE | PF_FORKNOEXEC, a user process.
        assert!(!s.kernel_thread);
    }

    #[test]
    fn kernel_threads_by_their_flags() {
        // kthreadd and a kworker of kernel 6.18: PF_KTHREAD among the flags.
        let kthreadd = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 3 0 0 20 0 1 0 1 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        assert!(Stat::parse(kthreadd).unwrap().kernel_thread);
        let kworker = "7 (kworker/0:0H-events_highpri) I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 0 -20 1 0 2 0 0";
        assert!(Stat::parse(kworker).unwrap().kernel_thread);
        // Every process of this machine: kthreadd is one, and every kernel
        // thread is kthreadd or its child; this test process is none. (A
        // child of kthreadd may be a user program a kernel thread started:
        // `call_usermodehelper` clears the flag at its exec.)
        let mut kernel_threads = 0;
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            let Ok(s) = Stat::parse(&text) else { continue };
            if s.kernel_thread {
                assert!(s.pid == 2 || s.ppid == 2, "{text}");
                kernel_threads += 1;
            }
            assert_eq!(s.kernel_thread, s.pid == 2 || (s.ppid == 2 && s.vsize_bytes == Some(0)), "{text}");
        }
        assert!(kernel_threads > 0);
        let me = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(!Stat::parse(&me).unwrap().kernel_thread);
    }

    #[test]
    fn parse_comm_with_spaces_and_paren() {
        let s = Stat::parse(&format!("77 (my (odd) name) ) {TAIL}")).unwrap();
        assert_eq!(s.comm, "my (odd) name) ");
        assert_eq!(s.ppid, 1);
    }

    #[test]
    fn short_old_kernel_line() {
        let s = Stat::parse("5 (kworker/0:0) I 2 0 0").unwrap();
        assert_eq!(s.state, 'I');
        assert_eq!(s.rss_pages, None);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Stat::parse("").is_err());
        assert!(Stat::parse("12 bash S 1").is_err());
        assert!(Stat::parse("12 )x( S 1").is_err());
        assert!(Stat::parse("12 (x) SS 1").is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") { let _ = Stat::parse(&s); }
    }
}
