//! Commvault's failures as `BackendError`s.
//!
//! Commvault reports application failures in the body, usually with HTTP 200:
//! `{"error":{"errorCode":N,"errorMessage":…}}`, the flat `{"errorCode":N,"errorMessage":…}`, or
//! (login) `{"errList":[{"errLogMessage":…}]}`. `errorCode` 0 is success; anything else is an
//! error here, never a 200 to the caller. An HTML page (a web server's error page) or a body
//! that does not parse is `backend_bad_response`.

use orgway_core::BackendError;
use orgway_core::call::{html_title, looks_like_html};
use orgway_core::text::excerpt;
use serde_json::Value;

/// An application error reported in a JSON body, if any: `(code, message)`. The code may be
/// written as an integer, a float or a string; one that is not a number at all is reported as
/// code -1, since a body that names an error code cannot be taken for a success.
pub fn body_error(v: &Value) -> Option<(i64, String)> {
    let code_of = |o: &Value| -> Option<(i64, String)> {
        let code = match o.get("errorCode")? {
            Value::Null => return None,
            Value::Number(n) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                        .map(|f| f as i64)
                })
                .unwrap_or(-1),
            Value::String(s) => s.trim().parse().unwrap_or(-1),
            _ => -1,
        };
        let msg = o
            .get("errorMessage")
            .or_else(|| o.get("errLogMessage"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        Some((code, msg))
    };
    // `{"error":{…}}`, `{"response":{…}}` or `{"response":[{…}, …]}`, or the flat form.
    let mut candidates: Vec<&Value> = Vec::new();
    for key in ["error", "response"] {
        match v.get(key) {
            Some(Value::Array(items)) => candidates.extend(items.iter()),
            Some(o) => candidates.push(o),
            None => {}
        }
    }
    candidates.push(v);
    for candidate in candidates {
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

/// An application error reported in an XML body (`<App_GenericResp errorCode="2"
/// errorMessage="…"/>`, or on an `error`/`response` child of the root), if any. `Err` when the
/// body is not well-formed XML.
pub fn xml_body_error(body: &[u8]) -> Result<Option<(i64, String)>, String> {
    use quick_xml::events::Event;
    let text = std::str::from_utf8(body).map_err(|_| "not UTF-8".to_owned())?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut depth = 0usize;
    let mut found = None;
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                (None, false)
            }
            Event::Eof => break,
            _ => (None, false),
        };
        if let Some(e) = start {
            elements += 1;
            if depth <= 1 && found.is_none() {
                let attr = |name: &str| {
                    e.try_get_attribute(name).ok().flatten().and_then(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .ok()
                            .map(|v| v.into_owned())
                    })
                };
                if let Some(code) = attr("errorCode") {
                    let code = code.trim().parse::<i64>().unwrap_or(-1);
                    if code != 0 {
                        let msg = attr("errorMessage")
                            .or_else(|| attr("errLogMessage"))
                            .unwrap_or_default();
                        found = Some((code, msg));
                    }
                }
            }
            if !empty {
                depth += 1;
            }
        }
    }
    if elements == 0 {
        return Err("no XML element".to_owned());
    }
    Ok(found)
}

