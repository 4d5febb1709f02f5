//! `memscope oom` on the running machine (root): a process allocating
//! 200 MiB in a memory cgroup limited to 64 MiB is OOM-killed, and
//! `memscope oom --json` must explain that kill: its pid and name,
//! CONSTRAINT_MEMCG, the cgroup and its 64 MiB limit. Then the same kill
//! read back from a capture, and what a user without access to the kernel
//! log sees. The cgroup is removed when the test ends, also when it fails.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use memscope_testkit::{MIB, SystemLock, as_nobody, cgroup_lock, is_root, system_lock, workload_path};
use serde_json::Value;

/// A memory cgroup made for one test, v1 (hybrid, this project's machines)
/// or v2; killed and removed when dropped.
struct TestCgroup {
    dir: PathBuf,
    /// The path as the kernel prints it (`/name`).
    path: String,
    _locks: (SystemLock, SystemLock),
}

impl TestCgroup {
    fn create(name: &str, limit: u64) -> TestCgroup {
        let locks = (cgroup_lock(), system_lock());
        let v1 = PathBuf::from("/sys/fs/cgroup/memory");
        let (dir, limit_file) = if v1.join("memory.limit_in_bytes").exists() {
            (v1.join(name), "memory.limit_in_bytes")
        } else {
            (PathBuf::from("/sys/fs/cgroup").join(name), "memory.max")
        };
        let cg = TestCgroup { dir, path: format!("/{name}"), _locks: locks };
        cg.remove();
        std::fs::create_dir(&cg.dir).expect("create the test cgroup");
        std::fs::write(cg.dir.join(limit_file), limit.to_string()).expect("set the memory limit");
        let _ = std::fs::write(cg.dir.join("memory.swap.max"), "0");
        cg
    }

    fn remove(&self) {
        let started = Instant::now();
        while self.dir.exists() && started.elapsed() < Duration::from_secs(10) {
            let procs = std::fs::read_to_string(self.dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                // SAFETY: kill(2) on a process in the test's own cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            if std::fs::remove_dir(&self.dir).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        self.remove();
    }
}

fn memscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run memscope")
}

/// Run `memscope-workload alloc --mib 200` inside the cgroup; its pid (the
/// shell execs it) and how it ended.
fn allocate_200mib_in(cg: &TestCgroup) -> (u32, std::process::ExitStatus) {
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec {} alloc --mib 200",
        cg.dir.display(),
        workload_path().display()
    );
    let mut child = Command::new("sh").args(["-c", &script]).spawn().expect("sh");
    let pid = child.id();
    (pid, child.wait().unwrap())
}

#[test]
fn oom_json_explains_a_64m_cgroup_kill_of_a_200mib_allocation() {
    if !is_root() {
        eprintln!("skipped: creating a memory cgroup and reading /dev/kmsg need root");
        return;
    }
    let cg = TestCgroup::create(&format!("memscope-oom-test-{}", std::process::id()), 64 * MIB);
    let (pid, status) = allocate_200mib_in(&cg);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL), "the allocation must be OOM-killed: {status:?}");

    // `--all`: another test on this machine may kill after ours.
    let out = memscope(&["oom", "--json", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "memscope.oom/1");
    assert_eq!(v["source"], "/dev/kmsg");
    let mine = |v: &Value| -> Value {
        let kills = v["kills"].as_array().unwrap();
        kills
            .iter()
            .find(|k| k["victim"]["pid"] == pid)
            .cloned()
            .unwrap_or_else(|| panic!("no kill of {pid}: {v:#}"))
    };
    let k = &mine(&v);
    assert_eq!(k["victim"]["pid"], pid, "{k:#}");
    // comm is 15 characters at most (TASK_COMM_LEN).
    assert_eq!(k["victim"]["name"], "memscope-worklo");
    assert_eq!(k["scope"]["constraint"], "CONSTRAINT_MEMCG");
    assert_eq!(k["scope"]["cgroup"], cg.path.as_str());
    assert_eq!(k["limit_hit"]["limit_bytes"], 64 * MIB);
    let rss = k["victim"]["rss_bytes"].as_u64().unwrap();
    assert!(rss > 32 * MIB && rss <= 72 * MIB, "victim resident {rss}");
    // Absolute time from the boot time: within a minute of now.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let at = k["when"]["unix_seconds"].as_u64().unwrap();
    assert!(at.abs_diff(now) < 60, "kill at {at}, now {now}");
    let prevent = k["prevention"][0].as_str().unwrap();
    assert!(prevent.contains(&format!("of {} above 64.0 MiB", cg.path)), "{prevent}");

    // The same kill from a capture of this machine.
    let tree = std::env::temp_dir().join(format!("memscope-oom-capture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tree);
    let cap = memscope(&["capture", "--out", tree.to_str().unwrap()]);
    assert!(cap.status.success(), "{}", String::from_utf8_lossy(&cap.stderr));
    let out = memscope(&["oom", "--json", "--all", "--root", tree.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&tree);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tk = &mine(&t);
    assert_eq!(tk["victim"], k["victim"]);
    assert_eq!(tk["scope"], k["scope"]);
    assert_eq!(tk["when"]["unix_seconds"], k["when"]["unix_seconds"], "the tree keeps /proc/stat's btime");
}

#[test]
fn without_the_kernel_log_oom_says_why_and_shows_the_cgroup_counts() {
    if !is_root() {
        eprintln!("skipped: switching to nobody needs root");
        return;
    }
    let restrict = std::fs::read_to_string("/proc/sys/kernel/dmesg_restrict").unwrap_or_default();
    let cg = TestCgroup::create(&format!("memscope-oom-nobody-{}", std::process::id()), 64 * MIB);
    let (_, status) = allocate_200mib_in(&cg);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));

    let out = as_nobody(env!("CARGO_BIN_EXE_memscope")).args(["oom", "--json"]).output().expect("setpriv");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    if restrict.trim() == "1" {
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            v["unavailable"],
            "/dev/kmsg is readable by root (CAP_SYSLOG), or kernel.dmesg_restrict=0"
        );
        let counts = v["cgroup_counts"].as_array().unwrap();
        let mine = counts.iter().find(|c| c["path"] == cg.path.as_str()).expect("the test cgroup's count");
        assert_eq!(mine["oom_kills"], 1);
        assert_eq!(mine["limit_bytes"], 64 * MIB);
    } else {
        // kernel.dmesg_restrict=0: anyone may read the log.
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(v["kills"][0]["scope"]["cgroup"], cg.path.as_str());
    }
}
