//! The simulator's error answers. The vendor's OpenAPI document declares no body for any error
//! status (400 "Invalid input", 401 "Invalid session", 403 "Insufficient privileges", 404 "Not
//! found", 409 "Already exists"); it does define `HttpError {code*, detail, message}`, used by
//! its other error answers, so every error here is that shape: a short machine `code` and a
//! human `message`.

use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde_json::{Value, json};

/// A refused request, rendered as an `HttpError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 "Invalid input": a malformed id, parameter or body.
    pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    /// 401 "Invalid session" (or, for a login, "Invalid credentials").
    pub(crate) fn unauthorized(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 "Insufficient privileges".
    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 "Not found".
    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409 "Already exists", and a sale the reseller's quota cannot cover.
    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 405: a known path with a method the API does not have there.
    pub(crate) fn method_not_allowed(message: impl Into<String>) -> ApiError {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            message,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &json!({ "code": self.code, "message": self.message }),
        )
    }
}

/// A JSON answer.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    // Serialising a `Value` cannot fail; the fallback keeps the code free of `unwrap`.
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// The error body for a status forced by the fault knobs.
pub(crate) fn fault_error_body(status: StatusCode) -> Response {
    let code = match status.as_u16() {
        400 => "invalid_input",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "already_exists",
        429 => "too_many_requests",
        503 => "service_unavailable",
        500..=599 => "internal_error",
        _ => "error",
    };
    let message = status.canonical_reason().unwrap_or("Simulated failure");
    json_response(status, &json!({ "code": code, "message": message }))
}

/// A body that claims to be JSON and does not parse: an error object cut off mid-string.
pub(crate) fn fault_malformed_body() -> (&'static str, &'static str) {
    (
        "application/json",
        r#"{"code":"internal_error","message":"orchd: conn"#,
    )
}
