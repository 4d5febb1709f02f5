//! `memscope top` driven like a person would: the real binary on a
//! pseudo-terminal, keys typed into it, the screen read back through a
//! terminal emulator (vt100) — start, sort, filter, help, quit.

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

    // Quit: exit 0, terminal given back (main screen).
    t.keys(b"q");
    let status = t.wait_exit();
    assert!(status.success(), "{status:?}");
    // Let the reader thread take the last bytes.
    std::thread::sleep(Duration::from_millis(200));
    assert!(!t.screen.lock().unwrap().screen().alternate_screen(), "the alternate screen was left");
}

#[test]
fn top_without_a_terminal_says_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope")).arg("top").stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a terminal"));
}
