//! A process can name itself anything, terminal escapes included: every
//! human output shows such a name escaped, never raw.

use std::process::Command;

use memscope_testkit::Workload;

/// Clear the screen, set the window title, ring the bell.
const EVIL: &str = "\x1b[2J\x1b]0;PWN\x07";

fn memscope(args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope")).args(args).output().expect("run memscope");
    assert!(out.status.success(), "memscope {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn assert_escaped(out: &[u8], what: &str) {
    assert!(!out.contains(&0x1b) && !out.contains(&0x07), "{what}: a raw control byte reached the output");
    let text = String::from_utf8_lossy(out);
    assert!(text.contains(r"\x1b[2J\x1b]0;PWN\x07"), "{what}: the name is not shown escaped:\n{text}");
}

#[test]
fn a_process_named_with_terminal_escapes_is_printed_escaped_by_ps_and_report() {
    let w = Workload::spawn(&["name", "--name", EVIL]);
    let pid = w.pid().to_string();
    let comm = std::fs::read(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm, format!("{EVIL}\n").as_bytes(), "the kernel kept the whole name");
    assert_escaped(&memscope(&["--no-color", "ps", "--pid", &pid]), "ps");
    assert_escaped(&memscope(&["--no-color", "report", "--top", "100000"]), "report");
    // JSON keeps the name exact: it escapes control characters its own way.
    let json: serde_json::Value =
        serde_json::from_slice(&memscope(&["--json", "ps", "--pid", &pid])).unwrap();
    let text = json.to_string();
    assert!(text.contains(r"\u001b[2J\u001b]0;PWN\u0007"), "{text}");
}
