//! The eBPF tracer: load, attach, run the caller's window, detach, read.
//!
//! ```text
//!  open skeleton ─ size maps, set sampling ─ load (verifier, CO-RE)
//!      ─ tracefs (mount if needed) ─ BPF statistics on ─ attach every program
//!      ─ unmount tracefs ─ body(&Session) … the window …
//!      ─ detach (drop links) ─ read counters, live allocations, stacks
//!      ─ drop the object: programs and maps are unloaded
//! ```
//!
//! Nothing is pinned: every program, map and link lives only in this
//! process's file descriptors, so the kernel unloads them whenever the
//! process ends, however it ends (return, error, panic, SIGKILL). On the
//! normal and error paths the links are dropped first, which detaches the
//! programs before anything else is torn down.

use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;
use std::time::Instant;

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, PrintLevel};
use memscope_kernel::{KernelRoot, paths};
use memscope_model::trace::{
    AllocKind, OutstandingStack, ProgramStats, StackState, TraceCounters, TraceSample,
};

use crate::preflight::{self, Unavailable};
use crate::tracefs::Tracefs;
use crate::{LoadErrorKind, TraceError, TraceOptions};

#[allow(clippy::all, clippy::pedantic, missing_docs, unsafe_op_in_unsafe_fn, dead_code, non_camel_case_types)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/trace.skel.rs"));
}
use skel::{OpenTraceSkel, TraceSkel, TraceSkelBuilder};

/// Frames kept per stack (`MAX_DEPTH` in trace.bpf.c).
pub const STACK_DEPTH: u32 = 64;

// Counter indices, in the order of `enum counter` in trace.bpf.c.
const C_PAGE_ALLOC: usize = 0;
const C_PAGE_FREE: usize = 1;
const C_SLAB_ALLOC: usize = 2;
const C_SLAB_FREE: usize = 3;
const C_FAILED_ALLOC: usize = 4;
const C_TRACKED: usize = 5;
const C_FREES_MATCHED: usize = 6;
const C_SAMPLED_OUT: usize = 7;
const C_DROPPED_FULL: usize = 8;
const C_DROPPED_FULL_BYTES: usize = 9;
const C_DROPPED_OTHER: usize = 10;
const C_FREES_FAILED: usize = 11;
const C_STACK_UNWALKABLE: usize = 12;
const C_STACK_TABLE_FULL: usize = 13;
const C_SKIPPED_MOVABLE: usize = 14;
const C_NR: usize = 15;

/// `alloc_val.stack` values below 2 are states (trace.bpf.c).
const STACK_UNWALKABLE: u64 = 0;
const STACK_TABLE_FULL: u64 = 1;

/// Each program: its name, the tracepoint, what it traces (`None`: frees,
/// attached whenever the matching allocations are traced).
const PROGRAMS: &[(&str, &str, AllocKind)] = &[
    ("memscope_pg_al", "mm_page_alloc", AllocKind::Page),
    ("memscope_pg_fr", "mm_page_free", AllocKind::Page),
    ("memscope_pg_frb", "mm_page_free_batched", AllocKind::Page),
    ("memscope_km_al", "kmalloc", AllocKind::Slab),
    ("memscope_kmn_al", "kmalloc_node", AllocKind::Slab),
    ("memscope_kc_al", "kmem_cache_alloc", AllocKind::Slab),
    ("memscope_kcn_al", "kmem_cache_alloc_node", AllocKind::Slab),
    ("memscope_km_fr", "kfree", AllocKind::Slab),
    ("memscope_kc_fr", "kmem_cache_free", AllocKind::Slab),
];

/// The prefix of every program memscope loads (`bpftool prog list` shows it).
pub const PROGRAM_PREFIX: &str = "memscope_";

/// libbpf's messages during a session, for error reports (the verifier
/// log on a load failure).
static LIBBPF_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn keep_libbpf_message(_level: PrintLevel, msg: String) {
    if let Ok(mut log) = LIBBPF_LOG.lock()
        && log.len() < 400
    {
        log.push(msg.trim_end().to_string());
    }
}

fn take_libbpf_log() -> Vec<String> {
    LIBBPF_LOG.lock().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default()
}

/// What the body of a session can see while the programs are attached.
pub struct Session<'a> {
    skel: &'a TraceSkel<'a>,
    programs: Vec<(&'static str, &'static str, u32)>,
    mounted_tracefs: bool,
}

