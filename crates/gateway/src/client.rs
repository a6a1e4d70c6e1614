//! The outbound HTTP client every adapter shares: HTTP/1.1 with keep-alive over TCP, or over
//! rustls (Mozilla's roots, the `webpki-roots` set built into the binary). It implements core's
//! `Transport`, reads whole answers up to a size limit, and classifies failures (unreachable,
//! certificate not trusted, broken connection, too large, too slow) without ever formatting a
//! header.
//!
//! It is small on purpose: the exchange runs inside the calling task (write the request, read
//! the answer, hand the connection back to the pool), so a backend call costs no task
//! hand-off, no channel and no pool of futures. A gateway translates whole answers; it needs
//! neither streaming, nor upgrades, nor HTTP/2. What it does need, it does as RFC 9112 says:
//! `Content-Length`, chunked and close-delimited bodies, interim `1xx` answers skipped, no body
//! after `HEAD`, `204` or `304`, and a connection reused only when the answer's framing and
//! `Connection` header allow it.
//!
//! Connections are pooled per scheme, host name and port (at most [`MAX_IDLE_PER_HOST`] idle
//! ones each and [`MAX_IDLE`] in all, none kept longer than [`IDLE_TIMEOUT`]). An idle connection
//! the backend has closed is noticed before it is used (its socket reads as ready: end of stream,
//! or bytes nobody asked for) and dropped. When a reused connection still breaks before the first
//! byte of an answer, a `GET`, `HEAD` or `OPTIONS` is sent again once on a new connection; any
//! other method is not, since the backend may have applied it.
//!
//! A backend may need more than the defaults ([`ClientSettings`], from its `ca_file` and
//! `connect_to` keys): a private CA to trust besides the built-in roots, or a fixed address to
//! connect to whatever host its URLs name, the URL's host still being sent as `Host` and as the
//! TLS server name (how a test reaches `abc123.internetofthings.ibmcloud.com` on 127.0.0.1, and
//! how a private deployment is reached by address). The gateway builds one client per distinct
//! setting, each with its own pool, and hands every backend the client of its setting. Nothing
//! can make a client accept a certificate it cannot verify.
//!
//! Each request may carry core's `RequestLimits` (the backend's `timeout_ms` and
//! `max_response_bytes`): the whole exchange, answer headers and body, is then bounded by that
//! time and size. A request without them gets [`DEFAULT_EXCHANGE_TIMEOUT`] and
//! [`MAX_RESPONSE_BYTES`], so no exchange can hang forever.

use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version};
use orgway_core::{BoxFuture, RequestLimits, Transport, TransportError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The largest answer read from a backend when the backend sets no `max_response_bytes`:
/// 4 MiB. A larger one is a bad response.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// How long an exchange may take when the request carries no limits.
pub const DEFAULT_EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long making a connection (and its TLS handshake) may take, whatever the exchange's limit.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle connections kept per scheme, host and port.
pub const MAX_IDLE_PER_HOST: usize = 64;

/// Most idle connections kept in all, whatever the origins (a dialect that names the org in
/// the host name makes each org an origin of its own): over it, the one idle longest is closed.
pub const MAX_IDLE: usize = 1024;

/// How long an idle connection is kept.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest answer head (status line and headers) read.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The most room made in the read buffer before each read of a body.
const READ_STEP: usize = 64 * 1024;

/// The longest chunk-size line of a chunked body (extensions included).
const MAX_CHUNK_LINE: usize = 4096;

/// The most headers an answer may carry.
const MAX_HEADERS: usize = 128;

/// How one backend's connections are made, beyond the defaults. Backends with equal settings
/// share one client, and so one connection pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ClientSettings {
    /// Certificates trusted besides the built-in roots (the backend's `ca_file`), each already
    /// checked to be usable as a trust anchor (see [`load_ca_file`]).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Connect here (`host:port`), whatever host a URL names (the backend's `connect_to`). The
    /// URL's host is still the `Host` header, the TLS server name the certificate must match,
    /// and the key connections are pooled by.
    pub connect_to: Option<ConnectTo>,
}

/// A fixed `host:port` to connect to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectTo(Uri);

impl ConnectTo {
    /// Reads `host:port` (a name, an IPv4 address or a bracketed IPv6 address, and a port).
    pub fn parse(s: &str) -> Result<ConnectTo, String> {
        let authority: http::uri::Authority = s
            .parse()
            .map_err(|_| format!("`{s}` is not host:port (e.g. 10.0.0.5:443)"))?;
        if authority.port_u16().is_none_or(|p| p == 0)
            || authority.host().is_empty()
            || s.contains('@')
        {
            return Err(format!("`{s}` is not host:port (e.g. 10.0.0.5:443)"));
        }
        let uri = Uri::builder()
            .scheme("http")
            .authority(authority)
            .path_and_query("/")
            .build()
            .map_err(|e| format!("`{s}`: {e}"))?;
        Ok(ConnectTo(uri))
    }

    /// The host it names.
    pub fn host(&self) -> &str {
        self.0.host().unwrap_or("")
    }

    /// The port it names (checked when parsed).
    fn port(&self) -> u16 {
        self.0.port_u16().unwrap_or(0)
    }
}

impl std::fmt::Display for ConnectTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.authority() {
            Some(a) => f.write_str(a.as_str()),
            None => Ok(()),
        }
    }
}

/// Reads a PEM file of CA certificates to trust: at least one, each usable as a trust anchor.
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("{} is not PEM: {e}", path.display()))?;
        rustls::RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| {
                format!(
                    "{} holds a certificate that cannot be trusted as a CA: {e}",
                    path.display()
                )
            })?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// The pooled client. Clones share the pool.
#[derive(Debug, Clone)]
pub struct HttpClient {
    shared: Arc<Shared>,
}

struct Shared {
    tls: TlsConnector,
    connect_to: Option<ConnectTo>,
    max_body: usize,
    /// [`MAX_IDLE`] (smaller in tests).
    max_idle: usize,
    /// Idle connections by origin (looked up by the request's borrowed host, no key built per
    /// request); within an origin the most recently used connection is taken first.
    pool: Mutex<Pool>,
}

#[derive(Default)]
struct Pool {
    /// A map, not a list: a dialect that names the org in the host name (Watson IoT's
    /// `{org}`) makes an origin of every org, thousands of them.
    origins: hashbrown::HashMap<Origin, Vec<Idle>>,
    /// How many connections `origins` holds.
    idle: usize,
    /// Whether the task closing connections idle too long runs.
    reaping: bool,
}

