//! The file-descriptor collection pass: the [`FdSnapshot`] behind
//! `memscope fds`.
//!
//! ```text
//!  phase 1, every process (cheap)     status (name, uids) · limits · fd count (one stat)
//!  phase 2, the processes asked for   list fd/ · readlink each · statx of paths
//!                                     · fdinfo of inotify and epoll instances · cgroup
//!  phase 3, sockets of phase 2        /proc/net tables, then /proc/PID/net for
//!                                     processes in other network namespaces
//!  system                             file-nr · nr_open · inotify and epoll limits
//! ```
//!
//! Counting never looks at the descriptors themselves ([`KernelRoot::pid_fd_count`]):
//! only the breakdown ([`Breakdown`]) reads each link. A process that exits
//! during the scan is skipped and counted in [`FdScan::gone`]; a descriptor
//! closed between listing and reading it is counted in [`FdScan::fds_closed`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use memscope_kernel::parse::file_nr::FileNr;
use memscope_kernel::parse::net::Socket;
use memscope_kernel::parse::pid::cgroup::ProcCgroup;
use memscope_kernel::parse::pid::fd::{FdTarget, FileType};
use memscope_kernel::parse::pid::fdinfo::FdInfo;
use memscope_kernel::parse::pid::limits::{MAX_OPEN_FILES, ResourceLimit};
use memscope_kernel::parse::pid::status::Status;
use memscope_kernel::{KernelRoot, ReadError, paths};
use serde::{Deserialize, Serialize};

use crate::collect::{parallel_map, worker_count};
use crate::{Sample, Snapshot, now_unix_ms};

/// Version of the [`FdSnapshot`] layout.
pub const FD_SNAPSHOT_VERSION: u32 = 1;

/// Which processes get the per-descriptor breakdown (a `readlink` per
/// descriptor, a `statx` per path, fdinfo of inotify and epoll instances).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Breakdown {
    /// None: counts only.
    #[default]
    None,
    /// Every process that can be read.
    All,
    /// The `n` processes closest to their soft `RLIMIT_NOFILE` (by
    /// descriptors ÷ soft limit).
    Closest(usize),
    /// This process and every process sharing its real or effective user
    /// (whose inotify and epoll use counts against the same per-user limits).
    UsersOf(u32),
}

/// What to collect.
#[derive(Debug, Clone, Default)]
pub struct FdCollectOptions {
    /// Which processes get the breakdown.
    pub breakdown: Breakdown,
    /// Only these processes (all when `None`).
    pub pids: Option<Vec<u32>>,
    /// Worker threads (0: one per CPU, at most 4).
    pub threads: usize,
}

/// Everything one fd collection pass read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FdSnapshot {
    /// [`FD_SNAPSHOT_VERSION`] at collection time.
    pub version: u32,
    /// Wall-clock time of the collection, ms since the Unix epoch.
    pub taken_at_unix_ms: u64,
    /// Read from the running system (false: from a captured tree).
    pub live: bool,
    /// Kernel release.
    pub kernel: Sample<String>,
    /// Effective and real uid of the reader (`/proc/self/status`), when known:
    /// whose processes it may look into.
    pub reader_uids: Option<[u32; 4]>,
    /// System-wide limits and use.
    pub system: FdSystem,
    /// Processes that hold a descriptor table (kernel threads and zombies are
    /// left out), in pid order.
    pub processes: Vec<FdProcess>,
    /// How the scan went.
    pub scan: FdScan,
}

/// The system-wide figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdSystem {
    /// `/proc/sys/fs/file-nr` (allocated, free, `file-max`).
    pub file_nr: Sample<FileNr>,
    /// `/proc/sys/fs/nr_open`: no `RLIMIT_NOFILE` may exceed it.
    pub nr_open: Sample<u64>,
    /// `/proc/sys/fs/inotify/max_user_instances`.
    pub inotify_max_user_instances: Sample<u64>,
    /// `/proc/sys/fs/inotify/max_user_watches`.
    pub inotify_max_user_watches: Sample<u64>,
    /// `/proc/sys/fs/epoll/max_user_watches`.
    pub epoll_max_user_watches: Sample<u64>,
}

