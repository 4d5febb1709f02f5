//! `record`, `leaks`, `diff` and `plot` end to end: on a fixture database
//! whose answers are known, and on the running system (kill -9 during
//! writes, a full disk, a live leak).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use memscope_kernel::KernelRoot;
use memscope_model::{CollectOptions, Rollup, Snapshot, collect};
use memscope_store::{Meta, Store};
use memscope_testkit::{MIB, Workload, cgroup_lock, is_root, system_lock, workload_path};
use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_memscope");
const T0: u64 = 1_795_306_009_433;
const STEPS: u64 = 40;

fn fixture_tree() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/live-6.18-firecracker-2cpu")
}

/// A recording with known answers, made from the captured tree: 40
/// snapshots 10 s apart in which
/// - `unaccounted` grows by 2 MiB per snapshot (MemFree falls, nothing else moves);
/// - the processes of `/usr/bin/leaky-daemon --serve` grow by 1 MiB of PSS per snapshot;
/// - `/usr/bin/steady` stays flat;
/// - the `dentry` slab cache jumps once by 64 MiB at snapshot 20.
fn fixture_db(dir: &Path) -> PathBuf {
    fixture_recording(dir, "fixture.db", false)
}

/// [`fixture_db`] recorded as `record` does since it collects descriptors
/// and memory cgroups (v1), with these known answers besides:
/// - `leaky-daemon` holds 100 + 10·i descriptors under a soft
///   `RLIMIT_NOFILE` of 1024 (1 more a second; 534 left at the end);
///   `steady` holds 50;
/// - `file-nr` allocated grows by 20 a snapshot (2 a second) from 5000,
///   `file-max` 100000 (94220 left at the end);
/// - memory cgroups: `/app` (limit 1 GiB) charged 400 MiB + 1 MiB·i, its
///   child `/app/web` (no limit, where `leaky-daemon` runs) 300 MiB + 1 MiB·i,
///   `/batch` (no limit) 100 MiB + 4 MiB·i, `/steady` (limit 512 MiB) a
///   flat 200 MiB; `/batch` has its first OOM kill at snapshot 30;
/// - the ledger split of two of them: `/batch` holds a flat 60 MiB of
///   anonymous memory and 40 MiB + 4 MiB·i of page cache (what grows in
///   it); `/steady` a flat 200 MiB of anonymous memory and 1 MiB·i of TCP
///   socket buffers, which v1 charges outside the usage.
fn fixture_db_with_fds(dir: &Path) -> PathBuf {
    fixture_recording(dir, "fds.db", true)
}

