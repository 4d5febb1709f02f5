//! The user-space allocation tracer (`memscope trace --pid`): uprobes on a
//! running process's allocator, without restarting it.
//!
//! ```text
//!  find_allocator(pid) ── maps: jemalloc/tcmalloc library? malloc in the executable? libc?
//!      ▼
//!  load utrace.bpf.c ─ attach uprobe+uretprobe per function and process
//!      ─ body(&UserSession) … the window …
//!      ─ detach (drop links) ─ read counters, live allocations, stacks
//!      ─ symbolise every frame (blazesym, the target's ELF files via /proc/PID/root)
//!      ─ drop the object
//! ```
//!
//! As for the kernel tracer, nothing is pinned: the probes go away with
//! this process's descriptors however it ends. A uprobe attached with a
//! pid fires for that process only (perf_event_open's pid filter,
//! kernel/events/uprobes.c), so other users of the same library are not
//! slowed down.
//!
//! Symbolisation uses blazesym, the symbolizer libbpf's own tools use:
//! ELF `.symtab`/`.dynsym`, DWARF line tables and inlined functions, and
//! debug links and build-ids into `/usr/lib/debug`. Nothing else in the
//! workspace reads DWARF, and gimli alone would leave the line programs,
//! inline trees and debug-link lookup to hand-written code.

use std::collections::{BTreeMap, HashMap};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;
use std::time::Instant;

use blazesym::inspect::{self, Inspector};
use blazesym::symbolize::{self, Input, Symbolized, Symbolizer};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, PrintLevel, UprobeOpts};
use memscope_kernel::KernelRoot;
use memscope_kernel::parse::pid::maps::Maps;
use memscope_model::trace::{ProgramStats, StackState};
use memscope_model::utrace::{
    Allocator, InlinedFrame, UserAllocKind, UserFrame, UserStack, UserTarget, UserTraceCounters,
    UserTraceSample,
};

use crate::preflight::{self, Unavailable};
use crate::{LoadErrorKind, TraceError, UserTraceOptions};

#[allow(clippy::all, clippy::pedantic, missing_docs, unsafe_op_in_unsafe_fn, dead_code, non_camel_case_types)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/utrace.skel.rs"));
}
use skel::{OpenUtraceSkel, UtraceSkel, UtraceSkelBuilder};

/// Frames kept per stack (`MAX_DEPTH` in utrace.bpf.c).
pub const USER_STACK_DEPTH: u32 = 64;

/// The allocator functions probed: symbol, entry program, return program.
pub const ALLOC_FUNCTIONS: &[(&str, &str, Option<&str>)] = &[
    ("malloc", "memscope_u_malloc", Some("memscope_u_alloc_ret")),
    ("calloc", "memscope_u_calloc", Some("memscope_u_alloc_ret")),
    ("realloc", "memscope_u_realloc", Some("memscope_u_alloc_ret")),
    ("reallocarray", "memscope_u_reallocarray", Some("memscope_u_alloc_ret")),
    ("posix_memalign", "memscope_u_posix_memalign", Some("memscope_u_posix_memalign_ret")),
    ("aligned_alloc", "memscope_u_memalign", Some("memscope_u_alloc_ret")),
    ("memalign", "memscope_u_memalign", Some("memscope_u_alloc_ret")),
    ("valloc", "memscope_u_valloc", Some("memscope_u_alloc_ret")),
    ("pvalloc", "memscope_u_valloc", Some("memscope_u_alloc_ret")),
    ("free", "memscope_u_free", None),
];

/// mmap and munmap, probed in the C library.
const MMAP_FUNCTIONS: &[(&str, &str, Option<&str>)] =
    &[("mmap", "memscope_u_mmap", Some("memscope_u_mmap_ret")), ("munmap", "memscope_u_munmap", None)];

// Counter indices, in the order of `enum counter` in utrace.bpf.c.
const C_NR: usize = 16;

/// `uval.stack` values below 2 are states (utrace.bpf.c).
const STACK_UNWALKABLE: u64 = 0;
const STACK_TABLE_FULL: u64 = 1;

