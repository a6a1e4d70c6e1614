//! The vendor's error body, `{"type": …, "message": …}` (`error.json`), and which status each
//! kind of failure gets.
//!
//! The Instance Org docs list 400 ("Error if malformed request") and 404 ("Error if instance or
//! organization was not found") for every action; 401 is what the API answers a missing or bad
//! token with (dialects.md §1.4). Every 400 carries the type `Validation`, every 404 `NotFound`.

use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde_json::{Value, json};

/// A failed request, rendered in the vendor's error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

impl ApiError {
    /// 400: the request is malformed (bad parameter, bad body).
    pub(crate) fn validation(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "Validation",
            message: message.into(),
        }
    }

    /// 404: the instance, the organization or the route does not exist.
    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            kind: "NotFound",
            message: message.into(),
        }
    }

    /// 401: no token, or one the simulator does not know.
    pub(crate) fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            kind: "Unauthorized",
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &json!({ "type": self.kind, "message": self.message }),
        )
    }
}

/// A JSON response with the vendor's content type.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    // Serialising a `Value` cannot fail (its keys are strings); the fallback only keeps the
    // code free of `unwrap`.
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        bytes,
    )
        .into_response()
}

/// The error body for a status forced by the fault knobs, typed the way the vendor would type
/// a real failure with that status.
pub(crate) fn fault_error_body(status: StatusCode) -> Response {
    let kind = match status.as_u16() {
        400 => "Validation",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        410 => "Gone",
        422 => "Unprocessable",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        500..=599 => "ServerError",
        _ => "Error",
    };
    let message = status
        .canonical_reason()
        .unwrap_or("Simulated failure")
        .to_owned();
    json_response(status, &json!({ "type": kind, "message": message }))
}

/// A body that claims to be JSON and does not parse: an error object cut off mid-string.
pub(crate) fn fault_malformed_body() -> (&'static str, &'static str) {
    (
        "application/json; charset=utf-8",
        r#"{"type":"ServerError","message":"Upstream conn"#,
    )
}
