//! `memscope top`'s ledger bar and legend on a real pseudo-terminal: tmux
//! runs the binary in a window of a given size, with and without colour
//! (`NO_COLOR`), and its screen is read back with `capture-pane` (`-e` keeps
//! the colours). At 80×24 and 200×50: no band label is cut into another
//! word, neighbouring bands differ (colour, or glyph without colour), and the
//! legend wraps between items, never inside one. tmux comes from
//! scripts/install-test-deps.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const FIXTURE: &str = "views-6.18-x86_64";

/// Every word of `report`'s table, whose rows are the ledger's labels: a
/// label cut short or run into the next is not among them.
fn label_words(root: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["--root", root, "report", "--wide"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run memscope report");
    String::from_utf8_lossy(&out.stdout)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// A tmux session, killed when dropped (even if the test fails).
struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.0]).status();
    }
}

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux (scripts/install-test-deps)");
    assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The screen of `top` at `cols`×`rows`: plain, and with colour escapes.
fn screen(cols: u16, rows: u16, color: bool) -> (Vec<String>, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(FIXTURE);
    let name = format!("memscope-top-{}-{cols}x{rows}-{color}", std::process::id());
    let cmd = format!(
        "env {} TERM=xterm-256color {} --root {} top",
        if color { "-u NO_COLOR" } else { "NO_COLOR=1" },
        env!("CARGO_BIN_EXE_memscope"),
        root.display()
    );
    let _s = Session(name.clone());
    tmux(&["new-session", "-d", "-s", &name, "-x", &cols.to_string(), "-y", &rows.to_string(), &cmd]);
    let started = Instant::now();
    loop {
        let plain = tmux(&["capture-pane", "-p", "-t", &name]);
        if plain.contains("1 Processes") && plain.lines().nth(1).is_some_and(|l| !l.contains("collecting")) {
            // A screen caught while it is written is half old, half new:
            // take one that holds still (a tree's figures do not change).
            std::thread::sleep(Duration::from_millis(300));
            let escaped = tmux(&["capture-pane", "-p", "-e", "-t", &name]);
            let again = tmux(&["capture-pane", "-p", "-t", &name]);
            if again == plain {
                return (
                    plain.lines().map(String::from).collect(),
                    escaped.lines().map(String::from).collect(),
                );
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30), "top never drew its screen:\n{plain}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The background colours of a captured line, in order, one per change.
fn backgrounds(escaped: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = escaped;
    while let Some(i) = rest.find("\x1b[") {
        rest = &rest[i + 2..];
        let end = rest.find('m').unwrap_or(rest.len());
        let params: Vec<&str> = rest[..end].split(';').collect();
        let mut j = 0;
        while j < params.len() {
            match params[j] {
                "48" if params.get(j + 1) == Some(&"5") => {
                    out.push(format!("48;5;{}", params.get(j + 2).unwrap_or(&"")));
                    j += 3;
                }
                // 49 is the default background: no band.
                p if (p.len() == 2 && p.starts_with('4') && p != "49")
                    || (p.len() == 3 && p.starts_with("10")) =>
                {
                    out.push(p.to_string());
                    j += 1;
                }
                _ => j += 1,
            }
        }
    }
    out
}

fn check(cols: u16, rows: u16) {
    let mut bands = Vec::new();
    for color in [true, false] {
        bands.push(check_one(cols, rows, color));
    }
    // As many bands in colour as glyph runs without: no two neighbours
    // merged into one colour.
    assert_eq!(bands[0], bands[1], "bands in colour vs without, at {cols}x{rows}");
}

/// Check one screen; the number of bands its bar shows.
fn check_one(cols: u16, rows: u16, color: bool) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(FIXTURE);
    let words = label_words(root.to_str().unwrap());
    let (plain, escaped) = screen(cols, rows, color);
    let what = format!("{cols}x{rows} colour {color}:\n{}", plain.join("\n"));
    let bar = &plain[1];
    // capture-pane drops trailing blanks: only a glyph-filled bar shows its width.
    if !color {
        assert_eq!(bar.chars().count(), cols as usize, "the bar fills the width, {what}");
    }
    // Every word in the bar is a whole word of a label: none cut, none run together.
    for w in bar.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        assert!(words.iter().any(|l| l == w), "`{w}` in the bar is no label's word, {what}");
    }
    assert!(bar.contains("free") && bar.contains("page cache"), "{what}");
    let bgs = backgrounds(&escaped[1]);
    let bands = if color {
        assert!(bgs.len() >= 5, "{bgs:?}, {what}");
        assert!(bgs.windows(2).all(|p| p[0] != p[1]), "neighbouring bands share a colour: {bgs:?}");
        bgs.len()
    } else {
        assert!(
            !escaped.iter().any(|l| l.contains("38;5;") || l.contains("48;5;")),
            "NO_COLOR, yet colours: {what}"
        );
        // Without colour, glyphs tell the bands apart: no two neighbours alike.
        let mut runs: Vec<char> =
            bar.chars().filter(|c| !c.is_alphanumeric() && *c != ' ' && *c != ',').collect();
        runs.dedup();
        assert!(runs.len() >= 5, "{runs:?}, {what}");
        assert!(bar.contains('!'), "unaccounted has its own glyph, {what}");
        runs.len()
    };
    // The legend: items of `mark label size`, wrapped between items.
    for line in &plain[2..4] {
        for item in line.trim_end().split("  ").filter(|i| !i.is_empty()) {
            let ok = item.ends_with(" more")
                || ["B", "KiB", "MiB", "GiB", "TiB"].iter().any(|u| item.ends_with(&format!(" {u}")))
                    && item.chars().nth(1) == Some(' ');
            assert!(ok, "legend item `{item}` is cut, {what}");
        }
    }
    assert!(plain[2].contains("unaccounted"), "unaccounted leads the legend, {what}");
    // The process table keeps its numbers whole: each process's RSS reads
    // as `ps` figures it.
    let ps = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["--root", root.to_str().unwrap(), "ps", "--json"])
        .output()
        .expect("run memscope ps");
    let ps: serde_json::Value = serde_json::from_slice(&ps.stdout).expect("ps JSON");
    let mut checked = 0;
    for p in ps["processes"].as_array().expect("processes") {
        let pid = p["pid"].to_string();
        let Some(rss) = p["rss_bytes"].as_i64() else { continue };
        let rss = memscope_analysis::fmt_bytes(rss);
        let row = plain
            .iter()
            .skip_while(|l| !l.trim_start().starts_with("PID"))
            .skip(1)
            .find(|l| l.split_whitespace().next().map(|t| t.trim_start_matches('*')) == Some(&pid));
        if let Some(row) = row {
            assert!(row.contains(&format!(" {rss} ")), "pid {pid}: RSS {rss} cut in `{row}`, {what}");
            checked += 1;
        }
    }
    assert!(checked >= 3, "{checked} rows compared, {what}");
    bands
}

#[test]
fn ledger_bar_and_legend_at_80x24_with_and_without_colour() {
    check(80, 24);
}

#[test]
fn ledger_bar_and_legend_at_200x50_with_and_without_colour() {
    check(200, 50);
}
