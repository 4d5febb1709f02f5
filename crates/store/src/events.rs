//! Events beside the snapshots: the OOM kills `record` saw in the kernel
//! log (table `oom_kills`), and whether the log could be read at each
//! snapshot (`oom_log_reads`), with what a reader of a time window gets
//! back: an [`OomTimeline`].
//!
//! A kill is kept once, whichever snapshot or recording read its report
//! (`PRIMARY KEY (boot_id, since_boot_usec, pid)`, `INSERT OR IGNORE`).
//! Without the log, the timeline falls back to the rises of the memory
//! cgroups' own OOM kill counts between snapshots (the memory cgroups of
//! each snapshot's document).

use memscope_model::oom::{OomCountRise, OomEvent, OomTimeline};
use rusqlite::{Transaction, params};

use crate::{Store, StoreError};

/// Why a recording's kills are unknown: its snapshots did not read the log.
const NOT_RECORDED: &str = "this recording was made by a memscope that did not keep OOM kills; only the cgroups' \
                            own OOM kill counts tell of them";

/// The first schema version with these tables.
const SINCE_VERSION: u32 = 6;

/// Longest text kept per field (a comm is 15 bytes, a cgroup path at most
/// PATH_MAX): a corrupt log cannot grow the database without bound.
const TEXT_MAX: usize = 4096;

