//! A lasting guard against bad input: captured trees with every file
//! memscope reads mutated in systematic ways (cut short, random bytes,
//! absurd numbers, a directory, a FIFO, a link loop, `/dev/zero`, a large
//! sparse file), run through every command that reads a tree. No run may
//! panic, run past a deadline, or print a negative or impossible figure in
//! JSON without saying it is invalid or unavailable.
//!
//! The mutations are chosen deterministically (a fixed seed), so a failure
//! reproduces; the runs are spread over threads, one copy of the trees each.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const EXE: &str = env!("CARGO_BIN_EXE_memscope");
/// Longest a command may take on a mutated tree (debug build, busy machine).
const DEADLINE: Duration = Duration::from_secs(10);
/// No figure in bytes may exceed 4 PiB: more than any machine can address.
const MAX_BYTES: i64 = 1 << 52;

/// A command line, and whether its output is JSON to check.
struct Cmd {
    args: &'static [&'static str],
    json: bool,
}

const fn t(args: &'static [&'static str]) -> Cmd {
    Cmd { args, json: false }
}

const fn j(args: &'static [&'static str]) -> Cmd {
    Cmd { args, json: true }
}

/// A base tree, the commands that read it, and which of its files to mutate.
struct Base {
    fixture: &'static str,
    commands: &'static [Cmd],
    /// Keep one in `n` of the files under `/sys/kernel/slab` (hundreds of
    /// one-byte flag files, all read the same way).
    slab_every: usize,
    /// Mutate the files of this many process directories (the others are
    /// read the same way).
    pids: usize,
}

const BASES: &[Base] = &[
    Base {
        fixture: "views-6.18-x86_64",
        commands: &[
            t(&["report"]),
            j(&["--json", "report"]),
            j(&["--json", "ps"]),
            j(&["--json", "maps", "25685"]),
            j(&["--json", "numa"]),
            j(&["--json", "zones"]),
            j(&["--json", "slab"]),
            j(&["--json", "vmalloc"]),
            t(&["fds"]),
            t(&["rt", "check"]),
        ],
        slab_every: 12,
        pids: 6,
    },
    Base {
        fixture: "live-6.18-firecracker-2cpu",
        commands: &[t(&["report"]), j(&["--json", "report"]), j(&["--json", "ps"]), j(&["--json", "zones"])],
        slab_every: 40,
        pids: 2,
    },
    Base {
        fixture: "top-fds-cgroups",
        commands: &[t(&["fds"]), j(&["--json", "fds"]), t(&["cgroups"]), j(&["--json", "cgroups"])],
        slab_every: 1,
        pids: 3,
    },
    Base {
        fixture: "pagemap-handmade",
        commands: &[j(&["--json", "phys"]), j(&["--json", "pages", "4242"]), t(&["pages", "4243"])],
        slab_every: 1,
        pids: 3,
    },
];

/// How a file is mutated.
#[derive(Debug, Clone, Copy)]
enum Mutation {
    Empty,
    /// Cut at this fraction (in 1/8) of its length.
    Truncate(u8),
    /// Bytes from a seeded generator, as many as the file had.
    RandomBytes(u64),
    /// Every number in the file replaced by this text.
    Numbers(&'static str),
    Directory,
    LinkLoop,
    Fifo,
    DevZero,
    Sparse,
}

const NUMBERS: &[&str] = &[
    "18446744073709551615",
    "9223372036854775807",
    "-1",
    "99999999999999999999999",
    "0",
    "4611686018427387904",
];
/// Mutations of what a file is rather than what it holds: KernelRoot
/// treats every path alike, so each file gets one of them, in turn.
const KINDS: &[Mutation] =
    &[Mutation::Directory, Mutation::LinkLoop, Mutation::Fifo, Mutation::DevZero, Mutation::Sparse];

fn mutations_for(file_index: usize) -> Vec<Mutation> {
    // One cut point, one absurd number and one kind per file, rotating.
    vec![
        Mutation::Empty,
        Mutation::Truncate([3, 6, 1][file_index % 3]),
        Mutation::RandomBytes(0x5eed ^ file_index as u64),
        Mutation::Numbers(NUMBERS[file_index % NUMBERS.len()]),
        KINDS[file_index % KINDS.len()],
    ]
}

/// xorshift64*: a fixed sequence for a seed.
fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

fn replace_numbers(data: &[u8], with: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i].is_ascii_digit() {
            while i < data.len() && data[i].is_ascii_digit() {
                i += 1;
            }
            out.extend_from_slice(with.as_bytes());
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ty = e.file_type().unwrap();
        if ty.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if ty.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Regular files of a tree, relative, sorted.
fn files(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir.join(rel)).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let ty = e.file_type().unwrap();
        let r = rel.join(e.file_name());
        if ty.is_dir() {
            files(dir, &r, out);
        } else if ty.is_file() {
            out.push(r);
        }
    }
}