impl Session<'_> {
    /// Ids of the attached programs (as `bpftool prog list` shows them).
    pub fn program_ids(&self) -> Vec<u32> {
        self.programs.iter().map(|p| p.2).collect()
    }

    /// The event counters so far.
    pub fn counters(&self) -> Result<TraceCounters, TraceError> {
        read_counters(self.skel)
    }

    /// True when memscope mounted tracefs to attach (it is unmounted again
    /// before the body runs).
    pub fn mounted_tracefs(&self) -> bool {
        self.mounted_tracefs
    }
}

/// Trace kernel allocations while `body` runs; see [`crate::trace`].
pub fn run<T, E: From<TraceError>>(
    root: &KernelRoot,
    opts: &TraceOptions,
    body: impl FnOnce(&Session) -> Result<T, E>,
) -> Result<(T, TraceSample), E> {
    preflight::check(root).map_err(TraceError::Unavailable)?;
    let _ = take_libbpf_log();
    libbpf_rs::set_print(Some((PrintLevel::Warn, keep_libbpf_message)));

    let mut storage = MaybeUninit::uninit();
    let mut open: OpenTraceSkel =
        TraceSkelBuilder::default().open(&mut storage).map_err(|e| load_error("open", e))?;
    configure(&mut open, opts).map_err(|e| load_error("configure", e))?;

    // tracefs first: it says which optional tracepoints exist, and libbpf
    // needs it to attach.
    let tracefs = Tracefs::ensure(root).map_err(TraceError::Unavailable)?;
    let present = preflight::check_tracepoints(root, tracefs.dir()).map_err(TraceError::Unavailable)?;
    let wanted: Vec<(&'static str, &'static str)> = PROGRAMS
        .iter()
        .filter(|(_, tp, kind)| opts.what.includes(*kind) && present.contains(tp))
        .map(|(name, tp, _)| (*name, *tp))
        .collect();
    for mut prog in open.open_object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        prog.set_autoload(wanted.iter().any(|(n, _)| *n == name));
    }
    let mut skel: TraceSkel = open.load().map_err(|e| load_error("load", e))?;

    // BPF_ENABLE_STATS (5.8+): the kernel times every run of every program
    // while the returned descriptor is open (kernel/bpf/syscall.c).
    // SAFETY: a plain system call wrapper.
    let stats_fd =
        unsafe { libbpf_rs::libbpf_sys::bpf_enable_stats(libbpf_rs::libbpf_sys::BPF_STATS_RUN_TIME) };
    // SAFETY: a non-negative return is a new descriptor we own.
    let stats: Option<OwnedFd> = (stats_fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(stats_fd) });

    let mut links: Vec<Link> = Vec::new();
    let mut attached: Vec<(&'static str, &'static str, u32)> = Vec::new();
    for prog in skel.object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        let Some(&(n, tp)) = wanted.iter().find(|(n, _)| *n == name) else { continue };
        let link = prog.attach().map_err(|e| TraceError::Attach {
            program: n.to_string(),
            tracepoint: format!("kmem:{tp}"),
            message: format!("{e:#}"),
            log: take_libbpf_log(),
        })?;
        links.push(link);
        attached.push((n, tp, prog_id(prog.as_fd())));
    }
    let mounted_tracefs = tracefs.mounted_by_memscope();
    tracefs.release();

    let started_at_unix_ms = memscope_model::now_unix_ms();
    let started = Instant::now();
    let session = Session { skel: &skel, programs: attached.clone(), mounted_tracefs };
    // An error in the body returns here: `links` and `skel` drop, the
    // programs detach and unload.
    let out = body(&session)?;
    let window_usec = started.elapsed().as_micros() as u64;
    drop(links);

    let programs = attached
        .iter()
        .filter_map(|(name, tp, _)| {
            let prog = skel.object().progs().find(|p| p.name().to_string_lossy() == *name)?;
            Some(prog_stats(prog.as_fd(), name, tp))
        })
        .collect();
    let counters = read_counters(&skel)?;
    let outstanding = read_outstanding(&skel)?;
    let map_memory_bytes = map_memory(root, &skel);
    drop(stats);
    let sample = TraceSample {
        what: opts.what,
        started_at_unix_ms,
        window_usec,
        sample_every: opts.sample_every.max(1),
        max_allocations: opts.max_allocations,
        max_stacks: opts.max_stacks,
        stack_depth: STACK_DEPTH,
        map_memory_bytes,
        outstanding,
        counters,
        programs,
        kernel_only: opts.kernel_only,
        run_time_measured: stats_fd >= 0,
        mounted_tracefs,
    };
    Ok((out, sample))
}

