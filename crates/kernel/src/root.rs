//! [`KernelRoot`]: the one place that opens kernel files.
//!
//! Every read of `/proc`, `/sys` and friends goes through a `KernelRoot`, which
//! resolves kernel paths (always written absolute, `/proc/meminfo`) against one
//! root directory: `/` on a live system, or a directory captured earlier with
//! `memscope capture`. Read failures become [`ReadError`] values, classified in
//! one function ([`classify`]) so that "the process exited" is decided once.
//!
//! A root can carry a [`Recorder`]: every file read through it is kept, byte for
//! byte, so that `capture` writes exactly the files an analysis used and the
//! offline result equals the live one.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::parse::ParseError;

/// Why a kernel file (or a field in it) could not be read.
///
/// These are values, not failures of memscope: a process exiting mid-scan is
/// [`ReadError::Gone`], a root-only file read by a normal user is
/// [`ReadError::PermissionDenied`]. Callers turn them into `unavailable`
/// figures with the reason attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReadError {
    /// The process the file belongs to has exited: `ENOENT` or `ESRCH` under
    /// `/proc/PID`, or an empty read from a process directory that no longer
    /// exists. A normal event during a scan.
    #[error("{path}: the process has exited")]
    Gone {
        /// Kernel path, e.g. `/proc/4242/smaps_rollup`.
        path: String,
    },
    /// `EACCES`/`EPERM`: the file exists but this user may not read it
    /// (root-only files such as `/proc/slabinfo`, other users' `smaps_rollup`).
    #[error("{path}: permission denied")]
    PermissionDenied {
        /// Kernel path.
        path: String,
    },
    /// The file, or a field inside it, does not exist on this kernel (an older
    /// kernel, a config option turned off, or absent from a captured tree).
    #[error("{path}: {} not reported by this kernel", field.as_deref().unwrap_or("file"))]
    NotReported {
        /// Kernel path.
        path: String,
        /// The missing field, when the file exists but the field does not.
        field: Option<String>,
    },
    /// The file was read but its content does not have the expected form.
    #[error("{path}:{line}: cannot parse {item}")]
    Parse {
        /// Kernel path.
        path: String,
        /// 1-based line number (0 when the problem is the whole file).
        line: usize,
        /// What could not be parsed.
        item: String,
    },
    /// Any other I/O error (`EIO`, `EINVAL` from a file that cannot be read
    /// the way we asked, …), with the system's message.
    #[error("{path}: {message}")]
    Io {
        /// Kernel path.
        path: String,
        /// The operating system's description.
        message: String,
    },
}

impl ReadError {
    /// The kernel path the error is about.
    pub fn path(&self) -> &str {
        match self {
            ReadError::Gone { path }
            | ReadError::PermissionDenied { path }
            | ReadError::NotReported { path, .. }
            | ReadError::Parse { path, .. }
            | ReadError::Io { path, .. } => path,
        }
    }

    /// A short machine-readable name of the kind: `gone`, `permission_denied`,
    /// `not_reported`, `parse`, `io`.
    pub fn kind(&self) -> &'static str {
        match self {
            ReadError::Gone { .. } => "gone",
            ReadError::PermissionDenied { .. } => "permission_denied",
            ReadError::NotReported { .. } => "not_reported",
            ReadError::Parse { .. } => "parse",
            ReadError::Io { .. } => "io",
        }
    }

    /// A field that the file did not contain.
    pub fn missing_field(path: &str, field: &str) -> ReadError {
        ReadError::NotReported { path: path.to_string(), field: Some(field.to_string()) }
    }

    /// Attach a path to a parser's error.
    pub fn from_parse(path: &str, e: ParseError) -> ReadError {
        ReadError::Parse { path: path.to_string(), line: e.line, item: e.item }
    }
}

/// Is this kernel path inside one process's directory (`/proc/PID/...`,
/// including `/proc/PID/task/TID/...`)?
pub fn is_process_path(kpath: &str) -> bool {
    let Some(rest) = kpath.strip_prefix("/proc/") else { return false };
    let first = rest.split('/').next().unwrap_or("");
    !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) && rest.len() > first.len()
}

