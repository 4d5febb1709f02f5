//! `memscope capture` runs as root and may be pointed at a directory other
//! users can write (under /tmp): it must never write through a link it did
//! not create, never copy a secret from a command line, and leave nothing
//! readable by other users.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use memscope_kernel::KernelRoot;
use memscope_model::CollectOptions;
use memscope_model::capture::{capture, capture_with};
use memscope_testkit::{Workload, fixture_dir, is_root};

/// A small captured tree to capture from: fast, and the same every run.
fn fixture_root() -> KernelRoot {
    KernelRoot::at(fixture_dir("live-6.18-firecracker-2cpu"))
}

/// Every path under `dir` (links included, not followed).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        out.push(p.clone());
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&p));
        }
    }
    out
}

fn victim(dir: &Path) -> PathBuf {
    let v = dir.join("victim");
    std::fs::write(&v, "precious\n").unwrap();
    v
}

#[test]
fn links_planted_in_the_tree_while_it_is_written_are_not_followed() {
    let base = tempfile::tempdir().unwrap();
    let victim = victim(base.path());
    let elsewhere = base.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let out = base.path().join("tree");
    // Planted after the directory check and the collection, before the
    // files are written: DIR/MANIFEST -> victim, DIR/proc -> elsewhere.
    let plant = || {
        std::fs::create_dir_all(&out).unwrap();
        std::os::unix::fs::symlink(&victim, out.join("MANIFEST")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, out.join("proc")).unwrap();
    };
    let err = capture_with(&fixture_root(), &CollectOptions::default(), &out, &plant).unwrap_err();
    assert!(err.to_string().contains("planted"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "files written through DIR/proc");
}

#[test]
fn an_output_directory_that_is_a_link_is_refused() {
    let base = tempfile::tempdir().unwrap();
    let target = base.path().join("empty-victim-dir");
    std::fs::create_dir(&target).unwrap();
    let out = base.path().join("tree");
    std::os::unix::fs::symlink(&target, &out).unwrap();
    let err = capture(&fixture_root(), &CollectOptions::default(), &out).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
    // A dangling link is refused too, and its target not created.
    let dangling = base.path().join("dangling");
    std::os::unix::fs::symlink(base.path().join("nowhere"), &dangling).unwrap();
    assert!(capture(&fixture_root(), &CollectOptions::default(), &dangling).is_err());
    assert!(!base.path().join("nowhere").exists());
}

#[test]
fn output_directory_swapped_for_a_link_mid_capture_writes_nothing_through_it() {
    let base = tempfile::tempdir().unwrap();
    let target = base.path().join("victim-dir");
    std::fs::create_dir(&target).unwrap();
    let out = base.path().join("tree");
    let moved = base.path().join("tree.moved");
    // Whoever can write the parent moves DIR away and puts a link in its place.
    let swap = || {
        std::fs::rename(&out, &moved).unwrap();
        std::os::unix::fs::symlink(&target, &out).unwrap();
    };
    let c = capture_with(&fixture_root(), &CollectOptions::default(), &out, &swap).unwrap();
    assert!(c.files > 20);
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0, "files written through the link");
    // Everything went into the directory the capture created and held open.
    assert!(moved.join("MANIFEST").is_file());
    assert!(moved.join("proc/meminfo").is_file());
}

