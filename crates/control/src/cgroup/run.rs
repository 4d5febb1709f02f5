//! `memscope run`: run a command in a transient cgroup under limits, and
//! report what it used.
//!
//! ```text
//!  memscope ──plan──▶ validate (nothing changed on bad input)
//!     │  block SIGINT SIGTERM SIGHUP SIGQUIT SIGCHLD; become child subreaper
//!     ├──create + limits──▶ /…/memscope/<name>
//!     ├──fork──▶ child: write "0" to each cgroup.procs, PDEATHSIG=SIGKILL, exec CMD
//!     │  sigtimedwait loop: forward signals to CMD, reap children
//!     │  CMD exits ─▶ kill what it left in the cgroup, reap
//!     │  read peak memory, OOM kills; rusage of the reaped children
//!     └──remove the cgroup (also on every error path, and on drop)
//! ```
//!
//! The child joins the cgroup before `exec`, so not one instruction of CMD
//! runs outside it (`clone3(CLONE_INTO_CGROUP)` would do the same on v2
//! only; writing `0`, "myself", to `cgroup.procs` works in both versions).
//!
//! Signals: the four terminating signals are blocked in memscope and taken
//! with `sigtimedwait`, so none is lost between setup steps: one that
//! arrives while the cgroup is being created is delivered to CMD as soon
//! as it exists. A signal the terminal sent (`si_code == SI_KERNEL`: Ctrl-C
//! reaches the whole foreground process group, CMD included) is not sent
//! twice. If memscope is killed outright (`SIGKILL`), the kernel kills CMD
//! (`PR_SET_PDEATHSIG`) and the next run removes the cgroup it left.
//!
//! memscope makes itself a child subreaper (`PR_SET_CHILD_SUBREAPER`, see
//! prctl(2)) so that processes CMD orphans are reaped by it: their CPU time
//! is then in `RUSAGE_CHILDREN`, and no zombie is left. `run` therefore
//! reaps every child of the calling process: call it from a process that
//! has no other children.

use std::ffi::OsString;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use memscope_kernel::KernelRoot;

use super::transient::{Limits, Plan, SetupError, TransientCgroup, plan};
use crate::signals::SignalBlock;
use memscope_kernel::cgroup::Layout;
use memscope_model::cgroups::tree::{self, Figure, Unavailable};
pub use memscope_model::run::{Exit, RunReport, signal_name};

/// What to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The program (looked up in `PATH` when it has no `/`).
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// The cgroup's name under the memscope parent.
    pub name: String,
    /// Limits.
    pub limits: Limits,
}

/// How a child ended, from its `waitpid` status.
fn exit_from_wait_status(status: i32) -> Option<Exit> {
    if libc::WIFEXITED(status) {
        Some(Exit::Code(libc::WEXITSTATUS(status)))
    } else if libc::WIFSIGNALED(status) {
        Some(Exit::Signal(libc::WTERMSIG(status)))
    } else {
        None
    }
}

/// Why a run did not happen or did not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Setting up the cgroup failed (bad input, permissions, the kernel).
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The command could not be started; the cgroup was removed.
    #[error("cannot run `{program}`: {error}")]
    Spawn {
        /// The program.
        program: String,
        /// Why (`NotFound`: command not found).
        error: io::Error,
        /// A failure to remove the cgroup afterwards.
        cleanup: Option<String>,
    },
}

impl RunError {
    /// The exit status memscope should end with: 127 when the command was
    /// not found, 126 when it could not be executed (as shells do), 2 for
    /// an invalid request (like a wrong command line), 1 otherwise.
    pub fn exit_status(&self) -> u8 {
        match self {
            RunError::Setup(SetupError::Invalid(_)) => 2,
            RunError::Spawn { error, .. } if error.kind() == io::ErrorKind::NotFound => 127,
            RunError::Spawn { error, .. } if error.kind() == io::ErrorKind::PermissionDenied => 126,
            RunError::Spawn { error, .. } if error.raw_os_error() == Some(libc::ENOEXEC) => 126,
            _ => 1,
        }
    }
}

/// The signals memscope takes over while a command runs.
const FORWARDED: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// Reap every child that has exited; note the main one's status.
fn reap(main: libc::pid_t, main_exit: &mut Option<(Exit, Instant)>) {
    loop {
        let mut status = 0;
        // SAFETY: waitpid with WNOHANG on any child of this process.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
        if pid == main
            && main_exit.is_none()
            && let Some(e) = exit_from_wait_status(status)
        {
            *main_exit = Some((e, Instant::now()));
        }
    }
}

