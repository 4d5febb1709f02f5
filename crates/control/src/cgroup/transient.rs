//! A transient cgroup: planned without side effects, created under a
//! memscope-owned parent, limits set before any task joins, and removed on
//! every path.
//!
//! ```text
//!  plan(layout, limits)          validate everything; touch nothing
//!    │
//!  TransientCgroup::create       clean stale memscope cgroups; mkdir
//!    │                           <mount>/memscope/<name> in each hierarchy
//!    │                           used; hold an flock on each directory
//!  apply(limits)                 v1 cpuset: cpus and mems before any task
//!    │
//!  procs_files() ─▶ the child writes "0" into each cgroup.procs before exec
//!    │
//!  remove()  (or Drop)           SIGKILL what is left, wait until empty,
//!                                rmdir the cgroup, rmdir the parent if empty
//! ```
//!
//! **Which hierarchy.** Each controller needed goes where the layout has it:
//! memory (always, when mounted), pids for `--pids`, cpuset for `--cpus` or
//! `--mems`. On a v2 machine that is one directory; on v1 and hybrid
//! machines (memory on v1) one directory per controller hierarchy.
//!
//! **Stale cgroups.** Every directory memscope creates is held with an
//! exclusive `flock(2)` by the memscope that created it, for its whole life;
//! the kernel drops the lock when that process dies, however it dies. A
//! child of a memscope parent whose lock can be taken therefore belongs to
//! a memscope that is gone: it is removed when it holds no task, and
//! reported (never killed) when it still does. Creation re-checks after
//! locking that its directory is still the one it made, so a concurrent
//! cleaner can never remove a live run's cgroup.
//!
//! **Removal.** A cgroup with tasks cannot be removed (`EBUSY`; on v1 the
//! memory controller is strict about it). When the command exits, anything
//! it left in the cgroup is killed (v2 `cgroup.kill`, 5.14+, else `SIGKILL`
//! to each pid in `cgroup.procs` until it is empty), then the directory is
//! removed, retrying while the kernel finishes tearing the tasks down.

use std::fs::File;
use std::time::{Duration, Instant};

use memscope_kernel::parse::cgroupfs::{Limit, parse_controllers, parse_ids};
use memscope_kernel::parse::sysfs::format_list;
use memscope_kernel::{KernelRoot, ReadError};

use memscope_kernel::cgroup::{Hierarchy, Layout, Version};
pub use memscope_model::run::{Limits, Placement, Plan, Stale};

/// Name of the parent directory memscope owns in each hierarchy.
pub const PARENT: &str = "memscope";

/// The smallest memory limit `memscope run` accepts. The kernel accepts any
/// value (rounded down to a page), but under 1 MiB not even `exec` of a
/// small static program fits (page tables, stack, the binary's pages):
/// the command would be OOM-killed before its first instruction.
pub const MIN_MEMORY_BYTES: u64 = 1 << 20;

/// Largest `pids.max` the kernel accepts: `PID_MAX_LIMIT` on 64-bit
/// (kernel/cgroup/pids.c `PIDS_MAX`, include/linux/threads.h).
pub const MAX_PIDS: u64 = 4 * 1024 * 1024;

/// Why a run could not be set up. Every variant before creation means that
/// nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The request is invalid (a size, a CPU, a name); nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// Not allowed to create cgroups here; nothing was changed.
    #[error("{0}")]
    NotPermitted(String),
    /// The kernel refused a step (creating, writing a limit, …). Whatever
    /// was created has been removed again, unless [`SetupError::Cleanup`]
    /// says otherwise.
    #[error("{what}: {source}")]
    Kernel {
        /// What was being done.
        what: String,
        /// The kernel's answer.
        source: ReadError,
    },
    /// A created cgroup could not be removed.
    #[error("could not remove {dir}: {reason}")]
    Cleanup {
        /// Kernel path of the directory left behind.
        dir: String,
        /// Why.
        reason: String,
    },
}

