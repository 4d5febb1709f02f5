//! Helpers for memscope's live tests: known-answer workloads in child
//! processes, and a lock that serializes tests measuring system-wide deltas.
//!
//! ```text
//!  test ──spawn──▶ memscope-workload <mode> …   (own process group)
//!       ◀─"ready <pid> <pid>…"──                 holds its memory until
//!  Workload (drop) ──SIGKILL to the group──▶     stdin closes or killed
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;

/// A running workload. Dropping it kills the workload and every process it
/// forked (they share a process group), even when the test fails.
pub struct Workload {
    child: Child,
    _stdin: Option<ChildStdin>,
    /// The pids the workload reported: its own first, then its children.
    pub pids: Vec<u32>,
    /// Anything else the workload printed on its ready line.
    pub info: Vec<String>,
}

impl Workload {
    /// Start `memscope-workload` with `args` and wait for its `ready` line.
    pub fn spawn(args: &[&str]) -> Workload {
        let mut cmd = Command::new(workload_path());
        cmd.args(args);
        Workload::spawn_command(cmd)
    }

    /// Start a command that ends up running `memscope-workload` (through
    /// `setpriv`, or a shell that first joins a cgroup and then execs it)
    /// and wait for its `ready` line.
    pub fn spawn_command(mut cmd: Command) -> Workload {
        let args: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        cmd.process_group(0);
        // Exit when our end of its stdin closes, even if this process dies
        // without dropping the Workload.
        cmd.env("MEMSCOPE_WORKLOAD_EXIT_ON_EOF", "1");
        let mut child = cmd.spawn().expect("start memscope-workload");
        let stdout = child.stdout.take().expect("workload stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read workload ready line");
        let mut words = line.split_whitespace();
        if words.next() != Some("ready") {
            let _ = child.kill();
            panic!("workload {args:?} did not get ready: {line:?}");
        }
        let mut pids = Vec::new();
        let mut info = Vec::new();
        for w in words {
            match w.parse() {
                Ok(p) if info.is_empty() => pids.push(p),
                _ => info.push(w.to_string()),
            }
        }
        let stdin = child.stdin.take();
        Workload { child, _stdin: stdin, pids, info }
    }

    /// The workload's own pid.
    pub fn pid(&self) -> u32 {
        self.pids[0]
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: kill(2) on our own child's process group.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// Where `memscope-workload` is: next to the test executable's directory
/// (`target/<profile>/`), (re)built on first use in each test process.
pub fn workload_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().expect("current exe");
        // target/<profile>/deps/test-binary → target/<profile>/memscope-workload
        let profile_dir = exe.parent().and_then(|d| d.parent()).expect("target dir").to_path_buf();
        let path = profile_dir.join("memscope-workload");
        // Built once per test process, not only when missing: `cargo test`
        // does not rebuild another package's binary, and one left from an
        // older checkout runs old modes. Up to date, this takes a moment.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", "memscope-testkit", "--bin", "memscope-workload"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        if let Some(target) = profile_dir.parent() {
            cmd.env("CARGO_TARGET_DIR", target);
        }
        let built = cmd.status().is_ok_and(|s| s.success());
        assert!(built || path.exists(), "building memscope-workload failed");
        path
    })
    .clone()
}

/// A lock held by tests that measure system-wide figures (unaccounted, free,
/// file-nr) so that they do not disturb each other, across test binaries
/// and test runners (an `flock` on a file in the temp directory).
pub struct SystemLock {
    _file: File,
}

/// Take the system-wide test lock (blocks until it is free).
pub fn system_lock() -> SystemLock {
    lock_file("memscope-live-tests.lock")
}

/// Take the lock of tests that create memscope cgroups (`memscope run`), so
/// that one test's check that no memscope cgroup is left behind is not
/// disturbed by another test's run (blocks until it is free).
pub fn cgroup_lock() -> SystemLock {
    lock_file("memscope-cgroup-tests.lock")
}

fn lock_file(name: &str) -> SystemLock {
    let path = std::env::temp_dir().join(name);
    let file = File::options().create(true).truncate(false).write(true).open(&path).expect("open lock file");
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).expect("flock");
    SystemLock { _file: file }
}

