//! Known-answer workloads for memscope's live tests. Each mode sets up its
//! memory or resources, prints `ready <pid> [<pid>…] [info…]` on stdout, and
//! holds everything until stdin closes or it is killed.
//!
//! ```text
//! memscope-workload touch  --private MIB [--shared MIB --sharers K] [--mlock] [--thp]
//! memscope-workload pipes  --mib N        N pipes of 1 MiB, filled (kernel memory in no counter)
//! memscope-workload grow   --mib-per-sec N   anonymous memory growing steadily
//! memscope-workload tcp    --mib N        ~N MiB unread in a loopback TCP connection (socket buffers)
//! memscope-workload maps   --count N      N one-page mappings that cannot merge, each touched
//! memscope-workload fds    --dir DIR [--count N] [--soft N]   a known mix of descriptors (see fds.rs)
//! memscope-workload pipe-grow --mib-per-sec N   N more filled 1 MiB pipes every second
//!                                              (kernel memory in no counter, growing)
//! memscope-workload fd-grow --per-sec N [--start M] [--soft S]
//!                                       N more open descriptors every second (see fds.rs)
//! memscope-workload argv0 --text TEXT   TEXT written over its own argument memory
//!                                       (how programs set their title): cmdline reads TEXT
//! memscope-workload name --name NAME   names itself NAME (prctl PR_SET_NAME, any bytes)
//! memscope-workload thrash --file PATH --mib N   writes an N MiB file, then reads it
//!                                       round and round: under a memory limit smaller
//!                                       than N, every read reclaims (a memory stall)
//! memscope-workload container --anon MIB --file PATH --cache MIB --shm PATH --tmpfs MIB --tcp MIB
//!                                       a container's mix: MIB anonymous, a file written,
//!                                       dropped from the cache and read back (page cache it
//!                                       read), a tmpfs file written (shmem), and MIB unread
//!                                       in a loopback TCP connection (socket buffers)
//! memscope-workload mapfile --file PATH   PATH mapped shared, read-only, every page read:
//!                                       a second one on the same file halves the first's PSS
//! memscope-workload idle
//! memscope-workload read-files LIST    reads the kernel files LIST names, once each, and
//!                                       exits: the floor of a scan (see floor.rs)
//! ```
//!
//! The modes for `memscope run` tests (`alloc`, `fork-bomb`, `affinity`,
//! `sleep`) are in [`limits`].

mod limits;
mod tcp;

mod fds;
mod floor;

use std::io::Read;

const MIB: usize = 1 << 20;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn num(args: &[String], name: &str, default: usize) -> usize {
    arg(args, name).map(|v| v.parse().expect("a number")).unwrap_or(default)
}

fn flag(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}

fn die(msg: &str) -> ! {
    eprintln!("memscope-workload: {msg}");
    std::process::exit(2)
}

