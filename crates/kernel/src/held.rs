//! [`HeldFiles`]: process files kept open between the passes of a repeated
//! collection (`record`, `serve`, `top`), read again from offset 0.
//!
//! A pass over every process reads its `stat` and `status` again and again;
//! opening them by path each time walks `/proc/PID/…` (the pid's dentry,
//! its revalidation, the permission check) and closes them again: measured
//! with 320 processes, about a third of the CPU of a pass that carries
//! every rollup. A file held open is read again with `pread` at offset 0,
//! which restarts the kernel's seq_file (fs/seq_file.c `seq_read_iter`
//! resets its records at position 0).
//!
//! A file held open belongs to the process it was opened for (its `struct
//! pid`), never to a later process given the same pid: once that process
//! has exited and been reaped the read fails with `ESRCH`
//! (fs/proc/base.c `proc_single_show`), the file is closed and the path is
//! opened again, which reaches the new process or fails as a read by path
//! does.

use std::collections::HashMap;
use std::fs::File;
use std::sync::{Arc, Mutex};

use crate::parse::pid::status::{Status, StatusKeys};
use crate::root::{KernelRoot, ReadError, read_cap, read_capped_at};

/// Files kept open, per pid and file name; at most half of the soft limit
/// of open descriptors (`RLIMIT_NOFILE`), the rest read by path as before.
#[derive(Debug)]
pub struct HeldFiles {
    files: Mutex<Held>,
    max: usize,
}

/// Pid → its files held open, and how many files that is.
#[derive(Debug, Default)]
struct Held {
    by_pid: HashMap<u32, Vec<(&'static str, File)>>,
    count: usize,
    /// Pid → its `status` as last read and parsed (with the text fields
    /// kept): a file that reads the same is not parsed again.
    status: HashMap<u32, LastStatus>,
}

/// A `status` file's bytes, the text fields kept, and what they parsed to.
#[derive(Debug)]
struct LastStatus {
    bytes: Vec<u8>,
    keys: StatusKeys,
    parsed: Arc<Status>,
}

impl LastStatus {
    fn is(&self, bytes: &[u8], keys: StatusKeys) -> bool {
        self.bytes == bytes && self.keys == keys
    }
}

impl Held {
    fn get(&self, pid: u32, name: &str) -> Option<&File> {
        self.by_pid.get(&pid)?.iter().find(|(n, _)| *n == name).map(|(_, f)| f)
    }

    /// Keep `file` as `pid`'s `name` while fewer than `max` files are held.
    fn keep(&mut self, pid: u32, name: &'static str, file: File, max: usize) {
        if self.count < max && self.get(pid, name).is_none() {
            self.by_pid.entry(pid).or_default().push((name, file));
            self.count += 1;
        }
    }

    /// Close every file of `pid`.
    fn close(&mut self, pid: u32) {
        if let Some(files) = self.by_pid.remove(&pid) {
            self.count -= files.len();
        }
        self.status.remove(&pid);
    }
}

impl Default for HeldFiles {
    fn default() -> HeldFiles {
        HeldFiles::new()
    }
}

impl HeldFiles {
    /// Room for half of this process's soft limit of open descriptors.
    pub fn new() -> HeldFiles {
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current.unwrap_or(1 << 16);
        HeldFiles::with_room(usize::try_from(soft / 2).unwrap_or(usize::MAX).min(1 << 16))
    }

    /// Room for `max` files.
    pub fn with_room(max: usize) -> HeldFiles {
        HeldFiles { files: Mutex::new(Held::default()), max }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many files are held.
    pub fn len(&self) -> usize {
        self.lock().count
    }

    /// True when no file is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Close the files of every pid for which `keep` is false.
    pub fn retain(&self, mut keep: impl FnMut(u32) -> bool) {
        let mut held = self.lock();
        held.by_pid.retain(|pid, _| keep(*pid));
        held.count = held.by_pid.values().map(Vec::len).sum();
        let Held { by_pid, status, .. } = &mut *held;
        status.retain(|pid, _| by_pid.contains_key(pid));
    }
}

impl KernelRoot {
    /// `/proc/PID/NAME` through `held`: read from the file held open for
    /// it, else opened by path and kept while there is room. A root that is
    /// not live, or that records its reads for a capture, reads by path.
    pub(crate) fn read_pid_file_held(
        &self,
        pid: u32,
        name: &'static str,
        held: &HeldFiles,
    ) -> Result<Vec<u8>, ReadError> {
        let kpath = format!("/proc/{pid}/{name}");
        if !self.is_live() || self.is_recording() {
            return self.read(&kpath);
        }
        let cap = read_cap(&kpath);
        {
            let mut files = held.lock();
            if let Some(file) = files.get(pid, name) {
                match read_capped_at(file, &kpath, cap) {
                    Ok(data) if !data.is_empty() => return Ok(data),
                    // Exited (ESRCH), or anything else: every file of the
                    // process is closed, and the path decides.
                    _ => files.close(pid),
                }
            }
        }
        let file = self.open_file(&kpath)?;
        let data = read_capped_at(&file, &kpath, cap)?;
        if data.is_empty() {
            // What a read by path makes of an empty read (an exiting process).
            return self.read(&kpath);
        }
        held.lock().keep(pid, name, file, held.max);
        Ok(data)
    }

