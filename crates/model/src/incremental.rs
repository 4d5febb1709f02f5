//! Incremental PSS: what repeated collections (`record`, `serve`, `top`,
//! `leaks --watch`) carry from one pass to the next so that they re-read
//! `smaps_rollup` only where it can have changed.
//!
//! Reading `smaps_rollup` walks every present page-table entry of the
//! process (fs/proc/task_mmu.c `show_smaps_rollup` → `smaps_pte_range` →
//! `smaps_account`); `status` costs almost nothing (its `RssAnon`, `RssFile`,
//! `RssShmem` are the mm's counters, `VmSwap` the swap entries counter:
//! fs/proc/task_mmu.c `task_mem`). Between two passes most processes do not
//! change, so a pass re-reads a process's rollup only when
//!
//! - it is new (a pid not seen before, or seen with another start time);
//! - one of its `status` figures moved by more than
//!   [`PssPolicy::min_change_bytes`] or [`PssPolicy::change_ratio`] of its
//!   resident set since the read;
//! - its last read is older than [`PssPolicy::max_age`], or, when file and
//!   shared memory are at least half of its resident set (pages that other
//!   processes map and unmap without this one's counters moving),
//!   [`PssPolicy::shareable_max_age`];
//! - the PSS that moved between processes since the last pass over every
//!   process, or that the carried processes' own small moves may have
//!   moved ([`PssPolicy::drift_ratio`], below), is too large.
//!
//! Otherwise the last rollup is carried forward and the sample says how old
//! it is ([`crate::ProcessSample::pss_age_ms`]).
//!
//! **Why the drift bound.** A process's PSS also moves when *another*
//! process maps or unmaps a page it maps: a page mapped by `k` processes
//! counts `1/k` to each, so when one more maps it, each of the `k` loses
//! `1/k − 1/(k+1)`, together exactly the `1/(k+1)` the newcomer gains. So
//! the PSS the carried processes lost or gained is at most the change of the
//! *shared* PSS (`Pss − USS`) of the processes that were read (new ones,
//! changed ones) plus the shared PSS of those that exited. Processes whose
//! pages count but whose rollup is not followed (left out by a filter, over
//! the budget or the size cap, unreadable) move it too, by at most the pages
//! they mapped or unmapped: the movement of their `status` counters (all of
//! them when one is first seen or exits) is added as well. That sum is kept;
//! once it exceeds [`PssPolicy::drift_ratio`] of the total PSS, the pass
//! re-reads every process and the sum starts again from zero.
//!
//! **Why the creep.** A carried process whose counters moved by less than
//! the threshold has a figure off by at most that movement, and moved the
//! others' by at most as much again: twice the carried processes' counter
//! movement since their reads is added to the sum (not kept: it is measured
//! from each read afresh). Many small moves thus make a full pass as one
//! large one does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use memscope_kernel::parse::pid::smaps_rollup::SmapsRollup;

use crate::ProcessSample;

/// When a carried rollup must be read again.
#[derive(Debug, Clone, PartialEq)]
pub struct PssPolicy {
    /// A `status` figure (`RssAnon`, `RssFile`, `RssShmem`, `VmSwap`) that
    /// moved by more than this many bytes since the read…
    pub min_change_bytes: u64,
    /// …and by more than this fraction of the resident set at the read
    /// makes the process read again.
    pub change_ratio: f64,
    /// Every rollup is read again at least this often.
    pub max_age: Duration,
    /// Rollups of processes whose file and shared memory (`RssFile +
    /// RssShmem`) are at least half of their resident set are read again at
    /// least this often.
    pub shareable_max_age: Duration,
    /// Re-read every process once the shared PSS that moved since the last
    /// full pass exceeds this fraction of the total PSS.
    pub drift_ratio: f64,
}

impl Default for PssPolicy {
    fn default() -> PssPolicy {
        PssPolicy {
            min_change_bytes: 64 << 10,
            change_ratio: 0.002,
            max_age: Duration::from_secs(300),
            shareable_max_age: Duration::from_secs(60),
            drift_ratio: 0.004,
        }
    }
}

/// The `status` figures whose movement tells that a rollup is stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counters {
    anon: u64,
    file: u64,
    shmem: u64,
    swap: u64,
}