/// Classifies an application error by its message, the only description Commvault gives (its
/// table of error codes is not published): missing things are `404`, duplicates `409`, the rest
/// a backend failure that retrying will not fix. The whole message is classified, not the
/// excerpt the error shows: a long name quoted early would cut off the words that say what
/// happened ("Plan [very long name…] does not exist").
pub fn from_body_error(backend: &str, status: u16, code: i64, message: &str) -> BackendError {
    let msg = excerpt(message, 300);
    let lower = message.to_lowercase();
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

/// Whether a (non-HTML) body is XML rather than JSON.
pub fn looks_like_xml(content_type: Option<&str>, body: &[u8]) -> bool {
    content_type.is_some_and(|c| c.to_ascii_lowercase().contains("xml"))
        || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

/// Classifies a non-2xx answer (401 is handled by the session first).
///
/// An HTML page is a web server's error page, not Commvault's answer: `backend_bad_response`,
/// except where the status alone says enough (401/403 credentials, 503 unavailable, 504 too
/// slow). A JSON error code in a 4xx body is classified by its message, like one in a 200.
pub fn from_status(
    backend: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> BackendError {
    let html = looks_like_html(content_type, body);
    let body_err = if html {
        None
    } else {
        serde_json::from_slice::<Value>(body)
            .ok()
            .as_ref()
            .and_then(body_error)
    };
    let detail = match (&body_err, html) {
        (_, true) => html_title(body)
            .map(|t| format!(" ({t})"))
            .unwrap_or_default(),
        (Some((code, msg)), _) => format!(" (error {code}: {})", excerpt(msg, 300)),
        (None, _) => String::new(),
    };
    let err = match status {
        401 => BackendError::auth_rejected(format!(
            "{backend} rejected the gateway's credentials (http 401)"
        )),
        403 => BackendError::auth_rejected(format!(
            "{backend} refused the gateway's user this action (http 403)"
        )),
        503 => BackendError::unavailable(format!("{backend} is unavailable (http 503){detail}")),
        504 => BackendError::timeout(format!(
            "{backend} timed out behind its web server (http 504){detail}"
        )),
        s if html => BackendError::bad_response(format!(
            "{backend} answered with an HTML page (http {s}){detail}"
        )),
        400 | 404 | 409 | 422 if body_err.is_some() => {
            let (code, msg) = body_err.unwrap_or_default();
            return from_body_error(backend, status, code, &msg);
        }
        400 | 422 => BackendError::invalid_input(format!(
            "{backend} refused the request (http {status}){detail}"
        )),
        404 => BackendError::not_found(format!("{backend}: not found (http 404){detail}")),
        409 => BackendError::conflict(format!("{backend}: conflict (http 409){detail}")),
        429 => BackendError::rate_limited(format!("{backend} is rate limiting the gateway"), None),
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
        assert_eq!(
            body_error(&json!({"errorCode": 2.0})),
            Some((2, String::new()))
        );
        assert_eq!(
            body_error(&json!({"errorCode": "bogus"})),
            Some((-1, String::new()))
        );
        assert_eq!(
            body_error(
                &json!({"response": [{"errorCode": 0}, {"errorCode": 4, "errorMessage": "x"}]})
            ),
            Some((4, "x".into()))
        );
        assert_eq!(body_error(&json!({"response": [{"errorCode": 0}]})), None);
    }

    #[test]
    fn xml_error_codes() {
        assert_eq!(
            xml_body_error(br#"<App_GenericResp errorCode="0" errorMessage=""/>"#),
            Ok(None)
        );
        assert_eq!(
            xml_body_error(br#"<App_GenericResp errorCode="3" errorMessage="Plan [a&quot;b] does not exist"/>"#),
            Ok(Some((3, "Plan [a\"b] does not exist".into())))
        );
        assert_eq!(
            xml_body_error(br#"<R><error errorCode="7" errorMessage="no"/></R>"#),
            Ok(Some((7, "no".into())))
        );
        assert!(xml_body_error(b"<R><unclosed></R>").is_err());
        assert!(xml_body_error(b"not xml").is_err());
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
        let long = format!("Plan [{}] does not exist", "0".repeat(1024));
        let e = from_body_error("cv", 200, 3, &long);
        assert_eq!(
            e.kind,
            ErrorKind::NotFound,
            "classified by the whole message"
        );
        assert!(e.message.len() < 400, "but shows an excerpt: {}", e.message);
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
        for status in [400, 404, 500] {
            let e = from_status("cv", status, Some("text/html"), page);
            assert_eq!(e.kind, ErrorKind::BadResponse, "{status}");
            assert!(e.message.contains("(503 Service Unavailable)"));
        }
        assert_eq!(
            from_status("cv", 503, None, page).kind,
            ErrorKind::Unavailable
        );
        assert_eq!(from_status("cv", 504, None, page).kind, ErrorKind::Timeout);
        assert_eq!(
            from_status("cv", 403, None, b"").kind,
            ErrorKind::AuthRejected
        );
        // A 4xx with an error code is classified by its message, like a 200.
        let e = from_status(
            "cv",
            400,
            None,
            br#"{"errorCode":3,"errorMessage":"Plan [x] does not exist"}"#,
        );
        assert_eq!((e.kind, e.backend_status), (ErrorKind::NotFound, Some(400)));
        // Titles with characters whose lower case is longer, and non-ASCII around the title.
        assert_eq!(
            html_title("<title>İstek başarısız</title>".as_bytes()).as_deref(),
            Some("İstek başarısız")
        );
        assert_eq!(
            html_title("<meta content=\"İ\"><title>Ошибка</title>".as_bytes()).as_deref(),
            Some("Ошибка")
        );
        assert!(!looks_like_html(
            None,
            b"<App_GenericResp errorCode=\"0\"/>"
        ));
        assert!(looks_like_xml(None, b" <App_GenericResp/>"));
    }
}
