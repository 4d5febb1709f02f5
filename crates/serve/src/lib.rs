//! `memscope serve`: a Prometheus exporter of the memory ledger.
//!
//! ```text
//!  TcpListener ─accept─▶ [TLS] ─▶ hyper http1 ─▶ route
//!                                                 ├─ /        landing page (metrics and categories, from their tables)
//!                                                 └─ /metrics ─▶ Scrapes::get ──stale?──▶ collect (blocking thread,
//!                                                                  │ single flight)        budgeted) + render
//!                                                                  └─ fresh: the cached exposition
//! ```
//!
//! - Collection is cached for `min_interval`: scrapes within it, concurrent
//!   or not, share one snapshot, and while one collection runs the others
//!   wait for it instead of starting their own ([`Scrapes`]).
//! - The collection itself is the caller's ([`Options::collect`]), with its
//!   time budget for `smaps_rollup`; this crate never reads kernel files.
//! - Every connection is bounded ([`Limits`], [`conn`]): headers within a
//!   timeout, each response written within a deadline, a total lifetime and
//!   a number of requests. When all [`Limits::max_connections`] are open and
//!   another client arrives, the connection that has waited longest on its
//!   client (a half-sent request, an unread response, an idle keep-alive) is
//!   closed to make room, so slow or stalled clients cannot keep a scrape
//!   out. Malformed requests get the 4xx hyper gives them while the server
//!   goes on.
//! - TLS and basic auth come from a Prometheus web-config file ([`webconfig`]);
//!   checked credentials are remembered, so a flood of wrong passwords cannot
//!   delay a scrape with the right one ([`webconfig::BasicAuth`]).

pub mod conn;
pub mod webconfig;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use memscope_analysis::ledger::CATEGORIES;
pub use memscope_export::metrics::Collected;
use memscope_export::metrics::{self, ExporterStats, Format, MetricsOptions};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

pub use conn::Limits;
pub use webconfig::{ConfigError, Verdict, WebConfig};

/// How long a TLS handshake may take.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads one snapshot (blocking; run on a blocking thread). Descriptors and
/// memory cgroups are exported when the snapshot holds them, the cgroups'
/// ledger lines when the collection read their files
/// ([`Collected::cgroup_stats`]).
pub type CollectFn = Arc<dyn Fn() -> Collected + Send + Sync>;

/// What to serve and how.
#[derive(Clone)]
pub struct Options {
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// Scrapes within this time of the last collection get its result.
    pub min_interval: Duration,
    /// Series bounds.
    pub metrics: MetricsOptions,
    /// TLS and basic auth.
    pub web: WebConfig,
    /// Bounds on connections.
    pub limits: Limits,
    /// The collection.
    pub collect: CollectFn,
}

/// Why the exporter stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

/// Serve until the process is stopped. `ready` is called with the bound
/// address once the socket listens (port 0 becomes the real port).
pub fn serve(opts: Options, ready: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .max_blocking_threads(4)
        .build()
        .map_err(ServeError::Runtime)?;
    rt.block_on(async move {
        let listener = TcpListener::bind(opts.listen)
            .await
            .map_err(|source| ServeError::Bind { addr: opts.listen, source })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr: opts.listen, source })?;
        ready(addr);
        run(listener, opts, std::future::pending()).await;
        Ok(())
    })
}

/// Serve on `listener` until `shutdown` completes (then stop accepting and
/// return; open connections end with the runtime).
pub async fn run(listener: TcpListener, opts: Options, shutdown: impl Future<Output = ()>) {
    let mut shutdown = std::pin::pin!(shutdown);
    let state = Arc::new(State {
        scrapes: Scrapes::new(opts.collect.clone(), opts.min_interval, opts.metrics),
        web: opts.web.clone(),
        limits: opts.limits,
    });
    let table = Arc::new(conn::Table::new(&opts.limits));
    loop {
        // Make room before accepting: a full table closes the connection
        // that has waited longest on its client; only when every one is
        // being answered do newcomers wait in the listen backlog.
        if until(table.make_room(), shutdown.as_mut()).await.is_none() {
            break;
        }
        let stream = match until(listener.accept(), shutdown.as_mut()).await {
            None => break,
            Some(Ok((s, _))) => s,
            Some(Err(e)) => {
                // EMFILE/ENFILE and friends: back off instead of spinning.
                eprintln!("memscope serve: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (conn, registered) = table.open();
        let id = registered.id();
        let state = state.clone();
        let task = tokio::spawn(async move {
            // Waiting on the client from the task's first run: a connection
            // accepted but not yet run is never the one closed to make room.
            conn.started();
            connection(stream, conn, state).await;
            drop(registered);
        });
        table.set_abort(id, task.abort_handle());
    }
}

/// `fut`'s output, or `None` if `stop` completes first.
async fn until<F: Future>(fut: F, mut stop: Pin<&mut impl Future<Output = ()>>) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        if stop.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        fut.as_mut().poll(cx).map(Some)
    })
    .await
}

