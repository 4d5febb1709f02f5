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