/// One process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FdProcess {
    /// Process id.
    pub pid: u32,
    /// `Name` from `/proc/PID/status`.
    pub comm: String,
    /// Real, effective, saved and file-system uid (`Uid` of status).
    pub uids: Option<[u32; 4]>,
    /// `Max open files` of `/proc/PID/limits`: `RLIMIT_NOFILE`.
    pub nofile: Sample<ResourceLimit>,
    /// Open descriptors.
    pub fd_count: Sample<u64>,
    /// The descriptors, when the breakdown was asked for this process.
    pub fds: FdList,
    /// `/proc/PID/cgroup`, read with the breakdown (names a systemd unit),
    /// or shared with the snapshot it was built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<Sample<std::sync::Arc<ProcCgroup>>>,
}

impl FdProcess {
    /// Real uid.
    pub fn ruid(&self) -> Option<u32> {
        self.uids.map(|u| u[0])
    }

    /// Effective uid.
    pub fn euid(&self) -> Option<u32> {
        self.uids.map(|u| u[1])
    }

    /// The descriptors, when read.
    pub fn fd_samples(&self) -> Option<&[FdSample]> {
        match &self.fds {
            FdList::Read(v) => Some(v),
            _ => None,
        }
    }

    /// Descriptors ÷ soft limit, when both are known and the limit is finite
    /// and not zero.
    pub fn ratio(&self) -> Option<f64> {
        let count = *self.fd_count.as_ref().ok()?;
        let soft = self.nofile.as_ref().ok()?.soft.value()?;
        (soft > 0).then(|| count as f64 / soft as f64)
    }
}

/// The outcome of listing one process's descriptors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FdList {
    /// Not asked for.
    NotRequested,
    /// Read: one entry per descriptor, ascending.
    Read(Vec<FdSample>),
    /// Could not be read (permission denied for another user's process, …).
    Failed(ReadError),
}

/// One descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdSample {
    /// Descriptor number.
    pub fd: u32,
    /// What its link says.
    pub target: FdTarget,
    /// For paths on a live system: the file's type (`statx`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_type: Option<FileType>,
    /// For inotify and epoll instances: their fdinfo (watches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fdinfo: Option<FdInfo>,
    /// For sockets: the socket as the `/proc/net` table of its network
    /// namespace shows it, when it is in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<Socket>,
}

/// Counts of the scan, so that the output can say what it left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdScan {
    /// Process directories listed in `/proc`.
    pub listed: usize,
    /// Processes that exited during the scan (skipped).
    pub gone: usize,
    /// Kernel threads and zombies: no descriptor table.
    pub no_files: usize,
    /// Processes whose descriptor count could not be read.
    pub count_unavailable: usize,
    /// Processes given the breakdown.
    pub breakdown_read: usize,
    /// Processes whose breakdown was asked for but denied (other users').
    pub breakdown_denied: usize,
    /// Processes whose breakdown failed otherwise.
    pub breakdown_failed: usize,
    /// Descriptors closed between listing and reading them.
    pub fds_closed: usize,
    /// Network namespaces whose socket tables were read.
    pub netns_read: usize,
    /// Whole scan, microseconds.
    pub elapsed_usec: u64,
}

/// Collect counts only, for every process, and the system figures: the cheap
/// pass `memscope record` stores (one `stat` and two small reads per process).
pub fn collect_fd_counts(root: &KernelRoot) -> FdSnapshot {
    collect_fds(root, &FdCollectOptions::default())
}