fn remove_any(p: &Path) {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p).unwrap(),
        Ok(_) => std::fs::remove_file(p).unwrap(),
        Err(_) => {}
    }
}

fn apply(path: &Path, original: &[u8], m: Mutation) {
    remove_any(path);
    match m {
        Mutation::Empty => std::fs::write(path, b"").unwrap(),
        Mutation::Truncate(eighths) => {
            std::fs::write(path, &original[..original.len() * eighths as usize / 8]).unwrap()
        }
        Mutation::RandomBytes(seed) => {
            std::fs::write(path, random_bytes(seed, original.len().max(64))).unwrap()
        }
        Mutation::Numbers(n) => std::fs::write(path, replace_numbers(original, n)).unwrap(),
        Mutation::Directory => std::fs::create_dir(path).unwrap(),
        Mutation::LinkLoop => std::os::unix::fs::symlink(path.file_name().unwrap(), path).unwrap(),
        Mutation::Fifo => {
            rustix::fs::mknodat(rustix::fs::CWD, path, rustix::fs::FileType::Fifo, 0o600.into(), 0).unwrap()
        }
        Mutation::DevZero => std::os::unix::fs::symlink("/dev/zero", path).unwrap(),
        // Larger than every read cap, and costs no disk.
        Mutation::Sparse => File::create(path).unwrap().set_len(2 << 30).unwrap(),
    }
}

fn restore(path: &Path, original: &[u8]) {
    remove_any(path);
    std::fs::write(path, original).unwrap();
}

/// Run one command on a tree with a deadline; `Err` describes a failure.
fn run(root: &Path, cmd: &Cmd, scratch: &Path) -> Result<(), String> {
    run_with(Some(root), cmd.args, cmd.json, scratch)
}

