//! The outbound HTTP seam between adapters and the gateway's shared, pooled client.
//!
//! Adapters build `http::Request`s and read `http::Response`s with whole bodies; the gateway
//! supplies the implementation (its own HTTP/1.1 client over tokio-rustls, `client.rs`).
//! Keeping the seam here means adapters never depend on a runtime or a connection pool, and
//! tests can put anything behind it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::error::BackendError;

/// A boxed, sendable future: what object-safe async trait methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one request and reads the whole answer.
pub trait Transport: Send + Sync + fmt::Debug {
    /// Sends `req`. Only transport failures are errors; every HTTP status is an `Ok` answer.
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>>;
}

/// Limits on one outbound exchange, set by the gateway from the backend's configuration and
/// carried to the transport as a request extension (see `CallContext::send`): the whole
/// exchange, answer headers and body, must finish within `timeout`, and the answer's body may
/// be at most `max_response_bytes` long. So no request an adapter sends — a login shared by
/// many waiting calls included — can hang the backend beyond its configured time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    pub timeout: std::time::Duration,
    pub max_response_bytes: usize,
}

/// Why a request got no HTTP answer.
///
/// Messages carry no URLs with credentials and no headers: base URLs with user info are refused
/// when the configuration is loaded, and headers are never formatted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No connection could be made (refused, DNS, connect timeout).
    #[error("could not connect: {0}")]
    Connect(String),
    /// The TLS handshake failed: most often the backend's certificate is not trusted (an
    /// unknown issuer, another host's name, expired). Not "unreachable": something answered,
    /// and asking again will not change its certificate. The text says why, starting with
    /// what failed (`the backend's certificate is not trusted: …`).
    #[error("{0}")]
    Tls(String),
    /// The transport's own deadline passed.
    #[error("no answer in time")]
    Timeout,
    /// The connection failed after it was made.
    #[error("connection failed: {0}")]
    Io(String),
    /// The answer's body was larger than the transport accepts.
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
    /// The adapter built a request the transport cannot send.
    #[error("request could not be sent: {0}")]
    InvalidRequest(String),
}

impl TransportError {
    /// Classifies the failure for the caller: unreachable is 503, too slow 504, the rest 502
    /// (a failed TLS handshake included, and never retried).
    pub fn into_backend_error(self, backend: &str) -> BackendError {
        match &self {
            TransportError::Connect(_) => {
                BackendError::unavailable(format!("{backend} is unreachable: {self}"))
            }
            TransportError::Tls(_) => {
                BackendError::upstream(format!("{backend}: {self}")).retryable(false)
            }
            TransportError::Timeout => {
                BackendError::timeout(format!("{backend} did not answer in time"))
            }
            TransportError::Io(_) => BackendError::upstream(format!("{backend}: {self}")),
            TransportError::TooLarge(_) => {
                BackendError::bad_response(format!("{backend} sent an {self}"))
            }
            TransportError::InvalidRequest(_) => {
                BackendError::upstream(format!("{backend}: {self}")).retryable(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn a_certificate_not_trusted_is_a_backend_error_not_unreachable() {
        let e = TransportError::Tls(
            "the backend's certificate is not trusted: invalid peer certificate: UnknownIssuer"
                .into(),
        )
        .into_backend_error("iot");
        assert_eq!(e.kind, ErrorKind::Upstream);
        assert!(!e.retryable);
        assert_eq!(
            e.message,
            "iot: the backend's certificate is not trusted: invalid peer certificate: UnknownIssuer"
        );
        let e = TransportError::Connect("Connection refused".into()).into_backend_error("iot");
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert_eq!(
            e.message,
            "iot is unreachable: could not connect: Connection refused"
        );
        let e = TransportError::Io("the answer has an invalid header name".into())
            .into_backend_error("iot");
        assert_eq!(e.kind, ErrorKind::Upstream);
        assert_eq!(
            e.message,
            "iot: connection failed: the answer has an invalid header name"
        );
    }
}