/// Read one fd snapshot.
pub fn collect_fds(root: &KernelRoot, opts: &FdCollectOptions) -> FdSnapshot {
    let started = Instant::now();
    let taken_at_unix_ms = now_unix_ms();
    let mut scan = FdScan::default();
    let pids = match &opts.pids {
        Some(p) => p.clone(),
        None => root.pids().unwrap_or_default(),
    };
    scan.listed = pids.len();
    let threads = worker_count(opts.threads);

    // Phase 1: every process, cheaply.
    let mut processes = Vec::with_capacity(pids.len());
    for outcome in parallel_map(&pids, threads, |&pid| read_counts(root, pid)) {
        match outcome {
            Phase1::Gone => scan.gone += 1,
            Phase1::NoFiles => scan.no_files += 1,
            Phase1::Process(p) => {
                if p.fd_count.is_err() {
                    scan.count_unavailable += 1;
                }
                processes.push(*p);
            }
        }
    }

    // Phase 2: the breakdown, for the processes asked for.
    let chosen = choose(&processes, &opts.breakdown);
    let outcomes = parallel_map(&chosen, threads, |&i| read_breakdown(root, processes[i].pid));
    // This process's own listing holds a descriptor on the directory it lists,
    // closed by the time its link is read: not worth a note.
    let own_pid: Option<u32> = root.read_link(paths::SELF).ok().and_then(|p| p.parse().ok());
    let mut gone = BTreeSet::new();
    for (&i, (list, cgroup, closed)) in chosen.iter().zip(outcomes) {
        if Some(processes[i].pid) != own_pid {
            scan.fds_closed += closed;
        }
        match &list {
            FdList::Read(_) => scan.breakdown_read += 1,
            FdList::Failed(ReadError::Gone { .. }) => {
                gone.insert(i);
            }
            FdList::Failed(ReadError::PermissionDenied { .. }) => scan.breakdown_denied += 1,
            FdList::Failed(_) => scan.breakdown_failed += 1,
            FdList::NotRequested => {}
        }
        processes[i].fds = list;
        processes[i].cgroup = Some(cgroup.map(std::sync::Arc::new));
    }
    scan.gone += gone.len();
    let mut processes: Vec<FdProcess> =
        processes.into_iter().enumerate().filter(|(i, _)| !gone.contains(i)).map(|(_, p)| p).collect();

    // Phase 3: sockets.
    scan.netns_read = resolve_sockets(root, &mut processes);

    scan.elapsed_usec = started.elapsed().as_micros() as u64;
    FdSnapshot {
        version: FD_SNAPSHOT_VERSION,
        taken_at_unix_ms,
        live: root.is_live(),
        kernel: root.osrelease(),
        reader_uids: root.read_text(paths::SELF_STATUS).ok().and_then(|t| Status::parse(&t).uids()),
        system: read_fd_system(root),
        processes,
        scan,
    }
}

/// Read the system-wide figures: `file-nr`, `nr_open`, the inotify and epoll
/// limits (five small files).
pub fn read_fd_system(root: &KernelRoot) -> FdSystem {
    FdSystem {
        file_nr: root.file_nr(),
        nr_open: root.read_u64(paths::NR_OPEN),
        inotify_max_user_instances: root.read_u64(paths::INOTIFY_MAX_USER_INSTANCES),
        inotify_max_user_watches: root.read_u64(paths::INOTIFY_MAX_USER_WATCHES),
        epoll_max_user_watches: root.read_u64(paths::EPOLL_MAX_USER_WATCHES),
    }
}

enum Phase1 {
    Gone,
    NoFiles,
    Process(Box<FdProcess>),
}

fn is_gone<T>(r: &Result<T, ReadError>) -> bool {
    matches!(r, Err(ReadError::Gone { .. }))
}

/// Kernel threads have no descriptor table (`Kthread: 1` since Linux 6.4;
/// before, no address space and a parent of kthreadd, pid 2); zombies have
/// closed theirs.
pub(crate) fn has_no_files(pid: u32, s: &Status) -> bool {
    let zombie = s.text.get("State").is_some_and(|st| st.starts_with('Z'));
    let kthread = match s.number("Kthread") {
        Some(k) => k == 1,
        None => !s.has_address_space() && (pid == 2 || s.number("PPid") == Some(2)),
    };
    zombie || kthread
}