/// What is probed in one process.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The process.
    pub pid: u32,
    /// Its command name.
    pub comm: String,
    /// The allocator found.
    pub allocator: Allocator,
    /// The probed file as the process sees it.
    pub library: String,
    /// The same file as we open it (`/proc/PID/root/…`).
    host_library: PathBuf,
    /// Allocator functions the file exports.
    pub functions: Vec<&'static str>,
    /// Functions of [`ALLOC_FUNCTIONS`] it does not export.
    pub missing: Vec<&'static str>,
    /// The C library for mmap/munmap, with its host path, when it exports them.
    mmap: Option<(String, PathBuf)>,
    /// File offset of `malloc` in the probed file, to check the breakpoint.
    malloc_offset: Option<u64>,
}

/// The ELF symbol tables of `path` (not its DWARF, which has no file
/// offsets).
fn elf_symbols(path: &std::path::Path) -> inspect::source::Source {
    let mut elf = inspect::source::Elf::new(path);
    elf.debug_syms = false;
    inspect::source::Source::Elf(elf)
}

fn exported(inspector: &Inspector, path: &std::path::Path, names: &[&str]) -> Vec<bool> {
    let src = elf_symbols(path);
    match inspector.lookup(&src, names) {
        Ok(found) => found
            .iter()
            .map(|syms| syms.iter().any(|s| s.sym_type == blazesym::SymType::Function && s.addr != 0))
            .collect(),
        Err(_) => vec![false; names.len()],
    }
}

/// The name of a mapped file: the last component of its path.
fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Which allocator a library's file name names, if any.
pub fn allocator_of(path: &str) -> Option<Allocator> {
    let b = base(path);
    if b.starts_with("libjemalloc.so") {
        Some(Allocator::Jemalloc)
    } else if b.starts_with("libtcmalloc") && b.contains(".so") {
        Some(Allocator::Tcmalloc)
    } else if b.starts_with("libc.musl-") || b.starts_with("ld-musl-") {
        Some(Allocator::Musl)
    } else if b.starts_with("libc.so") || b.starts_with("libc-2.") {
        Some(Allocator::Glibc)
    } else {
        None
    }
}

