//! Commvault's failures as `BackendError`s.
//!
//! Commvault reports application failures in the body, usually with HTTP 200:
//! `{"error":{"errorCode":N,"errorMessage":…}}`, the flat `{"errorCode":N,"errorMessage":…}`, or
//! (login) `{"errList":[{"errLogMessage":…}]}`. `errorCode` 0 is success; anything else is an
//! error here, never a 200 to the caller. An HTML page (a web server's error page) or a body
//! that does not parse is `backend_bad_response`.

use orgway_core::BackendError;
use orgway_core::text::excerpt;
use serde_json::Value;

/// An application error reported in a JSON body, if any: `(code, message)`.
pub fn body_error(v: &Value) -> Option<(i64, String)> {
    let code_of = |o: &Value| -> Option<(i64, String)> {
        let code = o.get("errorCode")?;
        let code = code
            .as_i64()
            .or_else(|| code.as_str().and_then(|s| s.trim().parse().ok()))?;
        let msg = o
            .get("errorMessage")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        Some((code, msg))
    };
    for candidate in [v.get("error"), v.get("response"), Some(v)]
        .into_iter()
        .flatten()
    {
        if let Some((code, msg)) = code_of(candidate)
            && code != 0
        {
            return Some((code, msg));
        }
    }
    if let Some(list) = v.get("errList").and_then(Value::as_array)
        && let Some(first) = list.first()
    {
        let msg = first
            .get("errLogMessage")
            .or_else(|| first.get("errorMessage"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let code = first.get("errorCode").and_then(Value::as_i64).unwrap_or(-1);
        return Some((code, msg));
    }
    None
}

/// Classifies an application error by its message, the only description Commvault gives (its
/// table of error codes is not published): missing things are `404`, duplicates `409`, the rest
/// a backend failure that retrying will not fix.
pub fn from_body_error(backend: &str, status: u16, code: i64, message: &str) -> BackendError {
    let msg = excerpt(message, 300);
    let lower = msg.to_lowercase();
    let text = if msg.is_empty() {
        format!("{backend} reported error {code}")
    } else {
        format!("{backend} reported error {code}: {msg}")
    };
    let err = if [
        "does not exist",
        "doesn't exist",
        "not found",
        "no such",
        "not exist",
        "invalid organization",
        "not associated",
    ]
    .iter()
    .any(|p| lower.contains(p))
    {
        BackendError::not_found(text)
    } else if lower.contains("already") {
        BackendError::conflict(text)
    } else {
        BackendError::upstream(text).retryable(false)
    };
    err.with_status(status)
}

/// The `<title>` of an HTML page, which is where web servers put the error's name.
pub fn html_title(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let lower = text.to_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    Some(excerpt(&text[start..end], 300))
}

/// Whether a body looks like HTML rather than JSON.
pub fn looks_like_html(content_type: Option<&str>, body: &[u8]) -> bool {
    content_type.is_some_and(|c| c.to_ascii_lowercase().contains("html"))
        || body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'<')
}

/// Classifies a non-2xx answer (401 is handled by the session first).
pub fn from_status(
    backend: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> BackendError {
    let detail = if looks_like_html(content_type, body) {
        html_title(body)
            .map(|t| format!(" ({t})"))
            .unwrap_or_default()
    } else {
        match serde_json::from_slice::<Value>(body)
            .ok()
            .as_ref()
            .and_then(body_error)
        {
            Some((code, msg)) => format!(" (error {code}: {})", excerpt(&msg, 300)),
            None => String::new(),
        }
    };
    let err = match status {
        400 | 422 => BackendError::invalid_input(format!(
            "{backend} refused the request (http {status}){detail}"
        )),
        401 => BackendError::auth_rejected(format!(
            "{backend} rejected the gateway's credentials (http 401)"
        )),
        403 => BackendError::auth_rejected(format!(
            "{backend} refused the gateway's user this action (http 403)"
        )),
        404 => BackendError::not_found(format!("{backend}: not found (http 404){detail}")),
        409 => BackendError::conflict(format!("{backend}: conflict (http 409){detail}")),
        429 => BackendError::upstream(format!("{backend} is rate limiting the gateway")),
        503 => BackendError::unavailable(format!("{backend} is unavailable (http 503){detail}")),
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
    use serde_json::json;

    #[test]
    fn error_codes_in_bodies() {
        assert_eq!(
            body_error(&json!({"error": {"errorMessage": "", "errorCode": 0}})),
            None
        );
        assert_eq!(
            body_error(
                &json!({"error": {"errorMessage": "Plan [x] does not exist", "errorCode": 2}})
            ),
            Some((2, "Plan [x] does not exist".into()))
        );
        assert_eq!(
            body_error(&json!({"errorCode": 5, "errorMessage": "flat"})),
            Some((5, "flat".into()))
        );
        assert_eq!(
            body_error(&json!({"errorCode": "7"})),
            Some((7, String::new()))
        );
        assert_eq!(
            body_error(&json!({"response": {"errorCode": 3}})),
            Some((3, String::new()))
        );
        assert_eq!(
            body_error(&json!({"errList": [{"errLogMessage": "Invalid Username or Password"}]})),
            Some((-1, "Invalid Username or Password".into()))
        );
        assert_eq!(body_error(&json!({"organizationInfo": {}})), None);
    }

    #[test]
    fn classification() {
        let e = from_body_error("cv", 200, 2, "Plan [x] does not exist");
        assert_eq!((e.kind, e.backend_status), (ErrorKind::NotFound, Some(200)));
        assert_eq!(e.message, "cv reported error 2: Plan [x] does not exist");
        assert_eq!(
            from_body_error("cv", 200, 9, "Plan already associated").kind,
            ErrorKind::Conflict
        );
        let e = from_body_error("cv", 200, 11, "");
        assert_eq!(e.kind, ErrorKind::Upstream);
        assert!(!e.retryable);
        assert_eq!(e.message, "cv reported error 11");
    }

    #[test]
    fn html_pages() {
        let page =
            b"<html><head><TITLE>503 Service Unavailable</TITLE></head><body>down</body></html>";
        assert_eq!(html_title(page).as_deref(), Some("503 Service Unavailable"));
        assert!(looks_like_html(None, b"  <html>"));
        assert!(looks_like_html(Some("text/html; charset=utf-8"), b"{}"));
        let e = from_status("cv", 500, Some("text/html"), page);
        assert_eq!(e.kind, ErrorKind::Upstream);
        assert!(e.message.contains("(503 Service Unavailable)"));
        assert_eq!(
            from_status("cv", 403, None, b"").kind,
            ErrorKind::AuthRejected
        );
    }
}
