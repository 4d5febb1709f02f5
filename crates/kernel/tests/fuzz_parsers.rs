//! Fuzzing on stable, bounded, in the test suite: the cargo-fuzz target's
//! dispatch ([`memscope_kernel::fuzzing::parse_any`]) over every fixture
//! file with every parser, then over mutations of them (bytes set, inserted
//! and deleted, absurd numbers spliced in, lines repeated, cuts) chosen by
//! proptest. `scripts/fuzz` runs the same dispatch under libFuzzer for
//! longer; this keeps every change honest in a fixed time (~20 s).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use memscope_kernel::fuzzing::{PARSERS, parse_any};
use proptest::prelude::*;
use proptest::sample::Index;

/// Cases of the mutation run (each one parse of up to 8 KiB).
const CASES: u32 = 24_000;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(ty) = e.file_type() else { continue };
        if ty.is_dir() {
            walk(&e.path(), out);
        } else if ty.is_file() {
            out.push(e.path());
        }
    }
}

/// The seed corpus, as `scripts/fuzz` builds it: the first 4 KiB of every
/// fixture file under 64 KiB, one copy per distinct content.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut files = Vec::new();
        walk(&fixtures(), &mut files);
        let mut seeds: Vec<Vec<u8>> = files
            .iter()
            .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() < 64 << 10))
            .filter_map(|p| std::fs::read(p).ok())
            .map(|mut d| {
                d.truncate(4096);
                d
            })
            .collect();
        seeds.sort();
        seeds.dedup();
        assert!(seeds.len() > 100, "the fixture trees are the seeds: found {}", seeds.len());
        seeds
    })
}

fn with_selector(sel: u8, body: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(body.len() + 1);
    data.push(sel);
    data.extend_from_slice(body);
    data
}

#[test]
fn every_parser_reads_every_fixture_file_without_panicking() {
    let mut runs = 0;
    for seed in seeds() {
        for sel in 0..PARSERS {
            parse_any(&with_selector(sel, seed));
            runs += 1;
        }
    }
    eprintln!("fuzz seeds: {} files × {PARSERS} parsers = {runs} parses", seeds().len());
}

/// One edit of a seed.
#[derive(Debug, Clone)]
enum Edit {
    Set(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    /// An absurd number where a number may be.
    Number(Index, &'static str),
    /// A line repeated many times (long files, repeated keys).
    RepeatLine(Index, u8),
    Cut(Index),
}

const NUMBERS: &[&str] = &[
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "-1",
    "99999999999999999999999999",
    "0x",
    "1e308",
    "",
];

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        2 => any::<Index>().prop_map(Edit::Delete),
        3 => (any::<Index>(), prop::sample::select(NUMBERS)).prop_map(|(i, n)| Edit::Number(i, n)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, n)| Edit::RepeatLine(i, n)),
        1 => any::<Index>().prop_map(Edit::Cut),
    ]
}

fn apply(data: &mut Vec<u8>, e: &Edit) {
    let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len) };
    match e {
        Edit::Set(i, b) if !data.is_empty() => {
            let k = at(i, data.len());
            data[k] = *b;
        }
        Edit::Insert(i, b) => data.insert(at(i, data.len() + 1), *b),
        Edit::Delete(i) if !data.is_empty() => {
            data.remove(at(i, data.len()));
        }
        Edit::Number(i, n) => {
            let k = at(i, data.len() + 1);
            data.splice(k..k, n.bytes());
        }
        Edit::RepeatLine(i, times) if !data.is_empty() => {
            let k = at(i, data.len());
            let start = data[..k].iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
            let end = data[k..].iter().position(|b| *b == b'\n').map_or(data.len(), |p| k + p + 1);
            let line = data[start..end].to_vec();
            for _ in 0..*times {
                data.splice(end..end, line.iter().copied());
            }
        }
        Edit::Cut(i) => data.truncate(at(i, data.len() + 1)),
        _ => {}
    }
    data.truncate(8192);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_parser_survives_mutated_kernel_files(
        seed in any::<Index>(),
        sel in 0..PARSERS,
        edits in prop::collection::vec(edit(), 1..12),
    ) {
        let mut body = seeds()[seed.index(seeds().len())].clone();
        for e in &edits {
            apply(&mut body, e);
        }
        parse_any(&with_selector(sel, &body));
    }

    #[test]
    fn every_parser_survives_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        parse_any(&data);
    }
}