/// Find the allocator process `pid` really uses: a jemalloc or tcmalloc
/// library in its maps first (they interpose malloc over the C library's),
/// then the executable when it defines malloc itself (static linking, or an
/// allocator linked in), then the C library.
pub fn find_allocator(root: &KernelRoot, pid: u32) -> Result<Probe, Unavailable> {
    let comm = root.pid_stat(pid).map_err(|_| Unavailable::NoProcess { pid })?.comm;
    let maps = root.pid_maps(pid).map_err(|_| Unavailable::NoProcess { pid })?;
    let exe = root.read_link(&memscope_kernel::paths::pid_file(pid, "exe")).ok();
    let mut files: Vec<&str> = Vec::new();
    for m in &maps.mappings {
        if let Some(p) = m.path.as_deref()
            && p.starts_with('/')
            && !p.ends_with(" (deleted)")
            && !files.contains(&p)
        {
            files.push(p);
        }
    }
    let inspector = Inspector::new();
    let names: Vec<&str> = ALLOC_FUNCTIONS.iter().map(|f| f.0).collect();
    let mut candidates: Vec<(Allocator, &str)> = Vec::new();
    for f in &files {
        if let Some(a @ (Allocator::Jemalloc | Allocator::Tcmalloc)) = allocator_of(f) {
            candidates.push((a, f));
        }
    }
    if let Some(e) = exe.as_deref().filter(|e| files.contains(e)) {
        let kind = if e.contains("jemalloc") { Allocator::Jemalloc } else { Allocator::Static };
        candidates.push((kind, e));
    }
    for f in &files {
        if let Some(a @ (Allocator::Glibc | Allocator::Musl)) = allocator_of(f) {
            candidates.push((a, f));
        }
    }
    let mut libc: Option<(String, PathBuf)> = None;
    for f in &files {
        if matches!(allocator_of(f), Some(Allocator::Glibc | Allocator::Musl))
            && let Ok(host) = root.pid_root_path(pid, f)
            && exported(&inspector, &host, &["mmap", "munmap"]).iter().all(|x| *x)
        {
            libc = Some((f.to_string(), host));
            break;
        }
    }
    let mut looked = Vec::new();
    for (mut allocator, path) in candidates {
        let Ok(host) = root.pid_root_path(pid, path) else { continue };
        let found = exported(&inspector, &host, &names);
        looked.push(path.to_string());
        let has = |n: &str| names.iter().position(|x| *x == n).is_some_and(|i| found[i]);
        if !(has("malloc") && has("free")) {
            continue;
        }
        // An executable that defines malloc: name what it is when we can.
        if allocator == Allocator::Static {
            let marks = exported(&inspector, &host, &["je_malloc", "mallctl", "tc_malloc", "__libc_malloc"]);
            allocator = if marks[0] || marks[1] {
                Allocator::Jemalloc
            } else if marks[2] {
                Allocator::Tcmalloc
            } else if marks[3] {
                Allocator::Glibc
            } else {
                Allocator::Static
            };
        }
        let functions = names.iter().zip(&found).filter(|(_, f)| **f).map(|(n, _)| *n).collect();
        let missing = names.iter().zip(&found).filter(|(_, f)| !**f).map(|(n, _)| *n).collect();
        // A static executable has its own mmap.
        let mmap = if exported(&inspector, &host, &["mmap", "munmap"]).iter().all(|x| *x) {
            Some((path.to_string(), host.clone()))
        } else {
            libc.clone()
        };
        let malloc_offset = inspector
            .lookup(&elf_symbols(&host), &["malloc"])
            .ok()
            .and_then(|v| v.first().and_then(|syms| syms.iter().find_map(|s| s.file_offset)));
        return Ok(Probe {
            pid,
            comm,
            allocator,
            library: path.to_string(),
            host_library: host,
            functions,
            missing,
            mmap,
            malloc_offset,
        });
    }
    Err(Unavailable::NoAllocator {
        pid,
        reason: if looked.is_empty() {
            "no C library, jemalloc or tcmalloc among its mapped files".into()
        } else {
            format!("none of {} exports malloc and free", looked.join(", "))
        },
    })
}

/// Can user functions be probed here? The uprobe PMU (kernel 4.17+,
/// CONFIG_UPROBE_EVENTS) is what libbpf attaches through.
pub fn check_uprobes(root: &KernelRoot) -> Result<(), Unavailable> {
    const PMU: &str = memscope_kernel::paths::UPROBE_PMU_TYPE;
    if root.exists(PMU) { Ok(()) } else { Err(Unavailable::NoUprobes { path: PMU.into() }) }
}

/// What the body of a session can see while the probes are attached.
pub struct UserSession<'a> {
    skel: &'a UtraceSkel<'a>,
    ids: Vec<u32>,
}

impl UserSession<'_> {
    /// Ids of the loaded programs that have at least one probe.
    pub fn program_ids(&self) -> Vec<u32> {
        self.ids.clone()
    }

    /// The event counters so far.
    pub fn counters(&self) -> Result<UserTraceCounters, TraceError> {
        read_counters(self.skel)
    }
}

static LIBBPF_LOG: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

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

fn load_error(step: &'static str, e: libbpf_rs::Error) -> TraceError {
    let kind = match e.kind() {
        libbpf_rs::ErrorKind::PermissionDenied => LoadErrorKind::PermissionDenied,
        libbpf_rs::ErrorKind::OutOfMemory | libbpf_rs::ErrorKind::TooBig => LoadErrorKind::OutOfMemory,
        _ => LoadErrorKind::Other,
    };
    TraceError::Load { step, message: format!("{e:#}"), kind, log: take_libbpf_log() }
}

