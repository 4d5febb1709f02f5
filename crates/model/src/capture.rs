//! Capture: one collection pass through a recording [`KernelRoot`], and the
//! files it read written out as a tree that `KernelRoot::at` reads back.
//!
//! ```text
//! DIR/MANIFEST        kernel, page size, time, arch, how it was made
//! DIR/UNREADABLE      kernel paths that were permission-denied (read back as such)
//! DIR/proc/…, DIR/sys/…, DIR/dev/kmsg (only the lines used), cgroupfs
//!                     (the cgroup tree: `/proc/self/mountinfo` and each cgroup's files)
//! ```
//! Command lines keep only the program's name (the base name of
//! `/proc/PID/exe`, else the command name): argv, `argv[0]` included, is
//! text the process chose and often holds secrets. Environments are never
//! read.
//!
//! memscope runs as root and `DIR` may lie in a directory other users write
//! (`/tmp`), so the tree is written through a directory handle only: `DIR`
//! is created by this capture (mode 0700; an existing empty directory is
//! accepted only when it is not a link and belongs to this user), and every
//! directory, file and link below it is created relative to that handle,
//! without following a link that the capture did not create itself. Files
//! are 0600: a tree holds copies of root-only files (`slabinfo`,
//! `vmallocinfo`, `iomem` with physical addresses).

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use memscope_kernel::{KernelRoot, MANIFEST, UNREADABLE};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};

use crate::{CollectOptions, EXITED_DURING_CAPTURE, Snapshot, collect};

/// What a capture wrote.
#[derive(Debug)]
pub struct Captured {
    /// The snapshot collected while capturing (the live view at that moment).
    pub snapshot: Snapshot,
    /// Number of files written.
    pub files: usize,
}

/// Collect through a recording root and write every file read under `out`
/// (which must not exist, or be an empty directory of this user).
pub fn capture(root: &KernelRoot, opts: &CollectOptions, out: &Path) -> io::Result<Captured> {
    capture_with(root, opts, out, &|| {})
}

