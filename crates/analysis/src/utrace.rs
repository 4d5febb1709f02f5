//! `memscope trace --pid`: from a [`UserTraceSample`] (outstanding user
//! allocations per symbolised stack) to call sites with their callers, a
//! headline, and beside it each process's own growth over the window, so
//! that the reader sees how much of the growth the trace explains.
//!
//! ```text
//!  UserTraceSample ── group by (pid, kind, first frame) ──▶ UserSite { bytes, callers of the largest stack }
//!  smaps_rollup + maps before/after ──▶ ProcessMemory ──▶ UserProcess { growth }
//!                                  └──▶ headline, notes, folded stacks
//! ```

use std::collections::BTreeMap;

use memscope_kernel::parse::pid::maps::Maps;
use memscope_kernel::parse::pid::smaps_rollup::SmapsRollup;
use memscope_model::trace::StackState;
use memscope_model::utrace::{UserFrame, UserStack, UserTraceSample};
use serde::Serialize;

use crate::units::fmt_bytes;

/// A process's memory at one end of the window. Absent: not readable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProcessMemory {
    /// Resident bytes (`Rss` of smaps_rollup).
    pub rss_bytes: Option<u64>,
    /// Resident anonymous bytes (`Anonymous` of smaps_rollup).
    pub anon_bytes: Option<u64>,
    /// Virtual size of the `[heap]` (brk) mapping.
    pub heap_bytes: Option<u64>,
    /// Virtual size of the anonymous mappings other than the heap and the
    /// stacks (what mmap'd).
    pub anon_mapped_bytes: Option<u64>,
}

impl ProcessMemory {
    /// From `/proc/PID/smaps_rollup` and `/proc/PID/maps`.
    pub fn from_kernel(rollup: Option<&SmapsRollup>, maps: Option<&Maps>) -> ProcessMemory {
        let heap = maps.map(|m| {
            m.mappings.iter().filter(|x| x.path.as_deref() == Some("[heap]")).map(|x| x.size()).sum()
        });
        let mapped = maps.map(|m| m.mappings.iter().filter(|x| x.path.is_none()).map(|x| x.size()).sum());
        ProcessMemory {
            rss_bytes: rollup.and_then(|r| r.get("Rss")),
            anon_bytes: rollup.and_then(|r| r.get("Anonymous")),
            heap_bytes: heap,
            anon_mapped_bytes: mapped,
        }
    }
}

/// One traced process in the report.
#[derive(Debug, Clone, Serialize)]
pub struct UserProcess {
    /// Process id.
    pub pid: u32,
    /// Command name.
    pub comm: String,
    /// Allocator name (`glibc`).
    pub allocator: &'static str,
    /// The probed file.
    pub library: String,
    /// The process ended during the window.
    pub exited: bool,
    /// Outstanding bytes (scaled by sampling).
    pub outstanding_bytes: u64,
    /// Outstanding allocations (scaled by sampling).
    pub outstanding_allocations: u64,
    /// Memory at the start of the window.
    pub before: ProcessMemory,
    /// Memory at the end (absent when it exited).
    pub after: ProcessMemory,
    /// Growth of the resident anonymous memory over the window.
    pub anon_growth_bytes: Option<i64>,
}