fn load_error(step: &'static str, e: libbpf_rs::Error) -> TraceError {
    let kind = match e.kind() {
        libbpf_rs::ErrorKind::PermissionDenied => LoadErrorKind::PermissionDenied,
        libbpf_rs::ErrorKind::OutOfMemory | libbpf_rs::ErrorKind::TooBig => LoadErrorKind::OutOfMemory,
        _ => LoadErrorKind::Other,
    };
    TraceError::Load { step, message: format!("{e:#}"), kind, log: take_libbpf_log() }
}

fn configure(open: &mut OpenTraceSkel, opts: &TraceOptions) -> libbpf_rs::Result<()> {
    if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
        ro.sample_every = opts.sample_every.max(1);
        ro.page_size = rustix::param::page_size() as u64;
        ro.skip_movable = opts.kernel_only;
    }
    open.maps.ms_allocs.set_max_entries(opts.max_allocations.max(1))?;
    open.maps.ms_stacks.set_max_entries(opts.max_stacks.max(1))?;
    Ok(())
}

fn prog_info(fd: std::os::fd::BorrowedFd<'_>) -> libbpf_rs::libbpf_sys::bpf_prog_info {
    let mut info = libbpf_rs::libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of_val(&info) as u32;
    // SAFETY: `info` is a valid bpf_prog_info of `len` bytes; the kernel
    // fills at most that much.
    unsafe {
        libbpf_rs::libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len);
    }
    info
}

fn prog_id(fd: std::os::fd::BorrowedFd<'_>) -> u32 {
    prog_info(fd).id
}

fn prog_stats(fd: std::os::fd::BorrowedFd<'_>, name: &str, tp: &str) -> ProgramStats {
    let info = prog_info(fd);
    ProgramStats {
        name: name.to_string(),
        tracepoint: format!("kmem:{tp}"),
        id: info.id,
        run_count: info.run_cnt,
        run_time_ns: info.run_time_ns,
        recursion_misses: info.recursion_misses,
    }
}

fn read_counters(skel: &TraceSkel) -> Result<TraceCounters, TraceError> {
    let mut sums = [0u64; C_NR];
    for (i, sum) in sums.iter_mut().enumerate() {
        let key = (i as u32).to_ne_bytes();
        let per_cpu = skel
            .maps
            .ms_counters
            .lookup_percpu(&key, MapFlags::ANY)
            .map_err(|e| read_error("ms_counters", e))?
            .unwrap_or_default();
        *sum = per_cpu
            .iter()
            .filter_map(|v| v.get(..8))
            .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
            .sum();
    }
    Ok(TraceCounters {
        page_alloc_events: sums[C_PAGE_ALLOC],
        page_free_events: sums[C_PAGE_FREE],
        slab_alloc_events: sums[C_SLAB_ALLOC],
        slab_free_events: sums[C_SLAB_FREE],
        failed_alloc_events: sums[C_FAILED_ALLOC],
        tracked: sums[C_TRACKED],
        frees_matched: sums[C_FREES_MATCHED],
        sampled_out: sums[C_SAMPLED_OUT],
        dropped_table_full: sums[C_DROPPED_FULL],
        dropped_table_full_bytes: sums[C_DROPPED_FULL_BYTES],
        dropped_busy: sums[C_DROPPED_OTHER],
        frees_failed: sums[C_FREES_FAILED],
        stack_unwalkable: sums[C_STACK_UNWALKABLE],
        stack_table_full: sums[C_STACK_TABLE_FULL],
        skipped_movable: sums[C_SKIPPED_MOVABLE],
    })
}

fn read_error(map: &str, e: libbpf_rs::Error) -> TraceError {
    TraceError::Read { map: map.to_string(), message: format!("{e:#}") }
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    b.get(off..off + 8).map(|s| u64::from_ne_bytes(s.try_into().unwrap_or([0; 8]))).unwrap_or(0)
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4).map(|s| u32::from_ne_bytes(s.try_into().unwrap_or([0; 4]))).unwrap_or(0)
}

