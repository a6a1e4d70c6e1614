//! Enhance's failures as `BackendError`s. The vendor's document names each error status of an
//! operation (400 "Invalid input", 401 "Invalid session", 403 "Insufficient privileges", 404
//! "Not found", 409 "Already exists") but declares no body for them; when a body is there in
//! its `HttpError` shape (`{code, message, detail}`), its text is passed on for the caller's
//! own faults.

use orgway_core::BackendError;
use orgway_core::text::excerpt;

use crate::wire::HttpError;

/// Classifies a non-2xx answer (a 429 is read before, by `Answer::rate_limit`).
///
/// 401 and 403 refuse the gateway's own credentials (an expired session, a token without the
/// role, an org outside the token's reach): `backend_auth_failed`, never passed on as 401, and
/// without the vendor's text, which the caller can do nothing about.
pub fn from_status(backend: &str, status: u16, body: &[u8]) -> BackendError {
    let parsed: HttpError = serde_json::from_slice(body).unwrap_or_default();
    let said = parsed
        .message
        .or(parsed.detail)
        .or(parsed.code)
        .map(|m| excerpt(&m, 300))
        .filter(|m| !m.is_empty());
    let detail = said.as_ref().map(|m| format!(": {m}")).unwrap_or_default();
    let text = said.unwrap_or_else(|| format!("http {status}"));
    let err = match status {
        400 | 422 => BackendError::invalid_input(format!("{backend} refused the request: {text}")),
        401 => BackendError::auth_rejected(format!(
            "{backend} rejected the gateway's credentials (http 401)"
        )),
        403 => BackendError::auth_rejected(format!(
            "{backend} refused the gateway's credentials for this org (http 403): check the org they belong to and their role"
        )),
        404 | 410 => BackendError::not_found(format!("{backend}: {text}")),
        409 => BackendError::conflict(format!("{backend}: {text}")),
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
            "hosting",
            409,
            br#"{"code":"quota_exceeded","message":"not enough websites left"}"#,
        );
        assert_eq!(e.kind, ErrorKind::Conflict);
        assert_eq!(e.message, "hosting: not enough websites left");
        assert_eq!(e.backend_status, Some(409));
        let e = from_status(
            "hosting",
            401,
            br#"{"code":"x","message":"session abc expired"}"#,
        );
        assert_eq!(e.kind, ErrorKind::AuthRejected);
        assert!(!e.message.contains("abc"));
        assert_eq!(
            from_status("hosting", 403, b"").kind,
            ErrorKind::AuthRejected
        );
        let e = from_status("hosting", 400, br#"{"code":"invalid_input"}"#);
        assert_eq!(
            (e.kind, e.message.as_str()),
            (
                ErrorKind::InvalidInput,
                "hosting refused the request: invalid_input"
            )
        );
        let e = from_status("hosting", 404, b"");
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::NotFound, "hosting: http 404")
        );
        let e = from_status("hosting", 500, b"<html>");
        assert_eq!(e.kind, ErrorKind::Upstream);
        assert!(e.retryable);
        assert_eq!(e.message, "hosting failed (http 500)");
        let e = from_status("hosting", 502, br#"{"message":"upstream panel down"}"#);
        assert_eq!(e.message, "hosting failed (http 502): upstream panel down");
        assert_eq!(
            from_status("hosting", 503, b"").kind,
            ErrorKind::Unavailable
        );
        let e = from_status("hosting", 418, b"");
        assert!(!e.retryable);
        assert_eq!(e.message, "hosting answered http 418");
    }
}