impl SetupError {
    fn kernel(what: impl Into<String>, source: ReadError) -> SetupError {
        SetupError::Kernel { what: what.into(), source }
    }
}

/// Is `name` acceptable as a cgroup name: 1 to 64 of `[A-Za-z0-9_-]`,
/// starting with a letter or digit (no `.`, so never a control file's name).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric()
}

/// Decide where the transient cgroup goes and validate the limits against
/// the machine. Reads only; changes nothing.
pub fn plan(root: &KernelRoot, layout: &Layout, name: &str, limits: &Limits) -> Result<Plan, SetupError> {
    if !valid_name(name) {
        return Err(SetupError::Invalid(format!(
            "`{name}` is not a valid cgroup name: use 1 to 64 letters, digits, `_` or `-`, starting with a \
             letter or digit"
        )));
    }
    let need = |c: &'static str, why: &str| -> Result<&Hierarchy, SetupError> {
        layout.controller(c).ok_or_else(|| {
            SetupError::Invalid(format!(
                "{why} needs the {c} controller, which is not mounted (cgroup layout: {})",
                layout.kind.name()
            ))
        })
    };
    let mut wanted: Vec<(&'static str, &Hierarchy)> = Vec::new();
    if limits.memory_bytes.is_some() || limits.swap_bytes.is_some() {
        wanted.push(("memory", need("memory", "--memory / --swap")?));
    } else if let Some(h) = layout.controller("memory") {
        wanted.push(("memory", h));
    }
    if limits.pids.is_some() {
        wanted.push(("pids", need("pids", "--pids")?));
    }
    if limits.cpus.is_some() || limits.mems.is_some() {
        wanted.push(("cpuset", need("cpuset", "--cpus / --mems")?));
    }
    if wanted.is_empty() {
        // No controller needed nor mounted: still group the command (to
        // find and kill what it leaves behind) where possible.
        match layout.v2() {
            Some(h) => {
                return finish_plan(root, layout, name, limits, vec![placement(h, vec![], name)]);
            }
            None => return Err(SetupError::Invalid("no cgroup hierarchy is mounted".into())),
        }
    }
    let mut placements: Vec<Placement> = Vec::new();
    for (c, h) in wanted {
        match placements.iter_mut().find(|p| p.hierarchy.mount_point == h.mount_point) {
            Some(p) => p.controllers.push(c),
            None => placements.push(placement(h, vec![c], name)),
        }
    }
    finish_plan(root, layout, name, limits, placements)
}

fn placement(h: &Hierarchy, controllers: Vec<&'static str>, name: &str) -> Placement {
    let parent_dir = format!("{}/{PARENT}", h.mount_point.trim_end_matches('/'));
    Placement { hierarchy: h.clone(), controllers, dir: format!("{parent_dir}/{name}"), parent_dir }
}