impl Pool {
    /// Closes the connections idle longer than [`IDLE_TIMEOUT`] and forgets origins left with
    /// none; whether any connection is left.
    fn sweep(&mut self) -> bool {
        for (_, idle) in &mut self.origins {
            // Oldest first: the front is what the most recent requests did not need.
            let expired = idle
                .iter()
                .take_while(|i| i.since.elapsed() >= IDLE_TIMEOUT)
                .count();
            idle.drain(..expired);
            self.idle -= expired;
        }
        self.origins.retain(|_, idle| !idle.is_empty());
        !self.origins.is_empty()
    }

    /// Takes out the connection idle longest of all (each origin's oldest is its first).
    fn take_longest_idle(&mut self) -> Option<Idle> {
        let (_, idle) = self
            .origins
            .iter_mut()
            .filter(|(_, idle)| !idle.is_empty())
            .min_by_key(|(_, idle)| idle[0].since)?;
        self.idle -= 1;
        Some(idle.remove(0))
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("connect_to", &self.connect_to)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

/// What connections are pooled by: scheme, host name (as the URL says it) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    https: bool,
    host: Box<str>,
    port: u16,
}

impl Origin {
    /// The target naming it.
    fn target(&self) -> Target<'_> {
        Target {
            origin_https: self.https,
            host: &self.host,
            port: self.port,
        }
    }
}

/// Hashed as the [`Target`] naming it.
impl std::hash::Hash for Origin {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.target().hash(h);
    }
}

/// An idle connection and when it was handed back.
struct Idle {
    conn: Conn,
    since: Instant,
}

/// One connection, plain or TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    /// Whether an idle connection, handed back `idle_for` ago, can carry another request:
    /// nothing may be readable on it (readable means the backend closed it, or sent bytes
    /// nobody asked for, which the next request would read as its answer).
    ///
    /// The runtime's record of the socket's readiness is only as new as its last turn of the
    /// event loop, so a close or stray bytes that arrived since would go unseen (a worker
    /// blocked, or busy past its usual turns): for a connection idle [`KERNEL_CHECK_AFTER`] or
    /// more, the kernel is asked (`MSG_PEEK`, one system call). One handed back less than that
    /// ago (a busy backend's connections, reused within milliseconds) is checked against the
    /// runtime's record alone, which a busy worker renews every few dozen task polls: the
    /// system call would cost every request of the hot path (it measured a third more
    /// `recvfrom`s per translated miss at 1 ms), for a window that short (bytes can also arrive
    /// just after any check). TLS is also read through TLS: bytes the backend sent after the
    /// answer may already sit decrypted inside rustls, where the socket cannot show them; a
    /// byte read here only ever condemns the connection.
    fn reusable(&mut self, idle_for: Duration) -> bool {
        if idle_for >= KERNEL_CHECK_AFTER {
            let tcp = match self {
                Conn::Plain(s) => &*s,
                Conn::Tls(s) => s.get_ref().0,
            };
            let mut byte = [std::mem::MaybeUninit::<u8>::uninit(); 1];
            match socket2::SockRef::from(tcp).peek(&mut byte) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // A byte, the end of the stream, or an error.
                _ => return false,
            }
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        match self {
            Conn::Plain(s) => matches!(s.poll_peek(&mut cx, &mut buf), Poll::Pending),
            Conn::Tls(s) => matches!(
                Pin::new(s.as_mut()).poll_read(&mut cx, &mut buf),
                Poll::Pending
            ),
        }
    }
}

/// How long a connection must have been idle for its reuse check to ask the kernel (see
/// [`Conn::reusable`]).
const KERNEL_CHECK_AFTER: Duration = Duration::from_millis(10);

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl HttpClient {
    /// A client trusting the Mozilla root certificates.
    pub fn new() -> Self {
        Self::with_settings(&ClientSettings::default())
    }

    /// A client trusting the Mozilla root certificates and `settings.extra_roots`, connecting
    /// to `settings.connect_to` when set.
    pub fn with_settings(settings: &ClientSettings) -> Self {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        // Each was checked when the configuration was loaded.
        roots.add_parsable_certificates(settings.extra_roots.iter().cloned());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        HttpClient {
            shared: Arc::new(Shared {
                tls: TlsConnector::from(Arc::new(tls)),
                connect_to: settings.connect_to.clone(),
                max_body: MAX_RESPONSE_BYTES,
                max_idle: MAX_IDLE,
                pool: Mutex::new(Pool::default()),
            }),
        }
    }

    /// Idle connections in the pool, all origins together.
    pub fn idle_connections(&self) -> usize {
        self.shared.pool().idle
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

/// The TLS failure behind a connect error, if it is one. TLS errors travel inside
/// `io::Error`s, whose `source()` skips the error they wrap, so each is opened with `get_ref`.
fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref())
        && let Some(tls) = tls_error(inner)
    {
        return Some(tls);
    }
    e.source().and_then(tls_error)
}

/// A failed connection or handshake, classified: a certificate the client does not trust,
/// another TLS failure, or no connection at all.
fn connect_error(e: &io::Error) -> TransportError {
    match tls_error(e) {
        Some(tls @ rustls::Error::InvalidCertificate(_)) => {
            TransportError::Tls(format!("the backend's certificate is not trusted: {tls}"))
        }
        Some(tls) => TransportError::Tls(format!("the TLS handshake failed: {tls}")),
        None => TransportError::Connect(root_cause(e)),
    }
}

/// The innermost cause of an error, which is where the useful words are ("Connection
/// refused"). Causes never contain headers or bodies.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A broken exchange after the connection was made.
fn io_error(e: io::Error) -> Failure {
    Failure::Io(root_cause(&e))
}

/// Why an exchange on one connection failed, and whether the answer had begun.
#[derive(Debug)]
enum Failure {
    /// Ended before the answer's first byte: on a reused connection, most likely closed by
    /// the backend while idle.
    Unanswered(String),
    Io(String),
    TooLarge(usize),
}

impl Failure {
    fn into_transport(self) -> TransportError {
        match self {
            Failure::Unanswered(m) | Failure::Io(m) => TransportError::Io(m),
            Failure::TooLarge(n) => TransportError::TooLarge(n),
        }
    }
}