/// A warning for listening on `listen` with `web`, or `None` when nothing
/// is exposed: any address but loopback without TLS or passwords lets
/// whoever reaches the port read the host's memory figures (processes,
/// their commands, cgroups), and basic auth without TLS sends passwords in
/// clear.
pub fn exposure_warning(listen: SocketAddr, web: &WebConfig) -> Option<String> {
    if listen.ip().is_loopback() {
        return None;
    }
    match (web.tls.is_some(), web.auth.is_some()) {
        (false, false) => Some(format!(
            "{listen} is reachable from other hosts, and anyone who reaches it reads this host's \
             memory figures (processes, cgroups): add --web-config FILE, a Prometheus web config \
             with tls_server_config (cert_file, key_file) and basic_auth_users (bcrypt hashes), \
             or listen on 127.0.0.1"
        )),
        (false, true) => Some(format!(
            "{listen} is reachable from other hosts and the web config has no tls_server_config: \
             basic-auth passwords cross the network in clear; add tls_server_config (cert_file, key_file)"
        )),
        (true, _) => None,
    }
}

struct State {
    scrapes: Scrapes,
    web: WebConfig,
    limits: Limits,
}

async fn connection(stream: TcpStream, conn: Arc<conn::Conn>, state: Arc<State>) {
    let deadline = tokio::time::Instant::now() + state.limits.lifetime;
    let io = conn::Watched::new(stream, conn.clone());
    match state.web.tls.clone() {
        None => http(io, conn, state, deadline).await,
        Some(tls) => {
            if let Ok(Ok(s)) = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.accept(io)).await {
                http(s, conn, state, deadline).await;
            }
        }
    }
}

/// HTTP/1.1 on one connection, until the client or hyper closes it, or its
/// lifetime ends (then after the response in progress).
async fn http<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    conn: Arc<conn::Conn>,
    state: Arc<State>,
    deadline: tokio::time::Instant,
) {
    let limits = state.limits;
    let served = Arc::new(AtomicU32::new(0));
    let service = hyper::service::service_fn(move |req| {
        let (state, conn, served) = (state.clone(), conn.clone(), served.clone());
        async move {
            conn.request_started();
            let mut r = handle(req, &state).await;
            // The last request a connection may make: hyper closes it after.
            if served.fetch_add(1, Ordering::Relaxed) + 1 >= limits.max_requests {
                r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            conn.request_done();
            Ok::<_, Infallible>(r)
        }
    });
    let http = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(stream), service);
    let mut http = std::pin::pin!(http);
    let lifetime_over = {
        let mut end = std::pin::pin!(tokio::time::sleep_until(deadline));
        std::future::poll_fn(|cx| {
            if http.as_mut().poll(cx).is_ready() {
                return Poll::Ready(false);
            }
            end.as_mut().poll(cx).map(|()| true)
        })
        .await
    };
    if lifetime_over {
        http.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(limits.write_timeout, http).await;
    }
}

type Body = Full<Bytes>;

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

async fn handle(req: Request<Incoming>, state: &State) -> Response<Body> {
    if let Some(auth) = &state.web.auth {
        let value = req.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
        match auth.check(value).await {
            Verdict::Allowed => {}
            Verdict::Refused => {
                let mut r = respond(StatusCode::UNAUTHORIZED, "text/plain; charset=utf-8", "Unauthorized\n");
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"memscope\""));
                return r;
            }
            Verdict::Busy => {
                let mut r = respond(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain; charset=utf-8",
                    "Too many new credentials are being checked; retry in a second.\n",
                );
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return r;
            }
        }
    }
    let path = req.uri().path();
    if path != "/" && path != "/metrics" {
        return respond(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "Not found: try /metrics\n");
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r =
            respond(StatusCode::METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", "Method not allowed\n");
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let head = req.method() == Method::HEAD;
    let mut r = if path == "/" {
        respond(StatusCode::OK, "text/html; charset=utf-8", landing_page())
    } else {
        let format = Format::from_accept(req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()));
        match state.scrapes.get().await {
            Some(e) => respond(StatusCode::OK, format.content_type(), e.body(format)),
            None => respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                "The collection failed; see the exporter's standard error.\n",
            ),
        }
    };
    if head {
        *r.body_mut() = Full::new(Bytes::new());
    }
    r
}