fn fixture_recording(dir: &Path, name: &str, with_fds: bool) -> PathBuf {
    use memscope_kernel::parse::cgroupfs::Limit as CgLimit;
    use memscope_kernel::parse::file_nr::FileNr;
    use memscope_kernel::parse::pid::cgroup::ProcCgroup;
    use memscope_kernel::parse::pid::limits::{Limit, ResourceLimit};
    use memscope_model::{CgroupMemory, CgroupSample, CgroupVersion, FdSystem, ProcessFds};
    let path = dir.join(name);
    let base = collect(&KernelRoot::at(fixture_tree()), &CollectOptions::default());
    let mut store = Store::open(&path).unwrap();
    let with_rollup: Vec<usize> = base
        .processes
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p.rollup, Rollup::Read(_)) && p.status.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert!(with_rollup.len() >= 2, "the fixture has processes with PSS");
    let (leaky, steady) = (with_rollup[0], with_rollup[1]);
    for i in 0..STEPS {
        let mut s: Snapshot = base.clone();
        s.taken_at_unix_ms = T0 + i * 10_000;
        let m = s.meminfo.as_mut().unwrap();
        let free = m.bytes["MemFree"];
        m.bytes.insert("MemFree".into(), free - 2 * MIB * i);
        let grow = |p: &mut memscope_model::ProcessSample, by: u64| {
            if let Rollup::Read(r) = &mut p.rollup {
                for k in ["Pss", "Rss", "Private_Dirty"] {
                    *r.bytes.entry(k.into()).or_default() += by;
                }
            }
            if let Ok(st) = &mut p.status {
                *std::sync::Arc::make_mut(st).bytes.entry("VmRSS".into()).or_default() += by;
            }
        };
        s.processes[leaky].cmdline = Ok(vec!["/usr/bin/leaky-daemon".into(), "--serve".into()]);
        grow(&mut s.processes[leaky], MIB * i);
        s.processes[steady].cmdline = Ok(vec!["/usr/bin/steady".into()]);
        // Memory pressure: 50 ms of `some` stall and 10 ms of `full` per
        // snapshot, avg10 rising by 0.5% a snapshot.
        s.pressure = Some(Ok(memscope_kernel::parse::pressure::Pressure {
            some: Some(memscope_kernel::parse::pressure::PsiLine {
                avg10: 0.5 * i as f64,
                avg60: 0.0,
                avg300: 0.0,
                total_usec: 1_000 + 50_000 * i,
            }),
            full: Some(memscope_kernel::parse::pressure::PsiLine {
                avg10: 0.0,
                avg60: 0.0,
                avg300: 0.0,
                total_usec: 10_000 * i,
            }),
            malformed: Vec::new(),
        }));
        if i >= 20
            && let Ok(sl) = &mut s.slabinfo
            && let Some(c) = sl.caches.iter_mut().find(|c| c.name == "dentry")
        {
            c.num_slabs += 64 * MIB / 4096 / c.pagesperslab.max(1);
        }
        if with_fds {
            let nofile = Ok(ResourceLimit {
                soft: Limit::Value(1024),
                hard: Limit::Value(4096),
                units: Some("files".into()),
            });
            s.processes[leaky].fds = Some(ProcessFds { count: Ok(100 + 10 * i), nofile: nofile.clone() });
            s.processes[leaky].cgroup =
                Ok(std::sync::Arc::new(ProcCgroup::parse("5:memory:/app/web\n0::/app/web\n")));
            s.processes[steady].fds = Some(ProcessFds { count: Ok(50), nofile });
            s.fd_system = Some(FdSystem {
                file_nr: Ok(FileNr { allocated: 5000 + 20 * i, free: 0, max: 100_000 }),
                nr_open: Ok(1 << 20),
                inotify_max_user_instances: Ok(128),
                inotify_max_user_watches: Ok(65536),
                epoll_max_user_watches: Ok(1 << 20),
            });
            let cg = |path: &str, current: u64, limit: Option<u64>, kills: u64| CgroupMemory {
                path: path.into(),
                version: CgroupVersion::V1,
                current_bytes: Ok(current),
                limit: Ok(limit.map_or(CgLimit::Max, CgLimit::Value)),
                oom_kills: Ok(kills),
                ledger: None,
            };
            let split = |anon: u64, cache: u64, tcp: u64| {
                let stat =
                    format!("total_rss {anon}\ntotal_rss_huge 0\ntotal_cache {cache}\ntotal_shmem 0\n");
                Some(memscope_model::LedgerFiles {
                    stat: Ok(memscope_kernel::parse::vmstat::Vmstat::parse(&stat)),
                    kmem_bytes: Some(Ok(0)),
                    kmem_tcp_bytes: Some(Ok(tcp)),
                })
            };
            let mut batch = cg("/batch", (100 + 4 * i) * MIB, None, u64::from(i >= 30));
            batch.ledger = split(60 * MIB, (40 + 4 * i) * MIB, 0);
            let mut steady = cg("/steady", 200 * MIB, Some(512 * MIB), 0);
            steady.ledger = split(200 * MIB, 0, i * MIB);
            s.cgroups = Some(Ok(CgroupSample {
                cgroups: vec![
                    cg("/app", (400 + i) * MIB, Some(1024 * MIB), 0),
                    cg("/app/web", (300 + i) * MIB, None, 0),
                    batch,
                    steady,
                ],
                total: 4,
            }));
        }
        store.write(&s, &Meta { host: Some("fixture-host".into()), ..Meta::default() }).unwrap();
    }
    path
}

fn memscope(args: &[&str]) -> std::process::Output {
    Command::new(EXE).args(args).env("NO_COLOR", "1").output().expect("run memscope")
}

