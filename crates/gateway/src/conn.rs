//! Client connections: the accept loop's guards against slow and idle clients, which
//! `axum::serve` does not have.
//!
//! - **Connection cap.** At most `max_connections` are served at once; one more is answered
//!   `503 unavailable` (with `Retry-After`) and closed at once, rather than left in the backlog.
//! - **Header read timeout.** From the first byte of a request, its headers must arrive within
//!   `header_read_timeout_ms`; a client that trickles them (one byte a second, "slowloris") is
//!   answered `408 request_timeout` and disconnected. A connection that sends nothing within
//!   the same time of being accepted is closed (it would otherwise hold one of the
//!   `max_connections` for the idle timeout).
//! - **Idle timeout.** A keep-alive connection with no request under way is closed after
//!   `idle_timeout_ms` in which nothing was written to it either: an answer still being
//!   written counts as activity while the client reads it, and a client that stops reading
//!   its answer for that long is cut off. (The body read deadline is the handlers': see
//!   `http/body.rs`.)
//! - **hyper's own answers.** A request whose head hyper cannot take (over `max_header_bytes`
//!   or 100 fields: `431`; not HTTP/1.1: `400`; a target too long: `414`) is answered by hyper
//!   itself, with no body. [`Watched`] writes the gateway's answer in the API's error shape, of
//!   the same status (`400` for `414`, which has no code of its own), in its place.
//!
//! Each connection has a [`Watch`]: the connection's I/O ([`Watched`]) notes when a request's
//! first byte arrives, the service notes when a request is handed over and answered, and a
//! watchdog on a task beside the connection's expires it when a phase lasts too long. An expired
//! connection's next read writes the `408` (when headers were being read) and reports the end
//! of the stream, so hyper closes the connection cleanly. The same side task waits for the
//! gateway's shutdown and asks the connection to drain ([`Watch::draining`]), so the
//! connection's own task polls nothing but the connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Accepted; nothing has arrived yet.
    Fresh = 0,
    /// Waiting for a request (keep-alive).
    Idle = 1,
    /// A request's first bytes arrived; its headers are not complete.
    Head = 2,
    /// A request is being handled.
    Busy = 3,
}

/// The [`Watch`]'s state word: the phase in its low two bits, the expired flag in the next,
/// and above them a count of phase changes and writes (so the watchdog sees every change, even
/// one that came back to the same phase).
const PHASE_BITS: u64 = 0b11;
const EXPIRED: u64 = 0b100;
const COUNT_ONE: u64 = 0b1000;

fn phase_of(state: u64) -> Phase {
    match state & PHASE_BITS {
        0 => Phase::Fresh,
        1 => Phase::Idle,
        2 => Phase::Head,
        _ => Phase::Busy,
    }
}

/// The phase of one connection, shared by its I/O, its service and its side task.
///
/// Lock-free, and it reads no clock on a request's path: a phase change is one atomic update
/// of the state word, made several times a request. The watchdog times a phase from when it
/// first sees it.
#[derive(Debug)]
pub struct Watch {
    state: AtomicU64,
    /// Set by the side task when the gateway shuts down.
    drain: AtomicBool,
    /// The connection's task, to wake when it expires or must drain.
    task: AtomicWaker,
    header_timeout: Duration,
    idle_timeout: Duration,
}

impl Watch {
    /// A connection that has just been accepted.
    pub fn new(header_timeout: Duration, idle_timeout: Duration) -> Arc<Watch> {
        Arc::new(Watch {
            state: AtomicU64::new(Phase::Fresh as u64),
            drain: AtomicBool::new(false),
            task: AtomicWaker::new(),
            header_timeout,
            idle_timeout,
        })
    }

    fn phase(&self) -> Phase {
        phase_of(self.state.load(Ordering::Acquire))
    }

    /// The phase it expired in, once the watchdog has expired it.
    fn expired(&self) -> Option<Phase> {
        let state = self.state.load(Ordering::Acquire);
        (state & EXPIRED != 0).then(|| phase_of(state))
    }

