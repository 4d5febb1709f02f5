//! The transient cgroup's life on the running machine (root only): a limit
//! the kernel refuses, stale cgroups of a killed memscope, and the v2
//! lifecycle (`cgroup.kill`) on the v2 hierarchy. Each test removes what it
//! created, also when it fails (`Sweep`).

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use memscope_control::cgroup::transient::{Limits, PARENT, SetupError, TransientCgroup, clean_stale, plan};
use memscope_kernel::cgroup::{Layout, LayoutKind, Version};
use memscope_kernel::{KernelRoot, ReadError};
use memscope_testkit::{cgroup_lock, is_root};

/// Removes every memscope cgroup whose name starts with `prefix`, killing
/// what is in it, when dropped.
struct Sweep {
    prefix: String,
}

impl Drop for Sweep {
    fn drop(&mut self) {
        sweep(&self.prefix);
    }
}

fn sweep(prefix: &str) {
    let root = KernelRoot::live();
    let Ok(layout) = Layout::detect(&root) else { return };
    for h in &layout.hierarchies {
        let parent = format!("{}/{PARENT}", h.mount_point);
        for name in root.list_dir(&parent).unwrap_or_default() {
            if !name.starts_with(prefix) {
                continue;
            }
            let dir = format!("{parent}/{name}");
            for _ in 0..200 {
                let procs = root.read_text(&format!("{dir}/cgroup.procs")).unwrap_or_default();
                if procs.trim().is_empty() {
                    break;
                }
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    // SAFETY: kill(2) on a process in a test's own cgroup.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = root.remove_dir(&dir);
        }
        let _ = root.remove_dir(&parent);
    }
}

fn leftovers(prefix: &str) -> Vec<String> {
    let root = KernelRoot::live();
    let layout = Layout::detect(&root).unwrap();
    let mut out = Vec::new();
    for h in &layout.hierarchies {
        let parent = format!("{}/{PARENT}", h.mount_point);
        for name in root.list_dir(&parent).unwrap_or_default() {
            if name.starts_with(prefix) && root.is_dir(&format!("{parent}/{name}")) {
                out.push(format!("{parent}/{name}"));
            }
        }
    }
    out
}

fn setup(test: &str) -> Option<(KernelRoot, Layout, String, Sweep, memscope_testkit::SystemLock)> {
    if !is_root() {
        eprintln!("skipped: creating cgroups needs root");
        return None;
    }
    let lock = cgroup_lock();
    let root = KernelRoot::live();
    let layout = Layout::detect(&root).expect("mountinfo");
    if layout.controller("memory").is_none() {
        eprintln!("skipped: no memory controller");
        return None;
    }
    let prefix = format!("test-{test}-{}", std::process::id());
    sweep(&prefix);
    Some((root, layout, prefix.clone(), Sweep { prefix }, lock))
}

/// A limit the kernel refuses (pids.max above PID_MAX_LIMIT; `plan` would
/// have refused it, so it is applied directly) fails the setup, and the
/// cgroup is removed by `remove` and by drop alike.
#[test]
fn failing_limit_write_removes_the_cgroup() {
    let Some((root, layout, prefix, _sweep, _lock)) = setup("limitfail") else { return };
    if layout.controller("pids").is_none() {
        return;
    }
    let ok = Limits { pids: Some(5), ..Limits::default() };
    for explicit in [true, false] {
        let name = format!("{prefix}-{explicit}");
        let p = plan(&root, &layout, &name, &ok).expect("plan");
        let cg = TransientCgroup::create(&root, &layout, &p).expect("create");
        assert_eq!(leftovers(&name).len(), p.placements.len(), "created in every hierarchy");
        let err = cg.apply(&Limits { pids: Some(10_000_000), ..Limits::default() }).unwrap_err();
        match &err {
            SetupError::Kernel { what, source: ReadError::Io { message, .. } } => {
                assert!(what.contains("pids.max"), "{what}");
                assert!(message.contains("Invalid argument"), "{message}");
            }
            other => panic!("expected the kernel's EINVAL, got {other:?}"),
        }
        if explicit {
            cg.remove(&mut || {}).expect("remove");
        } else {
            drop(cg);
        }
        assert_eq!(leftovers(&name), Vec::<String>::new());
    }
}

fn sleeper_in(root: &KernelRoot, dir: &str) -> Child {
    let child = Command::new("sleep").arg("60").spawn().expect("sleep");
    root.write(&format!("{dir}/cgroup.procs"), child.id().to_string().as_bytes()).expect("join");
    child
}

/// A memscope killed outright leaves its cgroup; its lock went with it.
/// The next cleaning removes the empty one, leaves (and reports) one that
/// still holds a process, and never touches one whose memscope is alive.
#[test]
fn stale_cgroups_are_removed_only_when_empty_and_unlocked() {
    let Some((root, layout, prefix, _sweep, _lock)) = setup("stale") else { return };
    let h = layout.controller("memory").unwrap();
    let parent = format!("{}/{PARENT}", h.mount_point);
    root.create_dir(&parent).unwrap();
    let empty = format!("{parent}/{prefix}-empty");
    let busy = format!("{parent}/{prefix}-busy");
    let live = format!("{parent}/{prefix}-live");
    for d in [&empty, &busy, &live] {
        root.create_dir(d).unwrap();
    }
    let mut child = sleeper_in(&root, &busy);
    let held = root.open(&live).unwrap();
    rustix::fs::flock(held.file(), rustix::fs::FlockOperation::LockExclusive).unwrap();

    let found = clean_stale(&root, &layout);
    let mine: Vec<_> = found.iter().filter(|s| s.dir.contains(&prefix)).collect();
    assert_eq!(mine.len(), 2, "{found:?}");
    let e = mine.iter().find(|s| s.dir == empty).unwrap();
    assert!(e.removed && e.procs.is_empty());
    let b = mine.iter().find(|s| s.dir == busy).unwrap();
    assert!(!b.removed);
    assert_eq!(b.procs, vec![child.id()]);
    assert!(!root.is_dir(&empty));
    assert!(root.is_dir(&busy));
    assert!(root.is_dir(&live), "a live memscope's cgroup is never touched");

    let _ = child.kill();
    let _ = child.wait();
    drop(held);
    let again = clean_stale(&root, &layout);
    assert!(again.iter().filter(|s| s.dir.contains(&prefix)).all(|s| s.removed), "{again:?}");
    assert_eq!(leftovers(&prefix), Vec::<String>::new());
}

/// The v2 path on the v2 hierarchy (here without controllers): created,
/// joined, emptied with `cgroup.kill`, removed.
#[test]
fn v2_lifecycle_kills_with_cgroup_kill_and_removes() {
    let Some((root, layout, prefix, _sweep, _lock)) = setup("v2") else { return };
    let Some(v2) = layout.v2().cloned() else { return };
    let only_v2 = Layout { kind: LayoutKind::V2, hierarchies: vec![v2] };
    let name = format!("{prefix}-a");
    let p = plan(&root, &only_v2, &name, &Limits::default()).expect("plan");
    assert_eq!(p.placements.len(), 1);
    assert_eq!(p.placements[0].hierarchy.version, Version::V2);
    let cg = TransientCgroup::create(&root, &only_v2, &p).expect("create");
    let dir = p.placements[0].dir.clone();
    let mut children: Vec<Child> = (0..3).map(|_| sleeper_in(&root, &dir)).collect();
    assert_eq!(cg.procs().len(), 3);
    let started = Instant::now();
    let mut reap = || {
        for c in &mut children {
            let _ = c.try_wait();
        }
    };
    let killed = cg.kill_all(&mut reap, Duration::from_secs(5));
    assert!(killed <= 3);
    assert!(cg.procs().is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
    cg.remove(&mut reap).expect("remove");
    for c in &mut children {
        let status = c.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }
    assert!(!root.is_dir(&dir));
}