fn json_of(args: &[&str]) -> Value {
    let out = memscope(args);
    assert!(out.status.success(), "memscope {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn find<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list.as_array().unwrap().iter().find(|s| s["name"] == name)
}

#[test]
fn leaks_on_the_fixture_recording_finds_the_known_answers() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let doc = json_of(&["leaks", "--db", db.to_str().unwrap(), "--json"]);
    assert_eq!(doc["schema"], "memscope.leaks/1");
    assert_eq!(doc["snapshots"], STEPS);
    let suspects = &doc["suspects"];
    let un = find(suspects, "unaccounted").expect("unaccounted is a suspect");
    assert_eq!(un["kind"], "kernel");
    assert_eq!(un["verdict"], "growing");
    // 2 MiB per 10 s: 720 MiB per hour, exactly (no noise).
    assert_eq!(un["growth_per_hour"].as_i64(), Some(720 * MIB as i64));
    assert!(un["confidence"].as_f64().unwrap() > 0.999_999);
    let headroom = un["headroom"].as_f64().unwrap();
    let secs = un["exhaustion_seconds"].as_f64().unwrap();
    assert!((secs - headroom / (2.0 * MIB as f64 / 10.0)).abs() < 1.0, "{secs}");
    assert_eq!(un["exhaustion_limit"], "MemAvailable");
    let leaky = find(suspects, "/usr/bin/leaky-daemon --serve").expect("the leaking command is a suspect");
    assert_eq!(leaky["kind"], "process");
    assert_eq!(leaky["metric"], "pss");
    assert_eq!(leaky["growth_per_hour"].as_i64(), Some(360 * MIB as i64));
    assert!(find(suspects, "/usr/bin/steady").is_none(), "the flat command is not a suspect");
    // The slab cache that jumped once is a step, not a leak.
    assert!(find(suspects, "dentry").is_none());
    let dentry = find(&doc["not_leaks"], "dentry").expect("the dentry step is listed as not a leak");
    assert_eq!(dentry["verdict"], "step");
    assert_eq!(dentry["step_at_unix_ms"].as_u64(), Some(T0 + 20 * 10_000));
    // Soonest exhaustion first: unaccounted (2 MiB/10 s) before the process (1 MiB/10 s).
    let names: Vec<&str> = suspects.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(pos("unaccounted") < pos("/usr/bin/leaky-daemon --serve"), "{names:?}");
    // Beside each suspect, the memory pressure over its window.
    let p = &leaky["pressure"];
    assert_eq!(p["readings"], STEPS);
    assert_eq!(p["some_avg10_max"], 0.5 * (STEPS - 1) as f64);
    assert_eq!(p["some_stall_growth_usec"], 50_000 * (STEPS - 1));
    assert_eq!(p["full_stall_growth_usec"], 10_000 * (STEPS - 1));

    // The table says the same.
    let out = memscope(&["leaks", "--db", db.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Leak suspects in 40 snapshots"), "{text}");
    assert!(text.contains("leaky-daemon --serve"), "{text}");
    assert!(text.contains("+720 MiB"), "{text}");
    assert!(text.contains("one jump of +64.0 MiB"), "{text}");
    assert!(text.contains("pressure meanwhile") && text.contains("max 19.50%, +1.9 s stalled"), "{text}");
    // No `trace --pid` for its processes: they ran on the machine that
    // recorded it, not here (the live test sees it suggested).
    assert!(!leaky["pids"].as_array().unwrap().is_empty());
    assert!(!text.contains("memscope trace --pid"), "{text}");
}

#[test]
fn leaks_follows_descriptors_open_files_and_cgroups_to_their_limits() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db_with_fds(dir.path());
    let doc = json_of(&["leaks", "--db", db.to_str().unwrap(), "--json"]);
    let suspects = &doc["suspects"];
    let of = |kind: &str, name: &str| {
        suspects
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["kind"] == kind && s["name"] == name)
            .unwrap_or_else(|| panic!("{kind} {name} is a suspect: {suspects:#}"))
            .clone()
    };
    let close = |v: &Value, want: f64| (v.as_f64().unwrap() - want).abs() < 1e-6 * want.abs().max(1.0);

    // Descriptors: 1 a second, 534 left under the soft RLIMIT_NOFILE.
    let fds = of("process_fds", "/usr/bin/leaky-daemon --serve");
    assert_eq!((fds["metric"].as_str(), fds["unit"].as_str()), (Some("fds"), Some("count")));
    assert_eq!(fds["verdict"], "growing");
    assert_eq!(fds["last"], 490);
    assert_eq!(fds["growth_per_hour"], 3600);
    assert_eq!(fds["exhaustion_limit"], "RLIMIT_NOFILE");
    assert_eq!(fds["headroom"], 534);
    assert!(close(&fds["exhaustion_seconds"], 534.0), "{fds}");
    assert!(!suspects.as_array().unwrap().iter().any(|s| s["name"] == "/usr/bin/steady"));

    // Open files of the system: 2 a second, 94220 left under file-max.
    let files = of("system_files", "file-nr");
    assert_eq!(files["metric"], "files");
    assert_eq!(files["growth_per_hour"], 7200);
    assert_eq!(files["exhaustion_limit"], "file-max");
    assert!(close(&files["exhaustion_seconds"], 94220.0 / 2.0), "{files}");

    // Memory cgroups: the child without a limit runs into its parent's
    // (1024 − 439 = 585 MiB left at 0.1 MiB/s); /batch, with no limit up its
    // path, into MemAvailable; the flat one is not a suspect.
    for path in ["/app", "/app/web"] {
        let c = of("cgroup", path);
        assert_eq!(c["metric"], "current");
        assert_eq!(c["growth_per_hour"].as_i64(), Some(360 * MIB as i64));
        assert_eq!(c["exhaustion_limit"], "memory.limit_in_bytes of /app", "{c}");
        assert_eq!(c["headroom"].as_i64(), Some(585 * MIB as i64));
        assert!(close(&c["exhaustion_seconds"], 5850.0), "{c}");
    }
    let batch = of("cgroup", "/batch");
    assert_eq!(batch["exhaustion_limit"], "MemAvailable");
    assert!(!suspects.as_array().unwrap().iter().any(|s| s["name"] == "/steady" && s["kind"] == "cgroup"));
    // What grows in /batch is its page cache (4 MiB a snapshot, 1440 MiB an
    // hour), not its anonymous memory; /app, without a recorded split, has
    // no lines.
    let line = |s: &Value, key: &str| {
        s["lines"].as_array().unwrap().iter().find(|l| l["line"] == key).cloned().unwrap_or_default()
    };
    let cache = line(&batch, "page_cache");
    assert_eq!(cache["verdict"], "growing", "{batch:#}");
    assert_eq!(cache["growth_per_hour_bytes"].as_i64(), Some(1440 * MIB as i64));
    assert_eq!(cache["change_bytes"].as_i64(), Some(156 * MIB as i64));
    assert_eq!(line(&batch, "anon")["verdict"], "flat");
    assert!(of("cgroup", "/app").get("lines").is_none());
    // /steady's charge is flat, but its socket buffers (outside the usage)
    // grow: a suspect of their own, running into MemAvailable.
    let sock = of("cgroup_line", "/steady");
    assert_eq!((sock["metric"].as_str(), sock["verdict"].as_str()), (Some("sock"), Some("growing")));
    assert_eq!(sock["growth_per_hour"].as_i64(), Some(360 * MIB as i64));
    assert_eq!(sock["exhaustion_limit"], "MemAvailable");
    assert_eq!(line(&sock, "sock")["in_usage"], false);
    let table = String::from_utf8(memscope(&["leaks", "--db", db.to_str().unwrap()]).stdout).unwrap();
    let joined = table.replace("\n  ", " ");
    for want in [
        "- /batch: page_cache +156 MiB over 6 min (growing), anon flat",
        "- /steady: sock +39.0 MiB over 6 min (growing, not in the usage), anon flat",
    ] {
        assert!(joined.contains(want), "{want:?} in\n{table}");
    }

    // The leaking process is in /app/web: its memory runs into /app's limit
    // before MemAvailable.
    let p = of("process", "/usr/bin/leaky-daemon --serve");
    assert_eq!(p["exhaustion_limit"], "memory.limit_in_bytes of /app");
    assert!(close(&p["exhaustion_seconds"], 5850.0), "{p}");
    assert!(
        doc["notes"].as_array().unwrap().iter().all(|n| !n.as_str().unwrap().contains("older memscope")),
        "{:#}",
        doc["notes"]
    );

    // The table shows them, with their limits.
    let out = memscope(&["leaks", "--db", db.to_str().unwrap(), "--top", "50"]);
    let text = String::from_utf8(out.stdout).unwrap();
    for want in ["process fds", "RLIMIT_NOFILE 534", "system files", "file-max 94220", "cgroup memory"] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
}