/// A process's open descriptors and `RLIMIT_NOFILE`: the count pass of one
/// process (one `stat` of `/proc/PID/fd`, one read of `/proc/PID/limits`),
/// which `memscope record` keeps with each process
/// ([`crate::ProcessSample::fds`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessFds {
    /// Open descriptors ([`KernelRoot::pid_fd_count`]).
    pub count: Sample<u64>,
    /// `Max open files` of `/proc/PID/limits`: `RLIMIT_NOFILE`, soft and hard.
    pub nofile: Sample<ResourceLimit>,
}

impl ProcessFds {
    /// True when the process exited while it was read.
    pub fn gone(&self) -> bool {
        is_gone(&self.count) || is_gone(&self.nofile)
    }

    /// The same, with "gone" turned into "not reported": in a captured
    /// tree a missing `/proc/PID/fd` or `limits` was not captured.
    pub fn not_captured(self) -> ProcessFds {
        fn fix<T>(s: Sample<T>) -> Sample<T> {
            match s {
                Err(ReadError::Gone { path }) => Err(ReadError::NotReported { path, field: None }),
                other => other,
            }
        }
        ProcessFds { count: fix(self.count), nofile: fix(self.nofile) }
    }
}

/// Count one process's descriptors and read its `RLIMIT_NOFILE`.
pub fn read_process_fds(root: &KernelRoot, pid: u32) -> ProcessFds {
    let kpath = paths::pid_file(pid, "limits");
    let nofile = root
        .pid_limits(pid)
        .and_then(|l| l.nofile().cloned().ok_or_else(|| ReadError::missing_field(&kpath, MAX_OPEN_FILES)));
    ProcessFds { count: root.pid_fd_count(pid), nofile }
}

fn read_counts(root: &KernelRoot, pid: u32) -> Phase1 {
    let status = root.pid_status(pid);
    if is_gone(&status) {
        return Phase1::Gone;
    }
    if let Ok(s) = &status
        && has_no_files(pid, s)
    {
        return Phase1::NoFiles;
    }
    let counted = read_process_fds(root, pid);
    if counted.gone() {
        return Phase1::Gone;
    }
    let ProcessFds { count: fd_count, nofile } = counted;
    let (comm, uids) = match &status {
        Ok(s) => (s.text.get("Name").cloned().unwrap_or_else(|| "?".into()), s.uids()),
        Err(_) => ("?".into(), None),
    };
    Phase1::Process(Box::new(FdProcess {
        pid,
        comm,
        uids,
        nofile,
        fd_count,
        fds: FdList::NotRequested,
        cgroup: None,
    }))
}

/// The counts a [`Snapshot`] holds (when collected with
/// [`crate::CollectOptions::fds`]) as an [`FdSnapshot`] without breakdown, so
/// that the fd doctor's analysis serves recorded and exported snapshots too.
/// `None` when the snapshot holds no descriptor figures.
pub fn from_snapshot(snap: &Snapshot) -> Option<FdSnapshot> {
    let system = snap.fd_system.clone()?;
    let mut scan = FdScan {
        listed: snap.scan.listed,
        gone: snap.scan.gone,
        elapsed_usec: snap.scan.elapsed_usec,
        ..FdScan::default()
    };
    let mut processes = Vec::new();
    for p in &snap.processes {
        let Some(fds) = &p.fds else {
            scan.no_files += 1;
            continue;
        };
        if fds.count.is_err() {
            scan.count_unavailable += 1;
        }
        let status = p.status.as_ref().ok();
        processes.push(FdProcess {
            pid: p.pid,
            comm: status.and_then(|s| s.text.get("Name").cloned()).unwrap_or_else(|| p.comm()),
            uids: status.and_then(|s| s.uids()),
            nofile: fds.nofile.clone(),
            fd_count: fds.count.clone(),
            fds: FdList::NotRequested,
            cgroup: Some(p.cgroup.clone()),
        });
    }
    Some(FdSnapshot {
        version: FD_SNAPSHOT_VERSION,
        taken_at_unix_ms: snap.taken_at_unix_ms,
        live: snap.live,
        kernel: snap.kernel.clone(),
        reader_uids: None,
        system,
        processes,
        scan,
    })
}

