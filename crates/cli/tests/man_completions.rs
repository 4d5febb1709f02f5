//! First contact: the manual pages `memscope man` writes (one per command,
//! every page another one names exists and renders), the completion scripts
//! (value enumerations complete their values, not file names, as bash and
//! fish really run them), and help that names no file of the source tree.
//! Each case once failed: `memscope man report` was refused, memscope(1)
//! pointed to pages never generated, `--sort` completed file names and
//! `--help` pointed to docs/json.md.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

fn memscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run memscope")
}

fn stdout_of(args: &[&str]) -> String {
    let out = memscope(args);
    assert_eq!(out.status.code(), Some(0), "memscope {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Every page `memscope man --out` writes: file name → roff.
fn pages(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let out = memscope(&["man", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap())
        })
        .collect()
}

/// The page names a roff text refers to (`memscope\-rt\-check(1)`).
fn references(roff: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"(memscope(?:\\-[a-z]+)*)\(1\)").unwrap();
    re.captures_iter(roff).map(|c| format!("{}.1", c[1].replace("\\-", "-"))).collect()
}

#[test]
fn every_command_has_a_page_and_every_page_named_exists() {
    let dir = tempfile::tempdir().unwrap();
    let pages = pages(dir.path());
    for want in ["memscope.1", "memscope-report.1", "memscope-ps.1", "memscope-rt.1", "memscope-rt-check.1"] {
        assert!(pages.contains_key(want), "{want} not among {:?}", pages.keys());
    }
    // memscope(1) lists every command; every page named anywhere is there.
    let top = references(&pages["memscope.1"]);
    assert!(top.contains("memscope-report.1") && top.contains("memscope-pressure.1"), "{top:?}");
    for (name, roff) in &pages {
        for r in references(roff) {
            assert!(pages.contains_key(&r), "{name} refers to {r}, which is not written");
        }
        assert!(!name.contains("help"), "{name}: help is clap's, not a page");
    }
    // One page per command, nested ones too.
    let commands = stdout_of(&["--help"]);
    for line in commands.lines().skip_while(|l| !l.starts_with("Commands:")).skip(1) {
        if !line.starts_with("  ") {
            break;
        }
        // Wrapped descriptions are indented further.
        let Some(cmd) =
            line.strip_prefix("  ").filter(|l| !l.starts_with(' ')).and_then(|l| l.split_whitespace().next())
        else {
            continue;
        };
        if cmd != "help" {
            assert!(pages.contains_key(&format!("memscope-{cmd}.1")), "no page for `{cmd}`");
        }
    }
}