/// Trace the allocations of `probes` while `body` runs; see
/// [`crate::trace_user`].
pub fn run<T, E: From<TraceError>>(
    root: &KernelRoot,
    opts: &UserTraceOptions,
    probes: &[Probe],
    body: impl FnOnce(&UserSession) -> Result<T, E>,
) -> Result<(T, UserTraceSample), E> {
    preflight::check(root).map_err(TraceError::Unavailable)?;
    check_uprobes(root).map_err(TraceError::Unavailable)?;
    let _ = take_libbpf_log();
    libbpf_rs::set_print(Some((PrintLevel::Warn, keep_libbpf_message)));

    let mut storage = MaybeUninit::uninit();
    let mut open: OpenUtraceSkel =
        UtraceSkelBuilder::default().open(&mut storage).map_err(|e| load_error("open", e))?;
    if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
        ro.sample_every = opts.sample_every.max(1);
        ro.min_size = opts.min_size_bytes;
    }
    open.maps
        .mu_allocs
        .set_max_entries(opts.max_allocations.max(1))
        .map_err(|e| load_error("configure", e))?;
    open.maps.mu_stacks.set_max_entries(opts.max_stacks.max(1)).map_err(|e| load_error("configure", e))?;
    let mut skel: UtraceSkel = open.load().map_err(|e| load_error("load", e))?;

    // SAFETY: a plain system call wrapper; a non-negative return is a new
    // descriptor we own.
    let stats_fd =
        unsafe { libbpf_rs::libbpf_sys::bpf_enable_stats(libbpf_rs::libbpf_sys::BPF_STATS_RUN_TIME) };
    let stats: Option<std::os::fd::OwnedFd> =
        (stats_fd >= 0).then(|| unsafe { std::os::fd::FromRawFd::from_raw_fd(stats_fd) });

    // Every (process, function, program, return?) to attach.
    let mut jobs: Vec<(u32, &'static str, &'static str, bool, &PathBuf)> = Vec::new();
    for p in probes {
        for (func, entry, ret) in ALLOC_FUNCTIONS {
            if p.functions.contains(func) {
                jobs.push((p.pid, func, entry, false, &p.host_library));
                if let Some(r) = ret {
                    jobs.push((p.pid, func, r, true, &p.host_library));
                }
            }
        }
        if let Some((_, host)) = &p.mmap {
            for (func, entry, ret) in MMAP_FUNCTIONS {
                jobs.push((p.pid, func, entry, false, host));
                if let Some(r) = ret {
                    jobs.push((p.pid, func, r, true, host));
                }
            }
        }
    }
    let mut links: Vec<Link> = Vec::new();
    let mut used: BTreeMap<&'static str, String> = BTreeMap::new();
    for &(pid, func, prog_name, retprobe, path) in &jobs {
        let what = format!("{}:{func}", if retprobe { "uretprobe" } else { "uprobe" });
        let Some(prog) = skel.object_mut().progs_mut().find(|x| x.name().to_string_lossy() == prog_name)
        else {
            return Err(TraceError::Attach {
                program: prog_name.into(),
                tracepoint: what,
                message: "not in the object".into(),
                log: Vec::new(),
            }
            .into());
        };
        let uopts = UprobeOpts { retprobe, func_name: Some(func.to_string()), ..Default::default() };
        let link =
            prog.attach_uprobe_with_opts(pid as i32, path, 0, uopts).map_err(|e| TraceError::Attach {
                program: prog_name.into(),
                tracepoint: format!("{what} in process {pid}"),
                message: format!("{e:#}"),
                log: take_libbpf_log(),
            })?;
        links.push(link);
        used.insert(prog_name, what);
    }
    let ids: Vec<u32> = skel
        .object()
        .progs()
        .filter(|x| used.contains_key(x.name().to_string_lossy().as_ref()))
        .map(|x| prog_info(x.as_fd()).id)
        .collect();

    let started_at_unix_ms = memscope_model::now_unix_ms();
    let started = Instant::now();
    let session = UserSession { skel: &skel, ids };
    let out = body(&session)?;
    let window_usec = started.elapsed().as_micros() as u64;
    let armed: Vec<Option<bool>> = probes.iter().map(|p| breakpoint_armed(root, p)).collect();
    drop(links);

    let programs = skel
        .object()
        .progs()
        .filter_map(|x| {
            let name = x.name().to_string_lossy().into_owned();
            let what = used.get(name.as_str())?;
            let info = prog_info(x.as_fd());
            Some(ProgramStats {
                name,
                tracepoint: what.clone(),
                id: info.id,
                run_count: info.run_cnt,
                run_time_ns: info.run_time_ns,
                recursion_misses: info.recursion_misses,
            })
        })
        .collect();
    let counters = read_counters(&skel)?;
    let raw = read_outstanding(&skel)?;
    drop(stats);
    drop(skel);

    let mut targets = Vec::new();
    for (p, armed) in probes.iter().zip(armed) {
        targets.push(UserTarget {
            pid: p.pid,
            comm: p.comm.clone(),
            allocator: p.allocator,
            library: p.library.clone(),
            functions: p.functions.iter().map(|s| s.to_string()).collect(),
            missing: p.missing.iter().map(|s| s.to_string()).collect(),
            mmap_library: p.mmap.as_ref().filter(|m| m.0 != p.library).map(|m| m.0.clone()),
            exited: !root.has_process(p.pid),
            breakpoint_armed: armed,
        });
    }
    let stacks = symbolise(root, raw);
    let sample = UserTraceSample {
        started_at_unix_ms,
        window_usec,
        sample_every: opts.sample_every.max(1),
        min_size_bytes: opts.min_size_bytes,
        max_allocations: opts.max_allocations,
        max_stacks: opts.max_stacks,
        stack_depth: USER_STACK_DEPTH,
        targets,
        stacks,
        counters,
        programs,
        run_time_measured: stats_fd >= 0,
    };
    Ok((out, sample))
}

