//! The one error type of the HTTP API and the one function that writes it (docs/API.md §6).
//!
//! Handlers and layers return `ApiError`. Its `IntoResponse` only sets the status and parks the
//! error in the response's extensions; the request-id layer, which knows the request id, then
//! calls [`render`] to write the body. So every error of every layer leaves through `render`,
//! in one shape, with the request id in it.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use orgway_core::{BackendError, ErrorKind};
use serde::Serialize;
use serde_json::{Map, Value};

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    /// The stable, machine-readable code (`backend_timeout`, …).
    pub code: &'static str,
    /// One lowercase sentence, no trailing period, no secrets.
    pub message: String,
    /// The backend involved, if any.
    pub backend: Option<String>,
    /// The HTTP status the backend answered with, if it answered.
    pub backend_status: Option<u16>,
    pub details: Map<String, Value>,
    /// Seconds, for `Retry-After` (429 and 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            backend: None,
            backend_status: None,
            details: Map::new(),
            retry_after: None,
        }
    }

    /// `400 bad_request`: malformed body, query or path.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// `400 invalid_org_ref`: an org reference whose native id has the wrong shape.
    pub fn invalid_org_ref(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_org_ref", message)
    }

    /// `404 not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// `405 method_not_allowed`: the path exists, the method does not (the `Allow` header lists
    /// the methods that do).
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            message,
        )
    }

    /// `413 payload_too_large`.
    pub fn payload_too_large(limit: usize) -> Self {
        let mut e = Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than the limit of {limit} bytes"),
        );
        e.details.insert("limitBytes".into(), Value::from(limit));
        e
    }

    /// `422 unsupported_field`: patch fields the backend cannot change.
    pub fn unsupported_field(fields: Vec<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_field",
            message,
        );
        e.details.insert("fields".into(), Value::from(fields));
        e
    }

    /// `501 unsupported`, listing what is supported instead.
    pub fn unsupported(message: impl Into<String>, supported: Vec<String>) -> Self {
        let mut e = Self::new(StatusCode::NOT_IMPLEMENTED, "unsupported", message);
        e.details.insert("supported".into(), Value::from(supported));
        e
    }

    /// `503 unavailable`: the gateway itself cannot serve (it is shutting down).
    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message);
        e.retry_after = Some(5);
        e
    }

    /// `500 internal`: a bug in the gateway. The message says so and nothing more.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the gateway failed while handling the request",
        )
    }

    /// Names the backend involved.
    pub fn with_backend(mut self, backend: &str) -> Self {
        self.backend = Some(backend.to_owned());
        self
    }

    /// Adds a detail.
    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// The API's answer to a backend failure. A backend rejecting the gateway's credentials is
    /// a 502, never a 401: the caller did nothing wrong.
    pub fn from_backend(backend: &str, e: BackendError) -> Self {
        let (status, code) = match &e.kind {
            ErrorKind::InvalidInput => (StatusCode::BAD_REQUEST, "bad_request"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict"),
            ErrorKind::UnsupportedField { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "unsupported_field")
            }
            ErrorKind::Unsupported { .. } => (StatusCode::NOT_IMPLEMENTED, "unsupported"),
            ErrorKind::AuthRejected => (StatusCode::BAD_GATEWAY, "backend_auth_failed"),
            ErrorKind::Upstream => (StatusCode::BAD_GATEWAY, "backend_error"),
            ErrorKind::BadResponse => (StatusCode::BAD_GATEWAY, "backend_bad_response"),
            ErrorKind::Timeout => (StatusCode::GATEWAY_TIMEOUT, "backend_timeout"),
            ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "backend_unavailable"),
        };
        let mut out = Self::new(status, code, e.message);
        out.backend = Some(backend.to_owned());
        out.backend_status = e.backend_status;
        match e.kind {
            ErrorKind::UnsupportedField { fields } => {
                out.details.insert("fields".into(), Value::from(fields));
            }
            ErrorKind::Unsupported { supported } => {
                out.details
                    .insert("supported".into(), Value::from(supported));
            }
            ErrorKind::Unavailable => out.retry_after = Some(5),
            _ => {}
        }
        out
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = self.status.into_response();
        resp.extensions_mut().insert(Arc::new(self));
        resp
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    backend: Option<&'a str>,
    backend_status: Option<u16>,
    request_id: &'a str,
    details: &'a Map<String, Value>,
}

/// Writes an error as the API's one error shape. Every error response leaves through here.
pub fn render(err: &ApiError, request_id: &str, mut resp: Response) -> Response {
    let body = Body {
        error: Inner {
            code: err.code,
            message: &err.message,
            backend: err.backend.as_deref(),
            backend_status: err.backend_status,
            request_id,
            details: &err.details,
        },
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| {
        br#"{"error":{"code":"internal","message":"error rendering failed"}}"#.to_vec()
    });
    *resp.status_mut() = err.status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.remove(header::CONTENT_LENGTH);
    if let Some(secs) = err.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    let (parts, _) = resp.into_parts();
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_errors_map_to_the_status_table() {
        let cases = [
            (BackendError::invalid_input("x"), 400, "bad_request"),
            (BackendError::not_found("x"), 404, "not_found"),
            (BackendError::conflict("x"), 409, "conflict"),
            (
                BackendError::unsupported_field(vec!["status".into()], "x"),
                422,
                "unsupported_field",
            ),
            (
                BackendError::unsupported(vec!["devices".into()], "x"),
                501,
                "unsupported",
            ),
            (BackendError::auth_rejected("x"), 502, "backend_auth_failed"),
            (BackendError::upstream("x"), 502, "backend_error"),
            (BackendError::bad_response("x"), 502, "backend_bad_response"),
            (BackendError::unavailable("x"), 503, "backend_unavailable"),
            (BackendError::timeout("x"), 504, "backend_timeout"),
        ];
        for (e, status, code) in cases {
            let a = ApiError::from_backend("b", e);
            assert_eq!((a.status.as_u16(), a.code), (status, code));
            assert_eq!(a.backend.as_deref(), Some("b"));
        }
    }

    #[test]
    fn rendered_shape() {
        let e = ApiError::unsupported("no such metric", vec!["devices".into()]).with_backend("iot");
        let resp = render(&e, "rid-1", e.clone().into_response());
        assert_eq!(resp.status(), StatusCode::NOT_IMPLEMENTED);
        let body = futures_body(resp);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"code": "unsupported", "message": "no such metric", "backend": "iot",
                "backendStatus": null, "requestId": "rid-1", "details": {"supported": ["devices"]}}})
        );
    }

    fn futures_body(resp: Response) -> bytes::Bytes {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap()
        })
    }
}