/// Indexes of the processes that get the breakdown.
fn choose(procs: &[FdProcess], b: &Breakdown) -> Vec<usize> {
    match b {
        Breakdown::None => Vec::new(),
        Breakdown::All => (0..procs.len()).collect(),
        Breakdown::Closest(n) => {
            let mut idx: Vec<usize> = (0..procs.len()).collect();
            idx.sort_by(|&a, &b| closest_first(&procs[a], &procs[b]));
            idx.truncate(*n);
            idx.sort_unstable();
            idx
        }
        Breakdown::UsersOf(pid) => {
            let Some(target) = procs.iter().find(|p| p.pid == *pid) else { return Vec::new() };
            let users: BTreeSet<u32> = target.ruid().into_iter().chain(target.euid()).collect();
            (0..procs.len())
                .filter(|&i| {
                    let p = &procs[i];
                    p.pid == *pid
                        || p.ruid().is_some_and(|u| users.contains(&u))
                        || p.euid().is_some_and(|u| users.contains(&u))
                })
                .collect()
        }
    }
}

/// Order: highest descriptors ÷ soft limit first, then most descriptors,
/// then pid. Processes whose ratio is unknown come last.
pub fn closest_first(a: &FdProcess, b: &FdProcess) -> std::cmp::Ordering {
    let r = |p: &FdProcess| p.ratio().unwrap_or(-1.0);
    let c = |p: &FdProcess| p.fd_count.as_ref().ok().copied().unwrap_or(0);
    r(b).total_cmp(&r(a)).then(c(b).cmp(&c(a))).then(a.pid.cmp(&b.pid))
}

/// List, readlink and classify every descriptor of one process. Returns the
/// list, the cgroup file, and how many descriptors closed mid-scan.
fn read_breakdown(root: &KernelRoot, pid: u32) -> (FdList, Sample<ProcCgroup>, usize) {
    let cgroup = root.pid_cgroup(pid);
    let fds = match root.pid_fds(pid) {
        Ok(f) => f,
        Err(e) => return (FdList::Failed(e), cgroup, 0),
    };
    let mut out = Vec::with_capacity(fds.len());
    let mut closed = 0;
    // One statx per distinct path: a process holding one file 3,000 times
    // (the leak this tool hunts) costs one stat, not 3,000.
    let mut types: std::collections::HashMap<String, Option<FileType>> = Default::default();
    for fd in fds {
        let link = match root.pid_fd_target(pid, fd) {
            Ok(l) => l,
            // The descriptor was closed since the listing (or the process exited:
            // checked below).
            Err(ReadError::Gone { .. }) => {
                closed += 1;
                continue;
            }
            Err(e) => return (FdList::Failed(e), cgroup, closed),
        };
        let target = FdTarget::parse(&link);
        let file_type = match &target {
            FdTarget::Path { .. } => match types.get(&link) {
                Some(t) => *t,
                None => {
                    let t = root.pid_fd_file_type(pid, fd).ok().flatten();
                    types.insert(link, t);
                    t
                }
            },
            _ => None,
        };
        let fdinfo =
            if target.is_inotify() || target.is_epoll() { root.pid_fdinfo(pid, fd).ok() } else { None };
        out.push(FdSample { fd, target, file_type, fdinfo, socket: None });
    }
    if closed > 0 && !root.exists(&paths::pid_file(pid, "fd")) {
        return (FdList::Failed(ReadError::Gone { path: paths::pid_file(pid, "fd") }), cgroup, closed);
    }
    (FdList::Read(out), cgroup, closed)
}

