//! The error of incremental PSS against a full read, on the running system:
//! every INTERVAL_MS for SECONDS, a full read, one incremental pass (as
//! `record` collects) and another full read. The error is the incremental
//! total against the full read right after it; the full read before it
//! against the one after says how much the system itself moved across the
//! pass (the noise the error cannot be told apart from: a process that maps
//! a file others map between the pass and the read after it moves their
//! PSS, and the pass, right when it read, could not see it). Totals are
//! over the processes present in all three reads (same pid and start time),
//! but for this one.
//!
//! The error of the carried figures alone is printed beside it: the sum,
//! over the processes the incremental pass carried, of their carried PSS
//! less the full read's, against the full read's total. The processes the
//! pass read are read as a full read reads them; what they add to the
//! total error is the time between the two reads (the noise). The worst
//! error is also given over the passes where the full reads before and
//! after agree within 0.1%: there the system stood still across the pass,
//! and what is left is the incremental pass's own.
//!
//! Given a cgroup v2 directory (FREEZE_CGROUP) holding the churning
//! workloads, the three reads of each pass run with it frozen
//! (`cgroup.freeze`): the workloads start, grow, map and exit between the
//! passes, which is what a carried figure must follow, and stand still while
//! the pass and the two reads judging it run, so that the reads agree and
//! the error is the pass's own in every pass, not only in the quiet ones.
//!
//!   cargo run --release -p memscope-model --example pss_error -- SECONDS INTERVAL_MS [FREEZE_CGROUP]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use memscope_kernel::KernelRoot;
use memscope_model::{CollectOptions, IncrementalPss, ProcessMode, collect_processes};

type Key = (u32, u64);

/// What a read gives: (pid, start time) → PSS bytes, the keys whose figure
/// was carried, the rollups read and carried, and each key's command.
type Read = (BTreeMap<Key, u64>, BTreeSet<Key>, usize, usize, BTreeMap<Key, String>);

fn pss(root: &KernelRoot, opts: &CollectOptions) -> Read {
    let snap = collect_processes(root, opts);
    let mut figs = BTreeMap::new();
    let mut names = BTreeMap::new();
    let mut carried = BTreeSet::new();
    // The judge itself is left out: its memory moves with every read it
    // makes (buffers, the reading threads' stacks).
    let me = std::process::id();
    for p in snap.processes.iter().filter(|p| p.pid != me) {
        let Some(start) = p.stat.as_ref().ok().and_then(|s| s.starttime_ticks) else { continue };
        let Some(pss) = p.rollup().and_then(|r| r.pss()) else { continue };
        figs.insert((p.pid, start), pss);
        names.insert((p.pid, start), p.stat.as_ref().map(|s| s.comm.clone()).unwrap_or_default());
        if p.pss_age_ms.is_some() {
            carried.insert((p.pid, start));
        }
    }
    (figs, carried, snap.scan.rollup_read, snap.scan.rollup_carried, names)
}

