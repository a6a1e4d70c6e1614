//! Watson IoT's errors (`{message, exception {id, properties}}`, with `violations` on a 400,
//! and an HTTP status) as `BackendError`s.
//!
//! The statuses the View Organization document lists: 401 "the authentication token is empty
//! or invalid", 403 "the authentication method is invalid or the API key used does not exist",
//! 404 "the organization does not exist"; the usage routes add 400 with violations. 401 and
//! 403 are the gateway's own credentials being refused (`backend_auth_failed`), never the
//! caller's: the caller sent no credentials to the vendor.

use orgway_core::BackendError;
use orgway_core::text::excerpt;

use crate::wire::ErrorMessage;

/// The vendor's words, if its body has any: its message (which starts with its message id,
/// `CUDRS0007E: …`), then those of each violation, each without its closing period (messages
/// end without one).
fn vendor_words(body: &[u8]) -> Option<String> {
    let parsed: ErrorMessage = serde_json::from_slice(body).unwrap_or_default();
    let sentence = |s: &str| s.trim().trim_end_matches('.').to_owned();
    let mut parts: Vec<String> = Vec::new();
    match (
        &parsed.message,
        parsed.exception.as_ref().and_then(|e| e.id.as_ref()),
    ) {
        (Some(m), _) => parts.push(sentence(m)),
        (None, Some(id)) => parts.push(sentence(id)),
        (None, None) => {}
    }
    for v in parsed.violations.iter().flatten() {
        if let Some(m) = &v.message {
            parts.push(sentence(m));
        }
    }
    let text = excerpt(&parts.join("; "), 400);
    let text = text.trim_end_matches('.');
    (!text.is_empty()).then(|| text.to_owned())
}

/// The vendor's words, or the status when it has none.
fn vendor_text(status: u16, body: &[u8]) -> String {
    vendor_words(body).unwrap_or_else(|| format!("http {status}"))
}

/// Classifies a non-2xx answer (a 429 is read before, by core's `Answer::rate_limit`).
///
/// The vendor's text is passed on for the caller's own faults (400, 404); for credential
/// failures it is not: the caller can do nothing about them, and only the status matters.
pub fn from_status(backend: &str, status: u16, body: &[u8]) -> BackendError {
    let detail = || {
        vendor_words(body)
            .map(|w| format!(": {w}"))
            .unwrap_or_default()
    };
    let err = match status {
        400 => BackendError::invalid_input(format!(
            "{backend} refused the request: {}",
            vendor_text(status, body)
        )),
        401 => BackendError::auth_rejected(format!(
            "{backend} rejected the gateway's API key or token (http 401)"
        )),
        403 => BackendError::auth_rejected(format!(
            "{backend} refused the gateway's API key (http 403): it does not exist for this org, or cannot use this API"
        )),
        404 => BackendError::not_found(format!("{backend}: {}", vendor_text(status, body))),
        503 => BackendError::unavailable(format!("{backend} is unavailable (http 503)")),
        504 => BackendError::timeout(format!(
            "{backend} timed out behind its web server (http 504)"
        )),
        s if s >= 500 => BackendError::upstream(format!("{backend} failed (http {s}){}", detail())),
        s => BackendError::upstream(format!("{backend} answered http {s}{}", detail()))
            .retryable(false),
    };
    err.with_status(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgway_core::ErrorKind;

    #[test]
    fn statuses() {
        let body = br#"{"message":"CUDSM0404E: The organization 'zz0000' does not exist.","exception":{"id":"CUDSM0404E","properties":[]}}"#;
        let e = from_status("iot", 404, body);
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(
            e.message,
            "iot: CUDSM0404E: The organization 'zz0000' does not exist"
        );
        assert_eq!(e.backend_status, Some(404));

        for status in [401, 403] {
            let e = from_status("iot", status, br#"{"message":"token t0k3n is invalid"}"#);
            assert_eq!(e.kind, ErrorKind::AuthRejected);
            assert!(!e.message.contains("t0k3n"), "{}", e.message);
            assert!(e.message.contains(&format!("http {status}")));
        }

        let e = from_status("iot", 502, b"<html>bad gateway</html>");
        assert_eq!(e.kind, ErrorKind::Upstream);
        assert!(e.retryable);
        assert_eq!(e.message, "iot failed (http 502)");
        let e = from_status("iot", 500, br#"{"message":"CUDRS0500E: Internal error."}"#);
        assert_eq!(
            e.message,
            "iot failed (http 500): CUDRS0500E: Internal error"
        );
        assert_eq!(from_status("iot", 503, b"").kind, ErrorKind::Unavailable);
        let e = from_status("iot", 418, b"{}");
        assert_eq!(e.kind, ErrorKind::Upstream);
        assert!(!e.retryable);
        assert_eq!(e.message, "iot answered http 418");
    }
}
