//! Connections: how many are open, which one makes room for a new client,
//! and the deadlines each one lives under.
//!
//! ```text
//!  accept ─▶ Table::make_room ── full? ─▶ close the connection that has waited
//!               │                         longest on its client (a half-sent
//!               │                         request, an unread response, an idle
//!               │                         keep-alive); none? wait for one
//!               ▼
//!  Conn: Reading ─request parsed─▶ Handling ─answered─▶ Writing ─flushed─▶ Reading …
//!        waits on its client          the server works      waits on its client only
//!        since the phase began        (never closed to      while the client does not
//!        (trickled bytes do not        make room)           take the response (write
//!        make it younger)                                    pending), since it stopped;
//!                                                            done within write_timeout
//! ```
//!
//! A connection costs an honest client nothing while it waits for the
//! server, and costs a hostile one its slot as soon as someone else needs
//! it: slow readers, half-sent requests (slowloris) and idle connections
//! cannot keep a scrape out, whatever their number, because the oldest of
//! them goes first. Limiting connections per address would not help: the
//! attacker and Prometheus may share one (a NAT, a proxy, loopback).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tokio::time::{Instant, Sleep};

/// The bounds every connection lives under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once. When one more client arrives, the
    /// connection that has waited longest on its client is closed to make
    /// room; only when every open connection is being answered does the
    /// newcomer wait (in the kernel's accept queue).
    pub max_connections: usize,
    /// How long a client may take to send a request's headers (also how long
    /// a kept-alive connection may stay idle).
    pub header_timeout: Duration,
    /// How long writing one response may take, from the moment it is ready.
    pub write_timeout: Duration,
    /// How long a connection may stay open at all; then it is closed after
    /// the response in progress.
    pub lifetime: Duration,
    /// Requests answered on one connection; the last one says
    /// `Connection: close`.
    pub max_requests: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 16,
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            lifetime: Duration::from_secs(120),
            max_requests: 100,
        }
    }
}

/// One connection's state, shared by its task, its I/O and the table.
#[derive(Debug)]
pub(crate) struct Conn {
    times: Mutex<Times>,
    write_timeout: Duration,
    /// The table's: told when this connection starts waiting on its client.
    changed: Arc<Notify>,
}

#[derive(Debug, Default)]
struct Times {
    phase: Phase,
    /// When writing the current response must be done by.
    write_deadline: Option<Instant>,
}

/// Where a connection is, and since when it waits on its client.
#[derive(Debug, Default, Clone, Copy)]
enum Phase {
    /// Accepted, its task not yet run.
    #[default]
    New,
    /// Waiting for (the rest of) a request, since the task first ran or the
    /// last response was written. Trickling bytes does not make it younger.
    Reading { since: Instant },
    /// A request is being answered: the server works.
    Handling,
    /// Writing a response; `stalled_since` when the client stopped taking
    /// it (a write pending since then), `None` while it makes progress.
    Writing { stalled_since: Option<Instant> },
}

impl Conn {
    fn new(write_timeout: Duration, changed: Arc<Notify>) -> Conn {
        Conn { times: Mutex::new(Times::default()), write_timeout, changed }
    }

    fn times(&self) -> std::sync::MutexGuard<'_, Times> {
        // The lock only guards plain assignments: a poisoned one is still consistent.
        self.times.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connection's task runs: from now on it waits on its client.
    pub(crate) fn started(&self) {
        self.times().phase = Phase::Reading { since: Instant::now() };
        self.changed.notify_one();
    }

    /// A request was parsed: the server works for this connection.
    pub(crate) fn request_started(&self) {
        let mut t = self.times();
        t.phase = Phase::Handling;
        t.write_deadline = None;
    }

    /// The response is ready: it must reach the kernel within the write timeout.
    pub(crate) fn request_done(&self) {
        let mut t = self.times();
        t.phase = Phase::Writing { stalled_since: None };
        t.write_deadline = Some(Instant::now() + self.write_timeout);
    }

    /// Since when the connection waits on its client, if it does: how long
    /// it has kept its slot for nothing.
    fn waiting_since(&self) -> Option<Instant> {
        match self.times().phase {
            Phase::Reading { since } => Some(since),
            Phase::Writing { stalled_since } => stalled_since,
            Phase::New | Phase::Handling => None,
        }
    }

    fn write_deadline(&self) -> Option<Instant> {
        self.times().write_deadline
    }

    /// A write is pending: the client does not take the response.
    fn write_stalled(&self) {
        let mut t = self.times();
        if let Phase::Writing { stalled_since: None } = t.phase {
            t.phase = Phase::Writing { stalled_since: Some(Instant::now()) };
            drop(t);
            self.changed.notify_one();
        }
    }

    /// Bytes went out: the client takes the response.
    fn write_progressed(&self) {
        let mut t = self.times();
        if let Phase::Writing { stalled_since: Some(_) } = t.phase {
            t.phase = Phase::Writing { stalled_since: None };
        }
    }

    /// The stream was flushed with nothing left to write: the response is
    /// out, and the connection waits for the next request.
    fn written(&self) {
        let mut t = self.times();
        t.write_deadline = None;
        if let Phase::Writing { .. } = t.phase {
            t.phase = Phase::Reading { since: Instant::now() };
            drop(t);
            self.changed.notify_one();
        }
    }
}

/// The open connections.
pub(crate) struct Table {
    max: usize,
    write_timeout: Duration,
    inner: Mutex<Inner>,
    /// Signalled when a slot frees or a connection starts waiting on its client.
    changed: Arc<Notify>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    open: HashMap<u64, Entry>,
}

struct Entry {
    conn: Arc<Conn>,
    abort: Option<AbortHandle>,
}