fn run_with(root: Option<&Path>, args: &[&str], json: bool, scratch: &Path) -> Result<(), String> {
    let (out_path, err_path) = (scratch.join("stdout"), scratch.join("stderr"));
    let mut command = Command::new(EXE);
    if let Some(root) = root {
        command.arg("--root").arg(root);
    }
    let mut child = command
        .arg("--no-color")
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {DEADLINE:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    if status.code() == Some(101) || stderr.contains("panicked") {
        let first = stderr.lines().find(|l| l.contains("panicked")).unwrap_or("");
        let next = stderr.lines().skip_while(|l| !l.contains("panicked")).nth(1).unwrap_or("");
        return Err(format!("panicked: {first} {next}"));
    }
    if status.code().is_none() {
        return Err(format!("killed by a signal: {status}"));
    }
    if json && status.success() {
        let out = std::fs::read(&out_path).unwrap();
        let doc: serde_json::Value =
            serde_json::from_slice(&out).map_err(|e| format!("exit 0 but not JSON: {e}"))?;
        check_figures(&doc, "").map_err(|e| format!("impossible figure: {e}"))?;
    }
    Ok(())
}

/// Keys that are signed by design (docs/json.md).
fn signed(key: &str, parent: &serde_json::Map<String, serde_json::Value>) -> bool {
    matches!(key, "other_bytes" | "difference_bytes" | "not_in_pss_bytes" | "delta_bytes")
        || key.starts_with("unaccounted")
        || parent.get("category").and_then(|c| c.as_str()) == Some("unaccounted")
}

/// Every number named `*_bytes` or `bytes` is ≥ 0 (unless signed by design)
/// and at most [`MAX_BYTES`]; an impossible figure must have been turned
/// into `null` with a reason.
fn check_figures(v: &serde_json::Value, path: &str) -> Result<(), String> {
    match v {
        serde_json::Value::Object(map) => {
            for (k, x) in map {
                let p = format!("{path}.{k}");
                if (k.ends_with("_bytes") || k == "bytes")
                    && let Some(n) = x.as_number()
                {
                    let ok = match (n.as_i64(), n.as_u64()) {
                        (Some(i), _) => {
                            (i >= 0 || signed(k, map))
                                && (i.unsigned_abs() <= MAX_BYTES as u64 || k.contains("limit"))
                        }
                        // A limit is a setting, and "no limit" may be written as a huge one.
                        (None, Some(u)) => u <= MAX_BYTES as u64 || k.contains("limit"),
                        _ => n.as_f64().is_some_and(|f| f.is_finite() && f.abs() <= MAX_BYTES as f64),
                    };
                    if !ok {
                        return Err(format!("{p} = {n}"));
                    }
                }
                check_figures(x, &p)?;
            }
        }
        serde_json::Value::Array(items) => {
            for x in items {
                check_figures(x, &format!("{path}[]"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// One unit of work: a mutation of one file of one base.
struct Job {
    base: usize,
    file: PathBuf,
    mutation: Mutation,
}

#[test]
fn mutated_trees_never_crash_hang_or_print_impossible_figures() {
    let work = tempfile::tempdir().unwrap();
    let mut jobs = Vec::new();
    for (b, base) in BASES.iter().enumerate() {
        let mut all = Vec::new();
        files(&memscope_testkit::fixture_dir(base.fixture), Path::new(""), &mut all);
        let mut slab_seen = 0;
        let mut pids: Vec<String> = Vec::new();
        for (i, f) in all.into_iter().enumerate() {
            let mut parts = f.iter().map(|p| p.to_string_lossy().into_owned());
            if let (Some(proc_), Some(pid)) = (parts.next(), parts.next())
                && proc_ == "proc"
                && pid.bytes().all(|b| b.is_ascii_digit())
                && f.components().count() > 2
                && !pids.contains(&pid)
            {
                if pids.len() >= base.pids {
                    continue;
                }
                pids.push(pid);
            }
            if f.starts_with("sys/kernel/slab") {
                slab_seen += 1;
                if slab_seen % base.slab_every != 0 {
                    continue;
                }
            }
            for mutation in mutations_for(i) {
                jobs.push(Job { base: b, file: f.clone(), mutation });
            }
        }
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 4);
    let started = Instant::now();
    let results: Vec<(usize, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (jobs, work) = (&jobs, work.path());
                s.spawn(move || {
                    let mine = work.join(format!("t{t}"));
                    let scratch = mine.join("out");
                    std::fs::create_dir_all(&scratch).unwrap();
                    for base in BASES {
                        copy_tree(&memscope_testkit::fixture_dir(base.fixture), &mine.join(base.fixture));
                    }
                    let (mut runs, mut failures) = (0, Vec::new());
                    for job in jobs.iter().skip(t).step_by(threads) {
                        let base = &BASES[job.base];
                        let root = mine.join(base.fixture);
                        let path = root.join(&job.file);
                        let original = std::fs::read(&path).unwrap();
                        apply(&path, &original, job.mutation);
                        for cmd in base.commands {
                            runs += 1;
                            if let Err(e) = run(&root, cmd, &scratch) {
                                failures.push(format!(
                                    "{}: {} as {:?}: memscope {}: {e}",
                                    base.fixture,
                                    job.file.display(),
                                    job.mutation,
                                    cmd.args.join(" ")
                                ));
                            }
                        }
                        restore(&path, &original);
                    }
                    (runs, failures)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let runs: usize = results.iter().map(|r| r.0).sum();
    let failures: Vec<String> = results.into_iter().flat_map(|r| r.1).collect();
    eprintln!(
        "mutation: {} mutations × their base's commands = {runs} runs on {threads} threads in {:.0?}, {} failed",
        jobs.len(),
        started.elapsed(),
        failures.len()
    );
    for f in &failures {
        eprintln!("  {f}");
    }
    assert!(failures.is_empty(), "{} of {runs} runs failed (first: {})", failures.len(), failures[0]);
}

/// A value written over a whole column of a recording.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Int(i64),
    Text(&'static str),
    Null,
}

const INTS: &[Cell] = &[
    Cell::Int(0),
    Cell::Int(-1),
    Cell::Int(i64::MAX),
    Cell::Int(i64::MIN),
    Cell::Null,
    Cell::Int(1 << 62),
    Cell::Int(253_402_300_800_000), // 10000-01-01 in ms
];
const TEXTS: &[Cell] = &[Cell::Text("garbage"), Cell::Null, Cell::Text("{\"kind\":\"io\"}"), Cell::Text("")];
/// Columns every value is tried on: the ones the history commands and the
/// ledger lean on.
const KEY_COLUMNS: &[(&str, &str)] = &[
    ("snapshots", "page_size_bytes"),
    ("snapshots", "taken_at_unix_ms"),
    ("snapshots", "possible_cpus"),
    ("snapshots", "percpu_first_chunk_pages"),
    ("counters", "value"),
    ("process_smaps_rollup", "Pss"),
    ("process_status", "VmRSS"),
    ("slab_caches", "num_slabs"),
    ("hugepage_pools", "nr_hugepages"),
];

/// A recording of three snapshots made by `record` from captured trees.
fn recording(dir: &Path) -> PathBuf {
    let db = dir.join("pristine.db");
    for tree in ["live-6.18-firecracker-2cpu", "top-fds-cgroups", "live-6.18-firecracker-2cpu"] {
        let out = Command::new(EXE)
            .arg("--root")
            .arg(memscope_testkit::fixture_dir(tree))
            .args(["record", "--once", "--db"])
            .arg(&db)
            .output()
            .unwrap();
        assert!(out.status.success(), "record: {}", String::from_utf8_lossy(&out.stderr));
    }
    // Fold the write-ahead log in, so that one file is the whole recording.
    let c = rusqlite::Connection::open(&db).unwrap();
    c.pragma_update(None, "journal_mode", "DELETE").unwrap();
    db
}

/// (table, column, value) for every column but keys, one value each in
/// turn, and every value on [`KEY_COLUMNS`].
fn row_mutations(db: &Path) -> Vec<(String, String, Cell)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = Vec::new();
    let mut n = 0;
    for t in tables {
        let cols: Vec<(String, String, i64)> = c
            .prepare(&format!("PRAGMA table_info({t})"))
            .unwrap()
            .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(5)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (col, ty, pk) in cols {
            if pk > 0 || col == "snapshot_id" {
                continue;
            }
            let values = if ty == "TEXT" { TEXTS } else { INTS };
            if KEY_COLUMNS.contains(&(t.as_str(), col.as_str())) {
                out.extend(values.iter().map(|v| (t.clone(), col.clone(), *v)));
            } else {
                out.push((t.clone(), col.clone(), values[n % values.len()]));
                n += 1;
            }
        }
    }
    out
}

/// Write `value` over a column; `false` when the schema refuses it (NOT
/// NULL, UNIQUE).
fn mutate_db(db: &Path, table: &str, col: &str, value: Cell) -> bool {
    let c = rusqlite::Connection::open(db).unwrap();
    let sql = format!("UPDATE {table} SET \"{col}\" = ?1");
    let r = match value {
        Cell::Int(i) => c.execute(&sql, [i]),
        Cell::Text(s) => c.execute(&sql, [s]),
        Cell::Null => c.execute(&sql, [rusqlite::types::Null]),
    };
    r.is_ok()
}

/// `memscope top --db` without a terminal: the replay, every tab drawn at
/// the last, first and middle snapshot, as `top` draws them.
fn top_replay(db: &Path) -> Result<(), String> {
    use memscope_tui::replay::{Nav, Recording};
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let db = db.to_path_buf();
    std::panic::catch_unwind(move || {
        let Ok(mut rec) = Recording::open(&db) else { return };
        let mut app = memscope_tui::app::App::replay("mutation");
        let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(140, 40)).unwrap();
        for nav in [Nav::Last, Nav::First, Nav::Step(1)] {
            rec.apply(nav);
            app.push_recorded(rec.load());
            for tab in ['1', '2', '3', '4', '5', '6'] {
                app.key(KeyEvent::new(KeyCode::Char(tab), KeyModifiers::NONE));
                term.draw(|f| memscope_tui::ui::draw(f, &mut app)).unwrap();
            }
        }
    })
    .map_err(|e| {
        let msg =
            e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
        format!("panicked: {}", msg.unwrap_or_default())
    })
}

const DB_COMMANDS: &[Cmd] = &[t(&["leaks"]), j(&["--json", "leaks"]), t(&["diff"]), j(&["--json", "diff"])];

#[test]
fn mutated_recordings_never_crash_hang_or_print_impossible_figures() {
    let work = tempfile::tempdir().unwrap();
    let pristine = recording(work.path());
    let jobs = row_mutations(&pristine);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 4);
    let started = Instant::now();
    let results: Vec<(usize, usize, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|th| {
                let (jobs, work, pristine) = (&jobs, work.path(), &pristine);
                s.spawn(move || {
                    let scratch = work.join(format!("t{th}"));
                    std::fs::create_dir_all(&scratch).unwrap();
                    let db = scratch.join("rec.db");
                    let svg = scratch.join("plot.svg");
                    let (mut runs, mut refused, mut failures) = (0, 0, Vec::new());
                    for (table, col, value) in jobs.iter().skip(th).step_by(threads) {
                        std::fs::copy(pristine, &db).unwrap();
                        if !mutate_db(&db, table, col, *value) {
                            refused += 1;
                            continue;
                        }
                        let dbs = db.to_str().unwrap();
                        let mut outcomes = Vec::new();
                        for cmd in DB_COMMANDS {
                            let args: Vec<&str> = cmd.args.iter().copied().chain(["--db", dbs]).collect();
                            outcomes.push((args.join(" "), run_with(None, &args, cmd.json, &scratch)));
                        }
                        let plot = ["plot", "--db", dbs, "--out", svg.to_str().unwrap()];
                        outcomes.push(("plot".into(), run_with(None, &plot, false, &scratch)));
                        outcomes.push(("top --db (replay, headless)".into(), top_replay(&db)));
                        for (what, r) in outcomes {
                            runs += 1;
                            if let Err(e) = r {
                                failures.push(format!("{table}.{col} = {value:?}: memscope {what}: {e}"));
                            }
                        }
                    }
                    (runs, refused, failures)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let runs: usize = results.iter().map(|r| r.0).sum();
    let refused: usize = results.iter().map(|r| r.1).sum();
    let failures: Vec<String> = results.into_iter().flat_map(|r| r.2).collect();
    eprintln!(
        "mutation: {} row mutations ({refused} refused by the schema) × 6 commands = {runs} runs on {threads} \
         threads in {:.0?}, {} failed",
        jobs.len(),
        started.elapsed(),
        failures.len()
    );
    for f in &failures {
        eprintln!("  {f}");
    }
    assert!(failures.is_empty(), "{} of {runs} runs failed (first: {})", failures.len(), failures[0]);
}