fn finish_plan(
    root: &KernelRoot,
    layout: &Layout,
    name: &str,
    limits: &Limits,
    placements: Vec<Placement>,
) -> Result<Plan, SetupError> {
    let memory = placements.iter().find(|p| p.controllers.contains(&"memory"));
    if let Some(m) = limits.memory_bytes
        && m < MIN_MEMORY_BYTES
    {
        // Below 1 MiB: whole KiB as given (`100K`), else bytes.
        let given = if m % 1024 == 0 { format!("{} KiB", m / 1024) } else { format!("{m} bytes") };
        return Err(SetupError::Invalid(format!(
            "--memory {given} is below the smallest limit memscope accepts, 1 MiB: the command could not even be \
             loaded"
        )));
    }
    if limits.swap_bytes.is_some()
        && let Some(p) = memory
    {
        match p.hierarchy.version {
            Version::V1 => {
                if limits.memory_bytes.is_none() {
                    return Err(SetupError::Invalid(
                        "on cgroup v1, --swap needs --memory: the kernel limits memory+swap together \
                         (memory.memsw.limit_in_bytes)"
                            .into(),
                    ));
                }
                let memsw = format!("{}/memory.memsw.limit_in_bytes", p.hierarchy.mount_point);
                if !root.exists(&memsw) {
                    return Err(SetupError::Invalid(
                        "this kernel does not account swap per cgroup (no memory.memsw.* files: it was \
                         built without CONFIG_MEMCG_SWAP or booted with swapaccount=0)"
                            .into(),
                    ));
                }
            }
            Version::V2 => {}
        }
    }
    if let Some(p) = limits.pids
        && !(1..=MAX_PIDS).contains(&p)
    {
        return Err(SetupError::Invalid(format!("--pids {p}: the kernel accepts 1 to {MAX_PIDS}")));
    }
    if let Some(cpus) = &limits.cpus {
        let online = root.online_cpus().map_err(|e| SetupError::kernel("reading the online CPUs", e))?;
        let cpuset = placements.iter().find(|p| p.controllers.contains(&"cpuset"));
        let allowed = cpuset.map(|p| effective(root, &p.hierarchy, "cpus")).transpose()?;
        check_subset("CPU", cpus, &online, allowed.as_deref())?;
    }
    if let Some(mems) = &limits.mems {
        let online = match root.online_nodes() {
            Ok(n) => n,
            Err(ReadError::NotReported { .. }) => vec![0],
            Err(e) => return Err(SetupError::kernel("reading the online memory nodes", e)),
        };
        let cpuset = placements.iter().find(|p| p.controllers.contains(&"cpuset"));
        let allowed = cpuset.map(|p| effective(root, &p.hierarchy, "mems")).transpose()?;
        check_subset("memory node", mems, &online, allowed.as_deref())?;
    }
    for p in &placements {
        check_writable(root, p)?;
    }
    let path = match layout.accounting() {
        Some(h) if placements.iter().any(|p| p.hierarchy.mount_point == h.mount_point) => {
            h.path_of(&format!("/{PARENT}/{name}"))
        }
        _ => placements[0].hierarchy.path_of(&format!("/{PARENT}/{name}")),
    };
    Ok(Plan { name: name.to_string(), path, placements, limits: limits.clone() })
}

/// The effective cpus or mems at the top of a cpuset hierarchy.
fn effective(root: &KernelRoot, h: &Hierarchy, what: &str) -> Result<Vec<u32>, SetupError> {
    let file = match h.version {
        Version::V2 => format!("cpuset.{what}.effective"),
        Version::V1 => format!("cpuset.effective_{what}"),
    };
    let path = format!("{}/{file}", h.mount_point);
    root.read_list(&path, "a list").map_err(|e| SetupError::kernel(format!("reading {path}"), e))
}

fn check_subset(
    what: &str,
    asked: &[u32],
    online: &[u32],
    allowed: Option<&[u32]>,
) -> Result<(), SetupError> {
    if asked.is_empty() {
        return Err(SetupError::Invalid(format!("the {what} list is empty")));
    }
    for n in asked {
        if !online.contains(n) {
            return Err(SetupError::Invalid(format!(
                "{what} {n} does not exist or is offline (online: {})",
                format_list(online)
            )));
        }
        if let Some(a) = allowed
            && !a.contains(n)
        {
            return Err(SetupError::Invalid(format!(
                "{what} {n} is not in the cpuset memscope's cgroups may use ({})",
                format_list(a)
            )));
        }
    }
    Ok(())
}

/// May this process create the cgroup? A live check of write access to the
/// parent (or, before it exists, the mount point): cgroupfs is root's
/// unless a subtree was delegated.
fn check_writable(root: &KernelRoot, p: &Placement) -> Result<(), SetupError> {
    if !root.is_live() {
        return Err(SetupError::NotPermitted(
            "memscope run works on the running system only (not with --root)".into(),
        ));
    }
    let target = if root.is_dir(&p.parent_dir) { &p.parent_dir } else { &p.hierarchy.mount_point };
    if !root.is_writable(target) {
        return Err(SetupError::NotPermitted(format!(
            "memscope run needs root (or a delegated cgroup): it creates cgroups in {target}, which this user \
             may not write"
        )));
    }
    Ok(())
}

