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
    /// A tree's page size derived from its counters, once (see
    /// [`KernelRoot::page_size`]).
    derived_page_size: Arc<std::sync::OnceLock<Option<u64>>>,
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
            derived_page_size: Arc::default(),
            recorder: None,
        }
    }

    /// A captured tree: kernel paths resolve under `dir` (`/proc/meminfo` →
    /// `dir/proc/meminfo`). Its `MANIFEST`, if any, is read for facts that
    /// are not files of the kernel (the page size).
    pub fn at(dir: impl Into<PathBuf>) -> KernelRoot {
        let root: PathBuf = dir.into();
        // The tree's own files are read like its kernel files: regular files
        // only, bounded, so a MANIFEST that is a FIFO or `/dev/zero` cannot
        // hang or exhaust memory.
        let own = |name: &str| {
            read_captured(&root.join(name), name, TREE_FILE_CAP)
                .map(|d| String::from_utf8_lossy(&d).into_owned())
        };
        let manifest = own(MANIFEST).map(|text| parse_manifest(&text)).unwrap_or_default();
        let unreadable = own(UNREADABLE)
            .map(|t| t.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        KernelRoot {
            root,
            live: false,
            manifest,
            unreadable: Arc::new(unreadable),
            derived_page_size: Arc::default(),
            recorder: None,
        }
    }

    /// Whether `dir` can be read as a captured tree: a directory holding a
    /// MANIFEST, or a proc/, sys/ or dev/ directory (a tarball of /proc, a
    /// sosreport). The error says what is wrong, for the user.
    pub fn check_tree(dir: &Path) -> Result<(), String> {
        match std::fs::metadata(dir) {
            Err(e) => return Err(e.to_string()),
            Ok(m) if !m.is_dir() => return Err("not a directory".into()),
            Ok(_) => {}
        }
        let holds = |name: &str| std::fs::symlink_metadata(dir.join(name)).is_ok();
        if ["MANIFEST", "proc", "sys", "dev"].iter().any(|n| holds(n)) {
            Ok(())
        } else {
            Err("not a captured tree (no MANIFEST, proc/, sys/ or dev/ in it)".into())
        }
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
            match self.manifest_page_size() {
                Ok(Some(p)) => Some(p),
                // Trees made by other tools (sosreport, a tarball of /proc)
                // record none: derive it from the counters.
                Ok(None) => *self.derived_page_size.get_or_init(|| self.page_size_from_counters()),
                Err(_) => None,
            }
        }
    }

    /// The MANIFEST's `page_size`, checked: `Ok(None)` when absent, `Err`
    /// with a note naming the field when it is not a page size any kernel
    /// uses (a power of two from 4 KiB to 1 GiB).
    pub fn manifest_page_size(&self) -> Result<Option<u64>, String> {
        let Some(v) = self.manifest.get("page_size") else { return Ok(None) };
        match v.trim().parse::<u64>() {
            Ok(p) if is_valid_page_size(p) => Ok(Some(p)),
            _ => Err(format!(
                "MANIFEST page_size `{}` is invalid (not a power of two from 4 KiB to 1 GiB)",
                v.chars().take(40).collect::<String>()
            )),
        }
    }

    /// Where a kernel path lives on this machine's file system. Private to
    /// this crate: code outside it names kernel paths and asks a
    /// `KernelRoot` method to read, write or open them (the one-reader rule).
    pub(crate) fn resolve(&self, kpath: &str) -> PathBuf {
        self.root.join(kpath.trim_start_matches('/'))
    }

    /// Read a whole file. An empty read from a process directory that has
    /// vanished is [`ReadError::Gone`]; an empty read from a live process
    /// (a kernel thread's `smaps_rollup`) is an empty, valid content.
    ///
    /// Every read is capped at a size that fits the file ([`read_cap`]): a
    /// larger file is [`ReadError::Io`] ("larger than N: not a kernel
    /// file?"). In a captured tree only regular files are read: a FIFO, a
    /// device, a directory or a symbolic link in place of a file is refused
    /// without reading it.
    pub fn read(&self, kpath: &str) -> Result<Vec<u8>, ReadError> {
        let data = self.read_unrecorded(kpath)?;
        if let Some(rec) = &self.recorder {
            rec.keep(kpath, &data);
        }
        Ok(data)
    }

    /// Read a file that holds more than memscope may keep (a container
    /// runtime's configuration, with the container's environment): as
    /// [`KernelRoot::read_text`], but a recording root keeps only what
    /// `scrub` makes of the text (nothing when it returns `None`), never
    /// the file itself.
    pub fn read_text_scrubbed(
        &self,
        kpath: &str,
        scrub: impl FnOnce(&str) -> Option<String>,
    ) -> Result<String, ReadError> {
        let data = self.read_unrecorded(kpath)?;
        let text = match String::from_utf8(data) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        if let Some(rec) = &self.recorder
            && let Some(kept) = scrub(&text)
        {
            rec.keep(kpath, kept.as_bytes());
        }
        Ok(text)
    }

    /// [`KernelRoot::read`] without keeping the content in the recorder.
    fn read_unrecorded(&self, kpath: &str) -> Result<Vec<u8>, ReadError> {
        let cap = read_cap(kpath);
        let data = if self.live {
            let mut file = self.open_file(kpath)?;
            read_capped_with(kpath, cap, one_record(kpath), |buf, _| file.read(buf))?
        } else {
            if let Some(e) = self.listed_unreadable(kpath) {
                return Err(e);
            }
            read_captured(&self.resolve(kpath), kpath, cap)?
        };
        if data.is_empty() && is_process_path(kpath) && self.live {
            let pid_dir = kpath.split('/').take(3).collect::<Vec<_>>().join("/");
            if !self.resolve(&pid_dir).exists() {
                return Err(ReadError::Gone { path: kpath.to_string() });
            }
        }
        Ok(data)
    }

    /// Keep `data` as the content of `kpath` in the recorder, if any (for
    /// sources that are not plain files, such as the kernel log).
    /// What this root recorded so far for `kpath` (a capture), if anything.
    pub(crate) fn recorded(&self, kpath: &str) -> Option<Vec<u8>> {
        self.recorder.as_ref()?.files.lock().ok()?.get(kpath).cloned()
    }

    /// True when reads are kept for a capture ([`Recorder`]).
    pub(crate) fn is_recording(&self) -> bool {
        self.recorder.is_some()
    }

    pub(crate) fn record(&self, kpath: &str, data: &[u8]) {
        if let Some(rec) = &self.recorder {
            rec.keep(kpath, data);
        }
    }

    /// Permission denied when a captured tree's UNREADABLE lists `kpath`,
    /// kept as denied by the recorder (if any), so that a tree captured from
    /// a tree still says why the file is missing.
    fn listed_unreadable(&self, kpath: &str) -> Option<ReadError> {
        if !self.unreadable.contains(kpath) {
            return None;
        }
        if let Some(rec) = &self.recorder {
            rec.keep_denied(kpath);
        }
        Some(ReadError::PermissionDenied { path: kpath.to_string() })
    }

    pub(crate) fn open_file(&self, kpath: &str) -> Result<File, ReadError> {
        if let Some(e) = self.listed_unreadable(kpath) {
            return Err(e);
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
        Ok(text_of(self.read(kpath)?))
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
        if let Some(e) = self.listed_unreadable(kpath) {
            return Err(e);
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

    /// The names of a directory's subdirectories, sorted: told by the type
    /// the directory listing gives (`d_type`), without a `stat` of each
    /// entry, where it can (a walk of every cgroup at every pass of a
    /// recording); a link, or an entry of unknown type, is asked by path. A
    /// recording root lists every name, as [`KernelRoot::list_dir`] does.
    pub fn list_subdirs(&self, kpath: &str) -> Result<Vec<String>, ReadError> {
        if self.recorder.is_some() {
            let names = self.list_dir(kpath)?;
            return Ok(names.into_iter().filter(|n| self.is_dir(&format!("{kpath}/{n}"))).collect());
        }
        if let Some(e) = self.listed_unreadable(kpath) {
            return Err(e);
        }
        let rd = std::fs::read_dir(self.resolve(kpath)).map_err(|e| classify(&e, kpath))?;
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| match e.file_type() {
                Ok(t) if t.is_dir() => true,
                Ok(t) if !t.is_symlink() => false,
                _ => e.path().is_dir(),
            })
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
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
        if let Some(e) = self.listed_unreadable(kpath) {
            return Err(e);
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

    /// Where a kernel path lives, for messages: the path itself on a live
    /// system, the file in the tree otherwise.
    pub fn display_path(&self, kpath: &str) -> String {
        if self.live { kpath.to_string() } else { self.resolve(kpath).display().to_string() }
    }

    /// May this process write to a kernel path (`access(2)` with `W_OK`:
    /// the real uid's permission, as a shell's `test -w`)? Create a cgroup
    /// in a directory only where this is true.
    pub fn is_writable(&self, kpath: &str) -> bool {
        rustix::fs::access(self.resolve(kpath).as_path(), rustix::fs::Access::WRITE_OK).is_ok()
    }

    /// Is `file` (opened earlier from `kpath`) still the file at `kpath`:
    /// same device and inode? A cgroup directory removed and made again
    /// between an open and a lock is another directory.
    pub fn is_same_file(&self, kpath: &str, file: &File) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(self.resolve(kpath))) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        }
    }

    /// Open a device for reading and writing, write `data` to it in one
    /// `write(2)`, and keep it open: for requests that last as long as the
    /// file descriptor, such as a CPU latency QoS limit written to
    /// `/dev/cpu_dma_latency` (kernel/power/qos.c removes the request when
    /// the file is closed). Errors are the system's, unclassified: the
    /// caller reports them as they are.
    pub fn hold_device(&self, kpath: &str, data: &[u8]) -> io::Result<DeviceHold> {
        use std::io::Write;
        let mut file = File::options().read(true).write(true).open(self.resolve(kpath))?;
        file.write_all(data)?;
        Ok(DeviceHold { _file: file })
    }

    /// Mount a pseudo file system of type `fstype` (`tracefs`) on the
    /// directory `kpath`, with `nosuid,nodev,noexec`. Errors are the
    /// system's (`EPERM` without CAP_SYS_ADMIN, `ENODEV` when the kernel
    /// lacks the file system).
    pub fn mount_pseudo_fs(&self, fstype: &str, kpath: &str) -> io::Result<()> {
        use rustix::mount::{MountFlags, mount};
        let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
        mount(fstype, self.resolve(kpath).as_path(), fstype, flags, None::<&std::ffi::CStr>)
            .map_err(io::Error::from)
    }

    /// Unmount the file system mounted on `kpath`. When a file in it is
    /// still open (`EBUSY`), it is detached instead: the kernel frees it
    /// when the last file is closed (umount(2), `MNT_DETACH`).
    pub fn unmount(&self, kpath: &str) -> io::Result<()> {
        use rustix::mount::{UnmountFlags, unmount};
        let target = self.resolve(kpath);
        match unmount(target.as_path(), UnmountFlags::empty()) {
            Err(rustix::io::Errno::BUSY) => {
                unmount(target.as_path(), UnmountFlags::DETACH).map_err(io::Error::from)
            }
            r => r.map_err(io::Error::from),
        }
    }

    /// Does process `pid` exist: running on a live system, held by a
    /// captured tree? With [`classify`], the one place that decides that a
    /// process is gone.
    pub fn has_process(&self, pid: u32) -> bool {
        self.is_dir(&crate::paths::pid_dir(pid))
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
        let file = if self.live {
            self.open_file(kpath)?
        } else {
            if let Some(e) = self.listed_unreadable(kpath) {
                return Err(e);
            }
            // Read by offset, never whole: only the kind of file is checked.
            open_captured(&self.resolve(kpath), kpath)?.0
        };
        Ok(KernelFile { file, kpath: kpath.to_string() })
    }
}