/// [`capture`], calling `before_writing` once everything is read and
/// before any file is written: the moment at which the hardening tests
/// change the output directory under the capture.
pub fn capture_with(
    root: &KernelRoot,
    opts: &CollectOptions,
    out: &Path,
    before_writing: &dyn Fn(),
) -> io::Result<Captured> {
    // Created (and held open) before anything is read, so that nobody can
    // put anything in it while the collection runs.
    let mut tree = Tree::create(out)?;
    let (rec_root, recorder) = root.recording();
    // What `rt check` and the detail views read, first: the collection then
    // reads again what they share (meminfo, the /proc listing), so that the tree
    // holds what the snapshot saw (a recorder keeps the last read).
    let _ = crate::rt::rt_facts(&rec_root, None, None);
    // What the detail views read (zones, slab, numa, vmalloc, allocinfo),
    // by reading them: a reader added to a view is captured with it.
    let _ = crate::views::Views::collect(&rec_root);
    let snapshot = collect(&rec_root, opts);
    // The kernel log's OOM reports (`memscope oom`).
    let _ = crate::oom::read(&rec_root);
    // The cgroup hierarchies and every cgroup's files (`memscope cgroups`,
    // `pressure`, `oom`): mountinfo, then the walk of each hierarchy.
    if let Ok(layout) = memscope_kernel::cgroup::Layout::detect(&rec_root) {
        let _ = crate::cgroups::tree::read_tree(&rec_root, &layout);
        // `cgroups --ledger`: the v1 TCP socket counters too.
        let _ = crate::cgroup_stats::read_all(&rec_root, &layout, true);
    }
    // The containers' names (`cgroups`, `report --cgroup`), from the
    // runtimes' files: the recorder keeps scrubbed copies only.
    let _ = crate::containers::read(&rec_root);
    before_writing();
    // Processes the scan listed but that exited before it was done with
    // them: left out of the tree and named in its MANIFEST, so that the tree
    // reads back as the scan saw them (exited), not as processes whose files
    // are missing.
    let kept: std::collections::BTreeSet<u32> = snapshot.processes.iter().map(|p| p.pid).collect();
    let mut listed: Vec<u32> = recorder
        .dirs()
        .get("/proc")
        .map(|names| names.iter().filter_map(|n| n.parse::<u32>().ok()).collect())
        .unwrap_or_default();
    listed.sort_unstable();
    let exited: Vec<u32> = listed.iter().copied().filter(|p| !kept.contains(p)).collect();
    // Files of processes the scan did not list (read by `rt check`'s look
    // for irqbalance before the scan, of processes that exited since) are
    // left out too: the tree lists exactly the scan's processes.
    let of_exited = |kpath: &str| {
        kpath
            .strip_prefix("/proc/")
            .and_then(|r| r.split('/').next())
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| exited.binary_search(&p).is_ok() || listed.binary_search(&p).is_err())
    };
    // Links first (slab merge aliases, namespaces), so that files read
    // through a link land in the directory it points to.
    for (kpath, target) in recorder.links() {
        if !of_exited(&kpath) {
            tree.symlink(&kpath, &target)?;
        }
    }
    let comms: BTreeMap<u32, &str> = snapshot
        .processes
        .iter()
        .filter_map(|p| Some((p.pid, p.stat.as_ref().ok()?.comm.as_str())))
        .collect();
    let files = recorder.files();
    for (kpath, data) in files.iter().filter(|(k, _)| !of_exited(k)) {
        if let Some(proc_dir) = process_cmdline(kpath) {
            // The exe link is read through `root`, not the recording root:
            // the tree holds the name only, not the link.
            let exe = root.read_link(&format!("{proc_dir}/exe")).ok();
            let pid = proc_dir.strip_prefix("/proc/").and_then(|p| p.parse::<u32>().ok());
            let comm = pid.and_then(|p| comms.get(&p).copied());
            tree.write_file(kpath, &scrub_cmdline(data, exe.as_deref(), comm))?;
        } else {
            tree.write_file(kpath, data)?;
        }
    }
    for (dir, names) in recorder.dirs() {
        if of_exited(&dir) {
            continue;
        }
        tree.create_dirs(&dir)?;
        // Every process the scan kept has its directory, even one whose
        // files were all unreadable.
        if dir == "/proc" {
            for n in names.iter().filter(|n| !of_exited(&format!("/proc/{n}"))) {
                tree.create_dirs(&format!("/proc/{n}"))?;
            }
        }
    }
    let denied = recorder.denied();
    if !denied.is_empty() {
        tree.write_file(UNREADABLE, (denied.join("\n") + "\n").as_bytes())?;
    }
    tree.write_file(MANIFEST, &manifest(&snapshot, root, &exited))?;
    Ok(Captured { snapshot, files: files.len() })
}

/// `/proc/PID` (or `/proc/PID/task/TID`) when `kpath` is that process's
/// `cmdline`; `None` for any other file, `/proc/cmdline` included.
fn process_cmdline(kpath: &str) -> Option<&str> {
    let dir = kpath.strip_suffix("/cmdline")?;
    let rest = dir.strip_prefix("/proc/")?;
    let ok = |s: &str| s == "self" || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    let mut parts = rest.split('/');
    let pid = parts.next()?;
    match (parts.next(), parts.next(), parts.next()) {
        (None, ..) if ok(pid) => Some(dir),
        (Some("task"), Some(tid), None) if ok(pid) && ok(tid) => Some(dir),
        _ => None,
    }
}

