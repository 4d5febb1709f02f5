//! The one-reader rule, checked on the source: no code outside
//! `crates/kernel` opens a kernel file or spells a kernel path.
//!
//! Every `src/` file of every other crate is scanned, without its comments
//! and without test code (`#[cfg(test)]` items, `tests.rs` modules; the
//! `tests/`, `benches/` and `examples/` directories are not scanned, nor
//! `crates/testkit`, which is test support). A line fails when it
//!
//! * calls the file system: `std::fs` functions, `File::open` and friends,
//!   `OpenOptions`, `rustix::fs`, `libc` opens and mounts, `tokio::fs`,
//!   `Path` methods that read a directory, a link or metadata; or
//! * holds a string literal that is a kernel path: `/proc`, `/sys`,
//!   `/dev/`, `/etc/passwd`, `/etc/group` (cgroupfs and tracefs live
//!   under `/sys`).
//!
//! What may do so anyway is in [`ALLOWED`], each entry with its reason:
//! files the user names (`capture --out`, `record --db`, `plot --out`, …)
//! are opened by the code that writes or reads them. An entry that no
//! longer matches anything fails the test too, so the list stays true.

use std::path::{Path, PathBuf};

/// `(file, text on the line, why)`: a hit in `file` on a line containing
/// `text` is allowed.
const ALLOWED: &[(&str, &str, &str)] = &[
    // Files the user names.
    (
        "crates/cli/src/cmd/oom.rs",
        "std::fs::read(path)",
        "`oom --from FILE` reads a saved kernel log the user names",
    ),
    ("crates/cli/src/cmd/plot.rs", "std::fs::write(&a.out", "`plot --out FILE` writes the chart"),
    ("crates/cli/src/cmd/record.rs", "DirBuilder", "`record --db FILE` creates the database's directory"),
    (
        "crates/cli/src/cmd/run.rs",
        "std::fs::write(path",
        "`run --summary-file FILE` writes the run's summary",
    ),
    ("crates/cli/src/cmd/trace.rs", "File::create(p)", "`trace --folded FILE` writes the folded stacks"),
    (
        "crates/cli/src/cmd/utrace.rs",
        "File::create(p)",
        "`trace --pid … --folded FILE` writes the folded stacks",
    ),
    (
        "crates/cli/src/cmd/mod.rs",
        "create_dir_all(dir)",
        "`man --out DIR` makes the directory of the manual pages",
    ),
    (
        "crates/cli/src/cmd/mod.rs",
        "fs::write(&path, roff)",
        "`man --out DIR` writes a manual page per command",
    ),
    (
        "crates/serve/src/webconfig.rs",
        "std::fs::read_to_string(path)",
        "`serve --web-config FILE` (and the TLS files it names)",
    ),
    ("crates/store/src/lib.rs", "fs::", "`record --db FILE`: the SQLite database, its WAL and directory"),
    (
        "crates/model/src/capture.rs",
        "fs::",
        "`capture --out DIR` writes the captured tree (files read through a recording KernelRoot)",
    ),
    (
        "crates/export/src/report.rs",
        "\"/proc/\"",
        "a footnote said once for all processes: `/proc/4242/…` in a reason's text becomes `/proc/PID/…`; nothing is read",
    ),
    (
        "crates/model/src/capture.rs",
        "\"/proc",
        "`capture --out DIR`: lays out the recorded /proc listing (process directories) in the tree it writes",
    ),
    // Not an open.
    (
        "crates/control/src/cgroup/transient.rs",
        "std::fs::File",
        "the type of a cgroup directory opened by KernelRoot::open",
    ),
    (
        "crates/control/src/cgroup/transient.rs",
        "rustix::fs::flock",
        "locks a cgroup directory opened by KernelRoot::open",
    ),
    // Message text: the source of a figure named for the user; analysis
    // opens nothing (pure functions of samples).
    ("crates/analysis/src/fds/classify.rs", "\"/dev/", "`/dev/` tells device files apart in fd targets"),
    ("crates/analysis/src/fds/report.rs", "\"/", "names the sources of the figures in diagnoses"),
    ("crates/analysis/src/hints.rs", "\"/", "explains why a path read by the kernel crate is unavailable"),
    ("crates/analysis/src/ledger.rs", "\"/", "names the source of each ledger figure"),
    ("crates/analysis/src/numa.rs", "\"/", "names the source of each node figure"),
    ("crates/analysis/src/pages.rs", "\"/proc/{}/pagemap hides", "a note naming the file"),
    ("crates/analysis/src/trace.rs", "\"/proc/kallsyms", "notes naming the file"),
    ("crates/analysis/src/zones.rs", "\"/proc/zoneinfo", "notes naming the file"),
];

