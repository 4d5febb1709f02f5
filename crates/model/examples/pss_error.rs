//! The error of incremental PSS against a full read, on the running system:
//! every INTERVAL_MS for SECONDS, one incremental pass (as `record` collects)
//! and right after it two full reads. The error is the incremental total
//! against the first full read's; the second full read against the first
//! says how much the system itself moved between two reads (the noise the
//! error cannot be told apart from). Totals are over the processes present
//! in all three reads (same pid and start time).
//!
//!   cargo run --release -p memscope-model --example pss_error -- SECONDS INTERVAL_MS

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use memscope_kernel::KernelRoot;
use memscope_model::{CollectOptions, IncrementalPss, ProcessMode, collect_processes};

/// (pid, start time) → PSS bytes.
fn pss(root: &KernelRoot, opts: &CollectOptions) -> (BTreeMap<(u32, u64), u64>, usize, usize) {
    let snap = collect_processes(root, opts);
    let figs = snap
        .processes
        .iter()
        .filter_map(|p| {
            let start = p.stat.as_ref().ok()?.starttime_ticks?;
            Some(((p.pid, start), p.rollup()?.pss()?))
        })
        .collect();
    (figs, snap.scan.rollup_read, snap.scan.rollup_carried)
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().expect("a number")).collect();
    let seconds = args.first().copied().unwrap_or(600);
    let interval = Duration::from_millis(args.get(1).copied().unwrap_or(10_000));
    let root = KernelRoot::live();
    let incremental = CollectOptions {
        processes: ProcessMode::Full,
        incremental: Some(IncrementalPss::new()),
        ..CollectOptions::default()
    };
    let full = CollectOptions { processes: ProcessMode::Full, ..CollectOptions::default() };
    let started = Instant::now();
    let (mut worst, mut worst_noise, mut sum, mut n) = (0f64, 0f64, 0f64, 0u32);
    let (mut read, mut carried) = (0usize, 0usize);
    println!("snapshot  processes  read  carried  total_pss_mib  error_pct  noise_pct");
    while started.elapsed() < Duration::from_secs(seconds) {
        let due = started + interval * n;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let (inc, r, c) = pss(&root, &incremental);
        let (a, _, _) = pss(&root, &full);
        let (b, _, _) = pss(&root, &full);
        let common: Vec<&(u32, u64)> =
            inc.keys().filter(|k| a.contains_key(k) && b.contains_key(k)).collect();
        let total = |m: &BTreeMap<(u32, u64), u64>| common.iter().map(|k| m[k]).sum::<u64>() as f64;
        let (ti, ta, tb) = (total(&inc), total(&a), total(&b));
        let err = 100.0 * (ti - ta).abs() / ta.max(1.0);
        let noise = 100.0 * (tb - ta).abs() / ta.max(1.0);
        println!(
            "{n:8}  {:9}  {r:4}  {c:7}  {:13.1}  {err:9.3}  {noise:9.3}",
            common.len(),
            ta / (1u64 << 20) as f64
        );
        if n > 0 {
            // The first pass reads everything: no error to speak of.
            worst = worst.max(err);
            worst_noise = worst_noise.max(noise);
            sum += err;
            read += r;
            carried += c;
        }
        n += 1;
    }
    let later = n.saturating_sub(1).max(1);
    println!(
        "after the first: {} snapshots, error mean {:.3}% worst {:.3}% (noise worst {:.3}%), {:.1} reads and {:.1} \
         carried per snapshot",
        n.saturating_sub(1),
        sum / later as f64,
        worst,
        worst_noise,
        read as f64 / later as f64,
        carried as f64 / later as f64
    );
}