#[test]
fn leaks_of_a_recording_without_descriptors_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let doc = json_of(&["leaks", "--db", db.to_str().unwrap(), "--json"]);
    let notes: Vec<&str> = doc["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert!(notes.iter().any(|n| n.contains("No snapshot holds descriptor counts")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("No snapshot holds the memory cgroups")), "{notes:?}");
    let kinds: Vec<&str> =
        doc["suspects"].as_array().unwrap().iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert!(kinds.iter().all(|k| !["process_fds", "system_files", "cgroup"].contains(k)), "{kinds:?}");
}

#[test]
fn leaks_respects_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let db = db.to_str().unwrap();
    // Ids 1..=10 only: 10 snapshots.
    let doc = json_of(&["leaks", "--db", db, "--json", "--from", "1", "--to", "10"]);
    assert_eq!(doc["snapshots"], 10);
    // By time: the last 5 snapshots (40 s before the last one).
    let from =
        humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + Duration::from_millis(T0 + 35 * 10_000));
    let doc = json_of(&["leaks", "--db", db, "--json", "--from", &from.to_string()]);
    assert_eq!(doc["snapshots"], 5);
    // Spread: at most 12 points.
    let doc = json_of(&["leaks", "--db", db, "--json", "--points", "12"]);
    assert_eq!(doc["snapshots"], 12);
}

#[test]
fn diff_of_first_and_last_gives_the_known_changes() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let db = db.to_str().unwrap();
    let doc = json_of(&["diff", "--db", db, "--json"]);
    assert_eq!(doc["schema"], "memscope.diff/1");
    assert_eq!((doc["from_id"].as_i64(), doc["to_id"].as_i64()), (Some(1), Some(40)));
    let growth = 2 * MIB as i64 * 39;
    assert_eq!(
        doc["unaccounted_to_bytes"].as_i64().unwrap() - doc["unaccounted_from_bytes"].as_i64().unwrap(),
        growth
    );
    let line = |cat: &str| {
        doc["ledger"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["category"] == cat && l["name"].is_null())
            .unwrap()
            .clone()
    };
    assert_eq!(line("unaccounted")["delta_bytes"].as_i64(), Some(growth));
    assert_eq!(line("free")["delta_bytes"].as_i64(), Some(-growth));
    assert_eq!(line("anon")["delta_bytes"].as_i64(), Some(0));
    let top = &doc["processes"][0];
    assert_eq!(top["name"], "/usr/bin/leaky-daemon --serve");
    assert_eq!(top["delta_bytes"].as_i64(), Some(39 * MIB as i64));
    assert_eq!(top["metric"], "pss");
    assert_eq!(doc["slab_caches"][0]["name"], "dentry");
    // By ids, and the table.
    let doc = json_of(&["diff", "--db", db, "--json", "3", "5"]);
    assert_eq!(line_delta(&doc, "unaccounted"), Some(4 * MIB as i64));
    let out = memscope(&["diff", "--db", db]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Snapshot 1 (") && text.contains("→ snapshot 40"), "{text}");
    assert!(text.contains("+78.0 MiB"), "{text}");
    // A later first snapshot is refused.
    assert!(!memscope(&["diff", "--db", db, "9", "3"]).status.success());
}

#[test]
fn diff_shows_descriptor_file_and_cgroup_movers() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db_with_fds(dir.path());
    let db = db.to_str().unwrap();
    let doc = json_of(&["diff", "--db", db, "--json"]);
    // 100 → 490 descriptors; the steady command did not move.
    let fds = doc["process_fds"].as_array().unwrap();
    assert_eq!(fds.len(), 1, "{fds:#?}");
    let leaky = &fds[0];
    assert_eq!(leaky["name"], "/usr/bin/leaky-daemon --serve");
    assert_eq!((leaky["from_fds"].as_u64(), leaky["to_fds"].as_u64()), (Some(100), Some(490)));
    assert_eq!(leaky["delta_fds"], 390);
    assert_eq!(leaky["nofile_soft"], 1024);
    assert_eq!(leaky["processes"], serde_json::json!([1, 1]));
    let f = &doc["file_nr"];
    assert_eq!((f["from_allocated"].as_u64(), f["to_allocated"].as_u64()), (Some(5000), Some(5780)));
    assert_eq!((f["delta"].as_i64(), f["file_max"].as_u64()), (Some(780), Some(100_000)));
    // Largest first: /batch (+156 MiB, one OOM kill), then /app and /app/web
    // (+39 MiB each); /steady did not move.
    let cg = doc["cgroups"].as_array().unwrap();
    let paths: Vec<&str> = cg.iter().map(|c| c["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/batch", "/app", "/app/web"]);
    assert_eq!(cg[0]["delta_bytes"].as_i64(), Some(156 * MIB as i64));
    assert_eq!(cg[0]["oom_kills"], 1);
    // Its ledger's lines: all of it is page cache.
    let delta = |c: &Value, key: &str| {
        c["lines"].as_array().unwrap().iter().find(|l| l["line"] == key).map(|l| l["delta_bytes"].clone())
    };
    assert_eq!(delta(&cg[0], "page_cache"), Some(Value::from(156 * MIB)));
    assert_eq!(delta(&cg[0], "anon"), Some(Value::from(0)));
    assert!(cg[1].get("lines").is_none(), "no split recorded for /app");
    assert!(cg[0]["limit_bytes"].is_null(), "no limit");
    assert_eq!(cg[1]["limit_bytes"].as_i64(), Some(1024 * MIB as i64));
    assert_eq!(
        (cg[1]["delta_bytes"].as_i64(), cg[1]["oom_kills"].as_i64()),
        (Some(39 * MIB as i64), Some(0))
    );
    let out = memscope(&["diff", "--db", db]);
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "Open descriptors (by command line): largest changes",
        "Open files of the system (file-nr): 5000 → 5780 (+780), file-max 100000.",
        "+390",
        "Memory cgroups: largest changes",
        "+156 MiB",
        "1.0 GiB",
        "page_cache",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }

    // A recording without them says so, in JSON (null) and in the table.
    let old = fixture_db(dir.path());
    let old = old.to_str().unwrap();
    let doc = json_of(&["diff", "--db", old, "--json"]);
    assert!(doc["process_fds"].is_null() && doc["file_nr"].is_null() && doc["cgroups"].is_null(), "{doc:#}");
    let text = String::from_utf8(memscope(&["diff", "--db", old]).stdout).unwrap();
    assert!(text.contains("Not in these snapshots (recorded without descriptor counts)."), "{text}");
}

