//! Bad input exits 2 with one line saying what is wrong, meaningless values
//! are refused before anything runs, flags a command would ignore are
//! refused, and every cause of an error is printed once. Each case once
//! exited 1, ran anyway, or said something misleading.

use std::process::Command;

/// Run memscope; (exit code, stdout, stderr).
fn memscope(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run memscope");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The command exits 2, prints nothing on stdout, and says `needle` on stderr.
fn refused(args: &[&str], needle: &str) {
    let (code, out, err) = memscope(args);
    assert_eq!(code, 2, "memscope {args:?} exited {code}: {err}");
    assert!(out.is_empty(), "memscope {args:?} printed: {out}");
    assert!(err.contains(needle), "memscope {args:?}: {needle:?} not in {err:?}");
}

fn tree(name: &str) -> String {
    memscope_testkit::fixture_dir(name).display().to_string()
}

#[test]
fn a_bad_pattern_or_user_is_bad_input() {
    let t = tree("views-6.18-x86_64");
    refused(&["--root", &t, "ps", "zzz["], "PATTERN is not a valid regular expression");
    refused(&["--root", &t, "ps", "--user", "nosuchuser"], "--user nosuchuser: no such user");
}

#[test]
fn a_root_that_is_no_captured_tree_is_bad_input() {
    refused(&["--root", "/nonexistent-memscope-tree", "report"], "--root /nonexistent-memscope-tree:");
    let empty = tempfile::tempdir().unwrap();
    let p = empty.path().display().to_string();
    refused(&["--root", &p, "report"], "not a captured tree");
    // Not the misleading "no ledger without MemTotal" of before.
    let (_, _, err) = memscope(&["--root", &p, "report"]);
    assert!(!err.contains("MemTotal"), "{err}");
    let file = empty.path().join("f");
    std::fs::write(&file, "x").unwrap();
    refused(&["--root", &file.display().to_string(), "report"], "not a directory");
    // A tree made by hand with only a proc/ is a tree.
    std::fs::create_dir(empty.path().join("proc")).unwrap();
    let (code, _, err) = memscope(&["--root", &p, "report"]);
    assert_ne!(code, 2, "{err}");
}

#[test]
fn images_must_be_svg_or_png_of_a_sensible_size() {
    refused(&["plot", "--out", "x.jpg"], "--out x.jpg: the file name must end in .svg or .png");
    refused(&["plot", "--out", "x.png", "--width", "10"], "10 is not in 400..=10000");
    refused(&["plot", "--out", "x.png", "--height", "100000"], "100000 is not in 300..=10000");
}

#[test]
fn zero_intervals_and_windows_are_refused() {
    for args in [
        &["record", "--interval", "0s", "--db", "/nonexistent/x.db"][..],
        &["rt", "latency", "-D", "0s"],
        &["leaks", "--watch", "0s"],
        &["top", "--interval", "0"],
        &["trace", "--duration", "0s"],
    ] {
        refused(args, "is zero; give a duration above zero");
    }
}

#[test]
fn a_watch_too_short_to_judge_is_refused_with_how_long_is_enough() {
    refused(&["leaks", "--watch", "3s"], "a trend needs at least 8: watch at least 7s");
    refused(&["leaks", "--watch", "10s", "--interval", "5s"], "watch at least 35s");
}

#[test]
fn flags_a_command_would_ignore_are_refused() {
    let t = tree("views-6.18-x86_64");
    refused(&["plot", "--csv", "--out", "x.svg"], "`plot` does not take --csv");
    refused(&["plot", "--json", "--out", "x.svg"], "`plot` does not take --json");
    refused(&["--root", &t, "leaks"], "`leaks` does not take --root");
    refused(&["--root", &t, "diff"], "`diff` does not take --root");
    refused(&["diff", "--csv"], "`diff` does not take --csv");
    refused(&["--root", &t, "run", "--", "true"], "`run` does not take --root");
    refused(&["record", "--json", "--once", "--db", "/nonexistent/x.db"], "`record` does not take --json");
}

#[test]
fn an_order_above_the_buddy_allocators_largest_is_refused() {
    let t = tree("views-6.18-x86_64");
    let columns =
        std::fs::read_to_string(memscope_testkit::fixture_dir("views-6.18-x86_64").join("proc/buddyinfo"))
            .unwrap()
            .lines()
            .map(|l| l.split_whitespace().count() - 4)
            .max()
            .unwrap();
    refused(
        &["--root", &t, "zones", "--can-alloc", &columns.to_string()],
        &format!("the free lists go up to order {}", columns - 1),
    );
    // The largest order is a question with an answer (yes: 0, no: 3).
    let (code, _, err) = memscope(&["--root", &t, "zones", "--can-alloc", &(columns - 1).to_string()]);
    assert!(code == 0 || code == 3, "{code}: {err}");
}

#[test]
fn each_cause_of_an_error_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("not-a.db");
    std::fs::write(&db, vec![0x5a_u8; 8192]).unwrap();
    let (code, _, err) = memscope(&["leaks", "--db", &db.display().to_string()]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.matches("file is not a database").count(), 1, "{err}");

    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let (code, _, err) = memscope(&["serve", "--listen", &addr]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.matches("Address already in use").count(), 1, "{err}");
}

#[test]
fn a_window_longer_than_the_recording_says_what_was_compared() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("short.db");
    let db = db.to_str().unwrap();
    let (code, _, err) = memscope(&["record", "--db", db, "--interval", "300ms", "--count", "2"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = memscope(&["diff", "--db", db, "2h"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.is_empty());
    assert!(err.contains("the recording starts") && err.contains("from its first snapshot"), "{err}");
}
