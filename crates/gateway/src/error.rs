//! The one error type of the HTTP API, its codes, and the one function that writes it
//! (docs/API.md §6).
//!
//! Handlers and layers return `ApiError`. Its `IntoResponse` only sets the status and parks the
//! error in the response's extensions; the request-id layer, which knows the request id, then
//! calls [`render`] to write the body. So every error of every layer leaves through `render`,
//! in one shape, with the request id in it.
//!
//! [`ErrorCode`] is the one list of the codes: each with its status and wire name, and
//! [`ErrorCode::ALL`], from which the OpenAPI document's enum of codes is generated. A test
//! checks it against the table of docs/API.md §6, both ways.

use std::borrow::Cow;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use orgway_core::{BackendError, ErrorKind};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// Defines [`ErrorCode`] from one table, so the variants, [`ErrorCode::ALL`], the statuses
/// and the wire names cannot drift apart.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = ($status:ident, $wire:literal),)+) => {
        /// A stable, machine-readable error code of docs/API.md §6.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            /// Every code, in the order of the table of docs/API.md §6.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The code as it appears on the wire (`backend_timeout`, …).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $wire,)+
                }
            }

            /// The HTTP status an error with this code answers with.
            pub const fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)+
                }
            }
        }
    };
}

error_codes! {
    /// Malformed input: body, query or path.
    BadRequest = (BAD_REQUEST, "bad_request"),
    /// An org reference whose native id has the wrong shape.
    InvalidOrgRef = (BAD_REQUEST, "invalid_org_ref"),
    /// A missing, malformed, expired or wrongly signed caller token.
    Unauthorized = (UNAUTHORIZED, "unauthorized"),
    /// A scope or org not granted to the caller.
    Forbidden = (FORBIDDEN, "forbidden"),
    /// An unknown route, backend or alias, or the backend says it does not exist.
    NotFound = (NOT_FOUND, "not_found"),
    /// The backend reports a duplicate.
    Conflict = (CONFLICT, "conflict"),
    /// A known path with a method it does not have.
    MethodNotAllowed = (METHOD_NOT_ALLOWED, "method_not_allowed"),
    /// The caller did not send its request (headers or body) in time.
    RequestTimeout = (REQUEST_TIMEOUT, "request_timeout"),
    /// A body over the configured limit.
    PayloadTooLarge = (PAYLOAD_TOO_LARGE, "payload_too_large"),
    /// A patch field this backend cannot change.
    UnsupportedField = (UNPROCESSABLE_ENTITY, "unsupported_field"),
    /// An `Idempotency-Key` reused with another body.
    IdempotencyKeyReused = (UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
    /// The caller is over its rate.
    RateLimited = (TOO_MANY_REQUESTS, "rate_limited"),
    /// Request headers over the configured limit.
    HeadersTooLarge = (REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large"),
    /// A bug in the gateway.
    Internal = (INTERNAL_SERVER_ERROR, "internal"),
    /// The backend's dialect has no such operation or metric.
    Unsupported = (NOT_IMPLEMENTED, "unsupported"),
    /// The backend failed.
    BackendError = (BAD_GATEWAY, "backend_error"),
    /// The backend rejected the gateway's own credentials.
    BackendAuthFailed = (BAD_GATEWAY, "backend_auth_failed"),
    /// The backend sent something unparseable.
    BackendBadResponse = (BAD_GATEWAY, "backend_bad_response"),
    /// The backend is unreachable or rate-limiting the gateway.
    BackendUnavailable = (SERVICE_UNAVAILABLE, "backend_unavailable"),
    /// The gateway itself cannot serve (it is draining for shutdown).
    Unavailable = (SERVICE_UNAVAILABLE, "unavailable"),
    /// The backend did not answer in time.
    BackendTimeout = (GATEWAY_TIMEOUT, "backend_timeout"),
}

impl ErrorCode {
    /// Reads a wire name.
    pub fn parse(s: &str) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// In the OpenAPI document: a string, one of the wire names of [`ErrorCode::ALL`].
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "The stable, machine-readable error code (docs/API.md §6).",
            ))
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .build()
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The stable, machine-readable code (`backend_timeout`, …); it sets the status.
    pub code: ErrorCode,
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
    /// An error with a code and a message, and nothing else yet.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
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
        Self::new(ErrorCode::BadRequest, message)
    }

    /// `400 invalid_org_ref`: an org reference whose native id has the wrong shape.
    pub fn invalid_org_ref(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidOrgRef, message)
    }

    /// `404 not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// `405 method_not_allowed`: the path exists, the method does not (the `Allow` header lists
    /// the methods that do).
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::MethodNotAllowed, message)
    }

    /// `413 payload_too_large`.
    pub fn payload_too_large(limit: usize) -> Self {
        let mut e = Self::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than the limit of {limit} bytes"),
        );
        e.details.insert("limitBytes".into(), Value::from(limit));
        e
    }

    /// `422 unsupported_field`: patch fields the backend cannot change.
    pub fn unsupported_field(fields: Vec<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(ErrorCode::UnsupportedField, message);
        e.details.insert("fields".into(), Value::from(fields));
        e
    }

    /// `501 unsupported`, listing what is supported instead.
    pub fn unsupported(message: impl Into<String>, supported: Vec<String>) -> Self {
        let mut e = Self::new(ErrorCode::Unsupported, message);
        e.details.insert("supported".into(), Value::from(supported));
        e
    }

    /// `503 unavailable`: the gateway itself cannot serve (it is shutting down).
    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut e = Self::new(ErrorCode::Unavailable, message);
        e.retry_after = Some(5);
        e
    }

    /// `500 internal`: a bug in the gateway. The message says so and nothing more.
    pub fn internal() -> Self {
        Self::new(
            ErrorCode::Internal,
            "the gateway failed while handling the request",
        )
    }

    /// The HTTP status of the answer, which the code decides.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// Names the backend involved.
    pub fn with_backend(mut self, backend: &str) -> Self {
        self.backend = Some(backend.to_owned());
        self
    }

    /// Sets `Retry-After`, in seconds.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Adds a detail.
    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// The API's answer to a backend failure. A backend rejecting the gateway's credentials is
    /// a 502, never a 401: the caller did nothing wrong. The failure's own `details` come first;
    /// those the kind implies (`fields`, `supported`) are added after them.
    pub fn from_backend(backend: &str, e: BackendError) -> Self {
        let code = match &e.kind {
            ErrorKind::InvalidInput => ErrorCode::BadRequest,
            ErrorKind::NotFound => ErrorCode::NotFound,
            ErrorKind::Conflict => ErrorCode::Conflict,
            ErrorKind::UnsupportedField { .. } => ErrorCode::UnsupportedField,
            ErrorKind::Unsupported { .. } => ErrorCode::Unsupported,
            ErrorKind::AuthRejected => ErrorCode::BackendAuthFailed,
            ErrorKind::Upstream => ErrorCode::BackendError,
            ErrorKind::BadResponse => ErrorCode::BackendBadResponse,
            ErrorKind::Timeout => ErrorCode::BackendTimeout,
            ErrorKind::Unavailable | ErrorKind::RateLimited => ErrorCode::BackendUnavailable,
        };
        let retry_after = e.retry_after;
        let mut out = Self::new(code, e.message);
        out.backend = Some(backend.to_owned());
        out.backend_status = e.backend_status;
        out.details = e.details;
        match e.kind {
            ErrorKind::UnsupportedField { fields } => {
                out.details.insert("fields".into(), Value::from(fields));
            }
            ErrorKind::Unsupported { supported } => {
                out.details
                    .insert("supported".into(), Value::from(supported));
            }
            // An open circuit's time left open may be up to `circuit_open_ms` (an hour).
            ErrorKind::Unavailable => {
                out.retry_after = Some(retry_after.map_or(5, |d| d.as_secs().clamp(1, 3600)))
            }
            ErrorKind::RateLimited => {
                // The vendor's `Retry-After`, already clamped to 1–60 s by the adapter's core.
                out.retry_after = Some(retry_after.map_or(5, |d| d.as_secs().clamp(1, 60)));
                out.details.insert("rateLimited".into(), Value::from(true));
            }
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
            self.status().as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = self.status().into_response();
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
    code: ErrorCode,
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
        format!(
            r#"{{"error":{{"code":"{}","message":"error rendering failed"}}}}"#,
            ErrorCode::Internal
        )
        .into_bytes()
    });
    *resp.status_mut() = err.status();
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
            (BackendError::invalid_input("x"), 400, ErrorCode::BadRequest),
            (BackendError::not_found("x"), 404, ErrorCode::NotFound),
            (BackendError::conflict("x"), 409, ErrorCode::Conflict),
            (
                BackendError::unsupported_field(vec!["status".into()], "x"),
                422,
                ErrorCode::UnsupportedField,
            ),
            (
                BackendError::unsupported(vec!["devices".into()], "x"),
                501,
                ErrorCode::Unsupported,
            ),
            (
                BackendError::auth_rejected("x"),
                502,
                ErrorCode::BackendAuthFailed,
            ),
            (BackendError::upstream("x"), 502, ErrorCode::BackendError),
            (
                BackendError::bad_response("x"),
                502,
                ErrorCode::BackendBadResponse,
            ),
            (
                BackendError::unavailable("x"),
                503,
                ErrorCode::BackendUnavailable,
            ),
            (BackendError::timeout("x"), 504, ErrorCode::BackendTimeout),
        ];
        for (e, status, code) in cases {
            let a = ApiError::from_backend("b", e);
            assert_eq!((a.status().as_u16(), a.code), (status, code));
            assert_eq!(a.backend.as_deref(), Some("b"));
        }
    }

    #[test]
    fn backend_details_are_rendered() {
        let e = BackendError::upstream("second step failed")
            .with_detail("step", "remove-association")
            .with_detail("completed", vec!["remove-default"]);
        let a = ApiError::from_backend("cv", e);
        assert_eq!(a.details["step"], "remove-association");
        assert_eq!(
            a.details["completed"],
            serde_json::json!(["remove-default"])
        );
        let u = ApiError::from_backend(
            "cv",
            BackendError::unsupported(vec!["devices".into()], "x").with_detail("extra", 1),
        );
        assert_eq!(u.details.len(), 2);
        assert_eq!(u.details["supported"], serde_json::json!(["devices"]));
    }

    /// The (status, code) pairs of the table of docs/API.md §6.
    fn contract_table() -> Vec<(u16, String)> {
        let api =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/API.md"))
                .expect("docs/API.md is in the repository");
        let section = api
            .split("\n## ")
            .find(|s| s.starts_with("6. Errors"))
            .expect("docs/API.md has a §6 Errors");
        let mut pairs = Vec::new();
        for row in section.lines().filter(|l| l.starts_with('|')) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let Ok(status) = cells[1].parse::<u16>() else {
                continue; // the header and its rule
            };
            let codes: Vec<&str> = cells[2].split('`').skip(1).step_by(2).collect();
            assert!(!codes.is_empty(), "a §6 row without a code: {row}");
            pairs.extend(codes.into_iter().map(|c| (status, c.to_owned())));
        }
        assert!(pairs.len() > 10, "the §6 table was not found: {pairs:?}");
        pairs
    }

    #[test]
    fn error_codes_are_the_contract_table() {
        let table = contract_table();
        for code in ErrorCode::ALL {
            let pair = (code.status().as_u16(), code.as_str().to_owned());
            assert!(
                table.contains(&pair),
                "{code:?} {pair:?} is not in docs/API.md §6"
            );
        }
        for (status, wire) in &table {
            let code = ErrorCode::parse(wire)
                .unwrap_or_else(|| panic!("`{wire}` of docs/API.md §6 is no ErrorCode"));
            assert_eq!(code.status().as_u16(), *status, "{wire}");
        }
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len(), "wire names are unique");
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