/// One collection's exposition, in both formats.
#[derive(Debug)]
pub struct Exposition {
    /// When the collection finished.
    pub at: Instant,
    /// OpenMetrics text.
    pub openmetrics: Bytes,
    /// Classic text format 0.0.4.
    pub text: Bytes,
}

impl Exposition {
    /// The body in `format`.
    pub fn body(&self, format: Format) -> Bytes {
        match format {
            Format::OpenMetrics => self.openmetrics.clone(),
            Format::Text004 => self.text.clone(),
        }
    }
}

/// The scrape cache: at most one collection per `min_interval`, and one at a
/// time (single flight: scrapes that arrive while it runs wait for its result).
pub struct Scrapes {
    collect: CollectFn,
    min_interval: Duration,
    metrics: MetricsOptions,
    last: tokio::sync::Mutex<Option<Arc<Exposition>>>,
    collections: AtomicU64,
}

impl Scrapes {
    /// A cache around `collect`.
    pub fn new(collect: CollectFn, min_interval: Duration, metrics: MetricsOptions) -> Scrapes {
        Scrapes {
            collect,
            min_interval,
            metrics,
            last: tokio::sync::Mutex::new(None),
            collections: AtomicU64::new(0),
        }
    }

    /// The current exposition: the cached one while fresh, else a new
    /// collection. `None` if the collection panicked.
    pub async fn get(&self) -> Option<Arc<Exposition>> {
        // Holding the lock across the collection is the single flight.
        let mut last = self.last.lock().await;
        if let Some(e) = last.as_ref()
            && e.at.elapsed() < self.min_interval
        {
            return Some(e.clone());
        }
        let collect = self.collect.clone();
        let opts = self.metrics;
        let n = self.collections.load(Ordering::Relaxed) + 1;
        let made = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let collected = collect();
            let stats = ExporterStats { collections: n, collection_seconds: started.elapsed().as_secs_f64() };
            let om = metrics::render_collected(&collected, opts, stats);
            let text = metrics::to_text_004(&om);
            Exposition { at: Instant::now(), openmetrics: Bytes::from(om), text: Bytes::from(text) }
        })
        .await;
        match made {
            Ok(e) => {
                self.collections.store(n, Ordering::Relaxed);
                let e = Arc::new(e);
                *last = Some(e.clone());
                Some(e)
            }
            Err(err) => {
                eprintln!("memscope serve: collection failed: {err}");
                None
            }
        }
    }

    /// Collections done so far.
    pub fn collections(&self) -> u64 {
        self.collections.load(Ordering::Relaxed)
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The `/` page: where the metrics are, what each means, and the ledger
/// categories their `category` label takes, from the tables that drive them.
pub fn landing_page() -> String {
    let mut p = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>memscope exporter</title></head><body>\n\
         <h1>memscope exporter</h1>\n<p>Where did the memory go: the memory ledger of this host, \
         for Prometheus. Metrics: <a href=\"metrics\">/metrics</a>.</p>\n<h2>Metrics</h2>\n<table>\n",
    );
    for m in metrics::all_metrics() {
        let labels = if m.labels.is_empty() { String::new() } else { format!("{{{}}}", m.labels.join(", ")) };
        p.push_str(&format!(
            "<tr><td><code>{}{}</code></td><td>{}</td><td>{}</td></tr>\n",
            m.name,
            html_escape(&labels),
            m.kind.name(),
            html_escape(m.help)
        ));
    }
    p.push_str("</table>\n<h2>Ledger categories</h2>\n<table>\n");
    for c in CATEGORIES {
        let key = match c.parent {
            Some(parent) => format!("{} (part of {parent})", c.key),
            None => c.key.to_string(),
        };
        p.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td></tr>\n",
            html_escape(&key),
            html_escape(c.help)
        ));
    }
    p.push_str("</table>\n</body></html>\n");
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_or_tls_goes_without_a_warning() {
        let none = WebConfig::default();
        for addr in ["0.0.0.0:9799", "[::]:9799", "10.1.2.3:9799", "[2001:db8::1]:9799"] {
            let w = exposure_warning(addr.parse().unwrap(), &none).unwrap_or_default();
            assert!(w.contains("--web-config") && w.contains("tls_server_config"), "{addr}: {w}");
        }
        for addr in ["127.0.0.1:9799", "127.0.0.2:9799", "[::1]:9799"] {
            assert_eq!(exposure_warning(addr.parse().unwrap(), &none), None, "{addr}");
        }
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth_only =
            WebConfig::parse(&format!("basic_auth_users:\n  p: '{hash}'\n"), std::path::Path::new("w.yml"))
                .unwrap();
        let w = exposure_warning("0.0.0.0:9799".parse().unwrap(), &auth_only).unwrap_or_default();
        assert!(w.contains("in clear"), "{w}");
    }
}