/// Run the command under the limits. Changes nothing when the request is
/// invalid; removes the cgroup on every other path.
pub fn run(root: &KernelRoot, spec: &RunSpec) -> Result<RunReport, RunError> {
    let layout = Layout::detect(root)
        .map_err(|e| SetupError::Kernel { what: "reading the mounts".into(), source: e })?;
    let plan = plan(root, &layout, &spec.name, &spec.limits)?;
    let signals = SignalBlock::new(&[FORWARDED[0], FORWARDED[1], FORWARDED[2], FORWARDED[3], libc::SIGCHLD]);
    // SAFETY: prctl on this process.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let cg = TransientCgroup::create(root, &layout, &plan)?;
    let no_reap = &mut || {};
    if let Err(e) = cg.apply(&spec.limits) {
        let _ = cg.remove(no_reap);
        return Err(e.into());
    }
    let memory_limit = cg.memory_limit().and_then(Result::ok);
    let files = match cg.procs_files() {
        Ok(f) => f,
        Err(e) => {
            let _ = cg.remove(no_reap);
            return Err(e.into());
        }
    };
    let fds: Vec<i32> = files.iter().map(|f| f.as_raw_fd()).collect();
    let parent = std::process::id() as libc::pid_t;
    // The child starts with the mask memscope had before blocking: std does
    // not reset it, and a command that finds SIGTERM blocked ignores it.
    let child_mask = *signals.old_mask();
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args);
    // SAFETY: the closure runs in the child between fork and exec and
    // calls only async-signal-safe functions (write, prctl, getppid,
    // sigprocmask).
    unsafe {
        cmd.pre_exec(move || {
            if libc::sigprocmask(libc::SIG_SETMASK, &child_mask, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            for fd in &fds {
                if libc::write(*fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(io::Error::last_os_error());
                }
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(error) => {
            let mut main_exit = None;
            let cleanup = cg.remove(&mut || reap(0, &mut main_exit)).err().map(|e| e.to_string());
            return Err(RunError::Spawn {
                program: spec.program.to_string_lossy().into_owned(),
                error,
                cleanup,
            });
        }
    };
    drop(files);
    let pid = child.id() as libc::pid_t;
    let mut main_exit: Option<(Exit, Instant)> = None;
    let mut forwarded = Vec::new();
    while main_exit.is_none() {
        match signals.wait(Duration::from_millis(500)) {
            Some((libc::SIGCHLD, _)) | None => {}
            Some((sig, from_terminal)) => {
                if !from_terminal {
                    // SAFETY: kill(2) to our own child, not yet reaped.
                    unsafe { libc::kill(pid, sig) };
                }
                forwarded.push(sig);
            }
        }
        reap(pid, &mut main_exit);
    }
    let (exit, ended) = main_exit.expect("loop ends when the command has exited");
    let wall_usec = ended.duration_since(started).as_micros() as u64;
    let leftover_killed = cg.kill_all(&mut || reap(pid, &mut main_exit), Duration::from_secs(10));
    reap(pid, &mut main_exit);
    let (peak, oom_kills, oom_events) = memory_figures(root, &layout, &plan);
    let (user_usec, system_usec) = children_cpu_usec();
    let stale = cg.stale.clone();
    let cleanup_error = cg.remove(&mut || reap(pid, &mut main_exit)).err().map(|e| e.to_string());
    drop(signals);
    Ok(RunReport {
        command: std::iter::once(&spec.program)
            .chain(&spec.args)
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        plan,
        memory_limit,
        pid: pid as u32,
        exit,
        wall_usec,
        user_usec,
        system_usec,
        peak_memory_bytes: peak,
        oom_kills,
        oom_events,
        leftover_killed,
        forwarded_signals: forwarded,
        stale,
        cleanup_error,
    })
}

/// Peak memory, OOM kills and OOM events of the transient cgroup, read
/// after its tasks are gone and before it is removed.
fn memory_figures(
    root: &KernelRoot,
    layout: &Layout,
    plan: &Plan,
) -> (Figure<u64>, Figure<u64>, Figure<u64>) {
    let unavailable = || Unavailable::NoController { controller: "memory".into() };
    let Some(p) = plan.placement("memory") else {
        return (Err(unavailable()), Err(unavailable()), Err(unavailable()));
    };
    let path = p.hierarchy.path_of(&format!("/{}/{}", super::transient::PARENT, plan.name));
    match tree::read_cgroup(root, layout, &path, 0).and_then(|c| c.memory) {
        Some(m) => (m.peak_bytes.clone(), m.oom_kills(), m.oom_events()),
        None => (Err(unavailable()), Err(unavailable()), Err(unavailable())),
    }
}

/// User and system CPU time of the reaped children, in microseconds.
fn children_cpu_usec() -> (u64, u64) {
    // SAFETY: getrusage fills the struct.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru
    };
    let usec = |t: libc::timeval| (t.tv_sec as u64) * 1_000_000 + t.tv_usec as u64;
    (usec(ru.ru_utime), usec(ru.ru_stime))
}
