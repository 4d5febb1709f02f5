//! `memscope top` driven like a person would: the real binary on a
//! pseudo-terminal, keys typed into it, the screen read back through a
//! terminal emulator (vt100) — start, sort (by memory and by descriptors),
//! filter, the cgroups and fds tabs, help, quit — and the replay of a
//! recording (`--db`), stepped back and forth.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROWS: u16 = 40;
const COLS: u16 = 140;

/// A program on a pseudo-terminal, its screen kept by a vt100 emulator.
struct Pty {
    child: Child,
    master: File,
    screen: Arc<Mutex<vt100::Parser>>,
}

impl Pty {
    fn spawn(cmd: &mut Command) -> Pty {
        use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
        let master: OwnedFd = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave = File::options().read(true).write(true).open(name.to_str().unwrap()).unwrap();
        rustix::termios::tcsetwinsize(
            &slave,
            rustix::termios::Winsize { ws_row: ROWS, ws_col: COLS, ws_xpixel: 0, ws_ypixel: 0 },
        )
        .unwrap();
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .env("TERM", "xterm-256color");
        // SAFETY: only async-signal-safe system calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                rustix::process::setsid()?;
                rustix::process::ioctl_tiocsctty(std::io::stdin().as_fd())?;
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start memscope top");
        let master = File::from(master);
        let screen = Arc::new(Mutex::new(vt100::Parser::new(ROWS, COLS, 0)));
        let mut reader = master.try_clone().unwrap();
        let s = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            // EIO once the child has exited and the slave is closed.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock().unwrap().process(&buf[..n]);
            }
        });
        Pty { child, master, screen }
    }

    fn text(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Wait until the screen satisfies `ok` (generous: the machine may be busy).
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let t = self.text();
            if ok(&t) {
                return t;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; screen:\n{t}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn keys(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
        self.master.flush().unwrap();
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "memscope top did not exit; screen:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Rows of the process table on screen, below its header.
fn table_rows(screen: &str) -> Vec<String> {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(h) = lines.iter().position(|l| l.contains("COMMAND")) else { return Vec::new() };
    lines[h + 1..]
        .iter()
        .filter(|l| !l.trim().is_empty() && !l.contains(" quit "))
        .map(|l| l.to_string())
        .collect()
}

#[test]
fn top_starts_sorts_filters_and_quits_on_a_terminal() {
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/live-6.18-firecracker-2cpu");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_memscope"));
    cmd.args(["--root", tree.to_str().unwrap(), "top", "--interval", "300ms"]);
    let mut t = Pty::spawn(&mut cmd);

    // Start: the header, the ledger legend and the process table sorted by PSS.
    let s = t.wait_for("the first frame", |s| s.contains("PSS▼") && s.contains("unaccounted"));
    assert!(s.contains("memscope top · kernel 6.18.44-fc-v669"), "{s}");
    assert!(t.screen.lock().unwrap().screen().alternate_screen(), "runs on the alternate screen");
    let all = table_rows(&s).len();
    assert!(all >= 3, "{s}");

    // Sort by RSS.
    t.keys(b"r");
    let s = t.wait_for("RSS sort", |s| s.contains("RSS▼"));
    assert!(!s.contains("PSS▼"));

    // Filter: only bash processes remain.
    t.keys(b"/bash");
    t.wait_for("the filter prompt", |s| s.contains("filter:  bash"));
    t.keys(b"\r");
    let s = t.wait_for("filtered rows", |s| {
        let rows = table_rows(s);
        !rows.is_empty() && rows.len() < all && rows.iter().all(|r| r.contains("bash"))
    });
    assert!(s.contains("processes matching \"bash\" (Esc clears)"), "{s}");

    // Help, then any key closes it.
    t.keys(b"h");
    t.wait_for("help", |s| s.contains("memscope top: help"));
    t.keys(b"x");
    t.wait_for("help closed", |s| !s.contains("memscope top: help"));

    // Sort by descriptors, then the cgroups and fds tabs: this capture holds
    // neither fd directories nor cgroup files, and the tabs say so.
    t.keys(b"f");
    t.wait_for("the fds sort", |s| s.contains("FDS/LIMIT▼"));
    t.keys(b"5");
    let s = t.wait_for("the cgroups tab", |s| s.contains("cgroups unavailable:"));
    assert!(s.contains("/proc/self/mountinfo"), "{s}");
    t.keys(b"6");
    let s = t.wait_for("the fds tab", |s| s.contains("open files, system (ENFILE): unavailable"));
    assert!(s.contains("/proc/sys/fs/file-nr"), "{s}");

    // Quit: exit 0, terminal given back (main screen).
    t.keys(b"q");
    let status = t.wait_exit();
    assert!(status.success(), "{status:?}");
    // Let the reader thread take the last bytes.
    std::thread::sleep(Duration::from_millis(200));
    assert!(!t.screen.lock().unwrap().screen().alternate_screen(), "the alternate screen was left");
}

#[test]
fn top_sorts_by_descriptors_and_shows_the_cgroups_and_fds_tabs_on_a_terminal() {
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/top-fds-cgroups");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_memscope"));
    cmd.args(["--root", tree.to_str().unwrap(), "top", "--interval", "300ms"]);
    let mut t = Pty::spawn(&mut cmd);
    t.wait_for("the first frame", |s| s.contains("PSS▼") && s.contains("FDS/LIMIT"));

    // Sort by open descriptors: nginx 201 at 60 of its 64 first.
    t.keys(b"f");
    let s = t.wait_for("the fds sort", |s| s.contains("FDS/LIMIT▼"));
    let rows = table_rows(&s);
    assert!(rows[0].trim_start().starts_with("201 ") && rows[0].trim_end().ends_with("60/64"), "{s}");
    assert!(rows[1].trim_start().starts_with("1 ") && rows[1].trim_end().ends_with("20/65536"), "{s}");

    // The cgroups tab: the tree, nginx.service at 100 MiB of 128 MiB after one OOM kill.
    t.keys(b"5");
    let s = t.wait_for("the cgroups tab", |s| s.contains("memory cgroups (v2)"));
    let nginx = s.lines().find(|l| l.starts_with("  nginx.service ")).unwrap_or_else(|| panic!("{s}"));
    let cells: Vec<&str> = nginx.split_whitespace().collect();
    assert_eq!(cells, ["nginx.service", "100", "MiB", "128", "MiB", "78%", "1"], "{s}");

    // The fds tab: the file table, then nginx closest to EMFILE.
    t.keys(b"6");
    let s = t.wait_for("the fds tab", |s| s.contains("open files, system (ENFILE)"));
    assert!(s.contains("3456 of 262144 (1.3%) ok"), "{s}");
    let first = s
        .lines()
        .skip_while(|l| !l.contains("SOFT LIMIT"))
        .nth(1)
        .unwrap_or_else(|| panic!("{s}"))
        .split_whitespace()
        .collect::<Vec<_>>();
    assert_eq!(first, ["201", "nginx", "60", "64", "4096", "93.8%", "critical"], "{s}");

    t.keys(b"q");
    assert!(t.wait_exit().success());
}

