//! `memscope record`: snapshots into the store at an interval, until a
//! duration, a count or a signal (SIGINT, SIGTERM: the snapshot in progress
//! is finished first; a second SIGINT stops at once).

use std::io::{IsTerminal, Write};
use std::os::unix::fs::DirBuilderExt;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use memscope_analysis::fmt_bytes;
use memscope_export::style::timestamp;
use memscope_kernel::{KernelRoot, KmsgFollower};
use memscope_model::{collect, now_unix_ms};
use memscope_store::{Meta, Retention, Store};

use crate::cli::RecordArgs;
use crate::history::db_path;

/// CPU time of this process (all threads), microseconds.
fn cpu_usec() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as u64 * 1_000_000 + t.tv_nsec as u64 / 1000
}

/// Running totals, for the status line and the summary.
#[derive(Default)]
struct Totals {
    snapshots: u64,
    collect_cpu_usec: u64,
    store_cpu_usec: u64,
    processes: u64,
    pruned: usize,
}

pub fn run(root: &KernelRoot, a: &RecordArgs) -> anyhow::Result<ExitCode> {
    let path = db_path(&a.db)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        // Command lines of every process end up in the database: keep it
        // to its owner.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        eprintln!("memscope record: created {} (mode 0700) for the database", dir.display());
    }
    // Created 0600 (with its -wal and -shm) and never through a link: see
    // Store::open.
    let mut store = Store::open(&path).with_context(|| format!("cannot open {}", path.display()))?;

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while stopping ends the process at once.
        signal_hook::flag::register_conditional_shutdown(sig, 1, stop.clone())?;
        signal_hook::flag::register(sig, stop.clone())?;
    }

    let opts = crate::history::collect_options(a.budget_ms, a.max_rss, a.full_pss);
    let retention = Retention { keep: a.keep, max_bytes: a.max_size };
    let host = root.hostname().ok();
    let tty = std::io::stderr().is_terminal() && !a.verbose;
    let started = Instant::now();
    let used_at_start = store.used_bytes().unwrap_or(0);
    let mut t = Totals::default();
    let mut err = std::io::stderr();
    if !tty {
        writeln!(
            err,
            "memscope record: writing to {} every {}{}",
            path.display(),
            humantime::format_duration(a.interval),
            retention_text(&retention)
        )?;
    }
    // Kills older than the database's last snapshot (or, in a new one, than
    // this recording) are not on its timeline; 2 s of slack for the boot
    // time's whole seconds.
    let mut oom =
        OomWatch::new(root, store.latest_snapshot_ms().ok().flatten().unwrap_or_else(now_unix_ms), "record");
    let limit = if a.once { Some(1) } else { a.count };
    let mut next = Instant::now();
    let mut last_log = Instant::now();
    let outcome: anyhow::Result<()> = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        if limit.is_some_and(|n| t.snapshots >= n) || a.duration.is_some_and(|d| started.elapsed() >= d) {
            break Ok(());
        }
        // Sleep to the next tick in short steps so that a signal is seen.
        while Instant::now() < next && !stop.load(Ordering::Relaxed) {
            std::thread::sleep((next - Instant::now()).min(Duration::from_millis(50)));
        }
        if stop.load(Ordering::Relaxed) || a.duration.is_some_and(|d| started.elapsed() >= d) {
            break Ok(());
        }
        let wall = Instant::now();
        let cpu0 = cpu_usec();
        let mut snap = collect(root, &opts);
        let collect_cpu = cpu_usec().saturating_sub(cpu0);
        let meta = Meta {
            host: host.clone(),
            collect_wall_usec: Some(wall.elapsed().as_micros() as u64),
            collect_cpu_usec: Some(collect_cpu),
        };
        let cpu1 = cpu_usec();
        let processes = snap.processes.len();
        let id = match store.write_owned(&mut snap, &meta) {
            Ok(id) => id,
            Err(e) => break Err(anyhow::Error::new(e).context("cannot record the snapshot; stopped")),
        };
        if let Err(e) = oom.keep(root, &mut store, id, snap.taken_at_unix_ms, &mut err) {
            break Err(anyhow::Error::new(e).context("cannot record the OOM kills; stopped"));
        }
        match store.prune(&retention, now_unix_ms()) {
            Ok(p) => t.pruned += p.snapshots,
            Err(e) => break Err(anyhow::Error::new(e).context("cannot apply the retention; stopped")),
        }
        t.store_cpu_usec += cpu_usec().saturating_sub(cpu1);
        t.collect_cpu_usec += collect_cpu;
        t.snapshots += 1;
        t.processes += processes as u64;
        let line = format!(
            "snapshot {id} at {}: {} processes, {:.1} ms CPU to collect, {:.1} ms to store; database {}",
            timestamp(snap.taken_at_unix_ms),
            processes,
            collect_cpu as f64 / 1000.0,
            (cpu_usec().saturating_sub(cpu1)) as f64 / 1000.0,
            fmt_bytes(store.used_bytes().unwrap_or(0) as i64)
        );
        if a.verbose {
            writeln!(err, "{line}")?;
        } else if tty {
            write!(err, "\r\x1b[K{} snapshots · {line}", t.snapshots)?;
            err.flush()?;
        } else if last_log.elapsed() >= Duration::from_secs(3600) {
            writeln!(err, "memscope record: {} snapshots so far; last {line}", t.snapshots)?;
            last_log = Instant::now();
        }
        // The next tick on the grid; ticks missed by a slow pass are skipped.
        next += a.interval;
        let now = Instant::now();
        if next < now {
            let behind = now - next;
            let skip = (behind.as_nanos() / a.interval.as_nanos().max(1)) as u32 + 1;
            next += a.interval * skip;
        }
    };
    if tty {
        writeln!(err)?;
    }
    let _ = store.checkpoint();
    summary(&mut err, &store, &t, used_at_start)?;
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e),
    }
}