impl Counters {
    pub(crate) fn of(p: &ProcessSample) -> Option<Counters> {
        let s = p.status.as_ref().ok()?;
        Some(Counters {
            anon: s.get("RssAnon")?,
            file: s.get("RssFile")?,
            shmem: s.get("RssShmem")?,
            // Absent without swap support (CONFIG_SWAP=n): then never moves.
            swap: s.get("VmSwap").unwrap_or(0),
        })
    }

    fn rss(&self) -> u64 {
        self.anon.saturating_add(self.file).saturating_add(self.shmem)
    }

    /// Every page counted: what a process can share with others.
    fn all(&self) -> u64 {
        self.rss().saturating_add(self.swap)
    }

    /// The pages mapped or unmapped since `then`, at least.
    fn moved_from(&self, then: &Counters) -> u64 {
        self.anon
            .abs_diff(then.anon)
            .saturating_add(self.file.abs_diff(then.file))
            .saturating_add(self.shmem.abs_diff(then.shmem))
            .saturating_add(self.swap.abs_diff(then.swap))
    }

    fn largest_move(&self, then: &Counters) -> u64 {
        [
            self.anon.abs_diff(then.anon),
            self.file.abs_diff(then.file),
            self.shmem.abs_diff(then.shmem),
            self.swap.abs_diff(then.swap),
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }
}

/// One process's last read.
#[derive(Debug, Clone)]
struct Carried {
    starttime_ticks: u64,
    counters: Counters,
    rollup: SmapsRollup,
    read_at: Instant,
}

/// The shared PSS of a rollup (`Pss − USS`): what moves between processes.
fn shared_pss(r: &SmapsRollup) -> u64 {
    r.pss().unwrap_or(0).saturating_sub(r.uss().unwrap_or(0))
}

/// The state carried between collection passes ([`crate::CollectOptions::incremental`]).
/// One belongs to one [`memscope_kernel::KernelRoot`] and one sequence of
/// passes over the same processes (same filter).
#[derive(Debug, Default)]
pub struct IncrementalPss {
    policy: PssPolicy,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    by_pid: HashMap<u32, Carried>,
    /// Shared PSS moved since the last full pass, bytes.
    drift_bytes: u64,
    /// Total PSS of the last pass, bytes.
    total_pss_bytes: u64,
    /// The last counters of the live processes whose rollup is not
    /// followed: left out by the filter, or not read (budget, size cap,
    /// failure).
    unfollowed: HashMap<u32, Counters>,
    /// Twice the counter movement of this pass's carried processes since
    /// their reads, bytes (see the module's "creep").
    creep_bytes: u64,
    /// Passes so far.
    passes: u64,
}

/// What one pass decided for one process.
#[derive(Debug, Clone)]
pub(crate) enum Decision {
    /// Read `smaps_rollup`.
    Read,
    /// Keep this rollup, read this many milliseconds ago.
    Carry(SmapsRollup, u64),
}

impl IncrementalPss {
    /// Carried state with the default policy.
    pub fn new() -> std::sync::Arc<IncrementalPss> {
        IncrementalPss::with_policy(PssPolicy::default())
    }

    /// Carried state with `policy`.
    pub fn with_policy(policy: PssPolicy) -> std::sync::Arc<IncrementalPss> {
        std::sync::Arc::new(IncrementalPss { policy, state: Mutex::default() })
    }

    /// The policy.
    pub fn policy(&self) -> &PssPolicy {
        &self.policy
    }

