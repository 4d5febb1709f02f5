//! Every read-only command, in every format, on every fixture tree: the
//! output (and exit code, and standard error) must stay byte-identical to
//! what is checked in under `tests/golden/<fixture>.txt`.
//!
//! This is the guard of refactorings that must not change behaviour: the
//! golden files are written once from the code before the change, and the
//! change is correct only where they still match. A change that is meant to
//! alter an output rewrites them on purpose:
//!
//! ```text
//! MEMSCOPE_GOLDEN=write cargo test -p memscope --test golden
//! ```
//!
//! and the diff of the golden files shows, in review, exactly what changed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The commands whose outputs are kept, each run with `--root FIXTURE`.
/// `{pid}` is replaced by the tree's lowest process id (skipped when the tree
/// holds no process).
const COMMANDS: &[&[&str]] = &[
    &["report"],
    &["report", "--json"],
    &["report", "--explain"],
    &["ps"],
    &["ps", "--json"],
    &["ps", "--csv"],
    &["ps", "--group-by", "cgroup", "--json"],
    &["ps", "--group-by", "container", "--json"],
    &["ps", "--group-by", "user"],
    &["maps", "{pid}", "--json"],
    &["numa"],
    &["numa", "--json"],
    &["zones"],
    &["zones", "--json"],
    &["slab"],
    &["slab", "--json"],
    &["vmalloc", "--json"],
    &["fds"],
    &["fds", "--json"],
    &["cgroups"],
    &["cgroups", "--json"],
    &["rt", "check"],
    &["rt", "check", "--json"],
    &["oom", "--all"],
    &["oom", "--all", "--json"],
    &["pressure", "--json"],
];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden")
}

/// Every fixture tree: the folders of tests/fixtures, and the trees inside
/// a folder that only groups them (fds/<case>).
fn fixtures() -> Vec<String> {
    let base = memscope_testkit::fixture_dir("");
    let dirs = |rel: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(base.join(rel))
            .unwrap()
            .filter_map(|e| {
                let e = e.ok()?;
                e.file_type().ok()?.is_dir().then(|| e.file_name().to_string_lossy().into_owned())
            })
            .map(|n| if rel.is_empty() { n } else { format!("{rel}/{n}") })
            .collect();
        names.sort();
        names
    };
    let is_tree =
        |rel: &str| ["MANIFEST", "proc", "sys", "dev"].iter().any(|f| base.join(rel).join(f).exists());
    let mut all = Vec::new();
    for name in dirs("") {
        if is_tree(&name) {
            all.push(name);
        } else {
            all.extend(dirs(&name).into_iter().filter(|n| is_tree(n)));
        }
    }
    all
}

/// The lowest numeric entry of the tree's /proc.
fn lowest_pid(tree: &Path) -> Option<u32> {
    std::fs::read_dir(tree.join("proc"))
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .min()
}

fn run(tree: &Path, args: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .arg("--root")
        .arg(tree)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS")
        .env("TZ", "UTC")
        .env_remove("MEMSCOPE_LOG")
        .output()
        .expect("run memscope");
    let tree_text = tree.display().to_string();
    // The tree's absolute path differs between checkouts.
    let clean = |b: &[u8]| mask_volatile(&String::from_utf8_lossy(b).replace(&tree_text, "<tree>"), tree);
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        clean(&out.stdout),
        clean(&out.stderr)
    )
}

/// What differs from one run to the next and is not the tree's: the time
/// of the run (trees without a MANIFEST time are dated now) and how long
/// the collection took (and which process was the slowest to read).
///
/// A time is the run's when it lies within an hour of now and is not the
/// tree's own capture time (a tree captured minutes before its golden file
/// was written keeps its real date, which does not change as days pass).
fn mask_volatile(text: &str, tree: &Path) -> String {
    use std::sync::LazyLock;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    const WINDOW_MS: i128 = 3_600_000;
    static STAMP: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d| UTC)?").unwrap()
    });
    static ELAPSED: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r#"("([a-z_]*elapsed[a-z_]*|rollup_[a-z_]*usec|worst_rollup_[a-z_]+)": )("[^"]*"|\d+)"#,
        )
        .unwrap()
    });
    static UNIX_MS: LazyLock<regex::Regex> = LazyLock::new(|| regex::Regex::new(r"\b1[0-9]{12}\b").unwrap());
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i128;
    let captured_ms: Option<i128> = std::fs::read_to_string(tree.join("MANIFEST")).ok().and_then(|m| {
        m.lines().find_map(|l| l.strip_prefix("captured_at_unix_ms:").and_then(|v| v.trim().parse().ok()))
    });
    let is_run_time = |ms: i128| -> bool {
        let same_second_as_capture = captured_ms.is_some_and(|c| c.div_euclid(1000) == ms.div_euclid(1000));
        (ms - now_ms).abs() < WINDOW_MS && !same_second_as_capture
    };
    let text = STAMP.replace_all(text, |c: &regex::Captures| {
        let m = &c[0];
        // The second the stamp names (all stamps here are UTC: TZ=UTC).
        let iso = format!("{}Z", m[..19].replacen(' ', "T", 1));
        let ms = humantime::parse_rfc3339(&iso)
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d: Duration| d.as_millis() as i128);
        match ms {
            Some(ms) if is_run_time(ms) => "<now>".to_string(),
            _ => m.to_string(),
        }
    });
    let text = ELAPSED.replace_all(&text, "${1}<n>");
    UNIX_MS
        .replace_all(&text, |c: &regex::Captures| {
            let v: i128 = c[0].parse().unwrap();
            if is_run_time(v) { "<now_ms>".to_string() } else { c[0].to_string() }
        })
        .into_owned()
}

fn outputs_of(name: &str) -> String {
    let tree = memscope_testkit::fixture_dir(name);
    let pid = lowest_pid(&tree);
    let mut all = String::new();
    for cmd in COMMANDS {
        if cmd.contains(&"{pid}") && pid.is_none() {
            continue;
        }
        let args: Vec<String> =
            cmd.iter().map(|a| a.replace("{pid}", &pid.map(|p| p.to_string()).unwrap_or_default())).collect();
        let _ = writeln!(all, "=== memscope {}", args.join(" "));
        all.push_str(&run(&tree, &args));
        all.push('\n');
    }
    all
}

#[test]
fn outputs_on_every_fixture_are_unchanged() {
    let write = std::env::var("MEMSCOPE_GOLDEN").is_ok_and(|v| v == "write");
    let dir = golden_dir();
    if write {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let names = fixtures();
    assert!(names.len() >= 30, "the fixture trees are missing: {names:?}");
    let mut changed = Vec::new();
    for name in &names {
        let got = outputs_of(name);
        let path = dir.join(format!("{}.txt", name.replace('/', "--")));
        if write {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (write it with MEMSCOPE_GOLDEN=write)", path.display()));
        if got != want {
            // The first differing command, to say where.
            let first = got
                .split("=== ")
                .zip(want.split("=== "))
                .find(|(g, w)| g != w)
                .map(|(g, w)| {
                    let head = w.lines().next().unwrap_or("");
                    let line = g.lines().zip(w.lines()).find(|(a, b)| a != b);
                    format!("{head}: got {:?}, want {:?}", line.map(|l| l.0), line.map(|l| l.1))
                })
                .unwrap_or_else(|| "a command was added or removed".to_string());
            changed.push(format!("{name}: {first}"));
        }
    }
    assert!(
        changed.is_empty(),
        "outputs changed (rewrite with MEMSCOPE_GOLDEN=write if meant):\n{}",
        changed.join("\n")
    );
}