/// A device kept open by [`KernelRoot::hold_device`]; closing it (drop)
/// ends the request written to it.
#[derive(Debug)]
pub struct DeviceHold {
    _file: File,
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

/// Is `p` a base page size a Linux kernel can have: a power of two from
/// 4 KiB (x86, arm64 4K) to 1 GiB (beyond any base page; the largest in use
/// are 64 KiB on arm64 and ppc64 and 256 KiB on hexagon)?
pub fn is_valid_page_size(p: u64) -> bool {
    p.is_power_of_two() && (4096..=1 << 30).contains(&p)
}

/// Cap on the captured tree's own files (MANIFEST, UNREADABLE).
const TREE_FILE_CAP: u64 = 16 << 20;

/// The largest content [`KernelRoot::read`] accepts from a kernel path.
///
/// Live /proc and sysfs files report size 0, so the cap is the only bound on
/// what a read may allocate; each one is far above what real machines give,
/// and far below what would hurt:
/// - meminfo (system and per node): ~1.5 KiB on 6.x, 256 KiB;
/// - a process's `maps`/`numa_maps`: one line per mapping, at most
///   `vm.max_map_count` mappings (65530 by default, 262144 where databases
///   raise it) of usually < 200 bytes (a path is at most 4 KiB): 256 MiB;
///   `smaps` has ~25 lines per mapping (≈1.2 KiB): 1 GiB;
/// - `cmdline`/`environ`: bounded by the argument space (a quarter of the
///   stack limit, 6 MiB with the usual 8 MiB stack, more when unlimited):
///   64 MiB; `mountinfo`: one line per mount, a few MiB on container hosts:
///   64 MiB; `fdinfo` lists every inotify watch: 64 MiB; other process files
///   (stat, status, smaps_rollup, limits, cgroup…) are a few KiB: 4 MiB;
/// - `vmallocinfo`: one ~100-byte line per area, and every thread's stack is
///   an area with VMAP_STACK: 1M threads ≈ 100 MiB, so 256 MiB;
///   `zoneinfo`/`pagetypeinfo`/`interrupts` grow with CPUs × zones or IRQs
///   (≈5 MiB at 1024 CPUs): 64 MiB; `slabinfo` and `allocinfo`: 64 MiB;
///   `kallsyms` (~15 MiB with modules): 256 MiB; the kernel log (at most
///   32 MiB with CONFIG_LOG_BUF_SHIFT=25, more with log_buf_len=): 256 MiB;
/// - `/proc/net/*` socket tables: ~150 bytes per socket, a million sockets on
///   a busy proxy: 1 GiB (`sockstat` is a few lines: 256 KiB);
/// - cgroupfs files (`cgroup.procs` lists up to pid_max = 4M pids): 64 MiB;
///   other sysfs attributes are at most one page: 1 MiB;
/// - container runtimes' files: a container's `config.json` or
///   `config.v2.json`: 4 MiB; containers/storage's `containers.json`: 64 MiB;
/// - anything else: 16 MiB.
///
/// `kpageflags`, `kpagecount`, `kpagecgroup` and `pagemap` are read by
/// offset ([`KernelRoot::open`]), never whole.
pub fn read_cap(kpath: &str) -> u64 {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    let name = kpath.rsplit('/').next().unwrap_or(kpath);
    if is_process_path(kpath) {
        return match name {
            "smaps" => 1024 * MIB,
            "maps" | "numa_maps" => 256 * MIB,
            "cmdline" | "environ" | "mountinfo" | "mounts" => 64 * MIB,
            _ if kpath.contains("/fdinfo/") => 64 * MIB,
            _ if kpath.contains("/net/") => 1024 * MIB,
            _ => 4 * MIB,
        };
    }
    match kpath {
        "/proc/meminfo" => 256 * KIB,
        "/proc/vmallocinfo" | "/proc/kallsyms" | "/dev/kmsg" => 256 * MIB,
        "/proc/zoneinfo"
        | "/proc/pagetypeinfo"
        | "/proc/interrupts"
        | "/proc/slabinfo"
        | "/proc/allocinfo"
        | "/proc/self/mountinfo"
        | "/etc/passwd" => 64 * MIB,
        "/proc/net/sockstat" | "/proc/net/sockstat6" => 256 * KIB,
        // Container runtimes' files: a container's configuration is a few
        // KiB (most of it the environment and mounts); containers/storage's
        // list has one ~1 KiB entry per container.
        _ if kpath.ends_with("/containers.json") => 64 * MIB,
        _ if kpath.ends_with("/config.v2.json") || kpath.ends_with("/config.json") => 4 * MIB,
        _ if kpath.starts_with("/proc/net/") => 1024 * MIB,
        _ if kpath.starts_with("/sys/devices/system/node/") && name == "meminfo" => 256 * KIB,
        _ if kpath.starts_with("/sys/fs/cgroup") => 64 * MIB,
        _ if kpath.starts_with("/sys/") => MIB,
        _ => 16 * MIB,
    }
}

/// "1 MiB", "256 KiB": a cap for an error message.
fn cap_text(cap: u64) -> String {
    if cap >= 1 << 20 && cap.is_multiple_of(1 << 20) {
        format!("{} MiB", cap >> 20)
    } else if cap >= 1 << 10 && cap.is_multiple_of(1 << 10) {
        format!("{} KiB", cap >> 10)
    } else {
        format!("{cap} bytes")
    }
}

fn too_large(kpath: &str, cap: u64) -> ReadError {
    ReadError::Io {
        path: kpath.to_string(),
        message: format!("larger than {}: not a kernel file?", cap_text(cap)),
    }
}

/// Bytes read from a kernel file as text: bytes that are not UTF-8 (file
/// names, command names) are replaced.
pub(crate) fn text_of(data: Vec<u8>) -> String {
    match String::from_utf8(data) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// True for the files the kernel prints as one `seq_file` record
/// (fs/seq_file.c `single_open`: the `/proc/PID` files of fs/proc/base.c's
/// `ONE()` entries, `smaps_rollup`'s `single_open_size`, `meminfo`'s
/// `proc_create_single`). `seq_read_iter` grows its buffer until the
/// record fits and copies all of it that the reader asked room for, so a
/// read shorter than asked for holds the rest of the file: the read that
/// would return 0 need not be made (one system call of three per file). A
/// file of several records is not such: `seq_read_iter` stops filling a
/// read at the record that overflows its buffer, and a short read may have
/// more after it.
pub(crate) fn one_record(kpath: &str) -> bool {
    if kpath == "/proc/meminfo" {
        return true;
    }
    is_process_path(kpath)
        && matches!(
            kpath.rsplit('/').next(),
            Some("stat" | "status" | "statm" | "smaps_rollup" | "cgroup" | "limits" | "io")
        )
        // `/proc/PID/task/TID/…` and `/proc/PID/net/…` are other files.
        && kpath.matches('/').count() == 3
}

/// Read to EOF, at most `cap` bytes. /proc and sysfs files report size 0, so
/// read in a loop rather than with `read_to_end`, which would first ask for
/// the size (statx + lseek: two wasted system calls per file, measurable over
/// thousands of process files). A short read is not EOF (seq_file hands out
/// one buffer per read); only a zero-length read is.
///
/// Most kernel files are a few KiB: they are read into a buffer kept per
/// thread (not zeroed and freed again for each of thousands of process
/// files) and copied out at their size; a file that outgrows the buffer
/// continues in a buffer of its own.
fn read_capped(file: &mut File, kpath: &str, cap: u64) -> Result<Vec<u8>, ReadError> {
    read_capped_with(kpath, cap, false, |buf, _| file.read(buf))
}

/// [`read_capped`] from offset 0 by positional reads (`pread`), whatever
/// the file's position: a file held open reads again from its start
/// ([`crate::HeldFiles`]; a seq_file restarts its records at offset 0). A
/// file of one record ([`one_record`]) ends at a short read.
pub(crate) fn read_capped_at(file: &File, kpath: &str, cap: u64) -> Result<Vec<u8>, ReadError> {
    read_capped_with(kpath, cap, one_record(kpath), |buf, offset| file.read_at(buf, offset))
}

/// [`read_capped`] with `read(buf, offset)`, `offset` the bytes read so far;
/// `short_ends`: a read shorter than asked for ends the file
/// ([`one_record`]).
fn read_capped_with(
    kpath: &str,
    cap: u64,
    short_ends: bool,
    mut read: impl FnMut(&mut [u8], u64) -> io::Result<usize>,
) -> Result<Vec<u8>, ReadError> {
    const KEPT: usize = 16 << 10;
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    // The whole file when it fits (true), or its first KEPT bytes.
    let first = BUF.with(|b| -> Result<Option<(Vec<u8>, bool)>, ReadError> {
        let Ok(mut buf) = b.try_borrow_mut() else { return Ok(None) };
        buf.resize(KEPT, 0);
        let mut len = 0;
        while len < KEPT {
            match read(&mut buf[len..], len as u64) {
                Ok(0) => return Ok(Some((buf[..len].to_vec(), true))),
                Ok(n) if short_ends && len + n < KEPT => return Ok(Some((buf[..len + n].to_vec(), true))),
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(classify(&e, kpath)),
            }
        }
        Ok(Some((buf[..len].to_vec(), false)))
    })?;
    let (mut data, mut len) = match first {
        Some((d, true)) if d.len() as u64 > cap => return Err(too_large(kpath, cap)),
        Some((d, true)) => return Ok(d),
        // Full: go on in a buffer of its own, from what was read.
        Some((d, false)) => {
            let len = d.len();
            (d, len)
        }
        None => (Vec::new(), 0),
    };
    if data.len() < 8192 {
        data.resize(8192, 0);
    }
    loop {
        if len == data.len() {
            if len as u64 > cap {
                return Err(too_large(kpath, cap));
            }
            data.resize(len * 2, 0);
        }
        match read(&mut data[len..], len as u64) {
            Ok(0) => break,
            Ok(n) if short_ends && len + n < data.len() => {
                len += n;
                break;
            }
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(classify(&e, kpath)),
        }
    }
    if len as u64 > cap {
        return Err(too_large(kpath, cap));
    }
    data.truncate(len);
    Ok(data)
}

/// Open a file of a captured tree: without following a symbolic link in its
/// last component (links the tree holds, such as `/proc/PID/fd/N`, are read
/// with [`KernelRoot::read_link`]; links among the directories above still
/// resolve), without blocking on a FIFO, and only if it is a regular file.
/// Returns the file and its size.
fn open_captured(path: &Path, kpath: &str) -> Result<(File, u64), ReadError> {
    use rustix::fs::{FileType, Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(|e| match e {
        rustix::io::Errno::LOOP => ReadError::Io {
            path: kpath.to_string(),
            message:
                "a symbolic link (or a loop of them) in the captured tree, not a file: not a kernel file?"
                    .to_string(),
        },
        e => classify(&e.into(), kpath),
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| classify(&e.into(), kpath))?;
    let kind = match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => None,
        FileType::Directory => Some("a directory"),
        FileType::Fifo => Some("a FIFO"),
        FileType::CharacterDevice => Some("a character device"),
        FileType::BlockDevice => Some("a block device"),
        FileType::Socket => Some("a socket"),
        _ => Some("not a regular file"),
    };
    if let Some(kind) = kind {
        return Err(ReadError::Io {
            path: kpath.to_string(),
            message: format!("{kind} in the captured tree, not a file: not a kernel file?"),
        });
    }
    Ok((File::from(fd), st.st_size.max(0) as u64))
}

/// Read a file of a captured tree: a regular file ([`open_captured`]) no
/// larger than `cap`, refused by its size before any byte is read.
fn read_captured(path: &Path, kpath: &str, cap: u64) -> Result<Vec<u8>, ReadError> {
    let (mut file, size) = open_captured(path, kpath)?;
    if size > cap {
        return Err(too_large(kpath, cap));
    }
    read_capped(&mut file, kpath, cap)
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
    fn list_subdirs_gives_the_directories_list_dir_and_is_dir_give() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("t");
        std::fs::create_dir_all(top.join("b/inner")).unwrap();
        std::fs::create_dir_all(top.join("a")).unwrap();
        std::fs::write(top.join("file"), "x").unwrap();
        std::os::unix::fs::symlink("a", top.join("link-to-dir")).unwrap();
        std::os::unix::fs::symlink("file", top.join("link-to-file")).unwrap();
        std::os::unix::fs::symlink("nowhere", top.join("dangling")).unwrap();
        let root = KernelRoot::at(dir.path());
        assert_eq!(root.list_subdirs("/t").unwrap(), ["a", "b", "link-to-dir"]);
        assert!(matches!(root.list_subdirs("/none"), Err(ReadError::NotReported { .. })));
        // The live cgroup hierarchies, as the walk used to tell them.
        let live = KernelRoot::live();
        for kpath in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/memory"] {
            let Ok(names) = live.list_dir(kpath) else { continue };
            let old: Vec<String> =
                names.into_iter().filter(|n| live.is_dir(&format!("{kpath}/{n}"))).collect();
            assert_eq!(live.list_subdirs(kpath).unwrap(), old, "{kpath}");
        }
    }

    #[test]
    fn read_capped_reads_small_boundary_and_large_files_whole_and_refuses_past_the_cap() {
        let dir = std::env::temp_dir().join(format!("memscope-read-capped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for len in [0usize, 1, 4095, 16 << 10, (16 << 10) + 1, 40_000, 300_000] {
            let want: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let path = dir.join(format!("f{len}"));
            std::fs::write(&path, &want).unwrap();
            let mut f = File::open(&path).unwrap();
            assert_eq!(read_capped(&mut f, "f", 1 << 20).unwrap(), want, "{len} bytes");
            // Twice on the same thread: the kept buffer holds nothing over.
            let mut f = File::open(&path).unwrap();
            assert_eq!(read_capped(&mut f, "f", 1 << 20).unwrap().len(), len);
            let mut f = File::open(&path).unwrap();
            let capped = read_capped(&mut f, "f", 1000);
            assert_eq!(capped.is_ok(), len <= 1000, "{len} bytes against a cap of 1000");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn one_record_files_end_at_a_short_read_and_others_read_on_to_zero() {
        for (kpath, want) in [
            ("/proc/12/stat", true),
            ("/proc/12/status", true),
            ("/proc/12/smaps_rollup", true),
            ("/proc/12/cgroup", true),
            ("/proc/meminfo", true),
            ("/proc/12/cmdline", false),
            ("/proc/12/maps", false),
            ("/proc/12/task/13/stat", false),
            ("/proc/12/net/stat", false),
            ("/proc/slabinfo", false),
            ("/proc/stat", false),
        ] {
            assert_eq!(one_record(kpath), want, "{kpath}");
        }
        // A reader handing out 10 bytes at a time, as `seq_read_iter` does
        // with a file of several records that overflow its buffer.
        let text: Vec<u8> = (0..35u8).collect();
        let chunks = |short_ends: bool| {
            let mut reads = 0;
            let got = read_capped_with("f", 1 << 20, short_ends, |buf, offset| {
                reads += 1;
                let rest = &text[offset as usize..];
                let n = rest.len().min(10).min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                Ok(n)
            })
            .unwrap();
            (got, reads)
        };
        assert_eq!(chunks(false), (text.clone(), 5));
        // Taken for one record, the first short read ends it.
        assert_eq!(chunks(true).0, &text[..10]);
        // The running system's one-record files read whole in one read each:
        // as std reads them, fields that move aside.
        let live = KernelRoot::live();
        let pid = std::process::id();
        for name in ["status", "smaps_rollup", "cgroup", "limits"] {
            let kpath = format!("/proc/{pid}/{name}");
            let want = std::fs::read_to_string(&kpath).unwrap();
            let got = live.read_text(&kpath).unwrap();
            assert_eq!(got.lines().count(), want.lines().count(), "{kpath}");
            assert_eq!(
                got.lines().map(|l| l.split(':').next()).collect::<Vec<_>>(),
                want.lines().map(|l| l.split(':').next()).collect::<Vec<_>>(),
                "{kpath}"
            );
        }
        let mut file = File::open(format!("/proc/{pid}/status")).unwrap();
        let mut reads = 0;
        read_capped_with("status", 1 << 20, true, |buf, _| {
            reads += 1;
            file.read(buf)
        })
        .unwrap();
        assert_eq!(reads, 1);
    }

    /// A tree without a MANIFEST page size (sosreport, a tarball of /proc):
    /// MemTotal ÷ the zones' managed pages gives it.
    #[test]
    fn page_size_of_a_tree_without_one_comes_from_its_counters() {
        let base = std::env::temp_dir().join(format!("memscope-root-counters-{}", std::process::id()));
        let mut n = 0;
        let mut tree = |mem_total_kb: u64, managed: &[u64]| {
            n += 1;
            let dir = base.join(n.to_string());
            std::fs::create_dir_all(dir.join("proc")).unwrap();
            std::fs::write(dir.join("proc/meminfo"), format!("MemTotal: {mem_total_kb} kB\nMemFree: 1 kB\n"))
                .unwrap();
            let zones: String = managed
                .iter()
                .enumerate()
                .map(|(i, m)| format!("Node 0, zone Zone{i}\n  pages free     1\n        managed  {m}\n"))
                .collect();
            std::fs::write(dir.join("proc/zoneinfo"), zones).unwrap();
            KernelRoot::at(&dir).page_size()
        };
        // 4 KiB pages: 3,840 + 483,000 managed pages are 1,947,360 kB.
        assert_eq!(tree(1_947_360, &[3840, 483_000]), Some(4096));
        // 64 KiB pages (arm64, ppc64le): 65,000 pages are 4,160,000 kB.
        assert_eq!(tree(4_160_000, &[65_000]), Some(65536));
        // A ratio that is no page size, or no managed pages (before 3.8).
        assert_eq!(tree(1_000_000, &[3_000]), None);
        assert_eq!(tree(1_000_000, &[]), None);
        let _ = std::fs::remove_dir_all(&base);
    }

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

    fn scratch(case: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("memscope-root-{case}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        dir
    }

    fn mkfifo(path: &Path) {
        rustix::fs::mknodat(rustix::fs::CWD, path, rustix::fs::FileType::Fifo, 0o600.into(), 0).unwrap();
    }

    #[test]
    fn dev_zero_linked_as_meminfo_is_refused_not_read_forever() {
        let dir = scratch("zero");
        std::os::unix::fs::symlink("/dev/zero", dir.join("proc/meminfo")).unwrap();
        let err = KernelRoot::at(&dir).read("/proc/meminfo").unwrap_err();
        assert_eq!(err.kind(), "io");
        assert!(
            err.to_string().contains("/proc/meminfo") && err.to_string().contains("not a kernel file?"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fifo_as_meminfo_is_refused_without_blocking() {
        let dir = scratch("fifo");
        mkfifo(&dir.join("proc/meminfo"));
        mkfifo(&dir.join(MANIFEST));
        mkfifo(&dir.join(UNREADABLE));
        let root = KernelRoot::at(&dir);
        assert!(root.manifest().is_empty());
        let err = root.read("/proc/meminfo").unwrap_err();
        assert!(err.to_string().contains("a FIFO in the captured tree"), "{err}");
        assert!(root.open("/proc/meminfo").unwrap_err().to_string().contains("a FIFO"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sparse_gibibyte_meminfo_is_refused_by_its_size() {
        let dir = scratch("sparse");
        let f = File::create(dir.join("proc/meminfo")).unwrap();
        f.set_len(1 << 30).unwrap();
        let err = KernelRoot::at(&dir).read("/proc/meminfo").unwrap_err();
        assert_eq!(err.to_string(), "/proc/meminfo: larger than 256 KiB: not a kernel file?");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn directory_and_link_loop_in_place_of_a_file_are_refused() {
        let dir = scratch("kinds");
        std::fs::create_dir(dir.join("proc/meminfo")).unwrap();
        std::os::unix::fs::symlink("vmstat", dir.join("proc/vmstat")).unwrap();
        let root = KernelRoot::at(&dir);
        assert!(root.read("/proc/meminfo").unwrap_err().to_string().contains("a directory"));
        assert!(root.read("/proc/vmstat").unwrap_err().to_string().contains("symbolic link"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn links_held_by_the_tree_still_resolve_as_directories_and_links() {
        let dir = scratch("links");
        std::fs::create_dir_all(dir.join("sys/kernel/slab/:A-0000192")).unwrap();
        std::fs::write(dir.join("sys/kernel/slab/:A-0000192/reclaim_account"), "1\n").unwrap();
        std::os::unix::fs::symlink(":A-0000192", dir.join("sys/kernel/slab/dentry")).unwrap();
        std::fs::create_dir_all(dir.join("proc/7/fd")).unwrap();
        std::os::unix::fs::symlink("/dev/null", dir.join("proc/7/fd/0")).unwrap();
        let root = KernelRoot::at(&dir);
        assert_eq!(root.read_u64("/sys/kernel/slab/dentry/reclaim_account"), Ok(1));
        assert_eq!(root.read_link("/sys/kernel/slab/dentry").unwrap(), ":A-0000192");
        assert_eq!(root.read_link("/proc/7/fd/0").unwrap(), "/dev/null");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn live_reads_stop_at_the_cap() {
        // A live path has no fstat: the cap is what stops an endless file.
        let err = KernelRoot::live().read("/dev/zero").unwrap_err();
        assert_eq!(err.to_string(), "/dev/zero: larger than 16 MiB: not a kernel file?");
        assert!(KernelRoot::live().read("/proc/meminfo").unwrap().starts_with(b"MemTotal:"));
    }

    #[test]
    fn caps_fit_each_kind_of_file() {
        assert_eq!(read_cap("/proc/meminfo"), 256 << 10);
        assert_eq!(read_cap("/sys/devices/system/node/node0/meminfo"), 256 << 10);
        assert_eq!(read_cap("/proc/4242/status"), 4 << 20);
        assert_eq!(read_cap("/proc/4242/smaps"), 1 << 30);
        assert_eq!(read_cap("/proc/4242/fdinfo/3"), 64 << 20);
        assert_eq!(read_cap("/proc/vmallocinfo"), 256 << 20);
        assert_eq!(read_cap("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"), 1 << 20);
        assert!(read_cap("/proc/slabinfo") > read_cap("/proc/meminfo"));
    }

    #[test]
    fn page_sizes_from_a_manifest_are_checked() {
        for (v, ok) in [("4096", Ok(Some(4096))), ("65536", Ok(Some(65536)))] {
            let dir = scratch("pagesize");
            std::fs::write(dir.join(MANIFEST), format!("page_size: {v}\n")).unwrap();
            assert_eq!(KernelRoot::at(&dir).manifest_page_size(), ok);
        }
        for v in ["0", "4095", "6144", "2048", "18446744073709551615", "2147483648", "-4096", "x"] {
            let dir = scratch("pagesize");
            std::fs::write(dir.join(MANIFEST), format!("page_size: {v}\n")).unwrap();
            let root = KernelRoot::at(&dir);
            assert!(root.manifest_page_size().unwrap_err().contains("page_size"), "{v}");
            assert_eq!(root.page_size(), None, "{v}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
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