    /// Decide, for each of `procs` (this pass's processes after the cheap
    /// files), whether to read its rollup; `alive` are the pids whose cheap
    /// files this pass read (also those a filter left out): a carried pid
    /// not among them has exited; `left_out` are the counters of those the
    /// filter left out.
    pub(crate) fn plan(
        &self,
        procs: &[ProcessSample],
        alive: &[u32],
        left_out: &[(u32, Counters)],
        now: Instant,
    ) -> Vec<Decision> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let first = st.passes == 0;
        // Exits: their shared PSS goes back to the processes that share it.
        let alive: std::collections::HashSet<u32> = alive.iter().copied().collect();
        let mut exited = 0u64;
        st.by_pid.retain(|pid, c| {
            let keep = alive.contains(pid);
            if !keep {
                exited = exited.saturating_add(shared_pss(&c.rollup));
            }
            keep
        });
        // Unfollowed processes: what they mapped or unmapped since the last
        // pass, everything they map when new or gone.
        st.unfollowed.retain(|pid, c| {
            let keep = alive.contains(pid);
            if !keep {
                exited = exited.saturating_add(c.all());
            }
            keep
        });
        let now_unfollowed = left_out.iter().copied().chain(
            procs
                .iter()
                .filter(|p| st.unfollowed.contains_key(&p.pid))
                .filter_map(|p| Some((p.pid, Counters::of(p)?))),
        );
        let mut unfollowed_moved = 0u64;
        let mut seen = Vec::new();
        for (pid, c) in now_unfollowed {
            unfollowed_moved = unfollowed_moved.saturating_add(match st.unfollowed.get(&pid) {
                Some(then) => c.moved_from(then),
                None if first => 0,
                None => c.all(),
            });
            seen.push((pid, c));
        }
        st.unfollowed.extend(seen);
        exited = exited.saturating_add(unfollowed_moved);
        // A pid seen with another start time: the old process exited too.
        for p in procs {
            let start = p.stat.as_ref().ok().and_then(|s| s.starttime_ticks);
            if let Some(c) = st.by_pid.get(&p.pid)
                && Some(c.starttime_ticks) != start
            {
                exited = exited.saturating_add(shared_pss(&c.rollup));
                st.by_pid.remove(&p.pid);
            }
        }
        st.drift_bytes = st.drift_bytes.saturating_add(exited);
        let full = first || self.policy.past(st.drift_bytes, st.total_pss_bytes);
        let mut creep = 0u64;
        let plan = procs
            .iter()
            .map(|p| {
                if full {
                    return Decision::Read;
                }
                let (Some(c), Some(now_counters)) = (st.by_pid.get(&p.pid), Counters::of(p)) else {
                    return Decision::Read;
                };
                let then = c.counters;
                let limit =
                    self.policy.min_change_bytes.max((self.policy.change_ratio * then.rss() as f64) as u64);
                if now_counters.largest_move(&then) > limit {
                    return Decision::Read;
                }
                let shareable =
                    then.file.saturating_add(then.shmem).saturating_mul(2) >= then.rss() && then.rss() > 0;
                let max_age = if shareable { self.policy.shareable_max_age } else { self.policy.max_age };
                let age = now.saturating_duration_since(c.read_at);
                if age >= max_age {
                    return Decision::Read;
                }
                creep = creep.saturating_add(now_counters.moved_from(&then).saturating_mul(2));
                Decision::Carry(c.rollup.clone(), age.as_millis() as u64)
            })
            .collect();
        st.creep_bytes = creep;
        plan
    }

    /// True when the shared PSS that moved, counting what this pass read
    /// (`procs` with their outcomes, carried ones with
    /// [`ProcessSample::pss_age_ms`]), is past the bound: the carried ones
    /// must then be read too, in the same pass.
    pub(crate) fn past_bound(&self, procs: &[ProcessSample]) -> bool {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (moved, total) = st.moved(procs);
        let carried = procs.iter().any(|p| p.pss_age_ms.is_some());
        carried
            && self.policy.past(st.drift_bytes.saturating_add(moved).saturating_add(st.creep_bytes), total)
    }

    /// Keep what this pass read (`procs` with their outcomes), read from
    /// `read_at`. A process whose rollup was not read (over the budget,
    /// failed) is forgotten: it is read as new next time. A pass that
    /// carried nothing starts the drift again from zero. One whose rollup
    /// was not read but whose counters were is followed by its counters.
    pub(crate) fn update(&self, procs: &[ProcessSample], read_at: Instant) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (moved, total) = st.moved(procs);
        for p in procs {
            if p.pss_age_ms.is_some() {
                continue;
            }
            let fresh = p.rollup().and_then(|r| {
                Some(Carried {
                    starttime_ticks: p.stat.as_ref().ok()?.starttime_ticks?,
                    counters: Counters::of(p)?,
                    rollup: r.clone(),
                    read_at,
                })
            });
            match fresh {
                Some(c) => {
                    st.unfollowed.remove(&p.pid);
                    st.by_pid.insert(p.pid, c);
                }
                None => {
                    st.by_pid.remove(&p.pid);
                    match Counters::of(p) {
                        // Kernel threads and zombies have no counters and map nothing.
                        Some(c) if !p.has_no_address_space() => st.unfollowed.insert(p.pid, c),
                        _ => st.unfollowed.remove(&p.pid),
                    };
                }
            }
        }
        let carried = procs.iter().any(|p| p.pss_age_ms.is_some());
        st.drift_bytes = if carried { st.drift_bytes.saturating_add(moved) } else { 0 };
        st.total_pss_bytes = total;
        st.passes += 1;
    }
}