    /// `/proc/PID/status` through `held` ([`KernelRoot::read_pid_file_held`]),
    /// parsed with [`Status::parse_keeping`]; when it reads exactly as the
    /// last time (a process that did not run or change: most of them
    /// between two passes), the last parse is shared instead of made again.
    pub(crate) fn pid_status_through(
        &self,
        pid: u32,
        keys: StatusKeys,
        held: &HeldFiles,
    ) -> Result<Arc<Status>, ReadError> {
        let bytes = self.read_pid_file_held(pid, "status", held)?;
        let files = held.lock();
        if let Some(last) = files.status.get(&pid)
            && last.is(&bytes, keys)
        {
            return Ok(last.parsed.clone());
        }
        // Kept only for a process whose files are held (room is bounded).
        let keep = files.by_pid.contains_key(&pid);
        drop(files);
        let parsed = Arc::new(Status::parse_keeping(&String::from_utf8_lossy(&bytes), keys));
        if keep {
            let mut files = held.lock();
            if files.by_pid.contains_key(&pid) {
                files.status.insert(pid, LastStatus { bytes, keys, parsed: parsed.clone() });
            }
        }
        Ok(parsed)
    }

    /// The size `fstat` gives of `/proc/PID/NAME`, a directory held open
    /// (`O_PATH`, which needs no read permission): `None` when it cannot be
    /// told that way (a root that is not live or records, a failure, a size
    /// of 0), for the caller to ask by path.
    pub(crate) fn pid_dir_size_held(&self, pid: u32, name: &'static str, held: &HeldFiles) -> Option<u64> {
        use rustix::fs::{Mode, OFlags, fstat, open};
        if !self.is_live() || self.is_recording() {
            return None;
        }
        {
            let mut files = held.lock();
            if let Some(dir) = files.get(pid, name) {
                return match fstat(dir) {
                    Ok(st) => u64::try_from(st.st_size).ok().filter(|s| *s > 0),
                    // Exited (ENOENT once reaped): the path decides.
                    Err(_) => {
                        files.close(pid);
                        None
                    }
                };
            }
        }
        let kpath = format!("/proc/{pid}/{name}");
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = File::from(open(self.resolve(&kpath), flags, Mode::empty()).ok()?);
        let size = u64::try_from(fstat(&dir).ok()?.st_size).ok();
        held.lock().keep(pid, name, dir, held.max);
        size.filter(|s| *s > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child asleep in `sleep` (exec'd and settled), killed and reaped
    /// when dropped, a failed test too.
    struct Sleeper(std::process::Child);

    impl Sleeper {
        fn start() -> Sleeper {
            let c = std::process::Command::new("sleep")
                .arg("60")
                .stdin(std::process::Stdio::null())
                .spawn()
                .expect("sleep runs");
            let s = Sleeper(c);
            let stat = format!("/proc/{}/stat", s.pid());
            for _ in 0..500 {
                if std::fs::read_to_string(&stat).is_ok_and(|t| t.contains("(sleep) S")) {
                    return s;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            panic!("sleep did not fall asleep");
        }

        fn pid(&self) -> u32 {
            self.0.id()
        }

        /// Kill and reap it.
        fn end(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    impl Drop for Sleeper {
        fn drop(&mut self) {
            self.end();
        }
    }

    #[test]
    fn a_held_file_reads_the_same_as_a_path_and_is_closed_once_its_process_has_gone() {
        let root = KernelRoot::live();
        let held = HeldFiles::with_room(8);
        let mut c = Sleeper::start();
        let pid = c.pid();
        let by_path = root.read(&format!("/proc/{pid}/status")).unwrap();
        let first = root.read_pid_file_held(pid, "status", &held).unwrap();
        assert_eq!(held.len(), 1);
        let again = root.read_pid_file_held(pid, "status", &held).unwrap();
        assert_eq!(held.len(), 1, "read again through the same file");
        // A sleeping process's status does not change between these reads
        // (its context switches stand still while it sleeps).
        assert_eq!(first, by_path);
        assert_eq!(again, by_path);
        c.end();
        let gone = root.read_pid_file_held(pid, "status", &held);
        assert!(matches!(gone, Err(ReadError::Gone { .. })), "{gone:?}");
        assert!(held.is_empty(), "the file of the reaped process is closed");
    }

    #[test]
    fn past_its_room_a_read_goes_by_path_and_retain_closes_the_files_of_other_pids() {
        let root = KernelRoot::live();
        let held = HeldFiles::with_room(2);
        let me = std::process::id();
        let c = Sleeper::start();
        for name in ["stat", "status"] {
            root.read_pid_file_held(me, name, &held).unwrap();
        }
        let theirs = root.read_pid_file_held(c.pid(), "stat", &held).unwrap();
        assert!(String::from_utf8(theirs).unwrap().starts_with(&format!("{} (sleep)", c.pid())));
        assert_eq!(held.len(), 2, "no room for a third");
        held.retain(|pid| pid != me);
        assert!(held.is_empty());
    }

    #[test]
    fn a_held_fd_directory_counts_the_descriptors_as_its_path_does_until_the_process_exits() {
        let root = KernelRoot::live();
        let held = HeldFiles::with_room(8);
        let mut c = Sleeper::start();
        let pid = c.pid();
        let by_path = root.pid_fd_count(pid).unwrap();
        assert!(by_path >= 3, "{by_path}");
        // Before Linux 6.2 the directory's size is 0: then never from it.
        let sized = std::fs::metadata(format!("/proc/{pid}/fd")).unwrap().len() > 0;
        if !sized {
            assert_eq!(root.pid_dir_size_held(pid, "fd", &held), None);
            assert_eq!(root.pid_fd_count_held(pid, Some(&held)), Ok(by_path));
            return;
        }
        assert_eq!(root.pid_dir_size_held(pid, "fd", &held), Some(by_path));
        assert_eq!(held.len(), 1);
        assert_eq!(root.pid_dir_size_held(pid, "fd", &held), Some(by_path), "through the held directory");
        assert_eq!(root.pid_fd_count_held(pid, Some(&held)), Ok(by_path));
        c.end();
        assert_eq!(root.pid_dir_size_held(pid, "fd", &held), None);
        assert!(held.is_empty());
        assert!(matches!(root.pid_fd_count_held(pid, Some(&held)), Err(ReadError::Gone { .. })));
    }

    #[test]
    fn a_status_that_reads_the_same_shares_its_last_parse() {
        let root = KernelRoot::live();
        let held = HeldFiles::with_room(8);
        let mut c = Sleeper::start();
        let pid = c.pid();
        let keys = StatusKeys { text: Some(&["Name", "Uid"]), kb: None };
        let first = root.pid_status_through(pid, keys, &held).unwrap();
        let by_path = root.pid_status_keeping(pid, keys).unwrap();
        assert_eq!(*first, by_path);
        assert_eq!(first.text.keys().collect::<Vec<_>>(), ["Name", "Uid"]);
        let again = root.pid_status_through(pid, keys, &held).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "the same bytes: the same parse");
        // Other fields asked for: parsed again, with them.
        let all = root.pid_status_through(pid, StatusKeys::ALL, &held).unwrap();
        assert!(!Arc::ptr_eq(&first, &all));
        assert!(all.text.contains_key("Cpus_allowed_list"));
        assert_eq!(held.files.lock().unwrap().status.len(), 1);
        c.end();
        assert!(matches!(root.pid_status_through(pid, StatusKeys::ALL, &held), Err(ReadError::Gone { .. })));
        assert!(held.files.lock().unwrap().status.is_empty(), "forgotten with its files");
    }

    #[test]
    fn a_captured_tree_is_read_by_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/7")).unwrap();
        std::fs::write(dir.path().join("proc/7/stat"), "7 (x) S 1").unwrap();
        let root = KernelRoot::at(dir.path());
        let held = HeldFiles::with_room(8);
        assert_eq!(root.read_pid_file_held(7, "stat", &held).unwrap(), b"7 (x) S 1");
        assert!(held.is_empty());
    }
}
