//! Answers on the Commvault wire: the response format the `Accept` header picks, the two
//! error-body shapes, the simulator's error codes, and the pages a web server sends for routes
//! it does not have.
//!
//! # Response format
//! "Accept: The format of the response. Valid values are: application/xml or application/json"
//! (S1). The simulator answers XML when `Accept` names `application/xml` or `text/xml` and does
//! not name `application/json`; otherwise (JSON named, `*/*`, no header) it answers JSON. The
//! XML is the mechanical rendering described in `xml.rs`, under a root element per answer. The
//! root names the vendor's material shows are used (`CvEntities_ProcessingInstructionInfo` for
//! WhoAmI, read by cvpysdk; `DM2ContentIndexing_CheckCredentialResp` for Login, the twin of the
//! documented request element); the others are the simulator's own choice.
//!
//! # Errors
//! Application errors travel in the body with HTTP 200 (dialects.md §2.4: cvpysdk decides PUT
//! results on `errorCode` alone and treats any non-2xx as a transport failure). Two shapes, one
//! per endpoint, as the docs and cvpysdk show them:
//! - nested `{"error":{"errorCode":N,"errorMessage":"…"}}` for `PUT Organization` (the seed's
//!   sample response);
//! - flat `{"errorCode":N,"errorMessage":"…"}` for the GET endpoints (an unknown organization
//!   or plan, a bad list parameter) and for HTTP-level failures (401).
//!
//! The vendor's list of error codes is missing from the PUT page (dialects.md §2.4), so the
//! codes are the simulator's own, stable for tests: see [`Code`].

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use super::xml;

/// The simulator's application error codes (0 is success, as documented). 5 is left out:
/// cvpysdk reads `errorCode` 5 with "Access denied" on a failed Login as a TLS problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    /// The body or a parameter is malformed or names an unknown operation.
    InvalidRequest = 1,
    /// No organization has that id (or alias).
    NoSuchOrganization = 2,
    /// No plan has that id or name.
    NoSuchPlan = 3,
    /// A default plan must first be associated with the organization.
    PlanNotAssociated = 4,
    /// A rename would clash with another organization's name or alias.
    NameInUse = 6,
    /// `POST Login` with an unknown user or a wrong password.
    InvalidCredentials = 7,
    /// `POST RenewLoginToken` refused.
    RenewalRefused = 8,
}

/// An application error: HTTP 200, a non-zero code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppError {
    pub(crate) code: Code,
    pub(crate) message: String,
}

impl AppError {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> AppError {
        AppError {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> AppError {
        AppError::new(Code::InvalidRequest, message)
    }

    /// The nested form, `{"error":{…}}`.
    pub(crate) fn nested(&self) -> Value {
        json!({ "error": { "errorCode": self.code as i64, "errorMessage": self.message } })
    }

    /// The flat form, `{"errorCode":…,"errorMessage":…}`.
    pub(crate) fn flat(&self) -> Value {
        json!({ "errorCode": self.code as i64, "errorMessage": self.message })
    }
}

/// The body of a successful `PUT Organization`, as in the seed's sample response.
pub(crate) fn success() -> Value {
    json!({ "error": { "errorMessage": "", "errorCode": 0 } })
}

/// The format a response is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Xml,
}

impl Format {
    /// The format the request's `Accept` header asks for (see the module docs).
    pub(crate) fn from_headers(headers: &HeaderMap) -> Format {
        let accept = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
            .to_ascii_lowercase();
        let wants_xml = accept.contains("application/xml") || accept.contains("text/xml");
        if wants_xml && !accept.contains("application/json") {
            Format::Xml
        } else {
            Format::Json
        }
    }

    /// `body` with HTTP `status`, in this format; `root` names the XML root element.
    pub(crate) fn respond(self, status: StatusCode, root: &str, body: &Value) -> Response {
        match self {
            Format::Json => json_response(status, body),
            Format::Xml => (
                status,
                [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
                xml::render(root, body),
            )
                .into_response(),
        }
    }
}

/// A JSON response.
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

/// The flat error body with an HTTP error status (used for 401).
pub(crate) fn http_error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &json!({ "errorCode": status.as_u16(), "errorMessage": message }),
    )
}

/// The page a web server sends for a path or method it does not serve: HTML whose `<title>`
/// cvpysdk would show (`_update_response_` extracts it).
pub(crate) fn html_page(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    let title = format!("{} {}", status.as_u16(), reason);
    let page = format!(
        "<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1>\
         <p>The requested resource is not available.</p></body></html>"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// The error body for a status forced by the fault knobs: the flat Commvault error form with
/// the HTTP status as its code and the status's reason as its message.
pub(crate) fn fault_error_body(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("Simulated failure");
    http_error(status, reason)
}

/// A broken body: the HTML error page a web server in front of the API sends when the
/// application behind it is down, in place of the JSON the client asked for.
pub(crate) fn fault_malformed_body() -> (&'static str, &'static str) {
    (
        "text/html; charset=utf-8",
        "<!DOCTYPE html><html><head><title>HTTP Status 500 – Internal Server Error</title>\
         </head><body><h1>HTTP Status 500 – Internal Server Error</h1></body></html>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).expect("header"));
        h
    }

    #[test]
    fn accept_picks_the_format() {
        assert_eq!(
            Format::from_headers(&accept("application/xml")),
            Format::Xml
        );
        assert_eq!(Format::from_headers(&accept("text/xml")), Format::Xml);
        assert_eq!(
            Format::from_headers(&accept("application/json")),
            Format::Json
        );
        assert_eq!(
            Format::from_headers(&accept("application/xml, application/json")),
            Format::Json
        );
        assert_eq!(Format::from_headers(&accept("*/*")), Format::Json);
        assert_eq!(Format::from_headers(&HeaderMap::new()), Format::Json);
    }

    #[test]
    fn error_shapes() {
        let e = AppError::new(Code::NoSuchPlan, "Plan [x] does not exist");
        assert_eq!(
            e.nested(),
            json!({"error": {"errorCode": 3, "errorMessage": "Plan [x] does not exist"}})
        );
        assert_eq!(
            e.flat(),
            json!({"errorCode": 3, "errorMessage": "Plan [x] does not exist"})
        );
    }
}