#[test]
fn an_empty_output_directory_of_another_user_is_refused() {
    if !is_root() {
        eprintln!("an_empty_output_directory_of_another_user_is_refused: needs root to chown");
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let out = base.path().join("nobodys");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::chown(&out, Some(65534), Some(65534)).unwrap();
    let err = capture(&fixture_root(), &CollectOptions::default(), &out).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

#[test]
fn an_empty_output_directory_of_this_user_is_used_and_made_private() {
    let base = tempfile::tempdir().unwrap();
    let out = base.path().join("mine");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
    capture(&fixture_root(), &CollectOptions::default(), &out).unwrap();
    assert_eq!(std::fs::metadata(&out).unwrap().mode() & 0o7777, 0o700);
    assert!(out.join("MANIFEST").is_file());
}

/// `memscope capture --out DIR` run with umask `umask`.
fn capture_cli(out: &Path, umask: &str) -> std::process::Output {
    Command::new("sh")
        .args(["-c", &format!("umask {umask}; exec \"$0\" capture --out \"$1\"")])
        .arg(env!("CARGO_BIN_EXE_memscope"))
        .arg(out)
        .env("NO_COLOR", "1")
        .output()
        .expect("run memscope capture")
}

#[test]
fn live_capture_is_0700_with_0600_files_even_with_umask_000() {
    let base = tempfile::tempdir().unwrap();
    let out = base.path().join("tree");
    let run = capture_cli(&out, "000");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let mut files = 0;
    for p in std::iter::once(out.clone()).chain(walk(&out)) {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let mode = m.mode() & 0o7777;
        if m.is_dir() {
            assert_eq!(mode, 0o700, "{}", p.display());
        } else if m.is_file() {
            assert_eq!(mode, 0o600, "{}", p.display());
            files += 1;
        }
    }
    assert!(files > 20);
    if is_root() {
        // Copies of root-only files are there, and as private as the rest.
        for f in ["proc/slabinfo", "proc/vmallocinfo", "proc/iomem"] {
            assert!(out.join(f).is_file(), "{f} not captured");
        }
    }
}

/// A shell that execs `sleep` under another argv[0]: `exec -a`.
struct ExecA(std::process::Child);

impl Drop for ExecA {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn secrets_in_argv0_appear_nowhere_in_the_captured_tree() {
    let secret = ["hunter", "2"].concat();
    let title = format!("myapp --password={secret}");
    // 1. `exec -a` sets argv[0] to anything.
    let exec_a = ExecA(
        Command::new("bash")
            .args(["-c", &format!("exec -a '{title}' sleep 300")])
            .stdin(Stdio::null())
            .spawn()
            .expect("bash"),
    );
    let sleep_pid = exec_a.0.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read(format!("/proc/{sleep_pid}/cmdline")).unwrap_or_default().starts_with(b"myapp") {
        assert!(Instant::now() < deadline, "exec -a did not happen");
        std::thread::sleep(Duration::from_millis(10));
    }
    // 2. A process that writes over its own argument memory.
    let titled = Workload::spawn(&["argv0", "--text", &title]);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", titled.pid())).unwrap();
    assert!(cmdline.starts_with(title.as_bytes()), "{:?}", String::from_utf8_lossy(&cmdline));

    let base = tempfile::tempdir().unwrap();
    let out = base.path().join("tree");
    let run = capture_cli(&out, "022");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    for p in walk(&out) {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let text = if m.is_symlink() {
            std::fs::read_link(&p).unwrap().into_os_string().into_encoded_bytes()
        } else if m.is_file() {
            std::fs::read(&p).unwrap()
        } else {
            continue;
        };
        assert!(
            !text.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is in {}",
            p.display()
        );
        assert!(!p.to_string_lossy().contains(&secret), "the secret names {}", p.display());
    }
    // What the tree keeps identifies the program.
    assert_eq!(std::fs::read(out.join(format!("proc/{sleep_pid}/cmdline"))).unwrap(), b"sleep\0");
    assert_eq!(
        std::fs::read(out.join(format!("proc/{}/cmdline", titled.pid()))).unwrap(),
        b"memscope-workload\0"
    );
    // And the offline `ps` shows it.
    let ps = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["--root", out.to_str().unwrap(), "ps", "--json"])
        .output()
        .unwrap();
    assert!(ps.status.success(), "{}", String::from_utf8_lossy(&ps.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&ps.stdout).unwrap();
    let procs = doc["processes"].as_array().unwrap();
    let sleep = procs.iter().find(|p| p["pid"] == sleep_pid).expect("the sleep process in the offline ps");
    assert_eq!(sleep["comm"], "sleep");
}