/// Walk the live-allocation table in batches (BPF_MAP_LOOKUP_BATCH, 5.6+),
/// aggregate per (stack, kind, process), then read each stack once.
fn read_outstanding(skel: &TraceSkel) -> Result<Vec<OutstandingStack>, TraceError> {
    let allocs = &skel.maps.ms_allocs;
    let mut per_stack: HashMap<(u64, u32, u32), (u64, u64)> = HashMap::new();
    for (key, val) in batch_entries(allocs)? {
        let kind = u32_at(&key, 8);
        let bytes = u64_at(&val, 0);
        let stack = u64_at(&val, 8);
        let pid = u32_at(&val, 16);
        let e = per_stack.entry((stack, kind, pid)).or_default();
        e.0 += bytes;
        e.1 += 1;
    }
    let mut out = Vec::with_capacity(per_stack.len());
    let mut stacks: HashMap<u64, (Vec<u64>, StackState)> = HashMap::new();
    for ((stack, kind, pid), (bytes, allocations)) in per_stack {
        let kind = if kind == 0 { AllocKind::Page } else { AllocKind::Slab };
        if let std::collections::hash_map::Entry::Vacant(slot) = stacks.entry(stack) {
            slot.insert(match stack {
                STACK_UNWALKABLE => (Vec::new(), StackState::Unwalkable),
                STACK_TABLE_FULL => (Vec::new(), StackState::TableFull),
                h => match skel.maps.ms_stacks.lookup(&h.to_ne_bytes(), MapFlags::ANY) {
                    Ok(Some(v)) => {
                        let nr = (u32_at(&v, 0) as usize).min(STACK_DEPTH as usize);
                        ((0..nr).map(|i| u64_at(&v, 8 + 8 * i)).collect(), StackState::Recorded)
                    }
                    Ok(None) => (Vec::new(), StackState::TableFull),
                    Err(e) => return Err(read_error("ms_stacks", e)),
                },
            });
        }
        let (frames, state) = stacks[&stack].clone();
        out.push(OutstandingStack { kind, frames, stack: state, pid, bytes, allocations });
    }
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.frames.cmp(&b.frames)).then(a.pid.cmp(&b.pid)));
    Ok(out)
}

/// A map entry: key and value bytes.
type Entry = (Vec<u8>, Vec<u8>);

/// Every (key, value) of a hash map, read with BPF_MAP_LOOKUP_BATCH; an
/// error, never a silently short result.
pub(crate) fn batch_entries(map: &libbpf_rs::MapMut) -> Result<Vec<Entry>, TraceError> {
    use libbpf_rs::libbpf_sys;
    const BATCH: u32 = 4096;
    let key_size = map.key_size() as usize;
    let value_size = map.value_size() as usize;
    let mut keys = vec![0u8; key_size * BATCH as usize];
    let mut values = vec![0u8; value_size * BATCH as usize];
    let mut in_batch = vec![0u8; key_size.max(4)];
    let mut out_batch = vec![0u8; key_size.max(4)];
    let opts = libbpf_sys::bpf_map_batch_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_batch_opts>() as _,
        ..Default::default()
    };
    let mut out = Vec::new();
    let mut first = true;
    loop {
        let mut count = BATCH;
        // SAFETY: buffers sized for BATCH keys and values and one batch token.
        let rc = unsafe {
            libbpf_sys::bpf_map_lookup_batch(
                map.as_fd().as_raw_fd(),
                if first { std::ptr::null_mut() } else { in_batch.as_mut_ptr().cast() },
                out_batch.as_mut_ptr().cast(),
                keys.as_mut_ptr().cast(),
                values.as_mut_ptr().cast(),
                &mut count,
                &opts,
            )
        };
        let errno = if rc < 0 { std::io::Error::last_os_error().raw_os_error().unwrap_or(-rc) } else { 0 };
        if rc < 0 && errno != libc::ENOENT {
            if errno == libc::EINTR {
                continue;
            }
            return Err(TraceError::Read {
                map: map.name().to_string_lossy().into_owned(),
                message: std::io::Error::from_raw_os_error(errno).to_string(),
            });
        }
        let n = count as usize;
        for i in 0..n {
            out.push((
                keys[i * key_size..(i + 1) * key_size].to_vec(),
                values[i * value_size..(i + 1) * value_size].to_vec(),
            ));
        }
        if errno == libc::ENOENT {
            break;
        }
        std::mem::swap(&mut in_batch, &mut out_batch);
        first = false;
    }
    Ok(out)
}

/// Memory charged for the maps (`memlock:` in /proc/self/fdinfo/FD).
fn map_memory(root: &KernelRoot, skel: &TraceSkel) -> Option<u64> {
    let maps = [
        skel.maps.ms_allocs.as_fd().as_raw_fd(),
        skel.maps.ms_stacks.as_fd().as_raw_fd(),
        skel.maps.ms_scratch.as_fd().as_raw_fd(),
        skel.maps.ms_counters.as_fd().as_raw_fd(),
    ];
    let mut total = 0;
    for fd in maps {
        let text = root.read_text(&format!("{}/{fd}", paths::SELF_FDINFO)).ok()?;
        let v = text.lines().find_map(|l| l.strip_prefix("memlock:"))?.trim().parse::<u64>().ok()?;
        total += v;
    }
    Some(total)
}

impl From<Unavailable> for TraceError {
    fn from(u: Unavailable) -> TraceError {
        TraceError::Unavailable(u)
    }
}
