//! `fds` mode: hold a known mix of file descriptors under a known
//! `RLIMIT_NOFILE`.
//!
//! ```text
//! memscope-workload fds --dir DIR [--count 5000] [--soft 6000] [--inotify 8] [--watches 3]
//! ```
//! Sets the soft `RLIMIT_NOFILE` to `--soft` (the hard limit is raised to
//! match when lower), then opens, in this order: `--inotify` inotify
//! instances with `--watches` watches each (on subdirectories of DIR); 4
//! epoll instances, the first watching the read ends of 100 pipes; 50
//! eventfds, 50 timerfds, 10 signalfds; a TCP listener on 127.0.0.1 with 250
//! connections to it, 50 of which the client side then closes (their
//! accepted ends sit in CLOSE_WAIT); 100 UDP sockets; 200 unix socket pairs;
//! 500 pipes; DIR opened 20 times; /dev/null opened 30 times; and DIR/leak.log
//! opened as often as it takes to hold exactly `--count` descriptors.
//!
//! The ready line gives the counts per group (the keys of memscope's fd
//! groups), with the inherited descriptors (the standard three, at least)
//! classified by `fstat`, and per kind:
//! ```text
//! ready PID total=5000 file=… directory=20 device=30 pipe=1000 socket=… anon=172 other=0
//!       leak_file=… pipe_fds=1000 dir_opens=20 tcp=451 tcp_port=… close_wait=50 udp=100 unix=400 eventfd=50 epoll=4
//!       timerfd=50 signalfd=10 inotify=8 inotify_watches=24 epoll_watches=100
//! ```
//! The directory is the caller's to remove.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use crate::{arg, die, num};

/// Take ownership of a raw descriptor returned by a libc call, or die.
fn owned(fd: libc::c_int, what: &str) -> OwnedFd {
    if fd < 0 {
        die(&format!("{what} failed: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: a fresh descriptor this process owns and nothing else holds.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn set_nofile(soft: u64) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit on our own process with a valid pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            die("getrlimit failed");
        }
        lim.rlim_cur = soft;
        lim.rlim_max = lim.rlim_max.max(soft);
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            die("setrlimit(RLIMIT_NOFILE) failed (raising the hard limit needs root)");
        }
    }
}

/// The group of one of our own descriptors, from `fstat`.
fn group_of(fd: libc::c_int) -> &'static str {
    // SAFETY: fstat into a zeroed struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return "none";
    }
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => "file",
        libc::S_IFDIR => "directory",
        libc::S_IFCHR | libc::S_IFBLK => "device",
        libc::S_IFIFO => "pipe",
        libc::S_IFSOCK => "socket",
        _ => "other",
    }
}

/// Descriptors opened, per group and per kind.
#[derive(Default)]
struct Tally {
    groups: BTreeMap<&'static str, usize>,
    kinds: BTreeMap<&'static str, usize>,
}

impl Tally {
    /// `n` descriptors of group `g` and kind `k`.
    fn add(&mut self, g: &'static str, k: &'static str, n: usize) {
        *self.groups.entry(g).or_default() += n;
        self.kind(k, n);
    }

    /// A figure that is not a descriptor count (watches, sockets in a state).
    fn kind(&mut self, k: &'static str, n: usize) {
        *self.kinds.entry(k).or_default() += n;
    }
}