fn prog_info(fd: std::os::fd::BorrowedFd<'_>) -> libbpf_rs::libbpf_sys::bpf_prog_info {
    let mut info = libbpf_rs::libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of_val(&info) as u32;
    // SAFETY: `info` is a valid bpf_prog_info of `len` bytes.
    unsafe {
        libbpf_rs::libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len);
    }
    info
}

fn read_counters(skel: &UtraceSkel) -> Result<UserTraceCounters, TraceError> {
    let mut s = [0u64; C_NR];
    for (i, sum) in s.iter_mut().enumerate() {
        let key = (i as u32).to_ne_bytes();
        let per_cpu = skel
            .maps
            .mu_counters
            .lookup_percpu(&key, MapFlags::ANY)
            .map_err(|e| TraceError::Read { map: "mu_counters".into(), message: format!("{e:#}") })?
            .unwrap_or_default();
        *sum = per_cpu.iter().map(|v| u64_at(v, 0)).sum();
    }
    Ok(UserTraceCounters {
        alloc_calls: s[0],
        free_calls: s[1],
        mmap_calls: s[2],
        munmap_calls: s[3],
        failed_allocs: s[4],
        tracked: s[5],
        frees_matched: s[6],
        sampled_out: s[7],
        too_small: s[8],
        dropped_table_full: s[9],
        dropped_table_full_bytes: s[10],
        dropped_other: s[11],
        stack_unwalkable: s[12],
        stack_table_full: s[13],
        nested_mmaps: s[14],
        returns_unmatched: s[15],
    })
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    b.get(off..off + 8).map(|s| u64::from_ne_bytes(s.try_into().unwrap_or([0; 8]))).unwrap_or(0)
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4).map(|s| u32::from_ne_bytes(s.try_into().unwrap_or([0; 4]))).unwrap_or(0)
}

/// One outstanding (stack, kind, process) before symbolisation.
struct Raw {
    kind: UserAllocKind,
    pid: u32,
    frames: Vec<u64>,
    stack: StackState,
    bytes: u64,
    allocations: u64,
}