/// File-system calls.
const CALLS: &[&str] = &[
    "std::fs::",
    "fs::read",
    "fs::write",
    "fs::metadata",
    "fs::symlink_metadata",
    "fs::create_dir",
    "fs::remove_dir",
    "fs::remove_file",
    "fs::canonicalize",
    "fs::copy",
    "fs::rename",
    "fs::hard_link",
    "fs::set_permissions",
    "fs::DirBuilder",
    "fs::OpenOptions",
    "fs::File",
    "File::open",
    "File::create",
    "File::options",
    "OpenOptions",
    "DirBuilder",
    "rustix::fs::",
    "libc::open",
    "libc::mount",
    "libc::umount",
    "libc::stat",
    "libc::lstat",
    "libc::access",
    "libc::readlink",
    "tokio::fs",
    ".read_dir()",
    ".read_link()",
    ".metadata()",
    ".symlink_metadata()",
];

/// Kernel path literals (the start of a string).
const PATHS: &[&str] = &["\"/proc", "\"/sys", "\"/dev/", "\"/etc/passwd", "\"/etc/group"];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            // A `tests` directory inside src holds `#[cfg(test)]` modules.
            if name != "tests" {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" {
            out.push(p);
        }
    }
}

/// The source without comments, one `(in_string, char)` per character.
fn lex(src: &str) -> Vec<(bool, char)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::with_capacity(c.len());
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        match c[i] {
            '/' if next == Some('/') => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                let mut depth = 0;
                while i < c.len() {
                    if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if c[i] == '\n' {
                            out.push((false, '\n'));
                        }
                        i += 1;
                    }
                }
            }
            'r' if (next == Some('"') || next == Some('#'))
                && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while c.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if c.get(j) != Some(&'"') {
                    out.push((false, c[i]));
                    i += 1;
                    continue;
                }
                out.push((false, '"'));
                j += 1;
                while j < c.len() {
                    if c[j] == '"' && (0..hashes).all(|k| c.get(j + 1 + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    out.push((true, c[j]));
                    j += 1;
                }
                out.push((false, '"'));
                i = j;
            }
            '"' => {
                out.push((false, '"'));
                i += 1;
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' {
                        out.push((true, c[i]));
                        i += 1;
                    }
                    if i < c.len() {
                        out.push((true, c[i]));
                        i += 1;
                    }
                }
                out.push((false, '"'));
                i += 1;
            }
            '\'' => {
                // A char literal ('x', '\n', '\u{..}') or a lifetime.
                if next == Some('\\') {
                    let mut j = i + 2;
                    while j < c.len() && c[j] != '\'' && j < i + 12 {
                        j += 1;
                    }
                    out.push((false, '\''));
                    out.push((false, '\''));
                    i = j + 1;
                } else if c.get(i + 2) == Some(&'\'') {
                    out.push((false, '\''));
                    out.push((false, '\''));
                    i += 3;
                } else {
                    out.push((false, '\''));
                    i += 1;
                }
            }
            ch => {
                out.push((false, ch));
                i += 1;
            }
        }
    }
    out
}

/// Remove the items marked `#[cfg(test)]` (or `cfg(all(test, …))`): the
/// next item after the attribute, up to its `;` or its closing brace.
fn without_tests(code: Vec<(bool, char)>) -> Vec<(bool, char)> {
    let text: String = code.iter().map(|&(s, ch)| if s { ' ' } else { ch }).collect();
    let text: Vec<char> = text.chars().collect();
    let mut drop = vec![false; code.len()];
    let s: String = text.iter().collect();
    let mut from = 0;
    while let Some(pos) =
        ["#[cfg(test)]", "#[cfg(all(test"].iter().filter_map(|m| s[from..].find(m).map(|p| p + from)).min()
    {
        let start = s[..pos].chars().count();
        let mut i = start;
        let mut depth = 0i32;
        let mut opened = false;
        // Skip the attribute itself.
        while i < text.len() && text[i] != ']' {
            i += 1;
        }
        while i < text.len() {
            match text[i] {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => {
                    depth -= 1;
                    if opened && depth == 0 {
                        break;
                    }
                }
                ';' if !opened => break,
                _ => {}
            }
            i += 1;
        }
        for d in drop.iter_mut().take((i + 1).min(code.len())).skip(start) {
            *d = true;
        }
        let end_char = (i + 1).min(text.len());
        from = text[..end_char].iter().map(|ch| ch.len_utf8()).sum();
    }
    code.into_iter().zip(drop).filter(|(_, d)| !d).map(|(c, _)| c).collect()
}