/// Freezes (or thaws) every task of a cgroup v2 directory and waits until
/// the kernel says it is done (`frozen` in `cgroup.events`), at most a
/// second.
fn freeze(cgroup: &Path, frozen: bool) {
    std::fs::write(cgroup.join("cgroup.freeze"), if frozen { "1" } else { "0" })
        .expect("write cgroup.freeze");
    let want = if frozen { "frozen 1" } else { "frozen 0" };
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        let events = std::fs::read_to_string(cgroup.join("cgroup.events")).expect("read cgroup.events");
        if events.lines().any(|l| l == want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    eprintln!("pss_error: {} did not become {want} within a second", cgroup.display());
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<u64> = raw.iter().take(2).map(|a| a.parse().expect("a number")).collect();
    let seconds = args.first().copied().unwrap_or(600);
    let interval = Duration::from_millis(args.get(1).copied().unwrap_or(10_000));
    let frozen_cgroup = raw.get(2).map(PathBuf::from);
    let root = KernelRoot::live();
    let incremental = CollectOptions {
        processes: ProcessMode::Full,
        incremental: Some(IncrementalPss::new()),
        ..CollectOptions::default()
    };
    let full = CollectOptions { processes: ProcessMode::Full, ..CollectOptions::default() };
    let started = Instant::now();
    let (mut worst, mut worst_noise, mut worst_carried, mut sum, mut sum_carried, mut n) =
        (0f64, 0f64, 0f64, 0f64, 0f64, 0u32);
    let (mut read, mut carried) = (0usize, 0usize);
    let (mut worst_quiet, mut quiet) = (0f64, 0u32);
    println!("snapshot  processes  read  carried  total_pss_mib  error_pct  carried_error_pct  noise_pct");
    while started.elapsed() < Duration::from_secs(seconds) {
        let due = started + interval * n;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if let Some(cg) = &frozen_cgroup {
            freeze(cg, true);
        }
        let (b, _, _, _, _) = pss(&root, &full);
        let (inc, inc_carried, r, c, _) = pss(&root, &incremental);
        let (a, _, _, _, names) = pss(&root, &full);
        if let Some(cg) = &frozen_cgroup {
            freeze(cg, false);
        }
        let common: Vec<&Key> = inc.keys().filter(|k| a.contains_key(k) && b.contains_key(k)).collect();
        let total = |m: &BTreeMap<Key, u64>| common.iter().map(|k| m[k]).sum::<u64>() as f64;
        let (ti, ta, tb) = (total(&inc), total(&a), total(&b));
        let off: f64 =
            common.iter().filter(|k| inc_carried.contains(k)).map(|k| inc[k] as f64 - a[k] as f64).sum();
        let err = 100.0 * (ti - ta).abs() / ta.max(1.0);
        let err_carried = 100.0 * off.abs() / ta.max(1.0);
        let noise = 100.0 * (tb - ta).abs() / ta.max(1.0);
        if noise > 0.1 {
            // Who moved across the pass, and who came or went.
            let mut moved: Vec<(i64, &Key)> =
                common.iter().map(|k| (a[*k] as i64 - b[*k] as i64, *k)).filter(|(d, _)| *d != 0).collect();
            moved.sort_by_key(|(d, _)| -d.abs());
            let came: Vec<&Key> = a.keys().filter(|k| !b.contains_key(k)).collect();
            let went: Vec<&Key> = b.keys().filter(|k| !a.contains_key(k)).collect();
            eprintln!("pass {n}: noise {noise:.3}%; came {came:?}, went {went:?}; moved most (KiB):");
            for (d, k) in moved.iter().take(4) {
                eprintln!("  {:>7} {:<16} {:+}", k.0, names.get(*k).map_or("", |s| s.as_str()), d / 1024);
            }
        }
        println!(
            "{n:8}  {:9}  {r:4}  {c:7}  {:13.1}  {err:9.3}  {err_carried:17.3}  {noise:9.3}",
            common.len(),
            ta / (1u64 << 20) as f64
        );
        if n > 0 {
            // The first pass reads everything: no error to speak of.
            worst = worst.max(err);
            worst_carried = worst_carried.max(err_carried);
            worst_noise = worst_noise.max(noise);
            sum += err;
            if noise <= 0.1 {
                quiet += 1;
                worst_quiet = worst_quiet.max(err);
            }
            sum_carried += err_carried;
            read += r;
            carried += c;
        }
        n += 1;
    }
    let later = n.saturating_sub(1).max(1) as f64;
    println!(
        "after the first: {} snapshots, error mean {:.3}% worst {:.3}%; carried figures' error mean {:.3}% worst \
         {:.3}%; noise worst {:.3}%; worst where the full reads around the pass agree within 0.1% {:.3}% ({} snapshots); {:.1} \
         reads and {:.1} carried per snapshot",
        n.saturating_sub(1),
        sum / later,
        worst,
        sum_carried / later,
        worst_carried,
        worst_noise,
        worst_quiet,
        quiet,
        read as f64 / later,
        carried as f64 / later
    );
}