#[test]
fn top_replays_a_recording_step_by_step_on_a_terminal() {
    // Three snapshots of this machine, more than a second apart (the header
    // shows seconds), recorded by the real binary.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rec.db");
    for i in 0..3 {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(1100));
        }
        let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
            .args(["record", "--once", "--db", db.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let times: Vec<String> = memscope_store::Store::open_read_only(&db)
        .unwrap()
        .list()
        .unwrap()
        .iter()
        .map(|s| {
            let t = std::time::UNIX_EPOCH + Duration::from_millis(s.taken_at_unix_ms);
            humantime::format_rfc3339_seconds(t).to_string()
        })
        .collect();
    assert_eq!(times.len(), 3);

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_memscope"));
    cmd.args(["top", "--db", db.to_str().unwrap()]);
    let mut t = Pty::spawn(&mut cmd);
    let at = |i: usize| {
        let (time, place) = (times[i].clone(), format!("snapshot {} of 3", i + 1));
        move |s: &str| s.lines().next().is_some_and(|h| h.contains(&time) && h.contains(&place))
    };
    // It opens on the last snapshot.
    let s = t.wait_for("the last snapshot", at(2));
    assert!(s.contains("PSS▼") && s.contains("← [ → ] step"), "{s}");
    t.keys(b"\x1b[D"); // ←
    t.wait_for("the second snapshot", at(1));
    t.keys(b"[");
    t.wait_for("the first snapshot", at(0));
    t.keys(b"]");
    t.wait_for("the second snapshot again", at(1));
    t.keys(b"G");
    t.wait_for("the last snapshot again", at(2));
    t.keys(b"g");
    t.wait_for("the first snapshot again", at(0));
    // `record` keeps descriptor counts and memory cgroups: both tabs show
    // the recorded snapshot, not the running system.
    t.keys(b"6");
    t.wait_for("the fds tab", |s| {
        s.contains("open files, system (ENFILE)") && s.contains("closest to their soft RLIMIT_NOFILE")
    });
    t.keys(b"5");
    t.wait_for("the cgroups tab", |s| {
        s.contains("LIMIT (↑ BINDING ABOVE)") && s.contains("memory cgroups (v")
    });
    t.keys(b"q");
    assert!(t.wait_exit().success());
}

#[test]
fn top_without_a_terminal_says_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope")).arg("top").stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a terminal"));
}