/// The OOM kills of the kernel log, kept at each snapshot (`record`,
/// `leaks --watch`).
pub(crate) struct OomWatch {
    /// Kills before this time (ms since the epoch) are not kept.
    since_ms: u64,
    boot_id: Option<String>,
    /// Read once: it does not change while the command runs.
    boot_time_seconds: Result<u64, memscope_kernel::ReadError>,
    /// Where the kernel log was left: each snapshot reads only what was
    /// printed since the last.
    follower: KmsgFollower,
    /// The log's unavailability was said once.
    warned: bool,
    /// The command, for what it says.
    command: &'static str,
}

impl OomWatch {
    /// Keep the kills from `since_ms` on (ms since the epoch), less 2 s of
    /// slack for the boot time's whole seconds.
    pub(crate) fn new(root: &KernelRoot, since_ms: u64, command: &'static str) -> OomWatch {
        OomWatch {
            since_ms: since_ms.saturating_sub(2000),
            boot_id: root.boot_id().ok(),
            boot_time_seconds: root.boot_time_seconds(),
            follower: KmsgFollower::new(),
            warned: false,
            command,
        }
    }

    /// Read the log's OOM reports and keep the kills new since `since_ms`;
    /// without the log, store why (readers then fall back to the cgroups'
    /// own counts) and say it once.
    pub(crate) fn keep(
        &mut self,
        root: &KernelRoot,
        store: &mut Store,
        id: i64,
        taken_ms: u64,
        err: &mut dyn Write,
    ) -> Result<(), memscope_store::StoreError> {
        let input = memscope_model::oom::read_followed(root, &mut self.follower, &self.boot_time_seconds);
        match &input.log {
            Ok(log) => {
                let boot = input.boot_time_seconds.as_ref().ok().copied();
                let boot_id = match (&self.boot_id, boot) {
                    (Some(b), _) => b.clone(),
                    (None, Some(t)) => format!("btime:{t}"),
                    (None, None) => "unknown".into(),
                };
                let kills: Vec<_> =
                    memscope_analysis::oom_timeline::events(log, &boot_id, boot, root.page_size(), taken_ms)
                        .into_iter()
                        .filter(|k| k.at_unix_ms >= self.since_ms)
                        .collect();
                store.write_oom_kills(id, Ok(&kills))?;
            }
            Err(e) => {
                let why = memscope_analysis::hints::unavailable_reason(e);
                store.write_oom_kills(id, Err(&why))?;
                if !self.warned {
                    self.warned = true;
                    let _ = writeln!(
                        err,
                        "memscope {}: the kernel log is unavailable ({why}): OOM kills are known only \
                         by the memory cgroups' own counts",
                        self.command
                    );
                }
            }
        }
        Ok(())
    }
}

fn retention_text(r: &Retention) -> String {
    let mut parts = Vec::new();
    if let Some(k) = r.keep {
        parts.push(format!("keeping {}", humantime::format_duration(k)));
    }
    if let Some(m) = r.max_bytes {
        parts.push(format!("at most {}", fmt_bytes(m as i64)));
    }
    if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(", ")) }
}

/// What the recording cost: CPU per snapshot and bytes stored, per snapshot
/// and per process.
fn summary(w: &mut dyn Write, store: &Store, t: &Totals, used_at_start: u64) -> std::io::Result<()> {
    if t.snapshots == 0 {
        return writeln!(w, "memscope record: no snapshot recorded");
    }
    let n = t.snapshots as f64;
    let used = store.used_bytes().unwrap_or(0);
    let mut line = format!(
        "memscope record: {} snapshots into {} ({}); CPU per snapshot {:.1} ms to collect + {:.1} ms to store",
        t.snapshots,
        store.path(),
        fmt_bytes(used as i64),
        t.collect_cpu_usec as f64 / n / 1000.0,
        t.store_cpu_usec as f64 / n / 1000.0,
    );
    if t.pruned == 0 && used > used_at_start {
        line.push_str(&format!(
            "; about {} per snapshot",
            fmt_bytes(((used - used_at_start) as f64 / n) as i64)
        ));
    }
    if let Some(per_process) = bytes_per_process(store) {
        line.push_str(&format!(", {per_process:.0} bytes per process per snapshot"));
    }
    if t.pruned > 0 {
        line.push_str(&format!("; {} old snapshots deleted by the retention", t.pruned));
    }
    writeln!(w, "{line}")
}

/// Bytes of the per-process tables over the process rows they hold.
fn bytes_per_process(store: &Store) -> Option<f64> {
    let tables = store.table_bytes().ok()?;
    let bytes: u64 = tables
        .iter()
        .filter(|(name, _)| name == "processes" || name.starts_with("process_"))
        .map(|(_, b)| *b)
        .sum();
    let rows: i64 = store.connection().query_row("SELECT count(*) FROM processes", [], |r| r.get(0)).ok()?;
    (rows > 0).then(|| bytes as f64 / rows as f64)
}