#[test]
fn man_prints_the_page_of_one_command() {
    let dir = tempfile::tempdir().unwrap();
    let pages = pages(dir.path());
    assert_eq!(stdout_of(&["man"]), pages["memscope.1"]);
    assert_eq!(stdout_of(&["man", "report"]), pages["memscope-report.1"]);
    assert_eq!(stdout_of(&["man", "rt-check"]), pages["memscope-rt-check.1"]);
    let report = &pages["memscope-report.1"];
    assert!(report.starts_with(".ie") && report.contains(".TH memscope-report 1"), "{report}");
    assert!(report.contains("\\-\\-explain") && report.contains("memscope 0.1.0"), "{report}");

    let out = memscope(&["man", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nosuch") && err.contains("rt-check"), "{err}");
}

/// `man -l` renders every page, and groff has nothing to warn about.
#[test]
fn man_renders_every_page_without_warnings() {
    assert!(
        Command::new("man").arg("--version").output().is_ok(),
        "man is not installed: run scripts/install-test-deps"
    );
    // Bold and underline are overstruck (`N\bN`) when not on a terminal.
    let overstrike = regex::Regex::new(".\x08").unwrap();
    let dir = tempfile::tempdir().unwrap();
    for name in pages(dir.path()).keys() {
        let out = Command::new("man")
            .args(["--warnings", "-l"])
            .arg(dir.path().join(name))
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        let text = overstrike.replace_all(&String::from_utf8_lossy(&out.stdout), "").into_owned();
        assert!(out.status.success(), "man -l {name}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stderr.is_empty(), "man -l {name} warns: {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{name} renders as: {text}");
    }
}

/// The words a completion script offers for a command line ending in a
/// blank (or in a partial word), as bash runs it: the script is sourced and
/// its function called the way `complete -F` calls it.
fn bash_completes(words: &[&str]) -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("memscope.bash");
    std::fs::write(&script, stdout_of(&["completions", "bash"])).unwrap();
    // A file whose name a file-name completion would offer.
    std::fs::write(dir.path().join("pss-notes.txt"), "").unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let line = format!(
        "source {script}; COMP_WORDS=({words}); COMP_CWORD={cword}; \
         _memscope memscope \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script = script.display(),
        words = quoted.join(" "),
        cword = words.len() - 1,
    );
    let out = Command::new("bash").arg("-c").arg(line).current_dir(dir.path()).output().expect("bash");
    assert!(out.status.success(), "bash: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

fn names<T>(table: &[(T, &str)]) -> BTreeSet<String> {
    table.iter().map(|(_, n)| (*n).to_owned()).collect()
}

#[test]
fn bash_completes_the_values_of_every_enumeration() {
    use memscope_analysis::{maps::MapSort, processes::SortKey, ps::GroupBy, slab::SlabSort};
    let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
    assert_eq!(bash_completes(&["memscope", "ps", "--sort", ""]), names(SortKey::ALL));
    assert_eq!(bash_completes(&["memscope", "ps", "--sort", "p"]), set(&["pid", "pss"]));
    assert_eq!(bash_completes(&["memscope", "ps", "--group-by", ""]), names(GroupBy::ALL));
    assert_eq!(bash_completes(&["memscope", "maps", "1", "--sort", ""]), names(MapSort::ALL));
    assert_eq!(bash_completes(&["memscope", "slab", "--sort", ""]), names(SlabSort::ALL));
    assert_eq!(bash_completes(&["memscope", "phys", "--by", ""]), set(&["memcg", "node", "zone"]));
    assert_eq!(bash_completes(&["memscope", "trace", "--what", ""]), set(&["all", "pages", "slab"]));
    assert_eq!(bash_completes(&["memscope", "run", "--summary", ""]), set(&["json", "none", "text"]));
    let shells = bash_completes(&["memscope", "completions", ""]);
    assert!(shells.is_superset(&set(&["bash", "fish", "zsh"])), "{shells:?}");
    let man = bash_completes(&["memscope", "man", "rt"]);
    assert_eq!(man, set(&["rt", "rt-check", "rt-latency"]));
}

/// Every value completion offers is one the command takes.
#[test]
fn every_completed_sort_key_is_accepted() {
    let tree = memscope_testkit::fixture_dir("views-6.18-x86_64");
    let tree = tree.to_str().unwrap();
    for key in bash_completes(&["memscope", "ps", "--sort", ""]) {
        let out = memscope(&["--root", tree, "ps", "--sort", &key, "--top", "1"]);
        assert_eq!(out.status.code(), Some(0), "ps --sort {key}: {}", String::from_utf8_lossy(&out.stderr));
    }
    for key in bash_completes(&["memscope", "slab", "--sort", ""]) {
        let out = memscope(&["--root", tree, "slab", "--sort", &key, "--top", "1"]);
        assert_eq!(out.status.code(), Some(0), "slab --sort {key}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // A key that is none of them is refused as before: exit 2, the names listed.
    let out = memscope(&["--root", tree, "ps", "--sort", "size"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown sort key `size` (one of pss, uss, rss, swap, fds, pid)"), "{err}");
}

#[test]
fn fish_completes_values_and_zsh_parses_its_script() {
    let dir = tempfile::tempdir().unwrap();
    let fish = dir.path().join("memscope.fish");
    std::fs::write(&fish, stdout_of(&["completions", "fish"])).unwrap();
    let complete = |line: &str| -> BTreeSet<String> {
        let out = Command::new("fish")
            .arg("-c")
            .arg(format!("source {}; complete -C '{line}'", fish.display()))
            .current_dir(dir.path())
            .output()
            .expect("fish is not installed: run scripts/install-test-deps");
        assert!(out.status.success(), "fish: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_owned())
            .collect()
    };
    use memscope_analysis::processes::SortKey;
    assert_eq!(complete("memscope ps --sort "), names(SortKey::ALL));
    let man = complete("memscope man rt");
    assert!(man.contains("rt-check") && !man.iter().any(|w| w.contains('.')), "{man:?}");

    let zsh = dir.path().join("_memscope");
    let script = stdout_of(&["completions", "zsh"]);
    assert!(script.starts_with("#compdef memscope\n"));
    assert!(
        script.contains(":KEY:(pss uss rss swap fds pid)"),
        "ps --sort values missing from the zsh script"
    );
    std::fs::write(&zsh, script).unwrap();
    let out = Command::new("zsh")
        .arg("-n")
        .arg(&zsh)
        .output()
        .expect("zsh is not installed: run scripts/install-test-deps");
    assert!(out.status.success(), "zsh -n: {}", String::from_utf8_lossy(&out.stderr));
}

/// Help is read where memscope is installed, far from the source tree: it
/// names installed paths, never a file of the repository alone.
#[test]
fn help_names_no_file_of_the_source_tree() {
    let dir = tempfile::tempdir().unwrap();
    let mut helps = vec![stdout_of(&["--help"])];
    for name in pages(dir.path()).keys() {
        let cmd: Vec<&str> = name.trim_end_matches(".1").split('-').skip(1).collect();
        let mut args = cmd.clone();
        args.push("--help");
        helps.push(stdout_of(&args));
    }
    for help in &helps {
        for repo_path in ["docs/json.md", "docs/store.md", "dist/", "the README"] {
            assert!(!help.contains(repo_path), "help names {repo_path}: {help}");
        }
    }
    assert!(helps[0].contains("/usr/share/doc/memscope/json.md"), "{}", helps[0]);
}
