//! The store's layout changed under the reading commands, not their answers:
//! a recording that the layout before documents wrote (schema version 5,
//! tests/store/recording-schema-5.db.gz: the 40-snapshot recording of
//! history.rs with descriptors, cgroups and pressure), kept with what
//! `leaks`, `diff` and `plot` printed of it then (tests/store/
//! recording-schema-5/; since OOM kills are on the timeline, with the
//! kill its cgroups' counts tell of), gives byte for byte the same output
//! - read as it is (the commands open it read-only: the old layout's reader);
//! - once migrated in place to documents;
//! - written anew, snapshot by snapshot, into a database of documents.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use memscope_store::{Meta, Store};

const EXE: &str = env!("CARGO_BIN_EXE_memscope");

fn kept() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/store")
}

/// Every command run, and the file that holds what it printed then.
const CASES: &[(&[&str], &str)] = &[
    (&["leaks", "--json"], "leaks.json"),
    (&["leaks"], "leaks.txt"),
    (&["leaks", "--json", "--from", "1", "--to", "10"], "leaks-1-10.json"),
    (&["diff", "--json"], "diff.json"),
    (&["diff"], "diff.txt"),
    (&["diff", "3", "30", "--json"], "diff-3-30.json"),
];

/// The recording as the old layout wrote it, copied into `dir`.
fn old_recording(dir: &Path) -> PathBuf {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(kept().join("recording-schema-5.db.gz")).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    let path = dir.join("old.db");
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Run every case on `db` and compare with what was printed then; `plot`'s
/// SVG too.
fn check(db: &Path, what: &str) {
    let db = db.to_str().unwrap();
    for (args, file) in CASES {
        let out = Command::new(EXE).args(*args).args(["--db", db]).env("NO_COLOR", "1").output().unwrap();
        assert!(out.status.success(), "{what}: {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let want = std::fs::read_to_string(kept().join("recording-schema-5").join(file)).unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{what}: memscope {args:?}");
    }
    let svg = Path::new(db).with_extension("svg");
    let out = Command::new(EXE)
        .args(["plot", "--db", db, "--out", svg.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{what}: plot: {}", String::from_utf8_lossy(&out.stderr));
    let want = std::fs::read(kept().join("recording-schema-5/plot.svg")).unwrap();
    assert!(std::fs::read(&svg).unwrap() == want, "{what}: plot draws another SVG");
}

#[test]
fn leaks_diff_and_plot_answer_the_same_before_and_after_documents() {
    let dir = tempfile::tempdir().unwrap();
    let old = old_recording(dir.path());
    assert_eq!(Store::open_read_only(&old).unwrap().schema_version().unwrap(), 5);
    check(&old, "the old layout, read as it is");

    let migrated = dir.path().join("migrated.db");
    std::fs::copy(&old, &migrated).unwrap();
    let mut from = Store::open(&migrated).unwrap();
    assert_eq!(from.schema_version().unwrap(), memscope_store::SCHEMA_VERSION);
    check(&migrated, "migrated in place");

    let fresh = dir.path().join("fresh.db");
    let mut to = Store::open(&fresh).unwrap();
    for info in from.list().unwrap() {
        let snap = from.read(info.id).unwrap();
        let meta = Meta {
            host: info.host.clone(),
            collect_wall_usec: info.collect_wall_usec,
            collect_cpu_usec: info.collect_cpu_usec,
        };
        assert_eq!(to.write(&snap, &meta).unwrap(), info.id);
    }
    drop(to);
    check(&fresh, "written anew as documents");
}
