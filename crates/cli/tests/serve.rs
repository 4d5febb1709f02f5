//! `memscope serve` end to end: the real binary on an ephemeral loopback
//! port, scraped by a minimal HTTP client (plain or TLS), checked by
//! Prometheus' own `promtool`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running exporter, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut all = vec!["--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Server::start_with(&all)
    }

    /// `memscope serve ARGS…` (ARGS must name a listen address).
    fn start_with(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_memscope"))
            .arg("serve")
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

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap();
        kb * 1024
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status code, headers (lower-cased names) and body of one response.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

fn parse_response(raw: &[u8]) -> Response {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or("");
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Response { status, headers, body: body.to_string() }
}

/// Send `request` as is on a new connection and read until the server closes it.
fn exchange<S: Read + Write>(mut s: S, request: &[u8]) -> Response {
    s.write_all(request).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

fn get(addr: SocketAddr, path: &str, extra: &str) -> Response {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n");
    exchange(connect(addr), req.as_bytes())
}

fn promtool_check(text: &str) -> Option<(bool, String)> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Some((out.status.success(), said))
}

#[test]
fn promtool_accepts_a_live_scrape() {
    let s = Server::start(&[]);
    let r = get(s.addr, "/metrics", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    let Some((ok, said)) = promtool_check(&r.body) else {
        panic!("promtool is not installed: run scripts/install-test-deps (Debian package prometheus)");
    };
    assert!(ok && said.trim().is_empty(), "promtool check metrics: {said}\n{}", r.body);
    for needle in [
        "memscope_ledger_bytes{category=\"free\"}",
        "memscope_unaccounted_bytes ",
        "memscope_zone_managed_bytes{node=\"0\",zone=",
        "memscope_process_pss_bytes{comm=\"",
        "memscope_command_processes{comm=\"",
        "memscope_socket_buffer_bytes{protocol=\"TCP\"}",
        "# TYPE memscope_collections_total counter",
        "memscope_file_handles_max ",
        "memscope_process_open_fds{pid=\"",
        "memscope_process_max_fds{pid=\"",
        "memscope_memory_cgroups{set=\"total\"}",
        "memscope_cgroup_memory_bytes{cgroup=\"/",
        "# TYPE memscope_cgroup_oom_kills_total counter",
        "memscope_oom_kills_total ",
    ] {
        assert!(r.body.contains(needle), "{needle} missing");
    }
    if memscope_testkit::is_root() {
        assert!(r.body.contains("memscope_slab_cache_bytes{cache=\"other\"}"));
        assert!(r.body.contains("memscope_vmalloc_bytes{kind=\"vmalloc\"}"));
    }
    // Prometheus asks for OpenMetrics first and gets it.
    let om =
        get(s.addr, "/metrics", "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n");
    assert_eq!(om.header("content-type"), Some("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    assert!(om.body.ends_with("# EOF\n"));
    assert!(om.body.contains("# TYPE memscope_collections counter\nmemscope_collections_total "));
}

#[test]
fn a_captured_tree_is_served_with_the_same_ledger_as_the_report() {
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/live-6.18-firecracker-2cpu");
    let s = Server::start(&["--root", tree.to_str().unwrap()]);
    let r = get(s.addr, "/metrics", "");
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["--root", tree.to_str().unwrap(), "report", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let unaccounted = doc["unaccounted_bytes"].as_i64().unwrap();
    assert!(r.body.contains(&format!("\nmemscope_unaccounted_bytes {unaccounted}\n")), "{}", r.body);
    let installed = doc["installed_bytes"].as_i64().unwrap();
    let sum: i64 = r
        .body
        .lines()
        .filter(|l| l.starts_with("memscope_ledger_bytes{"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<i64>().unwrap())
        .sum();
    assert_eq!(sum, installed);
}

#[test]
fn a_captured_tree_exports_its_cgroups_and_descriptors() {
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/top-fds-cgroups");
    let s = Server::start(&["--root", tree.to_str().unwrap(), "--top-cgroups", "2"]);
    let r = get(s.addr, "/metrics", "");
    let Some((ok, said)) = promtool_check(&r.body) else {
        panic!("promtool is not installed: run scripts/install-test-deps (Debian package prometheus)");
    };
    assert!(ok && said.trim().is_empty(), "promtool check metrics: {said}\n{}", r.body);
    let cgroups: Vec<&str> =
        r.body.lines().filter(|l| l.starts_with("memscope_cgroup_memory_bytes{")).collect();
    assert_eq!(
        cgroups,
        [
            "memscope_cgroup_memory_bytes{cgroup=\"/system.slice\"} 115343360",
            "memscope_cgroup_memory_bytes{cgroup=\"/system.slice/nginx.service\"} 104857600",
            // init.scope 12 MiB + user.slice 50 MiB + idle.service 0 + sshd.service 8 MiB
            "memscope_cgroup_memory_bytes{cgroup=\"other\"} 73400320",
        ]
    );
    assert!(r.body.contains(
        "\nmemscope_cgroup_memory_limit_bytes{cgroup=\"/system.slice/nginx.service\"} 134217728\n"
    ));
    assert!(r.body.contains("\nmemscope_cgroup_oom_kills_total{cgroup=\"/system.slice/nginx.service\"} 1\n"));
    assert!(r.body.contains("\nmemscope_process_open_fds{pid=\"201\",comm=\"nginx\"} 60\n"), "{}", r.body);
    assert!(r.body.contains("\nmemscope_file_handles_allocated 3456\n"));

    // The ledger lines of the same cgroups: memory.stat's figures, each
    // cgroup's lines adding up to its charge, the rest in `other` once.
    assert!(r.body.contains("# TYPE memscope_cgroup_memory_ledger_bytes gauge\n"), "{}", r.body);
    assert!(r.body.contains("# HELP memscope_cgroup_memory_ledger_bytes "), "{}", r.body);
    let mut sums: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for l in r.body.lines().filter_map(|l| l.strip_prefix("memscope_cgroup_memory_ledger_bytes{cgroup=\"")) {
        let (cg, rest) = l.split_once('"').unwrap();
        let v: i64 = rest.rsplit(' ').next().unwrap().parse().unwrap();
        *sums.entry(cg.to_string()).or_default() += v;
    }
    let charged: std::collections::BTreeMap<String, i64> = cgroups
        .iter()
        .map(|l| {
            let l = l.strip_prefix("memscope_cgroup_memory_bytes{cgroup=\"").unwrap();
            let (cg, rest) = l.split_once('"').unwrap();
            (cg.to_string(), rest.rsplit(' ').next().unwrap().parse().unwrap())
        })
        .collect();
    assert_eq!(sums, charged);
    for want in [
        // nginx.service: anon 60 MiB, file 30 MiB of which shmem 4, kernel 10, sock 1, current 100.
        "memscope_cgroup_memory_ledger_bytes{cgroup=\"/system.slice/nginx.service\",line=\"anon\"} 62914560",
        "memscope_cgroup_memory_ledger_bytes{cgroup=\"/system.slice/nginx.service\",line=\"page_cache\"} 27262976",
        "memscope_cgroup_memory_ledger_bytes{cgroup=\"/system.slice/nginx.service\",line=\"shmem\"} 4194304",
        "memscope_cgroup_memory_ledger_bytes{cgroup=\"/system.slice/nginx.service\",line=\"kernel\"} 10485760",
        "memscope_cgroup_memory_ledger_bytes{cgroup=\"/system.slice/nginx.service\",line=\"sock\"} 1048576",
        "memscope_cgroup_memory_ledger_bytes{cgroup=\"/system.slice/nginx.service\",line=\"remainder\"} -1048576",
        // init.scope 4 MiB + user.slice 20 MiB + idle.service 0 + sshd.service 3 MiB.
        "memscope_cgroup_memory_ledger_bytes{cgroup=\"other\",line=\"anon\"} 28311552",
        // 100 MiB − inactive_file 15 MiB.
        "memscope_cgroup_memory_working_set_bytes{cgroup=\"/system.slice/nginx.service\"} 89128960",
    ] {
        assert!(r.body.contains(&format!("\n{want}\n")), "{want} missing from:\n{}", r.body);
    }
}

#[test]
fn landing_page_links_to_metrics_and_unknown_paths_and_methods_are_refused() {
    let s = Server::start(&[]);
    let r = get(s.addr, "/", "");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("href=\"metrics\""));
    assert!(r.body.contains("memscope_ledger_bytes"), "the page lists the metrics");
    assert!(r.body.contains("slab_unreclaimable"), "and the ledger categories");
    assert_eq!(get(s.addr, "/nope", "").status, 404);
    let post = exchange(
        connect(s.addr),
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    );
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    let head = exchange(connect(s.addr), b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn malformed_requests_get_4xx_and_the_exporter_keeps_serving() {
    let mut s = Server::start(&[]);
    // An idle client holding a connection open must not block anyone.
    let _idle = connect(s.addr);
    let long_header = format!("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(200_000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"GARBAGE\r\n\r\n".to_vec()),
        ("binary", vec![0u8, 1, 2, 255, 254, b'\r', b'\n', b'\r', b'\n']),
        ("bad version", b"GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n".to_vec()),
        ("header without colon", b"GET /metrics HTTP/1.1\r\nHost x\r\n\r\n".to_vec()),
        ("bad content-length", b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_vec()),
        ("space in method", b"G T /metrics HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("header too large", long_header.into_bytes()),
    ];
    for (what, req) in cases {
        let mut c = connect(s.addr);
        // The server may close before reading all of a huge request.
        let _ = c.write_all(&req);
        let mut raw = Vec::new();
        let _ = c.read_to_end(&mut raw);
        let r = parse_response(&raw);
        assert!(
            (400..500).contains(&r.status),
            "{what}: status {} ({:?})",
            r.status,
            String::from_utf8_lossy(&raw)
        );
        assert!(s.alive(), "{what}: the exporter died");
        assert_eq!(get(s.addr, "/metrics", "").status, 200, "{what}: the next scrape works");
    }
    // A client that goes away mid-request.
    let mut c = connect(s.addr);
    c.write_all(b"GET /metrics HTTP/1.1\r\nHo").unwrap();
    drop(c);
    assert_eq!(get(s.addr, "/metrics", "").status, 200);
}

fn collections_of(body: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix("memscope_collections_total "))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Scrape `n` times, a new connection each, sampling the exporter's RSS
/// every 100 scrapes; with `pause`, wait that long every 10 scrapes.
fn scrape_loop(s: &Server, n: usize, pause: Option<Duration>) -> Vec<u64> {
    let mut samples = Vec::new();
    for i in 0..n {
        if let Some(p) = pause
            && i % 10 == 0
        {
            std::thread::sleep(p);
        }
        let r = get(s.addr, "/metrics", "");
        assert_eq!(r.status, 200, "scrape {i}");
        assert!(r.body.contains("memscope_unaccounted_bytes"), "scrape {i}");
        if i % 100 == 99 {
            samples.push(s.rss_bytes());
        }
    }
    samples
}

/// A thousand scrapes served from the cache: the HTTP path alone (accept,
/// parse, respond, close) must not grow the exporter at all. Measured: 0
/// bytes of growth; tolerance 256 KiB, a quarter of a page per scrape.
#[test]
fn a_thousand_cached_scrapes_keep_rss_flat() {
    let s = Server::start(&["--min-interval", "1h"]);
    let warm = scrape_loop(&s, 200, None);
    let before = *warm.last().unwrap();
    let samples = scrape_loop(&s, 1000, None);
    let after = *samples.last().unwrap();
    eprintln!(
        "RSS over 1000 cached scrapes (KiB): {} then {:?}",
        before / 1024,
        samples.iter().map(|b| b / 1024).collect::<Vec<_>>()
    );
    assert!(after <= before + (256 << 10), "RSS grew from {before} to {after} bytes over 1000 scrapes");
}

/// A thousand scrapes with collections among them (each a new snapshot of
/// every process, slab cache and vmalloc area): a pause longer than
/// `--min-interval` every 10 scrapes makes the next one collect, so at
/// least 100 collections run however fast the machine is. The allocator's
/// high-water mark (one arena per thread that collected) settles within the
/// first 150 or so collections and then moves up and down by about 1 MiB
/// (measured with descriptors and cgroups in each collection: 17.8 MiB at
/// start, 20.3 MiB after 150 collections, 19.3 to 21.1 MiB from there to
/// 1,615 collections; 1.1 MiB between the halves' peaks once with three
/// builds running beside it), so the test asks for no trend: the second
/// half's peak at most 2 MiB above the first half's, and the end at most
/// 3 MiB above the warm start. Leaking one snapshot per collection (hundreds
/// of KiB, over at least 100 collections) fails it.
#[test]
fn a_thousand_scrapes_with_collections_keep_rss_flat() {
    let s = Server::start(&["--min-interval", "20ms"]);
    let pause = Some(Duration::from_millis(25));
    let warm = scrape_loop(&s, 200, pause);
    let before = *warm.last().unwrap();
    let started = Instant::now();
    let samples = scrape_loop(&s, 1000, pause);
    let elapsed = started.elapsed();
    let collections = collections_of(&get(s.addr, "/metrics", "").body);
    let kib: Vec<u64> = samples.iter().map(|b| b / 1024).collect();
    eprintln!(
        "1000 scrapes in {elapsed:?}, {collections} collections; RSS {} KiB, then {kib:?}",
        before / 1024
    );
    assert!(collections >= 100, "collections ran among the scrapes ({collections})");
    let (first, second) = samples.split_at(samples.len() / 2);
    let peak = |v: &[u64]| v.iter().copied().max().unwrap();
    assert!(peak(second) <= peak(first) + (2 << 20), "RSS trends up: {kib:?} KiB");
    assert!(*samples.last().unwrap() <= before + (3 << 20), "RSS grew from {before}: {kib:?} KiB");
}

#[test]
fn min_interval_caches_and_concurrent_scrapes_share_one_collection() {
    let s = Server::start(&["--min-interval", "1h"]);
    let count = collections_of;
    let addr = s.addr;
    let bodies: Vec<String> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..8).map(|_| sc.spawn(move || get(addr, "/metrics", "").body)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for b in &bodies {
        assert_eq!(count(b), 1, "eight concurrent first scrapes, one collection");
    }
    assert_eq!(count(&get(addr, "/metrics", "").body), 1, "within --min-interval: cached");
}

// ---- TLS and basic auth.

struct Tls {
    dir: tempfile::TempDir,
    cert_der: rustls::pki_types::CertificateDer<'static>,
}

/// A self-signed certificate for 127.0.0.1 and a web config using it, with
/// the user `prometheus` / `s3cret` (bcrypt cost 4 to keep the test quick).
fn tls_setup(with_tls: bool, with_auth: bool) -> Tls {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.path().join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("tls.key"), key.serialize_pem()).unwrap();
    let mut yml = String::new();
    if with_tls {
        // Relative paths are relative to the config file.
        yml.push_str("tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n");
    }
    if with_auth {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        yml.push_str(&format!("basic_auth_users:\n  prometheus: '{hash}'\n"));
    }
    std::fs::write(dir.path().join("web.yml"), yml).unwrap();
    Tls { cert_der: cert.der().clone(), dir }
}

fn tls_client(trusted: Option<&rustls::pki_types::CertificateDer<'static>>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(c) = trusted {
        roots.add(c.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn tls_get(addr: SocketAddr, config: Arc<rustls::ClientConfig>, extra: &str) -> std::io::Result<Response> {
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut stream = rustls::StreamOwned::new(conn, connect(addr));
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n");
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Ok(_) => {}
        // The server may close without close_notify after the response.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e),
    }
    Ok(parse_response(&raw))
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Authorization: Basic {}\r\n",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[test]
fn tls_serves_trusting_clients_and_refuses_plain_http_and_untrusting_ones() {
    let t = tls_setup(true, false);
    let cfg = t.dir.path().join("web.yml");
    let s = Server::start(&["--web-config", cfg.to_str().unwrap()]);
    let r = tls_get(s.addr, tls_client(Some(&t.cert_der)), "").expect("TLS scrape");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("memscope_ledger_bytes"));
    assert!(tls_get(s.addr, tls_client(None), "").is_err(), "a client that does not trust the cert fails");
    let plain = get(s.addr, "/metrics", "");
    assert_ne!(plain.status, 200, "plain HTTP on the TLS port gets no metrics");
    assert_eq!(tls_get(s.addr, tls_client(Some(&t.cert_der)), "").unwrap().status, 200, "still serving");
}

#[test]
fn basic_auth_accepts_the_right_password_and_refuses_the_rest() {
    let t = tls_setup(true, true);
    let cfg = t.dir.path().join("web.yml");
    let s = Server::start(&["--web-config", cfg.to_str().unwrap()]);
    let client = tls_client(Some(&t.cert_der));
    let ok = tls_get(s.addr, client.clone(), &basic("prometheus", "s3cret")).unwrap();
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains("memscope_unaccounted_bytes"));
    for (what, extra) in [
        ("no credentials", String::new()),
        ("wrong password", basic("prometheus", "wrong")),
        ("unknown user", basic("root", "s3cret")),
        ("not basic", "Authorization: Bearer s3cret\r\n".to_string()),
    ] {
        let r = tls_get(s.addr, client.clone(), &extra).unwrap();
        assert_eq!(r.status, 401, "{what}");
        assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"memscope\""), "{what}");
        assert!(!r.body.contains("memscope_"), "{what}: no metrics leak");
    }
    // The landing page is behind the password too.
    let t2 = tls_setup(false, true);
    let s2 = Server::start(&["--web-config", t2.dir.path().join("web.yml").to_str().unwrap()]);
    assert_eq!(get(s2.addr, "/", "").status, 401);
    assert_eq!(get(s2.addr, "/metrics", &basic("prometheus", "s3cret")).status, 200);
}

/// bcrypt reads 72 bytes of a password: one whose first 72 bytes are right
/// and that goes on is refused, not truncated into a match.
#[test]
fn a_password_longer_than_72_bytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("web.yml");
    let password = "p".repeat(72);
    let hash = bcrypt::hash(&password, 4).unwrap();
    std::fs::write(&cfg, format!("basic_auth_users:\n  prometheus: '{hash}'\n")).unwrap();
    let s = Server::start(&["--web-config", cfg.to_str().unwrap()]);
    assert_eq!(get(s.addr, "/metrics", &basic("prometheus", &password)).status, 200);
    let longer = format!("{password}and-then-anything");
    assert_eq!(get(s.addr, "/metrics", &basic("prometheus", &longer)).status, 401);
}

/// Beyond loopback without a web config, the exporter warns and says how to
/// add TLS and passwords. The address is TEST-NET-1 (RFC 5737), on no
/// interface here: the bind fails, so nothing is exposed, but the warning
/// comes before it. On loopback, no warning.
#[test]
fn listening_beyond_loopback_without_a_web_config_warns_how_to_add_tls_and_passwords() {
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["serve", "--listen", "192.0.2.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the bind fails");
    let err = String::from_utf8_lossy(&out.stderr);
    let warning = err.lines().next().unwrap_or("");
    assert!(
        warning.starts_with("memscope serve: warning: 192.0.2.1:0 is reachable from other hosts"),
        "{err}"
    );
    for needle in ["--web-config", "tls_server_config", "basic_auth_users", "127.0.0.1"] {
        assert!(warning.contains(needle), "{needle}: {err}");
    }
    // Passwords without TLS: said too.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("web.yml");
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(&cfg, format!("basic_auth_users:\n  prometheus: '{hash}'\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["serve", "--listen", "192.0.2.1:0", "--web-config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning") && err.contains("in clear"), "{err}");
    // Loopback: the first line is the address.
    let mut child = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("memscope serve: listening on http://127.0.0.1:"), "{line}");
}

#[test]
fn an_invalid_web_config_stops_the_exporter_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("web.yml");
    std::fs::write(&cfg, "basic_auth_users:\n  alice: plaintext\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["serve", "--listen", "127.0.0.1:0", "--web-config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("alice") && err.contains("bcrypt"), "{err}");
}

/// The shipped systemd unit passes `systemd-analyze verify`, and its
/// ExecStart command line is one memscope accepts.
#[test]
fn the_systemd_unit_verifies_and_its_command_line_starts() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist/memscope-serve.service"),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_memscope");
    let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("ExecStart");
    let args: Vec<&str> = exec.split_whitespace().skip(1).collect();
    assert_eq!(args[0], "serve");
    // The same command line on an ephemeral port.
    let args: Vec<String> = args[1..].iter().map(|a| a.replace("127.0.0.1:9799", "127.0.0.1:0")).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let s = Server::start_with(&args);
    assert_eq!(get(s.addr, "/metrics", "").status, 200);

    assert!(
        Command::new("systemd-analyze").arg("--version").output().is_ok(),
        "systemd-analyze is not installed: run scripts/install-test-deps"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memscope-serve.service");
    std::fs::write(&path, unit.replace("/usr/bin/memscope", bin)).unwrap();
    let out = Command::new("systemd-analyze").arg("verify").arg(&path).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    // The man page is only there once installed.
    let problems: Vec<&str> = said.lines().filter(|l| !l.contains("man memscope")).collect();
    assert!(problems.is_empty(), "systemd-analyze verify: {said}");
}