/// What a captured `cmdline` holds: the base name of the executable (the
/// `/proc/PID/exe` target, ` (deleted)` dropped), else the command name,
/// as a one-argument command line; nothing for an empty one (a kernel
/// thread, a zombie). Never any text of the process's own argv, which it
/// can set to anything (`exec -a`, writing over its argument memory).
pub fn scrub_cmdline(data: &[u8], exe: Option<&str>, comm: Option<&str>) -> Vec<u8> {
    if data.iter().all(|b| *b == 0) {
        return Vec::new();
    }
    let exe_name = exe
        .map(|t| t.strip_suffix(" (deleted)").unwrap_or(t))
        .filter(|t| t.starts_with('/'))
        .and_then(|t| t.rsplit('/').next())
        .filter(|n| !n.is_empty());
    match exe_name.or(comm).filter(|n| !n.is_empty()) {
        Some(name) => {
            let mut v = name.as_bytes().to_vec();
            v.push(0);
            v
        }
        None => Vec::new(),
    }
}

/// The capture directory, held open: every path below it is created
/// relative to this handle, one component at a time, with `O_NOFOLLOW`.
struct Tree {
    top: OwnedFd,
    /// Where the tree is, for messages.
    shown: String,
    /// Links this capture created, by their path in the tree: the only
    /// links ever followed, and only to a target inside the tree.
    links: BTreeMap<Vec<String>, String>,
    /// Files written so far (two kernel paths may name one file through a
    /// link: the later one is written over it).
    written: HashSet<Vec<String>>,
    /// The last directory opened, by its path in the tree.
    last_dir: Option<(Vec<String>, OwnedFd)>,
}

const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