/// Map `bytes` of anonymous memory; `shared` for MAP_SHARED.
fn map(bytes: usize, shared: bool) -> *mut u8 {
    let flags = if shared { libc::MAP_SHARED } else { libc::MAP_PRIVATE } | libc::MAP_ANONYMOUS;
    // SAFETY: anonymous mapping with no address hint.
    let p =
        unsafe { libc::mmap(std::ptr::null_mut(), bytes, libc::PROT_READ | libc::PROT_WRITE, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        die("mmap failed");
    }
    p as *mut u8
}

/// Write one byte per page so every page is present.
fn touch(p: *mut u8, bytes: usize) {
    for off in (0..bytes).step_by(4096) {
        // SAFETY: within the mapping.
        unsafe { std::ptr::write_volatile(p.add(off), 1) };
    }
}

/// Read one byte per page, mapping shared pages into this process.
fn read_all(p: *mut u8, bytes: usize) -> u64 {
    let mut sum = 0u64;
    for off in (0..bytes).step_by(4096) {
        // SAFETY: within the mapping.
        sum += unsafe { std::ptr::read_volatile(p.add(off)) } as u64;
    }
    sum
}

fn wait_for_stdin_close() {
    let mut buf = [0u8; 64];
    let mut stdin = std::io::stdin();
    while let Ok(n) = stdin.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
}

/// Set by `testkit::Workload`: the workload exits as soon as its stdin
/// closes, whatever its mode is doing, so that it never outlives a test
/// process that died without dropping it (killed by a timeout, say).
pub const EXIT_ON_EOF_ENV: &str = "MEMSCOPE_WORKLOAD_EXIT_ON_EOF";

fn main() {
    if std::env::var_os(EXIT_ON_EOF_ENV).is_some() {
        std::thread::spawn(|| {
            wait_for_stdin_close();
            std::process::exit(0);
        });
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().cloned().unwrap_or_default();
    if let Some(code) = limits::run(&mode, &args) {
        std::process::exit(code);
    }
    if mode == "read-files" {
        std::process::exit(floor::run(&args));
    }
    let mut pids = vec![std::process::id()];
    let mut info: Vec<String> = Vec::new();
    match mode.as_str() {
        "touch" => {
            let private = num(&args, "--private", 0) * MIB;
            let shared = num(&args, "--shared", 0) * MIB;
            let sharers = num(&args, "--sharers", 1).max(1);
            // Shared memory and the forked sharers first, so that the private
            // region below exists only in this process (fork would share it
            // copy-on-write with the children).
            if shared > 0 {
                let s = map(shared, true);
                touch(s, shared);
                info.push(format!("shared=0x{:x}", s as usize));
                for _ in 1..sharers {
                    // SAFETY: single-threaded here; the child only reads the
                    // shared region (mapping its pages) and then sleeps until killed.
                    let pid = unsafe { libc::fork() };
                    if pid < 0 {
                        die("fork failed");
                    }
                    if pid == 0 {
                        // SAFETY: ask to die with the parent.
                        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
                        read_all(s, shared);
                        loop {
                            // SAFETY: wait for a signal forever.
                            unsafe { libc::pause() };
                        }
                    }
                    pids.push(pid as u32);
                }
                // Give the children time to map the region.
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
            if private > 0 {
                let p = map(private, false);
                if flag(&args, "--thp") {
                    // SAFETY: advice on our own mapping.
                    unsafe { libc::madvise(p as *mut libc::c_void, private, libc::MADV_HUGEPAGE) };
                }
                touch(p, private);
                if flag(&args, "--mlock") {
                    // SAFETY: locking our own mapping.
                    if unsafe { libc::mlock(p as *const libc::c_void, private) } != 0 {
                        die("mlock failed");
                    }
                }
                info.push(format!("private=0x{:x}", p as usize));
            }
        }
        "pipes" => {
            let mib = num(&args, "--mib", 64);
            let mut keep = Vec::new();
            let chunk = vec![7u8; MIB];
            for _ in 0..mib {
                keep.push(filled_pipe(&chunk));
            }
            info.push(format!("pipes={mib}"));
            println!("ready {} {}", pids[0], info.join(" "));
            wait_for_stdin_close();
            drop(keep);
            return;
        }
        "tcp" => {
            let (_keep, queued) = tcp::fill(num(&args, "--mib", 100));
            println!("ready {} queued={queued}", pids[0]);
            wait_for_stdin_close();
            return;
        }
        "grow" => {
            let per_sec = num(&args, "--mib-per-sec", 1);
            println!("ready {}", pids[0]);
            let mut held = Vec::new();
            loop {
                let p = map(per_sec * MIB, false);
                touch(p, per_sec * MIB);
                held.push(p as usize);
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
        "fds" => {
            let (fd_info, held) = fds::run(&args);
            println!("ready {} {}", pids[0], fd_info.join(" "));
            wait_for_stdin_close();
            drop(held);
            return;
        }
        "fd-grow" => fds::grow(&args),
        "pipe-grow" => {
            let per_sec = num(&args, "--mib-per-sec", 1);
            println!("ready {}", pids[0]);
            let chunk = vec![7u8; MIB];
            let mut keep = Vec::new();
            loop {
                for _ in 0..per_sec {
                    keep.push(filled_pipe(&chunk));
                }
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
        "maps" => {
            let count = num(&args, "--count", 1000);
            let mut first = 0usize;
            for i in 0..count {
                // Alternate protections so that neighbouring mappings never merge.
                let prot = if i % 2 == 0 { libc::PROT_READ | libc::PROT_WRITE } else { libc::PROT_READ };
                // SAFETY: anonymous mapping with no address hint.
                let p = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        4096,
                        prot,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                        -1,
                        0,
                    )
                };
                if p == libc::MAP_FAILED {
                    die("mmap failed (vm.max_map_count?)");
                }
                let p = p as *mut u8;
                if i % 2 == 0 {
                    touch(p, 4096);
                } else {
                    read_all(p, 4096);
                }
                if i == 0 {
                    first = p as usize;
                }
            }
            info.push(format!("maps={count}"));
            info.push(format!("first=0x{first:x}"));
        }
        "argv0" => {
            let text = arg(&args, "--text").unwrap_or_else(|| die("argv0 needs --text TEXT"));
            overwrite_argv(text.as_bytes());
        }
        "name" => {
            // Any bytes but NUL: the kernel keeps the first 15 as the command name.
            let name = arg(&args, "--name").unwrap_or_else(|| die("--name NAME"));
            let name = std::ffi::CString::new(name).unwrap_or_else(|_| die("a name without NUL"));
            // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
            if unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) } != 0 {
                die("prctl(PR_SET_NAME) failed");
            }
        }
        "thrash" => {
            let path = arg(&args, "--file").unwrap_or_else(|| die("thrash needs --file PATH"));
            let bytes = num(&args, "--mib", 64) * MIB;
            let mut f = std::fs::File::options()
                .create(true)
                .truncate(true)
                .read(true)
                .write(true)
                .open(&path)
                .unwrap_or_else(|e| die(&format!("{path}: {e}")));
            {
                use std::io::Write;
                let chunk = vec![0x5au8; MIB];
                for _ in 0..bytes / MIB {
                    f.write_all(&chunk).unwrap_or_else(|e| die(&format!("{path}: {e}")));
                }
                f.sync_all().unwrap_or_else(|e| die(&format!("{path}: {e}")));
            }
            info.push(format!("file={path}"));
            println!(
                "ready {}",
                pids.iter().map(|p| p.to_string()).chain(info).collect::<Vec<_>>().join(" ")
            );
            // Read the file round and round, forever: the page cache it needs
            // is larger than the limit, so each pass evicts what the next needs.
            use std::os::unix::fs::FileExt;
            let mut buf = vec![0u8; MIB];
            loop {
                for off in (0..bytes).step_by(MIB) {
                    let _ = f.read_at(&mut buf, off as u64);
                }
            }
        }
        "container" => {
            let (keep, queued) = container(&args);
            info.push(format!("queued={queued}"));
            println!("ready {} {}", pids[0], info.join(" "));
            wait_for_stdin_close();
            drop(keep);
            return;
        }
        "mapfile" => {
            let path = arg(&args, "--file").unwrap_or_else(|| die("mapfile needs --file PATH"));
            let f = std::fs::File::open(&path).unwrap_or_else(|e| die(&format!("{path}: {e}")));
            let bytes = f.metadata().unwrap_or_else(|e| die(&format!("{path}: {e}"))).len() as usize;
            if bytes == 0 {
                die("mapfile needs a file that is not empty");
            }
            // SAFETY: a read-only shared mapping of a file we opened, no address hint.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    bytes,
                    libc::PROT_READ,
                    libc::MAP_SHARED,
                    std::os::fd::AsRawFd::as_raw_fd(&f),
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                die("mmap failed");
            }
            read_all(p as *mut u8, bytes);
            info.push(format!("mapped={bytes}"));
        }
        "idle" => {}
        other => die(&format!("unknown mode `{other}`")),
    }
    let pid_list: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
    println!("ready {} {}", pid_list.join(" "), info.join(" "));
    wait_for_stdin_close();
}

/// A pipe resized to 1 MiB and filled with `chunk` (1 MiB): kernel memory
/// that no counter shows, held while both ends stay open.
fn filled_pipe(chunk: &[u8]) -> (rustix::fd::OwnedFd, rustix::fd::OwnedFd) {
    let (r, w) = rustix::pipe::pipe().unwrap_or_else(|_| die("pipe failed (fd limit?)"));
    rustix::pipe::fcntl_setpipe_size(&w, MIB).unwrap_or_else(|_| die("F_SETPIPE_SZ 1 MiB failed"));
    let mut done = 0;
    while done < MIB {
        done += rustix::io::write(&w, &chunk[done..]).unwrap_or_else(|_| die("pipe write"));
    }
    (r, w)
}

/// Write `text` over this process's argument area (`arg_start`..`arg_end`,
/// fields 48 and 49 of /proc/self/stat; proc(5)), NUL-padded, as
/// setproctitle() does: /proc/self/cmdline then reads `text` and nothing
/// of the original arguments.
fn overwrite_argv(text: &[u8]) {
    use std::os::unix::fs::FileExt;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_else(|_| die("read /proc/self/stat"));
    // Fields after the command name, which ends at the last ')': field 3 first.
    let after = &stat[stat.rfind(')').unwrap_or_else(|| die("stat without ')'")) + 2..];
    let fields: Vec<u64> = after.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    let (start, end) = (fields[48 - 3], fields[49 - 3]);
    let len = end
        .checked_sub(start)
        .filter(|l| *l as usize > text.len())
        .unwrap_or_else(|| die("the argument area is shorter than the text")) as usize;
    let mut area = vec![0u8; len];
    area[..text.len()].copy_from_slice(text);
    // Writing one's own memory through /proc/self/mem needs no privilege.
    let mem = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/mem")
        .unwrap_or_else(|_| die("open /proc/self/mem"));
    mem.write_all_at(&area, start).unwrap_or_else(|_| die("write the argument area"));
}

/// `container`: anonymous memory, page cache read from a file, a tmpfs file
/// and unread TCP data, each of a known size; returns what to hold and the
/// bytes queued in the socket.
fn container(args: &[String]) -> (Vec<rustix::fd::OwnedFd>, usize) {
    use std::io::{Read, Write};
    let anon = num(args, "--anon", 0) * MIB;
    if anon > 0 {
        touch(map(anon, false), anon);
    }
    let cache = num(args, "--cache", 0) * MIB;
    if cache > 0 {
        let path = arg(args, "--file").unwrap_or_else(|| die("--cache needs --file PATH"));
        let chunk = vec![0x5au8; MIB];
        let mut f = std::fs::File::create(&path).unwrap_or_else(|e| die(&format!("{path}: {e}")));
        for _ in 0..cache / MIB {
            f.write_all(&chunk).unwrap_or_else(|e| die(&format!("{path}: {e}")));
        }
        f.sync_all().unwrap_or_else(|e| die(&format!("{path}: {e}")));
        // Drop the written pages (clean after the sync), then read the file
        // back: the page cache now held is what this process read.
        rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed).unwrap_or_else(|_| die("fadvise"));
        let mut f = std::fs::File::open(&path).unwrap_or_else(|e| die(&format!("{path}: {e}")));
        let mut buf = vec![0u8; MIB];
        while f.read(&mut buf).unwrap_or(0) > 0 {}
    }
    let tmpfs = num(args, "--tmpfs", 0) * MIB;
    if tmpfs > 0 {
        let path = arg(args, "--shm").unwrap_or_else(|| die("--tmpfs needs --shm PATH"));
        let chunk = vec![0x6bu8; MIB];
        let mut f = std::fs::File::create(&path).unwrap_or_else(|e| die(&format!("{path}: {e}")));
        for _ in 0..tmpfs / MIB {
            f.write_all(&chunk).unwrap_or_else(|e| die(&format!("{path}: {e}")));
        }
    }
    let tcp = num(args, "--tcp", 0);
    if tcp > 0 { tcp::fill(tcp) } else { (Vec::new(), 0) }
}