pub fn run(args: &[String]) -> (Vec<String>, Box<dyn std::any::Any>) {
    let dir = PathBuf::from(arg(args, "--dir").unwrap_or_else(|| {
        std::env::temp_dir()
            .join(format!("memscope-workload-fds-{}", std::process::id()))
            .display()
            .to_string()
    }));
    let count = num(args, "--count", 5000);
    let soft = num(args, "--soft", 6000) as u64;
    let n_inotify = num(args, "--inotify", 8);
    let n_watches = num(args, "--watches", 3);
    set_nofile(soft);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| die(&format!("create {}: {e}", dir.display())));

    let mut keep: Vec<OwnedFd> = Vec::with_capacity(count);
    let mut t = Tally::default();
    for g in ["file", "directory", "device", "pipe", "socket", "anon", "other"] {
        t.groups.insert(g, 0);
    }
    // Whatever was inherited (the standard three, and anything the parent
    // leaked): classified by fstat once the listing's own descriptor is closed.
    let inherited: Vec<libc::c_int> = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_else(|_| vec![0, 1, 2]);
    for fd in inherited {
        let g = group_of(fd);
        if g != "none" {
            *t.groups.entry(g).or_default() += 1;
        }
    }

    // inotify instances, each watching `n_watches` directories.
    let watch_dirs: Vec<PathBuf> = (0..n_watches).map(|i| dir.join(format!("watched-{i}"))).collect();
    for d in &watch_dirs {
        std::fs::create_dir_all(d).unwrap_or_else(|e| die(&format!("create {}: {e}", d.display())));
    }
    for _ in 0..n_inotify {
        // SAFETY: plain syscall.
        let fd = owned(unsafe { libc::inotify_init1(libc::IN_CLOEXEC) }, "inotify_init1");
        for d in &watch_dirs {
            let c = std::ffi::CString::new(d.as_os_str().as_encoded_bytes()).expect("no NUL in path");
            // SAFETY: valid descriptor and NUL-terminated path.
            let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), libc::IN_CREATE) };
            if wd < 0 {
                die(&format!("inotify_add_watch failed: {}", std::io::Error::last_os_error()));
            }
        }
        keep.push(fd);
    }
    t.add("anon", "inotify", n_inotify);
    t.kind("inotify_watches", n_inotify * n_watches);

    // Pipes (the first 100 read ends are watched by the first epoll instance).
    let mut pipes = Vec::with_capacity(500);
    for _ in 0..500 {
        let (r, w) = rustix::pipe::pipe().unwrap_or_else(|e| die(&format!("pipe: {e}")));
        pipes.push((r, w));
    }
    t.add("pipe", "pipe_fds", 1000);

    // epoll instances.
    let epolls: Vec<OwnedFd> =
        // SAFETY: plain syscall.
        (0..4).map(|_| owned(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) }, "epoll_create1")).collect();
    for (r, _) in pipes.iter().take(100) {
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: r.as_raw_fd() as u64 };
        // SAFETY: valid descriptors and event.
        if unsafe { libc::epoll_ctl(epolls[0].as_raw_fd(), libc::EPOLL_CTL_ADD, r.as_raw_fd(), &mut ev) } != 0
        {
            die("epoll_ctl failed");
        }
    }
    t.add("anon", "epoll", epolls.len());
    t.kind("epoll_watches", 100);
    keep.extend(epolls);
    for (r, w) in pipes {
        keep.push(r);
        keep.push(w);
    }

    for _ in 0..50 {
        // SAFETY: plain syscalls.
        keep.push(owned(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) }, "eventfd"));
        keep.push(owned(
            unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC) },
            "timerfd_create",
        ));
    }
    t.add("anon", "eventfd", 50);
    t.add("anon", "timerfd", 50);
    for _ in 0..10 {
        // SAFETY: an empty signal set, initialised by sigemptyset.
        let fd = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::signalfd(-1, &set, libc::SFD_CLOEXEC)
        };
        keep.push(owned(fd, "signalfd"));
    }
    t.add("anon", "signalfd", 10);

    // TCP: a listener, 250 connections, 50 closed by the client side.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| die(&format!("tcp bind: {e}")));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut clients = Vec::new();
    for _ in 0..250 {
        let c = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| die(&format!("tcp connect: {e}")));
        let (s, _) = listener.accept().unwrap_or_else(|e| die(&format!("tcp accept: {e}")));
        clients.push(c);
        keep.push(s.into());
    }
    for c in clients.drain(..50) {
        drop(c); // the accepted end goes to CLOSE_WAIT
    }
    keep.extend(clients.into_iter().map(OwnedFd::from));
    keep.push(listener.into());
    t.add("socket", "tcp", 1 + 250 + 200);
    t.kind("close_wait", 50);

    for _ in 0..100 {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| die(&format!("udp bind: {e}")));
        keep.push(u.into());
    }
    t.add("socket", "udp", 100);
    for _ in 0..200 {
        let (a, b) = UnixStream::pair().unwrap_or_else(|e| die(&format!("socketpair: {e}")));
        keep.push(a.into());
        keep.push(b.into());
    }
    t.add("socket", "unix", 400);

    for _ in 0..20 {
        keep.push(File::open(&dir).unwrap_or_else(|e| die(&format!("open dir: {e}"))).into());
    }
    t.add("directory", "dir_opens", 20);
    for _ in 0..30 {
        keep.push(File::open("/dev/null").unwrap_or_else(|e| die(&format!("open /dev/null: {e}"))).into());
    }
    t.add("device", "dev_null", 30);

    // The leak: one file opened until `count` descriptors are held.
    let leak = dir.join("leak.log");
    std::fs::write(&leak, b"leak\n").unwrap_or_else(|e| die(&format!("write {}: {e}", leak.display())));
    let held = t.groups.values().sum::<usize>();
    if held > count {
        die(&format!("--count {count} is below the {held} descriptors of the fixed mix"));
    }
    let leak_n = count - held;
    for _ in 0..leak_n {
        keep.push(File::open(&leak).unwrap_or_else(|e| die(&format!("open leak.log: {e}"))).into());
    }
    t.add("file", "leak_file", leak_n);

    // Check the arithmetic against the kernel's own count.
    let open_now = std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0);
    // read_dir holds one descriptor while listing.
    if open_now != count + 1 {
        die(&format!("holding {} descriptors, expected {count}", open_now.saturating_sub(1)));
    }

    let mut info = vec![format!("total={count}")];
    info.extend(t.groups.iter().map(|(g, n)| format!("{g}={n}")));
    info.extend(t.kinds.iter().map(|(k, n)| format!("{k}={n}")));
    info.push(format!("tcp_port={port}"));
    info.push(format!("leak_path={}", leak.display()));
    (info, Box::new(keep))
}

