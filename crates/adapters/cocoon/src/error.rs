//! The Access Service's failures as `BackendError`s.
//!
//! Cocoon documents only its successes ("For successful requests only, a JSON-formatted
//! response … is returned", dialects.md §3.4): a failure is known by its HTTP status. The body,
//! when it is Spring's `{status, error, message}` or OAuth2's `{error, error_description}`,
//! adds its message to ours, except for credential failures, whose vendor text is never
//! repeated (an OAuth2 description may quote the token it refuses).

use orgway_core::BackendError;
use orgway_core::text::excerpt;

use crate::wire::ErrorBody;

/// The vendor's own words about a failure, if its body has any.
fn vendor_message(body: &[u8]) -> Option<String> {
    let b: ErrorBody = serde_json::from_slice(body).ok()?;
    let text = b.message.or(b.error_description).or(b.error)?;
    let text = excerpt(&text, 300);
    (!text.is_empty()).then_some(text)
}

/// Classifies a non-2xx answer of an API route (a 429 is taken by `Answer::rate_limit` first,
/// and a 401 by the session, which renews the token once).
pub fn from_status(backend: &str, status: u16, body: &[u8]) -> BackendError {
    let detail = || {
        vendor_message(body)
            .map(|m| format!(": {m}"))
            .unwrap_or_default()
    };
    let err = match status {
        401 => BackendError::auth_rejected(format!(
            "{backend} rejected the gateway's access token (http 401)"
        )),
        403 => BackendError::auth_rejected(format!(
            "{backend} refused the gateway's user this action (http 403)"
        )),
        404 => BackendError::not_found(format!("{backend}: not found (http 404){}", detail())),
        400 | 422 => BackendError::invalid_input(format!(
            "{backend} refused the request (http {status}){}",
            detail()
        )),
        409 => BackendError::conflict(format!("{backend}: conflict (http 409){}", detail())),
        503 => {
            BackendError::unavailable(format!("{backend} is unavailable (http 503){}", detail()))
        }
        504 => BackendError::timeout(format!(
            "{backend} timed out behind its web server (http 504)"
        )),
        s if s >= 500 => BackendError::upstream(format!("{backend} failed (http {s}){}", detail())),
        s => BackendError::upstream(format!("{backend} answered http {s}{}", detail()))
            .retryable(false),
    };
    err.with_status(status)
}

/// The OAuth2 error code of a token endpoint's refusal (`invalid_grant`, `invalid_client`,
/// …): a word from a fixed vocabulary, so safe to repeat, unlike its description.
pub fn oauth_code(body: &[u8]) -> Option<String> {
    let b: ErrorBody = serde_json::from_slice(body).ok()?;
    b.error.filter(|c| {
        !c.is_empty() && c.len() <= 40 && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    })
}

/// A token request the vendor refused: `502 backend_auth_failed`, with the status and the
/// OAuth2 error code, never the vendor's description.
pub fn token_refused(backend: &str, grant: &str, status: u16, body: &[u8]) -> BackendError {
    let code = oauth_code(body)
        .map(|c| format!(", {c}"))
        .unwrap_or_default();
    BackendError::auth_rejected(format!(
        "{backend} refused the gateway's {grant} grant (http {status}{code})"
    ))
    .with_status(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgway_core::ErrorKind;

    #[test]
    fn statuses() {
        let spring = br#"{"timestamp":1,"status":404,"error":"Not Found","message":"Organisation not found","path":"/x"}"#;
        let e = from_status("share", 404, spring);
        assert_eq!((e.kind, e.backend_status), (ErrorKind::NotFound, Some(404)));
        assert_eq!(
            e.message,
            "share: not found (http 404): Organisation not found"
        );
        assert_eq!(from_status("s", 400, b"").kind, ErrorKind::InvalidInput);
        assert_eq!(from_status("s", 409, b"").kind, ErrorKind::Conflict);
        assert_eq!(from_status("s", 403, b"").kind, ErrorKind::AuthRejected);
        assert_eq!(from_status("s", 503, b"").kind, ErrorKind::Unavailable);
        assert_eq!(from_status("s", 504, b"").kind, ErrorKind::Timeout);
        let e = from_status("s", 500, b"<html>");
        assert_eq!((e.kind, e.retryable), (ErrorKind::Upstream, true));
        assert_eq!(e.message, "s failed (http 500)");
        let e = from_status("s", 415, b"");
        assert_eq!((e.kind, e.retryable), (ErrorKind::Upstream, false));
        // Credential failures never repeat the vendor's text.
        let e = from_status(
            "s",
            401,
            br#"{"error":"invalid_token","error_description":"Invalid access token: eyJ.secret"}"#,
        );
        assert_eq!(e.kind, ErrorKind::AuthRejected);
        assert!(!e.message.contains("secret"), "{}", e.message);
    }

    #[test]
    fn token_refusals() {
        let e = token_refused(
            "share",
            "refresh_token",
            400,
            br#"{"error":"invalid_grant","error_description":"Invalid refresh token: r3fr3sh"}"#,
        );
        assert_eq!(
            (e.kind, e.backend_status),
            (ErrorKind::AuthRejected, Some(400))
        );
        assert_eq!(
            e.message,
            "share refused the gateway's refresh_token grant (http 400, invalid_grant)"
        );
        let e = token_refused("share", "password", 404, b"<html>");
        assert_eq!(
            e.message,
            "share refused the gateway's password grant (http 404)"
        );
        assert_eq!(oauth_code(br#"{"error":"Bad Thing: x"}"#), None);
    }
}