fn bounded(s: &str) -> &str {
    if s.len() <= TEXT_MAX {
        return s;
    }
    let mut end = TEXT_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn sql_u64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    /// Keep what the kernel log held at snapshot `snapshot_id`: `Ok(kills)`
    /// when it was read (kills already kept are left as they are), or
    /// `Err(reason)` when it could not be. The number of kills new to the
    /// database. One transaction.
    pub fn write_oom_kills(
        &mut self,
        snapshot_id: i64,
        log: Result<&[OomEvent], &str>,
    ) -> Result<usize, StoreError> {
        if self.schema < SINCE_VERSION {
            return Ok(0);
        }
        let result = (|| {
            let tx = self.conn.transaction()?;
            let n = write(&tx, snapshot_id, log)?;
            tx.commit()?;
            Ok(n)
        })();
        result.map_err(|e| self.full_err(e, "writing OOM kills"))
    }

    /// The time of the latest snapshot, ms since the epoch.
    pub fn latest_snapshot_ms(&self) -> Result<Option<u64>, StoreError> {
        let t: Option<i64> =
            self.conn.query_row("SELECT max(taken_at_unix_ms) FROM snapshots", [], |r| r.get(0))?;
        Ok(t.map(|t| t.max(0) as u64))
    }

    /// What the recording knows of OOM kills from `from_ms` to `to_ms`
    /// (inclusive): the kills kept from the log, the rises of the cgroups'
    /// counts between consecutive snapshots of the window, and why the log
    /// was not read where it was not.
    pub fn oom_timeline(&self, from_ms: u64, to_ms: u64) -> Result<OomTimeline, StoreError> {
        let mut t = OomTimeline::default();
        let (from, to) = (sql_u64(from_ms), sql_u64(to_ms));
        if self.schema >= 3 {
            t.count_rises = self.count_rises(from, to)?;
        }
        if self.schema < SINCE_VERSION {
            t.not_recorded = Some(NOT_RECORDED.into());
            return Ok(t);
        }
        // Snapshots that did not try the log: those of an older memscope
        // (a database migrated since), or written without it.
        let (total, untried): (i64, i64) = self
            .conn
            .prepare_cached(
                "SELECT count(*), count(*) - count(l.snapshot_id) FROM snapshots s \
             LEFT JOIN oom_log_reads l ON l.snapshot_id = s.id WHERE s.taken_at_unix_ms BETWEEN ?1 AND ?2",
            )?
            .query_row(params![from, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
        if untried > 0 && untried == total {
            t.not_recorded = Some(NOT_RECORDED.into());
        } else if untried > 0 {
            t.not_recorded = Some(format!(
                "{untried} of the window's {total} snapshots were taken by a memscope that did not keep OOM \
                 kills; for them only the cgroups' own OOM kill counts tell of kills"
            ));
        }
        let mut st = self.conn.prepare_cached(
            "SELECT boot_id, since_boot_usec, pid, at_unix_ms, comm, uid, constraint_kind, cgroup, task_cgroup, \
             limit_bytes, anon_rss_bytes, file_rss_bytes, shmem_rss_bytes, answer FROM oom_kills \
             WHERE at_unix_ms BETWEEN ?1 AND ?2 ORDER BY at_unix_ms, since_boot_usec, pid LIMIT 100000",
        )?;
        let u = |v: Option<i64>| v.map(|v| v.max(0) as u64);
        let rows = st.query_map(params![from, to], |r| {
            Ok(OomEvent {
                boot_id: r.get(0)?,
                since_boot_usec: r.get::<_, i64>(1)?.max(0) as u64,
                pid: r.get::<_, i64>(2)?.clamp(0, u32::MAX as i64) as u32,
                at_unix_ms: r.get::<_, i64>(3)?.max(0) as u64,
                comm: r.get(4)?,
                uid: r.get::<_, Option<i64>>(5)?.map(|v| v.clamp(0, u32::MAX as i64) as u32),
                constraint: r.get(6)?,
                cgroup: r.get(7)?,
                task_cgroup: r.get(8)?,
                limit_bytes: u(r.get(9)?),
                anon_rss_bytes: u(r.get(10)?),
                file_rss_bytes: u(r.get(11)?),
                shmem_rss_bytes: u(r.get(12)?),
                answer: r.get(13)?,
            })
        })?;
        t.kills = rows.collect::<Result<_, _>>()?;
        let errors: Vec<String> = {
            let mut st = self.conn.prepare_cached(
                "SELECT l.error FROM oom_log_reads l JOIN snapshots s ON s.id = l.snapshot_id \
                 WHERE l.error IS NOT NULL AND s.taken_at_unix_ms BETWEEN ?1 AND ?2 \
                 ORDER BY s.taken_at_unix_ms DESC LIMIT 1",
            )?;
            st.query_map(params![from, to], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        t.log_unavailable = errors.into_iter().next();
        Ok(t)
    }

    /// `(cgroup, taken_at_unix_ms, oom_kills)` of the window's snapshots,
    /// by cgroup then time: from each snapshot's system document, read one
    /// at a time without its processes.
    fn counts_in_documents(&self, from: i64, to: i64) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let ids: Vec<(i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT id, taken_at_unix_ms FROM snapshots WHERE taken_at_unix_ms BETWEEN ?1 AND ?2 \
                 ORDER BY taken_at_unix_ms, id",
            )?
            .query_map(params![from, to], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut rows: Vec<(String, i64, i64)> = Vec::new();
        for (id, at) in ids {
            let snap = crate::rows::read(
                &self.conn,
                id,
                crate::rows::Parts::System,
                self.schema,
                &mut Default::default(),
            )?;
            let Some(Ok(sample)) = snap.cgroups else { continue };
            for c in sample.cgroups {
                if let Ok(kills) = c.oom_kills {
                    rows.push((c.path, at, i64::try_from(kills).unwrap_or(i64::MAX)));
                }
            }
        }
        // Stable: each cgroup's counts stay in the snapshots' order.
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(rows)
    }

    /// The same from a database read in its layout from before documents
    /// (schema 3 to 6 keep the counts in `memory_cgroups`).
    fn counts_in_tables(&self, from: i64, to: i64) -> Result<Vec<(String, i64, i64)>, StoreError> {
        if self.schema < 3 {
            return Ok(Vec::new());
        }
        let mut st = self.conn.prepare_cached(
            "SELECT p.text, s.taken_at_unix_ms, c.oom_kills FROM memory_cgroups c \
             JOIN snapshots s ON s.id = c.snapshot_id JOIN strings p ON p.id = c.path \
             WHERE c.oom_kills IS NOT NULL AND s.taken_at_unix_ms BETWEEN ?1 AND ?2 \
             ORDER BY p.text, s.taken_at_unix_ms, s.id",
        )?;
        let rows = st
            .query_map(params![from, to], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Rises of each memory cgroup's OOM kill count between consecutive
    /// snapshots of the window. A rise of a cgroup that one of its
    /// descendants shows too in the same interval (v2 counts a subtree's
    /// kills in every ancestor) is left to the descendant.
    fn count_rises(&self, from: i64, to: i64) -> Result<Vec<OomCountRise>, StoreError> {
        let rows = if self.schema >= crate::schema::DOCUMENTS_SINCE {
            self.counts_in_documents(from, to)?
        } else {
            self.counts_in_tables(from, to)?
        };
        let mut rises = Vec::new();
        for w in rows.windows(2) {
            let ((p0, t0, k0), (p1, t1, k1)) = (&w[0], &w[1]);
            // A count that fell: the cgroup was removed and made again.
            if p0 == p1 && k1 > k0 {
                rises.push(OomCountRise {
                    cgroup: p1.clone(),
                    kills: (k1 - k0) as u64,
                    from_unix_ms: (*t0).max(0) as u64,
                    to_unix_ms: (*t1).max(0) as u64,
                });
            }
        }
        let below = |r: &OomCountRise, o: &OomCountRise| {
            o.from_unix_ms == r.from_unix_ms
                && o.to_unix_ms == r.to_unix_ms
                && o.cgroup.len() > r.cgroup.len()
                && (r.cgroup == "/" || o.cgroup.starts_with(&format!("{}/", r.cgroup)))
        };
        let keep: Vec<bool> = rises.iter().map(|r| !rises.iter().any(|o| below(r, o))).collect();
        let mut out: Vec<OomCountRise> =
            rises.into_iter().zip(keep).filter_map(|(r, k)| k.then_some(r)).collect();
        out.sort_by(|a, b| a.to_unix_ms.cmp(&b.to_unix_ms).then_with(|| a.cgroup.cmp(&b.cgroup)));
        Ok(out)
    }
}

fn write(tx: &Transaction, snapshot_id: i64, log: Result<&[OomEvent], &str>) -> Result<usize, StoreError> {
    let error = log.err().map(bounded);
    tx.prepare_cached("INSERT OR REPLACE INTO oom_log_reads (snapshot_id, error) VALUES (?1, ?2)")?
        .execute(params![snapshot_id, error])?;
    let Ok(kills) = log else { return Ok(0) };
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO oom_kills (boot_id, since_boot_usec, pid, snapshot_id, at_unix_ms, comm, uid, \
         constraint_kind, cgroup, task_cgroup, limit_bytes, anon_rss_bytes, file_rss_bytes, shmem_rss_bytes, \
         answer) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?;
    let mut new = 0;
    for e in kills {
        new += ins.execute(params![
            bounded(&e.boot_id),
            sql_u64(e.since_boot_usec),
            e.pid,
            snapshot_id,
            sql_u64(e.at_unix_ms),
            bounded(&e.comm),
            e.uid,
            e.constraint.as_deref().map(bounded),
            e.cgroup.as_deref().map(bounded),
            e.task_cgroup.as_deref().map(bounded),
            e.limit_bytes.map(sql_u64),
            e.anon_rss_bytes.map(sql_u64),
            e.file_rss_bytes.map(sql_u64),
            e.shmem_rss_bytes.map(sql_u64),
            bounded(&e.answer),
        ])?;
    }
    Ok(new)
}

/// Delete the rows of the snapshots listed in the temporary table `doomed`
/// (retention).
pub(crate) fn delete_doomed(tx: &Transaction, schema: u32) -> Result<(), StoreError> {
    if schema >= SINCE_VERSION {
        tx.execute("DELETE FROM oom_kills WHERE snapshot_id IN (SELECT id FROM doomed)", [])?;
        tx.execute("DELETE FROM oom_log_reads WHERE snapshot_id IN (SELECT id FROM doomed)", [])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kill(pid: u32, usec: u64, at: u64) -> OomEvent {
        OomEvent {
            boot_id: "6f0c1b9e-boot".into(),
            since_boot_usec: usec,
            at_unix_ms: at,
            pid,
            comm: "memscope-worklo".into(),
            uid: Some(0),
            constraint: Some("CONSTRAINT_MEMCG".into()),
            cgroup: Some("/t".into()),
            task_cgroup: Some("/t".into()),
            limit_bytes: Some(64 << 20),
            anon_rss_bytes: Some(63 << 20),
            file_rss_bytes: Some(1 << 20),
            shmem_rss_bytes: Some(0),
            answer: "The kernel killed memscope-worklo.".into(),
        }
    }

    fn snapshot_at(store: &mut Store, ms: u64) -> i64 {
        // An empty tree: a snapshot of nothing but its time.
        let empty = tempfile::tempdir().unwrap();
        let mut snap = memscope_model::collect(
            &memscope_kernel::KernelRoot::at(empty.path()),
            &memscope_model::CollectOptions::default(),
        );
        snap.taken_at_unix_ms = ms;
        store.write(&snap, &crate::Meta::default()).unwrap()
    }

    #[test]
    fn oom_kills_round_trip_once_each_across_snapshots() {
        let mut store = Store::open_in_memory().unwrap();
        let a = snapshot_at(&mut store, 1_000_000);
        let k1 = kill(10, 5_000_000, 999_000);
        assert_eq!(store.write_oom_kills(a, Ok(std::slice::from_ref(&k1))).unwrap(), 1);
        let b = snapshot_at(&mut store, 2_000_000);
        let k2 = kill(11, 6_000_000, 1_500_000);
        // The next read of the log holds the first kill again.
        assert_eq!(store.write_oom_kills(b, Ok(&[k1.clone(), k2.clone()])).unwrap(), 1);
        let t = store.oom_timeline(0, 3_000_000).unwrap();
        assert_eq!(t.kills, vec![k1.clone(), k2.clone()]);
        assert_eq!(t.log_unavailable, None);
        assert_eq!(t.not_recorded, None);
        // The window selects by time.
        assert_eq!(store.oom_timeline(1_200_000, 3_000_000).unwrap().kills, vec![k2]);
        // A snapshot without the log says why.
        let c = snapshot_at(&mut store, 3_000_000);
        store.write_oom_kills(c, Err("permission denied (dmesg_restrict)")).unwrap();
        let t = store.oom_timeline(0, 3_000_000).unwrap();
        assert_eq!(t.log_unavailable.as_deref(), Some("permission denied (dmesg_restrict)"));
        assert_eq!(store.oom_timeline(0, 2_500_000).unwrap().log_unavailable, None);
    }

    #[test]
    fn an_older_recording_says_kills_were_not_kept() {
        use std::io::Read;
        // A database a memscope of schema 5 wrote (one snapshot).
        let gz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/store/schema-5.db.gz");
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(gz).unwrap()).read_to_end(&mut bytes).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        std::fs::write(&path, bytes).unwrap();
        let store = Store::open_read_only(&path).unwrap();
        let t = store.oom_timeline(0, u64::MAX / 2).unwrap();
        assert!(t.kills.is_empty());
        assert_eq!(t.not_recorded.as_deref(), Some(NOT_RECORDED));
        drop(store);
        // Opening it for writing migrates it, and kills are kept.
        let mut store = Store::open(&path).unwrap();
        let last = store.latest_snapshot_ms().unwrap().unwrap();
        let b = snapshot_at(&mut store, last + 1_000);
        assert_eq!(store.write_oom_kills(b, Ok(&[kill(1, 1, last + 500)])).unwrap(), 1);
        // The snapshots migrated did not read the log; the new one did.
        assert_eq!(store.oom_timeline(0, last).unwrap().not_recorded.as_deref(), Some(NOT_RECORDED));
        let t = store.oom_timeline(0, last + 1_000).unwrap();
        assert_eq!(t.kills.len(), 1);
        let partly = t.not_recorded.unwrap();
        assert!(partly.starts_with("1 of the window's 2 snapshots"), "{partly}");
        assert_eq!(store.oom_timeline(last + 1, last + 1_000).unwrap().not_recorded, None);
    }

    /// A snapshot at `ms` whose memory cgroups counted these OOM kills.
    fn snapshot_with_counts(store: &mut Store, ms: u64, counts: &[(&str, u64)]) -> i64 {
        use memscope_model::{CgroupMemory, CgroupSample, CgroupVersion};
        let empty = tempfile::tempdir().unwrap();
        let mut snap = memscope_model::collect(
            &memscope_kernel::KernelRoot::at(empty.path()),
            &memscope_model::CollectOptions::default(),
        );
        snap.taken_at_unix_ms = ms;
        let cgroups: Vec<CgroupMemory> = counts
            .iter()
            .map(|(path, kills)| CgroupMemory {
                path: path.to_string(),
                version: CgroupVersion::V2,
                current_bytes: Ok(1 << 20),
                limit: Ok(memscope_kernel::parse::cgroupfs::Limit::Max),
                oom_kills: Ok(*kills),
                ledger: None,
            })
            .collect();
        snap.cgroups = Some(Ok(CgroupSample { total: cgroups.len(), cgroups }));
        store.write(&snap, &crate::Meta::default()).unwrap()
    }

    #[test]
    fn without_the_log_kills_are_counted_by_the_cgroups_counts() {
        let mut store = Store::open_in_memory().unwrap();
        let why = "permission denied (kernel.dmesg_restrict=1)";
        let a = snapshot_with_counts(&mut store, 1_000, &[("/app", 2), ("/app/web", 2), ("/db", 5)]);
        store.write_oom_kills(a, Err(why)).unwrap();
        // One kill in /app/web, which v2 counts in /app too.
        let b = snapshot_with_counts(&mut store, 2_000, &[("/app", 3), ("/app/web", 3), ("/db", 5)]);
        store.write_oom_kills(b, Err(why)).unwrap();
        // /db was removed and made again: its count starts over, no kill.
        let c = snapshot_with_counts(&mut store, 3_000, &[("/app", 3), ("/app/web", 3), ("/db", 0)]);
        store.write_oom_kills(c, Err(why)).unwrap();
        let t = store.oom_timeline(0, 3_000).unwrap();
        assert!(t.kills.is_empty());
        assert_eq!(t.log_unavailable.as_deref(), Some(why));
        assert_eq!(
            t.count_rises,
            vec![OomCountRise {
                cgroup: "/app/web".into(),
                kills: 1,
                from_unix_ms: 1_000,
                to_unix_ms: 2_000
            }]
        );
        // The window bounds the pairs of snapshots compared.
        assert!(store.oom_timeline(2_000, 3_000).unwrap().count_rises.is_empty());
    }

    #[test]
    fn retention_deletes_the_kills_of_deleted_snapshots() {
        let mut store = Store::open_in_memory().unwrap();
        let a = snapshot_at(&mut store, 1_000);
        store.write_oom_kills(a, Ok(&[kill(1, 1, 900)])).unwrap();
        let b = snapshot_at(&mut store, 100_000_000);
        store.write_oom_kills(b, Ok(&[kill(2, 2, 99_000_000)])).unwrap();
        let r = crate::Retention { keep: Some(std::time::Duration::from_secs(60)), max_bytes: None };
        assert_eq!(store.prune(&r, 100_000_000).unwrap().snapshots, 1);
        let t = store.oom_timeline(0, u64::MAX / 2).unwrap();
        assert_eq!(t.kills.iter().map(|k| k.pid).collect::<Vec<_>>(), vec![2]);
    }
}