/// The one place where an I/O error on a kernel file becomes a [`ReadError`].
///
/// `ENOENT` means "gone" under `/proc/PID` (the process exited between listing
/// `/proc` and opening its file) and "not reported" anywhere else (the kernel
/// has no such file). `ESRCH` is what some `/proc/PID` files return once the
/// task is being torn down (proc(5)).
pub fn classify(err: &io::Error, kpath: &str) -> ReadError {
    use rustix::io::Errno;
    let path = kpath.to_string();
    match Errno::from_io_error(err) {
        Some(Errno::SRCH) => ReadError::Gone { path },
        Some(Errno::NOENT) if is_process_path(kpath) => ReadError::Gone { path },
        Some(Errno::NOENT) | Some(Errno::NOTDIR) => ReadError::NotReported { path, field: None },
        Some(Errno::ACCESS) | Some(Errno::PERM) => ReadError::PermissionDenied { path },
        _ => match err.kind() {
            io::ErrorKind::NotFound if is_process_path(kpath) => ReadError::Gone { path },
            io::ErrorKind::NotFound => ReadError::NotReported { path, field: None },
            io::ErrorKind::PermissionDenied => ReadError::PermissionDenied { path },
            _ => ReadError::Io { path, message: err.to_string() },
        },
    }
}

/// Keeps a copy of every file read through a [`KernelRoot`], keyed by kernel
/// path. Used by `memscope capture`.
#[derive(Debug, Default)]
pub struct Recorder {
    files: Mutex<BTreeMap<String, Vec<u8>>>,
    dirs: Mutex<BTreeMap<String, Vec<String>>>,
    links: Mutex<BTreeMap<String, String>>,
    denied: Mutex<std::collections::BTreeSet<String>>,
}