impl Table {
    pub(crate) fn new(limits: &Limits) -> Table {
        Table {
            max: limits.max_connections.max(1),
            write_timeout: limits.write_timeout,
            inner: Mutex::new(Inner::default()),
            changed: Arc::new(Notify::new()),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait until one more connection may open, closing the one that has
    /// waited longest on its client if the table is full.
    pub(crate) async fn make_room(&self) {
        loop {
            if self.try_make_room() {
                return;
            }
            // Every connection is being answered: wait for one to finish
            // or to start waiting on its client.
            self.changed.notified().await;
        }
    }

    fn try_make_room(&self) -> bool {
        let mut inner = self.inner();
        if inner.open.len() < self.max {
            return true;
        }
        let oldest = inner
            .open
            .iter()
            .filter_map(|(id, e)| e.conn.waiting_since().map(|t| (t, *id)))
            .min()
            .map(|(_, id)| id);
        let Some(id) = oldest else { return false };
        if let Some(e) = inner.open.remove(&id)
            && let Some(abort) = e.abort
        {
            abort.abort();
        }
        true
    }

    /// Register a new connection; it leaves the table when the returned
    /// guard drops (its task ends) or when it is closed to make room.
    pub(crate) fn open(self: &Arc<Table>) -> (Arc<Conn>, Registered) {
        let conn = Arc::new(Conn::new(self.write_timeout, self.changed.clone()));
        let mut inner = self.inner();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.open.insert(id, Entry { conn: conn.clone(), abort: None });
        (conn, Registered { table: self.clone(), id })
    }

    /// How to close connection `id`'s task to make room.
    pub(crate) fn set_abort(&self, id: u64, abort: AbortHandle) {
        if let Some(e) = self.inner().open.get_mut(&id) {
            e.abort = Some(abort);
        }
    }
}

/// A connection's place in the [`Table`].
pub(crate) struct Registered {
    table: Arc<Table>,
    id: u64,
}

impl Registered {
    /// The connection's number in the table.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.table.inner().open.remove(&self.id);
        self.table.changed.notify_one();
    }
}

/// A stream whose writes fail once the current response's write deadline
/// ([`Conn::request_done`]) has passed: a client that does not read cannot
/// keep its connection by leaving the server's writes pending.
pub(crate) struct Watched<S> {
    io: S,
    conn: Arc<Conn>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S> Watched<S> {
    pub(crate) fn new(io: S, conn: Arc<Conn>) -> Watched<S> {
        Watched { io, conn, timer: None }
    }

    /// `Pending` from a write or flush: fail it if the deadline has passed,
    /// else make sure the task wakes at the deadline.
    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        self.conn.write_stalled();
        let Some(deadline) = self.conn.write_deadline() else { return Poll::Pending };
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "write deadline passed")))
    }

    fn check<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match r {
            Poll::Pending => self.pending(cx),
            ready => ready,
        }
    }

    fn check_written(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = r
            && n > 0
        {
            self.conn.write_progressed();
        }
        self.check(cx, r)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        this.check_written(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.check_written(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // hyper flushes its stream once its own buffer is empty: the
        // response has then been handed to the kernel whole.
        let r = Pin::new(&mut this.io).poll_flush(cx);
        if let Poll::Ready(Ok(())) = r {
            this.conn.written();
            this.timer = None;
        }
        this.check(cx, r)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_shutdown(cx);
        this.check(cx, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize) -> Limits {
        Limits { max_connections: max, ..Limits::default() }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
    }

    /// Distinct instants for `started` calls made one after the other.
    fn tick() {
        std::thread::sleep(Duration::from_millis(2));
    }

    #[test]
    fn a_full_table_closes_the_connection_waiting_longest_on_its_client() {
        runtime().block_on(async {
            let table = Arc::new(Table::new(&limits(3)));
            let (a, ra) = table.open();
            let (b, rb) = table.open();
            let (c, rc) = table.open();
            let tasks: Vec<_> = [&ra, &rb, &rc]
                .iter()
                .map(|r| {
                    let h = tokio::spawn(std::future::pending::<()>());
                    table.set_abort(r.id(), h.abort_handle());
                    h
                })
                .collect();
            b.started();
            tick();
            a.started();
            tick();
            c.started();
            c.request_started();
            assert!(table.try_make_room(), "b has waited longest");
            tokio::task::yield_now().await;
            assert!(tasks[1].is_finished() && !tasks[0].is_finished() && !tasks[2].is_finished());
            // b's slot goes to a newcomer that has not run yet: a goes next,
            // c (being answered) and the newcomer never.
            let (_d, _rd) = table.open();
            assert!(table.try_make_room());
            tokio::task::yield_now().await;
            assert!(tasks[0].is_finished() && !tasks[2].is_finished());
            let (_e, _re) = table.open();
            assert!(!table.try_make_room(), "nobody waits on a client: the newcomer waits");
            c.request_done();
            assert!(!table.try_make_room(), "c's response goes out: not closable");
            c.write_stalled();
            c.write_progressed();
            assert!(!table.try_make_room(), "c's client takes the response");
            c.write_stalled();
            assert!(table.try_make_room(), "c's client stopped reading it");
            tokio::task::yield_now().await;
            assert!(tasks[2].is_finished());
            drop((ra, rb, rc));
            for t in tasks {
                t.abort();
            }
        });
    }

    #[test]
    fn a_slot_frees_when_its_connection_ends() {
        let table = Arc::new(Table::new(&limits(1)));
        let (_a, ra) = table.open();
        assert!(!table.try_make_room(), "a has not run yet: not closable");
        drop(ra);
        assert!(table.try_make_room());
        assert!(table.inner().open.is_empty());
    }
}