impl PssPolicy {
    fn past(&self, drift_bytes: u64, total_pss_bytes: u64) -> bool {
        drift_bytes as f64 > self.drift_ratio * total_pss_bytes as f64
    }
}

impl State {
    /// The shared PSS that this pass's reads moved, and the total PSS.
    fn moved(&self, procs: &[ProcessSample]) -> (u64, u64) {
        let (mut moved, mut total) = (0u64, 0u64);
        for p in procs {
            let before = self.by_pid.get(&p.pid).map(|c| shared_pss(&c.rollup));
            match p.rollup() {
                Some(r) => {
                    total = total.saturating_add(r.pss().unwrap_or(0));
                    if p.pss_age_ms.is_none() {
                        moved = moved.saturating_add(before.unwrap_or(0).abs_diff(shared_pss(r)));
                    }
                }
                // Its PSS is gone (a zombie now) or unknown: count it as moved.
                None => moved = moved.saturating_add(before.unwrap_or(0)),
            }
        }
        (moved, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memscope_kernel::parse::pid::stat::Stat;
    use memscope_kernel::parse::pid::status::Status;

    fn sample(
        pid: u32,
        start: u64,
        anon_kib: u64,
        file_kib: u64,
        pss_kib: u64,
        uss_kib: u64,
    ) -> ProcessSample {
        let stat = Stat::parse(&format!(
            "{pid} (p) S 1 {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 1000 10 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0"
        ))
        .unwrap();
        let status = Status::parse(&format!(
            "Name:\tp\nVmRSS:\t{} kB\nRssAnon:\t{anon_kib} kB\nRssFile:\t{file_kib} kB\nRssShmem:\t0 kB\nVmSwap:\t0 kB\n",
            anon_kib + file_kib
        ));
        let rollup = SmapsRollup::parse(&format!(
            "00400000-7fff00000000 ---p 00000000 00:00 0 [rollup]\nRss: {} kB\nPss: {pss_kib} kB\nPrivate_Clean: 0 kB\nPrivate_Dirty: {uss_kib} kB\n",
            anon_kib + file_kib
        ));
        ProcessSample {
            pid,
            stat: Ok(stat),
            status: Ok(status.into()),
            rollup: crate::Rollup::Read(rollup),
            cgroup: Err(memscope_kernel::ReadError::NotReported { path: "cgroup".into(), field: None }),
            cmdline: Err(memscope_kernel::ReadError::NotReported { path: "cmdline".into(), field: None }),
            namespaces: None,
            fds: None,
            pss_age_ms: None,
            exe: None,
        }
    }

    fn reads(d: &[Decision]) -> Vec<bool> {
        d.iter().map(|d| matches!(d, Decision::Read)).collect()
    }

    #[test]
    fn the_first_pass_reads_everything_and_the_next_only_what_moved() {
        let inc = IncrementalPss::new();
        let t0 = Instant::now();
        let a = sample(10, 100, 10_000, 1_000, 11_000, 10_000);
        let b = sample(11, 100, 10_000, 1_000, 11_000, 10_000);
        assert_eq!(reads(&inc.plan(&[a.clone(), b.clone()], &[10, 11], &[], t0)), [true, true]);
        inc.update(&[a.clone(), b.clone()], t0);
        // b grew by 1 MiB: read; a did not: carried, with its age.
        let b2 = sample(11, 100, 11_024, 1_000, 12_024, 11_024);
        let d = inc.plan(&[a.clone(), b2.clone()], &[10, 11], &[], t0 + Duration::from_millis(1500));
        assert_eq!(reads(&d), [false, true]);
        assert!(matches!(&d[0], Decision::Carry(r, 1500) if r.pss() == Some(11_000 << 10)));
        // A small move (under 64 KiB) carries.
        let a2 = sample(10, 100, 10_032, 1_000, 11_032, 10_032);
        assert_eq!(reads(&inc.plan(&[a2], &[10, 11], &[], t0 + Duration::from_secs(2))), [false]);
    }

    #[test]
    fn a_reused_pid_is_new_and_old_rollups_are_read_again() {
        let inc = IncrementalPss::new();
        let t0 = Instant::now();
        let a = sample(10, 100, 10_000, 0, 10_000, 10_000);
        inc.plan(std::slice::from_ref(&a), &[10], &[], t0);
        inc.update(std::slice::from_ref(&a), t0);
        let reused = sample(10, 200, 10_000, 0, 10_000, 10_000);
        assert_eq!(reads(&inc.plan(&[reused], &[10], &[], t0)), [true]);
        let inc = IncrementalPss::new();
        inc.plan(std::slice::from_ref(&a), &[10], &[], t0);
        inc.update(std::slice::from_ref(&a), t0);
        assert_eq!(
            reads(&inc.plan(std::slice::from_ref(&a), &[10], &[], t0 + Duration::from_secs(299))),
            [false]
        );
        assert_eq!(
            reads(&inc.plan(std::slice::from_ref(&a), &[10], &[], t0 + Duration::from_secs(300))),
            [true]
        );
        // Mostly file-backed: read again sooner.
        let f = sample(12, 100, 1_000, 9_000, 5_000, 1_000);
        inc.plan(std::slice::from_ref(&f), &[10, 12], &[], t0);
        inc.update(std::slice::from_ref(&f), t0);
        assert_eq!(
            reads(&inc.plan(std::slice::from_ref(&f), &[10, 12], &[], t0 + Duration::from_secs(60))),
            [true]
        );
    }

    #[test]
    fn shared_pss_that_moved_past_the_bound_makes_a_full_pass() {
        let inc = IncrementalPss::new();
        let t0 = Instant::now();
        // Total PSS 100 MiB; the bound is 0.4 % of it, 400 KiB.
        let a = sample(10, 100, 50_000, 52_400, 102_400, 50_000);
        inc.plan(std::slice::from_ref(&a), &[10], &[], t0);
        inc.update(std::slice::from_ref(&a), t0);
        // A newcomer sharing 300 KiB: under the bound.
        let n = sample(11, 100, 0, 600, 300, 0);
        let d = inc.plan(&[a.clone(), n.clone()], &[10, 11], &[], t0);
        assert_eq!(reads(&d), [false, true]);
        let mut a_carried = a.clone();
        a_carried.pss_age_ms = Some(0);
        inc.update(&[a_carried, n.clone()], t0);
        // Another one: 600 KiB moved in all, past the bound: the carried
        // ones are read again in the same pass…
        let m = sample(12, 100, 0, 600, 300, 0);
        let d = inc.plan(&[a.clone(), n.clone(), m.clone()], &[10, 11, 12], &[], t0);
        assert_eq!(reads(&d), [false, false, true]);
        let mut a_carried = a.clone();
        a_carried.pss_age_ms = Some(0);
        let mut n_carried = n.clone();
        n_carried.pss_age_ms = Some(0);
        assert!(inc.past_bound(&[a_carried, n_carried, m.clone()]));
        // …and that full pass starts the count again.
        inc.update(&[a.clone(), n.clone(), m.clone()], t0);
        assert_eq!(reads(&inc.plan(&[a, n, m], &[10, 11, 12], &[], t0)), [false, false, false]);
    }

    #[test]
    fn an_exit_counts_its_shared_pss_as_moved() {
        let inc = IncrementalPss::new();
        let t0 = Instant::now();
        let a = sample(10, 100, 50_000, 52_400, 102_400, 50_000);
        let gone = sample(11, 100, 0, 1_000, 500, 0);
        inc.plan(&[a.clone(), gone.clone()], &[10, 11], &[], t0);
        inc.update(&[a.clone(), gone], t0);
        // 500 KiB of shared PSS went back to the others: past 0.4 %.
        assert_eq!(reads(&inc.plan(std::slice::from_ref(&a), &[10], &[], t0)), [true]);
    }

    #[test]
    fn an_unfollowed_process_mapping_shared_pages_makes_a_full_pass() {
        let inc = IncrementalPss::new();
        let t0 = Instant::now();
        // a maps a 50 MiB file; o, left out by a filter, does not yet.
        let a = sample(10, 100, 50_000, 52_400, 102_400, 50_000);
        let o = |file_kib| Counters::of(&sample(20, 100, 100, file_kib, 0, 0)).unwrap();
        inc.plan(std::slice::from_ref(&a), &[10, 20], &[(20, o(100))], t0);
        inc.update(std::slice::from_ref(&a), t0);
        // o's counters hold still: a is carried.
        assert_eq!(reads(&inc.plan(std::slice::from_ref(&a), &[10, 20], &[(20, o(100))], t0)), [false]);
        let mut a_carried = a.clone();
        a_carried.pss_age_ms = Some(0);
        inc.update(std::slice::from_ref(&a_carried), t0);
        // o maps the file: a's PSS halves though its counters do not move.
        assert_eq!(reads(&inc.plan(std::slice::from_ref(&a), &[10, 20], &[(20, o(52_400))], t0)), [true]);
        inc.update(std::slice::from_ref(&a), t0);
        // o exits: its pages go back to a.
        assert_eq!(reads(&inc.plan(std::slice::from_ref(&a), &[10, 20], &[(20, o(52_400))], t0)), [false]);
        inc.update(std::slice::from_ref(&a_carried), t0);
        assert_eq!(reads(&inc.plan(std::slice::from_ref(&a), &[10], &[], t0)), [true]);
    }

    #[test]
    fn a_process_whose_rollup_is_not_read_is_followed_by_its_counters() {
        let inc = IncrementalPss::new();
        let t0 = Instant::now();
        let a = sample(10, 100, 50_000, 52_400, 102_400, 50_000);
        let mut big = sample(11, 100, 100, 100, 0, 0);
        big.rollup = crate::Rollup::OverBudget;
        inc.plan(&[a.clone(), big.clone()], &[10, 11], &[], t0);
        inc.update(&[a.clone(), big.clone()], t0);
        let mut a_carried = a.clone();
        a_carried.pss_age_ms = Some(0);
        let d = inc.plan(&[a.clone(), big.clone()], &[10, 11], &[], t0);
        assert_eq!(reads(&d), [false, true]);
        inc.update(&[a_carried.clone(), big.clone()], t0);
        // Its rollup still not read, it maps 50 MiB a maps: a is read again.
        let mut grown = sample(11, 100, 100, 52_400, 0, 0);
        grown.rollup = crate::Rollup::OverBudget;
        inc.plan(&[a.clone(), grown.clone()], &[10, 11], &[], t0);
        assert!(inc.past_bound(&[a_carried, grown]));
    }

    #[test]
    fn many_small_moves_of_carried_processes_make_a_full_pass() {
        let inc = IncrementalPss::new();
        let t0 = Instant::now();
        // 100 processes of 10 MiB: total 1000 MiB, the bound 4 MiB.
        let procs: Vec<_> = (0..100).map(|i| sample(100 + i, 100, 10_240, 0, 10_240, 10_240)).collect();
        let alive: Vec<u32> = procs.iter().map(|p| p.pid).collect();
        inc.plan(&procs, &alive, &[], t0);
        inc.update(&procs, t0);
        // Each moved 16 KiB, under the 64 KiB threshold: all carried…
        let moved: Vec<_> = (0..100).map(|i| sample(100 + i, 100, 10_256, 0, 10_256, 10_256)).collect();
        assert!(reads(&inc.plan(&moved, &alive, &[], t0)).iter().all(|r| !r));
        // …but together 2 × 1600 KiB: under the bound.
        let carried = |v: &[ProcessSample]| {
            v.iter().map(|p| ProcessSample { pss_age_ms: Some(0), ..p.clone() }).collect::<Vec<_>>()
        };
        assert!(!inc.past_bound(&carried(&procs)));
        // 48 KiB each: 2 × 4800 KiB, past it.
        let moved: Vec<_> = (0..100).map(|i| sample(100 + i, 100, 10_288, 0, 10_288, 10_288)).collect();
        assert!(reads(&inc.plan(&moved, &alive, &[], t0)).iter().all(|r| !r));
        assert!(inc.past_bound(&carried(&procs)));
    }
}