/// One call site: the function that called the allocator.
#[derive(Debug, Clone, Serialize)]
pub struct UserSite {
    /// Process id.
    pub pid: u32,
    /// `heap` or `mmap`.
    pub kind: &'static str,
    /// The calling function, or `module+0xOFFSET`, or the address.
    pub function: String,
    /// `file:line` of the call, when the debuginfo has it.
    pub location: Option<String>,
    /// The file the function is in.
    pub module: Option<String>,
    /// Outstanding bytes (scaled by sampling).
    pub bytes: u64,
    /// Outstanding allocations (scaled by sampling).
    pub allocations: u64,
    /// Callers of the largest stack through this site, innermost first,
    /// each `function (file:line)`.
    pub callers: Vec<String>,
    /// Distinct stacks through this site.
    pub stacks: usize,
    /// The site's function keeps a frame pointer (`None`: not told).
    pub frame_pointer: Option<bool>,
    /// Its callers stop early: a function without frame pointer.
    pub truncated: bool,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct UserTraceReport {
    /// Length of the window, seconds.
    pub window_seconds: f64,
    /// One allocation in this many was recorded.
    pub sample_every: u32,
    /// Allocations smaller than this were not recorded.
    pub min_size_bytes: u64,
    /// The processes.
    pub processes: Vec<UserProcess>,
    /// Call sites, largest first, at most `top`.
    pub sites: Vec<UserSite>,
    /// Sites not listed (under `min_bytes` or beyond `top`).
    pub other_sites: usize,
    /// Their bytes.
    pub other_sites_bytes: u64,
    /// One sentence.
    pub headline: String,
    /// Caveats.
    pub notes: Vec<String>,
    /// Folded stacks (`pid;outer;…;inner` → bytes), for flame graphs.
    #[serde(skip)]
    pub folded: Vec<(String, u64)>,
}

/// How to build the report.
#[derive(Debug, Clone)]
pub struct UserReportOptions {
    /// Sites holding less are summed in `other_sites`.
    pub min_bytes: u64,
    /// At most this many sites.
    pub top: usize,
    /// Caller levels kept per site.
    pub depth: usize,
}

impl Default for UserReportOptions {
    fn default() -> Self {
        UserReportOptions { min_bytes: 0, top: 20, depth: 6 }
    }
}

/// A frame's name for output: the function, or `module+0xOFFSET`, or the address.
pub fn frame_name(f: &UserFrame) -> String {
    match (&f.function, &f.module) {
        (Some(func), _) => func.clone(),
        (None, Some(m)) => format!("{}@{:#x}", m.rsplit('/').next().unwrap_or(m), f.addr),
        (None, None) => format!("{:#x}", f.addr),
    }
}

/// `file:line` of a frame (the file name only), when known.
pub fn frame_location(f: &UserFrame) -> Option<String> {
    let file = f.file.as_deref()?;
    let short = file.rsplit('/').next().unwrap_or(file);
    Some(match f.line {
        Some(l) => format!("{short}:{l}"),
        None => short.to_string(),
    })
}

fn described(f: &UserFrame) -> String {
    match frame_location(f) {
        Some(l) => format!("{} ({l})", frame_name(f)),
        None => frame_name(f),
    }
}

/// Build the report. `memory` holds each pid's memory at the start and end
/// of the window.
pub fn build(
    sample: &UserTraceSample,
    memory: &BTreeMap<u32, (ProcessMemory, ProcessMemory)>,
    opts: &UserReportOptions,
) -> UserTraceReport {
    let scale = sample.sample_every.max(1) as u64;
    let window_seconds = sample.window_usec as f64 / 1e6;
    // (pid, kind, first frame's name, location) → stacks
    let mut groups: BTreeMap<(u32, &'static str, String, Option<String>), Vec<&UserStack>> = BTreeMap::new();
    for s in &sample.stacks {
        let (name, loc) = match s.frames.first() {
            Some(f) => (frame_name(f), frame_location(f)),
            None => (
                match s.stack {
                    StackState::TableFull => "[stack table full]".to_string(),
                    _ => "[stack not walkable]".to_string(),
                },
                None,
            ),
        };
        groups.entry((s.pid, s.kind.name(), name, loc)).or_default().push(s);
    }
    let mut sites: Vec<UserSite> = groups
        .into_iter()
        .map(|((pid, kind, function, location), stacks)| {
            let bytes: u64 = stacks.iter().map(|s| s.bytes).sum::<u64>() * scale;
            let allocations: u64 = stacks.iter().map(|s| s.allocations).sum::<u64>() * scale;
            let top = stacks.iter().max_by_key(|s| s.bytes).copied();
            let callers = top
                .map(|s| s.frames.iter().skip(1).take(opts.depth).map(described).collect())
                .unwrap_or_default();
            let first = top.and_then(|s| s.frames.first());
            UserSite {
                pid,
                kind,
                function,
                location,
                module: first.and_then(|f| f.module.clone()),
                bytes,
                allocations,
                callers,
                stacks: stacks.len(),
                frame_pointer: first.and_then(|f| f.frame_pointer),
                truncated: top.is_some_and(|s| s.truncated_at_frame.is_some()),
            }
        })
        .collect();
    sites.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.function.cmp(&b.function)));
    let mut other_sites = 0;
    let mut other_sites_bytes = 0;
    let mut kept = Vec::new();
    for s in sites {
        if kept.len() < opts.top && s.bytes >= opts.min_bytes && s.bytes > 0 {
            kept.push(s);
        } else {
            other_sites += 1;
            other_sites_bytes += s.bytes;
        }
    }

    let processes: Vec<UserProcess> = sample
        .targets
        .iter()
        .map(|t| {
            let mine = sample.stacks.iter().filter(|s| s.pid == t.pid);
            let (b, a) = mine.fold((0, 0), |acc, s| (acc.0 + s.bytes, acc.1 + s.allocations));
            let (before, after) = memory.get(&t.pid).cloned().unwrap_or_default();
            let anon_growth_bytes = match (before.anon_bytes, after.anon_bytes) {
                (Some(x), Some(y)) if !t.exited => Some(y as i64 - x as i64),
                _ => None,
            };
            UserProcess {
                pid: t.pid,
                comm: t.comm.clone(),
                allocator: t.allocator.name(),
                library: t.library.clone(),
                exited: t.exited,
                outstanding_bytes: b * scale,
                outstanding_allocations: a * scale,
                before,
                after,
                anon_growth_bytes,
            }
        })
        .collect();