/// `fd-grow` mode: a descriptor leak at a known rate under a known limit.
///
/// ```text
/// memscope-workload fd-grow --per-sec N [--start M] [--soft S]
/// ```
/// Sets the soft `RLIMIT_NOFILE` to `--soft` (when given), opens `/dev/null`
/// `--start` times, prints `ready PID soft=S open=K` (K: descriptors open
/// then, the inherited ones included), then opens `/dev/null` once every
/// 1/N second on a fixed schedule (a late wake-up catches up), so that the
/// count grows by exactly N a second; each open is a new open file, so the
/// system's `file-nr` grows at the same rate. It stops growing two short of
/// the soft limit instead of failing, and holds everything until killed.
pub fn grow(args: &[String]) -> ! {
    if let Some(soft) = arg(args, "--soft") {
        set_nofile(soft.parse().unwrap_or_else(|_| die("--soft takes a number")));
    }
    let per_sec = num(args, "--per-sec", 10);
    let mut held: Vec<File> = Vec::new();
    let open = |held: &mut Vec<File>| -> bool {
        match File::open("/dev/null") {
            Ok(f) => {
                held.push(f);
                true
            }
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => false,
            Err(e) => die(&format!("open /dev/null: {e}")),
        }
    };
    for _ in 0..num(args, "--start", 0) {
        if !open(&mut held) {
            die("--start reaches the soft RLIMIT_NOFILE");
        }
    }
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit on our own process with a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        die("getrlimit failed");
    }
    let open_now = std::fs::read_dir("/proc/self/fd").map(|d| d.count().saturating_sub(1)).unwrap_or(0);
    println!("ready {} soft={} open={open_now}", std::process::id(), lim.rlim_cur);
    let inherited = open_now.saturating_sub(held.len());
    let started = std::time::Instant::now();
    let mut opened: u64 = 0;
    loop {
        if per_sec == 0 {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            continue;
        }
        // The next open is due at (opened + 1) / N seconds after the start.
        let due = started + std::time::Duration::from_secs_f64((opened + 1) as f64 / per_sec as f64);
        let now = std::time::Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let near_limit = (inherited + held.len()) as u64 + 2 >= lim.rlim_cur;
        if near_limit || !open(&mut held) {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            continue;
        }
        opened += 1;
    }
}
