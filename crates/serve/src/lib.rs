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
//! - Connections are bounded ([`Options::max_connections`]), request headers
//!   must arrive within [`HEADER_TIMEOUT`], and malformed requests get the 4xx
//!   hyper gives them while the server goes on.
//! - TLS and basic auth come from a Prometheus web-config file ([`webconfig`]).

pub mod webconfig;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use memscope_analysis::ledger::CATEGORIES;
use memscope_export::metrics::{self, ExporterStats, Format, MetricsOptions};
use memscope_model::Snapshot;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

pub use webconfig::{ConfigError, WebConfig};

/// How long a client may take to send a request's headers (also the idle
/// time of a kept-alive connection).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a TLS handshake may take.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads one snapshot (blocking; run on a blocking thread). Descriptors and
/// memory cgroups are exported when the snapshot holds them.
pub type CollectFn = Arc<dyn Fn() -> Snapshot + Send + Sync>;

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
    /// Connections served at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
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
        let state = Arc::new(State {
            scrapes: Scrapes::new(opts.collect.clone(), opts.min_interval, opts.metrics),
            web: opts.web.clone(),
        });
        let slots = Arc::new(tokio::sync::Semaphore::new(opts.max_connections.max(1)));
        loop {
            // Wait for a free slot before accepting: excess clients wait in
            // the listen backlog instead of costing memory here.
            let Ok(permit) = slots.clone().acquire_owned().await else { break };
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    // EMFILE/ENFILE and friends: back off instead of spinning.
                    eprintln!("memscope serve: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            tokio::spawn(async move {
                match state.web.tls.clone() {
                    None => serve_connection(stream, state).await,
                    Some(tls) => {
                        if let Ok(Ok(s)) =
                            tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.accept(stream)).await
                        {
                            serve_connection(s, state).await;
                        }
                    }
                }
                drop(permit);
            });
        }
        Ok(())
    })
}

struct State {
    scrapes: Scrapes,
    web: WebConfig,
}

async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(stream: S, state: Arc<State>) {
    let service = hyper::service::service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle(req, &state).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(stream), service)
        .await;
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
        let header =
            req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        let auth = auth.clone();
        let ok = tokio::task::spawn_blocking(move || auth.check(header.as_deref())).await.unwrap_or(false);
        if !ok {
            let mut r = respond(StatusCode::UNAUTHORIZED, "text/plain; charset=utf-8", "Unauthorized\n");
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"memscope\""));
            return r;
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
            let snap = collect();
            let stats = ExporterStats { collections: n, collection_seconds: started.elapsed().as_secs_f64() };
            let om = metrics::render(&snap, opts, stats);
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
