//! The outbound HTTP client every adapter shares: hyper-util's pooled client over rustls
//! (Mozilla's roots), HTTP/1.1, keep-alive. It implements core's `Transport`, reads whole
//! answers up to a size limit, and classifies failures (unreachable, broken connection, too
//! large, too slow) without ever formatting a header.
//!
//! Each request may carry core's `RequestLimits` (the backend's `timeout_ms` and
//! `max_response_bytes`): the whole exchange, answer headers and body, is then bounded by that
//! time and size. A request without them gets [`DEFAULT_EXCHANGE_TIMEOUT`] and
//! [`MAX_RESPONSE_BYTES`], so no exchange can hang forever.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use orgway_core::{BoxFuture, RequestLimits, Transport, TransportError};

/// The largest answer read from a backend when the backend sets no `max_response_bytes`:
/// 4 MiB. A larger one is a bad response.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// How long an exchange may take when the request carries no limits.
pub const DEFAULT_EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// The pooled client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    max_body: usize,
}

impl HttpClient {
    /// A client trusting the Mozilla root certificates.
    pub fn new() -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build(https);
        HttpClient {
            client,
            max_body: MAX_RESPONSE_BYTES,
        }
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

/// The innermost cause of an error, which is where hyper puts the useful words
/// ("Connection refused"). Causes never contain headers or bodies.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

impl Transport for HttpClient {
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
        let (timeout, max) = match req.extensions().get::<RequestLimits>() {
            Some(l) => (l.timeout, l.max_response_bytes),
            None => (DEFAULT_EXCHANGE_TIMEOUT, self.max_body),
        };
        let fut = self.client.request(req.map(Full::new));
        let exchange = async move {
            let resp = fut.await.map_err(|e| {
                if e.is_connect() {
                    TransportError::Connect(root_cause(&e))
                } else {
                    TransportError::Io(root_cause(&e))
                }
            })?;
            let (parts, body) = resp.into_parts();
            let bytes = Limited::new(body, max)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        TransportError::TooLarge(max)
                    } else {
                        TransportError::Io(root_cause(e.as_ref()))
                    }
                })?
                .to_bytes();
            Ok(http::Response::from_parts(parts, bytes))
        };
        Box::pin(async move {
            tokio::time::timeout(timeout, exchange)
                .await
                .unwrap_or(Err(TransportError::Timeout))
        })
    }
}
