//! `memscope-workload tcp --mib N`: about N MiB written over a loopback TCP
//! connection to itself and never read. The data sits in socket buffers
//! (the receiver's queue, and the sender's until acknowledged): kernel
//! memory allocated on the socket send and receive paths, charged to
//! TCP (`/proc/net/sockstat` `mem`).
//!
//! Both buffers are raised above the sysctl maximums with SO_RCVBUFFORCE /
//! SO_SNDBUFFORCE (CAP_NET_ADMIN; socket(7)) so that N MiB fit; without the
//! capability the plain options apply (capped by net.core.rmem_max).
//! The receive buffer is set on the listening socket before `listen`: the
//! window scale is chosen at connection time from it (tcp(7)).
//! Prints `ready <pid> queued=<bytes>`.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::{MIB, die};

fn check(rc: libc::c_int, what: &str) -> libc::c_int {
    if rc < 0 {
        die(&format!("{what}: {}", std::io::Error::last_os_error()));
    }
    rc
}

fn tcp_socket() -> OwnedFd {
    // SAFETY: plain socket(2); the descriptor is owned from here on.
    let fd =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) }, "socket");
    // SAFETY: a new descriptor we own.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Set a buffer size, forcing it past the sysctl cap when allowed.
fn set_buf(fd: &OwnedFd, force: libc::c_int, plain: libc::c_int, bytes: usize) {
    let v: libc::c_int = bytes.min(i32::MAX as usize / 2) as libc::c_int;
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let p = &v as *const libc::c_int as *const libc::c_void;
    // SAFETY: setsockopt with a valid int option value.
    if unsafe { libc::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, force, p, len) } != 0 {
        // SAFETY: as above.
        unsafe { libc::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, plain, p, len) };
    }
}

fn loopback(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be() },
        sin_zero: [0; 8],
    }
}

/// Fill the connection; return the sockets (to hold) and the bytes queued.
pub fn fill(mib: usize) -> (Vec<OwnedFd>, usize) {
    let want = mib * MIB;
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let listener = tcp_socket();
    set_buf(&listener, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, 2 * want);
    let mut addr = loopback(0);
    // SAFETY: bind/listen/getsockname with a valid sockaddr_in and its length.
    unsafe {
        check(libc::bind(listener.as_raw_fd(), &addr as *const _ as *const libc::sockaddr, len), "bind");
        check(libc::listen(listener.as_raw_fd(), 1), "listen");
        let mut l = len;
        check(
            libc::getsockname(listener.as_raw_fd(), &mut addr as *mut _ as *mut libc::sockaddr, &mut l),
            "getsockname",
        );
    }
    let client = tcp_socket();
    set_buf(&client, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, want / 4);
    // SAFETY: connect/accept on our own sockets.
    let server = unsafe {
        check(libc::connect(client.as_raw_fd(), &addr as *const _ as *const libc::sockaddr, len), "connect");
        let fd = check(
            libc::accept4(
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            ),
            "accept",
        );
        OwnedFd::from_raw_fd(fd)
    };
    // SAFETY: fcntl on our own descriptor.
    unsafe {
        let fl = libc::fcntl(client.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(client.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    let chunk = vec![0x5au8; 64 << 10];
    let mut queued = 0usize;
    let mut last_progress = std::time::Instant::now();
    while queued < want && last_progress.elapsed() < std::time::Duration::from_secs(3) {
        let n = (want - queued).min(chunk.len());
        // SAFETY: writing from a valid buffer of at least n bytes.
        let w = unsafe { libc::write(client.as_raw_fd(), chunk.as_ptr() as *const libc::c_void, n) };
        if w > 0 {
            queued += w as usize;
            last_progress = std::time::Instant::now();
            continue;
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EAGAIN) {
            die(&format!("write: {err}"));
        }
        let mut pfd = libc::pollfd { fd: client.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
        // SAFETY: poll on one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 200) };
    }
    (vec![listener, client, server], queued)
}
