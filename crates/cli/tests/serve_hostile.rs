//! `memscope serve` under hostile clients: the real binary on an ephemeral
//! loopback port, its default limits (16 connections), and 50 or more
//! attacking connections of one kind while an honest client scrapes 50
//! times, each scrape on a new connection. Every honest scrape must be
//! answered within a second; the latencies' p50/p99 are printed.
//!
//! The attacks (each client reconnects when the exporter drops it, and
//! stops when the test ends):
//! - slow readers: pipelined `GET /metrics`, never reading a response;
//! - slowloris: half-sent requests, a header line now and then;
//! - pipelined 401s: the same as slow readers, without credentials, on an
//!   exporter with basic auth;
//! - auth flood: 60 clients asking with a new wrong password each time
//!   (bcrypt cost 10), reading their 401s.
//!
//! To measure another build (say, before a change), point
//! `MEMSCOPE_SERVE_BIN` at its binary: the scrapes are then timed out at
//! 60 s instead of failing at the first slow one, and
//! `MEMSCOPE_HOSTILE_SCRAPES` sets their number.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The latency every honest scrape must stay under.
const LIMIT: Duration = Duration::from_secs(1);

/// A running exporter, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let bin = std::env::var_os("MEMSCOPE_SERVE_BIN")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_memscope").into());
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--min-interval", "1h"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start memscope serve");
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .rsplit("://")
            .next()
            .and_then(|r| r.strip_suffix("/metrics"))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("no address in {line:?}")
            });
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn measuring() -> bool {
    std::env::var_os("MEMSCOPE_SERVE_BIN").is_some()
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Authorization: Basic {}\r\n",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A web config with the user `prometheus` / `s3cret` at bcrypt `cost`.
fn web_config(dir: &tempfile::TempDir, cost: u32) -> String {
    let hash = bcrypt::hash("s3cret", cost).unwrap();
    let path = dir.path().join("web.yml");
    std::fs::write(&path, format!("basic_auth_users:\n  prometheus: '{hash}'\n")).unwrap();
    path.to_str().unwrap().to_string()
}

/// One scrape on a new connection: its status and latency (connect to the
/// end of the response); an error if it failed or did not finish within `timeout`.
fn scrape(addr: SocketAddr, extra: &str, timeout: Duration) -> std::io::Result<(u16, Duration, String)> {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(timeout))?;
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n");
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, took, text))
}

/// Attacking clients, stopped and joined on drop.
struct Load {
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    /// `n` clients, each running `attack` on one connection after another
    /// until told to stop; `attack` returns when its connection is dropped.
    fn start(n: usize, addr: SocketAddr, attack: fn(&mut TcpStream, u64, &AtomicBool)) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicU64::new(0));
        let threads = (0..n)
            .map(|_| {
                let (stop, connections) = (stop.clone(), connections.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        };
                        let nth = connections.fetch_add(1, Ordering::Relaxed);
                        s.set_write_timeout(Some(Duration::from_millis(50))).unwrap();
                        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                        attack(&mut s, nth, &stop);
                    }
                })
            })
            .collect();
        Load { stop, connections, threads }
    }

    fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Whether an error means the exporter dropped the connection.
fn dropped(e: &std::io::Error) -> bool {
    !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted)
}

/// Pipelined `GET /metrics`, a batch every 20 ms, responses never read.
fn slow_reader(s: &mut TcpStream, _: u64, stop: &AtomicBool) {
    let batch = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(16);
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = s.write_all(&batch)
            && dropped(&e)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Half a request, then a header line every 200 ms, never the blank line.
fn slowloris(s: &mut TcpStream, _: u64, stop: &AtomicBool) {
    if s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").is_err() {
        return;
    }
    let mut buf = [0u8; 512];
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // Blocks up to the 50 ms read timeout; 0 bytes or an error: dropped.
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if dropped(&e) => return,
            Err(_) => {}
        }
        if last.elapsed() >= Duration::from_millis(200) {
            if s.write_all(b"X-Slow: 1\r\n").is_err() {
                return;
            }
            last = Instant::now();
        }
    }
}

/// A new wrong password on each request, reading each 401.
fn wrong_passwords(s: &mut TcpStream, nth: u64, stop: &AtomicBool) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{}\r\n",
        basic("prometheus", &format!("guess-{nth}"))
    );
    if s.write_all(req.as_bytes()).is_err() || stop.load(Ordering::Relaxed) {
        return;
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
}