impl Tree {
    /// Create `out` (mode 0700) and open it, or open an existing empty
    /// directory of this user (not a link); anything else is refused.
    fn create(out: &Path) -> io::Result<Tree> {
        let shown = out.display().to_string();
        let refuse = |kind: io::ErrorKind, why: &str| io::Error::new(kind, format!("{shown}: {why}"));
        let name =
            out.file_name().ok_or_else(|| refuse(io::ErrorKind::InvalidInput, "not a directory name"))?;
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let parent_fd =
            rustix::fs::open(parent, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| {
                    io::Error::new(io::Error::from(e).kind(), format!("{}: {e}", parent.display()))
                })?;
        let created = match rustix::fs::mkdirat(&parent_fd, name, Mode::from_raw_mode(DIR_MODE)) {
            Ok(()) => true,
            Err(rustix::io::Errno::EXIST) => false,
            Err(e) => return Err(refuse(io::Error::from(e).kind(), &format!("cannot create it: {e}"))),
        };
        let top = match rustix::fs::openat(
            &parent_fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
                return Err(refuse(
                    io::ErrorKind::AlreadyExists,
                    "is a symbolic link or not a directory: refused (give a new directory)",
                ));
            }
            Err(e) => return Err(refuse(io::Error::from(e).kind(), &e.to_string())),
        };
        let st = rustix::fs::fstat(&top)?;
        let me = rustix::process::geteuid().as_raw();
        if st.st_uid != me {
            return Err(refuse(
                io::ErrorKind::PermissionDenied,
                &format!("belongs to uid {}, not to this user (uid {me}): refused", st.st_uid),
            ));
        }
        if !created && !is_empty_dir(&top)? {
            return Err(refuse(io::ErrorKind::AlreadyExists, "is not empty"));
        }
        rustix::fs::fchmod(&top, Mode::from_raw_mode(DIR_MODE))?;
        Ok(Tree { top, shown, links: BTreeMap::new(), written: HashSet::new(), last_dir: None })
    }

    fn err(&self, path: &[String], e: impl std::fmt::Display, kind: io::ErrorKind) -> io::Error {
        io::Error::new(kind, format!("{}/{}: {e}", self.shown, path.join("/")))
    }

    /// The path in the tree that kernel path `kpath` names, following the
    /// links this capture created (and no other): each target must be
    /// relative and stay inside the tree. The last component is followed
    /// only when `follow_last`.
    fn resolve(&self, kpath: &str, follow_last: bool) -> io::Result<Vec<String>> {
        let mut todo: std::collections::VecDeque<String> =
            kpath.split('/').filter(|c| !c.is_empty() && *c != ".").map(str::to_string).collect();
        let mut at: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(comp) = todo.pop_front() {
            if comp == ".." {
                if at.pop().is_none() {
                    return Err(self.err(
                        &at,
                        format!("{kpath} leads outside the captured tree"),
                        io::ErrorKind::InvalidInput,
                    ));
                }
                continue;
            }
            at.push(comp);
            if todo.is_empty() && !follow_last {
                break;
            }
            let Some(target) = self.links.get(&at) else { continue };
            hops += 1;
            if target.starts_with('/') || hops > 40 {
                return Err(self.err(
                    &at,
                    format!("links outside the captured tree ({target})"),
                    io::ErrorKind::InvalidInput,
                ));
            }
            at.pop();
            for c in target.split('/').filter(|c| !c.is_empty() && *c != ".").rev() {
                todo.push_front(c.to_string());
            }
        }
        if at.is_empty() {
            return Err(self.err(&at, format!("{kpath} names the tree itself"), io::ErrorKind::InvalidInput));
        }
        Ok(at)
    }

    /// Open directory `path` of the tree, creating what is missing (0700).
    /// A component that is not a directory created here (a link, a file)
    /// is an error: it was not put there by this capture.
    fn dir(&mut self, path: &[String]) -> io::Result<OwnedFd> {
        if let Some((p, fd)) = &self.last_dir
            && p.as_slice() == path
        {
            return fd.try_clone();
        }
        let mut cur: Option<OwnedFd> = None;
        for (i, comp) in path.iter().enumerate() {
            let parent = cur.as_ref().map(|f| f.as_fd()).unwrap_or(self.top.as_fd());
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd = match rustix::fs::openat(parent, comp.as_str(), flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(rustix::io::Errno::NOENT) => {
                    match rustix::fs::mkdirat(parent, comp.as_str(), Mode::from_raw_mode(DIR_MODE)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(self.err(&path[..=i], e, io::ErrorKind::Other)),
                    }
                    let fd = rustix::fs::openat(parent, comp.as_str(), flags, Mode::empty())
                        .map_err(|e| self.err(&path[..=i], e, io::ErrorKind::Other))?;
                    rustix::fs::fchmod(&fd, Mode::from_raw_mode(DIR_MODE))?;
                    fd
                }
                Err(e @ (rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR)) => {
                    return Err(self.err(
                        &path[..=i],
                        format!("{e}: not a directory this capture made (planted?); stopped"),
                        io::ErrorKind::AlreadyExists,
                    ));
                }
                Err(e) => return Err(self.err(&path[..=i], e, io::ErrorKind::Other)),
            };
            cur = Some(fd);
        }
        let fd = match cur {
            Some(fd) => fd,
            None => self.top.try_clone()?,
        };
        self.last_dir = Some((path.to_vec(), fd.try_clone()?));
        Ok(fd)
    }

    /// Create the file at kernel path `kpath` (0600) with `data`. It must
    /// not exist, unless this capture wrote it (through another link).
    fn write_file(&mut self, kpath: &str, data: &[u8]) -> io::Result<()> {
        let path = self.resolve(kpath, true)?;
        let (name, parent) = path.split_last().expect("resolve gives a non-empty path");
        let dir = self.dir(parent)?;
        let again = self.written.contains(&path);
        let flags = OFlags::WRONLY
            | OFlags::NOFOLLOW
            | OFlags::CLOEXEC
            | if again { OFlags::TRUNC } else { OFlags::CREATE | OFlags::EXCL };
        let fd =
            rustix::fs::openat(&dir, name.as_str(), flags, Mode::from_raw_mode(FILE_MODE)).map_err(|e| {
                let kind = if e == rustix::io::Errno::EXIST {
                    io::ErrorKind::AlreadyExists
                } else {
                    io::Error::from(e).kind()
                };
                self.err(&path, format!("{e}: not a file this capture made (planted?); stopped"), kind)
            })?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(FILE_MODE))?;
        File::from(fd).write_all(data).map_err(|e| self.err(&path, e, io::ErrorKind::Other))?;
        self.written.insert(path);
        Ok(())
    }

    /// Create the link at kernel path `kpath` (its parent directories as
    /// needed).
    fn symlink(&mut self, kpath: &str, target: &str) -> io::Result<()> {
        let path = self.resolve(kpath, false)?;
        let (name, parent) = path.split_last().expect("resolve gives a non-empty path");
        let dir = self.dir(parent)?;
        match rustix::fs::symlinkat(target, &dir, name.as_str()) {
            Ok(()) => {}
            Err(rustix::io::Errno::EXIST) if self.links.get(&path).is_some_and(|t| t == target) => {}
            Err(e) => return Err(self.err(&path, e, io::ErrorKind::Other)),
        }
        self.links.insert(path, target.to_string());
        Ok(())
    }

    /// Create the directory at kernel path `kpath` and its parents.
    fn create_dirs(&mut self, kpath: &str) -> io::Result<()> {
        let path = self.resolve(kpath, true)?;
        self.dir(&path).map(drop)
    }
}

