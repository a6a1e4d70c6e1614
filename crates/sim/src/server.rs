//! `SimServer`: the loopback HTTP server a simulator runs in.
//!
//! Every request passes one middleware that records it (method, path, query, headers, body) for
//! tests to assert on, and applies the fault plan. The server binds `127.0.0.1:0` unless told
//! otherwise and stops on [`SimServer::shutdown`] or when dropped. It speaks plain HTTP, or
//! HTTPS when started with [`SimServer::start_tls`] (for vendors whose clients know no other
//! scheme; see [`crate::tls`] for the certificate).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::serve::Listener;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::faults::{FaultPlan, Faults};

/// How many requests the log keeps; older ones are dropped first.
const LOG_CAPACITY: usize = 10_000;
/// The largest request body a simulator reads.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One request as the simulator received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl RecordedRequest {
    /// The first value of a header (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The decoded value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query.as_deref()?;
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The body as text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How a simulator answers a forced fault, in its vendor's style.
#[derive(Debug, Clone, Copy)]
pub struct FaultStyle {
    /// The error body for a forced status.
    pub error_body: fn(StatusCode) -> Response,
    /// A body that does not parse as what the vendor normally sends, with its content type.
    pub malformed: fn() -> (&'static str, &'static str),
}

#[derive(Debug)]
struct Shared {
    log: Mutex<VecDeque<RecordedRequest>>,
    logging: AtomicBool,
    faults: Arc<Faults>,
    style: FaultStyle,
}

/// A running simulator.
#[derive(Debug)]
pub struct SimServer {
    name: &'static str,
    addr: SocketAddr,
    /// TLS connections established so far, when it speaks TLS.
    tls: Option<Arc<AtomicUsize>>,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimServer {
    /// Serves `router` on `127.0.0.1:0`.
    pub async fn start(
        name: &'static str,
        router: Router,
        style: FaultStyle,
    ) -> std::io::Result<SimServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::serve(name, listener, router, style)
    }

    /// Serves `router` on an already-bound listener.
    pub fn serve(
        name: &'static str,
        listener: TcpListener,
        router: Router,
        style: FaultStyle,
    ) -> std::io::Result<SimServer> {
        let addr = listener.local_addr()?;
        Ok(Self::spawn(name, listener, addr, None, router, style))
    }

    /// Serves `router` over TLS on `127.0.0.1:0`, presenting the certificate of `tls` (see
    /// [`crate::tls::SimTls`]). Handshakes run beside the accept loop, so a client that never
    /// completes one holds up nobody else; one that fails it is dropped before anything is
    /// recorded.
    pub async fn start_tls(
        name: &'static str,
        router: Router,
        style: FaultStyle,
        tls: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<SimServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let handshakes = Arc::new(AtomicUsize::new(0));
        let listener = TlsListener::new(name, listener, tls, handshakes.clone());
        Ok(Self::spawn(
            name,
            listener,
            addr,
            Some(handshakes),
            router,
            style,
        ))
    }

    fn spawn<L>(
        name: &'static str,
        listener: L,
        addr: SocketAddr,
        tls: Option<Arc<AtomicUsize>>,
        router: Router,
        style: FaultStyle,
    ) -> SimServer
    where
        L: Listener<Addr = SocketAddr>,
    {
        let shared = Arc::new(Shared {
            log: Mutex::new(VecDeque::new()),
            logging: AtomicBool::new(true),
            faults: Arc::new(Faults::default()),
            style,
        });
        // The middleware wraps every route and the simulator's fallback, and answers the
        // `/_sim/faults` control endpoint itself.
        let app = router.layer(middleware::from_fn_with_state(
            shared.clone(),
            record_and_fault,
        ));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(sim = name, error = %e, "simulator stopped with an error");
            }
        });
        SimServer {
            name,
            addr,
            tls,
            shared,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The simulator's name (`losant`, …).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, or `https://…` when it speaks TLS.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Whether it speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// How many TLS connections clients have established (completed handshakes), so tests can
    /// see whether a client keeps its connections; 0 for a plain HTTP server.
    pub fn tls_connections(&self) -> usize {
        self.tls.as_ref().map_or(0, |n| n.load(Ordering::Relaxed))
    }

    /// The fault knobs.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Every request received so far (up to the last 10 000), oldest first. Requests to the
    /// `/_sim/` control endpoints are not recorded.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).iter().cloned().collect()
    }

    /// How many requests were received (and recorded) so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.log).len()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// Turns request recording on or off (benches turn it off).
    pub fn set_recording(&self, on: bool) {
        self.shared.logging.store(on, Ordering::Relaxed);
    }

    /// Stops serving, letting in-flight requests finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A listener whose connections have completed a TLS handshake: a task accepts TCP connections