fn read_outstanding(skel: &UtraceSkel) -> Result<Vec<Raw>, TraceError> {
    let mut per: HashMap<(u64, u32, u32), (u64, u64)> = HashMap::new();
    for (key, val) in crate::session::batch_entries(&skel.maps.mu_allocs)? {
        let tgid = u32_at(&key, 8);
        let kind = u32_at(&key, 12);
        let e = per.entry((u64_at(&val, 8), kind, tgid)).or_default();
        e.0 += u64_at(&val, 0);
        e.1 += 1;
    }
    let mut out = Vec::with_capacity(per.len());
    for ((stack, kind, pid), (bytes, allocations)) in per {
        let (frames, state) = match stack {
            STACK_UNWALKABLE => (Vec::new(), StackState::Unwalkable),
            STACK_TABLE_FULL => (Vec::new(), StackState::TableFull),
            h => match skel.maps.mu_stacks.lookup(&h.to_ne_bytes(), MapFlags::ANY) {
                Ok(Some(v)) => {
                    let nr = (u32_at(&v, 0) as usize).min(USER_STACK_DEPTH as usize);
                    ((0..nr).map(|i| u64_at(&v, 8 + 8 * i)).collect(), StackState::Recorded)
                }
                Ok(None) => (Vec::new(), StackState::TableFull),
                Err(e) => {
                    return Err(TraceError::Read { map: "mu_stacks".into(), message: format!("{e:#}") });
                }
            },
        };
        let kind = if kind == 0 { UserAllocKind::Heap } else { UserAllocKind::Mmap };
        out.push(Raw { kind, pid, frames, stack: state, bytes, allocations });
    }
    Ok(out)
}

/// Is the uprobe's breakpoint still in the process's copy of `malloc` at
/// the end of the window? uprobes write an `int3` (0xcc, x86-64) over the
/// probed instruction in each traced process (kernel/events/uprobes.c,
/// `set_swbp`); read it back through `/proc/PID/mem`. On 6.x kernels,
/// probes on the same library offsets detached moments before (another
/// trace just ended) can take the new breakpoints away with them: the
/// probes then never fire, and this says so instead of reporting nothing.
/// `None`: could not be told (other architectures, the process exited).
fn breakpoint_armed(root: &KernelRoot, p: &Probe) -> Option<bool> {
    if !cfg!(target_arch = "x86_64") {
        return None;
    }
    let off = p.malloc_offset?;
    let maps = root.pid_maps(p.pid).ok()?;
    let m = maps.mappings.iter().find(|m| {
        m.path.as_deref() == Some(p.library.as_str()) && m.offset <= off && off < m.offset + m.size()
    })?;
    let addr = m.start + (off - m.offset);
    let mem = root.open(&memscope_kernel::paths::pid_file(p.pid, "mem")).ok()?;
    let mut b = [0u8; 1];
    (mem.read_at(&mut b, addr, 1).ok()? == 1).then_some(b[0] == 0xcc)
}

/// Does the function whose code starts at `off` in `module` set up a frame
/// pointer? x86-64: `push %rbp; mov %rsp,%rbp` (55 48 89 e5), after an
/// optional `endbr64` (f3 0f 1e fa, CET). Other architectures: not told.
fn keeps_frame_pointer(root: &KernelRoot, pid: u32, module: &str, off: u64) -> Option<bool> {
    if !cfg!(target_arch = "x86_64") {
        return None;
    }
    let f = root.open_in_pid_root(pid, module).ok()?;
    let mut b = [0u8; 8];
    let n = f.read_at(&mut b, off, 1).ok()?;
    let code = if n >= 4 && b[..4] == [0xf3, 0x0f, 0x1e, 0xfa] { &b[4..n] } else { &b[..n] };
    if code.len() < 4 {
        return None;
    }
    Some(code[..4] == [0x55, 0x48, 0x89, 0xe5])
}