    /// Moves to `to` when in one of `from` and not expired (an expired connection stays in
    /// the phase it expired in).
    fn set(&self, from: &[Phase], to: Phase) {
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                (state & EXPIRED == 0 && from.contains(&phase_of(state)))
                    .then(|| ((state & !PHASE_BITS) + COUNT_ONE) | to as u64)
            });
    }

    /// Bytes of an answer were written: the phase goes on, timed afresh.
    fn wrote(&self) {
        self.state.fetch_add(COUNT_ONE, Ordering::AcqRel);
    }

    /// A request's headers are complete and it is being handled.
    pub fn request_started(&self) {
        self.set(&[Phase::Fresh, Phase::Idle, Phase::Head], Phase::Busy);
    }

    /// The request's answer is ready; the connection waits for the next one.
    pub fn request_finished(&self) {
        self.set(&[Phase::Busy], Phase::Idle);
    }

    /// Registers the connection's task, to be woken when the connection expires or must
    /// drain; called on each poll of it, before the connection is polled.
    pub fn register(&self, waker: &Waker) {
        self.task.register(waker);
    }

    /// Whether the gateway is shutting down and the connection should finish its request in
    /// flight and close.
    pub fn draining(&self) -> bool {
        self.drain.load(Ordering::Acquire)
    }

    /// Asks the connection to drain (see [`Watch::draining`]) and wakes it.
    pub fn drain(&self) {
        self.drain.store(true, Ordering::Release);
        self.task.wake();
    }

    /// Runs until the connection has been in one phase too long, then marks it expired and
    /// wakes its task. Never returns while requests keep coming in time.
    ///
    /// Phase changes wake nothing (they happen several times a request, and waking for each
    /// would cost more than the check): the watchdog looks at the state every tick (a quarter
    /// of the shorter timeout, at least 10 ms), and times a phase from when it first sees it
    /// (or sees an answer's bytes written in it), so a limit is never enforced early, and late
    /// by at most a tick and the time the side task waits to run.
    pub async fn watchdog(&self) {
        let tick = (self.header_timeout.min(self.idle_timeout) / 4).max(Duration::from_millis(10));
        let mut seen = self.state.load(Ordering::Acquire);
        let mut seen_at = Instant::now();
        loop {
            let now = Instant::now();
            let state = self.state.load(Ordering::Acquire);
            if state != seen {
                seen = state;
                seen_at = now;
            }
            let limit = match phase_of(state) {
                Phase::Idle => Some(self.idle_timeout),
                Phase::Fresh | Phase::Head => Some(self.header_timeout),
                // A request being handled: the backend's own limits apply.
                Phase::Busy => None,
            };
            let deadline = match limit {
                Some(limit) if now >= seen_at + limit => {
                    let expired = self.state.compare_exchange(
                        state,
                        state | EXPIRED,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    );
                    if expired.is_ok() {
                        self.task.wake();
                        return;
                    }
                    // The phase changed just now: look again.
                    continue;
                }
                Some(limit) => (seen_at + limit).min(now + tick),
                None => now + tick,
            };
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// A client connection's socket, reporting to its [`Watch`].
#[derive(Debug)]
pub struct Watched {
    stream: TcpStream,
    watch: Arc<Watch>,
    /// Whether the `408` for headers that did not arrive in time was written.
    timeout_answered: bool,
    /// The `[server] max_header_bytes` (hyper's read buffer), for the `431`'s message.
    max_header_bytes: usize,
    /// The gateway's answer standing in for one of hyper's own, and how much of it is written;
    /// once set, whatever hyper writes is dropped (the connection ends after it).
    standing_in: Option<(Vec<u8>, usize)>,
    /// Where the answers given here are counted.
    metrics: Arc<crate::telemetry::Metrics>,
}

impl Watched {
    pub fn new(
        stream: TcpStream,
        watch: Arc<Watch>,
        max_header_bytes: usize,
        metrics: Arc<crate::telemetry::Metrics>,
    ) -> Self {
        Watched {
            stream,
            watch,
            timeout_answered: false,
            max_header_bytes,
            standing_in: None,
            metrics,
        }
    }

    /// Sees whether hyper is writing an answer of its own: one written while a request's head
    /// is being read (no handler has run for it), of an error status, without a content type
    /// (hyper's carry no body; every answer of the gateway's has one).
    fn stand_in_for(&mut self, first: &[u8]) {
        let error = first.starts_with(b"HTTP/1.1 4") || first.starts_with(b"HTTP/1.1 5");
        if !error || self.standing_in.is_some() || self.watch.phase() != Phase::Head {
            return;
        }
        if let Some((status, answer)) = stand_in(first, self.max_header_bytes) {
            self.metrics.connection(status);
            self.standing_in = Some((answer, 0));
        }
    }

    /// Writes the standing-in answer; `consumed` is what hyper is told was written.
    fn poll_stand_in(&mut self, cx: &mut Context<'_>, consumed: usize) -> Poll<io::Result<usize>> {
        let Some((answer, written)) = &mut self.standing_in else {
            return Poll::Ready(Ok(consumed));
        };
        while *written < answer.len() {
            match Pin::new(&mut self.stream).poll_write(cx, &answer[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(consumed))
    }
}

/// The gateway's answer in place of hyper's own answer `head` (see [`Watched`]), if it is one.
fn stand_in(head: &[u8], max_header_bytes: usize) -> Option<(u16, Vec<u8>)> {
    use crate::error::ErrorCode;
    let status = head.strip_prefix(b"HTTP/1.1 ")?.get(..3)?;
    let end = memchr::memmem::find(head, b"\r\n\r\n")?;
    if head[..end]
        .windows(b"\ncontent-type:".len())
        .any(|w| w.eq_ignore_ascii_case(b"\ncontent-type:"))
    {
        return None;
    }
    let (code, message) = match status {
        b"431" => (
            ErrorCode::HeadersTooLarge,
            format!(
                "the request headers are over the limit ({max_header_bytes} bytes, 100 fields)"
            ),
        ),
        b"414" => (
            ErrorCode::BadRequest,
            "the request target is too long".to_owned(),
        ),
        b"400" => (
            ErrorCode::BadRequest,
            "the request is not valid HTTP/1.1".to_owned(),
        ),
        _ => return None,
    };
    Some((code.status().as_u16(), raw_error(code, &message, None)))
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let expired = self.watch.expired();
        match expired {
            Some(Phase::Head) => {
                // Nothing of an answer has been written for this request: say why it ends
                // (with a request id of its own).
                if !std::mem::replace(&mut self.timeout_answered, true) {
                    self.metrics.connection(408);
                    let answer = raw_error(
                        crate::error::ErrorCode::RequestTimeout,
                        "the request headers did not arrive in time",
                        None,
                    );
                    let _ = self.stream.try_write(&answer);
                }
                return Poll::Ready(Ok(()));
            }
            Some(_) => return Poll::Ready(Ok(())),
            None => {}
        }
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.watch.set(&[Phase::Fresh, Phase::Idle], Phase::Head);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.stand_in_for(buf);
        if self.standing_in.is_some() {
            return self.poll_stand_in(cx, buf.len());
        }
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            self.stand_in_for(first);
        }
        if self.standing_in.is_some() {
            let consumed = bufs.iter().map(|b| b.len()).sum();
            return self.poll_stand_in(cx, consumed);
        }
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A whole HTTP/1.1 answer in the API's error shape, for the few cases where no handler runs:
/// headers that took too long (`408`), a connection over the cap (`503`), a head hyper refused.
pub fn raw_error(
    code: crate::error::ErrorCode,
    message: &str,
    retry_after: Option<u64>,
) -> Vec<u8> {
    let request_id = crate::http::new_request_id();
    let body = serde_json::json!({"error": {
        "code": code.as_str(),
        "message": message,
        "backend": null,
        "backendStatus": null,
        "requestId": &*request_id,
        "details": {},
    }})
    .to_string();
    let status = code.status();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: {request_id}\r\nconnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    if let Some(s) = retry_after {
        head.push_str(&format!("retry-after: {s}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watchdog_of(w: &Arc<Watch>) -> tokio::task::JoinHandle<()> {
        let w = w.clone();
        tokio::spawn(async move { w.watchdog().await })
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_still_being_written_keeps_an_idle_connection_open() {
        let w = Watch::new(Duration::from_secs(10), Duration::from_secs(1));
        w.request_started();
        w.request_finished();
        let dog = watchdog_of(&w);
        // A slow reader taking a long answer: some of it written every 0.6 s, for 6 s.
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(600)).await;
            w.wrote();
        }
        assert_eq!(w.expired(), None, "not idle while its answer is being read");
        // Then nothing is read, so nothing more is written: idle from the last write.
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert_eq!(w.expired(), None, "never early");
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(w.expired(), Some(Phase::Idle));
        dog.await.unwrap();
        // An expired connection stays expired.
        w.request_started();
        assert_eq!(w.expired(), Some(Phase::Idle));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_being_handled_never_expires_and_each_phase_is_timed_afresh() {
        let w = Watch::new(Duration::from_secs(1), Duration::from_secs(2));
        let dog = watchdog_of(&w);
        // Fresh for 0.8 s, then handled for a minute: the backend's limits apply, not these.
        tokio::time::sleep(Duration::from_millis(800)).await;
        w.request_started();
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(w.expired(), None);
        // Idle for 1.5 s (under its 2 s), then a head that stalls: 1 s from its first byte.
        w.request_finished();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        w.set(&[Phase::Fresh, Phase::Idle], Phase::Head);
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert_eq!(w.expired(), None, "never early");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(w.expired(), Some(Phase::Head));
        dog.await.unwrap();
    }
}
