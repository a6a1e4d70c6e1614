//! Losant's errors (`{"type": …, "message": …}` with an HTTP status) as `BackendError`s.

use orgway_core::BackendError;
use orgway_core::text::excerpt;

use crate::wire::ErrorBody;

/// Classifies a non-2xx answer from Losant.
///
/// The vendor's `message` is passed on for the caller's own faults (400, 404, 409, 422), where
/// it says what was wrong with the request. For credential failures it is not: it could echo
/// what the gateway sent, and the caller can do nothing about it anyway.
pub fn from_status(backend: &str, status: u16, body: &[u8]) -> BackendError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let said = match (&parsed.kind, &parsed.message) {
        (Some(t), Some(m)) => Some(format!("{t}: {m}")),
        (None, Some(m)) => Some(m.clone()),
        (Some(t), None) => Some(t.clone()),
        (None, None) => None,
    }
    .map(|s| excerpt(&s, 300));
    let detail = said.as_ref().map(|s| format!(": {s}")).unwrap_or_default();
    let vendor = said.unwrap_or_else(|| format!("http {status}"));
    let err = match status {
        400 | 422 => {
            BackendError::invalid_input(format!("{backend} refused the request: {vendor}"))
        }
        401 => BackendError::auth_rejected(format!(
            "{backend} rejected the gateway's credentials (http 401)"
        )),
        403 => BackendError::auth_rejected(format!(
            "{backend} refused the gateway's token for this action (http 403): check its scopes"
        )),
        404 | 410 => BackendError::not_found(format!("{backend}: {vendor}")),
        409 => BackendError::conflict(format!("{backend}: {vendor}")),
        429 => BackendError::rate_limited(format!("{backend} is rate limiting the gateway"), None),
        503 => BackendError::unavailable(format!("{backend} is unavailable (http 503)")),
        504 => BackendError::timeout(format!(
            "{backend} timed out behind its web server (http 504)"
        )),
        s if s >= 500 => BackendError::upstream(format!("{backend} failed (http {s}){detail}")),
        s => {
            BackendError::upstream(format!("{backend} answered http {s}{detail}")).retryable(false)
        }
    };
    err.with_status(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgway_core::ErrorKind;

    #[test]
    fn statuses() {
        let e = from_status(
            "iot",
            404,
            br#"{"type":"NotFound","message":"Organization was not found"}"#,
        );
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.message, "iot: NotFound: Organization was not found");
        assert_eq!(e.backend_status, Some(404));

        let e = from_status(
            "iot",
            401,
            br#"{"type":"Unauthorized","message":"token abc is invalid"}"#,
        );
        assert_eq!(e.kind, ErrorKind::AuthRejected);
        assert!(!e.message.contains("abc"));

        let e = from_status(
            "iot",
            400,
            br#"{"type":"Validation","message":"name too long"}"#,
        );
        assert_eq!(e.kind, ErrorKind::InvalidInput);
        assert!(e.message.contains("name too long"));

        let e = from_status("iot", 502, b"<html>bad gateway</html>");
        assert_eq!(e.kind, ErrorKind::Upstream);
        assert!(e.retryable);
        assert_eq!(e.message, "iot failed (http 502)");
        let e = from_status("iot", 504, b"");
        assert_eq!(
            (e.kind, e.message.as_str(), e.backend_status),
            (
                ErrorKind::Timeout,
                "iot timed out behind its web server (http 504)",
                Some(504)
            )
        );

        assert_eq!(from_status("iot", 503, b"").kind, ErrorKind::Unavailable);
        assert_eq!(from_status("iot", 403, b"").kind, ErrorKind::AuthRejected);
    }
}
