//! `BackendError`: how an adapter classifies a failure, so that the gateway's policy stack (retry,
//! circuit breaking) and its one error renderer can act on it without knowing the vendor.

use std::fmt;

use serde_json::{Map, Value};

/// What kind of failure happened, from the caller's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed for this backend (caller's fault; `400 bad_request`).
    InvalidInput,
    /// The backend says the thing does not exist (`404 not_found`).
    NotFound,
    /// The backend reports a duplicate (`409 conflict`).
    Conflict,
    /// The patch touches fields this backend cannot change (`422 unsupported_field`).
    UnsupportedField { fields: Vec<String> },
    /// The backend's dialect has no such operation or metric (`501 unsupported`); `supported`
    /// lists what it does offer, where that is meaningful.
    Unsupported { supported: Vec<String> },
    /// The backend rejected the gateway's own credentials (`502 backend_auth_failed`).
    AuthRejected,
    /// The backend failed (`502 backend_error`).
    Upstream,
    /// The backend answered something unparseable (`502 backend_bad_response`).
    BadResponse,
    /// The backend did not answer in time (`504 backend_timeout`).
    Timeout,
    /// The backend could not be reached (`503 backend_unavailable`).
    Unavailable,
    /// The backend is rate limiting the gateway (`503 backend_unavailable` with the vendor's
    /// `Retry-After`, clamped to 1–60 s). Not a failure of the backend: it answered.
    RateLimited,
}

/// A failed backend call.
///
/// `message` is lowercase, has no trailing period and never contains a secret: adapters build
/// it from their own words and, at most, the vendor's error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError {
    pub kind: ErrorKind,
    pub message: String,
    /// The HTTP status the backend answered with, if it answered.
    pub backend_status: Option<u16>,
    /// Whether the same call may succeed if tried again (only ever acted on for reads).
    pub retryable: bool,
    /// For a rate limit: when the vendor says to come back, within 1–60 s.
    pub retry_after: Option<std::time::Duration>,
    /// Facts a caller may act on, rendered into the API error's `details` (for example which
    /// step of a multi-request change failed, and which steps were done before). Keys are
    /// camelCase; values never hold secrets. Empty for most failures.
    pub details: Map<String, Value>,
}

impl BackendError {
    /// A failure of the given kind. Retryability defaults by kind: timeouts, unreachable
    /// backends and 5xx-style upstream failures may be retried; everything else may not.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let retryable = matches!(
            kind,
            ErrorKind::Timeout | ErrorKind::Unavailable | ErrorKind::Upstream
        );
        BackendError {
            kind,
            message: message.into(),
            backend_status: None,
            retryable,
            retry_after: None,
            details: Map::new(),
        }
    }

    /// The caller's request is invalid for this backend.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// The backend says the thing does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// The backend reports a duplicate.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// The backend cannot change these fields.
    pub fn unsupported_field(fields: Vec<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::UnsupportedField { fields }, message)
    }

    /// The backend's dialect has no such operation or metric.
    pub fn unsupported(supported: Vec<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported { supported }, message)
    }

    /// The backend rejected the gateway's credentials.
    pub fn auth_rejected(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::AuthRejected, message)
    }

    /// The backend failed.
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Upstream, message)
    }

    /// The backend's answer could not be understood.
    pub fn bad_response(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadResponse, message)
    }

    /// The backend did not answer in time.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }

    /// The backend could not be reached.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// The backend is rate limiting the gateway; `retry_after` is what it asked for (its
    /// `Retry-After`), clamped to 1–60 s, or 5 s when it named nothing.
    pub fn rate_limited(
        message: impl Into<String>,
        retry_after: Option<std::time::Duration>,
    ) -> Self {
        let secs = retry_after.map_or(5, |d| d.as_secs().clamp(1, 60));
        let mut e = Self::new(ErrorKind::RateLimited, message).retryable(false);
        e.retry_after = Some(std::time::Duration::from_secs(secs));
        e
    }

    /// Records the HTTP status the backend answered with.
    pub fn with_status(mut self, status: u16) -> Self {
        self.backend_status = Some(status);
        self
    }

    /// Adds a detail (see [`BackendError::details`]).
    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// This failure, met after the backend made the change a write asked for (reading its
    /// acknowledgement, or reading back what it made). The change stands, so the failure must not read
    /// as one that left nothing done (a 503, a 404) or that may be tried again: it becomes
    /// `502 backend_error` with `details.outcome: "applied"`, keeping the backend's status and
    /// any details.
    pub fn after_change(self, backend: &str) -> Self {
        let mut e = BackendError::upstream(format!(
            "{backend} made the change, but reading its result failed: {}",
            self.message
        ))
        .retryable(false);
        e.backend_status = self.backend_status;
        e.details = self.details;
        e.with_detail("outcome", "applied")
    }

    /// Overrides the default retryability.
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Whether the failure is the caller's fault (a 4xx), as opposed to the backend's or the
    /// gateway's. Circuit breakers count only failures that are not.
    pub fn is_callers_fault(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::InvalidInput
                | ErrorKind::NotFound
                | ErrorKind::Conflict
                | ErrorKind::UnsupportedField { .. }
                | ErrorKind::Unsupported { .. }
        )
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BackendError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_retryability_by_kind() {
        assert!(BackendError::timeout("t").retryable);
        assert!(BackendError::unavailable("u").retryable);
        assert!(BackendError::upstream("x").retryable);
        assert!(!BackendError::auth_rejected("a").retryable);
        assert!(!BackendError::not_found("n").retryable);
        assert!(!BackendError::bad_response("b").retryable);
        assert!(!BackendError::upstream("x").retryable(false).retryable);
    }

    #[test]
    fn a_failure_after_the_change_says_it_was_applied() {
        let e = BackendError::unavailable("crm is unavailable (http 503)")
            .with_status(503)
            .with_detail("step", "read")
            .after_change("crm");
        assert_eq!(e.kind, ErrorKind::Upstream);
        assert!(!e.retryable);
        assert_eq!(e.backend_status, Some(503));
        assert_eq!(
            e.message,
            "crm made the change, but reading its result failed: crm is unavailable (http 503)"
        );
        assert_eq!(e.details["outcome"], "applied");
        assert_eq!(e.details["step"], "read");
    }

    #[test]
    fn details_are_kept() {
        let e = BackendError::upstream("x")
            .with_detail("step", "second")
            .with_detail("completed", vec!["first"]);
        assert_eq!(e.details["step"], "second");
        assert_eq!(e.details["completed"], serde_json::json!(["first"]));
        assert!(BackendError::upstream("x").details.is_empty());
    }

    #[test]
    fn callers_fault() {
        assert!(BackendError::not_found("n").is_callers_fault());
        assert!(BackendError::unsupported(vec![], "u").is_callers_fault());
        assert!(!BackendError::auth_rejected("a").is_callers_fault());
        assert!(!BackendError::timeout("t").is_callers_fault());
    }
}