/// The honest client's latencies over `n` scrapes while `load` runs: each
/// must be a 200 with metrics, under [`LIMIT`] (unless measuring another build).
fn honest_scrapes(addr: SocketAddr, extra: &str, what: &str) -> Vec<Duration> {
    let n: usize = std::env::var("MEMSCOPE_HOSTILE_SCRAPES").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let timeout = if measuring() { Duration::from_secs(60) } else { Duration::from_secs(10) };
    let mut took = Vec::new();
    for i in 0..n {
        let t0 = Instant::now();
        match scrape(addr, extra, timeout) {
            Ok((status, t, text)) => {
                assert_eq!(status, 200, "{what}: scrape {i}: {text:.200}");
                assert!(text.contains("memscope_unaccounted_bytes"), "{what}: scrape {i}");
                took.push(t);
                if !measuring() {
                    assert!(t < LIMIT, "{what}: scrape {i} took {t:?} (so far: {})", summary(&took));
                }
            }
            Err(e) => {
                let t = t0.elapsed();
                assert!(measuring(), "{what}: scrape {i} failed after {t:?}: {e}");
                took.push(t);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("{what}: honest scrape latency {}", summary(&took));
    took
}

/// p50, p99 and max of `v`, in milliseconds.
fn summary(v: &[Duration]) -> String {
    let mut ms: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    if ms.is_empty() {
        return "no scrapes".into();
    }
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    format!("p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {}", at(0.5), at(0.99), at(1.0), ms.len())
}

/// Let the attackers take every slot before the honest client comes.
fn settle() {
    std::thread::sleep(Duration::from_millis(500));
}

#[test]
fn fifty_slow_readers_do_not_delay_a_scrape() {
    let s = Server::start(&[]);
    assert!(scrape(s.addr, "", Duration::from_secs(30)).is_ok_and(|r| r.0 == 200), "warm-up");
    let load = Load::start(50, s.addr, slow_reader);
    settle();
    honest_scrapes(s.addr, "", "50 slow readers");
    eprintln!("slow readers opened {} connections", load.connections());
    assert!(load.connections() > 50, "dropped slow readers reconnected: the attack went on");
}

#[test]
fn fifty_slowloris_connections_do_not_delay_a_scrape() {
    let s = Server::start(&[]);
    assert!(scrape(s.addr, "", Duration::from_secs(30)).is_ok_and(|r| r.0 == 200), "warm-up");
    let load = Load::start(50, s.addr, slowloris);
    settle();
    honest_scrapes(s.addr, "", "50 slowloris");
    eprintln!("slowloris opened {} connections", load.connections());
    assert!(load.connections() > 50, "dropped half-sent requests reconnected: the attack went on");
}

#[test]
fn fifty_pipelined_unauthenticated_clients_do_not_delay_a_scrape() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = web_config(&dir, 4);
    let s = Server::start(&["--web-config", &cfg]);
    let auth = basic("prometheus", "s3cret");
    assert!(scrape(s.addr, &auth, Duration::from_secs(30)).is_ok_and(|r| r.0 == 200), "warm-up");
    let load = Load::start(50, s.addr, slow_reader);
    settle();
    honest_scrapes(s.addr, &auth, "50 pipelined 401s");
    eprintln!("pipelined 401s opened {} connections", load.connections());
    assert!(load.connections() > 50, "dropped clients reconnected: the attack went on");
}

#[test]
fn sixty_clients_with_wrong_passwords_do_not_delay_a_scrape_with_the_right_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = web_config(&dir, 10);
    let s = Server::start(&["--web-config", &cfg]);
    let auth = basic("prometheus", "s3cret");
    assert!(scrape(s.addr, &auth, Duration::from_secs(30)).is_ok_and(|r| r.0 == 200), "warm-up");
    let load = Load::start(60, s.addr, wrong_passwords);
    settle();
    honest_scrapes(s.addr, &auth, "60 wrong-password clients");
    let attempts = load.connections();
    eprintln!("wrong-password clients made {attempts} attempts");
    assert!(attempts > 60, "the flood went on");
    // None of them got in.
    assert_eq!(scrape(s.addr, &basic("prometheus", "guess-0"), LIMIT).map(|r| r.0 == 200).ok(), Some(false));
}