fn line_delta(doc: &Value, cat: &str) -> Option<i64> {
    doc["ledger"].as_array()?.iter().find(|l| l["category"] == cat && l["name"].is_null())?["delta_bytes"]
        .as_i64()
}

#[test]
fn plot_renders_a_png_and_an_svg_of_the_fixture_recording() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let png_path = dir.path().join("ledger.png");
    let out = memscope(&["plot", "--db", db.to_str().unwrap(), "--out", png_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&png_path).unwrap();
    assert!(bytes.len() > 20_000, "a real picture, not a blank one: {} bytes", bytes.len());
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a valid PNG");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).expect("decodes");
    assert_eq!((info.width, info.height), (1200, 900));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let px = &buf[..info.buffer_size()];
    let count = |f: &dyn Fn(&[u8]) -> bool| px.chunks(3).filter(|c| f(c)).count();
    // The unaccounted red (215, 25, 28) is drawn, and text (near black).
    assert!(count(&|c| c == [215, 25, 28]) > 500, "unaccounted is highlighted in red");
    assert!(count(&|c| c[0] < 60 && c[1] < 60 && c[2] < 60) > 2_000, "titles, axes and legends");

    let svg_path = dir.path().join("ledger.svg");
    let out = memscope(&[
        "plot",
        "--db",
        db.to_str().unwrap(),
        "--out",
        svg_path.to_str().unwrap(),
        "--width",
        "800",
        "--height",
        "600",
    ]);
    assert!(out.status.success());
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("width=\"800\""));
    for text in [
        "fixture-host",
        "Memory ledger over time",
        "unaccounted",
        // The legend leads with the rate and is cut to the legend's width.
        "+360 MiB/h leaky-daemon",
        "memory (GiB)",
        "time (UTC)",
    ] {
        assert!(svg.contains(text), "the SVG shows {text:?}");
    }
    // A wrong extension is refused before anything is read.
    assert!(!memscope(&["plot", "--db", db.to_str().unwrap(), "--out", "x.jpg"]).status.success());
}

