//! What `record`, `leaks`, `diff` and `plot` share: durations, snapshot
//! selection, the database path.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use memscope_store::{SnapshotInfo, Store};

use crate::cli::DbArg;

/// A duration: `10s`, `5m`, `7d`, `1h 30m` (humantime), or plain seconds
/// (`0.05`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if !secs.is_finite() || !(0.0..=1e12).contains(&secs) {
            return Err(format!("`{s}` is out of range"));
        }
        return Ok(Duration::from_secs_f64(secs));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("`{s}` is not a duration ({e}; examples: 10s, 5m, 7d, 0.5)"))
}

/// A duration that must be more than zero (an interval, a window, how long
/// to watch): zero would spin, or judge nothing.
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("`{s}` is zero; give a duration above zero (examples: 10s, 5m, 500ms)"));
    }
    Ok(d)
}

/// Which snapshot: by id, by time, or by age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// A snapshot id.
    Id(i64),
    /// The snapshot taken at or before this time (ms since the epoch).
    At(u64),
    /// The snapshot taken at or before this long ago.
    Ago(Duration),
}

/// `12` (an id), `2026-11-22T10:00:00Z` (a time, UTC), `2h` (an age).
pub fn parse_when(s: &str) -> Result<When, String> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().map(When::Id).map_err(|_| format!("`{s}`: id out of range"));
    }
    if let Ok(ts) = humantime::parse_rfc3339_weak(t) {
        let ms = ts.duration_since(std::time::UNIX_EPOCH).map_err(|_| format!("`{s}` is before 1970"))?;
        return Ok(When::At(ms.as_millis() as u64));
    }
    if let Ok(d) = humantime::parse_duration(t) {
        return Ok(When::Ago(d));
    }
    Err(format!("`{s}` is neither a snapshot id, a time (2026-11-22T10:00:00Z) nor an age (2h)"))
}

/// The database: `--db`, `$MEMSCOPE_DB`, or the default for this user.
pub fn db_path(a: &DbArg) -> anyhow::Result<PathBuf> {
    if let Some(p) = &a.db {
        return Ok(p.clone());
    }
    memscope_store::default_path(rustix::process::geteuid().is_root())
        .context("no database path: set --db, MEMSCOPE_DB, XDG_STATE_HOME or HOME")
}

/// Open the recording for reading.
pub fn open_for_reading(a: &DbArg) -> anyhow::Result<Store> {
    let path = db_path(a)?;
    if !path.exists() {
        bail!(
            "{}: no recording here; start one with `memscope record --db {}`",
            path.display(),
            path.display()
        );
    }
    Store::open_read_only(&path).with_context(|| format!("cannot open {}", path.display()))
}

fn resolve(list: &[SnapshotInfo], w: When, now_ms: u64) -> anyhow::Result<usize> {
    let at_or_before = |t: u64| -> usize {
        // Before the first snapshot: the first.
        list.iter().rposition(|s| s.taken_at_unix_ms <= t).unwrap_or(0)
    };
    match w {
        When::Id(id) => {
            list.iter().position(|s| s.id == id).with_context(|| format!("no snapshot with id {id}"))
        }
        When::At(t) => Ok(at_or_before(t)),
        When::Ago(d) => Ok(at_or_before(now_ms.saturating_sub(d.as_millis() as u64))),
    }
}

/// The snapshots between `from` and `to` (inclusive; default: all).
pub fn select(store: &Store, from: Option<When>, to: Option<When>) -> anyhow::Result<Vec<SnapshotInfo>> {
    let list = store.list()?;
    if list.is_empty() {
        bail!("{}: the recording holds no snapshot yet", store.path());
    }
    let now = memscope_model::now_unix_ms();
    let a = match from {
        Some(w) => resolve(&list, w, now)?,
        None => 0,
    };
    // Asked for more than was recorded (`diff 2h` on a recording of 28 s):
    // say what is compared instead.
    let asked = match from {
        Some(When::At(t)) => Some(t),
        Some(When::Ago(d)) => Some(now.saturating_sub(d.as_millis() as u64)),
        _ => None,
    };
    if let Some(t) = asked.filter(|t| *t < list[0].taken_at_unix_ms) {
        let held = Duration::from_secs(now.saturating_sub(list[0].taken_at_unix_ms) / 1000);
        eprintln!(
            "memscope: the recording starts {} after the time asked for; from its first snapshot ({}, {} ago)",
            humantime::format_duration(Duration::from_secs((list[0].taken_at_unix_ms - t) / 1000)),
            memscope_export::style::timestamp(list[0].taken_at_unix_ms),
            humantime::format_duration(held)
        );
    }
    let b = match to {
        Some(w) => resolve(&list, w, now)?,
        None => list.len() - 1,
    };
    if a > b {
        bail!("the first snapshot ({}) is later than the last ({})", list[a].id, list[b].id);
    }
    Ok(list[a..=b].to_vec())
}

/// How `record` (and `leaks --watch`) collect: everything, with the
/// smaps_rollup reads under a time budget and a size cap, each process's
/// descriptors and `RLIMIT_NOFILE`, the system's `file-nr`, and the memory
/// cgroups with the files of their ledger split; one [`memscope_model::CollectCache`] for the whole recording, so
/// that what cannot change after boot is read once; and, unless `full_pss`,
/// each process's rollup carried between snapshots
/// ([`memscope_model::IncrementalPss`]).
pub fn collect_options(budget_ms: u64, max_rss_bytes: u64, full_pss: bool) -> memscope_model::CollectOptions {
    memscope_model::CollectOptions {
        processes: memscope_model::ProcessMode::Full,
        rollup_budget: Some(Duration::from_millis(budget_ms)),
        rollup_max_rss_bytes: Some(max_rss_bytes),
        fds: true,
        cgroups: true,
        cgroup_ledger: true,
        cache: Some(memscope_model::CollectCache::new()),
        status_keys: memscope_model::WATCHED_STATUS,
        incremental: (!full_pss).then(memscope_model::IncrementalPss::new),
        ..memscope_model::CollectOptions::default()
    }
}

/// `leaks --watch` collects like `record` with its default budget and cap.
pub const WATCH_BUDGET_MS: u64 = 250;
/// See [`WATCH_BUDGET_MS`].
pub const WATCH_MAX_RSS_BYTES: u64 = 32 << 30;

/// At most `n` of `items`, evenly spread, always keeping the first and last.
pub fn spread<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    let n = n.max(2);
    if items.len() <= n {
        return items.to_vec();
    }
    let last = items.len() - 1;
    let mut idx: Vec<usize> = (0..n).map(|i| i * last / (n - 1)).collect();
    idx.dedup();
    idx.into_iter().map(|i| items[i].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0.05"), Ok(Duration::from_millis(50)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn whens() {
        assert_eq!(parse_when("12"), Ok(When::Id(12)));
        assert_eq!(parse_when("2h"), Ok(When::Ago(Duration::from_secs(7200))));
        assert_eq!(parse_when("1970-01-01T00:00:01Z"), Ok(When::At(1000)));
        assert!(parse_when("yesterday-ish").is_err());
    }

    #[test]
    fn spread_keeps_ends() {
        let v: Vec<u32> = (0..100).collect();
        let s = spread(&v, 10);
        assert_eq!(s.len(), 10);
        assert_eq!((s[0], s[9]), (0, 99));
        assert_eq!(spread(&v[..5], 10), v[..5].to_vec());
    }
}