/// Where a request goes, read from its URL. Compared and hashed field by field, as the
/// [`Origin`] it names is (the pool looks origins up by target).
#[derive(PartialEq, Eq, Hash)]
struct Target<'a> {
    origin_https: bool,
    /// The host as the URL names it (brackets kept for IPv6).
    host: &'a str,
    port: u16,
}

impl<'a> Target<'a> {
    fn of(uri: &'a Uri) -> Result<Target<'a>, TransportError> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(TransportError::InvalidRequest(
                    "the URL is neither http nor https".into(),
                ));
            }
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| TransportError::InvalidRequest("the URL names no host".into()))?;
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Target {
            origin_https: https,
            host,
            port,
        })
    }
}

impl hashbrown::Equivalent<Origin> for Target<'_> {
    fn equivalent(&self, o: &Origin) -> bool {
        *self == o.target()
    }
}

/// The origin a target names (the pool's key when it first sees it).
impl From<&Target<'_>> for Origin {
    fn from(t: &Target<'_>) -> Origin {
        Origin {
            https: t.origin_https,
            host: t.host.into(),
            port: t.port,
        }
    }
}

/// The host without IPv6 brackets, as a socket address or a TLS name wants it.
fn bare_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

impl Shared {
    /// The pool (a panic while it was held left nothing half-done that matters here).
    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle connection to `t` the backend has not closed, if there is one.
    fn checkout(&self, t: &Target<'_>) -> Option<Conn> {
        loop {
            // Checked (a system call) and, when condemned, closed outside the pool's lock.
            let mut i = {
                let mut pool = self.pool();
                let idle = pool.origins.get_mut(t)?;
                let i = idle.pop()?;
                pool.idle -= 1;
                i
            };
            let idle_for = i.since.elapsed();
            if idle_for < IDLE_TIMEOUT && i.conn.reusable(idle_for) {
                return Some(i.conn);
            }
        }
    }

    /// Hands a connection back; the first one handed back starts the task that closes the
    /// connections idle too long.
    fn checkin(self: &Arc<Self>, t: &Target<'_>, conn: Conn) {
        let mut pool = self.pool();
        let idle = pool.origins.entry_ref(t).or_default();
        if idle.len() >= MAX_IDLE_PER_HOST {
            return;
        }
        idle.push(Idle {
            conn,
            since: Instant::now(),
        });
        pool.idle += 1;
        // Over the cap in all: the connection idle longest goes (closed outside the lock).
        let evicted = if pool.idle > self.max_idle {
            pool.take_longest_idle()
        } else {
            None
        };
        if !pool.reaping
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            pool.reaping = true;
            rt.spawn(reap(Arc::downgrade(self)));
        }
        drop(pool);
        drop(evicted);
    }

    /// A new connection to `t` (or to the fixed address), TLS when the URL is `https`.
    async fn connect(&self, t: &Target<'_>) -> Result<Conn, TransportError> {
        let (host, port) = match &self.connect_to {
            Some(c) => (c.host(), c.port()),
            None => (t.host, t.port),
        };
        let name = match t.origin_https {
            false => None,
            true => Some(
                ServerName::try_from(bare_host(t.host).to_owned()).map_err(|_| {
                    TransportError::InvalidRequest(format!(
                        "`{}` is not a name a TLS certificate can be checked against",
                        t.host
                    ))
                })?,
            ),
        };
        let made = tokio::time::timeout(CONNECT_TIMEOUT, async {
            let tcp = connect_tcp(bare_host(host), port)
                .await
                .map_err(|e| TransportError::Connect(root_cause(&e)))?;
            // Requests are written whole; nothing gains from Nagle's delay.
            let _ = tcp.set_nodelay(true);
            // A pooled connection a NAT or firewall forgot is found out while idle, not by the
            // next request waiting out its whole time limit.
            let _ = socket2::SockRef::from(&tcp).set_tcp_keepalive(&KEEPALIVE);
            let Some(name) = name else {
                return Ok(Conn::Plain(tcp));
            };
            // A handshake TLS refused is a TLS failure; one the connection broke off (closed,
            // reset) is still "could not connect", as unreachable as a refused connection.
            match self.tls.connect(name, tcp).await {
                Ok(tls) => Ok(Conn::Tls(Box::new(tls))),
                Err(e) => Err(connect_error(&e)),
            }
        })
        .await;
        match made {
            Ok(made) => made,
            Err(_) => Err(TransportError::Connect(format!(
                "no connection within {} s",
                CONNECT_TIMEOUT.as_secs()
            ))),
        }
    }

    /// One request, on a pooled connection when there is one.
    async fn exchange(
        self: &Arc<Self>,
        req: http::Request<Bytes>,
        max_body: usize,
    ) -> Result<http::Response<Bytes>, TransportError> {
        let (parts, body) = req.into_parts();
        let t = Target::of(&parts.uri)?;
        let wire = encode_request(&parts, &t, &body)?;
        let head_only = parts.method == Method::HEAD;
        let resendable = orgway_core::is_safe_method(&parts.method);
        if let Some(conn) = self.checkout(&t) {
            match round_trip(conn, &wire, head_only, max_body).await {
                Ok((resp, conn)) => {
                    if let Some(conn) = conn {
                        self.checkin(&t, conn);
                    }
                    return Ok(resp);
                }
                // Closed by the backend between our check and our write: once more, new.
                Err(Failure::Unanswered(_)) if resendable => {}
                Err(f) => return Err(f.into_transport()),
            }
        }
        let conn = self.connect(&t).await?;
        let (resp, conn) = round_trip(conn, &wire, head_only, max_body)
            .await
            .map_err(Failure::into_transport)?;
        if let Some(conn) = conn {
            self.checkin(&t, conn);
        }
        Ok(resp)
    }
}

/// Closes the pool's connections idle too long, every quarter of [`IDLE_TIMEOUT`], until the
/// pool is empty (the next connection handed back starts it again) or the client is gone.
async fn reap(shared: std::sync::Weak<Shared>) {
    loop {
        tokio::time::sleep(IDLE_TIMEOUT / 4).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut pool = shared.pool();
        if !pool.sweep() {
            pool.reaping = false;
            return;
        }
    }
}

/// TCP keepalive on outbound connections: the first probe after 30 s idle, then every 10 s.
const KEEPALIVE: socket2::TcpKeepalive = socket2::TcpKeepalive::new()
    .with_time(Duration::from_secs(30))
    .with_interval(Duration::from_secs(10));