/// Is `needle` in `line` at a word start (not the tail of a longer name,
/// such as `KernelFile::open` for `File::open`)?
fn has(line: &str, needle: &str) -> bool {
    line.match_indices(needle).any(|(at, _)| {
        let first = needle.chars().next().unwrap_or(' ');
        let before = line[..at].chars().next_back();
        !(first.is_alphanumeric() && before.is_some_and(|b| b.is_alphanumeric() || b == '_'))
    })
}

/// Every `(file, line number, line, what)` that breaks the rule.
fn hits() -> Vec<(String, usize, String, &'static str)> {
    let base = crates_dir();
    let mut files = Vec::new();
    let Ok(rd) = std::fs::read_dir(&base) else { panic!("cannot list {}", base.display()) };
    let mut crates: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    crates.sort();
    for c in crates {
        let name = c.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        if name == "kernel" || name == "testkit" {
            continue;
        }
        rust_files(&c.join("src"), &mut files);
    }
    assert!(files.len() > 50, "found only {} source files under {}", files.len(), base.display());
    let mut out = Vec::new();
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        let rel = f.strip_prefix(&base).unwrap().to_string_lossy().replace('\\', "/");
        let code: String = without_tests(lex(&src)).into_iter().map(|(_, ch)| ch).collect();
        // Lines are counted in the code without tests, so report the text.
        for (n, line) in code.lines().enumerate() {
            for what in CALLS.iter().chain(PATHS) {
                if has(line, what) {
                    out.push((format!("crates/{rel}"), n + 1, line.trim().to_string(), *what));
                }
            }
        }
    }
    out
}

#[test]
fn no_code_outside_the_kernel_crate_opens_a_kernel_file() {
    let hits = hits();
    let mut bad = Vec::new();
    let mut used = vec![false; ALLOWED.len()];
    for (file, _, line, what) in &hits {
        match ALLOWED.iter().position(|(f, text, _)| f == file && line.contains(text)) {
            Some(i) => used[i] = true,
            None => bad.push(format!("{file}: `{what}` in: {line}")),
        }
    }
    let stale: Vec<String> = ALLOWED
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|((f, text, _), _)| format!("{f}: {text}"))
        .collect();
    assert!(
        bad.is_empty(),
        "kernel files are opened and kernel paths are named in crates/kernel only (KernelRoot and \
         its paths table); add a KernelRoot method, or an ALLOWED entry saying why:\n{}",
        bad.join("\n")
    );
    assert!(stale.is_empty(), "ALLOWED entries that match nothing any more:\n{}", stale.join("\n"));
}

/// The scanner itself: a forbidden read in a model file is found, in a
/// comment or a test module it is not.
#[test]
fn the_scanner_finds_a_read_and_skips_comments_and_tests() {
    let src = "use x;\n// std::fs::read_to_string(\"/proc/meminfo\")\nfn f() { let t = \
               std::fs::read_to_string(\"/proc/meminfo\"); }\n#[cfg(test)]\nmod tests {\n fn g() { \
               std::fs::read(\"/sys/x\"); let c = '{'; }\n}\nfn h() { root.read_link(paths::SELF); \
               KernelFile::open(); }\n";
    let code: String = without_tests(lex(src)).into_iter().map(|(_, ch)| ch).collect();
    let found: Vec<(usize, &str)> = code
        .lines()
        .enumerate()
        .flat_map(|(n, l)| CALLS.iter().chain(PATHS).filter(move |w| has(l, w)).map(move |w| (n + 1, *w)))
        .collect();
    assert_eq!(found, [(3, "std::fs::"), (3, "fs::read"), (3, "\"/proc")]);
}