/// and runs each handshake on its own task (bounded by [`TLS_HANDSHAKE_TIMEOUT`]), handing the
/// finished ones to `axum::serve`. The task ends when the server drops this listener.
struct TlsListener {
    ready: mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
}

/// How long a client may take to complete its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl TlsListener {
    fn new(
        name: &'static str,
        tcp: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        handshakes: Arc<AtomicUsize>,
    ) -> Self {
        let addr = tcp
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    accepted = tcp.accept() => match accepted {
                        Ok(a) => a,
                        Err(_) => {
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                            continue;
                        }
                    },
                    () = tx.closed() => return,
                };
                let _ = stream.set_nodelay(true);
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                let handshakes = handshakes.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        Ok(Ok(tls)) => {
                            handshakes.fetch_add(1, Ordering::Relaxed);
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(sim = name, %peer, error = %e, "tls handshake failed");
                        }
                        Err(_) => {
                            tracing::debug!(sim = name, %peer, "tls handshake timed out");
                        }
                    }
                });
            }
        });
        TlsListener { ready, addr }
    }
}

impl Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept task is gone only if the runtime is shutting down: wait for that.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn record_and_fault(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
        }
    };

    if parts.uri.path() == "/_sim/faults" {
        return control_faults(&shared, &parts.method, &body);
    }

    if shared.logging.load(Ordering::Relaxed) {
        let rec = RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: header_pairs(&parts.headers),
            body: body.clone(),
        };
        let mut log = lock(&shared.log);
        if log.len() == LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(rec);
    }

    let plan = shared.faults.take();
    if let Some(plan) = &plan {
        if plan.latency_ms > 0 {
            tokio::time::sleep(plan.latency()).await;
        }
        if plan.drop_connection {
            return broken(Bytes::new(), 0);
        }
        if let Some(code) = plan.status {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = if plan.html_page {
                (
                    status,
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    "<!DOCTYPE html>\n<html><head><title>Down for maintenance</title></head>\n<body><h1>We'll be back soon.</h1></body></html>\n",
                )
                    .into_response()
            } else if plan.malformed_body {
                malformed(shared.style, status)
            } else {
                (shared.style.error_body)(status)
            };
            if let Some(v) = plan
                .retry_after
                .as_deref()
                .and_then(|v| header::HeaderValue::from_str(v).ok())
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return resp;
        }
    }

    let resp = next.run(Request::from_parts(parts, Body::from(body))).await;
    match plan {
        Some(FaultPlan {
            apply_then_drop: true,
            ..
        }) => broken(Bytes::new(), 0),
        Some(FaultPlan {
            malformed_body: true,
            ..
        }) => malformed(shared.style, resp.status()),
        Some(FaultPlan {
            truncate_body: true,
            ..
        }) => {
            let (parts, body) = resp.into_parts();
            let full = axum::body::to_bytes(body, MAX_BODY)
                .await
                .unwrap_or_default();
            let half = full.slice(..full.len() / 2);
            let mut cut = broken(half, full.len().max(1));
            *cut.status_mut() = parts.status;
            if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
                cut.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
            }
            cut
        }
        _ => resp,
    }
}

/// An answer whose body ends early: `sent` and then a failure, under a `Content-Length` of
/// `declared`, so the server ends the connection mid-answer (with nothing sent at all when
/// `sent` is empty and the failure comes first).
fn broken(sent: Bytes, declared: usize) -> Response {
    let mut resp = Response::new(Body::new(BrokenBody { sent: Some(sent) }));
    if declared > 0 {
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, header::HeaderValue::from(declared));
    }
    resp
}

/// A body that yields its bytes and then fails.
struct BrokenBody {
    sent: Option<Bytes>,
}

impl http_body::Body for BrokenBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        match self.sent.take() {
            Some(b) if !b.is_empty() => std::task::Poll::Ready(Some(Ok(http_body::Frame::data(b)))),
            _ => std::task::Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "simulated connection failure",
            )))),
        }
    }
}

fn malformed(style: FaultStyle, status: StatusCode) -> Response {
    let (content_type, text) = (style.malformed)();
    (status, [(header::CONTENT_TYPE, content_type)], text).into_response()
}

fn control_faults(shared: &Shared, method: &http::Method, body: &Bytes) -> Response {
    match *method {
        http::Method::PUT => match serde_json::from_slice::<FaultPlan>(body) {
            Ok(plan) => {
                shared.faults.set(plan);
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => (StatusCode::BAD_REQUEST, format!("bad fault plan: {e}")).into_response(),
        },
        http::Method::DELETE => {
            shared.faults.clear();
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}
