//! Tables and headlines fit an 80-column terminal (COLUMNS), cutting text
//! columns with an ellipsis and keeping numbers whole; `--wide`, and a pipe
//! without COLUMNS, get every table whole.

use std::process::Command;

fn memscope(columns: Option<&str>, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_memscope"));
    cmd.args(args).env("NO_COLOR", "1");
    match columns {
        Some(c) => cmd.env("COLUMNS", c),
        None => cmd.env_remove("COLUMNS"),
    };
    let out = cmd.output().expect("run memscope");
    assert!(out.status.success(), "memscope {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn every_view_fits_80_columns_and_wide_shows_everything() {
    for (fixture, view) in [
        ("views-6.18-x86_64", "report"),
        ("views-6.18-x86_64", "ps"),
        ("views-6.18-x86_64", "slab"),
        ("views-6.18-x86_64", "zones"),
        ("views-6.18-x86_64", "vmalloc"),
        ("numa-three-nodes-node-exporter", "numa"),
        ("cgroups-v2-pure", "cgroups"),
        ("fds/mixed-types", "fds"),
    ] {
        let tree = memscope_testkit::fixture_dir(fixture).display().to_string();
        let fitted = memscope(Some("80"), &["--root", &tree, view]);
        let over: Vec<&str> = fitted.lines().filter(|l| l.chars().count() > 80).collect();
        assert!(over.is_empty(), "{view} at 80 columns:\n{}", over.join("\n"));
        let whole = memscope(Some("80"), &["--root", &tree, "--wide", view]);
        assert!(widest(&whole) >= widest(&fitted), "{view}: --wide is narrower");
        assert!(!whole.contains("left out to fit"), "{view}: --wide left columns out");
        // Without COLUMNS (a pipe), tables are whole, as with --wide.
        // (The first line is dated now: this tree has no capture time.)
        let piped = memscope(None, &["--root", &tree, view]);
        let wide_piped = memscope(None, &["--root", &tree, "--wide", view]);
        assert!(piped.lines().skip(1).eq(wide_piped.lines().skip(1)), "{view}: a pipe cut a table");
        assert_eq!(piped.matches('…').count(), whole.matches('…').count(), "{view}: --wide cut a cell");
    }
}

#[test]
fn numbers_are_never_cut_and_what_is_left_out_is_named() {
    let tree = memscope_testkit::fixture_dir("views-6.18-x86_64").display().to_string();
    let fitted = memscope(Some("80"), &["--root", &tree, "slab"]);
    let whole = memscope(None, &["--root", &tree, "slab", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&whole).unwrap();
    // Every cache's object count is printed whole in the cut table.
    for c in doc["caches"].as_array().unwrap().iter().take(5) {
        let objs = c["num_objs"].as_u64().unwrap().to_string();
        assert!(fitted.lines().any(|l| l.split_whitespace().any(|w| w == objs)), "{objs} cut:\n{fitted}");
    }
    assert!(fitted.contains("left out to fit the terminal:") && fitted.contains("--wide"), "{fitted}");
    assert!(fitted.contains('…'), "no text column was cut:\n{fitted}");
}

#[test]
fn ps_keeps_its_command_column_last_and_cuts_it_rather_than_leave_it_out() {
    let tree = memscope_testkit::fixture_dir("views-6.18-x86_64").display().to_string();
    for columns in ["60", "80", "100"] {
        let fitted = memscope(Some(columns), &["--root", &tree, "ps"]);
        let header = fitted.lines().next().unwrap();
        assert!(header.trim_end().ends_with("command"), "at {columns} columns:\n{fitted}");
        assert!(header.contains("PSS"), "at {columns} columns:\n{fitted}");
    }
    let whole = memscope(None, &["--root", &tree, "ps"]);
    let columns: Vec<&str> = whole.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(columns[columns.len() - 2..], ["shmem", "command"], "{whole}");
}
