//! The bounds every connection lives under, each one alone: the exporter
//! runs in this process on an ephemeral loopback port with short limits,
//! serving a captured tree, and plain sockets play the clients.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use memscope_export::metrics::MetricsOptions;
use memscope_kernel::KernelRoot;
use memscope_model::{CollectOptions, collect};
use memscope_serve::{Limits, Options, WebConfig};

/// An exporter on its own thread and runtime; stopped and joined on drop.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(limits: Limits) -> Server {
        let tree =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/live-6.18-firecracker-2cpu");
        let root = KernelRoot::at(tree);
        let opts = Options {
            listen: "127.0.0.1:0".parse().unwrap(),
            min_interval: Duration::from_secs(3600),
            metrics: MetricsOptions { top_processes: 20, top_slab_caches: 20, top_cgroups: 20 },
            web: WebConfig::default(),
            limits,
            collect: Arc::new(move || collect(&root, &CollectOptions::default()).into()),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(opts.listen).await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                memscope_serve::run(listener, opts, async {
                    let _ = stopped.await;
                })
                .await;
            });
        });
        let addr = rx.recv().unwrap();
        Server { addr, stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.thread.take().unwrap().join();
    }
}

const GET: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Responses (status lines) in `raw`.
fn statuses(raw: &[u8]) -> usize {
    raw.windows(9).filter(|w| w == b"HTTP/1.1 ").count()
}

/// A client that pipelines requests and never reads: the exporter answers
/// until the socket buffers are full, then its write stalls, and the write
/// deadline closes the connection although no other client wants the slot.
#[test]
fn a_client_that_never_reads_is_closed_at_the_write_deadline() {
    let limits = Limits {
        write_timeout: Duration::from_millis(300),
        max_requests: u32::MAX,
        lifetime: Duration::from_secs(60),
        ..Limits::default()
    };
    let s = Server::start(limits);
    let mut c = connect(s.addr);
    c.set_write_timeout(Some(Duration::from_millis(20))).unwrap();
    let started = Instant::now();
    let batch = GET.repeat(64);
    let closed = loop {
        assert!(started.elapsed() < Duration::from_secs(20), "the connection is still open");
        match c.write(&batch) {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                break started.elapsed();
            }
            Err(e) => panic!("{e}"),
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    eprintln!("closed after {closed:?}");
    // The buffers fill within a second or two on loopback; then 300 ms.
    assert!(closed >= Duration::from_millis(300), "{closed:?}");
    // And a reading client is served meanwhile and after.
    let mut r = connect(s.addr);
    r.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    r.read_to_end(&mut raw).unwrap();
    assert!(raw.starts_with(b"HTTP/1.1 200"));
}

/// The request cap: the last allowed response says `Connection: close` and
/// the exporter closes; pipelined requests after it get nothing.
#[test]
fn the_last_allowed_request_on_a_connection_is_answered_with_connection_close() {
    let s = Server::start(Limits { max_requests: 5, ..Limits::default() });
    let mut c = connect(s.addr);
    c.write_all(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(8)).unwrap();
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).unwrap();
    assert_eq!(statuses(&raw), 5);
    let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    assert_eq!(text.matches("connection: close").count(), 1, "only the fifth");
    let last = text.rsplit("http/1.1 ").next().unwrap();
    assert!(last.contains("connection: close"));
}

/// The lifetime: a kept-alive connection asking every 100 ms is closed after
/// the response in progress once its 600 ms are over.
#[test]
fn a_kept_alive_connection_is_closed_at_the_end_of_its_lifetime() {
    let s = Server::start(Limits { lifetime: Duration::from_millis(600), ..Limits::default() });
    let mut c = connect(s.addr);
    let started = Instant::now();
    let mut answered = 0;
    let mut buf = vec![0u8; 1 << 20];
    let closed = loop {
        assert!(started.elapsed() < Duration::from_secs(10), "still open after {answered} requests");
        if c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").is_err() {
            break started.elapsed();
        }
        // One response (the landing page) per request, or the close.
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break started.elapsed(),
            Ok(n) => answered += statuses(&buf[..n]),
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("{answered} responses, closed after {closed:?}");
    assert!(closed >= Duration::from_millis(600), "{closed:?}");
    assert!(closed < Duration::from_secs(3), "{closed:?}");
    assert!(answered >= 3, "{answered}");
}