impl Recorder {
    /// Files read so far: kernel path → content.
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        self.files.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Directories listed so far: kernel path → entry names.
    pub fn dirs(&self) -> BTreeMap<String, Vec<String>> {
        self.dirs.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// Symbolic links read so far: kernel path → target.
    pub fn links(&self) -> BTreeMap<String, String> {
        self.links.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Paths that could not be read for lack of permission.
    pub fn denied(&self) -> Vec<String> {
        self.denied.lock().map(|d| d.iter().cloned().collect()).unwrap_or_default()
    }

    fn keep_denied(&self, kpath: &str) {
        if let Ok(mut d) = self.denied.lock() {
            d.insert(kpath.to_string());
        }
    }

    fn keep(&self, kpath: &str, data: &[u8]) {
        if let Ok(mut files) = self.files.lock() {
            files.insert(kpath.to_string(), data.to_vec());
        }
    }

    fn keep_link(&self, kpath: &str, target: &str) {
        if let Ok(mut links) = self.links.lock() {
            links.insert(kpath.to_string(), target.to_string());
        }
    }

    fn keep_dir(&self, kpath: &str, names: &[String]) {
        if let Ok(mut dirs) = self.dirs.lock() {
            dirs.insert(kpath.to_string(), names.to_vec());
        }
    }
}

/// The root that kernel paths are resolved against.
///
/// ```no_run
/// use memscope_kernel::KernelRoot;
/// let live = KernelRoot::live();
/// let meminfo = live.read_text("/proc/meminfo").unwrap();
/// # let _ = meminfo;
/// ```
#[derive(Debug, Clone)]
pub struct KernelRoot {
    root: PathBuf,
    live: bool,
    manifest: BTreeMap<String, String>,
    unreadable: Arc<std::collections::BTreeSet<String>>,
    recorder: Option<Arc<Recorder>>,
}

/// Name of the file, at the top of a captured tree, that describes it
/// (`key: value` lines: kernel, page_size, captured_at, how it was made).
pub const MANIFEST: &str = "MANIFEST";

/// Name of the file, at the top of a captured tree, listing the kernel paths
/// that were unreadable for lack of permission when it was captured (one per
/// line), so that the tree reads as the live system did.
pub const UNREADABLE: &str = "UNREADABLE";

impl KernelRoot {
    /// The running system (`/`).
    pub fn live() -> KernelRoot {
        KernelRoot {
            root: PathBuf::from("/"),
            live: true,
            manifest: BTreeMap::new(),
            unreadable: Arc::default(),
            recorder: None,
        }
    }

    /// A captured tree: kernel paths resolve under `dir` (`/proc/meminfo` →
    /// `dir/proc/meminfo`). Its `MANIFEST`, if any, is read for facts that
    /// are not files of the kernel (the page size).
    pub fn at(dir: impl Into<PathBuf>) -> KernelRoot {
        let root: PathBuf = dir.into();
        let manifest = std::fs::read_to_string(root.join(MANIFEST))
            .map(|text| parse_manifest(&text))
            .unwrap_or_default();
        let unreadable = std::fs::read_to_string(root.join(UNREADABLE))
            .map(|t| t.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        KernelRoot { root, live: false, manifest, unreadable: Arc::new(unreadable), recorder: None }
    }

    /// `--root DIR` if given, else the live system. `--root /` is live too.
    pub fn from_option(dir: Option<&Path>) -> KernelRoot {
        match dir {
            Some(d) if d != Path::new("/") => KernelRoot::at(d),
            _ => KernelRoot::live(),
        }
    }

    /// A copy of this root that records every file it reads.
    pub fn recording(&self) -> (KernelRoot, Arc<Recorder>) {
        let recorder = Arc::new(Recorder::default());
        let mut root = self.clone();
        root.recorder = Some(recorder.clone());
        (root, recorder)
    }

    /// True when reading the running system rather than a captured tree.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// The directory kernel paths are resolved against.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// The manifest of a captured tree (empty when live or absent).
    pub fn manifest(&self) -> &BTreeMap<String, String> {
        &self.manifest
    }

    /// The base page size in bytes: the running kernel's, or the captured
    /// tree's `page_size` from its MANIFEST. `None` for a tree without one.
    pub fn page_size(&self) -> Option<u64> {
        if self.live {
            Some(rustix::param::page_size() as u64)
        } else {
            self.manifest.get("page_size").and_then(|v| v.trim().parse().ok())
        }
    }

    /// Where a kernel path lives on this machine's file system.
    pub fn resolve(&self, kpath: &str) -> PathBuf {
        self.root.join(kpath.trim_start_matches('/'))
    }

    /// Read a whole file. An empty read from a process directory that has
    /// vanished is [`ReadError::Gone`]; an empty read from a live process
    /// (a kernel thread's `smaps_rollup`) is an empty, valid content.
    pub fn read(&self, kpath: &str) -> Result<Vec<u8>, ReadError> {
        let mut file = self.open_file(kpath)?;
        // /proc and sysfs files report size 0, so read to EOF in a loop
        // rather than with `read_to_end`, which would first ask for the size
        // (statx + lseek: two wasted system calls per file, measurable over
        // thousands of process files). A short read is not EOF (seq_file hands
        // out one buffer per read); only a zero-length read is.
        let mut data = vec![0u8; 8192];
        let mut len = 0;
        loop {
            if len == data.len() {
                data.resize(len * 2, 0);
            }
            match file.read(&mut data[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(classify(&e, kpath)),
            }
        }
        data.truncate(len);
        if data.is_empty() && is_process_path(kpath) && self.live {
            let pid_dir = kpath.split('/').take(3).collect::<Vec<_>>().join("/");
            if !self.resolve(&pid_dir).exists() {
                return Err(ReadError::Gone { path: kpath.to_string() });
            }
        }
        if let Some(rec) = &self.recorder {
            rec.keep(kpath, &data);
        }
        Ok(data)
    }

    /// Keep `data` as the content of `kpath` in the recorder, if any (for
    /// sources that are not plain files, such as the kernel log).
    /// What this root recorded so far for `kpath` (a capture), if anything.
    pub(crate) fn recorded(&self, kpath: &str) -> Option<Vec<u8>> {
        self.recorder.as_ref()?.files.lock().ok()?.get(kpath).cloned()
    }

    pub(crate) fn record(&self, kpath: &str, data: &[u8]) {
        if let Some(rec) = &self.recorder {
            rec.keep(kpath, data);
        }
    }

    fn open_file(&self, kpath: &str) -> Result<File, ReadError> {
        if self.unreadable.contains(kpath) {
            return Err(ReadError::PermissionDenied { path: kpath.to_string() });
        }
        File::open(self.resolve(kpath)).map_err(|e| {
            let err = classify(&e, kpath);
            if let (Some(rec), ReadError::PermissionDenied { .. }) = (&self.recorder, &err) {
                rec.keep_denied(kpath);
            }
            err
        })
    }

    /// Read a whole file as text; bytes that are not UTF-8 (file names,
    /// command names) are replaced, never a failure.
    pub fn read_text(&self, kpath: &str) -> Result<String, ReadError> {
        let data = self.read(kpath)?;
        Ok(match String::from_utf8(data) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Read a file and parse it, attaching the path to a parse error.
    pub fn read_parsed<T>(
        &self,
        kpath: &str,
        parse: impl FnOnce(&str) -> Result<T, ParseError>,
    ) -> Result<T, ReadError> {
        let text = self.read_text(kpath)?;
        parse(&text).map_err(|e| ReadError::from_parse(kpath, e))
    }

    /// Read a file holding one unsigned number (sysfs style).
    pub fn read_u64(&self, kpath: &str) -> Result<u64, ReadError> {
        self.read_parsed(kpath, crate::parse::single_u64)
    }

    /// Names in a directory, sorted. Entries that vanish while listing are
    /// simply not there.
    pub fn list_dir(&self, kpath: &str) -> Result<Vec<String>, ReadError> {
        if self.unreadable.contains(kpath) {
            return Err(ReadError::PermissionDenied { path: kpath.to_string() });
        }
        let rd = std::fs::read_dir(self.resolve(kpath)).map_err(|e| classify(&e, kpath))?;
        let mut names: Vec<String> =
            rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        if let Some(rec) = &self.recorder {
            rec.keep_dir(kpath, &names);
        }
        Ok(names)
    }

    /// How many entries a directory has (`.` and `..` not counted), without
    /// allocating their names: one `getdents64` per 8 KiB of entries. A
    /// recording root lists the names instead, so that a capture keeps them.
    pub fn count_dir(&self, kpath: &str) -> Result<u64, ReadError> {
        use rustix::fs::{Mode, OFlags, RawDir, open};
        if self.recorder.is_some() {
            return self.list_dir(kpath).map(|n| n.len() as u64);
        }
        if self.unreadable.contains(kpath) {
            return Err(ReadError::PermissionDenied { path: kpath.to_string() });
        }
        let fd =
            open(self.resolve(kpath), OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| classify(&e.into(), kpath))?;
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
        let mut dir = RawDir::new(fd, &mut buf);
        let mut n = 0u64;
        while let Some(entry) = dir.next() {
            let entry = entry.map_err(|e| classify(&e.into(), kpath))?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The process ids in `/proc`, ascending.
    pub fn pids(&self) -> Result<Vec<u32>, ReadError> {
        let rd = std::fs::read_dir(self.resolve("/proc")).map_err(|e| classify(&e, "/proc"))?;
        let mut pids: Vec<u32> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
            .collect();
        pids.sort_unstable();
        if let Some(rec) = &self.recorder {
            rec.keep_dir("/proc", &pids.iter().map(|p| p.to_string()).collect::<Vec<_>>());
        }
        Ok(pids)
    }

    /// The target of a symbolic link (`/proc/PID/fd/N`, `/proc/PID/exe`).
    /// Returned as bytes made text lossily: link targets are not always UTF-8.
    pub fn read_link(&self, kpath: &str) -> Result<String, ReadError> {
        let target = std::fs::read_link(self.resolve(kpath)).map_err(|e| classify(&e, kpath))?;
        let target = target.to_string_lossy().into_owned();
        if let Some(rec) = &self.recorder {
            rec.keep_link(kpath, &target);
        }
        Ok(target)
    }

    /// Does this kernel path exist?
    pub fn exists(&self, kpath: &str) -> bool {
        self.resolve(kpath).exists()
    }

    /// Is this kernel path a directory (a cgroup, a `/proc/PID`)?
    pub fn is_dir(&self, kpath: &str) -> bool {
        self.resolve(kpath).is_dir()
    }

    /// Write `data` to a kernel file in one `write(2)`, as cgroupfs and
    /// sysctl files expect (the kernel parses each write as a whole). Errors
    /// are classified like reads: `ENOENT` on a cgroup file is
    /// [`ReadError::NotReported`] (the cgroup or the controller is not
    /// there), `EACCES` is [`ReadError::PermissionDenied`], and what the
    /// kernel rejects (`EINVAL`, `EBUSY`, `ENOSPC`, …) is [`ReadError::Io`]
    /// with the system's message.
    pub fn write(&self, kpath: &str, data: &[u8]) -> Result<(), ReadError> {
        use std::io::Write;
        let mut file = self.open_write(kpath)?;
        match file.write(data) {
            Ok(n) if n == data.len() => Ok(()),
            Ok(n) => Err(ReadError::Io {
                path: kpath.to_string(),
                message: format!("short write: {n} of {} bytes", data.len()),
            }),
            Err(e) => Err(classify(&e, kpath)),
        }
    }

    /// Open an existing kernel file for writing (never created; truncated,
    /// as a shell's `>` does, which kernel files ignore),
    /// for callers that must write later from a context where opening is
    /// not allowed (a child between `fork` and `exec` joining a cgroup).
    pub fn open_write(&self, kpath: &str) -> Result<File, ReadError> {
        File::options().write(true).truncate(true).open(self.resolve(kpath)).map_err(|e| classify(&e, kpath))
    }

    /// Create a directory (a cgroup, in cgroupfs). `Ok(false)` when it
    /// existed already.
    pub fn create_dir(&self, kpath: &str) -> Result<bool, ReadError> {
        match std::fs::create_dir(self.resolve(kpath)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(classify(&e, kpath)),
        }
    }

    /// Remove an empty directory (a cgroup without tasks or children, in
    /// cgroupfs; its control files go with it). A cgroup that still has
    /// tasks or children gives `EBUSY`: [`ReadError::Io`].
    pub fn remove_dir(&self, kpath: &str) -> Result<(), ReadError> {
        std::fs::remove_dir(self.resolve(kpath)).map_err(|e| classify(&e, kpath))
    }

    /// The inode number of a kernel path (a cgroup directory's inode is
    /// what `/proc/kpagecgroup` reports for the pages charged to it).
    pub fn inode(&self, kpath: &str) -> Result<u64, ReadError> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(self.resolve(kpath)).map(|m| m.ino()).map_err(|e| classify(&e, kpath))
    }

    /// Open a file for positioned reads (`kpageflags`, `pagemap`): see
    /// [`KernelFile::read_at`].
    pub fn open(&self, kpath: &str) -> Result<KernelFile, ReadError> {
        let file = self.open_file(kpath)?;
        Ok(KernelFile { file, kpath: kpath.to_string() })
    }
}

/// An open kernel file for positioned reads of fixed-size records.
#[derive(Debug)]
pub struct KernelFile {
    file: File,
    kpath: String,
}

impl KernelFile {
    /// Kernel path of this file.
    pub fn path(&self) -> &str {
        &self.kpath
    }

    /// Fill as much of `buf` as the file gives from `offset`, looping over
    /// short reads, and return the number of bytes read, rounded down to a
    /// whole number of `record` bytes (a record is never split). Fewer bytes
    /// than asked means the file ended there.
    pub fn read_at(&self, buf: &mut [u8], offset: u64, record: usize) -> Result<usize, ReadError> {
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if done > 0 {
                        break;
                    }
                    return Err(classify(&e, &self.kpath));
                }
            }
        }
        let record = record.max(1);
        Ok(done - done % record)
    }

    /// The underlying file, for callers that need its descriptor.
    pub fn file(&self) -> &File {
        &self.file
    }
}

/// `key: value` lines of a MANIFEST.
pub fn parse_manifest(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty() && !k.starts_with('#'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_paths() {
        assert!(is_process_path("/proc/1/stat"));
        assert!(is_process_path("/proc/4242/task/4243/stat"));
        assert!(!is_process_path("/proc/meminfo"));
        assert!(!is_process_path("/proc/self/stat"));
        assert!(!is_process_path("/proc/12"));
        assert!(!is_process_path("/sys/devices/system/node/node0/meminfo"));
    }

    #[test]
    fn enoent_is_gone_only_for_processes() {
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(classify(&e, "/proc/77/status").kind(), "gone");
        assert_eq!(classify(&e, "/proc/pressure/memory").kind(), "not_reported");
        let e = io::Error::from_raw_os_error(3);
        assert_eq!(classify(&e, "/proc/77/smaps_rollup").kind(), "gone");
        let e = io::Error::from_raw_os_error(13);
        assert_eq!(classify(&e, "/proc/slabinfo").kind(), "permission_denied");
        let e = io::Error::from_raw_os_error(5);
        assert_eq!(classify(&e, "/proc/kpageflags").kind(), "io");
    }

    #[test]
    fn writes_and_directories_resolve_under_the_root() {
        let dir = std::env::temp_dir().join(format!("memscope-root-write-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sys/fs/cgroup")).unwrap();
        let root = KernelRoot::at(&dir);
        assert_eq!(root.create_dir("/sys/fs/cgroup/a"), Ok(true));
        assert_eq!(root.create_dir("/sys/fs/cgroup/a"), Ok(false));
        assert!(root.is_dir("/sys/fs/cgroup/a"));
        std::fs::write(dir.join("sys/fs/cgroup/a/memory.max"), "max\n").unwrap();
        root.write("/sys/fs/cgroup/a/memory.max", b"1048576").unwrap();
        assert_eq!(root.read_text("/sys/fs/cgroup/a/memory.max").unwrap(), "1048576");
        // A control file that is not there: the controller is not enabled.
        assert_eq!(root.write("/sys/fs/cgroup/a/pids.max", b"5").unwrap_err().kind(), "not_reported");
        assert_eq!(root.remove_dir("/sys/fs/cgroup/a").unwrap_err().kind(), "io");
        std::fs::remove_file(dir.join("sys/fs/cgroup/a/memory.max")).unwrap();
        root.remove_dir("/sys/fs/cgroup/a").unwrap();
        assert!(!root.is_dir("/sys/fs/cgroup/a"));
        assert_eq!(root.remove_dir("/sys/fs/cgroup/a").unwrap_err().kind(), "not_reported");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn captured_tree_resolves_under_its_dir() {
        let dir = std::env::temp_dir().join(format!("memscope-root-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc/9")).unwrap();
        std::fs::write(dir.join("proc/meminfo"), "MemTotal: 1 kB\n").unwrap();
        std::fs::write(dir.join(MANIFEST), "page_size: 16384\nkernel: 6.1\n").unwrap();
        let root = KernelRoot::at(&dir);
        assert!(!root.is_live());
        assert_eq!(root.page_size(), Some(16384));
        assert_eq!(root.read_text("/proc/meminfo").unwrap(), "MemTotal: 1 kB\n");
        assert_eq!(root.read("/proc/vmstat").unwrap_err().kind(), "not_reported");
        assert_eq!(root.read("/proc/9/status").unwrap_err().kind(), "gone");
        assert_eq!(root.pids().unwrap(), vec![9]);
        assert_eq!(root.count_dir("/proc").unwrap(), 2);
        assert_eq!(root.count_dir("/proc/9").unwrap(), 0);
        assert_eq!(root.count_dir("/proc/9/fd").unwrap_err().kind(), "gone");
        let (rec_root, rec) = root.recording();
        rec_root.read("/proc/meminfo").unwrap();
        assert_eq!(rec.files().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
