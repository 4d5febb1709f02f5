//! `memscope run` on the running machine (root; here hybrid cgroups): the
//! limits hold, the summary says what happened, signals reach the command,
//! and no cgroup is left behind on any path. Every test takes the cgroup
//! test lock and removes its cgroups when it ends, also when it fails.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use memscope_control::cgroup::transient::PARENT;
use memscope_kernel::KernelRoot;
use memscope_kernel::cgroup::Layout;
use memscope_testkit::{SystemLock, cgroup_lock, is_root, system_lock, workload_path};
use serde_json::Value;

const MIB: u64 = 1 << 20;

/// One test's cgroup names (`<prefix>-…`) and scratch directory; removes
/// both when dropped.
struct Env {
    prefix: String,
    tmp: PathBuf,
    _lock: SystemLock,
}

impl Drop for Env {
    fn drop(&mut self) {
        sweep(&self.prefix);
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

fn setup(test: &str) -> Option<Env> {
    if !is_root() {
        eprintln!("skipped: memscope run needs root");
        return None;
    }
    let lock = cgroup_lock();
    let layout = Layout::detect(&KernelRoot::live()).expect("mountinfo");
    if layout.controller("memory").is_none() {
        eprintln!("skipped: no memory controller");
        return None;
    }
    let prefix = format!("t-{test}-{}", std::process::id());
    sweep(&prefix);
    let tmp = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&tmp).unwrap();
    Some(Env { prefix, tmp, _lock: lock })
}

/// The memscope cgroups (any hierarchy) whose name starts with `prefix`.
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

/// Kill what is in the test's cgroups and remove them.
fn sweep(prefix: &str) {
    let root = KernelRoot::live();
    for dir in leftovers(prefix) {
        for _ in 0..300 {
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
}

/// Processes whose command line mentions `tag`.
fn processes_tagged(tag: &str) -> Vec<u32> {
    let root = KernelRoot::live();
    root.pids()
        .unwrap_or_default()
        .into_iter()
        .filter(|&p| p != std::process::id())
        .filter(|&p| root.pid_cmdline(p).is_ok_and(|c| c.iter().any(|a| a.contains(tag))))
        .filter(|&p| root.pid_stat(p).is_ok_and(|s| s.state != 'Z'))
        .collect()
}

fn wait_until(timeout: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    ok()
}

/// `memscope run --name <name> --summary json --summary-file <tmp> <opts> -- <cmd>`,
/// with core dumps off (a forwarded SIGQUIT must not write a core file).
fn command(env: &Env, name: &str, opts: &[&str], cmd: &[&str]) -> (Command, PathBuf) {
    let summary = env.tmp.join(format!("{name}.json"));
    let mut c = Command::new(env!("CARGO_BIN_EXE_memscope"));
    c.args(["run", "--name", name, "--summary", "json", "--summary-file"])
        .arg(&summary)
        .args(opts)
        .arg("--")
        .args(cmd)
        .env("NO_COLOR", "1");
    // SAFETY: setrlimit and signal are async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            let zero = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
            // The suite may run with these signals ignored (under nohup, or
            // as a background job of a shell without job control): an
            // ignored disposition survives exec, so the command would ignore
            // the signals memscope forwards. The tests ask about forwarding
            // to a command that takes them as commands usually do.
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    (c, summary)
}

fn run(env: &Env, name: &str, opts: &[&str], cmd: &[&str]) -> (Output, Value) {
    let (mut c, summary) = command(env, name, opts, cmd);
    let out = c.output().expect("run memscope");
    let text = std::fs::read_to_string(&summary)
        .unwrap_or_else(|_| panic!("no summary; stderr: {}", String::from_utf8_lossy(&out.stderr)));
    (out, serde_json::from_str(&text).expect("summary json"))
}

fn workload() -> String {
    workload_path().to_string_lossy().into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn memory_64m_oom_kills_a_child_allocating_200mib() {
    let Some(env) = setup("oom") else { return };
    let _sys = system_lock();
    let name = format!("{}-a", env.prefix);
    let (out, s) = run(&env, &name, &["--memory", "64M"], &[&workload(), "alloc", "--mib", "200"]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    assert_eq!(s["schema"], "memscope.run/1");
    assert_eq!(s["exit"]["signal"], 9);
    assert_eq!(s["exit_status"], 137);
    assert!(s["oom_kills"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(s["limits"]["memory_limit_bytes"], 64 * MIB);
    let peak = s["peak_memory_bytes"].as_u64().unwrap();
    assert!(peak > 32 * MIB && peak <= 64 * MIB, "peak {peak}");
    assert!(!stdout(&out).contains("allocated"), "the child never finished allocating");
    assert_eq!(s["cgroup"]["removed"], true);
    assert_eq!(leftovers(&name), Vec::<String>::new());

    // The text summary says it in words.
    let name = format!("{}-b", env.prefix);
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["run", "--name", &name, "--memory", "64M", "--", &workload(), "alloc", "--mib", "200"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(137));
    let text = stderr(&out).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("was killed by SIGKILL (exit status 137)"), "{text}");
    assert!(text.contains("the OOM killer killed 1 process in the cgroup"), "{text}");
    assert!(text.contains("memory 64.0 MiB"), "{text}");
    assert_eq!(leftovers(&name), Vec::<String>::new());
}

#[test]
fn memory_256m_child_allocating_100mib_peaks_above_100mib() {
    let Some(env) = setup("peak") else { return };
    let _sys = system_lock();
    let name = format!("{}-a", env.prefix);
    let (out, s) = run(&env, &name, &["--memory", "256M"], &[&workload(), "alloc", "--mib", "100"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "allocated 100 MiB");
    assert_eq!(s["exit"]["code"], 0);
    assert_eq!(s["oom_kills"], 0);
    let peak = s["peak_memory_bytes"].as_u64().unwrap();
    assert!((100 * MIB..256 * MIB).contains(&peak), "peak {peak}");
    assert!(s["wall_usec"].as_u64().unwrap() > 0);
    assert!(s["cpu_system_usec"].as_u64().unwrap() + s["cpu_user_usec"].as_u64().unwrap() > 0);
    assert_eq!(leftovers(&name), Vec::<String>::new());
}

#[test]
fn cpus_pin_the_child() {
    let Some(env) = setup("cpus") else { return };
    let online = KernelRoot::live().online_cpus().unwrap();
    for cpu in online.iter().take(2) {
        let name = format!("{}-{cpu}", env.prefix);
        let (out, s) = run(&env, &name, &["--cpus", &cpu.to_string()], &[&workload(), "affinity"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(stdout(&out).trim(), format!("cpus {cpu}"));
        assert_eq!(s["limits"]["cpus"], cpu.to_string());
        assert!(
            s["cgroup"]["directories"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["controllers"].as_array().unwrap().contains(&Value::from("cpuset")))
        );
        assert_eq!(leftovers(&name), Vec::<String>::new());
    }
}

#[test]
fn pids_5_stops_a_fork_bomb() {
    let Some(env) = setup("pids") else { return };
    let name = format!("{}-a", env.prefix);
    let tag = format!("--tag={}", env.prefix);
    let (out, s) = run(&env, &name, &["--pids", "5"], &[&workload(), "fork-bomb", "--max", "64", &tag]);
    // The command itself and 4 children make 5 tasks: the 5th fork fails.
    assert_eq!(stdout(&out).trim(), "forked 4; fork failed: EAGAIN");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(s["limits"]["pids"], 5);
    assert!(wait_until(Duration::from_secs(5), || processes_tagged(&env.prefix).is_empty()));
    assert_eq!(leftovers(&name), Vec::<String>::new());
}

#[test]
fn command_not_found_exits_127_and_leaves_nothing() {
    let Some(env) = setup("notfound") else { return };
    let name = format!("{}-a", env.prefix);
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["run", "--name", &name, "--memory", "64M", "--", "memscope-no-such-command"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(
        stderr(&out).contains("cannot run `memscope-no-such-command`: command not found"),
        "{}",
        stderr(&out)
    );
    assert_eq!(leftovers(&name), Vec::<String>::new());
}

/// Start `memscope run -- workload sleep` and wait until the command is in
/// its cgroup.
fn start_sleeper(env: &Env, name: &str, ms: u32) -> (Child, PathBuf) {
    let (mut c, summary) = command(env, name, &[], &[&workload(), "sleep", "--ms", &ms.to_string()]);
    let child = c.stdout(Stdio::null()).spawn().unwrap();
    let root = KernelRoot::live();
    let ready = wait_until(Duration::from_secs(10), || {
        leftovers(name)
            .iter()
            .any(|d| root.read_text(&format!("{d}/cgroup.procs")).is_ok_and(|t| !t.trim().is_empty()))
    });
    assert!(ready, "the command never appeared in its cgroup");
    (child, summary)
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if started.elapsed() > timeout {
            // Where it waits, and for whom: a failure says which step hung.
            let proc_file = |f: &str| {
                std::fs::read_to_string(format!("/proc/{}/{f}", child.id()))
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            };
            let (wchan, children) = (proc_file("wchan"), proc_file(&format!("task/{}/children", child.id())));
            let _ = child.kill();
            panic!("memscope did not exit within {timeout:?}: waiting in `{wchan}`, children [{children}]");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn signals_to_memscope_reach_the_command_and_the_cgroup_goes() {
    let Some(env) = setup("signals") else { return };
    for (sig, sig_name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP")] {
        let name = format!("{}-{sig}", env.prefix);
        let (mut child, summary) = start_sleeper(&env, &name, 60_000);
        let started = Instant::now();
        // SAFETY: kill(2) to our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let status = wait_timeout(&mut child, Duration::from_secs(10));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(status.code(), Some(128 + sig), "{sig_name}");
        let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        assert_eq!(s["forwarded_signals"], serde_json::json!([sig_name]));
        assert_eq!(s["exit"]["signal"], sig);
        assert_eq!(s["cgroup"]["removed"], true);
        assert_eq!(leftovers(&name), Vec::<String>::new());
    }
}

#[test]
fn memscope_killed_outright_is_cleaned_by_the_next_run() {
    let Some(env) = setup("sigkill") else { return };
    let name = format!("{}-a", env.prefix);
    let (mut child, _) = start_sleeper(&env, &name, 60_000);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(leftovers(&name).len(), 1, "left behind until the next run");
    // The command died with memscope (PR_SET_PDEATHSIG).
    let root = KernelRoot::live();
    let dir = leftovers(&name).pop().unwrap();
    assert!(wait_until(Duration::from_secs(5), || {
        root.read_text(&format!("{dir}/cgroup.procs")).is_ok_and(|t| t.trim().is_empty())
    }));
    let next = format!("{}-b", env.prefix);
    let (out, s) = run(&env, &next, &[], &["true"]);
    assert_eq!(out.status.code(), Some(0));
    let stale = s["stale_cgroups"].as_array().unwrap();
    assert!(stale.iter().any(|st| st["dir"] == dir.as_str() && st["removed"] == true), "{s}");
    assert_eq!(leftovers(&env.prefix), Vec::<String>::new());
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let Some(env) = setup("bad") else { return };
    let name = format!("{}-a", env.prefix);
    let parents_before = parents();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--memory", "12Q"], 2, "unknown size suffix `Q`"),
        (&["--cpus", "4096"], 2, "CPU 4096 does not exist or is offline"),
        (&["--mems", "77"], 2, "memory node 77 does not exist or is offline"),
        (&["--memory", "100K"], 2, "below the smallest limit memscope accepts"),
        (&["--pids", "0"], 2, "the kernel accepts 1 to 4194304"),
        (&["--name", "../escape"], 2, "not a valid cgroup name"),
    ];
    for (opts, code, message) in cases {
        let mut args = vec!["run", "--name", &name];
        if opts[0] == "--name" {
            args.truncate(1);
        }
        args.extend_from_slice(opts);
        args.extend(["--", "true"]);
        let out = Command::new(env!("CARGO_BIN_EXE_memscope")).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(*code), "{opts:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{opts:?}: {}", stderr(&out));
        assert_eq!(leftovers(&name), Vec::<String>::new());
        assert_eq!(parents(), parents_before, "{opts:?} changed the cgroup tree");
    }
    // Not root: refused before anything is created.
    let out = memscope_testkit::as_nobody(env!("CARGO_BIN_EXE_memscope"))
        .args(["run", "--name", &name, "--memory", "64M", "--", "true"])
        .output()
        .expect("setpriv (util-linux)");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("memscope run needs root"), "{}", stderr(&out));
    assert_eq!(parents(), parents_before);
}

/// Which memscope parents exist, and what is in them.
fn parents() -> Vec<(String, Vec<String>)> {
    let root = KernelRoot::live();
    let layout = Layout::detect(&root).unwrap();
    layout
        .hierarchies
        .iter()
        .map(|h| format!("{}/{PARENT}", h.mount_point))
        .filter(|p| root.is_dir(p))
        .map(|p| {
            let kids =
                root.list_dir(&p).unwrap().into_iter().filter(|n| root.is_dir(&format!("{p}/{n}"))).collect();
            (p, kids)
        })
        .collect()
}

/// A small xorshift generator: reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn children_of(pid: u32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn hundred_runs_with_random_kills_leave_no_cgroup_behind() {
    let Some(env) = setup("stress") else { return };
    let seed = std::env::var("MEMSCOPE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| memscope_model::now_unix_ms() | 1);
    eprintln!("seed {seed} (MEMSCOPE_TEST_SEED={seed} repeats this run)");
    let mut rng = Rng(seed);
    let tag = format!("--tag={}", env.prefix);
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..100 {
        let name = format!("{}-{i}", env.prefix);
        let action = rng.next(7);
        let delay = Duration::from_millis(rng.next(150));
        let (mut c, _) =
            command(&env, &name, &["--pids", "64"], &[&workload(), "sleep", "--ms", "100", &tag]);
        let mut child = c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        let sent = match action {
            0 => None,
            1 => Some(libc::SIGINT),
            2 => Some(libc::SIGTERM),
            3 => Some(libc::SIGHUP),
            4 => Some(libc::SIGQUIT),
            5 => Some(libc::SIGKILL),
            _ => {
                for pid in children_of(child.id()) {
                    // SAFETY: kill(2) on memscope's child (the command).
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                None
            }
        };
        if let Some(sig) = sent {
            // SAFETY: kill(2) to our own child.
            unsafe { libc::kill(child.id() as i32, sig) };
        }
        let status = wait_timeout(&mut child, Duration::from_secs(15));
        // memscope ends with the command's status, or dies of the signal
        // before it set anything up (or of SIGKILL).
        let ok = match (status.code(), status.signal(), sent) {
            (Some(0), _, _) => true,
            (Some(137), _, None) => action == 6,
            (Some(c), _, Some(sig)) => c == 128 + sig,
            (None, Some(s), Some(sig)) => s == sig,
            _ => false,
        };
        assert!(ok, "run {i} (seed {seed}): action {action}, status {status:?}");
        *outcomes.entry(format!("action {action} → {status}")).or_default() += 1;
    }
    eprintln!("{outcomes:#?}");
    // Commands of a memscope killed outright die with it; then one more
    // run removes what those memscopes left.
    assert!(
        wait_until(Duration::from_secs(10), || processes_tagged(&env.prefix).is_empty()),
        "processes left: {:?}",
        processes_tagged(&env.prefix)
    );
    let (out, _) = run(&env, &format!("{}-final", env.prefix), &[], &["true"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(leftovers(&env.prefix), Vec::<String>::new(), "seed {seed}");
}