/// Name every frame: map each address to its file through the process's
/// maps (read now: a process that exited leaves its frames as addresses),
/// then symbolise per file by file offset. A return address points after
/// the call, so the call's line is looked up one byte before it.
fn symbolise(root: &KernelRoot, raw: Vec<Raw>) -> Vec<UserStack> {
    let symbolizer = Symbolizer::builder().enable_code_info(true).enable_inlined_fns(true).build();
    let mut maps_of: HashMap<u32, Option<Maps>> = HashMap::new();
    let mut names: HashMap<(u32, u64), UserFrame> = HashMap::new();
    let mut fp_cache: HashMap<(u32, String, u64), Option<bool>> = HashMap::new();
    // (pid, module) → [(addr, file offset)]
    let mut wanted: BTreeMap<(u32, String), Vec<(u64, u64)>> = BTreeMap::new();
    for r in &raw {
        let maps = maps_of.entry(r.pid).or_insert_with(|| root.pid_maps(r.pid).ok());
        for &addr in &r.frames {
            if names.contains_key(&(r.pid, addr)) {
                continue;
            }
            let m = maps.as_ref().and_then(|m| {
                let i = m.mappings.partition_point(|x| x.end <= addr);
                m.mappings
                    .get(i)
                    .filter(|x| x.start <= addr && x.path.as_deref().is_some_and(|p| p.starts_with('/')))
            });
            let module = m.and_then(|m| m.path.clone());
            names.insert(
                (r.pid, addr),
                UserFrame {
                    addr,
                    module: module.clone(),
                    function: None,
                    file: None,
                    line: None,
                    inlined: Vec::new(),
                    frame_pointer: None,
                },
            );
            if let (Some(m), Some(module)) = (m, module) {
                let off = addr.saturating_sub(1).saturating_sub(m.start).saturating_add(m.offset);
                wanted.entry((r.pid, module)).or_default().push((addr, off));
            }
        }
    }
    for ((pid, module), addrs) in &wanted {
        let Ok(host) = root.pid_root_path(*pid, module) else { continue };
        let src = symbolize::source::Source::Elf(symbolize::source::Elf::new(&host));
        let offs: Vec<u64> = addrs.iter().map(|a| a.1).collect();
        let Ok(syms) = symbolizer.symbolize(&src, Input::FileOffset(&offs)) else { continue };
        for ((addr, off), s) in addrs.iter().zip(syms) {
            let Symbolized::Sym(sym) = s else { continue };
            let Some(frame) = names.get_mut(&(*pid, *addr)) else { continue };
            let start = off.saturating_sub(sym.offset as u64);
            frame.frame_pointer = *fp_cache
                .entry((*pid, module.clone(), start))
                .or_insert_with(|| keeps_frame_pointer(root, *pid, module, start));
            frame.function = Some(sym.name.to_string());
            if let Some(ci) = &sym.code_info {
                frame.file = Some(code_path(ci));
                frame.line = ci.line;
            }
            frame.inlined = sym
                .inlined
                .iter()
                .rev()
                .map(|i| InlinedFrame {
                    function: i.name.to_string(),
                    file: i.code_info.as_ref().map(code_path),
                    line: i.code_info.as_ref().and_then(|c| c.line),
                })
                .collect();
        }
    }
    let mut out: Vec<UserStack> = raw
        .into_iter()
        .map(|r| {
            let mut frames: Vec<UserFrame> =
                r.frames.iter().filter_map(|a| names.get(&(r.pid, *a)).cloned()).collect();
            // The kernel walks user stacks by frame pointer: past a function
            // that keeps none, the next "caller" is whatever its frame
            // register held, not a caller.
            let cut = frames.iter().position(|f| f.frame_pointer == Some(false)).map(|i| i + 1);
            let truncated_at_frame = cut.filter(|c| *c < frames.len());
            if let Some(c) = truncated_at_frame {
                frames.truncate(c);
            }
            UserStack {
                kind: r.kind,
                pid: r.pid,
                frames,
                truncated_at_frame,
                stack: r.stack,
                bytes: r.bytes,
                allocations: r.allocations,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then(a.pid.cmp(&b.pid))
            .then_with(|| a.frames.iter().map(|f| f.addr).cmp(b.frames.iter().map(|f| f.addr)))
    });
    out
}

fn code_path(ci: &symbolize::CodeInfo<'_>) -> String {
    match &ci.dir {
        Some(d) if !d.as_os_str().is_empty() => d.join(&ci.file).to_string_lossy().into_owned(),
        _ => ci.file.to_string_lossy().into_owned(),
    }
}
