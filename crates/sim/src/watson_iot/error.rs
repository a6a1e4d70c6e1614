//! The vendor's error body, `ErrorMessage {message, exception {id, properties[]}}`, with
//! `violations[]` of the same shape for a 400 (the 2019 swagger's `ErrorMessage` and
//! `InvalidRequestMessage`; the sample wiotp-sdk keeps in `exceptions.py`).
//!
//! Message ids: `CUDRS0007E` (the request was not valid) and `CUDRS0012E` (one violation) are the
//! vendor's, from that sample. The documents give no ids for the other failures, so those are
//! the simulator's own, `CUDSM` + the status + `E`, with the texts of the View Organization
//! document (401, 403, 404) and the SDKs' messages.

use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde_json::{Value, json};

/// A failed request in the vendor's error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) id: String,
    pub(crate) message: String,
    pub(crate) violations: Vec<Violation>,
}

/// One constraint a 400 names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) message: String,
    pub(crate) properties: Vec<String>,
}

impl ApiError {
    fn own(status: StatusCode, text: &str) -> ApiError {
        let id = format!("CUDSM{:04}E", status.as_u16());
        ApiError {
            status,
            message: format!("{id}: {text}"),
            id,
            violations: Vec::new(),
        }
    }

    /// 401: "The authentication token is empty or invalid" (the document).
    pub(crate) fn unauthorized() -> ApiError {
        Self::own(
            StatusCode::UNAUTHORIZED,
            "The authentication token is empty or invalid.",
        )
    }

    /// 403: "The authentication method is invalid or the API key used does not exist".
    pub(crate) fn forbidden() -> ApiError {
        Self::own(
            StatusCode::FORBIDDEN,
            "The authentication method is invalid or the API key used does not exist.",
        )
    }

    /// 404: the organization does not exist.
    pub(crate) fn no_org(org: &str) -> ApiError {
        Self::own(
            StatusCode::NOT_FOUND,
            &format!("The organization '{org}' does not exist."),
        )
    }

    /// 404 for a path the API does not have.
    pub(crate) fn no_route(method: &http::Method, path: &str) -> ApiError {
        Self::own(
            StatusCode::NOT_FOUND,
            &format!("The resource {method} {path} does not exist."),
        )
    }

    /// 405 for a method a path does not take.
    pub(crate) fn method_not_allowed(method: &http::Method, path: &str) -> ApiError {
        Self::own(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("The method {method} is not supported for {path}."),
        )
    }

    /// 400 with the violations found.
    pub(crate) fn invalid(violations: Vec<Violation>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            id: "CUDRS0007E".into(),
            message:
                "CUDRS0007E: The request was not valid. Review the constraint violations provided."
                    .into(),
            violations,
        }
    }

    /// The body.
    pub(crate) fn body(&self) -> Value {
        let mut v = json!({
            "message": self.message,
            "exception": { "id": self.id, "properties": [] },
        });
        if !self.violations.is_empty() {
            v["violations"] = self
                .violations
                .iter()
                .map(|x| {
                    json!({
                        "message": x.message,
                        "exception": { "id": "CUDRS0012E", "properties": x.properties },
                    })
                })
                .collect();
        }
        v
    }
}

impl Violation {
    /// A query parameter with a value the API does not accept.
    pub(crate) fn parameter(name: &str, value: &str, expected: &str) -> Violation {
        Violation {
            message: format!(
                "CUDRS0012E: The value '{value}' of the parameter '{name}' is not valid: {expected}."
            ),
            properties: vec![name.to_owned(), value.to_owned()],
        }
    }

    /// A required query parameter that is missing.
    pub(crate) fn missing(name: &str) -> Violation {
        Violation {
            message: format!("CUDRS0012E: The parameter '{name}' is required."),
            properties: vec![name.to_owned(), String::new()],
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body())
    }
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    // Serialising a `Value` cannot fail (its keys are strings).
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// The error body for a status forced by the fault knobs.
pub(crate) fn fault_error_body(status: StatusCode) -> Response {
    match status.as_u16() {
        401 => ApiError::unauthorized().into_response(),
        403 => ApiError::forbidden().into_response(),
        _ => {
            let reason = status.canonical_reason().unwrap_or("Unexpected error");
            ApiError::own(status, &format!("{reason}.")).into_response()
        }
    }
}

/// A body that claims to be JSON and does not parse: an error body cut off mid-string.
pub(crate) fn fault_malformed_body() -> (&'static str, &'static str) {
    (
        "application/json",
        r#"{"message":"CUDSM0500E: Unexpected err"#,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let e = ApiError::invalid(vec![Violation::parameter("start", "x", "a date")]).body();
        assert_eq!(e["exception"]["id"], "CUDRS0007E");
        assert_eq!(e["violations"][0]["exception"]["id"], "CUDRS0012E");
        assert_eq!(e["violations"][0]["exception"]["properties"][0], "start");
        let e = ApiError::no_org("abc123").body();
        assert_eq!(e["exception"]["id"], "CUDSM0404E");
        assert!(e["message"].as_str().unwrap().starts_with("CUDSM0404E: "));
        assert!(e.get("violations").is_none());
    }
}