#[test]
fn reading_commands_explain_a_missing_recording() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.db");
    for cmd in ["leaks", "diff"] {
        let out = memscope(&[cmd, "--db", missing.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no recording here") && err.contains("memscope record"), "{err}");
    }
    assert!(!missing.exists(), "reading never creates a database");
}

#[test]
fn record_once_writes_one_private_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sub/dir/rec.db");
    let out = memscope(&["record", "--db", db.to_str().unwrap(), "--once"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 snapshots into") && err.contains("ms to collect"), "{err}");
    assert!(err.contains("bytes per process per snapshot"), "{err}");
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "command lines are private");
    let mut store = Store::open_read_only(&db).unwrap();
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].collect_cpu_usec.is_some());
    let snap = store.read(list[0].id).unwrap();
    assert!(!snap.processes.is_empty());
    assert!(snap.meminfo.is_ok());
    // Descriptors and memory cgroups are recorded too.
    let fs = snap.fd_system.as_ref().expect("file-nr is recorded");
    assert!(fs.file_nr.as_ref().is_ok_and(|f| f.max > 0), "{:?}", fs.file_nr);
    assert!(snap.cgroups.is_some(), "the memory cgroups are recorded (or why not)");
    let with_table: Vec<_> = snap.processes.iter().filter_map(|p| p.fds.as_ref()).collect();
    assert!(!with_table.is_empty(), "processes with a descriptor table are counted");
    if is_root() {
        // Root reads every process's descriptors and limits.
        assert!(with_table.iter().all(|f| f.count.is_ok() && f.nofile.is_ok()));
        assert!(matches!(&snap.cgroups, Some(Ok(_))), "{:?}", snap.cgroups);
    }
}

#[test]
fn record_with_retention_keeps_the_database_under_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cap.db");
    let root = fixture_tree();
    let out = memscope(&[
        "--root",
        root.to_str().unwrap(),
        "record",
        "--db",
        db.to_str().unwrap(),
        "--interval",
        "0.01",
        "--count",
        "60",
        "--max-size",
        "600K",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let store = Store::open_read_only(&db).unwrap();
    assert!(store.used_bytes().unwrap() <= 600 * 1024);
    let n = store.list().unwrap().len();
    assert!(n > 0 && n < 60, "{n} snapshots kept");
    assert!(String::from_utf8_lossy(&out.stderr).contains("deleted by the retention"));
}

/// Start `memscope record -v` on `db`; the ids it reports committed arrive
/// on the returned channel.
fn spawn_recorder(db: &Path, interval: &str) -> (std::process::Child, std::sync::mpsc::Receiver<i64>) {
    let mut child = Command::new(EXE)
        .args(["record", "--db", db.to_str().unwrap(), "--interval", interval, "-v"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(id) =
                line.strip_prefix("snapshot ").and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok())
            {
                let _ = tx.send(id);
            }
        }
    });
    (child, rx)
}

#[test]
fn kill_9_at_any_moment_loses_at_most_the_snapshot_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("killed.db");
    let mut committed: Vec<i64> = Vec::new();
    // Each round: once the recorder has committed a snapshot, kill it at a
    // deterministic pseudo-random moment 0 to 400 ms later (while it
    // collects, writes or sleeps), whatever the load of the machine.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..20 {
        let (mut child, ids) = spawn_recorder(&db, "0.05");
        let first = ids.recv_timeout(Duration::from_secs(120)).expect("the recorder commits a snapshot");
        committed.push(first);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::thread::sleep(Duration::from_millis(x % 400));
        // SAFETY: SIGKILL to our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        committed.extend(ids.try_iter());
        assert!(db.exists() || round == 0);
    }
    assert!(committed.len() >= 20, "only {} snapshots were committed", committed.len());
    let mut store = Store::open(&db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), vec!["ok"]);
    let present: Vec<i64> = store.list().unwrap().iter().map(|s| s.id).collect();
    for id in &committed {
        assert!(present.contains(id), "committed snapshot {id} is missing after kill -9");
    }
    // At most one per kill beyond those reported (committed, killed before printing).
    assert!(present.len() <= committed.len() + 20);
    for id in &present {
        let s = store.read(*id).unwrap_or_else(|e| panic!("snapshot {id} unreadable: {e}"));
        memscope_analysis::ledger::build(&s, &Default::default()).expect("a ledger from every snapshot");
    }
    // And recording goes on in the same database.
    let out = memscope(&["record", "--db", db.to_str().unwrap(), "--once"]);
    assert!(out.status.success());
    assert_eq!(Store::open_read_only(&db).unwrap().list().unwrap().len(), present.len() + 1);
}