type SocketMap = BTreeMap<u64, Socket>;

fn load_tables(root: &KernelRoot, dir: &str) -> SocketMap {
    let mut map = SocketMap::new();
    for (_, table) in root.socket_tables(dir) {
        if let Ok(t) = table {
            for s in t.sockets {
                map.insert(s.inode, s);
            }
        }
    }
    map
}

/// Attach each socket descriptor's `/proc/net` entry. The reader's own
/// tables come first; a process whose sockets are not all there and that
/// lives in another network namespace has that namespace's tables read
/// through its own `/proc/PID/net`. Returns the namespaces read.
fn resolve_sockets(root: &KernelRoot, procs: &mut [FdProcess]) -> usize {
    let has_sockets = procs
        .iter()
        .any(|p| p.fd_samples().is_some_and(|fds| fds.iter().any(|f| f.target.socket_inode().is_some())));
    if !has_sockets {
        return 0;
    }
    let own_ns = root.read_link(paths::SELF_NETNS).ok();
    let mut tables: BTreeMap<Option<String>, SocketMap> = BTreeMap::new();
    tables.insert(own_ns.clone(), load_tables(root, paths::NET));
    for p in procs.iter_mut() {
        let pid = p.pid;
        let FdList::Read(fds) = &mut p.fds else { continue };
        let mut missing = false;
        let own = &tables[&own_ns];
        for f in fds.iter_mut() {
            if let Some(inode) = f.target.socket_inode() {
                f.socket = own.get(&inode).cloned();
                missing |= f.socket.is_none();
            }
        }
        if !missing {
            continue;
        }
        let Ok(ns) = root.pid_netns(pid) else { continue };
        let ns = Some(ns);
        if ns == own_ns {
            continue;
        }
        let map = tables.entry(ns).or_insert_with(|| load_tables(root, &paths::pid_file(pid, "net")));
        for f in fds.iter_mut() {
            if let Some(inode) = f.target.socket_inode()
                && f.socket.is_none()
            {
                f.socket = map.get(&inode).cloned();
            }
        }
    }
    tables.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use memscope_kernel::parse::pid::limits::Limit;

    fn proc_with(pid: u32, count: u64, soft: u64) -> FdProcess {
        FdProcess {
            pid,
            comm: "t".into(),
            uids: Some([1000, 1000, 1000, 1000]),
            nofile: Ok(ResourceLimit { soft: Limit::Value(soft), hard: Limit::Value(soft), units: None }),
            fd_count: Ok(count),
            fds: FdList::NotRequested,
            cgroup: None,
        }
    }

    #[test]
    fn closest_to_the_limit_first() {
        let mut v = [proc_with(1, 10, 1024), proc_with(2, 900, 1024), proc_with(3, 5000, 6000)];
        v[0].fd_count = Err(ReadError::PermissionDenied { path: "/proc/1/fd".into() });
        v.sort_by(closest_first);
        assert_eq!(v.iter().map(|p| p.pid).collect::<Vec<_>>(), vec![2, 3, 1]);
        assert_eq!(choose(&v, &Breakdown::Closest(1)), vec![0]);
    }

    #[test]
    fn users_of_a_pid_share_its_real_or_effective_uid() {
        let mut v = vec![proc_with(1, 1, 10), proc_with(2, 1, 10), proc_with(3, 1, 10), proc_with(4, 1, 10)];
        v[0].uids = Some([1000, 0, 0, 0]); // setuid root, started by 1000
        v[1].uids = Some([0; 4]);
        v[2].uids = Some([1000; 4]);
        v[3].uids = Some([33; 4]);
        assert_eq!(choose(&v, &Breakdown::UsersOf(1)), vec![0, 1, 2]);
        assert_eq!(choose(&v, &Breakdown::UsersOf(4)), vec![3]);
        assert!(choose(&v, &Breakdown::UsersOf(99)).is_empty());
        assert_eq!(choose(&v, &Breakdown::All), vec![0, 1, 2, 3]);
        assert!(choose(&v, &Breakdown::None).is_empty());
    }

    /// A tree whose `fd` entries are plain files, not links: any `readlink`
    /// of them fails, so a count that succeeds never read one.
    fn tree_with_unreadable_links() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("memscope-fds-count-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let p = dir.join("proc/5");
        std::fs::create_dir_all(p.join("fd")).unwrap();
        for n in 0..7 {
            std::fs::write(p.join(format!("fd/{n}")), "").unwrap();
        }
        std::fs::write(p.join("status"), "Name:\tt\nState:\tS\nPPid:\t1\nUid:\t7\t7\t7\t7\nVmRSS:\t4 kB\n")
            .unwrap();
        std::fs::write(
            p.join("limits"),
            "Max open files            64                   128                  files\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("proc/sys/fs")).unwrap();
        std::fs::write(dir.join("proc/sys/fs/file-nr"), "7\t0\t1000\n").unwrap();
        dir
    }

    #[test]
    fn counting_reads_no_link() {
        let dir = tree_with_unreadable_links();
        let root = KernelRoot::at(&dir);
        let snap = collect_fd_counts(&root);
        assert_eq!(snap.processes.len(), 1);
        let p = &snap.processes[0];
        assert_eq!(p.fd_count, Ok(7));
        assert!(matches!(p.fds, FdList::NotRequested));
        assert_eq!(p.nofile.as_ref().unwrap().soft, Limit::Value(64));
        assert_eq!(snap.system.file_nr.as_ref().unwrap().max, 1000);
        assert_eq!(snap.system.nr_open.as_ref().unwrap_err().kind(), "not_reported");
        // The breakdown does read them, and says it could not.
        let full = collect_fds(&root, &FdCollectOptions { breakdown: Breakdown::All, ..Default::default() });
        assert!(
            matches!(full.processes[0].fds, FdList::Failed(ReadError::Io { .. })),
            "{:?}",
            full.processes[0].fds
        );
        assert_eq!(full.scan.breakdown_failed, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn kernel_threads_and_zombies_have_no_files() {
        let kthread = Status::parse("Name:\tkworker/0:1\nState:\tI (idle)\nPPid:\t2\n");
        assert!(has_no_files(77, &kthread));
        let kthread_new = Status::parse("Name:\tkthreadd\nState:\tS (sleeping)\nPPid:\t0\nKthread:\t1\n");
        assert!(has_no_files(2, &kthread_new));
        let zombie = Status::parse("Name:\tdefunct\nState:\tZ (zombie)\nPPid:\t40\n");
        assert!(has_no_files(41, &zombie));
        let user =
            Status::parse("Name:\tbash\nState:\tS (sleeping)\nPPid:\t1\nVmRSS:\t 10 kB\nKthread:\t0\n");
        assert!(!has_no_files(42, &user));
        // The fields the process views keep tell them apart as all do.
        for (pid, s) in
            [(77, "Name:\tkworker/0:1\nState:\tI (idle)\nPPid:\t2\n"), (41, "State:\tZ (zombie)\n")]
        {
            assert!(has_no_files(pid, &Status::parse_keeping(s, crate::ROW_STATUS)));
        }
    }

    #[test]
    fn the_status_fields_the_process_views_keep_tell_who_has_files() {
        let (mut with, mut without) = (0, 0);
        let root = KernelRoot::live();
        for pid in root.pids().unwrap() {
            let Ok(text) = root.read_text(&format!("/proc/{pid}/status")) else { continue };
            let none = has_no_files(pid, &Status::parse(&text));
            assert_eq!(
                has_no_files(pid, &Status::parse_keeping(&text, crate::ROW_STATUS)),
                none,
                "pid {pid}"
            );
            *if none { &mut without } else { &mut with } += 1;
        }
        assert!(with > 0 && without > 0, "{with} processes with files, {without} without");
    }
}