/// Kill every process left in the cgroup directory `dir` (its
/// `cgroup.procs`) until none is, then remove the directory; each step
/// gives up after 3 s. For tests' cleanup, on every path.
pub fn remove_cgroup(dir: &std::path::Path) {
    for _ in 0..300 {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        if procs.trim().is_empty() {
            break;
        }
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            // SAFETY: kill(2) on a process in a cgroup the test created.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for _ in 0..300 {
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A command that runs `program` as the unprivileged user `nobody` (uid and
/// gid 65534, no supplementary groups, no inheritable capabilities) through
/// util-linux's `setpriv`, with colour off: how the tests check what a normal
/// user sees. Needs root to switch users.
pub fn as_nobody(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--"])
        .arg(program)
        .env("NO_COLOR", "1");
    cmd
}

/// The fixture trees process scans are compared on: kernel threads, a
/// kernel without smaps_rollup, files a non-root capture lacks, processes
/// that exited during the capture, a command name holding `)`.
pub const SCAN_TREES: [&str; 7] = [
    "live-6.18-firecracker-2cpu",
    "guest-6.1-v2-numa-2node",
    "rhel7-3.10-no-rollup-v1",
    "ubuntu-3.2-tarball-nonroot",
    "centos9-5.14-v2-nonroot",
    "process-gone-mid-scan",
    "stat-comm-with-paren",
];

/// The repository's fixture tree `tests/fixtures/NAME` (captured and
/// hand-made kernel trees for `--root`).
pub fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name)
}

/// True when running as root (the live tests need it for the full picture).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Bytes in a MiB.
pub const MIB: u64 = 1 << 20;

/// A C workload of the user-space tracer's tests (`c/utrace-workload.c`,
/// built by build.rs): waits for [`UtraceWorkload::start`], allocates from
/// a known function, says `done`, and holds what it kept until killed.
/// Dropping it kills it.
pub struct UtraceWorkload {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<std::process::ChildStdout>,
}

/// The source of the user-space tracer's workloads, for known file:line
/// answers.
pub const UTRACE_WORKLOAD_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/c/utrace-workload.c");

/// The line of `marker` (a comment) in the workload's source.
pub fn utrace_source_line(marker: &str) -> u32 {
    let src = std::fs::read_to_string(UTRACE_WORKLOAD_SOURCE).expect("workload source");
    src.lines().position(|l| l.contains(marker)).expect("marker in the workload source") as u32 + 1
}

impl UtraceWorkload {
    /// Start the workload in `mode` for `count` objects, built with frame
    /// pointers and debuginfo or without either, and wait until it is
    /// ready (its libraries loaded, its stdio set up).
    pub fn spawn(frame_pointers: bool, mode: &str, count: u64) -> UtraceWorkload {
        let exe = if frame_pointers { env!("MEMSCOPE_UTRACE_FP") } else { env!("MEMSCOPE_UTRACE_NOFP") };
        let mut cmd = Command::new(exe);
        cmd.args([mode, &count.to_string()]).stdin(Stdio::piped()).stdout(Stdio::piped());
        cmd.process_group(0);
        let mut child = cmd.spawn().expect("start utrace-workload");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("workload stdout"));
        let mut w = UtraceWorkload { child, stdin, stdout };
        w.expect_line("ready");
        w
    }

    fn expect_line(&mut self, want: &str) {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read workload line");
        assert_eq!(line.trim(), want, "utrace-workload said {line:?}");
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Begin allocating.
    pub fn start(&mut self) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("workload stdin");
        stdin.write_all(b"\n").and_then(|_| stdin.flush()).expect("start the workload");
    }

    /// Wait until it has made all its allocations.
    pub fn wait_done(&mut self) {
        self.expect_line("done");
    }

    /// Kill it now and reap it.
    pub fn kill(&mut self) {
        // SAFETY: kill(2) on our own child's process group.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

impl Drop for UtraceWorkload {
    fn drop(&mut self) {
        self.kill();
    }
}