/// True when directory `fd` has no entry but `.` and `..`.
fn is_empty_dir(fd: &OwnedFd) -> io::Result<bool> {
    for entry in rustix::fs::Dir::read_from(fd)? {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The MANIFEST: what the tree is and how it was made.
fn manifest(snap: &Snapshot, root: &KernelRoot, exited: &[u32]) -> Vec<u8> {
    let mut f = Vec::new();
    let _ = writeln!(f, "# Kernel files captured by `memscope capture`; read with `memscope --root DIR`.");
    let _ = writeln!(f, "made_by: memscope capture {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(f, "captured_at_unix_ms: {}", snap.taken_at_unix_ms);
    if let Ok(k) = &snap.kernel {
        let _ = writeln!(f, "kernel: {k}");
    }
    if let Some(p) = root.page_size() {
        let _ = writeln!(f, "page_size: {p}");
    }
    let _ = writeln!(f, "arch: {}", std::env::consts::ARCH);
    if !exited.is_empty() {
        let pids: Vec<String> = exited.iter().map(u32::to_string).collect();
        let _ = writeln!(f, "{EXITED_DURING_CAPTURE}: {}", pids.join(" "));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::{process_cmdline, scrub_cmdline};

    #[test]
    fn cmdline_becomes_the_executable_base_name() {
        let exe = Some("/usr/sbin/mysqld");
        assert_eq!(scrub_cmdline(b"/usr/sbin/mysqld\0-psecret\0", exe, Some("mysqld")), b"mysqld\0");
        assert_eq!(scrub_cmdline(b"/x\0", Some("/opt/app/bin/app (deleted)"), None), b"app\0");
    }

    #[test]
    fn cmdline_with_a_secret_in_argv0_keeps_none_of_it() {
        let data = b"myapp --password=hunter2\x00300\0";
        assert_eq!(scrub_cmdline(data, Some("/usr/bin/sleep"), Some("sleep")), b"sleep\0");
        // exe unreadable (another user's process, not root): the command name.
        assert_eq!(scrub_cmdline(data, None, Some("sleep")), b"sleep\0");
        // Neither: nothing rather than argv.
        assert_eq!(scrub_cmdline(data, None, None), b"");
    }

    #[test]
    fn cmdline_of_a_kernel_thread_stays_empty() {
        assert_eq!(scrub_cmdline(b"", None, Some("kworker/0:1")), b"");
    }

    #[test]
    fn only_process_cmdlines_are_scrubbed() {
        assert_eq!(process_cmdline("/proc/42/cmdline"), Some("/proc/42"));
        assert_eq!(process_cmdline("/proc/42/task/43/cmdline"), Some("/proc/42/task/43"));
        assert_eq!(process_cmdline("/proc/self/cmdline"), Some("/proc/self"));
        assert_eq!(process_cmdline("/proc/cmdline"), None);
        assert_eq!(process_cmdline("/sys/x/cmdline"), None);
    }
}