/// A created transient cgroup. Dropping it removes it (best effort);
/// [`TransientCgroup::remove`] does the same and reports failures.
#[derive(Debug)]
pub struct TransientCgroup {
    root: KernelRoot,
    plan: Plan,
    /// Locks on the directories created, in plan order: the first
    /// `locks.len()` placements are this cgroup's (a failed creation must
    /// never remove a directory it did not make).
    locks: Vec<File>,
    done: bool,
    /// Stale cgroups found (and removed, when empty) before creating.
    pub stale: Vec<Stale>,
}

impl TransientCgroup {
    /// Remove stale memscope cgroups, then create the plan's directories
    /// and take their locks. Undoes itself on failure.
    pub fn create(root: &KernelRoot, layout: &Layout, plan: &Plan) -> Result<TransientCgroup, SetupError> {
        let stale = clean_stale(root, layout);
        let mut cg =
            TransientCgroup { root: root.clone(), plan: plan.clone(), locks: Vec::new(), done: false, stale };
        for p in &plan.placements {
            let lock = create_one(root, p)?;
            cg.locks.push(lock);
        }
        Ok(cg)
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Write the limits. For a v1 cpuset, `cpuset.cpus` and `cpuset.mems`
    /// are always written (a v1 cpuset starts empty and takes no task until
    /// both are set), from the parent's when not asked for.
    pub fn apply(&self, limits: &Limits) -> Result<(), SetupError> {
        let root = &self.root;
        let write = |path: String, value: String| -> Result<(), SetupError> {
            root.write(&path, value.as_bytes())
                .map_err(|e| SetupError::kernel(format!("writing `{value}` to {path}"), e))
        };
        for p in &self.plan.placements {
            let d = &p.dir;
            for c in &p.controllers {
                match (*c, p.hierarchy.version) {
                    ("memory", Version::V2) => {
                        if let Some(m) = limits.memory_bytes {
                            write(format!("{d}/memory.max"), m.to_string())?;
                        }
                        if let Some(s) = limits.swap_bytes {
                            write(format!("{d}/memory.swap.max"), s.to_string())?;
                        }
                    }
                    ("memory", Version::V1) => {
                        if let Some(m) = limits.memory_bytes {
                            write(format!("{d}/memory.limit_in_bytes"), m.to_string())?;
                            if let Some(s) = limits.swap_bytes {
                                let both = m.saturating_add(s);
                                write(format!("{d}/memory.memsw.limit_in_bytes"), both.to_string())?;
                            }
                        }
                    }
                    ("pids", _) => {
                        if let Some(n) = limits.pids {
                            write(format!("{d}/pids.max"), n.to_string())?;
                        }
                    }
                    ("cpuset", v) => {
                        for (what, asked) in [("cpus", &limits.cpus), ("mems", &limits.mems)] {
                            let value = match (asked, v) {
                                (Some(list), _) => Some(format_list(list)),
                                (None, Version::V1) => Some(
                                    root.read_text(&format!("{}/cpuset.{what}", p.parent_dir))
                                        .map_err(|e| SetupError::kernel("reading the parent cpuset", e))?
                                        .trim()
                                        .to_string(),
                                ),
                                (None, Version::V2) => None,
                            };
                            if let Some(value) = value {
                                write(format!("{d}/cpuset.{what}"), value)?;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The memory limit as the kernel holds it (rounded down to a page).
    pub fn memory_limit(&self) -> Option<Result<Limit, ReadError>> {
        let p = self.plan.placement("memory")?;
        Some(match p.hierarchy.version {
            Version::V2 => self.root.read_parsed(&format!("{}/memory.max", p.dir), Limit::parse),
            Version::V1 => {
                self.root.read_parsed(&format!("{}/memory.limit_in_bytes", p.dir), Limit::parse_v1_bytes)
            }
        })
    }

    /// `cgroup.procs` of each directory, open for writing: a child writes
    /// `0` (itself) into each between `fork` and `exec`.
    pub fn procs_files(&self) -> Result<Vec<File>, SetupError> {
        self.plan
            .placements
            .iter()
            .map(|p| {
                let path = format!("{}/cgroup.procs", p.dir);
                self.root.open_write(&path).map_err(|e| SetupError::kernel(format!("opening {path}"), e))
            })
            .collect()
    }

    /// The placements whose directories this cgroup created.
    fn owned(&self) -> &[Placement] {
        &self.plan.placements[..self.locks.len()]
    }

    /// Processes in the cgroup now (all directories), sorted.
    pub fn procs(&self) -> Vec<u32> {
        let mut all = Vec::new();
        for p in self.owned() {
            for dir in subtree(&self.root, &p.dir) {
                if let Ok(t) = self.root.read_text(&format!("{dir}/cgroup.procs")) {
                    all.extend(parse_ids(&t).0);
                }
            }
        }
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Kill every process in the cgroup and wait until it is empty, calling
    /// `reap` between checks (the caller reaps its children). Gives up
    /// after `timeout`. Returns how many processes were signalled.
    pub fn kill_all(&self, reap: &mut dyn FnMut(), timeout: Duration) -> usize {
        let started = Instant::now();
        let mut signalled = std::collections::BTreeSet::new();
        let mut used_cgroup_kill = false;
        loop {
            reap();
            let procs = self.procs();
            if procs.is_empty() {
                break;
            }
            if started.elapsed() > timeout {
                break;
            }
            if !used_cgroup_kill {
                // v2: one write kills the whole subtree, racing no fork.
                for p in self.owned().iter().filter(|p| p.hierarchy.version == Version::V2) {
                    let kill = format!("{}/cgroup.kill", p.dir);
                    if self.root.exists(&kill) {
                        let _ = self.root.write(&kill, b"1");
                    }
                }
                used_cgroup_kill = true;
            }
            // A pid read from cgroup.procs may be reused by the time it is
            // signalled: open a pidfd first (it pins the process), then
            // check the pid is still in the cgroup, then signal the pidfd.
            let pinned: Vec<(u32, Option<std::os::fd::OwnedFd>)> = procs
                .iter()
                .map(|&pid| {
                    let fd = rustix::process::Pid::from_raw(pid as i32).and_then(|p| {
                        rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
                    });
                    (pid, fd)
                })
                .collect();
            let still = self.procs();
            for (pid, fd) in pinned {
                if !still.contains(&pid) {
                    continue;
                }
                match fd {
                    Some(fd) => {
                        let _ = rustix::process::pidfd_send_signal(&fd, rustix::process::Signal::KILL);
                    }
                    // No pidfd (a kernel before 5.3): plain kill(2).
                    None => {
                        // SAFETY: kill(2) on a pid listed in our cgroup.
                        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                    }
                }
                signalled.insert(pid);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        signalled.len()
    }

    /// Kill what is left, remove the directories (and the parents when
    /// empty). Errors name the directories left behind.
    pub fn remove(mut self, reap: &mut dyn FnMut()) -> Result<(), SetupError> {
        self.remove_inner(reap)
    }

    fn remove_inner(&mut self, reap: &mut dyn FnMut()) -> Result<(), SetupError> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        self.kill_all(reap, Duration::from_secs(10));
        let mut first_error = None;
        for p in self.owned() {
            // The command may have made cgroups of its own below ours:
            // deepest first.
            let mut dirs = subtree(&self.root, &p.dir);
            dirs.reverse();
            for dir in dirs {
                if let Err(e) = remove_dir_retrying(&self.root, &dir, reap)
                    && first_error.is_none()
                {
                    first_error = Some(SetupError::Cleanup { dir: dir.clone(), reason: e.to_string() });
                }
            }
        }
        // Removing an empty parent is safe for every placement, including
        // one whose creation failed after making its parent.
        for p in &self.plan.placements {
            remove_parent_if_empty(&self.root, &p.parent_dir);
        }
        self.locks.clear();
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for TransientCgroup {
    fn drop(&mut self) {
        let _ = self.remove_inner(&mut || {});
    }
}

/// `dir` and every directory below it, parents first.
fn subtree(root: &KernelRoot, dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    if !root.is_dir(dir) {
        return out;
    }
    out.push(dir.to_string());
    let mut i = 0;
    while i < out.len() {
        let d = out[i].clone();
        if let Ok(names) = root.list_dir(&d) {
            for n in names {
                let child = format!("{d}/{n}");
                if root.is_dir(&child) {
                    out.push(child);
                }
            }
        }
        i += 1;
    }
    out
}

/// rmdir, retrying for up to 2 s while the kernel still counts exiting
/// tasks (`EBUSY`). Gone already is success.
fn remove_dir_retrying(root: &KernelRoot, dir: &str, reap: &mut dyn FnMut()) -> Result<(), ReadError> {
    let started = Instant::now();
    loop {
        match root.remove_dir(dir) {
            Ok(()) | Err(ReadError::NotReported { .. }) => return Ok(()),
            Err(e) if started.elapsed() > Duration::from_secs(2) => return Err(e),
            Err(_) => {
                reap();
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Remove a memscope parent that has no children left. Another run may be
/// creating a cgroup in it at the same moment: its `mkdir` then fails with
/// `ENOENT` and it starts over (see `create_one`).
fn remove_parent_if_empty(root: &KernelRoot, parent: &str) {
    if subtree(root, parent).len() == 1
        && root.read_text(&format!("{parent}/cgroup.procs")).is_ok_and(|t| parse_ids(&t).0.is_empty())
    {
        let _ = root.remove_dir(parent);
    }
}

/// Make one directory of the cgroup and lock it; see the module's notes on
/// stale cgroups for why the lock is checked after it is taken.
fn create_one(root: &KernelRoot, p: &Placement) -> Result<File, SetupError> {
    let mut last_error = None;
    for _attempt in 0..20 {
        match ensure_parent(root, p) {
            Ok(()) => {}
            // The parent was removed under us by a finishing run: again.
            Err(SetupError::Kernel { source: e @ ReadError::NotReported { .. }, .. }) => {
                last_error = Some(e);
                continue;
            }
            // A file of a parent that was being removed reads as ENODEV (an
            // I/O error) rather than gone: again, once the parent is gone.
            Err(SetupError::Kernel { source: e, .. }) if !root.is_dir(&p.parent_dir) => {
                last_error = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        }
        match root.create_dir(&p.dir) {
            Ok(true) => {}
            Ok(false) => {
                return Err(SetupError::Invalid(format!(
                    "a cgroup named `{}` exists already ({}): another memscope run is using the name",
                    p.dir.rsplit('/').next().unwrap_or(""),
                    p.dir
                )));
            }
            // The parent was removed by a run that just finished: again.
            Err(e @ ReadError::NotReported { .. }) => {
                last_error = Some(e);
                continue;
            }
            Err(e) => return Err(SetupError::kernel(format!("creating {}", p.dir), e)),
        }
        let lock = root.open(&p.dir).map(|f| f.file().try_clone());
        let lock = match lock {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                return Err(SetupError::kernel("locking", memscope_kernel::root::classify(&e, &p.dir)));
            }
            Err(e @ ReadError::NotReported { .. }) => {
                last_error = Some(e);
                continue;
            }
            Err(e) => return Err(SetupError::kernel(format!("opening {}", p.dir), e)),
        };
        if rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).is_err() {
            let _ = root.remove_dir(&p.dir);
            return Err(SetupError::Invalid(format!("cannot lock {}", p.dir)));
        }
        // A cleaner may have removed the directory between mkdir and flock
        // (it was empty and unlocked): then the lock is on a dead directory.
        if root.is_same_file(&p.dir, &lock) {
            return Ok(lock);
        }
    }
    Err(SetupError::kernel(
        format!("creating {}", p.dir),
        last_error
            .unwrap_or(ReadError::Io { path: p.dir.clone(), message: "removed while being created".into() }),
    ))
}

/// Make `<mount>/memscope` ready to hold cgroups: on v1 cpuset copy the
/// top's cpus and mems into it (a new v1 cpuset is empty); on v2 enable the
/// controllers in `cgroup.subtree_control` of the top (if needed) and of
/// the parent.
fn ensure_parent(root: &KernelRoot, p: &Placement) -> Result<(), SetupError> {
    let h = &p.hierarchy;
    root.create_dir(&p.parent_dir)
        .map_err(|e| SetupError::kernel(format!("creating {}", p.parent_dir), e))?;
    match h.version {
        Version::V1 => {
            if p.controllers.contains(&"cpuset") {
                for what in ["cpus", "mems"] {
                    let mine = format!("{}/cpuset.{what}", p.parent_dir);
                    let current = root
                        .read_text(&mine)
                        .map_err(|e| SetupError::kernel(format!("reading {mine}"), e))?;
                    if current.trim().is_empty() {
                        let top = format!("{}/cpuset.{what}", h.mount_point);
                        let value = root
                            .read_text(&top)
                            .map_err(|e| SetupError::kernel(format!("reading {top}"), e))?;
                        root.write(&mine, value.trim().as_bytes())
                            .map_err(|e| SetupError::kernel(format!("writing {mine}"), e))?;
                    }
                }
            }
        }
        Version::V2 => {
            for dir in [h.mount_point.as_str(), p.parent_dir.as_str()] {
                let path = format!("{dir}/cgroup.subtree_control");
                let enabled = root
                    .read_text(&path)
                    .map(|t| parse_controllers(&t))
                    .map_err(|e| SetupError::kernel(format!("reading {path}"), e))?;
                let missing: Vec<String> = p
                    .controllers
                    .iter()
                    .filter(|c| !enabled.iter().any(|e| e == *c))
                    .map(|c| format!("+{c}"))
                    .collect();
                if !missing.is_empty() {
                    let value = missing.join(" ");
                    root.write(&path, value.as_bytes())
                        .map_err(|e| SetupError::kernel(format!("writing `{value}` to {path}"), e))?;
                }
            }
        }
    }
    Ok(())
}

/// Remove stale memscope cgroups in every hierarchy: children of a
/// memscope parent whose lock is free (their memscope is gone). Empty ones
/// are removed; ones that still hold processes are left and reported.
pub fn clean_stale(root: &KernelRoot, layout: &Layout) -> Vec<Stale> {
    let mut out = Vec::new();
    for h in &layout.hierarchies {
        let parent = format!("{}/{PARENT}", h.mount_point.trim_end_matches('/'));
        let Ok(names) = root.list_dir(&parent) else { continue };
        for n in names {
            let dir = format!("{parent}/{n}");
            if !root.is_dir(&dir) {
                continue;
            }
            let Ok(f) = root.open(&dir) else { continue };
            if rustix::fs::flock(f.file(), rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
                continue; // its memscope is alive
            }
            let mut dirs = subtree(root, &dir);
            let mut procs = Vec::new();
            for d in &dirs {
                if let Ok(t) = root.read_text(&format!("{d}/cgroup.procs")) {
                    procs.extend(parse_ids(&t).0);
                }
            }
            procs.sort_unstable();
            procs.dedup();
            let mut removed = false;
            if procs.is_empty() {
                dirs.reverse();
                removed = dirs
                    .iter()
                    .all(|d| matches!(root.remove_dir(d), Ok(()) | Err(ReadError::NotReported { .. })));
            }
            out.push(Stale { dir, procs, removed });
        }
        remove_parent_if_empty(root, &parent);
    }
    out
}