/// How long one of several addresses of a name may take to accept before the next is tried
/// (the last one has what is left of [`CONNECT_TIMEOUT`]): an address that drops packets, an
/// IPv6 route that goes nowhere, does not use up the whole limit.
const ADDRESS_ATTEMPT: Duration = Duration::from_secs(2);

/// Connects to `host:port`: an address directly, a name through the resolver, each address
/// it gives in turn until one answers.
async fn connect_tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return TcpStream::connect((ip, port)).await;
    }
    let addrs: Vec<_> = tokio::net::lookup_host((host, port)).await?.collect();
    let mut last = None;
    for (i, addr) in addrs.iter().enumerate() {
        let attempt = TcpStream::connect(addr);
        let made = if i + 1 < addrs.len() {
            tokio::time::timeout(ADDRESS_ATTEMPT, attempt)
                .await
                .unwrap_or_else(|_| {
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "{addr} did not accept within {} s",
                            ADDRESS_ATTEMPT.as_secs()
                        ),
                    ))
                })
        } else {
            attempt.await
        };
        match made {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"))
    }))
}

/// The request as it goes on the wire: request line, `Host` (from the URL unless the request
/// names one), the request's headers, `Content-Length` when there is a body or the method
/// expects one, and the body.
fn encode_request(
    parts: &http::request::Parts,
    t: &Target<'_>,
    body: &Bytes,
) -> Result<Vec<u8>, TransportError> {
    if parts.headers.contains_key(TRANSFER_ENCODING) {
        return Err(TransportError::InvalidRequest(
            "a request body is sent whole, never with Transfer-Encoding".into(),
        ));
    }
    let target = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let mut out = Vec::with_capacity(256 + body.len() + parts.headers.len() * 32);
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    if !target.starts_with('/') {
        out.push(b'/');
    }
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !parts.headers.contains_key(HOST) {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(t.host.as_bytes());
        if parts.uri.port_u16().is_some() && t.port != if t.origin_https { 443 } else { 80 } {
            out.push(b':');
            out.extend_from_slice(t.port.to_string().as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in &parts.headers {
        if name == CONTENT_LENGTH {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || matches!(parts.method, Method::POST | Method::PUT | Method::PATCH) {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(out)
}

/// Writes the request and reads the whole answer. Gives the connection back when it can
/// carry another request.
async fn round_trip(
    mut conn: Conn,
    wire: &[u8],
    head_only: bool,
    max_body: usize,
) -> Result<(http::Response<Bytes>, Option<Conn>), Failure> {
    if let Err(e) = write_all(&mut conn, wire).await {
        // Nothing of an answer came: whether the backend read the request is unknown only
        // when part of it was written, which the resend rule (safe methods only) allows for.
        return Err(Failure::Unanswered(root_cause(&e)));
    }
    let mut buf = BytesMut::with_capacity(8 * 1024);
    // Where the search for the head's end resumes: each byte is looked at once, however the
    // backend splits its answer.
    let mut scanned = 0;
    let head = loop {
        if let Some(end) = line_end(&buf, scanned)
            && head_ends_at(&buf, end)
        {
            let before = buf.len();
            if let Some(head) = parse_head(&mut buf)? {
                break head;
            }
            // Interim answers were removed: look at what is left from its start.
            scanned = if buf.len() == before { buf.len() } else { 0 };
            continue;
        }
        scanned = buf.len().saturating_sub(2);
        if buf.len() > MAX_HEAD_BYTES {
            return Err(Failure::Io(format!(
                "answer headers larger than {MAX_HEAD_BYTES} bytes"
            )));
        }
        let started = !buf.is_empty();
        match conn.read_buf(&mut buf).await {
            Ok(0) if started => {
                return Err(Failure::Io(
                    "connection closed inside the answer's headers".into(),
                ));
            }
            Ok(0) => {
                return Err(Failure::Unanswered(
                    "connection closed before an answer".into(),
                ));
            }
            Ok(_) => {}
            Err(e) if !started => return Err(Failure::Unanswered(root_cause(&e))),
            Err(e) => return Err(io_error(e)),
        }
    };
    let Head {
        status,
        version,
        headers,
    } = head;
    let mut keep = version == Version::HTTP_11 && !has_token(&headers, CONNECTION, "close");
    let body =
        if head_only || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            Bytes::new()
        } else if headers.contains_key(TRANSFER_ENCODING) {
            // Nothing here asks for a transfer coding: only `chunked` alone is read, and only
            // from HTTP/1.1.
            let mut codings = headers.get_all(TRANSFER_ENCODING).iter();
            let only_chunked = codings
                .next()
                .is_some_and(|v| v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"chunked"))
                && codings.next().is_none();
            if !only_chunked || version != Version::HTTP_11 {
                return Err(Failure::Io(
                    "the answer uses a transfer coding other than chunked".into(),
                ));
            }
            if headers.contains_key(CONTENT_LENGTH) {
                // Both framings: Transfer-Encoding wins, and the connection is not trusted again.
                keep = false;
            }
            read_chunked(&mut conn, &mut buf, max_body).await?
        } else if headers.contains_key(CONTENT_LENGTH) {
            let len = content_length(&headers)?;
            if len > max_body as u64 {
                return Err(Failure::TooLarge(max_body));
            }
            let len = len as usize;
            while buf.len() < len {
                // Room as the bytes come, not all that was declared at once.
                buf.reserve((len - buf.len()).min(READ_STEP));
                fill(&mut conn, &mut buf).await?;
            }
            if buf.len() > len {
                // Bytes after the answer nobody asked for: the connection is not reused.
                keep = false;
            }
            buf.split_to(len).freeze()
        } else {
            keep = false;
            read_to_end(&mut conn, &mut buf, max_body).await?
        };
    if keep && !buf.is_empty() {
        keep = false;
    }
    let mut resp = http::Response::new(body);
    *resp.status_mut() = status;
    *resp.version_mut() = version;
    *resp.headers_mut() = headers;
    Ok((resp, keep.then_some(conn)))
}

/// Writes all of `wire` and flushes (TLS buffers what it encrypts).
async fn write_all(conn: &mut Conn, wire: &[u8]) -> io::Result<()> {
    conn.write_all(wire).await?;
    conn.flush().await
}

/// An answer's status line and headers.
struct Head {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
}

/// Parses an answer head at the start of `buf`, removing it: `None` while incomplete.
/// Interim `1xx` answers are removed and skipped; `101` is refused, since nothing here asks
/// to switch protocols.
fn parse_head(buf: &mut BytesMut) -> Result<Option<Head>, Failure> {
    loop {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut slots);
        let len = match parsed.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(Failure::Io(format!("the answer is not HTTP/1.1: {e}"))),
        };
        let code = parsed.code.unwrap_or(0);
        let status = StatusCode::from_u16(code)
            .map_err(|_| Failure::Io(format!("the answer's status {code} is not valid")))?;
        if status.is_informational() {
            if status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(Failure::Io("the backend switched protocols".into()));
            }
            buf.advance(len);
            continue;
        }
        let version = if parsed.version == Some(1) {
            Version::HTTP_11
        } else {
            Version::HTTP_10
        };
        // Header values are slices of the head's bytes, not copies.
        let base = buf.as_ptr() as usize;
        let mut spans: Vec<(HeaderName, usize, usize)> = Vec::with_capacity(parsed.headers.len());
        for h in parsed.headers.iter() {
            let name = HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|_| Failure::Io("the answer has an invalid header name".into()))?;
            let start = h.value.as_ptr() as usize - base;
            spans.push((name, start, start + h.value.len()));
        }
        let head = buf.split_to(len).freeze();
        let mut headers = HeaderMap::with_capacity(spans.len());
        for (name, start, end) in spans {
            let value = HeaderValue::from_maybe_shared(head.slice(start..end))
                .map_err(|_| Failure::Io("the answer has an invalid header value".into()))?;
            headers.append(name, value);
        }
        return Ok(Some(Head {
            status,
            version,
            headers,
        }));
    }
}