#[test]
fn a_reader_runs_while_record_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("busy.db");
    let (mut child, ids) = spawn_recorder(&db, "0.05");
    let first = ids.recv_timeout(Duration::from_secs(120)).expect("a first snapshot");
    let started = Instant::now();
    let mut reads = 0;
    let mut store = Store::open_read_only(&db).unwrap();
    while started.elapsed() < Duration::from_secs(3) || reads < 3 {
        let list = store.list().unwrap();
        let last = list.last().unwrap();
        assert!(last.id >= first);
        store.read(last.id).unwrap();
        let out = memscope(&["diff", "--db", db.to_str().unwrap(), "--json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        reads += 1;
    }
    // SIGTERM: the recorder finishes its snapshot and stops cleanly.
    // SAFETY: signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM is a clean stop: {status:?}");
    assert!(reads >= 3);
    let n = Store::open_read_only(&db).unwrap().list().unwrap().len();
    assert!(n > ids.try_iter().count(), "snapshots were written while reading");
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", dir.path().to_str()?])
            .status()
            .ok()?
            .success();
        ok.then_some(SmallDisk { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_stops_record_cleanly_with_a_clear_error() {
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let Some(disk) = SmallDisk::mount("1m") else {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    };
    let db = disk.dir.path().join("full.db");
    let mut child = Command::new(EXE)
        .args(["record", "--db", db.to_str().unwrap(), "--interval", "0.02"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "record never hit the full disk");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("disk full") && err.contains("stopped"), "a clear error: {err}");
    let mut store = Store::open_read_only(&db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), vec!["ok"]);
    let list = store.list().unwrap();
    assert!(!list.is_empty(), "snapshots were written before the disk filled");
    for s in &list {
        store.read(s.id).unwrap();
    }
}

#[test]
fn leaks_watch_records_in_memory_then_judges() {
    // 2 s every 250 ms: 9 snapshots, enough to judge a trend (8).
    let out = memscope(&["leaks", "--watch", "2s", "--interval", "250ms", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["snapshots"], 9);
    assert!(!doc["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("at least 8")));
}

/// Where a live test keeps its recording: a private tmpfs when it can
/// mount one (root), so that the test does not depend on the free space of
/// a disk other work fills and empties; else a temporary directory.
fn recording_dir() -> (Option<SmallDisk>, tempfile::TempDir) {
    let disk = if is_root() { SmallDisk::mount("64m") } else { None };
    (disk, tempfile::tempdir().unwrap())
}

fn db_in(dirs: &(Option<SmallDisk>, tempfile::TempDir), name: &str) -> PathBuf {
    match &dirs.0 {
        Some(disk) => disk.dir.path().join(name),
        None => dirs.1.path().join(name),
    }
}

/// The suspects of `kind` that include one of `w`'s processes: a workload
/// is found by its pids, never by its command line, which other processes
/// on the machine (other checkouts' tests and benchmarks) may share.
fn of<'a>(doc: &'a Value, kind: &str, w: &Workload) -> Vec<&'a Value> {
    doc["suspects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == kind)
        .filter(|s| {
            s["pids"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| w.pids.contains(&(p.as_u64().unwrap() as u32))))
        })
        .collect()
}

fn suspect_names(doc: &Value) -> Vec<String> {
    doc["suspects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{} {} {}", s["kind"], s["name"], s["pids"]))
        .collect()
}

#[test]
fn a_live_leak_is_found_and_a_flat_process_is_not() {
    if !is_root() {
        eprintln!("skipped: the live leak test needs root (slabinfo, other processes' PSS)");
        return;
    }
    let _lock = system_lock();
    let dirs = recording_dir();
    let db = db_in(&dirs, "live.db");
    let grower = Workload::spawn(&["grow", "--mib-per-sec", "2"]);
    let piper = Workload::spawn(&["pipe-grow", "--mib-per-sec", "4"]);
    let flat = Workload::spawn(&["touch", "--private", "32"]);
    let out = memscope(&["record", "--db", db.to_str().unwrap(), "--interval", "1", "--count", "40"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json_of(&["leaks", "--db", db.to_str().unwrap(), "--json", "--top", "1000"]);
    let names = suspect_names(&doc);
    assert_eq!(doc["snapshots"], 40);
    let grow = of(&doc, "process", &grower);
    assert_eq!(grow.len(), 1, "the growing child is a suspect: {names:#?}");
    // 2 MiB per second: 7 GiB per hour, within 20%.
    let rate = grow[0]["growth_per_hour"].as_f64().unwrap();
    assert!((rate - 7200.0 * MIB as f64).abs() < 0.2 * 7200.0 * MIB as f64, "growth {rate}");
    let un = doc["suspects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "kernel" && s["name"] == "unaccounted")
        .unwrap_or_else(|| panic!("unaccounted (the pipes) is a suspect: {names:#?}"));
    let rate = un["growth_per_hour"].as_f64().unwrap();
    assert!(rate > 0.5 * 4.0 * 3600.0 * MIB as f64, "unaccounted grows with the pipes: {rate}");
    for kind in ["process", "process_fds"] {
        assert!(of(&doc, kind, &flat).is_empty(), "the flat child is not a suspect: {names:#?}");
    }
    assert!(of(&doc, "process", &piper).is_empty(), "the pipe holder's own memory is flat: {names:#?}");
    // Its descriptors are not: two more per pipe, 8 a second.
    let fds = of(&doc, "process_fds", &piper);
    assert_eq!(fds.len(), 1, "the pipe holder's descriptors are a suspect: {names:#?}");
    let rate = fds[0]["growth_per_hour"].as_f64().unwrap();
    assert!((rate - 8.0 * 3600.0).abs() < 0.2 * 8.0 * 3600.0, "{rate} descriptors/h");
    // The table names the command that shows which code holds the memory,
    // for the grower while it runs, and no longer once it has exited.
    let pid = grow[0]["pids"][0].as_u64().unwrap();
    let want = format!("memscope trace --pid {pid} --duration 60s");
    let table = |args: &[&str]| String::from_utf8(memscope(args).stdout).unwrap();
    let args = ["leaks", "--db", db.to_str().unwrap(), "--top", "1000"];
    assert!(table(&args).contains(&want), "{want} suggested: {}", table(&args));
    drop((grower, piper, flat));
    let gone = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() && gone.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!table(&args).contains(&want), "{want} not suggested once it exited: {}", table(&args));
}

#[test]
fn a_live_descriptor_leak_is_found_with_its_time_to_rlimit_nofile() {
    // file-nr is system-wide: the other tests that count it wait.
    let _lock = system_lock();
    let dirs = recording_dir();
    let db = db_in(&dirs, "fds.db");
    let (per_sec, soft) = (20.0, 4096.0);
    let leaker = Workload::spawn(&["fd-grow", "--per-sec", "20", "--soft", "4096"]);
    let flat = Workload::spawn(&["fd-grow", "--per-sec", "0", "--start", "300"]);
    assert_eq!(leaker.info[0], "soft=4096");
    let out = memscope(&["record", "--db", db.to_str().unwrap(), "--interval", "1", "--count", "30"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json_of(&["leaks", "--db", db.to_str().unwrap(), "--json"]);
    assert_eq!(doc["snapshots"], 30);
    let names = suspect_names(&doc);
    let fds = of(&doc, "process_fds", &leaker);
    assert_eq!(fds.len(), 1, "the descriptor leak is a suspect: {names:#?}");
    let fds = fds[0];
    assert_eq!(fds["verdict"], "growing");
    // 20 a second: 72000 an hour, within 10%.
    let rate = fds["growth_per_hour"].as_f64().unwrap();
    assert!((rate - per_sec * 3600.0).abs() < 0.1 * per_sec * 3600.0, "growth {rate}/h");
    // Its limit is its own soft RLIMIT_NOFILE, and the time left is what
    // remains of it at 20 a second, within 10%.
    assert_eq!(fds["exhaustion_limit"], "RLIMIT_NOFILE");
    let last = fds["last"].as_f64().unwrap();
    assert_eq!(fds["headroom"].as_f64(), Some(soft - last));
    let want = (soft - last) / per_sec;
    let secs = fds["exhaustion_seconds"].as_f64().unwrap();
    assert!((secs - want).abs() < 0.1 * want, "{secs} s to RLIMIT_NOFILE, expected {want:.0} s");
    assert!(of(&doc, "process_fds", &flat).is_empty(), "the flat holder is not a suspect: {names:#?}");
    for w in [&leaker, &flat] {
        assert!(of(&doc, "process", w).is_empty(), "descriptors are not memory: {names:#?}");
    }
    drop((leaker, flat));
}

#[test]
fn a_growing_memory_cgroup_is_found_with_its_time_to_its_limit() {
    use memscope_control::cgroup::transient::{Limits, TransientCgroup, plan};
    use memscope_kernel::cgroup::{Layout, Version};
    if !is_root() {
        eprintln!("skipped: creating a memory cgroup needs root");
        return;
    }
    let _cgroups = cgroup_lock();
    let _lock = system_lock();
    let root = KernelRoot::live();
    let layout = Layout::detect(&root).expect("mountinfo");
    if layout.controller("memory").is_none() {
        eprintln!("skipped: no memory controller");
        return;
    }
    let limit = 512 * MIB;
    let limits = Limits { memory_bytes: Some(limit), ..Limits::default() };
    let p = plan(&root, &layout, &format!("t-leaks-{}", std::process::id()), &limits).expect("plan");
    // Removed when dropped, after the workload (dropped first), also when an
    // assertion fails.
    let cg = TransientCgroup::create(&root, &layout, &p).expect("create the cgroup");
    cg.apply(&limits).expect("set its limit");
    let procs = format!("{}/cgroup.procs", p.placement("memory").unwrap().dir);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("echo $$ > {procs} && exec {} grow --mib-per-sec 4", workload_path().display()));
    let grower = Workload::spawn_command(cmd);
    assert_eq!(cg.procs(), vec![grower.pid()], "the workload runs in the cgroup");
    let dirs = recording_dir();
    let db = db_in(&dirs, "cgroup.db");
    let out = memscope(&["record", "--db", db.to_str().unwrap(), "--interval", "1", "--count", "30"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = json_of(&["leaks", "--db", db.to_str().unwrap(), "--json"]);
    let names = suspect_names(&doc);
    let c = doc["suspects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "cgroup" && s["name"] == p.path.as_str())
        .unwrap_or_else(|| panic!("the cgroup {} is a suspect: {names:#?}", p.path));
    assert_eq!(c["verdict"], "growing");
    let limit_file = match p.version() {
        Some(Version::V2) => "memory.max",
        _ => "memory.limit_in_bytes",
    };
    let limit_name = format!("{limit_file} of {}", p.path);
    assert_eq!(c["exhaustion_limit"], limit_name.as_str());
    let headroom = c["headroom"].as_f64().unwrap();
    assert_eq!(headroom, limit as f64 - c["last"].as_f64().unwrap());
    // 4 MiB a second, within 20%; the time left is the headroom at that rate.
    let per_sec = 4.0 * MIB as f64;
    let rate = c["growth_per_hour"].as_f64().unwrap() / 3600.0;
    assert!((rate - per_sec).abs() < 0.2 * per_sec, "{rate} bytes/s");
    let want = headroom / per_sec;
    let secs = c["exhaustion_seconds"].as_f64().unwrap();
    assert!((secs - want).abs() < 0.2 * want, "{secs} s to the limit, expected {want:.0} s");
    // The process in it runs into the same limit before MemAvailable.
    let grown = of(&doc, "process", &grower);
    assert_eq!(grown.len(), 1, "the growing process is a suspect: {names:#?}");
    assert_eq!(grown[0]["exhaustion_limit"], limit_name.as_str());
    drop(grower);
    cg.remove(&mut || {}).expect("remove the cgroup");
}
