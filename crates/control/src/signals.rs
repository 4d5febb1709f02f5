//! Terminating signals taken as values: blocked for the lifetime of a
//! [`SignalBlock`] and received with `sigtimedwait(2)`, so that none is
//! lost between setup steps and none kills memscope while it holds
//! something it must undo (a cgroup, attached BPF programs).
//!
//! Block before starting any thread: threads inherit the mask, and a
//! process-directed signal goes to a thread that does not block it.

use std::time::Duration;

/// Blocks the given signals for its lifetime.
pub struct SignalBlock {
    set: libc::sigset_t,
    old: libc::sigset_t,
}

impl SignalBlock {
    /// Block `signals` in the calling thread.
    pub fn new(signals: &[i32]) -> SignalBlock {
        // SAFETY: sigset_t is plain data, initialised by sigemptyset; the
        // mask change affects the calling thread only.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in signals {
                libc::sigaddset(&mut set, *s);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            SignalBlock { set, old }
        }
    }

    /// The mask in force before, for a child to restore after `fork`.
    pub fn old_mask(&self) -> &libc::sigset_t {
        &self.old
    }

    /// Wait up to `timeout` for one of the blocked signals: its number and
    /// whether the kernel (a terminal) sent it, or `None` on timeout.
    pub fn wait(&self, timeout: Duration) -> Option<(i32, bool)> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as _,
        };
        // SAFETY: valid set and out-pointers.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let sig = libc::sigtimedwait(&self.set, &mut info, &ts);
            if sig < 0 { None } else { Some((sig, info.si_code == libc::SI_KERNEL)) }
        }
    }
}

impl Drop for SignalBlock {
    fn drop(&mut self) {
        // Signals still pending (a second Ctrl-C during cleanup) are
        // discarded rather than delivered with their default action once
        // unblocked: the owner has already acted on the first one.
        while self.wait(Duration::ZERO).is_some() {}
        // SAFETY: restores the mask saved in new().
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}