    let headline = headline(&processes, &kept, window_seconds);
    let notes = notes(sample, &kept);
    let folded = folded(sample, scale);
    UserTraceReport {
        window_seconds,
        sample_every: sample.sample_every.max(1),
        min_size_bytes: sample.min_size_bytes,
        processes,
        sites: kept,
        other_sites,
        other_sites_bytes,
        headline,
        notes,
        folded,
    }
}

fn headline(processes: &[UserProcess], sites: &[UserSite], secs: f64) -> String {
    let Some(p) = processes.iter().max_by_key(|p| p.outstanding_bytes) else {
        return "No process was traced.".into();
    };
    let who = format!("PID {} ({})", p.pid, p.comm);
    let growth = match p.anon_growth_bytes {
        Some(g) if g > 0 => {
            format!("{who} holds {} more anonymous memory than {secs:.0} s ago", fmt_bytes(g))
        }
        Some(_) => format!("{who} did not grow over the {secs:.0} s window"),
        None if p.exited => format!("{who} exited during the window"),
        None => format!("{who}'s growth could not be read"),
    };
    let Some(top) = sites.iter().find(|s| s.pid == p.pid) else {
        if p.outstanding_bytes > 0 {
            return format!(
                "{growth}; {} of what it allocated during the window is still held, from call sites \
                 holding less than --min-bytes each.",
                fmt_bytes(p.outstanding_bytes as i64)
            );
        }
        return format!(
            "{growth}; nothing it allocated during the window is still held ({} traced).",
            p.allocator
        );
    };
    let at = top.location.as_ref().map(|l| format!(" ({l})")).unwrap_or_default();
    let caller = top
        .callers
        .first()
        .map(|c| format!(" ← `{}`", c.split(" (").next().unwrap_or(c)))
        .unwrap_or_default();
    format!(
        "{growth}; {} of what it allocated during the window is still held, {} of it from `{}`{at}{caller}.",
        fmt_bytes(p.outstanding_bytes as i64),
        fmt_bytes(top.bytes as i64),
        top.function
    )
}

fn notes(sample: &UserTraceSample, sites: &[UserSite]) -> Vec<String> {
    let mut n = Vec::new();
    let c = &sample.counters;
    for t in &sample.targets {
        let mut s = format!(
            "PID {} ({}): {} allocator probed in {} ({})",
            t.pid,
            t.comm,
            t.allocator.name(),
            t.library,
            t.functions.join(", ")
        );
        if let Some(m) = &t.mmap_library {
            s.push_str(&format!("; mmap and munmap in {m}"));
        }
        s.push('.');
        if t.exited {
            s.push_str(" It exited during the window: what it held is freed, its frames stay addresses.");
        }
        n.push(s);
        if t.breakpoint_armed == Some(false) {
            n.insert(
                0,
                format!(
                    "INCOMPLETE: the kernel removed the breakpoints from PID {} during the window (probes on \
                     the same library detached moments before can take new ones with them): its allocations \
                     were not seen. Run the trace again.",
                    t.pid
                ),
            );
        }
    }
    let truncated: Vec<&str> = sites
        .iter()
        .filter(|s| s.truncated || s.frame_pointer == Some(false))
        .map(|s| s.function.as_str())
        .collect();
    if !truncated.is_empty() {
        n.push(format!(
            "Compiled without frame pointers: {}. The kernel walks user stacks by frame pointer, so the \
             callers above such a function are not known and are not shown (the call site itself is \
             exact); rebuild with -fno-omit-frame-pointer to see them. DWARF unwinding is not done.",
            truncated.join(", ")
        ));
    }
    if sample.sample_every > 1 {
        n.push(format!(
            "One allocation in {} was recorded: bytes and counts are scaled by {}.",
            sample.sample_every, sample.sample_every
        ));
    }
    if c.too_small > 0 {
        n.push(format!(
            "{} allocations under {} were not recorded (--min-size).",
            c.too_small,
            fmt_bytes(sample.min_size_bytes as i64)
        ));
    }
    if c.dropped_table_full > 0 {
        n.push(format!(
            "The live-allocation table ({} entries) was full: {} allocations ({}) were not recorded; \
             raise --max-allocs or use --sample.",
            sample.max_allocations,
            c.dropped_table_full,
            fmt_bytes(c.dropped_table_full_bytes as i64)
        ));
    }
    if c.stack_unwalkable + c.stack_table_full > 0 {
        n.push(format!(
            "{} stacks could not be walked and {} were lost to a full stack table.",
            c.stack_unwalkable, c.stack_table_full
        ));
    }
    n.push(format!(
        "Seen: {} allocations, {} frees, {} mmap and {} munmap calls ({} of the mmaps made by the \
         allocator itself); {} allocations recorded, {} freed again in the window.",
        c.alloc_calls, c.free_calls, c.mmap_calls, c.munmap_calls, c.nested_mmaps, c.tracked, c.frees_matched
    ));
    n
}