/// Whether a comma-separated header names `token`.
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.as_bytes()
            .split(|b| *b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// The answer's `Content-Length`: every value the same number, or the answer is refused.
fn content_length(headers: &HeaderMap) -> Result<u64, Failure> {
    let mut len = None;
    for v in headers.get_all(CONTENT_LENGTH) {
        for part in v.to_str().unwrap_or("x").split(',') {
            let part = part.trim();
            let n = (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| Failure::Io("the answer's Content-Length is not valid".into()))?;
            if len.is_some_and(|l| l != n) {
                return Err(Failure::Io(
                    "the answer has conflicting Content-Length values".into(),
                ));
            }
            len = Some(n);
        }
    }
    len.ok_or_else(|| Failure::Io("the answer's Content-Length is not valid".into()))
}

/// Reads more into `buf`; the end of the stream is an error here (the body is incomplete).
async fn fill(conn: &mut Conn, buf: &mut BytesMut) -> Result<(), Failure> {
    match conn.read_buf(buf).await {
        Ok(0) => Err(Failure::Io(
            "connection closed before the answer's body was complete".into(),
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(io_error(e)),
    }
}

/// A close-delimited body: everything until the backend closes the connection.
async fn read_to_end(conn: &mut Conn, buf: &mut BytesMut, max: usize) -> Result<Bytes, Failure> {
    loop {
        if buf.len() > max {
            return Err(Failure::TooLarge(max));
        }
        match conn.read_buf(buf).await {
            Ok(0) => return Ok(buf.split().freeze()),
            Ok(_) => {}
            Err(e) => return Err(io_error(e)),
        }
    }
}

/// The index of the first `\n` at or after `from`.
fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .iter()
        .position(|b| *b == b'\n')
        .map(|i| from + i)
}

/// Whether the line ending at `end` (a `\n`) or one after it is followed by an empty line:
/// the head is whole.
fn head_ends_at(buf: &[u8], mut end: usize) -> bool {
    loop {
        match buf.get(end + 1..) {
            Some([b'\n', ..]) | Some([b'\r', b'\n', ..]) => return true,
            _ => match line_end(buf, end + 1) {
                Some(next) => end = next,
                None => return false,
            },
        }
    }
}

/// Reads until `buf` holds a whole line (ended by CRLF, or a bare LF as parsers tolerate) and
/// returns the line's length and the length with its ending; each byte is searched once.
async fn read_line(
    conn: &mut Conn,
    buf: &mut BytesMut,
    limit: usize,
    what: &str,
) -> Result<(usize, usize), Failure> {
    let mut from = 0;
    loop {
        if let Some(lf) = line_end(buf, from) {
            let len = if lf > 0 && buf[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            return Ok((len, lf + 1));
        }
        if buf.len() > limit {
            return Err(Failure::Io(format!("the answer's {what} is too long")));
        }
        from = buf.len();
        fill(conn, buf).await?;
    }
}

/// A chunk-size line's size: hexadecimal digits, then optional whitespace and extensions.
fn chunk_size(line: &[u8]) -> Result<usize, Failure> {
    let bad = || Failure::Io("the answer's chunk size is not valid".into());
    let digits = line.split(|b| *b == b';').next().unwrap_or(&[]);
    let digits = match digits.iter().rposition(|b| !matches!(b, b' ' | b'\t')) {
        Some(last) => &digits[..=last],
        None => return Err(bad()),
    };
    if digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(bad());
    }
    let digits = std::str::from_utf8(digits).map_err(|_| bad())?;
    usize::from_str_radix(digits, 16).map_err(|_| bad())
}

/// A chunked body (RFC 9112 §7.1), extensions and trailers read and dropped.
async fn read_chunked(conn: &mut Conn, buf: &mut BytesMut, max: usize) -> Result<Bytes, Failure> {
    let mut body = BytesMut::new();
    loop {
        let (len, taken) = read_line(conn, buf, MAX_CHUNK_LINE, "chunk header").await?;
        let size = chunk_size(&buf[..len])?;
        buf.advance(taken);
        if size == 0 {
            // Trailers, each a line, up to an empty line.
            let mut trailers = 0;
            loop {
                let (len, taken) = read_line(conn, buf, MAX_HEAD_BYTES, "trailer").await?;
                buf.advance(taken);
                trailers += taken;
                if len == 0 {
                    return Ok(body.freeze());
                }
                if trailers > MAX_HEAD_BYTES {
                    return Err(Failure::Io("the answer's trailers are too long".into()));
                }
            }
        }
        if body.len() + size > max {
            return Err(Failure::TooLarge(max));
        }
        while buf.len() < size + 2 {
            buf.reserve((size + 2 - buf.len()).min(READ_STEP));
            fill(conn, buf).await?;
        }
        body.extend_from_slice(&buf[..size]);
        if &buf[size..size + 2] != b"\r\n" {
            return Err(Failure::Io(
                "the answer's chunk is not followed by CRLF".into(),
            ));
        }
        buf.advance(size + 2);
    }
}

impl Transport for HttpClient {
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
        let (timeout, max) = match req.extensions().get::<RequestLimits>() {
            Some(l) => (l.timeout, l.max_response_bytes),
            None => (DEFAULT_EXCHANGE_TIMEOUT, self.shared.max_body),
        };
        let shared = self.shared.clone();
        Box::pin(async move {
            tokio::time::timeout(timeout, shared.exchange(req, max))
                .await
                .unwrap_or(Err(TransportError::Timeout))
        })
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use orgway_sim::watson_iot::{DEMO_ORG_2, DEMO_ORG_ID, WatsonIotSim, demo_key, demo_token};

    use super::*;

    fn view_org(sim: &WatsonIotSim, org: &str) -> http::Request<Bytes> {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            demo_key(org),
            demo_token(org)
        ));
        http::Request::get(format!("https://{}/api/v0002/", sim.host(org)))
            .header(http::header::AUTHORIZATION, format!("Basic {auth}"))
            .body(Bytes::new())
            .unwrap()
    }

    fn settings(sim: &WatsonIotSim, trust: bool) -> ClientSettings {
        ClientSettings {
            extra_roots: if trust {
                load_ca_file(sim.ca_file()).unwrap()
            } else {
                Vec::new()
            },
            connect_to: Some(ConnectTo::parse(&sim.addr().to_string()).unwrap()),
        }
    }

    #[tokio::test]
    async fn a_fixed_address_keeps_the_urls_host_name_and_certificate_check() {
        let sim = WatsonIotSim::start(Default::default()).await.unwrap();
        let client = HttpClient::with_settings(&settings(&sim, true));
        for org in [DEMO_ORG_ID, DEMO_ORG_2, DEMO_ORG_ID] {
            let resp = client.send(view_org(&sim, org)).await.unwrap();
            assert_eq!(resp.status(), 200);
            let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
            assert_eq!(body["id"], org, "the host name chose the org");
        }
        let seen = sim.server().requests();
        assert_eq!(seen[1].header("host"), Some(sim.host(DEMO_ORG_2).as_str()));
        // Pooled per host name: the first org's connection served it twice.
        assert_eq!(sim.server().tls_connections(), 2);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn a_certificate_not_trusted_is_a_tls_failure_saying_so() {
        let sim = WatsonIotSim::start(Default::default()).await.unwrap();
        let client = HttpClient::with_settings(&settings(&sim, false));
        let e = client.send(view_org(&sim, DEMO_ORG_ID)).await.unwrap_err();
        match &e {
            TransportError::Tls(m) => assert!(
                m.starts_with("the backend's certificate is not trusted: ")
                    && m.contains("UnknownIssuer"),
                "{m}"
            ),
            other => panic!("not a TLS failure: {other:?}"),
        }
        // Trusting the CA does not make another host name acceptable.
        let client = HttpClient::with_settings(&settings(&sim, true));
        let mut req = view_org(&sim, DEMO_ORG_ID);
        *req.uri_mut() = "https://abc123.example.com/api/v0002/".parse().unwrap();
        match client.send(req).await.unwrap_err() {
            TransportError::Tls(m) => assert!(m.contains("not trusted"), "{m}"),
            other => panic!("not a TLS failure: {other:?}"),
        }
        assert_eq!(sim.server().request_count(), 0);
        // Nothing listening is still "could not connect".
        let closed = ClientSettings {
            connect_to: Some(ConnectTo::parse("127.0.0.1:1").unwrap()),
            ..ClientSettings::default()
        };
        let e = HttpClient::with_settings(&closed)
            .send(view_org(&sim, DEMO_ORG_ID))
            .await
            .unwrap_err();
        assert!(matches!(e, TransportError::Connect(_)), "{e:?}");
        sim.shutdown().await;
    }

    /// A backend speaking raw HTTP/1.1: every request on every connection is answered with the
    /// bytes `answer(connection, request)` gives (the connection is closed after an answer when
    /// it says `close`); records each request's head.
    struct Raw {
        addr: std::net::SocketAddr,
        seen: Arc<Mutex<Vec<(usize, String)>>>,
    }

    type Script = fn(usize, &str) -> (Vec<u8>, bool);

    impl Raw {
        async fn start(answer: Script) -> Raw {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let log = seen.clone();
            tokio::spawn(async move {
                for conn_no in 0.. {
                    let Ok((mut s, _)) = l.accept().await else {
                        return;
                    };
                    let log = log.clone();
                    tokio::spawn(async move {
                        let mut buf = Vec::new();
                        loop {
                            let mut chunk = [0u8; 4096];
                            let end = loop {
                                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                    break i + 4;
                                }
                                match s.read(&mut chunk).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                                }
                            };
                            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length: "))
                                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                            while buf.len() < end + len {
                                let n = s.read(&mut chunk).await.unwrap();
                                buf.extend_from_slice(&chunk[..n]);
                            }
                            buf.drain(..end + len);
                            log.lock().unwrap().push((conn_no, head.clone()));
                            let (bytes, close) = answer(conn_no, &head);
                            if s.write_all(&bytes).await.is_err() || close {
                                return;
                            }
                        }
                    });
                }
            });
            Raw { addr, seen }
        }

        fn url(&self, path: &str) -> String {
            format!("http://{}{path}", self.addr)
        }

        fn connections(&self) -> usize {
            let seen = self.seen.lock().unwrap();
            seen.iter().map(|(c, _)| c + 1).max().unwrap_or(0)
        }
    }

    fn get(url: &str) -> http::Request<Bytes> {
        http::Request::get(url).body(Bytes::new()).unwrap()
    }

    fn limited(mut req: http::Request<Bytes>, max: usize) -> http::Request<Bytes> {
        req.extensions_mut().insert(RequestLimits {
            timeout: Duration::from_secs(5),
            max_response_bytes: max,
        });
        req
    }

    #[tokio::test]
    async fn answers_are_read_by_their_framing_and_connections_reused_only_when_they_allow() {
        let raw = Raw::start(|_, head| {
            let path = head.split(' ').nth(1).unwrap().to_owned();
            let a: &[u8] = match path.as_str() {
                "/length" => b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n\r\nhello",
                "/chunked" => b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n",
                "/none" => b"HTTP/1.1 204 No Content\r\n\r\n",
                "/close" => return (b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok".to_vec(), true),
                "/eof" => return (b"HTTP/1.1 200 OK\r\n\r\nuntil the end".to_vec(), true),
                "/short" => return (b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\nonly this".to_vec(), true),
                "/big" => b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n",
                "/bigchunks" => b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n400\r\n",
                "/gzip" => b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                "/plus" => b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
                "/lf" => b"HTTP/1.1 200 OK\ncontent-length: 2\n\nok",
                "/?x=1" => b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nquery",
                _ => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            };
            (a.to_vec(), false)
        })
        .await;
        let client = HttpClient::new();
        let body = |r: http::Response<Bytes>| String::from_utf8(r.into_body().to_vec()).unwrap();

        let r = client.send(get(&raw.url("/length"))).await.unwrap();
        assert_eq!(
            (r.status(), r.headers()["x-a"].as_bytes()),
            (StatusCode::OK, &b"1"[..])
        );
        assert_eq!(body(r), "hello");
        let r = client.send(get(&raw.url("/chunked"))).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "the interim 100 is skipped");
        assert_eq!(body(r), "hello, world");
        let r = client.send(get(&raw.url("/none"))).await.unwrap();
        assert_eq!(
            (r.status(), body(r)),
            (StatusCode::NO_CONTENT, String::new())
        );
        assert_eq!(raw.connections(), 1, "three answers, one connection");
        assert_eq!(client.idle_connections(), 1);

        // `Connection: close` and a close-delimited body: read, then not reused.
        assert_eq!(
            body(client.send(get(&raw.url("/close"))).await.unwrap()),
            "ok"
        );
        assert_eq!(client.idle_connections(), 0);
        assert_eq!(
            body(client.send(get(&raw.url("/eof"))).await.unwrap()),
            "until the end"
        );
        assert_eq!(client.idle_connections(), 0);
        let r = client.send(get(&raw.url("/length"))).await.unwrap();
        assert_eq!(body(r), "hello");
        assert_eq!(raw.connections(), 3);

        // A body shorter than it said, and bodies over the limit.
        let e = client.send(get(&raw.url("/short"))).await.unwrap_err();
        assert!(
            matches!(&e, TransportError::Io(m) if m.contains("before the answer's body was complete")),
            "{e:?}"
        );
        let e = client
            .send(limited(get(&raw.url("/big")), 4096))
            .await
            .unwrap_err();
        assert_eq!(e, TransportError::TooLarge(4096));
        let e = client
            .send(limited(get(&raw.url("/bigchunks")), 1000))
            .await
            .unwrap_err();
        assert_eq!(e, TransportError::TooLarge(1000));
        // A transfer coding nobody asked for, a chunk size that is not plain hexadecimal.
        for (path, says) in [("/gzip", "transfer coding"), ("/plus", "chunk size")] {
            let e = client.send(get(&raw.url(path))).await.unwrap_err();
            assert!(
                matches!(&e, TransportError::Io(m) if m.contains(says)),
                "{path}: {e:?}"
            );
        }
        // Bare LF line endings, as parsers tolerate; a URL with a query and no path.
        assert_eq!(body(client.send(get(&raw.url("/lf"))).await.unwrap()), "ok");
        let r = client
            .send(get(&format!("http://{}?x=1", raw.addr)))
            .await
            .unwrap();
        assert_eq!(body(r), "query");

        // What went on the wire: Host with the port, Content-Length with a body, the
        // request's own headers.
        let mut post = http::Request::post(raw.url("/length"))
            .header("x-request-id", "r-1")
            .body(Bytes::from_static(b"{}"))
            .unwrap();
        post.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from_static("99"));
        assert_eq!(client.send(post).await.unwrap().status(), StatusCode::OK);
        let seen = raw.seen.lock().unwrap().clone();
        let (_, head) = seen.last().unwrap();
        assert!(head.starts_with("POST /length HTTP/1.1\r\n"), "{head}");
        assert!(head.contains(&format!("host: {}\r\n", raw.addr)), "{head}");
        assert!(head.contains("x-request-id: r-1\r\n"), "{head}");
        assert!(
            head.contains("content-length: 2\r\n") && !head.contains("99"),
            "{head}"
        );
        let (_, first) = &seen[0];
        assert!(
            !first.contains("content-length"),
            "a GET has no body: {first}"
        );
    }

    #[tokio::test]
    async fn bytes_a_tls_backend_sent_after_an_answer_never_become_the_next_answer() {
        // One write: a 20,000-byte answer and, behind it, an answer nobody asked for. TLS may
        // hold the second decrypted where the socket no longer shows it.
        let tls = orgway_sim::tls::SimTls::generate("raw", &["backend.test".to_owned()]).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let (acceptor, first) = (acceptor.clone(), first.clone());
                tokio::spawn(async move {
                    let Ok(mut s) = acceptor.accept(s).await else {
                        return;
                    };
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.clear();
                        let mut out = Vec::new();
                        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
                            out.extend_from_slice(
                                b"HTTP/1.1 200 OK\r\ncontent-length: 20000\r\n\r\n",
                            );
                            out.extend_from_slice(&[b'a'; 20000]);
                            out.extend_from_slice(
                                b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nevil",
                            );
                        } else {
                            out.extend_from_slice(
                                b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ngood",
                            );
                        }
                        if s.write_all(&out).await.is_err() || s.flush().await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let client = HttpClient::with_settings(&ClientSettings {
            extra_roots: load_ca_file(tls.ca_file()).unwrap(),
            connect_to: Some(ConnectTo::parse(&addr.to_string()).unwrap()),
        });
        let first = client.send(get("https://backend.test/")).await.unwrap();
        assert_eq!(first.body().len(), 20000);
        tokio::time::sleep(Duration::from_millis(50)).await;
        for _ in 0..3 {
            let next = client.send(get("https://backend.test/")).await.unwrap();
            assert_eq!(next.into_body(), Bytes::from_static(b"good"));
        }
    }

    #[tokio::test]
    async fn an_idle_connection_the_backend_closed_is_not_used() {
        // The backend answers one request per connection and then closes it without saying so.
        let raw = Raw::start(|_, _| {
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec(),
                true,
            )
        })
        .await;
        let client = HttpClient::new();
        for _ in 0..3 {
            let r = client.send(get(&raw.url("/"))).await.unwrap();
            assert_eq!(r.into_body(), Bytes::from_static(b"ok"));
            // Let the close arrive before the next request.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Nor a write: it is not sent on the closed connection (nothing applied twice, and
        // nothing lost to a connection nobody checked).
        let post = http::Request::post(raw.url("/"))
            .body(Bytes::from_static(b"x"))
            .unwrap();
        assert_eq!(client.send(post).await.unwrap().status(), StatusCode::OK);
        assert_eq!(raw.connections(), 4);
        assert_eq!(raw.seen.lock().unwrap().len(), 4);
    }

    /// A backend on threads of its own, so it runs while the test's runtime is blocked: on
    /// each connection, the first request gets `first` then, 5 ms later, `late` (bytes nobody
    /// asked for, when not empty), and the connection is then closed if `close`; later
    /// requests get `good`. Counts the connections.
    fn thread_backend(
        first: &'static [u8],
        late: &'static [u8],
        close: bool,
    ) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = connections.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    for n in 0.. {
                        // One request: its head, and the one-byte body a POST here has.
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(k) => buf.extend_from_slice(&chunk[..k]),
                            }
                        }
                        buf.clear();
                        if n > 0 {
                            let good = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ngood";
                            if s.write_all(good).is_err() {
                                return;
                            }
                            continue;
                        }
                        if s.write_all(first).is_err() {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                        if !late.is_empty() && s.write_all(late).is_err() {
                            return;
                        }
                        if close {
                            return;
                        }
                    }
                });
            }
        });
        (addr, connections)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn bytes_or_a_close_the_runtime_has_not_seen_yet_keep_a_connection_from_reuse() {
        const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        // The task is busy (the runtime does not turn its event loop) while the backend sends
        // an answer nobody asked for: it must not become the next request's answer.
        let (addr, connections) = thread_backend(
            OK,
            b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nevil",
            false,
        );
        let client = HttpClient::new();
        let url = format!("http://{addr}/");
        assert_eq!(client.send(get(&url)).await.unwrap().into_body(), "ok");
        std::thread::sleep(Duration::from_millis(50));
        // Answered on a new connection (its first answer), not by the stray bytes ("evil").
        assert_eq!(client.send(get(&url)).await.unwrap().into_body(), "ok");
        assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 2);
        // The same for a close: a write is not sent on the closed connection (where it would
        // fail, and be reported as a write that may have been applied), but on a new one.
        let (addr, connections) = thread_backend(OK, b"", true);
        let url = format!("http://{addr}/");
        assert_eq!(client.send(get(&url)).await.unwrap().into_body(), "ok");
        std::thread::sleep(Duration::from_millis(50));
        let post = http::Request::post(&url)
            .body(Bytes::from_static(b"x"))
            .unwrap();
        let answer = client.send(post).await.unwrap();
        assert_eq!(answer.into_body(), "ok");
        assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn outbound_connections_keep_alive_at_the_tcp_level() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri: http::Uri = format!("http://{}/", l.local_addr().unwrap())
            .parse()
            .unwrap();
        let client = HttpClient::new();
        let conn = client
            .shared
            .connect(&Target::of(&uri).unwrap())
            .await
            .unwrap();
        let Conn::Plain(tcp) = &conn else {
            panic!("plain");
        };
        let sock = socket2::SockRef::from(tcp);
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(30));
        assert_eq!(
            sock.tcp_keepalive_interval().unwrap(),
            Duration::from_secs(10)
        );
        assert!(sock.tcp_nodelay().unwrap());
    }

    #[tokio::test]
    async fn idle_connections_are_capped_in_all_the_longest_idle_closed_first() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut client = HttpClient::with_settings(&ClientSettings {
            extra_roots: Vec::new(),
            connect_to: Some(ConnectTo::parse(&addr.to_string()).unwrap()),
        });
        Arc::get_mut(&mut client.shared).unwrap().max_idle = 3;
        // Five origins (an org per host name), one idle connection each.
        let uris: Vec<http::Uri> = (0..5)
            .map(|i| format!("http://org{i}.backend.test/").parse().unwrap())
            .collect();
        for uri in &uris {
            let t = Target::of(uri).unwrap();
            let conn = client.shared.connect(&t).await.unwrap();
            client.shared.checkin(&t, conn);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(client.idle_connections(), 3);
        // The first two handed back were closed; the last three are there to be used.
        for (i, uri) in uris.iter().enumerate() {
            let t = Target::of(uri).unwrap();
            assert_eq!(client.shared.checkout(&t).is_some(), i >= 2, "org{i}");
        }
        assert_eq!(client.idle_connections(), 0);
    }

    #[tokio::test]
    async fn a_pooled_connection_serves_only_its_own_scheme_host_and_port() {
        use std::hash::BuildHasher;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let client = HttpClient::with_settings(&ClientSettings {
            extra_roots: Vec::new(),
            connect_to: Some(ConnectTo::parse(&addr.to_string()).unwrap()),
        });
        let uri = |s: &str| s.parse::<http::Uri>().unwrap();
        let pooled = uri("http://org1.backend.test/");
        let t = Target::of(&pooled).unwrap();
        // A target hashes as its origin does (the map rehashes origins as it grows).
        let hasher = hashbrown::DefaultHashBuilder::default();
        assert_eq!(hasher.hash_one(Origin::from(&t)), hasher.hash_one(&t));
        let conn = client.shared.connect(&t).await.unwrap();
        client.shared.checkin(&t, conn);
        for other in [
            "https://org1.backend.test/",
            "http://org1.backend.test:8080/",
            "http://org2.backend.test/",
            "http://org1.backend.tes/",
        ] {
            let other = uri(other);
            assert!(
                client
                    .shared
                    .checkout(&Target::of(&other).unwrap())
                    .is_none(),
                "{other}"
            );
        }
        assert_eq!(client.idle_connections(), 1);
        // The same origin however the URL spells its default port.
        let same = uri("http://org1.backend.test:80/api/");
        assert!(
            client
                .shared
                .checkout(&Target::of(&same).unwrap())
                .is_some()
        );
        assert_eq!(client.idle_connections(), 0);
    }

    #[test]
    fn ca_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("orgway-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        assert!(
            load_ca_file(&empty)
                .unwrap_err()
                .contains("no PEM certificate")
        );
        let junk = dir.join("junk.pem");
        std::fs::write(
            &junk,
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(
            load_ca_file(&junk)
                .unwrap_err()
                .contains("cannot be trusted as a CA"),
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(ConnectTo::parse("[::1]:443").is_ok());
        assert_eq!(
            ConnectTo::parse("[::1]:443").unwrap().to_string(),
            "[::1]:443"
        );
    }
}