/// Folded stacks: `comm-pid;outermost;…;innermost` with bytes.
fn folded(sample: &UserTraceSample, scale: u64) -> Vec<(String, u64)> {
    let comm: BTreeMap<u32, &str> = sample.targets.iter().map(|t| (t.pid, t.comm.as_str())).collect();
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for s in &sample.stacks {
        let mut parts = vec![format!("{}-{}", comm.get(&s.pid).copied().unwrap_or("?"), s.pid)];
        parts.extend(s.frames.iter().rev().map(|f| frame_name(f).replace(';', ":")));
        *out.entry(parts.join(";")).or_default() += s.bytes * scale;
    }
    let mut v: Vec<(String, u64)> = out.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

#[cfg(test)]
mod tests {
    use memscope_model::utrace::{Allocator, UserAllocKind, UserTarget, UserTraceCounters};

    use super::*;

    fn frame(addr: u64, f: &str, line: Option<u32>, fp: Option<bool>) -> UserFrame {
        UserFrame {
            addr,
            module: Some("/usr/bin/app".into()),
            function: Some(f.into()),
            file: line.map(|_| "/src/app/cache.c".into()),
            line,
            inlined: Vec::new(),
            frame_pointer: fp,
        }
    }

    fn sample(stacks: Vec<UserStack>) -> UserTraceSample {
        UserTraceSample {
            started_at_unix_ms: 0,
            window_usec: 60_000_000,
            sample_every: 1,
            min_size_bytes: 0,
            max_allocations: 1,
            max_stacks: 1,
            stack_depth: 64,
            targets: vec![UserTarget {
                pid: 4242,
                comm: "myapp".into(),
                allocator: Allocator::Glibc,
                library: "/usr/lib/libc.so.6".into(),
                functions: vec!["malloc".into(), "free".into()],
                missing: Vec::new(),
                mmap_library: None,
                exited: false,
                breakpoint_armed: Some(true),
            }],
            stacks,
            counters: UserTraceCounters::default(),
            programs: Vec::new(),
            run_time_measured: false,
        }
    }

    fn stack(frames: Vec<UserFrame>, bytes: u64, truncated: Option<usize>) -> UserStack {
        UserStack {
            kind: UserAllocKind::Heap,
            pid: 4242,
            frames,
            truncated_at_frame: truncated,
            stack: StackState::Recorded,
            bytes,
            allocations: bytes / 1024,
        }
    }

    #[test]
    fn headline_names_the_site_its_line_and_caller_beside_the_growth() {
        let s = sample(vec![
            stack(
                vec![
                    frame(1, "cache_insert", Some(88), Some(true)),
                    frame(2, "handle_request", Some(12), Some(true)),
                ],
                290 << 20,
                None,
            ),
            stack(vec![frame(3, "log_line", None, Some(true))], 1 << 20, None),
        ]);
        let mut mem = BTreeMap::new();
        let before = ProcessMemory { anon_bytes: Some(100 << 20), ..Default::default() };
        let after = ProcessMemory { anon_bytes: Some(412 << 20), ..Default::default() };
        mem.insert(4242, (before, after));
        let r = build(&s, &mem, &UserReportOptions::default());
        assert_eq!(
            r.headline,
            "PID 4242 (myapp) holds 312 MiB more anonymous memory than 60 s ago; 291 MiB of what it allocated \
             during the window is still held, 290 MiB of it from `cache_insert` (cache.c:88) ← `handle_request`."
        );
        assert_eq!(r.sites[0].callers, vec!["handle_request (cache.c:12)".to_string()]);
        assert_eq!(r.folded[0], ("myapp-4242;handle_request;cache_insert".to_string(), 290 << 20));
        assert_eq!(r.processes[0].anon_growth_bytes, Some(312 << 20));
    }

    #[test]
    fn a_site_without_frame_pointer_is_said_and_nothing_outstanding_is_said() {
        let s = sample(vec![stack(vec![frame(1, "leak_kib", None, Some(false))], 4096, Some(1))]);
        let r = build(&s, &BTreeMap::new(), &UserReportOptions::default());
        assert!(r.sites[0].truncated);
        assert!(r.notes.iter().any(|n| n.contains("without frame pointers: leak_kib")), "{:?}", r.notes);
        let empty = build(&sample(Vec::new()), &BTreeMap::new(), &UserReportOptions::default());
        assert!(empty.sites.is_empty());
        assert!(
            empty.headline.contains("nothing it allocated during the window is still held"),
            "{}",
            empty.headline
        );
    }
}
